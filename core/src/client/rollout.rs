//! Rolling out keyshift beside an existing key check: [`Client::verify_with_fallback`] asks
//! the caller's [`LegacyCheck`] about keys the service does not know, and may backfill them.

use crate::wire::{self, VerifyCode};
use crate::{BoxFuture, Result, SecretKey};

use super::{new_idempotency_key, Client, Verification, VerificationSource, VerifyOptions};

/// A user's own key check for [`Client::verify_with_fallback`] (bindings pass their language's
/// callable through this trait).
///
/// Which thread calls it: `check` is awaited inside `verify_with_fallback`, so it runs on
/// whatever thread polls that future — for the blocking client and the bindings, a worker of
/// [`crate::runtime`] (or the host thread inside [`crate::runtime::block_on`]). It is called
/// at most once per verification, only for keys the service does not know. A host callable
/// that blocks should be run with `tokio::task::spawn_blocking` (or be quick); it may itself
/// call the blocking client through [`crate::runtime::block_on`].
#[async_trait::async_trait]
pub trait LegacyCheck: Send + Sync {
    async fn check(&self, key: &SecretKey) -> Result<bool>;
}

#[async_trait::async_trait]
impl<F> LegacyCheck for F
where
    F: Fn(&str) -> bool + Send + Sync,
{
    async fn check(&self, key: &SecretKey) -> Result<bool> {
        Ok(self(key.expose()))
    }
}

/// Options of [`Client::verify_with_fallback`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FallbackOptions {
    pub verify: VerifyOptions,
    /// When set, a key the legacy check accepts is migrated on the spot (hash only).
    pub backfill: Option<Backfill>,
}

/// Where a backfilled key goes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Backfill {
    pub api_id: String,
    pub migration_id: String,
    /// Permissions and other fields the migrated key should carry.
    pub template: wire::MigrateKeyData,
}

impl Client {
    /// Verifies against the key service first; on NOT_FOUND asks the caller's legacy check.
    /// A key the legacy check accepts is VALID with `source == Legacy` and, with `backfill`,
    /// is migrated on the spot (its hash only). Keys are logged masked only.
    pub fn verify_with_fallback<'a>(
        &'a self,
        key: &'a str,
        legacy: &'a dyn LegacyCheck,
        options: &'a FallbackOptions,
    ) -> BoxFuture<'a, Result<Verification>> {
        Box::pin(self.fallback(key, legacy, options))
    }

    async fn fallback(
        &self,
        key: &str,
        legacy: &dyn LegacyCheck,
        options: &FallbackOptions,
    ) -> Result<Verification> {
        let verification = self.verify(key, &options.verify).await?;
        if verification.code != VerifyCode::NotFound {
            return Ok(verification);
        }
        let secret = SecretKey::new(key);
        let masked = secret.masked();
        if !legacy.check(&secret).await? {
            tracing::debug!(key = %masked, "key unknown to the key service and rejected by the legacy check");
            return Ok(verification);
        }
        tracing::info!(key = %masked, "key unknown to the key service; accepted by the legacy check");
        let mut accepted = Verification {
            valid: true,
            code: VerifyCode::Valid,
            source: VerificationSource::Legacy,
            ..verification
        };
        if let Some(backfill) = &options.backfill {
            let hash = crate::hashing::sha256_base64(key);
            let request = wire::MigrateKeysRequest {
                migration_id: backfill.migration_id.clone(),
                api_id: backfill.api_id.clone(),
                keys: vec![wire::MigrateKeyData {
                    hash: hash.clone(),
                    ..backfill.template.clone()
                }],
                hash_variant: None,
            };
            match self
                .migrate_keys_batch(&request, &new_idempotency_key())
                .await
            {
                Ok(result) => {
                    accepted.key_id = result
                        .migrated
                        .into_iter()
                        .find(|m| m.hash == hash)
                        .map(|m| m.key_id);
                    tracing::info!(key = %masked, key_id = ?accepted.key_id, "backfilled legacy key");
                }
                // The caller's request must not fail because the backfill did; the next
                // verification of this key will try again.
                Err(err) => {
                    tracing::warn!(key = %masked, error = %err, "backfill of legacy key failed")
                }
            }
        }
        Ok(accepted)
    }
}
