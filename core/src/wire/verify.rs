//! `keys.verifyKey`: the request, the outcome codes and the answer.

use serde::{Deserialize, Serialize};

use super::limits::*;
use super::validate::check;
use super::{Identity, Metadata, Validate};
use crate::{FieldError, SecretKey};

wire_struct! {
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct VerifyKeyRequest {
        #[serde(serialize_with = "crate::secret::serialize_exposed")]
        pub key: SecretKey,
        opt tags: Vec<String>,
        /// Permission query: `a`, `a AND b`, `(a OR b) AND c`.
        opt permissions: String,
        opt credits: VerifyCredits,
        opt ratelimits: Vec<VerifyRatelimit>,
        opt migration_id: String,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyCredits {
    pub cost: i64,
}

wire_struct! {
    /// A ratelimit to check during verification: names a key/identity ratelimit, optionally
    /// overriding its cost, limit or duration.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct VerifyRatelimit {
        pub name: String,
        opt cost: i64,
        opt limit: i64,
        opt duration: i64,
    }
}

/// Outcome of `keys.verifyKey`. `Unknown` catches codes a newer service may add; more codes may
/// come (`#[non_exhaustive]`): match with a `_` arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
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

wire_struct! {
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct VerifyKeyResponseData {
        /// Whether the key may be used: `code` is `VALID`.
        pub valid: bool,
        pub code: VerifyCode,
        /// The key's details, when it was found (they stay absent for `NOT_FOUND`).
        maybe key_id: String,
        maybe name: String,
        maybe meta: Metadata,
        /// Unix ms when the key expires.
        maybe expires: i64,
        /// Remaining credits; absent = unlimited.
        maybe credits: i64,
        maybe enabled: bool,
        /// The key's permissions, direct and through its roles.
        maybe permissions: Vec<String>,
        maybe roles: Vec<String>,
        /// The identity (external id) owning the key.
        maybe identity: Identity,
        /// The ratelimits checked, with what is left of each.
        maybe ratelimits: Vec<VerifyRatelimitData>,
    }
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

impl Validate for VerifyKeyRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.len("key", self.key.expose(), 1, KEY_MAX_LEN);
            if let Some(tags) = &self.tags {
                c.count("tags", tags.len(), 0, TAGS_MAX);
                c.each("tags", tags, |c, at, tag| {
                    c.len(at, tag, 1, TAG_MAX_LEN);
                });
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
                c.each("ratelimits", rls, |c, loc, rl| {
                    c.ratelimit_name(loc, &rl.name, VERIFY_RATELIMIT_NAME_MAX_LEN);
                    for (field, value) in [
                        ("cost", rl.cost),
                        ("limit", rl.limit),
                        ("duration", rl.duration),
                    ] {
                        if matches!(value, Some(v) if v < 0) {
                            c.push(&format!("{loc}.{field}"), "must not be negative");
                        }
                    }
                });
            }
            if let Some(m) = &self.migration_id {
                c.len("migrationId", m, 0, VERIFY_MIGRATION_ID_MAX_LEN);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::{locations, request, response};
    use serde_json::json;

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
}
