//! `apis.*`, `permissions.*` and `identities.*` operations.

use keyshift_core::wire::*;
use keyshift_core::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension};

use crate::rows::*;
use crate::util::{is_unique_violation, new_id, not_found, now_ms, Db};

/// A page of results and the pagination to answer with.
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    pub pagination: Pagination,
}

fn page<T>(mut items: Vec<T>, limit: usize, id_of: impl Fn(&T) -> String) -> Page<T> {
    let has_more = items.len() > limit;
    items.truncate(limit);
    let cursor = if has_more {
        items.last().map(id_of)
    } else {
        None
    };
    Page {
        items,
        pagination: Pagination { cursor, has_more },
    }
}

/// The page of `sql`'s rows (`?1` the workspace, `?2` the cursor, `?3` the search pattern, `?4`
/// the limit plus one) for a list request; `id_of` gives a row's id (the next cursor).
fn list_page<T>(
    conn: &Connection,
    sql: &str,
    ws: &str,
    req: &ListRequest,
    read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    id_of: impl Fn(&T) -> String,
) -> Result<Page<T>> {
    let limit = limit_of(req.limit);
    let rows = conn
        .prepare_cached(sql)
        .db()?
        .query_map(
            params![
                ws,
                req.cursor.as_deref().unwrap_or(""),
                like(req.search.as_deref()),
                (limit + 1) as i64
            ],
            read,
        )
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    Ok(page(rows, limit, id_of))
}

fn limit_of(limit: Option<u32>) -> usize {
    limit.unwrap_or(limits::LIST_LIMIT_DEFAULT) as usize
}

/// `%search%` for LIKE, with LIKE's special characters escaped by `\`.
fn like(search: Option<&str>) -> Option<String> {
    search.filter(|s| !s.is_empty()).map(|s| {
        let escaped = s
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    })
}

// ---- apis ----

pub(crate) fn create_api(
    conn: &Connection,
    ws: &str,
    req: &CreateApiRequest,
) -> Result<CreateApiResponseData> {
    let id = new_id("api")?;
    conn.execute(
        "INSERT INTO apis (id, workspace_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, ws, req.name, now_ms()],
    )
    .db()?;
    Ok(CreateApiResponseData { api_id: id })
}

pub(crate) fn get_api(
    conn: &Connection,
    ws: &str,
    req: &GetApiRequest,
) -> Result<GetApiResponseData> {
    conn.query_row(
        "SELECT id, name FROM apis WHERE id = ?1 AND workspace_id = ?2 AND deleted_at IS NULL",
        params![req.api_id, ws],
        |r| {
            Ok(GetApiResponseData {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        },
    )
    .optional()
    .db()?
    .ok_or_else(|| not_found("api", &req.api_id))
}

pub(crate) fn delete_api(conn: &Connection, ws: &str, req: &DeleteApiRequest) -> Result<EmptyData> {
    live_api(conn, ws, &req.api_id)?;
    let now = now_ms();
    for sql in [
        "UPDATE apis SET deleted_at = ?1 WHERE id = ?2",
        "UPDATE keys SET deleted_at = ?1 WHERE api_id = ?2 AND deleted_at IS NULL",
    ] {
        conn.execute(sql, params![now, req.api_id]).db()?;
    }
    Ok(EmptyData {})
}

pub(crate) fn list_keys(
    conn: &Connection,
    ws: &str,
    req: &ListKeysRequest,
) -> Result<Page<KeyResponseData>> {
    live_api(conn, ws, &req.api_id)?;
    if req.decrypt == Some(true) {
        return Err(crate::util::precondition_failed(
            "The requested API does not support key encryption: keyshift never stores a \
             plaintext key, so it cannot decrypt one",
        ));
    }
    let limit = limit_of(req.limit);
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM keys WHERE api_id = ?1 AND workspace_id = ?2 \
             AND deleted_at IS NULL AND id > ?3 \
             AND (?4 IS NULL OR identity_id IN \
                  (SELECT id FROM identities WHERE workspace_id = ?2 AND external_id = ?4)) \
             ORDER BY id LIMIT ?5"
        ))
        .db()?;
    let rows = stmt
        .query_map(
            params![
                req.api_id,
                ws,
                req.cursor.as_deref().unwrap_or(""),
                req.external_id,
                (limit + 1) as i64
            ],
            key_row,
        )
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    let p = page(rows, limit, |k| k.id.clone());
    let items = p
        .items
        .iter()
        .map(|k| key_response(conn, k))
        .collect::<Result<Vec<_>>>()?;
    Ok(Page {
        items,
        pagination: p.pagination,
    })
}

// ---- permissions, roles and identities: found by id or name, deleted alike ----

/// A workspace resource that requests name by id or by name (a permission's slug, a role's
/// name, an identity's external id).
pub(crate) trait Named: Sized {
    /// Its table; deleting a row cascades to its links.
    const TABLE: &'static str;
    /// The resource `id_or_name` names in `ws`, or its 404.
    fn find(conn: &Connection, ws: &str, id_or_name: &str) -> Result<Self>;
    fn id(&self) -> &str;
}

/// `impl Named` for a resource type, its table and its lookup.
macro_rules! named {
    ($($ty:ty => $table:literal, $find:ident;)*) => {$(
        impl Named for $ty {
            const TABLE: &'static str = $table;
            fn find(conn: &Connection, ws: &str, id_or_name: &str) -> Result<Self> {
                $find(conn, ws, id_or_name)
            }
            fn id(&self) -> &str {
                &self.id
            }
        }
    )*};
}

named! {
    Permission => "permissions", find_permission;
    Role => "roles", find_role;
    Identity => "identities", find_identity;
}

/// `permissions.getPermission`, `permissions.getRole`, `identities.getIdentity`.
pub(crate) fn get<R: Named>(conn: &Connection, ws: &str, id_or_name: &str) -> Result<R> {
    R::find(conn, ws, id_or_name)
}

/// `permissions.deletePermission`, `permissions.deleteRole`, `identities.deleteIdentity`.
pub(crate) fn delete<R: Named>(conn: &Connection, ws: &str, id_or_name: &str) -> Result<EmptyData> {
    let found = R::find(conn, ws, id_or_name)?;
    conn.execute(
        &format!("DELETE FROM {} WHERE id = ?1", R::TABLE),
        [found.id()],
    )
    .db()?;
    Ok(EmptyData {})
}

// ---- permissions ----

fn find_permission(conn: &Connection, ws: &str, id_or_slug: &str) -> Result<Permission> {
    find_row(
        conn,
        "SELECT id, name, slug, description FROM permissions WHERE workspace_id = ?1 \
         AND (id = ?2 OR slug = ?2) ORDER BY id = ?2 DESC LIMIT 1",
        ws,
        id_or_slug,
        permission_row,
    )?
    .ok_or_else(|| not_found("permission", id_or_slug))
}

/// Runs an INSERT; a unique violation is a conflict with the message `conflict` gives.
fn insert_unique(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    conflict: impl FnOnce() -> String,
) -> Result<()> {
    match conn.execute(sql, params) {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(Error::conflict(conflict())),
        Err(e) => Err(crate::util::db_error(e)),
    }
}

pub(crate) fn create_permission(
    conn: &Connection,
    ws: &str,
    req: &CreatePermissionRequest,
) -> Result<CreatePermissionResponseData> {
    let id = new_id("perm")?;
    insert_unique(
        conn,
        "INSERT INTO permissions (id, workspace_id, name, slug, description, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, ws, req.name, req.slug, req.description, now_ms()],
        || format!("a permission with slug `{}` already exists", req.slug),
    )?;
    Ok(CreatePermissionResponseData { permission_id: id })
}

pub(crate) fn list_permissions(
    conn: &Connection,
    ws: &str,
    req: &ListRequest,
) -> Result<Page<Permission>> {
    list_page(
        conn,
        "SELECT id, name, slug, description FROM permissions WHERE workspace_id = ?1 \
         AND id > ?2 AND (?3 IS NULL OR name LIKE ?3 ESCAPE '\\' OR slug LIKE ?3 ESCAPE '\\') \
         ORDER BY id LIMIT ?4",
        ws,
        req,
        permission_row,
        |p| p.id.clone(),
    )
}

// ---- roles ----

fn find_role(conn: &Connection, ws: &str, id_or_name: &str) -> Result<Role> {
    let mut role = find_row(
        conn,
        "SELECT id, name, description FROM roles WHERE workspace_id = ?1 \
         AND (id = ?2 OR name = ?2) ORDER BY name = ?2 DESC LIMIT 1",
        ws,
        id_or_name,
        role_row,
    )?
    .ok_or_else(|| not_found("role", id_or_name))?;
    role.permissions = Some(role_permissions(conn, &role.id)?);
    Ok(role)
}

pub(crate) fn create_role(
    conn: &Connection,
    ws: &str,
    req: &CreateRoleRequest,
) -> Result<CreateRoleResponseData> {
    let id = new_id("role")?;
    insert_unique(
        conn,
        "INSERT INTO roles (id, workspace_id, name, description, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, ws, req.name, req.description, now_ms()],
        || format!("a role named `{}` already exists", req.name),
    )?;
    let perm_ids = ensure_permissions(conn, ws, req.permissions.as_deref().unwrap_or_default())?;
    for pid in perm_ids {
        conn.execute(
            "INSERT OR IGNORE INTO role_permissions (role_id, permission_id) VALUES (?1, ?2)",
            params![id, pid],
        )
        .db()?;
    }
    Ok(CreateRoleResponseData { role_id: id })
}

pub(crate) fn list_roles(conn: &Connection, ws: &str, req: &ListRequest) -> Result<Page<Role>> {
    let mut p = list_page(
        conn,
        "SELECT id, name, description FROM roles WHERE workspace_id = ?1 AND id > ?2 \
         AND (?3 IS NULL OR name LIKE ?3 ESCAPE '\\') ORDER BY id LIMIT ?4",
        ws,
        req,
        role_row,
        |r| r.id.clone(),
    )?;
    for role in &mut p.items {
        role.permissions = Some(role_permissions(conn, &role.id)?);
    }
    Ok(p)
}

// ---- identities ----

fn find_identity(conn: &Connection, ws: &str, id_or_external: &str) -> Result<Identity> {
    let not_found = || not_found("identity", id_or_external);
    let id = find_id(
        conn,
        "SELECT id FROM identities WHERE workspace_id = ?1 \
         AND (id = ?2 OR external_id = ?2) ORDER BY id = ?2 DESC LIMIT 1",
        ws,
        id_or_external,
        not_found,
    )?;
    identity_by_id(conn, &id)?.ok_or_else(not_found)
}

pub(crate) fn create_identity(
    conn: &Connection,
    ws: &str,
    req: &CreateIdentityRequest,
) -> Result<CreateIdentityResponseData> {
    let id = new_id("id")?;
    insert_unique(
        conn,
        "INSERT INTO identities (id, workspace_id, external_id, meta, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            id,
            ws,
            req.external_id,
            meta_text(req.meta.as_ref()),
            now_ms()
        ],
        || {
            format!(
                "an identity with externalId `{}` already exists",
                req.external_id
            )
        },
    )?;
    if let Some(rls) = &req.ratelimits {
        insert_ratelimits(conn, ws, RatelimitOwner::Identity(&id), rls)?;
    }
    Ok(CreateIdentityResponseData { identity_id: id })
}

pub(crate) fn list_identities(
    conn: &Connection,
    ws: &str,
    req: &ListRequest,
) -> Result<Page<Identity>> {
    let p = list_page(
        conn,
        "SELECT id FROM identities WHERE workspace_id = ?1 AND id > ?2 \
         AND (?3 IS NULL OR external_id LIKE ?3 ESCAPE '\\') ORDER BY id LIMIT ?4",
        ws,
        req,
        |r| r.get::<_, String>(0),
        String::clone,
    )?;
    let mut items = Vec::with_capacity(p.items.len());
    for id in &p.items {
        if let Some(identity) = identity_by_id(conn, id)? {
            items.push(identity);
        }
    }
    Ok(Page {
        items,
        pagination: p.pagination,
    })
}

/// `identities.updateIdentity`: `meta` replaces the identity's metadata when present;
/// `ratelimits`, when present, becomes the identity's complete list (a limit whose name stays
/// keeps its id, as Unkey). Answers the identity afterwards.
pub(crate) fn update_identity(
    conn: &Connection,
    ws: &str,
    req: &UpdateIdentityRequest,
) -> Result<Identity> {
    let identity = find_identity(conn, ws, &req.identity)?;
    if let Some(meta) = &req.meta {
        conn.execute(
            "UPDATE identities SET meta = ?1 WHERE id = ?2",
            params![meta_text(Some(meta)), identity.id],
        )
        .db()?;
    }
    if let Some(limits) = &req.ratelimits {
        let existing = identity_ratelimits(conn, &identity.id)?;
        for old in &existing {
            if !limits.iter().any(|rl| rl.name == old.name) {
                conn.execute("DELETE FROM ratelimits WHERE id = ?1", [&old.id])
                    .db()?;
            }
        }
        for rl in limits {
            match existing.iter().find(|old| old.name == rl.name) {
                Some(old) => {
                    conn.execute(
                        "UPDATE ratelimits SET lim = ?1, duration = ?2, auto_apply = ?3 \
                         WHERE id = ?4",
                        params![rl.limit, rl.duration, rl.auto_apply, old.id],
                    )
                    .db()?;
                }
                None => insert_ratelimits(
                    conn,
                    ws,
                    RatelimitOwner::Identity(&identity.id),
                    std::slice::from_ref(rl),
                )?,
            }
        }
    }
    identity_by_id(conn, &identity.id)?
        .ok_or_else(|| Error::server("the identity vanished during its update"))
}

/// The permissions of `ws` whose slug equals one of `slugs` ignoring ASCII case (as Unkey
/// matches them), by lowercased slug; an exact match wins over a case variant.
fn permissions_by_slug_nocase(
    conn: &Connection,
    ws: &str,
    slugs: &[String],
) -> Result<std::collections::HashMap<String, Permission>> {
    let mut found = std::collections::HashMap::new();
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, name, slug, description FROM permissions WHERE workspace_id = ?1 \
             AND slug = ?2 COLLATE NOCASE ORDER BY slug = ?2 DESC, id LIMIT 1",
        )
        .db()?;
    for slug in slugs {
        let p = stmt
            .query_row(params![ws, slug], permission_row)
            .optional()
            .db()?;
        if let Some(p) = p {
            found.insert(slug.to_ascii_lowercase(), p);
        }
    }
    Ok(found)
}

/// The requested slugs of `permissions.setRolePermissions`, as Unkey takes them: the first of
/// each case-insensitive duplicate, sorted.
pub(crate) fn requested_role_slugs(slugs: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<String> = slugs
        .iter()
        .filter(|s| seen.insert(s.to_ascii_lowercase()))
        .cloned()
        .collect();
    out.sort();
    out
}

/// Whether any of `slugs` names no permission of `ws`, ignoring case (the operation would
/// create it).
pub(crate) fn any_permission_missing_nocase(
    conn: &Connection,
    ws: &str,
    slugs: &[String],
) -> Result<bool> {
    let found = permissions_by_slug_nocase(conn, ws, slugs)?;
    Ok(slugs
        .iter()
        .any(|s| !found.contains_key(&s.to_ascii_lowercase())))
}

/// `permissions.setRolePermissions`: the role (by id) gets exactly `permissions` as its direct
/// permissions; missing slugs are created. Answers them in the order of the sorted slugs.
pub(crate) fn set_role_permissions(
    conn: &Connection,
    ws: &str,
    req: &SetRolePermissionsRequest,
) -> Result<Vec<Permission>> {
    let role_id = find_id(
        conn,
        "SELECT id FROM roles WHERE workspace_id = ?1 AND id = ?2",
        ws,
        &req.role_id,
        || not_found("role", &req.role_id),
    )?;
    let slugs = requested_role_slugs(&req.permissions);
    let mut found = permissions_by_slug_nocase(conn, ws, &slugs)?;
    let missing: Vec<String> = slugs
        .iter()
        .filter(|s| !found.contains_key(&s.to_ascii_lowercase()))
        .cloned()
        .collect();
    if !missing.is_empty() {
        ensure_permissions(conn, ws, &missing)?;
        found = permissions_by_slug_nocase(conn, ws, &slugs)?;
    }
    let result: Vec<Permission> = slugs
        .iter()
        .filter_map(|s| found.get(&s.to_ascii_lowercase()).cloned())
        .collect();
    conn.execute(
        "DELETE FROM role_permissions WHERE role_id = ?1",
        [&role_id],
    )
    .db()?;
    for p in &result {
        conn.execute(
            "INSERT OR IGNORE INTO role_permissions (role_id, permission_id) VALUES (?1, ?2)",
            params![role_id, p.id],
        )
        .db()?;
    }
    Ok(result)
}
