//! The outbox's records: a message, its parts, their states, and the ids that name them.
//!
//! Owns the shape of what is stored and shown (through `store` and the HTTP API). Must not
//! touch: storage or the network. Used by the state machine, the store, the dispatcher and
//! the HTTP routes.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Kori's id of a message: 128 bits, time-ordered (a ULID), written as 26 Crockford base32
/// characters (`01JDQ3…`) in the API, logs and CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageId(pub u128);

impl MessageId {
    /// A new id for now, greater than every id generated before it in this process (within a
    /// millisecond the random part counts up), so that messages accepted later sort later.
    pub fn generate() -> Self {
        static GENERATOR: std::sync::Mutex<ulid::Generator> =
            std::sync::Mutex::new(ulid::Generator::new());
        let mut generator = GENERATOR
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Fails only when 2^80 ids were made in one millisecond; a plain ULID is still unique.
        Self(generator.generate().unwrap_or_else(|_| ulid::Ulid::new()).0)
    }

    /// The id as 16 big-endian octets: store keys sort by creation time.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// The id from [`MessageId::to_bytes`].
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(u128::from_be_bytes(bytes))
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", ulid::Ulid(self.0))
    }
}

/// A text that is not a message id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a message id: expected 26 Crockford base32 characters")]
pub struct BadMessageId;

impl FromStr for MessageId {
    type Err = BadMessageId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ulid::Ulid::from_string(s)
            .map(|u| Self(u.0))
            .map_err(|_| BadMessageId)
    }
}

/// Milliseconds since the Unix epoch (UTC): the outbox's calendar time.
pub type UnixMillis = i64;

/// Where a message is (design.md "Messages (outbox)").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Accepted and on disk, waiting for its turn (or for a retry).
    Queued,
    /// Handed to a carrier; no answer yet for every segment.
    Submitting,
    /// Every segment accepted by the carrier; waiting for receipts.
    Submitted,
    /// Every segment delivered to the handset.
    Delivered,
    /// A segment could not be delivered.
    Undeliverable,
    /// The carrier gave up on it, or its validity ran out before it could be sent.
    Expired,
    /// The carrier refused it with a permanent error.
    Rejected,
    /// Kori gave up: the retry budget or the validity ran out without a submit accepted.
    Failed,
    /// Submitted but its fate is unknown: no receipt within `receipt_timeout`, or a submit
    /// without an answer under at-most-once.
    Unknown,
    /// Cancelled while still queued.
    Cancelled,
}

impl MessageState {
    /// True for the states a message never leaves.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Queued | Self::Submitting | Self::Submitted)
    }

    /// The name used in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Submitting => "submitting",
            Self::Submitted => "submitted",
            Self::Delivered => "delivered",
            Self::Undeliverable => "undeliverable",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
            Self::Cancelled => "cancelled",
        }
    }

    /// Every state, for metrics and tests.
    pub const ALL: [MessageState; 10] = [
        Self::Queued,
        Self::Submitting,
        Self::Submitted,
        Self::Delivered,
        Self::Undeliverable,
        Self::Expired,
        Self::Rejected,
        Self::Failed,
        Self::Unknown,
        Self::Cancelled,
    ];
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one segment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartState {
    /// Not yet accepted by a carrier.
    Pending,
    /// Accepted; waiting for its receipt.
    Submitted,
    /// Delivered.
    Delivered,
    /// Not deliverable (UNDELIV, REJECTD, DELETED in the receipt).
    Undeliverable,
    /// Expired at the carrier.
    Expired,
    /// The receipt said UNKNOWN.
    Unknown,
}

impl PartState {
    /// True once a receipt settled it.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Pending | Self::Submitted)
    }
}

/// One segment of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// Its state.
    pub state: PartState,
    /// The carrier's id for it, from `submit_sm_resp`.
    pub carrier_message_id: Option<String>,
    /// The error code of its receipt (`err:` or the network error), when not delivered.
    pub error_code: Option<String>,
}

/// A part as the API (`GET /v1/messages/{id}`) and the delivery callbacks show it. Not
/// `Part`'s own serde, which is the stored form (postcard cannot skip fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartView<'a> {
    /// The carrier's id, once submitted.
    pub carrier_message_id: Option<&'a str>,
    /// Its state.
    pub state: PartState,
    /// The receipt's error code, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'a str>,
}

impl<'a> From<&'a Part> for PartView<'a> {
    fn from(p: &'a Part) -> Self {
        Self {
            carrier_message_id: p.carrier_message_id.as_deref(),
            state: p.state,
            error_code: p.error_code.as_deref(),
        }
    }
}

impl Part {
    /// A part not yet sent.
    pub fn pending() -> Self {
        Self {
            state: PartState::Pending,
            carrier_message_id: None,
            error_code: None,
        }
    }
}

/// Why a message ended badly, for the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageError {
    /// A stable slug (`submit-rejected`, `validity-expired`, `receipt-timeout`, …).
    pub code: String,
    /// Human-readable detail (the SMPP status, the receipt's `stat:` …).
    pub detail: String,
}

/// The text encoding of a message, as stored and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextEncoding {
    /// GSM 03.38 7-bit.
    Gsm7,
    /// ISO-8859-1.
    Latin1,
    /// UCS-2 / UTF-16BE.
    Ucs2,
}

/// A message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Kori's id.
    pub id: MessageId,
    /// The token (shop or admin) that sent it.
    pub owner: String,
    /// Destination, E.164 with `+`.
    pub to: String,
    /// Sender: alphanumeric, short code or number.
    pub from: String,
    /// The text (erased on GDPR request).
    pub text: String,
    /// How the text is encoded.
    pub encoding: TextEncoding,
    /// The carrier asked for, if any.
    pub carrier: Option<String>,
    /// The carrier that took it.
    pub routed_to: Option<String>,
    /// Its state.
    pub state: MessageState,
    /// One per segment.
    pub parts: Vec<Part>,
    /// Times it was handed to a carrier.
    pub attempts: u32,
    /// Whether a delivery receipt is requested.
    pub receipt: bool,
    /// Where to POST state changes.
    pub callback_url: Option<String>,
    /// The caller's own reference, echoed in callbacks.
    pub reference: Option<String>,
    /// 0 (normal) to 3 (highest).
    pub priority: u8,
    /// When it was accepted.
    pub created_at: UnixMillis,
    /// Not to be sent before this time.
    pub send_at: Option<UnixMillis>,
    /// Not to be sent (or retried) after this time; also sent to the SMSC as validity_period.
    pub valid_until: UnixMillis,
    /// When it is next due to be handed to a carrier (while queued).
    pub due_at: UnixMillis,
    /// When every segment was accepted.
    pub submitted_at: Option<UnixMillis>,
    /// When it reached its terminal state.
    pub done_at: Option<UnixMillis>,
    /// Why it ended badly.
    pub error: Option<MessageError>,
}

impl Message {
    /// Number of segments.
    pub fn segments(&self) -> usize {
        self.parts.len()
    }
}

/// A message as a caller describes it, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The token (shop or admin) sending it.
    pub owner: String,
    /// Destination, E.164 with `+`.
    pub to: String,
    /// Sender.
    pub from: String,
    /// The text.
    pub text: String,
    /// Its encoding.
    pub encoding: TextEncoding,
    /// Segments as counted at intake.
    pub segments: usize,
    /// A carrier asked for by name.
    pub carrier: Option<String>,
    /// Whether a delivery receipt is requested.
    pub receipt: bool,
    /// Where to POST state changes.
    pub callback_url: Option<String>,
    /// The caller's reference.
    pub reference: Option<String>,
    /// 0–3.
    pub priority: u8,
    /// Not before this time.
    pub send_at: Option<UnixMillis>,
    /// How long it may take to send.
    pub validity: std::time::Duration,
}

impl NewMessage {
    /// A GSM 7-bit text of one segment from `from` to `to`, with the defaults of the HTTP API
    /// (receipt requested, 48 h validity).
    pub fn text(owner: &str, from: &str, to: &str, text: &str) -> Self {
        Self {
            owner: owner.to_owned(),
            to: to.to_owned(),
            from: from.to_owned(),
            text: text.to_owned(),
            encoding: TextEncoding::Gsm7,
            segments: 1,
            carrier: None,
            receipt: true,
            callback_url: None,
            reference: None,
            priority: 0,
            send_at: None,
            validity: std::time::Duration::from_secs(48 * 3600),
        }
    }

    /// The stored record: queued, due at `send_at` or now.
    pub fn into_message(self, id: MessageId, now: UnixMillis) -> Message {
        let due_at = self.send_at.unwrap_or(now).max(now);
        Message {
            id,
            owner: self.owner,
            to: self.to,
            from: self.from,
            text: self.text,
            encoding: self.encoding,
            carrier: self.carrier,
            routed_to: None,
            state: MessageState::Queued,
            parts: vec![Part::pending(); self.segments.max(1)],
            attempts: 0,
            receipt: self.receipt,
            callback_url: self.callback_url,
            reference: self.reference,
            priority: self.priority,
            created_at: now,
            send_at: self.send_at,
            valid_until: due_at
                .saturating_add(i64::try_from(self.validity.as_millis()).unwrap_or(i64::MAX)),
            due_at,
            submitted_at: None,
            done_at: None,
            error: None,
        }
    }
}

/// A queued message with `parts` pending parts and plain values everywhere else, for the
/// unit tests of the state machine and the store (each sets what it tests).
#[cfg(test)]
pub(crate) fn sample_message(id: MessageId, parts: usize) -> Message {
    Message {
        id,
        owner: "admin".into(),
        to: "+358401234567".into(),
        from: "Kori".into(),
        text: "hi".into(),
        encoding: TextEncoding::Gsm7,
        carrier: None,
        routed_to: None,
        state: MessageState::Queued,
        parts: vec![Part::pending(); parts],
        attempts: 0,
        receipt: true,
        callback_url: None,
        reference: None,
        priority: 0,
        created_at: 0,
        send_at: None,
        valid_until: 1_000_000,
        due_at: 0,
        submitted_at: None,
        done_at: None,
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_generated_later_sort_later() {
        let ids: Vec<MessageId> = (0..10_000).map(|_| MessageId::generate()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let later = std::thread::spawn(MessageId::generate).join().unwrap();
        assert!(later > ids[ids.len() - 1], "across threads too");
    }
}
