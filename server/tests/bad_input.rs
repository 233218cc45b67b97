//! Bad input over HTTP (issue 14, item 2): every malformed request answers a 4xx problem
//! (never a 5xx, never a hang) naming the faulty body field; the server answers the next request;
//! nothing refused is half-written. What `http_plumbing` and `conformance_*` already cover
//! (small limits, plain malformed JSON, single-field schema violations) is not repeated.

mod common;

use std::time::Duration;

use common::{assert_problem, start, start_with_api, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

/// No answer within this time is a hang.
const DEADLINE: Duration = Duration::from_secs(30);
const MIB: usize = 1024 * 1024;

#[derive(Clone)]
enum Auth {
    Root,
    None,
    /// These exact header values, in order (two of them: a duplicated header).
    Raw(Vec<Vec<u8>>),
}

#[derive(Clone)]
enum Send {
    /// Through reqwest, with `Content-Length`.
    Http {
        method: Method,
        auth: Auth,
        content_type: Option<Vec<u8>>,
        body: Vec<u8>,
    },
    /// A whole request written on a raw socket while the answer is read (the server answers
    /// a too-large body before reading it all, and a client still writing may see a reset).
    Raw(Vec<u8>),
}

struct Case {
    name: String,
    op: &'static str,
    send: Send,
    status: u16,
    /// The `errors[].location` the answer must name (exactly).
    location: Option<String>,
    /// The answer is our problem JSON (false: HTTP framing refused by hyper, an empty 4xx).
    problem: bool,
}

fn case(name: &str, op: &'static str, body: impl Into<Vec<u8>>, status: u16, loc: &str) -> Case {
    Case {
        name: name.to_string(),
        op,
        send: Send::Http {
            method: Method::POST,
            auth: Auth::Root,
            content_type: Some(b"application/json".to_vec()),
            body: body.into(),
        },
        status,
        location: (!loc.is_empty()).then(|| loc.to_string()),
        problem: true,
    }
}

/// A raw HTTP/1.1 request to `op` with the root key, JSON content type, `extra` header lines
/// (each ending in CRLF) and `body` as is.
fn raw_case(
    name: &str,
    s: &TestServer,
    op: &'static str,
    extra: &str,
    body: &[u8],
    status: u16,
    loc: &str,
) -> Case {
    let mut req = format!(
        "POST /v2/{op} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nConnection: close\r\n{extra}\r\n",
        s.root_key
    )
    .into_bytes();
    req.extend_from_slice(body);
    Case {
        name: name.to_string(),
        op,
        send: Send::Raw(req),
        status,
        location: (!loc.is_empty()).then(|| loc.to_string()),
        problem: true,
    }
}

/// `c` is refused by hyper's HTTP framing: an empty 4xx, not our problem JSON.
fn framing(c: Case) -> Case {
    Case {
        problem: false,
        ..c
    }
}

fn json_case(name: &str, op: &'static str, body: Value, status: u16, loc: &str) -> Case {
    case(name, op, body.to_string(), status, loc)
}

fn with_auth(mut c: Case, values: Auth) -> Case {
    if let Send::Http { auth, .. } = &mut c.send {
        *auth = values;
    }
    c
}

fn with_content_type(mut c: Case, value: Option<&[u8]>) -> Case {
    if let Send::Http { content_type, .. } = &mut c.send {
        *content_type = value.map(<[u8]>::to_vec);
    }
    c
}

fn with_method(mut c: Case, m: Method) -> Case {
    if let Send::Http { method, .. } = &mut c.send {
        *method = m;
    }
    c
}

/// `depth` nested arrays around `1`.
fn deep_array(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

/// `depth` nested objects `{"a":…}` around `1`.
fn deep_object(depth: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

fn many_strings(n: usize, prefix: &str) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn many_props(n: usize) -> Value {
    Value::Object((0..n).map(|i| (format!("k{i}"), json!(i))).collect())
}

fn many_ratelimits(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"name": format!("rl{i}"), "limit": 1, "duration": 1000, "autoApply": false}))
            .collect(),
    )
}

/// Sends `request` on a fresh connection, writing and reading at once (the server may answer
/// before it has read everything), and returns (status, body) of the answer.
async fn raw_exchange(base: &str, request: Vec<u8>) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&request).await;
        let _ = wr.flush().await;
        wr // keep the write half open until the answer is read
    });
    let mut buf = Vec::new();
    let read = tokio::time::timeout(DEADLINE, async {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if len.is_some_and(|len| buf.len() >= end + 4 + len) {
                    break;
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within {DEADLINE:?}: a hang");
    writer.abort();
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(&buf)));
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    (status, buf[end + 4..].to_vec())
}

/// A request with `Content-Length`.
fn sized_request(op: &str, root_key: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST /v2/{op} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {root_key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

/// A request with `Transfer-Encoding: chunked` and no length.
fn chunked_request(op: &str, root_key: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST /v2/{op} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {root_key}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(64 * 1024) {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    req
}

/// Sends one case; returns (status, body bytes).
async fn send(s: &TestServer, client: &reqwest::Client, c: &Case) -> (u16, Vec<u8>) {
    match &c.send {
        Send::Raw(request) => raw_exchange(&s.base, request.clone()).await,
        Send::Http {
            method,
            auth,
            content_type,
            body,
        } => {
            let mut req = client
                .request(method.clone(), s.url(&format!("/v2/{}", c.op)))
                .body(body.clone());
            match auth {
                Auth::Root => req = req.bearer_auth(&s.root_key),
                Auth::None => {}
                Auth::Raw(values) => {
                    for v in values {
                        // `header` appends: two values are two header lines.
                        req = req.header(
                            "authorization",
                            reqwest::header::HeaderValue::from_bytes(v).unwrap(),
                        );
                    }
                }
            }
            if let Some(ct) = content_type {
                req = req.header(
                    "content-type",
                    reqwest::header::HeaderValue::from_bytes(ct).unwrap(),
                );
            }
            let resp = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("{}: no answer (hang or reset?): {e}", c.name));
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.unwrap().to_vec();
            (status, bytes)
        }
    }
}

/// The server still serves: liveness and a real verification of a good key.
async fn still_serves(s: &TestServer, key: &str, after: &str) {
    let live = tokio::time::timeout(DEADLINE, s.client.get(s.url("/v2/liveness")).send())
        .await
        .unwrap_or_else(|_| panic!("after {after}: liveness hangs"))
        .unwrap_or_else(|e| panic!("after {after}: liveness fails: {e}"));
    assert_eq!(live.status(), 200, "after {after}");
    let data = s.verify(json!({"key": key})).await;
    assert_eq!(data["valid"], true, "after {after}: {data}");
}

/// The answer to `c` is its 4xx problem, naming its location.
fn check(c: &Case, status: u16, bytes: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(bytes);
    if status != c.status || !(400..500).contains(&status) {
        return Err(format!("answered {status}, expected {}: {text}", c.status));
    }
    if !c.problem || matches!(&c.send, Send::Http { method, .. } if method == Method::HEAD) {
        return Ok(()); // no body
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON ({e}): {text}"))?;
    std::panic::catch_unwind(|| assert_problem(&v, status))
        .map_err(|_| format!("not the problem shape: {v}"))?;
    if let Some(loc) = &c.location {
        let locations: Vec<&str> = v["error"]["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["location"].as_str())
            .collect();
        // Exactly `loc`, or a place inside it (deep nesting names the level where it stopped).
        let inside = |l: &&str| {
            l.strip_prefix(loc.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        };
        if !locations.iter().any(inside) {
            return Err(format!("expected location {loc}, got {locations:?}: {v}"));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_answers_4xx_and_leaves_no_trace() {
    let s = start().await;
    let client = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .unwrap();
    let api = s.create_api("bad-input").await;
    let (key_id, key) = s.create_key(json!({"apiId": api})).await;
    let root = format!("Bearer {}", s.root_key).into_bytes();

    let create = |extra: Value| {
        let mut body = json!({"apiId": api});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let hash = keyshift_core::hashing::sha256_base64("sk_bad_input_migrate_0001");
    let migrate = |records: Value| json!({"apiId": api, "migrationId": "m_bad", "keys": records});

    let mut cases = vec![
        // --- oversized bodies (limit 10 MiB): 413, with and without Content-Length
        Case {
            name: "createKey > 10 MiB with Content-Length".into(),
            op: "keys.createKey",
            send: Send::Raw(sized_request(
                "keys.createKey",
                &s.root_key,
                create(json!({"name": "n", "meta": {"big": "x".repeat(10 * MIB + 1)}}))
                    .to_string()
                    .as_bytes(),
            )),
            status: 413,
            location: None,
            problem: true,
        },
        Case {
            name: "migrateKeys > 10 MiB chunked, no Content-Length".into(),
            op: "keys.migrateKeys",
            send: Send::Raw(chunked_request(
                "keys.migrateKeys",
                &s.root_key,
                &migrate(Value::Array(
                    (0..120_000)
                        .map(|i| json!({"hash": format!("{hash}{i:040}"), "name": "n"}))
                        .collect(),
                ))
                .to_string()
                .into_bytes(),
            )),
            status: 413,
            location: None,
            problem: true,
        },
        Case {
            name: "verifyKey whitespace past 10 MiB chunked".into(),
            op: "keys.verifyKey",
            send: Send::Raw(chunked_request(
                "keys.verifyKey",
                &s.root_key,
                &[
                    json!({"key": key}).to_string().into_bytes(),
                    vec![b' '; 10 * MIB],
                ]
                .concat(),
            )),
            status: 413,
            location: None,
            problem: true,
        },
        // --- deep nesting (10,000 levels)
        case(
            "whole body: 10k nested objects",
            "keys.createKey",
            deep_object(10_000),
            400,
            "body.a",
        ),
        case(
            "whole body: 10k nested arrays",
            "keys.verifyKey",
            deep_array(10_000),
            400,
            "body[0]",
        ),
        case(
            "meta value: 10k nested arrays",
            "keys.createKey",
            format!(
                r#"{{"apiId":"{api}","meta":{{"x":{}}}}}"#,
                deep_array(10_000)
            ),
            400,
            "body.meta",
        ),
        case(
            "verify key: 10k nested objects",
            "keys.verifyKey",
            format!(r#"{{"key":{}}}"#, deep_object(10_000)),
            400,
            "body.key",
        ),
        case(
            "migrate record meta: 10k nested objects",
            "keys.migrateKeys",
            format!(
                r#"{{"apiId":"{api}","migrationId":"m_bad","keys":[{{"hash":"{hash}","meta":{{"x":{}}}}}]}}"#,
                deep_object(10_000)
            ),
            400,
            "body.keys[0].meta",
        ),
        // --- wrong types
        json_case(
            "name is a number",
            "apis.createApi",
            json!({"name": 123}),
            400,
            "body.name",
        ),
        json_case(
            "apiId is a number",
            "keys.createKey",
            json!({"apiId": 42}),
            400,
            "body.apiId",
        ),
        json_case(
            "byteLength is a string",
            "keys.createKey",
            create(json!({"byteLength": "16"})),
            400,
            "body.byteLength",
        ),
        json_case(
            "byteLength is a float",
            "keys.createKey",
            create(json!({"byteLength": 16.5})),
            400,
            "body.byteLength",
        ),
        case(
            "byteLength past u64",
            "keys.createKey",
            format!(r#"{{"apiId":"{api}","byteLength":184467440737095516160}}"#),
            400,
            "body.byteLength",
        ),
        case(
            "expires is 1e999",
            "keys.createKey",
            format!(r#"{{"apiId":"{api}","expires":1e999}}"#),
            400,
            "body.expires",
        ),
        json_case(
            "enabled is a string",
            "keys.createKey",
            create(json!({"enabled": "yes"})),
            400,
            "body.enabled",
        ),
        json_case(
            "meta is an array",
            "keys.createKey",
            create(json!({"meta": []})),
            400,
            "body.meta",
        ),
        json_case(
            "permissions is a string",
            "keys.createKey",
            create(json!({"permissions": "a"})),
            400,
            "body.permissions",
        ),
        json_case(
            "permissions holds a number",
            "keys.createKey",
            create(json!({"permissions": ["a", 1]})),
            400,
            "body.permissions[1]",
        ),
        json_case(
            "roles is an object",
            "keys.createKey",
            create(json!({"roles": {}})),
            400,
            "body.roles",
        ),
        json_case(
            "credits is a number",
            "keys.createKey",
            create(json!({"credits": 5})),
            400,
            "body.credits",
        ),
        json_case(
            "credits.remaining is a string",
            "keys.createKey",
            create(json!({"credits": {"remaining": "1"}})),
            400,
            "body.credits.remaining",
        ),
        json_case(
            "ratelimits is an object",
            "keys.createKey",
            create(json!({"ratelimits": {}})),
            400,
            "body.ratelimits",
        ),
        json_case(
            "ratelimits[0].limit is a string",
            "keys.createKey",
            create(
                json!({"ratelimits": [{"name": "rl1", "limit": "1", "duration": 1000, "autoApply": false}]}),
            ),
            400,
            "body.ratelimits[0].limit",
        ),
        json_case(
            "verify key is a number",
            "keys.verifyKey",
            json!({"key": 123}),
            400,
            "body.key",
        ),
        json_case(
            "verify credits.cost is a string",
            "keys.verifyKey",
            json!({"key": key, "credits": {"cost": "1"}}),
            400,
            "body.credits.cost",
        ),
        json_case(
            "body is a string",
            "keys.verifyKey",
            json!("sk_x"),
            400,
            "body",
        ),
        json_case("body is true", "apis.createApi", json!(true), 400, "body"),
        json_case(
            "migrate keys is a string",
            "keys.migrateKeys",
            migrate(json!("x")),
            400,
            "body.keys",
        ),
        json_case(
            "migrate keys[1] is a number",
            "keys.migrateKeys",
            migrate(json!([{"hash": hash}, 5])),
            400,
            "body.keys[1]",
        ),
        json_case(
            "listKeys limit is a string",
            "apis.listKeys",
            json!({"apiId": api, "limit": "10"}),
            400,
            "body.limit",
        ),
        json_case(
            "updateKey keyId is an array",
            "keys.updateKey",
            json!({"keyId": [key_id]}),
            400,
            "body.keyId",
        ),
        // --- arrays and maps past each limit
        json_case(
            "createKey permissions 1001",
            "keys.createKey",
            create(json!({"permissions": many_strings(1001, "p")})),
            400,
            "body.permissions",
        ),
        json_case(
            "createKey roles 101",
            "keys.createKey",
            create(json!({"roles": many_strings(101, "r")})),
            400,
            "body.roles",
        ),
        json_case(
            "createKey meta 101 props",
            "keys.createKey",
            create(json!({"meta": many_props(101)})),
            400,
            "body.meta",
        ),
        json_case(
            "createKey ratelimits 51",
            "keys.createKey",
            create(json!({"ratelimits": many_ratelimits(51)})),
            400,
            "body.ratelimits",
        ),
        json_case(
            "updateKey meta 101 props",
            "keys.updateKey",
            json!({"keyId": key_id, "meta": many_props(101)}),
            400,
            "body.meta",
        ),
        json_case(
            "updateKey ratelimits 51",
            "keys.updateKey",
            json!({"keyId": key_id, "ratelimits": many_ratelimits(51)}),
            400,
            "body.ratelimits",
        ),
        json_case(
            "addPermissions 1001",
            "keys.addPermissions",
            json!({"keyId": key_id, "permissions": many_strings(1001, "p")}),
            400,
            "body.permissions",
        ),
        json_case(
            "setPermissions 1001",
            "keys.setPermissions",
            json!({"keyId": key_id, "permissions": many_strings(1001, "p")}),
            400,
            "body.permissions",
        ),
        json_case(
            "addRoles 101",
            "keys.addRoles",
            json!({"keyId": key_id, "roles": many_strings(101, "r")}),
            400,
            "body.roles",
        ),
        json_case(
            "setRoles 101",
            "keys.setRoles",
            json!({"keyId": key_id, "roles": many_strings(101, "r")}),
            400,
            "body.roles",
        ),
        json_case(
            "verify tags 21",
            "keys.verifyKey",
            json!({"key": key, "tags": many_strings(21, "t")}),
            400,
            "body.tags",
        ),
        json_case(
            "createIdentity meta 101 props",
            "identities.createIdentity",
            json!({"externalId": "bad-input", "meta": many_props(101)}),
            400,
            "body.meta",
        ),
        json_case(
            "createIdentity ratelimits 51",
            "identities.createIdentity",
            json!({"externalId": "bad-input", "ratelimits": many_ratelimits(51)}),
            400,
            "body.ratelimits",
        ),
        json_case(
            "migrate record 2 of 3: permissions 1001",
            "keys.migrateKeys",
            migrate(
                json!([{"hash": hash}, {"hash": format!("{hash}x")}, {"hash": format!("{hash}y"), "permissions": many_strings(1001, "p")}]),
            ),
            400,
            "body.keys[2].permissions",
        ),
        json_case(
            "migrate record 1 of 2: roles 101",
            "keys.migrateKeys",
            migrate(
                json!([{"hash": hash}, {"hash": format!("{hash}x"), "roles": many_strings(101, "r")}]),
            ),
            400,
            "body.keys[1].roles",
        ),
        json_case(
            "migrate record 0: meta 101 props",
            "keys.migrateKeys",
            migrate(json!([{"hash": hash, "meta": many_props(101)}])),
            400,
            "body.keys[0].meta",
        ),
        json_case(
            "migrate record 0: ratelimits 51",
            "keys.migrateKeys",
            migrate(json!([{"hash": hash, "ratelimits": many_ratelimits(51)}])),
            400,
            "body.keys[0].ratelimits",
        ),
        // --- invalid UTF-8 and bad escapes
        case(
            "invalid UTF-8 in a value",
            "apis.createApi",
            b"{\"name\":\"ab\xff\xfecd\"}".to_vec(),
            400,
            "body.name",
        ),
        case(
            "overlong UTF-8 in a value",
            "keys.verifyKey",
            b"{\"key\":\"sk_\xc0\xaf\"}".to_vec(),
            400,
            "body.key",
        ),
        case(
            "invalid UTF-8 in a field name",
            "apis.createApi",
            b"{\"na\xffme\":\"x\"}".to_vec(),
            400,
            "body.…",
        ),
        case(
            "lone surrogate escape",
            "apis.createApi",
            br#"{"name":"ab\ud800cd"}"#.to_vec(),
            400,
            "body.name",
        ),
        // --- unknown and duplicated fields
        json_case(
            "unknown top-level field",
            "apis.createApi",
            json!({"name": "x-api", "bogus": 1}),
            400,
            "body.bogus",
        ),
        json_case(
            "field name in the wrong case",
            "keys.verifyKey",
            json!({"key": key, "Key": key}),
            400,
            "body.Key",
        ),
        json_case(
            "unknown nested field",
            "keys.createKey",
            create(json!({"credits": {"remaining": 1, "bogus": true}})),
            400,
            "body.credits.bogus",
        ),
        json_case(
            "unknown field in a migrate record",
            "keys.migrateKeys",
            migrate(json!([{"hash": hash}, {"hash": format!("{hash}x"), "plaintext": "sk_x"}])),
            400,
            "body.keys[1].plaintext",
        ),
        case(
            "duplicated field",
            "apis.createApi",
            r#"{"name":"one-api","name":"two-api"}"#,
            400,
            "body.name",
        ),
        // --- NUL bytes
        case(
            "raw NUL in a string",
            "apis.createApi",
            b"{\"name\":\"a\x00b-api\"}".to_vec(),
            400,
            "body.name",
        ),
        case(
            "raw NUL outside a string",
            "apis.createApi",
            b"{\"name\":\"nul-api\"}\x00".to_vec(),
            400,
            "body",
        ),
        json_case(
            "escaped NUL in a field name",
            "apis.createApi",
            json!({"na\u{0}me": "x-api"}),
            400,
            "body.…",
        ),
        json_case(
            "escaped NUL in a permission slug",
            "permissions.createPermission",
            json!({"name": "p", "slug": "a\u{0}b"}),
            400,
            "body.slug",
        ),
        json_case(
            "escaped NUL in a prefix",
            "keys.createKey",
            create(json!({"prefix": "sk\u{0}"})),
            400,
            "body.prefix",
        ),
        // --- a 10k-character key
        json_case(
            "verify a 10k-char key",
            "keys.verifyKey",
            json!({"key": "k".repeat(10_000)}),
            400,
            "body.key",
        ),
        json_case(
            "whoami a 10k-char key",
            "keys.whoami",
            json!({"key": "k".repeat(10_000)}),
            400,
            "body.key",
        ),
        // --- a refused createKey that would have created permissions on the fly
        json_case(
            "createKey with a new permission and an unknown role",
            "keys.createKey",
            create(json!({"permissions": ["bad_input.fresh"], "roles": ["no_such_role"]})),
            404,
            "",
        ),
    ];

    // --- Authorization: missing, garbled, duplicated
    let good_verify = json!({"key": key});
    let good_create = create(json!({"name": "must-not-exist"}));
    for (name, values, status) in [
        ("no Authorization", None, 400),
        (
            "two valid Authorization headers",
            Some(vec![root.clone(), root.clone()]),
            400,
        ),
        (
            "valid then garbled Authorization",
            Some(vec![root.clone(), b"Basic Zm9vOmJhcg==".to_vec()]),
            400,
        ),
        (
            "garbled then valid Authorization",
            Some(vec![b"Bearer".to_vec(), root.clone()]),
            400,
        ),
        (
            "unknown then valid Authorization",
            Some(vec![b"Bearer sk_unknown_0123456789".to_vec(), root.clone()]),
            400,
        ),
        (
            "non-UTF-8 Authorization",
            Some(vec![b"Bearer \xff\xfe\xfd".to_vec()]),
            400,
        ),
        (
            "tab instead of space",
            Some(vec![b"Bearer\tabc".to_vec()]),
            400,
        ),
        (
            "10k-char root key",
            Some(vec![format!("Bearer {}", "r".repeat(10_000)).into_bytes()]),
            401,
        ),
    ] {
        let auth = values.map_or(Auth::None, Auth::Raw);
        let loc = if status == 400 {
            "header.Authorization"
        } else {
            ""
        };
        for (op, body) in [
            ("keys.verifyKey", &good_verify),
            ("keys.createKey", &good_create),
        ] {
            cases.push(with_auth(
                json_case(&format!("{name} on {op}"), op, body.clone(), status, loc),
                auth.clone(),
            ));
        }
    }

    // --- every method but POST on an op route, with a valid body and root key
    for method in [
        "GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "PURGE",
    ] {
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        cases.push(with_method(
            json_case(
                &format!("{method} keys.createKey"),
                "keys.createKey",
                good_create.clone(),
                405,
                "",
            ),
            m.clone(),
        ));
        cases.push(with_method(
            json_case(
                &format!("{method} keys.verifyKey"),
                "keys.verifyKey",
                good_verify.clone(),
                405,
                "",
            ),
            m,
        ));
    }

    // --- wrong or missing content types
    for ct in [
        &b"application/xml"[..],
        b"text/json",
        b"application/jsonx",
        b"application/x-www-form-urlencoded; charset=utf-8",
        b"",
        b"json",
        b"\xff\xfe",
    ] {
        cases.push(with_content_type(
            json_case(
                &format!("Content-Type {:?}", String::from_utf8_lossy(ct)),
                "keys.createKey",
                good_create.clone(),
                400,
                "header.Content-Type",
            ),
            Some(ct),
        ));
    }
    cases.push(with_content_type(
        case(
            "no Content-Type, body not JSON",
            "keys.createKey",
            "apiId=x",
            400,
            "body",
        ),
        None,
    ));
    cases.push(with_content_type(
        json_case(
            "no Content-Type, unknown field",
            "keys.createKey",
            create(json!({"bogus": 1})),
            400,
            "body.bogus",
        ),
        None,
    ));

    // --- HTTP framing: lying, repeated or broken lengths, odd methods and headers
    let good = json!({"key": key}).to_string();
    let sized = |n: usize| format!("Content-Length: {n}\r\n");
    cases.extend([
        framing(raw_case(
            "Content-Length past u64",
            &s,
            "keys.verifyKey",
            "Content-Length: 99999999999999999999999\r\n",
            good.as_bytes(),
            400,
            "",
        )),
        framing(raw_case(
            "two different Content-Length",
            &s,
            "keys.verifyKey",
            &format!("{}Content-Length: 3\r\n", sized(good.len())),
            good.as_bytes(),
            400,
            "",
        )),
        raw_case(
            "Content-Length 11 MiB, 2 bytes sent",
            &s,
            "keys.createKey",
            &sized(11 * MIB),
            b"{}",
            413,
            "",
        ),
        raw_case(
            "bad chunk size",
            &s,
            "keys.verifyKey",
            "Transfer-Encoding: chunked\r\n",
            b"zz\r\n{}\r\n0\r\n\r\n",
            400,
            "body",
        ),
        framing(raw_case(
            "NUL in a header value",
            &s,
            "keys.verifyKey",
            &format!("X-A: a\0b\r\n{}", sized(good.len())),
            good.as_bytes(),
            400,
            "",
        )),
        raw_case(
            "two Content-Type headers",
            &s,
            "keys.createKey",
            &format!(
                "Content-Type: text/plain\r\n{}",
                sized(good_create.to_string().len())
            ),
            good_create.to_string().as_bytes(),
            400,
            "header.Content-Type",
        ),
        raw_case(
            "two Authorization headers (raw)",
            &s,
            "keys.createKey",
            &format!(
                "Authorization: Bearer {}\r\n{}",
                s.root_key,
                sized(good_create.to_string().len())
            ),
            good_create.to_string().as_bytes(),
            400,
            "header.Authorization",
        ),
    ]);
    let mut connect = raw_case(
        "CONNECT keys.verifyKey",
        &s,
        "keys.verifyKey",
        &sized(0),
        b"",
        405,
        "",
    );
    if let Send::Raw(req) = &mut connect.send {
        req.splice(0..4, b"CONNECT".iter().copied());
    }
    cases.push(connect);

    let mut failures = Vec::new();
    for c in &cases {
        let (status, bytes) = tokio::time::timeout(DEADLINE, send(&s, &client, c))
            .await
            .unwrap_or_else(|_| panic!("{}: no answer within {DEADLINE:?}", c.name));
        if let Err(why) = check(c, status, &bytes) {
            failures.push(format!("{}: {why}", c.name));
        }
        still_serves(&s, &key, &c.name).await;
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing refused was written: still the one good key, no identity, no permission.
    assert_eq!(s.key_count(&api).await, 1);
    let perms = s.ok("permissions.listPermissions", json!({})).await;
    assert_eq!(perms, json!([]), "a refused request created permissions");
    // A refused createIdentity did not create it.
    s.fails(
        "identities.getIdentity",
        json!({"identity": "bad-input"}),
        404,
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_odd_keys_are_not_found_not_errors() {
    // A key is opaque: NUL bytes or odd characters in it are an unknown key (200 NOT_FOUND).
    let (s, api) = start_with_api("odd-keys").await;
    let (_, key) = s.create_key(json!({"apiId": api})).await;
    for odd in [
        format!("{key}\u{0}"),
        format!("\u{0}{key}"),
        "\u{0}".repeat(512),
        "k".repeat(512),
        "\u{feff}sk_x".to_string(),
    ] {
        let data = s.verify(json!({"key": odd})).await;
        assert_eq!(data["valid"], false, "{data}");
        assert_eq!(data["code"], "NOT_FOUND", "{data}");
    }
    assert_eq!(s.verify(json!({"key": key})).await["valid"], true);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_batch_with_one_bad_record_is_all_or_per_hash() {
    let (s, api) = start_with_api("migrate-bad").await;
    let plain: Vec<String> = (0..5).map(|i| format!("sk_bad_batch_{i:020}")).collect();
    let hashes: Vec<String> = plain
        .iter()
        .map(|k| keyshift_core::hashing::sha256_base64(k))
        .collect();
    let records = |bad_at: usize, bad: Value| {
        let keys: Vec<Value> = hashes
            .iter()
            .enumerate()
            .map(|(i, h)| {
                if i == bad_at {
                    let mut r = json!({"hash": h});
                    r.as_object_mut()
                        .unwrap()
                        .extend(bad.as_object().unwrap().clone());
                    r
                } else {
                    json!({"hash": h, "name": format!("k{i}")})
                }
            })
            .collect();
        json!({"apiId": api, "migrationId": "m_batch", "keys": keys})
    };

    // A schema fault in record 3 rejects the whole batch: nothing migrated.
    for (bad, location) in [
        (json!({"expires": "soon"}), "body.keys[3].expires"),
        (
            json!({"permissions": many_strings(1001, "p")}),
            "body.keys[3].permissions",
        ),
        (json!({"meta": many_props(101)}), "body.keys[3].meta"),
        (json!({"bogus": 1}), "body.keys[3].bogus"),
        (json!({"hash": "a\u{0}b"}), "body.keys[3].hash"),
    ] {
        s.fails_at("keys.migrateKeys", records(3, bad), location)
            .await;
        assert_eq!(s.key_count(&api).await, 0, "a rejected batch left keys");
        for k in &plain {
            assert_eq!(s.verify(json!({"key": k})).await["code"], "NOT_FOUND");
        }
    }
    let perms = s.ok("permissions.listPermissions", json!({})).await;
    assert_eq!(perms, json!([]), "a rejected batch created permissions");

    // Record 2 repeats record 0's hash: a per-hash failure, the other four migrate.
    let mut body = records(usize::MAX, json!({}));
    body["keys"][2]["hash"] = json!(hashes[0]);
    let data = s.ok("keys.migrateKeys", body).await;
    assert_eq!(data["migrated"].as_array().unwrap().len(), 4, "{data}");
    let failed = data["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{data}");
    let failed_hash = failed[0].as_str().or(failed[0]["hash"].as_str());
    assert_eq!(failed_hash, Some(hashes[0].as_str()), "{data}");
    assert_eq!(s.key_count(&api).await, 4);
    for (i, k) in plain.iter().enumerate() {
        let code = s.verify(json!({"key": k})).await["code"].clone();
        assert_eq!(code, if i == 2 { "NOT_FOUND" } else { "VALID" }, "key {i}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_authorization_over_http2_is_refused() {
    let (s, api) = start_with_api("h2-dup-auth").await;
    for second in [
        format!("Bearer {}", s.root_key),
        "Bearer sk_other_0123456789".into(),
    ] {
        let body = json!({"apiId": api});
        let (status, v) = s
            .call_h2("keys.createKey", body, &[("authorization", &second)])
            .await;
        assert_eq!(status, 400, "{second}: {v}");
        assert_problem(&v, 400);
        assert_eq!(v["error"]["errors"][0]["location"], "header.Authorization");
    }
    assert_eq!(s.key_count(&api).await, 0);
    s.stop().await;
}
