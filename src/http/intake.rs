//! The seam between the HTTP layer and the outbox.
//!
//! Owns the [`Intake`] trait: what the routes need from the outbox (write messages durably,
//! look them up, cancel them, report backlog and readiness). Must not touch: the store or the
//! dispatcher; the outbox implements the trait and `app` hands it to [`super::serve`]. Tests use
//! an in-memory double.

use std::future::Future;

use crate::outbox::{Message, MessageId, MessageState};

/// What the HTTP layer asks of the outbox.
pub trait Intake: Send + Sync + 'static {
    /// Writes the messages (already built by the HTTP layer: state `Queued`, one pending
    /// `Part` per segment, ids from `MessageId::generate()`) and, atomically with them, the
    /// idempotency record; resolves only when durable. `messages` may be empty when a batch
    /// had no valid entry but its idempotency record must still be kept.
    fn accept(
        &self,
        messages: Vec<Message>,
        idempotency: Option<StoredResponse>,
    ) -> impl Future<Output = Result<(), IntakeError>> + Send;

    /// The response stored under `(owner, key)`, if any.
    fn idempotency(&self, owner: &str, key: &str) -> Result<Option<StoredResponse>, IntakeError>;

    /// One message by id.
    fn get(&self, id: MessageId) -> Result<Option<Message>, IntakeError>;

    /// Cancels a queued message. `Ok(None)`: no such message;
    /// `Err(IntakeError::NotCancellable(state))` when it is no longer queued.
    fn cancel(
        &self,
        id: MessageId,
    ) -> impl Future<Output = Result<Option<Message>, IntakeError>> + Send;

    /// Messages not yet in a terminal state; at or above `high_water` intake answers 503.
    fn backlog(&self) -> u64;

    /// Whether the store is open and which carriers have a bind up.
    fn readiness(&self) -> Readiness;

    /// The configured carriers, to check a request's `carrier`.
    fn carrier_names(&self) -> Vec<String>;
}

/// A response kept under an `Idempotency-Key`, replayed byte for byte: the outbox's own
/// record (owner, key, SHA-256 of the request body, status, response body, time).
pub type StoredResponse = crate::outbox::IdempotencyRecord;

/// Why the outbox could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// Another request with the same owner and key was stored first (a race): the HTTP
    /// layer replays it when the body hash matches, else answers 409.
    #[error("idempotency key already used")]
    IdempotencyExists(StoredResponse),
    /// The message is no longer queued.
    #[error("message is {0}, only queued messages can be cancelled")]
    NotCancellable(MessageState),
    /// The store failed; the text is for the log, never the response.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// What `/readyz` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// The store is open and writable.
    pub store_ok: bool,
    /// One entry per configured carrier.
    pub carriers: Vec<CarrierReadiness>,
}

/// One carrier's readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierReadiness {
    /// The carrier's name.
    pub name: String,
    /// At least one bind is up.
    pub up: bool,
    /// Why not, when down (last bind error).
    pub reason: Option<String>,
}

impl Readiness {
    /// Ready: the store is open and every carrier has a bind up.
    pub fn is_ready(&self) -> bool {
        self.store_ok && self.carriers.iter().all(|c| c.up)
    }
}
