//! End-to-end tests of the `idbsync` binary: every test runs the real executable on the
//! committed fixtures (or on copies it makes in its own temp dir) and compares exact output.

mod common;

use common::{fixture, idbsync, s};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

const FIXTURE_NAMES: [&str; 5] =
    ["dexie-alltags.json", "dexie-shop.json", "plain-shop.json", "orders.ndjson", "orders-array.json"];

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

/// `idbsync infer <args> --json`, which must succeed with nothing on stderr.
fn infer_json(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> (String, Value) {
    let mut all = vec!["infer"];
    all.extend_from_slice(args);
    all.push("--json");
    let run = idbsync(dir, &all, stdin).success();
    assert_eq!(run.stderr, "");
    let v = run.json();
    (run.stdout, v)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// A line of the human tree with its indentation kept and inner runs of spaces
/// collapsed to one (the column widths are presentation, the content is not).
fn norm(line: &str) -> String {
    let indent = line.len() - line.trim_start().len();
    format!("{}{}", " ".repeat(indent), line.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn norm_all(text: &str) -> Vec<String> {
    text.lines().map(norm).collect()
}

/// The lines of one store in the human output: its `store NAME:` line up to the next blank line.
fn store_section(out: &str, store: &str) -> Vec<String> {
    let lines = norm_all(out);
    let head = format!("store {store}: ");
    let start = lines.iter().position(|l| l.starts_with(&head)).unwrap_or_else(|| panic!("no store {store}:\n{out}"));
    lines[start..].iter().take_while(|l| !l.is_empty()).cloned().collect()
}

/// The (normalized) line of a top-level field of a store section.
fn top_field(section: &[String], name: &str) -> String {
    section
        .iter()
        .find(|l| l.starts_with("  ") && !l.starts_with("   ") && l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no top-level field {name} in {section:#?}"))
        .clone()
}

/// The `store ...` lines of the human output, in order.
fn store_lines(out: &str) -> Vec<String> {
    norm_all(out).into_iter().filter(|l| l.starts_with("store ")).collect()
}

fn store<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["stores"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no store {name}"))
}

fn field<'a>(doc: &'a Value, store_name: &str, name: &str) -> &'a Value {
    store(doc, store_name)["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no field {name} in store {store_name}"))
}

fn field_mut<'a>(doc: &'a mut Value, store_index: usize, name: &str) -> &'a mut Value {
    doc["stores"][store_index]["schema"]["fields"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no field {name}"))
}

/// (name, rows, invalid) of every store of a schema document, in order.
fn store_rows(doc: &Value) -> Vec<(String, u64, u64)> {
    doc["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_owned(), s["rows"].as_u64().unwrap(), s["invalid"].as_u64().unwrap()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Human output
// ---------------------------------------------------------------------------------------

#[test]
fn human_output_of_dexie_alltags_names_stores_rows_and_field_types() {
    let dir = tempfile::tempdir().unwrap();
    let run = idbsync(dir.path(), &["infer", s(&fixture("dexie-alltags.json"))], None).success();
    assert_eq!(run.stderr, "");
    assert_eq!(norm(run.stdout.lines().next().unwrap()), "format: dexie database: alltags (version 3) bytes: 8278");
    assert_eq!(
        store_lines(&run.stdout),
        [
            r#"store things: 9 rows dexie schema "++id,name,[first+last],*tags""#,
            r#"store kv: 14 rows dexie schema """#,
            r#"store pairs: 4 rows dexie schema "[first+last],age""#,
        ]
    );

    let things = store_section(&run.stdout, "things");
    for want in [
        "  name utf8 not null",
        "  id int64 not null",
        // `created` is a Date in one row and the string "not a date" in the `drift` row.
        "  created json nullable, no value: absent",
        "  epoch timestamp[ms, UTC] nullable, typeson date, no value: absent",
        "  x.y~z timestamp[ms, UTC] nullable, typeson date, no value: absent",
        "  buf binary nullable, typeson arraybuffer, no value: absent",
        "  view binary nullable, typeson dataview, no value: absent",
        "  blob struct nullable, typeson blob2, no value: absent,null",
        "  u8 list nullable, typeson uint8array2, no value: absent",
        "  mapStr map nullable, typeson map, no value: absent",
        "  set list nullable, typeson set, no value: absent",
        "  nan float64 nullable, no value: absent",
        "  maxSafe int64 nullable, no value: absent",
        "  bigNeg int64 nullable, typeson bigint, no value: absent",
        "  bigHuge decimal128(38, 0) nullable, typeson bigint, no value: absent",
        "  re struct nullable, typeson regexp, no value: absent",
        "  bool boolean nullable, typeson BooleanObject, no value: absent",
        "  opt utf8 nullable, no value: absent,null,undefined",
        "  __idb_nulls map nullable",
    ] {
        let name = want.split_whitespace().next().unwrap();
        assert_eq!(top_field(&things, name), want);
    }
    // Nested fields: the whole `weird` struct, with the keys that need escaping in `$types`.
    let at = things.iter().position(|l| l == "  weird struct nullable, no value: absent").unwrap();
    assert_eq!(
        things[at + 1..at + 4],
        [
            "    a.b int64 not null",
            "    c~d timestamp[ms, UTC] not null, typeson date",
            "    e~1.f timestamp[ms, UTC] not null, typeson date",
        ]
    );

    assert_eq!(
        store_section(&run.stdout, "kv"),
        [
            r#"store kv: 14 rows dexie schema """#,
            "  __key json not null",
            "  __value json nullable, no value: null,undefined",
            "  __idb_nulls map nullable",
            "    key utf8 not null",
            "    value utf8 nullable",
        ]
    );
    assert_eq!(
        store_section(&run.stdout, "pairs"),
        [
            r#"store pairs: 4 rows dexie schema "[first+last],age""#,
            "  first utf8 not null",
            "  last utf8 not null",
            "  age int64 not null",
            "  born timestamp[ms, UTC] nullable, typeson date, no value: absent",
            "  award null nullable, no value: absent,null",
            "  ranks list nullable, typeson set, no value: absent",
            "    item utf8 not null",
            "  __idb_nulls map nullable",
            "    key utf8 not null",
            "    value utf8 nullable",
        ]
    );
}

#[test]
fn human_output_of_dexie_shop_is_the_exact_tree() {
    let dir = tempfile::tempdir().unwrap();
    let run = idbsync(dir.path(), &["infer", s(&fixture("dexie-shop.json"))], None).success();
    assert_eq!(run.stderr, "");
    let want = r#"format: dexie database: shop (version 1) bytes: 20005

store orders: 50 rows dexie schema "++id,customerId,created,*tags"
  customerId int64 not null
  created timestamp[ms, UTC] not null, typeson date
  status utf8 not null
  items list not null
    item struct not null
      sku utf8 not null
      qty int64 not null
      price float64 not null
  shipping struct not null
    city utf8 not null
    zip utf8 not null
    method utf8 not null
  tags list not null
    item utf8 not null
  total float64 not null
  note json nullable, no value: absent
  id int64 not null
  giftMessage utf8 nullable, no value: absent
  deliveredAt timestamp[ms, UTC] nullable, typeson date, no value: absent
  discount float64 nullable, no value: absent
  couponCode null nullable, no value: absent,null
  __idb_nulls map nullable
    key utf8 not null
    value utf8 nullable

store customers: 10 rows dexie schema "id,email"
  id int64 not null
  email utf8 not null
  name utf8 not null
  joined timestamp[ms, UTC] not null, typeson date
  vip boolean not null"#;
    assert_eq!(norm_all(&run.stdout), want.lines().collect::<Vec<_>>());
}

#[test]
fn human_output_of_plain_ndjson_and_array_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &[&str]); 3] = [
        ("plain-shop.json", "format: stores bytes: 15991", &["store customers: 10 rows", "store orders: 50 rows"]),
        ("orders.ndjson", "format: ndjson bytes: 14980", &["store orders: 50 rows"]),
        ("orders-array.json", "format: json-array bytes: 14981", &["store orders-array: 50 rows"]),
    ];
    for (name, header, stores) in cases {
        let run = idbsync(dir.path(), &["infer", s(&fixture(name))], None).success();
        assert_eq!(run.stderr, "", "{name}");
        assert_eq!(norm(run.stdout.lines().next().unwrap()), header, "{name}");
        assert_eq!(store_lines(&run.stdout), stores, "{name}");
        let orders = store_section(&run.stdout, stores.last().unwrap().split([' ', ':']).nth(1).unwrap());
        // Without typeson, dates are ISO strings.
        assert_eq!(top_field(&orders, "created"), "  created utf8 not null", "{name}");
        assert_eq!(top_field(&orders, "deliveredAt"), "  deliveredAt utf8 nullable, no value: absent", "{name}");
        assert_eq!(top_field(&orders, "total"), "  total float64 not null", "{name}");
        assert_eq!(top_field(&orders, "note"), "  note json nullable, no value: absent", "{name}");
        assert_eq!(top_field(&orders, "couponCode"), "  couponCode null nullable, no value: absent,null", "{name}");
    }
    let run = idbsync(dir.path(), &["infer", s(&fixture("plain-shop.json"))], None).success();
    assert_eq!(
        store_section(&run.stdout, "customers"),
        [
            "store customers: 10 rows",
            "  id int64 not null",
            "  email utf8 not null",
            "  name utf8 not null",
            "  joined utf8 not null",
            "  vip boolean not null",
        ]
    );
}

// ---------------------------------------------------------------------------------------
// The --json schema document
// ---------------------------------------------------------------------------------------

#[test]
fn json_document_of_every_fixture_has_exact_stores_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    // (fixture, format and database, bytes, [(store, rows)])
    type Want = (&'static str, Value, u64, &'static [(&'static str, u64)]);
    let want: [Want; 5] = [
        (
            "dexie-alltags.json",
            json!({"format": "dexie", "database": {"name": "alltags", "version": 3.0}}),
            8278,
            &[("things", 9), ("kv", 14), ("pairs", 4)],
        ),
        (
            "dexie-shop.json",
            json!({"format": "dexie", "database": {"name": "shop", "version": 1.0}}),
            20005,
            &[("orders", 50), ("customers", 10)],
        ),
        ("plain-shop.json", json!({"format": "stores"}), 15991, &[("customers", 10), ("orders", 50)]),
        ("orders.ndjson", json!({"format": "ndjson"}), 14980, &[("orders", 50)]),
        ("orders-array.json", json!({"format": "json-array"}), 14981, &[("orders-array", 50)]),
    ];
    for (name, head, bytes, stores) in want {
        let (_, doc) = infer_json(dir.path(), &[s(&fixture(name))], None);
        assert_eq!(doc["format"], head["format"], "{name}");
        assert_eq!(doc.get("database"), head.get("database"), "{name}");
        assert_eq!(doc["bytes"], bytes, "{name}");
        let got = store_rows(&doc);
        let want: Vec<(String, u64, u64)> = stores.iter().map(|(n, r)| (n.to_string(), *r, 0)).collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn json_document_field_types_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let (_, shop) = infer_json(dir.path(), &[s(&fixture("dexie-shop.json"))], None);
    assert_eq!(
        field(&shop, "orders", "created"),
        &json!({"name": "created", "data_type": {"Timestamp": ["Millisecond", "UTC"]}, "nullable": false,
                "dict_id": 0, "dict_is_ordered": false, "metadata": {"idb.tag": "date"}})
    );
    assert_eq!(
        field(&shop, "orders", "note")["metadata"],
        json!({"ARROW:extension:metadata": "", "ARROW:extension:name": "arrow.json", "idb.nulls": "absent"})
    );
    assert_eq!(
        store(&shop, "orders")["widenings"],
        json!([{"path": "note", "from": "string", "to": "json", "cause": "integer", "record": 17, "offset": 6764}])
    );
    assert_eq!(
        store(&shop, "customers")["schema"]["metadata"],
        json!({"idb.auto_increment": "false", "idb.database": "shop", "idb.dexie_schema": "id,email",
               "idb.format": "dexie", "idb.inbound": "true", "idb.indexes": "[\"email\"]",
               "idb.key_path": "[\"id\"]", "idb.store": "customers", "idb.version": "1"})
    );

    // NDJSON, a JSON array and the plain dump of the same orders give the same fields.
    let (_, nd) = infer_json(dir.path(), &[s(&fixture("orders.ndjson"))], None);
    let (_, arr) = infer_json(dir.path(), &[s(&fixture("orders-array.json"))], None);
    let (_, plain) = infer_json(dir.path(), &[s(&fixture("plain-shop.json"))], None);
    let fields = &store(&nd, "orders")["schema"]["fields"];
    let names: Vec<&str> = fields.as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "customerId",
            "created",
            "status",
            "items",
            "shipping",
            "tags",
            "total",
            "note",
            "id",
            "giftMessage",
            "deliveredAt",
            "discount",
            "couponCode",
            "__idb_nulls"
        ]
    );
    assert_eq!(&store(&arr, "orders-array")["schema"]["fields"], fields);
    assert_eq!(&store(&plain, "orders")["schema"]["fields"], fields);
    assert_eq!(
        store(&nd, "orders")["schema"]["metadata"],
        json!({"idb.format": "ndjson", "idb.nulls_column": "__idb_nulls", "idb.store": "orders"})
    );
}

#[test]
fn stdin_gzip_and_zstd_give_the_same_json_for_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let plain = fixture_bytes("orders.ndjson");
    let (want_text, want) = infer_json(dir.path(), &[s(&fixture("orders.ndjson"))], None);

    // Compressed files named after the store need no --store; others do.
    let gz = write(dir.path(), "orders.ndjson.gz", &gzip(&plain));
    let zst = write(dir.path(), "orders.ndjson.zst", &zstd(&plain));
    let gz_other = write(dir.path(), "export.gz", &gzip(&plain));
    let zst_other = write(dir.path(), "export.bin", &zstd(&plain));
    for args in
        [vec![s(&gz)], vec![s(&zst)], vec![s(&gz_other), "--store", "orders"], vec![s(&zst_other), "--store", "orders"]]
    {
        let (text, doc) = infer_json(dir.path(), &args, None);
        assert_eq!(doc, want, "{args:?}");
        assert_eq!(text, want_text, "{args:?}");
    }
    for input in [plain.clone(), gzip(&plain), zstd(&plain)] {
        let (text, doc) = infer_json(dir.path(), &["-", "--store", "orders"], Some(&input));
        assert_eq!(doc, want);
        assert_eq!(text, want_text);
    }

    // Without --store, stdin is the store `records`, and that is the only difference.
    let (_, mut doc) = infer_json(dir.path(), &["-"], Some(&zstd(&plain)));
    assert_eq!(doc["stores"][0]["name"], "records");
    assert_eq!(doc["stores"][0]["schema"]["metadata"]["idb.store"], "records");
    doc["stores"][0]["name"] = json!("orders");
    doc["stores"][0]["schema"]["metadata"]["idb.store"] = json!("orders");
    assert_eq!(doc, want);
}

#[test]
fn stdin_gzip_and_zstd_give_the_same_json_for_dexie() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["dexie-shop.json", "dexie-alltags.json", "plain-shop.json"] {
        let plain = fixture_bytes(name);
        let (want_text, want) = infer_json(dir.path(), &[s(&fixture(name))], None);
        let gz = write(dir.path(), &format!("{name}.gz"), &gzip(&plain));
        let zst = write(dir.path(), &format!("{name}.zst"), &zstd(&plain));
        for (path, stdin) in [
            (s(&gz), None),
            (s(&zst), None),
            ("-", Some(plain.clone())),
            ("-", Some(gzip(&plain))),
            ("-", Some(zstd(&plain))),
        ] {
            let (text, doc) = infer_json(dir.path(), &[path], stdin.as_deref());
            assert_eq!(doc, want, "{name} via {path}");
            assert_eq!(text, want_text, "{name} via {path}");
        }
    }
}

#[test]
fn utf8_bom_prefixed_input_infers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    for (name, args) in [("dexie-shop.json", &[][..]), ("orders.ndjson", &["--store", "orders"][..])] {
        let (_, want) = infer_json(dir.path(), &[s(&fixture(name))], None);
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(&fixture_bytes(name));
        let path = write(dir.path(), &format!("bom-{name}"), &bom);
        let mut all = vec![s(&path)];
        all.extend_from_slice(args);
        let (_, mut doc) = infer_json(dir.path(), &all, None);
        // The same schemas and rows; sizes and byte offsets count the BOM's 3 bytes.
        assert_eq!(doc["bytes"].as_u64().unwrap(), want["bytes"].as_u64().unwrap() + 3, "{name}");
        assert_eq!(
            store(&doc, "orders")["widenings"][0]["offset"],
            store(&want, "orders")["widenings"][0]["offset"].as_u64().map(|o| o + 3).unwrap()
        );
        doc["bytes"] = want["bytes"].clone();
        for st in doc["stores"].as_array_mut().unwrap() {
            if let Some(ws) = st.get_mut("widenings") {
                for w in ws.as_array_mut().unwrap() {
                    w["offset"] = json!(w["offset"].as_u64().unwrap() - 3);
                }
            }
        }
        assert_eq!(doc, want, "{name}");

        // The BOM is also found behind gzip.
        let gz = write(dir.path(), &format!("bom-{name}.gz"), &gzip(&bom));
        let mut all = vec![s(&gz)];
        all.extend_from_slice(args);
        let (_, gz_doc) = infer_json(dir.path(), &all, None);
        assert_eq!(gz_doc["bytes"].as_u64().unwrap(), want["bytes"].as_u64().unwrap() + 3, "{name}");
        assert_eq!(gz_doc["stores"].as_array().unwrap().len(), want["stores"].as_array().unwrap().len());
        for (g, w) in gz_doc["stores"].as_array().unwrap().iter().zip(want["stores"].as_array().unwrap()) {
            assert_eq!(g["schema"], w["schema"], "{name}");
            assert_eq!(g["rows"], w["rows"], "{name}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// --schema pinning
// ---------------------------------------------------------------------------------------

#[test]
fn schema_pinning_changes_only_the_pinned_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut doc) = infer_json(dir.path(), &[s(&fixture("orders.ndjson"))], None);
    assert_eq!(field(&doc, "orders", "total")["data_type"], "Float64");
    assert_eq!(field(&doc, "orders", "customerId")["data_type"], "Int64");
    field_mut(&mut doc, 0, "total")["data_type"] = json!("Utf8");
    field_mut(&mut doc, 0, "customerId")["data_type"] = json!("Float64");
    let pin = write(dir.path(), "pin.json", serde_json::to_string_pretty(&doc).unwrap().as_bytes());

    // The edited document is exactly what comes back: the two pinned types, all else
    // unchanged. Every field of a whole document is pinned, so no widening is reported.
    let (_, pinned) = infer_json(dir.path(), &[s(&fixture("orders.ndjson")), "--schema", s(&pin)], None);
    assert_eq!(field(&pinned, "orders", "total")["data_type"], "Utf8");
    assert_eq!(field(&pinned, "orders", "customerId")["data_type"], "Float64");
    doc["stores"][0].as_object_mut().unwrap().remove("widenings");
    assert_eq!(pinned, doc);

    // The human tree shows the pinned types too.
    let run = idbsync(dir.path(), &["infer", s(&fixture("orders.ndjson")), "--schema", s(&pin)], None).success();
    let orders = store_section(&run.stdout, "orders");
    assert_eq!(top_field(&orders, "total"), "  total utf8 not null");
    assert_eq!(top_field(&orders, "customerId"), "  customerId float64 not null");
    assert_eq!(top_field(&orders, "id"), "  id int64 not null");

    // A one-store document pins a single-store input of any name (here stdin, `records`).
    let (_, from_stdin) = infer_json(dir.path(), &["-", "--schema", s(&pin)], Some(&fixture_bytes("orders.ndjson")));
    assert_eq!(field(&from_stdin, "records", "total")["data_type"], "Utf8");
    assert_eq!(field(&from_stdin, "records", "customerId")["data_type"], "Float64");
}

#[test]
fn schema_file_that_is_not_a_schema_document_fails() {
    let dir = tempfile::tempdir().unwrap();
    let pin = write(dir.path(), "pin.json", b"{\"stores\": 3}");
    let run = idbsync(dir.path(), &["infer", s(&fixture("orders.ndjson")), "--schema", s(&pin)], None);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stdout, "");
    assert!(run.stderr.starts_with(&format!("idbsync: error: schema file {}\n", pin.display())), "{}", run.stderr);
}

// ---------------------------------------------------------------------------------------
// --threads
// ---------------------------------------------------------------------------------------

#[test]
fn threads_1_and_2_give_identical_json_on_every_fixture() {
    let dir = tempfile::tempdir().unwrap();
    for name in FIXTURE_NAMES {
        let (one, _) = infer_json(dir.path(), &[s(&fixture(name)), "--threads", "1"], None);
        let (two, _) = infer_json(dir.path(), &[s(&fixture(name)), "--threads", "2"], None);
        assert_eq!(one, two, "{name}");
    }
}

#[test]
fn threads_1_and_2_give_identical_json_across_many_pieces() {
    // ~1 MB: several 256 KiB pieces, so the per-piece lattices really are merged. The
    // first float of `v` is in a later piece than another float; a late field appears once.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut float_offsets = Vec::new();
    let mut string_offset = 0;
    for i in 0..30000u64 {
        let prefix = format!("{{\"id\":{i},\"v\":");
        if i == 9000 || i == 27000 {
            float_offsets.push(text.len() + prefix.len());
        }
        let v = if i == 9000 || i == 27000 { format!("{i}.5") } else { i.to_string() };
        let head = format!("{prefix}{v},\"s\":");
        if i == 25000 {
            string_offset = text.len() + head.len();
        }
        let sv = if i == 25000 { "7".to_string() } else { format!("\"s{i}\"") };
        let late = if i == 29999 { ",\"late\":true" } else { "" };
        text.push_str(&format!("{head}{sv}{late}}}\n"));
    }
    let path = write(dir.path(), "big.ndjson", text.as_bytes());
    let (one, doc) = infer_json(dir.path(), &[s(&path), "--threads", "1"], None);
    let (two, _) = infer_json(dir.path(), &[s(&path), "--threads", "2"], None);
    let (four, _) = infer_json(dir.path(), &[s(&path), "--threads", "4"], None);
    assert_eq!(one, two);
    assert_eq!(one, four);

    assert_eq!(store_rows(&doc), [("big".to_string(), 30000, 0)]);
    assert_eq!(
        store(&doc, "big")["widenings"],
        json!([
            {"path": "v", "from": "integer", "to": "float64", "cause": "number", "record": 9000,
             "offset": float_offsets[0]},
            {"path": "s", "from": "string", "to": "json", "cause": "integer", "record": 25000,
             "offset": string_offset},
        ])
    );
    let types: Vec<(&str, &Value, bool)> = store(&doc, "big")["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), &f["data_type"], f["nullable"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        types,
        [
            ("id", &json!("Int64"), false),
            ("v", &json!("Float64"), false),
            ("s", &json!("Utf8"), false),
            ("late", &json!("Boolean"), true),
        ]
    );
    assert_eq!(field(&doc, "big", "s")["metadata"]["ARROW:extension:name"], "arrow.json");
}

// ---------------------------------------------------------------------------------------
// Errors and invalid records
// ---------------------------------------------------------------------------------------

#[test]
fn truncated_dexie_export_fails_naming_the_path_and_byte_offset() {
    let dir = tempfile::tempdir().unwrap();
    let full = fixture_bytes("dexie-shop.json");
    // Cut 25 bytes into the 20th order row (inside its `created` member).
    let starts: Vec<usize> =
        full.windows(13).enumerate().filter(|(_, w)| w == b"{\"customerId\"").map(|(i, _)| i).collect();
    assert_eq!(starts.len(), 50);
    let cut = starts[19] + 25;
    let path = write(dir.path(), "shop.json", &full[..cut]);

    let want = |p: &str| {
        format!(
            "idbsync: error: {p}\n  caused by: input ends at byte {cut} in the middle of the document \
             (expecting more rows or ']' of store 'orders'); the file looks truncated\n"
        )
    };
    let run = idbsync(dir.path(), &["infer", s(&path)], None);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, want(s(&path)));
    assert_eq!(cut, 7347);

    // The same through --json, stdin and gzip: byte offsets are of the decompressed input.
    let run = idbsync(dir.path(), &["infer", s(&path), "--json"], None);
    assert_eq!((run.code, run.stdout.as_str(), run.stderr.clone()), (Some(1), "", want(s(&path))));
    let run = idbsync(dir.path(), &["infer", "-"], Some(&full[..cut]));
    assert_eq!((run.code, run.stdout.as_str(), run.stderr.clone()), (Some(1), "", want("-")));
    let gz = write(dir.path(), "shop.json.gz", &gzip(&full[..cut]));
    let run = idbsync(dir.path(), &["infer", s(&gz)], None);
    assert_eq!((run.code, run.stdout.as_str(), run.stderr.clone()), (Some(1), "", want(s(&gz))));
}

#[test]
fn truncated_compressed_stream_fails_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let z = zstd(&fixture_bytes("dexie-shop.json"));
    let path = write(dir.path(), "shop.json.zst", &z[..z.len() / 2]);
    let run = idbsync(dir.path(), &["infer", s(&path)], None);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, format!("idbsync: error: cannot read {}\n  caused by: incomplete frame\n", path.display()));
}

#[test]
fn missing_input_fails_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.json");
    let run = idbsync(dir.path(), &["infer", s(&path)], None);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stdout, "");
    let head = format!("idbsync: error: cannot open {}\n  caused by: ", path.display());
    assert!(run.stderr.starts_with(&head), "{}", run.stderr);
}

/// dexie-alltags.json with the `date` tag of `things[0].epoch` renamed to `weirdtype`.
fn alltags_with_unknown_tag(dir: &Path) -> PathBuf {
    let text = String::from_utf8(fixture_bytes("dexie-alltags.json")).unwrap();
    assert_eq!(text.matches(r#""epoch":"date""#).count(), 1);
    write(dir, "alltags.json", text.replace(r#""epoch":"date""#, r#""epoch":"weirdtype""#).as_bytes())
}

#[test]
fn unknown_typeson_tag_fails_naming_tag_store_record_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = alltags_with_unknown_tag(dir.path());
    for extra in [&[][..], &["--json"][..], &["--unknown-tags", "error"][..]] {
        let mut args = vec!["infer", s(&path)];
        args.extend_from_slice(extra);
        let run = idbsync(dir.path(), &args, None);
        assert_eq!(run.code, Some(1), "{extra:?}");
        assert_eq!(run.stdout, "", "{extra:?}");
        // Byte 448 is the value `0` of `"epoch":0` in the first `things` row.
        assert_eq!(
            run.stderr,
            format!(
                "idbsync: error: {}\n  caused by: store 'things', record 0 (byte 448), field 'epoch': unknown \
                 typeson tag 'weirdtype' (use --unknown-tags json to keep such values as JSON text)\n",
                path.display()
            ),
            "{extra:?}"
        );
    }
    assert_eq!(&std::fs::read(&path).unwrap()[440..449], b"\"epoch\":0");
}

#[test]
fn unknown_typeson_tag_becomes_a_json_column_with_unknown_tags_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = alltags_with_unknown_tag(dir.path());
    let (_, doc) = infer_json(dir.path(), &[s(&path), "--unknown-tags", "json"], None);
    let (_, orig) = infer_json(dir.path(), &[s(&fixture("dexie-alltags.json"))], None);
    assert_eq!(store_rows(&doc), [("things".into(), 9, 0), ("kv".into(), 14, 0), ("pairs".into(), 4, 0)]);
    assert_eq!(
        field(&doc, "things", "epoch"),
        &json!({"name": "epoch", "data_type": "Utf8", "nullable": true, "dict_id": 0, "dict_is_ordered": false,
                "metadata": {"ARROW:extension:metadata": "", "ARROW:extension:name": "arrow.json",
                             "idb.nulls": "absent"}})
    );
    assert_eq!(field(&orig, "things", "epoch")["data_type"], json!({"Timestamp": ["Millisecond", "UTC"]}));
    // Every other field of every store is unchanged.
    for (a, b) in doc["stores"].as_array().unwrap().iter().zip(orig["stores"].as_array().unwrap()) {
        let fa: Vec<&Value> =
            a["schema"]["fields"].as_array().unwrap().iter().filter(|f| f["name"] != "epoch").collect();
        let fb: Vec<&Value> =
            b["schema"]["fields"].as_array().unwrap().iter().filter(|f| f["name"] != "epoch").collect();
        assert_eq!(fa, fb, "store {}", a["name"]);
        assert_eq!(a["schema"]["metadata"], b["schema"]["metadata"]);
    }

    let run = idbsync(dir.path(), &["infer", s(&path), "--unknown-tags", "json"], None).success();
    assert_eq!(run.stderr, "");
    assert_eq!(top_field(&store_section(&run.stdout, "things"), "epoch"), "  epoch json nullable, no value: absent");
}

#[test]
fn malformed_ndjson_record_is_reported_with_its_index_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    // Lines start at bytes 0, 8, 19, 27; `tru` is at 8 + 6 = 14.
    let text = "{\"a\":1}\n{\"a\": tru}\n{\"a\":2}\n{\"a\":3}\n";
    let path = write(dir.path(), "bad.ndjson", text.as_bytes());
    assert_eq!(&text[14..17], "tru");

    let run = idbsync(dir.path(), &["infer", s(&path)], None).success();
    assert_eq!(
        run.stderr,
        "idbsync: warning: store 'bad': 1 invalid record(s) (not counted in the schema's rows)\n  record 1 (byte 14), \
         field 'a': invalid literal\n"
    );
    assert_eq!(store_section(&run.stdout, "bad"), ["store bad: 3 rows, 1 invalid", "  a int64 not null"]);

    let run = idbsync(dir.path(), &["infer", s(&path), "--json"], None).success();
    assert_eq!(
        run.stderr,
        "idbsync: warning: store 'bad': 1 invalid record(s) (not counted in the schema's rows)\n  record 1 (byte 14), \
         field 'a': invalid literal\n"
    );
    let doc = run.json();
    assert_eq!(store_rows(&doc), [("bad".to_string(), 3, 1)]);
    assert_eq!(
        store(&doc, "bad")["issues"],
        json!([{"record": 1, "offset": 14, "path": "a", "reason": "invalid literal"}])
    );
    assert_eq!(field(&doc, "bad", "a")["data_type"], "Int64");
    assert_eq!(field(&doc, "bad", "a")["nullable"], false);
}

#[test]
fn malformed_record_offsets_count_from_the_start_of_a_gzip_or_stdin_input() {
    let dir = tempfile::tempdir().unwrap();
    let text = b"{\"a\":1}\n{\"a\":2}\n{\"a\":[1,}\n";
    let gz = write(dir.path(), "bad.ndjson.gz", &gzip(text));
    for (path, stdin) in [(s(&gz), None), ("-", Some(&text[..]))] {
        let run = idbsync(dir.path(), &["infer", path, "--store", "bad", "--json"], stdin).success();
        let doc = run.json();
        assert_eq!(store_rows(&doc), [("bad".to_string(), 2, 1)], "{path}");
        // `}` at byte 16 + 8 = 24 where a value was expected. (`a` is a list here after
        // two integers, so its value is checked as JSON text: the same record, byte and
        // field whatever the records before it were.)
        assert_eq!(store(&doc, "bad")["issues"][0]["record"], 2, "{path}");
        assert_eq!(store(&doc, "bad")["issues"][0]["offset"], 24, "{path}");
        assert_eq!(
            run.stderr,
            "idbsync: warning: store 'bad': 1 invalid record(s) (not counted in the schema's rows)\n  record 2 \
             (byte 24), field 'a.1': unexpected character\n",
            "{path}"
        );
    }
}

#[test]
fn on_conflict_error_fails_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let orders = fixture("orders.ndjson");
    let run = idbsync(dir.path(), &["infer", s(&orders), "--on-conflict", "error"], None);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "idbsync: error: {}\n  caused by: store 'orders', field 'note': string conflicts with integer first \
             seen at record 17 (byte 5281) (--on-conflict error)\n",
            orders.display()
        )
    );
    assert_eq!(&fixture_bytes("orders.ndjson")[5274..5283], b"\"note\":42");

    let tiny = write(dir.path(), "tiny.ndjson", b"{\"id\":1,\"v\":5}\n{\"id\":2,\"v\":\"five\"}\n");
    let run = idbsync(dir.path(), &["infer", s(&tiny), "--on-conflict", "error", "--json"], None);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "idbsync: error: {}\n  caused by: store 'tiny', field 'v': integer conflicts with string first seen \
             at record 1 (byte 27) (--on-conflict error)\n",
            tiny.display()
        )
    );

    // Numeric widening is not a conflict.
    let num = write(dir.path(), "num.ndjson", b"{\"v\":5}\n{\"v\":5.5}\n");
    let (_, doc) = infer_json(dir.path(), &[s(&num), "--on-conflict", "error"], None);
    assert_eq!(field(&doc, "num", "v")["data_type"], "Float64");
}

#[test]
fn on_conflict_string_and_json_columns() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = write(dir.path(), "tiny.ndjson", b"{\"id\":1,\"v\":5}\n{\"id\":2,\"v\":\"five\"}\n");
    let (_, doc) = infer_json(dir.path(), &[s(&tiny), "--on-conflict", "string"], None);
    assert_eq!(
        field(&doc, "tiny", "v"),
        &json!({"name": "v", "data_type": "Utf8", "nullable": false, "dict_id": 0, "dict_is_ordered": false,
                "metadata": {"idb.conflict": "string"}})
    );
    let (_, default) = infer_json(dir.path(), &[s(&tiny)], None);
    let (_, json_doc) = infer_json(dir.path(), &[s(&tiny), "--on-conflict", "json"], None);
    assert_eq!(default, json_doc);
    assert_eq!(
        field(&default, "tiny", "v")["metadata"],
        json!({"ARROW:extension:metadata": "", "ARROW:extension:name": "arrow.json"})
    );
}

// ---------------------------------------------------------------------------------------
// --explain and --detect-timestamps
// ---------------------------------------------------------------------------------------

#[test]
fn explain_lists_each_widening_with_the_first_record() {
    let dir = tempfile::tempdir().unwrap();
    // Line starts: 0, 15, 30, 47; the first float `7.5` is in record 2 at byte 30 + 12 = 42.
    let text = "{\"id\":1,\"v\":5}\n{\"id\":2,\"v\":7}\n{\"id\":3,\"v\":7.5}\n{\"id\":4,\"v\":8.25}\n";
    assert_eq!(&text[42..45], "7.5");
    let path = write(dir.path(), "w.ndjson", text.as_bytes());

    let run = idbsync(dir.path(), &["infer", s(&path), "--explain"], None).success();
    assert_eq!(run.stderr, "");
    assert_eq!(
        store_section(&run.stdout, "w"),
        [
            "store w: 4 rows",
            "  id int64 not null",
            "  v float64 not null",
            "  widenings:",
            "    v: integer -> float64 (number first at record 2, byte 42)",
        ]
    );
    // Without --explain there is no widening list.
    let run = idbsync(dir.path(), &["infer", s(&path)], None).success();
    assert_eq!(store_section(&run.stdout, "w"), ["store w: 4 rows", "  id int64 not null", "  v float64 not null"]);
    let (_, doc) = infer_json(dir.path(), &[s(&path)], None);
    assert_eq!(
        store(&doc, "w")["widenings"],
        json!([{"path": "v", "from": "integer", "to": "float64", "cause": "number", "record": 2, "offset": 42}])
    );

    // A store with nothing widened says so.
    let run = idbsync(dir.path(), &["infer", s(&fixture("dexie-shop.json")), "--explain"], None).success();
    let customers = store_section(&run.stdout, "customers");
    assert_eq!(customers.last().unwrap(), "  widenings: none");
    let orders = store_section(&run.stdout, "orders");
    let at = orders.iter().position(|l| l == "  widenings:").unwrap();
    assert_eq!(orders[at + 1..], ["    note: string -> json (integer first at record 17, byte 6764)"]);
}

#[test]
fn detect_timestamps_turns_iso_strings_into_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let orders = fixture("orders.ndjson");
    let (_, plain) = infer_json(dir.path(), &[s(&orders)], None);
    assert_eq!(
        field(&plain, "orders", "created"),
        &json!({"name": "created", "data_type": "Utf8", "nullable": false, "dict_id": 0,
                "dict_is_ordered": false, "metadata": {}})
    );
    let (_, ts) = infer_json(dir.path(), &[s(&orders), "--detect-timestamps"], None);
    assert_eq!(
        field(&ts, "orders", "created"),
        &json!({"name": "created", "data_type": {"Timestamp": ["Millisecond", "UTC"]}, "nullable": false,
                "dict_id": 0, "dict_is_ordered": false, "metadata": {"idb.source": "iso8601"}})
    );
    assert_eq!(
        field(&ts, "orders", "deliveredAt"),
        &json!({"name": "deliveredAt", "data_type": {"Timestamp": ["Millisecond", "UTC"]}, "nullable": true,
                "dict_id": 0, "dict_is_ordered": false,
                "metadata": {"idb.nulls": "absent", "idb.source": "iso8601"}})
    );
    // Strings that are not ISO-8601 stay strings.
    assert_eq!(field(&ts, "orders", "status")["data_type"], "Utf8");

    let run = idbsync(dir.path(), &["infer", s(&orders), "--detect-timestamps"], None).success();
    let section = store_section(&run.stdout, "orders");
    assert_eq!(top_field(&section, "created"), "  created timestamp[ms, UTC] not null, from iso8601");
    let run = idbsync(dir.path(), &["infer", s(&orders)], None).success();
    assert_eq!(top_field(&store_section(&run.stdout, "orders"), "created"), "  created utf8 not null");
}

// ---------------------------------------------------------------------------------------
// Known bugs (ignored until fixed; see the report that added them)
// ---------------------------------------------------------------------------------------

/// Bug: an invalid record is counted as invalid, yet the part of it parsed before the
/// error is merged into the store's schema (new columns, lost non-nullability, widenings).
#[test]
fn invalid_record_does_not_change_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "leak.ndjson",
        b"{\"a\":1,\"b\":2}\n{\"c\":\"x\",\"a\":\"y\",\"b\":tru}\n{\"a\":3,\"b\":4}\n",
    );
    let (_, doc) = infer_json_allowing_warnings(dir.path(), &[s(&path)]);
    assert_eq!(store_rows(&doc), [("leak".to_string(), 2, 1)]);
    let fields: Vec<(&str, &Value, bool)> = store(&doc, "leak")["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), &f["data_type"], f["nullable"].as_bool().unwrap()))
        .collect();
    assert_eq!(fields, [("a", &json!("Int64"), false), ("b", &json!("Int64"), false)]);
    assert_eq!(store(&doc, "leak").get("widenings"), None);
}

fn infer_json_allowing_warnings(dir: &Path, args: &[&str]) -> (String, Value) {
    let mut all = vec!["infer"];
    all.extend_from_slice(args);
    all.push("--json");
    let run = idbsync(dir, &all, None).success();
    let v = run.json();
    (run.stdout, v)
}
