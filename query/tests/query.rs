//! SQL over converted fixtures: tables, typed partition columns that prune, read-only
//! statements, uncommitted datasets, staging files that must not leak, JSON functions.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Int64Type};
use engine::{convert, ConvertOptions, LocalSink, SUCCESS, TEMPORARY};
use query::{Error, OpenOptions, Session};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/fixtures");

/// `<dir>/shop` (dexie-shop, orders by day) and `<dir>/alltags` (dexie-alltags).
fn datasets(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    for (name, parts) in [("dexie-shop", vec!["day(created)"]), ("dexie-alltags", vec![])] {
        let opts = ConvertOptions::new().with_partition_by(parts.iter().map(|p| p.parse().unwrap()).collect());
        let input = Path::new(FIXTURES).join(format!("{name}.json"));
        let out = root.join(name.trim_start_matches("dexie-"));
        convert(&input, Arc::new(LocalSink::new(out)), opts, &|_, _| {}).unwrap();
    }
    root
}

fn open(root: &Path) -> Session {
    Session::open(root.to_str().unwrap(), &OpenOptions::default()).unwrap()
}

fn rows(s: &Session, sql: &str) -> Vec<RecordBatch> {
    s.preview(sql, 0).unwrap_or_else(|e| panic!("{sql}: {e}")).batches
}

fn one_i64(s: &Session, sql: &str) -> i64 {
    let b = rows(s, sql);
    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 1, "{sql}");
    let b = b.into_iter().find(|b| b.num_rows() == 1).unwrap();
    b.column(0).as_primitive::<Int64Type>().value(0)
}

fn plan(s: &Session, sql: &str) -> String {
    let batches = s.explain(sql).unwrap();
    arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string()
}

#[test]
fn every_store_is_a_table_with_typed_partition_columns() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&datasets(dir.path()));
    assert_eq!(s.table_names(), vec!["customers", "kv", "orders", "pairs", "things"]);
    assert_eq!(one_i64(&s, "SELECT count(*) FROM orders"), 50);
    assert_eq!(one_i64(&s, "SELECT count(*) FROM customers"), 10);
    let orders = s.tables.iter().find(|t| t.name == "orders").unwrap();
    assert_eq!(orders.partitions, vec![("day".to_owned(), DataType::Date32)]);
    let b = rows(&s, "SELECT day, count(*) AS n FROM orders GROUP BY day ORDER BY day LIMIT 1");
    assert_eq!(b[0].schema().field(0).data_type(), &DataType::Date32);
    let days = b[0].column(0).as_primitive::<Date32Type>();
    assert_eq!(days.value(0), 19783, "2024-03-01 is day 19783 of the epoch");
    // The partition value agrees with the column it came from, row by row.
    let mismatched = one_i64(&s, "SELECT count(*) FROM orders WHERE CAST(created AS DATE) <> day");
    assert_eq!(mismatched, 0);
}

#[test]
fn a_partition_filter_reads_only_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&datasets(dir.path()));
    let sql = "SELECT count(*) FROM orders WHERE day = DATE '2024-03-01'";
    assert_eq!(one_i64(&s, sql), 2);
    let p = plan(&s, "SELECT id FROM orders WHERE day = DATE '2024-03-01'");
    assert!(p.contains("day=2024-03-01"), "{p}");
    assert!(!p.contains("day=2024-03-02"), "other days must be pruned:\n{p}");
}

#[test]
fn staging_rejects_and_metadata_never_reach_a_result() {
    let dir = tempfile::tempdir().unwrap();
    let root = datasets(dir.path());
    let ds = root.join("shop/orders");
    let data = walk(&ds).into_iter().find(|p| p.extension().is_some_and(|e| e == "parquet")).unwrap();
    // Copies of a real data file where a running job, rejects and metadata live.
    for stray in [
        format!("{TEMPORARY}/job-1/part-00000-x.zstd.parquet"),
        format!("{TEMPORARY}/job-1/day=2024-03-01/part-00000-x.zstd.parquet"),
        "_rejects/part-x.zstd.parquet".to_owned(),
        "_idbsync/part-x.zstd.parquet".to_owned(),
        ".hidden/part-x.zstd.parquet".to_owned(),
    ] {
        let p = ds.join(stray);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(&data, &p).unwrap();
    }
    let s = open(&root);
    assert_eq!(one_i64(&s, "SELECT count(*) FROM orders"), 50);
    assert_eq!(one_i64(&s, "SELECT count(DISTINCT id) FROM orders"), 50);
}

#[test]
fn an_uncommitted_dataset_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let root = datasets(dir.path());
    std::fs::remove_file(root.join("shop/customers").join(SUCCESS)).unwrap();
    let s = open(&root);
    assert!(!s.table_names().contains(&"customers"));
    let e = s.preview("SELECT * FROM customers", 10).err().expect("refused");
    assert!(matches!(e, Error::Uncommitted(_)), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("not committed") && msg.contains("--allow-uncommitted") && msg.contains("shop/customers"),
        "{msg}"
    );
    let allowed = Session::open(root.to_str().unwrap(), &OpenOptions { allow_uncommitted: true, ..Default::default() });
    assert_eq!(one_i64(&allowed.unwrap(), "SELECT count(*) FROM customers"), 10);
}

#[test]
fn only_read_only_statements_run() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&datasets(dir.path()));
    let copy_to = dir.path().join("copied.parquet");
    let copy = format!("COPY orders TO '{}'", copy_to.display());
    for sql in [
        copy.as_str(),
        "INSERT INTO orders SELECT * FROM orders",
        "CREATE TABLE x AS SELECT 1",
        "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/tmp/x'",
        "DROP TABLE orders",
        "SET datafusion.execution.batch_size = 1",
        "DELETE FROM orders",
    ] {
        let e = s.preview(sql, 10).err().unwrap_or_else(|| panic!("{sql} ran"));
        let msg = e.to_string();
        assert!(matches!(e, Error::ReadOnly(_)), "{sql}: {msg}");
        assert!(msg.contains("read-only") && msg.contains("SELECT, WITH, EXPLAIN, SHOW and DESCRIBE"), "{msg}");
    }
    assert!(!copy_to.exists(), "COPY wrote a file");
    assert_eq!(one_i64(&s, "SELECT count(*) FROM orders"), 50, "INSERT and DELETE changed nothing");
    for sql in [
        "WITH t AS (SELECT id FROM orders) SELECT count(*) FROM t",
        "EXPLAIN SELECT * FROM orders",
        "SHOW TABLES",
        "DESCRIBE orders",
    ] {
        s.preview(sql, 10).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

#[test]
fn an_unknown_table_lists_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&datasets(dir.path()));
    let msg = s.preview("SELECT * FROM order_items", 10).err().unwrap().to_string();
    assert!(msg.contains("order_items") && msg.contains("not found"), "DataFusion's words: {msg}");
    assert!(msg.contains("customers, kv, orders, pairs, things"), "{msg}");
    let msg = s.preview("SELEC 1", 10).err().unwrap().to_string();
    assert!(msg.contains("SELEC"), "{msg}");
}

#[test]
fn json_text_columns_answer_json_functions() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&datasets(dir.path()));
    // `note` is a string in most orders and the number 42 in one: a JSON-text column.
    let t = s.tables.iter().find(|t| t.name == "orders").unwrap();
    let note = t.schema.field_with_name("note").unwrap();
    assert_eq!(note.metadata().get("ARROW:extension:name").map(String::as_str), Some("arrow.json"));
    assert_eq!(one_i64(&s, "SELECT id FROM orders WHERE json_get_int(note) = 42"), 18);
    let b = rows(&s, "SELECT json_get_str(note) AS n FROM orders WHERE id = 3");
    assert_eq!(b[0].column(0).as_string::<i32>().value(0), "order 3");
}

#[test]
fn nested_fields_and_a_missing_root_read_as_expected() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&datasets(dir.path()));
    let b = rows(&s, "SELECT count(*) AS n FROM orders WHERE shipping['city'] = 'Berlin'");
    let n = b[0].column(0).as_primitive::<Int64Type>().value(0);
    assert!(n > 0 && n < 50, "{n}");
    let e = Session::open(dir.path().join("nope").to_str().unwrap(), &OpenOptions::default()).err().unwrap();
    assert!(e.to_string().contains("no such folder"), "{e}");
    let e = Session::open(dir.path().to_str().unwrap(), &OpenOptions::default());
    assert!(e.is_ok(), "the parent of the root holds the same datasets, deeper");
    let empty = tempfile::tempdir().unwrap();
    let e = Session::open(empty.path().to_str().unwrap(), &OpenOptions::default()).err().unwrap();
    assert!(e.to_string().contains("no idbsync dataset or synced table under"), "{e}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn results_keep_column_values_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&datasets(dir.path()));
    let b = rows(&s, "SELECT id, total, customerId FROM orders WHERE id IN (1, 18) ORDER BY id");
    let ids = b[0].column(0).as_primitive::<Int64Type>();
    assert_eq!((ids.value(0), ids.value(1)), (1, 18));
    let totals = b[0].column(1).as_primitive::<arrow::datatypes::Float64Type>();
    assert_eq!((totals.value(0), totals.value(1)), (76.96, 415.02));
    assert_eq!(b[0].column(2).null_count(), 0);
    // Names keep their case, as IndexedDB spells them; functions and keywords do not care.
    assert_eq!(
        one_i64(&s, "select COUNT(*) from orders where customerId = 5"),
        one_i64(&s, "SELECT count(*) FROM orders WHERE \"customerId\" = 5")
    );
}
