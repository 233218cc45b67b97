//! `migrateKeys` (core `migrate` module): a file path or a JS (async) iterable streamed into
//! core's migration engine. The JS side hands over a `nextBatch()` puller (index.js); core's
//! reader thread pulls one batch at a time through it, so nothing is materialised. A throw or
//! rejection in the iterable or in `onProgress` stops the run and rejects with that very error.

use std::collections::VecDeque;
use std::sync::Arc;

use keyshift_core::migrate::{
    CancelToken as CoreCancel, HashVariant, MigrateOptions, MigrationSource, Progress, ProgressFn,
};
use keyshift_core::{runtime, Error};
use napi::bindgen_prelude::{Promise, PromiseRaw};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::{Env, Status};
use napi_derive::napi;
use serde::Deserialize;
use serde_json::Value;

use crate::client::Client;
use crate::error::{from_json, js_error, on_core, Raised};

/// `() => Promise<string | null>`: the next batch of records as JSON array text, `null` at the
/// end.
pub type NextBatch = ThreadsafeFunction<(), Promise<Option<String>>, (), Status, false>;
/// `(progress) => Promise<void>`.
pub type OnProgress = ThreadsafeFunction<Value, Promise<()>, Value, Status, false>;

/// Stops a running migration (an `AbortSignal` is wired to it by index.js).
#[napi]
pub struct CancelToken {
    inner: CoreCancel,
}

#[napi]
impl CancelToken {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        CancelToken {
            inner: CoreCancel::new(),
        }
    }
    #[napi]
    pub fn cancel(&self) {
        self.inner.cancel()
    }
    #[napi(getter)]
    pub fn cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MigrateOptionsJs {
    api_id: String,
    migration_id: String,
    variant: Option<HashVariant>,
    batch_size: Option<usize>,
    concurrency: Option<usize>,
    checkpoint: Option<String>,
    report: Option<String>,
    dry_run: Option<bool>,
    resume: Option<bool>,
    max_errors: Option<usize>,
}

impl MigrateOptionsJs {
    fn into_core(self, cancel: CoreCancel) -> MigrateOptions {
        let mut o = MigrateOptions::new(self.api_id, self.migration_id).cancel(cancel);
        if let Some(v) = self.variant {
            o = o.variant(v);
        }
        if let Some(n) = self.batch_size {
            o = o.batch_size(n);
        }
        if let Some(n) = self.concurrency {
            o = o.concurrency(n);
        }
        if let Some(p) = self.checkpoint {
            o = o.checkpoint(p);
        }
        if let Some(p) = self.report {
            o = o.report(p);
        }
        if let Some(n) = self.max_errors {
            o = o.max_errors(n);
        }
        o.dry_run(self.dry_run.unwrap_or(false))
            .resume(self.resume.unwrap_or(false))
    }
}

/// The records of a JS iterable, pulled a batch at a time on core's reader thread.
struct JsRecords {
    next: NextBatch,
    buf: VecDeque<Value>,
    done: bool,
    raised: Raised,
}

impl Iterator for JsRecords {
    type Item = keyshift_core::Result<Value>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.buf.is_empty() && !self.done {
            let next = &self.next;
            let step = runtime::block_on(async move {
                match next.call_async_catch(()).await {
                    Ok(p) => p.await,
                    Err(e) => Err(e),
                }
            });
            match step {
                Ok(Some(text)) => match serde_json::from_str::<Vec<Value>>(&text) {
                    Ok(batch) => self.buf.extend(batch),
                    Err(e) => {
                        self.done = true;
                        return Some(Err(Error::invalid_input("source", e.to_string())));
                    }
                },
                Ok(None) => self.done = true,
                Err(e) => {
                    self.done = true;
                    self.raised.keep(e);
                    return Some(Err(Error::io("the record source threw")));
                }
            }
        }
        self.buf.pop_front().map(Ok)
    }
}

fn progress_value(p: &Progress) -> Value {
    serde_json::json!({
        "recordsRead": p.records_read,
        "bytesRead": p.bytes_read,
        "bytesTotal": p.bytes_total,
        "migrated": p.migrated,
        "alreadyPresent": p.already_present,
        "failed": p.failed,
        "invalid": p.invalid,
        "skippedResumed": p.skipped_resumed,
        "batchesDone": p.batches_done,
        "inFlight": p.in_flight,
        "elapsedMs": p.elapsed.as_millis() as u64,
        "finished": p.finished,
        "fraction": p.fraction(),
    })
}

/// Core's progress callback for a JS one: snapshots are queued (the run never waits for JS)
/// and delivered in order by one task; a throw or rejection cancels the run.
fn progress_forwarder(
    on_progress: OnProgress,
    raised: Raised,
    cancel: CoreCancel,
) -> (ProgressFn, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let task = runtime::spawn(async move {
        while let Some(p) = rx.recv().await {
            let r = match on_progress.call_async_catch(p).await {
                Ok(promise) => promise.await,
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                raised.keep(e);
                cancel.cancel();
            }
        }
    });
    let f: ProgressFn = Arc::new(move |p: &Progress| {
        let _ = tx.send(progress_value(p));
    });
    (f, task)
}

impl Client {
    fn migrate<'e>(
        &self,
        env: &'e Env,
        source: impl FnOnce(Raised) -> MigrationSource,
        options: String,
        on_progress: Option<OnProgress>,
        cancel: Option<&CancelToken>,
    ) -> napi::Result<PromiseRaw<'e, Value>> {
        let raised = Raised::default();
        let cancel = cancel.map(|c| c.inner.clone()).unwrap_or_default();
        let options = from_json::<MigrateOptionsJs>("options", Some(options))
            .map(|o| o.into_core(cancel.clone()));
        let source = source(raised.clone());
        let client = self.inner.clone();
        let progress = on_progress.map(|f| progress_forwarder(f, raised.clone(), cancel));
        let fut = async move {
            let options = options?;
            let (f, task) = match progress {
                Some((f, task)) => (Some(f), Some(task)),
                None => (None, None),
            };
            let out = client.migrate_keys(source, options, f).await;
            if let Some(task) = task {
                let _ = task.await; // every snapshot delivered before the Promise settles
            }
            out
        };
        on_core(env, fut, move |env, out| {
            if let Some(e) = raised.take() {
                return Err(e);
            }
            let report = out.map_err(|e| js_error(env, &e))?;
            serde_json::to_value(report).map_err(|e| js_error(env, &Error::io(e.to_string())))
        })
    }
}

#[napi]
impl Client {
    /// Migrates a JSONL or CSV file. `options`: JSON of MigrateOptions.
    #[napi(
        ts_args_type = "path: string, options: string, onProgress?: ((progress: unknown) => Promise<void>) | undefined | null, cancel?: CancelToken | undefined | null",
        ts_return_type = "Promise<unknown>"
    )]
    pub fn migrate_file<'e>(
        &self,
        env: &'e Env,
        path: String,
        options: String,
        on_progress: Option<OnProgress>,
        cancel: Option<&CancelToken>,
    ) -> napi::Result<PromiseRaw<'e, Value>> {
        self.migrate(
            env,
            move |_| MigrationSource::file(path),
            options,
            on_progress,
            cancel,
        )
    }

    /// Migrates the records `nextBatch` hands out (JSON array text per call, `null` at the end).
    #[napi(
        ts_args_type = "nextBatch: () => Promise<string | null>, options: string, onProgress?: ((progress: unknown) => Promise<void>) | undefined | null, cancel?: CancelToken | undefined | null",
        ts_return_type = "Promise<unknown>"
    )]
    pub fn migrate_records<'e>(
        &self,
        env: &'e Env,
        next_batch: NextBatch,
        options: String,
        on_progress: Option<OnProgress>,
        cancel: Option<&CancelToken>,
    ) -> napi::Result<PromiseRaw<'e, Value>> {
        let source = move |raised| {
            MigrationSource::try_json(JsRecords {
                next: next_batch,
                buf: VecDeque::new(),
                done: false,
                raised,
            })
        };
        self.migrate(env, source, options, on_progress, cancel)
    }
}
