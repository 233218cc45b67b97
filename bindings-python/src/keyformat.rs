//! `keyshift_core::keyformat`: generate_key, looks_like_key, mask_key and the helpers the
//! shared vectors check.

use keyshift_core::keyformat;
use pyo3::prelude::*;

use crate::error::to_py;

/// A new key `{prefix}_{base58(random bytes)}{checksum}` from the OS CSPRNG.
#[pyfunction]
#[pyo3(signature = (prefix = None, byte_length = 16))]
pub fn generate_key(prefix: Option<&str>, byte_length: usize) -> PyResult<String> {
    keyformat::generate_key(prefix, byte_length)
        .map(|k| k.into_inner())
        .map_err(to_py)
}

/// Whether `key` has keyshift's format with a valid checksum (no network).
#[pyfunction]
pub fn looks_like_key(key: &str) -> bool {
    keyformat::looks_like_key(key)
}

/// `sk_live_…Xy9Z`: the prefix and the last 4 characters.
#[pyfunction]
pub fn mask_key(key: &str) -> String {
    keyformat::mask_key(key)
}

/// The clear leading part a key store keeps for lookup (`sk_live_ab12`).
#[pyfunction]
pub fn key_start(key: &str) -> String {
    keyformat::key_start(key)
}

/// The part before the last `_`, if any.
#[pyfunction]
pub fn key_prefix(key: &str) -> Option<String> {
    keyformat::key_prefix(key).map(str::to_string)
}

/// The 6-character base62 CRC32 checksum of `body`.
#[pyfunction]
pub fn checksum(body: &str) -> String {
    keyformat::checksum(body)
}
