//! Widening a synced table's columns when a push's values do not fit them, as `convert`
//! would have typed the columns had it seen the table's rows and the push's records at
//! once: a lossless widening (Int64 → Float64 when every integer is exact), else the
//! JSON-text column (Arrow extension `arrow.json`, typeson encapsulation kept).
//!
//! How: the table's current rows are written out as Dexie export rows (their values and
//! typeson `$types`, as `pull --format dexie` writes them) and inferred together with the
//! push's records of the store, with every column pinned to the table's type except those
//! where the push's records were inferred otherwise. The columns whose type changes are
//! the widened ones. The table's rows are decoded again against the new columns (each
//! must fit: else [`Error::Widen`] and nothing changes), the push's records are decoded
//! against them too and planned as in a merge, and the table's new state (its rows with
//! their hidden columns as they were, minus the keys the push deletes or replaces, plus
//! the push's rows) is written as new files and committed in ONE commit that also sets
//! the new schema and removes every old file: readers see the table before the push or
//! after it, never in between. The commit is a Delta `MERGE` without a predicate (it
//! read the whole table) and is made with deltalake's commit retries off, so any commit
//! another writer got in first makes this attempt [`Attempt::Lost`] and the push starts
//! over against the new version. The commit records its own version in the table
//! property `idbsync.widened_at` ([`PROP_WIDENED_AT`]), which `pull --since` reads.
//!
//! Cost: the whole table is read into memory and rewritten once per push that changes a
//! column's type; later pushes whose values fit merge as usual.

use super::lookup::Existing;
use super::merge::{cast_to, commit_properties, new_report, plan, source_rows, Attempt};
use super::pull::{declare_key_of, restore};
use super::push::{decode, infer, Decoded, Job, WidenedColumn};
use super::retry::is_conflict;
use super::schema::{
    delta_column, hidden_fields, is_hidden, original_schema, same_type, table_properties, type_name, HASH, KEY_TEXT,
    PROP_WIDENED_AT,
};
use super::target::Target;
use super::{delta_err, sync_err};
use crate::error::{Error, Result};
use crate::input::decode::{Decoder, Reject};
use crate::ops::convert::RejectRecord;
use crate::ops::download::{DownloadFormat, DownloadOptions, DownloadWriter};
use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef};
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, MetadataExt, StructType};
use deltalake::protocol::DeltaOperation;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use schema_infer::{Format, InferOptions, InferResult, OnConflict, Splitter, StoreSchema, KEY_COLUMN, NULLS_COLUMN};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Whether a push attempt at `t` should widen its columns: the table exists, the batch is
/// not already in it, some records did not fit its columns, and type conflicts are not
/// asked to be errors (`--on-conflict error`: those records stay rejects). A partitioned
/// table is not rewritten (its files would have to be written per partition): there the
/// records that do not fit stay rejects, a documented limit.
pub(super) fn needed(t: &Target, d: &Decoded, infer: &InferOptions) -> bool {
    t.exists && !t.applied && d.misfits > 0 && infer.on_conflict() != OnConflict::Error && t.partition.is_empty()
}

/// One attempt at `t` that widens the columns the push's records need and applies the
/// records, in one commit. `None` when no column's type would change (the records that
/// did not fit stay rejects: the caller merges as usual); otherwise the attempt's outcome
/// and every record still rejected.
pub(super) async fn apply(job: &Job<'_>, t: &Target) -> Result<Option<(Attempt, Option<Vec<RejectRecord>>)>> {
    let name = t.name.as_str();
    let Some(delta) = &t.delta else { return Ok(None) };
    let Some(inferred) = job.first.store(name) else { return Ok(None) };
    let snap = t.table.snapshot().map_err(delta_err(name, "cannot read the table's state"))?;
    let (_, meta) = table_properties(snap.metadata().configuration());
    let old_schema = original_schema(delta, meta);

    // The columns the push's records were inferred otherwise: inferred again below.
    let loose: HashSet<String> = old_schema
        .fields()
        .iter()
        .filter(|f| f.name() != KEY_COLUMN && f.name() != NULLS_COLUMN)
        .filter(|f| inferred.schema.field_with_name(f.name()).is_ok_and(|g| !same_type(f, g)))
        .map(|f| f.name().clone())
        .collect();
    if loose.is_empty() {
        return Ok(None);
    }

    let old = read_rows(t).await?;
    let old_data = restore(&old, &old_schema, name)?;
    let old_text = as_dexie_rows(&old_data, &old_schema, t)?;
    let table_path = PathBuf::from(t.table.table_url().to_string());
    let old_rows = record_ranges(&old_text, Format::Dexie, name, name, &table_path)?;
    if old_rows.len() != old.num_rows() {
        return Err(sync_err(
            name,
            format!("the table's {} rows were written out as {} records", old.num_rows(), old_rows.len()),
        ));
    }
    let body = job.body.text()?;
    let new_recs = record_ranges(&body, job.first.format, job.store_name, name, job.input)?;

    // Convert's inference over the table's rows and the push's records together.
    let rows = old_rows.iter().map(|&(s, e)| &old_text[s..e]).chain(new_recs.iter().map(|&(s, e)| &body[s..e]));
    let joint_text = dexie_doc(name, &old_schema, t, rows);
    let pinned = Schema::new_with_metadata(
        old_schema.fields().iter().filter(|f| !loose.contains(f.name())).cloned().collect::<Vec<FieldRef>>(),
        old_schema.metadata().clone(),
    );
    let doc =
        InferResult { format: Format::Dexie, database: None, bytes: 0, stores: vec![store(name, Arc::new(pinned))] };
    let opts = job.infer_opts.clone().with_format(Some(Format::Dexie)).with_pinned(Some(doc));
    let joint = infer(&joint_text, opts, &table_path)?;
    let joint = joint.store(name).ok_or_else(|| sync_err(name, "the joint inference lost the store"))?;

    // The table's columns (some widened), then the push's new ones.
    let mut fields: Vec<FieldRef> = Vec::new();
    let mut widened = Vec::new();
    for f in old_schema.fields() {
        match joint.schema.field_with_name(f.name()) {
            Ok(j) if loose.contains(f.name()) && !same_type(f, j) => {
                // The first value (of the push's records: the table's rows come first and
                // fit) that widened the column or a field inside it.
                let inside =
                    |p: &str| p == f.name() || p.strip_prefix(f.name().as_str()).is_some_and(|r| r.starts_with('.'));
                let first = joint.widenings.iter().filter(|w| inside(&w.path)).min_by_key(|w| w.record);
                widened.push(WidenedColumn {
                    column: f.name().clone(),
                    from: type_name(f),
                    to: type_name(j),
                    cause: first.map(|w| format!("{}: {} then {} ({})", w.path, w.from, w.cause, w.to)),
                    record: first.and_then(|w| w.record.checked_sub(old_rows.len() as u64)),
                });
                fields.push(Arc::new(j.clone()));
            }
            _ => fields.push(f.clone()),
        }
    }
    if widened.is_empty() {
        return Ok(None);
    }
    let mut new_columns = Vec::new();
    for j in joint.schema.fields() {
        // `_deleted` marks the push's deletes: never a column (as in a merge).
        if !is_hidden(j.name()) && j.name() != "_deleted" && old_schema.field_with_name(j.name()).is_err() {
            new_columns.push(j.name().clone());
            fields.push(j.clone());
        }
    }
    let schema: SchemaRef = Arc::new(Schema::new_with_metadata(fields, old_schema.metadata().clone()));

    // The table's rows under the new columns: each must fit.
    let mut dec = Decoder::new(schema.clone());
    for (i, &(s, e)) in old_rows.iter().enumerate() {
        if let Err(Reject { reason, .. }) = dec.push(&old_text[s..e]) {
            return Err(Error::Widen { table: name.to_owned(), row: i as u64, reason });
        }
    }
    let old_values = dec.finish();
    // The push's records under the new columns.
    let doc = InferResult {
        format: job.first.format,
        database: job.first.database.clone(),
        bytes: 0,
        stores: vec![store(name, schema.clone())],
    };
    let d2 = decode(&job.body.text()?, job.input, &doc, job.store_name, std::slice::from_ref(t))?
        .pop()
        .ok_or_else(|| sync_err(name, "the push's records were not decoded"))?;

    // What each record does, against the rows there (their keys and hashes).
    let keys = text_column(&old, KEY_TEXT, name)?;
    let hashes = text_column(&old, HASH, name)?;
    let mut existing = Existing {
        hashes: (0..keys.len())
            .filter(|&i| keys.is_valid(i))
            .map(|i| (keys.value(i).to_owned(), hashes.is_valid(i).then(|| hashes.value(i).to_owned())))
            .collect(),
        gone: Vec::new(),
    };
    if job.opts.mirror {
        let pushed: HashSet<&str> = d2.recs.iter().map(|r| r.key.as_str()).collect();
        existing.gone = existing.hashes.keys().filter(|k| !pushed.contains(k.as_str())).cloned().collect();
        existing.gone.sort_unstable();
    }
    let mut report = new_report(t, &d2);
    let planned = plan(&d2, &existing, job.opts.mirror, &mut report);

    // The new table: Delta columns for the new schema, then the hidden ones.
    let mut struct_fields = Vec::new();
    let mut back_fields: Vec<Field> = Vec::new();
    for f in
        schema.fields().iter().map(|f| f.as_ref().clone()).chain(hidden_fields().iter().map(|h| h.as_ref().clone()))
    {
        let (sf, back) = delta_column(name, &f)?;
        struct_fields.push(sf);
        back_fields.push(back);
    }
    let merged_target = Target {
        name: t.name.clone(),
        table: t.table.clone(),
        exists: true,
        key: t.key.clone(),
        delta: Some(Schema::new(back_fields)),
        applied: false,
        partition: Vec::new(),
    };
    let (source, _, _) = source_rows(&merged_target, &d2, &planned, job.opts)?;
    report.new_columns = new_columns;

    // The rows kept: those whose key the push does not write or delete.
    let touched: HashSet<&str> = planned.iter().map(|r| r.0.as_str()).collect();
    let keep: BooleanArray =
        (0..keys.len()).map(|i| Some(!(keys.is_valid(i) && touched.contains(keys.value(i))))).collect();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for f in source.schema().fields() {
        let c = if is_hidden(f.name()) {
            old.column_by_name(f.name())
                .ok_or_else(|| sync_err(name, format!("the table has no column {}", f.name())))?
        } else {
            old_values.column_by_name(f.name()).ok_or_else(|| sync_err(name, format!("no column '{}'", f.name())))?
        };
        cols.push(cast_to(c, f.data_type(), name, f.name())?);
    }
    let arrow_err = |context: &str| {
        let context = format!("table '{name}': {context}");
        move |source| Error::Arrow { context, source }
    };
    let all_old = RecordBatch::try_new(source.schema(), cols).map_err(arrow_err("the table's rows re-encoded"))?;
    let kept = arrow::compute::filter_record_batch(&all_old, &keep).map_err(arrow_err("the rows kept"))?;
    let hash_col = source.column_by_name(HASH).ok_or_else(|| sync_err(name, "no hash column"))?;
    let is_upsert = arrow::compute::is_not_null(hash_col).map_err(arrow_err("the rows written"))?;
    let upserts = arrow::compute::filter_record_batch(&source, &is_upsert).map_err(arrow_err("the rows written"))?;
    let inserted = planned.iter().filter(|r| r.1.is_some() && !existing.hashes.contains_key(&r.0)).count() as u64;
    let rewritten = kept.num_rows() as u64;

    // New files, then one commit: the new schema, every old file removed, the new ones.
    let storage = Some(super::delta_options(&job.opts.storage)?);
    let mut writer = RecordBatchWriter::try_new(t.table.table_url().as_str(), source.schema(), None, storage)
        .map_err(delta_err(name, "cannot write the widened table"))?
        .with_writer_properties(super::layout::writer_properties());
    for b in [kept, upserts] {
        if b.num_rows() > 0 {
            writer.write(b).await.map_err(delta_err(name, "cannot write the widened table"))?;
        }
    }
    let adds = writer.flush().await.map_err(delta_err(name, "cannot write the widened table"))?;
    let version = t.table.version().map_or(0, |v| v as i64) + 1;
    let struct_type =
        StructType::try_new(struct_fields).map_err(|e| delta_err(name, "the widened schema")(e.into()))?;
    let metadata = snap
        .metadata()
        .clone()
        .with_schema(&struct_type)
        .and_then(|m| m.add_config_key(PROP_WIDENED_AT.to_owned(), version.to_string()))
        .map_err(|e| delta_err(name, "the widened schema")(e.into()))?;
    let mut actions = vec![Action::Metadata(metadata)];
    actions.extend(snap.log_data().into_iter().map(|f| Action::Remove(f.remove_action(true))));
    actions.extend(adds.into_iter().map(Action::Add));
    let metrics = json!({
        "num_target_rows_inserted": inserted,
        "num_target_rows_updated": report.upserted - inserted,
        "num_target_rows_deleted": report.deleted + report.mirror_deleted,
        "num_target_rows_copied": rewritten,
    });
    let widened_names: Vec<Value> = widened.iter().map(|w| Value::from(w.column.as_str())).collect();
    let extra =
        vec![("idbsync.widened".to_owned(), Value::Array(widened_names)), ("operationMetrics".to_owned(), metrics)];
    // No retries: any commit another writer got in first (even one that changed no
    // data) makes this attempt lost, so the rewrite never replaces rows it did not read
    // and `idbsync.widened_at` is this commit's version.
    let commit = commit_properties(report.read, job.opts, extra).with_max_retries(0);
    let operation = DeltaOperation::Merge {
        predicate: None,
        merge_predicate: Some(format!("target.{KEY_TEXT} = source.{KEY_TEXT}")),
        matched_predicates: Vec::new(),
        not_matched_predicates: Vec::new(),
        not_matched_by_source_predicates: Vec::new(),
    };
    let done =
        CommitBuilder::from(commit).with_actions(actions).build(Some(snap), t.table.log_store(), operation).await;
    let done = match done {
        Ok(done) => done,
        Err(e) if is_conflict(&e) => {
            return Ok(Some((Attempt::Lost { source: Box::new(e), created: false }, None)));
        }
        Err(e) => return Err(delta_err(name, "cannot commit the widened table")(e)),
    };
    report.checkpoint = done.version() as i64;
    report.status = super::push::PushStatus::Committed;
    report.widened_columns = widened;
    report.rewritten = rewritten;
    Ok(Some((Attempt::Done(Box::new(report)), Some(d2.rejects))))
}

/// A store entry of a schema document (for pinning, or for decoding).
fn store(name: &str, schema: SchemaRef) -> StoreSchema {
    StoreSchema {
        name: name.to_owned(),
        rows: 0,
        invalid: 0,
        issues: Vec::new(),
        widenings: Vec::new(),
        warnings: Vec::new(),
        schema,
    }
}

/// Every row of the table at the version `t` read, all columns, in one batch.
async fn read_rows(t: &Target) -> Result<RecordBatch> {
    let name = t.name.as_str();
    let read_err = |e: deltalake::datafusion::error::DataFusionError| sync_err(name, format!("cannot read: {e}"));
    let ctx = SessionContext::new();
    t.table.update_datafusion_session(&ctx.state()).map_err(delta_err(name, "cannot read the table"))?;
    let provider = t.table.table_provider().await.map_err(|e| sync_err(name, format!("cannot read: {e}")))?;
    let df = ctx.read_table(provider).map_err(read_err)?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await.map_err(read_err)?;
    arrow::compute::concat_batches(&schema, &batches)
        .map_err(|source| Error::Arrow { context: format!("table '{name}': reading the rows"), source })
}

/// The table's rows `data` (its data columns as inferred) as a Dexie export of one table,
/// each row with its typeson `$types`, as `pull --format dexie` writes them.
fn as_dexie_rows(data: &RecordBatch, schema: &SchemaRef, t: &Target) -> Result<Vec<u8>> {
    let dl = DownloadOptions::new()
        .with_table_name(t.name.clone())
        .with_row_count(Some(data.num_rows() as u64))
        .with_max_string(usize::MAX);
    let dl = declare_key_of(dl, schema, &t.key);
    let mut text = Vec::new();
    let mut w = DownloadWriter::new(DownloadFormat::Dexie, schema.clone(), &dl, &mut text)?;
    w.write(data)?;
    w.finish()?;
    Ok(text)
}

/// The byte ranges of the records of store `want` in `body` (read as `format`, with
/// `single` the store name of single-store formats).
fn record_ranges(body: &[u8], format: Format, single: &str, want: &str, path: &Path) -> Result<Vec<(usize, usize)>> {
    let mut sp = Splitter::new(format, single);
    let mut pieces = Vec::new();
    sp.split(body, 0, true, &mut pieces).map_err(|e| Error::Infer { path: path.to_owned(), source: Box::new(e) })?;
    let sid = sp.stores.iter().position(|d| d.name == want);
    let mut out = Vec::new();
    for p in &pieces {
        p.for_each_record(body, |s, start, end, _| {
            if Some(s as usize) == sid {
                out.push((start, end));
            }
        });
    }
    Ok(out)
}

/// A Dexie export of one table `name` holding `rows` (Dexie export rows: objects with
/// their `$types`, or out-of-line `[key, value]` rows), declared as the table's store is.
fn dexie_doc<'a>(name: &str, schema: &Schema, t: &Target, rows: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let declared = declare_key_of(DownloadOptions::new(), schema, &t.key);
    let meta = schema.metadata();
    let dexie_schema = declared
        .dexie_schema
        .clone()
        .or_else(|| meta.get(schema_infer::META_DEXIE_SCHEMA).cloned())
        .unwrap_or_default();
    let inbound = declared
        .inbound
        .or_else(|| meta.get(schema_infer::META_INBOUND).and_then(|v| v.parse().ok()))
        .unwrap_or_else(|| schema_infer::KeySpec::parse(&dexie_schema).inbound());
    let (name_json, schema_json) = (Value::from(name).to_string(), Value::from(dexie_schema).to_string());
    let mut body = Vec::new();
    let mut count = 0u64;
    for r in rows {
        if count > 0 {
            body.push(b',');
        }
        body.extend_from_slice(r);
        count += 1;
    }
    let mut out = format!(
        "{{\"formatName\":\"dexie\",\"formatVersion\":1,\"data\":{{\"databaseName\":\"idbsync\",\"databaseVersion\":1,\
         \"tables\":[{{\"name\":{name_json},\"schema\":{schema_json},\"rowCount\":{count}}}],\
         \"data\":[{{\"tableName\":{name_json},\"inbound\":{inbound},\"rows\":["
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out.extend_from_slice(b"]}]}}");
    out
}

/// A text column of `b` as plain UTF-8 (DataFusion may read it as a string view).
fn text_column(b: &RecordBatch, col: &str, name: &str) -> Result<StringArray> {
    let c = b.column_by_name(col).ok_or_else(|| sync_err(name, format!("the table has no column {col}")))?;
    let c = arrow::compute::cast(c, &DataType::Utf8)
        .map_err(|source| Error::Arrow { context: format!("table '{name}': column {col}"), source })?;
    Ok(c.as_any().downcast_ref::<StringArray>().cloned().unwrap_or_else(|| StringArray::from(Vec::<String>::new())))
}
