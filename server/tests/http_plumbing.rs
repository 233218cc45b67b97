//! HTTP-level behaviour of the server that does not depend on key semantics: envelopes,
//! request ids, auth header handling, routing, content types, body limits, OpenAPI, shutdown.

mod common;

use common::{assert_problem, assert_success_envelope, start, start_with, Options};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_and_request_ids() {
    let s = start().await;
    let resp = s.get_status("/v2/liveness", 200).await;
    let header_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(
        resp.headers()["x-unkey-request-id"].to_str().unwrap(),
        header_id
    );
    let body: Value = resp.json().await.unwrap();
    assert_success_envelope(&body);
    assert_eq!(body["meta"]["requestId"], header_id.as_str());
    assert_eq!(body["data"]["message"], "OK");

    // Every request gets its own id.
    let again: Value = common::json_of(s.client.get(s.url("/v2/liveness"))).await;
    assert_ne!(again["meta"]["requestId"], body["meta"]["requestId"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_envelope_and_header_id_match() {
    let s = start().await;
    let resp = s
        .post_json("/v2/apis.createApi", &json!({"name": "plumbing"}))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let header_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = resp.json().await.unwrap();
    assert_success_envelope(&body);
    assert_eq!(body["meta"]["requestId"], header_id.as_str());
    assert!(body["data"]["apiId"].as_str().is_some());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_header_missing_malformed_unknown() {
    let s = start().await;
    let url = s.url("/v2/apis.createApi");
    let body = json!({"name": "api-x"});

    // Missing → 400 application/invalid_input (Unkey's request validator answers it).
    let resp = s.client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.unwrap();
    assert_problem(&v, 400);
    common::assert_type_ends(&v["error"], "/application/invalid_input");
    assert_eq!(v["error"]["errors"][0]["location"], "header.Authorization");

    // Malformed: wrong scheme, empty token, extra words → 400 authentication/malformed.
    for header in [
        "Basic abc",
        "Bearer",
        "Bearer ",
        "bearer abc",
        "BEARER abc",
        "Token xyz",
    ] {
        let resp = s
            .client
            .post(&url)
            .header("authorization", header)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{header}");
        let v: Value = resp.json().await.unwrap();
        assert_problem(&v, 400);
        assert!(
            v["error"]["type"]
                .as_str()
                .unwrap()
                .ends_with("/authentication/malformed"),
            "{header}: {v}"
        );
    }

    // Well-formed but unknown → 401 and the key does not appear in the answer.
    let unknown = "sk_unknown_root_key_0123456789";
    let (status, v) = s.call_as(unknown, "apis.createApi", body.clone()).await;
    assert_eq!(status, 401, "{v}");
    assert_problem(&v, 401);
    assert!(!v.to_string().contains(unknown), "root key echoed: {v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let s = start().await;
    let resp = s.post_json("/v2/keys.nope", &json!({})).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.unwrap();
    assert_problem(&v, 404);
    assert!(v["error"]["detail"]
        .as_str()
        .unwrap()
        .contains("/v2/keys.nope"));

    let resp = s.get_status("/nothing/here", 404).await;
    assert_problem(&resp.json().await.unwrap(), 404);

    let resp = s.get_status("/v2/keys.createKey", 405).await;
    assert_eq!(resp.headers()["allow"], "POST");
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_problem(&resp.json().await.unwrap(), 405);

    let resp = s.client.post(s.url("/v2/liveness")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET");
    assert_problem(&resp.json().await.unwrap(), 405);
    s.stop().await;
}

const JSON: &str = "application/json";

async fn raw_post(
    s: &common::TestServer,
    op: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = s
        .client
        .post(s.url(&format!("/v2/{op}")))
        .bearer_auth(&s.root_key)
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_a_400_naming_the_problem() {
    let s = start().await;
    let cases: Vec<&[u8]> = vec![
        b"{",
        b"not json",
        b"",
        b"[1,2,3]",
        b"{\"name\": }",
        b"\xff\xfe\x00",
        b"{\"name\": \"a\"} trailing",
        b"null",
    ];
    for body in cases {
        let (status, v) = raw_post(&s, "apis.createApi", Some(JSON), body.to_vec()).await;
        assert_eq!(status, 400, "body {:?}: {v}", String::from_utf8_lossy(body));
        assert_problem(&v, 400);
        assert!(
            !v["error"]["errors"].as_array().unwrap().is_empty(),
            "errors[] names the problem: {v}"
        );
    }
    // Deeply nested JSON must not overflow the stack.
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let (status, v) = raw_post(&s, "keys.verifyKey", Some(JSON), deep.into_bytes()).await;
    assert_eq!(status, 400, "{v}");
    // The server is still up.
    s.get_status("/v2/liveness", 200).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_type_is_a_400() {
    let s = start().await;
    let body = br#"{"name":"content-type"}"#.to_vec();
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let (status, v) = raw_post(&s, "apis.createApi", Some(ct), body.clone()).await;
        assert_eq!(status, 400, "{ct}: {v}");
        assert_problem(&v, 400);
        assert_eq!(v["error"]["errors"][0]["location"], "header.Content-Type");
        assert!(v["error"]["detail"]
            .as_str()
            .unwrap()
            .contains(ct.split(';').next().unwrap()));
    }
    // JSON with a charset parameter is fine.
    let (status, v) = raw_post(
        &s,
        "apis.createApi",
        Some("application/json; charset=utf-8"),
        body,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_413() {
    let s = start_with(Options::with_body_limit(64 * 1024)).await;
    // Declared by Content-Length.
    let big = format!("{{\"name\":\"{}\"}}", "a".repeat(100 * 1024));
    let (status, v) = raw_post(&s, "apis.createApi", Some(JSON), big.into_bytes()).await;
    assert_eq!(status, 413, "{v}");
    assert_problem(&v, 413);
    assert!(v["error"]["type"]
        .as_str()
        .unwrap()
        .ends_with("request_body_too_large"));

    // Streamed without a length (chunked): cut off at the limit.
    let mut req = format!(
        "POST /v2/apis.createApi HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        s.root_key
    )
    .into_bytes();
    for _ in 0..40 {
        req.extend_from_slice(b"1000\r\n");
        req.extend_from_slice(&[b' '; 4096]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let (status, _head, body) = common::raw_http(&s.base, &req).await;
    assert_eq!(status, Some(413));
    assert_problem(&serde_json::from_slice(&body).unwrap(), 413);

    // Just under the limit is fine.
    let ok = format!("{{\"name\":\"fits\",\"x\":\"{}\"}}", " ".repeat(1000));
    let (status, _) = raw_post(&s, "apis.createApi", Some(JSON), ok.into_bytes()).await;
    assert_ne!(status, 413);
    s.stop().await;
}

/// Issue 14: a client that sends its headers and part of the body, then stalls with the
/// connection open, gets a 408 after `body_timeout` instead of holding the connection forever;
/// the server answers the next request, and nothing was created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_cut_off_with_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = start_with(Options {
        body_timeout: Some(std::time::Duration::from_millis(300)),
        ..Default::default()
    })
    .await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v2/apis.createApi HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":",
        s.root_key
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    // The write side stays open: only the server's timeout can end this read.
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        conn.read_to_end(&mut answer),
    )
    .await
    .expect("the server closes a stalled request")
    .unwrap();
    let waited = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(
        waited >= std::time::Duration::from_millis(250),
        "{waited:?}"
    );
    let (status, v) = s.call("apis.listKeys", json!({"apiId": "api_none"})).await;
    assert_eq!(status, 404, "the server still answers: {v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_header_is_validated() {
    let s = start().await;
    for bad in ["", &"k".repeat(300)] {
        let body = json!({"name": "api-x"});
        let idempotency_key = [("idempotency-key", bad)];
        let (status, v) = s
            .call_with_headers("apis.createApi", body, &idempotency_key)
            .await;
        assert_eq!(status, 400, "{bad:?}: {v}");
        assert_problem(&v, 400);
        assert_eq!(
            v["error"]["errors"][0]["location"],
            "header.Idempotency-Key"
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_lists_exactly_the_served_operations() {
    let s = start().await;
    let resp = s.get_status("/openapi.json", 200).await;
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    let mut served: Vec<String> = keyshift_core::wire::OPERATIONS
        .iter()
        .map(|op| format!("/v2/{op}"))
        .collect();
    served.push("/v2/liveness".into());
    // The portal's end-user routes (session auth, not root keys).
    served.push("/v2/portal.exchangeCode".into());
    served.extend(
        keyshift_engine::PortalRoute::ALL
            .iter()
            .map(|r| format!("/v2/{}", r.name())),
    );
    for path in &served {
        assert!(paths.contains_key(path), "openapi.json lacks {path}");
        let method = if path == "/v2/liveness" {
            "get"
        } else {
            "post"
        };
        assert!(paths[path].get(method).is_some(), "{path} has no {method}");
    }
    for path in paths.keys() {
        assert!(
            served.contains(path),
            "openapi.json documents {path}, which is not served"
        );
    }
    // Every served op really is routed (not a 404).
    for op in keyshift_core::wire::OPERATIONS.iter() {
        let resp = s
            .client
            .post(s.url(&format!("/v2/{op}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{op} is routed and asks for auth");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_root_key_is_used() {
    let seed = "ks_root_seeded_for_tests_0123456789";
    let s = start_with(Options::with_root_key(seed)).await;
    assert_eq!(s.root_key, seed);
    let (status, v) = s
        .call_as(seed, "apis.createApi", json!({"name": "seeded"}))
        .await;
    assert_eq!(status, 200, "{v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let s = start_with(Options::with_faults()).await;
    let client = s.client.clone();
    let url = s.url("/v2/liveness");
    // A request that takes 300 ms is in flight when shutdown starts.
    let slow = tokio::spawn(async move {
        client
            .get(url)
            .header("x-keyshift-fault", "delay-ms=300")
            .send()
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let base = s.base.clone();
    s.stop().await;
    let resp = slow.await.unwrap().expect("in-flight request completes");
    assert_eq!(resp.status(), 200);
    // New connections are refused after shutdown.
    let after = reqwest::Client::new()
        .get(format!("{base}/v2/liveness"))
        .send()
        .await;
    assert!(after.is_err(), "server still answering after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_prior_knowledge_is_served() {
    let s = start().await;
    let (status, v) = s
        .call_h2("apis.createApi", json!({"name": "over-h2"}), &[])
        .await;
    assert_eq!(status, 200, "{v}");
    assert_success_envelope(&v);
    s.stop().await;
}
