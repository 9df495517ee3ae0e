//! The writer: one task that owns every write, so that many requests share one journal sync.
//!
//! Requests come down a bounded channel, each with a oneshot for its answer. The task takes
//! everything waiting (up to `MAX_BATCH`), and in ONE `spawn_blocking` call applies each
//! request against the store as it stands (see `tx`), keeping a failed request's writes out,
//! appends the group's writes to the journal, syncs it once, and only then answers and makes
//! the writes visible to readers: nobody hears "done" before their write is on disk
//! (design.md: 202 only after the flush), and the dispatcher never sends what is not. With a
//! group-commit window (`[store] flush_every`) the task flushes at most once per window and
//! what arrives meanwhile joins the group.
//!
//! Between groups the task decides when the `active` layer (every journaled write not yet in
//! its tree) is *materialized*: frozen, written to the trees on another blocking thread while
//! new groups go on (see `journal`), and dropped. The active layer is bounded: past
//! [`ACTIVE_CAP`] writes the writer waits for the materialization under way.

use super::journal::{self, Journal};
use super::layout::{self, tree};
use super::overlay::{self, Layer, TreeId};
use super::tx::{Trees, Tx, TxResult};
use super::{Decide, IdempotencyRecord, StoreError, Transition};
use crate::outbox::{Event, Message, MessageId, UnixMillis};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Capacity of the write channel. About one batch: a request that finds it full waits, which is
/// the backpressure HTTP intake turns into 503 (via `backlog` and its own admission check)
/// rather than a queue growing in memory.
pub(crate) const WRITE_QUEUE: usize = 1024;

/// Most requests applied under one flush. A flush of a large batch costs about as much as of a
/// small one (one fsync), so the batch is as large as the queue; a caller waits at most one
/// batch behind the one being written.
pub(crate) const MAX_BATCH: usize = WRITE_QUEUE;

/// Most idempotency records removed by one `purge_idempotency`, so a purge never holds the
/// writer (and every accept behind it) for long. Call again while it returns this many.
pub const PURGE_BATCH: usize = 10_000;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One write, with where to send its result.
pub(crate) enum Request {
    Accept {
        messages: Vec<Message>,
        idempotency: Option<IdempotencyRecord>,
        reply: Reply<()>,
    },
    Transition {
        items: Vec<(MessageId, Event)>,
        now: UnixMillis,
        reply: Reply<Vec<Transition>>,
    },
    Decided {
        ids: Vec<MessageId>,
        now: UnixMillis,
        decide: Decide,
        reply: Reply<Vec<Transition>>,
    },
    PurgeIdempotency {
        older_than: UnixMillis,
        reply: Reply<usize>,
    },
    CallbackDone {
        message_id: MessageId,
        seq: u64,
        reply: Reply<()>,
    },
    CallbackRetry {
        message_id: MessageId,
        seq: u64,
        next_attempt_at: UnixMillis,
        reply: Reply<()>,
    },
    /// Runs in the writer so that no write lands halfway through the copy.
    Backup { to: PathBuf, reply: Reply<()> },
    /// Flush, answer, and stop the writer.
    Close { reply: Reply<()> },
}

/// Writes in the active layer that start a materialization.
pub(crate) const MATERIALIZE_AT: usize = 50_000;

/// Longest a write stays only in the journal when traffic is light.
pub(crate) const MATERIALIZE_EVERY: Duration = Duration::from_secs(1);

/// Most writes the active layer holds while a materialization is under way; past it, new
/// groups wait for that materialization (memory stays bounded when sled falls behind).
pub(crate) const ACTIVE_CAP: usize = 4 * MATERIALIZE_AT;

/// The writes not yet in their trees.
#[derive(Default)]
pub(crate) struct Layers {
    /// Every committed write since the last freeze.
    pub(crate) active: Layer,
    /// Writes being materialized, with the number of the first journal segment not theirs.
    pub(crate) frozen: Option<(Arc<Layer>, u64)>,
}

impl Layers {
    /// Runs `f` with the layers newest first.
    pub(crate) fn with_stack<T>(&self, f: impl FnOnce(&[&Layer]) -> T) -> T {
        match &self.frozen {
            Some((frozen, _)) => f(&[&self.active, frozen]),
            None => f(&[&self.active]),
        }
    }
}

/// What the writer and the readers share.
pub(crate) struct Shared {
    pub(crate) db: sled::Db,
    pub(crate) trees: Trees,
    pub(crate) path: PathBuf,
    /// Open (non-terminal, not done) messages after the last committed batch.
    pub(crate) backlog: AtomicU64,
    /// Flushes done by the writer.
    pub(crate) flushes: AtomicU64,
    pub(crate) layers: RwLock<Layers>,
    /// The journal segment being appended to (only the writer appends).
    pub(crate) journal: Mutex<Journal>,
    /// Retired segments the journal reuses; materializations make them.
    pub(crate) spares: Arc<journal::Spares>,
    /// Held while the frozen layer is being materialized, and by whatever must not overlap one
    /// (backup, close).
    pub(crate) materializing: Mutex<()>,
    /// The earliest `due` entry committed since the dispatcher last asked (`Store::take_due_hint`).
    pub(crate) due_hint: Mutex<Option<(UnixMillis, MessageId)>>,
    /// The greatest id in the `messages` tree (raised by materialization before the frozen
    /// layer goes, so an id above it is in the layers if anywhere).
    pub(crate) messages_up_to: Mutex<MessageId>,
}

impl Shared {
    pub(crate) fn layers(&self) -> RwLockReadGuard<'_, Layers> {
        self.layers.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn materialize_lock(&self) -> MutexGuard<'_, ()> {
        self.materializing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the active layer to `frozen` unless a materialization is pending or nothing is
    /// active. Only the writer calls it, between groups, so the layer and the journal
    /// segments before the one it starts hold the same writes.
    ///
    /// Writes that are about to change again (a message still queued or being submitted, its
    /// due entry: `Layer::carry`) stay active instead, once: they are appended to the new
    /// segment and synced first, so that the frozen layer's segments can go once it is
    /// materialized. A message accepted just before a freeze so reaches its tree once, in
    /// its settled state, and its due entry never does.
    pub(crate) fn freeze(&self) -> Result<bool, StoreError> {
        let carry = {
            let layers = self.layers();
            if layers.frozen.is_some() || layers.active.is_empty() {
                return Ok(false);
            }
            layers.active.carry()
        };
        let upto = {
            let mut journal = self.journal();
            let upto = journal.rotate()?;
            if !carry.is_empty() {
                journal.append(&carry)?;
                journal.sync()?;
            }
            upto
        };
        let mut layers = self.layers.write().unwrap_or_else(PoisonError::into_inner);
        let mut frozen = std::mem::replace(&mut layers.active, carry);
        frozen.forget(&layers.active);
        layers.frozen = Some((Arc::new(frozen), upto));
        Ok(true)
    }

    /// Where the journal's segments are.
    pub(crate) fn journal_dir(&self) -> PathBuf {
        journal::dir(&self.path)
    }

    pub(crate) fn journal(&self) -> MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn messages_up_to(&self) -> MessageId {
        *self
            .messages_up_to
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Materializes the frozen layer, if any. The caller holds `materialize_lock`.
    pub(crate) fn materialize_frozen(&self) -> Result<(), StoreError> {
        let frozen = self.layers().frozen.clone();
        if let Some((layer, upto)) = frozen {
            // Raised first: from now on the tree may hold these ids.
            let greatest = layer
                .entries(TreeId::Messages)
                .filter(|(_, v)| v.is_some())
                .filter_map(|(k, _)| layout::id_from(tree::MESSAGES, k).ok())
                .next_back();
            if let Some(greatest) = greatest {
                let mut up_to = self
                    .messages_up_to
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                *up_to = (*up_to).max(greatest);
            }
            journal::materialize(
                &self.db,
                &self.trees,
                &layer,
                &self.journal_dir(),
                upto,
                Some(&self.spares),
            )?;
            self.layers
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .frozen = None;
        }
        Ok(())
    }

    /// Materializes everything: the trees alone then hold the store (close).
    pub(crate) fn materialize_all(&self) -> Result<(), StoreError> {
        let _running = self.materialize_lock();
        self.materialize_frozen()?;
        // Twice: what the first freeze keeps active (`carry`) goes with the second.
        for _ in 0..2 {
            if self.freeze()? {
                self.materialize_frozen()?;
            }
        }
        Ok(())
    }
}

/// A result waiting for the flush.
enum Answer {
    Unit(Reply<()>, Result<(), StoreError>),
    Transitions(Reply<Vec<Transition>>, Result<Vec<Transition>, StoreError>),
    Count(Reply<usize>, Result<usize, StoreError>),
}

impl Answer {
    /// After a failed flush, a success is not one: the write may be lost.
    fn undurable(self, detail: &str) -> Self {
        let e = || StoreError::NotDurable {
            detail: detail.to_owned(),
        };
        match self {
            Self::Unit(r, Ok(_)) => Self::Unit(r, Err(e())),
            Self::Transitions(r, Ok(_)) => Self::Transitions(r, Err(e())),
            Self::Count(r, Ok(_)) => Self::Count(r, Err(e())),
            failed => failed,
        }
    }

    fn send(self) {
        // A caller that stopped waiting (its request was cancelled) needs no answer, so a
        // failed send is ignored.
        match self {
            Self::Unit(r, v) => drop(r.send(v)),
            Self::Transitions(r, v) => drop(r.send(v)),
            Self::Count(r, v) => drop(r.send(v)),
        }
    }
}

/// The writer task: runs until `Close` or until every `Store` is dropped.
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<Request>,
    flush_every: Duration,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut materializer: Option<tokio::task::JoinHandle<()>> = None;
    let mut last_freeze = tokio::time::Instant::now();
    // When the last commit (and its flush) started.
    let mut last_flush: Option<tokio::time::Instant> = None;
    loop {
        // With writes waiting for materialization, wake up within MATERIALIZE_EVERY even if
        // no request comes; with none, sleep until one does (no timer ticking while idle).
        let waiting = !shared.layers().active.is_empty();
        let waited = if waiting {
            tokio::time::timeout(MATERIALIZE_EVERY, rx.recv_many(&mut batch, MAX_BATCH)).await
        } else {
            Ok(rx.recv_many(&mut batch, MAX_BATCH).await)
        };
        match waited {
            Ok(0) => break,
            Ok(_) => {
                // The group-commit window: within `flush_every` of the last flush, what comes
                // until the window closes joins this commit.
                if let Some(open_until) = last_flush.map(|at| at + flush_every) {
                    while batch.len() < MAX_BATCH {
                        let room = MAX_BATCH - batch.len();
                        let more =
                            tokio::time::timeout_at(open_until, rx.recv_many(&mut batch, room));
                        match more.await {
                            Ok(n) if n > 0 => {}
                            _ => break, // closed, or the window ended
                        }
                    }
                }
                last_flush = Some(tokio::time::Instant::now());
                let work = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
                let shared = Arc::clone(&shared);
                match tokio::task::spawn_blocking(move || commit(&shared, work)).await {
                    Ok(Continue::Yes) => {}
                    Ok(Continue::No) => break,
                    Err(e) => {
                        // The batch's callers see WriterGone; so does everyone after them,
                        // and readiness should report it. Going on after a panic inside sled
                        // is not safe.
                        tracing::error!(error = %e, "store writer failed; no more writes");
                        break;
                    }
                }
            }
            Err(_) => {} // quiet for a while: time to materialize what is waiting
        }
        if materializer.as_ref().is_some_and(|m| m.is_finished()) {
            materializer = None;
        }
        let active = shared.layers().active.len();
        match &mut materializer {
            Some(running) if active >= ACTIVE_CAP => {
                tracing::debug!(active, "store writer waits for materialization");
                let _ = running.await;
                materializer = None;
            }
            Some(_) => {}
            None => {
                // A frozen layer left by a failed materialization is tried again first.
                let retry = shared.layers().frozen.is_some();
                let due = !retry
                    && (active >= MATERIALIZE_AT
                        || (active > 0 && last_freeze.elapsed() >= MATERIALIZE_EVERY));
                let frozen = if due {
                    let shared = Arc::clone(&shared);
                    match tokio::task::spawn_blocking(move || shared.freeze()).await {
                        Ok(Ok(frozen)) => frozen,
                        Ok(Err(e)) => {
                            tracing::error!(error = %e, "store journal append failed at freeze");
                            false
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "store writer failed; no more writes");
                            break;
                        }
                    }
                } else {
                    false
                };
                if frozen || retry {
                    last_freeze = tokio::time::Instant::now();
                    let shared = Arc::clone(&shared);
                    materializer = Some(tokio::task::spawn_blocking(move || {
                        let _running = shared.materialize_lock();
                        if let Err(e) = shared.materialize_frozen() {
                            // The writes stay in the journal and in memory; the next
                            // attempt (or the replay at open) writes them.
                            tracing::error!(error = %e, "store materialization failed");
                        }
                    }));
                }
            }
        }
    }
    if let Some(running) = materializer {
        let _ = running.await;
    }
}

enum Continue {
    Yes,
    No,
}

/// A request that only reads and writes keys: several share one `Tx`.
enum Op {
    Accept {
        messages: Vec<Message>,
        idempotency: Option<IdempotencyRecord>,
    },
    Transition {
        items: Vec<(MessageId, Event)>,
        now: UnixMillis,
    },
    Decided {
        ids: Vec<MessageId>,
        now: UnixMillis,
        decide: Decide,
    },
    CallbackDone {
        message_id: MessageId,
        seq: u64,
    },
    CallbackRetry {
        message_id: MessageId,
        seq: u64,
        next_attempt_at: UnixMillis,
    },
    PurgeIdempotency {
        older_than: UnixMillis,
    },
}

/// What an [`Op`] returns.
enum Done {
    Unit,
    Transitions(Vec<Transition>),
    Count(usize),
}

/// Where an [`Op`]'s answer goes.
enum OpReply {
    Unit(Reply<()>),
    Transitions(Reply<Vec<Transition>>),
    Count(Reply<usize>),
}

impl Op {
    fn apply(&self, tx: &mut Tx<'_>) -> TxResult<Done> {
        Ok(match self {
            Self::Accept {
                messages,
                idempotency,
            } => {
                tx.accept(messages, idempotency.as_ref())?;
                Done::Unit
            }
            Self::Transition { items, now } => Done::Transitions(tx.transition(items, *now)?),
            Self::Decided { ids, now, decide } => {
                Done::Transitions(tx.transition_decided(ids, *now, &**decide)?)
            }
            Self::CallbackDone { message_id, seq } => {
                tx.callback_done(*message_id, *seq)?;
                Done::Unit
            }
            Self::CallbackRetry {
                message_id,
                seq,
                next_attempt_at,
            } => {
                tx.callback_retry(*message_id, *seq, *next_attempt_at)?;
                Done::Unit
            }
            Self::PurgeIdempotency { older_than } => {
                Done::Count(tx.purge_idempotency(*older_than, PURGE_BATCH)?)
            }
        })
    }
}

impl OpReply {
    fn answer(self, result: Result<Done, StoreError>) -> Answer {
        match self {
            Self::Unit(reply) => Answer::Unit(reply, result.map(|_| ())),
            Self::Transitions(reply) => Answer::Transitions(
                reply,
                result.map(|done| match done {
                    Done::Transitions(t) => t,
                    Done::Unit | Done::Count(_) => Vec::new(),
                }),
            ),
            Self::Count(reply) => Answer::Count(
                reply,
                result.map(|done| match done {
                    Done::Count(n) => n,
                    Done::Unit | Done::Transitions(_) => 0,
                }),
            ),
        }
    }
}

/// Applies a run of requests in order. Each `Tx` costs a lock, a layer and a merge whatever its
/// size, so the run goes in ONE; if that fails (one request's own failure: an idempotency key
/// in use, a duplicate id, an undecodable record), none of its writes were kept and each
/// request runs again on its own, so that the failure stays that request's alone. Either way
/// each answer is what the request would have got alone: they apply in order and a `Tx` reads
/// its own writes.
fn apply_run(
    shared: &Shared,
    group: &mut Layer,
    run: Vec<(Op, OpReply)>,
    answers: &mut Vec<Answer>,
) {
    if run.len() > 1 {
        let together = stage(shared, group, |tx| {
            run.iter()
                .map(|(op, _)| op.apply(tx))
                .collect::<TxResult<Vec<Done>>>()
        });
        if let Ok(done) = together {
            for ((_, reply), done) in run.into_iter().zip(done) {
                answers.push(reply.answer(Ok(done)));
            }
            return;
        }
    }
    for (op, reply) in run {
        answers.push(reply.answer(stage(shared, group, |tx| op.apply(tx))));
    }
}

/// Runs one request against the store as `group` leaves it; its writes join `group` only if
/// it succeeds.
fn stage<T>(
    shared: &Shared,
    group: &mut Layer,
    f: impl FnOnce(&mut Tx<'_>) -> TxResult<T>,
) -> Result<T, StoreError> {
    let (result, writes) = {
        let layers = shared.layers();
        layers.with_stack(|below| {
            let mut stack: Vec<&Layer> = Vec::with_capacity(below.len() + 1);
            stack.push(group);
            stack.extend_from_slice(below);
            let mut tx = Tx::new(&shared.trees, &stack, shared.messages_up_to());
            let result = f(&mut tx);
            (result, tx.into_writes())
        })
    };
    if result.is_ok() {
        group.absorb(writes);
    }
    result
}

/// Appends `group` to the journal (durable at the next sync).
fn append_group(shared: &Shared, group: &Layer) -> Result<(), StoreError> {
    shared.journal().append(group)
}

/// Makes an appended `group` visible to readers (and to the dispatcher's due hint).
fn publish(shared: &Shared, group: Layer) {
    let earliest_due = group
        .entries(TreeId::Due)
        .find(|(_, v)| v.is_some())
        .and_then(|(k, _)| layout::split_timed_id(tree::DUE, k).ok());
    shared
        .layers
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .active
        .absorb(group);
    // After the entries are visible: whoever takes the hint finds them.
    if let Some(due) = earliest_due {
        let mut hint = shared
            .due_hint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *hint = Some(hint.map_or(due, |h| h.min(due)));
    }
}

/// Appends `group` and makes it visible at once: before a backup or a close, which must see
/// every write so far.
fn seal(shared: &Shared, group: &mut Layer) -> Result<(), StoreError> {
    if group.is_empty() {
        return Ok(());
    }
    let group = std::mem::take(group);
    append_group(shared, &group)?;
    publish(shared, group);
    Ok(())
}

/// Applies a batch, flushes once, answers everyone. Runs on a blocking thread.
fn commit(shared: &Shared, batch: Vec<Request>) -> Continue {
    let mut go_on = Continue::Yes;
    let mut answers = Vec::with_capacity(batch.len());
    let mut group = Layer::default();
    // A journal append that failed: everything answered in this batch is in doubt.
    let mut lost: Option<String> = None;
    let seal_now = |group: &mut Layer, lost: &mut Option<String>| {
        if let Err(e) = seal(shared, group) {
            tracing::error!(error = %e, "store journal append failed");
            *lost = Some(e.to_string());
        }
    };
    // Requests that only read and write keys run together in one `Tx` (see `apply_run`).
    let mut run: Vec<(Op, OpReply)> = Vec::new();
    for request in batch {
        let (op, reply) = match request {
            Request::Accept {
                messages,
                idempotency,
                reply,
            } => (
                Op::Accept {
                    messages,
                    idempotency,
                },
                OpReply::Unit(reply),
            ),
            Request::Transition { items, now, reply } => {
                (Op::Transition { items, now }, OpReply::Transitions(reply))
            }
            Request::Decided {
                ids,
                now,
                decide,
                reply,
            } => (
                Op::Decided { ids, now, decide },
                OpReply::Transitions(reply),
            ),
            Request::CallbackDone {
                message_id,
                seq,
                reply,
            } => (Op::CallbackDone { message_id, seq }, OpReply::Unit(reply)),
            Request::CallbackRetry {
                message_id,
                seq,
                next_attempt_at,
                reply,
            } => (
                Op::CallbackRetry {
                    message_id,
                    seq,
                    next_attempt_at,
                },
                OpReply::Unit(reply),
            ),
            Request::PurgeIdempotency { older_than, reply } => {
                (Op::PurgeIdempotency { older_than }, OpReply::Count(reply))
            }
            Request::Backup { to, reply } => {
                apply_run(shared, &mut group, std::mem::take(&mut run), &mut answers);
                seal_now(&mut group, &mut lost);
                let result = match &lost {
                    Some(e) => Err(StoreError::NotDurable { detail: e.clone() }),
                    None => backup(shared, &to),
                };
                answers.push(Answer::Unit(reply, result));
                continue;
            }
            Request::Close { reply } => {
                apply_run(shared, &mut group, std::mem::take(&mut run), &mut answers);
                seal_now(&mut group, &mut lost);
                go_on = Continue::No;
                answers.push(Answer::Unit(reply, Ok(())));
                continue;
            }
        };
        run.push((op, reply));
    }
    apply_run(shared, &mut group, run, &mut answers);
    // The group is appended now but made visible only after the flush: nobody (the
    // dispatcher least of all, which would send it) sees a write that is not on disk yet.
    let mut appended = None;
    if !group.is_empty() {
        match append_group(shared, &group) {
            Ok(()) => appended = Some(group),
            Err(e) => {
                tracing::error!(error = %e, "store journal append failed");
                lost = Some(e.to_string());
            }
        }
    }
    if matches!(go_on, Continue::No) {
        if let Some(group) = appended.take() {
            publish(shared, group);
        }
        if lost.is_none()
            && let Err(e) = shared.materialize_all()
        {
            // Not lost: the journal still holds the writes, and the next open replays them.
            tracing::warn!(error = %e, "store materialization at close failed");
        }
    }
    let started = std::time::Instant::now();
    let flushed: Result<(), String> = match lost {
        Some(e) => Err(e),
        None => shared.journal().sync().map_err(|e| {
            tracing::error!(error = %e, "store journal sync failed");
            e.to_string()
        }),
    };
    shared.flushes.fetch_add(1, Ordering::Relaxed);
    tracing::trace!(requests = answers.len(), elapsed = ?started.elapsed(), "store flush");
    // Visible even if the flush failed: the journal holds these writes either way, and what
    // readers see must match what a later flush (or the replay at open) makes of it.
    if let Some(group) = appended {
        publish(shared, group);
    }
    let open = {
        let layers = shared.layers();
        layers.with_stack(|stack| {
            overlay::lookup(
                stack,
                &shared.trees.counters,
                TreeId::Counters,
                layout::OPEN_COUNTER,
            )
        })
    };
    if let Ok(open) = open {
        shared
            .backlog
            .store(layout::counter_value(open.as_deref()), Ordering::Relaxed);
    }
    match flushed {
        Ok(()) => answers.into_iter().for_each(Answer::send),
        Err(detail) => answers
            .into_iter()
            .for_each(|a| a.undurable(&detail).send()),
    }
    go_on
}

/// Copies the store into a new sled database at `to`. Consistent because it runs in the writer
/// (no group is committed during the copy) and holds the materialization lock: the trees and
/// the journal copied together hold every committed write, and the copy replays its journal
/// when opened.
fn backup(shared: &Shared, to: &std::path::Path) -> Result<(), StoreError> {
    let _no_materialization = shared.materialize_lock();
    backup_trees(&shared.trees, to)?;
    let copied = journal::copy(&shared.journal_dir(), &journal::dir(to));
    if copied.is_err() {
        remove_failed_backup(to);
    }
    copied
}

/// Leaves no half copy that could later be mistaken for a backup.
fn remove_failed_backup(to: &std::path::Path) {
    if let Err(e) = std::fs::remove_dir_all(to) {
        tracing::warn!(path = %to.display(), error = %e, "could not remove a failed backup");
    }
}

/// Copies every tree into a new sled database at `to`.
fn backup_trees(trees: &Trees, to: &std::path::Path) -> Result<(), StoreError> {
    if to.exists() {
        return Err(StoreError::BackupTargetExists {
            path: to.to_owned(),
        });
    }
    let copied = sled::Config::new()
        .path(to)
        .open()
        .and_then(|copy| copy_trees(trees, &copy));
    if copied.is_err() {
        remove_failed_backup(to);
    }
    Ok(copied?)
}

fn copy_trees(trees: &Trees, copy: &sled::Db) -> Result<(), sled::Error> {
    /// Entries per insert batch into the copy: bounded memory whatever the store's size.
    const CHUNK: usize = 10_000;
    for name in tree::ALL {
        let from = trees
            .by_name(name)
            .expect("tree::ALL names only known trees");
        let into = copy.open_tree(name)?;
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for item in from.iter() {
            let (k, v) = item?;
            batch.insert(k, v);
            n += 1;
            if n == CHUNK {
                into.apply_batch(std::mem::take(&mut batch))?;
                n = 0;
            }
        }
        into.apply_batch(batch)?;
    }
    copy.flush()?;
    Ok(())
}
