//! `keys.*` except verify ([`super::verify`]) and migrate ([`super::migrate`]): create, get,
//! update, delete, reroll, permissions and roles of a key, credits, whoami; and the pieces keys
//! share with the other groups (credits, ratelimits, the key as described by get/list).

use serde::{Deserialize, Serialize};

use super::limits::*;
use super::validate::{check, default_true, required_nullable, Checker};
use super::{EmptyData, Identity, Metadata, Patch, Permission, Role, Validate};
use crate::{FieldError, SecretKey};

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

wire_struct! {
    /// A key as `keys.getKey`, `keys.whoami` and `apis.listKeys` describe it.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct KeyResponseData {
        pub key_id: String,
        #[serde(default)]
        pub start: String,
        #[serde(default = "default_true")]
        pub enabled: bool,
        maybe name: String,
        maybe meta: Metadata,
        #[serde(default)]
        pub created_at: i64,
        maybe updated_at: i64,
        maybe last_used_at: i64,
        maybe expires: i64,
        maybe permissions: Vec<String>,
        maybe roles: Vec<String>,
        maybe credits: KeyCreditsData,
        maybe identity: Identity,
        /// Only for recoverable keys with `decrypt: true` (our server never stores plaintext).
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            serialize_with = "crate::secret::serialize_exposed_opt"
        )]
        pub plaintext: Option<SecretKey>,
        maybe ratelimits: Vec<RatelimitResponse>,
    }
}

wire_struct! {
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct CreateKeyRequest {
        pub api_id: String,
        opt prefix: String,
        opt byte_length: u32,
        key_settings!,
        opt recoverable: bool,
    }
}

wire_struct! {
    /// `credits` on create/migrate requests (strict twin of [`KeyCreditsData`]). `remaining` is
    /// required, `null` meaning unlimited, as in Unkey's schema.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct CreditsRequest {
        #[serde(deserialize_with = "required_nullable")]
        pub remaining: Option<i64>,
        opt refill: KeyCreditsRefill,
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyResponseData {
    pub key_id: String,
    #[serde(serialize_with = "crate::secret::serialize_exposed")]
    pub key: SecretKey,
}

wire_struct! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct GetKeyRequest {
        pub key_id: String,
        opt decrypt: bool,
    }
}

pub type GetKeyResponseData = KeyResponseData;

wire_struct! {
    /// `keys.updateKey`: the [`Patch`](super::Patch) fields are left (absent), cleared (`null`)
    /// or set; the others replace what the key has when present.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct UpdateKeyRequest {
        pub key_id: String,
        patch name: String,
        patch external_id: String,
        patch meta: Metadata,
        patch expires: i64,
        patch credits: UpdateKeyCredits,
        opt ratelimits: Vec<RatelimitRequest>,
        opt enabled: bool,
        opt roles: Vec<String>,
        opt permissions: Vec<String>,
    }
}

wire_struct! {
    /// `credits` of `keys.updateKey`: each part absent = unchanged, `null` = cleared.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct UpdateKeyCredits {
        patch remaining: i64,
        patch refill: KeyCreditsRefill,
    }
}

pub type UpdateKeyResponseData = EmptyData;

wire_struct! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct DeleteKeyRequest {
        pub key_id: String,
        opt permanent: bool,
    }
}

pub type DeleteKeyResponseData = EmptyData;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RerollKeyRequest {
    pub key_id: String,
    /// Milliseconds the old key stays valid (0 = revoked now).
    pub expiration: i64,
}

/// The new key of `keys.rerollKey` (the same shape as createKey's answer).
pub type RerollKeyResponseData = CreateKeyResponseData;

/// Requests `{keyId, permissions|roles}` of the six link operations, and their validation:
/// permissions are slugs, roles names; `min` is the fewest items accepted.
macro_rules! key_list_requests {
    ($($(#[$doc:meta])* $name:ident { $field:ident: $check:ident, $min:literal..=$max:ident })*) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            pub key_id: String,
            pub $field: Vec<String>,
        }

        impl Validate for $name {
            fn validate(&self) -> Vec<FieldError> {
                check(|c| {
                    c.id("keyId", &self.key_id);
                    c.$check(stringify!($field), &self.$field, $min, $max);
                })
            }
        }
    )*};
}

key_list_requests! {
    /// `keys.addPermissions`: missing permissions are created.
    AddPermissionsRequest { permissions: slugs, 1..=PERMISSIONS_MAX }
    /// `keys.removePermissions`.
    RemovePermissionsRequest { permissions: slugs, 1..=PERMISSIONS_MAX }
    /// `keys.setPermissions`: replaces the key's direct permissions (may be empty).
    SetPermissionsRequest { permissions: slugs, 0..=PERMISSIONS_MAX }
    /// `keys.addRoles`: roles must exist.
    AddRolesRequest { roles: role_names, 1..=ROLES_MAX }
    /// `keys.removeRoles`.
    RemoveRolesRequest { roles: role_names, 1..=ROLES_MAX }
    /// `keys.setRoles`: replaces the key's roles (may be empty).
    SetRolesRequest { roles: role_names, 0..=ROLES_MAX }
}

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

impl Validate for CreateKeyRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.id("apiId", &self.api_id);
            c.some(self.prefix.as_ref(), |c, prefix| c.prefix("prefix", prefix));
            c.some(self.name.as_ref(), |c, name| {
                c.len("name", name, 1, KEY_NAME_MAX_LEN)
            });
            if let Some(n) = self.byte_length {
                if !(BYTE_LENGTH_MIN..=BYTE_LENGTH_MAX).contains(&n) {
                    let message = format!(
                        "must be between {BYTE_LENGTH_MIN} and {BYTE_LENGTH_MAX} (got {n})"
                    );
                    c.push("byteLength", message);
                }
            }
            c.some(self.external_id.as_ref(), |c, e| {
                c.external_id("externalId", e)
            });
            c.some(self.meta.as_ref(), |c, meta| c.meta("meta", meta));
            c.some(self.roles.as_ref(), |c, roles| {
                c.role_names("roles", roles, 0, ROLES_MAX)
            });
            c.some(self.permissions.as_ref(), |c, perms| {
                c.slugs("permissions", perms, 0, PERMISSIONS_MAX)
            });
            c.some(self.expires.as_ref(), |c, expires| {
                c.expires("expires", *expires)
            });
            if let Some(credits) = &self.credits {
                c.credits("credits", credits);
                if credits.refill.is_some() && credits.remaining.is_none() {
                    c.push(
                        "credits.remaining",
                        "`credits.remaining` must be provided when `credits.refill` is set",
                    );
                }
            }
            c.some(self.ratelimits.as_ref(), |c, rls| {
                c.ratelimits("ratelimits", rls)
            });
        })
    }
}

/// Requests whose only checked field is `keyId`.
macro_rules! validate_key_id {
    ($($request:ty),*) => {
        $(impl Validate for $request {
            fn validate(&self) -> Vec<FieldError> {
                check(|c| c.id("keyId", &self.key_id))
            }
        })*
    };
}

validate_key_id!(GetKeyRequest, DeleteKeyRequest);

impl Validate for UpdateKeyRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.id("keyId", &self.key_id);
            c.some(self.name.as_set(), |c, name| {
                c.len("name", name, 1, KEY_NAME_MAX_LEN)
            });
            c.some(self.external_id.as_set(), |c, e| {
                c.external_id("externalId", e)
            });
            c.some(self.meta.as_set(), |c, meta| c.meta("meta", meta));
            c.some(self.expires.as_set(), |c, expires| {
                c.expires("expires", *expires)
            });
            c.some(self.credits.as_set(), |c, credits| {
                c.update_credits("credits", credits)
            });
            c.some(self.ratelimits.as_ref(), |c, rls| {
                c.ratelimits("ratelimits", rls)
            });
            c.some(self.roles.as_ref(), |c, roles| {
                c.role_names("roles", roles, 0, ROLES_MAX)
            });
            c.some(self.permissions.as_ref(), |c, perms| {
                c.slugs("permissions", perms, 0, PERMISSIONS_MAX)
            });
        })
    }
}

impl Checker {
    /// `credits` of `keys.updateKey`: a daily refill takes no `refillDay`.
    fn update_credits(&mut self, location: &str, credits: &UpdateKeyCredits) {
        if let Patch::Set(remaining) = credits.remaining {
            self.remaining(&format!("{location}.remaining"), Some(remaining));
        }
        if let Some(refill) = credits.refill.as_set() {
            self.refill(&format!("{location}.refill"), refill);
            if refill.interval == RefillInterval::Daily && refill.refill_day.is_some() {
                self.push(
                    &format!("{location}.refill.refillDay"),
                    "`refillDay` must not be provided when the refill interval is `daily`",
                );
            }
        }
    }
}

impl Validate for RerollKeyRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.id("keyId", &self.key_id);
            if !(0..=EXPIRES_MAX_MS).contains(&self.expiration) {
                c.push(
                    "expiration",
                    format!("must be between 0 and {EXPIRES_MAX_MS} milliseconds"),
                );
            }
        })
    }
}

impl Validate for UpdateCreditsRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.len("keyId", &self.key_id, ID_MIN_LEN, usize::MAX);
            c.remaining("value", self.value);
            if self.value.is_none() && self.operation != CreditsOperation::Set {
                c.push("value", "is required for increment and decrement");
            }
        })
    }
}

impl Validate for WhoamiRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.len("key", self.key.expose(), 1, KEY_MAX_LEN);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::{locations, request, response};
    use crate::wire::*;
    use serde_json::json;

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
        assert_eq!(req.name, Patch::Clear);
        assert_eq!(req.external_id, Patch::Set("user_2".into()));
        assert_eq!(
            req.credits,
            Patch::Set(UpdateKeyCredits {
                remaining: Patch::Clear,
                refill: Patch::Clear
            })
        );
        let absent = request::<UpdateKeyRequest>(json!({"keyId": "key_123"}));
        assert_eq!(absent.name, Patch::Leave);
        assert_eq!(absent.credits, Patch::Leave);
        let cleared = request::<UpdateKeyRequest>(json!({"keyId": "key_123", "credits": null}));
        assert_eq!(cleared.credits, Patch::Clear);
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
        assert_eq!(cleared.name, Patch::Clear);
        assert!(serde_json::from_value::<UpdateKeyRequest>(
            json!({"keyId": "key_123", "enabled": null})
        )
        .is_err());
    }

    #[test]
    fn refill_rules_of_unkeys_handlers() {
        let create_with = |credits: serde_json::Value| {
            let req: CreateKeyRequest =
                serde_json::from_value(json!({"apiId": "api_123", "credits": credits})).unwrap();
            locations(&req.validate())
        };
        let monthly_without_day =
            json!({"remaining": 1, "refill": {"interval": "monthly", "amount": 1}});
        assert_eq!(
            create_with(monthly_without_day),
            vec!["body.credits.refill.refillDay"]
        );
        let refill_without_remaining =
            json!({"remaining": null, "refill": {"interval": "daily", "amount": 1}});
        assert_eq!(
            create_with(refill_without_remaining),
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
    fn patches_read_and_write_the_three_states() {
        let patch = |body: serde_json::Value| request::<UpdateKeyRequest>(body).expires;
        assert_eq!(patch(json!({"keyId": "key_123"})), Patch::Leave);
        assert_eq!(
            patch(json!({"keyId": "key_123", "expires": null})),
            Patch::Clear
        );
        assert_eq!(
            patch(json!({"keyId": "key_123", "expires": 5})),
            Patch::Set(5)
        );
        assert_eq!(Patch::from(Some(Some(5))), Patch::Set(5));
        assert_eq!(Patch::<i64>::Clear.into_option(), Some(None));
        assert_eq!(Patch::<i64>::default(), Patch::Leave);
    }
}
