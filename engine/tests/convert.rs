//! Integration tests of `engine::convert`: every test converts into its own temp dir and
//! reads the Parquet back with the `parquet` crate, comparing exact values.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit,
    TimestampMillisecondType, UInt16Type, UInt32Type, UInt8Type,
};
use engine::{
    convert, ConvertOptions, ConvertReport, Counts, Entry, LocalSink, Manifest, Mode, OnInvalid, ParquetOptions,
    PartitionField, RejectRecord, Sink, SinkFile, MANIFEST, SUCCESS, TEMPORARY,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use schema_infer::{InferOptions, SchemaDoc};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/fixtures");

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

fn run(input: &Path, out: &Path, opts: ConvertOptions) -> engine::Result<ConvertReport> {
    convert(input, Arc::new(LocalSink::new(out)), opts, &|_, _| {})
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

fn manifest(dataset: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(dataset.join(MANIFEST)).unwrap()).unwrap()
}

/// Every file under `root`, as a sorted list of `/`-separated relative paths.
fn files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_str().unwrap().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Every file under `root` with its bytes.
fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    files(root).into_iter().map(|f| (f.clone(), std::fs::read(root.join(&f)).unwrap())).collect()
}

/// One Parquet file: its rows (batches concatenated) and its key-value metadata.
fn read_parquet(path: &Path) -> (RecordBatch, BTreeMap<String, String>) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
    let kv = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| kv.iter().map(|k| (k.key.clone(), k.value.clone().unwrap_or_default())).collect())
        .unwrap_or_default();
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    (arrow::compute::concat_batches(&schema, &batches).unwrap(), kv)
}

/// A dataset's data files, in manifest order, concatenated.
fn read_dataset(dataset: &Path) -> RecordBatch {
    let m = manifest(dataset);
    let parts: Vec<RecordBatch> = m.files.iter().map(|f| read_parquet(&dataset.join(&f.path)).0).collect();
    arrow::compute::concat_batches(&parts[0].schema(), &parts).unwrap()
}

fn col<'a>(b: &'a RecordBatch, name: &str) -> &'a ArrayRef {
    b.column_by_name(name).unwrap_or_else(|| panic!("no column '{name}'"))
}

fn child(a: &dyn Array, name: &str) -> ArrayRef {
    a.as_struct().column_by_name(name).unwrap_or_else(|| panic!("no struct field '{name}'")).clone()
}

fn valid(a: &dyn Array) -> Vec<bool> {
    (0..a.len()).map(|i| a.is_valid(i)).collect()
}

fn strs(a: &dyn Array) -> Vec<Option<String>> {
    let s = a.as_string::<i32>();
    (0..s.len()).map(|i| s.is_valid(i).then(|| s.value(i).to_owned())).collect()
}

fn i64s(a: &dyn Array) -> Vec<Option<i64>> {
    let p = a.as_primitive::<Int64Type>();
    (0..p.len()).map(|i| p.is_valid(i).then(|| p.value(i))).collect()
}

/// Timestamp(ms, UTC) values as epoch milliseconds.
fn ts(a: &dyn Array) -> Vec<Option<i64>> {
    assert_eq!(a.data_type(), &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())));
    let p = a.as_primitive::<TimestampMillisecondType>();
    (0..p.len()).map(|i| p.is_valid(i).then(|| p.value(i))).collect()
}

/// Float64 values as bit patterns, so NaN compares exactly.
fn f64_bits(a: &dyn Array) -> Vec<Option<u64>> {
    let p = a.as_primitive::<Float64Type>();
    (0..p.len()).map(|i| p.is_valid(i).then(|| p.value(i).to_bits())).collect()
}

fn bins(a: &dyn Array) -> Vec<Option<Vec<u8>>> {
    let b = a.as_binary::<i32>();
    (0..b.len()).map(|i| b.is_valid(i).then(|| b.value(i).to_vec())).collect()
}

fn dec(a: &dyn Array) -> Vec<Option<i128>> {
    assert_eq!(a.data_type(), &DataType::Decimal128(38, 0));
    let p = a.as_primitive::<Decimal128Type>();
    (0..p.len()).map(|i| p.is_valid(i).then(|| p.value(i))).collect()
}

/// The list value at `row` (which must be valid).
fn item(a: &dyn Array, row: usize) -> ArrayRef {
    let l = a.as_list::<i32>();
    assert!(l.is_valid(row), "list row {row} is null");
    l.value(row)
}

/// The `(keys, values)` of the map value at `row` (which must be valid).
fn entries(a: &dyn Array, row: usize) -> (ArrayRef, ArrayRef) {
    let m = a.as_map();
    assert!(m.is_valid(row), "map row {row} is null");
    let e = m.value(row);
    (e.column(0).clone(), e.column(1).clone())
}

/// The `__idb_nulls` entries of every row.
fn side(b: &RecordBatch) -> Vec<Vec<(String, String)>> {
    let c = col(b, "__idb_nulls");
    (0..c.len())
        .map(|r| {
            let (k, v) = entries(c.as_ref(), r);
            strs(k.as_ref()).into_iter().zip(strs(v.as_ref())).map(|(k, v)| (k.unwrap(), v.unwrap())).collect()
        })
        .collect()
}

/// `n` slots, `None` except the given ones.
fn only<T: Clone>(n: usize, at: &[(usize, T)]) -> Vec<Option<T>> {
    let mut v = vec![None; n];
    for (i, x) in at {
        v[*i] = Some(x.clone());
    }
    v
}

fn some_strs(v: &[&str]) -> Vec<Option<String>> {
    v.iter().map(|s| Some((*s).to_owned())).collect()
}

/// `ramp` of records.mjs: bytes `(start + i * 37) & 0xff`.
fn ramp(n: usize, start: usize) -> Vec<u8> {
    (0..n).map(|i| ((start + i * 37) & 0xff) as u8).collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

// ---------------------------------------------------------------------------------------
// 1. Every typeson type of dexie-alltags, read back exactly
// ---------------------------------------------------------------------------------------

#[test]
fn dexie_alltags_reads_back_every_typeson_type_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let report = run(&fixture("dexie-alltags.json"), &out, ConvertOptions::new()).unwrap();
    let summary: Vec<(String, Counts, usize)> =
        report.stores.iter().map(|s| (s.store.clone(), s.counts, s.files)).collect();
    let counts = |n| Counts { read: n, written: n, rejected: 0, skipped: 0 };
    assert_eq!(
        summary,
        vec![("things".into(), counts(9), 1), ("kv".into(), counts(14), 1), ("pairs".into(), counts(4), 1)]
    );
    for store in ["things", "kv", "pairs"] {
        let job = &report.job_id;
        assert_eq!(
            files(&out.join(store)),
            vec![SUCCESS.to_owned(), MANIFEST.to_owned(), format!("part-00000-{job}.zstd.parquet")]
        );
    }

    // ---- things ----
    let ds = out.join("things");
    let (t, kv) = read_parquet(&ds.join(format!("part-00000-{}.zstd.parquet", report.job_id)));
    let n = 9;
    assert_eq!(t.num_rows(), n);
    assert_eq!(
        strs(col(&t, "name")),
        some_strs(&[
            "dates",
            "binary",
            "typed",
            "collections",
            "numbers",
            "undefs",
            "sparse-record",
            "drift",
            "exporter-losses"
        ])
    );
    assert_eq!(i64s(col(&t, "id")), (1..=9).map(Some).collect::<Vec<_>>());

    // Key-value metadata: the IndexedDB facts of the store.
    for (k, v) in [
        ("idb.database", "alltags"),
        ("idb.version", "3"),
        ("idb.store", "things"),
        ("idb.dexie_schema", "++id,name,[first+last],*tags"),
        ("idb.key_path", "[\"id\"]"),
        ("idb.auto_increment", "true"),
        ("idb.inbound", "true"),
        ("idb.indexes", "[\"name\",\"[first+last]\",\"*tags\"]"),
    ] {
        assert_eq!(kv.get(k).map(String::as_str), Some(v), "{k}");
    }
    let tags: serde_json::Value = serde_json::from_str(&kv["idb.field_tags"]).unwrap();
    let expected: serde_json::Map<String, serde_json::Value> = [
        ("invalid", "date"),
        ("epoch", "date"),
        ("beforeEpoch", "date"),
        ("nested.when", "date"),
        ("nested.deeper.at", "date"),
        ("nested.pic", "blob2"),
        ("weird.c~0d", "date"),
        ("weird.e~01~1f", "date"),
        ("x~1y~0z", "date"),
        ("dateList.item", "date"),
        ("blob", "blob2"),
        ("textBlob", "blob2"),
        ("emptyBlob", "blob2"),
        ("buf", "arraybuffer"),
        ("emptyBuf", "arraybuffer"),
        ("view", "dataview"),
        ("i8", "int8array2"),
        ("u8", "uint8array2"),
        ("u8c", "uint8clampedarray2"),
        ("i16", "int16array2"),
        ("u16", "uint16array2"),
        ("i32", "int32array2"),
        ("u32", "uint32array2"),
        ("f32", "float32array2"),
        ("f64", "float64array2"),
        ("f64Special", "float64array2"),
        ("emptyU8", "uint8array2"),
        ("window", "uint8array2"),
        ("sharedA", "uint16array2"),
        ("sharedB", "uint8array2"),
        ("mapStr", "map"),
        ("mapNum", "map"),
        ("mapDates", "map"),
        ("mapDates.entries.value", "date"),
        ("emptyMap", "map"),
        ("set", "set"),
        ("setNum", "set"),
        ("emptySet", "set"),
        ("bigNeg", "bigint"),
        ("bigHuge", "bigint"),
        ("bigHugeNeg", "bigint"),
        ("bigBoxed", "bigintObject"),
        ("re", "regexp"),
        ("re2", "regexp"),
        ("reEmpty", "regexp"),
        ("str", "StringObject"),
        ("num", "NumberObject"),
        ("bool", "BooleanObject"),
        ("events.item.at", "date"),
        ("boolFalse", "BooleanObject"),
        ("reDotAll", "regexp"),
        ("i64.0", "bigint"),
        ("i64.1", "bigint"),
        ("u64.0", "bigint"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), json!(v)))
    .collect();
    assert_eq!(tags, serde_json::Value::Object(expected));

    // Dates: Timestamp(ms, UTC); the invalid Date is null (of the kind `invalid`).
    assert_eq!(ts(col(&t, "epoch").as_ref()), only(n, &[(0, 0)]));
    assert_eq!(ts(col(&t, "beforeEpoch").as_ref()), only(n, &[(0, -14_182_939_877)]));
    assert_eq!(ts(col(&t, "invalid").as_ref()), vec![None; n]);
    assert_eq!(ts(col(&t, "x.y~z").as_ref()), only(n, &[(0, 86_400_000)]));
    assert_eq!(
        ts(item(col(&t, "dateList").as_ref(), 0).as_ref()),
        vec![Some(1_704_067_200_000), Some(1_704_153_600_000)]
    );
    assert_eq!(valid(col(&t, "dateList").as_ref()), (0..n).map(|i| i == 0).collect::<Vec<_>>());
    let nested = col(&t, "nested");
    assert_eq!(valid(nested.as_ref()), vec![true, true, false, false, false, true, false, false, false]);
    let when = ts(child(nested.as_ref(), "when").as_ref());
    // row 5: `when: undefined`
    assert_eq!([when[0], when[1], when[5]], [Some(1_704_067_199_999), Some(1_718_440_200_000), None]);
    let label = strs(child(nested.as_ref(), "label").as_ref());
    assert_eq!([&label[0], &label[1], &label[5]], [&Some("new year eve".into()), &None, &Some("no date".into())]);
    let deeper = child(nested.as_ref(), "deeper");
    assert_eq!(valid(deeper.as_ref()), (0..n).map(|i| i == 0).collect::<Vec<_>>());
    assert_eq!(ts(child(deeper.as_ref(), "at").as_ref())[0], Some(946_684_800_000));
    let weird = col(&t, "weird");
    assert_eq!(valid(weird.as_ref()), (0..n).map(|i| i == 0).collect::<Vec<_>>());
    assert_eq!(i64s(child(weird.as_ref(), "a.b").as_ref())[0], Some(1));
    assert_eq!(ts(child(weird.as_ref(), "c~d").as_ref())[0], Some(0));
    assert_eq!(ts(child(weird.as_ref(), "e~1.f").as_ref())[0], Some(978_307_200_000));
    // `created` mixes a Date (row 0) and a string (row 7): a JSON-text column whose Date
    // keeps its typeson encapsulation.
    let created = col(&t, "created");
    let created_field = t.schema().field_with_name("created").unwrap().clone();
    assert_eq!(created_field.metadata().get("ARROW:extension:name").map(String::as_str), Some("arrow.json"));
    assert_eq!(
        strs(created.as_ref()),
        only(
            n,
            &[(0, r#"{"$":1709294400000,"$types":{"$":{"":"date"}}}"#.to_owned()), (7, r#""not a date""#.to_owned())]
        )
    );

    // Binary: Blobs as {type, data}, ArrayBuffer bytes, the DataView's slice.
    let blob = col(&t, "blob");
    assert_eq!(valid(blob.as_ref()), (0..n).map(|i| i == 1).collect::<Vec<_>>(), "row 7 has blob: null");
    assert_eq!(strs(child(blob.as_ref(), "type").as_ref())[1].as_deref(), Some("application/octet-stream"));
    assert_eq!(bins(child(blob.as_ref(), "data").as_ref())[1], Some(ramp(40, 0)));
    let text_blob = col(&t, "textBlob");
    assert_eq!(strs(child(text_blob.as_ref(), "type").as_ref())[1].as_deref(), Some("text/plain;charset=utf-8"));
    assert_eq!(bins(child(text_blob.as_ref(), "data").as_ref())[1], Some("héllo wörld ✓\n".as_bytes().to_vec()));
    let empty_blob = col(&t, "emptyBlob");
    assert!(empty_blob.is_valid(1));
    assert_eq!(strs(child(empty_blob.as_ref(), "type").as_ref())[1].as_deref(), Some(""));
    assert_eq!(bins(child(empty_blob.as_ref(), "data").as_ref())[1], Some(vec![]));
    let pic = child(nested.as_ref(), "pic");
    assert_eq!(valid(pic.as_ref()), (0..n).map(|i| i == 1).collect::<Vec<_>>());
    assert_eq!(strs(child(pic.as_ref(), "type").as_ref())[1].as_deref(), Some("image/png"));
    assert_eq!(bins(child(pic.as_ref(), "data").as_ref())[1], Some(vec![0x89, 0x50, 0x4e, 0x47]));
    assert_eq!(bins(col(&t, "buf").as_ref()), only(n, &[(1, vec![0, 1, 2, 127, 128, 254, 255])]));
    assert_eq!(bins(col(&t, "emptyBuf").as_ref()), only(n, &[(1, vec![])]));
    assert_eq!(bins(col(&t, "view").as_ref()), only(n, &[(1, ramp(8, 100)[2..6].to_vec())]));

    // Typed arrays: each element, with the view's offset and length applied.
    macro_rules! elems {
        ($name:expr, $t:ty) => {{
            let a = item(col(&t, $name).as_ref(), 2);
            a.as_primitive::<$t>().values().to_vec()
        }};
    }
    assert_eq!(elems!("i8", Int8Type), vec![-128, -1, 0, 1, 127]);
    assert_eq!(elems!("u8", UInt8Type), vec![0, 1, 255]);
    assert_eq!(elems!("u8c", UInt8Type), vec![0, 128, 255]);
    assert_eq!(elems!("i16", Int16Type), vec![-32768, 0, 32767]);
    assert_eq!(elems!("u16", UInt16Type), vec![0, 65535]);
    assert_eq!(elems!("i32", Int32Type), vec![i32::MIN, 0, i32::MAX]);
    assert_eq!(elems!("u32", UInt32Type), vec![0, u32::MAX]);
    assert_eq!(elems!("f32", Float32Type), vec![1.5, -0.25, f32::MAX]);
    assert_eq!(elems!("f64", Float64Type), vec![std::f64::consts::PI, -1e-300, f64::MAX]);
    let special: Vec<u64> = elems!("f64Special", Float64Type).iter().map(|f| f.to_bits()).collect();
    assert_eq!(special, vec![f64::NAN.to_bits(), f64::INFINITY.to_bits(), f64::NEG_INFINITY.to_bits()]);
    assert_eq!(elems!("emptyU8", UInt8Type), Vec::<u8>::new());
    assert_eq!(elems!("window", UInt8Type), ramp(10, 50)[4..7].to_vec());
    let shared = ramp(16, 3);
    let as_u16: Vec<u16> = shared[..8].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    assert_eq!(elems!("sharedA", UInt16Type), as_u16);
    // `sharedB.buffer` is the `#sharedA.buffer` reference: the same buffer, another window.
    assert_eq!(elems!("sharedB", UInt8Type), shared[8..16].to_vec());
    assert_eq!(valid(col(&t, "i8").as_ref()), (0..n).map(|i| i == 2).collect::<Vec<_>>());

    // `opt`: a string, null, undefined or absent; the kinds of "no value" are in __idb_nulls.
    assert_eq!(strs(col(&t, "opt").as_ref()), only(n, &[(0, "present".to_owned()), (4, "here too".to_owned())]));

    // Collections.
    let (k, v) = entries(col(&t, "mapStr").as_ref(), 3);
    assert_eq!((strs(k.as_ref()), i64s(v.as_ref())), (some_strs(&["a", "b", "c"]), vec![Some(1), Some(2), Some(3)]));
    let (k, v) = entries(col(&t, "mapNum").as_ref(), 3);
    assert_eq!(
        (i64s(k.as_ref()), strs(v.as_ref())),
        (vec![Some(1), Some(2), Some(10)], some_strs(&["one", "two", "ten"]))
    );
    let (k, v) = entries(col(&t, "mapDates").as_ref(), 3);
    assert_eq!(
        (strs(k.as_ref()), ts(v.as_ref())),
        (some_strs(&["start", "end"]), vec![Some(1_704_067_200_000), Some(1_735_603_200_000)])
    );
    let (k, _) = entries(col(&t, "emptyMap").as_ref(), 3);
    assert_eq!(k.len(), 0);
    assert_eq!(valid(col(&t, "mapStr").as_ref()), (0..n).map(|i| i == 3).collect::<Vec<_>>());
    assert_eq!(strs(item(col(&t, "set").as_ref(), 3).as_ref()), some_strs(&["x", "y", "z"]));
    assert_eq!(i64s(item(col(&t, "setNum").as_ref(), 3).as_ref()), vec![Some(3), Some(1), Some(2)]);
    assert_eq!(item(col(&t, "emptySet").as_ref(), 3).len(), 0);
    assert_eq!(item(col(&t, "emptyArr").as_ref(), 3).len(), 0);
    // Holes of the sparse array are nulls; its elements are JSON text (numbers and a string).
    assert_eq!(
        strs(item(col(&t, "sparse").as_ref(), 3).as_ref()),
        vec![Some("1".into()), None, Some("3".into()), None, None, None, Some(r#""end""#.into())]
    );
    assert_eq!(
        strs(col(&t, "extra").as_ref())[3].as_deref(),
        Some(r#"{"$":{"0":1,"1":2,"length":2,"extra":"x"},"$types":{"$":{"":"arrayNonindexKeys"}}}"#)
    );
    assert_eq!(i64s(item(col(&t, "arrUndef").as_ref(), 3).as_ref()), vec![None, Some(1), None]);
    let nested_arr = item(col(&t, "nestedArr").as_ref(), 3);
    let inner: Vec<Vec<Option<String>>> =
        (0..nested_arr.len()).map(|i| strs(item(nested_arr.as_ref(), i).as_ref())).collect();
    assert_eq!(
        inner,
        vec![some_strs(&["1", "2"]), vec![], some_strs(&[r#"{"$":1582934400000,"$types":{"$":{"":"date"}}}"#])]
    );
    // `sameB` is the `#sameA` reference: equal to its target.
    for name in ["sameA", "sameB"] {
        let s = col(&t, name);
        assert_eq!(valid(s.as_ref()), (0..n).map(|i| i == 3).collect::<Vec<_>>(), "{name}");
        let shared_flag = child(s.as_ref(), "shared");
        assert!(shared_flag.as_boolean().value(3), "{name}");
        assert_eq!(i64s(child(s.as_ref(), "n").as_ref())[3], Some(7), "{name}");
    }

    // Numbers JSON cannot hold, BigInt, RegExp, boxed primitives.
    assert_eq!(f64_bits(col(&t, "nan").as_ref()), only(n, &[(4, f64::NAN.to_bits()), (7, 5f64.to_bits())]));
    assert_eq!(f64_bits(col(&t, "inf").as_ref()), only(n, &[(4, f64::INFINITY.to_bits())]));
    assert_eq!(f64_bits(col(&t, "ninf").as_ref()), only(n, &[(4, f64::NEG_INFINITY.to_bits())]));
    assert_eq!(i64s(col(&t, "maxSafe").as_ref()), only(n, &[(4, 9_007_199_254_740_991)]));
    assert_eq!(f64_bits(col(&t, "float").as_ref()), only(n, &[(4, 0.1f64.to_bits())]));
    assert_eq!(i64s(col(&t, "bigNeg").as_ref()), only(n, &[(4, -7)]));
    assert_eq!(i64s(col(&t, "bigBoxed").as_ref()), only(n, &[(4, 10)]));
    assert_eq!(dec(col(&t, "bigHuge").as_ref()), only(n, &[(4, 18_446_744_073_709_551_617)]));
    assert_eq!(dec(col(&t, "bigHugeNeg").as_ref()), only(n, &[(4, -1_180_591_620_717_411_303_424)]));
    // `bigSmall` is a BigInt in row 4 and a number in row 7: JSON text.
    assert_eq!(
        strs(col(&t, "bigSmall").as_ref()),
        only(n, &[(4, r#"{"$":"42","$types":{"$":{"":"bigint"}}}"#.to_owned()), (7, "1".to_owned())])
    );
    for (name, row, source, flags) in
        [("re", 4, "ab+c", "gi"), ("re2", 4, r"^x\d+$", "myu"), ("reEmpty", 4, "(?:)", ""), ("reDotAll", 8, "a.b", "")]
    {
        let re = col(&t, name);
        assert_eq!(valid(re.as_ref()), (0..n).map(|i| i == row).collect::<Vec<_>>(), "{name}");
        assert_eq!(strs(child(re.as_ref(), "source").as_ref())[row].as_deref(), Some(source), "{name}");
        assert_eq!(strs(child(re.as_ref(), "flags").as_ref())[row].as_deref(), Some(flags), "{name}");
    }
    assert_eq!(strs(col(&t, "str").as_ref()), only(n, &[(4, "s".to_owned())]));
    assert_eq!(i64s(col(&t, "num").as_ref()), only(n, &[(4, 3)]));
    let bools = |name: &str| {
        let b = col(&t, name).as_boolean().clone();
        (0..b.len()).map(|i| b.is_valid(i).then(|| b.value(i))).collect::<Vec<_>>()
    };
    assert_eq!(bools("bool"), only(n, &[(4, true)]));
    let nums: Vec<u64> =
        item(col(&t, "nums").as_ref(), 4).as_primitive::<Float64Type>().values().iter().map(|f| f.to_bits()).collect();
    assert_eq!(nums, [1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 2.5].map(f64::to_bits).to_vec());

    // undefined / null only: Null columns.
    for name in ["undef", "nullish"] {
        assert_eq!(col(&t, name).data_type(), &DataType::Null, "{name}");
        assert_eq!(col(&t, name).logical_null_count(), n, "{name}");
    }

    // A Date inside an array of objects.
    let events = item(col(&t, "events").as_ref(), 6);
    assert_eq!(strs(child(events.as_ref(), "kind").as_ref()), some_strs(&["start", "stop"]));
    assert_eq!(ts(child(events.as_ref(), "at").as_ref()), vec![Some(1_711_962_000_000), Some(1_711_990_800_000)]);
    let extra = child(events.as_ref(), "extra");
    assert_eq!(valid(extra.as_ref()), vec![false, true]);
    assert_eq!(strs(child(extra.as_ref(), "note").as_ref())[1].as_deref(), Some("late"));

    // The exporter's losses, as exported.
    assert_eq!(bools("boolFalse"), only(n, &[(8, true)]));
    assert_eq!(i64s(col(&t, "negZero").as_ref()), only(n, &[(8, 0)]));
    let i64_obj = col(&t, "i64");
    assert_eq!(
        (i64s(child(i64_obj.as_ref(), "0").as_ref())[8], i64s(child(i64_obj.as_ref(), "1").as_ref())[8]),
        (Some(1), Some(-2))
    );
    assert_eq!(dec(child(col(&t, "u64").as_ref(), "0").as_ref())[8], Some(18_446_744_073_709_551_615));

    // The side column keeps which kind of "no value" each null was, where a field sees
    // more than one (the default kind, here `null` or `absent`, is not listed). The
    // invalid Date is its own kind, so that a download writes `new Date(NaN)` back.
    let absent_bn = pairs(&[("blob", "absent"), ("nullish", "absent")]);
    let absent_obn = pairs(&[("opt", "absent"), ("blob", "absent"), ("nullish", "absent")]);
    assert_eq!(
        side(&t),
        vec![
            pairs(&[("invalid", "invalid"), ("blob", "absent"), ("nullish", "absent")]),
            pairs(&[("nullish", "absent")]),
            pairs(&[("opt", "undefined"), ("blob", "absent"), ("nullish", "absent")]),
            absent_obn.clone(),
            absent_bn,
            pairs(&[("undef", "undefined"), ("opt", "absent"), ("blob", "absent")]),
            absent_obn.clone(),
            pairs(&[("nullish", "absent")]),
            absent_obn,
        ]
    );

    // ---- kv: out-of-line keys, whole values as JSON text ----
    let (k, kv_meta) = read_parquet(&out.join("kv").join(format!("part-00000-{}.zstd.parquet", report.job_id)));
    assert_eq!(kv_meta.get("idb.store").map(String::as_str), Some("kv"));
    assert_eq!(kv_meta.get("idb.key_path").map(String::as_str), Some("[]"));
    assert_eq!(kv_meta.get("idb.dexie_schema").map(String::as_str), Some(""));
    assert_eq!(kv_meta.get("idb.inbound").map(String::as_str), Some("false"));
    assert_eq!(kv_meta.get("idb.field_tags").map(String::as_str), Some("{}"));
    assert_eq!(
        strs(col(&k, "__key").as_ref()),
        some_strs(&[
            "-10",
            "1",
            "2.5",
            r#"{"$":1704067200000,"$types":{"$":{"":"date"}}}"#,
            r#""alpha""#,
            r#""beta""#,
            r#""big""#,
            r#""blob""#,
            r#""gamma""#,
            r#""map""#,
            r#""undef""#,
            r#"{"$":"AQID","$types":{"$":{"":"arraybuffer"}}}"#,
            r#"{"$":["compound",1],"$types":{"$":{"":"arrayNonindexKeys"}}}"#,
            r#"{"$":["compound",1704067200000],"$types":{"$":{"":"arrayNonindexKeys","1":"date"}}}"#,
        ])
    );
    let s = |x: &str| Some(x.to_owned());
    assert_eq!(
        strs(col(&k, "__value").as_ref()),
        vec![
            s("42"),
            s(r#""plain string value""#),
            s(r#"{"$":{"when":1709208000000,"n":1},"$types":{"$":{"when":"date"}}}"#),
            s(r#"{"$":{"kind":"dated","tags":["a","b"]},"$types":{"$":{"tags":"set"}}}"#),
            s(r#"{"$":1582934400000,"$types":{"$":{"":"date"}}}"#),
            None,
            s(r#"{"$":"12345678901234567890","$types":{"$":{"":"bigint"}}}"#),
            s(r#"{"$":{"type":"text/plain","data":"a3YgYmxvYg=="},"$types":{"$":{"":"blob2"}}}"#),
            s(r#""another string""#),
            s(r#"{"$":[["k",946598400000]],"$types":{"$":{"":"map","0":"arrayNonindexKeys","0.1":"date"}}}"#),
            None,
            s(r#"{"binaryKey":true}"#),
            s(r#"{"$":{"arr":[1,2,3]},"$types":{"$":{"arr":"arrayNonindexKeys"}}}"#),
            s(r#"{"$":[1704153600000,"x"],"$types":{"$":{"":"arrayNonindexKeys","0":"date"}}}"#),
        ]
    );
    // `beta` is null (the default kind), `undef` is undefined: only the latter is listed.
    let mut kv_side = vec![vec![]; 14];
    kv_side[10] = pairs(&[("", "undefined")]);
    assert_eq!(side(&k), kv_side);

    // ---- pairs: compound primary key ----
    let (p, p_meta) = read_parquet(&out.join("pairs").join(format!("part-00000-{}.zstd.parquet", report.job_id)));
    assert_eq!(p_meta.get("idb.key_path").map(String::as_str), Some(r#"["first","last"]"#));
    assert_eq!(p_meta.get("idb.dexie_schema").map(String::as_str), Some("[first+last],age"));
    assert_eq!(strs(col(&p, "first").as_ref()), some_strs(&["Ada", "Alan", "Grace", "Grace"]));
    assert_eq!(strs(col(&p, "last").as_ref()), some_strs(&["Lovelace", "Turing", "Hopper", "Murray"]));
    assert_eq!(i64s(col(&p, "age").as_ref()), vec![Some(36), Some(41), Some(85), Some(19)]);
    assert_eq!(
        ts(col(&p, "born").as_ref()),
        vec![Some(-4_861_728_000_000), Some(-1_815_350_400_000), Some(-1_990_137_600_000), None]
    );
    assert_eq!(valid(col(&p, "ranks").as_ref()), vec![false, false, true, false]);
    assert_eq!(strs(item(col(&p, "ranks").as_ref(), 2).as_ref()), some_strs(&["Rear Admiral"]));
    let award_absent = pairs(&[("award", "absent")]);
    assert_eq!(side(&p), vec![award_absent.clone(), vec![], award_absent.clone(), award_absent]);
}

// ---------------------------------------------------------------------------------------
// 2. Record accounting: quarantine, skip, fail
// ---------------------------------------------------------------------------------------

/// Good records, one that does not fit the pinned `a: Int64` (record 2) and one that is
/// not JSON (record 3).
const BAD_NDJSON: &str =
    "{\"a\":1,\"b\":\"x\"}\n{\"a\":2,\"b\":\"y\"}\n{\"a\":\"four\",\"b\":\"w\"}\n{\"a\": tru}\n{\"a\":5,\"b\":\"z\"}\n";

/// Writes `bad.ndjson` and a schema document pinning `a` to Int64: made by inferring the
/// input (where `a` becomes JSON text because of record 2) and editing the document.
fn bad_input(dir: &Path) -> (PathBuf, InferOptions) {
    let input = write(dir, "bad.ndjson", BAD_NDJSON.as_bytes());
    let first = engine::infer_path(&input, InferOptions::new(), None).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&first.to_json()).unwrap();
    let a = &mut doc["stores"][0]["schema"]["fields"][0];
    assert_eq!((&a["name"], &a["data_type"]), (&json!("a"), &json!("Utf8")));
    a["data_type"] = json!("Int64");
    a["metadata"] = json!({});
    let pinned = SchemaDoc::from_json(&doc.to_string()).unwrap();
    (input, InferOptions::new().with_pinned(Some(pinned)))
}

fn bad_rows(out: &Path) -> (Vec<Option<i64>>, Vec<Option<String>>) {
    let b = read_dataset(&out.join("bad"));
    (i64s(col(&b, "a").as_ref()), strs(col(&b, "b").as_ref()))
}

#[test]
fn quarantine_writes_each_invalid_record_with_reason_place_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let (input, infer) = bad_input(dir.path());
    let out = dir.path().join("out");
    let report = run(&input, &out, ConvertOptions::new().with_infer(infer)).unwrap();
    let job = report.job_id.clone();
    let counts = Counts { read: 5, written: 3, rejected: 2, skipped: 0 };
    assert_eq!(report.stores[0].counts, counts);

    let ds = out.join("bad");
    let rejects_file = format!("_rejects/part-{job}.ndjson");
    assert_eq!(
        files(&ds),
        vec![SUCCESS.to_owned(), MANIFEST.to_owned(), rejects_file.clone(), format!("part-00000-{job}.zstd.parquet")]
    );
    let m = manifest(&ds);
    assert_eq!((m.counts, m.total), (counts, counts));
    assert_eq!(m.counts.read, m.counts.written + m.counts.rejected + m.counts.skipped);
    assert_eq!(m.rejects, vec![rejects_file.clone()]);
    assert_eq!(bad_rows(&out), (vec![Some(1), Some(2), Some(5)], some_strs(&["x", "y", "z"])));

    let text = std::fs::read_to_string(ds.join(&rejects_file)).unwrap();
    let rejects: Vec<RejectRecord> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rejects.len(), 2);
    // Record 2 starts at byte 32; its value "four" at byte 37.
    let r = &rejects[0];
    assert_eq!(
        (r.store.as_str(), r.record, r.offset, r.path.as_str(), r.reason.as_str(), r.text.as_str()),
        ("bad", 2, 37, "a", "a string does not fit a int64 column", r#"{"a":"four","b":"w"}"#)
    );
    assert_eq!(&BAD_NDJSON[37..43], "\"four\"");
    // Record 3 starts at byte 53; `tru` at byte 59.
    let r = &rejects[1];
    assert_eq!(
        (r.store.as_str(), r.record, r.offset, r.path.as_str(), r.text.as_str()),
        ("bad", 3, 59, "a", r#"{"a": tru}"#)
    );
    assert_eq!(&BAD_NDJSON[59..62], "tru");
}

/// Regression: a record that is not JSON (`{"a": tru}`) was quarantined with the reason
/// "a boolean does not fit a int64 column", as if it held a boolean; inference reports the
/// same record as "invalid literal".
#[test]

fn malformed_literal_is_rejected_as_invalid_json_not_as_a_type_misfit() {
    let dir = tempfile::tempdir().unwrap();
    let (input, infer) = bad_input(dir.path());
    let inferred = engine::infer_path(&input, infer.clone(), None).unwrap();
    let issue = &inferred.stores[0].issues[0];
    assert_eq!((issue.record, issue.offset, issue.reason.as_str()), (3, 59, "invalid literal"));

    let out = dir.path().join("out");
    let report = run(&input, &out, ConvertOptions::new().with_infer(infer)).unwrap();
    let text =
        std::fs::read_to_string(out.join("bad").join(format!("_rejects/part-{}.ndjson", report.job_id))).unwrap();
    let r: RejectRecord = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!((r.record, r.offset, r.reason.as_str()), (3, 59, "invalid literal"));
}

#[test]
fn skip_counts_invalid_records_and_keeps_no_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let (input, infer) = bad_input(dir.path());
    let out = dir.path().join("out");
    let report = run(&input, &out, ConvertOptions::new().with_infer(infer).with_on_invalid(OnInvalid::Skip)).unwrap();
    let counts = Counts { read: 5, written: 3, rejected: 0, skipped: 2 };
    assert_eq!(report.stores[0].counts, counts);
    let ds = out.join("bad");
    assert_eq!(
        files(&ds),
        vec![SUCCESS.to_owned(), MANIFEST.to_owned(), format!("part-00000-{}.zstd.parquet", report.job_id)]
    );
    let m = manifest(&ds);
    assert_eq!((m.counts, m.total, m.rejects.len()), (counts, counts, 0));
    assert_eq!(bad_rows(&out), (vec![Some(1), Some(2), Some(5)], some_strs(&["x", "y", "z"])));
}

#[test]
fn fail_names_the_first_invalid_record_and_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (input, infer) = bad_input(dir.path());
    let out = dir.path().join("out");
    let err = run(&input, &out, ConvertOptions::new().with_infer(infer).with_on_invalid(OnInvalid::Fail)).unwrap_err();
    assert!(err.is_invalid_record(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "store 'bad', record 2 (byte 37), field 'a': a string does not fit a int64 column \
         (--on-invalid fail: nothing was committed)"
    );
    // No _SUCCESS, no manifest, no data files, no staging folder: nothing at all.
    assert_eq!(files(&out), Vec::<String>::new());
    assert!(!out.join("bad").join(TEMPORARY).exists());
}

// ---------------------------------------------------------------------------------------
// 3. Determinism across thread counts
// ---------------------------------------------------------------------------------------

/// The data files of a dataset as (path with the job id replaced by `JOB`, bytes), sorted.
fn data_files(dataset: &Path, job: &str) -> Vec<(String, Vec<u8>)> {
    files(dataset)
        .into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .map(|f| (f.replace(job, "JOB"), std::fs::read(dataset.join(&f)).unwrap()))
        .collect()
}

fn part(term: &str) -> PartitionField {
    term.parse().unwrap()
}

#[test]
fn threads_1_and_2_write_byte_identical_partitioned_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut export = Vec::new();
    testdata_gen::OrderGen::new().with_seed(42).with_records(30_000).write_dexie(&mut export).unwrap();
    let input = write(dir.path(), "shop.json", &export);
    let opts = |threads| {
        ConvertOptions::new()
            .with_partition_by(vec![part("day(created)"), part("status")])
            .with_parquet(ParquetOptions { row_group_rows: 700, ..ParquetOptions::default() })
            .with_threads(threads)
    };
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let r1 = run(&input, &one, opts(1)).unwrap();
    let r2 = run(&input, &two, opts(2)).unwrap();
    let (f1, f2) = (data_files(&one.join("orders"), &r1.job_id), data_files(&two.join("orders"), &r2.job_id));
    let names: Vec<&str> = f1.iter().map(|(n, _)| n.as_str()).collect();
    // 30k orders, one every ~30 s from 2024-01-01: 11 days × 6 statuses.
    assert_eq!(names.len(), 66, "{names:?}");
    assert_eq!(names[0], "day=2024-01-01/status=cancelled/part-00000-JOB.zstd.parquet");
    assert_eq!(names[65], "day=2024-01-11/status=shipped/part-00000-JOB.zstd.parquet");
    assert_eq!(f1.iter().map(|(n, _)| n).collect::<Vec<_>>(), f2.iter().map(|(n, _)| n).collect::<Vec<_>>());
    for ((name, a), (_, b)) in f1.iter().zip(&f2) {
        assert!(a == b, "{name} differs between 1 and 2 threads");
    }
    let (m1, m2) = (manifest(&one.join("orders")), manifest(&two.join("orders")));
    let strip = |m: &Manifest, job: &str| -> Vec<(String, u64, u64, String)> {
        m.files.iter().map(|f| (f.path.replace(job, "JOB"), f.rows, f.bytes, f.crc32c.clone())).collect()
    };
    assert_eq!(strip(&m1, &r1.job_id), strip(&m2, &r2.job_id));
    assert_eq!(m1.files.iter().map(|f| f.rows).sum::<u64>(), 30_000);
    assert_eq!(m1.counts, Counts { read: 30_000, written: 30_000, rejected: 0, skipped: 0 });
}

// ---------------------------------------------------------------------------------------
// 4. Partition layout
// ---------------------------------------------------------------------------------------

const PART_NDJSON: &str = concat!(
    "{\"id\":1,\"created\":\"2024-01-01T10:00:00.000Z\",\"status\":\"paid\",\"city\":\"Berlin\"}\n",
    "{\"id\":2,\"created\":\"2024-01-01T23:59:59.999Z\",\"status\":\"shipped\",\"city\":\"a/b=c\"}\n",
    "{\"id\":3,\"created\":\"2024-01-02T00:00:00.000Z\",\"status\":\"paid\",\"city\":null}\n",
    "{\"id\":4,\"created\":\"2024-01-02T05:00:00.000Z\",\"status\":null,\"city\":\"Berlin\"}\n",
    "{\"id\":5,\"created\":\"2023-12-31T23:00:00.000Z\",\"status\":\"paid\",\"city\":\"\"}\n",
);

/// Each data file of a dataset: (path with the job id replaced, column names, ids).
fn layout(dataset: &Path, job: &str) -> Vec<(String, Vec<String>, Vec<Option<i64>>)> {
    manifest(dataset)
        .files
        .iter()
        .map(|f| {
            let (b, _) = read_parquet(&dataset.join(&f.path));
            let names = b.schema().fields().iter().map(|f| f.name().clone()).collect();
            (f.path.replace(job, "JOB"), names, i64s(col(&b, "id").as_ref()))
        })
        .collect()
}

fn cols(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn day_and_identity_partitions_make_hive_directories_and_drop_identity_columns() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "orders.ndjson", PART_NDJSON.as_bytes());
    let out = dir.path().join("out");
    let opts = ConvertOptions::new()
        .with_infer(InferOptions::new().with_detect_timestamps(true))
        .with_partition_by(vec![part("day(created)"), part("status")]);
    let report = run(&input, &out, opts).unwrap();
    let ds = out.join("orders");
    let kept = cols(&["id", "created", "city"]);
    let p = |path: &str, ids: &[i64]| (path.to_owned(), kept.clone(), ids.iter().map(|&i| Some(i)).collect::<Vec<_>>());
    assert_eq!(
        layout(&ds, &report.job_id),
        vec![
            p("day=2023-12-31/status=paid/part-00000-JOB.zstd.parquet", &[5]),
            p("day=2024-01-01/status=paid/part-00000-JOB.zstd.parquet", &[1]),
            p("day=2024-01-01/status=shipped/part-00000-JOB.zstd.parquet", &[2]),
            p("day=2024-01-02/status=__HIVE_DEFAULT_PARTITION__/part-00000-JOB.zstd.parquet", &[4]),
            p("day=2024-01-02/status=paid/part-00000-JOB.zstd.parquet", &[3]),
        ]
    );
    let m = manifest(&ds);
    let parts: Vec<BTreeMap<String, String>> = m.files.iter().map(|f| f.partition.clone()).collect();
    let pm = |d: &str, s: &str| BTreeMap::from([("day".to_owned(), d.to_owned()), ("status".to_owned(), s.to_owned())]);
    assert_eq!(
        parts,
        vec![
            pm("2023-12-31", "paid"),
            pm("2024-01-01", "paid"),
            pm("2024-01-01", "shipped"),
            pm("2024-01-02", "__HIVE_DEFAULT_PARTITION__"),
            pm("2024-01-02", "paid"),
        ]
    );
    assert_eq!(m.partition_by, vec!["day(created)".to_owned(), "status".to_owned()]);
    // The timestamp column itself stays in the files, exact to the millisecond.
    let (b, _) = read_parquet(&ds.join(&m.files[2].path));
    assert_eq!(ts(col(&b, "created").as_ref()), vec![Some(1_704_153_599_999)]);
}

#[test]
fn identity_partition_escapes_values_and_writes_null_and_empty_as_the_hive_default() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "orders.ndjson", PART_NDJSON.as_bytes());
    let out = dir.path().join("out");
    let report = run(&input, &out, ConvertOptions::new().with_partition_by(vec![part("city")])).unwrap();
    let kept = cols(&["id", "created", "status"]);
    let p = |path: &str, ids: &[i64]| (path.to_owned(), kept.clone(), ids.iter().map(|&i| Some(i)).collect::<Vec<_>>());
    assert_eq!(
        layout(&out.join("orders"), &report.job_id),
        vec![
            p("city=Berlin/part-00000-JOB.zstd.parquet", &[1, 4]),
            p("city=__HIVE_DEFAULT_PARTITION__/part-00000-JOB.zstd.parquet", &[3, 5]),
            p("city=a%2Fb%3Dc/part-00000-JOB.zstd.parquet", &[2]),
        ]
    );
}

#[test]
fn bucket_partition_spreads_ids_over_iceberg_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (1..=40).map(|i| format!("{{\"id\":{i},\"v\":\"r{i}\"}}\n")).collect();
    let input = write(dir.path(), "rows.ndjson", text.as_bytes());
    let out = dir.path().join("out");
    let report = run(&input, &out, ConvertOptions::new().with_partition_by(vec![part("bucket(4, id)")])).unwrap();
    // Iceberg's bucket: (murmur3_32(long) & i32::MAX) % N. The spec's vector: hash(34) = 2017239379.
    assert_eq!(2_017_239_379 % 4, 3);
    let bucket = |id: i64| ((engine::murmur3_32(&id.to_le_bytes(), 0) & i32::MAX as u32) % 4) as usize;
    assert_eq!(bucket(34), 3);
    let mut expected: Vec<Vec<Option<i64>>> = vec![vec![]; 4];
    for id in 1..=40 {
        expected[bucket(id)].push(Some(id));
    }
    assert!(expected.iter().all(|ids| !ids.is_empty()), "{expected:?}");
    let want: Vec<(String, Vec<String>, Vec<Option<i64>>)> = expected
        .into_iter()
        .enumerate()
        .map(|(b, ids)| (format!("bucket={b}/part-00000-JOB.zstd.parquet"), cols(&["id", "v"]), ids))
        .collect();
    assert_eq!(layout(&out.join("rows"), &report.job_id), want);
}

// ---------------------------------------------------------------------------------------
// 5. Modes: error, overwrite, append
// ---------------------------------------------------------------------------------------

#[test]
fn modes_error_overwrite_and_append() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let ds = out.join("orders");
    let input = fixture("orders.ndjson");
    let first = run(&input, &out, ConvertOptions::new()).unwrap();
    let before = snapshot(&ds);
    assert_eq!(before.len(), 3);

    // error: refuses, naming the dataset, and leaves it as it was.
    let err = run(&input, &out, ConvertOptions::new().with_mode(Mode::Error)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("dataset {} already exists (use --mode overwrite or --mode append)", ds.display())
    );
    assert!(snapshot(&ds) == before, "mode error touched the dataset");

    // overwrite: the old files are gone, the manifest is the new job's.
    let second = run(&input, &out, ConvertOptions::new().with_mode(Mode::Overwrite)).unwrap();
    assert_ne!(second.job_id, first.job_id);
    let j2 = second.job_id.clone();
    let part2 = format!("part-00000-{j2}.zstd.parquet");
    assert_eq!(files(&ds), vec![SUCCESS.to_owned(), MANIFEST.to_owned(), part2.clone()]);
    let m = manifest(&ds);
    let fifty = Counts { read: 50, written: 50, rejected: 0, skipped: 0 };
    assert_eq!((m.job_id.as_str(), m.jobs.clone(), m.counts, m.total), (j2.as_str(), vec![j2.clone()], fifty, fifty));

    // append: the old file stays, the new one is added; the manifest lists both jobs.
    let third = run(&input, &out, ConvertOptions::new().with_mode(Mode::Append)).unwrap();
    let j3 = third.job_id.clone();
    let part3 = format!("part-00000-{j3}.zstd.parquet");
    let mut want = vec![SUCCESS.to_owned(), MANIFEST.to_owned(), part2.clone(), part3.clone()];
    want.sort();
    assert_eq!(files(&ds), want);
    let m = manifest(&ds);
    assert_eq!((m.job_id.as_str(), m.jobs.clone()), (j3.as_str(), vec![j2.clone(), j3.clone()]));
    assert_eq!(m.counts, fifty);
    assert_eq!(m.total, Counts { read: 100, written: 100, rejected: 0, skipped: 0 });
    assert_eq!(m.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(), vec![part2, part3]);
    let all = read_dataset(&ds);
    let ids: Vec<Option<i64>> = (1..=50).chain(1..=50).map(Some).collect();
    assert_eq!(i64s(col(&all, "id").as_ref()), ids);

    // append with another schema: refused, naming the field; the dataset is untouched.
    let before = snapshot(&ds);
    let text = std::fs::read_to_string(&input).unwrap();
    let mut changed = String::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let mut v = v.as_object().unwrap().clone();
        let c = v["customerId"].to_string();
        v.insert("customerId".into(), json!(c));
        changed.push_str(&serde_json::Value::Object(v).to_string());
        changed.push('\n');
    }
    let other = write(dir.path(), "other.ndjson", changed.as_bytes());
    let opts = ConvertOptions::new().with_mode(Mode::Append).with_store(Some("orders".into()));
    let err = run(&other, &out, opts).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot append to {}: field \"customerId\" is \"Int64\" there, but \"customerId\" \"Utf8\" here",
            ds.display()
        )
    );
    assert!(snapshot(&ds) == before, "a refused append touched the dataset");
}

/// Regression: appending to a dataset partitioned by an identity column always failed: the
/// manifest keeps the whole schema, but the check compared it with the files' schema, from
/// which the partition column is dropped ("field \"status\" is \"Utf8\" there, but \"items\" …").
#[test]

fn append_to_a_dataset_partitioned_by_an_identity_column() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let input = fixture("orders.ndjson");
    let opts = || ConvertOptions::new().with_partition_by(vec![part("status")]);
    let first = run(&input, &out, opts()).unwrap();
    let second = run(&input, &out, opts().with_mode(Mode::Append)).unwrap();
    let m = manifest(&out.join("orders"));
    assert_eq!(m.jobs, vec![first.job_id, second.job_id]);
    assert_eq!(m.total, Counts { read: 100, written: 100, rejected: 0, skipped: 0 });
    assert_eq!(m.files.len(), 6);
}

/// Regression: an append whose column has the same Arrow type but another meaning was
/// accepted: `note` is JSON text (extension `arrow.json`, values like `"a"` and `42`) in the
/// dataset and a plain string (`b`) in the appended input, so one column held both forms.
#[test]

fn append_of_a_plain_string_column_onto_a_json_column_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let base = write(dir.path(), "notes.ndjson", b"{\"id\":1,\"note\":\"a\"}\n{\"id\":2,\"note\":42}\n");
    run(&base, &out, ConvertOptions::new()).unwrap();
    let before = snapshot(&out.join("notes"));
    let more = write(dir.path(), "more.ndjson", b"{\"id\":3,\"note\":\"b\"}\n");
    let opts = ConvertOptions::new().with_mode(Mode::Append).with_store(Some("notes".into()));
    let res = run(&more, &out, opts);
    let after = snapshot(&out.join("notes"));
    let err = res.expect_err("appending plain strings to a JSON-text column must be refused");
    assert!(err.to_string().contains("note"), "{err}");
    assert!(after == before, "a refused append touched the dataset");
}

// ---------------------------------------------------------------------------------------
// 6. Stale staging folders
// ---------------------------------------------------------------------------------------

const STALE_JOB: &str = "20200101T000000-abcdef";

fn plant_stale_job(dataset: &Path) -> String {
    let rel = format!("{TEMPORARY}/{STALE_JOB}/part-00000-{STALE_JOB}.zstd.parquet");
    let p = dataset.join(&rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, b"PAR1 half a file").unwrap();
    rel
}

#[test]
fn a_stale_temporary_folder_is_removed_by_the_next_run_and_never_listed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let ds = out.join("orders");
    let input = fixture("orders.ndjson");

    // A job died before committing anything: the dataset is not there, mode error works.
    let stale = plant_stale_job(&ds);
    assert_eq!(files(&ds), vec![stale.clone()]);
    let first = run(&input, &out, ConvertOptions::new()).unwrap();
    let p1 = format!("part-00000-{}.zstd.parquet", first.job_id);
    assert_eq!(files(&ds), vec![SUCCESS.to_owned(), MANIFEST.to_owned(), p1.clone()]);
    assert!(!ds.join(TEMPORARY).exists());
    assert_eq!(manifest(&ds).files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(), vec![p1.clone()]);

    // A job died while appending to a committed dataset.
    plant_stale_job(&ds);
    let second = run(&input, &out, ConvertOptions::new().with_mode(Mode::Append)).unwrap();
    let p2 = format!("part-00000-{}.zstd.parquet", second.job_id);
    let mut want = vec![SUCCESS.to_owned(), MANIFEST.to_owned(), p1.clone(), p2.clone()];
    want.sort();
    assert_eq!(files(&ds), want);
    let m = manifest(&ds);
    assert_eq!(m.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(), vec![p1, p2]);
    assert_eq!(m.jobs, vec![first.job_id, second.job_id]);
    assert!(!std::fs::read_to_string(ds.join(MANIFEST)).unwrap().contains(STALE_JOB));
}

// ---------------------------------------------------------------------------------------
// 7. File size limit
// ---------------------------------------------------------------------------------------

#[test]
fn max_file_bytes_rolls_files_and_keeps_every_row_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    testdata_gen::OrderGen::new().with_seed(42).with_records(5_000).write_ndjson(&mut data).unwrap();
    let input = write(dir.path(), "orders.ndjson", &data);
    let out = dir.path().join("out");
    let parquet = ParquetOptions { max_file_bytes: Some(64_000), row_group_rows: 500, ..ParquetOptions::default() };
    let report = run(&input, &out, ConvertOptions::new().with_parquet(parquet)).unwrap();
    let ds = out.join("orders");
    let m = manifest(&ds);
    let n = m.files.len();
    assert!(n >= 4, "{n} files");
    assert_eq!(report.stores[0].files, n);
    let names: Vec<String> = m.files.iter().map(|f| f.path.clone()).collect();
    let want: Vec<String> = (0..n).map(|i| format!("part-{i:05}-{}.zstd.parquet", report.job_id)).collect();
    assert_eq!(names, want);
    let mut on_disk = files(&ds);
    on_disk.retain(|f| f.ends_with(".parquet"));
    assert_eq!(on_disk, want);
    let mut ids = Vec::new();
    for f in &m.files {
        let bytes = std::fs::read(ds.join(&f.path)).unwrap();
        assert_eq!(f.bytes, bytes.len() as u64, "{}", f.path);
        assert_eq!(f.crc32c, format!("{:08x}", crc32c::crc32c(&bytes)), "{}", f.path);
        let (b, _) = read_parquet(&ds.join(&f.path));
        assert_eq!(f.rows, b.num_rows() as u64, "{}", f.path);
        assert!(f.rows > 0, "{}", f.path);
        ids.extend(i64s(col(&b, "id").as_ref()));
    }
    assert_eq!(ids, (1..=5_000).map(Some).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------------------
// 8. Empty stores
// ---------------------------------------------------------------------------------------

fn assert_one_empty_file(dataset: &Path, job: &str, store: &str) {
    let part = format!("part-00000-{job}.zstd.parquet");
    assert_eq!(files(dataset), vec![SUCCESS.to_owned(), MANIFEST.to_owned(), part.clone()]);
    let m = manifest(dataset);
    assert_eq!(m.counts, Counts::default());
    assert_eq!((m.files.len(), m.files[0].rows), (1, 0));
    let (b, kv) = read_parquet(&dataset.join(&part));
    assert_eq!(b.num_rows(), 0);
    let schema = serde_json::to_value(b.schema().as_ref()).unwrap();
    assert_eq!(schema["fields"], m.schema["fields"]);
    assert_eq!(kv.get("idb.store").map(String::as_str), Some(store));
}

#[test]
fn an_empty_dexie_table_gives_one_empty_file_with_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let export = r#"{"formatName":"dexie","formatVersion":1,"data":{"databaseName":"db","databaseVersion":2,
        "tables":[{"name":"empty","schema":"++id","rowCount":0},{"name":"full","schema":"++id","rowCount":1}],
        "data":[{"tableName":"empty","inbound":true,"rows":[]},
                {"tableName":"full","inbound":true,"rows":[{"id":1,"v":"x"}]}]}}"#;
    let input = write(dir.path(), "db.json", export.as_bytes());
    let out = dir.path().join("out");
    let report = run(&input, &out, ConvertOptions::new()).unwrap();
    assert_eq!(report.stores.iter().map(|s| s.store.as_str()).collect::<Vec<_>>(), vec!["empty", "full"]);
    assert_one_empty_file(&out.join("empty"), &report.job_id, "empty");
    let (_, kv) = read_parquet(&out.join("empty").join(format!("part-00000-{}.zstd.parquet", report.job_id)));
    assert_eq!(kv.get("idb.version").map(String::as_str), Some("2"));
    assert_eq!(read_dataset(&out.join("full")).num_rows(), 1);
}

#[test]
fn an_ndjson_input_without_records_gives_one_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "nothing.ndjson", b"");
    let out = dir.path().join("out");
    let report = run(&input, &out, ConvertOptions::new()).unwrap();
    assert_eq!(report.stores.len(), 1);
    assert_one_empty_file(&out.join("nothing"), &report.job_id, "nothing");
}

// ---------------------------------------------------------------------------------------
// Commit failures
// ---------------------------------------------------------------------------------------

/// A local sink whose `fail_at`-th rename of a data file into place fails, like a
/// filesystem error in the middle of a commit.
struct FailingPublish {
    inner: LocalSink,
    fail_at: usize,
    published: AtomicUsize,
}

impl Sink for FailingPublish {
    fn create(&self, path: &str) -> std::io::Result<Box<dyn SinkFile>> {
        self.inner.create(path)
    }
    fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        if to.ends_with(".parquet") && !to.contains(TEMPORARY) {
            let n = self.published.fetch_add(1, Ordering::SeqCst) + 1;
            if n == self.fail_at {
                return Err(std::io::Error::other("injected failure"));
            }
        }
        self.inner.rename(from, to)
    }
    fn remove_all(&self, path: &str) -> std::io::Result<()> {
        self.inner.remove_all(path)
    }
    fn list(&self, path: &str) -> std::io::Result<Vec<Entry>> {
        self.inner.list(path)
    }
    fn exists(&self, path: &str) -> std::io::Result<bool> {
        self.inner.exists(path)
    }
    fn replace(&self, from: &str, to: &str) -> std::io::Result<()> {
        self.inner.replace(from, to)
    }
    fn open(&self, path: &str) -> std::io::Result<Box<dyn std::io::Read + Send>> {
        self.inner.open(path)
    }
    fn describe(&self, path: &str) -> String {
        self.inner.describe(path)
    }
}

/// 5,000 generated orders and options that write them as several files.
fn several_files_input(dir: &Path) -> (PathBuf, ConvertOptions) {
    let mut data = Vec::new();
    testdata_gen::OrderGen::new().with_seed(7).with_records(5_000).write_ndjson(&mut data).unwrap();
    let input = write(dir, "orders.ndjson", &data);
    let parquet = ParquetOptions { max_file_bytes: Some(64_000), row_group_rows: 500, ..ParquetOptions::default() };
    (input, ConvertOptions::new().with_parquet(parquet))
}

/// Regression: when a commit failed after renaming some data files into the dataset, those
/// files stayed published (without `_SUCCESS`), the staging folder was left behind, and the
/// next `Mode::Error` run refused the dataset as existing although nothing was committed.
#[test]

fn a_commit_that_fails_midway_leaves_nothing_published() {
    let dir = tempfile::tempdir().unwrap();
    let (input, opts) = several_files_input(dir.path());
    let out = dir.path().join("out");
    let ds = out.join("orders");
    let sink = Arc::new(FailingPublish { inner: LocalSink::new(&out), fail_at: 2, published: AtomicUsize::new(0) });
    let err = convert(&input, sink, opts.clone(), &|_, _| {}).unwrap_err();
    assert!(err.to_string().starts_with("cannot publish "), "{err}");
    let left = files(&ds);
    let published: Vec<&String> =
        left.iter().filter(|f| f.ends_with(".parquet") && !f.starts_with(TEMPORARY)).collect();
    assert_eq!(published, Vec::<&String>::new(), "data files visible without _SUCCESS; left: {left:?}");
    assert_eq!(left, Vec::<String>::new(), "nothing of the failed job may remain");

    let report = run(&input, &out, opts).unwrap();
    let m = manifest(&ds);
    let mut want: Vec<String> = m.files.iter().map(|f| f.path.clone()).collect();
    assert!(want.iter().all(|p| p.contains(&report.job_id)));
    want.extend([SUCCESS.to_owned(), MANIFEST.to_owned()]);
    want.sort();
    assert_eq!(files(&ds), want);
}

/// Regression: a job killed during its commit, after the first data file was renamed into
/// place, left that file in the dataset without `_SUCCESS`. The next `Mode::Error` run
/// refused the dataset ("already exists") although nothing was committed, and no later run
/// ever removed the orphan (an append would have kept it beside the manifest's files).
#[test]

fn a_commit_killed_after_its_first_rename_does_not_block_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let (input, opts) = several_files_input(dir.path());
    // The state a SIGKILL between the first and the second rename leaves: file 0 in place,
    // the others still staged, no manifest, no _SUCCESS.
    let scratch = dir.path().join("scratch");
    let dead = run(&input, &scratch, opts.clone()).unwrap();
    let out = dir.path().join("out");
    let ds = out.join("orders");
    let staged = ds.join(TEMPORARY).join(&dead.job_id);
    std::fs::create_dir_all(&staged).unwrap();
    for (i, f) in manifest(&scratch.join("orders")).files.iter().enumerate() {
        let to = if i == 0 { ds.join(&f.path) } else { staged.join(&f.path) };
        std::fs::rename(scratch.join("orders").join(&f.path), to).unwrap();
    }
    assert!(!ds.join(SUCCESS).exists());

    let report = run(&input, &out, opts).expect("nothing was committed, so mode error must accept the dataset");
    let m = manifest(&ds);
    let mut want: Vec<String> = m.files.iter().map(|f| f.path.clone()).collect();
    assert!(want.iter().all(|p| p.contains(&report.job_id)));
    want.extend([SUCCESS.to_owned(), MANIFEST.to_owned()]);
    want.sort();
    assert_eq!(files(&ds), want, "the dead job's files must be gone");
}

// ---------------------------------------------------------------------------------------
// Parquet key-value metadata
// ---------------------------------------------------------------------------------------

/// Regression: `idb.field_tags` joined field names with `.` without escaping, so a
/// top-level field `a.b` (a Date) and the field `b` of a struct `a` (a Blob) both became the
/// key `a.b`, and the Date's tag was lost: `{"a.b":"blob2"}`.
#[test]

fn field_tags_keep_a_dotted_name_apart_from_a_nested_path() {
    let dir = tempfile::tempdir().unwrap();
    let export = r#"{"formatName":"dexie","formatVersion":1,"data":{"databaseName":"db","databaseVersion":1,
        "tables":[{"name":"t","schema":"++id","rowCount":1}],
        "data":[{"tableName":"t","inbound":true,"rows":[{"id":1,"a.b":0,"a":{"b":{"type":"x/y","data":"AQI="}},
        "$types":{"a~1b":"date","a.b":"blob2"}}]}]}}"#;
    let input = write(dir.path(), "db.json", export.as_bytes());
    let out = dir.path().join("out");
    let report = run(&input, &out, ConvertOptions::new()).unwrap();
    let (b, kv) = read_parquet(&out.join("t").join(format!("part-00000-{}.zstd.parquet", report.job_id)));
    // The columns themselves are right: a Timestamp `a.b` and a Blob struct `a.b`.
    assert_eq!(ts(col(&b, "a.b").as_ref()), vec![Some(0)]);
    let blob = child(col(&b, "a").as_ref(), "b");
    assert_eq!(bins(child(blob.as_ref(), "data").as_ref()), vec![Some(vec![1, 2])]);
    let tags: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&kv["idb.field_tags"]).unwrap();
    let mut values: Vec<&str> = tags.values().map(|v| v.as_str().unwrap()).collect();
    values.sort();
    assert_eq!(values, vec!["blob2", "date"], "{tags:?}");
}
