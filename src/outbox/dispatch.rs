//! The dispatcher: moves messages through their life. It takes due messages from the store,
//! hands them to a carrier through the router, records each outcome, matches receipts to
//! their segments, times out missing receipts, expires what outlived its validity, and on
//! start picks up where the last run stopped.
//!
//! Four tasks: the dispatch loop (takes due messages, decides each hand-over inside the
//! store write), the submitter (drives every hand-over to a carrier, one future per message
//! in one task), the outcome recorder (records the carriers' answers, those waiting together
//! in one store write), and the receipt loop (receipts in batches, each answered to the SMSC
//! once on disk); plus the sweeper and the callback sender. At shutdown the dispatch loop
//! stops taking; the submitter and the recorder finish what was handed over.
//!
//! Owns retries (backoff and budget), the fate-unknown policy at restart, and receipts that
//! arrive before their submit is recorded (parked briefly). Must not touch: sled (it calls
//! `store`), HTTP. Started by `app` (and the demo and tests) through [`Outbox::start`].

use super::callbacks::Callbacks;
use super::model::{Message, MessageId, MessageState, PartState, TextEncoding, UnixMillis};
use super::state::Event;
use crate::client::TrustedCas;
use crate::clock::Clock;
use crate::config::Secret;
use crate::dlr;
use crate::smpp::{
    self, CarrierConfig, Delivery, MessageOutcome, OutMessage, ReceiptAck, Router, SegmentOutcome,
    SendError,
};
use crate::store::{Decide, IdempotencyRecord, Store, StoreError, Transition};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use kori_smpp::receipt::{MessageState as ReceiptState, Receipt};
use kori_smpp::text::EncodingChoice;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

/// Messages taken from the store per look.
const DUE_BATCH: usize = 1_024;
/// Longest the dispatcher goes on from its cursor before looking at the whole due index again.
const RESCAN_EVERY: Duration = Duration::from_secs(1);
/// Messages in the hands of carriers at once (each holds a permit until its outcome is
/// recorded).
const IN_FLIGHT: usize = 16_384;
/// Most events (receipts) taken from the sessions at once; their receipts are recorded in one
/// store write.
const RECEIPT_BATCH: usize = 1_024;
/// How long a receipt that matches no submit yet is kept for its submit to be recorded.
const PARK_FOR: Duration = Duration::from_secs(120);
/// Most receipts parked at once; beyond that the SMSC is asked to deliver again later.
const PARK_MAX: usize = 100_000;
/// How long the SMSC waits for the answer to a parked receipt. Its submit is normally recorded
/// within milliseconds, and then the receipt is recorded and answered; one still parked after
/// this is answered ESME_ROK and kept in memory (a receipt for a submit this Kori never
/// recorded, e.g. one sent again after a restart, would otherwise come back forever).
const PARK_ANSWER_AFTER: Duration = Duration::from_secs(2);
/// How often missing receipts and outlived validity are checked for.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// How the outbox treats messages.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// First retry delay after a transient failure; doubles per attempt.
    pub retry_initial: Duration,
    /// Largest retry delay.
    pub retry_max: Duration,
    /// Attempts (hand-overs to a carrier) before giving up.
    pub max_attempts: u32,
    /// How long a submitted message waits for its receipts, per carrier name; `default` else.
    pub receipt_timeout: HashMap<String, Duration>,
    /// Receipt timeout for carriers not named above (design default 48 h).
    pub default_receipt_timeout: Duration,
    /// The key that signs delivery callbacks (`[http] callback_secret_file`); empty: callbacks
    /// go out without a `Kori-Signature` header.
    pub callback_secret: Secret,
    /// CAs trusted for `https://` callback URLs besides the system's roots
    /// (`[http] callback_ca_file`).
    pub callback_cas: TrustedCas,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            max_attempts: 20,
            receipt_timeout: HashMap::new(),
            default_receipt_timeout: Duration::from_secs(48 * 3600),
            callback_secret: Secret::default(),
            callback_cas: TrustedCas::default(),
        }
    }
}

/// A recorded change of state, for whoever watches (tests, the demo, callbacks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// The message.
    pub id: MessageId,
    /// Its state before.
    pub from: MessageState,
    /// Its state now.
    pub to: MessageState,
}

/// State changes buffered for slow watchers; one that falls further behind is told it lagged.
const CHANGES_CAPACITY: usize = 65_536;

struct Shared {
    changes: tokio::sync::broadcast::Sender<StateChange>,
    store: Store,
    router: Router,
    config: OutboxConfig,
    clock: Clock,
    wake: Notify,
    in_flight: Arc<Semaphore>,
    parked: Mutex<Parked>,
    callbacks: Arc<Callbacks>,
}

/// Receipts whose submit is not recorded yet, by (carrier, key), with when they came and
/// the SMSC's answer.
#[derive(Default)]
struct Parked {
    receipts: HashMap<(String, String), (Box<Receipt>, UnixMillis, ReceiptAck)>,
}

/// A handle on the running outbox.
#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

impl Outbox {
    /// Recovers from the last run, then starts the dispatcher, the receipt reader, the
    /// sweeper and the callback sender on `tracker`, until `cancel`.
    pub async fn start(
        store: Store,
        router: Router,
        events: mpsc::Receiver<smpp::Event>,
        config: OutboxConfig,
        clock: Clock,
        cancel: &CancellationToken,
        tracker: &TaskTracker,
    ) -> Result<Outbox, StoreError> {
        let callbacks = Callbacks::new(
            store.clone(),
            clock,
            config.callback_secret.clone(),
            &config.callback_cas,
        );
        let shared = Arc::new(Shared {
            changes: tokio::sync::broadcast::channel(CHANGES_CAPACITY).0,
            store,
            router,
            config,
            clock,
            wake: Notify::new(),
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
            parked: Mutex::new(Parked::default()),
            callbacks,
        });
        recover(&shared).await?;
        // Closed when the dispatcher and every submit it started are done: the recorder
        // then has recorded every outcome and ends.
        let (outcomes, recorded) = mpsc::unbounded_channel();
        tracker.spawn(outcome_loop(shared.clone(), recorded));
        // Likewise the submitter, once the dispatcher is done.
        let (hand_over, handed) = mpsc::unbounded_channel();
        tracker.spawn(submit_loop(shared.clone(), handed, outcomes));
        tracker.spawn(dispatch_loop(shared.clone(), cancel.clone(), hand_over));
        tracker.spawn(receipt_loop(shared.clone(), events, cancel.clone()));
        tracker.spawn(sweep_loop(shared.clone(), cancel.clone()));
        tracker.spawn(
            shared
                .callbacks
                .clone()
                .run(cancel.clone(), tracker.clone()),
        );
        Ok(Outbox { shared })
    }

    /// Writes accepted messages (and the idempotency record with them) durably, then tells
    /// the dispatcher.
    pub async fn accept(
        &self,
        messages: Vec<Message>,
        idempotency: Option<IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let any = !messages.is_empty();
        self.shared.store.accept(messages, idempotency).await?;
        if any {
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// The response kept under an idempotency key.
    pub fn idempotency(
        &self,
        owner: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.shared.store.idempotency_get(owner, key)
    }

    /// One message.
    pub fn get(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        self.shared.store.get(id)
    }

    /// Messages not yet settled.
    pub fn backlog(&self) -> u64 {
        self.shared.store.backlog()
    }

    /// Flushes (fsyncs) the store has made since it was opened: with the messages accepted,
    /// how many writes share one flush.
    pub fn store_flushes(&self) -> u64 {
        self.shared.store.flushes()
    }

    /// The router.
    pub fn router(&self) -> &Router {
        &self.shared.router
    }

    /// The calendar clock.
    pub fn clock(&self) -> Clock {
        self.shared.clock
    }

    /// State changes from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<StateChange> {
        self.shared.changes.subscribe()
    }

    /// Tells the dispatcher that new messages are due (after an accept).
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Cancels a queued message; `Ok(None)` when there is no such message.
    pub async fn cancel(&self, id: MessageId) -> Result<Transition, StoreError> {
        self.shared
            .transition(id, Event::Cancel, self.shared.clock.now())
            .await
    }
}

impl Shared {
    /// Every transition goes through here: the store decides and records it, then watchers
    /// hear of it.
    async fn transition(
        &self,
        id: MessageId,
        event: Event,
        now: UnixMillis,
    ) -> Result<Transition, StoreError> {
        let result = self.store.transition(id, event, now).await;
        if let Ok(t) = &result {
            self.announce(t);
        }
        result
    }

    async fn transition_decided(
        &self,
        ids: Vec<MessageId>,
        now: UnixMillis,
        decide: Decide,
    ) -> Result<Vec<Transition>, StoreError> {
        let results = self.store.transition_decided(ids, now, decide).await?;
        results.iter().for_each(|t| self.announce(t));
        Ok(results)
    }

    async fn transition_many(
        &self,
        items: Vec<(MessageId, Event)>,
        now: UnixMillis,
    ) -> Result<Vec<Transition>, StoreError> {
        let results = self.store.transition_many(items, now).await?;
        results.iter().for_each(|t| self.announce(t));
        Ok(results)
    }

    /// Tells watchers and the callback sender of an applied change of state.
    fn announce(&self, transition: &Transition) {
        let Transition::Applied { before, message } = transition else {
            return;
        };
        let before = *before;
        if before == message.state {
            return;
        }
        if message.callback_url.is_some() {
            // The store recorded a callback with this change.
            self.callbacks.wake();
        }
        if self.changes.receiver_count() > 0 {
            let _ = self.changes.send(StateChange {
                id: message.id,
                from: before,
                to: message.state,
            });
        }
    }
}

/// At start: a message found `submitting` was handed to a carrier when Kori stopped, so its
/// fate is unknown. At-least-once carriers get it again; at-most-once ones mark it unknown.
async fn recover(shared: &Shared) -> Result<(), StoreError> {
    let now = shared.clock.now();
    let mut recovered = 0usize;
    loop {
        let stuck = shared.store.in_state(MessageState::Submitting, DUE_BATCH)?;
        if stuck.is_empty() {
            break;
        }
        let mut batch = Vec::with_capacity(stuck.len());
        for message in stuck {
            let policy = message
                .routed_to
                .as_deref()
                .and_then(|name| shared.router.carrier(name))
                .map_or(Delivery::AtLeastOnce, |c| c.config().delivery);
            let event = match policy {
                Delivery::AtLeastOnce => Event::Transient {
                    retry_at: now,
                    reason: "restart: fate unknown, sending again".to_owned(),
                },
                Delivery::AtMostOnce => Event::FateUnknown,
            };
            batch.push((message.id, event));
        }
        recovered += batch.len();
        shared.transition_many(batch, now).await?;
    }
    if recovered > 0 {
        info!(
            recovered,
            "picked up messages that were being submitted when Kori stopped"
        );
    }
    Ok(())
}

async fn dispatch_loop(
    shared: Arc<Shared>,
    cancel: CancellationToken,
    hand_over: mpsc::UnboundedSender<(Message, OwnedSemaphorePermit)>,
) {
    // Where the last look left off: the due time and id of the last message taken. Looks go
    // on from there: entries before it are the ones just taken, which the store keeps as
    // removals until they are materialized, and walking them again on every look would cost
    // more than the look. Entries committed later that sort before it are reported by the
    // store (`take_due_hint`), and a look from the start is made at least every
    // `RESCAN_EVERY` all the same.
    let mut cursor: Option<(UnixMillis, MessageId)> = None;
    let mut rescan_at = tokio::time::Instant::now();
    loop {
        if cancel.is_cancelled() {
            return;
        }
        if tokio::time::Instant::now() >= rescan_at {
            rescan_at = tokio::time::Instant::now() + RESCAN_EVERY;
            cursor = None;
        }
        // An entry committed since the last look that sorts at or before the cursor: go on
        // from just before it instead.
        if let (Some(at), Some(hint)) = (cursor, shared.store.take_due_hint())
            && hint <= at
        {
            cursor = hint
                .1
                .0
                .checked_sub(1)
                .map(|before| (hint.0, MessageId(before)));
        }
        let now = shared.clock.now();
        let due = match shared.store.due_after(cursor, now, DUE_BATCH) {
            Ok(due) => due,
            Err(e) => {
                warn!(error = %e, "cannot read due messages; trying again shortly");
                Vec::new()
            }
        };
        if due.is_empty() {
            // Sleep until the next entry after the cursor is due, a new message comes, or (with
            // a cursor) the next look from the start.
            let next = shared
                .store
                .due_after(cursor, UnixMillis::MAX, 1)
                .ok()
                .and_then(|next| next.first().map(|(at, _)| *at));
            let mut sleep_until = match cursor {
                Some(_) => rescan_at,
                None => tokio::time::Instant::now() + Duration::from_secs(3600),
            };
            if let Some(at) = next {
                sleep_until = sleep_until.min(shared.clock.instant_at(at));
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                () = shared.wake.notified() => {}
                () = tokio::time::sleep_until(sleep_until) => {}
            }
            continue;
        }
        // One permit per message handed over; wait for the first, take what else is free.
        // Ids beyond the permits stay queued for the next look.
        let first = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            permit = shared.in_flight.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let mut permits = vec![first];
        while permits.len() < due.len() {
            match shared.in_flight.clone().try_acquire_owned() {
                Ok(permit) => permits.push(permit),
                Err(_) => break,
            }
        }
        let taking = &due[..permits.len()];
        cursor = taking.last().copied();
        let ids: Vec<MessageId> = taking.iter().map(|(_, id)| *id).collect();
        let taken = take_many(&shared, &ids).await;
        for handed in taken.into_iter().zip(permits) {
            // The submitter outlives the dispatcher (see `Outbox::start`).
            let _ = hand_over.send(handed);
        }
    }
}

/// Moves due messages to `submitting` (or expires / gives them up) in one store write, each
/// decided from the message as the writer reads it; the messages to hand over, in the order
/// of `ids`.
async fn take_many(shared: &Arc<Shared>, ids: &[MessageId]) -> Vec<Message> {
    let now = shared.clock.now();
    let decider = Arc::clone(shared);
    let decide: Decide = Arc::new(move |message: &Message| hand_over(&decider, message, now));
    // Every change is announced, give-ups included (callbacks and watchers hear of them).
    let results = match shared.transition_decided(ids.to_vec(), now, decide).await {
        Ok(results) => results,
        Err(e) => {
            warn!(messages = ids.len(), error = %e, "cannot record the hand-over; they stay queued");
            return Vec::new();
        }
    };
    results
        .into_iter()
        .filter_map(|result| match result {
            Transition::Applied { message, .. } if message.state == MessageState::Submitting => {
                Some(message)
            }
            _ => None,
        })
        .collect()
}

/// What taking a due message means: expired, given up after too many attempts or for want
/// of a route, or handed to a carrier.
fn hand_over(shared: &Shared, message: &Message, now: UnixMillis) -> Event {
    if now >= message.valid_until {
        Event::Expire
    } else if message.attempts >= shared.config.max_attempts {
        let reason = format!("{} attempts without a submit accepted", message.attempts);
        Event::GiveUp { reason }
    } else {
        match route(shared, message) {
            Some(carrier) => Event::Dispatched { carrier },
            None => {
                let reason = "no carrier route matches the destination".to_owned();
                Event::GiveUp { reason }
            }
        }
    }
}

/// The carrier a message goes to: the one it asked for, else the router's first candidate.
fn route(shared: &Shared, message: &Message) -> Option<String> {
    if let Some(name) = &message.carrier {
        return shared.router.carrier(name).map(|c| c.name().to_string());
    }
    let candidates = shared.router.candidates(&message.to);
    candidates
        .iter()
        .map(|r| &shared.router.carriers()[r.carrier])
        .find(|c| c.is_available())
        .or_else(|| {
            candidates
                .first()
                .map(|r| &shared.router.carriers()[r.carrier])
        })
        .map(|c| c.name().to_string())
}

/// A carrier's outcome for one message, on its way to [`outcome_loop`].
struct Outcome {
    id: MessageId,
    event: Event,
    /// The carrier of an accepted submit and its receipt keys: receipts parked for them apply
    /// once it is recorded.
    carrier: String,
    keys: Vec<String>,
    /// The message's place among those in flight, given back once the outcome is recorded.
    permit: OwnedSemaphorePermit,
}

/// Hands `message` to its carrier and waits for the outcome; `None`: nothing to record (it
/// stays `submitting`, for the next start to resolve).
async fn submit(
    shared: &Shared,
    message: Message,
    permit: OwnedSemaphorePermit,
) -> Option<Outcome> {
    let now = shared.clock.now();
    let id = message.id;
    let give_up = |reason: String, permit| {
        Some(Outcome {
            id,
            event: Event::GiveUp { reason },
            carrier: String::new(),
            keys: Vec::new(),
            permit,
        })
    };
    let Some(carrier) = message
        .routed_to
        .as_deref()
        .and_then(|name| shared.router.carrier(name))
    else {
        return give_up("carrier no longer configured".to_owned(), permit);
    };
    let out = match build(carrier.config(), &message, now) {
        Ok(out) => out,
        Err(e) => return give_up(format!("cannot build the submit: {e}"), permit),
    };
    let outcome = if message.carrier.is_some() {
        carrier.send(out, false).await
    } else {
        shared.router.send(&message.to, out).await
    };
    let event = match outcome {
        Ok(outcome) => outcome_event(shared, &message, &outcome),
        Err(SendError::Unsent { reason }) => Some(retry(shared, &message, reason)),
        Err(SendError::NoRoute { .. }) => Some(Event::GiveUp {
            reason: "no carrier route matches the destination".to_owned(),
        }),
    }?;
    let keys = match &event {
        Event::SubmitOk { keys, .. } => keys.clone(),
        _ => Vec::new(),
    };
    Some(Outcome {
        id,
        event,
        carrier: message.routed_to.clone().unwrap_or_default(),
        keys,
        permit,
    })
}

/// Messages the submitter takes from the dispatcher at once.
const SUBMIT_BATCH: usize = 1_024;

/// Drives every hand-over to a carrier (at most `IN_FLIGHT`, as the dispatcher's permits
/// allow) in one task, passing each outcome on to [`outcome_loop`]. Ends once the dispatcher
/// is done and every submit it handed over has its outcome.
async fn submit_loop(
    shared: Arc<Shared>,
    mut handed: mpsc::UnboundedReceiver<(Message, OwnedSemaphorePermit)>,
    outcomes: mpsc::UnboundedSender<Outcome>,
) {
    let mut taken = Vec::with_capacity(SUBMIT_BATCH);
    let mut running = FuturesUnordered::new();
    let mut open = true;
    while open || !running.is_empty() {
        tokio::select! {
            biased;
            Some(outcome) = running.next(), if !running.is_empty() => {
                if let Some(outcome) = outcome {
                    // The recorder outlives this task (see `Outbox::start`).
                    let _ = outcomes.send(outcome);
                }
            }
            n = handed.recv_many(&mut taken, SUBMIT_BATCH), if open => {
                open = n > 0;
                for (message, permit) in taken.drain(..) {
                    running.push(submit(&shared, message, permit));
                }
            }
        }
    }
}

/// Most outcomes recorded in one store write.
const OUTCOME_BATCH: usize = 1_024;

/// Records the carriers' outcomes as they come, those waiting together in one store write,
/// then applies receipts that were waiting for them and frees their places in flight. Ends
/// once the dispatcher and every submit are done (the channel closes), having recorded all.
async fn outcome_loop(shared: Arc<Shared>, mut outcomes: mpsc::UnboundedReceiver<Outcome>) {
    let mut batch = Vec::with_capacity(OUTCOME_BATCH);
    while outcomes.recv_many(&mut batch, OUTCOME_BATCH).await > 0 {
        let mut items = Vec::with_capacity(batch.len());
        let mut after = Vec::with_capacity(batch.len());
        for outcome in batch.drain(..) {
            items.push((outcome.id, outcome.event));
            after.push((outcome.id, outcome.carrier, outcome.keys, outcome.permit));
        }
        let names: Vec<&'static str> = items.iter().map(|(_, e)| e.name()).collect();
        match shared.transition_many(items, shared.clock.now()).await {
            Ok(results) => {
                for ((result, (id, ..)), event) in results.iter().zip(&after).zip(names) {
                    match result {
                        Transition::Applied { .. } => {}
                        Transition::Illegal(e) => debug!(%id, error = %e, "event does not apply"),
                        Transition::NotFound => warn!(%id, event, "message not found"),
                    }
                }
            }
            Err(e) => {
                warn!(messages = after.len(), error = %e, "cannot record the outcomes; the next start resolves them");
            }
        }
        // Receipts that came before their submits were recorded apply now, together.
        let mut waiting = Vec::new();
        for (_, carrier, keys, permit) in after {
            if !keys.is_empty() {
                waiting.extend(unpark(&shared, &carrier, &keys));
            }
            drop(permit);
        }
        if !waiting.is_empty() {
            on_receipts(&shared, waiting).await;
        }
    }
}

/// The event a carrier's outcome means for the message (`None`: leave it `submitting`, for
/// the next start to resolve).
fn outcome_event(shared: &Shared, message: &Message, outcome: &MessageOutcome) -> Option<Event> {
    let mut ids = Vec::with_capacity(outcome.segments.len());
    let mut keys = Vec::with_capacity(outcome.segments.len());
    for segment in &outcome.segments {
        match segment {
            SegmentOutcome::Accepted { message_id, key } => {
                ids.push(message_id.clone());
                keys.push(key.to_string());
            }
            SegmentOutcome::Rejected { status } => {
                return Some(Event::Rejected {
                    status: status.to_string(),
                });
            }
            SegmentOutcome::FateUnknown => return Some(Event::FateUnknown),
            SegmentOutcome::NotSent if ids.is_empty() => {
                return Some(retry(shared, message, "not sent".to_owned()));
            }
            // Part of it reached the SMSC and Kori is stopping: the next start decides.
            SegmentOutcome::NotSent => return None,
        }
    }
    Some(Event::SubmitOk {
        carrier_message_ids: ids,
        keys,
    })
}

/// A retry after a transient failure, or giving up once the validity would run out first.
fn retry(shared: &Shared, message: &Message, reason: String) -> Event {
    let now = shared.clock.now();
    let step = shared
        .config
        .retry_initial
        .saturating_mul(1 << message.attempts.min(20).saturating_sub(1));
    let delay = step.min(shared.config.retry_max);
    let retry_at = now + Clock::span(delay);
    if retry_at >= message.valid_until {
        Event::GiveUp {
            reason: format!("{reason}; the validity runs out before the next try"),
        }
    } else {
        debug!(id = %message.id, %reason, ?delay, "will try again");
        Event::Transient { retry_at, reason }
    }
}

/// The `submit_sm`s for a message on `carrier`, with the time left of its validity as a
/// relative `validity_period` (SMPP 3.4 §7.1.2), so an SMSC backlog cannot deliver it late.
fn build(
    carrier: &CarrierConfig,
    message: &Message,
    now: UnixMillis,
) -> Result<OutMessage, smpp::BuildError> {
    let encoding = match message.encoding {
        TextEncoding::Gsm7 => EncodingChoice::Gsm7,
        TextEncoding::Latin1 => EncodingChoice::Latin1,
        TextEncoding::Ucs2 => EncodingChoice::Ucs2,
    };
    let reference = (message.id.0 & 0xFFFF) as u16;
    let mut out = OutMessage::from_text(
        carrier,
        &message.from,
        &message.to,
        &message.text,
        Some(encoding),
        reference,
    )?;
    let validity = relative_validity(message.valid_until - now);
    for sm in &mut out.segments {
        sm.validity_period = validity;
        if !message.receipt {
            sm.registered_delivery = kori_smpp::RegisteredDelivery::NONE;
        }
        sm.priority_flag = message.priority.min(3);
    }
    Ok(out)
}

/// SMPP relative time "YYMMDDhhmmss000R" for a span (whole seconds; years and months unused).
fn relative_validity(millis: UnixMillis) -> kori_smpp::SmppTime {
    let secs = (millis.max(1_000) / 1_000).min(99 * 86_400);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let text = format!(
        "0000{days:02}{:02}{:02}{:02}000R",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    );
    kori_smpp::SmppTime::new(text.as_bytes()).unwrap_or_default()
}

async fn receipt_loop(
    shared: Arc<Shared>,
    mut events: mpsc::Receiver<smpp::Event>,
    cancel: CancellationToken,
) {
    let mut batch = Vec::with_capacity(RECEIPT_BATCH);
    loop {
        let taken = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            taken = events.recv_many(&mut batch, RECEIPT_BATCH) => taken,
        };
        if taken == 0 {
            return;
        }
        let mut receipts = Vec::with_capacity(batch.len());
        for event in batch.drain(..) {
            match event {
                smpp::Event::Receipt {
                    carrier,
                    receipt,
                    ack,
                } => receipts.push(ArrivedReceipt {
                    carrier,
                    receipt,
                    ack,
                }),
                smpp::Event::Mo(mo) => {
                    debug!(carrier = %mo.carrier, parts = mo.parts, "MO message (handled by the recovery engine)")
                }
                smpp::Event::BindUp { .. }
                | smpp::Event::BindDown { .. }
                | smpp::Event::BindFailed { .. } => {
                    // A bind came back: queued messages may go now.
                    shared.wake.notify_one();
                }
            }
        }
        on_receipts(&shared, receipts).await;
    }
}

/// A receipt from a carrier's session, with the answer its `deliver_sm` waits for.
struct ArrivedReceipt {
    carrier: Arc<str>,
    receipt: Box<Receipt>,
    ack: ReceiptAck,
}

/// What a receipt's state means for its segment (`None`: an intermediate report).
fn part_state(state: ReceiptState) -> Option<PartState> {
    match state {
        ReceiptState::Delivered | ReceiptState::Accepted => Some(PartState::Delivered),
        ReceiptState::Undeliverable | ReceiptState::Rejected | ReceiptState::Deleted => {
            Some(PartState::Undeliverable)
        }
        ReceiptState::Expired => Some(PartState::Expired),
        ReceiptState::Unknown => Some(PartState::Unknown),
        ReceiptState::Enroute | ReceiptState::Other(_) => None,
    }
}

/// Records receipts, all in one store write, then answers the SMSC for each (`ack`): only a
/// receipt on disk is acknowledged, so one that a crash catches in memory is delivered again.
async fn on_receipts(shared: &Shared, receipts: Vec<ArrivedReceipt>) {
    let mut events = Vec::with_capacity(receipts.len());
    let mut acks = Vec::with_capacity(receipts.len());
    for arrived in receipts {
        let ArrivedReceipt {
            carrier,
            receipt,
            ack,
        } = arrived;
        let Some(state) = part_state(receipt.state) else {
            debug!(%carrier, state = %receipt.state, "intermediate receipt");
            ack.recorded();
            continue;
        };
        match find_receipt_part(shared, &carrier, &receipt) {
            Ok(Some((id, part))) => {
                let error_code = receipt_error(&receipt);
                events.push((
                    id,
                    Event::Receipt {
                        part,
                        state,
                        error_code,
                    },
                ));
                acks.push(ack);
            }
            Ok(None) => park(shared, &carrier, receipt, ack),
            Err(e) => {
                warn!(%carrier, error = %e, "cannot look the receipt up; the SMSC will deliver it again");
                ack.retry_later();
            }
        }
    }
    if events.is_empty() {
        return;
    }
    let count = events.len();
    match shared.transition_many(events, shared.clock.now()).await {
        Ok(results) => {
            for result in results {
                match result {
                    Transition::Applied { .. } => {}
                    Transition::Illegal(e) => debug!(error = %e, "receipt does not apply"),
                    Transition::NotFound => warn!("receipt for a message no longer stored"),
                }
            }
            for ack in acks {
                ack.recorded();
            }
        }
        Err(e) => {
            warn!(receipts = count, error = %e, "cannot record receipts; the SMSC will deliver them again");
            for ack in acks {
                ack.retry_later();
            }
        }
    }
}

/// The message and segment a receipt reports on, by any of the keys its id may be stored under.
fn find_receipt_part(
    shared: &Shared,
    carrier: &str,
    receipt: &Receipt,
) -> Result<Option<(MessageId, usize)>, StoreError> {
    for key in dlr::receipt_keys(receipt) {
        if let Some(found) = shared
            .store
            .find_by_carrier_key(carrier, &key.to_string())?
        {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// A receipt whose submit is not recorded yet (the SMSC was quicker than our write): kept, and
/// answered once its submit is recorded (`unpark`) or after PARK_ANSWER_AFTER
/// (`answer_parked`).
fn park(shared: &Shared, carrier: &str, receipt: Box<Receipt>, ack: ReceiptAck) {
    let now = shared.clock.now();
    let Ok(mut parked) = shared.parked.lock() else {
        ack.retry_later();
        return;
    };
    let expired = now - Clock::span(PARK_FOR);
    parked.receipts.retain(|_, (_, at, _)| *at > expired);
    if parked.receipts.len() < PARK_MAX {
        for key in dlr::receipt_keys(&receipt) {
            parked.receipts.insert(
                (carrier.to_owned(), key.to_string()),
                (receipt.clone(), now, ack.clone()),
            );
        }
    } else {
        warn!(%carrier, "too many unmatched receipts; the SMSC will deliver this one again");
        ack.retry_later();
    }
}

/// Answers ESME_ROK for receipts parked longer than [`PARK_ANSWER_AFTER`]; they stay parked.
fn answer_parked(shared: &Shared, now: UnixMillis) {
    let due = now - Clock::span(PARK_ANSWER_AFTER);
    if let Ok(parked) = shared.parked.lock() {
        for (_, at, ack) in parked.receipts.values() {
            if *at <= due {
                ack.recorded();
            }
        }
    }
}

fn receipt_error(receipt: &Receipt) -> Option<String> {
    use kori_smpp::receipt::DeliveryError;
    match &receipt.error {
        Some(DeliveryError::Network(code)) => {
            Some(format!("{}:{}", code.network_type, code.error_code))
        }
        Some(DeliveryError::Text(code)) if code.value() != Some(0) => Some(code.raw().to_owned()),
        _ => None,
    }
}

/// A submit was recorded: the receipts parked for its keys, to be applied now.
fn unpark(shared: &Shared, carrier: &str, keys: &[String]) -> Vec<ArrivedReceipt> {
    match shared.parked.lock() {
        Ok(mut parked) if !parked.receipts.is_empty() => keys
            .iter()
            .filter_map(|k| {
                parked
                    .receipts
                    .remove(&(carrier.to_owned(), k.clone()))
                    .map(|(receipt, _, ack)| ArrivedReceipt {
                        carrier: Arc::from(carrier),
                        receipt,
                        ack,
                    })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Idempotency keys are kept this long (design.md "HTTP API"), then purged.
const IDEMPOTENCY_KEPT: Duration = Duration::from_secs(24 * 3600);
/// How often old idempotency keys are purged.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Removes idempotency records older than [`IDEMPOTENCY_KEPT`], a bounded batch at a time.
async fn purge_idempotency(shared: &Shared, now: UnixMillis) {
    let older_than = now - Clock::span(IDEMPOTENCY_KEPT);
    loop {
        match shared.store.purge_idempotency(older_than).await {
            Ok(n) if n >= crate::store::PURGE_BATCH => continue,
            Ok(_) => return,
            Err(e) => {
                warn!(error = %e, "cannot purge old idempotency keys");
                return;
            }
        }
    }
}

async fn sweep_loop(shared: Arc<Shared>, cancel: CancellationToken) {
    let mut next_purge: UnixMillis = 0;
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = shared.clock.now();
        answer_parked(&shared, now);
        if now >= next_purge {
            next_purge = now + Clock::span(PURGE_EVERY);
            purge_idempotency(&shared, now).await;
        }
        // Messages waiting for receipts longer than their carrier allows become `unknown`.
        let shortest = shared
            .config
            .receipt_timeout
            .values()
            .copied()
            .chain([shared.config.default_receipt_timeout])
            .min()
            .unwrap_or(shared.config.default_receipt_timeout);
        let Ok(candidates) = shared
            .store
            .awaiting_receipts(now - Clock::span(shortest), DUE_BATCH)
        else {
            continue;
        };
        let mut timed_out = Vec::new();
        for id in candidates {
            let Ok(Some(message)) = shared.store.get(id) else {
                continue;
            };
            let limit = message
                .routed_to
                .as_deref()
                .and_then(|c| shared.config.receipt_timeout.get(c).copied())
                .unwrap_or(shared.config.default_receipt_timeout);
            if message
                .submitted_at
                .is_some_and(|at| now - at >= Clock::span(limit))
            {
                timed_out.push((id, Event::ReceiptTimeout));
            }
        }
        if !timed_out.is_empty() {
            if let Err(e) = shared.transition_many(timed_out, now).await {
                warn!(error = %e, "cannot record receipt timeouts");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_is_sent_as_relative_time() {
        assert_eq!(
            relative_validity(2 * 3_600_000 + 61_000).to_string(),
            "000000020101000R"
        );
        assert_eq!(
            relative_validity(49 * 3_600_000).to_string(),
            "000002010000000R"
        );
        assert_eq!(
            relative_validity(0).to_string(),
            "000000000001000R",
            "at least one second"
        );
    }
}
