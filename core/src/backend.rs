//! Where a [`crate::Client`]'s calls go. The HTTP backend ([`crate::http::HttpBackend`]) speaks
//! the wire API of DESIGN.md §4; the engine crate provides an in-process `LocalBackend` with the
//! same contract. Bodies are the wire JSON bytes in both cases (serialized once by the client,
//! parsed once by the server or engine), so validation and semantics live once.

use std::time::Duration;

use crate::retry::RetryPolicy;
use crate::wire::{Op, OpKind};
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
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
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

/// How safe an operation is to repeat after the request may have reached the server
/// (DESIGN.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotence {
    /// Reads and `keys.verifyKey`: DESIGN.md §4 retries them after a possibly lost answer.
    Safe,
    /// Mints something (createKey, rerollKey, migrateKeys): repeatable only with an
    /// Idempotency-Key, which the client always sends for these.
    NeedsKey,
    /// Every other write (createApi, createRole, createPermission, createIdentity, updates,
    /// deletes, credit changes): never repeated once it may have been sent, unless the
    /// caller gives it an Idempotency-Key.
    Unsafe,
}

/// Classifies a wire operation for the retry rules of DESIGN.md §4 (from [`Op::kind`]).
pub fn idempotence(op: Op) -> Idempotence {
    match op.kind() {
        OpKind::Mint => Idempotence::NeedsKey,
        OpKind::Read | OpKind::List | OpKind::Verify => Idempotence::Safe,
        OpKind::Write => Idempotence::Unsafe,
    }
}

/// Whether the operation named `op` may be sent again after a failure that may have reached
/// the server: [`Op::retry_safe_after_send`] for callers holding a name (an unknown name is
/// repeatable only with an `Idempotency-Key`). With [`crate::Error::is_retryable`] this is the
/// whole retry rule.
pub fn repeatable(op: &str, has_idempotency_key: bool) -> bool {
    has_idempotency_key || Op::from_name(op).is_some_and(|op| op.retry_safe_after_send(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_classified_for_retries() {
        let idempotence = |name: &str| idempotence(Op::from_name(name).unwrap());
        assert_eq!(idempotence("keys.createKey"), Idempotence::NeedsKey);
        assert_eq!(idempotence("keys.migrateKeys"), Idempotence::NeedsKey);
        assert_eq!(idempotence("keys.verifyKey"), Idempotence::Safe);
        assert_eq!(idempotence("keys.updateCredits"), Idempotence::Unsafe);
        for op in [
            "apis.createApi",
            "permissions.createRole",
            "permissions.createPermission",
            "identities.createIdentity",
        ] {
            assert_eq!(idempotence(op), Idempotence::Unsafe, "{op}");
            assert!(!repeatable(op, false), "{op}");
            assert!(repeatable(op, true), "{op}");
        }
        assert_eq!(idempotence("keys.getKey"), Idempotence::Safe);
        assert_eq!(idempotence("apis.listKeys"), Idempotence::Safe);
        assert_eq!(idempotence("keys.setRoles"), Idempotence::Unsafe);
        assert_eq!(idempotence("keys.whoami"), Idempotence::Safe);
        assert!(repeatable("keys.verifyKey", false));
        assert!(!repeatable("keys.createKey", false));
        assert!(repeatable("keys.createKey", true));
        assert!(!repeatable("keys.nope", false));
        assert!(repeatable("keys.nope", true));
    }
}
