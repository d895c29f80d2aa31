//! Crashes and HDFS faults, with the real binary and a real HDFS (Hadoop's MiniDFSCluster):
//!
//! - `convert --out hdfs://…`, `put` (local folder → HDFS) and `get` (HDFS → local folder)
//!   killed with SIGKILL at seeded points spread over an uninterrupted run: nothing looks
//!   committed, no partial file is visible outside the staging, and a rerun writes the
//!   bytes of an uninterrupted run;
//! - a DataNode stopped during an upload, and the NameNode stopped (during an upload, and
//!   before a command), on a cluster of this test's own.

mod common;

use common::{files, idbsync, is_whole_parquet, local_tree, s, KillTest, Left, BIN};
use engine::{HdfsSink, Sink, StorageOptions};
use minidfs::MiniDfs;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The kill tests spread their kills over a measured run: they run one at a time, so that
/// another test of this binary does not slow one run and not the next.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn sink(dfs: &MiniDfs, path: &str) -> HdfsSink {
    HdfsSink::connect(&dfs.uri(path), &StorageOptions::new()).unwrap()
}

/// Every file under `dir` of `sink` with its size, as sorted relative paths.
fn sink_files(sink: &dyn Sink, dir: &str) -> Vec<(String, u64)> {
    fn walk(sink: &dyn Sink, dir: &str, rel: &str, out: &mut Vec<(String, u64)>) {
        let here = if rel.is_empty() { dir.to_owned() } else { format!("{dir}/{rel}") };
        for e in sink.list(&here).unwrap() {
            let child = if rel.is_empty() { e.name.clone() } else { format!("{rel}/{}", e.name) };
            if e.is_dir {
                walk(sink, dir, &child, out);
            } else {
                out.push((child, e.len));
            }
        }
    }
    let mut out = Vec::new();
    walk(sink, dir, "", &mut out);
    out
}

/// Every file under `dir` of `sink` with its bytes.
fn sink_tree(sink: &dyn Sink, dir: &str) -> Vec<(String, Vec<u8>)> {
    sink_files(sink, dir).into_iter().map(|(f, _)| (f.clone(), sink.read(&format!("{dir}/{f}")).unwrap())).collect()
}

/// A local dataset tree to copy: 20k generated orders converted into ~40 small files.
fn dataset(dir: &Path) -> std::path::PathBuf {
    let input = dir.join("orders.ndjson");
    let file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    testdata_gen::OrderGen::new().with_seed(11).with_records(20_000).write_ndjson(file).unwrap();
    let out = dir.join("shop");
    idbsync(dir, &["convert", s(&input), "--out", s(&out), "--max-file-size", "50KB", "-q"], None).success();
    std::fs::remove_file(input).unwrap();
    out
}

/// Checks what a copy run left beside its destination `dest` (`entries`: the names and
/// kinds in its parent folder): besides the destination (published whole, in one rename)
/// only staging folders (`.<dest>.idbsync-<job>`), whose files `staged_files` counts.
fn check_copy(entries: Vec<(String, bool)>, staged_files: &dyn Fn(&str) -> usize, dest: &str, what: &str) -> Left {
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let stage = format!(".{dest}.idbsync-");
    let mut staged = 0;
    for (name, is_dir) in &entries {
        if name == dest || name == "reference" {
            continue;
        }
        assert!(name.starts_with(&stage) && *is_dir, "{what}: {name} is visible beside {dest}: {names:?}");
        staged += staged_files(name);
    }
    Left { committed: names.contains(&dest), staged }
}

// ---------------------------------------------------------------------------------------
// Killed runs
// ---------------------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn killed_converts_to_hdfs_commit_nothing_and_a_rerun_writes_what_an_uninterrupted_run_writes() {
    let Some(dfs) = minidfs::shared_or_skip("killed_converts_to_hdfs") else { return };
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("orders.ndjson");
    let file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    testdata_gen::OrderGen::new().with_seed(42).with_records(20_000).write_ndjson(file).unwrap();
    let root = sink(dfs, "/faults/convert");
    let args = |out: &str| -> Vec<String> {
        let to = dfs.uri(&format!("/faults/convert/{out}"));
        ["convert", s(&input), "--out", &to, "--max-file-size", "256KB", "-q"].iter().map(|a| a.to_string()).collect()
    };
    let check = |out: &str, what: &str| -> Left {
        let ds = format!("{out}/orders");
        let all = sink_files(&root, &ds);
        let names: Vec<&str> = all.iter().map(|(f, _)| f.as_str()).collect();
        let success = names.contains(&"_SUCCESS");
        assert!(
            !success || names.contains(&"_idbsync/manifest.json"),
            "{what}: _SUCCESS without a manifest: {names:?}"
        );
        if !success {
            // A killed commit may have published whole files (the next run removes them);
            // never a partial one.
            for f in names.iter().filter(|f| f.ends_with(".parquet") && !f.starts_with("_temporary/")) {
                let bytes = root.read(&format!("{ds}/{f}")).unwrap();
                assert!(is_whole_parquet(&bytes), "{what}: a partial file outside _temporary: {f} ({names:?})");
            }
        }
        let staged = names.iter().filter(|f| f.starts_with("_temporary/") && f.ends_with(".parquet")).count();
        Left { committed: success, staged }
    };
    let output = |out: &str| -> Vec<(String, Vec<u8>)> {
        let ds = format!("{out}/orders");
        let m: engine::Manifest =
            serde_json::from_slice(&root.read(&format!("{ds}/_idbsync/manifest.json")).unwrap()).unwrap();
        sink_tree(&root, &ds)
            .into_iter()
            .filter(|(f, _)| f.ends_with(".parquet") && !f.starts_with('_'))
            .map(|(f, b)| (f.replace(&m.job_id, "JOB"), b))
            .collect()
    };
    let rerun = KillTest {
        dir: dir.path(),
        args: &args,
        check: &check,
        reset: &|out| root.remove_all(out).unwrap(),
        output: &output,
        kills: 8,
        seed: 0x4D46_5331,
    }
    .run("reference", "out");
    assert!(rerun.len() >= 4, "{} files", rerun.len());
    // Nothing of the killed runs is left, as Hadoop's own client sees it too.
    let ls = dfs.fs_shell_ok(&["-ls", "-R", "/faults/convert/out"]);
    assert!(!ls.contains("_temporary"), "{ls}");
    let job: engine::Manifest =
        serde_json::from_slice(&root.read("out/orders/_idbsync/manifest.json").unwrap()).unwrap();
    let parquet: Vec<&str> = ls.lines().filter(|l| l.ends_with(".parquet")).collect();
    assert_eq!(parquet.len(), rerun.len(), "{ls}");
    assert!(parquet.iter().all(|l| l.contains(&job.job_id)), "files of a killed run remain:\n{ls}");
    root.remove_all("").unwrap();
}

#[cfg(unix)]
#[test]
fn killed_puts_and_gets_publish_nothing_and_a_rerun_copies_what_an_uninterrupted_run_copies() {
    let Some(dfs) = minidfs::shared_or_skip("killed_puts_and_gets") else { return };
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let src = dataset(dir.path());
    let want = local_tree(&src);
    assert!(want.len() >= 20, "{} files", want.len());
    let as_vec = |t: BTreeMap<String, Vec<u8>>| t.into_iter().collect::<Vec<_>>();

    // put: a local folder to HDFS.
    let parent = sink(dfs, "/faults/put");
    let put = |to: &str| -> Vec<String> {
        ["put", s(&src), &dfs.uri(&format!("/faults/put/{to}")), "--parallel", "2", "-q"]
            .iter()
            .map(|a| a.to_string())
            .collect()
    };
    let check = |dest: &str, what: &str| -> Left {
        let entries = parent.list("").unwrap().into_iter().map(|e| (e.name, e.is_dir)).collect();
        check_copy(entries, &|stage| sink_files(&parent, stage).len(), dest, what)
    };
    let copied = KillTest {
        dir: dir.path(),
        args: &put,
        check: &check,
        reset: &|dest| parent.remove_all(dest).unwrap(),
        output: &|dest| sink_tree(&parent, dest),
        kills: 10,
        seed: 0x5055_5431,
    }
    .run("reference", "out");
    assert!(copied == as_vec(want.clone()), "what put copied differs from the local tree");

    // get: HDFS to a local folder (the tree put copied).
    let local = dir.path().join("got");
    std::fs::create_dir(&local).unwrap();
    let get = |to: &str| -> Vec<String> {
        ["get", &dfs.uri("/faults/put/out"), s(&local.join(to)), "--parallel", "2", "-q"]
            .iter()
            .map(|a| a.to_string())
            .collect()
    };
    let check = |dest: &str, what: &str| -> Left {
        let entries = std::fs::read_dir(&local)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name().to_string_lossy().into_owned(), e.path().is_dir())
            })
            .collect();
        check_copy(entries, &|stage| files(&local.join(stage)).len(), dest, what)
    };
    let got = KillTest {
        dir: dir.path(),
        args: &get,
        check: &check,
        reset: &|dest| std::fs::remove_dir_all(local.join(dest)).unwrap(),
        output: &|dest| as_vec(local_tree(&local.join(dest))),
        kills: 10,
        seed: 0x4745_5431,
    }
    .run("reference", "out");
    assert!(got == as_vec(want), "what get copied differs from the original tree");
    parent.remove_all("").unwrap();
}

// ---------------------------------------------------------------------------------------
// DataNode and NameNode failures (a cluster of this test's own)
// ---------------------------------------------------------------------------------------

/// Deterministic bytes that do not compress.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&common::splitmix(&mut state).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Starts `idbsync args…` in `dir`, its stderr going to the file `stderr`.
fn spawn(dir: &Path, args: &[&str], stderr: &Path) -> Child {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .unwrap()
}

/// Waits for `child` (at most `limit`), returning its exit code, its stderr (from the file
/// `stderr`) and the time it took to end.
fn finish(mut child: Child, stderr: &Path, limit: Duration, what: &str) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status.code(), std::fs::read_to_string(stderr).unwrap(), started.elapsed())
}

/// The replicas being written (`rbw/blk_*` files) in the DataNodes' storage under `dir`,
/// with the bytes that reached each.
fn rbw_files(dir: &Path, out: &mut BTreeMap<std::path::PathBuf, u64>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            rbw_files(&p, out);
        } else if dir.ends_with("rbw") && e.file_name().to_string_lossy().starts_with("blk_") {
            out.insert(p, e.metadata().map(|m| m.len()).unwrap_or(0));
        }
    }
}

/// How many finished replicas of `content` the DataNodes' storage holds (`finalized/…/blk_*`
/// files of its length starting with its first bytes): a DataNode stopped in the middle of
/// the block holds none.
fn finalized_replicas(dir: &Path, content: &[u8]) -> usize {
    let mut n = 0;
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            n += finalized_replicas(&p, content);
        } else if name.starts_with("blk_")
            && !name.ends_with(".meta")
            && p.components().any(|c| c.as_os_str() == "finalized")
            && e.metadata().is_ok_and(|m| m.len() == content.len() as u64)
        {
            let mut head = [0u8; 64];
            let mut f = std::fs::File::open(&p).unwrap();
            std::io::Read::read_exact(&mut f, &mut head).unwrap();
            n += usize::from(head == content[..64]);
        }
    }
    n
}

/// Waits until at least `bytes` bytes of a block being written, not among the `old`
/// replicas, sit on a DataNode: the signal that an upload is under way (its pipeline set
/// up, data flowing).
fn wait_for_upload(dfs: &MiniDfs, old: &BTreeMap<std::path::PathBuf, u64>, bytes: u64, child: &mut Child) {
    let started = Instant::now();
    loop {
        let mut now = BTreeMap::new();
        rbw_files(&dfs.base_dir().join("dfs"), &mut now);
        if now.iter().any(|(p, len)| *len >= bytes && !old.contains_key(p)) {
            return;
        }
        assert!(child.try_wait().unwrap().is_none(), "the upload ended before it was seen under way");
        assert!(started.elapsed() < Duration::from_secs(60), "no upload under way after 60 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `put` of `src` to `to` with `extra` options, stops what `fault` stops once the
/// upload is under way, and returns the exit code, stderr and time the command took
/// (from the fault on).
fn put_with_fault(
    dfs: &MiniDfs,
    dir: &Path,
    src: &Path,
    to: &str,
    extra: &[&str],
    fault: &str,
) -> (Option<i32>, String, Duration) {
    let mut args = vec!["put", s(src), to, "--block-size", "128MiB"];
    args.extend_from_slice(extra);
    // Partial replicas that earlier failures left on stopped DataNodes are no signal.
    let mut old = BTreeMap::new();
    rbw_files(&dfs.base_dir().join("dfs"), &mut old);
    let stderr = dir.join("put.stderr");
    let mut child = spawn(dir, &args, &stderr);
    wait_for_upload(dfs, &old, 4 << 20, &mut child);
    dfs.command(fault).unwrap();
    let (code, stderr, took) = finish(child, &stderr, Duration::from_secs(180), &format!("put with {fault}"));
    assert!(!stderr.contains("panicked"), "{stderr}");
    (code, stderr, took)
}

#[test]
fn datanode_and_namenode_failures_end_cleanly() {
    if minidfs::skip("datanode_and_namenode_failures_end_cleanly") {
        return;
    }
    let dfs = MiniDfs::builder().datanodes(3).start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big");
    std::fs::create_dir(&src).unwrap();
    // One 96 MiB file in one 128 MiB block: the DataNodes fail in the middle of a block.
    let storage = dfs.base_dir().join("dfs");
    let parent = sink(&dfs, "/up");
    let names = || -> Vec<String> { parent.list("").unwrap().into_iter().map(|e| e.name).collect() };

    // A DataNode stops mid-block, twice: with replication 3 and Hadoop's default
    // replacement policy (which wants a new DataNode, and there is none left), then with
    // replication 2 and best-effort replacement (what small clusters set). The copy either
    // completes with every byte in place (and the stopped DataNode holds no finished
    // replica: it did stop mid-block), or fails naming the file, with nothing visible.
    // (With hdfs-native 0.13.5 the first fails, the second completes on the DataNode left.)
    let best_effort = "dfs.client.block.write.replace-datanode-on-failure.best-effort=true";
    let rounds: [(&str, &[&str], usize, u64); 2] =
        [("r3", &["--replication", "3"], 0, 7), ("r2", &["--replication", "2", "--hdfs-conf", best_effort], 1, 8)];
    for (name, extra, node, seed) in rounds {
        let bytes = noise(96 << 20, seed);
        std::fs::write(src.join("part-0.bin"), &bytes).unwrap();
        let to = dfs.uri(&format!("/up/{name}"));
        let (code, stderr, _) = put_with_fault(&dfs, dir.path(), &src, &to, extra, &format!("stop-datanode {node}"));
        // From here on the NameNode places no block on the stopped DataNode.
        dfs.command(&format!("mark-datanode-dead {node}")).unwrap();
        let replicas: usize = extra[1].parse().unwrap();
        if code == Some(0) {
            eprintln!("{name}: a DataNode stopped mid-block: the copy completed on the others");
            assert_eq!(parent.read(&format!("{name}/part-0.bin")).unwrap(), bytes, "{name}: the bytes differ");
            assert!(names().iter().all(|n| !n.starts_with('.')), "{name}: staging left: {:?}", names());
            let finished = finalized_replicas(&storage, &bytes);
            assert_eq!(finished, replicas - 1, "{name}: the DataNode stopped after the block was done");
        } else {
            eprintln!("{name}: a DataNode stopped mid-block: the copy failed cleanly:\n{stderr}");
            assert_eq!(code, Some(1), "{stderr}");
            assert!(stderr.contains(&format!("copying {} to {to}", s(&src))), "{stderr}");
            assert!(stderr.contains("part-0.bin: writing to the DataNodes failed"), "{stderr}");
            let left = names();
            assert!(left.iter().all(|n| n != name && !n.starts_with(&format!(".{name}."))), "{name}: left {left:?}");
        }
    }
    let bytes = noise(96 << 20, 9);
    std::fs::write(src.join("part-0.bin"), &bytes).unwrap();

    // 3. The NameNode stops while the file uploads: the copy fails within a bounded time,
    //    naming the NameNode; once it is back nothing is visible, and a rerun completes.
    let to = dfs.uri("/up/nn");
    let (code, stderr, took) = put_with_fault(&dfs, dir.path(), &src, &to, &["--replication", "1"], "stop-namenode");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(took < Duration::from_secs(60), "failing took {took:?}");
    assert!(stderr.contains(&format!("cannot reach the NameNode at {}", dfs.url)), "{stderr}");
    dfs.command("restart-namenode").unwrap();
    assert!(!names().contains(&"nn".to_owned()), "a failed copy is visible: {:?}", names());
    idbsync(dir.path(), &["put", s(&src), &to, "--replication", "1", "--block-size", "128MiB", "-q"], None).success();
    assert_eq!(parent.read("nn/part-0.bin").unwrap(), bytes);
    assert!(names().iter().all(|n| !n.starts_with(".nn.")), "the rerun removes the old staging: {:?}", names());

    // 4. With the NameNode down, each command fails within a bounded time (a refused
    //    connection is tried again 3 times, 1 s apart), naming the NameNode.
    dfs.command("stop-namenode").unwrap();
    let fixture = common::fixture("dexie-shop.json");
    let back = dir.path().join("back");
    let shop = dfs.uri("/down/shop");
    let commands: [Vec<&str>; 4] = [
        vec!["convert", s(&fixture), "--out", &shop],
        vec!["put", s(&src), &to, "--update"],
        vec!["get", &to, s(&back)],
        vec!["query", &to, "SELECT 1"],
    ];
    for args in &commands {
        let started = Instant::now();
        let run = idbsync(dir.path(), args, None);
        let took = started.elapsed();
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.stderr);
        assert!(took < Duration::from_secs(30), "{args:?} took {took:?}");
        let want = format!("cannot reach the NameNode at {}", dfs.url);
        assert!(run.stderr.contains(&want) && run.stderr.contains("Connection refused"), "{args:?}: {}", run.stderr);
    }
    assert!(!back.exists(), "a failed get made {}", back.display());
}

/// A NameNode that accepts connections and never answers (a hung or paused process):
/// `ipc.client.rpc-timeout.ms` bounds every call, so the command fails instead of waiting
/// forever.
#[test]
fn a_namenode_that_never_answers_is_a_clear_error_after_the_rpc_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept and hold every connection, reading nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let input = common::fixture("dexie-shop.json");
    let out = format!("hdfs://{addr}/hung");
    let started = Instant::now();
    let run = idbsync(
        dir.path(),
        &["convert", s(&input), "--out", &out, "--hdfs-conf", "ipc.client.rpc-timeout.ms=1500"],
        None,
    );
    let took = started.elapsed();
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("cannot reach the NameNode at hdfs://{addr}")), "{}", run.stderr);
    assert!(run.stderr.contains("no answer within 1.5 s (ipc.client.rpc-timeout.ms)"), "{}", run.stderr);
    // The first call waits 1.5 s; the clean-up after it at most 1.5 s per call.
    assert!(took < Duration::from_secs(20), "took {took:?}");
}
