//! Issue 9, items 1 and 12 through `keyshift migrate`: a bcrypt record needs `start` (a dry run
//! names the line and the reason, JSONL and CSV), Unkey's guide form `hash: {value, variant}`
//! is read, and migrated bcrypt keys are found by `keys verify`.

mod common;

use common::{dry_run, local_api, migrate_local, temp_db, verify_local};
use keyshift_core::hash_bcrypt;
use serde_json::json;

#[test]
fn dry_run_names_bcrypt_records_without_start() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("export.jsonl");
    let lines = [
        json!({"hash": hash_bcrypt("sk_live_ab12_legacy_key_0001", 4).unwrap(), "variant": "bcrypt", "start": "sk_live_ab12"}),
        json!({"hash": hash_bcrypt("sk_live_cd34_legacy_key_0002", 4).unwrap(), "variant": "bcrypt"}),
        json!({"hash": {"value": keyshift_core::hashing::sha256_base64("guide-form-key"), "variant": "sha256_base64"}}),
        json!({"hash": {"value": hash_bcrypt("sk_live_ef56_legacy_key_0003", 4).unwrap(), "variant": "bcrypt"}, "start": ""}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&jsonl, text).unwrap();
    dry_run(
        &jsonl,
        &[
            "line 2: a bcrypt hash needs `start`",
            "line 4: `start` is empty",
            "4 records, 2 valid, 2 invalid",
        ],
    );

    let csv = dir.path().join("export.csv");
    std::fs::write(
        &csv,
        format!(
            "hash,variant,start\n{},bcrypt,sk_live_ab12\n{},bcrypt,\n",
            hash_bcrypt("sk_live_ab12_legacy_key_0001", 4).unwrap(),
            hash_bcrypt("sk_live_cd34_legacy_key_0002", 4).unwrap()
        ),
    )
    .unwrap();
    dry_run(&csv, &["line 3: a bcrypt hash needs `start`"]);
}

#[test]
fn migrated_bcrypt_keys_with_start_verify_locally() {
    let (dir, db) = temp_db("local.db");
    let db = db.as_str();
    let api_id = local_api(db, "legacy");
    let keys: Vec<String> = (0..40)
        .map(|i| format!("sk_live_{i:04}_legacy_bcrypt_key"))
        .collect();
    let mut text = String::new();
    for k in &keys {
        text.push_str(
            &json!({"hash": {"value": hash_bcrypt(k, 4).unwrap(), "variant": "bcrypt"},
                    "start": &k[..12], "permissions": ["docs.read"]})
            .to_string(),
        );
        text.push('\n');
    }
    let file = dir.path().join("legacy.jsonl");
    std::fs::write(&file, text).unwrap();
    let out = migrate_local(&file, &api_id, "bcrypt-1", db);
    assert_eq!(out.code, 0, "{} / {}", out.stdout, out.stderr);
    assert!(out.stdout.contains("40 migrated"), "{}", out.stdout);
    for k in &keys {
        let out = verify_local(k, "docs.write", db);
        assert_eq!(
            out.json()["code"],
            "INSUFFICIENT_PERMISSIONS",
            "{} / {}",
            out.stdout,
            out.stderr
        );
    }
}
