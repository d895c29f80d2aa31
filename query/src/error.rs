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
    /// DataFusion refused or failed the query (its own words, with context).
    #[error("{0}")]
    Sql(String),
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
