//! End-to-end tests of `idbsync download`: the real executable, each test in its own temp
//! dir. What is written is checked in detail by the engine's tests and, through stock
//! importInto, by testdata/exporter/check-download.mjs; here: the command line, files vs
//! stdout, the summary, and that a failure leaves no file behind.

mod common;

use common::{fixture, s, Run};
use serde_json::Value;
use std::path::Path;

fn idbsync(dir: &Path, args: &[&str]) -> Run {
    common::idbsync(dir, args, None)
}

/// `dexie-shop.json` converted into `<dir>/out`.
fn shop(dir: &Path) {
    idbsync(dir, &["convert", s(&fixture("dexie-shop.json")), "--out", "out", "-q"]).success();
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn a_store_downloads_as_a_dexie_export_with_a_summary_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    shop(dir.path());
    let run = idbsync(dir.path(), &["download", "out", "--table", "orders", "--to", "orders.json"]).success();
    assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
    assert!(run.stderr.contains("50 rows of 'orders' written as dexie to orders.json"), "{}", run.stderr);
    let text = std::fs::read(dir.path().join("orders.json")).unwrap();
    assert!(text.iter().all(u8::is_ascii));
    let v: Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(v["data"]["databaseName"], "shop");
    assert_eq!(v["data"]["tables"][0]["schema"], "++id,customerId,created,*tags");
    assert_eq!(v["data"]["tables"][0]["rowCount"], 50);
    assert_eq!(v["data"]["data"][0]["rows"].as_array().unwrap().len(), 50);
    // The original's first row, exactly (key order aside).
    let orig: Value = serde_json::from_str(&std::fs::read_to_string(fixture("dexie-shop.json")).unwrap()).unwrap();
    assert_eq!(v["data"]["data"][0]["rows"][0], orig["data"]["data"][0]["rows"][0]);
    // Nothing else was left beside it.
    assert_eq!(names(dir.path()), ["orders.json", "out"]);
    // --json: the report.
    let run = idbsync(dir.path(), &["download", "out", "--table", "customers", "--to", "c.json", "--json"]).success();
    let report: Value = serde_json::from_str(&run.stderr).unwrap();
    assert_eq!((report["rows"].as_u64(), report["format"].as_str()), (Some(10), Some("dexie")));
    assert_eq!(report["bytes"].as_u64(), Some(std::fs::metadata(dir.path().join("c.json")).unwrap().len()));
}

#[test]
fn dash_writes_to_stdout_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    shop(dir.path());
    let run =
        idbsync(dir.path(), &["download", "out", "--table", "customers", "--to", "-", "--format", "ndjson"]).success();
    let lines: Vec<Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0]["email"], "ana@example.com");
    assert_eq!(lines[0]["joined"], "2022-01-01T10:00:00.000Z");
    assert!(run.stderr.contains("10 rows of 'customers' written as ndjson to stdout"), "{}", run.stderr);

    let run = idbsync(dir.path(), &["download", "out", "--table", "customers", "--to", "-", "--format", "csv", "-q"])
        .success();
    let mut lines = run.stdout.lines();
    assert_eq!(lines.next(), Some("id,email,name,joined,vip"));
    assert_eq!(lines.count(), 10);
    assert!(run.stderr.is_empty());

    idbsync(dir.path(), &["download", "out", "--table", "customers", "--to", "c.parquet", "--format", "parquet"])
        .success();
    let bytes = std::fs::read(dir.path().join("c.parquet")).unwrap();
    assert_eq!((&bytes[..4], &bytes[bytes.len() - 4..]), (&b"PAR1"[..], &b"PAR1"[..]));
}

#[test]
fn a_failed_download_leaves_the_target_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    shop(dir.path());
    std::fs::write(dir.path().join("keep.json"), "old").unwrap();
    let run = idbsync(dir.path(), &["download", "out", "--table", "nope", "--to", "keep.json"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("no dataset for store 'nope'") && run.stderr.contains("orders"), "{}", run.stderr);
    // A failure while writing: a string longer than the importer reads is impossible with
    // the fixtures, so break a data file instead.
    let data = dir.path().join("out/orders");
    let part = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "parquet"))
        .unwrap();
    std::fs::write(&part, b"PAR1 damaged").unwrap();
    let run = idbsync(dir.path(), &["download", "out", "--table", "orders", "--to", "keep.json"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("downloading store 'orders'"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("keep.json")).unwrap(), "old");
    assert_eq!(names(dir.path()), ["keep.json", "out"], "no temporary file is left");
    // A successful download replaces it.
    idbsync(dir.path(), &["download", "out", "--table", "customers", "--to", "keep.json"]).success();
    assert!(std::fs::read_to_string(dir.path().join("keep.json")).unwrap().starts_with("{\"formatName\":\"dexie\""));
}

#[test]
fn uncommitted_stores_need_allow_uncommitted() {
    let dir = tempfile::tempdir().unwrap();
    shop(dir.path());
    std::fs::remove_file(dir.path().join("out/customers/_SUCCESS")).unwrap();
    let run = idbsync(dir.path(), &["download", "out", "--table", "customers", "--to", "c.json"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("not committed") && run.stderr.contains("--allow-uncommitted"), "{}", run.stderr);
    assert!(!dir.path().join("c.json").exists());
    let run =
        idbsync(dir.path(), &["download", "out", "--table", "customers", "--to", "c.json", "--allow-uncommitted"])
            .success();
    assert!(run.stderr.contains("is not committed"), "{}", run.stderr);
    assert!(dir.path().join("c.json").exists());
}

#[test]
fn table_or_sql_is_required() {
    let dir = tempfile::tempdir().unwrap();
    shop(dir.path());
    let run = idbsync(dir.path(), &["download", "out", "--to", "x.json"]);
    assert_eq!(run.code, Some(2), "clap refuses: {}", run.stderr);
    let run = idbsync(dir.path(), &["download", "out", "--table", "orders", "--sql", "SELECT 1", "--to", "x.json"]);
    assert_eq!(run.code, Some(2), "not both: {}", run.stderr);
    let run = idbsync(dir.path(), &["download", "out", "--sql", "DELETE FROM orders", "--to", "x.json"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("read-only"), "{}", run.stderr);
    assert!(!dir.path().join("x.json").exists());
}

#[test]
fn a_sql_result_downloads_with_the_tags_of_stored_columns() {
    let dir = tempfile::tempdir().unwrap();
    shop(dir.path());
    let sql = "SELECT id, created, total * 2 AS doubled FROM orders WHERE id <= 3 ORDER BY id";
    let args = ["download", "out", "--sql", sql, "--to", "r.json", "--table-name", "picked", "-q"];
    idbsync(dir.path(), &args).success();
    let doc: Value = serde_json::from_slice(&std::fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    let data = &doc["data"];
    assert_eq!(data["tables"][0]["name"], "picked");
    assert_eq!(data["tables"][0]["rowCount"], 3);
    let rows = data["data"][0]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    // `created` comes straight from a stored Date column: it keeps its typeson tag;
    // `doubled` is computed: a plain number.
    assert_eq!(rows[0]["$types"], serde_json::json!({"created": "date"}));
    assert!(rows[0]["created"].is_i64() && rows[0]["doubled"].is_f64(), "{}", rows[0]);
    assert_eq!(rows.iter().map(|r| r["id"].as_i64().unwrap()).collect::<Vec<_>>(), vec![1, 2, 3]);

    let nd = idbsync(
        dir.path(),
        &[
            "download",
            "out",
            "--sql",
            "SELECT status, count(*) AS n FROM orders GROUP BY status ORDER BY status",
            "--to",
            "-",
            "--format",
            "ndjson",
            "-q",
        ],
    )
    .success();
    let lines: Vec<Value> = nd.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().map(|l| l["n"].as_i64().unwrap()).sum::<i64>(), 50);
}

#[test]
fn overrides_for_stores_without_a_dexie_declaration() {
    let dir = tempfile::tempdir().unwrap();
    idbsync(dir.path(), &["convert", s(&fixture("orders.ndjson")), "--out", "nd", "-q"]).success();
    // No Dexie declaration: numbered out-of-line keys under `++` by default …
    idbsync(dir.path(), &["download", "nd", "--table", "orders", "--to", "a.json"]).success();
    let v: Value = serde_json::from_slice(&std::fs::read(dir.path().join("a.json")).unwrap()).unwrap();
    assert_eq!(v["data"]["tables"][0]["schema"], "++");
    assert_eq!(v["data"]["data"][0]["inbound"], false);
    assert_eq!(v["data"]["data"][0]["rows"][0]["$"][0], 1);
    // … or inbound rows under a schema the user names.
    let args = ["download", "nd", "--table", "orders", "--to", "b.json", "--dexie-schema", "++id,customerId"];
    let extra = ["--database", "shop2", "--db-version", "2"];
    idbsync(dir.path(), &[&args[..], &extra[..]].concat()).success();
    let v: Value = serde_json::from_slice(&std::fs::read(dir.path().join("b.json")).unwrap()).unwrap();
    assert_eq!(v["data"]["databaseName"], "shop2");
    assert_eq!(v["data"]["databaseVersion"], 2);
    assert_eq!(v["data"]["tables"][0]["schema"], "++id,customerId");
    assert_eq!(v["data"]["data"][0]["inbound"], true);
    assert_eq!(v["data"]["data"][0]["rows"][0]["id"], 1);
    // A schema that contradicts the stored rows is refused: shop's orders hold their keys.
    shop(dir.path());
    let run = idbsync(dir.path(), &["download", "out", "--table", "orders", "--to", "c.json", "--dexie-schema", ""]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("the rows hold their keys, but the Dexie schema '' has no key path"), "{}", run.stderr);
    assert!(!dir.path().join("c.json").exists());
}
