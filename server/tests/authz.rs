//! Root-key permissions (issue 9, DESIGN.md §4): every route checks the permission Unkey's
//! route checks (`svc/api/routes/v2_*/handler.go`), with Unkey's names. For each route: a root
//! key lacking its permission is refused (403 `insufficient_permissions`, or the resource's 404
//! where Unkey hides existence: `keys.createKey`, `apis.listKeys`, `keys.whoami`), and a root key
//! with exactly the permission it needs succeeds, in the wildcard form (`api.*.…`) and in the
//! per-resource form (`api.<apiId>.…`). Verifying a key of an api the root key may not verify
//! answers 200 `NOT_FOUND`, and spends nothing.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};

use common::TestServer;
use serde_json::{json, Value};

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// What one test scenario works on: fresh resources, so that deletes and rerolls can run
/// once per root key.
struct Fx {
    api: String,
    key_id: String,
    key: String,
    role: String,
    role_id: String,
    perm: String,
    identity_id: String,
    external_id: String,
}

async fn fresh(s: &TestServer) -> Fx {
    let api = s.create_api(&unique("api-")).await;
    let perm = format!("{}.read", unique("doc"));
    s.create_permission(&perm).await;
    let role = unique("role-");
    let role_id = s.create_role(&role).await;
    let external_id = unique("user-");
    let identity_id = s.create_identity(&external_id).await;
    let (key_id, key) = s
        .create_key(json!({"apiId": api, "permissions": [perm], "roles": [role],
                           "credits": {"remaining": 10}}))
        .await;
    Fx {
        api,
        key_id,
        key,
        role,
        role_id,
        perm,
        identity_id,
        external_id,
    }
}

/// `{api}`, `{identity}` in a permission template → the fixture's ids.
fn fill(templates: &[&str], fx: &Fx) -> Vec<String> {
    templates
        .iter()
        .map(|t| {
            t.replace("{api}", &fx.api)
                .replace("{identity}", &fx.identity_id)
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Denied {
    /// 403 `unkey/authorization/insufficient_permissions`.
    Forbidden,
    /// The resource's 404 (Unkey masks the 403 so existence does not leak).
    NotFound(&'static str),
}

struct Route {
    op: &'static str,
    body: fn(&Fx) -> Value,
    /// Exactly what the route needs, wildcard form.
    wildcard: &'static [&'static str],
    /// Exactly what the route needs, per-resource form (`None` for `rbac.*`/`identity.*`-only
    /// routes, which Unkey checks with the `*` id only).
    per_resource: Option<&'static [&'static str]>,
    /// Permission sets that are not enough.
    lacking: &'static [&'static [&'static str]],
    denied: Denied,
}

fn routes() -> Vec<Route> {
    use Denied::*;
    vec![
        Route {
            op: "apis.createApi",
            body: |_| json!({"name": unique("made-")}),
            wildcard: &["api.*.create_api"],
            per_resource: None,
            lacking: &[&["api.*.read_api"], &["api.{api}.create_api"]],
            denied: Forbidden,
        },
        Route {
            op: "apis.getApi",
            body: |fx| json!({"apiId": fx.api}),
            wildcard: &["api.*.read_api"],
            per_resource: Some(&["api.{api}.read_api"]),
            lacking: &[
                &["api.*.create_api"],
                &["api.{api}.delete_api"],
                &["api.api_other.read_api"],
            ],
            denied: Forbidden,
        },
        Route {
            op: "apis.listKeys",
            body: |fx| json!({"apiId": fx.api}),
            wildcard: &["api.*.read_key", "api.*.read_api"],
            per_resource: Some(&["api.{api}.read_key", "api.{api}.read_api"]),
            lacking: &[
                &["api.*.read_api"],
                &["api.*.read_key"],
                &["identity.*.read_identity"],
            ],
            denied: NotFound("api_not_found"),
        },
        Route {
            op: "apis.deleteApi",
            body: |fx| json!({"apiId": fx.api}),
            wildcard: &["api.*.delete_api"],
            per_resource: Some(&["api.{api}.delete_api"]),
            lacking: &[&["api.*.read_api"], &["api.*.delete_key"]],
            denied: Forbidden,
        },
        Route {
            op: "keys.createKey",
            body: |fx| json!({"apiId": fx.api}),
            wildcard: &["api.*.create_key"],
            per_resource: Some(&["api.{api}.create_key"]),
            lacking: &[&["api.*.verify_key"], &["api.api_other.create_key"]],
            denied: NotFound("api_not_found"),
        },
        Route {
            op: "keys.getKey",
            body: |fx| json!({"keyId": fx.key_id}),
            wildcard: &["api.*.read_key"],
            per_resource: Some(&["api.{api}.read_key"]),
            lacking: &[&["api.*.read_api"], &["api.api_other.read_key"]],
            denied: Forbidden,
        },
        Route {
            op: "keys.whoami",
            body: |fx| json!({"key": fx.key}),
            wildcard: &["api.*.read_key"],
            per_resource: Some(&["api.{api}.read_key"]),
            lacking: &[&["api.*.verify_key"], &["api.api_other.read_key"]],
            denied: NotFound("key_not_found"),
        },
        Route {
            op: "keys.updateKey",
            body: |fx| json!({"keyId": fx.key_id, "name": "renamed"}),
            wildcard: &["api.*.update_key"],
            per_resource: Some(&["api.{api}.update_key"]),
            lacking: &[&["api.*.read_key"], &["api.api_other.update_key"]],
            denied: Forbidden,
        },
        Route {
            op: "keys.deleteKey",
            body: |fx| json!({"keyId": fx.key_id}),
            wildcard: &["api.*.delete_key"],
            per_resource: Some(&["api.{api}.delete_key"]),
            lacking: &[&["api.*.update_key"], &["api.*.delete_api"]],
            denied: Forbidden,
        },
        Route {
            op: "keys.rerollKey",
            body: |fx| json!({"keyId": fx.key_id, "expiration": 0}),
            wildcard: &["api.*.create_key"],
            per_resource: Some(&["api.{api}.create_key"]),
            lacking: &[&["api.*.update_key"], &["api.api_other.create_key"]],
            denied: Forbidden,
        },
        Route {
            op: "keys.migrateKeys",
            body: |fx| {
                json!({"migrationId": "mig1", "apiId": fx.api, "keys": [
                    {"hash": keyshift_core::hashing::sha256_base64(&unique("legacy-key-"))}]})
            },
            wildcard: &["api.*.create_key"],
            per_resource: Some(&["api.{api}.create_key"]),
            lacking: &[&["api.*.update_key"], &["api.api_other.create_key"]],
            denied: Forbidden,
        },
        Route {
            op: "keys.updateCredits",
            body: |fx| json!({"keyId": fx.key_id, "operation": "set", "value": 3}),
            wildcard: &["api.*.update_key"],
            per_resource: Some(&["api.{api}.update_key"]),
            lacking: &[&["api.*.read_key"]],
            denied: Forbidden,
        },
        Route {
            op: "keys.addPermissions",
            body: |fx| json!({"keyId": fx.key_id, "permissions": [fx.perm]}),
            wildcard: &["api.*.update_key", "rbac.*.add_permission_to_key"],
            per_resource: Some(&["api.{api}.update_key", "rbac.*.add_permission_to_key"]),
            lacking: &[&["api.*.update_key"], &["rbac.*.add_permission_to_key"]],
            denied: Forbidden,
        },
        Route {
            op: "keys.removePermissions",
            body: |fx| json!({"keyId": fx.key_id, "permissions": [fx.perm]}),
            wildcard: &["api.*.update_key", "rbac.*.remove_permission_from_key"],
            per_resource: Some(&["api.{api}.update_key", "rbac.*.remove_permission_from_key"]),
            lacking: &[
                &["api.*.update_key"],
                &["rbac.*.remove_permission_from_key"],
                &["api.*.update_key", "rbac.*.add_permission_to_key"],
            ],
            denied: Forbidden,
        },
        Route {
            op: "keys.setPermissions",
            body: |fx| json!({"keyId": fx.key_id, "permissions": [fx.perm]}),
            wildcard: &[
                "api.*.update_key",
                "rbac.*.add_permission_to_key",
                "rbac.*.remove_permission_from_key",
            ],
            per_resource: Some(&[
                "api.{api}.update_key",
                "rbac.*.add_permission_to_key",
                "rbac.*.remove_permission_from_key",
            ]),
            lacking: &[
                &["api.*.update_key", "rbac.*.add_permission_to_key"],
                &["api.*.update_key", "rbac.*.remove_permission_from_key"],
                &[
                    "rbac.*.add_permission_to_key",
                    "rbac.*.remove_permission_from_key",
                ],
            ],
            denied: Forbidden,
        },
        Route {
            op: "keys.addRoles",
            body: |fx| json!({"keyId": fx.key_id, "roles": [fx.role]}),
            wildcard: &["api.*.update_key", "rbac.*.add_role_to_key"],
            per_resource: Some(&["api.{api}.update_key", "rbac.*.add_role_to_key"]),
            lacking: &[&["api.*.update_key"], &["rbac.*.add_role_to_key"]],
            denied: Forbidden,
        },
        Route {
            op: "keys.removeRoles",
            body: |fx| json!({"keyId": fx.key_id, "roles": [fx.role]}),
            wildcard: &["api.*.update_key"],
            per_resource: Some(&["api.{api}.update_key"]),
            lacking: &[&["rbac.*.remove_role_from_key"], &["api.*.read_key"]],
            denied: Forbidden,
        },
        Route {
            op: "keys.setRoles",
            body: |fx| json!({"keyId": fx.key_id, "roles": [fx.role]}),
            wildcard: &["api.*.update_key"],
            per_resource: Some(&["api.{api}.update_key"]),
            lacking: &[&["rbac.*.add_role_to_key", "rbac.*.remove_role_from_key"]],
            denied: Forbidden,
        },
        Route {
            op: "permissions.createPermission",
            body: |_| {
                let slug = format!("{}.write", unique("made"));
                json!({"name": slug, "slug": slug})
            },
            wildcard: &["rbac.*.create_permission"],
            per_resource: None,
            lacking: &[&["rbac.*.read_permission"], &["rbac.*.create_role"]],
            denied: Forbidden,
        },
        Route {
            op: "permissions.getPermission",
            body: |fx| json!({"permission": fx.perm}),
            wildcard: &["rbac.*.read_permission"],
            per_resource: None,
            lacking: &[&["rbac.*.read_role"], &["rbac.*.create_permission"]],
            denied: Forbidden,
        },
        Route {
            op: "permissions.listPermissions",
            body: |_| json!({}),
            wildcard: &["rbac.*.read_permission"],
            per_resource: None,
            lacking: &[&["rbac.*.read_role"]],
            denied: Forbidden,
        },
        Route {
            op: "permissions.deletePermission",
            body: |fx| json!({"permission": fx.perm}),
            wildcard: &["rbac.*.delete_permission"],
            per_resource: None,
            lacking: &[&["rbac.*.read_permission"], &["rbac.*.delete_role"]],
            denied: Forbidden,
        },
        Route {
            op: "permissions.createRole",
            body: |_| json!({"name": unique("made-role-")}),
            wildcard: &["rbac.*.create_role"],
            per_resource: None,
            lacking: &[&["rbac.*.create_permission"], &["rbac.*.read_role"]],
            denied: Forbidden,
        },
        Route {
            op: "permissions.getRole",
            body: |fx| json!({"role": fx.role}),
            wildcard: &["rbac.*.read_role"],
            per_resource: None,
            lacking: &[&["rbac.*.read_permission"]],
            denied: Forbidden,
        },
        Route {
            op: "permissions.listRoles",
            body: |_| json!({}),
            wildcard: &["rbac.*.read_role"],
            per_resource: None,
            lacking: &[&["rbac.*.read_permission"]],
            denied: Forbidden,
        },
        Route {
            op: "permissions.deleteRole",
            body: |fx| json!({"role": fx.role}),
            wildcard: &["rbac.*.delete_role"],
            per_resource: None,
            lacking: &[&["rbac.*.read_role"], &["rbac.*.delete_permission"]],
            denied: Forbidden,
        },
        Route {
            op: "permissions.setRolePermissions",
            body: |fx| json!({"roleId": fx.role_id, "permissions": [fx.perm]}),
            wildcard: &[
                "rbac.*.add_permission_to_role",
                "rbac.*.remove_permission_from_role",
            ],
            per_resource: None,
            lacking: &[
                &["rbac.*.add_permission_to_role"],
                &["rbac.*.remove_permission_from_role"],
                &["rbac.*.update_role", "rbac.*.create_permission"],
            ],
            denied: Forbidden,
        },
        Route {
            op: "identities.updateIdentity",
            body: |fx| json!({"identity": fx.external_id, "meta": {"plan": "pro"}}),
            wildcard: &["identity.*.update_identity"],
            per_resource: None,
            lacking: &[
                &["identity.*.read_identity"],
                &["identity.{identity}.update_identity"],
            ],
            denied: Forbidden,
        },
        Route {
            op: "identities.createIdentity",
            body: |_| json!({"externalId": unique("new-user-")}),
            wildcard: &["identity.*.create_identity"],
            per_resource: None,
            lacking: &[&["identity.*.read_identity"]],
            denied: Forbidden,
        },
        Route {
            op: "identities.getIdentity",
            body: |fx| json!({"identity": fx.external_id}),
            wildcard: &["identity.*.read_identity"],
            per_resource: Some(&["identity.{identity}.read_identity"]),
            lacking: &[
                &["identity.*.delete_identity"],
                &["identity.id_other.read_identity"],
            ],
            denied: Forbidden,
        },
        Route {
            op: "identities.listIdentities",
            body: |_| json!({}),
            wildcard: &["identity.*.read_identity"],
            per_resource: None,
            lacking: &[
                &["identity.*.create_identity"],
                &["identity.{identity}.read_identity"],
            ],
            denied: Forbidden,
        },
        Route {
            op: "identities.deleteIdentity",
            body: |fx| json!({"identity": fx.identity_id}),
            wildcard: &["identity.*.delete_identity"],
            per_resource: None,
            lacking: &[
                &["identity.*.read_identity"],
                &["identity.{identity}.delete_identity"],
            ],
            denied: Forbidden,
        },
    ]
}

fn assert_denied(op: &str, denied: Denied, status: u16, body: &Value, granted: &[String]) {
    let ctx = format!("{op} with {granted:?}: {status} {body}");
    match denied {
        Denied::Forbidden => {
            assert_eq!(status, 403, "{ctx}");
            common::assert_problem(body, 403);
            let kind = body["error"]["type"].as_str().unwrap();
            assert!(
                kind.ends_with("unkey/authorization/insufficient_permissions"),
                "{ctx}"
            );
            assert_eq!(body["error"]["title"], "Forbidden", "{ctx}");
            assert!(
                body["error"]["detail"]
                    .as_str()
                    .unwrap()
                    .starts_with("Missing"),
                "{ctx}"
            );
        }
        Denied::NotFound(what) => {
            assert_eq!(status, 404, "{ctx}");
            common::assert_problem(body, 404);
            let kind = body["error"]["type"].as_str().unwrap();
            assert!(kind.ends_with(&format!("unkey/data/{what}")), "{ctx}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_checks_unkeys_permission() {
    let s = common::start().await;
    for route in routes() {
        // Lacking: refused, and nothing happened.
        for lacking in route.lacking {
            let fx = fresh(&s).await;
            let granted = fill(lacking, &fx);
            let root = s.root_with(None, &granted).await;
            let (status, body) = s.call_as(&root, route.op, (route.body)(&fx)).await;
            assert_denied(route.op, route.denied, status, &body, &granted);
            // The fixture is untouched: the seeded root key still sees the key as it was.
            let key = s.ok("keys.getKey", json!({"keyId": fx.key_id})).await;
            assert_eq!(key["credits"]["remaining"], 10, "{}: {key}", route.op);
            assert!(key["name"].is_null(), "{}: {key}", route.op);
        }
        // Exactly what it needs, in each form: allowed.
        let forms = std::iter::once(route.wildcard).chain(route.per_resource);
        for needed in forms {
            let fx = fresh(&s).await;
            let granted = fill(needed, &fx);
            let root = s.root_with(None, &granted).await;
            let (status, body) = s.call_as(&root, route.op, (route.body)(&fx)).await;
            assert_eq!(
                status, 200,
                "{} with exactly {granted:?}: {status} {body}",
                route.op
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_of_a_key_the_root_key_may_not_verify_is_not_found() {
    let s = common::start().await;
    let fx = fresh(&s).await;
    let other = fresh(&s).await;
    let verify_here = s
        .root_with(None, &[format!("api.{}.verify_key", fx.api)])
        .await;
    let verify_all = s.root_with(None, &["api.*.verify_key".to_string()]).await;
    let create_only = s.root_with(None, &["api.*.create_key".to_string()]).await;

    // Twice each: the second call finds the root key in the cache (the fast path).
    for _ in 0..2 {
        for (root, key, valid) in [
            (&verify_here, &fx.key, true),
            (&verify_here, &other.key, false),
            (&verify_all, &other.key, true),
            (&create_only, &fx.key, false),
        ] {
            let (status, body) = s.call_as(root, "keys.verifyKey", json!({"key": key})).await;
            assert_eq!(status, 200, "{body}");
            let data = &body["data"];
            if valid {
                assert_eq!(data["code"], "VALID", "{body}");
            } else {
                // Exactly what an unknown key answers: nothing about the key.
                assert_eq!(
                    data,
                    &json!({"valid": false, "code": "NOT_FOUND"}),
                    "{body}"
                );
            }
        }
    }
    // Credits were spent only by the verifications that were allowed: fx 2×, other 2×.
    for (f, spent) in [(&fx, 2), (&other, 2)] {
        let key = s.ok("keys.getKey", json!({"keyId": f.key_id})).await;
        assert_eq!(key["credits"]["remaining"], 10 - spent, "{key}");
    }
    // A key the root key may not verify, with a cost: still NOT_FOUND and nothing charged.
    let (status, body) = s
        .call_as(
            &verify_here,
            "keys.verifyKey",
            json!({"key": other.key, "credits": {"cost": 5},
                   "ratelimits": [{"name": "burst", "limit": 1, "duration": 60000}]}),
        )
        .await;
    assert_eq!(
        (status, body["data"]["code"].clone()),
        (200, json!("NOT_FOUND"))
    );
    let key = s.ok("keys.getKey", json!({"keyId": other.key_id})).await;
    assert_eq!(key["credits"]["remaining"], 8, "{key}");
    // Its rate limit was not charged either: the allowed root key gets the one request.
    let (_, body) = s
        .call_as(
            &verify_all,
            "keys.verifyKey",
            json!({"key": other.key,
                   "ratelimits": [{"name": "burst", "limit": 1, "duration": 60000}]}),
        )
        .await;
    assert_eq!(body["data"]["code"], "VALID", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_permissions_on_the_fly_needs_create_permission() {
    let s = common::start().await;
    let base = ["api.*.update_key", "rbac.*.add_permission_to_key"];
    // keys.addPermissions / keys.setPermissions with a permission that does not exist yet.
    for op in ["keys.addPermissions", "keys.setPermissions"] {
        let mut granted: Vec<String> = base.iter().map(|p| p.to_string()).collect();
        if op == "keys.setPermissions" {
            granted.push("rbac.*.remove_permission_from_key".into());
        }
        let fx = fresh(&s).await;
        let new_perm = format!("{}.read", unique("brand-new"));
        let root = s.root_with(None, &granted).await;
        let body = json!({"keyId": fx.key_id, "permissions": [new_perm]});
        let (status, answer) = s.call_as(&root, op, body.clone()).await;
        assert_denied(op, Denied::Forbidden, status, &answer, &granted);
        assert!(answer["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("rbac.*.create_permission"));
        // Refused: the permission was not created either.
        let get = json!({"permission": new_perm});
        s.fails("permissions.getPermission", get, 404).await;
        granted.push("rbac.*.create_permission".into());
        let root = s.root_with(None, &granted).await;
        let (status, answer) = s.call_as(&root, op, body).await;
        assert_eq!(status, 200, "{op}: {answer}");
    }
    // permissions.createRole with permissions: add_permission_to_role, and create_permission
    // for new ones.
    let fx = fresh(&s).await;
    let create_role = vec!["rbac.*.create_role".to_string()];
    let root = s.root_with(None, &create_role).await;
    let (status, answer) = s
        .call_as(
            &root,
            "permissions.createRole",
            json!({"name": unique("r-"), "permissions": [fx.perm]}),
        )
        .await;
    assert_denied(
        "createRole",
        Denied::Forbidden,
        status,
        &answer,
        &create_role,
    );
    let with_add = vec![
        "rbac.*.create_role".to_string(),
        "rbac.*.add_permission_to_role".to_string(),
    ];
    let root = s.root_with(None, &with_add).await;
    let role_with = |perm: String| {
        let body = json!({"name": unique("r-"), "permissions": [perm]});
        s.call_as(&root, "permissions.createRole", body)
    };
    let (status, answer) = role_with(fx.perm.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = role_with(format!("{}.x", unique("nope"))).await;
    assert_denied("createRole", Denied::Forbidden, status, &answer, &with_add);

    // permissions.setRolePermissions: creating a missing slug needs create_permission, checked
    // after the role's lookup (an unknown role stays a 404).
    let set_perms = vec![
        "rbac.*.add_permission_to_role".to_string(),
        "rbac.*.remove_permission_from_role".to_string(),
    ];
    let root = s.root_with(None, &set_perms).await;
    let new_perm = format!("{}.read", unique("fresh"));
    let body = json!({"roleId": fx.role_id, "permissions": [fx.perm, new_perm]});
    let (status, answer) = s
        .call_as(&root, "permissions.setRolePermissions", body.clone())
        .await;
    assert_denied(
        "setRolePermissions",
        Denied::Forbidden,
        status,
        &answer,
        &set_perms,
    );
    let unknown_role = json!({"roleId": "role_unknown000", "permissions": [new_perm]});
    s.fails_as(&root, "permissions.setRolePermissions", unknown_role, 404)
        .await;
    let (status, answer) = s
        .call_as(
            &root,
            "permissions.setRolePermissions",
            json!({"roleId": fx.role_id, "permissions": [fx.perm.to_uppercase()]}),
        )
        .await;
    assert_eq!(
        status, 200,
        "an existing slug in other case creates nothing: {answer}"
    );
    let mut with_create = set_perms.clone();
    with_create.push("rbac.*.create_permission".into());
    let root = s.root_with(None, &with_create).await;
    let (status, answer) = s
        .call_as(&root, "permissions.setRolePermissions", body)
        .await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_identities_needs_every_listed_identity() {
    let s = common::start().await;
    let a = s.create_identity("only-a").await;
    let only_a = vec![format!("identity.{a}.read_identity")];
    let root = s.root_with(None, &only_a).await;
    let (status, body) = s
        .call_as(&root, "identities.listIdentities", json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    s.ok("identities.createIdentity", json!({"externalId": "then-b"}))
        .await;
    let (status, body) = s
        .call_as(&root, "identities.listIdentities", json!({}))
        .await;
    assert_denied("listIdentities", Denied::Forbidden, status, &body, &only_a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_keep_unkeys_order_and_answers() {
    let s = common::start().await;
    let fx = fresh(&s).await;
    let reader = s.root_with(None, &["api.*.read_key".to_string()]).await;
    // The body is validated first: 400, not 403.
    let (status, body) = s
        .call_as(&reader, "apis.createApi", json!({"name": "x"}))
        .await;
    assert_eq!(status, 400, "{body}");
    // A check before the lookup: 403 even for an api that does not exist.
    let (status, body) = s
        .call_as(&reader, "apis.getApi", json!({"apiId": "api_missing"}))
        .await;
    assert_denied("getApi", Denied::Forbidden, status, &body, &[]);
    // A check on the key's api: an unknown key stays 404.
    let (status, body) = s
        .call_as(&reader, "keys.deleteKey", json!({"keyId": "key_missing"}))
        .await;
    assert_eq!(status, 404, "{body}");
    // A permanent delete of a soft-deleted key still needs delete_key.
    s.ok("keys.deleteKey", json!({"keyId": fx.key_id})).await;
    let (status, body) = s
        .call_as(
            &reader,
            "keys.deleteKey",
            json!({"keyId": fx.key_id, "permanent": true}),
        )
        .await;
    assert_denied("deleteKey", Denied::Forbidden, status, &body, &[]);
    let deleter = s
        .root_with(None, &[format!("api.{}.delete_key", fx.api)])
        .await;
    let (status, body) = s
        .call_as(
            &deleter,
            "keys.deleteKey",
            json!({"keyId": fx.key_id, "permanent": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // createKey without create_key: the same 404 as for an api that does not exist.
    let create = |api: &str| s.call_as(&reader, "keys.createKey", json!({ "apiId": api }));
    let (s1, b1) = create(&fx.api).await;
    let (s2, b2) = create("api_missing0000").await;
    assert_eq!((s1, s2), (404, 404));
    assert_eq!(b1["error"]["type"], b2["error"]["type"]);
    assert!(!b1.to_string().contains(&fx.api[4..]), "{b1}");
    // An idempotent createKey cannot be replayed by a root key that may not create keys.
    let creator = s.root_with(None, &["api.*.create_key".to_string()]).await;
    let send = |root: String| {
        let s = &s;
        let api = fx.api.clone();
        async move {
            let resp = s
                .client
                .post(s.url("/v2/keys.createKey"))
                .bearer_auth(root)
                .header("idempotency-key", "authz-replay-1")
                .json(&json!({"apiId": api}))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let (status, first) = send(creator.clone()).await;
    assert_eq!(status, 200, "{first}");
    let created: Value = serde_json::from_str(&first).unwrap();
    let plaintext = created["data"]["key"].as_str().unwrap().to_string();
    let (status, replay) = send(reader.clone()).await;
    assert_eq!(status, 404, "{replay}");
    assert!(!replay.contains(&plaintext), "the replay leaked the key");
    let (status, again) = send(creator).await;
    let again: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(
        (status, &again["data"]),
        (200, &created["data"]),
        "the creator still gets the replay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_keys_are_listed_with_their_permissions_and_never_in_clear() {
    let s = common::start().await;
    let granted = vec![
        "api.*.create_key".to_string(),
        "api.*.verify_key".to_string(),
    ];
    let root = s.root_with(None, &granted).await;
    let engine = s.engine.clone();
    let keys = tokio::task::spawn_blocking(move || engine.list_root_keys(None).unwrap())
        .await
        .unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(
        keys[0].permissions,
        vec!["*"],
        "the seeded key has everything"
    );
    assert_eq!(keys[1].permissions, granted);
    let shown = format!("{keys:?}");
    for k in [&root, &s.root_key] {
        assert!(!shown.contains(k.as_str()), "{shown}");
        assert!(!shown.contains(&k[k.len() - 12..]), "{shown}");
    }
    // Unknown names are refused when the key is made.
    let engine = s.engine.clone();
    let err = tokio::task::spawn_blocking(move || {
        let ws = keys[0].workspace_id.clone();
        engine
            .create_root_key_with_permissions(&ws, &["api.*.verify"])
            .unwrap_err()
    })
    .await
    .unwrap();
    assert_eq!(err.code, keyshift_core::ErrorCode::InvalidInput, "{err}");
}
