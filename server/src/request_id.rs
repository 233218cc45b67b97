//! Request ids (`req_` + 24 hex digits, also `X-Request-Id` / `X-Unkey-Request-Id` and
//! `meta.requestId`) and the access log around every request.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::headers::shown_path;
use crate::{faults, AppState, DropConnection, RequestId};

/// 12 random bytes per request id from a per-thread generator seeded once from the OS: request
/// ids are not secrets (never use this for keys), and a `getrandom` call per request costs a
/// syscall.
fn request_id_bytes() -> [u8; 12] {
    use std::cell::Cell;
    /// SplitMix64 step: a bijection of the counter, so ids from one thread never repeat
    /// within 2^64 draws; threads start at independent random points.
    fn splitmix(state: &Cell<u64>) -> u64 {
        let s = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn seed() -> [u64; 2] {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            // Not a secret: fall back to time, a counter and the thread.
            use std::sync::atomic::{AtomicU64, Ordering};
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            bytes[..8].copy_from_slice(&nanos.to_le_bytes());
            bytes[8..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        }
        let (a, b) = bytes.split_at(8);
        [
            u64::from_le_bytes(a.try_into().expect("8 bytes")),
            u64::from_le_bytes(b.try_into().expect("8 bytes")),
        ]
    }
    thread_local! {
        static STATE: [Cell<u64>; 2] = {
            let [a, b] = seed();
            [Cell::new(a), Cell::new(b)]
        };
    }
    STATE.with(|[a, b]| {
        let mut bytes = [0u8; 12];
        bytes[..8].copy_from_slice(&splitmix(a).to_le_bytes());
        bytes[8..].copy_from_slice(&splitmix(b).to_le_bytes()[..4]);
        bytes
    })
}

pub(crate) fn new_request_id() -> String {
    let bytes = request_id_bytes();
    let mut out = String::with_capacity(4 + 24);
    out.push_str("req_");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

/// The request id [`observe`] gave `req`.
pub(crate) fn request_id(req: &Request) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_else(new_request_id)
}

/// Request id, fault switch and access log around every request.
pub(crate) async fn observe(
    State(st): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let rid = new_request_id();
    req.extensions_mut().insert(RequestId(rid.clone()));
    let method = req.method().clone();
    let path = shown_path(req.uri().path());

    let mut resp = if st.faults {
        faults::around(&st, &rid, req, next).await
    } else {
        next.run(req).await
    };
    if let Ok(v) = HeaderValue::from_str(&rid) {
        resp.headers_mut().insert("x-request-id", v.clone());
        resp.headers_mut().insert("x-unkey-request-id", v);
    }
    let dropped = resp.extensions().get::<DropConnection>().is_some();
    tracing::info!(
        target: "keyshift_server::access",
        request_id = %rid,
        method = %method,
        path = %path,
        op = path.strip_prefix("/v2/").unwrap_or(""),
        status = resp.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        dropped,
        "request"
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::new_request_id;
    use std::collections::HashSet;

    #[test]
    fn request_ids_are_well_formed_and_unique_across_threads() {
        let per_thread: Vec<Vec<String>> = (0..4)
            .map(|_| std::thread::spawn(|| (0..20_000).map(|_| new_request_id()).collect()))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let mut seen = HashSet::new();
        for id in per_thread.iter().flatten() {
            assert_eq!(id.len(), 28, "{id}");
            assert!(id.starts_with("req_"), "{id}");
            assert!(id[4..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            assert!(seen.insert(id.clone()), "duplicate request id {id}");
        }
        // two threads do not start from the same point
        assert_ne!(per_thread[0][0], per_thread[1][0]);
    }
}
