//! Session throughput: one bind, window 512, against the in-repo sink (the simulator with
//! receipts off), both on one 2-worker tokio runtime on the same machine. Each iteration
//! submits a batch of messages from 1,024 concurrent callers and waits for every
//! `submit_sm_resp`: through Kori's carrier session (`Carrier::send`), and, in the same run
//! against the same sink, through the `smpp34` crate's client session
//! (`SMSC::send_submit_sm_pdu`) with the same window and the same message, and through
//! `rusmpp`'s (`rusmppc::Client::submit_sm`; it has no window of its own, so a semaphore of
//! the same 512 permits stands in for one).
//!
//! Run with `cargo bench --bench session`.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kori::sim::{ReceiptStyle, Sim, SimConfig};
use kori::smpp::{Carrier, CarrierConfig, OutMessage};
use smpp34::client::{BIND_TYPE, SMSC, SmppClient, SmppClientListener};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const BATCH: usize = 102_400;
const CALLERS: usize = 1_024;
const WINDOW: u32 = 512;
const TEXT: &str = "Hei Aino, ostoskorisi odottaa: https://shop.example/k/c/8fK2a Vastaa STOP";

/// smpp34's client hands the bound session to its listener.
struct BoundSession(std::sync::Mutex<Option<tokio::sync::oneshot::Sender<SMSC>>>);

#[async_trait::async_trait]
impl SmppClientListener for BoundSession {
    async fn on_smsc_bound(&self, smsc: SMSC, _session_id: &String) {
        if let Some(bound) = self.0.lock().unwrap().take() {
            let _ = bound.send(smsc);
        }
    }
}

/// `submit_sm`s from `CALLERS` tasks until `BATCH` are answered, each through `submit`.
async fn from_callers<F, Fut>(submit: F)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut callers = Vec::with_capacity(CALLERS);
    for _ in 0..CALLERS {
        let submit = submit.clone();
        callers.push(tokio::spawn(async move {
            for _ in 0..BATCH / CALLERS {
                submit().await;
            }
        }));
    }
    for caller in callers {
        caller.await.unwrap();
    }
}

/// The bench `name`: each iteration, `BATCH` submits from `CALLERS` tasks through `submit`.
fn bench_bind<F, Fut>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    submit: F,
) where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    group.bench_function(name, |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iterations {
                    from_callers(submit.clone()).await;
                }
                start.elapsed()
            })
        })
    });
}

fn one_bind(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (carrier, message, sim, _events) = runtime.block_on(async {
        let sim = Sim::start(SimConfig {
            receipts: ReceiptStyle::None,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let mut config = CarrierConfig::new("sink", "127.0.0.1", sim.addr().port());
        config.window = NonZeroU32::new(WINDOW).unwrap();
        config.tps = NonZeroU32::new(100_000_000).unwrap();
        config.response_timeout = Duration::from_secs(60);
        let (tx, events) = mpsc::channel(1024);
        let carrier = Carrier::start(config, tx, &CancellationToken::new(), &TaskTracker::new());
        carrier.wait_up().await;
        let message =
            OutMessage::from_text(carrier.config(), "DemoShop", "+358401234567", TEXT, None, 0)
                .unwrap();
        (carrier, message, sim, events)
    });
    let message = Arc::new(message);
    let mut group = c.benchmark_group("session_one_bind_window_512");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    bench_bind(&mut group, &runtime, "submit_sm_to_sink", move || {
        let (carrier, message) = (carrier.clone(), message.clone());
        async move {
            let outcome = carrier.send((*message).clone(), false).await.unwrap();
            assert!(outcome.all_accepted());
        }
    });

    // The same bind through smpp34: the message as Kori's first (only) submit_sm carries it.
    let (smsc, submit, _client) = runtime.block_on(async {
        let (bound, session) = tokio::sync::oneshot::channel();
        let mut client = SmppClient::new(
            "127.0.0.1".into(),
            sim.addr().port(),
            false,
            BIND_TYPE::TRX,
            "smpp34".into(),
            String::new(),
            String::new(),
            0,
            0,
            String::new(),
            Arc::new(BoundSession(std::sync::Mutex::new(Some(bound)))),
            WINDOW as usize,
        );
        client.start().await;
        let smsc = session.await.unwrap();
        let submit = smpp34::submit_sm::new(
            0,
            String::new(),
            5, // alphanumeric
            0,
            "DemoShop".into(),
            1, // international
            1, // ISDN
            "358401234567".into(),
            0,
            0,
            0,
            String::new(),
            String::new(),
            0,
            0,
            0,
            0,
            TEXT.as_bytes().to_vec(), // GSM 7-bit unpacked: these characters are their ASCII codes
        );
        (Arc::new(smsc), submit, client)
    });
    bench_bind(
        &mut group,
        &runtime,
        "smpp34_submit_sm_to_sink",
        move || {
            let (smsc, submit) = (smsc.clone(), submit.clone());
            async move {
                let answer = smsc.send_submit_sm_pdu(submit).await.unwrap();
                assert!(answer.is_success());
            }
        },
    );

    // The same bind through rusmppc.
    let (rusmpp_client, rusmpp_submit) = runtime.block_on(async {
        use rusmpp::pdus::{BindTransceiver, SubmitSm};
        use rusmpp::types::{COctetString, OctetString};
        use rusmpp::values::{Npi, Ton};
        use std::str::FromStr;
        let stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
        let (client, mut events) = rusmppc::ConnectionBuilder::new()
            .no_enquire_link_interval()
            .response_timeout(Duration::from_secs(60))
            .disable_interface_version_check()
            .connected(stream);
        tokio::spawn(async move {
            use futures_util::StreamExt;
            while events.next().await.is_some() {}
        });
        client
            .bind_transceiver(
                BindTransceiver::builder()
                    .system_id(COctetString::from_str("rusmpp").unwrap())
                    .password(COctetString::empty())
                    .system_type(COctetString::empty())
                    .addr_ton(Ton::Unknown)
                    .addr_npi(Npi::Unknown)
                    .address_range(COctetString::empty())
                    .build(),
            )
            .await
            .unwrap();
        let submit = SubmitSm::builder()
            .source_addr_ton(Ton::Alphanumeric)
            .source_addr_npi(Npi::Unknown)
            .source_addr(COctetString::from_str("DemoShop").unwrap())
            .dest_addr_ton(Ton::International)
            .dest_addr_npi(Npi::Isdn)
            .destination_addr(COctetString::from_str("358401234567").unwrap())
            .short_message(OctetString::from_str(TEXT).unwrap())
            .build();
        (client, submit)
    });
    let rusmpp_window = Arc::new(tokio::sync::Semaphore::new(WINDOW as usize));
    bench_bind(
        &mut group,
        &runtime,
        "rusmpp_submit_sm_to_sink",
        move || {
            let (client, submit) = (rusmpp_client.clone(), rusmpp_submit.clone());
            let window = rusmpp_window.clone();
            async move {
                let _slot = window.acquire().await.unwrap();
                client.submit_sm(submit).await.unwrap();
            }
        },
    );
    group.finish();
}

criterion_group!(benches, one_bind);
criterion_main!(benches);
