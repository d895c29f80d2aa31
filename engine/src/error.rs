//! The engine's error type.

use std::path::PathBuf;

/// Errors from the engine, each naming the input it concerns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input could not be opened.
    #[error("cannot open {path}")]
    Open {
        /// The input's path (`-` for stdin).
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading (or decompressing) the input failed.
    #[error("cannot read {path}")]
    Read {
        /// The input's path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A record did not fit its schema and `--on-invalid fail` was given.
    #[error("store '{store}', record {record} (byte {offset}), field '{path}': {reason} (--on-invalid fail: nothing was committed)")]
    Invalid {
        /// Store name.
        store: String,
        /// Record index within the store.
        record: u64,
        /// Byte offset of the problem.
        offset: u64,
        /// Field path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Encoding or routing a store's data failed.
    #[error("store '{store}': {reason}")]
    Convert {
        /// Store name.
        store: String,
        /// What went wrong.
        reason: String,
    },
    /// Writing to the output failed.
    #[error("cannot write {path}")]
    Write {
        /// Where.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A committed dataset does not match its manifest.
    #[error("verification failed: {0}")]
    Verify(String),
    /// The commit protocol refused or failed.
    #[error(transparent)]
    Commit(#[from] crate::commit::CommitError),
    /// The input's content could not be inferred.
    #[error("{path}")]
    Infer {
        /// The input's path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<schema_infer::Error>,
    },
}

/// Errors while converting (and their place).
impl Error {
    /// Whether the error comes from a record that did not fit (`--on-invalid fail`).
    pub fn is_invalid_record(&self) -> bool {
        matches!(self, Error::Invalid { .. })
    }
}

/// Result alias for the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;
