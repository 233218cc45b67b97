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
/// Generic only where it must be (awaiting `fut`, converting its value): the loop plumbing and
/// the hand-over are compiled once, not once per method.
pub fn into_future<'py, T, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let (py_future, pending) = Pending::new(py)?;
    keyshift_core::runtime::spawn_detached(async move {
        let out = fut.await;
        pending.hand_over(Box::new(move |py| out.and_then(|v| v.into_py_any(py))));
    });
    Ok(py_future)
}

/// A call's answer, turned into a Python object once the GIL is held.
type Answer = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// Where a spawned call's answer goes: the asyncio future and its loop.
struct Pending {
    event_loop: Py<PyAny>,
    target: Py<PyAny>,
    complete: Py<PyAny>,
}

impl Pending {
    fn new(py: Python<'_>) -> PyResult<(Bound<'_, PyAny>, Pending)> {
        let event_loop = GET_RUNNING_LOOP
            .import(py, "asyncio", "get_running_loop")?
            .call0()?;
        let py_future = event_loop.call_method0("create_future")?;
        let complete = COMPLETE
            .import(py, "keyshift._aio", "complete")?
            .clone()
            .unbind();
        let pending = Pending {
            event_loop: event_loop.unbind(),
            target: py_future.clone().unbind(),
            complete,
        };
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        Ok((py_future, pending))
    }

    fn hand_over(self, answer: Answer) {
        // Taking the GIL may wait: never on a runtime worker.
        drop(tokio::task::spawn_blocking(move || {
            Python::attach(|py| {
                let (ok, value) = match answer(py) {
                    Ok(v) => (true, v),
                    Err(e) => (false, e.into_value(py).into_any()),
                };
                // Fails only when the loop is closed; nobody is waiting then.
                let _ = self.event_loop.call_method1(
                    py,
                    "call_soon_threadsafe",
                    (self.complete, self.target, ok, value),
                );
            });
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        }));
    }
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
