//! Text encodings: byte-exact fixtures and round-trip properties.
#![allow(clippy::unwrap_used)]

use kori_smpp::text::{
    self, Encoding, EncodingChoice, Gsm7Options, NationalLanguage, TextError, choose, choose_with,
    count, count_gsm7, count_ucs2, decode, decode_gsm7, decode_ia5, decode_latin1, decode_ucs2,
    encode, encode_gsm7, encode_ia5, encode_latin1, encode_ucs2, fill_bits_after_udh, is_gsm7,
    pack_septets, packed_len, strip_pad, unpack_septets,
};
use proptest::prelude::*;

/// The GSM 7-bit default alphabet, TS 23.038 §6.2.1, retyped in septet order 0x00..=0x7F with
/// the escape (0x1B) left out.
const DEFAULT_ALPHABET: &str = concat!(
    "@£$¥èéùìòÇ\nØø\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞ",
    /* 0x1B */ "ÆæßÉ",
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "¡ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "¿abcdefghijklmno",
    "pqrstuvwxyzäöñüà",
);

/// The default extension table, TS 23.038 §6.2.1.1.
const DEFAULT_EXTENSION: &[(u8, char)] = &[
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn default_alphabet_maps_every_septet() {
    let septets: Vec<u8> = (0u8..128).filter(|&s| s != 0x1B).collect();
    assert_eq!(DEFAULT_ALPHABET.chars().count(), 127);
    assert_eq!(decode(&septets, Encoding::Gsm7).unwrap(), DEFAULT_ALPHABET);
    assert_eq!(encode(DEFAULT_ALPHABET, Encoding::Gsm7).unwrap(), septets);
}

#[test]
fn extension_table_uses_escape_and_counts_two() {
    for &(code, ch) in DEFAULT_EXTENSION {
        let s = ch.to_string();
        assert_eq!(encode(&s, Encoding::Gsm7).unwrap(), [0x1B, code], "{ch:?}");
        assert_eq!(decode(&[0x1B, code], Encoding::Gsm7).unwrap(), s);
        assert_eq!(count(&s, Encoding::Gsm7).unwrap(), 2);
        assert!(is_gsm7(ch));
    }
    assert_eq!(encode("€", Encoding::Gsm7).unwrap(), [0x1B, 0x65]);
    assert_eq!(count("a€b", Encoding::Gsm7).unwrap(), 4);
}

#[test]
fn unknown_extension_code_shows_the_base_character() {
    // TS 23.038 §6.2.1.1: a code missing from the extension table displays as the base table's.
    assert_eq!(decode(&[0x1B, 0x41], Encoding::Gsm7).unwrap(), "A");
    assert_eq!(decode(&[0x1B, 0x00], Encoding::Gsm7).unwrap(), "@");
    // 0x1B 0x1B: reserved escape to a further table, shown as a space.
    assert_eq!(decode(&[0x1B, 0x1B, 0x41], Encoding::Gsm7).unwrap(), " A");
    // A lone escape at the end is dropped.
    assert_eq!(decode(&[0x41, 0x1B], Encoding::Gsm7).unwrap(), "A");
    assert_eq!(decode(&[0x1B], Encoding::Gsm7).unwrap(), "");
}

#[test]
fn gsm7_rejects_octets_above_0x7f() {
    assert_eq!(
        decode(&[0x41, 0x80], Encoding::Gsm7),
        Err(TextError::InvalidSeptet {
            byte: 0x80,
            index: 1
        })
    );
    assert_eq!(
        decode(&[0x1B, 0xFF], Encoding::Gsm7),
        Err(TextError::InvalidSeptet {
            byte: 0xFF,
            index: 1
        })
    );
}

#[test]
fn unrepresentable_character_is_named_with_its_position() {
    let err = encode("ab€ç", Encoding::Gsm7).unwrap_err();
    assert_eq!(
        err,
        TextError::UnrepresentableChar {
            ch: 'ç',
            index: 5,
            encoding: Encoding::Gsm7
        }
    );
    assert!(err.to_string().contains("U+00E7"));
    assert!(encode("\u{1B}", Encoding::Gsm7).is_err());
    assert!(encode("\t", Encoding::Gsm7).is_err());
}

// Source: the "hellohello" example of GSM 03.38 packing, also in Device::Gsm (perl) t/20pdu.t.
#[test]
fn packs_hellohello() {
    let septets = encode("hellohello", Encoding::Gsm7).unwrap();
    assert_eq!(pack_septets(&septets, 0), hex("E8 32 9B FD 46 97 D9 EC 37"));
}

// Source: Device::Gsm (perl) t/20pdu.t, encode_text7.
#[test]
fn packs_quick_fox() {
    let septets = encode("The quick fox jumps over the lazy dog", Encoding::Gsm7).unwrap();
    assert_eq!(septets.len(), 0x25);
    assert_eq!(
        pack_septets(&septets, 0),
        hex("54741914AFA7C76B90F98D07A9EB6DF81CF4B697E5203ABA0C6287F57910F97D06")
    );
}

// Source: warthog618/sms encoding/gsm7/7bit_test.go (fill patterns; the "fill2" and "seven"
// cases with CR padding are its USSD variants, the padding rule Kori applies).
#[test]
fn packs_with_fill_bits() {
    assert_eq!(pack_septets(&[0x7F], 1), [0xFE]);
    assert_eq!(pack_septets(&[0x7F], 2), [0xFC, 0x1B]);
    assert_eq!(pack_septets(&[0x7F], 3), [0xF8, 0x03]);
    assert_eq!(pack_septets(&[0x7F], 4), [0xF0, 0x07]);
    assert_eq!(pack_septets(&[0x7F], 5), [0xE0, 0x0F]);
    assert_eq!(pack_septets(&[0x7F], 6), [0xC0, 0x1F]);
    assert_eq!(pack_septets(&[], 1), [0u8; 0]);
    // Offsets past a septet boundary are odd but must not panic.
    assert!(pack_septets(&[], 9).is_empty());
    assert_eq!(pack_septets(&[0x7F], 8), [0x00, 0x7F]);
    assert_eq!(pack_septets(&[1], 200).len(), 26);
    assert_eq!(
        pack_septets(b"pattern", 0),
        [240, 48, 157, 94, 150, 187, 27]
    );
    assert_eq!(
        pack_septets(b"pattern!!", 0),
        [240, 48, 157, 94, 150, 187, 67, 33]
    );
    assert_eq!(
        pack_septets(b"a very long test pattern", 0),
        [
            97, 144, 189, 44, 207, 131, 216, 111, 247, 25, 68, 47, 207, 233, 32, 120, 152, 78, 47,
            203, 221
        ]
    );
    assert_eq!(fill_bits_after_udh(6), 1);
    assert_eq!(fill_bits_after_udh(7), 0);
    assert_eq!(fill_bits_after_udh(0), 0);
    assert_eq!(packed_len(160, 0), 140);
    assert_eq!(packed_len(153, 1), 134);
}

#[test]
fn unpacking_strips_cr_and_zero_padding() {
    for packed in [
        vec![240, 48, 157, 94, 150, 187, 27], // CR pad
        vec![240, 48, 157, 94, 150, 187, 1],  // zero pad (warthog618/sms "seven")
    ] {
        let mut septets = unpack_septets(&packed, 0);
        assert_eq!(septets.len(), 8);
        strip_pad(&mut septets, packed.len(), 0);
        assert_eq!(septets, b"pattern");
    }
    // Eight septets filling seven octets: the last is text, not padding.
    let mut septets = unpack_septets(&[240, 48, 157, 94, 150, 187, 127], 0);
    strip_pad(&mut septets, 7, 0);
    assert_eq!(septets, b"pattern?");
}

#[test]
fn ucs2_is_utf16_big_endian() {
    assert_eq!(encode_ucs2("😀"), [0xD8, 0x3D, 0xDE, 0x00]);
    assert_eq!(
        encode("Aé", Encoding::Ucs2).unwrap(),
        [0x00, 0x41, 0x00, 0xE9]
    );
    assert_eq!(decode_ucs2(&[0xD8, 0x3D, 0xDE, 0x00]).unwrap(), "😀");
    assert_eq!(count_ucs2("a😀"), 3);
    assert_eq!(count("a😀", Encoding::Ucs2).unwrap(), 3);
    assert_eq!(
        decode_ucs2(&[0x00, 0x41, 0x00]),
        Err(TextError::OddUcs2Length { len: 3 })
    );
    // Lone surrogates become U+FFFD.
    assert_eq!(decode_ucs2(&[0xD8, 0x3D, 0x00, 0x41]).unwrap(), "\u{FFFD}A");
    assert_eq!(decode_ucs2(&[0xDE, 0x00]).unwrap(), "\u{FFFD}");
}

#[test]
fn latin1_and_ia5() {
    assert_eq!(encode_latin1("café").unwrap(), [0x63, 0x61, 0x66, 0xE9]);
    assert_eq!(decode_latin1(&[0x63, 0x61, 0x66, 0xE9]), "café");
    assert!(matches!(
        encode_latin1("5€"),
        Err(TextError::UnrepresentableChar {
            ch: '€',
            index: 1,
            encoding: Encoding::Latin1
        })
    ));
    assert_eq!(encode_ia5("Hi!").unwrap(), b"Hi!");
    assert!(encode_ia5("é").is_err());
    assert_eq!(decode_ia5(b"ok").unwrap(), "ok");
    assert_eq!(
        decode_ia5(&[0x41, 0xC3]),
        Err(TextError::NonAsciiOctet {
            byte: 0xC3,
            index: 1
        })
    );
}

#[test]
fn binary_text_is_utf8() {
    assert_eq!(encode("é", Encoding::Binary).unwrap(), [0xC3, 0xA9]);
    assert_eq!(decode(&[0xC3, 0xA9], Encoding::Binary).unwrap(), "é");
    assert_eq!(
        decode(&[0x41, 0xFF], Encoding::Binary),
        Err(TextError::InvalidUtf8 { valid_up_to: 1 })
    );
}

#[test]
fn data_coding_values() {
    use Encoding::*;
    for e in [Gsm7, Ia5, Latin1, Ucs2, Binary] {
        assert_eq!(Encoding::from_data_coding(e.data_coding()), Some(e));
    }
    assert_eq!(Gsm7.data_coding(), 0x00);
    assert_eq!(Ia5.data_coding(), 0x01);
    assert_eq!(Latin1.data_coding(), 0x03);
    assert_eq!(Binary.data_coding(), 0x04);
    assert_eq!(Ucs2.data_coding(), 0x08);
    let cases: &[(u8, Option<Encoding>)] = &[
        (0x02, Some(Binary)),
        (0x05, None),
        (0x06, None),
        (0x07, None),
        (0x09, None),
        (0x0E, None),
        (0x10, Some(Gsm7)), // class 0, GSM 7-bit
        (0x11, Some(Gsm7)),
        (0x14, Some(Binary)),
        (0x18, Some(Ucs2)), // class 0, UCS2
        (0x19, Some(Ucs2)),
        (0x1C, None), // reserved alphabet
        (0x20, None), // compressed
        (0x48, Some(Ucs2)),
        (0x80, None),
        (0xC0, Some(Gsm7)),
        (0xD1, Some(Gsm7)),
        (0xE0, Some(Ucs2)),
        (0xF0, Some(Gsm7)),
        (0xF1, Some(Gsm7)),
        (0xF4, Some(Binary)),
        (0xF6, Some(Binary)),
    ];
    for &(dc, want) in cases {
        assert_eq!(Encoding::from_data_coding(dc), want, "{dc:#04x}");
    }
}

#[test]
fn encoding_choice_parses() {
    assert_eq!(
        "auto".parse::<EncodingChoice>().unwrap(),
        EncodingChoice::Auto
    );
    assert_eq!(
        "gsm7".parse::<EncodingChoice>().unwrap(),
        EncodingChoice::Gsm7
    );
    assert_eq!(
        "Latin1".parse::<EncodingChoice>().unwrap(),
        EncodingChoice::Latin1
    );
    assert_eq!(
        "ucs2".parse::<EncodingChoice>().unwrap(),
        EncodingChoice::Ucs2
    );
    assert!("utf8".parse::<EncodingChoice>().is_err());
    assert_eq!(EncodingChoice::default(), EncodingChoice::Auto);
    assert_eq!(EncodingChoice::Ucs2.to_string(), "ucs2");
}

#[test]
fn choose_picks_gsm7_when_everything_fits() {
    assert_eq!(
        choose("Hello [€]", EncodingChoice::Auto).unwrap(),
        Encoding::Gsm7
    );
    assert_eq!(
        choose("Merhaba ş", EncodingChoice::Auto).unwrap(),
        Encoding::Ucs2
    );
    assert_eq!(choose("😀", EncodingChoice::Auto).unwrap(), Encoding::Ucs2);
    assert_eq!(choose("", EncodingChoice::Auto).unwrap(), Encoding::Gsm7);
    assert_eq!(choose("ş", EncodingChoice::Ucs2).unwrap(), Encoding::Ucs2);
    assert_eq!(
        choose("é", EncodingChoice::Latin1).unwrap(),
        Encoding::Latin1
    );
    assert!(matches!(
        choose("a ş", EncodingChoice::Gsm7),
        Err(TextError::UnrepresentableChar {
            ch: 'ş',
            index: 2,
            ..
        })
    ));
    let turkish = Gsm7Options {
        single_shift: Some(NationalLanguage::Turkish),
        locking_shift: None,
    };
    assert_eq!(
        choose_with("Merhaba ş", EncodingChoice::Auto, &turkish).unwrap(),
        Encoding::Gsm7
    );
}

// Source: 3GPP TS 23.038 Annex A tables A.2.1-A.2.3 and A.3.1, A.3.3.
#[test]
fn national_language_tables() {
    use NationalLanguage::*;
    let ss = |l| Gsm7Options {
        single_shift: Some(l),
        locking_shift: None,
    };
    let both = |l| Gsm7Options {
        single_shift: Some(l),
        locking_shift: Some(l),
    };
    assert_eq!(encode_gsm7("ş", &ss(Turkish)).unwrap(), [0x1B, 0x73]);
    assert_eq!(
        encode_gsm7("ĞİŞçğı", &ss(Turkish)).unwrap(),
        hex("1B47 1B49 1B53 1B63 1B67 1B69")
    );
    assert_eq!(encode_gsm7("ş€", &both(Turkish)).unwrap(), [0x1D, 0x04]);
    assert_eq!(encode_gsm7("İç", &both(Turkish)).unwrap(), [0x40, 0x60]);
    assert_eq!(encode_gsm7("ç", &ss(Spanish)).unwrap(), [0x1B, 0x09]);
    assert_eq!(
        encode_gsm7("ÁÍÓÚáíóú", &ss(Spanish)).unwrap(),
        hex("1B41 1B49 1B4F 1B55 1B61 1B69 1B6F 1B75")
    );
    assert_eq!(
        encode_gsm7("Âêâ", &ss(Portuguese)).unwrap(),
        hex("1B61 1B05 1B7F")
    );
    assert_eq!(
        encode_gsm7("ê∞`~", &both(Portuguese)).unwrap(),
        [0x04, 0x15, 0x7D, 0x60]
    );
    assert_eq!(
        encode_gsm7(
            "a",
            &Gsm7Options {
                single_shift: None,
                locking_shift: Some(Spanish)
            }
        ),
        Err(TextError::NoLockingShiftTable { language: Spanish })
    );
    // Decoding with a Spanish locking shift falls back to the default alphabet.
    assert_eq!(
        decode_gsm7(
            &[0x40],
            &Gsm7Options {
                single_shift: None,
                locking_shift: Some(Spanish)
            }
        )
        .unwrap(),
        "¡"
    );
    assert_eq!(decode_gsm7(&[0x1B, 0x73], &ss(Turkish)).unwrap(), "ş");
    assert_eq!(count_gsm7("şa", &ss(Turkish)).unwrap(), 3);
    assert_eq!(count_gsm7("şa", &both(Turkish)).unwrap(), 2);
    for l in [Turkish, Spanish, Portuguese] {
        assert_eq!(NationalLanguage::from_id(l.id()), Some(l));
    }
    assert_eq!((Turkish.id(), Spanish.id(), Portuguese.id()), (1, 2, 3));
    assert_eq!(NationalLanguage::from_id(4), None);
}

/// Every character the given tables hold (base table without the escape, plus the extension).
fn charset(opts: &Gsm7Options) -> Vec<char> {
    let mut chars = Vec::new();
    for s in 0u8..128 {
        if s != 0x1B {
            chars.extend(decode_gsm7(&[s], opts).unwrap().chars());
        }
    }
    for s in 0u8..128 {
        chars.extend(decode_gsm7(&[0x1B, s], opts).unwrap().chars());
    }
    chars.sort_unstable();
    chars.dedup();
    chars
}

fn gsm7_text(opts: Gsm7Options) -> impl Strategy<Value = String> {
    let chars = charset(&opts);
    prop::collection::vec(prop::sample::select(chars), 0..300).prop_map(String::from_iter)
}

fn all_options() -> impl Strategy<Value = Gsm7Options> {
    use NationalLanguage::*;
    let lang = prop::option::of(prop::sample::select(vec![Turkish, Spanish, Portuguese]));
    let lock = prop::option::of(prop::sample::select(vec![Turkish, Portuguese]));
    (lang, lock).prop_map(|(single_shift, locking_shift)| Gsm7Options {
        single_shift,
        locking_shift,
    })
}

proptest! {
    #[test]
    fn gsm7_round_trips(s in gsm7_text(Gsm7Options::default())) {
        let septets = encode(&s, Encoding::Gsm7).unwrap();
        prop_assert_eq!(septets.len(), count(&s, Encoding::Gsm7).unwrap());
        prop_assert_eq!(decode(&septets, Encoding::Gsm7).unwrap(), s);
    }

    #[test]
    fn national_tables_round_trip(
        (opts, s) in all_options().prop_flat_map(|o| (Just(o), gsm7_text(o)))
    ) {
        let septets = encode_gsm7(&s, &opts).unwrap();
        prop_assert_eq!(septets.len(), count_gsm7(&s, &opts).unwrap());
        prop_assert_eq!(decode_gsm7(&septets, &opts).unwrap(), s);
    }

    #[test]
    fn latin1_round_trips(s in "[\u{0}-\u{ff}]{0,200}") {
        let bytes = encode(&s, Encoding::Latin1).unwrap();
        prop_assert_eq!(bytes.len(), count(&s, Encoding::Latin1).unwrap());
        prop_assert_eq!(decode(&bytes, Encoding::Latin1).unwrap(), s);
    }

    #[test]
    fn ucs2_round_trips(s in any::<String>()) {
        let bytes = encode(&s, Encoding::Ucs2).unwrap();
        prop_assert_eq!(bytes.len(), 2 * count(&s, Encoding::Ucs2).unwrap());
        prop_assert_eq!(decode(&bytes, Encoding::Ucs2).unwrap(), s);
    }

    #[test]
    fn pack_unpack_round_trips(septets in prop::collection::vec(0u8..128, 0..300), fill in 0u8..7) {
        let packed = pack_septets(&septets, fill);
        prop_assert_eq!(packed.len(), packed_len(septets.len(), fill));
        let unpacked = unpack_septets(&packed, fill);
        prop_assert!(unpacked.len() == septets.len() || unpacked.len() == septets.len() + 1);
        prop_assert_eq!(&unpacked[..septets.len()], &septets[..]);
        if unpacked.len() > septets.len() {
            prop_assert_eq!(unpacked[septets.len()], 0x0D);
        }
        let mut stripped = unpacked;
        strip_pad(&mut stripped, packed.len(), fill);
        if !matches!(septets.last(), Some(0x00 | 0x0D)) {
            prop_assert_eq!(stripped, septets);
        }
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), fill in any::<u8>(), opts in all_options()) {
        for e in [Encoding::Gsm7, Encoding::Ia5, Encoding::Latin1, Encoding::Ucs2, Encoding::Binary] {
            let _ = decode(&bytes, e);
        }
        let _ = decode_gsm7(&bytes, &opts);
        let mut septets = unpack_septets(&bytes, fill);
        strip_pad(&mut septets, bytes.len(), fill);
        let _ = pack_septets(&bytes, fill);
        let _ = text::decode_latin1(&bytes);
    }

    #[test]
    fn counting_matches_encoding(s in any::<String>()) {
        for e in [Encoding::Gsm7, Encoding::Ia5, Encoding::Latin1, Encoding::Ucs2, Encoding::Binary] {
            match (count(&s, e), encode(&s, e)) {
                (Ok(n), Ok(bytes)) => {
                    let octets = if e == Encoding::Ucs2 { 2 * n } else { n };
                    prop_assert_eq!(octets, bytes.len());
                }
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert!(false, "count {:?} vs encode {:?}", a, b),
            }
        }
    }
}
