//! Access logs: one event per request with method, op, status, latency and request id, and
//! never a root key, a key, a header value or a body.

mod common;

use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_logs_carry_the_request_but_no_secret() {
    let capture = common::LogCapture::install();

    let (s, api) = common::start_with_api("logged").await;
    let (_, key) = s
        .create_key(json!({"apiId": api, "meta": {"secretish": "body-marker-123"}}))
        .await;
    let resp = s
        .post_json("/v2/keys.verifyKey", &json!({"key": key}))
        .await;
    let rid = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(resp.status(), 200);
    // An error path and an unknown root key too.
    let wrong_root = "ks_root_wrong_but_secret_987654321";
    let (status, _) = s
        .call_as(wrong_root, "keys.getKey", json!({"keyId": "key_x"}))
        .await;
    assert_eq!(status, 401);
    let root = s.root_key.clone();
    s.stop().await;

    let text = capture.text();
    for secret in [root.as_str(), key.as_str(), wrong_root, "body-marker-123"] {
        assert!(!text.contains(secret), "a secret or body reached the logs");
    }
    assert!(
        !text.to_ascii_lowercase().contains("bearer"),
        "an Authorization header reached the logs"
    );
    // The verify request has its access event.
    let event: Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["fields"]["request_id"] == rid.as_str())
        .unwrap_or_else(|| panic!("no access event for {rid} in:\n{text}"));
    let f = &event["fields"];
    assert_eq!(f["method"], "POST");
    assert_eq!(f["op"], "keys.verifyKey");
    assert_eq!(f["status"], 200);
    assert!(f["latency_us"].as_u64().is_some(), "{event}");
}
