//! Downloads: a store (or any stream of record batches, such as a SQL result) written
//! as a Dexie export v1 that stock `importDB` / `importInto` read, as NDJSON, CSV or
//! Parquet. Batches are written one at a time; nothing holds more than a batch (the
//! Dexie header's row count, when unknown up front, is found by spooling the rows to a
//! temporary file first).

mod dexie;
mod encode;
mod json;
mod text;

use crate::cancel::Cancel;
use crate::dataset::reader::StoreReader;
use crate::error::{Error, Result};
use crate::output::parquet::ParquetOptions;
use arrow::array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;

pub use json::IMPORTER_MAX_STRING;

/// What a download writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DownloadFormat {
    /// A Dexie export v1 (typeson `$types`), ASCII-only, for dexie-export-import.
    Dexie,
    /// One plain JSON object per line (Dates as ISO-8601 UTC, binary as base64).
    Ndjson,
    /// CSV with a header row (nested values as JSON text).
    Csv,
    /// One zstd Parquet file with the Arrow schema and IndexedDB metadata.
    Parquet,
}

impl FromStr for DownloadFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "dexie" => DownloadFormat::Dexie,
            "ndjson" | "jsonl" => DownloadFormat::Ndjson,
            "csv" => DownloadFormat::Csv,
            "parquet" => DownloadFormat::Parquet,
            other => return Err(format!("unknown download format '{other}' (dexie, ndjson, csv, parquet)")),
        })
    }
}

impl fmt::Display for DownloadFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DownloadFormat::Dexie => "dexie",
            DownloadFormat::Ndjson => "ndjson",
            DownloadFormat::Csv => "csv",
            DownloadFormat::Parquet => "parquet",
        })
    }
}

/// Options of a download, built with consuming `with_*` setters. Everything left unset
/// comes from the schema's IndexedDB metadata (`idb.store`, `idb.database`,
/// `idb.version`, `idb.dexie_schema`, `idb.inbound`), else from the defaults below.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    pub(crate) table_name: Option<String>,
    pub(crate) database_name: Option<String>,
    pub(crate) database_version: Option<f64>,
    pub(crate) dexie_schema: Option<String>,
    pub(crate) inbound: Option<bool>,
    pub(crate) row_count: Option<u64>,
    pub(crate) parquet: ParquetOptions,
    pub(crate) spool_dir: Option<PathBuf>,
    pub(crate) max_string: usize,
    pub(crate) max_warnings: usize,
    pub(crate) cancel: Cancel,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            table_name: None,
            database_name: None,
            database_version: None,
            dexie_schema: None,
            inbound: None,
            row_count: None,
            parquet: ParquetOptions::default(),
            spool_dir: None,
            max_string: IMPORTER_MAX_STRING,
            max_warnings: 1000,
            cancel: Cancel::default(),
        }
    }
}

impl DownloadOptions {
    /// Everything from the schema's metadata.
    pub fn new() -> Self {
        Self::default()
    }
    /// The table name in the Dexie export (default: `idb.store`, else `result`).
    pub fn with_table_name(mut self, name: impl Into<String>) -> Self {
        self.table_name = Some(name.into());
        self
    }
    /// The database name (default: `idb.database`, else the table name).
    pub fn with_database_name(mut self, name: impl Into<String>) -> Self {
        self.database_name = Some(name.into());
        self
    }
    /// The database version (default: `idb.version`, else 1).
    pub fn with_database_version(mut self, v: f64) -> Self {
        self.database_version = Some(v);
        self
    }
    /// The table's Dexie schema string (default: `idb.dexie_schema`; without one, `++`
    /// when rows have no key column: out-of-line keys 1, 2, 3 …, and `""` with a `__key`
    /// column).
    pub fn with_dexie_schema(mut self, schema: impl Into<String>) -> Self {
        self.dexie_schema = Some(schema.into());
        self
    }
    /// Whether rows carry their keys (default: `idb.inbound`, else what the Dexie schema
    /// says).
    pub fn with_inbound(mut self, inbound: bool) -> Self {
        self.inbound = Some(inbound);
        self
    }
    /// The number of rows that will be written, when known (a whole store: its
    /// manifest's). The Dexie header is then written first and the rows streamed after
    /// it; otherwise they are spooled to a temporary file to count them. A different
    /// number of rows is an error.
    pub fn with_row_count(mut self, rows: Option<u64>) -> Self {
        self.row_count = rows;
        self
    }
    /// Parquet settings for `--format parquet` (codec, row group size).
    pub fn with_parquet(mut self, p: ParquetOptions) -> Self {
        self.parquet = p;
        self
    }
    /// Where the Dexie spool goes (default: the system's temporary folder).
    pub fn with_spool_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.spool_dir = dir;
        self
    }
    /// The longest string written to a Dexie export, in UTF-16 code units (default: the
    /// importer's 10 MiB, [`IMPORTER_MAX_STRING`]). A longer string is an error; binary
    /// data whose base64 is longer is written with a warning.
    pub fn with_max_string(mut self, units: usize) -> Self {
        self.max_string = units.max(1);
        self
    }
    /// A token that stops [`write_download`] and [`download_store`] between batches, with
    /// [`Error::Cancelled`] (the output is then incomplete: write it to a temporary file).
    pub fn with_cancel(mut self, c: Cancel) -> Self {
        self.cancel = c;
        self
    }
}

/// Something written that a stock import may not take, with the record it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadWarning {
    /// The table.
    pub table: String,
    /// Row index within the download (0-based).
    pub row: u64,
    /// The row's key, as JSON, when it is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Field path (typeson key-path notation).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for DownloadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table '{}', row {}", self.table, self.row)?;
        if let Some(k) = &self.key {
            write!(f, " (key {k})")?;
        }
        write!(f, ", field '{}': {}", self.path, self.message)
    }
}

/// What a download wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadReport {
    /// The format.
    pub format: DownloadFormat,
    /// The table name (as in the Dexie export).
    pub table: String,
    /// Rows written.
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Values a stock import may not take (the first [`DownloadReport::warnings`] of them).
    pub warnings: Vec<DownloadWarning>,
    /// Warnings beyond those listed.
    pub warnings_omitted: u64,
}

/// Counts the bytes written through it.
pub(crate) struct Counting<W> {
    pub inner: W,
    pub bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(buf)?;
        self.bytes += buf.len() as u64;
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

pub(crate) fn write_err(source: std::io::Error) -> Error {
    Error::Write { path: "the download output".into(), source }
}

enum Inner<W: Write + Send> {
    Dexie(Box<dexie::DexieWriter<W>>),
    Text(Box<text::TextWriter<W>>),
    Parquet(Box<ArrowWriter<Counting<W>>>, u64),
}

/// A download being written: push record batches with [`DownloadWriter::write`], then
/// [`DownloadWriter::finish`].
///
/// Columns keep their meaning through their field metadata: `idb.tag` (the typeson tag),
/// `idb.nulls` and the `__idb_nulls` column (absent vs null vs undefined vs hole vs an
/// invalid Date), `arrow.json` text (re-emitted with its own `$types`), `__key` and
/// `__value`. Columns without metadata (e.g. computed by a query) are plain values:
/// timestamps become Dates, binary becomes ArrayBuffers.
///
/// ```
/// use arrow::array::{Int64Array, RecordBatch, StringArray};
/// use arrow_schema::{DataType, Field, Schema};
/// use engine::{DownloadFormat, DownloadOptions, DownloadWriter};
/// use std::sync::Arc;
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("id", DataType::Int64, false),
///     Field::new("name", DataType::Utf8, true),
/// ]));
/// let batch = RecordBatch::try_new(schema.clone(), vec![
///     Arc::new(Int64Array::from(vec![1, 2])),
///     Arc::new(StringArray::from(vec![Some("Ada"), None])),
/// ]).unwrap();
/// let opts = DownloadOptions::new().with_table_name("people").with_dexie_schema("id");
/// let mut out = Vec::new();
/// let mut w = DownloadWriter::new(DownloadFormat::Dexie, schema, &opts, &mut out).unwrap();
/// w.write(&batch).unwrap();
/// let report = w.finish().unwrap();
/// assert_eq!(report.rows, 2);
/// let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
/// assert_eq!(v["data"]["tables"][0]["rowCount"], 2);
/// assert_eq!(v["data"]["data"][0]["rows"][1], serde_json::json!({"id": 2, "name": null}));
/// ```
pub struct DownloadWriter<W: Write + Send> {
    inner: Inner<W>,
    format: DownloadFormat,
    table: String,
    schema: SchemaRef,
}

impl<W: Write + Send> DownloadWriter<W> {
    /// A writer of `format` for batches of `schema` (whose metadata gives each column's
    /// meaning) into `out`.
    pub fn new(format: DownloadFormat, schema: SchemaRef, opts: &DownloadOptions, out: W) -> Result<Self> {
        let table = opts
            .table_name
            .clone()
            .or_else(|| schema.metadata().get("idb.store").cloned())
            .unwrap_or_else(|| "result".to_owned());
        let inner = match format {
            DownloadFormat::Dexie => Inner::Dexie(Box::new(dexie::DexieWriter::new(&schema, &table, opts, out)?)),
            DownloadFormat::Ndjson => Inner::Text(Box::new(text::TextWriter::ndjson(&schema, &table, out))),
            DownloadFormat::Csv => Inner::Text(Box::new(text::TextWriter::csv(&schema, &table, out)?)),
            DownloadFormat::Parquet => {
                let mut kv: Vec<KeyValue> =
                    schema.metadata().iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect();
                kv.push(KeyValue::new("idb.field_tags".to_owned(), crate::output::parquet::field_tags(&schema)));
                kv.sort_by(|a, b| a.key.cmp(&b.key));
                let props = WriterProperties::builder()
                    .set_compression(opts.parquet.codec.parquet())
                    .set_max_row_group_row_count(Some(opts.parquet.row_group_rows.max(1)))
                    .set_created_by(format!("idbsync version {}", env!("CARGO_PKG_VERSION")))
                    .set_key_value_metadata(Some(kv))
                    .build();
                let w = ArrowWriter::try_new(Counting { inner: out, bytes: 0 }, schema.clone(), Some(props))
                    .map_err(|source| Error::Parquet { path: "the download output".into(), source })?;
                Inner::Parquet(Box::new(w), 0)
            }
        };
        Ok(DownloadWriter { inner, format, table, schema })
    }

    /// Writes one batch (its columns in the schema's order).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let same = batch.num_columns() == self.schema.fields().len()
            && batch.schema().fields().iter().zip(self.schema.fields()).all(|(a, b)| a.name() == b.name());
        if !same {
            let names = |s: &arrow_schema::Schema| s.fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>();
            return Err(Error::Download {
                table: self.table.clone(),
                row: self.rows(),
                path: String::new(),
                reason: format!(
                    "a batch has columns {:?}, but the download's schema has {:?}",
                    names(&batch.schema()),
                    names(&self.schema)
                ),
            });
        }
        match &mut self.inner {
            Inner::Dexie(w) => w.write(batch),
            Inner::Text(w) => w.write(batch),
            Inner::Parquet(w, rows) => {
                let b = RecordBatch::try_new_with_options(
                    self.schema.clone(),
                    batch.columns().to_vec(),
                    &arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
                )
                .map_err(|source| Error::Arrow {
                    context: format!("table '{}': a batch does not fit the download's schema", self.table),
                    source,
                })?;
                w.write(&b).map_err(|source| Error::Parquet { path: "the download output".into(), source })?;
                *rows += b.num_rows() as u64;
                Ok(())
            }
        }
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        match &self.inner {
            Inner::Dexie(w) => w.rows(),
            Inner::Text(w) => w.rows(),
            Inner::Parquet(_, rows) => *rows,
        }
    }

    /// Completes the output (for a Dexie export: header, rows, closing brackets) and
    /// flushes it.
    pub fn finish(self) -> Result<DownloadReport> {
        let (rows, bytes, warnings, omitted) = match self.inner {
            Inner::Dexie(w) => w.finish()?,
            Inner::Text(w) => w.finish()?,
            Inner::Parquet(w, rows) => {
                let mut c =
                    w.into_inner().map_err(|source| Error::Parquet { path: "the download output".into(), source })?;
                c.flush().map_err(write_err)?;
                (rows, c.bytes, Vec::new(), 0)
            }
        };
        Ok(DownloadReport { format: self.format, table: self.table, rows, bytes, warnings, warnings_omitted: omitted })
    }
}

/// Writes every batch of `batches` as `format` into `out`: [`DownloadWriter`] in one call.
/// An error from `batches` stops the download ([`Error::Source`]).
pub fn write_download<W, I, E>(
    format: DownloadFormat,
    schema: SchemaRef,
    batches: I,
    opts: &DownloadOptions,
    out: W,
) -> Result<DownloadReport>
where
    W: Write + Send,
    I: IntoIterator<Item = std::result::Result<RecordBatch, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut w = DownloadWriter::new(format, schema, opts, out)?;
    for b in batches {
        opts.cancel.check()?;
        let b = b.map_err(|e| opts.cancel.or(Error::Source(e.into())))?;
        w.write(&b)?;
    }
    opts.cancel.check()?;
    w.finish()
}

/// Downloads a whole store: its rows in manifest order, with the Dexie header's row
/// count taken from the manifest (so rows stream straight to `out`).
pub fn download_store<W: Write + Send>(
    store: &StoreReader,
    format: DownloadFormat,
    opts: &DownloadOptions,
    out: W,
) -> Result<DownloadReport> {
    let opts = opts.clone().with_row_count(Some(store.rows()));
    let mut w = DownloadWriter::new(format, store.schema().clone(), &opts, out)?;
    for b in store.batches() {
        opts.cancel.check()?;
        w.write(&b.map_err(|e| opts.cancel.or(e))?)?;
    }
    opts.cancel.check()?;
    w.finish()
}
