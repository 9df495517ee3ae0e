//! Owns the sled database and the journal beside it: key layout, indexes, the writer. Nothing
//! outside imports sled or builds keys. Called by outbox (and later recovery); opened and
//! closed by app.
//!
//! # Writes: one writer, group commit, a journal
//!
//! Every write (`accept`, `transition_many`, callbacks, purges, backups) goes down a bounded
//! channel to one writer task, which applies everything waiting in one `spawn_blocking` call
//! (a request that fails leaves nothing behind: `tx.rs`), appends the group's writes to the
//! journal (`<store>/journal/`, segment files beside sled's own) as one checksummed record,
//! then syncs it once (`fdatasync`) and answers. An `async` write returns only after the sync
//! covering it: thousands of accepts share one (`flushes()` counts them).
//!
//! The group's writes stay in memory (the *active* layer, `overlay.rs`) until they are
//! *materialized* (`journal.rs`): written into their trees on another blocking thread, flushed
//! by sled, and only then their journal segments retired (deleted, or kept to be written
//! over). A message accepted, handed over and submitted between two materializations is
//! written to its tree once instead of three times, and index
//! entries that come and go meanwhile (`due`) never reach a tree. Writes about to change again
//! when a materialization starts (a message still queued or being submitted, its due entry)
//! stay in memory over that one, journaled again. Materialization starts at 50,000 writes or
//! after a second; the active layer is capped (the writer waits beyond that), so memory stays
//! bounded. At open, whatever the journal still holds (a crash) is replayed into the trees
//! before anything reads them.
//!
//! Reads go through the layers (active, then the one being materialized) to the trees, so
//! every reader sees each committed write whether it has reached its tree or not. Point reads
//! are cheap and run on the caller's thread; the scans (`in_state`, `callbacks_due`) are for
//! startup and background loops.
//!
//! # Key layout (schema version 4)
//!
//! Integers are big-endian, so byte order is numeric order. A time is an `i64` of Unix
//! milliseconds with its sign bit flipped, then big-endian (`T` below, 8 octets), so scans come
//! out in time order. `ID` is a message id, 16 octets (a ULID: creation-time order).
//! Values are records: one version octet (1), then postcard. postcard writes enum variants by
//! index, so variants of stored enums (`MessageState`, `PartState`, …) are only ever appended.
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `messages` | `ID` | message record: the `Message`, its receipt keys, its next callback seq |
//! | `due` | `T(due_at) ID` | empty; present iff state is `queued` |
//! | `receipt_wait` | `T(submitted_at) ID` | empty; present iff `submitted` and not done |
//! | `carrier_keys` | carrier name, `0x00`, receipt key | `ID`, part index (u32); while the message is open |
//! | `idempotency` | owner length (u16), owner, key | `IdempotencyRecord` |
//! | `idempotency_age` | `T(created_at)` then the `idempotency` key | empty; for purging the oldest |
//! | `callbacks` | `ID`, seq (u64) | `CallbackRecord`; pending only, removed when done |
//! | `counters` | `state/<state>`, `open` | u64: messages per state; open messages (the backlog) |
//! | `meta` | `schema_version` | u32 |
//!
//! Committed writes not yet in their trees are in the journal's segment files
//! (`<store>/journal/<number>.journal`, format in `journal.rs`; retired segments waiting to
//! be reused are `<number>.spare`); version 2 kept them in a `journal` tree, which the
//! migration to version 3 applies and drops. Version 4 records name their segment.
//!
//! A message is *open* while its state is not terminal and it is not done: a `submitted`
//! message that asked for no receipt is done at submit, so it leaves the backlog and holds no
//! carrier keys although `submitted` is not a terminal state.

mod error;
mod journal;
mod layout;
mod overlay;
mod schema;
mod tx;
mod writer;

#[cfg(test)]
mod tests;

pub use error::StoreError;
pub use schema::SCHEMA_VERSION;
pub use writer::PURGE_BATCH;

use crate::outbox::{Event, IllegalTransition, Message, MessageId, MessageState, UnixMillis};
use layout::tree;
use overlay::TreeId;
use serde::{Deserialize, Serialize};
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tx::{MessageRecord, Trees};
use writer::{Request, Shared};

/// Chooses the event for a message as stored (see [`Store::transition_decided`]).
pub type Decide = std::sync::Arc<dyn Fn(&Message) -> Event + Send + Sync>;

/// The result of one event on one message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "nearly every result is Applied; boxing would add an allocation to each for nothing"
)]
pub enum Transition {
    /// The event applied; the message as written.
    Applied {
        /// The state it was in.
        before: MessageState,
        /// The message now.
        message: Message,
    },
    /// The event does not apply to the message's state; nothing was written.
    Illegal(IllegalTransition),
    /// No message has this id.
    NotFound,
}

/// What an `Idempotency-Key` was first used for: the hash of the request body and the response
/// given, so that a retry gets the same response and another body a 409.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The token (shop or admin) that used the key.
    pub owner: String,
    /// The `Idempotency-Key` header.
    pub key: String,
    /// SHA-256 of the request body.
    pub body_hash: [u8; 32],
    /// The HTTP status given.
    pub status: u16,
    /// The response body given.
    pub response: Vec<u8>,
    /// When it was first used.
    pub created_at: UnixMillis,
}

/// A delivery callback waiting to be POSTed: a state change of a message with a `callback_url`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CallbackRecord {
    /// The message.
    pub message_id: MessageId,
    /// Its place among the message's callbacks (from 0): sent in this order.
    pub seq: u64,
    /// The state the message reached.
    pub state: MessageState,
    /// When it reached it.
    pub at: UnixMillis,
    /// Attempts made so far.
    pub attempt: u32,
    /// Not to be tried before this time.
    pub next_attempt_at: UnixMillis,
}

/// The durable store. Cheap to clone; every clone talks to the same writer.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Request>,
    writer: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

/// How a store is run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// The group-commit window (`[store] flush_every`): at most one flush per window, and the
    /// requests that come while it is open share it. Zero flushes each batch as soon as it is
    /// taken; a writer that has not flushed for a window flushes at once either way, so a
    /// lone request never waits for it.
    pub flush_every: std::time::Duration,
}

impl Store {
    /// Opens (or creates) the store at `path` and starts its writer. Must be called inside a
    /// tokio runtime. A damaged store is an error saying how to restore it, never a panic.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_configured(path, StoreOptions::default())
    }

    /// [`Store::open`] with `options`.
    pub fn open_configured(path: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        let config = sled::Config::new().path(path);
        Self::open_with(config, path, schema::MIGRATIONS, options)
    }

    /// A store in a temporary directory, removed when the last clone is dropped: for
    /// `korid demo` and tests.
    pub fn open_temporary() -> Result<Store, StoreError> {
        Self::open_temporary_configured(StoreOptions::default())
    }

    /// [`Store::open_temporary`] with `options`.
    pub fn open_temporary_configured(options: StoreOptions) -> Result<Store, StoreError> {
        let config = sled::Config::new().temporary(true);
        let path = config.get_path();
        Self::open_with(config, &path, schema::MIGRATIONS, options)
    }

    /// How long `open` waits for another holder of the store's lock to let go: a store closed
    /// in this process a moment ago (sled's background thread still releasing it).
    const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

    fn open_with(
        config: sled::Config,
        path: &Path,
        migrations: &[schema::Migration],
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StoreError::NoRuntime)?;
        let damaged = |detail: String| StoreError::Damaged {
            path: path.to_owned(),
            detail,
        };
        if path.exists() && !path.is_dir() {
            return Err(damaged(
                "not a directory (a sled store is a directory)".into(),
            ));
        }
        // sled 0.34 can panic on some corrupt files instead of returning an error; a damaged
        // store must be reported, not crash the daemon at start (design.md "Messages").
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let db = open_waiting_for_lock(&config)?;
            let trees = Trees::open(&db)?;
            Ok::<_, sled::Error>((db, trees))
        }));
        let (db, trees) = match opened {
            Ok(Ok(opened)) => opened,
            Ok(Err(e @ (sled::Error::Corruption { .. } | sled::Error::Unsupported(_)))) => {
                return Err(damaged(e.to_string()));
            }
            Ok(Err(sled::Error::ReportableBug(detail))) => return Err(damaged(detail)),
            Ok(Err(sled::Error::Io(e))) if lock_held(&e) => {
                return Err(StoreError::Locked {
                    path: path.to_owned(),
                });
            }
            Ok(Err(e)) => return Err(StoreError::Sled(e)),
            Err(panic) => {
                let detail = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "sled panicked while opening".into());
                return Err(damaged(detail));
            }
        };
        schema::check(&db, &trees.meta, migrations)?;
        let journal_dir = journal::dir(path);
        let next_segment = journal::replay(&db, &trees, &journal_dir)?;
        let journal = journal::Journal::create(&journal_dir, next_segment)?;
        let spares = journal.spares();
        let messages_up_to = match trees.messages.last()? {
            Some((k, _)) => layout::id_from(tree::MESSAGES, &k)?,
            None => MessageId(0),
        };
        let backlog = match trees.counters.get(layout::OPEN_COUNTER)? {
            Some(v) => layout::counter_value(Some(&v)),
            None => trees.recount()?,
        };
        let shared = Arc::new(Shared {
            db,
            trees,
            path: path.to_owned(),
            backlog: AtomicU64::new(backlog),
            flushes: AtomicU64::new(0),
            layers: Default::default(),
            journal: Mutex::new(journal),
            spares,
            materializing: Mutex::new(()),
            due_hint: Mutex::new(None),
            messages_up_to: Mutex::new(messages_up_to),
        });
        let (tx, rx) = mpsc::channel(writer::WRITE_QUEUE);
        let handle = runtime.spawn(writer::run(Arc::clone(&shared), rx, options.flush_every));
        Ok(Store {
            shared,
            tx,
            writer: Arc::new(Mutex::new(Some(handle))),
        })
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Request,
    ) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Stores new messages (each with its due-index entry) and the idempotency record, all or
    /// nothing, and returns after the flush. A used idempotency key is
    /// `Err(IdempotencyExists(earlier record))` and writes nothing.
    pub async fn accept(
        &self,
        messages: Vec<Message>,
        idempotency: Option<IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        self.request(|reply| Request::Accept {
            messages,
            idempotency,
            reply,
        })
        .await
    }

    /// Applies one event to one message (see [`Store::transition_many`]).
    pub async fn transition(
        &self,
        id: MessageId,
        event: Event,
        now: UnixMillis,
    ) -> Result<Transition, StoreError> {
        let mut done = self.transition_many(vec![(id, event)], now).await?;
        Ok(done.pop().unwrap_or(Transition::NotFound))
    }

    /// Like [`Store::transition_many`], with each message's event chosen by `decide` from the
    /// message as stored, inside the write (so the message is read once, by the writer). One
    /// result per id, in order. `decide` may be called more than once for a message (a write
    /// that failed in a group is tried again alone); only the last call's event is written.
    pub async fn transition_decided(
        &self,
        ids: Vec<MessageId>,
        now: UnixMillis,
        decide: Decide,
    ) -> Result<Vec<Transition>, StoreError> {
        self.request(|reply| Request::Decided {
            ids,
            now,
            decide,
            reply,
        })
        .await
    }

    /// Applies each event through `outbox::state::apply` and writes the messages that changed
    /// with their index entries and callbacks, all or nothing, under one flush. One result per
    /// item, in order; an event for the same message later in `items` sees the earlier ones.
    pub async fn transition_many(
        &self,
        items: Vec<(MessageId, Event)>,
        now: UnixMillis,
    ) -> Result<Vec<Transition>, StoreError> {
        self.request(|reply| Request::Transition { items, now, reply })
            .await
    }

    /// The message, if stored.
    pub fn get(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        Ok(self.record(id)?.map(|r| r.message))
    }

    /// The value of `key` in tree `id`, as committed (in memory or in the tree).
    fn read(&self, id: TreeId, key: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        let tree = self.shared.trees.tree(id);
        self.shared
            .layers()
            .with_stack(|stack| overlay::lookup(stack, tree, id, key))
    }

    /// Calls `f` with each committed key and value of tree `id` in `(lo, hi)`, in key order,
    /// until it returns false.
    fn scan(
        &self,
        id: TreeId,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        f: impl FnMut(&[u8], &sled::IVec) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let tree = self.shared.trees.tree(id);
        self.shared
            .layers()
            .with_stack(|stack| overlay::scan(stack, tree, id, lo, hi, f))
    }

    /// Entries of a time index (`due`, `receipt_wait`) after `after` (a time and id, left
    /// out) and with keys below `bound`, in time order, at most `limit`.
    fn timed_entries(
        &self,
        id: TreeId,
        after: Option<(UnixMillis, MessageId)>,
        bound: &[u8],
        limit: usize,
    ) -> Result<Vec<(UnixMillis, MessageId)>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let from = after.map(|(t, id)| layout::timed_id_key(t, id));
        let lo = match &from {
            Some(k) => Bound::Excluded(&k[..]),
            None => Bound::Unbounded,
        };
        self.scan(id, lo, Bound::Excluded(bound), |k, _| {
            out.push(layout::split_timed_id(id.name(), k)?);
            Ok(out.len() < limit)
        })?;
        Ok(out)
    }

    fn record(&self, id: MessageId) -> Result<Option<MessageRecord>, StoreError> {
        match self.read(TreeId::Messages, &layout::id_key(id))? {
            Some(v) => Ok(Some(layout::decode(tree::MESSAGES, &v)?)),
            None => Ok(None),
        }
    }

    /// Queued messages due at or before `now`, earliest first, at most `limit`.
    pub fn due(&self, now: UnixMillis, limit: usize) -> Result<Vec<MessageId>, StoreError> {
        let due = self.due_after(None, now, limit)?;
        Ok(due.into_iter().map(|(_, id)| id).collect())
    }

    /// As [`Store::due`], but only entries after `after` (a due time and id an earlier call
    /// returned), with their due times: lets the dispatcher go on from where it took messages
    /// instead of walking again over the entries it just took, which stay in the trees as
    /// removals until materialized.
    pub fn due_after(
        &self,
        after: Option<(UnixMillis, MessageId)>,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<(UnixMillis, MessageId)>, StoreError> {
        self.timed_entries(TreeId::Due, after, &layout::after_time(now), limit)
    }

    /// The earliest due entry (due time and id) committed since the last call: a dispatcher
    /// that goes on from a cursor learns here of entries that sort before it (accepts committed
    /// out of the order their times were taken in, retries due now).
    pub fn take_due_hint(&self) -> Option<(UnixMillis, MessageId)> {
        self.shared
            .due_hint
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// When the earliest queued message is due.
    pub fn next_due_at(&self) -> Result<Option<UnixMillis>, StoreError> {
        let first = self.due_after(None, UnixMillis::MAX, 1)?;
        Ok(first.first().map(|(at, _)| *at))
    }

    /// The open message and part that `key` (a receipt-matching key from `SubmitOk`) names at
    /// `carrier`.
    pub fn find_by_carrier_key(
        &self,
        carrier: &str,
        key: &str,
    ) -> Result<Option<(MessageId, usize)>, StoreError> {
        match self.read(TreeId::CarrierKeys, &layout::carrier_key(carrier, key))? {
            Some(v) => Ok(Some(layout::split_carrier_value(&v)?)),
            None => Ok(None),
        }
    }

    /// Submitted messages still waiting for receipts that were submitted before
    /// `submitted_before`, oldest first, at most `limit`: the `receipt_timeout` sweep.
    pub fn awaiting_receipts(
        &self,
        submitted_before: UnixMillis,
        limit: usize,
    ) -> Result<Vec<MessageId>, StoreError> {
        let bound = layout::time_key(submitted_before);
        let waiting = self.timed_entries(TreeId::ReceiptWait, None, &bound, limit)?;
        Ok(waiting.into_iter().map(|(_, id)| id).collect())
    }

    /// Up to `limit` messages in `state`, oldest first. Scans every message: for recovery at
    /// startup (the `submitting` ones), not for a request path.
    pub fn in_state(&self, state: MessageState, limit: usize) -> Result<Vec<Message>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.scan(
            TreeId::Messages,
            Bound::Unbounded,
            Bound::Unbounded,
            |_, v| {
                let rec: MessageRecord = layout::decode(tree::MESSAGES, v)?;
                if rec.message.state == state {
                    out.push(rec.message);
                }
                Ok(out.len() < limit)
            },
        )?;
        Ok(out)
    }

    /// Open messages (queued, submitting, or submitted and waiting for receipts) as of the last
    /// commit. A counter, not a scan: cheap enough for every request.
    pub fn backlog(&self) -> u64 {
        self.shared.backlog.load(Ordering::Relaxed)
    }

    /// Writes everything committed into the trees now (tests: only while no write is in
    /// flight, as the writer would between groups).
    #[cfg(test)]
    fn materialize_now(&self) {
        self.shared
            .materialize_all()
            .expect("materialization succeeds");
    }

    /// One freeze and materialization, as the writer makes them (tests: only while no write
    /// is in flight).
    #[cfg(test)]
    fn materialize_once(&self) {
        let _running = self.shared.materialize_lock();
        self.shared.freeze().expect("freeze succeeds");
        self.shared
            .materialize_frozen()
            .expect("materialization succeeds");
    }

    /// Flushes done by the writer since open (for metrics and the group-commit test).
    pub fn flushes(&self) -> u64 {
        self.shared.flushes.load(Ordering::Relaxed)
    }

    /// The record of an idempotency key, if used.
    pub fn idempotency_get(
        &self,
        owner: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        match self.read(TreeId::Idempotency, &layout::idempotency_key(owner, key))? {
            Some(v) => Ok(Some(layout::decode(tree::IDEMPOTENCY, &v)?)),
            None => Ok(None),
        }
    }

    /// Removes idempotency records created before `older_than`, oldest first, at most 10,000
    /// per call (so that a purge holds up accepts only briefly); returns how many. Call again
    /// while it returns 10,000.
    pub async fn purge_idempotency(&self, older_than: UnixMillis) -> Result<usize, StoreError> {
        self.request(|reply| Request::PurgeIdempotency { older_than, reply })
            .await
    }

    /// The first pending callback of each message, when it is due at or before `now`; at most
    /// `limit`, by message id. A message's later callbacks wait until `callback_done` removes
    /// the first, so each message's callbacks go out in order. Seeks once per message with
    /// pending callbacks: a background-loop call, not a request-path one.
    pub fn callbacks_due(
        &self,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<CallbackRecord>, StoreError> {
        let mut out = Vec::new();
        let mut from = [0u8; 16];
        while out.len() < limit {
            let mut first = None;
            self.scan(
                TreeId::Callbacks,
                Bound::Included(&from[..]),
                Bound::Unbounded,
                |k, v| {
                    let id = layout::id_from(tree::CALLBACKS, k)?;
                    first = Some((id, layout::decode::<CallbackRecord>(tree::CALLBACKS, v)?));
                    Ok(false)
                },
            )?;
            let Some((id, first)) = first else {
                break;
            };
            if first.next_attempt_at <= now {
                out.push(first);
            }
            match id.0.checked_add(1) {
                Some(next) => from = layout::id_key(MessageId(next)),
                None => break,
            }
        }
        Ok(out)
    }

    /// The callback was delivered (or given up): removes it, so the message's next one is due.
    pub async fn callback_done(&self, message_id: MessageId, seq: u64) -> Result<(), StoreError> {
        self.request(|reply| Request::CallbackDone {
            message_id,
            seq,
            reply,
        })
        .await
    }

    /// The callback failed: counts the attempt and sets when to try again. A callback no longer
    /// pending is left alone.
    pub async fn callback_retry(
        &self,
        message_id: MessageId,
        seq: u64,
        next_attempt_at: UnixMillis,
    ) -> Result<(), StoreError> {
        self.request(|reply| Request::CallbackRetry {
            message_id,
            seq,
            next_attempt_at,
            reply,
        })
        .await
    }

    /// Writes a consistent copy of the whole store to `to` (a new directory), which
    /// [`Store::open`] opens: `korid store backup`. Writes wait while it runs.
    pub async fn backup(&self, to: &Path) -> Result<(), StoreError> {
        let to = to.to_owned();
        self.request(|reply| Request::Backup { to, reply }).await
    }

    /// Lets the writer finish what is queued, flushes, and stops it. Later writes through other
    /// clones fail with `WriterGone`; the database closes when the last clone is dropped.
    pub async fn close(self) -> Result<(), StoreError> {
        self.request(|reply| Request::Close { reply }).await?;
        let handle = self
            .writer
            .lock()
            .map_err(|_| StoreError::WriterGone)?
            .take();
        if let Some(handle) = handle {
            handle.await.map_err(|_| StoreError::WriterGone)?;
        }
        Ok(())
    }
}

/// Whether opening failed because another handle holds the database's file lock. sled reports
/// it as `WouldBlock`, or (when it fails to lock `db`) as an `Other` error whose message
/// carries the `WouldBlock`.
fn lock_held(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("could not acquire lock")
}

/// Opens the database, waiting up to [`Store::LOCK_WAIT`] for its lock: sled releases it from a
/// background thread after the last handle is dropped, so a store closed and reopened in one
/// process can briefly find it held. Another process holding it is reported after the wait.
fn open_waiting_for_lock(config: &sled::Config) -> Result<sled::Db, sled::Error> {
    let deadline = std::time::Instant::now() + Store::LOCK_WAIT;
    loop {
        match config.open() {
            Err(sled::Error::Io(e)) if lock_held(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}
