//! Key format (core `keyformat` module): generate, check, mask.

use keyshift_core::keyformat;
use napi::Env;
use napi_derive::napi;

use crate::error::js_error;

/// A new key `{prefix}_{base58}{checksum}` from the OS CSPRNG (`byteLength` 16–255, default 16).
#[napi]
pub fn generate_key(
    env: Env,
    prefix: Option<String>,
    byte_length: Option<u32>,
) -> napi::Result<String> {
    keyformat::generate_key(prefix.as_deref(), byte_length.unwrap_or(16) as usize)
        .map(|k| k.expose().to_string())
        .map_err(|e| js_error(&env, &e))
}

/// Whether `key` has a valid prefix, body and checksum (rejects typos without a round trip).
#[napi]
pub fn looks_like_key(key: String) -> bool {
    keyformat::looks_like_key(&key)
}

/// `sk_live_…Xy9Z`: the prefix and the last 4 characters.
#[napi]
pub fn mask_key(key: String) -> String {
    keyformat::mask_key(&key)
}

/// The clear leading part a key service keeps (`sk_live_ab12`).
#[napi]
pub fn key_start(key: String) -> String {
    keyformat::key_start(&key)
}

/// The part before the last `_`, or `null`.
#[napi]
pub fn key_prefix(key: String) -> Option<String> {
    keyformat::key_prefix(&key).map(str::to_string)
}

/// The 6-character CRC32 checksum of `body`.
#[napi]
pub fn checksum(body: String) -> String {
    keyformat::checksum(&body)
}
