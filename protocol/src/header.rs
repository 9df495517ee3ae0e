//! The 16-octet PDU header (SMPP 3.4 §3.2) and framing: where one PDU ends in a byte stream.
//!
//! Owns `command_id` values and the length checks that run before anything is allocated. The
//! first stage of decoding: a header that passes here always yields a frame whose body can be
//! answered, even if the body is garbage. Used by the codec and the streaming frame splitter.

use crate::status::CommandStatus;
use nom::Parser;
use nom::number::complete::be_u32;
use std::fmt;

/// Octets in the PDU header.
pub const HEADER_LEN: usize = 16;

/// Default upper bound on `command_length`: 64 KiB, enough for a `message_payload` of the
/// largest practical size while keeping a hostile length from reserving memory.
pub const DEFAULT_MAX_PDU_LEN: u32 = 64 * 1024;

macro_rules! command_ids {
    ($( $(#[$doc:meta])* $variant:ident = $value:literal, $name:literal; )*) => {
        /// SMPP 3.4 `command_id` (§5.1.2.1). Unknown ids are kept in `Other`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CommandId {
            $( $(#[$doc])* $variant, )*
            /// An id SMPP 3.4 does not define.
            Other(u32),
        }

        impl From<u32> for CommandId {
            fn from(value: u32) -> Self {
                match value {
                    $( $value => Self::$variant, )*
                    other => Self::Other(other),
                }
            }
        }

        impl From<CommandId> for u32 {
            fn from(value: CommandId) -> u32 {
                match value {
                    $( CommandId::$variant => $value, )*
                    CommandId::Other(other) => other,
                }
            }
        }

        impl CommandId {
            /// The spec's name (`submit_sm_resp`), or `None` for an unknown id.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $( Self::$variant => Some($name), )*
                    Self::Other(_) => None,
                }
            }
        }
    };
}

command_ids! {
    /// generic_nack
    GenericNack = 0x8000_0000, "generic_nack";
    /// bind_receiver
    BindReceiver = 0x0000_0001, "bind_receiver";
    /// bind_receiver_resp
    BindReceiverResp = 0x8000_0001, "bind_receiver_resp";
    /// bind_transmitter
    BindTransmitter = 0x0000_0002, "bind_transmitter";
    /// bind_transmitter_resp
    BindTransmitterResp = 0x8000_0002, "bind_transmitter_resp";
    /// query_sm
    QuerySm = 0x0000_0003, "query_sm";
    /// query_sm_resp
    QuerySmResp = 0x8000_0003, "query_sm_resp";
    /// submit_sm
    SubmitSm = 0x0000_0004, "submit_sm";
    /// submit_sm_resp
    SubmitSmResp = 0x8000_0004, "submit_sm_resp";
    /// deliver_sm
    DeliverSm = 0x0000_0005, "deliver_sm";
    /// deliver_sm_resp
    DeliverSmResp = 0x8000_0005, "deliver_sm_resp";
    /// unbind
    Unbind = 0x0000_0006, "unbind";
    /// unbind_resp
    UnbindResp = 0x8000_0006, "unbind_resp";
    /// replace_sm
    ReplaceSm = 0x0000_0007, "replace_sm";
    /// replace_sm_resp
    ReplaceSmResp = 0x8000_0007, "replace_sm_resp";
    /// cancel_sm
    CancelSm = 0x0000_0008, "cancel_sm";
    /// cancel_sm_resp
    CancelSmResp = 0x8000_0008, "cancel_sm_resp";
    /// bind_transceiver
    BindTransceiver = 0x0000_0009, "bind_transceiver";
    /// bind_transceiver_resp
    BindTransceiverResp = 0x8000_0009, "bind_transceiver_resp";
    /// outbind
    Outbind = 0x0000_000B, "outbind";
    /// enquire_link
    EnquireLink = 0x0000_0015, "enquire_link";
    /// enquire_link_resp
    EnquireLinkResp = 0x8000_0015, "enquire_link_resp";
    /// submit_multi
    SubmitMulti = 0x0000_0021, "submit_multi";
    /// submit_multi_resp
    SubmitMultiResp = 0x8000_0021, "submit_multi_resp";
    /// alert_notification
    AlertNotification = 0x0000_0102, "alert_notification";
    /// data_sm
    DataSm = 0x0000_0103, "data_sm";
    /// data_sm_resp
    DataSmResp = 0x8000_0103, "data_sm_resp";
}

impl CommandId {
    /// The id as on the wire.
    pub fn code(self) -> u32 {
        u32::from(self)
    }

    /// True for response ids (bit 31 set), `generic_nack` included.
    pub fn is_response(self) -> bool {
        self.code() & 0x8000_0000 != 0
    }

    /// The response a peer owes for this request: `submit_sm` → `submit_sm_resp`.
    ///
    /// `None` for responses and for requests that have none (`outbind`, `alert_notification`);
    /// an unknown request is answered with `generic_nack` instead.
    pub fn response(self) -> Option<CommandId> {
        match self {
            Self::Outbind | Self::AlertNotification | Self::Other(_) => None,
            id if id.is_response() => None,
            id => Some(CommandId::from(id.code() | 0x8000_0000)),
        }
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "command {:#010x}", self.code()),
        }
    }
}

/// The four header fields of a PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Total PDU length, header included.
    pub command_length: u32,
    /// What the PDU is.
    pub command_id: CommandId,
    /// Error code (responses); zero in requests.
    pub command_status: CommandStatus,
    /// Correlates a response with its request.
    pub sequence_number: u32,
}

/// A header that cannot be trusted: the stream is out of step and the connection must close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// `command_length` is smaller than the header itself.
    #[error("command_length {0} is shorter than the 16-octet header")]
    TooShort(u32),
    /// `command_length` is above the configured maximum.
    #[error("command_length {length} exceeds the maximum of {max}")]
    TooLong {
        /// What the peer claimed.
        length: u32,
        /// The limit in force.
        max: u32,
    },
}

impl HeaderError {
    /// The status to put in a `generic_nack` before closing (ESME_RINVCMDLEN).
    pub fn status(&self) -> CommandStatus {
        CommandStatus::InvalidCommandLength
    }
}

/// How long the PDU at the start of `buf` is, checking the length before anything is read.
///
/// `Ok(None)`: fewer than 16 octets or fewer than `command_length` octets are buffered.
/// `Ok(Some(n))`: one whole PDU of `n` octets is buffered.
/// `Err`: `command_length` is below 16 or above `max`; the connection must close.
pub fn frame_len(buf: &[u8], max: u32) -> Result<Option<usize>, HeaderError> {
    let Some(prefix) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let length = u32::from_be_bytes(*prefix);
    if (length as usize) < HEADER_LEN {
        return Err(HeaderError::TooShort(length));
    }
    if length > max {
        return Err(HeaderError::TooLong { length, max });
    }
    let length = length as usize;
    Ok((buf.len() >= length).then_some(length))
}

/// Parses the 16 header octets. Length checks are [`frame_len`]'s job.
pub(crate) fn parse_header(input: &[u8]) -> nom::IResult<&[u8], Header> {
    let (rest, (command_length, command_id, command_status, sequence_number)) =
        (be_u32, be_u32, be_u32, be_u32).parse(input)?;
    Ok((
        rest,
        Header {
            command_length,
            command_id: CommandId::from(command_id),
            command_status: CommandStatus::from(command_status),
            sequence_number,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn frame_len_waits_checks_and_measures() {
        assert_eq!(frame_len(&[0, 0, 0], 100), Ok(None));
        assert_eq!(
            frame_len(&[0, 0, 0, 15], 100),
            Err(HeaderError::TooShort(15))
        );
        assert_eq!(
            frame_len(&[0, 0, 1, 0], 100),
            Err(HeaderError::TooLong {
                length: 256,
                max: 100
            })
        );
        let enquire_link = [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1, 0xAA];
        assert_eq!(frame_len(&enquire_link[..15], 100), Ok(None));
        assert_eq!(frame_len(&enquire_link, 100), Ok(Some(16)));
    }

    #[test]
    fn hostile_length_is_refused_before_allocation() {
        assert_eq!(
            frame_len(&[0xFF, 0xFF, 0xFF, 0xFF], DEFAULT_MAX_PDU_LEN),
            Err(HeaderError::TooLong {
                length: u32::MAX,
                max: DEFAULT_MAX_PDU_LEN
            })
        );
    }

    #[test]
    fn response_ids() {
        assert_eq!(
            CommandId::SubmitSm.response(),
            Some(CommandId::SubmitSmResp)
        );
        assert_eq!(
            CommandId::EnquireLink.response(),
            Some(CommandId::EnquireLinkResp)
        );
        assert_eq!(CommandId::DataSm.response(), Some(CommandId::DataSmResp));
        assert_eq!(CommandId::SubmitSmResp.response(), None);
        assert_eq!(CommandId::GenericNack.response(), None);
        assert_eq!(CommandId::Outbind.response(), None);
        assert_eq!(CommandId::AlertNotification.response(), None);
    }

    proptest! {
        #[test]
        fn command_id_round_trips(code in any::<u32>()) {
            let id = CommandId::from(code);
            prop_assert_eq!(u32::from(id), code);
            if let CommandId::Other(v) = id {
                prop_assert!(CommandId::from(v).name().is_none());
            }
        }
    }
}
