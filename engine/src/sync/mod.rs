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

mod key;
mod pull;
mod push;
mod schema;

pub use key::KeyPath;
pub use pull::{pull, PullFormat, PullOptions, PullReport};
pub use push::{push, PushOptions, PushReport, PushStatus, TablePush};

use crate::error::{Error, Result};
use deltalake::DeltaTable;
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

/// The URL of the table of `store` under `root` (a local folder or a URL). With
/// `create`, a local table folder is made when missing (deltalake opens only folders
/// that exist).
fn table_url(root: &str, store: &str, create: bool) -> Result<Url> {
    static HANDLERS: std::sync::Once = std::sync::Once::new();
    HANDLERS.call_once(|| deltalake::hdfs::register_handlers(None));
    let dir = crate::partition::store_dir_name(store);
    if root.contains("://") {
        let mut base = Url::parse(root).map_err(|e| sync_err(store, format!("'{root}' is not a URL: {e}")))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        if base.scheme() == "file" {
            let p = base.to_file_path().map_err(|_| sync_err(store, format!("'{root}' is not a local path")))?;
            return local_url(&p, &dir, store, create);
        }
        return base.join(&format!("{dir}/")).map_err(|e| sync_err(store, format!("bad table URL: {e}")));
    }
    local_url(Path::new(root), &dir, store, create)
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

/// Opens the table at `url`; `None` when there is no Delta table there yet.
async fn open_table(url: &Url, store: &str) -> Result<(DeltaTable, bool)> {
    let t = DeltaTable::try_from_url(url.clone()).await.map_err(delta_err(store, format!("cannot open {url}")))?;
    let exists = t.version().is_some();
    Ok((t, exists))
}
