//! keys.verifyKey semantics: every code, the order of checks, permission queries, rate limits,
//! credits (including concurrency) and expiry.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use keyshift_core::ErrorCode;
use serde_json::json;

#[test]
fn valid_key_reports_its_data() {
    let env = env();
    let (key_id, key) = env.create_key(json!({
        "name": "svc", "prefix": "sk_live", "meta": {"plan": "pro"}, "externalId": "user_1",
        "permissions": ["documents.read"], "credits": {"remaining": 10}
    }));
    assert!(key.starts_with("sk_live_"));
    let data = env.verify(&key, json!({}));
    assert_eq!(data["valid"], true);
    assert_eq!(data["code"], "VALID");
    assert_eq!(data["keyId"], key_id.as_str());
    assert_eq!(data["name"], "svc");
    assert_eq!(data["meta"], json!({"plan": "pro"}));
    assert_eq!(data["credits"], 9);
    assert_eq!(data["enabled"], true);
    assert_eq!(data["permissions"], json!(["documents.read"]));
    assert_eq!(data["identity"]["externalId"], "user_1");
    assert!(data["identity"]["id"].as_str().unwrap().starts_with("id_"));
}

#[test]
fn unknown_key_is_not_found_outcome_not_error() {
    let env = env();
    let data = env.verify("sk_live_doesnotexist123456", json!({}));
    assert_eq!(data, json!({"valid": false, "code": "NOT_FOUND"}));
}

#[test]
fn check_order_disabled_expired_permissions_ratelimit_credits() {
    let env = env();
    let past = now_ms() - 1000;
    let everything_wrong = json!({
        "enabled": false, "expires": past, "permissions": ["a"],
        "credits": {"remaining": 0},
        "ratelimits": [{"name": "requests", "limit": 1, "duration": 60000, "autoApply": true}]
    });
    let q = json!({"permissions": "b"});

    // disabled wins over everything else
    let (id, key) = env.create_key(everything_wrong.clone());
    let d = env.verify(&key, q.clone());
    assert_eq!(d["code"], "DISABLED");
    assert_eq!(d["valid"], false);
    assert_eq!(d["keyId"], id.as_str());

    // then expired
    env.call("keys.updateKey", json!({"keyId": id, "enabled": true}));
    assert_eq!(env.code(&key, q.clone()), "EXPIRED");

    // then permissions
    env.call("keys.updateKey", json!({"keyId": id, "expires": null}));
    assert_eq!(env.code(&key, q.clone()), "INSUFFICIENT_PERMISSIONS");

    // then rate limits, before credits. A verification refused for credits consumes no
    // rate-limit token (issue 9): the 1/min token is spent only by a VALID one.
    env.call(
        "keys.addPermissions",
        json!({"keyId": id, "permissions": ["b"]}),
    );
    let first = env.verify(&key, q.clone());
    assert_eq!(first["code"], "USAGE_EXCEEDED", "{first}");
    assert_eq!(first["ratelimits"][0]["remaining"], 0);
    assert_eq!(env.code(&key, q.clone()), "USAGE_EXCEEDED");
    env.call(
        "keys.updateCredits",
        json!({"keyId": id, "operation": "set", "value": 1}),
    );
    assert_eq!(env.code(&key, q.clone()), "VALID");
    // Out of credits and of tokens: the rate limit answers first.
    assert_eq!(env.code(&key, q.clone()), "RATE_LIMITED");

    // credits last: a fresh key whose only problem is credits
    let (_, key2) = env.create_key(json!({"credits": {"remaining": 1}}));
    assert_eq!(env.code(&key2, json!({})), "VALID");
    let d = env.verify(&key2, json!({}));
    assert_eq!(d["code"], "USAGE_EXCEEDED");
    assert_eq!(d["credits"], 0);
}

#[test]
fn rate_limited_spends_no_credit_and_usage_exceeded_spends_none() {
    let env = env();
    let (id, key) = env.create_key(json!({
        "credits": {"remaining": 5},
        "ratelimits": [{"name": "requests", "limit": 2, "duration": 60000, "autoApply": true}]
    }));
    assert_eq!(env.code(&key, json!({})), "VALID");
    assert_eq!(env.code(&key, json!({})), "VALID");
    let d = env.verify(&key, json!({}));
    assert_eq!(d["code"], "RATE_LIMITED");
    assert_eq!(
        d["credits"], 3,
        "rate limited verify must not spend a credit"
    );
    let rl = &d["ratelimits"][0];
    assert_eq!(rl["exceeded"], true);
    assert_eq!(rl["name"], "requests");
    assert!(rl["reset"].as_i64().unwrap() > now_ms());
    assert!(rl["reset"].as_i64().unwrap() <= now_ms() + 60_000);

    // cost larger than remaining: refused, nothing spent
    env.call("keys.updateKey", json!({"keyId": id, "ratelimits": []}));
    let d = env.verify(&key, json!({"credits": {"cost": 4}}));
    assert_eq!(d["code"], "USAGE_EXCEEDED");
    assert_eq!(d["credits"], 3);
    let d = env.verify(&key, json!({"credits": {"cost": 3}}));
    assert_eq!(d["code"], "VALID");
    assert_eq!(d["credits"], 0);
    // cost 0 is allowed and spends nothing
    let d = env.verify(&key, json!({"credits": {"cost": 0}}));
    assert_eq!(d["code"], "VALID");
    assert_eq!(d["credits"], 0);
    assert_eq!(env.code(&key, json!({})), "USAGE_EXCEEDED");
}

#[test]
fn unlimited_keys_never_spend_credits() {
    let env = env();
    let (_, key) = env.create_key(json!({}));
    for _ in 0..5 {
        let d = env.verify(&key, json!({"credits": {"cost": 100}}));
        assert_eq!(d["code"], "VALID");
        assert!(d.get("credits").is_none());
    }
}

#[test]
fn permission_queries_over_direct_and_role_permissions() {
    let env = env();
    env.call(
        "permissions.createRole",
        json!({"name": "editor", "permissions": ["docs.write", "docs.delete"]}),
    );
    let (_, key) = env.create_key(json!({"permissions": ["docs.read"], "roles": ["editor"]}));
    let cases = [
        ("docs.read", true),
        ("docs.write", true),
        ("docs.read AND docs.write", true),
        ("docs.read and docs.delete", true),
        (
            "(docs.read OR admin) AND (docs.write AND docs.delete)",
            true,
        ),
        ("admin OR docs.read AND docs.write", true),
        ("(admin OR docs.read) AND billing", false),
        ("admin", false),
        ("docs.read AND admin", false),
        ("admin OR (billing AND docs.read)", false),
        ("docs.*", false),
    ];
    for (query, ok) in cases {
        let d = env.verify(&key, json!({"permissions": query}));
        let want = if ok {
            "VALID"
        } else {
            "INSUFFICIENT_PERMISSIONS"
        };
        assert_eq!(d["code"], want, "query {query}");
    }
    let d = env.verify(&key, json!({}));
    assert_eq!(
        d["permissions"],
        json!(["docs.delete", "docs.read", "docs.write"])
    );
    assert_eq!(d["roles"], json!(["editor"]));

    // a bad query is a 400 naming the field, not an outcome
    let err = env.err(
        "keys.verifyKey",
        json!({"key": key, "permissions": "docs.read AND"}),
    );
    assert_eq!(err.code, ErrorCode::BadRequest);
    assert_eq!(err.errors[0].location, "body.permissions");

    // removing the role removes its permissions
    env.call(
        "keys.removeRoles",
        json!({"keyId": d["keyId"], "roles": ["editor"]}),
    );
    assert_eq!(env.code_for(&key, "docs.write"), "INSUFFICIENT_PERMISSIONS");
}

#[test]
fn credits_are_never_lost_or_overspent_under_concurrency() {
    let env = env();
    const CREDITS: usize = 60;
    const THREADS: usize = 8;
    const PER_THREAD: usize = 15;
    let (key_id, key) = env.create_key(json!({"credits": {"remaining": CREDITS}}));
    let valid = Arc::new(AtomicUsize::new(0));
    let exceeded = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let engine = env.engine.clone();
            let ctx = env.ctx.clone();
            let key = key.clone();
            let valid = valid.clone();
            let exceeded = exceeded.clone();
            std::thread::spawn(move || {
                for _ in 0..PER_THREAD {
                    let d = call(&engine, &ctx, "keys.verifyKey", json!({"key": key}));
                    match d["code"].as_str().unwrap() {
                        "VALID" => valid.fetch_add(1, Ordering::SeqCst),
                        "USAGE_EXCEEDED" => exceeded.fetch_add(1, Ordering::SeqCst),
                        other => panic!("unexpected {other}"),
                    };
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(valid.load(Ordering::SeqCst), CREDITS);
    assert_eq!(
        exceeded.load(Ordering::SeqCst),
        THREADS * PER_THREAD - CREDITS
    );
    let data = env.call("keys.getKey", json!({"keyId": key_id}));
    assert_eq!(data["credits"]["remaining"], 0);
}

#[test]
fn expiry() {
    let env = env();
    let (_, key) = env.create_key(json!({"expires": now_ms() + 400}));
    let d = env.verify(&key, json!({}));
    assert_eq!(d["code"], "VALID");
    assert!(d["expires"].as_i64().unwrap() > now_ms());
    std::thread::sleep(std::time::Duration::from_millis(500));
    let d = env.verify(&key, json!({}));
    assert_eq!(d["code"], "EXPIRED");
    assert_eq!(d["valid"], false);
}

#[test]
fn request_ratelimits_override_cost_and_identity_limits_are_shared() {
    let env = env();
    env.call(
        "identities.createIdentity",
        json!({"externalId": "acme", "ratelimits": [
            {"name": "org", "limit": 3, "duration": 60000, "autoApply": true}
        ]}),
    );
    let (_, k1) = env.create_key(json!({
        "externalId": "acme",
        "ratelimits": [{"name": "heavy", "limit": 10, "duration": 60000, "autoApply": false}]
    }));
    let (_, k2) = env.create_key(json!({"externalId": "acme"}));
    // the identity's auto-applied limit is shared by both keys
    assert_eq!(env.code(&k1, json!({})), "VALID");
    assert_eq!(env.code(&k2, json!({})), "VALID");
    assert_eq!(env.code(&k1, json!({})), "VALID");
    assert_eq!(env.code(&k2, json!({})), "RATE_LIMITED");

    // a named, non-auto limit only counts when asked for, with the request's cost
    let (_, k3) = env.create_key(json!({
        "ratelimits": [{"name": "heavy", "limit": 10, "duration": 60000, "autoApply": false}]
    }));
    let d = env.verify(&k3, json!({"ratelimits": [{"name": "heavy", "cost": 7}]}));
    assert_eq!(d["code"], "VALID");
    assert_eq!(d["ratelimits"][0]["remaining"], 3);
    assert_eq!(env.code(&k3, json!({})), "VALID", "not auto-applied");
    let d = env.verify(&k3, json!({"ratelimits": [{"name": "heavy", "cost": 4}]}));
    assert_eq!(d["code"], "RATE_LIMITED");
    assert_eq!(d["ratelimits"][0]["remaining"], 3);
    // limit override
    let d = env.verify(
        &k3,
        json!({"ratelimits": [{"name": "heavy", "cost": 4, "limit": 20}]}),
    );
    assert_eq!(d["code"], "VALID");
    // unknown limit without limit/duration is a 400
    let err = env.err(
        "keys.verifyKey",
        json!({"key": k3, "ratelimits": [{"name": "nope"}]}),
    );
    assert_eq!(err.code, ErrorCode::BadRequest);
}

#[test]
fn update_credits_operations() {
    let env = env();
    let (id, key) = env.create_key(json!({"credits": {"remaining": 2}}));
    let d = env.call(
        "keys.updateCredits",
        json!({"keyId": id, "operation": "increment", "value": 3}),
    );
    assert_eq!(d["remaining"], 5);
    let d = env.call(
        "keys.updateCredits",
        json!({"keyId": id, "operation": "decrement", "value": 4}),
    );
    assert_eq!(d["remaining"], 1);
    let d = env.call(
        "keys.updateCredits",
        json!({"keyId": id, "operation": "decrement", "value": 10}),
    );
    assert_eq!(d["remaining"], 0);
    assert_eq!(env.code(&key, json!({})), "USAGE_EXCEEDED");
    let d = env.call(
        "keys.updateCredits",
        json!({"keyId": id, "operation": "set", "value": 1}),
    );
    assert_eq!(d["remaining"], 1);
    assert_eq!(env.code(&key, json!({})), "VALID");
    let d = env.call(
        "keys.updateCredits",
        json!({"keyId": id, "operation": "set", "value": null}),
    );
    assert_eq!(d["remaining"], serde_json::Value::Null);
    for _ in 0..3 {
        assert_eq!(env.code(&key, json!({})), "VALID");
    }
    let err = env.err(
        "keys.updateCredits",
        json!({"keyId": id, "operation": "increment", "value": 1}),
    );
    assert_eq!(err.code, ErrorCode::BadRequest);
}

#[test]
fn refill_restores_credits_once_per_period() {
    let env = env();
    let (id, key) = env.create_key(json!({
        "credits": {"remaining": 1, "refill": {"interval": "daily", "amount": 5}}
    }));
    assert_eq!(env.code(&key, json!({})), "VALID");
    assert_eq!(env.code(&key, json!({})), "USAGE_EXCEEDED");
    // pretend the last refill happened two days ago
    let conn = rusqlite::Connection::open(&env.path).unwrap();
    conn.execute(
        "UPDATE keys SET last_refill_at = ?1, created_at = ?1 WHERE id = ?2",
        rusqlite::params![now_ms() - 2 * 86_400_000, id],
    )
    .unwrap();
    drop(conn);
    let d = env.verify(&key, json!({}));
    assert_eq!(d["code"], "VALID");
    assert_eq!(d["credits"], 4);
    let d = env.verify(&key, json!({}));
    assert_eq!(d["credits"], 3, "refilled only once per period");
}
