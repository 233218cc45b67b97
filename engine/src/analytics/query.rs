//! `analytics.getVerifications`: the root key's scope (which apis it may read) and the runner
//! that executes a query on the query connection within the time, row and byte limits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyshift_core::wire::{GetVerificationsRequest, GetVerificationsResponseData};
use keyshift_core::{Error, ErrorCode, Result};
use parking_lot::Mutex;
use rusqlite::hooks::{AuthContext, Authorization};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::errors::{query_error, Kind};
use super::sandbox::{authorize, setup, VIEWS};
use super::{QUERY_MAX_BYTES, QUERY_MAX_ROWS};
use crate::util::Db;
use crate::{Engine, WorkspaceCtx};

impl Engine {
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

/// The workspace (and apis) the current query may see.
#[derive(Clone, Debug, Default)]
pub(super) struct Scope {
    pub(super) workspace_id: String,
    pub(super) apis: Option<Vec<String>>,
    pub(super) time_limit: Duration,
}

/// State shared between a query connection's callbacks and the runner.
#[derive(Default)]
pub(super) struct Shared {
    pub(super) scope: Mutex<Scope>,
    pub(super) deadline: Mutex<Option<Instant>>,
    pub(super) denied: Mutex<Option<Error>>,
}

/// A connection set up for queries: functions, TEMP views, progress handler.
pub(super) struct QueryConn {
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
            // rusqlite reports a prepare error as either variant (`SqlInputError` when SQLite
            // gives the offending offset): both name the table or function the same way.
            rusqlite::Error::SqliteFailure(_, Some(msg))
            | rusqlite::Error::SqlInputError { msg, .. }
                if msg.starts_with("no such table") =>
            {
                query_error(Kind::Table, format!("{}; {msg}", VIEWS.join(", ")))
            }
            // A function SQLite does not have is one the query may not use either.
            rusqlite::Error::SqliteFailure(_, Some(msg))
            | rusqlite::Error::SqlInputError { msg, .. }
                if msg.starts_with("no such function") =>
            {
                query_error(Kind::Function, format!("{msg} (see server/ANALYTICS.md)"))
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
