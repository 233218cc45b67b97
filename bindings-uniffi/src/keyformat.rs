//! Local key-format functions of core's `keyformat` module.

use keyshift_core::keyformat as core;

use crate::error::KeyshiftError;

/// A new key `{prefix}_{base58(random bytes)}{checksum}` from the OS CSPRNG (byte length
/// 16–255, default 16).
#[uniffi::export(default(prefix = None, byte_length = 16))]
pub fn generate_key(prefix: Option<String>, byte_length: u32) -> Result<String, KeyshiftError> {
    Ok(core::generate_key(prefix.as_deref(), byte_length as usize)?.into_inner())
}

/// Whether `key` has the keyshift format and a matching checksum (no round trip).
#[uniffi::export]
pub fn looks_like_key(key: String) -> bool {
    core::looks_like_key(&key)
}

/// `sk_live_…Xy9Z`: the prefix and the last 4 characters.
#[uniffi::export]
pub fn mask_key(key: String) -> String {
    core::mask_key(&key)
}

/// The key's non-secret start (prefix and first 4 characters of the secret part).
#[uniffi::export]
pub fn key_start(key: String) -> String {
    core::key_start(&key)
}

/// The part before the key's last `_`, if any.
#[uniffi::export]
pub fn key_prefix(key: String) -> Option<String> {
    core::key_prefix(&key).map(str::to_string)
}

/// CRC32 of `body` as 6 base62 digits (the key format's checksum).
#[uniffi::export]
pub fn key_checksum(body: String) -> String {
    core::checksum(&body)
}
