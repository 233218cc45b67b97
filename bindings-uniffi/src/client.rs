//! The exported `Client` (core's `client` module): a sync constructor, `suspend`/`async`
//! methods that hop onto core's shared runtime, and the records of every request and answer.

use std::future::Future;
use std::sync::Arc;

use keyshift_core::client as core;
use keyshift_core::wire;

use crate::convert::{map, meta_from_json, HostLegacy};
use crate::error::{on_core, KeyshiftError, Raised};
use crate::migrate::{
    run_migration, CancelToken, MigrateOptions, MigrationReport, ProgressListener, RecordSource,
};
use crate::scope::Scope;

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

/// A ratelimit to configure on a key or identity (`duration` in ms, ≥ 1000).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Ratelimit {
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    #[uniffi(default = false)]
    pub auto_apply: bool,
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

/// A new key: `key` is the plaintext, here once. `toString()` shows only `masked`.
#[derive(Clone, uniffi::Record)]
#[uniffi::export(Display)]
pub struct CreatedKey {
    pub key_id: String,
    pub key: String,
    pub masked: String,
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

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct KeyCredits {
    /// None = unlimited.
    pub remaining: Option<i64>,
    pub refill: Option<CreditsRefill>,
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

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<Permission>,
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
        let builder = keyshift_core::Client::builder()
            .base_url(config.base_url)
            .root_key(config.root_key)
            .user_agent("uniffi", user_agent_version())
            .limits_ms(config.timeout_ms, config.deadline_ms, config.max_attempts);
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

    /// Migrates every record of a JSONL or CSV file (plaintext is hashed here and dropped).
    #[uniffi::method(default(progress = None, cancel = None))]
    pub async fn migrate_keys_file(
        &self,
        path: String,
        options: MigrateOptions,
        progress: Option<Arc<dyn ProgressListener>>,
        cancel: Option<Arc<CancelToken>>,
    ) -> Result<MigrationReport, KeyshiftError> {
        let input = crate::migrate::Input::File(path);
        run_migration(self, input, options, progress, cancel).await
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
        let input = crate::migrate::Input::Host(source);
        run_migration(self, input, options, progress, cancel).await
    }
}

/// `fn name(args) -> Out { prep } => |c| call;`: an exported `suspend`/`async` method that
/// runs `call` (a core call on the client `c`) on core's runtime and converts its answer into
/// `Out`. The `#[uniffi::export]` impl block is written here so that uniffi sees the methods
/// (`prep` is taken as raw tokens: uniffi's parser misreads a `let` passed as a `stmt`).
macro_rules! calls {
    ($(
        $(#[$m:meta])*
        fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $out:ty $({ $($prep:tt)* })?
            => |$c:ident| $call:expr;
    )*) => {
        #[uniffi::export]
        impl Client {
            $(
                $(#[$m])*
                pub async fn $name(&self, $($arg: $ty),*) -> Result<$out, KeyshiftError> {
                    $($($prep)*)?
                    self.run(|$c| async move { $call }).await
                }
            )*
        }
    };
}

calls! {
    // ----- apis --------------------------------------------------------------------------
    fn create_api(name: String) -> Api => |c| c.create_api(&name).await;
    fn get_api(api_id: String) -> ApiInfo =>
        |c| c.get_api(&api_id).await.map(|d| ApiInfo { id: d.id, name: d.name });
    fn delete_api(api_id: String) -> () => |c| c.delete_api(&api_id).await;
    /// One page of an api's keys.
    #[uniffi::method(default(limit = None, cursor = None, external_id = None))]
    fn list_keys(
        api_id: String,
        limit: Option<u32>,
        cursor: Option<String>,
        external_id: Option<String>,
    ) -> KeyPage {
        let request =
            wire::ListKeysRequest { api_id, limit, cursor, external_id, ..Default::default() };
    } => |c| c.list_keys(&request).await;

    // ----- keys --------------------------------------------------------------------------
    fn create_api_key(options: CreateKey) -> CreatedKey {
        let options = options.into_core()?;
    } => |c| c.create_api_key(&options).await;
    /// Verifies a key. An invalid key is an outcome (`valid == false`), never an exception.
    #[uniffi::method(default(options = None))]
    fn verify(key: String, options: Option<VerifyOptions>) -> Verification {
        let options: core::VerifyOptions = options.unwrap_or_default().into();
    } => |c| c.verify(&key, &options).await;
    fn get_key(key_id: String) -> KeyInfo => |c| c.get_key(&key_id).await;
    /// The key a plaintext belongs to.
    fn whoami(key: String) -> KeyInfo => |c| c.whoami(&key).await;
    fn update_key(patch: UpdateKey) -> () {
        let request = patch.into_wire()?;
    } => |c| c.update_key(&request).await;
    #[uniffi::method(default(permanent = false))]
    fn delete_key(key_id: String, permanent: bool) -> () =>
        |c| c.delete_key(&key_id, permanent).await;
    /// A new key with the old one's settings; the old key stays valid `expirationMs` more.
    #[uniffi::method(default(expiration_ms = 0))]
    fn reroll_key(key_id: String, expiration_ms: i64) -> CreatedKey =>
        |c| c.reroll_key(&key_id, expiration_ms).await;
    #[uniffi::method(default(value = None))]
    fn update_credits(
        key_id: String,
        operation: CreditsOperation,
        value: Option<i64>,
    ) -> KeyCredits {
        let operation = wire::CreditsOperation::from(operation);
    } => |c| c.update_credits(&key_id, operation, value).await;
    fn add_permissions(key_id: String, permissions: Vec<String>) -> Vec<Permission> =>
        |c| c.add_permissions(&key_id, &permissions).await.map(map);
    fn remove_permissions(key_id: String, permissions: Vec<String>) -> Vec<Permission> =>
        |c| c.remove_permissions(&key_id, &permissions).await.map(map);
    fn set_permissions(key_id: String, permissions: Vec<String>) -> Vec<Permission> =>
        |c| c.set_permissions(&key_id, &permissions).await.map(map);
    fn add_roles(key_id: String, roles: Vec<String>) -> Vec<Role> =>
        |c| c.add_roles(&key_id, &roles).await.map(map);
    fn remove_roles(key_id: String, roles: Vec<String>) -> Vec<Role> =>
        |c| c.remove_roles(&key_id, &roles).await.map(map);
    fn set_roles(key_id: String, roles: Vec<String>) -> Vec<Role> =>
        |c| c.set_roles(&key_id, &roles).await.map(map);

    // ----- permissions and roles -----------------------------------------------------------
    /// Answers the new permission's id.
    #[uniffi::method(default(slug = None, description = None))]
    fn create_permission(name: String, slug: Option<String>, description: Option<String>)
        -> String => |c| {
            let data = c.create_permission(&name, slug.as_deref(), description.as_deref()).await?;
            Ok(data.permission_id)
        };
    /// By id or slug.
    fn get_permission(permission: String) -> Permission =>
        |c| c.get_permission(&permission).await;
    fn delete_permission(permission: String) -> () => |c| c.delete_permission(&permission).await;
    fn list_permissions() -> Vec<Permission> => |c| c.list_permissions().await.map(map);
    /// Answers the new role's id.
    #[uniffi::method(default(permissions = [], description = None))]
    fn create_role(name: String, permissions: Vec<String>, description: Option<String>)
        -> String => |c| {
            let data = c.create_role(&name, &permissions, description.as_deref()).await?;
            Ok(data.role_id)
        };
    /// By id or name.
    fn get_role(role: String) -> Role => |c| c.get_role(&role).await;
    fn delete_role(role: String) -> () => |c| c.delete_role(&role).await;
    fn list_roles() -> Vec<Role> => |c| c.list_roles().await.map(map);
    /// The role (an id) gets exactly these permission slugs; answers them.
    fn set_role_permissions(role_id: String, permissions: Vec<String>) -> Vec<Permission> =>
        |c| c.set_role_permissions(&role_id, &permissions).await.map(map);

    // ----- identities ----------------------------------------------------------------------
    /// Answers the new identity's id.
    #[uniffi::method(default(meta_json = None, ratelimits = []))]
    fn create_identity(
        external_id: String,
        meta_json: Option<String>,
        ratelimits: Vec<Ratelimit>,
    ) -> String {
        let request = wire::CreateIdentityRequest {
            external_id,
            meta: meta_from_json("meta", meta_json)?,
            ratelimits: (!ratelimits.is_empty()).then(|| map(ratelimits)),
        };
    } => |c| c.create_identity(&request).await.map(|d| d.identity_id);
    /// By id or external id.
    fn get_identity(identity: String) -> Identity => |c| c.get_identity(&identity).await;
    /// `metaJson` / `ratelimits`, when given, replace the identity's.
    #[uniffi::method(default(meta_json = None, ratelimits = None))]
    fn update_identity(
        identity: String,
        meta_json: Option<String>,
        ratelimits: Option<Vec<Ratelimit>>,
    ) -> Identity {
        let request = wire::UpdateIdentityRequest {
            identity,
            meta: meta_from_json("meta", meta_json)?,
            ratelimits: ratelimits.map(map),
        };
    } => |c| c.update_identity(&request).await;
    fn delete_identity(identity: String) -> () => |c| c.delete_identity(&identity).await;
    fn list_identities() -> Vec<Identity> => |c| c.list_identities().await.map(map);

    // ----- self-service portal ----------------------------------------------------------------
    /// `portal.createSession`: a session for the end user `externalId` on `portal` (a portal id
    /// or an api id) with `scopes` (`keys:read`, `keys:create`, `keys:update`, `keys:reroll`,
    /// `keys:delete`, `analytics:read`); send the user to the answer's `url`.
    #[uniffi::method(default(return_url = None))]
    fn create_portal_session(
        portal: String,
        external_id: String,
        scopes: Vec<String>,
        return_url: Option<String>,
    ) -> PortalSession {
        let request = wire::CreatePortalSessionRequest::new(portal, external_id, scopes, return_url);
    } => |c| c.create_portal_session(&request).await;
}
