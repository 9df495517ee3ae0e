//! The text delivery receipt of SMPP 3.4 Appendix B, read leniently and written canonically.
//!
//! Owns: `TextReceipt`, its field types (`ReceiptDate`, `ErrCode`) and the byte scanner that
//! reads `id:... sub:... dlvrd:... submit date:... done date:... stat:... err:... text:...`.
//! Must not touch: TLVs, PDUs, id normalisation (`receipt::id`), the choice between text and
//! TLV fields (`receipt::receipt_from_parts`). Called by `receipt_from_parts`, by Kori's receipt
//! matcher, and by the simulator (which writes receipts with `Display`).
//!
//! The scanner makes one pass over the colons (memchr) and allocates only the fields it keeps,
//! so a receipt costs well under a microsecond; it never panics and never fails on a field, only
//! on text that has neither `id:` nor `stat:`.

use core::fmt;

use super::ReceiptError;
use super::state::Stat;

/// A text receipt as read from `short_message` (or the `message_payload` TLV).
///
/// Absent or empty fields are `None`. A known field whose value does not parse (a date of the
/// wrong length, `sub:abc`) is `None` and its key and value go to `invalid`; vendor fields
/// (`dlr:`, `nck:`, `ref:`, ...) and repeats of a known key go to `extra`, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextReceipt {
    /// `id:`, the message id the SMSC gave the message (compare with [`super::match_keys`]).
    pub id: Option<String>,
    /// `sub:`, number of messages originally submitted.
    pub sub: Option<u32>,
    /// `dlvrd:`, number of messages delivered.
    pub dlvrd: Option<u32>,
    /// `submit date:`, when the message was submitted.
    pub submit_date: Option<ReceiptDate>,
    /// `done date:`, when the message reached the state in `stat`.
    pub done_date: Option<ReceiptDate>,
    /// `stat:`, the state word and the state it names.
    pub stat: Option<Stat>,
    /// `err:`, the network- or SMSC-specific error code.
    pub err: Option<ErrCode>,
    /// `text:`, usually the first 20 characters of the message; everything after `text:`, so
    /// `Some("")` when the key is present with nothing after it.
    pub text: Option<String>,
    /// Fields with keys we do not know, and repeats of known keys: (key as sent, value).
    pub extra: Vec<(String, String)>,
    /// Known fields whose values did not parse: (key as sent, value).
    pub invalid: Vec<(String, String)>,
}

/// A receipt date, `YYMMDDhhmm[ss]` (Appendix B) or `YYYYMMDDhhmmss`, with every part in range.
///
/// A two-digit year is read as 20YY; receipts predating 2000 are not a concern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReceiptDate {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: Option<u8>,
}

impl ReceiptDate {
    /// A date if every part is in range (month 1..=12, day within the month of that year,
    /// hour 0..=23, minute and second 0..=59, year 0..=9999), else `None`.
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: Option<u8>,
    ) -> Option<Self> {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        let ok = year <= 9999
            && (1..=days).contains(&day)
            && hour < 24
            && minute < 60
            && second.is_none_or(|s| s < 60);
        ok.then_some(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// Reads `YYMMDDhhmm`, `YYMMDDhhmmss` or `YYYYMMDDhhmmss`. Separators `- / : . T` and spaces
    /// between digits are ignored (`2019-12-25 12:34:00`); a 12-digit value that is not a valid
    /// `YYMMDDhhmmss` is tried as `YYYYMMDDhhmm`.
    pub fn parse(value: &[u8]) -> Option<Self> {
        let mut d = [0u8; 14];
        let mut n = 0;
        for &b in value {
            match b {
                b'0'..=b'9' => {
                    *d.get_mut(n)? = b - b'0';
                    n += 1;
                }
                b'-' | b'/' | b':' | b'.' | b'T' | b' ' => {}
                _ => return None,
            }
        }
        let two = |i: usize| d[i] * 10 + d[i + 1];
        let yy = |i: usize| 2000 + u16::from(two(i));
        let yyyy = |i: usize| u16::from(two(i)) * 100 + u16::from(two(i + 2));
        match n {
            10 => Self::new(yy(0), two(2), two(4), two(6), two(8), None),
            12 => Self::new(yy(0), two(2), two(4), two(6), two(8), Some(two(10)))
                .or_else(|| Self::new(yyyy(0), two(4), two(6), two(8), two(10), None)),
            14 => Self::new(yyyy(0), two(4), two(6), two(8), two(10), Some(two(12))),
            _ => None,
        }
    }

    /// Full year, e.g. 2019.
    pub fn year(&self) -> u16 {
        self.year
    }
    /// Month, 1..=12.
    pub fn month(&self) -> u8 {
        self.month
    }
    /// Day of the month, 1..=31.
    pub fn day(&self) -> u8 {
        self.day
    }
    /// Hour, 0..=23.
    pub fn hour(&self) -> u8 {
        self.hour
    }
    /// Minute, 0..=59.
    pub fn minute(&self) -> u8 {
        self.minute
    }
    /// Second, 0..=59, when the receipt gave one.
    pub fn second(&self) -> Option<u8> {
        self.second
    }
}

impl fmt::Display for ReceiptDate {
    /// `YYMMDDhhmm[ss]` for 2000..=2099, else `YYYYMMDDhhmmss` (seconds 00 if unknown).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rest = |f: &mut fmt::Formatter<'_>| {
            write!(
                f,
                "{:02}{:02}{:02}{:02}",
                self.month, self.day, self.hour, self.minute
            )
        };
        if (2000..=2099).contains(&self.year) {
            write!(f, "{:02}", self.year - 2000)?;
            rest(f)?;
            if let Some(s) = self.second {
                write!(f, "{s:02}")?;
            }
            Ok(())
        } else {
            write!(f, "{:04}", self.year)?;
            rest(f)?;
            write!(f, "{:02}", self.second.unwrap_or(0))
        }
    }
}

/// An `err:` value: as sent, and as a number when it is decimal digits.
///
/// Usually three digits (`000`, `001`), but carriers also send `0`, hex (`0x1F`) or vendor codes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ErrCode {
    raw: String,
    value: Option<u32>,
}

impl ErrCode {
    /// Wraps an `err:` value, reading it as a decimal number when it is one.
    pub fn new(raw: impl Into<String>) -> Self {
        let raw = raw.into();
        let value = parse_u32(raw.as_bytes());
        Self { raw, value }
    }

    /// The value as sent.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The value as a decimal number, if it is one that fits in u32.
    pub fn value(&self) -> Option<u32> {
        self.value
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    Sub,
    Dlvrd,
    SubmitDate,
    DoneDate,
    Stat,
    Err,
    Text,
}

/// Longest key we accept, in bytes; longer words before a colon are not keys.
const MAX_KEY: usize = 32;

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Known key, compared ignoring ASCII case, whitespace, `_` and `-` (`Submit Date`,
/// `submit_date`).
fn known_key(raw: &[u8]) -> Option<Key> {
    let mut buf = [0u8; 16];
    let mut n = 0;
    for &b in raw {
        if super::is_space(b) || b == b'_' || b == b'-' {
            continue;
        }
        *buf.get_mut(n)? = b.to_ascii_lowercase();
        n += 1;
    }
    Some(match &buf[..n] {
        b"id" => Key::Id,
        b"sub" => Key::Sub,
        b"dlvrd" => Key::Dlvrd,
        b"submitdate" => Key::SubmitDate,
        b"donedate" => Key::DoneDate,
        b"stat" => Key::Stat,
        b"err" => Key::Err,
        b"text" => Key::Text,
        _ => return None,
    })
}

/// If a key ends at the colon `s[colon]`, where it starts. A key is a word of letters, digits,
/// `_` and `-` starting with a letter, at the start of the input or after whitespace, optionally
/// followed by whitespace; `date` after `submit` or `done` joins them into one key. `floor` is the
/// first byte after the previous key's colon: a key never reaches back past it.
fn key_start(s: &[u8], colon: usize, floor: usize) -> Option<usize> {
    let at_boundary = |i: usize| i == 0 || super::is_space(s[i - 1]);
    let mut end = colon;
    while end > floor && super::is_space(s[end - 1]) {
        end -= 1;
    }
    let mut start = end;
    while start > floor && end - start < MAX_KEY && is_key_byte(s[start - 1]) {
        start -= 1;
    }
    if start == end || !s[start].is_ascii_alphabetic() || !at_boundary(start) {
        return None;
    }
    if s[start..end].eq_ignore_ascii_case(b"date") {
        let mut e2 = start;
        while e2 > floor && super::is_space(s[e2 - 1]) {
            e2 -= 1;
        }
        let mut s2 = e2;
        while s2 > floor && e2 - s2 < 6 && s[s2 - 1].is_ascii_alphabetic() {
            s2 -= 1;
        }
        let word = &s[s2..e2];
        if e2 < start
            && at_boundary(s2)
            && (word.eq_ignore_ascii_case(b"submit") || word.eq_ignore_ascii_case(b"done"))
        {
            return Some(s2);
        }
    }
    Some(start)
}

impl TextReceipt {
    /// Reads a text receipt from `short_message` or `message_payload` bytes.
    ///
    /// Lenient: keys in any order and any ASCII case, `_` or a space inside `submit date` /
    /// `done date`, values padded with spaces, fields missing, vendor fields kept in `extra`,
    /// trailing NULs, CR and LF ignored. `text:` swallows the rest of the input, whatever it
    /// holds. Bytes that are not UTF-8 are replaced (U+FFFD) in the values kept.
    ///
    /// # Errors
    /// [`ReceiptError::NotAReceipt`] when the input has neither an `id:` nor a `stat:` field
    /// (an ordinary message, or a TLV-only receipt whose text is empty).
    pub fn parse(input: &[u8]) -> Result<Self, ReceiptError> {
        let s = super::trim_bytes(input);
        let mut r = Self::default();
        // The key waiting for its value: (start of key, its colon).
        let mut pending: Option<(usize, usize)> = None;
        let mut floor = 0;
        for colon in memchr::memchr_iter(b':', s) {
            let Some(start) = key_start(s, colon, floor) else {
                continue;
            };
            if let Some((ks, kc)) = pending.take() {
                r.set(&s[ks..kc], &s[kc + 1..start]);
            }
            if known_key(&s[start..colon]) == Some(Key::Text) {
                r.set(&s[start..colon], &s[colon + 1..]);
                return r.checked();
            }
            pending = Some((start, colon));
            floor = colon + 1;
        }
        if let Some((ks, kc)) = pending {
            r.set(&s[ks..kc], &s[kc + 1..]);
        }
        r.checked()
    }

    /// A receipt needs an `id:` or a `stat:`; anything less is ordinary text.
    fn checked(self) -> Result<Self, ReceiptError> {
        if self.id.is_none() && self.stat.is_none() {
            return Err(ReceiptError::NotAReceipt);
        }
        Ok(self)
    }

    /// Stores one field. `key` ends at its colon (trailing spaces possible); `value` is raw.
    fn set(&mut self, key: &[u8], value: &[u8]) {
        let key = super::trim_bytes(key);
        let value = super::trim_bytes(value);
        let Some(k) = known_key(key) else {
            self.extra.push((lossy(key), lossy(value)));
            return;
        };
        if value.is_empty() && k != Key::Text {
            // `done date:` with nothing after it: absent, not invalid.
            return;
        }
        let taken = match k {
            Key::Id => self.id.is_some(),
            Key::Sub => self.sub.is_some(),
            Key::Dlvrd => self.dlvrd.is_some(),
            Key::SubmitDate => self.submit_date.is_some(),
            Key::DoneDate => self.done_date.is_some(),
            Key::Stat => self.stat.is_some(),
            Key::Err => self.err.is_some(),
            Key::Text => self.text.is_some(),
        };
        if taken {
            self.extra.push((lossy(key), lossy(value)));
            return;
        }
        let ok = match k {
            Key::Id => {
                self.id = Some(lossy(value));
                true
            }
            Key::Sub => {
                self.sub = parse_u32(value);
                self.sub.is_some()
            }
            Key::Dlvrd => {
                self.dlvrd = parse_u32(value);
                self.dlvrd.is_some()
            }
            Key::SubmitDate => {
                self.submit_date = ReceiptDate::parse(value);
                self.submit_date.is_some()
            }
            Key::DoneDate => {
                self.done_date = ReceiptDate::parse(value);
                self.done_date.is_some()
            }
            Key::Stat => {
                self.stat = Some(Stat::new(lossy(value)));
                true
            }
            Key::Err => {
                self.err = Some(ErrCode::new(lossy(value)));
                true
            }
            Key::Text => {
                self.text = Some(lossy(value));
                true
            }
        };
        if !ok {
            self.invalid.push((lossy(key), lossy(value)));
        }
    }
}

impl fmt::Display for TextReceipt {
    /// Appendix B order and spelling: `id:`, `sub:` and `dlvrd:` as three digits at least,
    /// `submit date:`, `done date:`, `stat:`, `err:`, then `extra` and `invalid` fields, then
    /// `text:`; absent fields are left out, fields separated by one space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        let mut field = |f: &mut fmt::Formatter<'_>, key: &str, v: &dyn fmt::Display| {
            let r = write!(f, "{sep}{key}:{v}");
            sep = " ";
            r
        };
        if let Some(v) = &self.id {
            field(f, "id", v)?;
        }
        if let Some(v) = self.sub {
            field(f, "sub", &format_args!("{v:03}"))?;
        }
        if let Some(v) = self.dlvrd {
            field(f, "dlvrd", &format_args!("{v:03}"))?;
        }
        if let Some(v) = &self.submit_date {
            field(f, "submit date", v)?;
        }
        if let Some(v) = &self.done_date {
            field(f, "done date", v)?;
        }
        if let Some(v) = &self.stat {
            field(f, "stat", &v.raw())?;
        }
        if let Some(v) = &self.err {
            field(f, "err", &v.raw())?;
        }
        for (k, v) in self.extra.iter().chain(&self.invalid) {
            field(f, k, v)?;
        }
        if let Some(v) = &self.text {
            field(f, "text", v)?;
        }
        Ok(())
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |acc, &b| {
        acc.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::MessageState;

    fn date(s: &str) -> Option<(u16, u8, u8, u8, u8, Option<u8>)> {
        ReceiptDate::parse(s.as_bytes()).map(|d| {
            (
                d.year(),
                d.month(),
                d.day(),
                d.hour(),
                d.minute(),
                d.second(),
            )
        })
    }

    #[test]
    fn dates_of_10_12_and_14_digits() {
        assert_eq!(date("1912251234"), Some((2019, 12, 25, 12, 34, None)));
        assert_eq!(date("191225123456"), Some((2019, 12, 25, 12, 34, Some(56))));
        assert_eq!(
            date("20191225123456"),
            Some((2019, 12, 25, 12, 34, Some(56)))
        );
        assert_eq!(
            date("2019-12-25 12:34:56"),
            Some((2019, 12, 25, 12, 34, Some(56)))
        );
        // Not YYMMDDhhmmss (month 19), so YYYYMMDDhhmm.
        assert_eq!(date("201912251234"), Some((2019, 12, 25, 12, 34, None)));
        assert_eq!(date("2402290000"), Some((2024, 2, 29, 0, 0, None)));
    }

    #[test]
    fn bad_dates_are_none() {
        for d in [
            "",
            "191225123",
            "2302290000",
            "1913251234",
            "1912321234",
            "1912252434",
            "1912251260",
            "191225123460",
            "2023010112000000",
            "19122512a4",
            "０",
        ] {
            assert_eq!(date(d), None, "{d}");
        }
    }

    #[test]
    fn date_display_parses_back() {
        for d in ["1912251234", "191225123456", "18991231235959"] {
            let p = ReceiptDate::parse(d.as_bytes()).unwrap();
            assert_eq!(p.to_string(), d);
        }
    }

    #[test]
    fn keys_split_on_whitespace_boundaries_only() {
        let r = TextReceipt::parse(b"id:ab:cd ref:http://x/y stat:DELIVRD").unwrap();
        assert_eq!(r.id.as_deref(), Some("ab:cd"));
        assert_eq!(r.extra, [("ref".to_owned(), "http://x/y".to_owned())]);
        assert_eq!(r.stat.unwrap().state(), Some(MessageState::Delivered));
    }

    #[test]
    fn empty_values_are_absent() {
        let r = TextReceipt::parse(b"id:1 done date: stat:ACCEPTD err: text:").unwrap();
        assert_eq!(r.done_date, None);
        assert_eq!(r.err, None);
        assert_eq!(r.stat.unwrap().state(), Some(MessageState::Accepted));
        assert_eq!(r.text.as_deref(), Some(""));
        assert!(r.invalid.is_empty());
    }

    #[test]
    fn not_a_receipt() {
        for t in [
            &b""[..],
            b"\0\r\n",
            b"Meet me at 10:30",
            b"Note: call me",
            b"sub:001 err:000",
        ] {
            assert!(matches!(
                TextReceipt::parse(t),
                Err(ReceiptError::NotAReceipt)
            ));
        }
    }

    #[test]
    fn errcode_keeps_raw_and_decimal_value() {
        assert_eq!(ErrCode::new("001").value(), Some(1));
        assert_eq!(ErrCode::new("0x1F").value(), None);
        assert_eq!(ErrCode::new("0x1F").raw(), "0x1F");
        assert_eq!(ErrCode::new("99999999999").value(), None);
    }
}
