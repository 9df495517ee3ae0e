//! The journal: how a committed group of writes becomes durable with one `write` and one
//! `fdatasync`, and how it later reaches its trees.
//!
//! The journal is a directory of segment files (`<store>/journal/<number>.journal`) beside
//! sled's own files. A group (every write of the requests one commit covers) is appended to
//! the current segment as ONE record, checksummed, and the segment is synced once; the group
//! then lives in memory (the `active` layer, see `overlay`) until it is *materialized*: written
//! into its trees and flushed by sled, and only then are the segments that held it deleted.
//! By then a message that went accepted → submitting → submitted has been rewritten in memory
//! three times but is written to its tree once, and index entries that came and went (`due`)
//! are never written at all. A freeze (the start of a materialization) starts a new segment,
//! so the frozen writes are exactly those of the segments numbered below it.
//!
//! At open, [`replay`] applies whatever the segments still hold (a crash before
//! materialization) in order: records hold new values, not deltas, so replaying them again
//! after a crash during replay gives the same result. A record cut short or failing its
//! checksum ends its segment's replay: it is the one being written when the machine stopped
//! (never acknowledged), or one whose write failed (answered as not durable; the journal then
//! moved to a new segment, so nothing acknowledged follows it in that file).
//!
//! # Segment format
//!
//! Records one after another: payload length (u32 big-endian), CRC-32 (IEEE) of the payload
//! (u32 big-endian), payload. A payload is one version octet (1), then entries: tree number
//! (u8, [`TreeId`]), key length (u32 big-endian), key, 0 (removed) or 1 (set), and when set
//! the value length (u32 big-endian) and value.
//!
//! Stores of schema version 2 kept the same records in a sled tree named `journal`;
//! [`replay_tree`] applies and drops it once (the migration to version 3).

use super::StoreError;
use super::layout::tree;
use super::overlay::{Layer, TreeId};
use super::tx::Trees;
use sled::IVec;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The version octet in front of every payload.
const VERSION: u8 = 1;

/// Octets in front of a payload: its length and its checksum.
const HEADER: usize = 8;

/// Writes into a tree per sled batch when materializing: a batch holds sled's write lock,
/// which readers of the trees wait for, so it stays short.
const APPLY_BATCH: usize = 512;

/// The extension of segment files.
const EXTENSION: &str = "journal";

/// The journal directory of the store at `store`.
pub(crate) fn dir(store: &Path) -> PathBuf {
    store.join("journal")
}

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

/// `group` as one record, header included.
fn encode_record(group: &Layer) -> Result<Vec<u8>, StoreError> {
    let mut buf = Vec::with_capacity(HEADER + 1 + group.len() * 64);
    buf.extend_from_slice(&[0; HEADER]);
    buf.push(VERSION);
    for id in TreeId::ALL {
        for (key, value) in group.entries(id) {
            encode_entry(&mut buf, id, key, value);
        }
    }
    let len = u32::try_from(buf.len() - HEADER)
        .map_err(|_| damaged("a group of more than 4 GiB cannot be journaled"))?;
    let crc = crc32fast::hash(&buf[HEADER..]);
    buf[..4].copy_from_slice(&len.to_be_bytes());
    buf[4..HEADER].copy_from_slice(&crc.to_be_bytes());
    Ok(buf)
}

fn damaged(detail: impl Into<String>) -> StoreError {
    StoreError::Encoding {
        tree: tree::JOURNAL,
        detail: detail.into(),
    }
}

/// The file of segment `number`.
fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:020}.{EXTENSION}"))
}

/// The segments in `dir`, by number. Other files are left alone.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
            continue;
        }
        let number = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<u64>().ok());
        if let Some(number) = number {
            found.push((number, path));
        }
    }
    found.sort_unstable_by_key(|(n, _)| *n);
    Ok(found)
}

/// Makes the directory's entries (files created or removed) durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// The segment being appended to. Only the writer holds it.
pub(crate) struct Journal {
    dir: PathBuf,
    file: File,
    segment: u64,
    /// A write or a sync failed: what the file holds past the last good record is unknown,
    /// so the next append starts a new segment.
    broken: bool,
}

impl Journal {
    /// Starts segment `number` in `dir` (created if missing), after [`replay`] emptied it.
    pub(crate) fn create(dir: &Path, number: u64) -> Result<Journal, StoreError> {
        fs::create_dir_all(dir)?;
        let file = open_segment(dir, number)?;
        Ok(Journal {
            dir: dir.to_owned(),
            file,
            segment: number,
            broken: false,
        })
    }

    /// Appends `group` as one record; durable after the next [`Journal::sync`].
    pub(crate) fn append(&mut self, group: &Layer) -> Result<(), StoreError> {
        if self.broken {
            self.rotate()?;
        }
        let record = encode_record(group)?;
        if let Err(e) = self.file.write_all(&record) {
            self.broken = true;
            return Err(e.into());
        }
        Ok(())
    }

    /// Makes every record appended so far durable.
    pub(crate) fn sync(&mut self) -> Result<(), StoreError> {
        if let Err(e) = self.file.sync_data() {
            // After a failed fsync the kernel may have dropped the dirty pages: trust nothing
            // more in this file.
            self.broken = true;
            return Err(e.into());
        }
        Ok(())
    }

    /// Starts the next segment and returns its number: every record appended before is in
    /// the segments numbered below it.
    pub(crate) fn rotate(&mut self) -> Result<u64, StoreError> {
        let next = self.segment + 1;
        self.file = open_segment(&self.dir, next)?;
        self.segment = next;
        self.broken = false;
        Ok(next)
    }
}

/// Creates segment `number` (empty) and makes its directory entry durable.
fn open_segment(dir: &Path, number: u64) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(segment_path(dir, number))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Reads one payload into `into` (later entries win).
fn decode_into(payload: &[u8], into: &mut Layer) -> Result<(), StoreError> {
    let Some((&VERSION, mut rest)) = payload.split_first() else {
        return Err(damaged(match payload.first() {
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

/// Reads the records of one segment into `into`; returns how many. Stops at a record cut
/// short or failing its checksum (see the module docs), with a warning.
fn read_segment(path: &Path, into: &mut Layer) -> Result<u64, StoreError> {
    let bytes = fs::read(path)?;
    let mut rest = &bytes[..];
    let mut records = 0;
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let header = rest.get(..HEADER).and_then(|h| {
            let len = u32::from_be_bytes(h[..4].try_into().ok()?) as usize;
            let crc = u32::from_be_bytes(h[4..].try_into().ok()?);
            Some((len, crc))
        });
        let payload = header.and_then(|(len, crc)| {
            let payload = rest.get(HEADER..HEADER + len)?;
            (crc32fast::hash(payload) == crc).then_some((payload, HEADER + len))
        });
        let Some((payload, used)) = payload else {
            tracing::warn!(
                segment = %path.display(),
                offset,
                dropped = rest.len(),
                "store journal ends with an incomplete record (never acknowledged); ignored"
            );
            break;
        };
        decode_into(payload, into)?;
        records += 1;
        rest = &rest[used..];
    }
    Ok(records)
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

/// Deletes the segments numbered below `upto` and makes that durable (so that a crash never
/// brings back an older segment once newer writes reached the trees: replaying it would
/// restore old values).
fn remove_below(dir: &Path, upto: u64) -> Result<(), StoreError> {
    let mut removed = false;
    for (number, path) in segments(dir)? {
        if number < upto {
            fs::remove_file(&path)?;
            removed = true;
        }
    }
    if removed {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Writes `layer` (every write of the segments below `upto`) into its trees, flushes, and
/// deletes those segments.
pub(crate) fn materialize(
    db: &sled::Db,
    trees: &Trees,
    layer: &Layer,
    dir: &Path,
    upto: u64,
) -> Result<(), StoreError> {
    apply(trees, layer)?;
    // The trees must be durable before the segments that stand for them go.
    db.flush()?;
    remove_below(dir, upto)
}

/// Applies every segment left in `dir` to the trees (a crash came before they were
/// materialized) and deletes them. Returns the number for the next segment.
pub(crate) fn replay(db: &sled::Db, trees: &Trees, dir: &Path) -> Result<u64, StoreError> {
    if !dir.exists() {
        return Ok(0);
    }
    let found = segments(dir)?;
    let Some(next) = found.last().map(|(n, _)| n + 1) else {
        return Ok(0);
    };
    let mut layer = Layer::default();
    let mut records = 0;
    for (_, path) in &found {
        records += read_segment(path, &mut layer)?;
    }
    if records > 0 {
        tracing::info!(records, writes = layer.len(), "replaying the store journal");
    }
    materialize(db, trees, &layer, dir, next)?;
    Ok(next)
}

/// Copies the segments of `from` into `to` (created), for a backup taken while no
/// materialization runs: the copy replays them when opened.
pub(crate) fn copy(from: &Path, to: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(to)?;
    for (number, path) in segments(from)? {
        let copy = segment_path(to, number);
        fs::copy(&path, &copy)?;
        File::open(&copy)?.sync_all()?;
    }
    sync_dir(to)
}

/// Whether every segment in `dir` is empty (nothing waits for materialization on disk).
#[cfg(test)]
pub(crate) fn is_empty(dir: &Path) -> bool {
    segments(dir)
        .unwrap()
        .iter()
        .all(|(_, p)| fs::metadata(p).map(|m| m.len() == 0).unwrap_or(true))
}

/// Migration from schema version 2: applies the records a version 2 store left in its
/// `journal` tree (keyed by a u64 sequence number, each one payload as above), then drops
/// the tree.
pub(crate) fn replay_tree(db: &sled::Db) -> Result<(), StoreError> {
    let journal = db.open_tree(tree::JOURNAL)?;
    let mut layer = Layer::default();
    for item in journal.iter() {
        let (_, record) = item?;
        decode_into(&record, &mut layer)?;
    }
    if !layer.is_empty() {
        tracing::info!(
            writes = layer.len(),
            "replaying the journal of a version 2 store"
        );
        let trees = Trees::open(db)?;
        apply(&trees, &layer)?;
        db.flush()?;
    }
    drop(journal);
    db.drop_tree(tree::JOURNAL)?;
    db.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> (sled::Db, Trees, tempfile::TempDir) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let trees = Trees::open(&db).unwrap();
        let dir = tempfile::tempdir().unwrap();
        (db, trees, dir)
    }

    #[test]
    fn a_group_is_one_record_and_round_trips() {
        let (_db, _trees, dir) = temp();
        let mut journal = Journal::create(dir.path(), 0).unwrap();
        let mut group = Layer::default();
        for i in 0u32..2_000 {
            group.put(
                TreeId::Messages,
                i.to_be_bytes().to_vec(),
                Some(IVec::from(vec![7u8; 40])),
            );
        }
        group.put(TreeId::Due, vec![1, 2, 3], None);
        journal.append(&group).unwrap();
        journal.sync().unwrap();
        let mut back = Layer::default();
        let records = read_segment(&segment_path(dir.path(), 0), &mut back).unwrap();
        assert_eq!(records, 1);
        assert_eq!(back.len(), group.len());
        assert_eq!(back.get(TreeId::Due, &[1, 2, 3]), Some(None));
        assert_eq!(
            back.get(TreeId::Messages, &1999u32.to_be_bytes()),
            Some(Some(&IVec::from(vec![7u8; 40])))
        );
    }

    #[test]
    fn replay_applies_segments_in_order_and_empties_the_journal() {
        let (db, trees, dir) = temp();
        trees.due.insert([9], &[1]).unwrap();
        let mut journal = Journal::create(dir.path(), 0).unwrap();
        let mut first = Layer::default();
        first.put(TreeId::Due, vec![1], Some(IVec::from(b"old")));
        first.put(TreeId::Due, vec![9], None);
        journal.append(&first).unwrap();
        assert_eq!(journal.rotate().unwrap(), 1);
        let mut second = Layer::default();
        second.put(TreeId::Due, vec![1], Some(IVec::from(b"new")));
        journal.append(&second).unwrap();
        journal.sync().unwrap();
        drop(journal);
        assert_eq!(replay(&db, &trees, dir.path()).unwrap(), 2);
        assert_eq!(trees.due.get([1]).unwrap(), Some(IVec::from(b"new")));
        assert_eq!(trees.due.get([9]).unwrap(), None);
        assert!(segments(dir.path()).unwrap().is_empty());
        // Nothing left: a second replay changes nothing.
        assert_eq!(replay(&db, &trees, dir.path()).unwrap(), 0);
    }

    #[test]
    fn a_torn_last_record_is_ignored_and_the_ones_before_it_applied() {
        let (db, trees, dir) = temp();
        let mut journal = Journal::create(dir.path(), 4).unwrap();
        let mut kept = Layer::default();
        kept.put(TreeId::Due, vec![1], Some(IVec::from(b"kept")));
        journal.append(&kept).unwrap();
        let mut torn = Layer::default();
        torn.put(TreeId::Due, vec![2], Some(IVec::from(b"torn")));
        journal.append(&torn).unwrap();
        journal.sync().unwrap();
        drop(journal);
        // The machine stopped in the middle of the second record.
        let path = segment_path(dir.path(), 4);
        let len = fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        assert_eq!(replay(&db, &trees, dir.path()).unwrap(), 5);
        assert_eq!(trees.due.get([1]).unwrap(), Some(IVec::from(b"kept")));
        assert_eq!(trees.due.get([2]).unwrap(), None);
    }

    #[test]
    fn a_record_failing_its_checksum_ends_the_segment_not_the_journal() {
        let (db, trees, dir) = temp();
        let mut journal = Journal::create(dir.path(), 0).unwrap();
        let mut bad = Layer::default();
        bad.put(TreeId::Due, vec![1], Some(IVec::from(b"bad")));
        journal.append(&bad).unwrap();
        journal.rotate().unwrap();
        let mut good = Layer::default();
        good.put(TreeId::Due, vec![2], Some(IVec::from(b"good")));
        journal.append(&good).unwrap();
        journal.sync().unwrap();
        drop(journal);
        let path = segment_path(dir.path(), 0);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xFF;
        fs::write(&path, bytes).unwrap();
        replay(&db, &trees, dir.path()).unwrap();
        assert_eq!(trees.due.get([1]).unwrap(), None);
        assert_eq!(trees.due.get([2]).unwrap(), Some(IVec::from(b"good")));
    }

    #[test]
    fn materialize_removes_only_the_segments_below_the_freeze() {
        let (db, trees, dir) = temp();
        let mut journal = Journal::create(dir.path(), 0).unwrap();
        let mut frozen = Layer::default();
        frozen.put(TreeId::Due, vec![1], Some(IVec::from(b"frozen")));
        journal.append(&frozen).unwrap();
        let upto = journal.rotate().unwrap();
        let mut active = Layer::default();
        active.put(TreeId::Due, vec![2], Some(IVec::from(b"active")));
        journal.append(&active).unwrap();
        journal.sync().unwrap();
        materialize(&db, &trees, &frozen, dir.path(), upto).unwrap();
        assert_eq!(trees.due.get([1]).unwrap(), Some(IVec::from(b"frozen")));
        let left: Vec<u64> = segments(dir.path())
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(left, vec![upto]);
        assert!(!is_empty(dir.path()));
    }

    #[test]
    fn a_failed_append_moves_on_to_a_new_segment() {
        let (_db, _trees, dir) = temp();
        let mut journal = Journal::create(dir.path(), 0).unwrap();
        journal.broken = true;
        let mut group = Layer::default();
        group.put(TreeId::Due, vec![1], Some(IVec::from(b"x")));
        journal.append(&group).unwrap();
        assert_eq!(journal.segment, 1);
        assert!(!journal.broken);
    }

    #[test]
    fn a_version_2_journal_tree_is_applied_and_dropped() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let old = db.open_tree(tree::JOURNAL).unwrap();
        let mut payload = vec![VERSION];
        encode_entry(&mut payload, TreeId::Due, &[5], Some(&IVec::from(b"v2")));
        old.insert(0u64.to_be_bytes(), payload).unwrap();
        drop(old);
        replay_tree(&db).unwrap();
        let trees = Trees::open(&db).unwrap();
        assert_eq!(trees.due.get([5]).unwrap(), Some(IVec::from(b"v2")));
        assert!(
            !db.tree_names()
                .iter()
                .any(|n| n.as_ref() == tree::JOURNAL.as_bytes())
        );
    }

    #[test]
    fn damaged_payloads_are_reported_not_applied() {
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
