//! `korid`, the Kori daemon: parses the command line and hands over to [`kori::app`].

use clap::{Parser, Subcommand};
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => kori::app::demo(),
    }
}
