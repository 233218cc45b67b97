//! Reading [`MigrationRecord`]s from JSON objects (a JSONL line, a binding's dict) and CSV rows:
//! the field mapping of the [parent module](super), each field's JSON type, and its error.

use serde_json::{Map, Value};

use super::{shown_name, FieldIssue, MigrationRecord, Parsed};
use crate::hashing::HashVariant;
use crate::scope::Scope;
use crate::wire::limits::{REFILL_DAY_MAX, REFILL_DAY_MIN};
use crate::wire::{CreditsRequest, KeyCreditsRefill, RatelimitRequest, RefillInterval};
use crate::SecretKey;

/// An optional field of JSON type `T` (`what`, for the error): `null` is absent.
fn opt_typed<T: serde::de::DeserializeOwned>(
    field: &str,
    v: Value,
    what: &str,
) -> Parsed<Option<T>> {
    match v {
        Value::Null => Ok(None),
        v => serde_json::from_value(v)
            .map(Some)
            .map_err(|_| FieldIssue::new(field, format!("`{field}` must be {what}"))),
    }
}

fn opt_string(field: &str, v: Value) -> Parsed<Option<String>> {
    opt_typed(field, v, "a string")
}

fn string_list(field: &str, v: Value) -> Parsed<Vec<String>> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s),
                _ => Err(FieldIssue::new(
                    &format!("{field}[{i}]"),
                    format!("`{field}[{i}]` must be a string"),
                )),
            })
            .collect(),
        _ => Err(FieldIssue::new(
            field,
            format!("`{field}` must be an array of strings"),
        )),
    }
}

fn opt_i64(field: &str, v: Value) -> Parsed<Option<i64>> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_i64().map(Some).ok_or_else(|| {
            FieldIssue::new(field, format!("`{field}` must be an integer in range"))
        }),
        _ => Err(FieldIssue::new(
            field,
            format!("`{field}` must be an integer"),
        )),
    }
}

/// Parses `profile:read,update` (or `profile:*`) into a scope.
pub(crate) fn parse_scope_text(field: &str, text: &str) -> Parsed<Scope> {
    Scope::parse_cli(text.trim())
        .map_err(|e| FieldIssue::new(field, format!("`{field}`: {}", e.message)))
}

fn scope_from_value(field: &str, v: Value) -> Parsed<Scope> {
    match v {
        Value::String(s) => parse_scope_text(field, &s),
        Value::Object(map) => {
            let mut scope = Scope::default();
            let mut has_repr = false;
            for (k, v) in map {
                let flag = |v: Value, name: &str| match v {
                    Value::Bool(b) => Ok(b),
                    Value::Null => Ok(false),
                    _ => Err(FieldIssue::new(
                        &format!("{field}.{name}"),
                        format!("`{field}.{name}` must be a boolean"),
                    )),
                };
                match k.as_str() {
                    "representation" => match v {
                        Value::String(s) => {
                            scope.representation = s;
                            has_repr = true;
                        }
                        _ => {
                            return Err(FieldIssue::new(
                                &format!("{field}.representation"),
                                format!("`{field}.representation` must be a string"),
                            ))
                        }
                    },
                    "read" => scope.read = flag(v, "read")?,
                    "create" => scope.create = flag(v, "create")?,
                    "update" => scope.update = flag(v, "update")?,
                    "delete" => scope.delete = flag(v, "delete")?,
                    other => {
                        return Err(FieldIssue::new(
                            field,
                            format!("`{field}` has unknown field `{}`", shown_name(other)),
                        ))
                    }
                }
            }
            if !has_repr {
                return Err(FieldIssue::new(
                    &format!("{field}.representation"),
                    format!("`{field}.representation` is required"),
                ));
            }
            Ok(scope)
        }
        _ => Err(FieldIssue::new(
            field,
            format!("`{field}` must be an object {{representation, read, create, update, delete}} or `representation:read,…`"),
        )),
    }
}

fn credits_from_value(v: Value) -> Parsed<Option<CreditsRequest>> {
    match v {
        Value::Null => Ok(None),
        Value::Number(_) => Ok(Some(CreditsRequest {
            remaining: opt_i64("credits", v)?,
            refill: None,
        })),
        Value::Object(map) => {
            let mut remaining = None;
            let mut has_remaining = false;
            let mut refill = None;
            for (k, v) in map {
                match k.as_str() {
                    "remaining" => {
                        has_remaining = true;
                        remaining = opt_i64("credits.remaining", v)?;
                    }
                    "refill" => refill = refill_from_value(v)?,
                    other => {
                        return Err(FieldIssue::new(
                            "credits",
                            format!("`credits` has unknown field `{}`", shown_name(other)),
                        ))
                    }
                }
            }
            if !has_remaining {
                return Err(FieldIssue::new(
                    "credits.remaining",
                    "`credits.remaining` is required (a number, or null for unlimited)",
                ));
            }
            Ok(Some(CreditsRequest { remaining, refill }))
        }
        _ => Err(FieldIssue::new(
            "credits",
            "`credits` must be an object {remaining, refill?} or a number",
        )),
    }
}

fn refill_from_value(v: Value) -> Parsed<Option<KeyCreditsRefill>> {
    let map = match v {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        _ => {
            return Err(FieldIssue::new(
                "credits.refill",
                "`credits.refill` must be an object {interval, amount, refillDay?}",
            ))
        }
    };
    let mut interval = None;
    let mut amount = None;
    let mut refill_day = None;
    for (k, v) in map {
        match k.as_str() {
            "interval" => interval = opt_string("credits.refill.interval", v)?,
            "amount" => amount = opt_i64("credits.refill.amount", v)?,
            "refillDay" => {
                refill_day = opt_i64("credits.refill.refillDay", v)?;
            }
            other => {
                return Err(FieldIssue::new(
                    "credits.refill",
                    format!("`credits.refill` has unknown field `{}`", shown_name(other)),
                ))
            }
        }
    }
    let interval = match interval.as_deref() {
        Some("daily") => RefillInterval::Daily,
        Some("monthly") => RefillInterval::Monthly,
        Some(_) => {
            return Err(FieldIssue::new(
                "credits.refill.interval",
                "`credits.refill.interval` must be daily or monthly",
            ))
        }
        None => {
            return Err(FieldIssue::new(
                "credits.refill.interval",
                "`credits.refill.interval` is required",
            ))
        }
    };
    let amount = amount.ok_or_else(|| {
        FieldIssue::new(
            "credits.refill.amount",
            "`credits.refill.amount` is required",
        )
    })?;
    let refill_day = match refill_day {
        None => None,
        Some(d) if (i64::from(REFILL_DAY_MIN)..=i64::from(REFILL_DAY_MAX)).contains(&d) => {
            Some(d as u8)
        }
        Some(_) => {
            return Err(FieldIssue::new(
                "credits.refill.refillDay",
                format!("`credits.refill.refillDay` must be {REFILL_DAY_MIN}–{REFILL_DAY_MAX}"),
            ))
        }
    };
    Ok(Some(KeyCreditsRefill {
        interval,
        amount,
        refill_day,
    }))
}

fn ratelimits_from_value(v: Value) -> Parsed<Vec<RatelimitRequest>> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => {
            return Err(FieldIssue::new(
                "ratelimits",
                "`ratelimits` must be an array of {name, limit, duration, autoApply}",
            ))
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let field = format!("ratelimits[{i}]");
        let Value::Object(map) = item else {
            return Err(FieldIssue::new(
                &field,
                format!("`{field}` must be an object {{name, limit, duration, autoApply}}"),
            ));
        };
        let (mut name, mut limit, mut duration, mut auto_apply) = (None, None, None, false);
        for (k, v) in map {
            let sub = format!("{field}.{k}");
            match k.as_str() {
                "name" => name = opt_string(&sub, v)?,
                "limit" => limit = opt_i64(&sub, v)?,
                "duration" => duration = opt_i64(&sub, v)?,
                "autoApply" => {
                    auto_apply = match v {
                        Value::Bool(b) => b,
                        Value::Null => false,
                        _ => {
                            return Err(FieldIssue::new(&sub, format!("`{sub}` must be a boolean")))
                        }
                    }
                }
                other => {
                    return Err(FieldIssue::new(
                        &field,
                        format!("`{field}` has unknown field `{}`", shown_name(other)),
                    ))
                }
            }
        }
        let missing = |n: &str| {
            FieldIssue::new(
                &format!("{field}.{n}"),
                format!("`{field}.{n}` is required"),
            )
        };
        out.push(RatelimitRequest {
            name: name.ok_or_else(|| missing("name"))?,
            limit: limit.ok_or_else(|| missing("limit"))?,
            duration: duration.ok_or_else(|| missing("duration"))?,
            auto_apply,
        });
    }
    Ok(out)
}

impl MigrationRecord {
    /// A record from one JSON object (a JSONL line or a binding's dict). Unknown fields are
    /// rejected so that a typo never drops data silently.
    pub(crate) fn from_json(value: Value) -> Parsed<MigrationRecord> {
        let Value::Object(map) = value else {
            return Err(FieldIssue {
                field: None,
                message: "record must be a JSON object".into(),
            });
        };
        let mut r = MigrationRecord::default();
        let mut customer_id: Option<String> = None;
        // `variant` inside a `hash: {value, variant}` object (Unkey's migration guide).
        let mut hash_variant: Option<HashVariant> = None;
        for (k, v) in map {
            match k.as_str() {
                "key" => r.key = opt_string("key", v)?.map(SecretKey::new),
                "hash" => match v {
                    Value::Object(obj) => {
                        let (value, variant) = hash_object(obj)?;
                        r.hash = Some(value);
                        hash_variant = variant;
                    }
                    Value::Null => r.hash = None,
                    Value::String(s) => r.hash = Some(s),
                    _ => {
                        return Err(FieldIssue::new(
                            "hash",
                            "`hash` must be a string or an object {value, variant}",
                        ))
                    }
                },
                "start" => r.start = opt_string("start", v)?,
                "variant" => {
                    r.variant = match opt_string("variant", v)? {
                        None => None,
                        Some(s) => Some(parse_variant(&s)?),
                    }
                }
                "name" => r.name = opt_string("name", v)?,
                "externalId" => r.external_id = opt_string("externalId", v)?,
                "customerId" => customer_id = opt_string("customerId", v)?,
                "workspaceId" => r.workspace_id = opt_string("workspaceId", v)?,
                "meta" => r.meta = opt_typed("meta", v, "a JSON object")?,
                "roles" => r.roles = string_list("roles", v)?,
                "permissions" => r.permissions = string_list("permissions", v)?,
                "scopes" => {
                    r.scopes = match v {
                        Value::Null => Vec::new(),
                        Value::Array(items) => items
                            .into_iter()
                            .enumerate()
                            .map(|(i, item)| scope_from_value(&format!("scopes[{i}]"), item))
                            .collect::<Parsed<_>>()?,
                        _ => {
                            return Err(FieldIssue::new(
                                "scopes",
                                "`scopes` must be an array of scopes",
                            ))
                        }
                    }
                }
                "expires" => r.expires = opt_i64("expires", v)?,
                "enabled" => r.enabled = opt_typed("enabled", v, "a boolean")?,
                "credits" => r.credits = credits_from_value(v)?,
                "ratelimits" => r.ratelimits = ratelimits_from_value(v)?,
                other => {
                    return Err(FieldIssue {
                        field: None,
                        message: format!("unknown field `{}`", shown_name(other)),
                    })
                }
            }
        }
        if let Some(hv) = hash_variant {
            match r.variant {
                Some(v) if v != hv => {
                    return Err(FieldIssue::new(
                        "variant",
                        "`variant` and `hash.variant` are both set and differ",
                    ))
                }
                _ => r.variant = Some(hv),
            }
        }
        if let Some(c) = customer_id {
            match &r.external_id {
                Some(e) if *e != c => {
                    return Err(FieldIssue::new(
                        "customerId",
                        "`customerId` and `externalId` are both set and differ",
                    ))
                }
                _ => r.external_id = Some(c),
            }
        }
        Ok(r)
    }

    /// A record from one CSV row (`headers[i]` names `cells[i]`).
    pub(crate) fn from_csv(
        headers: &[String],
        cells: &csv::StringRecord,
    ) -> Parsed<MigrationRecord> {
        let mut map = Map::new();
        for (i, cell) in cells.iter().enumerate() {
            let Some(header) = headers.get(i) else {
                return Err(FieldIssue {
                    field: None,
                    message: format!(
                        "row has {} cells but the header names {}",
                        cells.len(),
                        headers.len()
                    ),
                });
            };
            if cell.is_empty() {
                continue;
            }
            let value = match header.as_str() {
                "roles" | "permissions" => Value::Array(
                    split_list(cell)
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                ),
                "scopes" => {
                    if cell.trim_start().starts_with('[') {
                        json_cell(header, cell)?
                    } else {
                        Value::Array(
                            split_list(cell)
                                .map(|s| {
                                    if s.starts_with('{') {
                                        json_cell(header, s)
                                    } else {
                                        Ok(Value::String(s.to_string()))
                                    }
                                })
                                .collect::<Parsed<_>>()?,
                        )
                    }
                }
                "meta" | "ratelimits" | "credits" => json_cell(header, cell)?,
                "expires" => {
                    let n: i64 = cell.trim().parse().map_err(|_| {
                        FieldIssue::new("expires", "`expires` must be an integer (unix ms)")
                    })?;
                    Value::from(n)
                }
                "enabled" => match cell.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => Value::Bool(true),
                    "false" | "0" | "no" => Value::Bool(false),
                    _ => {
                        return Err(FieldIssue::new(
                            "enabled",
                            "`enabled` must be true or false",
                        ))
                    }
                },
                _ => Value::String(cell.to_string()),
            };
            map.insert(header.clone(), value);
        }
        MigrationRecord::from_json(Value::Object(map))
    }
}

/// `hash: {value, variant?}`, the form of Unkey's migration guide.
fn hash_object(obj: Map<String, Value>) -> Parsed<(String, Option<HashVariant>)> {
    let mut value = None;
    let mut variant = None;
    for (k, v) in obj {
        match k.as_str() {
            "value" => value = opt_string("hash.value", v)?,
            "variant" => {
                variant = match opt_string("hash.variant", v)? {
                    None => None,
                    Some(s) => Some(s.parse::<HashVariant>().map_err(|_| {
                        FieldIssue::new(
                            "hash.variant",
                            "`hash.variant` must be sha256_base64, sha256_hex or bcrypt",
                        )
                    })?),
                }
            }
            other => {
                return Err(FieldIssue::new(
                    "hash",
                    format!(
                        "`hash` has unknown field `{}` (expected value, variant)",
                        shown_name(other)
                    ),
                ))
            }
        }
    }
    let value = value.ok_or_else(|| FieldIssue::new("hash.value", "`hash.value` is required"))?;
    Ok((value, variant))
}

fn split_list(cell: &str) -> impl Iterator<Item = &str> {
    cell.split(';').map(str::trim).filter(|s| !s.is_empty())
}

fn json_cell(field: &str, cell: &str) -> Parsed<Value> {
    serde_json::from_str(cell)
        .map_err(|_| FieldIssue::new(field, format!("`{field}` is not valid JSON")))
}

pub(crate) fn parse_variant(s: &str) -> Parsed<HashVariant> {
    s.parse().map_err(|_| {
        FieldIssue::new(
            "variant",
            "`variant` must be sha256_base64, sha256_hex or bcrypt",
        )
    })
}
