//! In-memory fixed-window rate limiter used by `keys.verifyKey`.

use std::collections::HashMap;

use keyshift_core::wire::VerifyRatelimitData;

/// One limit to check: `scope` identifies the counter (`k:<key id>:<name>` or
/// `i:<identity id>:<name>`), shared by every verification of that key / identity.
#[derive(Clone, Debug)]
pub(crate) struct LimitCheck {
    pub scope: String,
    pub id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub cost: i64,
    pub auto_apply: bool,
}

struct Window {
    start: i64,
    duration: i64,
    used: i64,
}

#[derive(Default)]
pub(crate) struct Limiter {
    windows: HashMap<String, Window>,
}

const PRUNE_ABOVE: usize = 50_000;

impl Limiter {
    /// Checks every limit at `now`. Only if none is exceeded are all of them charged, so a
    /// refused request consumes nothing. Returns the per-limit report and whether any was
    /// exceeded.
    pub fn check(&mut self, checks: &[LimitCheck], now: i64) -> (Vec<VerifyRatelimitData>, bool) {
        if self.windows.len() > PRUNE_ABOVE {
            self.windows.retain(|_, w| w.start + w.duration > now);
        }
        let mut report = Vec::with_capacity(checks.len());
        let mut any_exceeded = false;
        for c in checks {
            let duration = c.duration.max(1);
            let start = now - now.rem_euclid(duration);
            let used = match self.windows.get(&c.scope) {
                Some(w) if w.start == start && w.duration == duration => w.used,
                _ => 0,
            };
            let exceeded = used.saturating_add(c.cost) > c.limit;
            any_exceeded |= exceeded;
            let remaining = if exceeded {
                (c.limit - used).max(0)
            } else {
                c.limit - used - c.cost
            };
            report.push(VerifyRatelimitData {
                exceeded,
                id: c.id.clone(),
                name: c.name.clone(),
                limit: c.limit,
                duration,
                reset: start + duration,
                remaining: remaining.max(0),
                auto_apply: c.auto_apply,
            });
        }
        if !any_exceeded {
            for c in checks {
                let duration = c.duration.max(1);
                let start = now - now.rem_euclid(duration);
                let w = self.windows.entry(c.scope.clone()).or_insert(Window {
                    start,
                    duration,
                    used: 0,
                });
                if w.start != start || w.duration != duration {
                    *w = Window {
                        start,
                        duration,
                        used: 0,
                    };
                }
                w.used = w.used.saturating_add(c.cost);
            }
        }
        (report, any_exceeded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(limit: i64, cost: i64) -> LimitCheck {
        LimitCheck {
            scope: "k:key_1:requests".into(),
            id: "rl_1".into(),
            name: "requests".into(),
            limit,
            duration: 1000,
            cost,
            auto_apply: true,
        }
    }

    #[test]
    fn fixed_window() {
        let mut l = Limiter::default();
        let now = 10_500;
        for i in 0..3 {
            let (r, exceeded) = l.check(&[check(3, 1)], now);
            assert!(!exceeded);
            assert_eq!(r[0].remaining, 2 - i);
            assert_eq!(r[0].reset, 11_000);
        }
        let (r, exceeded) = l.check(&[check(3, 1)], now + 10);
        assert!(exceeded);
        assert_eq!(r[0].remaining, 0);
        // next window
        let (_, exceeded) = l.check(&[check(3, 1)], 11_000);
        assert!(!exceeded);
        // a refused multi-limit check charges nothing
        let mut other = check(100, 1);
        other.scope = "k:key_1:other".into();
        let (_, exceeded) = l.check(&[other.clone(), check(3, 5)], 11_001);
        assert!(exceeded);
        let (r, _) = l.check(&[other], 11_002);
        assert_eq!(r[0].remaining, 99);
    }
}
