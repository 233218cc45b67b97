//! `analytics.getVerifications` over HTTP (issue 16): verifications made through the server are
//! logged and queried through Unkey's five public views, scoped to the root key's workspace
//! (and to its `api.<id>.read_analytics` apis), with Unkey's error types for refused queries
//! and its 403 for a root key without `read_analytics`.

mod common;

use common::{assert_problem, TestServer};
use serde_json::{json, Value};

const ERRORS: &str = "https://unkey.com/docs/errors/";

/// `sql` is refused with `status` and the error type `{ERRORS}{kind}`.
async fn query_refused(s: &TestServer, root: &str, sql: &str, status: u16, kind: &str) {
    let (got, body) = query_as(s, root, sql).await;
    assert_eq!(got, status, "{sql}: {body}");
    assert_problem(&body, status);
    let expected = format!("{ERRORS}{kind}");
    assert_eq!(body["error"]["type"], expected, "{sql}: {body}");
}

async fn query_as(s: &TestServer, root: &str, sql: &str) -> (u16, Value) {
    s.call_as(root, "analytics.getVerifications", json!({ "query": sql }))
        .await
}

async fn rows_as(s: &TestServer, root: &str, sql: &str) -> Vec<Value> {
    let data = s
        .ok_as(root, "analytics.getVerifications", json!({ "query": sql }))
        .await;
    data.as_array()
        .unwrap_or_else(|| panic!("data is an array: {data}"))
        .clone()
}

async fn verify(s: &TestServer, key: &str, extra: Value) -> String {
    let mut body = json!({ "key": key });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    s.ok("keys.verifyKey", body).await["code"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An api with two keys of `user_1` verified 3 × VALID + 1 × INSUFFICIENT_PERMISSIONS and
/// 1 × DISABLED; returns the api id.
async fn seed(s: &TestServer) -> String {
    let api = s.create_api("analytics-api").await;
    let (_, key) = s
        .create_key(json!({"apiId": api, "externalId": "user_1", "permissions": ["a"]}))
        .await;
    let (_, off) = s
        .create_key(json!({"apiId": api, "externalId": "user_1", "enabled": false}))
        .await;
    for _ in 0..3 {
        assert_eq!(verify(s, &key, json!({})).await, "VALID");
    }
    assert_eq!(
        verify(s, &key, json!({"permissions": "b"})).await,
        "INSUFFICIENT_PERMISSIONS"
    );
    assert_eq!(verify(s, &off, json!({})).await, "DISABLED");
    api
}

#[tokio::test]
async fn every_view_answers_rows_of_the_verifications_made() {
    let s = common::start().await;
    let api = seed(&s).await;
    let root = s.root_key.clone();
    let rows = rows_as(
        &s,
        &root,
        "SELECT outcome, COUNT(*) AS count FROM key_verifications_v1 \
         GROUP BY outcome ORDER BY outcome",
    )
    .await;
    assert_eq!(
        rows,
        vec![
            json!({"outcome": "DISABLED", "count": 1}),
            json!({"outcome": "INSUFFICIENT_PERMISSIONS", "count": 1}),
            json!({"outcome": "VALID", "count": 3}),
        ]
    );
    for view in [
        "key_verifications_per_minute_v1",
        "key_verifications_per_hour_v1",
        "key_verifications_per_day_v1",
        "key_verifications_per_month_v1",
    ] {
        let rows = rows_as(
            &s,
            &root,
            &format!(
                "SELECT key_space_id, SUM(count) AS total FROM {view} \
                 WHERE external_id = 'user_1' GROUP BY key_space_id"
            ),
        )
        .await;
        assert_eq!(
            rows,
            vec![json!({"key_space_id": api, "total": 5})],
            "{view}"
        );
    }
}

#[tokio::test]
async fn a_root_key_sees_only_its_workspace() {
    let s = common::start().await;
    seed(&s).await;
    let engine = s.engine.clone();
    let ws_b = tokio::task::spawn_blocking(move || engine.create_workspace("b").unwrap())
        .await
        .unwrap();
    let root_b = s.root_with(Some(ws_b), &["*"]).await;
    let api_b = s.create_api_as(&root_b, "api-b").await;
    let (_, key_b) = s.create_key_as(&root_b, json!({"apiId": api_b})).await;
    let code = s
        .ok_as(&root_b, "keys.verifyKey", json!({"key": key_b}))
        .await["code"]
        .clone();
    assert_eq!(code, "VALID");

    let count = "SELECT COUNT(*) AS n FROM key_verifications_v1";
    assert_eq!(rows_as(&s, &root_b, count).await, vec![json!({"n": 1})]);
    let root_a = s.root_key.clone();
    assert_eq!(rows_as(&s, &root_a, count).await, vec![json!({"n": 5})]);
    // Workspace b cannot reach a's rows through the log table either.
    let sql = "WITH v AS (SELECT * FROM key_verifications) SELECT COUNT(*) FROM v";
    let kind = "user/bad_request/invalid_analytics_table";
    query_refused(&s, &root_b, sql, 400, kind).await;
}

#[tokio::test]
async fn refused_statements_answer_unkeys_error_types() {
    let s = common::start().await;
    seed(&s).await;
    let root = s.root_key.clone();
    for (sql, kind) in [
        (
            "DELETE FROM key_verifications",
            "invalid_analytics_query_type",
        ),
        (
            "PRAGMA journal_mode = DELETE",
            "invalid_analytics_query_type",
        ),
        (
            "ATTACH DATABASE 'x.db' AS x",
            "invalid_analytics_query_type",
        ),
        ("SELECT 1; SELECT 2", "invalid_analytics_query_type"),
        ("SELECT * FROM sqlite_master", "invalid_analytics_table"),
        ("SELECT zeroblob(10)", "invalid_analytics_function"),
        (
            "SELECT * FROM key_verifications_v1 WHERE invalid syntax here",
            "invalid_analytics_query",
        ),
        (
            "SELECT nonexistent_column FROM key_verifications_v1",
            "invalid_analytics_query",
        ),
        ("", "invalid_analytics_query"),
    ] {
        let kind = format!("user/bad_request/{kind}");
        query_refused(&s, &root, sql, 400, &kind).await;
    }
    let (status, body) = query_as(&s, &root, &format!("SELECT {}1", "1 + ".repeat(16 << 10))).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("maximum length"),
        "{body}"
    );
    let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n";
    let kind = "user/unprocessable_entity/query_rows_limit_exceeded";
    query_refused(&s, &root, sql, 422, kind).await;
    // Still logged, nothing changed.
    let rows = rows_as(&s, &root, "SELECT COUNT(*) AS n FROM key_verifications_v1").await;
    assert_eq!(rows, vec![json!({"n": 5})]);
}

#[tokio::test]
async fn read_analytics_is_required_and_scopes_by_api() {
    let s = common::start().await;
    let api = seed(&s).await;
    let other = s.create_api("other-api").await;
    let (_, key) = s.create_key(json!({"apiId": other})).await;
    assert_eq!(verify(&s, &key, json!({})).await, "VALID");

    let without = s
        .root_with(None, &["api.*.read_key", "api.*.verify_key"])
        .await;
    let (status, body) = query_as(&s, &without, "SELECT 1").await;
    assert_eq!(status, 403, "{body}");
    assert_problem(&body, 403);
    assert_eq!(
        body["error"]["type"],
        format!("{ERRORS}unkey/authorization/insufficient_permissions")
    );
    assert!(
        body["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("api.*.read_analytics"),
        "{body}"
    );

    let count = "SELECT COUNT(*) AS n FROM key_verifications_v1";
    let wildcard = s.root_with(None, &["api.*.read_analytics"]).await;
    assert_eq!(rows_as(&s, &wildcard, count).await, vec![json!({"n": 6})]);
    let one = s
        .root_with(None, &[&format!("api.{other}.read_analytics")])
        .await;
    assert_eq!(rows_as(&s, &one, count).await, vec![json!({"n": 1})]);
    let rows = rows_as(
        &s,
        &one,
        &format!("SELECT COUNT(*) AS n FROM key_verifications_v1 WHERE key_space_id = '{api}'"),
    )
    .await;
    assert_eq!(rows, vec![json!({"n": 0})]);

    let (status, _) = query_as(&s, "ks_root_not_a_real_key_0000000000", "SELECT 1").await;
    assert_eq!(status, 401);
}
