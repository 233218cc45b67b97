//! Test-only fault switch.
//!
//! Off unless the server is started with [`crate::RouterOptions::faults`] = `true`
//! (`ServerConfig.router.faults`, `keyshift serve --enable-faults`). When off, the `X-Keyshift-Fault` header is ignored.
//! When on, a request carrying `X-Keyshift-Fault: <spec>` is faulted before it reaches the engine.
//! `<spec>` is a `;`-separated list of items:
//!
//! | item | effect |
//! |---|---|
//! | `status=N` | answer status `N` (400–599) as an error body without running the operation |
//! | `retry-after=S` | with `status`: add `Retry-After: S` (seconds) |
//! | `retry-after-ms=MS` | with `status`: add `retry-after-ms: MS` |
//! | `delay-ms=N` | sleep `N` ms (≤ 60000) first, then go on (alone: handled normally) |
//! | `drop` | close the connection without writing any response |
//! | `after-dispatch-status=N` | run the operation, then throw its answer away and answer `N` (a response lost after the write happened) |
//! | `fail-first=N` | apply the fault only to the first `N` attempts; later attempts are handled normally. Attempts are counted per server, keyed by the request's `Idempotency-Key` if present, else by the header value |
//! | `failed-null` | a successful `keys.migrateKeys` answer with nothing failed says `"failed": null`, as Unkey's server does |
//!
//! Examples: `status=503`, `status=429;retry-after=1`, `delay-ms=250`, `drop`,
//! `after-dispatch-status=503`, `fail-first=2;status=503`, `fail-first=1;drop`.
//! A spec that does not parse is answered with a 400 naming the bad item.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use crate::{AppState, DropConnection, Problem};

/// The request header that carries a fault spec.
pub const FAULT_HEADER: &str = "x-keyshift-fault";

/// Longest delay a spec may ask for.
pub const MAX_DELAY_MS: u64 = 60_000;

const MAX_COUNTERS: usize = 100_000;

/// A parsed `X-Keyshift-Fault` value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultSpec {
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub retry_after_ms: Option<u64>,
    pub delay_ms: Option<u64>,
    pub drop: bool,
    pub after_dispatch_status: Option<u16>,
    pub fail_first: Option<u32>,
    pub failed_null: bool,
}

impl FaultSpec {
    pub fn parse(spec: &str) -> Result<FaultSpec, String> {
        let mut out = FaultSpec::default();
        for item in spec.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n.trim().to_ascii_lowercase(), Some(v.trim())),
                None => (item.to_ascii_lowercase(), None),
            };
            let number = |what: &str| -> Result<u64, String> {
                let v = value.ok_or_else(|| format!("fault item `{what}` needs a value"))?;
                v.parse::<u64>()
                    .map_err(|_| format!("fault item `{what}` must be a whole number, got `{v}`"))
            };
            let status = |what: &str| -> Result<u16, String> {
                let n = number(what)?;
                if (400..=599).contains(&n) {
                    Ok(n as u16)
                } else {
                    Err(format!(
                        "fault item `{what}` must be a status 400-599, got {n}"
                    ))
                }
            };
            match name.as_str() {
                "status" => out.status = Some(status("status")?),
                "after-dispatch-status" => {
                    out.after_dispatch_status = Some(status("after-dispatch-status")?)
                }
                "retry-after" => out.retry_after = Some(number("retry-after")?),
                "retry-after-ms" => out.retry_after_ms = Some(number("retry-after-ms")?),
                "delay-ms" => {
                    let n = number("delay-ms")?;
                    if n > MAX_DELAY_MS {
                        return Err(format!(
                            "fault item `delay-ms` must be at most {MAX_DELAY_MS}"
                        ));
                    }
                    out.delay_ms = Some(n);
                }
                "fail-first" => {
                    let n = number("fail-first")?;
                    out.fail_first = Some(u32::try_from(n).map_err(|_| "fail-first too large")?);
                }
                "drop" => {
                    if value.is_some() {
                        return Err("fault item `drop` takes no value".into());
                    }
                    out.drop = true;
                }
                "failed-null" => {
                    if value.is_some() {
                        return Err("fault item `failed-null` takes no value".into());
                    }
                    out.failed_null = true;
                }
                _ => {
                    return Err(format!(
                        "unknown fault item `{name}` (known: status, retry-after, retry-after-ms, \
                         delay-ms, drop, after-dispatch-status, fail-first, failed-null)"
                    ))
                }
            }
        }
        if out == FaultSpec::default() {
            return Err("empty fault spec".into());
        }
        Ok(out)
    }
}

/// Attempt counters for `fail-first`.
#[derive(Default)]
pub struct FaultCounters {
    attempts: Mutex<HashMap<String, u32>>,
}

impl FaultCounters {
    /// Count one more attempt for `key` and return its 1-based number.
    pub fn next_attempt(&self, key: &str) -> u32 {
        let mut map = self.attempts.lock();
        if map.len() >= MAX_COUNTERS && !map.contains_key(key) {
            map.clear();
        }
        let n = map.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }
}

/// The fault switch around one request (when enabled): answers a fault itself, or runs the
/// request and then alters or discards its answer as the `X-Keyshift-Fault` header asks.
pub(crate) async fn around(st: &AppState, rid: &str, req: Request, next: Next) -> Response {
    let mut after_dispatch = None;
    let mut failed_null = false;
    if let Some(value) = req.headers().get(FAULT_HEADER) {
        match fault_decision(st, rid, value, req.headers()).await {
            Ok(FaultAction::None) => {}
            Ok(FaultAction::AfterDispatch(status)) => after_dispatch = Some(status),
            Ok(FaultAction::FailedNull) => failed_null = true,
            Ok(FaultAction::Answer(resp)) => return resp,
            Err(p) => return p.into_response(rid),
        }
    }
    let resp = next.run(req).await;
    match after_dispatch {
        Some(status) => {
            tracing::info!(request_id = %rid, dispatched_status = resp.status().as_u16(), "fault: answer discarded after dispatch");
            fault_problem(status, None, None).into_response(rid)
        }
        None if failed_null => null_empty_failed(resp, st.body_limit).await,
        None => resp,
    }
}

enum FaultAction {
    None,
    AfterDispatch(u16),
    FailedNull,
    Answer(Response),
}

/// The `failed-null` fault: a 200 answer whose `data.failed` is `[]` says `null` instead, as
/// Unkey's migrateKeys does when nothing failed.
async fn null_empty_failed(resp: Response, limit: usize) -> Response {
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit.saturating_mul(2)).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let rewritten = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|mut v| {
            let failed = v.get_mut("data")?.get_mut("failed")?;
            if failed.as_array().is_some_and(|a| a.is_empty()) {
                *failed = serde_json::Value::Null;
            }
            serde_json::to_vec(&v).ok()
        });
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(
        parts,
        Body::from(rewritten.unwrap_or_else(|| bytes.to_vec())),
    )
}

async fn fault_decision(
    st: &AppState,
    rid: &str,
    value: &HeaderValue,
    headers: &HeaderMap,
) -> Result<FaultAction, Problem> {
    let bad = |detail: String| {
        Problem::bad_request(
            "unkey/application/invalid_input",
            "header.X-Keyshift-Fault",
            detail,
        )
    };
    let raw = value
        .to_str()
        .map_err(|_| bad("X-Keyshift-Fault must be visible ASCII".into()))?;
    let spec = FaultSpec::parse(raw).map_err(bad)?;
    if let Some(n) = spec.fail_first {
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(|k| format!("idem:{k}"))
            .unwrap_or_else(|| format!("spec:{raw}"));
        if st.fault_counters.next_attempt(&key) > n {
            return Ok(FaultAction::None);
        }
    }
    if let Some(ms) = spec.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if spec.drop {
        let mut resp = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        resp.extensions_mut().insert(DropConnection);
        return Ok(FaultAction::Answer(resp));
    }
    if let Some(status) = spec.status {
        return Ok(FaultAction::Answer(
            fault_problem(status, spec.retry_after, spec.retry_after_ms).into_response(rid),
        ));
    }
    if let Some(status) = spec.after_dispatch_status {
        return Ok(FaultAction::AfterDispatch(status));
    }
    if spec.failed_null {
        return Ok(FaultAction::FailedNull);
    }
    Ok(FaultAction::None)
}

fn fault_problem(status: u16, retry_after: Option<u64>, retry_after_ms: Option<u64>) -> Problem {
    let mut p = Problem::keyshift(
        status,
        "fault_injected",
        format!("fault injected by X-Keyshift-Fault (status {status})"),
    );
    p.retry_after = retry_after;
    p.retry_after_ms = retry_after_ms;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_item() {
        let spec = FaultSpec::parse("fail-first=2; status=429; retry-after=1; delay-ms=5").unwrap();
        assert_eq!(spec.fail_first, Some(2));
        assert_eq!(spec.status, Some(429));
        assert_eq!(spec.retry_after, Some(1));
        assert_eq!(spec.delay_ms, Some(5));
        assert!(FaultSpec::parse("drop").unwrap().drop);
        assert!(FaultSpec::parse("failed-null").unwrap().failed_null);
        assert_eq!(
            FaultSpec::parse("after-dispatch-status=503")
                .unwrap()
                .after_dispatch_status,
            Some(503)
        );
    }

    #[test]
    fn rejects_bad_specs_with_a_reason() {
        for (spec, reason) in [
            ("", "empty"),
            ("status=200", "400-599"),
            ("status=abc", "`abc`"),
            ("explode", "`explode`"),
            ("delay-ms=999999", "60000"),
            ("drop=1", "no value"),
        ] {
            let err = FaultSpec::parse(spec).unwrap_err();
            assert!(err.contains(reason), "{spec:?}: {err}");
        }
    }

    #[test]
    fn counters_count_per_key() {
        let c = FaultCounters::default();
        assert_eq!(c.next_attempt("a"), 1);
        assert_eq!(c.next_attempt("a"), 2);
        assert_eq!(c.next_attempt("b"), 1);
    }
}
