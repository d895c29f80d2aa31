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
mod dataset;
mod error;
mod input;
mod ops;
mod output;
mod redact;
mod storage;
#[cfg(feature = "sync")]
mod sync;

pub use cancel::Cancel;
pub use dataset::checksum::{checksum, crc_hex};
pub use dataset::commit::{new_job_id, Job, Mode};
pub use dataset::manifest::{Counts, FileInfo, Manifest, Timings, MANIFEST, META_DIR, REJECTS, SUCCESS, TEMPORARY};
pub use dataset::reader::{ReadOptions, StoreBatches, StoreReader};
pub use dataset::verify::verify_dataset;
pub use error::{Error, Result};
pub use input::column::NoValue;
pub use input::decode::{decode_all, Decoder, Reject};
pub use input::infer::{infer_path, infer_source, infer_source_with, BLOCK_BYTES};
pub use input::source::{for_each_block, open, store_name_of, Compression, Source};
pub use ops::convert::{convert, ConvertOptions, ConvertReport, OnInvalid, Phase, RejectRecord, StoreReport};
pub use ops::download::{
    download_store, write_download, DownloadFormat, DownloadOptions, DownloadReport, DownloadWarning, DownloadWriter,
    IMPORTER_MAX_STRING,
};
pub use ops::transfer::{copy_tree, TransferOptions, TransferReport};
pub use output::parquet::{Codec, ParquetOptions, StoreWriter};
pub use output::partition::{escape_path_name, murmur3_32, store_dir_name, PartitionField, Transform, HIVE_NULL};
pub use redact::{is_secret_key, redact_url, Redactor, REDACTED};
#[cfg(feature = "hdfs")]
pub use storage::hdfs::HdfsSink;
pub use storage::location::{is_hdfs_url, Location};
pub use storage::options::StorageOptions;
pub use storage::sink::{join_path, CountingWriter, Entry, LocalSink, Sink, SinkFile};
pub use storage::{open_object_store, open_sink, StorageError};
#[cfg(feature = "sync")]
pub use sync::{
    dir_url, download_synced, history, is_delta_dir, open_synced, optimize, pull, push, synced_tables, vacuum, AsOf,
    Commit, KeyError, KeyPath, OptimizeReport, PullFormat, PullOptions, PullReport, PushOptions, PushReport, PushStage,
    PushStatus, SyncedTable, TablePush, VacuumReport, WidenedColumn, DAY_COLUMN, DEFAULT_RETENTION, DELTA_LOG, HIDDEN,
    MIN_RETENTION,
};
