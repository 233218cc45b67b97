//! `keys.verifyKey` and the plaintext lookup shared with `keys.whoami`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use keyshift_core::hashing::{self, HashVariant};
use keyshift_core::keyformat;
use keyshift_core::query::{parse_permission_query, PermissionQuery};
use keyshift_core::wire::{
    Identity, KeyResponseData, RatelimitResponse, VerifyCode, VerifyKeyRequest,
    VerifyKeyResponseData,
};
use keyshift_core::{Error, Result};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::authz::Grants;
use crate::credits::{apply_refill, refill_due};
use crate::pool::{ReadConn, ReadTx};
use crate::ratelimit::LimitCheck;
use crate::rows::*;
use crate::schema::BUSY_TIMEOUT;
use crate::util::{field_error, is_unique_violation, now_ms, Db};
use crate::Inner;

/// Most bcrypt-stored keys tried for one presented key: those whose stored `start` is a prefix
/// of the presented key, found through the `keys_bcrypt (workspace_id, start)` index. bcrypt is
/// slow by design; `keys.migrateKeys` refuses a bcrypt key whose start would let one presented
/// key match more than this many (see `keys::bcrypt_start_fanout`), and the query's `LIMIT`
/// enforces it anyway, so an unknown key costs at most this many bcrypt checks. Migrated bcrypt
/// keys are re-stored as sha256_base64 on their first valid verify (lazy re-hash).
pub use keyshift_core::wire::BCRYPT_MAX_CANDIDATES;
use keyshift_core::wire::MIGRATED_START_MAX_LEN;

/// The key stored under `b64` (sha256_base64) or `hex` (sha256_hex) in workspace `ws`, deleted
/// or not. Both hashes are indexed; the match is confirmed in constant time.
fn exact_lookup(conn: &Connection, ws: &str, b64: &str, hex: &str) -> Result<Option<KeyRow>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM keys WHERE workspace_id = ?1 AND hash IN (?2, ?3)"
        ))
        .db()?;
    let mut rows = stmt.query(params![ws, b64, hex]).db()?;
    while let Some(row) = rows.next().db()? {
        let k = key_row(row).db()?;
        if (k.variant == HashVariant::Sha256Base64
            && hashing::constant_time_eq(k.hash.as_bytes(), b64.as_bytes()))
            || (k.variant == HashVariant::Sha256Hex
                && hashing::constant_time_eq(k.hash.as_bytes(), hex.as_bytes()))
        {
            return Ok(Some(k));
        }
    }
    Ok(None)
}

/// The prefixes of `text` a stored migrated `start` can be: every prefix of 1 to
/// [`MIGRATED_START_MAX_LEN`] bytes (on character boundaries), padded with `None` to that many.
pub(crate) fn start_prefixes(text: &str) -> [Option<&str>; MIGRATED_START_MAX_LEN] {
    let mut out = [None; MIGRATED_START_MAX_LEN];
    for (slot, len) in out
        .iter_mut()
        .zip(1..=text.len().min(MIGRATED_START_MAX_LEN))
    {
        if text.is_char_boundary(len) {
            *slot = Some(&text[..len]);
        }
    }
    out
}

/// `?2, ?3, …` for the [`start_prefixes`] bound after the workspace id.
pub(crate) fn start_placeholders() -> String {
    (2..2 + MIGRATED_START_MAX_LEN)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn bcrypt_candidates_sql() -> String {
    format!(
        "SELECT {KEY_COLUMNS} FROM keys WHERE workspace_id = ?1 \
         AND hash_variant = 'bcrypt' AND start IN ({}) AND deleted_at IS NULL \
         ORDER BY length(start) DESC, id LIMIT {BCRYPT_MAX_CANDIDATES}",
        start_placeholders()
    )
}

/// Live bcrypt-stored keys of `ws` whose `start` is a prefix of `plaintext`, at most
/// [`BCRYPT_MAX_CANDIDATES`], longest start first. Index lookups on `keys_bcrypt`; a bcrypt key
/// with an empty start (migrated before starts were required) is never a candidate.
fn bcrypt_candidates(conn: &Connection, ws: &str, plaintext: &str) -> Result<Vec<KeyRow>> {
    let mut stmt = conn.prepare_cached(&bcrypt_candidates_sql()).db()?;
    let params = std::iter::once(Some(ws)).chain(start_prefixes(plaintext));
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params), key_row)
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    Ok(rows)
}

/// The first candidate whose bcrypt hash matches `plaintext`, counting each check in
/// `inner.bcrypt_checks`. Slow by design: call it holding no connection.
fn bcrypt_match(inner: &Inner, candidates: Vec<KeyRow>, plaintext: &str) -> Option<KeyRow> {
    candidates.into_iter().find(|c| {
        inner.bcrypt_checks.fetch_add(1, Ordering::Relaxed);
        hashing::verify_bcrypt(plaintext, &c.hash).unwrap_or(false)
    })
}

/// Finds the stored key matching `plaintext` in workspace `ws`: by sha256_base64 (indexed),
/// then sha256_hex (indexed), then among bcrypt-stored keys. Deleted keys are returned too
/// (callers decide). bcrypt checks run without holding a connection.
pub(crate) fn lookup(inner: &Inner, ws: &str, plaintext: &str) -> Result<Option<KeyRow>> {
    let b64 = hashing::sha256_base64(plaintext);
    let hex = hashing::sha256_hex(plaintext);
    let candidates = {
        let conn = inner.reader()?;
        if let Some(exact) = exact_lookup(&conn, ws, &b64, &hex)? {
            return Ok(Some(exact));
        }
        bcrypt_candidates(&conn, ws, plaintext)?
    };
    Ok(bcrypt_match(inner, candidates, plaintext))
}

/// What a verification reports about a key besides its own row.
#[derive(Clone)]
pub(crate) struct Details {
    permissions: Vec<String>,
    roles: Vec<String>,
    identity: Option<Identity>,
    key_limits: Vec<RatelimitResponse>,
}

fn details(conn: &Connection, key: &KeyRow) -> Result<Details> {
    let permissions = effective_permission_slugs(conn, &key.id)?;
    let (roles, identity, key_limits) = key_links(conn, key)?;
    Ok(Details {
        permissions,
        roles,
        identity,
        key_limits,
    })
}

/// Verification records (key row and details) by sha256_base64 hash, for file databases.
///
/// An entry is used only while no commit has happened anywhere since it was read: before
/// every lookup the reader in hand asks `PRAGMA data_version`, which changes when any other
/// connection — this process's writer or another process — committed since that reader last
/// asked; a change bumps `generation`, and entries carry the generation read *before* their
/// read transaction began. Any commit after an entry's snapshot started is therefore seen by
/// whichever reader asks next (each reader compares with its own previous answer), before the
/// entry can be served. Only live sha256_base64 keys are cached; the rate limiter, credit
/// spends and refills are never served from here (they run on the writer as before).
pub(crate) struct VerifyCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Arc<CachedKey>>>,
}

struct CachedKey {
    workspace_id: String,
    generation: u64,
    key: KeyRow,
    details: Details,
}

/// Entries kept at most (the map is emptied when full).
const VERIFY_CACHE_MAX: usize = 10_000;

impl VerifyCache {
    pub(crate) fn new() -> VerifyCache {
        VerifyCache {
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, ws: &str, b64: &str, generation: u64) -> Option<(KeyRow, Details)> {
        let hit = self.entries.lock().get(b64).cloned()?;
        (hit.generation == generation
            && hit.workspace_id == ws
            && hashing::constant_time_eq(hit.key.hash.as_bytes(), b64.as_bytes()))
        .then(|| (hit.key.clone(), hit.details.clone()))
    }

    fn put(&self, ws: &str, b64: &str, generation: u64, key: &KeyRow, details: &Details) {
        let entry = Arc::new(CachedKey {
            workspace_id: ws.to_string(),
            generation,
            key: key.clone(),
            details: details.clone(),
        });
        let mut entries = self.entries.lock();
        if entries.len() >= VERIFY_CACHE_MAX && !entries.contains_key(b64) {
            entries.clear();
        }
        entries.insert(b64.to_string(), entry);
    }
}

/// The key matching `plaintext` in `ws` through `conn`: from the cache when nothing was
/// committed since it was read, else in one read transaction (one consistent snapshot).
fn load(inner: &Inner, conn: &mut ReadConn<'_>, ws: &str, plaintext: &str) -> Result<Loaded> {
    let b64 = hashing::sha256_base64(plaintext);
    let generation = match &inner.verify_cache {
        Some(cache) => {
            if conn.commits_since_last_look().db()? {
                cache.generation.fetch_add(1, Ordering::SeqCst);
            }
            let generation = cache.generation.load(Ordering::SeqCst);
            if let Some((key, details)) = cache.get(ws, &b64, generation) {
                return Ok(Loaded::Key(key, details));
            }
            Some(generation)
        }
        None => None,
    };
    let hex = hashing::sha256_hex(plaintext);
    let loaded = {
        let tx = ReadTx::begin(conn).db()?;
        match exact_lookup(&tx, ws, &b64, &hex)? {
            Some(k) if k.deleted_at.is_some() => Loaded::NotFound,
            Some(k) => {
                let d = details(&tx, &k)?;
                Loaded::Key(k, d)
            }
            None => {
                let candidates = bcrypt_candidates(&tx, ws, plaintext)?;
                if candidates.is_empty() {
                    Loaded::NotFound
                } else {
                    Loaded::Bcrypt(candidates)
                }
            }
        }
    };
    if let (Some(cache), Some(generation), Loaded::Key(key, details)) =
        (&inner.verify_cache, generation, &loaded)
    {
        if key.variant == HashVariant::Sha256Base64 {
            cache.put(ws, &b64, generation, key, details);
        }
    }
    Ok(loaded)
}

/// The live key matching `plaintext` with its details; `None` when unknown or deleted.
fn load_for_verify(inner: &Inner, ws: &str, plaintext: &str) -> Result<Option<(KeyRow, Details)>> {
    let loaded = {
        let mut conn = inner.reader()?;
        load(inner, &mut conn, ws, plaintext)?
    };
    match loaded {
        Loaded::NotFound => Ok(None),
        Loaded::Key(k, d) => Ok(Some((k, d))),
        Loaded::Bcrypt(candidates) => match bcrypt_match(inner, candidates, plaintext) {
            Some(k) => {
                let d = read_details(inner, &k)?;
                Ok(Some((k, d)))
            }
            None => Ok(None),
        },
    }
}

fn read_details(inner: &Inner, key: &KeyRow) -> Result<Details> {
    let conn = inner.reader()?;
    let tx = ReadTx::begin(&conn).db()?;
    details(&tx, key)
}

/// `keys.whoami`: the key's 404 also when the root key may not read keys of its api (as
/// Unkey: no existence leak).
pub(crate) fn whoami(
    inner: &Inner,
    ws: &str,
    grants: &Grants,
    plaintext: &str,
) -> Result<KeyResponseData> {
    match lookup(inner, ws, plaintext)? {
        Some(mut key) if key.deleted_at.is_none() && grants.on_api(&key.api_id, "read_key") => {
            let conn = inner.writer();
            apply_refill(&conn, &mut key, now_ms())?;
            key_response(&conn, &key)
        }
        _ => Err(Error::not_found("key not found")),
    }
}

fn finish(mut data: VerifyKeyResponseData, code: VerifyCode) -> Result<VerifyKeyResponseData> {
    data.code = code;
    data.valid = code == VerifyCode::Valid;
    Ok(data)
}

/// `keys.verifyKey`: checks in order unknown/deleted → disabled → expired → permissions →
/// rate limits → credits; spends credits only when every check passed.
pub(crate) fn verify(
    inner: &Inner,
    ws: &str,
    grants: &Grants,
    req: &VerifyKeyRequest,
) -> Result<VerifyKeyResponseData> {
    // A query that does not parse is a 400 only for a key that exists: an unknown key is
    // NOT_FOUND whatever the query, as in Unkey.
    let query = parse_query(req);
    let (key, details) = match load_for_verify(inner, ws, req.key.expose())? {
        Some(found) => found,
        None => return Ok(VerifyKeyResponseData::outcome(VerifyCode::NotFound)),
    };
    complete(inner, grants, req, query, key, details, now_ms())
}

fn parse_query(req: &VerifyKeyRequest) -> Result<Option<PermissionQuery>> {
    match &req.permissions {
        Some(q) => Ok(Some(
            parse_permission_query(q).map_err(|e| field_error("body.permissions", e.message))?,
        )),
        None => Ok(None),
    }
}

/// Whether finishing the verification of `key` at `now` writes (refill, credit spend, lazy
/// re-hash), i.e. needs the writer.
fn needs_writer(key: &KeyRow, now: i64) -> bool {
    key.remaining.is_some() || key.variant != HashVariant::Sha256Base64 || refill_due(key, now)
}

/// A verification run as far as possible without waiting, see [`try_verify`].
#[allow(clippy::large_enum_variant)] // built once per request and moved once
pub(crate) enum VerifyStep {
    Done(Result<VerifyKeyResponseData>),
    /// The rest needs the writer or bcrypt: run it where blocking is fine.
    Blocking(Box<dyn FnOnce() -> Result<VerifyKeyResponseData> + Send>),
}

#[allow(clippy::large_enum_variant)] // built once per request and moved once
enum Loaded {
    NotFound,
    Key(KeyRow, Details),
    Bcrypt(Vec<KeyRow>),
}

/// [`verify`] for callers on an async worker: does on the calling thread only what never
/// waits for a lock or for slow work (an idle reader's read transaction, the checks, the
/// in-memory rate limiter), and hands the rest back as [`VerifyStep::Blocking`]: verifications
/// that write (credits, refill, re-hash) or need bcrypt, or when no reader is idle. Nothing is
/// written or charged before the hand-over, so the result is the same as [`verify`]'s.
pub(crate) fn try_verify(
    inner: &Arc<Inner>,
    ws: &str,
    grants: &Arc<Grants>,
    req: VerifyKeyRequest,
) -> VerifyStep {
    // Checked once the key is found and may be verified (see `verify`).
    let query = parse_query(&req);
    let loaded = match inner.try_reader() {
        None => {
            let (inner, ws, grants) = (inner.clone(), ws.to_string(), grants.clone());
            return VerifyStep::Blocking(Box::new(move || verify(&inner, &ws, &grants, &req)));
        }
        Some(mut conn) => {
            // Never wait for a lock here (another process recovering or resetting the WAL):
            // a busy database fails at once and the blocking path below reads again.
            let loaded = conn
                .busy_timeout(Duration::ZERO)
                .db()
                .and_then(|_| load(inner, &mut conn, ws, req.key.expose()));
            let restored = conn.busy_timeout(BUSY_TIMEOUT).db();
            restored.and(loaded)
        }
    };
    match loaded {
        // Reads have no side effects: any failure (e.g. a busy database) is retried, and if
        // need be reported, by the blocking path with the usual busy timeout.
        Err(_) => {
            let (inner, ws, grants) = (inner.clone(), ws.to_string(), grants.clone());
            VerifyStep::Blocking(Box::new(move || verify(&inner, &ws, &grants, &req)))
        }
        Ok(Loaded::NotFound) => {
            VerifyStep::Done(Ok(VerifyKeyResponseData::outcome(VerifyCode::NotFound)))
        }
        Ok(Loaded::Key(key, details)) => {
            let now = now_ms();
            if needs_writer(&key, now) && grants.may_verify(&key.api_id) {
                let (inner, grants) = (inner.clone(), grants.clone());
                VerifyStep::Blocking(Box::new(move || {
                    complete(&inner, &grants, &req, query, key, details, now_ms())
                }))
            } else {
                VerifyStep::Done(complete(inner, grants, &req, query, key, details, now))
            }
        }
        Ok(Loaded::Bcrypt(candidates)) => {
            let (inner, grants) = (inner.clone(), grants.clone());
            VerifyStep::Blocking(Box::new(move || {
                let Some(key) = bcrypt_match(&inner, candidates, req.key.expose()) else {
                    return Ok(VerifyKeyResponseData::outcome(VerifyCode::NotFound));
                };
                let details = read_details(&inner, &key)?;
                complete(&inner, &grants, &req, query, key, details, now_ms())
            }))
        }
    }
}

/// The checks after the key is found: the root key's `verify_key` on the key's api (else
/// `NOT_FOUND`, before anything is written, charged or even the query judged, as Unkey: no
/// existence leak), then disabled → expired → permissions → rate limits → credits. A
/// verification that writes ([`needs_writer`]: refill, credit spend, lazy re-hash) does all
/// its writes in one IMMEDIATE transaction on the writer that first re-reads the key
/// (deleted, enabled, expires, credits) — see [`complete_writing`]. A rate-limit token is
/// consumed only by a verification that ends VALID.
fn complete(
    inner: &Inner,
    grants: &Grants,
    req: &VerifyKeyRequest,
    query: Result<Option<PermissionQuery>>,
    key: KeyRow,
    details: Details,
    now: i64,
) -> Result<VerifyKeyResponseData> {
    if !grants.may_verify(&key.api_id) {
        return Ok(VerifyKeyResponseData::outcome(VerifyCode::NotFound));
    }
    let query = query?;
    let query = query.as_ref();
    let Details {
        permissions,
        roles,
        identity,
        key_limits,
    } = details;
    let mut data = VerifyKeyResponseData::outcome(VerifyCode::Valid);
    data.key_id = Some(key.id.clone());
    data.name = key.name.clone();
    data.meta = key.meta.clone();
    data.expires = key.expires;
    // What the due refill (applied by the write transaction) would make of the balance.
    data.credits = match &key.refill {
        Some(refill) if refill_due(&key, now) => Some(refill.amount),
        _ => key.remaining,
    };
    data.enabled = Some(key.enabled);
    data.permissions = Some(permissions);
    data.roles = Some(roles);

    if !key.enabled {
        data.identity = identity;
        return finish(data, VerifyCode::Disabled);
    }
    if matches!(key.expires, Some(e) if e <= now) {
        data.identity = identity;
        return finish(data, VerifyCode::Expired);
    }
    if let Some(q) = query {
        if !q.evaluate_set(data.permissions.as_deref().unwrap_or_default()) {
            data.identity = identity;
            return finish(data, VerifyCode::InsufficientPermissions);
        }
    }

    // Rate limits: auto-applied ones of the key and its identity, plus those the request names
    // (key definitions win over identity ones of the same name).
    let identity_limits: Vec<RatelimitResponse> = identity
        .as_ref()
        .and_then(|i| i.ratelimits.clone())
        .unwrap_or_default();
    let mut defined: HashMap<&str, (String, &RatelimitResponse)> = HashMap::new();
    if let Some(ident) = &identity {
        for rl in &identity_limits {
            defined.insert(&rl.name, (format!("i:{}:{}", ident.id, rl.name), rl));
        }
    }
    for rl in &key_limits {
        defined.insert(&rl.name, (format!("k:{}:{}", key.id, rl.name), rl));
    }
    let mut checks: Vec<LimitCheck> = Vec::new();
    let requested = req.ratelimits.as_deref().unwrap_or_default();
    for r in requested {
        if checks.iter().any(|c| c.name == r.name) {
            continue;
        }
        match defined.get(r.name.as_str()) {
            Some((scope, rl)) => checks.push(LimitCheck {
                scope: scope.clone(),
                id: rl.id.clone(),
                name: rl.name.clone(),
                limit: r.limit.unwrap_or(rl.limit),
                duration: r.duration.filter(|d| *d > 0).unwrap_or(rl.duration),
                cost: r.cost.unwrap_or(1),
                auto_apply: rl.auto_apply,
                adhoc: false,
            }),
            None => match (r.limit, r.duration) {
                (Some(limit), Some(duration)) if duration > 0 => checks.push(LimitCheck {
                    scope: format!("k:{}:{}", key.id, r.name),
                    id: String::new(),
                    name: r.name.clone(),
                    limit,
                    duration,
                    cost: r.cost.unwrap_or(1),
                    auto_apply: false,
                    adhoc: true,
                }),
                _ => {
                    return Err(field_error(
                        "body.ratelimits",
                        format!(
                            "ratelimit `{}` is not defined on the key or its identity; \
                             give limit and duration to check an ad-hoc limit",
                            r.name
                        ),
                    ))
                }
            },
        }
    }
    let mut auto: Vec<(&String, &RatelimitResponse)> = defined
        .values()
        .filter(|(_, rl)| rl.auto_apply)
        .map(|(scope, rl)| (scope, *rl))
        .collect();
    auto.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    for (scope, rl) in auto {
        if checks.iter().any(|c| c.name == rl.name) {
            continue;
        }
        checks.push(LimitCheck {
            scope: scope.clone(),
            id: rl.id.clone(),
            name: rl.name.clone(),
            limit: rl.limit,
            duration: rl.duration,
            cost: 1,
            auto_apply: true,
            adhoc: false,
        });
    }
    data.identity = identity;

    if !needs_writer(&key, now) {
        // Nothing to write: the limiter's check-and-charge is the last step, so a token is
        // consumed exactly when the answer is VALID.
        if !checks.is_empty() {
            let (report, exceeded) = inner.limiter.lock().check(&checks, now);
            data.ratelimits = Some(report);
            if exceeded {
                return finish(data, VerifyCode::RateLimited);
            }
        }
        return finish(data, VerifyCode::Valid);
    }
    complete_writing(inner, req, key, data, &checks, now)
}

/// The end of a verification that writes, in one IMMEDIATE transaction: re-reads the key
/// (deleted → NOT_FOUND, disabled, expired: nothing written or charged), applies a due refill,
/// peeks at the rate limits (exceeded → RATE_LIMITED, no credit spent), spends the credits
/// (too few → USAGE_EXCEEDED, no token charged), charges the rate limits (atomically
/// re-checked: another verification may have used the last token meanwhile; then everything
/// rolls back), re-hashes a migrated key, and commits (a failed commit refunds the tokens).
fn complete_writing(
    inner: &Inner,
    req: &VerifyKeyRequest,
    key: KeyRow,
    mut data: VerifyKeyResponseData,
    checks: &[LimitCheck],
    now: i64,
) -> Result<VerifyKeyResponseData> {
    let hook = inner.verify_write_hook.lock().clone();
    if let Some(hook) = hook {
        hook();
    }
    let mut writer = inner.writer();
    let tx = writer
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db()?;
    let mut fresh = match find_key(&tx, &key.workspace_id, &key.id)? {
        Some(k) if k.deleted_at.is_none() => k,
        _ => return Ok(VerifyKeyResponseData::outcome(VerifyCode::NotFound)),
    };
    data.name = fresh.name.clone();
    data.meta = fresh.meta.clone();
    data.expires = fresh.expires;
    data.enabled = Some(fresh.enabled);
    data.credits = fresh.remaining;
    if !fresh.enabled {
        return finish(data, VerifyCode::Disabled);
    }
    if matches!(fresh.expires, Some(e) if e <= now) {
        return finish(data, VerifyCode::Expired);
    }
    apply_refill(&tx, &mut fresh, now)?;
    data.credits = fresh.remaining;

    if !checks.is_empty() {
        let (report, exceeded) = inner.limiter.lock().peek(checks, now);
        data.ratelimits = Some(report);
        if exceeded {
            tx.commit().db()?; // keeps the refill
            return finish(data, VerifyCode::RateLimited);
        }
    }

    // Credits: spent only on keys with limited credits, and only if enough are left.
    let cost = req.credits.as_ref().map(|c| c.cost).unwrap_or(1);
    if fresh.remaining.is_some() {
        let after: Option<Option<i64>> = tx
            .prepare_cached(
                "UPDATE keys SET remaining = remaining - ?1 \
                 WHERE id = ?2 AND remaining IS NOT NULL AND remaining >= ?1 RETURNING remaining",
            )
            .db()?
            .query_row(params![cost, fresh.id], |r| r.get(0))
            .optional()
            .db()?;
        match after {
            Some(remaining) => data.credits = remaining,
            None => {
                tx.commit().db()?; // keeps the refill
                return finish(data, VerifyCode::UsageExceeded);
            }
        }
    }

    // Lazy re-hash: store a sha256_hex / bcrypt key in the server's own form from now on.
    if fresh.variant != HashVariant::Sha256Base64 {
        let plaintext = req.key.expose();
        let b64 = hashing::sha256_base64(plaintext);
        let start = keyformat::key_start(plaintext);
        let result = tx.execute(
            "UPDATE keys SET hash = ?1, hash_variant = 'sha256_base64', \
             start = CASE WHEN start = '' THEN ?2 ELSE start END WHERE id = ?3 AND hash = ?4",
            params![b64, start, fresh.id, fresh.hash],
        );
        match result {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(crate::util::db_error(e)),
        }
    }

    // The tokens last: the verification is VALID unless another one took them meanwhile.
    if !checks.is_empty() {
        let (report, exceeded) = inner.limiter.lock().check(checks, now);
        data.ratelimits = Some(report);
        if exceeded {
            // Dropping `tx` rolls the spend back.
            return finish(data, VerifyCode::RateLimited);
        }
    }
    if let Err(e) = tx.commit() {
        if !checks.is_empty() {
            inner.limiter.lock().refund(checks, now);
        }
        return Err(crate::util::db_error(e));
    }
    finish(data, VerifyCode::Valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_prefixes_cover_every_stored_start_length() {
        let p = start_prefixes("sk_é1");
        assert_eq!(
            p[..7],
            [
                Some("s"),
                Some("sk"),
                Some("sk_"),
                None, // inside `é`
                Some("sk_é"),
                Some("sk_é1"),
                None
            ]
        );
        let long = "k".repeat(100);
        let p = start_prefixes(&long);
        assert_eq!(
            p[MIGRATED_START_MAX_LEN - 1].map(str::len),
            Some(MIGRATED_START_MAX_LEN)
        );
    }

    /// The bcrypt candidates are found through the partial `(workspace_id, start)` index, not
    /// by scanning the workspace's bcrypt keys.
    #[test]
    fn bcrypt_candidates_use_the_start_index() {
        let conn = crate::schema::open(":memory:").unwrap();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", bcrypt_candidates_sql()))
            .unwrap();
        let params = std::iter::once(Some("ws")).chain(start_prefixes("sk_live_abcdef"));
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(params), |r| r.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("USING INDEX keys_bcrypt (workspace_id=? AND start=?)"),
            "{plan}"
        );
    }
}
