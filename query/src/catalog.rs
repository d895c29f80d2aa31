//! Finding the tables under a root: every folder with an idbsync manifest is a converted
//! dataset, and every folder with a `_delta_log` a synced (Delta) table, each named after
//! its store. Only committed datasets (with `_SUCCESS`) are readable unless uncommitted
//! ones are allowed; a Delta table is always at a committed version.

use crate::error::{Error, Result};
use arrow_schema::{DataType, Field, Schema};
use engine::{
    join_path, AsOf, Manifest, PartitionField, Sink, StorageOptions, SyncedTable, Transform, MANIFEST, META_DIR,
    SUCCESS,
};
use std::sync::Arc;
use tokio::runtime::Runtime;

/// How deep below the root datasets are looked for (`root/db/store` is depth 2).
const MAX_DEPTH: usize = 3;

/// One dataset found under the root.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// Table name (the store's name).
    pub name: String,
    /// Dataset folder, relative to the root (`""` when the root is the dataset).
    pub dir: String,
    /// Whether `_SUCCESS` is present.
    pub committed: bool,
    /// What kind of table it is, with what only that kind has.
    pub kind: TableKind,
    /// The store's full schema (as inferred), with its metadata.
    pub schema: Arc<Schema>,
    /// Partition columns, in directory order, with their SQL types.
    pub partitions: Vec<(String, DataType)>,
}

/// The two kinds of table under a root.
#[derive(Debug, Clone)]
pub enum TableKind {
    /// A dataset that `convert` wrote: Hive-style Parquet folders and a manifest.
    Parquet(Box<Manifest>),
    /// A synced Delta table that `push` (or another Delta writer) keeps, opened at one version.
    Delta(Arc<SyncedTable>),
}

impl TableInfo {
    /// The schema of the data files: the store's schema without the columns that
    /// identity partitions moved into directory names.
    pub fn file_schema(&self) -> Schema {
        let drop: Vec<String> =
            self.partition_fields().filter(|p| p.drops_column()).map(|p| p.path[0].clone()).collect();
        let fields: Vec<Arc<Field>> =
            self.schema.fields().iter().filter(|f| !drop.contains(f.name())).cloned().collect();
        Schema::new_with_metadata(fields, self.schema.metadata().clone())
    }

    fn partition_fields(&self) -> impl Iterator<Item = PartitionField> + '_ {
        let terms = match &self.kind {
            TableKind::Parquet(m) => m.partition_by.as_slice(),
            TableKind::Delta(_) => &[],
        };
        terms.iter().filter_map(|p| p.parse::<PartitionField>().ok())
    }

    /// Rows: summed over every job of a dataset; from the file statistics of a Delta table.
    pub fn rows(&self) -> u64 {
        match &self.kind {
            TableKind::Parquet(m) => m.total.written,
            TableKind::Delta(t) => t.rows.unwrap_or(0),
        }
    }

    /// Data files.
    pub fn files(&self) -> usize {
        match &self.kind {
            TableKind::Parquet(m) => m.files.len(),
            TableKind::Delta(t) => t.files,
        }
    }

    /// Bytes of the data files.
    pub fn bytes(&self) -> u64 {
        match &self.kind {
            TableKind::Parquet(m) => m.files.iter().map(|f| f.bytes).sum(),
            TableKind::Delta(t) => t.bytes,
        }
    }

    /// `parquet`, or `delta` with the version read (`delta v12`).
    pub fn format(&self) -> String {
        match &self.kind {
            TableKind::Parquet(_) => "parquet".into(),
            TableKind::Delta(t) => format!("delta v{}", t.version),
        }
    }
}

/// The SQL type of a partition directory's values.
fn partition_type(p: &PartitionField, schema: &Schema) -> DataType {
    match p.transform {
        Transform::Year | Transform::Bucket(_) => DataType::Int32,
        Transform::Day => DataType::Date32,
        Transform::Month | Transform::Hour => DataType::Utf8,
        Transform::Identity => {
            let mut fields = schema.fields().clone();
            let mut ty = DataType::Utf8;
            for (i, seg) in p.path.iter().enumerate() {
                let Some(f) = fields.iter().find(|f| f.name() == seg) else { return DataType::Utf8 };
                ty = f.data_type().clone();
                if i + 1 < p.path.len() {
                    match f.data_type() {
                        DataType::Struct(children) => fields = children.clone(),
                        _ => return DataType::Utf8,
                    }
                }
            }
            // Values come back from directory names: only types that parse from text.
            match ty {
                DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64
                | DataType::Float32
                | DataType::Float64
                | DataType::Boolean
                | DataType::Date32 => ty,
                _ => DataType::Utf8,
            }
        }
    }
}

fn load(sink: &dyn Sink, dir: &str) -> Result<TableInfo> {
    let (manifest, schema) = Manifest::load_with_schema(sink, dir)?;
    let mpath = join_path(dir, MANIFEST);
    let committed = sink
        .exists(&join_path(dir, SUCCESS))
        .map_err(|e| Error::Io(format!("cannot read {}: {e}", sink.describe(dir))))?;
    let partitions = manifest
        .partition_by
        .iter()
        .map(|p| {
            let f: PartitionField =
                p.parse().map_err(|e| Error::Io(format!("{}: partition term {p}: {e}", sink.describe(&mpath))))?;
            Ok((f.key(), partition_type(&f, &schema)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(TableInfo {
        name: manifest.store.clone(),
        dir: dir.to_owned(),
        committed,
        kind: TableKind::Parquet(Box::new(manifest)),
        schema: Arc::new(schema),
        partitions,
    })
}

/// Opens the Delta table in `dir` at `as_of` with `storage`'s settings, on `rt` (the
/// runtime that will read it).
fn load_delta(
    root: &str,
    dir: &str,
    as_of: &AsOf,
    storage: &StorageOptions,
    rt: &Runtime,
) -> Result<Option<TableInfo>> {
    let url = engine::dir_url(root, dir)?;
    let Some(t) = rt.block_on(engine::open_synced(&url, as_of, storage))? else { return Ok(None) };
    let partitions = t
        .partition_columns
        .iter()
        .map(|c| {
            let ty = t.delta_schema.field_with_name(c).map(|f| f.data_type().clone()).unwrap_or(DataType::Utf8);
            (c.clone(), ty)
        })
        .collect();
    Ok(Some(TableInfo {
        name: t.name.clone(),
        dir: dir.to_owned(),
        committed: true,
        schema: t.schema.clone(),
        partitions,
        kind: TableKind::Delta(Arc::new(t)),
    }))
}

/// A folder that holds a table.
enum Found {
    Dataset(TableInfo),
    Delta(String),
}

fn walk(sink: &dyn Sink, dir: &str, depth: usize, out: &mut Vec<Found>) -> Result<()> {
    let entries = sink.list(dir).map_err(|e| Error::Io(format!("cannot list {}: {e}", sink.describe(dir))))?;
    if entries.iter().any(|e| e.is_dir && e.name == engine::DELTA_LOG) {
        out.push(Found::Delta(dir.to_owned()));
        return Ok(());
    }
    if entries.iter().any(|e| e.is_dir && e.name == META_DIR) && sink.exists(&join_path(dir, MANIFEST)).unwrap_or(false)
    {
        out.push(Found::Dataset(load(sink, dir)?));
        return Ok(());
    }
    if depth == MAX_DEPTH {
        return Ok(());
    }
    for e in entries {
        // `_temporary`, `_rejects`, `_idbsync`, hidden folders and partition folders hold no datasets.
        if e.is_dir && !e.name.starts_with('_') && !e.name.starts_with('.') && !e.name.contains('=') {
            walk(sink, &join_path(dir, &e.name), depth + 1, out)?;
        }
    }
    Ok(())
}

/// Every table under `root` (whose sink is `sink`; the root itself may be one), sorted by
/// name: converted datasets, and Delta tables opened at `as_of` with `storage`'s settings
/// on `rt`. A Delta table that did not exist yet at `as_of` is left out. Two tables of
/// the same store name are an error naming both.
pub fn discover(
    sink: &dyn Sink,
    root: &str,
    as_of: &AsOf,
    storage: &StorageOptions,
    rt: &Runtime,
) -> Result<Vec<TableInfo>> {
    let mut found = Vec::new();
    walk(sink, "", 0, &mut found)?;
    let (mut out, mut later) = (Vec::new(), Vec::new());
    for f in found {
        match f {
            Found::Dataset(t) => out.push(t),
            // `None`: time travel to before the table's first commit (it did not exist then).
            Found::Delta(dir) => match load_delta(root, &dir, as_of, storage, rt)? {
                Some(t) => out.push(t),
                None => later.push(if dir.is_empty() { ".".to_owned() } else { dir }),
            },
        }
    }
    if out.is_empty() && !later.is_empty() {
        return Err(Error::Io(format!(
            "no table under {} existed at {as_of}: {} was created later",
            sink.describe(""),
            later.join(", ")
        )));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.dir.cmp(&b.dir)));
    for w in out.windows(2) {
        if w[0].name == w[1].name {
            return Err(Error::Io(format!(
                "two datasets are named '{}': {} and {}; point ROOT at one of their parents",
                w[0].name,
                sink.describe(&w[0].dir),
                sink.describe(&w[1].dir)
            )));
        }
    }
    if out.is_empty() {
        return Err(Error::Io(format!("no idbsync dataset or synced table under {}", sink.describe(""))));
    }
    Ok(out)
}
