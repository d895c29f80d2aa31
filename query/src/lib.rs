//! # idbsync query
//!
//! SQL previews over committed idbsync datasets and synced Delta tables (at their newest
//! version or, with [`OpenOptions::as_of`], an older one) with DataFusion: every store under a root
//! (a local folder or `hdfs://…`, opened by `engine::open_sink` and read through
//! `engine::open_object_store`) is a table, Hive partition columns are typed and prune
//! files, and only SELECT, WITH, EXPLAIN, SHOW and DESCRIBE run. JSON-text columns are queryable with datafusion-functions-json
//! (`json_get_int(col)`, `json_get_str(col, 'key')`, …).
#![warn(missing_docs)]

mod catalog;
mod error;
mod render;
mod session;
mod views;

pub use catalog::{discover, TableInfo, TableKind};
pub use error::{Error, Result};
pub use render::{write, Format};
pub use session::{check_read_only, without_bookkeeping, BatchIter, OpenOptions, Preview, Session};
