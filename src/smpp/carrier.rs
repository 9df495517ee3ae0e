//! One carrier: its binds, their shared job queue and throttle, and the handle the rest of
//! Kori sends messages through.
//!
//! Owns the queue of messages waiting for a bind (bounded by an admission semaphore, so a
//! caller waits instead of memory growing), the carrier's up/down state, and MO reassembly
//! (parts may arrive on different binds). Must not touch: sockets (the sessions do). Called by
//! the router and the outbox; started by `app`.

use super::session::Session;
use super::throttle::Throttle;
use super::{BindKind, BindMode, CarrierConfig, CarrierName, Event, MessageOutcome, OutMessage};
use super::{SegmentOutcome, SendError};
use kori_smpp::segment::Reassembler;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Messages admitted per unit of window: enough queued work to keep every bind's window full
/// while the next messages are being prepared, without holding more in memory than that.
const QUEUE_PER_WINDOW_SLOT: usize = 2;

/// Incomplete MO messages kept at once per carrier (oldest evicted first).
const MO_GROUPS: usize = 1024;

/// A message on its way through a bind.
pub(crate) struct Job {
    segments: Vec<kori_smpp::SubmitSm>,
    outcomes: Vec<SegmentOutcome>,
    /// `submit_sm` PDUs written for this message.
    pub(crate) attempts: u32,
    /// Times the current segment was sent again after its fate became unknown.
    pub(crate) resends: u32,
    /// Whether the router has another carrier for it.
    pub(crate) may_fail_over: bool,
    reply: oneshot::Sender<Result<MessageOutcome, SendError>>,
    carrier: CarrierName,
    _admitted: OwnedSemaphorePermit,
}

impl Job {
    /// Index of the segment to send next.
    pub(crate) fn next_index(&self) -> usize {
        self.outcomes.len()
    }

    /// Takes the next segment out to encode it; [`Job::put_back`] returns it.
    pub(crate) fn take_segment(&mut self) -> Option<kori_smpp::SubmitSm> {
        let i = self.next_index();
        self.segments.get_mut(i).map(std::mem::take)
    }

    /// Returns the segment taken by [`Job::take_segment`].
    pub(crate) fn put_back(&mut self, sm: kori_smpp::SubmitSm) {
        let i = self.next_index();
        if let Some(slot) = self.segments.get_mut(i) {
            *slot = sm;
        }
    }

    /// Records the outcome of the current segment; true when the message is finished.
    pub(crate) fn record(&mut self, outcome: SegmentOutcome) -> bool {
        let accepted = matches!(outcome, SegmentOutcome::Accepted { .. });
        self.outcomes.push(outcome);
        self.resends = 0;
        !accepted || self.outcomes.len() == self.segments.len()
    }

    /// Answers the caller with the outcome so far; segments never sent are `NotSent`.
    pub(crate) fn finish(mut self) {
        while self.outcomes.len() < self.segments.len() {
            self.outcomes.push(SegmentOutcome::NotSent);
        }
        let outcome = MessageOutcome {
            carrier: self.carrier,
            segments: self.outcomes,
            attempts: self.attempts,
        };
        // The caller may have gone (its request was cancelled): nothing to tell then.
        let _ = self.reply.send(Ok(outcome));
    }

    /// Gives up on the message without sending more of it. When nothing of it reached the
    /// SMSC the caller hears [`SendError::Unsent`] (it can be sent again, elsewhere or later);
    /// otherwise the outcome so far, with a segment awaiting its resend as fate unknown.
    pub(crate) fn abandon(mut self, reason: &str) {
        if self.untouched() {
            let _ = self.reply.send(Err(SendError::Unsent {
                reason: reason.to_owned(),
            }));
            return;
        }
        if self.resends > 0 {
            self.outcomes.push(SegmentOutcome::FateUnknown);
        }
        self.finish();
    }

    /// True when no segment has been accepted and none is of unknown fate: the SMSC has
    /// nothing of this message (a throttled attempt was refused, so it does not count).
    pub(crate) fn untouched(&self) -> bool {
        self.outcomes.is_empty() && self.resends == 0
    }
}

/// Whether a carrier's binds are up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CarrierStatus {
    /// Binds that can submit (transceivers, transmitters) that are up.
    pub submit_binds_up: usize,
    /// Binds that can receive (transceivers, receivers) that are up.
    pub receive_binds_up: usize,
    /// Since when no submitting bind has been up (`None` while one is, or before the first).
    pub down_since: Option<Instant>,
    /// Why the last bind failed or went down, for `/readyz` and the operator.
    pub last_error: Option<String>,
}

/// State the binds of one carrier share.
pub(crate) struct Shared {
    pub(crate) config: CarrierConfig,
    pub(crate) throttle: Throttle,
    pub(crate) jobs_tx: async_channel::Sender<Job>,
    pub(crate) jobs_rx: async_channel::Receiver<Job>,
    pub(crate) events: mpsc::Sender<Event>,
    pub(crate) mo: Mutex<Reassembler<(String, String)>>,
    pub(crate) started: Instant,
    status: watch::Sender<CarrierStatus>,
}

impl Shared {
    /// Records a bind going up or down.
    pub(crate) fn bind_changed(&self, kind: BindKind, up: bool) {
        self.status.send_modify(|s| {
            let delta = |n: usize| if up { n + 1 } else { n.saturating_sub(1) };
            if kind.submits() {
                s.submit_binds_up = delta(s.submit_binds_up);
            }
            if kind != BindKind::Transmitter {
                s.receive_binds_up = delta(s.receive_binds_up);
            }
            if s.submit_binds_up > 0 {
                s.down_since = None;
            } else if s.down_since.is_none() {
                s.down_since = Some(Instant::now());
            }
        });
    }

    /// Remembers why a bind failed or went down.
    pub(crate) fn note_error(&self, reason: &str) {
        self.status
            .send_modify(|s| s.last_error = Some(reason.to_owned()));
    }

    /// True when no submitting bind has been up for longer than `failover_after`.
    pub(crate) fn down_too_long(&self) -> bool {
        let status = self.status.borrow();
        status.submit_binds_up == 0
            && status.down_since.unwrap_or(self.started).elapsed() >= self.config.failover_after
    }
}

/// A handle on one carrier's binds. Cheap to clone.
#[derive(Clone)]
pub struct Carrier {
    shared: Arc<Shared>,
    admission: Arc<Semaphore>,
    status: watch::Receiver<CarrierStatus>,
}

impl Carrier {
    /// Starts the carrier's binds on `tracker`; they stop (unbinding) when `cancel` fires.
    /// Receipts, MO messages and bind changes go to `events`.
    pub fn start(
        config: CarrierConfig,
        events: mpsc::Sender<Event>,
        cancel: &CancellationToken,
        tracker: &TaskTracker,
    ) -> Carrier {
        let sessions = config.sessions.get() as usize;
        let window = config.window.get() as usize;
        let (jobs_tx, jobs_rx) = async_channel::unbounded();
        let (status_tx, status) = watch::channel(CarrierStatus::default());
        let shared = Arc::new(Shared {
            throttle: Throttle::new(config.tps),
            mo: Mutex::new(Reassembler::new(MO_GROUPS, config.gsm7_packed)),
            jobs_tx,
            jobs_rx,
            events,
            started: Instant::now(),
            status: status_tx,
            config,
        });
        let kinds: &[BindKind] = match shared.config.bind {
            BindMode::Transceiver => &[BindKind::Transceiver],
            BindMode::TransmitterReceiver => &[BindKind::Transmitter, BindKind::Receiver],
        };
        let mut bind = 0;
        for _ in 0..sessions {
            for &kind in kinds {
                let session = Session::new(shared.clone(), bind, kind, cancel.child_token());
                tracker.spawn(session.run());
                bind += 1;
            }
        }
        Carrier {
            shared,
            admission: Arc::new(Semaphore::new(sessions * window * QUEUE_PER_WINDOW_SLOT)),
            status,
        }
    }

    /// The carrier's name.
    pub fn name(&self) -> &CarrierName {
        &self.shared.config.name
    }

    /// The carrier's settings.
    pub fn config(&self) -> &CarrierConfig {
        &self.shared.config
    }

    /// Whether its binds are up.
    pub fn status(&self) -> CarrierStatus {
        self.status.borrow().clone()
    }

    /// True unless every submitting bind has been down longer than `failover_after`.
    pub fn is_available(&self) -> bool {
        !self.shared.down_too_long()
    }

    /// Waits until at least one submitting bind is up.
    pub async fn wait_up(&self) {
        let mut status = self.status.clone();
        // The sender lives as long as `self.shared`, so this cannot fail while we hold it.
        let _ = status.wait_for(|s| s.submit_binds_up > 0).await;
    }

    /// Sends a message and waits for the outcome of every segment.
    ///
    /// Waits for room when the carrier's queue is full. `may_fail_over`: when every bind has
    /// been down longer than `failover_after`, a message not yet started is given back as
    /// [`SendError::Unsent`] so the router can try the next carrier.
    pub async fn send(
        &self,
        message: OutMessage,
        may_fail_over: bool,
    ) -> Result<MessageOutcome, SendError> {
        let permit =
            self.admission
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| SendError::Unsent {
                    reason: format!("carrier {} is stopping", self.name()),
                })?;
        let (reply, outcome) = oneshot::channel();
        let job = Job {
            outcomes: Vec::with_capacity(message.segments.len()),
            segments: message.segments,
            attempts: 0,
            resends: 0,
            may_fail_over,
            reply,
            carrier: self.name().clone(),
            _admitted: permit,
        };
        if job.segments.is_empty() {
            job.finish();
        } else if self.shared.jobs_tx.send(job).await.is_err() {
            return Err(SendError::Unsent {
                reason: format!("carrier {} is stopping", self.name()),
            });
        }
        outcome.await.unwrap_or_else(|_| {
            Err(SendError::Unsent {
                reason: format!("carrier {} stopped", self.name()),
            })
        })
    }
}
