//! Key-service semantics over real HTTP: every operation, verify codes, permission queries,
//! credits under concurrency, expiry, deletes, reroll, migration, idempotency, error shapes,
//! workspace isolation and persistence across restarts.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{assert_problem, now_ms, start, start_on, start_with_api, Options};
use keyshift_core::hashing::{sha256_base64, sha256_hex};
use serde_json::{json, Value};

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or_else(|| panic!("no code: {v}"))
}

/// Calls every operation of wire::OPERATIONS once, in a meaningful order, and checks each
/// answer's main fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_once() {
    let s = start().await;
    let mut called = BTreeSet::new();
    macro_rules! op {
        ($op:literal, $body:expr) => {{
            called.insert($op);
            s.ok($op, $body).await
        }};
    }

    let api = op!("apis.createApi", json!({"name": "everything"}));
    let api_id = api["apiId"].as_str().unwrap().to_string();
    let got = op!("apis.getApi", json!({"apiId": api_id}));
    assert_eq!(got["id"], api_id.as_str());
    assert_eq!(got["name"], "everything");

    let perm = op!(
        "permissions.createPermission",
        json!({"name": "Read docs", "slug": "docs.read", "description": "read"})
    );
    let perm_id = perm["permissionId"].as_str().unwrap().to_string();
    let got = op!("permissions.getPermission", json!({"permission": perm_id}));
    assert_eq!(got["slug"], "docs.read");
    let list = op!("permissions.listPermissions", json!({}));
    assert!(common::has_item(&list, "slug", "docs.read"), "{list}");

    let role = op!(
        "permissions.createRole",
        json!({"name": "reader", "permissions": ["docs.read"]})
    );
    let role_id = role["roleId"].as_str().unwrap().to_string();
    let got = op!("permissions.getRole", json!({"role": role_id}));
    assert_eq!(got["name"], "reader");
    let perms = op!(
        "permissions.setRolePermissions",
        json!({"roleId": role_id, "permissions": ["docs.read"]})
    );
    assert_eq!(perms[0]["slug"], "docs.read");
    let list = op!("permissions.listRoles", json!({}));
    assert!(common::has_item(&list, "name", "reader"), "{list}");

    let ident = op!(
        "identities.createIdentity",
        json!({"externalId": "user_1", "meta": {"plan": "pro"}})
    );
    let ident_id = ident["identityId"].as_str().unwrap().to_string();
    let got = op!("identities.getIdentity", json!({"identity": "user_1"}));
    assert_eq!(got["id"], ident_id.as_str());
    let got = op!(
        "identities.updateIdentity",
        json!({"identity": "user_1", "meta": {"plan": "team"}})
    );
    assert_eq!(got["meta"]["plan"], "team");
    let list = op!("identities.listIdentities", json!({}));
    assert!(common::has_item(&list, "externalId", "user_1"), "{list}");

    let created = op!(
        "keys.createKey",
        json!({"apiId": api_id, "prefix": "sk_test", "name": "main", "externalId": "user_1",
               "meta": {"tier": 1}, "permissions": ["docs.write"], "roles": ["reader"],
               "credits": {"remaining": 10}})
    );
    let key_id = created["keyId"].as_str().unwrap().to_string();
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("sk_test_"), "{key}");

    let v = op!(
        "keys.verifyKey",
        json!({"key": key, "permissions": "docs.read AND docs.write"})
    );
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(code(&v), "VALID");
    assert_eq!(v["keyId"], key_id.as_str());
    assert_eq!(v["credits"], 9);
    let rows = op!(
        "analytics.getVerifications",
        json!({"query": "SELECT key_id, outcome, spent_credits FROM key_verifications_v1"})
    );
    assert_eq!(
        rows,
        json!([{"key_id": key_id, "outcome": "VALID", "spent_credits": 1}])
    );

    let got = op!("keys.getKey", json!({"keyId": key_id}));
    assert_eq!(got["keyId"], key_id.as_str());
    assert_eq!(got["name"], "main");
    assert!(
        got.get("plaintext").is_none() && !got.to_string().contains(&key),
        "plaintext leaked: {got}"
    );
    let who = op!("keys.whoami", json!({"key": key}));
    assert_eq!(who["keyId"], key_id.as_str());

    op!(
        "keys.updateKey",
        json!({"keyId": key_id, "name": "renamed", "meta": null})
    );
    let got = s.ok("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(got["name"], "renamed");
    assert!(got.get("meta").is_none() || got["meta"].is_null(), "{got}");

    let perms = op!(
        "keys.addPermissions",
        json!({"keyId": key_id, "permissions": ["docs.delete"]})
    );
    let slugs: BTreeSet<String> = common::names(&perms, "slug").into_iter().collect();
    assert!(
        slugs.contains("docs.delete") && slugs.contains("docs.write"),
        "{perms}"
    );
    let perms = op!(
        "keys.removePermissions",
        json!({"keyId": key_id, "permissions": ["docs.delete"]})
    );
    assert!(!perms.to_string().contains("docs.delete"), "{perms}");
    let perms = op!(
        "keys.setPermissions",
        json!({"keyId": key_id, "permissions": ["docs.admin"]})
    );
    let slugs = common::names(&perms, "slug");
    assert_eq!(slugs, vec!["docs.admin"]);

    s.create_role("writer").await;
    let roles = op!(
        "keys.addRoles",
        json!({"keyId": key_id, "roles": ["writer"]})
    );
    assert_eq!(roles.as_array().unwrap().len(), 2, "{roles}");
    let roles = op!(
        "keys.removeRoles",
        json!({"keyId": key_id, "roles": ["reader"]})
    );
    assert_eq!(roles.as_array().unwrap().len(), 1, "{roles}");
    let roles = op!("keys.setRoles", json!({"keyId": key_id, "roles": []}));
    assert!(roles.as_array().unwrap().is_empty(), "{roles}");

    let credits = op!(
        "keys.updateCredits",
        json!({"keyId": key_id, "operation": "set", "value": 3})
    );
    assert_eq!(credits["remaining"], 3);
    let credits = s
        .ok(
            "keys.updateCredits",
            json!({"keyId": key_id, "operation": "increment", "value": 2}),
        )
        .await;
    assert_eq!(credits["remaining"], 5);

    let list = op!("apis.listKeys", json!({"apiId": api_id}));
    assert_eq!(list.as_array().unwrap().len(), 1);

    let rows = op!(
        "analytics.getVerifications",
        json!({"query": "SELECT count(*) AS n FROM key_verifications_v1"})
    );
    assert!(rows[0]["n"].as_i64().unwrap() >= 1, "{rows}");

    // The self-service key portal's root-key operations (the end-user side: tests/portal.rs).
    let portal = op!("portal.getPortal", json!({"portal": api_id}));
    assert_eq!(portal["apiId"], api_id.as_str());
    let portal = op!(
        "portal.updatePortal",
        json!({"portal": portal["portalId"], "name": "Everything keys"})
    );
    assert_eq!(portal["name"], "Everything keys");
    let session = op!(
        "portal.createSession",
        json!({"portal": api_id, "externalId": "portal_user", "scopes": ["keys:read"]})
    );
    assert!(session["url"]
        .as_str()
        .unwrap()
        .contains("/portal?code=pst_"));
    op!("portal.revokeSession", json!({"sessionId": session["id"]}));

    let rerolled = op!("keys.rerollKey", json!({"keyId": key_id, "expiration": 0}));
    let new_key = rerolled["key"].as_str().unwrap().to_string();
    assert_ne!(rerolled["keyId"], key_id.as_str());
    assert_eq!(code(&s.verify(json!({"key": new_key})).await), "VALID");

    let hash = sha256_base64("migrated_plaintext_key_0001");
    let migrated = op!(
        "keys.migrateKeys",
        json!({"migrationId": "m_everything", "apiId": api_id, "keys": [{"hash": hash}]})
    );
    assert_eq!(migrated["migrated"][0]["hash"], hash.as_str());

    op!("keys.deleteKey", json!({"keyId": rerolled["keyId"]}));
    op!(
        "permissions.deletePermission",
        json!({"permission": "docs.read"})
    );
    op!("permissions.deleteRole", json!({"role": "writer"}));
    op!("identities.deleteIdentity", json!({"identity": ident_id}));
    op!("apis.deleteApi", json!({"apiId": api_id}));
    s.fails("apis.getApi", json!({"apiId": api_id}), 404).await;

    let all: BTreeSet<&str> = keyshift_core::wire::OPERATIONS.iter().copied().collect();
    let missing: Vec<_> = all.difference(&called).collect();
    assert!(missing.is_empty(), "operations not exercised: {missing:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verify_code() {
    let (s, api) = start_with_api("codes").await;

    let (_, valid) = s.create_key(json!({"apiId": api})).await;
    let v = s.verify(json!({"key": valid})).await;
    assert_eq!((v["valid"].as_bool(), code(&v)), (Some(true), "VALID"));

    let v = s
        .verify(json!({"key": "sk_definitely_not_a_key_123456"}))
        .await;
    assert_eq!(
        (v["valid"].as_bool(), code(&v)),
        (Some(false), "NOT_FOUND"),
        "{v}"
    );

    let (_, disabled) = s.create_key(json!({"apiId": api, "enabled": false})).await;
    let v = s.verify(json!({"key": disabled})).await;
    assert_eq!((v["valid"].as_bool(), code(&v)), (Some(false), "DISABLED"));

    let (_, expiring) = s
        .create_key(json!({"apiId": api, "expires": now_ms() + 1200}))
        .await;
    assert_eq!(code(&s.verify(json!({"key": expiring})).await), "VALID");

    let (_, perms) = s
        .create_key(json!({"apiId": api, "permissions": ["a"]}))
        .await;
    let v = s.verify(json!({"key": perms, "permissions": "b"})).await;
    assert_eq!(
        (v["valid"].as_bool(), code(&v)),
        (Some(false), "INSUFFICIENT_PERMISSIONS")
    );

    let (_, one_credit) = s
        .create_key(json!({"apiId": api, "credits": {"remaining": 1}}))
        .await;
    assert_eq!(code(&s.verify(json!({"key": one_credit})).await), "VALID");
    let v = s.verify(json!({"key": one_credit})).await;
    assert_eq!(
        (v["valid"].as_bool(), code(&v)),
        (Some(false), "USAGE_EXCEEDED")
    );
    assert_eq!(v["credits"], 0);

    let (_, limited) = s
        .create_key(json!({"apiId": api, "ratelimits": [{"name": "requests", "limit": 2, "duration": 60000, "autoApply": true}]}))
        .await;
    assert_eq!(code(&s.verify(json!({"key": limited})).await), "VALID");
    assert_eq!(code(&s.verify(json!({"key": limited})).await), "VALID");
    let v = s.verify(json!({"key": limited})).await;
    assert_eq!(
        (v["valid"].as_bool(), code(&v)),
        (Some(false), "RATE_LIMITED"),
        "{v}"
    );
    let rl = &v["ratelimits"][0];
    assert_eq!(rl["name"], "requests");
    assert_eq!(rl["exceeded"], true);

    // Order of checks: disabled beats missing permissions; a failed permission check spends no credit.
    let (kid, ordered) = s
        .create_key(json!({"apiId": api, "enabled": false, "permissions": ["x"], "credits": {"remaining": 5}}))
        .await;
    assert_eq!(
        code(&s.verify(json!({"key": ordered, "permissions": "y"})).await),
        "DISABLED"
    );
    s.ok("keys.updateKey", json!({"keyId": kid, "enabled": true}))
        .await;
    assert_eq!(
        code(&s.verify(json!({"key": ordered, "permissions": "y"})).await),
        "INSUFFICIENT_PERMISSIONS"
    );
    let got = s.ok("keys.getKey", json!({"keyId": kid})).await;
    assert_eq!(
        got["credits"]["remaining"], 5,
        "no credit spent on a failed check: {got}"
    );

    // Expiry.
    tokio::time::sleep(Duration::from_millis(1400)).await;
    let v = s.verify(json!({"key": expiring})).await;
    assert_eq!(
        (v["valid"].as_bool(), code(&v)),
        (Some(false), "EXPIRED"),
        "{v}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_permission_queries() {
    let (s, api) = start_with_api("queries").await;
    let (_, key) = s
        .create_key(json!({"apiId": api, "permissions": ["a", "b", "api.*", "c.read"]}))
        .await;
    let cases = [
        ("a", true),
        ("z", false),
        ("a AND b", true),
        ("a AND z", false),
        ("a OR z", true),
        ("z OR y", false),
        ("(a OR z) AND b", true),
        ("(z OR y) AND a", false),
        ("z OR a AND b", true), // AND binds tighter: z OR (a AND b)
        ("a AND b OR z", true),
        ("z AND a OR y", false), // (z AND a) OR y
        ("((a AND (b OR z)) AND c.read)", true),
        ("a and b", true), // operators are case-insensitive
        ("a Or z", true),
        ("api.*", true), // `*` is a literal
        ("api.read", false),
        ("A", false), // names match exactly
    ];
    for (query, expected) in cases {
        let v = s.verify(json!({"key": key, "permissions": query})).await;
        assert_eq!(v["valid"].as_bool(), Some(expected), "{query}: {v}");
        let want = if expected {
            "VALID"
        } else {
            "INSUFFICIENT_PERMISSIONS"
        };
        assert_eq!(code(&v), want, "{query}");
    }
    // A malformed query is a 400 naming the field, not a verification outcome.
    for bad in ["a AND", "(a OR b", "AND", "a b"] {
        let err = s
            .fails(
                "keys.verifyKey",
                json!({"key": key, "permissions": bad}),
                400,
            )
            .await;
        let text = err.to_string();
        assert!(text.contains("permissions"), "{bad}: {err}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn credits_are_exact_under_concurrent_http_verifiers() {
    let (s, api) = start_with_api("credits").await;
    const CREDITS: usize = 25;
    const WORKERS: usize = 8;
    const PER_WORKER: usize = 8; // 64 attempts for 25 credits
    let (kid, key) = s
        .create_key(json!({"apiId": api, "credits": {"remaining": CREDITS}}))
        .await;
    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        // A separate client per worker: separate connections, real concurrency.
        let client = reqwest::Client::new();
        let url = s.url("/v2/keys.verifyKey");
        let root = s.root_key.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for _ in 0..PER_WORKER {
                let v: Value = common::json_of(
                    client
                        .post(&url)
                        .bearer_auth(&root)
                        .json(&json!({"key": key})),
                )
                .await;
                codes.push(v["data"]["code"].as_str().unwrap().to_string());
            }
            codes
        }));
    }
    let mut valid = 0;
    let mut exceeded = 0;
    for t in tasks {
        for c in t.await.unwrap() {
            match c.as_str() {
                "VALID" => valid += 1,
                "USAGE_EXCEEDED" => exceeded += 1,
                other => panic!("unexpected code {other}"),
            }
        }
    }
    assert_eq!(valid, CREDITS);
    assert_eq!(exceeded, WORKERS * PER_WORKER - CREDITS);
    let got = s.ok("keys.getKey", json!({"keyId": kid})).await;
    assert_eq!(got["credits"]["remaining"], 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_with_credit_cost() {
    let (s, api) = start_with_api("cost").await;
    let (_, key) = s
        .create_key(json!({"apiId": api, "credits": {"remaining": 10}}))
        .await;
    let v = s.verify(json!({"key": key, "credits": {"cost": 4}})).await;
    assert_eq!((code(&v), v["credits"].as_i64()), ("VALID", Some(6)));
    let v = s.verify(json!({"key": key, "credits": {"cost": 7}})).await;
    assert_eq!(
        (code(&v), v["credits"].as_i64()),
        ("USAGE_EXCEEDED", Some(6))
    );
    let v = s.verify(json!({"key": key, "credits": {"cost": 0}})).await;
    assert_eq!((code(&v), v["credits"].as_i64()), ("VALID", Some(6)));
    // Unlimited keys carry no credits and never run out.
    let (_, unlimited) = s.create_key(json!({"apiId": api})).await;
    let v = s
        .verify(json!({"key": unlimited, "credits": {"cost": 1000}}))
        .await;
    assert_eq!(code(&v), "VALID");
    assert!(v.get("credits").is_none() || v["credits"].is_null(), "{v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_and_permanent_delete() {
    let (s, api) = start_with_api("deletes").await;

    // Soft delete: the key stops verifying and is gone from reads.
    let (soft_id, soft_key) = s.create_key(json!({"apiId": api})).await;
    s.ok("keys.deleteKey", json!({"keyId": soft_id})).await;
    assert_eq!(code(&s.verify(json!({"key": soft_key})).await), "NOT_FOUND");
    s.fails("keys.getKey", json!({"keyId": soft_id}), 404).await;
    assert!(s
        .ok("apis.listKeys", json!({"apiId": api}))
        .await
        .as_array()
        .unwrap()
        .is_empty());
    // Deleting again: not found.
    s.fails("keys.deleteKey", json!({"keyId": soft_id}), 404)
        .await;

    // Soft-deleted hashes are still taken; permanently deleted ones are free again.
    let plain_soft = "migrated_soft_delete_plaintext_01";
    let plain_perm = "migrated_perm_delete_plaintext_01";
    let (hs, hp) = (sha256_base64(plain_soft), sha256_base64(plain_perm));
    let m = s
        .ok(
            "keys.migrateKeys",
            json!({"migrationId": "m_del", "apiId": api, "keys": [{"hash": hs}, {"hash": hp}]}),
        )
        .await;
    let ids = common::names(&m["migrated"], "keyId");
    assert_eq!(ids.len(), 2, "{m}");
    s.ok("keys.deleteKey", json!({"keyId": ids[0]})).await;
    s.ok(
        "keys.deleteKey",
        json!({"keyId": ids[1], "permanent": true}),
    )
    .await;
    assert_eq!(
        code(&s.verify(json!({"key": plain_soft})).await),
        "NOT_FOUND"
    );
    assert_eq!(
        code(&s.verify(json!({"key": plain_perm})).await),
        "NOT_FOUND"
    );
    let again = s
        .ok(
            "keys.migrateKeys",
            json!({"migrationId": "m_del", "apiId": api, "keys": [{"hash": hs}, {"hash": hp}]}),
        )
        .await;
    let failed = again["failed"].to_string();
    let migrated = common::names(&again["migrated"], "hash");
    assert!(
        failed.contains(&hs),
        "soft-deleted hash must still be taken: {again}"
    );
    assert_eq!(
        migrated,
        vec![hp.as_str()],
        "permanently deleted hash is free again: {again}"
    );
    assert_eq!(code(&s.verify(json!({"key": plain_perm})).await), "VALID");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reroll_with_and_without_overlap() {
    let (s, api) = start_with_api("reroll").await;
    let (old_id, old_key) = s
        .create_key(
            json!({"apiId": api, "name": "rolling", "permissions": ["p1"], "meta": {"m": 1}}),
        )
        .await;

    // With overlap: both keys verify; the new one keeps the settings.
    let r = s
        .ok(
            "keys.rerollKey",
            json!({"keyId": old_id, "expiration": 60_000}),
        )
        .await;
    let (new_id, new_key) = (
        r["keyId"].as_str().unwrap().to_string(),
        r["key"].as_str().unwrap().to_string(),
    );
    assert_ne!(new_id, old_id);
    assert_ne!(new_key, old_key);
    assert_eq!(code(&s.verify(json!({"key": old_key})).await), "VALID");
    let v = s.verify(json!({"key": new_key, "permissions": "p1"})).await;
    assert_eq!(code(&v), "VALID", "{v}");
    assert_eq!(v["name"], "rolling");
    let old = s.ok("keys.getKey", json!({"keyId": old_id})).await;
    let expires = old["expires"].as_i64().expect("old key gets an expiry");
    assert!(
        (expires - now_ms() - 60_000).abs() < 10_000,
        "expires ≈ now + 60 s: {old}"
    );

    // Without overlap: the old key stops at once.
    let r2 = s
        .ok("keys.rerollKey", json!({"keyId": new_id, "expiration": 0}))
        .await;
    let newest = r2["key"].as_str().unwrap().to_string();
    let v = s.verify(json!({"key": new_key})).await;
    assert_eq!(v["valid"], false, "{v}");
    assert_eq!(code(&s.verify(json!({"key": newest})).await), "VALID");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_keys_partial_success_and_variants() {
    let (s, api) = start_with_api("migrate").await;
    let plains: Vec<String> = (0..5)
        .map(|i| format!("legacy_key_{i:04}_abcdefghijkl"))
        .collect();
    let hashes: Vec<String> = plains.iter().map(|p| sha256_base64(p)).collect();

    let first = s
        .ok("keys.migrateKeys", json!({"migrationId": "mig_1", "apiId": api,
             "keys": [{"hash": hashes[0], "name": "zero", "externalId": "cust_0", "permissions": ["legacy.read"], "credits": {"remaining": 3}},
                      {"hash": hashes[1]}]}))
        .await;
    assert_eq!(first["migrated"].as_array().unwrap().len(), 2);

    // Partial success: two already present, three new → 200 with both lists.
    let second = s
        .ok(
            "keys.migrateKeys",
            json!({"migrationId": "mig_1", "apiId": api,
             "keys": hashes.iter().map(|h| json!({"hash": h})).collect::<Vec<_>>()}),
        )
        .await;
    let migrated: BTreeSet<String> = common::names(&second["migrated"], "hash")
        .into_iter()
        .collect();
    let failed: BTreeSet<String> = second["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| f["hash"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(migrated, hashes[2..].iter().cloned().collect());
    assert_eq!(failed, hashes[..2].iter().cloned().collect());

    // Every migrated key verifies by its plaintext, with its settings.
    let v = s
        .verify(json!({"key": plains[0], "permissions": "legacy.read"}))
        .await;
    assert_eq!(code(&v), "VALID", "{v}");
    assert_eq!(v["name"], "zero");
    assert_eq!(v["credits"], 2);
    for p in &plains[1..] {
        assert_eq!(code(&s.verify(json!({"key": p})).await), "VALID");
    }
    assert_eq!(s.key_count(&api).await, 5);

    // keyshift extension: hex and bcrypt hashes.
    let hex_plain = "legacy_hex_key_0001_abcdefgh";
    let bcrypt_plain = "legacy_bcrypt_key_0001_abcdefgh";
    let m = s
        .ok(
            "keys.migrateKeys",
            json!({"migrationId": "mig_2", "apiId": api, "hashVariant": "sha256_hex",
             "keys": [{"hash": sha256_hex(hex_plain)}]}),
        )
        .await;
    assert_eq!(m["migrated"].as_array().unwrap().len(), 1, "{m}");
    let bcrypt_hash = keyshift_core::hash_bcrypt(bcrypt_plain, 4).unwrap();
    let m = s
        .ok(
            "keys.migrateKeys",
            json!({"migrationId": "mig_3", "apiId": api, "hashVariant": "bcrypt",
             "keys": [{"hash": bcrypt_hash, "start": "legacy_bcrypt_key_0001"}]}),
        )
        .await;
    assert_eq!(m["migrated"].as_array().unwrap().len(), 1, "{m}");
    assert_eq!(code(&s.verify(json!({"key": hex_plain})).await), "VALID");
    assert_eq!(code(&s.verify(json!({"key": bcrypt_plain})).await), "VALID");
    // Lazily re-hashed: still valid on the second verify.
    assert_eq!(code(&s.verify(json!({"key": bcrypt_plain})).await), "VALID");
    assert_eq!(
        code(
            &s.verify(json!({"key": "legacy_bcrypt_key_0001_WRONG"}))
                .await
        ),
        "NOT_FOUND"
    );

    // A bad record is a 400 naming it.
    let err = s
        .fails(
            "keys.migrateKeys",
            json!({"migrationId": "mig_4", "apiId": api, "keys": [{"hash": hashes[0]}, {"hash": ""}]}),
            400,
        )
        .await;
    assert!(err["errors"].to_string().contains("keys[1]"), "{err}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_replay_creates_one_key() {
    let (s, api) = start_with_api("idem").await;
    // keys.createKey under an Idempotency-Key: (keyId, key).
    let create_once = |idempotency_key: &'static str| {
        let request = s
            .client
            .post(s.url("/v2/keys.createKey"))
            .bearer_auth(&s.root_key)
            .header("idempotency-key", idempotency_key)
            .json(&json!({"apiId": api, "name": "once"}));
        async move {
            let resp = request.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let v: Value = resp.json().await.unwrap();
            (
                v["data"]["keyId"].as_str().unwrap().to_string(),
                v["data"]["key"].as_str().unwrap().to_string(),
            )
        }
    };
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(create_once("create-once-123").await);
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(s.key_count(&api).await, 1);
    assert_eq!(code(&s.verify(json!({"key": answers[0].1})).await), "VALID");

    // A different Idempotency-Key is a different create.
    let (other_id, _) = create_once("create-once-456").await;
    assert_ne!(other_id, answers[0].0);
    assert_eq!(s.key_count(&api).await, 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_bodies_have_the_documented_shape() {
    let (s, api) = start_with_api("errors").await;

    // 401: unknown root key.
    let unknown_root = "ks_root_not_a_real_root_key_00000";
    let (status, v) = s
        .call_as(unknown_root, "keys.getKey", json!({"keyId": "key_123"}))
        .await;
    assert_eq!(status, 401);
    assert_problem(&v, 401);
    assert_eq!(v["error"]["title"], "Unauthorized");

    // 404: unknown key, api, role.
    for (op, body, kind) in [
        ("keys.getKey", json!({"keyId": "key_doesnotexist"}), "key"),
        ("apis.getApi", json!({"apiId": "api_doesnotexist"}), "api"),
        (
            "keys.createKey",
            json!({"apiId": api, "roles": ["no_such_role"]}),
            "role",
        ),
    ] {
        let e = s.fails(op, body, 404).await;
        assert_eq!(e["title"], "Not Found");
        common::assert_type_ends(&e, &format!("/unkey/data/{kind}_not_found"));
    }

    // 409: duplicates.
    s.ok(
        "permissions.createPermission",
        json!({"name": "dup", "slug": "dup.slug"}),
    )
    .await;
    let e = s
        .fails(
            "permissions.createPermission",
            json!({"name": "dup", "slug": "dup.slug"}),
            409,
        )
        .await;
    assert_eq!(e["title"], "Conflicting Resource"); // Unkey's title for 409
    common::assert_type_ends(&e, "_already_exists");
    s.create_identity("dup_ext").await;
    s.fails(
        "identities.createIdentity",
        json!({"externalId": "dup_ext"}),
        409,
    )
    .await;

    // 400: unknown field names the field; limits name theirs (byteLength in a location).
    for (op, body, named) in [
        (
            "keys.createKey",
            json!({"apiId": api, "bogusField": 1}),
            "bogusField",
        ),
        (
            "keys.createKey",
            json!({"apiId": api, "prefix": "bad prefix!"}),
            "prefix",
        ),
        ("keys.createKey", json!({}), "apiId"),
        ("keys.verifyKey", json!({"key": 42}), "key"),
    ] {
        let e = s.fails(op, body, 400).await;
        assert!(e.to_string().contains(named), "{e}");
    }
    let e = s
        .fails(
            "keys.createKey",
            json!({"apiId": api, "byteLength": 8}),
            400,
        )
        .await;
    let locations = common::names(&e["errors"], "location");
    assert!(locations.iter().any(|l| l.contains("byteLength")), "{e}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspaces_are_isolated() {
    let (s, api_a) = start_with_api("ws-a").await;
    let (kid_a, key_a) = s
        .create_key(json!({"apiId": api_a, "name": "a's key"}))
        .await;
    s.ok(
        "permissions.createPermission",
        json!({"name": "a perm", "slug": "a.only"}),
    )
    .await;
    s.create_identity("a_user").await;

    let (_ws_b, root_b) = s.second_workspace("workspace-b").await;
    let b = |op: &'static str, body: Value| {
        let root_b = root_b.clone();
        let s = &s;
        async move { s.call_as(&root_b, op, body).await }
    };
    for (op, body) in [
        ("keys.getKey", json!({"keyId": kid_a})),
        ("keys.updateKey", json!({"keyId": kid_a, "enabled": false})),
        ("keys.deleteKey", json!({"keyId": kid_a, "permanent": true})),
        ("keys.rerollKey", json!({"keyId": kid_a, "expiration": 0})),
        (
            "keys.addPermissions",
            json!({"keyId": kid_a, "permissions": ["x"]}),
        ),
        (
            "keys.updateCredits",
            json!({"keyId": kid_a, "operation": "set", "value": 1}),
        ),
        ("apis.getApi", json!({"apiId": api_a})),
        ("apis.listKeys", json!({"apiId": api_a})),
        ("apis.deleteApi", json!({"apiId": api_a})),
        ("keys.createKey", json!({"apiId": api_a})),
        ("permissions.getPermission", json!({"permission": "a.only"})),
        ("identities.getIdentity", json!({"identity": "a_user"})),
    ] {
        let (status, v) = b(op, body).await;
        assert_eq!(status, 404, "{op} from workspace B: {v}");
        assert_problem(&v, 404);
    }
    // Verifying A's key with B's root key: NOT_FOUND, and no details leak.
    let (status, v) = b("keys.verifyKey", json!({"key": key_a})).await;
    assert_eq!(status, 200);
    assert_eq!(v["data"]["code"], "NOT_FOUND");
    assert!(v["data"].get("keyId").is_none(), "{v}");
    let (status, v) = b("keys.whoami", json!({"key": key_a})).await;
    assert_eq!(status, 404, "{v}");
    // B's lists do not show A's things.
    let (_, v) = b("permissions.listPermissions", json!({})).await;
    assert!(!v.to_string().contains("a.only"), "{v}");
    let (_, v) = b("identities.listIdentities", json!({})).await;
    assert!(!v.to_string().contains("a_user"), "{v}");
    // A is untouched.
    let v = s.verify(json!({"key": key_a})).await;
    assert_eq!(code(&v), "VALID");
    assert_eq!(
        s.ok("keys.getKey", json!({"keyId": kid_a})).await["name"],
        "a's key"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_on_the_same_database_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("persist.db");
    let s = start_on(&db, None, Options::default()).await;
    let root = s.root_key.clone();
    let api = s.create_api("persist").await;
    s.ok(
        "permissions.createRole",
        json!({"name": "keeper", "permissions": ["keep.read"]}),
    )
    .await;
    let mut keys = Vec::new();
    for i in 0..5 {
        keys.push(s.create_key(json!({"apiId": api, "name": format!("k{i}"), "roles": ["keeper"], "credits": {"remaining": 10}})).await);
    }
    let hash = sha256_base64("persisted_migrated_key_000001");
    s.ok(
        "keys.migrateKeys",
        json!({"migrationId": "mig_p", "apiId": api, "keys": [{"hash": hash}]}),
    )
    .await;
    assert_eq!(code(&s.verify(json!({"key": keys[0].1})).await), "VALID");
    s.stop().await;

    // Second start: no new root key is printed, the old one still works.
    let s = start_on(&db, Some(root.clone()), Options::default()).await;
    assert_eq!(s.root_key, root);
    let listed = s.ok("apis.listKeys", json!({"apiId": api})).await;
    assert_eq!(listed.as_array().unwrap().len(), 6);
    for (i, (kid, key)) in keys.iter().enumerate() {
        let got = s.ok("keys.getKey", json!({"keyId": kid})).await;
        assert_eq!(got["name"], format!("k{i}").as_str());
        let v = s
            .verify(json!({"key": key, "permissions": "keep.read"}))
            .await;
        assert_eq!(code(&v), "VALID", "{v}");
    }
    // Credits survived too: key 0 was verified once before the restart and once now.
    assert_eq!(
        s.ok("keys.getKey", json!({"keyId": keys[0].0})).await["credits"]["remaining"],
        8
    );
    assert_eq!(
        code(
            &s.verify(json!({"key": "persisted_migrated_key_000001"}))
                .await
        ),
        "VALID"
    );
    s.stop().await;
    drop(dir);
}
