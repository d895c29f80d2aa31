//! Pushes whose commit loses to another writer's, made deterministic: the table is read
//! (a stale [`Target`]) before another push commits, and the push is then applied to what
//! it read. It must start over against the new version: nothing lost, nothing twice.

use super::body::Body;
use super::push::{infer, Job, PushOptions, PushStatus, TablePush};
use super::target::{open_target, Target};
use super::{pull, push, KeyPath, PullOptions};
use crate::error::{Error, Result};
use schema_infer::InferOptions;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

pub(super) const STORE: &str = "items";

pub(super) fn key() -> KeyPath {
    KeyPath::parse("id").unwrap()
}

pub(super) fn input(dir: &Path, records: &[Value]) -> std::path::PathBuf {
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    let path = dir.join(format!("{STORE}.ndjson"));
    std::fs::write(&path, text).unwrap();
    path
}

/// An ordinary push: another writer.
pub(super) fn other(dir: &Path, root: &str, records: &[Value], opts: PushOptions) -> TablePush {
    let r = push(&input(dir, records), root, opts.with_key(Some(key()))).unwrap();
    r.tables.into_iter().next().unwrap()
}

/// The table as a push would read it now (with `batch`), to be applied to later.
pub(super) fn read_now(rt: &tokio::runtime::Runtime, root: &str, batch: Option<(&str, i64)>) -> Target {
    let opts = match batch {
        Some((client, seq)) => PushOptions::new().with_batch(client, seq),
        None => PushOptions::new(),
    };
    rt.block_on(open_target(root, &opts, STORE, key())).unwrap()
}

/// A push of `records` applied to `stale`, a table read before other writers committed.
fn push_to(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    root: &str,
    stale: Target,
    records: &[Value],
    opts: PushOptions,
) -> Result<TablePush> {
    let path = input(dir, records);
    let body = Body::in_memory(std::fs::read(&path).unwrap());
    let infer_opts = InferOptions::default().with_store_name(STORE.to_owned());
    let first = infer(&body.text()?, infer_opts.clone(), &path)?;
    let opts = opts.with_key(Some(key()));
    let job = Job {
        body: &body,
        input: &path,
        root,
        store_name: STORE,
        first,
        infer_opts,
        opts: &opts,
        earlier: Default::default(),
    };
    let d = job.decode_for(std::slice::from_ref(&stale))?.pop().unwrap();
    rt.block_on(job.apply_with_retries(stale, d)).map(|(r, _)| r)
}

/// The table's rows by id, and its version.
pub(super) fn rows(root: &str) -> (BTreeMap<i64, Value>, i64) {
    let mut out = Vec::new();
    let r = pull(root, STORE, &PullOptions::new(), &mut out).unwrap();
    let mut by_id = BTreeMap::new();
    for line in String::from_utf8(out).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(id) = v["id"].as_i64() {
            assert!(by_id.insert(id, v).is_none(), "key {id} is in the table twice");
        }
    }
    (by_id, r.checkpoint)
}

pub(super) fn names(rows: &BTreeMap<i64, Value>) -> Vec<(i64, &str)> {
    rows.iter().map(|(k, v)| (*k, v["by"].as_str().unwrap())).collect()
}

#[test]
fn a_push_that_loses_its_commit_is_redone_against_the_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let rt = super::runtime().unwrap();
    let start: Vec<Value> = (1..=3).map(|i| json!({"id": i, "by": "first"})).collect();
    other(dir.path(), &root, &start, PushOptions::new());
    let stale = read_now(&rt, &root, Some(("me", 1)));
    other(dir.path(), &root, &[json!({"id": 2, "by": "other"})], PushOptions::new());

    let mine = [json!({"id": 2, "by": "me"}), json!({"id": 4, "by": "me"})];
    let r = push_to(&rt, dir.path(), &root, stale, &mine, PushOptions::new().with_batch("me", 1)).unwrap();
    assert_eq!((r.status, r.attempts, r.checkpoint), (PushStatus::Committed, 2, 3));
    assert_eq!((r.upserted, r.deleted, r.unchanged), (2, 0, 0));
    // The later commit wins; nothing is lost or doubled.
    let (now, version) = rows(&root);
    assert_eq!(names(&now), [(1, "first"), (2, "me"), (3, "first"), (4, "me")]);
    assert_eq!(version, 3);
}

#[test]
fn a_batch_another_process_applied_meanwhile_is_already_applied() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let rt = super::runtime().unwrap();
    other(dir.path(), &root, &[json!({"id": 1, "by": "first"}), json!({"id": 2, "by": "first"})], PushOptions::new());
    let stale = read_now(&rt, &root, Some(("me", 5)));
    assert!(!stale.applied);
    let batch = [json!({"id": 2, "by": "me"}), json!({"id": 3, "by": "me"}), json!({"id": 1, "_deleted": true})];
    let first = other(dir.path(), &root, &batch, PushOptions::new().with_batch("me", 5));
    assert_eq!((first.status, first.checkpoint), (PushStatus::Committed, 2));

    let r = push_to(&rt, dir.path(), &root, stale, &batch, PushOptions::new().with_batch("me", 5)).unwrap();
    assert_eq!((r.status, r.attempts, r.checkpoint), (PushStatus::AlreadyApplied, 2, 2));
    assert_eq!((r.upserted, r.deleted, r.unchanged), (0, 0, 3));
    let (now, version) = rows(&root);
    assert_eq!(names(&now), [(2, "me"), (3, "me")]);
    assert_eq!(version, 2);
}

#[test]
fn a_table_another_process_created_meanwhile_is_merged_into() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let rt = super::runtime().unwrap();
    let stale = read_now(&rt, &root, None);
    assert!(!stale.exists);
    let theirs = other(dir.path(), &root, &[json!({"id": 1, "by": "other"}), json!({"id": 2, "by": "other"})], {
        PushOptions::new().with_batch("other", 1)
    });
    assert!(theirs.created);

    let mine = [json!({"id": 2, "by": "me", "extra": true}), json!({"id": 3, "by": "me"})];
    let r = push_to(&rt, dir.path(), &root, stale, &mine, PushOptions::new().with_batch("me", 1)).unwrap();
    assert_eq!((r.status, r.attempts, r.created), (PushStatus::Committed, 2, false));
    assert_eq!((r.upserted, r.new_columns.clone()), (2, vec!["extra".to_owned()]));
    let (now, version) = rows(&root);
    assert_eq!(names(&now), [(1, "other"), (2, "me"), (3, "me")]);
    assert_eq!((version, now[&2]["extra"].clone(), now[&1].get("extra")), (2, json!(true), None));
}

#[test]
fn a_push_that_loses_every_attempt_fails_naming_the_table_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let rt = super::runtime().unwrap();
    other(dir.path(), &root, &[json!({"id": 1, "by": "first"})], PushOptions::new());
    let stale = read_now(&rt, &root, None);
    other(dir.path(), &root, &[json!({"id": 1, "by": "other"})], PushOptions::new());

    let opts = PushOptions::new().with_max_attempts(1);
    let e = push_to(&rt, dir.path(), &root, stale, &[json!({"id": 1, "by": "me"})], opts).unwrap_err();
    assert!(matches!(e, Error::Contended { ref table, attempts: 1, .. } if table == STORE), "{e:?}");
    let text = e.to_string();
    assert!(text.starts_with("table 'items': gave up after 1 attempt(s)"), "{text}");
    let cause = std::error::Error::source(&e).unwrap().to_string();
    assert!(cause.contains("concurrent"), "{cause}");
    let (now, version) = rows(&root);
    assert_eq!((names(&now), version), (vec![(1, "other")], 2));
}

/// A push that widens a column rewrites the whole table in one commit: it must never
/// commit over rows it did not read. Another writer's commit that only inserts a key
/// (a commit deltalake's conflict checker lets a plain overwrite through) makes the
/// widening attempt lost, and the push widens again against the new version.
#[test]
fn a_widening_push_that_loses_its_commit_widens_again_and_keeps_the_other_rows() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let rt = super::runtime().unwrap();
    other(dir.path(), &root, &[json!({"id": 1, "by": "first", "n": 1})], PushOptions::new());
    let stale = read_now(&rt, &root, None);
    other(dir.path(), &root, &[json!({"id": 2, "by": "other", "n": 2})], PushOptions::new());

    let mine = [json!({"id": 3, "by": "me", "n": "three"})];
    let r = push_to(&rt, dir.path(), &root, stale, &mine, PushOptions::new()).unwrap();
    assert_eq!((r.status, r.attempts, r.checkpoint, r.rejected), (PushStatus::Committed, 2, 3, 0));
    assert_eq!(
        r.widened_columns.iter().map(|w| (w.column.as_str(), w.to.as_str())).collect::<Vec<_>>(),
        [("n", "JSON text")]
    );
    let (now, version) = rows(&root);
    assert_eq!(names(&now), [(1, "first"), (2, "other"), (3, "me")]);
    let ns: Vec<Value> = now.values().map(|v| v["n"].clone()).collect();
    assert_eq!((ns, version), (vec![json!(1), json!(2), json!("three")], 3));
}

/// The other way round: a push that read the table before another push widened a column
/// loses its commit (the schema changed under it), decodes its records again against the
/// new column and merges them.
#[test]
fn a_push_that_read_the_table_before_a_widening_decodes_again_against_the_new_columns() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let rt = super::runtime().unwrap();
    other(dir.path(), &root, &[json!({"id": 1, "by": "first", "n": 1})], PushOptions::new());
    let stale = read_now(&rt, &root, None);
    let w = other(dir.path(), &root, &[json!({"id": 2, "by": "other", "n": "two"})], PushOptions::new());
    assert_eq!(w.widened_columns.len(), 1);

    let mine = [json!({"id": 3, "by": "me", "n": 3}), json!({"id": 1, "by": "me", "n": 10})];
    let r = push_to(&rt, dir.path(), &root, stale, &mine, PushOptions::new()).unwrap();
    assert_eq!((r.status, r.attempts, r.upserted, r.rejected), (PushStatus::Committed, 2, 2, 0));
    assert!(r.widened_columns.is_empty());
    let (now, version) = rows(&root);
    assert_eq!(names(&now), [(1, "me"), (2, "other"), (3, "me")]);
    let ns: Vec<Value> = now.values().map(|v| v["n"].clone()).collect();
    assert_eq!((ns, version), (vec![json!(10), json!("two"), json!(3)], 3));
}
