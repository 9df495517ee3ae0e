//! Kori, a self-hosted SMS gateway appliance.
//!
//! One message: `http` validates it and calls `outbox`, which writes it through `store` (202
//! only after the flush). A dispatcher picks a route and hands the segments to an `smpp`
//! session handle; the session submits under its window and throttle. Its `Event`s come back to
//! `outbox`, which reads receipts with `dlr` and records each state change in `store`.
//! `recovery` turns carts into reminders that enter `outbox` like any message.
//!
//! The wire format itself lives in the `kori-smpp` crate (`protocol/`), re-exported here as
//! [`smpp_proto`].

pub use kori_smpp as smpp_proto;

pub mod app;
pub mod client;
pub mod clock;
pub mod config;
pub mod demo;
pub mod dlr;
pub mod http;
pub mod outbox;
pub mod sim;
pub mod smpp;
pub mod store;
pub mod telemetry;
