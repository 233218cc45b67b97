//! Where a [`crate::Client`]'s calls go. The HTTP backend ([`crate::http::HttpBackend`]) speaks
//! the wire API of DESIGN.md §4; the engine crate provides an in-process `LocalBackend` with the
//! same contract. Bodies are the wire JSON bytes in both cases (serialized once by the client,
//! parsed once by the server or engine), so validation and semantics live once.

use std::time::Duration;

use crate::retry::RetryPolicy;
use crate::wire::Op;
use crate::Result;

/// The `data` (and `pagination`) of a successful call: what a [`Backend`] answers, and what the
/// engine's operations produce (one type for both).
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub request_id: Option<String>,
    pub data: serde_json::Value,
    pub pagination: Option<crate::wire::Pagination>,
}

/// Per-call settings; `None` falls back to the client's defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallOptions {
    /// Sent as the `Idempotency-Key` header; makes the call safe to retry after it was sent.
    pub idempotency_key: Option<String>,
    /// Per-attempt timeout.
    pub timeout: Option<Duration>,
    /// Total time for all attempts and the waits between them.
    pub deadline: Option<Duration>,
    pub retry: Option<RetryPolicy>,
}

impl CallOptions {
    /// No options: the client's defaults (the same as `CallOptions::default()`).
    pub const DEFAULT: CallOptions = CallOptions {
        idempotency_key: None,
        timeout: None,
        deadline: None,
        retry: None,
    };

    crate::setters::setters! {
        with_idempotency_key(key: impl Into<String>) => idempotency_key = Some(key.into());
        with_timeout(timeout: Duration) => timeout = Some(timeout);
        with_deadline(deadline: Duration) => deadline = Some(deadline);
        with_retry(retry: RetryPolicy) => retry = Some(retry);
    }
}

/// A key service: one wire operation ([`Op::VerifyKey`]) with its JSON body (the serialized
/// request, as sent on the wire) in, its reply out.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn call(&self, op: Op, body: Vec<u8>, options: &CallOptions) -> Result<Reply>;

    /// A short name for logs and `Debug` (`http://127.0.0.1:7070`, `local:keys.db`).
    fn describe(&self) -> String;

    /// The retry policy calls get when they name none (`None`: the backend does not retry).
    fn retry_policy(&self) -> Option<RetryPolicy> {
        None
    }
}
