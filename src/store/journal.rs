//! The journal: how a committed group of writes becomes durable with a few sled inserts, and
//! how it later reaches its trees.
//!
//! A group (every write of the requests one flush covers) is appended to the `journal` tree as
//! records of about [`CHUNK`] octets, keyed by a sequence number, in ONE sled batch (atomic
//! across a crash). The group then lives in memory (the `active` layer, see `overlay`) until
//! it is *materialized*: written into its trees, flushed, and only then its journal records
//! removed, again in one batch. By then a message that went accepted → submitting → submitted
//! has been rewritten in memory three times but is written to its tree once, and index entries
//! that came and went (`due`) are never written at all.
//!
//! At open, [`replay`] applies whatever the journal still holds (a crash before
//! materialization) in order: records hold new values, not deltas, so replaying them again
//! after a crash during replay gives the same result.
//!
//! # Record format (version 1)
//!
//! One version octet (1), then entries: tree number (u8, [`TreeId`]), key length (u32
//! big-endian), key, 0 (removed) or 1 (set), and when set the value length (u32 big-endian)
//! and value.

use super::StoreError;
use super::layout::tree;
use super::overlay::{Layer, TreeId};
use super::tx::Trees;
use sled::IVec;

/// Target size of one journal record. sled rewrites a whole leaf (up to 16 records) now and
/// then, and keeps leaves under its blob threshold (128 KiB) only if records stay small.
const CHUNK: usize = 6 * 1024;

/// The version octet in front of every record.
const VERSION: u8 = 1;

/// Writes into a tree per sled batch when materializing: a batch holds sled's write lock,
/// which the writer's journal appends wait for, so it stays short.
const APPLY_BATCH: usize = 512;

fn encode_entry(buf: &mut Vec<u8>, id: TreeId, key: &[u8], value: Option<&IVec>) {
    buf.push(id as u8);
    buf.extend_from_slice(&(key.len() as u32).to_be_bytes());
    buf.extend_from_slice(key);
    match value {
        None => buf.push(0),
        Some(v) => {
            buf.push(1);
            buf.extend_from_slice(&(v.len() as u32).to_be_bytes());
            buf.extend_from_slice(v);
        }
    }
}

/// The key of record `seq`.
fn record_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Appends `group` as records numbered from `next_seq`, in one atomic batch; returns the next
/// free number. Durable after the next flush.
pub(crate) fn append(
    journal: &sled::Tree,
    group: &Layer,
    next_seq: u64,
) -> Result<u64, StoreError> {
    let mut batch = sled::Batch::default();
    let mut seq = next_seq;
    let mut buf = Vec::with_capacity(CHUNK + 512);
    buf.push(VERSION);
    for id in TreeId::ALL {
        for (key, value) in group.entries(id) {
            encode_entry(&mut buf, id, key, value);
            if buf.len() >= CHUNK {
                let record = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK + 512));
                batch.insert(&record_key(seq), record);
                seq += 1;
                buf.push(VERSION);
            }
        }
    }
    if buf.len() > 1 {
        batch.insert(&record_key(seq), buf);
        seq += 1;
    }
    journal.apply_batch(batch)?;
    Ok(seq)
}

fn damaged(detail: impl Into<String>) -> StoreError {
    StoreError::Encoding {
        tree: tree::JOURNAL,
        detail: detail.into(),
    }
}

/// Reads one record into `into` (later entries win).
fn decode_into(record: &[u8], into: &mut Layer) -> Result<(), StoreError> {
    let Some((&VERSION, mut rest)) = record.split_first() else {
        return Err(damaged(match record.first() {
            None => "empty record".to_owned(),
            Some(v) => format!("unknown record version {v}"),
        }));
    };
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], StoreError> {
        if rest.len() < n {
            return Err(damaged("record ends inside an entry"));
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Ok(head)
    }
    fn length(rest: &mut &[u8]) -> Result<usize, StoreError> {
        let bytes: [u8; 4] = take(rest, 4)?
            .try_into()
            .map_err(|_| damaged("record ends inside a length"))?;
        Ok(u32::from_be_bytes(bytes) as usize)
    }
    while !rest.is_empty() {
        let number = take(&mut rest, 1)?[0];
        let id = TreeId::from_number(number)
            .ok_or_else(|| damaged(format!("unknown tree number {number}")))?;
        let key_len = length(&mut rest)?;
        let key = take(&mut rest, key_len)?.to_vec();
        let value = match take(&mut rest, 1)?[0] {
            0 => None,
            1 => {
                let len = length(&mut rest)?;
                Some(IVec::from(take(&mut rest, len)?))
            }
            other => return Err(damaged(format!("unknown entry tag {other}"))),
        };
        into.put(id, key, value);
    }
    Ok(())
}

/// Writes `layer` into its trees, in short batches.
fn apply(trees: &Trees, layer: &Layer) -> Result<(), StoreError> {
    for id in TreeId::ALL {
        let tree = trees.tree(id);
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for (key, value) in layer.entries(id) {
            match value {
                Some(v) => batch.insert(key, v),
                None => batch.remove(key),
            }
            n += 1;
            if n == APPLY_BATCH {
                tree.apply_batch(std::mem::take(&mut batch))?;
                n = 0;
            }
        }
        if n > 0 {
            tree.apply_batch(batch)?;
        }
    }
    Ok(())
}

/// Removes the records numbered below `upto`, in one atomic batch (so that a crash never
/// leaves an older record without the newer ones: replaying it would bring back old values).
fn truncate(journal: &sled::Tree, upto: u64) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    for key in journal.range(..record_key(upto)).keys() {
        batch.remove(key?);
    }
    journal.apply_batch(batch)?;
    Ok(())
}

/// Writes `layer` (every write of the records below `upto`) into its trees, flushes, and
/// removes those records.
pub(crate) fn materialize(
    db: &sled::Db,
    trees: &Trees,
    layer: &Layer,
    upto: u64,
) -> Result<(), StoreError> {
    apply(trees, layer)?;
    // The trees must be durable before the records that stand for them go.
    db.flush()?;
    truncate(&trees.journal, upto)
}

/// Applies every record left in the journal to its trees (a crash came before they were
/// materialized) and empties it. Returns the number for the next record.
pub(crate) fn replay(db: &sled::Db, trees: &Trees) -> Result<u64, StoreError> {
    let mut layer = Layer::default();
    let mut next = 0;
    for item in trees.journal.iter() {
        let (key, record) = item?;
        let seq: [u8; 8] = key
            .as_ref()
            .try_into()
            .map_err(|_| damaged(format!("key of {} octets, expected 8", key.len())))?;
        next = u64::from_be_bytes(seq) + 1;
        decode_into(&record, &mut layer)?;
    }
    if next > 0 {
        tracing::info!(
            records = next,
            writes = layer.len(),
            "replaying the store journal"
        );
        materialize(db, trees, &layer, next)?;
        db.flush()?;
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_split_at_the_chunk_size() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let trees = Trees::open(&db).unwrap();
        let mut group = Layer::default();
        for i in 0u32..2_000 {
            group.put(
                TreeId::Messages,
                i.to_be_bytes().to_vec(),
                Some(IVec::from(vec![7u8; 40])),
            );
        }
        group.put(TreeId::Due, vec![1, 2, 3], None);
        let next = append(&trees.journal, &group, 5).unwrap();
        assert!(next > 6, "2,000 writes of 50 octets take several records");
        let mut back = Layer::default();
        for item in trees.journal.iter() {
            let (_, record) = item.unwrap();
            assert!(record.len() < CHUNK + 100);
            decode_into(&record, &mut back).unwrap();
        }
        assert_eq!(back.len(), group.len());
        assert_eq!(back.get(TreeId::Due, &[1, 2, 3]), Some(None));
        assert_eq!(
            back.get(TreeId::Messages, &1999u32.to_be_bytes()),
            Some(Some(&IVec::from(vec![7u8; 40])))
        );
    }

    #[test]
    fn replay_applies_records_in_order_and_empties_the_journal() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let trees = Trees::open(&db).unwrap();
        trees.due.insert([9], &[1]).unwrap();
        let mut first = Layer::default();
        first.put(TreeId::Due, vec![1], Some(IVec::from(b"old")));
        first.put(TreeId::Due, vec![9], None);
        let next = append(&trees.journal, &first, 0).unwrap();
        let mut second = Layer::default();
        second.put(TreeId::Due, vec![1], Some(IVec::from(b"new")));
        let next = append(&trees.journal, &second, next).unwrap();
        assert_eq!(replay(&db, &trees).unwrap(), next);
        assert_eq!(trees.due.get([1]).unwrap(), Some(IVec::from(b"new")));
        assert_eq!(trees.due.get([9]).unwrap(), None);
        assert!(trees.journal.is_empty());
        // Nothing left: a second replay changes nothing.
        assert_eq!(replay(&db, &trees).unwrap(), 0);
    }

    #[test]
    fn damaged_records_are_reported_not_applied() {
        let mut layer = Layer::default();
        for bad in [&[][..], &[9][..], &[1, 0, 0, 0, 0, 9][..], &[1, 42][..]] {
            assert!(matches!(
                decode_into(bad, &mut layer),
                Err(StoreError::Encoding { .. })
            ));
        }
        assert!(layer.is_empty());
    }
}
