//! The exported `Client` (core's `client` module): a sync constructor, `suspend`/`async`
//! methods that hop onto core's shared runtime, and the records of every request and answer.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use keyshift_core::client as core;
use keyshift_core::wire::{self, Patch};
use keyshift_core::RetryPolicy;

use crate::error::{on_core, KeyshiftError, Raised};
use crate::migrate::{
    run_migration, CancelToken, MigrateOptions, MigrationReport, ProgressListener, RecordSource,
};
use crate::scope::{to_core, Scope};

// ----- configuration ---------------------------------------------------------------------

/// How to reach a key service over HTTP. `toString()` masks the root key.
#[derive(Clone, uniffi::Record)]
#[uniffi::export(Display)]
pub struct ClientConfig {
    pub base_url: String,
    pub root_key: String,
    /// Per-attempt timeout (default 5000).
    #[uniffi(default = None)]
    pub timeout_ms: Option<u64>,
    /// Total time of a call's attempts and waits (default 15000).
    #[uniffi(default = None)]
    pub deadline_ms: Option<u64>,
    /// Attempts in all, the first included (default 3; 1 = never retry).
    #[uniffi(default = None)]
    pub max_attempts: Option<u32>,
}

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

fn meta_from_json(
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

fn map<T, U: From<T>>(items: Vec<T>) -> Vec<U> {
    items.into_iter().map(Into::into).collect()
}

// ----- records ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Api {
    pub api_id: String,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ApiInfo {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RefillInterval {
    Daily,
    Monthly,
    /// A value this version does not know (answers only).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CreditsRefill {
    pub interval: RefillInterval,
    pub amount: i64,
    #[uniffi(default = None)]
    pub refill_day: Option<u8>,
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

/// A ratelimit to configure on a key or identity (`duration` in ms, ≥ 1000).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Ratelimit {
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    #[uniffi(default = false)]
    pub auto_apply: bool,
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

/// A ratelimit as stored.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RatelimitInfo {
    pub id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub auto_apply: bool,
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

/// Options of `createApiKey`; `scopes` and `permissions` are merged. `metaJson` is a JSON
/// object.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CreateKey {
    pub api_id: String,
    #[uniffi(default = None)]
    pub name: Option<String>,
    #[uniffi(default = None)]
    pub prefix: Option<String>,
    #[uniffi(default = None)]
    pub byte_length: Option<u32>,
    #[uniffi(default = None)]
    pub external_id: Option<String>,
    #[uniffi(default = None)]
    pub meta_json: Option<String>,
    #[uniffi(default = [])]
    pub scopes: Vec<Scope>,
    #[uniffi(default = [])]
    pub permissions: Vec<String>,
    #[uniffi(default = [])]
    pub roles: Vec<String>,
    /// Unix ms.
    #[uniffi(default = None)]
    pub expires: Option<i64>,
    /// Remaining uses; none = unlimited.
    #[uniffi(default = None)]
    pub credits: Option<i64>,
    #[uniffi(default = None)]
    pub refill: Option<CreditsRefill>,
    #[uniffi(default = [])]
    pub ratelimits: Vec<Ratelimit>,
    #[uniffi(default = None)]
    pub enabled: Option<bool>,
}

impl CreateKey {
    fn into_core(self) -> Result<core::CreateKey, KeyshiftError> {
        Ok(core::CreateKey {
            api_id: self.api_id,
            name: self.name,
            prefix: self.prefix,
            byte_length: self.byte_length,
            external_id: self.external_id,
            meta: meta_from_json("meta", self.meta_json)?,
            scopes: to_core(self.scopes),
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

/// A new key: `key` is the plaintext, here once. `toString()` shows only `masked`.
#[derive(Clone, uniffi::Record)]
#[uniffi::export(Display)]
pub struct CreatedKey {
    pub key_id: String,
    pub key: String,
    pub masked: String,
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

/// A self-service portal session: send the end user to `url` (its code is single use, valid 15
/// minutes). `toString()` shows the URL with the code hidden.
#[derive(Clone, uniffi::Record)]
#[uniffi::export(Display)]
pub struct PortalSession {
    /// `ps_…`: not a credential (`portal.revokeSession` takes it).
    pub id: String,
    pub url: String,
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

/// A ratelimit to check while verifying, optionally overriding its settings.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VerifyRatelimit {
    pub name: String,
    #[uniffi(default = None)]
    pub cost: Option<i64>,
    #[uniffi(default = None)]
    pub limit: Option<i64>,
    #[uniffi(default = None)]
    pub duration: Option<i64>,
}

/// Options of `verify`: `permissions` is a query (`a AND (b OR c)`), ANDed with every scope.
#[derive(Debug, Clone, PartialEq, Default, uniffi::Record)]
pub struct VerifyOptions {
    #[uniffi(default = None)]
    pub permissions: Option<String>,
    #[uniffi(default = [])]
    pub scopes: Vec<Scope>,
    #[uniffi(default = None)]
    pub credits_cost: Option<i64>,
    #[uniffi(default = [])]
    pub ratelimits: Vec<VerifyRatelimit>,
    #[uniffi(default = [])]
    pub tags: Vec<String>,
}

impl From<VerifyOptions> for core::VerifyOptions {
    fn from(o: VerifyOptions) -> Self {
        core::VerifyOptions {
            permissions: o.permissions,
            scopes: to_core(o.scopes),
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

/// The outcome code of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum VerifyCode {
    Valid,
    NotFound,
    Forbidden,
    InsufficientPermissions,
    InsufficientCredits,
    UsageExceeded,
    RateLimited,
    Disabled,
    Expired,
    /// A code this version does not know.
    Unknown,
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

/// The wire string of a code (`VALID`, `NOT_FOUND`, …).
#[uniffi::export]
pub fn verify_code_name(code: VerifyCode) -> String {
    match code {
        VerifyCode::Valid => wire::VerifyCode::Valid,
        VerifyCode::NotFound => wire::VerifyCode::NotFound,
        VerifyCode::Forbidden => wire::VerifyCode::Forbidden,
        VerifyCode::InsufficientPermissions => wire::VerifyCode::InsufficientPermissions,
        VerifyCode::InsufficientCredits => wire::VerifyCode::InsufficientCredits,
        VerifyCode::UsageExceeded => wire::VerifyCode::UsageExceeded,
        VerifyCode::RateLimited => wire::VerifyCode::RateLimited,
        VerifyCode::Disabled => wire::VerifyCode::Disabled,
        VerifyCode::Expired => wire::VerifyCode::Expired,
        VerifyCode::Unknown => wire::VerifyCode::Unknown,
    }
    .as_str()
    .to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum VerificationSource {
    KeyService,
    /// `verifyWithFallback`'s legacy check accepted the key.
    Legacy,
}

/// A ratelimit checked during verification, with what is left of it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VerifyRatelimitResult {
    pub exceeded: bool,
    pub id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub reset: i64,
    pub remaining: i64,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Identity {
    pub id: String,
    pub external_id: String,
    pub meta_json: Option<String>,
    pub ratelimits: Vec<RatelimitInfo>,
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

/// The outcome of a verification: an invalid key is `valid == false` with a `code`, never an
/// exception.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Verification {
    pub valid: bool,
    pub code: VerifyCode,
    pub key_id: Option<String>,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub meta_json: Option<String>,
    pub permissions: Vec<String>,
    pub roles: Vec<String>,
    /// Remaining credits; none = unlimited (or unknown for an invalid key).
    pub credits: Option<i64>,
    pub expires: Option<i64>,
    pub enabled: Option<bool>,
    pub ratelimits: Vec<VerifyRatelimitResult>,
    pub identity: Option<Identity>,
    pub request_id: Option<String>,
    pub source: VerificationSource,
    /// The key's permissions folded back into scopes.
    pub scopes: Vec<Scope>,
}

impl From<core::Verification> for Verification {
    fn from(v: core::Verification) -> Self {
        let scopes = map(v.scopes());
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

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct KeyCredits {
    /// None = unlimited.
    pub remaining: Option<i64>,
    pub refill: Option<CreditsRefill>,
}

impl From<wire::KeyCreditsData> for KeyCredits {
    fn from(c: wire::KeyCreditsData) -> Self {
        KeyCredits {
            remaining: c.remaining,
            refill: c.refill.map(Into::into),
        }
    }
}

/// A key as `getKey`, `whoami` and `listKeys` describe it (never its plaintext).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct KeyInfo {
    pub key_id: String,
    pub start: String,
    pub enabled: bool,
    pub name: Option<String>,
    pub meta_json: Option<String>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub expires: Option<i64>,
    pub permissions: Vec<String>,
    pub roles: Vec<String>,
    pub credits: Option<KeyCredits>,
    pub identity: Option<Identity>,
    pub ratelimits: Vec<RatelimitInfo>,
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

/// One page of `listKeys`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct KeyPage {
    pub keys: Vec<KeyInfo>,
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// A field of `updateKey` to clear or set (absent = leave unchanged).
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum StringPatch {
    Clear,
    Set { value: String },
}

#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum IntPatch {
    Clear,
    Set { value: i64 },
}

#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum RefillPatch {
    Clear,
    Set { value: CreditsRefill },
}

fn patch<T, U>(p: Option<T>, f: impl FnOnce(T) -> Patch<U>) -> Patch<U> {
    p.map(f).unwrap_or(Patch::Leave)
}

/// `updateKey`: each `…Patch` field left `null` keeps the key's value; the others replace it
/// when given. `meta` is a JSON object.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct UpdateKey {
    pub key_id: String,
    #[uniffi(default = None)]
    pub name: Option<StringPatch>,
    #[uniffi(default = None)]
    pub external_id: Option<StringPatch>,
    #[uniffi(default = None)]
    pub meta_json: Option<StringPatch>,
    #[uniffi(default = None)]
    pub expires: Option<IntPatch>,
    #[uniffi(default = None)]
    pub credits_remaining: Option<IntPatch>,
    #[uniffi(default = None)]
    pub credits_refill: Option<RefillPatch>,
    #[uniffi(default = None)]
    pub ratelimits: Option<Vec<Ratelimit>>,
    #[uniffi(default = None)]
    pub enabled: Option<bool>,
    #[uniffi(default = None)]
    pub roles: Option<Vec<String>>,
    #[uniffi(default = None)]
    pub permissions: Option<Vec<String>>,
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
    fn into_wire(self) -> Result<wire::UpdateKeyRequest, KeyshiftError> {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CreditsOperation {
    Set,
    Increment,
    Decrement,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Permission {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
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

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<Permission>,
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

/// Where `verifyWithFallback` migrates a key its legacy check accepts (hash only).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Backfill {
    pub api_id: String,
    pub migration_id: String,
    /// Permissions the migrated key should carry.
    #[uniffi(default = [])]
    pub permissions: Vec<String>,
    #[uniffi(default = [])]
    pub roles: Vec<String>,
}

/// The caller's own key check for `verifyWithFallback` (Kotlin `suspend fun`, Swift `async`).
/// It is asked only about keys the key service does not know.
#[uniffi::export(foreign)]
#[async_trait::async_trait]
pub trait LegacyCheck: Send + Sync {
    async fn check(&self, key: String) -> Result<bool, KeyshiftError>;
}

/// Core's `LegacyCheck` over a host implementation; a host error is kept in `raised`.
struct HostLegacy {
    host: Arc<dyn LegacyCheck>,
    raised: Raised,
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

// ----- the client ------------------------------------------------------------------------

/// A key service client (HTTP, or the in-process engine with `Client.local`). Cheap to share
/// across threads and coroutines; one connection pool per client.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct Client {
    inner: keyshift_core::Client,
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Client({})", self.inner.backend().describe())
    }
}

impl Client {
    /// Runs one core call on core's runtime and converts its answer.
    async fn run<T, R, Fut>(
        &self,
        call: impl FnOnce(keyshift_core::Client) -> Fut,
    ) -> Result<R, KeyshiftError>
    where
        Fut: Future<Output = keyshift_core::Result<T>> + Send + 'static,
        T: Send + 'static,
        R: From<T>,
    {
        Ok(on_core(call(self.inner.clone())).await?.into())
    }

    pub(crate) fn core(&self) -> &keyshift_core::Client {
        &self.inner
    }
}

fn user_agent_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[uniffi::export]
impl Client {
    /// A client over HTTP.
    #[uniffi::constructor]
    pub fn new(config: ClientConfig) -> Result<Arc<Self>, KeyshiftError> {
        let _runtime = keyshift_core::runtime::handle().enter();
        let mut builder = keyshift_core::Client::builder()
            .base_url(config.base_url)
            .root_key(config.root_key)
            .user_agent("uniffi", user_agent_version());
        if let Some(ms) = config.timeout_ms {
            builder = builder.timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = config.deadline_ms {
            builder = builder.deadline(Duration::from_millis(ms));
        }
        if let Some(n) = config.max_attempts {
            builder = builder.retry(RetryPolicy::default().with_max_attempts(n));
        }
        Ok(Arc::new(Client {
            inner: builder.build()?,
        }))
    }

    /// The embedded engine on a SQLite file: no HTTP, same methods.
    #[uniffi::constructor]
    pub fn local(path: String) -> Result<Arc<Self>, KeyshiftError> {
        let _runtime = keyshift_core::runtime::handle().enter();
        Ok(Arc::new(Client {
            inner: keyshift_engine::local_client(&path)?,
        }))
    }

    /// `KEYSHIFT_BASE_URL` and `KEYSHIFT_ROOT_KEY` (or `UNKEY_ROOT_KEY`).
    #[uniffi::constructor]
    pub fn from_env() -> Result<Arc<Self>, KeyshiftError> {
        let _runtime = keyshift_core::runtime::handle().enter();
        let builder = keyshift_core::Client::from_env_builder()?;
        Ok(Arc::new(Client {
            inner: builder.user_agent("uniffi", user_agent_version()).build()?,
        }))
    }

    // ----- apis --------------------------------------------------------------------------

    pub async fn create_api(&self, name: String) -> Result<Api, KeyshiftError> {
        let data: wire::CreateApiResponseData = self
            .run(|c| async move { c.create_api(&name).await })
            .await?;
        Ok(Api {
            api_id: data.api_id,
        })
    }

    pub async fn get_api(&self, api_id: String) -> Result<ApiInfo, KeyshiftError> {
        let data: wire::GetApiResponseData = self
            .run(|c| async move { c.get_api(&api_id).await })
            .await?;
        Ok(ApiInfo {
            id: data.id,
            name: data.name,
        })
    }

    pub async fn delete_api(&self, api_id: String) -> Result<(), KeyshiftError> {
        self.run(|c| async move { c.delete_api(&api_id).await })
            .await
    }

    /// One page of an api's keys.
    #[uniffi::method(default(limit = None, cursor = None, external_id = None))]
    pub async fn list_keys(
        &self,
        api_id: String,
        limit: Option<u32>,
        cursor: Option<String>,
        external_id: Option<String>,
    ) -> Result<KeyPage, KeyshiftError> {
        let request = wire::ListKeysRequest {
            api_id,
            limit,
            cursor,
            external_id,
            ..Default::default()
        };
        let page: core::Page<wire::KeyResponseData> = self
            .run(|c| async move { c.list_keys(&request).await })
            .await?;
        Ok(KeyPage {
            keys: map(page.items),
            cursor: page.cursor,
            has_more: page.has_more,
        })
    }

    // ----- keys --------------------------------------------------------------------------

    pub async fn create_api_key(&self, options: CreateKey) -> Result<CreatedKey, KeyshiftError> {
        let options = options.into_core()?;
        self.run(|c| async move { c.create_api_key(&options).await })
            .await
    }

    /// Verifies a key. An invalid key is an outcome (`valid == false`), never an exception.
    #[uniffi::method(default(options = None))]
    pub async fn verify(
        &self,
        key: String,
        options: Option<VerifyOptions>,
    ) -> Result<Verification, KeyshiftError> {
        let options: core::VerifyOptions = options.unwrap_or_default().into();
        self.run(|c| async move { c.verify(&key, &options).await })
            .await
    }

    /// Verifies against the key service first; on NOT_FOUND asks `legacy`. An error the
    /// legacy check throws comes back out of this call.
    #[uniffi::method(default(options = None, backfill = None))]
    pub async fn verify_with_fallback(
        &self,
        key: String,
        legacy: Arc<dyn LegacyCheck>,
        options: Option<VerifyOptions>,
        backfill: Option<Backfill>,
    ) -> Result<Verification, KeyshiftError> {
        let raised = Raised::default();
        let host = HostLegacy {
            host: legacy,
            raised: raised.clone(),
        };
        let options = core::FallbackOptions {
            verify: options.unwrap_or_default().into(),
            backfill: backfill.map(|b| core::Backfill {
                api_id: b.api_id,
                migration_id: b.migration_id,
                template: wire::MigrateKeyData {
                    permissions: (!b.permissions.is_empty()).then_some(b.permissions),
                    roles: (!b.roles.is_empty()).then_some(b.roles),
                    ..Default::default()
                },
            }),
        };
        let client = self.inner.clone();
        let result =
            on_core(async move { client.verify_with_fallback(&key, &host, &options).await }).await;
        raised.settle(result).map(Into::into)
    }

    pub async fn get_key(&self, key_id: String) -> Result<KeyInfo, KeyshiftError> {
        self.run(|c| async move { c.get_key(&key_id).await }).await
    }

    /// The key a plaintext belongs to.
    pub async fn whoami(&self, key: String) -> Result<KeyInfo, KeyshiftError> {
        self.run(|c| async move { c.whoami(&key).await }).await
    }

    pub async fn update_key(&self, patch: UpdateKey) -> Result<(), KeyshiftError> {
        let request = patch.into_wire()?;
        self.run(|c| async move { c.update_key(&request).await })
            .await
    }

    #[uniffi::method(default(permanent = false))]
    pub async fn delete_key(&self, key_id: String, permanent: bool) -> Result<(), KeyshiftError> {
        self.run(|c| async move { c.delete_key(&key_id, permanent).await })
            .await
    }

    /// A new key with the old one's settings; the old key stays valid `expirationMs` more.
    #[uniffi::method(default(expiration_ms = 0))]
    pub async fn reroll_key(
        &self,
        key_id: String,
        expiration_ms: i64,
    ) -> Result<CreatedKey, KeyshiftError> {
        self.run(|c| async move { c.reroll_key(&key_id, expiration_ms).await })
            .await
    }

    #[uniffi::method(default(value = None))]
    pub async fn update_credits(
        &self,
        key_id: String,
        operation: CreditsOperation,
        value: Option<i64>,
    ) -> Result<KeyCredits, KeyshiftError> {
        let operation = match operation {
            CreditsOperation::Set => wire::CreditsOperation::Set,
            CreditsOperation::Increment => wire::CreditsOperation::Increment,
            CreditsOperation::Decrement => wire::CreditsOperation::Decrement,
        };
        self.run(|c| async move { c.update_credits(&key_id, operation, value).await })
            .await
    }

    pub async fn add_permissions(
        &self,
        key_id: String,
        permissions: Vec<String>,
    ) -> Result<Vec<Permission>, KeyshiftError> {
        let l: Vec<wire::Permission> = self
            .run(|c| async move { c.add_permissions(&key_id, &permissions).await })
            .await?;
        Ok(map(l))
    }

    pub async fn remove_permissions(
        &self,
        key_id: String,
        permissions: Vec<String>,
    ) -> Result<Vec<Permission>, KeyshiftError> {
        let l: Vec<wire::Permission> = self
            .run(|c| async move { c.remove_permissions(&key_id, &permissions).await })
            .await?;
        Ok(map(l))
    }

    pub async fn set_permissions(
        &self,
        key_id: String,
        permissions: Vec<String>,
    ) -> Result<Vec<Permission>, KeyshiftError> {
        let l: Vec<wire::Permission> = self
            .run(|c| async move { c.set_permissions(&key_id, &permissions).await })
            .await?;
        Ok(map(l))
    }

    pub async fn add_roles(
        &self,
        key_id: String,
        roles: Vec<String>,
    ) -> Result<Vec<Role>, KeyshiftError> {
        let l: Vec<wire::Role> = self
            .run(|c| async move { c.add_roles(&key_id, &roles).await })
            .await?;
        Ok(map(l))
    }

    pub async fn remove_roles(
        &self,
        key_id: String,
        roles: Vec<String>,
    ) -> Result<Vec<Role>, KeyshiftError> {
        let l: Vec<wire::Role> = self
            .run(|c| async move { c.remove_roles(&key_id, &roles).await })
            .await?;
        Ok(map(l))
    }

    pub async fn set_roles(
        &self,
        key_id: String,
        roles: Vec<String>,
    ) -> Result<Vec<Role>, KeyshiftError> {
        let l: Vec<wire::Role> = self
            .run(|c| async move { c.set_roles(&key_id, &roles).await })
            .await?;
        Ok(map(l))
    }

    // ----- permissions and roles -----------------------------------------------------------

    /// Answers the new permission's id.
    #[uniffi::method(default(slug = None, description = None))]
    pub async fn create_permission(
        &self,
        name: String,
        slug: Option<String>,
        description: Option<String>,
    ) -> Result<String, KeyshiftError> {
        let data: wire::CreatePermissionResponseData = self
            .run(|c| async move {
                c.create_permission(&name, slug.as_deref(), description.as_deref())
                    .await
            })
            .await?;
        Ok(data.permission_id)
    }

    /// By id or slug.
    pub async fn get_permission(&self, permission: String) -> Result<Permission, KeyshiftError> {
        self.run(|c| async move { c.get_permission(&permission).await })
            .await
    }

    pub async fn delete_permission(&self, permission: String) -> Result<(), KeyshiftError> {
        self.run(|c| async move { c.delete_permission(&permission).await })
            .await
    }

    pub async fn list_permissions(&self) -> Result<Vec<Permission>, KeyshiftError> {
        let l: Vec<wire::Permission> = self
            .run(|c| async move { c.list_permissions().await })
            .await?;
        Ok(map(l))
    }

    /// Answers the new role's id.
    #[uniffi::method(default(permissions = [], description = None))]
    pub async fn create_role(
        &self,
        name: String,
        permissions: Vec<String>,
        description: Option<String>,
    ) -> Result<String, KeyshiftError> {
        let data: wire::CreateRoleResponseData = self
            .run(|c| async move {
                c.create_role(&name, &permissions, description.as_deref())
                    .await
            })
            .await?;
        Ok(data.role_id)
    }

    /// By id or name.
    pub async fn get_role(&self, role: String) -> Result<Role, KeyshiftError> {
        self.run(|c| async move { c.get_role(&role).await }).await
    }

    pub async fn delete_role(&self, role: String) -> Result<(), KeyshiftError> {
        self.run(|c| async move { c.delete_role(&role).await })
            .await
    }

    pub async fn list_roles(&self) -> Result<Vec<Role>, KeyshiftError> {
        let l: Vec<wire::Role> = self.run(|c| async move { c.list_roles().await }).await?;
        Ok(map(l))
    }

    /// The role (an id) gets exactly these permission slugs; answers them.
    pub async fn set_role_permissions(
        &self,
        role_id: String,
        permissions: Vec<String>,
    ) -> Result<Vec<Permission>, KeyshiftError> {
        let l: Vec<wire::Permission> = self
            .run(|c| async move { c.set_role_permissions(&role_id, &permissions).await })
            .await?;
        Ok(map(l))
    }

    // ----- identities ----------------------------------------------------------------------

    /// Answers the new identity's id.
    #[uniffi::method(default(meta_json = None, ratelimits = []))]
    pub async fn create_identity(
        &self,
        external_id: String,
        meta_json: Option<String>,
        ratelimits: Vec<Ratelimit>,
    ) -> Result<String, KeyshiftError> {
        let request = wire::CreateIdentityRequest {
            external_id,
            meta: meta_from_json("meta", meta_json)?,
            ratelimits: (!ratelimits.is_empty()).then(|| map(ratelimits)),
        };
        let data: wire::CreateIdentityResponseData = self
            .run(|c| async move { c.create_identity(&request).await })
            .await?;
        Ok(data.identity_id)
    }

    /// By id or external id.
    pub async fn get_identity(&self, identity: String) -> Result<Identity, KeyshiftError> {
        self.run(|c| async move { c.get_identity(&identity).await })
            .await
    }

    /// `metaJson` / `ratelimits`, when given, replace the identity's.
    #[uniffi::method(default(meta_json = None, ratelimits = None))]
    pub async fn update_identity(
        &self,
        identity: String,
        meta_json: Option<String>,
        ratelimits: Option<Vec<Ratelimit>>,
    ) -> Result<Identity, KeyshiftError> {
        let request = wire::UpdateIdentityRequest {
            identity,
            meta: meta_from_json("meta", meta_json)?,
            ratelimits: ratelimits.map(map),
        };
        self.run(|c| async move { c.update_identity(&request).await })
            .await
    }

    pub async fn delete_identity(&self, identity: String) -> Result<(), KeyshiftError> {
        self.run(|c| async move { c.delete_identity(&identity).await })
            .await
    }

    pub async fn list_identities(&self) -> Result<Vec<Identity>, KeyshiftError> {
        let l: Vec<wire::Identity> = self
            .run(|c| async move { c.list_identities().await })
            .await?;
        Ok(map(l))
    }

    // ----- self-service portal ----------------------------------------------------------------

    /// `portal.createSession`: a session for the end user `externalId` on `portal` (a portal id
    /// or an api id) with `scopes` (`keys:read`, `keys:create`, `keys:update`, `keys:reroll`,
    /// `keys:delete`, `analytics:read`); send the user to the answer's `url`.
    #[uniffi::method(default(return_url = None))]
    pub async fn create_portal_session(
        &self,
        portal: String,
        external_id: String,
        scopes: Vec<String>,
        return_url: Option<String>,
    ) -> Result<PortalSession, KeyshiftError> {
        let request = wire::CreatePortalSessionRequest {
            portal,
            external_id,
            scopes,
            return_url,
            ..Default::default()
        };
        self.run(|c| async move { c.create_portal_session(&request).await })
            .await
    }

    // ----- migration ------------------------------------------------------------------------

    /// Migrates every record of a JSONL or CSV file (plaintext is hashed here and dropped).
    #[uniffi::method(default(progress = None, cancel = None))]
    pub async fn migrate_keys_file(
        &self,
        path: String,
        options: MigrateOptions,
        progress: Option<Arc<dyn ProgressListener>>,
        cancel: Option<Arc<CancelToken>>,
    ) -> Result<MigrationReport, KeyshiftError> {
        run_migration(
            self,
            crate::migrate::Input::File(path),
            options,
            progress,
            cancel,
        )
        .await
    }

    /// Migrates the records a host source hands over (JSON objects, one batch at a time).
    /// An error the source or the progress listener throws stops the run and comes back out.
    #[uniffi::method(default(progress = None, cancel = None))]
    pub async fn migrate_keys(
        &self,
        source: Arc<dyn RecordSource>,
        options: MigrateOptions,
        progress: Option<Arc<dyn ProgressListener>>,
        cancel: Option<Arc<CancelToken>>,
    ) -> Result<MigrationReport, KeyshiftError> {
        run_migration(
            self,
            crate::migrate::Input::Host(source),
            options,
            progress,
            cancel,
        )
        .await
    }
}
