//! Options of inference ([`crate::Inferrer`]).

use crate::format::Format;
use crate::result::SchemaDoc;
use serde::{Deserialize, Serialize};

/// What to do when a field's types conflict beyond numeric widening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnConflict {
    /// A lossless JSON-text column (Arrow extension `arrow.json`).
    #[default]
    Json,
    /// A plain Utf8 column holding each value as text.
    String,
    /// Stop with an error naming the field and the first conflicting record.
    Error,
}

/// What to do with a typeson tag idbsync does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownTags {
    /// Stop with an error naming the tag.
    #[default]
    Error,
    /// Keep the value as JSON text, with its typeson encapsulation.
    Json,
}

/// Options for [`Inferrer`](crate::Inferrer), built with consuming `with_*` setters.
#[derive(Debug, Clone)]
pub struct InferOptions {
    pub(crate) format: Option<Format>,
    pub(crate) store_name: String,
    pub(crate) threads: usize,
    pub(crate) detect_timestamps: bool,
    pub(crate) on_conflict: OnConflict,
    pub(crate) unknown_tags: UnknownTags,
    pub(crate) map_threshold: usize,
    pub(crate) pinned: Option<SchemaDoc>,
    pub(crate) max_issues: usize,
    pub(crate) piece_bytes: usize,
}

impl Default for InferOptions {
    fn default() -> Self {
        InferOptions {
            format: None,
            store_name: "records".into(),
            threads: 0,
            detect_timestamps: false,
            on_conflict: OnConflict::Json,
            unknown_tags: UnknownTags::Error,
            map_threshold: 200,
            pinned: None,
            max_issues: 10,
            piece_bytes: 256 << 10,
        }
    }
}

impl InferOptions {
    /// Default options: detect the format, all cores, JSON columns on conflict.
    pub fn new() -> Self {
        Self::default()
    }
    /// Reads the input as this format instead of detecting it.
    pub fn with_format(mut self, f: Option<Format>) -> Self {
        self.format = f;
        self
    }
    /// The format asked for, if any (`None`: detected from the input).
    pub fn format(&self) -> Option<Format> {
        self.format
    }
    /// Store name for single-store inputs (NDJSON, a JSON array).
    pub fn with_store_name(mut self, name: impl Into<String>) -> Self {
        self.store_name = name.into();
        self
    }
    /// Worker threads; 0 means one per core, 1 infers on the calling thread (no pool).
    pub fn with_threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }
    /// Turns ISO-8601 string columns into timestamps.
    pub fn with_detect_timestamps(mut self, on: bool) -> Self {
        self.detect_timestamps = on;
        self
    }
    /// What a type conflict becomes.
    pub fn with_on_conflict(mut self, c: OnConflict) -> Self {
        self.on_conflict = c;
        self
    }
    /// What a type conflict becomes (see [`InferOptions::with_on_conflict`]).
    pub fn on_conflict(&self) -> OnConflict {
        self.on_conflict
    }
    /// What an unknown typeson tag becomes.
    pub fn with_unknown_tags(mut self, u: UnknownTags) -> Self {
        self.unknown_tags = u;
        self
    }
    /// Objects with more distinct keys than this become `Map<Utf8, T>`.
    pub fn with_map_threshold(mut self, n: usize) -> Self {
        self.map_threshold = n;
        self
    }
    /// Pins fields to the types of a schema document (what `infer --json` prints).
    pub fn with_pinned(mut self, doc: Option<SchemaDoc>) -> Self {
        self.pinned = doc;
        self
    }
    /// Bytes per parallel work item for NDJSON input.
    pub fn with_piece_bytes(mut self, n: usize) -> Self {
        self.piece_bytes = n.max(1);
        self
    }
}
