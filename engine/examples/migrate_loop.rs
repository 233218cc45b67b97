//! Engine-only cost of `keys.migrateKeys` (no HTTP): `Engine::dispatch` with batches of sample
//! records (the export `keyshift sample-keys` writes, hashed), each with an idempotency key, as
//! the client sends them.
//!
//! ```text
//! cargo run --release -p keyshift-engine --example migrate_loop -- [keys (200000)] [batch (100)]
//! ```

use std::time::{Duration, Instant};

use keyshift_core::hashing;
use keyshift_core::migrate::sample::sample_record;
use serde_json::{json, Value};

mod common;

fn main() {
    let n: u64 = common::arg(1, 200_000);
    let batch: u64 = common::arg(2, 100);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = std::env::var_os("MIGRATE_LOOP_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("migrate.db"));
    let (engine, _root, ctx) = common::bootstrapped(&path);
    let api = engine
        .dispatch(
            &ctx,
            "apis.createApi",
            json!({"name": "loop"}).to_string().as_bytes(),
            None,
        )
        .expect("api")
        .data;
    // Bodies first, so that only the engine is timed.
    let bodies: Vec<Vec<u8>> = (0..n.div_ceil(batch))
        .map(|b| {
            let keys: Vec<Value> = (b * batch..((b + 1) * batch).min(n))
                .map(|i| {
                    let mut r = sample_record(i, false).expect("sample");
                    let obj = r.as_object_mut().expect("object");
                    let key = obj.remove("key").expect("key");
                    let hash = hashing::sha256_base64(key.as_str().expect("str"));
                    obj.insert("hash".into(), Value::String(hash));
                    r
                })
                .collect();
            json!({"migrationId": "loop", "apiId": api["apiId"], "keys": keys})
                .to_string()
                .into_bytes()
        })
        .collect();
    let mut slowest = Duration::ZERO;
    let t = Instant::now();
    let mut migrated = 0usize;
    for (i, body) in bodies.iter().enumerate() {
        let one = Instant::now();
        let reply = engine
            .dispatch(&ctx, "keys.migrateKeys", body, Some(&format!("loop-{i}")))
            .expect("migrate");
        slowest = slowest.max(one.elapsed());
        migrated += reply.data["migrated"].as_array().expect("migrated").len();
        assert!(reply.data["failed"].as_array().is_none_or(Vec::is_empty));
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(migrated as u64, n);
    println!(
        "{n} keys in batches of {batch}: {:.2}s, {:.0} keys/s, {:.1} us/key, slowest batch {:.1} ms",
        secs,
        n as f64 / secs,
        secs * 1e6 / n as f64,
        slowest.as_secs_f64() * 1e3
    );
}
