//! Decode + validate throughput: `decode/ndjson/<shape>`, generated NDJSON records
//! decoded against their inferred schema into Arrow record batches (`engine::Decoder`,
//! which checks every value against the schema as it goes), at 1 thread and at all
//! cores. Records are decoded in groups of [`GROUP_RECORDS`], one decoder and one
//! batch per group, as `idbsync convert` does; the schema is inferred once, outside
//! the timing. Throughput is bytes of NDJSON input.
//!
//! `cargo bench -p idbsync-benches --bench decode`; set `IDBSYNC_BENCH_RECORDS` to
//! change the input size (default 100,000 records per shape, 27–98 MB of NDJSON), and
//! `IDBSYNC_BENCH_SHAPES` (`logs,nested`, or `all`) to choose the shapes (default: orders,
//! wide-sparse, logs, telemetry and nested; see `idbsync_benches::DEFAULT_SHAPES`).

use std::hint::black_box;
use std::time::Duration;

use arrow_schema::SchemaRef;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use engine::Decoder;
use idbsync_benches::{bench_records, bench_shapes, generate_shape, Format, Shape};
use rayon::prelude::*;
use schema_infer::{InferOptions, Inferrer};

/// Records per decoder and batch: about the 256 KiB input groups of `idbsync convert`.
const GROUP_RECORDS: usize = 600;

fn schema_of(ndjson: &[u8]) -> SchemaRef {
    let mut inf = Inferrer::new(InferOptions::new()).expect("thread pool");
    inf.push(ndjson).expect("generated input is valid");
    let res = inf.finish().expect("generated input is valid");
    assert_eq!(res.stores.len(), 1, "one store");
    res.stores[0].schema.clone()
}

/// Decodes every group on `pool`; returns the rows decoded.
fn decode(pool: &rayon::ThreadPool, schema: &SchemaRef, records: &[&[u8]]) -> usize {
    pool.install(|| {
        records
            .par_chunks(GROUP_RECORDS)
            .map(|group| {
                let mut d = Decoder::new(schema.clone());
                for r in group {
                    d.push(r).expect("generated records fit their schema");
                }
                d.finish().num_rows()
            })
            .sum()
    })
}

fn thread_counts() -> Vec<usize> {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    if all > 1 {
        vec![1, all]
    } else {
        vec![1]
    }
}

fn bench_decode(c: &mut Criterion) {
    let n = bench_records();
    for shape in bench_shapes() {
        bench_shape(c, shape, n);
    }
}

fn bench_shape(c: &mut Criterion, shape: Shape, n: u64) {
    let input = generate_shape(shape, Format::Ndjson, n);
    let schema = schema_of(&input);
    let records: Vec<&[u8]> = input.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(records.len() as u64, n, "{shape}: one record per line");

    let mut group = c.benchmark_group(format!("decode/ndjson/{shape}"));
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    for threads in thread_counts() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
        assert_eq!(decode(&pool, &schema, &records), records.len(), "{shape}: every record decoded");
        group.bench_with_input(BenchmarkId::new("threads", threads), &records, |b, records| {
            b.iter(|| black_box(decode(&pool, &schema, black_box(records))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
