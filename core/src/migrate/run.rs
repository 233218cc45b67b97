//! The migration run: producer thread (read, validate, hash, batch, encode) → bounded channel
//! → up to `concurrency` requests in flight → report and checkpoint. Batch size and in-flight
//! count follow the answers unless the options fix them ([`super::adapt`]).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::adapt::{Adapt, Outcome};
use super::checkpoint::{Checkpoint, Entry, Header, ResumeState, State, VERSION, VERSION_RECORDED};
use super::prepare::{input_changed, Batch, Batcher, Limits, Prepared, Preparer};
use super::reader::{self, MigrationSource};
use super::record::RecordError;
use super::report::{MigrationReport, Progress, ReportWriter};
use super::{CancelToken, MigrateOptions, ProgressFn};
use crate::hashing::HashVariant;
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
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

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
struct Counters {
    records: AtomicU64,
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

enum Event {
    Invalid(RecordError),
    Send(Ready),
    Skip(u64),
}

/// A batch encoded for the wire (by the producer thread, off the async workers).
struct Ready {
    no: u64,
    first_line: u64,
    last_line: u64,
    lines: Vec<u64>,
    hashes: Vec<String>,
    request: MigrateKeysRequest,
    idempotency_key: String,
    est_bytes: usize,
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
    fn split(self, next_no: &AtomicU64) -> Result<[Ready; 2]> {
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

struct Tally {
    report: MigrationReport,
    max_errors: usize,
    batches_done: u64,
}

impl Tally {
    fn error(&mut self, e: RecordError) {
        if self.report.errors.len() < self.max_errors {
            self.report.errors.push(e);
        } else {
            self.report.errors_truncated = true;
        }
    }
}

fn progress_of(
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
    let mut prep = Preparer::new(reader::open(source)?, options.variant);
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
enum Plan {
    /// Fixed batches (checkpoint format 1): batch `n` is the `n`-th of the fixed size, and
    /// those the checkpoint records as done are skipped.
    Fixed { done: HashMap<u64, Entry> },
    /// Recorded batches (format 2): these entries (done or sent) are re-formed by their
    /// boundaries first; done ones are checked against the input and skipped.
    Recorded { entries: Vec<Entry> },
}

/// The producer: runs on a blocking thread until the input ends or the consumer goes away.
#[allow(clippy::too_many_arguments)]
fn produce(
    source: MigrationSource,
    variant: HashVariant,
    ids: (String, String),
    limits: Arc<Limits>,
    next_no: Arc<AtomicU64>,
    plan: Plan,
    counters: Arc<Counters>,
    tx: mpsc::Sender<Event>,
) -> Result<()> {
    let (migration_id, api_id) = ids;
    let mut prep = Preparer::new(reader::open(source)?, variant);
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

struct Sent {
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
    outcome: Outcome,
    /// The request, given back when the server refused it as too large and it may be split.
    refused: Option<MigrateKeysRequest>,
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

/// Runs a migration with any backend (the client implements [`MigrationBackend`]).
pub async fn migrate_keys_with(
    backend: Arc<dyn MigrationBackend>,
    source: impl Into<MigrationSource>,
    options: MigrateOptions,
    on_progress: Option<ProgressFn>,
) -> Result<MigrationReport> {
    let source = source.into();
    options.validate()?;
    if options.dry_run {
        let opts = options.clone();
        return tokio::task::spawn_blocking(move || dry_run(source, &opts, on_progress))
            .await
            .map_err(|e| Error::io(format!("validation thread failed: {e}")))?;
    }
    let started = Instant::now();
    // An explicit batch size writes fixed batches (format 1, as ever); the adaptive default
    // records each batch's boundaries (format 2).
    let header = Header {
        checkpoint: match options.batch_size {
            Some(_) => VERSION,
            None => VERSION_RECORDED,
        },
        migration_id: options.migration_id.clone(),
        api_id: options.api_id.clone(),
        batch_size: options.batch_size.unwrap_or(super::DEFAULT_BATCH_SIZE),
        variant: options.variant.as_str().to_string(),
        source: source.describe(),
    };
    let (mut checkpoint, resume) = match &options.checkpoint {
        Some(path) => {
            let (c, r) = Checkpoint::open(path, &header, options.resume)?;
            (Some(c), r)
        }
        None => (None, ResumeState::default()),
    };
    // Fixed batches found in the checkpoint are resumed with their size; recorded ones are
    // replayed whatever the size of the new batches.
    let (recorded, batch_size) = match &resume.found {
        Some(found) if found.checkpoint == VERSION => (false, Some(found.batch_size)),
        Some(_) => (true, options.batch_size),
        None => (header.checkpoint == VERSION_RECORDED, options.batch_size),
    };
    // On resume the report is cut back to what the checkpoint records as finished: rows of
    // batches it does not record as done (a crash between the report flush and the
    // checkpoint sync, or a batch that failed) are dropped and written again when the batch
    // is sent again, and invalid records are reported again as the input is read again. So
    // the final report lists each key exactly once.
    let mut report_w = match &options.report {
        Some(p) if options.resume => Some(ReportWriter::open_resumed(p, |batch| {
            resume.done.contains_key(&batch)
        })?),
        Some(p) => Some(ReportWriter::open(p, false)?),
        None => None,
    };
    let ResumeState {
        done,
        sent: unfinished,
        last_batch,
        ..
    } = resume;
    let policy = batch_policy(&options, backend.as_ref());
    let limits = Limits::new(batch_size.unwrap_or(super::DEFAULT_BATCH_SIZE));
    // Fixed batches are numbered from 0 (their number is their position); recorded ones
    // continue after the highest number used.
    let next_no = Arc::new(AtomicU64::new(match (recorded, last_batch) {
        (true, Some(n)) => n + 1,
        _ => 0,
    }));
    let mut adapt = Adapt::new(limits.clone(), batch_size, options.concurrency);
    // Only recorded batches may be split (fixed ones must keep their boundaries).
    let may_split = adapt.splits() && recorded;
    let plan = if recorded {
        let mut entries: Vec<Entry> = done.values().cloned().collect();
        entries.extend(unfinished.values().cloned());
        Plan::Recorded { entries }
    } else {
        Plan::Fixed { done: done.clone() }
    };

    let counters = Arc::new(Counters::default());
    // A short queue when the size adapts, so that a new size reaches the wire soon.
    let depth = match options.concurrency {
        Some(n) => n * 2 + 8,
        None => super::MAX_ADAPTIVE_CONCURRENCY + 2,
    };
    let depth = if batch_size.is_none() {
        depth.min(6)
    } else {
        depth
    };
    let (tx, mut rx) = mpsc::channel::<Event>(depth);
    let producer = {
        let counters = counters.clone();
        let ids = (options.migration_id.clone(), options.api_id.clone());
        let (variant, limits, next_no) = (options.variant, limits.clone(), next_no.clone());
        tokio::task::spawn_blocking(move || {
            produce(source, variant, ids, limits, next_no, plan, counters, tx)
        })
    };

    let mut t = Tally {
        report: MigrationReport::default(),
        max_errors: options.max_errors,
        batches_done: 0,
    };
    let mut in_flight: JoinSet<Sent> = JoinSet::new();
    let launcher = Launcher {
        backend,
        policy,
        may_split,
    };
    // Halves of batches refused as too large, to send before anything new.
    let mut again: VecDeque<Ready> = VecDeque::new();
    let mut input_done = false;
    // The first error that stops the run. Whatever it is, the loop goes on until every batch
    // in flight has answered and been accounted for, and the checkpoint and report are made
    // durable below: no early return leaves them behind.
    let mut abort: Option<Error> = None;
    let mut last_progress = Instant::now();

    loop {
        if abort.is_some() {
            again.clear();
        }
        if input_done && in_flight.is_empty() && again.is_empty() {
            break;
        }
        if abort.is_none() && options.cancelled() {
            // Like an abort: no new batch; those in flight are accounted for below.
            abort = Some(CancelToken::error());
            rx.close();
            continue;
        }
        while abort.is_none() && in_flight.len() < adapt.concurrency() {
            let Some(ready) = again.pop_front() else {
                break;
            };
            t.report.batches += 1;
            if let Err(e) = launcher.launch(ready, None, &mut checkpoint, &mut in_flight) {
                abort.get_or_insert(e);
                rx.close();
            }
        }
        let room = in_flight.len() < adapt.concurrency() && again.is_empty();
        tokio::select! {
            biased;
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                let step = match joined {
                    Ok(mut s) => {
                        adapt.observe(&s.outcome);
                        match s.refused.take() {
                            Some(request) if abort.is_none() => {
                                split_batch(s, request, &next_no, &mut checkpoint)
                                    .map(|halves| again.extend(halves))
                            }
                            _ => finish_batch(s, &mut t, &mut report_w, &mut checkpoint),
                        }
                    }
                    Err(e) => Err(Error::io(format!("batch task failed: {e}"))),
                };
                if let Err(e) = step {
                    abort.get_or_insert(e);
                    rx.close();
                }
            }
            ev = rx.recv(), if !input_done && room => {
                match ev {
                    None => input_done = true,
                    // After an abort, drain what the producer had queued without acting on it.
                    Some(_) if abort.is_some() => {}
                    Some(Event::Invalid(e)) => {
                        t.report.invalid += 1;
                        if let Some(w) = &mut report_w {
                            if let Err(err) = w.error(&e) {
                                abort.get_or_insert(err);
                                rx.close();
                            }
                        }
                        t.error(e);
                    }
                    Some(Event::Skip(count)) => {
                        t.report.skipped_resumed += count;
                        t.report.valid += count;
                    }
                    Some(Event::Send(ready)) => {
                        t.report.valid += ready.hashes.len() as u64;
                        t.report.batches += 1;
                        let previous = unfinished.get(&ready.no);
                        if let Err(e) =
                            launcher.launch(ready, previous, &mut checkpoint, &mut in_flight)
                        {
                            abort.get_or_insert(e);
                            rx.close();
                        }
                    }
                }
            }
            // Only reached with nothing in flight and no room for input: an abort with
            // halves waiting (cleared above), so go round.
            else => {}
        }
        if let Some(cb) = &on_progress {
            if last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = Instant::now();
                cb(&progress_of(&t, &counters, started, in_flight.len(), false));
            }
        }
    }

    let produced = producer
        .await
        .map_err(|e| Error::io(format!("reader thread failed: {e}")))
        .and_then(|r| r);
    if let Err(e) = produced {
        abort.get_or_insert(e);
    }
    t.report.total = counters.records.load(Ordering::Relaxed);
    t.report.elapsed = started.elapsed();
    // Always: make the checkpoint durable and the report complete, also on an error.
    let mut closing: Option<Error> = None;
    if let Some(c) = &mut checkpoint {
        if let Err(e) = c.sync() {
            closing.get_or_insert(e);
        }
    }
    if let Some(w) = &mut report_w {
        let aborted = abort.as_ref().map(|e| e.to_string());
        if let Err(e) = w
            .summary_with(&t.report, aborted.as_deref())
            .and_then(|_| w.sync())
        {
            closing.get_or_insert(e);
        }
    }
    if let Some(e) = abort.or(closing) {
        return Err(e);
    }
    if let Some(cb) = &on_progress {
        cb(&progress_of(&t, &counters, started, 0, true));
    }
    Ok(t.report)
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
struct Launcher {
    backend: Arc<dyn MigrationBackend>,
    policy: RetryPolicy,
    may_split: bool,
}

impl Launcher {
    fn launch(
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
fn split_batch(
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
fn finish_batch(
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
