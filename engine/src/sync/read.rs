//! Reading synced tables outside push and pull: a table opened at its current version (or
//! an older one: time travel) for SQL, its summary for listings, and its history.

use super::schema::{self, original_schema};
use super::{delta_err, sync_err};
use crate::error::Result;
use crate::storage::location::Location;
use crate::storage::options::StorageOptions;
use arrow_schema::{Schema, SchemaRef};
use deltalake::datafusion::catalog::TableProvider;
use deltalake::kernel::engine::arrow_conversion::TryFromKernel;
use deltalake::{DeltaTable, DeltaTableBuilder};
use futures::TryStreamExt;
use serde::Serialize;
use std::sync::Arc;
use url::Url;

/// The folder that marks a Delta table (a folder holding it is a synced table).
pub const DELTA_LOG: &str = "_delta_log";

/// Which version of a table to read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AsOf {
    /// The newest version.
    #[default]
    Latest,
    /// A table version (a checkpoint that push or pull printed).
    Version(i64),
    /// The newest version committed at or before this instant (RFC 3339).
    Time(String),
}

impl std::str::FromStr for AsOf {
    type Err = String;
    /// A version number, or an RFC 3339 instant (`2026-12-07T10:00:00Z`; a date alone
    /// means its midnight UTC).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if let Ok(v) = s.parse::<i64>() {
            return if v < 0 { Err(format!("{v} is not a table version")) } else { Ok(AsOf::Version(v)) };
        }
        let full = if s.len() == 10 { format!("{s}T00:00:00Z") } else { s.to_owned() };
        chrono::DateTime::parse_from_rfc3339(&full)
            .map(|_| AsOf::Time(full))
            .map_err(|e| format!("'{s}' is neither a table version nor an RFC 3339 time ({e})"))
    }
}

impl std::fmt::Display for AsOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AsOf::Latest => f.write_str("the newest version"),
            AsOf::Version(v) => write!(f, "version {v}"),
            AsOf::Time(t) => f.write_str(t),
        }
    }
}

/// A synced table opened for reading, at one version.
pub struct SyncedTable {
    /// The table's name: the store it was pushed from (the folder's name for a Delta
    /// table that idbsync did not make).
    pub name: String,
    /// The table's URL.
    pub url: Url,
    /// The version read.
    pub version: i64,
    /// The data columns with the types and metadata idbsync inferred (hidden columns
    /// left out); the store's metadata.
    pub schema: SchemaRef,
    /// The table's columns as Delta stores them (hidden ones included).
    pub delta_schema: SchemaRef,
    /// Partition columns.
    pub partition_columns: Vec<String>,
    /// Data files of this version.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Rows, from the files' statistics (`None` when a file has none).
    pub rows: Option<u64>,
    /// The merge key path (`None` for a table idbsync did not make).
    pub key_path: Option<String>,
    table: DeltaTable,
}

impl std::fmt::Debug for SyncedTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncedTable").field("name", &self.name).field("version", &self.version).finish()
    }
}

/// The URL of the folder `dir` (relative, `/`-separated; `""` for the root itself) under
/// `root` (a local folder or `hdfs://…`).
pub fn dir_url(root: &str, dir: &str) -> Result<Url> {
    let name = if dir.is_empty() { root } else { dir };
    let dir = dir.trim_end_matches('/');
    match Location::parse(root)? {
        Location::Local(p) => {
            let abs = std::fs::canonicalize(p.join(dir))
                .map_err(|source| crate::error::Error::Open { path: p.join(dir), source })?;
            Url::from_directory_path(&abs)
                .map_err(|_| sync_err(name, format!("cannot make a URL of {}", abs.display())))
        }
        // `./` joins to the root itself.
        hdfs @ Location::Hdfs { .. } => super::hdfs_url(&hdfs, if dir.is_empty() { "." } else { dir }, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_under_a_root_and_the_root_itself_have_urls() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("db/items")).unwrap();
        let root = d.path().to_str().unwrap();
        let abs = std::fs::canonicalize(d.path()).unwrap();
        assert_eq!(dir_url(root, "db/items").unwrap(), Url::from_directory_path(abs.join("db/items")).unwrap());
        assert_eq!(dir_url(root, "").unwrap(), Url::from_directory_path(&abs).unwrap());
        #[cfg(feature = "hdfs")]
        {
            assert_eq!(dir_url("hdfs://nn:8020/data", "people").unwrap().as_str(), "hdfs://nn:8020/data/people/");
            assert_eq!(
                dir_url("hdfs://nn:8020/data/", "db/people").unwrap().as_str(),
                "hdfs://nn:8020/data/db/people/"
            );
            assert_eq!(dir_url("hdfs://nn:8020/data", "").unwrap().as_str(), "hdfs://nn:8020/data/");
        }
    }
}

/// Opens the Delta table at `url` at `as_of`, with `storage`'s settings (the HDFS client
/// settings of `--hdfs-conf`); `None` when `as_of` is a time before the table's first
/// commit. Must run on the runtime that will read it (its object store's I/O belongs to
/// that runtime).
pub async fn open_synced(url: &Url, as_of: &AsOf, storage: &StorageOptions) -> Result<Option<SyncedTable>> {
    let folder = url.path_segments().and_then(|mut s| s.rfind(|p| !p.is_empty())).unwrap_or("").to_owned();
    if let AsOf::Time(t) = as_of {
        let at = chrono::DateTime::parse_from_rfc3339(t).map_err(|e| sync_err(&folder, format!("{t}: {e}")))?;
        let latest = Box::pin(open_synced(url, &AsOf::Latest, storage)).await?.expect("the latest version exists");
        let first = latest.history(None).await?.last().and_then(|c| c.timestamp_ms);
        if first.is_some_and(|f| f > at.timestamp_millis()) {
            return Ok(None);
        }
    }
    let builder = DeltaTableBuilder::from_url(url.clone())
        .map_err(delta_err(&folder, format!("cannot open {url}")))?
        .with_storage_options(super::delta_options(storage)?);
    let table = match as_of {
        AsOf::Latest => builder.load().await,
        AsOf::Version(v) => builder.with_version(*v as u64).load().await,
        AsOf::Time(t) => match builder.with_datestring(t) {
            Ok(b) => b.load().await,
            Err(e) => Err(e),
        },
    }
    .map_err(match as_of {
        AsOf::Latest => delta_err(&folder, format!("cannot open {url}")),
        AsOf::Version(v) => delta_err(&folder, format!("cannot read version {v} of {url}")),
        AsOf::Time(t) => delta_err(&folder, format!("cannot read {url} as of {t}")),
    })?;
    let version = table.version().map_or(0, |v| v as i64);
    let snap = table.snapshot().map_err(delta_err(&folder, "cannot read the table's state"))?;
    let cfg = snap.metadata().configuration();
    let name = cfg.get(schema::PROP_STORE).cloned().unwrap_or(folder);
    let (key, meta) = schema::table_properties(cfg);
    let delta = Schema::try_from_kernel(snap.schema().as_ref())
        .map_err(|e| sync_err(&name, format!("the table's schema cannot be read: {e}")))?;
    let key_path = key.map(|k| k.display());
    let partition_columns = snap.metadata().partition_columns().to_vec();
    let (mut files, mut bytes, mut rows) = (0usize, 0u64, Some(0u64));
    for f in snap.log_data() {
        files += 1;
        bytes += f.size().max(0) as u64;
        rows = rows.and_then(|r| f.num_records().map(|n| r + n as u64));
    }
    let schema = original_schema(&delta, meta);
    Ok(Some(SyncedTable {
        name,
        url: url.clone(),
        version,
        schema,
        delta_schema: Arc::new(delta),
        partition_columns,
        files,
        bytes,
        rows,
        key_path,
        table,
    }))
}

impl SyncedTable {
    /// The deltalake table, at the version read.
    pub(crate) fn table(&self) -> &DeltaTable {
        &self.table
    }

    /// A DataFusion provider over this version of the table (statistics and partition
    /// pruning from the Delta log). The caller's session must know the table's object
    /// store: [`SyncedTable::prepare_session`].
    pub async fn provider(&self) -> Result<Arc<dyn TableProvider>> {
        self.table.table_provider().await.map_err(|e| sync_err(&self.name, format!("cannot read: {e}")))
    }

    /// Registers the table's object store with `session` (idempotent).
    pub fn prepare_session(&self, session: &dyn deltalake::datafusion::catalog::Session) -> Result<()> {
        self.table.update_datafusion_session(session).map_err(delta_err(&self.name, "cannot read the table"))
    }

    /// The table's commits, newest first (`limit`: at most that many), read from the
    /// newest version whatever version was opened. Every commit idbsync, Spark and
    /// delta-rs make carries its commit info, so the n-th entry is version `newest - n`.
    pub async fn history(&self, limit: Option<usize>) -> Result<Vec<Commit>> {
        let infos: Vec<_> = self
            .table
            .history(limit)
            .try_collect()
            .await
            .map_err(delta_err(&self.name, "cannot read the table's history"))?;
        // Newest first; versions count down from the one read.
        Ok(infos
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let params = c.operation_parameters.unwrap_or_default();
                let metrics = c.info.get("operationMetrics").cloned().unwrap_or_default();
                // delta-rs names its metrics in snake_case, Spark in camelCase.
                let metric = |names: &[&str]| {
                    names.iter().find_map(|k| {
                        let v = metrics.get(*k)?;
                        v.as_u64().or_else(|| v.as_str()?.parse().ok())
                    })
                };
                Commit {
                    version: self.version - i as i64,
                    timestamp: c
                        .timestamp
                        .and_then(chrono::DateTime::from_timestamp_millis)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                    timestamp_ms: c.timestamp,
                    operation: c.operation.unwrap_or_default(),
                    client: c.info.get("idbsync.client").and_then(|v| v.as_str()).map(str::to_owned),
                    batch: c.info.get("idbsync.batch").and_then(|v| v.as_i64()),
                    rows_inserted: metric(&[
                        "num_target_rows_inserted",
                        "numTargetRowsInserted",
                        "num_added_rows",
                        "numOutputRows",
                    ]),
                    rows_updated: metric(&["num_target_rows_updated", "numTargetRowsUpdated"]),
                    rows_deleted: metric(&["num_target_rows_deleted", "numTargetRowsDeleted", "numDeletedRows"]),
                    files_added: metric(&[
                        "num_target_files_added",
                        "num_added_files",
                        "numTargetFilesAdded",
                        "numFiles",
                    ]),
                    files_removed: metric(&[
                        "num_target_files_removed",
                        "num_removed_files",
                        "numTargetFilesRemoved",
                        "numRemovedFiles",
                    ]),
                    parameters: params.into_iter().collect(),
                }
            })
            .collect())
    }
}

/// One commit of a table's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Commit {
    /// The table version it made.
    pub version: i64,
    /// When (RFC 3339, UTC).
    pub timestamp: Option<String>,
    /// When, in milliseconds since the epoch.
    #[serde(skip)]
    pub timestamp_ms: Option<i64>,
    /// Delta's operation name (`WRITE`, `MERGE`, `OPTIMIZE`, `VACUUM END` …).
    pub operation: String,
    /// The pushing client (`--client`), when idbsync recorded one.
    pub client: Option<String>,
    /// The batch (`--batch`), when idbsync recorded one.
    pub batch: Option<i64>,
    /// Rows the commit inserted (MERGE) or wrote (WRITE).
    pub rows_inserted: Option<u64>,
    /// Rows it updated.
    pub rows_updated: Option<u64>,
    /// Rows it deleted.
    pub rows_deleted: Option<u64>,
    /// Files it added.
    pub files_added: Option<u64>,
    /// Files it removed.
    pub files_removed: Option<u64>,
    /// The operation's parameters (predicates, modes).
    pub parameters: std::collections::BTreeMap<String, serde_json::Value>,
}

/// Whether `dir` (under a sink's root) is a Delta table.
pub fn is_delta_dir(sink: &dyn crate::storage::sink::Sink, dir: &str) -> bool {
    sink.exists(&crate::storage::sink::join_path(dir, DELTA_LOG)).unwrap_or(false)
}
