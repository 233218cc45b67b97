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

/// Hashes on the calling thread (parallel inside core for large batches).
#[napi(
    ts_args_type = "keys: string[], variant?: 'sha256_base64' | 'sha256_hex' | 'bcrypt' | undefined | null"
)]
pub fn hash_keys(
    env: Env,
    keys: Vec<String>,
    variant: Option<String>,
) -> napi::Result<Vec<String>> {
    self::variant(variant)
        .and_then(|v| keyshift_core::hash_keys(&keys, v))
        .map(|hashes| hashes.into_iter().map(|h| h.value).collect())
        .map_err(|e| js_error(&env, &e))
}

pub struct HashKeysTask {
    keys: Vec<String>,
    variant: Option<String>,
}

impl Task for HashKeysTask {
    type Output = keyshift_core::Result<Vec<String>>;
    type JsValue = Vec<String>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let keys = std::mem::take(&mut self.keys);
        Ok(variant(self.variant.take())
            .and_then(|v| keyshift_core::hash_keys(&keys, v))
            .map(|hashes| hashes.into_iter().map(|h| h.value).collect()))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        output.map_err(|e| js_error(&env, &e))
    }
}

/// `hashKeys` off the event loop (libuv thread pool), for large batches.
#[napi(
    ts_args_type = "keys: string[], variant?: 'sha256_base64' | 'sha256_hex' | 'bcrypt' | undefined | null"
)]
pub fn hash_keys_async(keys: Vec<String>, variant: Option<String>) -> AsyncTask<HashKeysTask> {
    AsyncTask::new(HashKeysTask { keys, variant })
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
