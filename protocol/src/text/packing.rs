//! Packing of GSM 7-bit septets into octets (3GPP TS 23.038 §6.1.2.1): septets are laid down
//! least significant bit first, optionally after a number of zero fill bits so that, behind a
//! UDH, the first septet starts on a septet boundary (TS 23.040 §9.2.3.24).
//!
//! Owns: bit packing and unpacking, and the padding rule for 7 spare bits. Must not touch:
//! character tables (`text::gsm7`). Called by `text` and `segment`.

/// Septet value of CR, used as padding (see [`pack_septets`]).
const CR: u8 = 0x0D;

/// Octets needed for `septets` septets after `fill_bits` fill bits; 0 when there are no
/// septets (a part that is all UDH has no user data after the header).
pub const fn packed_len(septets: usize, fill_bits: u8) -> usize {
    if septets == 0 {
        0
    } else {
        (fill_bits as usize + 7 * septets).div_ceil(8)
    }
}

/// Fill bits that follow a UDH of `udh_len` octets (UDHL octet included) so that the first
/// septet starts on a septet boundary: 1 for the 6-octet concatenation UDH, 0 for 7 octets.
pub const fn fill_bits_after_udh(udh_len: usize) -> u8 {
    ((7 - (udh_len * 8) % 7) % 7) as u8
}

/// Packs septets (only their low 7 bits are used) after `fill_bits` zero bits.
///
/// When exactly 7 bits remain unused in the last octet, they are filled with CR instead of
/// zeros: SMPP gives the octet count, not the septet count, so a zero pad would read as a
/// trailing '@'. This is the rule TS 23.038 §6.1.2.3.1 sets for USSD, and receivers that know
/// the septet count ignore the pad anyway.
pub fn pack_septets(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let len = packed_len(septets.len(), fill_bits);
    let mut out = vec![0u8; len];
    let mut bit = usize::from(fill_bits);
    for &s in septets {
        put7(&mut out, bit, s & 0x7F);
        bit += 7;
    }
    if (len * 8).checked_sub(bit) == Some(7) {
        put7(&mut out, bit, CR);
    }
    out
}

/// Writes 7 bits at bit offset `bit` (LSB-first). Callers size `out` so that the bits fit;
/// bits beyond the end are dropped rather than panicking.
fn put7(out: &mut [u8], bit: usize, s: u8) {
    let idx = bit / 8;
    let shift = bit % 8;
    let v = u16::from(s) << shift;
    if let Some(b) = out.get_mut(idx) {
        *b |= (v & 0xFF) as u8;
    }
    if shift > 1 {
        if let Some(b) = out.get_mut(idx + 1) {
            *b |= (v >> 8) as u8;
        }
    }
}

/// Number of whole septets in `octets` packed octets after `fill_bits` fill bits.
pub const fn septets_in(octets: usize, fill_bits: u8) -> usize {
    (octets * 8).saturating_sub(fill_bits as usize) / 7
}

/// Unpacks every whole septet of `packed`, skipping `fill_bits` leading bits. The result may
/// end with a pad septet; [`strip_pad`] removes it.
pub fn unpack_septets(packed: &[u8], fill_bits: u8) -> Vec<u8> {
    let n = septets_in(packed.len(), fill_bits);
    let mut out = Vec::with_capacity(n);
    let mut bit = usize::from(fill_bits);
    for _ in 0..n {
        let idx = bit / 8;
        let shift = bit % 8;
        let lo = u16::from(packed.get(idx).copied().unwrap_or(0));
        let hi = u16::from(packed.get(idx + 1).copied().unwrap_or(0));
        let v = ((lo | (hi << 8)) >> shift) & 0x7F;
        out.push(v as u8);
        bit += 7;
    }
    out
}

/// Removes the pad septet from septets unpacked from `packed_octets` octets: when the last
/// septet lies wholly in the 7 spare bits a shorter message would have left, and it is CR (the
/// pad [`pack_septets`] writes) or 0x00 (the zero pad of TS 23.038 §6.1.2.1 packers), it is
/// padding, not text.
///
/// Trade-off: a message whose last character really is '@' or CR in that position loses it;
/// without a septet count (SMPP has none) the two cannot be told apart, and a spurious '@' on
/// one message in eight from zero-padding senders is the worse error.
pub fn strip_pad(septets: &mut Vec<u8>, packed_octets: usize, fill_bits: u8) {
    let n = septets.len();
    if n == 0 {
        return;
    }
    // With no septets an encoder writes no octets, so a lone septet is never padding.
    let shorter_fits = packed_len(n - 1, fill_bits) == packed_octets;
    if shorter_fits && matches!(septets.last(), Some(&CR) | Some(&0)) {
        septets.pop();
    }
}
