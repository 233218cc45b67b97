//! The SQL functions of the query connection: [`ALLOWED_FUNCTIONS`] (what the authorizer lets
//! a query call), the ClickHouse-named ones registered here (times are unix ms) and the scope
//! functions the scoped view filters with.

use std::sync::Arc;

use keyshift_core::Result;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::query::Shared;
use crate::util::{civil_from_days, days_from_civil, now_ms, Db, DAY_MS, HOUR_MS, MINUTE_MS};

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

/// The ClickHouse-named functions (times are unix ms; see server/ANALYTICS.md) and the scope
/// functions of the scoped view.
pub(super) fn register_functions(conn: &Connection, shared: &Arc<Shared>) -> Result<()> {
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
