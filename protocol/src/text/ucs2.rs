//! UCS-2 as every current SMSC and handset really uses it: UTF-16 big-endian, with surrogate
//! pairs for characters outside the Basic Multilingual Plane (data_coding 0x08).
//!
//! Owns: UTF-16BE encoding, decoding and counting. Must not touch: segmentation (a surrogate
//! pair is kept whole by `segment`). Called by `text`.

use super::TextError;

/// Encodes text as UTF-16BE; characters outside the BMP become surrogate pairs.
pub fn encode_ucs2(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    encode_ucs2_into(text, &mut out);
    out
}

/// Appends the UTF-16BE form of `text` to `out`.
pub(crate) fn encode_ucs2_into(text: &str, out: &mut Vec<u8>) {
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
}

/// Decodes UTF-16BE. An odd number of octets is [`TextError::OddUcs2Length`]; a lone surrogate
/// (half of a pair, as sent by senders that split pairs across segments) becomes U+FFFD.
pub fn decode_ucs2(bytes: &[u8]) -> Result<String, TextError> {
    if bytes.len() % 2 != 0 {
        return Err(TextError::OddUcs2Length { len: bytes.len() });
    }
    let units = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    Ok(char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect())
}

/// Number of UTF-16 code units in `text` (2 for a character outside the BMP), without
/// allocating.
pub fn count_ucs2(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}
