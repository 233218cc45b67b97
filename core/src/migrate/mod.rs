//! The migration engine (DESIGN.md §6): streams existing keys (plaintext or hashed) from a
//! JSONL/CSV file or an iterator into the key service. Plaintext is hashed locally and dropped;
//! only hashes cross the wire.
//!
//! Pipeline: a blocking reader thread parses and validates records ([`record`]), hashes each
//! chunk's plaintext in parallel, drops duplicates, and forms batches per hash variant; a
//! bounded channel (backpressure) feeds up to `concurrency` requests in flight, each with a
//! deterministic `Idempotency-Key`; answers go to the report ([`report`]) and the checkpoint
//! ([`checkpoint`]) so that `resume` continues a killed run with nothing lost or duplicated.
//!
//! Memory: bounded whatever the input size. Duplicate detection keeps a 64-bit fingerprint per
//! key (`fingerprints.rs`): the newest million (~9 MiB) in memory, the rest in sorted runs in
//! unlinked temporary files ([`MigrateOptions::spill_dir`], 8 bytes a key on disk).

mod adapt;
mod batch;
pub mod checkpoint;
mod fingerprints;
mod prepare;
mod produce;
pub mod reader;
pub mod record;
pub mod report;
mod run;
pub mod sample;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use crate::hashing::HashVariant;
pub use adapt::{
    MAX_ADAPTIVE_CONCURRENCY, MIN_ADAPTIVE_BATCH, MIN_ADAPTIVE_CONCURRENCY, SLOW_ANSWER,
};
pub use batch::{MigrationBackend, DEFAULT_BATCH_ATTEMPTS, MAX_BATCH_WAIT};
pub use reader::{Format, MigrationSource};
pub use record::{MigrationRecord, RecordError};
pub use report::{MigrationReport, Progress};
pub use run::migrate_keys_with;

use crate::backend::CallOptions;
use crate::{BoxFuture, Client, Error, Result, RetryPolicy};

/// Keys per request an adaptive run starts with (see [`MigrateOptions::batch_size`]).
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// Largest accepted `batch_size`.
pub const MAX_BATCH_SIZE: usize = 1000;
/// Requests in flight an adaptive run starts with (see [`MigrateOptions::concurrency`]).
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Largest accepted `concurrency`.
pub const MAX_CONCURRENCY: usize = 64;
/// Default cap of [`MigrationReport::errors`].
pub const DEFAULT_MAX_ERRORS: usize = 1000;

/// Called with a snapshot as the migration advances (at most ~10 times a second, and once at
/// the end with `finished: true`).
///
/// Which thread calls it: [`migrate_keys`] calls it on the task awaiting the run, i.e. a tokio
/// worker of the runtime driving it (for the CLI and the bindings, one of
/// [`crate::runtime`]'s workers); a dry run calls it on its validation thread (a
/// `spawn_blocking` thread), and [`validate_source`] on the caller's thread. Keep it quick:
/// the run waits for it. It may call the blocking client through [`crate::runtime::block_on`].
/// To stop the run, it (or anyone) calls [`CancelToken::cancel`] on the token of
/// [`MigrateOptions::cancel`].
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Asks a running migration to stop (e.g. from a progress callback, a signal handler or
/// another thread). The run then sends no new batch, waits for those in flight, syncs the
/// checkpoint and the report, and returns an error naming the cancellation (field `cancel`);
/// `resume` continues it. Clones share one flag.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        CancelToken::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The error a cancelled run returns.
    pub(crate) fn error() -> Error {
        Error::io("the migration was cancelled; run again with resume to continue")
            .with_field("cancel")
    }
}

/// Tokens are equal when they are clones of one another (one flag).
impl PartialEq for CancelToken {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// What to migrate where, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct MigrateOptions {
    pub api_id: String,
    /// Names this migration on the server (`migrationId`); also seeds the idempotency keys.
    pub migration_id: String,
    /// Form of records that carry `hash` without `variant`. Plaintext `key`s are always
    /// hashed to `sha256_base64`, the server's own storage form.
    pub variant: HashVariant,
    /// Keys per request (1–[`MAX_BATCH_SIZE`]). `None` (the default): adaptive, starting at
    /// [`DEFAULT_BATCH_SIZE`] and growing toward [`MAX_BATCH_SIZE`] while answers come back
    /// quickly, shrinking on slow answers, timeouts, 429/503, and on a 413 (whose batch is
    /// split and sent again). `Some(n)`: exactly `n` (fixed batches).
    pub batch_size: Option<usize>,
    /// Requests in flight (1–[`MAX_CONCURRENCY`]). `None` (the default): adaptive, starting at
    /// [`DEFAULT_CONCURRENCY`], between [`MIN_ADAPTIVE_CONCURRENCY`] and
    /// [`MAX_ADAPTIVE_CONCURRENCY`], higher only while answers are slow to come back without
    /// queueing at the server. `Some(n)`: exactly `n`.
    pub concurrency: Option<usize>,
    /// Append-only checkpoint file; required for `resume`.
    pub checkpoint: Option<PathBuf>,
    /// JSONL report file.
    pub report: Option<PathBuf>,
    /// Validate everything, send nothing.
    pub dry_run: bool,
    /// Continue the run recorded in `checkpoint`.
    pub resume: bool,
    /// Cap of [`MigrationReport::errors`] (the report file has them all).
    pub max_errors: usize,
    /// How each batch is retried (DESIGN.md §4's classification, every batch being
    /// repeatable). Default: the client's policy with at least
    /// [`DEFAULT_BATCH_ATTEMPTS`] attempts.
    pub retry: Option<RetryPolicy>,
    /// Stops the run when cancelled (see [`CancelToken`]).
    pub cancel: Option<CancelToken>,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions {
            api_id: String::new(),
            migration_id: String::new(),
            variant: HashVariant::default(),
            batch_size: None,
            concurrency: None,
            checkpoint: None,
            report: None,
            dry_run: false,
            resume: false,
            max_errors: DEFAULT_MAX_ERRORS,
            retry: None,
            cancel: None,
        }
    }
}

impl MigrateOptions {
    pub fn new(api_id: impl Into<String>, migration_id: impl Into<String>) -> Self {
        MigrateOptions {
            api_id: api_id.into(),
            migration_id: migration_id.into(),
            ..Default::default()
        }
    }
    crate::setters::setters! {
        variant(v: HashVariant) => variant = v;
        batch_size(n: usize) => batch_size = Some(n);
        concurrency(n: usize) => concurrency = Some(n);
        checkpoint(path: impl Into<PathBuf>) => checkpoint = Some(path.into());
        report(path: impl Into<PathBuf>) => report = Some(path.into());
        dry_run(yes: bool) => dry_run = yes;
        resume(yes: bool) => resume = yes;
        max_errors(n: usize) => max_errors = n;
        retry(policy: RetryPolicy) => retry = Some(policy);
        cancel(token: CancelToken) => cancel = Some(token);
    }

    /// Where duplicate detection writes the fingerprints it does not keep in memory (inputs
    /// over a million keys, 8 bytes a key, in unlinked files): the checkpoint's directory,
    /// which the caller chose and can write (on Android the system temp dir is not the app's),
    /// else the system temp dir (`TMPDIR`).
    pub fn spill_dir(&self) -> PathBuf {
        match self.checkpoint.as_deref().and_then(std::path::Path::parent) {
            Some(dir) if dir.as_os_str().is_empty() => PathBuf::from("."),
            Some(dir) => dir.to_path_buf(),
            None => std::env::temp_dir(),
        }
    }

    /// Whether the run was asked to stop.
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(CancelToken::is_cancelled)
    }

    /// Checks the options themselves (ids only matter when something is sent).
    pub fn validate(&self) -> Result<()> {
        for (field, n, max) in [
            ("batch_size", self.batch_size, MAX_BATCH_SIZE),
            ("concurrency", self.concurrency, MAX_CONCURRENCY),
        ] {
            if let Some(n) = n {
                Error::check_range(field, n, 1..=max, || format!("{field} must be 1–{max}"))?;
            }
        }
        if self.resume && self.checkpoint.is_none() {
            return Err(Error::invalid_input(
                "resume",
                "resume needs a checkpoint file",
            ));
        }
        if !self.dry_run {
            // The lengths `keys.migrateKeys` accepts (wire::limits), checked before sending.
            use crate::wire::limits::{
                ID_MAX_LEN, ID_MIN_LEN, MIGRATION_ID_MAX_LEN, MIGRATION_ID_MIN_LEN,
            };
            for (field, v, min, max) in [
                ("api_id", &self.api_id, ID_MIN_LEN, ID_MAX_LEN),
                (
                    "migration_id",
                    &self.migration_id,
                    MIGRATION_ID_MIN_LEN,
                    MIGRATION_ID_MAX_LEN,
                ),
            ] {
                if !(min..=max).contains(&v.chars().count()) {
                    return Err(Error::invalid_input(
                        field,
                        format!("{field} must be {min}–{max} characters"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The `Idempotency-Key` the engine sends for batch `batch_no` (0-based) starting at
/// `first_line`: derived from the migration id, the batch's position and the exact request, so
/// a resumed run sends the same key for the same batch and a changed input gets a new one.
pub fn batch_idempotency_key(
    migration_id: &str,
    batch_no: u64,
    first_line: u64,
    request: &crate::wire::MigrateKeysRequest,
) -> Result<String> {
    let body = serde_json::to_vec(request).map_err(|e| Error::io(e.to_string()))?;
    Ok(produce::idempotency_key(
        migration_id,
        batch_no,
        first_line,
        &body,
    ))
}

/// Validates a whole source without touching the network (what `dry_run` does).
pub fn validate_source(
    source: impl Into<MigrationSource>,
    options: &MigrateOptions,
    on_progress: Option<ProgressFn>,
) -> Result<MigrationReport> {
    produce::dry_run(source.into(), options, on_progress)
}

#[async_trait::async_trait]
impl MigrationBackend for Client {
    /// One attempt (the engine retries under its own copy of the client's policy).
    async fn migrate_batch(
        &self,
        request: &crate::wire::MigrateKeysRequest,
        idempotency_key: &str,
    ) -> Result<crate::wire::MigrateKeysResponseData> {
        let call = CallOptions::default()
            .with_idempotency_key(idempotency_key)
            .with_retry(RetryPolicy::never());
        self.migrate_keys_batch_with(request, &call).await
    }

    fn retry_policy(&self) -> RetryPolicy {
        Client::retry_policy(self)
    }
}

/// Migrates every record of `source` into `options.api_id` through `client` (HTTP or local).
///
/// Returns the report when the input was read to the end (some keys may still have failed:
/// see [`MigrationReport::is_complete`]); returns an error when the run could not continue
/// (unreadable input, checkpoint mismatch, 401/403 from the server). With a checkpoint, such a
/// run is resumed by calling again with `resume: true`.
pub fn migrate_keys(
    client: &Client,
    source: impl Into<MigrationSource>,
    options: MigrateOptions,
    on_progress: Option<ProgressFn>,
) -> BoxFuture<'static, Result<MigrationReport>> {
    migrate_keys_with(Arc::new(client.clone()), source, options, on_progress)
}

impl Client {
    /// [`migrate_keys`] as a method.
    pub fn migrate_keys(
        &self,
        source: impl Into<MigrationSource>,
        options: MigrateOptions,
        on_progress: Option<ProgressFn>,
    ) -> BoxFuture<'static, Result<MigrationReport>> {
        migrate_keys(self, source, options, on_progress)
    }
}

#[cfg(test)]
mod tests {
    use super::MigrateOptions;
    use std::path::PathBuf;

    #[test]
    fn fingerprints_spill_beside_the_checkpoint_else_to_the_temp_dir() {
        let options = MigrateOptions::new("api_1", "m1");
        assert_eq!(options.spill_dir(), std::env::temp_dir());
        let options = options.checkpoint("/data/app/files/run.ckpt");
        assert_eq!(options.spill_dir(), PathBuf::from("/data/app/files"));
        let options = options.checkpoint("run.ckpt");
        assert_eq!(options.spill_dir(), PathBuf::from("."));
    }
}
