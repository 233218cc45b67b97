//! `keys.migrateKeys`: keys moved in by hash (the request, the answer, and the rule on the
//! `start` of migrated keys).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::limits::*;
use super::validate::check;
use super::Validate;
use crate::FieldError;

wire_struct! {
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct MigrateKeysRequest {
        pub migration_id: String,
        pub api_id: String,
        pub keys: Vec<MigrateKeyData>,
        /// keyshift extension: the form of every `hash` (`sha256_base64` default, `sha256_hex`,
        /// `bcrypt`). Hosted Unkey does not know this field; leave it `None` there.
        opt hash_variant: crate::hashing::HashVariant,
    }
}

wire_struct! {
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct MigrateKeyData {
        pub hash: String,
        key_settings!,
        /// keyshift extension (DESIGN §4): the key's clear leading part as the legacy system
        /// kept it (e.g. `sk_live_ab12`). Required for `bcrypt` hashes, which verify finds
        /// through it; see [`check_migrated_start`]. Hosted Unkey does not know this field;
        /// leave it `None` there. (`null` reads as absent.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub start: Option<String>,
    }
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
    #[serde(default, deserialize_with = "super::validate::null_as_empty")]
    pub migrated: Vec<MigratedKey>,
    /// Unkey answers `"failed": null` when nothing failed: read as empty.
    #[serde(default, deserialize_with = "super::validate::null_as_empty")]
    pub failed: Vec<MigrateFailure>,
}

impl Validate for MigrateKeysRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            let (min, max) = (MIGRATION_ID_MIN_LEN, MIGRATION_ID_MAX_LEN);
            c.len("migrationId", &self.migration_id, min, max);
            c.len("apiId", &self.api_id, ID_MIN_LEN, ID_MAX_LEN);
            c.count("keys", self.keys.len(), 1, usize::MAX);
            c.each("keys", &self.keys, |c, loc, key| {
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
            });
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::{locations, request, response};
    use serde_json::json;

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
}
