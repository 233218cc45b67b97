//! Exit codes (issue 9 #8), grep's convention, the same in every command:
//! 0 success / valid, 1 a negative outcome (`keys verify` of a key that is not valid, a lookup
//! of something that does not exist, a migration that finished with keys not migrated),
//! 2 usage or input error, 3 the key service failed (unknown root key, 403, refused
//! connection, timeout, 5xx).

mod common;

use common::{create_key, keyshift, Server};

fn unreachable_env() -> Vec<(&'static str, String)> {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    vec![
        ("KEYSHIFT_BASE_URL", "http://127.0.0.1:9".to_string()),
        ("KEYSHIFT_ROOT_KEY", "ks_root_unused".to_string()),
    ]
}

#[test]
fn service_failures_exit_3_in_every_command() {
    let env = unreachable_env();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.jsonl");
    std::fs::write(&file, "{\"key\":\"sk_live_exitcodes_000000001\"}\n").unwrap();
    let file = file.to_str().unwrap().to_string();
    let ckpt = dir.path().join("ckpt");
    let ckpt = ckpt.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["keys", "verify", "sk_live_whatever_1234"],
        vec!["keys", "get", "key_123"],
        vec!["keys", "create", "--api-id", "api_123"],
        vec!["apis", "create", "exit-codes"],
        vec!["apis", "get", "api_123"],
        vec!["permissions", "list"],
        vec!["roles", "list"],
        vec![
            "migrate",
            &file,
            "--api-id",
            "api_123",
            "--migration-id",
            "m_exit",
            "--checkpoint",
            ckpt,
        ],
    ];
    for args in &commands {
        let out = keyshift(args, "", &env);
        assert_eq!(out.code, 3, "{args:?}: {} / {}", out.stdout, out.stderr);
        assert!(!out.stderr.contains("ks_root_unused"), "{}", out.stderr);
    }
}

#[test]
fn an_unknown_root_key_exits_3_an_invalid_key_exits_1() {
    let server = Server::start();
    let good = server.env();
    let bad = vec![
        ("KEYSHIFT_BASE_URL", server.base_url.clone()),
        (
            "KEYSHIFT_ROOT_KEY",
            "ks_root_not_a_real_one_123".to_string(),
        ),
    ];
    // Unknown root key (401): the service refuses us, not the key.
    let out = keyshift(&["keys", "verify", "sk_live_unknown_key_0001"], "", &bad);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("unauthorized"), "{}", out.stderr);
    let out = keyshift(&["apis", "create", "nope"], "", &bad);
    assert_eq!(out.code, 3, "{}", out.stderr);

    // With a good root key, an unknown key is a negative outcome.
    let out = keyshift(&["keys", "verify", "sk_live_unknown_key_0001"], "", &good);
    assert_eq!(out.code, 1, "{} / {}", out.stdout, out.stderr);
    assert!(out.stdout.contains("NOT_FOUND"), "{}", out.stdout);
    let out = keyshift(
        &["--json", "keys", "verify", "sk_live_unknown_key_0001"],
        "",
        &good,
    );
    assert_eq!(out.code, 1);
    assert_eq!(out.json()["valid"], false);

    // A valid key: 0.
    let api = keyshift(&["apis", "create", "exit-api"], "", &good);
    assert_eq!(api.code, 0, "{}", api.stderr);
    let api_id = api.stdout.trim().to_string();
    let key = create_key(&api_id, &good);
    assert_eq!(keyshift(&["keys", "verify", "-"], &key, &good).code, 0);

    // A lookup of something that does not exist: 1.
    let out = keyshift(&["keys", "get", "key_does_not_exist"], "", &good);
    assert_eq!(out.code, 1, "{}", out.stderr);

    // Usage and input errors: 2 (clap's usage errors, local validation, a 400).
    assert_eq!(keyshift(&["keys"], "", &good).code, 2);
    assert_eq!(keyshift(&["keys", "create"], "", &good).code, 2);
    let out = keyshift(
        &["keys", "create", "--api-id", &api_id, "--bytes", "4"],
        "",
        &good,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = keyshift(
        &["keys", "verify", "x", "--permissions", "a AND"],
        "",
        &good,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    // 409: the input collides with what exists.
    assert_eq!(keyshift(&["roles", "create", "dup"], "", &good).code, 0);
    let out = keyshift(&["roles", "create", "dup"], "", &good);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn migrate_exit_codes_tell_refused_keys_from_a_failing_service() {
    let server = Server::start();
    let env = server.env();
    let api = keyshift(&["apis", "create", "migrate-exit"], "", &env);
    let api_id = api.stdout.trim().to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.jsonl");
    let text: String = (0..20)
        .map(|i| format!("{{\"key\":\"sk_live_exit_{i:020}\"}}\n"))
        .collect();
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    let run = |migration: &str, ckpt: &str| {
        let ckpt = dir.path().join(ckpt);
        keyshift(
            &[
                "migrate",
                file,
                "--api-id",
                &api_id,
                "--migration-id",
                migration,
                "--checkpoint",
                ckpt.to_str().unwrap(),
                "--no-progress",
            ],
            "",
            &env,
        )
    };
    let out = run("m_first", "c1");
    assert_eq!(out.code, 0, "{} / {}", out.stdout, out.stderr);
    // Another migration of the same keys: the service refuses every key (they exist): the
    // run finished and says "not everything was migrated": 1.
    let out = run("m_second", "c2");
    assert_eq!(out.code, 1, "{} / {}", out.stdout, out.stderr);
    assert!(out.stderr.contains("20 keys failed"), "{}", out.stderr);
    // Into an api that does not exist: every batch refused for its input: 2.
    let ckpt = dir.path().join("c3");
    let out = keyshift(
        &[
            "migrate",
            file,
            "--api-id",
            "api_does_not_exist",
            "--migration-id",
            "m_third",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--no-progress",
        ],
        "",
        &env,
    );
    assert_eq!(out.code, 2, "{} / {}", out.stdout, out.stderr);
}

#[test]
fn help_documents_the_exit_codes() {
    let out = keyshift(&["--help"], "", &[]);
    assert_eq!(out.code, 0);
    for needle in ["Exit codes", "0 ", "1 ", "2 ", "3 "] {
        assert!(out.stdout.contains(needle), "{needle:?} in {}", out.stdout);
    }
}
