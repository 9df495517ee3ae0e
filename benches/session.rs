//! Session throughput: one bind, window 512, Kori's carrier session against the in-repo sink
//! (the simulator with receipts off), both on one 2-worker tokio runtime on the same machine.
//! Each iteration submits a batch of messages through `Carrier::send` from 1,024 concurrent
//! callers and waits for every `submit_sm_resp`.
//!
//! Run with `cargo bench --bench session`.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kori::sim::{ReceiptStyle, Sim, SimConfig};
use kori::smpp::{Carrier, CarrierConfig, OutMessage};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const BATCH: usize = 102_400;
const CALLERS: usize = 1_024;

fn one_bind(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (carrier, message, _sim, _events) = runtime.block_on(async {
        let sim = Sim::start(SimConfig {
            receipts: ReceiptStyle::None,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let mut config = CarrierConfig::new("sink", "127.0.0.1", sim.addr().port());
        config.window = NonZeroU32::new(512).unwrap();
        config.tps = NonZeroU32::new(100_000_000).unwrap();
        config.response_timeout = Duration::from_secs(60);
        let (tx, events) = mpsc::channel(1024);
        let carrier = Carrier::start(config, tx, &CancellationToken::new(), &TaskTracker::new());
        carrier.wait_up().await;
        let message = OutMessage::from_text(
            carrier.config(),
            "DemoShop",
            "+358401234567",
            "Hei Aino, ostoskorisi odottaa: https://shop.example/k/c/8fK2a Vastaa STOP",
            None,
            0,
        )
        .unwrap();
        (carrier, message, sim, events)
    });
    let message = Arc::new(message);
    let mut group = c.benchmark_group("session_one_bind_window_512");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    group.bench_function("submit_sm_to_sink", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iterations {
                    let mut callers = Vec::with_capacity(CALLERS);
                    for _ in 0..CALLERS {
                        let carrier = carrier.clone();
                        let message = message.clone();
                        callers.push(tokio::spawn(async move {
                            for _ in 0..BATCH / CALLERS {
                                let outcome =
                                    carrier.send((*message).clone(), false).await.unwrap();
                                assert!(outcome.all_accepted());
                            }
                        }));
                    }
                    for caller in callers {
                        caller.await.unwrap();
                    }
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, one_bind);
criterion_main!(benches);
