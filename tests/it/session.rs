//! Carrier sessions against the in-repo SMSC simulator over 127.0.0.1, with paused time where
//! timers matter: windowing, receipts, throttling, dropped links, malformed PDUs, shaping,
//! shutdown, bind errors, MO, routing and failover.

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use kori::dlr::receipt_keys;
use kori::sim::{DropMode, Faults, IdStyle, ReceiptStyle, Sim, SimConfig, SimEvent};
use kori::smpp::{
    Carrier, CarrierConfig, Delivery, Event, MessageOutcome, OutMessage, Router, SegmentOutcome,
    SendError,
};
use kori_smpp::CommandStatus;
use kori_smpp::receipt::NormalizedId;
use kori_smpp::segment::SplitMethod;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::num::NonZeroU32;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Guards every wait: a hang becomes a failure, never a stuck test.
const GUARD: Duration = Duration::from_secs(600);

async fn guard<T>(what: &str, f: impl Future<Output = T>) -> T {
    match timeout(GUARD, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

/// Kori's carrier side for one simulator.
struct Kori {
    carrier: Carrier,
    events: mpsc::Receiver<Event>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

fn carrier_config(sim: &Sim, name: &str) -> CarrierConfig {
    let mut config = CarrierConfig::new(name, "127.0.0.1", sim.addr().port());
    config.system_id = "kori".to_owned();
    config.window = nz(100);
    config.tps = nz(1_000_000);
    config
}

async fn start(sim: &Sim, tweak: impl FnOnce(&mut CarrierConfig)) -> Kori {
    let mut config = carrier_config(sim, "sim");
    tweak(&mut config);
    start_with(config, 65_536).await
}

async fn start_with(config: CarrierConfig, event_capacity: usize) -> Kori {
    let (tx, events) = mpsc::channel(event_capacity);
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let carrier = Carrier::start(config, tx, &cancel, &tracker);
    guard("the first bind", carrier.wait_up()).await;
    Kori {
        carrier,
        events,
        cancel,
        tracker,
    }
}

impl Kori {
    fn message(&self, to: &str, text: &str, reference: u16) -> OutMessage {
        OutMessage::from_text(self.carrier.config(), "DemoShop", to, text, None, reference).unwrap()
    }

    async fn stop(self) -> mpsc::Receiver<Event> {
        self.cancel.cancel();
        self.tracker.close();
        guard("the binds to stop", self.tracker.wait()).await;
        self.events
    }

    /// Waits for `n` receipts, skipping other events.
    async fn receipts(&mut self, n: usize) -> Vec<kori_smpp::receipt::Receipt> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            match guard("receipts", self.events.recv()).await {
                Some(Event::Receipt { receipt, ack, .. }) => {
                    // The outbox answers once the receipt is on disk; here, at once.
                    ack.recorded();
                    out.push(*receipt);
                }
                Some(_) => {}
                None => panic!("event channel closed after {} receipts", out.len()),
            }
        }
        out
    }
}

/// Sends every message concurrently and returns the outcomes in order.
async fn send_all(
    carrier: &Carrier,
    messages: Vec<OutMessage>,
) -> Vec<Result<MessageOutcome, SendError>> {
    let mut pending: FuturesUnordered<_> = messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| async move { (i, carrier.send(m, false).await) })
        .collect();
    let mut out: Vec<Option<Result<MessageOutcome, SendError>>> = vec![None; pending.len()];
    while let Some((i, outcome)) = guard("outcomes", pending.next()).await {
        out[i] = Some(outcome);
    }
    out.into_iter().map(Option::unwrap).collect()
}

fn accepted_keys(outcomes: &[Result<MessageOutcome, SendError>]) -> HashMap<NormalizedId, usize> {
    let mut keys = HashMap::new();
    for (i, outcome) in outcomes.iter().enumerate() {
        let outcome = outcome.as_ref().unwrap();
        assert!(outcome.all_accepted(), "message {i}: {outcome:?}");
        for seg in &outcome.segments {
            if let SegmentOutcome::Accepted { key, .. } = seg {
                assert!(
                    keys.insert(key.clone(), i).is_none(),
                    "duplicate SMSC id {key}"
                );
            }
        }
    }
    keys
}

async fn ten_thousand_with(
    ids: IdStyle,
    text_ids: Option<IdStyle>,
    receipts: ReceiptStyle,
    dlr_id: kori_smpp::receipt::IdFormat,
) {
    let sim = Sim::start(SimConfig {
        message_ids: ids,
        first_message_id: 0x1A_2B00,
        receipt_id_in_text: text_ids,
        receipts,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut kori = start(&sim, |c| c.dlr_id = dlr_id).await;
    let messages: Vec<_> = (0..10_000)
        .map(|i| kori.message(&format!("+35840{i:07}"), &format!("message {i}"), 0))
        .collect();
    let outcomes = send_all(&kori.carrier, messages).await;
    let keys = accepted_keys(&outcomes);
    assert_eq!(keys.len(), 10_000);
    let receipts = kori.receipts(10_000).await;
    let mut matched = HashSet::new();
    for receipt in &receipts {
        let found = receipt_keys(receipt).find_map(|k| keys.get(&k).copied());
        let i = found.unwrap_or_else(|| panic!("receipt {} matches no submit", receipt.message_id));
        assert!(matched.insert(i), "two receipts for message {i}");
    }
    assert_eq!(matched.len(), 10_000);
    assert_eq!(sim.stats().submits_accepted, 10_000);
    kori.stop().await;
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_submits_window_100_all_answered_and_receipts_matched_decimal() {
    ten_thousand_with(
        IdStyle::Decimal,
        None,
        ReceiptStyle::Both,
        kori_smpp::receipt::IdFormat::Dec,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_submits_hex_ids_matched_by_decimal_text_receipts() {
    // The SMSC answers submits with hex ids and reports them in decimal in text-only receipts.
    ten_thousand_with(
        IdStyle::Hex,
        Some(IdStyle::DecimalPadded(10)),
        ReceiptStyle::Text,
        kori_smpp::receipt::IdFormat::Hex,
    )
    .await;
}

/// Texts of `n` messages, every third one three segments long.
fn mixed_texts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            if i % 3 == 0 {
                format!("{i:04} {}", "long message text ".repeat(20))
            } else {
                format!("{i:04} short")
            }
        })
        .collect()
}

/// Checks the submits the SMSC accepted: each segment exactly once, in order per message.
fn assert_each_segment_once_in_order(
    submits: &[std::sync::Arc<kori::sim::Submitted>],
    messages: usize,
) {
    let mut seen: HashMap<String, Vec<u8>> = HashMap::new();
    for s in submits
        .iter()
        .filter(|s| s.status == CommandStatus::Ok && s.answered)
    {
        let text = s.text.clone().unwrap_or_default();
        let (message, seq) = match s.concat {
            Some((reference, _, seq)) => (format!("ref {reference}"), seq),
            None => (text[..4].to_owned(), 1),
        };
        seen.entry(message).or_default().push(seq);
    }
    assert_eq!(seen.len(), messages);
    for (message, seqs) in seen {
        let expected: Vec<u8> = (1..=seqs.len() as u8).collect();
        assert_eq!(
            seqs, expected,
            "segments of {message} out of order or repeated"
        );
    }
}

async fn collect_submits(
    events: &mut kori::sim::SimEvents,
    accepted: usize,
) -> Vec<std::sync::Arc<kori::sim::Submitted>> {
    let mut out = Vec::new();
    let mut ok = 0;
    while ok < accepted {
        let s = guard("submits", events.next_submit()).await.unwrap();
        if s.status == CommandStatus::Ok && s.answered {
            ok += 1;
        }
        out.push(s);
    }
    out
}

#[tokio::test(start_paused = true)]
async fn throttled_every_50th_every_message_submitted_once_in_order() {
    let sim = Sim::start(SimConfig {
        faults: Faults {
            throttle_every: Some(50),
            ..Faults::default()
        },
        receipts: ReceiptStyle::None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut sim_events = sim.subscribe();
    let kori = start(&sim, |c| c.split = SplitMethod::Udh16).await;
    let texts = mixed_texts(300);
    let messages: Vec<_> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| kori.message("+358401234567", t, i as u16 + 1))
        .collect();
    let segments: usize = messages.iter().map(|m| m.segments.len()).sum();
    let outcomes = send_all(&kori.carrier, messages).await;
    accepted_keys(&outcomes);
    let submits = collect_submits(&mut sim_events, segments).await;
    assert!(
        submits.iter().any(|s| s.status == CommandStatus::Throttled),
        "the fault fired"
    );
    assert_each_segment_once_in_order(&submits, 300);
    assert_eq!(sim.stats().submits_accepted as usize, segments);
    kori.stop().await;
}

async fn dropped_link(
    mode: DropMode,
    delivery: Delivery,
) -> (Sim, Vec<Result<MessageOutcome, SendError>>) {
    let sim = Sim::start(SimConfig {
        faults: Faults {
            drop_after: Some((40, mode)),
            ..Faults::default()
        },
        receipts: ReceiptStyle::None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let kori = start(&sim, |c| {
        c.delivery = delivery;
        c.window = nz(20);
    })
    .await;
    let messages: Vec<_> = (0..200)
        .map(|i| kori.message("+358401234567", &format!("msg {i:04}"), 0))
        .collect();
    let outcomes = send_all(&kori.carrier, messages).await;
    let mut events = kori.stop().await;
    let mut downs = 0;
    while let Ok(event) = events.try_recv() {
        if matches!(event, Event::BindDown { .. }) {
            downs += 1;
        }
    }
    assert!(downs >= 1, "the link dropped and came back");
    (sim, outcomes)
}

#[tokio::test(start_paused = true)]
async fn dropped_link_before_answer_at_least_once_loses_nothing() {
    let (sim, outcomes) = dropped_link(DropMode::BeforeAnswer, Delivery::AtLeastOnce).await;
    accepted_keys(&outcomes);
    // Duplicates only where the fate was unknown: the unanswered submit at each drop.
    let stats = sim.stats();
    assert!(stats.connections >= 2);
    assert!(stats.submits_accepted >= 200 && stats.submits_accepted <= 200 + stats.connections);
}

#[tokio::test(start_paused = true)]
async fn dropped_link_after_answer_at_least_once_loses_nothing() {
    let (sim, outcomes) = dropped_link(DropMode::AfterAnswer, Delivery::AtLeastOnce).await;
    accepted_keys(&outcomes);
    assert_eq!(
        sim.stats().submits_accepted,
        200,
        "answered submits are never sent again"
    );
}

#[tokio::test(start_paused = true)]
async fn dropped_link_at_most_once_marks_unanswered_unknown_and_never_resends() {
    let (sim, outcomes) = dropped_link(DropMode::BeforeAnswer, Delivery::AtMostOnce).await;
    let mut unknown = 0;
    for outcome in &outcomes {
        match &outcome.as_ref().unwrap().segments[0] {
            SegmentOutcome::Accepted { .. } => {}
            SegmentOutcome::FateUnknown => unknown += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(unknown >= 1, "the unanswered submits are of unknown fate");
    let stats = sim.stats();
    assert_eq!(stats.submits_received, 200, "nothing was sent twice");
}

#[tokio::test(start_paused = true)]
async fn malformed_pdu_from_smsc_is_answered_with_its_status_and_the_bind_stays_up() {
    let sim = Sim::start(SimConfig {
        faults: Faults {
            malformed_after: Some(3),
            ..Faults::default()
        },
        receipts: ReceiptStyle::None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut sim_events = sim.subscribe();
    let mut kori = start(&sim, |_| {}).await;
    for i in 0..3 {
        let m = kori.message("+358401234567", &format!("before {i}"), 0);
        assert!(kori.carrier.send(m, false).await.unwrap().all_accepted());
    }
    let status = guard(
        "the answer to the malformed PDU",
        sim_events.wait_for(|e| match e {
            SimEvent::DeliverSmResp { status, .. } if !status.is_ok() => Some(*status),
            SimEvent::GenericNackReceived { status, .. } => Some(*status),
            _ => None,
        }),
    )
    .await
    .unwrap();
    // The receipted_message_id TLV claims more octets than the PDU holds.
    assert_eq!(status, CommandStatus::InvalidOptionalParameterStream);
    let m = kori.message("+358401234567", "after", 0);
    assert!(kori.carrier.send(m, false).await.unwrap().all_accepted());
    assert_eq!(sim.stats().connections, 1, "the bind stayed up");
    while let Ok(event) = kori.events.try_recv() {
        assert!(!matches!(event, Event::BindDown { .. }), "{event:?}");
    }
    kori.stop().await;
}

#[tokio::test(start_paused = true)]
async fn shaping_never_exceeds_tps_in_any_second_and_uses_98_percent() {
    let sim = Sim::start(SimConfig {
        receipts: ReceiptStyle::None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut sim_events = sim.subscribe();
    let kori = start(&sim, |c| {
        c.tps = nz(200);
        c.sessions = nz(2);
    })
    .await;
    let carrier = kori.carrier.clone();
    let messages: Vec<_> = (0..2_600)
        .map(|i| kori.message("+358401234567", &format!("m{i}"), 0))
        .collect();
    let sender = tokio::spawn(async move { send_all(&carrier, messages).await });
    let first = guard("the first submit", sim_events.next_submit())
        .await
        .unwrap();
    let start = Instant::now();
    let mut times = vec![start];
    let _ = first;
    while Instant::now() < start + Duration::from_secs(10) {
        let _ = guard("submits", sim_events.next_submit()).await.unwrap();
        let now = Instant::now();
        if now < start + Duration::from_secs(10) {
            times.push(now);
        }
    }
    let mut worst = 0;
    let mut lo = 0;
    for hi in 0..times.len() {
        while times[hi] - times[lo] >= Duration::from_secs(1) {
            lo += 1;
        }
        worst = worst.max(hi - lo + 1);
    }
    assert!(worst <= 200, "{worst} submits within one second");
    assert!(times.len() >= 1_960, "only {} submits in 10 s", times.len());
    guard("the rest", sender).await.unwrap();
    kori.stop().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_unbinds_after_every_in_flight_response() {
    let sim = Sim::start(SimConfig {
        faults: Faults {
            response_delay: Some(Duration::from_secs(3)),
            ..Faults::default()
        },
        receipts: ReceiptStyle::None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut sim_events = sim.subscribe();
    let kori = start(&sim, |_| {}).await;
    let carrier = kori.carrier.clone();
    let messages: Vec<_> = (0..50)
        .map(|i| kori.message("+358401234567", &format!("m{i}"), 0))
        .collect();
    let sender = tokio::spawn(async move { send_all(&carrier, messages).await });
    // Stop once all 50 are on the wire and unanswered.
    for _ in 0..50 {
        guard("submits", sim_events.next_submit()).await.unwrap();
    }
    kori.cancel.cancel();
    let outcomes = guard("outcomes", sender).await.unwrap();
    accepted_keys(&outcomes);
    guard(
        "unbind",
        sim_events.wait_for(|e| matches!(e, SimEvent::Unbound { .. }).then_some(())),
    )
    .await;
    kori.tracker.close();
    guard("tasks", kori.tracker.wait()).await;
    assert_eq!(sim.stats().unbinds, 1);
}

#[tokio::test(start_paused = true)]
async fn refused_bind_is_retried_with_growing_backoff() {
    let sim = Sim::start(SimConfig {
        faults: Faults {
            reject_binds: Some(CommandStatus::InvalidPassword),
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut sim_events = sim.subscribe();
    let (tx, mut events) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let carrier = Carrier::start(carrier_config(&sim, "sim"), tx, &cancel, &tracker);
    let mut at = Vec::new();
    for _ in 0..5 {
        guard(
            "bind attempts",
            sim_events.wait_for(|e| matches!(e, SimEvent::BindRefused { .. }).then_some(())),
        )
        .await;
        at.push(Instant::now());
    }
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    // 1 s doubling, each with jitter between half and all of it.
    for (gap, step) in gaps.iter().zip([1u64, 2, 4, 8]) {
        let step = Duration::from_secs(step);
        assert!(
            *gap >= step / 2 && *gap <= step + Duration::from_millis(50),
            "gap {gap:?} for step {step:?}"
        );
    }
    assert_eq!(carrier.status().submit_binds_up, 0);
    match guard("the refusal to be reported", events.recv()).await {
        Some(Event::BindFailed { reason, .. }) => {
            assert!(
                reason.contains("ESME_RINVPASWD") && reason.contains("check password_file"),
                "{reason}"
            );
        }
        other => panic!("expected BindFailed, got {other:?}"),
    }
    sim.set_faults(Faults::default());
    guard("bind after the fix", carrier.wait_up()).await;
    cancel.cancel();
    tracker.close();
    guard("tasks", tracker.wait()).await;
}

#[tokio::test(start_paused = true)]
async fn unanswered_enquire_link_declares_the_link_dead_and_reconnects() {
    let sim = Sim::start(SimConfig {
        faults: Faults {
            ignore_enquire_link: true,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut kori = start(&sim, |_| {}).await;
    let reason = guard("the bind to go down", async {
        loop {
            if let Some(Event::BindDown { reason, .. }) = kori.events.recv().await {
                return reason;
            }
        }
    })
    .await;
    assert!(reason.contains("enquire_link"), "{reason}");
    guard("the bind to come back", async {
        loop {
            if let Some(Event::BindUp { .. }) = kori.events.recv().await {
                return;
            }
        }
    })
    .await;
    assert!(sim.stats().enquire_links >= 1);
    kori.stop().await;
}

#[tokio::test(start_paused = true)]
async fn rejected_and_unanswered_submits_get_their_outcomes() {
    let sim = Sim::start(SimConfig {
        faults: Faults {
            reject_destinations: vec![(
                "35899".to_owned(),
                CommandStatus::InvalidDestinationAddress,
            )],
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let kori = start(&sim, |_| {}).await;
    let m = kori.message("+35899123456", "to nowhere", 0);
    let outcome = kori.carrier.send(m, false).await.unwrap();
    assert_eq!(
        outcome.segments,
        vec![SegmentOutcome::Rejected {
            status: CommandStatus::InvalidDestinationAddress
        }]
    );
    kori.stop().await;

    let sim = Sim::start(SimConfig {
        faults: Faults {
            silent_after: Some(0),
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let kori = start(&sim, |c| c.delivery = Delivery::AtMostOnce).await;
    let m = kori.message("+358401234567", "into the void", 0);
    let outcome = kori.carrier.send(m, false).await.unwrap();
    assert_eq!(outcome.segments, vec![SegmentOutcome::FateUnknown]);
    kori.stop().await;
}

#[tokio::test(start_paused = true)]
async fn long_mo_is_reassembled_before_it_is_passed_on() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let mut kori = start(&sim, |_| {}).await;
    let text = format!("STOP {}", "please no more messages ".repeat(10));
    sim.inject_mo("358401234567", "DemoShop", &text)
        .await
        .unwrap();
    let mo = guard("the MO", async {
        loop {
            if let Some(Event::Mo(mo)) = kori.events.recv().await {
                return mo;
            }
        }
    })
    .await;
    assert_eq!(mo.text, text);
    assert_eq!(mo.parts, 2);
    assert_eq!(mo.from, "358401234567");
    kori.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_full_event_queue_answers_a_temporary_error_and_the_smsc_redelivers() {
    let sim = Sim::start(SimConfig {
        receipt_delay: Duration::from_millis(10),
        redelivery_delay: Duration::from_secs(5),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut sim_events = sim.subscribe();
    let mut kori = start_with(carrier_config(&sim, "sim"), 2).await;
    // The BindUp event took one slot; one receipt fills the queue, the next is refused.
    for i in 0..2 {
        let m = kori.message("+358401234567", &format!("m{i}"), 0);
        assert!(kori.carrier.send(m, false).await.unwrap().all_accepted());
    }
    let refused = guard(
        "a refused receipt",
        sim_events.wait_for(|e| match e {
            SimEvent::DeliverSmResp { status, .. } if !status.is_ok() => Some(*status),
            _ => None,
        }),
    )
    .await
    .unwrap();
    assert_eq!(refused, CommandStatus::ReceiverTemporaryError);
    let receipts = kori.receipts(2).await;
    assert_eq!(receipts.len(), 2, "the refused receipt came again");
    assert!(sim.stats().redeliveries >= 1);
    kori.stop().await;
}

/// The next receipt and its answer, skipping other events.
async fn next_receipt(
    events: &mut mpsc::Receiver<Event>,
) -> (Box<kori_smpp::receipt::Receipt>, kori::smpp::ReceiptAck) {
    loop {
        match guard("a receipt", events.recv()).await {
            Some(Event::Receipt { receipt, ack, .. }) => return (receipt, ack),
            Some(_) => {}
            None => panic!("event channel closed"),
        }
    }
}

/// The status of the next deliver_sm_resp the simulator gets.
async fn deliver_sm_resp(events: &mut kori::sim::SimEvents) -> Option<CommandStatus> {
    let resp = events.wait_for(|e| match e {
        SimEvent::DeliverSmResp { status, .. } => Some(*status),
        _ => None,
    });
    guard("a deliver_sm_resp", resp).await
}

/// A receipt's deliver_sm is answered only when the outbox says it is recorded, so a crash
/// before that leaves it with the SMSC, which delivers it again.
#[tokio::test(start_paused = true)]
async fn receipt_is_answered_only_once_recorded_and_delivered_again_if_dropped() {
    let sim = Sim::start(SimConfig {
        receipt_delay: Duration::from_millis(10),
        redelivery_delay: Duration::from_secs(5),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut sim_events = sim.subscribe();
    let mut kori = start(&sim, |_| {}).await;
    let m = kori.message("+358401234567", "recorded", 0);
    assert!(kori.carrier.send(m, false).await.unwrap().all_accepted());
    let (_, ack) = next_receipt(&mut kori.events).await;
    // Not recorded yet: the SMSC hears nothing, however long it waits.
    let early = timeout(Duration::from_secs(60), deliver_sm_resp(&mut sim_events)).await;
    assert!(early.is_err(), "answered before it was recorded: {early:?}");
    ack.recorded();
    assert_eq!(
        deliver_sm_resp(&mut sim_events).await,
        Some(CommandStatus::Ok)
    );

    // Dropped unanswered (Kori stopping): a temporary error, and the SMSC delivers it again.
    let m = kori.message("+358401234567", "dropped", 0);
    assert!(kori.carrier.send(m, false).await.unwrap().all_accepted());
    let (first, ack) = next_receipt(&mut kori.events).await;
    drop(ack);
    assert_eq!(
        deliver_sm_resp(&mut sim_events).await,
        Some(CommandStatus::ReceiverTemporaryError)
    );
    let (again, ack) = next_receipt(&mut kori.events).await;
    assert_eq!(again.message_id, first.message_id);
    ack.recorded();
    assert_eq!(
        deliver_sm_resp(&mut sim_events).await,
        Some(CommandStatus::Ok)
    );
    assert_eq!(sim.stats().redeliveries, 1);
    kori.stop().await;
}

#[tokio::test(start_paused = true)]
async fn routes_by_longest_prefix_and_fails_over_when_a_carrier_stays_down() {
    let fi = Sim::start(SimConfig {
        receipts: ReceiptStyle::None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let any = Sim::start(SimConfig {
        receipts: ReceiptStyle::None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (tx, _events) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let mut fi_config = carrier_config(&fi, "fi");
    fi_config.prefixes = vec!["+358".to_owned()];
    fi_config.failover_after = Duration::from_secs(30);
    let fi_carrier = Carrier::start(fi_config.clone(), tx.clone(), &cancel, &tracker);
    let any_carrier = Carrier::start(carrier_config(&any, "any"), tx, &cancel, &tracker);
    guard("fi up", fi_carrier.wait_up()).await;
    guard("any up", any_carrier.wait_up()).await;
    let router = Router::new(vec![any_carrier.clone(), fi_carrier.clone()]);
    let message =
        |to: &str| OutMessage::from_text(&fi_config, "DemoShop", to, "hello", None, 0).unwrap();
    let to_fi = router
        .send("+358401234567", message("+358401234567"))
        .await
        .unwrap();
    assert_eq!(&*to_fi.carrier, "fi");
    let to_se = router
        .send("+46701234567", message("+46701234567"))
        .await
        .unwrap();
    assert_eq!(&*to_se.carrier, "any");

    // The Finnish SMSC goes away and refuses binds: after failover_after, "+358" goes to "any".
    fi.set_faults(Faults {
        reject_binds: Some(CommandStatus::BindFailed),
        ..Faults::default()
    });
    fi.shutdown().await;
    tokio::time::sleep(Duration::from_secs(31)).await;
    assert!(!fi_carrier.is_available());
    let failed_over = router
        .send("+358401234567", message("+358401234567"))
        .await
        .unwrap();
    assert_eq!(&*failed_over.carrier, "any");
    cancel.cancel();
    tracker.close();
    guard("tasks", tracker.wait()).await;
}

#[tokio::test(start_paused = true)]
async fn transmitter_receiver_pairs_submit_on_one_bind_and_take_receipts_on_the_other() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let mut sim_events = sim.subscribe();
    let mut kori = start(&sim, |c| c.bind = kori::smpp::BindMode::TransmitterReceiver).await;
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        if let Some(kind) = guard(
            "binds",
            sim_events.wait_for(|e| match e {
                SimEvent::Bound { kind, .. } => Some(*kind),
                _ => None,
            }),
        )
        .await
        {
            kinds.push(kind);
        }
    }
    kinds.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(
        kinds,
        [
            kori::sim::BindKind::Receiver,
            kori::sim::BindKind::Transmitter
        ]
    );
    let status = kori.carrier.status();
    assert_eq!((status.submit_binds_up, status.receive_binds_up), (1, 1));
    let m = kori.message("+358401234567", "over a pair", 0);
    let outcome = kori.carrier.send(m, false).await.unwrap();
    let keys = accepted_keys(&[Ok(outcome)]);
    let receipt = kori.receipts(1).await.remove(0);
    assert!(receipt_keys(&receipt).any(|k| keys.contains_key(&k)));
    kori.stop().await;
}
