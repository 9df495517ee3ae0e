//! The outbox: every accepted message, on disk, on its way to exactly one terminal state.
//!
//! Owns the message model, its state machine, (with the dispatcher) the path from accepted
//! to submitted to final, and (with the callback sender) telling callers of each change.
//! Must not touch: sled (only `store` does), the HTTP API (callbacks use only the leaf
//! `http::client`). Called by the HTTP intake and the recovery engine; started by `app`.

pub mod callbacks;
mod dispatch;
pub mod model;
pub mod state;

pub use dispatch::{Outbox, OutboxConfig, StateChange};

pub use model::{
    Message, MessageError, MessageId, MessageState, NewMessage, Part, PartState, TextEncoding,
    UnixMillis,
};
pub use state::{Event, IllegalTransition, apply};

/// The store's types the outbox's callers see.
pub use crate::store::{IdempotencyRecord, StoreError, Transition};
