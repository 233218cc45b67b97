//! The HTTP backend keeps its per-attempt timers for reuse (core/src/http.rs, issue 15): a
//! reused timer must still end a slow attempt at the new deadline, and a client must keep
//! working when the runtime its timers came from has ended.

use std::time::{Duration, Instant};

use keyshift_core::{CallOptions, ErrorCode, RetryPolicy};
use keyshift_e2e::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_timer_still_ends_a_slow_attempt_at_its_own_deadline() {
    let server = TestServer::start_with_faults().await;
    let (_, api_id) = server.client_with_api("timers-api").await;
    // Every request of this client waits 300 ms in the server; its own timeout is 5 s.
    let slow = server.faulty("delay-ms=300");
    for _ in 0..2 {
        assert_eq!(slow.get_api(&api_id).await.unwrap().id, api_id);
    }
    // The kept timer (pending, ~5 s out) is moved to an earlier deadline.
    let hurried = CallOptions::default()
        .with_timeout(Duration::from_millis(100))
        .with_retry(RetryPolicy::never());
    let started = Instant::now();
    let err = slow
        .call::<_, serde_json::Value>(
            keyshift_core::wire::Op::GetApi,
            &serde_json::json!({ "apiId": api_id }),
            &hurried,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Timeout, "{err:?}");
    assert!(
        !err.not_sent,
        "a timed-out attempt may have reached the server"
    );
    assert!(
        started.elapsed() < Duration::from_millis(290),
        "ended by the 100 ms timeout, not by the answer: {:?}",
        started.elapsed()
    );
    // The timer that fired is reused for a call that has time enough.
    assert_eq!(slow.get_api(&api_id).await.unwrap().id, api_id);
    server.stop().await;
}

#[test]
fn a_client_keeps_working_after_the_runtime_it_ran_on_has_ended() {
    let server_runtime = tokio::runtime::Runtime::new().unwrap();
    let server = server_runtime.block_on(TestServer::start());
    let (client, api_id) = server_runtime.block_on(server.client_with_api("runtimes-api"));
    for _ in 0..3 {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let got = runtime.block_on(client.get_api(&api_id)).unwrap();
        assert_eq!(got.id, api_id);
        drop(runtime);
    }
    server_runtime.block_on(server.stop());
}
