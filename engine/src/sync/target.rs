//! The table a push merges one store into, as read at one version: whether it exists,
//! its columns, and whether the push's batch is already in it.

use super::key::KeyPath;
use super::partition::{self, Part};
use super::push::PushOptions;
use super::schema;
use super::{delta_err, open_table, sync_err, table_url};
use crate::error::Result;
use arrow_schema::Schema;
use deltalake::kernel::engine::arrow_conversion::TryFromKernel;
use deltalake::DeltaTable;

/// A store's table at the version a push attempt reads.
pub(super) struct Target {
    pub name: String,
    pub table: DeltaTable,
    pub exists: bool,
    pub key: KeyPath,
    /// The Delta schema as Arrow reads it back (hidden columns included).
    pub delta: Option<Schema>,
    /// The batch is already in the table: nothing is to be done.
    pub applied: bool,
    /// How the table is partitioned (for a table to create: as the push asks).
    pub partition: Vec<Part>,
}

/// The app id of `client`'s batches in the tables' `txn` actions.
pub(super) fn app_id(client: &str) -> String {
    format!("idbsync:{client}")
}

/// Opens the table of store `name` under `root` at its latest version, with the storage
/// settings of `opts`. Refuses a table whose key differs from `key`, or whose
/// partitioning differs from the one `opts` names, and a batch older than the last one
/// its client applied.
pub(super) async fn open_target(root: &str, opts: &PushOptions, name: &str, key: KeyPath) -> Result<Target> {
    let batch = opts.batch.as_ref();
    let url = table_url(root, name, true)?;
    let (table, exists) = open_table(&url, name, &opts.storage).await?;
    let given = partition::parse(name, &opts.partition_by)?;
    let mut t = Target { name: name.to_owned(), table, exists, key, delta: None, applied: false, partition: given };
    if !exists {
        return Ok(t);
    }
    let snap = t.table.snapshot().map_err(delta_err(name, "cannot read the table's state"))?;
    let theirs = partition::of_table(name, snap.metadata().configuration(), snap.metadata().partition_columns())?;
    partition::check_same(name, &t.partition, &theirs)?;
    t.partition = theirs;
    if let Some(k) = snap.metadata().configuration().get(schema::PROP_KEY) {
        let theirs: KeyPath = serde_json::from_str(k).map_err(|e| sync_err(name, format!("bad key: {e}")))?;
        if theirs != t.key {
            return Err(sync_err(
                name,
                format!(
                    "the table's key is {}, this push's is {} (pass --key {} or push elsewhere)",
                    theirs.display(),
                    t.key.display(),
                    theirs.display()
                ),
            ));
        }
    }
    let delta = Schema::try_from_kernel(snap.schema().as_ref())
        .map_err(|e| sync_err(name, format!("the table's schema cannot be read: {e}")))?;
    t.delta = Some(delta);
    if let Some((client, seq)) = batch {
        let last = snap
            .transaction_version(t.table.log_store().as_ref(), &app_id(client))
            .await
            .map_err(delta_err(name, "cannot read the applied batches"))?;
        match last {
            Some(v) if v > *seq => {
                return Err(sync_err(
                    name,
                    format!(
                        "batch {seq} of client '{client}' is older than batch {v}, the last one applied \
                         (checkpoint {}): refused",
                        t.table.version().unwrap_or(0)
                    ),
                ))
            }
            Some(v) if v == *seq => t.applied = true,
            _ => {}
        }
    }
    Ok(t)
}
