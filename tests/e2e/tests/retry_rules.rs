//! DESIGN.md §4's retry rule through the server's fault switch (issue 9 #3, #4): calls that
//! create things without an Idempotency-Key (createApi, createRole, createPermission,
//! createIdentity) are never sent again after a 500/502/504 or a connection lost after
//! sending; reads and verifyKey are; 429 and 503 are retried for every call; hostile
//! `Retry-After` values never panic and never stretch a call past its deadline.
//!
//! Fault counters of `fail-first=N` are keyed by the header text when a request has no
//! Idempotency-Key: a second call with the same spec continues the count, which is how these
//! tests count attempts ("the next call is healthy, so exactly one attempt was made").

use std::time::{Duration, Instant};

use keyshift_core::wire::CreateIdentityRequest;
use keyshift_core::{Client, ErrorCode, RetryPolicy, VerifyCode, VerifyOptions};
use keyshift_e2e::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One create of kind `op` (none carries an Idempotency-Key) through `client`.
async fn create_one(client: &Client, op: &str, tag: &str) -> keyshift_core::Result<()> {
    match op {
        "createApi" => client.create_api(&format!("api-{tag}")).await.map(drop),
        "createRole" => client
            .create_role(&format!("role-{tag}"), &[], None)
            .await
            .map(drop),
        "createPermission" => client
            .create_permission(&format!("perm.{tag}"), None, None)
            .await
            .map(drop),
        "createIdentity" => client
            .create_identity(&CreateIdentityRequest {
                external_id: format!("user-{tag}"),
                meta: None,
                ratelimits: None,
            })
            .await
            .map(drop),
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_without_idempotency_key_are_not_retried_after_502_504_500() {
    let server = TestServer::start_with_faults().await;
    for (i, status) in [502u16, 504, 500].into_iter().enumerate() {
        for (n, op) in [
            "createApi",
            "createRole",
            "createPermission",
            "createIdentity",
        ]
        .into_iter()
        .enumerate()
        {
            // A distinct (harmless) delay makes each spec text, hence its counter, unique.
            let spec = format!("fail-first=1;status={status};delay-ms={}", i * 10 + n);
            let client = server.faulty(&spec);
            let tag = format!("{status}-{n}");
            let err = create_one(&client, op, &tag).await.expect_err(op);
            assert_eq!(err.status, Some(status), "{op}: {err:?}");
            // The same spec again: attempt 2 is healthy. Had the first call retried, it
            // would have succeeded; so exactly one attempt was made.
            create_one(&client, op, &format!("{tag}-again"))
                .await
                .unwrap_or_else(|e| panic!("{op}: second call {e}"));
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_answered_502_after_it_took_effect_exists_exactly_once() {
    let server = TestServer::start_with_faults().await;
    let admin = server.client();
    // The role is created, then its answer is replaced by a 502 (a proxy losing it).
    let client = server.faulty("fail-first=1;after-dispatch-status=502");
    let err = client
        .create_role("lost-answer", &[], None)
        .await
        .unwrap_err();
    assert_eq!(err.status, Some(502));
    let roles: Vec<_> = admin
        .list_roles()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.name == "lost-answer")
        .collect();
    assert_eq!(roles.len(), 1, "created once, not retried: {roles:?}");
    // A connection dropped after the request was sent: not retried either.
    let client = server.faulty("fail-first=1;drop");
    let err = client.create_api("dropped").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Network, "{err:?}");
    assert!(!err.not_sent, "the request may have reached the server");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_reads_are_retried_after_502_504_500_and_lost_connections() {
    let server = TestServer::start_with_faults().await;
    let (_, api_id, created) = server.client_with_key("verify-retry").await;
    for spec in [
        "fail-first=1;status=502",
        "fail-first=2;status=504",
        "fail-first=1;status=500",
        "fail-first=1;drop",
        "fail-first=1;after-dispatch-status=502",
    ] {
        let client = server.faulty(spec);
        let v = client
            .verify(created.key.expose(), &VerifyOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(v.code, VerifyCode::Valid, "{spec}");
        let read_spec = format!("{spec};delay-ms=1");
        let api = server.faulty(&read_spec).get_api(&api_id).await;
        assert_eq!(api.unwrap().id, api_id, "{spec}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_are_retried_after_503_429_and_refused_connections() {
    let server = TestServer::start_with_faults().await;
    let client = server.faulty("fail-first=2;status=503");
    client.create_api("after-503").await.unwrap();
    let client = server.faulty("fail-first=1;status=429;retry-after-ms=20");
    client.create_role("after-429", &[], None).await.unwrap();

    // Nothing listens: the connection fails before anything is sent, so any call may retry;
    // it fails after every attempt with a network error that says so.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let nobody = Client::builder()
        .base_url(format!("http://127.0.0.1:{port}"))
        .root_key("unkey_nobody")
        .retry(RetryPolicy::default().with_base_delay(Duration::from_millis(5)))
        .build()
        .unwrap();
    let err = nobody.create_api("refused").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Network, "{err:?}");
    assert!(err.not_sent, "{err:?}");
    server.stop().await;
}

/// A one-connection-at-a-time HTTP server answering every request with `response`, counting
/// requests. Returns its base URL and the counter.
async fn canned(response: &'static str) -> (String, std::sync::Arc<std::sync::atomic::AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut have = Vec::new();
                loop {
                    let Ok(n) = sock.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    have.extend_from_slice(&buf[..n]);
                    // One request: headers, then Content-Length bytes of body.
                    let Some(end) = have.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&have[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if have.len() < end + 4 + len {
                        continue;
                    }
                    have.drain(..end + 4 + len);
                    seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if sock.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, count)
}

fn client_for(url: &str) -> Client {
    Client::builder()
        .base_url(url)
        .root_key("unkey_canned")
        .retry(
            RetryPolicy::default()
                .with_base_delay(Duration::from_millis(5))
                .with_max_delay(Duration::from_millis(20)),
        )
        .deadline(Duration::from_secs(3))
        .build()
        .unwrap()
}

/// #3: hostile Retry-After values never panic the client, and no call outlives its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_retry_after_headers_never_panic_or_outlive_the_deadline() {
    const R429: &str = "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n";
    let cases: &[(&str, &str)] = &[
        ("retry-after: 1e300\r\n", "huge"),
        ("retry-after: NaN\r\n", "nan"),
        ("retry-after: -1\r\n", "negative"),
        ("retry-after: 184467440737095516160\r\n", "huge integer"),
        ("retry-after: Fri, 31 Dec 9999 23:59:59 GMT\r\n", "far date"),
        ("retry-after: Mon, 99 Foo 2024 99:99:99 GMT\r\n", "bad date"),
        ("retry-after-ms: 1e300\r\n", "ms huge"),
        ("retry-after-ms: -5\r\nretry-after: inf\r\n", "ms negative"),
    ];
    for (header, what) in cases {
        let response: &'static str =
            Box::leak(format!("{R429}{header}content-length: 2\r\n\r\n{{}}").into_boxed_str());
        let (url, count) = canned(response).await;
        let started = Instant::now();
        let err = client_for(&url).get_api("api_x").await.unwrap_err();
        assert_eq!(err.code, ErrorCode::RateLimited, "{what}: {err:?}");
        assert!(started.elapsed() < Duration::from_secs(4), "{what}");
        assert!(count.load(std::sync::atomic::Ordering::SeqCst) >= 1);
        if let Some(s) = err.retry_after {
            assert!(s.is_finite() && s >= 0.0, "{what}: {s}");
        }
    }
}

/// #10: a 2xx whose body cannot be read took effect: it is never sent again, and the error
/// says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_2xx_is_never_sent_again() {
    let (url, count) = canned(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n{\"data\":[",
    )
    .await;
    let client = client_for(&url);
    let request = keyshift_core::wire::MigrateKeysRequest {
        migration_id: "migration_a".into(),
        api_id: "api_canned".into(),
        keys: vec![keyshift_core::wire::MigrateKeyData {
            hash: keyshift_core::hashing::sha256_base64("sk_canned_1"),
            ..Default::default()
        }],
        hash_variant: None,
    };
    let err = client
        .migrate_keys_batch(&request, "idem_canned")
        .await
        .unwrap_err();
    assert!(err.message.contains("took effect"), "{err}");
    assert_eq!(err.status, Some(200));
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);

    // Valid JSON, wrong shape (the decode step): same.
    let (url, count) = canned(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 33\r\n\r\n{\"data\":{\"migrated\":\"not a list\"}",
    )
    .await;
    let err = client_for(&url)
        .migrate_keys_batch(&request, "idem_canned")
        .await
        .unwrap_err();
    assert!(err.message.contains("took effect"), "{err}");
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
}
