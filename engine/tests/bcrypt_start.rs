//! Issue 9, defect 1: migrated bcrypt keys carry `start`, verify narrows bcrypt candidates by
//! it through an index, and a verify makes at most 4 bcrypt checks (DESIGN §4).

mod common;

use common::{env, now_ms, Env};
use keyshift_core::{hashing, keyformat};
use serde_json::{json, Value};

const COST: u32 = 4;

fn bcrypt(key: &str) -> String {
    hashing::hash_bcrypt(key, COST).unwrap()
}

fn migrate(env: &Env, keys: Value) -> Value {
    env.call(
        "keys.migrateKeys",
        json!({"migrationId": "m_bcrypt", "apiId": env.api_id, "hashVariant": "bcrypt", "keys": keys}),
    )
}

/// The `error` of the failed entry for `hash` (failures with a reason are `{hash, error}`).
fn failure_reason(out: &Value, hash: &str) -> String {
    out["failed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["hash"] == json!(hash))
        .unwrap_or_else(|| panic!("{hash} not in failed: {out}"))["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no reason for {hash}: {out}"))
        .to_string()
}

/// 1,000 bcrypt keys in one api: every one is found on its first verify (VALID, or
/// INSUFFICIENT_PERMISSIONS under a failing permission query, never NOT_FOUND), disabled and
/// expired ones report their own code, and unknown keys are NOT_FOUND.
#[test]
fn thousand_bcrypt_keys_are_each_found_on_first_verify() {
    let env = env();
    const N: usize = 1000;
    let plaintexts: Vec<String> = (0..N)
        .map(|_| {
            keyformat::generate_key(Some("sk_live"), 16)
                .unwrap()
                .expose()
                .to_string()
        })
        .collect();
    let past = now_ms() - 1000;
    let records: Vec<Value> = plaintexts
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let mut r = json!({
                "hash": bcrypt(k),
                "start": keyformat::key_start(k),
                "permissions": ["orders.read"],
            });
            if i % 10 == 3 {
                r["enabled"] = json!(false);
            }
            if i % 10 == 7 {
                r["expires"] = json!(past);
            }
            r
        })
        .collect();
    let mut migrated = 0;
    for chunk in records.chunks(250) {
        let out = migrate(&env, json!(chunk));
        assert_eq!(out["failed"], json!([]), "{out}");
        migrated += out["migrated"].as_array().unwrap().len();
    }
    assert_eq!(migrated, N);

    let before = env.engine.bcrypt_checks();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for (i, k) in plaintexts.iter().enumerate() {
        // Half under a permission query the keys fail: the key must still be found.
        let query = if i % 2 == 0 {
            json!({})
        } else {
            json!({"permissions": "orders.write"})
        };
        let code = env.code(k, query);
        let expected = match (i % 10, i % 2) {
            (3, _) => "DISABLED",
            (7, _) => "EXPIRED",
            (_, 0) => "VALID",
            _ => "INSUFFICIENT_PERMISSIONS",
        };
        assert_eq!(code, expected, "key {i}");
        *counts.entry(code).or_default() += 1;
    }
    assert_eq!(counts.get("NOT_FOUND"), None);
    let checks = env.engine.bcrypt_checks() - before;
    eprintln!("{checks} bcrypt checks for the first verify of {N} keys");
    assert!(
        checks <= 4 * N as u64,
        "{checks} bcrypt checks for {N} verifies"
    );

    // Keys refused only by the permission query are still bcrypt-stored and found again; the
    // VALID ones were re-stored as sha256_base64 (lazy re-hash) and need no bcrypt check.
    for (i, k) in plaintexts.iter().enumerate() {
        if i % 10 != 3 && i % 10 != 7 {
            assert_eq!(env.code(k, json!({})), "VALID", "key {i} second verify");
        }
    }
    let before = env.engine.bcrypt_checks();
    for (i, k) in plaintexts.iter().enumerate().step_by(2) {
        if i % 10 != 3 && i % 10 != 7 {
            assert_eq!(env.code(k, json!({})), "VALID");
        }
    }
    assert_eq!(
        env.engine.bcrypt_checks(),
        before,
        "re-hashed keys are found by sha256"
    );

    // Unknown keys: with a stored start, without one, and of another shape.
    for (i, k) in plaintexts.iter().enumerate().take(20) {
        let start = keyformat::key_start(k);
        let before = env.engine.bcrypt_checks();
        let unknown = format!("{start}_not_the_key_{i}");
        assert_eq!(env.code(&unknown, json!({})), "NOT_FOUND");
        assert!(env.engine.bcrypt_checks() - before <= 4);
    }
    for unknown in ["sk_live_", "x", "sk_test_0000000000000000000"] {
        assert_eq!(env.code(unknown, json!({})), "NOT_FOUND");
    }
}

/// The bound on bcrypt work: keys whose starts can all be prefixes of one presented key are at
/// most 4 per workspace (the fifth is refused at migrate time with a reason), so an unknown key
/// sharing a start with many stored keys costs at most 4 bcrypt checks.
#[test]
fn an_unknown_key_costs_at_most_four_bcrypt_checks() {
    let env = env();
    // Ten keys with the same start: four go in, six are refused with the reason.
    let shared: Vec<String> = (0..10)
        .map(|i| format!("sk_live_shared_{i:02}_abcdefghijkl"))
        .collect();
    let records: Vec<Value> = shared
        .iter()
        .map(|k| json!({"hash": bcrypt(k), "start": "sk_live_shared"}))
        .collect();
    let out = migrate(&env, json!(records));
    assert_eq!(out["migrated"].as_array().unwrap().len(), 4, "{out}");
    assert_eq!(out["failed"].as_array().unwrap().len(), 6, "{out}");
    for r in &records[4..] {
        let reason = failure_reason(&out, r["hash"].as_str().unwrap());
        assert!(reason.contains("start"), "{reason}");
        assert!(reason.contains("at most 4"), "{reason}");
    }
    // Starts that are prefixes of each other count together: `sk_live_` is a prefix of
    // `sk_live_shared`, so it is refused too; an unrelated start is fine.
    let out = migrate(
        &env,
        json!([
            {"hash": bcrypt("sk_live_zzzz_other_key_0001"), "start": "sk_live_"},
            {"hash": bcrypt("sk_live_shared_longer_start_01"), "start": "sk_live_shared_l"},
            {"hash": bcrypt("sk_live_qq01_unrelated_key_01"), "start": "sk_live_qq01"},
        ]),
    );
    assert_eq!(out["migrated"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out["failed"].as_array().unwrap().len(), 2, "{out}");

    for (i, unknown) in [
        "sk_live_shared_99_unknown_key_0",
        "sk_live_shared",
        "sk_live_shared_l_unknown",
        "sk_live_qq01_not_this_one",
    ]
    .iter()
    .enumerate()
    {
        let before = env.engine.bcrypt_checks();
        assert_eq!(env.code(unknown, json!({})), "NOT_FOUND", "unknown {i}");
        let checks = env.engine.bcrypt_checks() - before;
        assert!(checks <= 4, "{checks} bcrypt checks for unknown key {i}");
        if i == 0 {
            assert_eq!(checks, 4, "the four keys sharing the start are checked");
        }
    }
    // whoami looks keys up the same way.
    let before = env.engine.bcrypt_checks();
    let err = env.err("keys.whoami", json!({"key": "sk_live_shared_77_unknown"}));
    assert_eq!(err.code, keyshift_core::ErrorCode::NotFound);
    assert!(env.engine.bcrypt_checks() - before <= 4);

    // The four migrated keys are all found; each found key is re-hashed, which frees its slot.
    for k in &shared[..4] {
        assert_eq!(env.code(k, json!({})), "VALID");
    }
    let out = migrate(
        &env,
        json!([{"hash": bcrypt(&shared[4]), "start": "sk_live_shared"}]),
    );
    assert_eq!(out["migrated"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(env.code(&shared[4], json!({})), "VALID");
}

/// A bcrypt record without `start` (or with an empty one) is a per-record failure with its
/// reason; the rest of the batch goes in. Plain duplicates stay plain hashes in `failed`, the
/// form Unkey's SDKs decode.
#[test]
fn bcrypt_without_start_is_a_per_record_failure() {
    let env = env();
    let keys = [
        "sk_live_aaaa_key_without_start",
        "sk_live_bbbb_key_with_empty_start",
        "sk_live_cccc_key_with_a_start_01",
        "sk_live_dddd_key_with_bad_start_",
    ];
    let hashes: Vec<String> = keys.iter().map(|k| bcrypt(k)).collect();
    let out = migrate(
        &env,
        json!([
            {"hash": hashes[0]},
            {"hash": hashes[1], "start": ""},
            {"hash": hashes[2], "start": "sk_live_cccc"},
            {"hash": hashes[3], "start": "sk live"},
        ]),
    );
    assert_eq!(out["migrated"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out["migrated"][0]["hash"], json!(hashes[2]));
    assert!(failure_reason(&out, &hashes[0]).contains("needs `start`"));
    assert!(failure_reason(&out, &hashes[1]).contains("`start` is empty"));
    assert!(failure_reason(&out, &hashes[3]).contains("printable ASCII"));
    for reason in [&hashes[0], &hashes[1], &hashes[3]].map(|h| failure_reason(&out, h)) {
        // The migration engine counts reasons naming these words as "already present".
        for word in ["exist", "duplicate", "conflict"] {
            assert!(!reason.to_lowercase().contains(word), "{reason}");
        }
    }
    // A repeated hash is still a plain string, as in Unkey.
    let out = migrate(&env, json!([{"hash": hashes[2], "start": "sk_live_cccc"}]));
    assert_eq!(out["failed"], json!([hashes[2]]));
    assert_eq!(env.code(keys[2], json!({})), "VALID");
    for k in [keys[0], keys[1], keys[3]] {
        assert_eq!(env.code(k, json!({})), "NOT_FOUND");
    }
    // sha256 hashes need no start; a given one is stored (shown by getKey).
    let b64 = hashing::sha256_base64("sk_live_eeee_sha_key_0001");
    let out = env.call(
        "keys.migrateKeys",
        json!({"migrationId": "m_sha", "apiId": env.api_id,
               "keys": [{"hash": b64, "start": "sk_live_eeee"},
                        {"hash": hashing::sha256_base64("sk_live_ffff_sha_key_0002")}]}),
    );
    assert_eq!(out["failed"], json!([]), "{out}");
    let key_id = out["migrated"][0]["keyId"].as_str().unwrap();
    let got = env.call("keys.getKey", json!({"keyId": key_id}));
    assert_eq!(got["start"], json!("sk_live_eeee"));
}
