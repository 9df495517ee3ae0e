//! The User Data Header of 3GPP TS 23.040 §9.2.3.24: building the concatenation and national
//! language information elements Kori sends, and parsing any UDH it receives.
//!
//! Owns: UDH octet layout (UDHL, then IEI / IEDL / data triples). Must not touch: text tables,
//! PDUs. Called by `segment` (split and reassembly) and by SMPP sessions reading `deliver_sm`.

use crate::text::{Gsm7Options, NationalLanguage};

/// IEI of "Concatenated short messages, 8-bit reference number" (TS 23.040 §9.2.3.24.1).
pub const IEI_CONCAT_8: u8 = 0x00;
/// IEI of "Concatenated short messages, 16-bit reference number" (TS 23.040 §9.2.3.24.8).
pub const IEI_CONCAT_16: u8 = 0x08;
/// IEI of "National Language Single Shift" (TS 23.040 §9.2.3.24.15).
pub const IEI_SINGLE_SHIFT: u8 = 0x24;
/// IEI of "National Language Locking Shift" (TS 23.040 §9.2.3.24.16).
pub const IEI_LOCKING_SHIFT: u8 = 0x25;

/// A concatenation information element: which part of which message this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    /// Concatenated short message reference number (0..=255 for the 8-bit IE).
    pub reference: u16,
    /// Total number of parts, 1..=255.
    pub total: u8,
    /// This part's sequence number, 1..=total.
    pub seqnum: u8,
    /// Whether it came from the 16-bit reference IE (0x08) rather than the 8-bit one (0x00).
    pub wide_reference: bool,
}

/// What Kori reads from a UDH. Information elements it does not use are skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Udh {
    /// Octets the UDH occupies, UDHL octet included (so the user data starts at this offset).
    pub len: usize,
    /// The concatenation IE, if present and valid.
    pub concat: Option<Concat>,
    /// National Language Identifier of IE 0x24 (single shift), if present.
    pub single_shift: Option<u8>,
    /// National Language Identifier of IE 0x25 (locking shift), if present.
    pub locking_shift: Option<u8>,
}

impl Udh {
    /// The GSM tables the national language IEs ask for; identifiers Kori has no tables for
    /// fall back to the default tables, as TS 23.038 §6.2.1.2.4 tells receivers to.
    pub fn gsm7_options(&self) -> Gsm7Options {
        Gsm7Options {
            single_shift: self.single_shift.and_then(NationalLanguage::from_id),
            locking_shift: self.locking_shift.and_then(NationalLanguage::from_id),
        }
    }
}

/// A UDH that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UdhError {
    /// The UDHI flag is set but the message has no octets.
    #[error("UDHI is set but the message is empty")]
    Empty,
    /// UDHL announces more octets than the message has.
    #[error("UDH length {udhl} overruns the {available} octets that follow it")]
    HeaderOverrun {
        /// The UDHL value.
        udhl: usize,
        /// Octets after the UDHL octet.
        available: usize,
    },
    /// An information element runs past the end of the UDH.
    #[error("UDH information element {iei:#04x} at offset {offset} overruns the header")]
    IeOverrun {
        /// Its identifier.
        iei: u8,
        /// Offset of the IEI within the message.
        offset: usize,
    },
}

/// Splits a message whose UDHI flag is set into its UDH and the user data after it.
///
/// Every IE is walked; IEs other than 0x00, 0x08, 0x24 and 0x25 are skipped. Choices, after
/// TS 23.040 §9.2.3.24: a concatenation IE whose total is 0, or whose sequence number is 0 or
/// above the total, is ignored (the message then stands alone); a known IE with the wrong
/// length is ignored; when an IE repeats, the last one counts. Structural faults (UDHL or an
/// IE length past the end) are errors. Never panics.
pub fn parse_udh(data: &[u8]) -> Result<(Udh, &[u8]), UdhError> {
    let (&udhl, rest) = data.split_first().ok_or(UdhError::Empty)?;
    let udhl = usize::from(udhl);
    if udhl > rest.len() {
        return Err(UdhError::HeaderOverrun {
            udhl,
            available: rest.len(),
        });
    }
    let (header, payload) = rest.split_at(udhl);
    let mut udh = Udh {
        len: udhl + 1,
        ..Udh::default()
    };
    let mut pos = 0;
    while pos < header.len() {
        let iei = header[pos];
        let Some(&iedl) = header.get(pos + 1) else {
            return Err(UdhError::IeOverrun {
                iei,
                offset: pos + 1,
            });
        };
        let start = pos + 2;
        let end = start + usize::from(iedl);
        let Some(ie) = header.get(start..end) else {
            return Err(UdhError::IeOverrun {
                iei,
                offset: pos + 1,
            });
        };
        match (iei, ie) {
            (IEI_CONCAT_8, &[reference, total, seqnum]) => {
                udh.concat = valid_concat(u16::from(reference), total, seqnum, false);
            }
            (IEI_CONCAT_16, &[hi, lo, total, seqnum]) => {
                udh.concat = valid_concat(u16::from_be_bytes([hi, lo]), total, seqnum, true);
            }
            (IEI_SINGLE_SHIFT, &[id]) => udh.single_shift = Some(id),
            (IEI_LOCKING_SHIFT, &[id]) => udh.locking_shift = Some(id),
            _ => {}
        }
        pos = end;
    }
    Ok((udh, payload))
}

/// A concatenation IE, or `None` when TS 23.040 §9.2.3.24.1 says to ignore it.
fn valid_concat(reference: u16, total: u8, seqnum: u8, wide_reference: bool) -> Option<Concat> {
    (total != 0 && seqnum != 0 && seqnum <= total).then_some(Concat {
        reference,
        total,
        seqnum,
        wide_reference,
    })
}

/// Writes a whole UDH (UDHL first) with an optional concatenation IE and the national language
/// IEs of `opts`; writes nothing when there is no IE at all.
pub(crate) fn write_udh(out: &mut Vec<u8>, concat: Option<Concat>, opts: &Gsm7Options) {
    let concat_len = match concat {
        Some(c) if c.wide_reference => 6,
        Some(_) => 5,
        None => 0,
    };
    let ies = concat_len + opts.udh_ies_len();
    if ies == 0 {
        return;
    }
    // At most 6 + 3 + 3 = 12 octets, so the length fits a UDHL octet.
    out.push(ies as u8);
    if let Some(c) = concat {
        if c.wide_reference {
            let [hi, lo] = c.reference.to_be_bytes();
            out.extend_from_slice(&[IEI_CONCAT_16, 4, hi, lo, c.total, c.seqnum]);
        } else {
            let [_, lo] = c.reference.to_be_bytes();
            out.extend_from_slice(&[IEI_CONCAT_8, 3, lo, c.total, c.seqnum]);
        }
    }
    if let Some(language) = opts.single_shift {
        out.extend_from_slice(&[IEI_SINGLE_SHIFT, 1, language.id()]);
    }
    if let Some(language) = opts.locking_shift {
        out.extend_from_slice(&[IEI_LOCKING_SHIFT, 1, language.id()]);
    }
}
