//! The trees and what one write does inside a sled transaction.
//!
//! sled may run a transaction closure more than once (on conflict), so everything here is free
//! of side effects: it reads and writes through the transactional views and returns what to
//! announce; the writer answers callers and updates counters only after the commit and flush.

use super::layout::{self, tree};
use super::{CallbackRecord, IdempotencyRecord, StoreError, Transition};
use crate::outbox::{Event, Message, MessageId, MessageState, UnixMillis, apply};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

/// The result type of a transaction closure.
pub(crate) type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

impl From<StoreError> for ConflictableTransactionError<StoreError> {
    fn from(e: StoreError) -> Self {
        ConflictableTransactionError::Abort(e)
    }
}

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

impl MessageRecord {
    pub(crate) fn new(message: Message) -> Self {
        Self {
            message,
            carrier_keys: Vec::new(),
            next_callback_seq: 0,
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
    fn of(rec: &MessageRecord) -> Self {
        let m = &rec.message;
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

/// Changes to the counters within one transaction, written once at its end.
#[derive(Default)]
pub(crate) struct Counts {
    states: [i64; MessageState::ALL.len()],
    open: i64,
}

impl Counts {
    fn add(&mut self, m: &Message, sign: i64) {
        let i = MessageState::ALL
            .iter()
            .position(|s| *s == m.state)
            .expect("MessageState::ALL lists every state");
        self.states[i] += sign;
        if is_open(m) {
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
        Some(match name {
            tree::MESSAGES => &self.messages,
            tree::DUE => &self.due,
            tree::RECEIPT_WAIT => &self.receipt_wait,
            tree::CARRIER_KEYS => &self.carrier_keys,
            tree::IDEMPOTENCY => &self.idempotency,
            tree::IDEMPOTENCY_AGE => &self.idempotency_age,
            tree::CALLBACKS => &self.callbacks,
            tree::COUNTERS => &self.counters,
            tree::META => &self.meta,
            _ => return None,
        })
    }

    /// Runs `f` in one transaction over the data trees (not `meta`).
    pub(crate) fn transact<T>(&self, f: impl Fn(&Tx<'_>) -> TxResult<T>) -> Result<T, StoreError> {
        (
            &self.messages,
            &self.due,
            &self.receipt_wait,
            &self.carrier_keys,
            &self.idempotency,
            &self.idempotency_age,
            &self.callbacks,
            &self.counters,
        )
            .transaction(
                |(
                    messages,
                    due,
                    receipt_wait,
                    carrier_keys,
                    idem,
                    idem_age,
                    callbacks,
                    counters,
                )| {
                    f(&Tx {
                        messages,
                        due,
                        receipt_wait,
                        carrier_keys,
                        idempotency: idem,
                        idempotency_age: idem_age,
                        callbacks,
                        counters,
                    })
                },
            )
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => StoreError::Sled(e),
            })
    }

    /// Rebuilds the counters from the messages (a store without them: version 0, or damaged
    /// counters). A full scan; runs only at open.
    pub(crate) fn recount(&self) -> Result<u64, StoreError> {
        let mut counts = Counts::default();
        for item in self.messages.iter() {
            let (_, v) = item?;
            let rec: MessageRecord = layout::decode(tree::MESSAGES, &v)?;
            counts.add(&rec.message, 1);
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

/// The transactional views of `Trees::transact`.
pub(crate) struct Tx<'a> {
    messages: &'a TransactionalTree,
    due: &'a TransactionalTree,
    receipt_wait: &'a TransactionalTree,
    carrier_keys: &'a TransactionalTree,
    idempotency: &'a TransactionalTree,
    idempotency_age: &'a TransactionalTree,
    callbacks: &'a TransactionalTree,
    counters: &'a TransactionalTree,
}

impl Tx<'_> {
    fn record(&self, id: MessageId) -> TxResult<Option<MessageRecord>> {
        match self.messages.get(layout::id_key(id))? {
            Some(v) => Ok(Some(layout::decode(tree::MESSAGES, &v)?)),
            None => Ok(None),
        }
    }

    /// Writes `new` in place of `old` with its index entries, and notes the counter changes.
    fn put(
        &self,
        old: Option<&MessageRecord>,
        new: &MessageRecord,
        counts: &mut Counts,
    ) -> TxResult<()> {
        if let Some(old) = old {
            let entries = Entries::of(old);
            if let Some(k) = entries.due {
                self.due.remove(&k[..])?;
            }
            if let Some(k) = entries.receipt_wait {
                self.receipt_wait.remove(&k[..])?;
            }
            for (k, v) in entries.carrier {
                // A carrier may reuse an id for a later message: remove only our own entry.
                if self.carrier_keys.get(&k)?.as_deref() == Some(&v[..]) {
                    self.carrier_keys.remove(k)?;
                }
            }
            counts.add(&old.message, -1);
        }
        let id = new.message.id;
        self.messages
            .insert(&layout::id_key(id), layout::encode(tree::MESSAGES, new)?)?;
        let entries = Entries::of(new);
        if let Some(k) = entries.due {
            self.due.insert(&k[..], &[])?;
        }
        if let Some(k) = entries.receipt_wait {
            self.receipt_wait.insert(&k[..], &[])?;
        }
        for (k, v) in entries.carrier {
            self.carrier_keys.insert(k, &v[..])?;
        }
        counts.add(&new.message, 1);
        Ok(())
    }

    fn write_counts(&self, counts: &Counts) -> TxResult<()> {
        let keys = MessageState::ALL.iter().map(|s| layout::state_counter(*s));
        let changes = keys.zip(counts.states).chain(std::iter::once((
            layout::OPEN_COUNTER.to_vec(),
            counts.open,
        )));
        for (key, delta) in changes.filter(|(_, d)| *d != 0) {
            let now = layout::counter_value(self.counters.get(&key)?.as_deref());
            let next = now.saturating_add_signed(delta);
            self.counters.insert(key, &next.to_be_bytes())?;
        }
        Ok(())
    }

    /// `accept`: the idempotency record, then every message, or nothing.
    pub(crate) fn accept(
        &self,
        messages: &[Message],
        idem: Option<&IdempotencyRecord>,
    ) -> TxResult<()> {
        if let Some(rec) = idem {
            let key = layout::idempotency_key(&rec.owner, &rec.key);
            if let Some(existing) = self.idempotency.get(&key)? {
                let existing = layout::decode(tree::IDEMPOTENCY, &existing)?;
                return Err(StoreError::IdempotencyExists(Box::new(existing)).into());
            }
            self.idempotency_age
                .insert(layout::idempotency_age_key(rec.created_at, &key), &[])?;
            self.idempotency
                .insert(key, layout::encode(tree::IDEMPOTENCY, rec)?)?;
        }
        let mut counts = Counts::default();
        for m in messages {
            if self.messages.get(layout::id_key(m.id))?.is_some() {
                return Err(StoreError::DuplicateId(m.id).into());
            }
            self.put(None, &MessageRecord::new(m.clone()), &mut counts)?;
        }
        self.write_counts(&counts)
    }

    /// `transition_many`: each event through `outbox::state::apply`, applied ones written.
    pub(crate) fn transition(
        &self,
        items: &[(MessageId, Event)],
        now: UnixMillis,
    ) -> TxResult<Vec<Transition>> {
        let mut counts = Counts::default();
        let mut out = Vec::with_capacity(items.len());
        for (id, event) in items {
            let Some(old) = self.record(*id)? else {
                out.push(Transition::NotFound);
                continue;
            };
            let message = match apply(&old.message, event, now) {
                Ok(message) => message,
                Err(illegal) => {
                    out.push(Transition::Illegal(illegal));
                    continue;
                }
            };
            let mut new = MessageRecord {
                message,
                carrier_keys: old.carrier_keys.clone(),
                next_callback_seq: old.next_callback_seq,
            };
            if let Event::SubmitOk { keys, .. } = event {
                new.carrier_keys = keys.clone();
            }
            let before = old.message.state;
            if new.message.state != before && new.message.callback_url.is_some() {
                let seq = new.next_callback_seq;
                let callback = CallbackRecord {
                    message_id: *id,
                    seq,
                    state: new.message.state,
                    at: now,
                    attempt: 0,
                    next_attempt_at: now,
                };
                self.callbacks.insert(
                    &layout::callback_key(*id, seq),
                    layout::encode(tree::CALLBACKS, &callback)?,
                )?;
                new.next_callback_seq += 1;
            }
            self.put(Some(&old), &new, &mut counts)?;
            out.push(Transition::Applied {
                before,
                message: new.message,
            });
        }
        self.write_counts(&counts)?;
        Ok(out)
    }

    /// Removes the idempotency records named by these `idempotency_age` keys.
    pub(crate) fn purge_idempotency(&self, age_keys: &[sled::IVec]) -> TxResult<()> {
        for k in age_keys {
            self.idempotency_age.remove(k)?;
            if let Some(idem_key) = k.get(8..) {
                self.idempotency.remove(idem_key)?;
            }
        }
        Ok(())
    }

    /// `callback_done`: the callback is delivered (or abandoned); the next one becomes due.
    pub(crate) fn callback_done(&self, id: MessageId, seq: u64) -> TxResult<()> {
        self.callbacks.remove(&layout::callback_key(id, seq)[..])?;
        Ok(())
    }

    /// `callback_retry`: one more attempt, not before `next_attempt_at`. A callback that is no
    /// longer pending is left alone.
    pub(crate) fn callback_retry(
        &self,
        id: MessageId,
        seq: u64,
        next_attempt_at: UnixMillis,
    ) -> TxResult<()> {
        let key = layout::callback_key(id, seq);
        if let Some(v) = self.callbacks.get(&key[..])? {
            let mut rec: CallbackRecord = layout::decode(tree::CALLBACKS, &v)?;
            rec.attempt = rec.attempt.saturating_add(1);
            rec.next_attempt_at = next_attempt_at;
            self.callbacks
                .insert(&key[..], layout::encode(tree::CALLBACKS, &rec)?)?;
        }
        Ok(())
    }
}
