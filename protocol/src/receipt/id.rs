//! Message-id normalisation: matching a receipt's id to the `message_id` of a `submit_sm_resp`.
//!
//! Owns: `IdFormat`, the canonical `NormalizedId`, and the candidate keys a receipt is looked up
//! under. Must not touch: storage, the index itself, PDUs. Called by Kori's receipt matcher
//! (`kori::dlr`), which indexes each submit under `normalize(submit_id, fmt)` and looks each
//! receipt up under `match_keys(receipt_id, fmt)`.
//!
//! Why: SMSCs do not always repeat the id as they gave it. Seen in the wild: hex in
//! `submit_sm_resp` ("33E95179") and zero-padded decimal in the receipt ("0870928761"), lowercase
//! hex on one side, leading zeros on the other, and UUIDs. Kannel (`msg-id-type`) and Jasmin
//! (`dlr_msgid`) settle this per carrier by configuration; so do we (`IdFormat::Hex`/`Dec`), with
//! `Auto` as a careful default.
//!
//! # Matching rules
//!
//! A [`NormalizedId`] is either a number ([`NormalizedId::Num`]) or an uppercased string
//! ([`NormalizedId::Text`]). Surrounding ASCII whitespace and NULs are ignored everywhere.
//!
//! * `Dec`: an id of decimal digits is that number; anything else is text.
//! * `Hex`: an id of hex digits (either case) is that number; anything else is text.
//! * `Auto`, for one canonical key ([`normalize`]): decimal digits only → the decimal number;
//!   hex digits with at least one letter A–F → the hex number; else text.
//!
//! Leading zeros and case never matter for numbers. Text keeps its characters (uppercased);
//! only an overflowing run of hex digits (more than u128 holds) drops its leading zeros.
//!
//! With an explicit format the receipt has exactly one key, `normalize(id, fmt)`: exact. The
//! carrier's config must then name the format of each side (e.g. submits `Hex`, receipts
//! `Dec`); `Auto` on one side and `Dec` on the other misses a hex submit id without letters.
//!
//! With `Auto` on both sides, an id of decimal digits only is ambiguous: it may be the decimal
//! rendering of the number, or a hex rendering that happens to have no letters. The submit is
//! indexed under its one canonical key, and [`match_keys`] yields, in this order, up to three
//! distinct keys for the receipt id `r` (all digits):
//!
//! 1. `dec(r)`: same rendering on both sides, or a hex submit id *with* letters reported in
//!    decimal ("1A2B3C" → 1715004 ← "1715004");
//! 2. `dec(hex_string(dec(r)))` when the hex rendering of `dec(r)` has no letters: a hex submit
//!    id *without* letters reported in decimal ("123456" is indexed as 123456; the receipt
//!    "1193046" = 0x123456 gives 123456);
//! 3. `hex(r)`: a decimal submit id reported in hex without letters ("1193046" ← "123456").
//!
//! A receipt id with hex letters or other characters has one key, its canonical form. The
//! caller tries the keys in order and takes the first that finds a live submit. Keys 2 and 3
//! can find a different message than intended when a carrier's live ids span both readings
//! (small counters: "10" and "16"); the order prefers the same rendering, and a carrier known
//! to mix formats should be configured explicitly, which makes the match exact.

use core::fmt;

/// How a carrier renders message ids on one side (its `submit_sm_resp` or its receipts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IdFormat {
    /// Guess from the characters; see the module documentation for the candidate keys.
    #[default]
    Auto,
    /// Hexadecimal digits, either case, leading zeros allowed.
    Hex,
    /// Decimal digits, leading zeros allowed.
    Dec,
}

/// A message id in canonical form, for equality, hashing and ordering.
///
/// `Display` writes a number in decimal and text as stored; the two never collide, because
/// text is never a decimal number that fits in u128.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NormalizedId {
    /// The id read as a number (in the base its format names).
    Num(u128),
    /// The id as text: trimmed, ASCII-uppercased, invalid UTF-8 replaced.
    Text(String),
}

impl fmt::Display for NormalizedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Num(n) => write!(f, "{n}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

/// The canonical key of `id` read in format `fmt`. Index submits under this key.
pub fn normalize(id: &[u8], fmt: IdFormat) -> NormalizedId {
    let s = super::trim_bytes(id);
    let n = match fmt {
        IdFormat::Dec => parse_dec(s),
        IdFormat::Hex => parse_hex(s),
        IdFormat::Auto if all_dec(s) => parse_dec(s),
        IdFormat::Auto => parse_hex(s),
    };
    match n {
        Some(n) => NormalizedId::Num(n),
        None => NormalizedId::Text(text_form(s)),
    }
}

/// The keys to look a receipt id up under, best first (1 to 3 of them, all distinct).
///
/// With `Hex` or `Dec` this is exactly `normalize(id, fmt)`. With `Auto`, see the module
/// documentation. The first key is always `normalize(id, fmt)`.
pub fn match_keys(id: &[u8], fmt: IdFormat) -> MatchKeys {
    let first = normalize(id, fmt);
    let mut keys = MatchKeys {
        keys: [Some(first), None, None],
        next: 0,
    };
    let s = super::trim_bytes(id);
    if fmt == IdFormat::Auto && all_dec(s) {
        if let Some(n) = parse_dec(s) {
            keys.push(hex_rendering_as_dec(n).map(NormalizedId::Num));
            keys.push(parse_hex(s).map(NormalizedId::Num));
        }
    }
    keys
}

/// The keys from [`match_keys`], best first.
#[derive(Debug, Clone)]
pub struct MatchKeys {
    keys: [Option<NormalizedId>; 3],
    next: usize,
}

impl MatchKeys {
    fn push(&mut self, key: Option<NormalizedId>) {
        let Some(key) = key else { return };
        if self.keys.iter().flatten().any(|k| *k == key) {
            return;
        }
        if let Some(slot) = self.keys.iter_mut().find(|k| k.is_none()) {
            *slot = Some(key);
        }
    }
}

impl Iterator for MatchKeys {
    type Item = NormalizedId;

    fn next(&mut self) -> Option<NormalizedId> {
        while self.next < self.keys.len() {
            let i = self.next;
            self.next += 1;
            if let Some(k) = self.keys[i].take() {
                return Some(k);
            }
        }
        None
    }
}

fn all_dec(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

fn parse_dec(s: &[u8]) -> Option<u128> {
    if !all_dec(s) {
        return None;
    }
    s.iter().try_fold(0u128, |acc, &b| {
        acc.checked_mul(10)?.checked_add(u128::from(b - b'0'))
    })
}

fn parse_hex(s: &[u8]) -> Option<u128> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u128, |acc, &b| {
        let d = char::from(b).to_digit(16)?;
        acc.checked_mul(16)?.checked_add(u128::from(d))
    })
}

/// `n` written in hex and that digit string read in decimal, if it has no letters:
/// 0x123456 → 123456. At most 32 digits, so it always fits.
fn hex_rendering_as_dec(n: u128) -> Option<u128> {
    let mut acc: u128 = 0;
    for shift in (0..32).rev() {
        // The mask keeps the value below 16, so the cast loses nothing.
        let nibble = ((n >> (shift * 4)) & 0xF) as u8;
        if nibble > 9 {
            return None;
        }
        acc = acc.checked_mul(10)?.checked_add(u128::from(nibble))?;
    }
    Some(acc)
}

fn text_form(s: &[u8]) -> String {
    let mut s = s;
    if s.iter().all(u8::is_ascii_hexdigit) {
        // Too long for u128 (else it would be a number): still ignore leading zeros.
        while s.len() > 1 && s[0] == b'0' {
            s = &s[1..];
        }
    }
    let mut t = String::from_utf8_lossy(s).into_owned();
    t.make_ascii_uppercase();
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(id: &str, f: IdFormat) -> Vec<NormalizedId> {
        match_keys(id.as_bytes(), f).collect()
    }

    #[test]
    fn auto_reads_letters_as_hex_and_digits_as_decimal() {
        assert_eq!(
            normalize(b"1A2B3C", IdFormat::Auto),
            NormalizedId::Num(1_715_004)
        );
        assert_eq!(
            normalize(b"1a2b3c", IdFormat::Auto),
            NormalizedId::Num(1_715_004)
        );
        assert_eq!(
            normalize(b"0001715004", IdFormat::Auto),
            NormalizedId::Num(1_715_004)
        );
        assert_eq!(
            normalize(b" 16fd2706-8baf-433b-82eb-8c7fada847da\0", IdFormat::Auto),
            NormalizedId::Text("16FD2706-8BAF-433B-82EB-8C7FADA847DA".into())
        );
    }

    #[test]
    fn auto_keys_for_digits_cover_both_readings() {
        use NormalizedId::Num;
        // "1193046" = 0x123456; as hex, "1193046" = 0x1193046 = 18428998.
        assert_eq!(
            keys("1193046", IdFormat::Auto),
            [Num(1_193_046), Num(123_456), Num(0x0119_3046)]
        );
        // 1715004 = 0x1A2B3C has letters: no second key.
        assert_eq!(
            keys("1715004", IdFormat::Auto),
            [Num(1_715_004), Num(0x0171_5004)]
        );
        assert_eq!(keys("7", IdFormat::Auto), [Num(7)]);
        assert_eq!(keys("1A2B3C", IdFormat::Auto), [Num(1_715_004)]);
        assert_eq!(keys("1715004", IdFormat::Dec), [Num(1_715_004)]);
    }

    #[test]
    fn explicit_formats() {
        assert_eq!(
            normalize(b"0870928761", IdFormat::Dec),
            NormalizedId::Num(870_928_761)
        );
        assert_eq!(
            normalize(b"33e95179", IdFormat::Hex),
            NormalizedId::Num(0x33E9_5179)
        );
        assert_eq!(
            normalize(b"1A", IdFormat::Dec),
            NormalizedId::Text("1A".into())
        );
        assert_eq!(
            normalize(b"MSG-1", IdFormat::Hex),
            NormalizedId::Text("MSG-1".into())
        );
    }

    #[test]
    fn overflow_and_empty_are_text() {
        let big = "1".repeat(45);
        assert_eq!(
            normalize(big.as_bytes(), IdFormat::Dec),
            NormalizedId::Text(big.clone())
        );
        let padded = format!("000{big}");
        assert_eq!(
            normalize(padded.as_bytes(), IdFormat::Auto),
            NormalizedId::Text(big)
        );
        assert_eq!(
            normalize(b" \0", IdFormat::Auto),
            NormalizedId::Text(String::new())
        );
        assert_eq!(keys("", IdFormat::Auto).len(), 1);
    }
}
