//! The batch side of a run: each batch the producer encoded is recorded as sent in the
//! checkpoint, sent with retries ([`MigrationBackend`], one attempt at a time), split in two
//! when refused as too large, and its answer accounted for in the report and the checkpoint.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::adapt::Outcome;
use super::checkpoint::{Checkpoint, Entry, State};
use super::prepare::input_changed;
use super::produce::{Ready, Tally};
use super::record::RecordError;
use super::report::ReportWriter;
use super::MigrateOptions;
use crate::retry::RetryPolicy;
use crate::wire::{MigrateKeysRequest, MigrateKeysResponseData};
use crate::{Error, ErrorCode, Result};

/// Sends `keys.migrateKeys` requests for the engine. Implemented by the client (over HTTP or
/// the in-process engine).
#[async_trait::async_trait]
pub trait MigrationBackend: Send + Sync + 'static {
    /// ONE attempt of one batch with this `Idempotency-Key` (no retries: the engine retries
    /// itself, so it knows whether an earlier attempt may have reached the server).
    async fn migrate_batch(
        &self,
        request: &MigrateKeysRequest,
        idempotency_key: &str,
    ) -> Result<MigrateKeysResponseData>;

    /// The policy the engine starts from when [`MigrateOptions::retry`] is not set.
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::default()
    }
}

/// Fewest attempts the engine gives a batch by default (a migration is long, and every batch
/// carries an Idempotency-Key, so it is always safe to send again). A batch still failing
/// after them is reported failed and left unfinished in the checkpoint, so `resume` sends it
/// again.
pub const DEFAULT_BATCH_ATTEMPTS: u32 = 8;
/// Longest single wait between two attempts of a batch, whatever the server asks.
pub const MAX_BATCH_WAIT: Duration = Duration::from_secs(60);

/// DESIGN.md §4 through the one classification on the error: a batch always carries an
/// Idempotency-Key, so it is a repeatable call.
fn batch_retryable(e: &Error, policy: &RetryPolicy) -> bool {
    if e.code == ErrorCode::RateLimited && !policy.retry_rate_limited {
        return false;
    }
    e.is_retryable(true)
}

/// The policy a run's batches are retried under.
pub(crate) fn batch_policy(
    options: &MigrateOptions,
    backend: &dyn MigrationBackend,
) -> RetryPolicy {
    options.retry.clone().unwrap_or_else(|| {
        let mut p = backend.retry_policy();
        p.max_attempts = p.max_attempts.max(DEFAULT_BATCH_ATTEMPTS);
        p
    })
}

/// Errors after which no other batch can succeed: stop the run.
fn is_fatal(e: &Error) -> bool {
    matches!(e.code, ErrorCode::Unauthorized | ErrorCode::Forbidden)
}

fn looks_existing(error: Option<&str>) -> bool {
    match error {
        None => true,
        Some(e) => {
            let e = e.to_ascii_lowercase();
            e.contains("exist") || e.contains("duplicate") || e.contains("conflict")
        }
    }
}

pub(super) struct Sent {
    no: u64,
    first_line: u64,
    last_line: u64,
    lines: Vec<u64>,
    hashes: Vec<String>,
    idempotency_key: String,
    /// The request may have reached the server before: an earlier run (checkpoint) or an
    /// earlier attempt of this run whose answer was lost. Its hashes the server then reports
    /// as existing were put there by this migration (already present), even when the server
    /// ignores Idempotency-Key (as Unkey does).
    resent: bool,
    result: Result<MigrateKeysResponseData>,
    pub(super) outcome: Outcome,
    /// The request, given back when the server refused it as too large and it may be split.
    pub(super) refused: Option<MigrateKeysRequest>,
}

/// Whether an error says the server is struggling (the batch size or in-flight count should
/// come down).
fn strained(e: &Error) -> bool {
    matches!(e.code, ErrorCode::Timeout | ErrorCode::RateLimited) || e.status == Some(503)
}

async fn send_batch(
    backend: Arc<dyn MigrationBackend>,
    policy: RetryPolicy,
    request: MigrateKeysRequest,
    mut sent: Sent,
    may_split: bool,
) -> Sent {
    let mut attempt = 1u32;
    loop {
        let began = Instant::now();
        let result = backend.migrate_batch(&request, &sent.idempotency_key).await;
        match &result {
            Ok(_) => sent.outcome.answered_in = Some(began.elapsed()),
            Err(e) => sent.outcome.strained |= strained(e),
        }
        match result {
            Err(e) if e.status == Some(413) && may_split && request.keys.len() > 1 => {
                // Nothing of it was stored: it goes out again in two halves.
                sent.outcome.too_large = true;
                sent.result = Err(e);
                sent.refused = Some(request);
                return sent;
            }
            Err(e) if attempt < policy.max_attempts && batch_retryable(&e, &policy) => {
                if !e.not_sent {
                    sent.resent = true;
                }
                let hint = e
                    .retry_after
                    .and_then(|s| Duration::try_from_secs_f32(s).ok());
                let wait = policy.delay_for(attempt, hint).min(MAX_BATCH_WAIT);
                tracing::debug!(
                    batch = sent.no,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    code = e.code(),
                    "retrying batch"
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            result => {
                if let Err(e) = &result {
                    if !e.not_sent {
                        sent.resent = true;
                    }
                }
                sent.result = result;
                return sent;
            }
        }
    }
}

fn entry_of(
    no: u64,
    first_line: u64,
    last_line: u64,
    count: usize,
    state: State,
    idempotency_key: &str,
) -> Entry {
    Entry {
        batch: no,
        first_line,
        last_line,
        count: count as u64,
        state,
        idempotency_key: idempotency_key.to_string(),
        migrated: None,
        already_present: None,
        failed: None,
    }
}

/// Starts batches: records each as sent, then sends it on a task of `in_flight`.
pub(super) struct Launcher {
    pub(super) backend: Arc<dyn MigrationBackend>,
    pub(super) policy: RetryPolicy,
    pub(super) may_split: bool,
}

impl Launcher {
    pub(super) fn launch(
        &self,
        ready: Ready,
        previous: Option<&Entry>,
        checkpoint: &mut Option<Checkpoint>,
        in_flight: &mut JoinSet<Sent>,
    ) -> Result<()> {
        let (request, sent) = start_batch(ready, previous, checkpoint)?;
        in_flight.spawn(send_batch(
            self.backend.clone(),
            self.policy.clone(),
            request,
            sent,
            self.may_split,
        ));
        Ok(())
    }
}

/// Records the batch as sent (durably) and hands back its request.
fn start_batch(
    ready: Ready,
    previous: Option<&Entry>,
    checkpoint: &mut Option<Checkpoint>,
) -> Result<(MigrateKeysRequest, Sent)> {
    let Ready {
        no,
        first_line,
        last_line,
        lines,
        hashes,
        request,
        idempotency_key: key,
        est_bytes,
    } = ready;
    let resent = match previous {
        Some(e) if e.idempotency_key != key => {
            return Err(input_changed(format!(
                "batch {no} (lines {}–{}) is not what was sent",
                e.first_line, e.last_line
            )))
        }
        Some(_) => true,
        None => {
            if let Some(c) = checkpoint {
                c.append(
                    &entry_of(no, first_line, last_line, hashes.len(), State::Sent, &key),
                    true,
                )?;
            }
            false
        }
    };
    let outcome = Outcome {
        keys: hashes.len(),
        est_bytes,
        ..Outcome::default()
    };
    Ok((
        request,
        Sent {
            no,
            first_line,
            last_line,
            lines,
            hashes,
            idempotency_key: key,
            resent,
            result: Ok(MigrateKeysResponseData::default()),
            outcome,
            refused: None,
        },
    ))
}

/// A batch the server refused as too large: recorded as split (nothing of it was stored) and
/// made into two halves, new batches, which the run sends next.
pub(super) fn split_batch(
    s: Sent,
    request: MigrateKeysRequest,
    next_no: &AtomicU64,
    checkpoint: &mut Option<Checkpoint>,
) -> Result<[Ready; 2]> {
    tracing::debug!(
        batch = s.no,
        keys = s.hashes.len(),
        "batch refused as too large; splitting it"
    );
    if let Some(c) = checkpoint {
        // Durable with the halves' `sent` entries. Lost in a crash, the batch is simply
        // sent again whole on resume.
        c.append(
            &entry_of(
                s.no,
                s.first_line,
                s.last_line,
                s.hashes.len(),
                State::Split,
                &s.idempotency_key,
            ),
            false,
        )?;
    }
    Ready {
        no: s.no,
        first_line: s.first_line,
        last_line: s.last_line,
        lines: s.lines,
        hashes: s.hashes,
        request,
        idempotency_key: s.idempotency_key,
        est_bytes: s.outcome.est_bytes,
    }
    .split(next_no)
}

/// Accounts for an answered (or given-up) batch: report lines, then the `done` checkpoint entry.
/// Returns an error only when the whole run must stop.
pub(super) fn finish_batch(
    s: Sent,
    t: &mut Tally,
    report_w: &mut Option<ReportWriter>,
    checkpoint: &mut Option<Checkpoint>,
) -> Result<()> {
    t.batches_done += 1;
    let data = match s.result {
        Err(e) => {
            let fatal = is_fatal(&e);
            for (line, hash) in s.lines.iter().zip(&s.hashes) {
                t.report.failed += 1;
                let re = RecordError {
                    line: *line,
                    hash: Some(hash.clone()),
                    code: e.code,
                    field: None,
                    message: format!("batch {} not migrated: {}", s.no, e.message),
                };
                if let Some(w) = report_w {
                    w.batch_error(s.no, &re)?;
                }
                t.error(re);
            }
            if let Some(w) = report_w {
                w.flush()?;
            }
            return if fatal { Err(e) } else { Ok(()) };
        }
        Ok(data) => data,
    };
    let mut line_of: HashMap<&str, u64> = s
        .hashes
        .iter()
        .map(String::as_str)
        .zip(s.lines.iter().copied())
        .collect();
    let (mut migrated, mut present, mut failed) = (0u64, 0u64, 0u64);
    for m in &data.migrated {
        let Some(line) = line_of.remove(m.hash.as_str()) else {
            continue;
        };
        migrated += 1;
        if let Some(w) = report_w {
            w.migrated(s.no, line, &m.hash, &m.key_id)?;
        }
    }
    for f in &data.failed {
        let Some(line) = line_of.remove(f.hash.as_str()) else {
            continue;
        };
        let existing = looks_existing(f.error.as_deref());
        if s.resent && existing {
            present += 1;
            if let Some(w) = report_w {
                w.already_present(s.no, line, &f.hash)?;
            }
        } else {
            failed += 1;
            let re = RecordError {
                line,
                hash: Some(f.hash.clone()),
                code: if existing {
                    ErrorCode::Conflict
                } else {
                    ErrorCode::BadRequest
                },
                field: None,
                message: match &f.error {
                    Some(msg) => format!("the key service refused this key: {msg}"),
                    None => "the key service refused this key (the hash already exists)".into(),
                },
            };
            if let Some(w) = report_w {
                w.batch_error(s.no, &re)?;
            }
            t.error(re);
        }
    }
    // Keys the server did not mention: unknown fate, so the batch stays unfinished (resume
    // re-sends it and the server's replay or "already exists" settles each key).
    let unaccounted = line_of.len() as u64;
    let mut missing: Vec<(u64, &str)> = line_of.into_iter().map(|(h, l)| (l, h)).collect();
    missing.sort_unstable();
    for (line, hash) in missing {
        let re = RecordError {
            line,
            hash: Some(hash.to_string()),
            code: ErrorCode::ServerError,
            field: None,
            message: "the key service did not report this key".into(),
        };
        if let Some(w) = report_w {
            w.batch_error(s.no, &re)?;
        }
        t.error(re);
    }
    t.report.migrated += migrated;
    t.report.already_present += present;
    t.report.failed += failed + unaccounted;
    if let Some(w) = report_w {
        w.flush()?;
    }
    if unaccounted == 0 {
        if let Some(c) = checkpoint {
            c.append(
                &Entry {
                    batch: s.no,
                    first_line: s.first_line,
                    last_line: s.last_line,
                    count: s.hashes.len() as u64,
                    state: State::Done,
                    idempotency_key: s.idempotency_key,
                    migrated: Some(migrated),
                    already_present: Some(present),
                    failed: Some(failed),
                },
                // Group commit: made durable by the next batch's `sent` sync (or the final
                // sync). A `done` lost in a crash only means the batch is re-sent on resume,
                // where the server's replay (or "already present") settles every key.
                false,
            )?;
        }
    }
    Ok(())
}
