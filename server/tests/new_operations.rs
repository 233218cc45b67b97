//! `identities.updateIdentity` and `permissions.setRolePermissions` (issue 9), with Unkey's
//! fields, limits and semantics (`svc/api/openapi/spec/paths/v2/…`, the routes' handlers and
//! 200/400/404 tests): what they change, what they keep, and that verification sees it.

mod common;

use common::names;
use serde_json::{json, Value};

fn limit_of<'a>(identity: &'a Value, name: &str) -> &'a Value {
    identity["ratelimits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no ratelimit {name}: {identity}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_identity_replaces_meta_and_ratelimits_only_when_given() {
    let s = common::start().await;
    let created = s
        .ok(
            "identities.createIdentity",
            json!({"externalId": "user_123", "meta": {"plan": "free", "seats": 1},
                   "ratelimits": [
                       {"name": "api_calls", "limit": 100, "duration": 60000, "autoApply": true},
                       {"name": "special_feature", "limit": 5, "duration": 1000, "autoApply": false}]}),
        )
        .await;
    let id = created["identityId"].as_str().unwrap().to_string();
    let before = s
        .ok("identities.getIdentity", json!({"identity": id}))
        .await;
    let api_calls_id = limit_of(&before, "api_calls")["id"].clone();

    // Meta only (by external id): replaced, not merged; rate limits untouched.
    let got = s
        .ok(
            "identities.updateIdentity",
            json!({"identity": "user_123", "meta": {"plan": "pro"}}),
        )
        .await;
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["externalId"], "user_123");
    assert_eq!(got["meta"], json!({"plan": "pro"}));
    assert_eq!(got["ratelimits"], before["ratelimits"]);

    // Rate limits only (by id): add one, change one (same id), drop one; meta untouched.
    let got = s
        .ok(
            "identities.updateIdentity",
            json!({"identity": id, "ratelimits": [
                {"name": "api_calls", "limit": 200, "duration": 60000, "autoApply": true},
                {"name": "new_feature", "limit": 5, "duration": 86400000, "autoApply": false}]}),
        )
        .await;
    assert_eq!(got["meta"], json!({"plan": "pro"}));
    assert_eq!(
        names(&got["ratelimits"], "name"),
        vec!["api_calls", "new_feature"]
    );
    let api_calls = limit_of(&got, "api_calls");
    assert_eq!(
        (api_calls["limit"].clone(), api_calls["id"].clone()),
        (json!(200), api_calls_id)
    );
    assert_eq!(limit_of(&got, "new_feature")["duration"], 86400000);
    // The answer is what getIdentity says from now on.
    let read = s
        .ok("identities.getIdentity", json!({"identity": id}))
        .await;
    assert_eq!(read, got);

    // null keeps, {} and [] clear.
    let got = s
        .ok(
            "identities.updateIdentity",
            json!({"identity": id, "meta": null, "ratelimits": null}),
        )
        .await;
    assert_eq!(got, read);
    let got = s
        .ok(
            "identities.updateIdentity",
            json!({"identity": id, "meta": {}, "ratelimits": []}),
        )
        .await;
    assert_eq!(got["meta"], json!({}));
    assert_eq!(got["ratelimits"], json!([]));
    // Nothing to change is fine too.
    s.ok("identities.updateIdentity", json!({"identity": id}))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_identity_errors_are_unkeys() {
    let s = common::start().await;
    s.ok(
        "identities.createIdentity",
        json!({"externalId": "someone"}),
    )
    .await;
    let e = s
        .fails(
            "identities.updateIdentity",
            json!({"identity": "nobody_here", "meta": {"a": 1}}),
            404,
        )
        .await;
    assert!(e["type"]
        .as_str()
        .unwrap()
        .ends_with("unkey/data/identity_not_found"));
    let many: serde_json::Map<String, Value> =
        (0..101).map(|i| (format!("k{i}"), json!(i))).collect();
    let too_many_limits: Vec<Value> = (0..51)
        .map(|i| json!({"name": format!("limit_{i}"), "limit": 1, "duration": 1000}))
        .collect();
    for (body, location) in [
        (json!({}), "body.identity"),
        (json!({"identity": ""}), "body.identity"),
        (
            json!({"identity": "someone", "meta": Value::Object(many)}),
            "body.meta",
        ),
        (
            json!({"identity": "someone", "ratelimits": too_many_limits}),
            "body.ratelimits",
        ),
        (
            json!({"identity": "someone", "ratelimits": [
                {"name": "api_calls", "limit": 1, "duration": 1000, "autoApply": false},
                {"name": "api_calls", "limit": 2, "duration": 2000, "autoApply": false}]}),
            "body.ratelimits[1].name",
        ),
        (
            json!({"identity": "someone", "ratelimits": [{"name": "ab", "limit": 1, "duration": 1000, "autoApply": false}]}),
            "body.ratelimits[0].name",
        ),
        (
            json!({"identity": "someone", "ratelimits": [{"name": "abc", "limit": 0, "duration": 1000, "autoApply": false}]}),
            "body.ratelimits[0].limit",
        ),
        (
            json!({"identity": "someone", "ratelimits": [{"name": "abc", "limit": 1, "duration": 999, "autoApply": false}]}),
            "body.ratelimits[0].duration",
        ),
        (
            json!({"identity": "someone", "ratelimits": [{"name": "abc", "limit": 1, "autoApply": false}]}),
            "body.ratelimits[0].duration",
        ),
        (json!({"identity": "someone", "externalId": "x"}), "body"),
        (json!({"identity": "someone", "meta": "plan"}), "body.meta"),
    ] {
        s.fails_at("identities.updateIdentity", body, location)
            .await;
    }
    // The duplicate is named in the message, as Unkey does.
    let e = s
        .fails(
            "identities.updateIdentity",
            json!({"identity": "someone", "ratelimits": [
                {"name": "api_calls", "limit": 1, "duration": 1000, "autoApply": false},
                {"name": "api_calls", "limit": 2, "duration": 2000, "autoApply": false}]}),
            400,
        )
        .await;
    common::assert_detail_has(&e, "api_calls");
    // Nothing was changed by the refused requests.
    let got = s
        .ok("identities.getIdentity", json!({"identity": "someone"}))
        .await;
    assert_eq!(got["ratelimits"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_sees_an_updated_identity_at_once() {
    let (s, api) = common::start_with_api("identity-limits").await;
    s.ok(
        "identities.createIdentity",
        json!({"externalId": "acme", "meta": {"plan": "free"},
               "ratelimits": [{"name": "per_minute", "limit": 1, "duration": 60000, "autoApply": true}]}),
    )
    .await;
    let (_, key) = s
        .create_key(json!({"apiId": api, "externalId": "acme"}))
        .await;
    let v = s.verify(json!({"key": key})).await;
    assert_eq!(v["code"], "VALID", "{v}");
    assert_eq!(v["identity"]["meta"]["plan"], "free");
    let v = s.verify(json!({"key": key})).await;
    assert_eq!(v["code"], "RATE_LIMITED", "{v}");

    s.ok(
        "identities.updateIdentity",
        json!({"identity": "acme", "meta": {"plan": "pro"},
               "ratelimits": [{"name": "per_minute", "limit": 100, "duration": 60000, "autoApply": true}]}),
    )
    .await;
    let v = s.verify(json!({"key": key})).await;
    assert_eq!(v["code"], "VALID", "{v}");
    assert_eq!(v["identity"]["meta"]["plan"], "pro", "{v}");

    s.ok(
        "identities.updateIdentity",
        json!({"identity": "acme", "ratelimits": []}),
    )
    .await;
    let v = s.verify(json!({"key": key})).await;
    assert_eq!(v["code"], "VALID", "{v}");
    assert!(
        v.get("ratelimits").is_none() || v["ratelimits"] == json!([]),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_role_permissions_replaces_creates_and_clears() {
    let s = common::start().await;
    for slug in ["docs.read", "docs.write", "keep.permission"] {
        s.create_permission(slug).await;
    }
    let role_id = s
        .created_id(
            "permissions.createRole",
            json!({"name": "editor", "permissions": ["docs.read", "docs.write"]}),
            "roleId",
        )
        .await;
    let api = s.create_api("roles").await;
    let (_, key) = s
        .create_key(json!({"apiId": api, "roles": ["editor"]}))
        .await;
    s.verify_code(json!({"key": key, "permissions": "docs.write"}), "VALID")
        .await;

    // Replace: docs.write goes, docs.admin is created, docs.read stays.
    let set = s
        .ok(
            "permissions.setRolePermissions",
            json!({"roleId": role_id, "permissions": ["docs.read", "docs.admin"]}),
        )
        .await;
    assert_eq!(names(&set, "slug"), vec!["docs.admin", "docs.read"]);
    for p in set.as_array().unwrap() {
        assert!(p["id"].as_str().unwrap().starts_with("perm_"), "{p}");
    }
    let role = s.ok("permissions.getRole", json!({"role": role_id})).await;
    assert_eq!(
        names(&role["permissions"], "slug"),
        vec!["docs.admin", "docs.read"]
    );
    s.ok(
        "permissions.getPermission",
        json!({"permission": "docs.admin"}),
    )
    .await;
    // The key's verification follows the role at once.
    s.verify_code(
        json!({"key": key, "permissions": "docs.write"}),
        "INSUFFICIENT_PERMISSIONS",
    )
    .await;
    s.verify_code(json!({"key": key, "permissions": "docs.admin"}), "VALID")
        .await;

    // Case-insensitive, deduplicated, sorted (Unkey's own example), and a repeat is a no-op.
    let body = json!({"roleId": role_id,
                      "permissions": ["KEEP.Permission", "new.permission", "NEW.Permission"]});
    let set = s.ok("permissions.setRolePermissions", body.clone()).await;
    assert_eq!(
        names(&set, "slug"),
        vec!["keep.permission", "new.permission"]
    );
    let again = s.ok("permissions.setRolePermissions", body).await;
    assert_eq!(again, set);
    let all = s.ok("permissions.listPermissions", json!({})).await;
    let slugs = names(&all, "slug");
    assert_eq!(
        slugs
            .iter()
            .filter(|s| s.eq_ignore_ascii_case("new.permission"))
            .count(),
        1,
        "{slugs:?}"
    );

    // [] clears.
    let set = s
        .ok(
            "permissions.setRolePermissions",
            json!({"roleId": role_id, "permissions": []}),
        )
        .await;
    assert_eq!(set, json!([]));
    let role = s.ok("permissions.getRole", json!({"role": role_id})).await;
    assert_eq!(role["permissions"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_role_permissions_errors_are_unkeys() {
    let s = common::start().await;
    s.create_role("viewer").await;
    // A role is named by its id: a name, an unknown id, another workspace's role are 404.
    for role_id in ["viewer", "role_doesnotexist"] {
        let e = s
            .fails(
                "permissions.setRolePermissions",
                json!({"roleId": role_id, "permissions": ["a.b"]}),
                404,
            )
            .await;
        common::assert_type_ends(&e, "unkey/data/role_not_found");
    }
    let (_, other_root) = s.second_workspace("other").await;
    let other_role = s.create_role_as(&other_root, "theirs").await;
    s.fails(
        "permissions.setRolePermissions",
        json!({"roleId": other_role, "permissions": []}),
        404,
    )
    .await;
    // The unknown role's permission was not created.
    s.fails(
        "permissions.getPermission",
        json!({"permission": "a.b"}),
        404,
    )
    .await;

    for (body, location) in [
        (json!({"permissions": []}), "body.roleId"),
        (json!({"roleId": "role_1"}), "body.permissions"),
        (json!({"roleId": "ab", "permissions": []}), "body.roleId"),
        (
            json!({"roleId": "role 1", "permissions": []}),
            "body.roleId",
        ),
        (
            json!({"roleId": "role_1", "permissions": ["has space"]}),
            "body.permissions[0]",
        ),
        (
            json!({"roleId": "role_1", "permissions": [""]}),
            "body.permissions[0]",
        ),
        (
            json!({"roleId": "role_1", "permissions": ["x".repeat(129)]}),
            "body.permissions[0]",
        ),
        (
            json!({"roleId": "role_1", "permissions": "a.b"}),
            "body.permissions",
        ),
        (
            json!({"roleId": "role_1", "permissions": [], "role": "x"}),
            "body",
        ),
    ] {
        s.fails_at("permissions.setRolePermissions", body, location)
            .await;
    }
}
