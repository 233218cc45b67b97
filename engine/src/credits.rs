//! Credits: the refill calendar (daily, or monthly on a day clamped to the month), the refill
//! itself, and `keys.updateCredits`.

use keyshift_core::wire::*;
use keyshift_core::{Error, Result};
use rusqlite::{params, Connection};

use crate::keys::touch;
use crate::rows::{find_key, live_key, KeyRow};
use crate::util::{civil_from_days, days_from_civil, now_ms, Db, DAY_MS};

fn days_in_month(y: i64, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as u32
}

/// The latest credit-refill moment at or before `now` (unix ms, UTC): midnight for `daily`;
/// midnight of day `refill_day` (clamped to the month's length, default 1) for `monthly`.
pub(crate) fn last_refill_boundary(now: i64, monthly: bool, refill_day: Option<u8>) -> i64 {
    let today = now.div_euclid(DAY_MS);
    if !monthly {
        return today * DAY_MS;
    }
    let want = u32::from(refill_day.unwrap_or(1).max(1));
    let (y, m, _) = civil_from_days(today);
    let this_month = days_from_civil(y, m, want.min(days_in_month(y, m))) * DAY_MS;
    if this_month <= now {
        return this_month;
    }
    let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    days_from_civil(py, pm, want.min(days_in_month(py, pm))) * DAY_MS
}

fn refill_boundary(refill: &KeyCreditsRefill, now: i64) -> i64 {
    last_refill_boundary(
        now,
        refill.interval == RefillInterval::Monthly,
        refill.refill_day,
    )
}

/// Whether [`apply_refill`] would write: the key refills and no refill happened since the
/// period's boundary (as far as `key` knows).
pub(crate) fn refill_due(key: &KeyRow, now: i64) -> bool {
    match &key.refill {
        Some(refill) => key.last_refill_at.unwrap_or(key.created_at) < refill_boundary(refill, now),
        None => false,
    }
}

/// Applies a due credit refill (sets `remaining` to the refill amount once per period).
/// Idempotent under concurrency: the UPDATE only fires if no refill happened since the boundary.
pub(crate) fn apply_refill(conn: &Connection, key: &mut KeyRow, now: i64) -> Result<()> {
    let Some(refill) = &key.refill else {
        return Ok(());
    };
    let boundary = refill_boundary(refill, now);
    let last = key.last_refill_at.unwrap_or(key.created_at);
    if last >= boundary {
        return Ok(());
    }
    let changed = conn
        .prepare_cached(
            "UPDATE keys SET remaining = ?1, last_refill_at = ?2 WHERE id = ?3 \
             AND COALESCE(last_refill_at, created_at) < ?4",
        )
        .db()?
        .execute(params![refill.amount, now, key.id, boundary])
        .db()?;
    if changed > 0 {
        key.remaining = Some(refill.amount);
        key.last_refill_at = Some(now);
    } else if let Some(fresh) = find_key(conn, &key.workspace_id, &key.id)? {
        key.remaining = fresh.remaining;
        key.last_refill_at = fresh.last_refill_at;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2024, 2, 29), 19782);
        assert_eq!(civil_from_days(19782), (2024, 2, 29));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2023, 2), 28);
        // 2024-03-15T12:00Z
        let now = days_from_civil(2024, 3, 15) * DAY_MS + 12 * 3_600_000;
        assert_eq!(
            last_refill_boundary(now, false, None),
            days_from_civil(2024, 3, 15) * DAY_MS
        );
        assert_eq!(
            last_refill_boundary(now, true, Some(1)),
            days_from_civil(2024, 3, 1) * DAY_MS
        );
        assert_eq!(
            last_refill_boundary(now, true, Some(20)),
            days_from_civil(2024, 2, 20) * DAY_MS
        );
        assert_eq!(
            last_refill_boundary(now, true, Some(31)),
            days_from_civil(2024, 2, 29) * DAY_MS
        );
    }
}
