//! Finding the datasets under a root: every folder with an idbsync manifest is a table
//! named after its store. Only committed datasets (with `_SUCCESS`) are readable unless
//! uncommitted ones are allowed.

use crate::error::{Error, Result};
use arrow_schema::{DataType, Field, Schema};
use engine::{join_path, Manifest, PartitionField, Sink, Transform, MANIFEST, META_DIR, SUCCESS};
use std::sync::Arc;

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
    /// The dataset's manifest.
    pub manifest: Manifest,
    /// The store's full schema (as inferred), with its metadata.
    pub schema: Arc<Schema>,
    /// Hive partition columns, in directory order, with their SQL types.
    pub partitions: Vec<(String, DataType)>,
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
        self.manifest.partition_by.iter().filter_map(|p| p.parse::<PartitionField>().ok())
    }

    /// Rows, summed over every job of the dataset.
    pub fn rows(&self) -> u64 {
        self.manifest.total.written
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
        manifest,
        schema: Arc::new(schema),
        partitions,
    })
}

fn walk(sink: &dyn Sink, dir: &str, depth: usize, out: &mut Vec<TableInfo>) -> Result<()> {
    let entries = sink.list(dir).map_err(|e| Error::Io(format!("cannot list {}: {e}", sink.describe(dir))))?;
    if entries.iter().any(|e| e.is_dir && e.name == META_DIR) && sink.exists(&join_path(dir, MANIFEST)).unwrap_or(false)
    {
        out.push(load(sink, dir)?);
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

/// Every dataset under the root of `sink` (the root itself may be one), sorted by name.
/// Two datasets of the same store name are an error naming both.
pub fn discover(sink: &dyn Sink) -> Result<Vec<TableInfo>> {
    let mut out = Vec::new();
    walk(sink, "", 0, &mut out)?;
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
        return Err(Error::Io(format!("no idbsync dataset under {}", sink.describe(""))));
    }
    Ok(out)
}
