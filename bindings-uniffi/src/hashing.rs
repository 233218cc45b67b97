//! Local hashing functions of core's `hashing` module.

use keyshift_core::hashing as core;

use crate::error::KeyshiftError;

/// How a key's hash is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum HashVariant {
    /// Standard base64 of the SHA-256 of the key (the server's storage form).
    Sha256Base64,
    /// Lowercase hex of the SHA-256 of the key.
    Sha256Hex,
    /// A bcrypt hash (`$2a$`, `$2b$`, `$2y$`).
    Bcrypt,
}

impl From<HashVariant> for core::HashVariant {
    fn from(v: HashVariant) -> Self {
        match v {
            HashVariant::Sha256Base64 => core::HashVariant::Sha256Base64,
            HashVariant::Sha256Hex => core::HashVariant::Sha256Hex,
            HashVariant::Bcrypt => core::HashVariant::Bcrypt,
        }
    }
}

impl From<core::HashVariant> for HashVariant {
    fn from(v: core::HashVariant) -> Self {
        match v {
            core::HashVariant::Sha256Base64 => HashVariant::Sha256Base64,
            core::HashVariant::Sha256Hex => HashVariant::Sha256Hex,
            core::HashVariant::Bcrypt => HashVariant::Bcrypt,
        }
    }
}

/// The variant's wire name (`sha256_base64`, `sha256_hex`, `bcrypt`).
#[uniffi::export]
pub fn hash_variant_name(variant: HashVariant) -> String {
    core::HashVariant::from(variant).as_str().to_string()
}

/// A variant by its wire name (case-insensitive).
#[uniffi::export]
pub fn parse_hash_variant(name: String) -> Result<HashVariant, KeyshiftError> {
    Ok(name.parse::<core::HashVariant>()?.into())
}

/// A key's hash together with its variant.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct KeyHash {
    pub value: String,
    pub variant: HashVariant,
}

impl From<core::KeyHash> for KeyHash {
    fn from(h: core::KeyHash) -> Self {
        KeyHash {
            value: h.value,
            variant: h.variant.into(),
        }
    }
}

#[uniffi::export]
pub fn hash_key(plaintext: String, variant: HashVariant) -> Result<KeyHash, KeyshiftError> {
    Ok(core::hash_key(&plaintext, variant.into())?.into())
}

/// Hashes many keys (in parallel for large batches), in input order.
#[uniffi::export]
pub fn hash_keys(
    plaintexts: Vec<String>,
    variant: HashVariant,
) -> Result<Vec<KeyHash>, KeyshiftError> {
    let hashes = core::hash_keys(&plaintexts, variant.into())?;
    Ok(hashes.into_iter().map(Into::into).collect())
}

/// Checks a hash's shape and returns it in canonical form (hex lowercased).
#[uniffi::export]
pub fn parse_key_hash(value: String, variant: HashVariant) -> Result<KeyHash, KeyshiftError> {
    Ok(core::KeyHash::parse(&value, variant.into())?.into())
}

/// Whether `plaintext` hashes to `hash` (constant time for sha256, bcrypt for bcrypt).
#[uniffi::export]
pub fn key_hash_matches(hash: KeyHash, plaintext: String) -> Result<bool, KeyshiftError> {
    let hash = core::KeyHash {
        value: hash.value,
        variant: hash.variant.into(),
    };
    Ok(hash.matches(&plaintext)?)
}

#[uniffi::export]
pub fn verify_bcrypt(plaintext: String, hash: String) -> Result<bool, KeyshiftError> {
    Ok(core::verify_bcrypt(&plaintext, &hash)?)
}
