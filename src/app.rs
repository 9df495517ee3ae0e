//! Composition root: builds every part of the daemon and runs it.
//!
//! Owns the order in which parts start and stop. Called only by `main.rs`.

use std::process::ExitCode;

/// `korid demo`: the main job on embedded defaults.
pub fn demo() -> ExitCode {
    println!("korid demo: not yet");
    ExitCode::SUCCESS
}
