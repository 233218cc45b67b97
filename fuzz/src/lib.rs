//! The fuzz targets of keyshift, as plain functions: `fuzz/fuzz_targets/*.rs` hands them
//! libFuzzer's inputs, and `tests/replay.rs` runs every committed corpus input through them in
//! `cargo test`. Each asserts what must hold for *any* input, beyond "does not panic": no 5xx
//! and a JSON answer from the server, no plaintext key in a message, round trips that agree.

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, Request};
use keyshift_core::migrate::{self, Format, MigrateOptions, MigrationSource};
use keyshift_core::wire::Op;
use keyshift_core::{keyformat, parse_permission_query, retry};
use serde_json::Value;
use tower::ServiceExt;

/// A fuzz target: any input bytes.
pub type Target = fn(&[u8]);

/// Every target by name, as the corpus directories are named.
pub const TARGETS: &[(&str, Target)] = &[
    ("server_request", server_request),
    ("permission_query", permission_query),
    ("migration_jsonl", migration_jsonl),
    ("migration_csv", migration_csv),
    ("key_format", key_format),
    ("client_answer", client_answer),
];

// ----- server requests -----------------------------------------------------------------------

const ROOT_KEY: &str = "unkey_fuzzRootKeyNotASecret0000000000";

/// A server router over a temp database with one api and one key, shared by every input.
struct Harness {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    api_id: String,
    key_id: String,
    key: String,
    _dir: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("fuzz.db");
        let engine = keyshift_engine::Engine::open(db.to_str().unwrap()).expect("engine opens");
        engine.ensure_bootstrap(Some(ROOT_KEY)).expect("root key");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let router = keyshift_server::router(engine, keyshift_server::RouterOptions::default());
        let mut h = Harness {
            runtime,
            router,
            api_id: String::new(),
            key_id: String::new(),
            key: String::new(),
            _dir: dir,
        };
        let (_, api) = h.send(Op::CreateApi, br#"{"name":"fuzz"}"#.to_vec());
        h.api_id = api["data"]["apiId"].as_str().expect("apiId").to_string();
        let body = format!(
            r#"{{"apiId":"{}","prefix":"sk_fuzz","permissions":["orders.read"],"credits":{{"remaining":1000000}}}}"#,
            h.api_id
        );
        let (_, key) = h.send(Op::CreateKey, body.into_bytes());
        h.key_id = key["data"]["keyId"].as_str().expect("keyId").to_string();
        h.key = key["data"]["key"].as_str().expect("key").to_string();
        h
    })
}

impl Harness {
    fn send(&self, op: Op, body: Vec<u8>) -> (u16, Value) {
        let request = Request::post(format!("/v2/{}", op.name()))
            .header(header::AUTHORIZATION, format!("Bearer {ROOT_KEY}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("the answer body is readable");
            let answer = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{op:?} answered {status} with a body that is not JSON ({e}): {:?}",
                    String::from_utf8_lossy(&bytes)
                )
            });
            (status, answer)
        })
    }
}

/// Replaces `$API`, `$KEY_ID` and `$KEY` with the harness's real ids and key, so that seeds
/// (and what the fuzzer derives from them) reach past "not found" into the operations.
fn substitute(body: &[u8], h: &Harness) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut rest = body;
    'outer: while !rest.is_empty() {
        for (token, value) in [
            (&b"$KEY_ID"[..], h.key_id.as_bytes()),
            (&b"$KEY"[..], h.key.as_bytes()),
            (&b"$API"[..], h.api_id.as_bytes()),
        ] {
            if let Some(after) = rest.strip_prefix(token) {
                out.extend_from_slice(value);
                rest = after;
                continue 'outer;
            }
        }
        out.push(rest[0]);
        rest = &rest[1..];
    }
    out
}

/// The first byte picks the operation, the rest is its JSON body, sent through the server's own
/// router (parsing, validation, auth, the engine). Any answer must be a JSON envelope below
/// 500, and an error must not echo the plaintext key.
pub fn server_request(data: &[u8]) {
    let Some((op, status, answer)) = server_answer(data) else {
        return;
    };
    let h = harness();
    assert!(status < 500, "{op:?} answered {status}: {answer}");
    if status >= 400 {
        let text = answer.to_string();
        assert!(answer["error"].is_object(), "{op:?} {status}: {text}");
        assert!(
            !text.contains(&h.key),
            "{op:?} {status} echoes the plaintext key: {text}"
        );
    } else {
        assert!(answer.get("data").is_some(), "{op:?} {status}: {answer}");
    }
}

/// What the server answered to `data` (operation, status, body); `None` for an empty input.
pub fn server_answer(data: &[u8]) -> Option<(Op, u16, Value)> {
    let (&selector, body) = data.split_first()?;
    let h = harness();
    let op = Op::ALL[selector as usize % Op::ALL.len()];
    let (status, answer) = h.send(op, substitute(body, h));
    Some((op, status, answer))
}

// ----- permission queries --------------------------------------------------------------------

/// Any text: the parser answers (never panics), and a query it accepts prints back to a query
/// that parses to the same tree and evaluates the same.
pub fn permission_query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(query) = parse_permission_query(&text) else {
        return;
    };
    let printed = query.to_string();
    // The printed form spaces its operators, so a query near the 1000-character input limit
    // can print longer than the limit (found by fuzzing in CI): the limit is on input, not
    // grammar, so such a print is not re-parsed.
    if printed.chars().count() > 1000 {
        return;
    }
    let again = parse_permission_query(&printed)
        .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which does not parse: {e}"));
    assert_eq!(query, again, "{text:?} printed as {printed:?}");
    let names = query.names();
    let all: Vec<&str> = names.clone();
    let half: Vec<&str> = names.iter().step_by(2).copied().collect();
    for granted in [&all[..], &half[..], &[][..]] {
        assert_eq!(query.evaluate_set(granted), again.evaluate_set(granted));
    }
}

// ----- migration readers ---------------------------------------------------------------------

/// This thread's scratch file for reader inputs (readers take files).
fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "keyshift-fuzz-{}-{:?}-{name}",
        std::process::id(),
        std::thread::current().id()
    ))
}

/// A dry run of `data` as `format`: it reads to the end or fails cleanly, counts every record
/// once, and no error message holds a plaintext `key` value of the input.
fn migration(data: &[u8], format: Format) {
    let path = scratch(if format == Format::Csv {
        "in.csv"
    } else {
        "in.jsonl"
    });
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(data))
        .expect("scratch file");
    let options = MigrateOptions::new("api_fuzz", "fuzz").max_errors(10_000);
    let source = MigrationSource::File {
        path: path.clone(),
        format: Some(format),
    };
    let outcome = migrate::validate_source(source, &options, None);
    let _ = std::fs::remove_file(&path);
    let secrets = plaintext_keys(data, format);
    let messages: Vec<String> = match &outcome {
        Ok(report) => {
            assert_eq!(report.total, report.valid + report.invalid, "{report:?}");
            report.errors.iter().map(|e| format!("{e:?} {e}")).collect()
        }
        Err(e) => vec![format!("{e:?} {e}")],
    };
    for message in &messages {
        for secret in &secrets {
            assert!(
                !message.contains(secret.as_str()),
                "a message holds the plaintext key {secret:?}: {message}"
            );
        }
    }
}

/// The `key` values of the input shaped like secrets: at least 16 characters of
/// `[A-Za-z0-9_-]` with a letter and a digit (JSON lines' `key` strings, or a CSV `key` column's
/// cells). Messages may show plain words and names as they are (`shown_name`, `shown_value`),
/// and the fuzzer once made a key cell of a message's own text; such values are not secrets.
fn plaintext_keys(data: &[u8], format: Format) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    let long = |s: &str| {
        s.len() >= 16
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            && s.bytes().any(|b| b.is_ascii_digit())
            && s.bytes().any(|b| b.is_ascii_alphabetic())
    };
    match format {
        Format::Jsonl => text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v.get("key").and_then(Value::as_str).map(str::to_string))
            .filter(|k| long(k))
            .collect(),
        Format::Csv => {
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
            let Some(col) = header.iter().position(|h| h.trim() == "key") else {
                return Vec::new();
            };
            lines
                .filter_map(|l| l.split(',').nth(col))
                .map(|k| k.trim_matches('"').to_string())
                .filter(|k| long(k) && !k.contains('"'))
                .collect()
        }
    }
}

pub fn migration_jsonl(data: &[u8]) {
    migration(data, Format::Jsonl);
}

pub fn migration_csv(data: &[u8]) {
    migration(data, Format::Csv);
}

// ----- key format ----------------------------------------------------------------------------

/// Any text as a key: the shape checks answer, masking and the stored start never show a long
/// key whole, a key with its own checksum appended checks out, and a well-formed key is shown
/// masked wherever a request value is echoed.
pub fn key_format(data: &[u8]) {
    let key = String::from_utf8_lossy(data);
    let key = key.as_ref();
    let looks = keyformat::looks_like_key(key);
    let masked = keyformat::mask_key(key);
    let start = keyformat::key_start(key);
    let chars = key.chars().count();
    if chars >= 12 && !key.contains('…') {
        assert!(!masked.contains(key), "{key:?} masked as {masked:?}");
        assert!(start.chars().count() < chars, "{key:?} starts as {start:?}");
    }
    if let Some(prefix) = keyformat::key_prefix(key) {
        assert!(key.starts_with(prefix));
    }
    if looks {
        assert!(keyformat::has_valid_checksum(key));
        assert_ne!(keyformat::shown_value(key), key, "a key echoed as it is");
        assert_ne!(keyformat::shown_name(key), key, "a key echoed as it is");
    }
    if key.is_ascii() && !key.is_empty() {
        let signed = format!("{key}{}", keyformat::checksum(key));
        assert!(keyformat::has_valid_checksum(&signed), "{signed:?}");
    }
}

// ----- the client's reading of answers -------------------------------------------------------

/// Headers and error bodies as a server (or anything posing as one) might send them:
/// `Retry-After` / `retry-after-ms` give a bounded hint or none, and any error body maps to an
/// error with a code, the given status, and a message.
pub fn client_answer(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (retry_after, retry_after_ms) = (parts.next(), parts.next());
    for (a, b) in [
        (retry_after, retry_after_ms),
        (retry_after, None),
        (None, retry_after),
    ] {
        if let Some(hint) = retry::parse_retry_after(a, b) {
            assert!(hint <= retry::MAX_SERVER_HINT, "{a:?} {b:?} → {hint:?}");
        }
    }
    let status = match data.first() {
        Some(b) => 400 + (*b as u16 % 200),
        None => 500,
    };
    let body = data.get(1..).unwrap_or_default();
    let hint = retry::parse_retry_after(retry_after, None);
    let error = keyshift_core::http::parse_problem(status, body, None, hint);
    assert!(!error.code().is_empty());
    assert!(!error.to_string().is_empty());
    assert_eq!(error.status, Some(status));
}
