//! Reading a committed store back from any [`Sink`] (a local folder or HDFS): find the
//! dataset `<root>/<store>/`, check `_SUCCESS`, read `_idbsync/manifest.json`, and stream
//! the data files' record batches in manifest order, with the identity-partition columns
//! that Hive-style partitioning dropped from the files put back in their place.
//!
//! One data file is held in memory at a time (files are bounded by row groups and by
//! `--max-file-size`), never the whole dataset.

use crate::dataset::manifest::{FileInfo, Manifest, MANIFEST, SUCCESS};
use crate::error::{Error, Result};
use crate::output::partition::{escape_path_name, store_dir_name, HIVE_NULL};
use crate::storage::sink::{join_path, Sink};
use arrow::array::{new_null_array, Array, ArrayRef, RecordBatch, RecordBatchOptions, StringArray};
use arrow_schema::{DataType, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use std::sync::Arc;

/// Options for reading a store back, built with consuming `with_*` setters.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    allow_uncommitted: bool,
    batch_size: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { allow_uncommitted: false, batch_size: 8192 }
    }
}

impl ReadOptions {
    /// Defaults: committed datasets only, batches of 8,192 rows.
    pub fn new() -> Self {
        Self::default()
    }
    /// Also read a dataset without `_SUCCESS` (a running or interrupted job), as its
    /// manifest lists it.
    pub fn with_allow_uncommitted(mut self, allow: bool) -> Self {
        self.allow_uncommitted = allow;
        self
    }
    /// Rows per record batch (at least 1).
    pub fn with_batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows.max(1);
        self
    }
}

/// A store's dataset, opened for reading.
///
/// ```
/// use engine::{convert, ConvertOptions, LocalSink, ReadOptions, StoreReader};
/// use std::sync::Arc;
/// let dir = tempfile::tempdir().unwrap();
/// let input = dir.path().join("people.ndjson");
/// std::fs::write(&input, "{\"name\":\"Ada\"}\n{\"name\":\"Alan\"}\n").unwrap();
/// let sink = Arc::new(LocalSink::new(dir.path().join("out")));
/// convert(&input, sink.clone(), ConvertOptions::new(), &|_, _| {}).unwrap();
/// let store = StoreReader::open(sink, "people", &ReadOptions::new()).unwrap();
/// assert_eq!(store.rows(), 2);
/// let rows: usize = store.batches().map(|b| b.unwrap().num_rows()).sum();
/// assert_eq!(rows, 2);
/// ```
pub struct StoreReader {
    sink: Arc<dyn Sink>,
    dir: String,
    manifest: Manifest,
    schema: SchemaRef,
    committed: bool,
    batch_size: usize,
}

impl std::fmt::Debug for StoreReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreReader").field("dir", &self.dir).field("store", &self.manifest.store).finish()
    }
}

impl StoreReader {
    /// Opens store `store` under the sink's root (`<root>/<store>/`), or the root itself
    /// when it is that store's dataset. A dataset without `_SUCCESS` is refused unless
    /// [`ReadOptions::with_allow_uncommitted`].
    pub fn open(sink: Arc<dyn Sink>, store: &str, opts: &ReadOptions) -> Result<StoreReader> {
        let dataset_err = |path: String, reason: String| Error::Dataset { path, reason };
        let io = |path: String| move |e: std::io::Error| dataset_err(path, format!("cannot read: {e}"));
        let candidates = [store_dir_name(store), String::new()];
        let mut found: Option<(String, Manifest, Schema)> = None;
        for dir in candidates {
            let mpath = join_path(&dir, MANIFEST);
            if !sink.exists(&mpath).map_err(io(sink.describe(&mpath)))? {
                continue;
            }
            let (m, schema) = Manifest::load_with_schema(sink.as_ref(), &dir)?;
            if m.store == store {
                found = Some((dir, m, schema));
                break;
            }
        }
        let Some((dir, manifest, schema)) = found else {
            let stores = list_stores(sink.as_ref());
            let here = if stores.is_empty() {
                "no committed or uncommitted dataset is there".to_owned()
            } else {
                format!("stores there: {}", stores.join(", "))
            };
            return Err(dataset_err(sink.describe(""), format!("no dataset for store '{store}' ({here})")));
        };
        let success = join_path(&dir, SUCCESS);
        let committed = sink.exists(&success).map_err(io(sink.describe(&success)))?;
        if !committed && !opts.allow_uncommitted {
            return Err(dataset_err(
                sink.describe(&dir),
                format!(
                    "store '{store}' is not committed (no {SUCCESS}): a job is running or was interrupted; \
                     pass --allow-uncommitted to read what its manifest lists"
                ),
            ));
        }
        Ok(StoreReader { sink, dir, manifest, schema: Arc::new(schema), committed, batch_size: opts.batch_size })
    }

    /// The store's whole schema (partition columns included), with its IndexedDB metadata.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The dataset's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The store's name.
    pub fn store(&self) -> &str {
        &self.manifest.store
    }

    /// Rows in the data files the manifest lists.
    pub fn rows(&self) -> u64 {
        self.manifest.files.iter().map(|f| f.rows).sum()
    }

    /// Whether the dataset carries `_SUCCESS`.
    pub fn committed(&self) -> bool {
        self.committed
    }

    /// The dataset's location, for messages.
    pub fn location(&self) -> String {
        self.sink.describe(&self.dir)
    }

    /// The record batches of every data file, in manifest order, each with the whole
    /// schema (dropped partition columns restored from the file's partition values).
    pub fn batches(&self) -> StoreBatches<'_> {
        StoreBatches { store: self, next_file: 0, current: None }
    }
}

/// Names of the stores whose manifests are directly under the root.
fn list_stores(sink: &dyn Sink) -> Vec<String> {
    let mut out = Vec::new();
    for e in sink.list("").unwrap_or_default().into_iter().filter(|e| e.is_dir) {
        if let Ok(m) = Manifest::load(sink, &e.name) {
            out.push(m.store);
        }
    }
    if let Ok(m) = Manifest::load(sink, "") {
        out.push(m.store);
    }
    out
}

/// How one column of the whole schema is filled from a file.
enum Source {
    /// The file's column at this index.
    File(usize),
    /// A dropped identity-partition column: this value (`None`: null) in every row.
    Constant(Option<String>),
}

struct OpenFile {
    path: String,
    reader: ParquetRecordBatchReader,
    sources: Vec<Source>,
    expected: u64,
    seen: u64,
}

/// Iterator over a store's record batches (see [`StoreReader::batches`]).
pub struct StoreBatches<'a> {
    store: &'a StoreReader,
    next_file: usize,
    current: Option<OpenFile>,
}

impl Iterator for StoreBatches<'_> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.current.is_none() {
                let info = self.store.manifest.files.get(self.next_file)?;
                self.next_file += 1;
                match self.store.open_file(info) {
                    Ok(f) => self.current = Some(f),
                    Err(e) => {
                        // Stop after an error: the caller decides whether to go on.
                        self.next_file = self.store.manifest.files.len();
                        return Some(Err(e));
                    }
                }
            }
            let f = self.current.as_mut().expect("open file");
            match f.reader.next() {
                Some(Ok(batch)) => {
                    f.seen += batch.num_rows() as u64;
                    let res = self.store.restore(f, batch);
                    if res.is_err() {
                        self.next_file = self.store.manifest.files.len();
                        self.current = None;
                    }
                    return Some(res);
                }
                Some(Err(e)) => {
                    let path = f.path.clone();
                    self.next_file = self.store.manifest.files.len();
                    self.current = None;
                    return Some(Err(Error::Arrow { context: format!("cannot decode {path}"), source: e }));
                }
                None => {
                    let f = self.current.take().expect("open file");
                    if f.seen != f.expected {
                        self.next_file = self.store.manifest.files.len();
                        return Some(Err(Error::Dataset {
                            path: f.path,
                            reason: format!("holds {} rows, but the manifest says {}", f.seen, f.expected),
                        }));
                    }
                }
            }
        }
    }
}

impl StoreReader {
    fn open_file(&self, info: &FileInfo) -> Result<OpenFile> {
        let rel = join_path(&self.dir, &info.path);
        let path = self.sink.describe(&rel);
        let data = self.sink.read(&rel).map_err(|source| Error::Read { path: path.clone().into(), source })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(data))
            .map_err(|source| Error::Parquet { path: path.clone(), source })?;
        let file_schema = builder.schema().clone();
        let reader = builder
            .with_batch_size(self.batch_size)
            .build()
            .map_err(|source| Error::Parquet { path: path.clone(), source })?;
        let partition = partition_values(info);
        let mut sources = Vec::with_capacity(self.schema.fields().len());
        for f in self.schema.fields() {
            if let Some((i, _)) = file_schema.column_with_name(f.name()) {
                sources.push(Source::File(i));
                continue;
            }
            let key = escape_path_name(f.name());
            if info.rows == 0 {
                // A file without rows (every record rejected) has no partition to say.
                sources.push(Source::Constant(None));
                continue;
            }
            let Some(v) = partition.iter().find(|(k, _)| *k == key).map(|(_, v)| v) else {
                return Err(Error::Dataset {
                    path,
                    reason: format!("column '{}' is neither in the file nor one of its partition values", f.name()),
                });
            };
            let value = if v == HIVE_NULL { None } else { Some(unescape_path_name(v)) };
            sources.push(Source::Constant(value));
        }
        Ok(OpenFile { path, reader, sources, expected: info.rows, seen: 0 })
    }

    /// The file's batch with the whole schema: file columns in their schema position,
    /// partition columns rebuilt from their values.
    fn restore(&self, f: &OpenFile, batch: RecordBatch) -> Result<RecordBatch> {
        let n = batch.num_rows();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for (field, src) in self.schema.fields().iter().zip(&f.sources) {
            let col = match src {
                Source::File(i) => batch.column(*i).clone(),
                Source::Constant(_) if n == 0 => arrow::array::new_empty_array(field.data_type()),
                Source::Constant(v) => {
                    constant(&f.path, field.name(), field.data_type(), field.is_nullable(), v.as_deref(), n)?
                }
            };
            let col = if col.data_type() == field.data_type() {
                col
            } else {
                // Same layout, different nested field names or metadata: take the schema's.
                arrow::compute::cast(&col, field.data_type()).map_err(|source| Error::Arrow {
                    context: format!("{}: column '{}' does not match the manifest's schema", f.path, field.name()),
                    source,
                })?
            };
            columns.push(col);
        }
        let opts = RecordBatchOptions::new().with_row_count(Some(n));
        RecordBatch::try_new_with_options(self.schema.clone(), columns, &opts)
            .map_err(|source| Error::Arrow { context: format!("{}: rows do not fit the schema", f.path), source })
    }
}

/// The file's partition values (`key` → escaped value): from the manifest, else its path.
fn partition_values(info: &FileInfo) -> Vec<(String, String)> {
    if !info.partition.is_empty() {
        return info.partition.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    }
    let dir = info.path.rsplit_once('/').map_or("", |(d, _)| d);
    dir.split('/').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// Spark's `unescapePathName`: `%XX` back to the character.
pub(crate) fn unescape_path_name(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `n` copies of a partition value, typed as the column (`column` of data file `file`, for
/// messages).
fn constant(
    file: &str,
    column: &str,
    dt: &DataType,
    nullable: bool,
    value: Option<&str>,
    n: usize,
) -> Result<ArrayRef> {
    let refuse = |reason: String, source: Option<arrow::error::ArrowError>| Error::PartitionValue {
        path: file.to_owned(),
        column: column.to_owned(),
        reason,
        source,
    };
    let value = match value {
        // Null and "" share the null directory: a column that cannot be null held "".
        None if !nullable && matches!(dt, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => Some(""),
        None => return Ok(new_null_array(dt, n)),
        Some(v) => Some(v),
    };
    let text: ArrayRef = Arc::new(StringArray::from_iter_values(std::iter::repeat_n(value.unwrap_or(""), n)));
    let supported = matches!(
        dt,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(_, _)
            | DataType::Timestamp(_, _)
            | DataType::Date32
            | DataType::Date64
    );
    if !supported {
        return Err(refuse(format!("a {dt} value cannot be restored from a directory name"), None));
    }
    let opts = arrow::compute::CastOptions { safe: false, ..Default::default() };
    // Timestamps parse as UTC instants; the zone name is put back afterwards (casting to
    // a named zone would need a time zone database).
    let parse_as = match dt {
        DataType::Timestamp(unit, Some(_)) => DataType::Timestamp(*unit, None),
        other => other.clone(),
    };
    let arr = arrow::compute::cast_with_options(&text, &parse_as, &opts)
        .map_err(|e| refuse(format!("'{}' is not a valid {dt}", value.unwrap_or("")), Some(e)))?;
    let arr = if &parse_as == dt {
        arr
    } else {
        let data = arr
            .to_data()
            .into_builder()
            .data_type(dt.clone())
            .build()
            .map_err(|e| refuse(format!("'{}' is not a valid {dt}", value.unwrap_or("")), Some(e)))?;
        arrow::array::make_array(data)
    };
    if arr.null_count() > 0 && !nullable {
        return Err(refuse(format!("'{}' gives a null in a column that cannot be null", value.unwrap_or("")), None));
    }
    Ok(arr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_unescape_undoes_escape() {
        for s in ["a/b=c:d", "100%", "%zz", "plain", "x%2", "é?#"] {
            assert_eq!(unescape_path_name(&escape_path_name(s)), s);
        }
        assert_eq!(unescape_path_name("%zz"), "%zz");
        assert_eq!(unescape_path_name("a%"), "a%");
    }

    #[test]
    fn partition_constants_take_the_column_type() {
        use arrow::array::AsArray;
        let a = constant("f", "p", &DataType::Int64, true, Some("42"), 3).unwrap();
        assert_eq!(a.as_primitive::<arrow::datatypes::Int64Type>().values().to_vec(), vec![42, 42, 42]);
        let ts = DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, Some("UTC".into()));
        let a = constant("f", "p", &ts, true, Some("2024-03-01T12:34:56.789Z"), 1).unwrap();
        assert_eq!(a.as_primitive::<arrow::datatypes::TimestampMillisecondType>().value(0), 1_709_296_496_789);
        let a = constant("f", "p", &DataType::Utf8, true, None, 2).unwrap();
        assert_eq!(a.null_count(), 2);
        let a = constant("f", "p", &DataType::Utf8, false, None, 2).unwrap();
        assert_eq!(a.as_string::<i32>().value(1), "");
        assert!(constant("f", "p", &DataType::Int64, true, Some("x"), 1).is_err());
        assert!(constant("f", "p", &DataType::Binary, true, Some("x"), 1).is_err());
    }
}
