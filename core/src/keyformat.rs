//! Key format (DESIGN.md §3): `{prefix}_{base58(random bytes)}{checksum}`.
//!
//! The random bytes come from the OS CSPRNG; the checksum is the CRC32 of every character before
//! it, written as exactly [`CHECKSUM_LEN`] base62 digits (`0-9A-Za-z`, most significant first,
//! left-padded with `0`), so that secret scanners and [`looks_like_key`] reject typos offline.
//! Keys migrated from elsewhere have no checksum and stay valid everywhere except in the strict
//! [`looks_like_key`] check.

use crate::error::{Error, Result};
use crate::wire::{self, limits};
use crate::SecretKey;

// The limits are the wire's (`keys.createKey`'s `byteLength` and `prefix`): written once there.

/// Fewest random bytes in a generated key.
pub const MIN_BYTE_LENGTH: usize = limits::BYTE_LENGTH_MIN as usize;
/// Most random bytes in a generated key.
pub const MAX_BYTE_LENGTH: usize = limits::BYTE_LENGTH_MAX as usize;
/// Random bytes in a generated key when the caller does not say.
pub const DEFAULT_BYTE_LENGTH: usize = limits::BYTE_LENGTH_DEFAULT as usize;
/// Longest prefix (`[A-Za-z0-9_]{1,16}`).
pub const MAX_PREFIX_LEN: usize = limits::PREFIX_MAX_LEN;
/// Characters of checksum at the end of a generated key.
pub const CHECKSUM_LEN: usize = 6;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/// Shortest base58 text of [`MIN_BYTE_LENGTH`] bytes (all of them zero: one `1` per byte).
const MIN_BODY_CHARS: usize = MIN_BYTE_LENGTH;
/// Longest base58 text of [`MAX_BYTE_LENGTH`] bytes: ceil(255 * 8 / log2(58)).
const MAX_BODY_CHARS: usize = 349;
/// A secret part shorter than this is never partly shown by [`mask_key`] or [`key_start`].
const MIN_SHOWN_SECRET_CHARS: usize = 12;
/// Characters of the secret part shown by [`mask_key`] (end) and [`key_start`] (start).
const SHOWN_CHARS: usize = 4;

/// Checks a key prefix: 1 to 16 characters of `[A-Za-z0-9_]` (`invalid_input`, field `prefix`),
/// the rule of `keys.createKey`.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    let ok = (limits::PREFIX_MIN_LEN..=MAX_PREFIX_LEN).contains(&prefix.len())
        && prefix.chars().all(wire::is_id_char);
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "prefix",
            "prefix must match [A-Za-z0-9_]{1,16}",
        ))
    }
}

/// Checks a random byte length: 16 to 255 (`invalid_input`, field `byteLength`).
pub fn validate_byte_length(n: usize) -> Result<()> {
    Error::check_range("byteLength", n, MIN_BYTE_LENGTH..=MAX_BYTE_LENGTH, || {
        format!("byteLength must be between {MIN_BYTE_LENGTH} and {MAX_BYTE_LENGTH}, got {n}")
    })
}

/// Makes a new key `{prefix}_{base58(byte_length random bytes)}{checksum}` (no `_` without a
/// prefix). The bytes come from the OS CSPRNG; failure to read it is an `io` error.
pub fn generate_key(prefix: Option<&str>, byte_length: usize) -> Result<SecretKey> {
    if let Some(p) = prefix {
        validate_prefix(p)?;
    }
    validate_byte_length(byte_length)?;
    let mut bytes = vec![0u8; byte_length];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::io(format!("the OS random number generator failed: {e}")))?;
    let mut key = String::with_capacity(MAX_PREFIX_LEN + 1 + MAX_BODY_CHARS + CHECKSUM_LEN);
    if let Some(p) = prefix {
        key.push_str(p);
        key.push('_');
    }
    key.push_str(&bs58::encode(&bytes).into_string());
    bytes.fill(0);
    let sum = checksum(&key);
    key.push_str(&sum);
    Ok(SecretKey::new(key))
}

/// The checksum of `body`: CRC32 of its UTF-8 bytes as exactly 6 base62 digits
/// (`0-9A-Za-z`, most significant first, left-padded with `0`).
pub fn checksum(body: &str) -> String {
    let mut n = u64::from(crc32fast::hash(body.as_bytes()));
    let mut digits = [b'0'; CHECKSUM_LEN];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    digits.iter().map(|&b| b as char).collect()
}

/// Whether the last 6 characters of `key` are the [`checksum`] of everything before them
/// (which must not be empty).
pub fn has_valid_checksum(key: &str) -> bool {
    if key.len() <= CHECKSUM_LEN || !key.is_char_boundary(key.len() - CHECKSUM_LEN) {
        return false;
    }
    let (body, sum) = key.split_at(key.len() - CHECKSUM_LEN);
    checksum(body).as_bytes() == sum.as_bytes()
}

/// The strict shape check of a generated key: an optional valid prefix and `_`, then a base58
/// body that decodes to 16–255 bytes, then a valid checksum. Migrated keys without a checksum
/// fail this check but are still valid keys for verification.
pub fn looks_like_key(key: &str) -> bool {
    let rest = match key.rfind('_') {
        Some(i) => {
            if validate_prefix(&key[..i]).is_err() {
                return false;
            }
            &key[i + 1..]
        }
        None => key,
    };
    if !rest.is_ascii() || rest.len() < MIN_BODY_CHARS + CHECKSUM_LEN {
        return false;
    }
    let body = &rest[..rest.len() - CHECKSUM_LEN];
    if body.len() > MAX_BODY_CHARS || !body.bytes().all(|b| BASE58.contains(&b)) {
        return false;
    }
    match bs58::decode(body).into_vec() {
        Ok(bytes) if (MIN_BYTE_LENGTH..=MAX_BYTE_LENGTH).contains(&bytes.len()) => {}
        _ => return false,
    }
    has_valid_checksum(key)
}

/// Splits a key into the shown prefix (through the last `_`, may be empty) and the secret part.
/// A part before the last `_` that is not a valid prefix (for instance a migrated key with
/// underscores inside its secret) is treated as secret: the whole key is then the secret part.
/// With nothing after the last `_` there is no secret part to hide behind the prefix: the whole
/// key counts as secret (fuzzing found `sk_lLo7hQ_live_` shown whole; a legacy key may end in `_`).
fn split_shown(key: &str) -> (&str, &str) {
    match key.rfind('_') {
        Some(i) if i + 1 < key.len() && validate_prefix(&key[..i]).is_ok() => key.split_at(i + 1),
        _ => ("", key),
    }
}

/// `sk_live_…Xy9Z`: the prefix through the last `_`, `…`, then the last 4 characters of the
/// secret part, shown only when that part has at least 12 characters (else `sk_live_…`). If the
/// text before the last `_` is not a valid prefix it is treated as part of the secret. Counts
/// characters, not bytes: never panics.
pub fn mask_key(key: &str) -> String {
    let (prefix, secret) = split_shown(key);
    let count = secret.chars().count();
    if count < MIN_SHOWN_SECRET_CHARS {
        return format!("{prefix}…");
    }
    let tail: String = secret.chars().skip(count - SHOWN_CHARS).collect();
    format!("{prefix}…{tail}")
}

/// The prefix of a key: the part before the last `_`, if there is one and it is not empty.
pub fn key_prefix(key: &str) -> Option<&str> {
    match key.rfind('_') {
        Some(i) if i > 0 => Some(&key[..i]),
        _ => None,
    }
}

/// The non-secret start of a key, stored for display and lookup: the prefix through the last
/// `_` plus the first 4 characters of the secret part, which (as in [`mask_key`]) are only shown
/// when the secret part has at least 12 characters, and an invalid prefix counts as secret.
pub fn key_start(key: &str) -> String {
    let (prefix, secret) = split_shown(key);
    if secret.chars().count() < MIN_SHOWN_SECRET_CHARS {
        return prefix.to_string();
    }
    let head: String = secret.chars().take(SHOWN_CHARS).collect();
    format!("{prefix}{head}")
}

/// Longest plain word [`shown_name`] shows as it is.
const SHOWN_NAME_MAX_LEN: usize = 24;
/// Longest dotted name (`documents.read`) [`shown_value`] shows as it is.
const SHOWN_VALUE_MAX_LEN: usize = 64;
/// Longest run of letters and digits inside a dotted name [`shown_value`] shows as it is.
const SHOWN_VALUE_MAX_RUN: usize = 16;

/// A field or column name as error messages show it. Real names are short words; anything
/// else (a data row taken for a header, a key pasted as a field name) is shown masked, so a
/// plaintext key can never reach a message this way. Used by the migration readers and by the
/// server for unknown request fields and enum values.
pub fn shown_name(name: &str) -> String {
    if !name.is_empty()
        && name.len() <= SHOWN_NAME_MAX_LEN
        && name.chars().all(|c| c.is_ascii_alphabetic())
    {
        name.to_string()
    } else {
        mask_key(name)
    }
}

/// A value taken from a request (an id, a role or permission name) as error messages show it:
/// plain words ([`shown_name`]), lowercase snake or kebab case words (`api_calls`, at most 64
/// characters of `[a-z_-]`) and dotted names such as `documents.read` or `api.*.read_key` (at
/// most 64 characters of `[A-Za-z0-9_.:*-]`, with at least one `.` and no run of letters and
/// digits longer than 16) as they are, anything else masked like a key ([`mask_key`]): an id
/// field is where a key pasted by mistake lands, and secrets are long random runs with digits
/// and capitals.
pub fn shown_value(text: &str) -> String {
    let snake = !text.is_empty()
        && text.len() <= SHOWN_VALUE_MAX_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'-');
    if snake {
        return text.to_string();
    }
    let dotted = text.contains('.')
        && text.len() <= SHOWN_VALUE_MAX_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:*-".contains(&b))
        && text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .all(|run| run.len() <= SHOWN_VALUE_MAX_RUN);
    if dotted {
        text.to_string()
    } else {
        shown_name(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_known_values() {
        // zlib.crc32(b"") == 0, zlib.crc32(b"a") == 0xe8b7be43 == 3904355907.
        assert_eq!(checksum(""), "000000");
        let mut n: u64 = 3_904_355_907;
        let mut expect = Vec::new();
        for _ in 0..6 {
            expect.push(BASE62[(n % 62) as usize]);
            n /= 62;
        }
        expect.reverse();
        assert_eq!(checksum("a").as_bytes(), &expect[..]);
        assert_eq!(checksum("a").len(), 6);
        // CRC32 max fits: 62^6 > 2^32.
        assert!(62u64.pow(6) > u64::from(u32::MAX));
    }

    #[test]
    fn generated_keys_have_the_format() {
        for (prefix, bytes) in [
            (Some("sk_live"), 16),
            (None, 16),
            (Some("a"), 255),
            (Some("ABCDEFGHIJKLMNOP"), 32),
        ] {
            let key = generate_key(prefix, bytes).unwrap();
            let k = key.expose();
            assert!(looks_like_key(k), "{k}");
            assert!(has_valid_checksum(k));
            match prefix {
                Some(p) => {
                    assert!(k.starts_with(&format!("{p}_")));
                    assert_eq!(key_prefix(k), Some(p));
                }
                None => assert!(!k.contains('_')),
            }
            let secret = &k[prefix.map_or(0, |p| p.len() + 1)..];
            let body = &secret[..secret.len() - CHECKSUM_LEN];
            assert_eq!(bs58::decode(body).into_vec().unwrap().len(), bytes);
        }
        let a = generate_key(None, 16).unwrap();
        let b = generate_key(None, 16).unwrap();
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn generate_rejects_bad_input() {
        for p in ["", "has-dash", "toolongprefix_abc", "é"] {
            let err = generate_key(Some(p), 16).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("prefix"), "{p}");
        }
        for n in [0, 15, 256, usize::MAX] {
            let err = generate_key(None, n).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("byteLength"));
        }
        assert!(validate_prefix("sk_live_2").is_ok());
    }

    #[test]
    fn typos_are_caught() {
        let key = generate_key(Some("sk"), 16).unwrap().into_inner();
        let chars: Vec<char> = key.chars().collect();
        for i in 0..chars.len() {
            for replacement in ['1', 'z', 'A'] {
                if chars[i] == replacement {
                    continue;
                }
                let mut typo = chars.clone();
                typo[i] = replacement;
                let typo: String = typo.into_iter().collect();
                assert!(!looks_like_key(&typo), "{typo}");
            }
        }
        assert!(!looks_like_key(&key[..key.len() - 1]));
        assert!(!looks_like_key(&format!("{key}x")));
    }

    #[test]
    fn masks() {
        for (key, masked) in [
            ("sk_live_abcdefghijklXy9Z", "sk_live_…Xy9Z"),
            ("sk_short", "sk_…"),
            ("abcdefghijkl", "…ijkl"),
            ("abcdefghijk", "…"),
            ("", "…"),
            ("_", "…"),
            // Nothing after the last '_': all of it is secret (found by fuzzing).
            ("sk_", "…"),
            ("Zx81kq2PLm4nB7Rt_", "…7Rt_"),
            ("sk_日本語のキー日本語のキー🔑", "sk_…のキー🔑"),
            // Not a valid prefix before the last '_': nothing of it is shown.
            ("legacy-secret_part_abcdefgh1234", "…1234"),
        ] {
            assert_eq!(mask_key(key), masked, "{key}");
        }
        for (key, start) in [
            ("sk_live_abcdefghijklXy9Z", "sk_live_abcd"),
            ("sk_short", "sk_"),
            ("日本語のキー日本語のキー🔑", "日本語の"),
        ] {
            assert_eq!(key_start(key), start, "{key}");
        }
        for (key, prefix) in [("nounderscore", None), ("_x", None), ("a_b_c", Some("a_b"))] {
            assert_eq!(key_prefix(key), prefix, "{key}");
        }
    }

    #[test]
    fn shown_names_and_values() {
        for (name, shown) in [
            ("apiId", "apiId"),
            ("hashVariant", "hashVariant"),
            ("sk_live_abcdefghijklXy9Z", "sk_live_…Xy9Z"),
            ("api_id", "api_…"),
            ("abcdefghijklmnopqrstuvwxyz", "…wxyz"),
            ("", "…"),
        ] {
            assert_eq!(shown_name(name), shown, "{name}");
        }
        for plain in [
            "admin",
            "documents.read",
            "api.*.read_key",
            "api_calls",
            "heavy-operations",
        ] {
            assert_eq!(shown_value(plain), plain);
        }
        let key = generate_key(Some("sk_live"), 16).unwrap();
        let shown = shown_value(key.expose());
        assert!(
            shown.starts_with("sk_live_…") && shown.len() < 20,
            "{shown}"
        );
        // Ids are masked too (a key pasted as `keyId` must not come back), recognisably.
        assert_eq!(shown_value("key_3ZbLh2cV7nq9R1tYwXkPa"), "key_…XkPa");
        // A long random run after a dot is a secret, not a name.
        assert_eq!(
            shown_value("v1.3ZbLh2cV7nq9R1tYwXkPa"),
            mask_key("v1.3ZbLh2cV7nq9R1tYwXkPa")
        );
        assert_eq!(shown_value("a b.c"), mask_key("a b.c"));
    }

    #[test]
    fn arbitrary_utf8_never_panics() {
        let inputs = [
            "",
            "_",
            "__",
            "é_",
            "_é",
            "ééééééé",
            "🔑_🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑",
            "\u{0}_\u{0}",
            "a_111111111111111111111é",
            "sk_1111111111111111000000",
            "1111111111111111000000",
        ];
        for s in inputs {
            let _ = mask_key(s);
            let _ = key_start(s);
            let _ = key_prefix(s);
            let _ = has_valid_checksum(s);
            let _ = looks_like_key(s);
        }
        // 16 zero bytes encode as sixteen '1's; with the right checksum that is a plausible key.
        let body = "sk_1111111111111111";
        let key = format!("{body}{}", checksum(body));
        assert!(looks_like_key(&key));
        // Fifteen bytes is too short.
        let body = "sk_111111111111111";
        let key = format!("{body}{}", checksum(body));
        assert!(!looks_like_key(&key));
    }
}
