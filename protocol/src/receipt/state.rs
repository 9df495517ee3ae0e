//! `message_state` values (SMPP 3.4 §5.2.28) and the `stat:` word of a text receipt.
//!
//! Owns: the open `MessageState` enum, which states are final, and the mapping from the
//! Appendix B `stat:` words (and their variants seen in the wild) to states. Must not touch:
//! the rest of the receipt text, message ids, PDUs. Called by `receipt` (the text parser and
//! `receipt_from_parts`) and by Kori's receipt matcher.

use core::fmt;

/// `message_state`, SMPP 3.4 §5.2.28 (also the meaning of a text receipt's `stat:`).
///
/// Open like the other code sets of this crate: a value outside 1..=8 is kept as `Other` so a
/// vendor's state reaches logs as a number instead of failing the receipt. `From<u8>` never
/// puts a code of 1..=8 in `Other`, and `u8::from(MessageState::from(x)) == x` for every `x`.
/// SMPP 5.0 adds 0 (SCHEDULED) and 9 (SKIPPED); SMPP 3.4 peers should not send them, and they
/// stay `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageState {
    /// 1 ENROUTE: the message is on its way; an intermediate state.
    Enroute,
    /// 2 DELIVERED: delivered to the handset.
    Delivered,
    /// 3 EXPIRED: the validity period ran out before delivery.
    Expired,
    /// 4 DELETED: deleted at the SMSC (cancel_sm or operator action).
    Deleted,
    /// 5 UNDELIVERABLE: the SMSC gave up (unknown subscriber, barred, ...).
    Undeliverable,
    /// 6 ACCEPTED: "message is in accepted state (i.e. has been manually read on behalf of the
    /// subscriber by customer service)"; treated as final.
    Accepted,
    /// 7 UNKNOWN: the SMSC does not know what became of the message; final, outcome unknown.
    Unknown,
    /// 8 REJECTED: the SMSC refused the message.
    Rejected,
    /// Any other value, kept as sent.
    Other(u8),
}

impl MessageState {
    /// Whether no further receipt is expected for the message.
    ///
    /// Final: DELIVERED, EXPIRED, DELETED, UNDELIVERABLE, ACCEPTED, REJECTED, and UNKNOWN (the
    /// SMSC has closed the message without knowing its fate; Kori records it as `unknown`).
    /// Not final: ENROUTE (an intermediate report; more may follow) and `Other` (a vendor code we
    /// cannot judge, such as SMPP 5.0's SCHEDULED; the message stays open until a known state).
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Enroute | Self::Other(_))
    }

    /// Whether this is one of the eight SMPP 3.4 states (anything but `Other`).
    pub fn is_known(self) -> bool {
        !matches!(self, Self::Other(_))
    }

    /// Reads a text receipt's `stat:` value, ASCII case-insensitively, ignoring surrounding
    /// spaces.
    ///
    /// The seven-letter words of SMPP 3.4 Appendix B table B-2 (DELIVRD, EXPIRED, DELETED,
    /// UNDELIV, ACCEPTD, UNKNOWN, REJECTD, ENROUTE) and spellings seen from carriers and
    /// gateways: DELIVERED, UNDELIVERABLE, UNDELIVERED, ACCEPTED, REJECTED, and FAILED / FAIL,
    /// which name a delivery failure and so map to UNDELIVERABLE. Anything else is `None`; the
    /// caller keeps the word (see [`Stat`]).
    pub fn from_stat(word: &[u8]) -> Option<Self> {
        let word = super::trim_bytes(word);
        // Longest accepted word is UNDELIVERABLE (13 bytes).
        if word.len() > 13 {
            return None;
        }
        let mut buf = [0u8; 13];
        let upper = &mut buf[..word.len()];
        upper.copy_from_slice(word);
        upper.make_ascii_uppercase();
        Some(match &*upper {
            b"DELIVRD" | b"DELIVERED" => Self::Delivered,
            b"EXPIRED" => Self::Expired,
            b"DELETED" => Self::Deleted,
            b"UNDELIV" | b"UNDELIVERABLE" | b"UNDELIVERED" | b"FAILED" | b"FAIL" => {
                Self::Undeliverable
            }
            b"ACCEPTD" | b"ACCEPTED" => Self::Accepted,
            b"UNKNOWN" => Self::Unknown,
            b"REJECTD" | b"REJECTED" => Self::Rejected,
            b"ENROUTE" => Self::Enroute,
            _ => return None,
        })
    }

    /// The Appendix B `stat:` word for this state (`DELIVRD`, `UNDELIV`, ...); `None` for
    /// `Other`. Used when writing receipts (the simulator, tests).
    pub fn stat_word(self) -> Option<&'static str> {
        Some(match self {
            Self::Enroute => "ENROUTE",
            Self::Delivered => "DELIVRD",
            Self::Expired => "EXPIRED",
            Self::Deleted => "DELETED",
            Self::Undeliverable => "UNDELIV",
            Self::Accepted => "ACCEPTD",
            Self::Unknown => "UNKNOWN",
            Self::Rejected => "REJECTD",
            Self::Other(_) => return None,
        })
    }
}

impl From<u8> for MessageState {
    fn from(v: u8) -> Self {
        match v {
            1 => Self::Enroute,
            2 => Self::Delivered,
            3 => Self::Expired,
            4 => Self::Deleted,
            5 => Self::Undeliverable,
            6 => Self::Accepted,
            7 => Self::Unknown,
            8 => Self::Rejected,
            other => Self::Other(other),
        }
    }
}

impl From<MessageState> for u8 {
    fn from(s: MessageState) -> Self {
        match s {
            MessageState::Enroute => 1,
            MessageState::Delivered => 2,
            MessageState::Expired => 3,
            MessageState::Deleted => 4,
            MessageState::Undeliverable => 5,
            MessageState::Accepted => 6,
            MessageState::Unknown => 7,
            MessageState::Rejected => 8,
            MessageState::Other(v) => v,
        }
    }
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stat_word() {
            Some(w) => f.write_str(w),
            None => write!(f, "state {}", u8::from(*self)),
        }
    }
}

/// A text receipt's `stat:` value: the word as sent and the state it names, if recognised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Stat {
    raw: String,
    state: Option<MessageState>,
}

impl Stat {
    /// Wraps a `stat:` word, recognising it with [`MessageState::from_stat`].
    pub fn new(raw: impl Into<String>) -> Self {
        let raw = raw.into();
        let state = MessageState::from_stat(raw.as_bytes());
        Self { raw, state }
    }

    /// The word as sent (spaces around it removed).
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The state the word names; `None` for a word we do not recognise.
    pub fn state(&self) -> Option<MessageState> {
        self.state
    }
}

impl From<MessageState> for Stat {
    /// The Appendix B word for a known state; `Other(n)` becomes the number as text, which
    /// does not parse back to a state.
    fn from(s: MessageState) -> Self {
        match s.stat_word() {
            Some(w) => Self {
                raw: w.to_owned(),
                state: Some(s),
            },
            None => Self {
                raw: u8::from(s).to_string(),
                state: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appendix_b_words_and_variants_map_to_states() {
        for (w, s) in [
            ("DELIVRD", MessageState::Delivered),
            ("delivrd", MessageState::Delivered),
            ("Delivered", MessageState::Delivered),
            ("EXPIRED", MessageState::Expired),
            ("DELETED", MessageState::Deleted),
            ("UNDELIV", MessageState::Undeliverable),
            ("UNDELIVERABLE", MessageState::Undeliverable),
            ("undelivered", MessageState::Undeliverable),
            ("FAILED", MessageState::Undeliverable),
            ("fail", MessageState::Undeliverable),
            ("ACCEPTD", MessageState::Accepted),
            ("ACCEPTED", MessageState::Accepted),
            ("UNKNOWN", MessageState::Unknown),
            ("REJECTD", MessageState::Rejected),
            ("Rejected", MessageState::Rejected),
            ("ENROUTE", MessageState::Enroute),
            (" DELIVRD ", MessageState::Delivered),
        ] {
            assert_eq!(MessageState::from_stat(w.as_bytes()), Some(s), "{w}");
        }
        for w in ["", "DELIV", "BUFFRED", "DELIVRDX", "UNDELIVERABLEXX", "0"] {
            assert_eq!(MessageState::from_stat(w.as_bytes()), None, "{w}");
        }
    }

    #[test]
    fn only_enroute_and_other_are_not_final() {
        for v in 0..=u8::MAX {
            let s = MessageState::from(v);
            assert_eq!(s.is_final(), (2..=8).contains(&v), "{v}");
        }
    }

    #[test]
    fn stat_word_parses_back_to_its_state() {
        for v in 1..=8u8 {
            let s = MessageState::from(v);
            let w = s.stat_word().unwrap();
            assert_eq!(w.len(), 7);
            assert_eq!(MessageState::from_stat(w.as_bytes()), Some(s));
            assert_eq!(Stat::from(s).state(), Some(s));
        }
        assert_eq!(Stat::from(MessageState::Other(9)).state(), None);
    }
}
