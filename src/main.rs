//! `korid`, the Kori daemon: parses the command line and hands over to [`kori::app`].

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => kori::app::demo(),
        Command::CheckConfig { path } => kori::app::check_config(&path),
    }
}
