//! `keyshift_core::runtime` for asyncio: a core future as an asyncio future of the running loop.
//!
//! The future runs on core's shared runtime; its result is handed to the loop with
//! `call_soon_threadsafe` from a blocking thread. Calls still handing a result over are counted,
//! and `keyshift` waits for them at interpreter exit (`_drain`, registered with `atexit`): a
//! thread that re-takes the GIL while the interpreter finalizes is killed mid-call, which
//! crashed the process when an awaited call was the program's last (pyo3-async-runtimes'
//! `future_into_py` has that race).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::IntoPyObjectExt;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static COMPLETE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Runs `fut` on core's runtime; returns an asyncio future of the running loop for its result.
pub fn into_future<'py, T, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let event_loop = GET_RUNNING_LOOP
        .import(py, "asyncio", "get_running_loop")?
        .call0()?;
    let py_future = event_loop.call_method0("create_future")?;
    let complete = COMPLETE
        .import(py, "keyshift._aio", "complete")?
        .clone()
        .unbind();
    let (event_loop, target) = (event_loop.unbind(), py_future.clone().unbind());
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    keyshift_core::runtime::spawn_detached(async move {
        let out = fut.await;
        // Taking the GIL may wait: never on a runtime worker. Boxed, so that tokio's blocking
        // task is compiled once, not once per method's answer type.
        let hand_over: Box<dyn FnOnce() + Send> = Box::new(move || {
            Python::attach(|py| {
                let (ok, value) = match out.and_then(|v| v.into_py_any(py)) {
                    Ok(v) => (true, v),
                    Err(e) => (false, e.into_value(py).into_any()),
                };
                // Fails only when the loop is closed; nobody is waiting then.
                let _ = event_loop.call_method1(
                    py,
                    "call_soon_threadsafe",
                    (complete, target, ok, value),
                );
            });
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        });
        drop(tokio::task::spawn_blocking(hand_over));
    });
    Ok(py_future)
}

/// An already-completed asyncio future holding `value` (for `__aenter__` / `__aexit__`).
pub fn ready<'py>(py: Python<'py>, value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let event_loop = GET_RUNNING_LOOP
        .import(py, "asyncio", "get_running_loop")?
        .call0()?;
    let py_future = event_loop.call_method0("create_future")?;
    py_future.call_method1("set_result", (value,))?;
    Ok(py_future)
}

/// Waits (without the GIL) up to `timeout` seconds for results still being handed to asyncio.
#[pyfunction]
#[pyo3(signature = (timeout = 2.0))]
pub fn _drain(py: Python<'_>, timeout: f64) -> bool {
    let deadline = Instant::now() + Duration::from_secs_f64(timeout.max(0.0));
    py.detach(|| {
        while IN_FLIGHT.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    })
}

/// The running asyncio loop (raises outside one).
pub fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    GET_RUNNING_LOOP
        .import(py, "asyncio", "get_running_loop")?
        .call0()
}
