//! Errors: core's `keyshift_core::Error` mapped to `keyshift.KeyshiftError` and one subclass per
//! DESIGN §5 code, carrying `.code`, `.status`, `.request_id`, `.field`, `.retry_after`.

use std::sync::{Arc, Mutex};

use keyshift_core::{Error, ErrorCode};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(keyshift, KeyshiftError, PyException, "Base of every keyshift error: `.code` (a DESIGN §5 string), `.status`, `.request_id`, `.field`, `.retry_after`.");
create_exception!(
    keyshift,
    InvalidInputError,
    KeyshiftError,
    "invalid_input: local validation failed (`.field` names the field)."
);
create_exception!(
    keyshift,
    BadRequestError,
    KeyshiftError,
    "bad_request: the server rejected the request body (400)."
);
create_exception!(
    keyshift,
    UnauthorizedError,
    KeyshiftError,
    "unauthorized: missing or unknown root key (401)."
);
create_exception!(
    keyshift,
    ForbiddenError,
    KeyshiftError,
    "forbidden: the root key lacks a permission (403)."
);
create_exception!(keyshift, NotFoundError, KeyshiftError, "not_found (404).");
create_exception!(keyshift, ConflictError, KeyshiftError, "conflict (409).");
create_exception!(
    keyshift,
    RateLimitedError,
    KeyshiftError,
    "rate_limited (429); `.retry_after` in seconds when known."
);
create_exception!(keyshift, ServerError, KeyshiftError, "server_error (5xx).");
create_exception!(
    keyshift,
    NetworkError,
    KeyshiftError,
    "network: the key service could not be reached."
);
create_exception!(
    keyshift,
    TimeoutError,
    KeyshiftError,
    "timeout: no answer in time."
);
create_exception!(
    keyshift,
    IoError,
    KeyshiftError,
    "io: a file could not be read or written, or a migration was cancelled (`.field == 'cancel'`)."
);

/// The Python exception for a core error: the subclass of its code, with the §5 attributes.
pub fn to_py(e: Error) -> PyErr {
    let message = e.to_string();
    let err = match e.code {
        ErrorCode::InvalidInput => InvalidInputError::new_err(message),
        ErrorCode::BadRequest => BadRequestError::new_err(message),
        ErrorCode::Unauthorized => UnauthorizedError::new_err(message),
        ErrorCode::Forbidden => ForbiddenError::new_err(message),
        ErrorCode::NotFound => NotFoundError::new_err(message),
        ErrorCode::Conflict => ConflictError::new_err(message),
        ErrorCode::RateLimited => RateLimitedError::new_err(message),
        ErrorCode::ServerError => ServerError::new_err(message),
        ErrorCode::Network => NetworkError::new_err(message),
        ErrorCode::Timeout => TimeoutError::new_err(message),
        ErrorCode::Io => IoError::new_err(message),
        _ => KeyshiftError::new_err(message),
    };
    Python::attach(|py| {
        let v = err.value(py);
        let _ = v.setattr("code", e.code());
        let _ = v.setattr("status", e.status);
        let _ = v.setattr("request_id", e.request_id);
        let _ = v.setattr("field", e.field);
        let _ = v.setattr("record", e.record);
        let _ = v.setattr("retry_after", e.retry_after.map(f64::from));
    });
    err
}

/// The first exception a host callback or iterator raised during one core call; the call is
/// failed with a placeholder core error and the original is raised once it returns.
#[derive(Clone, Default)]
pub struct Raised(Arc<Mutex<Option<PyErr>>>);

impl Raised {
    pub fn keep(&self, err: PyErr) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(err);
    }

    /// The kept exception, else the core error mapped.
    pub fn or_core(&self, e: Error) -> PyErr {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| to_py(e))
    }

    /// A call that succeeded despite a raised callback still raises it (e.g. a progress
    /// callback raising on the final report).
    pub fn check<T>(&self, r: Result<T, Error>) -> PyResult<T> {
        let kept = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        match (r, kept) {
            (_, Some(err)) => Err(err),
            (Ok(v), None) => Ok(v),
            (Err(e), None) => Err(to_py(e)),
        }
    }
}

pub type CoreResult<T> = keyshift_core::Result<T>;
