//! Composition root: builds every part of the daemon and runs it.
//!
//! Owns the order in which parts start and stop. Called only by `main.rs`. Today it runs the
//! demo and `check-config`; `run` arrives with the outbox and its HTTP intake.

use crate::config::Config;
use crate::dlr::receipt_keys;
use crate::sim::{IdStyle, ReceiptOutcome, ReceiptStyle, Sim, SimConfig};
use crate::smpp::{Carrier, CarrierConfig, Event, OutMessage, SegmentOutcome};
use kori_smpp::CommandStatus;
use kori_smpp::receipt::{IdFormat, MessageState, NormalizedId};
use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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
        "+35899000001",
        "This one is refused by the carrier",
    ),
    (
        "a handset that is switched off",
        "+35845000002",
        "This one is never delivered",
    ),
];

/// Exit status of `korid check-config` when the file has problems (or cannot be read); 1 is
/// left for failures of korid itself.
pub const EXIT_CONFIG_INVALID: u8 = 2;

/// `korid check-config PATH`: validates the file, secret files included. Prints a summary and
/// exits 0, or prints every problem (one `config error: <key path>: <problem>` line each) on
/// stderr and exits [`EXIT_CONFIG_INVALID`].
pub fn check_config(path: &Path) -> ExitCode {
    match Config::load(path) {
        Ok(config) => {
            println!(
                "config OK: {} carriers, {} tokens, {} shops",
                config.carriers.len(),
                config.tokens.len(),
                config.shops.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            let n = errors.problems().len();
            eprintln!(
                "{}: {n} problem{}",
                path.display(),
                if n == 1 { "" } else { "s" }
            );
            ExitCode::from(EXIT_CONFIG_INVALID)
        }
    }
}

/// How long the demo waits for anything before it gives up.
const PATIENCE: Duration = Duration::from_secs(20);

/// `korid demo`: the main job on embedded defaults.
///
/// Starts the SMSC simulator on 127.0.0.1 and a carrier session bound to it over real SMPP,
/// sends the sample messages, and prints what the SMSC received, each receipt and each final
/// state. The simulator answers with hex message ids and reports them in decimal in its
/// receipts, as some carriers do.
pub fn demo() -> ExitCode {
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
    match runtime.block_on(run_demo()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("korid demo: {e}");
            ExitCode::FAILURE
        }
    }
}

type DemoResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

async fn run_demo() -> DemoResult<()> {
    println!(
        "Kori demo: sample messages through a real SMPP 3.4 session to the built-in SMSC simulator\n"
    );
    let sim = Sim::start(SimConfig {
        message_ids: IdStyle::Hex,
        first_message_id: 0x1A_2B00,
        receipt_id_in_text: Some(IdStyle::Decimal),
        receipts: ReceiptStyle::Text,
        receipt_delay: Duration::from_millis(300),
        outcome_rules: vec![("35845".to_owned(), ReceiptOutcome::UNDELIVERABLE)],
        faults: crate::sim::Faults {
            reject_destinations: vec![(
                "35899".to_owned(),
                CommandStatus::InvalidDestinationAddress,
            )],
            ..crate::sim::Faults::default()
        },
        ..SimConfig::default()
    })
    .await?;
    println!("SMSC simulator listening on {}", sim.addr());
    let mut smsc = sim.subscribe();
    let mut config = CarrierConfig::new("demo-smsc", "127.0.0.1", sim.addr().port());
    config.system_id = "kori-demo".to_owned();
    config.dlr_id = IdFormat::Hex;
    let (events_tx, mut events) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let carrier = Carrier::start(config, events_tx, &cancel, &tracker);
    timeout(PATIENCE, carrier.wait_up())
        .await
        .map_err(|_| "the bind did not come up")?;
    println!("bound as transceiver (system_id kori-demo, interface version 3.4)\n");

    // Submit key → (sample, segment), and what each sample ended as.
    let mut awaiting: HashMap<NormalizedId, usize> = HashMap::new();
    let mut finals: Vec<String> = vec![String::new(); SAMPLES.len()];
    let mut receipts_due = 0;
    for (n, (label, to, text)) in SAMPLES.iter().enumerate() {
        let message = OutMessage::from_text(
            carrier.config(),
            "DemoShop",
            to,
            text,
            None,
            0x40 + n as u16,
        )?;
        println!("[{}] {label} → {to}", n + 1);
        println!("    text: {text:?}");
        let segments = message.segments.len();
        let outcome = timeout(PATIENCE, carrier.send(message, false))
            .await
            .map_err(|_| "no submit_sm_resp")??;
        for _ in 0..segments {
            let submit = timeout(PATIENCE, smsc.next_submit())
                .await?
                .ok_or("the simulator stopped")?;
            let coding = match submit.data_coding {
                0x00 => "GSM 7-bit",
                0x08 => "UCS-2",
                other => return Err(format!("unexpected data_coding {other:#04x}").into()),
            };
            let part = match submit.concat {
                Some((reference, total, seq)) => format!("part {seq}/{total} (ref {reference:#x})"),
                None => "single part".to_owned(),
            };
            println!(
                "    SMSC got submit_sm: {coding} (data_coding {:#04x}), {part}: {:?}",
                submit.data_coding,
                submit.text.as_deref().unwrap_or("")
            );
        }
        for segment in &outcome.segments {
            match segment {
                SegmentOutcome::Accepted { message_id, key } => {
                    println!("    submit_sm_resp: accepted, SMSC message id {message_id}");
                    awaiting.insert(key.clone(), n);
                    receipts_due += 1;
                    finals[n] = "submitted".to_owned();
                }
                SegmentOutcome::Rejected { status } => {
                    println!("    submit_sm_resp: rejected with {status}");
                    finals[n] = format!("rejected ({status})");
                }
                other => finals[n] = format!("{other:?}"),
            }
        }
        println!();
    }

    println!("Receipts (the SMSC writes the id in decimal; Kori matches it to the hex submit id):");
    let mut states: HashMap<usize, Vec<MessageState>> = HashMap::new();
    while receipts_due > 0 {
        let event = timeout(PATIENCE, events.recv())
            .await
            .map_err(|_| "receipts did not arrive")?;
        let Some(Event::Receipt { receipt, .. }) = event else {
            continue;
        };
        let Some(n) = receipt_keys(&receipt).find_map(|k| awaiting.remove(&k)) else {
            return Err(format!("receipt id:{} matches no submit", receipt.message_id).into());
        };
        receipts_due -= 1;
        println!(
            "    id:{} → [{}] {}",
            receipt.message_id,
            n + 1,
            receipt.state
        );
        states.entry(n).or_default().push(receipt.state);
    }
    for (n, parts) in states {
        finals[n] = if parts.iter().all(|s| *s == MessageState::Delivered) {
            "delivered".to_owned()
        } else {
            "undeliverable".to_owned()
        };
    }

    println!("\nFinal states:");
    for (n, ((label, _, _), state)) in SAMPLES.iter().zip(&finals).enumerate() {
        println!("    [{}] {label}: {state}", n + 1);
    }
    cancel.cancel();
    tracker.close();
    timeout(PATIENCE, tracker.wait())
        .await
        .map_err(|_| "the bind did not stop")?;
    let unbound = sim.stats().unbinds;
    println!(
        "\nUnbound from the SMSC ({unbound} unbind answered); every receipt matched its submit."
    );
    sim.shutdown().await;
    Ok(())
}
