//! Hashing of keys: the three hash variants of DESIGN.md §3 (`sha256_base64`, the server's own
//! storage form; `sha256_hex`; `bcrypt`), batched parallel hashing for migration, and
//! constant-time comparison.
//!
//! A key is hashed as the exact UTF-8 bytes it is made of: nothing is trimmed or normalised.
//! Keys that are empty or made only of whitespace are rejected, since they can only be the result
//! of a parsing mistake upstream.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// bcrypt cost used by [`hash_key`] for [`HashVariant::Bcrypt`].
pub const DEFAULT_BCRYPT_COST: u32 = 10;
/// Smallest bcrypt cost accepted (the algorithm's minimum).
pub const MIN_BCRYPT_COST: u32 = 4;
/// Largest bcrypt cost accepted (the algorithm's maximum).
pub const MAX_BCRYPT_COST: u32 = 31;
/// Below this many keys, [`hash_keys`] hashes sha256 variants on the calling thread.
pub const PARALLEL_THRESHOLD: usize = 2048;

crate::setters::str_enum! {
    /// How a key's hash is written. The string forms (`as_str`, serde) are part of the wire
    /// contract.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum HashVariant {
        /// Standard base64 (with padding) of the SHA-256 of the key: the server's storage form.
        #[default]
        Sha256Base64 = "sha256_base64",
        /// Lowercase hex of the SHA-256 of the key.
        Sha256Hex = "sha256_hex",
        /// A bcrypt hash (`$2a$`, `$2b$` or `$2y$`), carried as-is.
        Bcrypt = "bcrypt",
    }
}

impl FromStr for HashVariant {
    type Err = Error;

    /// Parses a variant name (ASCII case-insensitive). Error: `invalid_input` on field `variant`.
    fn from_str(s: &str) -> Result<Self> {
        HashVariant::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::invalid_input(
                    "variant",
                    "unknown hash variant; expected one of sha256_base64, sha256_hex, bcrypt",
                )
            })
    }
}

/// A key's hash together with its variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHash {
    /// The hash as text: base64, lowercase hex, or a full bcrypt string.
    pub value: String,
    /// How `value` is written.
    pub variant: HashVariant,
}

impl KeyHash {
    /// Checks that `value` has the shape of a `variant` hash and returns it in canonical form
    /// (hex is lowercased). Errors are `invalid_input` on field `hash`.
    ///
    /// - `sha256_base64`: standard padded base64 of exactly 32 bytes (44 characters);
    /// - `sha256_hex`: 64 hex digits (uppercase accepted and lowercased);
    /// - `bcrypt`: `$2a$`, `$2b$` or `$2y$`, a 2-digit cost 04–31, `$`, 53 characters of
    ///   bcrypt's base64 (22 of salt, 31 of hash).
    pub fn parse(value: &str, variant: HashVariant) -> Result<KeyHash> {
        let value = match variant {
            HashVariant::Sha256Base64 => {
                decode_sha256_base64(value)?;
                value.to_string()
            }
            HashVariant::Sha256Hex => {
                decode_sha256_hex(value)?;
                value.to_ascii_lowercase()
            }
            HashVariant::Bcrypt => {
                check_bcrypt_shape(value)?;
                value.to_string()
            }
        };
        Ok(KeyHash { value, variant })
    }

    /// Whether `plaintext` hashes to this hash. sha256 variants compare the digests in
    /// constant time; bcrypt runs the bcrypt algorithm with the hash's salt and cost. A key that
    /// is empty or whitespace-only never matches. Errors only when `value` is malformed
    /// (`invalid_input`, field `hash`).
    pub fn matches(&self, plaintext: &str) -> Result<bool> {
        let blank = is_blank(plaintext);
        match self.variant {
            HashVariant::Sha256Base64 | HashVariant::Sha256Hex => {
                let expected = match self.variant {
                    HashVariant::Sha256Base64 => decode_sha256_base64(&self.value)?,
                    _ => decode_sha256_hex(&self.value)?,
                };
                let actual: [u8; 32] = Sha256::digest(plaintext.as_bytes()).into();
                Ok(constant_time_eq(&actual, &expected) && !blank)
            }
            HashVariant::Bcrypt => {
                let ok = verify_bcrypt(plaintext, &self.value)?;
                Ok(ok && !blank)
            }
        }
    }
}

impl fmt::Display for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// Standard base64 (with padding) of the SHA-256 of `plaintext`'s UTF-8 bytes. The hot path of
/// verification and migration: no validation, one allocation.
pub fn sha256_base64(plaintext: &str) -> String {
    // Encode on the stack, then one exact-size allocation.
    let digest = Sha256::digest(plaintext.as_bytes());
    let mut buf = [0u8; 44];
    let n = STANDARD
        .encode_slice(digest, &mut buf)
        .expect("44 bytes hold the base64 of 32");
    String::from(std::str::from_utf8(&buf[..n]).expect("base64 is ASCII"))
}

/// Lowercase hex of the SHA-256 of `plaintext`'s UTF-8 bytes. No validation, one allocation.
pub fn sha256_hex(plaintext: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(plaintext.as_bytes());
    let mut buf = [0u8; 64];
    for (pair, byte) in buf.chunks_exact_mut(2).zip(digest) {
        pair[0] = HEX[(byte >> 4) as usize];
        pair[1] = HEX[(byte & 0x0f) as usize];
    }
    String::from(std::str::from_utf8(&buf).expect("hex digits are ASCII"))
}

/// Hashes one key in `variant` form. Rejects a key that is empty or whitespace-only
/// (`invalid_input`, field `key`); otherwise hashes its exact UTF-8 bytes. bcrypt uses
/// [`DEFAULT_BCRYPT_COST`] and a fresh random salt.
pub fn hash_key(plaintext: &str, variant: HashVariant) -> Result<KeyHash> {
    check_key(plaintext)?;
    hash_unchecked(plaintext, variant)
}

/// Hashes many keys, returning the hashes in input order (same values as [`hash_key`]). sha256
/// batches of [`PARALLEL_THRESHOLD`] keys or more, and bcrypt batches of more than one key, are
/// hashed in parallel on rayon's current pool (use `ThreadPool::install` to choose it); smaller
/// batches on the calling thread. If any key is empty or whitespace-only, no hashes are
/// returned: the error is that of the first such key, with its 1-based position as `record`.
pub fn hash_keys<S: AsRef<str> + Sync>(
    plaintexts: &[S],
    variant: HashVariant,
) -> Result<Vec<KeyHash>> {
    let first_bad = |index: usize| {
        let err = check_key(plaintexts[index].as_ref()).expect_err("a blank key");
        err.with_record(index as u64 + 1)
    };
    let width = match variant {
        HashVariant::Sha256Base64 | HashVariant::Sha256Hex => packed_width_or_err(variant)?,
        HashVariant::Bcrypt => {
            if let Some(index) = plaintexts.iter().position(|p| is_blank(p.as_ref())) {
                return Err(first_bad(index));
            }
            return if plaintexts.len() > 1 {
                plaintexts
                    .par_iter()
                    .with_max_len(1)
                    .map(|p| hash_unchecked(p.as_ref(), variant))
                    .collect()
            } else {
                plaintexts
                    .iter()
                    .map(|p| hash_unchecked(p.as_ref(), variant))
                    .collect()
            };
        }
    };
    // The one batch loop (eight keys at a time where the CPU gains by it), then one `String`
    // per hash, made in parallel for large batches.
    let mut packed = vec![0u8; plaintexts.len() * width];
    hash_keys_into(plaintexts, variant, &mut packed)?;
    let to_hash = |slot: &[u8]| KeyHash {
        value: std::str::from_utf8(slot)
            .expect("base64 and hex are ASCII")
            .to_owned(),
        variant,
    };
    Ok(if plaintexts.len() < PARALLEL_THRESHOLD {
        packed.chunks_exact(width).map(to_hash).collect()
    } else {
        packed
            .par_chunks_exact(width)
            .with_min_len(512)
            .map(to_hash)
            .collect()
    })
}

/// Bytes per hash in the packed output of [`hash_packed`] and [`hash_keys_into`]: 44 for
/// `sha256_base64`, 64 for `sha256_hex`; `None` for bcrypt, which has no packed form.
pub fn packed_width(variant: HashVariant) -> Option<usize> {
    match variant {
        HashVariant::Sha256Base64 => Some(44),
        HashVariant::Sha256Hex => Some(64),
        HashVariant::Bcrypt => None,
    }
}

/// Many keys in one buffer, for [`hash_packed`].
#[derive(Clone, Copy, Debug)]
pub enum PackedKeys<'a> {
    /// Keys separated by the byte `sep` (ASCII, e.g. `b'\n'`); one trailing `sep` after the last
    /// key is allowed and ignored (`"a\nb\n"` is two keys). Empty `data` holds no keys.
    Separated {
        /// The keys' UTF-8 bytes and the separators.
        data: &'a [u8],
        /// The separator: an ASCII byte, so that it can never be part of a multi-byte character.
        sep: u8,
    },
    /// Key `i` is `data[offsets[i]..offsets[i + 1]]`: `offsets` holds one more entry than there
    /// are keys, starts at 0, never decreases and ends at `data.len()`.
    Offsets {
        /// The keys' UTF-8 bytes, back to back.
        data: &'a [u8],
        /// Key boundaries (see above).
        offsets: &'a [u32],
    },
}

/// Hashes many keys given in one buffer into one buffer of fixed-width hashes: hash `i` is
/// `out[i * w..(i + 1) * w]` with `w` = [`packed_width`] (44 or 64 ASCII bytes, no separators).
/// The values are those of [`hash_key`]. Nothing is allocated per key; batches of
/// [`PARALLEL_THRESHOLD`] keys or more are hashed in parallel on rayon's current pool.
///
/// `expected`, when given, is the number of keys the caller packed: a different count (a key
/// that contains the separator, or a missing one) is an `invalid_input` error on field `keys`
/// before anything is hashed. Other errors (`invalid_input`): bcrypt (field `variant`); a
/// non-ASCII separator (field `sep`); malformed offsets (field `offsets`, with the 1-based
/// `record` of the first key they cannot delimit); a key that is empty, whitespace-only or not
/// UTF-8 (field `key`, the first such key's 1-based position as `record`; no hashes returned).
pub fn hash_packed(
    keys: PackedKeys<'_>,
    variant: HashVariant,
    expected: Option<usize>,
) -> Result<Vec<u8>> {
    let width = packed_width_or_err(variant)?;
    let batch = PackedBatch::new(keys, expected)?;
    let mut out = vec![0u8; batch.len() * width];
    batch.hash_into(variant, &mut out)?;
    Ok(out)
}

/// [`hash_packed`] in two steps, for callers that allocate the output themselves (e.g. inside a
/// host's bytes object): [`PackedBatch::new`] checks the layout and counts the keys,
/// [`PackedBatch::hash_into`] hashes them into a buffer of `len()` × [`packed_width`] bytes.
#[derive(Debug)]
pub struct PackedBatch<'a> {
    data: &'a [u8],
    /// Offsets form: the caller's offsets. Separated form: key starts plus one past the end of
    /// the last key's separator (real or implied); key `i` then ends at `bounds[i + 1] - 1`.
    bounds: std::borrow::Cow<'a, [u32]>,
    separated: bool,
}

impl<'a> PackedBatch<'a> {
    /// Checks the layout (separator, offsets, `expected` count; the errors of [`hash_packed`]
    /// except those about single keys) and finds the keys. Hashes nothing.
    pub fn new(keys: PackedKeys<'a>, expected: Option<usize>) -> Result<Self> {
        let batch = match keys {
            PackedKeys::Separated { data, sep } => PackedBatch {
                data,
                bounds: split_bounds(data, sep)?.into(),
                separated: true,
            },
            PackedKeys::Offsets { data, offsets } => {
                check_offsets(data, offsets)?;
                PackedBatch {
                    data,
                    bounds: offsets.into(),
                    separated: false,
                }
            }
        };
        let n = batch.len();
        if let Some(expected) = expected {
            if expected != n {
                return Err(Error::invalid_input(
                    "keys",
                    format!(
                        "found {n} keys where {expected} were packed: a key contains the \
                         separator, or the count is wrong"
                    ),
                ));
            }
        }
        Ok(batch)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hashes every key into `out` (exactly `len()` × [`packed_width`] bytes, else
    /// `invalid_input` on field `out`). Errors on bcrypt and on bad keys, as [`hash_packed`].
    pub fn hash_into(&self, variant: HashVariant, out: &mut [u8]) -> Result<()> {
        let width = packed_width_or_err(variant)?;
        check_out_len(out, self.len(), width)?;
        let (data, bounds, separated) = (self.data, &*self.bounds, self.separated);
        let key = |i: usize| -> &[u8] {
            let start = bounds[i] as usize;
            let end = bounds[i + 1] as usize;
            &data[start..if separated { end - 1 } else { end }]
        };
        hash_batch(self.len(), key, true, variant, out)
    }
}

fn check_out_len(out: &[u8], n: usize, width: usize) -> Result<()> {
    if out.len() == n * width {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "out",
            format!("out must hold {} bytes ({width} per key)", n * width),
        ))
    }
}

/// Like [`hash_keys`] for sha256 variants, but writes the hashes back to back into `out`
/// (`keys.len()` × [`packed_width`] bytes, checked) instead of allocating one `String` per
/// key. Same errors as [`hash_keys`] (first blank key, with its `record`); bcrypt and a wrong
/// `out` length are `invalid_input`.
pub fn hash_keys_into<S: AsRef<str> + Sync>(
    keys: &[S],
    variant: HashVariant,
    out: &mut [u8],
) -> Result<()> {
    let width = packed_width_or_err(variant)?;
    if out.len() != keys.len() * width {
        return Err(Error::invalid_input(
            "out",
            format!(
                "out must hold {} bytes ({width} per key)",
                keys.len() * width
            ),
        ));
    }
    hash_batch(
        keys.len(),
        |i| keys[i].as_ref().as_bytes(),
        false,
        variant,
        out,
    )
}

fn packed_width_or_err(variant: HashVariant) -> Result<usize> {
    packed_width(variant).ok_or_else(|| {
        Error::invalid_input(
            "variant",
            "packed hashing supports sha256_base64 and sha256_hex (bcrypt is one key at a time)",
        )
    })
}

/// Start offsets of the keys of a separated buffer, plus a final entry one past the end of the
/// last key's separator (real or implied), so that key `i` is `start[i]..start[i + 1] - 1`.
fn split_bounds(data: &[u8], sep: u8) -> Result<Vec<u32>> {
    if !sep.is_ascii() {
        return Err(Error::invalid_input(
            "sep",
            "the separator must be one ASCII byte",
        ));
    }
    if data.len() >= u32::MAX as usize {
        return Err(Error::invalid_input(
            "keys",
            "packed keys must be under 4 GiB",
        ));
    }
    let mut bounds = Vec::with_capacity(data.len() / 32 + 2);
    bounds.push(0u32);
    for at in memchr::memchr_iter(sep, data) {
        bounds.push(at as u32 + 1);
    }
    // No trailing separator: the last key ends at the end of the buffer.
    if !data.is_empty() && data[data.len() - 1] != sep {
        bounds.push(data.len() as u32 + 1);
    }
    if data.is_empty() {
        bounds.clear();
    }
    Ok(bounds)
}

fn check_offsets(data: &[u8], offsets: &[u32]) -> Result<()> {
    let bad = |record: usize, what: &str| {
        Err(Error::invalid_input("offsets", what.to_string()).with_record(record as u64))
    };
    match offsets.first() {
        None => {
            return bad(
                0,
                "offsets must hold one more entry than there are keys (at least [0])",
            )
        }
        Some(&first) if first != 0 => return bad(1, "offsets must start at 0"),
        _ => {}
    }
    for (i, pair) in offsets.windows(2).enumerate() {
        if pair[1] < pair[0] {
            return bad(i + 1, "offsets must never decrease");
        }
    }
    if offsets[offsets.len() - 1] as usize != data.len() {
        return bad(
            offsets.len() - 1,
            "the last offset must equal the length of data",
        );
    }
    Ok(())
}

/// Keys per parallel work item of [`hash_batch`].
const CHUNK: usize = 1024;

/// The one batch loop behind [`hash_packed`] and [`hash_keys_into`]: hashes key `i` (bytes) into
/// `out[i * w..(i + 1) * w]`. Bad keys (blank, or not UTF-8 when `check_utf8`) are noted in the
/// same pass; the first one's error is returned.
fn hash_batch<'k, K>(
    n: usize,
    key: K,
    check_utf8: bool,
    variant: HashVariant,
    out: &mut [u8],
) -> Result<()>
where
    K: Fn(usize) -> &'k [u8] + Sync,
{
    let width = packed_width_or_err(variant)?;
    debug_assert_eq!(out.len(), n * width);
    let hex = variant == HashVariant::Sha256Hex;
    let run = |first: usize, out: &mut [u8]| -> Option<usize> {
        let mut bad = None;
        let count = out.len() / width;
        // Key `first + j` is checked and its digest written into slot `j` of `out`.
        let mut encode = |j: usize, k: &[u8], digest: &[u8; 32]| {
            if bad.is_none() && !key_ok(k, check_utf8) {
                bad = Some(first + j);
            }
            let slot = &mut out[j * width..(j + 1) * width];
            if hex {
                encode_hex(digest, slot);
            } else {
                encode_base64(digest, slot);
            }
        };
        let mut j = 0;
        while j < count {
            // Eight one-block keys at once where the CPU gains by it (see `lanes`).
            let group = lanes::hash_group(
                |i| key(first + j + i),
                count - j,
                |i, k, digest| encode(j + i, k, digest),
            );
            if group > 0 {
                j += group;
                continue;
            }
            let k = key(first + j);
            encode(j, k, &sha256_one(k));
            j += 1;
        }
        bad
    };
    let bad = if n < PARALLEL_THRESHOLD {
        run(0, out)
    } else {
        out.par_chunks_mut(CHUNK * width)
            .enumerate()
            .filter_map(|(c, chunk)| run(c * CHUNK, chunk))
            .min()
    };
    match bad {
        None => Ok(()),
        Some(index) => Err(key_error(key(index), check_utf8).with_record(index as u64 + 1)),
    }
}

/// Whether a key's bytes are acceptable: UTF-8 (when asked) and not empty or whitespace-only.
#[inline]
fn key_ok(k: &[u8], check_utf8: bool) -> bool {
    // Fast path: a first byte that is printable ASCII other than space means "not blank".
    let surely_not_blank = matches!(k.first(), Some(&b) if b > b' ' && b < 0x7f);
    if surely_not_blank && !check_utf8 {
        return true;
    }
    match std::str::from_utf8(k) {
        Ok(s) => surely_not_blank || !is_blank(s),
        Err(_) => false,
    }
}

fn key_error(k: &[u8], check_utf8: bool) -> Error {
    match std::str::from_utf8(k) {
        Err(_) if check_utf8 => Error::invalid_input("key", "key is not valid UTF-8"),
        Ok(s) => check_key(s).expect_err("a rejected key"),
        Err(_) => Error::invalid_input("key", "key is not valid UTF-8"),
    }
}

#[cfg(target_arch = "x86_64")]
mod lanes;
#[cfg(not(target_arch = "x86_64"))]
mod lanes {
    /// One key at a time elsewhere.
    pub(super) fn hash_group<'k>(
        _key: impl Fn(usize) -> &'k [u8],
        _left: usize,
        _each: impl FnMut(usize, &'k [u8], &[u8; 32]),
    ) -> usize {
        0
    }
}

/// SHA-256 initial state (FIPS 180-4 §5.3.3).
const SHA256_H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// SHA-256 of `data` straight through sha2's block function (SHA-NI when the CPU has it, chosen
/// at run time): no hasher object, no buffering; one block for keys up to 55 bytes.
#[inline]
fn sha256_one(data: &[u8]) -> [u8; 32] {
    use sha2::digest::generic_array::GenericArray;
    let mut state = SHA256_H0;
    let full = data.len() / 64 * 64;
    for block in data[..full].chunks_exact(64) {
        sha2::compress256(
            &mut state,
            std::slice::from_ref(GenericArray::from_slice(block)),
        );
    }
    let mut last = [GenericArray::default(), GenericArray::default()];
    let mut buf = [0u8; 128];
    let nblocks = pad_tail(&data[full..], data.len(), &mut buf);
    last[0].copy_from_slice(&buf[..64]);
    last[1].copy_from_slice(&buf[64..]);
    sha2::compress256(&mut state, &last[..nblocks]);
    state_digest(state)
}

/// SHA-256's padding (FIPS 180-4 §5.1.1): writes the message's last `tail` bytes (fewer than
/// 64), 0x80 and the length in bits of the whole `total`-byte message into the zeroed `buf`,
/// and returns how many 64-byte blocks that fills (1, or 2 when `tail` is 56 bytes or more).
fn pad_tail(tail: &[u8], total: usize, buf: &mut [u8]) -> usize {
    buf[..tail.len()].copy_from_slice(tail);
    buf[tail.len()] = 0x80;
    let nblocks = if tail.len() < 56 { 1 } else { 2 };
    let bits = (total as u64).wrapping_mul(8);
    buf[nblocks * 64 - 8..nblocks * 64].copy_from_slice(&bits.to_be_bytes());
    nblocks
}

/// The digest of a final SHA-256 state: its words, big-endian.
fn state_digest(state: [u32; 8]) -> [u8; 32] {
    let mut digest = [0u8; 32];
    for (d, s) in digest.chunks_exact_mut(4).zip(state) {
        d.copy_from_slice(&s.to_be_bytes());
    }
    digest
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard padded base64 of a 32-byte digest into exactly 44 bytes.
#[inline]
fn encode_base64(digest: &[u8; 32], out: &mut [u8]) {
    let out = &mut out[..44];
    for (src, dst) in digest[..30].chunks_exact(3).zip(out.chunks_exact_mut(4)) {
        let v = u32::from(src[0]) << 16 | u32::from(src[1]) << 8 | u32::from(src[2]);
        dst[0] = B64[(v >> 18) as usize & 63];
        dst[1] = B64[(v >> 12) as usize & 63];
        dst[2] = B64[(v >> 6) as usize & 63];
        dst[3] = B64[v as usize & 63];
    }
    let v = u32::from(digest[30]) << 16 | u32::from(digest[31]) << 8;
    out[40] = B64[(v >> 18) as usize & 63];
    out[41] = B64[(v >> 12) as usize & 63];
    out[42] = B64[(v >> 6) as usize & 63];
    out[43] = b'=';
}

/// Lowercase hex of a 32-byte digest into exactly 64 bytes.
#[inline]
fn encode_hex(digest: &[u8; 32], out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (pair, byte) in out[..64].chunks_exact_mut(2).zip(digest) {
        pair[0] = HEX[(byte >> 4) as usize];
        pair[1] = HEX[(byte & 0x0f) as usize];
    }
}

/// bcrypt hash (`$2b$`) of `plaintext` with the given cost (4–31, field `cost`) and a random
/// salt. Like every bcrypt implementation, only the first 72 bytes of the key count. Rejects an
/// empty or whitespace-only key (field `key`).
pub fn hash_bcrypt(plaintext: &str, cost: u32) -> Result<String> {
    check_key(plaintext)?;
    check_bcrypt_cost(cost)?;
    bcrypt_raw(plaintext, cost)
}

/// Whether `plaintext` matches the bcrypt `hash` (`$2a$`, `$2b$` or `$2y$`). A malformed hash is
/// an `invalid_input` error on field `hash`; a wrong key is `Ok(false)`.
pub fn verify_bcrypt(plaintext: &str, hash: &str) -> Result<bool> {
    check_bcrypt_shape(hash)?;
    bcrypt::verify(plaintext.as_bytes(), hash)
        .map_err(|_| Error::invalid_input("hash", "hash is not a valid bcrypt hash"))
}

/// Compares two byte strings in constant time (for equal lengths).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn is_blank(plaintext: &str) -> bool {
    plaintext.chars().all(char::is_whitespace)
}

fn check_key(plaintext: &str) -> Result<()> {
    if plaintext.is_empty() {
        Err(Error::invalid_input("key", "key must not be empty"))
    } else if is_blank(plaintext) {
        Err(Error::invalid_input(
            "key",
            "key must not be made only of whitespace",
        ))
    } else {
        Ok(())
    }
}

/// Hashes a key already checked by `check_key`. Fails only if bcrypt cannot get a salt from
/// the OS random number generator.
fn hash_unchecked(plaintext: &str, variant: HashVariant) -> Result<KeyHash> {
    let value = match variant {
        HashVariant::Sha256Base64 => sha256_base64(plaintext),
        HashVariant::Sha256Hex => sha256_hex(plaintext),
        HashVariant::Bcrypt => bcrypt_raw(plaintext, DEFAULT_BCRYPT_COST)?,
    };
    Ok(KeyHash { value, variant })
}

fn bcrypt_raw(plaintext: &str, cost: u32) -> Result<String> {
    bcrypt::hash(plaintext.as_bytes(), cost)
        .map_err(|e| Error::new(crate::ErrorCode::Io, format!("bcrypt hashing failed: {e}")))
}

fn check_bcrypt_cost(cost: u32) -> Result<()> {
    Error::check_range("cost", cost, MIN_BCRYPT_COST..=MAX_BCRYPT_COST, || {
        format!("cost must be between {MIN_BCRYPT_COST} and {MAX_BCRYPT_COST}")
    })
}

fn decode_sha256_base64(value: &str) -> Result<[u8; 32]> {
    let bad = || {
        Error::invalid_input(
            "hash",
            "hash must be standard base64 (with padding) of a 32-byte SHA-256 digest",
        )
    };
    if value.len() != 44 {
        return Err(bad());
    }
    let mut out = [0u8; 33];
    match STANDARD.decode_slice(value.as_bytes(), &mut out) {
        Ok(32) => Ok(out[..32].try_into().expect("32 bytes")),
        _ => Err(bad()),
    }
}

fn decode_sha256_hex(value: &str) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    if value.len() != 64 || hex::decode_to_slice(value, &mut out).is_err() {
        return Err(Error::invalid_input(
            "hash",
            "hash must be 64 hex digits (a SHA-256 digest)",
        ));
    }
    Ok(out)
}

const BCRYPT_ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn check_bcrypt_shape(value: &str) -> Result<()> {
    let bad = |what: &str| {
        Error::invalid_input("hash", format!("hash is not a valid bcrypt hash: {what}"))
    };
    let b = value.as_bytes();
    if b.len() != 60 {
        return Err(bad("expected 60 characters"));
    }
    if !(b.starts_with(b"$2a$") || b.starts_with(b"$2b$") || b.starts_with(b"$2y$")) {
        return Err(bad("expected it to start with $2a$, $2b$ or $2y$"));
    }
    if !(b[4].is_ascii_digit() && b[5].is_ascii_digit() && b[6] == b'$') {
        return Err(bad("expected a 2-digit cost"));
    }
    let cost = u32::from(b[4] - b'0') * 10 + u32::from(b[5] - b'0');
    if !(MIN_BCRYPT_COST..=MAX_BCRYPT_COST).contains(&cost) {
        return Err(bad("cost must be between 04 and 31"));
    }
    let rest = &b[7..];
    if !rest.iter().all(|c| BCRYPT_ALPHABET.contains(c)) {
        return Err(bad("salt and hash must use bcrypt's base64 alphabet"));
    }
    // 22 characters carry 128 bits of salt and 31 carry 184 bits of hash: the unused low bits
    // of the last character of each must be zero.
    let low_bits = |c: u8, bits: u32| {
        let index = BCRYPT_ALPHABET.iter().position(|&x| x == c).unwrap_or(0) as u32;
        index & ((1 << bits) - 1) == 0
    };
    if !low_bits(rest[21], 4) || !low_bits(rest[52], 2) {
        return Err(bad("salt or hash has stray trailing bits"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC_B64: &str = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
    const ABC_HEX: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn known_sha256_values() {
        assert_eq!(sha256_base64("abc"), ABC_B64);
        assert_eq!(sha256_hex("abc"), ABC_HEX);
        let h = hash_key("abc", HashVariant::Sha256Hex).unwrap();
        assert_eq!(h.value, ABC_HEX);
        assert_eq!(h.to_string(), ABC_HEX);
    }

    #[test]
    fn variant_names_round_trip() {
        for v in HashVariant::ALL {
            assert_eq!(v.as_str().parse::<HashVariant>().unwrap(), v);
            assert_eq!(v.as_str().to_uppercase().parse::<HashVariant>().unwrap(), v);
            assert_eq!(HashVariant::from_wire(v.as_str()), Some(v));
            assert_eq!(v.to_string(), v.as_str());
            assert_eq!(
                serde_json::to_string(&v).unwrap(),
                format!("\"{}\"", v.as_str())
            );
        }
        assert_eq!(HashVariant::default(), HashVariant::Sha256Base64);
        assert_eq!(HashVariant::from_wire("SHA256_HEX"), None, "exact");
        let err = "md5".parse::<HashVariant>().unwrap_err();
        assert_eq!(err.code(), "invalid_input");
        assert_eq!(err.field.as_deref(), Some("variant"));
        assert!(err.message.contains("sha256_hex"));
    }

    #[test]
    fn blank_keys_are_rejected_without_echo() {
        for key in ["", " ", "\t\n", "\u{3000}"] {
            let err = hash_key(key, HashVariant::Sha256Base64).unwrap_err();
            assert_eq!(err.code(), "invalid_input");
            assert_eq!(err.field.as_deref(), Some("key"));
        }
        // No trimming: surrounding whitespace is part of the key.
        assert_ne!(
            hash_key(" abc", HashVariant::Sha256Base64).unwrap().value,
            ABC_B64
        );
    }

    #[test]
    fn hash_keys_keeps_order_and_reports_first_bad_record() {
        let keys: Vec<String> = (0..5000).map(|i| format!("key_{i}")).collect();
        let hashes = hash_keys(&keys, HashVariant::Sha256Base64).unwrap();
        assert_eq!(hashes.len(), keys.len());
        for (k, h) in keys.iter().zip(&hashes) {
            assert_eq!(h.value, sha256_base64(k));
        }
        let small = hash_keys(&["abc"], HashVariant::Sha256Hex).unwrap();
        assert_eq!(small[0].value, ABC_HEX);

        let mut bad = keys.clone();
        bad[4000] = "  ".into();
        bad[4500] = "".into();
        let err = hash_keys(&bad, HashVariant::Sha256Base64).unwrap_err();
        assert_eq!(err.record, Some(4001));
        assert_eq!(err.field.as_deref(), Some("key"));
        assert!(hash_keys::<&str>(&[], HashVariant::Bcrypt)
            .unwrap()
            .is_empty());
        let small_bad = hash_keys(&["ok", "\t"], HashVariant::Sha256Hex).unwrap_err();
        assert_eq!(small_bad.record, Some(2));
    }

    #[test]
    fn hash_keys_bcrypt_in_order() {
        let keys = ["first_key", "second_key"];
        let hashes = hash_keys(&keys, HashVariant::Bcrypt).unwrap();
        assert_eq!(hashes.len(), 2);
        for (k, h) in keys.iter().zip(&hashes) {
            assert!(h.value.starts_with("$2b$10$"));
            assert!(h.matches(k).unwrap());
        }
        assert!(!hashes[0].matches("second_key").unwrap());
        let err = hash_keys(&["a", ""], HashVariant::Bcrypt).unwrap_err();
        assert_eq!(err.record, Some(2));
    }

    #[test]
    fn parse_checks_shapes() {
        assert_eq!(
            KeyHash::parse(&ABC_HEX.to_uppercase(), HashVariant::Sha256Hex)
                .unwrap()
                .value,
            ABC_HEX
        );
        assert!(KeyHash::parse(ABC_B64, HashVariant::Sha256Base64).is_ok());
        let bad = [
            (&ABC_B64[..43], HashVariant::Sha256Base64),
            (
                "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa1=",
                HashVariant::Sha256Base64,
            ),
            (&ABC_HEX[..63], HashVariant::Sha256Hex),
            (
                "zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                HashVariant::Sha256Hex,
            ),
            (
                "$2x$04$n4Uy0eSnMfvnESYL.bLwuuj0U/ETSsoTpRT9GVk5bektyVVa5xnIi",
                HashVariant::Bcrypt,
            ),
            (
                "$2a$4$n4Uy0eSnMfvnESYL.bLwuuj0U/ETSsoTpRT9GVk5bektyVVa5xnIiX",
                HashVariant::Bcrypt,
            ),
            (
                "$2a$03$n4Uy0eSnMfvnESYL.bLwuuj0U/ETSsoTpRT9GVk5bektyVVa5xnIi",
                HashVariant::Bcrypt,
            ),
            (
                "$2a$04$n4Uy0eSnMfvnESYL.bLwuuj0U/ETSsoTpRT9GVk5bektyVVa5xnI",
                HashVariant::Bcrypt,
            ),
            (
                "$2a$04$n4Uy0eSnMfvnESYL.bLwuuj0U/ETSsoTpRT9GVk5bektyVVa5xnI\u{e9}",
                HashVariant::Bcrypt,
            ),
            ("", HashVariant::Bcrypt),
        ];
        for (value, variant) in bad {
            let err = KeyHash::parse(value, variant).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("hash"), "{value}");
        }
    }

    #[test]
    fn bcrypt_hash_and_verify() {
        // From the bcrypt crate's own test suite (password "correctbatteryhorsestapler").
        let hash = "$2b$04$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie";
        assert!(verify_bcrypt("correctbatteryhorsestapler", hash).unwrap());
        assert!(!verify_bcrypt("correctbatteryhorsestaple", hash).unwrap());
        let made = hash_bcrypt("sk_test_123", 4).unwrap();
        assert!(made.starts_with("$2b$04$"));
        assert!(verify_bcrypt("sk_test_123", &made).unwrap());
        let kh = KeyHash::parse(&made, HashVariant::Bcrypt).unwrap();
        assert!(kh.matches("sk_test_123").unwrap());
        assert!(!kh.matches("sk_test_124").unwrap());
        assert_eq!(
            hash_bcrypt("x", 3).unwrap_err().field.as_deref(),
            Some("cost")
        );
        assert_eq!(
            hash_bcrypt(" ", 4).unwrap_err().field.as_deref(),
            Some("key")
        );
        let err = verify_bcrypt("x", "$2b$10$short").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("hash"));
    }

    #[test]
    fn matches_sha_variants() {
        let h = hash_key("sk_abc", HashVariant::Sha256Base64).unwrap();
        assert!(h.matches("sk_abc").unwrap());
        assert!(!h.matches("sk_abd").unwrap());
        let upper = KeyHash {
            value: sha256_hex("sk_abc").to_uppercase(),
            variant: HashVariant::Sha256Hex,
        };
        assert!(upper.matches("sk_abc").unwrap());
        let blank = KeyHash {
            value: sha256_base64(""),
            variant: HashVariant::Sha256Base64,
        };
        assert!(!blank.matches("").unwrap());
        let broken = KeyHash {
            value: "nope".into(),
            variant: HashVariant::Sha256Base64,
        };
        assert_eq!(
            broken.matches("x").unwrap_err().field.as_deref(),
            Some("hash")
        );
    }

    #[test]
    fn arbitrary_utf8_never_panics() {
        let inputs = [
            "\u{0}",
            "é",
            "🔑🔑",
            "日本語のキー",
            "\u{FEFF}",
            "$2b$04$🔑",
        ];
        for s in inputs {
            let _ = hash_key(s, HashVariant::Sha256Hex);
            for v in HashVariant::ALL {
                let _ = KeyHash::parse(s, v);
            }
            let _ = verify_bcrypt("x", s);
            assert!(!constant_time_eq(s.as_bytes(), b"zz"));
        }
    }

    /// Keys of every length 1..=200 (one- and two-block tails, several full blocks), non-ASCII
    /// characters, and a splitmix64 stream of random ones.
    fn varied_keys(n: usize) -> Vec<String> {
        let mut state: u64 = 42;
        let mut next = || crate::testing::splitmix64(&mut state);
        let pieces = ["a", "Z", "0", "_", "é", "日本", "🔑", " ", "\t", "ß"];
        let mut keys: Vec<String> = (1..=200).map(|len| "k".repeat(len)).collect();
        while keys.len() < n {
            let len = (next() % 90) as usize + 1;
            let mut k = String::from("x");
            for _ in 0..len {
                k.push_str(pieces[(next() % pieces.len() as u64) as usize]);
            }
            keys.push(k);
        }
        keys.truncate(n);
        keys
    }

    fn expected(keys: &[String], variant: HashVariant) -> Vec<u8> {
        keys.iter()
            .flat_map(|k| match variant {
                HashVariant::Sha256Hex => sha256_hex(k).into_bytes(),
                _ => STANDARD.encode(Sha256::digest(k.as_bytes())).into_bytes(),
            })
            .collect()
    }

    #[test]
    fn packed_forms_equal_per_key_hashes() {
        // 5000 keys: above PARALLEL_THRESHOLD, several CHUNKs and a partial one.
        for n in [1, 300, 5000] {
            let keys = varied_keys(n);
            let joined = keys.join("\n");
            let mut offsets = vec![0u32];
            for k in &keys {
                offsets.push(offsets[offsets.len() - 1] + k.len() as u32);
            }
            let concat = keys.concat();
            for variant in [HashVariant::Sha256Base64, HashVariant::Sha256Hex] {
                let want = expected(&keys, variant);
                let sep = PackedKeys::Separated {
                    data: joined.as_bytes(),
                    sep: b'\n',
                };
                assert_eq!(hash_packed(sep, variant, Some(n)).unwrap(), want);
                let with_trailing = format!("{joined}\n");
                let sep = PackedKeys::Separated {
                    data: with_trailing.as_bytes(),
                    sep: b'\n',
                };
                assert_eq!(hash_packed(sep, variant, None).unwrap(), want);
                let off = PackedKeys::Offsets {
                    data: concat.as_bytes(),
                    offsets: &offsets,
                };
                assert_eq!(hash_packed(off, variant, Some(n)).unwrap(), want);
                let mut out = vec![0u8; n * packed_width(variant).unwrap()];
                hash_keys_into(&keys, variant, &mut out).unwrap();
                assert_eq!(out, want);
            }
        }
    }

    #[test]
    fn short_key_batches_equal_per_key_hashes() {
        // Mostly one-block keys (the eight-lane path on CPUs with AVX2 but no SHA-NI), with a
        // longer key now and then so that some groups go one key at a time, and a count
        // that leaves a partial group at the end of the batch and of each parallel chunk.
        let mut state: u64 = 7;
        let mut next = || crate::testing::splitmix64(&mut state);
        let mut keys: Vec<String> = (0..3001)
            .map(|i| {
                let len = if i % 97 == 0 {
                    56 + (next() % 40) as usize
                } else {
                    1 + (next() % 55) as usize
                };
                (0..len)
                    .map(|_| char::from(b'!' + (next() % 90) as u8))
                    .collect()
            })
            .collect();
        for variant in [HashVariant::Sha256Base64, HashVariant::Sha256Hex] {
            let mut out = vec![0u8; keys.len() * packed_width(variant).unwrap()];
            hash_keys_into(&keys, variant, &mut out).unwrap();
            assert_eq!(out, expected(&keys, variant));
        }
        // A blank key in the middle of a group is found, and is the one reported.
        keys[2053] = "  ".into();
        keys[2990] = String::new();
        let mut out = vec![0u8; keys.len() * 44];
        let err = hash_keys_into(&keys, HashVariant::Sha256Base64, &mut out).unwrap_err();
        assert_eq!(err.record, Some(2054));
    }

    #[test]
    fn packed_edge_cases_are_typed_errors() {
        let b64 = HashVariant::Sha256Base64;
        let sep = |data: &'static [u8]| PackedKeys::Separated { data, sep: b'\n' };
        assert!(hash_packed(sep(b""), b64, Some(0)).unwrap().is_empty());
        assert_eq!(
            hash_packed(sep(b"abc"), b64, None).unwrap(),
            ABC_B64.as_bytes()
        );
        // Empty key in the middle, a lone separator (one empty key), whitespace-only key.
        for (data, record) in [(&b"a\n\nb"[..], 2), (b"\n", 1), (b"a\nb\n \n", 3)] {
            let err = hash_packed(sep(data), b64, None).unwrap_err();
            assert_eq!(
                (err.code(), err.field.as_deref()),
                ("invalid_input", Some("key"))
            );
            assert_eq!(err.record, Some(record), "{data:?}");
        }
        // A key holding the separator shows up as a count mismatch when the count is given.
        let err = hash_packed(sep(b"ab\ncd\nef"), b64, Some(2)).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("keys"));
        assert!(err.message.contains("found 3 keys where 2 were packed"));
        // Invalid UTF-8 inside a key, found past the parallel threshold too.
        let mut big = "sk_ok\n".repeat(3000).into_bytes();
        big[6 * 2500 + 1] = 0xff;
        let err = hash_packed(
            PackedKeys::Separated {
                data: &big,
                sep: b'\n',
            },
            b64,
            None,
        )
        .unwrap_err();
        assert_eq!(
            (err.field.as_deref(), err.record),
            (Some("key"), Some(2501))
        );
        assert!(err.message.contains("UTF-8"));
        let err = hash_packed(
            PackedKeys::Separated {
                data: b"a",
                sep: 0xc3,
            },
            b64,
            None,
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("sep"));
        let err = hash_packed(sep(b"a"), HashVariant::Bcrypt, None).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("variant"));
        // Offsets: empty, not starting at 0, decreasing, not ending at data's length.
        let data = b"abcdef";
        for (offsets, record) in [
            (&[][..], 0),
            (&[1, 6][..], 1),
            (&[0, 4, 3, 6][..], 2),
            (&[0, 3, 5][..], 2),
            (&[0, 3, 7][..], 2),
        ] {
            let err = hash_packed(PackedKeys::Offsets { data, offsets }, b64, None).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("offsets"), "{offsets:?}");
            assert_eq!(err.record, Some(record), "{offsets:?}");
        }
        let err = hash_packed(
            PackedKeys::Offsets {
                data,
                offsets: &[0, 3, 3, 6],
            },
            b64,
            None,
        )
        .unwrap_err();
        assert_eq!((err.field.as_deref(), err.record), (Some("key"), Some(2)));
        let mut short = vec![0u8; 43];
        let err = hash_keys_into(&["abc"], b64, &mut short).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("out"));
        let err = hash_keys_into(&["abc", "\u{3000}"], b64, &mut [0u8; 88]).unwrap_err();
        assert_eq!((err.field.as_deref(), err.record), (Some("key"), Some(2)));
    }
}
