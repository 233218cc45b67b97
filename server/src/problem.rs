//! Response envelopes: `{"meta":{"requestId"},"data"}` on success and the problem-details body
//! `{"meta":{"requestId"},"error":{title,detail,status,type,errors?}}` on failure (DESIGN.md §4,
//! the shape of Unkey's v2 errors). Errors are sent as `application/json`, as Unkey's v2 spec
//! declares them (`spec/error/responses.yaml`): the official SDKs only parse a typed error
//! (`NotFoundErrorResponse`, …) from an `application/json` answer.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keyshift_core::wire::{self, ErrorEnvelope, SuccessEnvelope};
use keyshift_core::{Error, ErrorCode, FieldError};
use serde::Serialize;

/// Base of the problem `type` URLs for errors Unkey also has: exactly the URLs Unkey's server
/// sends (`https://unkey.com/docs/errors/<system>/<category>/<specific>`, its `pkg/codes`).
pub const UNKEY_ERRORS: &str = "https://unkey.com/docs/errors/";
/// Base of the problem `type` URLs for keyshift-only problems (documented in server/README.md).
pub const KEYSHIFT_ERRORS: &str =
    "https://github.com/keyshift/keyshift/blob/main/server/README.md#";

/// Content type of error answers: `application/json`, as in Unkey's v2 spec (the official
/// SDKs match error bodies on it; `application/problem+json` makes them throw a generic error).
pub const ERROR_CONTENT_TYPE: &str = "application/json";

/// The per-request id (`req_…`), stored as a request extension by the middleware.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// A problem about to be answered.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: u16,
    pub kind: String,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<u64>,
    pub retry_after_ms: Option<u64>,
}

impl Problem {
    pub fn new(status: u16, kind: impl Into<String>, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            kind: kind.into(),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            retry_after_ms: None,
        }
    }

    /// A 400 naming the field (`location`) at fault.
    pub fn bad_request(kind: &str, location: &str, detail: impl Into<String>) -> Problem {
        let detail = detail.into();
        let mut p = Problem::new(400, format!("{UNKEY_ERRORS}{kind}"), detail.clone());
        p.errors.push(FieldError {
            location: location.to_string(),
            message: detail,
        });
        p
    }

    pub fn keyshift(status: u16, anchor: &str, detail: impl Into<String>) -> Problem {
        Problem::new(status, format!("{KEYSHIFT_ERRORS}{anchor}"), detail)
    }

    /// The problem for an engine error. `op` helps name the missing or conflicting resource.
    pub fn from_error(err: &Error, op: &str) -> Problem {
        let status = err
            .status
            .filter(|s| (400..=599).contains(s))
            .unwrap_or_else(|| err.code.status());
        let kind = match err.code {
            // A well-formed request this service cannot honour (e.g. recoverable keys).
            _ if status == 412 => "unkey/application/precondition_failed".to_string(),
            ErrorCode::BadRequest | ErrorCode::InvalidInput => {
                "unkey/application/invalid_input".to_string()
            }
            ErrorCode::Unauthorized => "unkey/authentication/key_not_found".to_string(),
            ErrorCode::Forbidden => "unkey/authorization/insufficient_permissions".to_string(),
            ErrorCode::NotFound => format!("unkey/data/{}_not_found", resource(err, op)),
            ErrorCode::Conflict => format!("unkey/data/{}_already_exists", resource(err, op)),
            ErrorCode::RateLimited => "unkey/rate_limited/rate_limited".to_string(),
            // ServerError, Io, Network, Timeout, and any code added later (non-exhaustive).
            _ => "unkey/application/unexpected_error".to_string(),
        };
        let mut errors = err.errors.clone();
        if errors.is_empty() {
            if let Some(field) = &err.field {
                errors.push(FieldError {
                    location: field.clone(),
                    message: err.message.clone(),
                });
            }
        }
        // A body that fails the request schema is worded as Unkey's validator words it.
        let detail = match err
            .message
            .strip_prefix(keyshift_engine::INVALID_BODY_PREFIX)
        {
            Some(rest) if status == 400 => {
                format!("POST request body for '/v2/{op}' failed to validate schema: {rest}")
            }
            _ => err.message.clone(),
        };
        Problem {
            status,
            kind: format!("{UNKEY_ERRORS}{kind}"),
            detail,
            errors,
            retry_after: err.retry_after.map(|s| s.max(0.0).ceil() as u64),
            retry_after_ms: err.retry_after.map(|s| (s.max(0.0) * 1000.0).ceil() as u64),
        }
    }

    pub fn into_response(self, request_id: &str) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // 400 answers always carry `errors` (Unkey marks it required there).
        let errors =
            (!self.errors.is_empty() || status == StatusCode::BAD_REQUEST).then_some(self.errors);
        let body = ErrorEnvelope::new(
            request_id,
            wire::Problem {
                title: title(status).to_string(),
                detail: self.detail,
                status: status.as_u16(),
                type_: self.kind,
                errors,
            },
        );
        let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut resp = (status, bytes).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(ERROR_CONTENT_TYPE),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(ms) = self.retry_after_ms {
            headers.insert("retry-after-ms", HeaderValue::from(ms));
        }
        resp
    }
}

/// A 200 success envelope.
pub fn success<D: Serialize, P: Serialize>(
    request_id: &str,
    data: &D,
    pagination: Option<&P>,
) -> Response {
    let body = SuccessEnvelope::new(request_id, data, pagination);
    match serde_json::to_vec(&body) {
        Ok(bytes) => {
            let mut resp = (StatusCode::OK, bytes).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => Problem::new(
            500,
            format!("{UNKEY_ERRORS}unkey/application/unexpected_error"),
            format!("could not encode the response: {e}"),
        )
        .into_response(request_id),
    }
}

fn title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflicting Resource",
        410 => "Gone",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => status.canonical_reason().unwrap_or("Error"),
    }
}

/// Which resource a not-found / conflict is about: from the message, else from the operation.
fn resource(err: &Error, op: &str) -> &'static str {
    let msg = err.message.to_ascii_lowercase();
    let first = |words: &[(&str, &'static str)]| {
        words
            .iter()
            .filter_map(|(w, r)| msg.find(w).map(|at| (at, *r)))
            .min_by_key(|(at, _)| *at)
            .map(|(_, r)| r)
    };
    if let Some(r) = first(&[
        ("portal", "portal"),
        ("role", "role"),
        ("permission", "permission"),
        ("identity", "identity"),
        ("api", "api"),
        ("key", "key"),
    ]) {
        return r;
    }
    let (group, name) = op.split_once('.').unwrap_or((op, ""));
    match group {
        "apis" => "api",
        "identities" => "identity",
        "permissions" if name.contains("Role") => "role",
        "permissions" => "permission",
        _ => "key",
    }
}
