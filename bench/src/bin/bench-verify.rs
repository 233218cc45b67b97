//! Client overhead: `Client::verify` round trips vs a raw keep-alive reqwest loop posting a
//! prebuilt body (the floor), both against the same in-process `keyshift serve` on loopback.
//! Prints calls/s and µs/call for each and the ratio. Usage: bench-verify [--calls N]

use std::time::Instant;

use keyshift_core::{CreateKey, VerifyCode, VerifyOptions};

use keyshift_bench::{num, BenchServer};

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let calls = num("--calls", 20_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let server = BenchServer::start(&dir.path().join("bench.db")).await;
    let (base_url, root_key) = (server.base_url.clone(), server.root_key.clone());
    let client = server.client();
    let api_id = client.create_api("bench-api").await.unwrap().api_id;
    let mut options = CreateKey::new(&api_id);
    options.permissions = vec!["profile.read".into()];
    let key = client.create_api_key(&options).await.unwrap().key;
    let verify = VerifyOptions::permissions("profile.read");

    // Warm both paths (connection pool, caches) before timing.
    for _ in 0..200 {
        client.verify(key.expose(), &verify).await.unwrap();
    }
    let raw = reqwest::Client::new();
    let url = format!("{base_url}/v2/keys.verifyKey");
    let body = serde_json::to_vec(
        &serde_json::json!({"key": key.expose(), "permissions": "profile.read"}),
    )
    .unwrap();
    let auth = format!("Bearer {}", root_key.expose());
    let raw_call = || async {
        let response = raw
            .post(&url)
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        response.bytes().await.unwrap()
    };
    for _ in 0..200 {
        raw_call().await;
    }

    // Alternate the two loops in rounds so drift on a noisy machine hits both alike.
    let rounds = 4;
    let per_round = calls / rounds;
    let calls = per_round * rounds;
    let mut raw_elapsed = std::time::Duration::ZERO;
    let mut client_elapsed = std::time::Duration::ZERO;
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..per_round {
            raw_call().await;
        }
        raw_elapsed += started.elapsed();

        let started = Instant::now();
        for _ in 0..per_round {
            let v = client.verify(key.expose(), &verify).await.unwrap();
            assert_eq!(v.code, VerifyCode::Valid);
        }
        client_elapsed += started.elapsed();
    }

    let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / calls as f64;
    println!("verify round trips, sequential, {calls} calls each, same server, same process");
    println!(
        "  raw reqwest loop (floor): {:>8.0} calls/s  {:>7.1} µs/call",
        calls as f64 / raw_elapsed.as_secs_f64(),
        per(raw_elapsed)
    );
    println!(
        "  keyshift Client::verify:  {:>8.0} calls/s  {:>7.1} µs/call",
        calls as f64 / client_elapsed.as_secs_f64(),
        per(client_elapsed)
    );
    println!(
        "  ratio client/raw time: {:.3}  (overhead {:+.1} µs/call)",
        client_elapsed.as_secs_f64() / raw_elapsed.as_secs_f64(),
        per(client_elapsed) - per(raw_elapsed)
    );
    server.stop().await;
}
