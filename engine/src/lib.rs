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

mod cancel;
mod column;
mod commit;
mod convert;
mod decode;
mod download;
mod error;
#[cfg(feature = "hdfs")]
mod hdfs;
mod infer;
mod parquet_out;
mod partition;
mod recover;
mod redact;
mod sink;
mod source;
mod store_read;
#[cfg(feature = "sync")]
mod sync;
mod transfer;
mod verify;

pub use cancel::Cancel;
pub use column::NoValue;
pub use commit::{new_job_id, Counts, Job, Manifest, Mode, Timings, MANIFEST, META_DIR, REJECTS, SUCCESS, TEMPORARY};
pub use convert::{convert, ConvertOptions, ConvertReport, OnInvalid, Phase, RejectRecord, StoreReport};
pub use decode::{decode_all, Decoder, Reject};
pub use download::{
    download_store, write_download, DownloadFormat, DownloadOptions, DownloadReport, DownloadWarning, DownloadWriter,
    IMPORTER_MAX_STRING,
};
pub use error::{Error, Result};
#[cfg(feature = "hdfs")]
pub use hdfs::{is_hdfs_url, split_url, HdfsOptions, HdfsSink};
pub use infer::{infer_path, infer_source, infer_source_with, BLOCK_BYTES};
pub use parquet_out::{Codec, FileInfo, ParquetOptions, StoreWriter};
pub use partition::{escape_path_name, murmur3_32, store_dir_name, PartitionField, Transform, HIVE_NULL};
pub use redact::{is_secret_key, redact_url, Redactor, REDACTED};
pub use sink::{CountingWriter, Entry, LocalSink, Sink, SinkFile};
pub use source::{for_each_block, open, store_name_of, Compression, Source};
pub use store_read::{ReadOptions, StoreBatches, StoreReader};
#[cfg(feature = "sync")]
pub use sync::{
    pull, push, KeyPath, PullFormat, PullOptions, PullReport, PushOptions, PushReport, PushStatus, TablePush,
};
pub use transfer::{copy_tree, TransferOptions, TransferReport};
pub use verify::{checksum, crc_hex, verify_dataset};
