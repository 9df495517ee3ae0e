//! What can go wrong in the store, with what an operator needs to act on it.

use super::IdempotencyRecord;
use crate::outbox::MessageId;
use std::path::PathBuf;

/// A store failure. HTTP maps every variant but [`StoreError::IdempotencyExists`] to 503 and
/// logs the cause.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be opened as it is: corrupt, not a sled directory, or written in a
    /// way this sled does not support.
    #[error(
        "store at {path} is damaged: {detail}; stop korid, move {path} aside and restore from \
         the last `korid store backup` copy"
    )]
    Damaged {
        /// The store's directory.
        path: PathBuf,
        /// What sled reported.
        detail: String,
    },
    /// Another process holds the store (sled allows one per store).
    #[error(
        "store at {path} is in use by another process (is korid already running?); stop it          first"
    )]
    Locked {
        /// The store's directory.
        path: PathBuf,
    },
    /// The store was written by a newer korid.
    #[error(
        "store schema version {found} is newer than this korid supports ({supported}); run the \
         newer korid, or restore a backup made by this version"
    )]
    SchemaTooNew {
        /// The version on disk.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// A file system error outside sled (creating a backup target, …).
    #[error("store i/o: {0}")]
    Io(#[from] std::io::Error),
    /// sled failed a read or a write.
    #[error("store engine: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record or key does not decode: the store is damaged or was written by other code.
    #[error("store record in tree {tree} does not decode: {detail}")]
    Encoding {
        /// The tree it was read from.
        tree: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// The idempotency key was used before; the earlier request's record. Nothing was written.
    #[error("idempotency key {:?} of {:?} already used", .0.key, .0.owner)]
    IdempotencyExists(Box<IdempotencyRecord>),
    /// A message with this id is already stored. Nothing was written.
    #[error("message {0} is already stored")]
    DuplicateId(MessageId),
    /// The write was applied but the flush that makes it durable failed: it may be lost on a
    /// crash. Answer as a failure.
    #[error("store flush failed, the write may not be durable: {detail}")]
    NotDurable {
        /// The flush error.
        detail: String,
    },
    /// `backup` was pointed at a path that already holds something.
    #[error("backup target {path} already exists; choose a new path")]
    BackupTargetExists {
        /// The target.
        path: PathBuf,
    },
    /// `open` was called outside a tokio runtime, so the writer cannot start.
    #[error("store opened outside a tokio runtime; the writer task needs one")]
    NoRuntime,
    /// The writer task has stopped (the store was closed, or the writer failed).
    #[error("the store writer has stopped")]
    WriterGone,
}
