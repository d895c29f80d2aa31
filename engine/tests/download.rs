//! Integration tests of downloads: every fixture is converted (with and without
//! partitioning) into its own temp dir, read back with `StoreReader`, and written as a
//! Dexie export, NDJSON, CSV and Parquet. The Dexie rows must equal the original
//! export's rows: as JSON values (object key order aside), and as the values a typeson
//! reviver restores from them, compared as `util.isDeepStrictEqual` would (the model
//! [`Js`] below is written independently of the engine's encoder).

use arrow::array::{
    Array, ArrayRef, BinaryArray, Date32Array, DictionaryArray, Float64Array, Int32Array, Int64Array, ListArray,
    RecordBatch, StringArray, StringViewArray, StructArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use base64::Engine as _;
use engine::{
    convert, download_store, write_download, ConvertOptions, DownloadFormat, DownloadOptions, DownloadWriter, Error,
    LocalSink, ReadOptions, Sink, StoreReader, SUCCESS,
};
use schema_infer::{InferOptions, KeySpec};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/fixtures");

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

// ----------------------------------------------------------------------------------------
// A JavaScript value model and a typeson reviver, for semantic comparison.
// ----------------------------------------------------------------------------------------

/// A revived value, compared as Node's `util.isDeepStrictEqual` compares (object key
/// order ignored, `Object.is` for numbers, typed arrays and DataViews by their bytes).
#[derive(Debug, Clone)]
enum Js {
    Undefined,
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    BigInt(String),
    /// `None`: an invalid Date.
    Date(Option<i64>),
    /// Elements (`None`: a hole) and properties that are not indexes.
    Array(Vec<Option<Js>>, Vec<(String, Js)>),
    Object(Vec<(String, Js)>),
    Map(Vec<(Js, Js)>),
    Set(Vec<Js>),
    Blob(String, Vec<u8>),
    File(String, Vec<u8>, Option<String>, Option<i64>),
    Buffer(Vec<u8>),
    /// Typed array: kind (`uint8array`, …) and the bytes it views.
    Typed(String, Vec<u8>),
    DataView(Vec<u8>),
    RegExp(String, String),
    Boxed(String, Box<Js>),
}

fn sorted(m: &[(String, Js)]) -> Vec<(&String, &Js)> {
    let mut v: Vec<_> = m.iter().map(|(k, v)| (k, v)).collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

impl PartialEq for Js {
    fn eq(&self, other: &Self) -> bool {
        use Js::*;
        match (self, other) {
            (Undefined, Undefined) | (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Num(a), Num(b)) => (a.is_nan() && b.is_nan()) || (a == b && a.is_sign_negative() == b.is_sign_negative()),
            (Str(a), Str(b)) | (BigInt(a), BigInt(b)) => a == b,
            (Date(a), Date(b)) => a == b,
            (Array(a, x), Array(b, y)) => a == b && sorted(x) == sorted(y),
            (Object(a), Object(b)) => sorted(a) == sorted(b),
            (Map(a), Map(b)) => a == b,
            (Set(a), Set(b)) => a == b,
            (Blob(t, a), Blob(u, b)) => t == u && a == b,
            (File(t, a, n, m), File(u, b, o, p)) => t == u && a == b && n == o && m == p,
            (Buffer(a), Buffer(b)) | (DataView(a), DataView(b)) => a == b,
            (Typed(k, a), Typed(l, b)) => k == l && a == b,
            (RegExp(a, b), RegExp(c, d)) => a == c && b == d,
            (Boxed(k, a), Boxed(l, b)) => k == l && a == b,
            _ => false,
        }
    }
}

fn unescape(c: &str) -> String {
    c.replace("~1", ".").replace("~0", "~")
}

fn esc(c: &str) -> String {
    c.replace('~', "~0").replace('.', "~1")
}

fn join(path: &str, comp: &str) -> String {
    if path.is_empty() {
        comp.to_owned()
    } else {
        format!("{path}.{comp}")
    }
}

fn at<'a>(root: &'a Value, path: &str) -> &'a Value {
    if path.is_empty() {
        return root;
    }
    let mut cur = root;
    for c in path.split('.') {
        cur = match cur {
            Value::Object(m) => &m[&unescape(c)],
            Value::Array(a) => &a[c.parse::<usize>().unwrap()],
            other => panic!("key path {path} goes through {other}"),
        };
    }
    cur
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn field<'a>(m: &'a [(String, Js)], k: &str) -> &'a Js {
    &m.iter().find(|(n, _)| n == k).unwrap_or_else(|| panic!("no {k} in {m:?}")).1
}

fn num(j: &Js) -> f64 {
    match j {
        Js::Num(n) => *n,
        other => panic!("not a number: {other:?}"),
    }
}

fn width(kind: &str) -> usize {
    match kind {
        "int8array" | "uint8array" | "uint8clampedarray" => 1,
        "int16array" | "uint16array" => 2,
        "int32array" | "uint32array" | "float32array" => 4,
        _ => 8,
    }
}

/// Revives the value at `path` of a typeson `root` with its `$types` (`None`: a hole).
fn revive(root: &Value, path: &str, types: &Map<String, Value>) -> Option<Js> {
    let v = at(root, path);
    let tags: Vec<String> = match types.get(path) {
        None => vec![],
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().map(|t| t.as_str().unwrap().to_owned()).collect(),
        Some(other) => panic!("bad $types entry {other}"),
    };
    if tags == ["#"] {
        let target = v.as_str().unwrap().strip_prefix('#').unwrap();
        return revive(root, target, types);
    }
    let mut js = match v {
        Value::Null => Js::Null,
        Value::Bool(b) => Js::Bool(*b),
        Value::Number(n) => Js::Num(n.as_f64().unwrap()),
        Value::String(s) => Js::Str(s.clone()),
        Value::Array(a) => {
            Js::Array((0..a.len()).map(|i| revive(root, &join(path, &i.to_string()), types)).collect(), vec![])
        }
        Value::Object(m) => Js::Object(
            m.keys().map(|k| (k.clone(), revive(root, &join(path, &esc(k)), types).unwrap_or(Js::Undefined))).collect(),
        ),
    };
    for tag in tags {
        js = match (tag.as_str(), js) {
            ("sparseUndefined", _) => return None,
            ("undef", _) => Js::Undefined,
            ("date", Js::Num(ms)) => Js::Date(Some(ms as i64)),
            ("date", Js::Str(s)) if s == "NaN" => Js::Date(None),
            ("nan", _) => Js::Num(f64::NAN),
            ("infinity", _) => Js::Num(f64::INFINITY),
            ("negativeInfinity", _) => Js::Num(f64::NEG_INFINITY),
            ("bigint", Js::Str(s)) => Js::BigInt(s),
            ("bigintObject", Js::Str(s)) => Js::Boxed("BigInt".into(), Box::new(Js::BigInt(s))),
            ("StringObject" | "NumberObject" | "BooleanObject", x) => Js::Boxed(tag.clone(), Box::new(x)),
            ("regexp", Js::Object(m)) => match (field(&m, "source"), field(&m, "flags")) {
                (Js::Str(s), Js::Str(f)) => Js::RegExp(s.clone(), f.clone()),
                other => panic!("bad regexp {other:?}"),
            },
            ("map", Js::Array(entries, _)) => Js::Map(
                entries
                    .into_iter()
                    .map(|e| match e {
                        Some(Js::Array(mut kv, _)) if kv.len() == 2 => {
                            let v = kv.pop().unwrap().unwrap_or(Js::Undefined);
                            (kv.pop().unwrap().unwrap_or(Js::Undefined), v)
                        }
                        other => panic!("bad map entry {other:?}"),
                    })
                    .collect(),
            ),
            ("set", Js::Array(items, _)) => Js::Set(items.into_iter().map(|x| x.unwrap_or(Js::Undefined)).collect()),
            ("arraybuffer", Js::Str(s)) => Js::Buffer(b64(&s)),
            ("dataview", Js::Object(m)) => {
                let Js::Str(enc) = field(&m, "encoded") else { panic!("dataview without encoded") };
                let (o, n) = (num(field(&m, "byteOffset")) as usize, num(field(&m, "byteLength")) as usize);
                Js::DataView(b64(enc)[o..o + n].to_vec())
            }
            ("blob2", Js::Object(m)) => match (field(&m, "type"), field(&m, "data")) {
                (Js::Str(t), Js::Str(d)) => Js::Blob(t.clone(), b64(d)),
                other => panic!("bad blob2 {other:?}"),
            },
            ("file", Js::Object(m)) => {
                let (Js::Str(t), Js::Str(contents)) = (field(&m, "type"), field(&m, "stringContents")) else {
                    panic!("bad file {m:?}")
                };
                let name = m.iter().find(|(k, _)| k == "name").and_then(|(_, v)| match v {
                    Js::Str(s) => Some(s.clone()),
                    _ => None,
                });
                let modified = m.iter().find(|(k, _)| k == "lastModified").map(|(_, v)| num(v) as i64);
                Js::File(t.clone(), contents.chars().map(|c| c as u32 as u8).collect(), name, modified)
            }
            ("arrayNonindexKeys", Js::Array(a, x)) => Js::Array(a, x),
            ("arrayNonindexKeys", Js::Object(m)) => {
                let len = num(field(&m, "length")) as usize;
                let mut items: Vec<Option<Js>> = vec![None; len];
                let mut extra = Vec::new();
                for (k, v) in m {
                    match k.parse::<usize>() {
                        Ok(i) if i.to_string() == k && i < len => items[i] = Some(v),
                        _ if k == "length" => {}
                        _ => extra.push((k, v)),
                    }
                }
                Js::Array(items, extra)
            }
            (typed, Js::Object(m)) if typed.contains("array") => {
                let kind = typed.trim_end_matches('2').to_owned();
                let buf = match m.iter().find(|(k, _)| k == "buffer" || k == "encoded").map(|(_, v)| v) {
                    Some(Js::Buffer(b)) => b.clone(),
                    Some(Js::Str(s)) => b64(s),
                    other => panic!("typed array without a buffer: {other:?}"),
                };
                let (o, n) = (num(field(&m, "byteOffset")) as usize, num(field(&m, "length")) as usize);
                Js::Typed(kind.clone(), buf[o..o + n * width(&kind)].to_vec())
            }
            (t, x) => panic!("tag {t} on {x:?} at {path}"),
        };
    }
    Some(js)
}

/// A row as typeson wrote it: (value, its `$types`).
fn unwrap_row(row: &Value) -> (Value, Map<String, Value>) {
    if let Value::Object(m) = row {
        match m.get("$types") {
            Some(Value::Object(t)) if m.contains_key("$") && matches!(t.get("$"), Some(Value::Object(_))) => {
                return (m["$"].clone(), t["$"].as_object().unwrap().clone());
            }
            Some(Value::Bool(true)) if m.contains_key("$") => return (m["$"].clone(), Map::new()),
            Some(Value::Object(t)) => {
                let mut v = m.clone();
                v.shift_remove("$types");
                return (Value::Object(v), t.clone());
            }
            _ => {}
        }
    }
    (row.clone(), Map::new())
}

/// The revived value of a typeson row (for out-of-line tables, the `[key, value]` tuple).
fn revive_row(row: &Value) -> Js {
    let (v, types) = unwrap_row(row);
    revive(&v, "", &types).unwrap()
}

/// What `JSON.stringify` gives for a revived value, with the download's choices for what
/// it cannot print (binary → base64, Maps → objects or `[key, value]` pairs, BigInt →
/// text). `None`: left out.
fn to_plain(j: &Js) -> Option<Value> {
    let b64e = |b: &[u8]| Value::String(base64::engine::general_purpose::STANDARD.encode(b));
    let n = |f: f64| {
        if f.is_finite() {
            json!(if f == 0.0 { 0.0 } else { f })
        } else {
            Value::Null
        }
    };
    let el = |x: &Js| to_plain(x).unwrap_or(Value::Null);
    Some(match j {
        Js::Undefined => return None,
        Js::Null | Js::Date(None) => Value::Null,
        Js::Bool(b) => json!(b),
        Js::Num(f) => n(*f),
        Js::Str(s) | Js::BigInt(s) => json!(s),
        Js::Date(Some(ms)) => {
            let secs = ms.div_euclid(1000);
            let (days, t) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
            let (y, m, d) = civil(days);
            json!(format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
                t / 3600,
                t / 60 % 60,
                t % 60,
                ms.rem_euclid(1000)
            ))
        }
        Js::Array(items, extra) if extra.is_empty() => {
            Value::Array(items.iter().map(|x| x.as_ref().map_or(Value::Null, el)).collect())
        }
        Js::Array(items, extra) => {
            let mut m = Map::new();
            for (i, x) in items.iter().enumerate() {
                if let Some(x) = x {
                    m.insert(i.to_string(), el(x));
                }
            }
            m.insert("length".into(), json!(items.len()));
            for (k, v) in extra {
                m.insert(k.clone(), el(v));
            }
            Value::Object(m)
        }
        Js::Object(m) => Value::Object(m.iter().filter_map(|(k, v)| Some((k.clone(), to_plain(v)?))).collect()),
        Js::Map(entries) if entries.iter().all(|(k, _)| matches!(k, Js::Str(_))) => Value::Object(
            entries.iter().map(|(k, v)| (if let Js::Str(s) = k { s.clone() } else { unreachable!() }, el(v))).collect(),
        ),
        Js::Map(entries) => Value::Array(entries.iter().map(|(k, v)| json!([el(k), el(v)])).collect()),
        Js::Set(items) => Value::Array(items.iter().map(el).collect()),
        Js::Blob(t, b) => json!({"type": t, "data": b64e(b)}),
        Js::File(t, b, name, lm) => json!({"type": t, "data": b64e(b), "name": name, "lastModified": lm}),
        Js::Buffer(b) | Js::DataView(b) => b64e(b),
        Js::Typed(kind, b) => Value::Array(
            b.chunks_exact(width(kind))
                .map(|c| match kind.as_str() {
                    "int8array" => json!(c[0] as i8),
                    "uint8array" | "uint8clampedarray" => json!(c[0]),
                    "int16array" => json!(i16::from_le_bytes([c[0], c[1]])),
                    "uint16array" => json!(u16::from_le_bytes([c[0], c[1]])),
                    "int32array" => json!(i32::from_le_bytes(c.try_into().unwrap())),
                    "uint32array" => json!(u32::from_le_bytes(c.try_into().unwrap())),
                    "float32array" => n(f32::from_le_bytes(c.try_into().unwrap()).into()),
                    _ => n(f64::from_le_bytes(c.try_into().unwrap())),
                })
                .collect(),
        ),
        Js::RegExp(s, f) => json!({"source": s, "flags": f}),
        Js::Boxed(_, x) => return to_plain(x),
    })
}

fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// JSON equality with numbers compared as doubles (`5` = `5.0`), object key order ignored.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

// ----------------------------------------------------------------------------------------
// Fixtures: convert, download, and the original export's rows.
// ----------------------------------------------------------------------------------------

/// An original table: its Dexie declaration (Dexie exports) and rows.
struct Table {
    name: String,
    schema: Option<String>,
    inbound: Option<bool>,
    rows: Vec<Value>,
}

struct Original {
    database: Option<(String, f64)>,
    tables: Vec<Table>,
}

/// Parses JSON that may hold lone UTF-16 surrogates (`\ud83d` unpaired), which
/// JavaScript strings may hold and serde_json refuses: each such escape is read as the
/// six characters of its escape. Applied to both sides of a comparison, equal texts
/// still mean equal escapes.
fn lenient(text: &str) -> Value {
    let b = text.as_bytes();
    let surrogate = |i: usize| -> Option<u16> {
        let hex = b.get(i + 2..i + 6).filter(|_| b.get(i + 1) == Some(&b'u'))?;
        let u = u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
        (0xD800..0xE000).contains(&u).then_some(u)
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut paired_low = false;
    while i < b.len() {
        if b[i] != b'\\' {
            let next = b[i..].iter().position(|&c| c == b'\\').map_or(b.len(), |k| i + k);
            out.push_str(&text[i..next]);
            i = next;
            paired_low = false;
            continue;
        }
        let lone = match surrogate(i) {
            Some(u) if u < 0xDC00 => surrogate(i + 6).is_none_or(|l| l < 0xDC00),
            Some(_) => !paired_low,
            None => false,
        };
        paired_low = surrogate(i).is_some_and(|u| u < 0xDC00) && !lone;
        if lone {
            out.push('\\');
        }
        let len = if b.get(i + 1) == Some(&b'u') { 6 } else { 2 };
        out.push_str(&text[i..i + len]);
        i += len;
    }
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn original(file: &str) -> Original {
    original_at(&fixture(file))
}

fn original_at(path: &Path) -> Original {
    let file = path.file_name().unwrap().to_str().unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    if file.ends_with(".ndjson") {
        let rows = text.lines().filter(|l| !l.is_empty()).map(lenient).collect();
        let name = file.trim_end_matches(".ndjson").to_owned();
        return Original { database: None, tables: vec![Table { name, schema: None, inbound: None, rows }] };
    }
    let v: Value = lenient(&text);
    if let Value::Array(rows) = v {
        let name = file.trim_end_matches(".json").to_owned();
        return Original { database: None, tables: vec![Table { name, schema: None, inbound: None, rows }] };
    }
    if v["formatName"] == "dexie" {
        let d = &v["data"];
        let tables = d["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let data = d["data"].as_array().unwrap().iter().find(|x| x["tableName"] == t["name"]).unwrap();
                Table {
                    name: t["name"].as_str().unwrap().to_owned(),
                    schema: Some(t["schema"].as_str().unwrap().to_owned()),
                    inbound: data["inbound"].as_bool(),
                    rows: data["rows"].as_array().unwrap().clone(),
                }
            })
            .collect();
        let db = (d["databaseName"].as_str().unwrap().to_owned(), d["databaseVersion"].as_f64().unwrap());
        return Original { database: Some(db), tables };
    }
    let tables = v
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, rows)| Table { name: k.clone(), schema: None, inbound: None, rows: rows.as_array().unwrap().clone() })
        .collect();
    Original { database: None, tables }
}

/// What each fixture is converted with: extra inference options, and partition terms
/// (identity terms on top-level columns drop the column from the files).
fn configs(file: &str) -> Vec<(InferOptions, Vec<&'static str>)> {
    let plain = InferOptions::new();
    match file {
        "dexie-alltags.json" => vec![(plain.clone(), vec![]), (plain, vec!["first"])],
        "dexie-shop.json" => vec![(plain.clone(), vec![]), (plain, vec!["day(created)", "status", "vip"])],
        "plain-shop.json" => vec![(plain.clone(), vec![]), (plain, vec!["customerId", "vip"])],
        "orders.ndjson" => {
            let ts = InferOptions::new().with_detect_timestamps(true);
            vec![(plain, vec![]), (ts, vec!["day(created)", "total"])]
        }
        "orders-array.json" => vec![(plain.clone(), vec![]), (plain, vec!["shipping.city", "bucket(4, id)", "status"])],
        "dexie-fidelity.json" => vec![(plain, vec![])],
        other => panic!("no configuration for fixture {other}: add it to configs()"),
    }
}

fn all_fixtures() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") || n.ends_with(".ndjson"))
        .collect();
    v.sort();
    v
}

fn converted(file: &str, infer: InferOptions, parts: &[&str], out: &Path) -> Arc<dyn Sink> {
    let sink: Arc<dyn Sink> = Arc::new(LocalSink::new(out));
    let opts =
        ConvertOptions::new().with_infer(infer).with_partition_by(parts.iter().map(|p| p.parse().unwrap()).collect());
    convert(&fixture(file), sink.clone(), opts, &|_, _| {}).unwrap();
    sink
}

fn download(sink: &Arc<dyn Sink>, store: &str, format: DownloadFormat) -> (Vec<u8>, engine::DownloadReport) {
    let r = StoreReader::open(sink.clone(), store, &ReadOptions::new()).unwrap();
    let mut out = Vec::new();
    let report = download_store(&r, format, &DownloadOptions::new(), &mut out).unwrap();
    assert_eq!(report.bytes, out.len() as u64);
    (out, report)
}

/// Rows whose JSON differs from the original export's, though they revive to the same
/// values: (fixture, table, the row's `name`) and why.
///
/// - `binary`: its DataView viewed 4 bytes of an 8-byte buffer; the Parquet column holds
///   the 4 bytes it views, so the download writes `{encoded: <4 bytes>, byteOffset: 0}`.
/// - `typed`: `window` and `sharedA` view part of a larger buffer (same as above), and
///   `sharedB`'s buffer was a `#` reference to `sharedA`'s: it is written as a copy of the
///   bytes it views (identity between two values of a record is not kept).
/// - `collections`: `sameB` was a `#` reference to `sameA`; it is written as a copy.
const NOT_JSON_EXACT: &[(&str, &str, &str)] = &[
    ("dexie-alltags.json", "things", "binary"),
    ("dexie-alltags.json", "things", "typed"),
    ("dexie-alltags.json", "things", "collections"),
];

/// (value as JSON, revived) of a downloaded row, unwrapping generated keys.
fn downloaded_value(t: &Table, row: &Value, index: usize) -> (Value, Js) {
    if t.schema.is_some() {
        return (row.clone(), revive_row(row));
    }
    let (tuple, types) = unwrap_row(row);
    assert_eq!(tuple[0], json!(index + 1), "{}: generated keys number the rows", t.name);
    // Every tag is on an array (plain JSON input has no other typeson types).
    for (p, tag) in &types {
        assert!(p.is_empty() || at(&tuple, p).is_array(), "{}: tag {tag} at {p}", t.name);
        assert_eq!(tag, "arrayNonindexKeys");
    }
    (tuple[1].clone(), revive(&tuple, "1", &types).unwrap())
}

fn row_name(row: &Value) -> Option<String> {
    let (v, _) = unwrap_row(row);
    v.get("name").and_then(Value::as_str).map(str::to_owned)
}

fn check_dexie(file: &str, orig: &Original, t: &Table, out: &[u8], ordered: bool) {
    assert!(out.iter().all(u8::is_ascii), "{file}.{}: the Dexie export is ASCII-only", t.name);
    let v: Value = lenient(std::str::from_utf8(out).unwrap());
    assert_eq!(v["formatName"], "dexie");
    assert_eq!(v["formatVersion"], 1);
    let d = &v["data"];
    // The importer reads the header before `data`: key order matters here.
    let keys: Vec<&String> = d.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["databaseName", "databaseVersion", "tables", "data"]);
    let rows = d["data"][0]["rows"].as_array().unwrap();
    assert_eq!(d["tables"][0]["name"], json!(t.name));
    assert_eq!(d["tables"][0]["rowCount"], json!(rows.len()), "{file}.{}: rowCount", t.name);
    assert_eq!(rows.len(), t.rows.len(), "{file}.{}: rows", t.name);
    assert_eq!(d["data"][0]["tableName"], json!(t.name));
    match (&orig.database, &t.schema) {
        (Some((name, version)), Some(schema)) => {
            assert_eq!(d["databaseName"], json!(name));
            assert_eq!(d["databaseVersion"].as_f64(), Some(*version));
            assert_eq!(d["tables"][0]["schema"], json!(schema), "{file}.{}: Dexie schema string", t.name);
            assert_eq!(d["data"][0]["inbound"].as_bool(), t.inbound, "{file}.{}: inbound", t.name);
        }
        _ => {
            // No declaration: out-of-line, auto-incremented keys.
            assert_eq!(d["tables"][0]["schema"], "++");
            assert_eq!(d["data"][0]["inbound"], false);
            assert_eq!(d["databaseName"], json!(t.name));
        }
    }
    let mut used = vec![false; t.rows.len()];
    for (i, row) in rows.iter().enumerate() {
        let (got_json, got) = downloaded_value(t, row, i);
        let j = if ordered {
            i
        } else {
            (0..t.rows.len())
                .find(|&j| !used[j] && revive_row(&t.rows[j]) == got)
                .unwrap_or_else(|| panic!("{file}.{} row {i}: no original row revives to {got:?}", t.name))
        };
        used[j] = true;
        let want_json = t.rows[j].clone();
        let want = revive_row(&want_json);
        assert_eq!(got, want, "{file}.{} row {i}: revived values differ", t.name);
        let exact = got_json == want_json;
        let name = row_name(&want_json);
        let expected_exact =
            !NOT_JSON_EXACT.iter().any(|(f, tb, n)| *f == file && *tb == t.name && Some(*n) == name.as_deref());
        assert_eq!(
            exact,
            expected_exact,
            "{file}.{} row {i} ({name:?}): JSON {}\n  got:  {got_json}\n  want: {want_json}",
            t.name,
            if expected_exact { "differs" } else { "is now exact: update NOT_JSON_EXACT" }
        );
    }
}

#[test]
fn every_fixture_round_trips_through_a_dexie_download() {
    let mut checked = 0;
    for file in all_fixtures() {
        let orig = original(&file);
        for (infer, parts) in configs(&file) {
            let dir = tempfile::tempdir().unwrap();
            let sink = converted(&file, infer, &parts, dir.path());
            for t in &orig.tables {
                let (out, report) = download(&sink, &t.name, DownloadFormat::Dexie);
                assert_eq!(report.rows, t.rows.len() as u64);
                assert!(report.warnings.is_empty(), "{:?}", report.warnings);
                check_dexie(&file, &orig, t, &out, parts.is_empty());
                checked += 1;
            }
        }
    }
    assert!(checked >= 16, "only {checked} tables checked");
}

/// The rows of an original table as revived values (tuples for out-of-line tables).
fn revived_originals(t: &Table) -> Vec<Js> {
    t.rows.iter().map(revive_row).collect()
}

#[test]
fn ndjson_and_csv_downloads_hold_the_plain_values() {
    for file in all_fixtures() {
        let orig = original(&file);
        let dir = tempfile::tempdir().unwrap();
        let sink = converted(&file, InferOptions::new(), &[], dir.path());
        for t in &orig.tables {
            let reader = StoreReader::open(sink.clone(), &t.name, &ReadOptions::new()).unwrap();
            let schema = reader.schema().clone();
            let expected: Vec<Value> = revived_originals(t)
                .iter()
                .map(|js| match (js, t.inbound) {
                    (Js::Array(kv, _), Some(false)) => {
                        let mut m = Map::new();
                        m.insert("__key".into(), to_plain(kv[0].as_ref().unwrap()).unwrap());
                        if let Some(v) = to_plain(kv[1].as_ref().unwrap_or(&Js::Undefined)) {
                            m.insert("__value".into(), v);
                        }
                        Value::Object(m)
                    }
                    (js, _) => to_plain(js).unwrap(),
                })
                .collect();

            let (out, report) = download(&sink, &t.name, DownloadFormat::Ndjson);
            let text = String::from_utf8(out).unwrap();
            let lines: Vec<Value> = text.lines().map(lenient).collect();
            assert_eq!((lines.len(), report.rows as usize), (expected.len(), expected.len()), "{file}.{}", t.name);
            for (i, (got, want)) in lines.iter().zip(&expected).enumerate() {
                assert!(json_eq(got, want), "{file}.{} line {i}:\n  got:  {got}\n  want: {want}", t.name);
            }

            // CSV: a header, then per row each column as text (nested values as JSON).
            let (out, report) = download(&sink, &t.name, DownloadFormat::Csv);
            let records = parse_csv(std::str::from_utf8(&out).unwrap());
            // Records kept whole in `__value` (no key column): their fields are the columns.
            let whole = schema.metadata().contains_key("idb.value_column") && schema.field_with_name("__key").is_err();
            let (fields, top): (Vec<Field>, bool) = match schema.field_with_name("__value").map(|f| f.data_type()) {
                Ok(DataType::Struct(children)) if whole => {
                    (children.iter().map(|f| f.as_ref().clone()).collect(), false)
                }
                _ => (schema.fields().iter().map(|f| f.as_ref().clone()).collect(), true),
            };
            let names: Vec<String> =
                fields.iter().map(|f| f.name().clone()).filter(|n| !top || n != schema_infer::NULLS_COLUMN).collect();
            assert_eq!(records[0].iter().map(|c| c.0.clone()).collect::<Vec<_>>(), names, "{file}.{} header", t.name);
            assert_eq!(records.len() - 1, expected.len(), "{file}.{} CSV rows", t.name);
            assert_eq!(report.rows as usize, expected.len());
            for (i, (rec, want)) in records[1..].iter().zip(&expected).enumerate() {
                assert_eq!(rec.len(), names.len());
                for ((cell, quoted), name) in rec.iter().zip(&names) {
                    let f = fields.iter().find(|f| f.name() == name).unwrap();
                    check_cell(cell, *quoted, want.get(name), f, &format!("{file}.{} row {i} {name}", t.name));
                }
            }
        }
    }
}

/// One CSV cell against the row's plain JSON value for that column.
fn check_cell(cell: &str, quoted: bool, want: Option<&Value>, f: &Field, at: &str) {
    let json_col = f.metadata().get(schema_infer::EXTENSION_NAME).is_some();
    match want {
        None | Some(Value::Null) => {
            // NaN and ±Infinity are spelled out in CSV (they are null in JSON).
            let special = ["NaN", "Infinity", "-Infinity"].contains(&cell) && f.data_type() == &DataType::Float64;
            assert!((cell.is_empty() && !quoted) || special, "{at}: expected an empty cell, got {cell:?}");
        }
        Some(v) if json_col || v.is_object() || v.is_array() => {
            let parsed: Value = lenient(cell);
            assert!(json_eq(&parsed, v), "{at}: {cell} is not {v}");
        }
        Some(Value::String(s)) => {
            assert_eq!(cell, s, "{at}");
            assert_eq!(quoted, s.is_empty() || s.contains([',', '"', '\n', '\r']), "{at}: quoting of {s:?}");
        }
        Some(Value::Number(n)) => assert_eq!(cell.parse::<f64>().ok(), n.as_f64(), "{at}: {cell}"),
        Some(Value::Bool(b)) => assert_eq!(cell, b.to_string(), "{at}"),
        Some(other) => panic!("{at}: unexpected {other}"),
    }
}

/// RFC 4180 records: each cell with whether it was quoted.
fn parse_csv(text: &str) -> Vec<Vec<(String, bool)>> {
    let mut out = Vec::new();
    let mut rec = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => in_quotes = false,
                c => cell.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                in_quotes = true;
                quoted = true;
            }
            ',' => rec.push((std::mem::take(&mut cell), std::mem::take(&mut quoted))),
            '\r' => {}
            '\n' => {
                rec.push((std::mem::take(&mut cell), std::mem::take(&mut quoted)));
                out.push(std::mem::take(&mut rec));
            }
            c => cell.push(c),
        }
    }
    assert!(rec.is_empty() && cell.is_empty(), "the CSV ends with a line break");
    out
}

#[test]
fn parquet_downloads_hold_the_stores_batches() {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    for file in ["dexie-alltags.json", "dexie-shop.json"] {
        let orig = original(file);
        let dir = tempfile::tempdir().unwrap();
        let sink = converted(file, InferOptions::new(), &[], dir.path());
        for t in &orig.tables {
            let reader = StoreReader::open(sink.clone(), &t.name, &ReadOptions::new()).unwrap();
            let batches: Vec<RecordBatch> = reader.batches().map(Result::unwrap).collect();
            let want = arrow::compute::concat_batches(reader.schema(), &batches).unwrap();
            let (out, report) = download(&sink, &t.name, DownloadFormat::Parquet);
            assert_eq!(report.rows as usize, t.rows.len());
            let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(out)).unwrap();
            let meta = builder.metadata().clone();
            let kv = meta.file_metadata().key_value_metadata().unwrap();
            let get = |k: &str| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone());
            assert_eq!(get("idb.store").as_deref(), Some(t.name.as_str()));
            assert!(get("idb.field_tags").is_some());
            for rg in meta.row_groups() {
                for c in rg.columns() {
                    assert!(matches!(c.compression(), parquet::basic::Compression::ZSTD(_)));
                }
            }
            let got: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
            let got = arrow::compute::concat_batches(&got[0].schema(), &got).unwrap();
            assert_eq!(got.num_rows(), want.num_rows());
            assert_eq!(got.schema().fields(), want.schema().fields(), "{file}.{}: fields and their metadata", t.name);
            for (a, b) in got.columns().iter().zip(want.columns()) {
                assert_eq!(a.as_ref(), b.as_ref(), "{file}.{}", t.name);
            }
        }
    }
}

#[test]
fn partition_columns_come_back_typed_and_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let sink = converted("plain-shop.json", InferOptions::new(), &["customerId", "vip"], dir.path());
    let orders = StoreReader::open(sink.clone(), "orders", &ReadOptions::new()).unwrap();
    // The files do not hold the column; the reader puts it back where the schema has it.
    let m = orders.manifest();
    assert!(m.files.iter().all(|f| f.path.starts_with("customerId=")));
    assert_eq!(orders.schema().field(0).name(), "customerId");
    let mut ids = Vec::new();
    for b in orders.batches() {
        let b = b.unwrap();
        assert_eq!(b.schema().field(0).name(), "customerId");
        let c = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        ids.extend(c.iter().map(Option::unwrap));
    }
    let mut want: Vec<i64> =
        original("plain-shop.json").tables[1].rows.iter().map(|r| r["customerId"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), want.len());
    ids.sort_unstable();
    want.sort_unstable();
    assert_eq!(ids, want);
}

#[test]
fn spooled_and_streamed_dexie_downloads_are_identical() {
    let dir = tempfile::tempdir().unwrap();
    let sink = converted("dexie-alltags.json", InferOptions::new(), &[], dir.path());
    for store in ["things", "kv", "pairs"] {
        let (streamed, _) = download(&sink, store, DownloadFormat::Dexie);
        let r = StoreReader::open(sink.clone(), store, &ReadOptions::new().with_batch_size(2)).unwrap();
        let mut spooled = Vec::new();
        let spool = tempfile::tempdir().unwrap();
        let opts = DownloadOptions::new().with_spool_dir(Some(spool.path().to_owned()));
        let report =
            write_download(DownloadFormat::Dexie, r.schema().clone(), r.batches(), &opts, &mut spooled).unwrap();
        assert_eq!(report.rows, r.rows());
        assert_eq!(String::from_utf8(spooled).unwrap(), String::from_utf8(streamed).unwrap(), "{store}");
        assert_eq!(std::fs::read_dir(spool.path()).unwrap().count(), 0, "the spool file is gone");
    }
}

#[test]
fn a_row_count_that_does_not_match_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let sink = converted("dexie-alltags.json", InferOptions::new(), &[], dir.path());
    let r = StoreReader::open(sink, "pairs", &ReadOptions::new()).unwrap();
    let opts = DownloadOptions::new().with_row_count(Some(5));
    let err = write_download(DownloadFormat::Dexie, r.schema().clone(), r.batches(), &opts, Vec::new()).unwrap_err();
    assert!(err.to_string().contains("rowCount 5, but 4 rows"), "{err}");
}

#[test]
fn uncommitted_datasets_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let sink = converted("dexie-shop.json", InferOptions::new(), &[], dir.path());
    std::fs::remove_file(dir.path().join("orders").join(SUCCESS)).unwrap();
    let err = StoreReader::open(sink.clone(), "orders", &ReadOptions::new()).unwrap_err();
    assert!(matches!(err, Error::Dataset { .. }));
    let msg = err.to_string();
    assert!(msg.contains("not committed") && msg.contains("--allow-uncommitted"), "{msg}");
    let r = StoreReader::open(sink.clone(), "orders", &ReadOptions::new().with_allow_uncommitted(true)).unwrap();
    assert!(!r.committed());
    assert_eq!(r.batches().map(|b| b.unwrap().num_rows()).sum::<usize>(), 50);
    // A store that is not there: the message lists the ones that are.
    let err = StoreReader::open(sink, "nope", &ReadOptions::new()).unwrap_err().to_string();
    assert!(
        err.contains("no dataset for store 'nope'") && err.contains("customers") && err.contains("orders"),
        "{err}"
    );
}

#[test]
fn a_damaged_data_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let sink = converted("dexie-shop.json", InferOptions::new(), &[], dir.path());
    let r = StoreReader::open(sink.clone(), "customers", &ReadOptions::new()).unwrap();
    let file = dir.path().join("customers").join(&r.manifest().files[0].path);
    std::fs::write(&file, b"PAR1 not really").unwrap();
    let err = r.batches().next().unwrap().unwrap_err();
    assert!(err.to_string().contains(file.file_name().unwrap().to_str().unwrap()), "{err}");
    let err = download_store(&r, DownloadFormat::Dexie, &DownloadOptions::new(), Vec::new()).unwrap_err();
    assert!(matches!(err, Error::Parquet { .. }), "{err}");
}

/// A hand-made store schema: one text column (with IndexedDB metadata) and a Blob.
fn text_and_blob(text: &str, blob: &[u8]) -> (Arc<Schema>, RecordBatch) {
    let blob_fields = vec![Field::new("type", DataType::Utf8, true), Field::new("data", DataType::Binary, true)];
    let schema = Arc::new(
        Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("s", DataType::Utf8, false),
            Field::new("b", DataType::Struct(blob_fields.clone().into()), false)
                .with_metadata([("idb.tag".to_owned(), "blob2".to_owned())].into()),
        ])
        .with_metadata(
            [("idb.store", "t"), ("idb.dexie_schema", "id"), ("idb.inbound", "true")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        ),
    );
    let blob = StructArray::new(
        blob_fields.into(),
        vec![Arc::new(StringArray::from(vec!["image/png"])), Arc::new(BinaryArray::from(vec![blob]))],
        None,
    );
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int64Array::from(vec![7])), Arc::new(StringArray::from(vec![text])), Arc::new(blob)],
    )
    .unwrap();
    (schema, batch)
}

#[test]
fn non_ascii_is_escaped_and_reads_back_the_same() {
    let text = "é ü 中文 😀 \u{2028} \u{7f} tab\t quote\" backslash\\ nul\u{0}";
    let (schema, batch) = text_and_blob(text, b"\x00\xff");
    let mut out = Vec::new();
    write_download(DownloadFormat::Dexie, schema, [Ok::<_, Error>(batch)], &DownloadOptions::new(), &mut out).unwrap();
    assert!(out.iter().all(u8::is_ascii));
    let v: Value = serde_json::from_slice(&out).unwrap();
    let row = &v["data"]["data"][0]["rows"][0];
    assert_eq!(row["s"], json!(text));
    assert_eq!(row["b"], json!({"type": "image/png", "data": "AP8="}));
    assert_eq!(row["$types"], json!({"b": "blob2"}));
    let s = String::from_utf8(out).unwrap();
    assert!(s.contains(r"\u00e9") && s.contains(r"\ud83d\ude00") && s.contains(r"\u2028"), "{s}");
}

#[test]
fn strings_longer_than_the_importer_reads_are_an_error_naming_the_row() {
    let (schema, batch) = text_and_blob("0123456789", b"");
    let opts = DownloadOptions::new().with_max_string(9);
    let err = write_download(DownloadFormat::Dexie, schema.clone(), [Ok::<_, Error>(batch.clone())], &opts, Vec::new())
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Download { row: 0, .. }), "{msg}");
    assert!(msg.contains("table 't'") && msg.contains("field 's'") && msg.contains("10 UTF-16 code units"), "{msg}");
    // The limit counts UTF-16 code units, as JavaScript does: 5 emoji are 10.
    let (schema, batch) = text_and_blob("😀😀😀😀😀", b"");
    assert!(write_download(DownloadFormat::Dexie, schema.clone(), [Ok::<_, Error>(batch.clone())], &opts, Vec::new())
        .is_err());
    let ok = DownloadOptions::new().with_max_string(10);
    assert!(write_download(DownloadFormat::Dexie, schema, [Ok::<_, Error>(batch)], &ok, Vec::new()).is_ok());
    // The default limit is the importer's 10 MiB.
    assert_eq!(engine::IMPORTER_MAX_STRING, 10 * 1024 * 1024);
}

#[test]
fn blobs_larger_than_the_importer_reads_are_written_with_a_warning_naming_the_record() {
    let (schema, batch) = text_and_blob("x", &[7u8; 12]);
    // 12 bytes are 16 base64 characters: above a limit of 15.
    let opts = DownloadOptions::new().with_max_string(15);
    let mut out = Vec::new();
    let report = write_download(DownloadFormat::Dexie, schema, [Ok::<_, Error>(batch)], &opts, &mut out).unwrap();
    assert_eq!(report.warnings.len(), 1);
    let w = &report.warnings[0];
    assert_eq!((w.table.as_str(), w.row, w.key.as_deref(), w.path.as_str()), ("t", 0, Some("7"), "b"));
    assert!(w.message.contains("a Blob of 12 bytes") && w.message.contains("16 characters"), "{}", w.message);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(b64(v["data"]["data"][0]["rows"][0]["b"]["data"].as_str().unwrap()), vec![7u8; 12]);
}

#[test]
fn columns_without_metadata_are_plain_values() {
    // What a query may hand over: no IndexedDB metadata, types a store never has.
    let item = Arc::new(Field::new("item", DataType::Int32, true));
    let schema = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int32, true),
        Field::new("s", DataType::Utf8View, true),
        Field::new("d", DataType::Date32, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
        Field::new("bin", DataType::Binary, true),
        Field::new("l", DataType::List(item.clone()), true),
        Field::new("dict", DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), true),
        Field::new("x", DataType::Float64, true),
    ]));
    let dict: DictionaryArray<Int32Type> = vec!["a", "b"].into_iter().collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![Some(1), None])),
        Arc::new(StringViewArray::from(vec![Some("x"), Some("")])),
        Arc::new(Date32Array::from(vec![Some(19_783), None])),
        Arc::new(TimestampMicrosecondArray::from(vec![Some(1_709_296_496_789_123), None]).with_timezone("UTC")),
        Arc::new(BinaryArray::from(vec![Some(&b"\x01\x02"[..]), None])),
        Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1), None]), None])),
        Arc::new(dict),
        Arc::new(Float64Array::from(vec![Some(f64::NAN), Some(-0.5)])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
    let mut out = Vec::new();
    let report = write_download(
        DownloadFormat::Dexie,
        schema.clone(),
        [Ok::<_, Error>(batch.clone())],
        &DownloadOptions::new(),
        &mut out,
    )
    .unwrap();
    assert_eq!((report.table.as_str(), report.rows), ("result", 2));
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["data"]["tables"][0], json!({"name": "result", "schema": "++", "rowCount": 2}));
    assert_eq!(v["data"]["databaseName"], "result");
    assert_eq!(v["data"]["databaseVersion"], 1);
    let rows = &v["data"]["data"][0]["rows"];
    assert_eq!(
        rows[0],
        json!({"$": [1, {"n": 1, "s": "x", "d": 1_709_251_200_000i64, "ts": 1_709_296_496_789i64, "bin": "AQI=",
                          "l": [1, null], "dict": "a", "x": "NaN"}],
               "$types": {"$": {"": "arrayNonindexKeys", "1.d": "date", "1.ts": "date", "1.bin": "arraybuffer",
                                "1.l": "arrayNonindexKeys", "1.x": "nan"}}})
    );
    assert_eq!(
        rows[1],
        json!({"$": [2, {"n": null, "s": "", "d": null, "ts": null, "bin": null, "l": null, "dict": "b", "x": -0.5}],
               "$types": {"$": {"": "arrayNonindexKeys"}}})
    );
    let mut out = Vec::new();
    write_download(DownloadFormat::Ndjson, schema, [Ok::<_, Error>(batch)], &DownloadOptions::new(), &mut out).unwrap();
    let lines: Vec<Value> =
        std::str::from_utf8(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        lines[0],
        json!({"n": 1, "s": "x", "d": "2024-03-01T00:00:00.000Z", "ts": "2024-03-01T12:34:56.789123Z", "bin": "AQI=",
               "l": [1, null], "dict": "a", "x": null})
    );
}

#[test]
fn source_errors_stop_the_download() {
    let (schema, batch) = text_and_blob("x", b"");
    let batches: Vec<Result<RecordBatch, std::io::Error>> = vec![Ok(batch), Err(std::io::Error::other("query failed"))];
    let err = write_download(DownloadFormat::Ndjson, schema, batches, &DownloadOptions::new(), Vec::new()).unwrap_err();
    assert!(matches!(&err, Error::Source(e) if e.to_string() == "query failed"), "{err}");
}

#[test]
fn inbound_rows_need_a_key_path_and_outbound_ones_none() {
    let (schema, batch) = text_and_blob("x", b"");
    let opts = DownloadOptions::new().with_dexie_schema("++");
    let err = DownloadWriter::new(DownloadFormat::Dexie, schema.clone(), &opts, Vec::new()).err().unwrap();
    assert!(err.to_string().contains("has no key path"), "{err}");
    let opts = DownloadOptions::new().with_inbound(false);
    let err = DownloadWriter::new(DownloadFormat::Dexie, schema.clone(), &opts, Vec::new()).err().unwrap();
    assert!(err.to_string().contains("has a key path"), "{err}");
    // Overrides: another table name, database and version.
    let opts = DownloadOptions::new().with_table_name("u").with_database_name("db2").with_database_version(4.0);
    let mut out = Vec::new();
    let mut w = DownloadWriter::new(DownloadFormat::Dexie, schema, &opts, &mut out).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!((&v["data"]["databaseName"], &v["data"]["databaseVersion"]), (&json!("db2"), &json!(4)));
    assert_eq!(v["data"]["tables"][0]["schema"], "id");
    assert!(KeySpec::parse("id").inbound());
}

#[test]
fn files_and_bad_json_text() {
    let file_fields: Vec<Field> = vec![
        Field::new("type", DataType::Utf8, true),
        Field::new("data", DataType::Binary, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("lastModified", DataType::Int64, true),
    ];
    let json_meta = [(schema_infer::EXTENSION_NAME.to_owned(), schema_infer::JSON_EXTENSION.to_owned())];
    let schema = Arc::new(Schema::new(vec![
        Field::new("f", DataType::Struct(file_fields.clone().into()), false)
            .with_metadata([("idb.tag".to_owned(), "file".to_owned())].into()),
        Field::new("j", DataType::Utf8, false).with_metadata(json_meta.into()),
    ]));
    let file = StructArray::new(
        file_fields.into(),
        vec![
            Arc::new(StringArray::from(vec!["text/plain"; 2])),
            Arc::new(BinaryArray::from(vec![&b"a\xe9\x00"[..]; 2])),
            Arc::new(StringArray::from(vec!["n\u{e9}.txt"; 2])),
            Arc::new(Int64Array::from(vec![1_700_000_000_000; 2])),
        ],
        None,
    );
    let json = StringArray::from(vec![r#"{"$":"NaN","$types":{"$":{"":"date"}}}"#, "{not json"]);
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(file), Arc::new(json)]).unwrap();
    let mut out = Vec::new();
    let err = write_download(
        DownloadFormat::Dexie,
        schema.clone(),
        [Ok::<_, Error>(batch.clone())],
        &DownloadOptions::new(),
        &mut out,
    )
    .unwrap_err();
    assert!(matches!(&err, Error::Download { row: 1, path, .. } if path == "1.j"), "{err}");
    assert!(err.to_string().contains("not JSON"), "{err}");
    // The first row alone: typeson-registry's `file`, the bytes as a binary string.
    let mut out = Vec::new();
    write_download(
        DownloadFormat::Dexie,
        schema,
        [Ok::<_, Error>(batch.slice(0, 1))],
        &DownloadOptions::new(),
        &mut out,
    )
    .unwrap();
    assert!(out.iter().all(u8::is_ascii));
    let v: Value = serde_json::from_slice(&out).unwrap();
    let row = &v["data"]["data"][0]["rows"][0];
    assert_eq!(
        revive_row(row),
        Js::Array(
            vec![
                Some(Js::Num(1.0)),
                Some(Js::Object(vec![
                    (
                        "f".into(),
                        Js::File(
                            "text/plain".into(),
                            b"a\xe9\x00".to_vec(),
                            Some("n\u{e9}.txt".into()),
                            Some(1_700_000_000_000)
                        )
                    ),
                    ("j".into(), Js::Date(None)),
                ])),
            ],
            vec![]
        )
    );
}

#[test]
fn typeson_root_forms_and_unicode_round_trip() {
    // A record with a `$types` key of its own is encapsulated by typeson (`{"$": …}`),
    // with `$types: true` when it has no tags; strings beyond ASCII and keys that need
    // escaping in key paths.
    let export = r#"{"formatName":"dexie","formatVersion":1,"data":{"databaseName":"edge \u00e9","databaseVersion":2.5,
      "tables":[{"name":"t\u00e9","schema":"++id,s","rowCount":4}],"data":[{"tableName":"t\u00e9","inbound":true,"rows":[
      {"$":{"id":1,"$types":"mine","d":1},"$types":{"$":{"d":"date"}}},
      {"$":{"id":2,"$types":"again"},"$types":true},
      {"id":3,"d":5,"s":"\u00e9\ud83d\ude00 \u2028 \"q\" \\ \u0001","k.e~y":{"a.b":"NaN"},"$types":{"d":"date","k~1e~0y.a~1b":"date"}},
      {"id":4,"s":"","k.e~y":{"a.b":0},"$types":{"k~1e~0y.a~1b":"date"}}
    ]}]}}"#;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("edge.json");
    std::fs::write(&input, export).unwrap();
    let orig = original_at(&input);
    let sink: Arc<dyn Sink> = Arc::new(LocalSink::new(dir.path().join("out")));
    convert(&input, sink.clone(), ConvertOptions::new(), &|_, _| {}).unwrap();
    let (out, report) = download(&sink, "t\u{e9}", DownloadFormat::Dexie);
    assert_eq!(report.rows, 4);
    check_dexie("edge.json", &orig, &orig.tables[0], &out, true);
}

/// Converts `text` (written to `name` in a temp dir) and returns the dir, the sink and
/// the report.
fn converted_text(name: &str, text: &str) -> (tempfile::TempDir, Arc<dyn Sink>, engine::ConvertReport) {
    converted_parts(name, text, &[])
}

/// [`converted_text`], partitioned by `parts`.
fn converted_parts(
    name: &str,
    text: &str,
    parts: &[&str],
) -> (tempfile::TempDir, Arc<dyn Sink>, engine::ConvertReport) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(name);
    std::fs::write(&input, text).unwrap();
    let sink: Arc<dyn Sink> = Arc::new(LocalSink::new(dir.path().join("out")));
    let opts = ConvertOptions::new().with_partition_by(parts.iter().map(|p| p.parse().unwrap()).collect());
    let report = convert(&input, sink.clone(), opts, &|_, _| {}).unwrap();
    (dir, sink, report)
}

/// Converts a one-table Dexie export and requires its Dexie download to equal it.
fn dexie_round_trip(rows: &str) {
    let export = format!(
        r#"{{"formatName":"dexie","formatVersion":1,"data":{{"databaseName":"m","databaseVersion":1,"tables":[{{"name":"t","schema":"id","rowCount":{n}}}],"data":[{{"tableName":"t","inbound":true,"rows":[{rows}]}}]}}}}"#,
        n = rows.matches("{\"id\"").count()
    );
    let (dir, sink, report) = converted_text("m.json", &export);
    assert_eq!(report.stores[0].counts.rejected, 0, "{rows}");
    let orig = original_at(&dir.path().join("m.json"));
    let (out, _) = download(&sink, "t", DownloadFormat::Dexie);
    check_dexie("m.json", &orig, &orig.tables[0], &out, true);
}

/// Issue 14, round-trip findings N1 and N2: a Map keyed by a Map made `convert` panic
/// (a Map key's JSON-text flag leaked to the Map's value column), and a Map keyed by
/// a Date and a string rejected its record (its keys were taken for a utf8 column).
#[test]
fn issue14_maps_with_keys_of_mixed_or_nested_types_are_json_text() {
    dexie_round_trip(
        r#"{"id":0},{"id":1,"a":[[[[[],1]],2]],"$types":{"a":"map","a.0":"arrayNonindexKeys","a.0.0":"map","a.0.0.0":"arrayNonindexKeys","a.0.0.0.0":"arrayNonindexKeys"}}"#,
    );
    dexie_round_trip(
        r#"{"id":1,"a":[[0,1],["a",2]],"$types":{"a":"map","a.0":"arrayNonindexKeys","a.0.0":"date","a.1":"arrayNonindexKeys"}}"#,
    );
}

/// Issue 14, round-trip finding N10: a record kept whole in `__value` (a field named
/// `__key`) with a tagged field was rejected ("field '$types' is not in the schema").
#[test]
fn issue14_records_kept_whole_keep_their_tags() {
    dexie_round_trip(r#"{"id":1,"__key":0,"$types":{"__key":"date"}},{"id":2,"__key":"k"}"#);
}

/// Issue 14, round-trip finding N7: the typeson in dexie-export-import writes the empty
/// key as an empty keypath component (`x.`); idbsync wrote `x.''`, which stock
/// `importInto` does not revive.
#[test]
fn issue14_tags_under_an_empty_key_keep_the_exporters_keypath() {
    dexie_round_trip(r#"{"id":1,"x":{"":0},"$types":{"x.":"date"}},{"id":2,"x":{"''":0},"$types":{"x.''":"date"}}"#);
}

/// Issue 14, round-trip findings N11, N14, N15, N6: -0 came back 0 in NDJSON; a
/// one-line `.ndjson` file `{"a":[1,2]}` was read as a `{store: [records]}` dump; an
/// identity partition on the only column left files without columns (and rows); a
/// partitioned store whose every record was rejected could not be downloaded.
#[test]
fn issue14_ndjson_edge_cases_round_trip() {
    let (_d, sink, _) = converted_text("z.ndjson", "{\"a\":-0}\n");
    let (out, _) = download(&sink, "z", DownloadFormat::Ndjson);
    assert_eq!(String::from_utf8(out).unwrap(), "{\"a\":-0}\n");
    let (_d, sink, _) = converted_text("one.ndjson", "{\"a\":[1,2]}");
    assert_eq!(ndjson_lines(&sink, "one"), vec![json!({"a": [1, 2]})]);
    let (_d, sink, _) = converted_parts("only.ndjson", "{\"c\":1}\n{\"c\":2}\n", &["c"]);
    assert_eq!(ndjson_lines(&sink, "only"), vec![json!({"c": 1}), json!({"c": 2})]);
    let (_d, sink, report) = converted_parts("bad.ndjson", "{\"c\":1,\"d\":1}\n{\"c\":2,\"d\":1\n", &["c"]);
    assert_eq!((report.stores[0].counts.written, report.stores[0].counts.rejected), (1, 1));
    assert_eq!(ndjson_lines(&sink, "bad"), vec![json!({"c": 1, "d": 1})]);
    // Undecodable base64: valid for inference (which types it), rejected by the decoder.
    let export = r#"{"formatName":"dexie","formatVersion":1,"data":{"databaseName":"m","databaseVersion":1,"tables":[{"name":"t","schema":"id","rowCount":1}],"data":[{"tableName":"t","inbound":true,"rows":[{"id":1,"c":1,"b":"@@@@","$types":{"b":"arraybuffer"}}]}]}}"#;
    let (_d, sink, report) = converted_parts("m.json", export, &["c"]);
    assert_eq!((report.stores[0].counts.written, report.stores[0].counts.rejected), (0, 1));
    assert_eq!(ndjson_lines(&sink, "t"), Vec::<Value>::new());
}

/// Issue 14, round-trip finding N4: an identity partition on a struct, list or Map
/// column (or on the `__idb_nulls` side column) was accepted, and the dataset could not
/// be downloaded: it is refused, naming the column.
#[test]
fn issue14_nested_columns_are_no_partition() {
    let dir = tempfile::tempdir().unwrap();
    for (line, why) in [
        ("{\"c\":{\"x\":1},\"d\":1}", "it is a struct"),
        ("{\"c\":[1],\"d\":1}", "it is a list"),
        ("{\"c\":null,\"d\":1}\n{\"c\":\"\",\"d\":1}\n{\"d\":1}", "it is a Map"),
        ("{\"c\":1,\"__key\":1}", "it is idbsync's column of whole records"),
        (
            r#"{"formatName":"dexie","formatVersion":1,"data":{"databaseName":"m","databaseVersion":1,"tables":[{"name":"n","schema":"id","rowCount":1}],"data":[{"tableName":"n","inbound":true,"rows":[{"id":1,"c":"AAE=","$types":{"c":"arraybuffer"}}]}]}}"#,
            "it is binary data",
        ),
    ] {
        let input = dir.path().join(if line.starts_with("{\"formatName\"") { "n.json" } else { "n.ndjson" });
        std::fs::write(&input, line).unwrap();
        let term = match why {
            "it is a Map" => "__idb_nulls",
            w if w.contains("whole records") => "__value",
            _ => "c",
        };
        let sink: Arc<dyn Sink> = Arc::new(LocalSink::new(dir.path().join("out")));
        let opts = ConvertOptions::new().with_partition_by(vec![term.parse().unwrap()]);
        let err = convert(&input, sink, opts, &|_, _| {}).unwrap_err();
        let err: Vec<String> = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
            .map(|e| e.to_string())
            .collect();
        let err = err.join(": ");
        assert!(err.contains(&format!("cannot partition by '{term}': {why}")), "{err}");
    }
}

fn ndjson_lines(sink: &Arc<dyn Sink>, store: &str) -> Vec<Value> {
    let (out, _) = download(sink, store, DownloadFormat::Ndjson);
    String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Issue 14: every record of the fidelity fixture is written, none rejected (before
/// the fix, fields that only held `{}` rejected every settings row, a lone surrogate was
/// written as U+FFFD, and the out-of-line table of `{}` records lost nothing only
/// because of its key column). The Dexie round trip of the fixture is checked with
/// the other fixtures; here the counts and the plain downloads.
#[test]
fn issue14_the_fidelity_fixture_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let sink: Arc<dyn Sink> = Arc::new(LocalSink::new(dir.path()));
    let report = convert(&fixture("dexie-fidelity.json"), sink.clone(), ConvertOptions::new(), &|_, _| {}).unwrap();
    for s in &report.stores {
        assert_eq!((s.counts.rejected, s.counts.written), (0, s.counts.read), "{}", s.store);
    }
    assert_eq!(
        ndjson_lines(&sink, "settings"),
        vec![
            json!({"id": "a", "prefs": {}, "meta": {"tags": {}}}),
            json!({"id": "b", "prefs": {}, "meta": {"tags": {}}})
        ]
    );
    // Lone surrogates come back as the same escapes (serde_json cannot hold them: compare text).
    let (out, _) = download(&sink, "notes", DownloadFormat::Ndjson);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(r#""text":"half emoji \ud83d""#), "{text}");
    assert!(text.contains(r#""also":["\ud800","x\udfff\ud800y"]"#), "{text}");
    assert!(!text.contains('\u{FFFD}'), "{text}");
}

/// Issue 14, case 4: a record with a field named like one of idbsync's own columns was
/// downloaded as NDJSON (and CSV) wrapped in `{"__value": …}`.
#[test]
fn issue14_fields_named_like_side_columns_download_as_the_record() {
    let lines = "{\"id\":1,\"__key\":\"k\"}\n{\"id\":2,\"__idb_nulls\":\"n\"}\n{\"id\":3,\"__value\":5}\n";
    let (_dir, sink, _) = converted_text("collide.ndjson", lines);
    let want: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(ndjson_lines(&sink, "collide"), want);
    let (out, _) = download(&sink, "collide", DownloadFormat::Csv);
    assert_eq!(String::from_utf8(out).unwrap(), "id,__key,__idb_nulls,__value\r\n1,k,,\r\n2,,n,\r\n3,,,5\r\n");
}

/// Issue 14, case 2: a store of `{}` records was committed with rows its Parquet file
/// did not hold, and the records were gone.
#[test]
fn issue14_stores_of_empty_records_keep_their_rows() {
    let (_dir, sink, report) = converted_text("empty.ndjson", "{}\n{}\n");
    assert_eq!(report.stores[0].counts.written, 2);
    assert_eq!(ndjson_lines(&sink, "empty"), vec![json!({}), json!({})]);
    let (out, r) = download(&sink, "empty", DownloadFormat::Dexie);
    assert_eq!(r.rows, 2);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["data"]["data"][0]["rows"].as_array().map(Vec::len), Some(2), "{v}");
}
