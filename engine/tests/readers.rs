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

/// `Engine::start`, finishing a `Blocking` rest like a server's blocking pool would.
fn start(
    env: &Env,
    root_key: &str,
    op: &str,
    body: serde_json::Value,
) -> (bool, Result<serde_json::Value, keyshift_core::Error>) {
    match env.engine.start(
        keyshift_core::SecretKey::new(root_key),
        op,
        body.to_string().into_bytes(),
        None,
    ) {
        keyshift_engine::Step::Done(r) => (true, r.map(|r| r.data)),
        keyshift_engine::Step::Blocking(rest) => (false, rest.run().map(|r| r.data)),
    }
}

#[test]
fn start_gives_the_results_of_authenticate_then_dispatch() {
    use keyshift_core::hashing::{self, HashVariant};
    let env = env();
    let root = env.root_key.clone();
    env.call(
        "permissions.createRole",
        json!({"name": "reader", "permissions": ["docs.read"]}),
    );
    let (_, plain) = env.create_key(json!({"permissions": ["a"], "roles": ["reader"],
        "externalId": "user_1", "meta": {"plan": "pro"}}));
    let (_, credits) = env.create_key(json!({"credits": {"remaining": 3}}));
    let (_, disabled) = env.create_key(json!({"enabled": false}));
    let (deleted_id, deleted) = env.create_key(json!({}));
    env.call("keys.deleteKey", json!({"keyId": deleted_id}));
    let hex_key = "legacy_hex_key_0123456789";
    let bcrypt_key = "legacy_bcrypt_key_0123456789";
    env.call(
        "keys.migrateKeys",
        json!({"migrationId": "m_hex", "apiId": env.api_id, "hashVariant": "sha256_hex",
               "keys": [{"hash": hashing::hash_key(hex_key, HashVariant::Sha256Hex).unwrap().value}]}),
    );

    // An unknown root key is a 401 either way, and is never remembered.
    for _ in 0..2 {
        let (_, r) = start(
            &env,
            "ks_root_unknown",
            "keys.verifyKey",
            json!({"key": plain}),
        );
        assert_eq!(r.unwrap_err().code, ErrorCode::Unauthorized);
    }
    // Warm the root-key cache (first use goes through the blocking path).
    let (_, r) = start(&env, &root, "keys.verifyKey", json!({"key": plain}));
    assert_eq!(r.unwrap()["code"], "VALID");

    let requests = [
        json!({"key": plain}),
        json!({"key": plain, "permissions": "a AND docs.read"}),
        json!({"key": plain, "permissions": "docs.write"}),
        json!({"key": plain, "ratelimits": [{"name": "adhoc", "limit": 100, "duration": 60000}]}),
        json!({"key": disabled}),
        json!({"key": deleted}),
        json!({"key": "no_such_key_0123456789"}),
    ];
    for body in &requests {
        let (inline, via_start) = start(&env, &root, "keys.verifyKey", body.clone());
        assert!(inline, "a read-only verification finishes inline: {body}");
        let direct = env.call("keys.verifyKey", body.clone());
        let mut via_start = via_start.unwrap();
        let mut direct = direct;
        // ad-hoc rate limit counters move between the two calls
        via_start["ratelimits"].take();
        direct["ratelimits"].take();
        assert_eq!(via_start, direct, "{body}");
    }
    // Errors in the body are the same errors.
    for body in [
        json!({"key": plain, "permissions": "a AND"}),
        json!({"key": plain, "bogus": 1}),
        json!({"key": plain, "ratelimits": [{"name": "undefined"}]}),
    ] {
        let (_, r) = start(&env, &root, "keys.verifyKey", body.clone());
        let e1 = r.unwrap_err();
        let e2 = env.err("keys.verifyKey", body);
        assert_eq!(
            (e1.code, e1.message, e1.errors),
            (e2.code, e2.message, e2.errors)
        );
    }
    // Writes (credits, lazy re-hash) and bcrypt go through the blocking rest.
    env.call(
        "keys.migrateKeys",
        json!({"migrationId": "m_bcrypt", "apiId": env.api_id, "hashVariant": "bcrypt",
               "keys": [{"hash": hashing::hash_bcrypt(bcrypt_key, 4).unwrap(),
                         "start": "legacy_bcrypt_key_0123"}]}),
    );
    let (inline, r) = start(
        &env,
        &root,
        "keys.verifyKey",
        json!({"key": "legacy_bcrypt_key_0123_wrong"}),
    );
    assert!(
        !inline,
        "an unknown key sharing a start is checked against the bcrypt candidates"
    );
    assert_eq!(r.unwrap()["code"], "NOT_FOUND");
    let (inline, r) = start(
        &env,
        &root,
        "keys.verifyKey",
        json!({"key": "no_such_key_0123456789"}),
    );
    assert!(inline, "no bcrypt candidate: answered at once");
    assert_eq!(r.unwrap()["code"], "NOT_FOUND");
    let codes: Vec<(bool, String)> = (0..4)
        .map(|_| {
            let (inline, r) = start(&env, &root, "keys.verifyKey", json!({"key": credits}));
            (inline, r.unwrap()["code"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(
        codes,
        [
            (false, "VALID".to_string()),
            (false, "VALID".to_string()),
            (false, "VALID".to_string()),
            (false, "USAGE_EXCEEDED".to_string())
        ]
    );
    for key in [hex_key, bcrypt_key] {
        let (inline, r) = start(&env, &root, "keys.verifyKey", json!({"key": key}));
        assert!(!inline, "{key} is re-hashed on its first verification");
        assert_eq!(r.unwrap()["code"], "VALID");
        // now stored as sha256_base64: read-only from here on
        let (inline, r) = start(&env, &root, "keys.verifyKey", json!({"key": key}));
        assert!(inline);
        assert_eq!(r.unwrap()["code"], "VALID");
    }
    // Every other operation runs in the blocking rest.
    let (inline, r) = start(&env, &root, "apis.getApi", json!({"apiId": env.api_id}));
    assert!(!inline);
    assert_eq!(r.unwrap()["id"], env.api_id);
}

#[test]
fn credits_are_exact_when_verifying_through_start_from_many_threads() {
    let env = Arc::new(env());
    const CREDITS: usize = 40;
    let (_, key) = env.create_key(json!({"credits": {"remaining": CREDITS}}));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (env, key) = (env.clone(), key.clone());
            std::thread::spawn(move || {
                let mut valid = 0;
                for _ in 0..10 {
                    let (_, r) = start(&env, &env.root_key, "keys.verifyKey", json!({"key": key}));
                    if r.unwrap()["code"] == "VALID" {
                        valid += 1;
                    }
                }
                valid
            })
        })
        .collect();
    let valid: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(valid, CREDITS);
    assert_eq!(env.code(&key, json!({})), "USAGE_EXCEEDED");
}

#[test]
fn the_wal_stays_bounded_while_readers_never_pause() {
    let env = Arc::new(env());
    let (_, reader_key) = env.create_key(json!({"permissions": ["a"]}));
    let (_, credit_key) = env.create_key(json!({"credits": {"remaining": 1_000_000}}));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (env, key, stop) = (env.clone(), reader_key.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    assert_eq!(env.code(&key, json!({})), "VALID");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let wal = format!("{}-wal", env.path);
    let mut largest = 0;
    // Each credit spend appends at least one 4 KiB page: 6000 of them are ~24 MiB of WAL if
    // checkpoints never got through.
    for _ in 0..6000 {
        assert_eq!(env.code(&credit_key, json!({})), "VALID");
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads: u64 = readers.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(reads > 0);
    assert!(
        largest <= 12 * 1024 * 1024,
        "the WAL grew to {largest} bytes while readers were busy"
    );
    let d = env.verify(&credit_key, json!({}));
    assert_eq!(d["credits"], 1_000_000 - 6001);
}

#[test]
fn verifications_see_commits_from_other_connections_and_processes() {
    let env = env();
    let (key_id, key) = env.create_key(json!({"permissions": ["a"], "externalId": "owner_1"}));
    // warm whatever the engine keeps between verifications
    for _ in 0..3 {
        assert_eq!(env.code_for(&key, "a"), "VALID");
    }
    // another engine on the same file (another process, in real life)
    let other = Engine::open(&env.path).unwrap();
    let other_ctx = other.authenticate(&env.root_key).unwrap();
    let other_call = |op: &str, body: serde_json::Value| call(&other, &other_ctx, op, body);
    other_call(
        "keys.setPermissions",
        json!({"keyId": key_id, "permissions": ["b"]}),
    );
    assert_eq!(env.code_for(&key, "a"), "INSUFFICIENT_PERMISSIONS");
    assert_eq!(env.verify(&key, json!({}))["permissions"], json!(["b"]));
    other_call(
        "keys.updateKey",
        json!({"keyId": key_id, "meta": {"tier": "gold"}}),
    );
    assert_eq!(env.verify(&key, json!({}))["meta"], json!({"tier": "gold"}));
    other_call(
        "keys.updateCredits",
        json!({"keyId": key_id, "operation": "set", "value": 1}),
    );
    assert_eq!(env.code(&key, json!({})), "VALID");
    assert_eq!(env.code(&key, json!({})), "USAGE_EXCEEDED");
    other_call(
        "keys.updateCredits",
        json!({"keyId": key_id, "operation": "set", "value": null}),
    );
    assert_eq!(env.code(&key, json!({})), "VALID");
    // a plain SQLite connection, no engine at all
    let raw = rusqlite::Connection::open(&env.path).unwrap();
    raw.execute("UPDATE keys SET enabled = 0 WHERE id = ?1", [&key_id])
        .unwrap();
    assert_eq!(env.code(&key, json!({})), "DISABLED");
    raw.execute("UPDATE keys SET enabled = 1 WHERE id = ?1", [&key_id])
        .unwrap();
    assert_eq!(env.code(&key, json!({})), "VALID");
    raw.execute(
        "UPDATE identities SET meta = '{\"region\":\"eu\"}' WHERE external_id = 'owner_1'",
        [],
    )
    .unwrap();
    assert_eq!(
        env.verify(&key, json!({}))["identity"]["meta"],
        json!({"region": "eu"})
    );
    other_call("keys.deleteKey", json!({"keyId": key_id}));
    assert_eq!(env.code(&key, json!({})), "NOT_FOUND");
}

#[test]
fn a_verification_racing_writes_never_reports_a_state_older_than_the_last_answered_write() {
    // One thread flips a key's permission back and forth and publishes each answered state;
    // verifiers on other threads must never see a state older than the one published before
    // their verification started.
    let env = Arc::new(env());
    let (key_id, key) = env.create_key(json!({"permissions": ["p0"]}));
    let published = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let verifiers: Vec<_> = (0..3)
        .map(|_| {
            let (env, key, published, done) =
                (env.clone(), key.clone(), published.clone(), done.clone());
            std::thread::spawn(move || {
                let mut checks = 0;
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let before = published.load(std::sync::atomic::Ordering::SeqCst);
                    let seen = env.verify(&key, json!({}))["permissions"][0]
                        .as_str()
                        .unwrap()[1..]
                        .parse::<usize>()
                        .unwrap();
                    assert!(seen >= before, "saw p{seen} after p{before} was answered");
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    for i in 1..150 {
        env.call(
            "keys.setPermissions",
            json!({"keyId": key_id, "permissions": [format!("p{i}")]}),
        );
        published.store(i, std::sync::atomic::Ordering::SeqCst);
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let checks: usize = verifiers.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(checks > 0);
}
