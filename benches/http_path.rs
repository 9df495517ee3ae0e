//! The whole path, end to end: HTTP → disk → SMPP → `submit_sm_resp`.
//!
//! The daemon (`Daemon::start`, as `korid run` builds it) runs on its own tokio runtime with
//! `korid run`'s workers (`app::daemon_worker_threads`: one on 2 CPUs), with a store in a
//! temporary directory on disk (`StoreLocation::Path`, so every flush is a real fsync), one
//! carrier (window 512, no rate limit) bound to the in-repo sink (the simulator with
//! receipts off). The load (keep-alive HTTP/1.1 clients, one hyper
//! connection each) and the sink run together on a separate single-threaded runtime on one
//! more OS thread, so that their CPU time can be told apart from the daemon's.
//!
//! Each bench below starts a daemon of its own on an empty store (and stops it after), so
//! that none is measured on a store the one before it filled; the store grows over its
//! iterations, as a real one does.
//!
//! Each iteration posts `N` messages and stops the clock when every one of them has been
//! recorded `submitted` (the outbox's state changes, counted; `submitted` is announced only
//! after the `submit_sm_resp` is durably recorded).
//!
//! - `single`: `POST /v1/messages`, one message per request, from `CONNECTIONS` connections.
//! - `batch_1000`: `POST /v1/messages/batch` with 1,000 messages per request,
//!   `BATCH_CONNECTIONS` requests in flight.
//!
//! These messages ask for no delivery receipt (`"receipt": false`), so the path ends at the
//! recorded `submit_sm_resp` and nothing of them stays open: the path the targets are set for.
//!
//! - `batch_1000_awaiting_receipts`: as `batch_1000`, but every message asks for a receipt
//!   that the sink never sends. Each one stays open with its receipt-wait and carrier-id index
//!   entries, as a message does between its submit and its receipt: this shows what tracking
//!   receipts costs on top.
//!
//! CPU per message: process CPU time (utime + stime of `/proc/self/stat`, in clock ticks of
//! 1/100 s: `sysconf(_SC_CLK_TCK)` is 100 on Linux) before and after, divided by messages.
//! "daemon" subtracts the load thread's own CPU (`/proc/thread-self/stat`), so it is the
//! daemon's runtime, its blocking threads (store writer) and sled's threads. Linux only; on
//! other systems the CPU lines are left out.
//!
//! Run with `cargo bench --bench http_path`. `KORI_BENCH_SINGLE` and `KORI_BENCH_BATCH` set
//! the messages per iteration (defaults 20,000 and 100,000).
#![allow(clippy::unwrap_used, missing_docs)]

/// The allocator `korid` runs with.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use bytes::Bytes;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use kori::app::{Daemon, DaemonConfig, StoreLocation};
use kori::clock::Clock;
use kori::outbox::{MessageState, StateChange};
use kori::sim::{ReceiptStyle, Sim, SimConfig};
use kori::smpp::CarrierConfig;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

const TOKEN: &str = "bench-admin-token";
/// Keep-alive connections for single sends.
const CONNECTIONS: usize = 64;
/// Batch requests in flight.
const BATCH_CONNECTIONS: usize = 4;
/// Messages per batch request.
const PER_BATCH: usize = 1_000;
/// Clock ticks per second of `/proc/*/stat` (`sysconf(_SC_CLK_TCK)`; 100 on Linux).
const CLK_TCK: f64 = 100.0;

fn messages_per_iteration(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// utime + stime in clock ticks from a `/proc/.../stat` file, if readable.
fn cpu_ticks(path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the file; `rest` starts at field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn process_ticks() -> Option<u64> {
    cpu_ticks("/proc/self/stat")
}

fn thread_ticks() -> Option<u64> {
    cpu_ticks("/proc/thread-self/stat")
}

#[derive(Clone, Copy)]
enum Kind {
    Single,
    Batch,
    /// As `Batch`, but every message asks for a receipt (which the sink never sends): each
    /// one stays open, with its receipt-wait and carrier-id index entries.
    BatchAwaitingReceipts,
}

struct Job {
    kind: Kind,
    /// The outbox's state changes, subscribed before any post: the job ends when `messages`
    /// of them are `submitted`. Counted on the load thread, so that counting is not taken
    /// for the daemon's work.
    changes: tokio::sync::broadcast::Receiver<StateChange>,
    messages: usize,
    done: std_mpsc::Sender<JobResult>,
}

struct JobResult {
    elapsed: Duration,
    load_ticks: Option<u64>,
}

/// The body of one message; numbers vary so that they are not all one string.
fn message(n: usize, receipt: bool) -> serde_json::Value {
    serde_json::json!({
        "to": format!("+3584012{:05}", n % 100_000),
        "from": "DemoShop",
        "text": "Hei Aino, ostoskorisi odottaa: https://shop.example/k/c/8fK2a Vastaa STOP",
        "reference": format!("cart-{n}"),
        "receipt": receipt,
    })
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender
}

async fn post(sender: &mut Sender, addr: SocketAddr, path: &str, body: Bytes) {
    sender.ready().await.unwrap();
    let request = hyper::Request::builder()
        .method("POST")
        .uri(path)
        .header("host", addr.to_string())
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(Full::new(body))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
}

struct Bench {
    daemon: Daemon,
    daemon_rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    jobs: std_mpsc::Sender<Job>,
    single: usize,
    batch: usize,
}

fn setup() -> Bench {
    let single_n = messages_per_iteration("KORI_BENCH_SINGLE", 20_000);
    let batch_n =
        messages_per_iteration("KORI_BENCH_BATCH", 100_000).div_ceil(PER_BATCH) * PER_BATCH;
    let single: Arc<Vec<Bytes>> = Arc::new(
        (0..single_n)
            .map(|n| Bytes::from(message(n, false).to_string()))
            .collect(),
    );
    let batches = |receipt: bool| -> Arc<Vec<Bytes>> {
        Arc::new(
            (0..batch_n / PER_BATCH)
                .map(|b| {
                    let entries: Vec<_> = (0..PER_BATCH)
                        .map(|i| message(b * PER_BATCH + i, receipt))
                        .collect();
                    Bytes::from(serde_json::json!({ "messages": entries }).to_string())
                })
                .collect(),
        )
    };
    let batch = batches(false);
    let batch_receipts = batches(true);

    // The load thread: the sink first (the daemon's carrier binds to it), then the clients.
    let (sink_tx, sink_rx) = std_mpsc::channel::<SocketAddr>();
    let (addr_tx, addr_rx) = oneshot::channel::<SocketAddr>();
    let (jobs_tx, jobs_rx) = std_mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("load".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let sim = rt.block_on(async {
                Sim::start(SimConfig {
                    receipts: ReceiptStyle::None,
                    ..SimConfig::default()
                })
                .await
                .unwrap()
            });
            sink_tx.send(sim.addr()).unwrap();
            let addr = rt.block_on(addr_rx).unwrap();
            let mut clients = Vec::with_capacity(CONNECTIONS);
            // Jobs come over a std channel: wait for one while the runtime keeps the sink
            // going on this same thread.
            loop {
                let job = rt.block_on(async {
                    loop {
                        match jobs_rx.try_recv() {
                            Ok(job) => return Some(job),
                            Err(std_mpsc::TryRecvError::Empty) => {
                                tokio::time::sleep(Duration::from_millis(1)).await
                            }
                            Err(std_mpsc::TryRecvError::Disconnected) => return None,
                        }
                    }
                });
                let Some(job) = job else { break };
                let before = thread_ticks();
                let start = Instant::now();
                rt.block_on(async {
                    let (mut changes, messages) = (job.changes, job.messages);
                    let submitted = tokio::spawn(async move {
                        let mut seen = 0;
                        while seen < messages {
                            match changes.recv().await {
                                Ok(change) if change.to == MessageState::Submitted => seen += 1,
                                Ok(_) => {}
                                Err(e) => panic!("state changes: {e} (the counter fell behind)"),
                            }
                        }
                    });
                    let (bodies, path, connections) = match job.kind {
                        Kind::Single => (&single, "/v1/messages", CONNECTIONS),
                        Kind::Batch => (&batch, "/v1/messages/batch", BATCH_CONNECTIONS),
                        Kind::BatchAwaitingReceipts => {
                            (&batch_receipts, "/v1/messages/batch", BATCH_CONNECTIONS)
                        }
                    };
                    // Fresh connections per job: the daemon closes idle ones after its
                    // request_timeout, and criterion's analysis between benches takes a while.
                    for _ in 0..connections {
                        clients.push(connect(addr).await);
                    }
                    let next = Arc::new(AtomicUsize::new(0));
                    let mut tasks = Vec::new();
                    for mut sender in clients.drain(..connections) {
                        let bodies = bodies.clone();
                        let next = next.clone();
                        tasks.push(tokio::spawn(async move {
                            loop {
                                let i = next.fetch_add(1, Ordering::Relaxed);
                                let Some(body) = bodies.get(i) else { break };
                                post(&mut sender, addr, path, body.clone()).await;
                            }
                            sender
                        }));
                    }
                    for task in tasks {
                        drop(task.await.unwrap());
                    }
                    submitted.await.unwrap();
                });
                let elapsed = start.elapsed();
                let load_ticks = before.zip(thread_ticks()).map(|(b, a)| a - b);
                job.done
                    .send(JobResult {
                        elapsed,
                        load_ticks,
                    })
                    .unwrap();
            }
            rt.block_on(sim.shutdown());
        })
        .unwrap();
    let sink = sink_rx.recv().unwrap();

    // As `korid run` builds it (one worker on 2 CPUs: a core is left to the store writer).
    let mut daemon_rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = kori::app::daemon_worker_threads() {
        daemon_rt.worker_threads(workers);
    }
    let daemon_rt = daemon_rt.enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon_rt.block_on(async {
        let mut carrier = CarrierConfig::new("sink", "127.0.0.1", sink.port());
        carrier.window = NonZeroU32::new(512).unwrap();
        carrier.tps = NonZeroU32::new(100_000_000).unwrap();
        carrier.response_timeout = Duration::from_secs(60);
        let store = StoreLocation::Path(dir.path().join("store"));
        let mut config = DaemonConfig::local(store, "bench", TOKEN, vec![carrier]);
        // Where receipts are awaited (they never come), every message stays open and the
        // backlog only grows; this bench is not about 503s.
        config.http.high_water = u64::MAX;
        let daemon = Daemon::start(config, Clock::system()).await.unwrap();
        let carrier = daemon.outbox().router().carriers()[0].clone();
        tokio::time::timeout(Duration::from_secs(10), carrier.wait_up())
            .await
            .unwrap();
        daemon
    });
    addr_tx.send(daemon.http_addr()).unwrap();
    Bench {
        daemon_rt,
        daemon,
        _dir: dir,
        jobs: jobs_tx,
        single: single_n,
        batch: batch_n,
    }
}

/// Totals over every iteration of one bench, for the CPU line.
#[derive(Default)]
struct Totals {
    messages: u64,
    flushes: u64,
    wall: Duration,
    process_ticks: u64,
    load_ticks: u64,
    cpu_known: bool,
}

impl Totals {
    fn report(&self, name: &str) {
        let n = self.messages as f64;
        eprintln!(
            "{name}: {} messages in {:.2?}: {:.0} msg/s",
            self.messages,
            self.wall,
            n / self.wall.as_secs_f64()
        );
        eprintln!(
            "{name}: {:.0} messages per store flush",
            n / (self.flushes.max(1) as f64)
        );
        if self.cpu_known {
            let us = |ticks: u64| ticks as f64 / CLK_TCK * 1e6 / n;
            eprintln!(
                "{name}: CPU per message: {:.1} µs whole process, {:.1} µs daemon (load thread: {:.1} µs)",
                us(self.process_ticks),
                us(self.process_ticks.saturating_sub(self.load_ticks)),
                us(self.load_ticks)
            );
        }
    }
}

/// One iteration: every message posted, and every one recorded `submitted`.
fn run_once(bench: &Bench, kind: Kind, totals: &mut Totals) -> Duration {
    let messages = match kind {
        Kind::Single => bench.single,
        Kind::Batch | Kind::BatchAwaitingReceipts => bench.batch,
    };
    // Subscribed before any post; counted on the load thread.
    let changes = bench.daemon.outbox().subscribe();
    let (done, result) = std_mpsc::channel();
    let flushes = bench.daemon.outbox().store_flushes();
    let before = process_ticks();
    bench
        .jobs
        .send(Job {
            kind,
            changes,
            messages,
            done,
        })
        .unwrap();
    let result = result.recv().unwrap();
    let after = process_ticks();
    totals.flushes += bench.daemon.outbox().store_flushes() - flushes;
    totals.messages += messages as u64;
    totals.wall += result.elapsed;
    match (before.zip(after), result.load_ticks) {
        (Some((b, a)), Some(load)) => {
            totals.process_ticks += a - b;
            totals.load_ticks += load;
            totals.cpu_known = true;
        }
        _ => totals.cpu_known = false,
    }
    result.elapsed
}

fn http_path(c: &mut Criterion) {
    for (kind, name) in [
        (Kind::Single, "single"),
        (Kind::Batch, "batch_1000"),
        (Kind::BatchAwaitingReceipts, "batch_1000_awaiting_receipts"),
    ] {
        // Each kind on a daemon of its own with an empty store, so that no kind is measured on
        // a store the one before it filled.
        let bench = setup();
        let messages = match kind {
            Kind::Single => bench.single,
            Kind::Batch | Kind::BatchAwaitingReceipts => bench.batch,
        };
        let mut group = c.benchmark_group("http_path");
        group.throughput(Throughput::Elements(messages as u64));
        group.sample_size(10);
        group.sampling_mode(SamplingMode::Flat);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(10));
        let mut totals = Totals::default();
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                (0..iterations)
                    .map(|_| run_once(&bench, kind, &mut totals))
                    .sum()
            })
        });
        group.finish();
        if totals.messages > 0 {
            totals.report(&format!("http_path/{name}"));
        }
        let Bench {
            daemon, daemon_rt, ..
        } = bench;
        daemon_rt.block_on(daemon.stop());
    }
}

criterion_group!(benches, http_path);
criterion_main!(benches);
