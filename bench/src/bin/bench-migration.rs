//! Migration throughput and memory (DESIGN.md §9): keyshift's engine (`migrate_keys`: parallel
//! hashing, batches of 100, 4 requests in flight, checkpoint fsync'd per batch, JSONL report)
//! vs the documented approach (a sequential loop: read a line, hash it, collect 100, POST
//! `keys.migrateKeys` with plain reqwest, wait, repeat), on the same export of N sample keys,
//! each against a fresh in-process `keyshift serve` (same config, new SQLite file).
//!
//! Each client runs in its own child process so that its peak RSS (VmHWM) is its own, not the
//! server's. Prints keys/s and peak RSS for both, and the ratios.
//!
//! Usage: bench-migration [--keys N (1000000)] [--concurrency C (4)] [--batch-size B (100)]
//!        [--durable yes|no (checkpoint + report files; default yes)] [--skip-baseline 1]
//!        [--rounds R (1): alternate the two R times, keep each one's best round]

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use base64::Engine as _;
use keyshift_core::migrate::{self, MigrateOptions};
use keyshift_core::Client;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use keyshift_bench::{arg, num, result_line, BenchServer};

/// Peak resident set size of this process in KiB (Linux `VmHWM`).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat`.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

#[derive(Clone, Debug)]
struct Outcome {
    keys: u64,
    secs: f64,
    peak_rss_kib: u64,
    cpu_secs: f64,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.keys as f64 / self.secs
    }
}

fn main() {
    if let Some(mode) = arg("--child") {
        child(&mode);
        return;
    }
    let n = num("--keys", 1_000_000) as u64;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("keys.jsonl");
    let t = Instant::now();
    {
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&file).unwrap());
        migrate::sample::write_sample_jsonl(&mut out, n, false).unwrap();
        out.flush().unwrap();
    }
    let size = std::fs::metadata(&file).unwrap().len();
    println!(
        "export: {n} sample keys, {:.0} MB, written in {:.1}s",
        size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // Alternate the two approaches `--rounds` times (each against a fresh server) and keep each
    // one's best round: the machine may be shared, and the best round is the least disturbed.
    let rounds = num("--rounds", 1).max(1);
    let mut baseline: Option<Outcome> = None;
    let mut engine: Option<Outcome> = None;
    let best = |slot: &mut Option<Outcome>, o: Outcome| {
        println!(
            "  round: {:.0} keys/s, {:.1}s, client CPU {:.1}s, peak RSS {:.1} MiB",
            o.rate(),
            o.secs,
            o.cpu_secs,
            o.peak_rss_kib as f64 / 1024.0
        );
        if slot.as_ref().is_none_or(|b| o.rate() > b.rate()) {
            *slot = Some(o);
        }
    };
    for round in 0..rounds {
        if arg("--skip-baseline").is_none() {
            println!("round {} baseline", round + 1);
            best(
                &mut baseline,
                run_against_fresh_server(dir.path(), &file, "baseline"),
            );
        }
        println!("round {} engine", round + 1);
        best(
            &mut engine,
            run_against_fresh_server(dir.path(), &file, "engine"),
        );
    }
    let engine = engine.unwrap();
    let baseline = baseline.unwrap_or(Outcome {
        keys: 1,
        secs: 1.0,
        peak_rss_kib: 1,
        cpu_secs: 1.0,
    });
    for (name, o) in [
        (
            "documented loop (sequential batches of 100, reqwest)",
            &baseline,
        ),
        ("keyshift migrate_keys", &engine),
    ] {
        println!(
            "{name:<55} {:>9.0} keys/s  {:>7.1}s  client CPU {:>6.1}s  peak RSS {:>7.1} MiB  ({} keys)",
            o.rate(),
            o.secs,
            o.cpu_secs,
            o.peak_rss_kib as f64 / 1024.0,
            o.keys
        );
    }
    println!(
        "ratio: keyshift is {:.2}x the documented loop's keys/s; peak RSS ratio {:.2}; client CPU ratio {:.2}",
        engine.rate() / baseline.rate(),
        engine.peak_rss_kib as f64 / baseline.peak_rss_kib.max(1) as f64,
        engine.cpu_secs / baseline.cpu_secs.max(0.01)
    );
}

/// A distinct number per call (fresh database files across rounds).
fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed) << 16
}

/// Starts a fresh server (new database) in this process, runs one client child against it.
fn run_against_fresh_server(dir: &Path, file: &Path, mode: &str) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = dir.join(format!("{mode}-{}.db", std::process::id() ^ rand_suffix()));
        let server = BenchServer::start_at(&db, |_| {}).await;
        let (base_url, root_key) = (server.base_url.clone(), server.root_key.clone());
        let client = server.client();
        let api_id = client.create_api(mode).await.unwrap().api_id;
        let exe = std::env::current_exe().unwrap();
        let mut cmd = Command::new(exe);
        cmd.args([
            "--child",
            mode,
            "--base-url",
            &base_url,
            "--api-id",
            &api_id,
        ])
        .arg("--file")
        .arg(file)
        .args(["--concurrency", &num("--concurrency", 4).to_string()])
        .args(["--batch-size", &num("--batch-size", 100).to_string()])
        .env("KEYSHIFT_ROOT_KEY", root_key.expose());
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        server.stop().await;
        assert!(
            out.status.success(),
            "{mode} child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = result_line(&out.stdout, "child");
        Outcome {
            keys: v["keys"].as_u64().unwrap(),
            secs: v["secs"].as_f64().unwrap(),
            peak_rss_kib: v["peakRssKib"].as_u64().unwrap(),
            cpu_secs: v["cpuSecs"].as_f64().unwrap(),
        }
    })
}

fn child(mode: &str) {
    let base_url = arg("--base-url").unwrap();
    let api_id = arg("--api-id").unwrap();
    let file = PathBuf::from(arg("--file").unwrap());
    let root_key = std::env::var("KEYSHIFT_ROOT_KEY").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let keys = rt.block_on(async {
        match mode {
            "engine" => {
                let client = Client::builder()
                    .base_url(&base_url)
                    .root_key(root_key)
                    .build()
                    .unwrap();
                let work = file.parent().unwrap();
                let mut options = MigrateOptions::new(&api_id, "bench")
                    .batch_size(num("--batch-size", 100))
                    .concurrency(num("--concurrency", 4));
                // A fresh run each round (a leftover checkpoint would be refused).
                let _ = std::fs::remove_file(work.join("engine.checkpoint"));
                if arg("--durable").as_deref() != Some("no") {
                    options = options
                        .checkpoint(work.join("engine.checkpoint"))
                        .report(work.join("engine.report.jsonl"));
                }
                let report = client
                    .migrate_keys(file.clone(), options, None)
                    .await
                    .unwrap();
                assert_eq!(report.failed + report.invalid, 0, "{report}");
                report.migrated
            }
            _ => baseline(&base_url, &root_key, &api_id, &file).await,
        }
    });
    let secs = started.elapsed().as_secs_f64();
    println!(
        "RESULT {}",
        json!({"keys": keys, "secs": secs, "peakRssKib": peak_rss_kib(), "cpuSecs": cpu_secs()})
    );
}

/// The documented approach: one batch of 100 at a time, each POSTed and awaited in turn.
async fn baseline(base_url: &str, root_key: &str, api_id: &str, file: &Path) -> u64 {
    let http = reqwest::Client::new();
    let url = format!("{base_url}/v2/keys.migrateKeys");
    let auth = format!("Bearer {root_key}");
    let reader = BufReader::new(std::fs::File::open(file).unwrap());
    let mut batch: Vec<Value> = Vec::with_capacity(100);
    let mut migrated = 0u64;
    let batch_size = num("--batch-size", 100);
    let send = |keys: Vec<Value>| {
        let http = http.clone();
        let url = url.clone();
        let auth = auth.clone();
        async move {
            let body = json!({"migrationId": "bench", "apiId": api_id, "keys": keys});
            let resp = http
                .post(&url)
                .header("authorization", auth)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_success(), "{}", resp.status());
            let v: Value = resp.json().await.unwrap();
            v["data"]["migrated"]
                .as_array()
                .map_or(0, |a| a.len() as u64)
        }
    };
    for line in reader.lines() {
        let mut record: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let obj = record.as_object_mut().unwrap();
        let key = obj.remove("key").unwrap();
        let hash = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(key.as_str().unwrap().as_bytes()));
        obj.insert("hash".into(), Value::String(hash));
        batch.push(record);
        if batch.len() == batch_size {
            migrated += send(std::mem::take(&mut batch)).await;
        }
    }
    if !batch.is_empty() {
        migrated += send(batch).await;
    }
    migrated
}
