//! Errors of the query side.

/// What went wrong, in words meant for the user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the root or a manifest failed.
    #[error("{0}")]
    Io(String),
    /// The statement is not allowed (anything but SELECT, WITH, EXPLAIN, SHOW, DESCRIBE).
    #[error("{0}")]
    ReadOnly(String),
    /// A dataset is not committed.
    #[error("{0}")]
    Uncommitted(String),
    /// DataFusion refused or failed the query: its own words.
    #[error(transparent)]
    Sql(#[from] datafusion::error::DataFusionError),
    /// A table the statement names is not under the root: DataFusion's words, then the
    /// tables there are.
    #[error("{source}\ntables under {root}: {tables}")]
    UnknownTable {
        /// The root the session was opened on.
        root: String,
        /// The tables under it, comma-separated.
        tables: String,
        /// DataFusion's error.
        #[source]
        source: datafusion::error::DataFusionError,
    },
    /// A committed dataset could not be registered as a table.
    #[error("table {table}")]
    Table {
        /// The table's name.
        table: String,
        /// DataFusion's error.
        #[source]
        source: datafusion::error::DataFusionError,
    },
    /// The query runtime could not be started.
    #[error("cannot start the query runtime")]
    Runtime(#[source] std::io::Error),
    /// Opening the root or reading a dataset's manifest failed (the engine's words).
    #[error(transparent)]
    Engine(#[from] engine::Error),
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
