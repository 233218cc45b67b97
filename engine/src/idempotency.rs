//! Idempotency records (keyshift extension): the first answer to a request carrying an
//! `Idempotency-Key` is replayed for 24 h to a repeat of the same operation and body.
//!
//! Answers of `keys.createKey` / `keys.rerollKey` contain a plaintext key, which must never be
//! stored readable. Each answer is therefore encrypted (ChaCha20-Poly1305) under a key derived
//! from the workspace and the idempotency key; the row is found by a different hash of the
//! same, and the idempotency key itself is never stored. The database alone cannot decrypt it.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use keyshift_core::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::util::{field_error, now_ms, Db};
use crate::Reply;

/// How long an answer is replayed.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest idempotency key accepted.
pub const IDEMPOTENCY_KEY_MAX_LEN: usize = 255;

fn derive(purpose: &str, ws: &str, key: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"keyshift-idempotency-v1\0");
    h.update(purpose.as_bytes());
    h.update(b"\0");
    h.update(ws.as_bytes());
    h.update(b"\0");
    h.update(key.as_bytes());
    h.finalize().into()
}

fn fingerprint(op: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(op.as_bytes());
    h.update(b"\0");
    h.update(body);
    hex::encode(h.finalize())
}

pub(crate) struct Slot {
    row_id: String,
    enc_key: [u8; 32],
    fingerprint: String,
}

/// Looks the idempotency key up. `Ok(Err(slot))` means: run the request, then [`store`] into
/// `slot`. `Ok(Ok(reply))` is a replay. A key reused for another operation or body is 409.
pub(crate) fn lookup(
    conn: &Connection,
    ws: &str,
    op: &str,
    body: &[u8],
    key: &str,
) -> Result<std::result::Result<Reply, Slot>> {
    if key.is_empty() || key.len() > IDEMPOTENCY_KEY_MAX_LEN {
        return Err(field_error(
            "header.Idempotency-Key",
            format!("must be 1 to {IDEMPOTENCY_KEY_MAX_LEN} characters long"),
        ));
    }
    let now = now_ms();
    conn.prepare_cached("DELETE FROM idempotency WHERE created_at < ?1")
        .db()?
        .execute([now - IDEMPOTENCY_TTL_MS])
        .db()?;
    let row_id = hex::encode(derive("id", ws, key));
    let enc_key = derive("enc", ws, key);
    let fp = fingerprint(op, body);
    let row: Option<(String, String, Vec<u8>, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT op, fingerprint, nonce, response FROM idempotency \
             WHERE id = ?1 AND workspace_id = ?2",
        )
        .db()?
        .query_row(params![row_id, ws], |r| {
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
    if nonce.len() != 12 {
        return Err(Error::server("corrupt idempotency record"));
    }
    let plain = cipher
        .decrypt(Nonce::from_slice(&nonce), sealed.as_ref())
        .map_err(|_| Error::server("cannot decrypt idempotency record"))?;
    let stored: serde_json::Value =
        serde_json::from_slice(&plain).map_err(|_| Error::server("corrupt idempotency record"))?;
    let pagination = stored
        .get("pagination")
        .cloned()
        .and_then(|p| serde_json::from_value(p).ok());
    Ok(Ok(Reply {
        data: stored
            .get("data")
            .cloned()
            .unwrap_or(serde_json::Value::Null),
        pagination,
    }))
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
