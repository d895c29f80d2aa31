//! A first push streamed into new tables ([`super::load`]), and the two ways it gives way
//! to the usual push: a key met twice, and another writer's commit between the table's
//! creation and its rows. Either way nothing is lost, nothing is there twice, and no file
//! the table does not refer to is left behind.

use super::concurrency_tests::{input, key, names, other, read_now, rows, STORE};
use super::load;
use super::push::{infer, PushOptions, PushStatus};
use super::{push, PushStage};
use schema_infer::InferOptions;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The data files in the table's folder that no commit of its log adds (or writes as
/// change data): what a push that did not commit would leave.
fn unreferenced(root: &str) -> Vec<String> {
    let table = Path::new(root).join(STORE);
    let mut logged = BTreeSet::new();
    for e in std::fs::read_dir(table.join("_delta_log")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            for line in std::fs::read_to_string(&p).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                for kind in ["add", "cdc"] {
                    if let Some(path) = v[kind]["path"].as_str() {
                        logged.insert(path.to_owned());
                    }
                }
            }
        }
    }
    let mut on_disk = Vec::new();
    let mut dirs = vec![table.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(&table).unwrap().display().to_string();
            if p.is_dir() {
                if rel != "_delta_log" {
                    dirs.push(p);
                }
            } else if rel.ends_with(".parquet") {
                on_disk.push(rel);
            }
        }
    }
    on_disk.retain(|f| !logged.contains(f));
    on_disk
}

#[test]
fn a_first_push_of_new_keys_is_streamed_and_a_delete_of_a_key_not_there_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let opts = PushOptions::new().with_batch("phone", 1).with_progress(move |s| log.lock().unwrap().push(s.clone()));
    let records = [json!({"id": 2, "by": "me"}), json!({"id": 9, "_deleted": true}), json!({"id": 1, "by": "me"})];
    let r = other(dir.path(), &root, &records, opts);
    assert_eq!((r.status, r.created, r.read, r.upserted, r.unchanged), (PushStatus::Committed, true, 3, 2, 1));
    assert_eq!((r.checkpoint, r.superseded), (1, 0));
    assert!(seen.lock().unwrap().contains(&PushStage::Writing { records: 2 }), "{:?}", seen.lock().unwrap());
    let (now, version) = rows(&root);
    assert_eq!((names(&now), version), (vec![(1, "me"), (2, "me")], 1));
    // The batch is recorded with the rows: the same batch again changes nothing.
    let again = other(dir.path(), &root, &records, PushOptions::new().with_batch("phone", 1));
    assert_eq!(again.status, PushStatus::AlreadyApplied);
    assert_eq!(unreferenced(&root), Vec::<String>::new());
}

#[test]
fn a_first_push_with_a_key_twice_gives_way_to_a_merge_where_the_last_record_wins() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let records = [
        json!({"id": 1, "by": "first"}),
        json!({"id": 2, "by": "me"}),
        json!({"id": 1, "by": "last"}),
        json!({"id": 3, "by": "me"}),
        json!({"id": 3, "_deleted": true}),
    ];
    let r = other(dir.path(), &root, &records, PushOptions::new());
    assert_eq!((r.status, r.created, r.upserted, r.superseded, r.unchanged), (PushStatus::Committed, true, 2, 2, 3));
    let (now, _) = rows(&root);
    assert_eq!(names(&now), [(1, "last"), (2, "me")]);
    assert_eq!(unreferenced(&root), Vec::<String>::new());
}

#[test]
fn a_streamed_first_push_whose_commit_loses_deletes_its_files_and_the_push_merges_instead() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let rt = super::runtime().unwrap();
    let mine_dir = dir.path().join("mine");
    std::fs::create_dir(&mine_dir).unwrap();
    let path = input(&mine_dir, &[json!({"id": 1, "by": "me"}), json!({"id": 2, "by": "me"})]);
    let infer_opts = InferOptions::default().with_store_name(STORE.to_owned());
    let first = infer(&std::fs::read(&path).unwrap(), infer_opts, &path).unwrap();
    let opts = PushOptions::new().with_key(Some(key()));

    let t = read_now(&rt, &root, None);
    assert!(!t.exists);
    let mut w = vec![load::create(&rt, t, &first, &opts).unwrap().expect("the table is created")];
    assert!(load::stream(&rt, &path, STORE, &first, &opts, &mut w).is_ok());
    // Another writer commits to the new table before the rows are.
    other(dir.path(), &root, &[json!({"id": 2, "by": "other"}), json!({"id": 3, "by": "other"})], PushOptions::new());
    let lost = load::commit(&rt, w.pop().unwrap(), &root, &opts).unwrap();
    assert!(lost.is_none(), "a commit after another writer's is not made over it");
    assert_eq!(unreferenced(&root), Vec::<String>::new());
    assert_eq!(names(&rows(&root).0), [(2, "other"), (3, "other")]);

    // The push as a whole merges into the table that is there now.
    let r = push(&path, &root, opts).unwrap().tables.remove(0);
    assert_eq!((r.status, r.created, r.upserted), (PushStatus::Committed, false, 2));
    assert_eq!(names(&rows(&root).0), [(1, "me"), (2, "me"), (3, "other")]);
}
