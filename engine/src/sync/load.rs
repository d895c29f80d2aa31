//! A first push streamed: when none of the input's stores has a table yet, every record
//! is an insert, so there is nothing to look up or merge. Each table is created, the
//! input is read again in blocks, and each block's records are decoded and written as
//! the new tables' data files as they come; one commit per table then adds them all.
//! Memory follows the block, not the input (a push that merges holds the input and its
//! decoded rows whole).
//!
//! The streamed way gives way to the usual one ([`Loaded::Fallback`]) when it cannot
//! tell what a record does without the rest of the input: a key met twice (the last
//! record of a key wins, so an earlier one must not be written), or when another writer
//! got to a table first (it created the table, or committed after its creation). The
//! files written by then are deleted; the tables created stay, empty, and the usual push
//! merges into them.

use super::delta_err;
use super::key::KeyPath;
use super::layout;
use super::merge::{commit_properties, create_table, new_report, record_batch, source_rows, Row};
use super::partition;
use super::progress::PushStage;
use super::push::{decode_record, key_of, write_rejects, Decoded, PushOptions, PushStatus, TablePush};
use super::retry::is_conflict;
use super::target::{open_target, Target};
use crate::error::{Error, Result};
use crate::input::decode::Decoder;
use crate::input::source;
use arrow::array::RecordBatch;
use arrow_schema::SchemaRef;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::DeltaTable;
use rayon::prelude::*;
use schema_infer::{InferResult, Piece, Splitter};
use std::collections::HashSet;
use std::path::Path;
use tokio::runtime::Runtime;

/// Bytes of records one task decodes.
const GROUP_BYTES: usize = 1 << 20;

/// How a streamed first push ended.
pub(super) enum Loaded {
    /// Every table was created and written.
    Done(Vec<TablePush>),
    /// Not streamed (or not to the end): the push goes the usual way.
    Fallback(Earlier),
}

/// What a streamed push that gave way did before it did.
#[derive(Default)]
pub(super) struct Earlier {
    /// Tables it created (they exist now, maybe empty).
    pub created: HashSet<String>,
    /// Tables it committed to before another writer beat it to the next: done.
    pub done: Vec<TablePush>,
    /// The tables of the input's stores as it read them, when it changed none of them
    /// (some existed already): the usual push starts from them.
    pub targets: Vec<Target>,
}

/// Why a stream stopped early.
pub(super) enum Halt {
    Failed(Error),
    /// A key met twice: the stream cannot tell which record wins.
    Again,
}

impl From<Error> for Halt {
    fn from(e: Error) -> Self {
        Halt::Failed(e)
    }
}

/// One new table being written.
pub(super) struct Writing {
    target: Target,
    table: DeltaTable,
    writer: RecordBatchWriter,
    /// The store's inferred columns, which its records are decoded against.
    schema: SchemaRef,
    /// Counts and rejects so far (no rows: those went to the writer).
    total: Decoded,
    /// Rows written.
    upserted: u64,
    /// The keys met so far (as 128-bit hashes of their text).
    seen: HashSet<u128>,
}

/// Pushes the input at `input` (a file: it is read twice) into new tables, streamed,
/// when none of its stores has a table under `root` yet; `first` is its inference.
pub(super) fn load(
    rt: &Runtime,
    input: &Path,
    root: &str,
    store_name: &str,
    first: &InferResult,
    opts: &PushOptions,
) -> Result<Loaded> {
    let mut targets = Vec::new();
    for st in &first.stores {
        let key: KeyPath = key_of(st, opts.key.as_ref())?;
        targets.push(rt.block_on(open_target(root, opts, &st.name, key))?);
    }
    if targets.is_empty() || targets.iter().any(|t| t.exists) {
        return Ok(Loaded::Fallback(Earlier { targets, ..Earlier::default() }));
    }
    let records = first.stores.iter().map(|s| s.rows).sum();
    opts.progress.report(|| PushStage::Decoding { stores: targets.len(), records });
    let mut earlier = Earlier::default();
    let mut writing = Vec::new();
    for t in targets {
        opts.cancel.check()?;
        match create(rt, t, first, opts)? {
            Some(w) => {
                earlier.created.insert(w.target.name.clone());
                writing.push(w);
            }
            None => return Ok(Loaded::Fallback(earlier)),
        }
    }
    match stream(rt, input, store_name, first, opts, &mut writing) {
        Ok(()) => {}
        Err(halt) => {
            discard(rt, &mut writing);
            return match halt {
                Halt::Again => Ok(Loaded::Fallback(earlier)),
                Halt::Failed(e) => Err(e),
            };
        }
    }
    let mut reports = Vec::new();
    let mut rest = writing.into_iter();
    while let Some(w) = rest.next() {
        opts.cancel.check()?;
        match commit(rt, w, root, opts)? {
            Some(r) => reports.push(r),
            None => {
                discard(rt, &mut rest.collect::<Vec<_>>());
                earlier.done = reports;
                return Ok(Loaded::Fallback(earlier));
            }
        }
    }
    Ok(Loaded::Done(reports))
}

/// Creates the table of `t` with the columns of the input's inference, and a writer of
/// its data files; `None` when another writer created it first.
pub(super) fn create(rt: &Runtime, t: Target, first: &InferResult, opts: &PushOptions) -> Result<Option<Writing>> {
    let name = t.name.clone();
    let schema = first.store(&name).expect("inferred store").schema.clone();
    let mut empty = Decoded::new(schema.metadata().clone());
    empty.batch = RecordBatch::new_empty(schema.clone());
    let (_, _, columns) = source_rows(&t, &empty, &[], opts)?;
    let columns = partition::creation_columns(&name, &t.partition, columns)?;
    opts.progress.report(|| PushStage::Creating { table: name.clone() });
    let table = match rt.block_on(create_table(&t, &empty.meta, columns, CommitProperties::default())) {
        Ok(table) => table,
        Err(_) if rt.block_on(t.table.log_store().is_delta_table_location()).unwrap_or(false) => return Ok(None),
        Err(e) => return Err(delta_err(&name, "cannot create the table")(e)),
    };
    let writer = RecordBatchWriter::for_table(&table)
        .map_err(delta_err(&name, "cannot write the table"))?
        .with_writer_properties(layout::writer_properties())
        .with_target_file_size(layout::TARGET_FILE_BYTES);
    let total = Decoded::new(schema.metadata().clone());
    Ok(Some(Writing { target: t, table, writer, schema, total, upserted: 0, seen: HashSet::new() }))
}

/// Reads the input in blocks and writes each block's records to their tables.
pub(super) fn stream(
    rt: &Runtime,
    input: &Path,
    store_name: &str,
    first: &InferResult,
    opts: &PushOptions,
    writing: &mut [Writing],
) -> std::result::Result<(), Halt> {
    let src = source::open(input)?;
    let mut splitter = Splitter::new(first.format, store_name);
    splitter.piece_bytes = GROUP_BYTES;
    let mut ids: Vec<Option<usize>> = Vec::new();
    let (mut written, mut told) = (0u64, 0u64);
    let block_of = |buf: &[u8], base: u64, eof: bool| -> std::result::Result<usize, Halt> {
        let mut pieces = Vec::new();
        let used = splitter
            .split(buf, base, eof, &mut pieces)
            .map_err(|e| Error::Infer { path: input.to_owned(), source: Box::new(e) })?;
        for d in &splitter.stores[ids.len()..] {
            ids.push(writing.iter().position(|w| w.target.name == d.name));
        }
        // Records are decoded in parallel, a group of pieces per task, and written in
        // input order.
        let stores: Vec<(&Target, &SchemaRef)> = writing.iter().map(|w| (&w.target, &w.schema)).collect();
        let groups: Vec<Vec<Decoded>> = schema_infer::group_pieces(&pieces, GROUP_BYTES)
            .par_iter()
            .map(|g| decode_group(g, buf, base, &ids, &stores))
            .collect();
        drop(stores);
        for group in groups {
            for (w, mut b) in writing.iter_mut().zip(group) {
                written += write_block(rt, w, &mut b, opts)?;
                w.total.read += b.read;
                w.total.rejected += b.rejected;
                w.total.misfits += b.misfits;
                w.total.rejects.append(&mut b.rejects);
            }
        }
        if written > told {
            told = written;
            opts.progress.report(|| PushStage::Writing { records: written });
        }
        Ok(used)
    };
    source::for_each_run(src, |_| Ok(opts.cancel.check()?), block_of)
}

/// Decodes the records of the pieces `g` of `buf` (at input offset `base`), each into its
/// store's [`Decoded`] (in the order of `stores`; `ids` maps the splitter's stores to them).
fn decode_group(
    g: &[Piece],
    buf: &[u8],
    base: u64,
    ids: &[Option<usize>],
    stores: &[(&Target, &SchemaRef)],
) -> Vec<Decoded> {
    let mut out: Vec<Decoded> = stores.iter().map(|(_, s)| Decoded::new(s.metadata().clone())).collect();
    let mut decoders: Vec<Option<Decoder>> = stores.iter().map(|_| None).collect();
    for p in g {
        p.for_each_record(buf, |sid, start, end, index| {
            let Some(i) = ids.get(sid as usize).copied().flatten() else { return };
            let d = decoders[i].get_or_insert_with(|| Decoder::new(stores[i].1.clone()));
            decode_record(&mut out[i], d, stores[i].0, &buf[start..end], base + start as u64, index);
        });
    }
    for (o, d) in out.iter_mut().zip(decoders) {
        if let Some(mut d) = d {
            o.batch = d.finish();
        }
    }
    out
}

/// Writes the rows of one block `b` of `w`'s store; gives how many. A key met before is
/// [`Halt::Again`].
fn write_block(rt: &Runtime, w: &mut Writing, b: &mut Decoded, opts: &PushOptions) -> std::result::Result<u64, Halt> {
    let mut rows: Vec<Row> = Vec::new();
    for r in b.recs.drain(..) {
        if !w.seen.insert(key_id(&r.key)) {
            return Err(Halt::Again);
        }
        // A delete (no hash) of a key not there does nothing.
        if let Some(h) = r.hash {
            rows.push((r.key, Some(h), r.row));
        }
    }
    if rows.is_empty() {
        return Ok(0);
    }
    // In key order, as a merge writes them (see `merge::plan`).
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let name = w.target.name.clone();
    let (source, names, _) = source_rows(&w.target, b, &rows, opts)?;
    let (source, _) = partition::with_day(&name, &w.target.partition, source, names)?;
    rt.block_on(w.writer.write(source)).map_err(delta_err(&name, "cannot write the rows"))?;
    w.upserted += rows.len() as u64;
    Ok(rows.len() as u64)
}

/// Commits the files written to `w`'s table (one version after its creation, with the
/// batch's `txn`); `None` when another writer committed first.
pub(super) fn commit(rt: &Runtime, mut w: Writing, root: &str, opts: &PushOptions) -> Result<Option<TablePush>> {
    let name = w.target.name.clone();
    let adds = rt.block_on(w.writer.flush()).map_err(delta_err(&name, "cannot write the rows"))?;
    let mut report = new_report(&w.target, &w.total);
    report.created = true;
    report.upserted = w.upserted;
    report.unchanged = report.read - report.rejected - report.upserted;
    report.status = PushStatus::Committed;
    let props = commit_properties(report.read, opts, Vec::new());
    if adds.is_empty() {
        if let Some((client, seq)) = &opts.batch {
            match rt.block_on(record_batch(&w.table, client, *seq, props)) {
                Ok(v) => report.checkpoint = v,
                Err(e) if is_conflict(&e) => return Ok(None),
                Err(e) => return Err(delta_err(&name, "cannot record the batch")(e)),
            }
        }
    } else {
        match rt.block_on(append(&w.table, adds.clone(), props)) {
            Ok(v) => report.checkpoint = v,
            Err(e) => {
                delete_files(rt, &w.table, &adds);
                if is_conflict(&e) {
                    return Ok(None);
                }
                return Err(delta_err(&name, "cannot commit the rows")(e));
            }
        }
    }
    let (table, status, checkpoint) = (name.clone(), report.status, report.checkpoint);
    opts.progress.report(|| PushStage::Done { table, status, checkpoint });
    if !w.total.rejects.is_empty() {
        report.rejects_file = Some(write_rejects(root, &opts.storage, &report, &w.total.rejects)?);
    }
    Ok(Some(report))
}

/// Commits `adds` to `table` as the version after the one it read, or fails: a commit
/// another writer made in between may hold keys these rows repeat, so it is not retried
/// over (the caller merges instead).
async fn append(table: &DeltaTable, adds: Vec<Add>, props: CommitProperties) -> deltalake::DeltaResult<i64> {
    let snapshot = table.snapshot()?;
    let partition_by = Some(snapshot.metadata().partition_columns().to_vec()).filter(|p| !p.is_empty());
    let operation = DeltaOperation::Write { mode: SaveMode::Append, partition_by, predicate: None };
    let done = CommitBuilder::from(props.with_max_retries(0))
        .with_actions(adds.into_iter().map(Action::Add).collect())
        .build(Some(snapshot), table.log_store(), operation)
        .await?;
    Ok(done.version() as i64)
}

/// Deletes the files written to the tables of `writing` (no commit refers to them).
fn discard(rt: &Runtime, writing: &mut [Writing]) {
    for w in writing {
        if let Ok(adds) = rt.block_on(w.writer.flush()) {
            delete_files(rt, &w.table, &adds);
        }
    }
}

fn delete_files(rt: &Runtime, table: &DeltaTable, adds: &[Add]) {
    use object_store::ObjectStoreExt as _;
    let store = table.object_store();
    for a in adds {
        if let Ok(path) = deltalake::Path::from_url_path(&a.path) {
            // Best effort: a file left behind is unreferenced, and `vacuum` removes it.
            let _ = rt.block_on(store.delete(&path));
        }
    }
}

/// A key's identity in a stream: 128 bits of its text's hash (a collision, at 2^-128 per
/// pair, would only make the push take the usual way).
fn key_id(key: &str) -> u128 {
    let h = blake3::hash(key.as_bytes());
    u128::from_le_bytes(h.as_bytes()[..16].try_into().expect("16 bytes"))
}
