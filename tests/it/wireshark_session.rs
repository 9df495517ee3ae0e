//! Wireshark's SMPP dissector over a whole recorded session: Kori's carrier bound to the
//! simulator through a recording TCP proxy on 127.0.0.1, sending single and multipart GSM
//! 7-bit and UCS-2 messages with receipts, then unbinding. Both directions, exactly as they
//! crossed the sockets (several PDUs in one read, a PDU split over two), go into a pcap
//! (`protocol/tests/support/pcap.rs`) that `tshark` reads with TCP reassembly: every PDU must
//! dissect as SMPP, none malformed, no expert item of warning or error severity, and the
//! counts per command must be what was sent. `tshark` missing: skipped, except under CI.

use kori::smpp::{Carrier, CarrierConfig, Event, OutMessage};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[path = "../../protocol/tests/support/pcap.rs"]
mod pcap;

use pcap::Direction;

type Recording = Arc<Mutex<Vec<(Direction, Vec<u8>)>>>;

/// Copies `from` to `to`, recording each read before it is forwarded.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    direction: Direction,
    recording: Recording,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        recording
            .lock()
            .unwrap()
            .push((direction, buf[..n].to_vec()));
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// A proxy for one connection to `target`; its address, the recording, and the task that
/// ends when both directions have closed.
async fn recording_proxy(
    target: SocketAddr,
) -> (SocketAddr, Recording, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let recording = Recording::default();
    let record = Arc::clone(&recording);
    let task = tokio::spawn(async move {
        let (esme, _) = listener.accept().await.unwrap();
        let smsc = TcpStream::connect(target).await.unwrap();
        let (esme_read, esme_write) = esme.into_split();
        let (smsc_read, smsc_write) = smsc.into_split();
        tokio::join!(
            pump(
                esme_read,
                smsc_write,
                Direction::ToSmsc,
                Arc::clone(&record)
            ),
            pump(smsc_read, esme_write, Direction::ToEsme, record),
        );
    });
    (addr, recording, task)
}

// Real time: with the clock paused, a round trip through the proxy's extra hop can look to the
// runtime like idleness, and it would jump to the session's timeouts.
#[tokio::test]
async fn wireshark_dissects_a_whole_recorded_session() {
    let Some(tshark) = pcap::tshark_or_skip() else {
        return;
    };
    let sim = kori::sim::Sim::start(kori::sim::SimConfig {
        receipt_delay: Duration::from_millis(10),
        ..kori::sim::SimConfig::default()
    })
    .await
    .unwrap();
    let (proxy, recording, proxied) = recording_proxy(sim.addr()).await;

    let mut config = CarrierConfig::new("sim", "127.0.0.1", proxy.port());
    config.system_id = "kori".to_owned();
    config.window = NonZeroU32::new(64).unwrap();
    config.tps = NonZeroU32::new(1_000_000).unwrap();
    let (tx, mut events) = mpsc::channel(65_536);
    let (cancel, tracker) = (CancellationToken::new(), TaskTracker::new());
    let carrier = Carrier::start(config, tx, &cancel, &tracker);
    timeout(Duration::from_secs(30), carrier.wait_up())
        .await
        .unwrap();

    let long_gsm = "Your cart at Demo Shop still holds a linen shirt and a wool scarf. ".repeat(4);
    let texts = [
        "Hei Aino, ostoskorisi odottaa: 10€ alennus [BACK10]".to_owned(),
        long_gsm,
        "Корзина ждёт вас 🛒 скидка 10% по коду BACK10, только сегодня! ".repeat(2),
    ];
    let mut parts = 0;
    let mut sends = Vec::new();
    for n in 0..60u16 {
        let text = &texts[usize::from(n) % texts.len()];
        let message =
            OutMessage::from_text(carrier.config(), "DemoShop", "+358401234567", text, None, n)
                .unwrap();
        parts += message.segments.len();
        let carrier = carrier.clone();
        sends.push(tokio::spawn(async move {
            carrier.send(message, false).await.unwrap()
        }));
    }
    for send in sends {
        assert!(send.await.unwrap().all_accepted());
    }
    let mut receipts = 0;
    while receipts < parts {
        match timeout(Duration::from_secs(60), events.recv())
            .await
            .unwrap()
        {
            Some(Event::Receipt { ack, .. }) => {
                ack.recorded();
                receipts += 1;
            }
            Some(_) => {}
            None => panic!("events closed after {receipts} receipts"),
        }
    }
    cancel.cancel();
    tracker.close();
    timeout(Duration::from_secs(30), tracker.wait())
        .await
        .unwrap();
    timeout(Duration::from_secs(30), proxied)
        .await
        .unwrap()
        .unwrap();
    sim.shutdown().await;

    let recording = std::mem::take(&mut *recording.lock().unwrap());
    assert!(
        recording.iter().any(|(d, _)| *d == Direction::ToEsme),
        "both directions recorded"
    );
    let capture = pcap::write(recording.iter().map(|(d, bytes)| (*d, bytes.as_slice())));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &capture).unwrap();
    let out = std::process::Command::new(&tshark)
        .args(["-n", "-r"])
        .arg(file.path())
        .args([
            "-d",
            "tcp.port==2775,smpp",
            "-T",
            "fields",
            "-E",
            "aggregator=,",
            "-e",
            "smpp.command_id",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert.severity",
            "-e",
            "_ws.expert.message",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut commands: BTreeMap<String, usize> = BTreeMap::new();
    // Frames that completed more than one PDU: the session batches its writes, and the
    // dissector must find each PDU in a stream, not one per segment.
    let mut several = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let (ids, malformed, severity, message) = (fields[0], fields[1], fields[2], fields[3]);
        assert!(malformed.is_empty(), "malformed: {line}");
        // Expert severities: chat 0x200000, note 0x400000, warning 0x600000, error 0x800000.
        for s in severity.split(',').filter(|s| !s.is_empty()) {
            let level = s.parse::<u64>().unwrap();
            assert!(level < 0x60_0000, "expert item {message:?} in: {line}");
        }
        let ids: Vec<&str> = ids.split(',').filter(|s| !s.is_empty()).collect();
        several += usize::from(ids.len() > 1);
        for id in ids {
            *commands.entry(id.to_owned()).or_default() += 1;
        }
    }
    assert!(several > 0, "no segment carried several PDUs: {commands:?}");
    let count = |id: &str| commands.get(id).copied().unwrap_or(0);
    assert_eq!(count("0x00000009"), 1, "bind_transceiver: {commands:?}");
    assert_eq!(
        count("0x80000009"),
        1,
        "bind_transceiver_resp: {commands:?}"
    );
    assert_eq!(count("0x00000004"), parts, "submit_sm: {commands:?}");
    assert_eq!(count("0x80000004"), parts, "submit_sm_resp: {commands:?}");
    assert_eq!(
        count("0x00000005"),
        parts,
        "deliver_sm receipts: {commands:?}"
    );
    assert_eq!(count("0x80000005"), parts, "deliver_sm_resp: {commands:?}");
    assert_eq!(
        count("0x00000015"),
        count("0x80000015"),
        "enquire_link: {commands:?}"
    );
    assert_eq!(count("0x00000006"), 1, "unbind: {commands:?}");
    assert_eq!(count("0x80000006"), 1, "unbind_resp: {commands:?}");
}
