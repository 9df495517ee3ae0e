//! Cross-check against Wireshark's SMPP dissector: one of every SMPP 3.4 PDU, built with
//! realistic values and encoded by our encoder, is written into a pcap (Ethernet / IPv4 / TCP,
//! 40000 -> 2775, one PDU per segment) and read back with `tshark`. Every packet must dissect
//! as SMPP with the command id, status, sequence number and length we sent, with no
//! malformed-packet mark and no expert item of warning or error severity, and the key fields
//! must decode to the values we put in. Set `KORI_WIRESHARK_PCAP=/path.pcap` to keep the capture.
//!
//! `tshark` is not a build dependency: without it on PATH the test prints why and passes,
//! unless `CI` is set (CI installs tshark, see `.ci/run`), where a missing tshark fails it.
#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use kori_smpp::segment::{SplitMethod, SplitOptions, split};
use kori_smpp::text::Encoding;
use kori_smpp::{
    AlertNotification, Bind, BindResp, COctetString, CancelSm, Command, CommandStatus, DataCoding,
    DataSm, DeliverSm, DestAddress, EsmClass, InterfaceVersion, NetworkErrorCode, Npi, Outbind,
    Pdu, QuerySm, QuerySmResp, RegisteredDelivery, ReplaceSm, SmResp, SubmitMulti, SubmitMultiResp,
    SubmitSm, Tlv, TlvString, Ton, UnsuccessSme, encode,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

mod support {
    pub(crate) mod pcap;
}

use support::pcap::tshark_or_skip;

// ---- the capture ---------------------------------------------------------------------------

/// A classic pcap with each payload in its own TCP segment from the ESME to the SMSC.
fn pcap(payloads: &[Vec<u8>]) -> Vec<u8> {
    support::pcap::write(
        payloads
            .iter()
            .map(|p| (support::pcap::Direction::ToSmsc, p.as_slice())),
    )
}

/// A pcap file in the temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn write(bytes: &[u8]) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "kori-smpp-wireshark-{}-{nanos}.pcap",
            std::process::id()
        ));
        std::fs::write(&path, bytes).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// ---- running tshark ------------------------------------------------------------------------

/// Separates the occurrences of one field in `-T fields` output (a control character no
/// value below contains).
const AGGREGATOR: char = '\u{1f}';

/// Options for every run: SMPP on 2775; `short_message` with data_coding 0 shown as text
/// (Kori sends GSM 7-bit unpacked there, which for the ASCII test texts is the same octets);
/// TCP sequence analysis off, since the capture has no handshake and only one direction.
fn tshark_args(file: &Path) -> Vec<String> {
    [
        "-n",
        "-r",
        file.to_str().unwrap(),
        "-d",
        "tcp.port==2775,smpp",
        "-o",
        "smpp.decode_sms_over_smpp:ASCII",
        "-o",
        "tcp.analyze_sequence_numbers:FALSE",
    ]
    .map(String::from)
    .to_vec()
}

fn run(tshark: &Path, args: &[String]) -> String {
    let out = Process::new(tshark).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Lossy: see `as_wireshark_shows_ucs2` for the one place tshark prints invalid UTF-8.
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Dissector quirk: Wireshark decodes data_coding 8 as strict UCS-2, one 16-bit unit at a
/// time, so a character outside the BMP (sent, as every handset expects, as a UTF-16
/// surrogate pair) comes out as two lone surrogates — printed by tshark 4.0 as invalid UTF-8,
/// by other versions as U+FFFD. Both sides are compared with each such character, and each
/// run of replacement characters, as one U+FFFD.
fn as_wireshark_shows_ucs2(text: &str) -> String {
    text.chars()
        .map(|ch| if ch.len_utf16() == 2 { '\u{FFFD}' } else { ch })
        .collect()
}

/// Runs of U+FFFD squashed to one (the other half of [`as_wireshark_shows_ucs2`]).
fn squash_replacements(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        if !(ch == '\u{FFFD}' && out.ends_with('\u{FFFD}')) {
            out.push(ch);
        }
    }
    out
}

/// Per packet, each field's occurrences, via `tshark -T fields`.
fn fields(tshark: &Path, file: &Path, names: &[&str]) -> Vec<BTreeMap<String, Vec<String>>> {
    let mut args = tshark_args(file);
    args.extend(
        [
            "-T",
            "fields",
            "-E",
            "header=n",
            "-E",
            "separator=/t",
            "-E",
            "occurrence=a",
        ]
        .map(String::from),
    );
    args.push("-E".into());
    args.push(format!("aggregator={AGGREGATOR}"));
    for name in names {
        args.push("-e".into());
        args.push((*name).into());
    }
    run(tshark, &args)
        .lines()
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), names.len(), "one column per field: {line:?}");
            names
                .iter()
                .zip(cols)
                .map(|(name, col)| {
                    let values = if col.is_empty() {
                        Vec::new()
                    } else {
                        col.split(AGGREGATOR).map(squash_replacements).collect()
                    };
                    ((*name).to_string(), values)
                })
                .collect()
        })
        .collect()
}

// ---- the PDUs ------------------------------------------------------------------------------

fn c<const N: usize>(s: &str) -> COctetString<N> {
    COctetString::new(s.as_bytes()).unwrap()
}

/// One PDU and what Wireshark must show for it.
///
/// Values are as `tshark -T fields` prints them: integer fields declared hexadecimal in the
/// dissector (TON, NPI, data_coding, the esm_class and registered_delivery bit fields, ports,
/// statuses) as `0x..` with the field's width, bit fields shifted down to their own value, the
/// rest in decimal. Dissector quirk: an empty C-Octet String (`system_type`, `message_id` of a
/// `deliver_sm_resp`, `service_type` …) is shown as "(Default)" text but not added as a field,
/// so it is expected as no occurrence at all.
struct Case {
    cmd: Command,
    /// `(field, occurrences)`: each listed field must have exactly these values.
    expect: Vec<(&'static str, Vec<String>)>,
}

impl Case {
    fn new(cmd: Command) -> Self {
        Self {
            cmd,
            expect: Vec::new(),
        }
    }

    /// The field has exactly these occurrences.
    fn all(mut self, field: &'static str, values: &[&str]) -> Self {
        self.expect
            .push((field, values.iter().map(|v| (*v).to_string()).collect()));
        self
    }

    /// The field occurs once with this value.
    fn is(self, field: &'static str, value: impl ToString) -> Self {
        let value = value.to_string();
        self.all(field, &[&value])
    }
}

/// Adds a PDU's expectations to its case.
type Expect = Box<dyn FnOnce(Case) -> Case>;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const SMSC_ID: &str = "5f3c2a1b00017e";
const RECEIPT_TEXT: &str = "id:5f3c2a1b00017e sub:001 dlvrd:000 submit date:2501011200 \
                            done date:2501011205 stat:UNDELIV err:034 text:Your code is 4711";

fn bind(system_type: &str) -> Bind {
    Bind {
        system_id: c("kori"),
        password: c("s3cr3t"),
        system_type: c(system_type),
        interface_version: InterfaceVersion::V34,
        addr_ton: Ton::INTERNATIONAL,
        addr_npi: Npi::ISDN,
        address_range: c("^44"),
    }
}

fn bind_resp() -> BindResp {
    BindResp {
        system_id: c("SMSC01"),
        tlvs: vec![Tlv::ScInterfaceVersion(0x34)],
    }
}

fn mt(text: &str) -> SubmitSm {
    SubmitSm {
        source_addr_ton: Ton::ALPHANUMERIC,
        source_addr_npi: Npi::UNKNOWN,
        source_addr: c("Kori"),
        dest_addr_ton: Ton::INTERNATIONAL,
        dest_addr_npi: Npi::ISDN,
        destination_addr: c("447700900123"),
        registered_delivery: RegisteredDelivery::ON_FINAL,
        short_message: Bytes::copy_from_slice(text.as_bytes()),
        ..SubmitSm::default()
    }
}

/// The `submit_sm`s Kori sends for `text`, each with the part of the text it carries.
fn segments(
    text: &str,
    encoding: Encoding,
    method: SplitMethod,
    reference: u16,
) -> Vec<(SubmitSm, String)> {
    split(text, encoding, method, reference, &SplitOptions::default())
        .unwrap()
        .iter()
        .map(|seg| {
            let mut sm = mt("");
            sm.set_segment(seg);
            (sm, text[seg.text.clone()].to_string())
        })
        .collect()
}

/// Every SMPP 3.4 PDU, with what Wireshark must decode from each. Sequence numbers are the
/// position in the list plus one.
fn cases() -> Vec<Case> {
    let long_text = "Kori test: this message is longer than one SMS can carry, so it is sent in \
                     parts and the handset puts them back together in the right order again, as one \
                     message, however many parts it took to get there. ";
    let udh = segments(long_text, Encoding::Gsm7, SplitMethod::Udh8, 0xA7);
    let sar = segments(long_text, Encoding::Gsm7, SplitMethod::Sar, 0x1234);
    let payload = segments(
        &long_text.repeat(2),
        Encoding::Gsm7,
        SplitMethod::Payload,
        0,
    );
    let ucs2_text = "Здравствуйте! Ваш код подтверждения 4711 🔐 Никому его не сообщайте, \
                     даже сотрудникам Kori. Код действует 10 минут.";
    let ucs2_udh = segments(ucs2_text, Encoding::Ucs2, SplitMethod::Udh16, 0xBEEF);
    assert_eq!(
        (udh.len(), sar.len(), payload.len(), ucs2_udh.len()),
        (2, 2, 1, 2)
    );
    let payload_octets = payload[0].0.tlvs.iter().find_map(|t| match t {
        Tlv::MessagePayload(p) => Some(p.clone()),
        _ => None,
    });
    let payload_octets = payload_octets.unwrap();

    let mut pdus: Vec<(Command, Expect)> = Vec::new();
    let mut add = |status: CommandStatus, pdu: Pdu, f: Expect| {
        let seq = u32::try_from(pdus.len()).unwrap() + 1;
        pdus.push((Command::with_status(status, seq, pdu), f));
    };
    let ok = CommandStatus::Ok;

    // -- session management
    let bind_fields = |c: Case| {
        c.is("smpp.system_id", "kori")
            .is("smpp.password", "s3cr3t")
            .is("smpp.interface_version", 0x34)
            .is("smpp.addr_ton", "0x01")
            .is("smpp.addr_npi", "0x01")
            .is("smpp.address_range", "^44")
    };
    add(
        ok,
        Pdu::BindTransmitter(bind("SUBMIT")),
        Box::new(move |c| bind_fields(c).is("smpp.system_type", "SUBMIT")),
    );
    let bind_resp_fields = |c: Case| {
        c.is("smpp.system_id", "SMSC01")
            .is("smpp.SC_interface_version", 0x34)
    };
    add(
        ok,
        Pdu::BindTransmitterResp(bind_resp()),
        Box::new(bind_resp_fields),
    );
    add(
        ok,
        Pdu::BindReceiver(bind("RECV")),
        Box::new(move |c| bind_fields(c).is("smpp.system_type", "RECV")),
    );
    add(
        ok,
        Pdu::BindReceiverResp(bind_resp()),
        Box::new(bind_resp_fields),
    );
    add(
        ok,
        Pdu::BindTransceiver(bind("")),
        Box::new(move |c| bind_fields(c).all("smpp.system_type", &[])),
    );
    add(
        ok,
        Pdu::BindTransceiverResp(bind_resp()),
        Box::new(bind_resp_fields),
    );
    // A refused bind: the body is left out (§4.1.2).
    add(
        CommandStatus::BindFailed,
        Pdu::BindTransceiverResp(BindResp::default()),
        Box::new(|c| c.all("smpp.system_id", &[])),
    );
    add(
        ok,
        Pdu::Outbind(Outbind {
            system_id: c("SMSC01"),
            password: c("0utb1nd"),
        }),
        Box::new(|c| {
            c.is("smpp.system_id", "SMSC01")
                .is("smpp.password", "0utb1nd")
        }),
    );
    add(ok, Pdu::EnquireLink, Box::new(|c| c));
    add(ok, Pdu::EnquireLinkResp, Box::new(|c| c));
    add(
        CommandStatus::InvalidCommandId,
        Pdu::GenericNack,
        Box::new(|c| c),
    );

    // -- submit_sm, the four ways Kori sends a message
    let mut plain = mt("Your code is 4711");
    plain.validity_period = c("000001000000000R");
    plain.schedule_delivery_time = c("250101120000004+");
    add(
        ok,
        Pdu::SubmitSm(plain),
        Box::new(|c| {
            c.is("smpp.source_addr", "Kori")
                .is("smpp.source_addr_ton", "0x05")
                .is("smpp.destination_addr", "447700900123")
                .is("smpp.dest_addr_ton", "0x01")
                .is("smpp.dest_addr_npi", "0x01")
                .is("smpp.data_coding", "0x00")
                .is("smpp.esm.submit.features", "0x00")
                .is("smpp.regdel.receipt", "0x01")
                .is("smpp.sm_length", 17)
                .is("smpp.message_text", "Your code is 4711")
                .is("smpp.validity_period_r", "86400.000000000")
                // 12:00 local at UTC+1 (4 quarter hours ahead).
                .is(
                    "smpp.schedule_delivery_time",
                    "Jan  1, 2025 11:00:00.000000000 UTC",
                )
        }),
    );
    // Wireshark reassembles both kinds of split message; the last part shows the whole length.
    let reassembled = |part: usize| -> Vec<String> {
        if part == 1 {
            vec![long_text.len().to_string()]
        } else {
            vec![]
        }
    };
    for (part, (sm, text)) in udh.into_iter().enumerate() {
        let sm_length = sm.short_message.len();
        let whole = reassembled(part);
        add(
            ok,
            Pdu::SubmitSm(sm),
            Box::new(move |c| {
                let c = c
                    .is("smpp.esm.submit.features", "0x01")
                    .is("smpp.data_coding", "0x00")
                    .is("smpp.sm_length", sm_length)
                    .is("gsm_sms.udh.mm.msg_id", 0xA7)
                    .is("gsm_sms.udh.mm.msg_parts", 2)
                    .is("gsm_sms.udh.mm.msg_part", part + 1)
                    .is("smpp.message_text", text);
                let whole: Vec<&str> = whole.iter().map(String::as_str).collect();
                c.all("gsm_sms_ud.reassembled.length", &whole)
            }),
        );
    }
    // UCS-2 with a 16-bit concatenation reference; the emoji is a surrogate pair.
    for (part, (sm, text)) in ucs2_udh.into_iter().enumerate() {
        let text = as_wireshark_shows_ucs2(&text);
        let whole = if part == 1 {
            vec![(ucs2_text.encode_utf16().count() * 2).to_string()]
        } else {
            vec![]
        };
        add(
            ok,
            Pdu::SubmitSm(sm),
            Box::new(move |c| {
                let c = c
                    .is("smpp.esm.submit.features", "0x01")
                    .is("smpp.data_coding", "0x08")
                    .is("gsm_sms.udh.mm.msg_id", 0xBEEF)
                    .is("gsm_sms.udh.mm.msg_parts", 2)
                    .is("gsm_sms.udh.mm.msg_part", part + 1)
                    .is("smpp.message_text", text);
                let whole: Vec<&str> = whole.iter().map(String::as_str).collect();
                c.all("gsm_sms_ud.reassembled.length", &whole)
            }),
        );
    }
    for (part, (sm, text)) in sar.into_iter().enumerate() {
        let whole = reassembled(part);
        add(
            ok,
            Pdu::SubmitSm(sm),
            Box::new(move |c| {
                let c = c
                    .is("smpp.esm.submit.features", "0x00")
                    .is("smpp.sar_msg_ref_num", 0x1234)
                    .is("smpp.sar_total_segments", 2)
                    .is("smpp.sar_segment_seqnum", part + 1)
                    .is("smpp.message_text", text);
                let whole: Vec<&str> = whole.iter().map(String::as_str).collect();
                c.all("gsm_sms_ud.reassembled.length", &whole)
            }),
        );
    }
    let payload_hex = hex(&payload_octets);
    add(
        ok,
        Pdu::SubmitSm(payload.into_iter().next().unwrap().0),
        Box::new(move |c| {
            c.is("smpp.sm_length", 0)
                .is("smpp.message_payload", payload_hex)
        }),
    );
    let ucs2: Vec<u8> = "Привет, Kori ✓"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    add(
        ok,
        Pdu::SubmitSm(SubmitSm {
            data_coding: DataCoding(0x08),
            short_message: Bytes::from(ucs2),
            ..mt("")
        }),
        Box::new(|c| {
            c.is("smpp.data_coding", "0x08")
                .is("smpp.message_text", "Привет, Kori ✓")
        }),
    );
    add(
        ok,
        Pdu::SubmitSmResp(SmResp {
            message_id: c(SMSC_ID),
            tlvs: vec![],
        }),
        Box::new(|c| c.is("smpp.message_id", SMSC_ID)),
    );
    // Throttled: the body is left out (§4.4.2).
    add(
        CommandStatus::Throttled,
        Pdu::SubmitSmResp(SmResp::default()),
        Box::new(|c| c.all("smpp.message_id", &[])),
    );

    // -- submit_multi
    add(
        ok,
        Pdu::SubmitMulti(SubmitMulti {
            source_addr_ton: Ton::NETWORK_SPECIFIC,
            source_addr_npi: Npi::ISDN,
            source_addr: c("80080"),
            dest_addresses: vec![
                DestAddress::Sme {
                    ton: Ton::INTERNATIONAL,
                    npi: Npi::ISDN,
                    address: c("447700900123"),
                },
                DestAddress::Sme {
                    ton: Ton::INTERNATIONAL,
                    npi: Npi::ISDN,
                    address: c("447700900456"),
                },
                DestAddress::DistributionList(c("staff")),
            ],
            validity_period: c("000000010000000R"),
            registered_delivery: RegisteredDelivery::ON_FAILURE,
            short_message: Bytes::from_static(b"Office closed today"),
            ..SubmitMulti::default()
        }),
        Box::new(|c| {
            c.is("smpp.source_addr", "80080")
                .all("smpp.destination_addr", &["447700900123", "447700900456"])
                .is("smpp.dl_name", "staff")
                .is("smpp.validity_period_r", "3600.000000000")
                .is("smpp.regdel.receipt", "0x02")
                .is("smpp.message_text", "Office closed today")
        }),
    );
    add(
        ok,
        Pdu::SubmitMultiResp(SubmitMultiResp {
            message_id: c(SMSC_ID),
            unsuccess_smes: vec![UnsuccessSme {
                dest_addr_ton: Ton::INTERNATIONAL,
                dest_addr_npi: Npi::ISDN,
                destination_addr: c("447700900456"),
                error_status_code: CommandStatus::InvalidDestinationAddress,
            }],
            tlvs: vec![],
        }),
        Box::new(|c| {
            c.is("smpp.message_id", SMSC_ID)
                .is("smpp.destination_addr", "447700900456")
                .is("smpp.error_status_code", "0x0000000b")
        }),
    );

    // -- deliver_sm: an MO message and a receipt
    add(
        ok,
        Pdu::DeliverSm(DeliverSm {
            source_addr_ton: Ton::INTERNATIONAL,
            source_addr_npi: Npi::ISDN,
            source_addr: c("447700900123"),
            dest_addr_ton: Ton::NETWORK_SPECIFIC,
            dest_addr_npi: Npi::ISDN,
            destination_addr: c("80080"),
            short_message: Bytes::from_static(b"STOP"),
            ..DeliverSm::default()
        }),
        Box::new(|c| {
            c.is("smpp.source_addr", "447700900123")
                .is("smpp.destination_addr", "80080")
                .is("smpp.message_text", "STOP")
        }),
    );
    add(
        ok,
        Pdu::DeliverSm(DeliverSm {
            source_addr_ton: Ton::INTERNATIONAL,
            source_addr_npi: Npi::ISDN,
            source_addr: c("447700900123"),
            dest_addr_ton: Ton::ALPHANUMERIC,
            destination_addr: c("Kori"),
            esm_class: EsmClass::DELIVERY_RECEIPT,
            short_message: Bytes::from_static(RECEIPT_TEXT.as_bytes()),
            tlvs: vec![
                Tlv::ReceiptedMessageId(TlvString::new(SMSC_ID.as_bytes())),
                Tlv::MessageState(5),
                Tlv::NetworkErrorCode(NetworkErrorCode {
                    network_type: 3,
                    error_code: 0x22,
                }),
            ],
            ..DeliverSm::default()
        }),
        Box::new(|c| {
            c.is("smpp.esm.submit.msg_type", "0x01")
                .is("smpp.message_text", RECEIPT_TEXT)
                .is("smpp.receipted_message_id", SMSC_ID)
                .is("smpp.message_state", 5)
                .is("smpp.network_error.type", 3)
                .is("smpp.network_error.code", "0x0022")
                .all("smpp.opt_param_tag", &["0x001e", "0x0427", "0x0423"])
                // receipted_message_id goes out with its NUL.
                .all("smpp.opt_param_len", &["15", "1", "3"])
        }),
    );
    add(
        ok,
        Pdu::DeliverSmResp(SmResp::default()),
        Box::new(|c| c.all("smpp.message_id", &[])),
    );

    // -- data_sm
    add(
        ok,
        Pdu::DataSm(DataSm {
            source_addr_ton: Ton::INTERNATIONAL,
            source_addr_npi: Npi::ISDN,
            source_addr: c("447700900123"),
            dest_addr_ton: Ton::NETWORK_SPECIFIC,
            dest_addr_npi: Npi::ISDN,
            destination_addr: c("80080"),
            registered_delivery: RegisteredDelivery::ON_FINAL,
            // Application ports from the range TS 23.040 leaves free: Wireshark hands a payload
            // with well-known ports (2948, WAP push) to that protocol's dissector.
            tlvs: vec![
                Tlv::SourcePort(16_000),
                Tlv::DestinationPort(16_001),
                Tlv::QosTimeToLive(3600),
                Tlv::MessagePayload(Bytes::from_static(b"data_sm over SMPP")),
            ],
            ..DataSm::default()
        }),
        Box::new(|c| {
            c.is("smpp.source_addr", "447700900123")
                .is("smpp.destination_addr", "80080")
                .is("smpp.source_port", "0x3e80")
                .is("smpp.destination_port", "0x3e81")
                .is("smpp.qos_time_to_live", 3600)
                .is("smpp.message_payload", hex(b"data_sm over SMPP"))
                .all(
                    "smpp.opt_param_tag",
                    &["0x020a", "0x020b", "0x0017", "0x0424"],
                )
                .all("smpp.opt_param_len", &["2", "2", "4", "17"])
        }),
    );
    add(
        ok,
        Pdu::DataSmResp(SmResp {
            message_id: c(SMSC_ID),
            tlvs: vec![Tlv::AdditionalStatusInfoText(TlvString::new(b"queued"))],
        }),
        Box::new(|c| {
            c.is("smpp.message_id", SMSC_ID)
                .is("smpp.additional_status_info_text", "queued")
        }),
    );

    // -- query, cancel, replace
    add(
        ok,
        Pdu::QuerySm(QuerySm {
            message_id: c(SMSC_ID),
            source_addr_ton: Ton::ALPHANUMERIC,
            source_addr_npi: Npi::UNKNOWN,
            source_addr: c("Kori"),
        }),
        Box::new(|c| {
            c.is("smpp.message_id", SMSC_ID)
                .is("smpp.source_addr", "Kori")
        }),
    );
    add(
        ok,
        Pdu::QuerySmResp(QuerySmResp {
            message_id: c(SMSC_ID),
            final_date: c("250101120500000+"),
            message_state: 2,
            error_code: 0,
        }),
        Box::new(|c| {
            c.is("smpp.message_id", SMSC_ID)
                .is("smpp.message_state", 2)
                .is("smpp.error_code", 0)
                .is("smpp.final_date", "Jan  1, 2025 12:05:00.000000000 UTC")
        }),
    );
    add(
        ok,
        Pdu::CancelSm(CancelSm {
            message_id: c(SMSC_ID),
            source_addr_ton: Ton::ALPHANUMERIC,
            source_addr: c("Kori"),
            dest_addr_ton: Ton::INTERNATIONAL,
            dest_addr_npi: Npi::ISDN,
            destination_addr: c("447700900123"),
            ..CancelSm::default()
        }),
        Box::new(|c| {
            c.is("smpp.message_id", SMSC_ID)
                .is("smpp.source_addr", "Kori")
                .is("smpp.destination_addr", "447700900123")
        }),
    );
    add(ok, Pdu::CancelSmResp, Box::new(|c| c));
    add(
        ok,
        Pdu::ReplaceSm(ReplaceSm {
            message_id: c(SMSC_ID),
            source_addr_ton: Ton::ALPHANUMERIC,
            source_addr: c("Kori"),
            validity_period: c("000000020000000R"),
            registered_delivery: RegisteredDelivery::ON_FINAL,
            short_message: Bytes::from_static(b"Your code is 8152"),
            ..ReplaceSm::default()
        }),
        Box::new(|c| {
            c.is("smpp.message_id", SMSC_ID)
                .is("smpp.source_addr", "Kori")
                .is("smpp.validity_period_r", "7200.000000000")
                .is("smpp.sm_length", 17)
                .is("smpp.message_text", "Your code is 8152")
        }),
    );
    add(ok, Pdu::ReplaceSmResp, Box::new(|c| c));

    // -- alert_notification, and the end of the session
    add(
        ok,
        Pdu::AlertNotification(AlertNotification {
            source_addr_ton: Ton::INTERNATIONAL,
            source_addr_npi: Npi::ISDN,
            source_addr: c("447700900123"),
            esme_addr_ton: Ton::NETWORK_SPECIFIC,
            esme_addr_npi: Npi::ISDN,
            esme_addr: c("80080"),
            tlvs: vec![Tlv::MsAvailabilityStatus(0)],
        }),
        Box::new(|c| {
            c.is("smpp.source_addr", "447700900123")
                .is("smpp.esme_addr", "80080")
                .is("smpp.esme_addr_ton", "0x03")
                .is("smpp.ms_availability_status", 0)
        }),
    );
    add(ok, Pdu::Unbind, Box::new(|c| c));
    add(ok, Pdu::UnbindResp, Box::new(|c| c));

    pdus.into_iter().map(|(cmd, f)| f(Case::new(cmd))).collect()
}

// ---- the check -----------------------------------------------------------------------------

#[test]
fn wireshark_dissects_every_pdu_we_encode() {
    let Some(tshark) = tshark_or_skip() else {
        return;
    };
    let cases = cases();
    let wires: Vec<Vec<u8>> = cases
        .iter()
        .map(|case| {
            let mut buf = BytesMut::new();
            encode(&case.cmd, &mut buf).unwrap();
            buf.to_vec()
        })
        .collect();
    let file = TempFile::write(&pcap(&wires));
    // To look at the capture in Wireshark: KORI_WIRESHARK_PCAP=/some/file.pcap.
    if let Some(keep) = std::env::var_os("KORI_WIRESHARK_PCAP") {
        std::fs::copy(&file.0, keep).unwrap();
    }

    // Every PDU kind is here.
    let kinds: BTreeSet<u32> = cases
        .iter()
        .map(|c| c.cmd.pdu.command_id().code())
        .collect();
    assert_eq!(kinds.len(), 27, "one of each SMPP 3.4 command");

    // (b) Nothing malformed, and no expert item of severity warning or worse: the SMPP
    // dissector reports some real protocol violations only as warnings (a `submit_sm` with
    // both `short_message` and `message_payload` is "short_message field and message_payload
    // TLV can only appear once in total", severity Warning), so errors alone are not enough.
    let mut args = tshark_args(&file.0);
    args.extend(
        [
            "-Y",
            "_ws.malformed || _ws.expert.severity >= \"Warning\"",
            "-V",
        ]
        .map(String::from),
    );
    let problems = run(&tshark, &args);
    assert!(
        problems.trim().is_empty(),
        "Wireshark flags problems:\n{problems}"
    );

    // (a) + (c) Header and key fields, packet by packet.
    let mut names: BTreeSet<&str> = [
        "frame.protocols",
        "smpp.command_id",
        "smpp.command_status",
        "smpp.sequence_number",
        "smpp.command_length",
        "_ws.expert.message",
    ]
    .into();
    for case in &cases {
        names.extend(case.expect.iter().map(|(f, _)| *f));
    }
    let names: Vec<&str> = names.into_iter().collect();
    let packets = fields(&tshark, &file.0, &names);
    assert_eq!(packets.len(), cases.len(), "one packet per PDU");

    let mut failures = Vec::new();
    for (n, ((case, wire), got)) in cases.iter().zip(&wires).zip(&packets).enumerate() {
        let cmd = &case.cmd;
        let what = format!(
            "packet {} ({}, seq {})",
            n + 1,
            cmd.pdu.command_id(),
            cmd.sequence_number
        );
        // Dissector quirk: `command_status` is only shown for responses (command ids with
        // bit 31 set); for requests it is not added at all, so check our octets directly.
        let id = cmd.pdu.command_id().code();
        let status = if id & 0x8000_0000 != 0 {
            vec![format!("{:#010x}", cmd.status.code())]
        } else {
            assert_eq!(
                wire[8..12],
                [0; 4],
                "{what}: a request's command_status is zero"
            );
            vec![]
        };
        let header = [
            ("smpp.command_id", vec![format!("{id:#010x}")]),
            ("smpp.command_status", status),
            (
                "smpp.sequence_number",
                vec![cmd.sequence_number.to_string()],
            ),
            ("smpp.command_length", vec![wire.len().to_string()]),
        ];
        let protocols = got["frame.protocols"].join("");
        if !protocols.ends_with(":smpp") && !protocols.contains(":smpp:") {
            failures.push(format!("{what}: not dissected as SMPP: {protocols}"));
        }
        let expected = header.into_iter().chain(case.expect.iter().cloned());
        for (field, want) in expected {
            let have = &got[field];
            if *have != want {
                failures.push(format!("{what}: {field} is {have:?}, sent {want:?}"));
            }
        }
        if !got["_ws.expert.message"].is_empty() {
            eprintln!("{what}: expert info {:?}", got["_ws.expert.message"]);
        }
    }
    assert!(
        failures.is_empty(),
        "Wireshark disagrees with our encoding:\n{}",
        failures.join("\n")
    );
    eprintln!(
        "tshark dissected {} SMPP PDUs ({} command ids) cleanly",
        cases.len(),
        kinds.len()
    );
}
