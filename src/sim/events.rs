//! What the simulator reports to tests: [`SimEvent`]s on a broadcast channel, read through
//! [`SimEvents`].
//!
//! Owns the event types and the subscriber count that lets connection tasks skip building
//! events nobody reads. Must not touch: sockets, fault decisions. Called by `sim::connection`
//! (sending) and by tests, the demo and benchmarks (receiving, via `Sim::subscribe`).

use bytes::Bytes;
use kori_smpp::receipt::MessageState;
use kori_smpp::{CommandStatus, Tlv};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use tokio::sync::broadcast;

/// Which bind a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindKind {
    /// `bind_transmitter`: submits only.
    Transmitter,
    /// `bind_receiver`: deliveries only.
    Receiver,
    /// `bind_transceiver`: both.
    Transceiver,
}

impl BindKind {
    /// May submit.
    pub fn can_transmit(self) -> bool {
        matches!(self, Self::Transmitter | Self::Transceiver)
    }

    /// May receive `deliver_sm`.
    pub fn can_receive(self) -> bool {
        matches!(self, Self::Receiver | Self::Transceiver)
    }
}

/// One `submit_sm` as the simulator saw and answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The connection it came on ([`SimEvent::Connected`]).
    pub connection: u64,
    /// Its sequence number.
    pub seq: u32,
    /// The message id answered; empty when rejected or unanswered.
    pub message_id: String,
    /// The status answered (meaningless when `answered` is false).
    pub status: CommandStatus,
    /// False when a fault left it unanswered (`silent_after`, `drop_after` BeforeAnswer).
    pub answered: bool,
    /// `source_addr`.
    pub source: String,
    /// `destination_addr`.
    pub destination: String,
    /// `data_coding`.
    pub data_coding: u8,
    /// `esm_class`.
    pub esm_class: u8,
    /// `registered_delivery`.
    pub registered_delivery: u8,
    /// Concatenation (reference, total, seqnum) from the UDH, else from the SAR TLVs.
    pub concat: Option<(u16, u8, u8)>,
    /// The text of this part (UDH removed), when it decodes per `data_coding` (unpacked GSM).
    pub text: Option<String>,
    /// `short_message` as received (`message_payload` when `short_message` is empty).
    pub short_message: Bytes,
    /// The optional parameters as received.
    pub tlvs: Vec<Tlv>,
}

/// Something that happened in the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimEvent {
    /// A TCP connection was accepted.
    Connected {
        /// Its number, unique per simulator.
        connection: u64,
    },
    /// A bind succeeded.
    Bound {
        /// The connection.
        connection: u64,
        /// Transmitter, receiver or transceiver.
        kind: BindKind,
        /// The system_id the client presented.
        system_id: String,
    },
    /// A bind was answered with an error.
    BindRefused {
        /// The connection.
        connection: u64,
        /// The system_id the client presented.
        system_id: String,
        /// The status answered.
        status: CommandStatus,
    },
    /// A `submit_sm` was received (and answered, unless `answered` is false).
    Submit(Arc<Submitted>),
    /// A `data_sm` was answered.
    DataSm {
        /// The connection.
        connection: u64,
        /// Its sequence number.
        seq: u32,
    },
    /// A receipt `deliver_sm` was written.
    ReceiptSent {
        /// The connection.
        connection: u64,
        /// The deliver_sm's sequence number.
        seq: u32,
        /// The message id it reports (as in the submit_sm_resp).
        message_id: String,
        /// The state it reports.
        state: MessageState,
    },
    /// An MO (or injected) `deliver_sm` was written.
    MoSent {
        /// The connection.
        connection: u64,
        /// The deliver_sm's sequence number.
        seq: u32,
    },
    /// A `deliver_sm_resp` came back.
    DeliverSmResp {
        /// The connection.
        connection: u64,
        /// Its sequence number.
        seq: u32,
        /// Its status.
        status: CommandStatus,
    },
    /// A malformed PDU was written ([`super::Faults::malformed_after`]).
    MalformedSent {
        /// The connection.
        connection: u64,
        /// Its sequence number.
        seq: u32,
    },
    /// An `enquire_link` was received (answered unless `ignore_enquire_link`).
    EnquireLink {
        /// The connection.
        connection: u64,
    },
    /// A `generic_nack` was received.
    GenericNackReceived {
        /// The connection.
        connection: u64,
        /// Its sequence number.
        seq: u32,
        /// Its status.
        status: CommandStatus,
    },
    /// The client unbound (an `unbind_resp` was sent; the connection closes).
    Unbound {
        /// The connection.
        connection: u64,
    },
    /// The connection closed, for any reason.
    Disconnected {
        /// The connection.
        connection: u64,
    },
    /// This receiver fell behind and missed this many events.
    Lagged {
        /// Events missed.
        missed: u64,
    },
}

/// A receiver of [`SimEvent`]s from [`super::Sim::subscribe`].
#[derive(Debug)]
pub struct SimEvents {
    rx: broadcast::Receiver<SimEvent>,
    subscribers: Arc<AtomicUsize>,
}

impl SimEvents {
    pub(crate) fn new(rx: broadcast::Receiver<SimEvent>, subscribers: Arc<AtomicUsize>) -> Self {
        subscribers.fetch_add(1, Relaxed);
        Self { rx, subscribers }
    }

    /// The next event; `None` once the simulator and all its tasks are gone.
    pub async fn recv(&mut self) -> Option<SimEvent> {
        match self.rx.recv().await {
            Ok(event) => Some(event),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(SimEvent::Lagged { missed }),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The first event for which `pick` returns something, skipping the others.
    pub async fn wait_for<T>(&mut self, mut pick: impl FnMut(&SimEvent) -> Option<T>) -> Option<T> {
        loop {
            let event = self.recv().await?;
            if let Some(found) = pick(&event) {
                return Some(found);
            }
        }
    }

    /// The next `submit_sm`, skipping other events.
    pub async fn next_submit(&mut self) -> Option<Arc<Submitted>> {
        self.wait_for(|e| match e {
            SimEvent::Submit(s) => Some(s.clone()),
            _ => None,
        })
        .await
    }
}

impl Drop for SimEvents {
    fn drop(&mut self) {
        self.subscribers.fetch_sub(1, Relaxed);
    }
}
