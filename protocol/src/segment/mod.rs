//! Segmentation of long messages into `submit_sm`s and their reassembly on receipt (3GPP TS
//! 23.040 §9.2.3.24.1 and .8 concatenation UDHs; SMPP 3.4 §5.3.2.22-24 SAR TLVs; §5.3.2.32
//! message_payload).
//!
//! Owns: per-segment limits, where a text is cut, the UDH octets of each segment, and joining
//! received parts. Must not touch: PDU types or TLV encoding (a [`Segment`] is plain bytes and
//! flags the session copies into its `submit_sm`), clocks (expiry takes the caller's tick).
//! Called by Kori's outbox (split before submitting), its HTTP intake ([`count_segments`] before
//! accepting a message) and its SMPP sessions (reassembling `deliver_sm`).
//!
//! Limits, in the units of [`crate::text::count`] (septets / UTF-16 code units / octets):
//!
//! | method            | GSM 7-bit | UCS-2 | 8-bit |
//! |-------------------|-----------|-------|-------|
//! | single message    | 160       | 70    | 140   |
//! | `Udh8` (6 octets) | 153       | 67    | 134   |
//! | `Udh16` (7 octets)| 152       | 66    | 133   |
//! | `Sar`             | 153       | 67    | 134   |
//! | `Payload`         | one segment, up to 65535 octets                 |
//!
//! `Sar` parts carry no UDH and could hold 160/70/140; Kori keeps them to the `Udh8` limits so
//! that an SMSC may turn SAR TLVs into a concatenation UDH without re-splitting, as is common
//! practice. GSM 7-bit limits count septets whether or not the septets are packed: unpacked,
//! a 153-septet part is 153 octets behind a 6-octet UDH, 159 octets of short_message, which
//! SMSCs accept for data_coding 0 because they pack before sending over the air. National
//! language IEs (3 octets each) lower the GSM 7-bit limits further, e.g. 149 septets for
//! `Udh8` with a single shift. A split never separates the two septets of an escaped GSM
//! character nor the two halves of a UTF-16 surrogate pair.

mod reassembly;
mod udh;

pub use reassembly::{DecodeError, Part, Reassembled, Reassembler, decode_message};
pub use udh::{
    Concat, IEI_CONCAT_8, IEI_CONCAT_16, IEI_LOCKING_SHIFT, IEI_SINGLE_SHIFT, Udh, UdhError,
    parse_udh,
};

use crate::text::{
    Encoding, Gsm7Options, Tables, TextError, char_units, encode_into, fill_bits_after_udh,
    pack_septets, packed_len, tables_for,
};
use bytes::Bytes;
use std::ops::Range;

/// Octets of user data in one short message (TS 23.040 §9.2.3.16: 140 octets, 160 septets).
pub const USER_DATA_OCTETS: usize = 140;
/// Most segments a concatenated message can have (one-octet total and sequence number).
pub const MAX_SEGMENTS: usize = 255;
/// Most octets the message_payload TLV holds (its length is a u16).
pub const MAX_PAYLOAD_OCTETS: usize = 65535;

/// How a message longer than one short message is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SplitMethod {
    /// Concatenation UDH with an 8-bit reference (IE 0x00; 6 octets with UDHL); the default.
    #[default]
    Udh8,
    /// Concatenation UDH with a 16-bit reference (IE 0x08; 7 octets with UDHL).
    Udh16,
    /// SAR TLVs (sar_msg_ref_num 0x020C, sar_total_segments 0x020E, sar_segment_seqnum
    /// 0x020F), no concatenation UDH; parts kept to the `Udh8` limits.
    Sar,
    /// One `submit_sm` with the whole message in the message_payload TLV (up to 65535 octets).
    Payload,
}

impl SplitMethod {
    /// Octets of the concatenation IE the method costs in each part (SAR counts as `Udh8`).
    const fn concat_ie_len(self) -> usize {
        match self {
            Self::Udh8 | Self::Sar => 5,
            Self::Udh16 => 6,
            Self::Payload => 0,
        }
    }

    /// How part `seqnum` of `total` is marked: a concatenation IE (`Udh8` keeps the low 8
    /// bits of the reference) or SAR values.
    fn markers(self, reference: u16, total: u8, seqnum: u8) -> (Option<Concat>, Option<Sar>) {
        let concat = |reference, wide_reference| Concat {
            reference,
            total,
            seqnum,
            wide_reference,
        };
        match self {
            Self::Udh8 => (Some(concat(reference & 0xFF, false)), None),
            Self::Udh16 => (Some(concat(reference, true)), None),
            Self::Sar => (
                None,
                Some(Sar {
                    reference,
                    total,
                    seqnum,
                }),
            ),
            // A payload is never split.
            Self::Payload => (None, None),
        }
    }
}

/// Options for [`split`] and [`count_segments`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SplitOptions {
    /// Pack GSM 7-bit septets 8 to 7 octets (TS 23.038 §6.1.2.1, with fill bits after a UDH).
    /// Default false: one septet per octet, what most SMSCs expect with data_coding 0.
    pub gsm7_packed: bool,
    /// National language tables for GSM 7-bit; their UDH IEs are added to every segment.
    /// Ignored for other encodings.
    pub gsm7: Gsm7Options,
}

/// SAR TLV values for one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sar {
    /// sar_msg_ref_num.
    pub reference: u16,
    /// sar_total_segments.
    pub total: u8,
    /// sar_segment_seqnum, 1-based.
    pub seqnum: u8,
}

/// One `submit_sm` worth of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The octets to send: UDH (when `udhi`) followed by the encoded text. They are the
    /// submit_sm short_message field, or, when `payload` is set, the message_payload TLV value
    /// (short_message then stays empty, sm_length 0).
    pub short_message: Bytes,
    /// Whether the octets start with a UDH: the caller sets esm_class bit 0x40.
    pub udhi: bool,
    /// SAR TLVs to add, for [`SplitMethod::Sar`] messages of more than one part.
    pub sar: Option<Sar>,
    /// Whether `short_message` belongs in the message_payload TLV ([`SplitMethod::Payload`]).
    pub payload: bool,
    /// The data_coding to send.
    pub data_coding: u8,
    /// Where this part's characters are in the text given to [`split`] (byte offsets; empty
    /// for [`split_binary`]): `&text[seg.text.clone()]`, see [`Segment::text_of`].
    pub text: Range<usize>,
    /// This part's size in septets, UTF-16 code units or octets, UDH excluded.
    pub units: usize,
}

impl Segment {
    /// This part's characters, given the text that was split.
    pub fn text_of<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.text.clone()).unwrap_or("")
    }
}

/// How a text will be sent, computed without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentPlan {
    /// The encoding the plan is for.
    pub encoding: Encoding,
    /// Number of segments (`submit_sm`s).
    pub segments: usize,
    /// Size of the whole text in septets, UTF-16 code units or octets.
    pub units: usize,
    /// Most units one segment can hold with this method (the single-message limit when the
    /// text fits one message).
    pub units_per_segment: usize,
}

/// Units of user data left after a UDH of `udh_len` octets (UDHL included; 0 for none).
///
/// GSM 7-bit: 160 septets minus the septets the UDH and its fill bits occupy, e.g. 6 octets →
/// 153, 7 → 152. UCS-2: half the octets left, rounded down, e.g. 6 → 67, 7 → 66. Otherwise the
/// octets left.
pub const fn capacity(encoding: Encoding, udh_len: usize) -> usize {
    let octets = USER_DATA_OCTETS.saturating_sub(udh_len);
    match encoding {
        Encoding::Gsm7 => (USER_DATA_OCTETS * 8 / 7).saturating_sub((udh_len * 8).div_ceil(7)),
        Encoding::Ucs2 => octets / 2,
        Encoding::Ia5 | Encoding::Latin1 | Encoding::Binary => octets,
    }
}

/// Octets of national language IEs, which only GSM 7-bit uses.
fn national_ies(encoding: Encoding, opts: &SplitOptions) -> usize {
    if encoding == Encoding::Gsm7 {
        opts.gsm7.udh_ies_len()
    } else {
        0
    }
}

/// A UDH length from the octets of its IEs: the UDHL octet is added when there is any IE.
const fn udh_len(ies: usize) -> usize {
    if ies == 0 { 0 } else { ies + 1 }
}

/// Octets of the encoded body for `units` units.
fn body_len(encoding: Encoding, units: usize, udh_len: usize, packed: bool) -> usize {
    match encoding {
        Encoding::Gsm7 if packed => packed_len(units, fill_bits_after_udh(udh_len)),
        Encoding::Ucs2 => units * 2,
        _ => units,
    }
}

/// Where the part starting at byte `start` ends: the byte offset after its last character and
/// its size in units. Characters are never cut; a part always takes at least one character.
fn next_part(
    text: &str,
    start: usize,
    cap: usize,
    encoding: Encoding,
    tables: &Tables,
) -> Result<(usize, usize), TextError> {
    let rest = text.get(start..).unwrap_or("");
    let mut units = 0;
    let mut end = start;
    for (offset, ch) in rest.char_indices() {
        let cost = char_units(ch, encoding, tables).ok_or(TextError::UnrepresentableChar {
            ch,
            index: start + offset,
            encoding,
        })?;
        if units + cost > cap && end > start {
            break;
        }
        units += cost;
        end = start + offset + ch.len_utf8();
    }
    Ok((end, units))
}

/// Plans how `text` is sent: its size, the per-segment limit and the number of segments.
/// Does not allocate, so the HTTP API can quote the segment count before accepting a message.
///
/// Errors: a character `encoding` cannot hold; more than 255 segments
/// ([`TextError::TooManySegments`] with the number needed); a payload over 65535 octets.
pub fn plan(
    text: &str,
    encoding: Encoding,
    method: SplitMethod,
    opts: &SplitOptions,
) -> Result<SegmentPlan, TextError> {
    let tables = tables_for(encoding, &opts.gsm7)?;
    let national = national_ies(encoding, opts);
    let (_, units) = next_part(text, 0, usize::MAX, encoding, &tables)?;
    let single_udh = udh_len(national);
    if method == SplitMethod::Payload {
        let len = single_udh + body_len(encoding, units, single_udh, opts.gsm7_packed);
        if len > MAX_PAYLOAD_OCTETS {
            return Err(TextError::PayloadTooLong {
                len,
                max: MAX_PAYLOAD_OCTETS,
            });
        }
        return Ok(SegmentPlan {
            encoding,
            segments: 1,
            units,
            units_per_segment: units,
        });
    }
    let single_cap = capacity(encoding, single_udh);
    if units <= single_cap {
        return Ok(SegmentPlan {
            encoding,
            segments: 1,
            units,
            units_per_segment: single_cap,
        });
    }
    let part_cap = capacity(encoding, udh_len(method.concat_ie_len() + national));
    let mut segments = 0;
    let mut start = 0;
    while start < text.len() {
        let (end, _) = next_part(text, start, part_cap, encoding, &tables)?;
        segments += 1;
        start = end;
    }
    if segments > MAX_SEGMENTS {
        return Err(TextError::TooManySegments { needed: segments });
    }
    Ok(SegmentPlan {
        encoding,
        segments,
        units,
        units_per_segment: part_cap,
    })
}

/// Number of segments `text` needs; see [`plan`]. Does not allocate.
pub fn count_segments(
    text: &str,
    encoding: Encoding,
    method: SplitMethod,
    opts: &SplitOptions,
) -> Result<usize, TextError> {
    plan(text, encoding, method, opts).map(|p| p.segments)
}

/// Splits `text` into segments ready for `submit_sm`.
///
/// A text that fits one message gives one segment without concatenation UDH or SAR (with a UDH
/// only for national language IEs). `reference` is the concatenation reference: its low 8 bits
/// for [`SplitMethod::Udh8`], all 16 for `Udh16` and `Sar`; the caller should vary it per
/// message and destination. Errors as [`plan`].
pub fn split(
    text: &str,
    encoding: Encoding,
    method: SplitMethod,
    reference: u16,
    opts: &SplitOptions,
) -> Result<Vec<Segment>, TextError> {
    let tables = tables_for(encoding, &opts.gsm7)?;
    let national = if encoding == Encoding::Gsm7 {
        opts.gsm7
    } else {
        Gsm7Options::default()
    };
    let parts = part_bounds(text, encoding, method, opts, &tables)?;
    // `part_bounds` checked there are at most 255 parts.
    let total = u8::try_from(parts.len()).map_err(|_| TextError::TooManySegments {
        needed: parts.len(),
    })?;
    let concatenated = parts.len() > 1;
    let markers = |seqnum: u8| {
        if concatenated {
            method.markers(reference, total, seqnum)
        } else {
            (None, None)
        }
    };
    // One buffer for every part's octets: each segment is a slice of it.
    let per_part_udh = udh_len(
        national.udh_ies_len()
            + if concatenated {
                method.concat_ie_len()
            } else {
                0
            },
    );
    let octets: usize = parts
        .iter()
        .map(|p| per_part_udh + body_len(encoding, p.units, per_part_udh, opts.gsm7_packed))
        .sum();
    let mut out = Vec::with_capacity(octets);
    let mut parts = parts;
    for (i, part) in parts.iter_mut().enumerate() {
        let seqnum = u8::try_from(i + 1).unwrap_or(u8::MAX);
        let start = out.len();
        udh::write_udh(&mut out, markers(seqnum).0, &national);
        let chars = text.get(part.range.clone()).unwrap_or("");
        if encoding == Encoding::Gsm7 && opts.gsm7_packed {
            let udh_octets = out.len() - start;
            let mut septets = Vec::with_capacity(part.units);
            encode_into(chars, encoding, &tables, &mut septets)?;
            out.extend_from_slice(&pack_septets(&septets, fill_bits_after_udh(udh_octets)));
        } else {
            encode_into(chars, encoding, &tables, &mut out)?;
        }
        part.octets = start..out.len();
    }
    let all = Bytes::from(out);
    let mut segments = Vec::with_capacity(parts.len());
    for (i, part) in parts.into_iter().enumerate() {
        let seqnum = u8::try_from(i + 1).unwrap_or(u8::MAX);
        let (concat, sar) = markers(seqnum);
        segments.push(Segment {
            short_message: all.slice(part.octets),
            udhi: concat.is_some() || national.udh_ies_len() > 0,
            sar,
            payload: method == SplitMethod::Payload,
            data_coding: encoding.data_coding(),
            text: part.range,
            units: part.units,
        });
    }
    Ok(segments)
}

/// One part of a text: its byte range in the text and its size in units.
struct PartBounds {
    range: Range<usize>,
    units: usize,
    /// Where the part's octets (UDH and body) are in the shared buffer, once written.
    octets: Range<usize>,
}

/// Where `text` is cut: one walk over the characters (two when it turns out not to fit a single
/// message). Errors as [`plan`].
fn part_bounds(
    text: &str,
    encoding: Encoding,
    method: SplitMethod,
    opts: &SplitOptions,
    tables: &Tables,
) -> Result<Vec<PartBounds>, TextError> {
    let national = national_ies(encoding, opts);
    let single_udh = udh_len(national);
    if method == SplitMethod::Payload {
        let (end, units) = next_part(text, 0, usize::MAX, encoding, tables)?;
        let len = single_udh + body_len(encoding, units, single_udh, opts.gsm7_packed);
        if len > MAX_PAYLOAD_OCTETS {
            return Err(TextError::PayloadTooLong {
                len,
                max: MAX_PAYLOAD_OCTETS,
            });
        }
        return Ok(vec![PartBounds {
            range: 0..end,
            units,
            octets: 0..0,
        }]);
    }
    // Cut at the multipart limit while summing the whole size: a text within the
    // single-message limit is then one part after all.
    let single_cap = capacity(encoding, single_udh);
    let part_cap = capacity(encoding, udh_len(method.concat_ie_len() + national));
    let mut parts = Vec::with_capacity(text.len() / part_cap.max(1) + 1);
    let mut total_units = 0;
    let mut start = 0;
    while start < text.len() {
        let (end, units) = next_part(text, start, part_cap, encoding, tables)?;
        parts.push(PartBounds {
            range: start..end,
            units,
            octets: 0..0,
        });
        total_units += units;
        start = end;
        if total_units > single_cap && parts.len() > MAX_SEGMENTS {
            // Count on without storing, for the error.
            let mut needed = parts.len();
            while start < text.len() {
                start = next_part(text, start, part_cap, encoding, tables)?.0;
                needed += 1;
            }
            return Err(TextError::TooManySegments { needed });
        }
    }
    if total_units <= single_cap {
        return Ok(vec![PartBounds {
            range: 0..text.len(),
            units: total_units,
            octets: 0..0,
        }]);
    }
    if parts.len() > MAX_SEGMENTS {
        return Err(TextError::TooManySegments {
            needed: parts.len(),
        });
    }
    Ok(parts)
}

/// Splits binary data (data_coding 0x04): one segment up to 140 octets, else parts of 134
/// (`Udh8`, `Sar`) or 133 (`Udh16`) octets; `Payload` sends it whole (up to 65535 octets).
pub fn split_binary(
    data: &[u8],
    method: SplitMethod,
    reference: u16,
) -> Result<Vec<Segment>, TextError> {
    let single = |short_message: Bytes, payload: bool| Segment {
        units: short_message.len(),
        short_message,
        udhi: false,
        sar: None,
        payload,
        data_coding: Encoding::Binary.data_coding(),
        text: 0..0,
    };
    if method == SplitMethod::Payload {
        if data.len() > MAX_PAYLOAD_OCTETS {
            return Err(TextError::PayloadTooLong {
                len: data.len(),
                max: MAX_PAYLOAD_OCTETS,
            });
        }
        return Ok(vec![single(Bytes::copy_from_slice(data), true)]);
    }
    if data.len() <= USER_DATA_OCTETS {
        return Ok(vec![single(Bytes::copy_from_slice(data), false)]);
    }
    let cap = capacity(Encoding::Binary, udh_len(method.concat_ie_len()));
    let needed = data.len().div_ceil(cap);
    let total = u8::try_from(needed).map_err(|_| TextError::TooManySegments { needed })?;
    let mut segments = Vec::with_capacity(needed);
    for (i, chunk) in data.chunks(cap).enumerate() {
        // i < needed <= 255.
        let seqnum = u8::try_from(i + 1).unwrap_or(u8::MAX);
        let mut out = Vec::with_capacity(chunk.len() + 7);
        let (concat, sar) = method.markers(reference, total, seqnum);
        udh::write_udh(&mut out, concat, &Gsm7Options::default());
        out.extend_from_slice(chunk);
        segments.push(Segment {
            udhi: concat.is_some(),
            short_message: Bytes::from(out),
            sar,
            payload: false,
            data_coding: Encoding::Binary.data_coding(),
            text: 0..0,
            units: chunk.len(),
        });
    }
    Ok(segments)
}
