//! Synced (Delta) tables through the commands that read and keep them: `query` (with
//! `--as-of` and `--create`), `tables`, `schema`, `download --table`, `history`,
//! `optimize` and `vacuum`, on tables that `push` made in a temporary folder.

mod common;

use common::{idbsync, s};
use serde_json::{json, Value};
use std::path::Path;

fn write_ndjson(dir: &Path, name: &str, records: &[Value]) -> String {
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(dir.join(name), text).unwrap();
    name.to_owned()
}

fn push(dir: &Path, records: &[Value], client: &str, batch: i64) -> Value {
    let f = write_ndjson(dir, &format!("batch-{client}-{batch}.ndjson"), records);
    let b = batch.to_string();
    let args = ["push", &f, "root", "--key", "id", "--store", "items", "--client", client, "--batch", &b, "--json"];
    idbsync(dir, &args, None).success().json()
}

fn query(dir: &Path, sql: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["query", "root", sql, "--format", "json"];
    args.extend_from_slice(extra);
    let v: Value = idbsync(dir, &args, None).success().json();
    v.as_array().unwrap().clone()
}

/// Three batches: inserts; an update, a delete and an insert; a new column.
fn three_batches(dir: &Path) -> Vec<i64> {
    let mut checkpoints = Vec::new();
    let batches = [
        vec![json!({"id": 1, "name": "a", "n": 5}), json!({"id": 2, "name": "b", "n": 7})],
        vec![
            json!({"id": 2, "name": "bb", "n": 8}),
            json!({"id": 1, "_deleted": true}),
            json!({"id": 3, "name": "c", "n": 1}),
        ],
        vec![json!({"id": 4, "name": "d", "n": 2, "city": "Oslo"})],
    ];
    for (i, b) in batches.iter().enumerate() {
        let r = push(dir, b, "phone", i as i64 + 1);
        checkpoints.push(r["tables"][0]["checkpoint"].as_i64().unwrap());
    }
    checkpoints
}

#[test]
fn query_reads_synced_tables_now_and_as_of_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let cp = three_batches(dir.path());
    let rows = query(dir.path(), "SELECT id, name, n, city, _idb_client, _idb_batch FROM items ORDER BY id", &[]);
    assert_eq!(
        rows,
        vec![
            json!({"id": 2, "name": "bb", "n": 8, "_idb_client": "phone", "_idb_batch": 2}),
            json!({"id": 3, "name": "c", "n": 1, "_idb_client": "phone", "_idb_batch": 2}),
            json!({"id": 4, "name": "d", "n": 2, "city": "Oslo", "_idb_client": "phone", "_idb_batch": 3}),
        ]
    );
    // The merge key's text and the content hash are bookkeeping SQL does not see.
    let cols = query(dir.path(), "SELECT * FROM items LIMIT 1", &[]);
    let names: Vec<&String> = cols[0].as_object().unwrap().keys().collect();
    assert!(!names.iter().any(|n| *n == "_idb_key" || *n == "_idb_hash"), "{names:?}");
    // Time travel: the table as the first push left it.
    let first = cp[0].to_string();
    let rows = query(dir.path(), "SELECT id, name FROM items ORDER BY id", &["--as-of", &first]);
    assert_eq!(rows, vec![json!({"id": 1, "name": "a"}), json!({"id": 2, "name": "b"})]);
    let later = (cp[2] + 5).to_string();
    let r = idbsync(dir.path(), &["query", "root", "SELECT 1 FROM items", "--as-of", &later], None);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains(&format!("version {later}")), "{}", r.stderr);
    // A time before the table existed: the table is not there.
    let r = idbsync(dir.path(), &["query", "root", "SELECT 1 FROM items", "--as-of", "2001-01-01"], None);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("items"), "{}", r.stderr);
    // Writes stay refused.
    let r = idbsync(dir.path(), &["query", "root", "DELETE FROM items"], None);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("read-only"), "{}", r.stderr);
}

#[test]
fn tables_schema_and_download_see_synced_tables() {
    let dir = tempfile::tempdir().unwrap();
    let cp = three_batches(dir.path());
    let t: Value = idbsync(dir.path(), &["tables", "root", "--json"], None).success().json();
    assert_eq!(t[0]["table"], "items");
    assert_eq!(t[0]["rows"], 3);
    assert_eq!(t[0]["format"], format!("delta v{}", cp[2]));
    let out = idbsync(dir.path(), &["schema", "root", "items"], None).success().stdout;
    assert!(out.contains("city") && !out.contains("_idb_"), "{out}");
    // A whole synced table as NDJSON: the records, no bookkeeping.
    idbsync(dir.path(), &["download", "root", "--table", "items", "--format", "ndjson", "--to", "items.ndjson"], None)
        .success();
    let text = std::fs::read_to_string(dir.path().join("items.ndjson")).unwrap();
    let mut got: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    got.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(
        got,
        vec![
            json!({"id": 2, "name": "bb", "n": 8}),
            json!({"id": 3, "name": "c", "n": 1}),
            json!({"id": 4, "name": "d", "n": 2, "city": "Oslo"}),
        ]
    );
    // --sql downloads leave the bookkeeping columns out too.
    idbsync(
        dir.path(),
        &["download", "root", "--sql", "SELECT * FROM items WHERE id = 4", "--format", "ndjson", "--to", "q.ndjson"],
        None,
    )
    .success();
    let text = std::fs::read_to_string(dir.path().join("q.ndjson")).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(text.trim()).unwrap(),
        json!({"id": 4, "name": "d", "n": 2, "city": "Oslo"})
    );
}

#[test]
fn history_lists_each_push_with_its_client_batch_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let cp = three_batches(dir.path());
    let h: Value = idbsync(dir.path(), &["history", "root", "--table", "items", "--json"], None).success().json();
    let h = h.as_array().unwrap();
    assert_eq!(h[0]["version"].as_i64(), Some(cp[2]));
    let pushes: Vec<&Value> = h.iter().filter(|c| c["client"] == "phone").collect();
    assert_eq!(pushes.len(), 3, "{h:?}");
    let second = pushes.iter().find(|c| c["batch"] == 2).unwrap();
    assert_eq!((second["rows_inserted"].as_u64(), second["rows_updated"].as_u64()), (Some(1), Some(1)));
    assert_eq!(second["rows_deleted"].as_u64(), Some(1));
    let r = idbsync(dir.path(), &["history", "root", "--table", "nope"], None);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("no synced table"), "{}", r.stderr);
}

#[test]
fn create_materialises_a_result_that_a_pull_since_follows_by_its_changes() {
    let dir = tempfile::tempdir().unwrap();
    three_batches(dir.path());
    let sql = "SELECT id, upper(name) AS name, n * 10 AS score FROM items";
    idbsync(dir.path(), &["query", "root", sql, "--create", "scores"], None).success();
    let rows = query(dir.path(), "SELECT id, name, score FROM scores ORDER BY id", &[]);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0], json!({"id": 2, "name": "BB", "score": 80}));
    let pulled =
        idbsync(dir.path(), &["pull", "root", "--table", "scores", "--to", "p.ndjson", "--json"], None).success();
    let cp: Value = serde_json::from_str(&pulled.stderr).unwrap();
    let cp = cp["checkpoint"].as_i64().unwrap().to_string();
    // The source changes; re-running replaces the result in one commit of the difference.
    push(
        dir.path(),
        &[json!({"id": 3, "_deleted": true}), json!({"id": 4, "name": "d", "n": 9, "city": "Oslo"})],
        "phone",
        4,
    );
    idbsync(dir.path(), &["query", "root", sql, "--create", "scores"], None).success();
    idbsync(dir.path(), &["pull", "root", "--table", "scores", "--since", &cp, "--to", "d.ndjson"], None).success();
    let text = std::fs::read_to_string(dir.path().join("d.ndjson")).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], json!({"id": 4, "name": "D", "score": 90}));
    assert_eq!(lines[1], json!({"id": 3, "_deleted": true}));
    // A result without the key column is refused before anything is written.
    let r = idbsync(dir.path(), &["query", "root", "SELECT name FROM items", "--create", "names"], None);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("no column 'id'"), "{}", r.stderr);
    assert!(!dir.path().join("root/names").exists());
}

#[test]
fn optimize_compacts_and_vacuum_removes_only_unneeded_files() {
    let dir = tempfile::tempdir().unwrap();
    for b in 1..=6 {
        push(dir.path(), &[json!({"id": b, "name": format!("r{b}")})], "laptop", b);
    }
    let before = query(dir.path(), "SELECT id, name FROM items ORDER BY id", &[]);
    let files = |d: &Path| -> usize {
        std::fs::read_dir(d.join("root/items"))
            .unwrap()
            .filter(|e| s(&e.as_ref().unwrap().path()).ends_with(".parquet"))
            .count()
    };
    let t: Value = idbsync(dir.path(), &["tables", "root", "--json"], None).success().json();
    assert_eq!(t[0]["files"], 6);
    let o: Value = idbsync(dir.path(), &["optimize", "root", "--json"], None).success().json();
    assert_eq!((o[0]["files_removed"].as_u64(), o[0]["files_added"].as_u64()), (Some(6), Some(1)), "{o}");
    let t: Value = idbsync(dir.path(), &["tables", "root", "--json"], None).success().json();
    assert_eq!(t[0]["files"], 1);
    assert_eq!(query(dir.path(), "SELECT id, name FROM items ORDER BY id", &[]), before);
    // The compacted files stay on disk until a vacuum whose retention allows it.
    assert_eq!(files(dir.path()), 7);
    let r = idbsync(dir.path(), &["vacuum", "root", "--retain-hours", "0.5"], None);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("under one hour") && r.stderr.contains("--force"), "{}", r.stderr);
    let v: Value = idbsync(dir.path(), &["vacuum", "root", "--json"], None).success().json();
    assert_eq!(v[0]["files_deleted"], 0, "the default retention keeps a week");
    let v: Value =
        idbsync(dir.path(), &["vacuum", "root", "--retain-hours", "0", "--force", "--json"], None).success().json();
    // The six compacted files, and the change-data files of the merges.
    assert!(v[0]["files_deleted"].as_u64().unwrap() >= 6, "{v}");
    assert_eq!(files(dir.path()), 1);
    assert_eq!(query(dir.path(), "SELECT id, name FROM items ORDER BY id", &[]), before);
    // A pull since a checkpoint whose files are gone says what to do.
    let r = idbsync(dir.path(), &["pull", "root", "--table", "items", "--since", "1", "--to", "x.ndjson"], None);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("pull without --since"), "{}", r.stderr);
}

#[test]
fn convert_table_format_delta_writes_the_records_a_parquet_conversion_has() {
    let dir = tempfile::tempdir().unwrap();
    // Every bundled Dexie export: all typeson tags, UTF-16 edge cases, key kinds.
    let mut fixtures: Vec<_> = std::fs::read_dir(common::FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("dexie-"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 3);
    for (i, f) in fixtures.iter().enumerate() {
        let (pq, dl) = (format!("pq{i}"), format!("dl{i}"));
        idbsync(dir.path(), &["convert", s(f), "--out", &pq, "-q"], None).success();
        let r: Value = idbsync(dir.path(), &["convert", s(f), "--out", &dl, "--table-format", "delta", "--json"], None)
            .success()
            .json();
        for t in r["tables"].as_array().unwrap() {
            assert_eq!(t["rejected"], 0, "{}: {t}", f.display());
            let t = t["table"].as_str().unwrap();
            let mut got = Vec::new();
            for root in [&pq, &dl] {
                let to = format!("{root}-{t}.json");
                idbsync(dir.path(), &["download", root, "--table", t, "--format", "dexie", "--to", &to, "-q"], None)
                    .success();
                // Compared as text (lone surrogates are not JSON serde_json reads): one row
                // per line, in any order.
                let text = std::fs::read_to_string(dir.path().join(&to)).unwrap();
                let mut lines: Vec<String> = text.lines().map(|l| l.trim_end_matches(',').to_owned()).collect();
                lines.sort();
                got.push(lines);
            }
            assert!(got[0].len() > 2, "{t}: {:?}", got[0]);
            assert_eq!(got[0], got[1], "{} table {t}: the Delta snapshot's download differs", f.display());
        }
    }
    let shop = common::fixture("dexie-shop.json");
    idbsync(dir.path(), &["convert", s(&shop), "--out", "dl", "--table-format", "delta", "-q"], None).success();
    let listed: Value = idbsync(dir.path(), &["tables", "dl", "--json"], None).success().json();
    assert!(listed.as_array().unwrap().iter().all(|t| t["format"].as_str().unwrap().starts_with("delta v")));
    // Again into the same root: refused; --mode overwrite replaces (nothing changed here).
    let again = idbsync(dir.path(), &["convert", s(&shop), "--out", "dl", "--table-format", "delta"], None);
    assert_eq!(again.code, Some(1));
    assert!(again.stderr.contains("already has synced tables") && again.stderr.contains("push"), "{}", again.stderr);
    let r: Value = idbsync(
        dir.path(),
        &["convert", s(&shop), "--out", "dl", "--table-format", "delta", "--mode", "overwrite", "--json"],
        None,
    )
    .success()
    .json();
    assert!(r["tables"].as_array().unwrap().iter().all(|t| t["upserted"] == 0 && t["deleted"] == 0), "{r}");
    // Options that do not apply are refused by name.
    let r = idbsync(dir.path(), &["convert", s(&shop), "--out", "x", "--table-format", "delta", "--verify"], None);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("--verify not supported"), "{}", r.stderr);
    // --partition-by makes Delta partition columns; every store needs the column.
    let r = idbsync(
        dir.path(),
        &["convert", s(&shop), "--out", "x", "--table-format", "delta", "--partition-by", "status"],
        None,
    );
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("table 'customers': --partition-by status: the records creating"), "{}", r.stderr);
    let f = write_ndjson(
        dir.path(),
        "cities.ndjson",
        &[json!({"id": 1, "city": "Oslo"}), json!({"id": 2, "city": "Rome"})],
    );
    let args =
        ["convert", &f, "--out", "parts", "--table-format", "delta", "--key", "id", "--partition-by", "city", "-q"];
    idbsync(dir.path(), &args, None).success();
    let listed: Value = idbsync(dir.path(), &["tables", "parts", "--json"], None).success().json();
    assert_eq!(listed[0]["partitions"], json!(["city Utf8"]), "{listed}");
    assert!(dir.path().join("parts/cities/city=Oslo").is_dir());
}

/// `push` shows its stages on a spinner only when stderr is a terminal and neither `-q`
/// nor `--json` is given: piped, its stderr stays empty. On a terminal (a pty from
/// util-linux `script`, when installed) the stages are drawn, and `-q` draws nothing.
#[test]
fn push_shows_its_stages_only_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_ndjson(dir.path(), "b.ndjson", &[json!({"id": 1, "n": 1}), json!({"id": 2, "n": 2})]);
    let args = |root: &str, extra: &[&'static str]| {
        let mut a = vec!["push".to_owned(), f.clone(), root.to_owned(), "--key".into(), "id".into()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |a: Vec<String>| idbsync(dir.path(), &a.iter().map(String::as_str).collect::<Vec<_>>(), None).success();
    let piped = run(args("piped", &[]));
    assert_eq!(piped.stderr, "");
    assert!(piped.stdout.starts_with("table "), "{}", piped.stdout);
    let quiet = run(args("quiet", &["-q"]));
    assert_eq!((quiet.stdout.as_str(), quiet.stderr.as_str()), ("", ""));
    assert_eq!(run(args("json", &["--json"])).stderr, "");

    let on_terminal = |a: Vec<String>| {
        let line = std::iter::once(common::BIN.to_owned()).chain(a).collect::<Vec<_>>().join(" ");
        std::process::Command::new("script").args(["-qec", &line, "/dev/null"]).current_dir(dir.path()).output()
    };
    let Ok(shown) = on_terminal(args("tty", &[])) else {
        eprintln!("SKIPPED the terminal half of push_shows_its_stages_only_on_a_terminal: no `script`");
        return;
    };
    assert!(shown.status.success(), "{shown:?}");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("writing the new tables: 2 rows"), "{text}");
    assert!(text.contains("\nb ") && text.contains("checkpoint"), "the summary follows: {text}");
    let quiet = on_terminal(args("tty-quiet", &["-q"])).unwrap();
    assert!(quiet.status.success(), "{quiet:?}");
    assert_eq!(String::from_utf8_lossy(&quiet.stdout), "");
}

#[test]
fn push_reports_a_column_whose_type_it_changed_and_pull_gives_every_value_back() {
    let dir = tempfile::tempdir().unwrap();
    push(dir.path(), &[json!({"id": 1, "n": 1}), json!({"id": 2, "n": 2})], "phone", 1);
    // Text in the integer column: the column becomes JSON text (summary and --json).
    let f = write_ndjson(dir.path(), "b2.ndjson", &[json!({"id": 3, "n": "three"})]);
    let args = ["push", &f, "root", "--key", "id", "--store", "items", "--client", "phone", "--batch", "2"];
    let out = idbsync(dir.path(), &args, None).success().stdout;
    assert!(out.contains("items: column n changed type: Int64 -> JSON text"), "{out}");
    assert!(out.contains("items: the table was rewritten in the push's commit (2 rows re-encoded)"), "{out}");
    assert!(!out.contains("first at record"), "{out}");
    let r = push(dir.path(), &[json!({"id": 4, "n": 2.5})], "phone", 3);
    assert_eq!(r["tables"][0]["widened_columns"], json!([]));
    let r = push(dir.path(), &[json!({"id": 5, "n": {"a": 1}}), json!({"id": 2, "n": [2]})], "phone", 4);
    assert_eq!((r["tables"][0]["upserted"].as_u64(), r["tables"][0]["rejected"].as_u64()), (Some(2), Some(0)));

    let out = idbsync(dir.path(), &["pull", "root", "--table", "items", "--to", "-"], None).success().stdout;
    let mut got: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    got.pop(); // the checkpoint
    got.sort_by_key(|v| v["id"].as_i64());
    assert_eq!(
        got,
        [
            json!({"id": 1, "n": 1}),
            json!({"id": 2, "n": [2]}),
            json!({"id": 3, "n": "three"}),
            json!({"id": 4, "n": 2.5}),
            json!({"id": 5, "n": {"a": 1}})
        ]
    );
}

#[test]
fn push_json_lists_the_widened_columns() {
    let dir = tempfile::tempdir().unwrap();
    push(dir.path(), &[json!({"id": 1, "n": 1})], "phone", 1);
    let r = push(dir.path(), &[json!({"id": 2, "n": 0.5})], "phone", 2);
    let t = &r["tables"][0];
    assert_eq!(
        t["widened_columns"],
        json!([{"column": "n", "from": "Int64", "to": "Float64", "cause": "n: integer then number (float64)", "record": 0}])
    );
    assert_eq!((t["rewritten"].as_u64(), t["rejected"].as_u64()), (Some(1), Some(0)));
}

#[test]
fn push_explain_names_the_value_and_record_that_changed_a_column() {
    let dir = tempfile::tempdir().unwrap();
    let push_k = |name: &str, records: &[Value], extra: &[&str]| {
        let f = write_ndjson(dir.path(), name, records);
        let mut args = vec!["push", &f, "root", "--key", "id", "--store", "things"];
        args.extend_from_slice(extra);
        idbsync(dir.path(), &args, None).success().stdout
    };
    push_k("k1.ndjson", &[json!({"id": 1, "k": 1})], &[]);
    let out = push_k("k2.ndjson", &[json!({"id": 2, "k": 2}), json!({"id": 3, "k": {"deep": true}})], &["--explain"]);
    assert!(out.contains("things: column k changed type: Int64 -> JSON text"), "{out}");
    assert!(out.contains("things:   k: integer then object (json), first at record 1 of the input"), "{out}");
}
