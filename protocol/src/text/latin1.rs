//! The 8-bit text alphabets of SMPP 3.4 §5.2.19: Latin-1 (ISO-8859-1, data_coding 0x03) and IA5
//! (ITU-T T.50, i.e. 7-bit ASCII, data_coding 0x01), one octet per character.
//!
//! Owns: their encoding, decoding and validation. Must not touch: GSM tables. Called by `text`.

use super::{Encoding, TextError};

/// Highest code point of each alphabet.
fn max_code(encoding: Encoding) -> u32 {
    if encoding == Encoding::Ia5 {
        0x7F
    } else {
        0xFF
    }
}

/// Appends the one-octet form of `text` to `out`; `encoding` is [`Encoding::Latin1`] or
/// [`Encoding::Ia5`].
pub(crate) fn encode_octets_into(
    text: &str,
    encoding: Encoding,
    out: &mut Vec<u8>,
) -> Result<(), TextError> {
    let max = max_code(encoding);
    for (index, ch) in text.char_indices() {
        let code = ch as u32;
        if code > max {
            return Err(TextError::UnrepresentableChar {
                ch,
                index,
                encoding,
            });
        }
        // `code <= 0xFF` here.
        out.push(code as u8);
    }
    Ok(())
}

/// Encodes text as ISO-8859-1; a character above U+00FF is
/// [`TextError::UnrepresentableChar`].
pub fn encode_latin1(text: &str) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::with_capacity(text.len());
    encode_octets_into(text, Encoding::Latin1, &mut out)?;
    Ok(out)
}

/// Decodes ISO-8859-1: every octet is the code point of the same value, so this cannot fail.
pub fn decode_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Encodes text as IA5 (ASCII); a character above U+007F is
/// [`TextError::UnrepresentableChar`].
pub fn encode_ia5(text: &str) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::with_capacity(text.len());
    encode_octets_into(text, Encoding::Ia5, &mut out)?;
    Ok(out)
}

/// Decodes IA5 (ASCII); an octet above 0x7F is [`TextError::NonAsciiOctet`].
pub fn decode_ia5(bytes: &[u8]) -> Result<String, TextError> {
    match bytes.iter().position(|&b| b > 0x7F) {
        Some(index) => Err(TextError::NonAsciiOctet {
            byte: bytes[index],
            index,
        }),
        None => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}
