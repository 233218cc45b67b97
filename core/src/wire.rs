//! The wire models of DESIGN.md §4: the JSON request and response bodies of every operation of
//! the Unkey-v2-compatible API, shared by our server (engine) and our HTTP client.
//!
//! Field names, optionality and limits follow Unkey's published v2 OpenAPI reference.
//! Conventions:
//! - every **request** struct has `deny_unknown_fields` (the server answers 400 for an unknown
//!   field) and implements [`Validate`], which checks the documented limits and returns every bad
//!   field with its location (`body.byteLength`, `body.keys[3].hash`, …);
//! - **response** structs tolerate unknown fields (a newer hosted Unkey may add some) and skip
//!   absent optional fields when serialized;
//! - fields that carry a plaintext key are [`SecretKey`], whose `Debug` masks;
//! - nullable fields of `keys.updateKey` are `Option<Option<T>>`: `None` = absent (unchanged),
//!   `Some(None)` = JSON `null` (cleared), `Some(Some(v))` = set.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{FieldError, SecretKey};

/// Free-form JSON metadata (`meta`).
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// One operation of the wire API (DESIGN.md §4): its name (`group.op`, routed as
/// `POST /v2/<name>`) and what the retry rules and the server need to know about it. Adding an
/// operation is one arm here plus its request type and handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Op {
    CreateApi,
    GetApi,
    ListKeys,
    DeleteApi,
    CreateKey,
    VerifyKey,
    GetKey,
    UpdateKey,
    DeleteKey,
    RerollKey,
    MigrateKeys,
    AddPermissions,
    RemovePermissions,
    SetPermissions,
    AddRoles,
    RemoveRoles,
    SetRoles,
    UpdateCredits,
    Whoami,
    CreatePermission,
    GetPermission,
    ListPermissions,
    DeletePermission,
    CreateRole,
    GetRole,
    ListRoles,
    DeleteRole,
    SetRolePermissions,
    CreateIdentity,
    GetIdentity,
    ListIdentities,
    DeleteIdentity,
    UpdateIdentity,
}

/// What an operation does, for the retry rules and the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Reads one thing; changes nothing.
    Read,
    /// Reads a page of a list (answered with `pagination`).
    List,
    /// `keys.verifyKey`: may spend a credit or a rate-limit token, yet DESIGN.md §4 retries it.
    Verify,
    /// Mints keys (createKey, rerollKey, migrateKeys): the client always sends an
    /// `Idempotency-Key`, so a repeat is answered from the first attempt.
    Mint,
    /// Every other write: never repeated once it may have reached the server, unless the caller
    /// gives it an `Idempotency-Key`.
    Write,
}

impl Op {
    /// Every operation, in the order of DESIGN.md §4.
    pub const ALL: &'static [Op] = &[
        Op::CreateApi,
        Op::GetApi,
        Op::ListKeys,
        Op::DeleteApi,
        Op::CreateKey,
        Op::VerifyKey,
        Op::GetKey,
        Op::UpdateKey,
        Op::DeleteKey,
        Op::RerollKey,
        Op::MigrateKeys,
        Op::AddPermissions,
        Op::RemovePermissions,
        Op::SetPermissions,
        Op::AddRoles,
        Op::RemoveRoles,
        Op::SetRoles,
        Op::UpdateCredits,
        Op::Whoami,
        Op::CreatePermission,
        Op::GetPermission,
        Op::ListPermissions,
        Op::DeletePermission,
        Op::CreateRole,
        Op::GetRole,
        Op::ListRoles,
        Op::DeleteRole,
        Op::SetRolePermissions,
        Op::CreateIdentity,
        Op::GetIdentity,
        Op::ListIdentities,
        Op::DeleteIdentity,
        Op::UpdateIdentity,
    ];

    /// The wire name, `group.op`.
    pub const fn name(self) -> &'static str {
        match self {
            Op::CreateApi => "apis.createApi",
            Op::GetApi => "apis.getApi",
            Op::ListKeys => "apis.listKeys",
            Op::DeleteApi => "apis.deleteApi",
            Op::CreateKey => "keys.createKey",
            Op::VerifyKey => "keys.verifyKey",
            Op::GetKey => "keys.getKey",
            Op::UpdateKey => "keys.updateKey",
            Op::DeleteKey => "keys.deleteKey",
            Op::RerollKey => "keys.rerollKey",
            Op::MigrateKeys => "keys.migrateKeys",
            Op::AddPermissions => "keys.addPermissions",
            Op::RemovePermissions => "keys.removePermissions",
            Op::SetPermissions => "keys.setPermissions",
            Op::AddRoles => "keys.addRoles",
            Op::RemoveRoles => "keys.removeRoles",
            Op::SetRoles => "keys.setRoles",
            Op::UpdateCredits => "keys.updateCredits",
            Op::Whoami => "keys.whoami",
            Op::CreatePermission => "permissions.createPermission",
            Op::GetPermission => "permissions.getPermission",
            Op::ListPermissions => "permissions.listPermissions",
            Op::DeletePermission => "permissions.deletePermission",
            Op::CreateRole => "permissions.createRole",
            Op::GetRole => "permissions.getRole",
            Op::ListRoles => "permissions.listRoles",
            Op::DeleteRole => "permissions.deleteRole",
            Op::SetRolePermissions => "permissions.setRolePermissions",
            Op::CreateIdentity => "identities.createIdentity",
            Op::GetIdentity => "identities.getIdentity",
            Op::ListIdentities => "identities.listIdentities",
            Op::DeleteIdentity => "identities.deleteIdentity",
            Op::UpdateIdentity => "identities.updateIdentity",
        }
    }

    /// The operation named `name` (`keys.createKey`), if it is one.
    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.iter().copied().find(|op| op.name() == name)
    }

    pub const fn kind(self) -> OpKind {
        match self {
            Op::CreateApi => OpKind::Write,
            Op::GetApi => OpKind::Read,
            Op::ListKeys => OpKind::List,
            Op::DeleteApi => OpKind::Write,
            Op::CreateKey => OpKind::Mint,
            Op::VerifyKey => OpKind::Verify,
            Op::GetKey => OpKind::Read,
            Op::UpdateKey => OpKind::Write,
            Op::DeleteKey => OpKind::Write,
            Op::RerollKey => OpKind::Mint,
            Op::MigrateKeys => OpKind::Mint,
            Op::AddPermissions => OpKind::Write,
            Op::RemovePermissions => OpKind::Write,
            Op::SetPermissions => OpKind::Write,
            Op::AddRoles => OpKind::Write,
            Op::RemoveRoles => OpKind::Write,
            Op::SetRoles => OpKind::Write,
            Op::UpdateCredits => OpKind::Write,
            Op::Whoami => OpKind::Read,
            Op::CreatePermission => OpKind::Write,
            Op::GetPermission => OpKind::Read,
            Op::ListPermissions => OpKind::List,
            Op::DeletePermission => OpKind::Write,
            Op::CreateRole => OpKind::Write,
            Op::GetRole => OpKind::Read,
            Op::ListRoles => OpKind::List,
            Op::DeleteRole => OpKind::Write,
            Op::SetRolePermissions => OpKind::Write,
            Op::CreateIdentity => OpKind::Write,
            Op::GetIdentity => OpKind::Read,
            Op::ListIdentities => OpKind::List,
            Op::DeleteIdentity => OpKind::Write,
            Op::UpdateIdentity => OpKind::Write,
        }
    }

    /// Changes nothing on the server (reads and lists).
    pub const fn is_read(self) -> bool {
        matches!(self.kind(), OpKind::Read | OpKind::List)
    }

    /// Answered with a list and `pagination`.
    pub const fn is_list(self) -> bool {
        matches!(self.kind(), OpKind::List)
    }

    /// The client sends an `Idempotency-Key` with every call of it.
    pub const fn sends_idempotency_key(self) -> bool {
        matches!(self.kind(), OpKind::Mint)
    }

    /// May be sent again after a failure that may have reached the server (a 500/502/504, a
    /// timeout or a connection lost after sending): reads, `verifyKey`, and any call carrying an
    /// `Idempotency-Key` (DESIGN.md §4).
    pub const fn retry_safe_after_send(self, has_idempotency_key: bool) -> bool {
        has_idempotency_key || matches!(self.kind(), OpKind::Read | OpKind::List | OpKind::Verify)
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Op {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Op> {
        Op::from_name(s).ok_or_else(|| {
            crate::Error::not_found(format!(
                "unknown operation `{}`",
                crate::keyformat::shown_value(s)
            ))
        })
    }
}

/// Every operation of §4 as `group.op`; the server routes `POST /v2/<op>`. (The names of
/// [`Op::ALL`], kept for callers that match on strings.)
pub const OPERATIONS: &[&str] = &[
    "apis.createApi",
    "apis.getApi",
    "apis.listKeys",
    "apis.deleteApi",
    "keys.createKey",
    "keys.verifyKey",
    "keys.getKey",
    "keys.updateKey",
    "keys.deleteKey",
    "keys.rerollKey",
    "keys.migrateKeys",
    "keys.addPermissions",
    "keys.removePermissions",
    "keys.setPermissions",
    "keys.addRoles",
    "keys.removeRoles",
    "keys.setRoles",
    "keys.updateCredits",
    "keys.whoami",
    "permissions.createPermission",
    "permissions.getPermission",
    "permissions.listPermissions",
    "permissions.deletePermission",
    "permissions.createRole",
    "permissions.getRole",
    "permissions.listRoles",
    "permissions.deleteRole",
    "permissions.setRolePermissions",
    "identities.createIdentity",
    "identities.getIdentity",
    "identities.listIdentities",
    "identities.deleteIdentity",
    "identities.updateIdentity",
];

/// Operations answered with a list and `pagination` ([`Op::is_list`]).
pub const LIST_OPERATIONS: &[&str] = &[
    "apis.listKeys",
    "permissions.listPermissions",
    "permissions.listRoles",
    "identities.listIdentities",
];

/// Operations for which the client sends an `Idempotency-Key` header
/// ([`Op::sends_idempotency_key`]).
pub const IDEMPOTENT_OPERATIONS: &[&str] =
    &["keys.createKey", "keys.rerollKey", "keys.migrateKeys"];

/// Limits of Unkey's v2 reference (and of our server).
pub mod limits {
    /// Request body limit (bytes), as Unkey.
    pub const BODY_MAX_BYTES: usize = 10 * 1024 * 1024;
    pub const API_NAME_MIN_LEN: usize = 3;
    pub const API_NAME_MAX_LEN: usize = 256;
    pub const ID_MIN_LEN: usize = 3;
    /// `apiId` of `apis.getApi` / `apis.deleteApi`.
    pub const API_ID_MIN_LEN: usize = 8;
    pub const ID_MAX_LEN: usize = 255;
    pub const PREFIX_MIN_LEN: usize = 1;
    pub const PREFIX_MAX_LEN: usize = 16;
    pub const BYTE_LENGTH_MIN: u32 = 16;
    pub const BYTE_LENGTH_MAX: u32 = 255;
    pub const BYTE_LENGTH_DEFAULT: u32 = 16;
    pub const KEY_NAME_MAX_LEN: usize = 255;
    pub const EXTERNAL_ID_MAX_LEN: usize = 255;
    pub const META_MAX_PROPERTIES: usize = 100;
    pub const PERMISSIONS_MAX: usize = 1000;
    pub const ROLES_MAX: usize = 100;
    /// Permission slug / role name length on keys and roles.
    pub const PERMISSION_SLUG_MAX_LEN: usize = 128;
    pub const PERMISSION_NAME_MAX_LEN: usize = 512;
    pub const ROLE_NAME_MAX_LEN: usize = 128;
    pub const DESCRIPTION_MAX_LEN: usize = 512;
    pub const RATELIMITS_MAX: usize = 50;
    pub const RATELIMIT_NAME_MIN_LEN: usize = 3;
    pub const RATELIMIT_NAME_MAX_LEN: usize = 128;
    pub const RATELIMIT_DURATION_MIN_MS: i64 = 1000;
    pub const RATELIMIT_DURATION_MAX_MS: i64 = 2_592_000_000;
    pub const RATELIMIT_LIMIT_MIN: i64 = 1;
    /// Name of a ratelimit referenced in a verify request.
    pub const VERIFY_RATELIMIT_NAME_MAX_LEN: usize = 255;
    /// 2100-01-01T00:00:00Z in unix ms.
    pub const EXPIRES_MAX_MS: i64 = 4_102_444_800_000;
    pub const KEY_MAX_LEN: usize = 512;
    pub const PERMISSION_QUERY_MAX_LEN: usize = 1000;
    pub const TAGS_MAX: usize = 20;
    pub const TAG_MAX_LEN: usize = 512;
    pub const VERIFY_CREDITS_COST_MAX: i64 = 1_000_000_000_000;
    pub const REFILL_DAY_MIN: u8 = 1;
    pub const REFILL_DAY_MAX: u8 = 31;
    pub const LIST_LIMIT_MIN: u32 = 1;
    pub const LIST_LIMIT_MAX: u32 = 100;
    pub const LIST_LIMIT_DEFAULT: u32 = 100;
    pub const CURSOR_MAX_LEN: usize = 1024;
    pub const SEARCH_MAX_LEN: usize = 256;
    pub const MIGRATION_ID_MIN_LEN: usize = 3;
    pub const MIGRATION_ID_MAX_LEN: usize = 255;
    pub const VERIFY_MIGRATION_ID_MAX_LEN: usize = 256;
    pub const HASH_MIN_LEN: usize = 3;
}

use limits::*;

// ---------------------------------------------------------------------------------------------
// Envelopes
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub request_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default)]
    pub has_more: bool,
}

/// `{"meta":{"requestId"},"data":…,"pagination"?}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuccessEnvelope<T> {
    pub meta: Meta,
    pub data: T,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// The problem+json error body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEnvelope {
    pub meta: Meta,
    pub error: Problem,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub status: u16,
    #[serde(rename = "type", default)]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// `data: {}` of operations that answer nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EmptyData {}

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/// `credits.refill.interval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefillInterval {
    Daily,
    Monthly,
    /// A value this version does not know (rejected by [`Validate`] on requests).
    #[serde(other)]
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyCreditsRefill {
    pub interval: RefillInterval,
    pub amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refill_day: Option<u8>,
}

/// `credits` on create/migrate (request) and in key data (response): `remaining: null` means
/// unlimited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct KeyCreditsData {
    #[serde(default)]
    pub remaining: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refill: Option<KeyCreditsRefill>,
}

/// A ratelimit configured on a key or identity (request side). Every field is required, as in
/// Unkey's schema (`autoApply` too).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RatelimitRequest {
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub auto_apply: bool,
}

/// A ratelimit as stored (response side).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RatelimitResponse {
    pub id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    #[serde(default)]
    pub auto_apply: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub id: String,
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratelimits: Option<Vec<RatelimitResponse>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    pub id: String,
    pub name: String,
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<Permission>>,
}

/// A key as `keys.getKey`, `keys.whoami` and `apis.listKeys` describe it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyResponseData {
    pub key_id: String,
    #[serde(default)]
    pub start: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Metadata>,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<KeyCreditsData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// Only for recoverable keys with `decrypt: true` (our server never stores plaintext).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::secret::serialize_exposed_opt"
    )]
    pub plaintext: Option<SecretKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratelimits: Option<Vec<RatelimitResponse>>,
}

fn default_true() -> bool {
    true
}

/// Deserializes a nullable field: absent → `None` (via `default`), `null` → `Some(None)`.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Deserializes an optional request field that Unkey's schema does not allow to be `null`:
/// absent → `None` (via `default`), a value → `Some`, `null` → "invalid type: null, expected …"
/// (a 400 naming the field, as Unkey's validator answers).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Deserializes a field that must be present but may be `null` (`credits.remaining` on
/// create/migrate). Without `default`, serde reports it missing when absent.
fn required_nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

// ---------------------------------------------------------------------------------------------
// apis.*
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiRequest {
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiResponseData {
    pub api_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetApiRequest {
    pub api_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetApiResponseData {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListKeysRequest {
    pub api_id: String,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit: Option<u32>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub cursor: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub decrypt: Option<bool>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub revalidate_keys_cache: Option<bool>,
}

/// `apis.listKeys` data (with `pagination`).
pub type ListKeysResponseData = Vec<KeyResponseData>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteApiRequest {
    pub api_id: String,
}

pub type DeleteApiResponseData = EmptyData;

// ---------------------------------------------------------------------------------------------
// keys.*
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub api_id: String,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub prefix: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub byte_length: Option<u32>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Metadata>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub roles: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub permissions: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<i64>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub credits: Option<CreditsRequest>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub ratelimits: Option<Vec<RatelimitRequest>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub enabled: Option<bool>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub recoverable: Option<bool>,
}

/// `credits` on create/migrate requests (strict twin of [`KeyCreditsData`]). `remaining` is
/// required, `null` meaning unlimited, as in Unkey's schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreditsRequest {
    #[serde(deserialize_with = "required_nullable")]
    pub remaining: Option<i64>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub refill: Option<KeyCreditsRefill>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyResponseData {
    pub key_id: String,
    #[serde(serialize_with = "crate::secret::serialize_exposed")]
    pub key: SecretKey,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyKeyRequest {
    #[serde(serialize_with = "crate::secret::serialize_exposed")]
    pub key: SecretKey,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub tags: Option<Vec<String>>,
    /// Permission query: `a`, `a AND b`, `(a OR b) AND c`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub permissions: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub credits: Option<VerifyCredits>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub ratelimits: Option<Vec<VerifyRatelimit>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub migration_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyCredits {
    pub cost: i64,
}

/// A ratelimit to check during verification: names a key/identity ratelimit, optionally
/// overriding its cost, limit or duration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyRatelimit {
    pub name: String,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub cost: Option<i64>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit: Option<i64>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<i64>,
}

/// Outcome of `keys.verifyKey`. `Unknown` catches codes a newer service may add.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerifyCode {
    Valid,
    NotFound,
    Forbidden,
    InsufficientPermissions,
    /// Listed by older revisions of Unkey's v2 reference.
    InsufficientCredits,
    UsageExceeded,
    RateLimited,
    Disabled,
    Expired,
    #[serde(other)]
    Unknown,
}

impl VerifyCode {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyCode::Valid => "VALID",
            VerifyCode::NotFound => "NOT_FOUND",
            VerifyCode::Forbidden => "FORBIDDEN",
            VerifyCode::InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
            VerifyCode::InsufficientCredits => "INSUFFICIENT_CREDITS",
            VerifyCode::UsageExceeded => "USAGE_EXCEEDED",
            VerifyCode::RateLimited => "RATE_LIMITED",
            VerifyCode::Disabled => "DISABLED",
            VerifyCode::Expired => "EXPIRED",
            VerifyCode::Unknown => "UNKNOWN",
        }
    }
}

impl std::fmt::Display for VerifyCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyKeyResponseData {
    pub valid: bool,
    pub code: VerifyCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// Remaining credits; absent = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratelimits: Option<Vec<VerifyRatelimitData>>,
}

impl VerifyKeyResponseData {
    /// An outcome with only `valid` and `code` set.
    pub fn outcome(code: VerifyCode) -> Self {
        VerifyKeyResponseData {
            valid: code == VerifyCode::Valid,
            code,
            key_id: None,
            name: None,
            meta: None,
            expires: None,
            credits: None,
            enabled: None,
            permissions: None,
            roles: None,
            identity: None,
            ratelimits: None,
        }
    }
}

/// A ratelimit checked during verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRatelimitData {
    #[serde(default)]
    pub exceeded: bool,
    #[serde(default)]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub limit: i64,
    #[serde(default)]
    pub duration: i64,
    /// Unix ms when the current window resets.
    #[serde(default)]
    pub reset: i64,
    #[serde(default)]
    pub remaining: i64,
    #[serde(default)]
    pub auto_apply: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetKeyRequest {
    pub key_id: String,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub decrypt: Option<bool>,
}

pub type GetKeyResponseData = KeyResponseData;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateKeyRequest {
    pub key_id: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Option<Metadata>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<Option<i64>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub credits: Option<Option<UpdateKeyCredits>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub ratelimits: Option<Vec<RatelimitRequest>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub enabled: Option<bool>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub roles: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub permissions: Option<Vec<String>>,
}

/// `credits` of `keys.updateKey`: each part absent = unchanged, `null` = cleared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateKeyCredits {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub remaining: Option<Option<i64>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub refill: Option<Option<KeyCreditsRefill>>,
}

pub type UpdateKeyResponseData = EmptyData;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteKeyRequest {
    pub key_id: String,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub permanent: Option<bool>,
}

pub type DeleteKeyResponseData = EmptyData;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RerollKeyRequest {
    pub key_id: String,
    /// Milliseconds the old key stays valid (0 = revoked now).
    pub expiration: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RerollKeyResponseData {
    pub key_id: String,
    #[serde(serialize_with = "crate::secret::serialize_exposed")]
    pub key: SecretKey,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MigrateKeysRequest {
    pub migration_id: String,
    pub api_id: String,
    pub keys: Vec<MigrateKeyData>,
    /// keyshift extension: the form of every `hash` (`sha256_base64` default, `sha256_hex`,
    /// `bcrypt`). Hosted Unkey does not know this field; leave it `None` there.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub hash_variant: Option<crate::hashing::HashVariant>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MigrateKeyData {
    pub hash: String,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Metadata>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub roles: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub permissions: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<i64>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub enabled: Option<bool>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub credits: Option<CreditsRequest>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub ratelimits: Option<Vec<RatelimitRequest>>,
    /// keyshift extension (DESIGN §4): the key's clear leading part as the legacy system kept
    /// it (e.g. `sk_live_ab12`). Required for `bcrypt` hashes, which verify finds through it;
    /// see [`check_migrated_start`]. Hosted Unkey does not know this field; leave it `None` there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

/// Longest `start` of a migrated key (bytes). The start is stored in clear, so it must be only
/// the leading part of a key, as a legacy system kept it for lookup (prefix + a few characters).
pub const MIGRATED_START_MAX_LEN: usize = 32;

/// Most live `bcrypt` keys of a workspace one presented key can match by `start` (DESIGN §4):
/// a verify makes at most this many bcrypt checks, and `keys.migrateKeys` refuses a bcrypt key
/// whose `start` would make a presented key match more.
pub const BCRYPT_MAX_CANDIDATES: usize = 4;

/// Checks the `start` of a migrated key whose hash is of `variant`; the reason when it is not
/// acceptable. `bcrypt` keys need one (non-empty): verify narrows bcrypt candidates by it.
/// Any given start is 1–[`MIGRATED_START_MAX_LEN`] printable ASCII characters without spaces.
/// Used by the server (a per-record failure) and by the migration engine (a bad record).
pub fn check_migrated_start(
    start: Option<&str>,
    variant: crate::hashing::HashVariant,
) -> std::result::Result<(), String> {
    let bcrypt = variant == crate::hashing::HashVariant::Bcrypt;
    match start {
        None if bcrypt => Err(
            "a bcrypt hash needs `start`, the key's clear leading part as the \
             legacy system kept it (e.g. sk_live_ab12): verify finds bcrypt keys by it"
                .into(),
        ),
        None => Ok(()),
        Some("") if bcrypt => Err(
            "`start` is empty; a bcrypt hash needs the key's clear leading \
             part (e.g. sk_live_ab12): verify finds bcrypt keys by it"
                .into(),
        ),
        Some("") => Ok(()),
        Some(s) if s.len() > MIGRATED_START_MAX_LEN => Err(format!(
            "`start` is longer than {MIGRATED_START_MAX_LEN} characters; give only the key's \
             leading part (it is stored in clear)"
        )),
        Some(s) if !s.bytes().all(|b| b.is_ascii_graphic()) => Err(
            "`start` must be printable ASCII characters without spaces (the key's leading part)"
                .into(),
        ),
        Some(_) => Ok(()),
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MigratedKey {
    pub hash: String,
    pub key_id: String,
}

/// One entry of `failed`: Unkey's reference shows plain hashes, some of its prose
/// `{hash, error}`; both deserialize. Serialized as a plain hash when `error` is `None`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MigrateFailure {
    pub hash: String,
    pub error: Option<String>,
}

impl Serialize for MigrateFailure {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.error {
            None => serializer.serialize_str(&self.hash),
            Some(error) => {
                use serde::ser::SerializeStruct;
                let mut s = serializer.serialize_struct("MigrateFailure", 2)?;
                s.serialize_field("hash", &self.hash)?;
                s.serialize_field("error", error)?;
                s.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for MigrateFailure {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Hash(String),
            Object {
                hash: String,
                #[serde(default, alias = "message")]
                error: Option<String>,
            },
        }
        Ok(match Repr::deserialize(deserializer)? {
            Repr::Hash(hash) => MigrateFailure { hash, error: None },
            Repr::Object { hash, error } => MigrateFailure { hash, error },
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MigrateKeysResponseData {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub migrated: Vec<MigratedKey>,
    /// Unkey answers `"failed": null` when nothing failed: read as empty.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub failed: Vec<MigrateFailure>,
}

/// A list that may arrive as `null` (Go's nil slice), read as empty.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

macro_rules! key_list_request {
    ($(#[$doc:meta])* $name:ident, $field:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            pub key_id: String,
            pub $field: Vec<String>,
        }
    };
}

key_list_request!(
    /// `keys.addPermissions`: missing permissions are created.
    AddPermissionsRequest,
    permissions
);
key_list_request!(
    /// `keys.removePermissions`.
    RemovePermissionsRequest,
    permissions
);
key_list_request!(
    /// `keys.setPermissions`: replaces the key's direct permissions (may be empty).
    SetPermissionsRequest,
    permissions
);
key_list_request!(
    /// `keys.addRoles`: roles must exist.
    AddRolesRequest,
    roles
);
key_list_request!(
    /// `keys.removeRoles`.
    RemoveRolesRequest,
    roles
);
key_list_request!(
    /// `keys.setRoles`: replaces the key's roles (may be empty).
    SetRolesRequest,
    roles
);

/// Data of add/remove/setPermissions: the key's direct permissions afterwards.
pub type KeyPermissionsResponseData = Vec<Permission>;
/// Data of add/remove/setRoles: the key's roles afterwards.
pub type KeyRolesResponseData = Vec<Role>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CreditsOperation {
    Set,
    Increment,
    Decrement,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCreditsRequest {
    pub key_id: String,
    /// `null` with `set` = unlimited.
    #[serde(default)]
    pub value: Option<i64>,
    pub operation: CreditsOperation,
}

pub type UpdateCreditsResponseData = KeyCreditsData;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WhoamiRequest {
    #[serde(serialize_with = "crate::secret::serialize_exposed")]
    pub key: SecretKey,
}

pub type WhoamiResponseData = KeyResponseData;

// ---------------------------------------------------------------------------------------------
// permissions.*
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePermissionRequest {
    pub name: String,
    pub slug: String,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePermissionResponseData {
    pub permission_id: String,
}

/// `permissions.getPermission` / `deletePermission`: `permission` is an id or a slug.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetPermissionRequest {
    pub permission: String,
}

pub type GetPermissionResponseData = Permission;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeletePermissionRequest {
    pub permission: String,
}

/// `permissions.listPermissions`, `permissions.listRoles`, `identities.listIdentities`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListRequest {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub cursor: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit: Option<u32>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub search: Option<String>,
}

pub type ListPermissionsRequest = ListRequest;
pub type ListRolesRequest = ListRequest;
pub type ListIdentitiesRequest = ListRequest;
pub type ListPermissionsResponseData = Vec<Permission>;
pub type ListRolesResponseData = Vec<Role>;
pub type ListIdentitiesResponseData = Vec<Identity>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRoleRequest {
    pub name: String,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    /// Permission slugs granted by the role (created when missing).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub permissions: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRoleResponseData {
    pub role_id: String,
}

/// `permissions.getRole` / `deleteRole`: `role` is an id or a name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetRoleRequest {
    pub role: String,
}

pub type GetRoleResponseData = Role;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteRoleRequest {
    pub role: String,
}

// ---------------------------------------------------------------------------------------------
// identities.*
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateIdentityRequest {
    pub external_id: String,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Metadata>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub ratelimits: Option<Vec<RatelimitRequest>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIdentityResponseData {
    pub identity_id: String,
}

/// `identities.getIdentity` / `deleteIdentity`: `identity` is an id or an external id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetIdentityRequest {
    pub identity: String,
}

pub type GetIdentityResponseData = Identity;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteIdentityRequest {
    pub identity: String,
}

/// Unkey answers `identities.deleteIdentity` with `meta` only; our server sends `data: {}`.
pub type DeleteIdentityResponseData = EmptyData;

/// `identities.updateIdentity`: `identity` is an id or an external id. `meta` and `ratelimits`
/// replace what the identity has when present (`{}` / `[]` clear them); absent or `null` keeps
/// it. Rate limits keep their ids by name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateIdentityRequest {
    pub identity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratelimits: Option<Vec<RatelimitRequest>>,
}

/// The identity after the update.
pub type UpdateIdentityResponseData = Identity;

/// `permissions.setRolePermissions`: replaces the permissions assigned directly to the role
/// `roleId` (an id, not a name) with `permissions` (slugs; matched case-insensitively, missing
/// ones created; `[]` clears).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetRolePermissionsRequest {
    pub role_id: String,
    pub permissions: Vec<String>,
}

/// The role's direct permissions afterwards, in the order of the sorted requested slugs.
pub type SetRolePermissionsResponseData = Vec<Permission>;

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// Checks a request against the documented limits. Locations are `body.<camelCasePath>`.
pub trait Validate {
    fn validate(&self) -> Vec<FieldError>;
}

struct Checker {
    errors: Vec<FieldError>,
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_external_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Characters of a permission slug (`^[a-zA-Z0-9_:\-\.\*]+$`).
pub fn is_permission_slug_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.' | '*')
}

impl Checker {
    fn new() -> Self {
        Checker { errors: Vec::new() }
    }

    fn push(&mut self, location: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            location: format!("body.{location}"),
            message: message.into(),
        });
    }

    fn len(&mut self, location: &str, value: &str, min: usize, max: usize) -> bool {
        let n = value.chars().count();
        if n < min {
            self.push(
                location,
                format!("must be at least {min} characters long (got {n})"),
            );
            false
        } else if n > max {
            self.push(
                location,
                format!("must be at most {max} characters long (got {n})"),
            );
            false
        } else {
            true
        }
    }

    fn chars(&mut self, location: &str, value: &str, ok: fn(char) -> bool, what: &str) {
        if !value.chars().all(ok) {
            self.push(location, format!("may only contain {what}"));
        }
    }

    fn id(&mut self, location: &str, value: &str) {
        if self.len(location, value, ID_MIN_LEN, ID_MAX_LEN) {
            self.chars(
                location,
                value,
                is_id_char,
                "letters, digits and underscores",
            );
        }
    }

    /// `apiId` of `apis.getApi` / `apis.deleteApi`: Unkey's schema asks at least 8 characters.
    fn api_id(&mut self, location: &str, value: &str) {
        if self.len(location, value, API_ID_MIN_LEN, ID_MAX_LEN) {
            self.chars(
                location,
                value,
                is_id_char,
                "letters, digits and underscores",
            );
        }
    }

    fn ref_name(&mut self, location: &str, value: &str, max: usize) {
        self.len(location, value, 1, max);
    }

    fn external_id(&mut self, location: &str, value: &str) {
        if self.len(location, value, 1, EXTERNAL_ID_MAX_LEN) {
            self.chars(
                location,
                value,
                is_external_id_char,
                "letters, digits, '_', '.' and '-'",
            );
        }
    }

    fn meta(&mut self, location: &str, meta: &Metadata) {
        if meta.len() > META_MAX_PROPERTIES {
            self.push(
                location,
                format!(
                    "may have at most {META_MAX_PROPERTIES} properties (got {})",
                    meta.len()
                ),
            );
        }
    }

    fn slugs(&mut self, location: &str, items: &[String], min_items: usize, max_items: usize) {
        self.count(location, items.len(), min_items, max_items);
        for (i, slug) in items.iter().enumerate() {
            let loc = format!("{location}[{i}]");
            if self.len(&loc, slug, 1, PERMISSION_SLUG_MAX_LEN) {
                self.chars(
                    &loc,
                    slug,
                    is_permission_slug_char,
                    "letters, digits and '_', ':', '-', '.', '*'",
                );
            }
        }
    }

    fn role_names(&mut self, location: &str, items: &[String], min_items: usize, max: usize) {
        self.count(location, items.len(), min_items, max);
        for (i, role) in items.iter().enumerate() {
            self.len(&format!("{location}[{i}]"), role, 1, ROLE_NAME_MAX_LEN);
        }
    }

    fn count(&mut self, location: &str, n: usize, min: usize, max: usize) {
        if n < min {
            self.push(
                location,
                format!("must have at least {min} items (got {n})"),
            );
        } else if n > max {
            self.push(location, format!("must have at most {max} items (got {n})"));
        }
    }

    fn expires(&mut self, location: &str, value: i64) {
        if !(0..=EXPIRES_MAX_MS).contains(&value) {
            self.push(
                location,
                format!("must be a unix timestamp in milliseconds between 0 and {EXPIRES_MAX_MS}"),
            );
        }
    }

    fn refill(&mut self, location: &str, refill: &KeyCreditsRefill) {
        if refill.interval == RefillInterval::Unknown {
            self.push(
                &format!("{location}.interval"),
                "must be \"daily\" or \"monthly\"",
            );
        }
        if refill.amount < 1 {
            self.push(&format!("{location}.amount"), "must be at least 1");
        }
        if let Some(day) = refill.refill_day {
            if !(REFILL_DAY_MIN..=REFILL_DAY_MAX).contains(&day) {
                self.push(
                    &format!("{location}.refillDay"),
                    format!("must be between {REFILL_DAY_MIN} and {REFILL_DAY_MAX}"),
                );
            }
        } else if refill.interval == RefillInterval::Monthly {
            // Unkey's create, migrate and update handlers all refuse a monthly refill without
            // its day.
            self.push(
                &format!("{location}.refillDay"),
                "`refillDay` must be provided when the refill interval is `monthly`",
            );
        }
    }

    fn remaining(&mut self, location: &str, remaining: Option<i64>) {
        if let Some(r) = remaining {
            if r < 0 {
                self.push(location, "must not be negative");
            }
        }
    }

    fn credits(&mut self, location: &str, credits: &CreditsRequest) {
        self.remaining(&format!("{location}.remaining"), credits.remaining);
        if let Some(refill) = &credits.refill {
            self.refill(&format!("{location}.refill"), refill);
        }
    }

    fn ratelimits(&mut self, location: &str, items: &[RatelimitRequest]) {
        self.count(location, items.len(), 0, RATELIMITS_MAX);
        for (i, rl) in items.iter().enumerate() {
            let loc = format!("{location}[{i}]");
            self.len(
                &format!("{loc}.name"),
                &rl.name,
                RATELIMIT_NAME_MIN_LEN,
                RATELIMIT_NAME_MAX_LEN,
            );
            if rl.limit < RATELIMIT_LIMIT_MIN {
                self.push(
                    &format!("{loc}.limit"),
                    format!("must be at least {RATELIMIT_LIMIT_MIN}"),
                );
            }
            if !(RATELIMIT_DURATION_MIN_MS..=RATELIMIT_DURATION_MAX_MS).contains(&rl.duration) {
                self.push(
                    &format!("{loc}.duration"),
                    format!(
                        "must be between {RATELIMIT_DURATION_MIN_MS} and {RATELIMIT_DURATION_MAX_MS} milliseconds"
                    ),
                );
            }
        }
    }

    fn list(&mut self, limit: Option<u32>, cursor: Option<&str>, search: Option<&str>) {
        if let Some(limit) = limit {
            if !(LIST_LIMIT_MIN..=LIST_LIMIT_MAX).contains(&limit) {
                self.push(
                    "limit",
                    format!("must be between {LIST_LIMIT_MIN} and {LIST_LIMIT_MAX}"),
                );
            }
        }
        if let Some(cursor) = cursor {
            self.len("cursor", cursor, 0, CURSOR_MAX_LEN);
        }
        if let Some(search) = search {
            self.len("search", search, 0, SEARCH_MAX_LEN);
        }
    }

    fn finish(self) -> Vec<FieldError> {
        self.errors
    }
}

impl Validate for CreateApiRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.len("name", &self.name, API_NAME_MIN_LEN, API_NAME_MAX_LEN);
        c.finish()
    }
}

impl Validate for GetApiRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.api_id("apiId", &self.api_id);
        c.finish()
    }
}

impl Validate for DeleteApiRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.api_id("apiId", &self.api_id);
        c.finish()
    }
}

impl Validate for ListKeysRequest {
    fn validate(&self) -> Vec<FieldError> {
        // Unkey's schema: `apiId` and `externalId` at least 1 character, no other limit (an
        // id that cannot exist is a 404); `cursor` any string.
        let mut c = Checker::new();
        c.len("apiId", &self.api_id, 1, usize::MAX);
        c.list(self.limit, None, None);
        if let Some(e) = &self.external_id {
            c.len("externalId", e, 1, usize::MAX);
        }
        c.finish()
    }
}

impl Validate for CreateKeyRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.id("apiId", &self.api_id);
        if let Some(prefix) = &self.prefix {
            if c.len("prefix", prefix, PREFIX_MIN_LEN, PREFIX_MAX_LEN) {
                c.chars(
                    "prefix",
                    prefix,
                    is_id_char,
                    "letters, digits and underscores",
                );
            }
        }
        if let Some(name) = &self.name {
            c.len("name", name, 1, KEY_NAME_MAX_LEN);
        }
        if let Some(n) = self.byte_length {
            if !(BYTE_LENGTH_MIN..=BYTE_LENGTH_MAX).contains(&n) {
                c.push(
                    "byteLength",
                    format!("must be between {BYTE_LENGTH_MIN} and {BYTE_LENGTH_MAX} (got {n})"),
                );
            }
        }
        if let Some(e) = &self.external_id {
            c.external_id("externalId", e);
        }
        if let Some(meta) = &self.meta {
            c.meta("meta", meta);
        }
        if let Some(roles) = &self.roles {
            c.role_names("roles", roles, 0, ROLES_MAX);
        }
        if let Some(perms) = &self.permissions {
            c.slugs("permissions", perms, 0, PERMISSIONS_MAX);
        }
        if let Some(expires) = self.expires {
            c.expires("expires", expires);
        }
        if let Some(credits) = &self.credits {
            c.credits("credits", credits);
            if credits.refill.is_some() && credits.remaining.is_none() {
                c.push(
                    "credits.remaining",
                    "`credits.remaining` must be provided when `credits.refill` is set",
                );
            }
        }
        if let Some(rls) = &self.ratelimits {
            c.ratelimits("ratelimits", rls);
        }
        c.finish()
    }
}

impl Validate for VerifyKeyRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.len("key", self.key.expose(), 1, KEY_MAX_LEN);
        if let Some(tags) = &self.tags {
            c.count("tags", tags.len(), 0, TAGS_MAX);
            for (i, tag) in tags.iter().enumerate() {
                c.len(&format!("tags[{i}]"), tag, 1, TAG_MAX_LEN);
            }
        }
        if let Some(q) = &self.permissions {
            c.len("permissions", q, 1, PERMISSION_QUERY_MAX_LEN);
        }
        if let Some(credits) = &self.credits {
            if !(0..=VERIFY_CREDITS_COST_MAX).contains(&credits.cost) {
                c.push(
                    "credits.cost",
                    format!("must be between 0 and {VERIFY_CREDITS_COST_MAX}"),
                );
            }
        }
        if let Some(rls) = &self.ratelimits {
            for (i, rl) in rls.iter().enumerate() {
                let loc = format!("ratelimits[{i}]");
                c.len(
                    &format!("{loc}.name"),
                    &rl.name,
                    RATELIMIT_NAME_MIN_LEN,
                    VERIFY_RATELIMIT_NAME_MAX_LEN,
                );
                for (field, value) in [
                    ("cost", rl.cost),
                    ("limit", rl.limit),
                    ("duration", rl.duration),
                ] {
                    if matches!(value, Some(v) if v < 0) {
                        c.push(&format!("{loc}.{field}"), "must not be negative");
                    }
                }
            }
        }
        if let Some(m) = &self.migration_id {
            c.len("migrationId", m, 0, VERIFY_MIGRATION_ID_MAX_LEN);
        }
        c.finish()
    }
}

impl Validate for GetKeyRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.id("keyId", &self.key_id);
        c.finish()
    }
}

impl Validate for UpdateKeyRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.id("keyId", &self.key_id);
        if let Some(Some(name)) = &self.name {
            c.len("name", name, 1, KEY_NAME_MAX_LEN);
        }
        if let Some(Some(e)) = &self.external_id {
            c.external_id("externalId", e);
        }
        if let Some(Some(meta)) = &self.meta {
            c.meta("meta", meta);
        }
        if let Some(Some(expires)) = self.expires {
            c.expires("expires", expires);
        }
        if let Some(Some(credits)) = &self.credits {
            if let Some(remaining) = credits.remaining {
                c.remaining("credits.remaining", remaining);
            }
            if let Some(Some(refill)) = &credits.refill {
                c.refill("credits.refill", refill);
                if refill.interval == RefillInterval::Daily && refill.refill_day.is_some() {
                    c.push(
                        "credits.refill.refillDay",
                        "`refillDay` must not be provided when the refill interval is `daily`",
                    );
                }
            }
        }
        if let Some(rls) = &self.ratelimits {
            c.ratelimits("ratelimits", rls);
        }
        if let Some(roles) = &self.roles {
            c.role_names("roles", roles, 0, ROLES_MAX);
        }
        if let Some(perms) = &self.permissions {
            c.slugs("permissions", perms, 0, PERMISSIONS_MAX);
        }
        c.finish()
    }
}

impl Validate for DeleteKeyRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.id("keyId", &self.key_id);
        c.finish()
    }
}

impl Validate for RerollKeyRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.id("keyId", &self.key_id);
        if !(0..=EXPIRES_MAX_MS).contains(&self.expiration) {
            c.push(
                "expiration",
                format!("must be between 0 and {EXPIRES_MAX_MS} milliseconds"),
            );
        }
        c.finish()
    }
}

impl Validate for MigrateKeysRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.len(
            "migrationId",
            &self.migration_id,
            MIGRATION_ID_MIN_LEN,
            MIGRATION_ID_MAX_LEN,
        );
        c.len("apiId", &self.api_id, ID_MIN_LEN, ID_MAX_LEN);
        c.count("keys", self.keys.len(), 1, usize::MAX);
        for (i, key) in self.keys.iter().enumerate() {
            let loc = format!("keys[{i}]");
            c.len(&format!("{loc}.hash"), &key.hash, HASH_MIN_LEN, usize::MAX);
            if let Some(name) = &key.name {
                c.len(&format!("{loc}.name"), name, 1, KEY_NAME_MAX_LEN);
            }
            if let Some(e) = &key.external_id {
                c.len(&format!("{loc}.externalId"), e, 1, EXTERNAL_ID_MAX_LEN);
            }
            if let Some(meta) = &key.meta {
                c.meta(&format!("{loc}.meta"), meta);
            }
            if let Some(roles) = &key.roles {
                c.role_names(&format!("{loc}.roles"), roles, 0, ROLES_MAX);
            }
            if let Some(perms) = &key.permissions {
                c.slugs(&format!("{loc}.permissions"), perms, 0, PERMISSIONS_MAX);
            }
            if let Some(expires) = key.expires {
                c.expires(&format!("{loc}.expires"), expires);
            }
            if let Some(credits) = &key.credits {
                c.credits(&format!("{loc}.credits"), credits);
            }
            if let Some(rls) = &key.ratelimits {
                c.ratelimits(&format!("{loc}.ratelimits"), rls);
            }
        }
        c.finish()
    }
}

macro_rules! validate_key_list {
    ($name:ident, permissions, $min:expr) => {
        impl Validate for $name {
            fn validate(&self) -> Vec<FieldError> {
                let mut c = Checker::new();
                c.id("keyId", &self.key_id);
                c.slugs("permissions", &self.permissions, $min, PERMISSIONS_MAX);
                c.finish()
            }
        }
    };
    ($name:ident, roles, $min:expr) => {
        impl Validate for $name {
            fn validate(&self) -> Vec<FieldError> {
                let mut c = Checker::new();
                c.id("keyId", &self.key_id);
                c.role_names("roles", &self.roles, $min, ROLES_MAX);
                c.finish()
            }
        }
    };
}

validate_key_list!(AddPermissionsRequest, permissions, 1);
validate_key_list!(RemovePermissionsRequest, permissions, 1);
validate_key_list!(SetPermissionsRequest, permissions, 0);
validate_key_list!(AddRolesRequest, roles, 1);
validate_key_list!(RemoveRolesRequest, roles, 1);
validate_key_list!(SetRolesRequest, roles, 0);

impl Validate for UpdateCreditsRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.len("keyId", &self.key_id, ID_MIN_LEN, usize::MAX);
        c.remaining("value", self.value);
        if self.value.is_none() && self.operation != CreditsOperation::Set {
            c.push("value", "is required for increment and decrement");
        }
        c.finish()
    }
}

impl Validate for WhoamiRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.len("key", self.key.expose(), 1, KEY_MAX_LEN);
        c.finish()
    }
}

impl Validate for CreatePermissionRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.len("name", &self.name, 1, PERMISSION_NAME_MAX_LEN);
        if c.len("slug", &self.slug, 1, PERMISSION_SLUG_MAX_LEN) {
            c.chars(
                "slug",
                &self.slug,
                is_permission_slug_char,
                "letters, digits and '_', ':', '-', '.', '*'",
            );
        }
        if let Some(d) = &self.description {
            c.len("description", d, 0, DESCRIPTION_MAX_LEN);
        }
        c.finish()
    }
}

impl Validate for GetPermissionRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        if c.len("permission", &self.permission, 1, PERMISSION_SLUG_MAX_LEN) {
            c.chars(
                "permission",
                &self.permission,
                is_permission_slug_char,
                "letters, digits and '_', ':', '-', '.', '*'",
            );
        }
        c.finish()
    }
}

impl Validate for DeletePermissionRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        if c.len("permission", &self.permission, 1, PERMISSION_SLUG_MAX_LEN) {
            c.chars(
                "permission",
                &self.permission,
                is_permission_slug_char,
                "letters, digits and '_', ':', '-', '.', '*'",
            );
        }
        c.finish()
    }
}

impl Validate for ListRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.list(self.limit, self.cursor.as_deref(), self.search.as_deref());
        c.finish()
    }
}

impl Validate for CreateRoleRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.len("name", &self.name, 1, ROLE_NAME_MAX_LEN);
        if let Some(d) = &self.description {
            c.len("description", d, 0, DESCRIPTION_MAX_LEN);
        }
        if let Some(perms) = &self.permissions {
            c.slugs("permissions", perms, 0, PERMISSIONS_MAX);
        }
        c.finish()
    }
}

impl Validate for GetRoleRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.ref_name("role", &self.role, ROLE_NAME_MAX_LEN);
        c.finish()
    }
}

impl Validate for DeleteRoleRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.ref_name("role", &self.role, ROLE_NAME_MAX_LEN);
        c.finish()
    }
}

impl Validate for CreateIdentityRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.external_id("externalId", &self.external_id);
        if let Some(meta) = &self.meta {
            c.meta("meta", meta);
        }
        if let Some(rls) = &self.ratelimits {
            c.ratelimits("ratelimits", rls);
        }
        c.finish()
    }
}

impl Validate for GetIdentityRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.len("identity", &self.identity, 1, usize::MAX);
        c.finish()
    }
}

impl Validate for DeleteIdentityRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.len("identity", &self.identity, 1, usize::MAX);
        c.finish()
    }
}

impl Validate for UpdateIdentityRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        // Unkey: `identity` minLength 1, no maximum.
        c.len("identity", &self.identity, 1, usize::MAX);
        if let Some(meta) = &self.meta {
            c.meta("meta", meta);
        }
        if let Some(rls) = &self.ratelimits {
            c.ratelimits("ratelimits", rls);
            for (i, rl) in rls.iter().enumerate() {
                if rls[..i].iter().any(|earlier| earlier.name == rl.name) {
                    c.push(
                        &format!("ratelimits[{i}].name"),
                        format!(
                            "ratelimit `{}` is already defined in the request",
                            crate::keyformat::shown_value(&rl.name)
                        ),
                    );
                }
            }
        }
        c.finish()
    }
}

/// Characters of Unkey's `ResourceIdentifier` (`^[a-zA-Z0-9_-]+$`).
fn is_resource_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

impl Validate for SetRolePermissionsRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        if c.len("roleId", &self.role_id, ID_MIN_LEN, ID_MAX_LEN) {
            c.chars(
                "roleId",
                &self.role_id,
                is_resource_identifier_char,
                "letters, digits, '_' and '-'",
            );
        }
        // Unkey: no limit on the number of slugs (only the body's).
        c.slugs("permissions", &self.permissions, 0, usize::MAX);
        c.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use serde_json::{json, Value};

    /// Parses `body`, serializes it back and checks the JSON is unchanged.
    fn round_trip<T: DeserializeOwned + Serialize>(body: Value) -> T {
        let parsed: T = serde_json::from_value(body.clone()).expect("parses");
        assert_eq!(serde_json::to_value(&parsed).unwrap(), body);
        parsed
    }

    /// A request with one extra field must be rejected, naming the field.
    fn rejects_unknown<T: DeserializeOwned + std::fmt::Debug>(mut body: Value) {
        body.as_object_mut()
            .unwrap()
            .insert("bogusField".into(), json!(1));
        let err = serde_json::from_value::<T>(body).unwrap_err().to_string();
        assert!(err.contains("bogusField"), "{err}");
    }

    /// A response with one extra field must still parse.
    fn tolerates_unknown<T: DeserializeOwned>(mut body: Value) {
        match &mut body {
            Value::Object(map) => {
                map.insert("newerField".into(), json!({"x": 1}));
            }
            Value::Array(items) => {
                for item in items {
                    item.as_object_mut()
                        .unwrap()
                        .insert("newerField".into(), json!({"x": 1}));
                }
            }
            _ => unreachable!("response bodies are objects or arrays"),
        }
        serde_json::from_value::<T>(body).expect("tolerates unknown response field");
    }

    fn request<T: DeserializeOwned + Serialize + std::fmt::Debug + Validate>(body: Value) -> T {
        let parsed = round_trip::<T>(body.clone());
        assert_eq!(parsed.validate(), vec![], "valid sample");
        rejects_unknown::<T>(body);
        parsed
    }

    fn response<T: DeserializeOwned + Serialize>(body: Value) -> T {
        let parsed = round_trip::<T>(body.clone());
        tolerates_unknown::<T>(body);
        parsed
    }

    fn locations(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.location.as_str()).collect()
    }

    #[test]
    fn operations_are_unique_and_cover_lists() {
        let mut ops = OPERATIONS.to_vec();
        ops.sort();
        ops.dedup();
        assert_eq!(ops.len(), OPERATIONS.len());
        assert_eq!(OPERATIONS.len(), 33);
        for op in LIST_OPERATIONS.iter().chain(IDEMPOTENT_OPERATIONS) {
            assert!(OPERATIONS.contains(op));
        }
    }

    #[test]
    fn apis_round_trip() {
        request::<CreateApiRequest>(json!({"name": "payments"}));
        request::<GetApiRequest>(json!({"apiId": "api_123abc"}));
        request::<DeleteApiRequest>(json!({"apiId": "api_123abc"}));
        request::<ListKeysRequest>(json!({
            "apiId": "api_123abc", "limit": 50, "cursor": "key_9", "externalId": "user_1",
            "decrypt": false, "revalidateKeysCache": true
        }));
        response::<CreateApiResponseData>(json!({"apiId": "api_123abc"}));
        response::<GetApiResponseData>(json!({"id": "api_123abc", "name": "payments"}));
    }

    #[test]
    fn create_key_round_trip_and_limits() {
        let req = request::<CreateKeyRequest>(json!({
            "apiId": "api_123abc",
            "prefix": "sk_live",
            "name": "Payment key",
            "byteLength": 24,
            "externalId": "user_123",
            "meta": {"plan": "pro"},
            "roles": ["admin"],
            "permissions": ["documents.read", "documents.*"],
            "expires": 1_704_067_200_000i64,
            "credits": {"remaining": 1000, "refill": {"interval": "monthly", "amount": 1000, "refillDay": 1}},
            "ratelimits": [{"name": "requests", "limit": 100, "duration": 60000, "autoApply": true}],
            "enabled": true,
            "recoverable": false
        }));
        assert_eq!(req.byte_length, Some(24));
        let bad: CreateKeyRequest = serde_json::from_value(json!({
            "apiId": "api 1",
            "prefix": "this-prefix-is-too-long",
            "byteLength": 8,
            "externalId": "a b",
            "permissions": ["ok", "bad perm"],
            "expires": -1,
            "credits": {"remaining": -5, "refill": {"interval": "weekly", "amount": 0}},
            "ratelimits": [{"name": "rl", "limit": 0, "duration": 999, "autoApply": false}]
        }))
        .unwrap();
        let errors = bad.validate();
        assert_eq!(
            locations(&errors),
            vec![
                "body.apiId",
                "body.prefix",
                "body.byteLength",
                "body.externalId",
                "body.permissions[1]",
                "body.expires",
                "body.credits.remaining",
                "body.credits.refill.interval",
                "body.credits.refill.amount",
                "body.ratelimits[0].name",
                "body.ratelimits[0].limit",
                "body.ratelimits[0].duration",
            ]
        );
        let mut meta = Metadata::new();
        for i in 0..=META_MAX_PROPERTIES {
            meta.insert(format!("k{i}"), json!(i));
        }
        let too_much = CreateKeyRequest {
            api_id: "api_123".into(),
            meta: Some(meta),
            roles: Some(vec!["r".into(); ROLES_MAX + 1]),
            permissions: Some(vec!["p".into(); PERMISSIONS_MAX + 1]),
            ..Default::default()
        };
        assert_eq!(
            locations(&too_much.validate()),
            vec!["body.meta", "body.roles", "body.permissions"]
        );
        // nested request objects are strict too
        let err = serde_json::from_value::<CreateKeyRequest>(json!({
            "apiId": "api_123", "credits": {"remaining": 1, "extra": true}
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("extra"), "{err}");
        let data = response::<CreateKeyResponseData>(
            json!({"keyId": "key_1", "key": "sk_live_abcdefghijklmnop"}),
        );
        assert!(!format!("{data:?}").contains("abcdefghijklmnop"));
    }

    #[test]
    fn verify_round_trip_and_codes() {
        let req = request::<VerifyKeyRequest>(json!({
            "key": "sk_live_abcdefghijklmnop",
            "tags": ["endpoint=/users"],
            "permissions": "(a OR b) AND c",
            "credits": {"cost": 0},
            "ratelimits": [{"name": "requests", "cost": 2, "limit": 10, "duration": 1000}],
            "migrationId": "m_1"
        }));
        assert!(!format!("{req:?}").contains("abcdefghijklmnop"));
        let data = response::<VerifyKeyResponseData>(json!({
            "valid": true, "code": "VALID", "keyId": "key_1", "name": "n", "meta": {"a": 1},
            "expires": 1, "credits": 9, "enabled": true, "permissions": ["a"], "roles": ["r"],
            "identity": {"id": "id_1", "externalId": "user_1", "meta": {}, "ratelimits": []},
            "ratelimits": [{"exceeded": false, "id": "rl_1", "name": "requests", "limit": 10,
                             "duration": 1000, "reset": 1700000000000i64, "remaining": 9, "autoApply": true}]
        }));
        assert!(data.valid);
        for (text, code) in [
            ("VALID", VerifyCode::Valid),
            ("NOT_FOUND", VerifyCode::NotFound),
            ("FORBIDDEN", VerifyCode::Forbidden),
            (
                "INSUFFICIENT_PERMISSIONS",
                VerifyCode::InsufficientPermissions,
            ),
            ("INSUFFICIENT_CREDITS", VerifyCode::InsufficientCredits),
            ("USAGE_EXCEEDED", VerifyCode::UsageExceeded),
            ("RATE_LIMITED", VerifyCode::RateLimited),
            ("DISABLED", VerifyCode::Disabled),
            ("EXPIRED", VerifyCode::Expired),
        ] {
            assert_eq!(
                serde_json::from_value::<VerifyCode>(json!(text)).unwrap(),
                code
            );
            assert_eq!(serde_json::to_value(code).unwrap(), json!(text));
            assert_eq!(code.as_str(), text);
        }
        assert_eq!(
            serde_json::from_value::<VerifyCode>(json!("SOMETHING_NEW")).unwrap(),
            VerifyCode::Unknown
        );
        let bad = VerifyKeyRequest {
            key: SecretKey::new(""),
            credits: Some(VerifyCredits { cost: -1 }),
            ..Default::default()
        };
        assert_eq!(
            locations(&bad.validate()),
            vec!["body.key", "body.credits.cost"]
        );
    }

    #[test]
    fn key_management_round_trip() {
        request::<GetKeyRequest>(json!({"keyId": "key_123", "decrypt": false}));
        request::<DeleteKeyRequest>(json!({"keyId": "key_123", "permanent": true}));
        request::<RerollKeyRequest>(json!({"keyId": "key_123", "expiration": 0}));
        request::<WhoamiRequest>(json!({"key": "sk_abc"}));
        request::<UpdateCreditsRequest>(
            json!({"keyId": "key_123", "value": 5, "operation": "increment"}),
        );
        request::<UpdateCreditsRequest>(
            json!({"keyId": "key_123", "value": null, "operation": "set"}),
        );
        let bad: UpdateCreditsRequest =
            serde_json::from_value(json!({"keyId": "key_123", "operation": "decrement"})).unwrap();
        assert_eq!(locations(&bad.validate()), vec!["body.value"]);
        assert!(serde_json::from_value::<UpdateCreditsRequest>(
            json!({"keyId": "key_123", "operation": "multiply", "value": 1})
        )
        .is_err());
        for body in [
            json!({"keyId": "key_123", "permissions": ["a.read"]}),
            json!({"keyId": "key_123", "permissions": []}),
        ] {
            let set = request::<SetPermissionsRequest>(body.clone());
            let _ = set;
        }
        request::<AddPermissionsRequest>(json!({"keyId": "key_123", "permissions": ["a.read"]}));
        request::<RemovePermissionsRequest>(json!({"keyId": "key_123", "permissions": ["a.read"]}));
        request::<AddRolesRequest>(json!({"keyId": "key_123", "roles": ["admin"]}));
        request::<RemoveRolesRequest>(json!({"keyId": "key_123", "roles": ["admin"]}));
        request::<SetRolesRequest>(json!({"keyId": "key_123", "roles": []}));
        let empty: AddRolesRequest =
            serde_json::from_value(json!({"keyId": "key_123", "roles": []})).unwrap();
        assert_eq!(locations(&empty.validate()), vec!["body.roles"]);

        let key = response::<KeyResponseData>(json!({
            "keyId": "key_123", "start": "sk_live_ab", "enabled": true, "name": "n",
            "meta": {"a": 1}, "createdAt": 1, "updatedAt": 2, "lastUsedAt": 3, "expires": 4,
            "permissions": ["a"], "roles": ["r"],
            "credits": {"remaining": null, "refill": {"interval": "daily", "amount": 5}},
            "identity": {"id": "id_1", "externalId": "u"},
            "ratelimits": [{"id": "rl_1", "name": "requests", "limit": 1, "duration": 1000, "autoApply": false}]
        }));
        assert_eq!(key.credits.unwrap().remaining, None);
        response::<Vec<Permission>>(
            json!([{"id": "perm_1", "name": "a", "slug": "a", "description": "d"}]),
        );
        response::<Vec<Role>>(
            json!([{"id": "role_1", "name": "admin", "permissions": [{"id": "perm_1", "name": "a", "slug": "a"}]}]),
        );
        response::<KeyCreditsData>(json!({"remaining": 3}));
        response::<RerollKeyResponseData>(json!({"keyId": "key_2", "key": "sk_new"}));
    }

    #[test]
    fn update_key_distinguishes_null_from_absent() {
        let req = request::<UpdateKeyRequest>(json!({
            "keyId": "key_123", "name": null, "externalId": "user_2", "meta": null,
            "expires": null, "credits": {"remaining": null, "refill": null},
            "ratelimits": [], "enabled": false, "roles": [], "permissions": ["x"]
        }));
        assert_eq!(req.name, Some(None));
        assert_eq!(req.external_id, Some(Some("user_2".into())));
        assert_eq!(
            req.credits,
            Some(Some(UpdateKeyCredits {
                remaining: Some(None),
                refill: Some(None)
            }))
        );
        let absent = request::<UpdateKeyRequest>(json!({"keyId": "key_123"}));
        assert_eq!(absent.name, None);
        assert_eq!(absent.credits, None);
        let cleared = request::<UpdateKeyRequest>(json!({"keyId": "key_123", "credits": null}));
        assert_eq!(cleared.credits, Some(None));
    }

    #[test]
    fn migrate_round_trip_and_failed_forms() {
        let req = request::<MigrateKeysRequest>(json!({
            "migrationId": "m_1", "apiId": "api_123",
            "hashVariant": "sha256_hex",
            "keys": [
                {"hash": "abcd", "name": "n", "externalId": "u", "meta": {}, "roles": ["r"],
                 "permissions": ["p"], "expires": 5, "enabled": true, "credits": {"remaining": 1},
                 "ratelimits": [{"name": "requests", "limit": 1, "duration": 1000, "autoApply": false}]}
            ]
        }));
        assert_eq!(
            req.hash_variant,
            Some(crate::hashing::HashVariant::Sha256Hex)
        );
        let mut nested = json!({"migrationId": "m_1", "apiId": "api_123", "keys": [{"hash": "abcd", "oops": 1}]});
        let err = serde_json::from_value::<MigrateKeysRequest>(nested.clone())
            .unwrap_err()
            .to_string();
        assert!(err.contains("oops"), "{err}");
        nested["keys"][0].as_object_mut().unwrap().remove("oops");
        nested["hashVariant"] = json!("md5");
        assert!(serde_json::from_value::<MigrateKeysRequest>(nested.clone()).is_err());
        nested["hashVariant"] = json!("bcrypt");
        nested["keys"][0]["hash"] = json!("ab");
        let bad: MigrateKeysRequest = serde_json::from_value(nested).unwrap();
        assert_eq!(locations(&bad.validate()), vec!["body.keys[0].hash"]);
        let empty: MigrateKeysRequest =
            serde_json::from_value(json!({"migrationId": "m_1", "apiId": "api_123", "keys": []}))
                .unwrap();
        assert_eq!(locations(&empty.validate()), vec!["body.keys"]);

        let spec_form = response::<MigrateKeysResponseData>(json!({
            "migrated": [{"hash": "h1", "keyId": "key_1"}], "failed": ["h2"]
        }));
        assert_eq!(
            spec_form.failed,
            vec![MigrateFailure {
                hash: "h2".into(),
                error: None
            }]
        );
        let prose_form: MigrateKeysResponseData = serde_json::from_value(json!({
            "migrated": [], "failed": [{"hash": "h2", "error": "already exists"}, {"hash": "h3"}, "h4"]
        }))
        .unwrap();
        assert_eq!(
            prose_form.failed,
            vec![
                MigrateFailure {
                    hash: "h2".into(),
                    error: Some("already exists".into())
                },
                MigrateFailure {
                    hash: "h3".into(),
                    error: None
                },
                MigrateFailure {
                    hash: "h4".into(),
                    error: None
                },
            ]
        );
        assert!(serde_json::from_value::<MigrateKeysResponseData>(
            json!({"migrated": [], "failed": [1]})
        )
        .is_err());
        // Issue 9 #10: Unkey's answer when nothing failed.
        let unkey_form: MigrateKeysResponseData = serde_json::from_value(json!({
            "migrated": [{"hash": "h1", "keyId": "key_1"}], "failed": null
        }))
        .unwrap();
        assert_eq!(unkey_form.migrated.len(), 1);
        assert!(unkey_form.failed.is_empty());
        let all_null: MigrateKeysResponseData =
            serde_json::from_value(json!({"migrated": null, "failed": null})).unwrap();
        assert_eq!(all_null, MigrateKeysResponseData::default());
    }

    #[test]
    fn permissions_and_identities_round_trip() {
        request::<CreatePermissionRequest>(
            json!({"name": "Read docs", "slug": "documents.read", "description": "d"}),
        );
        request::<GetPermissionRequest>(json!({"permission": "documents.read"}));
        request::<DeletePermissionRequest>(json!({"permission": "perm_123"}));
        request::<ListRequest>(json!({"cursor": "c", "limit": 10, "search": "doc"}));
        request::<ListRequest>(json!({}));
        request::<CreateRoleRequest>(
            json!({"name": "admin", "description": "d", "permissions": ["a", "b"]}),
        );
        request::<GetRoleRequest>(json!({"role": "admin"}));
        request::<DeleteRoleRequest>(json!({"role": "role_123"}));
        request::<CreateIdentityRequest>(json!({
            "externalId": "user_1", "meta": {"plan": "pro"},
            "ratelimits": [{"name": "requests", "limit": 5, "duration": 1000, "autoApply": true}]
        }));
        request::<GetIdentityRequest>(json!({"identity": "user_1"}));
        request::<DeleteIdentityRequest>(json!({"identity": "id_1"}));
        request::<UpdateIdentityRequest>(json!({
            "identity": "user_1", "meta": {"plan": "team"},
            "ratelimits": [{"name": "requests", "limit": 5, "duration": 1000, "autoApply": true}]
        }));
        request::<SetRolePermissionsRequest>(
            json!({"roleId": "role_123", "permissions": ["a.read", "b:*"]}),
        );
        let bad: UpdateIdentityRequest = serde_json::from_value(json!({
            "identity": "",
            "ratelimits": [{"name": "dup", "limit": 1, "duration": 1000, "autoApply": false},
                           {"name": "dup", "limit": 2, "duration": 1000, "autoApply": false}]
        }))
        .unwrap();
        assert_eq!(
            locations(&bad.validate()),
            vec!["body.identity", "body.ratelimits[1].name"]
        );
        let bad: SetRolePermissionsRequest =
            serde_json::from_value(json!({"roleId": "r.1", "permissions": ["ok", "not ok"]}))
                .unwrap();
        assert_eq!(
            locations(&bad.validate()),
            vec!["body.roleId", "body.permissions[1]"]
        );
        let bad: CreatePermissionRequest =
            serde_json::from_value(json!({"name": "", "slug": "has space"})).unwrap();
        assert_eq!(locations(&bad.validate()), vec!["body.name", "body.slug"]);
        let bad: ListRequest = serde_json::from_value(json!({"limit": 0})).unwrap();
        assert_eq!(locations(&bad.validate()), vec!["body.limit"]);
        response::<CreatePermissionResponseData>(json!({"permissionId": "perm_1"}));
        response::<CreateRoleResponseData>(json!({"roleId": "role_1"}));
        response::<CreateIdentityResponseData>(json!({"identityId": "id_1"}));
        response::<Identity>(json!({"id": "id_1", "externalId": "user_1", "meta": {"a": 1}}));
    }

    #[test]
    fn envelopes() {
        let ok: SuccessEnvelope<Vec<Permission>> = response(json!({
            "meta": {"requestId": "req_1"},
            "data": [],
            "pagination": {"cursor": "c", "hasMore": true}
        }));
        assert!(ok.pagination.unwrap().has_more);
        let empty: SuccessEnvelope<EmptyData> =
            response(json!({"meta": {"requestId": "req_1"}, "data": {}}));
        assert_eq!(empty.data, EmptyData {});
        let err: ErrorEnvelope = response(json!({
            "meta": {"requestId": "req_1"},
            "error": {"title": "Bad Request", "detail": "invalid body", "status": 400,
                      "type": "https://unkey.com/docs/errors/bad_request",
                      "errors": [{"location": "body.byteLength", "message": "too small"}]}
        }));
        assert_eq!(err.error.status, 400);
        assert_eq!(err.error.errors.unwrap()[0].location, "body.byteLength");
        // Unkey's validation errors carry a `fix` hint we ignore
        let with_fix: ErrorEnvelope = serde_json::from_value(json!({
            "meta": {"requestId": "req_1"},
            "error": {"title": "t", "detail": "d", "status": 400, "type": "x",
                      "errors": [{"location": "body.apiId", "message": "m", "fix": "f"}]}
        }))
        .unwrap();
        assert_eq!(with_fix.error.errors.unwrap().len(), 1);
    }

    #[test]
    fn request_fields_refuse_null_unless_unkey_allows_it() {
        // Optional but not nullable: absent is fine, `null` is a type error naming the field.
        let absent = request::<VerifyKeyRequest>(json!({"key": "sk_abc"}));
        assert_eq!(absent.migration_id, None);
        let err = serde_json::from_value::<VerifyKeyRequest>(
            json!({"key": "sk_abc", "migrationId": null}),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("null"), "{err}");
        assert!(serde_json::from_value::<CreateKeyRequest>(
            json!({"apiId": "api_123", "credits": {"remaining": 1, "refill": null}})
        )
        .is_err());
        // Required but nullable: `credits.remaining` must be sent; `null` = unlimited.
        let unlimited: CreateKeyRequest =
            serde_json::from_value(json!({"apiId": "api_123", "credits": {"remaining": null}}))
                .unwrap();
        assert_eq!(unlimited.credits.unwrap().remaining, None);
        let err =
            serde_json::from_value::<CreateKeyRequest>(json!({"apiId": "api_123", "credits": {}}))
                .unwrap_err()
                .to_string();
        assert!(err.contains("remaining"), "{err}");
        // `autoApply` is required on every configured ratelimit.
        let err = serde_json::from_value::<CreateIdentityRequest>(json!({
            "externalId": "u", "ratelimits": [{"name": "requests", "limit": 1, "duration": 1000}]
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("autoApply"), "{err}");
        // Nullable fields of updateKey keep their three states.
        let cleared = request::<UpdateKeyRequest>(json!({"keyId": "key_123", "name": null}));
        assert_eq!(cleared.name, Some(None));
        assert!(serde_json::from_value::<UpdateKeyRequest>(
            json!({"keyId": "key_123", "enabled": null})
        )
        .is_err());
    }

    #[test]
    fn refill_rules_of_unkeys_handlers() {
        let monthly_without_day: CreateKeyRequest = serde_json::from_value(json!({
            "apiId": "api_123",
            "credits": {"remaining": 1, "refill": {"interval": "monthly", "amount": 1}}
        }))
        .unwrap();
        assert_eq!(
            locations(&monthly_without_day.validate()),
            vec!["body.credits.refill.refillDay"]
        );
        let refill_without_remaining: CreateKeyRequest = serde_json::from_value(json!({
            "apiId": "api_123",
            "credits": {"remaining": null, "refill": {"interval": "daily", "amount": 1}}
        }))
        .unwrap();
        assert_eq!(
            locations(&refill_without_remaining.validate()),
            vec!["body.credits.remaining"]
        );
        let daily_with_day: UpdateKeyRequest = serde_json::from_value(json!({
            "keyId": "key_123",
            "credits": {"refill": {"interval": "daily", "amount": 1, "refillDay": 4}}
        }))
        .unwrap();
        assert_eq!(
            locations(&daily_with_day.validate()),
            vec!["body.credits.refill.refillDay"]
        );
    }

    #[test]
    fn op_names_kinds_and_string_lists_agree() {
        assert_eq!(Op::ALL.len(), OPERATIONS.len());
        for (op, name) in Op::ALL.iter().zip(OPERATIONS) {
            assert_eq!(op.name(), *name);
            assert_eq!(Op::from_name(name), Some(*op));
            assert_eq!(name.parse::<Op>().unwrap(), *op);
            assert_eq!(op.is_list(), LIST_OPERATIONS.contains(name), "{name}");
            assert_eq!(
                op.sends_idempotency_key(),
                IDEMPOTENT_OPERATIONS.contains(name)
            );
            assert_eq!(
                op.retry_safe_after_send(false),
                crate::backend::repeatable(name, false),
                "{name}"
            );
        }
        assert!(Op::from_name("keys.nope").is_none());
        assert_eq!(
            "keys.nope".parse::<Op>().unwrap_err().code,
            crate::ErrorCode::NotFound
        );
    }
}
