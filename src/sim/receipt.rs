//! The `deliver_sm`s the simulator writes on its own: delivery receipts (TLVs and/or Appendix B
//! text) and the malformed PDU of `Faults::malformed_after`.
//!
//! Owns the receipt's fields and dates. Must not touch: timing, sockets, fault decisions.
//! Called by `sim::connection` when a submit is accepted and when a malformed PDU is due.

use super::state::{Shared, format_id};
use super::{ReceiptOutcome, ReceiptStyle};
use bytes::{Bytes, BytesMut};
use kori_smpp::receipt::{ErrCode, ReceiptDate, Stat, TextReceipt};
use kori_smpp::segment::decode_message;
use kori_smpp::{
    Command, DataCoding, DeliverSm, EsmClass, MessageId, NetworkErrorCode, Pdu, SubmitSm, Tlv,
    TlvString, encode,
};
use tokio::time::Instant;

/// Characters of the message in the text receipt's `text:` (Appendix B: "the first 20
/// characters of the short message").
const TEXT_CHARS: usize = 20;

/// The receipt for `sm`, accepted as message number `number` with id `message_id` at
/// `submitted`, reaching `outcome` at `done`.
pub(crate) fn build(
    shared: &Shared,
    sm: &SubmitSm,
    number: u64,
    message_id: &MessageId,
    outcome: ReceiptOutcome,
    submitted: Instant,
    done: Instant,
) -> DeliverSm {
    let style = shared.config.receipts;
    let mut tlvs = Vec::new();
    if matches!(style, ReceiptStyle::Tlv | ReceiptStyle::Both) {
        tlvs.push(Tlv::ReceiptedMessageId(TlvString::new(
            message_id.as_bytes(),
        )));
        tlvs.push(Tlv::MessageState(outcome.state.into()));
        if outcome.error != 0 {
            tlvs.push(Tlv::NetworkErrorCode(NetworkErrorCode {
                network_type: 3,
                error_code: outcome.error,
            }));
        }
    }
    let short_message = if matches!(style, ReceiptStyle::Text | ReceiptStyle::Both) {
        let text_id = match shared.config.receipt_id_in_text {
            Some(id_style) => format_id(number, id_style),
            None => *message_id,
        };
        let delivered = u32::from(outcome.state == kori_smpp::receipt::MessageState::Delivered);
        let receipt = TextReceipt {
            id: Some(text_id.to_string()),
            sub: Some(1),
            dlvrd: Some(delivered),
            submit_date: date(shared, submitted),
            done_date: date(shared, done),
            stat: Some(Stat::from(outcome.state)),
            err: Some(ErrCode::new(format!("{:03}", outcome.error))),
            text: Some(snippet(sm)),
            ..TextReceipt::default()
        };
        Bytes::from(receipt.to_string())
    } else {
        Bytes::new()
    };
    DeliverSm {
        // Appendix B: the receipt comes from the recipient, back to the sender.
        source_addr_ton: sm.dest_addr_ton,
        source_addr_npi: sm.dest_addr_npi,
        source_addr: sm.destination_addr,
        dest_addr_ton: sm.source_addr_ton,
        dest_addr_npi: sm.source_addr_npi,
        destination_addr: sm.source_addr,
        esm_class: EsmClass::DELIVERY_RECEIPT,
        data_coding: DataCoding::DEFAULT,
        short_message,
        tlvs,
        ..DeliverSm::default()
    }
}

/// The first characters of the message, printable ASCII only (others become `?`) so the
/// receipt stays GSM/IA5-safe whatever the message's encoding.
fn snippet(sm: &SubmitSm) -> String {
    let octets = if sm.short_message.is_empty() {
        sm.tlvs
            .iter()
            .find_map(|t| match t {
                Tlv::MessagePayload(p) => Some(p.clone()),
                _ => None,
            })
            .unwrap_or_default()
    } else {
        sm.short_message.clone()
    };
    decode_message(sm.data_coding.0, sm.esm_class.has_udh(), &octets, false)
        .map(|text| {
            text.chars()
                .take(TEXT_CHARS)
                .map(|c| {
                    if c.is_ascii_graphic() || c == ' ' {
                        c
                    } else {
                        '?'
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The receipt date of `at`: the wall clock read when the simulator started, moved on by the
/// tokio clock since, in UTC, `YYMMDDhhmm` as Appendix B writes it.
fn date(shared: &Shared, at: Instant) -> Option<ReceiptDate> {
    let secs = shared.wall_base + at.duration_since(shared.started).as_secs();
    let days = i64::try_from(secs / 86_400).ok()?;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    ReceiptDate::new(
        u16::try_from(year).ok()?,
        month,
        day,
        (rem / 3600) as u8,
        (rem % 3600 / 60) as u8,
        None,
    )
}

/// (year, month, day) of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A `deliver_sm` whose mandatory part is sound but whose `receipted_message_id` TLV claims 16
/// octets and carries 2: the client's body decoder must report a TLV stream error
/// (ESME_RINVOPTPARSTREAM) and keep the bind.
pub(crate) fn malformed(seq: u32) -> Command {
    let whole = DeliverSm {
        esm_class: EsmClass::DELIVERY_RECEIPT,
        ..DeliverSm::default()
    };
    let mut wire = BytesMut::new();
    encode(&Command::new(seq, Pdu::DeliverSm(whole)), &mut wire)
        .expect("an empty deliver_sm always encodes");
    let mut body = wire.split_off(kori_smpp::HEADER_LEN);
    body.extend_from_slice(&[0x00, 0x1E, 0x00, 0x10, b'4', b'2']);
    Command::new(
        seq,
        Pdu::Other {
            command_id: kori_smpp::CommandId::DeliverSm.code(),
            body: body.freeze(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_597), (2026, 5, 24));
    }

    #[test]
    fn malformed_pdu_has_a_sound_header_and_a_bad_tlv() {
        let mut wire = BytesMut::new();
        encode(&malformed(9), &mut wire).unwrap();
        let frame = kori_smpp::decode(&wire);
        assert_eq!(frame.header.command_id, kori_smpp::CommandId::DeliverSm);
        assert_eq!(frame.header.sequence_number, 9);
        let err = frame.body.unwrap_err();
        assert_eq!(
            err.status(),
            kori_smpp::CommandStatus::InvalidOptionalParameterStream
        );
    }
}
