//! The route handlers: one for every operation (`POST /v2/<op>`), liveness, the OpenAPI
//! document, and the 404 / 405 fallbacks.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use keyshift_core::wire::Op;
use keyshift_core::Error;
use keyshift_engine::Step;

use crate::headers::{
    bearer, body_timed_out, check_content_type, content_length, idempotency_key,
    missing_authorization, shown_path, too_large,
};
use crate::request_id::request_id;
use crate::{problem, AppState, Problem, OPENAPI_JSON, UNKEY_ERRORS};

pub(crate) async fn liveness(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let rid = request_id(&req);
    let engine = st.engine.clone();
    match tokio::task::spawn_blocking(move || engine.liveness()).await {
        Ok(Ok(())) => problem::success(
            &rid,
            &serde_json::json!({"message": "OK"}),
            None::<&serde_json::Value>,
        ),
        Ok(Err(e)) => {
            let mut p = Problem::from_error(&e, "liveness");
            p.status = 503;
            p.kind = format!("{UNKEY_ERRORS}unkey/application/service_unavailable");
            p.into_response(&rid)
        }
        Err(e) => Problem::new(
            500,
            format!("{UNKEY_ERRORS}unkey/application/unexpected_error"),
            format!("liveness check failed: {e}"),
        )
        .into_response(&rid),
    }
}

pub(crate) async fn openapi() -> Response {
    let mut resp = OPENAPI_JSON.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) async fn not_found(req: Request) -> Response {
    let rid = request_id(&req);
    let path = shown_path(req.uri().path());
    Problem::keyshift(
        404,
        "route_not_found",
        format!(
            "no route {} {path}; operations are POST /v2/<group>.<op> (see GET /openapi.json)",
            req.method()
        ),
    )
    .into_response(&rid)
}

pub(crate) async fn method_not_allowed(req: Request) -> Response {
    let rid = request_id(&req);
    let path = req.uri().path();
    let allow = if path == "/v2/liveness" || path == "/openapi.json" {
        "GET"
    } else {
        "POST"
    };
    let mut resp = Problem::keyshift(
        405,
        "method_not_allowed",
        format!("{path} accepts {allow} only, not {}", req.method()),
    )
    .into_response(&rid);
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

pub(crate) async fn handle_op(st: Arc<AppState>, op: Op, req: Request) -> Response {
    let rid = request_id(&req);
    match run_op(&st, op, req).await {
        Ok(resp) => resp(&rid),
        Err(p) => {
            if p.status >= 500 {
                tracing::error!(request_id = %rid, op = op.name(), status = p.status, detail = %p.detail, "operation failed");
            }
            p.into_response(&rid)
        }
    }
}

type Answer = Box<dyn FnOnce(&str) -> Response + Send>;

async fn run_op(st: &AppState, op: Op, req: Request) -> Result<Answer, Problem> {
    let (parts, body) = req.into_parts();
    if content_length(&parts.headers).is_some_and(|n| n > st.body_limit as u64) {
        return Err(too_large(st.body_limit));
    }
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        return Err(missing_authorization());
    }
    check_content_type(&parts.headers)?;
    let idem = idempotency_key(&parts.headers)?.filter(|_| st.idempotency);
    let body = tokio::time::timeout(st.body_timeout, axum::body::to_bytes(body, st.body_limit))
        .await
        .map_err(|_| body_timed_out(st.body_timeout))?
        .map_err(|e| {
            let inner = e.into_inner();
            if inner
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                too_large(st.body_limit)
            } else {
                Problem::bad_request(
                    "unkey/application/invalid_input",
                    "body",
                    format!("could not read the request body: {inner}"),
                )
            }
        })?;
    // Unkey validates the body before it authenticates: a malformed header or an unknown root
    // key with an invalid body is the body's 400. Checked only on those error paths.
    let body_first = |auth: Problem, body: &[u8]| match keyshift_engine::validate_op(op, body) {
        Err(e) => Problem::from_error(&e, op.name()),
        Ok(()) => auth,
    };
    let root_key = match bearer(&parts.headers) {
        Ok(k) => k,
        Err(p) => return Err(body_first(p, &body)),
    };
    let portal_base = (op == Op::CreatePortalSession).then(|| parts.headers.clone());
    let kept = body.clone(); // a reference count, not a copy
                             // Verifications that only read finish right here; everything that may block (writes,
                             // bcrypt, a root key not seen yet) runs on the blocking pool.
    let result = match st.engine.start_op(root_key, op, body, idem) {
        Step::Done(result) => result,
        Step::Blocking(rest) => tokio::task::spawn_blocking(move || rest.run())
            .await
            .map_err(|e| {
                Problem::new(
                    500,
                    format!("{UNKEY_ERRORS}unkey/application/unexpected_error"),
                    format!("the operation did not complete: {e}"),
                )
            })?,
    };
    match result {
        Ok(mut reply) => {
            if let Some(headers) = &portal_base {
                // The engine answers the session URL as a path; the public base goes first.
                crate::portal::absolute_session_url(&st.portal, headers, &mut reply.data);
            }
            Ok(Box::new(move |rid: &str| {
                problem::success(rid, &reply.data, reply.pagination.as_ref())
            }))
        }
        Err(e) if e.code == keyshift_core::ErrorCode::Unauthorized => {
            Err(body_first(Problem::from_error(&e, op.name()), &kept))
        }
        Err(e) => {
            let mut p = Problem::from_error(&e, op.name());
            if let Some(kind) =
                keyshift_engine::analytics::problem_kind(&e).filter(|_| op == Op::GetVerifications)
            {
                p.kind = format!("{UNKEY_ERRORS}{kind}");
            }
            if is_query_syntax_error(op, &e, &kept) {
                p.kind = format!("{UNKEY_ERRORS}user/bad_request/permissions_query_syntax_error");
                // The parser's own words, as Unkey's detail (not a schema failure).
                if let Some(first) = p.errors.first() {
                    p.detail = format!("invalid permissions query: {}", first.message);
                }
            }
            Err(p)
        }
    }
}

/// Whether `err` refuses the `permissions` query of a `keys.verifyKey` for its syntax (Unkey's
/// `permissions_query_syntax_error`), not for the schema (a wrong type or length).
fn is_query_syntax_error(op: Op, err: &Error, body: &[u8]) -> bool {
    if op != Op::VerifyKey
        || err.code != keyshift_core::ErrorCode::BadRequest
        || err.field.as_deref() != Some("body.permissions")
    {
        return false;
    }
    #[derive(serde::Deserialize)]
    struct Query {
        permissions: String,
    }
    serde_json::from_slice::<Query>(body).is_ok_and(|q| {
        let n = q.permissions.chars().count();
        (1..=keyshift_core::wire::limits::PERMISSION_QUERY_MAX_LEN).contains(&n)
            && keyshift_core::query::parse_permission_query(&q.permissions).is_err()
    })
}
