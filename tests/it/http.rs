//! The HTTP API over a real socket, against an in-memory `Intake` that records every write.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kori::config::Secret;
use kori::http::{
    ApiToken, CarrierReadiness, HttpConfig, Intake, IntakeError, Readiness, Scope, StoredResponse,
    serve,
};
use kori::outbox::{Message, MessageId, MessageState};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) const ADMIN: &str = "admin-token";
const SHOP_A: &str = "shop-a-token";
const SHOP_B: &str = "shop-b-token";
/// Guard against hangs only; nothing waits for it to pass.
const GUARD: Duration = Duration::from_secs(30);

/// The test double: messages and idempotency records in maps, every `accept` call logged.
#[derive(Default)]
pub(crate) struct MemoryIntake {
    messages: Mutex<HashMap<MessageId, Message>>,
    keys: Mutex<HashMap<(String, String), StoredResponse>>,
    /// Size of each `accept` call, in order.
    accepts: Mutex<Vec<usize>>,
    pub(crate) backlog: AtomicU64,
    pub(crate) store_broken: AtomicBool,
    /// `idempotency()` answers None, as if a racing request had not stored its key yet.
    hide_keys: AtomicBool,
    pub(crate) carriers_down: Mutex<Vec<String>>,
    /// When set, `accept` announces itself on `entered` and waits for `release`.
    gate: Option<(Notify, Notify)>,
}

impl MemoryIntake {
    fn accept_calls(&self) -> Vec<usize> {
        self.accepts.lock().unwrap().clone()
    }

    fn stored(&self) -> usize {
        self.messages.lock().unwrap().len()
    }
}

impl Intake for MemoryIntake {
    async fn accept(
        &self,
        messages: Vec<Message>,
        idempotency: Option<StoredResponse>,
    ) -> Result<(), IntakeError> {
        if let Some((entered, release)) = &self.gate {
            entered.notify_one();
            release.notified().await;
        }
        if self.store_broken.load(Ordering::SeqCst) {
            return Err(IntakeError::Unavailable(
                "sled: No space left on device at /var/lib/kori".into(),
            ));
        }
        let mut keys = self.keys.lock().unwrap();
        if let Some(record) = idempotency {
            let id = (record.owner.clone(), record.key.clone());
            if let Some(previous) = keys.get(&id) {
                return Err(IntakeError::IdempotencyExists(previous.clone()));
            }
            keys.insert(id, record);
        }
        self.accepts.lock().unwrap().push(messages.len());
        let mut stored = self.messages.lock().unwrap();
        for m in messages {
            stored.insert(m.id, m);
        }
        Ok(())
    }

    fn idempotency(&self, owner: &str, key: &str) -> Result<Option<StoredResponse>, IntakeError> {
        if self.hide_keys.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let keys = self.keys.lock().unwrap();
        Ok(keys.get(&(owner.to_owned(), key.to_owned())).cloned())
    }

    fn get(&self, id: MessageId) -> Result<Option<Message>, IntakeError> {
        Ok(self.messages.lock().unwrap().get(&id).cloned())
    }

    async fn cancel(&self, id: MessageId) -> Result<Option<Message>, IntakeError> {
        let mut stored = self.messages.lock().unwrap();
        let Some(m) = stored.get_mut(&id) else {
            return Ok(None);
        };
        if m.state != MessageState::Queued {
            return Err(IntakeError::NotCancellable(m.state));
        }
        m.state = MessageState::Cancelled;
        m.done_at = Some(m.created_at + 1);
        Ok(Some(m.clone()))
    }

    fn backlog(&self) -> u64 {
        self.backlog.load(Ordering::SeqCst)
    }

    fn readiness(&self) -> Readiness {
        let down = self.carriers_down.lock().unwrap();
        Readiness {
            store_ok: !self.store_broken.load(Ordering::SeqCst),
            carriers: self
                .carrier_names()
                .into_iter()
                .map(|name| CarrierReadiness {
                    up: !down.contains(&name),
                    reason: down.contains(&name).then(|| "bind refused".to_owned()),
                    name,
                })
                .collect(),
        }
    }

    fn carrier_names(&self) -> Vec<String> {
        vec!["telia-fi".into(), "elisa".into()]
    }
}

pub(crate) fn config() -> HttpConfig {
    let token = |name: &str, secret: &str, scope| ApiToken {
        name: name.into(),
        secret: Secret::new(secret),
        scope,
    };
    HttpConfig {
        default_from: Some("Kori".into()),
        high_water: 100,
        tokens: vec![
            token("admin", ADMIN, Scope::Admin),
            token("shop-a", SHOP_A, Scope::Shop),
            token("shop-b", SHOP_B, Scope::Shop),
        ],
        ..HttpConfig::default()
    }
}

pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) intake: Arc<MemoryIntake>,
    cancel: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: hyper::HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts a problem+json answer and returns its body.
    fn problem(&self, status: u16, kind: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{:?}", self.json());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let p = self.json();
        assert_eq!(p["type"], kind, "{p}");
        assert_eq!(p["status"], status);
        assert!(p["title"].is_string() && p["detail"].is_string(), "{p}");
        p
    }
}

pub(crate) async fn start(config: HttpConfig, intake: MemoryIntake) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let intake = Arc::new(intake);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(serve(listener, config, intake.clone(), cancel.clone()));
    let client = Client::builder(TokioExecutor::new()).build_http();
    Server {
        addr,
        intake,
        cancel,
        task,
        client,
    }
}

impl Server {
    pub(crate) async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let response = tokio::time::timeout(GUARD, self.client.request(req))
            .await
            .expect("no answer")
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    async fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        let raw = serde_json::to_vec(body).unwrap();
        self.post_raw(path, Some(token), &[], raw).await
    }

    async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        self.request(Method::POST, path, token, headers, Some(body))
            .await
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        self.request(Method::GET, path, Some(token), &[], None)
            .await
    }

    async fn delete(&self, path: &str, token: &str) -> Reply {
        self.request(Method::DELETE, path, Some(token), &[], None)
            .await
    }

    /// Nothing was written: no `accept` call, no message, no idempotency record.
    fn assert_no_write(&self) {
        assert_eq!(self.intake.accept_calls(), Vec::<usize>::new());
        assert_eq!(self.intake.stored(), 0);
        assert!(self.intake.keys.lock().unwrap().is_empty());
    }

    pub(crate) async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(GUARD, self.task)
            .await
            .expect("serve did not return")
            .unwrap()
            .unwrap();
    }
}

fn sms(to: &str, text: &str) -> Value {
    json!({ "to": to, "text": text })
}

#[tokio::test]
async fn send_one_answers_202_after_accept() {
    let server = start(config(), MemoryIntake::default()).await;
    let reply = server
        .post(
            "/v1/messages",
            SHOP_A,
            &sms("040 123 4567", "Hei, ostoskorisi odottaa"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.json());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    let id: MessageId = body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(body["state"], "queued");
    assert_eq!(body["segments"], 1);
    assert_eq!(body["encoding"], "gsm7");
    assert_eq!(body["to"], "+358401234567");
    assert_eq!(server.intake.accept_calls(), [1]);
    let stored = server.intake.get(id).unwrap().unwrap();
    assert_eq!(stored.owner, "shop-a");
    assert_eq!(stored.from, "Kori");
    assert_eq!(stored.parts.len(), 1);
    assert!(stored.receipt);
    server.stop().await;
}

#[tokio::test]
async fn ucs2_text_reports_its_encoding_and_segments() {
    let server = start(config(), MemoryIntake::default()).await;
    let text = "Привет! ".repeat(10); // 80 UCS-2 characters: two 67-character parts
    let reply = server
        .post("/v1/messages", ADMIN, &sms("+358401234567", &text))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.json()["encoding"], "ucs2");
    assert_eq!(reply.json()["segments"], 2);
    server.stop().await;
}

#[tokio::test]
async fn batch_with_one_bad_entry_accepts_the_rest_in_one_call() {
    let server = start(config(), MemoryIntake::default()).await;
    let batch = json!({ "messages": [
        sms("+358401234567", "one"),
        sms("+3581", "two"),
        { "to": "+358401234568", "text": "three", "priority": "high" },
        sms("+358401234569", "four"),
    ]});
    let reply = server.post("/v1/messages/batch", SHOP_A, &batch).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.json());
    let results = reply.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["state"], "queued");
    assert_eq!(results[0]["to"], "+358401234567");
    assert_eq!(results[1]["error"]["type"], "invalid-phone");
    assert_eq!(results[1]["error"]["status"], 422);
    assert_eq!(results[1]["error"]["field"], "to");
    assert_eq!(results[2]["error"]["type"], "invalid-field");
    assert_eq!(results[2]["error"]["field"], "priority");
    assert_eq!(results[3]["to"], "+358401234569");
    assert_eq!(
        server.intake.accept_calls(),
        [2],
        "one accept for the valid ones"
    );
    for slot in [&results[0], &results[3]] {
        let id: MessageId = slot["id"].as_str().unwrap().parse().unwrap();
        assert!(server.intake.get(id).unwrap().is_some());
    }
    server.stop().await;
}

#[tokio::test]
async fn batch_limits() {
    let server = start(config(), MemoryIntake::default()).await;
    let empty = server
        .post("/v1/messages/batch", ADMIN, &json!({ "messages": [] }))
        .await;
    assert_eq!(empty.problem(422, "invalid-field")["field"], "messages");
    let many: Vec<Value> = (0..1001).map(|_| sms("+358401234567", "x")).collect();
    let over = server
        .post("/v1/messages/batch", ADMIN, &json!({ "messages": many }))
        .await;
    assert_eq!(over.problem(422, "invalid-field")["field"], "messages");
    let typo = server
        .post("/v1/messages/batch", ADMIN, &json!({ "mesages": [] }))
        .await;
    assert_eq!(typo.problem(422, "unknown-field")["field"], "mesages");
    server.assert_no_write();
    server.stop().await;
}

#[tokio::test]
async fn show_and_cancel() {
    let server = start(config(), MemoryIntake::default()).await;
    let mut body = sms("+358401234567", "hello");
    body["reference"] = json!("order-17");
    body["carrier"] = json!("telia-fi");
    let sent = server.post("/v1/messages", SHOP_A, &body).await.json();
    let path = format!("/v1/messages/{}", sent["id"].as_str().unwrap());

    let shown = server.get(&path, SHOP_A).await;
    assert_eq!(shown.status, StatusCode::OK);
    let m = shown.json();
    assert_eq!(m["id"], sent["id"]);
    assert_eq!(m["to"], "+358401234567");
    assert_eq!(m["from"], "Kori");
    assert_eq!(m["state"], "queued");
    assert_eq!(m["segments"], 1);
    assert_eq!(m["encoding"], "gsm7");
    assert_eq!(m["carrier"], "telia-fi");
    assert_eq!(m["attempts"], 0);
    assert_eq!(m["reference"], "order-17");
    assert_eq!(
        m["parts"],
        json!([{ "carrier_message_id": null, "state": "pending" }])
    );
    let created = m["created_at"].as_str().unwrap();
    assert!(created.parse::<jiff::Timestamp>().is_ok(), "{created}");
    assert!(m.get("done_at").is_none());

    // Another shop cannot see or cancel it; admin can see it.
    server.get(&path, SHOP_B).await.problem(404, "not-found");
    server.delete(&path, SHOP_B).await.problem(404, "not-found");
    assert_eq!(server.get(&path, ADMIN).await.status, StatusCode::OK);

    let cancelled = server.delete(&path, SHOP_A).await;
    assert_eq!(cancelled.status, StatusCode::OK);
    assert_eq!(cancelled.json()["state"], "cancelled");
    assert!(cancelled.json()["done_at"].is_string());
    let again = server.delete(&path, SHOP_A).await;
    assert!(
        again.problem(409, "not-cancellable")["detail"]
            .as_str()
            .unwrap()
            .contains("cancelled")
    );

    let unknown = format!("/v1/messages/{}", MessageId::generate());
    server.get(&unknown, ADMIN).await.problem(404, "not-found");
    server
        .delete(&unknown, ADMIN)
        .await
        .problem(404, "not-found");
    server
        .get("/v1/messages/not-an-id", ADMIN)
        .await
        .problem(404, "not-found");
    server.stop().await;
}

#[tokio::test]
async fn idempotency_key_replays_or_conflicts() {
    let server = start(config(), MemoryIntake::default()).await;
    let body = serde_json::to_vec(&sms("+358401234567", "once")).unwrap();
    let key = [("idempotency-key", "order-17-reminder")];
    let first = server
        .post_raw("/v1/messages", Some(SHOP_A), &key, body.clone())
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let again = server
        .post_raw("/v1/messages", Some(SHOP_A), &key, body.clone())
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body, first.body, "replayed byte for byte");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(server.intake.accept_calls(), [1]);

    let other = serde_json::to_vec(&sms("+358401234567", "twice")).unwrap();
    server
        .post_raw("/v1/messages", Some(SHOP_A), &key, other)
        .await
        .problem(409, "idempotency-conflict");
    assert_eq!(server.intake.accept_calls(), [1]);

    // Keys are per owner: shop B's same key is a new message.
    let b = server
        .post_raw("/v1/messages", Some(SHOP_B), &key, body)
        .await;
    assert_eq!(b.status, StatusCode::ACCEPTED);
    assert_ne!(b.json()["id"], first.json()["id"]);
    assert_eq!(server.intake.accept_calls(), [1, 1]);
    server.stop().await;
}

#[tokio::test]
async fn idempotency_race_lost_in_accept_replays_or_conflicts() {
    let server = start(config(), MemoryIntake::default()).await;
    let body = serde_json::to_vec(&sms("+358401234567", "once")).unwrap();
    let key = [("idempotency-key", "k1")];
    let first = server
        .post_raw("/v1/messages", Some(SHOP_A), &key, body.clone())
        .await;
    // The lookup misses (the winner's write not yet visible); accept reports the record.
    server.intake.hide_keys.store(true, Ordering::SeqCst);
    let replay = server
        .post_raw("/v1/messages", Some(SHOP_A), &key, body)
        .await;
    assert_eq!(replay.status, StatusCode::ACCEPTED);
    assert_eq!(replay.body, first.body);
    let other = serde_json::to_vec(&sms("+358401234567", "else")).unwrap();
    server
        .post_raw("/v1/messages", Some(SHOP_A), &key, other)
        .await
        .problem(409, "idempotency-conflict");
    assert_eq!(server.intake.stored(), 1);
    server.stop().await;
}

#[tokio::test]
async fn batch_idempotency_replays_the_whole_answer() {
    let server = start(config(), MemoryIntake::default()).await;
    let body = serde_json::to_vec(&json!({ "messages": [sms("+3581", "bad")] })).unwrap();
    let key = [("idempotency-key", "batch-1")];
    let first = server
        .post_raw("/v1/messages/batch", Some(ADMIN), &key, body.clone())
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    // No valid entry, but the record is kept so that a retry gets the same answer.
    assert_eq!(server.intake.accept_calls(), [0]);
    let again = server
        .post_raw("/v1/messages/batch", Some(ADMIN), &key, body)
        .await;
    assert_eq!(again.body, first.body);
    assert_eq!(server.intake.accept_calls(), [0]);
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_get_their_problem_type_and_write_nothing() {
    let server = start(config(), MemoryIntake::default()).await;
    let to = "+358401234567";
    // (body, expected status, type, field)
    let cases: Vec<(Vec<u8>, u16, &str, Option<&str>)> = vec![
        (
            b"{\"to\": \"+358401234567\", \"text\": ".to_vec(),
            400,
            "invalid-json",
            None,
        ),
        (b"not json".to_vec(), 400, "invalid-json", None),
        (
            json!({ "to": 358401234567u64, "text": "x" })
                .to_string()
                .into(),
            422,
            "invalid-field",
            Some("to"),
        ),
        (
            json!({ "to": to, "text": ["x"] }).to_string().into(),
            422,
            "invalid-field",
            Some("text"),
        ),
        (
            json!({ "to": to, "text": "x", "receipt": "yes" })
                .to_string()
                .into(),
            422,
            "invalid-field",
            Some("receipt"),
        ),
        (
            json!({ "to": to }).to_string().into(),
            422,
            "invalid-field",
            Some("text"),
        ),
        (
            json!({ "to": to, "text": "x", "sender": "Shop" })
                .to_string()
                .into(),
            422,
            "unknown-field",
            Some("sender"),
        ),
        (
            json!({ "to": to, "text": "" }).to_string().into(),
            422,
            "empty-text",
            Some("text"),
        ),
        (
            json!({ "to": to, "text": "a".repeat(10_000) })
                .to_string()
                .into(),
            422,
            "text-too-long",
            Some("text"),
        ),
        (
            json!({ "to": "+3581", "text": "x" }).to_string().into(),
            422,
            "invalid-phone",
            Some("to"),
        ),
        (
            json!({ "to": "+35891234567", "text": "x" })
                .to_string()
                .into(),
            422,
            "invalid-phone",
            Some("to"),
        ),
        (
            json!({ "to": to, "text": "x", "carrier": "nope" })
                .to_string()
                .into(),
            422,
            "unknown-carrier",
            Some("carrier"),
        ),
        (
            json!({ "to": to, "text": "x", "priority": 4 })
                .to_string()
                .into(),
            422,
            "invalid-field",
            Some("priority"),
        ),
        (
            json!({ "to": to, "text": "x", "validity": "80h" })
                .to_string()
                .into(),
            422,
            "invalid-field",
            Some("validity"),
        ),
        (
            json!({ "to": to, "text": "x", "send_at": "next tuesday" })
                .to_string()
                .into(),
            422,
            "invalid-field",
            Some("send_at"),
        ),
        (
            json!({ "to": to, "text": "x", "encoding": "utf8" })
                .to_string()
                .into(),
            422,
            "invalid-field",
            Some("encoding"),
        ),
        (json!([]).to_string().into(), 422, "invalid-field", None),
    ];
    for (body, status, kind, field) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        let reply = server
            .post_raw("/v1/messages", Some(ADMIN), &[], body)
            .await;
        let p = reply.problem(status, kind);
        assert_eq!(p["field"].as_str(), field, "{shown}: {p}");
        if kind == "text-too-long" {
            assert!(p["detail"].as_str().unwrap().contains("66 segments"), "{p}");
        }
    }

    let valid = serde_json::to_vec(&sms(to, "x")).unwrap();
    let missing = server
        .post_raw("/v1/messages", None, &[], valid.clone())
        .await;
    missing.problem(401, "unauthorized");
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    let wrong = server
        .post_raw("/v1/messages", Some("shop-a-tokeN"), &[], valid.clone())
        .await;
    wrong.problem(401, "unauthorized");
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));
    server
        .post_raw(
            "/v1/messages",
            None,
            &[("authorization", "Basic YWRtaW46eA==")],
            valid.clone(),
        )
        .await
        .problem(401, "unauthorized");
    let plain = server
        .request(
            Method::POST,
            "/v1/messages",
            Some(ADMIN),
            &[("content-type", "text/plain")],
            None,
        )
        .await;
    plain.problem(415, "unsupported-media-type");
    let bad_key = [("idempotency-key", "")];
    let p = server
        .post_raw("/v1/messages", Some(ADMIN), &bad_key, valid)
        .await
        .problem(422, "invalid-field");
    assert_eq!(p["field"], "Idempotency-Key");
    server
        .get("/v1/nothing", ADMIN)
        .await
        .problem(404, "not-found");
    server
        .request(Method::PUT, "/v1/messages", Some(ADMIN), &[], None)
        .await
        .problem(405, "method-not-allowed");
    server.assert_no_write();
    server.stop().await;
}

#[tokio::test]
async fn overloaded_outbox_answers_503_with_retry_after() {
    let intake = MemoryIntake::default();
    intake.backlog.store(100, Ordering::SeqCst);
    let server = start(config(), intake).await;
    let reply = server
        .post("/v1/messages", ADMIN, &sms("+358401234567", "x"))
        .await;
    reply.problem(503, "overloaded");
    assert_eq!(reply.header("retry-after"), Some("5"));
    let batch = json!({ "messages": [sms("+358401234567", "x")] });
    server
        .post("/v1/messages/batch", ADMIN, &batch)
        .await
        .problem(503, "overloaded");
    server.assert_no_write();
    server.stop().await;
}

#[tokio::test]
async fn store_failure_is_503_without_its_cause() {
    let intake = MemoryIntake::default();
    intake.store_broken.store(true, Ordering::SeqCst);
    let server = start(config(), intake).await;
    let reply = server
        .post("/v1/messages", ADMIN, &sms("+358401234567", "x"))
        .await;
    let p = reply.problem(503, "store-unavailable");
    let text = String::from_utf8_lossy(&reply.body);
    assert!(!text.contains("sled") && !text.contains("/var/lib"), "{p}");
    server.assert_no_write();
    server.stop().await;
}

#[tokio::test]
async fn health_and_readiness() {
    let server = start(config(), MemoryIntake::default()).await;
    let health = server
        .request(Method::GET, "/healthz", None, &[], None)
        .await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json(), json!({ "status": "ok" }));
    let ready = server
        .request(Method::GET, "/readyz", None, &[], None)
        .await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["down"], json!([]));

    server
        .intake
        .carriers_down
        .lock()
        .unwrap()
        .push("elisa".into());
    let ready = server
        .request(Method::GET, "/readyz", None, &[], None)
        .await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = ready.json();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["down"], json!(["elisa"]));
    assert_eq!(body["carriers"][1]["reason"], "bind refused");
    server.stop().await;
}

/// Writes `head`, then `body` from another task (the server may answer before reading it
/// all), and returns the status and the body of the answer.
pub(crate) async fn raw_exchange(addr: SocketAddr, head: String, body: Vec<u8>) -> (u16, Value) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    write.write_all(head.as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        // The server may close before taking everything: errors here are expected.
        let _ = write.write_all(&body).await;
        write
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(GUARD, read.read(&mut buf))
            .await
            .expect("no answer")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if let Some(parsed) = parse_answer(&answer) {
            writer.abort();
            return parsed;
        }
    }
    parse_answer(&answer)
        .unwrap_or_else(|| panic!("incomplete answer: {:?}", String::from_utf8_lossy(&answer)))
}

/// A whole HTTP/1.1 answer with Content-Length: its status and JSON body.
fn parse_answer(raw: &[u8]) -> Option<(u16, Value)> {
    let text = std::str::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.get(9..12)?.parse().ok()?;
    let len: usize = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })?;
    (body.len() >= len).then(|| (status, serde_json::from_str(&body[..len]).unwrap()))
}

#[tokio::test]
async fn body_over_one_mib_is_413() {
    let server = start(config(), MemoryIntake::default()).await;
    let text = "a".repeat(2 * 1024 * 1024);
    let body = serde_json::to_vec(&sms("+358401234567", &text)).unwrap();
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: kori\r\nauthorization: Bearer {ADMIN}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let (status, problem) = raw_exchange(server.addr, head, body).await;
    assert_eq!(status, 413);
    assert_eq!(problem["type"], "payload-too-large");
    server.assert_no_write();
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn body_that_never_completes_is_408() {
    let server = start(config(), MemoryIntake::default()).await;
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: kori\r\nauthorization: Bearer {ADMIN}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n"
    );
    // Ten bytes of a hundred, then silence: the paused clock runs to `request_timeout`.
    let (status, problem) = raw_exchange(server.addr, head, b"{\"to\": \"+3".to_vec()).await;
    assert_eq!(status, 408);
    assert_eq!(problem["type"], "timeout");
    server.assert_no_write();
    server.stop().await;
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_progress() {
    let intake = MemoryIntake {
        gate: Some((Notify::new(), Notify::new())),
        ..MemoryIntake::default()
    };
    let server = start(config(), intake).await;
    let addr = server.addr;
    let body = serde_json::to_vec(&sms("+358401234567", "in flight")).unwrap();
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: kori\r\nauthorization: Bearer {ADMIN}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let in_flight = tokio::spawn(raw_exchange(addr, head, body));
    let (entered, release) = server.intake.gate.as_ref().unwrap();
    entered.notified().await;
    server.cancel.cancel();
    release.notify_one();
    let (status, answer) = in_flight.await.unwrap();
    assert_eq!(status, 202);
    assert_eq!(answer["state"], "queued");
    tokio::time::timeout(GUARD, server.task)
        .await
        .expect("serve did not return")
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}

#[tokio::test(start_paused = true)]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let server = start(
        HttpConfig {
            max_connections: 1,
            ..config()
        },
        MemoryIntake::default(),
    )
    .await;
    let mut holder = TcpStream::connect(server.addr).await.unwrap();
    holder
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: kori\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = holder.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // `holder` keeps its connection (and the only permit) open.
    let waiting = tokio::spawn(raw_exchange(
        server.addr,
        "GET /healthz HTTP/1.1\r\nhost: kori\r\n\r\n".into(),
        Vec::new(),
    ));
    // Paused clock: this runs idle time forward 5 s, short of `request_timeout` (10 s), after
    // which the holder's idle connection would be closed by the server.
    let mut waiting = waiting;
    let early = tokio::time::timeout(Duration::from_secs(5), &mut waiting).await;
    assert!(early.is_err(), "served beyond the connection cap");
    drop(holder);
    let (status, body) = waiting.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "status": "ok" }));
    server.stop().await;
}
