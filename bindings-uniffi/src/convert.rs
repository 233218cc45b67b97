//! Conversions between `Client`'s records (declared in `client.rs`, where uniffi names
//! them) and core's `client` and `wire` types, the masked `Display` of the records that hold a
//! secret, and the host's legacy check as core's `LegacyCheck`.

use std::sync::Arc;

use keyshift_core::client as core;
use keyshift_core::wire::{self, Patch};

use crate::client::*;
use crate::error::{KeyshiftError, Raised};

impl std::fmt::Display for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ClientConfig(baseUrl={}, rootKey={}, timeoutMs={:?}, deadlineMs={:?}, maxAttempts={:?})",
            self.base_url,
            keyshift_core::mask_key(&self.root_key),
            self.timeout_ms,
            self.deadline_ms,
            self.max_attempts
        )
    }
}

pub(crate) fn meta_from_json(
    field: &str,
    json: Option<String>,
) -> Result<Option<wire::Metadata>, KeyshiftError> {
    json.map(|s| {
        serde_json::from_str::<wire::Metadata>(&s).map_err(|e| {
            keyshift_core::Error::invalid_input(
                field,
                format!("{field} must be a JSON object: {e}"),
            )
            .into()
        })
    })
    .transpose()
}

fn meta_to_json(meta: Option<wire::Metadata>) -> Option<String> {
    meta.map(|m| serde_json::Value::Object(m).to_string())
}

pub(crate) fn map<T, U: From<T>>(items: Vec<T>) -> Vec<U> {
    items.into_iter().map(Into::into).collect()
}

impl From<wire::CreateApiResponseData> for Api {
    fn from(d: wire::CreateApiResponseData) -> Self {
        Api { api_id: d.api_id }
    }
}

impl From<CreditsRefill> for wire::KeyCreditsRefill {
    fn from(r: CreditsRefill) -> Self {
        wire::KeyCreditsRefill {
            interval: match r.interval {
                RefillInterval::Daily => wire::RefillInterval::Daily,
                RefillInterval::Monthly => wire::RefillInterval::Monthly,
                RefillInterval::Unknown => wire::RefillInterval::Unknown,
            },
            amount: r.amount,
            refill_day: r.refill_day,
        }
    }
}

impl From<wire::KeyCreditsRefill> for CreditsRefill {
    fn from(r: wire::KeyCreditsRefill) -> Self {
        CreditsRefill {
            interval: match r.interval {
                wire::RefillInterval::Daily => RefillInterval::Daily,
                wire::RefillInterval::Monthly => RefillInterval::Monthly,
                wire::RefillInterval::Unknown => RefillInterval::Unknown,
            },
            amount: r.amount,
            refill_day: r.refill_day,
        }
    }
}

impl From<Ratelimit> for wire::RatelimitRequest {
    fn from(r: Ratelimit) -> Self {
        wire::RatelimitRequest {
            name: r.name,
            limit: r.limit,
            duration: r.duration,
            auto_apply: r.auto_apply,
        }
    }
}

impl From<wire::RatelimitResponse> for RatelimitInfo {
    fn from(r: wire::RatelimitResponse) -> Self {
        RatelimitInfo {
            id: r.id,
            name: r.name,
            limit: r.limit,
            duration: r.duration,
            auto_apply: r.auto_apply,
        }
    }
}

impl CreateKey {
    pub(crate) fn into_core(self) -> Result<core::CreateKey, KeyshiftError> {
        Ok(core::CreateKey {
            api_id: self.api_id,
            name: self.name,
            prefix: self.prefix,
            byte_length: self.byte_length,
            external_id: self.external_id,
            meta: meta_from_json("meta", self.meta_json)?,
            scopes: self.scopes,
            permissions: self.permissions,
            roles: self.roles,
            expires: self.expires,
            credits: self.credits,
            refill: self.refill.map(Into::into),
            ratelimits: map(self.ratelimits),
            enabled: self.enabled,
        })
    }
}

impl std::fmt::Display for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CreatedKey(keyId={}, key={})", self.key_id, self.masked)
    }
}

impl From<core::CreatedKey> for CreatedKey {
    fn from(c: core::CreatedKey) -> Self {
        CreatedKey {
            key_id: c.key_id,
            key: c.key.into_inner(),
            masked: c.masked,
        }
    }
}

impl std::fmt::Display for PortalSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = wire::mask_portal_url(&self.url);
        write!(f, "PortalSession(id={}, url={shown})", self.id)
    }
}

impl From<wire::CreatePortalSessionResponseData> for PortalSession {
    fn from(d: wire::CreatePortalSessionResponseData) -> Self {
        PortalSession {
            id: d.id,
            url: d.url,
        }
    }
}

impl From<VerifyOptions> for core::VerifyOptions {
    fn from(o: VerifyOptions) -> Self {
        core::VerifyOptions {
            permissions: o.permissions,
            scopes: o.scopes,
            credits_cost: o.credits_cost,
            ratelimits: o
                .ratelimits
                .into_iter()
                .map(|r| wire::VerifyRatelimit {
                    name: r.name,
                    cost: r.cost,
                    limit: r.limit,
                    duration: r.duration,
                })
                .collect(),
            tags: o.tags,
        }
    }
}

impl From<wire::VerifyCode> for VerifyCode {
    fn from(c: wire::VerifyCode) -> Self {
        match c {
            wire::VerifyCode::Valid => VerifyCode::Valid,
            wire::VerifyCode::NotFound => VerifyCode::NotFound,
            wire::VerifyCode::Forbidden => VerifyCode::Forbidden,
            wire::VerifyCode::InsufficientPermissions => VerifyCode::InsufficientPermissions,
            wire::VerifyCode::InsufficientCredits => VerifyCode::InsufficientCredits,
            wire::VerifyCode::UsageExceeded => VerifyCode::UsageExceeded,
            wire::VerifyCode::RateLimited => VerifyCode::RateLimited,
            wire::VerifyCode::Disabled => VerifyCode::Disabled,
            wire::VerifyCode::Expired => VerifyCode::Expired,
            _ => VerifyCode::Unknown,
        }
    }
}

impl From<wire::Identity> for Identity {
    fn from(i: wire::Identity) -> Self {
        Identity {
            id: i.id,
            external_id: i.external_id,
            meta_json: meta_to_json(i.meta),
            ratelimits: map(i.ratelimits.unwrap_or_default()),
        }
    }
}

impl From<core::Verification> for Verification {
    fn from(v: core::Verification) -> Self {
        let scopes = v.scopes();
        Verification {
            valid: v.valid,
            code: v.code.into(),
            key_id: v.key_id,
            name: v.name,
            external_id: v.external_id,
            meta_json: meta_to_json(v.meta),
            permissions: v.permissions,
            roles: v.roles,
            credits: v.credits,
            expires: v.expires,
            enabled: v.enabled,
            ratelimits: v
                .ratelimits
                .into_iter()
                .map(|r| VerifyRatelimitResult {
                    exceeded: r.exceeded,
                    id: r.id,
                    name: r.name,
                    limit: r.limit,
                    duration: r.duration,
                    reset: r.reset,
                    remaining: r.remaining,
                })
                .collect(),
            identity: v.identity.map(Into::into),
            request_id: v.request_id,
            source: match v.source {
                core::VerificationSource::KeyService => VerificationSource::KeyService,
                core::VerificationSource::Legacy => VerificationSource::Legacy,
            },
            scopes,
        }
    }
}

impl From<wire::KeyCreditsData> for KeyCredits {
    fn from(c: wire::KeyCreditsData) -> Self {
        KeyCredits {
            remaining: c.remaining,
            refill: c.refill.map(Into::into),
        }
    }
}

impl From<wire::KeyResponseData> for KeyInfo {
    fn from(k: wire::KeyResponseData) -> Self {
        KeyInfo {
            key_id: k.key_id,
            start: k.start,
            enabled: k.enabled,
            name: k.name,
            meta_json: meta_to_json(k.meta),
            created_at: k.created_at,
            updated_at: k.updated_at,
            last_used_at: k.last_used_at,
            expires: k.expires,
            permissions: k.permissions.unwrap_or_default(),
            roles: k.roles.unwrap_or_default(),
            credits: k.credits.map(Into::into),
            identity: k.identity.map(Into::into),
            ratelimits: map(k.ratelimits.unwrap_or_default()),
        }
    }
}

impl From<core::Page<wire::KeyResponseData>> for KeyPage {
    fn from(page: core::Page<wire::KeyResponseData>) -> Self {
        KeyPage {
            keys: map(page.items),
            cursor: page.cursor,
            has_more: page.has_more,
        }
    }
}

fn patch<T, U>(p: Option<T>, f: impl FnOnce(T) -> Patch<U>) -> Patch<U> {
    p.map(f).unwrap_or(Patch::Leave)
}

fn string_patch(p: StringPatch) -> Patch<String> {
    match p {
        StringPatch::Clear => Patch::Clear,
        StringPatch::Set { value } => Patch::Set(value),
    }
}

fn int_patch(p: IntPatch) -> Patch<i64> {
    match p {
        IntPatch::Clear => Patch::Clear,
        IntPatch::Set { value } => Patch::Set(value),
    }
}

impl UpdateKey {
    pub(crate) fn into_wire(self) -> Result<wire::UpdateKeyRequest, KeyshiftError> {
        let meta = match self.meta_json {
            None => Patch::Leave,
            Some(StringPatch::Clear) => Patch::Clear,
            Some(StringPatch::Set { value }) => {
                Patch::Set(meta_from_json("meta", Some(value))?.unwrap_or_default())
            }
        };
        let credits = match (self.credits_remaining, self.credits_refill) {
            (None, None) => Patch::Leave,
            (remaining, refill) => Patch::Set(wire::UpdateKeyCredits {
                remaining: patch(remaining, int_patch),
                refill: patch(refill, |r| match r {
                    RefillPatch::Clear => Patch::Clear,
                    RefillPatch::Set { value } => Patch::Set(value.into()),
                }),
            }),
        };
        Ok(wire::UpdateKeyRequest {
            key_id: self.key_id,
            name: patch(self.name, string_patch),
            external_id: patch(self.external_id, string_patch),
            meta,
            expires: patch(self.expires, int_patch),
            credits,
            ratelimits: self.ratelimits.map(map),
            enabled: self.enabled,
            roles: self.roles,
            permissions: self.permissions,
        })
    }
}

impl From<CreditsOperation> for wire::CreditsOperation {
    fn from(op: CreditsOperation) -> Self {
        match op {
            CreditsOperation::Set => wire::CreditsOperation::Set,
            CreditsOperation::Increment => wire::CreditsOperation::Increment,
            CreditsOperation::Decrement => wire::CreditsOperation::Decrement,
        }
    }
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

impl From<wire::Role> for Role {
    fn from(r: wire::Role) -> Self {
        Role {
            id: r.id,
            name: r.name,
            description: r.description,
            permissions: map(r.permissions.unwrap_or_default()),
        }
    }
}

/// Core's `LegacyCheck` over a host implementation; a host error is kept in `raised`.
pub(crate) struct HostLegacy {
    pub(crate) host: Arc<dyn LegacyCheck>,
    pub(crate) raised: Raised,
}

#[async_trait::async_trait]
impl keyshift_core::LegacyCheck for HostLegacy {
    async fn check(&self, key: &keyshift_core::SecretKey) -> keyshift_core::Result<bool> {
        self.host
            .check(key.expose().to_owned())
            .await
            .map_err(|e| self.raised.keep(e, "legacy check"))
    }
}
