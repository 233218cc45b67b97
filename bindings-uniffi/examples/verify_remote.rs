//! The Rust client's verify calls/s against an external `keyshift serve`, for comparison with the
//! Kotlin figure of `scripts/test-kotlin.sh bench` (same server binary, same machine):
//! `cargo run --release -p keyshift-uniffi --example verify_remote -- BASE_URL ROOT_KEY [CALLS]`.

use std::time::Instant;

use keyshift_core::{runtime, Client, CreateKey, VerifyOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (base_url, root_key) = (args[1].clone(), args[2].clone());
    let calls: usize = args
        .get(3)
        .map_or(8000, |n| n.parse().expect("CALLS is a number"));
    runtime::block_on(async move {
        let client = Client::builder()
            .base_url(base_url)
            .root_key(root_key)
            .build()
            .expect("client");
        let api_id = client.create_api("bench-rust").await.expect("api").api_id;
        let mut options = CreateKey::new(&api_id);
        options.permissions = vec!["profile.read".into()];
        let key = client.create_api_key(&options).await.expect("key").key;
        let verify = VerifyOptions::permissions("profile.read");
        for _ in 0..1000 {
            client.verify(key.expose(), &verify).await.expect("verify");
        }
        let started = Instant::now();
        for _ in 0..calls {
            assert!(
                client
                    .verify(key.expose(), &verify)
                    .await
                    .expect("verify")
                    .valid
            );
        }
        let elapsed = started.elapsed();
        println!(
            "  Rust Client::verify, sequential:          {:>8.0} calls/s  {:>7.1} µs/call",
            calls as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1e6 / calls as f64
        );
    });
}
