//! Properties of the codec over generated PDUs: every `Command` survives encode then decode,
//! the encoding survives decode then encode, `encoded_len` is the encoded length, and no input,
//! however malformed, makes `decode` or `frame_len` panic. With the `codec` feature, the
//! `SmppCodec` splits streams into the same frames however the bytes arrive.
#![allow(clippy::unwrap_used)]

#[path = "fixtures/pdus.rs"]
mod pdus;

use bytes::Bytes;
use kori_smpp::COctetString;
use kori_smpp::{
    AlertNotification, Bind, BindResp, CancelSm, Command, CommandId, CommandStatus, DataCoding,
    DataSm, DestAddress, EsmClass, InterfaceVersion, NetworkErrorCode, Npi, Outbind, Pdu, QuerySm,
    QuerySmResp, RegisteredDelivery, ReplaceSm, SmResp, SubmitMulti, SubmitMultiResp, SubmitSm,
    Tlv, TlvString, TlvTag, Ton, UnsuccessSme, decode, decode_shared, encode_to_vec, frame_len,
};
use proptest::collection::vec;
use proptest::prelude::*;

// ---- strategies --------------------------------------------------------------------------------

/// A C-Octet String value: up to `N` octets, none of them NUL.
fn cstr<const N: usize>() -> impl Strategy<Value = COctetString<N>> {
    vec(1u8..=255, 0..=N).prop_map(|v| COctetString::new(&v).unwrap())
}

fn octets(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

fn ton() -> impl Strategy<Value = Ton> {
    any::<u8>().prop_map(Ton)
}

fn npi() -> impl Strategy<Value = Npi> {
    any::<u8>().prop_map(Npi)
}

/// A tag SMPP 3.4 does not define: an `Other` with a known tag and a well-sized value would
/// come back as the typed variant.
fn unknown_tag() -> impl Strategy<Value = u16> {
    any::<u16>().prop_filter("known tag", |t| TlvTag(*t).name().is_none())
}

/// Any TLV: every typed variant, and raw ones under unknown tags.
fn tlv() -> impl Strategy<Value = Tlv> {
    (
        0u8..46,
        any::<u8>(),
        any::<u16>(),
        any::<u32>(),
        octets(24),
        unknown_tag(),
    )
        .prop_map(|(kind, b, w, d, raw, tag)| match kind {
            0 => Tlv::DestAddrSubunit(b),
            1 => Tlv::DestNetworkType(b),
            2 => Tlv::DestBearerType(b),
            3 => Tlv::DestTelematicsId(w),
            4 => Tlv::SourceAddrSubunit(b),
            5 => Tlv::SourceNetworkType(b),
            6 => Tlv::SourceBearerType(b),
            7 => Tlv::SourceTelematicsId(b),
            8 => Tlv::QosTimeToLive(d),
            9 => Tlv::PayloadType(b),
            10 => Tlv::AdditionalStatusInfoText(TlvString::new(&raw)),
            11 => Tlv::ReceiptedMessageId(TlvString::new(&raw)),
            12 => Tlv::ReceiptedMessageId(TlvString::from_wire(raw)), // as received, NUL or not
            13 => Tlv::MsMsgWaitFacilities(b),
            14 => Tlv::PrivacyIndicator(b),
            15 => Tlv::SourceSubaddress(raw),
            16 => Tlv::DestSubaddress(raw),
            17 => Tlv::UserMessageReference(w),
            18 => Tlv::UserResponseCode(b),
            19 => Tlv::SourcePort(w),
            20 => Tlv::DestinationPort(w),
            21 => Tlv::SarMsgRefNum(w),
            22 => Tlv::LanguageIndicator(b),
            23 => Tlv::SarTotalSegments(b),
            24 => Tlv::SarSegmentSeqnum(b),
            25 => Tlv::ScInterfaceVersion(b),
            26 => Tlv::CallbackNumPresInd(b),
            27 => Tlv::CallbackNumAtag(raw),
            28 => Tlv::NumberOfMessages(b),
            29 => Tlv::CallbackNum(raw),
            30 => Tlv::DpfResult(b),
            31 => Tlv::SetDpf(b),
            32 => Tlv::MsAvailabilityStatus(b),
            33 => Tlv::NetworkErrorCode(NetworkErrorCode {
                network_type: b,
                error_code: w,
            }),
            34 => Tlv::MessagePayload(raw),
            35 => Tlv::DeliveryFailureReason(b),
            36 => Tlv::MoreMessagesToSend(b),
            37 => Tlv::MessageState(b),
            38 => Tlv::UssdServiceOp(b),
            39 => Tlv::DisplayTime(b),
            40 => Tlv::SmsSignal(w),
            41 => Tlv::MsValidity(b),
            42 => Tlv::AlertOnMessageDelivery(()),
            43 => Tlv::ItsReplyType(b),
            44 => Tlv::ItsSessionInfo(w),
            _ => Tlv::Other { tag, value: raw },
        })
}

fn tlvs() -> impl Strategy<Value = Vec<Tlv>> {
    vec(tlv(), 0..5)
}

fn bind() -> impl Strategy<Value = Bind> {
    (cstr(), cstr(), cstr(), any::<u8>(), ton(), npi(), cstr()).prop_map(
        |(system_id, password, system_type, v, addr_ton, addr_npi, address_range)| Bind {
            system_id,
            password,
            system_type,
            interface_version: InterfaceVersion(v),
            addr_ton,
            addr_npi,
            address_range,
        },
    )
}

fn bind_resp() -> impl Strategy<Value = BindResp> {
    (cstr(), tlvs()).prop_map(|(system_id, tlvs)| BindResp { system_id, tlvs })
}

fn sm_resp() -> impl Strategy<Value = SmResp> {
    (cstr(), tlvs()).prop_map(|(message_id, tlvs)| SmResp { message_id, tlvs })
}

fn submit_sm() -> impl Strategy<Value = SubmitSm> {
    let addresses = (cstr(), ton(), npi(), cstr(), ton(), npi(), cstr());
    let flags = (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        cstr(),
        cstr(),
        any::<u8>(),
    );
    let rest = (any::<u8>(), any::<u8>(), any::<u8>(), octets(254), tlvs());
    (addresses, flags, rest).prop_map(
        |(
            (
                service_type,
                source_addr_ton,
                source_addr_npi,
                source_addr,
                dest_addr_ton,
                dest_addr_npi,
                destination_addr,
            ),
            (esm, protocol_id, priority_flag, schedule_delivery_time, validity_period, registered),
            (replace_if_present_flag, dc, sm_default_msg_id, short_message, tlvs),
        )| SubmitSm {
            service_type,
            source_addr_ton,
            source_addr_npi,
            source_addr,
            dest_addr_ton,
            dest_addr_npi,
            destination_addr,
            esm_class: EsmClass(esm),
            protocol_id,
            priority_flag,
            schedule_delivery_time,
            validity_period,
            registered_delivery: RegisteredDelivery(registered),
            replace_if_present_flag,
            data_coding: DataCoding(dc),
            sm_default_msg_id,
            short_message,
            tlvs,
        },
    )
}

fn dest_address() -> impl Strategy<Value = DestAddress> {
    prop_oneof![
        (ton(), npi(), cstr()).prop_map(|(ton, npi, address)| DestAddress::Sme {
            ton,
            npi,
            address
        }),
        cstr().prop_map(DestAddress::DistributionList),
    ]
}

fn submit_multi() -> impl Strategy<Value = SubmitMulti> {
    (submit_sm(), vec(dest_address(), 0..6)).prop_map(|(s, dest_addresses)| SubmitMulti {
        service_type: s.service_type,
        source_addr_ton: s.source_addr_ton,
        source_addr_npi: s.source_addr_npi,
        source_addr: s.source_addr,
        dest_addresses,
        esm_class: s.esm_class,
        protocol_id: s.protocol_id,
        priority_flag: s.priority_flag,
        schedule_delivery_time: s.schedule_delivery_time,
        validity_period: s.validity_period,
        registered_delivery: s.registered_delivery,
        replace_if_present_flag: s.replace_if_present_flag,
        data_coding: s.data_coding,
        sm_default_msg_id: s.sm_default_msg_id,
        short_message: s.short_message,
        tlvs: s.tlvs,
    })
}

fn submit_multi_resp() -> impl Strategy<Value = SubmitMultiResp> {
    let unsuccess = (ton(), npi(), cstr(), any::<u32>()).prop_map(|(t, n, a, s)| UnsuccessSme {
        dest_addr_ton: t,
        dest_addr_npi: n,
        destination_addr: a,
        error_status_code: CommandStatus::from(s),
    });
    (cstr(), vec(unsuccess, 0..6), tlvs()).prop_map(|(message_id, unsuccess_smes, tlvs)| {
        SubmitMultiResp {
            message_id,
            unsuccess_smes,
            tlvs,
        }
    })
}

fn data_sm() -> impl Strategy<Value = DataSm> {
    let addresses = (cstr(), ton(), npi(), cstr(), ton(), npi(), cstr());
    (addresses, any::<u8>(), any::<u8>(), any::<u8>(), tlvs()).prop_map(
        |((service_type, st, sn, source_addr, dt, dn, destination_addr), esm, rd, dc, tlvs)| {
            DataSm {
                service_type,
                source_addr_ton: st,
                source_addr_npi: sn,
                source_addr,
                dest_addr_ton: dt,
                dest_addr_npi: dn,
                destination_addr,
                esm_class: EsmClass(esm),
                registered_delivery: RegisteredDelivery(rd),
                data_coding: DataCoding(dc),
                tlvs,
            }
        },
    )
}

fn query_sm() -> impl Strategy<Value = QuerySm> {
    (cstr(), ton(), npi(), cstr()).prop_map(|(message_id, t, n, source_addr)| QuerySm {
        message_id,
        source_addr_ton: t,
        source_addr_npi: n,
        source_addr,
    })
}

fn query_sm_resp() -> impl Strategy<Value = QuerySmResp> {
    (cstr(), cstr(), any::<u8>(), any::<u8>()).prop_map(
        |(message_id, final_date, message_state, error_code)| QuerySmResp {
            message_id,
            final_date,
            message_state,
            error_code,
        },
    )
}

fn cancel_sm() -> impl Strategy<Value = CancelSm> {
    (cstr(), cstr(), ton(), npi(), cstr(), ton(), npi(), cstr()).prop_map(
        |(service_type, message_id, st, sn, source_addr, dt, dn, destination_addr)| CancelSm {
            service_type,
            message_id,
            source_addr_ton: st,
            source_addr_npi: sn,
            source_addr,
            dest_addr_ton: dt,
            dest_addr_npi: dn,
            destination_addr,
        },
    )
}

fn replace_sm() -> impl Strategy<Value = ReplaceSm> {
    (
        cstr(),
        ton(),
        npi(),
        cstr(),
        cstr(),
        cstr(),
        any::<u8>(),
        any::<u8>(),
        octets(254),
    )
        .prop_map(
            |(message_id, t, n, source_addr, sched, validity, rd, default_id, short_message)| {
                ReplaceSm {
                    message_id,
                    source_addr_ton: t,
                    source_addr_npi: n,
                    source_addr,
                    schedule_delivery_time: sched,
                    validity_period: validity,
                    registered_delivery: RegisteredDelivery(rd),
                    sm_default_msg_id: default_id,
                    short_message,
                }
            },
        )
}

fn alert_notification() -> impl Strategy<Value = AlertNotification> {
    (ton(), npi(), cstr(), ton(), npi(), cstr(), tlvs()).prop_map(
        |(st, sn, source_addr, et, en, esme_addr, tlvs)| AlertNotification {
            source_addr_ton: st,
            source_addr_npi: sn,
            source_addr,
            esme_addr_ton: et,
            esme_addr_npi: en,
            esme_addr,
            tlvs,
        },
    )
}

/// A command id SMPP 3.4 does not define.
fn unknown_command_id() -> impl Strategy<Value = u32> {
    any::<u32>().prop_filter("known command", |id| {
        matches!(CommandId::from(*id), CommandId::Other(_))
    })
}

/// Every `Pdu` variant.
fn pdu() -> impl Strategy<Value = Pdu> {
    prop_oneof![
        bind().prop_map(Pdu::BindTransmitter),
        bind_resp().prop_map(Pdu::BindTransmitterResp),
        bind().prop_map(Pdu::BindReceiver),
        bind_resp().prop_map(Pdu::BindReceiverResp),
        bind().prop_map(Pdu::BindTransceiver),
        bind_resp().prop_map(Pdu::BindTransceiverResp),
        (cstr(), cstr()).prop_map(|(system_id, password)| Pdu::Outbind(Outbind {
            system_id,
            password
        })),
        Just(Pdu::Unbind),
        Just(Pdu::UnbindResp),
        Just(Pdu::GenericNack),
        submit_sm().prop_map(Pdu::SubmitSm),
        sm_resp().prop_map(Pdu::SubmitSmResp),
        submit_multi().prop_map(Pdu::SubmitMulti),
        submit_multi_resp().prop_map(Pdu::SubmitMultiResp),
        submit_sm().prop_map(Pdu::DeliverSm),
        sm_resp().prop_map(Pdu::DeliverSmResp),
        data_sm().prop_map(Pdu::DataSm),
        sm_resp().prop_map(Pdu::DataSmResp),
        query_sm().prop_map(Pdu::QuerySm),
        query_sm_resp().prop_map(Pdu::QuerySmResp),
        cancel_sm().prop_map(Pdu::CancelSm),
        Just(Pdu::CancelSmResp),
        replace_sm().prop_map(Pdu::ReplaceSm),
        Just(Pdu::ReplaceSmResp),
        Just(Pdu::EnquireLink),
        Just(Pdu::EnquireLinkResp),
        alert_notification().prop_map(Pdu::AlertNotification),
        (unknown_command_id(), octets(40))
            .prop_map(|(command_id, body)| Pdu::Other { command_id, body }),
    ]
}

/// A status: mostly OK (the usual case), else anything, listed or vendor.
fn status() -> impl Strategy<Value = CommandStatus> {
    prop_oneof![
        Just(CommandStatus::Ok),
        any::<u32>().prop_map(CommandStatus::from)
    ]
}

fn command() -> impl Strategy<Value = Command> {
    (status(), any::<u32>(), pdu()).prop_map(|(status, sequence_number, pdu)| Command {
        status,
        sequence_number,
        pdu,
    })
}

/// Every command id SMPP 3.4 defines.
const KNOWN_IDS: [u32; 27] = [
    0x8000_0000,
    0x01,
    0x8000_0001,
    0x02,
    0x8000_0002,
    0x03,
    0x8000_0003,
    0x04,
    0x8000_0004,
    0x05,
    0x8000_0005,
    0x06,
    0x8000_0006,
    0x07,
    0x8000_0007,
    0x08,
    0x8000_0008,
    0x09,
    0x8000_0009,
    0x0B,
    0x15,
    0x8000_0015,
    0x21,
    0x8000_0021,
    0x102,
    0x103,
    0x8000_0103,
];

/// A header that frames `body` exactly.
fn framed(id: u32, status: u32, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut wire = Vec::with_capacity(16 + body.len());
    wire.extend_from_slice(&(16 + body.len() as u32).to_be_bytes());
    wire.extend_from_slice(&id.to_be_bytes());
    wire.extend_from_slice(&status.to_be_bytes());
    wire.extend_from_slice(&seq.to_be_bytes());
    wire.extend_from_slice(body);
    wire
}

/// What must hold for any input that `decode` accepts: no panic anywhere, `decode_shared`
/// agrees, and what decoded re-encodes (unless it is the 255-octet short_message the encoder
/// refuses) to something that decodes to the same command.
fn check_decodes_consistently(wire: &[u8]) -> Result<(), TestCaseError> {
    let _ = frame_len(wire, kori_smpp::DEFAULT_MAX_PDU_LEN);
    let frame = decode(wire);
    prop_assert_eq!(&decode_shared(&Bytes::copy_from_slice(wire)), &frame);
    if let Ok(cmd) = frame.into_command() {
        if let Ok(again) = encode_to_vec(&cmd) {
            prop_assert_eq!(again.len(), cmd.encoded_len());
            prop_assert_eq!(decode(&again).into_command().ok(), Some(cmd));
        }
    }
    Ok(())
}

// ---- properties --------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn every_command_survives_encode_then_decode(cmd in command()) {
        let wire = encode_to_vec(&cmd).unwrap();
        prop_assert_eq!(wire.len(), cmd.encoded_len());
        prop_assert_eq!(frame_len(&wire, u32::MAX), Ok(Some(wire.len())));
        let frame = decode(&wire);
        prop_assert_eq!(frame.header.command_length as usize, wire.len());
        prop_assert_eq!(frame.header.command_id, cmd.pdu.command_id());
        prop_assert_eq!(&decode_shared(&Bytes::from(wire.clone())), &frame);
        let back = frame.into_command().unwrap();
        // Error responses whose body is all defaults go out without body and come back as
        // defaults: still the same command.
        prop_assert_eq!(&back, &cmd);
        prop_assert_eq!(encode_to_vec(&back).unwrap(), wire);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_bytes_never_panic(wire in vec(any::<u8>(), 0..300)) {
        check_decodes_consistently(&wire)?;
    }

    #[test]
    fn arbitrary_bodies_behind_a_sound_header_never_panic(
        id in prop::sample::select(&KNOWN_IDS[..]),
        status in prop_oneof![Just(0u32), any::<u32>()],
        seq in any::<u32>(),
        body in vec(any::<u8>(), 0..300),
    ) {
        check_decodes_consistently(&framed(id, status, seq, &body))?;
    }

    #[test]
    fn damaged_encodings_never_panic(
        cmd in command(),
        cut in any::<prop::sample::Index>(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        // A real PDU, cut short and with a few octets of its body overwritten, command_length
        // kept in step: near-misses reach deeper into the parsers than random bytes.
        let wire = encode_to_vec(&cmd).unwrap();
        let mut body = wire[16..].to_vec();
        body.truncate(cut.index(body.len() + 1));
        for (at, value) in flips {
            if !body.is_empty() {
                let i = at.index(body.len());
                body[i] = value;
            }
        }
        let id = u32::from(cmd.pdu.command_id());
        check_decodes_consistently(&framed(id, cmd.status.code(), cmd.sequence_number, &body))?;
    }
}

#[test]
fn fixtures_decode_consistently_when_cut_anywhere() {
    for wire in [
        &pdus::SUBMIT_SM_VENDOR_TLV[..],
        &pdus::DELIVER_SM_RECEIPT_IN_PAYLOAD[..],
        &pdus::SUBMIT_MULTI[..],
        &pdus::SUBMIT_MULTI_RESP[..],
        &pdus::ALERT_NOTIFICATION[..],
    ] {
        for cut in 0..=wire.len() {
            check_decodes_consistently(&wire[..cut]).unwrap();
        }
    }
}

// ---- the tokio codec ---------------------------------------------------------------------------

#[cfg(feature = "codec")]
mod codec {
    use super::pdus;
    use bytes::BytesMut;
    use kori_smpp::{BodyError, CodecError, CommandId, Frame, HeaderError, Pdu, SmppCodec, decode};
    use tokio_util::codec::Decoder;

    /// A bind, a submit and a keep-alive, back to back.
    fn stream() -> Vec<u8> {
        [
            &pdus::BIND_TRANSCEIVER[..],
            &pdus::SUBMIT_SM_SAR[..],
            &pdus::ENQUIRE_LINK[..],
        ]
        .concat()
    }

    fn expected() -> Vec<Frame> {
        vec![
            decode(&pdus::BIND_TRANSCEIVER),
            decode(&pdus::SUBMIT_SM_SAR),
            decode(&pdus::ENQUIRE_LINK),
        ]
    }

    /// Feeds `bytes` in chunks of `chunk` octets, draining every whole frame after each.
    fn feed(bytes: &[u8], chunk: usize) -> Vec<Frame> {
        let mut codec = SmppCodec::default();
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for piece in bytes.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(frame) = codec.decode(&mut buf).unwrap() {
                frames.push(frame);
            }
        }
        assert!(buf.is_empty(), "every octet consumed");
        assert!(codec.decode_eof(&mut buf).unwrap().is_none());
        frames
    }

    #[test]
    fn three_pdus_in_one_chunk() {
        assert_eq!(feed(&stream(), usize::MAX), expected());
    }

    #[test]
    fn three_pdus_byte_by_byte() {
        assert_eq!(feed(&stream(), 1), expected());
    }

    #[test]
    fn three_pdus_in_every_chunk_size() {
        let stream = stream();
        for chunk in 2..stream.len() {
            assert_eq!(feed(&stream, chunk), expected(), "chunks of {chunk}");
        }
    }

    #[test]
    fn a_bad_body_costs_only_its_own_frame() {
        let stream = [
            &pdus::ENQUIRE_LINK[..],
            &pdus::SUBMIT_SM_SOURCE_ADDR_TOO_LONG[..],
            &pdus::UNKNOWN_COMMAND_WITH_BODY[..],
            &pdus::DELIVER_SM_RECEIPT_TEXT_AND_TLVS[..],
        ]
        .concat();
        for chunk in [1, 7, usize::MAX] {
            let frames = feed(&stream, chunk);
            let ids: Vec<_> = frames.iter().map(|f| f.header.command_id).collect();
            assert_eq!(
                ids,
                [
                    CommandId::EnquireLink,
                    CommandId::SubmitSm,
                    CommandId::Other(0x110),
                    CommandId::DeliverSm
                ]
            );
            assert_eq!(frames[0].body, Ok(Pdu::EnquireLink));
            assert_eq!(
                frames[1].body,
                Err(BodyError::StringTooLong {
                    field: "source_addr",
                    max: 21
                })
            );
            assert_eq!(frames[1].header.sequence_number, 41, "kept for the answer");
            assert!(matches!(
                frames[2].body,
                Ok(Pdu::Other {
                    command_id: 0x110,
                    ..
                })
            ));
            assert!(matches!(frames[3].body, Ok(Pdu::DeliverSm(_))));
        }
    }

    #[test]
    fn a_header_with_length_8_is_a_stream_error() {
        let mut codec = SmppCodec::default();
        let mut buf = BytesMut::from(&[0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x15][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(CodecError::Header(HeaderError::TooShort(8)))
        ));
    }

    #[test]
    fn a_length_above_the_maximum_is_a_stream_error_before_the_body_arrives() {
        let mut codec = SmppCodec::new(1024);
        let mut buf = BytesMut::from(&pdus::SUBMIT_SM_MESSAGE_PAYLOAD[..4]);
        buf[..4].copy_from_slice(&2048u32.to_be_bytes());
        assert!(matches!(
            codec.decode(&mut buf),
            Err(CodecError::Header(HeaderError::TooLong {
                length: 2048,
                max: 1024
            }))
        ));
    }

    #[test]
    fn fewer_than_four_octets_wait() {
        let mut codec = SmppCodec::default();
        let mut buf = BytesMut::from(&[0x00, 0x00, 0x00][..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert_eq!(buf.len(), 3, "nothing consumed");
    }
}
