//! A full disk under `engine::convert`, through a size-limited sink: the local sink wrapped
//! so that writes fail with `StorageFull` (ENOSPC) once a byte budget is spent, and creating
//! a file fails the same way once no byte is left (or, for the empty `_SUCCESS`, when the
//! budget says so). Whatever step the disk fills at (a data file, each file of the commit,
//! `_SUCCESS`), the job fails naming the file and "no space left on device",
//! nothing is visible in the output, no staging is left, an appended-to dataset is as it
//! was, and with room again the same job writes what an unhindered one writes.
//!
//! The same guarantees on a real (tmpfs) full disk are in `cli/tests/full_disk.rs`, where
//! a tmpfs can be mounted.

use engine::{
    convert, ConvertOptions, Entry, LocalSink, Manifest, Mode, ParquetOptions, Sink, SinkFile, MANIFEST, SUCCESS,
};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The files a sink created, in order, with the bytes written to each.
type Log = Arc<Mutex<Vec<(String, u64)>>>;

/// A local sink that holds at most `budget.bytes` more bytes, like a filesystem about to
/// fill up: removing (or replacing) a file gives its bytes back.
struct FullDisk {
    inner: LocalSink,
    /// Bytes that still fit.
    left: Arc<AtomicU64>,
    /// A file name whose first creation finds the disk full whatever the bytes left (the
    /// space that taking the job back frees is then there again).
    full_at: Mutex<Option<&'static str>>,
    /// What was written.
    log: Log,
}

impl FullDisk {
    fn new(root: &Path, budget: Budget) -> FullDisk {
        FullDisk {
            inner: LocalSink::new(root),
            left: Arc::new(AtomicU64::new(budget.bytes)),
            full_at: Mutex::new(budget.full_at),
            log: Log::default(),
        }
    }

    /// Gives back the bytes of the files under `path` (before they are removed).
    fn free(&self, path: &str) {
        fn du(p: &Path) -> u64 {
            match std::fs::symlink_metadata(p) {
                Ok(m) if m.is_dir() => std::fs::read_dir(p).unwrap().map(|e| du(&e.unwrap().path())).sum(),
                Ok(m) => m.len(),
                Err(_) => 0,
            }
        }
        let n = du(&self.inner.path(path));
        let _ = self.left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| Some(l.saturating_add(n)));
    }
}

fn enospc(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::StorageFull, format!("No space left on device (size-limited test sink: {what})"))
}

struct LimitedFile {
    inner: Box<dyn SinkFile>,
    left: Arc<AtomicU64>,
    log: Log,
    /// This file's entry in the log.
    entry: usize,
}

impl Write for LimitedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let left = self.left.load(Ordering::SeqCst);
        let n = (buf.len() as u64).min(left);
        if n == 0 {
            return Err(enospc("write"));
        }
        self.left.fetch_sub(n, Ordering::SeqCst);
        self.log.lock().unwrap()[self.entry].1 += n;
        self.inner.write_all(&buf[..n as usize])?;
        Ok(n as usize)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl SinkFile for LimitedFile {
    fn close(self: Box<Self>) -> io::Result<()> {
        self.inner.close()
    }
}

impl Sink for FullDisk {
    fn create(&self, path: &str) -> io::Result<Box<dyn SinkFile>> {
        let mut full_at = self.full_at.lock().unwrap();
        if self.left.load(Ordering::SeqCst) == 0 || full_at.is_some_and(|name| path.ends_with(name)) {
            *full_at = None;
            return Err(enospc("create"));
        }
        drop(full_at);
        self.free(path); // a file created over an old one replaces it
        let inner = self.inner.create(path)?;
        let mut log = self.log.lock().unwrap();
        log.push((path.to_owned(), 0));
        let entry = log.len() - 1;
        Ok(Box::new(LimitedFile { inner, left: self.left.clone(), log: self.log.clone(), entry }))
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn replace(&self, from: &str, to: &str) -> io::Result<()> {
        self.free(to);
        self.inner.replace(from, to)
    }
    fn remove_all(&self, path: &str) -> io::Result<()> {
        self.free(path);
        self.inner.remove_all(path)
    }
    fn list(&self, path: &str) -> io::Result<Vec<Entry>> {
        self.inner.list(path)
    }
    fn exists(&self, path: &str) -> io::Result<bool> {
        self.inner.exists(path)
    }
    fn open(&self, path: &str) -> io::Result<Box<dyn Read + Send>> {
        self.inner.open(path)
    }
    fn describe(&self, path: &str) -> String {
        self.inner.describe(path)
    }
}

/// 5,000 generated orders (about 2 MB), written as several files with several row groups.
fn input(dir: &Path) -> (PathBuf, ConvertOptions) {
    let p = dir.join("orders.ndjson");
    let f = io::BufWriter::new(std::fs::File::create(&p).unwrap());
    testdata_gen::OrderGen::new().with_seed(11).with_records(5_000).write_ndjson(f).unwrap();
    let parquet = ParquetOptions { max_file_bytes: Some(64_000), row_group_rows: 500, ..ParquetOptions::default() };
    (p, ConvertOptions::new().with_parquet(parquet))
}

/// Every file and folder under `root` (folders end in `/`), sorted; empty when it is missing.
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().replace('\\', "/");
            if p.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Every file under `root` with its bytes (with `job` in names replaced by `JOB`).
fn contents(root: &Path, job: Option<&str>) -> Vec<(String, Vec<u8>)> {
    tree(root)
        .into_iter()
        .filter(|p| !p.ends_with('/'))
        .map(|p| {
            let bytes = std::fs::read(root.join(&p)).unwrap();
            (job.map_or(p.clone(), |j| p.replace(j, "JOB")), bytes)
        })
        .collect()
}

fn manifest(ds: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(ds.join(MANIFEST)).unwrap()).unwrap()
}

/// The error and its causes, one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// What a [`FullDisk`] still holds.
#[derive(Debug, Clone, Copy)]
struct Budget {
    bytes: u64,
    full_at: Option<&'static str>,
}

const ROOMY: Budget = Budget { bytes: u64::MAX / 2, full_at: None };

/// Budgets that fill the disk at each step of a job that wrote `log`: its data files first,
/// then the commit's files (the manifest …): before anything, inside the first data file, in
/// the middle of the data, at its last byte, at the first byte and in the middle of each of
/// the commit's files, and when `_SUCCESS` is created. (The commit's files vary a little in
/// length between runs, with the timings in the manifest: "first byte" is approximate past
/// the first one.)
fn budgets(log: &[(String, u64)]) -> Vec<(Budget, String)> {
    let is_data = |p: &str| p.ends_with(".parquet");
    let first_meta = log.iter().position(|(p, _)| !is_data(p)).expect("a manifest");
    assert!(log[first_meta..].iter().all(|(p, _)| !is_data(p)), "data files come first: {log:?}");
    let data: u64 = log[..first_meta].iter().map(|f| f.1).sum();
    let bytes = |bytes| Budget { bytes, full_at: None };
    let mut out = vec![
        (bytes(0), "no space at all".to_owned()),
        (bytes(1), "the first data file's first bytes".to_owned()),
        (bytes(data / 2), "a data file in the middle".to_owned()),
        (bytes(data - 1), "the last data byte".to_owned()),
    ];
    let mut at = data;
    for (path, n) in log[first_meta..].iter().filter(|f| f.1 > 0) {
        out.push((bytes(at), format!("the first byte of {path}")));
        out.push((bytes(at + n / 2), format!("the middle of {path}")));
        at += n;
    }
    out.push((Budget { full_at: Some("/_SUCCESS.tmp"), ..ROOMY }, "creating _SUCCESS".to_owned()));
    out
}

/// Regressions: a disk that filled while the manifest or `_SUCCESS` was written left the
/// renamed data files visible without `_SUCCESS` (and `manifest.json.tmp`); a failed job
/// left the dataset and output folders it had made; a failed Parquet write said "External:
/// No space left on device" without naming the file.
#[test]
fn a_full_disk_at_any_step_fails_clearly_and_leaves_the_output_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (input, opts) = input(dir.path());

    // The unhindered job: what it writes, byte for byte, and how much.
    let reference_out = dir.path().join("reference");
    let probe = FullDisk::new(&reference_out, ROOMY);
    let log = probe.log.clone();
    let report = convert(&input, Arc::new(probe), opts.clone(), &|_, _| {}).unwrap();
    let log = log.lock().unwrap().clone();
    let m = manifest(&reference_out.join("orders"));
    assert!(m.files.len() >= 3, "several data files: {:?}", m.files);
    let data: u64 = m.files.iter().map(|f| f.bytes).sum();
    let logged: u64 = log.iter().filter(|(p, _)| p.ends_with(".parquet")).map(|f| f.1).sum();
    assert_eq!(logged, data, "{log:?}");
    assert!(log.iter().any(|(p, _)| p.ends_with(&format!("{MANIFEST}.tmp"))), "{log:?}");
    let reference = contents(&reference_out, Some(&report.job_id));

    for (i, (budget, step)) in budgets(&log).into_iter().enumerate() {
        for root_exists in [false, true] {
            let case = format!("disk full at {step} ({budget:?}), output root existed: {root_exists}");
            let out = dir.path().join(format!("out-{i}-{root_exists}"));
            if root_exists {
                std::fs::create_dir_all(out.join("other")).unwrap();
                std::fs::write(out.join("other/keep.txt"), b"not ours").unwrap();
            }
            let before = tree(&out);
            let err =
                convert(&input, Arc::new(FullDisk::new(&out, budget)), opts.clone(), &|_, _| {}).expect_err(&case);
            let msg = chain(&err);
            assert!(msg.to_lowercase().contains("no space left on device"), "{case}: {msg}");
            let named = out.join("orders").display().to_string();
            assert!(msg.contains(&named), "{case}: the error names no file under {named}: {msg}");
            assert_eq!(tree(&out), before, "{case}: the output changed ({msg})");
            if !root_exists {
                assert!(!out.exists(), "{case}: the output folder this job made is left");
            }
        }
    }

    // With room again, the same job writes what the unhindered one wrote.
    let out = dir.path().join("out-0-true");
    assert!(out.join("other/keep.txt").is_file());
    let again = convert(&input, Arc::new(LocalSink::new(&out)), opts, &|_, _| {}).unwrap();
    let mut got = contents(&out, Some(&again.job_id));
    got.retain(|(p, _)| !p.starts_with("other/"));
    assert_eq!(got.len(), reference.len());
    for ((gp, gb), (rp, rb)) in got.iter().zip(&reference) {
        assert_eq!(gp, rp);
        if gp.ends_with(".parquet") {
            assert!(gb == rb, "{gp} differs from the unhindered run's");
        }
    }
}

/// An append that fills the disk leaves the dataset it appends to exactly as it was: its
/// files, its manifest's bytes and its `_SUCCESS`. Regression: the appended files stayed
/// beside the old ones, and the old dataset lost its `_SUCCESS`.
#[test]
fn a_full_disk_during_an_append_leaves_the_existing_dataset_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (input, opts) = input(dir.path());
    let out = dir.path().join("out");
    let first = convert(&input, Arc::new(LocalSink::new(&out)), opts.clone(), &|_, _| {}).unwrap();
    let ds = out.join("orders");
    let before = contents(&out, None);
    assert!(before.iter().any(|(p, _)| p == &format!("orders/{SUCCESS}")));
    // What an append of the same input writes, on a copy of the dataset.
    let log = {
        let probe = dir.path().join("probe");
        convert(&input, Arc::new(LocalSink::new(&probe)), opts.clone(), &|_, _| {}).unwrap();
        let p = FullDisk::new(&probe, ROOMY);
        let log = p.log.clone();
        convert(&input, Arc::new(p), opts.clone().with_mode(Mode::Append), &|_, _| {}).unwrap();
        let log = log.lock().unwrap().clone();
        log
    };
    for (budget, step) in budgets(&log) {
        let case = format!("append, disk full at {step} ({budget:?})");
        let opts = opts.clone().with_mode(Mode::Append);
        let err = convert(&input, Arc::new(FullDisk::new(&out, budget)), opts, &|_, _| {}).expect_err(&case);
        assert!(chain(&err).to_lowercase().contains("no space left on device"), "{case}: {}", chain(&err));
        assert!(contents(&out, None) == before, "{case}: the dataset changed: {:?}", tree(&out));
        assert_eq!(manifest(&ds).job_id, first.job_id, "{case}");
    }
}
