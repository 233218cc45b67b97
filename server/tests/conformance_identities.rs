//! Conformance of the `identities.*` operations with Unkey's server: the scenarios of its route
//! tests (`svc/api/routes/v2_identities_*/{400,401,404,409}_test.go`) and its v2 request
//! schemas, answered with the same status, problem `type` and title (server/CONFORMANCE.md).
//! `identities.updateIdentity` is served by another change and tested with it.

mod common;
mod conform;

use common::start;
use conform::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_identity_schema_violations_are_400_naming_the_field() {
    let s = start().await;
    let mut big_meta = serde_json::Map::new();
    for i in 0..101 {
        big_meta.insert(format!("key_{i}"), json!(format!("some_{i}")));
    }
    let rl = |v: Value| json!({"externalId": "test_rl", "ratelimits": [v]});
    for (body, location) in [
        (json!({}), "body.externalId"),
        (json!({"externalId": ""}), "body.externalId"),
        (json!({"externalId": null}), "body.externalId"),
        (json!({"externalId": "has space"}), "body.externalId"),
        (json!({"externalId": "e".repeat(256)}), "body.externalId"),
        (
            json!({"externalId": "test_meta", "meta": big_meta}),
            "body.meta",
        ),
        (
            json!({"externalId": "test_meta", "meta": null}),
            "body.meta",
        ),
        (json!({"externalId": "test_meta", "meta": "x"}), "body.meta"),
        (
            json!({"externalId": "test_rl", "ratelimits": null}),
            "body.ratelimits",
        ),
        (
            rl(json!({"duration": 1000, "limit": 1, "autoApply": true})),
            "body.ratelimits[0].name",
        ),
        (
            rl(json!({"name": "test_limit", "duration": 1000, "limit": -10, "autoApply": true})),
            "body.ratelimits[0].limit",
        ),
        (
            rl(json!({"name": "test_limit", "duration": 1000, "limit": 0, "autoApply": true})),
            "body.ratelimits[0].limit",
        ),
        (
            rl(json!({"name": "test_limit", "duration": 999, "limit": 100, "autoApply": true})),
            "body.ratelimits[0].duration",
        ),
        (
            rl(json!({"name": "ab", "duration": 1000, "limit": 100, "autoApply": true})),
            "body.ratelimits[0].name",
        ),
        (
            rl(json!({"name": "test_limit", "duration": 1000, "limit": 100, "autoApply": null})),
            "body.ratelimits[0].autoApply",
        ),
    ] {
        invalid(&s, "identities.createIdentity", body, location).await;
    }
    s.stop().await;
}

/// `autoApply` is required on an identity's ratelimits (Unkey's `RatelimitRequest`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_identity_ratelimit_without_auto_apply_is_400() {
    let s = start().await;
    invalid(
        &s,
        "identities.createIdentity",
        json!({"externalId": "user_rl", "ratelimits": [{"name": "requests", "limit": 10, "duration": 60000}]}),
        "body.ratelimits[0].autoApply",
    )
    .await;
    // nothing was created by the refused call
    not_found(
        &s,
        "identities.getIdentity",
        json!({"identity": "user_rl"}),
        IDENTITY_NOT_FOUND,
    )
    .await;
    s.ok(
        "identities.createIdentity",
        json!({"externalId": "user_rl", "ratelimits": [{"name": "requests", "limit": 10, "duration": 60000, "autoApply": false}]}),
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_identity_twice_is_409_identity_already_exists() {
    let s = start().await;
    let body = json!({"externalId": "test_external_id_1"});
    second_is_conflict(
        &s,
        "identities.createIdentity",
        body.clone(),
        body,
        IDENTITY_ALREADY_EXISTS,
    )
    .await;
    check_auth_cases(
        &s,
        "identities.createIdentity",
        &json!({"externalId": "test_auth"}),
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_delete_identity_missing_or_empty_identity_is_400() {
    let s = start().await;
    for op in ["identities.getIdentity", "identities.deleteIdentity"] {
        for body in [
            json!({}),
            json!({"identity": ""}),
            json!({"identity": null}),
        ] {
            invalid(&s, op, body, "body.identity").await;
        }
        check_auth_cases(&s, op, &json!({"identity": "test_2ZpXpBZ6d9uXhVgm5qE9Zm"})).await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_delete_unknown_odd_foreign_or_deleted_identity_is_404() {
    let s = start().await;
    let id = s.create_identity("to_delete").await;
    s.ok(
        "identities.deleteIdentity",
        json!({"identity": "to_delete"}),
    )
    .await;
    let (_, other_root) = s.second_workspace("other").await;
    let foreign = s.create_identity_as(&other_root, "their_identity").await;
    let too_long = format!("test_{}", "\u{0}".repeat(1000));
    for op in ["identities.getIdentity", "identities.deleteIdentity"] {
        for identity in [
            "test_2ZpXpBZ6d9uXhVgm5qE9Zm",
            "@#$%",
            too_long.as_str(),
            "to_delete",
            id.as_str(),
            "their_identity",
            foreign.as_str(),
        ] {
            not_found(&s, op, json!({"identity": identity}), IDENTITY_NOT_FOUND).await;
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_identities_schema_violations_are_400() {
    let s = start().await;
    for (body, location) in [
        (json!({"limit": -1}), "body.limit"),
        (json!({"limit": 0}), "body.limit"),
        (json!({"limit": 101}), "body.limit"),
        (json!({"limit": 200}), "body.limit"),
        (json!({"limit": null}), "body.limit"),
        (json!({"search": "a".repeat(257)}), "body.search"),
        (json!({"search": null}), "body.search"),
        (json!({"cursor": null}), "body.cursor"),
    ] {
        invalid(&s, "identities.listIdentities", body, location).await;
    }
    bad_body(
        &s,
        "identities.listIdentities",
        Some(br#"{"limit": 5, "cursor": "missing_quote_here}"#),
    )
    .await;
    // a cursor that was never issued is a page, not an error (Unkey's test allows 200 or 400)
    let (status, v) = s
        .call(
            "identities.listIdentities",
            json!({"cursor": "invalid_cursor_format"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    check_auth_cases(&s, "identities.listIdentities", &json!({"limit": 5})).await;
    s.stop().await;
}
