//! Store names and partition values cannot leave the output root (local sink): `../`,
//! `/`, `\`, NUL, `.`/`..` and very long names are escaped, shortened (store names)
//! or refused with a clear error (partition values), and nothing is written outside.

mod common;

use common::{city_dirs, city_records, dump_of, files, hostile_partition_values, hostile_store_names, marker, s, Run};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Paths holding the marker anywhere on the way from `/` to `start`'s parent, or beside
/// them, outside `inside` (searched two levels deep from each ancestor).
fn escaped_files(start: &Path, inside: &Path, marker: &str) -> Vec<PathBuf> {
    fn scan(dir: &Path, depth: usize, inside: &Path, marker: &str, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.starts_with(inside) {
                continue;
            }
            if e.file_name().to_string_lossy().contains(marker) {
                out.push(p.clone());
            }
            if depth > 0 && p.is_dir() && !p.is_symlink() {
                scan(&p, depth - 1, inside, marker, out);
            }
        }
    }
    let mut out = Vec::new();
    for dir in start.ancestors() {
        scan(dir, if dir == Path::new("/") { 0 } else { 2 }, inside, marker, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

fn no_panic(run: &Run) {
    assert!(matches!(run.code, Some(0 | 1)), "exit {:?}: {}", run.code, run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

/// Runs `convert --json` in a deep sandbox; returns the run, the output root, the sandbox.
fn convert(input_name: &str, input: &[u8], extra: &[&str]) -> (Run, PathBuf, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path().join("a/b/c");
    std::fs::create_dir_all(&cwd).unwrap();
    let file = tmp.path().join(input_name);
    std::fs::write(&file, input).unwrap();
    let mut args = vec!["convert", s(&file), "--out", "out", "--json", "-q"];
    args.extend_from_slice(extra);
    let run = common::idbsync(&cwd, &args, None);
    no_panic(&run);
    (run, cwd.join("out"), tmp)
}

/// Checks that every store of a successful run landed in `out/<store_dir_name(name)>`,
/// committed, and that nothing holding the marker exists outside `out`.
fn check_stores(run: &Run, out: &Path, names: &[String], marker: &str) {
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let stores = report["stores"].as_array().unwrap();
    let got: Vec<&str> = stores.iter().map(|s| s["store"].as_str().unwrap()).collect();
    assert_eq!(got, names.iter().map(String::as_str).collect::<Vec<_>>());
    let root = out.canonicalize().unwrap();
    for (st, name) in stores.iter().zip(names) {
        assert_eq!(st["counts"], json!({"read": 1, "written": 1, "rejected": 0, "skipped": 0}), "{name:?}");
        let dir_name = engine::store_dir_name(name);
        assert!(dir_name.len() <= 255, "{name:?}: a {}-byte directory name", dir_name.len());
        assert!(!dir_name.contains('/') && !dir_name.contains('\0') && dir_name != "." && dir_name != "..");
        assert!(!dir_name.starts_with('.') && !dir_name.starts_with('_'), "hidden from readers: {dir_name}");
        let dir = out.join(&dir_name);
        assert_eq!(dir.canonicalize().unwrap().parent(), Some(root.as_path()), "{name:?}");
        assert!(dir.join("_SUCCESS").is_file(), "{name:?}");
        let m: Value = serde_json::from_slice(&std::fs::read(dir.join("_idbsync/manifest.json")).unwrap()).unwrap();
        assert_eq!(m["store"].as_str(), Some(name.as_str()), "the manifest keeps the real name");
    }
    // One directory per store, nothing else at the root.
    assert_eq!(std::fs::read_dir(out).unwrap().count(), names.len());
    let escaped = escaped_files(out, &root, marker);
    assert!(escaped.is_empty(), "written outside the output root: {escaped:?}");
}

#[test]
fn hostile_store_names_in_a_dump_stay_inside_the_output_root() {
    let m = marker();
    let names = hostile_store_names(&m);
    let (run, out, _tmp) = convert("dump.json", &dump_of(&names), &["--format", "stores"]);
    check_stores(&run, &out, &names, &m);
}

#[test]
fn hostile_dexie_table_names_stay_inside_the_output_root() {
    let m = marker();
    let names = hostile_store_names(&m);
    let tables: Vec<Value> = names.iter().map(|n| json!({"name": n, "schema": "++id", "rowCount": 1})).collect();
    let data: Vec<Value> =
        names.iter().enumerate().map(|(i, n)| json!({"tableName": n, "inbound": true, "rows": [{"id": i}]})).collect();
    let export = json!({"formatName": "dexie", "formatVersion": 1,
        "data": {"databaseName": "db", "databaseVersion": 1, "tables": tables, "data": data}});
    let (run, out, _tmp) = convert("export.json", export.to_string().as_bytes(), &[]);
    check_stores(&run, &out, &names, &m);
}

#[test]
fn a_hostile_store_option_or_file_name_stays_inside_the_output_root() {
    let m = marker();
    // (A command-line argument cannot hold NUL.)
    for name in [format!("../{m}"), format!("{m}/../.."), "..".to_owned()] {
        let (run, out, _tmp) = convert("orders.ndjson", b"{\"id\":1}\n", &["--store", &name]);
        check_stores(&run, &out, &[name], &m);
    }
    // `...ndjson` names its store `..`.
    let (run, out, _tmp) = convert("...ndjson", b"{\"id\":1}\n", &[]);
    check_stores(&run, &out, &["..".to_owned()], &m);
}

#[test]
fn hostile_partition_values_stay_inside_the_output_root() {
    let m = marker();
    let values = hostile_partition_values(&m);
    let input = city_records(&values);
    let (run, out, _tmp) = convert("orders.ndjson", input.as_bytes(), &["--partition-by", "city"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let n = values.len() as u64;
    assert_eq!(report["stores"][0]["counts"], json!({"read": n, "written": n, "rejected": 0, "skipped": 0}));
    let ds = out.join("orders");
    let mut dirs: Vec<String> = std::fs::read_dir(&ds)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|d| d.starts_with("city="))
        .collect();
    dirs.sort();
    assert_eq!(dirs, city_dirs(&values));
    assert!(dirs.iter().all(|d| d.len() <= 255 && !d.contains('/')), "{dirs:?}");
    assert!(dirs.iter().any(|d| d.len() == 255), "the longest value fills 255 bytes");
    // The manifest's files all lie under the dataset, one per partition.
    let m_json: Value = serde_json::from_slice(&std::fs::read(ds.join("_idbsync/manifest.json")).unwrap()).unwrap();
    let listed: Vec<&str> = m_json["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), dirs.len());
    for f in &listed {
        assert!(f.split('/').all(|seg| !seg.is_empty() && seg != ".." && seg != "."), "{f}");
        assert!(ds.join(f).is_file(), "{f}");
    }
    let root = out.canonicalize().unwrap();
    let escaped = escaped_files(&out, &root, &m);
    assert!(escaped.is_empty(), "written outside the output root: {escaped:?}");
}

#[test]
fn a_partition_value_too_long_for_a_directory_name_is_a_clear_error() {
    let m = marker();
    let long = format!("../{m}{}", "x".repeat(10_000));
    let input = format!("{}\n{}\n", json!({"id": 1, "city": "Berlin"}), json!({"id": 2, "city": long}));
    let (run, out, tmp) = convert("orders.ndjson", input.as_bytes(), &["--partition-by", "city"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    // The store, then the cause (a typed error with its source since the errors keep it).
    assert!(run.stderr.contains("caused by: store 'orders'\n"), "{}", run.stderr);
    let want = "caused by: partition by city: the directory name city=..%2Fidbsync-escape-marker-";
    assert!(run.stderr.contains(want), "{}", run.stderr);
    assert!(run.stderr.contains("more than the 255 a filesystem or HDFS allows"), "{}", run.stderr);
    assert!(run.stderr.contains("bucket(N, city)"), "{}", run.stderr);
    // Nothing committed, nothing staged, nothing written anywhere.
    assert_eq!(files(&out), Vec::<String>::new());
    assert_eq!(files(tmp.path()), vec!["orders.ndjson".to_owned()]);
    assert!(escaped_files(&out, &tmp.path().join("nothing"), &m).is_empty());
    // A bucket of the same column works.
    let (run, out, _tmp) = convert("orders.ndjson", input.as_bytes(), &["--partition-by", "bucket(4, city)"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(out.join("orders/_SUCCESS").is_file());
}

#[test]
fn the_escape_search_finds_a_file_that_left_the_output_root() {
    let m = format!("{}-decoy", marker());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("a/b/c/out");
    std::fs::create_dir_all(out.join("store")).unwrap();
    std::fs::write(out.join("store").join(&m), b"inside").unwrap();
    assert!(escaped_files(&out, &out, &m).is_empty());
    for beside in [tmp.path().join("a/b").join(&m), tmp.path().join(format!("x/{m}"))] {
        std::fs::create_dir_all(beside.parent().unwrap()).unwrap();
        std::fs::write(&beside, b"outside").unwrap();
        assert_eq!(escaped_files(&out, &out, &m), vec![beside.clone()]);
        std::fs::remove_file(&beside).unwrap();
    }
}
