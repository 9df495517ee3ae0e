//! The SIGKILL suite (design.md "Messages (outbox)", durability): a real `korid run` child
//! under HTTP load is killed with SIGKILL, restarted on the same store, and every message that
//! was answered 202 must still be there and reach a terminal state. Duplicates at the SMSC are
//! allowed only for messages whose fate was unknown at the kill (the carrier is at-least-once).
//!
//! The simulator runs in this process and outlives both children. Waiting on the child uses
//! bounded polls with short timeouts (style.md §7 allows it only for another process); every
//! wait has a deadline, and the whole test stays well under a minute.

use kori::client;
use kori::sim::{IdStyle, Sim, SimConfig, SimEvent};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::time::{Instant, sleep, timeout};

const TOKEN: &str = "crash-test-admin-token-0123456789";
const SESSIONS: u64 = 2;
const WINDOW: u64 = 50;
/// Concurrent HTTP posters.
const POSTERS: usize = 24;
/// Accepted messages after which the child is killed (or after `LOAD_AT_MOST`).
const KILL_AFTER_ACCEPTED: u64 = 400;
const LOAD_AT_MOST: Duration = Duration::from_secs(3);
/// With `sigkill_after_a_materialization…`, load lasts at least this long before the kill: past
/// the store's materialization period (1 s), so that the kill finds writes both in the trees
/// and only in the journal (some of them kept in memory over a materialization and journaled
/// again).
const LOAD_AT_LEAST: Duration = Duration::from_millis(1_600);
/// How long a child may take to answer `/healthz`.
const START_WITHIN: Duration = Duration::from_secs(8);
/// How long every acknowledged message may take to reach a terminal state after the restart.
const SETTLE_WITHIN: Duration = Duration::from_secs(30);
/// One HTTP request, so that a wedged child turns into a failure, not a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between two looks at the other process (it cannot notify us).
const POLL: Duration = Duration::from_millis(25);

const TERMINAL: &[&str] = &[
    "delivered",
    "undeliverable",
    "expired",
    "rejected",
    "failed",
    "unknown",
    "cancelled",
];

/// One accepted `submit_sm` the simulator saw for a crash-test text.
#[derive(Debug, Clone)]
struct SeenSubmit {
    connection: u64,
    message_id: String,
}

/// What the simulator accepted, per text number.
#[derive(Default)]
struct Seen {
    by_text: HashMap<u64, Vec<SeenSubmit>>,
    lagged: bool,
}

/// A file holding a secret, mode 0600 as korid requires.
fn write_secret(path: &Path, secret: &str) {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    writeln!(file, "{secret}").unwrap();
}

/// A port nobody listens on right now (the child binds it; nothing else on loopback should).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn write_config(dir: &Path, http: SocketAddr, sim: SocketAddr) -> PathBuf {
    let token = dir.join("admin.token");
    let password = dir.join("carrier.password");
    write_secret(&token, TOKEN);
    write_secret(&password, "secret");
    let config = dir.join("kori.toml");
    let text = format!(
        r#"
[store]
path = "{store}"

[http]
listen = "{http}"

[[token]]
name = "admin"
file = "{token}"
scope = "admin"

[[carrier]]
name = "sim"
host = "127.0.0.1"
port = {sim_port}
system_id = "crash"
password_file = "{password}"
sessions = {SESSIONS}
window = {WINDOW}
tps = 100000
dlr_id = "dec"
reconnect_initial = "100ms"
reconnect_max = "500ms"
"#,
        store = dir.join("store").display(),
        token = token.display(),
        password = password.display(),
        sim_port = sim.port(),
    );
    fs::write(&config, text).unwrap();
    config
}

/// Starts `korid run --config PATH`, stderr appended to `log`, and waits for `/healthz`.
async fn start_korid(config: &Path, log: &Path, http: SocketAddr) -> Child {
    let stderr = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_korid"))
        .arg("run")
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://{http}/healthz");
    let deadline = Instant::now() + START_WITHIN;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("korid exited with {status}:\n{}", log_tail(log));
        }
        if let Ok(Ok((200, _))) = timeout(Duration::from_millis(500), client::get(&url, "")).await {
            return child;
        }
        assert!(
            Instant::now() < deadline,
            "korid did not answer /healthz within {START_WITHIN:?}:\n{}",
            log_tail(log)
        );
        sleep(POLL).await;
    }
}

fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The number in a crash-test text.
fn text_number(text: &str) -> Option<u64> {
    text.strip_prefix("crash-test ")?.parse().ok()
}

/// Reads the simulator's events into `seen`; `count` tells how many submit events were read.
async fn collect(
    mut events: kori::sim::SimEvents,
    seen: Arc<Mutex<Seen>>,
    count: watch::Sender<u64>,
) {
    while let Some(event) = events.recv().await {
        match event {
            SimEvent::Submit(s) => {
                if s.answered && s.status.is_ok() {
                    if let Some(n) = s.text.as_deref().and_then(text_number) {
                        seen.lock()
                            .unwrap()
                            .by_text
                            .entry(n)
                            .or_default()
                            .push(SeenSubmit {
                                connection: s.connection,
                                message_id: s.message_id.clone(),
                            });
                    }
                }
                count.send_modify(|c| *c += 1);
            }
            SimEvent::Lagged { .. } => seen.lock().unwrap().lagged = true,
            _ => {}
        }
    }
}

/// Posts `crash-test <n>` messages until `stop`; every (id, n) answered 202 goes in `accepted`.
async fn poster(
    base: String,
    next: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    accepted: Arc<Mutex<Vec<(String, u64)>>>,
    progress: watch::Sender<u64>,
) -> (u64, u64) {
    let (mut refused, mut failed) = (0, 0);
    while !stop.load(Ordering::SeqCst) {
        let n = next.fetch_add(1, Ordering::SeqCst);
        let body = json!({
            "to": format!("+35840{:07}", n),
            "from": "Crash",
            "text": format!("crash-test {n}"),
        });
        let url = format!("{base}/v1/messages");
        match timeout(REQUEST_TIMEOUT, client::post_json(&url, TOKEN, &body)).await {
            Ok(Ok((202, answer))) => {
                let answer: Value = serde_json::from_str(&answer).unwrap();
                let id = answer["id"].as_str().unwrap().to_owned();
                accepted.lock().unwrap().push((id, n));
                progress.send_modify(|c| *c += 1);
            }
            Ok(Ok((status, answer))) => {
                assert_eq!(status, 503, "unexpected answer {status}: {answer}");
                refused += 1;
            }
            // Connection refused or reset by the kill: not acknowledged, need not survive.
            Ok(Err(_)) | Err(_) => failed += 1,
        }
    }
    (refused, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_no_accepted_message() {
    sigkill_under_load(None).await;
}

/// As above, with the load going on past the store's first materialization before the kill,
/// so that thousands of receipts are owed (scheduled, or written and unanswered) when the
/// connections drop. Regression: the simulator dropped a receipt whose write failed because
/// the client was gone, and those messages stayed `submitted`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_after_a_materialization_loses_no_accepted_message() {
    sigkill_under_load(Some(LOAD_AT_LEAST)).await;
}

async fn sigkill_under_load(load_at_least: Option<Duration>) {
    let started = Instant::now();
    let sim = Sim::start(SimConfig {
        message_ids: IdStyle::Decimal,
        receipt_delay: Duration::from_millis(200),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    // Subscribed before any child exists, so no submit goes unseen.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (submits_tx, mut submits_read) = watch::channel(0u64);
    tokio::spawn(collect(sim.subscribe(), seen.clone(), submits_tx));

    let dir = tempfile::Builder::new()
        .prefix("kori-crash-")
        .tempdir()
        .unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = write_config(dir.path(), http, sim.addr());
    let log = dir.path().join("korid.log");
    let base = format!("http://{http}");

    // First run: load, then SIGKILL while requests are in flight.
    let mut child = start_korid(&config, &log, http).await;
    let load_started = Instant::now();
    let next = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let (progress_tx, mut progress) = watch::channel(0u64);
    let posters: Vec<_> = (0..POSTERS)
        .map(|_| {
            tokio::spawn(poster(
                base.clone(),
                next.clone(),
                stop.clone(),
                accepted.clone(),
                progress_tx.clone(),
            ))
        })
        .collect();
    drop(progress_tx);
    let _ = timeout(
        LOAD_AT_MOST,
        progress.wait_for(|n| *n >= KILL_AFTER_ACCEPTED),
    )
    .await;
    if let Some(at_least) = load_at_least {
        // Not a synchronisation: the load goes on for its minimum duration.
        sleep(at_least.saturating_sub(load_started.elapsed())).await;
    }
    child.start_kill().unwrap();
    stop.store(true, Ordering::SeqCst);
    let status = child.wait().await.unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "korid should have died of SIGKILL: {status}"
    );
    let (mut refused, mut failed) = (0, 0);
    for p in posters {
        let (r, f) = p.await.unwrap();
        refused += r;
        failed += f;
    }
    // Every connection up to here was the first child's; the second child's come after.
    let first_run_connections = sim.stats().connections;
    let accepted = std::mem::take(&mut *accepted.lock().unwrap());
    let submits_at_kill = sim.stats().submits_accepted;
    assert!(!accepted.is_empty(), "nothing was accepted before the kill");

    // Second run on the same store.
    let mut child = start_korid(&config, &log, http).await;
    let mut open: HashMap<String, u64> = accepted.iter().cloned().collect();
    let mut final_state: HashMap<String, Value> = HashMap::new();
    let deadline = Instant::now() + SETTLE_WITHIN;
    while !open.is_empty() {
        let mut settled = Vec::new();
        for id in open.keys() {
            let url = format!("{base}/v1/messages/{id}");
            let (status, body) = timeout(REQUEST_TIMEOUT, client::get(&url, TOKEN))
                .await
                .unwrap()
                .unwrap();
            assert_ne!(status, 404, "message {id} was answered 202 and is lost");
            assert_eq!(status, 200, "GET {id}: {body}");
            let message: Value = serde_json::from_str(&body).unwrap();
            if TERMINAL.contains(&message["state"].as_str().unwrap()) {
                settled.push((id.clone(), message));
            }
        }
        for (id, message) in settled {
            open.remove(&id);
            final_state.insert(id, message);
        }
        if open.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            let mut stuck: Vec<String> = Vec::new();
            for id in open.keys().take(10) {
                let url = format!("{base}/v1/messages/{id}");
                let (_, body) = client::get(&url, TOKEN).await.unwrap();
                stuck.push(body);
            }
            panic!(
                "{} of {} acknowledged messages not terminal after {SETTLE_WITHIN:?}, e.g.:\n{}\nsimulator: {:?}\nkorid log:\n{}",
                open.len(),
                accepted.len(),
                stuck.join("\n"),
                sim.stats(),
                log_tail(&log)
            );
        }
        sleep(POLL * 4).await;
    }

    // Every submit the simulator answered has been read by the collector.
    let received = sim.stats().submits_received;
    timeout(
        Duration::from_secs(5),
        submits_read.wait_for(|n| *n >= received),
    )
    .await
    .unwrap()
    .unwrap();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(!seen.lagged, "the event collector fell behind");

    // Duplicates: at most one accepted submit per run, and a second one only for a message
    // whose first was sent before the kill and whose outcome was not on disk (fate unknown).
    let mut duplicates = Vec::new();
    let mut delivered = 0;
    for (id, n) in &accepted {
        let message = &final_state[id];
        let state = message["state"].as_str().unwrap();
        if state == "delivered" {
            delivered += 1;
        }
        let submits = seen.by_text.get(n).cloned().unwrap_or_default();
        let (before, after): (Vec<_>, Vec<_>) = submits
            .iter()
            .partition(|s| s.connection <= first_run_connections);
        assert!(
            before.len() <= 1,
            "{id} (text {n}) submitted {} times before the kill",
            before.len()
        );
        assert!(
            after.len() <= 1,
            "{id} (text {n}) submitted {} times after the restart",
            after.len()
        );
        if state == "delivered" {
            assert!(!submits.is_empty(), "{id} delivered but never submitted");
        }
        if submits.len() > 1 {
            // The second submit is the one recorded, and Kori knew it was an attempt again.
            let recorded = message["parts"][0]["carrier_message_id"].as_str();
            assert_eq!(recorded, Some(after[0].message_id.as_str()), "{message}");
            assert!(message["attempts"].as_u64().unwrap() >= 2, "{message}");
            duplicates.push(*n);
        }
    }
    let in_flight_bound = SESSIONS * WINDOW;
    eprintln!(
        "crash test: {} accepted before SIGKILL ({} requests failed at the kill, {} refused 503), \
         {} submits accepted by the SMSC before the kill; after restart: {} delivered, {} other \
         terminal, {} duplicates (bound {in_flight_bound} + 16); {:.1} s",
        accepted.len(),
        failed,
        refused,
        submits_at_kill,
        delivered,
        accepted.len() - delivered,
        duplicates.len(),
        started.elapsed().as_secs_f64(),
    );
    assert!(
        duplicates.len() as u64 <= in_flight_bound + 16,
        "{} duplicates, more than could have been in flight",
        duplicates.len()
    );
    // The simulator delivers every message it accepts: anything else is a message that lost
    // its way (a dropped receipt, a give-up after the restart).
    let others: Vec<&Value> = final_state
        .values()
        .filter(|m| m["state"] != "delivered")
        .take(5)
        .collect();
    assert_eq!(
        delivered,
        accepted.len(),
        "not delivered, e.g.: {others:#?}"
    );
    let log_text = fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !log_text.contains("panicked"),
        "korid panicked:\n{log_text}"
    );
    let unique: HashSet<u64> = accepted.iter().map(|(_, n)| *n).collect();
    assert_eq!(unique.len(), accepted.len(), "an id was answered twice");

    child.start_kill().unwrap();
    child.wait().await.unwrap();
}
