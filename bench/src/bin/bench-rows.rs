//! The Rust rows of `bench/run.sh` (issue 15; the row contract is in bench/README.md): prints
//! one `ROW {json}` line per row on stdout, progress on stderr. Each row's baseline is measured
//! in this run, on this machine; every server is a fresh `keyshift serve` child
//! (`KEYSHIFT_BIN`) with its own temporary database.
//!
//! Rows: verify calls/s with 1 and 16 in flight (Rust client vs a raw reqwest loop, same
//! server); server verify req/s (keyshift serve vs an axum route answering a fixed body, same
//! in-Rust load generator); `Client::local` verify p50/p99 (vs a SQLite point read); migration
//! keys/s on loopback and with 20 ms added to each request (`keyshift migrate` with its
//! defaults vs bench/rows/migrate_loop.py, the naive Python loop: hashlib, sequential batches
//! of 100, each against its own fresh server); peak RSS of `keyshift migrate` at two sizes.
//!
//! `KEYSHIFT_BENCH_QUICK=1` shrinks every count. `--only NAME[,NAME]` runs some rows
//! (verify, server, local, migrate, delay, rss). Internal modes: `fixed-body` (the floor
//! server, a child process), `proxy`.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyshift_core::{Client, CreateKey, VerifyCode, VerifyOptions};
use serde_json::{json, Value};

use keyshift_bench::{arg, local_verify_samples, result_line, ServeChild as Serve};

fn quick() -> bool {
    std::env::var_os("KEYSHIFT_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Full-run count, or the quick one.
fn count(full: usize, quick_n: usize) -> usize {
    if quick() {
        quick_n
    } else {
        full
    }
}

fn bin() -> String {
    std::env::var("KEYSHIFT_BIN").unwrap_or_else(|_| "target/release/keyshift".into())
}

fn root() -> PathBuf {
    std::env::var_os("KEYSHIFT_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::current_dir().unwrap())
}

/// Prints one row of the contract.
#[allow(clippy::too_many_arguments)]
fn row(
    name: &str,
    variant: &str,
    ours: f64,
    baseline: Option<f64>,
    baseline_label: &str,
    unit: &str,
    better: &str,
    target: Option<&str>,
    met: Option<bool>,
    note: Option<&str>,
) {
    let ratio = baseline.map(|b| match better {
        "lower" => b / ours,
        _ => ours / b,
    });
    let mut v = json!({
        "row": name, "variant": variant, "ours": round(ours), "baseline": baseline.map(round),
        "baseline_label": baseline_label, "unit": unit, "better": better,
        "ratio": ratio.map(round), "target": target, "met": met,
    });
    if let Some(note) = note {
        v["ratio_note"] = json!(note);
    }
    println!("ROW {v}");
    std::io::stdout().flush().ok();
}

fn round(x: f64) -> f64 {
    if x.abs() >= 100.0 {
        x.round()
    } else {
        (x * 100.0).round() / 100.0
    }
}

/// A `keyshift serve` child on a free loopback port with a fresh database.
fn serve() -> Serve {
    Serve::start(&bin(), Some(&root().join("target")))
}

trait ServeClient {
    fn client(&self) -> Client;
}

impl ServeClient for Serve {
    fn client(&self) -> Client {
        Client::builder()
            .base_url(&self.base_url)
            .root_key(self.root_key.clone())
            .build()
            .unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// Verify: client vs raw reqwest, and server vs fixed-body floor.

struct VerifyTarget {
    server: Serve,
    client: Client,
    key: String,
}

async fn verify_target() -> VerifyTarget {
    let server = serve();
    let client = server.client();
    let api_id = client.create_api("bench-api").await.unwrap().api_id;
    let mut options = CreateKey::new(&api_id);
    options.permissions = vec!["profile.read".into()];
    let key = client.create_api_key(&options).await.unwrap().key;
    VerifyTarget {
        server,
        client,
        key: key.expose().to_string(),
    }
}

/// CPU time this process has used (all threads). The servers are child processes, so during a
/// verify loop this is the client's own CPU.
fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `calls` calls of `one` with `in_flight` tasks; the elapsed time and the CPU time the
/// client used.
async fn run_calls<F, Fut>(calls: usize, in_flight: usize, one: F) -> (Duration, Duration)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let one = Arc::new(one);
    let (started, cpu) = (Instant::now(), process_cpu());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..in_flight {
        let one = one.clone();
        let n = calls / in_flight;
        tasks.spawn(async move {
            for _ in 0..n {
                one().await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    (started.elapsed(), process_cpu() - cpu)
}

async fn verify_rows() {
    let t = verify_target().await;
    let verify = VerifyOptions::permissions("profile.read");
    let raw = reqwest::Client::new();
    let url = format!("{}/v2/keys.verifyKey", t.server.base_url);
    let body = bytes_of(&json!({"key": t.key, "permissions": "profile.read"}));
    let auth = format!("Bearer {}", t.server.root_key);
    let raw_call = {
        let (raw, url, body, auth) = (raw.clone(), url.clone(), body.clone(), auth.clone());
        move || {
            let request = raw
                .post(&url)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(body.clone());
            async move {
                let response = request.send().await.unwrap();
                assert!(response.status().is_success());
                let v: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
                assert_eq!(v["data"]["valid"], true);
            }
        }
    };
    let client_call = {
        let (client, key, verify) = (t.client.clone(), t.key.clone(), verify.clone());
        move || {
            let (client, key, verify) = (client.clone(), key.clone(), verify.clone());
            async move {
                let v = client.verify(&key, &verify).await.unwrap();
                assert_eq!(v.code, VerifyCode::Valid);
            }
        }
    };
    for in_flight in [1usize, 16] {
        let calls = count(20_000, 4_000).div_ceil(in_flight) * in_flight;
        run_calls(400, in_flight.min(4), raw_call.clone()).await;
        run_calls(400, in_flight.min(4), client_call.clone()).await;
        // Alternate in rounds so drift on a shared machine hits both alike; keep each one's
        // best round (the least disturbed).
        // The client's CPU per call, over all rounds: at 16 in flight the client and the
        // server share the cores, so what the client costs shows as the server's lost time.
        let (mut raw_best, mut ours_best) = (Duration::MAX, Duration::MAX);
        let (mut raw_cpu, mut ours_cpu) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..4 {
            let (r, r_cpu) = run_calls(calls / 4, in_flight, raw_call.clone()).await;
            let (o, o_cpu) = run_calls(calls / 4, in_flight, client_call.clone()).await;
            raw_best = raw_best.min(r);
            ours_best = ours_best.min(o);
            (raw_cpu, ours_cpu) = (raw_cpu + r_cpu, ours_cpu + o_cpu);
        }
        let per = |d: Duration| d.as_secs_f64() * 1e6 / (calls / 4) as f64;
        let (ours, base) = (per(ours_best), per(raw_best));
        let cpu_per = |d: Duration| d.as_secs_f64() * 1e6 / calls as f64;
        let (ours_cpu, raw_cpu) = (cpu_per(ours_cpu), cpu_per(raw_cpu));
        eprintln!(
            "verify {in_flight} in flight: client {:.0} calls/s, raw {:.0} calls/s; \
             client CPU {ours_cpu:.1} µs/call, raw {raw_cpu:.1}",
            1e6 / ours,
            1e6 / base
        );
        let ratio = ours / base;
        println!(
            "ROW {}",
            json!({
                "row": format!("verify calls/s, {in_flight} in flight"),
                "variant": format!("keyshift Rust client ({:.0} calls/s)", 1e6 / ours),
                "ours": round(ours), "baseline": round(base),
                "baseline_label": format!("raw reqwest loop, same server ({:.0} calls/s)", 1e6 / base),
                "unit": "µs/call", "better": "lower", "ratio": round(ratio),
                "ratio_note": format!(
                    "time per call, ours / raw (1.00 = no overhead); client CPU per call: \
                     ours {ours_cpu:.1} µs, raw {raw_cpu:.1} µs"
                ),
                "target": "<= 1.10x", "met": ratio <= 1.10,
            })
        );
    }
}

fn bytes_of(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// Requests/s a closed-loop load generator (`conns` keep-alive connections, each posting
/// `body` and reading the answer in turn) reaches against `url` in `secs`.
async fn load(url: &str, auth: &str, body: Vec<u8>, conns: usize, secs: f64) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..conns {
        // One client per task: its own connection, like wrk's.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        let (url, auth, body, stop, done) = (
            url.to_string(),
            auth.to_string(),
            body.clone(),
            stop.clone(),
            done.clone(),
        );
        tasks.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = http
                    .post(&url)
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                let _ = r.bytes().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (n0, t0) = (done.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let n = done.load(Ordering::Relaxed) - n0;
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}
    rate
}

async fn server_rows() {
    let t = verify_target().await;
    let url = format!("{}/v2/keys.verifyKey", t.server.base_url);
    let body = bytes_of(&json!({"key": t.key, "permissions": "profile.read"}));
    let auth = format!("Bearer {}", t.server.root_key);
    let mut floor = Command::new(std::env::current_exe().unwrap())
        .arg("fixed-body")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(floor.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let floor_url = format!("http://{}/v2/keys.verifyKey", line.trim());
    let secs = count(10, 3) as f64;
    let conns = 32;
    let (mut ours, mut base) = (0f64, 0f64);
    for _ in 0..2 {
        base = base.max(load(&floor_url, &auth, body.clone(), conns, secs / 2.0).await);
        ours = ours.max(load(&url, &auth, body.clone(), conns, secs / 2.0).await);
    }
    let _ = floor.kill();
    let _ = floor.wait();
    eprintln!("server verify: keyshift serve {ours:.0} req/s, fixed body {base:.0} req/s");
    let ratio = ours / base;
    row(
        "server verify req/s (32 connections, in-Rust load generator)",
        "keyshift serve",
        ours,
        Some(base),
        "axum route returning a fixed body",
        "req/s",
        "higher",
        Some(">= 0.50x"),
        Some(ratio >= 0.5),
        Some("fraction of the floor; the load generator shares the 2 cores"),
    );
}

/// The floor server: an axum route answering a fixed verification body (as
/// server/examples/fixed_body.rs), on a free port it prints.
fn fixed_body() {
    use axum::http::header;
    use axum::routing::post;
    const BODY: &str = r#"{"meta":{"requestId":"req_000000000000000000000000"},"data":{"valid":true,"code":"VALID","keyId":"key_fixed","credits":null,"enabled":true,"permissions":[],"roles":[]}}"#;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let app = axum::Router::new().route(
            "/v2/keys.verifyKey",
            post(|body: axum::body::Bytes| async move {
                let _ = body.len();
                ([(header::CONTENT_TYPE, "application/json")], BODY)
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        std::io::stdout().flush().unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// In-process verify.

async fn local_rows() {
    let calls = count(40_000, 8_000);
    let dir = tempfile::tempdir_in(root().join("target")).expect("temp dir");
    let (raw_s, ours_s) = local_verify_samples(dir.path(), calls).await;
    let pct = |s: &[Duration], p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    for (label, p) in [("p50", 0.5), ("p99", 0.99)] {
        let (ours, base) = (us(pct(&ours_s, p)), us(pct(&raw_s, p)));
        let (target, met) = if p == 0.5 {
            (Some("< 20 µs"), Some(ours < 20.0))
        } else {
            (None, None)
        };
        row(
            &format!("in-process verify {label}"),
            "Client.local",
            ours,
            Some(base),
            "SQLite point read (prepared, cached)",
            "µs",
            "lower",
            target,
            met,
            Some("target is absolute (ours); ratio = floor / ours"),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Migration.

/// A TCP proxy on a free loopback port that forwards to `to`, holding every chunk the client
/// sends for `delay` before passing it on (so each request arrives `delay` later: a hosted
/// service's round trip). Answers pass straight back.
async fn delay_proxy(to: SocketAddr, delay: Duration) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((inbound, _)) = listener.accept().await else {
                return;
            };
            inbound.set_nodelay(true).ok();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let Ok(outbound) = tokio::net::TcpStream::connect(to).await else {
                    return;
                };
                outbound.set_nodelay(true).ok();
                let (mut ri, mut wi) = inbound.into_split();
                let (mut ro, mut wo) = outbound.into_split();
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
                let read_side = tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        match ri.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if tx
                                    .send((Instant::now() + delay, buf[..n].to_vec()))
                                    .is_err()
                                {
                                    return;
                                }
                            }
                        }
                    }
                });
                let write_side = tokio::spawn(async move {
                    while let Some((at, chunk)) = rx.recv().await {
                        tokio::time::sleep_until(at.into()).await;
                        if wo.write_all(&chunk).await.is_err() {
                            return;
                        }
                    }
                    let _ = wo.shutdown().await;
                });
                let _ = tokio::io::copy(&mut ro, &mut wi).await;
                read_side.abort();
                write_side.abort();
            });
        }
    });
    addr
}

struct Run {
    keys: u64,
    secs: f64,
    peak_rss_mib: f64,
}

/// Peak RSS of `pid` so far (VmHWM), MiB.
fn hwm_mib(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Runs `cmd` to its end, sampling its peak RSS; the wall time and the peak.
async fn timed(mut cmd: Command) -> (std::process::Output, f64, f64) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let child = cmd.spawn().expect("spawn");
    let pid = child.id();
    let sampling = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (sampling, peak) = (sampling.clone(), peak.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                if let Some(m) = hwm_mib(pid) {
                    peak.fetch_max((m * 1024.0) as u64, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    (out, secs, peak.load(Ordering::Relaxed) as f64 / 1024.0)
}

/// A fresh server (behind a delay proxy when `delay_ms` > 0) and an api on it.
async fn migration_target(delay_ms: u64) -> (Serve, String, String) {
    let server = serve();
    let api_id = server
        .client()
        .create_api("bench-migration")
        .await
        .unwrap()
        .api_id;
    let url = if delay_ms == 0 {
        server.base_url.clone()
    } else {
        let to: SocketAddr = server
            .base_url
            .trim_start_matches("http://")
            .parse()
            .unwrap();
        let addr = delay_proxy(to, Duration::from_millis(delay_ms)).await;
        format!("http://{addr}")
    };
    (server, url, api_id)
}

async fn run_migrate(file: &Path, delay_ms: u64) -> Run {
    let (server, url, api_id) = migration_target(delay_ms).await;
    let work = file.with_extension(format!("run{}", std::process::id()));
    let _ = std::fs::remove_file(work.with_extension("checkpoint"));
    let mut cmd = Command::new(bin());
    cmd.arg("migrate")
        .arg(file)
        .args([
            "--api-id",
            &api_id,
            "--migration-id",
            "bench-run",
            "--no-progress",
        ])
        .arg("--checkpoint")
        .arg(work.with_extension("checkpoint"))
        .arg("--report")
        .arg(work.with_extension("report.jsonl"))
        .args(["--base-url", &url])
        .env("KEYSHIFT_ROOT_KEY", &server.root_key);
    let (out, secs, peak) = timed(cmd).await;
    assert!(
        out.status.success(),
        "keyshift migrate failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_file(work.with_extension("checkpoint"));
    let _ = std::fs::remove_file(work.with_extension("report.jsonl"));
    let keys = migrated_count(&server);
    drop(server);
    Run {
        keys,
        secs,
        peak_rss_mib: peak,
    }
}

/// Keys this migration stored on the server (read from its database).
fn migrated_count(server: &Serve) -> u64 {
    let db = rusqlite::Connection::open(server.db_path()).unwrap();
    db.query_row(
        "SELECT count(*) FROM keys WHERE migration_id = 'bench-run'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as u64
}

async fn run_loop(file: &Path, delay_ms: u64) -> Run {
    let (server, url, api_id) = migration_target(delay_ms).await;
    let mut cmd = Command::new(python());
    cmd.arg(root().join("bench/rows/migrate_loop.py"))
        .arg(file)
        .args([&url, &api_id, "bench-run"])
        .env("KEYSHIFT_ROOT_KEY", &server.root_key);
    let (out, _wall, peak) = timed(cmd).await;
    assert!(
        out.status.success(),
        "migrate_loop.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = result_line(&out.stdout, "migrate_loop.py");
    drop(server);
    Run {
        keys: v["keys"].as_u64().unwrap(),
        secs: v["secs"].as_f64().unwrap(),
        peak_rss_mib: peak,
    }
}

fn python() -> String {
    std::env::var("KEYSHIFT_BENCH_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// A sample export of `n` keys (`keyshift sample-keys`), in a temp dir under target/.
fn export(dir: &Path, n: usize) -> PathBuf {
    let file = dir.join(format!("keys-{n}.jsonl"));
    let status = Command::new(bin())
        .args(["sample-keys", &n.to_string(), "--out"])
        .arg(&file)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "keyshift sample-keys failed");
    file
}

async fn migration_rows(which: &[&str]) {
    let dir = tempfile::tempdir_in(root().join("target")).expect("temp dir");
    let mut rss: Vec<(usize, f64)> = Vec::new();
    for (name, delay_ms, full, quick_n, target, min) in [
        ("migrate", 0u64, 1_000_000usize, 50_000usize, ">= 3x", 3.0),
        ("delay", 20, 200_000, 10_000, ">= 5x", 5.0),
    ] {
        if !which.contains(&name) {
            continue;
        }
        let n = count(full, quick_n);
        let file = export(dir.path(), n);
        // Alternate the two; keep each one's best round (the least disturbed).
        let rounds = if quick() || n >= 1_000_000 { 1 } else { 2 };
        let (mut ours, mut base): (Option<Run>, Option<Run>) = (None, None);
        for _ in 0..rounds {
            let b = run_loop(&file, delay_ms).await;
            eprintln!(
                "  {name}: loop {} keys in {:.1}s = {:.0} keys/s",
                b.keys,
                b.secs,
                b.keys as f64 / b.secs
            );
            let o = run_migrate(&file, delay_ms).await;
            eprintln!(
                "  {name}: keyshift migrate {n} keys in {:.1}s = {:.0} keys/s, peak RSS {:.1} MiB",
                o.secs,
                n as f64 / o.secs,
                o.peak_rss_mib
            );
            if base.as_ref().is_none_or(|x| b.secs < x.secs) {
                base = Some(b);
            }
            if ours.as_ref().is_none_or(|x| o.secs < x.secs) {
                ours = Some(o);
            }
        }
        let (ours, base) = (ours.unwrap(), base.unwrap());
        assert_eq!(base.keys, n as u64, "the loop migrated every key");
        assert_eq!(ours.keys, n as u64, "keyshift migrate migrated every key");
        if delay_ms == 0 {
            rss.push((n, ours.peak_rss_mib));
        }
        let (o, b) = (n as f64 / ours.secs, base.keys as f64 / base.secs);
        let label = if delay_ms == 0 {
            format!("migration keys/s, loopback ({n} keys)")
        } else {
            format!("migration keys/s, {delay_ms} ms added per request ({n} keys)")
        };
        row(
            &label,
            "keyshift migrate with its defaults",
            o,
            Some(b),
            "sequential batch-of-100 loop (Python hashlib + http.client), its own fresh server",
            "keys/s",
            "higher",
            Some(target),
            Some(o / b >= min),
            None,
        );
        let _ = std::fs::remove_file(&file);
    }
    if which.contains(&"rss") {
        // The loopback row's size (its run is reused) and another size: quick 10k and 50k
        // (still shows whether RSS grows with the input), full 1M and 10M.
        let sizes = if quick() {
            [10_000usize, 50_000]
        } else {
            [1_000_000, 10_000_000]
        };
        for n in sizes {
            if rss.iter().any(|(m, _)| *m == n) {
                continue;
            }
            let file = export(dir.path(), n);
            let o = run_migrate(&file, 0).await;
            eprintln!(
                "  rss: keyshift migrate {n} keys in {:.1}s, peak RSS {:.1} MiB",
                o.secs, o.peak_rss_mib
            );
            rss.push((n, o.peak_rss_mib));
            let _ = std::fs::remove_file(&file);
        }
        rss.sort_by_key(|(n, _)| *n);
        let (small, big) = (rss[0], rss[rss.len() - 1]);
        for (n, mib) in &rss {
            let flat = big.1 <= small.1 * 1.5 + 10.0;
            row(
                &format!("migration peak client RSS, {n} keys"),
                "keyshift migrate",
                *mib,
                None,
                "—",
                "MiB",
                "lower",
                Some("< 100 MB, flat"),
                Some(*mib < 100.0 && flat),
                Some(&format!(
                    "flat: {:.1} MiB at {} keys vs {:.1} MiB at {} keys",
                    big.1, big.0, small.1, small.0
                )),
            );
        }
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("fixed-body") {
        return fixed_body();
    }
    let only = arg("--only").unwrap_or_else(|| "verify,server,local,migrate,delay,rss".into());
    let which: Vec<&str> = only.split(',').collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if which.contains(&"verify") {
            verify_rows().await;
        }
        if which.contains(&"server") {
            server_rows().await;
        }
        if which.contains(&"local") {
            local_rows().await;
        }
        migration_rows(&which).await;
    });
}
