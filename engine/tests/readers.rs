//! The verification path reads through pooled read-only connections (WAL) and a root-key
//! cache: every write answered before a verification is visible to it, on the same thread and
//! across threads and processes' connections, and unknown root keys are never remembered.

mod common;

use std::sync::Arc;

use common::*;
use keyshift_core::ErrorCode;
use keyshift_engine::Engine;
use serde_json::json;

#[test]
fn every_answered_write_is_seen_by_the_next_verification() {
    let env = env();
    let (key_id, key) = env.create_key(json!({"permissions": ["p0"]}));
    for i in 1..60 {
        let p = format!("p{i}");
        env.call(
            "keys.setPermissions",
            json!({"keyId": key_id, "permissions": [p]}),
        );
        let d = env.verify(&key, json!({}));
        assert_eq!(d["permissions"], json!([p]), "round {i}");
        assert_eq!(env.code(&key, json!({"permissions": p})), "VALID");
    }
    env.call("keys.updateKey", json!({"keyId": key_id, "enabled": false}));
    assert_eq!(env.code(&key, json!({})), "DISABLED");
    env.call("keys.deleteKey", json!({"keyId": key_id}));
    assert_eq!(env.code(&key, json!({})), "NOT_FOUND");
}

#[test]
fn writes_on_one_thread_are_seen_by_verifiers_on_others() {
    let env = env();
    let engine = env.engine.clone();
    let ctx = env.ctx.clone();
    let mut keys = Vec::new();
    for _ in 0..8 {
        keys.push(env.create_key(json!({})));
    }
    let keys = Arc::new(keys);
    // Readers hammer verify while the keys are deleted one by one; once a delete has been
    // answered, no verification that starts afterwards may call the key VALID.
    let deleted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (engine, ctx, keys, deleted) =
                (engine.clone(), ctx.clone(), keys.clone(), deleted.clone());
            std::thread::spawn(move || {
                while deleted.load(std::sync::atomic::Ordering::SeqCst) < keys.len() {
                    let done = deleted.load(std::sync::atomic::Ordering::SeqCst);
                    for (i, (_, key)) in keys.iter().enumerate() {
                        let d = call(&engine, &ctx, "keys.verifyKey", json!({"key": key}));
                        let code = d["code"].as_str().unwrap();
                        if i < done {
                            assert_eq!(code, "NOT_FOUND", "key {i} deleted before this read");
                        }
                    }
                }
            })
        })
        .collect();
    for (i, (key_id, _)) in keys.iter().enumerate() {
        std::thread::sleep(std::time::Duration::from_millis(5));
        call(&engine, &ctx, "keys.deleteKey", json!({"keyId": key_id}));
        deleted.store(i + 1, std::sync::atomic::Ordering::SeqCst);
    }
    for r in readers {
        r.join().unwrap();
    }
}

#[test]
fn root_keys_added_later_or_elsewhere_authenticate_and_unknown_ones_never_do() {
    let env = env();
    let engine = &env.engine;
    // cached after the first use, still right on the next ones
    for _ in 0..3 {
        assert_eq!(engine.authenticate(&env.root_key).unwrap(), env.ctx);
    }
    let err = engine.authenticate("ks_root_not_a_real_key").unwrap_err();
    assert_eq!(err.code, ErrorCode::Unauthorized);
    // a root key created by another engine on the same file (another process, in real life)
    // after this one failed to find it
    let other = Engine::open(&env.path).unwrap();
    let ws2 = other.create_workspace("second").unwrap();
    let k2 = other.create_root_key(&ws2).unwrap();
    assert_eq!(
        engine.authenticate(k2.expose()).unwrap().workspace_id,
        ws2,
        "a root key added elsewhere is found"
    );
    let k3 = engine.create_root_key(&env.ctx.workspace_id).unwrap();
    assert_eq!(
        engine.authenticate(k3.expose()).unwrap().workspace_id,
        env.ctx.workspace_id
    );
    // the cache answers by exact hash only
    let mut near = env.root_key.clone();
    near.push('x');
    assert_eq!(
        engine.authenticate(&near).unwrap_err().code,
        ErrorCode::Unauthorized
    );
    assert_eq!(
        engine
            .authenticate("ks_root_not_a_real_key")
            .unwrap_err()
            .code,
        ErrorCode::Unauthorized
    );
}

#[test]
fn memory_databases_keep_working_on_their_single_connection() {
    let engine = Engine::open(":memory:").unwrap();
    let root = engine.ensure_bootstrap(None).unwrap().unwrap();
    let ctx = engine.authenticate(root.expose()).unwrap();
    let api = call(&engine, &ctx, "apis.createApi", json!({"name": "memory"}));
    let created = call(
        &engine,
        &ctx,
        "keys.createKey",
        json!({"apiId": api["apiId"], "permissions": ["a"], "credits": {"remaining": 2}}),
    );
    let key = created["key"].as_str().unwrap();
    let codes: Vec<String> = (0..3)
        .map(|_| {
            call(
                &engine,
                &ctx,
                "keys.verifyKey",
                json!({"key": key, "permissions": "a"}),
            )["code"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(codes, ["VALID", "VALID", "USAGE_EXCEEDED"]);
}
