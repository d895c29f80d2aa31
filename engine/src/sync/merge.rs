//! One attempt at one table: look the push's keys up at the version the attempt read,
//! decide what each record does, and commit it (creating the table first when missing).
//! A commit that loses to another writer's ends the attempt as [`Attempt::Lost`], for
//! the caller to start over against the table's new version.

use super::layout;
use super::lookup::{existing_rows, Existing};
use super::once;
use super::partition;
use super::progress::PushStage;
use super::push::{Decoded, PushOptions, PushStatus, TablePush, MAX_REJECTS_LISTED};
use super::ranges;
use super::retry::is_conflict;
use super::schema::{self, delta_column, HASH, KEY_TEXT};
use super::target::{app_id, Target};
use super::{delta_err, sync_err};
use crate::error::{Error, Result};
use arrow::array::{
    new_null_array, Array, ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray, UInt32Array,
};
use arrow_schema::{Field, FieldRef, Schema};
use deltalake::datafusion::prelude::{col, SessionContext};
use deltalake::datafusion::{common::Column, logical_expr::Expr};
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{StructField, Transaction};
use deltalake::operations::merge::MergeBuilder;
use deltalake::protocol::{DeltaOperation, OutputMode};
use deltalake::{DeltaResult, DeltaTable, DeltaTableError, TableProperty};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// What one attempt at a table did.
pub(super) enum Attempt {
    /// Done: committed, nothing to change, or the batch was there already.
    Done(Box<TablePush>),
    /// Another writer committed first in a way that conflicts: to be redone against the
    /// table's new version. `created`: this attempt created the table before it lost.
    Lost { source: Box<DeltaTableError>, created: bool },
}

/// A row to write: its key text, content hash (`None`: a delete) and row in the decoded batch.
pub(super) type Row = (String, Option<String>, Option<u32>);

/// Applies the decoded records `d` to the table `t` as read at its version.
pub(super) async fn apply(t: &Target, d: &mut Decoded, opts: &PushOptions) -> Result<Attempt> {
    let name = t.name.as_str();
    let mut report = new_report(t, d);
    if t.applied {
        report.unchanged = d.read - d.rejected;
        report.status = PushStatus::AlreadyApplied;
        return Ok(Attempt::Done(Box::new(report)));
    }
    apply_rows(t, d, opts, report, name).await
}

/// The report of an attempt at `t` before anything is counted.
pub(super) fn new_report(t: &Target, d: &Decoded) -> TablePush {
    TablePush {
        table: t.name.clone(),
        location: t.table.table_url().to_string(),
        read: d.read,
        upserted: 0,
        deleted: 0,
        unchanged: 0,
        rejected: d.rejected,
        superseded: 0,
        mirror_deleted: 0,
        new_columns: Vec::new(),
        widened_columns: Vec::new(),
        rewritten: 0,
        created: false,
        files_read: 0,
        files_rewritten: 0,
        status: PushStatus::NoChange,
        checkpoint: t.table.version().map_or(-1, |v| v as i64),
        attempts: 1,
        rejects: d.rejects.iter().take(MAX_REJECTS_LISTED).cloned().collect(),
        rejects_file: None,
    }
}

/// [`apply`] of a batch not yet in the table: plan the records against the rows there,
/// create the table when missing, and merge.
async fn apply_rows(
    t: &Target,
    d: &mut Decoded,
    opts: &PushOptions,
    mut report: TablePush,
    name: &str,
) -> Result<Attempt> {
    if t.exists {
        opts.progress.report(|| PushStage::LookingUp { table: name.to_owned() });
    }
    // The key range of each data file, read once from the table's statistics: the look-up
    // and the merge both read only the files their keys can meet.
    let files = ranges::file_key_ranges(&t.table);
    // The rows there now, for the keys of this push (all of them with --mirror).
    let existing = if t.exists {
        let keys: Vec<&str> = d.recs.iter().map(|r| r.key.as_str()).collect();
        existing_rows(&t.table, files.as_deref(), name, &keys, opts.mirror).await?
    } else {
        Existing::default()
    };
    let rows = plan(d, &existing, opts.mirror, &mut report);
    drop(existing);
    let (source, names, create_columns) = source_rows(t, d, &rows, opts)?;
    // The source holds the rows to merge now: let the decoded input and the plan go
    // (a retry decodes again), keeping only the key ranges the merge reads.
    d.release();
    let ranges = ranges::key_ranges(&rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), files.as_deref());
    let any_rows = !rows.is_empty();
    drop(rows);
    if t.exists {
        report.new_columns = create_columns.iter().map(|c| c.name().clone()).collect();
    }
    let (source, names) = partition::with_day(name, &t.partition, source, names)?;
    let commit = commit_properties(report.read, opts, Vec::new());
    let lost = |e: DeltaTableError, created| Ok(Attempt::Lost { source: Box::new(e), created });

    let mut table = t.table.clone();
    if !t.exists {
        // The batch goes with the creation only when there are no rows to merge after it.
        let with = if any_rows { CommitProperties::default() } else { commit.clone() };
        opts.progress.report(|| PushStage::Creating { table: name.to_owned() });
        let create_columns = partition::creation_columns(name, &t.partition, create_columns)?;
        table = match create_table(t, &d.meta, create_columns, with).await {
            Ok(table) => table,
            // Another writer created the table first: start over against theirs.
            Err(e) if t.table.log_store().is_delta_table_location().await.unwrap_or(false) => return lost(e, false),
            Err(e) => return Err(delta_err(name, "cannot create the table")(e)),
        };
        report.created = true;
        report.checkpoint = table.version().map_or(0, |v| v as i64);
        if !any_rows {
            report.status = PushStatus::Committed;
            return Ok(Attempt::Done(Box::new(report)));
        }
    }
    if !any_rows {
        // Nothing to merge. With a batch id the batch must still count as applied (a merge
        // that changes nothing makes no commit, so it would not be recorded, and the same
        // batch pushed again would be merged again).
        if let Some((client, seq)) = &opts.batch {
            match record_batch(&table, client, *seq, commit).await {
                Ok(v) => report.checkpoint = v,
                Err(e) if is_conflict(&e) => return lost(e, report.created),
                Err(e) => return Err(delta_err(name, "cannot record the batch")(e)),
            }
            report.status = PushStatus::Committed;
        }
        return Ok(Attempt::Done(Box::new(report)));
    }
    let before = table.version();
    let batch_commit = opts.batch.as_ref().map(|_| commit.clone());
    let merge_schema = !report.new_columns.is_empty();
    let (upserts, deletes) = (report.upserted, report.deleted + report.mirror_deleted);
    opts.progress.report(|| PushStage::Merging { table: name.to_owned(), upserts, deletes });
    let (table, metrics) = match merge(table, source, &names, commit, merge_schema, &ranges, name)?.await {
        Ok(done) => done,
        Err(e) if is_conflict(&e) => return lost(e, report.created),
        Err(e) => return Err(delta_err(name, "the merge failed")(e)),
    };
    report.files_read = metrics.num_target_files_scanned as u64;
    report.files_rewritten = metrics.num_target_files_removed as u64;
    let changed = (metrics.num_target_rows_inserted + metrics.num_target_rows_updated) as u64;
    let removed = metrics.num_target_rows_deleted as u64;
    if changed != report.upserted || removed != report.deleted + report.mirror_deleted {
        // The merge read the version the look-up read, so this is not expected; if its
        // counts differ, they are what happened.
        report.upserted = changed;
        report.deleted = removed.saturating_sub(report.mirror_deleted);
        report.unchanged = report.read - report.rejected - report.upserted - report.deleted.min(report.read);
    }
    if table.version() == before {
        // The merge changed nothing (not expected either: every row merged differs).
        match (&opts.batch, batch_commit) {
            (Some((client, seq)), Some(commit)) => {
                match record_batch(&table, client, *seq, commit).await {
                    Ok(v) => report.checkpoint = v,
                    Err(e) if is_conflict(&e) => return lost(e, report.created),
                    Err(e) => return Err(delta_err(name, "cannot record the batch")(e)),
                }
                report.status = PushStatus::Committed;
            }
            _ => report.status = PushStatus::NoChange,
        }
        return Ok(Attempt::Done(Box::new(report)));
    }
    report.status = PushStatus::Committed;
    report.checkpoint = table.version().map_or(0, |v| v as i64);
    Ok(Attempt::Done(Box::new(report)))
}

/// What each record does, given the rows there now: the last record of each key wins; a
/// record equal to its row, or a delete of a key not there, changes nothing. Counts go
/// into `report`.
pub(super) fn plan(d: &Decoded, existing: &Existing, mirror: bool, report: &mut TablePush) -> Vec<Row> {
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, r) in d.recs.iter().enumerate() {
        last.insert(&r.key, i);
    }
    report.superseded = (d.recs.len() - last.len()) as u64;
    let mut rows: Vec<Row> = Vec::new();
    let mut unchanged = report.superseded;
    for (i, r) in d.recs.iter().enumerate() {
        if last[r.key.as_str()] != i {
            continue;
        }
        match (&r.hash, existing.hashes.get(&r.key)) {
            (None, Some(_)) => {
                report.deleted += 1;
                rows.push((r.key.clone(), None, None));
            }
            (None, None) => unchanged += 1,
            (Some(h), Some(Some(old))) if h == old => unchanged += 1,
            (Some(h), _) => {
                report.upserted += 1;
                rows.push((r.key.clone(), Some(h.clone()), r.row));
            }
        }
    }
    if mirror {
        report.mirror_deleted = existing.gone.len() as u64;
        rows.extend(existing.gone.iter().map(|k| (k.clone(), None, None)));
    }
    report.unchanged = unchanged;
    // In key order: a merge writes the rows it inserts in this order, so a file's keys
    // span a narrow range, which later merges skip files by (see `ranges`).
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    debug_assert_eq!(report.read, report.upserted + report.deleted + report.unchanged + report.rejected);
    rows
}

/// The rows to merge: the data columns (the table's, then new ones), then the hidden ones;
/// with the names of all of them, and the Delta columns of a table to create (or the new
/// ones of a table that exists).
pub(super) fn source_rows(
    t: &Target,
    d: &Decoded,
    rows: &[Row],
    opts: &PushOptions,
) -> Result<(RecordBatch, Vec<String>, Vec<StructField>)> {
    let name = t.name.as_str();
    let data = &d.batch;
    let mut fields: Vec<FieldRef> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    let mut create_columns = Vec::new();
    let take = UInt32Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>());
    let table_data: Vec<Field> = t
        .delta
        .as_ref()
        .map(|s| s.fields().iter().filter(|f| !schema::is_hidden(f.name())).map(|f| f.as_ref().clone()).collect())
        .unwrap_or_default();
    let mut names: Vec<String> = table_data.iter().map(|f| f.name().clone()).collect();
    for f in data.schema().fields() {
        if f.name() != "_deleted" && !names.contains(f.name()) && !schema::is_hidden(f.name()) {
            names.push(f.name().clone());
        }
    }
    for n in &names {
        let target: Field = match table_data.iter().find(|f| f.name() == n) {
            Some(f) => f.clone(),
            None => {
                let mut inferred = data.schema().field_with_name(n).expect("batch field").clone();
                if t.exists {
                    inferred = absent_before(inferred);
                }
                let (sf, back) = delta_column(name, &inferred)?;
                create_columns.push(sf);
                back
            }
        };
        let col = match data.schema().index_of(n) {
            Ok(i) => {
                let picked = arrow::compute::take(data.column(i), &take, None)
                    .map_err(|source| Error::Arrow { context: format!("table '{name}': column '{n}'"), source })?;
                cast_to(&picked, target.data_type(), name, n)?
            }
            Err(_) => new_null_array(target.data_type(), rows.len()),
        };
        fields.push(Arc::new(target));
        columns.push(col);
    }
    let now = now_micros();
    for (i, h) in schema::hidden_fields().into_iter().enumerate() {
        let n = rows.len();
        let col: ArrayRef = match i {
            0 => Arc::new(StringArray::from(rows.iter().map(|r| Some(r.0.as_str())).collect::<Vec<_>>())),
            1 => Arc::new(StringArray::from(rows.iter().map(|r| r.1.as_deref()).collect::<Vec<_>>())),
            2 => Arc::new(StringArray::from(vec![opts.batch.as_ref().map(|b| b.0.as_str()); n])),
            3 => Arc::new(Int64Array::from(vec![opts.batch.as_ref().map(|b| b.1); n])),
            _ => Arc::new(TimestampMicrosecondArray::from(vec![now; n]).with_timezone("UTC")),
        };
        if !t.exists {
            create_columns.push(delta_column(name, &h)?.0);
        }
        fields.push(h);
        columns.push(col);
    }
    let source = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|source| Error::Arrow { context: format!("table '{name}': the rows to merge"), source })?;
    let all = names.into_iter().chain(schema::HIDDEN.iter().map(|s| (*s).to_owned())).collect();
    Ok((source, all, create_columns))
}

pub(super) fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// The commit's metadata (with `extra` entries), and with a batch id its `txn` action.
pub(super) fn commit_properties(read: u64, opts: &PushOptions, extra: Vec<(String, Value)>) -> CommitProperties {
    let mut meta =
        vec![("idbsync.operation".to_owned(), Value::from("push")), ("idbsync.records".to_owned(), Value::from(read))];
    meta.extend(extra);
    let mut commit = CommitProperties::default();
    if let Some((client, seq)) = &opts.batch {
        commit = commit.with_application_transaction(Transaction::new(app_id(client), *seq));
        meta.push(("idbsync.client".to_owned(), Value::from(client.as_str())));
        meta.push(("idbsync.batch".to_owned(), Value::from(*seq)));
    }
    // One call: each `with_metadata` replaces what an earlier one set.
    commit.with_metadata(meta)
}

/// Creates the table of `t` (version 0, no rows) with `columns`, the change data feed on
/// and the store's metadata `meta` in its properties.
pub(super) async fn create_table(
    t: &Target,
    meta: &HashMap<String, String>,
    columns: Vec<StructField>,
    commit: CommitProperties,
) -> DeltaResult<DeltaTable> {
    let mut config: Vec<(String, Option<String>)> = vec![
        (TableProperty::EnableChangeDataFeed.as_ref().to_owned(), Some("true".to_owned())),
        (TableProperty::TargetFileSize.as_ref().to_owned(), Some(layout::TARGET_FILE_BYTES.to_string())),
        (schema::PROP_SCHEMA_METADATA.to_owned(), Some(serde_json::to_string(meta).expect("map"))),
        (schema::PROP_KEY.to_owned(), Some(serde_json::to_string(&t.key).expect("key"))),
        (schema::PROP_STORE.to_owned(), Some(t.name.clone())),
    ];
    config.extend(partition::property(&t.partition));
    t.table
        .clone()
        .create()
        .with_columns(columns)
        .with_partition_columns(partition::columns(&t.partition))
        .with_configuration(config)
        .with_raise_if_key_not_exists(false)
        // Version 0 or nothing. With retries, deltalake 1.1 commits a creation that lost
        // the race for version 0 as a later version, unchecked: a second Create whose
        // metadata (columns, key, properties) replaces the winner's.
        .with_commit_properties(commit.with_max_retries(0))
        .await
}

/// The MERGE of `source` into `table` by `_idb_key`: a matched row whose source has no
/// hash is deleted, other matched rows are updated, new keys with a hash are inserted.
/// Planning errors are the engine's; the merge's own (a lost commit among them) are
/// deltalake's, for the caller to tell apart.
fn merge(
    table: DeltaTable,
    source: RecordBatch,
    names: &[String],
    commit: CommitProperties,
    merge_schema: bool,
    ranges: &[(String, String)],
    name: &str,
) -> Result<MergeBuilder> {
    let ctx = SessionContext::new();
    let df =
        once::read_once(&ctx, source).map_err(|e| sync_err(name, format!("cannot read the rows to merge: {e}")))?;
    let target_col = |n: &str| Column::new_unqualified(n);
    let source_col = |n: &str| Expr::Column(Column::new(Some("source"), n));
    let builder = table
        .merge(
            df,
            col(format!("target.{KEY_TEXT}"))
                .eq(col(format!("source.{KEY_TEXT}")))
                .and(ranges::predicate(ranges, &format!("target.{KEY_TEXT}"))),
        )
        .with_source_alias("source")
        .with_target_alias("target")
        .with_merge_schema(merge_schema)
        // The source can be read once ([`once`]): the merge must not read it twice.
        .with_streaming(true)
        .with_writer_properties(layout::writer_properties())
        .with_session_state(layout::merge_session(name)?)
        .with_commit_properties(commit)
        .when_matched_delete(|d| d.predicate(col(format!("source.{HASH}")).is_null()))
        .and_then(|m| {
            m.when_matched_update(|mut u| {
                for n in names {
                    u = u.update(target_col(n), source_col(n));
                }
                u
            })
        })
        .and_then(|m| {
            m.when_not_matched_insert(|mut ins| {
                ins = ins.predicate(col(format!("source.{HASH}")).is_not_null());
                for n in names {
                    ins = ins.set(target_col(n), source_col(n));
                }
                ins
            })
        })
        .map_err(delta_err(name, "cannot plan the merge"))?;
    Ok(builder)
}

/// A column added to a table that has rows: those rows lack the field, so a null there
/// stands for an absent key (`idb.nulls`), unless this push's records hold other kinds of
/// "no value" too (then nulls stay as inferred: a documented limit).
fn absent_before(f: Field) -> Field {
    let mut meta = f.metadata().clone();
    match meta.get(schema_infer::META_NULLS).map(String::as_str) {
        None | Some("") | Some("absent") => {
            meta.insert(schema_infer::META_NULLS.to_owned(), "absent".to_owned());
            f.with_metadata(meta)
        }
        Some(_) => f,
    }
}

/// Records batch `seq` of `client` as applied to `table` in a commit of its own that
/// changes no data (Delta's `txn` action, as a streaming writer records an empty
/// micro-batch), and gives the new table version. For a batch that changed nothing:
/// deltalake makes no commit for a merge without changes.
pub(super) async fn record_batch(
    table: &DeltaTable,
    client: &str,
    seq: i64,
    commit: CommitProperties,
) -> DeltaResult<i64> {
    let operation =
        DeltaOperation::StreamingUpdate { output_mode: OutputMode::Append, query_id: app_id(client), epoch_id: seq };
    let done = CommitBuilder::from(commit).build(Some(table.snapshot()?), table.log_store(), operation).await?;
    Ok(done.version() as i64)
}

pub(super) fn cast_to(a: &ArrayRef, to: &arrow_schema::DataType, table: &str, column: &str) -> Result<ArrayRef> {
    if a.data_type() == to {
        return Ok(a.clone());
    }
    let o = arrow::compute::CastOptions { safe: false, ..Default::default() };
    arrow::compute::cast_with_options(a, to, &o).map_err(|source| Error::Arrow {
        context: format!("table '{table}': column '{column}' ({}) cannot be stored as {to}", a.data_type()),
        source,
    })
}
