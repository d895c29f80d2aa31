//! Sync: one Delta Lake table per object store, kept current by [`push`] (a MERGE by
//! IndexedDB primary key, with deletes and idempotent batches) and read back as changes
//! since a checkpoint by [`pull`] (Delta's change data feed).
//!
//! A synced table lives at `<root>/<store>` (a local folder or any URL deltalake opens,
//! such as `hdfs://…`). Its data columns are the store's inferred columns; five hidden
//! columns follow them: `_idb_key` (the key's canonical JSON text, the merge key),
//! `_idb_hash` (the record's content hash), `_idb_client`, `_idb_batch` and
//! `_idb_updated_at` (who last wrote the row, and when). A checkpoint is a Delta table
//! version. The table format itself is deltalake's: idbsync writes no Delta file itself.
//!
//! Several writers (processes, or the server's requests) may push to one table at once.
//! Delta's optimistic commit serialises them: each commit is the next numbered log file,
//! written only if absent. A push whose commit conflicts with one that got in first reads
//! the table again at its new version, checks its batch again (another writer may have
//! applied it), looks its keys up again and merges again, after a short random wait, up
//! to [`PushOptions::with_max_attempts`] times ([`Error::Contended`] after that). Of two
//! writes to one key, the later commit wins. A push killed at any point leaves each table
//! at the version before its commit or after it: a commit is one log file put atomically
//! (data files written before a kill are left unreferenced and ignored).

mod body;
#[cfg(test)]
mod concurrency_tests;
mod key;
mod layout;
mod load;
#[cfg(test)]
mod load_tests;
mod lookup;
mod maintain;
mod merge;
mod once;
mod partition;
mod progress;
mod pull;
mod push;
mod ranges;
mod read;
mod retry;
mod schema;
mod target;
mod widen;

pub use key::{KeyError, KeyPath};
pub use maintain::{
    history, optimize, synced_tables, vacuum, OptimizeReport, VacuumReport, DEFAULT_RETENTION, MIN_RETENTION,
};
pub use partition::DAY as DAY_COLUMN;
pub use progress::PushStage;
pub use pull::{download_synced, pull, PullFormat, PullOptions, PullReport};
pub use push::{push, PushOptions, PushReport, PushStatus, TablePush, WidenedColumn};
pub use read::{dir_url, is_delta_dir, open_synced, AsOf, Commit, SyncedTable, DELTA_LOG};
pub use schema::HIDDEN;

use crate::error::{Error, Result};
use crate::storage::location::Location;
use crate::storage::options::StorageOptions;
use deltalake::DeltaTable;
use std::collections::HashMap;
use std::path::Path;
use url::Url;

fn delta_err(table: &str, context: impl Into<String>) -> impl FnOnce(deltalake::DeltaTableError) -> Error {
    let (table, context) = (table.to_owned(), context.into());
    move |source| Error::Delta { table, context, source: Box::new(source) }
}

fn sync_err(table: &str, reason: impl Into<String>) -> Error {
    Error::Sync { table: table.to_owned(), reason: reason.into() }
}

/// A runtime for deltalake's async operations (the engine's API is blocking).
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| Error::Write { path: "the sync runtime".into(), source })
}

/// The URL of the table of `store` under `root`, a location as every command takes it
/// ([`Location::parse`]: a local folder or `hdfs://…`; without the `hdfs` feature, HDFS
/// is refused with the message the storage layer gives). With `create`, a local table
/// folder is made when missing (deltalake opens only folders that exist).
fn table_url(root: &str, store: &str, create: bool) -> Result<Url> {
    let dir = crate::output::partition::store_dir_name(store);
    match Location::parse(root)? {
        Location::Local(p) => local_url(&p, &dir, store, create),
        hdfs @ Location::Hdfs { .. } => hdfs_url(&hdfs, &dir, store),
    }
}

#[cfg(feature = "hdfs")]
fn hdfs_url(root: &Location, dir: &str, store: &str) -> Result<Url> {
    static HANDLERS: std::sync::Once = std::sync::Once::new();
    HANDLERS.call_once(|| deltalake::hdfs::register_handlers(None));
    let base = format!("{}/", root.to_string().trim_end_matches('/'));
    Url::parse(&base)
        .and_then(|b| b.join(&format!("{dir}/")))
        .map_err(|e| sync_err(store, format!("bad table URL under {root}: {e}")))
}

#[cfg(not(feature = "hdfs"))]
fn hdfs_url(root: &Location, _: &str, _: &str) -> Result<Url> {
    Err(crate::storage::StorageError::NoHdfs(root.to_string()).into())
}

fn local_url(root: &Path, dir: &str, store: &str, create: bool) -> Result<Url> {
    let path = root.join(dir);
    if create {
        std::fs::create_dir_all(&path).map_err(|source| Error::Write { path: path.display().to_string(), source })?;
    }
    let abs = if path.is_absolute() {
        path
    } else {
        std::env::current_dir().map_err(|source| Error::Open { path: path.clone(), source })?.join(path)
    };
    Url::from_directory_path(&abs).map_err(|_| sync_err(store, format!("cannot make a URL of {}", abs.display())))
}

/// The storage options deltalake opens the tables with: the HDFS client settings
/// (`--hdfs-conf`), which reach hdfs-native as they reach the Parquet sink.
fn delta_options(storage: &StorageOptions) -> Result<HashMap<String, String>> {
    Ok(storage.delta_storage_options()?)
}

/// Opens the table at `url` with `storage`'s settings; the flag says whether there is a
/// Delta table there yet.
async fn open_table(url: &Url, store: &str, storage: &StorageOptions) -> Result<(DeltaTable, bool)> {
    let t = DeltaTable::try_from_url_with_storage_options(url.clone(), delta_options(storage)?)
        .await
        .map_err(delta_err(store, format!("cannot open {url}")))?;
    let exists = t.version().is_some();
    Ok((t, exists))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_locations_are_read_as_every_command_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let url = table_url(dir.path().to_str().unwrap(), "people", true).unwrap();
        assert_eq!(url, Url::from_directory_path(dir.path().join("people")).unwrap());
        assert!(dir.path().join("people").is_dir());
        let e = table_url("s3://bucket/x", "people", false).unwrap_err().to_string();
        assert!(e.contains("only local folders and hdfs://"), "{e}");
        #[cfg(feature = "hdfs")]
        {
            // User-info is dropped, as for every other location.
            let url = table_url("hdfs://alice:pw@nn:8020/data/", "people", false).unwrap();
            assert_eq!(url.as_str(), "hdfs://nn:8020/data/people/");
        }
        #[cfg(not(feature = "hdfs"))]
        {
            let e = table_url("hdfs://nn:8020/data", "people", false).unwrap_err().to_string();
            assert!(e.contains("without HDFS support"), "{e}");
        }
    }
}
