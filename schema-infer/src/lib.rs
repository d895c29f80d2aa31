//! # idbsync schema inference
//!
//! Reads what a browser exported from IndexedDB — a Dexie export with typeson
//! `$types`, a plain `{store: [records]}` dump, NDJSON or a JSON array — and infers
//! one exact Arrow schema per object store over the **whole** input.
//!
//! Bytes are pushed in (no filesystem, no network); records are split out without
//! copying, scanned in parallel with rayon by a walker that builds no DOM, and
//! merged through a type lattice whose `merge` is associative and commutative.
//!
//! ```
//! use schema_infer::{Inferrer, InferOptions};
//! use arrow_schema::DataType;
//!
//! let export = br#"{"formatName":"dexie","formatVersion":1,"data":{"databaseName":"shop",
//!   "databaseVersion":1,"tables":[{"name":"orders","schema":"++id","rowCount":2}],
//!   "data":[{"tableName":"orders","inbound":true,"rows":[
//!     {"id":1,"created":1709251200000,"$types":{"created":"date"}},
//!     {"id":2,"created":1709337600000,"$types":{"created":"date"}}]}]}}"#;
//! let mut inf = Inferrer::new(InferOptions::new()).unwrap();
//! inf.push(export).unwrap();
//! let result = inf.finish().unwrap();
//! let orders = result.store("orders").unwrap();
//! assert_eq!(orders.rows, 2);
//! let created = orders.schema.field_with_name("created").unwrap();
//! assert!(matches!(created.data_type(), DataType::Timestamp(_, _)));
//! assert_eq!(created.metadata()["idb.tag"], "date");
//! ```
#![warn(missing_docs)]

mod carry;
mod dexie;
mod error;
mod format;
mod infer;
pub mod json;
mod lattice;
mod lower;
mod options;
mod pin;
mod result;
mod scan;
mod split;
mod tag;
pub mod typeson;

#[cfg(test)]
mod proptests;

pub use carry::Carry;
pub use dexie::{DatabaseInfo, KeySpec, TableDecl};
pub use error::{Error, Result};
pub use format::{detect, Format};
pub use infer::Inferrer;
pub use lattice::Pos;
pub use lower::apply_pins;
pub use options::{InferOptions, OnConflict, UnknownTags};
pub use pin::check_schema;
pub use result::{
    InferResult, RecordIssue, SchemaDoc, StoreSchema, Widening, EXTENSION_METADATA, EXTENSION_NAME, JSON_EXTENSION,
    KEY_COLUMN, META_NULLS, META_TAG, NULLS_COLUMN, VALUE_COLUMN,
};
pub use scan::path_at;
pub use split::{group_pieces, DexieHeader, Piece, Splitter, StoreDecl};
pub use tag::{Elem, Tag, ALL_TAGS};
pub use typeson::escape_component;
