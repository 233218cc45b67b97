//! Verification analytics (issue 16): a log of every verification's outcome, written off the
//! verification path, and two ways to read it — [`Engine::verification_buckets`] (the portal's
//! chart) and `analytics.getVerifications` (Unkey's read-only SQL over five public views).
//!
//! # The log
//! Every `keys.verifyKey` that found a key (server and `Client::local` alike; `NOT_FOUND` has no
//! key and is not logged, as in Unkey) pushes one event — time, workspace, key, identity,
//! external id, outcome, credits spent, tags — into an in-memory buffer
//! ([`AnalyticsConfig::buffer_capacity`]; when full, events are counted in
//! [`Engine::analytics_dropped`] instead of waiting). A background thread per engine writes
//! the buffer in one transaction per batch, every [`AnalyticsConfig::flush_interval`] or as
//! soon as [`FLUSH_AT`] events wait, resolving each key's api on the way. Retention
//! ([`AnalyticsConfig::retention`], default 30 days, and [`AnalyticsConfig::max_rows`],
//! default 10 million) is enforced by the same thread once a minute.
//!
//! The log lives in its own SQLite file beside the database, `<path>.analytics` (WAL; in memory
//! for `:memory:` databases), so its writes never take the key store's write lock nor
//! invalidate the verification cache (which watches the key store's commits).
//!
//! # Reading it
//! - [`Engine::verification_buckets`] — receiver `&Engine` (the handle the server's dispatch
//!   uses; `Engine` is a cheap `Clone`): `fn verification_buckets(&self, workspace_id: &str,
//!   api_id: &str, external_id: &str, key_id: Option<&str>, start_ms: i64, end_ms: i64) ->
//!   keyshift_core::Result<Vec<VerificationBucket>>`. It flushes the buffer first, so a caller
//!   sees the verifications it just made. [`Engine::flush_verification_log`] flushes alone.
//!   Both read the key store (a key's api), so never call them inside a write transaction
//!   (`Engine::write`): for `:memory:` databases the reader is the writer.
//! - `analytics.getVerifications {query}` ([`Engine::dispatch`]): the query runs on a separate
//!   connection opened `SQLITE_OPEN_READ_ONLY` (for `:memory:`, the log's own connection)
//!   behind SQLite's authorizer, which allows one `SELECT` (CTEs, subqueries, compound selects,
//!   window functions) reading only the five TEMP views below and calling only the functions
//!   of [`ALLOWED_FUNCTIONS`]; anything else fails to prepare and is a 400. The views read the
//!   log through a TEMP view with an unguessable per-connection name, filtered to the root
//!   key's workspace (and to the apis of `api.<id>.read_analytics` grants when the key has no
//!   `api.*.read_analytics`); the authorizer lets the log table be read only through that
//!   view, so neither a CTE nor a subquery reaches other workspaces' rows. A progress handler
//!   stops a query after [`QUERY_TIME_LIMIT`]; more than [`QUERY_MAX_ROWS`] rows or
//!   [`QUERY_MAX_BYTES`] of values is a 422. `server/ANALYTICS.md` lists the views, columns and
//!   functions, and the ClickHouse functions with no SQLite equivalent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use keyshift_core::wire::{
    GetVerificationsRequest, GetVerificationsResponseData, VerifyCode, VerifyKeyRequest,
    VerifyKeyResponseData,
};
use keyshift_core::{Error, ErrorCode, Result};
use parking_lot::{Condvar, Mutex};
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

pub use keyshift_core::wire::VerificationBucket;

use crate::util::{now_ms, Db};
use crate::{Engine, Inner, WorkspaceCtx};

/// Events waiting that wake the writer thread before its interval.
pub const FLUSH_AT: usize = 2048;
/// Longest a `getVerifications` query may run.
pub const QUERY_TIME_LIMIT: Duration = Duration::from_secs(5);
/// Most rows a `getVerifications` query may answer.
pub const QUERY_MAX_ROWS: usize = 10_000;
/// Most bytes of values (text, blobs, 8 per number) a `getVerifications` answer may hold.
pub const QUERY_MAX_BYTES: usize = 8 * 1024 * 1024;
/// Most buckets [`Engine::verification_buckets`] answers (the window is refused beyond).
pub const MAX_BUCKETS: i64 = 5_000;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// How the verification log is kept (see the module doc); set with
/// [`Engine::configure_analytics`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalyticsConfig {
    /// Rows older than this are deleted (default 30 days).
    pub retention: Duration,
    /// At most this many rows are kept, the oldest deleted first (default 10 million).
    pub max_rows: u64,
    /// Events held in memory at most before new ones are dropped (default 100 000).
    pub buffer_capacity: usize,
    /// How often the writer thread writes the buffer (default 500 ms).
    pub flush_interval: Duration,
    /// Longest an `analytics.getVerifications` query may run (default [`QUERY_TIME_LIMIT`]).
    pub query_time_limit: Duration,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            retention: Duration::from_secs(30 * 24 * 3600),
            max_rows: 10_000_000,
            buffer_capacity: 100_000,
            flush_interval: Duration::from_millis(500),
            query_time_limit: QUERY_TIME_LIMIT,
        }
    }
}

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
    config: Mutex<AnalyticsConfig>,
    /// Writes (and, for `:memory:`, queries) the log.
    conn: Mutex<Connection>,
    /// `<path>.analytics` for file databases (the query connection opens it read-only).
    path: Option<String>,
    query: Mutex<Option<QueryConn>>,
    /// Key id → api id, filled by the writer.
    apis: Mutex<HashMap<String, String>>,
    last_retention: Mutex<Instant>,
    /// Set when the engine is dropped.
    closed: std::sync::atomic::AtomicBool,
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
            closed: std::sync::atomic::AtomicBool::new(false),
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
            let cutoff = now_ms() - config.retention.as_millis() as i64;
            // Per workspace through the (workspace_id, time) index: no index on time alone to
            // keep up on every insert.
            let mut after = String::new();
            while let Some(ws) = tx
                .query_row(
                    "SELECT min(workspace_id) FROM key_verifications WHERE workspace_id > ?1",
                    [&after],
                    |r| r.get::<_, Option<String>>(0),
                )
                .db()?
            {
                tx.execute(
                    "DELETE FROM key_verifications WHERE workspace_id = ?1 AND time < ?2",
                    params![ws, cutoff],
                )
                .db()?;
                after = ws;
            }
            tx.execute(
                "DELETE FROM key_verifications \
                 WHERE id <= (SELECT max(id) FROM key_verifications) - ?1",
                [config.max_rows.min(i64::MAX as u64) as i64],
            )
            .db()?;
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

/// Most identical verifications one log row stands for (see [`VerificationLog::push`]).
const MAX_RUN: i64 = 1000;

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

    /// Verifications per time bucket of the keys of `api_id` owned by `external_id` (only
    /// `key_id` with `Some`) in `workspace_id`, for `start_ms <= time < end_ms`. Granularity
    /// from the window: up to 2 h per minute, up to 7 days per hour, else per day (UTC).
    /// Every bucket of the window is present (zeros included), oldest first. Flushes the
    /// buffer first. A window that is empty, reversed, or of more than [`MAX_BUCKETS`]
    /// buckets is `invalid_input`.
    pub fn verification_buckets(
        &self,
        workspace_id: &str,
        api_id: &str,
        external_id: &str,
        key_id: Option<&str>,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<VerificationBucket>> {
        if end_ms <= start_ms || start_ms < 0 {
            return Err(Error::invalid_input(
                "endTime",
                "endTime must be after startTime (both unix ms)",
            ));
        }
        let window = end_ms - start_ms;
        let unit = if window <= 2 * HOUR_MS {
            MINUTE_MS
        } else if window <= 7 * DAY_MS {
            HOUR_MS
        } else {
            DAY_MS
        };
        let first = start_ms.div_euclid(unit) * unit;
        let last = (end_ms - 1).div_euclid(unit) * unit;
        let n = (last - first) / unit + 1;
        if n > MAX_BUCKETS {
            return Err(Error::invalid_input(
                "endTime",
                format!("the window spans more than {MAX_BUCKETS} buckets; shorten it"),
            ));
        }
        self.flush_verification_log()?;
        let mut buckets: Vec<VerificationBucket> = (0..n)
            .map(|i| VerificationBucket {
                time: first + i * unit,
                ..VerificationBucket::default()
            })
            .collect();
        let conn = self.inner.analytics.conn.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT (time / ?1) * ?1 AS bucket, outcome, sum(n) FROM key_verifications \
                 WHERE workspace_id = ?2 AND api_id = ?3 AND external_id = ?4 \
                 AND (?5 IS NULL OR key_id = ?5) AND time >= ?6 AND time < ?7 \
                 GROUP BY bucket, outcome",
            )
            .db()?;
        let rows = stmt
            .query_map(
                params![
                    unit,
                    workspace_id,
                    api_id,
                    external_id,
                    key_id,
                    start_ms,
                    end_ms
                ],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )
            .db()?;
        for row in rows {
            let (time, outcome, count) = row.db()?;
            let Some(b) = usize::try_from((time - first) / unit)
                .ok()
                .and_then(|i| buckets.get_mut(i))
            else {
                continue;
            };
            let count = count.max(0) as u64;
            b.total += count;
            match outcome.as_str() {
                "VALID" => b.valid += count,
                "RATE_LIMITED" => b.rate_limited += count,
                "INSUFFICIENT_PERMISSIONS" => b.insufficient_permissions += count,
                "FORBIDDEN" => b.forbidden += count,
                "DISABLED" => b.disabled += count,
                "EXPIRED" => b.expired += count,
                "USAGE_EXCEEDED" | "INSUFFICIENT_CREDITS" => b.usage_exceeded += count,
                _ => {}
            }
        }
        Ok(buckets)
    }

    /// `analytics.getVerifications` in `ctx` (see the module doc).
    pub(crate) fn get_verifications(
        &self,
        ctx: &WorkspaceCtx,
        req: &GetVerificationsRequest,
    ) -> Result<GetVerificationsResponseData> {
        let apis = analytics_scope(ctx)?;
        if req.query.trim().is_empty() {
            return Err(query_error(Kind::Query, "the query is empty"));
        }
        self.flush_verification_log()?;
        let scope = Scope {
            workspace_id: ctx.workspace_id.clone(),
            apis,
            time_limit: self.inner.analytics.config.lock().query_time_limit,
        };
        let log = &self.inner.analytics;
        match &log.path {
            Some(path) => {
                let mut slot = log.query.lock();
                if slot.is_none() {
                    let conn = Connection::open_with_flags(
                        path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )
                    .map_err(|e| Error::io(format!("cannot open the verification log: {e}")))?;
                    conn.busy_timeout(crate::schema::BUSY_TIMEOUT).db()?;
                    *slot = Some(QueryConn::new(conn)?);
                }
                let q = slot.as_ref().expect("opened above");
                q.run(&q.conn, scope, &req.query)
            }
            None => {
                let mut slot = log.query.lock();
                let conn = log.conn.lock();
                if slot.is_none() {
                    *slot = Some(QueryConn::prepare(&conn)?);
                }
                slot.as_ref()
                    .expect("set above")
                    .run(&conn, scope, &req.query)
            }
        }
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

/// The apis whose rows a root key may query: `None` = every api of its workspace
/// (`api.*.read_analytics`), else those of its `api.<id>.read_analytics` grants; 403 when it has
/// neither (as Unkey).
fn analytics_scope(ctx: &WorkspaceCtx) -> Result<Option<Vec<String>>> {
    if ctx.grants.allows("api.*.read_analytics") {
        return Ok(None);
    }
    let apis: Vec<String> = ctx
        .grants
        .names()
        .filter_map(|p| {
            let mut parts = p.split('.');
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some("api"), Some(id), Some("read_analytics"), None) => Some(id.to_string()),
                _ => None,
            }
        })
        .collect();
    if apis.is_empty() {
        return Err(Error::new(
            ErrorCode::Forbidden,
            "Missing permission: 'api.*.read_analytics'",
        ));
    }
    Ok(Some(apis))
}

/// Why a query was refused: Unkey's error type for it (see [`problem_kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Query,
    QueryType,
    Table,
    Function,
    Timeout,
    Rows,
    Bytes,
}

const PREFIX_QUERY: &str = "invalid analytics query: ";
const PREFIX_QUERY_TYPE: &str = "only SELECT queries are allowed: ";
const PREFIX_TABLE: &str = "the query may read only the views ";
const PREFIX_FUNCTION: &str = "function not allowed in analytics queries: ";
const PREFIX_TIMEOUT: &str = "the query ran longer than ";
const PREFIX_ROWS: &str = "the query returns more than ";
const PREFIX_BYTES: &str = "the query result exceeds ";

fn query_error(kind: Kind, detail: impl std::fmt::Display) -> Error {
    let (prefix, status) = match kind {
        Kind::Query => (PREFIX_QUERY, 400),
        Kind::QueryType => (PREFIX_QUERY_TYPE, 400),
        Kind::Table => (PREFIX_TABLE, 400),
        Kind::Function => (PREFIX_FUNCTION, 400),
        Kind::Timeout => (PREFIX_TIMEOUT, 422),
        Kind::Rows => (PREFIX_ROWS, 422),
        Kind::Bytes => (PREFIX_BYTES, 422),
    };
    let mut e = Error::bad_request(format!("{prefix}{detail}"));
    e.field = Some("body.query".into());
    e.status = Some(status);
    e
}

/// Unkey's error type (after `https://unkey.com/docs/errors/`) for an error of
/// `analytics.getVerifications`, when it is one of the query's own.
pub fn problem_kind(err: &Error) -> Option<&'static str> {
    if err.code != ErrorCode::BadRequest || err.field.as_deref() != Some("body.query") {
        return None;
    }
    let m = err.message.as_str();
    Some(if m.starts_with(PREFIX_QUERY_TYPE) {
        "user/bad_request/invalid_analytics_query_type"
    } else if m.starts_with(PREFIX_TABLE) {
        "user/bad_request/invalid_analytics_table"
    } else if m.starts_with(PREFIX_FUNCTION) {
        "user/bad_request/invalid_analytics_function"
    } else if m.starts_with(PREFIX_TIMEOUT) {
        "user/unprocessable_entity/query_execution_timeout"
    } else if m.starts_with(PREFIX_ROWS) {
        "user/unprocessable_entity/query_rows_limit_exceeded"
    } else if m.starts_with(PREFIX_BYTES) {
        "user/unprocessable_entity/query_memory_limit_exceeded"
    } else {
        "user/bad_request/invalid_analytics_query"
    })
}

/// The five public views, as Unkey names them.
pub const VIEWS: [&str; 5] = [
    "key_verifications_v1",
    "key_verifications_per_minute_v1",
    "key_verifications_per_hour_v1",
    "key_verifications_per_day_v1",
    "key_verifications_per_month_v1",
];

/// Functions a query may call (lower case): SQLite's own that cannot allocate unboundedly,
/// and the ClickHouse-named ones registered here.
pub const ALLOWED_FUNCTIONS: &[&str] = &[
    // aggregates and window functions
    "count",
    "sum",
    "total",
    "avg",
    "min",
    "max",
    "group_concat",
    "string_agg",
    "row_number",
    "rank",
    "dense_rank",
    "ntile",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "nth_value",
    "percent_rank",
    "cume_dist",
    // scalars
    "abs",
    "round",
    "floor",
    "ceil",
    "ceiling",
    "lower",
    "upper",
    "length",
    "substr",
    "substring",
    "trim",
    "ltrim",
    "rtrim",
    "coalesce",
    "ifnull",
    "iif",
    "if",
    "nullif",
    "instr",
    "like",
    "glob",
    "typeof",
    "date",
    "time",
    "datetime",
    "strftime",
    "unixepoch",
    "julianday",
    "json_extract",
    "json_array_length",
    "likely",
    "unlikely",
    // ClickHouse names registered on the query connection (ms semantics, see ANALYTICS.md)
    "now",
    "now64",
    "today",
    "tostartofminute",
    "tostartofhour",
    "tostartofday",
    "tostartofweek",
    "tostartofmonth",
    "tostartofyear",
    "tounixtimestamp",
    "tounixtimestamp64milli",
    "fromunixtimestamp64milli",
    "todatetime",
    "todatetime64",
    "todate",
    "has",
    "hasany",
    "hasall",
    "startswith",
    "endswith",
    "tostring",
    "toint32",
    "toint64",
    "tofloat64",
    // the scope of the current query (harmless: they only name the caller's own scope)
    "ks_scope_workspace",
    "ks_scope_api",
];

/// The workspace (and apis) the current query may see.
#[derive(Clone, Debug, Default)]
struct Scope {
    workspace_id: String,
    apis: Option<Vec<String>>,
    time_limit: Duration,
}

/// State shared between a query connection's callbacks and the runner.
#[derive(Default)]
struct Shared {
    scope: Mutex<Scope>,
    deadline: Mutex<Option<Instant>>,
    denied: Mutex<Option<Error>>,
}

/// A connection set up for queries: functions, TEMP views, progress handler.
struct QueryConn {
    /// The read-only connection (file databases); unused for `:memory:`.
    conn: Connection,
    shared: Arc<Shared>,
    secret_view: String,
}

impl QueryConn {
    fn new(conn: Connection) -> Result<QueryConn> {
        let (shared, secret_view) = setup(&conn)?;
        conn.execute_batch("PRAGMA query_only = ON;").db()?;
        Ok(QueryConn {
            conn,
            shared,
            secret_view,
        })
    }

    /// For `:memory:`: sets `conn` (the log's own) up and keeps a placeholder connection.
    fn prepare(conn: &Connection) -> Result<QueryConn> {
        let (shared, secret_view) = setup(conn)?;
        Ok(QueryConn {
            conn: Connection::open_in_memory().db()?,
            shared,
            secret_view,
        })
    }

    fn run(
        &self,
        conn: &Connection,
        scope: Scope,
        sql: &str,
    ) -> Result<GetVerificationsResponseData> {
        let time_limit = scope.time_limit;
        *self.shared.scope.lock() = scope;
        *self.shared.denied.lock() = None;
        let (shared, secret) = (self.shared.clone(), self.secret_view.clone());
        conn.authorizer(Some(move |ctx: AuthContext<'_>| {
            authorize(&shared, &secret, ctx)
        }));
        *self.shared.deadline.lock() = Some(Instant::now() + time_limit);
        let out = self.execute(conn, sql, time_limit);
        conn.authorizer(None::<fn(AuthContext<'_>) -> Authorization>);
        *self.shared.deadline.lock() = None;
        *self.shared.scope.lock() = Scope::default();
        out
    }

    fn execute(
        &self,
        conn: &Connection,
        sql: &str,
        time_limit: Duration,
    ) -> Result<GetVerificationsResponseData> {
        let mut stmt = match conn.prepare(sql) {
            Ok(stmt) => stmt,
            Err(e) => return Err(self.prepare_error(e)),
        };
        if !stmt.readonly() {
            return Err(query_error(Kind::QueryType, "the statement would write"));
        }
        let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let run_error = |e| match self.shared.denied.lock().take() {
            Some(denied) => denied,
            None => run_error(e, time_limit),
        };
        let mut rows = stmt.query([]).map_err(run_error)?;
        let (mut out, mut bytes) = (Vec::new(), 0usize);
        loop {
            let row = match rows.next() {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(e) => return Err(run_error(e)),
            };
            if out.len() == QUERY_MAX_ROWS {
                return Err(query_error(
                    Kind::Rows,
                    format!("{QUERY_MAX_ROWS} rows; add a LIMIT or aggregate"),
                ));
            }
            let mut obj = serde_json::Map::with_capacity(names.len());
            for (i, name) in names.iter().enumerate() {
                let value = match row.get_ref(i).db()? {
                    ValueRef::Null => serde_json::Value::Null,
                    ValueRef::Integer(n) => {
                        bytes += 8;
                        n.into()
                    }
                    ValueRef::Real(f) => {
                        bytes += 8;
                        serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into)
                    }
                    ValueRef::Text(t) => {
                        bytes += t.len();
                        String::from_utf8_lossy(t).into_owned().into()
                    }
                    ValueRef::Blob(b) => {
                        bytes += 2 * b.len();
                        hex::encode(b).into()
                    }
                };
                obj.insert(name.clone(), value);
            }
            bytes += names.iter().map(String::len).sum::<usize>();
            if bytes > QUERY_MAX_BYTES {
                return Err(query_error(
                    Kind::Bytes,
                    format!("{QUERY_MAX_BYTES} bytes; select fewer rows or columns"),
                ));
            }
            out.push(obj);
        }
        Ok(out)
    }

    /// The 400 for a statement that did not prepare: the authorizer's reason when it refused.
    fn prepare_error(&self, e: rusqlite::Error) -> Error {
        if let Some(denied) = self.shared.denied.lock().take() {
            return denied;
        }
        match e {
            rusqlite::Error::MultipleStatement => {
                query_error(Kind::QueryType, "send exactly one statement")
            }
            rusqlite::Error::SqliteFailure(_, Some(msg)) if msg.starts_with("no such table") => {
                query_error(Kind::Table, format!("{}; {msg}", VIEWS.join(", ")))
            }
            rusqlite::Error::SqliteFailure(_, Some(msg)) => query_error(Kind::Query, msg),
            other => query_error(Kind::Query, other),
        }
    }
}

fn run_error(e: rusqlite::Error, time_limit: Duration) -> Error {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::OperationInterrupted =>
        {
            query_error(
                Kind::Timeout,
                format!(
                    "{} ms; add filters or use an aggregated view",
                    time_limit.as_millis()
                ),
            )
        }
        rusqlite::Error::SqliteFailure(_, Some(msg)) => query_error(Kind::Query, msg),
        _ => query_error(Kind::Query, e),
    }
}

/// The authorizer of a query (see the module doc). Records why it refused in `shared.denied`.
fn authorize(shared: &Shared, secret_view: &str, ctx: AuthContext<'_>) -> Authorization {
    let deny = |e: Error| {
        let mut denied = shared.denied.lock();
        if denied.is_none() {
            *denied = Some(e);
        }
        Authorization::Deny
    };
    match ctx.action {
        AuthAction::Select | AuthAction::Recursive => Authorization::Allow,
        // A FROM item none of whose columns is read (`SELECT count(*) FROM x`) comes without a
        // database, named as the query wrote it: a CTE (whose own reads were authorized), one
        // of the views, or a stored table, which only the scoped view may read.
        AuthAction::Read { table_name, .. } if ctx.database_name.is_none() => {
            let lower = table_name.to_ascii_lowercase();
            let stored = lower == "key_verifications"
                || lower == "dbstat"
                || lower.starts_with("sqlite_")
                || lower.starts_with("pragma_")
                || lower.starts_with("ks_scoped_");
            if stored {
                deny(query_error(
                    Kind::Table,
                    format!("{}; `{table_name}` is not one of them", VIEWS.join(", ")),
                ))
            } else {
                Authorization::Allow
            }
        }
        AuthAction::Read { table_name, .. } => {
            let through_scope = ctx.accessor == Some(secret_view)
                && table_name == "key_verifications"
                && ctx.database_name == Some("main");
            // `temp.ks_seq` holds the numbers 1..=MAX_RUN (the raw view repeats a run's row).
            let numbers = table_name == "ks_seq" && ctx.database_name == Some("temp");
            if through_scope || numbers || VIEWS.contains(&table_name) || table_name == secret_view
            {
                Authorization::Allow
            } else {
                deny(query_error(
                    Kind::Table,
                    format!("{}; `{table_name}` is not one of them", VIEWS.join(", ")),
                ))
            }
        }
        AuthAction::Function { function_name } => {
            let lower = function_name.to_ascii_lowercase();
            if ALLOWED_FUNCTIONS.contains(&lower.as_str()) {
                Authorization::Allow
            } else {
                deny(query_error(
                    Kind::Function,
                    format!("`{function_name}` (see server/ANALYTICS.md for the allowed ones)"),
                ))
            }
        }
        AuthAction::Pragma { pragma_name, .. } => deny(query_error(
            Kind::QueryType,
            format!("PRAGMA {pragma_name}"),
        )),
        AuthAction::Attach { .. } => deny(query_error(Kind::QueryType, "ATTACH")),
        AuthAction::Detach { .. } => deny(query_error(Kind::QueryType, "DETACH")),
        AuthAction::Insert { .. } => deny(query_error(Kind::QueryType, "INSERT")),
        AuthAction::Update { .. } => deny(query_error(Kind::QueryType, "UPDATE")),
        AuthAction::Delete { .. } => deny(query_error(Kind::QueryType, "DELETE")),
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => {
            deny(query_error(Kind::QueryType, "transaction control"))
        }
        _ => deny(query_error(
            Kind::QueryType,
            "the statement is not a SELECT",
        )),
    }
}

/// Registers the functions, the scoped TEMP view and the five public views on `conn` (no
/// authorizer yet), and the progress handler. Returns the shared state and the scoped view's
/// name.
fn setup(conn: &Connection) -> Result<(Arc<Shared>, String)> {
    let shared = Arc::new(Shared::default());
    let mut random = [0u8; 12];
    getrandom::fill(&mut random)
        .map_err(|e| Error::server(format!("the OS random number generator failed: {e}")))?;
    let secret = format!("ks_scoped_{}", hex::encode(random));
    register_functions(conn, &shared)?;
    let minute = "(time / 60000) * 60000";
    let hour = "(time / 3600000) * 3600000";
    let day = "(time / 86400000) * 86400000";
    let month = "toStartOfMonth(time)";
    let mut sql = format!(
        "CREATE TEMP VIEW {secret} AS SELECT time, workspace_id, api_id, key_id, \
         coalesce(identity_id, '') AS identity_id, coalesce(external_id, '') AS external_id, \
         outcome, spent_credits, tags, n FROM main.key_verifications \
         WHERE workspace_id = ks_scope_workspace() AND ks_scope_api(api_id);
         CREATE TEMP TABLE ks_seq (i INTEGER PRIMARY KEY);
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {MAX_RUN}) \
         INSERT INTO ks_seq SELECT i FROM s;
         CREATE TEMP VIEW key_verifications_v1 AS SELECT '' AS request_id, time, workspace_id, \
         api_id AS key_space_id, key_id, identity_id, external_id, outcome, 'local' AS region, \
         'api' AS source, '' AS app_id, tags, spent_credits, NULL AS latency \
         FROM {secret} CROSS JOIN temp.ks_seq ON ks_seq.i <= {secret}.n;"
    );
    for (name, bucket) in [
        ("key_verifications_per_minute_v1", minute),
        ("key_verifications_per_hour_v1", hour),
        ("key_verifications_per_day_v1", day),
        ("key_verifications_per_month_v1", month),
    ] {
        sql.push_str(&format!(
            "CREATE TEMP VIEW {name} AS SELECT {bucket} AS time, workspace_id, \
             api_id AS key_space_id, key_id, identity_id, external_id, outcome, \
             'api' AS source, '' AS app_id, tags, sum(n) AS count, \
             sum(spent_credits * n) AS spent_credits FROM {secret} \
             GROUP BY 1, workspace_id, api_id, key_id, identity_id, external_id, outcome, tags;"
        ));
    }
    conn.execute_batch(&sql).db()?;
    let progress = shared.clone();
    conn.progress_handler(
        10_000,
        Some(move || matches!(*progress.deadline.lock(), Some(d) if Instant::now() >= d)),
    );
    Ok((shared, secret))
}

/// The ClickHouse-named functions (times are unix ms; see server/ANALYTICS.md) and the scope
/// functions of the scoped view.
fn register_functions(conn: &Connection, shared: &Arc<Shared>) -> Result<()> {
    let det = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    let nondet = FunctionFlags::SQLITE_UTF8;
    let s = shared.clone();
    conn.create_scalar_function("ks_scope_workspace", 0, nondet, move |_| {
        Ok(s.scope.lock().workspace_id.clone())
    })
    .db()?;
    let s = shared.clone();
    conn.create_scalar_function("ks_scope_api", 1, nondet, move |ctx| {
        let api: String = ctx.get(0)?;
        Ok(match &s.scope.lock().apis {
            None => true,
            Some(apis) => apis.contains(&api),
        })
    })
    .db()?;
    for name in ["now", "now64"] {
        conn.create_scalar_function(name, 0, nondet, |_| Ok(now_ms()))
            .db()?;
    }
    conn.create_scalar_function("today", 0, nondet, |_| {
        Ok(now_ms().div_euclid(DAY_MS) * DAY_MS)
    })
    .db()?;
    type TimeFn = fn(i64) -> i64;
    let time_fns: [(&str, TimeFn); 12] = [
        ("toStartOfMinute", |t| t.div_euclid(MINUTE_MS) * MINUTE_MS),
        ("toStartOfHour", |t| t.div_euclid(HOUR_MS) * HOUR_MS),
        ("toStartOfDay", |t| t.div_euclid(DAY_MS) * DAY_MS),
        ("toDate", |t| t.div_euclid(DAY_MS) * DAY_MS),
        ("toStartOfWeek", |t| {
            // Sunday first (ClickHouse's default mode 0); 1970-01-01 was a Thursday.
            let day = t.div_euclid(DAY_MS);
            (day - (day + 4).rem_euclid(7)) * DAY_MS
        }),
        ("toStartOfMonth", |t| {
            let (y, m, _) = civil_from_days(t.div_euclid(DAY_MS));
            days_from_civil(y, m, 1) * DAY_MS
        }),
        ("toStartOfYear", |t| {
            let (y, _, _) = civil_from_days(t.div_euclid(DAY_MS));
            days_from_civil(y, 1, 1) * DAY_MS
        }),
        ("toUnixTimestamp", |t| t.div_euclid(1000)),
        ("toUnixTimestamp64Milli", |t| t),
        ("fromUnixTimestamp64Milli", |t| t),
        ("toDateTime", |t| t),
        ("toDateTime64", |t| t),
    ];
    for (name, f) in time_fns {
        conn.create_scalar_function(name, 1, det, move |ctx| {
            Ok(ctx.get::<Option<i64>>(0)?.map(f))
        })
        .db()?;
    }
    conn.create_scalar_function("has", 2, det, |ctx| {
        let tags = json_array(ctx, 0)?;
        let needle: String = ctx.get(1)?;
        Ok(tags.contains(&needle))
    })
    .db()?;
    conn.create_scalar_function("hasAny", 2, det, |ctx| {
        let (tags, wanted) = (json_array(ctx, 0)?, json_array(ctx, 1)?);
        Ok(wanted.iter().any(|w| tags.contains(w)))
    })
    .db()?;
    conn.create_scalar_function("hasAll", 2, det, |ctx| {
        let (tags, wanted) = (json_array(ctx, 0)?, json_array(ctx, 1)?);
        Ok(wanted.iter().all(|w| tags.contains(w)))
    })
    .db()?;
    conn.create_scalar_function("startsWith", 2, det, |ctx| {
        let (s, p): (String, String) = (ctx.get(0)?, ctx.get(1)?);
        Ok(s.starts_with(&p))
    })
    .db()?;
    conn.create_scalar_function("endsWith", 2, det, |ctx| {
        let (s, p): (String, String) = (ctx.get(0)?, ctx.get(1)?);
        Ok(s.ends_with(&p))
    })
    .db()?;
    conn.create_scalar_function("toString", 1, det, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Null => None,
            ValueRef::Integer(n) => Some(n.to_string()),
            ValueRef::Real(f) => Some(f.to_string()),
            ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Some(hex::encode(b)),
        })
    })
    .db()?;
    for name in ["toInt32", "toInt64"] {
        conn.create_scalar_function(name, 1, det, |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Integer(n) => Some(n),
                ValueRef::Real(f) => Some(f.trunc() as i64),
                ValueRef::Text(t) => std::str::from_utf8(t)
                    .ok()
                    .and_then(|s| s.trim().parse().ok()),
                _ => None,
            })
        })
        .db()?;
    }
    // SQLite's own `floor` / `ceil` exist only with SQLITE_ENABLE_MATH_FUNCTIONS.
    type RoundFn = fn(f64) -> f64;
    for (name, f) in [
        ("floor", f64::floor as RoundFn),
        ("ceil", f64::ceil),
        ("ceiling", f64::ceil),
    ] {
        conn.create_scalar_function(name, 1, det, move |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Integer(n) => Some(n as f64),
                ValueRef::Real(x) => Some(f(x)),
                _ => None,
            })
        })
        .db()?;
    }
    conn.create_scalar_function("toFloat64", 1, det, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Integer(n) => Some(n as f64),
            ValueRef::Real(f) => Some(f),
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(|s| s.trim().parse().ok()),
            _ => None,
        })
    })
    .db()?;
    Ok(())
}

/// Argument `i` as a JSON array of strings (`tags`, or a literal such as `'["a","b"]'`).
fn json_array(ctx: &Context<'_>, i: usize) -> rusqlite::Result<Vec<String>> {
    let text: Option<String> = ctx.get(i)?;
    Ok(text
        .and_then(|t| serde_json::from_str::<Vec<String>>(&t).ok())
        .unwrap_or_default())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
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

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for day in [-1000, 0, 59, 10_000, 20_000, 30_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }
}
