//! `pull`: a synced table's changes since a checkpoint (or the whole table), as records
//! to upsert and keys to delete, written for IndexedDB.

use super::key::{parse_canonical, KeyPath};
use super::schema::{self, original_schema, KEY_TEXT};
use super::{delta_err, open_table, runtime, sync_err, table_url};
use crate::cancel::Cancel;
use crate::error::{Error, Result};
use crate::ops::download::{DownloadFormat, DownloadOptions, DownloadWriter};
use crate::storage::options::StorageOptions;
use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Schema, SchemaRef};
use deltalake::datafusion::prelude::SessionContext;
use deltalake::delta_datafusion::DeltaCdfTableProvider;
use deltalake::kernel::engine::arrow_conversion::TryFromKernel;
use deltalake::logstore::LogStore as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

/// What a pull writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PullFormat {
    /// One record per line (as `download --format ndjson` writes them), then one
    /// `{"_deleted": true, <key>}` line per deleted key (RxDB's pull shape), then a last
    /// line `{"_checkpoint": N}`.
    #[default]
    Ndjson,
    /// A Dexie export of the records to upsert, for `importInto(db, blob,
    /// {overwriteValues: true})`; the deleted keys and the checkpoint are in the report
    /// ([`PullReport::sidecar`]), which the CLI writes beside the export.
    Dexie,
}

impl PullFormat {
    /// How the records to upsert are written.
    fn download_format(self) -> DownloadFormat {
        match self {
            PullFormat::Ndjson => DownloadFormat::Ndjson,
            PullFormat::Dexie => DownloadFormat::Dexie,
        }
    }
}

impl FromStr for PullFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ndjson" | "jsonl" => Ok(PullFormat::Ndjson),
            "dexie" => Ok(PullFormat::Dexie),
            other => Err(format!("unknown pull format '{other}' (ndjson, dexie)")),
        }
    }
}

/// Options of a pull, built with consuming `with_*` setters.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    since: Option<i64>,
    format: PullFormat,
    cancel: Cancel,
    storage: StorageOptions,
}

impl PullOptions {
    /// The whole table, as NDJSON.
    pub fn new() -> Self {
        Self::default()
    }
    /// Only what was committed after checkpoint `since` (a table version that `push` or an
    /// earlier `pull` printed); `None` for the whole current table.
    pub fn with_since(mut self, since: Option<i64>) -> Self {
        self.since = since;
        self
    }
    /// The output format.
    pub fn with_format(mut self, f: PullFormat) -> Self {
        self.format = f;
        self
    }
    /// How the root is opened (the HDFS client settings of `--hdfs-conf`).
    pub fn with_storage(mut self, s: StorageOptions) -> Self {
        self.storage = s;
        self
    }
    /// A token that stops the pull between batches.
    pub fn with_cancel(mut self, c: Cancel) -> Self {
        self.cancel = c;
        self
    }
}

/// What a pull wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullReport {
    /// The table.
    pub table: String,
    /// The table's URL.
    pub location: String,
    /// The checkpoint the changes start after (`None`: the whole table).
    pub since: Option<i64>,
    /// The table version the output is current to: the next pull's `since`.
    pub checkpoint: i64,
    /// The table's key path (`id`, `[a+b]`, `__key`).
    pub key_path: String,
    /// Records written (to insert or replace).
    pub upserts: u64,
    /// Keys deleted since `since`, as records holding only the key and `"_deleted": true`.
    pub deleted: Vec<Value>,
    /// Bytes written to the output.
    pub bytes: u64,
}

impl PullReport {
    /// The small JSON document that goes beside a Dexie export:
    /// `{"table", "since", "checkpoint", "key_path", "deleted": [keys]}`, where each
    /// deleted key is what `Table.bulkDelete` takes.
    ///
    /// Typed keys (Dates, binary) are given as their typeson encoding, with their tags in a
    /// `"$types"` member as a Dexie export row carries them (paths `deleted.<i>`, or
    /// `deleted.<i>.<part>` inside a compound key), so that the reviver of
    /// dexie-export-import (or the JavaScript client) gives the keys back typed.
    pub fn sidecar(&self) -> Value {
        let keys: Vec<Value> = self.deleted.iter().map(key_of_tombstone).collect();
        let mut types = serde_json::Map::new();
        for (i, t) in self.deleted.iter().enumerate() {
            if let Some(Value::Object(tags)) = t.get(KEY_TYPES) {
                for (p, tag) in tags {
                    let path = if p.is_empty() { format!("deleted.{i}") } else { format!("deleted.{i}.{p}") };
                    types.insert(path, tag.clone());
                }
            }
        }
        let mut side = serde_json::json!({
            "table": self.table,
            "since": self.since,
            "checkpoint": self.checkpoint,
            "key_path": self.key_path,
            "deleted": keys,
        });
        if !types.is_empty() {
            side["$types"] = Value::Object(types);
        }
        side
    }
}

/// The member of a tombstone in [`PullReport::deleted`] that holds its key's typeson tags.
const KEY_TYPES: &str = "_key_types";

/// The key a tombstone holds, as IndexedDB takes it (an array for compound keys).
fn key_of_tombstone(t: &Value) -> Value {
    t.get("_key").cloned().unwrap_or(Value::Null)
}

/// Writes the changes of table `table` under `root` since `opts`' checkpoint (or the
/// whole table) to `out`, and reports the new checkpoint.
pub fn pull<W: Write + Send>(root: &str, table: &str, opts: &PullOptions, out: W) -> Result<PullReport> {
    runtime()?.block_on(pull_async(root, table, opts, out))
}

fn vacuumed(table: &str, since: i64) -> Error {
    sync_err(
        table,
        format!(
            "checkpoint {since} is older than the history the table keeps (vacuumed or log-cleaned): \
             pull without --since for the whole table"
        ),
    )
}

/// A synced table opened for a pull or a download.
struct Opened {
    t: deltalake::DeltaTable,
    url: url::Url,
    version: i64,
    key: KeyPath,
    out_schema: SchemaRef,
    ctx: SessionContext,
}

async fn open_for_read(root: &str, name: &str, storage: &StorageOptions) -> Result<Opened> {
    let url = table_url(root, name, false)?;
    if url.scheme() == "file" && !url.to_file_path().map(|p| p.exists()).unwrap_or(false) {
        return Err(sync_err(name, format!("there is no synced table at {url}")));
    }
    let (t, exists) = open_table(&url, name, storage).await?;
    if !exists {
        return Err(sync_err(name, format!("there is no synced table at {url}")));
    }
    let version = t.version().map_or(0, |v| v as i64);
    let snap = t.snapshot().map_err(delta_err(name, "cannot read the table's state"))?;
    let (key, meta) = schema::table_properties(snap.metadata().configuration());
    let key = key.ok_or_else(|| sync_err(name, "the table has no idbsync key (it was not made by idbsync push)"))?;
    let delta = Schema::try_from_kernel(snap.schema().as_ref())
        .map_err(|e| sync_err(name, format!("the table's schema cannot be read: {e}")))?;
    let out_schema = original_schema(&delta, meta);
    let ctx = SessionContext::new();
    t.update_datafusion_session(&ctx.state()).map_err(delta_err(name, "cannot read the table"))?;
    Ok(Opened { t, url, version, key, out_schema, ctx })
}

fn read_err(name: &str) -> impl Fn(deltalake::datafusion::error::DataFusionError) -> Error + '_ {
    move |e| sync_err(name, format!("cannot read: {e}"))
}

/// Every current row of the table, as a stream of batches (memory bounded by a batch, not
/// by the table), and the number of rows from the files' statistics when every file has
/// them. In file order, not key order: a whole-table pull is applied as a set.
async fn whole_table(
    o: &Opened,
    name: &str,
) -> Result<(deltalake::datafusion::execution::SendableRecordBatchStream, Option<u64>)> {
    let snap = o.t.snapshot().map_err(delta_err(name, "cannot read the table's state"))?;
    let rows = snap.log_data().into_iter().try_fold(0u64, |n, f| f.num_records().map(|r| n + r as u64));
    let provider = o.t.table_provider().await.map_err(read_err(name))?;
    let df = o.ctx.read_table(provider).map_err(read_err(name))?;
    Ok((df.execute_stream().await.map_err(read_err(name))?, rows))
}

/// Writes every batch of `stream` (restored to the inferred types) to `w`.
async fn write_all<W: Write + Send>(
    mut stream: deltalake::datafusion::execution::SendableRecordBatchStream,
    w: &mut DownloadWriter<W>,
    o: &Opened,
    name: &str,
    cancel: &crate::cancel::Cancel,
) -> Result<()> {
    use futures::StreamExt;
    while let Some(b) = stream.next().await {
        cancel.check()?;
        w.write(&restore(&b.map_err(read_err(name))?, &o.out_schema, name)?)?;
    }
    Ok(())
}

/// Download options that declare a store which came without a Dexie declaration (NDJSON,
/// a plain dump) with the table's key, so that importInto puts each record under its key.
fn declare_key(dl: DownloadOptions, o: &Opened) -> DownloadOptions {
    declare_key_of(dl, &o.out_schema, &o.key)
}

/// [`declare_key`] for a table whose data columns are `schema` and whose key is `key`.
pub(super) fn declare_key_of(dl: DownloadOptions, schema: &Schema, key: &KeyPath) -> DownloadOptions {
    if schema.metadata().contains_key(schema_infer::META_DEXIE_SCHEMA) {
        return dl;
    }
    match key {
        KeyPath::Inbound { .. } => dl.with_dexie_schema(key.display()).with_inbound(true),
        KeyPath::OutOfLine => dl.with_dexie_schema("").with_inbound(false),
    }
}

/// Writes the whole current table `table` under `root` as `format`, as `download --table`
/// writes a converted store: the data columns with the types and tags idbsync inferred,
/// without the bookkeeping columns. The root is opened with `storage`'s settings.
pub fn download_synced<W: Write + Send>(
    root: &str,
    table: &str,
    format: DownloadFormat,
    opts: &DownloadOptions,
    storage: &StorageOptions,
    out: W,
) -> Result<crate::ops::download::DownloadReport> {
    runtime()?.block_on(async {
        let o = open_for_read(root, table, storage).await?;
        let (stream, rows) = whole_table(&o, table).await?;
        let dl = declare_key(opts.clone().with_row_count(rows), &o);
        let mut w = DownloadWriter::new(format, o.out_schema.clone(), &dl, out)?;
        write_all(stream, &mut w, &o, table, &opts.cancel).await?;
        w.finish()
    })
}

async fn pull_async<W: Write + Send>(root: &str, name: &str, opts: &PullOptions, mut out: W) -> Result<PullReport> {
    let o = open_for_read(root, name, &opts.storage).await?;
    let (t, url, version, key, out_schema, ctx) = (&o.t, &o.url, o.version, &o.key, &o.out_schema, &o.ctx);
    let read_err = |e| read_err(name)(e);
    // Keys deleted since the checkpoint that the change rows below do not show.
    let mut gone: Vec<String> = Vec::new();
    let (batches, change_type): (Vec<RecordBatch>, bool) = match opts.since {
        None => return pull_whole(&o, name, opts, out).await,
        Some(s) if s < 0 => return Err(sync_err(name, format!("checkpoint {s} is not a table version"))),
        Some(s) if s > version => {
            return Err(sync_err(
                name,
                format!("checkpoint {s} is newer than the table (version {version}): is this the right table?"),
            ))
        }
        Some(s) if s == version => (Vec::new(), true),
        Some(s) if s < widened_at(&o, name)? => {
            // A push changed a column's type after the checkpoint and rewrote the table:
            // the change data feed across that commit lists every row, and its older
            // change rows have the old types. The answer is the whole table to upsert,
            // and the keys the table had at the checkpoint that it lacks now.
            let (stream, _) = whole_table(&o, name).await?;
            use futures::TryStreamExt;
            let now: Vec<RecordBatch> = stream.try_collect().await.map_err(read_err)?;
            let mut present = std::collections::HashSet::new();
            for b in &now {
                let k = text_column(b, KEY_TEXT, name)?;
                present.extend((0..k.len()).filter(|&i| k.is_valid(i)).map(|i| k.value(i).to_owned()));
            }
            for k in keys_at(url, s, name).await? {
                if !present.contains(&k) {
                    gone.push(k);
                }
            }
            gone.sort();
            (now, false)
        }
        Some(s) => {
            match t.log_store().read_commit_entry((s + 1) as u64).await {
                Ok(Some(_)) => {}
                _ => return Err(vacuumed(name, s)),
            }
            let cdf = t.clone().scan_cdf().with_starting_version((s + 1) as u64).with_ending_version(version as u64);
            let provider = DeltaCdfTableProvider::try_new(cdf).map_err(delta_err(name, "cannot read the changes"))?;
            ctx.register_table("cdf", Arc::new(provider)).map_err(read_err)?;
            let sql = format!(
                "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY {KEY_TEXT} ORDER BY _commit_version DESC, \
                 CASE WHEN _change_type = 'delete' THEN 1 ELSE 0 END) AS __idbsync_rn \
                 FROM cdf WHERE _change_type <> 'update_preimage') WHERE __idbsync_rn = 1 ORDER BY {KEY_TEXT}"
            );
            let df = ctx.sql(&sql).await.map_err(read_err)?;
            let batches = df.collect().await.map_err(|e| {
                let text = e.to_string();
                if text.contains("not found") || text.contains("No such file") || text.contains("NotFound") {
                    vacuumed(name, s)
                } else {
                    read_err(e)
                }
            })?;
            (batches, true)
        }
    };

    // Split into rows to upsert and keys deleted.
    let mut upserts: Vec<RecordBatch> = Vec::new();
    let mut deleted = Vec::new();
    for b in &batches {
        opts.cancel.check()?;
        let keys = text_column(b, KEY_TEXT, name)?;
        let is_delete: BooleanArray = if change_type {
            let ct = text_column(b, "_change_type", name)?;
            (0..b.num_rows()).map(|i| Some(ct.value(i) == "delete")).collect()
        } else {
            BooleanArray::from(vec![false; b.num_rows()])
        };
        for i in 0..b.num_rows() {
            if is_delete.value(i) && keys.is_valid(i) {
                deleted.push(tombstone(key, keys.value(i)));
            }
        }
        let keep = arrow::compute::not(&is_delete).map_err(|source| arrow_err(name, source))?;
        let kept = arrow::compute::filter_record_batch(b, &keep).map_err(|source| arrow_err(name, source))?;
        if kept.num_rows() > 0 {
            upserts.push(restore(&kept, out_schema, name)?);
        }
    }
    deleted.extend(gone.iter().map(|k| tombstone(key, k)));
    let rows: u64 = upserts.iter().map(|b| b.num_rows() as u64).sum();

    let format = opts.format.download_format();
    let dl = declare_key(DownloadOptions::new().with_row_count(Some(rows)).with_cancel(opts.cancel.clone()), &o);
    let mut w = DownloadWriter::new(format, out_schema.clone(), &dl, &mut out)?;
    for b in &upserts {
        w.write(b)?;
    }
    let mut bytes = w.finish()?.bytes;
    if opts.format == PullFormat::Ndjson {
        let mut text = Vec::new();
        for d in &deleted {
            let mut d = d.clone();
            if let Value::Object(o) = &mut d {
                o.remove("_key");
                o.remove(KEY_TYPES);
            }
            serde_json::to_writer(&mut text, &d).expect("JSON values serialise");
            text.push(b'\n');
        }
        serde_json::to_writer(&mut text, &serde_json::json!({"_checkpoint": version})).expect("JSON");
        text.push(b'\n');
        out.write_all(&text).map_err(crate::ops::download::write_err)?;
        bytes += text.len() as u64;
    }
    out.flush().map_err(crate::ops::download::write_err)?;
    Ok(PullReport {
        table: name.to_owned(),
        location: url.to_string(),
        since: opts.since,
        checkpoint: version,
        key_path: key.display(),
        upserts: rows,
        deleted,
        bytes,
    })
}

/// The deletion record of the key whose canonical text is `text`, with the key itself
/// (`_key`) and its typeson tags for the sidecar of a Dexie pull.
fn tombstone(key: &KeyPath, text: &str) -> Value {
    let (k, types) = parse_canonical(text);
    let mut tomb = key.tombstone(&k);
    if let Value::Object(o) = &mut tomb {
        o.insert("_key".into(), k);
        if !types.is_empty() {
            o.insert(KEY_TYPES.into(), serde_json::to_value(types).expect("tags serialise"));
        }
    }
    tomb
}

/// The version of the table's last commit that changed a column's type (0: none).
fn widened_at(o: &Opened, name: &str) -> Result<i64> {
    let snap = o.t.snapshot().map_err(delta_err(name, "cannot read the table's state"))?;
    Ok(snap.metadata().configuration().get(schema::PROP_WIDENED_AT).and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// The key texts of the rows the table had at version `since` (an error that says to
/// pull the whole table when that version cannot be read any more).
async fn keys_at(url: &url::Url, since: i64, name: &str) -> Result<Vec<String>> {
    let t = deltalake::open_table_with_version(url.clone(), since as u64).await.map_err(|_| vacuumed(name, since))?;
    let ctx = SessionContext::new();
    t.update_datafusion_session(&ctx.state()).map_err(delta_err(name, "cannot read the table"))?;
    let provider = t.table_provider().await.map_err(|_| vacuumed(name, since))?;
    let df = ctx.read_table(provider).map_err(read_err(name))?;
    let batches =
        df.select_columns(&[KEY_TEXT]).map_err(read_err(name))?.collect().await.map_err(|_| vacuumed(name, since))?;
    let mut out = Vec::new();
    for b in &batches {
        let k = text_column(b, KEY_TEXT, name)?;
        out.extend((0..k.len()).filter(|&i| k.is_valid(i)).map(|i| k.value(i).to_owned()));
    }
    Ok(out)
}

/// A pull without `--since`: the whole table, streamed; nothing deleted.
async fn pull_whole<W: Write + Send>(o: &Opened, name: &str, opts: &PullOptions, mut out: W) -> Result<PullReport> {
    let (stream, rows) = whole_table(o, name).await?;
    let format = opts.format.download_format();
    let dl = declare_key(DownloadOptions::new().with_row_count(rows).with_cancel(opts.cancel.clone()), o);
    let mut w = DownloadWriter::new(format, o.out_schema.clone(), &dl, &mut out)?;
    write_all(stream, &mut w, o, name, &opts.cancel).await?;
    let written = w.finish()?;
    let mut bytes = written.bytes;
    if opts.format == PullFormat::Ndjson {
        let tail = format!("{}\n", serde_json::json!({"_checkpoint": o.version}));
        out.write_all(tail.as_bytes()).map_err(crate::ops::download::write_err)?;
        bytes += tail.len() as u64;
    }
    out.flush().map_err(crate::ops::download::write_err)?;
    Ok(PullReport {
        table: name.to_owned(),
        location: o.url.to_string(),
        since: None,
        checkpoint: o.version,
        key_path: o.key.display(),
        upserts: written.rows,
        deleted: Vec::new(),
        bytes,
    })
}

fn arrow_err(name: &str, source: arrow::error::ArrowError) -> Error {
    Error::Arrow { context: format!("table '{name}': reading the changes"), source }
}

/// A text column of `b` (DataFusion may read it as a string view) as plain UTF-8.
fn text_column(b: &RecordBatch, col: &str, name: &str) -> Result<StringArray> {
    let c = b.column_by_name(col).ok_or_else(|| sync_err(name, format!("the table has no column {col}")))?;
    let c = cast(c, &DataType::Utf8).map_err(|source| arrow_err(name, source))?;
    Ok(c.as_any().downcast_ref::<StringArray>().expect("utf8").clone())
}

/// The data columns of `b`, with the types and metadata idbsync inferred.
pub(super) fn restore(b: &RecordBatch, out: &SchemaRef, name: &str) -> Result<RecordBatch> {
    let mut cols: Vec<ArrayRef> = Vec::new();
    for f in out.fields() {
        let c = b.column_by_name(f.name()).ok_or_else(|| sync_err(name, format!("no column '{}'", f.name())))?;
        cols.push(cast(c, f.data_type()).map_err(|source| Error::Arrow {
            context: format!("table '{name}': column '{}' ({}) as {}", f.name(), c.data_type(), f.data_type()),
            source,
        })?);
    }
    let o = arrow::array::RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
    RecordBatch::try_new_with_options(out.clone(), cols, &o).map_err(|source| arrow_err(name, source))
}

fn cast(a: &ArrayRef, to: &DataType) -> std::result::Result<ArrayRef, arrow::error::ArrowError> {
    if a.data_type() == to {
        return Ok(a.clone());
    }
    arrow::compute::cast_with_options(a, to, &arrow::compute::CastOptions { safe: false, ..Default::default() })
}
