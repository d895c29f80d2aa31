//! # idbsync engine
//!
//! The I/O side of idbsync: opening inputs (files, stdin, gzip, zstd) and driving
//! the pure `schema_infer` core over them. Conversion, sinks, commit, query and
//! download build on this.
//!
//! ```
//! use engine::infer_path;
//! use schema_infer::InferOptions;
//! let dir = tempfile::tempdir().unwrap();
//! let file = dir.path().join("people.ndjson");
//! std::fs::write(&file, "{\"name\":\"Ada\"}\n{\"name\":\"Alan\",\"age\":41}\n").unwrap();
//! let result = infer_path(&file, InferOptions::new(), None).unwrap();
//! assert_eq!(result.stores[0].name, "people");
//! assert_eq!(result.stores[0].schema.fields().len(), 2);
//! ```
#![warn(missing_docs)]

mod error;
mod infer;
mod source;

pub use error::{Error, Result};
pub use infer::{infer_path, infer_source, BLOCK_BYTES};
pub use source::{for_each_block, open, store_name_of, Compression, Source};
