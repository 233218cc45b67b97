//! Idempotency records (keyshift extension): the first answer to a request carrying an
//! `Idempotency-Key` is replayed for 24 h to a repeat of the same operation and body.
//!
//! "The same body" means the same JSON: the fingerprint is taken over a canonical form (object
//! keys sorted at every level, no insignificant whitespace), so a client that serialises the
//! same request differently is replayed, not refused. A body that is not JSON is fingerprinted
//! as its bytes.
//!
//! Answers of `keys.createKey` / `keys.rerollKey` contain a plaintext key, which must never be
//! stored readable. Each answer is therefore encrypted (ChaCha20-Poly1305) under a key derived
//! (HMAC-SHA-256) from a **server secret** together with the workspace and the idempotency key.
//! The secret is kept outside the database: a file `<db>.secret` beside it (32 random bytes as
//! hex, mode 0600), generated on first start; a `:memory:` database gets a random in-memory
//! secret. The idempotency key itself is never stored: the row is found by a hash of the
//! workspace and the key (without the secret, so that a database moved without its secret
//! answers a repeat with a clear 409 rather than running the request a second time). The
//! database alone therefore cannot decrypt any stored answer, even when idempotency keys are
//! guessable.
//!
//! Expired records are ignored when looked up and purged at most once per
//! [`PURGE_INTERVAL_MS`], not on every request.

use std::sync::atomic::{AtomicI64, Ordering};

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use keyshift_core::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::{field_error, now_ms, Db};
use crate::Reply;

/// How long an answer is replayed.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest idempotency key accepted.
pub const IDEMPOTENCY_KEY_MAX_LEN: usize = 255;
/// Expired records are deleted at most this often (10 minutes).
pub const PURGE_INTERVAL_MS: i64 = 10 * 60 * 1000;

/// The engine's idempotency state: the server secret and when to purge next.
pub(crate) struct Idempotency {
    secret: [u8; 32],
    next_purge: AtomicI64,
}

impl Idempotency {
    /// The state for the database at `path`: its secret from `<path>.secret` (created on first
    /// use), or a random one for databases that are not a plain file (`:memory:`, URIs).
    pub(crate) fn open(path: &str, file_backed: bool) -> Result<Idempotency> {
        let secret = if file_backed {
            load_or_create_secret(&format!("{path}.secret"))?
        } else {
            random_secret()?
        };
        Ok(Idempotency::with_secret(secret))
    }

    fn with_secret(secret: [u8; 32]) -> Idempotency {
        Idempotency {
            secret,
            next_purge: AtomicI64::new(i64::MIN),
        }
    }
}

fn random_secret() -> Result<[u8; 32]> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| Error::server(format!("the OS random number generator failed: {e}")))?;
    Ok(secret)
}

fn parse_secret(text: &[u8]) -> Option<[u8; 32]> {
    let text = std::str::from_utf8(text).ok()?.trim();
    let bytes = hex::decode(text).ok()?;
    bytes.try_into().ok()
}

/// Reads the secret at `path`, or creates it (mode 0600) if absent. Creation is atomic: the
/// secret is written to a private temporary file and hard-linked into place, so two processes
/// opening a new database at once end up with the same secret, and no reader ever sees a
/// partly written one.
fn load_or_create_secret(path: &str) -> Result<[u8; 32]> {
    use std::io::Write;
    let io = |what: &str, e: std::io::Error| Error::io(format!("{what} {path}: {e}"));
    for _ in 0..3 {
        match std::fs::read(path) {
            Ok(bytes) => {
                restrict_mode(path);
                return parse_secret(&bytes).ok_or_else(|| {
                    Error::io(format!(
                        "the server secret {path} is not 64 hexadecimal characters; restore it \
                         or remove it (stored idempotent answers then cannot be replayed)"
                    ))
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("cannot read the server secret", e)),
        }
        let secret = random_secret()?;
        let mut tag = [0u8; 8];
        getrandom::fill(&mut tag)
            .map_err(|e| Error::server(format!("the OS random number generator failed: {e}")))?;
        let tmp = format!("{path}.tmp-{}", hex::encode(tag));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let written = options.open(&tmp).and_then(|mut f| {
            f.write_all(format!("{}\n", hex::encode(secret)).as_bytes())?;
            f.sync_all()
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io("cannot write the server secret", e));
        }
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => return Ok(secret),
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io("cannot create the server secret", e)),
        }
    }
    Err(Error::io(format!("cannot create the server secret {path}")))
}

/// Makes an existing secret file private to its owner (0600) if it is not.
fn restrict_mode(path: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// HMAC-SHA-256 (RFC 2104) of `parts` (each followed by a NUL) under `key`.
fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
        inner.update(b"\0");
    }
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// Where the record of (`ws`, `key`) is stored: found without the secret (see module docs).
fn row_id(ws: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"keyshift-idempotency-v1\0id\0");
    h.update(ws.as_bytes());
    h.update(b"\0");
    h.update(key.as_bytes());
    hex::encode(h.finalize())
}

/// The encryption key of the record of (`ws`, `key`): needs the server secret.
fn enc_key(secret: &[u8; 32], ws: &str, key: &str) -> [u8; 32] {
    hmac(
        secret,
        &[
            b"keyshift-idempotency-v2",
            b"enc",
            ws.as_bytes(),
            key.as_bytes(),
        ],
    )
}

/// Writes `v` as canonical JSON: object keys sorted (by their UTF-8 bytes) at every level,
/// no whitespace; strings and numbers as serde_json writes them.
fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // Serializing a string cannot fail.
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

/// The fingerprint of a request: operation and canonical JSON body (raw bytes if the body is
/// not JSON). Computed before the writer is taken: a migration batch can be megabytes.
pub(crate) fn fingerprint(op: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(op.as_bytes());
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => {
            h.update(b"\0json\0");
            let mut canonical = Vec::with_capacity(body.len());
            write_canonical(&value, &mut canonical);
            h.update(&canonical);
        }
        Err(_) => {
            h.update(b"\0raw\0");
            h.update(body);
        }
    }
    hex::encode(h.finalize())
}

pub(crate) struct Slot {
    row_id: String,
    enc_key: [u8; 32],
    fingerprint: String,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").finish_non_exhaustive()
    }
}

/// Checks an `Idempotency-Key` header value (400 naming the header).
pub(crate) fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > IDEMPOTENCY_KEY_MAX_LEN {
        return Err(field_error(
            "header.Idempotency-Key",
            format!("must be 1 to {IDEMPOTENCY_KEY_MAX_LEN} characters long"),
        ));
    }
    Ok(())
}

/// Looks the idempotency key up for a request of `op` whose body has fingerprint `fp`
/// ([`fingerprint`]). `Ok(Err(slot))` means: run the request, then [`store`] into `slot`.
/// `Ok(Ok(reply))` is a replay. A key reused for another operation or body is 409, and so is
/// a record this server's secret cannot open.
pub(crate) fn lookup(
    state: &Idempotency,
    conn: &Connection,
    ws: &str,
    op: &str,
    fp: String,
    key: &str,
) -> Result<std::result::Result<Reply, Slot>> {
    check_key(key)?;
    let now = now_ms();
    purge_if_due(state, conn, now)?;
    let row_id = row_id(ws, key);
    let enc_key = enc_key(&state.secret, ws, key);
    let row: Option<(String, String, Vec<u8>, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT op, fingerprint, nonce, response FROM idempotency \
             WHERE id = ?1 AND workspace_id = ?2 AND created_at >= ?3",
        )
        .db()?
        .query_row(params![row_id, ws, now - IDEMPOTENCY_TTL_MS], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()
        .db()?;
    let Some((stored_op, stored_fp, nonce, sealed)) = row else {
        return Ok(Err(Slot {
            row_id,
            enc_key,
            fingerprint: fp,
        }));
    };
    if stored_op != op || stored_fp != fp {
        return Err(Error::conflict(
            "this Idempotency-Key was already used for a different request",
        ));
    }
    let cipher = ChaCha20Poly1305::new(Key::from_slice(&enc_key));
    let plain = (nonce.len() == 12)
        .then(|| {
            cipher
                .decrypt(Nonce::from_slice(&nonce), sealed.as_ref())
                .ok()
        })
        .flatten()
        .ok_or_else(|| {
            Error::conflict(
                "this Idempotency-Key was already used, and its stored answer cannot be opened \
                 with this server's secret (was the database moved without its .secret file?); \
                 use a new Idempotency-Key",
            )
        })?;
    let stored: Value =
        serde_json::from_slice(&plain).map_err(|_| Error::server("corrupt idempotency record"))?;
    let pagination = stored
        .get("pagination")
        .cloned()
        .and_then(|p| serde_json::from_value(p).ok());
    Ok(Ok(Reply {
        request_id: None,
        data: stored.get("data").cloned().unwrap_or(Value::Null),
        pagination,
    }))
}

/// Deletes expired records if the last purge is [`PURGE_INTERVAL_MS`] old (or none happened).
fn purge_if_due(state: &Idempotency, conn: &Connection, now: i64) -> Result<()> {
    let due = state.next_purge.load(Ordering::Relaxed);
    if now < due {
        return Ok(());
    }
    conn.prepare_cached("DELETE FROM idempotency WHERE created_at < ?1")
        .db()?
        .execute([now - IDEMPOTENCY_TTL_MS])
        .db()?;
    // Set after the delete: should it fail, the next request tries again.
    state
        .next_purge
        .store(now.saturating_add(PURGE_INTERVAL_MS), Ordering::Relaxed);
    Ok(())
}

/// Stores `reply` as the answer for `slot` (same transaction as the operation itself).
pub(crate) fn store(
    conn: &Connection,
    ws: &str,
    op: &str,
    slot: Slot,
    reply: &Reply,
) -> Result<()> {
    let plain = serde_json::json!({"data": reply.data, "pagination": reply.pagination}).to_string();
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce)
        .map_err(|e| Error::server(format!("the OS random number generator failed: {e}")))?;
    let cipher = ChaCha20Poly1305::new(Key::from_slice(&slot.enc_key));
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
        .map_err(|_| Error::server("cannot encrypt idempotency record"))?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idempotency (id, workspace_id, op, fingerprint, state, nonce, \
         response, created_at) VALUES (?1, ?2, ?3, ?4, 'done', ?5, ?6, ?7)",
    )
    .db()?
    .execute(params![
        slot.row_id,
        ws,
        op,
        slot.fingerprint,
        nonce.to_vec(),
        sealed,
        now_ms()
    ])
    .db()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_fingerprint_ignores_whitespace_and_key_order_only() {
        let a = fingerprint("keys.createKey", br#"{"a":1,"b":{"y":[1,"x"],"x":null}}"#);
        let b = fingerprint(
            "keys.createKey",
            b"{ \"b\" : {\"x\": null, \"y\": [1, \"x\"]},\n \"a\": 1 }",
        );
        assert_eq!(a, b);
        assert_ne!(
            a,
            fingerprint("keys.createKey", br#"{"a":1,"b":{"y":["x",1],"x":null}}"#)
        );
        assert_ne!(
            a,
            fingerprint("keys.rerollKey", br#"{"a":1,"b":{"y":[1,"x"],"x":null}}"#)
        );
        // Escapes are normalised by parsing; text that is not JSON is taken as bytes.
        assert_eq!(
            fingerprint("op", br#"{"k":"\u0041"}"#),
            fingerprint("op", br#"{"k":"A"}"#)
        );
        assert_ne!(
            fingerprint("op", b"not json"),
            fingerprint("op", b"not  json")
        );
    }

    #[test]
    fn hmac_matches_an_independent_implementation() {
        // python3: hmac.new(bytes(range(32)), b"abc\0", hashlib.sha256).hexdigest()
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert_eq!(
            hex::encode(hmac(&key, &[b"abc"])),
            "f5b76837e8c7ad5a1b559e50bb7e7597274e0e6534f2411b9ceedc7906cb941d"
        );
    }

    #[test]
    fn expired_records_are_ignored_and_purged_periodically() {
        let conn = crate::schema::open(":memory:").unwrap();
        conn.execute(
            "INSERT INTO workspaces (id, name, created_at) VALUES ('ws', 'w', 0)",
            [],
        )
        .unwrap();
        let state = Idempotency::with_secret([7u8; 32]);
        let count = |conn: &Connection| -> i64 {
            conn.query_row("SELECT count(*) FROM idempotency", [], |r| r.get(0))
                .unwrap()
        };
        let reply = Reply {
            request_id: None,
            data: serde_json::json!({"keyId": "key_1"}),
            pagination: None,
        };
        let fp = || fingerprint("keys.createKey", b"{}");
        let slot = lookup(&state, &conn, "ws", "keys.createKey", fp(), "k1")
            .unwrap()
            .unwrap_err();
        store(&conn, "ws", "keys.createKey", slot, &reply).unwrap();
        let replay = lookup(&state, &conn, "ws", "keys.createKey", fp(), "k1").unwrap();
        assert_eq!(replay.ok(), Some(reply.clone()));
        // Age the record past the TTL: it is not replayed (the purge already ran recently, so
        // it is still stored), then deleted by the next purge.
        conn.execute("UPDATE idempotency SET created_at = 0", [])
            .unwrap();
        let fresh = lookup(&state, &conn, "ws", "keys.createKey", fp(), "k1").unwrap();
        assert!(fresh.is_err(), "an expired record is not replayed");
        assert_eq!(count(&conn), 1, "no purge on every request");
        state.next_purge.store(0, Ordering::Relaxed);
        let _ = lookup(&state, &conn, "ws", "keys.createKey", fp(), "k2").unwrap();
        assert_eq!(count(&conn), 0, "purged when due");
        // Another secret cannot open a stored answer.
        let slot = lookup(&state, &conn, "ws", "keys.createKey", fp(), "k3")
            .unwrap()
            .unwrap_err();
        store(&conn, "ws", "keys.createKey", slot, &reply).unwrap();
        let other = Idempotency::with_secret([8u8; 32]);
        let err = lookup(&other, &conn, "ws", "keys.createKey", fp(), "k3").unwrap_err();
        assert_eq!(err.code, keyshift_core::ErrorCode::Conflict);
        assert!(err.message.contains("secret"), "{err}");
    }

    #[test]
    fn secret_file_is_created_once_private_and_reused() {
        let (dir, path) = crate::util::temp_file("db.secret");
        let path = path.as_str();
        let a = load_or_create_secret(path).unwrap();
        let b = load_or_create_secret(path).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
        std::fs::write(path, "short").unwrap();
        assert!(load_or_create_secret(path).is_err());
    }
}
