//! Shared by the benchmarks: a `keyshift serve` in this process on a free loopback port with a
//! fresh database (the e2e harness's), and `--flag value` arguments.

/// The value after `name` on the command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// A whole-number argument, or `default`.
pub fn num(name: &str, default: usize) -> usize {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The JSON object of the `RESULT {...}` line a benchmark child (`what`) printed on `stdout`.
pub fn result_line(stdout: &[u8], what: &str) -> serde_json::Value {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("{what}: no RESULT line on stdout"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{what}: RESULT line: {e}"))
}

/// The e2e harness's in-process server: [`BenchServer::start_at`] on a fresh database, `client()`,
/// `stop()`.
pub use keyshift_e2e::TestServer as BenchServer;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keyshift_core::{CreateKey, VerifyCode, VerifyOptions};

/// A `keyshift serve` child process (the binary `bin`) on a free loopback port with a fresh
/// database in a temp dir under `temp_parent` (the system's temp dir if `None`); killed on drop.
pub struct ServeChild {
    pub child: Child,
    pub base_url: String,
    pub root_key: String,
    dir: tempfile::TempDir,
}

impl ServeChild {
    /// The server's SQLite database file.
    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("bench.db")
    }

    pub fn start(bin: &str, temp_parent: Option<&Path>) -> ServeChild {
        let dir = match temp_parent {
            Some(parent) => tempfile::tempdir_in(parent),
            None => tempfile::tempdir(),
        }
        .expect("temp dir");
        let db = dir.path().join("bench.db");
        let mut child = Command::new(bin)
            .args(["serve", "--db", db.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0", "--json"])
            .env_remove("KEYSHIFT_ROOT_KEY")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin} ({e}); build it: cargo build --release -p keyshift-cli")
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("serve prints its address");
        let v: serde_json::Value = serde_json::from_str(line.trim()).expect("serve --json line");
        ServeChild {
            child,
            base_url: v["baseUrl"].as_str().expect("baseUrl").to_string(),
            root_key: v["rootKey"].as_str().expect("rootKey").to_string(),
            dir,
        }
    }
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `Client::local` verify against its floor on the same database in `dir`: a raw SQLite point
/// read of the key row by its hash through a cached prepared statement. After a warm-up, the
/// two loops alternate in 4 rounds (so drift on a noisy machine hits both alike), `calls / 4`
/// sequential calls per round each. Returns the sorted samples `(raw, client)`.
pub async fn local_verify_samples(dir: &Path, calls: usize) -> (Vec<Duration>, Vec<Duration>) {
    let db = dir.join("bench.db");
    let client = keyshift_engine::local_client(&db.to_string_lossy()).expect("open");
    let api_id = client.create_api("bench-api").await.unwrap().api_id;
    let mut options = CreateKey::new(&api_id);
    options.permissions = vec!["profile.read".into()];
    let key = client.create_api_key(&options).await.unwrap().key;
    let verify = VerifyOptions::permissions("profile.read");

    let raw = rusqlite::Connection::open(&db).expect("open raw");
    let hash: String = raw
        .query_row("SELECT hash FROM keys LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let raw_read = || {
        let mut stmt = raw
            .prepare_cached("SELECT * FROM keys WHERE hash = ?1")
            .unwrap();
        let mut rows = stmt.query([&hash]).unwrap();
        let row = rows.next().unwrap().expect("the key row");
        let id: String = row.get("id").unwrap();
        std::hint::black_box(id);
    };

    // Warm both paths (caches, readers, statements) before timing.
    for _ in 0..500 {
        raw_read();
        client.verify(key.expose(), &verify).await.unwrap();
    }
    let rounds = 4;
    let per_round = calls / rounds;
    let mut raw_samples = Vec::with_capacity(calls);
    let mut client_samples = Vec::with_capacity(calls);
    for _ in 0..rounds {
        for _ in 0..per_round {
            let started = Instant::now();
            raw_read();
            raw_samples.push(started.elapsed());
        }
        for _ in 0..per_round {
            let started = Instant::now();
            let v = client.verify(key.expose(), &verify).await.unwrap();
            client_samples.push(started.elapsed());
            assert_eq!(v.code, VerifyCode::Valid);
        }
    }
    raw_samples.sort();
    client_samples.sort();
    (raw_samples, client_samples)
}
