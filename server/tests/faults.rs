//! The test-only fault switch (`X-Keyshift-Fault`, see server/src/faults.rs): every mode, and
//! inert unless the server was started with faults enabled.

mod common;

use std::time::{Duration, Instant};

use common::{assert_problem, raw_http, start_with, start_with_api, Options, TestServer};
use serde_json::{json, Value};

async fn faulty() -> TestServer {
    start_with(Options::with_faults()).await
}

/// [`faulty`] with one api named `name`: (server, api id).
async fn faulty_with_api(name: &str) -> (TestServer, String) {
    let s = faulty().await;
    let api = s.create_api(name).await;
    (s, api)
}

async fn post_with_fault(
    s: &TestServer,
    op: &str,
    body: Value,
    fault: &str,
    idem: Option<&str>,
) -> reqwest::Result<reqwest::Response> {
    let mut req = s
        .client
        .post(s.url(&format!("/v2/{op}")))
        .bearer_auth(&s.root_key)
        .header("x-keyshift-fault", fault)
        .json(&body);
    if let Some(k) = idem {
        req = req.header("idempotency-key", k);
    }
    req.send().await
}

/// `apis.createApi` named `name` under the fault `spec`; an answer must arrive.
async fn create_api_under(s: &TestServer, name: &str, spec: &str) -> reqwest::Response {
    let body = json!({ "name": name });
    let resp = post_with_fault(s, "apis.createApi", body, spec, None).await;
    resp.expect("an answer arrives")
}

/// `keys.createKey` on `api` under the fault `spec`; an answer must arrive.
async fn create_key_under(s: &TestServer, api: &str, spec: &str) -> reqwest::Response {
    let body = json!({ "apiId": api });
    let resp = post_with_fault(s, "keys.createKey", body, spec, None).await;
    resp.expect("an answer arrives")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inert_when_not_enabled() {
    let (s, api) = start_with_api("inert").await;
    for fault in [
        "status=503",
        "drop",
        "after-dispatch-status=503",
        "fail-first=5;status=500",
        "nonsense",
    ] {
        let resp = create_key_under(&s, &api, fault).await;
        assert_eq!(
            resp.status(),
            200,
            "{fault} applied on a server without faults"
        );
    }
    assert_eq!(s.key_count(&api).await, 5);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_faults_answer_without_running_the_operation() {
    let (s, api) = faulty_with_api("status").await;
    for status in [503u16, 500, 502, 504] {
        let resp = create_key_under(&s, &api, &format!("status={status}")).await;
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(resp.headers()["content-type"], "application/json");
        let rid = resp.headers()["x-request-id"].to_str().unwrap().to_string();
        let v: Value = resp.json().await.unwrap();
        assert_problem(&v, status);
        assert_eq!(v["meta"]["requestId"], rid.as_str());
        assert!(v["error"]["type"]
            .as_str()
            .unwrap()
            .ends_with("#fault_injected"));
    }
    assert_eq!(
        s.key_count(&api).await,
        0,
        "a faulted request must not create a key"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_fault_carries_retry_after() {
    let s = faulty().await;
    let resp = create_api_under(&s, "api-x", "status=429;retry-after=1").await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_problem(&resp.json().await.unwrap(), 429);

    let resp = create_api_under(&s, "api-x", "status=429;retry-after-ms=250").await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after-ms"], "250");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_then_handle_normally() {
    let s = faulty().await;
    let started = Instant::now();
    let resp = create_api_under(&s, "slow", "delay-ms=300").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert!(v["data"]["apiId"].as_str().is_some());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_closes_the_connection_without_a_response() {
    let (s, api) = faulty_with_api("drop").await;
    // Raw socket: the connection closes and not a single response byte arrives.
    let body = json!({"apiId": api}).to_string();
    let req = format!(
        "POST /v2/keys.createKey HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nX-Keyshift-Fault: drop\r\n\r\n{}",
        s.root_key,
        body.len(),
        body
    );
    let (status, head, rest) = raw_http(&s.base, req.as_bytes()).await;
    assert_eq!(status, None, "got a response to a dropped request: {head}");
    assert!(rest.is_empty(), "bytes arrived: {rest:?}");

    // reqwest sees a connection error, not a status.
    let err = post_with_fault(&s, "keys.createKey", json!({"apiId": api}), "drop", None)
        .await
        .expect_err("dropped request must fail at the transport level");
    assert!(err.status().is_none());
    // Dropped before dispatch: nothing was created, and the server is still fine.
    assert_eq!(s.key_count(&api).await, 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_dispatch_status_loses_the_answer_but_keeps_the_write() {
    let (s, api) = faulty_with_api("lost").await;
    let resp = create_key_under(&s, &api, "after-dispatch-status=503").await;
    assert_eq!(resp.status(), 503);
    let v: Value = resp.json().await.unwrap();
    assert_problem(&v, 503);
    assert!(
        !v.to_string().contains("\"key\""),
        "the lost answer must not leak: {v}"
    );
    assert_eq!(s.key_count(&api).await, 1, "the write happened");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_first_counts_per_idempotency_key() {
    let (s, api) = faulty_with_api("retry").await;
    let body = json!({"apiId": api, "name": "retried"});
    let fault = "fail-first=2;status=503";
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let resp = post_with_fault(&s, "keys.createKey", body.clone(), fault, Some("idem-A"))
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, vec![503, 503, 200, 200]);
    // Another idempotency key has its own count.
    let resp = post_with_fault(&s, "keys.createKey", body.clone(), fault, Some("idem-B"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    // Same Idempotency-Key replays: only one key for idem-A.
    assert_eq!(s.key_count(&api).await, 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_first_without_idempotency_key_counts_per_header_value() {
    let s = faulty().await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let resp = create_api_under(&s, "api-n", "fail-first=1;status=500").await;
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, vec![500, 200, 200]);
    // fail-first with drop: first attempt dropped, second answered.
    let drop_first = || {
        let body = json!({"name": "api-d"});
        post_with_fault(&s, "apis.createApi", body, "fail-first=1;drop", None)
    };
    assert!(drop_first().await.is_err());
    assert_eq!(drop_first().await.unwrap().status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_fault_spec_is_a_400_naming_the_header() {
    let s = faulty().await;
    for spec in ["explode", "status=200", "delay-ms=abc", "drop=yes"] {
        let resp = create_api_under(&s, "api-x", spec).await;
        assert_eq!(resp.status(), 400, "{spec}");
        let v: Value = resp.json().await.unwrap();
        assert_problem(&v, 400);
        assert_eq!(
            v["error"]["errors"][0]["location"],
            "header.X-Keyshift-Fault"
        );
    }
    // Liveness can be faulted too (client health checks).
    let resp = s
        .client
        .get(s.url("/v2/liveness"))
        .header("x-keyshift-fault", "status=503")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    s.stop().await;
}
