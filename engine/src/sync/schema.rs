//! Arrow schemas in and out of Delta tables.
//!
//! Delta has fewer types than Arrow (no unsigned integers, microsecond timestamps only)
//! and its columns are nullable here (a later batch may lack any field). Each top-level
//! column keeps the Arrow type idbsync inferred, with the field metadata that gives its
//! typeson tag, in its Delta column metadata (`idbsync.arrow_type`), so a pull gives back
//! the columns a download of a Parquet dataset would have. The store's IndexedDB metadata
//! (database, Dexie schema string, key path …) is in the table's properties.

use super::sync_err;
use crate::error::Result;
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use deltalake::kernel::engine::arrow_conversion::{TryFromArrow, TryFromKernel};
use deltalake::kernel::StructField;
use std::collections::HashMap;
use std::sync::Arc;

/// Column metadata key: the column's Arrow type as idbsync inferred it (JSON).
pub(crate) const ARROW_TYPE: &str = "idbsync.arrow_type";
/// Table property: the store schema's metadata (`idb.database`, `idb.dexie_schema`,
/// `idb.key_path`, …) as a JSON object.
pub(crate) const PROP_SCHEMA_METADATA: &str = "idbsync.schema_metadata";
/// Table property: the merge key ([`super::KeyPath`], JSON).
pub(crate) const PROP_KEY: &str = "idbsync.key";
/// Table property: the store's name.
pub(crate) const PROP_STORE: &str = "idbsync.store";
/// Table property: the version of the last commit that changed a column's type (a push
/// that widened columns rewrites the table in that commit). A `pull --since` a
/// checkpoint before it does not read the change data feed across it.
pub(crate) const PROP_WIDENED_AT: &str = "idbsync.widened_at";

/// Hidden column: the canonical text of the record's key (the merge key).
pub const KEY_TEXT: &str = "_idb_key";
/// Hidden column: a hash of the record's content (a re-pushed equal record is unchanged).
pub const HASH: &str = "_idb_hash";
/// Hidden column: the client that last wrote the row (`--client`).
pub const CLIENT: &str = "_idb_client";
/// Hidden column: the batch that last wrote the row (`--batch`).
pub const BATCH: &str = "_idb_batch";
/// Hidden column: when the row was last written (UTC).
pub const UPDATED_AT: &str = "_idb_updated_at";
/// The hidden columns, in table order (after the data columns).
pub const HIDDEN: [&str; 5] = [KEY_TEXT, HASH, CLIENT, BATCH, UPDATED_AT];

/// Whether `name` is one of the hidden bookkeeping columns, or the generated partition
/// column of `day(col)` ([`super::partition::DAY`]): not a field of the records.
pub(crate) fn is_hidden(name: &str) -> bool {
    HIDDEN.contains(&name) || name == super::partition::DAY
}

pub(crate) fn hidden_fields() -> Vec<FieldRef> {
    vec![
        Arc::new(Field::new(KEY_TEXT, DataType::Utf8, true)),
        Arc::new(Field::new(HASH, DataType::Utf8, true)),
        Arc::new(Field::new(CLIENT, DataType::Utf8, true)),
        Arc::new(Field::new(BATCH, DataType::Int64, true)),
        Arc::new(Field::new(
            UPDATED_AT,
            DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("UTC".into())),
            true,
        )),
    ]
}

/// A type Delta can store without loss: unsigned integers widened to the next signed
/// type, half floats to floats, every nested field nullable (map keys stay required).
fn storable(dt: &DataType) -> DataType {
    relax(dt, true)
}

/// `dt` with every nested field nullable (map keys stay required); `widen` also makes
/// the types Delta lacks storable.
fn relax(dt: &DataType, widen: bool) -> DataType {
    let one = |f: &FieldRef| -> FieldRef {
        Arc::new(f.as_ref().clone().with_data_type(relax(f.data_type(), widen)).with_nullable(true))
    };
    match dt {
        DataType::UInt8 if widen => DataType::Int16,
        DataType::UInt16 if widen => DataType::Int32,
        DataType::UInt32 if widen => DataType::Int64,
        DataType::UInt64 if widen => DataType::Decimal128(20, 0),
        DataType::Float16 if widen => DataType::Float32,
        DataType::Struct(fs) => DataType::Struct(fs.iter().map(one).collect::<Fields>()),
        DataType::List(f) => DataType::List(one(f)),
        DataType::LargeList(f) if widen => DataType::List(one(f)),
        DataType::LargeList(f) => DataType::LargeList(one(f)),
        DataType::Map(entries, sorted) => {
            let DataType::Struct(kv) = entries.data_type() else { return dt.clone() };
            let key =
                Arc::new(kv[0].as_ref().clone().with_data_type(relax(kv[0].data_type(), widen)).with_nullable(false));
            let kv = DataType::Struct(vec![key, one(&kv[1])].into());
            DataType::Map(Arc::new(entries.as_ref().clone().with_data_type(kv)), *sorted)
        }
        other => other.clone(),
    }
}

/// The Delta column for an inferred top-level field, and the Arrow field Delta reads it
/// back as (what a merge source must hold).
pub(crate) fn delta_column(table: &str, f: &Field) -> Result<(StructField, Field)> {
    let mut meta: HashMap<String, String> = f.metadata().clone();
    if !is_hidden(f.name()) {
        meta.insert(ARROW_TYPE.into(), serde_json::to_string(f.data_type()).expect("types serialise"));
    }
    let stored = Field::new(f.name(), storable(f.data_type()), true).with_metadata(meta);
    let sf = StructField::try_from_arrow(&stored).map_err(|e| {
        sync_err(table, format!("column '{}' ({}) cannot be a Delta column: {e}", f.name(), f.data_type()))
    })?;
    let back = Field::try_from_kernel(&sf)
        .map_err(|e| sync_err(table, format!("column '{}' cannot be read back from Delta: {e}", f.name())))?;
    Ok((sf, back))
}

/// The Arrow field idbsync inferred for a column read back from Delta (`back`), with the
/// field metadata (typeson tags) it had; nullable.
pub(crate) fn original_field(back: &Field) -> Field {
    let mut meta = back.metadata().clone();
    let dt = meta
        .remove(ARROW_TYPE)
        .and_then(|t| serde_json::from_str::<DataType>(&t).ok())
        .unwrap_or_else(|| back.data_type().clone());
    Field::new(back.name(), relax(&dt, false), true).with_metadata(meta)
}

/// Whether two columns as idbsync inferred them ([`original_field`]) hold the same kind
/// of values: the same Arrow type (nested nullability aside) and the same extension
/// (a JSON-text column is Utf8 too).
pub(crate) fn same_type(a: &Field, b: &Field) -> bool {
    let ext = |f: &Field| f.metadata().get(schema_infer::EXTENSION_NAME).cloned();
    relax(a.data_type(), false) == relax(b.data_type(), false) && ext(a) == ext(b)
}

/// A column's type as a report names it: `JSON text` for the JSON-text columns,
/// otherwise the Arrow type (`Int64`, `Float64`, `Timestamp(ms, "UTC")`,
/// `Struct(c: Int64, z: Utf8)` …), without nullability and field metadata.
pub(crate) fn type_name(f: &Field) -> String {
    match f.metadata().get(schema_infer::EXTENSION_NAME) {
        Some(e) if e == schema_infer::JSON_EXTENSION => "JSON text".to_owned(),
        _ => match f.data_type() {
            DataType::Struct(fs) => {
                let inner: Vec<String> = fs.iter().map(|c| format!("{}: {}", c.name(), type_name(c))).collect();
                format!("Struct({})", inner.join(", "))
            }
            DataType::List(c) | DataType::LargeList(c) => format!("List({})", type_name(c)),
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(kv) if kv.len() == 2 => format!("Map({}, {})", type_name(&kv[0]), type_name(&kv[1])),
                other => other.to_string(),
            },
            other => other.to_string(),
        },
    }
}

/// What idbsync keeps in a synced table's properties (`cfg`): the merge key (`None` for a
/// table idbsync did not make) and the store's IndexedDB metadata.
pub(crate) fn table_properties(cfg: &HashMap<String, String>) -> (Option<super::KeyPath>, HashMap<String, String>) {
    let key = cfg.get(PROP_KEY).and_then(|k| serde_json::from_str(k).ok());
    let meta = cfg.get(PROP_SCHEMA_METADATA).and_then(|m| serde_json::from_str(m).ok()).unwrap_or_default();
    (key, meta)
}

/// The data columns (no hidden ones) of a table whose Delta schema reads back as
/// `delta`, as idbsync inferred them, with the store's metadata.
pub(crate) fn original_schema(delta: &Schema, metadata: HashMap<String, String>) -> SchemaRef {
    let fields: Vec<Field> =
        delta.fields().iter().filter(|f| !is_hidden(f.name())).map(|f| original_field(f)).collect();
    Arc::new(Schema::new_with_metadata(fields, metadata))
}
