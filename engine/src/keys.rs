//! `keys.*` operations except verification (see `verify.rs`).

use keyshift_core::hashing::{self, HashVariant};
use keyshift_core::keyformat;
use keyshift_core::wire::*;
use keyshift_core::Result;
use rusqlite::{params, Connection};

use crate::credits::apply_refill;
use crate::links::{copy_links, link, PermissionLinks, RoleLinks};
use crate::rows::*;
use crate::util::{new_id, not_found, now_ms, Db};

/// Everything needed to insert a key row.
pub(crate) struct NewKey<'a> {
    pub ws: &'a str,
    pub api_id: &'a str,
    pub hash: &'a str,
    pub variant: HashVariant,
    pub start: &'a str,
    pub name: Option<&'a str>,
    pub meta: Option<&'a Metadata>,
    pub external_id: Option<&'a str>,
    pub expires: Option<i64>,
    pub enabled: bool,
    pub credits: Option<&'a CreditsRequest>,
    pub ratelimits: &'a [RatelimitRequest],
    pub permission_ids: &'a [String],
    pub role_ids: &'a [String],
    pub migration_id: Option<&'a str>,
}

/// Inserts a key with its links; returns the new key id.
pub(crate) fn insert_key(conn: &Connection, k: &NewKey<'_>) -> Result<String> {
    let id = new_id("key")?;
    let identity_id = match k.external_id {
        Some(e) => Some(ensure_identity(conn, k.ws, e)?),
        None => None,
    };
    insert_key_row(conn, &id, now_ms(), identity_id.as_deref(), k)?;
    Ok(id)
}

/// Inserts the new key `id` (owned by `identity_id`, the identity of `k.external_id`) with its
/// ratelimits and links.
pub(crate) fn insert_key_row(
    conn: &Connection,
    id: &str,
    now: i64,
    identity_id: Option<&str>,
    k: &NewKey<'_>,
) -> Result<()> {
    let remaining = k.credits.and_then(|c| c.remaining);
    let refill = k.credits.and_then(|c| c.refill.as_ref());
    conn.prepare_cached(
        "INSERT INTO keys (id, workspace_id, api_id, hash, hash_variant, start, name, meta, \
         identity_id, expires, enabled, remaining, refill_interval, refill_amount, refill_day, \
         last_refill_at, migration_id, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, NULL, ?16, ?17)",
    )
    .db()?
    .execute(params![
        id,
        k.ws,
        k.api_id,
        k.hash,
        k.variant.as_str(),
        k.start,
        k.name,
        meta_text(k.meta),
        identity_id,
        k.expires,
        k.enabled,
        remaining,
        refill.map(|r| interval_str(r.interval)),
        refill.map(|r| r.amount),
        refill.and_then(|r| r.refill_day),
        k.migration_id,
        now
    ])
    .db()?;
    // A new key has no ratelimits to replace.
    insert_ratelimits(conn, k.ws, RatelimitOwner::Key(id), k.ratelimits)?;
    link::<PermissionLinks>(conn, id, k.permission_ids)?;
    link::<RoleLinks>(conn, id, k.role_ids)?;
    Ok(())
}

pub(crate) fn create_key(
    conn: &Connection,
    ws: &str,
    req: &CreateKeyRequest,
) -> Result<CreateKeyResponseData> {
    live_api(conn, ws, &req.api_id)?;
    if req.recoverable == Some(true) {
        // Unkey answers 412 for an api not set up for key encryption; no keyshift api is.
        return Err(crate::util::precondition_failed(
            "This API does not support key encryption: keyshift never stores a plaintext key, \
             so keys cannot be recoverable",
        ));
    }
    let role_ids = resolve_roles(conn, ws, req.roles.as_deref().unwrap_or_default())?;
    let permission_ids =
        ensure_permissions(conn, ws, req.permissions.as_deref().unwrap_or_default())?;
    let byte_length = req.byte_length.unwrap_or(limits::BYTE_LENGTH_DEFAULT) as usize;
    let key = keyformat::generate_key(req.prefix.as_deref(), byte_length)?;
    let hash = hashing::sha256_base64(key.expose());
    let start = keyformat::key_start(key.expose());
    let key_id = insert_key(
        conn,
        &NewKey {
            ws,
            api_id: &req.api_id,
            hash: &hash,
            variant: HashVariant::Sha256Base64,
            start: &start,
            name: req.name.as_deref(),
            meta: req.meta.as_ref(),
            external_id: req.external_id.as_deref(),
            expires: req.expires,
            enabled: req.enabled.unwrap_or(true),
            credits: req.credits.as_ref(),
            ratelimits: req.ratelimits.as_deref().unwrap_or_default(),
            permission_ids: &permission_ids,
            role_ids: &role_ids,
            migration_id: None,
        },
    )?;
    Ok(CreateKeyResponseData { key_id, key })
}

pub(crate) fn get_key(conn: &Connection, ws: &str, req: &GetKeyRequest) -> Result<KeyResponseData> {
    let mut key = live_key(conn, ws, &req.key_id)?;
    if req.decrypt == Some(true) {
        return Err(crate::util::precondition_failed(
            "The API for this key does not support key encryption: keyshift never stores a \
             plaintext key, so it cannot decrypt one",
        ));
    }
    apply_refill(conn, &mut key, now_ms())?;
    key_response(conn, &key)
}

/// `UPDATE keys SET {column} = value WHERE id = key_id`; `column` is one of ours, never input.
fn set_column(
    conn: &Connection,
    key_id: &str,
    column: &'static str,
    value: impl rusqlite::ToSql,
) -> Result<()> {
    conn.execute(
        &format!("UPDATE keys SET {column} = ?1 WHERE id = ?2"),
        params![value, key_id],
    )
    .db()?;
    Ok(())
}

pub(crate) fn update_key(conn: &Connection, ws: &str, req: &UpdateKeyRequest) -> Result<EmptyData> {
    let key = live_key(conn, ws, &req.key_id)?;
    let id = key.id.as_str();
    let now = now_ms();
    if let Some(name) = req.name.as_option() {
        set_column(conn, id, "name", name)?;
    }
    if let Some(external_id) = req.external_id.as_option() {
        let identity_id = match external_id {
            Some(e) => Some(ensure_identity(conn, ws, e)?),
            None => None,
        };
        set_column(conn, id, "identity_id", identity_id)?;
    }
    if let Some(meta) = req.meta.as_option() {
        set_column(conn, id, "meta", meta_text(meta))?;
    }
    if let Some(expires) = req.expires.as_option() {
        set_column(conn, id, "expires", expires)?;
    }
    if let Some(enabled) = req.enabled {
        set_column(conn, id, "enabled", enabled)?;
    }
    match &req.credits {
        Patch::Leave => {}
        Patch::Clear => {
            conn.execute(
                "UPDATE keys SET remaining = NULL, refill_interval = NULL, refill_amount = NULL, \
                 refill_day = NULL WHERE id = ?1",
                [id],
            )
            .db()?;
        }
        Patch::Set(credits) => {
            if let Some(remaining) = credits.remaining.as_option() {
                set_column(conn, id, "remaining", remaining)?;
            }
            if let Some(refill) = credits.refill.as_option() {
                conn.execute(
                    "UPDATE keys SET refill_interval = ?1, refill_amount = ?2, refill_day = ?3, \
                     last_refill_at = ?4 WHERE id = ?5",
                    params![
                        refill.as_ref().map(|r| interval_str(r.interval)),
                        refill.as_ref().map(|r| r.amount),
                        refill.as_ref().and_then(|r| r.refill_day),
                        refill.as_ref().map(|_| now),
                        id
                    ],
                )
                .db()?;
            }
        }
    }
    if let Some(rls) = &req.ratelimits {
        clear_ratelimits(conn, RatelimitOwner::Key(id))?;
        insert_ratelimits(conn, ws, RatelimitOwner::Key(id), rls)?;
    }
    if let Some(roles) = &req.roles {
        let role_ids = resolve_roles(conn, ws, roles)?;
        conn.execute("DELETE FROM key_roles WHERE key_id = ?1", [id])
            .db()?;
        link::<RoleLinks>(conn, id, &role_ids)?;
    }
    if let Some(perms) = &req.permissions {
        let ids = ensure_permissions(conn, ws, perms)?;
        conn.execute("DELETE FROM key_permissions WHERE key_id = ?1", [id])
            .db()?;
        link::<PermissionLinks>(conn, id, &ids)?;
    }
    set_column(conn, id, "updated_at", now)?;
    Ok(EmptyData {})
}

pub(crate) fn delete_key(conn: &Connection, ws: &str, req: &DeleteKeyRequest) -> Result<EmptyData> {
    let key = match find_key(conn, ws, &req.key_id)? {
        Some(k) => k,
        None => return Err(not_found("key", &req.key_id)),
    };
    if req.permanent.unwrap_or(false) {
        conn.execute("DELETE FROM keys WHERE id = ?1", [&key.id])
            .db()?;
    } else {
        if key.deleted_at.is_some() {
            return Err(not_found("key", &req.key_id));
        }
        conn.execute(
            "UPDATE keys SET deleted_at = ?1, updated_at = ?1 WHERE id = ?2",
            params![now_ms(), key.id],
        )
        .db()?;
    }
    Ok(EmptyData {})
}

pub(crate) fn reroll_key(
    conn: &Connection,
    ws: &str,
    req: &RerollKeyRequest,
) -> Result<RerollKeyResponseData> {
    let old = live_key(conn, ws, &req.key_id)?;
    let now = now_ms();
    let prefix = keyformat::key_prefix(&old.start)
        .filter(|p| keyformat::validate_prefix(p).is_ok())
        .map(str::to_string);
    let key = keyformat::generate_key(prefix.as_deref(), keyformat::DEFAULT_BYTE_LENGTH)?;
    let hash = hashing::sha256_base64(key.expose());
    let start = keyformat::key_start(key.expose());
    let new_id = new_id("key")?;
    conn.execute(
        "INSERT INTO keys (id, workspace_id, api_id, hash, hash_variant, start, name, meta, \
         identity_id, expires, enabled, remaining, refill_interval, refill_amount, refill_day, \
         last_refill_at, migration_id, created_at) \
         SELECT ?1, workspace_id, api_id, ?2, 'sha256_base64', ?3, name, meta, identity_id, \
         expires, enabled, remaining, refill_interval, refill_amount, refill_day, last_refill_at, \
         NULL, ?4 FROM keys WHERE id = ?5",
        params![new_id, hash, start, now, old.id],
    )
    .db()?;
    copy_links::<PermissionLinks>(conn, &old.id, &new_id)?;
    copy_links::<RoleLinks>(conn, &old.id, &new_id)?;
    let limits: Vec<RatelimitRequest> = key_ratelimits(conn, &old.id)?
        .into_iter()
        .map(|r| RatelimitRequest {
            name: r.name,
            limit: r.limit,
            duration: r.duration,
            auto_apply: r.auto_apply,
        })
        .collect();
    if !limits.is_empty() {
        insert_ratelimits(conn, ws, RatelimitOwner::Key(&new_id), &limits)?;
    }
    let old_expires = now.saturating_add(req.expiration);
    let old_expires = match old.expires {
        Some(e) if e < old_expires => e,
        _ => old_expires,
    };
    conn.execute(
        "UPDATE keys SET expires = ?1, updated_at = ?2 WHERE id = ?3",
        params![old_expires, now, old.id],
    )
    .db()?;
    Ok(RerollKeyResponseData {
        key_id: new_id,
        key,
    })
}

pub(crate) fn touch(conn: &Connection, key_id: &str) -> Result<()> {
    conn.execute(
        "UPDATE keys SET updated_at = ?1 WHERE id = ?2",
        params![now_ms(), key_id],
    )
    .db()?;
    Ok(())
}
