//! `keyshift_core::migrate` and the rollout helper: `migrate_keys` from a path or any iterable
//! of dicts (pulled lazily by core's reader thread through `MigrationSource::try_json`), the
//! progress callback, `verify_with_fallback`'s legacy check. A host exception raised in any of
//! them is kept and re-raised unchanged once core returns.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use keyshift_core::migrate::{self as core_migrate, CancelToken, MigrateOptions, MigrationSource};
use keyshift_core::{Error, SecretKey};
use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;

use crate::convert::record;
use crate::error::{CoreResult, Raised};

record! {
    /// A problem with one record (`line` is 1-based; for iterables, the position).
    RecordError { line: u64, hash: Option<String>, code: String, field: Option<String>, message: String }
}

impl From<core_migrate::RecordError> for RecordError {
    fn from(e: core_migrate::RecordError) -> Self {
        RecordError {
            line: e.line,
            hash: e.hash,
            code: e.code.as_str().to_string(),
            field: e.field,
            message: e.message,
        }
    }
}

record! {
    /// The outcome of a migration or dry run.
    MigrationReport {
        total: u64,
        valid: u64,
        migrated: u64,
        already_present: u64,
        failed: u64,
        invalid: u64,
        skipped_resumed: u64,
        batches: u64,
        elapsed: f64,
        dry_run: bool,
        errors: Vec<RecordError>,
        errors_truncated: bool,
        keys_per_sec: f64,
        is_complete: bool,
    }
}

impl From<core_migrate::MigrationReport> for MigrationReport {
    fn from(r: core_migrate::MigrationReport) -> Self {
        MigrationReport {
            keys_per_sec: r.keys_per_sec(),
            is_complete: r.is_complete(),
            total: r.total,
            valid: r.valid,
            migrated: r.migrated,
            already_present: r.already_present,
            failed: r.failed,
            invalid: r.invalid,
            skipped_resumed: r.skipped_resumed,
            batches: r.batches,
            elapsed: r.elapsed.as_secs_f64(),
            dry_run: r.dry_run,
            errors: r.errors.into_iter().map(Into::into).collect(),
            errors_truncated: r.errors_truncated,
        }
    }
}

record! {
    /// A snapshot handed to `on_progress` (`elapsed` in seconds).
    Progress {
        records_read: u64,
        bytes_read: u64,
        bytes_total: Option<u64>,
        migrated: u64,
        already_present: u64,
        failed: u64,
        invalid: u64,
        skipped_resumed: u64,
        batches_done: u64,
        in_flight: usize,
        elapsed: f64,
        finished: bool,
        handled: u64,
        fraction: Option<f64>,
    }
}

impl From<&core_migrate::Progress> for Progress {
    fn from(p: &core_migrate::Progress) -> Self {
        Progress {
            records_read: p.records_read,
            bytes_read: p.bytes_read,
            bytes_total: p.bytes_total,
            migrated: p.migrated,
            already_present: p.already_present,
            failed: p.failed,
            invalid: p.invalid,
            skipped_resumed: p.skipped_resumed,
            batches_done: p.batches_done,
            in_flight: p.in_flight,
            elapsed: p.elapsed.as_secs_f64(),
            finished: p.finished,
            handled: p.handled(),
            fraction: p.fraction(),
        }
    }
}

/// Records pulled from a Python iterator, 256 per GIL acquisition, on core's reader thread.
/// A raised exception is kept and ends the source with an error (never a silent end of input).
struct PyRecords {
    it: Py<PyAny>,
    /// For an async iterable (`AsyncClient`): the loop that runs its `__anext__`.
    event_loop: Option<Py<PyAny>>,
    buf: VecDeque<CoreResult<serde_json::Value>>,
    done: bool,
    raised: Raised,
}

impl Iterator for PyRecords {
    type Item = CoreResult<serde_json::Value>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() && !self.done {
            Python::attach(|py| {
                let it = self.it.bind(py);
                for _ in 0..256 {
                    let next = match &self.event_loop {
                        None => it.call_method0("__next__"),
                        // This reader thread waits (GIL released) while the loop runs __anext__.
                        Some(event_loop) => ANEXT
                            .import(py, "keyshift._aio", "anext")
                            .and_then(|anext| anext.call1((it,)))
                            .and_then(|coro| {
                                RUN_THREADSAFE
                                    .import(py, "asyncio", "run_coroutine_threadsafe")?
                                    .call1((coro, event_loop.bind(py)))
                            })
                            .and_then(|future| future.call_method0("result")),
                    };
                    let item = match next {
                        Ok(o) => o,
                        Err(e)
                            if e.is_instance_of::<PyStopIteration>(py)
                                || e.is_instance_of::<PyStopAsyncIteration>(py) =>
                        {
                            self.done = true;
                            break;
                        }
                        Err(e) => {
                            self.done = true;
                            self.raised.keep(e);
                            self.buf.push_back(Err(
                                Error::io("the record iterator raised").with_field("source")
                            ));
                            break;
                        }
                    };
                    match pythonize::depythonize::<serde_json::Value>(&item) {
                        Ok(v) => self.buf.push_back(Ok(v)),
                        // Not JSON-shaped (e.g. a set): the record is reported invalid by core.
                        Err(e) => self.buf.push_back(Ok(serde_json::Value::String(format!(
                            "unconvertible record: {e}"
                        )))),
                    }
                }
            });
        }
        self.buf.pop_front()
    }
}

static ANEXT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static RUN_THREADSAFE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static WAIT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// One prepared `migrate_keys` call.
pub struct Run {
    source: MigrationSource,
    options: MigrateOptions,
    progress: Option<core_migrate::ProgressFn>,
    pub raised: Raised,
}

impl Run {
    /// `options` as given; the run adds its cancel token (set when a callback raises).
    pub fn new(
        source: &Bound<'_, PyAny>,
        options: MigrateOptions,
        on_progress: Option<Py<PyAny>>,
        event_loop: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Run> {
        let raised = Raised::default();
        let source = source_of(source, &raised, event_loop)?;
        let cancel = CancelToken::new();
        let options = options.cancel(cancel.clone());
        let progress = on_progress.map(|f| progress_fn(f, raised.clone(), cancel));
        Ok(Run {
            source,
            options,
            progress,
            raised,
        })
    }

    pub async fn start(
        self,
        client: keyshift_core::Client,
    ) -> CoreResult<core_migrate::MigrationReport> {
        client
            .migrate_keys(self.source, self.options, self.progress)
            .await
    }
}

/// A path (`str` / `os.PathLike`) is a JSONL or CSV file; anything else is iterated (with an
/// event loop, async iterables too).
fn source_of(
    source: &Bound<'_, PyAny>,
    raised: &Raised,
    event_loop: Option<Bound<'_, PyAny>>,
) -> PyResult<MigrationSource> {
    if source.is_instance_of::<PyString>() || source.hasattr("__fspath__")? {
        let path: PathBuf = source.extract()?;
        return Ok(MigrationSource::file(path));
    }
    let (it, event_loop) = match event_loop {
        Some(l) if source.hasattr("__aiter__")? => {
            (source.call_method0("__aiter__")?.unbind(), Some(l.unbind()))
        }
        _ => (source.try_iter()?.unbind().into_any(), None),
    };
    Ok(MigrationSource::try_json(PyRecords {
        it,
        event_loop,
        buf: VecDeque::new(),
        done: false,
        raised: raised.clone(),
    }))
}

/// `on_progress(progress)`: returning `False` cancels the run (it then raises `IoError` with
/// `field == "cancel"`); raising cancels it and the exception propagates unchanged.
fn progress_fn(f: Py<PyAny>, raised: Raised, cancel: CancelToken) -> core_migrate::ProgressFn {
    Arc::new(move |p: &core_migrate::Progress| {
        let snapshot = Progress::from(p);
        Python::attach(|py| match f.call1(py, (snapshot,)) {
            Ok(r) => {
                if r.bind(py).is(&*pyo3::types::PyBool::new(py, false)) {
                    cancel.cancel();
                }
            }
            Err(e) => {
                raised.keep(e);
                cancel.cancel();
            }
        })
    })
}

/// Where `verify_with_fallback` migrates a key the legacy check accepts (its hash only).
#[pyclass(frozen, module = "keyshift")]
#[derive(Clone)]
pub struct Backfill {
    inner: keyshift_core::Backfill,
}

#[pymethods]
impl Backfill {
    #[new]
    #[pyo3(signature = (api_id, migration_id = "legacy-backfill".to_string(), *, permissions = None, roles = None, name = None))]
    fn new(
        api_id: String,
        migration_id: String,
        permissions: Option<Vec<String>>,
        roles: Option<Vec<String>>,
        name: Option<String>,
    ) -> Self {
        let template = keyshift_core::wire::MigrateKeyData {
            permissions,
            roles,
            name,
            ..Default::default()
        };
        Backfill {
            inner: keyshift_core::Backfill {
                api_id,
                migration_id,
                template,
            },
        }
    }

    #[getter]
    fn api_id(&self) -> &str {
        &self.inner.api_id
    }

    #[getter]
    fn migration_id(&self) -> &str {
        &self.inner.migration_id
    }

    fn __repr__(&self) -> String {
        format!(
            "Backfill(api_id={:?}, migration_id={:?})",
            self.inner.api_id, self.inner.migration_id
        )
    }
}

/// The caller's `legacy(key) -> bool`, run on a blocking thread (a slow check never holds a
/// runtime worker).
pub struct PyLegacy {
    f: Arc<Py<PyAny>>,
    /// `AsyncClient`: the loop on which an `async def` legacy check is awaited.
    event_loop: Option<Arc<Py<PyAny>>>,
    pub raised: Raised,
}

#[async_trait::async_trait]
impl keyshift_core::LegacyCheck for PyLegacy {
    async fn check(&self, key: &SecretKey) -> CoreResult<bool> {
        let (f, key) = (self.f.clone(), key.expose().to_owned());
        let event_loop = self.event_loop.clone();
        let r = tokio::task::spawn_blocking(move || {
            Python::attach(|py| {
                let mut answer = f.call1(py, (key,))?.into_bound(py);
                if answer.hasattr("__await__")? {
                    // An `async def` check: awaited on the caller's loop while this blocking
                    // thread waits (GIL released).
                    let Some(event_loop) = &event_loop else {
                        let _ = answer.call_method0("close"); // never awaited: no warning
                        return Err(pyo3::exceptions::PyTypeError::new_err(
                            "the legacy check returned an awaitable: use keyshift.AsyncClient \
                             for an async check",
                        ));
                    };
                    let coro = WAIT.import(py, "keyshift._aio", "wait")?.call1((answer,))?;
                    answer = RUN_THREADSAFE
                        .import(py, "asyncio", "run_coroutine_threadsafe")?
                        .call1((coro, event_loop.bind(py)))?
                        .call_method0("result")?;
                }
                answer.is_truthy()
            })
        })
        .await
        .map_err(|e| Error::io(e.to_string()))?;
        r.map_err(|err| {
            self.raised.keep(err);
            Error::io("the legacy check raised").with_field("legacy")
        })
    }
}

pub fn fallback(
    legacy: Py<PyAny>,
    backfill: Option<&Backfill>,
    verify: keyshift_core::VerifyOptions,
    event_loop: Option<Bound<'_, PyAny>>,
) -> (PyLegacy, keyshift_core::FallbackOptions) {
    let check = PyLegacy {
        f: Arc::new(legacy),
        event_loop: event_loop.map(|l| Arc::new(l.unbind())),
        raised: Raised::default(),
    };
    let options = keyshift_core::FallbackOptions {
        verify,
        backfill: backfill.map(|b| b.inner.clone()),
    };
    (check, options)
}
