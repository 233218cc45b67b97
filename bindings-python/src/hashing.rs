//! `keyshift_core::hashing`: hash_key, hash_keys (GIL released, parallel in core), verify_bcrypt,
//! KeyHash.

use keyshift_core::hashing::{self, HashVariant};
use pyo3::prelude::*;

use crate::convert::record;
use crate::error::to_py;

fn variant(name: &str) -> PyResult<HashVariant> {
    name.parse().map_err(to_py)
}

record! {
    /// A key's hash and its variant (`sha256_base64`, `sha256_hex` or `bcrypt`).
    KeyHash { value: String, variant: String }
    methods {
        /// Checks that `value` is a well-formed `variant` hash; returns it in canonical form.
        #[staticmethod]
        #[pyo3(signature = (value, variant = "sha256_base64"))]
        fn parse(value: &str, variant: &str) -> PyResult<KeyHash> {
            keyshift_core::KeyHash::parse(value, self::variant(variant)?).map(KeyHash::from).map_err(to_py)
        }
        /// Whether `plaintext` hashes to this value (constant time; bcrypt for bcrypt hashes).
        fn matches(&self, py: Python<'_>, plaintext: &str) -> PyResult<bool> {
            let hash = keyshift_core::KeyHash { value: self.value.clone(), variant: variant(&self.variant)? };
            py.detach(|| hash.matches(plaintext)).map_err(to_py)
        }
    }
}

impl From<keyshift_core::KeyHash> for KeyHash {
    fn from(h: keyshift_core::KeyHash) -> Self {
        KeyHash {
            value: h.value,
            variant: h.variant.as_str().to_string(),
        }
    }
}

/// The hash of one key.
#[pyfunction]
#[pyo3(signature = (plaintext, variant = "sha256_base64"))]
pub fn hash_key(py: Python<'_>, plaintext: &str, variant: &str) -> PyResult<KeyHash> {
    let variant = self::variant(variant)?;
    py.detach(|| keyshift_core::hash_key(plaintext, variant))
        .map(KeyHash::from)
        .map_err(to_py)
}

/// The hashes (values only, in input order) of many keys, computed in parallel without the GIL.
#[pyfunction]
#[pyo3(signature = (plaintexts, variant = "sha256_base64"))]
pub fn hash_keys(py: Python<'_>, plaintexts: Vec<String>, variant: &str) -> PyResult<Vec<String>> {
    let variant = self::variant(variant)?;
    let hashes = py
        .detach(|| keyshift_core::hash_keys(&plaintexts, variant))
        .map_err(to_py)?;
    Ok(hashes.into_iter().map(|h| h.value).collect())
}

/// Whether `plaintext` matches a bcrypt `hash` (`$2a$`, `$2b$`, `$2y$`).
#[pyfunction]
pub fn verify_bcrypt(py: Python<'_>, plaintext: &str, hash: &str) -> PyResult<bool> {
    py.detach(|| hashing::verify_bcrypt(plaintext, hash))
        .map_err(to_py)
}
