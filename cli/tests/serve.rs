//! `keyshift serve` and `keyshift admin` as a user runs them: the built binary, a temp database,
//! real HTTP on loopback, SIGTERM for a clean stop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;

use common::{spawn_serve, spawn_serve_logging_to, temp_db, Served, BIN};

/// Minimal HTTP/1.1 client (Connection: close) so the test needs no async runtime.
fn http(
    base_url: &str,
    method: &str,
    path: &str,
    root_key: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let addr = base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(k) = root_key {
        req.push_str(&format!("Authorization: Bearer {k}\r\n"));
    }
    let body = body.unwrap_or("");
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// A POST of operation `op` (`/v2/{op}`) with a root key and a JSON body.
/// `apis.getApi` of `api_id`.
fn get_api(served: &Served, root_key: &str, api_id: &str) -> (u16, Value) {
    post(
        served,
        "apis.getApi",
        root_key,
        &json!({ "apiId": api_id }).to_string(),
    )
}

fn post(served: &Served, op: &str, root_key: &str, body: &str) -> (u16, Value) {
    let path = format!("/v2/{op}");
    http(&served.base_url, "POST", &path, Some(root_key), Some(body))
}

/// Runs the binary with `args` and returns its output, asserting a zero exit.
fn run_ok(args: &[&str]) -> std::process::Output {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn sigterm_and_wait(mut served: Served) -> std::process::ExitStatus {
    let pid = served.child.id() as libc::pid_t;
    // SAFETY: plain kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serve_json_liveness_and_clean_sigterm() {
    let (_dir, db) = temp_db("cli.db");
    let db = db.as_str();
    let served = spawn_serve(db, &[], &[]);
    assert!(
        served.base_url.starts_with("http://127.0.0.1:"),
        "{}",
        served.base_url
    );
    assert!(!served.base_url.ends_with(":0"));
    let root = served
        .root_key
        .clone()
        .expect("first start prints a root key");

    let (status, v) = http(&served.base_url, "GET", "/v2/liveness", None, None);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["message"], "OK");
    let (status, v) = post(&served, "apis.createApi", &root, r#"{"name":"from-cli"}"#);
    assert_eq!(status, 200, "{v}");
    let api_id = v["data"]["apiId"].as_str().unwrap().to_string();

    let status = sigterm_and_wait(served);
    assert!(status.success(), "exit status {status:?}");

    // Second start on the same file: no new root key, the data is there.
    let served = spawn_serve(db, &[], &[]);
    assert_eq!(served.root_key, None);
    let (status, v) = get_api(&served, &root, &api_id);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["name"], "from-cli");
    assert!(sigterm_and_wait(served).success());
}

#[test]
fn serve_seeds_root_key_from_env_and_memory_db() {
    let seed = "ks_root_seed_from_env_0123456789abcdef";
    let served = spawn_serve(":memory:", &[("KEYSHIFT_ROOT_KEY", seed)], &[]);
    assert_eq!(served.root_key, None, "a seeded key is not printed");
    let (status, v) = post(&served, "apis.createApi", seed, r#"{"name":"seeded"}"#);
    assert_eq!(status, 200, "{v}");
    assert!(sigterm_and_wait(served).success());
}

#[test]
fn faults_are_off_unless_enabled() {
    for (args, expected) in [
        (&[][..], "HTTP/1.1 200"),
        (&["--enable-faults"][..], "HTTP/1.1 503"),
    ] {
        let served = spawn_serve(":memory:", &[], args);
        let addr = served.base_url.trim_start_matches("http://").to_string();
        let mut stream = TcpStream::connect(&addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(stream, "GET /v2/liveness HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Keyshift-Fault: status=503\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        assert!(text.starts_with(expected), "{args:?}: {text}");
        assert!(sigterm_and_wait(served).success());
    }
}

#[test]
fn admin_creates_workspaces_and_root_keys() {
    let (_dir, db) = temp_db("admin.db");
    let db = db.as_str();
    // First start creates the default workspace.
    let served = spawn_serve(db, &[], &[]);
    let root_a = served.root_key.clone().unwrap();
    let (_, v) = post(&served, "apis.createApi", &root_a, r#"{"name":"in-a"}"#);
    let api_a = v["data"]["apiId"].as_str().unwrap().to_string();

    // While it runs, add workspace B and a root key for it.
    let out = run_ok(&["admin", "create-workspace", "team-b", "--db", db, "--json"]);
    let ws: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ws_id = ws["workspaceId"].as_str().unwrap().to_string();
    let out = run_ok(&[
        "admin",
        "create-root-key",
        "--workspace",
        &ws_id,
        "--db",
        db,
        "--permission",
        "*",
    ]);
    let root_b = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(!root_b.is_empty() && !root_b.contains(' '));

    // B works against the running server and cannot see A's api.
    let (status, v) = post(&served, "apis.createApi", &root_b, r#"{"name":"in-b"}"#);
    assert_eq!(status, 200, "{v}");
    let (status, v) = get_api(&served, &root_b, &api_a);
    assert_eq!(status, 404, "{v}");

    // An unknown workspace is an error with a non-zero exit.
    let out = Command::new(BIN)
        .args([
            "admin",
            "create-root-key",
            "--workspace",
            "ws_nope",
            "--db",
            db,
            "--permission",
            "*",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(sigterm_and_wait(served).success());
}

#[test]
fn sigterm_right_after_the_json_line_is_a_clean_exit() {
    // Harnesses kill the server as soon as they are done; the handler must already be there.
    for _ in 0..5 {
        let served = spawn_serve(":memory:", &[], &[]);
        let status = sigterm_and_wait(served);
        assert!(status.success(), "exit status {status:?}");
    }
}

#[test]
fn serve_portal_flags_set_the_session_url_base_and_cors_origins() {
    let served = spawn_serve(
        ":memory:",
        &[],
        &[
            "--public-url",
            "https://keys.example.com/",
            "--portal-origin",
            "http://127.0.0.1:9",
        ],
    );
    let root = served.root_key.clone().expect("a root key");
    let (status, v) = post(&served, "apis.createApi", &root, r#"{"name":"portal"}"#);
    assert_eq!(status, 200, "{v}");
    let body = json!({"portal": v["data"]["apiId"], "externalId": "u", "scopes": ["keys:read"]});
    let (status, v) = post(&served, "portal.createSession", &root, &body.to_string());
    assert_eq!(status, 200, "{v}");
    let url = v["data"]["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://keys.example.com/portal?code=pst_"),
        "{url}"
    );
    // The configured origin is allowed to frame the page.
    let addr = served.base_url.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /portal HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("frame-ancestors 'self' http://127.0.0.1:9;"),
        "{text}"
    );
    assert!(sigterm_and_wait(served).success());

    // A value that is no origin is refused at start.
    let out = Command::new(BIN)
        .args([
            "serve",
            "--db",
            ":memory:",
            "--listen",
            "127.0.0.1:0",
            "--portal-origin",
            "app.example.com",
        ])
        .env_remove("KEYSHIFT_ROOT_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--portal-origin"), "{stderr}");
}

/// What `keyshift serve --json` logs to stderr for one request, with `env` set.
fn access_log_with(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let file = std::fs::File::create(&log).unwrap();
    let served = spawn_serve_logging_to(":memory:", env, &[], file.into());
    let (status, _) = http(&served.base_url, "GET", "/v2/liveness", None, None);
    assert_eq!(status, 200);
    assert!(sigterm_and_wait(served).success());
    std::fs::read_to_string(&log).unwrap()
}

#[test]
fn log_filter_from_keyshift_log_or_rust_log() {
    let access = |text: &str| {
        text.lines()
            .filter(|l| l.contains("keyshift_server::access") && l.contains("/v2/liveness"))
            .count()
    };
    // Default `info`, and an unreadable filter falls back to it.
    assert_eq!(access(&access_log_with(&[])), 1);
    assert_eq!(access(&access_log_with(&[("KEYSHIFT_LOG", "=?")])), 1);
    // A level hides the access events; a target directive brings them back.
    assert_eq!(access(&access_log_with(&[("KEYSHIFT_LOG", "warn")])), 0);
    assert_eq!(access(&access_log_with(&[("RUST_LOG", "warn")])), 0);
    let directive = "warn,keyshift_server::access=info";
    assert_eq!(access(&access_log_with(&[("KEYSHIFT_LOG", directive)])), 1);
    // KEYSHIFT_LOG wins over RUST_LOG.
    let both = [("KEYSHIFT_LOG", "info"), ("RUST_LOG", "off")];
    assert_eq!(access(&access_log_with(&both)), 1);
}
