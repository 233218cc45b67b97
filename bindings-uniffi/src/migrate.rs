//! Migration (core's `migrate` module): options, report and progress records, the host's
//! record source and progress listener as foreign traits, and a cancel token.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use keyshift_core::migrate as core;

use crate::client::Client;
use crate::error::{on_core, KeyshiftError, Raised};
use crate::hashing::HashVariant;

/// What to migrate where, and how.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct MigrateOptions {
    pub api_id: String,
    /// Names this migration on the server; also seeds the idempotency keys.
    pub migration_id: String,
    /// Form of records carrying `hash` without `variant` (default sha256_base64).
    #[uniffi(default = None)]
    pub variant: Option<HashVariant>,
    /// Keys per request; none (the default) lets core adapt it to the answer times (100 up to
    /// 1,000), a value fixes it.
    #[uniffi(default = None)]
    pub batch_size: Option<u32>,
    /// Requests in flight; none (the default) adapts (2 to 16), a value fixes it.
    #[uniffi(default = None)]
    pub concurrency: Option<u32>,
    /// Append-only checkpoint file; required for `resume`.
    #[uniffi(default = None)]
    pub checkpoint: Option<String>,
    /// JSONL report file.
    #[uniffi(default = None)]
    pub report: Option<String>,
    /// Validate everything, send nothing.
    #[uniffi(default = false)]
    pub dry_run: bool,
    /// Continue the run recorded in `checkpoint`.
    #[uniffi(default = false)]
    pub resume: bool,
    /// Cap of `MigrationReport.errors` (the report file has them all).
    #[uniffi(default = 1000)]
    pub max_errors: u32,
}

impl MigrateOptions {
    fn into_core(self, cancel: core::CancelToken) -> core::MigrateOptions {
        core::MigrateOptions {
            api_id: self.api_id,
            migration_id: self.migration_id,
            variant: self.variant.map(Into::into).unwrap_or_default(),
            batch_size: self.batch_size.map(|n| n as usize),
            concurrency: self.concurrency.map(|n| n as usize),
            checkpoint: self.checkpoint.map(Into::into),
            report: self.report.map(Into::into),
            dry_run: self.dry_run,
            resume: self.resume,
            max_errors: self.max_errors as usize,
            retry: None,
            cancel: Some(cancel),
        }
    }
}

/// A problem with one input record, or one key the server refused.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RecordError {
    /// 1-based line (file) or position (host source).
    pub line: u64,
    pub hash: Option<String>,
    /// The §5 code string.
    pub code: String,
    pub field: Option<String>,
    pub message: String,
}

/// The outcome of a migration (or a dry run). `toString()` is core's summary.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
#[uniffi::export(Display)]
pub struct MigrationReport {
    pub total: u64,
    pub valid: u64,
    pub migrated: u64,
    pub already_present: u64,
    pub failed: u64,
    pub invalid: u64,
    pub skipped_resumed: u64,
    pub batches: u64,
    pub elapsed_ms: u64,
    pub dry_run: bool,
    pub errors: Vec<RecordError>,
    pub errors_truncated: bool,
}

impl MigrationReport {
    fn to_core(&self) -> core::MigrationReport {
        core::MigrationReport {
            total: self.total,
            valid: self.valid,
            migrated: self.migrated,
            already_present: self.already_present,
            failed: self.failed,
            invalid: self.invalid,
            skipped_resumed: self.skipped_resumed,
            batches: self.batches,
            elapsed: Duration::from_millis(self.elapsed_ms),
            dry_run: self.dry_run,
            errors: Vec::new(),
            errors_truncated: self.errors_truncated,
        }
    }
}

impl std::fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.to_core(), f)
    }
}

impl From<core::MigrationReport> for MigrationReport {
    fn from(r: core::MigrationReport) -> Self {
        MigrationReport {
            total: r.total,
            valid: r.valid,
            migrated: r.migrated,
            already_present: r.already_present,
            failed: r.failed,
            invalid: r.invalid,
            skipped_resumed: r.skipped_resumed,
            batches: r.batches,
            elapsed_ms: r.elapsed.as_millis() as u64,
            dry_run: r.dry_run,
            errors: r
                .errors
                .into_iter()
                .map(|e| RecordError {
                    line: e.line,
                    hash: e.hash,
                    code: e.code.as_str().to_string(),
                    field: e.field,
                    message: e.message,
                })
                .collect(),
            errors_truncated: r.errors_truncated,
        }
    }
}

/// A snapshot handed to the progress listener.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct MigrationProgress {
    pub records_read: u64,
    pub bytes_read: u64,
    /// Size of the input file, when known.
    pub bytes_total: Option<u64>,
    pub migrated: u64,
    pub already_present: u64,
    pub failed: u64,
    pub invalid: u64,
    pub skipped_resumed: u64,
    pub batches_done: u64,
    pub in_flight: u32,
    pub elapsed_ms: u64,
    /// True on the last call.
    pub finished: bool,
    /// Records whose fate is known.
    pub handled: u64,
}

impl From<&core::Progress> for MigrationProgress {
    fn from(p: &core::Progress) -> Self {
        MigrationProgress {
            records_read: p.records_read,
            bytes_read: p.bytes_read,
            bytes_total: p.bytes_total,
            migrated: p.migrated,
            already_present: p.already_present,
            failed: p.failed,
            invalid: p.invalid,
            skipped_resumed: p.skipped_resumed,
            batches_done: p.batches_done,
            in_flight: u32::try_from(p.in_flight).unwrap_or(u32::MAX),
            elapsed_ms: p.elapsed.as_millis() as u64,
            finished: p.finished,
            handled: p.handled(),
        }
    }
}

/// Told how a migration advances (at most ~10 times a second, and once at the end). Called on
/// one of keyshift's threads: keep it quick. Throwing stops the run; the exception comes back
/// out of the migrate call.
#[uniffi::export(foreign)]
pub trait ProgressListener: Send + Sync {
    fn on_progress(&self, progress: MigrationProgress) -> Result<(), KeyshiftError>;
}

/// Records to migrate, pulled a batch at a time on a background thread: each item is one JSON
/// object (`{"key": …}` or `{"hash": …}` plus the optional fields of a migrated key); an empty
/// list ends the input. Throwing stops the run (nothing after is sent) and comes back out.
#[uniffi::export(foreign)]
pub trait RecordSource: Send + Sync {
    fn next_batch(&self, max: u32) -> Result<Vec<String>, KeyshiftError>;
}

/// Asks a running migration to stop: no new batch is sent, those in flight finish, and the
/// call fails with `io` on field `cancel` (`resume` continues it).
#[derive(Debug, Default, uniffi::Object)]
pub struct CancelToken(core::CancelToken);

#[uniffi::export]
impl CancelToken {
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(CancelToken::default())
    }

    pub fn cancel(&self) {
        self.0.cancel()
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// Records per `next_batch` call.
const PULL: u32 = 256;

/// Core's fallible JSON source over a host `RecordSource`; the host's error is kept.
struct HostRecords {
    host: Arc<dyn RecordSource>,
    buf: VecDeque<String>,
    done: bool,
    raised: Raised,
}

impl Iterator for HostRecords {
    type Item = keyshift_core::Result<serde_json::Value>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() && !self.done {
            match self.host.next_batch(PULL) {
                Ok(batch) if batch.is_empty() => self.done = true,
                Ok(batch) => self.buf.extend(batch),
                Err(e) => {
                    self.done = true;
                    return Some(Err(self.raised.keep(e, "record source")));
                }
            }
        }
        let text = self.buf.pop_front()?;
        Some(serde_json::from_str(&text).map_err(|e| {
            keyshift_core::Error::invalid_input("record", format!("not a JSON object: {e}"))
        }))
    }
}

pub(crate) enum Input {
    File(String),
    Host(Arc<dyn RecordSource>),
}

pub(crate) async fn run_migration(
    client: &Client,
    input: Input,
    options: MigrateOptions,
    progress: Option<Arc<dyn ProgressListener>>,
    cancel: Option<Arc<CancelToken>>,
) -> Result<MigrationReport, KeyshiftError> {
    let raised = Raised::default();
    let token = cancel.map(|c| c.0.clone()).unwrap_or_default();
    let source = match input {
        Input::File(path) => core::MigrationSource::file(path),
        Input::Host(host) => core::MigrationSource::try_json(HostRecords {
            host,
            buf: VecDeque::new(),
            done: false,
            raised: raised.clone(),
        }),
    };
    let on_progress: Option<core::ProgressFn> = progress.map(|listener| {
        let (raised, token) = (raised.clone(), token.clone());
        Arc::new(move |p: &core::Progress| {
            if let Err(e) = listener.on_progress(p.into()) {
                // A throwing listener stops the run; its error is what the caller gets.
                raised.keep(e, "progress");
                token.cancel();
            }
        }) as core::ProgressFn
    });
    let options = options.into_core(token);
    let client = client.core().clone();
    let result =
        on_core(async move { client.migrate_keys(source, options, on_progress).await }).await;
    raised.settle(result).map(Into::into)
}
