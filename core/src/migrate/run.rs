//! The migration run: producer thread (read, validate, hash, batch, encode: [`super::produce`])
//! → bounded channel → up to `concurrency` requests in flight ([`super::batch`]) → report and
//! checkpoint. Batch size and in-flight count follow the answers unless the options fix them
//! ([`super::adapt`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::adapt::Adapt;
use super::batch::{batch_policy, finish_batch, split_batch, Launcher, MigrationBackend, Sent};
use super::checkpoint::{Checkpoint, Entry, Header, ResumeState, VERSION, VERSION_RECORDED};
use super::prepare::Limits;
use super::produce::{
    dry_run, produce, progress_of, Counters, Event, Plan, Ready, Tally, PROGRESS_EVERY,
};
use super::reader::MigrationSource;
use super::report::{MigrationReport, ReportWriter};
use super::{CancelToken, MigrateOptions, ProgressFn};
use crate::{BoxFuture, Error, Result};

/// Runs a migration with any backend (the client implements [`MigrationBackend`]).
pub fn migrate_keys_with(
    backend: Arc<dyn MigrationBackend>,
    source: impl Into<MigrationSource>,
    options: MigrateOptions,
    on_progress: Option<ProgressFn>,
) -> BoxFuture<'static, Result<MigrationReport>> {
    run(backend, source.into(), options, on_progress)
}

/// The run itself, boxed here so that it is compiled once, in this crate.
fn run(
    backend: Arc<dyn MigrationBackend>,
    source: MigrationSource,
    options: MigrateOptions,
    on_progress: Option<ProgressFn>,
) -> BoxFuture<'static, Result<MigrationReport>> {
    Box::pin(run_to_end(backend, source, options, on_progress))
}

async fn run_to_end(
    backend: Arc<dyn MigrationBackend>,
    source: MigrationSource,
    options: MigrateOptions,
    on_progress: Option<ProgressFn>,
) -> Result<MigrationReport> {
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
        let spill_dir = options.spill_dir();
        tokio::task::spawn_blocking(move || {
            produce(
                source, variant, spill_dir, ids, limits, next_no, plan, counters, tx,
            )
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
