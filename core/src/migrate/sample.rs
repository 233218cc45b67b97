//! Realistic test exports (`keyshift sample-keys`): records with a fresh plaintext `key` and the
//! fields a real export carries, in the shapes the migration reads.

use std::io::Write;

use serde_json::{json, Map, Value};

use crate::{generate_key, Result};

const PLANS: [&str; 3] = ["free", "pro", "enterprise"];
const RESOURCES: [&str; 5] = ["profile", "billing", "documents", "projects", "webhooks"];
/// 2100-01-01 minus a bit: far-future expiries that stay valid in tests.
const FAR_FUTURE_MS: i64 = 4_000_000_000_000;

/// Record number `i` (0-based) of a sample export. With `with_scopes` the record is
/// Oneloop-shaped (`customerId`, `workspaceId`, `scopes`); otherwise it carries `externalId` and
/// `permissions`. Every record has a fresh random `key` (`sk_live_…`/`sk_test_…`).
pub fn sample_record(i: u64, with_scopes: bool) -> Result<Value> {
    let prefix = if i % 10 == 9 { "sk_test" } else { "sk_live" };
    let key = generate_key(Some(prefix), 16)?;
    let mut r = Map::new();
    r.insert("key".into(), Value::String(key.into_inner()));
    if i.is_multiple_of(2) {
        r.insert(
            "name".into(),
            json!(format!("{} key {i}", PLANS[(i % 3) as usize])),
        );
    }
    let owner = format!("cus_{:05}", i % 5000);
    let a = RESOURCES[(i % 5) as usize];
    let b = RESOURCES[((i / 5) % 5) as usize];
    if with_scopes {
        r.insert("customerId".into(), json!(owner));
        r.insert("workspaceId".into(), json!("ws_main"));
        let mut scopes = vec![
            json!({"representation": a, "read": true, "create": i.is_multiple_of(3),
            "update": i.is_multiple_of(4), "delete": false}),
        ];
        if a != b {
            scopes.push(json!({"representation": b, "read": true}));
        }
        r.insert("scopes".into(), Value::Array(scopes));
    } else {
        r.insert("externalId".into(), json!(owner));
        let mut perms = vec![format!("{a}.read")];
        if i.is_multiple_of(3) {
            perms.push(format!("{a}.create"));
        }
        if a != b {
            perms.push(format!("{b}.read"));
        }
        r.insert("permissions".into(), json!(perms));
    }
    if i.is_multiple_of(3) {
        r.insert(
            "meta".into(),
            json!({"plan": PLANS[(i % 3) as usize], "legacyId": i}),
        );
    }
    if i % 5 == 1 {
        r.insert("expires".into(), json!(FAR_FUTURE_MS + i as i64));
    }
    if i % 10 == 3 {
        r.insert("credits".into(), json!({"remaining": 1000}));
    }
    if i % 20 == 7 {
        r.insert(
            "ratelimits".into(),
            json!([{"name": "requests", "limit": 100, "duration": 60000, "autoApply": true}]),
        );
    }
    Ok(Value::Object(r))
}

/// Writes `n` sample records as JSONL to `out`.
pub fn write_sample_jsonl(out: &mut impl Write, n: u64, with_scopes: bool) -> Result<()> {
    for i in 0..n {
        let record = sample_record(i, with_scopes)?;
        serde_json::to_writer(&mut *out, &record).map_err(|e| crate::Error::io(e.to_string()))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
