//! The query connection's sandbox: the scoped TEMP view over the log, the five public views
//! read through it, the authorizer that lets a query read only those and call only
//! [`ALLOWED_FUNCTIONS`], and the progress handler that stops it at its deadline.

use std::sync::Arc;
use std::time::Instant;

use keyshift_core::{Error, Result};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::Connection;

use super::errors::{query_error, Kind};
use super::functions::{register_functions, ALLOWED_FUNCTIONS};
use super::log::MAX_RUN;
use super::query::Shared;
use crate::util::Db;

/// The five public views, as Unkey names them.
pub const VIEWS: [&str; 5] = [
    "key_verifications_v1",
    "key_verifications_per_minute_v1",
    "key_verifications_per_hour_v1",
    "key_verifications_per_day_v1",
    "key_verifications_per_month_v1",
];

/// Registers the functions, the scoped TEMP view and the five public views on `conn` (no
/// authorizer yet), and the progress handler. Returns the shared state and the scoped view's
/// name.
pub(super) fn setup(conn: &Connection) -> Result<(Arc<Shared>, String)> {
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

/// The authorizer of a query (see the module doc). Records why it refused in `shared.denied`.
pub(super) fn authorize(shared: &Shared, secret_view: &str, ctx: AuthContext<'_>) -> Authorization {
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
