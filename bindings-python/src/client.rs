//! `keyshift_core::Client`: `keyshift.Client` (blocking, GIL released) and `keyshift.AsyncClient`
//! (asyncio awaitables on core's runtime). Both are generated from one list of methods, so they
//! cannot drift; each method converts its arguments, calls core and converts the answer.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::runtime::{into_future as future_into_py, ready};
use keyshift_core::migrate::MigrateOptions;
use keyshift_core::wire::{self, Patch};
use keyshift_core::{runtime, CreateKey, Error, Pager, RetryPolicy, VerifyOptions};
use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration};
use pyo3::prelude::*;
use serde::Deserialize;

use crate::convert::{map, FromDict, Meta, UnixMs};
use crate::error::{to_py, CoreResult};
use crate::migrate::{self, MigrationReport};
use crate::models::*;
use crate::scope::{self, Scope};

/// The shared state of both client classes: the core client, or `None` once closed.
struct Inner {
    client: RwLock<Option<keyshift_core::Client>>,
    describe: String,
}

impl Inner {
    fn new(client: keyshift_core::Client) -> Self {
        let describe = client.backend().describe();
        Inner {
            client: RwLock::new(Some(client)),
            describe,
        }
    }

    fn get(&self) -> PyResult<keyshift_core::Client> {
        self.client
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| to_py(Error::io("this client is closed")))
    }

    fn close(&self) {
        self.client
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }
}

fn build(
    base_url: Option<String>,
    root_key: Option<String>,
    timeout: f64,
    max_attempts: u32,
    deadline: Option<f64>,
) -> PyResult<keyshift_core::Client> {
    let secs = |field: &str, v: f64| {
        Duration::try_from_secs_f64(v).map_err(|_| {
            to_py(Error::invalid_input(
                field,
                format!("{field} must be a non-negative number of seconds"),
            ))
        })
    };
    // Core's environment fallbacks: KEYSHIFT_BASE_URL, KEYSHIFT_ROOT_KEY / UNKEY_ROOT_KEY.
    // (from_env_builder requires the root key in the environment: a given one replaces it.)
    let mut builder = match keyshift_core::client::root_key_or_env(root_key) {
        Some(key) => keyshift_core::Client::builder().root_key(key),
        None => keyshift_core::Client::from_env_builder().map_err(to_py)?,
    };
    let env_url = std::env::var("KEYSHIFT_BASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    if let Some(url) = base_url.or(env_url) {
        builder = builder.base_url(url);
    }
    builder = builder
        .timeout(secs("timeout", timeout)?)
        .retry(RetryPolicy::default().with_max_attempts(max_attempts))
        .user_agent("python", env!("CARGO_PKG_VERSION"));
    if let Some(d) = deadline {
        builder = builder.deadline(secs("deadline", d)?);
    }
    builder.build().map_err(to_py)
}

fn local(path: &str) -> PyResult<keyshift_core::Client> {
    keyshift_engine::local_client(path).map_err(to_py)
}

/// A blocking core call without the GIL.
fn block<T: Send>(
    py: Python<'_>,
    fut: impl std::future::Future<Output = CoreResult<T>> + Send,
) -> PyResult<T> {
    // Only the answer's slot is generic: the waiting is compiled once, not once per method.
    let mut answer = None;
    wait(py, Box::pin(async { answer = Some(fut.await) }))?;
    answer.expect("the call ran to its end").map_err(to_py)
}

/// Waits for `fut` in slices without the GIL, checking for signals between them, so Ctrl-C
/// interrupts a blocking call (KeyboardInterrupt); dropping the future cancels the request.
fn wait(py: Python<'_>, mut fut: keyshift_core::BoxFuture<'_, ()>) -> PyResult<()> {
    loop {
        let done = py.detach(|| {
            runtime::block_on(async { tokio::time::timeout(SIGNAL_CHECK, &mut fut).await.is_ok() })
        });
        if done {
            return Ok(());
        }
        py.check_signals()?;
    }
}

/// How often a blocking call looks for signals (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// A rate limit given to `create_api_key` / identities: `{"name", "limit", "duration", "auto_apply"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RatelimitIn {
    name: String,
    limit: i64,
    duration: i64,
    #[serde(default)]
    auto_apply: bool,
}

fn ratelimits_in(v: Option<Vec<FromDict<RatelimitIn>>>) -> Vec<wire::RatelimitRequest> {
    v.unwrap_or_default()
        .into_iter()
        .map(|FromDict(r)| wire::RatelimitRequest {
            name: r.name,
            limit: r.limit,
            duration: r.duration,
            auto_apply: r.auto_apply,
        })
        .collect()
}

/// A rate limit to check during `verify`: `{"name", "cost"?, "limit"?, "duration"?}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRatelimitIn {
    name: String,
    cost: Option<i64>,
    limit: Option<i64>,
    duration: Option<i64>,
}

/// Refill settings: `{"interval": "daily"|"monthly", "amount", "refill_day"?}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefillIn {
    interval: String,
    amount: i64,
    refill_day: Option<u8>,
}

fn refill_in(r: RefillIn) -> PyResult<wire::KeyCreditsRefill> {
    let interval = serde_json::from_value(serde_json::Value::String(r.interval))
        .map_err(|e| to_py(Error::invalid_input("refill.interval", e.to_string())))?;
    Ok(wire::KeyCreditsRefill {
        interval,
        amount: r.amount,
        refill_day: r.refill_day,
    })
}

fn verify_options(
    permissions: Option<String>,
    scopes: Option<Vec<Scope>>,
    credits_cost: Option<i64>,
    ratelimits: Option<Vec<FromDict<VerifyRatelimitIn>>>,
    tags: Option<Vec<String>>,
) -> VerifyOptions {
    VerifyOptions {
        permissions,
        scopes: scope::to_core(&scopes.unwrap_or_default()),
        credits_cost,
        ratelimits: ratelimits
            .unwrap_or_default()
            .into_iter()
            .map(|FromDict(r)| wire::VerifyRatelimit {
                name: r.name,
                cost: r.cost,
                limit: r.limit,
                duration: r.duration,
            })
            .collect(),
        tags: tags.unwrap_or_default(),
    }
}

/// The marker that clears a field in `update_key` (`keyshift.CLEAR`); `None` leaves it.
#[pyclass(frozen, module = "keyshift")]
pub struct Clear;

#[pymethods]
impl Clear {
    fn __repr__(&self) -> &'static str {
        "keyshift.CLEAR"
    }
}

/// A field of `update_key`: absent/None (unchanged), `keyshift.CLEAR` (cleared) or a value.
pub struct PatchArg<T>(Patch<T>);

impl<'a, 'py, T: FromPyObject<'a, 'py>> FromPyObject<'a, 'py> for PatchArg<T> {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_instance_of::<Clear>() {
            return Ok(PatchArg(Patch::Clear));
        }
        Ok(PatchArg(Patch::Set(obj.extract().map_err(Into::into)?)))
    }
}

fn patch<T, U>(p: Option<PatchArg<T>>, f: impl FnOnce(T) -> U) -> Patch<U> {
    match p.map(|p| p.0) {
        None | Some(Patch::Leave) => Patch::Leave,
        Some(Patch::Clear) => Patch::Clear,
        Some(Patch::Set(v)) => Patch::Set(f(v)),
    }
}

fn credits_op(op: &str) -> PyResult<wire::CreditsOperation> {
    serde_json::from_value(serde_json::Value::String(op.to_string())).map_err(|_| {
        to_py(Error::invalid_input(
            "operation",
            "operation must be set, increment or decrement",
        ))
    })
}

/// The calls shared by `Client` (blocking) and `AsyncClient` (awaitable): for each, the argument
/// conversion (`prep`, with the GIL) and the core call (`|c| …`, without it).
macro_rules! client_methods {
    ($(
        $(#[$m:meta])*
        fn $name:ident($($arg:ident : $ty:ty),*) -> $out:ty { $($prep:stmt;)* } => |$c:ident| $body:block
    )*) => {
        #[pymethods]
        impl Client {
            $(
                $(#[$m])*
                #[allow(clippy::too_many_arguments)]
                fn $name(&self, py: Python<'_>, $($arg: $ty),*) -> PyResult<$out> {
                    let $c = self.inner.get()?;
                    $($prep;)*
                    block(py, async move $body)
                }
            )*
        }

        #[pymethods]
        impl AsyncClient {
            $(
                $(#[$m])*
                #[allow(clippy::too_many_arguments)]
                fn $name<'py>(&self, py: Python<'py>, $($arg: $ty),*) -> PyResult<Bound<'py, PyAny>> {
                    let $c = self.inner.get()?;
                    $($prep;)*
                    future_into_py(py, async move {
                        let out: CoreResult<$out> = async move $body.await;
                        out.map_err(to_py)
                    })
                }
            )*
        }
    };
}

/// A key service client whose calls block (without holding the GIL). Thread-safe: share one
/// per process. `Client.local(path)` runs the engine in-process on a SQLite file.
#[pyclass(frozen, module = "keyshift")]
pub struct Client {
    inner: Arc<Inner>,
}

/// The asyncio twin of `Client`: the same methods, as awaitables, on core's runtime.
#[pyclass(frozen, module = "keyshift")]
pub struct AsyncClient {
    inner: Arc<Inner>,
}

macro_rules! lifecycle {
    ($cls:ident, $name:literal) => {
        #[pymethods]
        impl $cls {
            #[new]
            #[pyo3(signature = (base_url = None, root_key = None, *, timeout = 5.0, max_attempts = 3, deadline = None))]
            fn new(
                base_url: Option<String>,
                root_key: Option<String>,
                timeout: f64,
                max_attempts: u32,
                deadline: Option<f64>,
            ) -> PyResult<Self> {
                Ok($cls { inner: Arc::new(Inner::new(build(base_url, root_key, timeout, max_attempts, deadline)?)) })
            }

            /// The in-process engine on a SQLite file (no HTTP, no root key).
            #[staticmethod]
            fn local(path: std::path::PathBuf) -> PyResult<Self> {
                Ok($cls { inner: Arc::new(Inner::new(local(&path.to_string_lossy())?)) })
            }

            /// Drops the connection pool; later calls raise `IoError`.
            fn close(&self) {
                self.inner.close();
            }

            fn __repr__(&self) -> String {
                format!(concat!($name, "({:?})"), self.inner.describe)
            }
        }
    };
}

lifecycle!(Client, "Client");
lifecycle!(AsyncClient, "AsyncClient");

#[pymethods]
impl Client {
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*args))]
    fn __exit__(&self, args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        let _ = args;
        self.inner.close();
        false
    }

    /// Every key of an api, page by page, as an iterator of `Key`.
    fn iter_keys(&self, api_id: &str) -> PyResult<KeyIterator> {
        let pager = self.inner.get()?.keys_pager(api_id);
        Ok(KeyIterator {
            state: Mutex::new((pager, VecDeque::new())),
        })
    }

    /// `verify`, then on NOT_FOUND asks `legacy(key) -> bool`; with `backfill`, a key the legacy
    /// check accepts is migrated on the spot (its hash only). An exception raised by `legacy`
    /// propagates unchanged.
    #[pyo3(signature = (key, *, legacy, backfill = None, permissions = None, scopes = None))]
    fn verify_with_fallback(
        &self,
        py: Python<'_>,
        key: String,
        legacy: Py<PyAny>,
        backfill: Option<PyRef<'_, migrate::Backfill>>,
        permissions: Option<String>,
        scopes: Option<Vec<Scope>>,
    ) -> PyResult<Verification> {
        let client = self.inner.get()?;
        let (check, options) = migrate::fallback(
            legacy,
            backfill.as_deref(),
            verify_options(permissions, scopes, None, None, None),
            None,
        );
        let raised = check.raised.clone();
        let out = py.detach(move || {
            runtime::block_on(
                async move { client.verify_with_fallback(&key, &check, &options).await },
            )
        });
        out.map(Verification::from).map_err(|e| raised.or_core(e))
    }
}

#[pymethods]
impl AsyncClient {
    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        ready(slf.py(), slf.clone().into_any())
    }

    #[pyo3(signature = (*args))]
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, pyo3::types::PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let _ = args;
        self.inner.close();
        ready(
            py,
            pyo3::types::PyBool::new(py, false).to_owned().into_any(),
        )
    }

    /// Every key of an api, page by page, as an async iterator of `Key`.
    fn iter_keys(&self, api_id: &str) -> PyResult<AsyncKeyIterator> {
        let pager = self.inner.get()?.keys_pager(api_id);
        Ok(AsyncKeyIterator {
            state: Arc::new(tokio::sync::Mutex::new((pager, VecDeque::new()))),
        })
    }

    /// `Client.verify_with_fallback` as an awaitable (`legacy` is a plain callable).
    #[pyo3(signature = (key, *, legacy, backfill = None, permissions = None, scopes = None))]
    fn verify_with_fallback<'py>(
        &self,
        py: Python<'py>,
        key: String,
        legacy: Py<PyAny>,
        backfill: Option<PyRef<'py, migrate::Backfill>>,
        permissions: Option<String>,
        scopes: Option<Vec<Scope>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.get()?;
        let (check, options) = migrate::fallback(
            legacy,
            backfill.as_deref(),
            verify_options(permissions, scopes, None, None, None),
            Some(crate::runtime::running_loop(py)?),
        );
        future_into_py(py, async move {
            let raised = check.raised.clone();
            let out = client.verify_with_fallback(&key, &check, &options).await;
            out.map(Verification::from).map_err(|e| raised.or_core(e))
        })
    }
}

client_methods! {
    /// A new api (keyspace).
    fn create_api(name: String) -> Api {} => |c| {
        c.create_api(&name).await.map(|d| Api { api_id: d.api_id, name: Some(name) })
    }

    fn get_api(api_id: String) -> Api {} => |c| {
        c.get_api(&api_id).await.map(|d| Api { api_id: d.id, name: Some(d.name) })
    }

    fn delete_api(api_id: String) -> () {} => |c| { c.delete_api(&api_id).await }

    /// One page of an api's keys (`iter_keys` walks them all).
    #[pyo3(signature = (api_id, *, limit = None, cursor = None, external_id = None))]
    fn list_keys(api_id: String, limit: Option<u32>, cursor: Option<String>, external_id: Option<String>) -> KeyPage {
        let request = wire::ListKeysRequest { api_id, limit, cursor, external_id, decrypt: None, revalidate_keys_cache: None };
    } => |c| {
        c.list_keys(&request).await.map(|p| KeyPage {
            keys: map(p.items),
            cursor: p.cursor,
            has_more: p.has_more,
        })
    }

    /// A new key; the plaintext is in the result's `.key`, once. `scopes` and `permissions` are
    /// merged; `expires` is a `datetime` or Unix ms; `credits` None = unlimited.
    #[pyo3(signature = (api_id, *, name = None, prefix = None, byte_length = None, external_id = None, meta = None, scopes = None, permissions = None, roles = None, expires = None, credits = None, refill = None, ratelimits = None, enabled = None))]
    fn create_api_key(
        api_id: String,
        name: Option<String>,
        prefix: Option<String>,
        byte_length: Option<u32>,
        external_id: Option<String>,
        meta: Option<Meta>,
        scopes: Option<Vec<Scope>>,
        permissions: Option<Vec<String>>,
        roles: Option<Vec<String>>,
        expires: Option<UnixMs>,
        credits: Option<i64>,
        refill: Option<FromDict<RefillIn>>,
        ratelimits: Option<Vec<FromDict<RatelimitIn>>>,
        enabled: Option<bool>
    ) -> CreatedKey {
        let options = CreateKey {
            api_id,
            name,
            prefix,
            byte_length,
            external_id,
            meta: meta.map(|m| m.0),
            scopes: scope::to_core(&scopes.unwrap_or_default()),
            permissions: permissions.unwrap_or_default(),
            roles: roles.unwrap_or_default(),
            expires: expires.map(|e| e.0),
            credits,
            refill: refill.map(|r| refill_in(r.0)).transpose()?,
            ratelimits: ratelimits_in(ratelimits),
            enabled,
        };
    } => |c| { c.create_api_key(&options).await.map(CreatedKey::from) }

    /// Verifies a key. `permissions` is a query (`"a AND (b OR c)"`); `scopes` are required in
    /// full and ANDed with it. An invalid key is an outcome (`valid == False`), not an exception.
    #[pyo3(signature = (key, *, permissions = None, scopes = None, credits_cost = None, ratelimits = None, tags = None))]
    fn verify(
        key: String,
        permissions: Option<String>,
        scopes: Option<Vec<Scope>>,
        credits_cost: Option<i64>,
        ratelimits: Option<Vec<FromDict<VerifyRatelimitIn>>>,
        tags: Option<Vec<String>>
    ) -> Verification {
        let options = verify_options(permissions, scopes, credits_cost, ratelimits, tags);
    } => |c| { c.verify(&key, &options).await.map(Verification::from) }

    fn get_key(key_id: String) -> Key {} => |c| { c.get_key(&key_id).await.map(Key::from) }

    /// The key a plaintext belongs to.
    fn whoami(key: String) -> Key {} => |c| { c.whoami(&key).await.map(Key::from) }

    /// Changes a key: an argument left out (or None) is unchanged; `keyshift.CLEAR` clears
    /// `name`, `external_id`, `meta`, `expires` or `credits`.
    #[pyo3(signature = (key_id, *, name = None, external_id = None, meta = None, expires = None, credits = None, ratelimits = None, enabled = None, roles = None, permissions = None))]
    fn update_key(
        key_id: String,
        name: Option<PatchArg<String>>,
        external_id: Option<PatchArg<String>>,
        meta: Option<PatchArg<Meta>>,
        expires: Option<PatchArg<UnixMs>>,
        credits: Option<PatchArg<i64>>,
        ratelimits: Option<Vec<FromDict<RatelimitIn>>>,
        enabled: Option<bool>,
        roles: Option<Vec<String>>,
        permissions: Option<Vec<String>>
    ) -> () {
        let request = wire::UpdateKeyRequest {
            key_id,
            name: patch(name, |v| v),
            external_id: patch(external_id, |v| v),
            meta: patch(meta, |m| m.0),
            expires: patch(expires, |e| e.0),
            credits: match patch(credits, |v| v) {
                Patch::Leave => Patch::Leave,
                remaining => Patch::Set(wire::UpdateKeyCredits { remaining, refill: Patch::Leave }),
            },
            ratelimits: ratelimits.map(|r| ratelimits_in(Some(r))),
            enabled,
            roles,
            permissions,
        };
    } => |c| { c.update_key(&request).await }

    #[pyo3(signature = (key_id, *, permanent = false))]
    fn delete_key(key_id: String, permanent: bool) -> () {} => |c| { c.delete_key(&key_id, permanent).await }

    /// A new key with the old one's settings; the old key stays valid `expiration_ms` more.
    #[pyo3(signature = (key_id, *, expiration_ms = 0))]
    fn reroll_key(key_id: String, expiration_ms: i64) -> CreatedKey {} => |c| {
        c.reroll_key(&key_id, expiration_ms).await.map(CreatedKey::from)
    }

    /// `operation`: `set`, `increment` or `decrement`; `value` None with `set` = unlimited.
    #[pyo3(signature = (key_id, *, operation, value = None))]
    fn update_credits(key_id: String, operation: String, value: Option<i64>) -> Credits {
        let op = credits_op(&operation)?;
    } => |c| { c.update_credits(&key_id, op, value).await.map(Credits::from) }

    fn add_permissions(key_id: String, permissions: Vec<String>) -> Vec<Permission> {} => |c| {
        c.add_permissions(&key_id, &permissions).await.map(map)
    }
    fn remove_permissions(key_id: String, permissions: Vec<String>) -> Vec<Permission> {} => |c| {
        c.remove_permissions(&key_id, &permissions).await.map(map)
    }
    fn set_permissions(key_id: String, permissions: Vec<String>) -> Vec<Permission> {} => |c| {
        c.set_permissions(&key_id, &permissions).await.map(map)
    }
    fn add_roles(key_id: String, roles: Vec<String>) -> Vec<Role> {} => |c| {
        c.add_roles(&key_id, &roles).await.map(map)
    }
    fn remove_roles(key_id: String, roles: Vec<String>) -> Vec<Role> {} => |c| {
        c.remove_roles(&key_id, &roles).await.map(map)
    }
    fn set_roles(key_id: String, roles: Vec<String>) -> Vec<Role> {} => |c| {
        c.set_roles(&key_id, &roles).await.map(map)
    }

    /// A new permission; answers its id.
    #[pyo3(signature = (name, *, slug = None, description = None))]
    fn create_permission(name: String, slug: Option<String>, description: Option<String>) -> String {} => |c| {
        c.create_permission(&name, slug.as_deref(), description.as_deref()).await.map(|d| d.permission_id)
    }
    /// By id or slug.
    fn get_permission(permission: String) -> Permission {} => |c| {
        c.get_permission(&permission).await.map(Permission::from)
    }
    fn delete_permission(permission: String) -> () {} => |c| { c.delete_permission(&permission).await }
    fn list_permissions() -> Vec<Permission> {} => |c| {
        c.list_permissions().await.map(map)
    }

    /// A new role with these permissions (created when missing); answers its id.
    #[pyo3(signature = (name, *, permissions = None, description = None))]
    fn create_role(name: String, permissions: Option<Vec<String>>, description: Option<String>) -> String {} => |c| {
        c.create_role(&name, &permissions.unwrap_or_default(), description.as_deref()).await.map(|d| d.role_id)
    }
    /// By id or name.
    fn get_role(role: String) -> Role {} => |c| { c.get_role(&role).await.map(Role::from) }
    fn delete_role(role: String) -> () {} => |c| { c.delete_role(&role).await }
    fn list_roles() -> Vec<Role> {} => |c| {
        c.list_roles().await.map(map)
    }
    /// The role gets exactly these permissions; answers them.
    fn set_role_permissions(role_id: String, permissions: Vec<String>) -> Vec<Permission> {} => |c| {
        c.set_role_permissions(&role_id, &permissions).await.map(map)
    }

    /// A new identity (owner of keys); answers its id.
    #[pyo3(signature = (external_id, *, meta = None, ratelimits = None))]
    fn create_identity(external_id: String, meta: Option<Meta>, ratelimits: Option<Vec<FromDict<RatelimitIn>>>) -> String {
        let request = wire::CreateIdentityRequest {
            external_id,
            meta: meta.map(|m| m.0),
            ratelimits: ratelimits.map(|r| ratelimits_in(Some(r))),
        };
    } => |c| { c.create_identity(&request).await.map(|d| d.identity_id) }
    /// By id or external id.
    fn get_identity(identity: String) -> Identity {} => |c| { c.get_identity(&identity).await.map(Identity::from) }
    /// `meta` / `ratelimits`, when given, replace the identity's.
    #[pyo3(signature = (identity, *, meta = None, ratelimits = None))]
    fn update_identity(identity: String, meta: Option<Meta>, ratelimits: Option<Vec<FromDict<RatelimitIn>>>) -> Identity {
        let request = wire::UpdateIdentityRequest {
            identity,
            meta: meta.map(|m| m.0),
            ratelimits: ratelimits.map(|r| ratelimits_in(Some(r))),
        };
    } => |c| { c.update_identity(&request).await.map(Identity::from) }
    fn delete_identity(identity: String) -> () {} => |c| { c.delete_identity(&identity).await }
    fn list_identities() -> Vec<Identity> {} => |c| {
        c.list_identities().await.map(map)
    }

    /// A self-service portal session for the end user `external_id` on `portal` (a portal id
    /// or an api id) with `scopes` (`keys:read`, `keys:create`, `keys:update`, `keys:reroll`,
    /// `keys:delete`, `analytics:read`); send the user to the answer's `url`.
    #[pyo3(signature = (portal, external_id, scopes, *, return_url = None))]
    fn create_portal_session(portal: String, external_id: String, scopes: Vec<String>, return_url: Option<String>) -> PortalSession {
        let request = wire::CreatePortalSessionRequest::new(portal, external_id, scopes, return_url);
    } => |c| { c.create_portal_session(&request).await.map(PortalSession::from) }
}

/// `migrate_keys` of `Client` and `AsyncClient`: one keyword signature, the arguments gathered
/// into a `migrate::Run`; `|py, client, run| event_loop => answer` finishes the call.
macro_rules! migrate_keys {
    ($cls:ident<$lt:lifetime> -> $out:ty, $(#[$m:meta])*
        |$py:ident, $client:ident, $run:ident| $event_loop:expr => $answer:block) => {
        #[pymethods]
        impl $cls {
            $(#[$m])*
            #[pyo3(signature = (source, *, api_id, migration_id, variant = "sha256_base64", batch_size = None, concurrency = None, checkpoint = None, report = None, dry_run = false, resume = false, on_progress = None))]
            #[allow(clippy::too_many_arguments)]
            fn migrate_keys<$lt>(
                &self,
                $py: Python<$lt>,
                source: &Bound<$lt, PyAny>,
                api_id: String,
                migration_id: String,
                variant: &str,
                batch_size: Option<usize>,
                concurrency: Option<usize>,
                checkpoint: Option<std::path::PathBuf>,
                report: Option<std::path::PathBuf>,
                dry_run: bool,
                resume: bool,
                on_progress: Option<Py<PyAny>>,
            ) -> PyResult<$out> {
                let $client = self.inner.get()?;
                let mut options = MigrateOptions::new(api_id, migration_id)
                    .variant(variant.parse().map_err(to_py)?)
                    .dry_run(dry_run)
                    .resume(resume);
                // None: core adapts batch size and requests in flight to the answer times.
                options.batch_size = batch_size;
                options.concurrency = concurrency;
                options.checkpoint = checkpoint;
                options.report = report;
                let $run = migrate::Run::new(source, options, on_progress, $event_loop)?;
                $answer
            }
        }
    };
}

migrate_keys! {
    Client<'py> -> MigrationReport,
    /// Migrates keys from a JSONL/CSV file (path) or any iterable of dicts (pulled lazily);
    /// see `keyshift.migrate_keys`.
    |py, client, run| None => {
        let raised = run.raised.clone();
        let out = py.detach(move || runtime::block_on(run.start(client)));
        raised.check(out).map(MigrationReport::from)
    }
}

migrate_keys! {
    AsyncClient<'py> -> Bound<'py, PyAny>,
    /// `Client.migrate_keys` as an awaitable (a sync iterable is pulled on a reader thread).
    |py, client, run| Some(crate::runtime::running_loop(py)?) => {
        let raised = run.raised.clone();
        future_into_py(py, async move {
            // The run's reader thread pulls the host iterator; the runtime drives the rest.
            let out = runtime::spawn(run.start(client))
                .await
                .map_err(|e| Error::io(e.to_string()))
                .and_then(|r| r);
            raised.check(out).map(MigrationReport::from)
        })
    }
}

type KeyPager = (
    Pager<wire::KeyResponseData>,
    VecDeque<wire::KeyResponseData>,
);

/// `Client.iter_keys`: fetches a page when its buffer is empty (without the GIL).
#[pyclass(module = "keyshift")]
pub struct KeyIterator {
    state: Mutex<KeyPager>,
}

#[pymethods]
impl KeyIterator {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Key> {
        let next = py.detach(|| {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let (pager, buf) = &mut *state;
            runtime::block_on(next_key(pager, buf))
        });
        match next.map_err(to_py)? {
            Some(k) => Ok(Key::from(k)),
            None => Err(PyStopIteration::new_err(())),
        }
    }
}

async fn next_key(
    pager: &mut Pager<wire::KeyResponseData>,
    buf: &mut VecDeque<wire::KeyResponseData>,
) -> CoreResult<Option<wire::KeyResponseData>> {
    while buf.is_empty() {
        match pager.next_page().await? {
            Some(items) => buf.extend(items),
            None => return Ok(None),
        }
    }
    Ok(buf.pop_front())
}

/// `AsyncClient.iter_keys`: an async iterator of `Key`.
#[pyclass(module = "keyshift")]
pub struct AsyncKeyIterator {
    state: Arc<tokio::sync::Mutex<KeyPager>>,
}

#[pymethods]
impl AsyncKeyIterator {
    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let state = self.state.clone();
        future_into_py(py, async move {
            let mut state = state.lock().await;
            let (pager, buf) = &mut *state;
            match next_key(pager, buf).await.map_err(to_py)? {
                Some(k) => Ok(Key::from(k)),
                None => Err(PyStopAsyncIteration::new_err(())),
            }
        })
    }
}
