//! The message state machine: every transition of a message, written in one place as a pure
//! function, so it can be tested for every (state, event) pair.
//!
//! Owns which event may move a message from which state, and what it changes. Must not touch:
//! storage (the store calls [`apply`] inside its write of the change), the network. A terminal
//! state has no outgoing edge: a late receipt cannot rewrite history.

use super::model::{Message, MessageError, MessageState, Part, PartState, UnixMillis};

/// Something that happened to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The dispatcher handed it to a carrier.
    Dispatched {
        /// The carrier's name.
        carrier: String,
    },
    /// Every segment was accepted; the carrier's id for each, in order.
    SubmitOk {
        /// One id per segment, as the carrier wrote it.
        carrier_message_ids: Vec<String>,
        /// One receipt-matching key per segment (`kori::dlr::submit_key`, as text), which the
        /// store indexes so that receipts find their segment.
        keys: Vec<String>,
    },
    /// A transient failure (throttled, queue full, connection lost, carrier down): try again
    /// at `retry_at`.
    Transient {
        /// When to try again.
        retry_at: UnixMillis,
        /// What happened, for the log.
        reason: String,
    },
    /// The carrier refused a segment with a permanent status.
    Rejected {
        /// The status (`ESME_RINVDSTADR (0x0000000b)`).
        status: String,
    },
    /// A segment was sent but never answered, and the carrier is at-most-once.
    FateUnknown,
    /// Kori gives up: the retry budget or the validity is exhausted.
    GiveUp {
        /// Why.
        reason: String,
    },
    /// Its validity ran out while it was queued.
    Expire,
    /// A delivery receipt for segment `part`.
    Receipt {
        /// The segment (0-based).
        part: usize,
        /// What the receipt says.
        state: PartState,
        /// Its error code, when not delivered.
        error_code: Option<String>,
    },
    /// No receipt came within `receipt_timeout`.
    ReceiptTimeout,
    /// The caller cancelled it.
    Cancel,
}

impl Event {
    /// The event's name, for errors and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Dispatched { .. } => "dispatched",
            Self::SubmitOk { .. } => "submit_ok",
            Self::Transient { .. } => "transient",
            Self::Rejected { .. } => "rejected",
            Self::FateUnknown => "fate_unknown",
            Self::GiveUp { .. } => "give_up",
            Self::Expire => "expire",
            Self::Receipt { .. } => "receipt",
            Self::ReceiptTimeout => "receipt_timeout",
            Self::Cancel => "cancel",
        }
    }
}

/// An event that does not apply to the message's state (a late receipt, a cancel after
/// submission): nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event} does not apply to a message in state {from}")]
pub struct IllegalTransition {
    /// The message's state.
    pub from: MessageState,
    /// The event's name.
    pub event: &'static str,
}

/// `event` at `now` applied to the message itself (the store's writer changes the record it
/// decoded, no copy), or why the event does not apply. An event that does not apply leaves
/// the message unchanged: every check comes before any change.
pub fn apply(
    message: &mut Message,
    event: &Event,
    now: UnixMillis,
) -> Result<(), IllegalTransition> {
    use MessageState::*;
    let from = message.state;
    let illegal = || IllegalTransition {
        from,
        event: event.name(),
    };
    let finish = |m: &mut Message, state: MessageState, error: Option<(&str, &str)>| {
        m.state = state;
        m.done_at = Some(now);
        m.error = error.map(|(code, detail)| MessageError {
            code: code.to_owned(),
            detail: detail.to_owned(),
        });
    };
    match (from, event) {
        (Queued, Event::Dispatched { carrier }) => {
            message.state = Submitting;
            message.routed_to = Some(carrier.clone());
            message.attempts += 1;
        }
        (Queued, Event::Cancel) => finish(message, Cancelled, None),
        (Queued, Event::Expire) => finish(
            message,
            Expired,
            Some((
                "validity-expired",
                "validity ran out before it could be sent",
            )),
        ),
        (Queued | Submitting, Event::GiveUp { reason }) => {
            finish(message, Failed, Some(("gave-up", reason)))
        }
        (
            Submitting,
            Event::SubmitOk {
                carrier_message_ids,
                keys,
            },
        ) => {
            if carrier_message_ids.is_empty() || keys.len() != carrier_message_ids.len() {
                return Err(illegal());
            }
            // The carrier's split decides the final number of segments (its `split` setting
            // may differ from the count quoted at intake).
            message.parts = carrier_message_ids
                .iter()
                .map(|id| Part {
                    state: PartState::Submitted,
                    carrier_message_id: Some(id.clone()),
                    error_code: None,
                })
                .collect();
            message.state = Submitted;
            message.submitted_at = Some(now);
            if !message.receipt {
                // Nothing more will come: the carrier took it, and that is all Kori will know.
                message.done_at = Some(now);
            }
        }
        (Submitting, Event::Transient { retry_at, .. }) => {
            message.state = Queued;
            message.due_at = *retry_at;
        }
        (Submitting, Event::Rejected { status }) => {
            finish(message, Rejected, Some(("submit-rejected", status)))
        }
        (Submitting, Event::FateUnknown) => finish(
            message,
            Unknown,
            Some((
                "fate-unknown",
                "a segment was sent but never answered; the carrier is at-most-once",
            )),
        ),
        (
            Submitted,
            Event::Receipt {
                part,
                state,
                error_code,
            },
        ) => {
            let Some(slot) = message.parts.get_mut(*part) else {
                return Err(illegal());
            };
            if slot.state.is_final() {
                // A second receipt for the same segment changes nothing.
                return Err(illegal());
            }
            slot.state = *state;
            slot.error_code = error_code.clone();
            if let Some(outcome) = settle(message) {
                let error = match outcome {
                    Delivered => None,
                    Undeliverable => Some(("undeliverable", "a segment could not be delivered")),
                    Expired => Some(("expired", "the carrier let a segment expire")),
                    _ => Some(("receipt-unknown", "the receipt's state is UNKNOWN")),
                };
                finish(message, outcome, error);
            }
        }
        (Submitted, Event::ReceiptTimeout) => finish(
            message,
            Unknown,
            Some((
                "receipt-timeout",
                "no delivery receipt within receipt_timeout",
            )),
        ),
        _ => return Err(illegal()),
    }
    Ok(())
}

/// The message's final state once its parts decide it: undeliverable as soon as one part is,
/// otherwise once every part is final.
fn settle(message: &Message) -> Option<MessageState> {
    let parts = &message.parts;
    if parts.iter().any(|p| p.state == PartState::Undeliverable) {
        return Some(MessageState::Undeliverable);
    }
    if !parts.iter().all(|p| p.state.is_final()) {
        return None;
    }
    Some(if parts.iter().all(|p| p.state == PartState::Delivered) {
        MessageState::Delivered
    } else if parts.iter().any(|p| p.state == PartState::Expired) {
        MessageState::Expired
    } else {
        MessageState::Unknown
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::model::{MessageId, sample_message};

    /// The message after `event`, as a copy.
    fn applied(
        message: &Message,
        event: &Event,
        now: UnixMillis,
    ) -> Result<Message, IllegalTransition> {
        let mut next = message.clone();
        apply(&mut next, event, now)?;
        Ok(next)
    }

    fn message(state: MessageState, parts: usize) -> Message {
        Message {
            state,
            ..sample_message(MessageId(1), parts)
        }
    }

    fn events() -> Vec<Event> {
        vec![
            Event::Dispatched {
                carrier: "c".into(),
            },
            Event::SubmitOk {
                carrier_message_ids: vec!["1".into(), "2".into()],
                keys: vec!["1".into(), "2".into()],
            },
            Event::Transient {
                retry_at: 5,
                reason: "throttled".into(),
            },
            Event::Rejected {
                status: "0x0b".into(),
            },
            Event::FateUnknown,
            Event::GiveUp {
                reason: "budget".into(),
            },
            Event::Expire,
            Event::Receipt {
                part: 0,
                state: PartState::Delivered,
                error_code: None,
            },
            Event::ReceiptTimeout,
            Event::Cancel,
        ]
    }

    /// Every (state, event) pair: the allowed ones and nothing else.
    #[test]
    fn every_state_event_pair() {
        use MessageState::*;
        let allowed: &[(MessageState, &str, MessageState)] = &[
            (Queued, "dispatched", Submitting),
            (Queued, "give_up", Failed),
            (Queued, "expire", Expired),
            (Queued, "cancel", Cancelled),
            (Submitting, "submit_ok", Submitted),
            (Submitting, "transient", Queued),
            (Submitting, "rejected", Rejected),
            (Submitting, "fate_unknown", Unknown),
            (Submitting, "give_up", Failed),
            (Submitted, "receipt", Submitted),
            (Submitted, "receipt_timeout", Unknown),
        ];
        for from in MessageState::ALL {
            for event in events() {
                let got = applied(&message(from, 2), &event, 7).map(|m| m.state);
                match allowed
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event.name())
                {
                    Some((_, _, to)) => assert_eq!(got, Ok(*to), "{from} + {}", event.name()),
                    None => assert!(
                        got.is_err(),
                        "{from} + {} should be illegal, got {got:?}",
                        event.name()
                    ),
                }
            }
        }
    }

    #[test]
    fn an_event_that_does_not_apply_leaves_the_message_as_it_was() {
        // Every state and event, with the message's parts in every state too (receipts for a
        // part that is already final, or out of range, are refused after a lookup).
        let mut messages: Vec<Message> = MessageState::ALL
            .into_iter()
            .map(|s| message(s, 2))
            .collect();
        for part_state in [PartState::Submitted, PartState::Delivered] {
            let mut m = submitted(2);
            m.parts[0].state = part_state;
            messages.push(m);
        }
        let mut events = events();
        events.push(Event::Receipt {
            part: 5,
            state: PartState::Delivered,
            error_code: None,
        });
        for original in &messages {
            for event in &events {
                let mut changed = original.clone();
                if apply(&mut changed, event, 7).is_err() {
                    assert_eq!(&changed, original, "{} + {}", original.state, event.name());
                }
            }
        }
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for from in MessageState::ALL.into_iter().filter(|s| s.is_terminal()) {
            for event in events() {
                assert!(applied(&message(from, 1), &event, 0).is_err());
            }
        }
    }

    fn submitted(parts: usize) -> Message {
        let mut m = message(MessageState::Submitted, parts);
        for p in &mut m.parts {
            p.state = PartState::Submitted;
        }
        m
    }

    fn receipt(m: &Message, part: usize, state: PartState) -> Result<Message, IllegalTransition> {
        applied(
            m,
            &Event::Receipt {
                part,
                state,
                error_code: None,
            },
            9,
        )
    }

    #[test]
    fn multipart_is_delivered_only_when_every_part_is() {
        let m = submitted(3);
        let m = receipt(&m, 0, PartState::Delivered).unwrap();
        assert_eq!(m.state, MessageState::Submitted);
        let m = receipt(&m, 2, PartState::Delivered).unwrap();
        assert_eq!(m.state, MessageState::Submitted);
        let m = receipt(&m, 1, PartState::Delivered).unwrap();
        assert_eq!(m.state, MessageState::Delivered);
        assert_eq!(m.done_at, Some(9));
        assert!(
            receipt(&m, 1, PartState::Delivered).is_err(),
            "a late receipt changes nothing"
        );
    }

    #[test]
    fn one_undeliverable_part_settles_the_message_at_once() {
        let m = submitted(3);
        let m = receipt(&m, 1, PartState::Undeliverable).unwrap();
        assert_eq!(m.state, MessageState::Undeliverable);
        assert_eq!(
            m.error.as_ref().map(|e| e.code.as_str()),
            Some("undeliverable")
        );
    }

    #[test]
    fn duplicate_receipt_for_a_part_is_refused() {
        let m = submitted(2);
        let m = receipt(&m, 0, PartState::Delivered).unwrap();
        assert!(receipt(&m, 0, PartState::Delivered).is_err());
        assert!(
            receipt(&m, 5, PartState::Delivered).is_err(),
            "no such part"
        );
    }

    #[test]
    fn submit_ok_takes_the_carriers_segment_count_and_needs_a_key_per_id() {
        let m = message(MessageState::Submitting, 2);
        let three = Event::SubmitOk {
            carrier_message_ids: vec!["1".into(), "2".into(), "3".into()],
            keys: vec!["1".into(), "2".into(), "3".into()],
        };
        assert_eq!(applied(&m, &three, 0).unwrap().parts.len(), 3);
        let keyless = Event::SubmitOk {
            carrier_message_ids: vec!["1".into()],
            keys: vec![],
        };
        assert!(applied(&m, &keyless, 0).is_err());
    }
}
