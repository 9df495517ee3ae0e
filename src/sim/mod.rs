//! The in-repo SMSC simulator: an SMPP 3.4 server on a TCP socket with fault knobs.
//!
//! Owns: the listener, one task per connection (bind states, answers, receipts, MO delivery),
//! message-id issue, the receipt mailboxes that hold receipts until a receiver binds, the fault
//! knobs and the counters. Must not touch: anything of Kori's own (`smpp`, `outbox`, `store`);
//! it speaks only the wire format of `kori-smpp`, so it tests Kori from the outside.
//! Called by the integration tests (`tests/it/`), by `korid demo` as its carrier, and by the
//! benchmarks as the sink that one bind pushes submits into.
//!
//! Time comes from `tokio::time` only (receipt delays, response delays, the TPS window), so
//! everything runs under `#[tokio::test(start_paused = true)]`; the one wall-clock read is the
//! base of the `submit date:` / `done date:` text of receipts.
//!
//! # What a submit_sm meets, in order
//!
//! Counters `n` are per connection (the `n`-th submit_sm on this bind, 1-based), except
//! [`Faults::max_tps`], which is per simulator.
//!
//! 1. Not bound as transmitter or transceiver: `submit_sm_resp` ESME_RINVBNDSTS (0x04); not
//!    counted as a submit.
//! 2. [`Faults::silent_after`] `k`, `n > k`: no answer, and from then on the connection answers
//!    nothing and sends nothing (no enquire_link_resp, no receipts) until it closes.
//! 3. [`Faults::drop_after`] `(k, BeforeAnswer)`, `n == k`: the connection closes with this
//!    submit unanswered (answers already given are flushed first).
//! 4. The status: [`Faults::reject_destinations`] (first matching prefix), then
//!    [`Faults::throttle_every`] (`n % k == 0` → 0x58), then [`Faults::queue_full_every`]
//!    (`n % k == 0` → 0x14), then [`Faults::max_tps`] (more than `tps` accepted submits in the
//!    sliding second → 0x58). Only a submit that passes all four is accepted and counted
//!    against `max_tps`.
//! 5. Accepted: a new message id ([`SimConfig::message_ids`]) and, if `registered_delivery`
//!    asks for it, a receipt due [`SimConfig::receipt_delay`] after the response.
//! 6. The `submit_sm_resp`, after [`Faults::response_delay`] if set (responses keep their order).
//! 7. [`Faults::malformed_after`] `k`, `n == k`: one malformed `deliver_sm` follows the answer.
//! 8. [`Faults::drop_after`] `(k, AfterAnswer)`, `n == k`: the connection closes right after
//!    the answer is written.

mod connection;
mod events;
mod receipt;
mod state;

pub use events::{BindKind, SimEvent, SimEvents, Submitted};

use kori_smpp::receipt::MessageState;
use kori_smpp::segment::{SplitMethod, SplitOptions, split};
use kori_smpp::text::{EncodingChoice, TextError, choose};
use kori_smpp::{Address, CommandStatus, DeliverSm, Npi, StringError, SystemId, Ton};
use state::{Delivery, Shared};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Most connections served at once; one more is accepted and closed at once. Far above what a
/// test or the demo opens, low enough that a runaway reconnect loop shows up as refusals.
const MAX_CONNECTIONS: usize = 1024;

/// How a message id is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdStyle {
    /// Decimal digits, no padding: `1715004`.
    #[default]
    Decimal,
    /// Decimal digits, zero-padded to the width: `DecimalPadded(10)` gives `0001715004`.
    DecimalPadded(u8),
    /// Uppercase hexadecimal: `1A2B3C`.
    Hex,
    /// Lowercase hexadecimal: `1a2b3c`.
    HexLower,
}

/// Which form a delivery receipt takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiptStyle {
    /// No receipts at all, whatever `registered_delivery` asks.
    None,
    /// `receipted_message_id` and `message_state` TLVs (plus `network_error_code` on an error);
    /// `short_message` empty.
    Tlv,
    /// SMPP 3.4 Appendix B text in `short_message` only.
    Text,
    /// Both the TLVs and the text, as most SMSCs send them.
    #[default]
    Both,
}

/// The final state a receipt reports, and its error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptOutcome {
    /// The state (`stat:` word and `message_state` TLV).
    pub state: MessageState,
    /// The error: the text's `err:` (three digits) and, when not zero, the
    /// `network_error_code` TLV (network type 3, GSM).
    pub error: u16,
}

impl ReceiptOutcome {
    /// `stat:DELIVRD err:000`.
    pub const DELIVERED: Self = Self {
        state: MessageState::Delivered,
        error: 0,
    };
    /// `stat:UNDELIV err:001` (GSM MAP "unknown subscriber").
    pub const UNDELIVERABLE: Self = Self {
        state: MessageState::Undeliverable,
        error: 1,
    };
    /// `stat:REJECTD err:013` (GSM MAP "call barred").
    pub const REJECTED: Self = Self {
        state: MessageState::Rejected,
        error: 13,
    };
    /// `stat:EXPIRED err:027` (GSM MAP "absent subscriber").
    pub const EXPIRED: Self = Self {
        state: MessageState::Expired,
        error: 27,
    };

    /// Whether `registered_delivery` = 2 ("on failure only") asks for this receipt.
    fn is_failure(self) -> bool {
        !matches!(
            self.state,
            MessageState::Delivered | MessageState::Accepted | MessageState::Enroute
        )
    }
}

/// When the connection closes for [`Faults::drop_after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropMode {
    /// The `n`-th submit is answered, then the connection closes.
    AfterAnswer,
    /// The connection closes with the `n`-th submit unanswered (fate unknown to the client).
    BeforeAnswer,
}

/// Fault knobs; all off by default. See the module documentation for the order in which a
/// submit meets them. Change them at run time with [`Sim::set_faults`].
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Answer every bind with this status (body omitted), e.g. 0x0D ESME_RBINDFAIL.
    pub reject_binds: Option<CommandStatus>,
    /// Every `k`-th submit_sm of a connection is answered 0x58 ESME_RTHROTTLED: not accepted,
    /// no message id, no receipt.
    pub throttle_every: Option<u32>,
    /// Every `k`-th submit_sm of a connection is answered 0x14 ESME_RMSGQFUL.
    pub queue_full_every: Option<u32>,
    /// At most this many submits accepted in any sliding second (across all binds); those
    /// beyond are answered 0x58.
    pub max_tps: Option<u32>,
    /// Delay every submit_sm_resp by this much (`tokio::time`).
    pub response_delay: Option<Duration>,
    /// Close the connection at its `n`-th submit_sm, before or after answering it.
    pub drop_after: Option<(u64, DropMode)>,
    /// After the `n`-th submit_sm of a connection, send one malformed `deliver_sm` (its
    /// `receipted_message_id` TLV claims 16 octets and has 2), then carry on.
    pub malformed_after: Option<u64>,
    /// Submits to destinations starting with one of these prefixes (E.164 digits without `+`)
    /// are answered with the status, e.g. 0x0B ESME_RINVDSTADR. First match wins.
    pub reject_destinations: Vec<(String, CommandStatus)>,
    /// Never answer enquire_link (the client's link check must notice).
    pub ignore_enquire_link: bool,
    /// Answer the first `n` submit_sm of a connection, then answer nothing at all.
    pub silent_after: Option<u64>,
}

/// How a simulator behaves; `SimConfig::default()` is a well-behaved SMSC.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The `system_id` in bind responses (at most 15 octets).
    pub system_id: String,
    /// `(system_id, password)` a bind must present; `None` accepts any. A wrong system_id is
    /// answered 0x0F ESME_RINVSYSID, a wrong password 0x0E ESME_RINVPASWD; the connection
    /// stays open, unbound.
    pub credentials: Option<(String, String)>,
    /// How submit_sm_resp message ids are written. Ids come from one counter per simulator,
    /// so they are unique across its binds.
    pub message_ids: IdStyle,
    /// The first id the counter issues (start high, e.g. `0x1A2B00`, for hex ids with letters).
    pub first_message_id: u64,
    /// The form of receipts.
    pub receipts: ReceiptStyle,
    /// How the `id:` of a text receipt is written; `None`: as in the submit_sm_resp. Carriers
    /// that answer `1A2B3C` and report `id:1715004` are `Some(IdStyle::Decimal)` here with
    /// [`IdStyle::Hex`] above. The `receipted_message_id` TLV always repeats the resp's id.
    pub receipt_id_in_text: Option<IdStyle>,
    /// Time from the submit_sm_resp to its receipt.
    pub receipt_delay: Duration,
    /// Final state per destination prefix (digits, no `+`), first match wins; e.g.
    /// `("35840000", ReceiptOutcome::UNDELIVERABLE)`.
    pub outcome_rules: Vec<(String, ReceiptOutcome)>,
    /// The final state of every other message.
    pub default_outcome: ReceiptOutcome,
    /// After a deliver_sm_resp with a temporary error (0x64 ESME_RX_T_APPN, 0x14, 0x58, 0x08),
    /// the deliver_sm is sent again after this delay, as real SMSCs retry.
    pub redelivery_delay: Duration,
    /// The initial fault knobs.
    pub faults: Faults,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            system_id: "sim".to_owned(),
            credentials: None,
            message_ids: IdStyle::Decimal,
            first_message_id: 1,
            receipts: ReceiptStyle::Both,
            receipt_id_in_text: None,
            receipt_delay: Duration::from_secs(1),
            outcome_rules: Vec::new(),
            default_outcome: ReceiptOutcome::DELIVERED,
            redelivery_delay: Duration::from_secs(5),
            faults: Faults::default(),
        }
    }
}

/// Counters since the simulator started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimStats {
    /// TCP connections accepted.
    pub connections: u64,
    /// Successful binds.
    pub binds: u64,
    /// Binds answered with an error status.
    pub bind_refusals: u64,
    /// `unbind`s received from clients.
    pub unbinds: u64,
    /// `submit_sm`s received on a transmitter-capable bind.
    pub submits_received: u64,
    /// `submit_sm`s accepted (answered ESME_ROK with a message id).
    pub submits_accepted: u64,
    /// `submit_sm`s answered 0x58 ESME_RTHROTTLED.
    pub throttled: u64,
    /// `submit_sm`s answered 0x14 ESME_RMSGQFUL.
    pub queue_full: u64,
    /// `submit_sm`s answered with a status from [`Faults::reject_destinations`].
    pub rejected: u64,
    /// Receipt `deliver_sm`s written (redeliveries included).
    pub receipts_sent: u64,
    /// MO `deliver_sm`s written (redeliveries included).
    pub mo_sent: u64,
    /// `deliver_sm`s sent again after a temporary error.
    pub redeliveries: u64,
    /// `deliver_sm_resp`s received, any status.
    pub deliver_sm_resps: u64,
    /// `generic_nack`s received.
    pub generic_nacks_received: u64,
    /// `enquire_link`s received.
    pub enquire_links: u64,
    /// `data_sm`s answered.
    pub data_sms: u64,
    /// Malformed PDUs sent by [`Faults::malformed_after`].
    pub malformed_sent: u64,
}

/// Why the simulator refused a request.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// `inject_mo` needs a bound receiver or transceiver.
    #[error("no receiver or transceiver is bound to the simulator; bind one before injecting MO")]
    NoReceiver,
    /// An address does not fit a `deliver_sm` address field.
    #[error("address {address:?}: {source}")]
    Address {
        /// The address given.
        address: String,
        /// Why it does not fit.
        source: StringError,
    },
    /// The text cannot be encoded or split.
    #[error("MO text: {0}")]
    Text(#[from] TextError),
}

/// A running simulator. Dropping it cancels every task; [`Sim::shutdown`] also unbinds
/// politely and waits for the tasks to end.
#[derive(Debug)]
pub struct Sim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Sim {
    /// Starts a simulator listening on `127.0.0.1`, on a port of the system's choosing.
    ///
    /// # Errors
    /// The listener cannot be bound, or `config.system_id` is longer than 15 octets.
    pub async fn start(config: SimConfig) -> std::io::Result<Sim> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts a simulator listening on `addr`.
    ///
    /// # Errors
    /// As [`Sim::start`].
    pub async fn start_on(addr: SocketAddr, config: SimConfig) -> std::io::Result<Sim> {
        let system_id = SystemId::new(config.system_id.as_bytes()).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("sim system_id {:?}: {e}", config.system_id),
            )
        })?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config, system_id));
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        tracker.spawn(accept_loop(
            listener,
            shared.clone(),
            cancel.clone(),
            tracker.clone(),
        ));
        tracing::debug!(%addr, "sim listening");
        Ok(Sim {
            shared,
            addr,
            cancel,
            tracker,
        })
    }

    /// Where the simulator listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A receiver of everything that happens from now on. Events are only built while at
    /// least one receiver exists; a receiver that falls more than 65,536 events behind gets
    /// [`SimEvent::Lagged`] instead of slowing the simulator.
    pub fn subscribe(&self) -> SimEvents {
        self.shared.subscribe()
    }

    /// Queues an MO message (`deliver_sm`, esm_class 0) from `from` to `to` for a bound
    /// receiver or transceiver; a text longer than one message is split with an 8-bit
    /// concatenation UDH. GSM 7-bit when every character fits, else UCS-2. Returns once
    /// queued; watch for [`SimEvent::MoSent`] and [`SimEvent::DeliverSmResp`].
    ///
    /// # Errors
    /// [`SimError::NoReceiver`] when none is bound; a bad address or text.
    pub async fn inject_mo(&self, from: &str, to: &str, text: &str) -> Result<(), SimError> {
        let system_id = self
            .shared
            .receiver_system_id()
            .ok_or(SimError::NoReceiver)?;
        let address = |a: &str| {
            Address::new(a.trim_start_matches('+').as_bytes()).map_err(|source| SimError::Address {
                address: a.to_owned(),
                source,
            })
        };
        let (source, destination) = (address(from)?, address(to)?);
        let encoding = choose(text, EncodingChoice::Auto)?;
        let segments = split(
            text,
            encoding,
            SplitMethod::Udh8,
            self.shared.next_mo_reference(),
            &SplitOptions::default(),
        )?;
        let now = tokio::time::Instant::now();
        let deliveries = segments.iter().map(|seg| {
            let mut sm = DeliverSm {
                source_addr_ton: Ton::INTERNATIONAL,
                source_addr_npi: Npi::ISDN,
                source_addr: source,
                dest_addr_ton: Ton::INTERNATIONAL,
                dest_addr_npi: Npi::ISDN,
                destination_addr: destination,
                ..DeliverSm::default()
            };
            sm.set_segment(seg);
            (now, Delivery::mo(sm))
        });
        self.shared.mailbox(&system_id).push_all(deliveries);
        Ok(())
    }

    /// Queues any `deliver_sm` (a hand-made receipt, a duplicate, a late one) for the binds of
    /// `system_id`; held until a receiver or transceiver of that system_id is bound.
    pub fn inject_deliver_sm(&self, system_id: &str, sm: DeliverSm) {
        let now = tokio::time::Instant::now();
        self.shared
            .mailbox(system_id)
            .push_all([(now, Delivery::mo(sm))]);
    }

    /// The counters now.
    pub fn stats(&self) -> SimStats {
        self.shared.stats.snapshot()
    }

    /// Replaces the fault knobs; every connection uses the new ones from its next PDU on.
    /// Per-connection submit counts carry on.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
    }

    /// Stops the simulator: the listener closes, every bound session is sent `unbind` and given
    /// up to a second for `unbind_resp`, every connection closes, and every task has ended
    /// when this returns.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // EMFILE and friends: wait a little rather than spin.
                tracing::warn!(error = %e, "sim accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "sim at {MAX_CONNECTIONS} connections; closing the new one");
            continue;
        };
        // Small PDUs, latency-sensitive peers: no Nagle.
        let _ = socket.set_nodelay(true);
        let id = shared.new_connection();
        let (shared, cancel) = (shared.clone(), cancel.clone());
        tracker.spawn(async move {
            connection::serve(shared, socket, id, cancel).await;
            drop(permit);
        });
    }
}
