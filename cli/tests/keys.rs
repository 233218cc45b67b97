//! `keyshift apis|keys|permissions|roles` as a user runs them: the built binary against a real
//! `keyshift serve` on loopback, and against the in-process engine with `--local DB`.

mod common;

use common::{keyshift, temp_db, Server};

#[test]
fn create_verify_get_reroll_delete_over_http() {
    let server = Server::start();
    let env = server.env();

    let api = keyshift(&["apis", "create", "cli-api"], "", &env);
    assert_eq!(api.code, 0, "{}", api.stderr);
    let api_id = api.stdout.trim().to_string();
    assert!(api_id.starts_with("api_"), "{api_id}");

    let created = keyshift(
        &[
            "--json",
            "keys",
            "create",
            "--api-id",
            &api_id,
            "--prefix",
            "sk_test",
            "--name",
            "cli key",
            "--scope",
            "profile:read,update",
            "--permission",
            "billing.read",
            "--external-id",
            "cust_1",
            "--meta",
            r#"{"plan":"pro"}"#,
            "--credits",
            "5",
        ],
        "",
        &env,
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    let created = created.json();
    let key = created["key"].as_str().unwrap().to_string();
    let key_id = created["keyId"].as_str().unwrap().to_string();
    assert!(key.starts_with("sk_test_"));
    assert!(created["masked"].as_str().unwrap().starts_with("sk_test_…"));

    // The key goes in on stdin, so it never shows in the process list.
    let valid = keyshift(
        &[
            "--json",
            "keys",
            "verify",
            "-",
            "--permissions",
            "profile.read AND billing.read",
        ],
        &format!("{key}\n"),
        &env,
    );
    assert_eq!(valid.code, 0, "{}", valid.stderr);
    let v = valid.json();
    assert_eq!(v["valid"], true);
    assert_eq!(v["code"], "VALID");
    assert_eq!(v["keyId"], key_id.as_str());
    assert_eq!(v["credits"], 4);
    assert_eq!(v["externalId"], "cust_1");
    assert_eq!(v["meta"]["plan"], "pro");

    let denied = keyshift(
        &["keys", "verify", "-", "--scope", "profile:delete"],
        &key,
        &env,
    );
    assert_eq!(denied.code, 1, "an invalid key exits 1");
    assert!(
        denied
            .stdout
            .starts_with("invalid INSUFFICIENT_PERMISSIONS"),
        "{}",
        denied.stdout
    );
    assert!(
        denied.stderr.is_empty(),
        "an outcome is not an error: {}",
        denied.stderr
    );

    let got = keyshift(&["--json", "keys", "get", &key_id], "", &env);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert_eq!(got.json()["name"], "cli key");
    assert!(!got.stdout.contains(&key), "get never shows the plaintext");

    let updated = keyshift(&["keys", "update", &key_id, "--enabled", "false"], "", &env);
    assert_eq!(updated.code, 0, "{}", updated.stderr);
    let disabled = keyshift(&["keys", "verify", "-"], &key, &env);
    assert_eq!(disabled.code, 1);
    assert!(disabled.stdout.contains("DISABLED"), "{}", disabled.stdout);
    keyshift(
        &[
            "keys",
            "update",
            &key_id,
            "--enabled",
            "true",
            "--credits",
            "none",
        ],
        "",
        &env,
    );

    let rerolled = keyshift(
        &["--json", "keys", "reroll", &key_id, "--expiration", "0"],
        "",
        &env,
    );
    assert_eq!(rerolled.code, 0, "{}", rerolled.stderr);
    let new_key = rerolled.json()["key"].as_str().unwrap().to_string();
    let new_id = rerolled.json()["keyId"].as_str().unwrap().to_string();
    assert_eq!(keyshift(&["keys", "verify", "-"], &new_key, &env).code, 0);
    assert_eq!(
        keyshift(&["keys", "verify", "-"], &key, &env).code,
        1,
        "old key revoked"
    );

    let listed = keyshift(&["--json", "apis", "list-keys", &api_id], "", &env);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(listed.stdout.lines().count(), 2, "{}", listed.stdout);

    let deleted = keyshift(&["keys", "delete", &new_id, "--permanent"], "", &env);
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    let missing = keyshift(&["keys", "get", &new_id], "", &env);
    assert_eq!(missing.code, 1);
    let stderr = &missing.stderr;
    assert!(stderr.contains("not_found"), "{stderr}");
    assert!(stderr.contains("[request req_"), "{stderr}");
}

#[test]
fn permissions_and_roles_over_http() {
    let server = Server::start();
    let env = server.env();
    let perm = keyshift(
        &[
            "permissions",
            "create",
            "documents.read",
            "--description",
            "read docs",
        ],
        "",
        &env,
    );
    assert_eq!(perm.code, 0, "{}", perm.stderr);
    let role = keyshift(
        &[
            "roles",
            "create",
            "editor",
            "--permission",
            "documents.read",
            "--permission",
            "documents.write",
        ],
        "",
        &env,
    );
    assert_eq!(role.code, 0, "{}", role.stderr);
    let perms = keyshift(&["--json", "permissions", "list"], "", &env);
    let slugs: Vec<String> = perms
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["slug"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(slugs.contains(&"documents.write".to_string()), "{slugs:?}");
    let roles = keyshift(&["roles", "list"], "", &env);
    assert!(roles.stdout.contains("editor"), "{}", roles.stdout);
    assert!(roles.stdout.contains("documents.write"), "{}", roles.stdout);

    let api_id = keyshift(&["apis", "create", "role-api"], "", &env)
        .stdout
        .trim()
        .to_string();
    let created = keyshift(
        &[
            "--json", "keys", "create", "--api-id", &api_id, "--role", "editor",
        ],
        "",
        &env,
    );
    let key = created.json()["key"].as_str().unwrap().to_string();
    let v = keyshift(
        &["keys", "verify", "-", "--permissions", "documents.write"],
        &key,
        &env,
    );
    assert_eq!(v.code, 0, "role grants documents.write: {}", v.stdout);
}

#[test]
fn local_engine_without_a_server() {
    let (_dir, db) = temp_db("local.db");
    let db = db.as_str();
    let api = keyshift(&["apis", "create", "local-api", "--local", db], "", &[]);
    assert_eq!(api.code, 0, "{}", api.stderr);
    let api_id = api.stdout.trim();
    let created = keyshift(
        &[
            "--json", "keys", "create", "--api-id", api_id, "--local", db,
        ],
        "",
        &[],
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    let key = created.json()["key"].as_str().unwrap().to_string();
    // A second process on the same file sees the key.
    let v = keyshift(&["keys", "verify", "-", "--local", db], &key, &[]);
    assert_eq!(v.code, 0, "{} {}", v.stdout, v.stderr);
    assert!(v.stdout.starts_with("valid VALID"));
}

#[test]
fn bad_input_exits_2_naming_the_field_before_any_network() {
    // No server anywhere: local validation must fail first, with exit code 2.
    let env = vec![
        ("KEYSHIFT_BASE_URL", "http://127.0.0.1:9".to_string()),
        ("KEYSHIFT_ROOT_KEY", "ks_root_unused".to_string()),
    ];
    for (extra, named) in [
        (&["--meta", "[1,2]"][..], Some("[field meta]")),
        (&["--scope", "profile:fly"][..], None),
        (&["--bytes", "8"][..], Some("byteLength")),
    ] {
        let mut args = vec!["keys", "create", "--api-id", "api_x"];
        args.extend(extra);
        let bad = keyshift(&args, "", &env);
        assert_eq!(bad.code, 2, "{extra:?}: {}", bad.stderr);
        if let Some(named) = named {
            assert!(bad.stderr.contains(named), "{}", bad.stderr);
        }
    }
    let no_root = keyshift(&["keys", "get", "key_x"], "", &[]);
    assert_eq!(no_root.code, 2, "{}", no_root.stderr);
    assert!(no_root.stderr.contains("root-key"), "{}", no_root.stderr);
    let secret = "sk_live_SECRETSECRETSECRET1234";
    let bad_query = keyshift(
        &["keys", "verify", "-", "--permissions", "a AND"],
        secret,
        &env,
    );
    assert_eq!(bad_query.code, 2, "{}", bad_query.stderr);
    assert!(
        !bad_query.stderr.contains("SECRETSECRET"),
        "{}",
        bad_query.stderr
    );
}

#[test]
fn unreachable_server_is_a_network_error_exit_3() {
    let env = vec![
        ("KEYSHIFT_BASE_URL", "http://127.0.0.1:9".to_string()),
        ("KEYSHIFT_ROOT_KEY", "ks_root_unused".to_string()),
    ];
    let out = keyshift(&["apis", "get", "api_x"], "", &env);
    assert_eq!(out.code, 3, "a service failure: {}", out.stderr);
    assert!(out.stderr.contains("network"), "{}", out.stderr);
    assert!(!out.stderr.contains("ks_root_unused"), "{}", out.stderr);
}
