//! One operation from its name and JSON body to its [`Reply`]: the body checks shared by the
//! server's early validation and the engine, [`Engine::dispatch`] / [`Engine::start`], and the
//! table of handlers. Adding an operation is one arm of [`keyshift_core::wire::Op`] plus one arm
//! of [`route`] naming its request type and handler.

use keyshift_core::wire::{self, Op};
use keyshift_core::{Error, Result, SecretKey};
use rusqlite::Connection;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::links::{self, Change, PermissionLinks, RoleLinks};
use crate::util::parse_body;
use crate::{
    admin, analytics, authz, idempotency, keys, page_reply, portal, reply, verify, Blocking,
    Engine, Reply, Step, WorkspaceCtx,
};

/// The operation named `name`, or the engine's 404 for an unknown one (`Op`'s `FromStr`).
pub(crate) fn op_named(name: &str) -> Result<Op> {
    name.parse()
}

fn check_body_size(body: &[u8]) -> Result<()> {
    if body.len() > wire::limits::BODY_MAX_BYTES {
        return Err(Error::bad_request(format!(
            "request body exceeds {} bytes",
            wire::limits::BODY_MAX_BYTES
        )));
    }
    Ok(())
}

/// Checks `body` against the request schema and limits of operation `op` without running it:
/// the 400 [`Engine::dispatch`] would answer for it, or `Ok`. Unkey validates a request's body
/// before it looks its root key up, so the server calls this when it refuses a root key (or an
/// `Authorization` header) to answer the body's 400 first, as Unkey does.
pub fn validate_request(op: &str, body: &[u8]) -> Result<()> {
    validate_op(op_named(op)?, body)
}

/// [`validate_request`] for an operation already parsed.
pub fn validate_op(op: Op, body: &[u8]) -> Result<()> {
    check_body_size(body)?;
    route(op, body, None).map(drop)
}

/// What a handler answers, as a [`Reply`]: `data` only, or a page's items and `pagination`.
trait IntoReply {
    fn into_reply(self) -> Result<Reply>;
}

impl<T: Serialize> IntoReply for T {
    fn into_reply(self) -> Result<Reply> {
        reply(self)
    }
}

impl<T: Serialize> IntoReply for admin::Page<T> {
    fn into_reply(self) -> Result<Reply> {
        page_reply(self)
    }
}

/// Parses `body` as operation `op`'s request and, with a target, runs the operation there
/// (inside the caller's transaction). `None` only checks the body. `keys.verifyKey` and
/// `keys.whoami` run outside the writer ([`Engine::dispatch`]); here they are only checked.
fn route(op: Op, body: &[u8], on: Option<(&Connection, &str)>) -> Result<Option<Reply>> {
    // A change to a key's permissions or roles: `link_op!(Request, Table.field, Change)`.
    macro_rules! link_op {
        ($request:ty, $table:ident.$field:ident, $change:ident) => {
            one(body, on, |c, ws, r: &$request| {
                links::change::<$table>(c, ws, &r.key_id, &r.$field, Change::$change)
            })
        };
    }
    // A get or delete of a named thing by the request's one field:
    // `named_op!(Request, get::<Item>(field))`.
    macro_rules! named_op {
        ($request:ty, $action:ident::<$item:ty>($field:ident)) => {
            one(body, on, |c, ws, r: &$request| {
                admin::$action::<$item>(c, ws, &r.$field)
            })
        };
    }
    use wire::*;
    /// One request type and its handler.
    fn one<T, R>(
        body: &[u8],
        on: Option<(&Connection, &str)>,
        handler: impl FnOnce(&Connection, &str, &T) -> Result<R>,
    ) -> Result<Option<Reply>>
    where
        T: DeserializeOwned + Validate,
        R: IntoReply,
    {
        let req: T = parse_body(body)?;
        on.map(|(conn, ws)| handler(conn, ws, &req)?.into_reply())
            .transpose()
    }
    /// Checked only: runs elsewhere.
    fn checked<T: DeserializeOwned + Validate>(body: &[u8]) -> Result<Option<Reply>> {
        parse_body::<T>(body).map(|_| None)
    }
    match op {
        Op::CreateApi => one(body, on, admin::create_api),
        Op::GetApi => one(body, on, admin::get_api),
        Op::ListKeys => one(body, on, admin::list_keys),
        Op::DeleteApi => one(body, on, admin::delete_api),
        Op::CreateKey => one(body, on, keys::create_key),
        Op::VerifyKey => checked::<VerifyKeyRequest>(body),
        Op::GetKey => one(body, on, keys::get_key),
        Op::UpdateKey => one(body, on, keys::update_key),
        Op::DeleteKey => one(body, on, keys::delete_key),
        Op::RerollKey => one(body, on, keys::reroll_key),
        Op::MigrateKeys => one(body, on, crate::migrate::migrate_keys),
        Op::AddPermissions => link_op!(AddPermissionsRequest, PermissionLinks.permissions, Add),
        Op::RemovePermissions => link_op!(
            RemovePermissionsRequest,
            PermissionLinks.permissions,
            Remove
        ),
        Op::SetPermissions => link_op!(SetPermissionsRequest, PermissionLinks.permissions, Set),
        Op::AddRoles => link_op!(AddRolesRequest, RoleLinks.roles, Add),
        Op::RemoveRoles => link_op!(RemoveRolesRequest, RoleLinks.roles, Remove),
        Op::SetRoles => link_op!(SetRolesRequest, RoleLinks.roles, Set),
        Op::UpdateCredits => one(body, on, crate::credits::update_credits),
        Op::Whoami => checked::<WhoamiRequest>(body),
        Op::CreatePermission => one(body, on, admin::create_permission),
        Op::GetPermission => named_op!(GetPermissionRequest, get::<Permission>(permission)),
        Op::ListPermissions => one(body, on, admin::list_permissions),
        Op::DeletePermission => {
            named_op!(DeletePermissionRequest, delete::<Permission>(permission))
        }
        Op::CreateRole => one(body, on, admin::create_role),
        Op::GetRole => named_op!(GetRoleRequest, get::<Role>(role)),
        Op::ListRoles => one(body, on, admin::list_roles),
        Op::DeleteRole => named_op!(DeleteRoleRequest, delete::<Role>(role)),
        Op::SetRolePermissions => one(body, on, admin::set_role_permissions),
        Op::CreateIdentity => one(body, on, admin::create_identity),
        Op::GetIdentity => named_op!(GetIdentityRequest, get::<Identity>(identity)),
        Op::ListIdentities => one(body, on, admin::list_identities),
        Op::DeleteIdentity => named_op!(DeleteIdentityRequest, delete::<Identity>(identity)),
        Op::UpdateIdentity => one(body, on, admin::update_identity),
        Op::CreatePortalSession => one(body, on, portal::create_session),
        Op::GetPortal => one(body, on, portal::get_portal),
        Op::UpdatePortal => one(body, on, portal::update_portal),
        Op::RevokePortalSession => one(body, on, portal::revoke_session),
        Op::GetVerifications => checked::<GetVerificationsRequest>(body),
        // An operation without an arm here is unknown to this engine.
        other => Err(Error::not_found(format!(
            "unknown operation `{}`",
            other.name()
        ))),
    }
}

/// Every operation except `keys.verifyKey` / `keys.whoami`, inside the caller's transaction.
fn execute(conn: &Connection, ws: &str, op: Op, body: &[u8]) -> Result<Reply> {
    route(op, body, Some((conn, ws)))?.ok_or_else(|| {
        Error::server(format!(
            "operation `{}` does not run in a transaction",
            op.name()
        ))
    })
}

impl Engine {
    /// [`Engine::authenticate`] then [`Engine::dispatch`], with the same results, for callers on
    /// an async worker: the part that cannot wait — a root key already seen, and a
    /// `keys.verifyKey` that only reads (no credits, refill or re-hash) while a reader is
    /// idle — runs on the calling thread and ends in [`Step::Done`]; everything else comes
    /// back as [`Step::Blocking`], before anything was written.
    pub fn start<B>(
        &self,
        root_key: SecretKey,
        op: &str,
        body: B,
        idempotency_key: Option<String>,
    ) -> Step
    where
        B: AsRef<[u8]> + Send + 'static,
    {
        match op_named(op) {
            Ok(op) => self.start_op(root_key, op, body, idempotency_key),
            Err(e) => Step::Done(Err(e)),
        }
    }

    /// [`Engine::start`] for an operation already parsed.
    pub fn start_op<B>(
        &self,
        root_key: SecretKey,
        op: Op,
        body: B,
        idempotency_key: Option<String>,
    ) -> Step
    where
        B: AsRef<[u8]> + Send + 'static,
    {
        let cached = self.cached_root_key(root_key.expose());
        let ctx = match cached {
            Some(ctx) if op == Op::VerifyKey => ctx,
            cached => {
                let engine = self.clone();
                return Step::Blocking(Blocking(Box::new(move || {
                    let ctx = match cached {
                        Some(ctx) => ctx,
                        None => engine.authenticate(root_key.expose())?,
                    };
                    engine.dispatch_op(&ctx, op, body.as_ref(), idempotency_key.as_deref())
                })));
            }
        };
        self.start_verify(&ctx, body.as_ref())
    }

    /// `keys.verifyKey` in `ctx` as far as it goes without waiting (see [`Engine::start`], whose
    /// tail this is): an idle reader answers on the calling thread; the rest comes back as
    /// [`Step::Blocking`] before anything was written.
    pub fn start_verify(&self, ctx: &WorkspaceCtx, body: &[u8]) -> Step {
        if let Err(e) = check_body_size(body) {
            return Step::Done(Err(e));
        }
        let req: wire::VerifyKeyRequest = match parse_body(body) {
            Ok(req) => req,
            Err(e) => return Step::Done(Err(e)),
        };
        let pending = analytics::Pending::of(&req);
        match verify::try_verify(&self.inner, &ctx.workspace_id, &ctx.grants, req) {
            verify::VerifyStep::Done(r) => Step::Done(r.and_then(|data| {
                self.log_verification(&ctx.workspace_id, &pending, &data);
                reply(data)
            })),
            verify::VerifyStep::Blocking(rest) => {
                let (engine, ws) = (self.clone(), ctx.workspace_id.clone());
                Step::Blocking(Blocking(Box::new(move || {
                    let data = rest()?;
                    engine.log_verification(&ws, &pending, &data);
                    reply(data)
                })))
            }
        }
    }

    /// Runs operation `op` (`"keys.createKey"`, …; see [`wire::Op`]) with the JSON
    /// `body` in the caller's workspace. Unknown op → `not_found`; bad body → `bad_request`
    /// whose `errors` name each field (`body.<path>`). With `idempotency_key`, the first answer
    /// is replayed for 24 h to the same op and body (another op or body → `conflict`); the
    /// header is ignored for `keys.verifyKey` and `keys.whoami`. Blocking.
    pub fn dispatch(
        &self,
        ctx: &WorkspaceCtx,
        op: &str,
        body: &[u8],
        idempotency_key: Option<&str>,
    ) -> Result<Reply> {
        self.dispatch_op(ctx, op_named(op)?, body, idempotency_key)
    }

    /// [`Engine::dispatch`] for an operation already parsed.
    pub fn dispatch_op(
        &self,
        ctx: &WorkspaceCtx,
        op: Op,
        body: &[u8],
        idempotency_key: Option<&str>,
    ) -> Result<Reply> {
        check_body_size(body)?;
        let ws = ctx.workspace_id.as_str();
        match op {
            Op::VerifyKey => {
                let req: wire::VerifyKeyRequest = parse_body(body)?;
                let data = verify::verify(&self.inner, ws, &ctx.grants, &req)?;
                self.log_verification(ws, &analytics::Pending::of(&req), &data);
                return reply(data);
            }
            Op::Whoami => {
                let req: wire::WhoamiRequest = parse_body(body)?;
                return reply(verify::whoami(
                    &self.inner,
                    ws,
                    &ctx.grants,
                    req.key.expose(),
                )?);
            }
            Op::GetVerifications => {
                let req: wire::GetVerificationsRequest = parse_body(body)?;
                return reply(self.get_verifications(ctx, &req)?);
            }
            _ => {}
        }
        // A migration batch can be megabytes of JSON: parse it before taking the writer. A body
        // that does not parse takes the ordinary path, so its error (or an idempotency replay
        // or conflict) is the same as ever.
        let migration = (op == Op::MigrateKeys)
            .then(|| parse_body::<wire::MigrateKeysRequest>(body).ok())
            .flatten();
        // Likewise the fingerprint (canonical JSON) of a request carrying an idempotency key.
        let fingerprint = idempotency_key.map(|_| idempotency::fingerprint(op.name(), body));
        let idempotency = idempotency_key.zip(fingerprint);
        if let Some(req) = migration {
            // Batches arriving while the writer is busy are committed together (see
            // `pool::GroupCommit`); each one's answer is what it would be alone.
            let job = MigrateJob {
                ws: ws.to_string(),
                grants: ctx.grants.clone(),
                body: body.to_vec(),
                req,
                idempotency: idempotency.map(|(k, fp)| (k.to_string(), fp)),
            };
            return self.inner.migrations.submit(
                job,
                body.len(),
                || self.inner.writer(),
                |conn, job| {
                    let MigrateJob {
                        ws,
                        grants,
                        body,
                        req,
                        idempotency,
                    } = job;
                    let idempotency = idempotency.as_ref().map(|(k, fp)| (k.as_str(), fp.clone()));
                    self.write_op(conn, &ws, &grants, op, &body, Some(req), idempotency)
                },
            );
        }
        self.write(|conn| self.write_op(conn, ws, &ctx.grants, op, body, None, idempotency))
    }

    /// One operation inside the caller's write transaction: authorization, then the replay of
    /// an earlier answer to the same idempotency key, or the operation and its stored answer.
    #[allow(clippy::too_many_arguments)]
    fn write_op(
        &self,
        conn: &Connection,
        ws: &str,
        grants: &crate::authz::Grants,
        op: Op,
        body: &[u8],
        migration: Option<wire::MigrateKeysRequest>,
        idempotency: Option<(&str, String)>,
    ) -> Result<Reply> {
        // Before any replay: a root key may not fetch an answer it could not have caused.
        authz::authorize(conn, ws, grants, op, body, migration.as_ref())?;
        let slot = match idempotency {
            Some((k, fp)) => {
                match idempotency::lookup(&self.inner.idempotency, conn, ws, op.name(), fp, k)? {
                    Ok(replay) => return Ok(replay),
                    Err(slot) => Some(slot),
                }
            }
            None => None,
        };
        let out = match migration {
            Some(req) => reply(crate::migrate::migrate_keys(conn, ws, &req)?)?,
            None => execute(conn, ws, op, body)?,
        };
        if op == Op::ListIdentities {
            authz::authorize_listed_identities(grants, &out.data)?;
        }
        if let Some(slot) = slot {
            idempotency::store(conn, ws, op.name(), slot, &out)?;
        }
        Ok(out)
    }
}

/// A `keys.migrateKeys` batch waiting for the writer (owned: another caller may run it).
pub(crate) struct MigrateJob {
    ws: String,
    grants: std::sync::Arc<crate::authz::Grants>,
    body: Vec<u8>,
    req: wire::MigrateKeysRequest,
    idempotency: Option<(String, String)>,
}
