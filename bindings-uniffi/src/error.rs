//! `KeyshiftError` (Kotlin `KeyshiftException`, Swift `KeyshiftError`): one variant per
//! DESIGN §5 code, each carrying the error's details. Built from core's error only.

use std::sync::{Arc, Mutex};

use keyshift_core::ErrorCode;

/// What every error carries besides its code (the variant).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ErrorDetail {
    /// The §5 code string (`not_found`, …), the same as the variant.
    pub code: String,
    pub message: String,
    /// HTTP status when the error came from (or is answered by) the server.
    pub status: Option<u16>,
    pub request_id: Option<String>,
    /// The input field at fault.
    pub field: Option<String>,
    /// 1-based record or line number (migration input, batch hashing).
    pub record: Option<u32>,
}

/// Every keyshift error. Non-flat, so status, request id and field survive the crossing.
/// `toString()` is core's rendering (`not_found: … [request req_…]`).
#[derive(Debug, Clone, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum KeyshiftError {
    #[error("{}", render(detail))]
    InvalidInput { detail: ErrorDetail },
    #[error("{}", render(detail))]
    BadRequest { detail: ErrorDetail },
    #[error("{}", render(detail))]
    Unauthorized { detail: ErrorDetail },
    #[error("{}", render(detail))]
    Forbidden { detail: ErrorDetail },
    #[error("{}", render(detail))]
    NotFound { detail: ErrorDetail },
    #[error("{}", render(detail))]
    Conflict { detail: ErrorDetail },
    /// `retry_after`: seconds the server asked to wait.
    #[error("{}", render(detail))]
    RateLimited {
        detail: ErrorDetail,
        retry_after: Option<f32>,
    },
    #[error("{}", render(detail))]
    ServerError { detail: ErrorDetail },
    #[error("{}", render(detail))]
    Network { detail: ErrorDetail },
    #[error("{}", render(detail))]
    Timeout { detail: ErrorDetail },
    /// Also a cancelled migration (field `cancel`) and a failed host callback.
    #[error("{}", render(detail))]
    Io { detail: ErrorDetail },
}

fn render(detail: &ErrorDetail) -> String {
    let mut out = format!("{}: {}", detail.code, detail.message);
    if let Some(field) = &detail.field {
        if !detail.message.contains(field.as_str()) {
            out.push_str(&format!(" [field {field}]"));
        }
    }
    if let Some(id) = &detail.request_id {
        out.push_str(&format!(" [request {id}]"));
    }
    out
}

impl From<keyshift_core::Error> for KeyshiftError {
    fn from(e: keyshift_core::Error) -> Self {
        let detail = ErrorDetail {
            code: e.code().to_string(),
            message: e.message,
            status: e.status,
            request_id: e.request_id,
            field: e.field,
            record: e.record,
        };
        match e.code {
            ErrorCode::InvalidInput => KeyshiftError::InvalidInput { detail },
            ErrorCode::BadRequest => KeyshiftError::BadRequest { detail },
            ErrorCode::Unauthorized => KeyshiftError::Unauthorized { detail },
            ErrorCode::Forbidden => KeyshiftError::Forbidden { detail },
            ErrorCode::NotFound => KeyshiftError::NotFound { detail },
            ErrorCode::Conflict => KeyshiftError::Conflict { detail },
            ErrorCode::RateLimited => KeyshiftError::RateLimited {
                detail,
                retry_after: e.retry_after,
            },
            ErrorCode::ServerError => KeyshiftError::ServerError { detail },
            ErrorCode::Network => KeyshiftError::Network { detail },
            ErrorCode::Timeout => KeyshiftError::Timeout { detail },
            // `ErrorCode` is non-exhaustive: a code added later arrives as `io` until mapped.
            _ => KeyshiftError::Io { detail },
        }
    }
}

/// A host callback threw something other than a `KeyshiftException`: uniffi hands over its
/// `toString()` only (the Kotlin façade rethrows the original object itself).
impl From<uniffi::UnexpectedUniFFICallbackError> for KeyshiftError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        keyshift_core::Error::io(format!("callback failed: {}", e.reason))
            .with_field("callback")
            .into()
    }
}

#[uniffi::export]
impl KeyshiftError {
    /// The details, whatever the variant.
    pub fn detail(&self) -> ErrorDetail {
        match self {
            KeyshiftError::InvalidInput { detail }
            | KeyshiftError::BadRequest { detail }
            | KeyshiftError::Unauthorized { detail }
            | KeyshiftError::Forbidden { detail }
            | KeyshiftError::NotFound { detail }
            | KeyshiftError::Conflict { detail }
            | KeyshiftError::RateLimited { detail, .. }
            | KeyshiftError::ServerError { detail }
            | KeyshiftError::Network { detail }
            | KeyshiftError::Timeout { detail }
            | KeyshiftError::Io { detail } => detail.clone(),
        }
    }

    /// The §5 code string.
    pub fn code(&self) -> String {
        self.detail().code
    }
}

/// The first error a host callback returned during one core call: the callback fails the core
/// call with a plain core error, and the binding answers the kept original afterwards.
#[derive(Clone, Default)]
pub(crate) struct Raised(Arc<Mutex<Option<KeyshiftError>>>);

impl Raised {
    /// Keeps `err` unless an earlier one is kept; returns the core error that fails the call.
    pub(crate) fn keep(&self, err: KeyshiftError, what: &str) -> keyshift_core::Error {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(err);
        keyshift_core::Error::io(format!("the {what} callback failed")).with_field("callback")
    }

    /// The call's outcome: a kept callback error wins over the core error it caused, and over
    /// success too (a progress listener throwing on the final snapshot still fails the call).
    pub(crate) fn settle<T>(&self, result: keyshift_core::Result<T>) -> Result<T, KeyshiftError> {
        match self.0.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(original) => Err(original),
            None => result.map_err(KeyshiftError::from),
        }
    }
}

/// Runs `future` on core's shared runtime (DESIGN §2) and awaits it from the host's executor.
pub(crate) async fn on_core<T: Send + 'static>(
    future: impl std::future::Future<Output = keyshift_core::Result<T>> + Send + 'static,
) -> keyshift_core::Result<T> {
    // A detached task and a oneshot rather than a JoinHandle: tokio's task machinery is then
    // compiled once for the crate, not once per exported method.
    let (answer, answered) = tokio::sync::oneshot::channel();
    keyshift_core::runtime::spawn_detached(async move {
        let _ = answer.send(future.await);
    });
    answered
        .await
        .map_err(|_| keyshift_core::Error::io("keyshift task failed: it panicked"))?
}
