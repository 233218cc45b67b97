//! Loading and storing the records shared by several operations (keys, permissions, roles,
//! identities, ratelimits).

use std::collections::HashSet;

use keyshift_core::hashing::HashVariant;
use keyshift_core::wire::{
    Identity, KeyCreditsData, KeyCreditsRefill, KeyResponseData, Metadata, Permission,
    RatelimitRequest, RatelimitResponse, RefillInterval, Role,
};
use keyshift_core::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::util::{new_id, not_found, now_ms, Db};

/// A stored key (never its plaintext).
#[derive(Clone, Debug)]
#[allow(dead_code)] // every column is loaded; not every operation reads every one
pub(crate) struct KeyRow {
    pub id: String,
    pub workspace_id: String,
    pub api_id: String,
    pub hash: String,
    pub variant: HashVariant,
    pub start: String,
    pub name: Option<String>,
    pub meta: Option<Metadata>,
    pub identity_id: Option<String>,
    pub expires: Option<i64>,
    pub enabled: bool,
    pub remaining: Option<i64>,
    pub refill: Option<KeyCreditsRefill>,
    pub last_refill_at: Option<i64>,
    pub migration_id: Option<String>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub deleted_at: Option<i64>,
}

pub(crate) const KEY_COLUMNS: &str = "id, workspace_id, api_id, hash, hash_variant, start, name, \
     meta, identity_id, expires, enabled, remaining, refill_interval, refill_amount, refill_day, \
     last_refill_at, migration_id, created_at, updated_at, deleted_at";

pub(crate) fn parse_meta(text: Option<String>) -> Option<Metadata> {
    text.and_then(|t| serde_json::from_str::<Metadata>(&t).ok())
}

pub(crate) fn meta_text(meta: Option<&Metadata>) -> Option<String> {
    // A map serializes exactly as the JSON object holding it, without copying it into one.
    meta.and_then(|m| serde_json::to_string(m).ok())
}

/// A stored `hash_variant` (as [`HashVariant::as_str`] wrote it); the default for anything else.
pub(crate) fn variant_from_str(s: &str) -> HashVariant {
    HashVariant::from_wire(s).unwrap_or_default()
}

pub(crate) fn interval_str(i: RefillInterval) -> &'static str {
    match i {
        RefillInterval::Monthly => "monthly",
        _ => "daily",
    }
}

pub(crate) fn key_row(r: &Row) -> rusqlite::Result<KeyRow> {
    let interval: Option<String> = r.get(12)?;
    let amount: Option<i64> = r.get(13)?;
    let refill_day: Option<i64> = r.get(14)?;
    let refill = match (interval, amount) {
        (Some(interval), Some(amount)) => Some(KeyCreditsRefill {
            interval: if interval == "monthly" {
                RefillInterval::Monthly
            } else {
                RefillInterval::Daily
            },
            amount,
            refill_day: refill_day.map(|d| d as u8),
        }),
        _ => None,
    };
    let variant: String = r.get(4)?;
    Ok(KeyRow {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        api_id: r.get(2)?,
        hash: r.get(3)?,
        variant: variant_from_str(&variant),
        start: r.get(5)?,
        name: r.get(6)?,
        meta: parse_meta(r.get(7)?),
        identity_id: r.get(8)?,
        expires: r.get(9)?,
        enabled: r.get(10)?,
        remaining: r.get(11)?,
        refill,
        last_refill_at: r.get(15)?,
        migration_id: r.get(16)?,
        created_at: r.get(17)?,
        updated_at: r.get(18)?,
        deleted_at: r.get(19)?,
    })
}

/// The key `key_id` of workspace `ws`, deleted or not.
pub(crate) fn find_key(conn: &Connection, ws: &str, key_id: &str) -> Result<Option<KeyRow>> {
    conn.query_row(
        &format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = ?1 AND workspace_id = ?2"),
        params![key_id, ws],
        key_row,
    )
    .optional()
    .db()
}

/// The live (not deleted) key `key_id` of workspace `ws`, or 404.
pub(crate) fn live_key(conn: &Connection, ws: &str, key_id: &str) -> Result<KeyRow> {
    match find_key(conn, ws, key_id)? {
        Some(k) if k.deleted_at.is_none() => Ok(k),
        _ => Err(not_found("key", key_id)),
    }
}

/// 404 unless `api_id` is a live api of `ws`.
pub(crate) fn live_api(conn: &Connection, ws: &str, api_id: &str) -> Result<()> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM apis WHERE id = ?1 AND workspace_id = ?2 AND deleted_at IS NULL",
            params![api_id, ws],
            |r| r.get(0),
        )
        .optional()
        .db()?;
    match found {
        Some(_) => Ok(()),
        None => Err(not_found("api", api_id)),
    }
}

pub(crate) fn permission_row(r: &Row) -> rusqlite::Result<Permission> {
    Ok(Permission {
        id: r.get(0)?,
        name: r.get(1)?,
        slug: r.get(2)?,
        description: r.get(3)?,
    })
}

pub(crate) const PERMISSION_COLUMNS: &str = "p.id, p.name, p.slug, p.description";

/// Permissions linked to `owner_id` through link table `table` (whose owner column is
/// `owner`), by slug.
fn linked_permissions(
    conn: &Connection,
    table: &str,
    owner: &str,
    owner_id: &str,
) -> Result<Vec<Permission>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {PERMISSION_COLUMNS} FROM {table} l \
             JOIN permissions p ON p.id = l.permission_id WHERE l.{owner} = ?1 ORDER BY p.slug"
        ))
        .db()?;
    let rows = stmt.query_map([owner_id], permission_row).db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

/// Permissions given to the key directly, by slug.
pub(crate) fn direct_permissions(conn: &Connection, key_id: &str) -> Result<Vec<Permission>> {
    linked_permissions(conn, "key_permissions", "key_id", key_id)
}

/// Permissions a role grants.
pub(crate) fn role_permissions(conn: &Connection, role_id: &str) -> Result<Vec<Permission>> {
    linked_permissions(conn, "role_permissions", "role_id", role_id)
}

/// The id of the row `sql` (with `?1` the workspace and `?2` the name) finds, or `not_found`.
pub(crate) fn find_id(
    conn: &Connection,
    sql: &str,
    ws: &str,
    name: &str,
    not_found: impl FnOnce() -> Error,
) -> Result<String> {
    existing_id(conn, sql, ws, name)?.ok_or_else(not_found)
}

/// The id `sql` (`?1` the workspace, `?2` the name) finds, if any.
pub(crate) fn existing_id(
    conn: &Connection,
    sql: &str,
    ws: &str,
    name: &str,
) -> Result<Option<String>> {
    find_row(conn, sql, ws, name, |r| r.get(0))
}

/// The first row `sql` (`?1` the workspace, `?2` the name) finds, read by `read`, if any.
pub(crate) fn find_row<T>(
    conn: &Connection,
    sql: &str,
    ws: &str,
    name: &str,
    read: impl FnOnce(&Row) -> rusqlite::Result<T>,
) -> Result<Option<T>> {
    conn.prepare_cached(sql)
        .db()?
        .query_row(params![ws, name], read)
        .optional()
        .db()
}

pub(crate) fn role_row(r: &Row) -> rusqlite::Result<Role> {
    Ok(Role {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        permissions: None,
    })
}

/// The key's roles (without their permissions).
pub(crate) fn key_roles(conn: &Connection, key_id: &str) -> Result<Vec<Role>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT r.id, r.name, r.description FROM key_roles kr \
             JOIN roles r ON r.id = kr.role_id WHERE kr.key_id = ?1 ORDER BY r.name",
        )
        .db()?;
    let rows = stmt.query_map([key_id], role_row).db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

/// Every permission slug the key holds: direct ones plus those of its roles, sorted, unique.
pub(crate) fn effective_permission_slugs(conn: &Connection, key_id: &str) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT p.slug FROM key_permissions kp JOIN permissions p ON p.id = kp.permission_id \
             WHERE kp.key_id = ?1 \
             UNION \
             SELECT p.slug FROM key_roles kr JOIN role_permissions rp ON rp.role_id = kr.role_id \
             JOIN permissions p ON p.id = rp.permission_id WHERE kr.key_id = ?1 \
             ORDER BY 1",
        )
        .db()?;
    let rows = stmt.query_map([key_id], |r| r.get(0)).db()?;
    rows.collect::<rusqlite::Result<Vec<String>>>().db()
}

fn ratelimit_row(r: &Row) -> rusqlite::Result<RatelimitResponse> {
    Ok(RatelimitResponse {
        id: r.get(0)?,
        name: r.get(1)?,
        limit: r.get(2)?,
        duration: r.get(3)?,
        auto_apply: r.get(4)?,
    })
}

/// The ratelimits whose `owner` column (`key_id` or `identity_id`) is `owner_id`, by name.
fn ratelimits_of(conn: &Connection, owner: &str, owner_id: &str) -> Result<Vec<RatelimitResponse>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT id, name, lim, duration, auto_apply FROM ratelimits WHERE {owner} = ?1 \
             ORDER BY name"
        ))
        .db()?;
    let rows = stmt.query_map([owner_id], ratelimit_row).db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

pub(crate) fn key_ratelimits(conn: &Connection, key_id: &str) -> Result<Vec<RatelimitResponse>> {
    ratelimits_of(conn, "key_id", key_id)
}

pub(crate) fn identity_ratelimits(
    conn: &Connection,
    identity_id: &str,
) -> Result<Vec<RatelimitResponse>> {
    ratelimits_of(conn, "identity_id", identity_id)
}

/// The identity `id` with its meta and ratelimits.
pub(crate) fn identity_by_id(conn: &Connection, id: &str) -> Result<Option<Identity>> {
    let row: Option<(String, String, Option<String>)> = conn
        .prepare_cached("SELECT id, external_id, meta FROM identities WHERE id = ?1")
        .db()?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .db()?;
    match row {
        None => Ok(None),
        Some((id, external_id, meta)) => {
            let ratelimits = identity_ratelimits(conn, &id)?;
            Ok(Some(Identity {
                id,
                external_id,
                meta: Some(parse_meta(meta).unwrap_or_default()),
                ratelimits: Some(ratelimits),
            }))
        }
    }
}

/// A key's role names, identity and own ratelimits, as answers describe a key.
pub(crate) fn key_links(
    conn: &Connection,
    key: &KeyRow,
) -> Result<(Vec<String>, Option<Identity>, Vec<RatelimitResponse>)> {
    let roles = key_roles(conn, &key.id)?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let identity = match &key.identity_id {
        Some(id) => identity_by_id(conn, id)?,
        None => None,
    };
    Ok((roles, identity, key_ratelimits(conn, &key.id)?))
}

/// The wire description of a key (`keys.getKey`, `keys.whoami`, `apis.listKeys`).
pub(crate) fn key_response(conn: &Connection, key: &KeyRow) -> Result<KeyResponseData> {
    let permissions = direct_permissions(conn, &key.id)?
        .into_iter()
        .map(|p| p.slug)
        .collect();
    let (roles, identity, ratelimits) = key_links(conn, key)?;
    Ok(KeyResponseData {
        key_id: key.id.clone(),
        start: key.start.clone(),
        enabled: key.enabled,
        name: key.name.clone(),
        meta: key.meta.clone(),
        created_at: key.created_at,
        updated_at: key.updated_at,
        last_used_at: None,
        expires: key.expires,
        permissions: Some(permissions),
        roles: Some(roles),
        credits: credits_of(key),
        identity,
        plaintext: None,
        ratelimits: if ratelimits.is_empty() {
            None
        } else {
            Some(ratelimits)
        },
    })
}

pub(crate) fn credits_of(key: &KeyRow) -> Option<KeyCreditsData> {
    if key.remaining.is_none() && key.refill.is_none() {
        return None;
    }
    Some(KeyCreditsData {
        remaining: key.remaining,
        refill: key.refill.clone(),
    })
}

/// Ids of the permissions with these slugs, creating the missing ones (name = slug).
pub(crate) fn ensure_permissions(
    conn: &Connection,
    ws: &str,
    slugs: &[String],
) -> Result<Vec<String>> {
    let mut seen = HashSet::new();
    let mut ids = Vec::with_capacity(slugs.len());
    let now = now_ms();
    for slug in slugs {
        if !seen.insert(slug.as_str()) {
            continue;
        }
        let existing = existing_id(
            conn,
            "SELECT id FROM permissions WHERE workspace_id = ?1 AND slug = ?2",
            ws,
            slug,
        )?;
        let id = match existing {
            Some(id) => id,
            None => {
                let id = new_id("perm")?;
                conn.prepare_cached(
                    "INSERT INTO permissions (id, workspace_id, name, slug, description, created_at) \
                     VALUES (?1, ?2, ?3, ?3, NULL, ?4)",
                )
                .db()?
                .execute(params![id, ws, slug, now])
                .db()?;
                id
            }
        };
        ids.push(id);
    }
    Ok(ids)
}

/// Ids of existing roles named (or with id) `names`; 404 naming the first missing one.
pub(crate) fn resolve_roles(conn: &Connection, ws: &str, names: &[String]) -> Result<Vec<String>> {
    let mut seen = HashSet::new();
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        let id = find_id(
            conn,
            "SELECT id FROM roles WHERE workspace_id = ?1 AND (name = ?2 OR id = ?2) \
             ORDER BY name = ?2 DESC LIMIT 1",
            ws,
            name,
            || not_found("role", name),
        )?;
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// The id of the identity with `external_id`, created if missing.
pub(crate) fn ensure_identity(conn: &Connection, ws: &str, external_id: &str) -> Result<String> {
    let existing = existing_id(
        conn,
        "SELECT id FROM identities WHERE workspace_id = ?1 AND external_id = ?2",
        ws,
        external_id,
    )?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let id = new_id("id")?;
    conn.prepare_cached(
        "INSERT INTO identities (id, workspace_id, external_id, meta, created_at) \
         VALUES (?1, ?2, ?3, NULL, ?4)",
    )
    .db()?
    .execute(params![id, ws, external_id, now_ms()])
    .db()?;
    Ok(id)
}

/// Who ratelimits belong to: a key or an identity (by id).
#[derive(Clone, Copy)]
pub(crate) enum RatelimitOwner<'a> {
    Key(&'a str),
    Identity(&'a str),
}

impl<'a> RatelimitOwner<'a> {
    /// The `key_id` and `identity_id` columns of the owner's rows.
    fn columns(self) -> (Option<&'a str>, Option<&'a str>) {
        match self {
            RatelimitOwner::Key(id) => (Some(id), None),
            RatelimitOwner::Identity(id) => (None, Some(id)),
        }
    }
}

/// Removes every ratelimit of `owner` (before [`insert_ratelimits`] replaces them).
pub(crate) fn clear_ratelimits(conn: &Connection, owner: RatelimitOwner) -> Result<()> {
    let (owner_key, owner_identity) = owner.columns();
    conn.execute(
        "DELETE FROM ratelimits WHERE (key_id = ?1 AND ?1 IS NOT NULL) \
         OR (identity_id = ?2 AND ?2 IS NOT NULL)",
        params![owner_key, owner_identity],
    )
    .db()?;
    Ok(())
}

/// Adds `limits` to an owner that has none (see [`clear_ratelimits`]). A name given twice
/// keeps its last definition.
pub(crate) fn insert_ratelimits(
    conn: &Connection,
    ws: &str,
    owner: RatelimitOwner,
    limits: &[RatelimitRequest],
) -> Result<()> {
    let (owner_key, owner_identity) = owner.columns();
    let mut seen = HashSet::new();
    for rl in limits.iter().rev() {
        if !seen.insert(rl.name.as_str()) {
            continue;
        }
        conn.prepare_cached(
            "INSERT INTO ratelimits (id, workspace_id, key_id, identity_id, name, lim, duration, \
             auto_apply) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .db()?
        .execute(params![
            new_id("rl")?,
            ws,
            owner_key,
            owner_identity,
            rl.name,
            rl.limit,
            rl.duration,
            rl.auto_apply
        ])
        .db()?;
    }
    Ok(())
}
