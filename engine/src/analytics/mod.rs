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
//!
//! # Layout
//! - `log.rs` — the in-memory buffer, the writer thread and the log file ([`AnalyticsConfig`]
//!   is applied there); `retention.rs` — deleting rows past the retention or the row limit.
//! - `buckets.rs` — [`Engine::verification_buckets`], the portal's chart.
//! - `query.rs` — `analytics.getVerifications`: the root key's scope and the query runner;
//!   `sandbox.rs` — the query connection's views, authorizer and progress handler;
//!   `functions.rs` — the SQL functions a query may call ([`ALLOWED_FUNCTIONS`]);
//!   `errors.rs` — the query's errors and their Unkey types ([`problem_kind`]).

use std::time::Duration;

pub use keyshift_core::wire::VerificationBucket;

#[cfg(doc)]
use crate::Engine;

mod buckets;
mod errors;
mod functions;
mod log;
mod query;
mod retention;
mod sandbox;

pub use errors::problem_kind;
pub use functions::ALLOWED_FUNCTIONS;
pub(crate) use log::{spawn_writer, Pending, VerificationLog};
pub use sandbox::VIEWS;

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
