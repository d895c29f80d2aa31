//! Helpers shared by the CLI integration tests: run the real binary, find fixtures.
#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub mod sync;

pub const BIN: &str = env!("CARGO_BIN_EXE_idbsync");
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/fixtures");

pub fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// What one run of the binary produced.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(self) -> Run {
        assert_eq!(self.code, Some(0), "idbsync failed; stderr:\n{}", self.stderr);
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("--json output does not parse: {e}"))
    }
}

/// Runs `idbsync args…` in `dir`, feeding `stdin` when given.
pub fn idbsync(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    idbsync_env(dir, args, stdin, &[])
}

/// [`idbsync`] with extra environment variables.
pub fn idbsync_env(dir: &Path, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.envs(env.iter().copied());
    cmd.args(args).current_dir(dir).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().unwrap();
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().unwrap();
        let data = data.to_vec();
        // A separate thread, so a full stdout pipe cannot deadlock the test.
        std::thread::spawn(move || {
            // The binary may stop reading early on an error; a broken pipe is fine then.
            let _ = pipe.write_all(&data);
        })
    });
    let out = child.wait_with_output().unwrap();
    if let Some(w) = writer {
        w.join().unwrap();
    }
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

// ---------------------------------------------------------------------------------------
// Killed runs: seeded kill points spread over an uninterrupted run
// ---------------------------------------------------------------------------------------

/// splitmix64: the fixed-seed source of the kill delays.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `n` kill delays spread over a run of length `full`: the i-th lands in the i-th n-th of
/// the run (between 2% and 98% of it), at a point within it drawn from `seed`.
pub fn kill_delays(full: std::time::Duration, n: u32, seed: u64) -> Vec<std::time::Duration> {
    let mut state = seed;
    (0..n)
        .map(|i| {
            let within = (splitmix(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
            full.mul_f64(0.02 + 0.96 * (f64::from(i) + within) / f64::from(n))
        })
        .collect()
}

/// Every file under `root`, as a sorted list of `/`-separated relative paths.
pub fn files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Every file under `root` with its bytes.
pub fn local_tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    files(root).into_iter().map(|f| (f.clone(), std::fs::read(root.join(&f)).unwrap())).collect()
}

/// A whole Parquet file: `PAR1` at both ends and a footer length that fits.
pub fn is_whole_parquet(b: &[u8]) -> bool {
    if b.len() < 12 || &b[..4] != b"PAR1" || &b[b.len() - 4..] != b"PAR1" {
        return false;
    }
    let footer = u32::from_le_bytes(b[b.len() - 8..b.len() - 4].try_into().unwrap()) as usize;
    footer + 12 <= b.len()
}

/// Files (relative path → bytes) as a run left them, in a comparable order.
pub type Output = Vec<(String, Vec<u8>)>;

/// What a run left at its destination.
#[derive(Debug, Clone, Copy)]
pub struct Left {
    /// The output is committed (published): the run got past its commit point.
    pub committed: bool,
    /// Staged files seen: proof that a kill hit a write.
    pub staged: usize,
}

/// A command that writes to a destination, killed at seeded points of its run.
pub struct KillTest<'a> {
    /// Where the command runs.
    pub dir: &'a Path,
    /// The command's arguments for a destination.
    pub args: &'a dyn Fn(&str) -> Vec<String>,
    /// Checks what a run left at a destination (`what` is for messages): an uncommitted
    /// output must not look committed, nor show a partial file outside its staging.
    pub check: &'a dyn Fn(&str, &str) -> Left,
    /// Removes a destination that a run committed (the next kill needs a fresh start).
    pub reset: &'a dyn Fn(&str),
    /// What a finished run wrote, comparable between runs (job ids replaced).
    pub output: &'a dyn Fn(&str) -> Output,
    /// How many kills.
    pub kills: u32,
    /// Seed of the kill points.
    pub seed: u64,
}

impl KillTest<'_> {
    /// Runs the command into `reference` (the second run's duration sets the kill points), then
    /// `kills` times into `dest`, each killed with SIGKILL at its point and checked (a run
    /// killed after its commit point must have committed what an uninterrupted run
    /// commits), then once more into `dest` to the end. Asserts that some kill hit a staged
    /// write and that the last run wrote what the uninterrupted one wrote; returns that.
    #[cfg(unix)]
    pub fn run(&self, reference: &str, dest: &str) -> Output {
        use std::os::unix::process::ExitStatusExt;
        let run_whole = |to: &str| {
            let args = (self.args)(to);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            idbsync(self.dir, &args, None)
        };
        // A first run warms the caches (and the cluster), so that the timed one lasts as
        // long as the killed ones would.
        run_whole(reference).success();
        (self.reset)(reference);
        let started = std::time::Instant::now();
        run_whole(reference).success();
        let full = started.elapsed();
        let want = (self.output)(reference);
        assert!(!want.is_empty(), "the uninterrupted run wrote nothing");
        eprintln!("uninterrupted run: {full:?}");
        let mut staged_seen = 0;
        for (i, delay) in kill_delays(full, self.kills, self.seed).into_iter().enumerate() {
            let mut child = Command::new(BIN)
                .args((self.args)(dest))
                .current_dir(self.dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            // The seeded kill point (not a wait for readiness).
            std::thread::sleep(delay);
            let _ = child.kill(); // SIGKILL; an error only means it has already exited
            let status = child.wait().unwrap();
            let finished = status.signal().is_none();
            assert!(!finished || status.success(), "run {i} failed on its own: {status:?}");
            let what = format!("kill {i} after {delay:?} of {full:?}");
            let left = (self.check)(dest, &what);
            eprintln!("{what}: finished {finished}, {left:?}");
            assert!(left.committed || !finished, "{what}: the run finished without committing");
            staged_seen += left.staged;
            if left.committed {
                assert!((self.output)(dest) == want, "{what}: committed, but not what an uninterrupted run commits");
                (self.reset)(dest);
            }
        }
        assert!(staged_seen > 0, "no kill landed while files were being written (run took {full:?})");
        let rerun = run_whole(dest);
        assert_eq!(rerun.code, Some(0), "rerun after the kills: {}", rerun.stderr);
        assert!((self.check)(dest, "rerun").committed, "the rerun did not commit");
        let got = (self.output)(dest);
        assert_eq!(
            got.iter().map(|(n, b)| (n.as_str(), b.len())).collect::<Vec<_>>(),
            want.iter().map(|(n, b)| (n.as_str(), b.len())).collect::<Vec<_>>(),
            "the rerun's files differ from the uninterrupted run's"
        );
        assert!(got == want, "the rerun's bytes differ from the uninterrupted run's");
        got
    }
}

// ---------------------------------------------------------------------------------------
// Hostile names (path escapes), shared by the local and the HDFS escape tests
// ---------------------------------------------------------------------------------------

/// A marker in every hostile name, so an escaped file is found wherever it lands. Each
/// call gives a new one (tests run in parallel in one process; a shared marker let one
/// test find another's file): the closing `z` keeps marker 1 from matching inside 10.
pub fn marker() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("idbsync-escape-marker-{}-{n}z", std::process::id())
}

/// Store names that try to leave the output root, or to hide from readers.
pub fn hostile_store_names(m: &str) -> Vec<String> {
    vec![
        format!("../{m}"),
        format!("../../../../{m}"),
        format!("a/../../{m}"),
        format!("/{m}"),
        format!("/tmp/{m}"),
        format!("{m}/.."),
        format!("..\\{m}"),
        format!("\0{m}"),
        format!("{m}\0/../x"),
        format!(".{m}"),
        format!("_{m}"),
        "..".into(),
        ".".into(),
        "_temporary".into(),
        // HDFS refuses `:` in a path component.
        format!("{m}:x"),
        // 10,000 characters: cut to a short name plus a hash, distinct from the next one.
        format!("{m}{}", "x".repeat(10_000 - m.len())),
        format!("{m}{}y", "x".repeat(9_999 - m.len())),
        format!("{m}{}", "/..".repeat(3_000)),
    ]
}

/// A `{store: [{"id": i}]}` dump with one record per name.
pub fn dump_of(names: &[String]) -> Vec<u8> {
    let mut dump = serde_json::Map::new();
    for (i, n) in names.iter().enumerate() {
        dump.insert(n.clone(), serde_json::json!([{ "id": i }]));
    }
    Value::Object(dump).to_string().into_bytes()
}

/// Partition values that try to leave the dataset folder; the last fills a 255-byte
/// directory name (`city=` and 250 bytes) exactly.
pub fn hostile_partition_values(m: &str) -> Vec<Value> {
    use serde_json::json;
    vec![
        json!(format!("../{m}")),
        json!(format!("../../../../{m}")),
        json!(format!("/{m}")),
        json!(format!("{m}/../..")),
        json!(format!("..\\{m}")),
        json!(format!("\0{m}")),
        json!(".."),
        json!("."),
        json!(""),
        json!(null),
        json!(format!("_{m}")),
        json!(format!("c:{m}")),
        json!(format!("{m}{}{}", "é".repeat((250 - m.len()) / 2), "x".repeat((250 - m.len()) % 2))),
    ]
}

/// NDJSON with one record per value: `{"id": i, "city": value}`.
pub fn city_records(values: &[Value]) -> String {
    values.iter().enumerate().map(|(i, v)| format!("{}\n", serde_json::json!({"id": i, "city": v}))).collect()
}

/// The directory names partitioning by `city` gives `values`, sorted.
pub fn city_dirs(values: &[Value]) -> Vec<String> {
    let mut want: Vec<String> = values
        .iter()
        .filter_map(|v| v.as_str().filter(|s| !s.is_empty()))
        .map(|v| format!("city={}", engine::escape_path_name(v)))
        .chain(std::iter::once(format!("city={}", engine::HIVE_NULL)))
        .collect();
    want.sort();
    want.dedup();
    want
}
