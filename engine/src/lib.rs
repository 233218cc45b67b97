//! keyshift-engine: the key store and its semantics (DESIGN.md §4) on SQLite (WAL).
//!
//! [`Engine`] is used in-process (`Client::local`) and behind the HTTP server: the server calls
//! [`Engine::authenticate`] with the bearer root key and then [`Engine::dispatch`] with the
//! operation name (`keys.createKey`, …) and the raw JSON body; the answer's `data` (and
//! `pagination` for lists) goes into the success envelope, an [`keyshift_core::Error`] into the
//! problem+json body with the status of its code.
//!
//! Storage: keys are stored only as hashes (`sha256_base64`, or `sha256_hex` / `bcrypt` for
//! migrated keys until their first valid verification re-stores them as `sha256_base64`);
//! root keys likewise. One connection behind a mutex serializes writes; credits are spent by a
//! conditional `UPDATE` so concurrent verifiers never lose or overspend a credit. For file
//! databases, verifications read through a small pool of read-only connections (WAL lets them
//! run beside the writer; every answered write has committed before the next read starts), and
//! [`Engine::start`] lets an async caller finish a read-only verification on its own thread.
//! Root keys, only ever added, are remembered once found; verification records are reused
//! until any connection commits (see `verify::VerifyCache`).

// `Error` is large by design (field, record, request id…); boxing it is core's call.
#![allow(clippy::result_large_err)]

mod admin;
pub mod analytics;
mod authz;
mod credits;
mod dispatch;
mod idempotency;
mod keys;
mod links;
mod local;
mod migrate;
mod pool;
mod portal;
mod ratelimit;
mod rows;
mod schema;
mod util;
mod verify;

pub use util::INVALID_BODY_PREFIX;

use std::collections::HashMap;
use std::sync::Arc;

use keyshift_core::hashing;
use keyshift_core::keyformat;
use keyshift_core::{Error, ErrorCode, Result, SecretKey};
use parking_lot::{Mutex, RwLock};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

pub use analytics::{AnalyticsConfig, VerificationBucket};
pub use authz::{validate_root_key_permission, Grants, RESOURCE_ACTIONS};
pub use dispatch::{validate_op, validate_request};
pub use idempotency::{IDEMPOTENCY_KEY_MAX_LEN, IDEMPOTENCY_TTL_MS};
pub use local::{local_client, LocalBackend};
pub use portal::{
    PortalExchange, PortalRoute, PortalSessionCtx, ACCESS_TOKEN_PREFIX, CODE_PREFIX,
    DEFAULT_CODE_TTL, DEFAULT_SESSION_TTL, PORTAL_PATH,
};
pub use ratelimit::DEFAULT_WINDOW_CAPACITY;
pub use schema::SCHEMA_VERSION;
pub use verify::BCRYPT_MAX_CANDIDATES;

use util::Db;

/// Prefix of generated root keys.
pub const ROOT_KEY_PREFIX: &str = "ks_root";
/// Random bytes in a generated root key.
pub const ROOT_KEY_BYTES: usize = 32;

/// A callback run by a verification at a fixed point (tests only).
pub type VerifyHook = Arc<dyn Fn() + Send + Sync>;

pub(crate) struct Inner {
    /// The writer; every write goes through it (see [`Engine::write`]).
    pub(crate) conn: Mutex<Connection>,
    /// Read-only connections for the verification path; `None` for `:memory:` databases.
    readers: Option<pool::Readers>,
    pub(crate) limiter: Mutex<ratelimit::Limiter>,
    /// bcrypt hash checks made by verifications (see [`Engine::bcrypt_checks`]).
    pub(crate) bcrypt_checks: std::sync::atomic::AtomicU64,
    /// The idempotency records' server secret and purge schedule.
    idempotency: idempotency::Idempotency,
    /// Test hook, see [`Engine::set_verify_write_hook`].
    pub(crate) verify_write_hook: Mutex<Option<VerifyHook>>,
    /// Verification records while nothing was committed; `None` without readers.
    pub(crate) verify_cache: Option<verify::VerifyCache>,
    /// Root keys already seen, by hash, with their permissions. Root keys are only ever added
    /// with their permissions (no code path deletes or changes one or its permissions, nor
    /// deletes a workspace), so a found key and its grants stay valid; unknown keys are never
    /// cached, so a root key added later (by this or another process) is found in the
    /// database. Anything that ever removes or moves a root key, or changes its permissions,
    /// must clear this cache.
    root_keys: RwLock<HashMap<String, WorkspaceCtx>>,
    /// How long portal exchange codes and sessions live ([`Engine::set_portal_lifetimes`]).
    portal_lifetimes: portal::Lifetimes,
    /// The verification log (see [`analytics`]).
    pub(crate) analytics: Arc<analytics::VerificationLog>,
    /// `keys.migrateKeys` batches committed together (see [`pool::GroupCommit`]).
    pub(crate) migrations: pool::GroupCommit<dispatch::MigrateJob, Reply>,
}

impl Drop for Inner {
    /// Writes what the verification log still buffers.
    fn drop(&mut self) {
        let _ = self.analytics.flush(self, false);
        self.analytics.close();
    }
}

impl Inner {
    /// The writer connection (waits for it). Every write goes through it.
    pub(crate) fn writer(&self) -> pool::Writer<'_> {
        pool::Writer {
            conn: self.conn.lock(),
            readers: self.readers.as_ref(),
        }
    }

    /// A connection for reads: a pooled reader when the database is a file, else the writer.
    /// Reads through it see every write committed before the call.
    pub(crate) fn reader(&self) -> Result<pool::ReadConn<'_>> {
        match &self.readers {
            Some(readers) => Ok(pool::ReadConn::Pooled(readers.get()?)),
            None => Ok(pool::ReadConn::Writer(self.conn.lock())),
        }
    }
}

impl Inner {
    /// Like [`Inner::reader`] but never waits: `None` when no reader is idle (or, for
    /// `:memory:`, the writer is busy).
    pub(crate) fn try_reader(&self) -> Option<pool::ReadConn<'_>> {
        match &self.readers {
            Some(readers) => readers.try_get().map(pool::ReadConn::Pooled),
            None => self.conn.try_lock().map(pool::ReadConn::Writer),
        }
    }
}

/// Where [`Engine::start`] got to. (Named `Step`, not `Progress`, so it is not mistaken for
/// `keyshift_core::migrate::Progress`, a migration's progress.)
pub enum Step {
    /// The operation finished on the calling thread.
    Done(Result<Reply>),
    /// The rest of the operation may block (database writer, bcrypt, first use of a root
    /// key…): run it with [`Blocking::run`] on a thread where that is fine (e.g. tokio's
    /// `spawn_blocking`).
    Blocking(Blocking),
}

/// The rest of an operation, see [`Step::Blocking`].
pub struct Blocking(Box<dyn FnOnce() -> Result<Reply> + Send + 'static>);

impl Blocking {
    pub fn run(self) -> Result<Reply> {
        (self.0)()
    }
}

impl std::fmt::Debug for Blocking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Blocking")
    }
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Done(r) => f.debug_tuple("Done").field(r).finish(),
            Step::Blocking(b) => b.fmt(f),
        }
    }
}

/// Whether `path` names a database file other connections can open too (not `:memory:`, the
/// empty temporary database, or a URI that might be either).
fn shareable_path(path: &str) -> bool {
    !path.is_empty() && path != ":memory:" && !path.starts_with("file:")
}

/// The key store. Cheap to clone; all clones share one database connection.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

const _: () = {
    const fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<Engine>();
};

/// The answer to one operation: the `data` of the success envelope, and `pagination` for lists
/// (core's [`keyshift_core::Reply`], so [`LocalBackend`] hands it on as is; `request_id` stays
/// `None` in-process).
pub use keyshift_core::backend::Reply;

/// Who is calling: the workspace a root key belongs to, and what the key may do there. Every
/// operation is confined to the workspace and checks the root key's permissions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspaceCtx {
    pub workspace_id: String,
    pub root_key_id: String,
    /// The root key's permissions (Unkey's names; [`Grants::all`] for in-process callers).
    pub grants: Arc<Grants>,
}

/// A root key as `keyshift admin list-root-keys` shows it: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RootKeyInfo {
    pub id: String,
    pub workspace_id: String,
    /// The key's clear start (`ks_root_abcd`), for recognising it.
    pub start: String,
    pub permissions: Vec<String>,
    pub created_at: i64,
}

fn reply<T: Serialize>(data: T) -> Result<Reply> {
    Ok(Reply {
        request_id: None,
        data: serde_json::to_value(data)
            .map_err(|e| Error::server(format!("cannot encode response: {e}")))?,
        pagination: None,
    })
}

fn page_reply<T: Serialize>(page: admin::Page<T>) -> Result<Reply> {
    let mut r = reply(page.items)?;
    r.pagination = Some(page.pagination);
    Ok(r)
}

impl Engine {
    /// Opens (creating and migrating if needed) the database at `path`; `":memory:"` gives a
    /// private in-memory store. A file database keeps its server secret (which seals stored
    /// idempotent answers) beside it in `<path>.secret` (mode 0600), created on first open;
    /// other databases get a random in-memory one.
    pub fn open(path: &str) -> Result<Engine> {
        let conn = schema::open(path)?;
        let idempotency = idempotency::Idempotency::open(path, shareable_path(path))?;
        let readers =
            shareable_path(path).then(|| pool::Readers::new(path, pool::default_max_readers()));
        let analytics = Arc::new(analytics::VerificationLog::open(
            shareable_path(path).then_some(path),
        )?);
        let engine = Engine {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                verify_cache: readers.as_ref().map(|_| verify::VerifyCache::new()),
                readers,
                limiter: Mutex::new(ratelimit::Limiter::default()),
                bcrypt_checks: std::sync::atomic::AtomicU64::new(0),
                verify_write_hook: Mutex::new(None),
                idempotency,
                root_keys: RwLock::new(HashMap::new()),
                portal_lifetimes: portal::Lifetimes::default(),
                analytics,
                migrations: pool::GroupCommit::default(),
            }),
        };
        analytics::spawn_writer(
            engine.inner.analytics.clone(),
            Arc::downgrade(&engine.inner),
        );
        Ok(engine)
    }

    /// Runs `f` in an IMMEDIATE transaction, committed only if `f` succeeds.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.inner.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .db()?;
        let out = f(&tx)?;
        tx.commit().db()?;
        Ok(out)
    }

    /// First start: creates a workspace and a root key, returning the plaintext root key (shown
    /// once). With `seed_root_key`, stores that key instead (in the oldest workspace, created if
    /// none) and returns `None`. Idempotent: when the seed is already stored, or (without a
    /// seed) any root key exists, does nothing and returns `None`.
    pub fn ensure_bootstrap(&self, seed_root_key: Option<&str>) -> Result<Option<SecretKey>> {
        self.write(|conn| {
            if let Some(seed) = seed_root_key {
                if seed.trim().is_empty() {
                    return Err(Error::invalid_input(
                        "root_key",
                        "the seed root key is empty",
                    ));
                }
                let hash = hashing::sha256_base64(seed);
                let exists: Option<i64> = conn
                    .query_row("SELECT 1 FROM root_keys WHERE hash = ?1", [&hash], |r| {
                        r.get(0)
                    })
                    .optional()
                    .db()?;
                if exists.is_none() {
                    let ws = oldest_or_new_workspace(conn)?;
                    insert_root_key(conn, &ws, &hash, &keyformat::key_start(seed), &[authz::ALL])?;
                }
                return Ok(None);
            }
            let any: Option<i64> = conn
                .query_row("SELECT 1 FROM root_keys LIMIT 1", [], |r| r.get(0))
                .optional()
                .db()?;
            if any.is_some() {
                return Ok(None);
            }
            let ws = oldest_or_new_workspace(conn)?;
            let key = keyformat::generate_key(Some(ROOT_KEY_PREFIX), ROOT_KEY_BYTES)?;
            insert_root_key(
                conn,
                &ws,
                &hashing::sha256_base64(key.expose()),
                &keyformat::key_start(key.expose()),
                &[authz::ALL],
            )?;
            Ok(Some(key))
        })
    }

    /// Creates a workspace; returns its id (`ws_…`).
    pub fn create_workspace(&self, name: &str) -> Result<String> {
        self.write(|conn| create_workspace(conn, name))
    }

    /// Creates a root key with every permission (`*`) for `workspace_id` (404 if unknown);
    /// returns the plaintext (shown once).
    pub fn create_root_key(&self, workspace_id: &str) -> Result<SecretKey> {
        self.create_root_key_with_permissions(workspace_id, &[authz::ALL])
    }

    /// Creates a root key for `workspace_id` (404 if unknown) that may do what `permissions`
    /// allow (Unkey's names, see [`validate_root_key_permission`]; at least one); returns the
    /// plaintext (shown once).
    pub fn create_root_key_with_permissions<S: AsRef<str>>(
        &self,
        workspace_id: &str,
        permissions: &[S],
    ) -> Result<SecretKey> {
        if permissions.is_empty() {
            return Err(Error::invalid_input(
                "permission",
                "a root key needs at least one permission (`*` for everything)",
            ));
        }
        let permissions: Vec<&str> = permissions.iter().map(AsRef::as_ref).collect();
        for p in &permissions {
            validate_root_key_permission(p)?;
        }
        self.write(|conn| {
            let exists: Option<i64> = conn
                .query_row(
                    "SELECT 1 FROM workspaces WHERE id = ?1",
                    [workspace_id],
                    |r| r.get(0),
                )
                .optional()
                .db()?;
            if exists.is_none() {
                return Err(Error::not_found(format!(
                    "workspace `{workspace_id}` not found"
                )));
            }
            let key = keyformat::generate_key(Some(ROOT_KEY_PREFIX), ROOT_KEY_BYTES)?;
            insert_root_key(
                conn,
                workspace_id,
                &hashing::sha256_base64(key.expose()),
                &keyformat::key_start(key.expose()),
                &permissions,
            )?;
            Ok(key)
        })
    }

    /// The root keys of `workspace_id` (of every workspace with `None`), oldest first, with
    /// their permissions: ids and clear starts only, never a key.
    pub fn list_root_keys(&self, workspace_id: Option<&str>) -> Result<Vec<RootKeyInfo>> {
        let conn = self.inner.reader()?;
        let mut keys = conn
            .prepare(
                "SELECT id, workspace_id, start, created_at FROM root_keys \
                 WHERE ?1 IS NULL OR workspace_id = ?1 ORDER BY created_at, id",
            )
            .db()?
            .query_map([workspace_id], |r| {
                Ok(RootKeyInfo {
                    id: r.get(0)?,
                    workspace_id: r.get(1)?,
                    start: r.get(2)?,
                    permissions: Vec::new(),
                    created_at: r.get(3)?,
                })
            })
            .db()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?;
        let mut stmt = conn
            .prepare(
                "SELECT permission FROM root_key_permissions WHERE root_key_id = ?1 \
                 ORDER BY permission",
            )
            .db()?;
        for key in &mut keys {
            key.permissions = stmt
                .query_map([&key.id], |r| r.get(0))
                .db()?
                .collect::<rusqlite::Result<Vec<String>>>()
                .db()?;
        }
        Ok(keys)
    }

    /// The workspace of a root key; `unauthorized` if the key is unknown.
    pub fn authenticate(&self, root_key: &str) -> Result<WorkspaceCtx> {
        if let Some(ctx) = self.cached_root_key(root_key) {
            return Ok(ctx);
        }
        let hash = hashing::sha256_base64(root_key);
        let row: Option<(String, String, String, Vec<String>)> = {
            let conn = self.inner.reader()?;
            let tx = pool::ReadTx::begin(&conn).db()?;
            let row: Option<(String, String, String)> = tx
                .prepare_cached("SELECT id, workspace_id, hash FROM root_keys WHERE hash = ?1")
                .db()?
                .query_row([&hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
                .db()?;
            match row {
                Some((id, ws, stored)) => {
                    let permissions = tx
                        .prepare_cached(
                            "SELECT permission FROM root_key_permissions WHERE root_key_id = ?1",
                        )
                        .db()?
                        .query_map([&id], |r| r.get(0))
                        .db()?
                        .collect::<rusqlite::Result<Vec<String>>>()
                        .db()?;
                    Some((id, ws, stored, permissions))
                }
                None => None,
            }
        };
        match row {
            Some((id, ws, stored, permissions))
                if hashing::constant_time_eq(stored.as_bytes(), hash.as_bytes()) =>
            {
                let ctx = WorkspaceCtx {
                    workspace_id: ws,
                    root_key_id: id,
                    grants: Arc::new(Grants::from_names(permissions)),
                };
                self.inner.root_keys.write().insert(stored, ctx.clone());
                Ok(ctx)
            }
            _ => Err(Error::new(
                ErrorCode::Unauthorized,
                "The provided root key is invalid. We could not find the requested key.",
            )),
        }
    }

    /// The workspace of a root key already authenticated by this engine, without I/O.
    fn cached_root_key(&self, root_key: &str) -> Option<WorkspaceCtx> {
        let hash = hashing::sha256_base64(root_key);
        let cache = self.inner.root_keys.read();
        let (stored, ctx) = cache.get_key_value(&hash)?;
        hashing::constant_time_eq(stored.as_bytes(), hash.as_bytes()).then(|| ctx.clone())
    }

    /// bcrypt hash checks made by verifications (`keys.verifyKey`, `keys.whoami`) since this
    /// engine was opened: a metric of the slow path, at most [`BCRYPT_MAX_CANDIDATES`] per
    /// verification.
    pub fn bcrypt_checks(&self) -> u64 {
        self.inner
            .bcrypt_checks
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Test hook: `hook` runs in every verification that writes (credits, refill, lazy
    /// re-hash) after the key was read and before its write transaction begins, with no
    /// connection held, so a test can change the key in between. `None` removes it.
    #[doc(hidden)]
    pub fn set_verify_write_hook(&self, hook: Option<VerifyHook>) {
        *self.inner.verify_write_hook.lock() = hook;
    }

    /// Most rate-limit windows kept in memory (default
    /// [`DEFAULT_WINDOW_CAPACITY`]); tests lower it.
    #[doc(hidden)]
    pub fn set_ratelimit_capacity(&self, capacity: usize) {
        self.inner.limiter.lock().set_capacity(capacity);
    }

    /// Rate-limit windows held in memory now.
    pub fn ratelimit_windows(&self) -> usize {
        self.inner.limiter.lock().len()
    }

    /// Checks that the database answers.
    pub fn liveness(&self) -> Result<()> {
        let conn = self.inner.writer();
        conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
            .db()
            .map(|_| ())
    }
}

fn create_workspace(conn: &Connection, name: &str) -> Result<String> {
    let id = util::new_id("ws")?;
    conn.execute(
        "INSERT INTO workspaces (id, name, created_at) VALUES (?1, ?2, ?3)",
        params![id, name, util::now_ms()],
    )
    .db()?;
    Ok(id)
}

fn oldest_or_new_workspace(conn: &Connection) -> Result<String> {
    let ws: Option<String> = conn
        .query_row(
            "SELECT id FROM workspaces ORDER BY created_at, id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()
        .db()?;
    match ws {
        Some(ws) => Ok(ws),
        None => create_workspace(conn, "default"),
    }
}

fn insert_root_key(
    conn: &Connection,
    ws: &str,
    hash: &str,
    start: &str,
    permissions: &[&str],
) -> Result<()> {
    let id = util::new_id("rk")?;
    conn.execute(
        "INSERT INTO root_keys (id, workspace_id, hash, start, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, ws, hash, start, util::now_ms()],
    )
    .db()?;
    for permission in permissions {
        conn.execute(
            "INSERT OR IGNORE INTO root_key_permissions (root_key_id, permission) VALUES (?1, ?2)",
            params![id, permission],
        )
        .db()?;
    }
    Ok(())
}
