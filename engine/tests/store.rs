//! Key lifecycle, migration, idempotency, isolation, request validation and durability.

mod common;

use common::*;
use keyshift_core::hashing::{self, HashVariant};
use keyshift_core::ErrorCode;
use keyshift_engine::Engine;
use serde_json::{json, Value};

#[test]
fn create_stores_only_the_hash_and_get_describes_the_key() {
    let env = env();
    env.call("permissions.createRole", json!({"name": "admin"}));
    let (id, key) = env.create_key(json!({
        "prefix": "sk_test", "byteLength": 32, "name": "n", "externalId": "user_9",
        "meta": {"a": 1}, "permissions": ["x.read", "x.write"], "roles": ["admin"],
        "credits": {"remaining": 7, "refill": {"interval": "monthly", "amount": 7, "refillDay": 3}},
        "ratelimits": [{"name": "requests", "limit": 5, "duration": 1000, "autoApply": true}]
    }));
    assert!(id.starts_with("key_"));
    assert!(keyshift_core::keyformat::looks_like_key(&key));
    assert_eq!(
        env.key_column(&id, "hash").unwrap(),
        hashing::sha256_base64(&key)
    );
    let d = env.call("keys.getKey", json!({"keyId": id}));
    assert_eq!(d["keyId"], id.as_str());
    assert_eq!(
        d["start"],
        keyshift_core::keyformat::key_start(&key).as_str()
    );
    assert_eq!(d["enabled"], true);
    assert_eq!(d["permissions"], json!(["x.read", "x.write"]));
    assert_eq!(d["roles"], json!(["admin"]));
    assert_eq!(d["credits"]["remaining"], 7);
    assert_eq!(d["credits"]["refill"]["refillDay"], 3);
    assert_eq!(d["identity"]["externalId"], "user_9");
    assert_eq!(d["ratelimits"][0]["name"], "requests");
    assert!(d["ratelimits"][0]["id"]
        .as_str()
        .unwrap()
        .starts_with("rl_"));
    assert!(d.get("plaintext").is_none());
    // permissions were created on the fly
    let perms = env.call("permissions.listPermissions", json!({}));
    let slugs = slugs(&perms);
    assert!(slugs.contains(&"x.read") && slugs.contains(&"x.write"));
    // whoami from the plaintext
    let w = env.call("keys.whoami", json!({"key": key}));
    assert_eq!(w["keyId"], id.as_str());
    let err = env.err("keys.whoami", json!({"key": "sk_test_unknownunknown"}));
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(!err.message.contains("unknownunknown"));
}

#[test]
fn roles_must_exist() {
    let env = env();
    let err = env.err(
        "keys.createKey",
        json!({"apiId": env.api_id, "roles": ["ghost"]}),
    );
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(err.message.contains("ghost"));
    let listed = env.call("apis.listKeys", json!({"apiId": env.api_id}));
    assert_eq!(listed, json!([]), "nothing half-created");
    let err = env.err("keys.createKey", json!({"apiId": "api_doesnotexist"}));
    assert_eq!(err.code, ErrorCode::NotFound);
}

#[test]
fn update_key_patches_and_clears() {
    let env = env();
    let (id, key) = env.create_key(json!({"name": "a", "meta": {"x": 1}, "externalId": "u1",
        "credits": {"remaining": 3}}));
    env.call(
        "keys.updateKey",
        json!({"keyId": id, "name": null, "meta": {"y": 2}, "externalId": null,
               "credits": null, "permissions": ["p1"], "enabled": true}),
    );
    let d = env.call("keys.getKey", json!({"keyId": id}));
    assert!(d.get("name").is_none());
    assert_eq!(d["meta"], json!({"y": 2}));
    assert!(d.get("identity").is_none());
    assert!(d.get("credits").is_none());
    assert_eq!(d["permissions"], json!(["p1"]));
    assert!(d["updatedAt"].as_i64().is_some());
    assert_eq!(env.code_for(&key, "p1"), "VALID");
    env.call(
        "keys.setPermissions",
        json!({"keyId": id, "permissions": []}),
    );
    assert_eq!(env.code_for(&key, "p1"), "INSUFFICIENT_PERMISSIONS");
}

#[test]
fn soft_and_permanent_delete() {
    let env = env();
    let (id, key) = env.create_key(json!({}));
    env.call("keys.deleteKey", json!({"keyId": id}));
    assert_eq!(env.code(&key, json!({})), "NOT_FOUND");
    assert_eq!(
        env.err_code("keys.getKey", json!({"keyId": id})),
        ErrorCode::NotFound
    );
    assert_eq!(
        env.err_code("keys.deleteKey", json!({"keyId": id})),
        ErrorCode::NotFound
    );
    // the soft-deleted row is still there, so its hash cannot be migrated in again
    assert!(env.key_column(&id, "deleted_at").is_some());
    let hash = hashing::sha256_base64(&key);
    let m = env.call(
        "keys.migrateKeys",
        json!({"migrationId": "m_1", "apiId": env.api_id, "keys": [{"hash": hash}]}),
    );
    assert_eq!(m["failed"], json!([hash]));
    // permanent delete removes the row entirely
    env.call("keys.deleteKey", json!({"keyId": id, "permanent": true}));
    let conn = rusqlite::Connection::open(&env.path).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM keys WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 0);
    let m = env.call(
        "keys.migrateKeys",
        json!({"migrationId": "m_2", "apiId": env.api_id, "keys": [{"hash": hash}]}),
    );
    assert_eq!(m["migrated"][0]["hash"], hash.as_str());
    assert_eq!(env.code(&key, json!({})), "VALID");
}

#[test]
fn reroll_with_overlap_and_immediate() {
    let env = env();
    env.call("permissions.createRole", json!({"name": "r"}));
    let (old_id, old_key) = env.create_key(json!({
        "prefix": "sk_live", "name": "svc", "meta": {"m": 1}, "permissions": ["p"],
        "roles": ["r"], "credits": {"remaining": 9},
        "ratelimits": [{"name": "requests", "limit": 100, "duration": 1000, "autoApply": true}]
    }));
    let r = env.call(
        "keys.rerollKey",
        json!({"keyId": old_id, "expiration": 60000}),
    );
    let new_id = r["keyId"].as_str().unwrap().to_string();
    let new_key = r["key"].as_str().unwrap().to_string();
    assert_ne!(new_id, old_id);
    assert!(new_key.starts_with("sk_live_"));
    // both valid during the overlap; the new key carries the old one's settings
    assert_eq!(env.code(&old_key, json!({})), "VALID");
    let d = env.verify(&new_key, json!({"permissions": "p"}));
    assert_eq!(d["code"], "VALID");
    assert_eq!(d["name"], "svc");
    assert_eq!(d["meta"], json!({"m": 1}));
    assert_eq!(d["roles"], json!(["r"]));
    assert_eq!(d["ratelimits"][0]["name"], "requests");
    let old = env.call("keys.getKey", json!({"keyId": old_id}));
    let exp = old["expires"].as_i64().unwrap();
    assert!(exp > now_ms() + 50_000 && exp <= now_ms() + 60_000);
    // expiration 0: the old key stops working at once
    let r2 = env.call("keys.rerollKey", json!({"keyId": new_id, "expiration": 0}));
    assert_eq!(env.code(&new_key, json!({})), "EXPIRED");
    assert_eq!(env.code(r2["key"].as_str().unwrap(), json!({})), "VALID");
}

fn migrate_variant(variant: HashVariant) {
    let env = env();
    let plaintexts: Vec<String> = (0..4)
        .map(|i| format!("legacy_key_{variant}_{i}_abcdefgh"))
        .collect();
    let hashes: Vec<String> = plaintexts
        .iter()
        .map(|p| match variant {
            HashVariant::Bcrypt => hashing::hash_bcrypt(p, 4).unwrap(),
            v => hashing::hash_key(p, v).unwrap().value,
        })
        .collect();
    env.call(
        "permissions.createRole",
        json!({"name": "reader", "permissions": ["r"]}),
    );
    // key 0 is migrated first, so it is a duplicate in the second batch
    let first = env.call(
        "keys.migrateKeys",
        json!({"migrationId": "m_first", "apiId": env.api_id, "hashVariant": variant.as_str(),
               "keys": [{"hash": hashes[0], "start": format!("legacy_key_{variant}_0")}]}),
    );
    assert_eq!(first["failed"], json!([]));
    let batch: Vec<Value> = hashes
        .iter()
        .enumerate()
        .map(|(i, h)| {
            json!({"hash": h, "start": format!("legacy_key_{variant}_{i}"),
                   "name": format!("k{i}"), "externalId": "cust_1",
                   "meta": {"i": i}, "roles": ["reader"], "permissions": ["w"],
                   "credits": {"remaining": 2}})
        })
        .collect();
    let out = env.call(
        "keys.migrateKeys",
        json!({"migrationId": "m_second", "apiId": env.api_id,
               "hashVariant": variant.as_str(), "keys": batch}),
    );
    assert_eq!(out["failed"], json!([hashes[0]]), "{variant}");
    let migrated = out["migrated"].as_array().unwrap();
    assert_eq!(migrated.len(), 3);
    for (m, h) in migrated.iter().zip(&hashes[1..]) {
        assert_eq!(m["hash"], h.as_str());
    }
    let key_id = migrated[0]["keyId"].as_str().unwrap().to_string();
    assert_eq!(env.key_column(&key_id, "migration_id").unwrap(), "m_second");
    assert_eq!(
        env.key_column(&key_id, "hash_variant").unwrap(),
        variant.as_str()
    );
    // verify works against the stored form, with the migrated settings
    let d = env.verify(&plaintexts[1], json!({"permissions": "r AND w"}));
    assert_eq!(d["code"], "VALID", "{variant}: {d}");
    assert_eq!(d["keyId"], key_id.as_str());
    assert_eq!(d["name"], "k1");
    assert_eq!(d["credits"], 1);
    assert_eq!(d["identity"]["externalId"], "cust_1");
    // lazy re-hash: now stored as sha256_base64, and still valid
    assert_eq!(
        env.key_column(&key_id, "hash_variant").unwrap(),
        "sha256_base64"
    );
    assert_eq!(
        env.key_column(&key_id, "hash").unwrap(),
        hashing::sha256_base64(&plaintexts[1])
    );
    assert_eq!(env.code(&plaintexts[1], json!({})), "VALID");
    // a not-yet-used key is still in its migrated form; a wrong key is NOT_FOUND
    let other = migrated[1]["keyId"].as_str().unwrap();
    assert_eq!(
        env.key_column(other, "hash_variant").unwrap(),
        variant.as_str()
    );
    assert_eq!(env.code("legacy_key_wrong", json!({})), "NOT_FOUND");
    // a key that is not VALID is not re-hashed
    env.call("keys.updateKey", json!({"keyId": other, "enabled": false}));
    assert_eq!(env.code(&plaintexts[2], json!({})), "DISABLED");
    assert_eq!(
        env.key_column(other, "hash_variant").unwrap(),
        variant.as_str()
    );
}

#[test]
fn migrate_sha256_base64() {
    migrate_variant(HashVariant::Sha256Base64);
}

#[test]
fn migrate_sha256_hex() {
    migrate_variant(HashVariant::Sha256Hex);
}

#[test]
fn migrate_bcrypt() {
    migrate_variant(HashVariant::Bcrypt);
}

#[test]
fn migrate_detects_duplicates_across_spellings_and_rejects_bad_hashes() {
    let env = env();
    let b64 = hashing::sha256_base64("some_key_1234567890");
    let hex = hashing::sha256_hex("some_key_1234567890");
    env.call(
        "keys.migrateKeys",
        json!({"migrationId": "m_1", "apiId": env.api_id, "keys": [{"hash": b64}]}),
    );
    let out = env.call(
        "keys.migrateKeys",
        json!({"migrationId": "m_2", "apiId": env.api_id, "hashVariant": "sha256_hex",
               "keys": [{"hash": hex}]}),
    );
    assert_eq!(out["failed"], json!([hex]));
    let err = env.err(
        "keys.migrateKeys",
        json!({"migrationId": "m_3", "apiId": env.api_id,
               "keys": [{"hash": hashing::sha256_base64("ok_one")}, {"hash": "not-base64!"}]}),
    );
    assert_eq!(err.code, ErrorCode::BadRequest);
    assert_eq!(err.errors[0].location, "body.keys[1].hash");
    // nothing from the rejected request was stored
    assert_eq!(env.code("ok_one", json!({})), "NOT_FOUND");
    let err = env.err(
        "keys.migrateKeys",
        json!({"migrationId": "m_4", "apiId": env.api_id, "hashVariant": "md5",
               "keys": [{"hash": "abc"}]}),
    );
    assert_eq!(err.code, ErrorCode::BadRequest);
    assert_eq!(err.errors[0].location, "body.hashVariant");
}

#[test]
fn idempotent_replay() {
    let env = env();
    let body = json!({"apiId": env.api_id, "name": "once"}).to_string();
    let a = env.replayed("keys.createKey", body.as_bytes(), "idem-1");
    let listed = env.call("apis.listKeys", json!({"apiId": env.api_id}));
    assert_eq!(listed.as_array().unwrap().len(), 1, "only one key minted");
    // same idempotency key, other body or other op: conflict
    let other = json!({"apiId": env.api_id, "name": "twice"}).to_string();
    let err = env
        .dispatch("keys.createKey", other.as_bytes(), Some("idem-1"))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict);
    let err = env
        .engine
        .dispatch(
            &env.ctx,
            "apis.createApi",
            br#"{"name":"xyz"}"#,
            Some("idem-1"),
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict);
    // another key mints another key
    let c = env
        .dispatch("keys.createKey", body.as_bytes(), Some("idem-2"))
        .unwrap();
    assert_ne!(a.data["keyId"], c.data["keyId"]);
    // the stored answer is encrypted: the plaintext key is nowhere in the database files
    let plaintext = a.data["key"].as_str().unwrap();
    drop(env.engine.clone());
    for entry in std::fs::read_dir(env.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes
                .windows(plaintext.len())
                .any(|w| w == plaintext.as_bytes()),
            "plaintext key found in a database file"
        );
    }
    // replays survive a restart
    let reopened = Engine::open(&env.path).unwrap();
    let d = reopened
        .dispatch(&env.ctx, "keys.createKey", body.as_bytes(), Some("idem-1"))
        .unwrap();
    assert_eq!(d, a);
}

#[test]
fn workspaces_are_isolated() {
    let env = env();
    let (key_id, key) = env.create_key(json!({}));
    let ws_b = env.engine.create_workspace("other").unwrap();
    let root_b = env.engine.create_root_key(&ws_b).unwrap();
    let ctx_b = env.engine.authenticate(root_b.expose()).unwrap();
    assert_eq!(ctx_b.workspace_id, ws_b);
    assert_ne!(ctx_b.workspace_id, env.ctx.workspace_id);
    let b = |op: &str, body: Value| call_err(&env.engine, &ctx_b, op, body).code;
    assert_eq!(
        b("keys.getKey", json!({"keyId": key_id})),
        ErrorCode::NotFound
    );
    assert_eq!(
        b("keys.deleteKey", json!({"keyId": key_id})),
        ErrorCode::NotFound
    );
    assert_eq!(
        b("keys.updateKey", json!({"keyId": key_id, "enabled": false})),
        ErrorCode::NotFound
    );
    assert_eq!(
        b("apis.listKeys", json!({"apiId": env.api_id})),
        ErrorCode::NotFound
    );
    assert_eq!(
        b("keys.createKey", json!({"apiId": env.api_id})),
        ErrorCode::NotFound
    );
    assert_eq!(b("keys.whoami", json!({"key": key})), ErrorCode::NotFound);
    let d = call(&env.engine, &ctx_b, "keys.verifyKey", json!({"key": key}));
    assert_eq!(d["code"], "NOT_FOUND");
    // A's key is untouched
    assert_eq!(env.code(&key, json!({})), "VALID");
    // B can migrate the same hash into its own workspace without seeing A's
    let api_b = call(
        &env.engine,
        &ctx_b,
        "apis.createApi",
        json!({"name": "bbb"}),
    )["apiId"]
        .as_str()
        .unwrap()
        .to_string();
    let m = call(
        &env.engine,
        &ctx_b,
        "keys.migrateKeys",
        json!({"migrationId": "m_b", "apiId": api_b,
               "keys": [{"hash": hashing::sha256_base64(&key)}]}),
    );
    assert_eq!(m["failed"], json!([]));
    let d = call(&env.engine, &ctx_b, "keys.verifyKey", json!({"key": key}));
    assert_eq!(d["code"], "VALID");
    assert_ne!(d["keyId"], key_id.as_str());
}

#[test]
fn bad_bodies_name_the_field() {
    let env = env();
    let cases = [
        (
            "keys.createKey",
            json!({"apiId": env.api_id, "bogusField": 1}),
            "body.bogusField",
        ),
        (
            "keys.createKey",
            json!({"apiId": env.api_id, "credits": {"remaining": 1, "extra": true}}),
            "body.credits.extra",
        ),
        ("keys.createKey", json!({}), "body.apiId"),
        (
            "keys.createKey",
            json!({"apiId": env.api_id, "byteLength": 8}),
            "body.byteLength",
        ),
        (
            "keys.createKey",
            json!({"apiId": env.api_id, "prefix": "bad prefix"}),
            "body.prefix",
        ),
        (
            "keys.verifyKey",
            json!({"key": "k", "tags": "sk_live_secretvalue"}),
            "body.tags",
        ),
        (
            "keys.migrateKeys",
            json!({"migrationId": "m_1", "apiId": env.api_id, "keys": [{"hash": "abc", "x": 1}]}),
            "body.keys[0].x",
        ),
    ];
    for (op, body, location) in cases {
        let err = env.err(op, body);
        assert_eq!(err.code, ErrorCode::BadRequest, "{op}");
        assert_eq!(err.errors[0].location, location, "{op}: {err}");
        assert!(err.message.contains(location), "{err}");
        assert!(!err.message.contains("secretvalue"), "{err}");
    }
    let err = env
        .dispatch("keys.createKey", b"{not json", None)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::BadRequest);
    let err = env.dispatch("keys.nope", b"{}", None).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
}

#[test]
fn bootstrap_and_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boot.db");
    let path = path.to_str().unwrap();
    let engine = Engine::open(path).unwrap();
    let root = engine.ensure_bootstrap(None).unwrap().expect("generated");
    assert!(root.expose().starts_with("ks_root_"));
    assert!(!format!("{root:?}").contains(&root.expose()[10..]));
    assert_eq!(engine.ensure_bootstrap(None).unwrap(), None, "idempotent");
    let ctx = engine.authenticate(root.expose()).unwrap();
    let err = engine.authenticate("ks_root_wrong").unwrap_err();
    assert_eq!(err.code, ErrorCode::Unauthorized);
    assert!(!err.message.contains("wrong"));
    // a seeded key joins the existing workspace; seeding again is a no-op
    assert_eq!(
        engine
            .ensure_bootstrap(Some("seeded_root_key_123"))
            .unwrap(),
        None
    );
    assert_eq!(
        engine
            .ensure_bootstrap(Some("seeded_root_key_123"))
            .unwrap(),
        None
    );
    let seeded = engine.authenticate("seeded_root_key_123").unwrap();
    assert_eq!(seeded.workspace_id, ctx.workspace_id);
    engine.liveness().unwrap();

    // a fresh database seeded from the start
    let other = dir.path().join("seeded.db");
    let engine2 = Engine::open(other.to_str().unwrap()).unwrap();
    assert_eq!(
        engine2.ensure_bootstrap(Some("seed_only_key_456")).unwrap(),
        None
    );
    engine2.authenticate("seed_only_key_456").unwrap();
    assert_eq!(engine2.ensure_bootstrap(None).unwrap(), None);

    // root keys are stored hashed
    let conn = rusqlite::Connection::open(path).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM root_keys WHERE hash = ?1",
            [hashing::sha256_base64(root.expose())],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    assert!(Engine::open(":memory:")
        .unwrap()
        .ensure_bootstrap(None)
        .unwrap()
        .is_some());
}

#[test]
fn reopen_finds_every_key() {
    let env = env();
    let mut keys = Vec::new();
    for i in 0..20 {
        keys.push(env.create_key(json!({"name": format!("k{i}"), "credits": {"remaining": 5}})));
    }
    let hex_plain = "legacy_hex_key_0001";
    env.call(
        "keys.migrateKeys",
        json!({"migrationId": "m_reopen", "apiId": env.api_id, "hashVariant": "sha256_hex",
               "keys": [{"hash": hashing::sha256_hex(hex_plain)}]}),
    );
    assert_eq!(env.code(&keys[0].1, json!({})), "VALID");
    let path = env.path.clone();
    let root = env.root_key.clone();
    let api_id = env.api_id.clone();
    let _dir = env.dir; // keep the directory
    drop(env.engine);
    let engine = Engine::open(&path).unwrap();
    assert_eq!(engine.ensure_bootstrap(None).unwrap(), None);
    let ctx = engine.authenticate(&root).unwrap();
    for (i, (id, key)) in keys.iter().enumerate() {
        let d = call(&engine, &ctx, "keys.verifyKey", json!({"key": key}));
        assert_eq!(d["code"], "VALID");
        assert_eq!(d["keyId"], id.as_str());
        assert_eq!(d["credits"], if i == 0 { 3 } else { 4 });
    }
    let d = call(&engine, &ctx, "keys.verifyKey", json!({"key": hex_plain}));
    assert_eq!(d["code"], "VALID");
    // pagination over the 21 keys
    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut body = json!({"apiId": api_id, "limit": 8});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let r = engine
            .dispatch(&ctx, "apis.listKeys", body.to_string().as_bytes(), None)
            .unwrap();
        seen += r.data.as_array().unwrap().len();
        let p = r.pagination.unwrap();
        if !p.has_more {
            assert!(p.cursor.is_none());
            break;
        }
        cursor = p.cursor;
    }
    assert_eq!(seen, 21);
}

#[test]
fn permissions_roles_identities_apis() {
    let env = env();
    let p = env.call(
        "permissions.createPermission",
        json!({"name": "Read", "slug": "docs.read", "description": "d"}),
    );
    let pid = p["permissionId"].as_str().unwrap();
    assert!(pid.starts_with("perm_"));
    assert_eq!(
        env.err_code(
            "permissions.createPermission",
            json!({"name": "Read", "slug": "docs.read"})
        ),
        ErrorCode::Conflict
    );
    let g = env.call(
        "permissions.getPermission",
        json!({"permission": "docs.read"}),
    );
    assert_eq!(g["id"], pid);
    assert_eq!(g["description"], "d");
    let g = env.call("permissions.getPermission", json!({"permission": pid}));
    assert_eq!(g["slug"], "docs.read");
    let r = env.call(
        "permissions.createRole",
        json!({"name": "reader", "permissions": ["docs.read", "docs.list"]}),
    );
    let rid = r["roleId"].as_str().unwrap();
    assert!(rid.starts_with("role_"));
    assert_eq!(
        env.err_code("permissions.createRole", json!({"name": "reader"})),
        ErrorCode::Conflict
    );
    let role = env.call("permissions.getRole", json!({"role": "reader"}));
    assert_eq!(role["id"], rid);
    assert_eq!(role["permissions"].as_array().unwrap().len(), 2);
    let roles = env.call("permissions.listRoles", json!({"search": "read"}));
    assert_eq!(roles.as_array().unwrap().len(), 1);
    let perms = env.call("permissions.listPermissions", json!({"search": "list"}));
    assert_eq!(perms.as_array().unwrap().len(), 1);

    // key role links follow role deletion
    let (kid, key) = env.create_key(json!({"roles": ["reader"]}));
    assert_eq!(env.code_for(&key, "docs.list"), "VALID");
    let roles = env.call("keys.setRoles", json!({"keyId": kid, "roles": []}));
    assert_eq!(roles, json!([]));
    let roles = env.call("keys.addRoles", json!({"keyId": kid, "roles": [rid]}));
    assert_eq!(roles[0]["name"], "reader");
    env.call("permissions.deleteRole", json!({"role": rid}));
    assert_eq!(env.code_for(&key, "docs.list"), "INSUFFICIENT_PERMISSIONS");
    assert_eq!(
        env.err_code("permissions.getRole", json!({"role": "reader"})),
        ErrorCode::NotFound
    );
    let added = env.call(
        "keys.addPermissions",
        json!({"keyId": kid, "permissions": ["docs.read", "new.one"]}),
    );
    assert_eq!(added.as_array().unwrap().len(), 2);
    let left = env.call(
        "keys.removePermissions",
        json!({"keyId": kid, "permissions": ["new.one"]}),
    );
    assert_eq!(left[0]["slug"], "docs.read");
    env.call(
        "permissions.deletePermission",
        json!({"permission": "docs.read"}),
    );
    assert_eq!(env.code_for(&key, "docs.read"), "INSUFFICIENT_PERMISSIONS");

    // identities
    let i = env.call(
        "identities.createIdentity",
        json!({"externalId": "org_1", "meta": {"tier": "gold"}}),
    );
    let iid = i["identityId"].as_str().unwrap();
    assert_eq!(
        env.err_code("identities.createIdentity", json!({"externalId": "org_1"})),
        ErrorCode::Conflict
    );
    let g = env.call("identities.getIdentity", json!({"identity": "org_1"}));
    assert_eq!(g["id"], iid);
    assert_eq!(g["meta"], json!({"tier": "gold"}));
    let (kid2, key2) = env.create_key(json!({"externalId": "org_1"}));
    let d = env.verify(&key2, json!({}));
    assert_eq!(d["identity"]["id"], iid);
    assert_eq!(d["identity"]["meta"], json!({"tier": "gold"}));
    let listed = env.call("identities.listIdentities", json!({}));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    env.call("identities.deleteIdentity", json!({"identity": iid}));
    let k = env.call("keys.getKey", json!({"keyId": kid2}));
    assert!(k.get("identity").is_none());
    assert_eq!(env.code(&key2, json!({})), "VALID");

    // apis
    let a = env.call("apis.getApi", json!({"apiId": env.api_id}));
    assert_eq!(a["name"], "payments");
    env.call("apis.deleteApi", json!({"apiId": env.api_id}));
    assert_eq!(
        env.err_code("apis.getApi", json!({"apiId": env.api_id})),
        ErrorCode::NotFound
    );
    assert_eq!(env.code(&key2, json!({})), "NOT_FOUND");
}

/// A batch larger than one duplicate-lookup query (250 spellings), with repeats inside the
/// batch in both spellings, shared identities and permissions, an unknown role only on a
/// duplicate, and the same hashes in another workspace.
#[test]
fn migrate_large_batch_resolves_each_name_once_and_keeps_every_rule() {
    let env = env();
    env.call(
        "permissions.createRole",
        json!({"name": "reader", "permissions": ["r"]}),
    );
    let plain = |i: usize| format!("bulk_key_{i}_abcdefghij");
    // key 7 exists before the batch
    env.call(
        "keys.migrateKeys",
        json!({"migrationId": "pre", "apiId": env.api_id, "hashVariant": "sha256_hex",
               "keys": [{"hash": hashing::sha256_hex(&plain(7))}]}),
    );
    let mut keys: Vec<Value> = (0..300)
        .map(|i| {
            json!({"hash": hashing::sha256_hex(&plain(i)).to_uppercase(),
                   "externalId": format!("cust_{}", i % 3), "roles": ["reader", "reader"],
                   "permissions": [format!("p{}", i % 4), "shared", "shared"]})
        })
        .collect();
    // repeats: key 5 again (lowercase), key 280 again; an unknown role on a duplicate is
    // never looked up
    keys.push(json!({"hash": hashing::sha256_hex(&plain(5)), "roles": ["nope"]}));
    keys.push(json!({"hash": hashing::sha256_hex(&plain(280)).to_uppercase()}));
    let out = env.call(
        "keys.migrateKeys",
        json!({"migrationId": "bulk", "apiId": env.api_id, "hashVariant": "sha256_hex",
               "keys": keys}),
    );
    let failed: Vec<&str> = out["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        failed,
        [
            hashing::sha256_hex(&plain(7)).to_uppercase(),
            hashing::sha256_hex(&plain(5)),
            hashing::sha256_hex(&plain(280)).to_uppercase()
        ]
    );
    let migrated = out["migrated"].as_array().unwrap();
    assert_eq!(migrated.len(), 299);
    let ids: std::collections::HashSet<&str> = migrated
        .iter()
        .map(|m| m["keyId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 299);
    for i in [0, 5, 251, 299] {
        let d = env.verify(
            &plain(i),
            json!({"permissions": format!("r AND shared AND p{}", i % 4)}),
        );
        assert_eq!(d["code"], "VALID", "{i}: {d}");
        assert_eq!(d["identity"]["externalId"], format!("cust_{}", i % 3));
    }
    let perms = env.call("permissions.listPermissions", json!({}));
    let slugs = slugs(&perms);
    assert_eq!(slugs.len(), 6, "{slugs:?}"); // r, shared, p0..p3 — each created once
    let idents = env.call("identities.listIdentities", json!({}));
    assert_eq!(idents.as_array().unwrap().len(), 3);
    // the base64 spelling of a migrated hex hash is a duplicate too
    let out = env.call(
        "keys.migrateKeys",
        json!({"migrationId": "again", "apiId": env.api_id,
               "keys": [{"hash": hashing::sha256_base64(&plain(299))},
                        {"hash": hashing::sha256_base64(&plain(300))}]}),
    );
    assert_eq!(out["failed"], json!([hashing::sha256_base64(&plain(299))]));
    assert_eq!(out["migrated"].as_array().unwrap().len(), 1);
    // an unknown role on a new key is a 404 and nothing of the batch is stored
    let err = env.err(
        "keys.migrateKeys",
        json!({"migrationId": "bad", "apiId": env.api_id,
               "keys": [{"hash": hashing::sha256_base64(&plain(400)), "externalId": "new_cust"},
                        {"hash": hashing::sha256_base64(&plain(401)), "roles": ["reader", "nope"]}]}),
    );
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(err.message.contains("nope"), "{err}");
    assert_eq!(env.code(&plain(400), json!({})), "NOT_FOUND");
    let idents = env.call("identities.listIdentities", json!({}));
    assert_eq!(idents.as_array().unwrap().len(), 3);
    // another workspace migrates the same hashes as new keys
    let ws = env.engine.create_workspace("other").unwrap();
    let root = env.engine.create_root_key(&ws).unwrap();
    let ctx = env.engine.authenticate(root.expose()).unwrap();
    let api = call(
        &env.engine,
        &ctx,
        "apis.createApi",
        json!({"name": "other"}),
    );
    let out = call(
        &env.engine,
        &ctx,
        "keys.migrateKeys",
        json!({"migrationId": "mig_o", "apiId": api["apiId"],
               "keys": [{"hash": hashing::sha256_base64(&plain(0)), "externalId": "cust_0"}]}),
    );
    assert_eq!(out["failed"], json!([]));
    assert_eq!(out["migrated"].as_array().unwrap().len(), 1);
}

/// The batch parsed before the writer is taken is replayed like any other request.
#[test]
fn migrate_idempotent_replay_and_conflict() {
    let env = env();
    let body = json!({"migrationId": "mig", "apiId": env.api_id,
                      "keys": [{"hash": hashing::sha256_base64("replay_me_123456")}]})
    .to_string();
    let first = env.replayed("keys.migrateKeys", body.as_bytes(), "mig-1");
    assert_eq!(first.data["migrated"].as_array().unwrap().len(), 1);
    // without the idempotency key the same hash is now a duplicate
    let fresh = env
        .dispatch("keys.migrateKeys", body.as_bytes(), None)
        .unwrap();
    assert_eq!(fresh.data["migrated"], json!([]));
    // the same idempotency key with a body that does not even parse: still a conflict
    let err = env
        .engine
        .dispatch(
            &env.ctx,
            "keys.migrateKeys",
            b"{\"bogus\":1}",
            Some("mig-1"),
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict);
}

/// The `slug` of every permission in a `permissions.listPermissions` answer.
fn slugs(perms: &Value) -> Vec<&str> {
    perms
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect()
}
