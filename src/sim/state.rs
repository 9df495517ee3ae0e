//! State one simulator shares between its connection tasks and its handle: configuration,
//! fault knobs, counters, the event channel, the bind registry and the receipt mailboxes.
//!
//! Owns every lock of the simulator; each is held for a few instructions and never across an
//! `.await`. Must not touch: sockets, PDU encoding. Called by `sim::connection` and `sim::Sim`.

use super::events::{BindKind, SimEvent, SimEvents};
use super::{Faults, IdStyle, SimConfig, SimStats};
use kori_smpp::receipt::MessageState;
use kori_smpp::{DeliverSm, MessageId, SystemId};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;

/// Events buffered for each subscriber before it lags: a test that reads after a burst of a
/// few thousand submits still sees them all, a benchmark that subscribes and never reads costs
/// at most this many events of memory.
const EVENT_CAPACITY: usize = 65_536;

/// A `deliver_sm` owed to a client: a receipt or an MO message.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) pdu: DeliverSm,
    /// For a receipt: the message id it reports (as in the submit_sm_resp) and the state.
    pub(crate) receipt: Option<(MessageId, MessageState)>,
    /// Times it was written so far.
    pub(crate) attempts: u32,
}

impl Delivery {
    pub(crate) fn mo(pdu: DeliverSm) -> Self {
        Self {
            pdu,
            receipt: None,
            attempts: 0,
        }
    }
}

/// Deliveries for the receiver binds of one system_id, each with the instant it is due. Filled
/// by transmitter binds (their receipts), `inject_mo`, and connections that close with
/// deliveries pending; emptied by a receiver-capable bind of that system_id when it binds and
/// whenever `notify` fires.
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    queue: Mutex<VecDeque<(Instant, Delivery)>>,
    pub(crate) notify: Notify,
}

impl Mailbox {
    pub(crate) fn push_all(&self, items: impl IntoIterator<Item = (Instant, Delivery)>) {
        let mut queue = lock(&self.queue);
        let before = queue.len();
        queue.extend(items);
        let added = queue.len() > before;
        drop(queue);
        if added {
            // One stored permit if no bind is waiting: the next to wait takes everything.
            self.notify.notify_one();
        }
    }

    pub(crate) fn take_all(&self) -> VecDeque<(Instant, Delivery)> {
        std::mem::take(&mut *lock(&self.queue))
    }
}

/// The counters behind [`SimStats`], relaxed atomics (each is independent).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections: AtomicU64,
    pub(crate) binds: AtomicU64,
    pub(crate) bind_refusals: AtomicU64,
    pub(crate) unbinds: AtomicU64,
    pub(crate) submits_received: AtomicU64,
    pub(crate) submits_accepted: AtomicU64,
    pub(crate) throttled: AtomicU64,
    pub(crate) queue_full: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) receipts_sent: AtomicU64,
    pub(crate) mo_sent: AtomicU64,
    pub(crate) redeliveries: AtomicU64,
    pub(crate) deliver_sm_resps: AtomicU64,
    pub(crate) generic_nacks_received: AtomicU64,
    pub(crate) enquire_links: AtomicU64,
    pub(crate) data_sms: AtomicU64,
    pub(crate) malformed_sent: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> SimStats {
        SimStats {
            connections: self.connections.load(Relaxed),
            binds: self.binds.load(Relaxed),
            bind_refusals: self.bind_refusals.load(Relaxed),
            unbinds: self.unbinds.load(Relaxed),
            submits_received: self.submits_received.load(Relaxed),
            submits_accepted: self.submits_accepted.load(Relaxed),
            throttled: self.throttled.load(Relaxed),
            queue_full: self.queue_full.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            receipts_sent: self.receipts_sent.load(Relaxed),
            mo_sent: self.mo_sent.load(Relaxed),
            redeliveries: self.redeliveries.load(Relaxed),
            deliver_sm_resps: self.deliver_sm_resps.load(Relaxed),
            generic_nacks_received: self.generic_nacks_received.load(Relaxed),
            enquire_links: self.enquire_links.load(Relaxed),
            data_sms: self.data_sms.load(Relaxed),
            malformed_sent: self.malformed_sent.load(Relaxed),
        }
    }
}

/// Increments a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

/// Everything the tasks of one simulator share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    pub(crate) system_id: SystemId,
    pub(crate) stats: Counters,
    /// The current knobs and a generation number, so a connection re-reads them only after
    /// a change (one relaxed load per PDU instead of a lock).
    faults: RwLock<Arc<Faults>>,
    faults_generation: AtomicU64,
    next_message_id: AtomicU64,
    next_connection: AtomicU64,
    next_mo_reference: AtomicU32,
    events: broadcast::Sender<SimEvent>,
    subscribers: Arc<AtomicUsize>,
    binds: Mutex<HashMap<u64, (BindKind, String)>>,
    mailboxes: Mutex<HashMap<String, Arc<Mailbox>>>,
    /// Instants of the submits accepted in the last second, for `max_tps`.
    tps_window: Mutex<VecDeque<Instant>>,
    /// Wall-clock seconds since the Unix epoch at `started`, the base of receipt dates.
    pub(crate) wall_base: u64,
    pub(crate) started: Instant,
}

impl Shared {
    pub(crate) fn new(mut config: SimConfig, system_id: SystemId) -> Self {
        let faults = std::mem::take(&mut config.faults);
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let wall_base = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            next_message_id: AtomicU64::new(config.first_message_id),
            config,
            system_id,
            stats: Counters::default(),
            faults: RwLock::new(Arc::new(faults)),
            faults_generation: AtomicU64::new(0),
            next_connection: AtomicU64::new(1),
            next_mo_reference: AtomicU32::new(1),
            events,
            subscribers: Arc::new(AtomicUsize::new(0)),
            binds: Mutex::new(HashMap::new()),
            mailboxes: Mutex::new(HashMap::new()),
            tps_window: Mutex::new(VecDeque::new()),
            wall_base,
            started: Instant::now(),
        }
    }

    pub(crate) fn set_faults(&self, faults: Faults) {
        *self.faults.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(faults);
        self.faults_generation.fetch_add(1, Relaxed);
    }

    /// The knobs, if they changed since `generation` (which is then updated).
    pub(crate) fn faults_if_changed(&self, generation: &mut u64) -> Option<Arc<Faults>> {
        let now = self.faults_generation.load(Relaxed);
        if now == *generation {
            return None;
        }
        *generation = now;
        Some(self.faults())
    }

    pub(crate) fn faults(&self) -> Arc<Faults> {
        self.faults
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn faults_generation(&self) -> u64 {
        self.faults_generation.load(Relaxed)
    }

    pub(crate) fn new_connection(&self) -> u64 {
        bump(&self.stats.connections);
        self.next_connection.fetch_add(1, Relaxed)
    }

    pub(crate) fn next_message_number(&self) -> u64 {
        self.next_message_id.fetch_add(1, Relaxed)
    }

    pub(crate) fn next_mo_reference(&self) -> u16 {
        self.next_mo_reference.fetch_add(1, Relaxed) as u16
    }

    pub(crate) fn subscribe(&self) -> SimEvents {
        SimEvents::new(self.events.subscribe(), self.subscribers.clone())
    }

    /// Whether anyone listens: events are built only then.
    pub(crate) fn observed(&self) -> bool {
        self.subscribers.load(Relaxed) > 0
    }

    pub(crate) fn emit(&self, event: SimEvent) {
        // An error means every receiver has gone since `observed`; nothing to do.
        let _ = self.events.send(event);
    }

    pub(crate) fn register_bind(&self, connection: u64, kind: BindKind, system_id: String) {
        lock(&self.binds).insert(connection, (kind, system_id));
    }

    pub(crate) fn unregister_bind(&self, connection: u64) {
        lock(&self.binds).remove(&connection);
    }

    /// The system_id of some bound receiver or transceiver (the lowest connection number).
    pub(crate) fn receiver_system_id(&self) -> Option<String> {
        lock(&self.binds)
            .iter()
            .filter(|(_, (kind, _))| kind.can_receive())
            .min_by_key(|(id, _)| **id)
            .map(|(_, (_, system_id))| system_id.clone())
    }

    pub(crate) fn mailbox(&self, system_id: &str) -> Arc<Mailbox> {
        let mut boxes = lock(&self.mailboxes);
        if let Some(mailbox) = boxes.get(system_id) {
            return mailbox.clone();
        }
        let mailbox = Arc::new(Mailbox::default());
        boxes.insert(system_id.to_owned(), mailbox.clone());
        mailbox
    }

    /// Takes a slot of the sliding second for a submit at `now`, if `tps` allows one.
    pub(crate) fn take_tps_slot(&self, tps: u32, now: Instant) -> bool {
        let mut window = lock(&self.tps_window);
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            window.pop_front();
        }
        if window.len() >= tps as usize {
            return false;
        }
        window.push_back(now);
        true
    }
}

/// A mutex guard even if another task panicked while holding it: the data are counters and
/// queues that stay consistent between statements.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes `n` in `style` into a `message_id` field without allocating.
pub(crate) fn format_id(n: u64, style: IdStyle) -> MessageId {
    let mut buf = [0u8; 64];
    let mut digits = [0u8; 20];
    let (base, upper, width) = match style {
        IdStyle::Decimal => (10, false, 0),
        IdStyle::DecimalPadded(w) => (10, false, usize::from(w).min(64)),
        IdStyle::Hex => (16, true, 0),
        IdStyle::HexLower => (16, false, 0),
    };
    let mut len = 0;
    let mut rest = n;
    loop {
        let d = (rest % base) as u8;
        digits[len] = match d {
            0..=9 => b'0' + d,
            _ if upper => b'A' + d - 10,
            _ => b'a' + d - 10,
        };
        len += 1;
        rest /= base;
        if rest == 0 {
            break;
        }
    }
    let pad = width.saturating_sub(len);
    buf[..pad].fill(b'0');
    for (i, d) in digits[..len].iter().rev().enumerate() {
        buf[pad + i] = *d;
    }
    MessageId::new(&buf[..pad + len]).expect("at most 64 digits and no NUL fit a message_id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_every_style() {
        assert_eq!(format_id(1_715_004, IdStyle::Decimal), "1715004");
        assert_eq!(format_id(0x1A2B3C, IdStyle::Hex), "1A2B3C");
        assert_eq!(format_id(0x1A2B3C, IdStyle::HexLower), "1a2b3c");
        assert_eq!(
            format_id(1_715_004, IdStyle::DecimalPadded(10)),
            "0001715004"
        );
        assert_eq!(format_id(0, IdStyle::Decimal), "0");
        assert_eq!(
            format_id(u64::MAX, IdStyle::Decimal),
            "18446744073709551615"
        );
        assert_eq!(format_id(u64::MAX, IdStyle::Hex), "FFFFFFFFFFFFFFFF");
    }

    #[test]
    fn tps_window_slides() {
        let shared = Shared::new(SimConfig::default(), SystemId::default());
        let t0 = Instant::now();
        assert!(shared.take_tps_slot(2, t0));
        assert!(shared.take_tps_slot(2, t0 + Duration::from_millis(500)));
        assert!(!shared.take_tps_slot(2, t0 + Duration::from_millis(999)));
        assert!(shared.take_tps_slot(2, t0 + Duration::from_millis(1000)));
        assert!(!shared.take_tps_slot(2, t0 + Duration::from_millis(1499)));
    }
}
