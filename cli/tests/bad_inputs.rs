//! The bad-input corpus (`testdata/bad/cases.json`): every case through the real
//! binary, `idbsync infer` and `idbsync convert --json`. Each must end with exit code 0
//! or 1, never a panic or a signal, with the expected error or the exact record
//! accounting, and nothing written outside the output root. Every failing case is
//! reported at once.

mod common;

use common::{s, Run};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const BAD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/bad");

/// One entry of `cases.json`.
struct Case {
    name: String,
    file: Option<String>,
    generate: Option<String>,
    /// A pinned schema document in this folder, given to both commands as `--schema`.
    schema: Option<String>,
    args: Vec<String>,
    convert_args: Vec<String>,
    expect: Expect,
    infer_ok: bool,
    warning: Option<String>,
    reasons: Vec<String>,
}

enum Expect {
    Error(String),
    Ok(BTreeMap<String, Counts>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    read: u64,
    written: u64,
    rejected: u64,
    skipped: u64,
}

impl Counts {
    fn from_json(v: &Value) -> Option<Counts> {
        let n = |k: &str| v.get(k).and_then(Value::as_u64);
        Some(Counts { read: n("read")?, written: n("written")?, rejected: n("rejected")?, skipped: n("skipped")? })
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().map(|x| x.as_str().expect("a string").to_owned()).collect())
        .unwrap_or_default()
}

fn load_cases() -> Vec<Case> {
    let text = std::fs::read_to_string(Path::new(BAD).join("cases.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).expect("cases.json parses");
    doc["cases"]
        .as_array()
        .expect("a cases array")
        .iter()
        .map(|c| {
            let name = c["name"].as_str().expect("a name").to_owned();
            let expect = match (c["expect"].get("error"), c["expect"].get("ok")) {
                (Some(e), None) => Expect::Error(e.as_str().expect("an error substring").to_owned()),
                (None, Some(ok)) => Expect::Ok(
                    ok["stores"]
                        .as_object()
                        .unwrap_or_else(|| panic!("{name}: ok.stores"))
                        .iter()
                        .map(|(k, v)| (k.clone(), Counts::from_json(v).unwrap_or_else(|| panic!("{name}: counts"))))
                        .collect(),
                ),
                _ => panic!("{name}: expect must be {{error}} or {{ok}}"),
            };
            assert!(c.get("what").and_then(Value::as_str).is_some_and(|w| !w.is_empty()), "{name}: what");
            Case {
                file: c.get("file").and_then(Value::as_str).map(str::to_owned),
                generate: c.get("generate").and_then(Value::as_str).map(str::to_owned),
                schema: c.get("schema").and_then(Value::as_str).map(str::to_owned),
                args: strings(c.get("args")),
                convert_args: strings(c.get("convert_args")),
                expect,
                infer_ok: c.get("infer_ok").and_then(Value::as_bool).unwrap_or(false),
                warning: c.get("warning").and_then(Value::as_str).map(str::to_owned),
                reasons: strings(c.get("reasons")),
                name,
            }
        })
        .collect()
}

/// Writes a case too large to commit into `dir`; returns its path.
fn generate(what: &str, dir: &Path) -> PathBuf {
    const DEEP: usize = 100_000;
    let (name, bytes): (&str, Vec<u8>) = match what {
        "deep-100k" => {
            let mut t = String::from("{\"id\":1}\n");
            t += &"[".repeat(DEEP);
            t += &"]".repeat(DEEP);
            t.push('\n');
            t += &"{\"a\":".repeat(DEEP);
            t.push('1');
            t += &"}".repeat(DEEP);
            t += "\n{\"id\":2}\n";
            ("deep-100k.ndjson", t.into_bytes())
        }
        "deep-100k-dexie" => {
            let mut t = String::from(
                r#"{"formatName":"dexie","formatVersion":1,"data":{"databaseName":"d","databaseVersion":1,"tables":[{"name":"deep","schema":"++id","rowCount":2}],"data":[{"tableName":"deep","inbound":true,"rows":[{"id":1},{"id":2,"d":"#,
            );
            t += &"[".repeat(DEEP);
            t += &"]".repeat(DEEP);
            t += "}]}]}}";
            ("deep-100k-dexie.json", t.into_bytes())
        }
        "string-50mb" => {
            // 50 MiB of text with escaped quotes, backslashes and two-byte characters.
            let unit = r#"0123456789abcdef\"é\\ "#;
            let mut big = String::with_capacity(50 << 20);
            while big.len() < 50 << 20 {
                big += unit;
            }
            let t = format!(
                r#"{{"formatName":"dexie","formatVersion":1,"data":{{"databaseName":"d","databaseVersion":1,"tables":[{{"name":"big","schema":"++id","rowCount":2}}],"data":[{{"tableName":"big","inbound":true,"rows":[{{"id":1,"s":"{big}"}},{{"id":2,"s":"short"}}]}}]}}}}"#
            );
            ("string-50mb.json", t.into_bytes())
        }
        "columns-10k" => {
            let row = |k: usize| {
                let cols: Vec<String> = (0..10_000).map(|i| format!("\"c{i}\":{}", i + k)).collect();
                format!("{{{}}}\n", cols.join(","))
            };
            ("columns-10k.ndjson", format!("{}{}", row(0), row(1)).into_bytes())
        }
        other => panic!("unknown generated case '{other}'"),
    };
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Every path under `root` (files and directories), relative, `/`-separated.
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
            if p.is_dir() && !p.is_symlink() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Problems common to every run: a panic, a signal, an exit code other than 0 or 1.
fn check_run(what: &str, run: &Run, problems: &mut Vec<String>) {
    match run.code {
        Some(0 | 1) => {}
        Some(c) => problems.push(format!("{what}: exit code {c}")),
        None => problems.push(format!("{what}: killed by a signal")),
    }
    if run.stderr.contains("panicked") || run.stderr.contains("RUST_BACKTRACE") {
        problems.push(format!("{what}: panicked: {}", first_lines(&run.stderr)));
    }
}

fn first_lines(t: &str) -> String {
    t.lines().take(4).collect::<Vec<_>>().join(" | ").chars().take(600).collect()
}

/// What actually happened, written as a `cases.json` expectation (for the failure report).
fn actual(run: &Run) -> String {
    if run.code != Some(0) {
        return format!("error: {}", first_lines(&run.stderr));
    }
    let Ok(v) = serde_json::from_str::<Value>(&run.stdout) else { return format!("unparsable stdout {}", run.stdout) };
    let stores: serde_json::Map<String, Value> = v["stores"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| (s["store"].as_str().unwrap_or("?").to_owned(), s["counts"].clone()))
        .collect();
    format!("ok: {}", Value::Object(stores))
}

static CURRENT: Mutex<String> = Mutex::new(String::new());

/// Ends the test process if the corpus hangs, naming the case it hung on.
fn watchdog(limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("bad_inputs: still running after {limit:?}, on case {}", CURRENT.lock().unwrap());
        std::process::exit(2);
    });
}

fn argv(a: &[String]) -> Vec<&str> {
    a.iter().map(String::as_str).collect()
}

/// Checks one case; returns what is wrong with it.
fn run_case(case: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let input = match (&case.file, &case.generate) {
        (Some(f), None) => Path::new(BAD).join(f),
        (None, Some(g)) => {
            let gen = tmp.path().join("gen");
            std::fs::create_dir(&gen).unwrap();
            generate(g, &gen)
        }
        _ => panic!("{}: give a file or a generate key", case.name),
    };
    let file_name = input.file_name().unwrap().to_string_lossy().into_owned();
    let with = |mut base: Vec<String>, extra: &[String]| {
        base.extend(extra.iter().cloned());
        base
    };
    let mut args = case.args.clone();
    if let Some(schema) = &case.schema {
        args.extend(["--schema".to_owned(), s(&Path::new(BAD).join(schema)).to_owned()]);
    }
    let infer_args = with(vec!["infer".into(), s(&input).into(), "--json".into()], &args);
    let convert_args = with(
        with(
            vec!["convert".into(), s(&input).into(), "--out".into(), "out".into(), "--json".into(), "-q".into()],
            &args,
        ),
        &case.convert_args,
    );
    let infer = common::idbsync(&cwd, &argv(&infer_args), None);
    let convert = common::idbsync(&cwd, &argv(&convert_args), None);
    check_run("infer", &infer, &mut problems);
    check_run("convert", &convert, &mut problems);
    let out = cwd.join("out");

    // Nothing may appear beside the output root.
    let mut allowed = vec!["cwd".to_owned()];
    if case.generate.is_some() {
        allowed.push("gen".to_owned());
    }
    if names_in(tmp.path()) != allowed {
        problems.push(format!("files beside the sandbox: {:?}", names_in(tmp.path())));
    }
    let beside: Vec<String> = names_in(&cwd).into_iter().filter(|n| n != "out").collect();
    if !beside.is_empty() {
        problems.push(format!("files written beside the output root: {beside:?}"));
    }
    let written = tree(&out);

    match &case.expect {
        Expect::Error(want) => {
            if convert.code != Some(1) {
                problems.push(format!("convert should fail with '{want}', got {}", actual(&convert)));
            } else if !convert.stderr.contains(want.as_str()) {
                problems.push(format!("convert error lacks '{want}': {}", first_lines(&convert.stderr)));
            }
            if convert.code == Some(1) && !convert.stderr.contains(&file_name) {
                problems.push(format!("convert error does not name the file {file_name}"));
            }
            // A failed conversion commits nothing and leaves no staging or file behind.
            for p in &written {
                let leaf = p.rsplit('/').next().unwrap_or(p);
                if leaf == "_SUCCESS" || leaf == "_temporary" || out.join(p).is_file() {
                    problems.push(format!("a failed conversion left {p}"));
                }
            }
            if case.infer_ok {
                if infer.code != Some(0) {
                    problems.push(format!("infer should succeed: {}", first_lines(&infer.stderr)));
                }
            } else if infer.code != Some(1) || !infer.stderr.contains(want.as_str()) {
                problems.push(format!("infer should fail with '{want}': {}", first_lines(&infer.stderr)));
            } else if !infer.stderr.contains(&file_name) {
                problems.push(format!("infer error does not name the file {file_name}"));
            }
        }
        Expect::Ok(want) => {
            if convert.code != Some(0) {
                problems.push(format!("convert failed: {}", first_lines(&convert.stderr)));
                return problems;
            }
            let report: Value = match serde_json::from_str(&convert.stdout) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(format!("convert --json output does not parse: {e}"));
                    return problems;
                }
            };
            let stores = report["stores"].as_array().cloned().unwrap_or_default();
            let got: BTreeMap<String, Counts> = stores
                .iter()
                .map(|s| (s["store"].as_str().unwrap_or("?").to_owned(), Counts::from_json(&s["counts"]).unwrap()))
                .collect();
            if &got != want || got.len() != stores.len() {
                problems.push(format!("convert: want {want:?}, {}", actual(&convert)));
            }
            let mut reasons: Vec<String> = Vec::new();
            for st in &stores {
                let name = st["store"].as_str().unwrap_or("?");
                let c = Counts::from_json(&st["counts"]).unwrap();
                if c.read != c.written + c.rejected + c.skipped {
                    problems.push(format!("store {name:?}: read != written + rejected + skipped: {c:?}"));
                }
                reasons.extend(check_dataset(&cwd, &out, name, st, c, &mut problems));
            }
            for r in &case.reasons {
                if !reasons.iter().any(|x| x.contains(r.as_str())) {
                    problems.push(format!("no reject gives the reason '{r}' (reasons: {reasons:?})"));
                }
            }
            if let Some(w) = &case.warning {
                let in_report =
                    stores.iter().any(|s| strings(s.get("warnings")).iter().any(|x| x.contains(w.as_str())));
                if !in_report {
                    problems.push(format!("convert's report lacks the warning '{w}'"));
                }
                if !infer.stderr.contains(w.as_str()) {
                    problems.push(format!("infer does not warn '{w}': {}", first_lines(&infer.stderr)));
                }
            }
            if written.iter().any(|p| p.rsplit('/').next() == Some("_temporary")) {
                problems.push("a _temporary folder is left".into());
            }
            // Inference sees the same records: each is a row or invalid.
            match serde_json::from_str::<Value>(&infer.stdout) {
                Ok(doc) if infer.code == Some(0) => {
                    let seen: BTreeMap<String, u64> = doc["stores"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|s| {
                            let n = s["rows"].as_u64().unwrap() + s["invalid"].as_u64().unwrap();
                            (s["name"].as_str().unwrap().to_owned(), n)
                        })
                        .collect();
                    let read: BTreeMap<String, u64> = got.iter().map(|(k, c)| (k.clone(), c.read)).collect();
                    if seen != read {
                        problems.push(format!("infer's rows + invalid {seen:?} differ from convert's read {read:?}"));
                    }
                }
                _ => problems.push(format!("infer failed: {}", first_lines(&infer.stderr))),
            }
        }
    }
    problems
}

/// Checks a committed store dataset against its report; returns its reject reasons.
fn check_dataset(cwd: &Path, out: &Path, name: &str, st: &Value, c: Counts, problems: &mut Vec<String>) -> Vec<String> {
    let mut reasons = Vec::new();
    let dir = cwd.join(st["path"].as_str().unwrap_or(""));
    let inside = dir.canonicalize().ok().zip(out.canonicalize().ok()).is_some_and(|(d, o)| d.starts_with(&o) && d != o);
    if !inside {
        problems.push(format!("store {name:?}: dataset {} is not inside the output root", dir.display()));
        return reasons;
    }
    if !dir.join("_SUCCESS").is_file() {
        problems.push(format!("store {name:?}: no _SUCCESS"));
    }
    let manifest: Value = match std::fs::read(dir.join("_idbsync/manifest.json")).map(|b| serde_json::from_slice(&b)) {
        Ok(Ok(m)) => m,
        _ => {
            problems.push(format!("store {name:?}: no readable manifest"));
            return reasons;
        }
    };
    if manifest["store"].as_str() != Some(name) || Counts::from_json(&manifest["counts"]) != Some(c) {
        problems.push(format!("store {name:?}: the manifest disagrees with the report"));
    }
    let files = manifest["files"].as_array().cloned().unwrap_or_default();
    let rows: u64 = files.iter().map(|f| f["rows"].as_u64().unwrap_or(0)).sum();
    if rows != c.written {
        problems.push(format!("store {name:?}: the data files hold {rows} rows, {} written", c.written));
    }
    for f in &files {
        let p = f["path"].as_str().unwrap_or("");
        if p.split('/').any(|seg| seg == ".." || seg.is_empty()) || !dir.join(p).is_file() {
            problems.push(format!("store {name:?}: bad data file path {p:?}"));
        }
    }
    let mut lines = 0u64;
    for r in strings(manifest.get("rejects")) {
        let text = std::fs::read_to_string(dir.join(&r)).unwrap_or_default();
        for l in text.lines() {
            lines += 1;
            let rec: Value = serde_json::from_str(l).unwrap_or(Value::Null);
            let ok = rec["store"].as_str() == Some(name)
                && rec["record"].is_u64()
                && rec["offset"].is_u64()
                && rec["text"].is_string()
                && rec["reason"].as_str().is_some_and(|r| !r.is_empty());
            if !ok {
                problems
                    .push(format!("store {name:?}: a reject line lacks store, record, offset, text or reason: {l}"));
            }
            reasons.push(rec["reason"].as_str().unwrap_or("").to_owned());
        }
    }
    if lines != c.rejected {
        problems.push(format!("store {name:?}: {lines} reject lines for {} rejected", c.rejected));
    }
    reasons
}

#[test]
fn every_bad_input_gives_its_expected_outcome() {
    watchdog(Duration::from_secs(20 * 60));
    let cases = load_cases();
    // The corpus: at least 30 committed cases, every file used, names unique.
    let committed: Vec<&str> = cases.iter().filter_map(|c| c.file.as_deref()).collect();
    let mut distinct: std::collections::BTreeSet<&str> = committed.iter().copied().collect();
    assert!(distinct.len() >= 30, "only {} committed case files", distinct.len());
    distinct.extend(cases.iter().filter_map(|c| c.schema.as_deref()));
    let on_disk: Vec<String> =
        names_in(Path::new(BAD)).into_iter().filter(|n| n != "cases.json" && n != "README.md").collect();
    let unused: Vec<&String> = on_disk.iter().filter(|n| !distinct.contains(n.as_str())).collect();
    assert!(unused.is_empty(), "files in testdata/bad that no case uses: {unused:?}");
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");

    let before = tree(Path::new(BAD));
    let mut failures = Vec::new();
    for case in &cases {
        *CURRENT.lock().unwrap() = case.name.clone();
        let t = Instant::now();
        let problems = run_case(case);
        eprintln!(
            "{:<28} {:>6.2} s  {}",
            case.name,
            t.elapsed().as_secs_f64(),
            if problems.is_empty() { "ok" } else { "FAILED" }
        );
        for p in problems {
            failures.push(format!("{}: {p}", case.name));
        }
    }
    assert_eq!(tree(Path::new(BAD)), before, "the runs wrote into testdata/bad");
    assert!(failures.is_empty(), "{} problem(s) in the bad-input corpus:\n{}", failures.len(), failures.join("\n"));
}
