//! `Client` (core `client` module): every DESIGN §3 call as a Promise, run on core's runtime.
//! Options arrive as JSON text from `index.js` and are read into core's types; answers go back
//! as plain objects, except [`CreatedKey`], a class whose plaintext is only behind `key`.

use std::sync::Arc;

use keyshift_core::client::rollout::{Backfill, FallbackOptions, LegacyCheck};
use keyshift_core::client::{root_key_or_env, Verification, VerificationSource};
use keyshift_core::{wire, Client as CoreClient, CreateKey, Error, Scope, SecretKey};
use napi::bindgen_prelude::{Promise, PromiseRaw};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::{Env, Status};
use napi_derive::napi;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{from_json, js_error, on_core, JsonText, Raised};

/// Answers a core future as a Promise of a plain object (serde form of the core type).
fn answer<'e, T, F>(env: &'e Env, fut: F) -> napi::Result<PromiseRaw<'e, JsonText>>
where
    T: Serialize + Send + 'static,
    F: std::future::Future<Output = keyshift_core::Result<T>> + Send + 'static,
{
    let fut = async move { JsonText::of(fut.await?) };
    on_core(env, fut, |env, out| out.map_err(|e| js_error(env, &e)))
}

/// Answers a core future as a Promise of a class built from its answer (`CreatedKey`, …).
fn answer_class<'e, T, C, F>(env: &'e Env, fut: F) -> napi::Result<PromiseRaw<'e, C>>
where
    T: Send + 'static,
    C: From<T> + napi::bindgen_prelude::ToNapiValue + 'static,
    F: std::future::Future<Output = keyshift_core::Result<T>> + Send + 'static,
{
    on_core(env, fut, |env, out| {
        out.map(C::from).map_err(|e| js_error(env, &e))
    })
}

/// Rejects at once with a core error (bad options caught before any I/O).
fn reject<'e, T: 'static + napi::bindgen_prelude::ToNapiValue>(
    env: &'e Env,
    e: Error,
) -> napi::Result<PromiseRaw<'e, T>> {
    on_core(env, async move { e }, |env, e| {
        Err::<T, _>(js_error(env, &e))
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClientOptions {
    base_url: Option<String>,
    root_key: Option<String>,
    timeout_ms: Option<u64>,
    deadline_ms: Option<u64>,
    max_attempts: Option<u32>,
}

/// A key service client: over HTTP (`new Client(...)`) or in-process (`Client.local(path)`).
#[napi(js_name = "NativeClient")]
pub struct Client {
    pub(crate) inner: CoreClient,
}

/// A key as created (or rerolled): `key` is the plaintext, returned once; printing the object
/// shows only `masked`.
#[napi]
pub struct CreatedKey {
    key_id: String,
    key: SecretKey,
    masked: String,
}

impl From<keyshift_core::CreatedKey> for CreatedKey {
    fn from(c: keyshift_core::CreatedKey) -> Self {
        CreatedKey {
            key_id: c.key_id,
            key: c.key,
            masked: c.masked,
        }
    }
}

#[napi]
impl CreatedKey {
    #[napi(getter)]
    pub fn key_id(&self) -> String {
        self.key_id.clone()
    }
    /// The plaintext key: give it to its owner once, store only its hash.
    #[napi(getter)]
    pub fn key(&self) -> String {
        self.key.expose().to_string()
    }
    #[napi(getter)]
    pub fn masked(&self) -> String {
        self.masked.clone()
    }
    #[napi(js_name = "toString")]
    pub fn to_js_string(&self) -> String {
        format!("CreatedKey({}, {})", self.key_id, self.masked)
    }
}

/// A self-service portal session (`createPortalSession`): `url` carries a single-use code valid
/// 15 minutes (a secret until used); printing the object shows the URL with the code hidden.
#[napi]
pub struct PortalSession {
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

#[napi]
impl PortalSession {
    /// The session id (`ps_…`; not a credential: `portal.revokeSession` takes it).
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.id.clone()
    }
    /// Where to send the end user (or the `session-url` of `<keyshift-keys>`).
    #[napi(getter)]
    pub fn url(&self) -> String {
        self.url.expose().to_string()
    }
    /// The URL with its one-time code replaced by `…`.
    #[napi(getter)]
    pub fn masked_url(&self) -> String {
        wire::mask_portal_url(self.url.expose())
    }
    #[napi(js_name = "toString")]
    pub fn to_js_string(&self) -> String {
        format!("PortalSession({}, {})", self.id, self.masked_url())
    }
}

/// DESIGN §3 `VerifyOptions`, in JS form.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VerifyOptionsJs {
    permissions: Option<String>,
    #[serde(default)]
    scopes: Vec<Scope>,
    credits_cost: Option<i64>,
    #[serde(default)]
    ratelimits: Vec<wire::VerifyRatelimit>,
    #[serde(default)]
    tags: Vec<String>,
    /// verifyWithFallback only.
    backfill: Option<BackfillJs>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BackfillJs {
    api_id: String,
    migration_id: String,
    /// Settings of the migrated key (name, meta, roles, permissions, …), without `hash`.
    template: Option<serde_json::Map<String, Value>>,
}

impl VerifyOptionsJs {
    fn into_core(self) -> keyshift_core::Result<FallbackOptions> {
        let verify = keyshift_core::VerifyOptions {
            permissions: self.permissions,
            scopes: self.scopes,
            credits_cost: self.credits_cost,
            ratelimits: self.ratelimits,
            tags: self.tags,
        };
        let backfill = match self.backfill {
            None => None,
            Some(b) => {
                let mut template = b.template.unwrap_or_default();
                template.insert("hash".into(), Value::String(String::new()));
                let template = serde_json::from_value(Value::Object(template)).map_err(|e| {
                    Error::invalid_input("backfill.template", format!("backfill.template: {e}"))
                })?;
                Some(Backfill {
                    api_id: b.api_id,
                    migration_id: b.migration_id,
                    template,
                })
            }
        };
        Ok(FallbackOptions { verify, backfill })
    }
}

/// DESIGN §3 `CreateKey`, in JS form.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateKeyJs {
    api_id: String,
    name: Option<String>,
    prefix: Option<String>,
    byte_length: Option<u32>,
    external_id: Option<String>,
    meta: Option<wire::Metadata>,
    #[serde(default)]
    scopes: Vec<Scope>,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    expires: Option<i64>,
    credits: Option<i64>,
    refill: Option<wire::KeyCreditsRefill>,
    #[serde(default)]
    ratelimits: Vec<wire::RatelimitRequest>,
    enabled: Option<bool>,
}

impl From<CreateKeyJs> for CreateKey {
    fn from(o: CreateKeyJs) -> Self {
        CreateKey {
            api_id: o.api_id,
            name: o.name,
            prefix: o.prefix,
            byte_length: o.byte_length,
            external_id: o.external_id,
            meta: o.meta,
            scopes: o.scopes,
            permissions: o.permissions,
            roles: o.roles,
            expires: o.expires,
            credits: o.credits,
            refill: o.refill,
            ratelimits: o.ratelimits,
            enabled: o.enabled,
        }
    }
}

/// A verification as a plain object (no secret in it).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VerificationJs {
    valid: bool,
    code: wire::VerifyCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<wire::Metadata>,
    permissions: Vec<String>,
    roles: Vec<String>,
    scopes: Vec<Scope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credits: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    ratelimits: Vec<wire::VerifyRatelimitData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<wire::Identity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    source: &'static str,
}

impl From<Verification> for VerificationJs {
    fn from(v: Verification) -> Self {
        let scopes = v.scopes();
        VerificationJs {
            valid: v.valid,
            code: v.code,
            key_id: v.key_id,
            name: v.name,
            external_id: v.external_id,
            meta: v.meta,
            permissions: v.permissions,
            roles: v.roles,
            scopes,
            credits: v.credits,
            expires: v.expires,
            enabled: v.enabled,
            ratelimits: v.ratelimits,
            identity: v.identity,
            request_id: v.request_id,
            source: match v.source {
                VerificationSource::KeyService => "keyService",
                VerificationSource::Legacy => "legacy",
            },
        }
    }
}

/// The legacy check of `verifyWithFallback`: `(key) => Promise<boolean>` (index.js wraps the
/// user's function so that it always answers a Promise).
pub type LegacyFn = ThreadsafeFunction<String, Promise<bool>, String, Status, false>;

struct JsLegacy {
    f: Arc<LegacyFn>,
    raised: Raised,
}

#[async_trait::async_trait]
impl LegacyCheck for JsLegacy {
    async fn check(&self, key: &SecretKey) -> keyshift_core::Result<bool> {
        let r = match self.f.call_async_catch(key.expose().to_owned()).await {
            Ok(p) => p.await,
            Err(e) => Err(e),
        };
        r.map_err(|e| {
            self.raised.keep(e);
            Error::io("the legacy check threw")
        })
    }
}

/// Every key of an api, one page at a time (core's pager).
#[napi]
pub struct KeysPager {
    inner: Arc<tokio::sync::Mutex<keyshift_core::Pager<wire::KeyResponseData>>>,
}

#[napi]
impl KeysPager {
    /// The next page, or `null` after the last.
    #[napi(ts_return_type = "Promise<unknown[] | null>")]
    pub fn next_page<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, JsonText>> {
        let inner = self.inner.clone();
        answer(env, async move { inner.lock().await.next_page().await })
    }
}

/// `name(args) => |client| future;` — a method answering a plain object. (No doc comments
/// here: napi's generator would print them as raw string tokens into `binding.d.ts`.)
macro_rules! calls {
    ($($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) => |$c:ident| $body:expr;)*) => {
        #[napi]
        impl Client {
            $(
                $(#[$doc])*
                #[napi(ts_return_type = "Promise<unknown>")]
                pub fn $name<'e>(&self, env: &'e Env, $($arg: $ty),*) -> napi::Result<PromiseRaw<'e, JsonText>> {
                    let $c = self.inner.clone();
                    answer(env, async move { $body })
                }
            )*
        }
    };
}

/// Reads a JSON options argument, or rejects the call with `invalid_input`.
macro_rules! opts {
    ($env:expr, $field:literal, $json:expr) => {
        match from_json($field, $json) {
            Ok(v) => v,
            Err(e) => return reject($env, e),
        }
    };
}

#[napi]
impl Client {
    /// `options`: JSON of `{baseUrl?, rootKey?, timeoutMs?, deadlineMs?, maxAttempts?}`;
    /// missing values come from `KEYSHIFT_BASE_URL` and `KEYSHIFT_ROOT_KEY` / `UNKEY_ROOT_KEY`.
    #[napi(constructor)]
    pub fn new(env: Env, options: Option<String>) -> napi::Result<Self> {
        let build = || -> keyshift_core::Result<CoreClient> {
            let o: ClientOptions = from_json("options", options)?;
            let mut b = CoreClient::builder().user_agent("node", env!("CARGO_PKG_VERSION"));
            let base_url = o.base_url.or_else(|| {
                std::env::var("KEYSHIFT_BASE_URL")
                    .ok()
                    .filter(|v| !v.trim().is_empty())
            });
            if let Some(url) = base_url {
                b = b.base_url(url);
            }
            if let Some(key) = root_key_or_env(o.root_key) {
                b = b.root_key(key);
            }
            b.limits_ms(o.timeout_ms, o.deadline_ms, o.max_attempts)
                .build()
        };
        build()
            .map(|inner| Client { inner })
            .map_err(|e| js_error(&env, &e))
    }

    /// The in-process engine on the SQLite database at `path` (no HTTP, no root key).
    #[napi(factory)]
    pub fn local(env: Env, path: String) -> napi::Result<Self> {
        keyshift_engine::local_client(&path)
            .map(|inner| Client { inner })
            .map_err(|e| js_error(&env, &e))
    }

    #[napi(js_name = "toString")]
    pub fn to_js_string(&self) -> String {
        format!("{:?}", self.inner)
    }

    #[napi(ts_return_type = "Promise<CreatedKey>")]
    pub fn create_api_key<'e>(
        &self,
        env: &'e Env,
        options: String,
    ) -> napi::Result<PromiseRaw<'e, CreatedKey>> {
        let o: CreateKeyJs = opts!(env, "options", Some(options));
        let (client, o) = (self.inner.clone(), CreateKey::from(o));
        answer_class(env, async move { client.create_api_key(&o).await })
    }

    #[napi(ts_return_type = "Promise<CreatedKey>")]
    pub fn reroll_key<'e>(
        &self,
        env: &'e Env,
        key_id: String,
        expiration_ms: i64,
    ) -> napi::Result<PromiseRaw<'e, CreatedKey>> {
        let client = self.inner.clone();
        answer_class(env, async move {
            client.reroll_key(&key_id, expiration_ms).await
        })
    }

    /// `portal.createSession`: a portal session for the end user `external_id` on `portal` (a
    /// portal id or an api id) with `scopes`; `return_url` is where the portal links back to.
    #[napi(ts_return_type = "Promise<PortalSession>")]
    pub fn create_portal_session<'e>(
        &self,
        env: &'e Env,
        portal: String,
        external_id: String,
        scopes: Vec<String>,
        return_url: Option<String>,
    ) -> napi::Result<PromiseRaw<'e, PortalSession>> {
        let request =
            wire::CreatePortalSessionRequest::new(portal, external_id, scopes, return_url);
        let client = self.inner.clone();
        answer_class(
            env,
            async move { client.create_portal_session(&request).await },
        )
    }

    #[napi(ts_return_type = "Promise<unknown>")]
    pub fn verify<'e>(
        &self,
        env: &'e Env,
        key: String,
        options: Option<String>,
    ) -> napi::Result<PromiseRaw<'e, JsonText>> {
        let o: VerifyOptionsJs = opts!(env, "options", options);
        let client = self.inner.clone();
        let fut = async move {
            let o = o.into_core()?;
            client
                .verify(&key, &o.verify)
                .await
                .map(VerificationJs::from)
        };
        answer(env, fut)
    }

    /// `legacy` answers a Promise of a boolean; an error it throws rejects this call as is.
    #[napi(
        ts_args_type = "key: string, legacy: (key: string) => Promise<boolean>, options?: string | undefined | null",
        ts_return_type = "Promise<unknown>"
    )]
    pub fn verify_with_fallback<'e>(
        &self,
        env: &'e Env,
        key: String,
        legacy: LegacyFn,
        options: Option<String>,
    ) -> napi::Result<PromiseRaw<'e, JsonText>> {
        let o: VerifyOptionsJs = opts!(env, "options", options);
        let client = self.inner.clone();
        let raised = Raised::default();
        let legacy = JsLegacy {
            f: Arc::new(legacy),
            raised: raised.clone(),
        };
        let fut = async move {
            let o = o.into_core()?;
            client
                .verify_with_fallback(&key, &legacy, &o)
                .await
                .map(VerificationJs::from)
        };
        on_core(env, fut, move |env, out| match out {
            Ok(v) => JsonText::of(v).map_err(|e| js_error(env, &e)),
            Err(e) => Err(raised.or_core(env, &e)),
        })
    }

    #[napi]
    pub fn keys_pager(&self, api_id: String) -> KeysPager {
        KeysPager {
            inner: Arc::new(tokio::sync::Mutex::new(self.inner.keys_pager(&api_id))),
        }
    }

    /// `patch`: JSON of `keys.updateKey` (keyId included); `null` clears a field.
    #[napi(ts_return_type = "Promise<unknown>")]
    pub fn update_key<'e>(
        &self,
        env: &'e Env,
        patch: String,
    ) -> napi::Result<PromiseRaw<'e, JsonText>> {
        let client = self.inner.clone();
        answer(env, async move {
            client.update_key(&from_json("patch", Some(patch))?).await
        })
    }
}

calls! {
    list_keys_page(request: String) => |c| {
        let page = c.list_keys(&from_json("options", Some(request))?).await?;
        let (items, cursor, has_more) = (page.items, page.cursor, page.has_more);
        Ok(serde_json::json!({ "items": items, "cursor": cursor, "hasMore": has_more }))
    };
    create_identity(request: String) =>
        |c| c.create_identity(&from_json("options", Some(request))?).await;
    update_identity(request: String) =>
        |c| c.update_identity(&from_json("options", Some(request))?).await;
    update_credits(key_id: String, operation: String, value: Option<i64>) => |c| {
        let operation = serde_json::from_value(Value::String(operation)).map_err(|_| {
            let message = "operation must be 'set', 'increment' or 'decrement'";
            Error::invalid_input("operation", message)
        })?;
        c.update_credits(&key_id, operation, value).await
    };
    create_api(name: String) => |c| c.create_api(&name).await;
    get_api(api_id: String) => |c| c.get_api(&api_id).await;
    delete_api(api_id: String) => |c| c.delete_api(&api_id).await;
    get_key(key_id: String) => |c| c.get_key(&key_id).await;
    whoami(key: String) => |c| c.whoami(&key).await;
    delete_key(key_id: String, permanent: Option<bool>) => |c| c.delete_key(&key_id, permanent.unwrap_or(false)).await;
    add_permissions(key_id: String, permissions: Vec<String>) => |c| c.add_permissions(&key_id, &permissions).await;
    remove_permissions(key_id: String, permissions: Vec<String>) => |c| c.remove_permissions(&key_id, &permissions).await;
    set_permissions(key_id: String, permissions: Vec<String>) => |c| c.set_permissions(&key_id, &permissions).await;
    add_roles(key_id: String, roles: Vec<String>) => |c| c.add_roles(&key_id, &roles).await;
    remove_roles(key_id: String, roles: Vec<String>) => |c| c.remove_roles(&key_id, &roles).await;
    set_roles(key_id: String, roles: Vec<String>) => |c| c.set_roles(&key_id, &roles).await;
    create_permission(name: String, slug: Option<String>, description: Option<String>) =>
        |c| c.create_permission(&name, slug.as_deref(), description.as_deref()).await;
    get_permission(permission: String) => |c| c.get_permission(&permission).await;
    delete_permission(permission: String) => |c| c.delete_permission(&permission).await;
    list_permissions() => |c| c.list_permissions().await;
    create_role(name: String, permissions: Option<Vec<String>>, description: Option<String>) =>
        |c| c.create_role(&name, &permissions.unwrap_or_default(), description.as_deref()).await;
    get_role(role: String) => |c| c.get_role(&role).await;
    delete_role(role: String) => |c| c.delete_role(&role).await;
    list_roles() => |c| c.list_roles().await;
    set_role_permissions(role_id: String, permissions: Vec<String>) => |c| c.set_role_permissions(&role_id, &permissions).await;
    get_identity(identity: String) => |c| c.get_identity(&identity).await;
    delete_identity(identity: String) => |c| c.delete_identity(&identity).await;
    list_identities() => |c| c.list_identities().await;
}
