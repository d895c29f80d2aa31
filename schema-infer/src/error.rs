//! The one error type of this crate.

/// Errors from reading an export and inferring its schema. Each names where in the
/// input it happened: store, record index, byte offset and field path as known.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The document's structure is broken (outside any single record).
    #[error("invalid JSON at byte {offset} in {context}: {reason}")]
    Syntax {
        /// Byte offset in the (decompressed) input.
        offset: u64,
        /// What is wrong.
        reason: String,
        /// Where in the document (header, rows of a store …).
        context: String,
    },
    /// The input ended before the document did.
    #[error(
        "input ends at byte {offset} in the middle of the document (expecting {expecting}); the file looks truncated"
    )]
    Truncated {
        /// Where the input ended.
        offset: u64,
        /// What was still expected.
        expecting: String,
    },
    /// A `$types` entry names a type idbsync does not decode.
    #[error("store '{store}', record {record} (byte {offset}), field '{path}': unknown typeson tag '{tag}' (use --unknown-tags json to keep such values as JSON text)")]
    UnknownTag {
        /// Store name.
        store: String,
        /// Record index within the store.
        record: u64,
        /// Byte offset of the record.
        offset: u64,
        /// Field path within the record.
        path: String,
        /// The tag.
        tag: String,
    },
    /// Types conflict and the options say that is an error.
    #[error("store '{store}', field '{path}': {first} conflicts with {second} first seen at record {record} (byte {offset}) (--on-conflict error)")]
    Conflict {
        /// Store name.
        store: String,
        /// Field path.
        path: String,
        /// The type seen first.
        first: String,
        /// The type that conflicts with it.
        second: String,
        /// Record index of the first conflicting value.
        record: u64,
        /// Byte offset of the first conflicting value.
        offset: u64,
    },
    /// A pinned schema document gives a field a type the converter cannot fill.
    #[error("pinned schema, store '{store}', field '{path}': {data_type} {reason}")]
    PinnedType {
        /// Store name, as the schema document gives it.
        store: String,
        /// Field path (`a`, `shipping.zip`, `items.[]`, `m.<key>`, `m.<value>`).
        path: String,
        /// The type the document gives that field.
        data_type: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The pinned schema document is not valid JSON of the expected shape.
    #[error("pinned schema is not a schema document")]
    PinJson(#[from] serde_json::Error),
    /// The thread pool could not be built.
    #[error("cannot start worker threads")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
