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

/// Result alias for the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;
