//! In-memory fixed-window rate limiter used by `keys.verifyKey`.
//!
//! Windows are bounded in number and expire (DESIGN §4): a window whose period has ended is
//! dropped by a sweep at most once per [`SWEEP_INTERVAL_MS`]; when [`Limiter::capacity`]
//! windows are live and a new one is needed, about an eighth of the capacity is evicted at
//! once — ad-hoc windows (limits a request names that the key or identity does not define,
//! whose names are the caller's choice) before defined ones, each group soonest-ending first.
//! An evicted window starts again from zero if used again.

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
    /// Named by the request with its own limit and duration, not defined on the key or its
    /// identity.
    pub adhoc: bool,
}

impl LimitCheck {
    /// Start and length of the window containing `now`.
    fn window(&self, now: i64) -> (i64, i64) {
        let duration = self.duration.max(1);
        (now - now.rem_euclid(duration), duration)
    }
}

struct Window {
    start: i64,
    duration: i64,
    used: i64,
    adhoc: bool,
}

impl Window {
    fn end(&self) -> i64 {
        self.start.saturating_add(self.duration)
    }
}

pub(crate) struct Limiter {
    windows: HashMap<String, Window>,
    capacity: usize,
    next_sweep: i64,
}

/// Most windows kept by default (a window costs ~100 bytes plus its scope).
pub const DEFAULT_WINDOW_CAPACITY: usize = 100_000;
/// Expired windows are dropped at most this often.
pub const SWEEP_INTERVAL_MS: i64 = 1000;

impl Default for Limiter {
    fn default() -> Self {
        Limiter {
            windows: HashMap::new(),
            capacity: DEFAULT_WINDOW_CAPACITY,
            next_sweep: i64::MIN,
        }
    }
}

impl Limiter {
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        self.make_room(0, &[]);
    }

    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Checks every limit at `now` without charging anything: the per-limit report and
    /// whether any is exceeded.
    pub fn peek(&mut self, checks: &[LimitCheck], now: i64) -> (Vec<VerifyRatelimitData>, bool) {
        self.sweep(now);
        let mut report = Vec::with_capacity(checks.len());
        let mut any_exceeded = false;
        for c in checks {
            let (start, duration) = c.window(now);
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
        (report, any_exceeded)
    }

    /// Checks every limit at `now`; only if none is exceeded are all of them charged, so a
    /// refused request consumes nothing. Returns the per-limit report and whether any was
    /// exceeded. Call it only when the verification ends VALID if it passes (or [`refund`]).
    ///
    /// [`refund`]: Limiter::refund
    pub fn check(&mut self, checks: &[LimitCheck], now: i64) -> (Vec<VerifyRatelimitData>, bool) {
        let (report, exceeded) = self.peek(checks, now);
        if !exceeded {
            let new = checks
                .iter()
                .filter(|c| !self.windows.contains_key(&c.scope))
                .count();
            self.make_room(new, checks);
            for c in checks {
                let (start, duration) = c.window(now);
                let w = self.windows.entry(c.scope.clone()).or_insert(Window {
                    start,
                    duration,
                    used: 0,
                    adhoc: c.adhoc,
                });
                if w.start != start || w.duration != duration {
                    *w = Window {
                        start,
                        duration,
                        used: 0,
                        adhoc: c.adhoc,
                    };
                }
                // A limit defined on the key keeps its window protected from ad-hoc floods.
                w.adhoc &= c.adhoc;
                w.used = w.used.saturating_add(c.cost);
            }
        }
        (report, exceeded)
    }

    /// Gives back what a successful [`Limiter::check`] at the same `now` charged (the
    /// verification did not end VALID after all).
    pub fn refund(&mut self, checks: &[LimitCheck], now: i64) {
        for c in checks {
            let (start, duration) = c.window(now);
            if let Some(w) = self.windows.get_mut(&c.scope) {
                if w.start == start && w.duration == duration {
                    w.used = w.used.saturating_sub(c.cost).max(0);
                }
            }
        }
    }

    /// Drops windows whose period ended, at most once per [`SWEEP_INTERVAL_MS`].
    fn sweep(&mut self, now: i64) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now.saturating_add(SWEEP_INTERVAL_MS);
        self.windows.retain(|_, w| w.end() > now);
    }

    /// Makes room for `extra` new windows within the capacity: evicts at least an eighth of
    /// the capacity (ad-hoc windows first, soonest-ending first), so that eviction is rare.
    /// The windows of `keep` (the checks being charged) stay.
    fn make_room(&mut self, extra: usize, keep: &[LimitCheck]) {
        if self.windows.len() + extra <= self.capacity {
            return;
        }
        let target = self.capacity.saturating_sub(extra);
        let evict = (self.windows.len() - target).max(self.capacity / 8).max(1);
        let mut order: Vec<(bool, i64, &String)> = self
            .windows
            .iter()
            .filter(|(scope, _)| !keep.iter().any(|c| &c.scope == *scope))
            .map(|(scope, w)| (!w.adhoc, w.end(), scope))
            .collect();
        let evict = evict.min(order.len());
        if evict < order.len() {
            order.select_nth_unstable(evict);
        }
        let doomed: Vec<String> = order[..evict]
            .iter()
            .map(|(_, _, s)| (*s).clone())
            .collect();
        for scope in doomed {
            self.windows.remove(&scope);
        }
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
            adhoc: false,
        }
    }

    fn adhoc(i: usize, duration: i64) -> LimitCheck {
        LimitCheck {
            scope: format!("k:key_2:adhoc_{i}"),
            id: String::new(),
            name: format!("adhoc_{i}"),
            limit: 10,
            duration,
            cost: 1,
            auto_apply: false,
            adhoc: true,
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

    #[test]
    fn peek_charges_nothing_and_refund_gives_back() {
        let mut l = Limiter::default();
        for _ in 0..5 {
            let (r, exceeded) = l.peek(&[check(1, 1)], 500);
            assert!(!exceeded);
            assert_eq!(r[0].remaining, 0);
        }
        let (_, exceeded) = l.check(&[check(1, 1)], 500);
        assert!(!exceeded);
        assert!(l.peek(&[check(1, 1)], 501).1, "the token is used");
        l.refund(&[check(1, 1)], 500);
        assert!(!l.peek(&[check(1, 1)], 502).1, "refunded");
    }

    #[test]
    fn expired_windows_are_swept() {
        let mut l = Limiter::default();
        for i in 0..100 {
            l.check(&[adhoc(i, 1000)], 0);
        }
        l.check(&[check(10, 1)], 0);
        assert_eq!(l.len(), 101);
        // Within the sweep interval nothing is dropped (no sweep on every call)...
        l.check(&[adhoc(1000, 60_000)], 999);
        assert_eq!(l.len(), 102);
        // ...after it, every window whose period ended is.
        l.check(&[adhoc(1001, 60_000)], 1000 + SWEEP_INTERVAL_MS);
        assert_eq!(l.len(), 2, "only the two 60 s windows are left");
    }

    #[test]
    fn capacity_bounds_windows_and_evicts_adhoc_first() {
        let mut l = Limiter::default();
        l.set_capacity(64);
        let mut defined = check(2, 1);
        defined.duration = 3_600_000;
        assert!(!l.check(&[defined.clone()], 0).1);
        assert!(!l.check(&[defined.clone()], 1).1);
        for i in 0..10_000 {
            // Long windows that never expire during the test.
            assert!(!l.check(&[adhoc(i, 3_600_000)], 2).1);
            assert!(l.len() <= 64);
        }
        // The defined window was never evicted: still exhausted.
        assert!(l.check(&[defined], 3).1);
        // Lowering the capacity trims at once.
        l.set_capacity(8);
        assert!(l.len() <= 8);
    }
}
