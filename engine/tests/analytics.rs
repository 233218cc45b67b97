//! Verification analytics (issue 16): the log written by verifications, the portal's buckets,
//! `analytics.getVerifications` (views, scoping, refused statements, limits) and retention.

mod common;

use std::time::Duration;

use common::*;
use keyshift_core::ErrorCode;
use keyshift_engine::analytics::problem_kind;
use keyshift_engine::{AnalyticsConfig, Engine, VerificationBucket, WorkspaceCtx};
use serde_json::{json, Value};

fn query(engine: &Engine, ctx: &WorkspaceCtx, sql: &str) -> Vec<Value> {
    match try_call(
        engine,
        ctx,
        "analytics.getVerifications",
        json!({ "query": sql }),
    ) {
        Ok(r) => r.data.as_array().expect("an array of rows").clone(),
        Err(e) => panic!("query {sql:?} failed: {e}"),
    }
}

fn query_err(engine: &Engine, ctx: &WorkspaceCtx, sql: &str) -> keyshift_core::Error {
    call_err(
        engine,
        ctx,
        "analytics.getVerifications",
        json!({ "query": sql }),
    )
}

/// Keys of `user_1` (one enabled, one disabled) and of `user_2`, verified a few times.
struct Seeded {
    env: Env,
    k1: String,
    k1_disabled: String,
    k2: String,
}

impl Seeded {
    /// The rows of `sql` as the seeded workspace's root key sees them.
    fn query(&self, sql: &str) -> Vec<Value> {
        query(&self.env.engine, &self.env.ctx, sql)
    }

    /// The portal's buckets of `external_id`'s keys (of `key` only with `Some`) in the seeded api.
    fn buckets(
        &self,
        external_id: &str,
        key: Option<&str>,
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<VerificationBucket> {
        let ws = &self.env.ctx.workspace_id;
        self.env
            .engine
            .verification_buckets(ws, &self.env.api_id, external_id, key, start_ms, end_ms)
            .unwrap()
    }
}

/// The verifications `ctx` sees in the raw view.
fn logged(engine: &Engine, ctx: &WorkspaceCtx) -> i64 {
    query(
        engine,
        ctx,
        "SELECT count(*) AS n FROM key_verifications_v1",
    )[0]["n"]
        .as_i64()
        .unwrap()
}

/// The sum of the integer column `col` over `rows`.
fn sum(rows: &[Value], col: &str) -> i64 {
    rows.iter().map(|r| r[col].as_i64().unwrap()).sum()
}

fn seeded() -> Seeded {
    let env = env();
    let (k1, key1) = env.create_key(json!({"externalId": "user_1", "permissions": ["a"]}));
    let (k1_disabled, key1d) = env.create_key(json!({"externalId": "user_1", "enabled": false}));
    let (k2, key2) = env.create_key(json!({"externalId": "user_2", "credits": {"remaining": 1}}));
    for _ in 0..3 {
        assert_eq!(env.code(&key1, json!({})), "VALID");
    }
    assert_eq!(
        env.code(&key1, json!({"permissions": "b"})),
        "INSUFFICIENT_PERMISSIONS"
    );
    assert_eq!(env.code(&key1d, json!({})), "DISABLED");
    assert_eq!(env.code(&key2, json!({})), "VALID");
    assert_eq!(env.code(&key2, json!({})), "USAGE_EXCEEDED");
    // Unknown keys are not logged (no key to log).
    assert_eq!(env.code("sk_nope_123456789", json!({})), "NOT_FOUND");
    Seeded {
        env,
        k1,
        k1_disabled,
        k2,
    }
}

#[test]
fn buckets_count_one_users_outcomes_per_minute() {
    let s = seeded();
    let now = now_ms();
    let b = s.buckets("user_1", None, now - 3_600_000, now + 60_000);
    assert_eq!(b.len(), 62, "one bucket per minute of the window");
    assert!(b.windows(2).all(|w| w[1].time - w[0].time == 60_000));
    let sum = |f: fn(&VerificationBucket) -> u64| b.iter().map(f).sum::<u64>();
    assert_eq!(sum(|x| x.total), 5);
    assert_eq!(sum(|x| x.valid), 3);
    assert_eq!(sum(|x| x.insufficient_permissions), 1);
    assert_eq!(sum(|x| x.disabled), 1);
    assert_eq!(sum(|x| x.usage_exceeded), 0);

    // One key of the user only.
    let only = |key: &str| {
        s.buckets("user_1", Some(key), now - 3_600_000, now + 60_000)
            .iter()
            .map(|x| x.total)
            .sum::<u64>()
    };
    assert_eq!(only(&s.k1), 4);
    assert_eq!(only(&s.k1_disabled), 1);
    // Another user's key under this user's name: nothing.
    assert_eq!(only(&s.k2), 0);

    let other = s.buckets("user_2", None, now - 3_600_000, now + 60_000);
    assert_eq!(other.iter().map(|x| x.total).sum::<u64>(), 2);
    assert_eq!(other.iter().map(|x| x.usage_exceeded).sum::<u64>(), 1);
    // Serialized as Unkey's portal data point.
    let point = serde_json::to_value(&other[0]).unwrap();
    for field in [
        "time",
        "total",
        "valid",
        "rateLimited",
        "insufficientPermissions",
    ] {
        assert!(point.get(field).is_some(), "{field} in {point}");
    }
}

#[test]
fn bucket_granularity_follows_the_window() {
    let env = env();
    let e = &env.engine;
    let ws = &env.ctx.workspace_id;
    let day = 86_400_000;
    let hours = e
        .verification_buckets(ws, &env.api_id, "u", None, 0, 3 * 3_600_000)
        .unwrap();
    assert_eq!(hours.len(), 3);
    assert_eq!(hours[1].time, 3_600_000);
    let days = e
        .verification_buckets(ws, &env.api_id, "u", None, 0, 10 * day)
        .unwrap();
    assert_eq!(days.len(), 10);
    assert_eq!(days[9].time, 9 * day);
    for (start, end) in [(10, 10), (10, 5), (0, 100_000 * day)] {
        let err = e
            .verification_buckets(ws, &env.api_id, "u", None, start, end)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput, "{start}..{end}");
    }
}

#[test]
fn raw_view_has_unkeys_columns_and_outcomes() {
    let s = seeded();
    let rows = s.query(
        "SELECT outcome, count(*) AS n FROM key_verifications_v1 GROUP BY outcome ORDER BY outcome",
    );
    assert_eq!(
        rows,
        vec![
            json!({"outcome": "DISABLED", "n": 1}),
            json!({"outcome": "INSUFFICIENT_PERMISSIONS", "n": 1}),
            json!({"outcome": "USAGE_EXCEEDED", "n": 1}),
            json!({"outcome": "VALID", "n": 4}),
        ]
    );
    let rows = s.query(
        "SELECT time, workspace_id, key_space_id, key_id, identity_id, external_id, outcome, \
         region, tags, spent_credits FROM key_verifications_v1 WHERE external_id = 'user_2' \
         ORDER BY time, outcome DESC",
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["key_id"], s.k2.as_str());
    assert_eq!(rows[0]["key_space_id"], s.env.api_id.as_str());
    assert_eq!(rows[0]["workspace_id"], s.env.ctx.workspace_id.as_str());
    assert_eq!(rows[0]["spent_credits"], 1, "the VALID one spent a credit");
    assert_eq!(rows[1]["spent_credits"], 0);
    assert!(rows[0]["identity_id"].as_str().unwrap().starts_with("id_"));
    assert!((now_ms() - rows[0]["time"].as_i64().unwrap()).abs() < 600_000);
}

#[test]
fn each_aggregate_view_sums_to_the_raw_count() {
    let s = seeded();
    for (view, unit) in [
        ("key_verifications_per_minute_v1", 60_000),
        ("key_verifications_per_hour_v1", 3_600_000),
        ("key_verifications_per_day_v1", 86_400_000),
    ] {
        let rows = s.query(&format!(
            "SELECT time, SUM(count) AS total, SUM(spent_credits) AS spent FROM {view} \
                 WHERE key_space_id = '{}' GROUP BY time",
            s.env.api_id
        ));
        assert_eq!(sum(&rows, "total"), 7, "{view}");
        assert!(
            rows.iter().all(|r| r["time"].as_i64().unwrap() % unit == 0),
            "{view}: {rows:?}"
        );
        assert_eq!(sum(&rows, "spent"), 1);
    }
    let rows = s.query(
        "SELECT time, outcome, count FROM key_verifications_per_month_v1 WHERE outcome = 'VALID' \
         AND time = toStartOfMonth(now())",
    );
    assert_eq!(rows.len(), 2, "one row per key: {rows:?}");
    assert_eq!(sum(&rows, "count"), 4);
    // The ClickHouse-named functions agree with the buckets.
    let rows = s.query(
        "SELECT toStartOfHour(time) AS h, toStartOfDay(time) AS d, toUnixTimestamp(time) AS s, \
         has(tags, 'x') AS t FROM key_verifications_v1 LIMIT 1",
    );
    let now = now_ms();
    assert_eq!(rows[0]["h"].as_i64().unwrap() % 3_600_000, 0);
    assert!((now / 1000 - rows[0]["s"].as_i64().unwrap()).abs() < 600);
    assert_eq!(rows[0]["t"], 0);
}

#[test]
fn tags_are_logged_and_queryable() {
    let env = env();
    let (_, key) = env.create_key(json!({}));
    env.verify(&key, json!({"tags": ["path=/a", "env=prod"]}));
    env.verify(&key, json!({"tags": ["path=/b"]}));
    let rows = query(
        &env.engine,
        &env.ctx,
        "SELECT count(*) AS n FROM key_verifications_v1 WHERE has(tags, 'path=/a')",
    );
    assert_eq!(rows, vec![json!({"n": 1})]);
    let rows = query(
        &env.engine,
        &env.ctx,
        "SELECT count(*) AS n FROM key_verifications_v1 \
         WHERE hasAny(tags, '[\"path=/b\", \"env=prod\"]')",
    );
    assert_eq!(rows, vec![json!({"n": 2})]);
}

#[test]
fn a_workspace_never_sees_another_workspaces_rows() {
    let s = seeded();
    let e = &s.env.engine;
    let ws_b = e.create_workspace("b").unwrap();
    let root_b = e.create_root_key(&ws_b).unwrap();
    let ctx_b = e.authenticate(root_b.expose()).unwrap();
    let api_b = call(e, &ctx_b, "apis.createApi", json!({"name": "bbb"}))["apiId"]
        .as_str()
        .unwrap()
        .to_string();
    let key_b = call(e, &ctx_b, "keys.createKey", json!({"apiId": api_b}))["key"]
        .as_str()
        .unwrap()
        .to_string();
    call(e, &ctx_b, "keys.verifyKey", json!({"key": key_b}));

    let count = |ctx: &WorkspaceCtx, view: &str, col: &str| {
        query(e, ctx, &format!("SELECT {col} AS n FROM {view}"))[0]["n"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(count(&s.env.ctx, "key_verifications_v1", "count(*)"), 7);
    assert_eq!(count(&ctx_b, "key_verifications_v1", "count(*)"), 1);
    for view in &keyshift_engine::analytics::VIEWS[1..] {
        assert_eq!(count(&s.env.ctx, view, "sum(count)"), 7, "{view}");
        assert_eq!(count(&ctx_b, view, "sum(count)"), 1, "{view}");
    }
    // Filtering by the other workspace's id finds nothing.
    let rows = query(
        e,
        &ctx_b,
        &format!(
            "SELECT count(*) AS n FROM key_verifications_v1 WHERE workspace_id = '{}'",
            s.env.ctx.workspace_id
        ),
    );
    assert_eq!(rows, vec![json!({"n": 0})]);
    // The log table is out of reach, whatever the query calls it.
    for sql in [
        "SELECT count(*) FROM key_verifications",
        "SELECT count(*) FROM \"KEY_VERIFICATIONS\"",
        "SELECT count(*) FROM (SELECT 1 FROM key_verifications)",
        "SELECT (SELECT count(*) FROM key_verifications)",
        "SELECT EXISTS (SELECT 1 FROM main.key_verifications)",
        "WITH n AS (SELECT 1 FROM key_verifications) SELECT count(*) FROM n",
        "SELECT count(*) FROM sqlite_master",
        "SELECT count(*) FROM pragma_table_info('key_verifications')",
        "SELECT count(*) FROM main.key_verifications",
        "WITH key_verifications_v1 AS (SELECT * FROM main.key_verifications) \
         SELECT count(*) FROM key_verifications_v1",
        "SELECT count(*) FROM (SELECT * FROM key_verifications) AS key_verifications_v1",
        "SELECT * FROM key_verifications_v1 WHERE key_id IN (SELECT key_id FROM key_verifications)",
    ] {
        let err = query_err(e, &ctx_b, sql);
        assert_eq!(err.code, ErrorCode::BadRequest, "{sql}");
        assert_eq!(
            problem_kind(&err),
            Some("user/bad_request/invalid_analytics_table"),
            "{sql}: {}",
            err.message
        );
    }
}

#[test]
fn statements_other_than_one_select_are_refused() {
    let s = seeded();
    let (e, ctx) = (&s.env.engine, &s.env.ctx);
    for (sql, kind) in [
        (
            "INSERT INTO key_verifications_v1 (outcome) VALUES ('VALID')",
            "invalid_analytics_query_type",
        ),
        (
            "DELETE FROM key_verifications",
            "invalid_analytics_query_type",
        ),
        (
            "UPDATE key_verifications SET outcome = 'VALID'",
            "invalid_analytics_query_type",
        ),
        (
            "DROP VIEW key_verifications_v1",
            "invalid_analytics_query_type",
        ),
        (
            "CREATE TEMP VIEW x AS SELECT 1",
            "invalid_analytics_query_type",
        ),
        (
            "PRAGMA table_info(key_verifications)",
            "invalid_analytics_query_type",
        ),
        (
            "ATTACH DATABASE ':memory:' AS other",
            "invalid_analytics_query_type",
        ),
        ("BEGIN", "invalid_analytics_query_type"),
        ("SELECT 1; SELECT 2", "invalid_analytics_query_type"),
        (
            "SELECT 1; DELETE FROM key_verifications",
            "invalid_analytics_query_type",
        ),
        ("SELECT * FROM sqlite_master", "invalid_analytics_table"),
        (
            "SELECT * FROM sqlite_temp_master",
            "invalid_analytics_table",
        ),
        ("SELECT * FROM keys", "invalid_analytics_table"),
        (
            "SELECT name FROM pragma_database_list",
            "invalid_analytics_table",
        ),
        // Not in our SQLite build (.cargo/config.toml), refused as any unknown table/function.
        ("SELECT * FROM dbstat", "invalid_analytics_table"),
        (
            "SELECT soundex(outcome) FROM key_verifications_v1",
            "invalid_analytics_function",
        ),
        ("SELECT no_such_fn(1)", "invalid_analytics_function"),
        ("SELECT load_extension('x')", "invalid_analytics_function"),
        ("SELECT zeroblob(1000000000)", "invalid_analytics_function"),
        (
            "SELECT printf('%s', outcome) FROM key_verifications_v1",
            "invalid_analytics_function",
        ),
        (
            "SELECT nonexistent_column FROM key_verifications_v1",
            "invalid_analytics_query",
        ),
        (
            "SELECT * FROM key_verifications_v1 WHERE invalid syntax here",
            "invalid_analytics_query",
        ),
        ("   ", "invalid_analytics_query"),
    ] {
        let err = query_err(e, ctx, sql);
        assert_eq!(err.code, ErrorCode::BadRequest, "{sql}");
        assert_eq!(err.status, Some(400), "{sql}");
        assert_eq!(
            problem_kind(&err),
            Some(format!("user/bad_request/{kind}").as_str()),
            "{sql}: {}",
            err.message
        );
    }
    // Nothing was changed by any of them.
    let rows = query(e, ctx, "SELECT count(*) AS n FROM key_verifications_v1");
    assert_eq!(rows, vec![json!({"n": 7})]);
    // A query longer than the limit is a schema 400.
    let long = format!("SELECT {}1", "1 + ".repeat(5_000));
    let err = query_err(e, ctx, &long);
    assert_eq!(err.code, ErrorCode::BadRequest);
    assert!(err.message.contains("maximum length"), "{}", err.message);
}

#[test]
fn heavy_queries_stop_at_the_row_and_time_limits() {
    let env = env();
    let (e, ctx) = (&env.engine, &env.ctx);
    let err = query_err(
        e,
        ctx,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n",
    );
    assert_eq!(err.status, Some(422), "{}", err.message);
    assert_eq!(
        problem_kind(&err),
        Some("user/unprocessable_entity/query_rows_limit_exceeded")
    );
    e.configure_analytics(AnalyticsConfig {
        query_time_limit: Duration::from_millis(200),
        ..AnalyticsConfig::default()
    });
    let err = query_err(
        e,
        ctx,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) \
         SELECT count(*) FROM n",
    );
    assert_eq!(err.status, Some(422), "{}", err.message);
    assert_eq!(
        problem_kind(&err),
        Some("user/unprocessable_entity/query_execution_timeout")
    );
    // The connection is usable afterwards.
    assert_eq!(query(e, ctx, "SELECT 1 AS one"), vec![json!({"one": 1})]);
}

#[test]
fn read_analytics_permission_scopes_or_refuses() {
    let s = seeded();
    let e = &s.env.engine;
    let ws = &s.env.ctx.workspace_id;
    let other_api = call(e, &s.env.ctx, "apis.createApi", json!({"name": "other"}))["apiId"]
        .as_str()
        .unwrap()
        .to_string();
    let key = call(e, &s.env.ctx, "keys.createKey", json!({"apiId": other_api}))["key"]
        .as_str()
        .unwrap()
        .to_string();
    s.env.verify(&key, json!({}));
    let ctx_with = |perms: &[&str]| {
        let root = e.create_root_key_with_permissions(ws, perms).unwrap();
        e.authenticate(root.expose()).unwrap()
    };
    let total = |ctx: &WorkspaceCtx| logged(e, ctx);
    assert_eq!(total(&ctx_with(&["api.*.read_analytics"])), 8);
    assert_eq!(
        total(&ctx_with(&[&format!("api.{other_api}.read_analytics")])),
        1
    );
    assert_eq!(
        total(&ctx_with(&[&format!(
            "api.{}.read_analytics",
            s.env.api_id
        )])),
        7
    );
    let err = query_err(
        e,
        &ctx_with(&["api.*.read_key", "api.*.verify_key"]),
        "SELECT 1",
    );
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(err.message.contains("api.*.read_analytics"), "{err}");
}

#[test]
fn retention_deletes_old_and_excess_rows() {
    let s = seeded();
    let e = &s.env.engine;
    let count = || logged(e, &s.env.ctx);
    assert_eq!(count(), 7);
    e.configure_analytics(AnalyticsConfig {
        max_rows: 3,
        ..AnalyticsConfig::default()
    });
    e.enforce_analytics_retention().unwrap();
    assert_eq!(count(), 3);
    // The newest are kept.
    let rows = s.query("SELECT outcome FROM key_verifications_v1 ORDER BY time DESC, outcome");
    assert!(
        rows.contains(&json!({"outcome": "USAGE_EXCEEDED"})),
        "{rows:?}"
    );
    e.configure_analytics(AnalyticsConfig {
        retention: Duration::ZERO,
        ..AnalyticsConfig::default()
    });
    std::thread::sleep(Duration::from_millis(5));
    e.enforce_analytics_retention().unwrap();
    assert_eq!(count(), 0);
}

#[test]
fn a_full_buffer_drops_and_counts_instead_of_waiting() {
    let env = env();
    let (_, key) = env.create_key(json!({}));
    env.engine.configure_analytics(AnalyticsConfig {
        buffer_capacity: 2,
        flush_interval: Duration::from_secs(3600),
        ..AnalyticsConfig::default()
    });
    env.engine.flush_verification_log().unwrap();
    for i in 0..5 {
        // Distinct tags: identical verifications would share one buffered event.
        assert_eq!(env.code(&key, json!({"tags": [format!("t{i}")]})), "VALID");
    }
    // The writer thread may have written some in between; what it did not take was dropped.
    let logged = logged(&env.engine, &env.ctx) as u64;
    assert_eq!(logged + env.engine.analytics_dropped(), 5);
    assert!(env.engine.analytics_dropped() >= 1);
}

#[test]
fn the_log_survives_reopening_and_works_in_memory() {
    let s = seeded();
    let path = s.env.path.clone();
    let ws = s.env.ctx.workspace_id.clone();
    drop(s.env.engine); // the last clone writes what is buffered
    let engine = Engine::open(&path).unwrap();
    let ctx = WorkspaceCtx {
        workspace_id: ws,
        root_key_id: "local".into(),
        grants: std::sync::Arc::new(keyshift_engine::Grants::all()),
    };
    let rows = query(
        &engine,
        &ctx,
        "SELECT count(*) AS n FROM key_verifications_v1",
    );
    assert_eq!(rows, vec![json!({"n": 7})]);

    let mem = Engine::open(":memory:").unwrap();
    let ctx = mem.local_workspace().unwrap();
    let api = call(&mem, &ctx, "apis.createApi", json!({"name": "mem"}))["apiId"]
        .as_str()
        .unwrap()
        .to_string();
    let key = call(
        &mem,
        &ctx,
        "keys.createKey",
        json!({"apiId": api, "externalId": "u"}),
    )["key"]
        .as_str()
        .unwrap()
        .to_string();
    call(&mem, &ctx, "keys.verifyKey", json!({"key": key}));
    assert_eq!(
        query(&mem, &ctx, "SELECT outcome FROM key_verifications_v1"),
        vec![json!({"outcome": "VALID"})]
    );
    assert_eq!(
        problem_kind(&query_err(&mem, &ctx, "DELETE FROM key_verifications")),
        Some("user/bad_request/invalid_analytics_query_type")
    );
    let now = now_ms();
    let b = mem
        .verification_buckets(&ctx.workspace_id, &api, "u", None, now - 60_000, now + 1)
        .unwrap();
    assert_eq!(b.iter().map(|x| x.valid).sum::<u64>(), 1);
    // The log still takes writes after a query on the same connection.
    call(&mem, &ctx, "keys.verifyKey", json!({"key": key}));
    assert_eq!(
        query(&mem, &ctx, "SELECT count(*) AS n FROM key_verifications_v1"),
        vec![json!({"n": 2})]
    );
}

#[test]
fn sqlite_and_clickhouse_named_functions_answer() {
    let env = env();
    let rows = query(
        &env.engine,
        &env.ctx,
        "SELECT if(1 > 0, 'y', 'n') AS a, floor(2.5) AS b, ceil(2.5) AS c, \
         toStartOfMonth(86400000 * 40) AS m, toStartOfYear(86400000 * 400) AS y, \
         toStartOfWeek(86400000 * 10) AS w, startsWith('path=/a', 'path=') AS s, \
         toInt64('42') AS i, toString(7) AS t",
    );
    assert_eq!(
        rows,
        vec![json!({
            "a": "y", "b": 2.0, "c": 3.0,
            "m": 86400000_i64 * 31, // 1970-02-01
            "y": 86400000_i64 * 365, // 1971-01-01
            "w": 86400000_i64 * 10, // 1970-01-11 was a Sunday
            "s": 1, "i": 42, "t": "7"
        })]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_client_logs_and_queries_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("local.db");
    let client = keyshift_engine::local_client(&path.to_string_lossy()).unwrap();
    let api = client.create_api("local-api").await.unwrap().api_id;
    let key = client
        .create_api_key(&keyshift_core::CreateKey::new(&api))
        .await
        .unwrap()
        .key;
    for _ in 0..2 {
        let v = client
            .verify(key.expose(), &keyshift_core::VerifyOptions::default())
            .await
            .unwrap();
        assert!(v.valid);
    }
    let rows = client
        .get_verifications(
            "SELECT key_space_id, count(*) AS n FROM key_verifications_v1 GROUP BY 1",
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["key_space_id"], api.as_str());
    assert_eq!(rows[0]["n"], 2);
    let err = client
        .get_verifications("DELETE FROM key_verifications")
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::BadRequest);
}

#[test]
fn many_verifications_of_one_key_are_each_counted() {
    let env = env();
    let (key_id, key) = env.create_key(json!({"externalId": "hot"}));
    for _ in 0..300 {
        assert_eq!(env.code(&key, json!({})), "VALID");
    }
    let rows = query(
        &env.engine,
        &env.ctx,
        "SELECT count(*) AS n, count(DISTINCT key_id) AS keys FROM key_verifications_v1",
    );
    assert_eq!(rows, vec![json!({"n": 300, "keys": 1})]);
    let rows = query(
        &env.engine,
        &env.ctx,
        "SELECT sum(count) AS n FROM key_verifications_per_minute_v1",
    );
    assert_eq!(rows, vec![json!({"n": 300})]);
    let now = now_ms();
    let b = env
        .engine
        .verification_buckets(
            &env.ctx.workspace_id,
            &env.api_id,
            "hot",
            Some(&key_id),
            now - 600_000,
            now + 1,
        )
        .unwrap();
    assert_eq!(b.iter().map(|x| x.valid).sum::<u64>(), 300);
}
