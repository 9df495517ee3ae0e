//! Delivery callbacks end to end: the daemon (store, a carrier bound to the simulator, the
//! outbox, HTTP intake) POSTs each state change of a message to a receiver in the test, which
//! fails on command and records every request.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use kori::app::{Daemon, DaemonConfig, StoreLocation};
use kori::client;
use kori::clock::Clock;
use kori::config::Secret;
use kori::outbox::{MessageId, MessageState};
use kori::sim::{Sim, SimConfig};
use kori::smpp::CarrierConfig;
use kori::store::{CallbackRecord, Store};
use serde_json::{Value, json};
use sha2::Sha256;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

const TOKEN: &str = "callbacks-test-admin-token";
const KEY: &str = "whsec-callbacks-test";
/// Guard against hangs only (paused time: a hang reaches it at once).
const GUARD: Duration = Duration::from_secs(4 * 3600);

/// One request the receiver got.
#[derive(Debug)]
struct Seen {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn state(&self) -> String {
        self.json()["state"].as_str().unwrap().to_owned()
    }
}

struct ReceiverState {
    /// Requests so far.
    count: AtomicUsize,
    /// Requests below this count are answered 500.
    fail_below: AtomicUsize,
    seen: mpsc::UnboundedSender<Seen>,
}

/// An HTTP server on 127.0.0.1 that answers 500 to its first `fail_below` requests, 200 after.
struct Receiver {
    addr: SocketAddr,
    state: Arc<ReceiverState>,
    seen: mpsc::UnboundedReceiver<Seen>,
    task: JoinHandle<()>,
    https: bool,
}

impl Receiver {
    async fn start(fail_below: usize) -> Self {
        Self::start_with(fail_below, None).await
    }

    /// As `start`, speaking TLS with `tls` (see [`TestPki`]).
    async fn start_tls(fail_below: usize, tls: tokio_rustls::TlsAcceptor) -> Self {
        Self::start_with(fail_below, Some(tls)).await
    }

    async fn start_with(fail_below: usize, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let (tx, seen) = mpsc::unbounded_channel();
        let state = Arc::new(ReceiverState {
            count: AtomicUsize::new(0),
            fail_below: AtomicUsize::new(fail_below),
            seen: tx,
        });
        let app = Router::new()
            .route("/cb", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let https = tls.is_some();
        let task = match tls {
            None => tokio::spawn(async move {
                axum::serve(listener, app).await.unwrap();
            }),
            Some(tls) => tokio::spawn(async move {
                loop {
                    let (tcp, _) = listener.accept().await.unwrap();
                    let (tls, app) = (tls.clone(), app.clone());
                    tokio::spawn(async move {
                        // A client that refuses the certificate ends the handshake.
                        let Ok(stream) = tls.accept(tcp).await else {
                            return;
                        };
                        let service = hyper_util::service::TowerToHyperService::new(app);
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            }),
        };
        Self {
            addr,
            state,
            seen,
            task,
            https,
        }
    }

    fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}/cb", self.addr)
    }

    async fn next(&mut self) -> Seen {
        timeout(GUARD, self.seen.recv())
            .await
            .expect("a callback within the guard")
            .expect("the receiver runs")
    }

    /// Requests until (and with) the `n`-th answered 200.
    async fn until_delivered(&mut self, n: usize) -> Vec<Seen> {
        let mut all = Vec::new();
        let mut ok = 0;
        while ok < n {
            let seen = self.next().await;
            ok += usize::from(seen.status == 200);
            all.push(seen);
        }
        all
    }

    /// Whatever else arrived.
    fn rest(&mut self) -> Vec<Seen> {
        let mut rest = Vec::new();
        while let Ok(seen) = self.seen.try_recv() {
            rest.push(seen);
        }
        rest
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let n = state.count.fetch_add(1, Ordering::SeqCst);
    let status = if n < state.fail_below.load(Ordering::SeqCst) {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    let _ = state.seen.send(Seen {
        status: status.as_u16(),
        headers,
        body,
        at: Instant::now(),
    });
    status
}

async fn start_daemon(sim: &Sim, store: StoreLocation) -> Daemon {
    start_daemon_trusting(sim, store, kori::client::TrustedCas::default()).await
}

/// As `start_daemon`, trusting `cas` for https callbacks besides the system's roots.
async fn start_daemon_trusting(
    sim: &Sim,
    store: StoreLocation,
    cas: kori::client::TrustedCas,
) -> Daemon {
    let carrier = CarrierConfig::new("sim", "127.0.0.1", sim.addr().port());
    let mut config = DaemonConfig::local(store, "admin", TOKEN, vec![carrier]);
    config.outbox.callback_secret = Secret::new(KEY);
    config.outbox.callback_cas = cas;
    let daemon = Daemon::start(config, Clock::system()).await.unwrap();
    let carrier = daemon.outbox().router().carriers()[0].clone();
    timeout(GUARD, carrier.wait_up()).await.unwrap();
    daemon
}

async fn send(daemon: &Daemon, callback_url: &str) -> MessageId {
    let body = json!({
        "to": "+358401234567",
        "from": "Shop",
        "text": "Your order is on its way",
        "reference": "order-1042",
        "callback_url": callback_url,
    });
    let url = format!("http://{}/v1/messages", daemon.http_addr());
    let (status, answer) = client::post_json(&url, TOKEN, &body).await.unwrap();
    assert_eq!(status, 202, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    answer["id"].as_str().unwrap().parse().unwrap()
}

/// Checks `Kori-Signature: t=<unix>,v1=<hex>` against the body, as a receiver would.
fn assert_signed(seen: &Seen) {
    let header = seen.headers["kori-signature"].to_str().unwrap();
    let (t, v1) = header
        .split_once(',')
        .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("malformed Kori-Signature: {header}"));
    let t: i64 = t.parse().unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&seen.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expected, "signature of {:?}", seen.body);
    // The signing time is when it was sent, not before the change it reports.
    let at: jiff::Timestamp = seen.json()["at"].as_str().unwrap().parse().unwrap();
    assert!(t >= at.as_second(), "t={t} before at={at}");
}

#[tokio::test(start_paused = true)]
async fn each_state_change_is_posted_once_in_order_signed_after_retries() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let daemon = start_daemon(&sim, StoreLocation::Temporary).await;
    let mut receiver = Receiver::start(3).await;
    let id = send(&daemon, &receiver.url()).await;

    let seen = receiver.until_delivered(3).await;
    daemon.stop().await;
    sim.shutdown().await;
    let mut seen = seen;
    seen.extend(receiver.rest());

    // The store records a callback for every change after acceptance (queued is where a
    // message starts, not a change): queued → submitting → submitted → delivered.
    let log: Vec<(u16, String)> = seen.iter().map(|s| (s.status, s.state())).collect();
    let expected: Vec<(u16, String)> = [
        (500, "submitting"),
        (500, "submitting"),
        (500, "submitting"),
        (200, "submitting"),
        (200, "submitted"),
        (200, "delivered"),
    ]
    .iter()
    .map(|(s, st)| (*s, (*st).to_owned()))
    .collect();
    assert_eq!(log, expected, "the receiver's log");

    // Backoff with equal jitter: at least 5 s, 10 s, 20 s between the tries of the first.
    for (i, least) in [5, 10, 20].into_iter().enumerate() {
        let gap = seen[i + 1].at - seen[i].at;
        assert!(gap >= Duration::from_secs(least), "try {}: {gap:?}", i + 2);
    }

    let mut ats = Vec::new();
    for s in &seen {
        assert_signed(s);
        assert_eq!(s.headers["content-type"], "application/json");
        let agent = s.headers["user-agent"].to_str().unwrap();
        assert!(agent.starts_with("kori/"), "{agent}");
        let body = s.json();
        assert_eq!(body["id"], id.to_string());
        assert_eq!(body["reference"], "order-1042");
        let parts = body["parts"].as_array().unwrap();
        assert_eq!(parts.len(), 1, "{body}");
        ats.push(body["at"].as_str().unwrap().to_owned());
    }
    // Retries of one change carry its time; later changes are later.
    assert!(ats[..4].iter().all(|a| *a == ats[0]), "{ats:?}");
    let times: Vec<jiff::Timestamp> = ats[3..].iter().map(|a| a.parse().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{ats:?}");

    let last = seen[5].json();
    assert_eq!(last["parts"][0]["state"], "delivered");
    assert!(last["parts"][0]["carrier_message_id"].is_string(), "{last}");
    assert!(last.get("error").is_none(), "{last}");
}

#[tokio::test(start_paused = true)]
async fn callbacks_pending_at_stop_are_sent_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let mut receiver = Receiver::start(usize::MAX).await;

    let daemon = start_daemon(&sim, StoreLocation::Path(path.clone())).await;
    let mut changes = daemon.outbox().subscribe();
    let id = send(&daemon, &receiver.url()).await;
    let failed = receiver.next().await;
    assert_eq!((failed.status, failed.state()), (500, "submitting".into()));
    loop {
        let change = timeout(GUARD, changes.recv()).await.unwrap().unwrap();
        if change.id == id && change.to == MessageState::Delivered {
            break;
        }
    }
    daemon.stop().await;
    let first = first_pending(&path)
        .await
        .expect("callbacks pending at stop");
    assert_eq!((first.seq, first.state), (0, MessageState::Submitting));
    assert!(first.attempt >= 1, "{first:?}");

    receiver.state.fail_below.store(0, Ordering::SeqCst);
    let daemon = start_daemon(&sim, StoreLocation::Path(path.clone())).await;
    let seen = receiver.until_delivered(3).await;
    daemon.stop().await;
    let mut seen = seen;
    seen.extend(receiver.rest());
    let states: Vec<(u16, String)> = seen.iter().map(|s| (s.status, s.state())).collect();
    let failed_before_stop = states.iter().take_while(|(s, _)| *s == 500).count();
    assert_eq!(
        states[failed_before_stop..],
        [
            (200, "submitting".to_owned()),
            (200, "submitted".to_owned()),
            (200, "delivered".to_owned())
        ],
        "{states:?}"
    );
    assert!(
        states[..failed_before_stop]
            .iter()
            .all(|(_, st)| st == "submitting"),
        "only the first callback is tried while it fails: {states:?}"
    );
    for s in &seen {
        assert_signed(s);
    }
    assert_eq!(first_pending(&path).await, None);
    sim.shutdown().await;
}

/// The first callback left in the store at `path` (the daemon stopped), due or not.
async fn first_pending(path: &Path) -> Option<CallbackRecord> {
    let store = Store::open(path).unwrap();
    let first = store.callbacks_due(i64::MAX, 1).unwrap().pop();
    store.close().await.unwrap();
    first
}

/// A certificate authority and a server certificate for 127.0.0.1 it signed, made for a test.
struct TestPki {
    ca_pem: String,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl TestPki {
    fn new() -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Kori test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![server.der().clone()], key)
        .unwrap();
        Self {
            ca_pem: ca.pem(),
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        }
    }
}

/// Regression: `https://` callback URLs were given up at once (no TLS client). A receiver
/// whose certificate the configured CA signed gets every callback; one that Kori cannot
/// verify gets none, and the callback is kept for retries, not given up.
#[tokio::test(start_paused = true)]
async fn https_callbacks_go_to_receivers_kori_can_verify() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("callback-ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let sim = Sim::start(SimConfig::default()).await.unwrap();

    let cas = kori::client::TrustedCas::from_pem_file(&ca_file).unwrap();
    let daemon = start_daemon_trusting(&sim, StoreLocation::Temporary, cas).await;
    let mut receiver = Receiver::start_tls(0, pki.acceptor.clone()).await;
    assert!(receiver.url().starts_with("https://127.0.0.1:"));
    let id = send(&daemon, &receiver.url()).await;
    let seen = receiver.until_delivered(3).await;
    let states: Vec<String> = seen.iter().map(Seen::state).collect();
    assert_eq!(states, ["submitting", "submitted", "delivered"]);
    for s in &seen {
        assert_signed(s);
        assert_eq!(s.json()["id"], id.to_string());
    }
    daemon.stop().await;

    // The same receiver, without the CA: the handshake fails and nothing is delivered.
    let store = dir.path().join("store");
    let daemon = start_daemon(&sim, StoreLocation::Path(store.clone())).await;
    let mut changes = daemon.outbox().subscribe();
    let id = send(&daemon, &receiver.url()).await;
    loop {
        let change = timeout(GUARD, changes.recv()).await.unwrap().unwrap();
        if change.id == id && change.to == MessageState::Delivered {
            break;
        }
    }
    daemon.stop().await;
    assert!(
        receiver.rest().is_empty(),
        "an unverified receiver got a callback"
    );
    let first = first_pending(&store)
        .await
        .expect("the callback is kept for retries");
    assert_eq!(first.state, MessageState::Submitting);
    sim.shutdown().await;
}
