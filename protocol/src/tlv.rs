//! Optional parameters (SMPP 3.4 §5.3): every TLV the spec defines, typed, and any other tag
//! kept raw.
//!
//! Owns the tag numbers, each value's wire format, and the rule for odd values: an unknown or
//! vendor tag (0x1400–0x3FFF) is kept as [`Tlv::Other`] and re-encodes byte for byte; a known
//! tag whose value has the wrong size for its type is kept the same way rather than failing the
//! whole PDU, since the mandatory part of the PDU is still good. TLVs stay in wire order.

use crate::error::{BodyError, EncodeError};
use crate::octets::TlvString;
use crate::wire::{Out, PResult, Source};
use bytes::Bytes;
use std::fmt;

/// `network_error_code` (§5.3.2.31): which network reported the error and its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkErrorCode {
    /// 1 ANSI-136, 2 IS-95, 3 GSM, 4 reserved, …
    pub network_type: u8,
    /// The network's own error code.
    pub error_code: u16,
}

/// How one TLV value type is read and written.
trait TlvValue: Sized {
    fn decode<S: Source>(value: &[u8], src: &S) -> Option<Self>;
    fn len(&self) -> usize;
    fn write(&self, dst: &mut Out<'_>);
}

impl TlvValue for u8 {
    fn decode<S: Source>(value: &[u8], _: &S) -> Option<Self> {
        match value {
            [v] => Some(*v),
            _ => None,
        }
    }
    fn len(&self) -> usize {
        1
    }
    fn write(&self, dst: &mut Out<'_>) {
        dst.u8(*self);
    }
}

impl TlvValue for u16 {
    fn decode<S: Source>(value: &[u8], _: &S) -> Option<Self> {
        value.try_into().ok().map(u16::from_be_bytes)
    }
    fn len(&self) -> usize {
        2
    }
    fn write(&self, dst: &mut Out<'_>) {
        dst.u16(*self);
    }
}

impl TlvValue for u32 {
    fn decode<S: Source>(value: &[u8], _: &S) -> Option<Self> {
        value.try_into().ok().map(u32::from_be_bytes)
    }
    fn len(&self) -> usize {
        4
    }
    fn write(&self, dst: &mut Out<'_>) {
        dst.u32(*self);
    }
}

impl TlvValue for () {
    fn decode<S: Source>(value: &[u8], _: &S) -> Option<Self> {
        value.is_empty().then_some(())
    }
    fn len(&self) -> usize {
        0
    }
    fn write(&self, _: &mut Out<'_>) {}
}

impl TlvValue for Bytes {
    fn decode<S: Source>(value: &[u8], src: &S) -> Option<Self> {
        Some(src.bytes(value))
    }
    fn len(&self) -> usize {
        self.as_ref().len()
    }
    fn write(&self, dst: &mut Out<'_>) {
        dst.slice(self);
    }
}

impl TlvValue for TlvString {
    fn decode<S: Source>(value: &[u8], src: &S) -> Option<Self> {
        Some(TlvString::from_wire(src.bytes(value)))
    }
    fn len(&self) -> usize {
        self.raw().len()
    }
    fn write(&self, dst: &mut Out<'_>) {
        dst.slice(self.raw());
    }
}

impl TlvValue for NetworkErrorCode {
    fn decode<S: Source>(value: &[u8], _: &S) -> Option<Self> {
        match value {
            [network_type, hi, lo] => Some(Self {
                network_type: *network_type,
                error_code: u16::from_be_bytes([*hi, *lo]),
            }),
            _ => None,
        }
    }
    fn len(&self) -> usize {
        3
    }
    fn write(&self, dst: &mut Out<'_>) {
        dst.u8(self.network_type);
        dst.u16(self.error_code);
    }
}

macro_rules! tlvs {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty) = $tag:literal, $konst:ident; )*) => {
        /// A TLV tag (§5.3.2): an open set; the constants are the SMPP 3.4 tags.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct TlvTag(pub u16);

        impl TlvTag {
            $( $(#[$doc])* pub const $konst: Self = Self($tag); )*

            /// The spec's name for a known tag.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $tag => Some(stringify!($konst)), )*
                    _ => None,
                }
            }
        }

        /// One optional parameter.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Tlv {
            $( $(#[$doc])* $variant($ty), )*
            /// A tag SMPP 3.4 does not define (vendor tags 0x1400–0x3FFF among them), or a
            /// known tag whose value has the wrong size: the value exactly as received.
            Other {
                /// The tag.
                tag: u16,
                /// The raw value.
                value: Bytes,
            },
        }

        impl Tlv {
            /// This TLV's tag.
            pub fn tag(&self) -> TlvTag {
                match self {
                    $( Self::$variant(_) => TlvTag($tag), )*
                    Self::Other { tag, .. } => TlvTag(*tag),
                }
            }

            fn value_len(&self) -> usize {
                match self {
                    $( Self::$variant(v) => TlvValue::len(v), )*
                    Self::Other { value, .. } => value.len(),
                }
            }

            fn write_value(&self, dst: &mut Out<'_>) {
                match self {
                    $( Self::$variant(v) => TlvValue::write(v, dst), )*
                    Self::Other { value, .. } => dst.slice(value),
                }
            }

            fn from_wire<S: Source>(tag: u16, value: &[u8], src: &S) -> Self {
                let typed = match tag {
                    $( $tag => <$ty as TlvValue>::decode(value, src).map(Self::$variant), )*
                    _ => None,
                };
                typed.unwrap_or_else(|| Self::Other { tag, value: src.bytes(value) })
            }
        }
    };
}

tlvs! {
    /// `dest_addr_subunit` (§5.3.2.1).
    DestAddrSubunit(u8) = 0x0005, DEST_ADDR_SUBUNIT;
    /// `dest_network_type` (§5.3.2.3).
    DestNetworkType(u8) = 0x0006, DEST_NETWORK_TYPE;
    /// `dest_bearer_type` (§5.3.2.5).
    DestBearerType(u8) = 0x0007, DEST_BEARER_TYPE;
    /// `dest_telematics_id` (§5.3.2.7).
    DestTelematicsId(u16) = 0x0008, DEST_TELEMATICS_ID;
    /// `source_addr_subunit` (§5.3.2.2).
    SourceAddrSubunit(u8) = 0x000D, SOURCE_ADDR_SUBUNIT;
    /// `source_network_type` (§5.3.2.4).
    SourceNetworkType(u8) = 0x000E, SOURCE_NETWORK_TYPE;
    /// `source_bearer_type` (§5.3.2.6).
    SourceBearerType(u8) = 0x000F, SOURCE_BEARER_TYPE;
    /// `source_telematics_id` (§5.3.2.8).
    SourceTelematicsId(u8) = 0x0010, SOURCE_TELEMATICS_ID;
    /// `qos_time_to_live` in seconds (§5.3.2.9).
    QosTimeToLive(u32) = 0x0017, QOS_TIME_TO_LIVE;
    /// `payload_type` (§5.3.2.10).
    PayloadType(u8) = 0x0019, PAYLOAD_TYPE;
    /// `additional_status_info_text` (§5.3.2.11).
    AdditionalStatusInfoText(TlvString) = 0x001D, ADDITIONAL_STATUS_INFO_TEXT;
    /// `receipted_message_id` (§5.3.2.12): the SMSC id of the message a receipt is for.
    ReceiptedMessageId(TlvString) = 0x001E, RECEIPTED_MESSAGE_ID;
    /// `ms_msg_wait_facilities` (§5.3.2.13).
    MsMsgWaitFacilities(u8) = 0x0030, MS_MSG_WAIT_FACILITIES;
    /// `privacy_indicator` (§5.3.2.14).
    PrivacyIndicator(u8) = 0x0201, PRIVACY_INDICATOR;
    /// `source_subaddress` (§5.3.2.15).
    SourceSubaddress(Bytes) = 0x0202, SOURCE_SUBADDRESS;
    /// `dest_subaddress` (§5.3.2.16).
    DestSubaddress(Bytes) = 0x0203, DEST_SUBADDRESS;
    /// `user_message_reference` (§5.3.2.17).
    UserMessageReference(u16) = 0x0204, USER_MESSAGE_REFERENCE;
    /// `user_response_code` (§5.3.2.18).
    UserResponseCode(u8) = 0x0205, USER_RESPONSE_CODE;
    /// `source_port` (§5.3.2.20).
    SourcePort(u16) = 0x020A, SOURCE_PORT;
    /// `destination_port` (§5.3.2.21).
    DestinationPort(u16) = 0x020B, DESTINATION_PORT;
    /// `sar_msg_ref_num` (§5.3.2.22): reference shared by the segments of one message.
    SarMsgRefNum(u16) = 0x020C, SAR_MSG_REF_NUM;
    /// `language_indicator` (§5.3.2.19).
    LanguageIndicator(u8) = 0x020D, LANGUAGE_INDICATOR;
    /// `sar_total_segments` (§5.3.2.23).
    SarTotalSegments(u8) = 0x020E, SAR_TOTAL_SEGMENTS;
    /// `sar_segment_seqnum` (§5.3.2.24), from 1.
    SarSegmentSeqnum(u8) = 0x020F, SAR_SEGMENT_SEQNUM;
    /// `sc_interface_version` (§5.3.2.25), in bind responses.
    ScInterfaceVersion(u8) = 0x0210, SC_INTERFACE_VERSION;
    /// `callback_num_pres_ind` (§5.3.2.37).
    CallbackNumPresInd(u8) = 0x0302, CALLBACK_NUM_PRES_IND;
    /// `callback_num_atag` (§5.3.2.38).
    CallbackNumAtag(Bytes) = 0x0303, CALLBACK_NUM_ATAG;
    /// `number_of_messages` (§5.3.2.39).
    NumberOfMessages(u8) = 0x0304, NUMBER_OF_MESSAGES;
    /// `callback_num` (§5.3.2.36).
    CallbackNum(Bytes) = 0x0381, CALLBACK_NUM;
    /// `dpf_result` (§5.3.2.28).
    DpfResult(u8) = 0x0420, DPF_RESULT;
    /// `set_dpf` (§5.3.2.29).
    SetDpf(u8) = 0x0421, SET_DPF;
    /// `ms_availability_status` (§5.3.2.30).
    MsAvailabilityStatus(u8) = 0x0422, MS_AVAILABILITY_STATUS;
    /// `network_error_code` (§5.3.2.31).
    NetworkErrorCode(NetworkErrorCode) = 0x0423, NETWORK_ERROR_CODE;
    /// `message_payload` (§5.3.2.32): the message when it is too long for `short_message`.
    MessagePayload(Bytes) = 0x0424, MESSAGE_PAYLOAD;
    /// `delivery_failure_reason` (§5.3.2.33).
    DeliveryFailureReason(u8) = 0x0425, DELIVERY_FAILURE_REASON;
    /// `more_messages_to_send` (§5.3.2.34).
    MoreMessagesToSend(u8) = 0x0426, MORE_MESSAGES_TO_SEND;
    /// `message_state` (§5.3.2.35), in receipts and `data_sm`.
    MessageState(u8) = 0x0427, MESSAGE_STATE;
    /// `ussd_service_op` (§5.3.2.44).
    UssdServiceOp(u8) = 0x0501, USSD_SERVICE_OP;
    /// `display_time` (§5.3.2.26).
    DisplayTime(u8) = 0x1201, DISPLAY_TIME;
    /// `sms_signal` (§5.3.2.40).
    SmsSignal(u16) = 0x1203, SMS_SIGNAL;
    /// `ms_validity` (§5.3.2.27).
    MsValidity(u8) = 0x1204, MS_VALIDITY;
    /// `alert_on_message_delivery` (§5.3.2.41): no value.
    AlertOnMessageDelivery(()) = 0x130C, ALERT_ON_MESSAGE_DELIVERY;
    /// `its_reply_type` (§5.3.2.42).
    ItsReplyType(u8) = 0x1380, ITS_REPLY_TYPE;
    /// `its_session_info` (§5.3.2.43): session number and sequence octet.
    ItsSessionInfo(u16) = 0x1383, ITS_SESSION_INFO;
}

impl fmt::Debug for TlvTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "TlvTag::{n}"),
            None => write!(f, "TlvTag({:#06x})", self.0),
        }
    }
}

impl Tlv {
    /// Octets on the wire: tag, length and value.
    pub fn encoded_len(&self) -> usize {
        4 + self.value_len()
    }

    pub(crate) fn write(&self, dst: &mut Out<'_>) {
        dst.u16(self.tag().0);
        dst.u16(self.value_len() as u16);
        self.write_value(dst);
    }
}

/// Reads TLVs to the end of the body. `body_len` is the whole body's length, for error offsets.
pub(crate) fn parse_tlvs<'a, S: Source>(
    mut i: &'a [u8],
    src: &S,
    body_len: usize,
) -> PResult<'a, Vec<Tlv>> {
    let mut tlvs = Vec::new();
    while !i.is_empty() {
        let offset = body_len - i.len();
        let Some((head, rest)) = i.split_first_chunk::<4>() else {
            return Err(nom::Err::Error(BodyError::TlvStream {
                offset,
                reason: "fewer than 4 octets left for tag and length",
            }));
        };
        let tag = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        if rest.len() < len {
            return Err(nom::Err::Error(BodyError::TlvStream {
                offset,
                reason: "value runs past the end of the PDU",
            }));
        }
        let (value, rest) = rest.split_at(len);
        tlvs.push(Tlv::from_wire(tag, value, src));
        i = rest;
    }
    Ok((i, tlvs))
}

pub(crate) fn tlvs_len(tlvs: &[Tlv]) -> usize {
    tlvs.iter().map(Tlv::encoded_len).sum()
}

/// [`tlvs_len`], refusing a value longer than its 16-bit length field allows.
pub(crate) fn tlvs_len_checked(tlvs: &[Tlv]) -> Result<usize, EncodeError> {
    tlvs.iter().try_fold(0, |sum, tlv| {
        let len = tlv.value_len();
        if len > usize::from(u16::MAX) {
            return Err(EncodeError::TlvTooLong {
                tag: tlv.tag().0,
                len,
            });
        }
        Ok(sum + 4 + len)
    })
}

pub(crate) fn write_tlvs(dst: &mut Out<'_>, tlvs: &[Tlv]) {
    for tlv in tlvs {
        tlv.write(dst);
    }
}

/// Typed look-ups over a PDU's TLV list (first occurrence wins).
pub trait TlvList {
    /// The first TLV with this tag.
    fn find(&self, tag: TlvTag) -> Option<&Tlv>;
    /// `receipted_message_id`, without any trailing NUL.
    fn receipted_message_id(&self) -> Option<&[u8]>;
    /// `message_state`.
    fn message_state(&self) -> Option<u8>;
    /// `network_error_code`.
    fn network_error_code(&self) -> Option<NetworkErrorCode>;
    /// `message_payload`.
    fn message_payload(&self) -> Option<&Bytes>;
    /// `(sar_msg_ref_num, sar_total_segments, sar_segment_seqnum)` when all three are present.
    fn sar(&self) -> Option<(u16, u8, u8)>;
}

impl TlvList for [Tlv] {
    fn find(&self, tag: TlvTag) -> Option<&Tlv> {
        self.iter().find(|t| t.tag() == tag)
    }

    fn receipted_message_id(&self) -> Option<&[u8]> {
        self.iter().find_map(|t| match t {
            Tlv::ReceiptedMessageId(id) => Some(id.as_bytes()),
            _ => None,
        })
    }

    fn message_state(&self) -> Option<u8> {
        self.iter().find_map(|t| match t {
            Tlv::MessageState(s) => Some(*s),
            _ => None,
        })
    }

    fn network_error_code(&self) -> Option<NetworkErrorCode> {
        self.iter().find_map(|t| match t {
            Tlv::NetworkErrorCode(c) => Some(*c),
            _ => None,
        })
    }

    fn message_payload(&self) -> Option<&Bytes> {
        self.iter().find_map(|t| match t {
            Tlv::MessagePayload(p) => Some(p),
            _ => None,
        })
    }

    fn sar(&self) -> Option<(u16, u8, u8)> {
        let mut reference = None;
        let mut total = None;
        let mut seqnum = None;
        for t in self {
            match t {
                Tlv::SarMsgRefNum(v) => reference = reference.or(Some(*v)),
                Tlv::SarTotalSegments(v) => total = total.or(Some(*v)),
                Tlv::SarSegmentSeqnum(v) => seqnum = seqnum.or(Some(*v)),
                _ => {}
            }
        }
        Some((reference?, total?, seqnum?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Copied;

    fn one(wire: &[u8]) -> Tlv {
        let (rest, mut tlvs) = parse_tlvs(wire, &Copied, wire.len()).unwrap();
        assert!(rest.is_empty());
        assert_eq!(tlvs.len(), 1);
        let tlv = tlvs.remove(0);
        let mut out = vec![0; tlv.encoded_len()];
        tlv.write(&mut Out::new(&mut out));
        assert_eq!(&out[..], wire, "re-encodes byte for byte");
        tlv
    }

    #[test]
    fn typed_known_tags() {
        assert_eq!(one(&[0x04, 0x27, 0x00, 0x01, 0x02]), Tlv::MessageState(2));
        assert_eq!(
            one(&[0x02, 0x0C, 0x00, 0x02, 0x12, 0x34]),
            Tlv::SarMsgRefNum(0x1234)
        );
        assert_eq!(
            one(&[0x00, 0x17, 0x00, 0x04, 0, 0, 0x0E, 0x10]),
            Tlv::QosTimeToLive(3600)
        );
        assert_eq!(
            one(&[0x04, 0x23, 0x00, 0x03, 0x03, 0x00, 0x22]),
            Tlv::NetworkErrorCode(NetworkErrorCode {
                network_type: 3,
                error_code: 0x22
            })
        );
        assert_eq!(
            one(&[0x13, 0x0C, 0x00, 0x00]),
            Tlv::AlertOnMessageDelivery(())
        );
        assert!(
            matches!(one(&[0x00, 0x1E, 0x00, 0x04, b'a', b'b', b'c', 0]), Tlv::ReceiptedMessageId(ref s) if s.as_bytes() == b"abc")
        );
        // Seen in the field: receipted_message_id without its NUL.
        assert!(
            matches!(one(&[0x00, 0x1E, 0x00, 0x03, b'a', b'b', b'c']), Tlv::ReceiptedMessageId(ref s) if s.as_bytes() == b"abc")
        );
    }

    #[test]
    fn vendor_and_misshapen_tags_are_kept_raw() {
        assert_eq!(
            one(&[0x14, 0x00, 0x00, 0x02, 0xAB, 0xCD]),
            Tlv::Other {
                tag: 0x1400,
                value: Bytes::from_static(&[0xAB, 0xCD])
            }
        );
        // message_state must be one octet; two are kept raw rather than failing the PDU.
        assert_eq!(
            one(&[0x04, 0x27, 0x00, 0x02, 0x00, 0x02]),
            Tlv::Other {
                tag: 0x0427,
                value: Bytes::from_static(&[0x00, 0x02])
            }
        );
    }

    #[test]
    fn broken_tlv_stream_is_an_error_with_offset() {
        let short_header = [0x04, 0x27, 0x00];
        assert!(matches!(
            parse_tlvs(&short_header, &Copied, 10),
            Err(nom::Err::Error(BodyError::TlvStream { offset: 7, .. }))
        ));
        let overrun = [0x04, 0x24, 0x00, 0x09, 1, 2];
        assert!(matches!(
            parse_tlvs(&overrun, &Copied, 6),
            Err(nom::Err::Error(BodyError::TlvStream { offset: 0, .. }))
        ));
    }

    #[test]
    fn list_lookups() {
        let tlvs = [
            Tlv::SarMsgRefNum(7),
            Tlv::SarTotalSegments(3),
            Tlv::SarSegmentSeqnum(2),
            Tlv::MessageState(5),
        ];
        assert_eq!(tlvs.sar(), Some((7, 3, 2)));
        assert_eq!(tlvs.message_state(), Some(5));
        assert_eq!(tlvs[..1].sar(), None);
    }
}
