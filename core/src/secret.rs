//! A plaintext API key held in memory. Its `Debug` prints only the masked form so that a key
//! inside any struct can be logged or printed without leaking; there is no `Display`.

use serde::{Deserialize, Serialize};

/// A plaintext key or root key. Read it with [`SecretKey::expose`]; everything else masks it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(plaintext: impl Into<String>) -> Self {
        SecretKey(plaintext.into())
    }

    /// The plaintext. Call sites of this method are the only places a secret leaves its box.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    /// `sk_live_…Xy9Z`, safe to log.
    pub fn masked(&self) -> String {
        crate::keyformat::mask_key(&self.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time comparison with another plaintext.
    pub fn ct_eq(&self, other: &str) -> bool {
        crate::hashing::constant_time_eq(self.0.as_bytes(), other.as_bytes())
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.masked())
    }
}

impl From<String> for SecretKey {
    fn from(value: String) -> Self {
        SecretKey(value)
    }
}

impl From<&str> for SecretKey {
    fn from(value: &str) -> Self {
        SecretKey(value.to_string())
    }
}
