//! The path every SMS takes: HTTP → store → carrier session → SMSC → receipt → final state,
//! through the real daemon (`kori::app::Daemon`) and the SMSC simulator over 127.0.0.1.

use kori::app::{Daemon, DaemonConfig, StoreLocation};
use kori::client;
use kori::clock::Clock;
use kori::outbox::{MessageId, MessageState, StateChange};
use kori::sim::{Faults, ReceiptOutcome, ReceiptStyle, Sim, SimConfig};
use kori::smpp::CarrierConfig;
use kori_smpp::CommandStatus;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::timeout;

const TOKEN: &str = "outbox-test-admin-token";
const GUARD: Duration = Duration::from_secs(120);

struct Kori {
    sim: Sim,
    daemon: Daemon,
    base: String,
    changes: broadcast::Receiver<StateChange>,
}

async fn start(sim: SimConfig, tweak: impl FnOnce(&mut DaemonConfig)) -> Kori {
    let sim = Sim::start(sim).await.unwrap();
    let mut carrier = CarrierConfig::new("sim", "127.0.0.1", sim.addr().port());
    carrier.system_id = "kori".to_owned();
    carrier.window = NonZeroU32::new(100).unwrap();
    carrier.tps = NonZeroU32::new(1_000_000).unwrap();
    let mut config = DaemonConfig::local(StoreLocation::Temporary, "admin", TOKEN, vec![carrier]);
    tweak(&mut config);
    let daemon = Daemon::start(config, Clock::system()).await.unwrap();
    let changes = daemon.outbox().subscribe();
    let carrier = daemon.outbox().router().carriers()[0].clone();
    timeout(GUARD, carrier.wait_up()).await.unwrap();
    let base = format!("http://{}", daemon.http_addr());
    Kori {
        sim,
        daemon,
        base,
        changes,
    }
}

impl Kori {
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let (status, body) = client::post_json(&format!("{}{path}", self.base), TOKEN, &body)
            .await
            .unwrap();
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    async fn send(&self, to: &str, text: &str) -> MessageId {
        let (status, body) = self
            .post(
                "/v1/messages",
                json!({"to": to, "text": text, "from": "DemoShop"}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        body["id"].as_str().unwrap().parse().unwrap()
    }

    async fn get(&self, id: MessageId) -> Value {
        let (status, body) = client::get(&format!("{}/v1/messages/{id}", self.base), TOKEN)
            .await
            .unwrap();
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Waits until every id has reached a terminal state; returns the final states.
    async fn settle(&mut self, ids: &[MessageId]) -> HashMap<MessageId, MessageState> {
        let mut open: HashSet<MessageId> = ids.iter().copied().collect();
        let mut done = HashMap::new();
        // Some may have settled before this call: check the store first.
        for id in ids {
            let state = self.daemon.outbox().get(*id).unwrap().unwrap().state;
            if state.is_terminal() {
                open.remove(id);
                done.insert(*id, state);
            }
        }
        while !open.is_empty() {
            let change = timeout(GUARD, self.changes.recv())
                .await
                .expect("messages settle")
                .unwrap();
            if change.to.is_terminal() && open.remove(&change.id) {
                done.insert(change.id, change.to);
            }
        }
        done
    }

    async fn stop(self) {
        self.daemon.stop().await;
        self.sim.shutdown().await;
    }
}

fn quick_receipts() -> SimConfig {
    SimConfig {
        receipt_delay: Duration::from_millis(20),
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn one_message_is_delivered_and_shows_its_part() {
    let mut kori = start(quick_receipts(), |_| {}).await;
    let id = kori.send("+358401234567", "hello from the outbox").await;
    let states = kori.settle(&[id]).await;
    assert_eq!(states[&id], MessageState::Delivered);
    let message = kori.get(id).await;
    assert_eq!(message["state"], "delivered");
    assert_eq!(message["parts"].as_array().unwrap().len(), 1);
    assert_eq!(message["parts"][0]["state"], "delivered");
    assert!(message["parts"][0]["carrier_message_id"].is_string());
    assert!(message["done_at"].is_string());
    kori.stop().await;
}

#[tokio::test]
async fn a_thousand_single_requests_are_all_delivered() {
    let mut kori = start(quick_receipts(), |_| {}).await;
    let mut sends = Vec::new();
    for i in 0..1_000 {
        let base = kori.base.clone();
        sends.push(tokio::spawn(async move {
            let body = json!({"to": format!("+3584012{i:05}"), "text": format!("message {i}"), "from": "DemoShop"});
            let (status, body) = client::post_json(&format!("{base}/v1/messages"), TOKEN, &body).await.unwrap();
            assert_eq!(status, 202, "{body}");
            serde_json::from_str::<Value>(&body).unwrap()["id"].as_str().unwrap().parse::<MessageId>().unwrap()
        }));
    }
    let mut ids = Vec::new();
    for send in sends {
        ids.push(send.await.unwrap());
    }
    let states = kori.settle(&ids).await;
    assert!(states.values().all(|s| *s == MessageState::Delivered));
    assert_eq!(kori.sim.stats().submits_accepted, 1_000);
    kori.stop().await;
}

#[tokio::test]
async fn a_batch_is_accepted_in_order_and_delivered() {
    let mut kori = start(quick_receipts(), |_| {}).await;
    let messages: Vec<Value> = (0..200)
        .map(|i| json!({"to": format!("+3584012{i:05}"), "text": format!("batch {i}"), "from": "DemoShop"}))
        .collect();
    let (status, body) = kori
        .post("/v1/messages/batch", json!({ "messages": messages }))
        .await;
    assert_eq!(status, 202, "{body}");
    let ids: Vec<MessageId> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 200);
    let states = kori.settle(&ids).await;
    assert!(states.values().all(|s| *s == MessageState::Delivered));
    kori.stop().await;
}

#[tokio::test]
async fn multipart_ucs2_is_delivered_when_every_part_is() {
    let mut kori = start(quick_receipts(), |_| {}).await;
    let text = "Привет! ".repeat(20); // 160 UTF-16 units: 3 segments of UCS-2
    let id = kori.send("+358401234567", &text).await;
    let states = kori.settle(&[id]).await;
    assert_eq!(states[&id], MessageState::Delivered);
    let message = kori.get(id).await;
    assert_eq!(message["encoding"], "ucs2");
    let parts = message["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    assert!(parts.iter().all(|p| p["state"] == "delivered"));
    kori.stop().await;
}

#[tokio::test]
async fn an_undeliverable_part_makes_the_message_undeliverable() {
    let mut kori = start(
        SimConfig {
            outcome_rules: vec![("35845".to_owned(), ReceiptOutcome::UNDELIVERABLE)],
            ..quick_receipts()
        },
        |_| {},
    )
    .await;
    let id = kori.send("+358451234567", &"long text ".repeat(30)).await;
    let states = kori.settle(&[id]).await;
    assert_eq!(states[&id], MessageState::Undeliverable);
    let message = kori.get(id).await;
    assert_eq!(message["error"]["code"], "undeliverable");
    kori.stop().await;
}

#[tokio::test]
async fn a_rejected_submit_makes_the_message_rejected() {
    let mut kori = start(
        SimConfig {
            faults: Faults {
                reject_destinations: vec![(
                    "35840999".to_owned(),
                    CommandStatus::InvalidDestinationAddress,
                )],
                ..Faults::default()
            },
            ..quick_receipts()
        },
        |_| {},
    )
    .await;
    let id = kori.send("+358409990001", "to a refused number").await;
    let states = kori.settle(&[id]).await;
    assert_eq!(states[&id], MessageState::Rejected);
    let message = kori.get(id).await;
    assert!(
        message["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("ESME_RINVDSTADR"),
        "{message}"
    );
    kori.stop().await;
}

#[tokio::test(start_paused = true)]
async fn without_a_receipt_the_message_is_unknown_after_receipt_timeout() {
    let mut kori = start(
        SimConfig {
            receipts: ReceiptStyle::None,
            ..SimConfig::default()
        },
        |c| {
            // Shorter than the test guard, which runs on the same paused clock.
            c.outbox.default_receipt_timeout = Duration::from_secs(60);
        },
    )
    .await;
    let id = kori.send("+358401234567", "nobody will tell").await;
    let states = kori.settle(&[id]).await;
    assert_eq!(states[&id], MessageState::Unknown);
    let message = kori.get(id).await;
    assert_eq!(message["error"]["code"], "receipt-timeout");
    kori.stop().await;
}

#[tokio::test]
async fn a_queued_message_can_be_cancelled_and_is_never_sent() {
    let mut kori = start(quick_receipts(), |_| {}).await;
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    let (status, body) = kori
        .post("/v1/messages", json!({"to": "+358401234567", "text": "later", "from": "DemoShop", "send_at": later.to_string()}))
        .await;
    assert_eq!(status, 202, "{body}");
    let id: MessageId = body["id"].as_str().unwrap().parse().unwrap();
    let url = format!("{}/v1/messages/{id}", kori.base);
    let (status, body) = kori::client::delete(&url, TOKEN).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let states = kori.settle(&[id]).await;
    assert_eq!(states[&id], MessageState::Cancelled);
    let (status, _) = kori::client::delete(&url, TOKEN).await.unwrap();
    assert_eq!(status, 409, "a cancelled message cannot be cancelled again");
    assert_eq!(kori.sim.stats().submits_received, 0);
    kori.stop().await;
}

#[tokio::test]
async fn queued_messages_survive_a_restart_on_the_same_store() {
    let dir = std::env::temp_dir().join(format!("kori-outbox-restart-{}", MessageId::generate()));
    let path = dir.clone();
    let kori = start(quick_receipts(), move |c| {
        c.store = StoreLocation::Path(path)
    })
    .await;
    // Due in the future: still queued when the daemon stops.
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_millis(1500);
    let (status, body) = kori
        .post("/v1/messages", json!({"to": "+358401234567", "text": "after the restart", "from": "DemoShop", "send_at": later.to_string()}))
        .await;
    assert_eq!(status, 202, "{body}");
    let id: MessageId = body["id"].as_str().unwrap().parse().unwrap();
    let sim_config = quick_receipts();
    kori.stop().await;
    let path = dir.clone();
    let mut kori = start(sim_config, move |c| c.store = StoreLocation::Path(path)).await;
    let states = kori.settle(&[id]).await;
    assert_eq!(states[&id], MessageState::Delivered);
    kori.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(start_paused = true)]
async fn idempotency_keys_are_forgotten_after_24_hours() {
    let kori = start(quick_receipts(), |_| {}).await;
    let url = format!("{}/v1/messages", kori.base);
    let post = |text: &'static str| {
        let url = url.clone();
        async move {
            let body = json!({"to": "+358401234567", "text": text, "from": "DemoShop"})
                .to_string()
                .into_bytes();
            let headers = [
                ("authorization", format!("Bearer {TOKEN}")),
                ("content-type", "application/json".to_owned()),
                ("idempotency-key", "order-1042".to_owned()),
            ];
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            client::HttpClient::new()
                .post(&url, &headers, body.into(), Duration::from_secs(30))
                .await
                .unwrap()
                .status
        }
    };
    assert_eq!(post("first").await, 202);
    assert_eq!(post("another body").await, 409, "same key, other body");
    tokio::time::sleep(Duration::from_secs(25 * 3600)).await;
    assert_eq!(
        post("another body").await,
        202,
        "the key was purged after 24 h"
    );
    kori.stop().await;
}
