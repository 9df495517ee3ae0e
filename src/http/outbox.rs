//! The outbox behind the HTTP routes: [`Intake`] for [`Outbox`].
//!
//! Owns the translation between the routes' vocabulary and the outbox's (stored responses,
//! errors, readiness). Must not touch: the store directly. Used by `app`.

use super::intake::{CarrierReadiness, Intake, IntakeError, Readiness, StoredResponse};
use crate::outbox::{Message, MessageId, Outbox, StoreError, Transition};

fn unavailable(e: StoreError) -> IntakeError {
    match e {
        StoreError::IdempotencyExists(record) => IntakeError::IdempotencyExists(*record),
        other => IntakeError::Unavailable(other.to_string()),
    }
}

impl Intake for Outbox {
    async fn accept(
        &self,
        messages: Vec<Message>,
        idempotency: Option<StoredResponse>,
    ) -> Result<(), IntakeError> {
        Outbox::accept(self, messages, idempotency)
            .await
            .map_err(unavailable)
    }

    fn idempotency(&self, owner: &str, key: &str) -> Result<Option<StoredResponse>, IntakeError> {
        Outbox::idempotency(self, owner, key).map_err(unavailable)
    }

    fn get(&self, id: MessageId) -> Result<Option<Message>, IntakeError> {
        Outbox::get(self, id).map_err(unavailable)
    }

    async fn cancel(&self, id: MessageId) -> Result<Option<Message>, IntakeError> {
        match Outbox::cancel(self, id).await.map_err(unavailable)? {
            Transition::Applied { message, .. } => Ok(Some(message)),
            Transition::Illegal(e) => Err(IntakeError::NotCancellable(e.from)),
            Transition::NotFound => Ok(None),
        }
    }

    fn backlog(&self) -> u64 {
        Outbox::backlog(self)
    }

    fn readiness(&self) -> Readiness {
        let carriers = self
            .router()
            .carriers()
            .iter()
            .map(|c| {
                let status = c.status();
                let up = status.submit_binds_up > 0;
                CarrierReadiness {
                    name: c.name().to_string(),
                    up,
                    reason: if up {
                        None
                    } else {
                        status
                            .last_error
                            .or_else(|| Some("not bound yet".to_owned()))
                    },
                }
            })
            .collect();
        Readiness {
            store_ok: true,
            carriers,
        }
    }

    fn carrier_names(&self) -> Vec<String> {
        self.router()
            .carriers()
            .iter()
            .map(|c| c.name().to_string())
            .collect()
    }
}
