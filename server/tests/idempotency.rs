//! Issue 9, defect 6: idempotency fingerprints are taken over canonical JSON (whitespace and key
//! order do not matter), and stored answers are encrypted with a key derived from a server
//! secret kept beside the database file (`<db>.secret`, mode 0600), never inside it.

mod common;

use common::{start, start_on, start_with_api, Options, TestServer};
use serde_json::Value;

/// POST a raw body with an `Idempotency-Key`; returns (status, answer).
async fn post_raw(s: &TestServer, op: &str, idem: &str, body: &str) -> (u16, Value) {
    let resp = s
        .client
        .post(s.url(&format!("/v2/{op}")))
        .bearer_auth(&s.root_key)
        .header("content-type", "application/json")
        .header("idempotency-key", idem)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_request_with_other_whitespace_or_key_order_is_replayed() {
    let (s, api) = start_with_api("idem-canonical").await;
    let first = format!(
        r#"{{"apiId":"{api}","name":"svc","meta":{{"plan":"pro","limits":{{"a":1,"b":[1,2]}}}},"permissions":["x.read","x.write"]}}"#
    );
    let (status, a) = post_raw(&s, "keys.createKey", "idem-canon-1", &first).await;
    assert_eq!(status, 200, "{a}");
    // Same request: keys reordered (also nested), other whitespace and line breaks.
    let reordered = format!(
        "{{\n  \"permissions\" : [ \"x.read\", \"x.write\" ],\n  \"meta\": {{ \"limits\": {{\"b\": [1, 2], \"a\": 1}}, \"plan\": \"pro\" }},\n\t\"name\":\"svc\", \"apiId\": \"{api}\"\n}}"
    );
    let (status, b) = post_raw(&s, "keys.createKey", "idem-canon-1", &reordered).await;
    assert_eq!(
        status, 200,
        "a repeat of the same request is replayed, not 409: {b}"
    );
    assert_eq!(a["data"], b["data"], "the first answer is replayed");
    assert_eq!(s.key_count(&api).await, 1, "one key minted");

    // A different request (array order matters, values matter) with the same key is 409.
    for other in [
        format!(
            r#"{{"apiId":"{api}","name":"svc","meta":{{"plan":"pro","limits":{{"a":1,"b":[2,1]}}}},"permissions":["x.read","x.write"]}}"#
        ),
        format!(
            r#"{{"apiId":"{api}","name":"svc2","meta":{{"plan":"pro","limits":{{"a":1,"b":[1,2]}}}},"permissions":["x.read","x.write"]}}"#
        ),
    ] {
        let (status, e) = post_raw(&s, "keys.createKey", "idem-canon-1", &other).await;
        assert_eq!(status, 409, "{e}");
    }
    assert_eq!(s.key_count(&api).await, 1);
    s.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_sealed_with_a_secret_kept_outside_the_database() {
    use std::os::unix::fs::PermissionsExt;

    let s = start().await;
    let secret_path = {
        let mut p = s.db.clone().into_os_string();
        p.push(".secret");
        std::path::PathBuf::from(p)
    };
    let meta = std::fs::metadata(&secret_path).expect("the secret file exists beside the db");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "secret file mode");
    assert!(meta.len() >= 32);

    let api = s.create_api("idem-secret").await;
    let body = format!(r#"{{"apiId":"{api}","name":"sealed"}}"#);
    let (status, a) = post_raw(&s, "keys.createKey", "idem-secret-1", &body).await;
    assert_eq!(status, 200, "{a}");
    let plaintext = a["data"]["key"].as_str().unwrap().to_string();
    let (status, b) = post_raw(&s, "keys.createKey", "idem-secret-1", &body).await;
    assert_eq!(status, 200);
    assert_eq!(b["data"]["key"], a["data"]["key"], "replayed");

    let root_key = s.root_key.clone();
    let db = s.db.clone();
    let dir = s.stop().await.unwrap();

    // Neither the database nor its WAL holds the plaintext key, nor the secret.
    let secret_text = std::fs::read(&secret_path).unwrap();
    for suffix in ["", "-wal"] {
        let mut p = db.clone().into_os_string();
        p.push(suffix);
        if let Ok(bytes) = std::fs::read(&p) {
            assert!(
                !contains(&bytes, plaintext.as_bytes()),
                "plaintext key in db{suffix}"
            );
            assert!(
                !contains(&bytes, &secret_text),
                "server secret in db{suffix}"
            );
        }
    }

    // The same database started again (its secret beside it) still replays.
    let s = start_on(&db, Some(root_key.clone()), Options::default()).await;
    let (status, c) = post_raw(&s, "keys.createKey", "idem-secret-1", &body).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["data"]["key"], a["data"]["key"]);
    s.stop().await;

    // A copy of the database without its secret cannot open the stored answer: the request is
    // refused (409, not retried by clients) and no second key is minted; a new secret is made.
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("copy.db");
    for suffix in ["", "-wal", "-shm"] {
        let mut from = db.clone().into_os_string();
        from.push(suffix);
        let mut to = copy.clone().into_os_string();
        to.push(suffix);
        if std::path::Path::new(&from).exists() {
            std::fs::copy(&from, &to).unwrap();
        }
    }
    let s = start_on(&copy, Some(root_key), Options::default()).await;
    let (status, e) = post_raw(&s, "keys.createKey", "idem-secret-1", &body).await;
    assert_eq!(status, 409, "{e}");
    let detail = e["error"]["detail"].as_str().unwrap();
    assert!(detail.contains("secret"), "{detail}");
    assert!(!e.to_string().contains(&plaintext));
    assert_eq!(s.key_count(&api).await, 1, "no second key minted");
    let copy_secret = std::fs::read(copy_dir.path().join("copy.db.secret")).unwrap();
    assert_ne!(copy_secret, secret_text, "the copy got a secret of its own");
    s.stop().await;
    drop(dir);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
