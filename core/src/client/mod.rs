//! The keyshift client (DESIGN.md §3): every operation of the wire API with typed requests and
//! answers, over HTTP ([`crate::http::HttpBackend`]) or any other [`Backend`] such as the
//! engine's in-process `LocalBackend`. Bindings wrap this type and add nothing.
//!
//! [`Client`] and its calls live here; [`builder`] makes one over HTTP, [`options`] holds the
//! calls' option types and answers, [`pager`] walks lists, [`rollout`] verifies with a legacy
//! fallback.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::backend::{Backend, CallOptions, Reply};
use crate::error::Error;
use crate::retry::RetryPolicy;
use crate::wire::{self, Op, Validate};
use crate::{BoxFuture, Result, SecretKey};

use options::non_empty;

pub mod builder;
pub mod options;
pub mod pager;
pub mod rollout;

pub use builder::{root_key_or_env, ClientBuilder, DEFAULT_BASE_URL};
pub use options::{CreateKey, CreatedKey, Verification, VerificationSource, VerifyOptions};
pub use pager::{Page, Pager};
pub use rollout::{Backfill, FallbackOptions, LegacyCheck};

/// The options of a call made without any.
static DEFAULT_CALL: CallOptions = CallOptions::DEFAULT;

/// A key service client. Cheap to clone; clones share one connection pool.
///
/// Each call returns a [`BoxFuture`]: `client.verify(key, &options).await`.
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

/// Calls whose request is one string field named like the argument:
/// `name(field) -> Answer = Op via Request;`, or without `-> Answer` for a call that answers
/// nothing.
macro_rules! one_field_calls {
    ($($(#[$doc:meta])* $name:ident($field:ident) $(-> $answer:ty)? = $op:ident via $request:ident;)*) => {
        $(one_field_calls!(@one $(#[$doc])* $name($field) $(-> $answer)? = $op via $request);)*
    };
    (@one $(#[$doc:meta])* $name:ident($field:ident) -> $answer:ty = $op:ident via $request:ident) => {
        $(#[$doc])*
        pub fn $name(&self, $field: &str) -> BoxFuture<'_, Result<$answer>> {
            let request = wire::$request {
                $field: $field.to_string(),
            };
            Box::pin(async move { self.send(Op::$op, &request).await })
        }
    };
    (@one $(#[$doc:meta])* $name:ident($field:ident) = $op:ident via $request:ident) => {
        $(#[$doc])*
        pub fn $name(&self, $field: &str) -> BoxFuture<'_, Result<()>> {
            let request = wire::$request {
                $field: $field.to_string(),
            };
            Box::pin(async move { self.send_unit(Op::$op, &request).await })
        }
    };
}

/// Calls that change a key's permissions or roles: `name(list) -> Item = Op;` sends the key id
/// and the list under the field `list`, and answers the key's items afterwards.
macro_rules! key_list_calls {
    ($($name:ident($list:ident) -> $item:ty = $op:ident;)*) => {
        $(
            pub fn $name(&self, key_id: &str, $list: &[String]) -> BoxFuture<'_, Result<Vec<$item>>> {
                let body = serde_json::json!({ "keyId": key_id, stringify!($list): $list });
                Box::pin(async move { self.send(Op::$op, &body).await })
            }
        )*
    };
}

/// Calls that send the caller's request as it is, once it passes its checks:
/// `name(Request) -> Answer = Op;`.
macro_rules! checked_calls {
    ($($(#[$doc:meta])* $name:ident($request:ident) -> $answer:ty = $op:ident;)*) => {
        $(
            $(#[$doc])*
            pub fn $name<'a>(&'a self, request: &'a wire::$request) -> BoxFuture<'a, Result<$answer>> {
                Box::pin(async move {
                    check(request)?;
                    self.send(Op::$op, request).await
                })
            }
        )*
    };
}

impl Client {
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
        self.call_body(op, body, options).await
    }

    /// The part of every call that does not depend on its request type, kept out of the generic
    /// `call_raw` so that it is compiled once, not once per request type in every crate.
    async fn call_body(&self, op: Op, body: Vec<u8>, options: &CallOptions) -> Result<Reply> {
        if options.idempotency_key.is_none() && op.sends_idempotency_key() {
            // One key per logical call, reused by every retry of it.
            let options = options.clone().with_idempotency_key(new_idempotency_key());
            return self.backend.call(op, body, &options).await;
        }
        self.backend.call(op, body, options).await
    }

    /// [`Client::call`] with the default options.
    async fn send<Req, Resp>(&self, op: Op, request: &Req) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        self.call(op, request, &CallOptions::default()).await
    }

    /// [`Client::send`] for operations whose answer carries nothing the caller needs.
    async fn send_unit<Req: Serialize + ?Sized>(&self, op: Op, request: &Req) -> Result<()> {
        self.send::<_, serde_json::Value>(op, request)
            .await
            .map(drop)
    }

    // ----- apis ---------------------------------------------------------------------------

    pub fn create_api(&self, name: &str) -> BoxFuture<'_, Result<wire::CreateApiResponseData>> {
        let request = wire::CreateApiRequest {
            name: name.to_string(),
        };
        Box::pin(async move {
            check(&request)?;
            self.send(Op::CreateApi, &request).await
        })
    }

    // ----- get and delete by one id or name -----------------------------------------------

    one_field_calls! {
        get_api(api_id) -> wire::GetApiResponseData = GetApi via GetApiRequest;

        delete_api(api_id) = DeleteApi via DeleteApiRequest;

        /// By id or slug.
        get_permission(permission) -> wire::Permission = GetPermission via GetPermissionRequest;

        delete_permission(permission) = DeletePermission via DeletePermissionRequest;

        /// By id or name.
        get_role(role) -> wire::Role = GetRole via GetRoleRequest;

        delete_role(role) = DeleteRole via DeleteRoleRequest;

        /// By id or external id.
        get_identity(identity) -> wire::Identity = GetIdentity via GetIdentityRequest;

        delete_identity(identity) = DeleteIdentity via DeleteIdentityRequest;
    }

    /// One page of an api's keys.
    pub fn list_keys<'a>(
        &'a self,
        request: &'a wire::ListKeysRequest,
    ) -> BoxFuture<'a, Result<Page<wire::KeyResponseData>>> {
        Box::pin(async move {
            check(request)?;
            let body = serde_json::to_value(request)
                .map_err(|e| Error::invalid_input("body", e.to_string()))?;
            self.page(Op::ListKeys, body).await
        })
    }

    /// Every key of an api, page by page.
    pub fn keys_pager(&self, api_id: &str) -> Pager<wire::KeyResponseData> {
        self.pager(Op::ListKeys, serde_json::json!({ "apiId": api_id }))
    }

    // ----- keys ---------------------------------------------------------------------------

    pub fn create_api_key<'a>(
        &'a self,
        options: &'a CreateKey,
    ) -> BoxFuture<'a, Result<CreatedKey>> {
        self.create_api_key_with(options, &DEFAULT_CALL)
    }

    pub fn create_api_key_with<'a>(
        &'a self,
        options: &'a CreateKey,
        call: &'a CallOptions,
    ) -> BoxFuture<'a, Result<CreatedKey>> {
        Box::pin(async move {
            let request = options.to_request()?;
            let data: wire::CreateKeyResponseData =
                self.call(Op::CreateKey, &request, call).await?;
            Ok(CreatedKey::new(data.key_id, data.key))
        })
    }

    pub fn verify<'a>(
        &'a self,
        key: &'a str,
        options: &'a VerifyOptions,
    ) -> BoxFuture<'a, Result<Verification>> {
        self.verify_with(key, options, &DEFAULT_CALL)
    }

    pub fn verify_with<'a>(
        &'a self,
        key: &'a str,
        options: &'a VerifyOptions,
        call: &'a CallOptions,
    ) -> BoxFuture<'a, Result<Verification>> {
        Box::pin(async move {
            let request = options.to_request(key)?;
            let reply = self.call_raw(Op::VerifyKey, &request, call).await?;
            let request_id = reply.request_id.clone();
            let data: wire::VerifyKeyResponseData = decode(Op::VerifyKey, reply)?;
            Ok(Verification::from_wire(data, request_id))
        })
    }

    pub fn get_key(&self, key_id: &str) -> BoxFuture<'_, Result<wire::KeyResponseData>> {
        let request = wire::GetKeyRequest {
            key_id: key_id.to_string(),
            decrypt: None,
        };
        Box::pin(async move { self.send(Op::GetKey, &request).await })
    }

    /// The key a plaintext belongs to (`keys.whoami`).
    pub fn whoami(&self, key: &str) -> BoxFuture<'_, Result<wire::KeyResponseData>> {
        let request = wire::WhoamiRequest {
            key: SecretKey::new(key),
        };
        Box::pin(async move { self.send(Op::Whoami, &request).await })
    }

    /// `analytics.getVerifications`: one read-only SQL `SELECT` over the verification log's
    /// public views (`key_verifications_v1`, `key_verifications_per_{minute,hour,day,month}_v1`);
    /// one JSON object per row. Needs `api.*.read_analytics` (or per api) on a server.
    pub fn get_verifications(
        &self,
        query: &str,
    ) -> BoxFuture<'_, Result<wire::GetVerificationsResponseData>> {
        let request = wire::GetVerificationsRequest {
            query: query.to_string(),
        };
        Box::pin(async move { self.send(Op::GetVerifications, &request).await })
    }

    /// Applies a patch: each field is `Patch::Leave` (unchanged), `Patch::Clear` or `Patch::Set`.
    pub fn update_key<'a>(
        &'a self,
        patch: &'a wire::UpdateKeyRequest,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            check(patch)?;
            self.send_unit(Op::UpdateKey, patch).await
        })
    }

    pub fn delete_key(&self, key_id: &str, permanent: bool) -> BoxFuture<'_, Result<()>> {
        let request = wire::DeleteKeyRequest {
            key_id: key_id.to_string(),
            permanent: permanent.then_some(true),
        };
        Box::pin(async move { self.send_unit(Op::DeleteKey, &request).await })
    }

    /// A new key with the old one's settings; the old key stays valid `expiration_ms` more.
    pub fn reroll_key(
        &self,
        key_id: &str,
        expiration_ms: i64,
    ) -> BoxFuture<'_, Result<CreatedKey>> {
        let request = wire::RerollKeyRequest {
            key_id: key_id.to_string(),
            expiration: expiration_ms,
        };
        Box::pin(async move {
            check(&request)?;
            let data: wire::RerollKeyResponseData = self.send(Op::RerollKey, &request).await?;
            Ok(CreatedKey::new(data.key_id, data.key))
        })
    }

    pub fn update_credits(
        &self,
        key_id: &str,
        operation: wire::CreditsOperation,
        value: Option<i64>,
    ) -> BoxFuture<'_, Result<wire::KeyCreditsData>> {
        let request = wire::UpdateCreditsRequest {
            key_id: key_id.to_string(),
            value,
            operation,
        };
        Box::pin(async move {
            check(&request)?;
            self.send(Op::UpdateCredits, &request).await
        })
    }

    key_list_calls! {
        add_permissions(permissions) -> wire::Permission = AddPermissions;
        remove_permissions(permissions) -> wire::Permission = RemovePermissions;
        set_permissions(permissions) -> wire::Permission = SetPermissions;
        add_roles(roles) -> wire::Role = AddRoles;
        remove_roles(roles) -> wire::Role = RemoveRoles;
        set_roles(roles) -> wire::Role = SetRoles;
    }

    /// One `keys.migrateKeys` request, retried under the client policy with one
    /// `Idempotency-Key` for all its attempts (the migration engine sends batches through here).
    pub fn migrate_keys_batch<'a>(
        &'a self,
        request: &'a wire::MigrateKeysRequest,
        idempotency_key: &str,
    ) -> BoxFuture<'a, Result<wire::MigrateKeysResponseData>> {
        let options = CallOptions::default().with_idempotency_key(idempotency_key);
        Box::pin(async move { self.migrate_keys_batch_with(request, &options).await })
    }

    /// [`Client::migrate_keys_batch`] with explicit call options (the migration engine sends
    /// one attempt at a time through here).
    pub fn migrate_keys_batch_with<'a>(
        &'a self,
        request: &'a wire::MigrateKeysRequest,
        options: &'a CallOptions,
    ) -> BoxFuture<'a, Result<wire::MigrateKeysResponseData>> {
        Box::pin(async move {
            check(request)?;
            self.call(Op::MigrateKeys, request, options).await
        })
    }

    // ----- permissions and roles -----------------------------------------------------------

    pub fn create_permission(
        &self,
        name: &str,
        slug: Option<&str>,
        description: Option<&str>,
    ) -> BoxFuture<'_, Result<wire::CreatePermissionResponseData>> {
        let request = wire::CreatePermissionRequest {
            name: name.to_string(),
            slug: slug.unwrap_or(name).to_string(),
            description: description.map(str::to_string),
        };
        Box::pin(async move {
            check(&request)?;
            self.send(Op::CreatePermission, &request).await
        })
    }

    /// Every permission of the workspace (all pages).
    pub fn list_permissions(&self) -> BoxFuture<'_, Result<Vec<wire::Permission>>> {
        Box::pin(self.list_all(Op::ListPermissions))
    }

    pub fn create_role(
        &self,
        name: &str,
        permissions: &[String],
        description: Option<&str>,
    ) -> BoxFuture<'_, Result<wire::CreateRoleResponseData>> {
        let request = wire::CreateRoleRequest {
            name: name.to_string(),
            description: description.map(str::to_string),
            permissions: non_empty(permissions),
        };
        Box::pin(async move {
            check(&request)?;
            self.send(Op::CreateRole, &request).await
        })
    }

    /// `permissions.setRolePermissions`: the role `role_id` (an id) gets exactly these
    /// permission slugs (missing ones are created, `[]` clears); answers them.
    pub fn set_role_permissions(
        &self,
        role_id: &str,
        permissions: &[String],
    ) -> BoxFuture<'_, Result<Vec<wire::Permission>>> {
        let request = wire::SetRolePermissionsRequest {
            role_id: role_id.to_string(),
            permissions: permissions.to_vec(),
        };
        Box::pin(async move {
            check(&request)?;
            self.send(Op::SetRolePermissions, &request).await
        })
    }

    /// Every role of the workspace (all pages).
    pub fn list_roles(&self) -> BoxFuture<'_, Result<Vec<wire::Role>>> {
        Box::pin(self.list_all(Op::ListRoles))
    }

    // ----- identities --------------------------------------------------------------------

    checked_calls! {
        create_identity(CreateIdentityRequest) -> wire::CreateIdentityResponseData = CreateIdentity;
        /// `identities.updateIdentity`: `meta` / `ratelimits`, when given, replace the identity's
        /// (an empty map or list clears them); answers the identity afterwards.
        update_identity(UpdateIdentityRequest) -> wire::Identity = UpdateIdentity;
    }

    pub fn list_identities(&self) -> BoxFuture<'_, Result<Vec<wire::Identity>>> {
        Box::pin(self.list_all(Op::ListIdentities))
    }

    // ----- portal --------------------------------------------------------------------------

    checked_calls! {
        /// `portal.createSession`: a portal session for the end user `request.external_id` on
        /// `request.portal` (a portal id or an api id), with `request.scopes` (see
        /// [`wire::PORTAL_SCOPES`]). Answers `{id, url}`; send the end user to `url` (it carries
        /// a single-use exchange code valid 15 minutes, so treat it as a secret).
        create_portal_session(CreatePortalSessionRequest) -> wire::CreatePortalSessionResponseData = CreatePortalSession;
        /// `portal.updatePortal`: the portal's branding name and grantable permission slugs.
        update_portal(UpdatePortalRequest) -> wire::Portal = UpdatePortal;
    }

    one_field_calls! {
        /// `portal.getPortal`: by portal id or api id (created with defaults on first use).
        get_portal(portal) -> wire::Portal = GetPortal via GetPortalRequest;

        /// `portal.revokeSession`: the session and its access token stop working at once.
        revoke_portal_session(session_id) = RevokePortalSession via RevokePortalSessionRequest;
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

/// A random `Idempotency-Key` (`idem_` + 24 base58 chars from the OS CSPRNG).
pub fn new_idempotency_key() -> String {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    format!("idem_{}", bs58::encode(bytes).into_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_unique() {
        let a = new_idempotency_key();
        assert!(a.starts_with("idem_"));
        assert_ne!(a, new_idempotency_key());
    }
}
