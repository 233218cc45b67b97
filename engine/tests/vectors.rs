//! The shared permission-query vectors (tests/vectors/permission_queries.json), run end to end
//! through keys.verifyKey: granted permissions are split between direct ones and a role.

mod common;

use common::*;
use keyshift_core::ErrorCode;
use serde_json::{json, Value};

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= keyshift_core::wire::limits::PERMISSION_SLUG_MAX_LEN
        && s.chars().all(keyshift_core::wire::is_permission_slug_char)
}

#[test]
fn permission_query_vectors_through_verify() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/permission_queries.json"
    ))
    .unwrap();
    let vectors: Value = serde_json::from_str(&text).unwrap();
    let env = env();
    let mut ran = 0;
    for (i, case) in vectors["cases"].as_array().unwrap().iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let query = case["query"].as_str().unwrap();
        let granted: Vec<String> = case["granted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap().to_string())
            .collect();
        if !granted.iter().all(|g| is_slug(g)) {
            continue; // not storable as a permission slug on a key
        }
        let direct: Vec<&String> = granted.iter().step_by(2).collect();
        let via_role: Vec<&String> = granted.iter().skip(1).step_by(2).collect();
        let role = format!("role_{i}");
        env.call(
            "permissions.createRole",
            json!({"name": role, "permissions": via_role}),
        );
        let (_, key) = env.create_key(json!({"permissions": direct, "roles": [role]}));
        let body = json!({"key": key, "permissions": query});
        if case.get("error").is_some() {
            let err = env.err("keys.verifyKey", body);
            assert_eq!(err.code, ErrorCode::BadRequest, "case {name}");
            assert_eq!(err.errors[0].location, "body.permissions", "case {name}");
        } else {
            let expected = case["expected"].as_bool().unwrap();
            let d = env.call("keys.verifyKey", body);
            let want = if expected {
                "VALID"
            } else {
                "INSUFFICIENT_PERMISSIONS"
            };
            assert_eq!(d["code"], want, "case {name}");
        }
        ran += 1;
    }
    assert!(ran >= 55, "ran only {ran} cases");
}
