//! Migration input records: the record and its errors, validation against the limits of the
//! wire API, and mapping onto the wire's `keys.migrateKeys` key data. Reading records from JSON
//! objects and CSV rows (the field mapping below) is in `parse`.
//!
//! # Field mapping
//!
//! | input field | wire field | notes |
//! |---|---|---|
//! | `key` | `hash` | plaintext, hashed locally to `sha256_base64` and dropped |
//! | `hash` (+ `variant`) | `hash` (+ request `hashVariant`) | carried as-is (hex is lower-cased) |
//! | `hash: {value, variant}` (Unkey's migration guide) | `hash` (+ request `hashVariant`) | same as `hash` + `variant`; the wire stays a string |
//! | `start` | `start` (keyshift extension) | the key's clear leading part (e.g. `sk_live_ab12`), 1–32 printable ASCII; required for `bcrypt`, sent only with bcrypt hashes |
//! | `name` | `name` | 1–255 characters |
//! | `externalId`, `customerId` (Oneloop) | `externalId` | 1–255 characters; both given must agree |
//! | `workspaceId` (Oneloop) | `meta.workspaceId` | the target keyspace is the migration's `apiId` |
//! | `meta` | `meta` | JSON object, ≤ 100 properties, ≤ 64 KiB serialized |
//! | `permissions` | `permissions` | ≤ 1000 after merging scopes, each 1–100 characters |
//! | `scopes` (Oneloop) | `permissions` | `{representation, read, create, update, delete}` → `representation.read`, … |
//! | `roles` | `roles` | ≤ 100, each 1–100 characters; must exist on the server |
//! | `expires` | `expires` | unix ms, 0 – 4102444800000 |
//! | `enabled` | `enabled` | boolean |
//! | `credits` | `credits` | `{remaining, refill?}` or a bare number (remaining) |
//! | `ratelimits` | `ratelimits` | ≤ 50 of `{name (3–128), limit ≥ 1, duration ≥ 1000 ms, autoApply}` |
//!
//! CSV: one header row naming these fields; `scopes`, `permissions` and `roles` are `;`-separated
//! lists (a scope item is `representation:read,update` or a JSON object); `meta`, `credits` and
//! `ratelimits` are JSON text (`credits` may be a bare number); an empty cell is an absent field.
//!
//! Error messages name the line, the field and at most the masked key: never the plaintext.

use std::collections::HashSet;

use base64::Engine;
use serde_json::{Map, Value};

use crate::hashing::{HashVariant, KeyHash};
use crate::scope::Scope;
use crate::wire::{
    check_migrated_start, CreditsRequest, MigrateKeyData, MigrateKeysRequest, RatelimitRequest,
    Validate,
};
use crate::{ErrorCode, SecretKey};

/// Longest plaintext key accepted (bytes).
pub const MAX_KEY_BYTES: usize = 4096;
/// Largest `meta` (serialized JSON), so that a batch stays under the 10 MiB body limit.
pub const MAX_META_BYTES: usize = 64 * 1024;

/// One key to migrate, as a binding or a caller hands it over (files are parsed into this).
/// Exactly one of `key` (plaintext) and `hash` must be set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MigrationRecord {
    pub key: Option<SecretKey>,
    pub hash: Option<String>,
    /// Form of `hash`; defaults to [`MigrateOptions::variant`](super::MigrateOptions).
    pub variant: Option<HashVariant>,
    pub name: Option<String>,
    /// Owner of the key (`customerId` in Oneloop exports).
    pub external_id: Option<String>,
    /// Oneloop's keyspace id; kept as `meta.workspaceId`.
    pub workspace_id: Option<String>,
    pub meta: Option<Map<String, Value>>,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub scopes: Vec<Scope>,
    pub expires: Option<i64>,
    pub enabled: Option<bool>,
    pub credits: Option<CreditsRequest>,
    pub ratelimits: Vec<RatelimitRequest>,
    /// The key's clear leading part as the legacy system kept it (e.g. `sk_live_ab12`);
    /// required with a `bcrypt` hash (see [`crate::wire::check_migrated_start`]).
    pub start: Option<String>,
}

/// A problem with one input record (or one key of a batch the server refused).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordError {
    /// 1-based line in the file (CSV: the line the row starts on); index for iterators.
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    #[serde(serialize_with = "ser_code")]
    pub code: ErrorCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

fn ser_code<S: serde::Serializer>(code: &ErrorCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(code.as_str())
}

impl RecordError {
    pub fn invalid(line: u64, field: Option<&str>, message: impl Into<String>) -> Self {
        RecordError {
            line,
            hash: None,
            code: ErrorCode::InvalidInput,
            field: field.map(str::to_string),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)?;
        if let Some(field) = &self.field {
            if !self.message.contains(&format!("`{field}`")) {
                write!(f, " [field {field}]")?;
            }
        }
        Ok(())
    }
}

/// A field-level problem found while parsing; turned into a [`RecordError`] with the line.
#[derive(Debug)]
pub(crate) struct FieldIssue {
    pub field: Option<String>,
    pub message: String,
}

impl FieldIssue {
    pub(crate) fn new(field: &str, message: impl Into<String>) -> Self {
        FieldIssue {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }
    pub fn at(self, line: u64) -> RecordError {
        RecordError::invalid(line, self.field.as_deref(), self.message)
    }
}

pub(crate) type Parsed<T> = Result<T, FieldIssue>;

mod parse;
pub(crate) use crate::keyformat::shown_name;

/// What the record carries: a plaintext still to hash, or a hash ready to send.
#[derive(Debug)]
pub(crate) enum Material {
    Plain(SecretKey),
    Hash(String),
}

/// A validated record: everything the wire needs except (for plaintext) the hash.
#[derive(Debug)]
pub(crate) struct Checked {
    pub line: u64,
    pub variant: HashVariant,
    pub material: Material,
    /// Wire data with an empty `hash` until the material is hashed.
    pub data: MigrateKeyData,
}

/// Checks the shape of a hash for its variant; returns it normalised (hex lower-cased).
pub(crate) fn check_hash(hash: &str, variant: HashVariant) -> Result<String, String> {
    KeyHash::parse(hash, variant).map(|h| h.value).map_err(|_| {
        match variant {
            HashVariant::Sha256Base64 => "`hash` is not a sha256_base64 hash (44 characters of standard base64 encoding 32 bytes)",
            HashVariant::Sha256Hex => "`hash` is not a sha256_hex hash (64 hexadecimal characters)",
            HashVariant::Bcrypt => "`hash` is not a bcrypt hash ($2a$/$2b$/$2y$, cost 04–31, 60 characters)",
        }
        .to_string()
    })
}

/// The 32-byte digest a hash stands for, used to find duplicates across forms: a plaintext, its
/// `sha256_base64` and its `sha256_hex` all map to the same SHA-256. A bcrypt hash (salted) is
/// identified by the SHA-256 of its text.
pub(crate) fn digest_of(hash: &str, variant: HashVariant) -> [u8; 32] {
    use sha2::Digest;
    let decoded = match variant {
        HashVariant::Sha256Base64 => base64::engine::general_purpose::STANDARD.decode(hash).ok(),
        HashVariant::Sha256Hex => hex::decode(hash).ok(),
        HashVariant::Bcrypt => None,
    };
    match decoded {
        Some(bytes) if bytes.len() == 32 => {
            let mut out = [0u8; 32];
            out.copy_from_slice(&bytes);
            out
        }
        _ => sha2::Sha256::digest(hash.as_bytes()).into(),
    }
}

impl MigrationRecord {
    /// Validates the record against the wire limits and maps it onto the wire key data.
    pub(crate) fn check(
        self,
        line: u64,
        default_variant: HashVariant,
    ) -> Result<Checked, RecordError> {
        self.check_inner(line, default_variant)
            .map_err(|e| e.at(line))
    }

    fn check_inner(self, line: u64, default_variant: HashVariant) -> Parsed<Checked> {
        let (material, variant) = match (self.key, self.hash) {
            (Some(_), Some(_)) => {
                return Err(FieldIssue::new(
                    "key",
                    "record has both `key` and `hash`; give one",
                ))
            }
            (None, None) => {
                return Err(FieldIssue::new(
                    "key",
                    "record needs `key` (plaintext) or `hash`",
                ))
            }
            (Some(key), None) => {
                if self.variant.is_some_and(|v| v != HashVariant::Sha256Base64) {
                    return Err(FieldIssue::new(
                        "variant",
                        "`variant` applies to `hash`; a plaintext `key` is always hashed as sha256_base64",
                    ));
                }
                let k = key.expose();
                if k.is_empty() {
                    return Err(FieldIssue::new("key", "`key` is empty"));
                }
                if k.len() > MAX_KEY_BYTES {
                    return Err(FieldIssue::new(
                        "key",
                        format!("`key` is longer than {MAX_KEY_BYTES} bytes"),
                    ));
                }
                if k.trim() != k || k.chars().any(char::is_control) {
                    return Err(FieldIssue::new(
                        "key",
                        format!(
                            "`key` {} has surrounding whitespace or control characters",
                            key.masked()
                        ),
                    ));
                }
                (Material::Plain(key), HashVariant::Sha256Base64)
            }
            (None, Some(hash)) => {
                let variant = self.variant.unwrap_or(default_variant);
                let hash = check_hash(&hash, variant).map_err(|m| FieldIssue::new("hash", m))?;
                (Material::Hash(hash), variant)
            }
        };
        check_migrated_start(self.start.as_deref(), variant)
            .map_err(|m| FieldIssue::new("start", m))?;
        // Sent only with bcrypt hashes (like `hashVariant`, a keyshift extension), so that the
        // same input migrates into Unkey, which does not know the field.
        let start = match variant {
            HashVariant::Bcrypt => self.start,
            _ => None,
        };
        let mut meta = self.meta;
        if let Some(ws) = self.workspace_id {
            let m = meta.get_or_insert_with(Map::new);
            match m.get("workspaceId") {
                Some(Value::String(existing)) if *existing == ws => {}
                Some(_) => {
                    return Err(FieldIssue::new(
                        "workspaceId",
                        "`workspaceId` and `meta.workspaceId` differ",
                    ))
                }
                None => {
                    m.insert("workspaceId".into(), Value::String(ws));
                }
            }
        }
        if let Some(m) = &meta {
            let size = serde_json::to_vec(m).map(|v| v.len()).unwrap_or(usize::MAX);
            if size > MAX_META_BYTES {
                return Err(FieldIssue::new(
                    "meta",
                    format!("`meta` is {size} bytes as JSON (at most {MAX_META_BYTES})"),
                ));
            }
        }
        let mut permissions = self.permissions;
        if !self.scopes.is_empty() {
            let mut seen: HashSet<String> = permissions.iter().cloned().collect();
            for (i, scope) in self.scopes.iter().enumerate() {
                scope.validate().map_err(|e| {
                    FieldIssue::new(
                        &format!("scopes[{i}]"),
                        format!("`scopes[{i}]`: {}", e.message),
                    )
                })?;
                for p in scope.permissions() {
                    if seen.insert(p.clone()) {
                        permissions.push(p);
                    }
                }
            }
        }
        let data = MigrateKeyData {
            hash: match &material {
                Material::Hash(h) => h.clone(),
                // A stand-in of the final shape until the plaintext is hashed.
                Material::Plain(_) => "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
            },
            name: self.name,
            external_id: self.external_id,
            meta,
            roles: (!self.roles.is_empty()).then_some(self.roles),
            permissions: (!permissions.is_empty()).then_some(permissions),
            expires: self.expires,
            enabled: self.enabled,
            credits: self.credits,
            ratelimits: (!self.ratelimits.is_empty()).then_some(self.ratelimits),
            start,
        };
        // The wire's own validator (the one the server runs) checks every documented limit.
        let mut probe = MigrateKeysRequest {
            migration_id: "migration".into(),
            api_id: "api_check".into(),
            keys: vec![data],
            hash_variant: None,
        };
        let errors = probe.validate();
        let mut data = probe.keys.pop().unwrap_or_default();
        if let Some(first) = errors.first() {
            let field = |location: &str| {
                location
                    .strip_prefix("body.keys[0].")
                    .unwrap_or(location)
                    .to_string()
            };
            let mut message = errors
                .iter()
                .take(3)
                .map(|e| format!("`{}` {}", field(&e.location), e.message))
                .collect::<Vec<_>>()
                .join("; ");
            if errors.len() > 3 {
                message.push_str(&format!(" (and {} more)", errors.len() - 3));
            }
            return Err(FieldIssue {
                field: Some(field(&first.location)),
                message,
            });
        }
        if matches!(material, Material::Plain(_)) {
            data.hash.clear();
        }
        Ok(Checked {
            line,
            variant,
            material,
            data,
        })
    }
}

impl MigrationRecord {
    /// A record from a JSON object with the input field names (what bindings pass for dicts).
    pub fn from_value(value: Value) -> crate::Result<MigrationRecord> {
        MigrationRecord::from_json(value).map_err(|e| {
            let err = crate::Error::new(ErrorCode::InvalidInput, e.message);
            match e.field {
                Some(f) => err.with_field(f),
                None => err,
            }
        })
    }

    /// Validates the record and maps it onto the wire (hashing a plaintext `key`): exactly what
    /// the engine sends for it. `default_variant` is the form of a `hash` without `variant`.
    pub fn to_key_data(
        self,
        default_variant: HashVariant,
    ) -> std::result::Result<(HashVariant, MigrateKeyData), RecordError> {
        let checked = self.check(1, default_variant)?;
        let mut data = checked.data;
        if let Material::Plain(key) = checked.material {
            data.hash = crate::hashing::sha256_base64(key.expose());
        }
        Ok((checked.variant, data))
    }
}
