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
    /// A dataset cannot be read back: not found, not committed, or its manifest is damaged.
    #[error("{path}: {reason}")]
    Dataset {
        /// The dataset (or the root it was looked for in), as the sink describes it.
        path: String,
        /// What is wrong, and what to do about it.
        reason: String,
    },
    /// A Parquet data file could not be read.
    #[error("cannot read {path}")]
    Parquet {
        /// The file, as the sink describes it.
        path: String,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// An Arrow operation on a download's data failed (a type that cannot be converted).
    #[error("{context}")]
    Arrow {
        /// What was being done, on which table and column.
        context: String,
        /// The cause.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// A value that the download's output format cannot hold.
    #[error("table '{table}', row {row}, field '{path}': {reason}")]
    Download {
        /// The table being written.
        table: String,
        /// Row index within the download (0-based).
        row: u64,
        /// Field path within the row (typeson key-path notation).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The record batches handed to a download failed (e.g. a query that errored).
    #[error("the rows to download could not be produced")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The job was cancelled (its [`crate::Cancel`] token was set) at a safe point before
    /// its commit: a conversion removed its staging and committed nothing; a download
    /// stopped between batches.
    #[error("cancelled")]
    Cancelled,
    /// A synced (Delta) table refused an operation: an older batch, a key path that
    /// differs from the table's, a checkpoint that is not there any more …
    #[error("table '{table}': {reason}")]
    Sync {
        /// The table (store) name or location.
        table: String,
        /// What is wrong, and what to do about it.
        reason: String,
    },
    /// Delta Lake (deltalake) failed on a synced table.
    #[cfg(feature = "sync")]
    #[error("table '{table}': {context}")]
    Delta {
        /// The table (store) name or location.
        table: String,
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: Box<deltalake::DeltaTableError>,
    },
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
