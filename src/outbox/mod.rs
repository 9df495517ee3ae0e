//! The outbox: every accepted message, on disk, on its way to exactly one terminal state.
//!
//! Owns the message model, its state machine, and (with the dispatcher) the path from
//! accepted to submitted to final. Must not touch: sled (only `store` does), HTTP. Called by
//! the HTTP intake and the recovery engine; started by `app`.

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
