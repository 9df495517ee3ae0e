//! Octet-level building blocks shared by the body parsers and writers: nom parsers for the
//! SMPP 3.4 §3.1 field types and the matching writers.
//!
//! Owns how a field is read (with the field's name in any error) and written. Crate-private.

use crate::error::BodyError;
use crate::octets::COctetString;
use bytes::Bytes;
use nom::Parser;

pub(crate) type PResult<'a, T> = nom::IResult<&'a [u8], T, BodyError>;

/// Where the octet-string fields of a decoded PDU get their storage: a copy of the input, or a
/// shared slice of a `Bytes` buffer (no copy).
pub(crate) trait Source {
    fn bytes(&self, sub: &[u8]) -> Bytes;
}

/// Copies octet strings out of a borrowed buffer.
pub(crate) struct Copied;

impl Source for Copied {
    fn bytes(&self, sub: &[u8]) -> Bytes {
        Bytes::copy_from_slice(sub)
    }
}

/// Shares the buffer the PDU was read into.
pub(crate) struct Shared<'b>(pub(crate) &'b Bytes);

impl Source for Shared<'_> {
    fn bytes(&self, sub: &[u8]) -> Bytes {
        if sub.is_empty() {
            Bytes::new()
        } else {
            self.0.slice_ref(sub)
        }
    }
}

fn truncated(field: &'static str) -> nom::Err<BodyError> {
    nom::Err::Error(BodyError::Truncated { field })
}

/// An `Integer` of one octet.
pub(crate) fn u8_field<'a>(
    field: &'static str,
) -> impl Parser<&'a [u8], Output = u8, Error = BodyError> {
    // A direct split rather than `nom::number::be_u8`, whose generic `Input` plumbing does not
    // inline here and costs a call per field.
    move |i: &'a [u8]| match i.split_first() {
        Some((&v, rest)) => Ok((rest, v)),
        None => Err(truncated(field)),
    }
}

/// An `Integer` of four octets, big-endian.
pub(crate) fn u32_field<'a>(
    field: &'static str,
) -> impl Parser<&'a [u8], Output = u32, Error = BodyError> {
    move |i: &'a [u8]| match i.split_first_chunk::<4>() {
        Some((v, rest)) => Ok((rest, u32::from_be_bytes(*v))),
        None => Err(truncated(field)),
    }
}

/// A C-Octet String of at most `N` octets plus its NUL.
pub(crate) fn c_octet<'a, const N: usize>(
    field: &'static str,
) -> impl Parser<&'a [u8], Output = COctetString<N>, Error = BodyError> {
    move |i: &'a [u8]| {
        let window = &i[..i.len().min(N + 1)];
        // Fields are short (at most 64 octets): a plain scan beats a vectorised search here.
        match window.iter().position(|&b| b == 0) {
            Some(end) => {
                let value = match i.first_chunk::<N>() {
                    Some(chunk) => COctetString::from_window(chunk, end),
                    None => COctetString::from_checked(&i[..end]),
                };
                Ok((&i[end + 1..], value))
            }
            None if i.len() > N => Err(nom::Err::Error(BodyError::StringTooLong {
                field,
                max: N + 1,
            })),
            None => Err(truncated(field)),
        }
    }
}

/// `sm_length` followed by that many octets of `short_message`.
pub(crate) fn short_message<'a, S: Source>(
    src: &S,
) -> impl Parser<&'a [u8], Output = Bytes, Error = BodyError> {
    move |i: &'a [u8]| {
        let (i, sm_length) = u8_field("sm_length").parse(i)?;
        let len = usize::from(sm_length);
        if i.len() < len {
            return Err(nom::Err::Error(BodyError::ShortMessageOverrun {
                sm_length,
                remaining: i.len(),
            }));
        }
        Ok((&i[len..], src.bytes(&i[..len])))
    }
}

/// Rejects anything left over in a body that takes no optional parameters.
pub(crate) fn end_of_body(rest: &[u8]) -> Result<(), BodyError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(BodyError::TrailingBytes(rest.len()))
    }
}

/// The octets of one PDU being written: a slice sized exactly by `encoded_len`, filled front
/// to back. Writing past the end cannot happen when `encoded_len` and `write` agree (checked by
/// `encode`'s debug assertion and the round-trip tests); if they ever disagreed the excess
/// would be dropped, never a panic or a buffer overrun.
pub(crate) struct Out<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Out<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Octets written so far.
    pub(crate) fn written(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn slice(&mut self, src: &[u8]) {
        let end = self.pos + src.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(src);
        }
        self.pos = end;
    }

    #[inline]
    pub(crate) fn u8(&mut self, v: u8) {
        if let Some(dst) = self.buf.get_mut(self.pos) {
            *dst = v;
        }
        self.pos += 1;
    }

    #[inline]
    pub(crate) fn u16(&mut self, v: u16) {
        self.slice(&v.to_be_bytes());
    }

    #[inline]
    pub(crate) fn u32(&mut self, v: u32) {
        self.slice(&v.to_be_bytes());
    }

    /// A C-Octet String and its NUL.
    #[inline]
    pub(crate) fn c_octet<const N: usize>(&mut self, s: &COctetString<N>) {
        // Where the rest of the PDU has room, copy the whole inline buffer (a fixed-size copy
        // the compiler inlines; the octet after a string shorter than N is its NUL) and step
        // over the string and NUL only: the fields after it overwrite the rest.
        let len = s.len();
        if len < N {
            if let Some(dst) = self.buf.get_mut(self.pos..self.pos + N) {
                dst.copy_from_slice(s.inline_buffer());
                self.pos += len + 1;
                return;
            }
        }
        self.slice(s.as_bytes());
        self.u8(0);
    }

    /// `sm_length` and `short_message`; the length was checked to be at most 254.
    #[inline]
    pub(crate) fn short_message(&mut self, sm: &Bytes) {
        self.u8(sm.len() as u8);
        self.slice(sm);
    }
}

/// Largest `short_message` SMPP 3.4 allows (§5.2.21).
pub(crate) const MAX_SHORT_MESSAGE: usize = 254;

/// Checks `short_message` fits `sm_length`.
pub(crate) fn check_short_message(sm: &Bytes) -> Result<(), crate::error::EncodeError> {
    if sm.len() > MAX_SHORT_MESSAGE {
        Err(crate::error::EncodeError::ShortMessageTooLong(sm.len()))
    } else {
        Ok(())
    }
}
