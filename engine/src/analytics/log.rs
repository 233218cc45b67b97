//! The verification log's writing side: the in-memory buffer the verification path pushes to,
//! the writer thread that writes it to the log file in batches, and the [`Engine`] calls that
//! flush, configure and count it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use keyshift_core::wire::{VerifyCode, VerifyKeyRequest, VerifyKeyResponseData};
use keyshift_core::{Error, Result};
use parking_lot::{Condvar, Mutex};
use rusqlite::{params, Connection, OptionalExtension};

use super::query::QueryConn;
use super::{retention, AnalyticsConfig, FLUSH_AT};
use crate::util::{now_ms, Db};
use crate::{Engine, Inner};

/// Most identical verifications one log row stands for (see [`VerificationLog::push`]).
pub(super) const MAX_RUN: i64 = 1000;

/// One verification, as pushed by the verification path.
struct Event {
    time: i64,
    workspace_id: String,
    key_id: String,
    identity_id: Option<String>,
    external_id: Option<String>,
    outcome: &'static str,
    spent_credits: i64,
    tags: Option<Vec<String>>,
    /// Identical verifications this event stands for (see [`VerificationLog::push`]).
    n: i64,
}

/// A verification as the verification path sees it (borrowed: nothing is copied when it only
/// extends the buffer's last event).
struct Seen<'a> {
    time: i64,
    workspace_id: &'a str,
    key_id: &'a str,
    identity_id: Option<&'a str>,
    external_id: Option<&'a str>,
    outcome: &'static str,
    spent_credits: i64,
    tags: Option<&'a [String]>,
}

impl Event {
    fn is(&self, s: &Seen<'_>) -> bool {
        self.time == s.time
            && self.key_id == s.key_id
            && self.outcome == s.outcome
            && self.spent_credits == s.spent_credits
            && self.workspace_id == s.workspace_id
            && self.identity_id.as_deref() == s.identity_id
            && self.external_id.as_deref() == s.external_id
            && self.tags.as_deref() == s.tags
    }

    fn of(s: &Seen<'_>) -> Event {
        Event {
            time: s.time,
            workspace_id: s.workspace_id.to_string(),
            key_id: s.key_id.to_string(),
            identity_id: s.identity_id.map(str::to_string),
            external_id: s.external_id.map(str::to_string),
            outcome: s.outcome,
            spent_credits: s.spent_credits,
            tags: s.tags.map(<[String]>::to_vec),
            n: 1,
        }
    }
}

/// What a verification request says that the log keeps (taken before the request is moved).
pub(crate) struct Pending {
    cost: i64,
    tags: Option<Vec<String>>,
}

impl Pending {
    pub(crate) fn of(req: &VerifyKeyRequest) -> Pending {
        Pending {
            cost: req.credits.as_ref().map_or(1, |c| c.cost),
            tags: req.tags.clone(),
        }
    }
}

/// The log's buffer, its writer connection and the query connection.
pub(crate) struct VerificationLog {
    buffer: Mutex<Vec<Event>>,
    /// The buffer written last, emptied and handed back (keeps its capacity, so pushes never
    /// reallocate a large buffer on the verification path).
    spare: Mutex<Vec<Event>>,
    wake: Condvar,
    dropped: AtomicU64,
    /// `config.buffer_capacity`, read without a lock by [`VerificationLog::push`].
    capacity: AtomicUsize,
    pub(super) config: Mutex<AnalyticsConfig>,
    /// Writes (and, for `:memory:`, queries) the log.
    pub(super) conn: Mutex<Connection>,
    /// `<path>.analytics` for file databases (the query connection opens it read-only).
    pub(super) path: Option<String>,
    pub(super) query: Mutex<Option<QueryConn>>,
    /// Key id → api id, filled by the writer.
    apis: Mutex<HashMap<String, String>>,
    last_retention: Mutex<Instant>,
    /// Set when the engine is dropped.
    closed: AtomicBool,
}

const LOG_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS key_verifications (
        id             INTEGER PRIMARY KEY,
        time           INTEGER NOT NULL,
        workspace_id   TEXT NOT NULL,
        api_id         TEXT NOT NULL,
        key_id         TEXT NOT NULL,
        identity_id    TEXT,
        external_id    TEXT,
        outcome        TEXT NOT NULL,
        spent_credits  INTEGER NOT NULL DEFAULT 0,
        tags           TEXT NOT NULL DEFAULT '[]',
        n              INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX IF NOT EXISTS key_verifications_workspace_time
        ON key_verifications(workspace_id, time);
";

impl VerificationLog {
    /// Opens the log of the database at `path` (`Some` for a file database).
    pub(crate) fn open(path: Option<&str>) -> Result<VerificationLog> {
        let path = path.map(|p| format!("{p}.analytics"));
        let conn = match &path {
            Some(p) => Connection::open(p),
            None => Connection::open_in_memory(),
        }
        .map_err(|e| Error::io(format!("cannot open the verification log: {e}")))?;
        conn.busy_timeout(crate::schema::BUSY_TIMEOUT).db()?;
        if path.is_some() {
            conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
                .db()?;
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL;").db()?;
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {LOG_SCHEMA} COMMIT;"))
            .db()?;
        Ok(VerificationLog {
            buffer: Mutex::new(Vec::with_capacity(FLUSH_AT)),
            spare: Mutex::new(Vec::with_capacity(FLUSH_AT)),
            wake: Condvar::new(),
            dropped: AtomicU64::new(0),
            capacity: AtomicUsize::new(AnalyticsConfig::default().buffer_capacity),
            config: Mutex::new(AnalyticsConfig::default()),
            conn: Mutex::new(conn),
            path,
            query: Mutex::new(None),
            apis: Mutex::new(HashMap::new()),
            last_retention: Mutex::new(Instant::now()),
            closed: AtomicBool::new(false),
        })
    }

    /// Buffers `seen`: a verification identical to the last one buffered (same millisecond,
    /// key, outcome, credits, tags…) only counts one more on it (at most [`MAX_RUN`]), so a hot
    /// key allocates nothing and costs one log row per millisecond; the raw view repeats it.
    fn push(&self, seen: &Seen<'_>) {
        let mut buffer = self.buffer.lock();
        if let Some(last) = buffer.last_mut() {
            if last.n < MAX_RUN && last.is(seen) {
                last.n += 1;
                return;
            }
        }
        if buffer.len() >= self.capacity.load(Ordering::Relaxed) {
            drop(buffer);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        buffer.push(Event::of(seen));
        if buffer.len() == FLUSH_AT {
            self.wake.notify_one();
        }
    }

    /// Writes the buffered events (one transaction), then applies retention when due (or
    /// `force_retention`).
    pub(crate) fn flush(&self, inner: &Inner, force_retention: bool) -> Result<()> {
        let mut events = std::mem::take(&mut *self.spare.lock());
        std::mem::swap(&mut events, &mut *self.buffer.lock());
        let result = self.write(inner, &events, force_retention);
        // The events' strings are freed here, off the verification path.
        events.clear();
        if events.capacity() <= 4 * FLUSH_AT {
            *self.spare.lock() = events;
        }
        result
    }

    fn write(&self, inner: &Inner, events: &[Event], force_retention: bool) -> Result<()> {
        let config = self.config.lock().clone();
        let due =
            force_retention || self.last_retention.lock().elapsed() >= Duration::from_secs(60);
        if events.is_empty() && !due {
            return Ok(());
        }
        let apis = self.resolve_apis(inner, events)?;
        let mut conn = self.conn.lock();
        let tx = conn.transaction().db()?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO key_verifications (time, workspace_id, api_id, key_id, \
                     identity_id, external_id, outcome, spent_credits, tags, n) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .db()?;
            for e in events {
                let tags = match &e.tags {
                    Some(t) => serde_json::to_string(t).unwrap_or_else(|_| "[]".into()),
                    None => "[]".into(),
                };
                insert
                    .execute(params![
                        e.time,
                        e.workspace_id,
                        apis.get(&e.key_id).map(String::as_str).unwrap_or(""),
                        e.key_id,
                        e.identity_id,
                        e.external_id,
                        e.outcome,
                        e.spent_credits,
                        tags,
                        e.n
                    ])
                    .db()?;
            }
        }
        if due {
            retention::enforce(&tx, &config)?;
            *self.last_retention.lock() = Instant::now();
        }
        tx.commit().db()
    }

    /// The api of every key of `events`, from the key store (remembered: a key never moves).
    fn resolve_apis(&self, inner: &Inner, events: &[Event]) -> Result<HashMap<String, String>> {
        let mut known = self.apis.lock();
        let missing: Vec<&str> = events
            .iter()
            .map(|e| e.key_id.as_str())
            .filter(|k| !known.contains_key(*k))
            .collect();
        if !missing.is_empty() {
            if known.len() > 100_000 {
                known.clear();
            }
            let conn = inner.reader()?;
            let mut stmt = conn
                .prepare_cached("SELECT api_id FROM keys WHERE id = ?1")
                .db()?;
            for key in missing {
                if known.contains_key(key) {
                    continue;
                }
                let api: Option<String> = stmt.query_row([key], |r| r.get(0)).optional().db()?;
                known.insert(key.to_string(), api.unwrap_or_default());
            }
        }
        let mut out = HashMap::new();
        for e in events {
            if !out.contains_key(&e.key_id) {
                if let Some(api) = known.get(&e.key_id) {
                    out.insert(e.key_id.clone(), api.clone());
                }
            }
        }
        Ok(out)
    }
}

/// The writer thread of `inner`'s log: flushes every interval or when woken, until the engine
/// is gone. It holds the engine only while it writes, so the engine's last clone (whose drop
/// writes what is left and wakes the thread) closes the database at once.
pub(crate) fn spawn_writer(log: Arc<VerificationLog>, inner: Weak<Inner>) {
    let spawned = std::thread::Builder::new()
        .name("keyshift-analytics".into())
        .spawn(move || loop {
            {
                let interval = log.config.lock().flush_interval;
                let mut buffer = log.buffer.lock();
                if buffer.len() < FLUSH_AT && !log.closed.load(Ordering::Relaxed) {
                    log.wake.wait_for(&mut buffer, interval);
                }
            }
            let Some(inner) = inner.upgrade() else {
                return;
            };
            // Errors (a full disk…) drop the batch; the next one tries again.
            let _ = log.flush(&inner, false);
        });
    drop(spawned);
}

impl VerificationLog {
    /// The engine is gone: stop the writer thread.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        let _guard = self.buffer.lock();
        self.wake.notify_all();
    }
}

impl Engine {
    /// Logs the outcome of a verification in `ws` (see the module doc). Never waits for I/O.
    pub(crate) fn log_verification(
        &self,
        ws: &str,
        pending: &Pending,
        data: &VerifyKeyResponseData,
    ) {
        log_verification(&self.inner, ws, pending, data)
    }

    /// Writes the verifications still buffered to the log now.
    pub fn flush_verification_log(&self) -> Result<()> {
        self.inner.analytics.flush(&self.inner, false)
    }

    /// Applies retention to the log now (the writer thread does it once a minute).
    pub fn enforce_analytics_retention(&self) -> Result<()> {
        self.inner.analytics.flush(&self.inner, true)
    }

    /// Sets how the verification log is kept (retention, buffer, flush interval).
    pub fn configure_analytics(&self, config: AnalyticsConfig) {
        let log = &self.inner.analytics;
        log.capacity
            .store(config.buffer_capacity, Ordering::Relaxed);
        *log.config.lock() = config;
    }

    /// Verifications not logged because the buffer was full, since the engine was opened.
    pub fn analytics_dropped(&self) -> u64 {
        self.inner.analytics.dropped.load(Ordering::Relaxed)
    }
}

fn log_verification(inner: &Inner, ws: &str, pending: &Pending, data: &VerifyKeyResponseData) {
    let Some(key_id) = &data.key_id else {
        return;
    };
    let spent_credits = if data.code == VerifyCode::Valid && data.credits.is_some() {
        pending.cost
    } else {
        0
    };
    let identity = data.identity.as_ref();
    inner.analytics.push(&Seen {
        time: now_ms(),
        workspace_id: ws,
        key_id,
        identity_id: identity.map(|i| i.id.as_str()),
        external_id: identity.map(|i| i.external_id.as_str()),
        outcome: data.code.as_str(),
        spent_credits,
        tags: pending.tags.as_deref(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(time: i64, key: &str) -> Seen<'_> {
        Seen {
            time,
            workspace_id: "ws",
            key_id: key,
            identity_id: None,
            external_id: None,
            outcome: "VALID",
            spent_credits: 0,
            tags: None,
        }
    }

    #[test]
    fn identical_consecutive_verifications_share_one_event() {
        let log = VerificationLog::open(None).unwrap();
        for _ in 0..2500 {
            log.push(&seen(5, "k"));
        }
        log.push(&seen(5, "other"));
        log.push(&seen(6, "k"));
        log.push(&seen(6, "k"));
        let tagged = ["t".to_string()];
        log.push(&Seen {
            tags: Some(&tagged),
            ..seen(6, "k")
        });
        let buffer = log.buffer.lock();
        let got: Vec<(i64, &str, i64)> = buffer
            .iter()
            .map(|e| (e.time, e.key_id.as_str(), e.n))
            .collect();
        assert_eq!(
            got,
            [
                (5, "k", 1000),
                (5, "k", 1000),
                (5, "k", 500),
                (5, "other", 1),
                (6, "k", 2),
                (6, "k", 1)
            ]
        );
    }
}
