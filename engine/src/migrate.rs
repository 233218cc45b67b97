//! `keys.migrateKeys`: importing keys by their hashes, with duplicate and identity checks.

use std::collections::{HashMap, HashSet};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use keyshift_core::hashing::{HashVariant, KeyHash};
use keyshift_core::wire::*;
use keyshift_core::wire::{check_migrated_start, BCRYPT_MAX_CANDIDATES};
use keyshift_core::{FieldError, Result};
use rusqlite::{params, Connection};

use crate::keys::{insert_key_row, NewKey};
use crate::rows::*;
use crate::util::{bad_request, new_ids, now_ms, Db};

/// The other sha256 spelling of a sha256 hash (hex ↔ base64), used to spot duplicates.
fn other_spelling(hash: &KeyHash) -> Option<String> {
    match hash.variant {
        HashVariant::Sha256Base64 => STANDARD.decode(&hash.value).ok().map(hex::encode),
        HashVariant::Sha256Hex => hex::decode(&hash.value).ok().map(|b| STANDARD.encode(b)),
        HashVariant::Bcrypt => None,
    }
}

/// Runs `select` (whose `?1` is the workspace, followed by `IN (` and the values) for `values`
/// a few hundred at a time, and collects every row `read` makes of the answers.
fn select_in<T, C: Default + Extend<T>>(
    conn: &Connection,
    select: &str,
    ws: &str,
    values: &[&str],
    read: impl Fn(&rusqlite::Row) -> rusqlite::Result<T>,
) -> Result<C> {
    const CHUNK: usize = 250;
    let sql = format!("{select} IN ({})", vec!["?"; CHUNK].join(", "));
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut found = C::default();
    for chunk in values.chunks(CHUNK) {
        // Unused slots stay NULL, which matches nothing.
        let mut slots: Vec<Option<&str>> = chunk.iter().map(|h| Some(*h)).collect();
        slots.resize(CHUNK, None);
        let params = std::iter::once(Some(ws)).chain(slots);
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).db()?;
        while let Some(row) = rows.next().db()? {
            found.extend(Some(read(row).db()?));
        }
    }
    Ok(found)
}

/// Hashes (either sha256 spelling) already stored in `ws` among `candidates`.
fn existing_hashes(conn: &Connection, ws: &str, candidates: &[&str]) -> Result<HashSet<String>> {
    select_in(
        conn,
        "SELECT hash FROM keys WHERE workspace_id = ?1 AND hash",
        ws,
        candidates,
        |row| row.get::<_, String>(0),
    )
}

/// Ids of identities of `ws` with these external ids (absent ones are left out).
fn existing_identities(
    conn: &Connection,
    ws: &str,
    external_ids: &[&str],
) -> Result<HashMap<String, String>> {
    select_in(
        conn,
        "SELECT external_id, id FROM identities WHERE workspace_id = ?1 AND external_id",
        ws,
        external_ids,
        |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
    )
}

/// Role, permission and identity ids resolved once per distinct name within one migration
/// batch (nothing else writes during its transaction).
#[derive(Default)]
struct Resolved {
    roles: HashMap<String, String>,
    permissions: HashMap<String, String>,
    identities: HashMap<String, String>,
}

/// The id of `name` from `cache`, or resolved by `resolve` (given just `name`) and cached.
fn cached(
    cache: &mut HashMap<String, String>,
    name: &String,
    resolve: impl FnOnce(&[String]) -> Result<Vec<String>>,
) -> Result<String> {
    if let Some(id) = cache.get(name) {
        return Ok(id.clone());
    }
    let id = resolve(std::slice::from_ref(name))?
        .pop()
        .unwrap_or_default();
    cache.insert(name.clone(), id.clone());
    Ok(id)
}

impl Resolved {
    /// Like [`resolve_roles`]: ids in order, without repeats; 404 naming the first unknown role.
    fn roles(&mut self, conn: &Connection, ws: &str, names: &[String]) -> Result<Vec<String>> {
        let mut ids: Vec<String> = Vec::with_capacity(names.len());
        for name in names {
            let id = cached(&mut self.roles, name, |one| resolve_roles(conn, ws, one))?;
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
            let id = cached(&mut self.permissions, slug, |one| {
                ensure_permissions(conn, ws, one)
            })?;
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
