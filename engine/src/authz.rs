//! Root-key permissions (DESIGN.md §4): every operation checks the permission Unkey's route
//! checks, with Unkey's names.
//!
//! A permission is `*` (everything; the seeded root key and in-process callers have it) or
//! `<resource>.<id>.<action>` with the resources and actions of Unkey's `pkg/rbac`: `api.*.
//! create_key` (every api), `api.<apiId>.verify_key` (one api), `rbac.*.create_role`,
//! `identity.*.read_identity`, … Names match exactly, as in Unkey: `*` in the id is the
//! wildcard only because routes ask for `api.*.<action>` or `api.<apiId>.<action>`.
//!
//! What each route asks for, and what it answers when the permission is missing, follows
//! Unkey's handlers (`svc/api/routes/v2_*/handler.go`): mostly 403, but `keys.createKey` and
//! `apis.listKeys` answer the api's 404, `keys.whoami` the key's 404 and `keys.verifyKey` a
//! 200 `NOT_FOUND`, so that a root key cannot learn that something it may not see exists.
//! Checks that need no lookup come before it (a 403 even for an unknown id); checks on a
//! key's api come after the key is found (an unknown key stays a 404).

use std::collections::BTreeSet;

use keyshift_core::keyformat::shown_value;
use keyshift_core::wire::{self, MigrateKeysRequest, Op};
use keyshift_core::{Error, ErrorCode, Result};
use rusqlite::{params, Connection, OptionalExtension};

use crate::util::{parse_body, Db};

/// The permission that grants everything.
pub const ALL: &str = "*";

/// Resource types of Unkey's `pkg/rbac` and the actions each has (its `ActionType`s).
pub const RESOURCE_ACTIONS: &[(&str, &[&str])] = &[
    (
        "api",
        &[
            "read_api",
            "create_api",
            "delete_api",
            "update_api",
            "create_key",
            "update_key",
            "delete_key",
            "encrypt_key",
            "decrypt_key",
            "read_key",
            "verify_key",
            "read_analytics",
        ],
    ),
    (
        "ratelimit",
        &[
            "limit",
            "create_namespace",
            "read_namespace",
            "update_namespace",
            "delete_namespace",
            "set_override",
            "read_override",
            "delete_override",
            "list_overrides",
        ],
    ),
    (
        "rbac",
        &[
            "create_permission",
            "update_permission",
            "delete_permission",
            "read_permission",
            "create_role",
            "update_role",
            "delete_role",
            "read_role",
            "add_permission_to_key",
            "remove_permission_from_key",
            "add_role_to_key",
            "remove_role_from_key",
            "add_permission_to_role",
            "remove_permission_from_role",
        ],
    ),
    (
        "identity",
        &[
            "create_identity",
            "read_identity",
            "update_identity",
            "delete_identity",
        ],
    ),
];

/// Longest root-key permission name accepted.
const PERMISSION_MAX_LEN: usize = 512;

/// Checks a permission given to a root key: `*`, or `<resource>.<id>.<action>` with one of
/// Unkey's resources and its actions and an id of `[A-Za-z0-9_-]` or `*`
/// (`invalid_input`, field `permission`, naming what is accepted).
pub fn validate_root_key_permission(permission: &str) -> Result<()> {
    if permission == ALL {
        return Ok(());
    }
    let bad = |why: String| {
        Err(Error::invalid_input(
            "permission",
            format!(
                "invalid root key permission `{}`: {why}",
                shown_value(permission)
            ),
        ))
    };
    if permission.len() > PERMISSION_MAX_LEN {
        return bad(format!("longer than {PERMISSION_MAX_LEN} bytes"));
    }
    let parts: Vec<&str> = permission.split('.').collect();
    let [resource, id, action] = parts[..] else {
        return bad(
            "expected `*` or `<resource>.<id>.<action>` such as `api.*.verify_key`".to_string(),
        );
    };
    let Some((_, actions)) = RESOURCE_ACTIONS.iter().find(|(r, _)| *r == resource) else {
        let resources: Vec<&str> = RESOURCE_ACTIONS.iter().map(|(r, _)| *r).collect();
        return bad(format!(
            "unknown resource `{}`; one of {}",
            shown_value(resource),
            resources.join(", ")
        ));
    };
    let id_ok = id == "*"
        || (!id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    if !id_ok {
        return bad("the id must be `*` or an id of [A-Za-z0-9_-]".to_string());
    }
    if !actions.contains(&action) {
        return bad(format!(
            "unknown action `{}` for `{resource}`; one of {}",
            shown_value(action),
            actions.join(", ")
        ));
    }
    Ok(())
}

/// The permissions of a root key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    all: bool,
    names: BTreeSet<String>,
}

impl Grants {
    /// Everything (`*`): the seeded root key and in-process callers.
    pub fn all() -> Grants {
        Grants {
            all: true,
            names: BTreeSet::from([ALL.to_string()]),
        }
    }

    /// Exactly these permissions (`*` among them grants everything).
    pub fn from_names<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Grants {
        let names: BTreeSet<String> = names.into_iter().map(Into::into).collect();
        Grants {
            all: names.contains(ALL),
            names,
        }
    }

    /// Whether these grants include everything.
    pub fn is_all(&self) -> bool {
        self.all
    }

    /// Whether `permission` is granted (exactly, or through `*`).
    pub fn allows(&self, permission: &str) -> bool {
        self.all || self.names.contains(permission)
    }

    /// The permission names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// `api.*.<action>` or `api.<api_id>.<action>`.
    pub(crate) fn on_api(&self, api_id: &str, action: &str) -> bool {
        self.allows(&format!("api.*.{action}")) || self.allows(&format!("api.{api_id}.{action}"))
    }

    /// Whether this root key may verify keys of `api_id` (else a verification answers
    /// `NOT_FOUND`, as Unkey does: a root key learns nothing about keys it may not verify).
    pub(crate) fn may_verify(&self, api_id: &str) -> bool {
        self.on_api(api_id, "verify_key")
    }
}

/// A permission requirement: a tree of permission names, as Unkey's `rbac.Or/And/T`.
#[derive(Clone, Debug)]
pub(crate) enum Need {
    /// One permission; `shown` is how a message names it (request ids are masked).
    Perm {
        name: String,
        shown: String,
    },
    Any(Vec<Need>),
    All(Vec<Need>),
}

impl Need {
    fn perm(name: impl Into<String>) -> Need {
        let name = name.into();
        Need::Perm {
            shown: name.clone(),
            name,
        }
    }

    /// `<resource>.*.<action>` or `<resource>.<id>.<action>`. `id` from the request is shown
    /// masked unless it looks like a name ([`shown_value`]); one from the database as it is.
    fn on(resource: &str, id: &str, action: &str, id_from_request: bool) -> Need {
        let shown_id = if id_from_request {
            shown_value(id)
        } else {
            id.to_string()
        };
        Need::Any(vec![
            Need::perm(format!("{resource}.*.{action}")),
            Need::Perm {
                name: format!("{resource}.{id}.{action}"),
                shown: format!("{resource}.{shown_id}.{action}"),
            },
        ])
    }

    fn met(&self, grants: &Grants) -> bool {
        match self {
            Need::Perm { name, .. } => grants.allows(name),
            Need::Any(needs) => needs.iter().any(|n| n.met(grants)),
            Need::All(needs) => needs.iter().all(|n| n.met(grants)),
        }
    }

    fn describe(&self) -> String {
        match self {
            Need::Perm { shown, .. } => shown.clone(),
            Need::Any(needs) => needs
                .iter()
                .map(Need::describe)
                .collect::<Vec<_>>()
                .join(" or "),
            Need::All(needs) => needs
                .iter()
                .map(Need::describe)
                .collect::<Vec<_>>()
                .join(" and "),
        }
    }

    /// Unkey's message for an unmet requirement: the first unmet part of an `All`, then
    /// `Missing permission: 'x'` or `Missing one of these permissions: a or b`.
    fn missing(&self, grants: &Grants) -> Option<String> {
        match self {
            Need::Perm { shown, .. } => {
                (!self.met(grants)).then(|| format!("Missing permission: '{shown}'"))
            }
            Need::Any(_) => (!self.met(grants))
                .then(|| format!("Missing one of these permissions: {}", self.describe())),
            Need::All(needs) => needs.iter().find_map(|n| n.missing(grants)),
        }
    }

    /// 403 unless met.
    pub(crate) fn check(&self, grants: &Grants) -> Result<()> {
        match self.missing(grants) {
            None => Ok(()),
            Some(message) => Err(Error::new(ErrorCode::Forbidden, message)),
        }
    }
}

/// The api of key `key_id` of `ws`; with `live_only`, only of a key not deleted (so that an
/// unknown or deleted key keeps its 404).
fn key_api(conn: &Connection, ws: &str, key_id: &str, live_only: bool) -> Result<Option<String>> {
    conn.prepare_cached(
        "SELECT api_id FROM keys WHERE id = ?1 AND workspace_id = ?2 \
         AND (?3 = 0 OR deleted_at IS NULL)",
    )
    .db()?
    .query_row(params![key_id, ws, live_only], |r| r.get(0))
    .optional()
    .db()
}

/// Whether api `api_id` of `ws` exists and is not deleted.
fn live_api(conn: &Connection, ws: &str, api_id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM apis WHERE id = ?1 AND workspace_id = ?2 AND deleted_at IS NULL",
        )
        .db()?
        .query_row(params![api_id, ws], |r| r.get::<_, i64>(0))
        .optional()
        .db()?
        .is_some())
}

/// Whether any of `slugs` names no permission of `ws` yet (the operation would create it).
fn creates_permissions(conn: &Connection, ws: &str, slugs: &[String]) -> Result<bool> {
    let mut stmt = conn
        .prepare_cached("SELECT 1 FROM permissions WHERE workspace_id = ?1 AND slug = ?2")
        .db()?;
    for slug in slugs {
        if stmt
            .query_row(params![ws, slug], |r| r.get::<_, i64>(0))
            .optional()
            .db()?
            .is_none()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The api's 404, word for word what the operation answers for an unknown api.
fn api_not_found(api_id: &str) -> Error {
    crate::util::not_found("api", api_id)
}

/// A key-scoped requirement: `update_key` on the key's api and, when `also` is not empty, these
/// `rbac.*.…` permissions too (Unkey's add/remove/setPermissions and addRoles).
fn update_key_and(api_id: &str, also: &[&str]) -> Need {
    let mut all = vec![Need::on("api", api_id, "update_key", false)];
    all.extend(also.iter().map(|a| Need::perm(format!("rbac.*.{a}"))));
    Need::All(all)
}

/// The one permission an operation needs whatever its body names, for those with a fixed rule.
fn fixed_permission(op: Op) -> Option<&'static str> {
    Some(match op {
        Op::CreateApi => "api.*.create_api",
        Op::CreatePermission => "rbac.*.create_permission",
        Op::GetPermission | Op::ListPermissions => "rbac.*.read_permission",
        Op::DeletePermission => "rbac.*.delete_permission",
        Op::GetRole | Op::ListRoles => "rbac.*.read_role",
        Op::DeleteRole => "rbac.*.delete_role",
        Op::CreateIdentity => "identity.*.create_identity",
        Op::DeleteIdentity => "identity.*.delete_identity",
        Op::UpdateIdentity => "identity.*.update_identity",
        _ => return None,
    })
}

/// For an operation on one key: `update_key` on the key's api plus these `rbac.*.…`
/// permissions, and whether the operation creates the permissions it names when missing.
fn key_update_rule(op: Op) -> Option<(&'static [&'static str], bool)> {
    Some(match op {
        Op::UpdateKey | Op::UpdateCredits | Op::RemoveRoles | Op::SetRoles => (&[], false),
        Op::AddPermissions => (&["add_permission_to_key"], true),
        Op::RemovePermissions => (&["remove_permission_from_key"], false),
        Op::SetPermissions => (
            &["add_permission_to_key", "remove_permission_from_key"],
            true,
        ),
        Op::AddRoles => (&["add_role_to_key"], false),
        _ => return None,
    })
}

/// What a root key needs on api `api` to grant portal scope `scope` (Unkey's
/// `v2_portal_create_session` `ScopeQueries`, plus our `keys:update` and `keys:delete`). An
/// unknown scope needs what no key has but `*` (the body's validation refuses it first).
fn portal_scope_need(api: &str, scope: &str) -> Need {
    let action = match scope {
        "keys:read" => "read_key",
        // Rerolling is a create, as in Unkey.
        "keys:create" | "keys:reroll" => "create_key",
        "keys:update" => "update_key",
        "keys:delete" => "delete_key",
        "analytics:read" => "read_analytics",
        _ => return Need::perm(ALL),
    };
    Need::on("api", api, action, false)
}

/// The 403 of an operation without a rule here (fail closed).
fn no_rule(op_name: &str) -> Error {
    Error::new(
        ErrorCode::Forbidden,
        format!(
            "operation `{}` has no permission rule; only a root key with `*` may call it",
            shown_value(op_name)
        ),
    )
}

/// Checks that `grants` allow operation `op` with `body` in workspace `ws`, before the
/// operation runs (in its transaction). A body that does not parse is answered by the
/// operation's own 400 first, as Unkey validates the body before it authorizes. An operation
/// without a rule here is refused (fail closed). `keys.verifyKey` and `keys.whoami` check in
/// their own paths (`NOT_FOUND` / 404 instead of 403); `identities.listIdentities` also checks
/// every identity it lists ([`authorize_listed_identities`]).
pub(crate) fn authorize(
    conn: &Connection,
    ws: &str,
    grants: &Grants,
    op: Op,
    body: &[u8],
    migration: Option<&MigrateKeysRequest>,
) -> Result<()> {
    if grants.is_all() {
        return Ok(());
    }
    use wire::*;
    // A requirement on the key's api, or nothing to check when the key is unknown (the
    // operation answers its 404).
    let on_key = |key_id: &str, live_only: bool, f: &dyn Fn(&str) -> Need| -> Result<()> {
        match key_api(conn, ws, key_id, live_only)? {
            Some(api) => f(&api).check(grants),
            None => Ok(()),
        }
    };
    if let Some(permission) = fixed_permission(op) {
        crate::dispatch::validate_op(op, body)?;
        return Need::perm(permission).check(grants);
    }
    if let Some((also, creates)) = key_update_rule(op) {
        // The body is the operation's request; every one of them names `keyId` (and the
        // permissions it may create as `permissions`).
        crate::dispatch::validate_op(op, body)?;
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| Error::bad_request(format!("invalid JSON: {e}")))?;
        let key_id = value["keyId"].as_str().unwrap_or_default();
        on_key(key_id, true, &|api| update_key_and(api, also))?;
        if !creates || key_api(conn, ws, key_id, true)?.is_none() {
            return Ok(());
        }
        let slugs: Vec<String> = value["permissions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        if !creates_permissions(conn, ws, &slugs)? {
            return Ok(());
        }
        return Need::perm("rbac.*.create_permission").check(grants);
    }
    let need = match op {
        // analytics.getVerifications checks `read_analytics` itself (it scopes by api).
        Op::VerifyKey | Op::Whoami | Op::GetVerifications => return Ok(()),
        Op::GetApi => {
            let r: GetApiRequest = parse_body(body)?;
            Need::on("api", &r.api_id, "read_api", true)
        }
        Op::DeleteApi => {
            let r: DeleteApiRequest = parse_body(body)?;
            Need::on("api", &r.api_id, "delete_api", true)
        }
        Op::ListKeys | Op::CreateKey => {
            // After the api's lookup, and masked as its 404.
            let api_id = if op == Op::ListKeys {
                parse_body::<ListKeysRequest>(body)?.api_id
            } else {
                parse_body::<CreateKeyRequest>(body)?.api_id
            };
            if !live_api(conn, ws, &api_id)? {
                return Ok(());
            }
            let need = if op == Op::ListKeys {
                Need::All(vec![
                    Need::on("api", &api_id, "read_key", false),
                    Need::on("api", &api_id, "read_api", false),
                ])
            } else {
                Need::on("api", &api_id, "create_key", false)
            };
            return need.check(grants).map_err(|_| api_not_found(&api_id));
        }
        Op::MigrateKeys => {
            let parsed;
            let r = match migration {
                Some(r) => r,
                None => {
                    parsed = parse_body::<MigrateKeysRequest>(body)?;
                    &parsed
                }
            };
            Need::on("api", &r.api_id, "create_key", true)
        }
        Op::RerollKey => {
            // A reroll is a create in Unkey. Deleted keys count too, so that the replay of
            // an idempotent reroll that revoked the old key is still authorized.
            let r: RerollKeyRequest = parse_body(body)?;
            return on_key(&r.key_id, false, &|api| {
                Need::on("api", api, "create_key", false)
            });
        }
        Op::GetKey => {
            let r: GetKeyRequest = parse_body(body)?;
            return on_key(&r.key_id, true, &|api| {
                Need::on("api", api, "read_key", false)
            });
        }
        Op::DeleteKey => {
            // A permanent delete also removes soft-deleted keys: check those too.
            let r: DeleteKeyRequest = parse_body(body)?;
            let live_only = !r.permanent.unwrap_or(false);
            return on_key(&r.key_id, live_only, &|api| {
                Need::on("api", api, "delete_key", false)
            });
        }
        Op::CreateRole => {
            let r: CreateRoleRequest = parse_body(body)?;
            let perms = r.permissions.unwrap_or_default();
            let mut all = vec![Need::perm("rbac.*.create_role")];
            if !perms.is_empty() {
                all.push(Need::perm("rbac.*.add_permission_to_role"));
                if creates_permissions(conn, ws, &perms)? {
                    all.push(Need::perm("rbac.*.create_permission"));
                }
            }
            Need::All(all)
        }
        Op::GetIdentity => {
            // After the identity's lookup (by id or external id).
            let r: GetIdentityRequest = parse_body(body)?;
            let id: Option<String> = conn
                .prepare_cached(
                    "SELECT id FROM identities WHERE workspace_id = ?1 \
                     AND (id = ?2 OR external_id = ?2) ORDER BY id = ?2 DESC LIMIT 1",
                )
                .db()?
                .query_row(params![ws, r.identity], |row| row.get(0))
                .optional()
                .db()?;
            match id {
                Some(id) => Need::on("identity", &id, "read_identity", false),
                None => return Ok(()),
            }
        }
        Op::ListIdentities => {
            // Every listed identity is checked after the listing.
            parse_body::<ListRequest>(body)?;
            return Ok(());
        }
        Op::SetRolePermissions => {
            // Before the role's lookup; creating missing permissions (after it) needs
            // `rbac.*.create_permission` too.
            let r: SetRolePermissionsRequest = parse_body(body)?;
            Need::All(vec![
                Need::perm("rbac.*.add_permission_to_role"),
                Need::perm("rbac.*.remove_permission_from_role"),
            ])
            .check(grants)?;
            let role_exists = conn
                .prepare_cached("SELECT 1 FROM roles WHERE id = ?1 AND workspace_id = ?2")
                .db()?
                .query_row(params![r.role_id, ws], |row| row.get::<_, i64>(0))
                .optional()
                .db()?
                .is_some();
            let slugs = crate::admin::requested_role_slugs(&r.permissions);
            if !role_exists || !crate::admin::any_permission_missing_nocase(conn, ws, &slugs)? {
                return Ok(());
            }
            Need::perm("rbac.*.create_permission")
        }
        Op::CreatePortalSession => {
            // After the portal's lookup (an unknown portal is the operation's 404): every
            // scope needs the root key's own permission on the portal's api (Unkey's
            // portalrbac ceiling: a session never carries a power its maker lacks).
            let r: CreatePortalSessionRequest = parse_body(body)?;
            let Some(api) = crate::portal::api_of(conn, ws, &r.portal)? else {
                return Ok(());
            };
            Need::All(
                r.scopes
                    .iter()
                    .map(|scope| portal_scope_need(&api, scope))
                    .collect(),
            )
        }
        Op::GetPortal | Op::UpdatePortal => {
            let portal = if op == Op::GetPortal {
                parse_body::<GetPortalRequest>(body)?.portal
            } else {
                parse_body::<UpdatePortalRequest>(body)?.portal
            };
            let Some(api) = crate::portal::api_of(conn, ws, &portal)? else {
                return Ok(());
            };
            let action = if op == Op::GetPortal {
                "read_api"
            } else {
                "update_api"
            };
            Need::on("api", &api, action, false)
        }
        Op::RevokePortalSession => {
            let r: RevokePortalSessionRequest = parse_body(body)?;
            match crate::portal::api_of_session(conn, ws, &r.session_id)? {
                Some(api) => Need::on("api", &api, "update_api", false),
                None => return Ok(()),
            }
        }
        other => return Err(no_rule(other.name())),
    };
    need.check(grants)
}

/// `identities.listIdentities`: as Unkey, every identity of the page must be readable
/// (`identity.*.read_identity` or `identity.<id>.read_identity`), else 403.
pub(crate) fn authorize_listed_identities(grants: &Grants, data: &serde_json::Value) -> Result<()> {
    if grants.is_all() || grants.allows("identity.*.read_identity") {
        return Ok(());
    }
    for item in data.as_array().into_iter().flatten() {
        if let Some(id) = item.get("id").and_then(|v| v.as_str()) {
            Need::on("identity", id, "read_identity", false).check(grants)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_match_exactly_or_through_star() {
        let g = Grants::from_names(["api.*.create_key", "api.api_1.verify_key"]);
        assert!(g.allows("api.*.create_key"));
        assert!(!g.allows("api.*.verify_key"));
        assert!(g.on_api("api_2", "create_key"));
        assert!(g.may_verify("api_1"));
        assert!(!g.may_verify("api_2"));
        assert!(Grants::from_names(["*"]).may_verify("anything"));
        assert!(Grants::all().is_all());
        assert!(!Grants::default().allows("api.*.read_api"));
    }

    #[test]
    fn messages_are_unkeys() {
        let g = Grants::from_names(["api.*.read_api"]);
        let err = Need::on("api", "api_1", "delete_api", false)
            .check(&g)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Forbidden);
        assert_eq!(
            err.message,
            "Missing one of these permissions: api.*.delete_api or api.api_1.delete_api"
        );
        let err = Need::perm("rbac.*.create_role").check(&g).unwrap_err();
        assert_eq!(err.message, "Missing permission: 'rbac.*.create_role'");
        let key = "sk_live_3ZbLh2cV7nq9R1tYwXkPa";
        let err = Need::on("api", key, "delete_api", true)
            .check(&g)
            .unwrap_err();
        assert!(!err.message.contains(key), "{}", err.message);
    }

    #[test]
    fn every_operation_has_a_rule() {
        let conn = crate::schema::open(":memory:").unwrap();
        let g = Grants::from_names(["ratelimit.*.limit"]);
        for &op in Op::ALL {
            if let Err(e) = authorize(&conn, "ws_1", &g, op, b"{}", None) {
                assert!(!e.message.contains("no permission rule"), "{op:?}: {e}");
            }
            assert!(authorize(&conn, "ws_1", &Grants::all(), op, b"{}", None).is_ok());
        }
        // An operation without a rule is refused (fail closed).
        let err = no_rule("keys.somethingNew");
        assert_eq!(err.code, ErrorCode::Forbidden);
        let message = &err.message;
        assert!(message.contains("no permission rule"), "{message}");
    }

    #[test]
    fn root_key_permissions_are_validated() {
        for ok in [
            "*",
            "api.*.create_key",
            "api.api_123.verify_key",
            "rbac.*.create_role",
            "identity.*.read_identity",
            "ratelimit.*.limit",
        ] {
            validate_root_key_permission(ok).unwrap();
        }
        for bad in [
            "",
            "api",
            "api.*",
            "api.*.verify",
            "apis.*.verify_key",
            "api..verify_key",
            "api.a.b.verify_key",
            "api.a b.verify_key",
            "rbac.*.read_api",
        ] {
            let err = validate_root_key_permission(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidInput, "{bad}");
        }
    }
}
