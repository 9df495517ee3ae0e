//! The window: requests sent on one bind and not yet answered, keyed by sequence number, each
//! with its response deadline on one timer wheel.
//!
//! Owns sequence numbers (1..=0x7FFF_FFFF, wrapping) and the response deadlines. Must not
//! touch: the socket, outcomes. Called by the session actor only.

use std::collections::HashMap;
use std::future::poll_fn;
use std::time::Duration;
use tokio_util::time::DelayQueue;
use tokio_util::time::delay_queue::Key;

/// Largest sequence number SMPP 3.4 allows (§5.1.4: 0x00000001 to 0x7FFFFFFF).
const MAX_SEQUENCE: u32 = 0x7FFF_FFFF;

/// Hands out sequence numbers 1, 2, … 0x7FFFFFFF, 1, …
#[derive(Debug, Clone)]
pub(crate) struct Sequence(u32);

impl Sequence {
    pub(crate) fn new() -> Self {
        Self(0)
    }

    /// Starts after `last` (tests use it to reach the wrap).
    #[cfg(test)]
    pub(crate) fn starting_after(last: u32) -> Self {
        Self(last)
    }

    pub(crate) fn next(&mut self) -> u32 {
        self.0 = if self.0 >= MAX_SEQUENCE {
            1
        } else {
            self.0 + 1
        };
        self.0
    }
}

/// Requests in flight on one bind.
/// How many submits may be in flight is the session's rule (`window`); this type only keeps
/// them and their deadlines.
pub(crate) struct Window<T> {
    pending: HashMap<u32, (T, Key)>,
    deadlines: DelayQueue<u32>,
}

impl<T> Window<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            pending: HashMap::with_capacity(capacity),
            deadlines: DelayQueue::with_capacity(capacity),
        }
    }

    /// Records a request sent with `seq`, answered within `timeout` or expired.
    pub(crate) fn insert(&mut self, seq: u32, value: T, timeout: Duration) {
        let key = self.deadlines.insert(seq, timeout);
        if let Some((_, old)) = self.pending.insert(seq, (value, key)) {
            // A sequence number still pending after 2^31 requests: drop its stale deadline.
            self.deadlines.try_remove(&old);
        }
    }

    /// The request a response answers; `None` for a late or unknown sequence number.
    pub(crate) fn complete(&mut self, seq: u32) -> Option<T> {
        let (value, key) = self.pending.remove(&seq)?;
        // `remove` panics on a key that has already fired; `try_remove` does not.
        self.deadlines.try_remove(&key);
        Some(value)
    }

    /// The next request whose response is overdue. Resolves to `None` at once when nothing is
    /// pending (a `Some(..) =` arm of `select!` then stays quiet).
    pub(crate) async fn next_expired(&mut self) -> Option<(u32, T)> {
        loop {
            let expired = poll_fn(|cx| self.deadlines.poll_expired(cx)).await?;
            let seq = expired.into_inner();
            if let Some((value, _)) = self.pending.remove(&seq) {
                return Some((seq, value));
            }
        }
    }

    /// Empties the window (the connection is gone), giving back every request.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (u32, T)> + '_ {
        self.deadlines.clear();
        self.pending.drain().map(|(seq, (value, _))| (seq, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_wraps_within_the_spec_range() {
        let mut seq = Sequence::starting_after(MAX_SEQUENCE - 1);
        assert_eq!(seq.next(), MAX_SEQUENCE);
        assert_eq!(seq.next(), 1);
        assert_eq!(Sequence::new().next(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn answered_requests_never_expire_and_late_answers_are_unknown() {
        let mut window = Window::new(2);
        window.insert(1, "a", Duration::from_secs(10));
        window.insert(2, "b", Duration::from_secs(10));
        assert_eq!(window.complete(1), Some("a"));
        assert_eq!(window.next_expired().await, Some((2, "b")));
        assert_eq!(
            window.complete(2),
            None,
            "a response after the deadline finds nothing"
        );
        assert_eq!(window.next_expired().await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn completing_after_the_deadline_fired_does_not_panic() {
        let mut window = Window::new(1);
        window.insert(7, (), Duration::from_millis(1));
        tokio::time::sleep(Duration::from_millis(5)).await;
        // The deadline has fired but not been polled: `complete` must not panic.
        assert_eq!(window.complete(7), Some(()));
        assert_eq!(window.next_expired().await, None);
    }
}
