//! Migration input: readers (JSONL, CSV, iterators), validation with line numbers, the field
//! mapping onto the wire, and dry runs. No server involved (nothing is sent).

use std::path::PathBuf;

use keyshift_core::migrate::{
    validate_source, HashVariant, MigrateOptions, MigrationRecord, MigrationReport, MigrationSource,
};
use keyshift_core::{hash_bcrypt, hashing::sha256_base64, hashing::sha256_hex, ErrorCode};
use serde_json::json;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        let dir = std::env::temp_dir().join(format!("ks-mig-{tag}-{}", hex::encode(b)));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, content).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dry(source: impl Into<MigrationSource>) -> MigrationReport {
    validate_source(source, &MigrateOptions::default().dry_run(true), None).unwrap()
}

fn error_at(report: &MigrationReport, line: u64) -> &keyshift_core::migrate::RecordError {
    report
        .errors
        .iter()
        .find(|e| e.line == line)
        .unwrap_or_else(|| panic!("no error at line {line}: {:#?}", report.errors))
}

const KEY1: &str = "sk_live_4f9aQz7TbW2mXcK8pLrN5vYd";

#[test]
fn jsonl_dry_run_reports_every_kind_of_bad_record_with_its_line() {
    let bcrypt = hash_bcrypt("legacy-key-1", 4).unwrap();
    let many_perms: Vec<String> = (0..1001).map(|i| format!("p{i}")).collect();
    let big_meta: serde_json::Map<String, serde_json::Value> =
        (0..101).map(|i| (format!("k{i}"), json!(i))).collect();
    let lines: Vec<String> = vec![
        json!({"key": KEY1, "permissions": ["a.read"]}).to_string(), // 1 ok
        "   ".into(),                                                // 2 blank: skipped
        "{\"key\": \"sk_unterminated".into(),                       // 3 bad JSON
        json!({"key": "sk_x_abcdefghijklmnop", "hash": sha256_base64("x")}).to_string(), // 4 both
        json!({"name": "nothing"}).to_string(),                      // 5 neither
        json!({"hash": "not-a-hash"}).to_string(),                   // 6 bad base64 hash
        json!({"key": KEY1}).to_string(),                            // 7 duplicate of 1
        json!({"hash": sha256_base64(KEY1)}).to_string(),            // 8 same key, hashed
        json!({"key": "sk_live_other000000000001", "permisions": ["x"]}).to_string(), // 9 unknown field
        json!({"key": "sk_live_other000000000002", "expires": 5_000_000_000_000i64}).to_string(), // 10
        json!({"key": "sk_live_other000000000003", "permissions": many_perms}).to_string(), // 11
        json!({"key": "sk_live_other000000000004", "ratelimits": [{"name": "req", "limit": 1, "duration": 10}]}).to_string(), // 12
        json!({"key": "sk_live_other000000000005", "meta": big_meta}).to_string(), // 13
        json!({"key": "sk_live_other000000000006", "name": "n".repeat(256)}).to_string(), // 14
        json!({"key": "sk_live_other000000000007", "scopes": ["profile:fly"]}).to_string(), // 15
        json!({"key": "sk_live_other000000000008", "credits": {"remaining": -1}}).to_string(), // 16
        json!({"key": "sk_live_other000000000009 "}).to_string(),   // 17 trailing space
        json!({"hash": "$2b$10$tooshort", "variant": "bcrypt"}).to_string(), // 18
        json!({"hash": sha256_hex("hex-key").to_uppercase(), "variant": "sha256_hex"}).to_string(), // 19 ok
        json!({"hash": bcrypt, "variant": "bcrypt", "start": "legacy-key"}).to_string(), // 20 ok
        "[1, 2]".into(),                                             // 21 not an object
        json!({"key": "sk_live_other000000000010", "customerId": "c1", "externalId": "c2"}).to_string(), // 22
        json!({"key": "sk_live_other000000000011", "credits": {"remaining": 5, "refill": {"interval": "weekly", "amount": 1}}}).to_string(), // 23
        json!({"hash": sha256_hex("hex-key"), "variant": "sha256_hex"}).to_string(), // 24 duplicate of 19
        json!({"key": "sk_live_other000000000012", "variant": "md5"}).to_string(), // 25
        json!({"key": "sk_live_other000000000013", "roles": ["r"], "enabled": "yes"}).to_string(), // 26
    ];
    let dir = TempDir::new("jsonl");
    let path = dir.file("keys.jsonl", &(lines.join("\n") + "\n"));
    let report = dry(path);

    assert!(report.dry_run);
    assert_eq!(report.total, 25, "blank line is not a record");
    assert_eq!(report.valid, 3, "{:#?}", report.errors);
    assert_eq!(report.invalid, 22);
    assert_eq!(report.errors.len(), 22);
    let expect: &[(u64, Option<&str>, &str)] = &[
        (3, None, "invalid JSON"),
        (4, Some("key"), "both"),
        (5, Some("key"), "needs"),
        (6, Some("hash"), "sha256_base64"),
        (7, Some("key"), "duplicate"),
        (8, Some("hash"), "duplicate"),
        (9, None, "unknown field `permisions`"),
        (10, Some("expires"), "between 0 and"),
        (11, Some("permissions"), "at most 1000"),
        (12, Some("ratelimits[0].duration"), "1000"),
        (13, Some("meta"), "100 properties"),
        (14, Some("name"), "255"),
        (15, Some("scopes[0]"), "unknown scope action"),
        (16, Some("credits.remaining"), "negative"),
        (17, Some("key"), "whitespace"),
        (18, Some("hash"), "bcrypt"),
        (21, None, "JSON object"),
        (22, Some("customerId"), "differ"),
        (23, Some("credits.refill.interval"), "daily or monthly"),
        (24, Some("hash"), "duplicate"),
        (25, Some("variant"), "sha256_base64"),
        (26, Some("enabled"), "boolean"),
    ];
    for (line, field, needle) in expect {
        let e = error_at(&report, *line);
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert_eq!(e.field.as_deref(), *field, "line {line}: {e:?}");
        assert!(
            e.message.contains(needle),
            "line {line}: {:?} lacks {needle:?}",
            e.message
        );
    }
    // Errors are in input order and never carry a plaintext key.
    let lines_seen: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
    let mut sorted = lines_seen.clone();
    sorted.sort_unstable();
    assert_eq!(lines_seen, sorted);
    let dump = format!("{report:?}");
    for secret in [KEY1, "sk_live_other000000000009", "sk_x_abcdefghijklmnop"] {
        assert!(!dump.contains(secret), "plaintext leaked into the report");
    }
    assert!(
        error_at(&report, 7).message.contains("sk_live_…"),
        "masked key named"
    );
}

#[test]
fn csv_lists_json_cells_and_line_numbers() {
    let dir = TempDir::new("csv");
    let csv = "key,name,customerId,workspaceId,permissions,scopes,roles,meta,expires,enabled,credits\n\
sk_live_aaaaaaaaaaaaaaaaaaaa01,first,cust_1,ws_9,doc.read; doc.write,\"profile:read,update;billing:*\",,\"{\"\"plan\"\":\"\"pro\"\"}\",4102444800000,true,25\n\
sk_live_aaaaaaaaaaaaaaaaaaaa02,\"multi\nline name\",,,,,,,,,\n\
sk_live_aaaaaaaaaaaaaaaaaaaa03,,,,,,,{not json},,,\n\
sk_live_aaaaaaaaaaaaaaaaaaaa04,,,,,,,,soon,,\n\
,,,,,,,,,,\n\
sk_live_aaaaaaaaaaaaaaaaaaaa05,,,,,nope,,,,,\n";
    let path = dir.file("export.csv", csv);
    let report = dry(path.clone());
    assert_eq!(report.total, 5, "{report:#?}");
    assert_eq!(report.valid, 2);
    assert_eq!(error_at(&report, 5).field.as_deref(), Some("meta"));
    assert_eq!(error_at(&report, 6).field.as_deref(), Some("expires"));
    assert_eq!(error_at(&report, 8).field.as_deref(), Some("scopes[0]"));
}

#[test]
fn oneloop_records_map_onto_the_wire() {
    let record = MigrationRecord::from_value(json!({
        "key": "ol_live_abcdefghijklmnopqrstu",
        "customerId": "cus_42",
        "workspaceId": "ws_7",
        "scopes": [
            {"representation": "profile", "read": true, "update": true},
            {"representation": "billing", "read": true, "create": false, "update": false, "delete": true}
        ],
        "permissions": ["profile.read", "admin.view"],
        "meta": {"plan": "pro"},
        "credits": {"remaining": 10, "refill": {"interval": "monthly", "amount": 10, "refillDay": 1}},
        "ratelimits": [{"name": "requests", "limit": 100, "duration": 60000, "autoApply": true}]
    }))
    .unwrap();
    let (variant, data) = record.to_key_data(HashVariant::Sha256Hex).unwrap();
    assert_eq!(
        variant,
        HashVariant::Sha256Base64,
        "plaintext is hashed as base64"
    );
    assert_eq!(data.hash, sha256_base64("ol_live_abcdefghijklmnopqrstu"));
    assert_eq!(data.external_id.as_deref(), Some("cus_42"));
    let meta = data.meta.unwrap();
    assert_eq!(meta["workspaceId"], json!("ws_7"));
    assert_eq!(meta["plan"], json!("pro"));
    assert_eq!(
        data.permissions.unwrap(),
        vec![
            "profile.read",
            "admin.view",
            "profile.update",
            "billing.read",
            "billing.delete"
        ]
    );
    let wire = serde_json::to_value(data.credits.unwrap()).unwrap();
    assert_eq!(
        wire,
        json!({"remaining": 10, "refill": {"interval": "monthly", "amount": 10, "refillDay": 1}})
    );
    assert!(data.ratelimits.unwrap()[0].auto_apply);

    // A hash without `variant` takes the default one; hex is lower-cased.
    let record =
        MigrationRecord::from_value(json!({"hash": sha256_hex("k").to_uppercase()})).unwrap();
    let (variant, data) = record.to_key_data(HashVariant::Sha256Hex).unwrap();
    assert_eq!(variant, HashVariant::Sha256Hex);
    assert_eq!(data.hash, sha256_hex("k"));
}

#[test]
fn iterator_sources_number_records_from_one() {
    let records = vec![
        MigrationRecord {
            key: Some("sk_test_0000000000000000000001".into()),
            ..Default::default()
        },
        MigrationRecord {
            hash: Some("short".into()),
            ..Default::default()
        },
        MigrationRecord {
            key: Some("sk_test_0000000000000000000001".into()),
            ..Default::default()
        },
    ];
    let report = dry(records);
    assert_eq!((report.total, report.valid, report.invalid), (3, 1, 2));
    assert_eq!(report.errors[0].line, 2);
    assert_eq!(report.errors[1].line, 3);
    assert!(report.errors[1].message.contains("duplicate"));

    let json_source = MigrationSource::json(vec![json!({"key": "k_1234567890abcdef"}), json!(7)]);
    let report = dry(json_source);
    assert_eq!((report.valid, report.invalid), (1, 1));
    assert_eq!(report.errors[0].line, 2);
}

#[test]
fn unknown_csv_columns_and_overlong_lines() {
    let dir = TempDir::new("bad");
    let path = dir.file("bad.csv", "key,colour\nsk_a_1234567890123456,red\n");
    let err = validate_source(path, &MigrateOptions::default().dry_run(true), None).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.contains("colour"), "{err}");

    // A CSV without a header row: its first data row is read as the header, and the key in it
    // is never echoed.
    let key = "sk_live_Zq8vN3xT5bW2mK9pLr4c";
    let path = dir.file("noheader.csv", &format!("{key},owner_1\n"));
    let err = validate_source(path, &MigrateOptions::default().dry_run(true), None).unwrap_err();
    assert!(!err.message.contains(key), "{err}");
    assert!(err.message.contains("sk_live_…"), "{err}");
    // Same for a key pasted as a JSON field name.
    let path = dir.file("odd.jsonl", &format!("{{\"{key}\": true}}\n"));
    let report = dry(path);
    assert_eq!(report.invalid, 1);
    assert!(!format!("{report:?}").contains(key));

    let long = format!("{{\"key\":\"sk_{}\"}}", "x".repeat(2 * 1024 * 1024));
    let content = format!(
        "{long}\n{}\n",
        json!({"key": "sk_live_after_the_long_line_01"})
    );
    let path = dir.file("long.ndjson", &content);
    let report = dry(path);
    assert_eq!((report.total, report.valid, report.invalid), (2, 1, 1));
    assert_eq!(report.errors[0].line, 1);
    assert!(report.errors[0].message.contains("longer than"));

    // Format is sniffed when the extension says nothing.
    let path = dir.file("keys.txt", "{\"key\":\"sk_live_sniffed_0000000001\"}\n");
    assert_eq!(dry(path).valid, 1);
    let path = dir.file("keys.dat", "hash\n\"$2b$04$abcdefghijklmnopqrstuu\"\n");
    let report = validate_source(
        path,
        &MigrateOptions::default()
            .dry_run(true)
            .variant(HashVariant::Bcrypt),
        None,
    )
    .unwrap();
    assert_eq!(report.invalid, 1, "short bcrypt hash refused");
}

#[test]
fn dry_run_report_file_and_options() {
    let dir = TempDir::new("report");
    let path = dir.file(
        "k.jsonl",
        "{\"key\":\"sk_live_rrrrrrrrrrrrrrrrrr01\"}\n{\"hash\":\"x\"}\n",
    );
    let report_path = dir.0.join("report.jsonl");
    let report = validate_source(
        path,
        &MigrateOptions::default().dry_run(true).report(&report_path),
        None,
    )
    .unwrap();
    assert_eq!(report.invalid, 1);
    let text = std::fs::read_to_string(&report_path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["line"], json!(2));
    assert_eq!(lines[0]["code"], json!("invalid_input"));
    assert_eq!(lines[1]["summary"]["valid"], json!(1));
    assert_eq!(lines[1]["summary"]["dryRun"], json!(true));

    for bad in [
        MigrateOptions::default().dry_run(true).batch_size(0),
        MigrateOptions::default().dry_run(true).batch_size(1001),
        MigrateOptions::default().dry_run(true).concurrency(0),
        MigrateOptions::default().dry_run(true).resume(true),
        MigrateOptions::new("a", "migration"),
    ] {
        assert_eq!(bad.validate().unwrap_err().code, ErrorCode::InvalidInput);
    }
    assert!(MigrateOptions::new("api_123", "m-1").validate().is_ok());
}

/// DESIGN §4: a bcrypt hash cannot be indexed, so a migrated bcrypt key must carry `start` (its
/// clear leading part) for verify to find it; a record without one (or with an empty one) is a
/// bad record, reported with its line and reason by a dry run, in JSONL and in CSV.
#[test]
fn bcrypt_records_need_a_start() {
    let h = |k: &str| hash_bcrypt(k, 4).unwrap();
    let lines: Vec<String> = vec![
        json!({"hash": h("sk_live_ab12xxxxxxxxxxxxxxx1"), "variant": "bcrypt", "start": "sk_live_ab12"}).to_string(), // 1 ok
        json!({"hash": h("sk_live_ab13xxxxxxxxxxxxxxx2"), "variant": "bcrypt"}).to_string(), // 2 no start
        json!({"hash": h("sk_live_ab14xxxxxxxxxxxxxxx3"), "variant": "bcrypt", "start": ""}).to_string(), // 3 empty
        json!({"hash": h("sk_live_ab15xxxxxxxxxxxxxxx4"), "variant": "bcrypt", "start": null}).to_string(), // 4 null
        json!({"hash": h("sk_live_ab16xxxxxxxxxxxxxxx5"), "variant": "bcrypt", "start": "sk live"}).to_string(), // 5 space
        json!({"hash": h("sk_live_ab17xxxxxxxxxxxxxxx6"), "variant": "bcrypt", "start": "s".repeat(33)}).to_string(), // 6 long
        json!({"hash": h("sk_live_ab18xxxxxxxxxxxxxxx7"), "variant": "bcrypt", "start": 12}).to_string(), // 7 not a string
        json!({"hash": sha256_base64("no-start-needed")}).to_string(), // 8 ok: sha256 needs none
        json!({"hash": {"value": h("sk_live_ab19xxxxxxxxxxxxxxx8"), "variant": "bcrypt"}}).to_string(), // 9 guide form, no start
    ];
    let dir = TempDir::new("bcrypt-start");
    let path = dir.file("keys.jsonl", &(lines.join("\n") + "\n"));
    let report = dry(path);
    assert_eq!(
        (report.total, report.valid, report.invalid),
        (9, 2, 7),
        "{:#?}",
        report.errors
    );
    for (line, needle) in [
        (2, "needs `start`"),
        (3, "`start` is empty"),
        (4, "needs `start`"),
        (5, "printable ASCII"),
        (6, "longer than 32"),
        (7, "must be a string"),
        (9, "needs `start`"),
    ] {
        let e = error_at(&report, line);
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert_eq!(e.field.as_deref(), Some("start"), "line {line}: {e:?}");
        assert!(e.message.contains(needle), "line {line}: {:?}", e.message);
    }

    // CSV: a `start` column; an empty cell is an absent start.
    let csv = format!(
        "hash,variant,start,name\n{},bcrypt,sk_live_cd01,first\n{},bcrypt,,second\n{},,,third\n",
        h("sk_live_cd01xxxxxxxxxxxxxxx1"),
        h("sk_live_cd02xxxxxxxxxxxxxxx2"),
        sha256_base64("csv-sha-key"),
    );
    let path = dir.file("keys.csv", &csv);
    let report = dry(path);
    assert_eq!(
        (report.total, report.valid, report.invalid),
        (3, 2, 1),
        "{report:#?}"
    );
    let e = error_at(&report, 3);
    assert_eq!(e.field.as_deref(), Some("start"));
    assert!(e.message.contains("needs `start`"), "{e:?}");

    // The start goes on the wire with a bcrypt hash only (like `hashVariant`, a keyshift
    // extension Unkey does not know), so the same file migrates into Unkey.
    let (variant, data) = MigrationRecord::from_value(json!({
        "hash": h("sk_live_ef01xxxxxxxxxxxxxxx1"), "variant": "bcrypt", "start": "sk_live_ef01"
    }))
    .unwrap()
    .to_key_data(HashVariant::Sha256Base64)
    .unwrap();
    assert_eq!(variant, HashVariant::Bcrypt);
    assert_eq!(data.start.as_deref(), Some("sk_live_ef01"));
    assert_eq!(
        serde_json::to_value(&data).unwrap()["start"],
        json!("sk_live_ef01")
    );
    let (_, data) = MigrationRecord::from_value(
        json!({"key": "sk_live_ef02xxxxxxxxxxxxxxxx", "start": "sk_live_ef02"}),
    )
    .unwrap()
    .to_key_data(HashVariant::Sha256Base64)
    .unwrap();
    assert_eq!(data.start, None);
    assert!(serde_json::to_value(&data).unwrap().get("start").is_none());
}

/// Unkey's migration guide writes `hash: {value, variant}`; the readers take that form too
/// (JSONL and binding dicts), while the wire stays a string `hash` (+ `hashVariant`).
#[test]
fn unkey_guide_hash_objects_are_accepted() {
    let b64 = sha256_base64("guide-key-1");
    let hex = sha256_hex("guide-key-2");
    let lines: Vec<String> = vec![
        json!({"hash": {"value": b64, "variant": "sha256_base64"}, "externalId": "user_123",
               "meta": {"plan": "pro"}}).to_string(), // 1 ok
        json!({"hash": {"value": hex, "variant": "sha256_hex"}}).to_string(), // 2 ok, hex
        json!({"hash": {"value": sha256_base64("guide-key-3")}}).to_string(), // 3 ok, default variant
        json!({"hash": {"value": sha256_hex("guide-key-4"), "variant": "sha256_hex"}, "variant": "sha256_hex"}).to_string(), // 4 ok, agree
        json!({"hash": {"value": sha256_hex("guide-key-5"), "variant": "sha256_hex"}, "variant": "bcrypt"}).to_string(), // 5 differ
        json!({"hash": {"variant": "sha256_base64"}}).to_string(), // 6 no value
        json!({"hash": {"value": sha256_base64("guide-key-7"), "variant": "md5"}}).to_string(), // 7 bad variant
        json!({"hash": {"value": sha256_base64("guide-key-8"), "algo": "x"}}).to_string(), // 8 unknown field
        json!({"hash": {"value": b64, "variant": "sha256_base64"}}).to_string(), // 9 duplicate of 1
        json!({"hash": [1]}).to_string(), // 10 wrong type
    ];
    let dir = TempDir::new("guide");
    let path = dir.file("guide.jsonl", &(lines.join("\n") + "\n"));
    let report = dry(path);
    assert_eq!(
        (report.total, report.valid, report.invalid),
        (10, 4, 6),
        "{:#?}",
        report.errors
    );
    for (line, field, needle) in [
        (5, "variant", "differ"),
        (6, "hash.value", "required"),
        (7, "hash.variant", "sha256_base64"),
        (8, "hash", "unknown field `algo`"),
        (9, "hash", "duplicate"),
        (10, "hash", "string or an object"),
    ] {
        let e = error_at(&report, line);
        assert_eq!(e.field.as_deref(), Some(field), "line {line}: {e:?}");
        assert!(e.message.contains(needle), "line {line}: {:?}", e.message);
    }

    // The wire form: a plain string hash, the variant as the request's `hashVariant`.
    let (variant, data) = MigrationRecord::from_value(json!({
        "hash": {"value": hex.to_uppercase(), "variant": "sha256_hex"}
    }))
    .unwrap()
    .to_key_data(HashVariant::Sha256Base64)
    .unwrap();
    assert_eq!(variant, HashVariant::Sha256Hex);
    assert_eq!(serde_json::to_value(&data).unwrap()["hash"], json!(hex));
    let (variant, data) = MigrationRecord::from_value(json!({"hash": {"value": b64}}))
        .unwrap()
        .to_key_data(HashVariant::Sha256Base64)
        .unwrap();
    assert_eq!(variant, HashVariant::Sha256Base64);
    assert_eq!(data.hash, b64);
}
