//! Eight `idbsync push` processes at once into one Delta table, in a local folder and on
//! HDFS (Hadoop's MiniDFSCluster): Delta's optimistic commit serialises them and a push
//! whose commit loses is redone against the table's new version.
//!
//! Round 1: the table does not exist; all eight create it at once, each with records of its
//! own, the same shared keys, and keys another client deletes later. Round 2: each adds and
//! updates records of its own, rewrites the shared keys, deletes its neighbour's keys and
//! (all eight) the same common keys. After each round the whole table must equal the model
//! (every record once, none lost), each report's counts must add up, a delete must be
//! counted by exactly one push, the commits must be one version each, and the shared keys
//! must hold the values of the push that committed last. Each round-2 batch sent again
//! (all at once) must be already applied.

mod common;

use common::sync::{apply, assert_rows, check_accounting, ndjson, pull_all, push_args, report_of, spawn_push, Rows};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const CLIENTS: usize = 8;
/// Records of each client's own in round 1; round 2 updates the first `UPDATED` and adds `NEW`.
const OWN: usize = 40;
const UPDATED: usize = 10;
const NEW: usize = 20;
/// Keys every client writes in both rounds.
const SHARED: usize = 10;
/// Keys each client adds in round 1 for its neighbour to delete in round 2.
const DOOMED: usize = 4;
/// Keys client 0 adds in round 1 and every client deletes in round 2.
const COMMON: usize = 4;

const PATIENCE: Duration = Duration::from_secs(180);

/// A round's records, by client.
type Batches = dyn Fn(usize) -> Vec<Value>;

fn rec(id: String, client: usize, round: i64, n: i64) -> Value {
    json!({"id": id, "by": format!("c{client}"), "round": round, "n": n})
}

fn gone(id: String) -> Value {
    json!({"id": id, "_deleted": true})
}

fn round1(i: usize) -> Vec<Value> {
    let mut v: Vec<Value> = (0..OWN).map(|j| rec(format!("c{i}-{j:03}"), i, 1, j as i64)).collect();
    v.extend((0..SHARED).map(|k| rec(format!("s-{k:02}"), i, 1, 0)));
    v.extend((0..DOOMED).map(|k| rec(format!("d{i}-{k}"), i, 1, 0)));
    if i == 0 {
        v.extend((0..COMMON).map(|k| rec(format!("x-{k}"), i, 1, 0)));
    }
    v
}

fn round2(i: usize) -> Vec<Value> {
    let mut v: Vec<Value> = (0..UPDATED).map(|j| rec(format!("c{i}-{j:03}"), i, 2, 1000 + j as i64)).collect();
    v.extend((OWN..OWN + NEW).map(|j| rec(format!("c{i}-{j:03}"), i, 2, j as i64)));
    v.extend((0..SHARED).map(|k| rec(format!("s-{k:02}"), i, 2, 0)));
    v.extend((0..DOOMED).map(|k| gone(format!("d{}-{k}", (i + 1) % CLIENTS))));
    v.extend((0..COMMON).map(|k| gone(format!("x-{k}"))));
    v
}

/// Pushes batch `round` of every client at once; their reports, by client.
fn run_round(dir: &Path, root: &str, round: i64, records: &Batches) -> Vec<Value> {
    let args: Vec<Vec<String>> = (0..CLIENTS)
        .map(|i| {
            let input = dir.join(format!("c{i}-batch{round}.ndjson"));
            std::fs::write(&input, ndjson(&records(i))).unwrap();
            push_args(&input, root, &format!("c{i}"), round)
        })
        .collect();
    let started = Instant::now();
    let children: Vec<_> = args.iter().map(|a| spawn_push(dir, a)).collect();
    let reports: Vec<Value> = children
        .into_iter()
        .enumerate()
        .map(|(i, c)| report_of(c, &format!("round {round}, client c{i}"), PATIENCE))
        .collect();
    let attempts: Vec<u64> = reports.iter().map(|r| r["attempts"].as_u64().unwrap()).collect();
    eprintln!("{root}: round {round} took {:?}; attempts by client {attempts:?}", started.elapsed());
    reports
}

/// The model after both rounds' records, in commit order (the shared keys: the last
/// committer's values).
fn model(rounds: &[(&Batches, &[Value])]) -> Rows {
    let mut rows = Rows::new();
    for (records, reports) in rounds {
        let mut order: Vec<usize> = (0..CLIENTS).collect();
        order.sort_by_key(|&i| reports[i]["checkpoint"].as_i64().unwrap());
        for i in order {
            apply(&mut rows, &records(i));
        }
    }
    rows
}

/// Checks a round's reports: one commit (one version) each, right after `before`.
fn check_versions(reports: &[Value], before: i64, round: i64) -> i64 {
    let mut versions: Vec<i64> = reports.iter().map(|r| r["checkpoint"].as_i64().unwrap()).collect();
    versions.sort();
    let want: Vec<i64> = (before + 1..=before + CLIENTS as i64).collect();
    assert_eq!(versions, want, "round {round}: one new version per push");
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(r["status"], "committed", "round {round}, c{i}: {r}");
        check_accounting(r, &format!("round {round}, c{i}"));
    }
    before + CLIENTS as i64
}

fn eight_pushes_at_once(root: &str) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    // Round 1: eight processes create the table at once.
    let r1 = run_round(dir, root, 1, &round1);
    // Bug this found: deltalake committed a creation that lost the race for version 0 as a
    // later version (a second Create replacing the first's metadata), and two pushes said
    // they had created the table.
    let creators: Vec<usize> = (0..CLIENTS).filter(|&i| r1[i]["created"] == true).collect();
    assert_eq!(creators.len(), 1, "exactly one push creates the table: {creators:?}");
    // The creation is version 0; the eight merges follow it.
    let v1 = check_versions(&r1, 0, 1);
    for (i, r) in r1.iter().enumerate() {
        let read = round1(i).len() as u64;
        assert_eq!((r["read"].as_u64(), r["upserted"].as_u64()), (Some(read), Some(read)), "round 1, c{i}: {r}");
    }
    let m1 = model(&[(&round1, &r1)]);
    let (rows, version) = pull_all(dir, root);
    assert_eq!(version, v1);
    assert_rows(&rows, &m1, "after round 1");
    assert_eq!(rows.len(), CLIENTS * (OWN + DOOMED) + SHARED + COMMON);

    // Round 2: updates, inserts, deletes of a neighbour's keys and of common keys.
    let r2 = run_round(dir, root, 2, &round2);
    let v2 = check_versions(&r2, v1, 2);
    let mut common_deleted = 0;
    for (i, r) in r2.iter().enumerate() {
        let n = |k: &str| r[k].as_u64().unwrap() as usize;
        assert_eq!(n("upserted"), UPDATED + NEW + SHARED, "round 2, c{i}: {r}");
        // Its neighbour's keys are its alone to delete; each common key is deleted once.
        let common = n("deleted") - DOOMED;
        assert!(common <= COMMON, "round 2, c{i}: {r}");
        assert_eq!(n("unchanged"), COMMON - common, "round 2, c{i}: {r}");
        common_deleted += common;
    }
    assert_eq!(common_deleted, COMMON, "each common key is deleted by exactly one push");
    let m2 = model(&[(&round1, &r1), (&round2, &r2)]);
    let (rows, version) = pull_all(dir, root);
    assert_eq!(version, v2);
    assert_rows(&rows, &m2, "after round 2");
    assert_eq!(rows.len(), CLIENTS * (OWN + NEW) + SHARED);
    // The later commit wins: every shared key holds the last committer's record.
    let last = (0..CLIENTS).max_by_key(|&i| r2[i]["checkpoint"].as_i64().unwrap()).unwrap();
    assert!((0..SHARED).all(|k| rows[&format!("\"s-{k:02}\"")]["by"] == format!("c{last}")), "{rows:?}");
    let attempts: u64 = r1.iter().chain(&r2).map(|r| r["attempts"].as_u64().unwrap()).sum();
    assert!(attempts > 2 * CLIENTS as u64, "no push had to retry: the pushes did not overlap");

    // Every round-2 batch again, all at once: already applied, nothing changes.
    let again = run_round(dir, root, 2, &round2);
    for (i, r) in again.iter().enumerate() {
        assert_eq!((r["status"].as_str(), r["checkpoint"].as_i64()), (Some("already_applied"), Some(v2)), "c{i}");
        assert_eq!(r["unchanged"].as_u64(), Some(round2(i).len() as u64), "c{i}: {r}");
    }
    let (rows, version) = pull_all(dir, root);
    assert_eq!(version, v2);
    assert_rows(&rows, &m2, "after the round-2 batches again");
}

#[test]
fn eight_concurrent_pushes_to_a_local_table_lose_nothing_and_apply_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    eight_pushes_at_once(&dir.path().join("sync").display().to_string());
}

#[cfg(feature = "hdfs")]
#[test]
fn eight_concurrent_pushes_to_a_table_on_hdfs_lose_nothing_and_apply_nothing_twice() {
    let Some(dfs) = minidfs::shared_or_skip("eight_concurrent_pushes_to_a_table_on_hdfs") else { return };
    eight_pushes_at_once(&dfs.uri("/sync-concurrent"));
}
