//! Parquet output for one store: a zstd (by default) writer per partition
//! directory, rolling to a new file past `--max-file-size`, with the IndexedDB
//! metadata in the key-value metadata and the Arrow schema embedded.

use crate::dataset::manifest::FileInfo;
use crate::error::{Error, Result};
use crate::output::partition::{row_dirs, PartitionField};
use crate::storage::sink::{CountingWriter, Sink};
use arrow::array::{RecordBatch, UInt32Array};
use arrow_schema::{Schema, SchemaRef};
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk, ArrowLeafColumn, ArrowRowGroupWriterFactory};
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter};
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// The Parquet compression codec (`zstd[:LEVEL]`, `snappy`, `lz4`, `gzip`, `none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Codec {
    /// Zstandard at a level (1–22).
    Zstd(i32),
    /// Snappy.
    Snappy,
    /// LZ4 (raw).
    Lz4,
    /// gzip.
    Gzip,
    /// No compression.
    None,
}

impl Default for Codec {
    fn default() -> Self {
        Codec::Zstd(3)
    }
}

impl FromStr for Codec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, level) = match s.split_once(':') {
            Some((n, l)) => (n, Some(l.parse::<i32>().map_err(|_| format!("bad compression level in '{s}'"))?)),
            None => (s, None),
        };
        Ok(match (name, level) {
            ("zstd", l) => {
                let l = l.unwrap_or(3);
                if !(1..=22).contains(&l) {
                    return Err(format!("zstd level must be 1..=22, not {l}"));
                }
                Codec::Zstd(l)
            }
            ("snappy", None) => Codec::Snappy,
            ("lz4", None) => Codec::Lz4,
            ("gzip", None) => Codec::Gzip,
            ("none" | "uncompressed", None) => Codec::None,
            _ => return Err(format!("unknown compression '{s}' (zstd[:LEVEL], snappy, lz4, gzip, none)")),
        })
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Codec::Zstd(l) => write!(f, "zstd:{l}"),
            Codec::Snappy => f.write_str("snappy"),
            Codec::Lz4 => f.write_str("lz4"),
            Codec::Gzip => f.write_str("gzip"),
            Codec::None => f.write_str("none"),
        }
    }
}

impl Codec {
    pub(crate) fn parquet(self) -> Compression {
        match self {
            Codec::Zstd(l) => Compression::ZSTD(ZstdLevel::try_new(l).unwrap_or_default()),
            Codec::Snappy => Compression::SNAPPY,
            Codec::Lz4 => Compression::LZ4_RAW,
            Codec::Gzip => Compression::GZIP(GzipLevel::default()),
            Codec::None => Compression::UNCOMPRESSED,
        }
    }

    /// The file-name infix Spark uses (`part-00000-….zstd.parquet`).
    pub fn suffix(self) -> &'static str {
        match self {
            Codec::Zstd(_) => ".zstd",
            Codec::Snappy => ".snappy",
            Codec::Lz4 => ".lz4raw",
            Codec::Gzip => ".gz",
            Codec::None => "",
        }
    }
}

/// Parquet layout options.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParquetOptions {
    /// Compression codec.
    pub codec: Codec,
    /// Rows per row group.
    pub row_group_rows: usize,
    /// Roll to a new file once a file reaches this many bytes.
    pub max_file_bytes: Option<u64>,
    /// Flush buffered row groups once all open writers hold this much.
    pub buffer_budget: usize,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            codec: Codec::default(),
            row_group_rows: 122_880,
            max_file_bytes: None,
            buffer_budget: 96 << 20,
        }
    }
}

/// Dictionary pages stop growing here and the column chunk falls back to plain
/// encoding: columns of near-unique values (ids, ISO dates) stop paying for a
/// dictionary early, while low-cardinality columns stay dictionary-encoded.
pub(crate) const DICT_PAGE_LIMIT: usize = 64 << 10;

/// One open Parquet file, encoded a row group at a time with every leaf column
/// encoded in parallel (the bytes do not depend on the thread count).
struct Open {
    file: SerializedFileWriter<CountingWriter>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    pending_bytes: usize,
    row_groups: usize,
    rel: String,
    rows: u64,
    /// The file as the sink describes it, for messages.
    what: String,
}

impl Open {
    fn create(sink: &dyn Sink, path: &str, rel: String, schema: SchemaRef, props: &WriterProperties) -> Result<Open> {
        let mut props = props.clone();
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        let what = sink.describe(path);
        let pschema = ArrowSchemaConverter::new()
            .with_coerce_types(props.coerce_types())
            .convert(&schema)
            .map_err(|source| Error::ParquetWrite { path: what.clone(), source })?;
        let out = CountingWriter::new(sink.create(path).map_err(|source| Error::Io {
            what: "cannot create",
            path: what.clone(),
            source,
        })?);
        let file = SerializedFileWriter::new(out, pschema.root_schema_ptr(), Arc::new(props))
            .map_err(|source| Error::ParquetWrite { path: what.clone(), source })?;
        let factory = ArrowRowGroupWriterFactory::new(&file, schema.clone());
        Ok(Open {
            file,
            factory,
            schema,
            pending: Vec::new(),
            pending_rows: 0,
            pending_bytes: 0,
            row_groups: 0,
            rel,
            rows: 0,
            what,
        })
    }

    /// Buffers `batch`, encoding every full row group.
    fn write(&mut self, batch: &RecordBatch, rg_rows: usize, pool: &rayon::ThreadPool) -> Result<()> {
        let mut b = batch.clone();
        while b.num_rows() > 0 {
            let take = (rg_rows - self.pending_rows).min(b.num_rows());
            let head = b.slice(0, take);
            self.pending_bytes += head.get_array_memory_size();
            self.pending.push(head);
            self.pending_rows += take;
            self.rows += take as u64;
            b = b.slice(take, b.num_rows() - take);
            if self.pending_rows >= rg_rows {
                self.flush(pool)?;
            }
        }
        Ok(())
    }

    /// Encodes the buffered rows as one row group.
    fn flush(&mut self, pool: &rayon::ThreadPool) -> Result<()> {
        if self.pending_rows == 0 {
            return Ok(());
        }
        let what = self.what.clone();
        let encode = |source| Error::ParquetWrite { path: what.clone(), source };
        let writers = self.factory.create_column_writers(self.row_groups).map_err(encode)?;
        let mut leaves: Vec<Vec<ArrowLeafColumn>> = (0..writers.len()).map(|_| Vec::new()).collect();
        for batch in &self.pending {
            let mut w = 0;
            for (field, col) in self.schema.fields().iter().zip(batch.columns()) {
                for leaf in compute_leaves(field, col).map_err(encode)? {
                    leaves[w].push(leaf);
                    w += 1;
                }
            }
        }
        let chunks: Vec<ArrowColumnChunk> = pool
            .install(|| {
                writers
                    .into_par_iter()
                    .zip(leaves)
                    .map(|(mut w, ls)| {
                        for l in &ls {
                            w.write(l)?;
                        }
                        w.close()
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(encode)?;
        // Writing the encoded chunks is where the file's bytes go out (a full disk shows here).
        let mut rg = self.file.next_row_group().map_err(encode)?;
        for c in chunks {
            c.append_to_row_group(&mut rg).map_err(encode)?;
        }
        rg.close().map_err(encode)?;
        self.row_groups += 1;
        self.pending.clear();
        self.pending_rows = 0;
        self.pending_bytes = 0;
        Ok(())
    }

    fn size(&self) -> u64 {
        self.file.bytes_written() as u64 + self.pending_bytes as u64 / 4
    }
}

struct Dir {
    open: Option<Open>,
    next: u32,
}

/// Writes one store's batches into partitioned Parquet files under a staging dir.
pub struct StoreWriter {
    sink: Arc<dyn Sink>,
    pool: Arc<rayon::ThreadPool>,
    staging: String,
    job: String,
    spec: Vec<PartitionField>,
    file_schema: SchemaRef,
    drop_cols: Vec<usize>,
    props: WriterProperties,
    opts: ParquetOptions,
    dirs: BTreeMap<String, Dir>,
    /// Files closed so far.
    pub files: Vec<FileInfo>,
}

impl StoreWriter {
    /// A writer staging files under `staging` (e.g. `<store>/_temporary/<job>`).
    pub fn new(
        sink: Arc<dyn Sink>,
        staging: String,
        job: String,
        schema: &SchemaRef,
        spec: Vec<PartitionField>,
        opts: ParquetOptions,
        pool: Arc<rayon::ThreadPool>,
    ) -> Result<StoreWriter> {
        let mut drop_cols = Vec::new();
        for f in &spec {
            if schema.field_with_name(&f.path[0]).is_err() {
                return Err(Error::NoPartitionColumn { column: f.path.join(".") });
            }
            if let Some(why) = crate::output::partition::unfit_partition(schema, &f.path) {
                return Err(Error::UnfitPartition { column: f.path.join("."), why });
            }
            if f.drops_column() {
                drop_cols.push(schema.index_of(&f.path[0]).expect("checked"));
            }
        }
        if drop_cols.len() == schema.fields().len() {
            // A Parquet file without columns holds no rows: when the partition columns are
            // all there is, they stay in the files too.
            drop_cols.clear();
        }
        let kept: Vec<_> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(i, _)| !drop_cols.contains(i))
            .map(|(_, f)| f.clone())
            .collect();
        let file_schema = Arc::new(Schema::new_with_metadata(kept, schema.metadata().clone()));
        let mut kv: Vec<KeyValue> =
            schema.metadata().iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect();
        kv.push(KeyValue::new(schema_infer::META_FIELD_TAGS.to_owned(), field_tags(schema)));
        kv.sort_by(|a, b| a.key.cmp(&b.key));
        let props = WriterProperties::builder()
            .set_compression(opts.codec.parquet())
            .set_max_row_group_row_count(Some(opts.row_group_rows.max(1)))
            .set_dictionary_enabled(true)
            .set_dictionary_page_size_limit(DICT_PAGE_LIMIT)
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_created_by(format!("idbsync version {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(kv))
            .build();
        Ok(StoreWriter {
            sink,
            pool,
            staging,
            job,
            spec,
            file_schema,
            drop_cols,
            props,
            opts,
            dirs: BTreeMap::new(),
            files: Vec::new(),
        })
    }

    /// The schema of the data files (partition columns dropped where Hive drops them).
    pub fn file_schema(&self) -> &SchemaRef {
        &self.file_schema
    }

    /// Writes a batch, routing rows to their partitions.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.spec.is_empty() {
            let b = self.project(batch.clone())?;
            return self.write_dir(String::new(), &b);
        }
        let dirs = row_dirs(batch, &self.spec)?;
        let mut groups: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for (i, d) in dirs.iter().enumerate() {
            groups.entry(d.as_str()).or_default().push(i as u32);
        }
        for (dir, rows) in groups {
            let sub = if rows.len() == batch.num_rows() {
                batch.clone()
            } else {
                let idx = UInt32Array::from(rows);
                batch
                    .columns()
                    .iter()
                    .map(|c| arrow::compute::take(c.as_ref(), &idx, None))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .and_then(|cols| RecordBatch::try_new(batch.schema(), cols))
                    .map_err(|source| Error::Arrow {
                        context: format!("cannot gather the rows of partition {dir}"),
                        source,
                    })?
            };
            let sub = self.project(sub)?;
            self.write_dir(dir.to_owned(), &sub)?;
        }
        Ok(())
    }

    fn project(&self, b: RecordBatch) -> Result<RecordBatch> {
        let cols: Vec<_> = b
            .columns()
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.drop_cols.contains(i))
            .map(|(_, c)| c.clone())
            .collect();
        let opts = arrow::array::RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
        RecordBatch::try_new_with_options(self.file_schema.clone(), cols, &opts).map_err(|source| Error::Arrow {
            context: "cannot leave the partition columns out of the rows".to_owned(),
            source,
        })
    }

    fn write_dir(&mut self, dir: String, batch: &RecordBatch) -> Result<()> {
        let d = self.dirs.entry(dir.clone()).or_insert(Dir { open: None, next: 0 });
        if d.open.is_none() {
            let name = format!("part-{:05}-{}{}.parquet", d.next, self.job, self.opts.codec.suffix());
            d.next += 1;
            let rel = if dir.is_empty() { name } else { format!("{dir}/{name}") };
            let path = format!("{}/{}", self.staging, rel);
            d.open = Some(Open::create(self.sink.as_ref(), &path, rel, self.file_schema.clone(), &self.props)?);
        }
        let o = d.open.as_mut().expect("open writer");
        o.write(batch, self.opts.row_group_rows, &self.pool)?;
        if self.opts.max_file_bytes.is_some_and(|m| o.size() >= m) {
            let o = d.open.take().expect("open writer");
            let info = close(o, &dir, &self.pool)?;
            self.files.push(info);
        }
        self.keep_budget()
    }

    /// Encodes the largest buffered row group early while the open files buffer too much.
    fn keep_budget(&mut self) -> Result<()> {
        loop {
            let total: usize = self.dirs.values().filter_map(|d| d.open.as_ref()).map(|o| o.pending_bytes).sum();
            if total <= self.opts.buffer_budget {
                return Ok(());
            }
            let pool = self.pool.clone();
            let biggest = self
                .dirs
                .values_mut()
                .filter_map(|d| d.open.as_mut())
                .max_by_key(|o| o.pending_bytes)
                .expect("some writer holds data");
            if biggest.pending_rows == 0 {
                return Ok(());
            }
            biggest.flush(&pool)?;
        }
    }

    /// Closes every open file. With no rows at all, writes one empty file so the
    /// dataset still carries its schema.
    pub fn finish(mut self) -> Result<Vec<FileInfo>> {
        if self.dirs.is_empty() {
            let empty = RecordBatch::new_empty(self.file_schema.clone());
            self.write_dir(String::new(), &empty)?;
        }
        // Files close in parallel: on HDFS each close waits for the NameNode to confirm it.
        let open: Vec<(String, Open)> =
            std::mem::take(&mut self.dirs).into_iter().filter_map(|(dir, d)| d.open.map(|o| (dir, o))).collect();
        let pool = &self.pool;
        let closed: Vec<Result<FileInfo>> =
            pool.install(|| open.into_par_iter().map(|(dir, o)| close(o, &dir, pool)).collect());
        for f in closed {
            self.files.push(f?);
        }
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(self.files)
    }
}

fn close(mut o: Open, dir: &str, pool: &rayon::ThreadPool) -> Result<FileInfo> {
    o.flush(pool)?;
    let w = o.file.into_inner().map_err(|source| Error::ParquetWrite { path: o.what.clone(), source })?;
    let (bytes, crc) = w.close().map_err(|source| Error::Io { what: "cannot close", path: o.what.clone(), source })?;
    let partition = dir
        .split('/')
        .filter(|s| !s.is_empty())
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    Ok(FileInfo { path: o.rel, rows: o.rows, bytes, crc32c: crate::dataset::checksum::crc_hex(crc), partition })
}

/// `{"created":"date","blob":"blob2",…}`: every column's typeson tag (top level and nested).
pub(crate) fn field_tags(schema: &Schema) -> String {
    fn walk(prefix: &str, f: &arrow_schema::Field, out: &mut serde_json::Map<String, serde_json::Value>) {
        // Names are escaped as typeson escapes keypath components, so `a.b` (one
        // field) and `a` → `b` (a nested one) stay apart.
        let name = schema_infer::escape_component(f.name());
        let path = if prefix.is_empty() { name } else { format!("{prefix}.{name}") };
        if let Some(t) = f.metadata().get(schema_infer::META_TAG) {
            out.insert(path.clone(), serde_json::Value::String(t.clone()));
        }
        match f.data_type() {
            arrow_schema::DataType::Struct(fs) => fs.iter().for_each(|c| walk(&path, c, out)),
            arrow_schema::DataType::List(i) => walk(&path, i, out),
            arrow_schema::DataType::Map(e, _) => walk(&path, e, out),
            _ => {}
        }
    }
    let mut m = serde_json::Map::new();
    for f in schema.fields() {
        walk("", f, &mut m);
    }
    serde_json::Value::Object(m).to_string()
}
