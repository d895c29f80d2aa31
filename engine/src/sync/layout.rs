//! How a synced table's data files are laid out: the Parquet settings of every file a
//! push, `optimize` or a rewrite writes, and the size files are cut at.
//!
//! deltalake's own defaults are Snappy and one row group per file (Parquet's 1M-row
//! limit), so a writer held a whole file's column chunks in memory before flushing them,
//! and files of 100 MiB meant a merge rewrote 100 MiB to change one row of it. Synced
//! tables use what `convert` writes (zstd, row groups of 122,880 rows, small dictionary
//! pages) and smaller files.

use crate::output::parquet::DICT_PAGE_LIMIT;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

/// Rows per row group: what `convert` writes, and what a writer holds before flushing.
pub(crate) const ROW_GROUP_ROWS: usize = 122_880;

/// The `delta.targetFileSize` of tables idbsync creates: a merge rewrites whole files, so
/// smaller files mean less rewritten for changes that are close together (new records,
/// recent ones), at the cost of more files to list; and it holds the rows of a file it
/// reads until it meets a change there (all of them for a file it reads but does not
/// change), so the file size bounds a push's memory too. 4 MiB rather than 8 lowered a
/// recent 1% push into 1M rows from 327 to 233 MiB and halved its time, at no cost to
/// changes spread over the table (benches/results/2026-12-08-first-push.md). `optimize`
/// bin-packs to this size too.
pub(crate) const TARGET_FILE_BYTES: u64 = 4 << 20;

/// The Parquet settings of the data (and change data) files written to synced tables.
pub(crate) fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("zstd level 1")))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_dictionary_enabled(true)
        .set_dictionary_page_size_limit(DICT_PAGE_LIMIT)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(format!("idbsync version {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Rows per batch in a merge: a quarter of DataFusion's default. deltalake's merge
/// keeps the batches of a file until it meets a change in it (its `MergeBarrier`), and
/// some batches in flight to the data and change-data writers; smaller batches keep less.
pub(crate) const MERGE_BATCH_ROWS: usize = 2048;

/// The DataFusion session of a merge: deltalake's defaults, with one partition, so the
/// rows are written in the order the join meets them (the source's key order for new
/// rows, a file's own order for the rows of a file rewritten): files keep narrow key
/// ranges, which later merges skip files by. Smaller batches ([`MERGE_BATCH_ROWS`]), and
/// text read as plain strings rather than views: a view held by a kept batch holds the
/// whole decoded page it points into. Both lowered a 1% push's peak RSS into a 1M-row
/// table by about 20% (benches/results/2026-12-08-push-memory.md).
pub(crate) fn merge_session(
    table: &str,
) -> crate::error::Result<std::sync::Arc<dyn deltalake::datafusion::catalog::Session>> {
    let overrides = std::collections::HashMap::from([
        ("datafusion.execution.target_partitions".to_owned(), "1".to_owned()),
        ("datafusion.execution.batch_size".to_owned(), MERGE_BATCH_ROWS.to_string()),
        ("datafusion.execution.parquet.schema_force_view_types".to_owned(), "false".to_owned()),
    ]);
    let ctx = deltalake::delta_datafusion::DeltaSessionContext::new_with_session_overrides(&overrides)
        .map_err(super::delta_err(table, "cannot set up the merge"))?;
    Ok(std::sync::Arc::new(ctx.state()))
}
