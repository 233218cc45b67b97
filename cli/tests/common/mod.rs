//! Shared by the CLI tests: a real `keyshift serve` child process on a free loopback port, and
//! running the built binary with arguments, stdin and environment.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_keyshift");

/// A `keyshift serve --json` child as it announced itself.
pub struct Served {
    pub child: Child,
    pub base_url: String,
    /// Printed only on the first start of a database, and never for a seeded key.
    pub root_key: Option<String>,
}

/// The built binary with the caller's KEYSHIFT_*/UNKEY_* settings removed, then `env` set; stdout
/// piped.
fn command<'a>(
    env: impl Iterator<Item = (&'a str, &'a str)>,
    stdin: Stdio,
    stderr: Stdio,
) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("KEYSHIFT_BASE_URL")
        .env_remove("KEYSHIFT_ROOT_KEY")
        .env_remove("UNKEY_ROOT_KEY")
        .env_remove("KEYSHIFT_LOG")
        .env_remove("RUST_LOG")
        .envs(env)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(stderr);
    cmd
}

/// Starts `keyshift serve --db DB --listen 127.0.0.1:0 --json` (with `KEYSHIFT_ROOT_KEY`
/// removed unless `extra_env` sets it) and reads its JSON line; it must come up within 3 s.
pub fn spawn_serve(db: &str, extra_env: &[(&str, &str)], extra_args: &[&str]) -> Served {
    spawn_serve_logging_to(db, extra_env, extra_args, Stdio::null())
}

/// [`spawn_serve`] with its stderr (the logs) going to `stderr`.
pub fn spawn_serve_logging_to(
    db: &str,
    extra_env: &[(&str, &str)],
    extra_args: &[&str],
    stderr: Stdio,
) -> Served {
    let started = Instant::now();
    let mut cmd = command(extra_env.iter().copied(), Stdio::null(), stderr);
    cmd.args(["serve", "--db", db, "--listen", "127.0.0.1:0", "--json"])
        .args(extra_args);
    let mut child = cmd.spawn().expect("keyshift binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("reads the JSON line");
    let v: serde_json::Value =
        serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(3),
        "serve took {elapsed:?} to come up"
    );
    Served {
        child,
        base_url: v["baseUrl"].as_str().expect("baseUrl").to_string(),
        root_key: v["rootKey"].as_str().map(str::to_string),
    }
}

/// A `keyshift serve --json` child on its own temp database; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base_url: String,
    pub root_key: String,
    pub dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    pub fn start_with(extra_args: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("server.db");
        let served = spawn_serve(db.to_str().unwrap(), &[], extra_args);
        Server {
            child: served.child,
            base_url: served.base_url,
            root_key: served.root_key.expect("a new database prints its root key"),
            dir,
        }
    }

    /// Environment that points the CLI at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("KEYSHIFT_BASE_URL", self.base_url.clone()),
            ("KEYSHIFT_ROOT_KEY", self.root_key.clone()),
        ]
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a finished command left behind.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The stdout as one JSON value (for `--json` commands printing one line).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {:?} / {:?}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `keyshift ARGS` with `stdin` and `env` (KEYSHIFT_* from the caller's environment removed).
pub fn keyshift(args: &[&str], stdin: &str, env: &[(&'static str, String)]) -> Output {
    let env = env.iter().map(|(k, v)| (*k, v.as_str()));
    let mut child = command(env, Stdio::piped(), Stdio::piped())
        .args(args)
        .spawn()
        .expect("keyshift runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

/// `keyshift apis create NAME --local DB --json`: the new api's id.
pub fn local_api(db: &str, name: &str) -> String {
    let out = keyshift(&["apis", "create", name, "--local", db, "--json"], "", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.json()["apiId"].as_str().unwrap().to_string()
}

/// `keyshift migrate FILE --api-id API --migration-id ID --local DB`.
pub fn migrate_local(file: &std::path::Path, api_id: &str, migration_id: &str, db: &str) -> Output {
    keyshift(
        &[
            "migrate",
            file.to_str().unwrap(),
            "--api-id",
            api_id,
            "--migration-id",
            migration_id,
            "--local",
            db,
        ],
        "",
        &[],
    )
}

/// `keyshift keys verify - --permissions QUERY --local DB --json` with `key` on stdin.
pub fn verify_local(key: &str, permissions: &str, db: &str) -> Output {
    keyshift(
        &[
            "keys",
            "verify",
            "-",
            "--permissions",
            permissions,
            "--local",
            db,
            "--json",
        ],
        key,
        &[],
    )
}

/// `keyshift --json keys create --api-id API` with `env`: the new key's plaintext.
pub fn create_key(api_id: &str, env: &[(&'static str, String)]) -> String {
    let created = keyshift(&["--json", "keys", "create", "--api-id", api_id], "", env);
    assert_eq!(created.code, 0, "{}", created.stderr);
    created.json()["key"].as_str().unwrap().to_string()
}

/// `keyshift migrate FILE --dry-run`: fails, and its report names every one of `needles`.
pub fn dry_run(file: &std::path::Path, needles: &[&str]) -> Output {
    let out = keyshift(&["migrate", file.to_str().unwrap(), "--dry-run"], "", &[]);
    assert_ne!(out.code, 0, "{} / {}", out.stdout, out.stderr);
    for needle in needles {
        assert!(out.stdout.contains(needle), "{needle:?} in {}", out.stdout);
    }
    out
}

/// A new temp directory and the path (as a string) of a database file named `name` in it.
pub fn temp_db(name: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(name).to_str().unwrap().to_string();
    (dir, db)
}
