//! Defect 2 of issue 9: no request text that could be a key reaches an answer or a log line.
//!
//! A property test over random bodies for several operations, each carrying a random key (a
//! generated one with its checksum, a legacy-looking one without, a bare hex digest) in every
//! position a client could put it by mistake: an unknown field name (top level and nested), the
//! string value of a field of another type, an enum value (`hashVariant`, `operation`), an id
//! (`keyId`, `apiId`, `identity`), a role name, the Content-Type header and the URL path. The
//! answer body and headers, and everything the server logged, must not contain the key.

mod common;

use serde_json::{json, Value};

/// SplitMix64: a small seeded generator, so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        keyshift_core::testing::splitmix64(&mut self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn text(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())] as char)
            .collect()
    }
}

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const HEX: &[u8] = b"0123456789abcdef";

/// A random key: generated (checksum), legacy-looking (no checksum), or a bare hex secret.
fn random_key(rng: &mut Rng) -> String {
    let prefixes = ["sk_live", "sk", "pk_test", "key", "api", "x", "ABC_def"];
    match rng.below(4) {
        0 => {
            let prefix = *rng.pick(&prefixes);
            let bytes = 16 + rng.below(24);
            keyshift_core::generate_key(Some(prefix), bytes)
                .unwrap()
                .expose()
                .to_string()
        }
        1 => keyshift_core::generate_key(None, 16 + rng.below(8))
            .unwrap()
            .expose()
            .to_string(),
        2 => {
            let prefix = *rng.pick(&prefixes);
            let len = 20 + rng.below(30);
            format!("{prefix}_{}", rng.text(ALNUM, len))
        }
        _ => {
            let len = *rng.pick(&[32usize, 40, 64]);
            rng.text(HEX, len)
        }
    }
}

/// Texts that would reveal `key`: the key itself and long pieces of its secret part (masked
/// forms show at most the prefix, the first 4 and the last 4 characters).
fn fragments(key: &str) -> Vec<String> {
    let secret = match key.rfind('_') {
        Some(i) => &key[i + 1..],
        None => key,
    };
    let mut out = vec![key.to_string()];
    if secret.len() >= 16 {
        out.push(secret[..8].to_string());
        out.push(secret[secret.len() - 8..].to_string());
        out.push(secret[4..12].to_string());
    }
    out
}

struct Case {
    what: String,
    path: String,
    body: Vec<u8>,
    content_type: Option<String>,
}

fn case(what: impl Into<String>, op: &str, body: Value) -> Case {
    Case {
        what: what.into(),
        path: format!("/v2/{op}"),
        body: serde_json::to_vec(&body).unwrap(),
        content_type: Some("application/json".into()),
    }
}

/// Every position for `key`, with real ids from the server where a body needs one.
/// `live` is an existing key: a permission query is judged only for a key that exists (an
/// unknown key is NOT_FOUND whatever its query, as in Unkey).
fn cases(key: &str, api: &str, key_id: &str, hash: &str, live: &str) -> Vec<Case> {
    let k = key;
    // The key as the id an operation names: (operation, id field, the body's other fields).
    let as_id = [
        ("keys.getKey", "keyId", json!({})),
        ("keys.deleteKey", "keyId", json!({})),
        ("keys.rerollKey", "keyId", json!({"expiration": 0})),
        ("apis.getApi", "apiId", json!({})),
        ("keys.createKey", "apiId", json!({})),
        ("identities.getIdentity", "identity", json!({})),
        ("permissions.getRole", "role", json!({})),
        (
            "permissions.setRolePermissions",
            "roleId",
            json!({"permissions": []}),
        ),
        ("identities.updateIdentity", "identity", json!({"meta": {}})),
        ("permissions.getPermission", "permission", json!({})),
    ];
    let as_id = as_id.into_iter().map(|(op, field, mut body)| {
        body[field] = json!(k);
        let name = op.split_once('.').unwrap().1;
        case(format!("{name}: the key as {field}"), op, body)
    });
    let mut field_top = serde_json::Map::new();
    field_top.insert("apiId".into(), json!(api));
    field_top.insert(k.into(), json!(1));
    let mut cases = vec![
        case(
            "createKey: field name",
            "keys.createKey",
            Value::Object(field_top),
        ),
        case(
            "verifyKey: field name",
            "keys.verifyKey",
            json!({"key": "sk_x", k: true}),
        ),
        case(
            "createApi: field name",
            "apis.createApi",
            json!({"name": "abc", k: "v"}),
        ),
        case(
            "createKey: nested field name in credits",
            "keys.createKey",
            json!({"apiId": api, "credits": {"remaining": 3, k: 2}}),
        ),
        case(
            "createKey: nested field name in credits.refill",
            "keys.createKey",
            json!({"apiId": api, "credits": {"remaining": 3, "refill": {"interval": "daily", "amount": 1, k: 1}}}),
        ),
        case(
            "createKey: nested field name in ratelimits[0]",
            "keys.createKey",
            json!({"apiId": api, "ratelimits": [{"name": "r", "limit": 1, "duration": 1000, "autoApply": true, k: 1}]}),
        ),
        case(
            "createIdentity: nested field name in ratelimits[0]",
            "identities.createIdentity",
            json!({"externalId": "ext", "ratelimits": [{"name": "r", "limit": 1, "duration": 1000, "autoApply": true, k: 1}]}),
        ),
        case(
            "verifyKey: nested field name in ratelimits[0]",
            "keys.verifyKey",
            json!({"key": "sk_x", "ratelimits": [{"name": "r", k: 1}]}),
        ),
        case(
            "migrateKeys: nested field name in keys[0]",
            "keys.migrateKeys",
            json!({"migrationId": "m", "apiId": api, "keys": [{"hash": hash, k: 1}]}),
        ),
        case(
            "migrateKeys: nested field name in keys[0].credits",
            "keys.migrateKeys",
            json!({"migrationId": "m", "apiId": api, "keys": [{"hash": hash, "credits": {k: 1}}]}),
        ),
        case(
            "migrateKeys: hashVariant value",
            "keys.migrateKeys",
            json!({"migrationId": "m", "apiId": api, "keys": [{"hash": hash}], "hashVariant": k}),
        ),
        case(
            "updateCredits: operation value",
            "keys.updateCredits",
            json!({"keyId": key_id, "operation": k, "value": 1}),
        ),
        case(
            "createKey: refill interval value",
            "keys.createKey",
            json!({"apiId": api, "credits": {"remaining": 3, "refill": {"interval": k, "amount": 1}}}),
        ),
        case(
            "createKey: string for a number",
            "keys.createKey",
            json!({"apiId": api, "byteLength": k}),
        ),
        case(
            "createKey: string for an object",
            "keys.createKey",
            json!({"apiId": api, "credits": k}),
        ),
        case(
            "verifyKey: string for a nested number",
            "keys.verifyKey",
            json!({"key": "sk_x", "credits": {"cost": k}}),
        ),
        case(
            "updateKey: string for a bool",
            "keys.updateKey",
            json!({"keyId": key_id, "enabled": k}),
        ),
        case(
            "verifyKey: a name in the wrong place of the permission query",
            "keys.verifyKey",
            json!({"key": live, "permissions": format!("documents.read {k}")}),
        ),
        case("a string for the whole body", "keys.verifyKey", json!(k)),
        case(
            "setRolePermissions: the key in a bad slug",
            "permissions.setRolePermissions",
            json!({"roleId": "role_x", "permissions": [format!("{k} ")]}),
        ),
        case(
            "updateIdentity: nested field name in ratelimits[0]",
            "identities.updateIdentity",
            json!({"identity": "someone", "ratelimits": [{"name": "rrr", "limit": 1, "duration": 1000, "autoApply": true, k: 1}]}),
        ),
        case(
            "createKey: the key as a role name",
            "keys.createKey",
            json!({"apiId": api, "roles": [k]}),
        ),
        Case {
            what: "the key as Content-Type".into(),
            path: "/v2/apis.createApi".into(),
            body: br#"{"name":"abc"}"#.to_vec(),
            content_type: Some(k.to_string()),
        },
        Case {
            what: "the key as Content-Type parameter".into(),
            path: "/v2/apis.createApi".into(),
            body: br#"{"name":"abc"}"#.to_vec(),
            content_type: Some(format!("text/plain; charset={k}")),
        },
        Case {
            what: "the key as an operation".into(),
            path: format!("/v2/{k}"),
            body: b"{}".to_vec(),
            content_type: Some("application/json".into()),
        },
        Case {
            what: "the key after an operation".into(),
            path: format!("/v2/keys.verifyKey/{k}"),
            body: b"{}".to_vec(),
            content_type: Some("application/json".into()),
        },
        Case {
            what: "the key as a bare token in broken JSON".into(),
            path: "/v2/keys.verifyKey".into(),
            body: format!("{{\"key\": {k}}}").into_bytes(),
            content_type: Some("application/json".into()),
        },
    ];
    cases.extend(as_id);
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_in_any_request_position_reaches_the_answer_or_the_log() {
    let capture = common::LogCapture::install();

    let (s, api) = common::start_with_api("redaction").await;
    let (key_id, live) = s.create_key(json!({"apiId": api})).await;
    let hash = keyshift_core::hashing::sha256_base64("some-legacy-key");

    let seed = std::env::var("REDACTION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_2024_u64);
    let mut rng = Rng(seed);
    let mut checked = 0usize;
    let mut all_keys = Vec::new();
    for round in 0..12 {
        let key = random_key(&mut rng);
        for c in cases(&key, &api, &key_id, &hash, &live) {
            let mut req = s
                .client
                .post(s.url(&c.path))
                .bearer_auth(&s.root_key)
                .body(c.body.clone());
            if let Some(ct) = &c.content_type {
                req = req.header("content-type", ct.as_str());
            }
            let resp = req.send().await.expect("request reaches the server");
            let status = resp.status().as_u16();
            let mut answer = format!("{:?}", resp.headers());
            answer.push_str(&resp.text().await.unwrap());
            for f in fragments(&key) {
                assert!(
                    !answer.contains(&f),
                    "seed {seed} round {round}: {} (status {status}) echoed the key {key:?}: {answer}",
                    c.what
                );
            }
            assert!(
                status == 400 || status == 404 || status == 415,
                "seed {seed} round {round}: {}: unexpected status {status}: {answer}",
                c.what
            );
            checked += 1;
        }
        all_keys.push(key);
    }
    assert!(checked >= 300, "only {checked} cases");
    s.stop().await;

    let text = capture.text();
    assert!(text.contains("\"request\""), "no access log captured");
    for key in &all_keys {
        for f in fragments(key) {
            assert!(
                !text.contains(&f),
                "seed {seed}: the key {key:?} reached the server log"
            );
        }
    }
}
