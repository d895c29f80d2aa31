//! End-to-end checks of the NDJSON and Dexie outputs with an independent JSON parser.

use serde_json::{Map, Value};
use testdata_gen::{Format, OrderGen, Shape};

fn bytes(gen: &OrderGen, format: Format) -> Vec<u8> {
    let mut v = Vec::new();
    let n = gen.write(format, &mut v).unwrap();
    assert_eq!(n, v.len() as u64);
    v
}

fn ndjson_records(gen: &OrderGen) -> Vec<Map<String, Value>> {
    let out = bytes(gen, Format::Ndjson);
    let text = std::str::from_utf8(&out).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'));
    text.lines()
        .enumerate()
        .map(|(i, line)| match serde_json::from_str(line) {
            Ok(Value::Object(m)) => m,
            other => panic!("line {}: {other:?}", i + 1),
        })
        .collect()
}

fn dexie_doc(gen: &OrderGen) -> Value {
    serde_json::from_slice(&bytes(gen, Format::Dexie)).unwrap()
}

/// Epoch ms → `YYYY-MM-DDTHH:MM:SS.mmmZ`, by a naive year/month walk (independent of
/// the generator's algorithm).
fn iso(ms: i64) -> String {
    let mut days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut year = 1970;
    while days >= if leap(year) { 366 } else { 365 } {
        days -= if leap(year) { 366 } else { 365 };
        year += 1;
    }
    let lens = [31, if leap(year) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 0;
    while days >= lens[month] {
        days -= lens[month];
        month += 1;
    }
    format!(
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        month + 1,
        days + 1,
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    for format in [Format::Ndjson, Format::Dexie] {
        let a = bytes(&OrderGen::new().with_seed(7).with_records(2000), format);
        let b = bytes(&OrderGen::new().with_seed(7).with_records(2000), format);
        let c = bytes(&OrderGen::new().with_seed(8).with_records(2000), format);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}

#[test]
fn default_seed_is_42() {
    let a = bytes(&OrderGen::new().with_records(50), Format::Ndjson);
    let b = bytes(&OrderGen::new().with_seed(42).with_records(50), Format::Ndjson);
    assert_eq!(a, b);
}

#[test]
fn every_ndjson_line_parses_with_stable_field_order() {
    let recs = ndjson_records(&OrderGen::new().with_records(5000));
    assert_eq!(recs.len(), 5000);
    const FIXED: [&str; 9] =
        ["id", "customerId", "created", "status", "currency", "total", "items", "shipping", "tags"];
    for (i, r) in recs.iter().enumerate() {
        let keys: Vec<&str> = r.keys().map(String::as_str).collect();
        assert_eq!(keys[..9], FIXED, "record {}", i + 1);
        assert_eq!(r["id"], i as u64 + 1);
        for date in [&r["created"], &r["shipping"]["eta"]] {
            let s = date.as_str().unwrap();
            assert_eq!(s.len(), 24, "{s}");
            assert!(s.ends_with('Z') && s.as_bytes()[19] == b'.', "{s}");
        }
        let items = r["items"].as_array().unwrap();
        assert!((1..=5).contains(&items.len()));
        assert!(r["tags"].as_array().unwrap().len() <= 4);
        let ship = r["shipping"].as_object().unwrap();
        assert_eq!(ship.keys().collect::<Vec<_>>(), ["city", "zip", "method", "eta"]);
    }
    let avg =
        recs.iter().map(|r| serde_json::to_string(r).unwrap().len() + 1).sum::<usize>() as f64 / recs.len() as f64;
    assert!((370.0..420.0).contains(&avg), "{avg}");
}

#[test]
fn drift_is_present_but_rare() {
    let recs = ndjson_records(&OrderGen::new().with_records(10_000));
    let count = |f: &dyn Fn(&Map<String, Value>) -> bool| recs.iter().filter(|r| f(r)).count();
    let qty_str = count(&|r| r["items"].as_array().unwrap().iter().any(|i| i["qty"].is_string()));
    let zip_num = count(&|r| r["shipping"]["zip"].is_number());
    let total_int = count(&|r| r["total"].is_u64());
    let coupon = count(&|r| r.contains_key("coupon"));
    assert!((50..200).contains(&qty_str), "{qty_str}");
    assert!((50..200).contains(&zip_num), "{zip_num}");
    assert!((50..200).contains(&total_int), "{total_int}");
    assert!((2_500..3_500).contains(&coupon), "{coupon}");
    // customerId is an integer everywhere but in the very last record.
    let cust_str: Vec<usize> = (0..recs.len()).filter(|&i| recs[i]["customerId"].is_string()).collect();
    assert_eq!(cust_str, [recs.len() - 1]);
}

#[test]
fn late_key_only_in_last_record_and_gift_message_only_in_last_tenth() {
    for n in [1, 2, 10, 999, 3000] {
        let recs = ndjson_records(&OrderGen::new().with_seed(n).with_records(n));
        let late: Vec<usize> = (0..recs.len()).filter(|&i| recs[i].contains_key("lateKey")).collect();
        assert_eq!(late, [n as usize - 1], "n={n}");
        let first_gift = recs.iter().position(|r| r.contains_key("giftMessage")).unwrap();
        assert!(first_gift as u64 >= n - n.div_ceil(10), "n={n}: first at {first_gift}");
    }
}

#[test]
fn dexie_export_parses_and_row_count_matches() {
    let n = 3000;
    let raw = bytes(&OrderGen::new().with_records(n), Format::Dexie);
    // One row per line, rows joined by ",\n" like dexie-export-import.
    assert_eq!(raw.iter().filter(|&&b| b == b'\n').count() as u64, n - 1);
    let doc: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(doc["formatName"], "dexie");
    assert_eq!(doc["formatVersion"], 1);
    let data = &doc["data"];
    assert_eq!(data["databaseName"], "shop");
    assert_eq!(data["databaseVersion"], 1);
    let table = &data["tables"][0];
    assert_eq!(table["name"], "orders");
    assert_eq!(table["schema"], "++id,customerId,created,*tags");
    assert_eq!(table["rowCount"], n);
    let t = &data["data"][0];
    assert_eq!(t["tableName"], "orders");
    assert_eq!(t["inbound"], true);
    let rows = t["rows"].as_array().unwrap();
    assert_eq!(rows.len() as u64, n);
    for row in rows {
        let m = row.as_object().unwrap();
        assert_eq!(m.keys().next_back().unwrap(), "$types");
        assert!(m["created"].is_u64() && m["shipping"]["eta"].is_u64());
    }
}

#[test]
fn ndjson_and_dexie_carry_the_same_records() {
    for shape in Shape::ALL {
        let gen = OrderGen::new().with_shape(shape).with_seed(3).with_records(4000);
        let nd = ndjson_records(&gen);
        let doc = dexie_doc(&gen);
        let table = &doc["data"]["data"][0];
        assert_eq!(table["tableName"], shape.store(), "{shape}");
        assert_eq!(doc["data"]["tables"][0]["rowCount"], 4000, "{shape}");
        let rows = table["rows"].as_array().unwrap();
        assert_eq!(rows.len(), nd.len(), "{shape}");
        for (i, (row, rec)) in rows.iter().zip(&nd).enumerate() {
            let row = undo_types(row, &format!("{shape} row {i}"));
            // Same keys in the same order, same values.
            assert_eq!(
                serde_json::to_string(&row).unwrap(),
                serde_json::to_string(rec).unwrap(),
                "{shape} record {}",
                i + 1
            );
        }
    }
}

/// A Dexie row with its `$types` (all `date`) removed and each tagged value turned into
/// the ISO string NDJSON has.
fn undo_types(row: &Value, what: &str) -> Map<String, Value> {
    let mut row = row.as_object().unwrap().clone();
    let Some(Value::Object(types)) = row.remove("$types") else {
        return row;
    };
    assert!(!types.is_empty(), "{what}: empty $types");
    for (path, ty) in &types {
        assert_eq!(ty, "date", "{what}");
        let mut parts = path.split('.');
        let mut slot: &mut Value = row.get_mut(parts.next().unwrap()).unwrap();
        for part in parts {
            slot = slot.get_mut(part).unwrap();
        }
        *slot = Value::String(iso(slot.as_i64().unwrap()));
    }
    row
}

#[test]
fn every_shape_is_deterministic_for_a_seed() {
    for shape in Shape::ALL {
        for format in [Format::Ndjson, Format::Dexie] {
            let gen = |seed| OrderGen::new().with_shape(shape).with_seed(seed).with_records(1500);
            let a = bytes(&gen(7), format);
            assert_eq!(a, bytes(&gen(7), format), "{shape} {format:?}");
            assert_ne!(a, bytes(&gen(8), format), "{shape} {format:?}");
        }
    }
}

#[test]
fn shapes_differ_and_the_default_is_orders() {
    let mut seen = Vec::new();
    for shape in Shape::ALL {
        let out = bytes(&OrderGen::new().with_shape(shape).with_records(300), Format::Ndjson);
        assert!(!seen.contains(&out), "{shape} repeats another shape");
        seen.push(out);
    }
    assert_eq!(OrderGen::new(), OrderGen::new().with_shape(Shape::Orders));
    assert_eq!(Shape::default(), Shape::Orders);
}

#[test]
fn every_shape_writes_its_size() {
    for shape in Shape::ALL {
        for format in [Format::Ndjson, Format::Dexie] {
            // 4 MB asked: within 5% at this size (the per-record averages are from 1M records).
            let gen = OrderGen::new().with_shape(shape).with_target_size(4_000_000, format);
            let n = bytes(&gen, format).len() as f64;
            assert!(
                (3_800_000.0..4_200_000.0).contains(&n),
                "{shape} {format:?}: {n} bytes for {} records",
                gen.records()
            );
        }
    }
}

/// Each key and the index of the first record that has it, in first-seen order.
fn first_seen(recs: &[Map<String, Value>]) -> Vec<(String, usize)> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        for k in r.keys() {
            if seen.insert(k.clone()) {
                out.push((k.clone(), i));
            }
        }
    }
    out
}

#[test]
fn orders_steady_has_no_late_key_and_no_type_change() {
    let recs = ndjson_records(&OrderGen::new().with_shape(Shape::OrdersSteady).with_records(5000));
    // Every key is seen in the first 100 records; customerId is an integer throughout.
    let late: Vec<(String, usize)> = first_seen(&recs).into_iter().filter(|(_, i)| *i >= 100).collect();
    assert_eq!(late, []);
    assert!(recs.iter().all(|r| r["customerId"].is_u64() && !r.contains_key("lateKey")));
    assert!(recs[0].contains_key("giftMessage"));
}

#[test]
fn orders_late_has_a_key_of_the_last_percent_and_a_type_change_in_the_last_record() {
    let n = 5000;
    let recs = ndjson_records(&OrderGen::new().with_shape(Shape::OrdersLate).with_records(n));
    let late: Vec<usize> = (0..recs.len()).filter(|&i| recs[i].contains_key("lateKey")).collect();
    assert_eq!(late, (4950..5000).collect::<Vec<_>>());
    let late_keys: Vec<(String, usize)> = first_seen(&recs).into_iter().filter(|(_, i)| *i >= 100).collect();
    assert_eq!(late_keys, [("lateKey".to_owned(), 4950)]);
    let last = recs.last().unwrap();
    assert!(last["customerId"].is_string());
    assert!(recs[..recs.len() - 1].iter().all(|r| r["customerId"].is_u64()));
    // The rest is orders-steady's: the same records up to the late window.
    let steady = ndjson_records(&OrderGen::new().with_shape(Shape::OrdersSteady).with_records(n));
    assert_eq!(recs[..4950], steady[..4950]);
}

#[test]
fn empty_output() {
    let gen = OrderGen::new().with_records(0);
    assert!(bytes(&gen, Format::Ndjson).is_empty());
    let doc = dexie_doc(&gen);
    assert_eq!(doc["data"]["tables"][0]["rowCount"], 0);
    assert!(doc["data"]["data"][0]["rows"].as_array().unwrap().is_empty());
}

/// The JSON type of a value, numbers as one type (integral or not: numeric widening).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[test]
fn the_shapes_beyond_orders_keep_every_top_level_type_and_see_every_key_early() {
    for shape in [Shape::WideSparse, Shape::Logs, Shape::Telemetry, Shape::Nested] {
        let recs = ndjson_records(&OrderGen::new().with_shape(shape).with_records(5000));
        let mut types = std::collections::HashMap::new();
        for (i, r) in recs.iter().enumerate() {
            for (k, v) in r {
                let t = *types.entry(k.clone()).or_insert(kind(v));
                assert_eq!(t, kind(v), "{shape}: {k} changes type in record {}", i + 1);
            }
        }
        let late: Vec<(String, usize)> = first_seen(&recs).into_iter().filter(|(_, i)| *i >= 1000).collect();
        assert_eq!(late, [], "{shape}");
    }
}

#[test]
fn wide_sparse_has_200_optional_keys_each_in_about_5_percent() {
    let n = 20_000;
    let recs = ndjson_records(&OrderGen::new().with_shape(Shape::WideSparse).with_records(n));
    let mut count = std::collections::BTreeMap::<String, usize>::new();
    for r in &recs {
        assert!(r["id"].is_u64() && r["updated"].is_string());
        for k in r.keys().filter(|k| k.starts_with("attr_")) {
            *count.entry(k.clone()).or_default() += 1;
        }
    }
    assert_eq!(count.len(), 200);
    assert_eq!(count.keys().next().unwrap(), "attr_000");
    assert_eq!(count.keys().next_back().unwrap(), "attr_199");
    // 5% of 20,000 = 1,000 ± 31 (one standard deviation).
    for (k, c) in &count {
        assert!((850..1150).contains(c), "{k}: in {c} of {n} records");
    }
    let per_record = count.values().sum::<usize>() as f64 / n as f64;
    assert!((9.5..10.5).contains(&per_record), "{per_record}");
}

#[test]
fn logs_are_string_heavy_with_many_distinct_values() {
    let recs = ndjson_records(&OrderGen::new().with_shape(Shape::Logs).with_records(5000));
    let distinct = |key: &str| {
        recs.iter()
            .filter_map(|r| r.get(key))
            .map(|v| v.as_str().unwrap().to_owned())
            .collect::<std::collections::HashSet<_>>()
            .len()
    };
    for (key, at_least) in
        [("host", 3000), ("path", 3000), ("userAgent", 2000), ("ip", 4900), ("traceId", 5000), ("message", 2500)]
    {
        assert!(distinct(key) >= at_least, "{key}: {} distinct", distinct(key));
    }
    let lens: Vec<usize> = recs.iter().map(|r| r["message"].as_str().unwrap().chars().count()).collect();
    assert!(*lens.iter().min().unwrap() < 40 && *lens.iter().max().unwrap() > 800, "{lens:?}");
    let strings: usize = recs.iter().map(|r| r.values().filter_map(Value::as_str).map(str::len).sum::<usize>()).sum();
    let total: usize = recs.iter().map(|r| serde_json::to_string(r).unwrap().len()).sum();
    // String values are most of the bytes (the rest: keys, quotes, numbers).
    assert!(strings * 10 > total * 6, "string bytes {strings} of {total}");
    let messages: Vec<&str> = recs.iter().map(|r| r["message"].as_str().unwrap()).collect();
    assert!(messages.iter().any(|m| m.contains('"')) && messages.iter().any(|m| !m.is_ascii()));
    for r in &recs {
        assert_eq!(r.contains_key("stack"), r["level"] == "ERROR");
        if let Some(stack) = r.get("stack") {
            assert!(stack.as_str().unwrap().lines().count() >= 4);
        }
    }
}

#[test]
fn telemetry_is_number_heavy() {
    let recs = ndjson_records(&OrderGen::new().with_shape(Shape::Telemetry).with_records(5000));
    for r in &recs {
        let floats = r.values().filter(|v| v.is_f64()).count();
        let ints = r.values().filter(|v| v.is_i64() || v.is_u64()).count();
        assert_eq!(floats, 22, "{r:?}");
        assert_eq!(ints, 12, "{r:?}");
        assert_eq!(r.len(), 36, "{r:?}");
        assert!(r["rssi"].as_i64().unwrap() < 0);
    }
    // The same keys hold fractions in every record (no integral value in a float column).
    let first: Vec<&String> = recs[0].iter().filter(|(_, v)| v.is_f64()).map(|(k, _)| k).collect();
    assert!(recs.iter().all(|r| first.iter().all(|k| r[k.as_str()].is_f64())));
}

/// Objects below `v`, counted along the deepest path (lists add no level).
fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[test]
fn nested_is_six_objects_deep_with_lists_of_structs() {
    let recs = ndjson_records(&OrderGen::new().with_shape(Shape::Nested).with_records(3000));
    let mut blocks = 0;
    for r in &recs {
        assert_eq!(r.values().map(depth).max(), Some(6), "{r:?}");
        let rate = &r["account"]["org"]["plan"]["limits"]["overage"]["rate"];
        assert!(rate["amount"].is_f64() && rate["currency"].is_string(), "{r:?}");
        let sections = r["sections"].as_array().unwrap();
        assert!((1..=3).contains(&sections.len()));
        for s in sections {
            for b in s["blocks"].as_array().unwrap() {
                assert!(b["attrs"]["style"]["font"]["px"].is_u64(), "{b}");
                assert!(b["attrs"]["tags"].is_array());
                blocks += 1;
            }
        }
    }
    assert!(blocks > 3000, "{blocks} blocks");
}
