//! Interop: Kori's SMSC simulator (the carrier of `korid demo`, `korid sim` and these tests)
//! against an ESME Kori's authors did not write, `tests/interop/smpplib_client.py`, built on
//! the PyPI `smpplib` package (pinned in `tests/interop/requirements.txt`, installed by
//! `.ci/run` into `tests/interop/python`).
//!
//! smpplib binds as a transceiver with a password, sends GSM 7-bit (with extension
//! characters), a 2-part GSM 7-bit and a 3-part UCS-2 text split by its own rules, reads every
//! answer and receipt, takes one mobile-originated message, sends an enquire_link and unbinds.
//! Both sides' views are compared: what smpplib printed for every PDU and what the simulator
//! reported. The client is a separate process with wall-clock timeouts, so this runs in real
//! time; every wait is on something one side reports, under a `timeout`.

use kori::sim::{BindKind, Sim, SimConfig, SimEvent};
use kori::smpp_proto::CommandStatus;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::time::timeout;

/// Longest wait for the whole exchange (the client gives up after 30 s itself).
const PATIENCE: Duration = Duration::from_secs(60);

const SYSTEM_ID: &str = "smpplib";
const PASSWORD: &str = "s3cret";

/// `tests/interop`, when python3 and the installed smpplib are there to run the client (see
/// [`crate::interop::installed_or_skip`]).
fn smpplib_dir() -> Option<PathBuf> {
    crate::interop::installed_or_skip(
        "python3",
        "python/smpplib/client.py",
        "python3 -m pip install --target tests/interop/python -r tests/interop/requirements.txt",
    )
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// The simulator's events until the client unbinds.
async fn sim_events_until_unbound(mut events: kori::sim::SimEvents) -> Vec<SimEvent> {
    let mut seen = Vec::new();
    while let Some(event) = events.recv().await {
        let unbound = matches!(event, SimEvent::Unbound { .. });
        seen.push(event);
        if unbound {
            break;
        }
    }
    seen
}

#[tokio::test]
async fn smpplib_binds_submits_gets_receipts_and_an_mo_and_unbinds() {
    let Some(dir) = smpplib_dir() else { return };
    let sim = Sim::start(SimConfig {
        credentials: Some((SYSTEM_ID.into(), PASSWORD.into())),
        receipt_delay: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let sim_view = tokio::spawn(sim_events_until_unbound(sim.subscribe()));
    let mut bound = sim.subscribe();

    let texts = [
        "Hello from smpplib: 10€ off with [CODE] {today}".to_owned(),
        // 200 GSM characters: two parts of smpplib's 153.
        "Your cart is waiting. ".repeat(9) + "Reply STOP",
        // 150 UCS-2 characters: three parts of smpplib's 67.
        "Корзина ждёт вас: ".repeat(8) + "СТОП!!!!!!",
    ];
    let plan = serde_json::json!({
        "system_id": SYSTEM_ID, "password": PASSWORD, "texts": texts, "mo": 1,
    });
    let mut client = Command::new("python3")
        .arg(dir.join("smpplib_client.py"))
        .arg(sim.addr().ip().to_string())
        .arg(sim.addr().port().to_string())
        .arg(plan.to_string())
        .env("PYTHONPATH", dir.join("python"))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();

    // One MO as soon as smpplib is bound: it must come to smpplib as a deliver_sm it answers.
    let kind = timeout(
        PATIENCE,
        bound.wait_for(|e| match e {
            SimEvent::Bound {
                kind, system_id, ..
            } if system_id == SYSTEM_ID => Some(*kind),
            _ => None,
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(kind, BindKind::Transceiver);
    sim.inject_mo("+358401234567", "12345", "STOP")
        .await
        .unwrap();

    let mut said: Vec<Value> = Vec::new();
    while let Some(line) = timeout(PATIENCE, lines.next_line()).await.unwrap().unwrap() {
        said.push(serde_json::from_str(&line).unwrap());
    }
    let status = timeout(PATIENCE, client.wait()).await.unwrap().unwrap();
    let client_view = || serde_json::to_string_pretty(&said).unwrap();
    assert!(status.success(), "smpplib client failed: {}", client_view());
    let sim_view = timeout(PATIENCE, sim_view).await.unwrap().unwrap();

    let of = |event: &str| -> Vec<&Value> { said.iter().filter(|v| v["event"] == event).collect() };
    let bind = of("bind_transceiver_resp");
    assert_eq!(bind.len(), 1);
    assert_eq!(bind[0]["status"], 0);
    assert_eq!(bind[0]["system_id"], "sim");

    // Every part smpplib sent was answered OK, with the id the simulator says it gave.
    let sent: Vec<u64> = of("submit_sm")
        .iter()
        .map(|v| v["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(sent.len(), 1 + 2 + 3, "{}", client_view());
    let answers: BTreeMap<u64, String> = of("submit_sm_resp")
        .iter()
        .map(|v| {
            assert_eq!(v["status"], 0, "{v}");
            (
                v["seq"].as_u64().unwrap(),
                v["message_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(answers.keys().copied().collect::<Vec<_>>(), sent);
    let submits: Vec<_> = sim_view
        .iter()
        .filter_map(|e| match e {
            SimEvent::Submit(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(submits.len(), sent.len());
    for s in &submits {
        assert!(s.answered && s.status == CommandStatus::Ok, "{s:?}");
        assert_eq!(answers.get(&u64::from(s.seq)), Some(&s.message_id), "{s:?}");
        assert_eq!(s.destination, "358401234567");
        assert_eq!(s.source, "smpplib");
        assert_eq!(s.registered_delivery & 0x03, 1);
    }

    // The simulator read smpplib's encodings and concatenation headers back into the texts.
    // (concatenation reference, (part number, text) each); a single part has no reference.
    type Parts = Vec<(u8, String)>;
    let mut messages: Vec<(Option<u16>, Parts)> = Vec::new();
    for s in &submits {
        let text = s
            .text
            .clone()
            .unwrap_or_else(|| panic!("undecoded part {s:?}"));
        let (reference, seqnum) = match s.concat {
            Some((reference, _total, seqnum)) => (Some(reference), seqnum),
            None => (None, 1),
        };
        match messages
            .iter_mut()
            .find(|(r, _)| reference.is_some() && *r == reference)
        {
            Some((_, parts)) => parts.push((seqnum, text)),
            None => messages.push((reference, vec![(seqnum, text)])),
        }
    }
    let reassembled: Vec<String> = messages
        .into_iter()
        .map(|(_, mut parts)| {
            parts.sort();
            parts.into_iter().map(|(_, t)| t).collect()
        })
        .collect();
    assert_eq!(reassembled, texts);
    let codings: Vec<u8> = submits.iter().map(|s| s.data_coding).collect();
    assert_eq!(codings, [0, 0, 0, 8, 8, 8]);

    // A receipt for every accepted part, in a form smpplib parses: esm_class 0x04, the
    // receipted_message_id and message_state TLVs, the text with the id and stat:DELIVRD.
    let receipts: BTreeMap<String, &Value> = of("deliver_sm")
        .into_iter()
        .filter(|v| v["esm_class"].as_u64().unwrap() & 0x3C == 0x04)
        .map(|v| (v["receipted_message_id"].as_str().unwrap().to_owned(), v))
        .collect();
    let mut ids: Vec<String> = answers.values().cloned().collect();
    ids.sort();
    assert_eq!(receipts.keys().cloned().collect::<Vec<_>>(), ids);
    for (id, receipt) in &receipts {
        assert_eq!(receipt["message_state"], 2, "DELIVERED: {receipt}");
        let text = String::from_utf8(unhex(receipt["short_message"].as_str().unwrap())).unwrap();
        assert!(text.starts_with(&format!("id:{id} ")), "{text}");
        assert!(text.contains(" stat:DELIVRD err:000 "), "{text}");
    }

    // The MO, as smpplib read it.
    let mos: Vec<&Value> = of("deliver_sm")
        .into_iter()
        .filter(|v| v["esm_class"].as_u64().unwrap() & 0x3C == 0)
        .collect();
    assert_eq!(mos.len(), 1, "{}", client_view());
    assert_eq!(mos[0]["source_addr"], "358401234567");
    assert_eq!(mos[0]["destination_addr"], "12345");
    assert_eq!(mos[0]["data_coding"], 0);
    assert_eq!(unhex(mos[0]["short_message"].as_str().unwrap()), b"STOP");

    // smpplib's deliver_sm_resp for each, its enquire_link and its unbind, as the simulator
    // read them; nothing it could not parse.
    let delivered_ok = sim_view
        .iter()
        .filter(
            |e| matches!(e, SimEvent::DeliverSmResp { status, .. } if *status == CommandStatus::Ok),
        )
        .count();
    assert_eq!(delivered_ok, receipts.len() + 1);
    assert!(
        sim_view
            .iter()
            .any(|e| matches!(e, SimEvent::EnquireLink { .. }))
    );
    assert_eq!(of("enquire_link_resp").len(), 1);
    assert_eq!(of("enquire_link_resp")[0]["status"], 0);
    assert_eq!(of("unbind_resp").len(), 1);
    assert_eq!(of("unbind_resp")[0]["status"], 0);
    assert!(
        !sim_view
            .iter()
            .any(|e| matches!(e, SimEvent::GenericNackReceived { .. })),
        "{sim_view:?}"
    );
    sim.shutdown().await;
}
