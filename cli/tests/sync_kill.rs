//! `idbsync push` killed with SIGKILL, in a local folder and on HDFS (Hadoop's
//! MiniDFSCluster). A table of 3,000 rows gets a batch of 8,250 records (updates, deletes,
//! inserts: about a second's work in a debug build); the push is killed at eight seeded
//! points spread over an uninterrupted run, and at two observed ones: as soon as a new data
//! file shows in the table's folder, and as soon as the new commit file shows in its log.
//! After each kill the table must read as before the batch or as after it, exactly (row
//! for row, at version 1 or 2), never in between; the same batch pushed again must then
//! be applied exactly once (or found already applied), leaving the table equal to the model.
#![cfg(unix)]

mod common;

use common::kill_delays;
use common::sync::{apply, assert_rows, check_accounting, ndjson, pull_all, push, push_args, spawn_push, Rows, STORE};
use serde_json::{json, Value};
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BASE: usize = 3_000;
const NEW: usize = 6_000;
/// How long a run may take before the test gives up on it.
const PATIENCE: Duration = Duration::from_secs(120);

fn base() -> Vec<Value> {
    (0..BASE)
        .map(|i| {
            json!({"id": i, "name": format!("item {i}"), "qty": i, "price": i as f64 * 0.5 + 0.25, "tags": ["a", "b"], "note": "x".repeat(40)})
        })
        .collect()
}

/// Updates every even row, deletes every fourth (from 1), adds `NEW` rows.
fn batch() -> Vec<Value> {
    let mut v: Vec<Value> = (0..BASE)
        .step_by(2)
        .map(|i| json!({"id": i, "name": format!("item {i} v2"), "qty": i + 1, "price": i as f64 * 0.5 + 0.25, "tags": ["a"], "note": "y".repeat(40)}))
        .collect();
    v.extend((1..BASE).step_by(4).map(|i| json!({"id": i, "_deleted": true})));
    v.extend((BASE..BASE + NEW).map(|i| {
        json!({"id": i, "name": format!("item {i}"), "qty": i, "price": i as f64 * 0.5 + 0.25, "tags": ["c"], "note": "z".repeat(40)})
    }));
    v
}

/// Where a run is killed.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// After this long.
    After(Duration),
    /// As soon as a file the table did not have shows in its folder or its `_change_data`
    /// (the merge is writing its data files).
    DataFile,
    /// As soon as the batch's commit file (version 2) shows in the table's log.
    Commit,
}

/// Lists the folders of the table under a root.
struct Lister(Arc<dyn engine::Sink>);

impl Lister {
    fn new(root: &str) -> Lister {
        let loc = engine::Location::parse(root).unwrap();
        Lister(engine::open_sink(&loc, &engine::StorageOptions::new()).unwrap())
    }

    /// The names in the table's folder `sub` (`""` or `/_delta_log`), sorted; none when
    /// it cannot be listed.
    fn names(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> =
            self.0.list(&format!("{STORE}{sub}")).unwrap_or_default().into_iter().map(|e| e.name).collect();
        v.sort();
        v
    }
}

fn kill_pushes(root_of: &dyn Fn(&str) -> String) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (base, batch) = (base(), batch());
    let (base_in, batch_in) = (dir.join("base.ndjson"), dir.join("batch.ndjson"));
    std::fs::write(&base_in, ndjson(&base)).unwrap();
    std::fs::write(&batch_in, ndjson(&batch)).unwrap();
    let mut old = Rows::new();
    apply(&mut old, &base);
    let mut new = old.clone();
    apply(&mut new, &batch);
    let base_args = |root: &str| push_args(&base_in, root, "k", 1);
    let batch_args = |root: &str| push_args(&batch_in, root, "k", 2);

    // An uninterrupted run sets the kill points.
    let reference = root_of("reference");
    push(dir, &base_args(&reference));
    let started = Instant::now();
    let r = push(dir, &batch_args(&reference));
    let full = started.elapsed();
    eprintln!("{reference}: uninterrupted push of {} records: {full:?}", batch.len());
    check_accounting(&r, "uninterrupted");
    assert_eq!((r["upserted"].as_u64(), r["deleted"].as_u64()), (Some(BASE as u64 / 2 + NEW as u64), Some(750)));
    let (rows, version) = pull_all(dir, &reference);
    assert_eq!(version, 2);
    assert_rows(&rows, &new, "uninterrupted");

    let mut points: Vec<KillAt> = kill_delays(full, 8, 0x5eed).into_iter().map(KillAt::After).collect();
    points.extend([KillAt::DataFile, KillAt::Commit]);
    let (mut old_seen, mut new_seen, mut mid_write) = (0, 0, 0);
    for (i, point) in points.into_iter().enumerate() {
        let root = root_of(&format!("t{i}"));
        push(dir, &base_args(&root));
        let table = Lister::new(&root);
        let files_before = table.names("");
        let changes_before = table.names("/_change_data");
        let mut child = spawn_push(dir, &batch_args(&root));
        let spawned = Instant::now();
        let seen = |what: &dyn Fn() -> bool, child: &mut std::process::Child| {
            while !what() && child.try_wait().unwrap().is_none() {
                assert!(spawned.elapsed() < PATIENCE, "kill {i}: {point:?} not seen");
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        match point {
            KillAt::After(d) => std::thread::sleep(d),
            KillAt::DataFile => {
                seen(&|| table.names("") != files_before || table.names("/_change_data") != changes_before, &mut child)
            }
            KillAt::Commit => {
                seen(&|| table.names("/_delta_log").iter().any(|n| n == "00000000000000000002.json"), &mut child)
            }
        }
        let _ = child.kill(); // SIGKILL; an error only means it has already exited
        let status = child.wait().unwrap();
        let finished = status.signal().is_none();
        assert!(!finished || status.success(), "kill {i}: the run failed on its own: {status:?}");
        let what = format!("kill {i} ({point:?} of {full:?})");

        // Before or after, never between.
        let (rows, version) = pull_all(dir, &root);
        let orphans: Vec<String> = (table.names("").into_iter().filter(|n| !files_before.contains(n)))
            .chain(table.names("/_change_data").into_iter().filter(|n| !changes_before.contains(n)))
            .collect();
        let log: Vec<String> = table.names("/_delta_log");
        eprintln!("{what}: finished {finished}, table at version {version}; new files {orphans:?}; log {log:?}");
        let applied = match version {
            1 => {
                assert!(!finished, "{what}: the run finished without committing");
                assert_rows(&rows, &old, &format!("{what}: at the old version"));
                old_seen += 1;
                mid_write += usize::from(!orphans.is_empty());
                false
            }
            2 => {
                assert_rows(&rows, &new, &format!("{what}: at the new version"));
                new_seen += 1;
                true
            }
            v => panic!("{what}: table at version {v}"),
        };

        // The same batch again: applied once.
        let r = push(dir, &batch_args(&root));
        check_accounting(&r, &what);
        if applied {
            assert_eq!((r["status"].as_str(), r["checkpoint"].as_i64()), (Some("already_applied"), Some(2)), "{what}");
        } else {
            assert_eq!(r["status"], "committed", "{what}: {r}");
            assert_eq!(
                (r["upserted"].as_u64(), r["deleted"].as_u64()),
                (Some(BASE as u64 / 2 + NEW as u64), Some(750))
            );
        }
        let (rows, version) = pull_all(dir, &root);
        assert_eq!(version, 2, "{what}: after the batch again");
        assert_rows(&rows, &new, &format!("{what}: after the batch again"));
    }
    eprintln!("{old_seen} kills left the old version ({mid_write} with data files written), {new_seen} the new one");
    assert!(mid_write > 0, "no kill landed while data files were being written");
    assert!(new_seen > 0, "no kill landed after the commit");
}

#[test]
fn a_killed_push_leaves_a_local_table_before_or_after_its_batch_and_the_batch_again_applies_once() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_owned();
    kill_pushes(&|name| base.join(name).display().to_string());
}

#[cfg(feature = "hdfs")]
#[test]
fn a_killed_push_leaves_a_table_on_hdfs_before_or_after_its_batch_and_the_batch_again_applies_once() {
    let Some(dfs) = minidfs::shared_or_skip("a_killed_push_leaves_a_table_on_hdfs") else { return };
    kill_pushes(&|name| dfs.uri(&format!("/sync-kill/{name}")));
}
