//! In-process verification: `Client::local` verify latency (p50/p99 over sequential calls) vs
//! the floor measured in the same run on the same database: a raw SQLite point read of the key
//! row by its hash through a cached prepared statement. Usage: bench-local-verify [--calls N]

use std::time::Duration;

use keyshift_bench::{local_verify_samples, num};

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
    let (raw_samples, client_samples) = local_verify_samples(dir.path(), calls).await;

    println!(
        "local verify, sequential, {} calls each, same database, same process",
        client_samples.len()
    );
    let (raw50, raw99) = summary("raw SQLite point read (floor):", raw_samples);
    let (c50, c99) = summary("keyshift Client::local verify:", client_samples);
    println!(
        "  ratio client/raw: p50 {:.1}x  p99 {:.1}x",
        c50 / raw50,
        c99 / raw99
    );
}
