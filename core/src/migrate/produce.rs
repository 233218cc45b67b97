//! The producer side of a run: on a blocking thread, read, validate, hash and batch the
//! input, encode each batch for the wire with its `Idempotency-Key` ([`Ready`]), and hand it
//! to the run over a bounded channel ([`produce`]); also the dry run, which does the same
//! without sending, and the tally and progress snapshots both share.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::checkpoint::{Entry, State};
use super::prepare::{input_changed, Batch, Batcher, Limits, Prepared, Preparer};
use super::reader::{self, MigrationSource};
use super::record::RecordError;
use super::report::{MigrationReport, Progress, ReportWriter};
use super::{CancelToken, MigrateOptions, ProgressFn};
use crate::hashing::HashVariant;
use crate::wire::MigrateKeysRequest;
use crate::{Error, Result};

pub(super) const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Deterministic per batch: a resumed run re-forms the same batch and reuses the key, so the
/// server replays its first answer. The body digest makes a changed input a new request.
pub(crate) fn idempotency_key(
    migration_id: &str,
    batch: u64,
    first_line: u64,
    body: &[u8],
) -> String {
    let m = Sha256::digest(migration_id.as_bytes());
    let b = Sha256::digest(body);
    format!(
        "ksm-{}-{batch}-{first_line}-{}",
        hex::encode(&m[..6]),
        hex::encode(&b[..8])
    )
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) records: AtomicU64,
    bytes: AtomicU64,
    bytes_total: AtomicU64,
}

impl Counters {
    /// Where the reader is now.
    fn update(&self, prep: &Preparer) {
        self.records.store(prep.records, Ordering::Relaxed);
        self.bytes.store(prep.bytes_read(), Ordering::Relaxed);
        self.bytes_total
            .store(prep.bytes_total().unwrap_or(0), Ordering::Relaxed);
    }
}

pub(super) enum Event {
    Invalid(RecordError),
    Send(Ready),
    Skip(u64),
}

/// A batch encoded for the wire (by the producer thread, off the async workers).
pub(super) struct Ready {
    pub(super) no: u64,
    pub(super) first_line: u64,
    pub(super) last_line: u64,
    pub(super) lines: Vec<u64>,
    pub(super) hashes: Vec<String>,
    pub(super) request: MigrateKeysRequest,
    pub(super) idempotency_key: String,
    pub(super) est_bytes: usize,
}

impl Ready {
    fn new(batch: Batch, migration_id: &str, api_id: &str) -> Result<Ready> {
        let hashes: Vec<String> = batch.keys.iter().map(|k| k.hash.clone()).collect();
        let (first_line, last_line) = (batch.first_line(), batch.last_line());
        let request = MigrateKeysRequest {
            migration_id: migration_id.to_string(),
            api_id: api_id.to_string(),
            keys: batch.keys,
            hash_variant: (batch.variant != HashVariant::Sha256Base64).then_some(batch.variant),
        };
        let body = serde_json::to_vec(&request).map_err(|e| Error::io(e.to_string()))?;
        let idempotency_key = idempotency_key(migration_id, batch.no, first_line, &body);
        Ok(Ready {
            no: batch.no,
            first_line,
            last_line,
            lines: batch.lines,
            hashes,
            request,
            idempotency_key,
            est_bytes: batch.est_bytes,
        })
    }

    /// Two halves of a batch the server refused as too large, as new batches numbered from
    /// `next_no`.
    pub(super) fn split(self, next_no: &AtomicU64) -> Result<[Ready; 2]> {
        let Ready {
            mut lines,
            mut request,
            est_bytes,
            ..
        } = self;
        let half = lines.len() / 2;
        let (migration_id, api_id) = (request.migration_id.clone(), request.api_id.clone());
        let variant = request.hash_variant.unwrap_or_default();
        let (tail_lines, tail_keys) = (lines.split_off(half), request.keys.split_off(half));
        let mk = |lines: Vec<u64>, keys| {
            Ready::new(
                Batch {
                    no: next_no.fetch_add(1, Ordering::Relaxed),
                    variant,
                    lines,
                    keys,
                    est_bytes: est_bytes / 2,
                    recorded: None,
                },
                &migration_id,
                &api_id,
            )
        };
        Ok([mk(lines, request.keys)?, mk(tail_lines, tail_keys)?])
    }
}

pub(super) struct Tally {
    pub(super) report: MigrationReport,
    pub(super) max_errors: usize,
    pub(super) batches_done: u64,
}

impl Tally {
    pub(super) fn error(&mut self, e: RecordError) {
        if self.report.errors.len() < self.max_errors {
            self.report.errors.push(e);
        } else {
            self.report.errors_truncated = true;
        }
    }
}

pub(super) fn progress_of(
    t: &Tally,
    c: &Counters,
    started: Instant,
    in_flight: usize,
    finished: bool,
) -> Progress {
    let total = c.bytes_total.load(Ordering::Relaxed);
    Progress {
        records_read: c.records.load(Ordering::Relaxed),
        bytes_read: c.bytes.load(Ordering::Relaxed),
        bytes_total: (total > 0).then_some(total),
        migrated: t.report.migrated,
        already_present: t.report.already_present,
        failed: t.report.failed,
        invalid: t.report.invalid,
        skipped_resumed: t.report.skipped_resumed,
        batches_done: t.batches_done,
        in_flight,
        elapsed: started.elapsed(),
        finished,
    }
}

/// Validates every record of `source` without sending anything.
pub(crate) fn dry_run(
    source: MigrationSource,
    options: &MigrateOptions,
    on_progress: Option<ProgressFn>,
) -> Result<MigrationReport> {
    options.validate()?;
    let started = Instant::now();
    let mut report_w = match &options.report {
        Some(p) => Some(ReportWriter::open(p, false)?),
        None => None,
    };
    let mut prep = Preparer::new(reader::open(source)?, options.variant, options.spill_dir());
    let mut batcher = Batcher::new(options.batch_size.unwrap_or(super::DEFAULT_BATCH_SIZE));
    let counters = Counters::default();
    let mut t = Tally {
        report: MigrationReport {
            dry_run: true,
            ..Default::default()
        },
        max_errors: options.max_errors,
        batches_done: 0,
    };
    let mut last = Instant::now();
    let mut cancelled = false;
    while let Some(chunk) = prep.next_chunk()? {
        if options.cancelled() {
            cancelled = true;
            break;
        }
        for p in chunk {
            match p {
                Prepared::Key(k) => {
                    t.report.valid += 1;
                    t.report.batches += batcher.push(k)?.len() as u64;
                }
                Prepared::Invalid(e) => {
                    t.report.invalid += 1;
                    if let Some(w) = &mut report_w {
                        w.error(&e)?;
                    }
                    t.error(e);
                }
            }
        }
        if let Some(cb) = &on_progress {
            if last.elapsed() >= PROGRESS_EVERY {
                last = Instant::now();
                counters.update(&prep);
                cb(&progress_of(&t, &counters, started, 0, false));
            }
        }
    }
    t.report.batches += batcher.finish()?.len() as u64;
    t.report.total = prep.records;
    t.report.elapsed = started.elapsed();
    if let Some(w) = &mut report_w {
        w.summary(&t.report)?;
        w.flush()?;
    }
    if cancelled {
        return Err(CancelToken::error());
    }
    if let Some(cb) = &on_progress {
        counters.update(&prep);
        cb(&progress_of(&t, &counters, started, 0, true));
    }
    Ok(t.report)
}

/// How the producer forms batches.
pub(super) enum Plan {
    /// Fixed batches (checkpoint format 1): batch `n` is the `n`-th of the fixed size, and
    /// those the checkpoint records as done are skipped.
    Fixed { done: HashMap<u64, Entry> },
    /// Recorded batches (format 2): these entries (done or sent) are re-formed by their
    /// boundaries first; done ones are checked against the input and skipped.
    Recorded { entries: Vec<Entry> },
}

/// The producer: runs on a blocking thread until the input ends or the consumer goes away.
#[allow(clippy::too_many_arguments)]
pub(super) fn produce(
    source: MigrationSource,
    variant: HashVariant,
    spill_dir: PathBuf,
    ids: (String, String),
    limits: Arc<Limits>,
    next_no: Arc<AtomicU64>,
    plan: Plan,
    counters: Arc<Counters>,
    tx: mpsc::Sender<Event>,
) -> Result<()> {
    let (migration_id, api_id) = ids;
    let mut prep = Preparer::new(reader::open(source)?, variant, spill_dir);
    counters.update(&prep);
    let mut batcher = Batcher::with_limits(limits, next_no);
    let done = match plan {
        Plan::Fixed { done } => done,
        Plan::Recorded { entries } => {
            batcher = batcher.replay(entries);
            HashMap::new()
        }
    };
    // Returns false when the consumer has stopped listening (aborted run).
    let emit = |mut b: Batch| -> Result<bool> {
        let ev = match (b.recorded.take(), done.get(&b.no)) {
            (Some(e), _) if e.state == State::Done => {
                // Checked and skipped.
                // The same keys as when it was sent: the same request, so the same key.
                let count = b.keys.len() as u64;
                let ready = Ready::new(b, &migration_id, &api_id)?;
                if ready.idempotency_key != e.idempotency_key {
                    return Err(input_changed(format!(
                        "batch {} (lines {}–{}) is not what was sent",
                        e.batch, e.first_line, e.last_line
                    )));
                }
                Event::Skip(count)
            }
            (Some(_), _) => Event::Send(Ready::new(b, &migration_id, &api_id)?),
            (None, Some(e)) => {
                if e.first_line != b.first_line()
                    || e.last_line != b.last_line()
                    || e.count != b.keys.len() as u64
                {
                    return Err(input_changed(format!(
                        "batch {} was lines {}–{} and is now {}–{}",
                        b.no,
                        e.first_line,
                        e.last_line,
                        b.first_line(),
                        b.last_line()
                    )));
                }
                Event::Skip(e.count)
            }
            (None, None) => Event::Send(Ready::new(b, &migration_id, &api_id)?),
        };
        Ok(tx.blocking_send(ev).is_ok())
    };
    while let Some(chunk) = prep.next_chunk()? {
        counters.update(&prep);
        for p in chunk {
            match p {
                Prepared::Invalid(e) => {
                    if tx.blocking_send(Event::Invalid(e)).is_err() {
                        return Ok(());
                    }
                }
                Prepared::Key(k) => {
                    for b in batcher.push(k)? {
                        if !emit(b)? {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
    for b in batcher.finish()? {
        if !emit(b)? {
            return Ok(());
        }
    }
    counters.update(&prep);
    Ok(())
}
