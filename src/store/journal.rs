//! The journal: how a committed group of writes becomes durable with one `write` and one
//! `fdatasync`, and how it later reaches its trees.
//!
//! The journal is a directory of segment files (`<store>/journal/<number>.journal`) beside
//! sled's own files. A group (every write of the requests one commit covers) is appended to
//! the current segment as ONE record, checksummed, and the segment is synced once; the group
//! then lives in memory (the `active` layer, see `overlay`) until it is *materialized*: written
//! into its trees and flushed by sled, and only then are the segments that held it retired.
//! By then a message that went accepted → submitting → submitted has been rewritten in memory
//! three times but is written to its tree once, and index entries that came and went (`due`)
//! are never written at all. A freeze (the start of a materialization) starts a new segment,
//! so the frozen writes are exactly those of the segments numbered below it.
//!
//! A retired segment is deleted, or kept as a *spare* (`<number>.spare`, at most
//! [`SPARES_KEPT`]) that the next rotation renames into the new segment and writes over from
//! its start. Writing over blocks the file already has makes each `fdatasync` a data-only
//! flush: appending to a growing file also writes its inode and allocation metadata on every
//! sync (measured: about 30% less CPU and half the latency per sync on ext4). Whatever the
//! reused file held past the new records is left from its earlier life: every record names
//! its segment, so an old record is never taken for a new one.
//!
//! At open, [`replay`] applies whatever the segments still hold (a crash before
//! materialization) in order, then deletes them and any spares: records hold new values, not
//! deltas, so replaying them again after a crash during replay gives the same result. A record
//! cut short, failing its checksum or naming another segment ends its segment's replay: it is
//! the one being written when the machine stopped (never acknowledged), one whose write failed
//! (answered as not durable; the journal then moved to a new segment, so nothing acknowledged
//! follows it in that file), or what a reused file held before.
//!
//! # Segment format
//!
//! Records one after another: payload length (u32 big-endian), CRC-32 (IEEE) of the payload
//! (u32 big-endian), payload. A payload is one version octet (2), the number of the segment
//! it was written to (u64 big-endian), then entries: tree number (u8, [`TreeId`]), key length
//! (u32 big-endian), key, 0 (removed) or 1 (set), and when set the value length (u32
//! big-endian) and value. A length of 0 ends the segment (a file extended but never written).
//! Version 1 payloads (schema version 3 stores, whose segments were never reused) have no
//! segment number and are still read.
//!
//! Stores of schema version 2 kept version 1 payloads in a sled tree named `journal`;
//! [`replay_tree`] applies and drops it once (the migration to version 3).

use super::StoreError;
use super::layout::tree;
use super::overlay::{Layer, TreeId};
use super::tx::Trees;
use sled::IVec;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// The version octet of the payloads written: entries after the segment's number.
const VERSION: u8 = 2;

/// The version octet of payloads without a segment number (schema version 3 and the
/// version 2 journal tree).
const VERSION_1: u8 = 1;

/// Octets in front of a payload: its length and its checksum.
const HEADER: usize = 8;

/// Octets of a payload before its entries: the version and the segment number.
const PREFIX: usize = 1 + 8;

/// Writes into a tree per sled batch when materializing: a batch holds sled's write lock,
/// which readers of the trees wait for, so it stays short.
const APPLY_BATCH: usize = 512;

/// The extension of segment files.
const EXTENSION: &str = "journal";

/// The extension of spare segments, kept for reuse.
const SPARE_EXTENSION: &str = "spare";

/// Retired segments kept as spares, at most: a rotation needs one, and a second covers the
/// rotation that may come while the spare of the last materialization is being made.
pub(crate) const SPARES_KEPT: usize = 2;

/// Larger retired segments are deleted rather than kept (disk space after a burst).
const SPARE_MAX_LEN: u64 = 256 << 20;

/// A record buffer grown past this is released after its record is written.
const RECORD_BUFFER_KEPT: usize = 8 << 20;

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

/// `group` as one record for segment `segment`, header included, into `buf` (cleared first).
fn encode_record(buf: &mut Vec<u8>, segment: u64, group: &Layer) -> Result<(), StoreError> {
    buf.clear();
    buf.reserve(HEADER + PREFIX + group.len() * 64);
    buf.extend_from_slice(&[0; HEADER]);
    buf.push(VERSION);
    buf.extend_from_slice(&segment.to_be_bytes());
    for id in TreeId::ALL {
        for (key, value) in group.entries(id) {
            encode_entry(buf, id, key, value);
        }
    }
    let len = u32::try_from(buf.len() - HEADER)
        .map_err(|_| damaged("a group of more than 4 GiB cannot be journaled"))?;
    let crc = crc32fast::hash(&buf[HEADER..]);
    buf[..4].copy_from_slice(&len.to_be_bytes());
    buf[4..HEADER].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

fn damaged(detail: impl Into<String>) -> StoreError {
    StoreError::Encoding {
        tree: tree::JOURNAL,
        detail: detail.into(),
    }
}

/// The file of segment `number`.
fn segment_path(dir: &Path, number: u64) -> PathBuf {
    numbered_path(dir, number, EXTENSION)
}

/// The spare made of segment `number`.
fn spare_path(dir: &Path, number: u64) -> PathBuf {
    numbered_path(dir, number, SPARE_EXTENSION)
}

/// The file named by `number` with `extension`, as [`numbered`] lists them.
fn numbered_path(dir: &Path, number: u64, extension: &str) -> PathBuf {
    dir.join(format!("{number:020}.{extension}"))
}

/// The files in `dir` with extension `extension` and a number for a name, by number. Other
/// files are left alone.
fn numbered(dir: &Path, extension: &str) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(extension) {
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

/// The segments in `dir`, by number.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    numbered(dir, EXTENSION)
}

/// Makes the directory's entries (files created, renamed or removed) durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Retired segments ready to be written over, shared by the writer (which takes them at a
/// rotation) and the materialization (which makes them).
#[derive(Default)]
pub(crate) struct Spares(Mutex<Vec<PathBuf>>);

impl Spares {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PathBuf>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self) -> Option<PathBuf> {
        self.lock().pop()
    }

    /// How many are kept now.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// The segment being appended to. Only the writer holds it.
pub(crate) struct Journal {
    dir: PathBuf,
    file: File,
    segment: u64,
    /// Where the next record goes: the end of the records, not of the file (a reused file is
    /// longer).
    offset: u64,
    /// A write or a sync failed: what the file holds past the last good record is unknown,
    /// so the next append starts a new segment.
    broken: bool,
    /// The buffer records are encoded into, kept between appends.
    record: Vec<u8>,
    spares: Arc<Spares>,
}

impl Journal {
    /// Starts segment `number` in `dir` (created if missing), after [`replay`] emptied it.
    pub(crate) fn create(dir: &Path, number: u64) -> Result<Journal, StoreError> {
        fs::create_dir_all(dir)?;
        let spares = Arc::new(Spares::default());
        let file = open_segment(dir, number, &spares)?;
        Ok(Journal {
            dir: dir.to_owned(),
            file,
            segment: number,
            offset: 0,
            broken: false,
            record: Vec::new(),
            spares,
        })
    }

    /// The spares this journal takes its segments from, for the materialization to fill.
    pub(crate) fn spares(&self) -> Arc<Spares> {
        Arc::clone(&self.spares)
    }

    /// Appends `group` as one record; durable after the next [`Journal::sync`].
    pub(crate) fn append(&mut self, group: &Layer) -> Result<(), StoreError> {
        if self.broken {
            self.rotate()?;
        }
        encode_record(&mut self.record, self.segment, group)?;
        let written = self.file.write_all_at(&self.record, self.offset);
        let len = self.record.len() as u64;
        if self.record.capacity() > RECORD_BUFFER_KEPT {
            self.record = Vec::new();
        }
        if let Err(e) = written {
            self.broken = true;
            return Err(e.into());
        }
        self.offset += len;
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
        self.file = open_segment(&self.dir, next, &self.spares)?;
        self.segment = next;
        self.offset = 0;
        self.broken = false;
        Ok(next)
    }
}

/// Opens segment `number` for writing from its start, made of a spare when there is one (its
/// old records name another segment) and created empty otherwise, and makes its directory
/// entry durable.
fn open_segment(dir: &Path, number: u64, spares: &Spares) -> Result<File, StoreError> {
    let path = segment_path(dir, number);
    let reused = spares
        .take()
        .is_some_and(|spare| match fs::rename(&spare, &path) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(
                    spare = %spare.display(),
                    error = %e,
                    "cannot reuse a spare journal segment; creating one"
                );
                let _ = fs::remove_file(&spare);
                false
            }
        });
    let mut options = OpenOptions::new();
    options.write(true);
    if !reused {
        options.create(true).truncate(true);
    }
    let file = options.open(&path)?;
    sync_dir(dir)?;
    Ok(file)
}

/// Reads the entries of one payload into `into` (later entries win).
fn decode_into(entries: &[u8], into: &mut Layer) -> Result<(), StoreError> {
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
    let mut rest = entries;
    while !rest.is_empty() {
        let number = take(&mut rest, 1)?[0];
        let id = TreeId::from_number(number)
            .ok_or_else(|| damaged(format!("unknown tree number {number}")))?;
        let key_len = length(&mut rest)?;
        let key = take(&mut rest, key_len)?;
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

/// Reads a version 1 payload (no segment number) into `into`.
fn decode_version_1(payload: &[u8], into: &mut Layer) -> Result<(), StoreError> {
    match payload.split_first() {
        Some((&VERSION_1, entries)) => decode_into(entries, into),
        Some((v, _)) => Err(damaged(format!("unknown record version {v}"))),
        None => Err(damaged("empty record")),
    }
}

/// Where a segment's records end, and why there.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// At the end of the file.
    File,
    /// At a zero length: a file extended but not written.
    Zeros,
    /// At a record of another segment: what a reused file held before.
    Older,
    /// At a record cut short or failing its checksum.
    Incomplete,
}

/// Reads the records of segment `number` at `path` into `into`; returns how many, and where
/// they ended. Stops at the end of the records (see the module docs).
fn read_segment(path: &Path, number: u64, into: &mut Layer) -> Result<(u64, End), StoreError> {
    let bytes = fs::read(path)?;
    let mut rest = &bytes[..];
    let mut records = 0;
    let end = loop {
        if rest.is_empty() {
            break End::File;
        }
        let offset = bytes.len() - rest.len();
        let header = rest.get(..HEADER).and_then(|h| {
            let len = u32::from_be_bytes(h[..4].try_into().ok()?) as usize;
            let crc = u32::from_be_bytes(h[4..].try_into().ok()?);
            Some((len, crc))
        });
        if matches!(header, Some((0, _))) {
            break End::Zeros;
        }
        let payload = header.and_then(|(len, crc)| {
            let payload = rest.get(HEADER..HEADER + len)?;
            (crc32fast::hash(payload) == crc).then_some((payload, HEADER + len))
        });
        let Some((payload, used)) = payload else {
            // Never acknowledged: the record being written when the machine stopped, or the
            // middle of an older record of a reused file.
            tracing::info!(
                segment = %path.display(),
                offset,
                ignored = rest.len(),
                "store journal segment ends with an incomplete record (never acknowledged)"
            );
            break End::Incomplete;
        };
        match payload.first() {
            Some(&VERSION) => {
                let written_to = payload
                    .get(1..PREFIX)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| damaged("record ends inside its segment number"))?;
                if written_to != number {
                    break End::Older;
                }
                decode_into(&payload[PREFIX..], into)?;
            }
            _ => decode_version_1(payload, into)?,
        }
        records += 1;
        rest = &rest[used..];
    };
    Ok((records, end))
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

/// Retires the segments numbered below `upto`: kept as spares (into `spares`, while it holds
/// fewer than [`SPARES_KEPT`]) or deleted, and makes that durable (so that a crash never
/// brings back an older segment once newer writes reached the trees: replaying it would
/// restore old values).
fn retire_below(dir: &Path, upto: u64, spares: Option<&Spares>) -> Result<(), StoreError> {
    let mut changed = false;
    let mut kept = Vec::new();
    let room = spares.map_or(0, |s| SPARES_KEPT.saturating_sub(s.len()));
    for (number, path) in segments(dir)? {
        if number >= upto {
            continue;
        }
        changed = true;
        if kept.len() < room {
            let len = fs::metadata(&path)?.len();
            if len > 0 && len <= SPARE_MAX_LEN {
                let spare = spare_path(dir, number);
                if fs::rename(&path, &spare).is_ok() {
                    kept.push(spare);
                    continue;
                }
            }
        }
        fs::remove_file(&path)?;
    }
    if changed {
        sync_dir(dir)?;
    }
    // Offered only once their new names are durable.
    if let Some(spares) = spares {
        spares.lock().extend(kept);
    }
    Ok(())
}

/// Writes `layer` (every write of the segments below `upto`) into its trees, flushes, and
/// retires those segments (kept in `spares` for reuse when given, else deleted).
pub(crate) fn materialize(
    db: &sled::Db,
    trees: &Trees,
    layer: &Layer,
    dir: &Path,
    upto: u64,
    spares: Option<&Spares>,
) -> Result<(), StoreError> {
    apply(trees, layer)?;
    // The trees must be durable before the segments that stand for them go.
    db.flush()?;
    retire_below(dir, upto, spares)
}

/// Applies every segment left in `dir` to the trees (a crash came before they were
/// materialized) and deletes them, and the spares an earlier run left (a run reuses only the
/// spares its own materializations make, whose records name segments below any they become).
/// Returns the number for the next segment.
pub(crate) fn replay(db: &sled::Db, trees: &Trees, dir: &Path) -> Result<u64, StoreError> {
    if !dir.exists() {
        return Ok(0);
    }
    let leftover = numbered(dir, SPARE_EXTENSION)?;
    for (_, path) in &leftover {
        fs::remove_file(path)?;
    }
    if !leftover.is_empty() {
        sync_dir(dir)?;
    }
    let found = segments(dir)?;
    let Some(next) = found.last().map(|(n, _)| n + 1) else {
        return Ok(0);
    };
    let mut layer = Layer::default();
    let mut records = 0;
    for (number, path) in &found {
        records += read_segment(path, *number, &mut layer)?.0;
    }
    if records > 0 {
        tracing::info!(records, writes = layer.len(), "replaying the store journal");
    }
    materialize(db, trees, &layer, dir, next, None)?;
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

/// Whether no segment in `dir` holds a record (nothing waits for materialization on disk).
#[cfg(test)]
pub(crate) fn is_empty(dir: &Path) -> bool {
    segments(dir).unwrap().iter().all(|(number, path)| {
        read_segment(path, *number, &mut Layer::default())
            .map(|(records, _)| records == 0)
            .unwrap_or(true)
    })
}

/// Migration from schema version 2: applies the records a version 2 store left in its
/// `journal` tree (keyed by a u64 sequence number, each one payload as above), then drops
/// the tree.
pub(crate) fn replay_tree(db: &sled::Db) -> Result<(), StoreError> {
    let journal = db.open_tree(tree::JOURNAL)?;
    let mut layer = Layer::default();
    for item in journal.iter() {
        let (_, record) = item?;
        decode_version_1(&record, &mut layer)?;
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

    /// A group of one write: `due` entry `[key]` set to `value`.
    fn due(key: u8, value: &[u8]) -> Layer {
        let mut group = Layer::default();
        group.put(TreeId::Due, [key], Some(IVec::from(value)));
        group
    }

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
                i.to_be_bytes(),
                Some(IVec::from(vec![7u8; 40])),
            );
        }
        group.put(TreeId::Due, vec![1, 2, 3], None);
        journal.append(&group).unwrap();
        journal.sync().unwrap();
        let mut back = Layer::default();
        let read = read_segment(&segment_path(dir.path(), 0), 0, &mut back).unwrap();
        assert_eq!(read, (1, End::File));
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
        let second = due(1, b"new");
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

    /// Makes the file at `path` `by` octets longer (zeros) or shorter.
    fn resize(path: &Path, by: i64) {
        let len = fs::metadata(path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(path)
            .unwrap()
            .set_len(len.checked_add_signed(by).unwrap())
            .unwrap();
    }

    #[test]
    fn a_torn_last_record_is_ignored_and_the_ones_before_it_applied() {
        let (db, trees, dir) = temp();
        let mut journal = Journal::create(dir.path(), 4).unwrap();
        let kept = due(1, b"kept");
        journal.append(&kept).unwrap();
        let torn = due(2, b"torn");
        journal.append(&torn).unwrap();
        journal.sync().unwrap();
        drop(journal);
        // The machine stopped in the middle of the second record.
        resize(&segment_path(dir.path(), 4), -3);
        assert_eq!(replay(&db, &trees, dir.path()).unwrap(), 5);
        assert_eq!(trees.due.get([1]).unwrap(), Some(IVec::from(b"kept")));
        assert_eq!(trees.due.get([2]).unwrap(), None);
    }

    #[test]
    fn a_record_failing_its_checksum_ends_the_segment_not_the_journal() {
        let (db, trees, dir) = temp();
        let mut journal = Journal::create(dir.path(), 0).unwrap();
        let bad = due(1, b"bad");
        journal.append(&bad).unwrap();
        journal.rotate().unwrap();
        let good = due(2, b"good");
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
        let frozen = due(1, b"frozen");
        journal.append(&frozen).unwrap();
        let upto = journal.rotate().unwrap();
        let active = due(2, b"active");
        journal.append(&active).unwrap();
        journal.sync().unwrap();
        materialize(&db, &trees, &frozen, dir.path(), upto, None).unwrap();
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
        let group = due(1, b"x");
        journal.append(&group).unwrap();
        assert_eq!(journal.segment, 1);
        assert!(!journal.broken);
    }

    #[test]
    fn a_version_2_journal_tree_is_applied_and_dropped() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let old = db.open_tree(tree::JOURNAL).unwrap();
        let mut payload = vec![VERSION_1];
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
                decode_version_1(bad, &mut layer),
                Err(StoreError::Encoding { .. })
            ));
        }
        assert!(layer.is_empty());
    }

    /// A record of segment `number` as written before segments named themselves.
    fn version_1_record(id: TreeId, key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut payload = vec![VERSION_1];
        encode_entry(&mut payload, id, key, Some(&IVec::from(value)));
        let mut record = (payload.len() as u32).to_be_bytes().to_vec();
        record.extend_from_slice(&crc32fast::hash(&payload).to_be_bytes());
        record.extend_from_slice(&payload);
        record
    }

    #[test]
    fn segments_of_a_version_3_store_are_replayed() {
        let (db, trees, dir) = temp();
        let mut bytes = version_1_record(TreeId::Due, &[1], b"one");
        bytes.extend(version_1_record(TreeId::Due, &[2], b"two"));
        fs::write(segment_path(dir.path(), 7), bytes).unwrap();
        assert_eq!(replay(&db, &trees, dir.path()).unwrap(), 8);
        assert_eq!(trees.due.get([1]).unwrap(), Some(IVec::from(b"one")));
        assert_eq!(trees.due.get([2]).unwrap(), Some(IVec::from(b"two")));
    }

    /// A crash can leave a file longer than what was written to it (its size raised, its
    /// data never written): the zeros end the segment instead of failing the open.
    #[test]
    fn zeros_after_the_records_end_the_segment() {
        let (db, trees, dir) = temp();
        let mut journal = Journal::create(dir.path(), 0).unwrap();
        let group = due(1, b"kept");
        journal.append(&group).unwrap();
        journal.sync().unwrap();
        drop(journal);
        let path = segment_path(dir.path(), 0);
        resize(&path, 4096);
        let read = read_segment(&path, 0, &mut Layer::default()).unwrap();
        assert_eq!(read, (1, End::Zeros));
        assert_eq!(replay(&db, &trees, dir.path()).unwrap(), 1);
        assert_eq!(trees.due.get([1]).unwrap(), Some(IVec::from(b"kept")));
    }

    /// Writes a group to the current segment, rotates, and materializes it with spares kept.
    fn retire(journal: &mut Journal, db: &sled::Db, trees: &Trees, dir: &Path, value: &[u8]) {
        let mut group = Layer::default();
        for key in 0u8..50 {
            group.put(TreeId::Due, vec![key], Some(IVec::from(value)));
        }
        journal.append(&group).unwrap();
        journal.sync().unwrap();
        let upto = journal.rotate().unwrap();
        let spares = journal.spares();
        materialize(db, trees, &group, dir, upto, Some(&spares)).unwrap();
    }

    #[test]
    fn retired_segments_are_reused_and_their_old_records_never_replayed() {
        let (db, trees, dir) = temp();
        let mut journal = Journal::create(dir.path(), 0).unwrap();
        // Segment 0 becomes a spare when it is materialized …
        retire(&mut journal, &db, &trees, dir.path(), b"zero");
        assert_eq!(journal.spares().len(), 1);
        let spare_names: Vec<u64> = numbered(dir.path(), SPARE_EXTENSION)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(spare_names, vec![0]);
        // … and the next rotation makes segment 2 of it: no new file, full of old records.
        retire(&mut journal, &db, &trees, dir.path(), b"one");
        assert_eq!(journal.segment, 2);
        let path = segment_path(dir.path(), 2);
        let old_len = fs::metadata(&path).unwrap().len();
        assert!(old_len > 0);
        // A record shorter than the old ones: the rest of the file is segment 0's.
        let short = due(200, b"new");
        journal.append(&short).unwrap();
        journal.sync().unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), old_len);
        assert!(old_len > journal.offset);
        let mut back = Layer::default();
        let (records, end) = read_segment(&path, 2, &mut back).unwrap();
        assert_eq!((records, back.len()), (1, 1));
        assert_ne!(end, End::File);
        // Replayed after a crash: only the new record comes back.
        trees.due.remove([7]).unwrap();
        drop(journal);
        assert_eq!(replay(&db, &trees, dir.path()).unwrap(), 3);
        assert_eq!(trees.due.get([200]).unwrap(), Some(IVec::from(b"new")));
        assert_eq!(trees.due.get([7]).unwrap(), None);
    }

    /// An old record exactly where a new one would start (a reused file whose first record
    /// was as long as the new one) names its segment, and ends the replay.
    #[test]
    fn a_record_naming_another_segment_ends_the_segment() {
        let old = due(1, b"old");
        let new = due(2, b"new");
        let mut bytes = Vec::new();
        let mut record = Vec::new();
        encode_record(&mut record, 9, &new).unwrap();
        bytes.extend_from_slice(&record);
        encode_record(&mut record, 4, &old).unwrap();
        bytes.extend_from_slice(&record);
        let dir = tempfile::tempdir().unwrap();
        let path = segment_path(dir.path(), 9);
        fs::write(&path, bytes).unwrap();
        let mut back = Layer::default();
        assert_eq!(read_segment(&path, 9, &mut back).unwrap(), (1, End::Older));
        assert_eq!(back.get(TreeId::Due, &[1]), None);
        assert!(back.get(TreeId::Due, &[2]).is_some());
    }

    #[test]
    fn at_most_the_kept_number_of_spares_is_kept() {
        let (db, trees, dir) = temp();
        let mut journal = Journal::create(dir.path(), 0).unwrap();
        let group = due(1, b"x");
        for _ in 0..4 {
            journal.append(&group).unwrap();
            journal.rotate().unwrap();
        }
        let spares = journal.spares();
        materialize(&db, &trees, &group, dir.path(), 4, Some(&spares)).unwrap();
        assert_eq!(spares.len(), SPARES_KEPT);
        assert_eq!(
            numbered(dir.path(), SPARE_EXTENSION).unwrap().len(),
            SPARES_KEPT
        );
        let left: Vec<u64> = segments(dir.path())
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(left, vec![4]);
    }

    /// This run's spares come from its own materializations only (their records name
    /// segments below any they become); an earlier run's are deleted.
    #[test]
    fn spares_left_by_an_earlier_run_are_deleted_at_open() {
        let (db, trees, dir) = temp();
        let mut journal = Journal::create(dir.path(), 0).unwrap();
        retire(&mut journal, &db, &trees, dir.path(), b"old");
        assert_eq!(numbered(dir.path(), SPARE_EXTENSION).unwrap().len(), 1);
        drop(journal);
        assert_eq!(replay(&db, &trees, dir.path()).unwrap(), 2);
        assert!(numbered(dir.path(), SPARE_EXTENSION).unwrap().is_empty());
        assert!(segments(dir.path()).unwrap().is_empty());
    }
}
