//! `korid`, the Kori daemon: parses the command line and hands over to [`kori::app`].

/// jemalloc. On the HTTP → disk → SMPP path (benches/http_path.rs) mimalloc had measured
/// 14–28% more messages per second than the system allocator; jemalloc then measured 5%
/// (single requests) to 20% (batches) less CPU per message than mimalloc in alternating runs.
/// Much of the store's memory is allocated on one thread and freed on another.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "korid", version, about = "Kori SMS gateway daemon")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the main job on embedded defaults: no config, no carrier needed.
    Demo,
    /// Validate a config file, secret files included: prints every problem with its key path.
    ///
    /// Exits 0 when the file is valid, 2 when it has problems (or cannot be read).
    CheckConfig {
        /// The config file (TOML).
        path: PathBuf,
    },
    /// Run the daemon: store, carrier sessions, outbox and HTTP intake, until SIGTERM/SIGINT.
    Run {
        /// The config file (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the built-in SMSC simulator on its own, to try `korid run` without a carrier.
    Sim {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:2775")]
        listen: std::net::SocketAddr,
    },
    /// Store maintenance.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Inspect messages (asks the running daemon over its HTTP intake).
    Messages {
        #[command(subcommand)]
        command: MessagesCommand,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Write a consistent copy of the store to a new directory (with korid stopped).
    Backup {
        /// Where to write the copy (must not exist).
        dest: PathBuf,
        /// The config file naming the store.
        #[arg(long, default_value = "/etc/kori/kori.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum MessagesCommand {
    /// Print one message, its parts and times, as JSON.
    Show {
        /// The message id.
        id: String,
        /// The daemon's config file (for its address and an admin token).
        #[arg(long, default_value = "/etc/kori/kori.toml")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => kori::app::demo(),
        Command::CheckConfig { path } => kori::app::check_config(&path),
        Command::Run { config } => kori::app::run(&config),
        Command::Sim { listen } => kori::app::sim(listen),
        Command::Store {
            command: StoreCommand::Backup { dest, config },
        } => kori::app::store_backup(&config, &dest),
        Command::Messages {
            command: MessagesCommand::Show { id, config },
        } => kori::app::messages_show(&config, &id),
    }
}
