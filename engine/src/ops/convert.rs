//! `convert`: an export in, one committed Parquet dataset per object store out.
//!
//! Pass 1 infers the schemas over the whole input (or takes pinned ones). Pass 2
//! reads the input again in blocks; each block's records are decoded in parallel
//! (rayon) into Arrow batches, in input order, while a writer thread encodes the
//! previous block's batches into Parquet. At most two blocks are in flight, so
//! memory does not grow with the input; batch boundaries depend only on the bytes,
//! so the files are the same whatever the thread count.

use crate::cancel::Cancel;
use crate::dataset::commit::{new_job_id, Job, Mode};
use crate::dataset::manifest::{Counts, FileInfo, Manifest, Timings, REJECTS};
use crate::error::{Error, Result};
use crate::input::decode::{Decoder, Reject};
use crate::input::source::{self, Source};
use crate::output::parquet::{ParquetOptions, StoreWriter};
use crate::output::partition::{store_dir_name, PartitionField};
use crate::storage::sink::{CountingWriter, Sink};
use arrow::array::RecordBatch;
use schema_infer::{InferOptions, InferResult, Piece, Splitter};
use serde::{Deserialize, Serialize};
use std::io::Write;
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

struct GroupOut {
    batches: Vec<(usize, RecordBatch)>,
    rejects: Vec<(usize, RejectRecord)>,
    read: Vec<(usize, u64, u64)>,
}

enum Msg {
    Group(GroupOut),
}

struct StoreState {
    name: String,
    partition_by: Vec<PartitionField>,
    job: Job,
    writer: Option<StoreWriter>,
    rejects: Option<CountingWriter>,
    counts: Counts,
    bytes_in: u64,
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
    let mut src = source::open(&path)?;
    // The inference pass stops within a read once cancelled.
    src.reader = Box::new(cancel.reader(src.reader));
    let inferred =
        crate::input::infer::infer_source_with(src, opts.infer.clone().with_store_name(store_name.clone()), &mut |n| {
            progress(Phase::Infer, n)
        })
        .map_err(|e| cancel.or(rename_path(e, &display)))?;
    let infer_ms = t0.elapsed().as_millis() as u64;

    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(opts.threads)
            .build()
            .map_err(|e| Error::Convert { store: String::new(), reason: e.to_string() })?,
    );
    // A partition term must name a column of at least one store (a typo is an error).
    for p in &opts.partition_by {
        if !inferred.stores.iter().any(|st| crate::output::partition::has_path(&st.schema, &p.path)) {
            let stores: Vec<&str> = inferred.stores.iter().map(|s| s.name.as_str()).collect();
            return Err(Error::Convert {
                store: stores.join(", "),
                reason: format!("partition column '{}' is in no store's schema", p.path.join(".")),
            });
        }
    }
    // Escaping keeps store names inside the output root; two names that escape alike
    // (`""` and `"\0"`, or long names cut to the same prefix and hash) must not share
    // a dataset directory.
    let mut dirs: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for st in &inferred.stores {
        if let Some(other) = dirs.insert(store_dir_name(&st.name), &st.name) {
            return Err(Error::Convert {
                store: store_dir_name(&st.name),
                reason: format!(
                    "stores {other:?} and {:?} would share the directory '{}'; rename one of them",
                    st.name,
                    store_dir_name(&st.name)
                ),
            });
        }
    }
    let job_id = new_job_id();
    let mut states: Vec<StoreState> = Vec::new();
    for st in &inferred.stores {
        let dir = store_dir_name(&st.name);
        let job =
            Job::prepare(sink.clone(), dir.clone(), job_id.clone(), opts.mode).map_err(|e| abort(&states, e.into()))?;
        // Partition terms apply to the stores that have their column; the others
        // (e.g. a customers table beside orders) are written unpartitioned.
        let spec: Vec<PartitionField> = opts
            .partition_by
            .iter()
            .filter(|p| crate::output::partition::has_path(&st.schema, &p.path))
            .cloned()
            .collect();
        let writer = StoreWriter::new(
            sink.clone(),
            job.staging(),
            job_id.clone(),
            &st.schema,
            spec.clone(),
            opts.parquet.clone(),
            pool.clone(),
        )
        .map_err(|reason| abort(&states, Error::Convert { store: st.name.clone(), reason }))?;
        // The manifest records the store's whole schema (partition columns included).
        let schema_json = serde_json::to_value(st.schema.as_ref()).expect("schema serialises");
        job.check_append(&schema_json).map_err(|e| abort(&states, e.into()))?;
        states.push(StoreState {
            name: st.name.clone(),
            partition_by: spec,
            job,
            writer: Some(writer),
            rejects: None,
            counts: Counts::default(),
            bytes_in: 0,
        });
    }

    cancel.check().map_err(|e| abort(&states, e))?;
    let t1 = Instant::now();
    let res = second_pass(&path, &display, &inferred, &store_name, &opts, sink, &mut states, &pool, progress);
    if let Err(e) = res {
        return Err(abort(&states, cancel.or(e)));
    }
    let convert_ms = t1.elapsed().as_millis() as u64;

    // Close every file before anything is published.
    let t2 = Instant::now();
    let mut closed: Vec<(Vec<FileInfo>, Vec<String>)> = Vec::new();
    for i in 0..states.len() {
        cancel.check().map_err(|e| abort(&states, e))?;
        let st = &mut states[i];
        let files = match st.writer.take().expect("writer").finish() {
            Ok(f) => f,
            Err(reason) => {
                let store = st.name.clone();
                return Err(abort(&states, cancel.or(Error::Convert { store, reason })));
            }
        };
        let mut rejects = Vec::new();
        if let Some(w) = st.rejects.take() {
            let path = format!("{}/{REJECTS}/part-{job_id}.ndjson", st.job.staging());
            if let Err(source) = w.close() {
                let e = Error::Write { path: sink.describe(&path), source };
                return Err(abort(&states, cancel.or(e)));
            }
            rejects.push(format!("{REJECTS}/part-{job_id}.ndjson"));
        }
        closed.push((files, rejects));
    }
    // The last point where a cancellation stops the job: from here on the commit is
    // finished (a dataset is committed whole or not at all).
    cancel.check().map_err(|e| abort(&states, e))?;
    progress(Phase::Commit, 0);
    let mut reports = Vec::new();
    for (st, (files, rejects)) in states.iter().zip(closed) {
        let schema = inferred.store(&st.name).expect("store").schema.clone();
        let manifest = Manifest {
            version: 1,
            job_id: job_id.clone(),
            jobs: vec![job_id.clone()],
            store: st.name.clone(),
            input: display.display().to_string(),
            options: options_json(&opts),
            partition_by: st.partition_by.iter().map(|p| p.to_string()).collect(),
            counts: st.counts,
            total: st.counts,
            files: files.clone(),
            rejects: rejects.clone(),
            schema: serde_json::to_value(schema.as_ref()).expect("schema serialises"),
            timings: Timings { infer_ms, convert_ms, commit_ms: t2.elapsed().as_millis() as u64 },
        };
        // A failed commit takes back what it published; the stores after it are aborted.
        let committed = st.job.commit(&files, &rejects, manifest).map_err(|e| abort(&states, e.into()))?;
        crate::dataset::verify::verify_dataset(sink.as_ref(), &st.job.dir, &committed, opts.verify)
            .map_err(|e| abort(&states, Error::Verify(e)))?;
        reports.push(StoreReport {
            store: st.name.clone(),
            path: sink.describe(&st.job.dir),
            counts: st.counts,
            files: files.len(),
            bytes_in: st.bytes_in,
            bytes_out: files.iter().map(|f| f.bytes).sum(),
            warnings: inferred.store(&st.name).map(|s| s.warnings.clone()).unwrap_or_default(),
        });
    }
    Ok(ConvertReport {
        job_id,
        format: inferred.format,
        stores: reports,
        timings: Timings { infer_ms, convert_ms, commit_ms: t2.elapsed().as_millis() as u64 },
    })
}

fn rename_path(e: Error, display: &Path) -> Error {
    match e {
        Error::Infer { source, .. } => Error::Infer { path: display.to_owned(), source },
        other => other,
    }
}

fn abort(states: &[StoreState], e: Error) -> Error {
    for s in states {
        s.job.abort();
    }
    e
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

#[allow(clippy::too_many_arguments)]
fn second_pass(
    path: &Path,
    display: &Path,
    inferred: &InferResult,
    store_name: &str,
    opts: &ConvertOptions,
    sink: &Arc<dyn Sink>,
    states: &mut [StoreState],
    pool: &rayon::ThreadPool,
    progress: &(dyn Fn(Phase, u64) + Sync),
) -> Result<()> {
    let src: Source = source::open(path)?;
    let mut seen = 0u64;
    let mut splitter = Splitter::new(inferred.format, store_name);
    let piece_bytes = 256 << 10;
    splitter.piece_bytes = piece_bytes;
    let schemas: Vec<arrow_schema::SchemaRef> = inferred.stores.iter().map(|s| s.schema.clone()).collect();
    let names: Vec<String> = inferred.stores.iter().map(|s| s.name.clone()).collect();
    let on_invalid = opts.on_invalid;

    let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(2);
    std::thread::scope(|scope| -> Result<()> {
        let writer = scope.spawn(|| -> Result<()> {
            for msg in rx {
                opts.cancel.check()?;
                let Msg::Group(g) = msg;
                for (store, n, bytes) in g.read {
                    states[store].counts.read += n;
                    states[store].bytes_in += bytes;
                }
                for (store, rec) in g.rejects {
                    let st = &mut states[store];
                    match on_invalid {
                        OnInvalid::Skip => st.counts.skipped += 1,
                        OnInvalid::Fail => {
                            return Err(Error::Invalid {
                                store: rec.store,
                                record: rec.record,
                                offset: rec.offset,
                                path: rec.path,
                                reason: rec.reason,
                            })
                        }
                        OnInvalid::Quarantine => {
                            st.counts.rejected += 1;
                            if st.rejects.is_none() {
                                let p = format!("{}/{REJECTS}/part-{}.ndjson", st.job.staging(), st.job.id);
                                let f = sink
                                    .create(&p)
                                    .map_err(|source| Error::Write { path: sink.describe(&p), source })?;
                                st.rejects = Some(CountingWriter::new(f));
                            }
                            let w = st.rejects.as_mut().expect("rejects writer");
                            let mut line = serde_json::to_vec(&rec).expect("reject serialises");
                            line.push(b'\n');
                            w.write_all(&line).map_err(|source| Error::Write {
                                path: sink.describe(&format!(
                                    "{}/{REJECTS}/part-{}.ndjson",
                                    st.job.staging(),
                                    st.job.id
                                )),
                                source,
                            })?;
                        }
                    }
                }
                for (store, batch) in g.batches {
                    let st = &mut states[store];
                    st.counts.written += batch.num_rows() as u64;
                    st.writer
                        .as_mut()
                        .expect("writer")
                        .write(&batch)
                        .map_err(|reason| Error::Convert { store: st.name.clone(), reason })?;
                }
            }
            Ok(())
        });

        let mut map: Vec<Option<usize>> = Vec::new();
        let mut carry = schema_infer::Carry::new();
        let mut bom_checked = false;
        let mut process = |buf: &[u8], base: u64, eof: bool| -> Result<usize> {
            // Splitting is sequential: the pool decodes each window's records while this
            // thread splits the next; the batches are sent on in input order.
            let results: std::sync::Mutex<Vec<(usize, Vec<GroupOut>)>> = std::sync::Mutex::new(Vec::new());
            let mut window = 0usize;
            let used = pool
                .in_place_scope(|scope| {
                    splitter.split_windows(buf, base, eof, 1 << 20, |sp, pieces| {
                        for (i, d) in sp.stores.iter().enumerate() {
                            if map.len() <= i {
                                map.push(names.iter().position(|n| *n == d.name));
                            }
                        }
                        let map_now = map.clone();
                        let (schemas, names, results) = (&schemas, &names, &results);
                        let me = window;
                        window += 1;
                        scope.spawn(move |_| {
                            let outs: Vec<GroupOut> = schema_infer::group_pieces(&pieces, piece_bytes)
                                .into_iter()
                                .map(|g| decode_group(g, buf, base, &map_now, schemas, names))
                                .collect();
                            results.lock().expect("no panics while decoding").push((me, outs));
                        });
                    })
                })
                .map_err(|e| Error::Infer { path: display.to_owned(), source: Box::new(e) })?;
            let mut results = results.into_inner().expect("no panics while decoding");
            results.sort_by_key(|r| r.0);
            for o in results.into_iter().flat_map(|r| r.1) {
                if tx.send(Msg::Group(o)).is_err() {
                    // The writer stopped; its error is reported below.
                    return Ok(buf.len());
                }
            }
            Ok(used)
        };
        let read = source::for_each_block(src, crate::input::infer::BLOCK_BYTES, |block| {
            opts.cancel.check()?;
            seen += block.len() as u64;
            progress(Phase::Convert, seen);
            let mut block = block;
            if !bom_checked {
                bom_checked = true;
                if block.starts_with(b"\xEF\xBB\xBF") {
                    block = &block[3..];
                    carry.skip(3);
                }
            }
            carry.feed(block, |buf, base| process(buf, base, false))
        });
        let res = read.and_then(|r| r).and_then(|_| carry.finish(|buf, base| process(buf, base, true)));
        drop(tx);
        let wres = writer.join().expect("writer thread");
        // A writer error (e.g. --on-invalid fail) comes first: it stopped the pass.
        wres?;
        res?;
        Ok(())
    })
}

fn decode_group(
    g: &[Piece],
    buf: &[u8],
    base: u64,
    map: &[Option<usize>],
    schemas: &[arrow_schema::SchemaRef],
    names: &[String],
) -> GroupOut {
    let mut decoders: Vec<Option<Decoder>> = (0..schemas.len()).map(|_| None).collect();
    let mut read: Vec<(u64, u64)> = vec![(0, 0); schemas.len()];
    let mut rejects = Vec::new();
    let mut one = |split_store: u32, start: usize, end: usize, index: u64| {
        let Some(store) = map.get(split_store as usize).copied().flatten() else { return };
        let bytes = &buf[start..end];
        let d = decoders[store].get_or_insert_with(|| Decoder::new(schemas[store].clone()));
        read[store].0 += 1;
        read[store].1 += bytes.len() as u64;
        if let Err(Reject { at, reason }) = d.push(bytes) {
            let at = at.min(bytes.len());
            rejects.push((
                store,
                RejectRecord {
                    store: names[store].clone(),
                    record: index,
                    offset: base + (start + at) as u64,
                    path: schema_infer::path_at(bytes, at),
                    reason,
                    text: String::from_utf8_lossy(bytes).into_owned(),
                },
            ));
        }
    };
    for p in g {
        p.for_each_record(buf, &mut one);
    }
    let batches = decoders
        .iter_mut()
        .enumerate()
        .filter_map(|(i, d)| d.as_mut().filter(|d| d.rows() > 0).map(|d| (i, d.finish())))
        .collect();
    GroupOut {
        batches,
        rejects,
        read: read.into_iter().enumerate().filter(|(_, r)| r.0 > 0).map(|(i, r)| (i, r.0, r.1)).collect(),
    }
}
