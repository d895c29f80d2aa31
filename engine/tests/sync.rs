//! Sync against real Delta tables (deltalake) in temporary folders: push merges by key,
//! deletes, idempotent batches, --mirror, new columns, compound and nested keys; pull of
//! the whole table and chains of pull --since that give exactly the changes.

use engine::{
    pull, push, Error, KeyPath, PullFormat, PullOptions, PushOptions, PushReport, PushStage, PushStatus, TablePush,
};
use schema_infer::{InferOptions, OnConflict};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn ndjson(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

/// Pushes `records` as NDJSON store `items` (key `id`).
fn push_items(dir: &Path, root: &str, records: &[Value], opts: PushOptions) -> Result<PushReport, Error> {
    let input = write(dir, "items.ndjson", &ndjson(records));
    push(&input, root, opts.with_key(Some(KeyPath::parse("id").unwrap())))
}

fn one(r: &PushReport) -> &TablePush {
    assert_eq!(r.tables.len(), 1);
    let t = &r.tables[0];
    assert_eq!(t.read, t.upserted + t.deleted + t.unchanged + t.rejected, "accounting: {t:?}");
    t
}

struct Pulled {
    upserts: Vec<Value>,
    deleted: Vec<Value>,
    checkpoint: i64,
}

fn pull_ndjson(root: &str, table: &str, since: Option<i64>) -> Pulled {
    let mut out = Vec::new();
    let r = pull(root, table, &PullOptions::new().with_since(since), &mut out).unwrap();
    let lines: Vec<Value> = String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (last, rest) = lines.split_last().unwrap();
    assert_eq!(last, &json!({"_checkpoint": r.checkpoint}));
    let (deleted, upserts): (Vec<Value>, Vec<Value>) = rest.iter().cloned().partition(|v| v.get("_deleted").is_some());
    assert_eq!(upserts.len() as u64, r.upserts);
    assert_eq!(deleted.len(), r.deleted.len());
    Pulled { upserts, deleted, checkpoint: r.checkpoint }
}

/// Records by id, null fields left out (a column added later is null in older rows, and
/// an NDJSON pull leaves out what it knows to be absent).
fn by_id(records: &[Value]) -> BTreeMap<String, Value> {
    records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Value::Object(o) = &mut r {
                o.retain(|_, v| !v.is_null());
            }
            (r["id"].to_string(), r)
        })
        .collect()
}

#[test]
fn push_inserts_updates_and_deletes_by_key_and_pull_gives_exactly_the_changes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let r = push_items(
        dir.path(),
        &root,
        &[json!({"id": 1, "name": "a"}), json!({"id": 2, "name": "b"}), json!({"id": 3, "name": "c"})],
        PushOptions::new(),
    )
    .unwrap();
    let t = one(&r);
    assert_eq!((t.upserted, t.deleted, t.unchanged, t.created), (3, 0, 0, true));
    let first = t.checkpoint;

    let r = push_items(
        dir.path(),
        &root,
        &[
            json!({"id": 1, "name": "a"}),
            json!({"id": 2, "name": "B"}),
            json!({"id": 3, "_deleted": true}),
            json!({"id": 4, "name": "d"}),
            json!({"id": 9, "_deleted": true}),
        ],
        PushOptions::new(),
    )
    .unwrap();
    let t = one(&r);
    assert_eq!((t.read, t.upserted, t.deleted, t.unchanged, t.status), (5, 2, 1, 2, PushStatus::Committed));
    assert_eq!(t.checkpoint, first + 1);

    let whole = pull_ndjson(&root, "items", None);
    assert_eq!(whole.checkpoint, first + 1);
    assert!(whole.deleted.is_empty());
    assert_eq!(
        by_id(&whole.upserts),
        by_id(&[json!({"id": 1, "name": "a"}), json!({"id": 2, "name": "B"}), json!({"id": 4, "name": "d"})])
    );

    let changes = pull_ndjson(&root, "items", Some(first));
    assert_eq!(by_id(&changes.upserts), by_id(&[json!({"id": 2, "name": "B"}), json!({"id": 4, "name": "d"})]));
    assert_eq!(changes.deleted, vec![json!({"id": 3, "_deleted": true})]);

    // As a Dexie export, records keep their own keys: the table's key path is declared.
    let mut out = Vec::new();
    pull(&root, "items", &PullOptions::new().with_format(PullFormat::Dexie), &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["data"]["tables"][0]["schema"], "id");
    assert_eq!(v["data"]["data"][0]["inbound"], true);
    assert_eq!(by_id(v["data"]["data"][0]["rows"].as_array().unwrap()), by_id(&whole.upserts));

    // Nothing after the last checkpoint.
    let none = pull_ndjson(&root, "items", Some(whole.checkpoint));
    assert!(none.upserts.is_empty() && none.deleted.is_empty());
    // A checkpoint the table has not reached is an error.
    let err = pull(&root, "items", &PullOptions::new().with_since(Some(99)), Vec::new()).unwrap_err();
    assert!(err.to_string().contains("newer than the table"), "{err}");

    // Pushing the same content again changes nothing and commits nothing.
    let r = push_items(dir.path(), &root, &[json!({"id": 4, "name": "d"})], PushOptions::new()).unwrap();
    let t = one(&r);
    assert_eq!((t.unchanged, t.status, t.checkpoint), (1, PushStatus::NoChange, first + 1));
}

#[test]
fn batches_apply_once_and_older_batches_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let b1 = [json!({"id": 1, "n": 1}), json!({"id": 2, "n": 2})];
    let r = push_items(dir.path(), &root, &b1, PushOptions::new().with_batch("phone", 1)).unwrap();
    let c1 = one(&r).checkpoint;
    let b2 = [json!({"id": 1, "n": 10}), json!({"id": 2, "_deleted": true})];
    let r = push_items(dir.path(), &root, &b2, PushOptions::new().with_batch("phone", 2)).unwrap();
    let t = one(&r);
    assert_eq!((t.upserted, t.deleted, t.checkpoint), (1, 1, c1 + 1));

    // The same batch again: nothing applied, the checkpoint stays.
    let r = push_items(dir.path(), &root, &b2, PushOptions::new().with_batch("phone", 2)).unwrap();
    let t = one(&r);
    assert_eq!((t.status, t.unchanged, t.upserted, t.checkpoint), (PushStatus::AlreadyApplied, 2, 0, c1 + 1));
    // An older batch is refused; another client's batch 1 is its own.
    let err = push_items(dir.path(), &root, &b1, PushOptions::new().with_batch("phone", 1)).unwrap_err();
    assert!(err.to_string().contains("older than batch 2"), "{err}");
    let r =
        push_items(dir.path(), &root, &[json!({"id": 3, "n": 3})], PushOptions::new().with_batch("laptop", 1)).unwrap();
    assert_eq!(one(&r).checkpoint, c1 + 2);

    let whole = pull_ndjson(&root, "items", None);
    assert_eq!(by_id(&whole.upserts), by_id(&[json!({"id": 1, "n": 10}), json!({"id": 3, "n": 3})]));
}

/// Bug: with a batch id, a commit's metadata lost `idbsync.records` (deltalake's
/// `with_metadata` replaces what an earlier call set, and the batch's was set second).
#[test]
fn commits_name_the_push_its_record_count_and_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let b = [json!({"id": 1, "n": 1}), json!({"id": 2, "n": 2}), json!({"id": 9, "_deleted": true})];
    let t = push_items(dir.path(), &root, &b, PushOptions::new().with_batch("phone", 7)).unwrap();
    let log = dir.path().join(format!("sync/items/_delta_log/{:020}.json", one(&t).checkpoint));
    let text = std::fs::read_to_string(log).unwrap();
    let info =
        text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find_map(|a| a.get("commitInfo").cloned());
    let info = info.expect("a commitInfo action");
    let got: Vec<&Value> = ["idbsync.operation", "idbsync.records", "idbsync.client", "idbsync.batch"]
        .iter()
        .map(|k| info.get(*k).unwrap_or(&Value::Null))
        .collect();
    assert_eq!(got, [&json!("push"), &json!(3), &json!("phone"), &json!(7)], "{info}");
}

/// Bug found by the model test: a batch that changed nothing (records equal to the rows
/// there, deletes of keys not there) was not recorded, since deltalake makes no commit for
/// a merge without changes; pushed again it was merged again and reported committed.
#[test]
fn a_batch_that_changes_nothing_is_recorded_as_applied() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let b = [json!({"id": 7, "v": 2})];
    let c0 = one(&push_items(dir.path(), &root, &b, PushOptions::new().with_batch("c", 0)).unwrap()).checkpoint;
    let nothing = [json!({"id": 7, "v": 2}), json!({"id": 8, "_deleted": true})];
    let r = push_items(dir.path(), &root, &nothing, PushOptions::new().with_batch("c", 1)).unwrap();
    let t = one(&r);
    assert_eq!((t.status, t.upserted, t.deleted, t.unchanged, t.checkpoint), (PushStatus::Committed, 0, 0, 2, c0 + 1));
    let r = push_items(dir.path(), &root, &nothing, PushOptions::new().with_batch("c", 1)).unwrap();
    assert_eq!((one(&r).status, one(&r).checkpoint), (PushStatus::AlreadyApplied, c0 + 1));
    let err = push_items(dir.path(), &root, &b, PushOptions::new().with_batch("c", 0)).unwrap_err();
    assert!(err.to_string().contains("older than batch 1"), "{err}");
    // The commit that records the batch changes no data: a pull since before it is empty.
    let p = pull_ndjson(&root, "items", Some(c0));
    assert!(p.upserts.is_empty() && p.deleted.is_empty() && p.checkpoint == c0 + 1);
    // Without a batch id, a push that changes nothing commits nothing.
    let r = push_items(dir.path(), &root, &nothing, PushOptions::new()).unwrap();
    assert_eq!((one(&r).status, one(&r).checkpoint), (PushStatus::NoChange, c0 + 1));
}

/// Bug found by the Dexie pull round trip (testdata/exporter/sync.mjs): a column added by
/// a later push is null in the rows already there, and a pull gave those records the field
/// as `null`, though they never had it.
#[test]
fn rows_older_than_a_new_column_come_back_without_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    push_items(dir.path(), &root, &[json!({"id": 1, "a": "x"})], PushOptions::new()).unwrap();
    let r = push_items(dir.path(), &root, &[json!({"id": 2, "a": "y", "note": "n"})], PushOptions::new()).unwrap();
    assert_eq!(one(&r).new_columns, ["note"]);
    let mut out = Vec::new();
    pull(&root, "items", &PullOptions::new(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    // A whole-table pull is in file order.
    let mut lines: Vec<&str> = text.lines().take(2).collect();
    lines.sort();
    assert_eq!(lines, [r#"{"id":1,"a":"x"}"#, r#"{"id":2,"a":"y","note":"n"}"#], "{text}");
}

#[test]
fn mirror_deletes_the_keys_the_input_lacks_and_new_fields_add_columns() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let all = [json!({"id": 1, "a": "x"}), json!({"id": 2, "a": "y"}), json!({"id": 3, "a": "z"})];
    let c0 = one(&push_items(dir.path(), &root, &all, PushOptions::new()).unwrap()).checkpoint;
    let r = push_items(
        dir.path(),
        &root,
        &[json!({"id": 1, "a": "x"}), json!({"id": 2, "a": "y", "b": 2.5, "when": "later"})],
        PushOptions::new().with_mirror(true),
    )
    .unwrap();
    let t = one(&r);
    assert_eq!((t.upserted, t.unchanged, t.mirror_deleted), (1, 1, 1));
    assert_eq!(t.new_columns, vec!["b".to_owned(), "when".to_owned()]);

    let changes = pull_ndjson(&root, "items", Some(c0));
    assert_eq!(by_id(&changes.upserts), by_id(&[json!({"id": 2, "a": "y", "b": 2.5, "when": "later"})]));
    assert_eq!(changes.deleted, vec![json!({"id": 3, "_deleted": true})]);
    let whole = pull_ndjson(&root, "items", None);
    assert_eq!(
        by_id(&whole.upserts),
        by_id(&[json!({"id": 1, "a": "x"}), json!({"id": 2, "a": "y", "b": 2.5, "when": "later"})])
    );
}

#[test]
fn records_that_still_do_not_fit_are_rejected_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    push_items(dir.path(), &root, &[json!({"id": 1, "n": 1})], PushOptions::new()).unwrap();
    let r = push_items(
        dir.path(),
        &root,
        &[json!({"id": 2, "n": "two"}), json!({"id": 3, "n": 3}), json!({"name": "no key"})],
        PushOptions::new(),
    )
    .unwrap();
    let t = one(&r);
    // The text in the integer column widens it (see the widening tests below); the record
    // without a key stays a reject.
    assert_eq!((t.upserted, t.rejected, t.widened_columns.len()), (2, 1, 1));
    assert!(t.rejects.iter().any(|r| r.reason.contains("no key 'id'")), "{:?}", t.rejects);
    // Every rejected record is kept in the table's `_rejects/`, as convert keeps them.
    let file = Path::new(&root).join(t.rejects_file.as_ref().expect("a rejects file"));
    let kept: Vec<Value> =
        std::fs::read_to_string(&file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["text"], r#"{"name":"no key"}"#);
    assert_eq!(kept[0]["store"].as_str(), Some("items"));

    // More rejects than a report lists: all in the file; and vacuum leaves them.
    let many: Vec<Value> = (0..150).map(|i| json!({"n": format!("x{i}")})).collect();
    let r = push_items(dir.path(), &root, &many, PushOptions::new()).unwrap();
    let t = one(&r);
    assert_eq!((t.rejected, t.rejects.len()), (150, 100));
    let file = Path::new(&root).join(t.rejects_file.as_ref().unwrap());
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 150);
    engine::vacuum(&root, &Default::default(), "items", std::time::Duration::ZERO, true, false).unwrap();
    assert!(file.exists(), "vacuum removed a rejects file");
    // Nothing rejected: no file.
    let r = push_items(dir.path(), &root, &[json!({"id": 9, "n": 9})], PushOptions::new()).unwrap();
    assert_eq!(one(&r).rejects_file, None);
}

fn dexie(tables: Value, data: Value) -> String {
    json!({"formatName": "dexie", "formatVersion": 1, "data": {
        "databaseName": "app", "databaseVersion": 3, "tables": tables, "data": data}})
    .to_string()
}

#[test]
fn compound_and_nested_keys_from_a_dexie_export_and_dates_come_back_tagged() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let export = |rows: Value| {
        dexie(
            json!([{"name": "scores", "schema": "[game+player.id],points", "rowCount": rows.as_array().unwrap().len()}]),
            json!([{"tableName": "scores", "inbound": true, "rows": rows}]),
        )
    };
    let row = |g: &str, p: i64, points: i64, at: i64| json!({"game": g, "player": {"id": p}, "points": points, "at": at, "$types": {"at": "date"}});
    let input = write(
        dir.path(),
        "v1.json",
        &export(json!([row("chess", 1, 10, 0), row("chess", 2, 20, 0), row("go", 1, 5, 0)])),
    );
    let r = push(&input, &root, PushOptions::new()).unwrap();
    let c0 = one(&r).checkpoint;
    let input = write(
        dir.path(),
        "v2.json",
        &export(json!([row("chess", 1, 11, 86_400_000), {"game": "go", "player": {"id": 1}, "_deleted": true}])),
    );
    let t = push(&input, &root, PushOptions::new()).unwrap();
    let t = one(&t);
    assert_eq!((t.upserted, t.deleted, t.unchanged), (1, 1, 0));

    let changes = pull_ndjson(&root, "scores", Some(c0));
    assert_eq!(changes.deleted, vec![json!({"game": "go", "player": {"id": 1}, "_deleted": true})]);
    assert_eq!(changes.upserts.len(), 1);
    assert_eq!(changes.upserts[0]["points"], json!(11));
    assert_eq!(changes.upserts[0]["at"], json!("1970-01-02T00:00:00.000Z"));

    // As a Dexie export: the Date keeps its typeson tag, and the header the table's schema.
    let mut out = Vec::new();
    let r = pull(&root, "scores", &PullOptions::new().with_since(Some(c0)).with_format(PullFormat::Dexie), &mut out)
        .unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["data"]["databaseName"], "app");
    assert_eq!(v["data"]["tables"][0]["schema"], "[game+player.id],points");
    let rows = &v["data"]["data"][0]["rows"];
    assert_eq!(rows[0]["at"], json!(86_400_000));
    assert_eq!(rows[0]["$types"]["at"], "date");
    assert_eq!(r.sidecar()["deleted"], json!([["go", 1]]));
    assert_eq!(r.sidecar()["checkpoint"], json!(c0 + 1));
}

#[test]
fn deleted_date_and_binary_keys_come_back_typed_in_the_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let export = |name: &str, schema: &str, rows: Value| {
        dexie(
            json!([{"name": name, "schema": schema, "rowCount": rows.as_array().unwrap().len()}]),
            json!([{"tableName": name, "inbound": true, "rows": rows}]),
        )
    };
    // A Date key, and the number of its milliseconds: two different IndexedDB keys.
    let day = |ms: i64, n: i64| json!({"day": ms, "n": n, "$types": {"day": "date"}});
    let rows = json!([day(0, 1), day(86_400_000, 2), {"day": 0, "n": 3}]);
    let r = push(&write(dir.path(), "d1.json", &export("days", "day", rows)), &root, PushOptions::new()).unwrap();
    assert_eq!(one(&r).upserted, 3, "the Date 0 and the number 0 are two keys");
    let c0 = one(&r).checkpoint;
    let gone = json!([{"day": 86_400_000, "_deleted": true, "$types": {"day": "date"}}, {"day": 0, "_deleted": true}]);
    let t = push(&write(dir.path(), "d2.json", &export("days", "day", gone)), &root, PushOptions::new()).unwrap();
    assert_eq!(one(&t).deleted, 2);
    let mut out = Vec::new();
    let r =
        pull(&root, "days", &PullOptions::new().with_since(Some(c0)).with_format(PullFormat::Dexie), &mut out).unwrap();
    let side = r.sidecar();
    // Sorted by key text: the plain number first, then the tagged Date.
    assert_eq!(side["deleted"], json!([0, 86_400_000]));
    assert_eq!(side["$types"], json!({"deleted.1": "date"}));
    // The NDJSON tombstones hold the keys only.
    let changes = pull_ndjson(&root, "days", Some(c0));
    assert!(changes.deleted.iter().all(|d| d.as_object().unwrap().keys().all(|k| k == "day" || k == "_deleted")));

    // A compound key with a binary part (a Uint8Array: its buffer is an ArrayBuffer).
    let blob = |b64: &str, n: i64| {
        json!({"owner": "u1", "blob": {"buffer": b64}, "n": n,
               "$types": {"blob": "uint8array2", "blob.buffer": "arraybuffer"}})
    };
    let rows = json!([blob("AAE=", 1), blob("AgM=", 2)]);
    let r =
        push(&write(dir.path(), "b1.json", &export("blobs", "[owner+blob]", rows)), &root, PushOptions::new()).unwrap();
    let c0 = one(&r).checkpoint;
    let mut gone = blob("AgM=", 0);
    gone["_deleted"] = json!(true);
    let t =
        push(&write(dir.path(), "b2.json", &export("blobs", "[owner+blob]", json!([gone]))), &root, PushOptions::new())
            .unwrap();
    assert_eq!(one(&t).deleted, 1);
    let mut out = Vec::new();
    let r = pull(&root, "blobs", &PullOptions::new().with_since(Some(c0)).with_format(PullFormat::Dexie), &mut out)
        .unwrap();
    assert_eq!(r.sidecar()["deleted"], json!([["u1", {"buffer": "AgM="}]]));
    assert_eq!(r.sidecar()["$types"], json!({"deleted.0.1": "uint8array2", "deleted.0.1.buffer": "arraybuffer"}));
}

#[test]
fn a_push_keeps_the_tables_key_and_pull_needs_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    push_items(dir.path(), &root, &[json!({"id": 1, "k": 1})], PushOptions::new()).unwrap();
    let input = write(dir.path(), "items.ndjson", &ndjson(&[json!({"id": 1, "k": 2})]));
    let err = push(&input, &root, PushOptions::new().with_key(Some(KeyPath::parse("k").unwrap()))).unwrap_err();
    assert!(err.to_string().contains("the table's key is id"), "{err}");
    let err = push(&input, &root, PushOptions::new()).unwrap_err();
    assert!(err.to_string().contains("pass --key"), "{err}");
    let err = pull(&root, "nothing", &PullOptions::new(), Vec::new()).unwrap_err();
    assert!(err.to_string().contains("no synced table"), "{err}");
}

mod model {
    //! A model test: random batches of inserts, updates and deletes (some pushed twice, some
    //! adding a field, some giving `v` a float or text where it had integers: a column that
    //! widens) applied by push give the table an in-memory model holds, and chains
    //! of pull --since applied to a client's copy give the same records.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Put { id: i64, v: i64, extra: bool, kind: u8 },
        Delete { id: i64 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0i64..8, 0i64..3, proptest::bool::weighted(0.2), 0u8..8)
                .prop_map(|(id, v, extra, kind)| Op::Put { id, v, extra, kind }),
            1 => (0i64..8).prop_map(|id| Op::Delete { id }),
        ]
    }

    fn record(op: &Op) -> Value {
        match op {
            Op::Put { id, v, extra, kind } => {
                let v = match kind {
                    6 => json!(*v as f64 + 0.5),
                    7 => json!(format!("s{v}")),
                    _ => json!(v),
                };
                match extra {
                    true => json!({"id": id, "v": v, "extra": format!("e{v}")}),
                    false => json!({"id": id, "v": v}),
                }
            }
            Op::Delete { id } => json!({"id": id, "_deleted": true}),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn pushes_match_the_model_and_pull_chains_rebuild_it(
            batches in proptest::collection::vec((proptest::collection::vec(op(), 1..6), any::<bool>()), 1..5)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("sync").display().to_string();
            let mut model: BTreeMap<String, Value> = BTreeMap::new();
            let mut client: BTreeMap<String, Value> = BTreeMap::new();
            let mut checkpoint: Option<i64> = None;
            for (seq, (ops, again)) in batches.iter().enumerate() {
                let records: Vec<Value> = ops.iter().map(record).collect();
                let opts = || PushOptions::new().with_batch("c", seq as i64);
                let r = push_items(dir.path(), &root, &records, opts()).unwrap();
                prop_assert_eq!(one(&r).rejected, 0);
                for rec in &records {
                    let key = rec["id"].to_string();
                    if rec.get("_deleted").is_some() {
                        model.remove(&key);
                    } else {
                        model.extend(by_id(std::slice::from_ref(rec)));
                    }
                }
                if *again {
                    let r2 = push_items(dir.path(), &root, &records, opts()).unwrap();
                    let t = one(&r2);
                    prop_assert_eq!(t.status, PushStatus::AlreadyApplied);
                    prop_assert_eq!(t.checkpoint, r.tables[0].checkpoint);
                }
                if r.tables[0].checkpoint < 0 {
                    continue; // nothing written yet: no table
                }
                let p = pull_ndjson(&root, "items", checkpoint);
                for d in &p.deleted {
                    client.remove(&d["id"].to_string());
                }
                client.extend(by_id(&p.upserts));
                checkpoint = Some(p.checkpoint);
                prop_assert_eq!(&client, &model);
                let whole = pull_ndjson(&root, "items", None);
                prop_assert_eq!(&by_id(&whole.upserts), &model);
            }
        }
    }
}

/// The observer of `PushOptions::with_progress` hears each stage of a push once, in order:
/// a first push creates the table and writes its rows as it reads the input (streamed); the
/// next looks the keys up first; a push that changes nothing merges nothing.
#[test]
fn push_reports_its_stages_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let stages = |records: &[Value]| {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let opts = PushOptions::new().with_progress(move |s: &PushStage| log.lock().unwrap().push(s.clone()));
        push_items(dir.path(), &root, records, opts).unwrap();
        Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
    };
    let table = || "items".to_owned();
    let first = [json!({"id": 1, "n": 1}), json!({"id": 2, "n": 2})];
    assert_eq!(
        stages(&first),
        [
            PushStage::Reading,
            PushStage::Decoding { stores: 1, records: 2 },
            PushStage::Creating { table: table() },
            PushStage::Writing { records: 2 },
            PushStage::Done { table: table(), status: PushStatus::Committed, checkpoint: 1 },
        ]
    );
    let second = [json!({"id": 1, "n": 10}), json!({"id": 2, "_deleted": true}), json!({"id": 3, "n": 3})];
    assert_eq!(
        stages(&second),
        [
            PushStage::Reading,
            PushStage::Decoding { stores: 1, records: 3 },
            PushStage::LookingUp { table: table() },
            PushStage::Merging { table: table(), upserts: 2, deletes: 1 },
            PushStage::Done { table: table(), status: PushStatus::Committed, checkpoint: 2 },
        ]
    );
    assert_eq!(
        stages(&[json!({"id": 3, "n": 3})]),
        [
            PushStage::Reading,
            PushStage::Decoding { stores: 1, records: 1 },
            PushStage::LookingUp { table: table() },
            PushStage::Done { table: table(), status: PushStatus::NoChange, checkpoint: 2 },
        ]
    );
}

/// The (`_idb_day`, `city`) partition values of the files a commit of `table` adds.
fn added_partitions(root: &str, table: &str, version: u64) -> std::collections::BTreeSet<(String, String)> {
    let log = Path::new(root).join(table).join("_delta_log").join(format!("{version:020}.json"));
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let p = &v.get("add")?["partitionValues"];
            Some((p["_idb_day"].as_str().unwrap().to_owned(), p["city"].as_str().unwrap().to_owned()))
        })
        .collect()
}

/// `--partition-by day(at) --partition-by city`: Delta partition columns (`_idb_day`
/// generated from `at`), kept by later pushes; an update that changes the day and the
/// city moves its row to the new partition, a delete removes it, and pulls give the
/// records back exactly (the Dates tagged, no `_idb_day`). Another partitioning is refused.
#[test]
fn a_partitioned_table_moves_updated_rows_and_pulls_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    const DAY: i64 = 86_400_000;
    let rec = |id: i64, city: &str, at: i64, n: i64| json!({"id": id, "city": city, "at": at, "n": n, "$types": {"at": "date"}});
    let export = |name: &str, rows: &[Value]| {
        let text = dexie(
            json!([{"name": "visits", "schema": "id", "rowCount": rows.len()}]),
            json!([{"tableName": "visits", "inbound": true, "rows": rows}]),
        );
        write(dir.path(), name, &text)
    };
    let parts: Vec<engine::PartitionField> = ["day(at)", "city"].iter().map(|t| t.parse().unwrap()).collect();
    // Day 19 at 23:30 UTC and day 20 at 00:30: two days.
    let b1 = [
        rec(1, "Paris", 19 * DAY + 84_600_000, 1),
        rec(2, "Oslo", 20 * DAY + 1_800_000, 2),
        rec(3, "Paris", 20 * DAY, 3),
        rec(4, "Oslo", 19 * DAY, 4),
    ];
    let r = push(&export("b1.json", &b1), &root, PushOptions::new().with_partition_by(parts.clone())).unwrap();
    let c1 = one(&r).checkpoint;
    let pair = |d: &str, c: &str| (d.to_owned(), c.to_owned());
    let want = [
        pair("1970-01-20", "Paris"),
        pair("1970-01-21", "Oslo"),
        pair("1970-01-21", "Paris"),
        pair("1970-01-20", "Oslo"),
    ];
    assert_eq!(added_partitions(&root, "visits", c1 as u64), want.into_iter().collect());

    // 1 moves to another day and city; 2 changes in place; 3 is deleted; 5 is new. No
    // --partition-by: the table keeps its own.
    let b2 = [
        rec(1, "Rome", 30 * DAY, 10),
        rec(2, "Oslo", 20 * DAY + 1_800_000, 20),
        json!({"id": 3, "_deleted": true}),
        rec(5, "Rome", 30 * DAY + 1, 5),
    ];
    let r = push(&export("b2.json", &b2), &root, PushOptions::new()).unwrap();
    let t = one(&r);
    assert_eq!((t.upserted, t.deleted, t.status), (3, 1, PushStatus::Committed));
    // The rows of (day 20, Paris) and (day 21, Paris) are gone: no file is added there.
    let got = added_partitions(&root, "visits", t.checkpoint as u64);
    assert!(got.contains(&pair("1970-01-31", "Rome")), "{got:?}");
    assert!(!got.contains(&pair("1970-01-20", "Paris")) && !got.contains(&pair("1970-01-21", "Paris")), "{got:?}");

    let model = [
        rec(1, "Rome", 30 * DAY, 10),
        rec(2, "Oslo", 20 * DAY + 1_800_000, 20),
        rec(4, "Oslo", 19 * DAY, 4),
        rec(5, "Rome", 30 * DAY + 1, 5),
    ];
    let mut out = Vec::new();
    pull(&root, "visits", &PullOptions::new().with_format(PullFormat::Dexie), &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let mut rows = v["data"]["data"][0]["rows"].as_array().unwrap().clone();
    rows.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(rows, model);
    let changes = pull_ndjson(&root, "visits", Some(c1));
    let ids: Vec<i64> = changes
        .upserts
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!((ids, changes.deleted), (vec![1, 2, 5], vec![json!({"id": 3, "_deleted": true})]));
    assert!(changes.upserts.iter().all(|r| r.get("_idb_day").is_none()));

    let other: Vec<engine::PartitionField> = vec!["city".parse().unwrap()];
    let e =
        push(&export("b3.json", &b1[..1]), &root, PushOptions::new().with_partition_by(other)).unwrap_err().to_string();
    assert!(e.contains("partitioned by day(at), city, not by city"), "{e}");
}

// Type changes across pushes (issue 17): a value that does not fit its column widens the
// column as `convert` would have typed it had it seen every record at once, never a lost
// field and never a silently nulled value.

/// The rows of a Dexie pull (values and `$types`), by id, and its sidecar.
fn dexie_pull(root: &str, table: &str, since: Option<i64>) -> (BTreeMap<String, Value>, Value) {
    let mut out = Vec::new();
    let r = pull(root, table, &PullOptions::new().with_since(since).with_format(PullFormat::Dexie), &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let rows = v["data"]["data"][0]["rows"].as_array().unwrap();
    (rows.iter().map(|r| (r["id"].to_string(), r.clone())).collect(), r.sidecar())
}

/// `download --table` of a synced table, as a Dexie export's rows by id.
fn download_rows(root: &str, table: &str) -> BTreeMap<String, Value> {
    let mut out = Vec::new();
    engine::download_synced(
        root,
        table,
        engine::DownloadFormat::Dexie,
        &engine::DownloadOptions::new(),
        &engine::StorageOptions::default(),
        &mut out,
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    v["data"]["data"][0]["rows"].as_array().unwrap().iter().map(|r| (r["id"].to_string(), r.clone())).collect()
}

/// A client's copy after applying a pull: upserts replace, deletions remove.
fn apply_pull(copy: &mut BTreeMap<String, Value>, p: &Pulled) {
    for d in &p.deleted {
        copy.remove(&d["id"].to_string());
    }
    copy.extend(by_id(&p.upserts));
}

fn widened(t: &TablePush) -> Vec<(String, String, String)> {
    t.widened_columns.iter().map(|w| (w.column.clone(), w.from.clone(), w.to.clone())).collect()
}

#[test]
fn text_or_an_object_in_an_integer_column_makes_it_a_json_text_column_and_every_value_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    // Client A pulls after every push; clients B and C pulled once, at c0 and c1.
    let mut a: BTreeMap<String, Value> = BTreeMap::new();
    let mut a_at = None;
    let mut step = |a: &mut BTreeMap<String, Value>| {
        let p = pull_ndjson(&root, "items", a_at);
        apply_pull(a, &p);
        a_at = Some(p.checkpoint);
        assert_eq!(a, &by_id(&pull_ndjson(&root, "items", None).upserts), "client A after checkpoint {}", p.checkpoint);
    };
    let r = push_items(
        dir.path(),
        &root,
        &[json!({"id": 1, "n": 1}), json!({"id": 2, "n": 2}), json!({"id": 3, "n": 3})],
        PushOptions::new(),
    )
    .unwrap();
    let c0 = one(&r).checkpoint;
    step(&mut a);
    let b = a.clone();
    let r = push_items(dir.path(), &root, &[json!({"id": 3, "_deleted": true}), json!({"id": 4, "n": 4})], {
        PushOptions::new()
    })
    .unwrap();
    let c1 = one(&r).checkpoint;
    step(&mut a);
    let c = a.clone();

    // Text and an object where the table has integers: the column becomes JSON text.
    let r = push_items(
        dir.path(),
        &root,
        &[json!({"id": 1, "n": "abc"}), json!({"id": 2, "_deleted": true}), json!({"id": 5, "n": {"a": [1, 2]}})],
        PushOptions::new().with_batch("phone", 1),
    )
    .unwrap();
    let t = one(&r);
    assert_eq!(widened(t), [("n".to_owned(), "Int64".to_owned(), "JSON text".to_owned())]);
    assert_eq!((t.upserted, t.deleted, t.rejected, t.rewritten, t.status), (2, 1, 0, 1, PushStatus::Committed));
    // Regression: the deletes' `_deleted` member became a column of the rewritten table.
    assert_eq!(t.new_columns, Vec::<String>::new());
    let url = engine::dir_url(&root, "items").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let synced = rt
        .block_on(engine::open_synced(&url, &engine::AsOf::Latest, &engine::StorageOptions::default()))
        .unwrap()
        .unwrap();
    let names: Vec<&str> = synced.delta_schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["id", "n", "_idb_key", "_idb_hash", "_idb_client", "_idb_batch", "_idb_updated_at"]);
    drop(synced);
    assert_eq!(t.checkpoint, c1 + 1, "one commit for the rewrite and the merge");
    step(&mut a);
    // The same batch again: already applied, nothing widened again.
    let again = push_items(
        dir.path(),
        &root,
        &[json!({"id": 1, "n": "abc"}), json!({"id": 2, "_deleted": true}), json!({"id": 5, "n": {"a": [1, 2]}})],
        PushOptions::new().with_batch("phone", 1),
    )
    .unwrap();
    assert_eq!((one(&again).status, one(&again).widened_columns.len()), (PushStatus::AlreadyApplied, 0));

    // Later values of any kind fit the JSON-text column: an ordinary merge.
    let r =
        push_items(dir.path(), &root, &[json!({"id": 6, "n": true}), json!({"id": 4, "n": 4.5})], PushOptions::new())
            .unwrap();
    let t = one(&r);
    assert_eq!((t.upserted, t.rejected, t.widened_columns.len(), t.rewritten), (2, 0, 0, 0));
    step(&mut a);

    let expected = by_id(&[
        json!({"id": 1, "n": "abc"}),
        json!({"id": 4, "n": 4.5}),
        json!({"id": 5, "n": {"a": [1, 2]}}),
        json!({"id": 6, "n": true}),
    ]);
    assert_eq!(by_id(&pull_ndjson(&root, "items", None).upserts), expected);
    // Clients that last pulled before the rewrite: the whole table, and the keys deleted
    // since their checkpoint.
    for (mut copy, since, gone) in [(b, c0, vec!["2", "3"]), (c, c1, vec!["2"])] {
        let p = pull_ndjson(&root, "items", Some(since));
        let mut deleted: Vec<String> = p.deleted.iter().map(|d| d["id"].to_string()).collect();
        deleted.sort();
        assert_eq!(deleted, gone, "deleted since {since}");
        apply_pull(&mut copy, &p);
        assert_eq!(copy, expected, "client at checkpoint {since}");
    }
    // Dexie pull and download --table: the same values.
    let (rows, _) = dexie_pull(&root, "items", None);
    assert_eq!(by_id(&rows.into_values().collect::<Vec<_>>()), expected);
    assert_eq!(by_id(&download_rows(&root, "items").into_values().collect::<Vec<_>>()), expected);
    // The history names the rewrite as the push's merge.
    let h = engine::history(&root, &engine::StorageOptions::default(), "items", Some(3)).unwrap();
    assert_eq!(h[1].operation, "MERGE");
    assert_eq!((h[1].rows_inserted, h[1].rows_updated, h[1].rows_deleted), (Some(1), Some(1), Some(1)));
}

#[test]
fn a_float_in_an_integer_column_widens_it_to_float() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    push_items(dir.path(), &root, &[json!({"id": 1, "n": 1}), json!({"id": 2, "n": -7})], PushOptions::new()).unwrap();
    let r = push_items(dir.path(), &root, &[json!({"id": 3, "n": 2.5})], PushOptions::new()).unwrap();
    let t = one(&r);
    assert_eq!(widened(t), [("n".to_owned(), "Int64".to_owned(), "Float64".to_owned())]);
    assert_eq!((t.upserted, t.rejected, t.rewritten), (1, 0, 2));
    let expected = by_id(&[json!({"id": 1, "n": 1}), json!({"id": 2, "n": -7}), json!({"id": 3, "n": 2.5})]);
    assert_eq!(by_id(&pull_ndjson(&root, "items", None).upserts), expected);
    let url = engine::dir_url(&root, "items").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let synced = rt
        .block_on(engine::open_synced(&url, &engine::AsOf::Latest, &engine::StorageOptions::default()))
        .unwrap()
        .unwrap();
    assert_eq!(synced.schema.field_with_name("n").unwrap().data_type(), &arrow_schema::DataType::Float64);
}

#[test]
fn a_number_in_a_date_column_keeps_the_dates_tagged() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let rows = json!([
        {"id": 1, "d": 0, "at": {"x": 1}, "$types": {"d": "date"}},
        {"id": 2, "d": 86_400_000, "at": {"x": 2}, "$types": {"d": "date"}},
    ]);
    let input = write(
        dir.path(),
        "v1.json",
        &dexie(
            json!([{"name": "events", "schema": "id", "rowCount": 2}]),
            json!([{"tableName": "events", "inbound": true, "rows": rows}]),
        ),
    );
    let c0 = one(&push(&input, &root, PushOptions::new()).unwrap()).checkpoint;
    // A number where the table has Dates, and a number where it has objects.
    let input = write(dir.path(), "events.ndjson", &ndjson(&[json!({"id": 3, "d": 5, "at": 7})]));
    let r = push(&input, &root, PushOptions::new().with_key(Some(KeyPath::parse("id").unwrap()))).unwrap();
    let t = one(&r);
    let mut w = widened(t);
    w.sort();
    assert_eq!(
        w,
        [
            ("at".to_owned(), "Struct(x: Int64)".to_owned(), "JSON text".to_owned()),
            ("d".to_owned(), "Timestamp(ms, \"UTC\")".to_owned(), "JSON text".to_owned())
        ]
    );
    assert_eq!((t.upserted, t.rejected, t.rewritten), (1, 0, 2));

    // Exactly the records pushed, with their typeson tags.
    let expected: BTreeMap<String, Value> = [
        json!({"id": 1, "d": 0, "at": {"x": 1}, "$types": {"d": "date"}}),
        json!({"id": 2, "d": 86_400_000, "at": {"x": 2}, "$types": {"d": "date"}}),
        json!({"id": 3, "d": 5, "at": 7}),
    ]
    .into_iter()
    .map(|r| (r["id"].to_string(), r))
    .collect();
    assert_eq!(dexie_pull(&root, "events", None).0, expected);
    assert_eq!(download_rows(&root, "events"), expected);
    // A client at c0: every row again (the rewrite), nothing deleted.
    let (since, side) = dexie_pull(&root, "events", Some(c0));
    assert_eq!((since, side["deleted"].clone()), (expected, json!([])));
}

#[test]
fn a_type_change_in_a_store_with_out_of_line_keys_keeps_every_key_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let export = |rows: Value| {
        let n = rows.as_array().unwrap().len();
        dexie(
            json!([{"name": "notes", "schema": "", "rowCount": n}]),
            json!([{"tableName": "notes", "inbound": false, "rows": rows}]),
        )
    };
    let v1 = write(dir.path(), "v1.json", &export(json!([[1, {"n": 1}], [2, {"n": 2, "at": 0}]])));
    let c0 = one(&push(&v1, &root, PushOptions::new()).unwrap()).checkpoint;
    let v2 = write(
        dir.path(),
        "v2.json",
        &export(json!([[3, {"n": "x"}], {"$": [4, {"n": 0}], "$types": {"$": {"1.n": "date"}}}])),
    );
    let t = one(&push(&v2, &root, PushOptions::new()).unwrap()).clone();
    assert_eq!(widened(&t), [("n".to_owned(), "Int64".to_owned(), "JSON text".to_owned())]);
    assert_eq!((t.upserted, t.rejected, t.rewritten), (2, 0, 2));

    let mut out = Vec::new();
    pull(&root, "notes", &PullOptions::new().with_format(PullFormat::Dexie), &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let mut rows = v["data"]["data"][0]["rows"].as_array().unwrap().clone();
    rows.sort_by_key(|r| r.get("$").unwrap_or(r)[0].as_i64());
    assert_eq!(
        rows,
        // As exportDB writes out-of-line rows: `[key, value]` tagged `arrayNonindexKeys`.
        [
            json!({"$": [1, {"n": 1}], "$types": {"$": {"": "arrayNonindexKeys"}}}),
            json!({"$": [2, {"n": 2, "at": 0}], "$types": {"$": {"": "arrayNonindexKeys"}}}),
            json!({"$": [3, {"n": "x"}], "$types": {"$": {"": "arrayNonindexKeys"}}}),
            json!({"$": [4, {"n": 0}], "$types": {"$": {"": "arrayNonindexKeys", "1.n": "date"}}}),
        ],
        "{v}"
    );
    let (_, side) = dexie_pull_any(&root, "notes", Some(c0));
    assert_eq!(side["deleted"], json!([]));
}

/// A Dexie pull's rows (any layout) and its sidecar.
fn dexie_pull_any(root: &str, table: &str, since: Option<i64>) -> (Vec<Value>, Value) {
    let mut out = Vec::new();
    let r = pull(root, table, &PullOptions::new().with_since(since).with_format(PullFormat::Dexie), &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    (v["data"]["data"][0]["rows"].as_array().unwrap().clone(), r.sidecar())
}

#[test]
fn with_on_conflict_error_a_value_that_does_not_fit_stays_a_reject() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let strict = || PushOptions::new().with_infer(InferOptions::new().with_on_conflict(OnConflict::Error));
    push_items(dir.path(), &root, &[json!({"id": 1, "n": 1})], strict()).unwrap();
    let r = push_items(dir.path(), &root, &[json!({"id": 2, "n": "two"}), json!({"id": 3})], strict()).unwrap();
    let t = one(&r);
    assert_eq!((t.upserted, t.rejected, t.widened_columns.len(), t.rewritten), (1, 1, 0, 0));
    assert_eq!(t.rejects[0].path, "n");
    assert_eq!(by_id(&pull_ndjson(&root, "items", None).upserts), by_id(&[json!({"id": 1, "n": 1}), json!({"id": 3})]));
}

#[test]
fn an_object_that_gains_a_field_widens_its_struct_column_and_older_rows_keep_it_absent() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    push_items(dir.path(), &root, &[json!({"id": 1, "a": {"c": 1}})], PushOptions::new()).unwrap();
    let r = push_items(dir.path(), &root, &[json!({"id": 2, "a": {"c": 2, "z": "new"}})], PushOptions::new()).unwrap();
    let t = one(&r);
    assert_eq!(widened(t), [("a".to_owned(), "Struct(c: Int64)".to_owned(), "Struct(c: Int64, z: Utf8)".to_owned())]);
    // Exactly as pushed: the older row has no `z` (not `"z": null`).
    let mut rows = pull_ndjson(&root, "items", None).upserts;
    rows.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(rows, [json!({"id": 1, "a": {"c": 1}}), json!({"id": 2, "a": {"c": 2, "z": "new"}})]);
}

/// The add and remove actions of commit `version` of the table at `table_dir`.
fn commit_files(table_dir: &Path, version: i64) -> (Vec<String>, Vec<String>) {
    let log = std::fs::read_to_string(table_dir.join(format!("_delta_log/{version:020}.json"))).unwrap();
    let (mut adds, mut removes) = (Vec::new(), Vec::new());
    for line in log.lines() {
        let a: Value = serde_json::from_str(line).unwrap();
        if let Some(p) = a.pointer("/add/path").and_then(Value::as_str) {
            adds.push(p.to_owned());
        }
        if let Some(p) = a.pointer("/remove/path").and_then(Value::as_str) {
            removes.push(p.to_owned());
        }
    }
    (adds, removes)
}

#[test]
fn a_push_of_close_keys_rewrites_only_the_files_holding_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let root_s = root.to_str().unwrap();
    // Three pushes of keys far apart in text order: three data files with narrow key ranges.
    let mut model = BTreeMap::new();
    for prefix in ["a", "m", "x"] {
        let recs: Vec<Value> = (0..50).map(|i| json!({"id": format!("{prefix}{i:03}"), "n": i})).collect();
        for r in &recs {
            model.insert(r["id"].as_str().unwrap().to_owned(), r.clone());
        }
        one(&push_items(dir.path(), root_s, &recs, PushOptions::new()).unwrap());
    }
    // Update and delete keys of the middle file, and add a key next to them.
    let batch =
        vec![json!({"id": "m007", "n": -7}), json!({"id": "m020", "_deleted": true}), json!({"id": "m999", "n": 9})];
    let t = one(&push_items(dir.path(), root_s, &batch, PushOptions::new()).unwrap()).clone();
    assert_eq!((t.upserted, t.deleted), (2, 1));
    let (adds, removes) = commit_files(&root.join("items"), t.checkpoint);
    assert_eq!(removes.len(), 1, "only the file of the m keys is rewritten: {removes:?}");
    assert_eq!((t.files_read, t.files_rewritten), (1, 1), "{t:?}");
    assert!(!adds.is_empty());
    // And the table is exactly the model.
    model.insert("m007".into(), json!({"id": "m007", "n": -7}));
    model.remove("m020");
    model.insert("m999".into(), json!({"id": "m999", "n": 9}));
    let whole = pull_ndjson(root_s, "items", None);
    assert_eq!(by_id(&whole.upserts), by_id(&model.values().cloned().collect::<Vec<_>>()));
    // Keys in the first and the last file: those two are read and rewritten, and the
    // files between them (key ranges inside the push's smallest and largest key) are
    // not even read.
    let files_before = std::fs::read_dir(root.join("items")).unwrap().count();
    let batch = vec![json!({"id": "a001", "n": 100}), json!({"id": "x001", "n": 100})];
    let t = one(&push_items(dir.path(), root_s, &batch, PushOptions::new()).unwrap()).clone();
    assert_eq!(commit_files(&root.join("items"), t.checkpoint).1.len(), 2);
    assert_eq!((t.files_read, t.files_rewritten), (2, 2), "{t:?} ({files_before} entries before)");
}

/// A push of close keys does not read the table's other files at all: neither the look-up
/// of its keys nor the merge. Shown by a file far from the keys that is gone from the
/// storage: a push that read it would fail.
#[test]
fn a_push_of_close_keys_never_reads_the_files_far_from_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let root_s = root.to_str().unwrap();
    let mut last = None;
    for prefix in ["a", "m", "x"] {
        let recs: Vec<Value> = (0..50).map(|i| json!({"id": format!("{prefix}{i:03}"), "n": i})).collect();
        last = Some(one(&push_items(dir.path(), root_s, &recs, PushOptions::new()).unwrap()).checkpoint);
    }
    let (x_files, _) = commit_files(&root.join("items"), last.unwrap());
    assert_eq!(x_files.len(), 1, "{x_files:?}");
    std::fs::remove_file(root.join("items").join(&x_files[0])).unwrap();
    let batch =
        vec![json!({"id": "m007", "n": -7}), json!({"id": "m020", "_deleted": true}), json!({"id": "m999", "n": 9})];
    let t = one(&push_items(dir.path(), root_s, &batch, PushOptions::new()).unwrap()).clone();
    assert_eq!((t.upserted, t.deleted, t.files_read), (2, 1, 1), "{t:?}");
    // The same push of a key in the missing file fails, naming it: the file was needed.
    let err = push_items(dir.path(), root_s, &[json!({"id": "x001", "n": 0})], PushOptions::new()).unwrap_err();
    assert!(format!("{err:#}").contains(&x_files[0][..20]), "{err:#}");
}

/// A partitioned table is not rewritten for a type change (not built yet): the record
/// whose value does not fit stays a reject, with its reason, and the table keeps its type.
#[test]
fn a_type_change_in_a_partitioned_table_stays_a_reject() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sync").display().to_string();
    let parts: Vec<engine::PartitionField> = vec!["city".parse().unwrap()];
    let opts = || PushOptions::new().with_partition_by(parts.clone());
    one(&push_items(dir.path(), &root, &[json!({"id": 1, "city": "Oslo", "n": 1})], opts()).unwrap());
    let r = push_items(
        dir.path(),
        &root,
        &[json!({"id": 2, "city": "Oslo", "n": "two"}), json!({"id": 3, "city": "Rome", "n": 3})],
        opts(),
    )
    .unwrap();
    let t = one(&r);
    assert_eq!((t.upserted, t.rejected), (1, 1), "{t:?}");
    assert!(widened(t).is_empty(), "{t:?}");
    assert!(t.rejects_file.is_some());
    let rows = pull_ndjson(&root, "items", None).upserts;
    assert_eq!(by_id(&rows).len(), 2);
    assert!(rows.iter().all(|r| r["n"].is_i64()), "{rows:?}");
}
