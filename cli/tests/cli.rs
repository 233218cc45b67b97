//! Runs the built `keyshift` binary: local commands (`gen`, `hash`, `mask`) checked against the
//! shared vectors in tests/vectors/.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn keyshift(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyshift"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn keyshift");
    {
        let mut pipe = child.stdin.take().unwrap();
        if let Some(input) = stdin {
            pipe.write_all(input).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// `(key, variant, expected hash)` of every non-error `hash` case of hashing.json.
fn hash_vectors() -> Vec<(String, String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/hashing.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "hash" && c.get("expected").is_some())
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_string(),
                c["variant"].as_str().unwrap().to_string(),
                c["expected"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn hash_argument_matches_vectors() {
    let vectors = hash_vectors();
    assert!(vectors.iter().any(|(k, _, _)| !k.is_ascii()));
    for (key, variant, expected) in &vectors {
        if key.starts_with('-') || key.contains('\n') {
            continue;
        }
        let out = keyshift(&["hash", "--variant", variant, key], None);
        assert!(out.status.success(), "{key:?}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            format!("{expected}\n"),
            "key {key:?} {variant}"
        );
    }
}

#[test]
fn hash_stdin_streams_one_hash_per_line() {
    // Every single-line vector key of one variant, through stdin in one run; CRLF accepted.
    for variant in ["sha256_base64", "sha256_hex"] {
        let cases: Vec<_> = hash_vectors()
            .into_iter()
            .filter(|(k, v, _)| v == variant && !k.contains('\n') && !k.contains('\r'))
            .collect();
        assert!(cases.len() >= 15);
        let mut input = String::new();
        for (i, (key, _, _)) in cases.iter().enumerate() {
            input.push_str(key);
            input.push_str(if i % 2 == 0 { "\n" } else { "\r\n" });
        }
        for args in [
            vec!["hash", "--variant", variant],
            vec!["hash", "--variant", variant, "-"],
        ] {
            let out = keyshift(&args, Some(input.as_bytes()));
            assert!(out.status.success(), "{}", stderr(&out));
            let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
            let want: Vec<String> = cases.iter().map(|(_, _, h)| h.clone()).collect();
            assert_eq!(lines, want);
        }
    }
}

#[test]
fn hash_json_output() {
    let (key, _, expected) = hash_vectors()
        .into_iter()
        .find(|(k, v, _)| v == "sha256_hex" && k.chars().any(|c| c as u32 > 0xffff))
        .expect("an emoji vector");
    let out = keyshift(&["--json", "hash", "--variant", "sha256_hex", &key], None);
    assert!(out.status.success());
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["hash"], expected.as_str());
    assert_eq!(v["variant"], "sha256_hex");

    let out = keyshift(&["hash", "--json"], Some(b"abc\nabd\n"));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["hash"],
        "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
    );
    assert_eq!(lines[0]["variant"], "sha256_base64");
}

#[test]
fn hash_bcrypt_output_verifies() {
    let out = keyshift(&["hash", "--variant", "bcrypt", "sk_test_bcrypt"], None);
    assert!(out.status.success());
    let hash = stdout(&out).trim().to_string();
    assert!(hash.starts_with("$2b$10$"), "{hash}");
    assert!(keyshift_core::verify_bcrypt("sk_test_bcrypt", &hash).unwrap());
}

#[test]
fn bad_input_exits_2_with_message() {
    let out = keyshift(&["gen", "--prefix", "bad-prefix"], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "error: invalid_input: prefix must match [A-Za-z0-9_]{1,16} [field prefix]"
    );
    assert!(stdout(&out).is_empty());

    let out = keyshift(&["gen", "--bytes", "300"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("[field byteLength]"));

    let out = keyshift(&["hash", "--variant", "md5", "x"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("[field variant]"));

    // A blank line on stdin: the error names the line and never echoes keys.
    let out = keyshift(&["hash"], Some(b"sk_secret_one\n  \nsk_secret_two\n"));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("(line 2)") && err.contains("[field key]"),
        "{err}"
    );
    assert!(!err.contains("sk_secret"));
    assert_eq!(stdout(&out).lines().count(), 1);

    let out = keyshift(&["hash", "   "], None);
    assert_eq!(out.status.code(), Some(2));

    let out = keyshift(&["hash"], Some(b"ok\n\xff\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("UTF-8"));

    let out = keyshift(&["frobnicate"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn gen_and_mask() {
    let out = keyshift(&["gen", "--prefix", "sk_live", "--bytes", "24"], None);
    assert!(out.status.success());
    let key = stdout(&out).trim().to_string();
    assert!(key.starts_with("sk_live_"));
    assert!(keyshift_core::looks_like_key(&key), "{key}");

    let out = keyshift(&["gen", "--json"], None);
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let key = v["key"].as_str().unwrap();
    assert!(keyshift_core::looks_like_key(key) && !key.contains('_'));
    assert_eq!(v["masked"], keyshift_core::mask_key(key));

    let out = keyshift(&["mask", "sk_live_abcdefghijklXy9Z"], None);
    assert_eq!(stdout(&out), "sk_live_…Xy9Z\n");
    let out = keyshift(&["mask", "--json", "sk_short"], None);
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v, serde_json::json!({"masked": "sk_…"}));
}
