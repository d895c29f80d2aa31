//! End-to-end tests of `idbsync convert` and `idbsync demo`: the real executable, each test
//! in its own temp dir, exact values compared; and a test that kills the binary mid-run.

use engine::Manifest;
mod common;

use common::{files, fixture, is_whole_parquet, s, KillTest, Left, Run, BIN, FIXTURES};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};

/// `idbsync args…` in `dir`, with no stdin.
fn idbsync(dir: &Path, args: &[&str]) -> Run {
    common::idbsync(dir, args, None)
}

fn manifest(dataset: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(dataset.join("_idbsync/manifest.json")).unwrap()).unwrap()
}

/// The data files of a committed dataset as (path with the job id replaced by `JOB`, bytes).
fn data_files(dataset: &Path) -> Vec<(String, Vec<u8>)> {
    let job = manifest(dataset).job_id;
    files(dataset)
        .into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .map(|f| (f.replace(&job, "JOB"), std::fs::read(dataset.join(&f)).unwrap()))
        .collect()
}

/// `1.5 MB`-style sizes, as the summary prints them.
fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1e3 {
        format!("{bytes} B")
    } else if b < 1e6 {
        format!("{:.1} KB", b / 1e3)
    } else if b < 1e9 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.2} GB", b / 1e9)
    }
}

/// The summary row of one store, from what is on disk: the manifest's counts and files.
fn summary_row(dataset: &Path, store: &str, bytes_in: u64) -> String {
    let m = manifest(dataset);
    let bytes_out: u64 = m.files.iter().map(|f| std::fs::metadata(dataset.join(&f.path)).unwrap().len()).sum();
    format!(
        "{:<20} {:>10} {:>9} {:>8} {:>6} {:>10} {:>10} {:>5.1}x",
        store,
        m.counts.read,
        m.counts.written,
        m.counts.rejected + m.counts.skipped,
        m.files.len(),
        human(bytes_in),
        human(bytes_out),
        bytes_in as f64 / bytes_out as f64
    )
}

const HEADER: &str = "store                      read   written rejected  files   bytes in  bytes out  ratio";

fn assert_time_line(line: &str) {
    let rest = line.strip_prefix("time: infer ").unwrap_or_else(|| panic!("not a time line: {line}"));
    let parts: Vec<&str> = rest.split(", ").collect();
    assert_eq!(parts.len(), 3, "{line}");
    assert!(parts[1].starts_with("convert ") && parts[2].starts_with("commit "), "{line}");
    for p in parts {
        let secs = p.trim_end_matches(" s").rsplit(' ').next().unwrap();
        assert!(secs.parse::<f64>().is_ok() && p.ends_with(" s"), "{line}");
    }
}

// ---------------------------------------------------------------------------------------
// The summary, human and --json
// ---------------------------------------------------------------------------------------

#[test]
fn convert_prints_the_exact_summary_of_an_ndjson_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("orders.ndjson");
    let run = idbsync(dir.path(), &["convert", s(&input), "--out", "out", "-q"]).success();
    assert_eq!(run.stderr, "");
    let ds = dir.path().join("out").join("orders");
    // bytes in: every record's bytes, without the 50 line ends.
    let text = std::fs::read_to_string(&input).unwrap();
    assert_eq!(text.lines().count(), 50);
    let bytes_in = text.len() as u64 - 50;
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert_eq!(lines[0], HEADER);
    assert_eq!(lines[1], summary_row(&ds, "orders", bytes_in));
    assert_eq!(lines[1].split_whitespace().take(5).collect::<Vec<_>>(), ["orders", "50", "50", "0", "1"]);
    assert_time_line(lines[2]);
    assert_eq!(lines[3], "  orders -> out/orders");
    assert!(ds.join("_SUCCESS").is_file());

    // Without -q the job id and the duration go to stderr (no progress bar: not a terminal).
    let run = idbsync(dir.path(), &["convert", s(&input), "--out", "out2"]).success();
    let job = manifest(&dir.path().join("out2").join("orders")).job_id;
    let msg =
        run.stderr.strip_prefix(&format!("idbsync: job {job} done in ")).unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(msg.ends_with(" s\n"), "{}", run.stderr);
}

#[test]
fn convert_json_report_and_human_summary_agree_for_a_two_store_export() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("dexie-shop.json");
    let run = idbsync(dir.path(), &["convert", s(&input), "--out", "j", "-q", "--json"]).success();
    assert_eq!(run.stderr, "");
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let out = dir.path().join("j");
    let job = manifest(&out.join("orders")).job_id;
    assert_eq!(report["job_id"], job.as_str());
    assert_eq!(report["format"], "dexie");
    let keys: Vec<&String> = report.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["job_id", "format", "stores", "timings"]);
    let timings: Vec<&String> = report["timings"].as_object().unwrap().keys().collect();
    assert_eq!(timings, ["infer_ms", "convert_ms", "commit_ms"]);
    assert!(report["timings"].as_object().unwrap().values().all(Value::is_u64), "{}", report["timings"]);
    let stores = report["stores"].as_array().unwrap();
    assert_eq!(stores.len(), 2);
    let mut bytes_in = Vec::new();
    for (st, (name, n)) in stores.iter().zip([("orders", 50), ("customers", 10)]) {
        let ds = out.join(name);
        let m = manifest(&ds);
        assert_eq!(m.job_id, job);
        let on_disk: u64 = m.files.iter().map(|f| std::fs::metadata(ds.join(&f.path)).unwrap().len()).sum();
        assert_eq!(st["store"], name);
        assert_eq!(st["path"], format!("j/{name}"));
        assert_eq!(st["counts"], serde_json::json!({"read": n, "written": n, "rejected": 0, "skipped": 0}));
        assert_eq!(st["files"], 1);
        assert_eq!(st["bytes_out"], on_disk);
        let b = st["bytes_in"].as_u64().unwrap();
        assert!(b > 0 && b < std::fs::metadata(&input).unwrap().len(), "{st}");
        bytes_in.push(b);
    }
    // All records of both stores: less than the file (header, separators), most of it.
    assert!(bytes_in.iter().sum::<u64>() * 10 > std::fs::metadata(&input).unwrap().len() * 9, "{bytes_in:?}");

    let run = idbsync(dir.path(), &["convert", s(&input), "--out", "h", "-q"]).success();
    let h = dir.path().join("h");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", run.stdout);
    assert_eq!(lines[0], HEADER);
    assert_eq!(lines[1], summary_row(&h.join("orders"), "orders", bytes_in[0]));
    assert_eq!(lines[2], summary_row(&h.join("customers"), "customers", bytes_in[1]));
    assert_time_line(lines[3]);
    assert_eq!(&lines[4..], ["  orders -> h/orders", "  customers -> h/customers"]);
    // Same input, same files: the two runs wrote the same bytes.
    for name in ["orders", "customers"] {
        assert!(data_files(&out.join(name)) == data_files(&h.join(name)), "{name}");
    }
}

#[test]
fn convert_into_an_existing_dataset_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("orders.ndjson");
    idbsync(dir.path(), &["convert", s(&input), "--out", "out", "-q"]).success();
    let before = data_files(&dir.path().join("out").join("orders"));
    let run = idbsync(dir.path(), &["convert", s(&input), "--out", "out", "-q"]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "idbsync: error: converting {} into out\n  caused by: dataset out/orders already exists \
             (use --mode overwrite or --mode append)\n",
            input.display()
        )
    );
    assert!(data_files(&dir.path().join("out").join("orders")) == before);
}

// ---------------------------------------------------------------------------------------
// The generator's shapes
// ---------------------------------------------------------------------------------------

/// Every shape of `idbsync-gen` (the inputs of the shape benchmarks,
/// benches/compare/convert_shapes.py), as NDJSON and as a Dexie export, converts with no
/// record rejected: one store with every record written.
#[test]
fn every_generated_shape_converts_without_rejects() {
    use testdata_gen::{Format, OrderGen, Shape};
    let dir = tempfile::tempdir().unwrap();
    let n = 2_000u64;
    for shape in Shape::ALL {
        for (format, ext) in [(Format::Ndjson, "ndjson"), (Format::Dexie, "json")] {
            let what = format!("{shape} {ext}");
            let input = dir.path().join(format!("{shape}.{ext}"));
            OrderGen::new()
                .with_shape(shape)
                .with_records(n)
                .write(format, std::fs::File::create(&input).unwrap())
                .unwrap();
            let out = format!("out-{shape}-{ext}");
            let report = idbsync(dir.path(), &["convert", s(&input), "--out", &out, "-q", "--json"]).success().json();
            let stores = report["stores"].as_array().unwrap();
            assert_eq!(stores.len(), 1, "{what}: {report}");
            // An NDJSON file's store is named after the file; a Dexie export's is its table.
            let store = if format == Format::Ndjson { shape.name() } else { shape.store() };
            assert_eq!(stores[0]["store"], store, "{what}");
            let counts = serde_json::json!({"read": n, "written": n, "rejected": 0, "skipped": 0});
            assert_eq!(stores[0]["counts"], counts, "{what}");
            assert_eq!(manifest(&dir.path().join(&out).join(store)).counts.written, n, "{what}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// idbsync demo
// ---------------------------------------------------------------------------------------

#[test]
fn demo_converts_the_bundled_exports_into_committed_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let run = idbsync(dir.path(), &["demo", "--out", "demo", "--fixtures", FIXTURES]).success();
    let out = dir.path().join("demo");
    let fixtures = Path::new(FIXTURES);
    let commands: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("$ ")).collect();
    assert_eq!(
        commands,
        [
            format!(
                "$ idbsync convert {} --out demo/dexie-shop --mode overwrite --partition-by 'day(created)'",
                fixtures.join("dexie-shop.json").display()
            ),
            format!(
                "$ idbsync convert {} --out demo/dexie-alltags --mode overwrite",
                fixtures.join("dexie-alltags.json").display()
            ),
        ]
    );
    for (db, store, rows) in [
        ("dexie-shop", "orders", 50),
        ("dexie-shop", "customers", 10),
        ("dexie-alltags", "things", 9),
        ("dexie-alltags", "kv", 14),
        ("dexie-alltags", "pairs", 4),
    ] {
        let ds = out.join(db).join(store);
        assert!(ds.join("_SUCCESS").is_file(), "{db}/{store}");
        let m = manifest(&ds);
        assert_eq!((m.counts.read, m.counts.written, m.counts.rejected), (rows, rows, 0), "{db}/{store}");
        assert_eq!(m.files.iter().map(|f| f.rows).sum::<u64>(), rows, "{db}/{store}");
        assert!(!ds.join("_temporary").exists(), "{db}/{store}");
    }
    // The shop's orders are partitioned by day (March 2024); its customers have no `created`
    // and are written unpartitioned.
    let orders = manifest(&out.join("dexie-shop").join("orders"));
    assert!(orders.files.iter().all(|f| f.path.starts_with("day=2024-03-")), "{:?}", orders.files);
    assert_eq!(orders.partition_by, ["day(created)"]);
    let customers = manifest(&out.join("dexie-shop").join("customers"));
    assert_eq!(customers.partition_by, Vec::<String>::new());
    assert_eq!(
        customers.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(),
        [format!("part-00000-{}.zstd.parquet", customers.job_id)]
    );

    // Running it again overwrites: the same datasets, committed again.
    idbsync(dir.path(), &["demo", "--out", "demo", "--fixtures", FIXTURES]).success();
    let again = manifest(&out.join("dexie-shop").join("orders"));
    assert_ne!(again.job_id, orders.job_id);
    assert_eq!(again.jobs, std::slice::from_ref(&again.job_id));
}

// ---------------------------------------------------------------------------------------
// Killed runs
// ---------------------------------------------------------------------------------------

/// Checks what a run left in `out`: without `_SUCCESS` nothing looks committed and no
/// partial file sits outside `_temporary` (a killed commit may have published some whole
/// files, which the next run removes); with it, the manifest is there too. Counts the
/// staged (`_temporary`) data files.
fn check_after_kill(out: &Path, what: &str) -> Left {
    let ds = out.join("orders");
    let all = files(&ds);
    let success = ds.join("_SUCCESS").exists();
    let manifest = ds.join("_idbsync/manifest.json").exists();
    assert!(!success || manifest, "{what}: _SUCCESS without a manifest: {all:?}");
    if !success {
        for f in all.iter().filter(|f| f.ends_with(".parquet") && !f.starts_with("_temporary/")) {
            let whole = std::fs::read(ds.join(f)).is_ok_and(|b| is_whole_parquet(&b));
            assert!(whole, "{what}: a partial file outside _temporary: {f} (all: {all:?})");
        }
    }
    let staged = all.iter().filter(|f| f.starts_with("_temporary/") && f.ends_with(".parquet")).count();
    Left { committed: success, staged }
}

#[cfg(unix)]
#[test]
fn killed_runs_commit_nothing_and_a_rerun_writes_what_an_uninterrupted_run_writes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("orders.ndjson");
    // 40k orders (16 MB): a debug build converts them in a few seconds, into several 1 MB files.
    let file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    testdata_gen::OrderGen::new().with_seed(42).with_records(40_000).write_ndjson(file).unwrap();
    let args = |out: &str| -> Vec<String> {
        ["convert", s(&input), "--out", out, "--max-file-size", "1MB", "-q"].iter().map(|a| a.to_string()).collect()
    };
    let root = |out: &str| dir.path().join(out);
    let rerun = KillTest {
        dir: dir.path(),
        args: &args,
        // Kills land while files are staged (counted) and during the commit.
        check: &|out, what| check_after_kill(&root(out), what),
        reset: &|out| std::fs::remove_dir_all(root(out)).unwrap(),
        output: &|out| data_files(&root(out).join("orders")),
        kills: 8,
        seed: 0x1D85,
    }
    .run("reference", "out");
    assert!(rerun.len() >= 3, "{} files", rerun.len());

    // Nothing was committed, so the default mode (error) accepted the leftover folder; the
    // stale staging folder is gone, and every data file is the rerun's.
    let ds = dir.path().join("out").join("orders");
    let job = manifest(&ds).job_id;
    assert!(
        files(&ds).iter().all(|f| !f.starts_with("_temporary") && (!f.ends_with(".parquet") || f.contains(&job))),
        "{:?}",
        files(&ds)
    );
}

/// Regression: a run killed during its commit — after some data files were renamed into
/// the dataset, before `_SUCCESS` — left those files published without `_SUCCESS` (readers
/// of the folder see a partial dataset), and the next run with the default `--mode error`
/// refused the folder as an existing dataset although nothing was committed.
#[cfg(unix)]
#[test]

fn a_run_killed_during_its_commit_is_not_committed_and_does_not_block_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("orders.ndjson");
    let file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    testdata_gen::OrderGen::new().with_seed(3).with_records(10_000).write_ndjson(file).unwrap();
    // Many small files make the commit (one rename per file) long enough to be caught.
    let args = ["convert", s(&input), "--out", "out", "--max-file-size", "100KB", "-q"];
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ds = dir.path().join("out").join("orders");
    // Kill as soon as the first data file appears outside `_temporary`.
    loop {
        assert!(child.try_wait().unwrap().is_none(), "the run finished before its commit was seen");
        let published = std::fs::read_dir(&ds)
            .map(|rd| rd.filter_map(Result::ok).any(|e| e.file_name().to_string_lossy().ends_with(".parquet")))
            .unwrap_or(false);
        if published {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
    child.wait().unwrap();
    let out = dir.path().join("out");
    let left = files(&ds);
    let run = idbsync(dir.path(), &args);
    assert_eq!(
        run.code,
        Some(0),
        "rerun after a kill during the commit: {}\nleft by the killed run: {left:?}",
        run.stderr
    );
    let job = manifest(&ds).job_id;
    let stale: Vec<String> = files(&ds).into_iter().filter(|f| f.ends_with(".parquet") && !f.contains(&job)).collect();
    assert_eq!(stale, Vec::<String>::new(), "files of the killed run remain");
    assert!(check_after_kill(&out, "rerun").committed);
    // What the killed run published were whole files (never partial ones), and nothing of
    // it looked committed.
    assert!(!left.contains(&"_SUCCESS".to_owned()), "{left:?}");
    let published: Vec<&String> =
        left.iter().filter(|f| f.ends_with(".parquet") && !f.starts_with("_temporary/")).collect();
    assert!(!published.is_empty(), "the kill should have landed inside the commit: {left:?}");
}
