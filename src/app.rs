//! Composition root: builds every part of the daemon and runs it.
//!
//! Owns the order in which parts start and stop. Called only by `main.rs`. Today it runs the
//! demo; `run` and `check-config` arrive with the carrier sessions and the outbox.

use kori_smpp::receipt::{IdFormat, Receipt, match_keys, normalize};
use kori_smpp::segment::{SplitMethod, SplitOptions, decode_message, split};
use kori_smpp::text::{EncodingChoice, choose};
use kori_smpp::{
    Address, Command, EsmClass, Npi, Pdu, RegisteredDelivery, SubmitSm, Ton, decode, encode,
};
use std::process::ExitCode;

/// The messages the demo sends: each kind of text an operator meets in the field.
const SAMPLES: &[(&str, &str)] = &[
    (
        "plain GSM 7-bit",
        "Your order 1042 is ready for pickup. Reply STOP to opt out",
    ),
    (
        "GSM 7-bit with extension characters",
        "Save 10€ today with code [BACK10] {48h only}",
    ),
    (
        "Finnish",
        "Hei Aino! Ostoskorisi odottaa: päivän tarjous, 2 kpl Kynttilä. Vastaa STOP",
    ),
    (
        "long message (3 segments)",
        "Hi Sam, you left 3 items in your cart at Demo Shop: a linen shirt, a wool scarf and a \
         pair of leather gloves. They are still reserved for you, and with code BACK10 you save \
         10% on the whole order until Sunday. Finish your order at https://shop.example/k/c/8fK2a \
         - questions? Just reply to this message. Reply STOP to opt out",
    ),
    (
        "UCS-2 with an emoji",
        "Your cart misses you 🛒 Come back for 10% off: BACK10",
    ),
];

/// `korid demo`: the main job on embedded defaults.
///
/// Until the outbox lands this walks each sample message through the protocol crate as a
/// session will: choose the encoding, split into segments, encode each `submit_sm`, decode it
/// back as the SMSC would, then read the SMSC's delivery receipt and match it to the submit,
/// with the receipt's id in decimal while the submit response gave hex.
pub fn demo() -> ExitCode {
    match run_demo() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("korid demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_demo() -> Result<(), Box<dyn std::error::Error>> {
    println!("Kori demo: the SMPP 3.4 codec at work, offline");
    println!("(the HTTP → outbox → SMSC path joins this demo with the outbox)\n");
    let mut sequence_number = 0u32;
    for (n, (label, text)) in SAMPLES.iter().enumerate() {
        let encoding = choose(text, EncodingChoice::Auto)?;
        let reference = 0x40 + n as u16;
        let segments = split(
            text,
            encoding,
            SplitMethod::Udh8,
            reference,
            &SplitOptions::default(),
        )?;
        println!("[{}] {label}: {text:?}", n + 1);
        println!(
            "    encoding {encoding:?} (data_coding {:#04x}), {} segment(s)",
            encoding.data_coding(),
            segments.len()
        );
        let mut smsc_ids = Vec::new();
        for seg in &segments {
            sequence_number += 1;
            let mut sm = SubmitSm {
                source_addr_ton: Ton::ALPHANUMERIC,
                source_addr_npi: Npi::UNKNOWN,
                source_addr: Address::new(b"DemoShop")?,
                dest_addr_ton: Ton::INTERNATIONAL,
                dest_addr_npi: Npi::ISDN,
                destination_addr: Address::new(b"358401234567")?,
                registered_delivery: RegisteredDelivery::ON_FINAL,
                ..SubmitSm::default()
            };
            sm.set_segment(seg);
            let cmd = Command::new(sequence_number, Pdu::SubmitSm(sm));
            let mut wire = bytes::BytesMut::new();
            encode(&cmd, &mut wire)?;
            // What the SMSC sees.
            let seen = decode(&wire).into_command().map_err(|(_, e)| e)?;
            if seen != cmd {
                return Err("a submit_sm did not decode to what was encoded".into());
            }
            let Pdu::SubmitSm(sm) = &seen.pdu else {
                return Err("decoded PDU is not a submit_sm".into());
            };
            let part = decode_message(
                sm.data_coding.0,
                sm.esm_class.has_udh(),
                &sm.short_message,
                false,
            )?;
            println!(
                "    submit_sm seq {sequence_number}: {} octets, {} {}: {part:?}",
                wire.len(),
                seg.units,
                if encoding.data_coding() == 0x08 {
                    "UTF-16 units"
                } else {
                    "septets"
                },
            );
            println!("      short_message {}", hex_preview(&sm.short_message, 24));
            smsc_ids.push(format!("{:X}", 0x1A2B00 + sequence_number));
        }
        for smsc_id in &smsc_ids {
            let decimal = u64::from_str_radix(smsc_id, 16)?;
            let receipt = receipt_pdu(decimal)?;
            let mut wire = bytes::BytesMut::new();
            encode(&receipt, &mut wire)?;
            let Pdu::DeliverSm(dlr) = decode(&wire).into_command().map_err(|(_, e)| e)?.pdu else {
                return Err("decoded receipt is not a deliver_sm".into());
            };
            let parsed = Receipt::from_deliver_sm(&dlr)?;
            let submit_key = normalize(smsc_id.as_bytes(), IdFormat::Hex);
            let matched =
                match_keys(parsed.message_id.as_bytes(), IdFormat::Dec).any(|k| k == submit_key);
            println!(
                "    receipt id:{} for submit id {smsc_id} → {}, {}",
                parsed.message_id,
                if matched { "matched" } else { "NOT matched" },
                parsed.state
            );
        }
        println!();
    }
    println!(
        "All {sequence_number} submit_sm PDUs round-tripped; every receipt matched its submit."
    );
    Ok(())
}

fn receipt_pdu(smsc_id: u64) -> Result<Command, Box<dyn std::error::Error>> {
    let text = format!(
        "id:{smsc_id} sub:001 dlvrd:001 submit date:2611271105 done date:2611271106 stat:DELIVRD err:000 text:"
    );
    Ok(Command::new(
        1,
        Pdu::DeliverSm(SubmitSm {
            source_addr_ton: Ton::INTERNATIONAL,
            source_addr_npi: Npi::ISDN,
            source_addr: Address::new(b"358401234567")?,
            destination_addr: Address::new(b"DemoShop")?,
            esm_class: EsmClass::DELIVERY_RECEIPT,
            short_message: bytes::Bytes::from(text.into_bytes()),
            ..SubmitSm::default()
        }),
    ))
}

fn hex_preview(bytes: &[u8], max: usize) -> String {
    let shown: Vec<String> = bytes.iter().take(max).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > max { " …" } else { "" };
    format!("{}{more}", shown.join(" "))
}
