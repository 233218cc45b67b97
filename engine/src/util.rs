//! Small helpers: ids, clock, database error mapping, request body parsing, calendar maths.

use keyshift_core::keyformat::shown_value;
use keyshift_core::wire::Validate;
use keyshift_core::{Error, ErrorCode, FieldError, Result};
use serde::de::DeserializeOwned;

/// Test helper: the first column of every row `sql` answers.
#[cfg(test)]
pub(crate) fn column<T: rusqlite::types::FromSql>(
    conn: &rusqlite::Connection,
    sql: &str,
) -> Vec<T> {
    conn.prepare(sql)
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Test helper: a fresh temp dir (removed on drop) and the path of file `name` in it.
#[cfg(test)]
pub(crate) fn temp_file(name: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name).to_str().unwrap().to_string();
    (dir, path)
}

/// Milliseconds since the unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) const MINUTE_MS: i64 = 60_000;
pub(crate) const HOUR_MS: i64 = 60 * MINUTE_MS;
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;

/// Days since 1970-01-01 → (year, month 1–12, day 1–31), proleptic Gregorian (Howard
/// Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01 (inverse of [`civil_from_days`]).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Random bytes in an id after its 6-byte timestamp.
const ID_RANDOM_BYTES: usize = 10;

/// A new id `{prefix}_{base58(16 bytes)}`: the creation time (unix ms, 48 bits big-endian)
/// then 80 random bits from the OS. Ids made later sort after earlier ones (same base58 length
/// until the year 2500), so the indexes on ids (keys, key links, listings) grow at their end
/// instead of dirtying a random page per insert.
pub(crate) fn new_id(prefix: &str) -> Result<String> {
    Ok(new_ids(prefix, 1)?.pop().unwrap_or_default())
}

/// `n` new ids as [`new_id`] makes them, from one read of the OS random number generator.
pub(crate) fn new_ids(prefix: &str, n: usize) -> Result<Vec<String>> {
    let mut random = vec![0u8; n * ID_RANDOM_BYTES];
    getrandom::fill(&mut random)
        .map_err(|e| Error::server(format!("the OS random number generator failed: {e}")))?;
    let now = (now_ms().max(0) as u64).to_be_bytes();
    Ok(random
        .chunks_exact(ID_RANDOM_BYTES)
        .map(|r| {
            let mut bytes = [0u8; 6 + ID_RANDOM_BYTES];
            bytes[..6].copy_from_slice(&now[2..]);
            bytes[6..].copy_from_slice(r);
            format!("{prefix}_{}", bs58::encode(bytes).into_string())
        })
        .collect())
}

/// Maps rusqlite results to keyshift errors.
///
/// Plaintext keys never reach the database file, but they do reach SQLite: the bcrypt candidate
/// lookup of `verify.rs` binds the presented key's leading parts (its prefixes of up to 32
/// characters) as statement parameters, so that the `start` index can find the candidates. The statement text itself only ever
/// holds column names and placeholders, and a `SELECT` stores nothing. The messages passed on
/// here are SQLite's error text (`sqlite3_errmsg`: constraint, busy, I/O, …) and, for a
/// statement that does not prepare, the statement text: neither includes bound parameter
/// values, so they carry no plaintext. Keep it so: never format a key into SQL text.
pub(crate) trait Db<T> {
    fn db(self) -> Result<T>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T> {
        self.map_err(db_error)
    }
}

pub(crate) fn db_error(err: rusqlite::Error) -> Error {
    Error::server(format!("database error: {err}"))
}

/// Whether `err` is a UNIQUE / PRIMARY KEY constraint violation.
pub(crate) fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// How the message of every request-body 400 begins (the server words it as Unkey's validator
/// does, see keyshift-server's `Problem::from_error`).
pub const INVALID_BODY_PREFIX: &str = "invalid request body: ";

/// A 400 listing `errors`; the message names every bad field.
pub(crate) fn bad_request(errors: Vec<FieldError>) -> Error {
    let summary: Vec<String> = errors
        .iter()
        .take(5)
        .map(|e| format!("{}: {}", e.location, e.message))
        .collect();
    let mut message = format!("{INVALID_BODY_PREFIX}{}", summary.join("; "));
    if errors.len() > 5 {
        message.push_str(&format!(" (and {} more)", errors.len() - 5));
    }
    let field = errors.first().map(|e| e.location.clone());
    let mut err = Error::new(ErrorCode::BadRequest, message).with_errors(errors);
    if let Some(field) = field {
        err = err.with_field(field);
    }
    err
}

/// The 404 of a `what` (key, api, role…) that `id_or_name` names in no row, the value masked
/// when it looks like a key.
pub(crate) fn not_found(what: &str, id_or_name: &str) -> Error {
    Error::not_found(format!("{what} `{}` not found", shown_value(id_or_name)))
}

/// A 412 (Unkey's `precondition_failed`): the request is well-formed but this service cannot
/// honour it (e.g. recoverable keys, which would need the plaintext stored).
pub(crate) fn precondition_failed(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::BadRequest, message).with_status(412)
}

pub(crate) fn field_error(location: impl Into<String>, message: impl Into<String>) -> Error {
    bad_request(vec![FieldError {
        location: location.into(),
        message: message.into(),
    }])
}

/// Replaces every double-quoted string in a serde message by `"…"` (a `\` inside one escapes
/// the next character): a value sent in the wrong place could be a plaintext key and must not
/// be echoed back.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut in_quote = false;
    let mut escaped = false;
    for c in message.chars() {
        if in_quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                out.push_str("…\"");
                in_quote = false;
            }
        } else {
            out.push(c);
            in_quote = c == '"';
        }
    }
    if in_quote {
        out.push_str("…\"");
    }
    out
}

/// The serde messages that name a field or variant as sent, in backticks.
const NAMED_BY_SERDE: [&str; 4] = [
    "unknown field `",
    "unknown variant `",
    "missing field `",
    "duplicate field `",
];

/// A serde error message safe to answer and log: the field or variant name a client sent
/// (`unknown field `…``, `unknown variant `…``) is shown only when it is a plain word
/// ([`keyshift_core::keyformat::shown_name`], masked otherwise: a key pasted as a field name or
/// an enum value must not come back), and every double-quoted value is replaced by `"…"`. The
/// list of what is expected (our own field and variant names) stays.
pub(crate) fn redact_serde_message(message: &str) -> String {
    for prefix in NAMED_BY_SERDE {
        let Some(at) = message.find(prefix) else {
            continue;
        };
        let start = at + prefix.len();
        let rest = &message[start..];
        // The name ends at the last "`, expected" (the list after it has none), else at the
        // last "`, " or "`".
        let end = rest
            .rfind("`, expected")
            .or_else(|| rest.rfind("`, "))
            .or_else(|| rest.rfind('`'));
        let Some(end) = end else {
            // No closing backtick: show nothing after the prefix.
            return format!("{}{}…`", redact_quoted(&message[..at]), prefix);
        };
        return format!(
            "{}{}{}{}",
            redact_quoted(&message[..at]),
            prefix,
            keyshift_core::keyformat::shown_name(&rest[..end]),
            redact_quoted(&rest[end..])
        );
    }
    redact_quoted(message)
}

/// A `serde_path_to_error` path (`credits.refill`, `keys[3].hash`) safe to answer: every
/// segment that is not a plain word (an unknown field name, a map key) is masked.
pub(crate) fn redact_path(path: &str) -> String {
    path.split('.')
        .map(|segment| {
            let (name, index) = match segment.find('[') {
                Some(i) => segment.split_at(i),
                None => (segment, ""),
            };
            let index_ok = index.split_inclusive(']').all(|part| {
                part.strip_prefix('[')
                    .and_then(|p| p.strip_suffix(']'))
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            });
            let name = if name.is_empty() {
                String::new()
            } else {
                keyshift_core::keyformat::shown_name(name)
            };
            if index_ok {
                format!("{name}{index}")
            } else {
                format!("{name}[…]")
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Parses a JSON request body into `T` (unknown fields, wrong types and missing fields are a
/// 400 naming the field as `body.<path>`), then runs its [`Validate`] checks. Generic only in
/// the decode itself: the error handling is compiled once, not once per request type.
pub(crate) fn parse_body<T: DeserializeOwned + Validate>(body: &[u8]) -> Result<T> {
    require_body(body)?;
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(decode_error)?;
    de.end().map_err(trailing_error)?;
    validated(value.validate())?;
    Ok(value)
}

fn require_body(body: &[u8]) -> Result<()> {
    if body.iter().all(u8::is_ascii_whitespace) {
        // Every operation's body is required (Unkey's description marks it so), even where
        // every field is optional: send `{}`.
        return Err(field_error(
            "body",
            "the request body is empty; send a JSON object (`{}` when every field is optional)",
        ));
    }
    Ok(())
}

fn decode_error(err: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let path = redact_path(&err.path().to_string());
    let inner = err.into_inner();
    let message = redact_serde_message(&inner.to_string());
    let mut location = if path.is_empty() || path == "." {
        "body".to_string()
    } else if path.starts_with('[') {
        format!("body{path}")
    } else {
        format!("body.{path}")
    };
    // A missing or repeated field is named by the message, not by the path.
    if let Some(rest) = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("duplicate field `"))
    {
        if let Some(name) = rest.split('`').next() {
            location = format!("{location}.{name}");
        }
    }
    bad_request(vec![FieldError { location, message }])
}

fn trailing_error(err: serde_json::Error) -> Error {
    field_error("body", redact_serde_message(&err.to_string()))
}

fn validated(errors: Vec<FieldError>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(bad_request(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for day in [-1000, 0, 59, 10_000, 20_000, 30_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn ids_are_unique_and_sort_by_creation_time() {
        let a = new_ids("key", 1000).unwrap();
        let set: std::collections::HashSet<&String> = a.iter().collect();
        assert_eq!(set.len(), 1000);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id("key").unwrap();
        for id in &a {
            assert!(id.starts_with("key_"));
            assert_eq!(id.len(), b.len(), "{id} {b}");
            assert!(id < &b, "{id} !< {b}");
        }
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_quoted(r#"invalid type: string "sk_live_secret", expected u32"#),
            r#"invalid type: string "…", expected u32"#
        );
        assert_eq!(
            redact_quoted(r#"string "a\"sk_live_secret", expected u32"#),
            r#"string "…", expected u32"#
        );
        assert_eq!(redact_quoted(r#"string "unterminated"#), r#"string "…""#);
        let key = "sk_live_3ZbLh2cV7nq9R1tYwXkPa";
        let msg = redact_serde_message(&format!(
            "unknown field `{key}`, expected one of `apiId`, `name` at line 1 column 9"
        ));
        assert_eq!(
            msg,
            "unknown field `sk_live_…XkPa`, expected one of `apiId`, `name` at line 1 column 9"
        );
        let msg = redact_serde_message(&format!(
            "unknown variant `{key}`, expected one of `sha256_base64`, `sha256_hex`, `bcrypt`"
        ));
        assert_eq!(
            msg,
            "unknown variant `sk_live_…XkPa`, expected one of `sha256_base64`, `sha256_hex`, `bcrypt`"
        );
        assert_eq!(
            redact_serde_message(&format!("unknown field `{key}`, there are no fields")),
            "unknown field `sk_live_…XkPa`, there are no fields"
        );
        assert_eq!(
            redact_serde_message("unknown field `apiid`, expected `apiId`"),
            "unknown field `apiid`, expected `apiId`"
        );
        assert_eq!(
            redact_serde_message("missing field `apiId` at line 1 column 2"),
            "missing field `apiId` at line 1 column 2"
        );
        // A backtick inside the name does not end it early.
        assert!(
            !redact_serde_message(&format!("unknown field `x`{key}`, expected `a`")).contains(key)
        );
        assert_eq!(redact_path("credits.refill"), "credits.refill");
        assert_eq!(redact_path("keys[3].hash"), "keys[3].hash");
        assert_eq!(
            redact_path(&format!("credits.{key}")),
            "credits.sk_live_…XkPa"
        );
        assert_eq!(redact_path(&format!("meta[{key}]")), "meta[…]");
    }
}
