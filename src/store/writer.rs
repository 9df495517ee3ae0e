//! The writer: one task that owns every write, so that many requests share one flush.
//!
//! Requests come down a bounded channel, each with a oneshot for its answer. The task takes
//! everything waiting (up to `MAX_BATCH`), and in ONE `spawn_blocking` call applies each
//! request in its own transaction (so one request's abort, an idempotency conflict, leaves the
//! others alone), flushes once, refreshes the backlog, and only then answers: nobody hears
//! "done" before their write is on disk (design.md: 202 only after the flush).

use super::layout::{self, tree};
use super::tx::{Trees, Tx, TxResult};
use super::{IdempotencyRecord, StoreError, Transition};
use crate::outbox::{Event, Message, MessageId, UnixMillis};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// What the writer and the readers share.
pub(crate) struct Shared {
    pub(crate) db: sled::Db,
    pub(crate) trees: Trees,
    pub(crate) path: PathBuf,
    /// Open (non-terminal, not done) messages after the last committed batch.
    pub(crate) backlog: AtomicU64,
    /// Flushes done by the writer.
    pub(crate) flushes: AtomicU64,
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
pub(crate) async fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<Request>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let work = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        let shared = Arc::clone(&shared);
        match tokio::task::spawn_blocking(move || commit(&shared, work)).await {
            Ok(Continue::Yes) => {}
            Ok(Continue::No) => break,
            Err(e) => {
                // The batch's callers see WriterGone; so does everyone after them, and
                // readiness should report it. Going on after a panic inside sled is not safe.
                tracing::error!(error = %e, "store writer failed; no more writes");
                break;
            }
        }
    }
}

enum Continue {
    Yes,
    No,
}

/// A request that is one sled transaction of its own: several of them can share one.
enum Op {
    Accept {
        messages: Vec<Message>,
        idempotency: Option<IdempotencyRecord>,
    },
    Transition {
        items: Vec<(MessageId, Event)>,
        now: UnixMillis,
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
}

/// What an [`Op`] returns.
enum Done {
    Unit,
    Transitions(Vec<Transition>),
}

/// Where an [`Op`]'s answer goes.
enum OpReply {
    Unit(Reply<()>),
    Transitions(Reply<Vec<Transition>>),
}

impl Op {
    fn apply(&self, tx: &Tx<'_>) -> TxResult<Done> {
        Ok(match self {
            Self::Accept {
                messages,
                idempotency,
            } => {
                tx.accept(messages, idempotency.as_ref())?;
                Done::Unit
            }
            Self::Transition { items, now } => Done::Transitions(tx.transition(items, *now)?),
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
                    Done::Unit => Vec::new(),
                }),
            ),
        }
    }
}

/// Applies a run of transactional requests, in order. Every sled transaction costs a write
/// and a sync of sled's log buffer (twice) whatever its size, so the run goes in ONE
/// transaction; if that aborts (one request's own abort: an idempotency key in use, a
/// duplicate id, an undecodable record), nothing of it was written and each request runs
/// again in its own transaction, so that the abort stays that request's alone. Either way
/// each request's answer is what it would have been on its own: requests apply in order and
/// a transaction reads its own writes.
fn apply_run(trees: &Trees, run: Vec<(Op, OpReply)>, answers: &mut Vec<Answer>) {
    if run.len() > 1 {
        let together = trees.transact(|tx| {
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
        answers.push(reply.answer(trees.transact(|tx| op.apply(tx))));
    }
}

/// Applies a batch, flushes once, answers everyone. Runs on a blocking thread.
fn commit(shared: &Shared, batch: Vec<Request>) -> Continue {
    let trees = &shared.trees;
    let mut go_on = Continue::Yes;
    let mut answers = Vec::with_capacity(batch.len());
    let mut run = Vec::new();
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
            // The others are not transactions: what is queued before them is applied first.
            Request::PurgeIdempotency { older_than, reply } => {
                apply_run(trees, std::mem::take(&mut run), &mut answers);
                answers.push(Answer::Count(reply, purge_idempotency(trees, older_than)));
                continue;
            }
            Request::Backup { to, reply } => {
                apply_run(trees, std::mem::take(&mut run), &mut answers);
                answers.push(Answer::Unit(reply, backup(trees, &to)));
                continue;
            }
            Request::Close { reply } => {
                apply_run(trees, std::mem::take(&mut run), &mut answers);
                go_on = Continue::No;
                answers.push(Answer::Unit(reply, Ok(())));
                continue;
            }
        };
        run.push((op, reply));
    }
    apply_run(trees, run, &mut answers);
    let started = std::time::Instant::now();
    let flushed = shared.db.flush();
    shared.flushes.fetch_add(1, Ordering::Relaxed);
    tracing::trace!(requests = answers.len(), elapsed = ?started.elapsed(), "store flush");
    if let Ok(open) = trees.counters.get(layout::OPEN_COUNTER) {
        shared
            .backlog
            .store(layout::counter_value(open.as_deref()), Ordering::Relaxed);
    }
    match flushed {
        Ok(_) => answers.into_iter().for_each(Answer::send),
        Err(e) => {
            tracing::error!(error = %e, "store flush failed");
            let detail = e.to_string();
            answers
                .into_iter()
                .for_each(|a| a.undurable(&detail).send());
        }
    }
    go_on
}

fn purge_idempotency(trees: &Trees, older_than: UnixMillis) -> Result<usize, StoreError> {
    // Only the writer writes, so the keys found here are still there in the transaction.
    let keys = trees
        .idempotency_age
        .range(..layout::time_key(older_than))
        .keys()
        .take(PURGE_BATCH)
        .collect::<Result<Vec<_>, _>>()?;
    trees.transact(|tx| tx.purge_idempotency(&keys))?;
    Ok(keys.len())
}

/// Copies every tree into a new sled database at `to`. Consistent because it runs in the writer:
/// no write happens during the copy.
fn backup(trees: &Trees, to: &std::path::Path) -> Result<(), StoreError> {
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
        // Leave no half copy that could later be mistaken for a backup.
        if let Err(e) = std::fs::remove_dir_all(to) {
            tracing::warn!(path = %to.display(), error = %e, "could not remove a failed backup");
        }
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
