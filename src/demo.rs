//! `korid demo`: the main job on embedded defaults, in one process and under a second.
//!
//! Owns the demo's script: a temporary store, the SMSC simulator on 127.0.0.1, a carrier bound
//! to it over real SMPP, the HTTP intake on 127.0.0.1, and sample messages posted through the
//! real HTTP path. Prints what the SMSC received, each receipt and each final state. Must not
//! touch: anything the daemon does not (it starts the same [`Daemon`]). Called by `app`.

use crate::app::{Daemon, DaemonConfig, StoreLocation};
use crate::client;
use crate::clock::Clock;
use crate::outbox::MessageId;
use crate::sim::{Faults, IdStyle, ReceiptOutcome, ReceiptStyle, Sim, SimConfig, SimEvent};
use crate::smpp::CarrierConfig;
use kori_smpp::CommandStatus;
use kori_smpp::receipt::IdFormat;
use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Duration;
use tokio::time::timeout;

/// The messages the demo sends: each kind of text an operator meets in the field, and two
/// numbers the simulator treats badly.
const SAMPLES: &[(&str, &str, &str)] = &[
    (
        "plain GSM 7-bit",
        "+358401234567",
        "Your order 1042 is ready for pickup. Reply STOP to opt out",
    ),
    (
        "GSM 7-bit with extension characters",
        "+358401234567",
        "Save 10€ today with code [BACK10] {48h only}",
    ),
    (
        "Finnish",
        "+358401234568",
        "Hei Aino! Ostoskorisi odottaa: päivän tarjous, 2 kpl Kynttilä. Vastaa STOP",
    ),
    (
        "long message (3 segments)",
        "+46701234567",
        "Hi Sam, you left 3 items in your cart at Demo Shop: a linen shirt, a wool scarf and a \
         pair of leather gloves. They are still reserved for you, and with code BACK10 you save \
         10% on the whole order until Sunday. Finish your order at https://shop.example/k/c/8fK2a \
         - questions? Just reply to this message. Reply STOP to opt out",
    ),
    (
        "UCS-2 with an emoji",
        "+358401234569",
        "Your cart misses you 🛒 Come back for 10% off: BACK10",
    ),
    (
        "a number the SMSC refuses",
        "+358409990001",
        "This one is refused by the carrier",
    ),
    (
        "a handset that is switched off",
        "+358451234500",
        "This one is never delivered",
    ),
];

/// How long the demo waits for anything before it gives up.
const PATIENCE: Duration = Duration::from_secs(20);

/// The demo's admin token (it only ever listens on 127.0.0.1, for the length of the demo).
const TOKEN: &str = "korid-demo-admin-token";

type DemoResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Runs the demo; exit status 0 when every message reached the state it should.
pub fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("korid demo: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("korid demo: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> DemoResult<()> {
    println!(
        "Kori demo: messages posted over HTTP, stored, submitted over SMPP 3.4 to the built-in SMSC simulator\n"
    );
    let sim = Sim::start(SimConfig {
        message_ids: IdStyle::Hex,
        first_message_id: 0x1A_2B00,
        receipt_id_in_text: Some(IdStyle::Decimal),
        receipts: ReceiptStyle::Text,
        receipt_delay: Duration::from_millis(300),
        outcome_rules: vec![("35845".to_owned(), ReceiptOutcome::UNDELIVERABLE)],
        faults: Faults {
            reject_destinations: vec![(
                "35840999".to_owned(),
                CommandStatus::InvalidDestinationAddress,
            )],
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await?;
    let mut smsc = sim.subscribe();
    let mut carrier = CarrierConfig::new("demo-smsc", "127.0.0.1", sim.addr().port());
    carrier.system_id = "kori-demo".to_owned();
    carrier.dlr_id = IdFormat::Hex;
    let config = DaemonConfig::local(StoreLocation::Temporary, "demo", TOKEN, vec![carrier]);
    let daemon = Daemon::start(config, Clock::system()).await?;
    let base = format!("http://{}", daemon.http_addr());
    println!(
        "SMSC simulator on {}, HTTP intake on {base}, temporary store",
        sim.addr()
    );
    let carrier = daemon.outbox().router().carriers()[0].clone();
    timeout(PATIENCE, carrier.wait_up())
        .await
        .map_err(|_| "the bind did not come up")?;
    println!("bound to the SMSC as transceiver (system_id kori-demo, interface version 3.4)\n");
    let mut changes = daemon.outbox().subscribe();

    let mut ids = Vec::new();
    for (n, (label, to, text)) in SAMPLES.iter().enumerate() {
        println!("[{}] {label}", n + 1);
        let body = serde_json::json!({ "to": to, "from": "DemoShop", "text": text, "reference": format!("demo-{}", n + 1) });
        println!("    POST /v1/messages {body}");
        let (status, answer) =
            client::post_json(&format!("{base}/v1/messages"), TOKEN, &body).await?;
        println!("    → {status} {answer}");
        if status != 202 {
            return Err(format!("the intake answered {status}").into());
        }
        let answer: serde_json::Value = serde_json::from_str(&answer)?;
        let id: MessageId = answer["id"]
            .as_str()
            .ok_or("no id in the answer")?
            .parse()?;
        let segments = answer["segments"].as_u64().unwrap_or(1);
        ids.push(id);
        for _ in 0..segments {
            let submit = timeout(PATIENCE, smsc.next_submit())
                .await?
                .ok_or("the simulator stopped")?;
            let coding = match submit.data_coding {
                0x08 => "UCS-2",
                _ => "GSM 7-bit",
            };
            let part = match submit.concat {
                Some((reference, total, seq)) => format!("part {seq}/{total} (ref {reference:#x})"),
                None => "single part".to_owned(),
            };
            let answer = if submit.status.is_ok() {
                format!("accepted as {}", submit.message_id)
            } else {
                format!("refused with {}", submit.status)
            };
            println!(
                "    SMSC got submit_sm: {coding} (data_coding {:#04x}), {part}: {:?}; {answer}",
                submit.data_coding,
                submit.text.as_deref().unwrap_or("")
            );
        }
        println!();
    }

    println!("Receipts from the SMSC (ids in decimal; Kori matches them to the hex submit ids):");
    let mut open: HashSet<MessageId> = ids.iter().copied().collect();
    while !open.is_empty() {
        tokio::select! {
            event = smsc.recv() => {
                if let Some(SimEvent::ReceiptSent { message_id, state, .. }) = event {
                    let decimal = u64::from_str_radix(&message_id, 16).map(|d| d.to_string()).unwrap_or(message_id.clone());
                    println!("    deliver_sm receipt id:{decimal} stat:{} (submit id {message_id})", state.stat_word().unwrap_or("?"));
                }
            }
            change = changes.recv() => {
                if let Ok(change) = change {
                    if change.to.is_terminal() {
                        open.remove(&change.id);
                    }
                }
            }
            () = tokio::time::sleep(PATIENCE) => return Err("messages did not reach a final state".into()),
        }
    }

    println!("\nFinal states (GET /v1/messages/{{id}}):");
    for (n, id) in ids.iter().enumerate() {
        let (_, body) = client::get(&format!("{base}/v1/messages/{id}"), TOKEN).await?;
        let message: serde_json::Value = serde_json::from_str(&body)?;
        let state = message["state"].as_str().unwrap_or("?");
        let error = message["error"]["detail"]
            .as_str()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        println!("    [{}] {}: {state}{error}", n + 1, SAMPLES[n].0);
    }
    daemon.stop().await;
    let unbinds = sim.stats().unbinds;
    println!(
        "\nStopped in order: intake closed, in-flight answers awaited, {unbinds} unbind answered, store flushed."
    );
    sim.shutdown().await;
    Ok(())
}
