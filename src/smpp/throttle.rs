//! Per-carrier throughput shaping: at most `tps` `submit_sm` PDUs in any one-second window,
//! shared by every bind of the carrier.
//!
//! Owns the governor limiter and its clock. Must not touch: sockets, the window. Called by
//! each session before it writes a `submit_sm`.
//!
//! Two details of governor matter (see style.md §3). `Quota::per_second(tps)` has a burst of
//! `tps`, so after an idle spell almost `2 × tps` would pass in one sliding second; the quota
//! here is a burst `b` of about 2% of `tps` (at least 1) and a rate of `tps - b + 1` per second,
//! so at most `b + (tps - b + 1) - 1 = tps` cells conform in any sliding second, while `b`
//! absorbs timer lateness. And `until_ready` sleeps on a wall clock that paused tests cannot
//! move, so the limiter runs on `tokio::time` and the session sleeps with `tokio::time`.

use governor::clock::Clock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use tokio::time::Instant;

/// governor's view of `tokio::time`, so paused tests move the limiter's clock too.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> std::time::Instant {
        Instant::now().into_std()
    }
}

/// The carrier's shared limiter.
pub(crate) struct Throttle {
    limiter: RateLimiter<NotKeyed, InMemoryState, TokioClock>,
}

impl Throttle {
    /// A limiter letting at most `tps` submits through in any sliding second.
    pub(crate) fn new(tps: NonZeroU32) -> Self {
        let tps = tps.get();
        let burst = (tps / 50).max(1);
        let rate = tps - burst + 1;
        // Both are at least 1: burst ≥ 1 by construction, rate ≥ 1 since burst ≤ tps.
        let quota = Quota::per_second(NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: RateLimiter::direct_with_clock(quota, TokioClock),
        }
    }

    /// Takes one cell if one is free now; otherwise says when to try again.
    pub(crate) fn try_take(&self) -> Result<(), Instant> {
        match self.limiter.check() {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let now = TokioClock.now();
                Err(Instant::from_std(now + not_until.wait_time_from(now)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::time::Duration;

    /// Takes cells as fast as the limiter allows for `secs` seconds of paused time and returns
    /// the instants they were taken at.
    async fn drain(tps: u32, secs: u64) -> Vec<Instant> {
        let throttle = Throttle::new(NonZeroU32::new(tps).unwrap());
        let end = Instant::now() + Duration::from_secs(secs);
        let mut taken = Vec::new();
        while Instant::now() < end {
            match throttle.try_take() {
                Ok(()) => taken.push(Instant::now()),
                Err(at) => tokio::time::sleep_until(at).await,
            }
        }
        taken
    }

    fn max_in_any_second(taken: &[Instant]) -> usize {
        let mut window = VecDeque::new();
        let mut max = 0;
        for &t in taken {
            window.push_back(t);
            while let Some(&first) = window.front() {
                if t.duration_since(first) >= Duration::from_secs(1) {
                    window.pop_front();
                } else {
                    break;
                }
            }
            max = max.max(window.len());
        }
        max
    }

    #[tokio::test(start_paused = true)]
    async fn never_above_tps_in_any_sliding_second_and_uses_98_percent() {
        for tps in [1, 7, 50, 200, 1000] {
            let taken = drain(tps, 10).await;
            assert!(
                max_in_any_second(&taken) <= tps as usize,
                "tps {tps}: {}",
                max_in_any_second(&taken)
            );
            assert!(
                taken.len() * 100 >= tps as usize * 10 * 98,
                "tps {tps}: only {} in 10 s",
                taken.len()
            );
        }
    }
}
