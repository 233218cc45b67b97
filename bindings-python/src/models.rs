//! Result classes of the client's calls: each an immutable copy of a core answer
//! (`keyshift_core::wire` / `keyshift_core::client`), with `==`, `repr` and `to_dict()`.

use keyshift_core::wire;
use keyshift_core::SecretKey;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{record, shown_dict, shown_repr, Code, Meta};
use crate::scope::Scope;

record! {
    /// An api (a keyspace).
    Api { api_id: String, name: Option<String> }
}

record! {
    Permission { id: String, name: String, slug: String, description: Option<String> }
}

impl From<wire::Permission> for Permission {
    fn from(p: wire::Permission) -> Self {
        Permission {
            id: p.id,
            name: p.name,
            slug: p.slug,
            description: p.description,
        }
    }
}

record! {
    Role { id: String, name: String, description: Option<String>, permissions: Vec<Permission> }
}

impl From<wire::Role> for Role {
    fn from(r: wire::Role) -> Self {
        Role {
            id: r.id,
            name: r.name,
            description: r.description,
            permissions: r
                .permissions
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
        }
    }
}

record! {
    /// A rate limit of a key or identity (`duration` in ms).
    Ratelimit { id: String, name: String, limit: i64, duration: i64, auto_apply: bool }
}

impl From<wire::RatelimitResponse> for Ratelimit {
    fn from(r: wire::RatelimitResponse) -> Self {
        Ratelimit {
            id: r.id,
            name: r.name,
            limit: r.limit,
            duration: r.duration,
            auto_apply: r.auto_apply,
        }
    }
}

fn ratelimits(v: Option<Vec<wire::RatelimitResponse>>) -> Vec<Ratelimit> {
    v.unwrap_or_default().into_iter().map(Into::into).collect()
}

record! {
    /// The owner of keys, by external id.
    Identity { id: String, external_id: String, meta: Option<Meta>, ratelimits: Vec<Ratelimit> }
}

impl From<wire::Identity> for Identity {
    fn from(i: wire::Identity) -> Self {
        Identity {
            id: i.id,
            external_id: i.external_id,
            meta: i.meta.map(Meta),
            ratelimits: ratelimits(i.ratelimits),
        }
    }
}

record! {
    /// How credits refill: `interval` is `daily` or `monthly`.
    Refill { interval: String, amount: i64, refill_day: Option<u8> }
}

impl From<wire::KeyCreditsRefill> for Refill {
    fn from(r: wire::KeyCreditsRefill) -> Self {
        let interval = serde_json::to_value(r.interval)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        Refill {
            interval,
            amount: r.amount,
            refill_day: r.refill_day,
        }
    }
}

record! {
    /// A key's credits: `remaining` None = unlimited.
    Credits { remaining: Option<i64>, refill: Option<Refill> }
}

impl From<wire::KeyCreditsData> for Credits {
    fn from(c: wire::KeyCreditsData) -> Self {
        Credits {
            remaining: c.remaining,
            refill: c.refill.map(Into::into),
        }
    }
}

record! {
    /// A key as the key service describes it (never its plaintext). Times are Unix ms.
    Key {
        key_id: String,
        start: String,
        enabled: bool,
        name: Option<String>,
        meta: Option<Meta>,
        created_at: i64,
        updated_at: Option<i64>,
        last_used_at: Option<i64>,
        expires: Option<i64>,
        permissions: Vec<String>,
        roles: Vec<String>,
        credits: Option<Credits>,
        identity: Option<Identity>,
        ratelimits: Vec<Ratelimit>,
    }
}

impl From<wire::KeyResponseData> for Key {
    fn from(k: wire::KeyResponseData) -> Self {
        Key {
            key_id: k.key_id,
            start: k.start,
            enabled: k.enabled,
            name: k.name,
            meta: k.meta.map(Meta),
            created_at: k.created_at,
            updated_at: k.updated_at,
            last_used_at: k.last_used_at,
            expires: k.expires,
            permissions: k.permissions.unwrap_or_default(),
            roles: k.roles.unwrap_or_default(),
            credits: k.credits.map(Into::into),
            identity: k.identity.map(Into::into),
            ratelimits: ratelimits(k.ratelimits),
        }
    }
}

record! {
    /// One page of `list_keys`.
    KeyPage { keys: Vec<Key>, cursor: Option<String>, has_more: bool }
}

record! {
    /// A rate limit checked by a verification.
    RatelimitResult {
        name: String,
        id: String,
        exceeded: bool,
        limit: i64,
        duration: i64,
        reset: i64,
        remaining: i64,
        auto_apply: bool,
    }
}

impl From<wire::VerifyRatelimitData> for RatelimitResult {
    fn from(r: wire::VerifyRatelimitData) -> Self {
        RatelimitResult {
            name: r.name,
            id: r.id,
            exceeded: r.exceeded,
            limit: r.limit,
            duration: r.duration,
            reset: r.reset,
            remaining: r.remaining,
            auto_apply: r.auto_apply,
        }
    }
}

record! {
    /// The outcome of a verification: an invalid key is `valid == False` with a `code`, never
    /// an exception. `source` is `key_service`, or `legacy` when `verify_with_fallback`'s legacy
    /// check accepted the key.
    Verification {
        valid: bool,
        code: Code,
        key_id: Option<String>,
        name: Option<String>,
        external_id: Option<String>,
        meta: Option<Meta>,
        permissions: Vec<String>,
        roles: Vec<String>,
        credits: Option<i64>,
        expires: Option<i64>,
        enabled: Option<bool>,
        ratelimits: Vec<RatelimitResult>,
        identity: Option<Identity>,
        request_id: Option<String>,
        source: String,
    }
    methods {
        /// The key's permissions folded back into scopes.
        fn scopes(&self) -> Vec<Scope> {
            keyshift_core::permissions_to_scopes(&self.permissions).into_iter().map(Scope::from).collect()
        }
        fn has_permission(&self, permission: &str) -> bool {
            self.permissions.iter().any(|p| p == permission)
        }
        fn __bool__(&self) -> bool {
            self.valid
        }
    }
}

impl From<keyshift_core::Verification> for Verification {
    fn from(v: keyshift_core::Verification) -> Self {
        Verification {
            valid: v.valid,
            code: Code(v.code),
            key_id: v.key_id,
            name: v.name,
            external_id: v.external_id,
            meta: v.meta.map(Meta),
            permissions: v.permissions,
            roles: v.roles,
            credits: v.credits,
            expires: v.expires,
            enabled: v.enabled,
            ratelimits: v.ratelimits.into_iter().map(Into::into).collect(),
            identity: v.identity.map(Into::into),
            request_id: v.request_id,
            source: match v.source {
                keyshift_core::VerificationSource::Legacy => "legacy",
                _ => "key_service",
            }
            .to_string(),
        }
    }
}

/// A new key. `key` is the plaintext, shown once: store `masked` for display. `repr`, `str` and
/// `to_dict()` show the masked form only.
#[pyclass(frozen, eq, module = "keyshift")]
#[derive(Clone, Debug, PartialEq)]
pub struct CreatedKey {
    #[pyo3(get)]
    key_id: String,
    #[pyo3(get)]
    masked: String,
    secret: SecretKey,
}

impl From<keyshift_core::CreatedKey> for CreatedKey {
    fn from(c: keyshift_core::CreatedKey) -> Self {
        CreatedKey {
            key_id: c.key_id,
            masked: c.masked,
            secret: c.key,
        }
    }
}

#[pymethods]
impl CreatedKey {
    /// The plaintext key (returned once by the key service).
    #[getter]
    fn key(&self) -> &str {
        self.secret.expose()
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        shown_dict(py, &[("key_id", &self.key_id), ("masked", &self.masked)])
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let shown = [("key_id", self.key_id.as_str()), ("key", &self.masked)];
        shown_repr(py, "CreatedKey", &shown)
    }
}

/// A self-service portal session (`create_portal_session`): `url` carries a single-use code
/// valid 15 minutes, so it is a secret until used; `repr()` and `to_dict()` hide the code.
#[pyclass(frozen, eq, module = "keyshift")]
#[derive(Clone, PartialEq)]
pub struct PortalSession {
    #[pyo3(get)]
    id: String,
    url: SecretKey,
}

impl From<wire::CreatePortalSessionResponseData> for PortalSession {
    fn from(d: wire::CreatePortalSessionResponseData) -> Self {
        PortalSession {
            id: d.id,
            url: SecretKey::new(d.url),
        }
    }
}

impl PortalSession {
    /// The URL with its code replaced by `…`.
    fn shown_url(&self) -> String {
        wire::mask_portal_url(self.url.expose())
    }
}

#[pymethods]
impl PortalSession {
    /// Where to send the end user (redirect, or an embedded `<keyshift-keys session-url>`).
    #[getter]
    fn url(&self) -> &str {
        self.url.expose()
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        shown_dict(py, &[("id", &self.id), ("url", &self.shown_url())])
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        shown_repr(
            py,
            "PortalSession",
            &[("id", &self.id), ("url", &self.shown_url())],
        )
    }
}
