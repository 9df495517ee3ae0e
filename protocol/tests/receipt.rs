//! Delivery receipts: fixtures shaped like those of the SMPP 3.4 specification, gateways and
//! carriers (retyped by us, source named above each), and properties of the parser and the
//! message-id normaliser.
#![allow(clippy::unwrap_used)]

use kori_smpp::receipt::{
    DeliveryError, ErrCode, FieldSource, IdFormat, MessageState, NetworkErrorCode, NormalizedId,
    ReceiptDate, ReceiptError, Stat, TextReceipt, match_keys, normalize, receipt_from_parts,
};
use proptest::prelude::*;

fn parse(s: &[u8]) -> TextReceipt {
    TextReceipt::parse(s).unwrap()
}

fn date(s: &str) -> Option<ReceiptDate> {
    Some(ReceiptDate::parse(s.as_bytes()).unwrap())
}

fn state(r: &TextReceipt) -> Option<MessageState> {
    r.stat.as_ref().and_then(Stat::state)
}

fn err(r: &TextReceipt) -> (&str, Option<u32>) {
    let e = r.err.as_ref().unwrap();
    (e.raw(), e.value())
}

/// Whether a receipt id found under `fmt_dlr` keys reaches a submit indexed under `fmt_submit`.
fn matches(submit_id: &str, fmt_submit: IdFormat, receipt_id: &str, fmt_dlr: IdFormat) -> bool {
    let key = normalize(submit_id.as_bytes(), fmt_submit);
    match_keys(receipt_id.as_bytes(), fmt_dlr).any(|k| k == key)
}

// ---- text fixtures ----

/// SMPP 3.4 Appendix B layout ("Text:" capitalised as in the specification), with the example
/// values Adobe Campaign's SMPP connector documentation uses for it.
#[test]
fn appendix_b_example() {
    let r = parse(
        b"id:1234567890 sub:001 dlvrd:001 submit date:1608011415 done date:1608011417 \
          stat:DELIVRD err:000 Text:Hello Adobe world",
    );
    assert_eq!(r.id.as_deref(), Some("1234567890"));
    assert_eq!((r.sub, r.dlvrd), (Some(1), Some(1)));
    assert_eq!(r.submit_date, date("1608011415"));
    let d = r.done_date.unwrap();
    assert_eq!(
        (d.year(), d.month(), d.day(), d.hour(), d.minute()),
        (2016, 8, 1, 14, 17)
    );
    assert_eq!(d.second(), None);
    assert_eq!(state(&r), Some(MessageState::Delivered));
    assert_eq!(err(&r), ("000", Some(0)));
    assert_eq!(r.text.as_deref(), Some("Hello Adobe world"));
    assert!(r.extra.is_empty() && r.invalid.is_empty());
}

/// Kannel-style receipt from an SMSC, as quoted in RestComm smscgateway issue #232: 11-digit
/// decimal id, UNDELIV with err:001.
#[test]
fn kannel_style_undeliv() {
    let r = parse(
        b"id:34265880701 sub:001 dlvrd:001 submit date:1709260755 done date:1709260755 \
          stat:UNDELIV err:001 text:sfdsfs",
    );
    assert_eq!(r.id.as_deref(), Some("34265880701"));
    assert_eq!(state(&r), Some(MessageState::Undeliverable));
    assert_eq!(err(&r), ("001", Some(1)));
    assert_eq!(r.text.as_deref(), Some("sfdsfs"));
}

/// Jasmin's deliver_sm conversion test: decimal `id:` in the text, the same number in hex in
/// receipted_message_id, message_state DELIVERED, "Text:" and a trailing NUL.
#[test]
fn jasmin_style_tlv_hex_text_decimal() {
    let sm = b"id:1891273321 sub:001 dlvrd:001 submit date:1305050826 done date:1305050826 \
               stat:DELIVRD err:000 Text:DLVRD TO MOBILE\x00";
    let t = parse(sm);
    assert_eq!(t.text.as_deref(), Some("DLVRD TO MOBILE"));
    assert_eq!(t.submit_date, date("1305050826"));

    let r = receipt_from_parts(Some(b"70BA8A69\0"), Some(2), None, Some(sm)).unwrap();
    assert_eq!(r.message_id, "70BA8A69");
    assert_eq!(r.normalized_id, NormalizedId::Num(0x70BA_8A69));
    assert_eq!(r.state, MessageState::Delivered);
    assert_eq!(
        (r.source.id, r.source.state),
        (FieldSource::Tlv, FieldSource::Tlv)
    );
    assert_eq!(r.source.error, Some(FieldSource::Text));
    // Both ids reach the same submit under Auto.
    assert!(matches(
        "70BA8A69",
        IdFormat::Auto,
        "1891273321",
        IdFormat::Auto
    ));
    assert!(matches(
        "70ba8a69",
        IdFormat::Auto,
        &r.message_id,
        IdFormat::Auto
    ));
}

/// Vonage/Nexmo-style receipt: 10 hex digits with a leading zero.
#[test]
fn vonage_style_hex_id() {
    let r = parse(
        b"id:0A1B2C3D4E sub:001 dlvrd:001 submit date:1912251234 done date:1912251235 \
          stat:DELIVRD err:000 text:Hello",
    );
    assert_eq!(r.id.as_deref(), Some("0A1B2C3D4E"));
    assert_eq!(r.done_date, date("1912251235"));
    assert_eq!(
        normalize(r.id.unwrap().as_bytes(), IdFormat::Auto),
        NormalizedId::Num(0x0A_1B2C_3D4E)
    );
    assert!(matches(
        "a1b2c3d4e",
        IdFormat::Auto,
        "0A1B2C3D4E",
        IdFormat::Auto
    ));
    assert!(matches(
        "43405557070",
        IdFormat::Auto,
        "0a1b2c3d4e",
        IdFormat::Auto
    ));
}

/// A cloudhopper-based client's test: 12-digit dates, `err:0`, "Text:".
#[test]
fn cloudhopper_style_12_digit_dates() {
    let r = parse(
        b"id:261BD3E2 sub:001 dlvrd:001 submit date:190305131326 done date:190305131326 \
          stat:DELIVRD err:0 Text:report",
    );
    let d = r.submit_date.unwrap();
    assert_eq!((d.year(), d.month(), d.day()), (2019, 3, 5));
    assert_eq!((d.hour(), d.minute(), d.second()), (13, 13, Some(26)));
    assert_eq!(err(&r), ("0", Some(0)));
    assert_eq!(r.text.as_deref(), Some("report"));
}

/// A Go SMPP library's deliver_sm test: UUID message id, 12-digit dates, empty text.
#[test]
fn uuid_id_and_empty_text() {
    let r = parse(
        b"id:7a44aaba-336f-4a92-9502-dd106aa7369f sub:001 dlvrd:001 submit date:231123193758 \
          done date:231123193800 stat:DELIVRD err:000 text:",
    );
    assert_eq!(
        r.id.as_deref(),
        Some("7a44aaba-336f-4a92-9502-dd106aa7369f")
    );
    assert_eq!(r.text.as_deref(), Some(""));
    assert_eq!(
        normalize(r.id.unwrap().as_bytes(), IdFormat::Auto),
        NormalizedId::Text("7A44AABA-336F-4A92-9502-DD106AA7369F".into())
    );
    assert!(matches(
        "7A44AABA-336F-4A92-9502-DD106AA7369F",
        IdFormat::Auto,
        " 7a44aaba-336f-4a92-9502-dd106aa7369f\0",
        IdFormat::Auto
    ));
}

/// node-smpp issue #199: zero-padded decimal id in text and receipted_message_id.
#[test]
fn zero_padded_decimal_in_text_and_tlv() {
    let sm = b"id:0000029095 sub:001 dlvrd:001 submit date:211125034959 done date:211125035001 \
               stat:DELIVRD err:000 text:";
    let r = receipt_from_parts(Some(b"0000029095"), None, None, Some(sm)).unwrap();
    assert_eq!(r.message_id, "0000029095");
    assert_eq!(r.normalized_id, NormalizedId::Num(29095));
    assert_eq!(r.state, MessageState::Delivered);
    assert_eq!(r.source.state, FieldSource::Text);
    assert!(matches("29095", IdFormat::Dec, "0000029095", IdFormat::Dec));
}

/// node-smpp issue #140: `done date:` with no value, and ACCEPTD.
#[test]
fn empty_done_date_and_accepted() {
    let r = parse(b"id:42 sub:001 dlvrd:0 submit date:2007281200 done date: stat:ACCEPTD err:000");
    assert_eq!(r.dlvrd, Some(0));
    assert_eq!(r.done_date, None);
    assert!(r.invalid.is_empty());
    assert_eq!(state(&r), Some(MessageState::Accepted));
    assert!(MessageState::Accepted.is_final());
    assert_eq!(r.text, None);
}

/// A Python SMSC simulator writes 16-digit dates: the dates are dropped, kept raw in
/// `invalid`, and the receipt still reads.
#[test]
fn unreadable_dates_are_kept_raw() {
    let r = parse(
        b"id:abc sub:001 dlvrd:001 submit date:2023010112000000 done date:2023010112000100 \
          stat:DELIVRD err:000 text:",
    );
    assert_eq!((r.submit_date, r.done_date), (None, None));
    assert_eq!(
        r.invalid,
        [
            ("submit date".to_owned(), "2023010112000000".to_owned()),
            ("done date".to_owned(), "2023010112000100".to_owned())
        ]
    );
    assert_eq!(state(&r), Some(MessageState::Delivered));
}

#[test]
fn uppercase_keys() {
    let r = parse(
        b"ID:ABC123 SUB:001 DLVRD:001 SUBMIT DATE:1912251234 DONE DATE:1912251235 \
          STAT:DELIVRD ERR:000 TEXT:HI THERE",
    );
    assert_eq!(r.id.as_deref(), Some("ABC123"));
    assert_eq!(r.submit_date, date("1912251234"));
    assert_eq!(r.done_date, date("1912251235"));
    assert_eq!(r.text.as_deref(), Some("HI THERE"));
}

#[test]
fn key_spellings_underscores_and_any_order() {
    let r = parse(
        b"Stat:EXPIRED Id:9 Done_Date:20191225123500 submit_date:1912251234 Err:0x1F Dlvrd:000",
    );
    assert_eq!(r.id.as_deref(), Some("9"));
    assert_eq!(state(&r), Some(MessageState::Expired));
    assert_eq!(r.done_date.unwrap().second(), Some(0));
    assert_eq!(r.submit_date, date("1912251234"));
    assert_eq!(err(&r), ("0x1F", None));
    assert_eq!((r.sub, r.dlvrd), (None, Some(0)));
}

#[test]
fn padded_values() {
    let r =
        parse(b"id: 0123  sub: 001 dlvrd:  001 submit date: 1912251234 stat: DELIVRD  text:  hi");
    assert_eq!(r.id.as_deref(), Some("0123"));
    assert_eq!(r.sub, Some(1));
    assert_eq!(r.dlvrd, Some(1));
    assert_eq!(r.submit_date, date("1912251234"));
    assert_eq!(state(&r), Some(MessageState::Delivered));
    assert_eq!(r.text.as_deref(), Some("hi"));
}

#[test]
fn missing_sub_dlvrd_and_text() {
    let r = parse(b"id:77 submit date:1912251234 done date:1912251235 stat:REJECTD err:045");
    assert_eq!((r.sub, r.dlvrd, r.text.as_deref()), (None, None, None));
    assert_eq!(state(&r), Some(MessageState::Rejected));
    assert_eq!(err(&r), ("045", Some(45)));
}

/// Vendor fields seen after `err:` (Kannel-style `dlr:`, Indian aggregators' `nck:`, `ref:`).
#[test]
fn extra_fields_are_kept_in_order() {
    let r = parse(
        b"id:5 sub:001 dlvrd:001 submit date:1912251234 done date:1912251235 stat:DELIVRD \
          err:000 dlr:8 nck:ABC ref:12/3 text:a b: c id:6",
    );
    assert_eq!(
        r.extra,
        [
            ("dlr".to_owned(), "8".to_owned()),
            ("nck".to_owned(), "ABC".to_owned()),
            ("ref".to_owned(), "12/3".to_owned()),
        ]
    );
    // text: swallows the rest, colons and keys included.
    assert_eq!(r.text.as_deref(), Some("a b: c id:6"));
    assert_eq!(r.id.as_deref(), Some("5"));
}

#[test]
fn repeated_key_keeps_the_first() {
    let r = parse(b"id:1 stat:ENROUTE stat:DELIVRD");
    assert_eq!(state(&r), Some(MessageState::Enroute));
    assert_eq!(r.extra, [("stat".to_owned(), "DELIVRD".to_owned())]);
}

#[test]
fn stat_variants_and_unknown_words() {
    for (w, s) in [
        ("UNDELIV", Some(MessageState::Undeliverable)),
        ("FAILED", Some(MessageState::Undeliverable)),
        ("delivered", Some(MessageState::Delivered)),
        ("EXPIRED", Some(MessageState::Expired)),
        ("REJECTD", Some(MessageState::Rejected)),
        ("ENROUTE", Some(MessageState::Enroute)),
        ("BUFFRED", None),
    ] {
        let r = parse(format!("id:1 stat:{w} err:001").as_bytes());
        assert_eq!(r.stat.as_ref().unwrap().raw(), w);
        assert_eq!(state(&r), s, "{w}");
    }
}

#[test]
fn trailing_crlf_nul_and_space() {
    for tail in [&b"\r\n"[..], b"\0", b"\0\0\0", b" \r\n\0", b"\n"] {
        let mut sm = b"id:1 sub:001 dlvrd:001 stat:DELIVRD err:000 text:Hi".to_vec();
        sm.extend_from_slice(tail);
        let r = parse(&sm);
        assert_eq!(r.text.as_deref(), Some("Hi"));
        let mut sm = b"id:1 stat:UNDELIV err:001".to_vec();
        sm.extend_from_slice(tail);
        assert_eq!(err(&parse(&sm)), ("001", Some(1)));
    }
}

#[test]
fn invalid_utf8_is_replaced_not_fatal() {
    let r = parse(b"id:1 stat:DELIVRD text:caf\xe9");
    assert_eq!(r.text.as_deref(), Some("caf\u{fffd}"));
}

// ---- receipt_from_parts ----

#[test]
fn tlv_only_receipt() {
    let r = receipt_from_parts(
        Some(b"1A2B3C\0"),
        Some(5),
        Some(NetworkErrorCode {
            network_type: 3,
            error_code: 0x22,
        }),
        Some(b""),
    )
    .unwrap();
    assert_eq!(r.message_id, "1A2B3C");
    assert_eq!(r.state, MessageState::Undeliverable);
    assert_eq!(
        r.error,
        Some(DeliveryError::Network(NetworkErrorCode {
            network_type: 3,
            error_code: 0x22
        }))
    );
    assert_eq!(r.text, None);
    assert_eq!(r.source.error, Some(FieldSource::Tlv));
    assert!(r.is_final());
    assert!(
        r.match_keys(IdFormat::Auto)
            .any(|k| k == NormalizedId::Num(1_715_004))
    );
}

#[test]
fn text_only_receipt() {
    let sm = b"id:0001715004 sub:001 dlvrd:000 stat:EXPIRED err:027";
    let r = receipt_from_parts(None, None, None, Some(sm)).unwrap();
    assert_eq!(r.message_id, "0001715004");
    assert_eq!(r.normalized_id, NormalizedId::Num(1_715_004));
    assert_eq!(r.state, MessageState::Expired);
    assert_eq!(r.error, Some(DeliveryError::Text(ErrCode::new("027"))));
    assert_eq!(
        (r.source.id, r.source.state, r.source.error),
        (
            FieldSource::Text,
            FieldSource::Text,
            Some(FieldSource::Text)
        )
    );
    assert!(matches(
        "1A2B3C",
        IdFormat::Auto,
        &r.message_id,
        IdFormat::Auto
    ));
    assert!(matches(
        "1a2b3c",
        IdFormat::Hex,
        &r.message_id,
        IdFormat::Dec
    ));
}

#[test]
fn empty_tlv_id_falls_back_to_text() {
    let r = receipt_from_parts(Some(b"\0"), None, None, Some(b"id:9 stat:DELIVRD")).unwrap();
    assert_eq!(
        (r.message_id.as_str(), r.source.id),
        ("9", FieldSource::Text)
    );
}

#[test]
fn vendor_message_state_yields_to_a_known_stat() {
    let r = receipt_from_parts(Some(b"9"), Some(0), None, Some(b"id:9 stat:DELIVRD")).unwrap();
    assert_eq!(
        (r.state, r.source.state),
        (MessageState::Delivered, FieldSource::Text)
    );
    let r = receipt_from_parts(Some(b"9"), Some(9), None, Some(b"id:9 stat:SKIPPED")).unwrap();
    assert_eq!(
        (r.state, r.source.state),
        (MessageState::Other(9), FieldSource::Tlv)
    );
    assert!(!r.is_final());
    // A known message_state wins over the text.
    let r = receipt_from_parts(Some(b"9"), Some(8), None, Some(b"id:9 stat:DELIVRD")).unwrap();
    assert_eq!(
        (r.state, r.source.state),
        (MessageState::Rejected, FieldSource::Tlv)
    );
}

#[test]
fn errors_say_what_is_missing() {
    assert_eq!(
        receipt_from_parts(None, None, None, None),
        Err(ReceiptError::NotAReceipt)
    );
    assert_eq!(
        receipt_from_parts(None, None, None, Some(b"Your code is 1234")),
        Err(ReceiptError::NotAReceipt)
    );
    assert_eq!(
        receipt_from_parts(None, Some(2), None, Some(b"")),
        Err(ReceiptError::NoMessageId)
    );
    assert_eq!(
        receipt_from_parts(None, None, None, Some(b"stat:DELIVRD err:000")),
        Err(ReceiptError::NoMessageId)
    );
    assert_eq!(
        receipt_from_parts(Some(b"77\0"), None, None, None),
        Err(ReceiptError::NoState {
            message_id: "77".into()
        })
    );
    let e = receipt_from_parts(None, None, None, Some(b"id:77 stat:BUFFRED")).unwrap_err();
    assert_eq!(
        e,
        ReceiptError::UnrecognisedStat {
            message_id: "77".into(),
            stat: "BUFFRED".into()
        }
    );
    assert!(e.to_string().contains("BUFFRED") && e.to_string().contains("77"));
}

// ---- id matching, from published mismatches ----

/// jsmpp's simulator (issue #56): hex in submit_sm_resp, 10-digit zero-padded decimal in the
/// receipt. smscsim issue #4 and Jasmin issues #535 and #1034 report the same shape.
#[test]
fn hex_submit_decimal_receipt() {
    for (submit, dlr) in [
        ("33E95179", "0870928761"),
        ("10C8F40D", "281605133"),
        ("39f99dd5", "0972660181"),
    ] {
        assert!(
            matches(submit, IdFormat::Auto, dlr, IdFormat::Auto),
            "{submit} {dlr}"
        );
        assert!(
            matches(submit, IdFormat::Hex, dlr, IdFormat::Dec),
            "{submit} {dlr}"
        );
        assert!(
            !matches(submit, IdFormat::Dec, dlr, IdFormat::Dec),
            "{submit} {dlr}"
        );
    }
}

#[test]
fn hex_submit_without_letters_decimal_receipt() {
    // 0x123456 = 1193046: the submit id has no hex letters, so Auto indexes it as 123456.
    assert!(matches("123456", IdFormat::Auto, "1193046", IdFormat::Auto));
    assert!(matches("00123456", IdFormat::Hex, "1193046", IdFormat::Dec));
    // Auto on one side only misses it: configure both sides.
    assert!(!matches("123456", IdFormat::Auto, "1193046", IdFormat::Dec));
}

#[test]
fn same_rendering_is_preferred() {
    // "16" is tried as 16 first, then as the hex rendering "10", then as 0x16.
    let keys: Vec<_> = match_keys(b"16", IdFormat::Auto).collect();
    assert_eq!(
        keys,
        [
            NormalizedId::Num(16),
            NormalizedId::Num(10),
            NormalizedId::Num(0x16)
        ]
    );
}

// ---- properties ----

fn arb_date() -> impl Strategy<Value = ReceiptDate> {
    prop_oneof![
        (2000u16..=2099, proptest::option::of(0u8..60)),
        (0u16..=9999, (0u8..60).prop_map(Some)),
    ]
    .prop_flat_map(|(y, s)| (Just(y), 1u8..=12, 1u8..=31, 0u8..24, 0u8..60, Just(s)))
    .prop_filter_map("valid day", |(y, mo, d, h, mi, s)| {
        ReceiptDate::new(y, mo, d, h, mi, s)
    })
}

fn arb_receipt() -> impl Strategy<Value = TextReceipt> {
    let stat = prop_oneof![
        proptest::sample::select(vec![
            "DELIVRD",
            "EXPIRED",
            "DELETED",
            "UNDELIV",
            "ACCEPTD",
            "UNKNOWN",
            "REJECTD",
            "ENROUTE",
            "FAILED",
            "delivered"
        ])
        .prop_map(Stat::new),
        "[A-Za-z]{1,10}".prop_map(Stat::new),
    ];
    (
        "[A-Za-z0-9-]{1,40}",
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
        ),
        (
            proptest::option::of(arb_date()),
            proptest::option::of(arb_date()),
        ),
        proptest::option::of(stat),
        proptest::option::of("[0-9A-Za-z]{1,5}".prop_map(ErrCode::new)),
        proptest::option::of("([!-~][ -~]{0,38}[!-~]|[!-~])?"),
        proptest::collection::vec(("x[a-z]{1,6}", "[A-Za-z0-9/.]{1,10}"), 0..3),
    )
        .prop_map(
            |(id, (sub, dlvrd), (submit_date, done_date), stat, err, text, extra)| TextReceipt {
                id: Some(id),
                sub,
                dlvrd,
                submit_date,
                done_date,
                stat,
                err,
                text,
                extra,
                invalid: Vec::new(),
            },
        )
}

/// Byte strings made of receipt pieces, to reach the scanner's corners.
fn receiptish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"id".to_vec()),
        Just(b"submit".to_vec()),
        Just(b"done".to_vec()),
        Just(b"date".to_vec()),
        Just(b"stat".to_vec()),
        Just(b"text".to_vec()),
        Just(b":".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\0".to_vec()),
        "[0-9A-Za-z_-]{1,4}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 1..3),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn parser_never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = TextReceipt::parse(&b);
    }

    #[test]
    fn parser_never_panics_on_receipt_pieces(b in receiptish()) {
        if let Ok(r) = TextReceipt::parse(&b) {
            // What was read writes back as a receipt. The format is ambiguous once values hold
            // whitespace ("id:a submit" then a vendor "date:" field), so only an id without
            // whitespace is sure to come back unchanged.
            let again = TextReceipt::parse(r.to_string().as_bytes());
            prop_assert!(again.is_ok());
            let id = r.id.as_deref().unwrap_or("");
            if !id.bytes().any(|c| c.is_ascii_whitespace() || c == 0) {
                prop_assert_eq!(again.map(|x| x.id), Ok(r.id));
            }
        }
    }

    #[test]
    fn receipt_from_parts_never_panics(
        id in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..70)),
        st in proptest::option::of(any::<u8>()),
        ne in proptest::option::of(any::<[u8; 3]>()),
        text in proptest::option::of(receiptish()),
    ) {
        let ne = ne.map(|[t, hi, lo]| NetworkErrorCode { network_type: t, error_code: u16::from_be_bytes([hi, lo]) });
        let _ = receipt_from_parts(id.as_deref(), st, ne, text.as_deref());
    }

    #[test]
    fn format_then_parse_is_identity(r in arb_receipt()) {
        let s = r.to_string();
        prop_assert_eq!(TextReceipt::parse(s.as_bytes()), Ok(r), "{}", s);
    }

    #[test]
    fn message_state_u8_round_trip(v in any::<u8>()) {
        let s = MessageState::from(v);
        prop_assert_eq!(u8::from(s), v);
        prop_assert_eq!(matches!(s, MessageState::Other(_)), !(1..=8).contains(&v));
    }

    #[test]
    fn hex_and_decimal_of_a_number_match_under_auto(
        n in prop_oneof![any::<u32>().prop_map(u128::from), any::<u64>().prop_map(u128::from), any::<u128>()],
        zeros_s in 0usize..4, zeros_r in 0usize..4, lower in any::<bool>(),
    ) {
        let hex = if lower { format!("{n:x}") } else { format!("{n:X}") };
        let hex = format!("{}{hex}", "0".repeat(zeros_s));
        let dec = format!("{}{n}", "0".repeat(zeros_r));
        // Hex submit, decimal receipt, and the other way round.
        prop_assert!(matches(&hex, IdFormat::Auto, &dec, IdFormat::Auto));
        prop_assert!(matches(&dec, IdFormat::Auto, &hex, IdFormat::Auto));
        // Explicit formats: exactly one key, and it matches.
        prop_assert_eq!(normalize(hex.as_bytes(), IdFormat::Hex), NormalizedId::Num(n));
        prop_assert_eq!(normalize(dec.as_bytes(), IdFormat::Dec), NormalizedId::Num(n));
        prop_assert_eq!(match_keys(dec.as_bytes(), IdFormat::Dec).count(), 1);
    }

    #[test]
    fn case_zeros_and_padding_do_not_matter(
        id in "[0-9A-Fa-f]{1,30}|[0-9A-Za-z-]{1,40}",
        zeros in 0usize..3,
        fmt in proptest::sample::select(vec![IdFormat::Auto, IdFormat::Hex, IdFormat::Dec]),
    ) {
        let k = normalize(id.as_bytes(), fmt);
        prop_assert_eq!(&normalize(id.to_ascii_uppercase().as_bytes(), fmt), &k);
        prop_assert_eq!(&normalize(id.to_ascii_lowercase().as_bytes(), fmt), &k);
        prop_assert_eq!(&normalize(format!(" {id}\0\r\n").as_bytes(), fmt), &k);
        if matches!(k, NormalizedId::Num(_)) {
            let padded = format!("{}{id}", "0".repeat(zeros));
            prop_assert_eq!(&normalize(padded.as_bytes(), fmt), &k);
        }
        prop_assert!(matches(&id, fmt, &id.to_ascii_lowercase(), fmt));
    }

    #[test]
    fn match_keys_are_few_distinct_and_start_with_normalize(
        id in proptest::collection::vec(any::<u8>(), 0..50),
        fmt in proptest::sample::select(vec![IdFormat::Auto, IdFormat::Hex, IdFormat::Dec]),
    ) {
        let keys: Vec<_> = match_keys(&id, fmt).collect();
        prop_assert!((1..=3).contains(&keys.len()));
        prop_assert_eq!(&keys[0], &normalize(&id, fmt));
        for (i, a) in keys.iter().enumerate() {
            prop_assert!(!keys[i + 1..].contains(a));
        }
    }
}

#[test]
fn network_error_code_holding_ascii_digits_is_read_as_the_text_error() {
    // Seen in Jasmin's receipt test data: the TLV carries "000" as three ASCII octets.
    let ascii = NetworkErrorCode {
        network_type: b'0',
        error_code: u16::from_be_bytes([b'0', b'0']),
    };
    let r = receipt_from_parts(Some(b"42"), Some(2), Some(ascii), None).unwrap();
    assert_eq!(r.error, Some(DeliveryError::Text(ErrCode::new("000"))));
    assert_eq!(r.source.error, Some(FieldSource::Tlv));
    let gsm = NetworkErrorCode {
        network_type: 3,
        error_code: 0x30,
    };
    let r = receipt_from_parts(Some(b"42"), Some(5), Some(gsm), None).unwrap();
    assert_eq!(r.error, Some(DeliveryError::Network(gsm)));
}
