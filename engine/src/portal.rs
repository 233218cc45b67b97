//! The self-service key portal (issue 16): portals, portal sessions and the end-user routes.
//!
//! Client side (core, stable signature the bindings build on):
//!
//! ```text
//! impl Client {
//!     pub async fn create_portal_session(
//!         &self,
//!         request: &wire::CreatePortalSessionRequest, // {portal, external_id, scopes, return_url?, preview?}
//!     ) -> Result<wire::CreatePortalSessionResponseData>; // {id, url}
//!     pub async fn get_portal(&self, portal: &str) -> Result<wire::Portal>;
//!     pub async fn update_portal(&self, request: &wire::UpdatePortalRequest) -> Result<wire::Portal>;
//!     pub async fn revoke_portal_session(&self, session_id: &str) -> Result<()>;
//! }
//! ```
//!
//! Root-key operations (through [`Engine::dispatch`], permission-checked in `authz.rs` with
//! Unkey's portalrbac mapping): `portal.createSession`, `portal.getPortal`,
//! `portal.updatePortal`, `portal.revokeSession`. `createSession` answers `url` as the path
//! `/portal?code=pst_…`; the server puts its public base in front.
//!
//! End-user side (the server calls these; nothing here sees a root key):
//! [`Engine::portal_exchange`] trades a single-use code (valid [`DEFAULT_CODE_TTL`]) for an
//! access token (valid [`DEFAULT_SESSION_TTL`]); [`Engine::portal_authenticate`] finds the live
//! session of an access token; [`Engine::portal_call`] runs one [`PortalRoute`] in it.
//!
//! Storage: `portals` (one per api, created with defaults on first use) and `portal_sessions`
//! holding only sha256 hashes of the exchange code and of the access token (looked up by hash;
//! the code is marked used in the same conditional `UPDATE` that checks it, so a code is
//! redeemed at most once even by racing requests). The CSRF token is derived from the access
//! token (sha256 of a labelled copy), so it is never stored and cannot be derived from the
//! database. Isolation: every key route resolves the key through [`owned_key`], which only
//! finds live keys of the portal's api whose identity has the session's external id; any other
//! key is a 404 exactly like an absent one.

use std::sync::atomic::Ordering;
use std::time::Duration;

use keyshift_core::hashing;
use keyshift_core::keyformat::shown_value;
use keyshift_core::wire::*;
use keyshift_core::{Error, ErrorCode, Result, SecretKey};
use rusqlite::{params, Connection, OptionalExtension};

use crate::rows::{find_key, KeyRow};
use crate::util::{new_id, not_found, now_ms, parse_body, Db};
use crate::{admin, keys, page_reply, reply, Engine, Reply};

/// How long an exchange code stays valid (Unkey: 15 minutes).
pub const DEFAULT_CODE_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a session lasts once its code is exchanged (Unkey: 24 hours).
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Prefix of exchange codes.
pub const CODE_PREFIX: &str = "pst";
/// Prefix of access tokens.
pub const ACCESS_TOKEN_PREFIX: &str = "pat";
/// Path (and query name) of the portal page that exchanges a code.
pub const PORTAL_PATH: &str = "/portal";
/// How long used or expired session rows are kept before they are purged.
const PURGE_AFTER_MS: i64 = 24 * 60 * 60 * 1000;

/// The lifetimes of exchange codes and sessions (milliseconds), settable for tests.
pub(crate) struct Lifetimes {
    code_ms: std::sync::atomic::AtomicI64,
    session_ms: std::sync::atomic::AtomicI64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            code_ms: (DEFAULT_CODE_TTL.as_millis() as i64).into(),
            session_ms: (DEFAULT_SESSION_TTL.as_millis() as i64).into(),
        }
    }
}

/// A route an end user calls with a portal session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortalRoute {
    GetSession,
    ListKeys,
    CreateKey,
    UpdateKey,
    RerollKey,
    DeleteKey,
    GetVerifications,
    Logout,
}

impl PortalRoute {
    pub const ALL: &'static [PortalRoute] = &[
        PortalRoute::GetSession,
        PortalRoute::ListKeys,
        PortalRoute::CreateKey,
        PortalRoute::UpdateKey,
        PortalRoute::RerollKey,
        PortalRoute::DeleteKey,
        PortalRoute::GetVerifications,
        PortalRoute::Logout,
    ];

    /// The wire name (`portal.listKeys`), routed as `POST /v2/<name>`.
    pub const fn name(self) -> &'static str {
        match self {
            PortalRoute::GetSession => "portal.getSession",
            PortalRoute::ListKeys => "portal.listKeys",
            PortalRoute::CreateKey => "portal.createKey",
            PortalRoute::UpdateKey => "portal.updateKey",
            PortalRoute::RerollKey => "portal.rerollKey",
            PortalRoute::DeleteKey => "portal.deleteKey",
            PortalRoute::GetVerifications => "portal.getVerifications",
            PortalRoute::Logout => "portal.logout",
        }
    }

    /// Changes something: needs the CSRF token when authenticated by cookie.
    pub const fn is_mutating(self) -> bool {
        matches!(
            self,
            PortalRoute::CreateKey
                | PortalRoute::UpdateKey
                | PortalRoute::RerollKey
                | PortalRoute::DeleteKey
                | PortalRoute::Logout
        )
    }

    /// Answered with a list and `pagination`.
    pub const fn is_list(self) -> bool {
        matches!(self, PortalRoute::ListKeys)
    }

    /// The scope the session needs (`None`: any session).
    fn scope(self) -> Option<&'static str> {
        match self {
            PortalRoute::GetSession | PortalRoute::Logout => None,
            PortalRoute::ListKeys => Some("keys:read"),
            PortalRoute::CreateKey => Some("keys:create"),
            PortalRoute::UpdateKey => Some("keys:update"),
            PortalRoute::RerollKey => Some("keys:reroll"),
            PortalRoute::DeleteKey => Some("keys:delete"),
            PortalRoute::GetVerifications => Some("analytics:read"),
        }
    }
}

/// A live portal session, found by its access token.
#[derive(Clone)]
pub struct PortalSessionCtx {
    pub session_id: String,
    pub workspace_id: String,
    pub portal_id: String,
    pub api_id: String,
    pub external_id: String,
    pub scopes: Vec<String>,
    pub expires_at: i64,
    pub return_url: Option<String>,
    csrf_token: SecretKey,
}

keyshift_core::redacted_debug!(PortalSessionCtx {
    session_id,
    portal_id,
    api_id,
    scopes,
    expires_at,
    ..
});

impl PortalSessionCtx {
    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        self.csrf_token.ct_eq(presented)
    }

    pub fn csrf_token(&self) -> &str {
        self.csrf_token.expose()
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The body of `route` in this session: the body is checked first (400), then the
    /// session's scope for the route (403).
    fn request<T: serde::de::DeserializeOwned + Validate>(
        &self,
        route: PortalRoute,
        body: &[u8],
    ) -> Result<T> {
        let req = parse_body(body)?;
        self.check_scope(route)?;
        Ok(req)
    }

    /// Checks `route`'s scope: 403 naming the missing scope. Listing keys is allowed by any
    /// `keys:*` scope (a page that may reroll must show what it rerolls).
    fn check_scope(&self, route: PortalRoute) -> Result<()> {
        let Some(scope) = route.scope() else {
            return Ok(());
        };
        let ok = self.has_scope(scope)
            || (route == PortalRoute::ListKeys
                && self.scopes.iter().any(|s| s.starts_with("keys:")));
        if ok {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::Forbidden,
                format!("this portal session lacks the scope `{scope}`"),
            ))
        }
    }
}

/// What [`Engine::portal_exchange`] answers: the access token (shown once) and its session.
#[derive(Debug)]
pub struct PortalExchange {
    pub session_id: String,
    pub access_token: SecretKey,
    pub expires_at: i64,
}

/// The CSRF token of the session whose access token is `token`.
fn csrf_of(token: &str) -> SecretKey {
    SecretKey::new(hashing::sha256_base64(&format!(
        "keyshift-portal-csrf\0{token}"
    )))
}

/// `prefix_` + base58 of `n` random bytes from the OS.
fn random_token(prefix: &str, n: usize) -> Result<SecretKey> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::server(format!("the OS random number generator failed: {e}")))?;
    Ok(SecretKey::new(format!(
        "{prefix}_{}",
        bs58::encode(bytes).into_string()
    )))
}

/// The one answer for an unknown, used, expired or revoked code or token.
fn unauthorized(what: &str) -> Error {
    Error::new(
        ErrorCode::Unauthorized,
        format!("the portal {what} is invalid, expired or already used"),
    )
}

fn portal_not_found(portal: &str) -> Error {
    not_found("portal", portal)
}

/// A portal row.
struct PortalRow {
    id: String,
    api_id: String,
    name: Option<String>,
    grantable: Vec<String>,
}

fn portal_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PortalRow> {
    let grantable: String = r.get(3)?;
    Ok(PortalRow {
        id: r.get(0)?,
        api_id: r.get(1)?,
        name: r.get(2)?,
        grantable: serde_json::from_str(&grantable).unwrap_or_default(),
    })
}

const PORTAL_COLUMNS: &str = "p.id, p.api_id, p.name, p.grantable_scopes";

/// The api a `portal` reference (portal id or api id) names in `ws`, if it is a live api
/// (for the permission checks; the operation answers the 404).
pub(crate) fn api_of(conn: &Connection, ws: &str, portal: &str) -> Result<Option<String>> {
    conn.prepare_cached(
        "SELECT a.id FROM apis a LEFT JOIN portals p ON p.api_id = a.id \
         WHERE a.workspace_id = ?1 AND a.deleted_at IS NULL AND (a.id = ?2 OR p.id = ?2)",
    )
    .db()?
    .query_row(params![ws, portal], |r| r.get(0))
    .optional()
    .db()
}

/// The api of session `session_id` of `ws`, if any.
pub(crate) fn api_of_session(
    conn: &Connection,
    ws: &str,
    session_id: &str,
) -> Result<Option<String>> {
    conn.prepare_cached(
        "SELECT p.api_id FROM portal_sessions s JOIN portals p ON p.id = s.portal_id \
         WHERE s.id = ?1 AND s.workspace_id = ?2",
    )
    .db()?
    .query_row(params![session_id, ws], |r| r.get(0))
    .optional()
    .db()
}

/// The portal `portal` names (a portal id, or an api id whose portal is created with defaults
/// when missing), or 404.
fn resolve_portal(conn: &Connection, ws: &str, portal: &str) -> Result<PortalRow> {
    let Some(api_id) = api_of(conn, ws, portal)? else {
        return Err(portal_not_found(portal));
    };
    let found = conn
        .prepare_cached(&format!(
            "SELECT {PORTAL_COLUMNS} FROM portals p WHERE p.api_id = ?1 AND p.workspace_id = ?2"
        ))
        .db()?
        .query_row(params![api_id, ws], portal_row)
        .optional()
        .db()?;
    if let Some(p) = found {
        return Ok(p);
    }
    let id = new_id("portal")?;
    conn.prepare_cached(
        "INSERT INTO portals (id, workspace_id, api_id, name, grantable_scopes, created_at) \
         VALUES (?1, ?2, ?3, NULL, '[]', ?4)",
    )
    .db()?
    .execute(params![id, ws, api_id, now_ms()])
    .db()?;
    Ok(PortalRow {
        id,
        api_id,
        name: None,
        grantable: Vec::new(),
    })
}

/// The wire form of a portal (its name defaults to its api's).
fn portal_data(conn: &Connection, p: &PortalRow) -> Result<Portal> {
    let name = match &p.name {
        Some(n) => n.clone(),
        None => conn
            .query_row("SELECT name FROM apis WHERE id = ?1", [&p.api_id], |r| {
                r.get(0)
            })
            .db()?,
    };
    Ok(Portal {
        portal_id: p.id.clone(),
        api_id: p.api_id.clone(),
        name,
        grantable_scopes: p.grantable.clone(),
    })
}

pub(crate) fn create_session(
    conn: &Connection,
    ws: &str,
    req: &CreatePortalSessionRequest,
) -> Result<CreatePortalSessionResponseData> {
    let portal = resolve_portal(conn, ws, &req.portal)?;
    let id = new_id("ps")?;
    let code = random_token(CODE_PREFIX, 24)?;
    let mut scopes = req.scopes.clone();
    scopes.sort();
    scopes.dedup();
    let scopes = serde_json::to_string(&scopes).map_err(|e| Error::server(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO portal_sessions (id, workspace_id, portal_id, external_id, scopes, \
         return_url, preview, code_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .db()?
    .execute(params![
        id,
        ws,
        portal.id,
        req.external_id,
        scopes,
        req.return_url,
        req.preview.unwrap_or(false),
        hashing::sha256_base64(code.expose()),
        now_ms()
    ])
    .db()?;
    Ok(CreatePortalSessionResponseData {
        id,
        url: format!("{PORTAL_PATH}?code={}", code.expose()),
    })
}

pub(crate) fn get_portal(conn: &Connection, ws: &str, req: &GetPortalRequest) -> Result<Portal> {
    let p = resolve_portal(conn, ws, &req.portal)?;
    portal_data(conn, &p)
}

pub(crate) fn update_portal(
    conn: &Connection,
    ws: &str,
    req: &UpdatePortalRequest,
) -> Result<Portal> {
    let mut p = resolve_portal(conn, ws, &req.portal)?;
    if let Some(name) = &req.name {
        p.name = Some(name.clone());
    }
    if let Some(scopes) = &req.grantable_scopes {
        let mut scopes = scopes.clone();
        scopes.sort();
        scopes.dedup();
        p.grantable = scopes;
    }
    let grantable =
        serde_json::to_string(&p.grantable).map_err(|e| Error::server(e.to_string()))?;
    conn.execute(
        "UPDATE portals SET name = ?1, grantable_scopes = ?2, updated_at = ?3 WHERE id = ?4",
        params![p.name, grantable, now_ms(), p.id],
    )
    .db()?;
    portal_data(conn, &p)
}

pub(crate) fn revoke_session(
    conn: &Connection,
    ws: &str,
    req: &RevokePortalSessionRequest,
) -> Result<EmptyData> {
    let n = conn
        .execute(
            "UPDATE portal_sessions SET revoked_at = COALESCE(revoked_at, ?1) \
             WHERE id = ?2 AND workspace_id = ?3",
            params![now_ms(), req.session_id, ws],
        )
        .db()?;
    if n == 0 {
        return Err(not_found("portal session", &req.session_id));
    }
    Ok(EmptyData {})
}

/// The live key `key_id` of the session's api owned by the session's end user, or the same 404
/// as an absent key.
fn owned_key(conn: &Connection, s: &PortalSessionCtx, key_id: &str) -> Result<KeyRow> {
    let not_found = || not_found("key", key_id);
    let key = find_key(conn, &s.workspace_id, key_id)?.ok_or_else(not_found)?;
    if key.deleted_at.is_some() || key.api_id != s.api_id {
        return Err(not_found());
    }
    let owner: Option<String> = match &key.identity_id {
        Some(identity) => conn
            .query_row(
                "SELECT external_id FROM identities WHERE id = ?1 AND workspace_id = ?2",
                params![identity, s.workspace_id],
                |r| r.get(0),
            )
            .optional()
            .db()?,
        None => None,
    };
    if owner.as_deref() != Some(s.external_id.as_str()) {
        return Err(not_found());
    }
    Ok(key)
}

/// The portal of a session, for its routes.
fn session_portal(conn: &Connection, s: &PortalSessionCtx) -> Result<PortalRow> {
    conn.prepare_cached(&format!(
        "SELECT {PORTAL_COLUMNS} FROM portals p WHERE p.id = ?1 AND p.workspace_id = ?2"
    ))
    .db()?
    .query_row(params![s.portal_id, s.workspace_id], portal_row)
    .db()
}

impl Engine {
    /// Sets how long exchange codes and sessions live (tests shorten them). Applies to codes
    /// exchanged from now on, whenever they were made.
    pub fn set_portal_lifetimes(&self, code: Duration, session: Duration) {
        let lt = &self.inner.portal_lifetimes;
        lt.code_ms.store(code.as_millis() as i64, Ordering::Relaxed);
        lt.session_ms
            .store(session.as_millis() as i64, Ordering::Relaxed);
    }

    /// `portal.exchangeCode`: trades a single-use exchange code for the session's access
    /// token. An unknown, used, expired or revoked code (or one of a deleted api) is the same
    /// 401. Blocking.
    pub fn portal_exchange(&self, code: &str) -> Result<PortalExchange> {
        let code_ms = self.inner.portal_lifetimes.code_ms.load(Ordering::Relaxed);
        let session_ms = self
            .inner
            .portal_lifetimes
            .session_ms
            .load(Ordering::Relaxed);
        let hash = hashing::sha256_base64(code);
        let token = random_token(ACCESS_TOKEN_PREFIX, 32)?;
        let token_hash = hashing::sha256_base64(token.expose());
        self.write(|conn| {
            let now = now_ms();
            let expires_at = now.saturating_add(session_ms);
            // Checks and uses the code in one statement: at most one exchange wins.
            let id: Option<String> = conn
                .prepare_cached(
                    "UPDATE portal_sessions SET exchanged_at = ?1, token_hash = ?2, \
                     expires_at = ?3 \
                     WHERE code_hash = ?4 AND exchanged_at IS NULL AND revoked_at IS NULL \
                     AND created_at + ?5 > ?1 \
                     AND portal_id IN (SELECT p.id FROM portals p JOIN apis a ON a.id = p.api_id \
                                       WHERE a.deleted_at IS NULL) \
                     RETURNING id",
                )
                .db()?
                .query_row(params![now, token_hash, expires_at, hash, code_ms], |r| {
                    r.get(0)
                })
                .optional()
                .db()?;
            // Old rows go: sessions expired or revoked a day ago, codes never used.
            conn.prepare_cached(
                "DELETE FROM portal_sessions WHERE (expires_at IS NOT NULL AND expires_at < ?1) \
                 OR (revoked_at IS NOT NULL AND revoked_at < ?1) \
                 OR (exchanged_at IS NULL AND created_at < ?1 - ?2)",
            )
            .db()?
            .execute(params![now - PURGE_AFTER_MS, code_ms])
            .db()?;
            let Some(session_id) = id else {
                return Err(unauthorized("code"));
            };
            Ok(PortalExchange {
                session_id,
                access_token: token.clone(),
                expires_at,
            })
        })
    }

    /// [`Engine::portal_exchange`] of the JSON body `{code}` of `portal.exchangeCode` (400 for
    /// a body that is not one).
    pub fn portal_exchange_body(&self, body: &[u8]) -> Result<PortalExchange> {
        let req: ExchangeCodeRequest = parse_body(body)?;
        self.portal_exchange(req.code.expose())
    }

    /// The live session of access token `token`, or 401 (unknown, expired, revoked, or its
    /// api deleted). Blocking.
    pub fn portal_authenticate(&self, token: &str) -> Result<PortalSessionCtx> {
        let hash = hashing::sha256_base64(token);
        let conn = self.inner.reader()?;
        let found = conn
            .prepare_cached(
                "SELECT s.id, s.workspace_id, s.portal_id, p.api_id, s.external_id, s.scopes, \
                 s.expires_at, s.return_url, s.token_hash \
                 FROM portal_sessions s JOIN portals p ON p.id = s.portal_id \
                 JOIN apis a ON a.id = p.api_id \
                 WHERE s.token_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2 \
                 AND a.deleted_at IS NULL",
            )
            .db()?
            .query_row(params![hash, now_ms()], |r| {
                let scopes: String = r.get(5)?;
                let stored: String = r.get(8)?;
                Ok((
                    PortalSessionCtx {
                        session_id: r.get(0)?,
                        workspace_id: r.get(1)?,
                        portal_id: r.get(2)?,
                        api_id: r.get(3)?,
                        external_id: r.get(4)?,
                        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
                        expires_at: r.get(6)?,
                        return_url: r.get(7)?,
                        csrf_token: csrf_of(token),
                    },
                    stored,
                ))
            })
            .optional()
            .db()?;
        match found {
            Some((ctx, stored)) if SecretKey::new(stored.as_str()).ct_eq(&hash) => Ok(ctx),
            _ => Err(unauthorized("session")),
        }
    }

    /// Runs `route` with the JSON `body` in session `s` (found by
    /// [`Engine::portal_authenticate`]): checks the body, then the session's scope (403), then
    /// runs it on the session's own keys only. Blocking.
    pub fn portal_call(
        &self,
        s: &PortalSessionCtx,
        route: PortalRoute,
        body: &[u8],
    ) -> Result<Reply> {
        let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            body
        };
        match route {
            PortalRoute::GetSession => {
                s.request::<PortalEmptyRequest>(route, body)?;
                let conn = self.inner.reader()?;
                let portal = portal_data(&conn, &session_portal(&conn, s)?)?;
                reply(PortalSession {
                    session_id: s.session_id.clone(),
                    external_id: s.external_id.clone(),
                    scopes: s.scopes.clone(),
                    portal,
                    expires_at: s.expires_at,
                    csrf_token: s.csrf_token.expose().to_string(),
                    return_url: s.return_url.clone(),
                })
            }
            PortalRoute::Logout => {
                s.request::<PortalEmptyRequest>(route, body)?;
                self.write(|conn| {
                    revoke_session(
                        conn,
                        &s.workspace_id,
                        &RevokePortalSessionRequest {
                            session_id: s.session_id.clone(),
                        },
                    )
                })?;
                reply(EmptyData {})
            }
            PortalRoute::ListKeys => {
                let req: PortalListKeysRequest = s.request(route, body)?;
                let conn = self.inner.reader()?;
                let page = admin::list_keys(
                    &conn,
                    &s.workspace_id,
                    &ListKeysRequest {
                        api_id: s.api_id.clone(),
                        limit: req.limit,
                        cursor: req.cursor,
                        external_id: Some(s.external_id.clone()),
                        ..Default::default()
                    },
                )?;
                page_reply(page)
            }
            PortalRoute::CreateKey => {
                let req: PortalCreateKeyRequest = s.request(route, body)?;
                self.write(|conn| {
                    let portal = session_portal(conn, s)?;
                    let permissions = req.permissions.clone().unwrap_or_default();
                    if let Some(bad) = permissions.iter().find(|p| !portal.grantable.contains(p)) {
                        return Err(Error::new(
                            ErrorCode::Forbidden,
                            format!(
                                "the permission `{}` is not grantable in this portal",
                                shown_value(bad)
                            ),
                        ));
                    }
                    let created = keys::create_key(
                        conn,
                        &s.workspace_id,
                        &CreateKeyRequest {
                            api_id: s.api_id.clone(),
                            name: Some(req.name.clone()),
                            external_id: Some(s.external_id.clone()),
                            permissions: (!permissions.is_empty()).then_some(permissions),
                            expires: req.expires,
                            ..Default::default()
                        },
                    )?;
                    reply(created)
                })
            }
            PortalRoute::UpdateKey => {
                let req: PortalUpdateKeyRequest = s.request(route, body)?;
                self.write_owned_key(s, &req.key_id, |conn, key| {
                    let update = UpdateKeyRequest {
                        key_id: key.id,
                        name: Patch::Set(req.name.clone()),
                        ..Default::default()
                    };
                    keys::update_key(conn, &s.workspace_id, &update)?;
                    reply(EmptyData {})
                })
            }
            PortalRoute::RerollKey => {
                let req: PortalRerollKeyRequest = s.request(route, body)?;
                self.write_owned_key(s, &req.key_id, |conn, _| {
                    reply(keys::reroll_key(conn, &s.workspace_id, &req)?)
                })
            }
            PortalRoute::DeleteKey => {
                let req: PortalDeleteKeyRequest = s.request(route, body)?;
                self.write_owned_key(s, &req.key_id, |conn, key| {
                    let delete = DeleteKeyRequest {
                        key_id: key.id,
                        permanent: None,
                    };
                    keys::delete_key(conn, &s.workspace_id, &delete)?;
                    reply(EmptyData {})
                })
            }
            PortalRoute::GetVerifications => {
                let req: PortalGetVerificationsRequest = s.request(route, body)?;
                self.portal_verifications(s, &req)
            }
        }
    }

    /// Runs `f` in a write transaction on key `key_id`, when it is a live key of the session's
    /// api owned by the session's end user (404 otherwise).
    fn write_owned_key(
        &self,
        s: &PortalSessionCtx,
        key_id: &str,
        f: impl FnOnce(&Connection, KeyRow) -> Result<Reply>,
    ) -> Result<Reply> {
        self.write(|conn| f(conn, owned_key(conn, s, key_id)?))
    }

    /// `portal.getVerifications`: the session's end user's verifications in the portal's api
    /// (of one of their keys with `keyId`), per minute, hour or day by the window's length.
    fn portal_verifications(
        &self,
        s: &PortalSessionCtx,
        req: &PortalGetVerificationsRequest,
    ) -> Result<Reply> {
        if let Some(key_id) = &req.key_id {
            let conn = self.inner.reader()?;
            owned_key(&conn, s, key_id)?;
        }
        reply(self.verification_buckets(
            &s.workspace_id,
            &s.api_id,
            &s.external_id,
            req.key_id.as_deref(),
            req.start_time,
            req.end_time,
        )?)
    }
}
