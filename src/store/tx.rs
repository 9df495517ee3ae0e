//! The trees, and what one write request does to them.
//!
//! A request runs against a [`Tx`]: it reads through the layers of writes not yet in the trees
//! (see `overlay`) and collects its own writes in a layer of its own, which the writer adds to
//! its group only if the request succeeds. A request that fails (an idempotency key in use, a
//! duplicate id, an undecodable record) so leaves nothing behind, as an aborted transaction
//! would.

use super::layout::{self, tree};
use super::overlay::{self, Layer, TreeId, WriteKind};
use super::{CallbackRecord, IdempotencyRecord, StoreError, Transition};
use crate::outbox::{Event, Message, MessageId, MessageState, UnixMillis, apply};
use serde::{Deserialize, Serialize};
use sled::IVec;
use std::borrow::Cow;
use std::ops::Bound;

/// The result type of a request.
pub(crate) type TxResult<T> = Result<T, StoreError>;

/// What the `messages` tree holds for one message: the message and the store's own
/// bookkeeping for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MessageRecord {
    pub(crate) message: Message,
    /// The receipt-matching keys from `SubmitOk`, one per part, under `message.routed_to`;
    /// kept so the `carrier_keys` entries can be removed when the message settles.
    pub(crate) carrier_keys: Vec<String>,
    /// The sequence number of the next callback of this message.
    pub(crate) next_callback_seq: u64,
}

/// A [`MessageRecord`] by reference: what `put` writes, encoded exactly as the record (postcard
/// writes `&T` as `T` and a slice as a `Vec`), so that nothing is cloned to write it.
#[derive(Serialize, Clone, Copy)]
pub(crate) struct RecordRef<'a> {
    pub(crate) message: &'a Message,
    pub(crate) carrier_keys: &'a [String],
    pub(crate) next_callback_seq: u64,
}

impl<'a> From<&'a MessageRecord> for RecordRef<'a> {
    fn from(rec: &'a MessageRecord) -> Self {
        Self {
            message: &rec.message,
            carrier_keys: &rec.carrier_keys,
            next_callback_seq: rec.next_callback_seq,
        }
    }
}

/// True while the message still needs work or news: not terminal, and not done either (a
/// `submitted` message without a receipt request is done at submit, though its state is not
/// terminal). Counted in the backlog; owns carrier keys.
pub(crate) fn is_open(m: &Message) -> bool {
    !m.state.is_terminal() && m.done_at.is_none()
}

/// The secondary index entries a record should have.
struct Entries {
    due: Option<[u8; 24]>,
    receipt_wait: Option<[u8; 24]>,
    carrier: Vec<(Vec<u8>, [u8; 20])>,
}

impl Entries {
    fn of(rec: RecordRef<'_>) -> Self {
        let m = rec.message;
        let due = (m.state == MessageState::Queued).then(|| layout::timed_id_key(m.due_at, m.id));
        let waiting = m.state == MessageState::Submitted && m.done_at.is_none();
        let receipt_wait = match (waiting, m.submitted_at) {
            (true, Some(at)) => Some(layout::timed_id_key(at, m.id)),
            _ => None,
        };
        let carrier = match (&m.routed_to, is_open(m)) {
            (Some(carrier), true) => rec
                .carrier_keys
                .iter()
                .enumerate()
                .map(|(part, key)| {
                    (
                        layout::carrier_key(carrier, key),
                        layout::carrier_value(m.id, part),
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        Self {
            due,
            receipt_wait,
            carrier,
        }
    }
}

/// What a stored record adds to the indexes and the counters, taken before an event changes
/// it: what writing its next version removes.
struct Indexed {
    entries: Entries,
    state: MessageState,
    open: bool,
}

impl Indexed {
    fn of(rec: RecordRef<'_>) -> Self {
        Self {
            entries: Entries::of(rec),
            state: rec.message.state,
            open: is_open(rec.message),
        }
    }
}

/// Changes to the counters within one request, written once at its end.
#[derive(Default)]
pub(crate) struct Counts {
    states: [i64; MessageState::ALL.len()],
    open: i64,
}

impl Counts {
    fn add(&mut self, state: MessageState, open: bool, sign: i64) {
        let i = MessageState::ALL
            .iter()
            .position(|s| *s == state)
            .expect("MessageState::ALL lists every state");
        self.states[i] += sign;
        if open {
            self.open += sign;
        }
    }
}

/// Every tree, opened once.
#[derive(Clone)]
pub(crate) struct Trees {
    pub(crate) messages: sled::Tree,
    pub(crate) due: sled::Tree,
    pub(crate) receipt_wait: sled::Tree,
    pub(crate) carrier_keys: sled::Tree,
    pub(crate) idempotency: sled::Tree,
    pub(crate) idempotency_age: sled::Tree,
    pub(crate) callbacks: sled::Tree,
    pub(crate) counters: sled::Tree,
    pub(crate) meta: sled::Tree,
}

impl Trees {
    pub(crate) fn open(db: &sled::Db) -> Result<Self, sled::Error> {
        Ok(Self {
            messages: db.open_tree(tree::MESSAGES)?,
            due: db.open_tree(tree::DUE)?,
            receipt_wait: db.open_tree(tree::RECEIPT_WAIT)?,
            carrier_keys: db.open_tree(tree::CARRIER_KEYS)?,
            idempotency: db.open_tree(tree::IDEMPOTENCY)?,
            idempotency_age: db.open_tree(tree::IDEMPOTENCY_AGE)?,
            callbacks: db.open_tree(tree::CALLBACKS)?,
            counters: db.open_tree(tree::COUNTERS)?,
            meta: db.open_tree(tree::META)?,
        })
    }

    /// The tree named `name` (one of `tree::ALL`).
    pub(crate) fn by_name(&self, name: &str) -> Option<&sled::Tree> {
        match name {
            tree::META => Some(&self.meta),
            _ => TreeId::ALL
                .into_iter()
                .find(|id| id.name() == name)
                .map(|id| self.tree(id)),
        }
    }

    /// The tree of `id`.
    pub(crate) fn tree(&self, id: TreeId) -> &sled::Tree {
        match id {
            TreeId::Messages => &self.messages,
            TreeId::Due => &self.due,
            TreeId::ReceiptWait => &self.receipt_wait,
            TreeId::CarrierKeys => &self.carrier_keys,
            TreeId::Idempotency => &self.idempotency,
            TreeId::IdempotencyAge => &self.idempotency_age,
            TreeId::Callbacks => &self.callbacks,
            TreeId::Counters => &self.counters,
        }
    }

    /// Rebuilds the counters from the messages (a store without them: version 0, or damaged
    /// counters). A full scan; runs only at open.
    pub(crate) fn recount(&self) -> Result<u64, StoreError> {
        let mut counts = Counts::default();
        for item in self.messages.iter() {
            let (_, v) = item?;
            let rec: MessageRecord = layout::decode(tree::MESSAGES, &v)?;
            counts.add(rec.message.state, is_open(&rec.message), 1);
        }
        let mut batch = sled::Batch::default();
        for (state, n) in MessageState::ALL.iter().zip(counts.states) {
            batch.insert(layout::state_counter(*state), &(n as u64).to_be_bytes());
        }
        batch.insert(layout::OPEN_COUNTER, &(counts.open as u64).to_be_bytes());
        self.counters.apply_batch(batch)?;
        Ok(counts.open as u64)
    }
}

/// One request's view of the store: its own writes over `below` (newest first) over the trees.
pub(crate) struct Tx<'a> {
    trees: &'a Trees,
    below: &'a [&'a Layer],
    writes: Layer,
    /// Every id in the `messages` tree is at most this (ids only grow, so a new one above it
    /// need not be looked for in the tree).
    messages_up_to: MessageId,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(trees: &'a Trees, below: &'a [&'a Layer], messages_up_to: MessageId) -> Self {
        Self {
            trees,
            below,
            writes: Layer::default(),
            messages_up_to,
        }
    }

    /// The request's writes.
    pub(crate) fn into_writes(self) -> Layer {
        self.writes
    }

    fn get(&self, id: TreeId, key: &[u8]) -> TxResult<Option<IVec>> {
        if let Some(v) = self.writes.get(id, key) {
            return Ok(v.cloned());
        }
        overlay::lookup(self.below, self.trees.tree(id), id, key)
    }

    fn insert(&mut self, id: TreeId, key: &[u8], value: impl Into<IVec>) {
        self.writes.put(id, key, Some(value.into()));
    }

    /// Sets `key`, which nothing in the store holds yet (see `Layer::put_new`).
    fn insert_new(&mut self, id: TreeId, key: &[u8], value: impl Into<IVec>) {
        self.writes.put_new(id, key, value.into());
    }

    /// Sets `key`, taken as `kind` says (see `overlay::WriteKind`).
    fn insert_as(&mut self, id: TreeId, key: &[u8], value: impl Into<IVec>, kind: WriteKind) {
        self.writes.put_as(id, key, Some(value.into()), kind);
    }

    fn remove(&mut self, id: TreeId, key: &[u8]) {
        self.writes.put(id, key, None);
    }

    fn record(&self, id: MessageId) -> TxResult<Option<MessageRecord>> {
        match self.get(TreeId::Messages, &layout::id_key(id))? {
            Some(v) => Ok(Some(layout::decode(tree::MESSAGES, &v)?)),
            None => Ok(None),
        }
    }

    /// Writes `new` in place of `old` with its index entries, and notes the counter changes.
    fn put(
        &mut self,
        old: Option<Indexed>,
        new: RecordRef<'_>,
        counts: &mut Counts,
    ) -> TxResult<()> {
        let old_state = old.as_ref().map(|o| o.state);
        if let Some(old) = old {
            let entries = old.entries;
            if let Some(k) = entries.due {
                self.remove(TreeId::Due, &k);
            }
            if let Some(k) = entries.receipt_wait {
                self.remove(TreeId::ReceiptWait, &k);
            }
            for (k, v) in entries.carrier {
                // A carrier may reuse an id for a later message: remove only our own entry.
                if self.get(TreeId::CarrierKeys, &k)?.as_deref() == Some(&v[..]) {
                    self.remove(TreeId::CarrierKeys, &k);
                }
            }
            counts.add(old.state, old.open, -1);
        }
        let id = new.message.id;
        let record = layout::encode(tree::MESSAGES, &new)?;
        let entries = Entries::of(new);
        // A new message (`accept` checked its id): no key of it exists yet. A queued or
        // submitting one is about to change again, and so is its due entry.
        let in_flux = matches!(
            new.message.state,
            MessageState::Queued | MessageState::Submitting
        );
        let kind = |hot| WriteKind {
            new: old_state.is_none(),
            hot,
        };
        self.insert_as(TreeId::Messages, &layout::id_key(id), record, kind(in_flux));
        if let Some(k) = entries.due {
            self.insert_as(TreeId::Due, &k, &[], kind(true));
        }
        if let Some(k) = entries.receipt_wait {
            // Carries the time of the message's one entry into `submitted`: new then.
            if old_state.is_some_and(|state| state != MessageState::Submitted) {
                self.insert_new(TreeId::ReceiptWait, &k, &[]);
            } else {
                self.insert(TreeId::ReceiptWait, &k, &[]);
            }
        }
        for (k, v) in entries.carrier {
            self.insert(TreeId::CarrierKeys, &k, &v[..]);
        }
        counts.add(new.message.state, is_open(new.message), 1);
        Ok(())
    }

    fn write_counts(&mut self, counts: &Counts) -> TxResult<()> {
        let states = MessageState::ALL.iter().zip(counts.states);
        let changes = states
            .filter(|(_, d)| *d != 0)
            .map(|(s, d)| (layout::state_counter(*s), d))
            .chain((counts.open != 0).then(|| (layout::OPEN_COUNTER.to_vec(), counts.open)));
        for (key, delta) in changes {
            let now = layout::counter_value(self.get(TreeId::Counters, &key)?.as_deref());
            let next = now.saturating_add_signed(delta);
            self.insert(TreeId::Counters, &key, &next.to_be_bytes());
        }
        Ok(())
    }

    /// `accept`: the idempotency record, then every message, or nothing.
    pub(crate) fn accept(
        &mut self,
        messages: &[Message],
        idem: Option<&IdempotencyRecord>,
    ) -> TxResult<()> {
        if let Some(rec) = idem {
            let key = layout::idempotency_key(&rec.owner, &rec.key);
            if let Some(existing) = self.get(TreeId::Idempotency, &key)? {
                let existing = layout::decode(tree::IDEMPOTENCY, &existing)?;
                return Err(StoreError::IdempotencyExists(Box::new(existing)));
            }
            let age_key = layout::idempotency_age_key(rec.created_at, &key);
            self.insert(TreeId::IdempotencyAge, &age_key, &[]);
            let record = layout::encode(tree::IDEMPOTENCY, rec)?;
            self.insert_new(TreeId::Idempotency, &key, record);
        }
        let mut counts = Counts::default();
        for m in messages {
            let key = layout::id_key(m.id);
            let exists = if m.id > self.messages_up_to {
                // Not in the tree: only the layers can hold it.
                let layers = std::iter::once(&self.writes).chain(self.below.iter().copied());
                layers
                    .filter_map(|layer| layer.get(TreeId::Messages, &key))
                    .next()
                    .is_some_and(|v| v.is_some())
            } else {
                self.get(TreeId::Messages, &key)?.is_some()
            };
            if exists {
                return Err(StoreError::DuplicateId(m.id));
            }
            let record = RecordRef {
                message: m,
                carrier_keys: &[],
                next_callback_seq: 0,
            };
            self.put(None, record, &mut counts)?;
        }
        self.write_counts(&counts)
    }

    /// `transition_many`: each event through `outbox::state::apply`, applied ones written.
    pub(crate) fn transition(
        &mut self,
        items: &[(MessageId, Event)],
        now: UnixMillis,
    ) -> TxResult<Vec<Transition>> {
        let each = items
            .iter()
            .map(|(id, event)| (*id, move |_: &Message| Cow::Borrowed(event)));
        self.transition_each(each, now)
    }

    /// `transition_decided`: as `transition`, each event chosen by `decide` from the message
    /// as stored.
    pub(crate) fn transition_decided(
        &mut self,
        ids: &[MessageId],
        now: UnixMillis,
        decide: &(dyn Fn(&Message) -> Event + Send + Sync),
    ) -> TxResult<Vec<Transition>> {
        let each = ids
            .iter()
            .map(|&id| (id, |message: &Message| Cow::Owned(decide(message))));
        self.transition_each(each, now)
    }

    /// Each message's event (from the message as stored) applied in turn, one result each.
    fn transition_each<'e, F>(
        &mut self,
        items: impl ExactSizeIterator<Item = (MessageId, F)>,
        now: UnixMillis,
    ) -> TxResult<Vec<Transition>>
    where
        F: FnOnce(&Message) -> Cow<'e, Event>,
    {
        let mut counts = Counts::default();
        let mut out = Vec::with_capacity(items.len());
        for (id, event_for) in items {
            let result = match self.record(id)? {
                Some(old) => {
                    let event = event_for(&old.message);
                    self.transition_one(id, old, &event, now, &mut counts)?
                }
                None => Transition::NotFound,
            };
            out.push(result);
        }
        self.write_counts(&counts)?;
        Ok(out)
    }

    /// One event for the message stored as `old`: applied and written with its index
    /// entries and callback, or refused.
    fn transition_one(
        &mut self,
        id: MessageId,
        mut record: MessageRecord,
        event: &Event,
        now: UnixMillis,
        counts: &mut Counts,
    ) -> TxResult<Transition> {
        // The event changes the decoded record itself; what it indexed is taken first.
        let indexed = Indexed::of((&record).into());
        let before = record.message.state;
        if let Err(illegal) = apply(&mut record.message, event, now) {
            return Ok(Transition::Illegal(illegal));
        }
        let MessageRecord {
            message,
            carrier_keys: old_keys,
            mut next_callback_seq,
        } = record;
        let carrier_keys: &[String] = match event {
            Event::SubmitOk { keys, .. } => keys,
            _ => &old_keys,
        };
        if message.state != before && message.callback_url.is_some() {
            let seq = next_callback_seq;
            let callback = CallbackRecord {
                message_id: id,
                seq,
                state: message.state,
                at: now,
                attempt: 0,
                next_attempt_at: now,
            };
            let record = layout::encode(tree::CALLBACKS, &callback)?;
            // `seq` is the message's next number: the key is new.
            self.insert_new(TreeId::Callbacks, &layout::callback_key(id, seq), record);
            next_callback_seq += 1;
        }
        let new = RecordRef {
            message: &message,
            carrier_keys,
            next_callback_seq,
        };
        self.put(Some(indexed), new, counts)?;
        Ok(Transition::Applied { before, message })
    }

    /// Removes up to `limit` idempotency records created before `older_than`, oldest first;
    /// returns how many.
    pub(crate) fn purge_idempotency(
        &mut self,
        older_than: UnixMillis,
        limit: usize,
    ) -> TxResult<usize> {
        let bound = layout::time_key(older_than);
        let mut age_keys = Vec::new();
        overlay::scan(
            self.below,
            &self.trees.idempotency_age,
            TreeId::IdempotencyAge,
            Bound::Unbounded,
            Bound::Excluded(&bound[..]),
            |k, _| {
                age_keys.push(k.to_vec());
                Ok(age_keys.len() < limit)
            },
        )?;
        for k in &age_keys {
            self.remove(TreeId::IdempotencyAge, k);
            if let Some(idem_key) = k.get(8..) {
                self.remove(TreeId::Idempotency, idem_key);
            }
        }
        Ok(age_keys.len())
    }

    /// `callback_done`: the callback is delivered (or abandoned); the next one becomes due.
    pub(crate) fn callback_done(&mut self, id: MessageId, seq: u64) -> TxResult<()> {
        self.remove(TreeId::Callbacks, &layout::callback_key(id, seq));
        Ok(())
    }

    /// `callback_retry`: one more attempt, not before `next_attempt_at`. A callback that is no
    /// longer pending is left alone.
    pub(crate) fn callback_retry(
        &mut self,
        id: MessageId,
        seq: u64,
        next_attempt_at: UnixMillis,
    ) -> TxResult<()> {
        let key = layout::callback_key(id, seq);
        if let Some(v) = self.get(TreeId::Callbacks, &key)? {
            let mut rec: CallbackRecord = layout::decode(tree::CALLBACKS, &v)?;
            rec.attempt = rec.attempt.saturating_add(1);
            rec.next_attempt_at = next_attempt_at;
            let record = layout::encode(tree::CALLBACKS, &rec)?;
            self.insert(TreeId::Callbacks, &key, record);
        }
        Ok(())
    }
}
