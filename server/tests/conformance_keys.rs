//! Conformance of the `keys.*` operations with Unkey's server: for each scenario of Unkey's route
//! tests (`svc/api/routes/v2_keys_*/{400,401,404,409,412}_test.go`) and each required field and
//! type of its v2 request schemas, the same status, problem `type` and title. The list of files
//! and the known differences are in server/CONFORMANCE.md.

mod common;
mod conform;

use common::{start, start_with_api, TestServer};
use conform::*;
use serde_json::{json, Value};

async fn api_and_key(s: &TestServer, body: Value) -> (String, String, String) {
    let api = s.create_api("conformance").await;
    let mut body = body;
    body["apiId"] = json!(api);
    let (key_id, key) = s.create_key(body).await;
    (api, key_id, key)
}

// ---------------------------------------------------------------------------------------------
// keys.verifyKey
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_migration_id_null_is_400_naming_body_migration_id() {
    let s = start().await;
    let (_, _, key) = api_and_key(&s, json!({})).await;
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "migrationId": null}),
        "body.migrationId",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_null_for_any_optional_field_is_400_naming_it() {
    let s = start().await;
    let (_, _, key) = api_and_key(&s, json!({})).await;
    for field in [
        "tags",
        "permissions",
        "credits",
        "ratelimits",
        "migrationId",
    ] {
        invalid(
            &s,
            "keys.verifyKey",
            json!({"key": key, field: null}),
            &format!("body.{field}"),
        )
        .await;
    }
    for (field, value) in [
        ("cost", json!(null)),
        ("limit", json!(null)),
        ("duration", json!(null)),
    ] {
        invalid(
            &s,
            "keys.verifyKey",
            json!({"key": key, "ratelimits": [{"name": "requests", field: value}]}),
            &format!("body.ratelimits[0].{field}"),
        )
        .await;
    }
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "credits": {"cost": null}}),
        "body.credits.cost",
    )
    .await;
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "tags": [null]}),
        "body.tags[0]",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_missing_or_empty_or_null_key_is_400_naming_body_key() {
    let s = start().await;
    for body in [
        json!({}),
        json!({"key": ""}),
        json!({"key": null}),
        json!({"key": 42}),
    ] {
        invalid(&s, "keys.verifyKey", body, "body.key").await;
    }
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": "k".repeat(513)}),
        "body.key",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_without_a_body_is_400() {
    let s = start().await;
    for body in [None, Some(&b""[..]), Some(&b"  \n"[..])] {
        let e = bad_body(&s, "keys.verifyKey", body).await;
        assert_eq!(e["errors"][0]["location"], "body", "{e}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_negative_costs_and_missing_credit_cost_are_400() {
    let s = start().await;
    let (_, _, key) = api_and_key(&s, json!({})).await;
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "ratelimits": [{"name": "test", "cost": -1, "limit": 10, "duration": 60000}]}),
        "body.ratelimits[0].cost",
    )
    .await;
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "credits": {"cost": -1}}),
        "body.credits.cost",
    )
    .await;
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "credits": {}}),
        "body.credits.cost",
    )
    .await;
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "credits": {"cost": "5"}}),
        "body.credits.cost",
    )
    .await;
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "ratelimits": [{"name": "ab"}]}),
        "body.ratelimits[0].name",
    )
    .await;
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "ratelimits": [{"limit": 1}]}),
        "body.ratelimits[0].name",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_tags_accept_any_string_within_limits() {
    let s = start().await;
    let (_, _, key) = api_and_key(&s, json!({})).await;
    let twenty: Vec<String> = (0..20).map(|i| format!("tag-{i}")).collect();
    for tags in [
        json!([
            "hello world!",
            "café",
            "key=value&foo=bar",
            "path/to/thing?query=1"
        ]),
        json!(["日本語タグ", "émojis 🎉🚀", "Ünïcödé"]),
        json!(["  leading", "trailing  ", "  both  ", "mid dle"]),
        json!(twenty),
    ] {
        let data = s.verify(json!({"key": key, "tags": tags})).await;
        assert_eq!(data["code"], "VALID", "{tags}: {data}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_tags_over_limits_are_400() {
    let s = start().await;
    let (_, _, key) = api_and_key(&s, json!({})).await;
    let many: Vec<String> = (0..21).map(|i| format!("tag-{i}")).collect();
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "tags": many}),
        "body.tags",
    )
    .await;
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "tags": ["valid", ""]}),
        "body.tags[1]",
    )
    .await;
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "tags": ["\u{0}".repeat(513)]}),
        "body.tags[0]",
    )
    .await;
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "tags": "not-an-array"}),
        "body.tags",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_permission_query_syntax_errors_are_400_permissions_query_syntax_error() {
    let s = start().await;
    let (_, _, key) = api_and_key(&s, json!({})).await;
    for query in [
        "permission_1 AND",
        "(permission_1 AND permission_2",
        "permission_1 AND ()",
        "AND permission_1",
    ] {
        let e = expect(
            &s,
            "keys.verifyKey",
            json!({"key": key, "permissions": query}),
            400,
            QUERY_SYNTAX,
        )
        .await;
        assert_eq!(e["errors"][0]["location"], "body.permissions", "{e}");
    }
    // The schema's limits stay plain invalid_input.
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "permissions": ""}),
        "body.permissions",
    )
    .await;
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "permissions": "a".repeat(1001)}),
        "body.permissions",
    )
    .await;
    invalid(
        &s,
        "keys.verifyKey",
        json!({"key": key, "migrationId": "m".repeat(257)}),
        "body.migrationId",
    )
    .await;
    s.stop().await;
}

/// Unkey looks the key up before it parses the query: an unknown key is NOT_FOUND whatever the
/// query (checked against Unkey's server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_query_syntax_error_with_unknown_key_is_200_not_found() {
    let s = start().await;
    let (_, key_id, key) = api_and_key(&s, json!({})).await;
    for unknown in ["sk_nonexistent_123", "test_2ZpXpBZ6d9uXhVgm5qE9Zm"] {
        let data = s
            .verify(json!({"key": unknown, "permissions": "a AND"}))
            .await;
        assert_eq!(data["code"], "NOT_FOUND", "{data}");
    }
    // a disabled key exists: its query is checked
    s.ok("keys.updateKey", json!({"keyId": key_id, "enabled": false}))
        .await;
    expect(
        &s,
        "keys.verifyKey",
        json!({"key": key, "permissions": "a AND"}),
        400,
        QUERY_SYNTAX,
    )
    .await;
    // a deleted key does not
    s.ok("keys.deleteKey", json!({"keyId": key_id})).await;
    let data = s.verify(json!({"key": key, "permissions": "a AND"})).await;
    assert_eq!(data["code"], "NOT_FOUND", "{data}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_auth_header_missing_malformed_unknown_are_400_400_401() {
    let s = start().await;
    let (_, _, key) = api_and_key(&s, json!({})).await;
    check_auth_cases(&s, "keys.verifyKey", &json!({"key": key})).await;
    s.stop().await;
}

/// Unkey validates the body against its schema before it looks the root key up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_body_with_unknown_or_malformed_root_key_is_400_not_401() {
    let s = start().await;
    for (op, body, location) in [
        ("keys.verifyKey", json!({"key": ""}), "body.key"),
        ("keys.getKey", json!({"keyId": ""}), "body.keyId"),
        ("keys.createKey", json!({}), "body.apiId"),
        ("apis.createApi", json!({"name": "ab"}), "body.name"),
    ] {
        let (got, v) = s
            .call_as("invalid_key_format_not_uid", op, body.clone())
            .await;
        let e = check(op, got, &v, 400, INVALID_INPUT);
        assert_names(op, &e, location);
        let bytes = serde_json::to_vec(&body).unwrap();
        let (got, v) = post_raw(
            &s,
            op,
            &[
                ("content-type", "application/json"),
                ("authorization", "malformed_header"),
            ],
            Some(&bytes),
        )
        .await;
        let e = check(op, got, &v, 400, INVALID_INPUT);
        assert_names(op, &e, location);
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_unknown_deleted_or_foreign_key_is_200_not_found() {
    let s = start().await;
    let (_, key_id, key) = api_and_key(&s, json!({})).await;
    let data = s
        .verify(json!({"key": "test_2ZpXpBZ6d9uXhVgm5qE9Zm"}))
        .await;
    assert_eq!(
        (&data["valid"], &data["code"]),
        (&json!(false), &json!("NOT_FOUND"))
    );
    s.ok("keys.deleteKey", json!({"keyId": key_id})).await;
    let data = s.verify(json!({"key": key})).await;
    assert_eq!(
        (&data["valid"], &data["code"]),
        (&json!(false), &json!("NOT_FOUND"))
    );
    let (_, other_root) = s.second_workspace("other").await;
    let (_, _, mine) = api_and_key(&s, json!({})).await;
    let (status, v) = s
        .call_as(&other_root, "keys.verifyKey", json!({"key": mine}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["code"], "NOT_FOUND", "{v}");
    s.stop().await;
}

/// Unkey's 200 cases "key with credits": remaining after each verification, and the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_credit_costs_as_unkey_counts_them() {
    let s = start().await;
    for (remaining, cost, code, left) in [
        (5, None, "VALID", 4),
        (0, None, "USAGE_EXCEEDED", 0),
        (5, Some(5), "VALID", 0),
        (5, Some(15), "USAGE_EXCEEDED", 5),
        (0, Some(0), "VALID", 0),
    ] {
        let (_, _, key) = api_and_key(&s, json!({"credits": {"remaining": remaining}})).await;
        let mut body = json!({"key": key});
        if let Some(cost) = cost {
            body["credits"] = json!({"cost": cost});
        }
        let data = s.verify(body).await;
        assert_eq!(
            data["code"], code,
            "remaining {remaining}, cost {cost:?}: {data}"
        );
        assert_eq!(
            data["credits"], left,
            "remaining {remaining}, cost {cost:?}: {data}"
        );
    }
    s.stop().await;
}

/// Known difference (server/CONFORMANCE.md): Unkey answers 412 when a verify names a rate limit
/// defined on neither the key nor its identity and gives no inline limit and duration; keyshift
/// answers 400 `invalid_input` naming `body.ratelimits`, since it is the request that is wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_undefined_ratelimit_without_inline_limit_is_400_where_unkey_says_412() {
    let (s, api) = start_with_api("ratelimits").await;
    s.ok(
        "identities.createIdentity",
        json!({"externalId": "test-missing-ratelimit", "ratelimits": [
            {"name": "existing-ratelimit", "limit": 100, "duration": 60000, "autoApply": false}
        ]}),
    )
    .await;
    let (_, with_identity) = s
        .create_key(json!({"apiId": api, "externalId": "test-missing-ratelimit"}))
        .await;
    let (_, without) = s
        .create_key(json!({"apiId": api, "ratelimits": [
            {"name": "existing-ratelimit", "limit": 100, "duration": 60000, "autoApply": false}
        ]}))
        .await;
    let (_, plain) = s.create_key(json!({"apiId": api})).await;
    for (key, rl) in [
        (&with_identity, json!({"name": "does-not-exist"})),
        (&without, json!({"name": "does-not-exist"})),
        (&plain, json!({"name": "missing_config", "cost": 4})),
    ] {
        let e = expect(
            &s,
            "keys.verifyKey",
            json!({"key": key, "ratelimits": [rl]}),
            400,
            INVALID_INPUT,
        )
        .await;
        assert_eq!(e["errors"][0]["location"], "body.ratelimits", "{e}");
    }
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// keys.createKey
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_schema_violations_are_400_naming_the_field() {
    let (s, api) = start_with_api("create").await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "body.apiId"),
        (json!({"apiId": ""}), "body.apiId"),
        (json!({"apiId": "ab"}), "body.apiId"),
        (json!({"apiId": null}), "body.apiId"),
        (json!({"apiId": api, "byteLength": 10}), "body.byteLength"),
        (json!({"apiId": api, "byteLength": 300}), "body.byteLength"),
        (json!({"apiId": api, "byteLength": "16"}), "body.byteLength"),
        (
            json!({"apiId": api, "prefix": "this_prefix_is_way_too_long_for_the_api"}),
            "body.prefix",
        ),
        (json!({"apiId": api, "expires": -1}), "body.expires"),
        (
            json!({"apiId": api, "permissions": [""]}),
            "body.permissions[0]",
        ),
        (json!({"apiId": api, "roles": [""]}), "body.roles[0]"),
        (
            json!({"apiId": api, "permissions": ["a".repeat(513)]}),
            "body.permissions[0]",
        ),
        (
            json!({"apiId": api, "roles": ["a".repeat(513)]}),
            "body.roles[0]",
        ),
        (json!({"apiId": api, "enabled": "yes"}), "body.enabled"),
        (json!({"apiId": api, "meta": []}), "body.meta"),
        // credits.remaining is required (it may be null)
        (
            json!({"apiId": api, "credits": {}}),
            "body.credits.remaining",
        ),
        (
            json!({"apiId": api, "credits": {"remaining": 5, "refill": {"interval": "daily"}}}),
            "body.credits.refill.amount",
        ),
        (
            json!({"apiId": api, "credits": {"remaining": 5, "refill": {"amount": 5}}}),
            "body.credits.refill.interval",
        ),
        (
            json!({"apiId": api, "credits": {"remaining": 5, "refill": {"interval": "weekly", "amount": 5}}}),
            "body.credits.refill.interval",
        ),
        // ratelimits[].autoApply is required
        (
            json!({"apiId": api, "ratelimits": [{"name": "requests", "limit": 10, "duration": 1000}]}),
            "body.ratelimits[0].autoApply",
        ),
        (
            json!({"apiId": api, "ratelimits": [{"name": "requests", "limit": 10, "autoApply": true}]}),
            "body.ratelimits[0].duration",
        ),
        (
            json!({"apiId": api, "ratelimits": [{"name": "requests", "duration": 1000, "autoApply": true}]}),
            "body.ratelimits[0].limit",
        ),
        (
            json!({"apiId": api, "ratelimits": [{"limit": 10, "duration": 1000, "autoApply": true}]}),
            "body.ratelimits[0].name",
        ),
    ];
    for (body, location) in cases {
        invalid(&s, "keys.createKey", body, location).await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_null_for_any_non_nullable_field_is_400_naming_it() {
    let (s, api) = start_with_api("create").await;
    for field in [
        "prefix",
        "name",
        "byteLength",
        "externalId",
        "meta",
        "roles",
        "permissions",
        "expires",
        "credits",
        "ratelimits",
        "enabled",
        "recoverable",
    ] {
        invalid(
            &s,
            "keys.createKey",
            json!({"apiId": api, field: null}),
            &format!("body.{field}"),
        )
        .await;
    }
    for (field, value) in [
        ("interval", json!(null)),
        ("amount", json!(null)),
        ("refillDay", json!(null)),
    ] {
        let mut refill = json!({"interval": "monthly", "amount": 5, "refillDay": 1});
        refill[field] = value;
        invalid(
            &s,
            "keys.createKey",
            json!({"apiId": api, "credits": {"remaining": 5, "refill": refill}}),
            &format!("body.credits.refill.{field}"),
        )
        .await;
    }
    invalid(
        &s,
        "keys.createKey",
        json!({"apiId": api, "ratelimits": [{"name": "requests", "limit": 1, "duration": 1000, "autoApply": null}]}),
        "body.ratelimits[0].autoApply",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_credits_remaining_null_with_refill_is_400_without_refill_is_200() {
    let (s, api) = start_with_api("credits").await;
    let e = invalid(
        &s,
        "keys.createKey",
        json!({"apiId": api, "credits": {"remaining": null, "refill": {"interval": "daily", "amount": 100}}}),
        "body.credits.remaining",
    )
    .await;
    common::assert_detail_has(&e, "credits.remaining");
    let (key_id, _) = s
        .create_key(json!({"apiId": api, "credits": {"remaining": null}}))
        .await;
    let got = s.ok("keys.getKey", json!({"keyId": key_id})).await;
    assert!(
        got["credits"].is_null() || got["credits"]["remaining"].is_null(),
        "{got}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_monthly_refill_without_refill_day_is_400() {
    let (s, api) = start_with_api("refill").await;
    let e = invalid(
        &s,
        "keys.createKey",
        json!({"apiId": api, "credits": {"remaining": 10, "refill": {"interval": "monthly", "amount": 10}}}),
        "body.credits.refill.refillDay",
    )
    .await;
    common::assert_detail_has(&e, "must be provided when the refill interval is `monthly`");
    // daily with a refillDay is accepted (the day is meaningless and ignored, as in Unkey)
    s.create_key(json!({"apiId": api, "credits": {"remaining": 10, "refill": {"interval": "daily", "amount": 10, "refillDay": 4}}}))
        .await;
    s.create_key(json!({"apiId": api, "credits": {"remaining": 10, "refill": {"interval": "monthly", "amount": 10, "refillDay": 31}}}))
        .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_unknown_api_is_404_api_not_found() {
    let s = start().await;
    for api in ["api_2ZpXpBZ6d9uXhVgm5qE9Zm", "api_1234567890abcdef", "api"] {
        not_found(&s, "keys.createKey", json!({"apiId": api}), API_NOT_FOUND).await;
    }
    // another workspace's api, and a deleted api
    let theirs = foreign_api(&s).await;
    let deleted = s.create_api("deleted").await;
    s.ok("apis.deleteApi", json!({"apiId": deleted})).await;
    for api in [theirs, deleted] {
        not_found(&s, "keys.createKey", json!({"apiId": api}), API_NOT_FOUND).await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_recoverable_is_412_precondition_failed() {
    let (s, api) = start_with_api("recoverable").await;
    expect(
        &s,
        "keys.createKey",
        json!({"apiId": api, "recoverable": true}),
        412,
        PRECONDITION_FAILED,
    )
    .await;
    // recoverable: false is the default and fine
    s.create_key(json!({"apiId": api, "recoverable": false}))
        .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_unknown_role_is_404_role_not_found() {
    let (s, api) = start_with_api("roles").await;
    let e = not_found(
        &s,
        "keys.createKey",
        json!({"apiId": api, "roles": ["no_such_role"]}),
        ROLE_NOT_FOUND,
    )
    .await;
    common::assert_detail_has(&e, "no_such_role");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_auth_header_missing_malformed_unknown_are_400_400_401() {
    let (s, api) = start_with_api("auth").await;
    check_auth_cases(&s, "keys.createKey", &json!({"apiId": api})).await;
    // extra spaces around the token: the token is trimmed, then unknown
    let bytes = serde_json::to_vec(&json!({"apiId": api})).unwrap();
    let (got, v) = post_raw(
        &s,
        "keys.createKey",
        &[
            ("content-type", "application/json"),
            ("authorization", "Bearer   invalid_key_with_spaces   "),
        ],
        Some(&bytes),
    )
    .await;
    check("keys.createKey", got, &v, 401, KEY_NOT_FOUND_AUTH);
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// keys.migrateKeys
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_schema_violations_are_400_naming_the_field() {
    let (s, api) = start_with_api("migrate").await;
    let hash = keyshift_core::hashing::sha256_base64("sk_migrate_conformance_0001");
    let with = |key: Value| json!({"apiId": api, "migrationId": "m_conform", "keys": [key]});
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "body.migrationId"),
        (
            json!({"apiId": "", "migrationId": "m_conform", "keys": [{"hash": hash}]}),
            "body.apiId",
        ),
        (
            json!({"apiId": api, "migrationId": "", "keys": [{"hash": hash}]}),
            "body.migrationId",
        ),
        (
            json!({"apiId": api, "keys": [{"hash": hash}]}),
            "body.migrationId",
        ),
        (
            json!({"apiId": api, "migrationId": "m_conform"}),
            "body.keys",
        ),
        (
            json!({"apiId": api, "migrationId": "m_conform", "keys": []}),
            "body.keys",
        ),
        (
            json!({"apiId": api, "migrationId": null, "keys": [{"hash": hash}]}),
            "body.migrationId",
        ),
        (
            json!({"apiId": api, "migrationId": "m_conform", "keys": null}),
            "body.keys",
        ),
        (with(json!({})), "body.keys[0].hash"),
        (with(json!({"hash": ""})), "body.keys[0].hash"),
        (with(json!({"hash": null})), "body.keys[0].hash"),
        (
            with(json!({"hash": hash, "expires": -1})),
            "body.keys[0].expires",
        ),
        (
            with(json!({"hash": hash, "permissions": [""]})),
            "body.keys[0].permissions[0]",
        ),
        (
            with(json!({"hash": hash, "roles": [""]})),
            "body.keys[0].roles[0]",
        ),
        (
            with(json!({"hash": hash, "permissions": ["a".repeat(513)]})),
            "body.keys[0].permissions[0]",
        ),
        (
            with(json!({"hash": hash, "roles": ["a".repeat(513)]})),
            "body.keys[0].roles[0]",
        ),
        (
            with(json!({"hash": hash, "credits": {}})),
            "body.keys[0].credits.remaining",
        ),
        (
            with(
                json!({"hash": hash, "credits": {"remaining": 1, "refill": {"interval": "monthly", "amount": 1}}}),
            ),
            "body.keys[0].credits.refill.refillDay",
        ),
        (
            with(
                json!({"hash": hash, "ratelimits": [{"name": "requests", "limit": 1, "duration": 1000}]}),
            ),
            "body.keys[0].ratelimits[0].autoApply",
        ),
    ];
    for (body, location) in cases {
        invalid(&s, "keys.migrateKeys", body, location).await;
    }
    for field in [
        "name",
        "externalId",
        "meta",
        "roles",
        "permissions",
        "expires",
        "enabled",
        "credits",
        "ratelimits",
    ] {
        invalid(
            &s,
            "keys.migrateKeys",
            with(json!({"hash": hash, field: null})),
            &format!("body.keys[0].{field}"),
        )
        .await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_unknown_foreign_or_deleted_api_is_404_api_not_found() {
    let s = start().await;
    let body = |api: &str| json!({"apiId": api, "migrationId": "unkeyed", "keys": [{"hash": keyshift_core::hashing::sha256_base64("sk_x_0000000000000001")}]});
    for api in ["api_2ZpXpBZ6d9uXhVgm5qE9Zm", "api_1234567890abcdef", "api"] {
        not_found(&s, "keys.migrateKeys", body(api), API_NOT_FOUND).await;
    }
    let theirs = foreign_api(&s).await;
    let deleted = s.create_api("deleted").await;
    s.ok("apis.deleteApi", json!({"apiId": deleted})).await;
    for api in [theirs, deleted] {
        not_found(&s, "keys.migrateKeys", body(&api), API_NOT_FOUND).await;
    }
    s.stop().await;
}

/// Known difference (server/CONFORMANCE.md): Unkey answers 404 `migration_not_found` for a
/// `migrationId` its support team did not create; keyshift has no migration records, any id
/// names a migration, so the batch is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_any_migration_id_is_accepted_where_unkey_needs_a_known_one() {
    let (s, api) = start_with_api("migration-id").await;
    let hash = keyshift_core::hashing::sha256_base64("sk_migration_id_000000001");
    let data = s
        .ok(
            "keys.migrateKeys",
            json!({"apiId": api, "migrationId": "some_migration_id_2ZpXpBZ6", "keys": [{"hash": hash}]}),
        )
        .await;
    assert_eq!(data["migrated"][0]["hash"], hash, "{data}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_duplicate_hash_is_200_listed_in_failed() {
    let (s, api) = start_with_api("dups").await;
    let hash = keyshift_core::hashing::sha256_base64("sk_duplicate_hash_000000001");
    let body =
        json!({"apiId": api, "migrationId": "m_dups", "keys": [{"hash": hash, "enabled": true}]});
    let first = s.ok("keys.migrateKeys", body.clone()).await;
    assert_eq!(first["migrated"].as_array().unwrap().len(), 1, "{first}");
    let again = s.ok("keys.migrateKeys", body).await;
    assert!(again["migrated"].as_array().unwrap().is_empty(), "{again}");
    let failed: Vec<&str> = again["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().or_else(|| f["hash"].as_str()).unwrap())
        .collect();
    assert_eq!(failed, vec![hash.as_str()], "{again}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_auth_header_missing_malformed_unknown_are_400_400_401() {
    let (s, api) = start_with_api("auth").await;
    let hash = keyshift_core::hashing::sha256_base64("sk_auth_cases_00000000001");
    check_auth_cases(
        &s,
        "keys.migrateKeys",
        &json!({"apiId": api, "migrationId": "m_auth", "keys": [{"hash": hash}]}),
    )
    .await;
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// keys.getKey, keys.whoami
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_key_schema_violations_are_400_naming_the_field() {
    let s = start().await;
    for (body, location) in [
        (json!({}), "body.keyId"),
        (json!({"keyId": ""}), "body.keyId"),
        (json!({"keyId": "ab"}), "body.keyId"),
        (json!({"keyId": "key-with-hyphen"}), "body.keyId"),
        (json!({"keyId": "k".repeat(256)}), "body.keyId"),
        (json!({"keyId": null}), "body.keyId"),
        (json!({"keyId": "key_123", "decrypt": null}), "body.decrypt"),
        (
            json!({"keyId": "key_123", "decrypt": "false"}),
            "body.decrypt",
        ),
    ] {
        invalid(&s, "keys.getKey", body, location).await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_key_unknown_deleted_or_foreign_key_is_404_key_not_found() {
    let s = start().await;
    let (_, key_id, _) = api_and_key(&s, json!({})).await;
    not_found(
        &s,
        "keys.getKey",
        json!({"keyId": "key_2ZpXpBZ6d9uXhVgm5qE9Zm", "decrypt": false}),
        KEY_NOT_FOUND,
    )
    .await;
    let (_, other_root) = s.second_workspace("other").await;
    let body = json!({"keyId": key_id});
    expect_as(&s, &other_root, "keys.getKey", body, 404, KEY_NOT_FOUND).await;
    s.ok("keys.deleteKey", json!({"keyId": key_id})).await;
    not_found(&s, "keys.getKey", json!({"keyId": key_id}), KEY_NOT_FOUND).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_key_decrypt_is_412_precondition_failed() {
    let s = start().await;
    let (_, key_id, _) = api_and_key(&s, json!({})).await;
    let e = expect(
        &s,
        "keys.getKey",
        json!({"keyId": key_id, "decrypt": true}),
        412,
        PRECONDITION_FAILED,
    )
    .await;
    common::assert_detail_has(&e, "does not support key encryption");
    // an unknown key is still a 404 first, as in Unkey
    not_found(
        &s,
        "keys.getKey",
        json!({"keyId": "key_2ZpXpBZ6d9uXhVgm5qE9Zm", "decrypt": true}),
        KEY_NOT_FOUND,
    )
    .await;
    s.ok("keys.getKey", json!({"keyId": key_id, "decrypt": false}))
        .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_key_auth_header_missing_malformed_unknown_are_400_400_401() {
    let s = start().await;
    check_auth_cases(&s, "keys.getKey", &json!({"keyId": "key_123456"})).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_empty_or_null_key_is_400_unknown_key_is_404() {
    let s = start().await;
    for body in [
        json!({}),
        json!({"key": ""}),
        json!({"key": null}),
        json!({"key": "k".repeat(513)}),
    ] {
        invalid(&s, "keys.whoami", body, "body.key").await;
    }
    not_found(
        &s,
        "keys.whoami",
        json!({"key": "api_2ZpXpBZ6d9uXhVgm5qE9Zm"}),
        KEY_NOT_FOUND,
    )
    .await;
    let (_, key_id, key) = api_and_key(&s, json!({})).await;
    let (_, other_root) = s.second_workspace("other").await;
    let (status, v) = s
        .call_as(&other_root, "keys.whoami", json!({"key": key}))
        .await;
    check("keys.whoami", status, &v, 404, KEY_NOT_FOUND);
    assert!(!v.to_string().contains(&key), "key echoed: {v}");
    s.ok("keys.deleteKey", json!({"keyId": key_id})).await;
    not_found(&s, "keys.whoami", json!({"key": key}), KEY_NOT_FOUND).await;
    check_auth_cases(&s, "keys.whoami", &json!({"key": "sk_whoami_0000000001"})).await;
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// keys.updateKey
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_key_daily_refill_with_refill_day_is_400() {
    let s = start().await;
    let (_, key_id, _) = api_and_key(&s, json!({"name": "test"})).await;
    let e = invalid(
        &s,
        "keys.updateKey",
        json!({"keyId": key_id, "credits": {"remaining": 100,
            "refill": {"interval": "daily", "amount": 100, "refillDay": 4}}}),
        "body.credits.refill.refillDay",
    )
    .await;
    common::assert_detail_has(&e, "must not be provided when the refill interval is");
    invalid(
        &s,
        "keys.updateKey",
        json!({"keyId": key_id, "credits": {"remaining": 100,
            "refill": {"interval": "monthly", "amount": 100}}}),
        "body.credits.refill.refillDay",
    )
    .await;
    s.ok(
        "keys.updateKey",
        json!({"keyId": key_id, "credits": {"remaining": 100,
            "refill": {"interval": "monthly", "amount": 100, "refillDay": 4}}}),
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_key_null_only_where_unkey_allows_it() {
    let s = start().await;
    let (_, key_id, _) = api_and_key(&s, json!({"name": "test", "externalId": "user_1"})).await;
    // nullable in Unkey's schema: clears the field
    for field in ["name", "externalId", "meta", "expires", "credits"] {
        s.ok("keys.updateKey", json!({"keyId": key_id, field: null}))
            .await;
    }
    s.ok(
        "keys.updateKey",
        json!({"keyId": key_id, "credits": {"remaining": null, "refill": null}}),
    )
    .await;
    // not nullable
    for field in ["enabled", "ratelimits", "roles", "permissions", "keyId"] {
        let mut body = json!({"keyId": key_id});
        body[field] = Value::Null;
        invalid(&s, "keys.updateKey", body, &format!("body.{field}")).await;
    }
    invalid(
        &s,
        "keys.updateKey",
        json!({"keyId": key_id, "ratelimits": [{"name": "requests", "limit": 1, "duration": 1000}]}),
        "body.ratelimits[0].autoApply",
    )
    .await;
    invalid(
        &s,
        "keys.updateKey",
        json!({"keyId": key_id, "name": ""}),
        "body.name",
    )
    .await;
    invalid(&s, "keys.updateKey", json!({"name": "x"}), "body.keyId").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_key_unknown_or_deleted_key_is_404_unknown_role_is_404() {
    let s = start().await;
    not_found(
        &s,
        "keys.updateKey",
        json!({"keyId": "nonexistent_key", "enabled": false}),
        KEY_NOT_FOUND,
    )
    .await;
    let (_, key_id, _) = api_and_key(&s, json!({"name": "test"})).await;
    not_found(
        &s,
        "keys.updateKey",
        json!({"keyId": key_id, "roles": ["no_such_role"]}),
        ROLE_NOT_FOUND,
    )
    .await;
    s.ok("keys.deleteKey", json!({"keyId": key_id})).await;
    not_found(
        &s,
        "keys.updateKey",
        json!({"keyId": key_id, "enabled": false}),
        KEY_NOT_FOUND,
    )
    .await;
    check_auth_cases(
        &s,
        "keys.updateKey",
        &json!({"keyId": "key_123456", "enabled": false}),
    )
    .await;
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// keys.deleteKey, keys.rerollKey
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_key_missing_or_empty_key_id_is_400_unknown_or_deleted_is_404() {
    let s = start().await;
    invalid(&s, "keys.deleteKey", json!({}), "body.keyId").await;
    invalid(&s, "keys.deleteKey", json!({"keyId": ""}), "body.keyId").await;
    invalid(
        &s,
        "keys.deleteKey",
        json!({"keyId": "key_123", "permanent": null}),
        "body.permanent",
    )
    .await;
    not_found(
        &s,
        "keys.deleteKey",
        json!({"keyId": "key_2ZpXpBZ6d9uXhVgm5qE9Zm"}),
        KEY_NOT_FOUND,
    )
    .await;
    let (_, key_id, _) = api_and_key(&s, json!({})).await;
    s.ok("keys.deleteKey", json!({"keyId": key_id})).await;
    // a soft-deleted key cannot be deleted again
    not_found(
        &s,
        "keys.deleteKey",
        json!({"keyId": key_id}),
        KEY_NOT_FOUND,
    )
    .await;
    check_auth_cases(&s, "keys.deleteKey", &json!({"keyId": "key_123456"})).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reroll_schema_violations_are_400_unknown_or_foreign_key_is_404() {
    let s = start().await;
    for (body, location) in [
        (json!({"expiration": 0}), "body.keyId"),
        (json!({"keyId": "", "expiration": 0}), "body.keyId"),
        (json!({"keyId": "ab", "expiration": 0}), "body.keyId"),
        (
            json!({"keyId": "key_2ZpXpBZ6d9uXhVgm5qE9Zm", "expiration": -1}),
            "body.expiration",
        ),
        (
            json!({"keyId": "key_2ZpXpBZ6d9uXhVgm5qE9Zm"}),
            "body.expiration",
        ),
        (
            json!({"keyId": "key_2ZpXpBZ6d9uXhVgm5qE9Zm", "expiration": null}),
            "body.expiration",
        ),
    ] {
        invalid(&s, "keys.rerollKey", body, location).await;
    }
    not_found(
        &s,
        "keys.rerollKey",
        json!({"keyId": "key_2ZpXpBZ6d9uXhVgm5qE9Zm", "expiration": 0}),
        KEY_NOT_FOUND,
    )
    .await;
    let (_, key_id, _) = api_and_key(&s, json!({})).await;
    let (_, other_root) = s.second_workspace("other").await;
    let body = json!({"keyId": key_id, "expiration": 0});
    expect_as(&s, &other_root, "keys.rerollKey", body, 404, KEY_NOT_FOUND).await;
    check_auth_cases(
        &s,
        "keys.rerollKey",
        &json!({"keyId": "key_123456", "expiration": 0}),
    )
    .await;
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// keys.updateCredits
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_credits_schema_and_operation_rules_are_400() {
    let s = start().await;
    let (_, limited, _) = api_and_key(&s, json!({"credits": {"remaining": 10}})).await;
    let (_, unlimited, _) = api_and_key(&s, json!({})).await;
    for (body, location) in [
        (json!({"operation": "set"}), "body.keyId"),
        (json!({"keyId": "", "operation": "set"}), "body.keyId"),
        (json!({"keyId": limited}), "body.operation"),
        (
            json!({"keyId": limited, "operation": "multiply", "value": 1}),
            "body.operation",
        ),
        (
            json!({"keyId": limited, "operation": null, "value": 1}),
            "body.operation",
        ),
        (
            json!({"keyId": limited, "operation": "set", "value": -1}),
            "body.value",
        ),
        (
            json!({"keyId": limited, "operation": "set", "value": "1"}),
            "body.value",
        ),
        // increment / decrement need a value
        (
            json!({"keyId": limited, "operation": "increment"}),
            "body.value",
        ),
        (
            json!({"keyId": limited, "operation": "increment", "value": null}),
            "body.value",
        ),
        (
            json!({"keyId": limited, "operation": "decrement"}),
            "body.value",
        ),
    ] {
        invalid(&s, "keys.updateCredits", body, location).await;
    }
    // increment / decrement a key with unlimited credits
    for op in ["increment", "decrement"] {
        expect(
            &s,
            "keys.updateCredits",
            json!({"keyId": unlimited, "operation": op, "value": 1}),
            400,
            INVALID_INPUT,
        )
        .await;
    }
    // value null with set = unlimited
    let data = s
        .ok(
            "keys.updateCredits",
            json!({"keyId": limited, "operation": "set", "value": null}),
        )
        .await;
    assert!(data["remaining"].is_null(), "{data}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_credits_unknown_key_is_404() {
    let s = start().await;
    not_found(
        &s,
        "keys.updateCredits",
        json!({"keyId": "key_2ZpXpBZ6d9uXhVgm5qE9Zm", "operation": "set", "value": 1}),
        KEY_NOT_FOUND,
    )
    .await;
    check_auth_cases(
        &s,
        "keys.updateCredits",
        &json!({"keyId": "key_123456", "operation": "set", "value": 1}),
    )
    .await;
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// keys.addPermissions / removePermissions / setPermissions / addRoles / removeRoles / setRoles
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_permission_and_role_lists_schema_violations_are_400() {
    let s = start().await;
    let (_, key_id, _) = api_and_key(&s, json!({})).await;
    // add/remove need one item at least, set may empty the list.
    for (group, field) in [("Permissions", "permissions"), ("Roles", "roles")] {
        for (verb, min_one) in [("add", true), ("remove", true), ("set", false)] {
            let op = format!("keys.{verb}{group}");
            let op = op.as_str();
            let loc = format!("body.{field}");
            let item = format!("body.{field}[0]");
            let mut cases: Vec<(Value, &str)> = vec![
                (json!({field: ["a.b"]}), "body.keyId"),
                (json!({"keyId": "", field: ["a.b"]}), "body.keyId"),
                (json!({"keyId": "ab", field: ["a.b"]}), "body.keyId"),
                (json!({"keyId": null, field: ["a.b"]}), "body.keyId"),
                (json!({"keyId": key_id}), &loc),
                (json!({"keyId": key_id, field: null}), &loc),
                (json!({"keyId": key_id, field: "not-an-array"}), &loc),
                (json!({"keyId": key_id, field: [""]}), &item),
                (json!({"keyId": key_id, field: [null]}), &item),
                (json!({"keyId": key_id, field: ["a".repeat(129)]}), &item),
            ];
            if min_one {
                cases.push((json!({"keyId": key_id, field: []}), &loc));
            }
            if field == "permissions" {
                cases.push((json!({"keyId": key_id, field: ["has space"]}), &item));
            }
            for (body, location) in cases {
                invalid(&s, op, body, location).await;
            }
            check_auth_cases(&s, op, &json!({"keyId": key_id, field: ["a.b"]})).await;
        }
    }
    // Empty lists are fine where they replace everything.
    s.ok(
        "keys.setPermissions",
        json!({"keyId": key_id, "permissions": []}),
    )
    .await;
    s.ok("keys.setRoles", json!({"keyId": key_id, "roles": []}))
        .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_permission_and_role_lists_unknown_foreign_or_deleted_key_is_404() {
    let s = start().await;
    s.create_permission("documents.read").await;
    s.create_role("reader").await;
    let (_, key_id, _) = api_and_key(&s, json!({})).await;
    let (_, other_root) = s.second_workspace("other").await;
    let their_api = s.create_api_as(&other_root, "theirs").await;
    let (theirs, _) = s
        .create_key_as(&other_root, json!({"apiId": their_api}))
        .await;
    let (_, deleted, _) = api_and_key(&s, json!({})).await;
    s.ok("keys.deleteKey", json!({"keyId": deleted})).await;
    for (op, list) in [
        (
            "keys.addPermissions",
            json!({"permissions": ["documents.read"]}),
        ),
        (
            "keys.removePermissions",
            json!({"permissions": ["documents.read"]}),
        ),
        (
            "keys.setPermissions",
            json!({"permissions": ["documents.read"]}),
        ),
        ("keys.addRoles", json!({"roles": ["reader"]})),
        ("keys.removeRoles", json!({"roles": ["reader"]})),
        ("keys.setRoles", json!({"roles": ["reader"]})),
    ] {
        for id in [
            "key_2ZpXpBZ6d9uXhVgm5qE9Zm",
            "key_short",
            "invalid_key_format",
            "wrong_1234567890123456789012345678901234567890",
            theirs.as_str(),
            deleted.as_str(),
        ] {
            let mut body = list.clone();
            body["keyId"] = json!(id);
            not_found(&s, op, body, KEY_NOT_FOUND).await;
        }
    }
    // the key is still fine
    s.ok(
        "keys.setRoles",
        json!({"keyId": key_id, "roles": ["reader"]}),
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_roles_are_404_role_not_found_on_add_remove_and_set() {
    let s = start().await;
    let (_, key_id, _) = api_and_key(&s, json!({})).await;
    let role_id = s.create_role("valid.role").await;
    // a role of another workspace, by id and by name
    let (_, other_root) = s.second_workspace("other").await;
    let their_role = s.create_role_as(&other_root, "their.role").await;
    // a deleted role
    let gone = s.create_role("deleted.role").await;
    s.ok("permissions.deleteRole", json!({"role": gone})).await;
    for op in ["keys.addRoles", "keys.removeRoles", "keys.setRoles"] {
        for roles in [
            json!(["role_2ZpXpBZ6d9uXhVgm5qE9Zm"]),
            json!(["nonexistent.role"]),
            json!([their_role]),
            json!(["their.role"]),
            json!([gone]),
            json!(["valid.role", "nonexistent.role"]),
            json!(["nonexistent.role", role_id]),
        ] {
            let e = not_found(
                &s,
                op,
                json!({"keyId": key_id, "roles": roles}),
                ROLE_NOT_FOUND,
            )
            .await;
            common::assert_detail_has(&e, "not found");
        }
    }
    // nothing changed on the failed calls
    let key = s.ok("keys.getKey", json!({"keyId": key_id})).await;
    assert!(
        key["roles"].as_array().is_none_or(|r| r.is_empty()),
        "{key}"
    );
    // removing a role that exists but is not on the key is fine (200), twice
    for _ in 0..2 {
        s.ok(
            "keys.removeRoles",
            json!({"keyId": key_id, "roles": ["valid.role"]}),
        )
        .await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_unknown_permission_is_404_permission_not_found() {
    let s = start().await;
    let (_, key_id, _) = api_and_key(&s, json!({"permissions": ["documents.read"]})).await;
    let body = json!({"name": "their.permission", "slug": "their.permission"});
    let theirs = theirs(&s, "permissions.createPermission", body, "permissionId").await;
    for permissions in [
        json!(["perm_2ZpXpBZ6d9uXhVgm5qE9Zm"]),
        json!(["nonexistent.permission"]),
        json!([theirs]),
        json!(["documents.read", "nonexistent.permission"]),
    ] {
        let e = not_found(
            &s,
            "keys.removePermissions",
            json!({"keyId": key_id, "permissions": permissions}),
            PERMISSION_NOT_FOUND,
        )
        .await;
        common::assert_detail_has(&e, "not found");
    }
    // nothing was removed by the failed calls
    let key = s.ok("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(key["permissions"], json!(["documents.read"]), "{key}");
    // an existing permission that is not on the key: 200, twice
    s.create_permission("documents.write").await;
    for _ in 0..2 {
        s.ok(
            "keys.removePermissions",
            json!({"keyId": key_id, "permissions": ["documents.write"]}),
        )
        .await;
    }
    s.stop().await;
}

/// With a root key that may create permissions (ours always may), missing permissions are
/// created on add and set, as in Unkey's "create permission on-the-fly" cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_and_set_permissions_create_missing_permissions() {
    let s = start().await;
    let (_, key_id, _) = api_and_key(&s, json!({})).await;
    let data = s
        .ok(
            "keys.addPermissions",
            json!({"keyId": key_id, "permissions": ["nonexistent.permission"]}),
        )
        .await;
    assert_eq!(data[0]["slug"], "nonexistent.permission", "{data}");
    let data = s
        .ok(
            "keys.setPermissions",
            json!({"keyId": key_id, "permissions": ["created.on.the.fly"]}),
        )
        .await;
    assert_eq!(data.as_array().unwrap().len(), 1, "{data}");
    assert_eq!(data[0]["slug"], "created.on.the.fly", "{data}");
    s.stop().await;
}
