//! Schema inference throughput: `infer/ndjson/<shape>` and `infer/dexie/<shape>` over
//! the same generated records, at 1 thread and at all cores.
//!
//! `cargo bench -p idbsync-benches --bench infer`; set `IDBSYNC_BENCH_RECORDS` to
//! change the input size (default 100,000 records per shape, 27–98 MB of NDJSON), and
//! `IDBSYNC_BENCH_SHAPES` (`logs,nested`, or `all`) to choose the shapes (default: orders,
//! wide-sparse, logs, telemetry and nested; see `idbsync_benches::DEFAULT_SHAPES`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use idbsync_benches::{bench_records, bench_shapes, generate_shape, Format};
use schema_infer::{InferOptions, InferResult, Inferrer};

/// The CLI reads its input in slices of this size; push the same way.
const PUSH_BYTES: usize = 8 << 20;

fn infer(bytes: &[u8], threads: usize) -> InferResult {
    let mut inf = Inferrer::new(InferOptions::new().with_threads(threads)).expect("thread pool");
    for chunk in bytes.chunks(PUSH_BYTES) {
        inf.push(chunk).expect("generated input is valid");
    }
    inf.finish().expect("generated input is valid")
}

/// 1 and every core, without a duplicate on a 1-core machine.
fn thread_counts() -> Vec<usize> {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    if all > 1 {
        vec![1, all]
    } else {
        vec![1]
    }
}

fn bench_infer(c: &mut Criterion) {
    let records = bench_records();
    let inputs = bench_shapes().into_iter().flat_map(|s| [(s, "ndjson", Format::Ndjson), (s, "dexie", Format::Dexie)]);
    for (shape, format_name, format) in inputs {
        let name = format!("{format_name}/{shape}");
        let input = generate_shape(shape, format, records);
        // Check once, outside the timing, that the bench infers what it should.
        let check = infer(&input, 0);
        assert_eq!(check.stores.len(), 1, "{name}: one store");
        assert_eq!(check.stores[0].rows, records, "{name}: every record inferred");

        let mut group = c.benchmark_group(format!("infer/{name}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        // An iteration takes ~0.1-0.3 s: flat sampling keeps 10 samples within the
        // measurement time (linear sampling needs at least 55 iterations).
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(5));
        for threads in thread_counts() {
            group.bench_with_input(BenchmarkId::new("threads", threads), &input, |b, input| {
                b.iter(|| black_box(infer(black_box(input), threads)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_infer);
criterion_main!(benches);
