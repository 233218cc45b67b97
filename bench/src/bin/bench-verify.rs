//! Client overhead: `Client::verify` round trips vs a raw keep-alive reqwest loop posting a
//! prebuilt body (the floor), and the same loop with the client's 5 s per-attempt timeout (a
//! per-request timer costs ~20 µs of latency in a sequential loop here, so this is the
//! like-for-like baseline), all against the same in-process `keyshift serve` on loopback.
//! Prints calls/s and µs/call for each and the ratio. Usage: bench-verify [--calls N]

use std::time::Instant;

use keyshift_core::{CreateKey, VerifyCode, VerifyOptions};

use keyshift_bench::{num, BenchServer};

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let calls = num("--calls", 20_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let server = BenchServer::start_at(&dir.path().join("bench.db"), |_| {}).await;
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
    let (raw, url, auth, body) = (&raw, &url, &auth, &body);
    // With `timeout`, the same per-attempt timeout the client sets (5 s): a like-for-like loop.
    let raw_call = |timeout: Option<std::time::Duration>| async move {
        let mut request = raw
            .post(url)
            .header("authorization", auth)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success());
        response.bytes().await.unwrap()
    };
    let like_client = Some(std::time::Duration::from_secs(5));
    for _ in 0..200 {
        raw_call(None).await;
        raw_call(like_client).await;
    }

    // Alternate the two loops in rounds so drift on a noisy machine hits both alike.
    let rounds = 4;
    let per_round = calls / rounds;
    let calls = per_round * rounds;
    let mut raw_elapsed = std::time::Duration::ZERO;
    let mut timed_elapsed = std::time::Duration::ZERO;
    let mut client_elapsed = std::time::Duration::ZERO;
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..per_round {
            raw_call(None).await;
        }
        raw_elapsed += started.elapsed();

        let started = Instant::now();
        for _ in 0..per_round {
            raw_call(like_client).await;
        }
        timed_elapsed += started.elapsed();

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
        "  raw loop + 5 s timeout:   {:>8.0} calls/s  {:>7.1} µs/call",
        calls as f64 / timed_elapsed.as_secs_f64(),
        per(timed_elapsed)
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
    println!(
        "  ratio client/raw-with-timeout time: {:.3}  (overhead {:+.1} µs/call)",
        client_elapsed.as_secs_f64() / timed_elapsed.as_secs_f64(),
        per(client_elapsed) - per(timed_elapsed)
    );
    server.stop().await;
}
