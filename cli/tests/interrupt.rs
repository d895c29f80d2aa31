//! SIGINT to the real binary: `convert`, `download --to FILE`, `put` and `get` stop at their
//! next safe point, remove their staging, say so, and exit with 130; an interrupt during a
//! commit lets it finish; a second interrupt exits at once. After each, a rerun writes the
//! same bytes as an uninterrupted run.
//!
//! Signals are sent only once the binary has installed its handler (its `SigCgt` mask in
//! `/proc/<pid>/status` has SIGINT), at points the test observes: a staged file, a published
//! file, input consumed from a pipe; and at spread times over a measured run.
#![cfg(target_os = "linux")]

mod common;

use common::{files, idbsync, kill_delays, local_tree, s, BIN};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const STOPPING: &str = "idbsync: interrupt: stopping at the next safe point (interrupt again to exit now)\n";

/// How long a run may take before the test gives up on it.
const PATIENCE: Duration = Duration::from_secs(120);

fn spawn(dir: &Path, args: &[&str]) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

fn sigint(child: &Child) {
    signal(child, libc::SIGINT);
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill has no memory preconditions; the child is not reaped until waited for,
    // so its pid cannot have been reused.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(r, 0, "kill: {}", std::io::Error::last_os_error());
}

/// Waits until `child` catches SIGINT and SIGTERM (its handler is installed).
fn wait_for_handler(child: &mut Child) {
    let bit = (1u64 << (libc::SIGINT - 1)) | (1u64 << (libc::SIGTERM - 1));
    let status = format!("/proc/{}/status", child.id());
    wait_until(child, "the SIGINT handler", || {
        let status = std::fs::read_to_string(&status).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .is_some_and(|m| u64::from_str_radix(m.trim(), 16).unwrap() & bit == bit)
    });
}

/// Whether a thread of process `pid` is in a `read` of file descriptor 0 (Linux
/// `/proc/PID/task/TID/syscall`: the syscall number, then its arguments).
fn blocked_reading_stdin(pid: u32) -> bool {
    let prefix = format!("{} 0x0 ", libc::SYS_read);
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten();
    tasks.into_iter().any(|t| std::fs::read_to_string(t.path().join("syscall")).is_ok_and(|l| l.starts_with(&prefix)))
}

/// Polls `ready` until it holds; fails if `child` exits first or it takes too long.
fn wait_until(child: &mut Child, what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before {what} was seen");
        }
        assert!(start.elapsed() < PATIENCE, "{what} not seen in {PATIENCE:?}");
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// Waits for `child` to exit, killing it (and failing) if it does not within [`PATIENCE`].
fn finish(mut child: Child, what: &str) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("{what}: still running after {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// An interrupted run: status 130, the first interrupt acknowledged, and `left` last.
fn assert_interrupted(out: &Output, left: &str, what: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{what}: stderr:\n{stderr}");
    assert!(stderr.starts_with(STOPPING), "{what}: {stderr}");
    assert!(stderr.ends_with(&format!("idbsync: interrupted: {left}\n")), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// The data files of a committed dataset, with the job id in their names replaced by `JOB`.
fn data_files(dataset: &Path) -> Vec<(String, Vec<u8>)> {
    let m: engine::Manifest =
        serde_json::from_slice(&std::fs::read(dataset.join("_idbsync/manifest.json")).unwrap()).unwrap();
    assert!(dataset.join("_SUCCESS").is_file(), "{} is not committed", dataset.display());
    assert!(!dataset.join("_temporary").exists(), "{}: staging left", dataset.display());
    m.files.iter().map(|f| (f.path.replace(&m.job_id, "JOB"), std::fs::read(dataset.join(&f.path)).unwrap())).collect()
}

fn orders(dir: &Path, name: &str, records: u64, seed: u64) -> PathBuf {
    let input = dir.join(name);
    let f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    testdata_gen::OrderGen::new().with_seed(seed).with_records(records).write_ndjson(f).unwrap();
    input
}

/// Staged Parquet files of the `orders` dataset under `out`.
fn staged(out: &Path) -> usize {
    files(&out.join("orders/_temporary")).iter().filter(|f| f.ends_with(".parquet")).count()
}

// ---------------------------------------------------------------------------------------
// convert
// ---------------------------------------------------------------------------------------

#[test]
fn convert_interrupted_anywhere_before_its_commit_leaves_nothing_and_a_rerun_writes_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    // 40k orders (16 MB): a debug build converts them in a few seconds, into several files.
    let input = orders(dir.path(), "orders.ndjson", 40_000, 42);
    let args = |out: &'static str| ["convert", s(&input), "--out", out, "--max-file-size", "1MB", "-q"];
    let started = Instant::now();
    idbsync(dir.path(), &args("reference"), None).success();
    let full = started.elapsed();
    eprintln!("uninterrupted run: {full:?}");
    let reference = data_files(&dir.path().join("reference/orders"));
    assert!(reference.len() >= 3, "{} files", reference.len());
    let out = dir.path().join("out");
    let left = "nothing was committed to out (staging removed)";

    // While files are being written: as soon as one is staged.
    let mut child = spawn(dir.path(), &args("out"));
    wait_for_handler(&mut child);
    wait_until(&mut child, "a staged data file", || staged(&out) > 0);
    sigint(&child);
    assert_interrupted(&finish(child, "staged"), left, "interrupted while writing");
    assert!(!out.exists(), "the output folder this run made is left: {:?}", files(&out));

    // At seeded points spread over the run (inference, writing, closing, the commit).
    let (mut interrupted, mut mid_write) = (0, 0);
    const POINTS: u32 = 6;
    for delay in kill_delays(full, POINTS, 0x5161) {
        let mut child = spawn(dir.path(), &args("out"));
        let spawned = Instant::now();
        wait_for_handler(&mut child);
        std::thread::sleep(delay.saturating_sub(spawned.elapsed()));
        let staged_then = staged(&out);
        sigint(&child);
        let what = format!("SIGINT after {delay:?} of {full:?} ({staged_then} files staged)");
        let o = finish(child, &what);
        eprintln!("{what}: exit {:?}", o.status.code());
        if o.status.code() == Some(0) {
            // Too late to stop: the run finished (or was committing, which is finished).
            assert!(data_files(&out.join("orders")) == reference, "{what}: the data differ");
            std::fs::remove_dir_all(&out).unwrap();
        } else {
            assert_interrupted(&o, left, &what);
            assert!(!out.exists(), "{what}: left {:?}", files(&out));
            interrupted += 1;
            mid_write += usize::from(staged_then > 0);
        }
    }
    assert!(interrupted >= POINTS / 2, "only {interrupted} of {POINTS} runs were interrupted");
    // Where the spread points land depends on the machine's load; an interrupt while files
    // are staged is made certain above (it waits for a staged file), so this only reports.
    eprintln!("{mid_write} of {interrupted} spread interrupts landed while files were staged");

    // The rerun writes what the uninterrupted run wrote.
    idbsync(dir.path(), &args("out"), None).success();
    assert!(data_files(&out.join("orders")) == reference, "the rerun's data files differ");
}

#[test]
fn sigterm_stops_a_conversion_as_sigint_does() {
    let dir = tempfile::tempdir().unwrap();
    let input = orders(dir.path(), "orders.ndjson", 10_000, 8);
    let out = dir.path().join("out");
    let mut child = spawn(dir.path(), &["convert", s(&input), "--out", "out", "--max-file-size", "100KB", "-q"]);
    wait_for_handler(&mut child);
    wait_until(&mut child, "a staged data file", || staged(&out) > 0);
    signal(&child, libc::SIGTERM);
    let o = finish(child, "SIGTERM");
    assert_interrupted(&o, "nothing was committed to out (staging removed)", "SIGTERM");
    assert!(!out.exists(), "left {:?}", files(&out));
}

#[test]
fn an_interrupt_during_the_commit_lets_it_finish() {
    let dir = tempfile::tempdir().unwrap();
    let input = orders(dir.path(), "orders.ndjson", 10_000, 3);
    // Many small files make the commit (one rename per file) long enough to be caught.
    let args = |out: &'static str| ["convert", s(&input), "--out", out, "--max-file-size", "40KB", "-q"];
    idbsync(dir.path(), &args("reference"), None).success();
    let reference = data_files(&dir.path().join("reference/orders"));
    assert!(reference.len() >= 10, "{} files", reference.len());

    let ds = dir.path().join("out/orders");
    let mut child = spawn(dir.path(), &args("out"));
    wait_for_handler(&mut child);
    wait_until(&mut child, "a published data file", || {
        std::fs::read_dir(&ds)
            .is_ok_and(|rd| rd.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".parquet")))
    });
    sigint(&child);
    let o = finish(child, "commit");
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "an interrupted commit must be finished: {stderr}");
    assert!(data_files(&ds) == reference, "the committed files differ from an uninterrupted run's");
    eprintln!("stderr of the run interrupted during its commit:\n{stderr}");
}

/// Input from a pipe: the interrupt arrives while stdin is being spooled (the run is blocked
/// reading), so the first interrupt cannot finish until more input comes; a second one
/// exits at once.
#[test]
fn interrupts_while_spooling_stdin_remove_the_spool_and_a_second_one_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let input = std::fs::read(orders(dir.path(), "orders.ndjson", 5_000, 9)).unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let args = ["convert", "-", "--store", "orders", "--out", "out", "-q"];
    let start = |dir: &Path| {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(dir)
            .env("TMPDIR", &tmp)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Once 1 MB went into the pipe (64 KB of buffer), the run is spooling it.
        child.stdin.as_mut().unwrap().write_all(&input[..1 << 20]).unwrap();
        wait_for_handler(&mut child);
        // Until it has read what the pipe still holds, an interrupt stops it at its next
        // read without more input: wait until it is blocked reading the empty pipe.
        let pid = child.id();
        wait_until(&mut child, "the run blocked reading stdin", || blocked_reading_stdin(pid));
        child
    };

    // One interrupt, then more input: the next read stops the spooling.
    let mut child = start(dir.path());
    sigint(&child);
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(&input[1 << 20..]); // the run may stop reading: a broken pipe
    drop(stdin);
    assert_interrupted(&finish(child, "spooling"), "nothing was committed to out (staging removed)", "spooling");
    assert_eq!(names_in(&tmp), Vec::<String>::new(), "the stdin spool is left");
    assert!(!dir.path().join("out").exists());

    // Two interrupts while it waits for input that never comes: the second exits at once.
    let mut child = start(dir.path());
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    sigint(&child);
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert_eq!(first, STOPPING);
    sigint(&child);
    let o = finish(child, "second interrupt");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(o.status.code(), Some(130), "{rest}");
    assert_eq!(rest, "idbsync: interrupted again: exiting now (the next run removes what is left)\n");
    assert!(!dir.path().join("out").exists());

    // Nothing was committed: a full run into the same place works.
    idbsync(dir.path(), &args, Some(&input)).success();
    assert_eq!(data_files(&dir.path().join("out/orders")).len(), 1);
}

// ---------------------------------------------------------------------------------------
// download --to FILE
// ---------------------------------------------------------------------------------------

#[test]
fn an_interrupted_download_removes_its_temporary_file_and_a_rerun_writes_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let input = orders(dir.path(), "orders.ndjson", 40_000, 17);
    idbsync(dir.path(), &["convert", s(&input), "--out", "ds", "-q"], None).success();
    let args = |to: &'static str| ["download", "ds", "--table", "orders", "--format", "dexie", "--to", to, "-q"];
    idbsync(dir.path(), &args("reference.json"), None).success();
    let reference = std::fs::read(dir.path().join("reference.json")).unwrap();

    let names = || names_in(dir.path()).into_iter().filter(|f| f.contains("orders.json")).collect::<Vec<_>>();
    let mut child = spawn(dir.path(), &args("orders.json"));
    wait_for_handler(&mut child);
    wait_until(&mut child, "the temporary download file", || !names().is_empty());
    let seen = names();
    assert!(seen.iter().all(|n| n.starts_with(".orders.json.") && n.ends_with(".idbsync-tmp")), "{seen:?}");
    sigint(&child);
    let o = finish(child, "download");
    assert_interrupted(&o, "orders.json was not written (its temporary file was removed)", "download");
    assert_eq!(names(), Vec::<String>::new(), "the download left a file");

    idbsync(dir.path(), &args("orders.json"), None).success();
    assert!(std::fs::read(dir.path().join("orders.json")).unwrap() == reference, "the rerun's download differs");
}

// ---------------------------------------------------------------------------------------
// put and get (HDFS)
// ---------------------------------------------------------------------------------------

#[cfg(feature = "hdfs")]
#[test]
fn interrupted_put_and_get_publish_nothing_and_reruns_copy_the_same_bytes() {
    use engine::Sink;
    let Some(dfs) = minidfs::shared_or_skip("interrupted_put_and_get") else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = orders(dir.path(), "orders.ndjson", 40_000, 23);
    // Many files: the copy takes a while and the interrupt lands between them.
    idbsync(dir.path(), &["convert", s(&input), "--out", "shop", "--max-file-size", "256KB", "-q"], None).success();
    let parent = engine::HdfsSink::connect(&dfs.uri("/interrupt"), &engine::StorageOptions::new()).unwrap();
    let remote = dfs.uri("/interrupt/shop");
    let remote_names = || parent.list("").unwrap().into_iter().map(|e| e.name).collect::<Vec<_>>();

    let put = ["put", "shop", remote.as_str(), "--parallel", "1", "-q"];
    let mut child = spawn(dir.path(), &put);
    wait_for_handler(&mut child);
    wait_until(&mut child, "the put's staging on HDFS", || {
        remote_names().iter().any(|n| n.starts_with(".shop.idbsync-"))
    });
    sigint(&child);
    let o = finish(child, "put");
    assert_interrupted(&o, &format!("nothing was published to {remote} (staging removed)"), "put");
    assert_eq!(remote_names(), Vec::<String>::new(), "the interrupted put left something on HDFS");

    idbsync(dir.path(), &put, None).success();
    let get = ["get", remote.as_str(), "back", "--parallel", "1", "-q"];
    let mut child = spawn(dir.path(), &get);
    wait_for_handler(&mut child);
    wait_until(&mut child, "the get's staging", || {
        std::fs::read_dir(dir.path()).unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with(".back."))
    });
    sigint(&child);
    let o = finish(child, "get");
    assert_interrupted(&o, "nothing was published to back (staging removed)", "get");
    let local: Vec<String> = names_in(dir.path()).into_iter().filter(|f| f.contains("back")).collect();
    assert_eq!(local, Vec::<String>::new(), "the interrupted get left something");

    idbsync(dir.path(), &get, None).success();
    let (a, b) = (local_tree(&dir.path().join("shop")), local_tree(&dir.path().join("back")));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert!(a == b, "the files got back differ from those put");
}
