//! Error mapping (DESIGN.md §5): a core [`Error`] becomes an instance of the JS class
//! `KeyshiftError` (registered by `index.js`) with `.code`, `.status`, `.requestId`, `.field`,
//! `.retryAfter` and `.record`; errors thrown by host callbacks are kept and rethrown as they
//! were. Also the hop onto core's runtime.

use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use keyshift_core::Error;
use napi::bindgen_prelude::{Function, FunctionRef, Object, PromiseRaw, ToNapiValue, Unknown};
use napi::{Env, JsValue, Status};
use napi_derive::napi;

thread_local! {
    /// The `KeyshiftError` class of this JS thread (one per Node environment).
    static ERROR_CLASS: RefCell<Option<FunctionRef<String, Unknown<'static>>>> = const { RefCell::new(None) };
}

/// Called once by `index.js` with its `KeyshiftError` class: native errors are then real
/// instances of it, so `instanceof` works.
#[napi(js_name = "registerErrorClass")]
pub fn register_error_class(error_class: Function<String, Unknown<'static>>) -> napi::Result<()> {
    let class = error_class.create_ref()?;
    ERROR_CLASS.with(|slot| *slot.borrow_mut() = Some(class));
    Ok(())
}

/// The JS error for a core error (call on the JS thread).
pub fn js_error(env: &Env, e: &Error) -> napi::Error {
    match build(env, e) {
        Ok(err) => err,
        Err(failed) => failed,
    }
}

fn build(env: &Env, e: &Error) -> napi::Result<napi::Error> {
    let message = e.to_string();
    let made: Option<Object<'_>> =
        ERROR_CLASS.with(|slot| -> napi::Result<Option<Object<'_>>> {
            match slot.borrow().as_ref() {
                Some(class) => {
                    let instance = class.borrow_back(env)?.new_instance(message.clone())?;
                    // SAFETY: `new` of a class always returns an object.
                    Ok(Some(unsafe { instance.cast::<Object<'_>>()? }))
                }
                None => Ok(None),
            }
        })?;
    let mut obj = match made {
        Some(obj) => obj,
        None => {
            let mut obj = env.create_error(napi::Error::new(Status::GenericFailure, message))?;
            obj.set("name", "KeyshiftError")?;
            obj
        }
    };
    obj.set("code", e.code())?;
    obj.set("status", e.status.map(u32::from))?;
    obj.set("requestId", e.request_id.as_deref())?;
    obj.set("field", e.field.as_deref())?;
    obj.set("retryAfter", e.retry_after.map(f64::from))?;
    obj.set("record", e.record)?;
    Ok(napi::Error::from(obj.to_unknown()))
}

/// Runs `fut` on core's shared runtime (so reqwest's pool lives there) and settles the
/// returned Promise on the JS thread with `settle(env, answer)`; a panic in `fut` rejects it.
/// napi's own `spawn_future` would poll `fut` on napi's runtime and hop to core's: two more
/// thread wakes a call (issue 12, verify ×1).
pub fn on_core<'e, T, V, F, S>(env: &'e Env, fut: F, settle: S) -> napi::Result<PromiseRaw<'e, V>>
where
    T: Send + 'static,
    V: ToNapiValue + 'static,
    F: Future<Output = T> + Send + 'static,
    S: FnOnce(&Env, T) -> napi::Result<V> + Send + 'static,
{
    let (deferred, promise) = env.create_deferred()?;
    let mut fut = Box::pin(fut);
    keyshift_core::runtime::spawn(async move {
        let out = std::future::poll_fn(|cx| {
            match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
                Ok(poll) => poll.map(Some),
                Err(_) => Poll::Ready(None),
            }
        })
        .await;
        match out {
            Some(out) => deferred.resolve(move |env| settle(&env, out)),
            None => deferred.reject(napi::Error::from_reason(
                "keyshift task failed: it panicked",
            )),
        }
    });
    Ok(PromiseRaw::new(env.raw(), promise.raw()))
}

/// The first error a host callback (legacy check, progress, record source) threw, kept to be
/// rethrown unchanged once the core call has returned.
#[derive(Clone, Default)]
pub struct Raised(Arc<Mutex<Option<napi::Error>>>);

impl Raised {
    pub fn keep(&self, e: napi::Error) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
    }

    pub fn take(&self) -> Option<napi::Error> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The error to reject with after a core call: the host's own error if one was thrown,
    /// else the mapped core error.
    pub fn or_core(&self, env: &Env, e: &Error) -> napi::Error {
        self.take().unwrap_or_else(|| js_error(env, e))
    }
}

/// A JSON string from the JS glue (options objects are sent as `JSON.stringify` output, which
/// drops `undefined` and keeps integer milliseconds exact) into a typed value.
pub fn from_json<T: serde::de::DeserializeOwned + Default>(
    field: &str,
    json: Option<String>,
) -> keyshift_core::Result<T> {
    match json.as_deref() {
        None | Some("") | Some("null") => Ok(T::default()),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| Error::invalid_input(field, format!("{field}: {e}"))),
    }
}
