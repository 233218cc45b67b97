//! Tenant isolation (issue 14 #4, DESIGN.md §4 "each root key belongs to one workspace and sees
//! nothing else", §7): workspace B has an api, keys with credits, permissions, a role, an
//! identity and a migration; then every operation of [`Op::ALL`] is called with workspace A's
//! root key against B's ids and keys. Each answers not-found (404, or 200 `NOT_FOUND` for a
//! verification), or — for the operations that take no id of B (creates, lists) — acts in A
//! only; no answer carries B's data, and B's state read with B's root key is the same before
//! and after, credits included. A new operation fails [`probes`] until it has a probe here.

mod common;

use common::{assert_problem, TestServer};
use keyshift_core::wire::Op;
use keyshift_core::{hash_key, HashVariant};
use serde_json::{json, Value};

/// Everything of workspace B the probes aim at.
struct B {
    root: String,
    api: String,
    key_ids: Vec<String>,
    /// Plaintexts of B's created and migrated keys.
    keys: Vec<String>,
    permission_id: String,
    role_id: String,
    identity_id: String,
    /// Strings only B's data contains (names, meta); no answer to A may carry them.
    markers: Vec<String>,
    /// The body of B's createKey sent with [`IDEM_KEY`].
    idem_body: Value,
    /// A portal session of B's.
    portal_session_id: String,
}

/// The `Idempotency-Key` B's second createKey was sent with.
const IDEM_KEY: &str = "idem_b_shared_0001";

async fn post_idem(s: &TestServer, root: &str, op: &str, body: &Value, idem: &str) -> (u16, Value) {
    let resp = s
        .client
        .post(s.url(&format!("/v2/{op}")))
        .bearer_auth(root)
        .header("Idempotency-Key", idem)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// What an answer to A must be.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// 404 with the problem shape.
    NotFound,
    /// 200, a verification with code NOT_FOUND and nothing about the key.
    VerifyNotFound,
    /// 200: acted in A only (a create or a list of A's own things); carries no id of B.
    InAOnly,
}

async fn setup_b(s: &TestServer) -> B {
    let (_ws, root) = s.second_workspace("workspace-b").await;
    let ok = |op: &'static str, body: Value| {
        let root = root.clone();
        async move {
            let (status, v) = s.call_as(&root, op, body).await;
            assert_eq!(status, 200, "B {op}: {v}");
            v["data"].clone()
        }
    };
    let create = |op: &'static str, body: Value, field: &'static str| {
        let root = root.clone();
        async move { s.created_id_as(&root, op, body, field).await }
    };
    let api = create("apis.createApi", json!({"name": "b-private-api"}), "apiId").await;
    let body =
        json!({"name": "b.private.read", "slug": "b.private.read", "description": "b-desc-marker"});
    let permission_id = create("permissions.createPermission", body, "permissionId").await;
    let body = json!({"name": "b-private-role", "permissions": ["b.private.read"]});
    let role_id = create("permissions.createRole", body, "roleId").await;
    let body = json!({"externalId": "b_private_user", "meta": {"bIdentityMarker": "b-ident-meta"}});
    let identity_id = create("identities.createIdentity", body, "identityId").await;
    let mut key_ids = Vec::new();
    let mut keys = Vec::new();
    let mut idem_body = Value::Null;
    for i in 0..2 {
        let body = json!({
                "apiId": api,
                "name": format!("b-private-key-{i}"),
                "prefix": "bkey",
                "externalId": "b_private_user",
                "meta": {"bKeyMarker": "b-key-meta"},
                "permissions": ["b.private.read", "b.private.write"],
                "roles": ["b-private-role"],
                "credits": {"remaining": 10},
        });
        let data = if i == 0 {
            ok("keys.createKey", body).await
        } else {
            // With an Idempotency-Key, whose stored answer holds this plaintext key.
            let (status, v) = post_idem(s, &root, "keys.createKey", &body, IDEM_KEY).await;
            assert_eq!(status, 200, "B createKey: {v}");
            idem_body = body;
            v["data"].clone()
        };
        key_ids.push(data["keyId"].as_str().unwrap().to_string());
        keys.push(data["key"].as_str().unwrap().to_string());
    }
    // B's verifications are in the analytics log; no analytics answer to A may show them.
    for key in &keys {
        let v = ok(
            "keys.verifyKey",
            json!({"key": key, "credits": {"cost": 0}, "tags": ["b-private-tag"]}),
        )
        .await;
        assert_eq!(v["code"], "VALID", "{v}");
    }
    // A migration of B's: two keys from a legacy system, by hash.
    let legacy = ["legacy_b_0_Zq8x3Lm2Pw9Rt4Yv", "legacy_b_1_Hk5Jd7Nc1Bx6Qs3W"];
    let hashes: Vec<Value> = legacy
        .iter()
        .map(|k| {
            json!({
                "hash": hash_key(k, HashVariant::Sha256Base64).unwrap().value,
                "name": "b-migrated-key",
                "credits": {"remaining": 5},
            })
        })
        .collect();
    let migrated = ok(
        "keys.migrateKeys",
        json!({"migrationId": "b-private-migration", "apiId": api, "keys": hashes}),
    )
    .await;
    let migrated = migrated["migrated"].as_array().unwrap();
    assert_eq!(migrated.len(), 2, "{migrated:?}");
    for m in migrated {
        key_ids.push(m["keyId"].as_str().unwrap().to_string());
    }
    keys.extend(legacy.iter().map(|k| k.to_string()));
    let session = ok(
        "portal.createSession",
        json!({"portal": api, "externalId": "b_private_user", "scopes": ["keys:read"]}),
    )
    .await;
    let portal_session_id = session["id"].as_str().unwrap().to_string();
    B {
        portal_session_id,
        root,
        api,
        key_ids,
        keys,
        permission_id,
        role_id,
        identity_id,
        markers: [
            "b-private-api",
            "b-desc-marker",
            "b-private-key-",
            "b-key-meta",
            "b-ident-meta",
            "b-migrated-key",
            "b-private-tag",
        ]
        .map(str::to_string)
        .to_vec(),
        idem_body,
    }
}

/// B's whole state as B's root key sees it (request ids removed).
async fn snapshot(s: &TestServer, b: &B) -> Vec<(String, u16, Value)> {
    let mut calls = vec![
        ("apis.getApi", json!({"apiId": b.api})),
        ("apis.listKeys", json!({"apiId": b.api, "limit": 100})),
        ("permissions.listPermissions", json!({})),
        ("permissions.listRoles", json!({})),
        ("identities.listIdentities", json!({})),
        ("identities.getIdentity", json!({"identity": b.identity_id})),
        (
            "permissions.getPermission",
            json!({"permission": b.permission_id}),
        ),
        ("permissions.getRole", json!({"role": b.role_id})),
    ];
    for id in &b.key_ids {
        calls.push(("keys.getKey", json!({"keyId": id})));
    }
    let mut out = Vec::new();
    for (op, body) in calls {
        let (status, mut v) = s.call_as(&b.root, op, body.clone()).await;
        assert_eq!(status, 200, "B {op} {body}: {v}");
        v.as_object_mut().unwrap().remove("meta");
        out.push((format!("{op} {body}"), status, v));
    }
    out
}

/// The calls A makes for `op`, aimed at B. A new operation must get its probes here.
fn probes(op: Op, b: &B) -> Vec<(Value, Expect)> {
    use Expect::*;
    let key_ops = |f: &dyn Fn(&str) -> Value| -> Vec<(Value, Expect)> {
        b.key_ids.iter().map(|id| (f(id), NotFound)).collect()
    };
    match op {
        Op::CreateApi => vec![(json!({"name": "b-private-api"}), InAOnly)],
        Op::GetApi => vec![(json!({"apiId": b.api}), NotFound)],
        Op::ListKeys => vec![(json!({"apiId": b.api}), NotFound)],
        Op::DeleteApi => vec![(json!({"apiId": b.api}), NotFound)],
        Op::CreateKey => vec![
            (json!({"apiId": b.api}), NotFound),
            (
                json!({"apiId": b.api, "externalId": "b_private_user", "roles": ["b-private-role"]}),
                NotFound,
            ),
        ],
        Op::VerifyKey => b
            .keys
            .iter()
            .flat_map(|k| {
                [
                    (json!({"key": k}), VerifyNotFound),
                    (json!({"key": k, "credits": {"cost": 1}}), VerifyNotFound),
                    (
                        json!({"key": k, "permissions": "b.private.read"}),
                        VerifyNotFound,
                    ),
                ]
            })
            .collect(),
        Op::GetKey => key_ops(&|id| json!({"keyId": id})),
        Op::UpdateKey => key_ops(
            &|id| json!({"keyId": id, "enabled": false, "name": "hijacked", "credits": {"remaining": 0}}),
        ),
        Op::DeleteKey => key_ops(&|id| json!({"keyId": id, "permanent": true})),
        Op::RerollKey => key_ops(&|id| json!({"keyId": id, "expiration": 0})),
        Op::MigrateKeys => vec![(
            json!({
                "migrationId": "b-private-migration",
                "apiId": b.api,
                "keys": [{"hash": hash_key("legacy_new_from_a_9xY7", HashVariant::Sha256Base64).unwrap().value}],
            }),
            NotFound,
        )],
        Op::AddPermissions => {
            key_ops(&|id| json!({"keyId": id, "permissions": ["b.private.read", "x.new"]}))
        }
        Op::RemovePermissions => {
            key_ops(&|id| json!({"keyId": id, "permissions": ["b.private.read"]}))
        }
        Op::SetPermissions => key_ops(&|id| json!({"keyId": id, "permissions": []})),
        Op::AddRoles => key_ops(&|id| json!({"keyId": id, "roles": ["b-private-role"]})),
        Op::RemoveRoles => key_ops(&|id| json!({"keyId": id, "roles": ["b-private-role"]})),
        Op::SetRoles => key_ops(&|id| json!({"keyId": id, "roles": []})),
        Op::UpdateCredits => key_ops(&|id| json!({"keyId": id, "operation": "set", "value": 0})),
        Op::Whoami => b
            .keys
            .iter()
            .map(|k| (json!({"key": k}), NotFound))
            .collect(),
        Op::CreatePermission => vec![(
            json!({"name": "b.private.read", "slug": "b.private.read"}),
            InAOnly,
        )],
        Op::GetPermission => vec![(json!({"permission": b.permission_id}), NotFound)],
        Op::ListPermissions => vec![(json!({}), InAOnly)],
        Op::DeletePermission => vec![(json!({"permission": b.permission_id}), NotFound)],
        Op::CreateRole => vec![(json!({"name": "b-private-role"}), InAOnly)],
        Op::GetRole => vec![(json!({"role": b.role_id}), NotFound)],
        Op::ListRoles => vec![(json!({}), InAOnly)],
        Op::DeleteRole => vec![(json!({"role": b.role_id}), NotFound)],
        Op::SetRolePermissions => vec![(
            json!({"roleId": b.role_id, "permissions": ["b.private.read"]}),
            NotFound,
        )],
        Op::CreateIdentity => vec![(json!({"externalId": "b_private_user"}), InAOnly)],
        Op::GetIdentity => vec![(json!({"identity": b.identity_id}), NotFound)],
        Op::ListIdentities => vec![(json!({}), InAOnly)],
        Op::DeleteIdentity => vec![(json!({"identity": b.identity_id}), NotFound)],
        Op::UpdateIdentity => vec![(
            json!({"identity": b.identity_id, "meta": {"hijacked": true}}),
            NotFound,
        )],
        Op::GetVerifications => [
            "SELECT * FROM key_verifications_v1",
            "SELECT * FROM key_verifications_per_day_v1",
            "SELECT count(*) AS n, group_concat(tags) AS t FROM key_verifications_v1",
        ]
        .map(|q| (json!({ "query": q }), InAOnly))
        .to_vec(),
        Op::CreatePortalSession => vec![(
            json!({"portal": b.api, "externalId": "b_private_user", "scopes": ["keys:read"]}),
            NotFound,
        )],
        Op::GetPortal => vec![(json!({"portal": b.api}), NotFound)],
        Op::UpdatePortal => vec![(json!({"portal": b.api, "name": "hijacked"}), NotFound)],
        Op::RevokePortalSession => {
            vec![(json!({"sessionId": b.portal_session_id}), NotFound)]
        }
        other => {
            panic!("{other}: a new operation needs an isolation probe in server/tests/isolation.rs")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_key_of_workspace_a_never_sees_or_changes_workspace_b() {
    let s = common::start().await;
    let root_a = s.root_key.clone();
    let b = setup_b(&s).await;
    // A has things of its own too, named like B's, so a lookup by name cannot fall through.
    let api_a = s.create_api("a-api").await;
    s.create_key(json!({"apiId": api_a, "externalId": "a_user", "credits": {"remaining": 3}}))
        .await;

    let before = snapshot(&s, &b).await;
    // B's snapshot really shows B's things (so an empty snapshot cannot pass).
    let text = serde_json::to_string(&before).unwrap();
    for id in b
        .key_ids
        .iter()
        .chain([&b.api, &b.permission_id, &b.role_id, &b.identity_id])
    {
        assert!(text.contains(id.as_str()), "B's snapshot lacks {id}");
    }
    assert!(text.contains("\"remaining\":10"), "{text}");

    // B's ids: none may appear in an answer to A unless A sent it.
    let b_ids: Vec<&String> = b
        .key_ids
        .iter()
        .chain([&b.api, &b.permission_id, &b.role_id, &b.identity_id])
        .collect();
    let mut probed = 0;
    for &op in Op::ALL {
        for (body, expect) in probes(op, &b) {
            probed += 1;
            let (status, v) = s.call_as(&root_a, op.name(), body.clone()).await;
            let answer = v.to_string();
            let sent = body.to_string();
            for secret in b.keys.iter().chain(&b.markers).chain(b_ids.iter().copied()) {
                assert!(
                    sent.contains(secret.as_str()) || !answer.contains(secret.as_str()),
                    "{op} {body}: A's answer carries B's {secret}: {answer}"
                );
            }
            for key in &b.keys {
                // A plaintext A sent is never echoed back either.
                assert!(
                    !answer.contains(key.as_str()),
                    "{op}: echoes a key: {answer}"
                );
            }
            match expect {
                Expect::NotFound => {
                    assert_eq!(status, 404, "{op} {body} with A's root key: {answer}");
                    assert_problem(&v, 404);
                }
                Expect::VerifyNotFound => {
                    assert_eq!(status, 200, "{op} {body}: {answer}");
                    let data = &v["data"];
                    assert_eq!(data["code"], "NOT_FOUND", "{op} {body}: {answer}");
                    assert_eq!(data["valid"], false, "{answer}");
                    for field in [
                        "keyId",
                        "name",
                        "meta",
                        "credits",
                        "permissions",
                        "roles",
                        "identity",
                    ] {
                        let present = data.get(field).is_some_and(|x| {
                            !x.is_null() && x.as_array().is_none_or(|a| !a.is_empty())
                        });
                        assert!(!present, "{op}: NOT_FOUND carries {field}: {answer}");
                    }
                }
                Expect::InAOnly => {
                    assert_eq!(status, 200, "{op} {body} with A's root key: {answer}");
                }
            }
        }
    }
    assert!(probed >= Op::ALL.len());

    // A's own api lists only A's key.
    let (status, v) = s
        .call_as(&root_a, "apis.listKeys", json!({"apiId": api_a}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");

    // Hashes are unique per workspace: A migrating the hash of one of B's keys into A's api is
    // a new key of A's (no "already exists" telling A that B has it), and verifying that
    // plaintext with A's root key then finds A's key, never B's.
    let legacy = &b.keys[2];
    let hash = hash_key(legacy, HashVariant::Sha256Base64).unwrap().value;
    let (status, v) = s
        .call_as(
            &root_a,
            "keys.migrateKeys",
            json!({"migrationId": "b-private-migration", "apiId": api_a, "keys": [{"hash": hash}]}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let migrated = v["data"]["migrated"].as_array().unwrap();
    assert_eq!(migrated.len(), 1, "{v}");
    let a_key_id = migrated[0]["keyId"].as_str().unwrap().to_string();
    assert!(!b.key_ids.contains(&a_key_id), "{v}");
    let (status, v) = s
        .call_as(&root_a, "keys.verifyKey", json!({"key": legacy}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["code"], "VALID", "{v}");
    assert_eq!(v["data"]["keyId"], a_key_id.as_str(), "{v}");
    assert!(v["data"].get("credits").is_none_or(Value::is_null), "{v}");

    // Idempotency records are per workspace: A repeating B's exact createKey with B's
    // Idempotency-Key is not replayed B's answer (which holds B's plaintext key): it is run
    // for A, i.e. 404 for B's api; and the same key on A's own api mints A a new key.
    let (status, v) = post_idem(&s, &root_a, "keys.createKey", &b.idem_body, IDEM_KEY).await;
    assert_eq!(status, 404, "A replayed B's createKey: {v}");
    let answer = v.to_string();
    for secret in b.keys.iter().chain(&b.key_ids) {
        assert!(!answer.contains(secret.as_str()), "{answer}");
    }
    let mut own = b.idem_body.clone();
    own["apiId"] = json!(api_a);
    own.as_object_mut().unwrap().remove("roles");
    own["externalId"] = json!("a_user");
    let (status, v) = post_idem(&s, &root_a, "keys.createKey", &own, IDEM_KEY).await;
    assert_eq!(status, 200, "{v}");
    assert!(
        !b.key_ids.iter().any(|id| v["data"]["keyId"] == id.as_str()),
        "{v}"
    );
    assert!(
        !b.keys.iter().any(|k| v["data"]["key"] == k.as_str()),
        "{v}"
    );

    let after = snapshot(&s, &b).await;
    assert_eq!(before.len(), after.len());
    for (x, y) in before.iter().zip(&after) {
        assert_eq!(x, y, "B's state changed after A's calls");
    }

    // B's keys still verify for B, with every credit left (A spent none).
    for (i, key) in b.keys.iter().enumerate() {
        let (status, v) = s
            .call_as(
                &b.root,
                "keys.verifyKey",
                json!({"key": key, "credits": {"cost": 1}}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["data"]["code"], "VALID", "{v}");
        let left = if i < 2 { 9 } else { 4 };
        assert_eq!(
            v["data"]["credits"], left,
            "a credit of B's was spent by A: {v}"
        );
    }
    s.stop().await;
}
