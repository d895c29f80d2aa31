//! `push`: an export (or the changes since the last sync) merged into one Delta table
//! per store, by primary key.

use super::key::{canonical_typed, with_lone_surrogates_escaped, KeyPath};
use super::schema::{self, delta_column, original_schema, HASH, KEY_TEXT};
use super::{delta_err, open_table, runtime, sync_err, table_url};
use crate::cancel::Cancel;
use crate::error::{Error, Result};
use crate::input::decode::{Decoder, Reject};
use crate::input::source;
use crate::ops::convert::RejectRecord;
use arrow::array::{
    new_null_array, Array, ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray, UInt32Array,
};
use arrow_schema::{Field, FieldRef, Schema, SchemaRef};
use deltalake::datafusion::prelude::{col, SessionContext};
use deltalake::datafusion::{common::Column, logical_expr::Expr};
use deltalake::kernel::engine::arrow_conversion::TryFromKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::Transaction;
use deltalake::protocol::{DeltaOperation, OutputMode};
use deltalake::{DeltaTable, TableProperty};
use schema_infer::{InferOptions, InferResult, Inferrer, KeySpec, Splitter, StoreSchema};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// Options of a push, built with consuming `with_*` setters.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    infer: InferOptions,
    store: Option<String>,
    key: Option<KeyPath>,
    batch: Option<(String, i64)>,
    mirror: bool,
    cancel: Cancel,
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
    /// A token that stops the push before its commits (checked between stores).
    pub fn with_cancel(mut self, c: Cancel) -> Self {
        self.cancel = c;
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
    /// Records that did not fit (bad JSON, no key, a value the column cannot hold).
    pub rejected: u64,
    /// Of `unchanged`: records followed by another of the same key in the input.
    pub superseded: u64,
    /// Rows deleted by `--mirror` because their key was not in the input (not records).
    pub mirror_deleted: u64,
    /// Columns this push added to the table.
    pub new_columns: Vec<String>,
    /// Whether this push created the table.
    pub created: bool,
    /// What happened.
    pub status: PushStatus,
    /// The table version after the push: the checkpoint a pull starts from.
    pub checkpoint: i64,
    /// The first rejected records, with where and why.
    pub rejects: Vec<RejectRecord>,
}

/// What a push did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushReport {
    /// The client and batch, when given.
    pub batch: Option<(String, i64)>,
    /// Per table, in input order.
    pub tables: Vec<TablePush>,
}

const MAX_REJECTS_LISTED: usize = 100;

/// One record's outcome of decoding: its key and whether it is a delete or a row.
struct Rec {
    key: String,
    hash: Option<String>,
    row: Option<u32>,
}

struct Decoded {
    read: u64,
    recs: Vec<Rec>,
    rejects: Vec<RejectRecord>,
    rejected: u64,
    batch: RecordBatch,
}

/// Merges the export at `input` (`-` for stdin) into one Delta table per store under
/// `root` (a local folder or URL), creating the tables (with the change data feed on)
/// when missing. Each table gets one commit at most; with a batch id the commits record
/// it, and a batch already applied to a table is skipped there.
pub fn push(input: &Path, root: &str, opts: PushOptions) -> Result<PushReport> {
    let mut bytes = Vec::new();
    let src = source::open(input)?;
    opts.cancel
        .reader(src.reader)
        .read_to_end(&mut bytes)
        .map_err(|source| opts.cancel.or(Error::Read { path: input.to_owned(), source }))?;
    let body: &[u8] = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let store_name = opts.store.clone().unwrap_or(src.store_name);
    let infer_opts = opts.infer.clone().with_store_name(store_name.clone());
    let first = infer(body, infer_opts.clone(), input)?;
    let rt = runtime()?;
    rt.block_on(push_async(body, input, root, &store_name, first, infer_opts, &opts))
}

fn infer(body: &[u8], o: InferOptions, path: &Path) -> Result<InferResult> {
    let wrap = |source| Error::Infer { path: path.to_owned(), source: Box::new(source) };
    let mut inf = Inferrer::new(o).map_err(wrap)?;
    inf.push(body).map_err(wrap)?;
    inf.finish().map_err(wrap)
}

struct Target {
    name: String,
    table: DeltaTable,
    exists: bool,
    key: KeyPath,
    /// The Delta schema as Arrow reads it back (hidden columns included).
    delta: Option<Schema>,
    applied: bool,
}

async fn push_async(
    body: &[u8],
    input: &Path,
    root: &str,
    store_name: &str,
    first: InferResult,
    infer_opts: InferOptions,
    opts: &PushOptions,
) -> Result<PushReport> {
    let app_id = opts.batch.as_ref().map(|(c, _)| format!("idbsync:{c}"));
    // Open every table and check the batch against each before changing any.
    let mut targets = Vec::new();
    for st in &first.stores {
        let url = table_url(root, &st.name, true)?;
        let (table, exists) = open_table(&url, &st.name).await?;
        let key = key_of(st, opts.key.as_ref())?;
        let mut t = Target { name: st.name.clone(), table, exists, key, delta: None, applied: false };
        if exists {
            let snap = t.table.snapshot().map_err(delta_err(&t.name, "cannot read the table's state"))?;
            let cfg = snap.metadata().configuration();
            if let Some(k) = cfg.get(schema::PROP_KEY) {
                let theirs: KeyPath =
                    serde_json::from_str(k).map_err(|e| sync_err(&t.name, format!("bad key: {e}")))?;
                if theirs != t.key {
                    return Err(sync_err(
                        &t.name,
                        format!(
                            "the table's key is {}, this push's is {} (pass --key {} or push elsewhere)",
                            theirs.display(),
                            t.key.display(),
                            theirs.display()
                        ),
                    ));
                }
            }
            let delta = arrow_schema::Schema::try_from_kernel(snap.schema().as_ref())
                .map_err(|e| sync_err(&t.name, format!("the table's schema cannot be read: {e}")))?;
            t.delta = Some(delta);
            if let (Some(app), Some((client, seq))) = (&app_id, &opts.batch) {
                let last = snap
                    .transaction_version(t.table.log_store().as_ref(), app)
                    .await
                    .map_err(delta_err(&t.name, "cannot read the applied batches"))?;
                match last {
                    Some(v) if v > *seq => {
                        return Err(sync_err(
                            &t.name,
                            format!(
                                "batch {seq} of client '{client}' is older than batch {v}, the last one applied \
                                 (checkpoint {}): refused",
                                t.table.version().unwrap_or(0)
                            ),
                        ))
                    }
                    Some(v) if v == *seq => t.applied = true,
                    _ => {}
                }
            }
        }
        targets.push(t);
    }

    // Records are decoded against the columns the tables already have, so a value that
    // does not fit its column is a reject with the reason, never a silent change of type.
    let pinned: Vec<StoreSchema> = targets
        .iter()
        .filter_map(|t| {
            let d = t.delta.as_ref()?;
            let inferred = first.store(&t.name)?;
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
    let inferred = if pinned.is_empty() {
        first
    } else {
        let doc = InferResult { format: first.format, database: first.database.clone(), bytes: 0, stores: pinned };
        infer(body, infer_opts.with_pinned(Some(doc)), input)?
    };
    let mut decoded = decode(body, input, &inferred, store_name, &targets)?;

    let mut tables = Vec::new();
    for (t, d) in targets.into_iter().zip(decoded.drain(..)) {
        opts.cancel.check()?;
        let st = inferred.store(&t.name).expect("inferred store");
        tables.push(apply(t, d, st, opts).await?);
    }
    Ok(PushReport { batch: opts.batch.clone(), tables })
}

fn key_of(st: &StoreSchema, given: Option<&KeyPath>) -> Result<KeyPath> {
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
fn decode(
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
    let mut out: Vec<Decoded> = targets
        .iter()
        .map(|_| Decoded {
            read: 0,
            recs: Vec::new(),
            rejects: Vec::new(),
            rejected: 0,
            batch: RecordBatch::new_empty(Arc::new(Schema::empty())),
        })
        .collect();
    for p in &pieces {
        p.for_each_record(body, |sid, start, end, index| {
            let Some(i) = ids.get(sid as usize).copied().flatten() else { return };
            let bytes = &body[start..end];
            let o = &mut out[i];
            o.read += 1;
            let mut reject = |at: usize, reason: String| {
                o.rejected += 1;
                if o.rejects.len() < MAX_REJECTS_LISTED {
                    o.rejects.push(RejectRecord {
                        store: targets[i].name.clone(),
                        record: index,
                        offset: (start + at.min(bytes.len())) as u64,
                        path: schema_infer::path_at(bytes, at.min(bytes.len())),
                        reason,
                        text: String::from_utf8_lossy(bytes).into_owned(),
                    });
                }
            };
            let v: Value = match serde_json::from_slice(&with_lone_surrogates_escaped(bytes)) {
                Ok(v) => v,
                Err(e) => return reject(0, format!("cannot read the record's key: {e}")),
            };
            let (key, value) = match targets[i].key.extract(&v) {
                Ok(k) => k,
                Err(e) => return reject(0, e.to_string()),
            };
            let key = canonical_typed(&key, &targets[i].key.key_types(&v));
            if value.get("_deleted") == Some(&Value::Bool(true)) {
                o.recs.push(Rec { key, hash: None, row: None });
                return;
            }
            let d = &mut decoders[i];
            let row = d.rows() as u32;
            if let Err(Reject { at, reason }) = d.push(bytes) {
                return reject(at, reason);
            }
            let text = serde_json::to_vec(&v).expect("JSON values serialise");
            let hash = blake3::hash(&text).to_hex()[..32].to_owned();
            o.recs.push(Rec { key, hash: Some(hash), row: Some(row) });
        });
    }
    for (o, d) in out.iter_mut().zip(decoders.iter_mut()) {
        o.batch = d.finish();
    }
    Ok(out)
}

fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

async fn apply(t: Target, d: Decoded, st: &StoreSchema, opts: &PushOptions) -> Result<TablePush> {
    let name = t.name.clone();
    let location = t.table.table_url().to_string();
    let mut report = TablePush {
        table: name.clone(),
        location,
        read: d.read,
        upserted: 0,
        deleted: 0,
        unchanged: 0,
        rejected: d.rejected,
        superseded: 0,
        mirror_deleted: 0,
        new_columns: Vec::new(),
        created: false,
        status: PushStatus::NoChange,
        checkpoint: t.table.version().map_or(-1, |v| v as i64),
        rejects: d.rejects,
    };
    if t.applied {
        report.unchanged = d.read - d.rejected;
        report.status = PushStatus::AlreadyApplied;
        return Ok(report);
    }

    // The last record of each key wins.
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, r) in d.recs.iter().enumerate() {
        last.insert(&r.key, i);
    }
    report.superseded = (d.recs.len() - last.len()) as u64;

    // The rows there now, for the keys of this push (all of them with --mirror).
    let existing: HashMap<String, Option<String>> =
        if t.exists { existing_rows(&t.table, &name).await? } else { HashMap::new() };

    // What each winning record does.
    let mut rows: Vec<(String, Option<String>, Option<u32>)> = Vec::new(); // key, hash (None = delete), batch row
    let mut unchanged = report.superseded;
    for (i, r) in d.recs.iter().enumerate() {
        if last[r.key.as_str()] != i {
            continue;
        }
        match (&r.hash, existing.get(&r.key)) {
            (None, Some(_)) => {
                report.deleted += 1;
                rows.push((r.key.clone(), None, None));
            }
            (None, None) => unchanged += 1,
            (Some(h), Some(Some(old))) if h == old => unchanged += 1,
            (Some(h), _) => {
                report.upserted += 1;
                rows.push((r.key.clone(), Some(h.clone()), r.row));
            }
        }
    }
    if opts.mirror {
        let mut gone: Vec<&String> = existing.keys().filter(|k| !last.contains_key(k.as_str())).collect();
        gone.sort();
        report.mirror_deleted = gone.len() as u64;
        rows.extend(gone.into_iter().map(|k| (k.clone(), None, None)));
    }
    report.unchanged = unchanged;
    debug_assert_eq!(report.read, report.upserted + report.deleted + report.unchanged + report.rejected);

    // The source rows: the data columns (the table's, then new ones), then the hidden ones.
    let data = &d.batch;
    let mut fields: Vec<FieldRef> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    let mut create_columns = Vec::new();
    let take = UInt32Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>());
    let table_data: Vec<Field> = t
        .delta
        .as_ref()
        .map(|s| s.fields().iter().filter(|f| !schema::is_hidden(f.name())).map(|f| f.as_ref().clone()).collect())
        .unwrap_or_default();
    let mut names: Vec<String> = table_data.iter().map(|f| f.name().clone()).collect();
    for f in data.schema().fields() {
        if f.name() != "_deleted" && !names.contains(f.name()) && !schema::is_hidden(f.name()) {
            names.push(f.name().clone());
        }
    }
    for n in &names {
        let target: Field = match table_data.iter().find(|f| f.name() == n) {
            Some(f) => f.clone(),
            None => {
                let mut inferred = data.schema().field_with_name(n).expect("batch field").clone();
                if t.exists {
                    inferred = absent_before(inferred);
                }
                let (sf, back) = delta_column(&name, &inferred)?;
                create_columns.push(sf);
                if t.exists {
                    report.new_columns.push(n.clone());
                }
                back
            }
        };
        let col = match data.schema().index_of(n) {
            Ok(i) => {
                let picked = arrow::compute::take(data.column(i), &take, None)
                    .map_err(|source| Error::Arrow { context: format!("table '{name}': column '{n}'"), source })?;
                cast_to(&picked, target.data_type(), &name, n)?
            }
            Err(_) => new_null_array(target.data_type(), rows.len()),
        };
        fields.push(Arc::new(target));
        columns.push(col);
    }
    for (i, h) in schema::hidden_fields().into_iter().enumerate() {
        let n = rows.len();
        let col: ArrayRef = match i {
            0 => Arc::new(StringArray::from(rows.iter().map(|r| Some(r.0.as_str())).collect::<Vec<_>>())),
            1 => Arc::new(StringArray::from(rows.iter().map(|r| r.1.as_deref()).collect::<Vec<_>>())),
            2 => Arc::new(StringArray::from(vec![opts.batch.as_ref().map(|b| b.0.as_str()); n])),
            3 => Arc::new(Int64Array::from(vec![opts.batch.as_ref().map(|b| b.1); n])),
            _ => Arc::new(TimestampMicrosecondArray::from(vec![now_micros(); n]).with_timezone("UTC")),
        };
        if !t.exists {
            create_columns.push(delta_column(&name, &h)?.0);
        }
        fields.push(h);
        columns.push(col);
    }
    let source = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|source| Error::Arrow { context: format!("table '{name}': the rows to merge"), source })?;

    let mut commit = CommitProperties::default().with_metadata([
        ("idbsync.operation".to_owned(), Value::from("push")),
        ("idbsync.records".to_owned(), Value::from(report.read)),
    ]);
    if let Some((client, seq)) = &opts.batch {
        commit =
            commit.with_application_transaction(Transaction::new(format!("idbsync:{client}"), *seq)).with_metadata([
                ("idbsync.operation".to_owned(), Value::from("push")),
                ("idbsync.client".to_owned(), Value::from(client.as_str())),
                ("idbsync.batch".to_owned(), Value::from(*seq)),
            ]);
    }

    if !t.exists {
        let config: Vec<(String, Option<String>)> = vec![
            (TableProperty::EnableChangeDataFeed.as_ref().to_owned(), Some("true".to_owned())),
            (schema::PROP_SCHEMA_METADATA.to_owned(), Some(serde_json::to_string(st.schema.metadata()).expect("map"))),
            (schema::PROP_KEY.to_owned(), Some(serde_json::to_string(&t.key).expect("key"))),
            (schema::PROP_STORE.to_owned(), Some(name.clone())),
        ];
        let mut table = t
            .table
            .create()
            .with_columns(create_columns)
            .with_configuration(config)
            .with_raise_if_key_not_exists(false)
            .with_commit_properties(if rows.is_empty() { commit.clone() } else { CommitProperties::default() })
            .await
            .map_err(delta_err(&name, "cannot create the table"))?;
        if !rows.is_empty() {
            table = table
                .write(vec![source])
                .with_commit_properties(commit)
                .await
                .map_err(delta_err(&name, "cannot write the first rows"))?;
        }
        report.created = true;
        report.status = PushStatus::Committed;
        report.checkpoint = table.version().map_or(0, |v| v as i64);
        return Ok(report);
    }
    if rows.is_empty() {
        // Nothing to merge. With a batch id the batch must still count as applied (a merge
        // that changes nothing makes no commit, so it would not be recorded, and the same
        // batch pushed again would be merged again).
        if let Some((client, seq)) = &opts.batch {
            report.checkpoint = record_batch(&t.table, &name, client, *seq, commit).await?;
            report.status = PushStatus::Committed;
        }
        return Ok(report);
    }
    let before = t.table.version();
    let batch_commit = opts.batch.as_ref().map(|_| commit.clone());

    let ctx = SessionContext::new();
    let df = ctx.read_batch(source).map_err(|e| sync_err(&name, format!("cannot read the rows to merge: {e}")))?;
    let target_col = |n: &str| Column::new_unqualified(n);
    let source_col = |n: &str| Expr::Column(Column::new(Some("source"), n));
    let all: Vec<String> = names.iter().cloned().chain(schema::HIDDEN.iter().map(|s| (*s).to_owned())).collect();
    let all2 = all.clone();
    let (table, metrics) = t
        .table
        .merge(df, col(format!("target.{KEY_TEXT}")).eq(col(format!("source.{KEY_TEXT}"))))
        .with_source_alias("source")
        .with_target_alias("target")
        .with_merge_schema(!report.new_columns.is_empty())
        .with_commit_properties(commit)
        .when_matched_delete(|d| d.predicate(col(format!("source.{HASH}")).is_null()))
        .and_then(|m| {
            m.when_matched_update(|mut u| {
                for n in &all {
                    u = u.update(target_col(n), source_col(n));
                }
                u
            })
        })
        .and_then(|m| {
            m.when_not_matched_insert(|mut ins| {
                ins = ins.predicate(col(format!("source.{HASH}")).is_not_null());
                for n in &all2 {
                    ins = ins.set(target_col(n), source_col(n));
                }
                ins
            })
        })
        .map_err(delta_err(&name, "cannot plan the merge"))?
        .await
        .map_err(delta_err(&name, "the merge failed"))?;
    let changed = (metrics.num_target_rows_inserted + metrics.num_target_rows_updated) as u64;
    let removed = metrics.num_target_rows_deleted as u64;
    if changed != report.upserted || removed != report.deleted + report.mirror_deleted {
        // Another writer changed the table between the look-up and the merge: the
        // merge's own counts are what happened.
        report.upserted = changed;
        report.deleted = removed.saturating_sub(report.mirror_deleted);
        report.unchanged = report.read - report.rejected - report.upserted - report.deleted.min(report.read);
    }
    if table.version() == before {
        // The merge changed nothing (another writer had made the same changes first).
        match (&opts.batch, batch_commit) {
            (Some((client, seq)), Some(commit)) => {
                report.checkpoint = record_batch(&table, &name, client, *seq, commit).await?;
                report.status = PushStatus::Committed;
            }
            _ => report.status = PushStatus::NoChange,
        }
        return Ok(report);
    }
    report.status = PushStatus::Committed;
    report.checkpoint = table.version().map_or(0, |v| v as i64);
    Ok(report)
}

/// A column added to a table that has rows: those rows lack the field, so a null there
/// stands for an absent key (`idb.nulls`), unless this push's records hold other kinds of
/// "no value" too (then nulls stay as inferred: a documented limit).
fn absent_before(f: Field) -> Field {
    let mut meta = f.metadata().clone();
    match meta.get(schema_infer::META_NULLS).map(String::as_str) {
        None | Some("") | Some("absent") => {
            meta.insert(schema_infer::META_NULLS.to_owned(), "absent".to_owned());
            f.with_metadata(meta)
        }
        Some(_) => f,
    }
}

/// Records batch `seq` of `client` as applied to `table` in a commit of its own that
/// changes no data (Delta's `txn` action, as a streaming writer records an empty
/// micro-batch), and gives the new table version. For a batch that changed nothing:
/// deltalake makes no commit for a merge without changes.
async fn record_batch(table: &DeltaTable, name: &str, client: &str, seq: i64, commit: CommitProperties) -> Result<i64> {
    let snapshot = table.snapshot().map_err(delta_err(name, "cannot read the table's state"))?;
    let operation = DeltaOperation::StreamingUpdate {
        output_mode: OutputMode::Append,
        query_id: format!("idbsync:{client}"),
        epoch_id: seq,
    };
    let done = CommitBuilder::from(commit)
        .build(Some(snapshot), table.log_store(), operation)
        .await
        .map_err(delta_err(name, "cannot record the batch"))?;
    Ok(done.version() as i64)
}

/// Each row's key text and content hash (`None`: a row written without one).
type RowHashes = HashMap<String, Option<String>>;

/// The key and content hash of every row of the table.
async fn existing_rows(table: &DeltaTable, name: &str) -> Result<RowHashes> {
    let ctx = SessionContext::new();
    table.update_datafusion_session(&ctx.state()).map_err(delta_err(name, "cannot read the table"))?;
    let provider = table.table_provider().await.map_err(|e| sync_err(name, format!("cannot read the table: {e}")))?;
    let df = ctx.read_table(provider).map_err(|e| sync_err(name, format!("cannot read the table: {e}")))?;
    let batches = df
        .select_columns(&[KEY_TEXT, HASH])
        .map_err(|e| sync_err(name, format!("cannot read the table's keys: {e}")))?
        .collect()
        .await
        .map_err(|e| sync_err(name, format!("cannot read the table's keys: {e}")))?;
    let mut out = HashMap::new();
    for b in batches {
        let k = arrow::compute::cast(b.column(0), &arrow_schema::DataType::Utf8)
            .map_err(|source| Error::Arrow { context: format!("table '{name}': keys"), source })?;
        let h = arrow::compute::cast(b.column(1), &arrow_schema::DataType::Utf8)
            .map_err(|source| Error::Arrow { context: format!("table '{name}': hashes"), source })?;
        let (k, h) = (
            k.as_any().downcast_ref::<StringArray>().expect("utf8"),
            h.as_any().downcast_ref::<StringArray>().expect("utf8"),
        );
        for i in 0..k.len() {
            if k.is_valid(i) {
                let key = k.value(i).to_owned();
                out.insert(key, h.is_valid(i).then(|| h.value(i).to_owned()));
            }
        }
    }
    Ok(out)
}

fn cast_to(a: &ArrayRef, to: &arrow_schema::DataType, table: &str, column: &str) -> Result<ArrayRef> {
    if a.data_type() == to {
        return Ok(a.clone());
    }
    let o = arrow::compute::CastOptions { safe: false, ..Default::default() };
    arrow::compute::cast_with_options(a, to, &o).map_err(|source| Error::Arrow {
        context: format!("table '{table}': column '{column}' ({}) cannot be stored as {to}", a.data_type()),
        source,
    })
}
