//! Kori's integration tests: one binary, one module per subject (style.md §7).
#![allow(clippy::unwrap_used)]

mod callbacks;
mod cli;
mod config;
mod crash;
mod demo;
mod http;
mod interop;
mod interop_npm;
mod interop_smpplib;
mod openapi;
mod outbox;
mod session;
mod sim;
mod wireshark_session;
