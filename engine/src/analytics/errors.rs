//! The errors of an `analytics.getVerifications` query: each kind's message prefix and status,
//! and [`problem_kind`], which maps them back to Unkey's error types for the server.

use keyshift_core::{Error, ErrorCode};

/// Why a query was refused: Unkey's error type for it (see [`problem_kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
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

pub(super) fn query_error(kind: Kind, detail: impl std::fmt::Display) -> Error {
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
