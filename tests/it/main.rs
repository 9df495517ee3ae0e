//! Kori's integration tests: one binary, one module per subject (style.md §7).
#![allow(clippy::unwrap_used)]

mod callbacks;
mod config;
mod demo;
mod http;
mod interop_npm;
mod session;
mod sim;
