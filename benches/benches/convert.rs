//! End-to-end conversion throughput: `convert/ndjson` and `convert/dexie`, the same
//! generated orders as a file on disk (written once, so it sits in the page cache)
//! converted by `engine::convert` (whole-file schema inference, then decoding,
//! validation and zstd Parquet encoding, commit with `_SUCCESS`) into a `LocalSink`
//! in a fresh temporary folder, at 1 thread and at all cores. Throughput is bytes of
//! input.
//!
//! `cargo bench -p idbsync-benches --bench convert`; set `IDBSYNC_BENCH_RECORDS` to
//! change the input size (default 100,000 records, about 39 MB of NDJSON).

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use engine::{convert, ConvertOptions, ConvertReport, LocalSink};
use idbsync_benches::{bench_records, generate, Format};

fn run(input: &Path, out: &Path, threads: usize) -> ConvertReport {
    let sink = Arc::new(LocalSink::new(out));
    convert(input, sink, ConvertOptions::new().with_threads(threads), &|_, _| {}).expect("conversion")
}

fn thread_counts() -> Vec<usize> {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    if all > 1 {
        vec![1, all]
    } else {
        vec![1]
    }
}

fn bench_convert(c: &mut Criterion) {
    let n = bench_records();
    let inputs = tempfile::tempdir().expect("tempdir");
    for (name, format, file) in [("ndjson", Format::Ndjson, "orders.ndjson"), ("dexie", Format::Dexie, "orders.json")] {
        let path = inputs.path().join(file);
        let bytes = generate(format, n);
        std::fs::write(&path, &bytes).expect("write input");

        // Check once, outside the timing, that every record arrives.
        let check = tempfile::tempdir().expect("tempdir");
        let report = run(&path, check.path(), 0);
        let written: u64 = report.stores.iter().map(|s| s.counts.written).sum();
        assert_eq!(written, n, "{name}: every record written");

        let mut group = c.benchmark_group(format!("convert/{name}"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(8));
        for threads in thread_counts() {
            group.bench_with_input(BenchmarkId::new("threads", threads), &path, |b, path| {
                // A fresh output folder per iteration, made and deleted outside the timing.
                b.iter_batched(
                    || tempfile::tempdir().expect("tempdir"),
                    |out| {
                        black_box(run(path, out.path(), threads));
                        out
                    },
                    BatchSize::PerIteration,
                )
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_convert);
criterion_main!(benches);
