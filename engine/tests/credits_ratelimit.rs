//! Issue 9, defect 5: credits are refilled and spent in one write transaction that re-checks
//! the key (deleted, enabled, expires); a rate-limit token is consumed only by a verification
//! that ends VALID; ad-hoc rate-limit windows are bounded in number and expire.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{env, now_ms, Env};
use serde_json::{json, Value};

/// Runs operation `op` (once, as another request would) between the next verification's read
/// of the key and its write transaction.
fn between_read_and_write(env: &Env, op: &'static str, body: Value) {
    let engine = env.engine.clone();
    let ctx = env.ctx.clone();
    let fired = AtomicUsize::new(0);
    env.engine.set_verify_write_hook(Some(Arc::new(move || {
        if fired.fetch_add(1, Ordering::SeqCst) == 0 {
            common::call(&engine, &ctx, op, body.clone());
        }
    })));
}

#[test]
fn a_key_changed_between_read_and_spend_is_not_charged() {
    let env = env();
    let mk = || env.create_key(json!({"credits": {"remaining": 5}}));

    // Deleted in between: NOT_FOUND, and the credit is not spent.
    let (id, key) = mk();
    between_read_and_write(&env, "keys.deleteKey", json!({"keyId": id}));
    let v = env.verify(&key, json!({}));
    assert_eq!(v["code"], "NOT_FOUND", "{v}");
    assert_eq!(v["valid"], false);
    assert_eq!(env.key_column(&id, "remaining").as_deref(), Some("5"));

    // Disabled or expired in between: DISABLED / EXPIRED, not charged.
    for (patch, code) in [
        (json!({"enabled": false}), "DISABLED"),
        (json!({"expires": now_ms() - 1}), "EXPIRED"),
    ] {
        let (id, key) = mk();
        let mut body = patch;
        body["keyId"] = json!(id);
        between_read_and_write(&env, "keys.updateKey", body);
        assert_eq!(env.code(&key, json!({})), code);
        assert_eq!(env.key_column(&id, "remaining").as_deref(), Some("5"));
    }

    // Credits taken in between: the spend sees the current balance.
    let (id, key) = mk();
    between_read_and_write(
        &env,
        "keys.updateCredits",
        json!({"keyId": id, "operation": "set", "value": 0}),
    );
    let v = env.verify(&key, json!({}));
    assert_eq!(v["code"], "USAGE_EXCEEDED", "{v}");
    assert_eq!(v["credits"], 0);

    // Nothing changed: charged once.
    env.engine.set_verify_write_hook(None);
    let (id, key) = mk();
    let v = env.verify(&key, json!({}));
    assert_eq!(v["code"], "VALID");
    assert_eq!(v["credits"], 4);
    assert_eq!(env.key_column(&id, "remaining").as_deref(), Some("4"));
}

/// DESIGN §4 order: ... → rate limits → credits. A verification refused for credits must not
/// have used a rate-limit token: with 0 credits and a limit of 1, several USAGE_EXCEEDED
/// answers leave the token, and once credits are added the next verify is VALID.
#[test]
fn rate_limit_tokens_are_not_charged_when_credits_fail() {
    let env = env();
    let hour = 3_600_000;
    let (id, key) = env.create_key(json!({
        "credits": {"remaining": 0},
        "ratelimits": [{"name": "requests", "limit": 1, "duration": hour, "autoApply": true}]
    }));
    for _ in 0..3 {
        let v = env.verify(&key, json!({}));
        assert_eq!(v["code"], "USAGE_EXCEEDED", "{v}");
        assert_eq!(v["ratelimits"][0]["exceeded"], false, "{v}");
    }
    env.call(
        "keys.updateCredits",
        json!({"keyId": id, "operation": "set", "value": 10}),
    );
    let v = env.verify(&key, json!({}));
    assert_eq!(v["code"], "VALID", "{v}");
    assert_eq!(v["credits"], 9);
    let v = env.verify(&key, json!({}));
    assert_eq!(v["code"], "RATE_LIMITED", "{v}");
    assert_eq!(v["credits"], 9, "a rate-limited verify spends no credit");

    // The same for a limit named in the request (ad hoc) and a credit cost above the balance.
    let (_, key) = env.create_key(json!({"credits": {"remaining": 2}}));
    let adhoc = json!({"ratelimits": [{"name": "burst", "limit": 1, "duration": hour}],
                       "credits": {"cost": 5}});
    for _ in 0..3 {
        assert_eq!(env.code(&key, adhoc.clone()), "USAGE_EXCEEDED");
    }
    let cheap = json!({"ratelimits": [{"name": "burst", "limit": 1, "duration": hour}],
                       "credits": {"cost": 1}});
    assert_eq!(env.code(&key, cheap.clone()), "VALID");
    assert_eq!(env.code(&key, cheap), "RATE_LIMITED");
}

/// Ad-hoc windows (limits the request names, not defined on the key) cannot grow without
/// bound: the number of windows is capped, and a flood of ad-hoc names does not reset a
/// limit defined on the key.
#[test]
fn adhoc_ratelimit_windows_are_bounded() {
    let env = env();
    env.engine.set_ratelimit_capacity(64);
    let hour = 3_600_000;
    let (_, limited) = env.create_key(json!({
        "ratelimits": [{"name": "requests", "limit": 2, "duration": hour, "autoApply": true}]
    }));
    assert_eq!(env.code(&limited, json!({})), "VALID");
    assert_eq!(env.code(&limited, json!({})), "VALID");
    let (_, flooder) = env.create_key(json!({}));
    for i in 0..500 {
        let v = env.verify(
            &flooder,
            json!({"ratelimits": [{"name": format!("adhoc_{i}"), "limit": 5, "duration": hour}]}),
        );
        assert_eq!(v["code"], "VALID", "{v}");
        assert!(
            env.engine.ratelimit_windows() <= 64,
            "{} windows",
            env.engine.ratelimit_windows()
        );
    }
    // The defined window survived the flood: still exhausted.
    let v = env.verify(&limited, json!({}));
    assert_eq!(v["code"], "RATE_LIMITED", "{v}");
    assert_eq!(v["ratelimits"][0]["name"], "requests");
}

/// Under concurrency the limit and the credits both hold exactly: no token is consumed by a
/// verification that fails for credits, none is consumed twice, no credit is overspent — also
/// for an identity's limit shared by a key with credits (written path) and one without (read
/// path).
#[test]
fn concurrent_verifications_respect_limits_and_credits_exactly() {
    let env = env();
    let hour = 3_600_000;
    let run = |keys: Vec<String>| -> std::collections::HashMap<String, usize> {
        let mut counts = std::collections::HashMap::new();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|t| {
                    let keys = keys.clone();
                    let env = &env;
                    s.spawn(move || {
                        (0..20)
                            .map(|i| env.code(&keys[(t + i) % keys.len()], json!({})))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                for code in h.join().unwrap() {
                    *counts.entry(code).or_insert(0) += 1;
                }
            }
        });
        counts
    };

    // The limit is the tighter: 30 VALID, 20 credits left.
    let (id, key) = env.create_key(json!({
        "credits": {"remaining": 50},
        "ratelimits": [{"name": "requests", "limit": 30, "duration": hour, "autoApply": true}]
    }));
    let counts = run(vec![key]);
    assert_eq!(counts.get("VALID"), Some(&30), "{counts:?}");
    assert_eq!(counts.get("RATE_LIMITED"), Some(&130), "{counts:?}");
    assert_eq!(env.key_column(&id, "remaining").as_deref(), Some("20"));

    // The credits are the tighter: 30 VALID, the rest USAGE_EXCEEDED, none RATE_LIMITED.
    let (id, key) = env.create_key(json!({
        "credits": {"remaining": 30},
        "ratelimits": [{"name": "requests", "limit": 50, "duration": hour, "autoApply": true}]
    }));
    let counts = run(vec![key.clone()]);
    assert_eq!(counts.get("VALID"), Some(&30), "{counts:?}");
    assert_eq!(counts.get("USAGE_EXCEEDED"), Some(&130), "{counts:?}");
    assert_eq!(env.key_column(&id, "remaining").as_deref(), Some("0"));
    env.call(
        "keys.updateCredits",
        json!({"keyId": id, "operation": "set", "value": 100}),
    );
    let counts = run(vec![key]);
    assert_eq!(
        counts.get("VALID"),
        Some(&20),
        "the 20 unused tokens: {counts:?}"
    );

    // An identity's limit shared by a key with credits and one without.
    env.call(
        "identities.createIdentity",
        json!({"externalId": "shared_owner",
               "ratelimits": [{"name": "owner", "limit": 40, "duration": hour, "autoApply": true}]}),
    );
    let (_, with_credits) =
        env.create_key(json!({"externalId": "shared_owner", "credits": {"remaining": 1000}}));
    let (_, without) = env.create_key(json!({"externalId": "shared_owner"}));
    let counts = run(vec![with_credits, without]);
    assert_eq!(counts.get("VALID"), Some(&40), "{counts:?}");
    assert_eq!(counts.get("RATE_LIMITED"), Some(&120), "{counts:?}");
}
