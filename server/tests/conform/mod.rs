//! Helpers of the conformance suites (`conformance_*.rs`): the status, problem `type` and title
//! Unkey's own server answers, checked against a real `keyshift serve` (server/CONFORMANCE.md).
#![allow(dead_code)]

use crate::common::{assert_problem, TestServer};
use serde_json::{json, Value};

/// Base of the problem `type` URLs, exactly as Unkey's server builds them
/// (`pkg/codes`: `https://unkey.com/docs/errors/<system>/<category>/<specific>`).
pub const ERRORS: &str = "https://unkey.com/docs/errors/";

pub const INVALID_INPUT: &str = "unkey/application/invalid_input";
pub const MALFORMED: &str = "unkey/authentication/malformed";
pub const KEY_NOT_FOUND_AUTH: &str = "unkey/authentication/key_not_found";
pub const PRECONDITION_FAILED: &str = "unkey/application/precondition_failed";
pub const QUERY_SYNTAX: &str = "user/bad_request/permissions_query_syntax_error";
pub const API_NOT_FOUND: &str = "unkey/data/api_not_found";
pub const IDENTITY_ALREADY_EXISTS: &str = "unkey/data/identity_already_exists";
pub const IDENTITY_NOT_FOUND: &str = "unkey/data/identity_not_found";
pub const KEY_NOT_FOUND: &str = "unkey/data/key_not_found";
pub const PERMISSION_ALREADY_EXISTS: &str = "unkey/data/permission_already_exists";
pub const PERMISSION_NOT_FOUND: &str = "unkey/data/permission_not_found";
pub const ROLE_ALREADY_EXISTS: &str = "unkey/data/role_already_exists";
pub const ROLE_NOT_FOUND: &str = "unkey/data/role_not_found";

/// The `title` Unkey's error middleware gives each status.
pub fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        409 => "Conflicting Resource",
        412 => "Precondition Failed",
        _ => panic!("no conformance title for {status}"),
    }
}

/// Asserts the whole problem: status, `type` (exact URL), title and shape; returns `error`.
pub fn check(op: &str, got: u16, v: &Value, status: u16, kind: &str) -> Value {
    assert_eq!(got, status, "{op}: expected {status}, got {got}: {v}");
    assert_problem(v, status);
    let e = &v["error"];
    assert_eq!(e["type"], format!("{ERRORS}{kind}"), "{op}: type: {v}");
    assert_eq!(e["title"], title(status), "{op}: title: {v}");
    e.clone()
}

/// POSTs `body` with the server's root key and checks the problem; returns `error`.
pub async fn expect(s: &TestServer, op: &str, body: Value, status: u16, kind: &str) -> Value {
    expect_as(s, &s.root_key, op, body, status, kind).await
}

/// [`expect`] with another root key (another workspace's).
pub async fn expect_as(
    s: &TestServer,
    root: &str,
    op: &str,
    body: Value,
    status: u16,
    kind: &str,
) -> Value {
    let (got, v) = s.call_as(root, op, body).await;
    check(op, got, &v, status, kind)
}

/// What `op` with `body` creates in a second workspace ("other"): the `id_field` it answers.
pub async fn theirs(s: &TestServer, op: &str, body: Value, id_field: &str) -> String {
    let (_, other_root) = s.second_workspace("other").await;
    s.created_id_as(&other_root, op, body, id_field).await
}

/// An api of a second workspace.
pub async fn foreign_api(s: &TestServer) -> String {
    theirs(s, "apis.createApi", json!({"name": "theirs"}), "apiId").await
}

/// `op` with `body` is Unkey's 404 of `kind` ([`KEY_NOT_FOUND`], [`API_NOT_FOUND`], …).
pub async fn not_found(s: &TestServer, op: &str, body: Value, kind: &str) -> Value {
    expect(s, op, body, 404, kind).await
}

/// `op` with `body` is Unkey's 409 of `kind` ([`ROLE_ALREADY_EXISTS`], …).
pub async fn conflict(s: &TestServer, op: &str, body: Value, kind: &str) -> Value {
    expect(s, op, body, 409, kind).await
}

/// `op` with `first` succeeds; then `again` is Unkey's 409 of `kind` saying it already exists.
pub async fn second_is_conflict(s: &TestServer, op: &str, first: Value, again: Value, kind: &str) {
    s.ok(op, first).await;
    let e = conflict(s, op, again, kind).await;
    crate::common::assert_detail_has(&e, "already exists");
}

/// A request that violates Unkey's request schema: 400 `invalid_input` whose detail says so (as
/// Unkey's validator words it) and whose `errors[]` names `location` (`body.migrationId`, …).
pub async fn invalid(s: &TestServer, op: &str, body: Value, location: &str) -> Value {
    let e = expect(s, op, body, 400, INVALID_INPUT).await;
    assert_names(op, &e, location);
    e
}

/// Asserts `errors[]` of a 400 names `location`, and the detail is the schema failure.
pub fn assert_names(op: &str, e: &Value, location: &str) {
    let detail = e["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with(&format!(
            "POST request body for '/v2/{op}' failed to validate schema"
        )),
        "{op}: detail: {e}"
    );
    let locations: Vec<&str> = e["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["location"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        locations.contains(&location),
        "{op}: errors[] should name {location}, names {locations:?}: {e}"
    );
}

/// POST raw bytes (or no body) with the given headers; (status, JSON body).
pub async fn post_raw(
    s: &TestServer,
    op: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> (u16, Value) {
    let mut req = s.client.post(s.url(&format!("/v2/{op}")));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(body) = body {
        req = req.body(body.to_vec());
    }
    let resp = req.send().await.expect("request reaches the server");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{op}: not JSON ({e}): {text}"));
    (status, v)
}

/// POST raw bytes (or no body) with the server's root key and JSON content type ([`auth`]).
pub async fn post_as_root(s: &TestServer, op: &str, body: Option<&[u8]>) -> (u16, Value) {
    let headers = auth(s);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post_raw(s, op, &headers, body).await
}

/// A body that is no JSON object (or none at all), sent with the root key: 400 `invalid_input`;
/// returns `error`.
pub async fn bad_body(s: &TestServer, op: &str, body: Option<&[u8]>) -> Value {
    let (got, v) = post_as_root(s, op, body).await;
    check(op, got, &v, 400, INVALID_INPUT)
}

/// `Authorization: Bearer <the server's root key>` and JSON content type.
pub fn auth(s: &TestServer) -> Vec<(&'static str, String)> {
    vec![
        ("authorization", format!("Bearer {}", s.root_key)),
        ("content-type", "application/json".to_string()),
    ]
}

/// The answers to the same body under Unkey's three header cases: no `Authorization` (400
/// invalid_input), a malformed one (400 malformed) and an unknown root key (401).
pub async fn check_auth_cases(s: &TestServer, op: &str, body: &Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let json = ("content-type", "application/json");
    let (got, v) = post_raw(s, op, &[json], Some(&bytes)).await;
    let e = check(op, got, &v, 400, INVALID_INPUT);
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("Authorization header"),
        "{e}"
    );
    assert_eq!(e["errors"][0]["location"], "header.Authorization", "{e}");
    // Unkey's parser wants `Bearer ` exactly: another case of the scheme is malformed too.
    let lower = format!("bearer {}", s.root_key);
    for header in [
        "InvalidFormat",
        "malformed_header_without_bearer_prefix",
        "Bearer ",
        lower.as_str(),
    ] {
        let (got, v) = post_raw(s, op, &[json, ("authorization", header)], Some(&bytes)).await;
        let e = check(op, got, &v, 400, MALFORMED);
        assert!(e["detail"].as_str().unwrap().contains("Bearer"), "{e}");
    }
    for token in [
        "invalid_token_here",
        "sk_test_1234567890abcdef1234567890abcdef",
        "123",
        "not-a-valid-key-format",
        "two words",
    ] {
        let (got, v) = s.call_as(token, op, body.clone()).await;
        let e = check(op, got, &v, 401, KEY_NOT_FOUND_AUTH);
        // The request id is random hex: it may contain a short token like `123` by chance.
        let mut shown = v.clone();
        shown["meta"]["requestId"] = Value::Null;
        assert!(!shown.to_string().contains(token), "root key echoed: {v}");
        assert!(e["detail"].as_str().unwrap().contains("key"), "{e}");
    }
}
