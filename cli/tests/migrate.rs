//! `keyshift sample-keys` and `keyshift migrate` as a user runs them: the built binary against a
//! real `keyshift serve` child (or `--local DB`), dry runs with exit code 2, kill -9 + --resume.

mod common;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{dry_run, keyshift, local_api, migrate_local, temp_db, verify_local, Server, BIN};
use serde_json::Value;

fn read_keys(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn new_api(server: &Server) -> String {
    let out = keyshift(&["apis", "create", "migrated", "--json"], "", &server.env());
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.json()["apiId"].as_str().unwrap().to_string()
}

fn key_count(server: &Server, api_id: &str) -> (usize, usize) {
    let out = keyshift(&["apis", "list-keys", api_id, "--json"], "", &server.env());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let ids: Vec<String> = out
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["keyId"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let unique: HashSet<&String> = ids.iter().collect();
    (ids.len(), unique.len())
}

#[test]
fn dry_run_lists_every_bad_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    let secret = "sk_live_QpX4m2TtV9sLdfgh3KcN";
    std::fs::write(
        &file,
        format!(
            "{{\"key\":\"{secret}\",\"permissions\":[\"a.read\"]}}\n\
             {{\"key\":\"{secret}\"}}\n\
             not json\n\
             {{\"hash\":\"abc\",\"variant\":\"sha256_hex\"}}\n\
             {{\"key\":\"sk_live_ok_0000000000002\",\"expires\":-5}}\n"
        ),
    )
    .unwrap();
    let out = dry_run(
        &file,
        &[
            "line 2: duplicate key sk_live_…",
            "line 3: invalid JSON",
            "line 4: `hash` is not a sha256_hex hash",
            "line 5: `expires`",
            "dry run: 5 records, 1 valid, 4 invalid",
        ],
    );
    assert_eq!(out.code, 2, "{} / {}", out.stdout, out.stderr);
    assert!(out.stderr.contains("4 invalid records"));
    assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));

    let out = keyshift(
        &["migrate", file.to_str().unwrap(), "--dry-run", "--json"],
        "",
        &[],
    );
    assert_eq!(out.code, 2);
    let v = out.json();
    assert_eq!(v["invalid"], 4);
    assert_eq!(v["errors"][0]["line"], 2);
    assert_eq!(v["errors"][0]["code"], "invalid_input");

    // A real migration needs --api-id and --migration-id.
    let out = keyshift(&["migrate", file.to_str().unwrap()], "", &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--api-id"), "{}", out.stderr);
}

/// A running server, a new api on it, and `keys.jsonl` in a new temporary directory.
fn server_api_and_file() -> (Server, String, tempfile::TempDir, std::path::PathBuf) {
    let server = Server::start();
    let api_id = new_api(&server);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.jsonl");
    (server, api_id, dir, file)
}

#[test]
fn sample_keys_migrate_and_verify_over_http() {
    let (server, api_id, dir, file) = server_api_and_file();
    let out = keyshift(
        &[
            "sample-keys",
            "1500",
            "--out",
            file.to_str().unwrap(),
            "--with-scopes",
        ],
        "",
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let records = read_keys(&file);
    assert_eq!(records.len(), 1500);
    assert!(records[0]["scopes"].is_array() && records[0]["customerId"].is_string());

    let report = dir.path().join("report.jsonl");
    let out = keyshift(
        &[
            "migrate",
            file.to_str().unwrap(),
            "--api-id",
            &api_id,
            "--migration-id",
            "cli-1",
            "--batch-size",
            "200",
            "--concurrency",
            "3",
            "--report",
            report.to_str().unwrap(),
            "--json",
        ],
        "",
        &server.env(),
    );
    assert_eq!(out.code, 0, "{} / {}", out.stdout, out.stderr);
    let summary = out.json();
    assert_eq!(summary["migrated"], 1500);
    assert_eq!(summary["batches"], 8);
    assert!(
        dir.path().join("keys.jsonl.checkpoint").exists(),
        "default checkpoint next to the file"
    );
    assert_eq!(read_keys(&report).len(), 1501);

    // A migrated key verifies with the permissions its scopes expand to.
    let key = records[0]["key"].as_str().unwrap();
    let out = keyshift(
        &[
            "keys",
            "verify",
            "-",
            "--permissions",
            "profile.read AND profile.update",
            "--json",
        ],
        key,
        &server.env(),
    );
    assert_eq!(out.code, 0, "{} / {}", out.stdout, out.stderr);
    assert_eq!(out.json()["code"], "VALID");
    assert_eq!(key_count(&server, &api_id), (1500, 1500));
}

#[test]
fn killed_with_sigkill_then_resume_migrates_every_key_once() {
    let (server, api_id, _dir, file) = server_api_and_file();
    let n = 12_000;
    let out = keyshift(
        &[
            "sample-keys",
            &n.to_string(),
            "--out",
            file.to_str().unwrap(),
        ],
        "",
        &[],
    );
    assert_eq!(out.code, 0);
    let args = [
        "migrate",
        file.to_str().unwrap(),
        "--api-id",
        &api_id,
        "--migration-id",
        "killed",
        "--batch-size",
        "40",
        "--concurrency",
        "2",
        "--resume",
        "--json",
    ];
    let mut kills = 0;
    for round in 0..4u64 {
        let mut child = Command::new(BIN)
            .args(args)
            .envs(server.env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let until = Instant::now() + Duration::from_millis(250 + 170 * round);
        let mut exited = false;
        while Instant::now() < until {
            if child.try_wait().unwrap().is_some() {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if exited {
            break;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
    }
    assert!(kills >= 1, "killed mid-run");
    let out = keyshift(&args, "", &server.env());
    assert_eq!(out.code, 0, "{} / {}", out.stdout, out.stderr);
    let v = out.json();
    assert_eq!(v["failed"], 0);
    let settled = v["migrated"].as_u64().unwrap()
        + v["alreadyPresent"].as_u64().unwrap()
        + v["skippedResumed"].as_u64().unwrap();
    assert_eq!(settled, n);
    assert_eq!(key_count(&server, &api_id), (n as usize, n as usize));
}

#[test]
fn migrate_into_a_local_database() {
    let (dir, db) = temp_db("local.db");
    let db = db.as_str();
    let api_id = local_api(db, "local");
    let file = dir.path().join("legacy.csv");
    std::fs::write(
        &file,
        "key,externalId,permissions\nlegacy_key_000000000001,u1,docs.read;docs.write\nlegacy_key_000000000002,u2,docs.read\n",
    )
    .unwrap();
    let out = migrate_local(&file, &api_id, "local-1", db);
    assert_eq!(out.code, 0, "{} / {}", out.stdout, out.stderr);
    assert!(out.stdout.contains("2 migrated"), "{}", out.stdout);
    let out = verify_local("legacy_key_000000000001", "docs.write", db);
    assert_eq!(out.code, 0, "{} / {}", out.stdout, out.stderr);
    assert_eq!(out.json()["valid"], true);
}
