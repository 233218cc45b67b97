//! Limits of Unkey's v2 reference (and of our server): the one place every length, count and range
//! of the wire API is written. [`crate::keyformat`], [`crate::scope`] and the migration engine use
//! these too.

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
