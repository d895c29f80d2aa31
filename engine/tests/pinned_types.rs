//! The pinned-schema check (`schema_infer::check_schema`) against the decoder: every
//! field it accepts, over a sweep of types, nullability and idbsync metadata nested in
//! lists, structs and maps, decodes a mix of records and writes to Parquet without a
//! panic (issue 15: a pinned schema crashed the converter). What it refuses is not tried.

use arrow::array::RecordBatch;
use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Metadata variants a pinned field may carry.
fn metadata() -> Vec<HashMap<String, String>> {
    let tag = |t: &str| HashMap::from([("idb.tag".to_owned(), t.to_owned())]);
    vec![
        HashMap::new(),
        tag("date"),
        tag("bigint"),
        tag("map"),
        tag("blob2"),
        tag("file"),
        tag("float64array2"),
        tag("uint8array2"),
        HashMap::from([("ARROW:extension:name".to_owned(), "arrow.json".to_owned())]),
        HashMap::from([("idb.conflict".to_owned(), "string".to_owned())]),
        HashMap::from([("idb.source".to_owned(), "iso8601".to_owned())]),
        HashMap::from([("idb.nulls".to_owned(), "absent,null,undefined".to_owned())]),
    ]
}

fn leaves() -> Vec<DataType> {
    let mut v = vec![
        DataType::Null,
        DataType::Boolean,
        DataType::Int64,
        DataType::Float64,
        DataType::Utf8,
        DataType::Binary,
        DataType::Decimal128(38, 0),
        DataType::Decimal128(5, 2),
        DataType::Decimal128(1, 1),
        DataType::Int32,
        DataType::UInt8,
        DataType::Float32,
        DataType::Float16,
        DataType::LargeUtf8,
        DataType::Duration(TimeUnit::Second),
        DataType::FixedSizeBinary(4),
        DataType::Date32,
    ];
    for unit in [TimeUnit::Second, TimeUnit::Millisecond, TimeUnit::Microsecond, TimeUnit::Nanosecond] {
        v.push(DataType::Timestamp(unit, None));
        v.push(DataType::Timestamp(unit, Some("UTC".into())));
    }
    v.push(DataType::Struct(Fields::from(vec![
        Field::new("type", DataType::Utf8, true),
        Field::new("data", DataType::Binary, true),
    ])));
    v.push(DataType::Struct(Fields::from(vec![
        Field::new("type", DataType::Utf8, true),
        Field::new("data", DataType::Binary, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("lastModified", DataType::Int64, true),
    ])));
    v
}

fn fields(name: &str) -> Vec<Field> {
    let mut out = Vec::new();
    for dt in leaves() {
        for nullable in [true, false] {
            for md in metadata() {
                out.push(Field::new(name, dt.clone(), nullable).with_metadata(md));
            }
        }
    }
    out
}

/// Leaves, and one level of List, Struct and Map around them.
fn candidates() -> Vec<Field> {
    let mut out = fields("a");
    for inner in fields("item") {
        for md in metadata() {
            out.push(Field::new("a", DataType::List(Arc::new(inner.clone())), true).with_metadata(md));
        }
        let b = inner.clone().with_name("b");
        out.push(Field::new("a", DataType::Struct(Fields::from(vec![b])), true));
        for key in [DataType::Utf8, DataType::Int64, DataType::Timestamp(TimeUnit::Millisecond, None)] {
            let kv = Fields::from(vec![Field::new("key", key, false), inner.clone().with_name("value")]);
            let entries = Arc::new(Field::new("entries", DataType::Struct(kv), false));
            for md in [HashMap::new(), HashMap::from([("idb.tag".to_owned(), "map".to_owned())])] {
                out.push(Field::new("a", DataType::Map(entries.clone(), false), true).with_metadata(md));
            }
        }
    }
    out
}

const RECORDS: &[&str] = &[
    r#"{}"#,
    r#"{"a":null}"#,
    r#"{"a":1}"#,
    r#"{"a":-2.5}"#,
    r#"{"a":1709251200}"#,
    r#"{"a":"x"}"#,
    r#"{"a":"2024-03-01T00:00:00.123Z"}"#,
    r#"{"a":true}"#,
    r#"{"a":[]}"#,
    r#"{"a":[1,null,"x",{"b":1}]}"#,
    r#"{"a":[{"b":null},{"b":2},{"b":"2024-03-01T00:00:00Z"},{}]}"#,
    r#"{"a":{}}"#,
    r#"{"a":{"b":1}}"#,
    r#"{"a":{"b":null,"k":"v"}}"#,
    r#"{"a":{"type":"text/plain","data":"AAE="}}"#,
    r#"{"a":1709251200123,"$types":{"a":"date"}}"#,
    r#"{"a":"NaN","$types":{"a":"date"}}"#,
    r#"{"a":"12345678901234567890123","$types":{"a":"bigint"}}"#,
    r#"{"a":"-7","$types":{"a":"bigint"}}"#,
    r#"{"a":0,"$types":{"a":"undef"}}"#,
    r#"{"a":"NaN","$types":{"a":"nan"}}"#,
    r#"{"a":"AAE=","$types":{"a":"arraybuffer"}}"#,
    r#"{"a":[["k",1],["j",null]],"$types":{"a":"map"}}"#,
    r#"{"a":[[1,"x"],[2,{"b":3}]],"$types":{"a":"map"}}"#,
    r#"{"a":[[1709251200000,1]],"$types":{"a":"map","a.0.0":"date"}}"#,
    r#"{"a":{"type":"text/plain","data":"AAE="},"$types":{"a":"blob2"}}"#,
    r#"{"a":{"type":"text/plain","stringContents":"hi","name":"f.txt","lastModified":5},"$types":{"a":"file"}}"#,
    r#"{"a":{"buffer":"AAAAAAAA8D8=","byteOffset":0,"length":1},"$types":{"a":"float64array2"}}"#,
    r#"{"a":{"buffer":"AAH/","byteOffset":0,"length":3},"$types":{"a":"uint8array2"}}"#,
    r#"{"a":["x","y"],"$types":{"a":"set"}}"#,
    r#"{"a":[1,0,3],"$types":{"a":"arrayNonindexKeys","a.1":"sparseUndefined"}}"#,
    r#"{"a":[1709251200000],"$types":{"a":"arrayNonindexKeys","a.0":"date"}}"#,
    r#"{"a":{"b":1709251200000},"$types":{"a.b":"date"}}"#,
];

fn write_parquet(batch: &RecordBatch) {
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).expect("parquet writer");
    w.write(batch).expect("parquet write");
    w.close().expect("parquet close");
}

#[test]
fn every_type_the_pinned_schema_check_accepts_decodes_and_writes() {
    let (mut accepted, mut refused, mut failures) = (0, 0, Vec::new());
    for f in candidates() {
        let schema = Arc::new(Schema::new(vec![f.clone()]));
        if schema_infer::check_schema("s", &schema).is_err() {
            refused += 1;
            continue;
        }
        accepted += 1;
        let run = catch_unwind(AssertUnwindSafe(|| {
            let (batch, rejects) = engine::decode_all(schema.clone(), RECORDS.iter().map(|r| r.as_bytes()));
            assert_eq!(batch.num_rows() + rejects.len(), RECORDS.len());
            write_parquet(&batch);
            // A second batch from the same decoder state is what convert does next.
            let mut d = engine::Decoder::new(schema.clone());
            for r in RECORDS {
                let _ = d.push(r.as_bytes());
            }
            write_parquet(&d.finish());
            write_parquet(&d.finish());
        }));
        if run.is_err() {
            failures.push(format!(
                "{} {:?} nullable={} {:?}",
                f.data_type(),
                f.data_type(),
                f.is_nullable(),
                f.metadata()
            ));
        }
    }
    assert!(accepted > 1000 && refused > 1000, "accepted {accepted}, refused {refused}");
    assert!(failures.is_empty(), "{} accepted field(s) panicked:\n{}", failures.len(), failures.join("\n"));
}
