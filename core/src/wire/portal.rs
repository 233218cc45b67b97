//! `portal.*`: the self-service key portal (issue 16), after Unkey's `v2/portal/*` routes.
//!
//! Root-key operations (they are [`super::Op`]s): `portal.createSession`, `portal.getPortal`,
//! `portal.updatePortal`, `portal.revokeSession`. The end-user routes (`portal.exchangeCode`
//! and the session routes `portal.getSession`, `portal.listKeys`, …) are served by the server
//! under the portal session's access token or cookie, never with a root key; their bodies are
//! here too so that the server, tests and clients share one shape.
//!
//! Secrets (the exchange code inside a session URL, access tokens, CSRF tokens) are masked in
//! `Debug`.

use serde::{Deserialize, Serialize};

use super::validate::check;
use super::{EmptyData, KeyResponseData, Validate};
use crate::{FieldError, SecretKey};

/// Scopes a portal session may be granted (Unkey's portalrbac vocabulary plus `keys:update`
/// and `keys:delete`, our extensions).
pub const PORTAL_SCOPES: &[&str] = &[
    "keys:read",
    "keys:create",
    "keys:update",
    "keys:reroll",
    "keys:delete",
    "analytics:read",
];

/// Longest `externalId` of a portal session (Unkey's limit).
pub const PORTAL_EXTERNAL_ID_MAX_LEN: usize = 256;
/// Longest `returnUrl` (Unkey's limit).
pub const PORTAL_RETURN_URL_MAX_LEN: usize = 500;
/// Longest portal name.
pub const PORTAL_NAME_MAX_LEN: usize = 200;
/// Longest key name an end user may give.
pub const PORTAL_KEY_NAME_MAX_LEN: usize = 200;

wire_struct! {
    /// `portal.createSession`: a session for the end user `externalId` on `portal` (a portal
    /// id `portal_…`, or an api id `api_…` whose portal is created with defaults on first
    /// use), with `scopes` ⊆ [`PORTAL_SCOPES`].
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct CreatePortalSessionRequest {
        pub portal: String,
        pub external_id: String,
        pub scopes: Vec<String>,
        /// Where the end user goes back to when leaving the portal.
        opt return_url: String,
        opt preview: bool,
    }
}

impl CreatePortalSessionRequest {
    /// A session request without `preview`: what the bindings' `createPortalSession` sends.
    pub fn new(
        portal: String,
        external_id: String,
        scopes: Vec<String>,
        return_url: Option<String>,
    ) -> Self {
        CreatePortalSessionRequest {
            portal,
            external_id,
            scopes,
            return_url,
            ..Default::default()
        }
    }
}

/// `portal.createSession` data: the session id (not a credential) and the URL to send the end
/// user to, which carries a single-use exchange code valid 15 minutes (a credential: masked in
/// `Debug`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePortalSessionResponseData {
    pub id: String,
    pub url: String,
}

crate::redacted_debug!(CreatePortalSessionResponseData { id, url => mask_portal_url });

/// A portal session URL with its one-time code replaced by `…` (what `Debug`, logs and the
/// bindings' printed forms show).
pub fn mask_portal_url(url: &str) -> String {
    match url.split_once("code=") {
        Some((base, _)) => format!("{base}code=…"),
        None => url.to_string(),
    }
}

/// `portal.getPortal`: `portal` is a portal id or an api id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetPortalRequest {
    pub portal: String,
}

/// A portal's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Portal {
    pub portal_id: String,
    pub api_id: String,
    /// The branding name shown to end users (defaults to the api's name).
    pub name: String,
    /// Permission slugs an end user may put on a key they create.
    #[serde(default)]
    pub grantable_scopes: Vec<String>,
}

wire_struct! {
    /// `portal.updatePortal` (our extension): what is given replaces the portal's.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct UpdatePortalRequest {
        pub portal: String,
        opt name: String,
        opt grantable_scopes: Vec<String>,
    }
}

/// `portal.revokeSession` (our extension): the session and its access token stop working.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokePortalSessionRequest {
    pub session_id: String,
}

pub type RevokePortalSessionResponseData = EmptyData;

/// `portal.exchangeCode`: the code of a session URL.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExchangeCodeRequest {
    pub code: SecretKey,
}

impl Serialize for ExchangeCodeRequest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            code: &'a str,
        }
        Wire {
            code: self.code.expose(),
        }
        .serialize(s)
    }
}

/// `portal.exchangeCode` data: the session's access token (`pat_…`) and when it expires (ms).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeCodeResponseData {
    #[serde(serialize_with = "crate::secret::serialize_exposed")]
    pub access_token: SecretKey,
    pub expires_at: i64,
}

/// `portal.getSession` data (our extension): who the session is for and what it may do.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortalSession {
    pub session_id: String,
    pub external_id: String,
    pub scopes: Vec<String>,
    pub portal: Portal,
    pub expires_at: i64,
    /// Send as `X-Keyshift-CSRF` with every mutating call authenticated by the cookie.
    pub csrf_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
}

crate::redacted_debug!(PortalSession {
    session_id,
    external_id,
    scopes,
    portal,
    expires_at,
    csrf_token => crate::secret::redacted,
    return_url,
});

wire_struct! {
    /// `portal.listKeys`: a page of the session's own keys.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct PortalListKeysRequest {
        opt limit: u32,
        opt cursor: String,
    }
}

/// `portal.listKeys` data (with `pagination`).
pub type PortalListKeysResponseData = Vec<KeyResponseData>;

wire_struct! {
    /// `portal.createKey`: a key for the session's end user in the portal's api.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct PortalCreateKeyRequest {
        pub name: String,
        /// ⊆ the portal's `grantableScopes`.
        opt permissions: Vec<String>,
        /// Unix ms.
        opt expires: i64,
    }
}

/// `portal.createKey` / `portal.rerollKey` data: `{keyId, key}`.
pub type PortalCreateKeyResponseData = super::CreateKeyResponseData;

/// `portal.updateKey`: renames one of the session's keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortalUpdateKeyRequest {
    pub key_id: String,
    pub name: String,
}

/// `portal.rerollKey`: Unkey's `keys.rerollKey` body.
pub type PortalRerollKeyRequest = super::RerollKeyRequest;

/// `portal.deleteKey`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortalDeleteKeyRequest {
    pub key_id: String,
}

wire_struct! {
    /// `portal.getVerifications`: the session's verifications between `startTime` and
    /// `endTime` (Unix ms), optionally of one key.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct PortalGetVerificationsRequest {
        pub start_time: i64,
        pub end_time: i64,
        opt key_id: String,
    }
}

/// A body with no fields (`portal.getSession`, `portal.logout`); `{}` or no body at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PortalEmptyRequest {}

/// A scope as an error message names it: as written when it looks like one (short, of
/// `[a-z:_.-]`), else masked.
fn shown_scope(scope: &str) -> String {
    let plain = scope.len() <= 64
        && scope
            .bytes()
            .all(|b| b.is_ascii_lowercase() || matches!(b, b':' | b'_' | b'.' | b'-'));
    if plain {
        scope.to_string()
    } else {
        crate::keyformat::shown_value(scope)
    }
}

/// Checks a list of session scopes: at least one, each one of [`PORTAL_SCOPES`].
fn check_scopes(c: &mut super::validate::Checker, scopes: &[String]) {
    if scopes.is_empty() {
        c.push("scopes", "must contain at least 1 item");
    }
    c.each("scopes", scopes, |c, at, scope| {
        if !PORTAL_SCOPES.contains(&scope.as_str()) {
            c.push(
                at,
                format!(
                    "unknown scope `{}`; one of {}",
                    shown_scope(scope),
                    PORTAL_SCOPES.join(", ")
                ),
            );
        }
    });
}

impl Validate for CreatePortalSessionRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.non_empty("portal", &self.portal);
            c.len(
                "externalId",
                &self.external_id,
                1,
                PORTAL_EXTERNAL_ID_MAX_LEN,
            );
            check_scopes(c, &self.scopes);
            if let Some(url) = &self.return_url {
                if c.len("returnUrl", url, 1, PORTAL_RETURN_URL_MAX_LEN)
                    && !(url.starts_with("https://") || url.starts_with("http://"))
                {
                    c.push("returnUrl", "must be an absolute http(s) URL");
                }
            }
        })
    }
}

/// `impl Validate` for the requests whose one rule is a non-empty string field.
macro_rules! validate_non_empty {
    ($($request:ty { $field:ident: $name:literal })*) => {$(
        impl Validate for $request {
            fn validate(&self) -> Vec<FieldError> {
                check(|c| c.non_empty($name, &self.$field))
            }
        }
    )*};
}

validate_non_empty! {
    GetPortalRequest { portal: "portal" }
    RevokePortalSessionRequest { session_id: "sessionId" }
    PortalDeleteKeyRequest { key_id: "keyId" }
}

impl Validate for UpdatePortalRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.non_empty("portal", &self.portal);
            if let Some(name) = &self.name {
                c.len("name", name, 1, PORTAL_NAME_MAX_LEN);
            }
            if let Some(scopes) = &self.grantable_scopes {
                c.each("grantableScopes", scopes, |c, at, slug| {
                    if c.len(at, slug, 1, super::limits::PERMISSION_SLUG_MAX_LEN)
                        && !slug.chars().all(super::is_permission_slug_char)
                    {
                        c.push(at, "is not a permission slug");
                    }
                });
            }
        })
    }
}

impl Validate for ExchangeCodeRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            if self.code.is_empty() {
                c.push("code", "must be at least 1 characters long (got 0)");
            }
        })
    }
}

impl Validate for PortalListKeysRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| c.list(self.limit, None, None))
    }
}

impl Validate for PortalCreateKeyRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.len("name", &self.name, 1, PORTAL_KEY_NAME_MAX_LEN);
            c.some(self.expires.as_ref(), |c, expires| {
                c.expires("expires", *expires)
            });
            if let Some(permissions) = &self.permissions {
                c.each("permissions", permissions, |c, at, slug| {
                    c.non_empty(at, slug);
                });
            }
        })
    }
}

impl Validate for PortalUpdateKeyRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.non_empty("keyId", &self.key_id);
            c.len("name", &self.name, 1, PORTAL_KEY_NAME_MAX_LEN);
        })
    }
}

impl Validate for PortalGetVerificationsRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            if self.start_time < 0 {
                c.push("startTime", "must be at least 0");
            }
            if self.end_time < self.start_time {
                c.push("endTime", "must not be before startTime");
            }
            if let Some(key_id) = &self.key_id {
                c.non_empty("keyId", key_id);
            }
        })
    }
}

impl Validate for PortalEmptyRequest {
    fn validate(&self) -> Vec<FieldError> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::request;
    use serde_json::json;

    #[test]
    fn portal_requests_round_trip_and_validate() {
        request::<CreatePortalSessionRequest>(json!({
            "portal": "api_123", "externalId": "user_1", "scopes": ["keys:read", "keys:create"],
            "returnUrl": "https://app.example.com/keys", "preview": false
        }));
        request::<GetPortalRequest>(json!({"portal": "portal_1"}));
        request::<UpdatePortalRequest>(json!({"portal": "portal_1", "name": "Acme",
            "grantableScopes": ["profile.read"]}));
        request::<RevokePortalSessionRequest>(json!({"sessionId": "ps_1"}));
        request::<PortalCreateKeyRequest>(json!({"name": "ci", "permissions": ["profile.read"]}));
        request::<PortalUpdateKeyRequest>(json!({"keyId": "key_1", "name": "renamed"}));
        request::<PortalDeleteKeyRequest>(json!({"keyId": "key_1"}));
        request::<PortalGetVerificationsRequest>(json!({"startTime": 1, "endTime": 2}));

        let bad = CreatePortalSessionRequest {
            portal: "api_1".into(),
            external_id: "u".into(),
            scopes: vec!["keys:read".into(), "keys:admin".into()],
            ..Default::default()
        };
        let errors = bad.validate();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].location, "body.scopes[1]");
        assert!(errors[0].message.contains("keys:admin"), "{errors:?}");
        let empty = CreatePortalSessionRequest {
            portal: "api_1".into(),
            external_id: "u".into(),
            ..Default::default()
        };
        assert_eq!(empty.validate()[0].location, "body.scopes");
    }

    #[test]
    fn portal_secrets_are_masked_in_debug() {
        let data = CreatePortalSessionResponseData {
            id: "ps_1".into(),
            url: "http://127.0.0.1:1/portal?code=pst_secret".into(),
        };
        assert!(!format!("{data:?}").contains("pst_secret"));
        let exchanged = ExchangeCodeResponseData {
            access_token: SecretKey::new("pat_secret_token_123"),
            expires_at: 1,
        };
        assert!(!format!("{exchanged:?}").contains("pat_secret_token_123"));
        let body = serde_json::to_value(ExchangeCodeRequest {
            code: SecretKey::new("pst_x"),
        })
        .unwrap();
        assert_eq!(body, json!({"code": "pst_x"}));
    }
}
