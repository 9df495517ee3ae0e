//! SMPP carrier sessions: Kori's ESME side of SMPP 3.4.
//!
//! Owns the binds to each carrier's SMSC: connecting and binding with backoff, the window of
//! unanswered requests, keep-alive, throughput shaping, retries of throttled submits, receipts
//! and MO messages coming back, and the choice of carrier by destination prefix. Must not
//! touch: storage (outcomes and events go back to the caller as values). Called by the outbox
//! (and today by the demo and the tests); started and stopped by `app`.
//!
//! The shape (style.md §3): each bind is one actor task that owns its socket halves, window
//! and timers. A [`Carrier`] is a handle on the binds of one SMSC and their shared job queue:
//! [`Carrier::send`] puts a message on the queue and waits for its outcome. A bind takes a
//! message whole and sends its segments in order, the next one after the previous one is
//! answered, so the segments of one message never overtake each other; many messages are in
//! flight at once, up to `window` per bind.

mod carrier;
mod connect;
mod error;
mod router;
mod session;
mod throttle;
mod window;

pub use carrier::{Carrier, CarrierStatus};
pub(crate) use connect::equal_jitter;
pub use error::{SendError, SessionError};
pub use router::{Route, Router};

use crate::config::Secret;
use kori_smpp::receipt::{IdFormat, NormalizedId, Receipt};
use kori_smpp::segment::{SplitMethod, SplitOptions, split};
use kori_smpp::text::{EncodingChoice, TextError, choose};
use kori_smpp::{Address, CommandStatus, Npi, RegisteredDelivery, SubmitSm, Ton};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;

/// A carrier's name as configured (`[[carrier]] name`), cheap to clone into logs and events.
pub type CarrierName = Arc<str>;

/// How a carrier is bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BindMode {
    /// One `bind_transceiver` per session: submits and receipts on one connection.
    #[default]
    Transceiver,
    /// A `bind_transmitter` and a `bind_receiver` per session.
    TransmitterReceiver,
}

/// What one connection is bound as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindKind {
    /// Sends and receives.
    Transceiver,
    /// Sends only.
    Transmitter,
    /// Receives only.
    Receiver,
}

impl BindKind {
    /// Whether submits go out on this bind.
    pub fn submits(self) -> bool {
        self != Self::Receiver
    }
}

/// What happens to a submit whose response never came (the connection dropped or the response
/// timed out): its fate is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Send it again (Kannel's behaviour): no message is lost, a duplicate is possible.
    #[default]
    AtLeastOnce,
    /// Do not send it again: the segment's outcome is [`SegmentOutcome::FateUnknown`].
    AtMostOnce,
}

/// One carrier's settings, validated (design.md "SMPP sessions").
#[derive(Debug, Clone)]
pub struct CarrierConfig {
    /// The carrier's name, in logs, metrics and the API.
    pub name: CarrierName,
    /// SMSC host.
    pub host: String,
    /// SMSC port.
    pub port: u16,
    /// `system_id` to bind with.
    pub system_id: String,
    /// Password to bind with (from `password_file`).
    pub password: Secret,
    /// `system_type` to bind with (often empty).
    pub system_type: String,
    /// `address_range` to bind with (often empty).
    pub address_range: String,
    /// Transceiver, or transmitter + receiver pairs.
    pub bind: BindMode,
    /// Number of sessions (binds, or bind pairs).
    pub sessions: NonZeroU32,
    /// Most unanswered requests per bind.
    pub window: NonZeroU32,
    /// Most `submit_sm` PDUs per second across all binds of the carrier.
    pub tps: NonZeroU32,
    /// Idle time after which an `enquire_link` is sent.
    pub enquire_link: Duration,
    /// How long a response may take.
    pub response_timeout: Duration,
    /// How long a TCP connect may take.
    pub connect_timeout: Duration,
    /// First reconnect delay; doubles on each failure.
    pub reconnect_initial: Duration,
    /// Largest reconnect delay.
    pub reconnect_max: Duration,
    /// First pause of a bind after ESME_RTHROTTLED or ESME_RMSGQFUL; doubles while they last.
    pub throttle_pause: Duration,
    /// Largest such pause.
    pub throttle_pause_max: Duration,
    /// What happens to submits whose fate is unknown.
    pub delivery: Delivery,
    /// How many times a fate-unknown segment is sent again under at-least-once.
    pub max_resends: u32,
    /// How the SMSC renders message ids in `submit_sm_resp` (`dlr_id`).
    pub dlr_id: IdFormat,
    /// E.164 prefixes (with `+`) routed to this carrier; empty means every destination.
    pub prefixes: Vec<String>,
    /// Among carriers with the same prefix, lower is preferred.
    pub priority: u32,
    /// How long every bind may be down before new messages go to the next carrier.
    pub failover_after: Duration,
    /// Largest PDU accepted from the SMSC.
    pub max_pdu_len: u32,
    /// How the carrier wants long messages split.
    pub split: SplitMethod,
    /// Whether GSM 7-bit is sent packed.
    pub gsm7_packed: bool,
    /// The encoding used when a message does not ask for one.
    pub default_encoding: EncodingChoice,
    /// `source_addr_ton` to send; `None` picks it from the sender ([`source_ton_npi`]).
    pub source_ton: Option<Ton>,
    /// `source_addr_npi` to send; `None` picks it from the sender.
    pub source_npi: Option<Npi>,
}

impl CarrierConfig {
    /// A carrier at `host:port` with design.md's defaults for everything else.
    pub fn new(name: &str, host: &str, port: u16) -> Self {
        Self {
            name: Arc::from(name),
            host: host.to_owned(),
            port,
            system_id: String::new(),
            password: Secret::default(),
            system_type: String::new(),
            address_range: String::new(),
            bind: BindMode::Transceiver,
            sessions: NonZeroU32::MIN,
            window: NonZeroU32::new(64).unwrap_or(NonZeroU32::MIN),
            tps: NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN),
            enquire_link: Duration::from_secs(30),
            response_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            reconnect_initial: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            throttle_pause: Duration::from_millis(250),
            throttle_pause_max: Duration::from_secs(10),
            delivery: Delivery::AtLeastOnce,
            max_resends: 3,
            dlr_id: IdFormat::Auto,
            prefixes: Vec::new(),
            priority: 0,
            failover_after: Duration::from_secs(60),
            max_pdu_len: kori_smpp::DEFAULT_MAX_PDU_LEN,
            split: SplitMethod::Udh8,
            gsm7_packed: false,
            default_encoding: EncodingChoice::Auto,
            source_ton: None,
            source_npi: None,
        }
    }
}

/// A message ready for a carrier: its segments, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMessage {
    /// One `submit_sm` per segment.
    pub segments: Vec<SubmitSm>,
}

/// Source TON/NPI chosen from the sender (design.md): alphanumeric 5/0, short code 3/0,
/// international 1/1.
pub fn source_ton_npi(sender: &str) -> (Ton, Npi) {
    let digits = sender.strip_prefix('+').unwrap_or(sender);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        (Ton::ALPHANUMERIC, Npi::UNKNOWN)
    } else if sender.starts_with('+') || digits.len() > 8 {
        (Ton::INTERNATIONAL, Npi::ISDN)
    } else {
        (Ton::NETWORK_SPECIFIC, Npi::UNKNOWN)
    }
}

/// Why a text cannot become a message.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The text cannot be encoded or split.
    #[error(transparent)]
    Text(#[from] TextError),
    /// An address is too long for SMPP.
    #[error("{field}: {source}")]
    Address {
        /// `source_addr` or `destination_addr`.
        field: &'static str,
        /// Why.
        source: kori_smpp::StringError,
    },
}

impl OutMessage {
    /// Builds the segments of `text` from `from` to the E.164 number `to` (`+358…`) with the
    /// carrier's encoding and split settings. `reference` is the concatenation reference.
    pub fn from_text(
        config: &CarrierConfig,
        from: &str,
        to: &str,
        text: &str,
        encoding: Option<EncodingChoice>,
        reference: u16,
    ) -> Result<Self, BuildError> {
        let encoding = choose(text, encoding.unwrap_or(config.default_encoding))?;
        let opts = SplitOptions {
            gsm7_packed: config.gsm7_packed,
            ..SplitOptions::default()
        };
        let parts = split(text, encoding, config.split, reference, &opts)?;
        let (auto_ton, auto_npi) = source_ton_npi(from);
        let source_addr_ton = config.source_ton.unwrap_or(auto_ton);
        let source_addr_npi = config.source_npi.unwrap_or(auto_npi);
        let template =
            SubmitSm {
                source_addr_ton,
                source_addr_npi,
                source_addr: Address::new(from.strip_prefix('+').unwrap_or(from).as_bytes())
                    .map_err(|source| BuildError::Address {
                        field: "source_addr",
                        source,
                    })?,
                dest_addr_ton: Ton::INTERNATIONAL,
                dest_addr_npi: Npi::ISDN,
                destination_addr: Address::new(to.strip_prefix('+').unwrap_or(to).as_bytes())
                    .map_err(|source| BuildError::Address {
                        field: "destination_addr",
                        source,
                    })?,
                registered_delivery: RegisteredDelivery::ON_FINAL,
                ..SubmitSm::default()
            };
        let segments = parts
            .iter()
            .map(|part| {
                let mut sm = template.clone();
                sm.set_segment(part);
                sm
            })
            .collect();
        Ok(Self { segments })
    }
}

/// What became of one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentOutcome {
    /// The SMSC took it.
    Accepted {
        /// The id from `submit_sm_resp`, as sent.
        message_id: String,
        /// The id as receipts are matched against it (see [`crate::dlr`]).
        key: NormalizedId,
    },
    /// The SMSC refused it with a permanent status.
    Rejected {
        /// The status.
        status: CommandStatus,
    },
    /// Sent, but no response came; under at-most-once it is not sent again.
    FateUnknown,
    /// Never sent (an earlier segment of the message failed).
    NotSent,
}

/// What became of a message on a carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageOutcome {
    /// The carrier that took it.
    pub carrier: CarrierName,
    /// One outcome per segment, in order.
    pub segments: Vec<SegmentOutcome>,
    /// `submit_sm` PDUs written for it, retries included.
    pub attempts: u32,
}

impl MessageOutcome {
    /// True when every segment was accepted.
    pub fn all_accepted(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, SegmentOutcome::Accepted { .. }))
    }
}

/// A message from a handset (MO), whole: concatenated parts are joined before it is passed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoMessage {
    /// The carrier it came from.
    pub carrier: CarrierName,
    /// The sender's number as the SMSC gave it.
    pub from: String,
    /// The number or short code it was sent to.
    pub to: String,
    /// The text, decoded.
    pub text: String,
    /// How many parts it came in.
    pub parts: usize,
}

/// The answer a receipt's `deliver_sm` waits for. Kori acknowledges a receipt to the SMSC only
/// once it is recorded on disk, so a receipt that a `kill -9` caught in memory is delivered
/// again by the SMSC rather than lost (design.md "Messages (outbox)", durability).
///
/// Clones share one answer (a receipt is parked under several keys); the first answer counts.
/// Dropped unanswered (Kori stopping, the event never read), the SMSC is answered 0x64
/// ESME_RX_T_APPN and delivers the receipt again later.
#[derive(Clone)]
pub struct ReceiptAck(Arc<Mutex<Option<oneshot::Sender<CommandStatus>>>>);

impl ReceiptAck {
    /// An answer to give, and where the session waits for it.
    pub(crate) fn new() -> (Self, oneshot::Receiver<CommandStatus>) {
        let (tx, rx) = oneshot::channel();
        (Self(Arc::new(Mutex::new(Some(tx)))), rx)
    }

    /// The receipt is recorded (or there is nothing to record): answer ESME_ROK.
    pub fn recorded(&self) {
        self.answer(CommandStatus::Ok);
    }

    /// The receipt could not be recorded: answer ESME_RX_T_APPN so the SMSC delivers it again.
    pub fn retry_later(&self) {
        self.answer(CommandStatus::ReceiverTemporaryError);
    }

    /// Whether it has been answered.
    pub fn is_answered(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    fn answer(&self, status: CommandStatus) {
        let sender = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(sender) = sender {
            // The bind may be gone; then the SMSC delivers it again on another.
            let _ = sender.send(status);
        }
    }
}

impl std::fmt::Debug for ReceiptAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptAck")
            .field("answered", &self.is_answered())
            .finish()
    }
}

impl PartialEq for ReceiptAck {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// News from the carrier sessions, in the order it happened per bind.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A delivery receipt (match it with [`crate::dlr::receipt_keys`]).
    Receipt {
        /// The carrier it came from.
        carrier: CarrierName,
        /// The receipt (boxed: it is much larger than the other events).
        receipt: Box<Receipt>,
        /// Answer it once the receipt is recorded; the SMSC's `deliver_sm` waits for it.
        ack: ReceiptAck,
    },
    /// A message from a handset.
    Mo(MoMessage),
    /// A bind came up.
    BindUp {
        /// The carrier.
        carrier: CarrierName,
        /// Which bind (0-based).
        bind: usize,
        /// What it is bound as.
        kind: BindKind,
    },
    /// A bind could not be made (connect failed, bind refused or unanswered); it is tried
    /// again after a backoff. `reason` names the fix (a wrong password says so).
    BindFailed {
        /// The carrier.
        carrier: CarrierName,
        /// Which bind (0-based).
        bind: usize,
        /// Why, for the log and the operator.
        reason: String,
    },
    /// A bind went down; it reconnects after a backoff unless Kori is stopping.
    BindDown {
        /// The carrier.
        carrier: CarrierName,
        /// Which bind (0-based).
        bind: usize,
        /// Why, for the log.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_source_ton_npi_override_the_guess() {
        let mut config = CarrierConfig::new("c", "127.0.0.1", 2775);
        let auto =
            OutMessage::from_text(&config, "DemoShop", "+358401234567", "hi", None, 0).unwrap();
        assert_eq!(auto.segments[0].source_addr_ton, Ton::ALPHANUMERIC);
        config.source_ton = Some(Ton::NATIONAL);
        config.source_npi = Some(Npi::NATIONAL);
        let set =
            OutMessage::from_text(&config, "DemoShop", "+358401234567", "hi", None, 0).unwrap();
        assert_eq!(set.segments[0].source_addr_ton, Ton::NATIONAL);
        assert_eq!(set.segments[0].source_addr_npi, Npi::NATIONAL);
    }

    #[test]
    fn source_ton_npi_follows_the_sender() {
        assert_eq!(
            source_ton_npi("DemoShop"),
            (Ton::ALPHANUMERIC, Npi::UNKNOWN)
        );
        assert_eq!(
            source_ton_npi("12345"),
            (Ton::NETWORK_SPECIFIC, Npi::UNKNOWN)
        );
        assert_eq!(
            source_ton_npi("+358401234567"),
            (Ton::INTERNATIONAL, Npi::ISDN)
        );
        assert_eq!(
            source_ton_npi("358401234567"),
            (Ton::INTERNATIONAL, Npi::ISDN)
        );
    }
}
