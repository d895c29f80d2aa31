//! Parquet encode throughput: `parquet/zstd/<shape>`, generated records (already decoded
//! into Arrow record batches, outside the timing) written by `engine::StoreWriter`
//! as zstd Parquet (the defaults of `idbsync convert`: zstd level 3, 122,880-row
//! row groups, leaf columns encoded in parallel) into a `LocalSink` in a fresh
//! temporary folder, at 1 thread and at all cores. Throughput is bytes of the NDJSON
//! the batches were decoded from, so that it reads like the other benches' MB/s.
//!
//! `cargo bench -p idbsync-benches --bench parquet`; set `IDBSYNC_BENCH_RECORDS` to
//! change the input size (default 100,000 records per shape, 27–98 MB of NDJSON), and
//! `IDBSYNC_BENCH_SHAPES` (`logs,nested`, or `all`) to choose the shapes (default: orders,
//! wide-sparse, logs, telemetry and nested; see `idbsync_benches::DEFAULT_SHAPES`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use arrow_schema::SchemaRef;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use engine::{decode_all, FileInfo, LocalSink, ParquetOptions, StoreWriter};
use idbsync_benches::{bench_records, bench_shapes, generate_shape, Format, Shape};
use schema_infer::{InferOptions, Inferrer};
use tempfile::TempDir;

/// Records per decoded batch: about the 256 KiB input groups of `idbsync convert`.
const BATCH_RECORDS: usize = 600;

fn schema_of(ndjson: &[u8]) -> SchemaRef {
    let mut inf = Inferrer::new(InferOptions::new()).expect("thread pool");
    inf.push(ndjson).expect("generated input is valid");
    let res = inf.finish().expect("generated input is valid");
    assert_eq!(res.stores.len(), 1, "one store");
    res.stores[0].schema.clone()
}

/// Writes every batch into `orders/_temporary/bench/` under `dir`; returns the files.
fn encode(dir: &TempDir, schema: &SchemaRef, batches: &[RecordBatch], pool: &Arc<rayon::ThreadPool>) -> Vec<FileInfo> {
    let sink = Arc::new(LocalSink::new(dir.path()));
    let mut w = StoreWriter::new(
        sink,
        "orders/_temporary/bench".to_owned(),
        "bench".to_owned(),
        schema,
        Vec::new(),
        ParquetOptions::default(),
        pool.clone(),
    )
    .expect("writer");
    for b in batches {
        w.write(b).expect("write");
    }
    w.finish().expect("finish")
}

fn thread_counts() -> Vec<usize> {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    if all > 1 {
        vec![1, all]
    } else {
        vec![1]
    }
}

fn bench_parquet(c: &mut Criterion) {
    let n = bench_records();
    for shape in bench_shapes() {
        bench_shape(c, shape, n);
    }
}

fn bench_shape(c: &mut Criterion, shape: Shape, n: u64) {
    let input = generate_shape(shape, Format::Ndjson, n);
    let schema = schema_of(&input);
    let records: Vec<&[u8]> = input.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let batches: Vec<RecordBatch> = records
        .chunks(BATCH_RECORDS)
        .map(|group| {
            let (batch, rejects) = decode_all(schema.clone(), group.iter().copied());
            assert!(rejects.is_empty(), "{shape}: generated records fit their schema");
            batch
        })
        .collect();

    let mut group = c.benchmark_group(format!("parquet/zstd/{shape}"));
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    for threads in thread_counts() {
        let pool = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool"));
        let check = tempfile::tempdir().expect("tempdir");
        let files = encode(&check, &schema, &batches, &pool);
        assert_eq!(files.iter().map(|f| f.rows).sum::<u64>(), n, "{shape}: every row written");
        group.bench_with_input(BenchmarkId::new("threads", threads), &batches, |b, batches| {
            // A fresh folder per iteration, made and deleted outside the timing.
            b.iter_batched(
                || tempfile::tempdir().expect("tempdir"),
                |dir| {
                    black_box(encode(&dir, &schema, black_box(batches), &pool));
                    dir
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_parquet);
criterion_main!(benches);
