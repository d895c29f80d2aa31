//! `idbsync query`, `tables` and `schema` through the real binary: output formats, the
//! preview limit, plans, and errors that name the problem.

mod common;

use common::{fixture, idbsync, s};
use std::path::Path;

fn shop(dir: &Path) -> String {
    let out = dir.join("root/shop");
    let input = fixture("dexie-shop.json");
    idbsync(dir, &["convert", s(&input), "--out", s(&out), "--partition-by", "day(created)", "-q"], None).success();
    s(&dir.join("root")).to_owned()
}

#[test]
fn a_preview_shows_20_rows_and_says_how_many_were_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let root = shop(dir.path());
    let out = idbsync(dir.path(), &["query", &root, "SELECT id, created, day FROM orders ORDER BY id"], None).success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    // Header box (3 lines), 20 rows, closing line, then the count line.
    assert_eq!(lines.len(), 3 + 20 + 1 + 1, "{}", out.stdout);
    assert!(lines[3].starts_with("| 1  | 2024-03-01T00:21:35.034Z | 2024-03-01 |"), "{}", lines[3]);
    assert_eq!(lines.last().unwrap(), &"50 rows (20 shown, 30 more; --limit 0 shows all)");
    let all = idbsync(dir.path(), &["query", &root, "SELECT id FROM orders", "--limit", "0"], None).success();
    assert_eq!(all.stdout.lines().filter(|l| l.starts_with("| ")).count(), 51, "header + 50 rows");
    let five = idbsync(dir.path(), &["query", &root, "SELECT id FROM orders", "--limit", "5"], None).success();
    assert!(five.stdout.ends_with("50 rows (5 shown, 45 more; --limit 0 shows all)\n"), "{}", five.stdout);
}

#[test]
fn csv_json_and_ndjson_print_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let root = shop(dir.path());
    let sql = "SELECT id, status, day, shipping FROM orders WHERE id <= 3 ORDER BY id";
    let csv = idbsync(dir.path(), &["query", &root, sql, "--format", "csv"], None).success().stdout;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "id,status,day,shipping");
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[1].starts_with("1,shipped,2024-03-01,"), "{csv}");
    let json = idbsync(dir.path(), &["query", &root, sql, "--format", "json"], None).success().json();
    assert_eq!(json.as_array().unwrap().len(), 3);
    assert_eq!(json[0]["shipping"]["city"], "Berlin");
    assert_eq!(json[2]["day"], "2024-03-02");
    let nd = idbsync(dir.path(), &["query", &root, sql, "--format", "ndjson"], None).success().stdout;
    assert_eq!(nd.lines().count(), 3);
    let first: serde_json::Value = serde_json::from_str(nd.lines().next().unwrap()).unwrap();
    assert_eq!(first["id"], 1);
}

#[test]
fn tables_schema_and_explain() {
    let dir = tempfile::tempdir().unwrap();
    let root = shop(dir.path());
    let t = idbsync(dir.path(), &["tables", &root, "--json"], None).success().json();
    let names: Vec<&str> = t.as_array().unwrap().iter().map(|r| r["table"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["customers", "orders"]);
    assert_eq!(t[1]["rows"], 50);
    assert_eq!(t[1]["files"], 27);
    assert_eq!(t[1]["partitions"][0], "day Date32");
    assert_eq!(t[1]["committed"], true);
    let text = idbsync(dir.path(), &["tables", &root], None).success().stdout;
    assert!(
        text.lines().any(|l| l.starts_with("orders") && l.contains("committed") && l.contains("shop/orders")),
        "{text}"
    );

    let schema = idbsync(dir.path(), &["schema", &root, "orders"], None).success().stdout;
    assert!(schema.starts_with("orders (50 rows)\n"), "{schema}");
    assert!(schema.contains("typeson date"), "{schema}");
    assert!(schema.lines().any(|l| l.trim_start().starts_with("day") && l.contains("partition column")), "{schema}");
    let bad = idbsync(dir.path(), &["schema", &root, "nope"], None);
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("no table 'nope'") && bad.stderr.contains("customers, orders"), "{}", bad.stderr);

    let plan = idbsync(
        dir.path(),
        &["query", &root, "SELECT id FROM orders WHERE day = DATE '2024-03-01'", "--explain"],
        None,
    )
    .success()
    .stdout;
    assert!(plan.contains("physical_plan") && plan.contains("day=2024-03-01"), "{plan}");
}

#[test]
fn refused_statements_and_sql_errors_exit_1_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let root = shop(dir.path());
    let r = idbsync(dir.path(), &["query", &root, "DROP TABLE orders"], None);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("DROP is not allowed") && r.stderr.contains("read-only"), "{}", r.stderr);
    let r = idbsync(dir.path(), &["query", &root, "SELECT * FROM nope"], None);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("not found") && r.stderr.contains("customers, orders"), "{}", r.stderr);
    let r = idbsync(dir.path(), &["query", s(&dir.path().join("missing")), "SELECT 1"], None);
    assert!(r.stderr.contains("no such folder"), "{}", r.stderr);
}
