//! Local hashing (core `hashing` module): `hashKey`, `hashKeys`, `hashKeysAsync` (libuv
//! pool), the packed forms `hashKeysPacked` / `hashKeysPackedAsync` / `hashKeysOffsets` (one
//! buffer in, one `Buffer` of fixed-width hashes out), `verifyBcrypt`, `parseKeyHash`.

use keyshift_core::hashing::{self, HashVariant, KeyHash as CoreHash, PackedBatch, PackedKeys};
use napi::bindgen_prelude::{AsyncTask, Buffer, Uint32ArraySlice, Uint8Array, Uint8ArraySlice};
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

/// Core's packed batch over `keys`, into a new buffer (`Buffer::from` hands the Vec to JS
/// without a copy).
fn hash_packed(
    keys: PackedKeys<'_>,
    variant: Option<String>,
    count: Option<u32>,
) -> keyshift_core::Result<Vec<u8>> {
    let variant = self::variant(variant)?;
    let batch = PackedBatch::new(keys, count.map(|c| c as usize))?;
    let width = hashing::packed_width(variant).unwrap_or(0);
    let mut out = vec![0u8; batch.len() * width];
    batch.hash_into(variant, &mut out)?;
    Ok(out)
}

fn separator(sep: u32) -> keyshift_core::Result<u8> {
    u8::try_from(sep).ok().filter(u8::is_ascii).ok_or_else(|| {
        keyshift_core::Error::invalid_input("sep", "the separator must be one ASCII byte")
    })
}

/// Keys separated by the byte `sep` (one trailing `sep` allowed), hashed on the calling thread
/// (in parallel inside core for large batches) into one buffer: hash `i` is bytes
/// `[i * w, (i + 1) * w)`, `w` = 44 (sha256_base64) or 64 (sha256_hex).
#[napi(
    ts_args_type = "data: Uint8Array, sep: number, variant?: 'sha256_base64' | 'sha256_hex' | undefined | null, count?: number | undefined | null"
)]
pub fn hash_keys_packed(
    env: Env,
    data: Uint8ArraySlice<'_>,
    sep: u32,
    variant: Option<String>,
    count: Option<u32>,
) -> napi::Result<Buffer> {
    separator(sep)
        .and_then(|sep| hash_packed(PackedKeys::Separated { data: &data, sep }, variant, count))
        .map(Buffer::from)
        .map_err(|e| js_error(&env, &e))
}

/// Keys back to back in `data`, key `i` at bytes `[offsets[i], offsets[i + 1])` (`offsets` has
/// one more entry than there are keys, starts at 0 and ends at `data.length`).
#[napi(
    ts_args_type = "data: Uint8Array, offsets: Uint32Array, variant?: 'sha256_base64' | 'sha256_hex' | undefined | null"
)]
pub fn hash_keys_offsets(
    env: Env,
    data: Uint8ArraySlice<'_>,
    offsets: Uint32ArraySlice<'_>,
    variant: Option<String>,
) -> napi::Result<Buffer> {
    hash_packed(
        PackedKeys::Offsets {
            data: &data,
            offsets: &offsets,
        },
        variant,
        None,
    )
    .map(Buffer::from)
    .map_err(|e| js_error(&env, &e))
}

pub struct HashPackedTask {
    data: Uint8Array,
    sep: u32,
    variant: Option<String>,
    count: Option<u32>,
}

impl Task for HashPackedTask {
    type Output = keyshift_core::Result<Vec<u8>>;
    type JsValue = Buffer;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(separator(self.sep).and_then(|sep| {
            hash_packed(
                PackedKeys::Separated {
                    data: &self.data,
                    sep,
                },
                self.variant.take(),
                self.count,
            )
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        output.map(Buffer::from).map_err(|e| js_error(&env, &e))
    }
}

/// `hashKeysPacked` off the event loop (libuv thread pool). `data` must not be changed until
/// the promise settles.
#[napi(
    ts_args_type = "data: Uint8Array, sep: number, variant?: 'sha256_base64' | 'sha256_hex' | undefined | null, count?: number | undefined | null",
    ts_return_type = "Promise<Buffer>"
)]
pub fn hash_keys_packed_async(
    data: Uint8Array,
    sep: u32,
    variant: Option<String>,
    count: Option<u32>,
) -> AsyncTask<HashPackedTask> {
    AsyncTask::new(HashPackedTask {
        data,
        sep,
        variant,
        count,
    })
}
