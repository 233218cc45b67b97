//! Load: a mixed verify / create / update workload at fixed concurrency against a real
//! `keyshift serve` child process (its own temp database, loopback only), for a bounded time.
//! Prints per-operation counts and p50/p99 latency, every non-2xx answer and transport error,
//! and the server's RSS at start and end. Exits 1 when any request failed (5xx, error, or an
//! unexpected status) or the RSS grew by more than `--max-rss-growth-mib`.
//!
//! Usage (build the server first; see README "Load"):
//!   cargo build --release -p keyshift-cli
//!   cargo run --release -p keyshift-bench --bin bench-load -- \
//!     [--seconds 30] [--concurrency 32] [--keys 1000] [--bin target/release/keyshift]
//!
//! The mix per worker iteration: 8 verifies (a random key of the pool, with a permission
//! query), 1 create, 1 update (name and meta of a random key). `--seconds` is capped at 60.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyshift_bench::{arg, num, ServeChild};
use serde_json::{json, Value};

const OPS: [&str; 3] = ["keys.verifyKey", "keys.createKey", "keys.updateKey"];

/// What one operation saw: latencies of its 2xx answers, and every failure by kind.
#[derive(Default)]
struct Tally {
    micros: Vec<u32>,
    failures: std::collections::BTreeMap<String, u64>,
}

/// Resident set size of `pid` in KiB (`VmRSS` of /proc).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Target {
    http: reqwest::Client,
    base_url: String,
    auth: String,
}

impl Target {
    /// One call: `Ok((status, body))` or a transport error's text.
    async fn call(&self, op: &str, body: &Value) -> Result<(u16, Value), String> {
        let resp = self
            .http
            .post(format!("{}/v2/{op}", self.base_url))
            .header("Authorization", &self.auth)
            .json(body)
            .send()
            .await
            .map_err(|e| format!("transport: {e}"))?;
        let status = resp.status().as_u16();
        let v = resp.json().await.unwrap_or(Value::Null);
        Ok((status, v))
    }
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let seconds = num("--seconds", 30).clamp(1, 60) as u64;
    let concurrency = num("--concurrency", 32).max(1);
    let pool_size = num("--keys", 1000).max(1);
    let max_growth_mib = num("--max-rss-growth-mib", 64) as u64;
    let bin = arg("--bin")
        .or_else(|| std::env::var("KEYSHIFT_BIN").ok())
        .unwrap_or_else(|| "target/release/keyshift".to_string());

    let server = ServeChild::start(&bin, None);
    let target = Arc::new(Target {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        base_url: server.base_url.clone(),
        auth: format!("Bearer {}", server.root_key),
    });

    // Setup (not timed): an api and a pool of keys holding `orders.read`.
    let (_, api) = target
        .call("apis.createApi", &json!({"name": "load"}))
        .await
        .expect("createApi");
    let api_id = api["data"]["apiId"].as_str().expect("apiId").to_string();
    let mut pool = Vec::with_capacity(pool_size);
    for i in 0..pool_size {
        let body =
            json!({"apiId": api_id, "name": format!("load-{i}"), "permissions": ["orders.read"]});
        let (status, v) = target
            .call("keys.createKey", &body)
            .await
            .expect("createKey");
        assert_eq!(status, 200, "setup createKey: {v}");
        let data = &v["data"];
        pool.push((
            data["keyId"].as_str().unwrap().to_string(),
            data["key"].as_str().unwrap().to_string(),
        ));
    }
    let pool = Arc::new(pool);
    // Let the server settle, then take the baseline RSS with the key pool loaded.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_start = rss_kib(server.child.id());

    let stop = Arc::new(AtomicBool::new(false));
    let tallies: Arc<Vec<Mutex<Tally>>> = Arc::new(OPS.iter().map(|_| Mutex::default()).collect());
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let (target, pool, stop, tallies) =
            (target.clone(), pool.clone(), stop.clone(), tallies.clone());
        let api_id = api_id.clone();
        workers.push(tokio::spawn(async move {
            let mut n: u64 = worker as u64;
            let mut local: Vec<Tally> = OPS.iter().map(|_| Tally::default()).collect();
            while !stop.load(Ordering::Relaxed) {
                n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let slot = (n >> 33) as usize % 10;
                let (key_id, key) = &pool[(n >> 13) as usize % pool.len()];
                let (op, body, expect) = match slot {
                    0..=7 => (0, json!({"key": key, "permissions": "orders.read"}), 200),
                    8 => (1, json!({"apiId": api_id, "name": format!("w{worker}-{n}"), "meta": {"n": n}}), 200),
                    _ => (2, json!({"keyId": key_id, "name": format!("renamed-{n}"), "meta": {"worker": worker}}), 200),
                };
                let t = Instant::now();
                let outcome = target.call(OPS[op], &body).await;
                let micros = t.elapsed().as_micros().min(u32::MAX as u128) as u32;
                let tally = &mut local[op];
                match outcome {
                    Ok((status, v)) if status == expect => {
                        if op == 0 && v["data"]["valid"] != true {
                            *tally.failures.entry(format!("verify {}", v["data"]["code"])).or_default() += 1;
                        } else {
                            tally.micros.push(micros);
                        }
                    }
                    Ok((status, _)) => *tally.failures.entry(format!("HTTP {status}")).or_default() += 1,
                    Err(e) => *tally.failures.entry(e).or_default() += 1,
                }
            }
            for (i, t) in local.into_iter().enumerate() {
                let mut all = tallies[i].lock().unwrap();
                all.micros.extend(t.micros);
                for (k, v) in t.failures {
                    *all.failures.entry(k).or_default() += v;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rss_end = rss_kib(server.child.id());

    println!(
        "bench-load: {seconds} s, {concurrency} concurrent workers, {pool_size} keys, server {bin}"
    );
    println!(
        "{:<16} {:>9} {:>10} {:>9} {:>9} {:>9}",
        "operation", "ok", "calls/s", "p50 µs", "p99 µs", "failed"
    );
    let mut failed_total = 0u64;
    let mut ok_total = 0usize;
    for (i, op) in OPS.iter().enumerate() {
        let mut t = tallies[i].lock().unwrap();
        t.micros.sort_unstable();
        let failed: u64 = t.failures.values().sum();
        failed_total += failed;
        ok_total += t.micros.len();
        println!(
            "{op:<16} {:>9} {:>10.0} {:>9} {:>9} {:>9}",
            t.micros.len(),
            t.micros.len() as f64 / elapsed,
            percentile(&t.micros, 0.50),
            percentile(&t.micros, 0.99),
            failed
        );
        for (kind, count) in &t.failures {
            println!("    {count} × {kind}");
        }
    }
    let growth_kib = rss_end.saturating_sub(rss_start);
    println!(
        "total {ok_total} ok ({:.0}/s), {failed_total} failed; server RSS {:.1} MiB at start, {:.1} MiB at end (growth {:.1} MiB, bound {max_growth_mib} MiB)",
        ok_total as f64 / elapsed,
        rss_start as f64 / 1024.0,
        rss_end as f64 / 1024.0,
        growth_kib as f64 / 1024.0
    );
    drop(server);
    if failed_total > 0 || growth_kib > max_growth_mib * 1024 {
        println!("FAIL: failures or RSS growth beyond the bound");
        std::process::exit(1);
    }
}
