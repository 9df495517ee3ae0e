//! Errors of the carrier sessions, each saying what an operator can do about it.
//!
//! Owns `SessionError` (why a bind ended or could not start) and `SendError` (why a message
//! was not handed to a carrier). Called by the session, carrier and router code.

use super::CarrierName;
use kori_smpp::{CommandStatus, EncodeError};
use std::time::Duration;

/// Why a bind ended, or could not be made. The session reconnects after each (with backoff),
/// except after a shutdown.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// TCP connect failed or timed out.
    #[error("carrier {carrier}: cannot connect to {addr}: {source}")]
    Connect {
        /// The carrier.
        carrier: CarrierName,
        /// host:port tried.
        addr: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// The SMSC refused the bind.
    #[error(
        "carrier {carrier}: bind refused with {status}; {hint}",
        hint = bind_hint(*status)
    )]
    BindRefused {
        /// The carrier.
        carrier: CarrierName,
        /// The status in the bind response.
        status: CommandStatus,
    },
    /// A setting cannot be sent as it is (too long for its SMPP field).
    #[error("carrier {carrier}: {detail}")]
    Config {
        /// The carrier.
        carrier: CarrierName,
        /// Which setting and why.
        detail: String,
    },
    /// No bind response in time.
    #[error("carrier {carrier}: no bind response within {timeout:?}")]
    BindTimeout {
        /// The carrier.
        carrier: CarrierName,
        /// How long was waited.
        timeout: Duration,
    },
    /// The SMSC did not answer an enquire_link: the link is dead.
    #[error("carrier {carrier}: no enquire_link_resp within {timeout:?}; link declared dead")]
    LinkDead {
        /// The carrier.
        carrier: CarrierName,
        /// How long was waited.
        timeout: Duration,
    },
    /// The SMSC closed the connection.
    #[error("carrier {carrier}: connection closed by the SMSC")]
    ClosedByPeer {
        /// The carrier.
        carrier: CarrierName,
    },
    /// The SMSC unbound the session.
    #[error("carrier {carrier}: the SMSC sent unbind")]
    UnboundByPeer {
        /// The carrier.
        carrier: CarrierName,
    },
    /// The byte stream is out of step (a PDU header with an impossible length).
    #[error("carrier {carrier}: unusable PDU header: {detail}; connection closed")]
    Framing {
        /// The carrier.
        carrier: CarrierName,
        /// What was wrong.
        detail: String,
    },
    /// Reading or writing the socket failed.
    #[error("carrier {carrier}: i/o error: {source}")]
    Io {
        /// The carrier.
        carrier: CarrierName,
        /// The error.
        source: std::io::Error,
    },
    /// A PDU Kori built could not be encoded (a bug or an oversize value).
    #[error("carrier {carrier}: cannot encode a PDU: {source}")]
    Encode {
        /// The carrier.
        carrier: CarrierName,
        /// The error.
        source: EncodeError,
    },
}

fn bind_hint(status: CommandStatus) -> &'static str {
    match status {
        CommandStatus::InvalidPassword => "check password_file",
        CommandStatus::InvalidSystemId => "check system_id",
        CommandStatus::InvalidSystemType => "check system_type",
        CommandStatus::AlreadyBound => "the SMSC still holds an earlier bind; waiting for it to go",
        CommandStatus::BindFailed => {
            "the SMSC refused the bind; check system_id, password_file and the allowed source IP"
        }
        _ => "check the carrier's bind settings",
    }
}

/// Why a message was not taken by any carrier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No carrier's prefixes match the destination.
    #[error("no carrier route matches {destination}")]
    NoRoute {
        /// The destination, masked.
        destination: String,
    },
    /// Every carrier that could take it has been down too long, or is shutting down; the
    /// message was not submitted and can be tried again later.
    #[error("not sent: {reason}")]
    Unsent {
        /// Why.
        reason: String,
    },
}
