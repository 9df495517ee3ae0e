//! Byte-exact fixtures for every SMPP 3.4 PDU (`fixtures/pdus.rs`): each decodes to the fields its
//! source states, `decode_shared` agrees with `decode`, and re-encoding gives the same bytes. Then
//! the malformed ones: which `BodyError` each gives, the status a session answers with, and the
//! exact bytes of that answer.
#![allow(clippy::unwrap_used)]

#[path = "fixtures/pdus.rs"]
mod pdus;

use bytes::Bytes;
use kori_smpp::{
    BodyError, Command, CommandId, CommandStatus, DataCoding, DestAddress, EncodeError, EsmClass,
    HeaderError, InterfaceVersion, NetworkErrorCode, Npi, Pdu, RegisteredDelivery, Tlv, TlvList,
    TlvString, Ton, decode, decode_shared, encode_to_vec, error_response, frame_len,
};
use pdus::*;

/// Decodes `wire`, checks the header against the wire length and `decode_shared` against
/// `decode`, re-encodes to the same bytes and returns the command.
#[track_caller]
fn round_trip(wire: &[u8], id: CommandId) -> Command {
    let frame = decode(wire);
    assert_eq!(
        frame.header.command_length as usize,
        wire.len(),
        "command_length"
    );
    assert_eq!(frame.header.command_id, id, "command_id");
    assert_eq!(
        decode_shared(&Bytes::copy_from_slice(wire)),
        frame,
        "decode_shared agrees with decode"
    );
    assert_eq!(frame_len(wire, u32::MAX), Ok(Some(wire.len())), "frame_len");
    let cmd = frame
        .into_command()
        .unwrap_or_else(|(h, e)| panic!("{} did not decode: {e}", h.command_id));
    assert_eq!(cmd.encoded_len(), wire.len(), "encoded_len");
    assert_eq!(
        encode_to_vec(&cmd).unwrap(),
        wire,
        "re-encodes byte for byte"
    );
    cmd
}

/// The body error of a fixture whose header is sound, with `decode_shared` agreeing.
#[track_caller]
fn body_error(wire: &[u8], id: CommandId) -> BodyError {
    let frame = decode(wire);
    assert_eq!(
        frame.header.command_length as usize,
        wire.len(),
        "command_length"
    );
    assert_eq!(frame.header.command_id, id, "command_id");
    assert_eq!(decode_shared(&Bytes::copy_from_slice(wire)), frame);
    frame.body.expect_err("the body must not decode")
}

/// The answer a session owes to `wire`, encoded.
#[track_caller]
fn answer(wire: &[u8], status: CommandStatus) -> Vec<u8> {
    let header = decode(wire).header;
    let cmd = error_response(&header, status).expect("a request is owed an answer");
    encode_to_vec(&cmd).unwrap()
}

fn tlv_string(text: &str) -> Tlv {
    Tlv::ReceiptedMessageId(TlvString::new(text.as_bytes()))
}

// ---- session management ----------------------------------------------------------------------

#[test]
fn bind_transmitter_spec_example() {
    let cmd = round_trip(&BIND_TRANSMITTER_SPEC_EXAMPLE, CommandId::BindTransmitter);
    assert_eq!((cmd.status, cmd.sequence_number), (CommandStatus::Ok, 1));
    let Pdu::BindTransmitter(b) = cmd.pdu else {
        panic!("{:?}", cmd.pdu)
    };
    assert_eq!(b.system_id, "SMPP3TEST");
    assert_eq!(b.password, "secret08");
    assert_eq!(b.system_type, "SUBMIT1");
    assert_eq!(b.interface_version, InterfaceVersion::V50);
    assert_eq!((b.addr_ton, b.addr_npi), (Ton::INTERNATIONAL, Npi::ISDN));
    assert!(b.address_range.is_empty());
}

#[test]
fn bind_requests_of_each_kind() {
    let cmd = round_trip(&BIND_TRANSMITTER, CommandId::BindTransmitter);
    assert_eq!(cmd.sequence_number, 235_871);
    let Pdu::BindTransmitter(b) = cmd.pdu else {
        panic!()
    };
    assert_eq!(
        (b.system_id, b.password),
        ("twitter".try_into().unwrap(), "twitter".try_into().unwrap())
    );
    assert_eq!(b.interface_version, InterfaceVersion::V34);

    let cmd = round_trip(&BIND_RECEIVER, CommandId::BindReceiver);
    assert_eq!(cmd.sequence_number, 235_873);
    let Pdu::BindReceiver(b) = cmd.pdu else {
        panic!()
    };
    assert_eq!(b.system_id, "twitter");
    assert!(b.system_type.is_empty());

    let cmd = round_trip(&BIND_TRANSCEIVER, CommandId::BindTransceiver);
    let Pdu::BindTransceiver(b) = cmd.pdu else {
        panic!()
    };
    assert_eq!(
        (b.system_id, b.password),
        ("ALL_TW".try_into().unwrap(), "ALL_TW".try_into().unwrap())
    );
    assert_eq!((b.addr_ton, b.addr_npi), (Ton(1), Npi(2)));

    let cmd = round_trip(&BIND_TRANSCEIVER_WITH_RANGE, CommandId::BindTransceiver);
    assert_eq!(cmd.sequence_number, 2);
    let Pdu::BindTransceiver(b) = cmd.pdu else {
        panic!()
    };
    assert_eq!(b.system_type, "OTA");
    assert_eq!((b.addr_ton, b.addr_npi), (Ton::NATIONAL, Npi::LAND_MOBILE));
    assert_eq!(b.address_range, "127.0.0.*");
}

#[test]
fn bind_responses_carry_sc_interface_version() {
    for (wire, id, system_id, seq) in [
        (
            &BIND_TRANSMITTER_RESP,
            CommandId::BindTransmitterResp,
            "TWITTER",
            235_871,
        ),
        (
            &BIND_RECEIVER_RESP,
            CommandId::BindReceiverResp,
            "twitter",
            235_874,
        ),
        (
            &BIND_TRANSCEIVER_RESP,
            CommandId::BindTransceiverResp,
            "Smsc GW",
            235_843,
        ),
    ] {
        let cmd = round_trip(wire, id);
        assert_eq!((cmd.status, cmd.sequence_number), (CommandStatus::Ok, seq));
        let (Pdu::BindTransmitterResp(r) | Pdu::BindReceiverResp(r) | Pdu::BindTransceiverResp(r)) =
            cmd.pdu
        else {
            panic!("{:?}", cmd.pdu)
        };
        assert_eq!(r.system_id, system_id);
        assert_eq!(r.tlvs, [Tlv::ScInterfaceVersion(0x34)]);
    }
    let cmd = round_trip(
        &BIND_TRANSCEIVER_RESP_NO_TLV,
        CommandId::BindTransceiverResp,
    );
    let Pdu::BindTransceiverResp(r) = cmd.pdu else {
        panic!()
    };
    assert_eq!(r.system_id, "Smsc Simulator");
    assert!(r.tlvs.is_empty());
}

#[test]
fn refused_binds_with_and_without_body() {
    // A refusal that still names the SMSC keeps its body on the way back out.
    let cmd = round_trip(
        &BIND_TRANSCEIVER_RESP_REFUSED_WITH_BODY,
        CommandId::BindTransceiverResp,
    );
    assert_eq!(cmd.status, CommandStatus::InvalidPassword);
    assert_eq!(cmd.sequence_number, 19_891);
    let Pdu::BindTransceiverResp(r) = cmd.pdu else {
        panic!()
    };
    assert_eq!(r.system_id, "SMSC");

    let cmd = round_trip(&BIND_RECEIVER_RESP_REFUSED, CommandId::BindReceiverResp);
    assert_eq!(cmd.status, CommandStatus::InvalidPassword);
    assert_eq!(cmd.pdu, Pdu::BindReceiverResp(Default::default()));
}

#[test]
fn outbind() {
    let cmd = round_trip(&OUTBIND, CommandId::Outbind);
    let Pdu::Outbind(o) = cmd.pdu else { panic!() };
    assert_eq!(
        (o.system_id, o.password),
        ("SMSC01".try_into().unwrap(), "pw4esme".try_into().unwrap())
    );
}

#[test]
fn header_only_pdus() {
    for (wire, id, status, seq, pdu) in [
        (
            &UNBIND,
            CommandId::Unbind,
            CommandStatus::Ok,
            1,
            Pdu::Unbind,
        ),
        (
            &UNBIND_RESP,
            CommandId::UnbindResp,
            CommandStatus::Ok,
            1,
            Pdu::UnbindResp,
        ),
        (
            &GENERIC_NACK,
            CommandId::GenericNack,
            CommandStatus::InvalidMessageLength,
            535_159,
            Pdu::GenericNack,
        ),
        (
            &ENQUIRE_LINK,
            CommandId::EnquireLink,
            CommandStatus::Ok,
            171_192_039,
            Pdu::EnquireLink,
        ),
        (
            &ENQUIRE_LINK_RESP,
            CommandId::EnquireLinkResp,
            CommandStatus::Ok,
            171_192_045,
            Pdu::EnquireLinkResp,
        ),
        (
            &ENQUIRE_LINK_MAX_SEQUENCE,
            CommandId::EnquireLink,
            CommandStatus::Ok,
            0x7FFF_FFFF,
            Pdu::EnquireLink,
        ),
        (
            &CANCEL_SM_RESP,
            CommandId::CancelSmResp,
            CommandStatus::Ok,
            21,
            Pdu::CancelSmResp,
        ),
        (
            &REPLACE_SM_RESP,
            CommandId::ReplaceSmResp,
            CommandStatus::Ok,
            22,
            Pdu::ReplaceSmResp,
        ),
    ] {
        let cmd = round_trip(wire, id);
        assert_eq!(cmd, Command::with_status(status, seq, pdu));
    }
}

// ---- submit_sm -------------------------------------------------------------------------------

#[test]
fn submit_sm_gsm7() {
    let cmd = round_trip(&SUBMIT_SM_GSM7, CommandId::SubmitSm);
    assert_eq!(cmd.sequence_number, 20_456);
    let Pdu::SubmitSm(sm) = cmd.pdu else { panic!() };
    assert!(sm.service_type.is_empty());
    assert_eq!(
        (sm.source_addr_ton, sm.source_addr_npi),
        (Ton::INTERNATIONAL, Npi::ISDN)
    );
    assert_eq!(sm.source_addr, "40404");
    assert_eq!(sm.destination_addr, "44951361920");
    assert_eq!(sm.esm_class, EsmClass::DEFAULT);
    assert_eq!(sm.registered_delivery, RegisteredDelivery::ON_FINAL);
    assert_eq!(sm.data_coding, DataCoding::DEFAULT);
    assert_eq!(&sm.short_message[..], b"@$#!%&/:");
    assert!(sm.tlvs.is_empty());
}

#[test]
fn submit_sm_alphanumeric_sender_class2() {
    let cmd = round_trip(&SUBMIT_SM_ALPHANUMERIC_CLASS2, CommandId::SubmitSm);
    let Pdu::SubmitSm(sm) = cmd.pdu else { panic!() };
    assert_eq!(
        (sm.source_addr_ton, sm.source_addr_npi),
        (Ton::ALPHANUMERIC, Npi::UNKNOWN)
    );
    assert_eq!(sm.source_addr, "mobileway");
    assert_eq!(sm.data_coding, DataCoding(0xF2));
    assert_eq!(&sm.short_message[..], b"HELLO");
}

#[test]
fn submit_sm_with_udh() {
    let cmd = round_trip(&SUBMIT_SM_UDH_PORTS, CommandId::SubmitSm);
    assert_eq!(cmd.sequence_number, 455_569);
    let Pdu::SubmitSm(sm) = cmd.pdu else { panic!() };
    assert!(sm.esm_class.has_udh());
    assert_eq!(sm.data_coding, DataCoding(0xF5));
    assert_eq!(sm.short_message.len(), 117);
    assert_eq!(
        &sm.short_message[..7],
        [0x06, 0x05, 0x04, 0x15, 0x81, 0x15, 0x81]
    );

    let cmd = round_trip(&SUBMIT_SM_CONCAT_UDH, CommandId::SubmitSm);
    let Pdu::SubmitSm(sm) = cmd.pdu else { panic!() };
    assert_eq!(sm.esm_class, EsmClass::UDHI);
    assert_eq!(&sm.short_message[..6], [0x05, 0x00, 0x03, 0x2A, 0x02, 0x01]);
    assert_eq!(&sm.short_message[6..], b"Your cart is waiting: ");
}

#[test]
fn submit_sm_with_sar_tlvs() {
    let cmd = round_trip(&SUBMIT_SM_SAR, CommandId::SubmitSm);
    let Pdu::SubmitSm(sm) = cmd.pdu else { panic!() };
    assert!(!sm.esm_class.has_udh());
    assert_eq!(sm.tlvs.sar(), Some((0x1234, 3, 2)));
    assert_eq!(&sm.short_message[..], b"second part");
}

#[test]
fn submit_sm_with_message_payload_and_sm_length_0() {
    let cmd = round_trip(&SUBMIT_SM_MESSAGE_PAYLOAD, CommandId::SubmitSm);
    let Pdu::SubmitSm(sm) = cmd.pdu else { panic!() };
    assert!(sm.short_message.is_empty());
    let payload = sm.tlvs.message_payload().unwrap();
    assert!(payload.len() > 160);
    assert!(payload.starts_with(b"Hi Ana, the shoes"));
    assert!(payload.ends_with(b"opt out of reminders."));
}

#[test]
fn submit_sm_keeps_vendor_tlvs_in_wire_order() {
    let cmd = round_trip(&SUBMIT_SM_VENDOR_TLV, CommandId::SubmitSm);
    let Pdu::SubmitSm(sm) = cmd.pdu else { panic!() };
    assert_eq!(
        sm.tlvs,
        [
            Tlv::UserMessageReference(42),
            Tlv::Other {
                tag: 0x1400,
                value: Bytes::from_static(b"KORI-42")
            },
            Tlv::Other {
                tag: 0x1501,
                value: Bytes::from_static(&[0xBE, 0xEF])
            },
        ]
    );
}

#[test]
fn submit_sm_resp_with_message_id() {
    let cmd = round_trip(&SUBMIT_SM_RESP, CommandId::SubmitSmResp);
    assert_eq!(
        (cmd.status, cmd.sequence_number),
        (CommandStatus::Ok, 171_192_033)
    );
    let Pdu::SubmitSmResp(r) = cmd.pdu else {
        panic!()
    };
    assert_eq!(r.message_id, "94258431594");
    assert!(r.tlvs.is_empty());
}

#[test]
fn submit_sm_resp_error_without_body() {
    let cmd = round_trip(&SUBMIT_SM_RESP_ERROR_NO_BODY, CommandId::SubmitSmResp);
    assert_eq!(
        cmd,
        Command::with_status(
            CommandStatus::MessageQueueFull,
            1234,
            Pdu::SubmitSmResp(Default::default())
        )
    );
}

#[test]
fn submit_sm_resp_error_with_nul_body_decodes_and_is_sent_back_without_it() {
    let wire = &SUBMIT_SM_RESP_ERROR_NUL_BODY;
    let frame = decode(wire);
    assert_eq!(decode_shared(&Bytes::copy_from_slice(wire)), frame);
    let cmd = frame.into_command().unwrap();
    assert_eq!(
        cmd,
        Command::with_status(
            CommandStatus::Throttled,
            11,
            Pdu::SubmitSmResp(Default::default())
        )
    );
    // §4.4.2: no body with a non-zero status, so the empty message_id is not written back.
    #[rustfmt::skip]
    let expected = [
        0x00, 0x00, 0x00, 0x10, // command_length 16: one octet shorter than received
        0x80, 0x00, 0x00, 0x04, // submit_sm_resp
        0x00, 0x00, 0x00, 0x58, // ESME_RTHROTTLED
        0x00, 0x00, 0x00, 0x0B, // sequence_number 11
    ];
    assert_eq!(encode_to_vec(&cmd).unwrap(), expected);
    assert_eq!(cmd.encoded_len(), wire.len() - 1);
}

// ---- submit_multi ----------------------------------------------------------------------------

#[test]
fn submit_multi_to_smes_and_a_list() {
    let cmd = round_trip(&SUBMIT_MULTI, CommandId::SubmitMulti);
    let Pdu::SubmitMulti(m) = cmd.pdu else {
        panic!()
    };
    assert_eq!(m.source_addr, "447700900001");
    assert_eq!(
        m.dest_addresses,
        [
            DestAddress::Sme {
                ton: Ton(1),
                npi: Npi(1),
                address: "447700900123".try_into().unwrap()
            },
            DestAddress::Sme {
                ton: Ton(1),
                npi: Npi(1),
                address: "447700900124".try_into().unwrap()
            },
            DestAddress::DistributionList("vip-list".try_into().unwrap()),
        ]
    );
    assert_eq!(m.priority_flag, 1);
    assert_eq!(m.validity_period, "000001000000000R");
    assert_eq!(&m.short_message[..], b"Sale ends tonight");
}

#[test]
fn submit_multi_resp_lists_unsuccessful_smes() {
    let cmd = round_trip(&SUBMIT_MULTI_RESP, CommandId::SubmitMultiResp);
    let Pdu::SubmitMultiResp(r) = cmd.pdu else {
        panic!()
    };
    assert_eq!(r.message_id, "5f2c1a");
    let failed: Vec<_> = r
        .unsuccess_smes
        .iter()
        .map(|u| (u.destination_addr.to_string(), u.error_status_code))
        .collect();
    assert_eq!(
        failed,
        [
            (
                "447700900124".to_owned(),
                CommandStatus::InvalidDestinationAddress
            ),
            ("447700900999".to_owned(), CommandStatus::SubmitFailed),
        ]
    );
}

// ---- deliver_sm: mobile-originated ---------------------------------------------------------------

#[test]
fn deliver_sm_mo_texts() {
    let cmd = round_trip(&DELIVER_SM_MO_LATIN1, CommandId::DeliverSm);
    assert_eq!(
        cmd.sequence_number, 2_676_551_972,
        "above 2^31, kept as sent"
    );
    let Pdu::DeliverSm(sm) = cmd.pdu else {
        panic!()
    };
    assert_eq!(sm.service_type, "AWSBD");
    assert_eq!(
        (sm.source_addr.to_string(), sm.destination_addr.to_string()),
        ("16505551234".into(), "17735554070".into())
    );
    assert_eq!(sm.data_coding, DataCoding::LATIN1);
    assert!(!sm.esm_class.is_receipt());
    assert_eq!(&sm.short_message[..], b"there is no spoon");

    let cmd = round_trip(&DELIVER_SM_MO_NETWORK_TYPES, CommandId::DeliverSm);
    let Pdu::DeliverSm(sm) = cmd.pdu else {
        panic!()
    };
    assert_eq!(
        (sm.source_addr_ton, sm.source_addr_npi),
        (Ton::NATIONAL, Npi::ISDN)
    );
    assert_eq!(
        (sm.dest_addr_ton, sm.dest_addr_npi),
        (Ton::SUBSCRIBER_NUMBER, Npi::PRIVATE)
    );
    assert_eq!(
        sm.tlvs,
        [Tlv::SourceNetworkType(1), Tlv::DestNetworkType(1)]
    );

    let cmd = round_trip(&DELIVER_SM_MO_SUBADDRESS, CommandId::DeliverSm);
    let Pdu::DeliverSm(sm) = cmd.pdu else {
        panic!()
    };
    assert_eq!(&sm.short_message[..], b"Hello I'm a bigg fan of you");
    assert_eq!(
        sm.tlvs,
        [
            Tlv::SourceSubaddress(Bytes::from_static(b"\xA0742")),
            Tlv::DestSubaddress(Bytes::from_static(b"\xA04131")),
        ]
    );

    let cmd = round_trip(&DELIVER_SM_MO_NUL_IN_TEXT, CommandId::DeliverSm);
    let Pdu::DeliverSm(sm) = cmd.pdu else {
        panic!()
    };
    assert_eq!(
        &sm.short_message[..],
        b"HELLO\0",
        "short_message is octets; the NUL stays"
    );
}

#[test]
fn deliver_sm_mo_in_message_payload() {
    let cmd = round_trip(&DELIVER_SM_MO_PAYLOAD, CommandId::DeliverSm);
    let Pdu::DeliverSm(sm) = cmd.pdu else {
        panic!()
    };
    assert!(sm.short_message.is_empty());
    assert_eq!(
        &sm.tlvs.message_payload().unwrap()[..],
        b"@Maidenman664 was it sappy? &Romantic?"
    );
}

// ---- deliver_sm: receipts, several carriers' styles -----------------------------------------

#[test]
fn receipt_as_text_only() {
    let cmd = round_trip(&DELIVER_SM_RECEIPT_TEXT_ONLY, CommandId::DeliverSm);
    let Pdu::DeliverSm(sm) = cmd.pdu else {
        panic!()
    };
    assert_eq!(sm.esm_class, EsmClass::DELIVERY_RECEIPT);
    assert!(sm.esm_class.is_receipt());
    assert_eq!(
        (sm.dest_addr_ton, sm.destination_addr.to_string()),
        (Ton::ALPHANUMERIC, "GTBank".into())
    );
    assert!(sm.tlvs.is_empty());
    assert_eq!(sm.tlvs.receipted_message_id(), None);
    assert!(sm.short_message.starts_with(b"id:94251430923 sub:001"));
    assert!(
        sm.short_message
            .ends_with(b"stat:ACCEPTD err:107 text: 26F102")
    );
}

#[test]
fn receipt_as_text_with_id_and_state_tlvs() {
    let cmd = round_trip(&DELIVER_SM_RECEIPT_TEXT_AND_TLVS, CommandId::DeliverSm);
    let Pdu::DeliverSm(sm) = cmd.pdu else {
        panic!()
    };
    assert!(sm.esm_class.is_receipt());
    assert!(sm.short_message.starts_with(b"id:0059113978 "));
    assert_eq!(sm.tlvs.receipted_message_id(), Some(&b"38601fa"[..]));
    assert_eq!(sm.tlvs.message_state(), Some(2));
    assert_eq!(sm.tlvs.len(), 4);

    let cmd = round_trip(&DELIVER_SM_RECEIPT_HANDSET_ACK, CommandId::DeliverSm);
    let Pdu::DeliverSm(sm) = cmd.pdu else {
        panic!()
    };
    assert_eq!(sm.service_type, "CMT");
    assert_eq!(
        sm.short_message.last(),
        Some(&0),
        "the text receipt ends in NUL"
    );
    assert_eq!(sm.tlvs, [Tlv::MessageState(2), tlv_string("70BA8A69")]);
}

#[test]
fn receipt_with_network_error_code() {
    let cmd = round_trip(&DELIVER_SM_RECEIPT_NETWORK_ERROR, CommandId::DeliverSm);
    assert_eq!(cmd.sequence_number, 0x542E_0F21);
    let Pdu::DeliverSm(sm) = cmd.pdu else {
        panic!()
    };
    assert_eq!(sm.service_type, "1.000");
    assert_eq!(sm.short_message.len(), 128);
    // Sent as the text "000": three octets, so it decodes as a (strange) network_error_code.
    assert_eq!(
        sm.tlvs.network_error_code(),
        Some(NetworkErrorCode {
            network_type: b'0',
            error_code: 0x3030
        })
    );
    assert_eq!(sm.tlvs.message_state(), Some(5));
    assert_eq!(
        sm.tlvs.receipted_message_id(),
        Some(&b"6a3ed98a66444e8abac3acd9bba8656f"[..])
    );

    let cmd = round_trip(&DELIVER_SM_RECEIPT_ID_WITHOUT_NUL, CommandId::DeliverSm);
    let Pdu::DeliverSm(sm) = cmd.pdu else {
        panic!()
    };
    assert_eq!(
        sm.tlvs.network_error_code(),
        Some(NetworkErrorCode {
            network_type: 3,
            error_code: 34
        })
    );
}

#[test]
fn receipted_message_id_without_nul_reads_the_same_and_re_encodes_as_sent() {
    let cmd = round_trip(&DELIVER_SM_RECEIPT_ID_WITHOUT_NUL, CommandId::DeliverSm);
    let Pdu::DeliverSm(sm) = cmd.pdu else {
        panic!()
    };
    assert_eq!(sm.tlvs.receipted_message_id(), Some(&b"0A1B2C3D4E"[..]));
    let Tlv::ReceiptedMessageId(raw) = &sm.tlvs[0] else {
        panic!("{:?}", sm.tlvs[0])
    };
    assert_eq!(&raw.raw()[..], b"0A1B2C3D4E", "no NUL added");
    assert_ne!(
        sm.tlvs[0],
        tlv_string("0A1B2C3D4E"),
        "Kori's own form adds the NUL"
    );
    assert_eq!(sm.tlvs.message_state(), Some(5));
}

#[test]
fn receipt_in_message_payload() {
    let cmd = round_trip(&DELIVER_SM_RECEIPT_IN_PAYLOAD, CommandId::DeliverSm);
    let Pdu::DeliverSm(sm) = cmd.pdu else {
        panic!()
    };
    assert_eq!(sm.destination_addr, "XXX YYYY");
    assert!(sm.short_message.is_empty());
    assert_eq!(sm.tlvs.receipted_message_id(), Some(&b"1d305b4c"[..]));
    assert_eq!(sm.tlvs.message_state(), Some(2));
    let text = sm.tlvs.message_payload().unwrap();
    assert!(text.starts_with(b"id:0489708364 "));
    assert!(text.ends_with(&[0x04, 0x35, 0x04, 0x42]));
    assert_eq!(sm.tlvs.last(), Some(&Tlv::MoreMessagesToSend(1)));
}

#[test]
fn deliver_sm_resp() {
    let cmd = round_trip(&DELIVER_SM_RESP, CommandId::DeliverSmResp);
    let Pdu::DeliverSmResp(r) = cmd.pdu else {
        panic!()
    };
    assert_eq!(r.message_id, "94258431594");

    let cmd = round_trip(&DELIVER_SM_RESP_EMPTY_ID, CommandId::DeliverSmResp);
    assert_eq!(
        cmd,
        Command::new(1_141_447, Pdu::DeliverSmResp(Default::default()))
    );
}

// ---- data_sm, query_sm, cancel_sm, replace_sm, alert_notification ----------------------------

#[test]
fn data_sm_and_resp() {
    let cmd = round_trip(&DATA_SM, CommandId::DataSm);
    assert_eq!(cmd.sequence_number, 0);
    let Pdu::DataSm(d) = cmd.pdu else { panic!() };
    assert_eq!(d.source_addr, "5552710000");
    assert_eq!(
        (d.dest_addr_ton, d.destination_addr.to_string()),
        (Ton::UNKNOWN, "9695".into())
    );
    assert_eq!(d.registered_delivery, RegisteredDelivery::ON_FINAL);
    assert_eq!(d.tlvs, [Tlv::MessagePayload(Bytes::from_static(b"Test"))]);

    let cmd = round_trip(&DATA_SM_RESP, CommandId::DataSmResp);
    let Pdu::DataSmResp(r) = cmd.pdu else {
        panic!()
    };
    assert_eq!(r.message_id, "94258431594");

    let cmd = round_trip(&DATA_SM_RESP_DELIVERY_FAILURE, CommandId::DataSmResp);
    assert_eq!(cmd.status, CommandStatus::DeliveryFailure);
    let Pdu::DataSmResp(r) = cmd.pdu else {
        panic!()
    };
    assert!(r.message_id.is_empty());
    assert_eq!(
        r.tlvs,
        [
            Tlv::DeliveryFailureReason(1),
            Tlv::AdditionalStatusInfoText(TlvString::new(b"absent subscriber")),
        ]
    );
}

#[test]
fn query_sm_and_resp() {
    let cmd = round_trip(&QUERY_SM, CommandId::QuerySm);
    let Pdu::QuerySm(q) = cmd.pdu else { panic!() };
    assert_eq!(
        (q.message_id.to_string(), q.source_addr.to_string()),
        ("94258431594".into(), "40404".into())
    );

    let cmd = round_trip(&QUERY_SM_RESP, CommandId::QuerySmResp);
    let Pdu::QuerySmResp(r) = cmd.pdu else {
        panic!()
    };
    assert_eq!(r.message_id, "Smsc2003");
    assert!(r.final_date.is_empty());
    assert_eq!((r.message_state, r.error_code), (7, 0));

    let cmd = round_trip(&QUERY_SM_RESP_FINAL, CommandId::QuerySmResp);
    let Pdu::QuerySmResp(r) = cmd.pdu else {
        panic!()
    };
    assert_eq!(r.final_date, "231104153045004+");
    assert_eq!(r.message_state, 2);
}

#[test]
fn cancel_sm() {
    let cmd = round_trip(&CANCEL_SM, CommandId::CancelSm);
    let Pdu::CancelSm(c) = cmd.pdu else { panic!() };
    assert_eq!(c.message_id, "94258431594");
    assert_eq!(
        (c.source_addr_ton, c.source_addr.to_string()),
        (Ton::ALPHANUMERIC, "Kori".into())
    );
    assert_eq!(c.destination_addr, "447700900123");
}

#[test]
fn replace_sm() {
    let cmd = round_trip(&REPLACE_SM, CommandId::ReplaceSm);
    let Pdu::ReplaceSm(r) = cmd.pdu else { panic!() };
    assert_eq!(r.message_id, "94258431594");
    assert_eq!(r.validity_period, "000000020000000R");
    assert_eq!(r.registered_delivery, RegisteredDelivery::ON_FINAL);
    assert_eq!(&r.short_message[..], b"Your order shipped");
}

#[test]
fn alert_notification_with_long_addresses() {
    let cmd = round_trip(&ALERT_NOTIFICATION, CommandId::AlertNotification);
    let Pdu::AlertNotification(a) = cmd.pdu else {
        panic!()
    };
    assert_eq!(a.source_addr.as_bytes(), [b'X'; 54]);
    assert_eq!(a.esme_addr.as_bytes(), [b'Y'; 56]);
    assert_eq!(
        (a.esme_addr_ton, a.esme_addr_npi),
        (Ton::INTERNATIONAL, Npi::LAND_MOBILE)
    );
    assert_eq!(a.tlvs, [Tlv::MsAvailabilityStatus(1)]);
}

// ---- unknown commands -------------------------------------------------------------------------

#[test]
fn unknown_command_is_kept_whole_and_answered_with_generic_nack() {
    let cmd = round_trip(&UNKNOWN_COMMAND, CommandId::Other(0x110));
    assert_eq!(
        cmd.pdu,
        Pdu::Other {
            command_id: 0x110,
            body: Bytes::new()
        }
    );
    let cmd = round_trip(&UNKNOWN_COMMAND_WITH_BODY, CommandId::Other(0x110));
    assert_eq!(
        cmd.pdu,
        Pdu::Other {
            command_id: 0x110,
            body: Bytes::from_static(&[0x0F])
        }
    );

    let header = decode(&UNKNOWN_COMMAND).header;
    assert_eq!(
        error_response(&header, CommandStatus::InvalidCommandId),
        Some(Command::with_status(
            CommandStatus::InvalidCommandId,
            171_192_039,
            Pdu::GenericNack
        ))
    );
    #[rustfmt::skip]
    let expected = [
        0x00, 0x00, 0x00, 0x10, // command_length 16
        0x80, 0x00, 0x00, 0x00, // generic_nack
        0x00, 0x00, 0x00, 0x03, // ESME_RINVCMDID
        0x0A, 0x34, 0x2E, 0xE7, // the unknown command's sequence_number
    ];
    assert_eq!(
        answer(&UNKNOWN_COMMAND, CommandStatus::InvalidCommandId),
        expected
    );
}

#[test]
fn unknown_response_is_kept_and_not_answered() {
    let cmd = round_trip(&UNKNOWN_RESPONSE, CommandId::Other(0x8000_0110));
    assert!(matches!(
        cmd.pdu,
        Pdu::Other {
            command_id: 0x8000_0110,
            ..
        }
    ));
    let header = decode(&UNKNOWN_RESPONSE).header;
    assert_eq!(
        error_response(&header, CommandStatus::InvalidCommandId),
        None
    );
}

// ---- malformed bodies: error, status, answer ------------------------------------------------

#[test]
fn message_id_without_nul_is_truncated() {
    let err = body_error(&SUBMIT_SM_RESP_ID_WITHOUT_NUL, CommandId::SubmitSmResp);
    assert_eq!(
        err,
        BodyError::Truncated {
            field: "message_id"
        }
    );
    assert_eq!(err.status(), CommandStatus::InvalidCommandLength);
    // A response is never answered.
    assert_eq!(
        error_response(&decode(&SUBMIT_SM_RESP_ID_WITHOUT_NUL).header, err.status()),
        None
    );
}

#[test]
fn truncated_submit_sm_is_answered_with_submit_sm_resp_and_no_body() {
    let err = body_error(&SUBMIT_SM_TRUNCATED, CommandId::SubmitSm);
    assert_eq!(err, BodyError::Truncated { field: "esm_class" });
    assert_eq!(err.status(), CommandStatus::InvalidCommandLength);
    #[rustfmt::skip]
    let expected = [
        0x00, 0x00, 0x00, 0x10, // command_length 16: no body
        0x80, 0x00, 0x00, 0x04, // submit_sm_resp
        0x00, 0x00, 0x00, 0x02, // ESME_RINVCMDLEN
        0x00, 0x00, 0x00, 0x28, // sequence_number 40, echoed
    ];
    assert_eq!(answer(&SUBMIT_SM_TRUNCATED, err.status()), expected);
}

#[test]
fn every_truncation_of_a_submit_sm_is_an_error_with_its_header() {
    // Cutting a good PDU anywhere in its body (and fixing command_length) never panics and never
    // decodes: submit_sm has no optional field before the TLVs and this one has no TLVs.
    let good = &SUBMIT_SM_GSM7;
    for cut in 16..good.len() {
        let mut wire = good[..cut].to_vec();
        wire[..4].copy_from_slice(&(cut as u32).to_be_bytes());
        let err = body_error(&wire, CommandId::SubmitSm);
        let status = err.status();
        assert!(
            matches!(
                err,
                BodyError::Truncated { .. } | BodyError::ShortMessageOverrun { .. }
            ),
            "cut at {cut}: {err:?}"
        );
        assert!(
            [
                CommandStatus::InvalidCommandLength,
                CommandStatus::InvalidMessageLength
            ]
            .contains(&status),
            "cut at {cut}: {status}"
        );
    }
}

#[test]
fn source_addr_of_22_characters_is_esme_rinvsrcadr() {
    let err = body_error(&SUBMIT_SM_SOURCE_ADDR_TOO_LONG, CommandId::SubmitSm);
    assert_eq!(
        err,
        BodyError::StringTooLong {
            field: "source_addr",
            max: 21
        }
    );
    assert_eq!(err.status(), CommandStatus::InvalidSourceAddress);
    assert_eq!(err.status().code(), 0x0A);
    #[rustfmt::skip]
    let expected = [
        0x00, 0x00, 0x00, 0x10, // command_length 16
        0x80, 0x00, 0x00, 0x04, // submit_sm_resp
        0x00, 0x00, 0x00, 0x0A, // ESME_RINVSRCADR
        0x00, 0x00, 0x00, 0x29, // sequence_number 41
    ];
    assert_eq!(
        answer(&SUBMIT_SM_SOURCE_ADDR_TOO_LONG, err.status()),
        expected
    );
}

#[test]
fn system_id_too_long_is_esme_rinvsysid() {
    let err = body_error(&BIND_SYSTEM_ID_TOO_LONG, CommandId::BindTransmitter);
    assert_eq!(
        err,
        BodyError::StringTooLong {
            field: "system_id",
            max: 16
        }
    );
    assert_eq!(err.status().code(), 0x0F);
    #[rustfmt::skip]
    let expected = [
        0x00, 0x00, 0x00, 0x10, // command_length 16: the refusal has no body
        0x80, 0x00, 0x00, 0x02, // bind_transmitter_resp
        0x00, 0x00, 0x00, 0x0F, // ESME_RINVSYSID
        0x00, 0x00, 0x00, 0x2A, // sequence_number 42
    ];
    assert_eq!(answer(&BIND_SYSTEM_ID_TOO_LONG, err.status()), expected);
}

#[test]
fn sm_length_beyond_the_body_is_esme_rinvmsglen() {
    let err = body_error(&DELIVER_SM_SM_LENGTH_OVERRUN, CommandId::DeliverSm);
    assert_eq!(
        err,
        BodyError::ShortMessageOverrun {
            sm_length: 16,
            remaining: 8
        }
    );
    assert_eq!(err.status().code(), 0x01);
    #[rustfmt::skip]
    let expected = [
        0x00, 0x00, 0x00, 0x10, // command_length 16
        0x80, 0x00, 0x00, 0x05, // deliver_sm_resp
        0x00, 0x00, 0x00, 0x01, // ESME_RINVMSGLEN
        0x00, 0x00, 0x00, 0x01, // sequence_number 1
    ];
    assert_eq!(
        answer(&DELIVER_SM_SM_LENGTH_OVERRUN, err.status()),
        expected
    );
}

#[test]
fn broken_tlv_streams_are_esme_rinvoptparstream() {
    let err = body_error(&DELIVER_SM_TLV_LENGTH_OVERRUN, CommandId::DeliverSm);
    // The bad TLV starts after 134 octets of mandatory fields and the 5-octet message_state.
    assert_eq!(
        err,
        BodyError::TlvStream {
            offset: 139,
            reason: "value runs past the end of the PDU"
        }
    );
    assert_eq!(err.status().code(), 0xC0);

    let err = body_error(
        &BIND_TRANSCEIVER_RESP_TLV_CUT,
        CommandId::BindTransceiverResp,
    );
    assert_eq!(
        err,
        BodyError::TlvStream {
            offset: 8,
            reason: "fewer than 4 octets left for tag and length"
        }
    );
    assert_eq!(err.status(), CommandStatus::InvalidOptionalParameterStream);
}

#[test]
fn octets_after_a_body_without_tlvs_are_esme_rinvcmdlen() {
    let err = body_error(&UNBIND_TRAILING_OCTET, CommandId::Unbind);
    assert_eq!(err, BodyError::TrailingBytes(1));
    assert_eq!(err.status().code(), 0x02);

    let err = body_error(&ENQUIRE_LINK_TRAILING_OCTETS, CommandId::EnquireLink);
    assert_eq!(err, BodyError::TrailingBytes(4));
    #[rustfmt::skip]
    let expected = [
        0x00, 0x00, 0x00, 0x10, // command_length 16
        0x80, 0x00, 0x00, 0x15, // enquire_link_resp
        0x00, 0x00, 0x00, 0x02, // ESME_RINVCMDLEN
        0x00, 0x00, 0x00, 0x2B, // sequence_number 43
    ];
    assert_eq!(
        answer(&ENQUIRE_LINK_TRAILING_OCTETS, err.status()),
        expected
    );
}

#[test]
fn bad_dest_flag_is_esme_rinvdestflag() {
    let err = body_error(&SUBMIT_MULTI_BAD_DEST_FLAG, CommandId::SubmitMulti);
    assert_eq!(err, BodyError::InvalidDestFlag(3));
    assert_eq!(err.status().code(), 0x40);
    let answer = answer(&SUBMIT_MULTI_BAD_DEST_FLAG, err.status());
    assert_eq!(
        &answer[4..12],
        [0x80, 0x00, 0x00, 0x21, 0x00, 0x00, 0x00, 0x40]
    );
    assert_eq!(answer.len(), 16, "submit_multi_resp without body");
}

#[test]
fn sm_length_255_decodes_but_is_not_re_encoded() {
    // Lenient in what is read, strict in what is sent: 255 octets decode (cloudhopper accepts
    // them too) but Kori refuses to put more than the 254 of §5.2.21 on the wire.
    let frame = decode(&SUBMIT_SM_SHORT_MESSAGE_255);
    let cmd = frame.into_command().unwrap();
    let Pdu::SubmitSm(sm) = &cmd.pdu else {
        panic!()
    };
    assert_eq!(sm.short_message.len(), 255);
    assert!(sm.short_message.ends_with(b"turpis duis."));
    assert_eq!(
        encode_to_vec(&cmd),
        Err(EncodeError::ShortMessageTooLong(255))
    );
}

// ---- headers that cannot be trusted ---------------------------------------------------------

#[test]
fn command_length_out_of_bounds_is_refused_by_frame_len() {
    // python smpp.pdu `test_decode_command_length_too_short`: length 15.
    let short = [0x00, 0x00, 0x00, 0x0F, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(frame_len(&short, 4096), Err(HeaderError::TooShort(15)));
    // cloudhopper `decodeSignedIntLength`: 0xF0000011, negative to a signed reader.
    let huge = [
        0xF0, 0x00, 0x00, 0x11, 0, 0, 1, 0x10, 0, 0, 0, 0, 0x0A, 0x34, 0x2E, 0xE7,
    ];
    assert_eq!(
        frame_len(&huge, 4096),
        Err(HeaderError::TooLong {
            length: 0xF000_0011,
            max: 4096
        })
    );
    assert_eq!(
        HeaderError::TooShort(15).status(),
        CommandStatus::InvalidCommandLength
    );
    // cloudhopper `decodeLessThan16Bytes`: fifteen octets of an enquire_link, wait for more.
    assert_eq!(frame_len(&ENQUIRE_LINK[..15], 4096), Ok(None));
}

#[test]
fn fewer_than_16_octets_decode_to_a_truncated_header() {
    let frame = decode(&ENQUIRE_LINK[..15]);
    assert_eq!(frame.body, Err(BodyError::Truncated { field: "header" }));
    assert_eq!(frame.header.command_length, 15);
}
