//! Segmentation and reassembly: limits, UDH octets, and properties.
#![allow(clippy::unwrap_used)]

use kori_smpp::segment::{
    Concat, Part, Reassembler, Sar, Segment, SplitMethod, SplitOptions, UdhError, count_segments,
    decode_message, parse_udh, plan, split, split_binary,
};
use kori_smpp::text::{Encoding, Gsm7Options, NationalLanguage, TextError, decode, decode_gsm7};
use proptest::prelude::*;

const PACKED: SplitOptions = SplitOptions {
    gsm7_packed: true,
    gsm7: Gsm7Options {
        single_shift: None,
        locking_shift: None,
    },
};

fn opts() -> SplitOptions {
    SplitOptions::default()
}

fn count(text: &str, e: Encoding, m: SplitMethod) -> usize {
    count_segments(text, e, m, &opts()).unwrap()
}

#[test]
fn gsm7_limits() {
    let a = |n| "a".repeat(n);
    assert_eq!(count("", Encoding::Gsm7, SplitMethod::Udh8), 1);
    assert_eq!(count(&a(160), Encoding::Gsm7, SplitMethod::Udh8), 1);
    assert_eq!(count(&a(161), Encoding::Gsm7, SplitMethod::Udh8), 2);
    assert_eq!(count(&a(306), Encoding::Gsm7, SplitMethod::Udh8), 2);
    assert_eq!(count(&a(307), Encoding::Gsm7, SplitMethod::Udh8), 3);
    assert_eq!(count(&a(304), Encoding::Gsm7, SplitMethod::Udh16), 2);
    assert_eq!(count(&a(305), Encoding::Gsm7, SplitMethod::Udh16), 3);
    assert_eq!(count(&a(306), Encoding::Gsm7, SplitMethod::Sar), 2);
    assert_eq!(count(&a(307), Encoding::Gsm7, SplitMethod::Sar), 3);
    assert_eq!(count(&a(5000), Encoding::Gsm7, SplitMethod::Payload), 1);
    // Extension characters count two septets.
    assert_eq!(count(&"€".repeat(80), Encoding::Gsm7, SplitMethod::Udh8), 1);
    assert_eq!(count(&"€".repeat(81), Encoding::Gsm7, SplitMethod::Udh8), 2);
    let p = plan(&a(400), Encoding::Gsm7, SplitMethod::Udh8, &opts()).unwrap();
    assert_eq!((p.segments, p.units, p.units_per_segment), (3, 400, 153));
}

#[test]
fn ucs2_and_octet_limits() {
    let s = |n| "ж".repeat(n);
    assert_eq!(count(&s(70), Encoding::Ucs2, SplitMethod::Udh8), 1);
    assert_eq!(count(&s(71), Encoding::Ucs2, SplitMethod::Udh8), 2);
    assert_eq!(count(&s(134), Encoding::Ucs2, SplitMethod::Udh8), 2);
    assert_eq!(count(&s(135), Encoding::Ucs2, SplitMethod::Udh8), 3);
    assert_eq!(count(&s(132), Encoding::Ucs2, SplitMethod::Udh16), 2);
    assert_eq!(count(&s(133), Encoding::Ucs2, SplitMethod::Udh16), 3);
    let l = |n| "é".repeat(n);
    assert_eq!(count(&l(140), Encoding::Latin1, SplitMethod::Udh8), 1);
    assert_eq!(count(&l(141), Encoding::Latin1, SplitMethod::Udh8), 2);
    assert_eq!(count(&l(268), Encoding::Latin1, SplitMethod::Udh8), 2);
    assert_eq!(count(&l(269), Encoding::Latin1, SplitMethod::Udh8), 3);
    assert_eq!(count(&l(266), Encoding::Latin1, SplitMethod::Udh16), 2);
    assert_eq!(count(&l(267), Encoding::Latin1, SplitMethod::Udh16), 3);
    assert_eq!(count(&"a".repeat(141), Encoding::Ia5, SplitMethod::Udh8), 2);
}

#[test]
fn single_message_has_no_udh() {
    let segs = split("hello", Encoding::Gsm7, SplitMethod::Udh8, 7, &opts()).unwrap();
    assert_eq!(
        segs,
        [Segment {
            short_message: b"\x68\x65\x6C\x6C\x6F"[..].into(),
            udhi: false,
            sar: None,
            payload: false,
            data_coding: 0,
            text: 0..5,
            units: 5,
        }]
    );
    let segs = split("hello", Encoding::Gsm7, SplitMethod::Sar, 7, &opts()).unwrap();
    assert_eq!(segs[0].sar, None);
}

// A 3-part UCS-2 message: UDH 05 00 03 <ref> 03 <seq> (TS 23.040 §9.2.3.24.1; the layout of
// the Wikipedia "Concatenated SMS" example and cloudhopper-commons' SmsUtil tests).
#[test]
fn three_part_ucs2_with_udh8() {
    let text = "Привет, мир! ".repeat(12); // 156 UTF-16 units
    let segs = split(&text, Encoding::Ucs2, SplitMethod::Udh8, 0x1203, &opts()).unwrap();
    assert_eq!(segs.len(), 3);
    for (i, seg) in segs.iter().enumerate() {
        let seq = u8::try_from(i + 1).unwrap();
        assert_eq!(seg.short_message[..6], [0x05, 0x00, 0x03, 0x03, 0x03, seq]);
        assert!(seg.udhi);
        assert_eq!(seg.data_coding, 0x08);
        assert_eq!(
            decode(&seg.short_message[6..], Encoding::Ucs2).unwrap(),
            seg.text_of(&text)
        );
    }
    assert_eq!(segs[0].units, 67);
    assert_eq!(segs[0].short_message.len(), 6 + 134);
    assert_eq!(segs[0].short_message[6..10], [0x04, 0x1F, 0x04, 0x40]); // "Пр"
    assert_eq!(segs[2].units, 156 - 134);
    let joined: String = segs.iter().map(|s| s.text_of(&text)).collect();
    assert_eq!(joined, text);
}

#[test]
fn udh16_and_sar_headers() {
    let text = "x".repeat(200);
    let segs = split(&text, Encoding::Gsm7, SplitMethod::Udh16, 0xBEEF, &opts()).unwrap();
    assert_eq!(segs.len(), 2);
    assert_eq!(
        segs[1].short_message[..7],
        [0x06, 0x08, 0x04, 0xBE, 0xEF, 0x02, 0x02]
    );
    assert_eq!(segs[0].units, 152);
    let segs = split(&text, Encoding::Gsm7, SplitMethod::Sar, 0xBEEF, &opts()).unwrap();
    assert_eq!(segs.len(), 2);
    assert!(!segs[0].udhi);
    assert_eq!(segs[0].units, 153);
    assert_eq!(segs[0].short_message.len(), 153);
    assert_eq!(
        segs[1].sar,
        Some(Sar {
            reference: 0xBEEF,
            total: 2,
            seqnum: 2
        })
    );
    // Udh8 keeps the low 8 bits of the reference.
    let segs = split(&text, Encoding::Gsm7, SplitMethod::Udh8, 0xBEEF, &opts()).unwrap();
    assert_eq!(
        segs[0].short_message[..6],
        [0x05, 0x00, 0x03, 0xEF, 0x02, 0x01]
    );
    assert_eq!(segs[0].short_message.len(), 6 + 153);
}

#[test]
fn payload_is_one_segment() {
    let text = "y".repeat(1000);
    let segs = split(&text, Encoding::Gsm7, SplitMethod::Payload, 1, &opts()).unwrap();
    assert_eq!(segs.len(), 1);
    assert!(segs[0].payload && !segs[0].udhi && segs[0].sar.is_none());
    assert_eq!(segs[0].short_message.len(), 1000);
    let too_long = "y".repeat(65536);
    assert_eq!(
        count_segments(&too_long, Encoding::Gsm7, SplitMethod::Payload, &opts()),
        Err(TextError::PayloadTooLong {
            len: 65536,
            max: 65535
        })
    );
    assert!(split_binary(&[0; 65536], SplitMethod::Payload, 0).is_err());
}

#[test]
fn more_than_255_segments_is_an_error() {
    let text = "a".repeat(153 * 255);
    assert_eq!(count(&text, Encoding::Gsm7, SplitMethod::Udh8), 255);
    let text = "a".repeat(153 * 255 + 1);
    let err = TextError::TooManySegments { needed: 256 };
    assert_eq!(
        count_segments(&text, Encoding::Gsm7, SplitMethod::Udh8, &opts()),
        Err(err.clone())
    );
    assert_eq!(
        split(&text, Encoding::Gsm7, SplitMethod::Udh8, 0, &opts()),
        Err(err)
    );
    assert!(split_binary(&vec![0; 134 * 255 + 1], SplitMethod::Udh8, 0).is_err());
}

#[test]
fn escape_pair_is_never_cut() {
    let text = format!("{}€{}", "a".repeat(152), "b".repeat(10)); // 164 septets
    let segs = split(&text, Encoding::Gsm7, SplitMethod::Udh8, 1, &opts()).unwrap();
    assert_eq!(segs.len(), 2);
    assert_eq!(segs[0].units, 152);
    assert_eq!(segs[1].short_message[6..8], [0x1B, 0x65]);
    assert_eq!(segs[1].text_of(&text), format!("€{}", "b".repeat(10)));
}

#[test]
fn surrogate_pair_is_never_cut() {
    let text = format!("{}😀{}", "a".repeat(66), "b".repeat(10)); // 78 UTF-16 units
    let segs = split(&text, Encoding::Ucs2, SplitMethod::Udh8, 1, &opts()).unwrap();
    assert_eq!(segs.len(), 2);
    assert_eq!(segs[0].units, 66);
    assert_eq!(segs[1].short_message[6..10], [0xD8, 0x3D, 0xDE, 0x00]);
}

// Packed GSM 7-bit behind a 6-octet UDH starts after one fill bit (TS 23.040 §9.2.3.24). The
// expected body is the GSM 03.38 "hellohello" vector E8 32 9B FD 46 97 D9 EC 37 shifted left
// by that one bit.
#[test]
fn packed_part_after_udh_has_one_fill_bit() {
    let text = format!("{}hellohello", "a".repeat(153));
    let segs = split(&text, Encoding::Gsm7, SplitMethod::Udh8, 0x42, &PACKED).unwrap();
    assert_eq!(segs.len(), 2);
    assert_eq!(
        segs[1].short_message[..],
        [
            0x05, 0x00, 0x03, 0x42, 0x02, 0x02, // UDH
            0xD0, 0x65, 0x36, 0xFB, 0x8D, 0x2E, 0xB3, 0xD9, 0x6F, // "hellohello" << 1
        ]
    );
    // 153 packed septets after the fill bit fill the 134 octets exactly.
    assert_eq!(segs[0].short_message.len(), 140);
    assert_eq!(
        decode_message(0, true, &segs[1].short_message, true).unwrap(),
        "hellohello"
    );
    assert_eq!(
        decode_message(0, true, &segs[0].short_message, true).unwrap(),
        "a".repeat(153)
    );
    // Single packed message, no UDH: the plain vector.
    let segs = split("hellohello", Encoding::Gsm7, SplitMethod::Udh8, 0, &PACKED).unwrap();
    assert_eq!(
        segs[0].short_message[..],
        [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
    );
}

#[test]
fn national_language_ies_cost_capacity() {
    let turkish = SplitOptions {
        gsm7_packed: false,
        gsm7: Gsm7Options {
            single_shift: Some(NationalLanguage::Turkish),
            locking_shift: None,
        },
    };
    // Single message: UDH 03 24 01 01 = 4 octets = 5 septets, so 155 septets remain.
    let p = plan(&"ş".repeat(77), Encoding::Gsm7, SplitMethod::Udh8, &turkish).unwrap();
    assert_eq!((p.segments, p.units_per_segment), (1, 155));
    let segs = split("ş", Encoding::Gsm7, SplitMethod::Udh8, 9, &turkish).unwrap();
    assert_eq!(
        segs[0].short_message[..],
        [0x03, 0x24, 0x01, 0x01, 0x1B, 0x73]
    );
    assert!(segs[0].udhi);
    // Concatenated: 05 00 03 .. + 24 01 01 = 9 octets = 11 septets, 149 remain.
    let text = "ş".repeat(100);
    let segs = split(&text, Encoding::Gsm7, SplitMethod::Udh8, 9, &turkish).unwrap();
    assert_eq!(segs.len(), 2);
    assert_eq!(
        segs[0].short_message[..9],
        [0x08, 0x00, 0x03, 0x09, 0x02, 0x01, 0x24, 0x01, 0x01]
    );
    assert_eq!(segs[0].units, 148); // 74 escaped characters; 149 would cut a pair
    let both = SplitOptions {
        gsm7_packed: false,
        gsm7: Gsm7Options {
            single_shift: Some(NationalLanguage::Portuguese),
            locking_shift: Some(NationalLanguage::Portuguese),
        },
    };
    let segs = split("ê", Encoding::Gsm7, SplitMethod::Sar, 9, &both).unwrap();
    assert_eq!(
        segs[0].short_message[..],
        [0x06, 0x24, 0x01, 0x03, 0x25, 0x01, 0x03, 0x04]
    );
    assert_eq!(
        decode_message(0, true, &segs[0].short_message, false).unwrap(),
        "ê"
    );
    // National IEs are only for GSM 7-bit.
    let segs = split("ş", Encoding::Ucs2, SplitMethod::Udh8, 9, &turkish).unwrap();
    assert!(!segs[0].udhi);
}

#[test]
fn binary_split() {
    assert_eq!(
        split_binary(&[1; 140], SplitMethod::Udh8, 5).unwrap().len(),
        1
    );
    let segs = split_binary(&[1; 141], SplitMethod::Udh8, 5).unwrap();
    assert_eq!(segs.len(), 2);
    assert_eq!(segs[0].short_message.len(), 140);
    assert_eq!(segs[0].units, 134);
    assert_eq!(segs[0].data_coding, 0x04);
    let segs = split_binary(&[1; 300], SplitMethod::Udh16, 5).unwrap();
    assert_eq!(
        segs.iter().map(|s| s.units).collect::<Vec<_>>(),
        [133, 133, 34]
    );
    let segs = split_binary(&[1; 300], SplitMethod::Sar, 5).unwrap();
    assert_eq!(
        segs.iter().map(|s| s.units).collect::<Vec<_>>(),
        [134, 134, 32]
    );
    assert!(segs.iter().all(|s| !s.udhi && s.sar.is_some()));
}

#[test]
fn parse_udh_reads_and_skips_elements() {
    // 0x0A (text formatting, skipped), 0x08 concat, 0x25 locking shift.
    let msg = [
        0x0D, 0x0A, 0x02, 0xAA, 0xBB, 0x08, 0x04, 0x01, 0x02, 0x03, 0x01, 0x25, 0x01, 0x01, 0x41,
    ];
    let (udh, rest) = parse_udh(&msg).unwrap();
    assert_eq!(rest, [0x41]);
    assert_eq!(udh.len, 14);
    assert_eq!(
        udh.concat,
        Some(Concat {
            reference: 0x0102,
            total: 3,
            seqnum: 1,
            wide_reference: true
        })
    );
    assert_eq!(udh.locking_shift, Some(1));
    assert_eq!(
        udh.gsm7_options().locking_shift,
        Some(NationalLanguage::Turkish)
    );
    // Seqnum above total: the IE is ignored.
    let (udh, _) = parse_udh(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x03]).unwrap();
    assert_eq!(udh.concat, None);
    // Malformed headers are errors.
    assert_eq!(parse_udh(&[]), Err(UdhError::Empty));
    assert_eq!(
        parse_udh(&[0x05, 0x00, 0x03]),
        Err(UdhError::HeaderOverrun {
            udhl: 5,
            available: 2
        })
    );
    assert!(matches!(
        parse_udh(&[0x03, 0x00, 0x03, 0x01]),
        Err(UdhError::IeOverrun { iei: 0, .. })
    ));
    assert!(matches!(
        parse_udh(&[0x01, 0x00]),
        Err(UdhError::IeOverrun { .. })
    ));
    assert_eq!(parse_udh(&[0x00, 0x41]).unwrap().1, [0x41]);
}

fn part(seg: &Segment, now: u64) -> Part<'_> {
    Part {
        data_coding: seg.data_coding,
        udhi: seg.udhi,
        short_message: &seg.short_message,
        sar: seg.sar.map(|s| (s.reference, s.total, s.seqnum)),
        now,
    }
}

#[test]
fn reassembler_joins_ignores_duplicates_and_passes_singles() {
    let mut r = Reassembler::new(16, false);
    let single = split("hi", Encoding::Gsm7, SplitMethod::Udh8, 1, &opts()).unwrap();
    let whole = r.push("a", part(&single[0], 0)).unwrap().unwrap();
    assert_eq!(
        (whole.text().unwrap().as_str(), whole.parts, whole.reference),
        ("hi", 1, None)
    );

    let text = "z".repeat(400);
    let segs = split(&text, Encoding::Gsm7, SplitMethod::Udh8, 77, &opts()).unwrap();
    assert_eq!(r.push("a", part(&segs[2], 1)).unwrap(), None);
    assert_eq!(r.push("a", part(&segs[2], 1)).unwrap(), None); // duplicate
    assert_eq!(r.push("b", part(&segs[0], 1)).unwrap(), None); // other sender
    assert_eq!(r.push("a", part(&segs[0], 2)).unwrap(), None);
    assert_eq!(r.pending(), 2);
    let whole = r.push("a", part(&segs[1], 3)).unwrap().unwrap();
    assert_eq!(whole.text().unwrap(), text);
    assert_eq!((whole.parts, whole.reference), (3, Some(77)));
    assert_eq!(r.pending(), 1);
}

#[test]
fn reassembler_is_bounded_and_expires() {
    let text = "q".repeat(200);
    let segs = split(&text, Encoding::Gsm7, SplitMethod::Sar, 5, &opts()).unwrap();
    let mut r = Reassembler::new(2, false);
    r.push(1u32, part(&segs[0], 10)).unwrap();
    r.push(2u32, part(&segs[0], 20)).unwrap();
    r.push(3u32, part(&segs[0], 30)).unwrap(); // evicts key 1
    assert_eq!((r.pending(), r.evicted()), (2, 1));
    // Key 1's group is gone: its second part starts a new group, evicting key 2.
    assert_eq!(r.push(1u32, part(&segs[1], 31)).unwrap(), None);
    assert_eq!((r.pending(), r.evicted()), (2, 2));
    assert_eq!(r.expire(25), 0);
    assert!(r.push(3u32, part(&segs[1], 32)).unwrap().is_some());
    assert_eq!(r.expire(u64::MAX), 1); // the restarted key 1
    assert_eq!(r.pending(), 0);
}

#[test]
fn reassembly_joins_split_pairs_before_decoding() {
    // A sender that cut a surrogate pair across parts still decodes once joined.
    static P1: [u8; 10] = [0x05, 0x00, 0x03, 0x09, 0x02, 0x01, 0x00, 0x41, 0xD8, 0x3D];
    static P2: [u8; 8] = [0x05, 0x00, 0x03, 0x09, 0x02, 0x02, 0xDE, 0x00];
    let mut r = Reassembler::new(4, false);
    let mk = |sm: &'static [u8]| Part {
        data_coding: 8,
        udhi: true,
        short_message: sm,
        sar: None,
        now: 0,
    };
    assert_eq!(r.push((), mk(&P2)).unwrap(), None);
    assert_eq!(r.push((), mk(&P1)).unwrap().unwrap().text().unwrap(), "A😀");
    assert_eq!(
        decode_gsm7(&[0x1B, 0x65], &Gsm7Options::default()).unwrap(),
        "€"
    );
}

fn gsm7_chars() -> Vec<char> {
    let mut v: Vec<char> = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà".chars().collect();
    v.extend("\u{0C}^{}\\[~]|€".chars());
    v
}

fn text_for(e: Encoding) -> BoxedStrategy<String> {
    match e {
        Encoding::Gsm7 => prop::collection::vec(prop::sample::select(gsm7_chars()), 0..700)
            .prop_map(String::from_iter)
            .boxed(),
        Encoding::Latin1 => "[\u{0}-\u{ff}]{0,400}".boxed(),
        _ => prop::collection::vec(any::<char>(), 0..300)
            .prop_map(String::from_iter)
            .boxed(),
    }
}

fn case() -> impl Strategy<Value = (Encoding, String, SplitMethod, bool)> {
    let enc = prop::sample::select(vec![Encoding::Gsm7, Encoding::Ucs2, Encoding::Latin1]);
    let method = prop::sample::select(vec![
        SplitMethod::Udh8,
        SplitMethod::Udh16,
        SplitMethod::Sar,
    ]);
    (enc, method, any::<bool>())
        .prop_flat_map(|(e, m, packed)| (Just(e), text_for(e), Just(m), Just(packed)))
}

/// User data of a segment, as text, decoded alone.
fn segment_text(seg: &Segment, packed: bool) -> String {
    decode_message(seg.data_coding, seg.udhi, &seg.short_message, packed).unwrap()
}

proptest! {
    #[test]
    fn segments_fit_join_and_count((e, text, method, packed) in case(), reference in any::<u16>()) {
        let opts = SplitOptions { gsm7_packed: packed, ..SplitOptions::default() };
        let plan = plan(&text, e, method, &opts).unwrap();
        let segs = split(&text, e, method, reference, &opts).unwrap();
        prop_assert_eq!(segs.len(), plan.segments);
        prop_assert_eq!(count_segments(&text, e, method, &opts).unwrap(), segs.len());
        let joined: String = segs.iter().map(|s| s.text_of(&text)).collect();
        prop_assert_eq!(&joined, &text);
        for seg in &segs {
            prop_assert!(seg.units <= plan.units_per_segment);
            let limit = if e == Encoding::Gsm7 && !packed { 6 + 153 + 1 } else { 140 };
            prop_assert!(seg.short_message.len() <= limit, "{} octets", seg.short_message.len());
            // Decoding each part alone gives its text, so no escape pair or surrogate pair
            // was cut (a cut would leave a lone escape / U+FFFD).
            let alone = segment_text(seg, packed);
            // Packed parts may lose a trailing '@' or CR to the pad rule.
            if !(packed && e == Encoding::Gsm7 && (seg.text_of(&text).ends_with('@') || seg.text_of(&text).ends_with('\r'))) {
                prop_assert_eq!(alone.as_str(), seg.text_of(&text));
            }
            if e == Encoding::Ucs2 {
                let body = &seg.short_message[if seg.udhi { 6 + usize::from(method == SplitMethod::Udh16) } else { 0 }..];
                if body.len() >= 2 {
                    prop_assert!(!(0xDC..=0xDF).contains(&body[0]), "starts with a low surrogate");
                    prop_assert!(!(0xD8..=0xDB).contains(&body[body.len() - 2]), "ends with a high surrogate");
                }
            }
        }
    }

    #[test]
    fn shuffled_parts_reassemble((e, text, method, packed) in case(), seed in any::<u64>(), reference in any::<u16>()) {
        let opts = SplitOptions { gsm7_packed: packed, ..SplitOptions::default() };
        let segs = split(&text, e, method, reference, &opts).unwrap();
        // Deterministic shuffle with duplicates, from the seed.
        let mut order: Vec<usize> = (0..segs.len()).chain(0..segs.len() / 2).collect();
        let mut x = seed | 1;
        for i in (1..order.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            order.swap(i, usize::try_from(x % (i as u64 + 1)).unwrap());
        }
        let mut r = Reassembler::new(8, packed);
        let mut done = Vec::new();
        for i in order {
            if let Some(whole) = r.push(("src", "dst"), part(&segs[i], 0)).unwrap() {
                done.push(whole);
            }
        }
        prop_assert_eq!(done.len(), 1);
        let got = done[0].text().unwrap();
        if packed && e == Encoding::Gsm7 {
            // Per-part pad stripping may drop a trailing '@' or CR of a part.
            let strip = |s: &str| s.replace(['@', '\r'], "");
            prop_assert_eq!(strip(&got), strip(&text));
        } else {
            prop_assert_eq!(got, text);
        }
        // A duplicate arriving after completion opens a new group, left to expire.
        prop_assert!(r.pending() <= 1);
    }

    #[test]
    fn udh_and_reassembly_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        dc in any::<u8>(),
        udhi in any::<bool>(),
        packed in any::<bool>(),
        sar in prop::option::of(any::<(u16, u8, u8)>()),
        key in 0u8..4,
        now in any::<u64>(),
    ) {
        let _ = parse_udh(&bytes);
        let _ = decode_message(dc, udhi, &bytes, packed);
        let mut r = Reassembler::new(2, packed);
        for _ in 0..3 {
            if let Ok(Some(whole)) = r.push(key, Part { data_coding: dc, udhi, short_message: &bytes, sar, now }) {
                let _ = whole.text();
            }
        }
        r.expire(now);
    }
}
