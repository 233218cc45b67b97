//! `keyshift admin create-root-key --permission …` and `keyshift admin list-root-keys`: the root
//! key Unkey's migration guide asks for (`api.*.create_key`, `api.*.verify_key`) works for
//! exactly that against a running `keyshift serve`, and listings never show a key.

mod common;

use common::{create_key, keyshift, Output, Server};
use serde_json::Value;

/// `keyshift [global…] admin create-root-key --workspace <ws> --db <db> --permission <p>…`.
fn create_root_key(db: &str, ws: &str, global: &[&str], permissions: &[&str]) -> Output {
    let mut args = global.to_vec();
    args.extend(["admin", "create-root-key", "--workspace", ws, "--db", db]);
    for p in permissions {
        args.extend(["--permission", p]);
    }
    keyshift(&args, "", &[])
}

#[test]
fn a_root_key_with_the_migration_guides_permissions() {
    let server = Server::start();
    let db = server.dir.path().join("server.db");
    let db = db.to_str().unwrap();
    let env = server.env();
    let api = keyshift(&["apis", "create", "guide-api"], "", &env);
    assert_eq!(api.code, 0, "{}", api.stderr);
    let api_id = api.stdout.trim().to_string();

    // The seeded root key is listed with `*`.
    let listed = keyshift(&["--json", "admin", "list-root-keys", "--db", db], "", &[]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let first: Value = serde_json::from_str(listed.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["permissions"], serde_json::json!(["*"]));
    let ws = first["workspaceId"].as_str().unwrap().to_string();

    let made = create_root_key(
        db,
        &ws,
        &["--json"],
        &["api.*.create_key", "api.*.verify_key"],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    let made = made.json();
    let root = made["rootKey"].as_str().unwrap().to_string();
    let limited = vec![
        ("KEYSHIFT_BASE_URL", server.base_url.clone()),
        ("KEYSHIFT_ROOT_KEY", root.clone()),
    ];

    // What it may do: create keys and verify them.
    let key = create_key(&api_id, &limited);
    let verified = keyshift(&["--json", "keys", "verify", "-"], &key, &limited);
    assert_eq!(verified.code, 0, "{}", verified.stderr);
    assert_eq!(verified.json()["code"], "VALID");
    // What it may not: create an api (403), read a key.
    let refused = keyshift(&["apis", "create", "not-allowed"], "", &limited);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("forbidden") && refused.stderr.contains("api.*.create_api"),
        "{}",
        refused.stderr
    );

    // Listed with its permissions, never in clear (text and JSON).
    for args in [
        vec!["admin", "list-root-keys", "--db", db],
        vec![
            "--json",
            "admin",
            "list-root-keys",
            "--db",
            db,
            "--workspace",
            &ws,
        ],
    ] {
        let listed = keyshift(&args, "", &[]);
        assert_eq!(listed.code, 0, "{}", listed.stderr);
        assert_eq!(listed.stdout.lines().count(), 2, "{}", listed.stdout);
        let second = listed.stdout.lines().nth(1).unwrap();
        assert!(
            second.contains("api.*.create_key") && second.contains("api.*.verify_key"),
            "{second}"
        );
        assert!(second.contains("ks_root_"), "shows the start: {second}");
        for secret in [&root, &server.root_key] {
            assert!(
                !listed.stdout.contains(secret.as_str()),
                "{}",
                listed.stdout
            );
            assert!(
                !listed.stdout.contains(&secret[secret.len() - 12..]),
                "{}",
                listed.stdout
            );
        }
    }

    // A typo in a permission, or none at all, is a usage error and creates nothing.
    let typo = create_root_key(db, &ws, &[], &["api.*.verify"]);
    assert_eq!(typo.code, 2, "{}", typo.stderr);
    assert!(typo.stderr.contains("verify_key"), "{}", typo.stderr);
    let none = create_root_key(db, &ws, &[], &[]);
    assert_eq!(none.code, 2, "{}", none.stderr);
    let listed = keyshift(&["admin", "list-root-keys", "--db", db], "", &[]);
    assert_eq!(listed.stdout.lines().count(), 2, "{}", listed.stdout);
}
