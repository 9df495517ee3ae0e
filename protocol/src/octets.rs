//! SMPP 3.4 §3.1 string types: the NUL-terminated C-Octet String held inline, and the raw
//! value of a string TLV.
//!
//! Owns the bounds of every string field (each field's maximum is part of its type) so a value
//! that would not fit on the wire cannot be built. Used by the PDU bodies and the TLVs.

use bytes::Bytes;
use std::fmt;

/// A C-Octet String (SMPP 3.4 §3.1) of at most `N` octets before its terminating NUL, stored
/// inline so decoding a PDU allocates nothing for its addresses and ids.
///
/// `N` is the spec's "Var. max" minus one for the NUL: `source_addr` (max 21) is
/// `COctetString<20>`. The content never contains a NUL; when it is shorter than `N` the octet
/// after it is a NUL, so the whole buffer can be copied to the wire as is. Octets after that are
/// unspecified (the decoder copies the field's window in one fixed-size move), so equality and
/// hashing look at the content only.
#[derive(Clone, Copy)]
pub struct COctetString<const N: usize> {
    len: u8,
    buf: [u8; N],
}

/// Why a value cannot be a C-Octet String field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StringError {
    /// Longer than the field allows.
    #[error("{len} octets, the field holds at most {max}")]
    TooLong {
        /// Octets given.
        len: usize,
        /// The field's maximum, without the NUL.
        max: usize,
    },
    /// A NUL octet inside the value would end the string early on the wire.
    #[error("contains a NUL octet at {at}")]
    ContainsNul {
        /// Offset of the NUL.
        at: usize,
    },
}

impl<const N: usize> COctetString<N> {
    /// The maximum number of octets before the NUL.
    pub const MAX: usize = N;

    /// The empty string (encoded as a single NUL).
    pub const fn empty() -> Self {
        const { assert!(N < 256, "C-Octet String fields are at most 255 octets") };
        Self {
            len: 0,
            buf: [0; N],
        }
    }

    /// Builds a field value, refusing one that is too long or contains NUL.
    pub fn new(value: &[u8]) -> Result<Self, StringError> {
        if value.len() > N {
            return Err(StringError::TooLong {
                len: value.len(),
                max: N,
            });
        }
        if let Some(at) = memchr::memchr(0, value) {
            return Err(StringError::ContainsNul { at });
        }
        Ok(Self::from_checked(value))
    }

    /// `value` is at most `N` octets and has no NUL.
    pub(crate) fn from_checked(value: &[u8]) -> Self {
        let mut s = Self::empty();
        s.buf[..value.len()].copy_from_slice(value);
        s.len = value.len() as u8;
        s
    }

    /// The string of `len` octets at the start of `window`, which holds at least `N` octets and
    /// a NUL at `len`: one fixed-size copy instead of a variable one.
    pub(crate) fn from_window(window: &[u8; N], len: usize) -> Self {
        debug_assert!(len <= N && (len == N || window[len] == 0));
        Self {
            len: len as u8,
            buf: *window,
        }
    }

    /// The octets, without the NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// The value as text when it is valid UTF-8 (SMPP strings are ASCII in practice).
    pub fn to_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()).ok()
    }

    /// The value as text, invalid UTF-8 replaced.
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.as_bytes())
    }

    /// The whole inline buffer: the string, then zeros.
    pub(crate) fn inline_buffer(&self) -> &[u8; N] {
        &self.buf
    }

    /// Octets before the NUL.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Octets on the wire, NUL included.
    pub fn encoded_len(&self) -> usize {
        usize::from(self.len) + 1
    }
}

impl<const N: usize> PartialEq for COctetString<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const N: usize> Eq for COctetString<N> {}

impl<const N: usize> std::hash::Hash for COctetString<N> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl<const N: usize> Default for COctetString<N> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<const N: usize> fmt::Debug for COctetString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string_lossy())
    }
}

impl<const N: usize> fmt::Display for COctetString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl<const N: usize> TryFrom<&str> for COctetString<N> {
    type Error = StringError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value.as_bytes())
    }
}

impl<const N: usize> TryFrom<&[u8]> for COctetString<N> {
    type Error = StringError;
    fn try_from(value: &[u8]) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl<const N: usize> PartialEq<str> for COctetString<N> {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const N: usize> PartialEq<&str> for COctetString<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

/// `system_id` (§4.1.1, max 16 with NUL).
pub type SystemId = COctetString<15>;
/// `password` (§4.1.1, max 9 with NUL).
pub type Password = COctetString<8>;
/// `system_type` (§4.1.1, max 13 with NUL).
pub type SystemType = COctetString<12>;
/// `address_range` (§4.1.1, max 41 with NUL).
pub type AddressRange = COctetString<40>;
/// `service_type` (§5.2.11, max 6 with NUL).
pub type ServiceType = COctetString<5>;
/// An SME address in `submit_sm`, `deliver_sm`, `query_sm`, `cancel_sm`, `replace_sm`
/// (max 21 with NUL).
pub type Address = COctetString<20>;
/// A long address: `data_sm` and `alert_notification` addresses (max 65 with NUL).
pub type LongAddress = COctetString<64>;
/// `message_id` (§5.2.23, max 65 with NUL).
pub type MessageId = COctetString<64>;
/// `schedule_delivery_time`, `validity_period`, `final_date` (§7.1, empty or 16 characters).
pub type SmppTime = COctetString<16>;
/// `dl_name` of `submit_multi` (max 21 with NUL).
pub type DistributionListName = COctetString<20>;

/// The value of a string TLV (`receipted_message_id`, `additional_status_info_text`) exactly as
/// it came off the wire.
///
/// The spec makes these C-Octet Strings, but SMSCs in the field send `receipted_message_id` both
/// with and without the trailing NUL. The raw value is kept so a re-encode is byte-identical;
/// [`TlvString::as_bytes`] gives the text without any trailing NUL.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct TlvString(Bytes);

impl TlvString {
    /// A new value as Kori sends it: the text followed by one NUL.
    pub fn new(text: &[u8]) -> Self {
        let mut v = Vec::with_capacity(text.len() + 1);
        v.extend_from_slice(text);
        v.push(0);
        Self(Bytes::from(v))
    }

    /// Wraps a raw wire value (with or without NUL).
    pub fn from_wire(raw: Bytes) -> Self {
        Self(raw)
    }

    /// The text, without trailing NULs.
    pub fn as_bytes(&self) -> &[u8] {
        let raw = self.0.as_ref();
        let end = raw.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
        &raw[..end]
    }

    /// The value exactly as on the wire.
    pub fn raw(&self) -> &Bytes {
        &self.0
    }
}

impl fmt::Debug for TlvString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_too_long_and_nul() {
        assert_eq!(
            Address::new(&[b'1'; 21]),
            Err(StringError::TooLong { len: 21, max: 20 })
        );
        assert_eq!(
            Address::new(b"12\x003"),
            Err(StringError::ContainsNul { at: 2 })
        );
        let a = Address::new(&[b'1'; 20]).unwrap();
        assert_eq!(a.len(), 20);
        assert_eq!(a.encoded_len(), 21);
    }

    #[test]
    fn tlv_string_strips_trailing_nul_only_for_reading() {
        let with = TlvString::from_wire(Bytes::from_static(b"abc\0"));
        let without = TlvString::from_wire(Bytes::from_static(b"abc"));
        assert_eq!(with.as_bytes(), b"abc");
        assert_eq!(without.as_bytes(), b"abc");
        assert_eq!(with.raw().len(), 4);
        assert_eq!(TlvString::new(b"abc"), with);
    }
}
