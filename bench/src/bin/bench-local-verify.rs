//! In-process verification: `Client::local` verify latency (p50/p99 over sequential calls) vs
//! the floor measured in the same run on the same database: a raw SQLite point read of the key
//! row by its hash through a cached prepared statement. Usage: bench-local-verify [--calls N]

use std::time::{Duration, Instant};

use keyshift_core::{CreateKey, VerifyCode, VerifyOptions};

use keyshift_bench::num;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn summary(label: &str, mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let (p50, p99) = (percentile(&samples, 0.50), percentile(&samples, 0.99));
    println!("  {label:<34} p50 {p50:>7.1} µs   p99 {p99:>7.1} µs");
    (p50, p99)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let calls = num("--calls", 20_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("bench.db");
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

    // Alternate the two loops in rounds so drift on a noisy machine hits both alike.
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

    println!(
        "local verify, sequential, {} calls each, same database, same process",
        per_round * rounds
    );
    let (raw50, raw99) = summary("raw SQLite point read (floor):", raw_samples);
    let (c50, c99) = summary("keyshift Client::local verify:", client_samples);
    println!(
        "  ratio client/raw: p50 {:.1}x  p99 {:.1}x",
        c50 / raw50,
        c99 / raw99
    );
}
