//! Keeping synced tables small and readable: their history, compaction of the small files
//! frequent pushes leave (`optimize`), and removal of files no version needs (`vacuum`).
//! All of it is deltalake's; this module chooses the settings and reports.

use super::read::{open_synced, AsOf, Commit, DELTA_LOG};
use super::{delta_err, runtime, sync_err, table_url};
use crate::error::Result;
use crate::storage::location::Location;
use crate::storage::options::StorageOptions;
use deltalake::operations::vacuum::VacuumMode;
use serde::Serialize;
use std::num::NonZeroU64;
use std::time::Duration;

/// The shortest retention `vacuum` accepts without `force`: files younger than this may
/// belong to a push that is committing now.
pub const MIN_RETENTION: Duration = Duration::from_secs(3600);

/// The default retention of `vacuum`, Delta's own default (7 days).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The synced tables directly under `root` (folders with a `_delta_log`), by folder name;
/// the root is opened with `storage`'s settings.
pub fn synced_tables(root: &str, storage: &StorageOptions) -> Result<Vec<String>> {
    let location = Location::parse(root)?;
    let sink = crate::storage::open_sink(&location, storage)?;
    let mut names: Vec<String> = sink
        .list("")
        .map_err(|e| sync_err(root, format!("cannot list {}: {e}", sink.describe(""))))?
        .into_iter()
        .filter(|e| e.is_dir && !e.name.starts_with(['_', '.']))
        .filter(|e| super::read::is_delta_dir(sink.as_ref(), &e.name))
        .map(|e| e.name)
        .collect();
    names.sort();
    Ok(names)
}

async fn open(root: &str, table: &str, storage: &StorageOptions) -> Result<super::read::SyncedTable> {
    let url = table_url(root, table, false)?;
    if url.scheme() == "file" && !url.to_file_path().map(|p| p.join(DELTA_LOG).exists()).unwrap_or(false) {
        return Err(sync_err(table, format!("there is no synced table at {url}")));
    }
    Ok(open_synced(&url, &AsOf::Latest, storage).await?.expect("the latest version exists"))
}

/// The commits of table `table` under `root` (opened with `storage`'s settings), newest
/// first.
pub fn history(root: &str, storage: &StorageOptions, table: &str, limit: Option<usize>) -> Result<Vec<Commit>> {
    runtime()?.block_on(async {
        let t = open(root, table, storage).await?;
        t.history(limit).await
    })
}

/// What `optimize` did to one table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptimizeReport {
    /// The table.
    pub table: String,
    /// Files before.
    pub files_before: usize,
    /// Files removed (rewritten into larger ones).
    pub files_removed: u64,
    /// Files written.
    pub files_added: u64,
    /// The table version after (unchanged when there was nothing to compact).
    pub checkpoint: i64,
}

/// Compacts the small files of `table` into files of about `target_bytes` (deltalake's
/// bin-packing; default 100 MiB). Rows and the change feed are unchanged: a pull
/// `--since` an earlier checkpoint sees no change from it. The root is opened with
/// `storage`'s settings.
pub fn optimize(
    root: &str,
    storage: &StorageOptions,
    table: &str,
    target_bytes: Option<u64>,
) -> Result<OptimizeReport> {
    runtime()?.block_on(async {
        let t = open(root, table, storage).await?;
        let files_before = t.files;
        let mut op = t.table().clone().optimize().with_writer_properties(super::layout::writer_properties());
        if let Some(n) = target_bytes.and_then(NonZeroU64::new) {
            op = op.with_target_size(n);
        }
        let (after, metrics) = op.await.map_err(delta_err(table, "optimize failed"))?;
        Ok(OptimizeReport {
            table: table.to_owned(),
            files_before,
            files_removed: metrics.num_files_removed,
            files_added: metrics.num_files_added,
            checkpoint: after.version().map_or(0, |v| v as i64),
        })
    })
}

/// What `vacuum` did (or would do) to one table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VacuumReport {
    /// The table.
    pub table: String,
    /// Files deleted (with `dry_run`: that would be).
    pub files_deleted: usize,
    /// Nothing was deleted.
    pub dry_run: bool,
}

/// Deletes the files of `table` that no version within `retention` needs, and files no
/// version ever referenced (left by an interrupted writer) once older than `retention`.
/// A retention under [`MIN_RETENTION`] is refused unless `force`. Pulls `--since` a
/// version older than the retention may then fail; they say to pull the whole table.
/// The root is opened with `storage`'s settings.
pub fn vacuum(
    root: &str,
    storage: &StorageOptions,
    table: &str,
    retention: Duration,
    force: bool,
    dry_run: bool,
) -> Result<VacuumReport> {
    if retention < MIN_RETENTION && !force {
        return Err(sync_err(
            table,
            format!(
                "a retention of {} s is under one hour: a push committing now could lose its files; \
                 --force if no writer is running",
                retention.as_secs()
            ),
        ));
    }
    let period = chrono::Duration::from_std(retention).map_err(|e| sync_err(table, format!("retention: {e}")))?;
    runtime()?.block_on(async {
        let t = open(root, table, storage).await?;
        let (_, metrics) = t
            .table()
            .clone()
            .vacuum()
            .with_retention_period(period)
            .with_enforce_retention_duration(false)
            .with_mode(VacuumMode::Full)
            .with_dry_run(dry_run)
            .await
            .map_err(delta_err(table, "vacuum failed"))?;
        Ok(VacuumReport { table: table.to_owned(), files_deleted: metrics.files_deleted.len(), dry_run })
    })
}
