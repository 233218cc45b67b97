//! [`Engine::verification_buckets`]: a key owner's verifications per time bucket, the
//! portal's chart.

use keyshift_core::{Error, Result};
use rusqlite::params;

use super::{VerificationBucket, MAX_BUCKETS};
use crate::util::{Db, DAY_MS, HOUR_MS, MINUTE_MS};
use crate::Engine;

impl Engine {
    /// Verifications per time bucket of the keys of `api_id` owned by `external_id` (only
    /// `key_id` with `Some`) in `workspace_id`, for `start_ms <= time < end_ms`. Granularity
    /// from the window: up to 2 h per minute, up to 7 days per hour, else per day (UTC).
    /// Every bucket of the window is present (zeros included), oldest first. Flushes the
    /// buffer first. A window that is empty, reversed, or of more than [`MAX_BUCKETS`]
    /// buckets is `invalid_input`.
    pub fn verification_buckets(
        &self,
        workspace_id: &str,
        api_id: &str,
        external_id: &str,
        key_id: Option<&str>,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<VerificationBucket>> {
        if end_ms <= start_ms || start_ms < 0 {
            return Err(Error::invalid_input(
                "endTime",
                "endTime must be after startTime (both unix ms)",
            ));
        }
        let window = end_ms - start_ms;
        let unit = if window <= 2 * HOUR_MS {
            MINUTE_MS
        } else if window <= 7 * DAY_MS {
            HOUR_MS
        } else {
            DAY_MS
        };
        let first = start_ms.div_euclid(unit) * unit;
        let last = (end_ms - 1).div_euclid(unit) * unit;
        let n = (last - first) / unit + 1;
        if n > MAX_BUCKETS {
            return Err(Error::invalid_input(
                "endTime",
                format!("the window spans more than {MAX_BUCKETS} buckets; shorten it"),
            ));
        }
        self.flush_verification_log()?;
        let mut buckets: Vec<VerificationBucket> = (0..n)
            .map(|i| VerificationBucket {
                time: first + i * unit,
                ..VerificationBucket::default()
            })
            .collect();
        let conn = self.inner.analytics.conn.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT (time / ?1) * ?1 AS bucket, outcome, sum(n) FROM key_verifications \
                 WHERE workspace_id = ?2 AND api_id = ?3 AND external_id = ?4 \
                 AND (?5 IS NULL OR key_id = ?5) AND time >= ?6 AND time < ?7 \
                 GROUP BY bucket, outcome",
            )
            .db()?;
        let rows = stmt
            .query_map(
                params![
                    unit,
                    workspace_id,
                    api_id,
                    external_id,
                    key_id,
                    start_ms,
                    end_ms
                ],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )
            .db()?;
        for row in rows {
            let (time, outcome, count) = row.db()?;
            let Some(b) = usize::try_from((time - first) / unit)
                .ok()
                .and_then(|i| buckets.get_mut(i))
            else {
                continue;
            };
            let count = count.max(0) as u64;
            b.total += count;
            match outcome.as_str() {
                "VALID" => b.valid += count,
                "RATE_LIMITED" => b.rate_limited += count,
                "INSUFFICIENT_PERMISSIONS" => b.insufficient_permissions += count,
                "FORBIDDEN" => b.forbidden += count,
                "DISABLED" => b.disabled += count,
                "EXPIRED" => b.expired += count,
                "USAGE_EXCEEDED" | "INSUFFICIENT_CREDITS" => b.usage_exceeded += count,
                _ => {}
            }
        }
        Ok(buckets)
    }
}
