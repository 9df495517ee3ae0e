//! Cross-check against an independent SMPP implementation, the `rusmpp` 0.4 crate (owned API).
//!
//! Every PDU is built twice, independently: once with our types, once with rusmpp's. Then
//! [`cross`] checks (a) what we encode, rusmpp decodes to exactly its own construction (whole
//! `Command` equality, so every field and every TLV), (b) what rusmpp encodes, we decode to exactly
//! our construction, and (c) both encoders put out the same octets.
//!
//! Covered, SMPP 3.4: bind_transmitter / bind_receiver / bind_transceiver and their resps (with
//! `sc_interface_version`), outbind, unbind(+resp), generic_nack, enquire_link(+resp),
//! submit_sm(+resp), submit_multi(+resp), deliver_sm(+resp), data_sm(+resp), query_sm(+resp),
//! cancel_sm(+resp), replace_sm(+resp), alert_notification, an unknown command_id, and error
//! responses without a body. rusmpp's SMPP 5.0-only PDUs (broadcast_sm & co.) are out of scope.
//! Two proptests do the same for random submit_sm / deliver_sm field values and TLVs.
//!
//! Known divergences (rusmpp follows SMPP 5.0 and is strict; we follow 3.4 and are lenient on
//! decode where the field allows it). Each is asserted in `divergence_*` below:
//! - Error responses without a body (3.4 §4.1.2 …): both put out the same 16 octets; rusmpp
//!   decodes them to `pdu() == None`, we to the resp with a default body. Same for an OK resp
//!   with an empty body.
//! - `receipted_message_id` without its NUL (sent by real SMSCs): we keep it, rusmpp rejects the
//!   whole PDU (`NotNullTerminated`).
//! - A known TLV with the wrong size (`message_state` of 2 octets): we keep it as `Tlv::Other`
//!   and read on; rusmpp rejects the PDU when it is the last TLV, and otherwise reads one octet and
//!   misparses the TLVs after it.
//! - Non-ASCII octets in a C-Octet String (a Latin-1 alphanumeric sender): we keep the octets,
//!   rusmpp rejects the PDU (`NotAscii`).
//! - Time fields that are neither empty nor 16 characters: we keep them, rusmpp rejects the PDU.
//! - `data_sm` addresses: 3.4 allows 65 octets with the NUL (we do); rusmpp caps them at 21.
//! - `source_telematics_id`: one octet in 3.4 (ours), two in 5.0 (rusmpp).
//! - `replace_sm` with a `message_payload` TLV (5.0 only): rusmpp sends it; 3.4 defines no TLVs
//!   for replace_sm, so we report trailing bytes (with the header kept, so the session answers).
//! - A truncated last TLV: rusmpp accepts it, we report a broken TLV stream.
//! - Zero-length TLVs: same octets both ways; rusmpp holds them as `value() == None`, so its
//!   decode does not equal its own construction (the proptest keeps TLV values non-empty).
//! - Builder quirk, not a wire difference: rusmpp's `EsmClass::default()` encodes as 0x08, so every
//!   rusmpp construction here sets `esm_class` explicitly.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use kori_smpp as k;
use proptest::prelude::*;
use rusmpp as r;
use rusmpp::decode::DecodeWithLength;
use rusmpp::encode::{Encode, Length};
use rusmpp::pdus as rp;
use rusmpp::tlvs::{
    MessageDeliveryRequestTlvValue as RDel, MessageDeliveryResponseTlvValue as RDelResp,
    MessageSubmissionRequestTlvValue as RSub, TlvTag as RTag,
};
use rusmpp::types::{AnyOctetString, COctetString as RStr, EmptyOrFullCOctetString, OctetString};
use rusmpp::values as rv;

// ---------- the two codecs behind one interface ----------

fn ours_encode(cmd: &k::Command) -> Vec<u8> {
    k::encode_to_vec(cmd).unwrap()
}

fn ours_decode(wire: &[u8]) -> Result<k::Command, k::BodyError> {
    let frame = k::decode(wire);
    assert_eq!(frame.header.command_length as usize, wire.len());
    frame.into_command().map_err(|(_, e)| e)
}

/// rusmpp's `Command` starts at `command_id`; the 4-octet `command_length` is the framer's.
fn theirs_encode(cmd: &r::Command) -> Vec<u8> {
    let mut out = vec![0; 4 + cmd.length()];
    let total = out.len() as u32;
    out[..4].copy_from_slice(&total.to_be_bytes());
    assert_eq!(cmd.encode(&mut out[4..]), total as usize - 4);
    out
}

fn theirs_decode(wire: &[u8]) -> Result<r::Command, String> {
    let declared = u32::from_be_bytes(wire[..4].try_into().unwrap()) as usize;
    assert_eq!(declared, wire.len());
    let mut buf = bytes::BytesMut::from(&wire[4..]);
    let (cmd, used) = r::Command::decode(&mut buf, wire.len() - 4).map_err(|e| format!("{e:?}"))?;
    assert_eq!(used, wire.len() - 4);
    Ok(cmd)
}

/// The cross-check: `ours` and `theirs` are the same PDU, built independently.
fn cross(ours: k::Command, theirs: r::Command) {
    let ours_wire = ours_encode(&ours);
    let theirs_wire = theirs_encode(&theirs);
    // (a) we encode, rusmpp decodes every field as put in.
    assert_eq!(
        theirs_decode(&ours_wire).as_ref(),
        Ok(&theirs),
        "rusmpp decoding our {:?}",
        ours.pdu.command_id()
    );
    // (b) rusmpp encodes, we decode every field as put in.
    assert_eq!(
        ours_decode(&theirs_wire).as_ref(),
        Ok(&ours),
        "we decoding rusmpp's {:?}",
        theirs.id()
    );
    // (c) both encoders are canonical: the same octets.
    assert_eq!(ours_wire, theirs_wire, "{:?}", ours.pdu.command_id());
}

// ---------- short constructors ----------

fn s<const N: usize>(v: &str) -> k::COctetString<N> {
    k::COctetString::new(v.as_bytes()).unwrap()
}

fn c<const MIN: usize, const MAX: usize>(v: &str) -> RStr<MIN, MAX> {
    v.parse().unwrap()
}

fn t(v: &str) -> EmptyOrFullCOctetString<17> {
    v.parse().unwrap()
}

fn os(v: &[u8]) -> OctetString<0, 255> {
    OctetString::from_slice(v).unwrap()
}

fn raw(v: &[u8]) -> AnyOctetString {
    AnyOctetString::from_slice(v)
}

fn vendor(value: &'static [u8]) -> k::Tlv {
    k::Tlv::Other {
        tag: VENDOR_TAG,
        value: Bytes::from_static(value),
    }
}

const OK: r::CommandStatus = r::CommandStatus::EsmeRok;
const VENDOR_TAG: u16 = 0x1401;
const MSG_ID: &str = "7f3c2a9e-0001-4b6d";
const MSISDN: &str = "31612345678";
const SENDER: &str = "KoriShop";
const SCHEDULE: &str = "260501123000004+";
const VALIDITY: &str = "000002000000000R";
const UCS2_HELLO: &[u8] = &[0x00, 0x48, 0x00, 0xE9, 0x00, 0x6C, 0x00, 0x6C, 0x00, 0x6F];
const RECEIPT: &str = "id:7f3c2a9e-0001-4b6d sub:001 dlvrd:000 submit date:2605011230 \
                       done date:2605011231 stat:UNDELIV err:034 text:Hello";

// ---------- session management ----------

#[test]
fn binds_and_bind_resps() {
    let ours = k::Bind {
        system_id: s("kori-esme1"),
        password: s("s3cr3t!"),
        system_type: s("VMA"),
        interface_version: k::InterfaceVersion::V34,
        addr_ton: k::Ton::NATIONAL,
        addr_npi: k::Npi::ISDN,
        address_range: s("^3161"),
    };
    let ours_resp = k::BindResp {
        system_id: s("SMSC-AMS-01"),
        tlvs: vec![k::Tlv::ScInterfaceVersion(0x34)],
    };
    macro_rules! theirs {
        ($ty:ident) => {
            rp::$ty::new(
                c("kori-esme1"),
                c("s3cr3t!"),
                c("VMA"),
                rv::InterfaceVersion::Smpp3_4,
                rv::Ton::National,
                rv::Npi::Isdn,
                c("^3161"),
            )
        };
        ($ty:ident resp) => {
            rp::$ty::new(c("SMSC-AMS-01"), Some(rv::InterfaceVersion::Smpp3_4))
        };
    }
    let cases: [(k::Pdu, r::Pdu); 6] = [
        (
            k::Pdu::BindTransmitter(ours.clone()),
            theirs!(BindTransmitter).into(),
        ),
        (
            k::Pdu::BindReceiver(ours.clone()),
            theirs!(BindReceiver).into(),
        ),
        (
            k::Pdu::BindTransceiver(ours),
            theirs!(BindTransceiver).into(),
        ),
        (
            k::Pdu::BindTransmitterResp(ours_resp.clone()),
            theirs!(BindTransmitterResp resp).into(),
        ),
        (
            k::Pdu::BindReceiverResp(ours_resp.clone()),
            theirs!(BindReceiverResp resp).into(),
        ),
        (
            k::Pdu::BindTransceiverResp(ours_resp),
            theirs!(BindTransceiverResp resp).into(),
        ),
    ];
    for (seq, (ours, theirs)) in (0x0100_0001..).zip(cases) {
        cross(k::Command::new(seq, ours), r::Command::new(OK, seq, theirs));
    }
}

#[test]
fn outbind() {
    cross(
        k::Command::new(
            0x7FFF_FFFF,
            k::Pdu::Outbind(k::Outbind {
                system_id: s("SMSC-AMS-01"),
                password: s("0utb1nd"),
            }),
        ),
        r::Command::new(
            OK,
            0x7FFF_FFFF,
            rp::Outbind::new(c("SMSC-AMS-01"), c("0utb1nd")),
        ),
    );
}

#[test]
fn header_only_pdus() {
    let cases = [
        (k::Pdu::Unbind, r::Pdu::Unbind, 0),
        (k::Pdu::UnbindResp, r::Pdu::UnbindResp, 0),
        (k::Pdu::EnquireLink, r::Pdu::EnquireLink, 0),
        (k::Pdu::EnquireLinkResp, r::Pdu::EnquireLinkResp, 0),
        (k::Pdu::GenericNack, r::Pdu::GenericNack, 0x03),
        (k::Pdu::CancelSmResp, r::Pdu::CancelSmResp, 0),
        (k::Pdu::ReplaceSmResp, r::Pdu::ReplaceSmResp, 0x13),
    ];
    for (seq, (ours, theirs, status)) in (42..).zip(cases) {
        cross(
            k::Command::with_status(k::CommandStatus::from(status), seq, ours),
            r::Command::new(r::CommandStatus::from(status), seq, theirs),
        );
    }
}

#[test]
fn unknown_command_id_is_kept_raw() {
    let body: &[u8] = b"\x01opaque\x00";
    cross(
        k::Command::new(
            9,
            k::Pdu::Other {
                command_id: 0x0001_0200,
                body: Bytes::from_static(body),
            },
        ),
        r::Command::new(
            OK,
            9,
            r::Pdu::Other {
                command_id: r::CommandId::from(0x0001_0200),
                body: raw(body),
            },
        ),
    );
}

/// §4.1.2 and the other resps: no body when `command_status` is not zero.
#[test]
fn error_responses_without_body() {
    let cases = [
        (
            k::Pdu::BindTransceiverResp(k::BindResp::default()),
            r::CommandId::BindTransceiverResp,
            0x0E,
        ),
        (
            k::Pdu::SubmitSmResp(k::SmResp::default()),
            r::CommandId::SubmitSmResp,
            0x58,
        ),
        (
            k::Pdu::DeliverSmResp(k::SmResp::default()),
            r::CommandId::DeliverSmResp,
            0x08,
        ),
        (
            k::Pdu::DataSmResp(k::SmResp::default()),
            r::CommandId::DataSmResp,
            0x45,
        ),
        (
            k::Pdu::SubmitMultiResp(k::SubmitMultiResp::default()),
            r::CommandId::SubmitMultiResp,
            0x44,
        ),
        (
            k::Pdu::QuerySmResp(k::QuerySmResp::default()),
            r::CommandId::QuerySmResp,
            0x67,
        ),
    ];
    for (ours, id, status) in cases {
        let ours = k::Command::with_status(k::CommandStatus::from(status), 77, ours);
        let mut theirs = r::Command::new(r::CommandStatus::from(status), 77, r::Pdu::EnquireLink);
        theirs.set_pdu(r::Pdu::Other {
            command_id: id,
            body: AnyOctetString::empty(),
        });
        let wire = ours_encode(&ours);
        assert_eq!(wire.len(), 16, "{id:?}: header only");
        assert_eq!(wire, theirs_encode(&theirs));
        let decoded = theirs_decode(&wire).unwrap();
        assert_eq!(
            (decoded.id(), decoded.status(), decoded.sequence_number()),
            (id, r::CommandStatus::from(status), 77)
        );
        assert_eq!(decoded.pdu(), None, "rusmpp: no body");
        assert_eq!(ours_decode(&wire), Ok(ours), "we: the resp, default body");
    }
}

// ---------- message submission ----------

fn ours_submit(tlvs: Vec<k::Tlv>, short_message: &'static [u8]) -> k::SubmitSm {
    k::SubmitSm {
        service_type: s("WAP"),
        source_addr_ton: k::Ton::ALPHANUMERIC,
        source_addr_npi: k::Npi::UNKNOWN,
        source_addr: s(SENDER),
        dest_addr_ton: k::Ton::INTERNATIONAL,
        dest_addr_npi: k::Npi::ISDN,
        destination_addr: s(MSISDN),
        esm_class: k::EsmClass(0x03),
        protocol_id: 0x7F,
        priority_flag: 2,
        schedule_delivery_time: s(SCHEDULE),
        validity_period: s(VALIDITY),
        registered_delivery: k::RegisteredDelivery(0x11),
        replace_if_present_flag: 1,
        data_coding: k::DataCoding::UCS2,
        sm_default_msg_id: 7,
        short_message: Bytes::from_static(short_message),
        tlvs,
    }
}

fn theirs_submit(tlvs: Vec<RSub>, short_message: &[u8]) -> rp::SubmitSm {
    rp::SubmitSm::builder()
        .service_type(rv::ServiceType::new(c("WAP")))
        .source_addr_ton(rv::Ton::Alphanumeric)
        .source_addr_npi(rv::Npi::Unknown)
        .source_addr(c(SENDER))
        .dest_addr_ton(rv::Ton::International)
        .dest_addr_npi(rv::Npi::Isdn)
        .destination_addr(c(MSISDN))
        .esm_class(rv::EsmClass::from(0x03))
        .protocol_id(0x7F)
        .priority_flag(rv::PriorityFlag::from(2))
        .schedule_delivery_time(t(SCHEDULE))
        .validity_period(t(VALIDITY))
        .registered_delivery(rv::RegisteredDelivery::from(0x11))
        .replace_if_present_flag(rv::ReplaceIfPresentFlag::Replace)
        .data_coding(rv::DataCoding::Ucs2)
        .sm_default_msg_id(7)
        .short_message(os(short_message))
        .tlvs(tlvs)
        .build()
}

#[test]
fn submit_sm_with_sar_user_reference_and_vendor_tlvs() {
    cross(
        k::Command::new(
            1001,
            k::Pdu::SubmitSm(ours_submit(
                vec![
                    k::Tlv::SarMsgRefNum(0xBEEF),
                    k::Tlv::SarTotalSegments(3),
                    k::Tlv::SarSegmentSeqnum(2),
                    k::Tlv::UserMessageReference(0x1234),
                    vendor(&[0xCA, 0xFE]),
                ],
                UCS2_HELLO,
            )),
        ),
        r::Command::new(
            OK,
            1001,
            theirs_submit(
                vec![
                    RSub::SarMsgRefNum(0xBEEF),
                    RSub::SarTotalSegments(3),
                    RSub::SarSegmentSeqnum(2),
                    RSub::UserMessageReference(rv::UserMessageReference::new(0x1234)),
                    RSub::Other {
                        tag: RTag::Other(VENDOR_TAG),
                        value: raw(&[0xCA, 0xFE]),
                    },
                ],
                UCS2_HELLO,
            ),
        ),
    );
}

#[test]
fn submit_sm_with_message_payload() {
    let payload: Vec<u8> = (0..=255u8).cycle().take(600).collect();
    cross(
        k::Command::new(
            1002,
            k::Pdu::SubmitSm(ours_submit(
                vec![k::Tlv::MessagePayload(Bytes::from(payload.clone()))],
                b"",
            )),
        ),
        r::Command::new(
            OK,
            1002,
            theirs_submit(
                vec![RSub::MessagePayload(rv::MessagePayload::new(raw(&payload)))],
                b"",
            ),
        ),
    );
}

#[test]
fn sm_resps() {
    let resp = |message_id: &str, tlvs| k::SmResp {
        message_id: s(message_id),
        tlvs,
    };
    let data_sm_tlvs = vec![
        k::Tlv::AdditionalStatusInfoText(k::TlvString::new(b"queued on route 7")),
        k::Tlv::DeliveryFailureReason(2),
        k::Tlv::NetworkErrorCode(k::NetworkErrorCode {
            network_type: 3,
            error_code: 0x0022,
        }),
    ];
    let cases: [(k::Pdu, r::Pdu); 3] = [
        (
            k::Pdu::SubmitSmResp(resp(MSG_ID, vec![])),
            rp::SubmitSmResp::new(c(MSG_ID), vec![]).into(),
        ),
        // §4.6.2: message_id is unused in deliver_sm_resp and left empty.
        (
            k::Pdu::DeliverSmResp(resp("", vec![])),
            rp::DeliverSmResp::new(c(""), vec![]).into(),
        ),
        (
            k::Pdu::DataSmResp(resp(MSG_ID, data_sm_tlvs)),
            rp::DataSmResp::new(
                c(MSG_ID),
                vec![
                    RDelResp::AdditionalStatusInfoText(c("queued on route 7")),
                    RDelResp::DeliveryFailureReason(rv::DeliveryFailureReason::from(2)),
                    RDelResp::NetworkErrorCode(rv::NetworkErrorCode::new(
                        rv::ErrorCodeNetworkType::Gsm,
                        0x0022,
                    )),
                ],
            )
            .into(),
        ),
    ];
    for (seq, (ours, theirs)) in (2001..).zip(cases) {
        cross(k::Command::new(seq, ours), r::Command::new(OK, seq, theirs));
    }
}

#[test]
fn submit_multi_and_resp() {
    let ours = k::SubmitMulti {
        service_type: s("CMT"),
        source_addr_ton: k::Ton::NETWORK_SPECIFIC,
        source_addr_npi: k::Npi::ISDN,
        source_addr: s("4455"),
        dest_addresses: vec![
            k::DestAddress::Sme {
                ton: k::Ton::INTERNATIONAL,
                npi: k::Npi::ISDN,
                address: s(MSISDN),
            },
            k::DestAddress::DistributionList(s("vip-customers")),
            k::DestAddress::Sme {
                ton: k::Ton::NATIONAL,
                npi: k::Npi::NATIONAL,
                address: s("0612345679"),
            },
        ],
        esm_class: k::EsmClass::UDHI,
        protocol_id: 0,
        priority_flag: 1,
        schedule_delivery_time: k::SmppTime::empty(),
        validity_period: s(VALIDITY),
        registered_delivery: k::RegisteredDelivery::ON_FAILURE,
        replace_if_present_flag: 0,
        data_coding: k::DataCoding::DEFAULT,
        sm_default_msg_id: 0,
        short_message: Bytes::from_static(b"\x05\x00\x03\x2A\x02\x01Sale"),
        tlvs: vec![k::Tlv::UserMessageReference(7), vendor(b"x")],
    };
    let theirs = rp::SubmitMulti::builder()
        .service_type(rv::ServiceType::new(c("CMT")))
        .source_addr_ton(rv::Ton::NetworkSpecific)
        .source_addr_npi(rv::Npi::Isdn)
        .source_addr(c("4455"))
        .dest_address(vec![
            rv::DestAddress::SmeAddress(rv::SmeAddress::new(
                rv::Ton::International,
                rv::Npi::Isdn,
                c(MSISDN),
            )),
            rv::DestAddress::DistributionListName(rv::DistributionListName::new(c(
                "vip-customers",
            ))),
            rv::DestAddress::SmeAddress(rv::SmeAddress::new(
                rv::Ton::National,
                rv::Npi::National,
                c("0612345679"),
            )),
        ])
        .esm_class(rv::EsmClass::from(0x40))
        .protocol_id(0)
        .priority_flag(rv::PriorityFlag::from(1))
        .schedule_delivery_time(t(""))
        .validity_period(t(VALIDITY))
        .registered_delivery(rv::RegisteredDelivery::from(2))
        .replace_if_present_flag(rv::ReplaceIfPresentFlag::DoNotReplace)
        .data_coding(rv::DataCoding::McSpecific)
        .sm_default_msg_id(0)
        .short_message(os(b"\x05\x00\x03\x2A\x02\x01Sale"))
        .tlvs(vec![
            RSub::UserMessageReference(rv::UserMessageReference::new(7)),
            RSub::Other {
                tag: RTag::Other(VENDOR_TAG),
                value: raw(b"x"),
            },
        ])
        .build();
    cross(
        k::Command::new(3001, k::Pdu::SubmitMulti(ours)),
        r::Command::new(OK, 3001, theirs),
    );

    let unsuccess = |ton, npi, addr: &str, status: u32| k::UnsuccessSme {
        dest_addr_ton: k::Ton(ton),
        dest_addr_npi: k::Npi(npi),
        destination_addr: s(addr),
        error_status_code: k::CommandStatus::from(status),
    };
    let ours = k::SubmitMultiResp {
        message_id: s(MSG_ID),
        unsuccess_smes: vec![
            unsuccess(1, 1, "31600000000", 0x0B),
            unsuccess(2, 8, "0612345679", 0x0000_0458),
        ],
        tlvs: vec![],
    };
    let theirs = rp::SubmitMultiResp::new(
        c(MSG_ID),
        vec![
            rv::UnsuccessSme::new(
                rv::Ton::International,
                rv::Npi::Isdn,
                c("31600000000"),
                r::CommandStatus::EsmeRinvdstadr,
            ),
            rv::UnsuccessSme::new(
                rv::Ton::National,
                rv::Npi::National,
                c("0612345679"),
                r::CommandStatus::from(0x0000_0458),
            ),
        ],
        vec![],
    );
    cross(
        k::Command::new(3001, k::Pdu::SubmitMultiResp(ours)),
        r::Command::new(OK, 3001, theirs),
    );
}

// ---------- message delivery ----------

#[test]
fn deliver_sm_receipt_with_tlvs() {
    let ours = k::DeliverSm {
        source_addr_ton: k::Ton::INTERNATIONAL,
        source_addr_npi: k::Npi::ISDN,
        source_addr: s(MSISDN),
        dest_addr_ton: k::Ton::ALPHANUMERIC,
        dest_addr_npi: k::Npi::UNKNOWN,
        destination_addr: s(SENDER),
        esm_class: k::EsmClass::DELIVERY_RECEIPT,
        short_message: Bytes::from_static(RECEIPT.as_bytes()),
        tlvs: vec![
            k::Tlv::ReceiptedMessageId(k::TlvString::new(MSG_ID.as_bytes())),
            k::Tlv::MessageState(5),
            k::Tlv::NetworkErrorCode(k::NetworkErrorCode {
                network_type: 3,
                error_code: 0x0022,
            }),
            k::Tlv::UserMessageReference(0x1234),
            vendor(&[0x00, 0x01, 0x02]),
        ],
        ..Default::default()
    };
    let theirs = rp::DeliverSm::builder()
        .service_type(rv::ServiceType::new(c("")))
        .source_addr_ton(rv::Ton::International)
        .source_addr_npi(rv::Npi::Isdn)
        .source_addr(c(MSISDN))
        .dest_addr_ton(rv::Ton::Alphanumeric)
        .dest_addr_npi(rv::Npi::Unknown)
        .destination_addr(c(SENDER))
        .esm_class(rv::EsmClass::from(0x04))
        .priority_flag(rv::PriorityFlag::from(0))
        .short_message(os(RECEIPT.as_bytes()))
        .tlvs(vec![
            RDel::ReceiptedMessageId(c(MSG_ID)),
            RDel::MessageState(rv::MessageState::Undeliverable),
            RDel::NetworkErrorCode(rv::NetworkErrorCode::new(
                rv::ErrorCodeNetworkType::Gsm,
                0x0022,
            )),
            RDel::UserMessageReference(rv::UserMessageReference::new(0x1234)),
            RDel::Other {
                tag: RTag::Other(VENDOR_TAG),
                value: raw(&[0x00, 0x01, 0x02]),
            },
        ])
        .build();
    cross(
        k::Command::new(4001, k::Pdu::DeliverSm(ours)),
        r::Command::new(OK, 4001, theirs),
    );
}

#[test]
fn deliver_sm_mobile_originated_segment() {
    let ours = k::DeliverSm {
        service_type: s("CMT"),
        source_addr_ton: k::Ton::INTERNATIONAL,
        source_addr_npi: k::Npi::ISDN,
        source_addr: s(MSISDN),
        dest_addr_ton: k::Ton::NETWORK_SPECIFIC,
        dest_addr_npi: k::Npi::ISDN,
        destination_addr: s("4455"),
        protocol_id: 0x00,
        priority_flag: 0,
        data_coding: k::DataCoding::LATIN1,
        short_message: Bytes::from_static(b"STOP caf\xe9"),
        tlvs: vec![
            k::Tlv::SarMsgRefNum(0x0102),
            k::Tlv::SarTotalSegments(2),
            k::Tlv::SarSegmentSeqnum(1),
            k::Tlv::SourcePort(0x23F0),
            k::Tlv::DestinationPort(0x0B84),
        ],
        ..Default::default()
    };
    let theirs = rp::DeliverSm::builder()
        .service_type(rv::ServiceType::new(c("CMT")))
        .source_addr_ton(rv::Ton::International)
        .source_addr_npi(rv::Npi::Isdn)
        .source_addr(c(MSISDN))
        .dest_addr_ton(rv::Ton::NetworkSpecific)
        .dest_addr_npi(rv::Npi::Isdn)
        .destination_addr(c("4455"))
        .esm_class(rv::EsmClass::from(0))
        .data_coding(rv::DataCoding::Latin1)
        .short_message(os(b"STOP caf\xe9"))
        .tlvs(vec![
            RDel::SarMsgRefNum(0x0102),
            RDel::SarTotalSegments(2),
            RDel::SarSegmentSeqnum(1),
            RDel::SourcePort(0x23F0),
            RDel::DestPort(0x0B84),
        ])
        .build();
    cross(
        k::Command::new(4002, k::Pdu::DeliverSm(ours)),
        r::Command::new(OK, 4002, theirs),
    );
}

#[test]
fn data_sm() {
    let payload = b"\x00\x48\x00\x69 longer than short_message allows, in a TLV".as_slice();
    let ours = k::DataSm {
        service_type: s("WAP"),
        source_addr_ton: k::Ton::ALPHANUMERIC,
        source_addr_npi: k::Npi::UNKNOWN,
        source_addr: s(SENDER),
        dest_addr_ton: k::Ton::INTERNATIONAL,
        dest_addr_npi: k::Npi::ISDN,
        destination_addr: s(MSISDN),
        esm_class: k::EsmClass(0x02),
        registered_delivery: k::RegisteredDelivery::ON_FINAL,
        data_coding: k::DataCoding::BINARY,
        tlvs: vec![
            k::Tlv::SourcePort(0x23F0),
            k::Tlv::DestinationPort(0x0B84),
            k::Tlv::SarMsgRefNum(0xABCD),
            k::Tlv::SarTotalSegments(4),
            k::Tlv::SarSegmentSeqnum(4),
            k::Tlv::QosTimeToLive(3600),
            k::Tlv::MessagePayload(Bytes::from_static(payload)),
            vendor(b"\xff"),
        ],
    };
    let theirs = rp::DataSm::builder()
        .service_type(rv::ServiceType::new(c("WAP")))
        .source_addr_ton(rv::Ton::Alphanumeric)
        .source_addr_npi(rv::Npi::Unknown)
        .source_addr(c(SENDER))
        .dest_addr_ton(rv::Ton::International)
        .dest_addr_npi(rv::Npi::Isdn)
        .destination_addr(c(MSISDN))
        .esm_class(rv::EsmClass::from(0x02))
        .registered_delivery(rv::RegisteredDelivery::from(1))
        .data_coding(rv::DataCoding::from(0x04))
        .tlvs(vec![
            RSub::SourcePort(0x23F0),
            RSub::DestPort(0x0B84),
            RSub::SarMsgRefNum(0xABCD),
            RSub::SarTotalSegments(4),
            RSub::SarSegmentSeqnum(4),
            RSub::QosTimeToLive(3600),
            RSub::MessagePayload(rv::MessagePayload::new(raw(payload))),
            RSub::Other {
                tag: RTag::Other(VENDOR_TAG),
                value: raw(b"\xff"),
            },
        ])
        .build();
    cross(
        k::Command::new(5001, k::Pdu::DataSm(ours)),
        r::Command::new(OK, 5001, theirs),
    );
}

// ---------- message management and alerts ----------

#[test]
fn query_sm_and_resp() {
    cross(
        k::Command::new(
            6001,
            k::Pdu::QuerySm(k::QuerySm {
                message_id: s(MSG_ID),
                source_addr_ton: k::Ton::ALPHANUMERIC,
                source_addr_npi: k::Npi::UNKNOWN,
                source_addr: s(SENDER),
            }),
        ),
        r::Command::new(
            OK,
            6001,
            rp::QuerySm::new(
                c(MSG_ID),
                rv::Ton::Alphanumeric,
                rv::Npi::Unknown,
                c(SENDER),
            ),
        ),
    );
    cross(
        k::Command::new(
            6001,
            k::Pdu::QuerySmResp(k::QuerySmResp {
                message_id: s(MSG_ID),
                final_date: s("260501123112004+"),
                message_state: 5,
                error_code: 0x22,
            }),
        ),
        r::Command::new(
            OK,
            6001,
            rp::QuerySmResp::new(
                c(MSG_ID),
                t("260501123112004+"),
                rv::MessageState::Undeliverable,
                0x22,
            ),
        ),
    );
}

#[test]
fn cancel_sm() {
    cross(
        k::Command::new(
            6002,
            k::Pdu::CancelSm(k::CancelSm {
                service_type: s("CMT"),
                message_id: s(MSG_ID),
                source_addr_ton: k::Ton::ALPHANUMERIC,
                source_addr_npi: k::Npi::UNKNOWN,
                source_addr: s(SENDER),
                dest_addr_ton: k::Ton::INTERNATIONAL,
                dest_addr_npi: k::Npi::ISDN,
                destination_addr: s(MSISDN),
            }),
        ),
        r::Command::new(
            OK,
            6002,
            rp::CancelSm::builder()
                .service_type(rv::ServiceType::new(c("CMT")))
                .message_id(c(MSG_ID))
                .source_addr_ton(rv::Ton::Alphanumeric)
                .source_addr_npi(rv::Npi::Unknown)
                .source_addr(c(SENDER))
                .dest_addr_ton(rv::Ton::International)
                .dest_addr_npi(rv::Npi::Isdn)
                .destination_addr(c(MSISDN))
                .build(),
        ),
    );
}

#[test]
fn replace_sm() {
    cross(
        k::Command::new(
            6003,
            k::Pdu::ReplaceSm(k::ReplaceSm {
                message_id: s(MSG_ID),
                source_addr_ton: k::Ton::ALPHANUMERIC,
                source_addr_npi: k::Npi::UNKNOWN,
                source_addr: s(SENDER),
                schedule_delivery_time: s(SCHEDULE),
                validity_period: s("260502000000000+"),
                registered_delivery: k::RegisteredDelivery::ON_FINAL,
                sm_default_msg_id: 2,
                short_message: Bytes::from_static(b"Replacement text"),
            }),
        ),
        r::Command::new(
            OK,
            6003,
            rp::ReplaceSm::builder()
                .message_id(c(MSG_ID))
                .source_addr_ton(rv::Ton::Alphanumeric)
                .source_addr_npi(rv::Npi::Unknown)
                .source_addr(c(SENDER))
                .schedule_delivery_time(t(SCHEDULE))
                .validity_period(t("260502000000000+"))
                .registered_delivery(rv::RegisteredDelivery::from(1))
                .sm_default_msg_id(2)
                .short_message(os(b"Replacement text"))
                .build(),
        ),
    );
}

#[test]
fn alert_notification() {
    let long = "sip:subscriber-31612345678@ims.example.net";
    cross(
        k::Command::new(
            6004,
            k::Pdu::AlertNotification(k::AlertNotification {
                source_addr_ton: k::Ton::INTERNATIONAL,
                source_addr_npi: k::Npi::INTERNET,
                source_addr: s(long),
                esme_addr_ton: k::Ton::NETWORK_SPECIFIC,
                esme_addr_npi: k::Npi::PRIVATE,
                esme_addr: s("4455"),
                tlvs: vec![k::Tlv::MsAvailabilityStatus(1)],
            }),
        ),
        r::Command::new(
            OK,
            6004,
            rp::AlertNotification::new(
                rv::Ton::International,
                rv::Npi::Internet,
                c(long),
                rv::Ton::NetworkSpecific,
                rv::Npi::Private,
                c("4455"),
                Some(rv::MsAvailabilityStatus::Denied),
            ),
        ),
    );
}

// ---------- random field values ----------

/// One submit_sm / deliver_sm worth of field values, within both crates' limits: ASCII
/// C-Octet Strings, time fields empty or 16 characters, `short_message` at most 254 octets.
#[derive(Debug, Clone)]
struct Sm {
    service_type: String,
    source: (u8, u8, String),
    dest: (u8, u8, String),
    octets: [u8; 7], // esm_class, protocol_id, priority_flag, registered_delivery,
    //                  replace_if_present_flag, data_coding, sm_default_msg_id
    times: (String, String),
    short_message: Vec<u8>,
    sar: Option<(u16, u8, u8)>,
    user_message_reference: Option<u16>,
    payload: Option<Vec<u8>>,
    vendor: Option<(u16, Vec<u8>)>,
    /// deliver_sm only: receipted_message_id, message_state, network_error_code.
    receipt: Option<(String, u8, (u8, u16))>,
}

fn sm_strategy() -> impl Strategy<Value = Sm> {
    let addr = || (any::<u8>(), any::<u8>(), "[ -~]{0,20}");
    let time = || prop_oneof![Just(String::new()), "[0-9]{12}[0-9]{3}[-+R]"];
    (
        (
            "[ -~]{0,5}",
            addr(),
            addr(),
            any::<[u8; 7]>(),
            (time(), time()),
        ),
        proptest::collection::vec(any::<u8>(), 0..=254),
        (
            proptest::option::of(any::<(u16, u8, u8)>()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 1..600)),
            proptest::option::of((
                0x1400u16..=0x3FFF,
                proptest::collection::vec(any::<u8>(), 1..8),
            )),
            proptest::option::of(("[ -~]{0,64}", any::<u8>(), any::<(u8, u16)>())),
        ),
    )
        .prop_map(
            |((service_type, source, dest, octets, times), short_message, tlvs)| Sm {
                service_type,
                source,
                dest,
                octets,
                times,
                short_message,
                sar: tlvs.0,
                user_message_reference: tlvs.1,
                payload: tlvs.2,
                vendor: tlvs.3,
                receipt: tlvs.4,
            },
        )
}

fn ours_sm(f: &Sm, deliver: bool) -> k::Command {
    let [esm, pid, prio, reg, replace, dcs, default_id] = f.octets;
    let mut tlvs = Vec::new();
    if let Some((reference, total, seqnum)) = f.sar {
        tlvs.push(k::Tlv::SarMsgRefNum(reference));
        tlvs.push(k::Tlv::SarTotalSegments(total));
        tlvs.push(k::Tlv::SarSegmentSeqnum(seqnum));
    }
    tlvs.extend(f.user_message_reference.map(k::Tlv::UserMessageReference));
    tlvs.extend(f.payload.clone().map(|p| k::Tlv::MessagePayload(p.into())));
    if let (true, Some((id, state, (network_type, error_code)))) = (deliver, &f.receipt) {
        tlvs.push(k::Tlv::ReceiptedMessageId(k::TlvString::new(id.as_bytes())));
        tlvs.push(k::Tlv::MessageState(*state));
        tlvs.push(k::Tlv::NetworkErrorCode(k::NetworkErrorCode {
            network_type: *network_type,
            error_code: *error_code,
        }));
    }
    tlvs.extend(f.vendor.clone().map(|(tag, value)| k::Tlv::Other {
        tag,
        value: value.into(),
    }));
    let sm = k::SubmitSm {
        service_type: s(&f.service_type),
        source_addr_ton: k::Ton(f.source.0),
        source_addr_npi: k::Npi(f.source.1),
        source_addr: s(&f.source.2),
        dest_addr_ton: k::Ton(f.dest.0),
        dest_addr_npi: k::Npi(f.dest.1),
        destination_addr: s(&f.dest.2),
        esm_class: k::EsmClass(esm),
        protocol_id: pid,
        priority_flag: prio,
        schedule_delivery_time: s(&f.times.0),
        validity_period: s(&f.times.1),
        registered_delivery: k::RegisteredDelivery(reg),
        replace_if_present_flag: replace,
        data_coding: k::DataCoding(dcs),
        sm_default_msg_id: default_id,
        short_message: f.short_message.clone().into(),
        tlvs,
    };
    k::Command::new(
        0x0ABC_DEF0,
        if deliver {
            k::Pdu::DeliverSm(sm)
        } else {
            k::Pdu::SubmitSm(sm)
        },
    )
}

/// rusmpp types its TLVs per PDU family; both families have these variants.
macro_rules! theirs_common_tlvs {
    ($family:ident, $f:expr) => {{
        let f: &Sm = $f;
        let mut tlvs = Vec::new();
        if let Some((reference, total, seqnum)) = f.sar {
            tlvs.push($family::SarMsgRefNum(reference));
            tlvs.push($family::SarTotalSegments(total));
            tlvs.push($family::SarSegmentSeqnum(seqnum));
        }
        tlvs.extend(
            f.user_message_reference
                .map(|v| $family::UserMessageReference(rv::UserMessageReference::new(v))),
        );
        tlvs.extend(
            f.payload
                .as_ref()
                .map(|p| $family::MessagePayload(rv::MessagePayload::new(raw(p)))),
        );
        tlvs
    }};
}

macro_rules! theirs_sm {
    ($builder:expr, $f:expr, $tlvs:expr) => {{
        let f: &Sm = $f;
        let [esm, pid, prio, reg, replace, dcs, default_id] = f.octets;
        $builder
            .service_type(rv::ServiceType::new(c(&f.service_type)))
            .source_addr_ton(rv::Ton::from(f.source.0))
            .source_addr_npi(rv::Npi::from(f.source.1))
            .source_addr(c(&f.source.2))
            .dest_addr_ton(rv::Ton::from(f.dest.0))
            .dest_addr_npi(rv::Npi::from(f.dest.1))
            .destination_addr(c(&f.dest.2))
            .esm_class(rv::EsmClass::from(esm))
            .protocol_id(pid)
            .priority_flag(rv::PriorityFlag::from(prio))
            .schedule_delivery_time(t(&f.times.0))
            .validity_period(t(&f.times.1))
            .registered_delivery(rv::RegisteredDelivery::from(reg))
            .replace_if_present_flag(rv::ReplaceIfPresentFlag::from(replace))
            .data_coding(rv::DataCoding::from(dcs))
            .sm_default_msg_id(default_id)
            .short_message(os(&f.short_message))
            .tlvs($tlvs)
            .build()
    }};
}

fn theirs_sm(f: &Sm, deliver: bool) -> r::Command {
    let vendor = |f: &Sm| f.vendor.clone().map(|(tag, v)| (RTag::Other(tag), raw(&v)));
    let pdu: r::Pdu = if deliver {
        let mut tlvs = theirs_common_tlvs!(RDel, f);
        if let Some((id, state, (network_type, error_code))) = &f.receipt {
            tlvs.push(RDel::ReceiptedMessageId(c(id)));
            tlvs.push(RDel::MessageState(rv::MessageState::from(*state)));
            tlvs.push(RDel::NetworkErrorCode(rv::NetworkErrorCode::new(
                rv::ErrorCodeNetworkType::from(*network_type),
                *error_code,
            )));
        }
        tlvs.extend(vendor(f).map(|(tag, value)| RDel::Other { tag, value }));
        theirs_sm!(rp::DeliverSm::builder(), f, tlvs).into()
    } else {
        let mut tlvs = theirs_common_tlvs!(RSub, f);
        tlvs.extend(vendor(f).map(|(tag, value)| RSub::Other { tag, value }));
        theirs_sm!(rp::SubmitSm::builder(), f, tlvs).into()
    };
    r::Command::new(OK, 0x0ABC_DEF0, pdu)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_submit_sm(f in sm_strategy()) {
        cross(ours_sm(&f, false), theirs_sm(&f, false));
    }

    #[test]
    fn random_deliver_sm(f in sm_strategy()) {
        cross(ours_sm(&f, true), theirs_sm(&f, true));
    }
}

// ---------- known divergences: our side asserted, rusmpp's recorded ----------

/// A delivery receipt, adjusted by `mutate`, and its octets as we encode it.
fn receipt_wire(mutate: impl FnOnce(&mut k::DeliverSm)) -> (k::Command, Vec<u8>) {
    let mut dm = k::DeliverSm {
        source_addr_ton: k::Ton::INTERNATIONAL,
        source_addr_npi: k::Npi::ISDN,
        source_addr: s(MSISDN),
        destination_addr: s("4455"),
        esm_class: k::EsmClass::DELIVERY_RECEIPT,
        short_message: Bytes::from_static(RECEIPT.as_bytes()),
        ..Default::default()
    };
    mutate(&mut dm);
    let cmd = k::Command::new(8001, k::Pdu::DeliverSm(dm));
    let wire = ours_encode(&cmd);
    (cmd, wire)
}

fn rusmpp_rejects(wire: &[u8], why: &str) {
    let err = theirs_decode(wire).unwrap_err();
    assert!(err.contains(why), "rusmpp: {err}");
}

#[test]
fn divergence_receipted_message_id_without_nul() {
    let (cmd, wire) = receipt_wire(|dm| {
        dm.tlvs = vec![k::Tlv::ReceiptedMessageId(k::TlvString::from_wire(
            Bytes::from_static(MSG_ID.as_bytes()),
        ))];
    });
    let ours = ours_decode(&wire).unwrap();
    assert_eq!(ours, cmd);
    let k::Pdu::DeliverSm(dm) = &ours.pdu else {
        panic!()
    };
    use k::TlvList;
    assert_eq!(dm.tlvs.receipted_message_id(), Some(MSG_ID.as_bytes()));
    assert_eq!(ours_encode(&ours), wire, "re-encodes without adding a NUL");
    rusmpp_rejects(&wire, "NotNullTerminated");
}

#[test]
fn divergence_known_tlv_with_wrong_size_is_kept_raw() {
    let odd = k::Tlv::Other {
        tag: k::TlvTag::MESSAGE_STATE.0,
        value: Bytes::from_static(&[0, 2]),
    };
    let (cmd, wire) = receipt_wire(|dm| dm.tlvs = vec![odd.clone(), k::Tlv::MessageState(2)]);
    assert_eq!(
        ours_decode(&wire),
        Ok(cmd),
        "the body and the next TLV survive"
    );
    // rusmpp reads one octet and loses step with the TLVs after it …
    let theirs = theirs_decode(&wire).unwrap();
    let Some(r::Pdu::DeliverSm(dm)) = theirs.pdu() else {
        panic!()
    };
    let delivered = r::tlvs::TlvValue::MessageState(rv::MessageState::Delivered);
    assert!(!dm.tlvs().iter().any(|t| t.value() == Some(&delivered)));
    // … and rejects the PDU when it is the last one.
    let (cmd, wire) = receipt_wire(|dm| dm.tlvs = vec![odd]);
    assert_eq!(ours_decode(&wire), Ok(cmd));
    rusmpp_rejects(&wire, "UnexpectedEof");
}

#[test]
fn divergence_non_ascii_c_octet_string() {
    // A Latin-1 alphanumeric sender, as some SMSCs pass them through.
    let (cmd, wire) = receipt_wire(|dm| {
        dm.source_addr_ton = k::Ton::ALPHANUMERIC;
        dm.source_addr = k::COctetString::new(b"Caf\xe9").unwrap();
    });
    assert_eq!(ours_decode(&wire), Ok(cmd));
    rusmpp_rejects(&wire, "NotAscii");
}

#[test]
fn divergence_time_field_not_16_characters() {
    let (cmd, wire) = receipt_wire(|dm| dm.validity_period = s("260101120000"));
    assert_eq!(ours_decode(&wire), Ok(cmd));
    rusmpp_rejects(&wire, "TooFewBytes");
}

#[test]
fn divergence_data_sm_addresses_up_to_65_octets() {
    // §4.7.1: data_sm source_addr / destination_addr are Var. max 65, rusmpp allows 21.
    let long = "sip:+31612345678@ims.mnc008.mcc204.3gppnetwork.org";
    let cmd = k::Command::new(
        8002,
        k::Pdu::DataSm(k::DataSm {
            source_addr_npi: k::Npi::INTERNET,
            source_addr: s(long),
            destination_addr: s("4455"),
            tlvs: vec![k::Tlv::MessagePayload(Bytes::from_static(b"hi"))],
            ..Default::default()
        }),
    );
    let wire = ours_encode(&cmd);
    assert_eq!(ours_decode(&wire), Ok(cmd));
    rusmpp_rejects(&wire, "NotNullTerminated");
}

#[test]
fn divergence_source_telematics_id_is_one_octet_in_3_4() {
    // §5.3.2.8: Integer 1 in SMPP 3.4; SMPP 5.0 (rusmpp) made it Integer 2.
    let cmd = k::Command::new(
        8003,
        k::Pdu::SubmitSm(ours_submit(vec![k::Tlv::SourceTelematicsId(2)], b"hi")),
    );
    let wire = ours_encode(&cmd);
    assert_eq!(&wire[wire.len() - 5..], &[0x00, 0x10, 0x00, 0x01, 0x02]);
    assert_eq!(ours_decode(&wire), Ok(cmd));
    assert!(theirs_decode(&wire).is_err());
}

#[test]
fn divergence_replace_sm_with_message_payload() {
    // SMPP 5.0 added message_payload to replace_sm; 3.4 defines no TLVs for it.
    let theirs = r::Command::new(
        OK,
        8004,
        rp::ReplaceSm::builder()
            .message_id(c(MSG_ID))
            .source_addr(c(SENDER))
            .message_payload(Some(rv::MessagePayload::new(raw(b"new text"))))
            .build(),
    );
    let wire = theirs_encode(&theirs);
    let frame = k::decode(&wire);
    assert_eq!(frame.header.command_id, k::CommandId::ReplaceSm);
    assert_eq!(
        frame.header.sequence_number, 8004,
        "kept, so the session can answer"
    );
    assert_eq!(frame.body, Err(k::BodyError::TrailingBytes(12)));
}

#[test]
fn divergence_truncated_last_tlv() {
    let (_, mut wire) = receipt_wire(|dm| dm.tlvs = vec![k::Tlv::MessageState(2)]);
    let at = wire.len() - 3;
    wire[at..at + 2].copy_from_slice(&5u16.to_be_bytes()); // declares 5 octets, has 1
    assert!(matches!(
        ours_decode(&wire),
        Err(k::BodyError::TlvStream { .. })
    ));
    assert!(theirs_decode(&wire).is_ok(), "rusmpp accepts it");
}

#[test]
fn divergence_ok_resp_with_empty_body() {
    let wire = ours_encode(&k::Command::new(
        8005,
        k::Pdu::Other {
            command_id: k::CommandId::SubmitSmResp.code(),
            body: Bytes::new(),
        },
    ));
    assert_eq!(wire.len(), 16);
    assert_eq!(
        ours_decode(&wire),
        Ok(k::Command::new(
            8005,
            k::Pdu::SubmitSmResp(k::SmResp::default())
        ))
    );
    assert_eq!(theirs_decode(&wire).unwrap().pdu(), None);
}

#[test]
fn divergence_zero_length_tlvs() {
    // Same octets both ways; rusmpp represents a zero-length value as `value() == None`.
    let (cmd, wire) = receipt_wire(|dm| {
        dm.tlvs = vec![vendor(b""), k::Tlv::MessagePayload(Bytes::new())];
    });
    assert_eq!(ours_decode(&wire), Ok(cmd));
    let theirs = theirs_decode(&wire).unwrap();
    let Some(r::Pdu::DeliverSm(dm)) = theirs.pdu() else {
        panic!()
    };
    assert_eq!(dm.tlvs().len(), 2);
    assert!(dm.tlvs().iter().all(|t| t.value_length() == 0));
    assert_eq!(theirs_encode(&theirs), wire);
}

#[test]
fn rusmpp_esm_class_default_is_not_zero() {
    // Why every rusmpp construction above sets esm_class: its default is 0x08.
    assert_eq!(u8::from(rv::EsmClass::default()), 0x08);
    assert_eq!(k::EsmClass::default().0, 0x00);
}
