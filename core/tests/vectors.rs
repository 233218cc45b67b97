//! Runs every case of every shared vector file in tests/vectors/ (see its README.md) against
//! keyshift-core. Each file's test collects all failing cases and fails naming each one.

use std::path::PathBuf;

use keyshift_core::hashing::{self, HashVariant, KeyHash};
use keyshift_core::keyformat;
use keyshift_core::query::parse_permission_query;
use keyshift_core::scope::{permissions_to_scopes, scopes_to_permissions, Scope};
use keyshift_core::Error;
use serde_json::Value;

fn load(file: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    assert!(
        doc["description"].as_str().is_some_and(|d| !d.is_empty()),
        "{file}: missing description"
    );
    let cases = doc["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("{file}: missing cases"))
        .clone();
    assert!(!cases.is_empty(), "{file}: no cases");
    cases
}

/// Runs `check` on every case; panics listing every failing case by name.
fn run(file: &str, min_cases: usize, check: impl Fn(&Value) -> Result<(), String>) -> usize {
    let cases = load(file);
    assert!(
        cases.len() >= min_cases,
        "{file}: expected at least {min_cases} cases, found {}",
        cases.len()
    );
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let name = case["name"].as_str().unwrap_or("<unnamed>");
            check(case)
                .err()
                .map(|why| format!("{file} / {name}: {why}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
    cases.len()
}

fn s<'a>(case: &'a Value, field: &str) -> &'a str {
    case[field]
        .as_str()
        .unwrap_or_else(|| panic!("case {} has no string {field}", case["name"]))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("array of strings")
        .iter()
        .map(|v| v.as_str().expect("string").to_string())
        .collect()
}

/// Compares a result with the case's `expected`, or with its `error` + `field`.
fn expect<T: PartialEq + std::fmt::Debug>(
    case: &Value,
    got: Result<T, Error>,
    expected: impl FnOnce(&Value) -> T,
) -> Result<(), String> {
    match (case.get("error"), got) {
        (Some(code), Err(err)) => {
            if err.code() != code.as_str().unwrap_or_default() {
                return Err(format!("expected error {code}, got {}", err.code()));
            }
            if let Some(field) = case.get("field").and_then(Value::as_str) {
                if err.field.as_deref() != Some(field) {
                    return Err(format!("expected field {field}, got {:?}", err.field));
                }
            }
            Ok(())
        }
        (Some(code), Ok(v)) => Err(format!("expected error {code}, got Ok({v:?})")),
        (None, Err(err)) => Err(format!("unexpected error: {err}")),
        (None, Ok(v)) => {
            let want = expected(&case["expected"]);
            if v == want {
                Ok(())
            } else {
                Err(format!("expected {want:?}, got {v:?}"))
            }
        }
    }
}

fn variant(case: &Value) -> HashVariant {
    s(case, "variant").parse().expect("known variant")
}

#[test]
fn hashing_vectors() {
    run("hashing.json", 40, |case| match s(case, "kind") {
        "hash" => {
            let v = variant(case);
            let got = hashing::hash_key(s(case, "key"), v);
            if let (Ok(h), None) = (&got, case.get("error")) {
                // The hot-path functions agree with hash_key.
                let direct = match v {
                    HashVariant::Sha256Base64 => hashing::sha256_base64(s(case, "key")),
                    HashVariant::Sha256Hex => hashing::sha256_hex(s(case, "key")),
                    HashVariant::Bcrypt => h.value.clone(),
                };
                if direct != h.value {
                    return Err("sha256_* disagrees with hash_key".into());
                }
                if !h.matches(s(case, "key")).map_err(|e| e.to_string())? {
                    return Err("KeyHash::matches(own key) is false".into());
                }
            }
            expect(case, got.map(|h| h.value), |e| {
                e.as_str().unwrap().to_string()
            })
        }
        "parse" => expect(
            case,
            KeyHash::parse(s(case, "value"), variant(case)).map(|h| h.value),
            |e| e.as_str().unwrap().to_string(),
        ),
        other => Err(format!("unknown kind {other}")),
    });
}

#[test]
fn hashing_vectors_batched() {
    // hash_keys gives the same answers as hash_key, in order, both below and above the
    // parallel threshold.
    let cases = load("hashing.json");
    let mut keys = Vec::new();
    let mut want = Vec::new();
    for case in &cases {
        if case["kind"] == "hash"
            && case["variant"] == "sha256_base64"
            && case.get("error").is_none()
        {
            keys.push(s(case, "key").to_string());
            want.push(s(case, "expected").to_string());
        }
    }
    let got: Vec<String> = hashing::hash_keys(&keys, HashVariant::Sha256Base64)
        .unwrap()
        .into_iter()
        .map(|h| h.value)
        .collect();
    assert_eq!(got, want);
    let repeat = hashing::PARALLEL_THRESHOLD / keys.len() + 1;
    let many: Vec<&String> = std::iter::repeat_n(&keys, repeat).flatten().collect();
    let got = hashing::hash_keys(&many, HashVariant::Sha256Base64).unwrap();
    assert!(got.len() >= hashing::PARALLEL_THRESHOLD);
    for (i, h) in got.iter().enumerate() {
        assert_eq!(h.value, want[i % want.len()], "batched hash {i}");
    }
}

#[test]
fn bcrypt_vectors() {
    run("bcrypt.json", 20, |case| {
        let got = hashing::verify_bcrypt(s(case, "key"), s(case, "hash"));
        if case.get("error").is_none() {
            let kh = KeyHash {
                value: s(case, "hash").to_string(),
                variant: HashVariant::Bcrypt,
            };
            let via_key_hash = kh.matches(s(case, "key")).map_err(|e| e.to_string())?;
            if Some(via_key_hash) != case["expected"].as_bool() {
                return Err("KeyHash::matches disagrees".into());
            }
        }
        expect(case, got, |e| e.as_bool().unwrap())
    });
}

#[test]
fn keyformat_vectors() {
    run("keyformat.json", 40, |case| match s(case, "kind") {
        "checksum" => expect(case, Ok(keyformat::checksum(s(case, "body"))), |e| {
            e.as_str().unwrap().to_string()
        }),
        "looks_like_key" => {
            let key = s(case, "key");
            let got = keyformat::looks_like_key(key);
            if got && !keyformat::has_valid_checksum(key) {
                return Err("looks_like_key without a valid checksum".into());
            }
            expect(case, Ok(got), |e| e.as_bool().unwrap())
        }
        "mask" => expect(case, Ok(keyformat::mask_key(s(case, "key"))), |e| {
            e.as_str().unwrap().to_string()
        }),
        "key_start" => expect(case, Ok(keyformat::key_start(s(case, "key"))), |e| {
            e.as_str().unwrap().to_string()
        }),
        "key_prefix" => expect(
            case,
            Ok(keyformat::key_prefix(s(case, "key")).map(str::to_string)),
            |e| e.as_str().map(str::to_string),
        ),
        "generate" => {
            let prefix = case["prefix"].as_str();
            let n = case["byte_length"].as_u64().unwrap() as usize;
            let got = keyformat::generate_key(prefix, n);
            if let Ok(key) = &got {
                let k = key.expose();
                if !keyformat::looks_like_key(k) {
                    return Err("generated key fails looks_like_key".into());
                }
                if keyformat::key_prefix(k) != prefix {
                    return Err("generated key has the wrong prefix".into());
                }
            }
            expect(case, got.map(|_| "ok".to_string()), |e| {
                e.as_str().unwrap().to_string()
            })
        }
        other => Err(format!("unknown kind {other}")),
    });
}

#[test]
fn scopes_vectors() {
    let scope_of = |v: &Value| -> Scope { serde_json::from_value(v.clone()).expect("scope") };
    run("scopes.json", 15, |case| match s(case, "kind") {
        "expand" => {
            let scopes: Vec<Scope> = case["scopes"]
                .as_array()
                .unwrap()
                .iter()
                .map(scope_of)
                .collect();
            expect(case, Ok(scopes_to_permissions(&scopes)), strings)
        }
        "fold" => {
            let perms = strings(&case["permissions"]);
            expect(case, Ok(permissions_to_scopes(&perms)), |e| {
                e.as_array().unwrap().iter().map(scope_of).collect()
            })
        }
        "parse_cli" => expect(case, Scope::parse_cli(s(case, "input")), scope_of),
        other => Err(format!("unknown kind {other}")),
    });
}

/// The 0-based position in a permission query error message (`… at position N …`).
fn error_position(err: &Error) -> Option<u64> {
    let rest = err.message.split("at position ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[test]
fn permission_query_vectors() {
    run("permission_queries.json", 40, |case| {
        let granted = strings(&case["granted"]);
        match (parse_permission_query(s(case, "query")), case.get("error")) {
            (Ok(q), None) => {
                let got = q.evaluate_set(&granted);
                let want = case["expected"].as_bool().unwrap();
                if got != want {
                    return Err(format!("expected {want}, got {got} for {q}"));
                }
                // The canonical form re-parses to the same query.
                let again = parse_permission_query(&q.to_string()).map_err(|e| e.to_string())?;
                if again != q {
                    return Err(format!("display {q} does not round-trip"));
                }
                Ok(())
            }
            (Ok(q), Some(_)) => Err(format!("expected an error, parsed {q}")),
            (Err(err), None) => Err(format!("unexpected error: {err}")),
            (Err(err), Some(code)) => {
                if err.code() != code.as_str().unwrap_or_default() {
                    return Err(format!("expected {code}, got {}", err.code()));
                }
                if err.field.as_deref() != Some("permissions") {
                    return Err(format!("expected field permissions, got {:?}", err.field));
                }
                let want = case["position"].as_u64();
                if error_position(&err) != want {
                    return Err(format!(
                        "expected position {want:?}, got message {:?}",
                        err.message
                    ));
                }
                Ok(())
            }
        }
    });
}

#[test]
fn at_least_80_vectors_in_all() {
    let total: usize = [
        "hashing.json",
        "bcrypt.json",
        "keyformat.json",
        "scopes.json",
        "permission_queries.json",
    ]
    .iter()
    .map(|f| load(f).len())
    .sum();
    assert!(total >= 80, "only {total} vectors");
}
