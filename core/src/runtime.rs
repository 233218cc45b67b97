//! The one tokio runtime of the process (DESIGN.md §2): a multi-thread runtime started on first
//! use and never shut down, shared by the CLI, the bindings and anyone else driving a
//! [`crate::Client`] from synchronous code. A `Client` is not tied to it: it is `Send + Sync`
//! and works on any tokio runtime, from any thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The shared runtime, started on first call (pyo3-async-runtimes' `init_with_runtime` needs
/// the `&'static Runtime` itself, not a handle).
///
/// Panics only if the OS refuses to start its threads.
pub fn get() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("keyshift-rt")
            .build()
            .expect("cannot start the keyshift async runtime")
    })
}

/// A handle to the shared runtime.
pub fn handle() -> &'static Handle {
    get().handle()
}

/// Runs `future` on the shared runtime in the background.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    get().spawn(future)
}

/// Runs `future` on the shared runtime in the background, without a handle to wait on.
pub fn spawn_detached(future: impl Future<Output = ()> + Send + 'static) {
    spawn_boxed(Box::pin(future));
}

/// Tokio gets this one boxed task type, so its task machinery is compiled once, in core,
/// instead of once per caller's future (every binding method compiled its own copy).
fn spawn_boxed(task: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
    drop(get().spawn(task));
}

/// Runs `future` on the shared runtime and waits for it, from any thread:
/// - a thread outside any runtime (a host thread) simply blocks;
/// - a worker of a multi-thread runtime (this one or another: e.g. a host callback such as a
///   migration's progress function calling the blocking client) blocks inside
///   [`tokio::task::block_in_place`], so the other tasks of that worker move elsewhere;
/// - a thread of a current-thread runtime, which cannot block, hands `future` to a fresh
///   thread and waits for that.
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    // Only this wrapper is compiled per future type; the waiting below is compiled once.
    let mut output = None;
    {
        let task = std::pin::pin!(async { output = Some(future.await) });
        block_on_erased(task);
    }
    output.expect("block_on returns once the future is done")
}

fn block_on_erased(task: Pin<&mut (dyn Future<Output = ()> + Send + '_)>) {
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Err(_) => get().block_on(task),
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(|| get().block_on(task)),
        Ok(_) => std::thread::scope(|scope| {
            scope
                .spawn(|| get().block_on(task))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn one_runtime_for_the_process() {
        assert!(std::ptr::eq(get(), get()));
        assert_eq!(handle().runtime_flavor(), RuntimeFlavor::MultiThread);
        assert_eq!(block_on(async { 1 + 1 }), 2);
        assert_eq!(block_on(spawn(async { 3 })).unwrap(), 3);
    }

    #[test]
    fn block_on_from_a_worker_of_this_runtime() {
        let got = block_on(spawn(async {
            // A host callback on a worker calling blocking code.
            block_on(async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                7
            })
        }));
        assert_eq!(got.unwrap(), 7);
    }

    #[test]
    fn block_on_from_a_blocking_thread_and_other_runtimes() {
        let got = block_on(async { tokio::task::spawn_blocking(|| block_on(async { 5 })).await });
        assert_eq!(got.unwrap(), 5);
        let current = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert_eq!(current.block_on(async { block_on(async { 6 }) }), 6);
    }

    #[test]
    fn detached_tasks_run_to_the_end() {
        let (tx, rx) = std::sync::mpsc::channel();
        spawn_detached(async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            tx.send(8).unwrap();
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(8));
    }

    #[test]
    fn block_on_passes_a_panic_through() {
        let caught = std::panic::catch_unwind(|| block_on(async { panic!("inside the future") }));
        let message = caught.unwrap_err();
        assert_eq!(message.downcast_ref::<&str>(), Some(&"inside the future"));
    }
}
