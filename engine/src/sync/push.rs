//! `push`: an export (or the changes since the last sync) merged into one Delta table
//! per store, by primary key. Into new tables the push is streamed ([`super::load`]).
//! Otherwise the input is read, inferred and decoded once; each table is then applied to
//! ([`super::merge`], or [`super::widen`] when records do not fit the table's columns)
//! until an attempt is not beaten by another writer's commit ([`super::retry`]), each new
//! attempt against the table's new version.

use super::body::Body;
use super::key::{canonical_typed, with_lone_surrogates_escaped, KeyPath};
use super::load::{self, Earlier, Loaded};
use super::merge::{apply, Attempt};
use super::progress::{Progress, PushStage};
use super::retry;
use super::runtime;
use super::schema::original_schema;
use super::sync_err;
use super::target::{open_target, Target};
use super::widen;
use crate::cancel::Cancel;
use crate::error::{Error, Result};
use crate::input::decode::{Decoder, Reject};
use crate::input::source;
use crate::ops::convert::RejectRecord;
use crate::output::partition::PartitionField;
use crate::storage::options::StorageOptions;
use arrow::array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use schema_infer::{InferOptions, InferResult, Inferrer, KeySpec, Splitter, StoreSchema};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Options of a push, built with consuming `with_*` setters.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    infer: InferOptions,
    store: Option<String>,
    pub(super) key: Option<KeyPath>,
    pub(super) batch: Option<(String, i64)>,
    pub(super) mirror: bool,
    attempts: Option<u32>,
    pub(super) cancel: Cancel,
    pub(super) storage: StorageOptions,
    pub(super) progress: Progress,
    pub(super) partition_by: Vec<PartitionField>,
}

impl PushOptions {
    /// Defaults: keys from the export's Dexie schema, no batch id, no mirroring.
    pub fn new() -> Self {
        Self::default()
    }
    /// Options for inference (format, `--detect-timestamps` …).
    pub fn with_infer(mut self, o: InferOptions) -> Self {
        self.infer = o;
        self
    }
    /// Store name for single-store inputs (default: the file name).
    pub fn with_store(mut self, s: Option<String>) -> Self {
        self.store = s;
        self
    }
    /// The primary key path of every store (`--key`), for inputs that carry none (NDJSON,
    /// plain dumps); by default the Dexie schema's key path, or the out-of-line `__key`.
    pub fn with_key(mut self, k: Option<KeyPath>) -> Self {
        self.key = k;
        self
    }
    /// The batch `seq` of `client`: recorded as a Delta application transaction with the
    /// commit, so the same batch pushed again changes nothing, and an older one is refused.
    pub fn with_batch(mut self, client: impl Into<String>, seq: i64) -> Self {
        self.batch = Some((client.into(), seq));
        self
    }
    /// The input is the whole store: keys absent from it are deleted.
    pub fn with_mirror(mut self, m: bool) -> Self {
        self.mirror = m;
        self
    }
    /// At most `n` attempts per table (default 12). An attempt whose commit loses to
    /// another writer's (a Delta commit conflict) is redone against the table's new
    /// version after a short random wait; when all `n` lose, the push fails with
    /// [`Error::Contended`], naming the table.
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.attempts = Some(n);
        self
    }
    /// A token that stops the push before its commits (checked between stores and
    /// between attempts).
    pub fn with_cancel(mut self, c: Cancel) -> Self {
        self.cancel = c;
        self
    }
    /// How the root is opened (the HDFS client settings of `--hdfs-conf`, which reach
    /// deltalake's HDFS object store as they reach the Parquet sink).
    pub fn with_storage(mut self, s: StorageOptions) -> Self {
        self.storage = s;
        self
    }
    /// An observer told each [`PushStage`] as the push reaches it (from the calling
    /// thread or the push's runtime; it should return quickly).
    pub fn with_progress(mut self, f: impl Fn(&PushStage) + Send + Sync + 'static) -> Self {
        self.progress = Progress::new(f);
        self
    }
    /// How a table this push creates is partitioned (`--partition-by`: top-level columns,
    /// or `day(col)`); a table that exists keeps its own, and naming another is refused.
    pub fn with_partition_by(mut self, p: Vec<PartitionField>) -> Self {
        self.partition_by = p;
        self
    }
}

/// What a push did to one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    /// A new table version was committed.
    Committed,
    /// Nothing differed from the table: no commit (without a batch id).
    NoChange,
    /// The batch had already been applied to this table: nothing was done.
    AlreadyApplied,
}

/// What a push did to one table. `read = upserted + deleted + unchanged + rejected`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TablePush {
    /// The store (table) name.
    pub table: String,
    /// The table's URL.
    pub location: String,
    /// Records of the store in the input.
    pub read: u64,
    /// Records inserted or updated.
    pub upserted: u64,
    /// Delete records (`"_deleted": true`) that removed a row.
    pub deleted: u64,
    /// Records that changed nothing: equal to the row there, deletes of keys not there,
    /// records superseded by a later one of the same key in the input (`superseded`), and
    /// every record of a batch already applied.
    pub unchanged: u64,
    /// Records that did not fit (bad JSON, no key; with `--on-conflict error`, a value its
    /// column cannot hold: otherwise the column is widened, [`TablePush::widened_columns`]).
    pub rejected: u64,
    /// Of `unchanged`: records followed by another of the same key in the input.
    pub superseded: u64,
    /// Rows deleted by `--mirror` because their key was not in the input (not records).
    pub mirror_deleted: u64,
    /// Columns this push added to the table.
    pub new_columns: Vec<String>,
    /// Columns whose type this push changed so that every value fits (a lossless
    /// widening, or the JSON-text column `convert` makes of a type conflict); the table
    /// was rewritten in the push's commit ([`TablePush::rewritten`] rows).
    #[serde(default)]
    pub widened_columns: Vec<WidenedColumn>,
    /// Rows of the table re-encoded for [`TablePush::widened_columns`] (0 without).
    #[serde(default)]
    pub rewritten: u64,
    /// Whether this push created the table.
    pub created: bool,
    /// Data files of the table the merge read (the others were skipped by their key
    /// statistics: none of them could hold a key of the push).
    #[serde(default)]
    pub files_read: u64,
    /// Data files the merge rewrote (those holding a row it updated or deleted).
    #[serde(default)]
    pub files_rewritten: u64,
    /// What happened.
    pub status: PushStatus,
    /// The table version after the push: the checkpoint a pull starts from.
    pub checkpoint: i64,
    /// Attempts this push made at the table: 1, or more when other writers committed
    /// first and the push was redone against the table's new version.
    #[serde(default = "one")]
    pub attempts: u32,
    /// The first rejected records, with where and why.
    pub rejects: Vec<RejectRecord>,
    /// Where every rejected record of this push was written, relative to the root
    /// (`<store>/_rejects/push-<checkpoint>-<time>.ndjson`); `None` without rejects, and
    /// for a batch already applied (its first push wrote them).
    #[serde(default)]
    pub rejects_file: Option<String>,
}

/// A column whose type a push changed, as types read (`Int64`, `Float64`, `JSON text`…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidenedColumn {
    /// The column.
    pub column: String,
    /// Its type before the push.
    pub from: String,
    /// Its type after.
    pub to: String,
    /// Why, as `infer --explain` says it: the kind of value that first did not fit, and
    /// the record of this push's store that held it (counted from 0), when known.
    #[serde(default)]
    pub cause: Option<String>,
    /// That record's index among the push's records of the store.
    #[serde(default)]
    pub record: Option<u64>,
}

/// What a push did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushReport {
    /// The client and batch, when given.
    pub batch: Option<(String, i64)>,
    /// Per table, in input order.
    pub tables: Vec<TablePush>,
}

fn one() -> u32 {
    1
}

/// Rejected records a push report lists (all of them go to the rejects file).
pub(super) const MAX_REJECTS_LISTED: usize = 100;

/// One record's outcome of decoding: its key and whether it is a delete or a row.
pub(super) struct Rec {
    /// The key's canonical text.
    pub key: String,
    /// The content hash; `None` for a delete.
    pub hash: Option<String>,
    /// The record's row in the decoded batch (not for deletes).
    pub row: Option<u32>,
}

/// A store's records, decoded against the columns of its table (when it has one).
pub(super) struct Decoded {
    pub read: u64,
    pub recs: Vec<Rec>,
    pub rejects: Vec<RejectRecord>,
    pub rejected: u64,
    /// Of `rejected`: records whose values do not fit the columns they were decoded
    /// against (not bad JSON, not a missing key): a push widens the table for them.
    pub misfits: u64,
    pub batch: RecordBatch,
    /// The store's IndexedDB metadata (kept in the properties of a table it creates).
    pub meta: HashMap<String, String>,
    /// The records and rows were let go ([`Decoded::release`]): decode again to retry.
    pub released: bool,
}

impl Decoded {
    /// No records yet, of a store with the IndexedDB metadata `meta`.
    pub(super) fn new(meta: HashMap<String, String>) -> Self {
        Decoded {
            read: 0,
            recs: Vec::new(),
            rejects: Vec::new(),
            rejected: 0,
            misfits: 0,
            batch: RecordBatch::new_empty(Arc::new(Schema::empty())),
            meta,
            released: false,
        }
    }

    /// Lets the records and rows go once the rows to merge are taken from them (the
    /// counts and rejects stay), so a merge does not hold the decoded input beside them.
    pub(super) fn release(&mut self) {
        self.recs = Vec::new();
        self.batch = RecordBatch::new_empty(Arc::new(Schema::empty()));
        self.released = true;
    }
}

/// Merges the export at `input` (`-` for stdin) into one Delta table per store under
/// `root` (a local folder or URL), creating the tables (with the change data feed on)
/// when missing. Each table gets one commit (a first push: two, the creation and the
/// rows); with a batch id the commits record it, and a batch already applied to a table
/// is skipped there. A commit that loses to another writer's is redone against the
/// table's new version, a bounded number of times ([`PushOptions::with_max_attempts`]).
///
/// When none of the input's stores has a table yet and the input is a file, the push is
/// streamed ([`super::load`]): the rows are written as the file is read a second time,
/// so memory follows a block of the input rather than all of it. Otherwise the input is
/// read whole, and its records decoded, before each table is merged into.
pub fn push(input: &Path, root: &str, opts: PushOptions) -> Result<PushReport> {
    opts.progress.report(|| PushStage::Reading);
    let store_name = opts.store.clone().unwrap_or_else(|| source::store_name_of(input));
    let mut infer_opts = opts.infer.clone().with_store_name(store_name.clone());
    if infer_opts.format().is_none() {
        infer_opts = infer_opts.with_format(source::format_of_name(input));
    }
    let rt = runtime()?;
    let mut earlier = Earlier::default();
    let mut inferred = None;
    if input != Path::new("-") {
        // A file can be read twice: into new tables, the push is streamed.
        let mut src = source::open(input)?;
        src.reader = Box::new(opts.cancel.reader(src.reader));
        let first = crate::input::infer::infer_source(src, infer_opts.clone()).map_err(|e| opts.cancel.or(e))?;
        match load::load(&rt, input, root, &store_name, &first, &opts)? {
            Loaded::Done(tables) => return Ok(PushReport { batch: opts.batch.clone(), tables }),
            Loaded::Fallback(e) => earlier = e,
        }
        inferred = Some(first);
    }
    let body = Body::read(input, &opts.cancel)?;
    let first = match inferred {
        Some(first) => first,
        None => infer(&body.text()?, infer_opts.clone(), input)?,
    };
    let opened = std::mem::take(&mut earlier.targets);
    let job = Job { body: &body, input, root, store_name: &store_name, first, infer_opts, opts: &opts, earlier };
    rt.block_on(job.run(opened))
}

pub(super) fn infer(body: &[u8], o: InferOptions, path: &Path) -> Result<InferResult> {
    let wrap = |source| Error::Infer { path: path.to_owned(), source: Box::new(source) };
    let mut inf = Inferrer::new(o).map_err(wrap)?;
    inf.push(body).map_err(wrap)?;
    inf.finish().map_err(wrap)
}

/// One push: the input, read and inferred once, and where it goes.
pub(super) struct Job<'a> {
    pub body: &'a Body,
    pub input: &'a Path,
    pub root: &'a str,
    pub store_name: &'a str,
    /// The inference of the input alone (before any table's columns pin it).
    pub first: InferResult,
    pub infer_opts: InferOptions,
    pub opts: &'a PushOptions,
    /// What a streamed push into new tables did before it gave way to this one.
    pub earlier: Earlier,
}

impl Job<'_> {
    /// Runs the push; `targets`: the tables of the input's stores, when already read (by
    /// a streamed push that found some of them there).
    async fn run(&self, mut targets: Vec<Target>) -> Result<PushReport> {
        // Open every table and check the batch against each before changing any.
        if targets.is_empty() {
            for st in &self.first.stores {
                let key = key_of(st, self.opts.key.as_ref())?;
                targets.push(open_target(self.root, self.opts, &st.name, key).await?);
            }
        }
        let records = self.first.stores.iter().map(|s| s.rows).sum();
        self.opts.progress.report(|| PushStage::Decoding { stores: targets.len(), records });
        let decoded = self.decode_for(&targets)?;
        let mut tables = Vec::new();
        for (t, d) in targets.into_iter().zip(decoded) {
            self.opts.cancel.check()?;
            if let Some(done) = self.earlier.done.iter().find(|r| r.table == t.name) {
                tables.push(done.clone());
                continue;
            }
            let (mut r, rejects) = self.apply_with_retries(t, d).await?;
            r.created |= self.earlier.created.contains(&r.table);
            let (table, status, checkpoint) = (r.table.clone(), r.status, r.checkpoint);
            self.opts.progress.report(|| PushStage::Done { table, status, checkpoint });
            if !rejects.is_empty() && r.status != PushStatus::AlreadyApplied {
                r.rejects_file = Some(write_rejects(self.root, &self.opts.storage, &r, &rejects)?);
            }
            tables.push(r);
        }
        Ok(PushReport { batch: self.opts.batch.clone(), tables })
    }

    /// Decodes the records of `targets`' stores. Records are decoded against the columns
    /// the tables already have, so a value that does not fit its column is never a silent
    /// change of type: it is counted ([`Decoded::misfits`]), and the attempt widens the
    /// table's columns for it ([`widen`]) or keeps it as a reject with the reason. The
    /// input's text is let go afterwards ([`Body::release`]).
    pub(super) fn decode_for(&self, targets: &[Target]) -> Result<Vec<Decoded>> {
        let text = self.body.text()?;
        let pinned: Vec<StoreSchema> = targets
            .iter()
            .filter_map(|t| {
                let d = t.delta.as_ref()?;
                let inferred = self.first.store(&t.name)?;
                Some(StoreSchema {
                    name: t.name.clone(),
                    rows: 0,
                    invalid: 0,
                    issues: Vec::new(),
                    widenings: Vec::new(),
                    warnings: Vec::new(),
                    schema: original_schema(d, inferred.schema.metadata().clone()),
                })
            })
            .collect();
        let repinned;
        let inferred = if pinned.is_empty() {
            &self.first
        } else {
            let f = &self.first;
            let doc = InferResult { format: f.format, database: f.database.clone(), bytes: 0, stores: pinned };
            repinned = infer(&text, self.infer_opts.clone().with_pinned(Some(doc)), self.input)?;
            &repinned
        };
        let decoded = decode(&text, self.input, inferred, self.store_name, targets)?;
        // The merges need only the rows decoded: the text is read again if an attempt
        // must decode anew.
        drop(text);
        self.body.release();
        Ok(decoded)
    }

    /// Applies `d` to its table, starting over against the table's new version each time
    /// another writer's commit gets in first, until it is done or the attempts run out.
    /// Gives the report and every record rejected. When records do not fit the table's
    /// columns, the columns are widened ([`widen`]) and those records kept.
    pub(super) async fn apply_with_retries(
        &self,
        mut t: Target,
        mut d: Decoded,
    ) -> Result<(TablePush, Vec<RejectRecord>)> {
        let most = self.opts.attempts.unwrap_or(retry::DEFAULT_ATTEMPTS).max(1);
        let mut created = false;
        let mut attempt = 1;
        loop {
            let widened = match widen::needed(&t, &d, &self.infer_opts) {
                true => widen::apply(self, &t).await?,
                false => None,
            };
            let (outcome, rejects) = match widened {
                Some(w) => w,
                None => (apply(&t, &mut d, self.opts).await?, None),
            };
            match outcome {
                Attempt::Done(mut r) => {
                    r.created |= created;
                    r.attempts = attempt;
                    return Ok((*r, rejects.unwrap_or_else(|| d.rejects.clone())));
                }
                Attempt::Lost { source, created: c } => {
                    created |= c;
                    if attempt >= most {
                        return Err(Error::Contended { table: t.name, attempts: attempt, source });
                    }
                    tokio::time::sleep(retry::backoff(attempt)).await;
                    self.opts.cancel.check()?;
                    attempt += 1;
                    self.opts.progress.report(|| PushStage::Retrying { table: t.name.clone(), attempt });
                    let fresh = open_target(self.root, self.opts, &t.name, t.key.clone()).await?;
                    if fresh.delta != t.delta || d.released {
                        // New columns (or a table another writer created), or the rows
                        // were let go for the merge: decode again.
                        d = self.decode_for(std::slice::from_ref(&fresh))?.pop().expect("one store decoded");
                    }
                    t = fresh;
                }
            }
        }
    }
}

/// Writes every rejected record of a push to `<store>/_rejects/` under `root`, one JSON
/// object per line as `convert` writes its rejects (Delta readers and vacuum leave
/// folders starting with `_` alone). Returns the file's path relative to the root.
pub(super) fn write_rejects(
    root: &str,
    storage: &StorageOptions,
    r: &TablePush,
    rejects: &[RejectRecord],
) -> Result<String> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let rel = format!(
        "{}/{}/push-{:08}-{nanos}.ndjson",
        crate::output::partition::store_dir_name(&r.table),
        crate::dataset::manifest::REJECTS,
        r.checkpoint
    );
    let mut text = Vec::new();
    for rec in rejects {
        serde_json::to_writer(&mut text, rec).expect("rejects serialise");
        text.push(b'\n');
    }
    let location = crate::storage::location::Location::parse(root)?;
    let sink = crate::storage::open_sink(&location, storage)?;
    sink.write_atomic(&rel, &text).map_err(|source| Error::Write { path: sink.describe(&rel), source })?;
    Ok(rel)
}

pub(super) fn key_of(st: &StoreSchema, given: Option<&KeyPath>) -> Result<KeyPath> {
    if let Some(k) = given {
        return Ok(k.clone());
    }
    let meta = st.schema.metadata();
    let parts: Vec<String> =
        meta.get(schema_infer::META_KEY_PATH).and_then(|k| serde_json::from_str(k).ok()).unwrap_or_default();
    if !parts.is_empty() {
        let compound =
            meta.get(schema_infer::META_DEXIE_SCHEMA).map_or(parts.len() > 1, |s| KeySpec::parse(s).compound);
        return Ok(KeyPath::Inbound { parts, compound });
    }
    if st.schema.field_with_name(schema_infer::KEY_COLUMN).is_ok() {
        return Ok(KeyPath::OutOfLine);
    }
    Err(sync_err(&st.name, "the input gives no primary key for this store (NDJSON or a plain dump): pass --key PATH"))
}

/// Splits the input and decodes each store's records, noting each record's key.
pub(super) fn decode(
    body: &[u8],
    input: &Path,
    inferred: &InferResult,
    store_name: &str,
    targets: &[Target],
) -> Result<Vec<Decoded>> {
    let mut sp = Splitter::new(inferred.format, store_name);
    let mut pieces = Vec::new();
    sp.split(body, 0, true, &mut pieces).map_err(|e| Error::Infer { path: input.to_owned(), source: Box::new(e) })?;
    let schemas: Vec<SchemaRef> =
        targets.iter().map(|t| inferred.store(&t.name).expect("inferred store").schema.clone()).collect();
    let ids: Vec<Option<usize>> = sp.stores.iter().map(|d| targets.iter().position(|t| t.name == d.name)).collect();
    let mut decoders: Vec<Decoder> = schemas.iter().map(|s| Decoder::new(s.clone())).collect();
    let mut out: Vec<Decoded> = schemas.iter().map(|s| Decoded::new(s.metadata().clone())).collect();
    for p in &pieces {
        p.for_each_record(body, |sid, start, end, index| {
            let Some(i) = ids.get(sid as usize).copied().flatten() else { return };
            decode_record(&mut out[i], &mut decoders[i], &targets[i], &body[start..end], start as u64, index);
        });
    }
    for (o, d) in out.iter_mut().zip(decoders.iter_mut()) {
        o.batch = d.finish();
    }
    Ok(out)
}

/// Decodes one record of a store into `o` with its decoder `d`: its key and content hash,
/// and its row in the decoder (a delete has none), or a reject with where and why.
/// `offset` is where the record starts in the input.
pub(super) fn decode_record(o: &mut Decoded, d: &mut Decoder, target: &Target, bytes: &[u8], offset: u64, index: u64) {
    o.read += 1;
    let reject = |o: &mut Decoded, at: usize, reason: String| {
        o.rejected += 1;
        o.rejects.push(RejectRecord {
            store: target.name.clone(),
            record: index,
            offset: offset + at.min(bytes.len()) as u64,
            path: schema_infer::path_at(bytes, at.min(bytes.len())),
            reason,
            text: String::from_utf8_lossy(bytes).into_owned(),
        });
    };
    let v: Value = match serde_json::from_slice(&with_lone_surrogates_escaped(bytes)) {
        Ok(v) => v,
        Err(e) => return reject(o, 0, format!("cannot read the record's key: {e}")),
    };
    let (key, value) = match target.key.extract(&v) {
        Ok(k) => k,
        Err(e) => return reject(o, 0, e.to_string()),
    };
    let key = canonical_typed(&key, &target.key.key_types(&v));
    if value.get("_deleted") == Some(&Value::Bool(true)) {
        o.recs.push(Rec { key, hash: None, row: None });
        return;
    }
    let row = d.rows() as u32;
    if let Err(Reject { at, reason }) = d.push(bytes) {
        reject(o, at, reason);
        o.misfits += 1;
        return;
    }
    let text = serde_json::to_vec(&v).expect("JSON values serialise");
    let hash = blake3::hash(&text).to_hex()[..32].to_owned();
    o.recs.push(Rec { key, hash: Some(hash), row: Some(row) });
}
