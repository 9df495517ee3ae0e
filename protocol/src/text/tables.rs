//! GSM 7-bit character tables of 3GPP TS 23.038: the default alphabet (§6.2.1), its extension
//! table (§6.2.1.1) and the Turkish, Spanish and Portuguese national language tables (Annex A).
//!
//! Owns: the tables as data, nothing else. Must not touch: encoding logic, options, errors.
//! Called by `text::gsm7` only.
//!
//! Sources: 3GPP TS 23.038 (V18.0.0) tables, retyped by us and checked entry by entry against
//! two independent transcriptions (the CSV look-up tables of the `ndf-zz/gsmcodecs` project and
//! the table strings of Android's `GsmAlphabet.java`).

/// Placeholder in a base table at 0x1B, the escape to the extension (single shift) table.
/// It is never produced by decoding and never matched by encoding.
pub(crate) const ESC: char = '\u{1B}';

/// Septet value of the escape to the extension table.
pub(crate) const ESC_SEPTET: u8 = 0x1B;

/// 6.2.1 GSM 7 bit default alphabet. Index = septet value.
#[rustfmt::skip]
pub(crate) static DEFAULT_BASE: [char; 128] = [
    // 0x00
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
    // 0x10
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ESC, 'Æ', 'æ', 'ß', 'É',
    // 0x20
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
    // 0x30
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
    // 0x40
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    // 0x50
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
    // 0x60
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    // 0x70
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
];

/// A.3.1 Turkish National Language Locking Shift Table.
#[rustfmt::skip]
pub(crate) static TURKISH_BASE: [char; 128] = [
    // 0x00
    '@', '£', '$', '¥', '€', 'é', 'ù', 'ı', 'ò', 'Ç', '\n', 'Ğ', 'ğ', '\r', 'Å', 'å',
    // 0x10
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ESC, 'Ş', 'ş', 'ß', 'É',
    // 0x20
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
    // 0x30
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
    // 0x40
    'İ', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    // 0x50
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
    // 0x60
    'ç', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    // 0x70
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
];

/// A.3.3 Portuguese National Language Locking Shift Table.
#[rustfmt::skip]
pub(crate) static PORTUGUESE_BASE: [char; 128] = [
    // 0x00
    '@', '£', '$', '¥', 'ê', 'é', 'ú', 'í', 'ó', 'ç', '\n', 'Ô', 'ô', '\r', 'Á', 'á',
    // 0x10
    'Δ', '_', 'ª', 'Ç', 'À', '∞', '^', '\\', '€', 'Ó', '|', ESC, 'Â', 'â', 'Ê', 'É',
    // 0x20
    ' ', '!', '"', '#', 'º', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
    // 0x30
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
    // 0x40
    'Í', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    // 0x50
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ã', 'Õ', 'Ú', 'Ü', '§',
    // 0x60
    '~', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    // 0x70
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ã', 'õ', '`', 'ü', 'à',
];

/// 6.2.1.1 GSM 7 bit default alphabet extension table: (code after 0x1B, character).
/// 0x0D (CR2) and 0x1B (escape to a further table) are control codes, handled by the decoder.
#[rustfmt::skip]
pub(crate) static DEFAULT_EXT: [(u8, char); 10] = [
    (0x0A, '\u{0C}'), // form feed
    (0x14, '^'),
    (0x28, '{'), (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['), (0x3D, '~'), (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// A.2.1 Turkish National Language Single Shift Table.
#[rustfmt::skip]
pub(crate) static TURKISH_EXT: [(u8, char); 17] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'), (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['), (0x3D, '~'), (0x3E, ']'),
    (0x40, '|'),
    (0x47, 'Ğ'), (0x49, 'İ'),
    (0x53, 'Ş'),
    (0x63, 'ç'), (0x65, '€'), (0x67, 'ğ'), (0x69, 'ı'),
    (0x73, 'ş'),
];

/// A.2.2 Spanish National Language Single Shift Table (Spanish has no locking shift table).
#[rustfmt::skip]
pub(crate) static SPANISH_EXT: [(u8, char); 19] = [
    (0x09, 'ç'), (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'), (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['), (0x3D, '~'), (0x3E, ']'),
    (0x40, '|'), (0x41, 'Á'), (0x49, 'Í'), (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x61, 'á'), (0x65, '€'), (0x69, 'í'), (0x6F, 'ó'),
    (0x75, 'ú'),
];

/// A.2.3 Portuguese National Language Single Shift Table.
#[rustfmt::skip]
pub(crate) static PORTUGUESE_EXT: [(u8, char); 37] = [
    (0x05, 'ê'), (0x09, 'ç'), (0x0A, '\u{0C}'), (0x0B, 'Ô'), (0x0C, 'ô'), (0x0E, 'Á'), (0x0F, 'á'),
    (0x12, 'Φ'), (0x13, 'Γ'), (0x14, '^'), (0x15, 'Ω'), (0x16, 'Π'), (0x17, 'Ψ'), (0x18, 'Σ'),
    (0x19, 'Θ'), (0x1F, 'Ê'),
    (0x28, '{'), (0x29, '}'), (0x2F, '\\'),
    (0x3C, '['), (0x3D, '~'), (0x3E, ']'),
    (0x40, '|'), (0x41, 'À'), (0x49, 'Í'), (0x4F, 'Ó'),
    (0x55, 'Ú'), (0x5B, 'Ã'), (0x5C, 'Õ'),
    (0x61, 'Â'), (0x65, '€'), (0x69, 'í'), (0x6F, 'ó'),
    (0x75, 'ú'), (0x7B, 'ã'), (0x7C, 'õ'), (0x7F, 'â'),
];

/// Marker for "no septet" in an ASCII reverse table.
pub(crate) const NO_SEPTET: u8 = 0xFF;

/// Builds the ASCII half of a base table's reverse map at compile time, so that the common case
/// (ASCII text) encodes with one array index instead of a scan.
const fn ascii_reverse(table: &[char; 128]) -> [u8; 128] {
    let mut rev = [NO_SEPTET; 128];
    let mut i = 128;
    while i > 0 {
        i -= 1;
        if i != ESC_SEPTET as usize {
            let c = table[i] as u32;
            if c < 128 {
                rev[c as usize] = i as u8;
            }
        }
    }
    rev
}

/// ASCII reverse map of [`DEFAULT_BASE`].
pub(crate) static DEFAULT_BASE_ASCII: [u8; 128] = ascii_reverse(&DEFAULT_BASE);
/// ASCII reverse map of [`TURKISH_BASE`].
pub(crate) static TURKISH_BASE_ASCII: [u8; 128] = ascii_reverse(&TURKISH_BASE);
/// ASCII reverse map of [`PORTUGUESE_BASE`].
pub(crate) static PORTUGUESE_BASE_ASCII: [u8; 128] = ascii_reverse(&PORTUGUESE_BASE);

#[cfg(test)]
mod tests {
    use super::*;

    const BASES: [&[char; 128]; 3] = [&DEFAULT_BASE, &TURKISH_BASE, &PORTUGUESE_BASE];
    const EXTS: [&[(u8, char)]; 4] = [&DEFAULT_EXT, &TURKISH_EXT, &SPANISH_EXT, &PORTUGUESE_EXT];

    #[test]
    fn base_tables_have_escape_at_0x1b_and_no_duplicates() {
        for table in BASES {
            assert_eq!(table[usize::from(ESC_SEPTET)], ESC);
            let mut chars: Vec<char> = table.to_vec();
            chars.sort_unstable();
            chars.dedup();
            assert_eq!(chars.len(), 128);
        }
    }

    #[test]
    fn extension_tables_are_sorted_unique_and_keep_the_default_entries() {
        for table in EXTS {
            assert!(table.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(
                table
                    .iter()
                    .all(|&(code, _)| code < 0x80 && code != ESC_SEPTET)
            );
            // Every national single shift table of Annex A.2 repeats the default extension
            // characters at the same codes.
            for entry in DEFAULT_EXT {
                assert!(table.contains(&entry), "{entry:?}");
            }
        }
    }

    #[test]
    fn ascii_reverse_maps_back() {
        for (table, rev) in [
            (&DEFAULT_BASE, &DEFAULT_BASE_ASCII),
            (&TURKISH_BASE, &TURKISH_BASE_ASCII),
            (&PORTUGUESE_BASE, &PORTUGUESE_BASE_ASCII),
        ] {
            for (c, &s) in rev.iter().enumerate() {
                if s != NO_SEPTET {
                    assert_eq!(table[usize::from(s)] as usize, c);
                }
            }
        }
    }
}
