//! How big the batches are and how many are in flight when the options leave them open
//! (`batch_size` / `concurrency` = `None`): adapted to the answers as they come in.
//!
//! - **Batch size** starts at [`DEFAULT_BATCH_SIZE`] and doubles (up to the ceiling,
//!   [`MAX_BATCH_SIZE`]) after a healthy answer: one whose time, scaled to the doubled size,
//!   stays under half of [`SLOW_ANSWER`]. Bigger batches mean fewer commits and fewer requests
//!   per key, which is what the server's single writer and a distant server both want. It halves
//!   (down to [`MIN_ADAPTIVE_BATCH`]) after an answer slower than [`SLOW_ANSWER`], a timeout, a
//!   429 or a 503. A 413 (the body was over the server's limit) halves it and lowers the
//!   ceiling, and the refused batch is split in two and sent again (by the run).
//! - **In flight** starts at [`DEFAULT_CONCURRENCY`] and moves between
//!   [`MIN_ADAPTIVE_CONCURRENCY`] and [`MAX_ADAPTIVE_CONCURRENCY`] by the answer times at the
//!   current batch size (TCP Vegas' rule): while answers take about as long as the fastest one
//!   seen (the time is the round trip, not a queue at the server), one more request in flight
//!   adds throughput; when they take three times as long, requests only queue at the server's
//!   single writer, so one fewer. More in flight pays only when answers are slow to come back
//!   (a distant server); on loopback they queue.
//!
//! An explicit `batch_size` or `concurrency` is kept as given.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::prepare::Limits;
use super::{DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, MAX_BATCH_SIZE};

/// An answer slower than this is unhealthy: the batch size halves.
pub const SLOW_ANSWER: Duration = Duration::from_secs(2);
/// Smallest batch size adaptivity shrinks to (a 413 may split single batches further).
pub const MIN_ADAPTIVE_BATCH: usize = 10;
/// Fewest requests in flight adaptivity keeps (one being answered, one on its way).
pub const MIN_ADAPTIVE_CONCURRENCY: usize = 2;
/// Most requests in flight adaptivity opens.
pub const MAX_ADAPTIVE_CONCURRENCY: usize = 16;

/// What one batch's sending showed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Outcome {
    /// Keys in the batch.
    pub keys: usize,
    /// Estimated body bytes of the batch.
    pub est_bytes: usize,
    /// Time of the attempt that was answered (None when none was).
    pub answered_in: Option<Duration>,
    /// An attempt timed out or the server said it was overloaded (429, 503).
    pub strained: bool,
    /// The server refused the body as too large (413).
    pub too_large: bool,
}

pub(crate) struct Adapt {
    limits: Arc<Limits>,
    size: bool,
    in_flight: bool,
    concurrency: usize,
    ceiling: usize,
    /// Fastest answer at the current batch size, and how many answers it is drawn from.
    fastest: Option<Duration>,
    seen: u32,
}

impl Adapt {
    /// `batch_size` / `concurrency`: `Some` = fixed as given.
    pub fn new(
        limits: Arc<Limits>,
        batch_size: Option<usize>,
        concurrency: Option<usize>,
    ) -> Adapt {
        limits
            .keys
            .store(batch_size.unwrap_or(DEFAULT_BATCH_SIZE), Ordering::Relaxed);
        Adapt {
            limits,
            size: batch_size.is_none(),
            in_flight: concurrency.is_none(),
            concurrency: concurrency.unwrap_or(DEFAULT_CONCURRENCY),
            ceiling: MAX_BATCH_SIZE,
            fastest: None,
            seen: 0,
        }
    }

    /// Requests to keep in flight now.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Whether refused-as-too-large batches are split and sent again.
    pub fn splits(&self) -> bool {
        self.size
    }

    /// Keys per batch now.
    #[cfg(test)]
    pub fn batch_size(&self) -> usize {
        self.limits.keys()
    }

    fn set_size(&mut self, keys: usize) {
        let keys = keys.clamp(1, self.ceiling);
        if keys != self.limits.keys() {
            self.limits.keys.store(keys, Ordering::Relaxed);
            self.fastest = None;
            self.seen = 0;
        }
    }

    /// Takes one batch's outcome into account.
    pub fn observe(&mut self, o: &Outcome) {
        if o.keys == 0 {
            return;
        }
        let size = self.limits.keys();
        if self.size {
            if o.too_large {
                // The body was over the limit: never that many keys (or bytes) again.
                self.ceiling = (o.keys / 2).max(1);
                let bytes = (o.est_bytes / 2).max(1);
                self.limits
                    .bytes
                    .fetch_min(bytes, std::sync::atomic::Ordering::Relaxed);
                self.set_size(size.min(self.ceiling));
                return;
            }
            let slow = o.answered_in.is_some_and(|t| t > SLOW_ANSWER);
            if o.strained || slow {
                self.set_size((size / 2).max(MIN_ADAPTIVE_BATCH.min(size)));
            } else if let Some(t) = o.answered_in {
                // The answer time scaled to twice the current size (an upper bound: part of it
                // is the round trip, which does not grow with the batch).
                let doubled = (size * 2).min(self.ceiling);
                let predicted = t.mul_f64(doubled as f64 / o.keys as f64);
                if doubled > size && predicted < SLOW_ANSWER / 2 {
                    self.set_size(doubled);
                    return;
                }
            }
        }
        if self.in_flight {
            if o.strained {
                self.concurrency = (self.concurrency - 1).max(MIN_ADAPTIVE_CONCURRENCY);
                return;
            }
            // Only full batches of the current size say how long an answer takes at it.
            let Some(t) = o.answered_in.filter(|_| o.keys == self.limits.keys()) else {
                return;
            };
            let fastest = self.fastest.map_or(t, |f| f.min(t));
            self.fastest = Some(fastest);
            self.seen += 1;
            if self.seen < 2 {
                return;
            }
            if t <= fastest.mul_f64(1.5) {
                self.concurrency = (self.concurrency + 1).min(MAX_ADAPTIVE_CONCURRENCY);
            } else if t > fastest * 3 {
                self.concurrency = (self.concurrency - 1).max(MIN_ADAPTIVE_CONCURRENCY);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(keys: usize, ms: u64) -> Outcome {
        Outcome {
            keys,
            est_bytes: keys * 300,
            answered_in: Some(Duration::from_millis(ms)),
            ..Outcome::default()
        }
    }

    #[test]
    fn size_grows_on_fast_answers_up_to_the_maximum_and_halves_on_slow_ones() {
        let limits = Limits::new(1);
        let mut a = Adapt::new(limits.clone(), None, None);
        assert_eq!(a.batch_size(), DEFAULT_BATCH_SIZE);
        for _ in 0..10 {
            let n = a.batch_size();
            a.observe(&ok(n, 5));
        }
        assert_eq!(a.batch_size(), MAX_BATCH_SIZE);
        // A batch taking longer than SLOW_ANSWER halves it.
        a.observe(&ok(MAX_BATCH_SIZE, 2500));
        assert_eq!(a.batch_size(), MAX_BATCH_SIZE / 2);
        // An answer that, doubled, would be slow does not grow it.
        a.observe(&ok(500, 600));
        assert_eq!(a.batch_size(), 500);
    }

    #[test]
    fn too_large_lowers_the_ceiling_and_the_byte_limit() {
        let limits = Limits::new(1);
        let mut a = Adapt::new(limits.clone(), None, None);
        a.observe(&ok(100, 1));
        a.observe(&ok(200, 1));
        assert_eq!(a.batch_size(), 400);
        a.observe(&Outcome {
            keys: 400,
            est_bytes: 120_000,
            too_large: true,
            ..Outcome::default()
        });
        assert_eq!(a.batch_size(), 200);
        assert_eq!(limits.bytes(), 60_000);
        // Fast answers never take it over the new ceiling.
        for _ in 0..5 {
            a.observe(&ok(200, 1));
        }
        assert_eq!(a.batch_size(), 200);
    }

    #[test]
    fn explicit_values_stay_fixed() {
        let limits = Limits::new(1);
        let mut a = Adapt::new(limits.clone(), Some(100), Some(4));
        for _ in 0..10 {
            a.observe(&ok(100, 1));
        }
        a.observe(&Outcome {
            strained: true,
            ..ok(100, 1)
        });
        assert_eq!((a.batch_size(), a.concurrency()), (100, 4));
        assert!(!a.splits());
    }

    #[test]
    fn in_flight_rises_while_answers_do_not_queue_and_falls_when_they_do() {
        let limits = Limits::new(1);
        let mut a = Adapt::new(limits.clone(), Some(1000), None);
        for _ in 0..6 {
            a.observe(&ok(1000, 20));
        }
        let high = a.concurrency();
        assert!(high > DEFAULT_CONCURRENCY, "{high}");
        for _ in 0..20 {
            a.observe(&ok(1000, 100));
        }
        assert_eq!(a.concurrency(), MIN_ADAPTIVE_CONCURRENCY);
        // Partial batches say nothing about the time at this size.
        a.observe(&ok(10, 1));
        assert_eq!(a.concurrency(), MIN_ADAPTIVE_CONCURRENCY);
    }
}
