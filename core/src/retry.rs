//! Retry policy of DESIGN.md §4 "Client behaviour": exponential backoff with full jitter,
//! honouring the server's `Retry-After` / `retry-after-ms`, bounded by attempts and a deadline.

use std::time::Duration;

/// How a call is retried. Every knob can be set per client and per call.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time, before jitter.
    pub base_delay: Duration,
    /// Largest backoff between two attempts.
    pub max_delay: Duration,
    /// Retry 429 answers (waiting what the server asks, within the deadline).
    pub retry_rate_limited: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            retry_rate_limited: true,
        }
    }
}

impl RetryPolicy {
    /// A policy that makes exactly one attempt.
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    crate::setters::setters! {
        with_max_attempts(attempts: u32) => max_attempts = attempts.max(1);
        with_base_delay(delay: Duration) => base_delay = delay;
        with_max_delay(delay: Duration) => max_delay = delay;
    }

    /// Full-jitter backoff before attempt `attempt + 1` (`attempt` counts from 1): a uniform
    /// draw from zero to `min(max_delay, base_delay * 2^(attempt-1))`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        // Integer arithmetic: no float rounding can push the draw past the ceiling (or
        // overflow a Duration, whatever the knobs are set to).
        // nanos < 2^95 and the draw has 32 bits: the product fits in a u128.
        let draw = (ceiling.as_nanos() * u128::from(random_bits53() >> 21)) >> 32;
        let secs = u64::try_from(draw / 1_000_000_000).unwrap_or(u64::MAX);
        Duration::new(secs, (draw % 1_000_000_000) as u32).min(ceiling)
    }

    /// What to wait before the next attempt: the server's `Retry-After` as asked when it gave
    /// one (the caller still bounds it by the deadline), else jittered backoff.
    pub fn delay_for(&self, attempt: u32, server_hint: Option<Duration>) -> Duration {
        match server_hint {
            Some(hint) => hint.min(MAX_SERVER_HINT),
            None => self.backoff(attempt),
        }
    }

    /// The wait before attempt `attempt + 1` when `remaining` is left of the call's deadline:
    /// `None` when the wait would not end before the deadline (give up now and report the
    /// failure rather than sleep past it). Never panics, whatever the hint.
    pub fn wait_within(
        &self,
        attempt: u32,
        server_hint: Option<Duration>,
        remaining: Duration,
    ) -> Option<Duration> {
        let wait = self.delay_for(attempt, server_hint);
        (wait < remaining).then_some(wait)
    }
}

/// 53 uniform random bits from the OS random source (jitter needs no seeded PRNG).
fn random_bits53() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 1 << 52;
    }
    u64::from_le_bytes(bytes) >> 11
}

/// Longest wait a server hint is taken at (longer hints are cut to this before any arithmetic;
/// callers clamp further to their deadline).
pub const MAX_SERVER_HINT: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses `Retry-After` (delta seconds, possibly fractional, or an HTTP-date) or
/// `retry-after-ms` (which wins when both are usable). Any value is safe: negative, NaN,
/// infinite, huge or malformed values never panic; a usable hint is clamped to
/// [`MAX_SERVER_HINT`], a past HTTP-date is zero, garbage is `None`.
pub fn parse_retry_after(
    retry_after: Option<&str>,
    retry_after_ms: Option<&str>,
) -> Option<Duration> {
    if let Some(ms) = retry_after_ms.and_then(parse_number) {
        return Some(clamp_secs(ms / 1000.0));
    }
    let text = retry_after?.trim();
    if let Some(secs) = parse_number(text) {
        return Some(clamp_secs(secs));
    }
    let when = httpdate::parse_http_date(text).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(MAX_SERVER_HINT),
    )
}

/// A finite, non-negative decimal number (`2`, `1.5`, `1e3`); anything else is `None`.
fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    // Only plain decimal notation: `inf`, `NaN`, `0x10`, `+5` are not numbers here.
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-'))
        || !text.as_bytes()[0].is_ascii_digit()
    {
        return None;
    }
    let n = text.parse::<f64>().ok()?;
    (n.is_finite() && n >= 0.0).then_some(n)
}

fn clamp_secs(secs: f64) -> Duration {
    if !(secs.is_finite() && secs > 0.0) {
        return Duration::ZERO;
    }
    let max = MAX_SERVER_HINT.as_secs_f64();
    Duration::try_from_secs_f64(secs.min(max)).unwrap_or(MAX_SERVER_HINT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_the_exponential_ceiling() {
        let policy = RetryPolicy::default()
            .with_base_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_millis(350));
        for _ in 0..200 {
            assert!(policy.backoff(1) <= Duration::from_millis(100));
            assert!(policy.backoff(2) <= Duration::from_millis(200));
            assert!(policy.backoff(3) <= Duration::from_millis(350));
            assert!(policy.backoff(40) <= Duration::from_millis(350));
        }
    }

    #[test]
    fn backoff_is_jittered() {
        let policy = RetryPolicy::default().with_base_delay(Duration::from_secs(1));
        let draws: std::collections::HashSet<_> = (0..50).map(|_| policy.backoff(3)).collect();
        assert!(
            draws.len() > 10,
            "full jitter should spread delays, got {draws:?}"
        );
    }

    #[test]
    fn server_hint_wins_over_backoff() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.delay_for(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn retry_after_headers_parse() {
        assert_eq!(
            parse_retry_after(Some("2"), None),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_retry_after(Some("1.5"), None),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after(Some("9"), Some("250")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_retry_after(Some("soon"), None), None);
        assert_eq!(parse_retry_after(Some("-1"), None), None);
        assert_eq!(parse_retry_after(None, None), None);
    }

    /// Issue 9 #3: `Duration::from_secs_f64` panicked on these.
    #[test]
    fn hostile_retry_after_values_never_panic_and_are_clamped() {
        let hostile = [
            "1e300",
            "NaN",
            "nan",
            "-1",
            "-0.5",
            "-0",
            "inf",
            "+inf",
            "-inf",
            "infinity",
            "1e19",
            "1.8446744073709552e19",
            "18446744073709551616",
            "340282366920938463463374607431768211456",
            "99999999999999999999999999999999999999999999999",
            "1e-400",
            "0.0000000001",
            "+5",
            "0x10",
            "",
            " ",
            "1,5",
            "5 s",
            "٣",
            "1e",
            "e5",
            ".5",
            "5.",
            "--1",
            "1e+999",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Mon, 99 Foo 2024 99:99:99 GMT",
            "\u{0}",
            "\t7\t",
        ];
        for v in hostile {
            for hint in [
                parse_retry_after(Some(v), None),
                parse_retry_after(None, Some(v)),
            ]
            .into_iter()
            .flatten()
            {
                assert!(hint <= MAX_SERVER_HINT, "{v:?} gave {hint:?}");
            }
        }
        assert_eq!(
            parse_retry_after(Some("1e300"), None),
            Some(MAX_SERVER_HINT)
        );
        assert_eq!(
            parse_retry_after(None, Some("1e300")),
            Some(MAX_SERVER_HINT)
        );
        assert_eq!(parse_retry_after(Some("NaN"), None), None);
        assert_eq!(parse_retry_after(Some("inf"), None), None);
        assert_eq!(parse_retry_after(None, Some("-5")), None);
        // A bad retry-after-ms falls back to a good Retry-After.
        assert_eq!(
            parse_retry_after(Some("3"), Some("NaN")),
            Some(Duration::from_secs(3))
        );
        // HTTP-date: in the past is zero, far future is clamped.
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT"), None),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after(Some("Fri, 31 Dec 9999 23:59:59 GMT"), None),
            Some(MAX_SERVER_HINT)
        );
        let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        let hint = parse_retry_after(Some(&soon), None).unwrap();
        assert!(hint > Duration::from_secs(100) && hint <= Duration::from_secs(120));
    }

    /// Property-style: random byte strings (printable and not) never panic the parser, and a
    /// parsed hint always fits under the cap and under any deadline check.
    #[test]
    fn random_retry_after_strings_never_panic() {
        let alphabet: Vec<char> = "0123456789.eE+-, :GMTWedOctNaNinf\t\u{a0}x٣"
            .chars()
            .collect();
        let policy = RetryPolicy::default();
        for i in 0..20_000u32 {
            let len = (random_bits53() % 24) as usize;
            let s: String = (0..len)
                .map(|_| {
                    if i % 7 == 0 {
                        char::from_u32((random_bits53() % 0x3000) as u32).unwrap_or('?')
                    } else {
                        alphabet[(random_bits53() % alphabet.len() as u64) as usize]
                    }
                })
                .collect();
            for hint in [
                parse_retry_after(Some(&s), None),
                parse_retry_after(None, Some(&s)),
                parse_retry_after(Some(&s), Some(&s)),
            ] {
                if let Some(h) = hint {
                    assert!(h <= MAX_SERVER_HINT, "{s:?}");
                }
                let _ = policy.wait_within(3, hint, Duration::from_secs(15));
            }
        }
    }

    #[test]
    fn waits_never_pass_the_deadline_and_extreme_knobs_are_safe() {
        let policy = RetryPolicy::default();
        let remaining = Duration::from_secs(2);
        assert_eq!(
            policy.wait_within(1, Some(Duration::from_secs(1)), remaining),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            policy.wait_within(1, Some(MAX_SERVER_HINT), remaining),
            None
        );
        assert_eq!(policy.wait_within(1, Some(Duration::MAX), remaining), None);
        let extreme = RetryPolicy::default()
            .with_base_delay(Duration::MAX)
            .with_max_delay(Duration::MAX);
        for attempt in [0, 1, 2, 31, u32::MAX] {
            assert!(extreme.backoff(attempt) <= Duration::MAX);
        }
    }
}
