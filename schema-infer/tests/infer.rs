//! Integration tests of schema inference: fixtures made by the real exporters
//! against golden schema documents, the late-key and late-conflict cases, and
//! invariance under chunking and thread count.

use arrow_schema::DataType;
use schema_infer::{InferOptions, InferResult, Inferrer, OnConflict, SchemaDoc, UnknownTags};
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/fixtures").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn infer_with(bytes: &[u8], opts: InferOptions, chunk: usize) -> schema_infer::Result<InferResult> {
    let mut inf = Inferrer::new(opts)?;
    for c in bytes.chunks(chunk.max(1)) {
        inf.push(c)?;
    }
    inf.finish()
}

fn infer(bytes: &[u8], store: &str) -> InferResult {
    infer_with(bytes, InferOptions::new().with_store_name(store), 1 << 20).expect("inference")
}

/// Compares with `testdata/golden/<name>.schema.json`; `IDBSYNC_UPDATE_GOLDEN=1`
/// rewrites it (review the diff before committing).
fn golden(name: &str, result: &InferResult) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/golden").join(format!("{name}.schema.json"));
    let text = result.to_json();
    if std::env::var_os("IDBSYNC_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, format!("{text}\n")).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let got: serde_json::Value = serde_json::from_str(&text).unwrap();
    let want: serde_json::Value = serde_json::from_str(&want).unwrap();
    assert_eq!(got, want, "{name}: inferred schema differs from {}", path.display());
}

fn field_type(r: &InferResult, store: &str, path: &[&str]) -> DataType {
    let schema = &r.store(store).unwrap_or_else(|| panic!("no store {store}")).schema;
    let mut f = schema.field_with_name(path[0]).unwrap_or_else(|_| panic!("no field {}", path[0])).clone();
    for p in &path[1..] {
        let DataType::Struct(fields) = f.data_type() else { panic!("{} is not a struct", f.name()) };
        f = fields.iter().find(|x| x.name() == p).unwrap_or_else(|| panic!("no field {p}")).as_ref().clone();
    }
    f.data_type().clone()
}

fn meta(r: &InferResult, store: &str, field: &str, key: &str) -> Option<String> {
    r.store(store)?.schema.field_with_name(field).ok()?.metadata().get(key).cloned()
}

#[test]
fn golden_schemas_of_the_fixtures() {
    for (file, store) in [
        ("dexie-alltags.json", "x"),
        ("dexie-shop.json", "x"),
        ("plain-shop.json", "x"),
        ("orders.ndjson", "orders"),
        ("orders-array.json", "orders"),
        ("dexie-fidelity.json", "x"),
    ] {
        let r = infer(&fixture(file), store);
        golden(file.trim_end_matches(".json").trim_end_matches(".ndjson"), &r);
    }
}

/// Issue 14: fields that only ever hold `{}` were inferred as plain utf8, so every
/// record was rejected ("an object does not fit a utf8 column"); lone surrogates were
/// inferred as text (and replaced by U+FFFD); records that are all `{}` had no column.
#[test]
fn issue14_empty_objects_lone_surrogates_and_empty_records_have_lossless_columns() {
    let r = infer(&fixture("dexie-fidelity.json"), "x");
    let json = |store: &str, field: &str| meta(&r, store, field, schema_infer::EXTENSION_NAME);
    assert_eq!(json("settings", "prefs").as_deref(), Some(schema_infer::JSON_EXTENSION));
    let DataType::Struct(meta_fields) = field_type(&r, "settings", &["meta"]) else { panic!("meta is a struct") };
    assert_eq!(
        meta_fields[0].metadata().get(schema_infer::EXTENSION_NAME).map(String::as_str),
        Some(schema_infer::JSON_EXTENSION)
    );
    assert_eq!(r.store("settings").unwrap().widenings, vec![]);
    // Strings with a lone surrogate: JSON text, and the report says why.
    assert_eq!(json("notes", "text").as_deref(), Some(schema_infer::JSON_EXTENSION));
    let w = &r.store("notes").unwrap().widenings;
    assert!(
        w.iter().any(|w| w.path == "text" && w.to == "json" && w.cause == "string with a lone UTF-16 surrogate"),
        "{w:?}"
    );
    // Out-of-line records that are all `{}`: the key and the value as JSON text.
    let names: Vec<_> = r.store("blank").unwrap().schema.fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["__key", "__value"]);
    assert_eq!(json("blank", "__value").as_deref(), Some(schema_infer::JSON_EXTENSION));
    // Fields named like idbsync's own columns: the records are kept whole in __value.
    let names: Vec<_> = r.store("collide").unwrap().schema.fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["__value"]);
}

#[test]
fn every_typeson_tag_of_the_alltags_fixture_maps_as_designed() {
    let r = infer(&fixture("dexie-alltags.json"), "x");
    assert_eq!(r.format, schema_infer::Format::Dexie);
    let db = r.database.as_ref().unwrap();
    assert_eq!((db.name.as_deref(), db.version), (Some("alltags"), Some(3.0)));
    let rows: Vec<(&str, u64)> = r.stores.iter().map(|s| (s.name.as_str(), s.rows)).collect();
    assert_eq!(rows, vec![("things", 9), ("kv", 14), ("pairs", 4)]);
    let ts = DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, Some("UTC".into()));
    assert_eq!(field_type(&r, "things", &["nested", "when"]), ts);
    assert_eq!(field_type(&r, "things", &["weird", "c~d"]), ts, "~0 escape");
    assert_eq!(field_type(&r, "things", &["weird", "e~1.f"]), ts, "~01~1 escapes");
    assert_eq!(field_type(&r, "things", &["x.y~z"]), ts);
    assert_eq!(field_type(&r, "things", &["buf"]), DataType::Binary);
    assert_eq!(field_type(&r, "things", &["view"]), DataType::Binary);
    assert_eq!(field_type(&r, "things", &["bigHuge"]), DataType::Decimal128(38, 0));
    assert_eq!(field_type(&r, "things", &["bigNeg"]), DataType::Int64);
    assert_eq!(field_type(&r, "things", &["nan"]), DataType::Float64);
    assert!(matches!(field_type(&r, "things", &["blob"]), DataType::Struct(f) if f.len() == 2));
    assert!(matches!(field_type(&r, "things", &["re"]), DataType::Struct(f) if f[0].name() == "source"));
    assert!(matches!(field_type(&r, "things", &["mapDates"]), DataType::Map(_, _)));
    assert!(matches!(field_type(&r, "things", &["emptyMap"]), DataType::Map(_, _)));
    assert!(matches!(field_type(&r, "things", &["f32"]), DataType::List(i) if i.data_type() == &DataType::Float32));
    assert!(matches!(field_type(&r, "things", &["u8c"]), DataType::List(i) if i.data_type() == &DataType::UInt8));
    assert!(matches!(field_type(&r, "things", &["set"]), DataType::List(i) if i.data_type() == &DataType::Utf8));
    for (field, tag) in [
        ("created", None),
        ("invalid", Some("date")),
        ("blob", Some("blob2")),
        ("buf", Some("arraybuffer")),
        ("view", Some("dataview")),
        ("u8", Some("uint8array2")),
        ("mapStr", Some("map")),
        ("set", Some("set")),
        ("bigBoxed", Some("bigintObject")),
        ("re", Some("regexp")),
        ("str", Some("StringObject")),
        ("num", Some("NumberObject")),
        ("bool", Some("BooleanObject")),
    ] {
        assert_eq!(meta(&r, "things", field, "idb.tag").as_deref(), tag, "tag of {field}");
    }
    // `created` is a Date in most rows and a string in one: lossless JSON, reported.
    assert_eq!(meta(&r, "things", "created", "ARROW:extension:name").as_deref(), Some("arrow.json"));
    let things = r.store("things").unwrap();
    let w = things.widenings.iter().find(|w| w.path == "created").unwrap();
    assert_eq!((w.from.as_str(), w.to.as_str(), w.cause.as_str()), ("date (typeson)", "json", "string"));
    // absent vs null vs undefined all occur for `opt`: the side column exists.
    assert_eq!(meta(&r, "things", "opt", "idb.nulls").as_deref(), Some("absent,null,undefined"));
    assert!(things.schema.field_with_name("__idb_nulls").is_ok());
    // A `#` reference has the type of what it points at.
    assert_eq!(field_type(&r, "things", &["sameB"]), field_type(&r, "things", &["sameA"]));
    let md = things.schema.metadata();
    assert_eq!(md["idb.key_path"], r#"["id"]"#);
    assert_eq!(md["idb.auto_increment"], "true");
    assert_eq!(md["idb.inbound"], "true");
    assert_eq!(md["idb.dexie_schema"], "++id,name,[first+last],*tags");
    // Out-of-line keys are a __key column; compound keys keep their key path.
    let kv = r.store("kv").unwrap();
    assert_eq!(kv.schema.field(0).name(), "__key");
    assert_eq!(kv.schema.metadata()["idb.inbound"], "false");
    assert_eq!(r.store("pairs").unwrap().schema.metadata()["idb.key_path"], r#"["first","last"]"#);
    assert!(r.stores.iter().all(|s| s.invalid == 0 && s.warnings.is_empty()));
}

#[test]
fn plain_dump_and_ndjson_forms_of_the_same_shop() {
    let plain = infer(&fixture("plain-shop.json"), "x");
    assert_eq!(plain.format, schema_infer::Format::Stores);
    let names: Vec<&str> = plain.stores.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["customers", "orders"], "the order of the dump");
    let nd = infer(&fixture("orders.ndjson"), "orders");
    let arr = infer(&fixture("orders-array.json"), "orders");
    assert_eq!(nd.format, schema_infer::Format::Ndjson);
    assert_eq!(arr.format, schema_infer::Format::JsonArray);
    assert_eq!(nd.stores[0].schema.fields(), arr.stores[0].schema.fields());
    assert_eq!(nd.stores[0].rows, 50);
    assert_eq!(plain.store("orders").unwrap().rows, 50);
}

/// 100k records; a key first appears in the very last record, and a field that
/// was an integer in 99,999 records becomes a string in the last one.
fn late_ndjson(n: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..n {
        if i + 1 == n {
            s.push_str(&format!("{{\"id\":{i},\"x\":\"changed\",\"late\":true}}\n"));
        } else {
            s.push_str(&format!("{{\"id\":{i},\"x\":{}}}\n", i * 7));
        }
    }
    s.into_bytes()
}

#[test]
fn late_key_and_late_conflict_in_the_last_of_100k_records() {
    let n = 100_000;
    let bytes = late_ndjson(n);
    let r = infer(&bytes, "late");
    let s = &r.stores[0];
    assert_eq!(s.rows, n as u64);
    let late = s.schema.field_with_name("late").unwrap();
    assert_eq!(late.data_type(), &DataType::Boolean);
    assert!(late.is_nullable());
    assert_eq!(late.metadata()["idb.nulls"], "absent");
    let x = s.schema.field_with_name("x").unwrap();
    assert_eq!(x.metadata()["ARROW:extension:name"], "arrow.json");
    let w = &s.widenings[0];
    assert_eq!((w.path.as_str(), w.from.as_str(), w.cause.as_str()), ("x", "integer", "string"));
    assert_eq!(w.record, (n - 1) as u64);
    let line_start = bytes.len() - bytes.rsplit(|&b| b == b'\n').nth(1).unwrap().len() - 1;
    assert_eq!(w.offset, (line_start + r#"{"id":99999,"x":"#.len()) as u64);
}

#[test]
fn late_key_in_a_dexie_export() {
    let n = 100_000;
    let mut s = String::from(
        r#"{"formatName":"dexie","formatVersion":1,"data":{"databaseName":"d","databaseVersion":1,"tables":[{"name":"t","schema":"++id","rowCount":100000}],"data":[{"tableName":"t","inbound":true,"rows":["#,
    );
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        if i + 1 == n {
            s.push_str(&format!(r#"{{"id":{i},"at":{i},"last":{i},"$types":{{"at":"date","last":"date"}}}}"#));
        } else {
            s.push_str(&format!(r#"{{"id":{i},"at":{i},"$types":{{"at":"date"}}}}"#));
        }
    }
    s.push_str("]}]}}");
    let r = infer_with(s.as_bytes(), InferOptions::new(), 64 << 10).unwrap();
    let t = r.store("t").unwrap();
    assert_eq!(t.rows, n as u64);
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    assert_eq!(t.schema.field_with_name("last").unwrap().metadata()["idb.tag"], "date");
}

#[test]
fn chunking_and_threads_do_not_change_the_result() {
    let bytes = fixture("dexie-alltags.json");
    let base = infer_with(&bytes, InferOptions::new().with_threads(1), 1 << 20).unwrap();
    for (chunk, threads, piece) in [(1, 2, 1), (7, 2, 64), (100, 1, 3), (4096, 2, 10)] {
        let opts = InferOptions::new().with_threads(threads).with_piece_bytes(piece);
        let r = infer_with(&bytes, opts, chunk).unwrap();
        assert_eq!(r, base, "chunk {chunk} threads {threads}");
    }
    let nd = late_ndjson(5_000);
    let base = infer_with(&nd, InferOptions::new().with_threads(1), 1 << 20).unwrap();
    for (chunk, piece) in [(13, 1), (999, 100), (1 << 16, 4096)] {
        let r = infer_with(&nd, InferOptions::new().with_threads(2).with_piece_bytes(piece), chunk).unwrap();
        assert_eq!(r.to_json(), base.to_json(), "chunk {chunk} piece {piece}");
    }
}

#[test]
fn conflicts_follow_the_chosen_policy() {
    let nd = b"{\"a\":1}\n{\"a\":\"x\"}\n";
    let r = infer_with(nd, InferOptions::new().with_on_conflict(OnConflict::String), 1024).unwrap();
    let a = r.stores[0].schema.field(0).clone();
    assert_eq!(a.data_type(), &DataType::Utf8);
    assert_eq!(a.metadata().get("ARROW:extension:name"), None);
    let err =
        infer_with(nd, InferOptions::new().with_on_conflict(OnConflict::Error).with_store_name("s"), 1024).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("store 's', field 'a'") && msg.contains("record 1"), "{msg}");
}

#[test]
fn unknown_tags_are_errors_or_json() {
    let nd = b"{\"a\":1,\"b\":{\"c\":2},\"$types\":{\"b.c\":\"symbol\"}}\n";
    let err = infer_with(nd, InferOptions::new().with_store_name("s"), 1024).unwrap_err().to_string();
    assert!(
        err.contains("unknown typeson tag 'symbol'") && err.contains("field 'b.c'") && err.contains("record 0"),
        "{err}"
    );
    let r = infer_with(nd, InferOptions::new().with_unknown_tags(UnknownTags::Json), 1024).unwrap();
    assert_eq!(r.to_json().matches("arrow.json").count(), 1);
}

#[test]
fn invalid_records_are_counted_with_their_place() {
    let nd = b"{\"a\":1}\n{\"a\": tru}\n\n{\"a\":3}\n";
    let r = infer_with(nd, InferOptions::new(), 1024).unwrap();
    let s = &r.stores[0];
    assert_eq!((s.rows, s.invalid), (2, 1));
    let i = &s.issues[0];
    assert_eq!((i.record, i.offset, i.path.as_str()), (1, 14, "a"));
}

#[test]
fn truncated_documents_are_errors_with_an_offset() {
    let bytes = fixture("dexie-shop.json");
    let cut = &bytes[..bytes.len() / 2];
    let err = infer_with(cut, InferOptions::new(), 4096).unwrap_err().to_string();
    assert!(err.contains(&format!("input ends at byte {}", cut.len())) && err.contains("truncated"), "{err}");
}

#[test]
fn pinned_fields_override_inferred_ones() {
    let nd = fixture("orders.ndjson");
    let r = infer(&nd, "orders");
    let mut doc: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    let fields = doc["stores"][0]["schema"]["fields"].as_array_mut().unwrap();
    let total = fields.iter_mut().find(|f| f["name"] == "total").unwrap();
    total["data_type"] = serde_json::json!("Utf8");
    let pinned = SchemaDoc::from_json(&doc.to_string()).unwrap();
    let r2 = infer_with(&nd, InferOptions::new().with_store_name("orders").with_pinned(Some(pinned)), 1 << 20).unwrap();
    let s = &r2.stores[0].schema;
    assert_eq!(s.field_with_name("total").unwrap().data_type(), &DataType::Utf8);
    assert_eq!(s.fields().len(), r.stores[0].schema.fields().len());
    assert_eq!(s.field_with_name("id").unwrap().data_type(), &DataType::Int64);
}

#[test]
fn wide_and_id_keyed_objects_become_maps() {
    let mut s = String::new();
    for i in 0..3 {
        let keys: Vec<String> = (0..20).map(|k| format!("\"{}\":{k}", 1000 + i * 20 + k)).collect();
        s.push_str(&format!("{{\"byId\":{{{}}},\"small\":{{\"a\":1}}}}\n", keys.join(",")));
    }
    let r = infer(s.as_bytes(), "w");
    let schema = &r.stores[0].schema;
    match schema.field_with_name("byId").unwrap().data_type() {
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else { panic!() };
            assert_eq!(kv[0].data_type(), &DataType::Utf8);
            assert_eq!(kv[1].data_type(), &DataType::Int64);
        }
        other => panic!("expected a map, got {other}"),
    }
    assert!(matches!(schema.field_with_name("small").unwrap().data_type(), DataType::Struct(_)));
    let w = r.stores[0].widenings.iter().find(|w| w.path == "byId").unwrap();
    assert_eq!(w.cause, "60 distinct keys");
}

/// Regression (decode fuzz target): a record field named `__idb_nulls` in a store whose
/// fields see more than one kind of "no value" gave a schema with two `__idb_nulls`
/// columns, and decoding it panicked; a field named `__key` was taken for an out-of-line
/// key. Such records are now kept whole in the value column, beside the side column.
#[test]
fn a_record_field_named_like_a_reserved_column_keeps_the_record_in_the_value_column() {
    let names =
        |r: &InferResult| -> Vec<String> { r.stores[0].schema.fields().iter().map(|f| f.name().clone()).collect() };
    let r = infer(b"{\"__idb_nulls\":1,\"opt\":null}\n{\"__idb_nulls\":2}\n", "s");
    assert_eq!(names(&r), ["__value", "__idb_nulls"]);
    assert_eq!(r.stores[0].schema.metadata()["idb.value_column"], "__value");
    let DataType::Struct(inner) = field_type(&r, "s", &["__value"]) else { panic!("a struct value column") };
    let inner: Vec<&str> = inner.iter().map(|f| f.name().as_str()).collect();
    assert_eq!(inner, ["__idb_nulls", "opt"]);
    let r = infer(b"{\"__key\":\"k\",\"n\":1}\n", "s");
    assert_eq!(names(&r), ["__value"]);
    // Without a clash nothing changes, and `__value` is an ordinary field name.
    let r = infer(b"{\"__value\":1,\"opt\":null}\n{\"__value\":2}\n", "s");
    assert_eq!(names(&r), ["__value", "opt", "__idb_nulls"]);
    assert_eq!(r.stores[0].schema.metadata().get("idb.value_column"), None);
}

/// Regression (infer fuzz target, crash-857380f0): a raw control character in a key or a
/// string, a bad escape in a string and broken JSON under a typeson tag were accepted
/// where a record was walked, but rejected where its node was already JSON text (after a
/// broken record in the same work item): the result depended on how the input was cut.
/// Such records are now invalid whatever came before them.
#[test]
fn strings_and_tagged_values_are_checked_whatever_came_before() {
    let bad: [&[u8]; 5] = [
        b"{\"\x00\":\"\"}",
        b"{\"a\":\"tab\there\"}",
        br#"{"a":"\q"}"#,
        br#"{"u":[tru],"$types":{"u":"undef"}}"#,
        br#"{"a":1,"$types":{"a":"date","b":"\q"}}"#,
    ];
    let good: [&[u8]; 3] = [br#"{"\u0000":"\n"}"#, br#"{"a":"\u00e9\"\\"}"#, br#"{"u":[true],"$types":{"u":"undef"}}"#];
    let counts = |input: &[u8], step: usize| {
        let ndjson = Some(schema_infer::Format::Ndjson);
        let opts = InferOptions::new().with_format(ndjson).with_threads(1).with_piece_bytes(16);
        let st = &infer_with(input, opts, step).unwrap().stores[0];
        (st.rows, st.invalid)
    };
    for (records, valid) in [(&bad[..], 0), (&good[..], 1)] {
        for r in records {
            let alone = [r, &b"\n"[..]].concat();
            let after_broken = [&b"[\n"[..], r, b"\n"].concat();
            let what = String::from_utf8_lossy(r);
            assert_eq!(counts(&alone, alone.len()), (valid, 1 - valid), "{what}");
            for step in [after_broken.len(), 1] {
                assert_eq!(
                    counts(&after_broken, step),
                    (valid, 2 - valid),
                    "{what} after a broken record, step {step}"
                );
            }
        }
    }
}

/// Regression (infer fuzz target, crash-030315d7): an unknown typeson tag stopped
/// inference only where the walk met it; where the record's node was already JSON text
/// (after a record of another shape in the same work item) it passed, and a record that
/// was also broken JSON was an error or an invalid record depending on the blocks. Now a
/// broken record is invalid whatever its tags, and a valid one with an unknown tag stops
/// inference wherever it lies.
#[test]
fn unknown_tags_stop_inference_whatever_came_before() {
    let run = |input: &[u8], step: usize| {
        let opts = InferOptions::new().with_format(Some(schema_infer::Format::Ndjson)).with_piece_bytes(16);
        infer_with(input, opts, step)
    };
    let input = b"0\n{\"e\":1,\"$types\":{\"e\":\"zzz\"}}\n";
    for step in [input.len(), 1] {
        let err = run(input, step).unwrap_err().to_string();
        assert!(err.contains("unknown typeson tag 'zzz'") && err.contains("record 1"), "step {step}: {err}");
    }
    for broken in
        [&b"0\n{\"e\":,\"$types\":{\"e\":\"\"}}\n"[..], b"0\n{\"e\":1,\"$types\":{\"e\":\"zzz\"},\"f\":tru}\n"]
    {
        for step in [broken.len(), 1] {
            let r = run(broken, step).unwrap_or_else(|e| panic!("step {step}: {e}"));
            assert_eq!((r.stores[0].rows, r.stores[0].invalid), (1, 1), "step {step}");
        }
    }
}

/// Regression (infer fuzz target, crash-2fe24d5c): a Dexie table listed twice in `data`,
/// first with out-of-line keys (`[key, value]` rows) and then as inbound. The
/// second entry changed the store's flag, and the first entry's rows were read with
/// whichever flag held when their block was inferred: valid in one read, invalid in
/// another. Such an export is now an error naming the table, however it is cut; two
/// entries with the same flag still add up.
#[test]
fn a_table_listed_twice_with_different_inbound_flags_is_an_error() {
    let entry = |inbound: bool, rows: &str| format!(r#"{{"tableName":"kv","inbound":{inbound},"rows":[{rows}]}}"#);
    let export = |entries: &[String]| {
        format!(
            r#"{{"formatName":"dexie","formatVersion":1,"data":{{"databaseName":"db","databaseVersion":1,"tables":[{{"name":"kv","schema":"","rowCount":2}}],"data":[{}]}}}}"#,
            entries.join(",")
        )
    };
    let opts = || InferOptions::new().with_threads(1).with_piece_bytes(1);
    let conflicting = export(&[entry(false, r#"{"$s":{"$":1}}"#), entry(true, r#"{"$":["b",2]}"#)]);
    for step in [conflicting.len(), 66, 1] {
        let err = infer_with(conflicting.as_bytes(), opts(), step).unwrap_err().to_string();
        assert!(
            err.contains("in the data entry of table 'kv': this table's rows came earlier with another 'inbound' flag"),
            "step {step}: {err}"
        );
    }
    let same = export(&[entry(false, r#"["a",1]"#), entry(false, r#"["b",2]"#)]);
    let whole = infer_with(same.as_bytes(), opts(), same.len()).unwrap();
    assert_eq!((whole.stores[0].rows, whole.stores[0].invalid), (2, 0));
    assert_eq!(whole.stores[0].schema.metadata().get("idb.inbound").map(String::as_str), Some("false"));
    for step in [66, 1] {
        assert_eq!(infer_with(same.as_bytes(), opts(), step).unwrap(), whole, "step {step}");
    }
}

/// A one-table Dexie export of `rows` (table `t`, key path `id`).
fn dexie(rows: &str) -> Vec<u8> {
    format!(
        r#"{{"formatName":"dexie","formatVersion":1,"data":{{"databaseName":"m","databaseVersion":1,"tables":[{{"name":"t","schema":"id","rowCount":0}}],"data":[{{"tableName":"t","inbound":true,"rows":[{rows}]}}]}}}}"#
    )
    .into_bytes()
}

/// Issue 14, round-trip findings N8, N9, N19: values only JSON text keeps exactly are
/// valid records and JSON-text columns, whatever `--on-conflict` says, with the reason
/// in the report; a Map whose values hold more than one kind of "no value" is JSON text.
#[test]
fn issue14_values_only_json_text_keeps_are_json_text_columns_with_their_reason() {
    let cases = [
        (
            r#"{"id":1,"b":1,"$types":{"b":"NumberObject"}},{"id":2,"b":null,"$types":{"b":"NumberObject"}},{"id":3,"b":2,"$types":{"b":"NumberObject"}}"#,
            "b",
            "Number object holding NaN (typeson writes null)",
        ),
        (
            r#"{"id":1,"s":"\ud800","$types":{"s":"StringObject"}},{"id":2,"s":"x","$types":{"s":"StringObject"}}"#,
            "s",
            "String object with a lone UTF-16 surrogate",
        ),
        (
            r#"{"id":1,"m":[[1,[1.5,0,null]]],"$types":{"m":"map","m.0":"arrayNonindexKeys","m.0.1":"arrayNonindexKeys","m.0.1.1":"sparseUndefined"}}"#,
            "m",
            "Map values with more than one kind of no value (null, absent, undefined, hole)",
        ),
    ];
    for on_conflict in [OnConflict::Json, OnConflict::String, OnConflict::Error] {
        for (rows, field, cause) in cases {
            let opts = InferOptions::default().with_on_conflict(on_conflict);
            let r = infer_with(&dexie(rows), opts, 1 << 20).unwrap_or_else(|e| panic!("{on_conflict:?} {rows}: {e}"));
            let st = r.store("t").unwrap();
            assert_eq!(st.invalid, 0, "{rows}");
            assert_eq!(
                meta(&r, "t", field, schema_infer::EXTENSION_NAME).as_deref(),
                Some(schema_infer::JSON_EXTENSION)
            );
            assert!(
                st.widenings.iter().any(|w| w.path == field && w.to == "json" && w.cause == cause),
                "{:?}",
                st.widenings
            );
        }
    }
}
