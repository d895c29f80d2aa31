//! What inference gives: the schema document (`infer --json`, read back by `--schema`)
//! with one Arrow schema per store, the widening report and the invalid records, and the
//! names of the columns and metadata keys idbsync gives a meaning of its own.

use crate::dexie::DatabaseInfo;
use crate::error::Result;
use crate::format::Format;
use arrow_schema::SchemaRef;
use serde::{Deserialize, Serialize};

/// Name of the column holding out-of-line keys.
pub const KEY_COLUMN: &str = "__key";
/// Name of the column holding a store's values when they are not objects.
pub const VALUE_COLUMN: &str = "__value";
/// Name of the side column that records which kind of "no value" a record had
/// (`absent`, `null`, `undefined`, `hole`) where a field sees more than one.
pub const NULLS_COLUMN: &str = "__idb_nulls";

/// Field metadata key: the typeson tag the column's values carried.
pub const META_TAG: &str = "idb.tag";
/// Field metadata key: the kinds of "no value" seen (`absent,null,undefined,hole`).
pub const META_NULLS: &str = "idb.nulls";
/// Arrow's extension-name metadata key.
pub const EXTENSION_NAME: &str = "ARROW:extension:name";
/// Arrow's extension-metadata key.
pub const EXTENSION_METADATA: &str = "ARROW:extension:metadata";
/// The canonical JSON extension type name.
pub const JSON_EXTENSION: &str = "arrow.json";

/// One invalid record: where it is and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordIssue {
    /// Record index within the store (for NDJSON: among non-blank lines).
    pub record: u64,
    /// Byte offset of the problem in the (decompressed) input.
    pub offset: u64,
    /// Field path of the problem within the record.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// A type widened beyond what was first seen, and the first record that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Widening {
    /// Field path (`shipping.zip`, `items.[].qty`).
    pub path: String,
    /// What the field was first.
    pub from: String,
    /// The final column type.
    pub to: String,
    /// The kind of value that caused it.
    pub cause: String,
    /// Record index (within the store) of the first such value.
    pub record: u64,
    /// Byte offset of the first such value.
    pub offset: u64,
}

/// The inferred schema of one object store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreSchema {
    /// Store (table) name.
    pub name: String,
    /// Records that were inferred.
    pub rows: u64,
    /// Records that could not be read (see `issues`).
    pub invalid: u64,
    /// The first invalid records, with where and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<RecordIssue>,
    /// Every widening, in input order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub widenings: Vec<Widening>,
    /// Things worth knowing that are not errors (e.g. a header row count that disagrees).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The Arrow schema, with IndexedDB metadata.
    pub schema: SchemaRef,
}

/// The result of inference over a whole input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferResult {
    /// The input's format.
    pub format: Format,
    /// Database name and version (Dexie exports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseInfo>,
    /// Bytes read (after decompression).
    pub bytes: u64,
    /// One entry per store, in the order the export declares or first shows them.
    pub stores: Vec<StoreSchema>,
}

/// The machine-readable schema document: what `infer --json` prints and what
/// `--schema FILE` reads back to pin types.
pub type SchemaDoc = InferResult;

impl InferResult {
    /// The store named `name`.
    pub fn store(&self, name: &str) -> Option<&StoreSchema> {
        self.stores.iter().find(|s| s.name == name)
    }

    /// Serialises as the schema document. Metadata maps are written in sorted key
    /// order, so the same input always gives the same text.
    pub fn to_json(&self) -> String {
        let mut v = serde_json::to_value(self).expect("schema document serialises");
        sort_metadata(&mut v);
        serde_json::to_string_pretty(&v).expect("schema document serialises")
    }

    /// Reads a schema document.
    pub fn from_json(text: &str) -> Result<SchemaDoc> {
        Ok(serde_json::from_str(text)?)
    }
}

/// Sorts the keys of every `metadata` object (they come from hash maps).
fn sort_metadata(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if k == "metadata" {
                    if let serde_json::Value::Object(md) = child {
                        let mut entries: Vec<(String, serde_json::Value)> = std::mem::take(md).into_iter().collect();
                        entries.sort_by(|a, b| a.0.cmp(&b.0));
                        md.extend(entries);
                    }
                }
                sort_metadata(child);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(sort_metadata),
        _ => {}
    }
}
