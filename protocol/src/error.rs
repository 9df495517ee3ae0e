//! Errors of the second decoding stage (the body) and of encoding.
//!
//! Owns the mapping from "what was wrong with the body" to the `command_status` a session puts
//! in its `generic_nack` or error `_resp`, so the peer learns which field to fix.

use crate::status::CommandStatus;

/// A PDU body that does not decode. The header decoded, so the PDU can be answered and the bind
/// kept: see [`BodyError::status`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body ends before a mandatory field.
    #[error("body ends before mandatory field {field}")]
    Truncated {
        /// The field that was missing.
        field: &'static str,
    },
    /// A C-Octet String has no NUL within its maximum length.
    #[error("{field}: no NUL within its maximum of {max} octets")]
    StringTooLong {
        /// The field.
        field: &'static str,
        /// The field's maximum, NUL included.
        max: usize,
    },
    /// `sm_length` claims more octets than the body holds.
    #[error("sm_length {sm_length} exceeds the {remaining} octets left in the body")]
    ShortMessageOverrun {
        /// The declared length.
        sm_length: u8,
        /// Octets actually left.
        remaining: usize,
    },
    /// A `submit_multi` destination with a `dest_flag` other than 1 (SME) or 2 (list).
    #[error("dest_flag {0} is neither 1 (SME address) nor 2 (distribution list)")]
    InvalidDestFlag(u8),
    /// The optional-parameter part is not a sequence of whole TLVs.
    #[error("TLV at body offset {offset}: {reason}")]
    TlvStream {
        /// Offset of the bad TLV from the start of the body.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// Octets after the last field of a PDU that has no optional part.
    #[error("{0} octets after the end of a body that takes no optional parameters")]
    TrailingBytes(usize),
}

impl BodyError {
    /// The `command_status` to answer with (SMPP 3.4 Table 5-2).
    pub fn status(&self) -> CommandStatus {
        match self {
            Self::Truncated { .. } | Self::TrailingBytes(_) => CommandStatus::InvalidCommandLength,
            Self::StringTooLong { field, .. } => status_for_field(field),
            Self::ShortMessageOverrun { .. } => CommandStatus::InvalidMessageLength,
            Self::InvalidDestFlag(_) => CommandStatus::InvalidDestinationFlag,
            Self::TlvStream { .. } => CommandStatus::InvalidOptionalParameterStream,
        }
    }
}

/// The status naming a field whose value is malformed.
fn status_for_field(field: &str) -> CommandStatus {
    match field {
        "source_addr" | "esme_addr" => CommandStatus::InvalidSourceAddress,
        "destination_addr" => CommandStatus::InvalidDestinationAddress,
        "system_id" => CommandStatus::InvalidSystemId,
        "password" => CommandStatus::InvalidPassword,
        "system_type" => CommandStatus::InvalidSystemType,
        "service_type" => CommandStatus::InvalidServiceType,
        "schedule_delivery_time" => CommandStatus::InvalidScheduledDeliveryTime,
        "validity_period" => CommandStatus::InvalidExpiry,
        "message_id" => CommandStatus::InvalidMessageId,
        "dl_name" => CommandStatus::InvalidDistributionListName,
        _ => CommandStatus::InvalidCommandLength,
    }
}

impl<'a> nom::error::ParseError<&'a [u8]> for BodyError {
    fn from_error_kind(_input: &'a [u8], _kind: nom::error::ErrorKind) -> Self {
        Self::Truncated { field: "body" }
    }

    fn append(_input: &'a [u8], _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// A PDU value that cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The whole PDU would not fit `command_length`.
    #[error("PDU of {0} octets does not fit command_length")]
    TooLong(usize),
    /// `short_message` is longer than the 254 octets `sm_length` allows; use `message_payload`.
    #[error("short_message of {0} octets exceeds 254; send it in message_payload")]
    ShortMessageTooLong(usize),
    /// A TLV value is longer than its 16-bit length field allows.
    #[error("TLV {tag:#06x} value of {len} octets exceeds 65535")]
    TlvTooLong {
        /// The TLV's tag.
        tag: u16,
        /// The value's length.
        len: usize,
    },
    /// A list (destinations, unsuccessful SMEs) has more entries than its count octet holds.
    #[error("{field} has {len} entries, at most {max} fit")]
    TooManyEntries {
        /// The list.
        field: &'static str,
        /// Entries given.
        len: usize,
        /// The maximum.
        max: usize,
    },
}
