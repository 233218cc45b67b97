//! `keys.*` operations except verification (see `verify.rs`).

use std::collections::{HashMap, HashSet};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use keyshift_core::hashing::{self, HashVariant, KeyHash};
use keyshift_core::keyformat::{self, shown_value};
use keyshift_core::wire::*;
use keyshift_core::wire::{check_migrated_start, BCRYPT_MAX_CANDIDATES};
use keyshift_core::{Error, FieldError, Result};
use rusqlite::{params, Connection, OptionalExtension};

use crate::records::*;
use crate::util::{bad_request, new_id, new_ids, now_ms, Db};

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
fn insert_key_row(
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
    insert_ratelimits(conn, k.ws, Some(id), None, k.ratelimits)?;
    link_permissions(conn, id, k.permission_ids)?;
    link_roles(conn, id, k.role_ids)?;
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

pub(crate) fn update_key(conn: &Connection, ws: &str, req: &UpdateKeyRequest) -> Result<EmptyData> {
    let key = live_key(conn, ws, &req.key_id)?;
    let id = key.id.as_str();
    let now = now_ms();
    if let Some(name) = req.name.as_option() {
        conn.execute("UPDATE keys SET name = ?1 WHERE id = ?2", params![name, id])
            .db()?;
    }
    if let Some(external_id) = req.external_id.as_option() {
        let identity_id = match external_id {
            Some(e) => Some(ensure_identity(conn, ws, e)?),
            None => None,
        };
        conn.execute(
            "UPDATE keys SET identity_id = ?1 WHERE id = ?2",
            params![identity_id, id],
        )
        .db()?;
    }
    if let Some(meta) = req.meta.as_option() {
        conn.execute(
            "UPDATE keys SET meta = ?1 WHERE id = ?2",
            params![meta_text(meta), id],
        )
        .db()?;
    }
    if let Some(expires) = req.expires.as_option() {
        conn.execute(
            "UPDATE keys SET expires = ?1 WHERE id = ?2",
            params![expires, id],
        )
        .db()?;
    }
    if let Some(enabled) = req.enabled {
        conn.execute(
            "UPDATE keys SET enabled = ?1 WHERE id = ?2",
            params![enabled, id],
        )
        .db()?;
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
                conn.execute(
                    "UPDATE keys SET remaining = ?1 WHERE id = ?2",
                    params![remaining, id],
                )
                .db()?;
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
        replace_ratelimits(conn, ws, Some(id), None, rls)?;
    }
    if let Some(roles) = &req.roles {
        let role_ids = resolve_roles(conn, ws, roles)?;
        conn.execute("DELETE FROM key_roles WHERE key_id = ?1", [id])
            .db()?;
        link_roles(conn, id, &role_ids)?;
    }
    if let Some(perms) = &req.permissions {
        let ids = ensure_permissions(conn, ws, perms)?;
        conn.execute("DELETE FROM key_permissions WHERE key_id = ?1", [id])
            .db()?;
        link_permissions(conn, id, &ids)?;
    }
    conn.execute(
        "UPDATE keys SET updated_at = ?1 WHERE id = ?2",
        params![now, id],
    )
    .db()?;
    Ok(EmptyData {})
}

pub(crate) fn delete_key(conn: &Connection, ws: &str, req: &DeleteKeyRequest) -> Result<EmptyData> {
    let key = match find_key(conn, ws, &req.key_id)? {
        Some(k) => k,
        None => {
            return Err(Error::not_found(format!(
                "key `{}` not found",
                shown_value(&req.key_id)
            )))
        }
    };
    if req.permanent.unwrap_or(false) {
        conn.execute("DELETE FROM keys WHERE id = ?1", [&key.id])
            .db()?;
    } else {
        if key.deleted_at.is_some() {
            return Err(Error::not_found(format!(
                "key `{}` not found",
                shown_value(&req.key_id)
            )));
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
    conn.execute(
        "INSERT INTO key_permissions (key_id, permission_id) \
         SELECT ?1, permission_id FROM key_permissions WHERE key_id = ?2",
        params![new_id, old.id],
    )
    .db()?;
    conn.execute(
        "INSERT INTO key_roles (key_id, role_id) SELECT ?1, role_id FROM key_roles WHERE key_id = ?2",
        params![new_id, old.id],
    )
    .db()?;
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
        replace_ratelimits(conn, ws, Some(&new_id), None, &limits)?;
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

/// The other sha256 spelling of a sha256 hash (hex ↔ base64), used to spot duplicates.
fn other_spelling(hash: &KeyHash) -> Option<String> {
    match hash.variant {
        HashVariant::Sha256Base64 => STANDARD.decode(&hash.value).ok().map(hex::encode),
        HashVariant::Sha256Hex => hex::decode(&hash.value).ok().map(|b| STANDARD.encode(b)),
        HashVariant::Bcrypt => None,
    }
}

/// Hashes (either sha256 spelling) already stored in `ws` among `candidates`, a few hundred
/// per query.
fn existing_hashes(conn: &Connection, ws: &str, candidates: &[&str]) -> Result<HashSet<String>> {
    const CHUNK: usize = 250;
    let sql = format!(
        "SELECT hash FROM keys WHERE workspace_id = ?1 AND hash IN ({})",
        vec!["?"; CHUNK].join(", ")
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut found = HashSet::new();
    for chunk in candidates.chunks(CHUNK) {
        // Unused slots stay NULL, which matches nothing.
        let mut values: Vec<Option<&str>> = chunk.iter().map(|h| Some(*h)).collect();
        values.resize(CHUNK, None);
        let params = std::iter::once(Some(ws)).chain(values);
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).db()?;
        while let Some(row) = rows.next().db()? {
            found.insert(row.get::<_, String>(0).db()?);
        }
    }
    Ok(found)
}

/// Ids of identities of `ws` with these external ids (absent ones are left out).
fn existing_identities(
    conn: &Connection,
    ws: &str,
    external_ids: &[&str],
) -> Result<HashMap<String, String>> {
    const CHUNK: usize = 250;
    let sql = format!(
        "SELECT external_id, id FROM identities WHERE workspace_id = ?1 AND external_id IN ({})",
        vec!["?"; CHUNK].join(", ")
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut found = HashMap::new();
    for chunk in external_ids.chunks(CHUNK) {
        let mut values: Vec<Option<&str>> = chunk.iter().map(|h| Some(*h)).collect();
        values.resize(CHUNK, None);
        let params = std::iter::once(Some(ws)).chain(values);
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).db()?;
        while let Some(row) = rows.next().db()? {
            found.insert(row.get::<_, String>(0).db()?, row.get::<_, String>(1).db()?);
        }
    }
    Ok(found)
}

/// Role, permission and identity ids resolved once per distinct name within one migration
/// batch (nothing else writes during its transaction).
#[derive(Default)]
struct Resolved {
    roles: HashMap<String, String>,
    permissions: HashMap<String, String>,
    identities: HashMap<String, String>,
}

impl Resolved {
    /// Like [`resolve_roles`]: ids in order, without repeats; 404 naming the first unknown role.
    fn roles(&mut self, conn: &Connection, ws: &str, names: &[String]) -> Result<Vec<String>> {
        let mut ids: Vec<String> = Vec::with_capacity(names.len());
        for name in names {
            let id = match self.roles.get(name) {
                Some(id) => id.clone(),
                None => {
                    let id = resolve_roles(conn, ws, std::slice::from_ref(name))?
                        .pop()
                        .unwrap_or_default();
                    self.roles.insert(name.clone(), id.clone());
                    id
                }
            };
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Like [`ensure_permissions`]: ids by first occurrence of each slug, missing ones created.
    fn permissions(
        &mut self,
        conn: &Connection,
        ws: &str,
        slugs: &[String],
    ) -> Result<Vec<String>> {
        let mut ids = Vec::with_capacity(slugs.len());
        let mut seen = HashSet::new();
        for slug in slugs {
            if !seen.insert(slug.as_str()) {
                continue;
            }
            let id = match self.permissions.get(slug) {
                Some(id) => id.clone(),
                None => {
                    let id = ensure_permissions(conn, ws, std::slice::from_ref(slug))?
                        .pop()
                        .unwrap_or_default();
                    self.permissions.insert(slug.clone(), id.clone());
                    id
                }
            };
            ids.push(id);
        }
        Ok(ids)
    }

    /// Like [`ensure_identity`].
    fn identity(&mut self, conn: &Connection, ws: &str, external_id: &str) -> Result<String> {
        if let Some(id) = self.identities.get(external_id) {
            return Ok(id.clone());
        }
        let id = ensure_identity(conn, ws, external_id)?;
        self.identities.insert(external_id.to_string(), id.clone());
        Ok(id)
    }
}

/// How many live bcrypt keys of `ws` have a start that is a prefix of `start` or extends it
/// (counting stops at [`BCRYPT_MAX_CANDIDATES`]): the keys a presented key beginning with
/// `start` could have to be checked against beside a new one. Keeping this below the bound for
/// every new bcrypt key keeps every presented key's candidates (a chain of prefixes, whose
/// last-migrated member saw all the others) within it. Two index lookups on `keys_bcrypt`.
/// `start` is printable ASCII ([`check_migrated_start`]), so its extensions sort between it and
/// `start` + U+007F.
fn bcrypt_start_fanout(conn: &Connection, ws: &str, start: &str) -> Result<usize> {
    let prefixes = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM (SELECT 1 FROM keys WHERE workspace_id = ?1 \
             AND hash_variant = 'bcrypt' AND start IN ({}) AND deleted_at IS NULL \
             LIMIT {BCRYPT_MAX_CANDIDATES})",
            crate::verify::start_placeholders()
        ))
        .db()?
        .query_row(
            rusqlite::params_from_iter(
                std::iter::once(Some(ws)).chain(crate::verify::start_prefixes(start)),
            ),
            |r| r.get::<_, i64>(0),
        )
        .db()?;
    let extensions = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM (SELECT 1 FROM keys WHERE workspace_id = ?1 \
             AND hash_variant = 'bcrypt' AND start > ?2 AND start < ?3 AND deleted_at IS NULL \
             LIMIT {BCRYPT_MAX_CANDIDATES})"
        ))
        .db()?
        .query_row(params![ws, start, format!("{start}\u{7f}")], |r| {
            r.get::<_, i64>(0)
        })
        .db()?;
    Ok((prefixes + extensions) as usize)
}

pub(crate) fn migrate_keys(
    conn: &Connection,
    ws: &str,
    req: &MigrateKeysRequest,
) -> Result<MigrateKeysResponseData> {
    live_api(conn, ws, &req.api_id)?;
    let variant = req.hash_variant.unwrap_or_default();
    // Validate every hash first: a malformed one rejects the whole request with its location.
    let mut parsed = Vec::with_capacity(req.keys.len());
    let mut errors = Vec::new();
    for (i, k) in req.keys.iter().enumerate() {
        match KeyHash::parse(&k.hash, variant) {
            Ok(h) => {
                let other = other_spelling(&h);
                parsed.push((h, other));
            }
            Err(e) => errors.push(FieldError {
                location: format!("body.keys[{i}].hash"),
                message: format!("not a valid {variant} hash: {}", e.message),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(bad_request(errors));
    }
    // Every spelling of every hash, looked up at once. Keys inserted below are caught by `seen`.
    let candidates: Vec<&str> = parsed
        .iter()
        .flat_map(|(h, other)| std::iter::once(h.value.as_str()).chain(other.as_deref()))
        .collect();
    let existing = existing_hashes(conn, ws, &candidates)?;
    let mut external_ids: Vec<&str> = req
        .keys
        .iter()
        .filter_map(|k| k.external_id.as_deref())
        .collect();
    external_ids.sort_unstable();
    external_ids.dedup();
    let mut resolved = Resolved {
        identities: existing_identities(conn, ws, &external_ids)?,
        ..Resolved::default()
    };
    let mut key_ids = new_ids("key", req.keys.len())?.into_iter();
    let mut out = MigrateKeysResponseData::default();
    let mut seen: HashSet<String> = HashSet::with_capacity(req.keys.len());
    let now = now_ms();
    for (k, (hash, other)) in req.keys.iter().zip(parsed) {
        let exists =
            existing.contains(&hash.value) || other.as_ref().is_some_and(|o| existing.contains(o));
        let duplicate_in_batch =
            !seen.insert(hash.value.clone()) || other.as_ref().is_some_and(|o| seen.contains(o));
        if exists || duplicate_in_batch {
            out.failed.push(MigrateFailure {
                hash: k.hash.clone(),
                error: None,
            });
            continue;
        }
        // A per-record failure with its reason (`{hash, error}`): a bcrypt key needs a start
        // by which verify can find it, shared by at most BCRYPT_MAX_CANDIDATES keys.
        let start = k.start.as_deref().unwrap_or_default();
        let refused = match check_migrated_start(k.start.as_deref(), variant) {
            Err(reason) => Some(reason),
            Ok(())
                if variant == HashVariant::Bcrypt
                    && bcrypt_start_fanout(conn, ws, start)? >= BCRYPT_MAX_CANDIDATES =>
            {
                Some(format!(
                    "at most {BCRYPT_MAX_CANDIDATES} bcrypt keys may share a start (or starts \
                     that are prefixes of one another) and `{start}` would be the next: a \
                     verify checks at most {BCRYPT_MAX_CANDIDATES} bcrypt hashes; give this key \
                     a longer start"
                ))
            }
            Ok(()) => None,
        };
        if let Some(reason) = refused {
            out.failed.push(MigrateFailure {
                hash: k.hash.clone(),
                error: Some(reason),
            });
            continue;
        }
        let role_ids = resolved.roles(conn, ws, k.roles.as_deref().unwrap_or_default())?;
        let permission_ids =
            resolved.permissions(conn, ws, k.permissions.as_deref().unwrap_or_default())?;
        let identity_id = match k.external_id.as_deref() {
            Some(e) => Some(resolved.identity(conn, ws, e)?),
            None => None,
        };
        let key_id = key_ids.next().unwrap_or_default();
        insert_key_row(
            conn,
            &key_id,
            now,
            identity_id.as_deref(),
            &NewKey {
                ws,
                api_id: &req.api_id,
                hash: &hash.value,
                variant,
                start,
                name: k.name.as_deref(),
                meta: k.meta.as_ref(),
                external_id: k.external_id.as_deref(),
                expires: k.expires,
                enabled: k.enabled.unwrap_or(true),
                credits: k.credits.as_ref(),
                ratelimits: k.ratelimits.as_deref().unwrap_or_default(),
                permission_ids: &permission_ids,
                role_ids: &role_ids,
                migration_id: Some(&req.migration_id),
            },
        )?;
        out.migrated.push(MigratedKey {
            hash: k.hash.clone(),
            key_id,
        });
    }
    Ok(out)
}

pub(crate) fn add_permissions(
    conn: &Connection,
    ws: &str,
    key_id: &str,
    slugs: &[String],
) -> Result<Vec<Permission>> {
    let key = live_key(conn, ws, key_id)?;
    let ids = ensure_permissions(conn, ws, slugs)?;
    link_permissions(conn, &key.id, &ids)?;
    touch(conn, &key.id)?;
    direct_permissions(conn, &key.id)
}

pub(crate) fn remove_permissions(
    conn: &Connection,
    ws: &str,
    key_id: &str,
    slugs: &[String],
) -> Result<Vec<Permission>> {
    let key = live_key(conn, ws, key_id)?;
    // Every named permission must exist in the workspace (404 otherwise, as Unkey), checked
    // before anything is removed.
    let mut ids = Vec::with_capacity(slugs.len());
    for slug in slugs {
        let id: Option<String> = conn
            .prepare_cached(
                "SELECT id FROM permissions WHERE workspace_id = ?1 AND (slug = ?2 OR id = ?2) \
                 ORDER BY slug = ?2 DESC LIMIT 1",
            )
            .db()?
            .query_row(params![ws, slug], |r| r.get(0))
            .optional()
            .db()?;
        match id {
            Some(id) => ids.push(id),
            None => {
                return Err(Error::not_found(format!(
                    "permission `{slug}` was not found"
                )))
            }
        }
    }
    for id in ids {
        conn.execute(
            "DELETE FROM key_permissions WHERE key_id = ?1 AND permission_id = ?2",
            params![key.id, id],
        )
        .db()?;
    }
    touch(conn, &key.id)?;
    direct_permissions(conn, &key.id)
}

pub(crate) fn set_permissions(
    conn: &Connection,
    ws: &str,
    key_id: &str,
    slugs: &[String],
) -> Result<Vec<Permission>> {
    let key = live_key(conn, ws, key_id)?;
    let ids = ensure_permissions(conn, ws, slugs)?;
    conn.execute("DELETE FROM key_permissions WHERE key_id = ?1", [&key.id])
        .db()?;
    link_permissions(conn, &key.id, &ids)?;
    touch(conn, &key.id)?;
    direct_permissions(conn, &key.id)
}

pub(crate) fn add_roles(
    conn: &Connection,
    ws: &str,
    key_id: &str,
    names: &[String],
) -> Result<Vec<Role>> {
    let key = live_key(conn, ws, key_id)?;
    let ids = resolve_roles(conn, ws, names)?;
    link_roles(conn, &key.id, &ids)?;
    touch(conn, &key.id)?;
    key_roles(conn, &key.id)
}

pub(crate) fn remove_roles(
    conn: &Connection,
    ws: &str,
    key_id: &str,
    names: &[String],
) -> Result<Vec<Role>> {
    let key = live_key(conn, ws, key_id)?;
    // Every named role must exist (404 otherwise, as Unkey), checked before anything changes.
    let ids = resolve_roles(conn, ws, names)?;
    for id in ids {
        conn.execute(
            "DELETE FROM key_roles WHERE key_id = ?1 AND role_id = ?2",
            params![key.id, id],
        )
        .db()?;
    }
    touch(conn, &key.id)?;
    key_roles(conn, &key.id)
}

pub(crate) fn set_roles(
    conn: &Connection,
    ws: &str,
    key_id: &str,
    names: &[String],
) -> Result<Vec<Role>> {
    let key = live_key(conn, ws, key_id)?;
    let ids = resolve_roles(conn, ws, names)?;
    conn.execute("DELETE FROM key_roles WHERE key_id = ?1", [&key.id])
        .db()?;
    link_roles(conn, &key.id, &ids)?;
    touch(conn, &key.id)?;
    key_roles(conn, &key.id)
}

fn touch(conn: &Connection, key_id: &str) -> Result<()> {
    conn.execute(
        "UPDATE keys SET updated_at = ?1 WHERE id = ?2",
        params![now_ms(), key_id],
    )
    .db()?;
    Ok(())
}

pub(crate) fn update_credits(
    conn: &Connection,
    ws: &str,
    req: &UpdateCreditsRequest,
) -> Result<KeyCreditsData> {
    let mut key = live_key(conn, ws, &req.key_id)?;
    apply_refill(conn, &mut key, now_ms())?;
    match (req.operation, req.value) {
        (CreditsOperation::Set, None) => {
            conn.execute(
                "UPDATE keys SET remaining = NULL, refill_interval = NULL, refill_amount = NULL, \
                 refill_day = NULL WHERE id = ?1",
                [&key.id],
            )
            .db()?;
        }
        (CreditsOperation::Set, Some(v)) => {
            conn.execute(
                "UPDATE keys SET remaining = ?1 WHERE id = ?2",
                params![v, key.id],
            )
            .db()?;
        }
        (op, Some(v)) => {
            if key.remaining.is_none() {
                return Err(
                    Error::bad_request("the key has unlimited credits; set a value first")
                        .with_field("body.operation"),
                );
            }
            let sql = if op == CreditsOperation::Increment {
                "UPDATE keys SET remaining = CASE WHEN remaining > 9223372036854775807 - ?1 \
                 THEN 9223372036854775807 ELSE remaining + ?1 END WHERE id = ?2"
            } else {
                "UPDATE keys SET remaining = MAX(remaining - ?1, 0) WHERE id = ?2"
            };
            conn.execute(sql, params![v, key.id]).db()?;
        }
        (_, None) => {
            return Err(
                Error::bad_request("value is required for increment and decrement")
                    .with_field("body.value"),
            )
        }
    }
    touch(conn, &key.id)?;
    let key = live_key(conn, ws, &req.key_id)?;
    Ok(KeyCreditsData {
        remaining: key.remaining,
        refill: key.refill,
    })
}
