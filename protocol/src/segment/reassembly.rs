//! Reassembly of concatenated messages received in `deliver_sm` (or `data_sm`), by
//! concatenation UDH (8- or 16-bit reference) or SAR TLVs, and decoding of one part's text.
//!
//! Owns: the table of incomplete messages, its bounds (a cap on pending groups, oldest evicted
//! first; expiry by a caller-supplied tick) and the joining of parts. Must not touch: clocks,
//! PDUs, addresses beyond the opaque key the caller gives. Called by Kori's SMPP sessions.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use super::udh::{UdhError, parse_udh};
use crate::text::{
    Encoding, Gsm7Options, TextError, decode, decode_gsm7, fill_bits_after_udh, strip_pad,
    unpack_septets,
};

/// One received part, as the session found it in the PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part<'a> {
    /// The PDU's data_coding.
    pub data_coding: u8,
    /// esm_class bit 0x40: the octets start with a UDH.
    pub udhi: bool,
    /// The short_message octets (or the message_payload value when that TLV was used).
    pub short_message: &'a [u8],
    /// SAR TLVs when present: (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum).
    pub sar: Option<(u16, u8, u8)>,
    /// The caller's monotonic tick at receipt, in any unit, compared by [`Reassembler::expire`].
    pub now: u64,
}

/// A whole message: a single part, or every part of a concatenated one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    /// data_coding of the (first received) part.
    pub data_coding: u8,
    /// The user data, UDHs removed, parts joined in order. For GSM 7-bit (by data_coding) it
    /// is always unpacked septets, one per octet, whether the parts were packed or not.
    pub data: Vec<u8>,
    /// The GSM tables the national language IEs of the UDH asked for.
    pub gsm7: Gsm7Options,
    /// Number of parts joined (1 for a message that was not concatenated).
    pub parts: u8,
    /// The concatenation reference, `None` for a single message.
    pub reference: Option<u16>,
}

impl Reassembled {
    /// Decodes `data` as text per `data_coding`. Joining before decoding means an escape pair
    /// or surrogate pair that a sender split across parts still decodes.
    pub fn text(&self) -> Result<String, TextError> {
        match Encoding::from_data_coding(self.data_coding) {
            Some(Encoding::Gsm7) => decode_gsm7(&self.data, &self.gsm7),
            Some(encoding) => decode(&self.data, encoding),
            None => Err(TextError::UnsupportedDataCoding(self.data_coding)),
        }
    }
}

/// Why a received message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The UDH is malformed.
    #[error(transparent)]
    Udh(#[from] UdhError),
    /// The text is not valid for its data_coding.
    #[error(transparent)]
    Text(#[from] TextError),
}

/// User data of one part with the UDH removed; GSM 7-bit comes back as unpacked septets.
fn user_data(
    data_coding: u8,
    udhi: bool,
    short_message: &[u8],
    gsm7_packed: bool,
) -> Result<(Vec<u8>, super::Udh), UdhError> {
    let (udh, body) = if udhi {
        parse_udh(short_message)?
    } else {
        (super::Udh::default(), short_message)
    };
    let data = if gsm7_packed && Encoding::from_data_coding(data_coding) == Some(Encoding::Gsm7) {
        let fill = if udhi {
            fill_bits_after_udh(udh.len)
        } else {
            0
        };
        let mut septets = unpack_septets(body, fill);
        strip_pad(&mut septets, body.len(), fill);
        septets
    } else {
        body.to_vec()
    };
    Ok((data, udh))
}

/// Decodes the text of one part: removes the UDH when `udhi` is set (using its national
/// language IEs), unpacks GSM 7-bit when `gsm7_packed` (with the fill bits the UDH requires and
/// the pad rule of [`strip_pad`]), and decodes per `data_coding`.
pub fn decode_message(
    data_coding: u8,
    udhi: bool,
    short_message: &[u8],
    gsm7_packed: bool,
) -> Result<String, DecodeError> {
    let (data, udh) = user_data(data_coding, udhi, short_message, gsm7_packed)?;
    let whole = Reassembled {
        data_coding,
        data,
        gsm7: udh.gsm7_options(),
        parts: 1,
        reference: udh.concat.map(|c| c.reference),
    };
    Ok(whole.text()?)
}

/// Identity of one concatenated message: the caller's key (typically source and destination
/// address octets), the reference and the total.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GroupKey<K> {
    key: K,
    reference: u16,
    total: u8,
}

/// The parts received so far of one message.
#[derive(Debug)]
struct Group {
    parts: Vec<Option<Vec<u8>>>,
    received: usize,
    data_coding: u8,
    gsm7: Gsm7Options,
    first_seen: u64,
    order: u64,
}

/// Joins the parts of concatenated messages, in any order, with bounded memory.
///
/// `K` is the caller's key for "same sender, same recipient", e.g. `(Vec<u8>, Vec<u8>)` of
/// source and destination addresses. Duplicated parts are ignored (the first copy is kept).
/// At most `max_groups` messages are pending; a new one beyond that evicts the oldest.
#[derive(Debug)]
pub struct Reassembler<K> {
    groups: HashMap<GroupKey<K>, Group>,
    order: BTreeMap<u64, GroupKey<K>>,
    next_order: u64,
    max_groups: usize,
    gsm7_packed: bool,
    evicted: u64,
}

impl<K: Eq + Hash + Clone> Reassembler<K> {
    /// A reassembler keeping at most `max_groups` incomplete messages (at least 1).
    /// `gsm7_packed` says whether this carrier packs GSM 7-bit septets in short_message.
    pub fn new(max_groups: usize, gsm7_packed: bool) -> Self {
        Self {
            groups: HashMap::new(),
            order: BTreeMap::new(),
            next_order: 0,
            max_groups: max_groups.max(1),
            gsm7_packed,
            evicted: 0,
        }
    }

    /// Number of incomplete messages held.
    pub fn pending(&self) -> usize {
        self.groups.len()
    }

    /// Incomplete messages dropped so far to respect `max_groups` (for a metric).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Adds one received part. Returns the whole message when this part completes it, at once
    /// for a message that is not concatenated (no concatenation IE, no SAR, or a total of 1),
    /// and `None` while parts are missing or when the part is a duplicate.
    ///
    /// A duplicate that arrives after its message completed cannot be told from the first part
    /// of a new message with the same reference; it opens a group that [`Self::expire`] or
    /// eviction removes. A concatenation UDH wins over SAR TLVs when a part has both. SAR values with a total
    /// of 0 or a sequence number of 0 or above the total are ignored, like the UDH IE.
    pub fn push(&mut self, key: K, part: Part<'_>) -> Result<Option<Reassembled>, UdhError> {
        let (data, udh) = user_data(
            part.data_coding,
            part.udhi,
            part.short_message,
            self.gsm7_packed,
        )?;
        let gsm7 = udh.gsm7_options();
        let concat = udh.concat.map(|c| (c.reference, c.total, c.seqnum)).or(part
            .sar
            .filter(|&(_, total, seq)| total != 0 && seq != 0 && seq <= total));
        let Some((reference, total, seqnum)) = concat.filter(|&(_, total, _)| total > 1) else {
            return Ok(Some(Reassembled {
                data_coding: part.data_coding,
                data,
                gsm7,
                parts: 1,
                reference: concat.map(|(r, _, _)| r),
            }));
        };
        let gkey = GroupKey {
            key,
            reference,
            total,
        };
        if !self.groups.contains_key(&gkey) {
            if self.groups.len() >= self.max_groups {
                self.evict_oldest();
            }
            let order = self.next_order;
            self.next_order += 1;
            self.order.insert(order, gkey.clone());
            self.groups.insert(
                gkey.clone(),
                Group {
                    parts: vec![None; usize::from(total)],
                    received: 0,
                    data_coding: part.data_coding,
                    gsm7,
                    first_seen: part.now,
                    order,
                },
            );
        }
        let Some(group) = self.groups.get_mut(&gkey) else {
            return Ok(None);
        };
        let index = usize::from(seqnum).checked_sub(1);
        let Some(slot) = index.and_then(|i| group.parts.get_mut(i)) else {
            return Ok(None);
        };
        if slot.is_some() {
            return Ok(None);
        }
        *slot = Some(data);
        group.received += 1;
        if group.received < group.parts.len() {
            return Ok(None);
        }
        let Some(group) = self.groups.remove(&gkey) else {
            return Ok(None);
        };
        self.order.remove(&group.order);
        let data = group.parts.into_iter().flatten().flatten().collect();
        Ok(Some(Reassembled {
            data_coding: group.data_coding,
            data,
            gsm7: group.gsm7,
            parts: total,
            reference: Some(reference),
        }))
    }

    /// Drops incomplete messages whose first part arrived before tick `older_than`; returns how
    /// many were dropped. Ticks are the caller's (`Part::now`); this crate has no clock.
    pub fn expire(&mut self, older_than: u64) -> usize {
        let before = self.groups.len();
        let order = &mut self.order;
        self.groups.retain(|_, g| {
            let keep = g.first_seen >= older_than;
            if !keep {
                order.remove(&g.order);
            }
            keep
        });
        before - self.groups.len()
    }

    fn evict_oldest(&mut self) {
        if let Some((_, key)) = self.order.pop_first() {
            self.groups.remove(&key);
            self.evicted += 1;
        }
    }
}
