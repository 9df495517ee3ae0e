//! GSM 7-bit default alphabet and national language shift tables (3GPP TS 23.038 §6.2.1,
//! §6.2.1.1, §6.2.1.2 and Annex A), as unpacked septets: one septet per octet, the form SMPP
//! carries with data_coding 0.
//!
//! Owns: character <-> septet mapping, escape handling, septet counting. Must not touch: bit
//! packing (`text::packing`), UDH building (`segment`). Called by `text` and `segment`.

use super::Encoding;
use super::TextError;
use super::tables::{
    DEFAULT_BASE, DEFAULT_BASE_ASCII, DEFAULT_EXT, ESC, ESC_SEPTET, NO_SEPTET, PORTUGUESE_BASE,
    PORTUGUESE_BASE_ASCII, PORTUGUESE_EXT, SPANISH_EXT, TURKISH_BASE, TURKISH_BASE_ASCII,
    TURKISH_EXT,
};

/// A national language with tables in 3GPP TS 23.038 Annex A that Kori supports.
///
/// The numeric id (see [`NationalLanguage::id`]) is the National Language Identifier of
/// TS 23.038 §6.2.1.2.4, carried in the UDH information elements 0x24 (single shift) and 0x25
/// (locking shift) of TS 23.040 §9.2.3.24.15 and §9.2.3.24.16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NationalLanguage {
    /// Turkish (id 1): single shift table A.2.1 and locking shift table A.3.1.
    Turkish,
    /// Spanish (id 2): single shift table A.2.2 only; TS 23.038 defines no Spanish locking shift.
    Spanish,
    /// Portuguese (id 3): single shift table A.2.3 and locking shift table A.3.3.
    Portuguese,
}

impl NationalLanguage {
    /// National Language Identifier (TS 23.038 §6.2.1.2.4): Turkish 1, Spanish 2, Portuguese 3.
    pub const fn id(self) -> u8 {
        match self {
            Self::Turkish => 1,
            Self::Spanish => 2,
            Self::Portuguese => 3,
        }
    }

    /// The language for a National Language Identifier; `None` for the ids Kori has no tables
    /// for (0 and 4..=13, the Indian languages) and for reserved values.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Self::Turkish),
            2 => Some(Self::Spanish),
            3 => Some(Self::Portuguese),
            _ => None,
        }
    }

    /// Whether TS 23.038 defines a locking shift table for this language (all but Spanish).
    pub const fn has_locking_shift(self) -> bool {
        !matches!(self, Self::Spanish)
    }
}

impl core::fmt::Display for NationalLanguage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Turkish => "Turkish",
            Self::Spanish => "Spanish",
            Self::Portuguese => "Portuguese",
        })
    }
}

/// Which GSM 7-bit tables to use. The default (`None`, `None`) is the plain default alphabet
/// with its extension table, which every handset understands.
///
/// A national single shift table replaces the default extension table (reached through 0x1B);
/// a national locking shift table replaces the default alphabet itself. When either is set the
/// message needs a UDH carrying IE 0x24 and/or 0x25 (3 octets each), which `segment` adds and
/// which lowers the capacity of every segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Gsm7Options {
    /// National single shift table (UDH IE 0x24), replacing the default extension table.
    pub single_shift: Option<NationalLanguage>,
    /// National locking shift table (UDH IE 0x25), replacing the default alphabet.
    pub locking_shift: Option<NationalLanguage>,
}

impl Gsm7Options {
    /// Octets of UDH information elements these options need (3 per shift table, 0 if none),
    /// not counting the UDH length octet.
    pub const fn udh_ies_len(&self) -> usize {
        let mut n = 0;
        if self.single_shift.is_some() {
            n += 3;
        }
        if self.locking_shift.is_some() {
            n += 3;
        }
        n
    }

    /// Checks that the tables exist: a Spanish locking shift is refused with
    /// [`TextError::NoLockingShiftTable`].
    pub fn validate(&self) -> Result<(), TextError> {
        match self.locking_shift {
            Some(language) if !language.has_locking_shift() => {
                Err(TextError::NoLockingShiftTable { language })
            }
            _ => Ok(()),
        }
    }
}

/// The pair of tables in force: a base table (default alphabet or a locking shift table) and an
/// extension table (default extension or a single shift table).
#[derive(Clone, Copy)]
pub(crate) struct Tables {
    base: &'static [char; 128],
    base_ascii: &'static [u8; 128],
    ext: &'static [(u8, char)],
}

impl Tables {
    /// Tables for encoding: refuses a locking shift table TS 23.038 does not define.
    pub(crate) fn for_encoding(opts: &Gsm7Options) -> Result<Self, TextError> {
        opts.validate()?;
        Ok(Self::lenient(opts))
    }

    /// Tables for decoding: a language without the requested table falls back to the default
    /// table, as TS 23.038 §6.2.1.2.4 has a receiver do for tables it does not support.
    pub(crate) fn lenient(opts: &Gsm7Options) -> Self {
        let (base, base_ascii): (&'static [char; 128], &'static [u8; 128]) =
            match opts.locking_shift {
                Some(NationalLanguage::Turkish) => (&TURKISH_BASE, &TURKISH_BASE_ASCII),
                Some(NationalLanguage::Portuguese) => (&PORTUGUESE_BASE, &PORTUGUESE_BASE_ASCII),
                Some(NationalLanguage::Spanish) | None => (&DEFAULT_BASE, &DEFAULT_BASE_ASCII),
            };
        let ext: &'static [(u8, char)] = match opts.single_shift {
            Some(NationalLanguage::Turkish) => &TURKISH_EXT,
            Some(NationalLanguage::Spanish) => &SPANISH_EXT,
            Some(NationalLanguage::Portuguese) => &PORTUGUESE_EXT,
            None => &DEFAULT_EXT,
        };
        Self {
            base,
            base_ascii,
            ext,
        }
    }

    /// The default alphabet with the default extension table.
    pub(crate) fn default_tables() -> Self {
        Self::lenient(&Gsm7Options::default())
    }

    /// Septets for one character: `Some(([s], 1))` from the base table, `Some(([0x1B, s], 2))`
    /// from the extension table (the base table wins when both hold it), `None` if neither.
    #[inline]
    pub(crate) fn lookup(&self, ch: char) -> Option<([u8; 2], usize)> {
        let code = ch as u32;
        if code < 128 {
            let s = self.base_ascii[code as usize];
            if s != NO_SEPTET {
                return Some(([s, 0], 1));
            }
        } else if ch != ESC {
            if let Some(pos) = self.base.iter().position(|&c| c == ch) {
                // `pos < 128` because the table has 128 entries.
                return Some(([pos as u8, 0], 1));
            }
        }
        if ch == ESC {
            return None;
        }
        self.ext
            .iter()
            .find(|&&(_, c)| c == ch)
            .map(|&(s, _)| ([ESC_SEPTET, s], 2))
    }

    /// Septets one character costs (1 or 2), `None` if it is not representable.
    #[inline]
    pub(crate) fn septets(&self, ch: char) -> Option<usize> {
        self.lookup(ch).map(|(_, n)| n)
    }

    /// Character for a septet of the base table (`s` is masked to 7 bits).
    #[inline]
    fn base_char(&self, s: u8) -> char {
        self.base[usize::from(s & 0x7F)]
    }

    /// Character for the septet following an escape.
    fn ext_char(&self, s: u8) -> char {
        if s == ESC_SEPTET {
            // TS 23.038 §6.2.1.1: 0x1B 0x1B is reserved for an escape to a further extension
            // table; "a receiving entity shall display a space until another extension table
            // is defined".
            return ' ';
        }
        match self.ext.iter().find(|&&(code, _)| code == s) {
            Some(&(_, c)) => c,
            // TS 23.038 §6.2.1.1 note: for a code not in the extension table the receiver
            // displays the character of the base table at that code.
            None => self.base_char(s),
        }
    }

    /// Decodes unpacked septets, appending to `out`.
    ///
    /// Octets above 0x7F are an error ([`TextError::InvalidSeptet`]). A lone 0x1B at the very
    /// end (an escape with nothing to escape) is dropped: it carries no character.
    pub(crate) fn decode_into(&self, septets: &[u8], out: &mut String) -> Result<(), TextError> {
        let mut i = 0;
        while i < septets.len() {
            let s = septets[i];
            if s > 0x7F {
                return Err(TextError::InvalidSeptet { byte: s, index: i });
            }
            if s == ESC_SEPTET {
                match septets.get(i + 1) {
                    Some(&n) if n > 0x7F => {
                        return Err(TextError::InvalidSeptet {
                            byte: n,
                            index: i + 1,
                        });
                    }
                    Some(&n) => out.push(self.ext_char(n)),
                    None => {}
                }
                i += 2;
            } else {
                out.push(self.base_char(s));
                i += 1;
            }
        }
        Ok(())
    }

    /// Encodes `text` as unpacked septets appended to `out`.
    pub(crate) fn encode_into(&self, text: &str, out: &mut Vec<u8>) -> Result<(), TextError> {
        for (index, ch) in text.char_indices() {
            let (septets, n) = self.lookup(ch).ok_or(TextError::UnrepresentableChar {
                ch,
                index,
                encoding: Encoding::Gsm7,
            })?;
            out.extend_from_slice(&septets[..n]);
        }
        Ok(())
    }

    /// Number of septets `text` needs, without allocating.
    pub(crate) fn count(&self, text: &str) -> Result<usize, TextError> {
        let mut n = 0;
        for (index, ch) in text.char_indices() {
            n += self.septets(ch).ok_or(TextError::UnrepresentableChar {
                ch,
                index,
                encoding: Encoding::Gsm7,
            })?;
        }
        Ok(n)
    }
}

/// Whether `ch` is in the GSM 7-bit default alphabet or its extension table.
pub fn is_gsm7(ch: char) -> bool {
    Tables::default_tables().lookup(ch).is_some()
}

/// Septets one character costs with the given tables: 1 (base table), 2 (escape + extension
/// table), or `None` when the tables cannot represent it.
pub fn gsm7_char_septets(ch: char, opts: &Gsm7Options) -> Option<usize> {
    Tables::lenient(opts).septets(ch)
}

/// Encodes text as unpacked GSM 7-bit septets (one per octet) with the given tables.
///
/// Errors: [`TextError::UnrepresentableChar`] with the character and its byte index in `text`;
/// [`TextError::NoLockingShiftTable`] for a Spanish locking shift.
pub fn encode_gsm7(text: &str, opts: &Gsm7Options) -> Result<Vec<u8>, TextError> {
    let tables = Tables::for_encoding(opts)?;
    let mut out = Vec::with_capacity(text.len());
    tables.encode_into(text, &mut out)?;
    Ok(out)
}

/// Decodes unpacked GSM 7-bit septets (one per octet) with the given tables.
///
/// Replacements, per TS 23.038: 0x1B followed by a code missing from the extension table gives
/// the base table's character for that code; 0x1B 0x1B gives a space; a lone 0x1B at the end
/// is dropped. A locking shift the tables lack (Spanish) falls back to the default alphabet.
/// Errors: [`TextError::InvalidSeptet`] for an octet above 0x7F.
pub fn decode_gsm7(septets: &[u8], opts: &Gsm7Options) -> Result<String, TextError> {
    let mut out = String::with_capacity(septets.len());
    Tables::lenient(opts).decode_into(septets, &mut out)?;
    Ok(out)
}

/// Number of septets `text` needs with the given tables (escaped characters count 2), without
/// allocating.
pub fn count_gsm7(text: &str, opts: &Gsm7Options) -> Result<usize, TextError> {
    Tables::for_encoding(opts)?.count(text)
}
