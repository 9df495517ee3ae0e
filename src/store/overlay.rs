//! Writes that are durable in the journal but not yet in their trees, and reads that see them.
//!
//! A [`Layer`] maps, per tree, a key to its newest value (`None`: removed). The writer stacks
//! layers newest first: the request being applied, the rest of its group, then the store's
//! `active` layer (every committed write since the last materialization) and its `frozen` one
//! (the writes being materialized right now). [`lookup`] and [`scan`] read through such a
//! stack down to sled's tree, so that every reader sees one store whatever has been
//! materialized yet.

use super::StoreError;
use super::layout::tree;
use sled::IVec;
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::ops::Bound;

/// A key in a layer, held inline up to 24 octets (ids, due and callback keys; longer ones,
/// carrier and idempotency keys, go to the heap): a layer holds up to hundreds of thousands
/// of keys, and a lookup compares a dozen or more of them without following a pointer each.
type LayerKey = SmallVec<[u8; 24]>;

/// The trees the journal covers: every tree but `meta` (written only at open, by the schema
/// check). The discriminant is the tree's number in a journal record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TreeId {
    Messages = 0,
    Due = 1,
    ReceiptWait = 2,
    CarrierKeys = 3,
    Idempotency = 4,
    IdempotencyAge = 5,
    Callbacks = 6,
    Counters = 7,
}

/// How many trees a layer holds.
const TREES: usize = 8;

impl TreeId {
    pub(crate) const ALL: [TreeId; TREES] = [
        Self::Messages,
        Self::Due,
        Self::ReceiptWait,
        Self::CarrierKeys,
        Self::Idempotency,
        Self::IdempotencyAge,
        Self::Callbacks,
        Self::Counters,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The tree numbered `n` in a journal record.
    pub(crate) fn from_number(n: u8) -> Option<Self> {
        Self::ALL.get(usize::from(n)).copied()
    }

    /// The tree's name on disk (and in error messages).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Messages => tree::MESSAGES,
            Self::Due => tree::DUE,
            Self::ReceiptWait => tree::RECEIPT_WAIT,
            Self::CarrierKeys => tree::CARRIER_KEYS,
            Self::Idempotency => tree::IDEMPOTENCY,
            Self::IdempotencyAge => tree::IDEMPOTENCY_AGE,
            Self::Callbacks => tree::CALLBACKS,
            Self::Counters => tree::COUNTERS,
        }
    }
}

/// One key's newest value in a layer.
#[derive(Debug, Clone)]
struct Entry {
    /// `None`: removed.
    value: Option<IVec>,
    /// Set by the layer's own first write of a key that no layer below and no tree holds: a
    /// removal then simply forgets the key instead of keeping a tombstone (an index entry
    /// that comes and goes between two materializations costs the trees nothing, and scans
    /// do not wade through dead keys).
    fresh: bool,
    /// The newest write says the key is about to change again (a queued or submitting
    /// message, a due entry): worth keeping in memory over one more materialization.
    hot: bool,
    /// Already kept over one materialization: the next one writes it whatever it is.
    carried: bool,
}

/// How a write is to be taken (see [`Entry`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WriteKind {
    /// Nothing below the layer holds the key.
    pub(crate) new: bool,
    /// The key is about to change again.
    pub(crate) hot: bool,
}

/// Newest values of some keys, per tree. `None` is a removal.
#[derive(Default, Debug)]
pub(crate) struct Layer {
    trees: [BTreeMap<LayerKey, Entry>; TREES],
    len: usize,
}

impl Layer {
    /// How many keys it holds, over every tree.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `Some(value)` if the layer holds `key` (`Some(None)`: removed here).
    pub(crate) fn get(&self, id: TreeId, key: &[u8]) -> Option<Option<&IVec>> {
        self.trees[id.index()].get(key).map(|e| e.value.as_ref())
    }

    /// Sets `key` to `value` (`None`: removes it).
    pub(crate) fn put(&mut self, id: TreeId, key: impl AsRef<[u8]>, value: Option<IVec>) {
        self.put_as(id, key, value, WriteKind::default());
    }

    /// Sets `key`, which the caller knows no layer below this one and no tree holds.
    pub(crate) fn put_new(&mut self, id: TreeId, key: impl AsRef<[u8]>, value: IVec) {
        let kind = WriteKind {
            new: true,
            hot: false,
        };
        self.put_as(id, key, Some(value), kind);
    }

    /// Sets `key` to `value`, taken as `kind` says.
    pub(crate) fn put_as(
        &mut self,
        id: TreeId,
        key: impl AsRef<[u8]>,
        value: Option<IVec>,
        kind: WriteKind,
    ) {
        let entry = Entry {
            fresh: kind.new && value.is_some(),
            hot: kind.hot,
            carried: false,
            value,
        };
        self.merge(id, LayerKey::from_slice(key.as_ref()), entry);
    }

    fn merge(&mut self, id: TreeId, key: LayerKey, entry: Entry) {
        use std::collections::btree_map::Entry as Slot;
        match self.trees[id.index()].entry(key) {
            Slot::Vacant(slot) => {
                slot.insert(entry);
                self.len += 1;
            }
            Slot::Occupied(mut slot) => {
                // Whether anything below holds the key was settled by the first write here.
                let old = slot.get();
                let (fresh, carried) = (old.fresh, old.carried || entry.carried);
                if fresh && entry.value.is_none() {
                    slot.remove();
                    self.len -= 1;
                } else {
                    slot.insert(Entry {
                        value: entry.value,
                        fresh,
                        hot: entry.hot,
                        carried,
                    });
                }
            }
        }
    }

    /// The writes worth keeping in memory over the next materialization: values that are
    /// fresh (in no tree yet), hot (about to change again) and not carried before. They come
    /// back marked carried, so that each is kept over one materialization at most.
    pub(crate) fn carry(&self) -> Layer {
        let mut out = Layer::default();
        for id in TreeId::ALL {
            let kept = self.trees[id.index()]
                .iter()
                .filter(|(_, e)| e.fresh && e.hot && !e.carried && e.value.is_some());
            for (k, e) in kept {
                out.trees[id.index()].insert(
                    k.clone(),
                    Entry {
                        carried: true,
                        ..e.clone()
                    },
                );
                out.len += 1;
            }
        }
        out
    }

    /// Forgets every key `other` holds.
    pub(crate) fn forget(&mut self, other: &Layer) {
        for id in TreeId::ALL {
            for k in other.trees[id.index()].keys() {
                if self.trees[id.index()].remove(k).is_some() {
                    self.len -= 1;
                }
            }
        }
    }

    /// Takes every write of `newer` (newer wins where both hold a key).
    pub(crate) fn absorb(&mut self, newer: Layer) {
        for (id, theirs) in TreeId::ALL.into_iter().zip(newer.trees) {
            if self.trees[id.index()].is_empty() {
                self.len += theirs.len();
                self.trees[id.index()] = theirs;
                continue;
            }
            for (k, entry) in theirs {
                self.merge(id, k, entry);
            }
        }
    }

    /// Every write of one tree, in key order.
    pub(crate) fn entries(
        &self,
        id: TreeId,
    ) -> impl DoubleEndedIterator<Item = (&[u8], Option<&IVec>)> {
        self.trees[id.index()]
            .iter()
            .map(|(k, e)| (k.as_slice(), e.value.as_ref()))
    }

    fn range<'a>(
        &'a self,
        id: TreeId,
        lo: Bound<&'a [u8]>,
        hi: Bound<&'a [u8]>,
    ) -> impl Iterator<Item = (&'a [u8], Option<&'a IVec>)> + 'a {
        self.trees[id.index()]
            .range::<[u8], _>((lo, hi))
            .map(|(k, e)| (k.as_slice(), e.value.as_ref()))
    }
}

/// The value of `key`: from the newest layer that holds it, else from the tree.
pub(crate) fn lookup(
    layers: &[&Layer],
    tree: &sled::Tree,
    id: TreeId,
    key: &[u8],
) -> Result<Option<IVec>, StoreError> {
    for layer in layers {
        if let Some(v) = layer.get(id, key) {
            return Ok(v.cloned());
        }
    }
    Ok(tree.get(key)?)
}

/// A key from a layer (borrowed) or from sled (owned).
enum Key<'a> {
    Layer(&'a [u8]),
    Tree(IVec),
}

impl Key<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Layer(k) => k,
            Self::Tree(k) => k,
        }
    }
}

type Source<'a> = Box<dyn Iterator<Item = Result<(Key<'a>, Option<IVec>), StoreError>> + 'a>;

/// Calls `f` with each live key and value of `id` within `(lo, hi)`, in key order, as the stack
/// of `layers` over `tree` has them (the newest layer holding a key decides; removals are
/// skipped). Stops when `f` returns false.
pub(crate) fn scan<'a>(
    layers: &[&'a Layer],
    tree: &'a sled::Tree,
    id: TreeId,
    lo: Bound<&'a [u8]>,
    hi: Bound<&'a [u8]>,
    mut f: impl FnMut(&[u8], &IVec) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    // Sources newest first; sled last, so that on equal keys the lowest index wins.
    let mut sources: Vec<Source<'a>> = Vec::with_capacity(layers.len() + 1);
    for layer in layers {
        sources.push(Box::new(
            layer
                .range(id, lo, hi)
                .map(|(k, v)| Ok((Key::Layer(k), v.cloned()))),
        ));
    }
    sources.push(Box::new(tree.range::<&[u8], _>((lo, hi)).map(|item| {
        item.map(|(k, v)| (Key::Tree(k), Some(v)))
            .map_err(StoreError::from)
    })));
    let mut heads = sources
        .iter_mut()
        .map(|s| s.next().transpose())
        .collect::<Result<Vec<_>, _>>()?;
    loop {
        let mut best: Option<(usize, &[u8])> = None;
        for (i, head) in heads.iter().enumerate() {
            if let Some((k, _)) = head
                && best.is_none_or(|(_, b)| k.bytes() < b)
            {
                best = Some((i, k.bytes()));
            }
        }
        let Some((w, _)) = best else {
            return Ok(());
        };
        let Some((key, value)) = heads[w].take() else {
            return Ok(());
        };
        heads[w] = sources[w].next().transpose()?;
        // Older sources holding the same key are shadowed by the winner.
        for i in w + 1..heads.len() {
            if heads[i]
                .as_ref()
                .is_some_and(|(k, _)| k.bytes() == key.bytes())
            {
                heads[i] = sources[i].next().transpose()?;
            }
        }
        if let Some(value) = value
            && !f(key.bytes(), &value)?
        {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(layers: &[&Layer], tree: &sled::Tree) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        scan(
            layers,
            tree,
            TreeId::Due,
            Bound::Unbounded,
            Bound::Unbounded,
            |k, v| {
                out.push((k.to_vec(), v.to_vec()));
                Ok(true)
            },
        )
        .unwrap();
        out
    }

    #[test]
    fn the_newest_layer_decides_and_removals_hide_older_values() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        for k in [1u8, 3, 5, 7] {
            tree.insert([k], vec![b't']).unwrap();
        }
        let mut older = Layer::default();
        older.put(TreeId::Due, vec![3], Some(IVec::from(b"o")));
        older.put(TreeId::Due, vec![4], Some(IVec::from(b"o")));
        older.put(TreeId::Due, vec![5], None);
        let mut newer = Layer::default();
        newer.put(TreeId::Due, vec![4], None);
        newer.put(TreeId::Due, vec![5], Some(IVec::from(b"n")));
        newer.put(TreeId::Due, vec![8], Some(IVec::from(b"n")));
        let got = collect(&[&newer, &older], &tree);
        let want: Vec<(Vec<u8>, Vec<u8>)> = [(1, "t"), (3, "o"), (5, "n"), (7, "t"), (8, "n")]
            .into_iter()
            .map(|(k, v)| (vec![k], v.as_bytes().to_vec()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            lookup(&[&newer, &older], &tree, TreeId::Due, &[4]).unwrap(),
            None
        );
        assert_eq!(
            lookup(&[&newer, &older], &tree, TreeId::Due, &[7]).unwrap(),
            Some(IVec::from(b"t"))
        );
        // Another tree of the same layers is untouched.
        assert_eq!(
            lookup(&[&newer, &older], &tree, TreeId::Messages, &[4]).unwrap(),
            None
        );
    }

    #[test]
    fn absorb_keeps_the_newer_value_and_counts_keys_once() {
        let mut a = Layer::default();
        a.put(TreeId::Due, vec![1], Some(IVec::from(b"a")));
        a.put(TreeId::Counters, vec![1], Some(IVec::from(b"a")));
        let mut b = Layer::default();
        b.put(TreeId::Due, vec![1], None);
        b.put(TreeId::Due, vec![2], Some(IVec::from(b"b")));
        a.absorb(b);
        assert_eq!(a.len(), 3);
        assert_eq!(a.get(TreeId::Due, &[1]), Some(None));
    }

    #[test]
    fn a_fresh_key_removed_leaves_no_tombstone() {
        let mut active = Layer::default();
        active.put_new(TreeId::Due, vec![1], IVec::from(b"a"));
        active.put(TreeId::Due, vec![2], Some(IVec::from(b"b")));
        // Rewritten, then removed in a later group: still fresh, so forgotten.
        let mut group = Layer::default();
        group.put(TreeId::Due, vec![1], Some(IVec::from(b"c")));
        active.absorb(group);
        let mut group = Layer::default();
        group.put(TreeId::Due, vec![1], None);
        group.put(TreeId::Due, vec![2], None);
        active.absorb(group);
        assert_eq!(active.get(TreeId::Due, &[1]), None, "forgotten");
        assert_eq!(active.get(TreeId::Due, &[2]), Some(None), "a tombstone");
        assert_eq!(active.len(), 1);
        // Within one layer too.
        let mut tx = Layer::default();
        tx.put_new(TreeId::Callbacks, vec![9], IVec::from(b"x"));
        tx.put(TreeId::Callbacks, vec![9], None);
        assert!(tx.is_empty());
    }
}
