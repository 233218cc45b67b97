//! The option types of the client's calls ([`CreateKey`], [`VerifyOptions`]) and the answers
//! built from them ([`CreatedKey`], [`Verification`]).

use crate::scope::{permissions_to_scopes, scopes_to_permissions, Scope};
use crate::wire::{self, Metadata, VerifyCode};
use crate::{Error, Result, SecretKey};

use super::check;

/// Options of [`Client::create_api_key`](crate::Client::create_api_key). `scopes` and
/// `permissions` are merged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CreateKey {
    pub api_id: String,
    pub name: Option<String>,
    pub prefix: Option<String>,
    pub byte_length: Option<u32>,
    pub external_id: Option<String>,
    pub meta: Option<Metadata>,
    pub scopes: Vec<Scope>,
    pub permissions: Vec<String>,
    pub roles: Vec<String>,
    /// Unix ms.
    pub expires: Option<i64>,
    /// Remaining uses; `None` = unlimited.
    pub credits: Option<i64>,
    pub refill: Option<wire::KeyCreditsRefill>,
    pub ratelimits: Vec<wire::RatelimitRequest>,
    pub enabled: Option<bool>,
}

impl CreateKey {
    pub fn new(api_id: impl Into<String>) -> Self {
        CreateKey {
            api_id: api_id.into(),
            ..CreateKey::default()
        }
    }

    /// The wire request, validated against the documented limits.
    pub fn to_request(&self) -> Result<wire::CreateKeyRequest> {
        for scope in &self.scopes {
            scope.validate()?;
        }
        let mut permissions = self.permissions.clone();
        for p in scopes_to_permissions(&self.scopes) {
            if !permissions.contains(&p) {
                permissions.push(p);
            }
        }
        let request = wire::CreateKeyRequest {
            api_id: self.api_id.clone(),
            prefix: self.prefix.clone(),
            name: self.name.clone(),
            byte_length: self.byte_length,
            external_id: self.external_id.clone(),
            meta: self.meta.clone(),
            roles: non_empty(&self.roles),
            permissions: non_empty(&permissions),
            expires: self.expires,
            credits: (self.credits.is_some() || self.refill.is_some()).then(|| {
                wire::CreditsRequest {
                    remaining: self.credits,
                    refill: self.refill.clone(),
                }
            }),
            ratelimits: non_empty(&self.ratelimits),
            enabled: self.enabled,
            recoverable: None,
        };
        check(&request)?;
        Ok(request)
    }
}

/// A new key: the plaintext is here once; store `masked` for display.
#[derive(Clone, Debug, PartialEq)]
pub struct CreatedKey {
    pub key_id: String,
    pub key: SecretKey,
    pub masked: String,
}

impl CreatedKey {
    pub(super) fn new(key_id: String, key: SecretKey) -> Self {
        let masked = key.masked();
        CreatedKey {
            key_id,
            key,
            masked,
        }
    }
}

/// Options of [`Client::verify`](crate::Client::verify). `permissions` is a query
/// (`a AND (b OR c)`); `scopes` are required in full and are ANDed with it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VerifyOptions {
    pub permissions: Option<String>,
    pub scopes: Vec<Scope>,
    pub credits_cost: Option<i64>,
    pub ratelimits: Vec<wire::VerifyRatelimit>,
    pub tags: Vec<String>,
}

impl VerifyOptions {
    pub fn permissions(query: impl Into<String>) -> Self {
        VerifyOptions {
            permissions: Some(query.into()),
            ..VerifyOptions::default()
        }
    }

    /// The one permission query sent on the wire: the caller's query ANDed with every
    /// permission the scopes expand to. Checked locally so a typo fails before the network.
    pub fn permission_query(&self) -> Result<Option<String>> {
        let mut parts = Vec::new();
        if let Some(query) = &self.permissions {
            let parsed = crate::query::parse_permission_query(query)?;
            parts.push(match parsed {
                crate::PermissionQuery::Or(_) => format!("({parsed})"),
                _ => parsed.to_string(),
            });
        }
        for scope in &self.scopes {
            scope.validate()?;
        }
        parts.extend(scopes_to_permissions(&self.scopes));
        Ok((!parts.is_empty()).then(|| parts.join(" AND ")))
    }

    pub(super) fn to_request(&self, key: &str) -> Result<wire::VerifyKeyRequest> {
        if key.trim().is_empty() {
            return Err(Error::invalid_input("key", "key is empty"));
        }
        let request = wire::VerifyKeyRequest {
            key: SecretKey::new(key),
            tags: non_empty(&self.tags),
            permissions: self.permission_query()?,
            credits: self.credits_cost.map(|cost| wire::VerifyCredits { cost }),
            ratelimits: non_empty(&self.ratelimits),
            migration_id: None,
        };
        check(&request)?;
        Ok(request)
    }
}

/// Where a [`Verification`] was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerificationSource {
    KeyService,
    /// The legacy check of [`Client::verify_with_fallback`](crate::Client::verify_with_fallback)
    /// accepted the key.
    Legacy,
}

/// The outcome of a verification. An invalid key is an outcome (`valid == false` and a
/// `code`), never an error.
#[derive(Clone, Debug, PartialEq)]
pub struct Verification {
    pub valid: bool,
    pub code: VerifyCode,
    pub key_id: Option<String>,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub meta: Option<Metadata>,
    pub permissions: Vec<String>,
    pub roles: Vec<String>,
    /// Remaining credits; `None` = unlimited (or unknown for an invalid key).
    pub credits: Option<i64>,
    pub expires: Option<i64>,
    pub enabled: Option<bool>,
    pub ratelimits: Vec<wire::VerifyRatelimitData>,
    pub identity: Option<wire::Identity>,
    pub request_id: Option<String>,
    pub source: VerificationSource,
}

impl Verification {
    pub(super) fn from_wire(data: wire::VerifyKeyResponseData, request_id: Option<String>) -> Self {
        Verification {
            valid: data.valid,
            code: data.code,
            key_id: data.key_id,
            name: data.name,
            external_id: data.identity.as_ref().map(|i| i.external_id.clone()),
            meta: data.meta,
            permissions: data.permissions.unwrap_or_default(),
            roles: data.roles.unwrap_or_default(),
            credits: data.credits,
            expires: data.expires,
            enabled: data.enabled,
            ratelimits: data.ratelimits.unwrap_or_default(),
            identity: data.identity,
            request_id,
            source: VerificationSource::KeyService,
        }
    }

    /// The key's permissions folded back into scopes (`profile.read` → `profile: read`).
    pub fn scopes(&self) -> Vec<Scope> {
        permissions_to_scopes(&self.permissions)
    }

    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

pub(super) fn non_empty<T: Clone>(values: &[T]) -> Option<Vec<T>> {
    (!values.is_empty()).then(|| values.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn scopes_and_query_combine_into_one_query() {
        let options = VerifyOptions {
            permissions: Some("admin or billing.read".into()),
            scopes: vec![Scope::new("profile").with_read().with_update()],
            ..VerifyOptions::default()
        };
        assert_eq!(
            options.permission_query().unwrap().unwrap(),
            "(admin OR billing.read) AND profile.read AND profile.update"
        );
        assert_eq!(VerifyOptions::default().permission_query().unwrap(), None);
    }

    #[test]
    fn bad_query_fails_locally_naming_the_field() {
        let err = VerifyOptions::permissions("a AND (b")
            .permission_query()
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert_eq!(err.field.as_deref(), Some("permissions"));
    }

    #[test]
    fn create_key_merges_scopes_and_validates() {
        let mut options = CreateKey::new("api_123");
        options.permissions = vec!["profile.read".into(), "admin".into()];
        options.scopes = vec![Scope::new("profile").with_read().with_delete()];
        let request = options.to_request().unwrap();
        assert_eq!(
            request.permissions.unwrap(),
            vec!["profile.read", "admin", "profile.delete"]
        );
        options.byte_length = Some(8);
        let err = options.to_request().unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert_eq!(err.field.as_deref(), Some("byteLength"));
    }

    #[test]
    fn empty_key_is_invalid_input_not_a_request() {
        let err = VerifyOptions::default().to_request("  ").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("key"));
    }

    #[test]
    fn created_key_debug_never_shows_the_plaintext() {
        let key = crate::generate_key(Some("sk_live"), 24).unwrap();
        let plaintext = key.expose().to_string();
        let created = CreatedKey::new("key_1".into(), key);
        let debug = format!("{created:?}");
        assert!(!debug.contains(&plaintext), "{debug}");
        assert!(debug.contains(&created.masked));
        let request = VerifyOptions::default().to_request(&plaintext).unwrap();
        assert!(!format!("{request:?}").contains(&plaintext));
    }
}
