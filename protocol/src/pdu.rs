//! Whole PDUs: the [`Pdu`] enum over every SMPP 3.4 command, the [`Command`] that adds the
//! header's status and sequence number, and the two-stage [`decode`] / [`encode`].
//!
//! Owns the choice of body by `command_id`, the rule for response bodies a peer may omit, and
//! the guarantee that a frame whose header is sound always comes back with its header, even
//! when its body is not: the session can then answer it and keep the bind.

use crate::body::{
    AlertNotification, Bind, BindResp, Body, CancelSm, DataSm, DeliverSm, Outbind, QuerySm,
    QuerySmResp, ReplaceSm, SmResp, SubmitMulti, SubmitMultiResp, SubmitSm,
};
use crate::error::{BodyError, EncodeError};
use crate::header::{CommandId, HEADER_LEN, Header, parse_header};
use crate::status::CommandStatus;
use crate::wire::{Copied, Out, PResult, Shared, Source};
use bytes::{Bytes, BytesMut};

/// The body of one SMPP 3.4 PDU, by command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pdu {
    /// `bind_transmitter`.
    BindTransmitter(Bind),
    /// `bind_transmitter_resp`.
    BindTransmitterResp(BindResp),
    /// `bind_receiver`.
    BindReceiver(Bind),
    /// `bind_receiver_resp`.
    BindReceiverResp(BindResp),
    /// `bind_transceiver`.
    BindTransceiver(Bind),
    /// `bind_transceiver_resp`.
    BindTransceiverResp(BindResp),
    /// `outbind`.
    Outbind(Outbind),
    /// `unbind`.
    Unbind,
    /// `unbind_resp`.
    UnbindResp,
    /// `generic_nack`.
    GenericNack,
    /// `submit_sm`.
    SubmitSm(SubmitSm),
    /// `submit_sm_resp`.
    SubmitSmResp(SmResp),
    /// `submit_multi`.
    SubmitMulti(SubmitMulti),
    /// `submit_multi_resp`.
    SubmitMultiResp(SubmitMultiResp),
    /// `deliver_sm`.
    DeliverSm(DeliverSm),
    /// `deliver_sm_resp`.
    DeliverSmResp(SmResp),
    /// `data_sm`.
    DataSm(DataSm),
    /// `data_sm_resp`.
    DataSmResp(SmResp),
    /// `query_sm`.
    QuerySm(QuerySm),
    /// `query_sm_resp`.
    QuerySmResp(QuerySmResp),
    /// `cancel_sm`.
    CancelSm(CancelSm),
    /// `cancel_sm_resp`.
    CancelSmResp,
    /// `replace_sm`.
    ReplaceSm(ReplaceSm),
    /// `replace_sm_resp`.
    ReplaceSmResp,
    /// `enquire_link`.
    EnquireLink,
    /// `enquire_link_resp`.
    EnquireLinkResp,
    /// `alert_notification`.
    AlertNotification(AlertNotification),
    /// A command SMPP 3.4 does not define, kept whole; answer it with `generic_nack`
    /// (ESME_RINVCMDID).
    Other {
        /// The unknown `command_id`.
        command_id: u32,
        /// The body as received.
        body: Bytes,
    },
}

impl Pdu {
    /// The `command_id` this body goes with.
    pub fn command_id(&self) -> CommandId {
        match self {
            Self::BindTransmitter(_) => CommandId::BindTransmitter,
            Self::BindTransmitterResp(_) => CommandId::BindTransmitterResp,
            Self::BindReceiver(_) => CommandId::BindReceiver,
            Self::BindReceiverResp(_) => CommandId::BindReceiverResp,
            Self::BindTransceiver(_) => CommandId::BindTransceiver,
            Self::BindTransceiverResp(_) => CommandId::BindTransceiverResp,
            Self::Outbind(_) => CommandId::Outbind,
            Self::Unbind => CommandId::Unbind,
            Self::UnbindResp => CommandId::UnbindResp,
            Self::GenericNack => CommandId::GenericNack,
            Self::SubmitSm(_) => CommandId::SubmitSm,
            Self::SubmitSmResp(_) => CommandId::SubmitSmResp,
            Self::SubmitMulti(_) => CommandId::SubmitMulti,
            Self::SubmitMultiResp(_) => CommandId::SubmitMultiResp,
            Self::DeliverSm(_) => CommandId::DeliverSm,
            Self::DeliverSmResp(_) => CommandId::DeliverSmResp,
            Self::DataSm(_) => CommandId::DataSm,
            Self::DataSmResp(_) => CommandId::DataSmResp,
            Self::QuerySm(_) => CommandId::QuerySm,
            Self::QuerySmResp(_) => CommandId::QuerySmResp,
            Self::CancelSm(_) => CommandId::CancelSm,
            Self::CancelSmResp => CommandId::CancelSmResp,
            Self::ReplaceSm(_) => CommandId::ReplaceSm,
            Self::ReplaceSmResp => CommandId::ReplaceSmResp,
            Self::EnquireLink => CommandId::EnquireLink,
            Self::EnquireLinkResp => CommandId::EnquireLinkResp,
            Self::AlertNotification(_) => CommandId::AlertNotification,
            Self::Other { command_id, .. } => CommandId::from(*command_id),
        }
    }

    /// Applies `f` to the body of this PDU, if it has one.
    fn with_body<R>(&self, f: impl BodyVisitor<R>) -> Option<R> {
        Some(match self {
            Self::BindTransmitter(b) | Self::BindReceiver(b) | Self::BindTransceiver(b) => {
                f.visit(b)
            }
            Self::BindTransmitterResp(b)
            | Self::BindReceiverResp(b)
            | Self::BindTransceiverResp(b) => f.visit(b),
            Self::Outbind(b) => f.visit(b),
            Self::SubmitSm(b) | Self::DeliverSm(b) => f.visit(b),
            Self::SubmitSmResp(b) | Self::DeliverSmResp(b) | Self::DataSmResp(b) => f.visit(b),
            Self::SubmitMulti(b) => f.visit(b),
            Self::SubmitMultiResp(b) => f.visit(b),
            Self::DataSm(b) => f.visit(b),
            Self::QuerySm(b) => f.visit(b),
            Self::QuerySmResp(b) => f.visit(b),
            Self::CancelSm(b) => f.visit(b),
            Self::ReplaceSm(b) => f.visit(b),
            Self::AlertNotification(b) => f.visit(b),
            Self::Unbind
            | Self::UnbindResp
            | Self::GenericNack
            | Self::CancelSmResp
            | Self::ReplaceSmResp
            | Self::EnquireLink
            | Self::EnquireLinkResp
            | Self::Other { .. } => return None,
        })
    }

    /// True for the responses whose body a peer leaves out when the status is an error
    /// (§4.1.2, §4.4.2 …: "The body is not returned if the command_status field contains a
    /// non-zero value"), and whose body here is all defaults.
    fn is_omittable_resp(&self) -> bool {
        match self {
            Self::BindTransmitterResp(b)
            | Self::BindReceiverResp(b)
            | Self::BindTransceiverResp(b) => *b == BindResp::default(),
            Self::SubmitSmResp(b) | Self::DeliverSmResp(b) | Self::DataSmResp(b) => {
                *b == SmResp::default()
            }
            Self::SubmitMultiResp(b) => *b == SubmitMultiResp::default(),
            Self::QuerySmResp(b) => *b == QuerySmResp::default(),
            _ => false,
        }
    }

    fn body_len(&self) -> usize {
        match self {
            Self::Other { body, .. } => body.len(),
            _ => self.with_body(LenVisitor).unwrap_or(0),
        }
    }
}

trait BodyVisitor<R> {
    fn visit<B: Body>(self, body: &B) -> R;
}

struct LenVisitor;
impl BodyVisitor<usize> for LenVisitor {
    fn visit<B: Body>(self, body: &B) -> usize {
        body.encoded_len()
    }
}

struct CheckedLenVisitor;
impl BodyVisitor<Result<usize, EncodeError>> for CheckedLenVisitor {
    fn visit<B: Body>(self, body: &B) -> Result<usize, EncodeError> {
        body.checked_len()
    }
}

struct WriteVisitor<'d, 'b>(&'d mut Out<'b>);
impl BodyVisitor<()> for WriteVisitor<'_, '_> {
    fn visit<B: Body>(self, body: &B) {
        body.write(self.0);
    }
}

/// A PDU with the header fields that are not derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// `command_status`: zero in requests, the outcome in responses.
    pub status: CommandStatus,
    /// `sequence_number`: 1..=0x7FFFFFFF, echoed by the response.
    pub sequence_number: u32,
    /// The body.
    pub pdu: Pdu,
}

impl Command {
    /// A command with status `ESME_ROK`.
    pub fn new(sequence_number: u32, pdu: Pdu) -> Self {
        Self {
            status: CommandStatus::Ok,
            sequence_number,
            pdu,
        }
    }

    /// A command with the given status.
    pub fn with_status(status: CommandStatus, sequence_number: u32, pdu: Pdu) -> Self {
        Self {
            status,
            sequence_number,
            pdu,
        }
    }

    /// Octets this command takes on the wire, header included.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
            + if self.omits_body() {
                0
            } else {
                self.pdu.body_len()
            }
    }

    fn omits_body(&self) -> bool {
        !self.status.is_ok() && self.pdu.is_omittable_resp()
    }
}

/// One PDU off the wire: the header always, the body if it decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The four header fields.
    pub header: Header,
    /// The decoded body, or why it did not decode.
    pub body: Result<Pdu, BodyError>,
}

impl Frame {
    /// The command, or the body error with the header kept for the answer.
    pub fn into_command(self) -> Result<Command, (Header, BodyError)> {
        match self.body {
            Ok(pdu) => Ok(Command {
                status: self.header.command_status,
                sequence_number: self.header.sequence_number,
                pdu,
            }),
            Err(e) => Err((self.header, e)),
        }
    }
}

/// The answer owed to a PDU whose body did not decode: the command's own `_resp` with the
/// error status where one exists, else `generic_nack`; same sequence number. `None` when no
/// answer is due (a response, `outbind`, `alert_notification`).
pub fn error_response(header: &Header, status: CommandStatus) -> Option<Command> {
    let id = header.command_id;
    if id.is_response() || matches!(id, CommandId::Outbind | CommandId::AlertNotification) {
        return None;
    }
    let pdu = match id.response() {
        Some(CommandId::BindTransmitterResp) => Pdu::BindTransmitterResp(BindResp::default()),
        Some(CommandId::BindReceiverResp) => Pdu::BindReceiverResp(BindResp::default()),
        Some(CommandId::BindTransceiverResp) => Pdu::BindTransceiverResp(BindResp::default()),
        Some(CommandId::SubmitSmResp) => Pdu::SubmitSmResp(SmResp::default()),
        Some(CommandId::DeliverSmResp) => Pdu::DeliverSmResp(SmResp::default()),
        Some(CommandId::DataSmResp) => Pdu::DataSmResp(SmResp::default()),
        Some(CommandId::SubmitMultiResp) => Pdu::SubmitMultiResp(SubmitMultiResp::default()),
        Some(CommandId::QuerySmResp) => Pdu::QuerySmResp(QuerySmResp::default()),
        Some(CommandId::CancelSmResp) => Pdu::CancelSmResp,
        Some(CommandId::ReplaceSmResp) => Pdu::ReplaceSmResp,
        Some(CommandId::UnbindResp) => Pdu::UnbindResp,
        Some(CommandId::EnquireLinkResp) => Pdu::EnquireLinkResp,
        _ => Pdu::GenericNack,
    };
    Some(Command::with_status(status, header.sequence_number, pdu))
}

/// Decodes one PDU held exactly by `pdu` (as measured by [`crate::frame_len`]), copying its
/// octet strings out.
///
/// The header is read from the first 16 octets; `command_length` is not consulted, so the
/// caller's framing decides where the PDU ends. Panics never; a `pdu` shorter than 16 octets
/// gives a zeroed header with a [`BodyError::Truncated`] body.
pub fn decode(pdu: &[u8]) -> Frame {
    decode_with(pdu, &Copied)
}

/// Like [`decode`], but octet strings (`short_message`, TLV values) share `pdu`'s buffer
/// instead of being copied: what a framed reader that splits frames off a `BytesMut` uses.
pub fn decode_shared(pdu: &Bytes) -> Frame {
    decode_with(pdu.as_ref(), &Shared(pdu))
}

fn decode_with<S: Source>(pdu: &[u8], src: &S) -> Frame {
    let (body, header) = match parse_header(pdu) {
        Ok((body, header)) => (body, header),
        Err(_) => {
            let header = Header {
                command_length: pdu.len() as u32,
                command_id: CommandId::Other(0),
                command_status: CommandStatus::Ok,
                sequence_number: 0,
            };
            return Frame {
                header,
                body: Err(BodyError::Truncated { field: "header" }),
            };
        }
    };
    let body = decode_body(header.command_id, body, src);
    Frame { header, body }
}

fn run<'a, T>(
    i: &'a [u8],
    parser: impl FnOnce(&'a [u8]) -> PResult<'a, T>,
) -> Result<T, BodyError> {
    match parser(i) {
        Ok((_, value)) => Ok(value),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e),
        Err(nom::Err::Incomplete(_)) => Err(BodyError::Truncated { field: "body" }),
    }
}

fn body<B: Body, S: Source>(i: &[u8], src: &S) -> Result<B, BodyError> {
    run(i, |i| B::parse(i, src))
}

/// A response body that may be omitted: empty means all defaults.
fn resp_body<B: Body + Default, S: Source>(i: &[u8], src: &S) -> Result<B, BodyError> {
    if i.is_empty() {
        Ok(B::default())
    } else {
        body(i, src)
    }
}

fn empty(i: &[u8], pdu: Pdu) -> Result<Pdu, BodyError> {
    if i.is_empty() {
        Ok(pdu)
    } else {
        Err(BodyError::TrailingBytes(i.len()))
    }
}

fn decode_body<S: Source>(id: CommandId, i: &[u8], src: &S) -> Result<Pdu, BodyError> {
    use CommandId as C;
    Ok(match id {
        C::BindTransmitter => Pdu::BindTransmitter(body(i, src)?),
        C::BindReceiver => Pdu::BindReceiver(body(i, src)?),
        C::BindTransceiver => Pdu::BindTransceiver(body(i, src)?),
        C::BindTransmitterResp => Pdu::BindTransmitterResp(resp_body(i, src)?),
        C::BindReceiverResp => Pdu::BindReceiverResp(resp_body(i, src)?),
        C::BindTransceiverResp => Pdu::BindTransceiverResp(resp_body(i, src)?),
        C::Outbind => Pdu::Outbind(body(i, src)?),
        C::Unbind => empty(i, Pdu::Unbind)?,
        C::UnbindResp => empty(i, Pdu::UnbindResp)?,
        C::GenericNack => empty(i, Pdu::GenericNack)?,
        C::SubmitSm => Pdu::SubmitSm(body(i, src)?),
        C::SubmitSmResp => Pdu::SubmitSmResp(resp_body(i, src)?),
        C::SubmitMulti => Pdu::SubmitMulti(body(i, src)?),
        C::SubmitMultiResp => Pdu::SubmitMultiResp(resp_body(i, src)?),
        C::DeliverSm => Pdu::DeliverSm(body(i, src)?),
        C::DeliverSmResp => Pdu::DeliverSmResp(resp_body(i, src)?),
        C::DataSm => Pdu::DataSm(body(i, src)?),
        C::DataSmResp => Pdu::DataSmResp(resp_body(i, src)?),
        C::QuerySm => Pdu::QuerySm(body(i, src)?),
        C::QuerySmResp => Pdu::QuerySmResp(resp_body(i, src)?),
        C::CancelSm => Pdu::CancelSm(body(i, src)?),
        C::CancelSmResp => empty(i, Pdu::CancelSmResp)?,
        C::ReplaceSm => Pdu::ReplaceSm(body(i, src)?),
        C::ReplaceSmResp => empty(i, Pdu::ReplaceSmResp)?,
        C::EnquireLink => empty(i, Pdu::EnquireLink)?,
        C::EnquireLinkResp => empty(i, Pdu::EnquireLinkResp)?,
        C::AlertNotification => Pdu::AlertNotification(body(i, src)?),
        C::Other(command_id) => Pdu::Other {
            command_id,
            body: src.bytes(i),
        },
    })
}

/// Appends `cmd` to `dst`: the exact length is computed first, the space zeroed once, and
/// every field written into it in one pass.
pub fn encode(cmd: &Command, dst: &mut BytesMut) -> Result<(), EncodeError> {
    let body_len = if cmd.omits_body() {
        0
    } else {
        match &cmd.pdu {
            Pdu::Other { body, .. } => body.len(),
            pdu => pdu.with_body(CheckedLenVisitor).unwrap_or(Ok(0))?,
        }
    };
    let len = HEADER_LEN + body_len;
    let len32 = u32::try_from(len).map_err(|_| EncodeError::TooLong(len))?;
    let start = dst.len();
    dst.resize(start + len, 0);
    let mut out = Out::new(&mut dst[start..]);
    out.u32(len32);
    out.u32(cmd.pdu.command_id().code());
    out.u32(cmd.status.code());
    out.u32(cmd.sequence_number);
    if !cmd.omits_body() {
        match &cmd.pdu {
            Pdu::Other { body, .. } => out.slice(body),
            pdu => {
                pdu.with_body(WriteVisitor(&mut out));
            }
        }
    }
    debug_assert_eq!(out.written(), len, "encoded_len out of step with write");
    Ok(())
}

/// [`encode`] into a new buffer.
pub fn encode_to_vec(cmd: &Command) -> Result<Vec<u8>, EncodeError> {
    let mut buf = BytesMut::with_capacity(cmd.encoded_len());
    encode(cmd, &mut buf)?;
    Ok(buf.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::body::{SubmitMulti, SubmitSm};
    use crate::tlv::Tlv;

    #[test]
    fn values_too_long_for_their_length_fields_are_refused_and_nothing_is_written() {
        let payload = Bytes::from(vec![b'x'; 65_536]);
        let cmd = Command::new(
            1,
            Pdu::SubmitSm(SubmitSm {
                tlvs: vec![Tlv::MessagePayload(payload)],
                ..SubmitSm::default()
            }),
        );
        let mut out = BytesMut::new();
        assert_eq!(
            encode(&cmd, &mut out),
            Err(EncodeError::TlvTooLong {
                tag: 0x0424,
                len: 65_536
            })
        );
        assert!(out.is_empty());
        let cmd = Command::new(
            1,
            Pdu::SubmitSm(SubmitSm {
                short_message: Bytes::from(vec![0; 255]),
                ..SubmitSm::default()
            }),
        );
        assert_eq!(
            encode(&cmd, &mut out),
            Err(EncodeError::ShortMessageTooLong(255))
        );
        let dests = vec![crate::body::DestAddress::DistributionList(Default::default()); 255];
        let cmd = Command::new(
            1,
            Pdu::SubmitMulti(SubmitMulti {
                dest_addresses: dests,
                ..SubmitMulti::default()
            }),
        );
        assert!(matches!(
            encode(&cmd, &mut out),
            Err(EncodeError::TooManyEntries {
                len: 255,
                max: 254,
                ..
            })
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn pdu_stays_small_enough_to_move() {
        assert!(
            std::mem::size_of::<Pdu>() <= 256,
            "{}",
            std::mem::size_of::<Pdu>()
        );
    }
}
