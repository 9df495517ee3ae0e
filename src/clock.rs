//! Calendar time for the outbox and, later, the cart scheduler: Unix milliseconds that move
//! with `tokio::time`, so paused tests move them too and the demo can compress them.
//!
//! Owns the mapping between calendar time and tokio instants. Must not touch: anything else
//! (a leaf). Used by the outbox (validity, retries, receipt timeouts) and by `app`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Milliseconds since the Unix epoch.
pub type UnixMillis = i64;

/// A calendar clock: `now()` is the Unix time when it was made, plus tokio time elapsed since,
/// times `speed`.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base_unix: UnixMillis,
    base: Instant,
    speed: u32,
}

impl Clock {
    /// Wall-clock time.
    pub fn system() -> Self {
        Self::compressed(1)
    }

    /// A clock running `speed` times faster than tokio time (`korid demo`: minutes pass in
    /// seconds). `speed` 0 is taken as 1.
    pub fn compressed(speed: u32) -> Self {
        let base_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self {
            base_unix,
            base: Instant::now(),
            speed: speed.max(1),
        }
    }

    /// The calendar time now.
    pub fn now(&self) -> UnixMillis {
        let elapsed = self
            .base
            .elapsed()
            .as_millis()
            .saturating_mul(u128::from(self.speed));
        self.base_unix
            .saturating_add(i64::try_from(elapsed).unwrap_or(i64::MAX))
    }

    /// The tokio instant at which calendar time `at` arrives (now, if it is past).
    pub fn instant_at(&self, at: UnixMillis) -> Instant {
        let ahead = at.saturating_sub(self.now()).max(0);
        let ahead = u64::try_from(ahead).unwrap_or(0) / u64::from(self.speed);
        Instant::now() + Duration::from_millis(ahead)
    }

    /// A calendar span in milliseconds.
    pub fn span(d: Duration) -> UnixMillis {
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }
}

/// Calendar time `at` as RFC 3339 in UTC (`2025-03-01T12:00:00.25Z`), as the API and the
/// callbacks show it; empty if out of jiff's range.
pub fn rfc3339(at: UnixMillis) -> String {
    jiff::Timestamp::from_millisecond(at)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn moves_with_tokio_time_and_compresses() {
        let clock = Clock::system();
        let fast = Clock::compressed(60);
        let (t0, f0) = (clock.now(), fast.now());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(clock.now() - t0, 2_000);
        assert_eq!(fast.now() - f0, 120_000);
        let at = fast.now() + 60_000;
        assert_eq!(fast.instant_at(at) - Instant::now(), Duration::from_secs(1));
    }

    #[test]
    fn rfc3339_is_utc_with_milliseconds_when_any() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_740_830_400_250), "2025-03-01T12:00:00.25Z");
    }
}
