//! What is read from request headers: the bearer root key, the content type, the
//! idempotency key and the body's length; and how paths and content types are shown.

use axum::http::{header, HeaderMap};
use keyshift_core::SecretKey;

use crate::{Problem, UNKEY_ERRORS};

pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

pub(crate) fn too_large(limit: usize) -> Problem {
    Problem::new(
        413,
        format!("{UNKEY_ERRORS}user/bad_request/request_body_too_large"),
        format!("the request body exceeds the limit of {limit} bytes"),
    )
}

/// The 408 for a body that did not arrive in time (the client stalled after its headers).
pub(crate) fn body_timed_out(limit: std::time::Duration) -> Problem {
    Problem::keyshift(
        408,
        "request_timeout",
        format!(
            "the request body did not arrive within {} s",
            limit.as_secs_f32()
        ),
    )
}

/// The 400 for a request without `Authorization`, as Unkey's request validator answers it
/// (`invalid_input`, before anything else is looked at).
pub(crate) fn missing_authorization() -> Problem {
    let mut p = Problem::new(
        400,
        format!("{UNKEY_ERRORS}unkey/application/invalid_input"),
        "Authorization header for 'bearer' scheme",
    );
    p.errors.push(keyshift_core::FieldError {
        location: "header.Authorization".into(),
        message: "the Authorization header is missing; send `Authorization: Bearer <root key>`"
            .into(),
    });
    p
}

/// `Authorization: Bearer <root key>` → the root key, or the 400 for a malformed header
/// (`authentication/malformed`). A missing header is [`missing_authorization`].
pub(crate) fn bearer(headers: &HeaderMap) -> Result<SecretKey, Problem> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(missing_authorization());
    };
    let malformed = || {
        Problem::bad_request(
            "unkey/authentication/malformed",
            "header.Authorization",
            "You must provide a valid root key in the Authorization header in the format \
             'Bearer ROOT_KEY': the header is malformed or its token is empty.",
        )
    };
    // Two Authorization headers are ambiguous (a proxy may have checked the other one): never
    // pick one, refuse the request.
    if repeated(headers, header::AUTHORIZATION) {
        return Err(Problem::bad_request(
            "unkey/authentication/malformed",
            "header.Authorization",
            "You must provide exactly one Authorization header in the format 'Bearer ROOT_KEY': \
             the request carries several.",
        ));
    }
    // As Unkey's parser: `Bearer ` exactly (case-sensitive), then the trimmed token. A token
    // that is no root key (e.g. one with a space inside) is simply unknown: 401.
    let value = value.to_str().map_err(|_| malformed())?;
    let token = value
        .trim()
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or_else(malformed)?;
    if token.is_empty() {
        return Err(malformed());
    }
    Ok(SecretKey::new(token))
}

/// A Content-Type as error messages show it: its `type/subtype` when that is a media type
/// (a registered top-level type and a short token), else masked: header text could be a key.
fn shown_content_type(value: &str) -> String {
    const TOP_LEVEL: [&str; 10] = [
        "application",
        "audio",
        "example",
        "font",
        "image",
        "message",
        "model",
        "multipart",
        "text",
        "video",
    ];
    let essence = value.split(';').next().unwrap_or("").trim();
    let media_type = essence.split_once('/').is_some_and(|(top, sub)| {
        TOP_LEVEL.contains(&top.to_ascii_lowercase().as_str())
            && !sub.is_empty()
            && sub.len() <= 64
            && sub
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    });
    if media_type {
        essence.to_string()
    } else {
        keyshift_core::keyformat::shown_name(essence)
    }
}

/// A request path as answers and logs show it: `v2`, operation names (`keys.verifyKey`, or
/// anything of that shape made of plain words) and plain words as they are, every other
/// segment masked: a path could carry a key (`/v2/keys/sk_live_…`).
pub(crate) fn shown_path(path: &str) -> String {
    use keyshift_core::keyformat::shown_name;
    path.chars()
        .take(200)
        .collect::<String>()
        .split('/')
        .map(|segment| {
            let plain = |word: &str| shown_name(word) == word;
            let shown = segment.is_empty()
                || segment == "v2"
                || segment == "openapi.json"
                || plain(segment)
                || segment
                    .split_once('.')
                    .is_some_and(|(group, op)| plain(group) && plain(op));
            if shown {
                segment.to_string()
            } else {
                shown_name(segment)
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether `name` occurs more than once: ambiguous, so the request is refused.
fn repeated(headers: &HeaderMap, name: header::HeaderName) -> bool {
    headers.get_all(name).iter().nth(1).is_some()
}

pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), Problem> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(()); // lenient: the body must still be JSON
    };
    if repeated(headers, header::CONTENT_TYPE) {
        return Err(Problem::bad_request(
            "unkey/application/invalid_input",
            "header.Content-Type",
            "the request carries several Content-Type headers; send one: application/json",
        ));
    }
    let ok = value
        .to_str()
        .ok()
        .map(|v| {
            let essence = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        let shown = shown_content_type(&String::from_utf8_lossy(value.as_bytes()));
        Err(Problem::bad_request(
            "unkey/application/invalid_input",
            "header.Content-Type",
            format!(
                "the request body must be JSON (Content-Type: application/json), got `{shown}`"
            ),
        ))
    }
}

pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = |detail: &str| {
        Problem::bad_request(
            "unkey/application/invalid_input",
            "header.Idempotency-Key",
            detail,
        )
    };
    let key = value
        .to_str()
        .map_err(|_| bad("Idempotency-Key must be visible ASCII"))?
        .trim();
    if key.is_empty() || key.len() > keyshift_engine::IDEMPOTENCY_KEY_MAX_LEN {
        return Err(bad("Idempotency-Key must be 1 to 255 characters"));
    }
    Ok(Some(key.to_string()))
}
