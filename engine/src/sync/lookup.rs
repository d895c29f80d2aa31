//! The rows a push's keys meet in the table: each key's content hash there, and with
//! `--mirror` the keys the input lacks. Both are joins of the table's key column with
//! the push's keys (the small side, which the join builds its hash table from), so the
//! memory they take follows the push, not the table; the table's key and hash columns
//! are streamed, never collected whole. Without `--mirror` only the files whose key
//! statistics can hold a key of the push are read ([`ranges`]), so a push of close keys
//! reads a few files of a large table rather than its whole key column.

use super::ranges;
use super::schema::{HASH, KEY_TEXT};
use super::{delta_err, sync_err};
use crate::error::{Error, Result};
use arrow::array::{Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use deltalake::datafusion::common::JoinType;
use deltalake::datafusion::prelude::{DataFrame, SessionContext};
use deltalake::DeltaTable;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;

/// The name the push's keys go by in the joins (not a column name a table can have:
/// data columns never start with `_idb_`, and this is not one of the hidden ones).
const PUSHED: &str = "_idb_pushed_key";

/// What the table holds for a push's keys.
#[derive(Debug, Default)]
pub(super) struct Existing {
    /// For each key of the push that the table has: its row's content hash (`None` for a
    /// row written without one).
    pub hashes: HashMap<String, Option<String>>,
    /// With `--mirror`: the keys of the table that the push does not have, sorted.
    pub gone: Vec<String>,
}

/// Looks `keys` up in `table` (and, with `mirror`, finds the keys the table has beyond
/// them). `files`: the key range of each data file ([`ranges::file_key_ranges`]).
pub(super) async fn existing_rows(
    table: &DeltaTable,
    files: Option<&[(String, String)]>,
    name: &str,
    keys: &[&str],
    mirror: bool,
) -> Result<Existing> {
    let read = |e: &dyn std::fmt::Display| sync_err(name, format!("cannot read the table's keys: {e}"));
    let ctx = SessionContext::new();
    table.update_datafusion_session(&ctx.state()).map_err(delta_err(name, "cannot read the table"))?;
    let provider = table.table_provider().await.map_err(|e| read(&e))?;
    let mut target =
        ctx.read_table(provider).map_err(|e| read(&e))?.select_columns(&[KEY_TEXT, HASH]).map_err(|e| read(&e))?;
    if !mirror {
        let mut sorted = keys.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let ranges = ranges::key_ranges(&sorted, files);
        target = target.filter(ranges::predicate(&ranges, KEY_TEXT)).map_err(|e| read(&e))?;
    }
    let pushed = pushed_keys(&ctx, keys).map_err(|e| read(&e))?;

    let mut out = Existing::default();
    let found =
        target.clone().join(pushed.clone(), JoinType::LeftSemi, &[KEY_TEXT], &[PUSHED], None).map_err(|e| read(&e))?;
    for_each_pair(found, name, |k, h| {
        out.hashes.insert(k.to_owned(), h.map(str::to_owned));
    })
    .await?;
    if mirror {
        let gone = target.join(pushed, JoinType::LeftAnti, &[KEY_TEXT], &[PUSHED], None).map_err(|e| read(&e))?;
        for_each_pair(gone, name, |k, _| out.gone.push(k.to_owned())).await?;
        out.gone.sort_unstable();
    }
    Ok(out)
}

/// The push's keys as a one-column table.
fn pushed_keys(ctx: &SessionContext, keys: &[&str]) -> deltalake::datafusion::error::Result<DataFrame> {
    let schema = Arc::new(Schema::new(vec![Field::new(PUSHED, DataType::Utf8, false)]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(keys.to_vec()))])?;
    ctx.read_batch(batch)
}

/// Streams the (key, hash) rows of `df` into `f`, a batch at a time.
async fn for_each_pair(df: DataFrame, name: &str, mut f: impl FnMut(&str, Option<&str>)) -> Result<()> {
    let mut stream =
        df.execute_stream().await.map_err(|e| sync_err(name, format!("cannot read the table's keys: {e}")))?;
    while let Some(b) = stream.next().await {
        let b = b.map_err(|e| sync_err(name, format!("cannot read the table's keys: {e}")))?;
        let text = |i: usize, what: &str| {
            arrow::compute::cast(b.column(i), &DataType::Utf8)
                .map_err(|source| Error::Arrow { context: format!("table '{name}': {what}"), source })
        };
        let (k, h) = (text(0, "keys")?, text(1, "hashes")?);
        let (k, h) = (
            k.as_any().downcast_ref::<StringArray>().expect("utf8"),
            h.as_any().downcast_ref::<StringArray>().expect("utf8"),
        );
        for i in 0..k.len() {
            if k.is_valid(i) {
                f(k.value(i), h.is_valid(i).then(|| h.value(i)));
            }
        }
    }
    Ok(())
}
