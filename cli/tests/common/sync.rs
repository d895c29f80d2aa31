//! Synced tables through the binary: `push` runs (one at a time or several at once) and
//! whole-table pulls checked against an in-memory model.

use super::{idbsync, s, BIN};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The store (table) every sync test pushes.
pub const STORE: &str = "items";

/// A table's rows by key (the `id` field as JSON text), as the model holds them.
pub type Rows = BTreeMap<String, Value>;

/// NDJSON of `records`.
pub fn ndjson(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

/// The model after `records` are applied to `rows`: the last record of a key wins, and
/// `"_deleted": true` removes it.
pub fn apply(rows: &mut Rows, records: &[Value]) {
    for r in records {
        let k = r["id"].to_string();
        if r.get("_deleted") == Some(&Value::Bool(true)) {
            rows.remove(&k);
        } else {
            rows.insert(k, r.clone());
        }
    }
}

/// The arguments of a push of `input` into `root` as batch `batch` of `client`.
pub fn push_args(input: &Path, root: &str, client: &str, batch: i64) -> Vec<String> {
    let args = ["push", s(input), root, "--store", STORE, "--key", "id", "--client", client];
    let mut v: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    v.extend(["--batch".to_owned(), batch.to_string(), "--json".to_owned()]);
    v
}

/// Starts a push (stdout piped for its `--json` report).
pub fn spawn_push(dir: &Path, args: &[String]) -> Child {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a push started by [`spawn_push`] (killing it and failing after `patience`)
/// and gives its report of the table.
pub fn report_of(child: Child, what: &str, patience: Duration) -> Value {
    let start = Instant::now();
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > patience {
            let _ = child.kill();
            panic!("{what}: still running after {patience:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed: {stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what}: --json: {e}"));
    v["tables"][0].clone()
}

/// One push to the end; its report of the table.
pub fn push(dir: &Path, args: &[String]) -> Value {
    report_of(spawn_push(dir, args), &format!("push {args:?}"), Duration::from_secs(120))
}

/// A report's accounting: `read = upserted + deleted + unchanged + rejected`.
pub fn check_accounting(r: &Value, what: &str) {
    let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{what}: no '{k}' in {r}"));
    assert_eq!(n("read"), n("upserted") + n("deleted") + n("unchanged") + n("rejected"), "{what}: {r}");
    assert_eq!(n("rejected"), 0, "{what}: {r}");
}

/// The whole table as `pull` writes it: its rows by key (a key twice fails) and its version.
pub fn pull_all(dir: &Path, root: &str) -> (Rows, i64) {
    let run = idbsync(dir, &["pull", root, "--table", STORE, "--to", "-", "-q"], None).success();
    let mut rows = Rows::new();
    let mut checkpoint = None;
    for line in run.stdout.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(c) = v.get("_checkpoint") {
            checkpoint = c.as_i64();
            continue;
        }
        let k = v["id"].to_string();
        assert!(rows.insert(k.clone(), v).is_none(), "key {k} is in the table twice");
    }
    (rows, checkpoint.expect("a checkpoint line"))
}

/// Asserts that `got` is `want`, naming the first keys that differ.
pub fn assert_rows(got: &Rows, want: &Rows, what: &str) {
    if got == want {
        return;
    }
    let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).take(5).collect();
    let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).take(5).collect();
    let differ: Vec<(&Value, &Value)> =
        got.iter().filter_map(|(k, v)| want.get(k).filter(|w| *w != v).map(|w| (v, w))).take(3).collect();
    panic!(
        "{what}: {} rows, want {}; missing {missing:?}, extra {extra:?}, differing (got, want) {differ:?}",
        got.len(),
        want.len()
    );
}
