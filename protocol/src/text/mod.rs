//! Text encodings of SMPP 3.4 `data_coding` (§5.2.19) and 3GPP TS 23.038: the GSM 7-bit
//! default alphabet with its extension and national language shift tables, packed and unpacked;
//! Latin-1; IA5; UCS-2 (really UTF-16BE); and 8-bit binary.
//!
//! Owns: character tables, septet packing, `data_coding` values, the choice of encoding for a
//! text, and counting units (septets, UTF-16 code units, octets) without allocating. Must not
//! touch: PDUs, TLVs, segmentation or UDHs (that is `segment`, which builds on this module).
//! Called by `segment`, by Kori's HTTP intake (encoding choice and counts) and by its SMPP
//! sessions (decoding `deliver_sm` text).
//!
//! Binary ([`Encoding::Binary`]) is not a text alphabet; when a *text* is sent as binary Kori
//! carries its UTF-8 bytes, and decoding binary as text expects UTF-8.

mod gsm7;
mod latin1;
mod packing;
mod tables;
mod ucs2;

pub(crate) use gsm7::Tables;
pub use gsm7::{
    Gsm7Options, NationalLanguage, count_gsm7, decode_gsm7, encode_gsm7, gsm7_char_septets, is_gsm7,
};
pub use latin1::{decode_ia5, decode_latin1, encode_ia5, encode_latin1};
pub use packing::{
    fill_bits_after_udh, pack_septets, packed_len, septets_in, strip_pad, unpack_septets,
};
pub use ucs2::{count_ucs2, decode_ucs2, encode_ucs2};

use core::fmt;
use core::str::FromStr;

/// How the octets of a message body represent text, as signalled by `data_coding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// GSM 03.38 / TS 23.038 7-bit default alphabet (data_coding 0x00, "SMSC default").
    Gsm7,
    /// IA5 / ASCII (data_coding 0x01).
    Ia5,
    /// ISO-8859-1 (data_coding 0x03).
    Latin1,
    /// UCS-2, sent as UTF-16BE (data_coding 0x08).
    Ucs2,
    /// 8-bit binary (data_coding 0x04).
    Binary,
}

impl Encoding {
    /// The `data_coding` value Kori sends for this encoding.
    ///
    /// Gsm7 → 0x00: SMPP 3.4 calls 0x00 the "SMSC default alphabet"; Kori assumes (as nearly
    /// every SMSC does) that this is GSM 03.38. Ia5 → 0x01, Latin1 → 0x03, Binary → 0x04,
    /// Ucs2 → 0x08.
    pub const fn data_coding(self) -> u8 {
        match self {
            Self::Gsm7 => 0x00,
            Self::Ia5 => 0x01,
            Self::Latin1 => 0x03,
            Self::Binary => 0x04,
            Self::Ucs2 => 0x08,
        }
    }

    /// The encoding a received `data_coding` announces, or `None` for those Kori cannot decode.
    ///
    /// Mapping (SMPP 3.4 §5.2.19 for 0x00..=0x0F, TS 23.038 §4 for the coding groups above):
    /// - 0x00 → Gsm7 (SMSC default alphabet, taken as GSM 03.38), 0x01 → Ia5, 0x02 and 0x04 →
    ///   Binary, 0x03 → Latin1, 0x08 → Ucs2. 0x05..=0x07 and 0x09..=0x0F (JIS, Cyrillic,
    ///   Hebrew, pictogram, ISO-2022-JP, Kanji, KS C 5601, reserved) → None.
    /// - 0x10..=0x1F and 0x40..=0x5F (general data coding with message class, and the "marked
    ///   for automatic deletion" group), uncompressed: bits 3..2 give the alphabet, 00 Gsm7,
    ///   01 Binary (8-bit data), 10 Ucs2, 11 reserved → None. 0x18 is thus Ucs2 class 0.
    /// - 0x20..=0x3F and 0x60..=0x7F (compressed text) → None; 0x80..=0xBF (reserved) → None.
    /// - 0xC0..=0xDF (message waiting indication, discard or store) → Gsm7; 0xE0..=0xEF
    ///   (message waiting, store, UCS2) → Ucs2.
    /// - 0xF0..=0xFF (data coding / message class): bit 2 clear → Gsm7, set → Binary.
    pub const fn from_data_coding(dc: u8) -> Option<Self> {
        match dc {
            0x00 => Some(Self::Gsm7),
            0x01 => Some(Self::Ia5),
            0x02 | 0x04 => Some(Self::Binary),
            0x03 => Some(Self::Latin1),
            0x08 => Some(Self::Ucs2),
            0x05..=0x07 | 0x09..=0x0F => None,
            0x10..=0x1F | 0x40..=0x5F => match (dc >> 2) & 0x03 {
                0 => Some(Self::Gsm7),
                1 => Some(Self::Binary),
                2 => Some(Self::Ucs2),
                _ => None,
            },
            0x20..=0x3F | 0x60..=0xBF => None,
            0xC0..=0xDF => Some(Self::Gsm7),
            0xE0..=0xEF => Some(Self::Ucs2),
            0xF0..=0xFF => {
                if dc & 0x04 == 0 {
                    Some(Self::Gsm7)
                } else {
                    Some(Self::Binary)
                }
            }
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Gsm7 => "GSM 7-bit",
            Self::Ia5 => "IA5",
            Self::Latin1 => "Latin-1",
            Self::Ucs2 => "UCS-2",
            Self::Binary => "binary",
        })
    }
}

/// What a client asks for: a given alphabet, or the cheapest one that holds the text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum EncodingChoice {
    /// GSM 7-bit when every character fits (default alphabet and extension table, or the
    /// national tables given), otherwise UCS-2.
    #[default]
    Auto,
    /// GSM 7-bit; a character outside the tables is an error.
    Gsm7,
    /// Latin-1; a character above U+00FF is an error.
    Latin1,
    /// UCS-2 (UTF-16BE); always possible.
    Ucs2,
}

/// An unknown name given to [`EncodingChoice::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown encoding {0:?}; expected one of auto, gsm7, latin1, ucs2")]
pub struct ParseEncodingChoiceError(pub String);

impl FromStr for EncodingChoice {
    type Err = ParseEncodingChoiceError;

    /// Parses "auto", "gsm7", "latin1" or "ucs2" (ASCII case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "gsm7" => Ok(Self::Gsm7),
            "latin1" => Ok(Self::Latin1),
            "ucs2" => Ok(Self::Ucs2),
            _ => Err(ParseEncodingChoiceError(s.to_owned())),
        }
    }
}

impl fmt::Display for EncodingChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Gsm7 => "gsm7",
            Self::Latin1 => "latin1",
            Self::Ucs2 => "ucs2",
        })
    }
}

/// Why a text could not be encoded, decoded or segmented.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// A character the chosen encoding has no code for.
    #[error(
        "character {ch:?} (U+{code:04X}) at byte {index} cannot be encoded in {encoding}; \
         use UCS-2 or auto",
        code = *ch as u32
    )]
    UnrepresentableChar {
        /// The character.
        ch: char,
        /// Its byte offset in the text.
        index: usize,
        /// The encoding that lacks it.
        encoding: Encoding,
    },
    /// UCS-2 data with an odd number of octets.
    #[error("UCS-2 data has an odd length of {len} octets")]
    OddUcs2Length {
        /// The length in octets.
        len: usize,
    },
    /// An unpacked GSM 7-bit octet above 0x7F.
    #[error("GSM 7-bit data has octet {byte:#04x} above 0x7F at offset {index}")]
    InvalidSeptet {
        /// The octet.
        byte: u8,
        /// Its offset.
        index: usize,
    },
    /// An IA5 octet above 0x7F.
    #[error("IA5 data has octet {byte:#04x} above 0x7F at offset {index}")]
    NonAsciiOctet {
        /// The octet.
        byte: u8,
        /// Its offset.
        index: usize,
    },
    /// Binary data read as text that is not UTF-8.
    #[error("binary data is not UTF-8 (valid up to offset {valid_up_to})")]
    InvalidUtf8 {
        /// Length of the valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// A `data_coding` value Kori cannot decode.
    #[error("data_coding {0:#04x} is not a supported alphabet")]
    UnsupportedDataCoding(u8),
    /// A locking shift table TS 23.038 does not define (Spanish).
    #[error("TS 23.038 defines no {language} locking shift table; use a single shift")]
    NoLockingShiftTable {
        /// The language asked for.
        language: NationalLanguage,
    },
    /// More segments than the one-octet counters of concatenation allow.
    #[error("the message needs {needed} segments; at most 255 are possible")]
    TooManySegments {
        /// Segments the text would need.
        needed: usize,
    },
    /// A message_payload longer than its TLV can carry.
    #[error("the message is {len} octets; message_payload holds at most {max}")]
    PayloadTooLong {
        /// Octets needed.
        len: usize,
        /// The maximum.
        max: usize,
    },
}

/// Picks the encoding for `text` with the default GSM tables; see [`choose_with`].
pub fn choose(text: &str, choice: EncodingChoice) -> Result<Encoding, TextError> {
    choose_with(text, choice, &Gsm7Options::default())
}

/// Picks the encoding for `text`: `Auto` gives Gsm7 when every character fits the GSM tables
/// in `opts`, else Ucs2. An explicit Gsm7 or Latin1 choice checks that the text fits and
/// otherwise names the first character that does not.
pub fn choose_with(
    text: &str,
    choice: EncodingChoice,
    opts: &Gsm7Options,
) -> Result<Encoding, TextError> {
    match choice {
        EncodingChoice::Auto => {
            let tables = Tables::for_encoding(opts)?;
            if text.chars().all(|c| tables.septets(c).is_some()) {
                Ok(Encoding::Gsm7)
            } else {
                Ok(Encoding::Ucs2)
            }
        }
        EncodingChoice::Gsm7 => {
            Tables::for_encoding(opts)?.count(text)?;
            Ok(Encoding::Gsm7)
        }
        EncodingChoice::Latin1 => {
            count(text, Encoding::Latin1)?;
            Ok(Encoding::Latin1)
        }
        EncodingChoice::Ucs2 => Ok(Encoding::Ucs2),
    }
}

/// The GSM tables for encoding: checked when the encoding is GSM 7-bit, ignored otherwise.
pub(crate) fn tables_for(encoding: Encoding, opts: &Gsm7Options) -> Result<Tables, TextError> {
    if encoding == Encoding::Gsm7 {
        Tables::for_encoding(opts)
    } else {
        Ok(Tables::lenient(opts))
    }
}

/// Units one character costs in `encoding` (septets, UTF-16 code units or octets), `None` when
/// the encoding cannot represent it.
#[inline]
pub(crate) fn char_units(ch: char, encoding: Encoding, tables: &Tables) -> Option<usize> {
    match encoding {
        Encoding::Gsm7 => tables.septets(ch),
        Encoding::Ucs2 => Some(ch.len_utf16()),
        Encoding::Latin1 => (u32::from(ch) <= 0xFF).then_some(1),
        Encoding::Ia5 => ch.is_ascii().then_some(1),
        Encoding::Binary => Some(ch.len_utf8()),
    }
}

/// Appends the encoding of `text` to `out` (GSM 7-bit unpacked, one septet per octet).
pub(crate) fn encode_into(
    text: &str,
    encoding: Encoding,
    tables: &Tables,
    out: &mut Vec<u8>,
) -> Result<(), TextError> {
    match encoding {
        Encoding::Gsm7 => tables.encode_into(text, out),
        Encoding::Ucs2 => {
            ucs2::encode_ucs2_into(text, out);
            Ok(())
        }
        Encoding::Latin1 | Encoding::Ia5 => latin1::encode_octets_into(text, encoding, out),
        Encoding::Binary => {
            out.extend_from_slice(text.as_bytes());
            Ok(())
        }
    }
}

/// Encodes `text` (default GSM tables; GSM 7-bit unpacked, one septet per octet; Binary gives
/// the UTF-8 bytes).
pub fn encode(text: &str, encoding: Encoding) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::with_capacity(text.len() * 2);
    encode_into(text, encoding, &Tables::default_tables(), &mut out)?;
    Ok(out)
}

/// Decodes `bytes` (default GSM tables; GSM 7-bit unpacked; Binary must be UTF-8). See
/// [`decode_gsm7`] and [`decode_ucs2`] for the replacements they make.
pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<String, TextError> {
    match encoding {
        Encoding::Gsm7 => decode_gsm7(bytes, &Gsm7Options::default()),
        Encoding::Ucs2 => decode_ucs2(bytes),
        Encoding::Latin1 => Ok(decode_latin1(bytes)),
        Encoding::Ia5 => decode_ia5(bytes),
        Encoding::Binary => match core::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(TextError::InvalidUtf8 {
                valid_up_to: e.valid_up_to(),
            }),
        },
    }
}

/// Counts `text` in the units segment limits are given in, without allocating: septets for
/// GSM 7-bit (2 per extension character), UTF-16 code units for UCS-2, octets otherwise.
/// Fails on the first character the encoding cannot represent.
pub fn count(text: &str, encoding: Encoding) -> Result<usize, TextError> {
    count_with(text, encoding, &Gsm7Options::default())
}

/// [`count`] with the given GSM tables.
pub fn count_with(text: &str, encoding: Encoding, opts: &Gsm7Options) -> Result<usize, TextError> {
    let tables = tables_for(encoding, opts)?;
    let mut n = 0;
    for (index, ch) in text.char_indices() {
        n += char_units(ch, encoding, &tables).ok_or(TextError::UnrepresentableChar {
            ch,
            index,
            encoding,
        })?;
    }
    Ok(n)
}
