//! Migration input records: parsing (JSON objects, CSV rows), validation against the limits of
//! the wire API, and mapping onto the wire's `keys.migrateKeys` key data.
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
    check_migrated_start, CreditsRequest, KeyCreditsRefill, MigrateKeyData, MigrateKeysRequest,
    RatelimitRequest, RefillInterval, Validate,
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
    fn new(field: &str, message: impl Into<String>) -> Self {
        FieldIssue {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }
    pub fn at(self, line: u64) -> RecordError {
        RecordError::invalid(line, self.field.as_deref(), self.message)
    }
}

type Parsed<T> = Result<T, FieldIssue>;

fn opt_string(field: &str, v: Value) -> Parsed<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        _ => Err(FieldIssue::new(
            field,
            format!("`{field}` must be a string"),
        )),
    }
}

fn string_list(field: &str, v: Value) -> Parsed<Vec<String>> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s),
                _ => Err(FieldIssue::new(
                    &format!("{field}[{i}]"),
                    format!("`{field}[{i}]` must be a string"),
                )),
            })
            .collect(),
        _ => Err(FieldIssue::new(
            field,
            format!("`{field}` must be an array of strings"),
        )),
    }
}

fn opt_i64(field: &str, v: Value) -> Parsed<Option<i64>> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_i64().map(Some).ok_or_else(|| {
            FieldIssue::new(field, format!("`{field}` must be an integer in range"))
        }),
        _ => Err(FieldIssue::new(
            field,
            format!("`{field}` must be an integer"),
        )),
    }
}

/// Parses `profile:read,update` (or `profile:*`) into a scope.
pub(crate) fn parse_scope_text(field: &str, text: &str) -> Parsed<Scope> {
    Scope::parse_cli(text.trim())
        .map_err(|e| FieldIssue::new(field, format!("`{field}`: {}", e.message)))
}

fn scope_from_value(field: &str, v: Value) -> Parsed<Scope> {
    match v {
        Value::String(s) => parse_scope_text(field, &s),
        Value::Object(map) => {
            let mut scope = Scope::default();
            let mut has_repr = false;
            for (k, v) in map {
                let flag = |v: Value, name: &str| match v {
                    Value::Bool(b) => Ok(b),
                    Value::Null => Ok(false),
                    _ => Err(FieldIssue::new(
                        &format!("{field}.{name}"),
                        format!("`{field}.{name}` must be a boolean"),
                    )),
                };
                match k.as_str() {
                    "representation" => match v {
                        Value::String(s) => {
                            scope.representation = s;
                            has_repr = true;
                        }
                        _ => {
                            return Err(FieldIssue::new(
                                &format!("{field}.representation"),
                                format!("`{field}.representation` must be a string"),
                            ))
                        }
                    },
                    "read" => scope.read = flag(v, "read")?,
                    "create" => scope.create = flag(v, "create")?,
                    "update" => scope.update = flag(v, "update")?,
                    "delete" => scope.delete = flag(v, "delete")?,
                    other => {
                        return Err(FieldIssue::new(
                            field,
                            format!("`{field}` has unknown field `{}`", shown_name(other)),
                        ))
                    }
                }
            }
            if !has_repr {
                return Err(FieldIssue::new(
                    &format!("{field}.representation"),
                    format!("`{field}.representation` is required"),
                ));
            }
            Ok(scope)
        }
        _ => Err(FieldIssue::new(
            field,
            format!("`{field}` must be an object {{representation, read, create, update, delete}} or `representation:read,…`"),
        )),
    }
}

fn credits_from_value(v: Value) -> Parsed<Option<CreditsRequest>> {
    match v {
        Value::Null => Ok(None),
        Value::Number(_) => Ok(Some(CreditsRequest {
            remaining: opt_i64("credits", v)?,
            refill: None,
        })),
        Value::Object(map) => {
            let mut remaining = None;
            let mut has_remaining = false;
            let mut refill = None;
            for (k, v) in map {
                match k.as_str() {
                    "remaining" => {
                        has_remaining = true;
                        remaining = opt_i64("credits.remaining", v)?;
                    }
                    "refill" => refill = refill_from_value(v)?,
                    other => {
                        return Err(FieldIssue::new(
                            "credits",
                            format!("`credits` has unknown field `{}`", shown_name(other)),
                        ))
                    }
                }
            }
            if !has_remaining {
                return Err(FieldIssue::new(
                    "credits.remaining",
                    "`credits.remaining` is required (a number, or null for unlimited)",
                ));
            }
            Ok(Some(CreditsRequest { remaining, refill }))
        }
        _ => Err(FieldIssue::new(
            "credits",
            "`credits` must be an object {remaining, refill?} or a number",
        )),
    }
}

fn refill_from_value(v: Value) -> Parsed<Option<KeyCreditsRefill>> {
    let map = match v {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        _ => {
            return Err(FieldIssue::new(
                "credits.refill",
                "`credits.refill` must be an object {interval, amount, refillDay?}",
            ))
        }
    };
    let mut interval = None;
    let mut amount = None;
    let mut refill_day = None;
    for (k, v) in map {
        match k.as_str() {
            "interval" => interval = opt_string("credits.refill.interval", v)?,
            "amount" => amount = opt_i64("credits.refill.amount", v)?,
            "refillDay" => {
                refill_day = opt_i64("credits.refill.refillDay", v)?;
            }
            other => {
                return Err(FieldIssue::new(
                    "credits.refill",
                    format!("`credits.refill` has unknown field `{}`", shown_name(other)),
                ))
            }
        }
    }
    let interval = match interval.as_deref() {
        Some("daily") => RefillInterval::Daily,
        Some("monthly") => RefillInterval::Monthly,
        Some(_) => {
            return Err(FieldIssue::new(
                "credits.refill.interval",
                "`credits.refill.interval` must be daily or monthly",
            ))
        }
        None => {
            return Err(FieldIssue::new(
                "credits.refill.interval",
                "`credits.refill.interval` is required",
            ))
        }
    };
    let amount = amount.ok_or_else(|| {
        FieldIssue::new(
            "credits.refill.amount",
            "`credits.refill.amount` is required",
        )
    })?;
    let refill_day = match refill_day {
        None => None,
        Some(d) if (1..=31).contains(&d) => Some(d as u8),
        Some(_) => {
            return Err(FieldIssue::new(
                "credits.refill.refillDay",
                "`credits.refill.refillDay` must be 1–31",
            ))
        }
    };
    Ok(Some(KeyCreditsRefill {
        interval,
        amount,
        refill_day,
    }))
}

fn ratelimits_from_value(v: Value) -> Parsed<Vec<RatelimitRequest>> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => {
            return Err(FieldIssue::new(
                "ratelimits",
                "`ratelimits` must be an array of {name, limit, duration, autoApply}",
            ))
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let field = format!("ratelimits[{i}]");
        let Value::Object(map) = item else {
            return Err(FieldIssue::new(
                &field,
                format!("`{field}` must be an object {{name, limit, duration, autoApply}}"),
            ));
        };
        let (mut name, mut limit, mut duration, mut auto_apply) = (None, None, None, false);
        for (k, v) in map {
            let sub = format!("{field}.{k}");
            match k.as_str() {
                "name" => name = opt_string(&sub, v)?,
                "limit" => limit = opt_i64(&sub, v)?,
                "duration" => duration = opt_i64(&sub, v)?,
                "autoApply" => {
                    auto_apply = match v {
                        Value::Bool(b) => b,
                        Value::Null => false,
                        _ => {
                            return Err(FieldIssue::new(&sub, format!("`{sub}` must be a boolean")))
                        }
                    }
                }
                other => {
                    return Err(FieldIssue::new(
                        &field,
                        format!("`{field}` has unknown field `{}`", shown_name(other)),
                    ))
                }
            }
        }
        let missing = |n: &str| {
            FieldIssue::new(
                &format!("{field}.{n}"),
                format!("`{field}.{n}` is required"),
            )
        };
        out.push(RatelimitRequest {
            name: name.ok_or_else(|| missing("name"))?,
            limit: limit.ok_or_else(|| missing("limit"))?,
            duration: duration.ok_or_else(|| missing("duration"))?,
            auto_apply,
        });
    }
    Ok(out)
}

pub(crate) use crate::keyformat::shown_name;

impl MigrationRecord {
    /// A record from one JSON object (a JSONL line or a binding's dict). Unknown fields are
    /// rejected so that a typo never drops data silently.
    pub(crate) fn from_json(value: Value) -> Parsed<MigrationRecord> {
        let Value::Object(map) = value else {
            return Err(FieldIssue {
                field: None,
                message: "record must be a JSON object".into(),
            });
        };
        let mut r = MigrationRecord::default();
        let mut customer_id: Option<String> = None;
        // `variant` inside a `hash: {value, variant}` object (Unkey's migration guide).
        let mut hash_variant: Option<HashVariant> = None;
        for (k, v) in map {
            match k.as_str() {
                "key" => {
                    r.key = match v {
                        Value::Null => None,
                        Value::String(s) => Some(SecretKey::new(s)),
                        _ => return Err(FieldIssue::new("key", "`key` must be a string")),
                    }
                }
                "hash" => match v {
                    Value::Object(obj) => {
                        let (value, variant) = hash_object(obj)?;
                        r.hash = Some(value);
                        hash_variant = variant;
                    }
                    Value::Null => r.hash = None,
                    Value::String(s) => r.hash = Some(s),
                    _ => {
                        return Err(FieldIssue::new(
                            "hash",
                            "`hash` must be a string or an object {value, variant}",
                        ))
                    }
                },
                "start" => r.start = opt_string("start", v)?,
                "variant" => {
                    r.variant = match opt_string("variant", v)? {
                        None => None,
                        Some(s) => Some(parse_variant(&s)?),
                    }
                }
                "name" => r.name = opt_string("name", v)?,
                "externalId" => r.external_id = opt_string("externalId", v)?,
                "customerId" => customer_id = opt_string("customerId", v)?,
                "workspaceId" => r.workspace_id = opt_string("workspaceId", v)?,
                "meta" => {
                    r.meta = match v {
                        Value::Null => None,
                        Value::Object(m) => Some(m),
                        _ => return Err(FieldIssue::new("meta", "`meta` must be a JSON object")),
                    }
                }
                "roles" => r.roles = string_list("roles", v)?,
                "permissions" => r.permissions = string_list("permissions", v)?,
                "scopes" => {
                    r.scopes = match v {
                        Value::Null => Vec::new(),
                        Value::Array(items) => items
                            .into_iter()
                            .enumerate()
                            .map(|(i, item)| scope_from_value(&format!("scopes[{i}]"), item))
                            .collect::<Parsed<_>>()?,
                        _ => {
                            return Err(FieldIssue::new(
                                "scopes",
                                "`scopes` must be an array of scopes",
                            ))
                        }
                    }
                }
                "expires" => r.expires = opt_i64("expires", v)?,
                "enabled" => {
                    r.enabled = match v {
                        Value::Null => None,
                        Value::Bool(b) => Some(b),
                        _ => return Err(FieldIssue::new("enabled", "`enabled` must be a boolean")),
                    }
                }
                "credits" => r.credits = credits_from_value(v)?,
                "ratelimits" => r.ratelimits = ratelimits_from_value(v)?,
                other => {
                    return Err(FieldIssue {
                        field: None,
                        message: format!("unknown field `{}`", shown_name(other)),
                    })
                }
            }
        }
        if let Some(hv) = hash_variant {
            match r.variant {
                Some(v) if v != hv => {
                    return Err(FieldIssue::new(
                        "variant",
                        "`variant` and `hash.variant` are both set and differ",
                    ))
                }
                _ => r.variant = Some(hv),
            }
        }
        if let Some(c) = customer_id {
            match &r.external_id {
                Some(e) if *e != c => {
                    return Err(FieldIssue::new(
                        "customerId",
                        "`customerId` and `externalId` are both set and differ",
                    ))
                }
                _ => r.external_id = Some(c),
            }
        }
        Ok(r)
    }

    /// A record from one CSV row (`headers[i]` names `cells[i]`).
    pub(crate) fn from_csv(
        headers: &[String],
        cells: &csv::StringRecord,
    ) -> Parsed<MigrationRecord> {
        let mut map = Map::new();
        for (i, cell) in cells.iter().enumerate() {
            let Some(header) = headers.get(i) else {
                return Err(FieldIssue {
                    field: None,
                    message: format!(
                        "row has {} cells but the header names {}",
                        cells.len(),
                        headers.len()
                    ),
                });
            };
            if cell.is_empty() {
                continue;
            }
            let value = match header.as_str() {
                "roles" | "permissions" => Value::Array(
                    split_list(cell)
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                ),
                "scopes" => {
                    if cell.trim_start().starts_with('[') {
                        json_cell(header, cell)?
                    } else {
                        Value::Array(
                            split_list(cell)
                                .map(|s| {
                                    if s.starts_with('{') {
                                        json_cell(header, s)
                                    } else {
                                        Ok(Value::String(s.to_string()))
                                    }
                                })
                                .collect::<Parsed<_>>()?,
                        )
                    }
                }
                "meta" | "ratelimits" | "credits" => json_cell(header, cell)?,
                "expires" => {
                    let n: i64 = cell.trim().parse().map_err(|_| {
                        FieldIssue::new("expires", "`expires` must be an integer (unix ms)")
                    })?;
                    Value::from(n)
                }
                "enabled" => match cell.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => Value::Bool(true),
                    "false" | "0" | "no" => Value::Bool(false),
                    _ => {
                        return Err(FieldIssue::new(
                            "enabled",
                            "`enabled` must be true or false",
                        ))
                    }
                },
                _ => Value::String(cell.to_string()),
            };
            map.insert(header.clone(), value);
        }
        MigrationRecord::from_json(Value::Object(map))
    }
}

/// `hash: {value, variant?}`, the form of Unkey's migration guide.
fn hash_object(obj: Map<String, Value>) -> Parsed<(String, Option<HashVariant>)> {
    let mut value = None;
    let mut variant = None;
    for (k, v) in obj {
        match k.as_str() {
            "value" => value = opt_string("hash.value", v)?,
            "variant" => {
                variant = match opt_string("hash.variant", v)? {
                    None => None,
                    Some(s) => Some(s.parse::<HashVariant>().map_err(|_| {
                        FieldIssue::new(
                            "hash.variant",
                            "`hash.variant` must be sha256_base64, sha256_hex or bcrypt",
                        )
                    })?),
                }
            }
            other => {
                return Err(FieldIssue::new(
                    "hash",
                    format!(
                        "`hash` has unknown field `{}` (expected value, variant)",
                        shown_name(other)
                    ),
                ))
            }
        }
    }
    let value = value.ok_or_else(|| FieldIssue::new("hash.value", "`hash.value` is required"))?;
    Ok((value, variant))
}

fn split_list(cell: &str) -> impl Iterator<Item = &str> {
    cell.split(';').map(str::trim).filter(|s| !s.is_empty())
}

fn json_cell(field: &str, cell: &str) -> Parsed<Value> {
    serde_json::from_str(cell)
        .map_err(|_| FieldIssue::new(field, format!("`{field}` is not valid JSON")))
}

pub(crate) fn parse_variant(s: &str) -> Parsed<HashVariant> {
    s.parse().map_err(|_| {
        FieldIssue::new(
            "variant",
            "`variant` must be sha256_base64, sha256_hex or bcrypt",
        )
    })
}

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
