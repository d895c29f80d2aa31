//! Pass 2: the input read again in blocks, split into records, decoded in parallel
//! into Arrow batches and handed in input order to a writer thread.

use super::plan::Plan;
use super::store::StoreState;
use super::{Ctx, Phase, RejectRecord};
use crate::error::{Error, Result};
use crate::input::decode::{Decoder, Reject};
use crate::input::source;
use crate::output::partition::Transform;
use arrow::array::RecordBatch;
use arrow_schema::SchemaRef;
use schema_infer::{Piece, Splitter};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

/// Bytes of records decoded as one group (one task of the pool).
const PIECE_BYTES: usize = 256 << 10;
/// Bytes the splitter hands on per window.
const WINDOW_BYTES: usize = 1 << 20;

/// What decoding one group of records gave, per store index.
struct GroupOut {
    batches: Vec<(usize, RecordBatch)>,
    rejects: Vec<(usize, RejectRecord)>,
    /// Records and bytes read.
    read: Vec<(usize, u64, u64)>,
}

/// Runs pass 2 into the plan's stores.
pub(super) fn second_pass(cx: &Ctx, plan: &mut Plan) -> Result<()> {
    let src = source::open(cx.path)?;
    let (tx, rx) = sync_channel::<GroupOut>(2);
    let states = &mut plan.stores[..];
    let pool = &plan.pool;
    std::thread::scope(|scope| -> Result<()> {
        let writer = scope.spawn(|| write_groups(cx, rx, states));
        let mut splits = Splits::new(cx, pool, tx);
        let mut seen = 0u64;
        let res = source::for_each_run(
            src,
            |block| {
                cx.opts.cancel.check()?;
                seen += block.len() as u64;
                (cx.progress)(Phase::Convert, seen);
                Ok(())
            },
            |buf, base, eof| splits.process(buf, base, eof),
        );
        drop(splits);
        let wres = writer.join().expect("writer thread");
        // A writer error (e.g. --on-invalid fail) comes first: it stopped the pass.
        wres?;
        res?;
        Ok(())
    })
}

/// The writer thread: counts, rejects and batches of each group, in input order.
fn write_groups(cx: &Ctx, rx: Receiver<GroupOut>, states: &mut [StoreState]) -> Result<()> {
    for g in rx {
        cx.opts.cancel.check()?;
        for (store, n, bytes) in g.read {
            states[store].counts.read += n;
            states[store].bytes_in += bytes;
        }
        for (store, rec) in g.rejects {
            states[store].reject(rec, cx.opts.on_invalid, cx.sink.as_ref())?;
        }
        for (store, batch) in g.batches {
            states[store].write(&batch)?;
        }
    }
    Ok(())
}

/// The reading side: splits the input into records and has the pool decode them.
struct Splits<'a> {
    cx: &'a Ctx<'a>,
    pool: &'a rayon::ThreadPool,
    splitter: Splitter,
    /// The splitter's store numbers → the plan's store indexes (`None`: not converted).
    map: Vec<Option<usize>>,
    schemas: Vec<SchemaRef>,
    names: Vec<String>,
    /// Identity partition columns (their Dates must fit a directory name).
    identity: Vec<Vec<String>>,
    tx: SyncSender<GroupOut>,
}

impl<'a> Splits<'a> {
    fn new(cx: &'a Ctx<'a>, pool: &'a rayon::ThreadPool, tx: SyncSender<GroupOut>) -> Self {
        let mut splitter = Splitter::new(cx.inferred.format, cx.store_name);
        splitter.piece_bytes = PIECE_BYTES;
        Splits {
            cx,
            pool,
            splitter,
            map: Vec::new(),
            schemas: cx.inferred.stores.iter().map(|s| s.schema.clone()).collect(),
            names: cx.inferred.stores.iter().map(|s| s.name.clone()).collect(),
            identity: cx
                .opts
                .partition_by
                .iter()
                .filter(|p| p.transform == Transform::Identity)
                .map(|p| p.path.clone())
                .collect(),
            tx,
        }
    }

    /// Splits `buf` (input offset `base`) and sends its decoded groups on; returns the
    /// bytes used (the rest is carried into the next call).
    fn process(&mut self, buf: &[u8], base: u64, eof: bool) -> Result<usize> {
        // Splitting is sequential: the pool decodes each window's records while this
        // thread splits the next; the batches are sent on in input order.
        let results: Mutex<Vec<(usize, Vec<GroupOut>)>> = Mutex::new(Vec::new());
        let mut window = 0usize;
        let (pool, display) = (self.pool, self.cx.display);
        let Splits { splitter, map, schemas, names, identity, .. } = self;
        let used = pool
            .in_place_scope(|scope| {
                splitter.split_windows(buf, base, eof, WINDOW_BYTES, |sp, pieces| {
                    for (i, d) in sp.stores.iter().enumerate() {
                        if map.len() <= i {
                            map.push(names.iter().position(|n| *n == d.name));
                        }
                    }
                    let map_now = map.clone();
                    let (schemas, names, identity, results) = (&*schemas, &*names, &*identity, &results);
                    let me = window;
                    window += 1;
                    scope.spawn(move |_| {
                        let outs: Vec<GroupOut> = schema_infer::group_pieces(&pieces, PIECE_BYTES)
                            .into_iter()
                            .map(|g| decode_group(g, buf, base, &map_now, schemas, names, identity))
                            .collect();
                        results.lock().expect("no panics while decoding").push((me, outs));
                    });
                })
            })
            .map_err(|e| Error::Infer { path: display.to_owned(), source: Box::new(e) })?;
        let mut results = results.into_inner().expect("no panics while decoding");
        results.sort_by_key(|r| r.0);
        for o in results.into_iter().flat_map(|r| r.1) {
            if self.tx.send(o).is_err() {
                // The writer stopped; its error is reported below.
                return Ok(buf.len());
            }
        }
        Ok(used)
    }
}

/// Decodes one group of records into a batch per store, with its rejects.
fn decode_group(
    g: &[Piece],
    buf: &[u8],
    base: u64,
    map: &[Option<usize>],
    schemas: &[SchemaRef],
    names: &[String],
    identity: &[Vec<String>],
) -> GroupOut {
    let mut decoders: Vec<Option<Decoder>> = (0..schemas.len()).map(|_| None).collect();
    let mut read: Vec<(u64, u64)> = vec![(0, 0); schemas.len()];
    let mut rejects = Vec::new();
    let mut one = |split_store: u32, start: usize, end: usize, index: u64| {
        let Some(store) = map.get(split_store as usize).copied().flatten() else { return };
        let bytes = &buf[start..end];
        let d = decoders[store].get_or_insert_with(|| {
            let mut d = Decoder::new(schemas[store].clone());
            identity.iter().for_each(|p| d.limit_partition_dates(p));
            d
        });
        read[store].0 += 1;
        read[store].1 += bytes.len() as u64;
        if let Err(Reject { at, reason }) = d.push(bytes) {
            let at = at.min(bytes.len());
            rejects.push((
                store,
                RejectRecord {
                    store: names[store].clone(),
                    record: index,
                    offset: base + (start + at) as u64,
                    path: schema_infer::path_at(bytes, at),
                    reason,
                    text: String::from_utf8_lossy(bytes).into_owned(),
                },
            ));
        }
    };
    for p in g {
        p.for_each_record(buf, &mut one);
    }
    let batches = decoders
        .iter_mut()
        .enumerate()
        .filter_map(|(i, d)| d.as_mut().filter(|d| d.rows() > 0).map(|d| (i, d.finish())))
        .collect();
    GroupOut {
        batches,
        rejects,
        read: read.into_iter().enumerate().filter(|(_, r)| r.0 > 0).map(|(i, r)| (i, r.0, r.1)).collect(),
    }
}
