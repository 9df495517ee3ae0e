//! Delivery callbacks (design.md "Delivery callbacks"): when a message with a `callback_url`
//! changes state, Kori POSTs the news there, signed, retried, durable and in order.
//!
//! The store writes a `CallbackRecord` in the same all-or-nothing write as each state change
//! of such a message, so a callback cannot be lost between the change and its sending, and
//! survives a restart. This sender takes the due ones (`Store::callbacks_due`: only the first
//! pending callback of each message) and POSTs each:
//!
//! ```text
//! POST <callback_url>
//! Content-Type: application/json
//! User-Agent: kori/<version>
//! Kori-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>
//!
//! {"id":"01J…","state":"delivered","reference":"order-1042","parts":[{"carrier_message_id":
//!  "1A2B00","state":"delivered"}],"at":"2025-03-01T12:00:00.25Z"}
//! ```
//!
//! `state` and `at` are the change this callback reports; `parts` (and `error`, present only
//! for a terminal state) are the message as it is when the callback is sent, which may be
//! further along than `state` when an earlier callback waited on retries. `Kori-Signature` is
//! left out when no `[http] callback_secret_file` is configured.
//!
//! A 2xx answer delivers the callback. Anything else (another status, no answer within
//! [`TIMEOUT`], a refused connection) is retried after 10 s, doubling to 1 h, with equal
//! jitter, until 24 h after the change; the last try is made at that deadline. Then the
//! callback is given up: logged at warn and removed, so that the message's later callbacks
//! (its final state, most often) still go out; holding them all back for a receiver that has
//! been failing for a day would only make them later. A URL that cannot be sent at all (not
//! `http://` or `https://`; intake refuses those) is given up at once. `https://` receivers
//! are verified against the system's trusted roots and `[http] callback_ca_file`; a failed
//! verification is retried like a refused connection. Delivery is at least once:
//! a callback answered 2xx just before Kori stops, or whose removal the store could not
//! write, is sent again; receivers deduplicate on (`id`, `state`, `at`).
//!
//! Ordering: at most one callback per message is in flight, and a message's next callback
//! becomes due only once the store removed the one before. Concurrency across messages is
//! bounded by [`IN_FLIGHT`].
//!
//! Owns the callback body, its signature and the retry schedule. Must not touch: sled (it
//! calls `store`), the API (the HTTP client is a leaf). Started by [`super::Outbox::start`];
//! woken by the dispatcher when it records a change of a message with a `callback_url`.

use super::model::{Message, MessageError, MessageId, MessageState, PartView, UnixMillis};
use crate::client::{ClientError, HttpClient, TrustedCas};
use crate::clock::{Clock, rfc3339};
use crate::config::Secret;
use crate::smpp::equal_jitter;
use crate::store::{CallbackRecord, Store};
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

/// Callbacks taken from the store per look; more than [`IN_FLIGHT`] so a look keeps every
/// permit busy.
const BATCH: usize = 1_024;
/// Callbacks POSTed at once, across all messages: enough to hide a slow receiver's latency,
/// few enough that a burst of state changes does not open thousands of connections to shops.
pub const IN_FLIGHT: usize = 64;
/// How long one POST may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How often the store is looked at when nothing woke the sender (retries coming due).
const POLL_EVERY: Duration = Duration::from_secs(1);
/// First retry delay; doubles per failure.
const RETRY_INITIAL: Duration = Duration::from_secs(10);
/// Largest retry delay.
const RETRY_MAX: Duration = Duration::from_secs(3_600);
/// How long after its state change a callback is retried (design.md: "up to 24 h").
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3_600);
/// The `User-Agent` of every callback.
const USER_AGENT: &str = concat!("kori/", env!("CARGO_PKG_VERSION"));
/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "kori-signature";

/// The callback sender's state, shared by its loop and its in-flight POSTs.
pub(super) struct Callbacks {
    store: Store,
    clock: Clock,
    secret: Secret,
    client: HttpClient,
    wake: Notify,
    /// Messages with a callback in flight: none gets a second one before the first is settled.
    sending: Mutex<HashSet<MessageId>>,
    permits: Arc<Semaphore>,
}

impl Callbacks {
    pub(super) fn new(store: Store, clock: Clock, secret: Secret, cas: &TrustedCas) -> Arc<Self> {
        Arc::new(Self {
            store,
            clock,
            secret,
            client: HttpClient::trusting(cas),
            wake: Notify::new(),
            sending: Mutex::new(HashSet::new()),
            permits: Arc::new(Semaphore::new(IN_FLIGHT)),
        })
    }

    /// A callback may have been recorded (or settled): look at the store now.
    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }

    fn in_flight(&self) -> HashSet<MessageId> {
        self.sending.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn settled(&self, id: MessageId) {
        if let Ok(mut sending) = self.sending.lock() {
            sending.remove(&id);
        }
        // The message's next callback may be due now.
        self.wake.notify_one();
    }

    /// The sender's loop: POSTs what is due, then waits for a wake-up or the next poll.
    pub(super) async fn run(self: Arc<Self>, cancel: CancellationToken, tracker: TaskTracker) {
        loop {
            if cancel.is_cancelled() {
                return;
            }
            // Taken before the store is read: a message not in flight now cannot get a POST
            // started before this pass starts one, so its record read below is current. (One
            // in flight may settle meanwhile; its record as read would be stale, so skip it.)
            let busy = self.in_flight();
            let due = match self.store.callbacks_due(self.clock.now(), BATCH) {
                Ok(due) => due,
                Err(e) => {
                    warn!(error = %e, "cannot read due callbacks; trying again shortly");
                    Vec::new()
                }
            };
            let more = due.len() == BATCH;
            for record in due {
                if busy.contains(&record.message_id) {
                    continue;
                }
                let permit = tokio::select! {
                    biased;
                    () = cancel.cancelled() => return,
                    permit = self.permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => return,
                    },
                };
                if let Ok(mut sending) = self.sending.lock() {
                    sending.insert(record.message_id);
                }
                let this = self.clone();
                let cancel = cancel.clone();
                tracker.spawn(async move {
                    let id = record.message_id;
                    this.send(record, &cancel).await;
                    drop(permit);
                    this.settled(id);
                });
            }
            if more {
                continue;
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
    }

    /// One attempt at one callback, and what it leaves in the store.
    async fn send(&self, record: CallbackRecord, cancel: &CancellationToken) {
        let id = record.message_id;
        let message = match self.store.get(id) {
            Ok(Some(message)) => message,
            Ok(None) => {
                warn!(%id, seq = record.seq, "callback for a message no longer stored; dropped");
                self.done(&record).await;
                return;
            }
            Err(e) => {
                self.failed(&record, &format!("cannot read the message: {e}"))
                    .await;
                return;
            }
        };
        let Some(url) = message.callback_url.as_deref() else {
            self.done(&record).await;
            return;
        };
        let body = body(&message, &record);
        let signature = self.sign(&body);
        let mut headers = vec![
            ("content-type", "application/json"),
            ("user-agent", USER_AGENT),
        ];
        if let Some(signature) = &signature {
            headers.push((SIGNATURE_HEADER, signature));
        }
        let answer = tokio::select! {
            biased;
            // Stopping: the callback stays as it is, to be sent after the restart.
            () = cancel.cancelled() => return,
            answer = self.client.post(url, &headers, Bytes::from(body), TIMEOUT) => answer,
        };
        match answer {
            Ok(answer) if (200..300).contains(&answer.status) => {
                debug!(%id, seq = record.seq, state = %record.state, status = answer.status, "callback delivered");
                self.done(&record).await;
            }
            Ok(answer) => {
                self.failed(&record, &format!("answered {}", answer.status))
                    .await
            }
            Err(e @ ClientError::Url(_)) => {
                warn!(%id, seq = record.seq, state = %record.state, error = %e, "callback cannot be sent; given up");
                self.done(&record).await;
            }
            Err(e) => self.failed(&record, &e.to_string()).await,
        }
    }

    /// `t=<unix seconds>,v1=<hex>`, or `None` without a key.
    fn sign(&self, body: &[u8]) -> Option<String> {
        let key = self.secret.expose();
        if key.is_empty() {
            return None;
        }
        let t = self.clock.now().div_euclid(1_000);
        Some(format!("t={t},v1={}", signature(key.as_bytes(), t, body)))
    }

    async fn done(&self, record: &CallbackRecord) {
        if let Err(e) = self
            .store
            .callback_done(record.message_id, record.seq)
            .await
        {
            warn!(id = %record.message_id, seq = record.seq, error = %e, "cannot record a settled callback; it may be sent again");
        }
    }

    async fn failed(&self, record: &CallbackRecord, reason: &str) {
        let id = record.message_id;
        let now = self.clock.now();
        // Jittered, so callbacks failing together (a receiver went down) do not all return
        // together.
        let delay = equal_jitter(retry_step(record.attempt + 1));
        match next_attempt(record, now, delay) {
            Some(at) => {
                debug!(%id, seq = record.seq, state = %record.state, attempt = record.attempt + 1, %reason, retry_in_ms = at - now, "callback failed; will try again");
                if let Err(e) = self.store.callback_retry(id, record.seq, at).await {
                    warn!(%id, seq = record.seq, error = %e, "cannot record a failed callback; it is tried again at the next look");
                }
            }
            None => {
                warn!(%id, seq = record.seq, state = %record.state, attempts = record.attempt + 1, %reason, "callback failed for 24 h; given up");
                self.done(record).await;
            }
        }
    }
}

/// The body of a callback.
#[derive(Debug, Serialize)]
struct Body<'a> {
    id: String,
    state: MessageState,
    reference: Option<&'a str>,
    parts: Vec<PartView<'a>>,
    at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a MessageError>,
}

/// The JSON body for `record` of `message`.
fn body(message: &Message, record: &CallbackRecord) -> Vec<u8> {
    let body = Body {
        id: message.id.to_string(),
        state: record.state,
        reference: message.reference.as_deref(),
        parts: message.parts.iter().map(PartView::from).collect(),
        at: rfc3339(record.at),
        // A terminal state never changes, so the message's error is this state's error.
        error: if record.state.is_terminal() {
            message.error.as_ref()
        } else {
            None
        },
    };
    serde_json::to_vec(&body).expect("a callback body is plain strings and numbers")
}

/// Lowercase hex of HMAC-SHA256(`key`, "`t`.`body`"): the `v1` of `Kori-Signature`.
pub fn signature(key: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(digest.len() * 2);
    for b in digest {
        hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(b & 0xF)]));
    }
    hex
}

/// The retry step after the `failures`-th failure (1-based): 10 s, doubling, at most 1 h.
fn retry_step(failures: u32) -> Duration {
    RETRY_INITIAL
        .saturating_mul(1 << failures.saturating_sub(1).min(20))
        .min(RETRY_MAX)
}

/// When to try `record` again after a failure at `now`, `delay` later; never past 24 h after
/// the change (one last try at that deadline), and `None` once the deadline has passed.
fn next_attempt(record: &CallbackRecord, now: UnixMillis, delay: Duration) -> Option<UnixMillis> {
    let deadline = record.at.saturating_add(Clock::span(GIVE_UP_AFTER));
    if now >= deadline {
        return None;
    }
    Some(now.saturating_add(Clock::span(delay)).min(deadline))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::model::{NewMessage, Part, PartState};

    fn record(state: MessageState, at: UnixMillis) -> CallbackRecord {
        CallbackRecord {
            message_id: MessageId(7),
            seq: 0,
            state,
            at,
            attempt: 0,
            next_attempt_at: at,
        }
    }

    #[test]
    fn retry_steps_double_from_10s_to_an_hour() {
        let steps: Vec<u64> = (1..=11).map(|n| retry_step(n).as_secs()).collect();
        assert_eq!(
            steps,
            [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(retry_step(u32::MAX), RETRY_MAX);
        for _ in 0..100 {
            let d = equal_jitter(Duration::from_secs(10));
            assert!(
                d >= Duration::from_secs(5) && d <= Duration::from_secs(10),
                "{d:?}"
            );
        }
    }

    #[test]
    fn retries_stop_24_hours_after_the_change_with_a_last_try_at_the_deadline() {
        let r = record(MessageState::Delivered, 1_000);
        let day = Clock::span(GIVE_UP_AFTER);
        let hour = Duration::from_secs(3_600);
        assert_eq!(next_attempt(&r, 1_000, hour), Some(1_000 + 3_600_000));
        assert_eq!(
            next_attempt(&r, 1_000 + day - 60_000, hour),
            Some(1_000 + day),
            "the last try is at the deadline"
        );
        assert_eq!(next_attempt(&r, 1_000 + day, hour), None);
    }

    #[test]
    fn signature_is_hmac_sha256_of_t_dot_body() {
        // Python: hmac.new(b"whsec-test", b'1700000000.{"id":1}', hashlib.sha256).hexdigest()
        assert_eq!(
            signature(b"whsec-test", 1_700_000_000, br#"{"id":1}"#),
            "5c7c76af77af443a710729c69dbfac6394ac5b78aa21a360d1cd2a71077fc9cf"
        );
    }

    #[test]
    fn body_reports_the_recorded_change_and_the_parts_as_they_are() {
        let mut m =
            NewMessage::text("shop", "Shop", "+358401234567", "hi").into_message(MessageId(7), 0);
        m.reference = Some("order-1".into());
        m.state = MessageState::Undeliverable;
        m.parts = vec![Part {
            state: PartState::Undeliverable,
            carrier_message_id: Some("42".into()),
            error_code: Some("001".into()),
        }];
        m.error = Some(MessageError {
            code: "undeliverable".into(),
            detail: "a segment could not be delivered".into(),
        });
        let submitted: serde_json::Value =
            serde_json::from_slice(&body(&m, &record(MessageState::Submitted, 250))).unwrap();
        assert_eq!(
            submitted,
            serde_json::json!({
                "id": MessageId(7).to_string(),
                "state": "submitted",
                "reference": "order-1",
                "parts": [{"carrier_message_id": "42", "state": "undeliverable", "error_code": "001"}],
                "at": "1970-01-01T00:00:00.25Z",
            })
        );
        let last: serde_json::Value =
            serde_json::from_slice(&body(&m, &record(MessageState::Undeliverable, 0))).unwrap();
        assert_eq!(last["error"]["code"], "undeliverable");
        m.reference = None;
        let bare: serde_json::Value =
            serde_json::from_slice(&body(&m, &record(MessageState::Undeliverable, 0))).unwrap();
        assert!(bare["reference"].is_null());
    }
}
