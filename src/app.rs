//! Composition root: builds every part of the daemon and runs it.
//!
//! Owns the order in which parts start and stop ([`Daemon`]), and the subcommands. Called only
//! by `main.rs` (and by tests, which start a [`Daemon`] like `korid run` does).

use crate::clock::Clock;
use crate::config::{Config, TokenScope};
use crate::http::{ApiToken, HttpConfig, Scope};
use crate::outbox::{Outbox, OutboxConfig};
use crate::smpp::{Carrier, CarrierConfig, Router};
use crate::store::{Store, StoreError, StoreOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info};

/// Receipts, MO and bind changes waiting for the outbox; when full, sessions answer the SMSC
/// with a temporary error so it delivers again.
const EVENT_QUEUE: usize = 65_536;

/// Where the store lives.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// A directory on disk.
    Path(PathBuf),
    /// A temporary store, deleted on exit (`korid demo`, tests).
    Temporary,
}

/// Everything a running Kori is built from.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// The store.
    pub store: StoreLocation,
    /// How the store runs (its group-commit window).
    pub store_options: StoreOptions,
    /// The HTTP intake.
    pub http: HttpConfig,
    /// The carriers.
    pub carriers: Vec<CarrierConfig>,
    /// The outbox's retry and receipt settings.
    pub outbox: OutboxConfig,
}

impl DaemonConfig {
    /// A daemon listening on 127.0.0.1 (a free port) with one admin token `token` named
    /// `name`, on `store` and `carriers`, everything else as `korid run` has it when the config
    /// file leaves it out: for `korid demo`, the benches and the tests.
    pub fn local(
        store: StoreLocation,
        name: &str,
        token: &str,
        carriers: Vec<CarrierConfig>,
    ) -> Self {
        Self {
            store,
            store_options: StoreOptions {
                flush_every: crate::config::DEFAULT_FLUSH_EVERY,
            },
            http: HttpConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                tokens: vec![ApiToken {
                    name: name.to_owned(),
                    secret: crate::config::Secret::new(token),
                    scope: Scope::Admin,
                }],
                ..HttpConfig::default()
            },
            carriers,
            outbox: OutboxConfig::default(),
        }
    }

    /// The daemon a config file describes.
    pub fn from_config(config: &Config) -> Self {
        let tokens = config
            .tokens
            .iter()
            .map(|t| ApiToken {
                name: t.name.clone(),
                secret: t.secret.clone(),
                scope: match t.scope {
                    TokenScope::Admin => Scope::Admin,
                    TokenScope::Shop(_) => Scope::Shop,
                },
            })
            .collect();
        let http = HttpConfig {
            listen: config.http.listen,
            max_body: config.http.max_body,
            high_water: config.http.high_water,
            request_timeout: config.http.request_timeout,
            tokens,
            ..HttpConfig::default()
        };
        let outbox = OutboxConfig {
            receipt_timeout: config
                .carriers
                .iter()
                .map(|c| (c.name().to_owned(), c.receipt_timeout))
                .collect(),
            callback_secret: config.http.callback_secret.clone().unwrap_or_default(),
            callback_cas: config.http.callback_cas.clone(),
            ..OutboxConfig::default()
        };
        Self {
            store: if config.store.temporary {
                StoreLocation::Temporary
            } else {
                StoreLocation::Path(config.store.path.clone())
            },
            store_options: StoreOptions {
                flush_every: config.store.flush_every,
            },
            http,
            carriers: config.carriers.iter().map(|c| c.smpp()).collect(),
            outbox,
        }
    }
}

/// Why Kori could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store would not open.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running Kori: store, carrier sessions, outbox and HTTP intake.
pub struct Daemon {
    outbox: Outbox,
    store: Store,
    http_addr: SocketAddr,
    http_cancel: CancellationToken,
    http: JoinHandle<std::io::Result<()>>,
    work_cancel: CancellationToken,
    carriers_cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Daemon {
    /// Opens the store, starts the carriers' binds, recovers and starts the outbox, and
    /// listens for HTTP. Binds come up in the background; `/readyz` reports them.
    pub async fn start(config: DaemonConfig, clock: Clock) -> Result<Daemon, StartError> {
        let store = match &config.store {
            StoreLocation::Path(path) => Store::open_configured(path, config.store_options)?,
            StoreLocation::Temporary => Store::open_temporary_configured(config.store_options)?,
        };
        let tracker = TaskTracker::new();
        let carriers_cancel = CancellationToken::new();
        let work_cancel = CancellationToken::new();
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let carriers = config
            .carriers
            .into_iter()
            .map(|c| Carrier::start(c, events_tx.clone(), &carriers_cancel, &tracker))
            .collect();
        drop(events_tx);
        let router = Router::new(carriers);
        let outbox = Outbox::start(
            store.clone(),
            router,
            events_rx,
            config.outbox,
            clock,
            &work_cancel,
            &tracker,
        )
        .await?;
        let listener = TcpListener::bind(config.http.listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.http.listen,
                source,
            })?;
        let http_addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.http.listen,
            source,
        })?;
        let http_cancel = CancellationToken::new();
        let http = tokio::spawn(crate::http::serve(
            listener,
            config.http,
            Arc::new(outbox.clone()),
            http_cancel.clone(),
        ));
        info!(%http_addr, "listening");
        Ok(Daemon {
            outbox,
            store,
            http_addr,
            http_cancel,
            http,
            work_cancel,
            carriers_cancel,
            tracker,
        })
    }

    /// The outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Where the HTTP intake listens.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Stops in order: intake (requests in progress finish), then the dispatcher stops
    /// handing out messages, then the binds answer what is in flight and unbind, then the
    /// store flushes and closes.
    pub async fn stop(self) {
        self.http_cancel.cancel();
        match self.http.await {
            Ok(Err(e)) => error!(error = %e, "HTTP intake ended with an error"),
            Err(e) => error!(error = %e, "HTTP intake task failed"),
            Ok(Ok(())) => {}
        }
        self.work_cancel.cancel();
        self.carriers_cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        drop(self.outbox);
        if let Err(e) = self.store.close().await {
            error!(error = %e, "closing the store");
        }
    }
}

/// The config file, or the exit status after printing its problems.
fn load_config(path: &Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|errors| {
        eprintln!("{errors}");
        ExitCode::from(EXIT_CONFIG_INVALID)
    })
}

/// The async worker threads `korid run` starts: one fewer than the CPUs it may use (at least
/// one), so that the store's writer, a thread of its own that is busy whenever messages
/// come, keeps a core instead of competing with the workers for it. `None` when
/// `TOKIO_WORKER_THREADS` is set: tokio then takes that number.
///
/// Measured on 2 cores (benches/http_path.rs, alternating runs): one worker instead of two
/// took 4–16% less CPU per single-request message at the same throughput.
pub fn daemon_worker_threads() -> Option<usize> {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    workers_for(cpus, std::env::var_os("TOKIO_WORKER_THREADS").is_some())
}

fn workers_for(cpus: usize, overridden: bool) -> Option<usize> {
    (!overridden).then(|| cpus.saturating_sub(1).max(1))
}

/// How a runtime is built.
#[derive(Clone, Copy)]
enum Threads {
    /// `korid run`: [`daemon_worker_threads`].
    Daemon,
    /// The simulator: one worker per CPU.
    PerCpu,
    /// The CLI: the calling thread.
    Current,
}

/// A tokio runtime, or the exit status after saying why there is none.
fn runtime(threads: Threads) -> Result<tokio::runtime::Runtime, ExitCode> {
    let mut builder = match threads {
        Threads::Daemon | Threads::PerCpu => tokio::runtime::Builder::new_multi_thread(),
        Threads::Current => tokio::runtime::Builder::new_current_thread(),
    };
    if let (Threads::Daemon, Some(workers)) = (threads, daemon_worker_threads()) {
        builder.worker_threads(workers);
    }
    builder.enable_all().build().map_err(|e| {
        eprintln!("korid: cannot start the runtime: {e}");
        ExitCode::FAILURE
    })
}

/// `korid run --config PATH`: the daemon, until SIGTERM or SIGINT.
pub fn run(path: &Path) -> ExitCode {
    let config = match load_config(path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    crate::telemetry::init(&config.telemetry);
    for note in config.not_in_effect_yet() {
        tracing::warn!("{note}");
    }
    let runtime = match runtime(Threads::Daemon) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let daemon = match Daemon::start(DaemonConfig::from_config(&config), Clock::system()).await
        {
            Ok(daemon) => daemon,
            Err(e) => {
                error!(error = %e, "cannot start");
                eprintln!("korid: {e}");
                return ExitCode::FAILURE;
            }
        };
        shutdown_signal().await;
        info!("stopping");
        daemon.stop().await;
        info!("stopped");
        ExitCode::SUCCESS
    })
}

/// Resolves on SIGTERM (systemd's stop) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `korid demo`: see [`crate::demo`].
pub fn demo() -> ExitCode {
    crate::demo::main()
}

/// `korid store backup --config PATH DEST`: a consistent copy of the store at `DEST` (a new
/// directory), taken while korid is stopped (sled allows one process per store).
pub fn store_backup(config_path: &Path, dest: &Path) -> ExitCode {
    let config = match load_config(config_path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let runtime = match runtime(Threads::Current) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        let store = Store::open(&config.store.path)?;
        store.backup(dest).await?;
        store.close().await
    });
    match result {
        Ok(()) => {
            println!(
                "backup of {} written to {}",
                config.store.path.display(),
                dest.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("korid: backup failed: {e} (is korid still running? stop it first)");
            ExitCode::FAILURE
        }
    }
}

/// `korid sim --listen ADDR`: the built-in SMSC simulator on its own, for trying `korid run`
/// without a carrier (binds with any credentials, answers submits, sends receipts after one
/// second). Runs until SIGTERM/SIGINT.
pub fn sim(listen: SocketAddr) -> ExitCode {
    let runtime = match runtime(Threads::PerCpu) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let sim = match crate::sim::Sim::start_on(listen, crate::sim::SimConfig::default()).await {
            Ok(sim) => sim,
            Err(e) => {
                eprintln!("korid sim: cannot listen on {listen}: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "SMSC simulator listening on {} (any system_id/password; receipts after 1 s)",
            sim.addr()
        );
        shutdown_signal().await;
        let stats = sim.stats();
        sim.shutdown().await;
        println!(
            "stopped: {} binds, {} submits accepted, {} receipts sent",
            stats.binds, stats.submits_accepted, stats.receipts_sent
        );
        ExitCode::SUCCESS
    })
}

/// How long `korid messages show` waits for the daemon.
const CLI_TIMEOUT: Duration = Duration::from_secs(10);

/// `korid messages show ID --config PATH`: asks the running daemon (its HTTP intake, with the
/// first admin token of the config) and prints the message as JSON.
pub fn messages_show(config_path: &Path, id: &str) -> ExitCode {
    let config = match load_config(config_path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let Some(token) = config.tokens.iter().find(|t| t.scope == TokenScope::Admin) else {
        eprintln!("korid: the config has no admin token to ask the daemon with");
        return ExitCode::FAILURE;
    };
    let runtime = match runtime(Threads::Current) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let url = format!("http://{}/v1/messages/{id}", config.http.listen);
    // The timeout's timer must be made inside the runtime.
    let answer = runtime.block_on(async {
        tokio::time::timeout(CLI_TIMEOUT, crate::client::get(&url, token.secret.expose())).await
    });
    match answer {
        Ok(Ok((200, body))) => {
            println!("{body}");
            ExitCode::SUCCESS
        }
        Ok(Ok((status, body))) => {
            eprintln!("korid: the daemon answered {status}: {body}");
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            eprintln!("korid: cannot reach the daemon at {url}: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("korid: no answer from the daemon at {url} within {CLI_TIMEOUT:?}");
            ExitCode::FAILURE
        }
    }
}

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
            for note in config.not_in_effect_yet() {
                println!("note: {note}");
            }
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

#[cfg(test)]
mod tests {
    use super::workers_for;

    #[test]
    fn the_daemon_leaves_a_core_to_the_store_writer() {
        assert_eq!(workers_for(1, false), Some(1));
        assert_eq!(workers_for(2, false), Some(1));
        assert_eq!(workers_for(8, false), Some(7));
        // TOKIO_WORKER_THREADS set: tokio reads it.
        assert_eq!(workers_for(8, true), None);
    }
}
