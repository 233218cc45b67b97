//! Error mapping (DESIGN.md §5): a core [`Error`] becomes an instance of the JS class
//! `KeyshiftError` (registered by `index.js`) with `.code`, `.status`, `.requestId`, `.field`,
//! `.retryAfter` and `.record`; errors thrown by host callbacks are kept and rethrown as they
//! were. Also the hop onto core's runtime.

use std::cell::RefCell;
use std::ffi::c_void;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::ptr;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use keyshift_core::{BoxFuture, Error};
use napi::bindgen_prelude::{
    Function, FunctionRef, JsObjectValue, Object, PromiseRaw, ToNapiValue, Unknown,
};
use napi::{check_status, sys, Env, JsValue, Status};
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
/// thread wakes a call (issue 12, verify ×1). The answer comes back through the one
/// threadsafe function of this JS thread's environment ([`Channel`]); napi's
/// `create_deferred` would create and tear down a threadsafe function (a libuv handle, an
/// async resource and a cleanup hook) for every call.
pub fn on_core<'e, T, V, F, S>(env: &'e Env, fut: F, settle: S) -> napi::Result<PromiseRaw<'e, V>>
where
    T: Send + 'static,
    V: ToNapiValue + 'static,
    F: Future<Output = T> + Send + 'static,
    S: FnOnce(&Env, T) -> napi::Result<V> + Send + 'static,
{
    // Generic only in awaiting `fut` and converting its answer: the Promise, the task and the
    // hop back to the JS thread are compiled once, not once per method.
    let answer: BoxFuture<'static, Settle> = Box::pin(async move {
        let out = fut.await;
        Box::new(move |env: &Env| {
            settle(env, out).and_then(|v| unsafe { V::to_napi_value(env.raw(), v) })
        }) as Settle
    });
    let promise = spawn_answer(env, answer)?;
    Ok(PromiseRaw::new(env.raw(), promise))
}

/// A finished call's answer, made a JS value on the JS thread.
type Settle = Box<dyn FnOnce(&Env) -> napi::Result<sys::napi_value> + Send>;

/// Runs `answer` on core's runtime and settles the returned Promise with it on this JS thread.
fn spawn_answer(
    env: &Env,
    mut answer: BoxFuture<'static, Settle>,
) -> napi::Result<sys::napi_value> {
    let (mut deferred, mut promise) = (ptr::null_mut(), ptr::null_mut());
    check_status!(unsafe { sys::napi_create_promise(env.raw(), &mut deferred, &mut promise) })?;
    let channel = Channel::of(env)?;
    let deferred = Deferred(deferred);
    keyshift_core::runtime::spawn_detached(async move {
        let out = std::future::poll_fn(|cx| {
            match std::panic::catch_unwind(AssertUnwindSafe(|| answer.as_mut().poll(cx))) {
                Ok(poll) => poll.map(Some),
                Err(_) => Poll::Ready(None),
            }
        })
        .await;
        channel.send(Box::new(move |raw_env| {
            let deferred = deferred;
            let env = Env::from_raw(raw_env);
            let value = match out {
                Some(settle) => settle(&env),
                None => Err(napi::Error::from_reason(
                    "keyshift task failed: it panicked",
                )),
            };
            deferred.settle(raw_env, value);
        }));
    });
    Ok(promise)
}

/// What a finished call does on the JS thread with its environment.
type Job = Box<dyn FnOnce(sys::napi_env) + Send>;

/// The Promise of one call, settled on the JS thread.
struct Deferred(sys::napi_deferred);

// SAFETY: only carried through core's workers; used on the JS thread that created it.
unsafe impl Send for Deferred {}

impl Deferred {
    fn settle(self, env: sys::napi_env, value: napi::Result<sys::napi_value>) {
        // SAFETY: on the JS thread of `env`, inside the threadsafe function's handle scope.
        unsafe {
            match value {
                Ok(value) => sys::napi_resolve_deferred(env, self.0, value),
                Err(e) => match napi::Error::to_napi_value(env, e) {
                    Ok(error) => sys::napi_reject_deferred(env, self.0, error),
                    Err(_) => {
                        let (mut message, mut error) = (ptr::null_mut(), ptr::null_mut());
                        sys::napi_create_string_utf8(
                            env,
                            c"Rejection failed".as_ptr(),
                            16,
                            &mut message,
                        );
                        sys::napi_create_error(env, ptr::null_mut(), message, &mut error);
                        sys::napi_reject_deferred(env, self.0, error)
                    }
                },
            };
        }
    }
}

/// The way back from core's workers to one JS thread: one threadsafe function per Node
/// environment, holding the event loop open only while calls of that environment are pending.
struct Channel {
    /// `None` once the environment tore down (the answers of late calls are dropped).
    tsfn: Mutex<Option<Tsfn>>,
}

struct Tsfn(sys::napi_threadsafe_function);

// SAFETY: napi's threadsafe functions are made to be called from any thread.
unsafe impl Send for Tsfn {}

/// The channel of the environment running on this JS thread, and its pending calls.
struct Local {
    env: sys::napi_env,
    tsfn: sys::napi_threadsafe_function,
    channel: Arc<Channel>,
    pending: usize,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

impl Channel {
    /// The channel of `env` (made on its first call), with one more call pending.
    fn of(env: &Env) -> napi::Result<Arc<Channel>> {
        LOCAL.with(|slot| {
            let mut slot = slot.borrow_mut();
            let local = match slot.as_mut() {
                Some(local) if local.env == env.raw() => local,
                _ => slot.insert(Local::new(env)?),
            };
            if local.pending == 0 {
                check_status!(unsafe { sys::napi_ref_threadsafe_function(local.env, local.tsfn) })?;
            }
            local.pending += 1;
            Ok(local.channel.clone())
        })
    }

    /// Hands `job` to the JS thread (from any thread); dropped if the environment is gone.
    fn send(&self, job: Job) {
        let data = Box::into_raw(Box::new(job));
        let status = match self.tsfn.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            // SAFETY: the threadsafe function is alive while it is in the slot.
            Some(tsfn) => unsafe {
                sys::napi_call_threadsafe_function(
                    tsfn.0,
                    data.cast(),
                    sys::ThreadsafeFunctionCallMode::blocking,
                )
            },
            None => sys::Status::napi_closing,
        };
        if status != sys::Status::napi_ok {
            // SAFETY: not queued, so still ours.
            drop(unsafe { Box::from_raw(data) });
        }
    }
}

impl Local {
    fn new(env: &Env) -> napi::Result<Local> {
        let raw = env.raw();
        let (mut name, mut tsfn) = (ptr::null_mut(), ptr::null_mut());
        check_status!(unsafe {
            sys::napi_create_string_utf8(raw, c"keyshift".as_ptr(), 8, &mut name)
        })?;
        check_status!(unsafe {
            sys::napi_create_threadsafe_function(
                raw,
                ptr::null_mut(),
                ptr::null_mut(),
                name,
                0,
                1,
                ptr::null_mut(),
                None,
                ptr::null_mut(),
                Some(dispatch),
                &mut tsfn,
            )
        })?;
        let channel = Arc::new(Channel {
            tsfn: Mutex::new(Some(Tsfn(tsfn))),
        });
        let hook: *const Channel = Arc::into_raw(channel.clone());
        // Registered after the threadsafe function, so it runs before Node finalizes it.
        let hooked = check_status!(unsafe {
            sys::napi_add_env_cleanup_hook(raw, Some(teardown), hook.cast_mut().cast())
        });
        if let Err(e) = hooked {
            unsafe { teardown(hook.cast_mut().cast()) };
            return Err(e);
        }
        check_status!(unsafe { sys::napi_unref_threadsafe_function(raw, tsfn) })?;
        Ok(Local {
            env: raw,
            tsfn,
            channel,
            pending: 0,
        })
    }
}

/// Runs a finished call's job on the JS thread; `env` is null while Node drains the queue of a
/// torn-down environment (no Promise is left to settle then).
unsafe extern "C" fn dispatch(
    env: sys::napi_env,
    _js: sys::napi_value,
    _context: *mut c_void,
    data: *mut c_void,
) {
    // SAFETY: `data` is the box `Channel::send` queued.
    let job = unsafe { Box::from_raw(data.cast::<Job>()) };
    if env.is_null() {
        return;
    }
    job(env);
    let _ = LOCAL.try_with(|slot| {
        if let Some(local) = slot.borrow_mut().as_mut().filter(|l| l.env == env) {
            local.pending = local.pending.saturating_sub(1);
            if local.pending == 0 {
                unsafe { sys::napi_unref_threadsafe_function(env, local.tsfn) };
            }
        }
    });
}

/// Environment teardown: closes the channel before Node finalizes its threadsafe function.
unsafe extern "C" fn teardown(arg: *mut c_void) {
    // SAFETY: the reference `Local::new` leaked for this hook.
    let channel = unsafe { Arc::from_raw(arg.cast_const().cast::<Channel>()) };
    if let Some(tsfn) = channel
        .tsfn
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        unsafe {
            sys::napi_release_threadsafe_function(tsfn.0, sys::ThreadsafeFunctionReleaseMode::abort)
        };
    }
    let _ = LOCAL.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            if slot
                .as_ref()
                .is_some_and(|l| Arc::ptr_eq(&l.channel, &channel))
            {
                *slot = None;
            }
        }
    });
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

/// An answer as JSON text, made on core's worker and turned into a JS value by `JSON.parse` on
/// the JS thread: V8 builds a small object from JSON text several times faster than napi can
/// set its properties one by one (issue 12, verify ×1). The text comes from a
/// `serde_json::Value`, so keys keep the order (sorted) and numbers the values they had.
pub struct JsonText(pub String);

impl JsonText {
    pub fn of<T: serde::Serialize>(value: T) -> keyshift_core::Result<JsonText> {
        serde_json::to_value(value)
            .map(|v| JsonText(v.to_string()))
            .map_err(|e| Error::io(e.to_string()))
    }
}

impl ToNapiValue for JsonText {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let env = Env::from_raw(env);
        let json: Object<'_> = env.get_global()?.get_named_property_unchecked("JSON")?;
        let parse: Function<'_, String, Unknown<'_>> =
            json.get_named_property_unchecked("parse")?;
        Ok(parse.apply(json, val.0)?.raw())
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
