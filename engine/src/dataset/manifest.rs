//! A dataset's layout and its manifest: the names of the folders and markers in a
//! store's dataset directory, and `_idbsync/manifest.json` with the data files it lists.

use crate::error::{Error, Result};
use crate::storage::sink::{join_path, Sink};
use arrow_schema::Schema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Staging folder name inside a store's dataset directory.
pub const TEMPORARY: &str = "_temporary";
/// Rejected records folder.
pub const REJECTS: &str = "_rejects";
/// idbsync's own metadata folder.
pub const META_DIR: &str = "_idbsync";
/// The commit marker, written last.
pub const SUCCESS: &str = "_SUCCESS";
/// The manifest's path inside a dataset.
pub const MANIFEST: &str = "_idbsync/manifest.json";

/// Record accounting: `read = written + rejected + skipped`, always.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Records read from the input.
    pub read: u64,
    /// Rows written to data files.
    pub written: u64,
    /// Records written to `_rejects/`.
    pub rejected: u64,
    /// Records counted but not kept (`--on-invalid skip`).
    pub skipped: u64,
}

/// Wall-clock phases of a job, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// Schema inference (first pass).
    pub infer_ms: u64,
    /// Decoding and writing (second pass).
    pub convert_ms: u64,
    /// Renames, manifest and `_SUCCESS`.
    pub commit_ms: u64,
}

/// `_idbsync/manifest.json`: what a committed dataset holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version.
    pub version: u32,
    /// The job that last committed.
    pub job_id: String,
    /// Every job whose files are in the dataset, oldest first.
    pub jobs: Vec<String>,
    /// Store (object store) name.
    pub store: String,
    /// Where the data came from.
    pub input: String,
    /// Options of the last job.
    pub options: serde_json::Value,
    /// Partition terms.
    pub partition_by: Vec<String>,
    /// Record accounting of the last job.
    pub counts: Counts,
    /// Accounting summed over every job in the dataset.
    pub total: Counts,
    /// Data files, relative to the dataset directory.
    pub files: Vec<FileInfo>,
    /// Reject files, relative to the dataset directory.
    pub rejects: Vec<String>,
    /// The Arrow schema of the data files (with IndexedDB metadata).
    pub schema: serde_json::Value,
    /// Phase timings of the last job.
    pub timings: Timings,
}

impl Manifest {
    /// Reads the manifest of the dataset in folder `dir` of `sink` (`""`: the sink's root).
    pub fn load(sink: &dyn Sink, dir: &str) -> Result<Manifest> {
        let path = join_path(dir, MANIFEST);
        let err = |reason: String| Error::Dataset { path: sink.describe(&path), reason };
        let bytes = sink.read(&path).map_err(|e| err(format!("cannot read: {e}")))?;
        serde_json::from_slice(&bytes).map_err(|e| err(format!("invalid manifest: {e}")))
    }

    /// Reads the manifest of the dataset in `dir`, and the Arrow schema it records (with
    /// the IndexedDB metadata).
    pub fn load_with_schema(sink: &dyn Sink, dir: &str) -> Result<(Manifest, Schema)> {
        let manifest = Manifest::load(sink, dir)?;
        let schema = serde_json::from_value(manifest.schema.clone()).map_err(|e| Error::Dataset {
            path: sink.describe(&join_path(dir, MANIFEST)),
            reason: format!("the manifest's schema does not parse: {e}"),
        })?;
        Ok((manifest, schema))
    }
}

/// A data file written by a job (paths relative to the store's directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Final path, e.g. `day=2024-03-01/part-00000-<job>.zstd.parquet`.
    pub path: String,
    /// Rows in the file.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// CRC32C of the whole file, hex.
    pub crc32c: String,
    /// Partition values (`day` → `2024-03-01`), as in the path.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub partition: BTreeMap<String, String>,
}

/// Whether a dataset entry holds data (not `_SUCCESS`, `_temporary`, `_idbsync`, …).
pub(crate) fn is_data(name: &str) -> bool {
    !name.starts_with('_') && !name.starts_with('.')
}
