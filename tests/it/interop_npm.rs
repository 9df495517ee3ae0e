//! Interop: Kori's carrier sessions against an SMSC Kori's authors did not write, the one in
//! `tests/interop/smsc.js`, built on the npm `smpp` package (pinned in
//! `tests/interop/package-lock.json`, installed by `.ci/run`).
//!
//! The server is a separate process with wall-clock timers, so these tests run in real time;
//! every wait is on something the server or Kori reports, under a `timeout`.

use kori::config::Secret;
use kori::dlr::{receipt_keys, submit_key};
use kori::smpp::{Carrier, CarrierConfig, Event, MessageOutcome, OutMessage, SegmentOutcome};
use kori::smpp_proto::receipt::{FieldSource, IdFormat, MessageState, NormalizedId, match_keys};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Longest wait for anything the server or Kori should do promptly.
const PATIENCE: Duration = Duration::from_secs(15);

/// How long Kori's session waits for `unbind_resp` before closing anyway (session.rs).
const UNBIND_TIMEOUT: Duration = Duration::from_secs(5);

const SYSTEM_ID: &str = "kori";
const PASSWORD: &str = "s3cret";

/// `tests/interop`, when node and the npm `smpp` package are there to run the server (see
/// [`crate::interop::installed_or_skip`]).
fn npm_smsc_dir() -> Option<PathBuf> {
    crate::interop::installed_or_skip(
        "node",
        "node_modules/smpp/package.json",
        "npm ci --prefix tests/interop",
    )
}

/// The node SMSC, and what it has said so far. Killed (and its stdin closed) when dropped.
struct Smsc {
    _child: Child,
    _stdin: ChildStdin,
    port: u16,
    lines: mpsc::UnboundedReceiver<String>,
    /// Every line read so far, in order.
    seen: Vec<String>,
}

impl Smsc {
    /// Starts the server; `None` when it cannot run here (see [`npm_smsc_dir`]).
    async fn start() -> Option<Smsc> {
        let dir = npm_smsc_dir()?;
        let mut child = Command::new("node")
            .arg("smsc.js")
            .arg(SYSTEM_ID)
            .arg(PASSWORD)
            .current_dir(&dir)
            .env("SMSC_RECEIPT_DELAY_MS", "50")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                eprintln!("smsc: {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut smsc = Smsc {
            _child: child,
            _stdin: stdin,
            port: 0,
            lines,
            seen: Vec::new(),
        };
        let listening = smsc.expect("LISTENING ").await;
        smsc.port = listening["LISTENING ".len()..].parse().unwrap();
        Some(smsc)
    }

    /// Waits for the next line that is `pattern`, or starts with it when it ends in a space
    /// (lines before it are kept in `seen`).
    async fn expect(&mut self, pattern: &str) -> String {
        let fits = |line: &str| {
            if pattern.ends_with(' ') {
                line.starts_with(pattern)
            } else {
                line == pattern
            }
        };
        let found = timeout(PATIENCE, async {
            while let Some(line) = self.lines.recv().await {
                self.seen.push(line.clone());
                if fits(&line) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            Ok(None) => panic!(
                "the SMSC exited before saying {pattern:?}; it said {:#?}",
                self.seen
            ),
            Err(_) => panic!(
                "the SMSC did not say {pattern:?} within {PATIENCE:?}; it said {:#?}",
                self.seen
            ),
        }
    }

    /// Waits for `n` more lines that fit `prefix` (see [`Smsc::expect`]).
    async fn expect_n(&mut self, prefix: &str, n: usize) -> Vec<String> {
        let mut found = Vec::with_capacity(n);
        for _ in 0..n {
            found.push(self.expect(prefix).await);
        }
        found
    }

    /// Lines seen so far (and any already waiting) starting with `prefix`.
    fn said(&mut self, prefix: &str) -> Vec<String> {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen
            .iter()
            .filter(|l| l.starts_with(prefix))
            .cloned()
            .collect()
    }
}

fn carrier_config(port: u16, password: &str) -> CarrierConfig {
    let mut config = CarrierConfig::new("npm-smsc", "127.0.0.1", port);
    config.system_id = SYSTEM_ID.to_owned();
    config.password = Secret::new(password);
    config.window = NonZeroU32::new(10).unwrap();
    config.tps = NonZeroU32::new(100).unwrap();
    // Short enough that Kori's own keep-alive happens while the test waits for receipts.
    config.enquire_link = Duration::from_millis(300);
    config.response_timeout = Duration::from_secs(5);
    config.reconnect_initial = Duration::from_millis(50);
    config.reconnect_max = Duration::from_millis(200);
    config
}

/// Stops the sessions as `app` does and returns how long that took.
async fn shut_down(cancel: &CancellationToken, tracker: &TaskTracker) -> Duration {
    let started = Instant::now();
    cancel.cancel();
    tracker.close();
    timeout(PATIENCE, tracker.wait())
        .await
        .expect("the sessions stop");
    started.elapsed()
}

/// The next event that is not a receipt or bind change we expect is a failure.
async fn next_event(events: &mut mpsc::Receiver<Event>) -> Event {
    timeout(PATIENCE, events.recv())
        .await
        .expect("an event in time")
        .expect("the event channel stays open")
}

#[tokio::test]
async fn bind_submit_receipt_and_unbind_against_the_npm_smpp_server() {
    let Some(mut smsc) = Smsc::start().await else {
        return;
    };
    let config = carrier_config(smsc.port, PASSWORD);
    let (events_tx, mut events) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let carrier = Carrier::start(config.clone(), events_tx, &cancel, &tracker);

    timeout(PATIENCE, carrier.wait_up())
        .await
        .expect("Kori binds to the npm SMSC");
    assert_eq!(
        smsc.expect("BIND ").await,
        format!("BIND bind_transceiver {SYSTEM_ID} OK 0")
    );
    assert!(
        matches!(next_event(&mut events).await, Event::BindUp { bind: 0, .. }),
        "the first event is the bind coming up"
    );

    let long = "Hello from DemoShop! Your cart still holds the blue running shoes in size 42 \
                and a pair of socks. Complete your order today and shipping is free; the offer \
                ends at midnight. Reply STOP to opt out.";
    assert!(long.len() > 160 && long.len() <= 306, "two GSM 7-bit parts");
    let messages = [
        ("+358401234567", "Your order 1001 has shipped."),
        ("+358401234568", long),
        ("+358401234569", "Your code is 123456"),
    ];
    let build = |(n, (to, text)): (usize, &(&str, &str))| {
        OutMessage::from_text(&config, "DemoShop", to, text, None, 0x40 + n as u16).unwrap()
    };
    let out: Vec<OutMessage> = messages.iter().enumerate().map(build).collect();
    assert_eq!(
        out.iter().map(|m| m.segments.len()).collect::<Vec<_>>(),
        [1, 2, 1]
    );
    let [m0, m1, m2]: [OutMessage; 3] = out.try_into().unwrap();
    let (r0, r1, r2) = timeout(PATIENCE, async {
        tokio::join!(
            carrier.send(m0, false),
            carrier.send(m1, false),
            carrier.send(m2, false)
        )
    })
    .await
    .expect("every message is answered");
    let outcomes: Vec<MessageOutcome> = [r0, r1, r2].into_iter().map(Result::unwrap).collect();

    // Every segment accepted, with the SMSC's fresh uppercase hex id; index them by the key
    // receipts are matched under, as the outbox does.
    let mut pending: HashMap<NormalizedId, (usize, usize, String)> = HashMap::new();
    for (m, outcome) in outcomes.iter().enumerate() {
        assert!(outcome.all_accepted(), "message {m}: {outcome:?}");
        assert_eq!(&*outcome.carrier, "npm-smsc");
        assert_eq!(
            outcome.attempts as usize,
            outcome.segments.len(),
            "no retries"
        );
        for (s, segment) in outcome.segments.iter().enumerate() {
            let SegmentOutcome::Accepted { message_id, key } = segment else {
                unreachable!()
            };
            assert!(
                !message_id.is_empty()
                    && message_id
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()),
                "{message_id:?}"
            );
            assert_eq!(*key, submit_key(message_id, config.dlr_id));
            let previous = pending.insert(key.clone(), (m, s, message_id.clone()));
            assert!(previous.is_none(), "ids are unique: {message_id}");
        }
    }
    assert_eq!(pending.len(), 4);

    // What the SMSC saw: four submit_sm, the long message in two parts in order, and the
    // texts as sent (decoded by the npm package, not by Kori).
    let submits = smsc.expect_n("SUBMIT ", 4).await;
    for (to, text) in [messages[0], messages[2]] {
        let line = format!("SUBMIT {} 1/1 \"{text}\"", &to[1..]);
        assert!(submits.contains(&line), "{line} in {submits:#?}");
    }
    let long_parts: Vec<&String> = submits
        .iter()
        .filter(|l| l.starts_with("SUBMIT 358401234568 "))
        .collect();
    assert_eq!(long_parts.len(), 2, "{submits:#?}");
    assert!(long_parts[0].starts_with("SUBMIT 358401234568 1/2 \""));
    assert!(long_parts[1].starts_with("SUBMIT 358401234568 2/2 \""));
    let joined: String = long_parts
        .iter()
        .map(|l| l.splitn(4, ' ').nth(3).unwrap().trim_matches('"'))
        .collect();
    assert_eq!(joined, long);

    // A receipt for every segment, matched to its submit through the dlr keys; the TLV id
    // (hex, as in submit_sm_resp) and the text id (decimal) both lead to the same submit.
    while !pending.is_empty() {
        match next_event(&mut events).await {
            Event::Receipt {
                carrier,
                receipt,
                ack,
            } => {
                // Kori's outbox answers once the receipt is on disk; here, at once.
                ack.recorded();
                assert_eq!(&*carrier, "npm-smsc");
                let key = receipt_keys(&receipt)
                    .find(|k| pending.contains_key(k))
                    .unwrap_or_else(|| panic!("receipt for no pending submit: {receipt:?}"));
                let (m, s, message_id) = pending.remove(&key).unwrap();
                assert_eq!(receipt.message_id, message_id, "message {m} part {s}");
                assert_eq!(receipt.source.id, FieldSource::Tlv);
                assert_eq!(receipt.state, MessageState::Delivered);
                assert!(receipt.is_final());
                let text = receipt.text.as_ref().expect("the receipt text parses");
                let text_id = text.id.as_deref().unwrap();
                assert!(
                    text_id.bytes().all(|b| b.is_ascii_digit()),
                    "decimal in the text: {text_id}"
                );
                assert!(
                    match_keys(text_id.as_bytes(), IdFormat::Auto).any(|k| k == key),
                    "text id {text_id} matches submit id {message_id}"
                );
            }
            other => panic!("unexpected event while waiting for receipts: {other:?}"),
        }
    }
    // Kori acknowledged every receipt with ESME_ROK and answered the SMSC's enquire_link;
    // its own enquire_link was answered too (it sends one after 300 ms of quiet).
    for line in smsc.expect_n("DELIVER_SM_RESP ", 4).await {
        assert!(line.ends_with(" 0"), "{line}");
    }
    assert_eq!(smsc.said("ENQUIRE_LINK_RESP "), ["ENQUIRE_LINK_RESP 0"]);
    smsc.expect("ENQUIRE_LINK").await;
    assert!(smsc.said("UNBIND").is_empty(), "no unbind before shutdown");

    // Shutdown: Kori unbinds, the SMSC answers and leaves the connection open, Kori closes it.
    // Finishing sooner than Kori's unbind timeout, with no BindDown, means it read the
    // unbind_resp rather than giving up on it.
    let took = shut_down(&cancel, &tracker).await;
    smsc.expect("UNBIND").await;
    smsc.expect("UNBIND_RESP_SENT").await;
    smsc.expect("CLOSED").await;
    assert!(
        took < UNBIND_TIMEOUT,
        "shutdown took {took:?}: the unbind_resp was not read"
    );
    assert_eq!(smsc.said("BIND ").len(), 1, "one bind, never lost");
    assert!(smsc.said("OTHER ").is_empty(), "{:#?}", smsc.seen);
    assert!(smsc.said("ERROR ").is_empty(), "{:#?}", smsc.seen);
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(event, Event::BindDown { .. } | Event::Receipt { .. }),
            "{event:?}"
        );
    }
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_kori_keeps_retrying_without_binding() {
    let Some(mut smsc) = Smsc::start().await else {
        return;
    };
    let (events_tx, mut events) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let carrier = Carrier::start(
        carrier_config(smsc.port, "wrong"),
        events_tx,
        &cancel,
        &tracker,
    );
    // ESME_RINVPASWD is 0x0000000E; Kori backs off and binds again.
    for line in smsc.expect_n("BIND ", 2).await {
        assert_eq!(
            line,
            format!("BIND bind_transceiver {SYSTEM_ID} REJECTED 14")
        );
    }
    assert_eq!(carrier.status().submit_binds_up, 0);
    shut_down(&cancel, &tracker).await;
    // Each refusal is reported with the fix it calls for; none is a bind going up or down.
    let mut refusals = 0;
    while let Ok(event) = events.try_recv() {
        match event {
            Event::BindFailed { reason, .. } => {
                assert!(reason.contains("check password_file"), "{reason}");
                refusals += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // The second attempt may still await its answer when the shutdown cancels it.
    assert!(refusals >= 1, "{refusals} refusals reported");
    assert!(smsc.said("SUBMIT ").is_empty());
}
