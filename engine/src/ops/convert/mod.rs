//! `convert`: an export in, one committed Parquet dataset per object store out.
//!
//! Pass 1 infers the schemas over the whole input (or takes pinned ones). Pass 2
//! reads the input again in blocks; each block's records are decoded in parallel
//! (rayon) into Arrow batches, in input order, while a writer thread encodes the
//! previous block's batches into Parquet. At most two blocks are in flight, so
//! memory does not grow with the input; batch boundaries depend only on the bytes,
//! so the files are the same whatever the thread count.

mod commit;
mod plan;
mod run;
mod store;

use crate::cancel::Cancel;
use crate::dataset::commit::Mode;
use crate::dataset::manifest::{Counts, Timings};
use crate::error::{Error, Result};
use crate::input::source;
use crate::output::parquet::ParquetOptions;
use crate::output::partition::PartitionField;
use crate::storage::sink::Sink;
use schema_infer::{InferOptions, InferResult};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What happens to a record that does not fit its store's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnInvalid {
    /// Written to `<store>/_rejects/` with the reason and where it came from.
    #[default]
    Quarantine,
    /// Counted, not kept.
    Skip,
    /// Stop; nothing is committed.
    Fail,
}

/// Options of a conversion, built with consuming `with_*` setters.
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    pub(crate) infer: InferOptions,
    pub(crate) store: Option<String>,
    pub(crate) partition_by: Vec<PartitionField>,
    pub(crate) parquet: ParquetOptions,
    pub(crate) mode: Mode,
    pub(crate) on_invalid: OnInvalid,
    pub(crate) threads: usize,
    pub(crate) verify: bool,
    pub(crate) cancel: Cancel,
}

impl ConvertOptions {
    /// Defaults: zstd, 122,880-row row groups, mode `error`, quarantine rejects.
    pub fn new() -> Self {
        Self::default()
    }
    /// Options for the inference pass (format, pins, conflict policy …).
    pub fn with_infer(mut self, o: InferOptions) -> Self {
        self.infer = o;
        self
    }
    /// Store name for single-store inputs (default: the file name).
    pub fn with_store(mut self, s: Option<String>) -> Self {
        self.store = s;
        self
    }
    /// Hive partitioning terms.
    pub fn with_partition_by(mut self, p: Vec<PartitionField>) -> Self {
        self.partition_by = p;
        self
    }
    /// Parquet layout.
    pub fn with_parquet(mut self, p: ParquetOptions) -> Self {
        self.parquet = p;
        self
    }
    /// What to do with an existing dataset.
    pub fn with_mode(mut self, m: Mode) -> Self {
        self.mode = m;
        self
    }
    /// What to do with records that do not fit.
    pub fn with_on_invalid(mut self, o: OnInvalid) -> Self {
        self.on_invalid = o;
        self
    }
    /// After the commit, read every file back and check its CRC32C against the manifest
    /// (sizes are always checked).
    pub fn with_verify(mut self, v: bool) -> Self {
        self.verify = v;
        self
    }
    /// Worker threads; 0 = all cores.
    pub fn with_threads(mut self, n: usize) -> Self {
        self.threads = n;
        self.infer = self.infer.with_threads(n);
        self
    }
    /// A token that stops the job: checked between input blocks and before the commit, it
    /// makes [`convert`] remove its staging and return [`Error::Cancelled`] with nothing
    /// committed. Once the commit has started it is finished instead.
    pub fn with_cancel(mut self, c: Cancel) -> Self {
        self.cancel = c;
        self
    }
}

/// The phase a progress report belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Pass 1: schema inference.
    Infer,
    /// Pass 2: decoding and writing.
    Convert,
    /// Renames, manifests, `_SUCCESS`.
    Commit,
}

/// What one store's conversion did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreReport {
    /// Store name.
    pub store: String,
    /// Dataset directory, as the sink describes it.
    pub path: String,
    /// Record accounting.
    pub counts: Counts,
    /// Data files written.
    pub files: usize,
    /// Bytes of the store's records in the (decompressed) input.
    pub bytes_in: u64,
    /// Bytes of Parquet written.
    pub bytes_out: u64,
    /// What inference noticed that is not an error (e.g. a header row count that
    /// disagrees with the rows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What a conversion did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConvertReport {
    /// The job id (in every file name).
    pub job_id: String,
    /// Input format.
    pub format: schema_infer::Format,
    /// Per store.
    pub stores: Vec<StoreReport>,
    /// Phase timings.
    pub timings: Timings,
}

/// One rejected record, as written to `_rejects/` (NDJSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RejectRecord {
    /// Store name.
    pub store: String,
    /// Record index within the store.
    pub record: u64,
    /// Byte offset of the problem in the (decompressed) input.
    pub offset: u64,
    /// Field path within the record.
    pub path: String,
    /// Why it was rejected.
    pub reason: String,
    /// The record's original text.
    pub text: String,
}

/// Converts the export at `input` (`-` for stdin) into datasets under `sink`.
/// `progress` is called with the phase and the input bytes read so far.
///
/// On failure (or cancellation, [`ConvertOptions::with_cancel`]) before the commit, the
/// staging is removed, and so are the dataset folders and the output root when this job
/// made them: the output is left as it was.
pub fn convert(
    input: &Path,
    sink: Arc<dyn Sink>,
    opts: ConvertOptions,
    progress: &(dyn Fn(Phase, u64) + Sync),
) -> Result<ConvertReport> {
    // An unreadable root is left to the job to report.
    let root_created = matches!(sink.exists(""), Ok(false));
    let res = convert_into(input, &sink, opts, progress);
    if res.is_err() && root_created && sink.list("").map(|l| l.is_empty()).unwrap_or(false) {
        let _ = sink.remove_all("");
    }
    res
}

fn convert_into(
    input: &Path,
    sink: &Arc<dyn Sink>,
    opts: ConvertOptions,
    progress: &(dyn Fn(Phase, u64) + Sync),
) -> Result<ConvertReport> {
    let cancel = &opts.cancel;
    // Stdin is read twice (infer, convert), so it is kept in a temporary file.
    let spool;
    let path: PathBuf = if input == Path::new("-") {
        spool = spool_stdin(cancel).map_err(|e| cancel.or(e))?;
        spool.path().to_owned()
    } else {
        input.to_owned()
    };
    let display = if input == Path::new("-") { PathBuf::from("-") } else { input.to_owned() };
    let store_name = opts.store.clone().unwrap_or_else(|| source::store_name_of(&display));

    let t0 = Instant::now();
    let inferred = infer_pass(&path, &display, &store_name, &opts, progress)?;
    let infer_ms = t0.elapsed().as_millis() as u64;
    let cx = Ctx {
        path: &path,
        display: &display,
        store_name: &store_name,
        inferred: &inferred,
        opts: &opts,
        sink,
        progress,
    };

    // From here on every store has a job; dropping the plan before its commit aborts them.
    let mut plan = plan::plan(&cx)?;
    cancel.check()?;
    let t1 = Instant::now();
    run::second_pass(&cx, &mut plan).map_err(|e| cancel.or(e))?;
    let convert_ms = t1.elapsed().as_millis() as u64;
    commit::commit(&cx, plan, infer_ms, convert_ms)
}

/// What the steps of one conversion share.
pub(super) struct Ctx<'a> {
    /// The file read (the spooled copy for stdin).
    path: &'a Path,
    /// The input as the user named it.
    display: &'a Path,
    /// Store name for single-store inputs.
    store_name: &'a str,
    /// Pass 1's schemas.
    inferred: &'a InferResult,
    opts: &'a ConvertOptions,
    sink: &'a Arc<dyn Sink>,
    progress: &'a (dyn Fn(Phase, u64) + Sync),
}

/// Pass 1: the schemas of the whole input (the read stops once cancelled).
fn infer_pass(
    path: &Path,
    display: &Path,
    store_name: &str,
    opts: &ConvertOptions,
    progress: &(dyn Fn(Phase, u64) + Sync),
) -> Result<InferResult> {
    let cancel = &opts.cancel;
    let mut src = source::open(path)?;
    src.reader = Box::new(cancel.reader(src.reader));
    let infer = opts.infer.clone().with_store_name(store_name.to_owned());
    crate::input::infer::infer_source_with(src, infer, &mut |n| progress(Phase::Infer, n))
        .map_err(|e| cancel.or(rename_path(e, display)))
}

fn rename_path(e: Error, display: &Path) -> Error {
    match e {
        Error::Infer { source, .. } => Error::Infer { path: display.to_owned(), source },
        other => other,
    }
}

fn options_json(o: &ConvertOptions) -> serde_json::Value {
    serde_json::json!({
        "compression": o.parquet.codec.to_string(),
        "row_group_rows": o.parquet.row_group_rows,
        "max_file_bytes": o.parquet.max_file_bytes,
        "mode": o.mode,
        "on_invalid": o.on_invalid,
    })
}

fn spool_stdin(cancel: &Cancel) -> Result<tempfile::NamedTempFile> {
    let mut f = tempfile::NamedTempFile::new().map_err(|source| Error::Open { path: "-".into(), source })?;
    std::io::copy(&mut cancel.reader(std::io::stdin().lock()), &mut f)
        .map_err(|source| Error::Read { path: "-".into(), source })?;
    Ok(f)
}
