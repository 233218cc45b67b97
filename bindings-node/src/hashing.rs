//! Local hashing (core `hashing` module): `hashKey`, `hashKeys`, `hashKeysAsync` (libuv
//! pool), `verifyBcrypt`, `parseKeyHash`.

use keyshift_core::hashing::{HashVariant, KeyHash as CoreHash};
use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;

use crate::error::js_error;

/// A key's hash: `value` in the form `variant` names.
#[napi(object)]
pub struct KeyHash {
    pub value: String,
    #[napi(ts_type = "'sha256_base64' | 'sha256_hex' | 'bcrypt'")]
    pub variant: String,
}

impl From<CoreHash> for KeyHash {
    fn from(h: CoreHash) -> Self {
        KeyHash {
            value: h.value,
            variant: h.variant.as_str().to_string(),
        }
    }
}

fn variant(v: Option<String>) -> keyshift_core::Result<HashVariant> {
    match v {
        None => Ok(HashVariant::default()),
        Some(v) => v.parse(),
    }
}

#[napi(
    ts_args_type = "key: string, variant?: 'sha256_base64' | 'sha256_hex' | 'bcrypt' | undefined | null"
)]
pub fn hash_key(env: Env, key: String, variant: Option<String>) -> napi::Result<KeyHash> {
    self::variant(variant)
        .and_then(|v| keyshift_core::hash_key(&key, v))
        .map(KeyHash::from)
        .map_err(|e| js_error(&env, &e))
}

/// `hashKeys` over JSON text: `keys` is a JSON array of strings, the answer the JSON array
/// of their hash values. index.js sends batches this way because one string crosses N-API far
/// faster than a million small ones (each element of a JS array costs several N-API calls).
fn hash_json(keys: &str, variant: Option<String>) -> keyshift_core::Result<String> {
    let keys: Vec<String> = serde_json::from_str(keys)
        .map_err(|e| keyshift_core::Error::invalid_input("keys", format!("keys: {e}")))?;
    let hashes = keyshift_core::hash_keys(&keys, self::variant(variant)?)?;
    let values: Vec<&str> = hashes.iter().map(|h| h.value.as_str()).collect();
    serde_json::to_string(&values).map_err(|e| keyshift_core::Error::io(e.to_string()))
}

/// Hashes on the calling thread (parallel inside core for large batches).
#[napi(
    ts_args_type = "keysJson: string, variant?: 'sha256_base64' | 'sha256_hex' | 'bcrypt' | undefined | null"
)]
pub fn hash_keys_json(
    env: Env,
    keys_json: String,
    variant: Option<String>,
) -> napi::Result<String> {
    hash_json(&keys_json, variant).map_err(|e| js_error(&env, &e))
}

pub struct HashKeysTask {
    keys_json: String,
    variant: Option<String>,
}

impl Task for HashKeysTask {
    type Output = keyshift_core::Result<String>;
    type JsValue = String;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(hash_json(
            &std::mem::take(&mut self.keys_json),
            self.variant.take(),
        ))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        output.map_err(|e| js_error(&env, &e))
    }
}

/// `hashKeysJson` off the event loop (libuv thread pool): parsing, hashing and writing the
/// answer all happen there.
#[napi(
    ts_args_type = "keysJson: string, variant?: 'sha256_base64' | 'sha256_hex' | 'bcrypt' | undefined | null",
    ts_return_type = "Promise<string>"
)]
pub fn hash_keys_json_async(keys_json: String, variant: Option<String>) -> AsyncTask<HashKeysTask> {
    AsyncTask::new(HashKeysTask { keys_json, variant })
}

#[napi]
pub fn verify_bcrypt(env: Env, key: String, hash: String) -> napi::Result<bool> {
    keyshift_core::verify_bcrypt(&key, &hash).map_err(|e| js_error(&env, &e))
}

/// Checks a stored hash's form; sha256_hex comes back lowercase.
#[napi(ts_args_type = "value: string, variant: 'sha256_base64' | 'sha256_hex' | 'bcrypt'")]
pub fn parse_key_hash(env: Env, value: String, variant: String) -> napi::Result<KeyHash> {
    self::variant(Some(variant))
        .and_then(|v| CoreHash::parse(&value, v))
        .map(KeyHash::from)
        .map_err(|e| js_error(&env, &e))
}
