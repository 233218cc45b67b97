//! Retention of the verification log: rows older than [`AnalyticsConfig::retention`] and
//! those beyond [`AnalyticsConfig::max_rows`] are deleted, by the writer thread once a minute
//! (in the transaction of a batch) or on [`crate::Engine::enforce_analytics_retention`].

use keyshift_core::Result;
use rusqlite::{params, Connection};

use super::AnalyticsConfig;
use crate::util::{now_ms, Db};

/// Deletes the rows `config` no longer keeps, in `tx` (the writer's open transaction).
pub(super) fn enforce(tx: &Connection, config: &AnalyticsConfig) -> Result<()> {
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
    Ok(())
}
