//! The keyshift client (DESIGN.md §3): every operation of the wire API with typed requests and
//! answers, over HTTP ([`crate::http::HttpBackend`]) or any other [`Backend`] such as the
//! engine's in-process `LocalBackend`. Bindings wrap this type and add nothing.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::backend::{Backend, CallOptions, Reply};
use crate::error::Error;
use crate::http::{HttpBackend, HttpConfig, DEFAULT_DEADLINE, DEFAULT_TIMEOUT};
use crate::retry::RetryPolicy;
use crate::scope::{permissions_to_scopes, scopes_to_permissions, Scope};
use crate::wire::{self, Metadata, Op, Validate, VerifyCode};
use crate::{Result, SecretKey};

/// Hosted Unkey, the default when only a root key is given.
pub const DEFAULT_BASE_URL: &str = "https://api.unkey.com";

/// Builds a [`Client`] that talks HTTP to a key service. Its `Debug` masks the root key and
/// the values of extra headers.
#[derive(Clone)]
pub struct ClientBuilder {
    base_url: String,
    root_key: Option<SecretKey>,
    timeout: Duration,
    deadline: Duration,
    retry: RetryPolicy,
    user_agent: String,
    headers: Vec<(String, String)>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("root_key", &self.root_key)
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field("retry", &self.retry)
            .field("user_agent", &self.user_agent)
            .field("headers", &crate::http::MaskedHeaders(&self.headers))
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: DEFAULT_BASE_URL.to_string(),
            root_key: None,
            timeout: DEFAULT_TIMEOUT,
            deadline: DEFAULT_DEADLINE,
            retry: RetryPolicy::default(),
            user_agent: format!("keyshift-rust/{}", env!("CARGO_PKG_VERSION")),
            headers: Vec::new(),
        }
    }
}

impl ClientBuilder {
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    pub fn root_key(mut self, key: impl Into<SecretKey>) -> Self {
        self.root_key = Some(key.into());
        self
    }

    /// Per-attempt timeout (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Total time for a call's attempts and waits (default 15 s).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// `User-Agent: keyshift-<language>/<version>`; bindings name their language here.
    pub fn user_agent(mut self, language: &str, version: &str) -> Self {
        self.user_agent = format!("keyshift-{language}/{version}");
        self
    }

    /// An extra header on every request (e.g. a proxy's auth or a tracing id).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn build(self) -> Result<Client> {
        let root_key = self
            .root_key
            .ok_or_else(|| Error::invalid_input("root_key", "a root key is required"))?;
        let backend = HttpBackend::new(HttpConfig {
            base_url: self.base_url,
            root_key,
            timeout: self.timeout,
            deadline: self.deadline,
            retry: self.retry,
            user_agent: self.user_agent,
            headers: self.headers,
        })?;
        Ok(Client::with_backend(Arc::new(backend)))
    }
}

/// A key service client. Cheap to clone; clones share one connection pool.
#[derive(Clone)]
pub struct Client {
    backend: Arc<dyn Backend>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("backend", &self.backend.describe())
            .finish()
    }
}

/// Options of [`Client::create_api_key`]. `scopes` and `permissions` are merged.
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
    fn new(key_id: String, key: SecretKey) -> Self {
        let masked = key.masked();
        CreatedKey {
            key_id,
            key,
            masked,
        }
    }
}

/// Options of [`Client::verify`]. `permissions` is a query (`a AND (b OR c)`); `scopes` are
/// required in full and are ANDed with it.
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

    fn to_request(&self, key: &str) -> Result<wire::VerifyKeyRequest> {
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
    /// [`Client::verify_with_fallback`]'s legacy check accepted the key.
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
    fn from_wire(data: wire::VerifyKeyResponseData, request_id: Option<String>) -> Self {
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

/// One page of a list operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// Walks every page of a list operation: `while let Some(page) = pager.next_page().await? {}`.
pub struct Pager<T> {
    client: Client,
    op: Op,
    body: serde_json::Value,
    cursor: Option<String>,
    done: bool,
    _items: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Pager<T> {
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>> {
        if self.done {
            return Ok(None);
        }
        let mut body = self.body.clone();
        if let (Some(cursor), Some(obj)) = (&self.cursor, body.as_object_mut()) {
            obj.insert("cursor".into(), serde_json::Value::String(cursor.clone()));
        }
        let page: Page<T> = self.client.page(self.op, body).await?;
        self.cursor = page.cursor.filter(|c| !c.is_empty());
        self.done = !page.has_more || self.cursor.is_none();
        Ok(Some(page.items))
    }

    /// Every remaining item of every page.
    pub async fn collect_all(mut self) -> Result<Vec<T>> {
        let mut all = Vec::new();
        while let Some(items) = self.next_page().await? {
            all.extend(items);
        }
        Ok(all)
    }
}

/// A user's own key check for [`Client::verify_with_fallback`] (bindings pass their language's
/// callable through this trait).
#[async_trait::async_trait]
pub trait LegacyCheck: Send + Sync {
    async fn check(&self, key: &SecretKey) -> Result<bool>;
}

#[async_trait::async_trait]
impl<F> LegacyCheck for F
where
    F: Fn(&str) -> bool + Send + Sync,
{
    async fn check(&self, key: &SecretKey) -> Result<bool> {
        Ok(self(key.expose()))
    }
}

/// Options of [`Client::verify_with_fallback`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FallbackOptions {
    pub verify: VerifyOptions,
    /// When set, a key the legacy check accepts is migrated on the spot (hash only).
    pub backfill: Option<Backfill>,
}

/// Where a backfilled key goes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Backfill {
    pub api_id: String,
    pub migration_id: String,
    /// Permissions and other fields the migrated key should carry.
    pub template: wire::MigrateKeyData,
}

impl Client {
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// `KEYSHIFT_BASE_URL` (default hosted Unkey) and `KEYSHIFT_ROOT_KEY` (or `UNKEY_ROOT_KEY`).
    pub fn from_env() -> Result<Client> {
        Client::from_env_builder()?.build()
    }

    /// The builder [`Client::from_env`] uses, for adding settings before `build()`.
    pub fn from_env_builder() -> Result<ClientBuilder> {
        let mut builder = Client::builder();
        if let Some(url) = env_var("KEYSHIFT_BASE_URL") {
            builder = builder.base_url(url);
        }
        let root_key = env_var("KEYSHIFT_ROOT_KEY")
            .or_else(|| env_var("UNKEY_ROOT_KEY"))
            .ok_or_else(|| {
                Error::invalid_input(
                    "root_key",
                    "set KEYSHIFT_ROOT_KEY (or UNKEY_ROOT_KEY) to a root key",
                )
            })?;
        Ok(builder.root_key(root_key))
    }

    pub fn with_backend(backend: Arc<dyn Backend>) -> Client {
        Client { backend }
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The client's default retry policy (the default policy for a backend without one).
    pub fn retry_policy(&self) -> RetryPolicy {
        self.backend.retry_policy().unwrap_or_default()
    }

    /// Any wire operation with a typed body and answer; every method below goes through here.
    pub async fn call<Req, Resp>(
        &self,
        op: Op,
        request: &Req,
        options: &CallOptions,
    ) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let reply = self.call_raw(op, request, options).await?;
        decode(op, reply)
    }

    async fn call_raw<Req: Serialize + ?Sized>(
        &self,
        op: Op,
        request: &Req,
        options: &CallOptions,
    ) -> Result<Reply> {
        let body =
            serde_json::to_vec(request).map_err(|e| Error::invalid_input("body", e.to_string()))?;
        if options.idempotency_key.is_none() && op.sends_idempotency_key() {
            // One key per logical call, reused by every retry of it.
            let options = options.clone().with_idempotency_key(new_idempotency_key());
            return self.backend.call(op, body, &options).await;
        }
        self.backend.call(op, body, options).await
    }

    async fn page<T: DeserializeOwned>(&self, op: Op, body: serde_json::Value) -> Result<Page<T>> {
        let reply = self.call_raw(op, &body, &CallOptions::default()).await?;
        let pagination = reply.pagination.clone().unwrap_or_default();
        let items: Vec<T> = decode(op, reply)?;
        Ok(Page {
            items,
            cursor: pagination.cursor,
            has_more: pagination.has_more,
        })
    }

    fn pager<T>(&self, op: Op, body: serde_json::Value) -> Pager<T> {
        Pager {
            client: self.clone(),
            op,
            body,
            cursor: None,
            done: false,
            _items: std::marker::PhantomData,
        }
    }

    // ----- apis ---------------------------------------------------------------------------

    pub async fn create_api(&self, name: &str) -> Result<wire::CreateApiResponseData> {
        let request = wire::CreateApiRequest {
            name: name.to_string(),
        };
        check(&request)?;
        self.call(Op::CreateApi, &request, &CallOptions::default())
            .await
    }

    pub async fn get_api(&self, api_id: &str) -> Result<wire::GetApiResponseData> {
        let request = wire::GetApiRequest {
            api_id: api_id.to_string(),
        };
        self.call(Op::GetApi, &request, &CallOptions::default())
            .await
    }

    pub async fn delete_api(&self, api_id: &str) -> Result<()> {
        let request = wire::DeleteApiRequest {
            api_id: api_id.to_string(),
        };
        self.call::<_, serde_json::Value>(Op::DeleteApi, &request, &CallOptions::default())
            .await
            .map(drop)
    }

    /// One page of an api's keys.
    pub async fn list_keys(
        &self,
        request: &wire::ListKeysRequest,
    ) -> Result<Page<wire::KeyResponseData>> {
        check(request)?;
        let body = serde_json::to_value(request)
            .map_err(|e| Error::invalid_input("body", e.to_string()))?;
        self.page(Op::ListKeys, body).await
    }

    /// Every key of an api, page by page.
    pub fn keys_pager(&self, api_id: &str) -> Pager<wire::KeyResponseData> {
        self.pager(Op::ListKeys, serde_json::json!({ "apiId": api_id }))
    }

    // ----- keys ---------------------------------------------------------------------------

    pub async fn create_api_key(&self, options: &CreateKey) -> Result<CreatedKey> {
        self.create_api_key_with(options, &CallOptions::default())
            .await
    }

    pub async fn create_api_key_with(
        &self,
        options: &CreateKey,
        call: &CallOptions,
    ) -> Result<CreatedKey> {
        let request = options.to_request()?;
        let data: wire::CreateKeyResponseData = self.call(Op::CreateKey, &request, call).await?;
        Ok(CreatedKey::new(data.key_id, data.key))
    }

    pub async fn verify(&self, key: &str, options: &VerifyOptions) -> Result<Verification> {
        self.verify_with(key, options, &CallOptions::default())
            .await
    }

    pub async fn verify_with(
        &self,
        key: &str,
        options: &VerifyOptions,
        call: &CallOptions,
    ) -> Result<Verification> {
        let request = options.to_request(key)?;
        let reply = self.call_raw(Op::VerifyKey, &request, call).await?;
        let request_id = reply.request_id.clone();
        let data: wire::VerifyKeyResponseData = decode(Op::VerifyKey, reply)?;
        Ok(Verification::from_wire(data, request_id))
    }

    pub async fn get_key(&self, key_id: &str) -> Result<wire::KeyResponseData> {
        let request = wire::GetKeyRequest {
            key_id: key_id.to_string(),
            decrypt: None,
        };
        self.call(Op::GetKey, &request, &CallOptions::default())
            .await
    }

    /// The key a plaintext belongs to (`keys.whoami`).
    pub async fn whoami(&self, key: &str) -> Result<wire::KeyResponseData> {
        let request = wire::WhoamiRequest {
            key: SecretKey::new(key),
        };
        self.call(Op::Whoami, &request, &CallOptions::default())
            .await
    }

    /// Applies a patch; fields left `None` are unchanged (`Some(None)` clears).
    pub async fn update_key(&self, patch: &wire::UpdateKeyRequest) -> Result<()> {
        check(patch)?;
        self.call::<_, serde_json::Value>(Op::UpdateKey, patch, &CallOptions::default())
            .await
            .map(drop)
    }

    pub async fn delete_key(&self, key_id: &str, permanent: bool) -> Result<()> {
        let request = wire::DeleteKeyRequest {
            key_id: key_id.to_string(),
            permanent: permanent.then_some(true),
        };
        self.call::<_, serde_json::Value>(Op::DeleteKey, &request, &CallOptions::default())
            .await
            .map(drop)
    }

    /// A new key with the old one's settings; the old key stays valid `expiration_ms` more.
    pub async fn reroll_key(&self, key_id: &str, expiration_ms: i64) -> Result<CreatedKey> {
        let request = wire::RerollKeyRequest {
            key_id: key_id.to_string(),
            expiration: expiration_ms,
        };
        check(&request)?;
        let data: wire::RerollKeyResponseData = self
            .call(Op::RerollKey, &request, &CallOptions::default())
            .await?;
        Ok(CreatedKey::new(data.key_id, data.key))
    }

    pub async fn update_credits(
        &self,
        key_id: &str,
        operation: wire::CreditsOperation,
        value: Option<i64>,
    ) -> Result<wire::KeyCreditsData> {
        let request = wire::UpdateCreditsRequest {
            key_id: key_id.to_string(),
            value,
            operation,
        };
        check(&request)?;
        self.call(Op::UpdateCredits, &request, &CallOptions::default())
            .await
    }

    pub async fn add_permissions(
        &self,
        key_id: &str,
        permissions: &[String],
    ) -> Result<Vec<wire::Permission>> {
        self.key_list(Op::AddPermissions, "permissions", key_id, permissions)
            .await
    }

    pub async fn remove_permissions(
        &self,
        key_id: &str,
        permissions: &[String],
    ) -> Result<Vec<wire::Permission>> {
        self.key_list(Op::RemovePermissions, "permissions", key_id, permissions)
            .await
    }

    pub async fn set_permissions(
        &self,
        key_id: &str,
        permissions: &[String],
    ) -> Result<Vec<wire::Permission>> {
        self.key_list(Op::SetPermissions, "permissions", key_id, permissions)
            .await
    }

    pub async fn add_roles(&self, key_id: &str, roles: &[String]) -> Result<Vec<wire::Role>> {
        self.key_list(Op::AddRoles, "roles", key_id, roles).await
    }

    pub async fn remove_roles(&self, key_id: &str, roles: &[String]) -> Result<Vec<wire::Role>> {
        self.key_list(Op::RemoveRoles, "roles", key_id, roles).await
    }

    pub async fn set_roles(&self, key_id: &str, roles: &[String]) -> Result<Vec<wire::Role>> {
        self.key_list(Op::SetRoles, "roles", key_id, roles).await
    }

    async fn key_list<T: DeserializeOwned>(
        &self,
        op: Op,
        field: &str,
        key_id: &str,
        values: &[String],
    ) -> Result<T> {
        let body = serde_json::json!({ "keyId": key_id, field: values });
        self.call(op, &body, &CallOptions::default()).await
    }

    /// One `keys.migrateKeys` request, retried under the client policy with one
    /// `Idempotency-Key` for all its attempts (the migration engine sends batches through here).
    pub async fn migrate_keys_batch(
        &self,
        request: &wire::MigrateKeysRequest,
        idempotency_key: &str,
    ) -> Result<wire::MigrateKeysResponseData> {
        let options = CallOptions::default().with_idempotency_key(idempotency_key);
        self.migrate_keys_batch_with(request, &options).await
    }

    /// [`Client::migrate_keys_batch`] with explicit call options (the migration engine sends
    /// one attempt at a time through here).
    pub async fn migrate_keys_batch_with(
        &self,
        request: &wire::MigrateKeysRequest,
        options: &CallOptions,
    ) -> Result<wire::MigrateKeysResponseData> {
        check(request)?;
        self.call(Op::MigrateKeys, request, options).await
    }

    // ----- permissions and roles -----------------------------------------------------------

    pub async fn create_permission(
        &self,
        name: &str,
        slug: Option<&str>,
        description: Option<&str>,
    ) -> Result<wire::CreatePermissionResponseData> {
        let request = wire::CreatePermissionRequest {
            name: name.to_string(),
            slug: slug.unwrap_or(name).to_string(),
            description: description.map(str::to_string),
        };
        check(&request)?;
        self.call(Op::CreatePermission, &request, &CallOptions::default())
            .await
    }

    /// By id or slug.
    pub async fn get_permission(&self, permission: &str) -> Result<wire::Permission> {
        let request = wire::GetPermissionRequest {
            permission: permission.to_string(),
        };
        self.call(Op::GetPermission, &request, &CallOptions::default())
            .await
    }

    pub async fn delete_permission(&self, permission: &str) -> Result<()> {
        let request = wire::DeletePermissionRequest {
            permission: permission.to_string(),
        };
        self.call::<_, serde_json::Value>(Op::DeletePermission, &request, &CallOptions::default())
            .await
            .map(drop)
    }

    /// Every permission of the workspace (all pages).
    pub async fn list_permissions(&self) -> Result<Vec<wire::Permission>> {
        self.pager(Op::ListPermissions, serde_json::json!({}))
            .collect_all()
            .await
    }

    pub async fn create_role(
        &self,
        name: &str,
        permissions: &[String],
        description: Option<&str>,
    ) -> Result<wire::CreateRoleResponseData> {
        let request = wire::CreateRoleRequest {
            name: name.to_string(),
            description: description.map(str::to_string),
            permissions: non_empty(permissions),
        };
        check(&request)?;
        self.call(Op::CreateRole, &request, &CallOptions::default())
            .await
    }

    /// By id or name.
    pub async fn get_role(&self, role: &str) -> Result<wire::Role> {
        let request = wire::GetRoleRequest {
            role: role.to_string(),
        };
        self.call(Op::GetRole, &request, &CallOptions::default())
            .await
    }

    pub async fn delete_role(&self, role: &str) -> Result<()> {
        let request = wire::DeleteRoleRequest {
            role: role.to_string(),
        };
        self.call::<_, serde_json::Value>(Op::DeleteRole, &request, &CallOptions::default())
            .await
            .map(drop)
    }

    /// Every role of the workspace (all pages).
    /// `permissions.setRolePermissions`: the role `role_id` (an id) gets exactly these
    /// permission slugs (missing ones are created, `[]` clears); answers them.
    pub async fn set_role_permissions(
        &self,
        role_id: &str,
        permissions: &[String],
    ) -> Result<Vec<wire::Permission>> {
        let request = wire::SetRolePermissionsRequest {
            role_id: role_id.to_string(),
            permissions: permissions.to_vec(),
        };
        check(&request)?;
        self.call(Op::SetRolePermissions, &request, &CallOptions::default())
            .await
    }

    pub async fn list_roles(&self) -> Result<Vec<wire::Role>> {
        self.pager(Op::ListRoles, serde_json::json!({}))
            .collect_all()
            .await
    }

    // ----- identities --------------------------------------------------------------------

    pub async fn create_identity(
        &self,
        request: &wire::CreateIdentityRequest,
    ) -> Result<wire::CreateIdentityResponseData> {
        check(request)?;
        self.call(Op::CreateIdentity, request, &CallOptions::default())
            .await
    }

    /// By id or external id.
    pub async fn get_identity(&self, identity: &str) -> Result<wire::Identity> {
        let request = wire::GetIdentityRequest {
            identity: identity.to_string(),
        };
        self.call(Op::GetIdentity, &request, &CallOptions::default())
            .await
    }

    pub async fn delete_identity(&self, identity: &str) -> Result<()> {
        let request = wire::DeleteIdentityRequest {
            identity: identity.to_string(),
        };
        self.call::<_, serde_json::Value>(Op::DeleteIdentity, &request, &CallOptions::default())
            .await
            .map(drop)
    }

    pub async fn list_identities(&self) -> Result<Vec<wire::Identity>> {
        self.pager(Op::ListIdentities, serde_json::json!({}))
            .collect_all()
            .await
    }

    /// `identities.updateIdentity`: `meta` / `ratelimits`, when given, replace the identity's
    /// (an empty map or list clears them); answers the identity afterwards.
    pub async fn update_identity(
        &self,
        request: &wire::UpdateIdentityRequest,
    ) -> Result<wire::Identity> {
        check(request)?;
        self.call(Op::UpdateIdentity, request, &CallOptions::default())
            .await
    }

    // ----- rollout --------------------------------------------------------------------------

    /// Verifies against the key service first; on NOT_FOUND asks the caller's legacy check.
    /// A key the legacy check accepts is VALID with `source == Legacy` and, with `backfill`,
    /// is migrated on the spot (its hash only). Keys are logged masked only.
    pub async fn verify_with_fallback(
        &self,
        key: &str,
        legacy: &dyn LegacyCheck,
        options: &FallbackOptions,
    ) -> Result<Verification> {
        let verification = self.verify(key, &options.verify).await?;
        if verification.code != VerifyCode::NotFound {
            return Ok(verification);
        }
        let secret = SecretKey::new(key);
        let masked = secret.masked();
        if !legacy.check(&secret).await? {
            tracing::debug!(key = %masked, "key unknown to the key service and rejected by the legacy check");
            return Ok(verification);
        }
        tracing::info!(key = %masked, "key unknown to the key service; accepted by the legacy check");
        let mut accepted = Verification {
            valid: true,
            code: VerifyCode::Valid,
            source: VerificationSource::Legacy,
            ..verification
        };
        if let Some(backfill) = &options.backfill {
            let hash = crate::hashing::sha256_base64(key);
            let request = wire::MigrateKeysRequest {
                migration_id: backfill.migration_id.clone(),
                api_id: backfill.api_id.clone(),
                keys: vec![wire::MigrateKeyData {
                    hash: hash.clone(),
                    ..backfill.template.clone()
                }],
                hash_variant: None,
            };
            match self
                .migrate_keys_batch(&request, &new_idempotency_key())
                .await
            {
                Ok(result) => {
                    accepted.key_id = result
                        .migrated
                        .into_iter()
                        .find(|m| m.hash == hash)
                        .map(|m| m.key_id);
                    tracing::info!(key = %masked, key_id = ?accepted.key_id, "backfilled legacy key");
                }
                // The caller's request must not fail because the backfill did; the next
                // verification of this key will try again.
                Err(err) => {
                    tracing::warn!(key = %masked, error = %err, "backfill of legacy key failed")
                }
            }
        }
        Ok(accepted)
    }
}

/// Decodes a successful answer. A backend returns a [`Reply`] only for a 2xx answer, so a
/// `data` that does not decode is an error saying the call took effect (status 200, never
/// retried: DESIGN.md §4).
fn decode<T: DeserializeOwned>(op: Op, reply: Reply) -> Result<T> {
    serde_json::from_value(reply.data).map_err(|e| {
        let err = Error::took_effect(
            op.name(),
            200,
            format_args!("its data is not the documented shape: {e}"),
        );
        match reply.request_id {
            Some(id) => err.with_request_id(id),
            None => err,
        }
    })
}

/// Local validation with the server's own rules, so bad input fails before the network.
fn check<R: Validate>(request: &R) -> Result<()> {
    let errors = request.validate();
    match errors.first() {
        None => Ok(()),
        Some(first) => {
            let message = errors
                .iter()
                .map(|e| format!("{}: {}", e.location, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            let field = first.location.trim_start_matches("body.").to_string();
            Err(Error::invalid_input(field, message).with_errors(errors))
        }
    }
}

fn non_empty<T: Clone>(values: &[T]) -> Option<Vec<T>> {
    (!values.is_empty()).then(|| values.to_vec())
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A random `Idempotency-Key` (`idem_` + 24 base58 chars from the OS CSPRNG).
pub fn new_idempotency_key() -> String {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    format!("idem_{}", bs58::encode(bytes).into_string())
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

    /// Issue 9 #9: extra headers (a proxy's auth) and the root key never print in clear.
    #[test]
    fn builder_debug_masks_headers_and_root_key() {
        let builder = Client::builder()
            .root_key("unkey_rootSECRETrootSECRET")
            .header("Proxy-Authorization", "Bearer proxySECRETproxy")
            .header("X-Trace", "trace-visible?");
        let shown = format!("{builder:?} {builder:#?}");
        assert!(!shown.contains("proxySECRETproxy"), "{shown}");
        assert!(!shown.contains("rootSECRETroot"), "{shown}");
        assert!(!shown.contains("trace-visible"), "{shown}");
        assert!(shown.contains("Proxy-Authorization"), "{shown}");
        let client = builder.build().unwrap();
        assert!(!format!("{client:?}").contains("proxySECRET"));
    }

    #[test]
    fn idempotency_keys_are_unique() {
        let a = new_idempotency_key();
        assert!(a.starts_with("idem_"));
        assert_ne!(a, new_idempotency_key());
    }

    #[test]
    fn builder_requires_a_root_key_and_a_url_scheme() {
        let err = Client::builder().build().unwrap_err();
        assert_eq!(err.field.as_deref(), Some("root_key"));
        let err = Client::builder()
            .root_key("unkey_x")
            .base_url("localhost:7070")
            .build()
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("base_url"));
    }
}
