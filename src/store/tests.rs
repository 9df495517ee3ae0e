use super::*;
use crate::outbox::PartState;
use crate::outbox::model::sample_message;
use std::path::PathBuf;

/// Entries of tree `id` as readers see them (in the trees or not yet).
fn entries(store: &Store, id: TreeId) -> usize {
    let mut n = 0;
    store
        .scan(id, Bound::Unbounded, Bound::Unbounded, |_, _| {
            n += 1;
            Ok(true)
        })
        .unwrap();
    n
}

/// A fresh directory path under the system temp dir, removed on drop.
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> Self {
        use std::sync::atomic::AtomicU32;
        static N: AtomicU32 = AtomicU32::new(0);
        let unique = format!(
            "kori-store-{name}-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        Self(std::env::temp_dir().join(unique))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(&self.0);
    }
}

fn message(id: u128, due_at: UnixMillis, parts: usize) -> Message {
    Message {
        owner: "shop-a".into(),
        text: "hello".into(),
        created_at: due_at,
        valid_until: due_at + 3_600_000,
        due_at,
        ..sample_message(MessageId(id), parts)
    }
}

fn idem(key: &str, created_at: UnixMillis) -> IdempotencyRecord {
    IdempotencyRecord {
        owner: "shop-a".into(),
        key: key.into(),
        body_hash: [7; 32],
        status: 202,
        response: b"{\"id\":\"x\"}".to_vec(),
        created_at,
    }
}

fn dispatched() -> Event {
    Event::Dispatched {
        carrier: "telia".into(),
    }
}

fn submit_ok(keys: &[&str]) -> Event {
    Event::SubmitOk {
        carrier_message_ids: keys.iter().map(|k| k.to_uppercase()).collect(),
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
    }
}

fn receipt(part: usize, state: PartState) -> Event {
    Event::Receipt {
        part,
        state,
        error_code: None,
    }
}

fn applied(t: Transition) -> Message {
    match t {
        Transition::Applied { message, .. } => message,
        other => panic!("expected Applied, got {other:?}"),
    }
}

#[tokio::test]
async fn accept_then_get_round_trips() {
    let store = Store::open_temporary().unwrap();
    let mut m = message(1, 100, 2);
    m.callback_url = Some("https://shop.example/cb".into());
    m.reference = Some("order-7".into());
    store.accept(vec![m.clone()], None).await.unwrap();
    assert_eq!(store.get(MessageId(1)).unwrap(), Some(m));
    assert_eq!(store.get(MessageId(2)).unwrap(), None);
    assert_eq!(store.backlog(), 1);
}

#[tokio::test]
async fn accept_survives_close_and_reopen() {
    let dir = TempPath::new("reopen");
    let store = Store::open(&dir.0).unwrap();
    let batch: Vec<_> = (1..=50).map(|i| message(i, 1_000 + i as i64, 1)).collect();
    store
        .accept(batch.clone(), Some(idem("k1", 5)))
        .await
        .unwrap();
    store.close().await.unwrap();

    let store = Store::open(&dir.0).unwrap();
    for m in &batch {
        assert_eq!(store.get(m.id).unwrap().as_ref(), Some(m));
    }
    assert_eq!(
        store.idempotency_get("shop-a", "k1").unwrap(),
        Some(idem("k1", 5))
    );
    assert_eq!(store.due(i64::MAX, 100).unwrap().len(), 50);
    store.close().await.unwrap();
}

#[tokio::test]
async fn idempotency_conflict_aborts_the_whole_accept() {
    let store = Store::open_temporary().unwrap();
    store
        .accept(vec![message(1, 10, 1)], Some(idem("same", 1)))
        .await
        .unwrap();
    let mut other = idem("same", 2);
    other.body_hash = [9; 32];
    let err = store
        .accept(vec![message(2, 10, 1), message(3, 10, 1)], Some(other))
        .await
        .unwrap_err();
    match err {
        StoreError::IdempotencyExists(existing) => assert_eq!(*existing, idem("same", 1)),
        other => panic!("expected IdempotencyExists, got {other:?}"),
    }
    assert_eq!(store.get(MessageId(2)).unwrap(), None);
    assert_eq!(store.get(MessageId(3)).unwrap(), None);
    assert_eq!(store.due(i64::MAX, 10).unwrap(), vec![MessageId(1)]);
    assert_eq!(store.backlog(), 1);
    // The same key under another owner is another key.
    let mut elsewhere = idem("same", 3);
    elsewhere.owner = "shop-b".into();
    store
        .accept(vec![message(4, 10, 1)], Some(elsewhere))
        .await
        .unwrap();
}

#[tokio::test]
async fn duplicate_message_id_writes_nothing() {
    let store = Store::open_temporary().unwrap();
    store.accept(vec![message(1, 10, 1)], None).await.unwrap();
    let err = store
        .accept(vec![message(2, 10, 1), message(1, 20, 1)], None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateId(MessageId(1))),
        "{err:?}"
    );
    assert_eq!(store.get(MessageId(2)).unwrap(), None);
    assert_eq!(store.get(MessageId(1)).unwrap().unwrap().due_at, 10);
}

#[tokio::test]
async fn whole_life_keeps_indexes_in_step() {
    let store = Store::open_temporary().unwrap();
    let id = MessageId(42);
    store.accept(vec![message(42, 100, 2)], None).await.unwrap();
    assert_eq!(store.due(100, 10).unwrap(), vec![id]);
    assert_eq!(store.due(99, 10).unwrap(), vec![]);
    assert_eq!(store.next_due_at().unwrap(), Some(100));

    // queued -> submitting: out of the due index.
    let t = store.transition(id, dispatched(), 150).await.unwrap();
    assert!(matches!(
        t,
        Transition::Applied {
            before: MessageState::Queued,
            ..
        }
    ));
    assert_eq!(store.due(i64::MAX, 10).unwrap(), vec![]);
    assert_eq!(store.next_due_at().unwrap(), None);
    assert_eq!(store.awaiting_receipts(i64::MAX, 10).unwrap(), vec![]);
    assert_eq!(
        store.in_state(MessageState::Submitting, 10).unwrap().len(),
        1
    );

    // submitting -> submitted: receipt wait and carrier keys.
    let m = applied(
        store
            .transition(id, submit_ok(&["a1", "a2"]), 200)
            .await
            .unwrap(),
    );
    assert_eq!(m.state, MessageState::Submitted);
    assert_eq!(store.awaiting_receipts(201, 10).unwrap(), vec![id]);
    assert_eq!(
        store.awaiting_receipts(200, 10).unwrap(),
        vec![],
        "strictly before"
    );
    assert_eq!(
        store.find_by_carrier_key("telia", "a1").unwrap(),
        Some((id, 0))
    );
    assert_eq!(
        store.find_by_carrier_key("telia", "a2").unwrap(),
        Some((id, 1))
    );
    assert_eq!(store.find_by_carrier_key("other", "a1").unwrap(), None);
    assert_eq!(store.backlog(), 1);

    // One receipt: still submitted, everything still indexed.
    let m = applied(
        store
            .transition(id, receipt(0, PartState::Delivered), 300)
            .await
            .unwrap(),
    );
    assert_eq!(m.state, MessageState::Submitted);
    assert_eq!(store.awaiting_receipts(i64::MAX, 10).unwrap(), vec![id]);
    assert_eq!(
        store.find_by_carrier_key("telia", "a2").unwrap(),
        Some((id, 1))
    );

    // The last receipt: delivered, and every index entry gone.
    let m = applied(
        store
            .transition(id, receipt(1, PartState::Delivered), 400)
            .await
            .unwrap(),
    );
    assert_eq!(m.state, MessageState::Delivered);
    assert_eq!(m.done_at, Some(400));
    assert_eq!(store.get(id).unwrap(), Some(m.clone()));
    assert_eq!(store.awaiting_receipts(i64::MAX, 10).unwrap(), vec![]);
    assert_eq!(store.find_by_carrier_key("telia", "a1").unwrap(), None);
    assert_eq!(store.find_by_carrier_key("telia", "a2").unwrap(), None);
    assert_eq!(store.due(i64::MAX, 10).unwrap(), vec![]);
    assert_eq!(store.backlog(), 0);
    for index in [TreeId::CarrierKeys, TreeId::ReceiptWait, TreeId::Due] {
        assert_eq!(entries(&store, index), 0, "{index:?}");
    }
    // The same once everything is in the trees.
    store.materialize_now();
    assert!(store.shared.trees.carrier_keys.is_empty());
    assert!(store.shared.trees.receipt_wait.is_empty());
    assert!(store.shared.trees.due.is_empty());
    assert!(journal::is_empty(&store.shared.journal_dir()));
    assert_eq!(store.get(id).unwrap(), Some(m));
}

#[tokio::test]
async fn transient_failure_requeues_at_retry_time() {
    let store = Store::open_temporary().unwrap();
    let id = MessageId(1);
    store.accept(vec![message(1, 100, 1)], None).await.unwrap();
    store.transition(id, dispatched(), 100).await.unwrap();
    let retry = Event::Transient {
        retry_at: 5_000,
        reason: "throttled".into(),
    };
    applied(store.transition(id, retry, 110).await.unwrap());
    assert_eq!(store.due(4_999, 10).unwrap(), vec![]);
    assert_eq!(store.due(5_000, 10).unwrap(), vec![id]);
    assert_eq!(store.next_due_at().unwrap(), Some(5_000));
    assert_eq!(entries(&store, TreeId::Due), 1, "the old due entry is gone");
    store.materialize_now();
    assert_eq!(store.shared.trees.due.len(), 1, "the old due entry is gone");
}

#[tokio::test]
async fn illegal_transition_leaves_the_record_unchanged() {
    let store = Store::open_temporary().unwrap();
    let mut m = message(1, 100, 1);
    m.callback_url = Some("https://cb".into());
    store.accept(vec![m.clone()], None).await.unwrap();
    let t = store
        .transition(MessageId(1), receipt(0, PartState::Delivered), 200)
        .await
        .unwrap();
    match t {
        Transition::Illegal(e) => assert_eq!(e.from, MessageState::Queued),
        other => panic!("expected Illegal, got {other:?}"),
    }
    assert_eq!(store.get(MessageId(1)).unwrap(), Some(m));
    assert_eq!(store.due(i64::MAX, 10).unwrap(), vec![MessageId(1)]);
    assert_eq!(store.callbacks_due(i64::MAX, 10).unwrap(), vec![]);
    assert_eq!(
        store
            .transition(MessageId(9), Event::Cancel, 1)
            .await
            .unwrap(),
        Transition::NotFound
    );
}

#[tokio::test]
async fn transition_many_sees_earlier_items_and_reports_each() {
    let store = Store::open_temporary().unwrap();
    store
        .accept(vec![message(1, 10, 1), message(2, 10, 1)], None)
        .await
        .unwrap();
    let flushes = store.flushes();
    let results = store
        .transition_many(
            vec![
                (MessageId(1), dispatched()),
                (MessageId(1), submit_ok(&["k"])),
                (MessageId(2), Event::Cancel),
                (MessageId(2), Event::Cancel),
                (MessageId(3), Event::Cancel),
            ],
            50,
        )
        .await
        .unwrap();
    assert_eq!(store.flushes(), flushes + 1, "one batch, one flush");
    assert_eq!(applied(results[1].clone()).state, MessageState::Submitted);
    assert_eq!(applied(results[2].clone()).state, MessageState::Cancelled);
    assert!(matches!(results[3], Transition::Illegal(_)));
    assert_eq!(results[4], Transition::NotFound);
    assert_eq!(store.backlog(), 1);
    assert_eq!(
        store.find_by_carrier_key("telia", "k").unwrap(),
        Some((MessageId(1), 0))
    );
}

#[tokio::test]
async fn transition_decided_chooses_each_event_from_the_stored_message() {
    let store = Store::open_temporary().unwrap();
    let mut expired = message(2, 10, 1);
    expired.valid_until = 20;
    store
        .accept(vec![message(1, 10, 1), expired], None)
        .await
        .unwrap();
    store
        .transition(MessageId(1), Event::Cancel, 11)
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let decide: Decide = Arc::new(move |m: &Message| {
        log.lock().unwrap().push((m.id, m.state));
        if m.valid_until <= 50 {
            Event::Expire
        } else {
            dispatched()
        }
    });
    let results = store
        .transition_decided(vec![MessageId(1), MessageId(2), MessageId(3)], 50, decide)
        .await
        .unwrap();
    // The cancelled one is read as it is stored (cancelled): its hand-over does not apply.
    assert!(matches!(results[0], Transition::Illegal(_)));
    assert_eq!(applied(results[1].clone()).state, MessageState::Expired);
    assert_eq!(results[2], Transition::NotFound);
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.contains(&(MessageId(1), MessageState::Cancelled)),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(MessageId(2), MessageState::Queued)),
        "{seen:?}"
    );
    assert_eq!(store.backlog(), 0);
}

#[tokio::test]
async fn due_comes_out_in_due_order() {
    let store = Store::open_temporary().unwrap();
    // Ids in one order, due times in another, one negative time.
    let dues = [(1, 500), (2, -20), (3, 300), (4, 300), (5, 10_000)];
    let batch = dues.iter().map(|&(id, due)| message(id, due, 1)).collect();
    store.accept(batch, None).await.unwrap();
    let ids = |v: Vec<MessageId>| v.into_iter().map(|m| m.0).collect::<Vec<_>>();
    assert_eq!(ids(store.due(1_000, 10).unwrap()), vec![2, 3, 4, 1]);
    assert_eq!(ids(store.due(1_000, 2).unwrap()), vec![2, 3]);
    assert_eq!(ids(store.due(300, 10).unwrap()), vec![2, 3, 4]);
    assert_eq!(ids(store.due(-21, 10).unwrap()), Vec::<u128>::new());
    assert_eq!(store.next_due_at().unwrap(), Some(-20));
}

#[tokio::test]
async fn callbacks_are_ordered_per_message_and_only_the_first_is_due() {
    let store = Store::open_temporary().unwrap();
    let with_cb = |id| {
        let mut m = message(id, 0, 1);
        m.callback_url = Some("https://cb".into());
        m
    };
    store
        .accept(vec![with_cb(1), with_cb(2), message(3, 0, 1)], None)
        .await
        .unwrap();
    for id in [1, 2, 3] {
        store
            .transition(MessageId(id), dispatched(), 10)
            .await
            .unwrap();
    }
    store
        .transition(MessageId(1), submit_ok(&["x"]), 20)
        .await
        .unwrap();
    // A receipt that leaves the state as it was queues no callback; this one settles it.
    store
        .transition(MessageId(1), receipt(0, PartState::Delivered), 30)
        .await
        .unwrap();

    let due = store.callbacks_due(100, 10).unwrap();
    let heads: Vec<_> = due
        .iter()
        .map(|c| (c.message_id.0, c.seq, c.state))
        .collect();
    assert_eq!(
        heads,
        vec![
            (1, 0, MessageState::Submitting),
            (2, 0, MessageState::Submitting)
        ],
        "only the first of each message; message 3 has no callback_url"
    );
    assert_eq!(due[0].at, 10);
    assert_eq!(due[0].next_attempt_at, 10);

    // Message 1's first callback fails: its later ones wait behind it.
    store.callback_retry(MessageId(1), 0, 1_000).await.unwrap();
    let due = store.callbacks_due(100, 10).unwrap();
    assert_eq!(
        due.iter().map(|c| c.message_id.0).collect::<Vec<_>>(),
        vec![2]
    );
    let due = store.callbacks_due(1_000, 10).unwrap();
    assert_eq!((due[0].message_id.0, due[0].seq, due[0].attempt), (1, 0, 1));
    assert_eq!(store.callbacks_due(1_000, 1).unwrap().len(), 1, "limit");

    // Done in order: 0, then 1 (submitted), then 2 (delivered).
    for (seq, state) in [(1, MessageState::Submitted), (2, MessageState::Delivered)] {
        store.callback_done(MessageId(1), seq - 1).await.unwrap();
        let due = store.callbacks_due(1_000, 10).unwrap();
        assert_eq!(
            (due[0].message_id.0, due[0].seq, due[0].state),
            (1, seq, state)
        );
    }
    store.callback_done(MessageId(1), 2).await.unwrap();
    let due = store.callbacks_due(1_000, 10).unwrap();
    assert_eq!(
        due.iter().map(|c| c.message_id.0).collect::<Vec<_>>(),
        vec![2]
    );
    // Retrying a callback already done changes nothing.
    store.callback_retry(MessageId(1), 2, 5).await.unwrap();
    assert_eq!(store.callbacks_due(i64::MAX, 10).unwrap().len(), 1);
}

#[tokio::test]
async fn backlog_follows_transitions_and_survives_reopen() {
    let dir = TempPath::new("backlog");
    let store = Store::open(&dir.0).unwrap();
    store
        .accept((1..=4).map(|i| message(i, 0, 1)).collect(), None)
        .await
        .unwrap();
    assert_eq!(store.backlog(), 4);
    store
        .transition(MessageId(1), Event::Cancel, 1)
        .await
        .unwrap();
    assert_eq!(store.backlog(), 3);
    store
        .transition(MessageId(2), dispatched(), 1)
        .await
        .unwrap();
    store
        .transition(MessageId(2), submit_ok(&["q"]), 2)
        .await
        .unwrap();
    assert_eq!(
        store.backlog(),
        3,
        "submitted and waiting for a receipt is still open"
    );
    // A message that asked for no receipt is done once submitted.
    let mut quiet = message(5, 0, 1);
    quiet.receipt = false;
    store.accept(vec![quiet], None).await.unwrap();
    store
        .transition(MessageId(5), dispatched(), 1)
        .await
        .unwrap();
    assert_eq!(store.backlog(), 4);
    let m = applied(
        store
            .transition(MessageId(5), submit_ok(&["r"]), 2)
            .await
            .unwrap(),
    );
    assert_eq!((m.state, m.done_at), (MessageState::Submitted, Some(2)));
    assert_eq!(store.backlog(), 3);
    assert_eq!(store.find_by_carrier_key("telia", "r").unwrap(), None);
    assert_eq!(
        store.awaiting_receipts(i64::MAX, 10).unwrap(),
        vec![MessageId(2)]
    );
    store.close().await.unwrap();

    let store = Store::open(&dir.0).unwrap();
    assert_eq!(store.backlog(), 3);
    store
        .transition(MessageId(3), Event::Expire, 5)
        .await
        .unwrap();
    assert_eq!(store.backlog(), 2);
    store.close().await.unwrap();
}

#[tokio::test]
async fn counters_are_rebuilt_when_missing() {
    let dir = TempPath::new("recount");
    let store = Store::open(&dir.0).unwrap();
    store
        .accept((1..=3).map(|i| message(i, 0, 1)).collect(), None)
        .await
        .unwrap();
    store
        .transition(MessageId(1), Event::Cancel, 1)
        .await
        .unwrap();
    store.close().await.unwrap();
    {
        let db = open_waiting_for_lock(&sled::Config::new().path(&dir.0)).unwrap();
        let counters = db.open_tree(tree::COUNTERS).unwrap();
        assert!(
            !counters.is_empty(),
            "close writes the counters to their tree"
        );
        counters.clear().unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(&dir.0).unwrap();
    assert_eq!(store.backlog(), 2);
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_concurrent_accepts_share_few_flushes() {
    let dir = TempPath::new("group");
    let store = Store::open(&dir.0).unwrap();
    let before = store.flushes();
    let tasks: Vec<_> = (0..2_000u128)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .accept(vec![message(i + 1, 0, 1)], Some(idem(&format!("k{i}"), 0)))
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let flushes = store.flushes() - before;
    assert!(flushes <= 200, "2,000 accepts took {flushes} flushes");
    assert_eq!(store.backlog(), 2_000);
    assert_eq!(store.due(i64::MAX, 5_000).unwrap().len(), 2_000);
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_thousand_messages_accept_in_one_transaction() {
    let store = Store::open_temporary().unwrap();
    let batch: Vec<_> = (1..=1_000).map(|i| message(i, i as i64, 2)).collect();
    let flushes = store.flushes();
    store.accept(batch, Some(idem("batch", 0))).await.unwrap();
    assert_eq!(store.flushes(), flushes + 1);
    assert_eq!(store.backlog(), 1_000);
    assert_eq!(store.due(i64::MAX, 2_000).unwrap().len(), 1_000);
}

#[tokio::test]
async fn purge_idempotency_removes_only_older_records() {
    let store = Store::open_temporary().unwrap();
    for (key, at) in [("old1", 10), ("old2", 20), ("new", 30)] {
        store.accept(vec![], Some(idem(key, at))).await.unwrap();
    }
    assert_eq!(store.purge_idempotency(30).await.unwrap(), 2);
    assert_eq!(store.idempotency_get("shop-a", "old1").unwrap(), None);
    assert_eq!(store.idempotency_get("shop-a", "old2").unwrap(), None);
    assert!(store.idempotency_get("shop-a", "new").unwrap().is_some());
    assert_eq!(store.purge_idempotency(30).await.unwrap(), 0);
    // A purged key may be used again.
    store.accept(vec![], Some(idem("old1", 40))).await.unwrap();
}

#[tokio::test]
async fn a_reused_carrier_key_stays_with_the_newer_message() {
    let store = Store::open_temporary().unwrap();
    store
        .accept(vec![message(1, 0, 1), message(2, 0, 1)], None)
        .await
        .unwrap();
    for id in [1, 2] {
        store
            .transition(MessageId(id), dispatched(), 1)
            .await
            .unwrap();
        store
            .transition(MessageId(id), submit_ok(&["same"]), 2)
            .await
            .unwrap();
    }
    assert_eq!(
        store.find_by_carrier_key("telia", "same").unwrap(),
        Some((MessageId(2), 0))
    );
    store
        .transition(MessageId(1), Event::ReceiptTimeout, 3)
        .await
        .unwrap();
    assert_eq!(
        store.find_by_carrier_key("telia", "same").unwrap(),
        Some((MessageId(2), 0))
    );
}

#[tokio::test]
async fn a_future_schema_version_refuses_to_open() {
    let dir = TempPath::new("future");
    let store = Store::open(&dir.0).unwrap();
    schema::write(&store.shared.trees.meta, SCHEMA_VERSION + 1).unwrap();
    store.close().await.unwrap();
    match Store::open(&dir.0) {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[tokio::test]
async fn an_older_schema_runs_the_migrations() {
    use std::sync::atomic::AtomicBool;
    static RAN: AtomicBool = AtomicBool::new(false);
    fn fake_step(db: &sled::Db) -> Result<(), StoreError> {
        db.open_tree("meta")?.insert("migrated", &b"yes"[..])?;
        RAN.store(true, Ordering::SeqCst);
        Ok(())
    }
    let dir = TempPath::new("migrate");
    let store = Store::open(&dir.0).unwrap();
    schema::write(&store.shared.trees.meta, 0).unwrap();
    store.close().await.unwrap();

    let steps: [schema::Migration; SCHEMA_VERSION as usize] = [fake_step; SCHEMA_VERSION as usize];
    let store = Store::open_with(
        sled::Config::new().path(&dir.0),
        &dir.0,
        &steps,
        StoreOptions::default(),
    )
    .unwrap();
    assert!(RAN.load(Ordering::SeqCst));
    let meta = &store.shared.trees.meta;
    assert_eq!(meta.get("migrated").unwrap().as_deref(), Some(&b"yes"[..]));
    assert_eq!(
        meta.get(layout::SCHEMA_VERSION_KEY).unwrap().as_deref(),
        Some(&SCHEMA_VERSION.to_be_bytes()[..])
    );
    store.close().await.unwrap();
    // And the real table brings version 0 (and 1) to the current one too.
    let store = Store::open(&dir.0).unwrap();
    schema::write(&store.shared.trees.meta, 0).unwrap();
    store.close().await.unwrap();
    let store = Store::open(&dir.0).unwrap();
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_garbage_file_at_the_path_is_damaged_not_a_panic() {
    let file = TempPath::new("garbage-file");
    std::fs::write(&file.0, b"this is not a sled database").unwrap();
    match Store::open(&file.0) {
        Err(e @ StoreError::Damaged { .. }) => {
            assert!(e.to_string().contains("korid store backup"), "{e}");
        }
        other => panic!("expected Damaged, got {other:?}"),
    }
}

#[tokio::test]
async fn garbage_sled_files_are_damaged_not_a_panic() {
    let dir = TempPath::new("garbage-dir");
    let store = Store::open(&dir.0).unwrap();
    store.accept(vec![message(1, 0, 1)], None).await.unwrap();
    store.close().await.unwrap();
    for entry in std::fs::read_dir(&dir.0).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::write(&path, vec![0xA5; 4096]).unwrap();
        }
    }
    match Store::open(&dir.0) {
        Err(StoreError::Damaged { path, .. }) => assert_eq!(path, dir.0),
        other => panic!("expected Damaged, got {other:?}"),
    }
}

#[tokio::test]
async fn a_backup_opens_with_the_same_messages() {
    let dir = TempPath::new("backup-src");
    let copy = TempPath::new("backup-dst");
    let store = Store::open(&dir.0).unwrap();
    let batch: Vec<_> = (1..=20).map(|i| message(i, i as i64, 1)).collect();
    store
        .accept(batch.clone(), Some(idem("b", 1)))
        .await
        .unwrap();
    store
        .transition(MessageId(1), dispatched(), 5)
        .await
        .unwrap();
    store.backup(&copy.0).await.unwrap();
    assert!(matches!(
        store.backup(&copy.0).await,
        Err(StoreError::BackupTargetExists { .. })
    ));
    // Writes after the backup are not in it.
    store
        .transition(MessageId(2), Event::Cancel, 6)
        .await
        .unwrap();

    let restored = Store::open(&copy.0).unwrap();
    for m in &batch[2..] {
        assert_eq!(restored.get(m.id).unwrap().as_ref(), Some(m));
    }
    assert_eq!(
        restored.get(MessageId(1)).unwrap().unwrap().state,
        MessageState::Submitting
    );
    assert_eq!(
        restored.get(MessageId(2)).unwrap().unwrap().state,
        MessageState::Queued
    );
    assert_eq!(restored.backlog(), 20);
    assert_eq!(restored.due(i64::MAX, 100).unwrap().len(), 19);
    assert!(restored.idempotency_get("shop-a", "b").unwrap().is_some());
    restored.close().await.unwrap();
    store.close().await.unwrap();
}

#[tokio::test]
async fn writes_after_close_fail_with_writer_gone() {
    let store = Store::open_temporary().unwrap();
    let other = store.clone();
    store.close().await.unwrap();
    assert!(matches!(
        other.accept(vec![message(1, 0, 1)], None).await,
        Err(StoreError::WriterGone)
    ));
}

#[test]
fn open_outside_a_runtime_is_an_error() {
    assert!(matches!(
        Store::open_temporary(),
        Err(StoreError::NoRuntime)
    ));
}

#[tokio::test]
async fn requests_sharing_a_commit_keep_their_own_outcomes() {
    let store = Store::open_temporary().unwrap();
    store
        .accept(vec![message(1, 10, 1)], Some(idem("k", 1)))
        .await
        .unwrap();
    let flushes = store.flushes();
    // Sent together, so that the writer takes them in one batch: the aborts of two of them
    // must leave the others (and the order between them) alone.
    let (fresh, used_key, duplicate, another, cancel) = tokio::join!(
        store.accept(vec![message(2, 10, 1)], None),
        store.accept(vec![message(3, 10, 1)], Some(idem("k", 2))),
        store.accept(vec![message(1, 10, 1)], None),
        store.accept(vec![message(4, 10, 1)], None),
        store.transition(MessageId(2), Event::Cancel, 20),
    );
    assert_eq!(store.flushes(), flushes + 1, "one batch, one flush");
    fresh.unwrap();
    assert!(matches!(used_key, Err(StoreError::IdempotencyExists(_))));
    assert!(matches!(
        duplicate,
        Err(StoreError::DuplicateId(MessageId(1)))
    ));
    another.unwrap();
    assert_eq!(applied(cancel.unwrap()).state, MessageState::Cancelled);
    assert_eq!(store.get(MessageId(3)).unwrap(), None);
    assert!(store.get(MessageId(4)).unwrap().is_some());
    assert_eq!(store.backlog(), 2);
}

#[tokio::test]
async fn writes_reach_the_trees_once_and_reads_see_them_throughout() {
    let store = Store::open_temporary().unwrap();
    let id = MessageId(1);
    store.accept(vec![message(1, 100, 1)], None).await.unwrap();
    // Durable in the journal, not yet in the trees; readers see it all the same.
    assert!(store.shared.trees.messages.is_empty());
    assert!(!journal::is_empty(&store.shared.journal_dir()));
    assert_eq!(store.due(100, 10).unwrap(), vec![id]);
    store.materialize_now();
    assert_eq!(store.shared.trees.messages.len(), 1);
    assert_eq!(store.shared.trees.due.len(), 1);
    assert!(journal::is_empty(&store.shared.journal_dir()));
    // Dispatched and submitted between materializations: the due entry comes and goes in
    // memory; the trees get the last state.
    store.transition(id, dispatched(), 100).await.unwrap();
    store.transition(id, submit_ok(&["k1"]), 110).await.unwrap();
    assert_eq!(store.due(i64::MAX, 10).unwrap(), vec![]);
    assert_eq!(store.shared.trees.due.len(), 1, "not materialized yet");
    assert_eq!(
        store.find_by_carrier_key("telia", "k1").unwrap(),
        Some((id, 0))
    );
    store.materialize_now();
    assert!(store.shared.trees.due.is_empty());
    assert_eq!(store.shared.trees.carrier_keys.len(), 1);
    assert_eq!(store.shared.trees.receipt_wait.len(), 1);
    assert_eq!(
        store.get(id).unwrap().map(|m| m.state),
        Some(MessageState::Submitted)
    );
}

#[tokio::test]
async fn a_crash_before_materialization_loses_nothing() {
    let dir = TempPath::new("replay");
    let store = Store::open(&dir.0).unwrap();
    store
        .accept(
            (1..=3).map(|i| message(i, 0, 1)).collect(),
            Some(idem("k", 0)),
        )
        .await
        .unwrap();
    store
        .transition(MessageId(2), Event::Cancel, 1)
        .await
        .unwrap();
    store
        .transition(MessageId(3), dispatched(), 1)
        .await
        .unwrap();
    // No close: the writer stops when the last handle goes, and nothing materializes.
    assert!(store.shared.trees.messages.is_empty());
    let writer = store.writer.lock().unwrap().take().unwrap();
    drop(store);
    writer.await.unwrap();
    let store = Store::open(&dir.0).unwrap();
    assert!(
        journal::is_empty(&store.shared.journal_dir()),
        "replayed at open"
    );
    assert_eq!(store.shared.trees.messages.len(), 3);
    let state = |i| store.get(MessageId(i)).unwrap().map(|m| m.state);
    assert_eq!(state(1), Some(MessageState::Queued));
    assert_eq!(state(2), Some(MessageState::Cancelled));
    assert_eq!(state(3), Some(MessageState::Submitting));
    assert_eq!(store.backlog(), 2);
    assert_eq!(store.due(i64::MAX, 10).unwrap(), vec![MessageId(1)]);
    assert!(store.idempotency_get("shop-a", "k").unwrap().is_some());
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_backup_taken_before_materialization_holds_every_write() {
    let dir = TempPath::new("backup-journal");
    let copy = TempPath::new("backup-journal-copy");
    let store = Store::open(&dir.0).unwrap();
    store.accept(vec![message(1, 0, 1)], None).await.unwrap();
    store.materialize_now();
    store.accept(vec![message(2, 0, 1)], None).await.unwrap();
    store.backup(&copy.0).await.unwrap();
    store.close().await.unwrap();
    let backup = Store::open(&copy.0).unwrap();
    assert!(backup.get(MessageId(1)).unwrap().is_some());
    assert!(backup.get(MessageId(2)).unwrap().is_some());
    assert_eq!(backup.backlog(), 2);
    backup.close().await.unwrap();
}

#[tokio::test]
async fn due_after_goes_on_from_a_cursor() {
    let store = Store::open_temporary().unwrap();
    store
        .accept(
            vec![
                message(1, 10, 1),
                message(2, 20, 1),
                message(3, 20, 1),
                message(4, 99, 1),
            ],
            None,
        )
        .await
        .unwrap();
    let all = store.due_after(None, 50, 10).unwrap();
    assert_eq!(
        all,
        vec![(10, MessageId(1)), (20, MessageId(2)), (20, MessageId(3))]
    );
    assert_eq!(
        store.due_after(Some((20, MessageId(2))), 50, 10).unwrap(),
        vec![(20, MessageId(3))]
    );
    assert_eq!(
        store.due_after(Some((20, MessageId(3))), 50, 10).unwrap(),
        vec![]
    );
    assert_eq!(
        store.due_after(None, 50, 1).unwrap(),
        vec![(10, MessageId(1))]
    );
}

#[tokio::test]
async fn the_due_hint_reports_the_earliest_new_entry_once() {
    let store = Store::open_temporary().unwrap();
    assert_eq!(store.take_due_hint(), None);
    store
        .accept(vec![message(5, 50, 1), message(6, 40, 1)], None)
        .await
        .unwrap();
    store.accept(vec![message(7, 45, 1)], None).await.unwrap();
    assert_eq!(store.take_due_hint(), Some((40, MessageId(6))));
    assert_eq!(store.take_due_hint(), None, "taken");
    // Entries that only go away are no news.
    store
        .transition(MessageId(6), Event::Cancel, 41)
        .await
        .unwrap();
    assert_eq!(store.take_due_hint(), None);
}

#[tokio::test]
async fn a_message_still_queued_is_kept_over_one_materialization() {
    let dir = TempPath::new("carry");
    let store = Store::open(&dir.0).unwrap();
    let (queued, settled) = (MessageId(1), MessageId(2));
    store
        .accept(vec![message(1, 0, 1), message(2, 0, 1)], None)
        .await
        .unwrap();
    store.transition(settled, Event::Cancel, 1).await.unwrap();
    store.materialize_once();
    // The cancelled one is in its tree; the queued one (and its due entry) stayed in memory,
    // journaled again.
    assert_eq!(store.shared.trees.messages.len(), 1);
    assert!(
        store
            .shared
            .trees
            .messages
            .get(settled.to_bytes())
            .unwrap()
            .is_some()
    );
    assert!(store.shared.trees.due.is_empty());
    assert!(!journal::is_empty(&store.shared.journal_dir()));
    assert_eq!(store.due(i64::MAX, 10).unwrap(), vec![queued]);
    // Handed over meanwhile: its due entry never reaches a tree.
    store.transition(queued, dispatched(), 2).await.unwrap();
    // A crash now loses nothing.
    let writer = store.writer.lock().unwrap().take().unwrap();
    drop(store);
    writer.await.unwrap();
    let store = Store::open(&dir.0).unwrap();
    assert_eq!(
        store.get(queued).unwrap().map(|m| m.state),
        Some(MessageState::Submitting)
    );
    assert_eq!(
        store.get(settled).unwrap().map(|m| m.state),
        Some(MessageState::Cancelled)
    );
    assert_eq!(store.due(i64::MAX, 10).unwrap(), vec![]);
    assert_eq!(store.backlog(), 1);
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_kept_write_goes_to_its_tree_at_the_second_materialization() {
    let store = Store::open_temporary().unwrap();
    store.accept(vec![message(1, 0, 1)], None).await.unwrap();
    store.materialize_once();
    assert!(store.shared.trees.messages.is_empty(), "kept once");
    store.materialize_once();
    assert_eq!(store.shared.trees.messages.len(), 1);
    assert_eq!(store.shared.trees.due.len(), 1);
    assert!(journal::is_empty(&store.shared.journal_dir()));
}

#[tokio::test]
async fn a_duplicate_id_is_refused_whether_or_not_it_reached_its_tree() {
    let dir = TempPath::new("dup");
    let store = Store::open(&dir.0).unwrap();
    store.accept(vec![message(5, 0, 1)], None).await.unwrap();
    store
        .transition(MessageId(5), Event::Cancel, 1)
        .await
        .unwrap();
    store.materialize_now();
    assert!(
        store
            .shared
            .trees
            .messages
            .get(MessageId(5).to_bytes())
            .unwrap()
            .is_some()
    );
    let again = store.accept(vec![message(5, 0, 1)], None).await;
    assert!(matches!(again, Err(StoreError::DuplicateId(MessageId(5)))));
    // Lower and higher ids that are nowhere are fine.
    store.accept(vec![message(3, 0, 1)], None).await.unwrap();
    store.accept(vec![message(9, 0, 1)], None).await.unwrap();
    let again = store.accept(vec![message(9, 0, 1)], None).await;
    assert!(matches!(again, Err(StoreError::DuplicateId(MessageId(9)))));
    // And after a restart, from the tree's last key.
    store.close().await.unwrap();
    let store = Store::open(&dir.0).unwrap();
    let again = store.accept(vec![message(9, 0, 1)], None).await;
    assert!(matches!(again, Err(StoreError::DuplicateId(MessageId(9)))));
    store.close().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_group_commit_window_gathers_later_requests_into_one_flush() {
    let window = std::time::Duration::from_millis(500);
    let store = Store::open_temporary_configured(StoreOptions {
        flush_every: window,
    })
    .unwrap();
    let started = tokio::time::Instant::now();
    // Nothing flushed for a window: the first request is flushed at once.
    store.accept(vec![message(1, 0, 1)], None).await.unwrap();
    assert!(started.elapsed() < window);
    let flushes = store.flushes();
    let (a, b) = tokio::join!(
        store.accept(vec![message(2, 0, 1)], None),
        store.accept(vec![message(3, 0, 1)], None),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(store.flushes(), flushes + 1, "both in one flush");
    assert!(started.elapsed() >= window, "held until the window closed");
    assert_eq!(store.backlog(), 3);
}

/// Regression: sled reports a held lock on `db` as an `Other` error carrying the
/// `WouldBlock`, which the lock wait did not recognise, so a store reopened right after a
/// close failed at once instead of waiting.
#[test]
fn a_held_lock_is_recognised_in_either_form() {
    use std::io::{Error, ErrorKind};
    assert!(lock_held(&Error::from(ErrorKind::WouldBlock)));
    let wrapped = Error::other(format!(
        "could not acquire lock on {:?}: {:?}",
        "/var/lib/kori/store/db",
        Error::from(ErrorKind::WouldBlock)
    ));
    assert!(lock_held(&wrapped));
    assert!(!lock_held(&Error::from(ErrorKind::PermissionDenied)));
}
