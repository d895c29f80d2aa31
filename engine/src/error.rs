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
    /// Reading a committed file back for verification failed.
    #[error("verification failed: {what} {path}")]
    VerifyIo {
        /// What was being done (`cannot list`, `cannot read back`).
        what: &'static str,
        /// On what, as the sink describes it.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file operation on a sink (list, create, write, close, rename, remove) failed.
    #[error("{what} {path}")]
    Io {
        /// What was being done (`cannot list`, `cannot create`, `cannot publish`, …).
        what: &'static str,
        /// On what, as the sink describes it.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A Parquet data file could not be encoded or written.
    #[error("cannot write {path}")]
    ParquetWrite {
        /// The file, as the sink describes it.
        path: String,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A failure while writing one store's output (its files, partitions or checks).
    #[error("store '{store}'")]
    Store {
        /// Store name.
        store: String,
        /// The cause.
        #[source]
        source: Box<Error>,
    },
    /// A partition term cannot be applied to the rows (a type it does not take, a
    /// directory name that would be too long).
    #[error("partition by {term}: {reason}")]
    Partition {
        /// The term (`day(created)`, `bucket(8, id)`, …).
        term: String,
        /// What is wrong, and what to do about it.
        reason: String,
    },
    /// A partition term names a column the schema does not have.
    #[error("partition column '{column}' is not in the schema")]
    NoPartitionColumn {
        /// The column's path (`a.b`).
        column: String,
    },
    /// A partition term names a column whose values cannot name a directory (a struct,
    /// list or Map, or idbsync's column of whole records).
    #[error("cannot partition by '{column}': it is {why}")]
    UnfitPartition {
        /// The column's path (`a.b`).
        column: String,
        /// What the column is, and what to partition by instead.
        why: String,
    },
    /// A partition column's value, kept in a directory name, cannot be restored.
    #[error("{path}: partition column '{column}': {reason}")]
    PartitionValue {
        /// The data file, as the sink describes it.
        path: String,
        /// The partition column.
        column: String,
        /// What is wrong.
        reason: String,
        /// The cause, when Arrow refused the value.
        #[source]
        source: Option<arrow::error::ArrowError>,
    },
    /// The source of a copy does not exist.
    #[error("{path} does not exist")]
    NotFound {
        /// The source, as its sink describes it.
        path: String,
    },
    /// A copy's destination exists and `update` was not asked for.
    #[error("{path} already exists (use --update to copy only what differs)")]
    DestinationExists {
        /// The destination, as its sink describes it.
        path: String,
    },
    /// The worker threads could not be started.
    #[error("cannot start the worker threads")]
    Threads(#[source] rayon::ThreadPoolBuildError),
    /// The commit protocol refused or failed.
    #[error(transparent)]
    Commit(#[from] CommitError),
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
    /// its commit: a conversion removed its staging and committed nothing; a copy removed
    /// its staging and published nothing; a download stopped between batches.
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
    /// A push that widens a synced table's columns could not re-encode one of the rows
    /// already there for the new columns (the table is left as it was).
    #[cfg(feature = "sync")]
    #[error("table '{table}': row {row} of the table cannot be re-encoded for the widened columns: {reason} (nothing was changed)")]
    Widen {
        /// The table (store) name.
        table: String,
        /// The row, in the order the table was read.
        row: u64,
        /// Why the decoder refused it.
        reason: String,
    },
    /// Every attempt of a push to a synced table lost to another writer's commit: the
    /// push gave up, and this table has none of its changes (push the batch again).
    #[cfg(feature = "sync")]
    #[error(
        "table '{table}': gave up after {attempts} attempt(s): each time another writer committed to the table \
         first (none of this push's changes to it were applied; push the batch again)"
    )]
    Contended {
        /// The table (store) name.
        table: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last conflict deltalake reported.
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
    /// A location could not be opened: not a local folder or `hdfs://` URL, options HDFS
    /// refuses, a client that cannot be set up, or `hdfs://` without the `hdfs` feature.
    #[error(transparent)]
    Storage(#[from] StorageError),
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

/// Errors of the commit protocol.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The dataset exists and the mode is `error`.
    #[error("dataset {0} already exists (use --mode overwrite or --mode append)")]
    Exists(String),
    /// Append with a schema that differs.
    #[error("cannot append to {path}: {reason}")]
    Incompatible {
        /// Dataset path.
        path: String,
        /// What differs.
        reason: String,
    },
    /// A filesystem operation failed.
    #[error("{what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On what.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Why a location could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Not a location idbsync can use: another URL scheme, a malformed `hdfs://` URL, no
    /// name where one is needed.
    #[error("{location}: {reason}")]
    Invalid {
        /// The location as given (user-info redacted).
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// An `hdfs://` location, in a build without the `hdfs` cargo feature.
    #[error("{0}: this idbsync was built without HDFS support (cargo feature `hdfs`)")]
    NoHdfs(String),
    /// An HDFS client setting that is not `KEY=VALUE`.
    #[error("--hdfs-conf {0}: expected KEY=VALUE")]
    HdfsConf(String),
    /// A block size HDFS refuses.
    #[error("--block-size {0}: HDFS needs a multiple of 512 bytes (e.g. 128MiB, 4MiB)")]
    BlockSize(u64),
    /// A replication of 0.
    #[error("--replication must be at least 1")]
    Replication,
    /// The HDFS client could not be set up (the message names the location).
    #[error(transparent)]
    Connect(std::io::Error),
    /// The location's object store could not be built.
    #[error("{location}: cannot connect")]
    ObjectStore {
        /// The location.
        location: String,
        /// The cause.
        #[source]
        source: object_store::Error,
    },
}
