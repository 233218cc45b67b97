//! The one tokio runtime of the process (DESIGN.md §2): a multi-thread runtime started on first
//! use and never shut down, shared by the CLI, the bindings and anyone else driving a
//! [`crate::Client`] from synchronous code. A `Client` is not tied to it: it is `Send + Sync`
//! and works on any tokio runtime, from any thread.

use std::future::Future;
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
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Err(_) => get().block_on(future),
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(|| get().block_on(future)),
        Ok(_) => std::thread::scope(|scope| {
            scope
                .spawn(|| get().block_on(future))
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
}
