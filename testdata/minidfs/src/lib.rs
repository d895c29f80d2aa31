//! A real HDFS for idbsync's tests: Hadoop's MiniDFSCluster (a NameNode and DataNodes in one
//! JVM) started from the project's own launcher in `java/`, built with Maven from
//! `org.apache.hadoop:hadoop-client-minicluster`.
//!
//! [`MiniDfs::start`] builds the launcher when needed, starts a cluster on free ports, waits
//! for its ready line (with a timeout, showing the launcher's log on failure) and stops it on
//! drop. [`shared`] gives one cluster per test process. The launcher also stops by itself when
//! its stdin closes, so a test process that dies leaves no cluster behind.
//!
//! Tests that need HDFS must run: the only way to skip them is `IDBSYNC_SKIP_HDFS=1` outside CI
//! (see [`shared_or_skip`]); under `CI=true` that is refused.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// How long a cluster may take to report ready.
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// The Maven project of the launcher.
pub fn java_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("java")
}

/// Settings of a cluster.
#[derive(Debug, Clone)]
pub struct Builder {
    datanodes: u32,
    block_size: u64,
}

impl Default for Builder {
    fn default() -> Self {
        Builder { datanodes: 3, block_size: 1 << 20 }
    }
}

impl Builder {
    /// Number of DataNodes (default 3).
    pub fn datanodes(mut self, n: u32) -> Self {
        self.datanodes = n;
        self
    }

    /// Default block size in bytes (default 1 MiB, so that files span blocks).
    pub fn block_size(mut self, bytes: u64) -> Self {
        self.block_size = bytes;
        self
    }

    /// Builds the launcher if needed and starts the cluster.
    pub fn start(self) -> Result<MiniDfs, String> {
        let classpath = build()?;
        let base = tempfile::Builder::new().prefix("idbsync-minidfs-").tempdir().map_err(|e| e.to_string())?;
        let base = base.keep();
        let log_path = base.join("launcher.log");
        let log = std::fs::File::create(&log_path).map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
        let mut child = Command::new(java())
            .arg("-Xmx1g")
            .arg("-cp")
            .arg(&classpath)
            .arg("dev.idbsync.minidfs.Launcher")
            .args(["--base", &base.display().to_string()])
            .args(["--datanodes", &self.datanodes.to_string()])
            .args(["--block-size", &self.block_size.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start java (Java 17 is needed for the test HDFS): {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // The ready line arrives on a thread so that the wait can time out.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout);
            let mut line = String::new();
            let r = lines.read_line(&mut line).map(|_| line);
            let _ = tx.send((r, lines));
        });
        let fail = |child: &mut Child, why: String| {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect::<Vec<_>>().into_iter().rev().collect();
            let _ = std::fs::remove_dir_all(&base);
            Err(format!("MiniDFSCluster did not start: {why}\n--- launcher log (last lines) ---\n{}", tail.join("\n")))
        };
        let (line, stdout) = match rx.recv_timeout(READY_TIMEOUT) {
            Ok((Ok(line), stdout)) => (line, stdout),
            Ok((Err(e), _)) => return fail(&mut child, format!("reading its output: {e}")),
            Err(_) => return fail(&mut child, format!("no ready line within {READY_TIMEOUT:?}")),
        };
        let Some(url) = line.trim().strip_prefix("READY ") else {
            return fail(&mut child, format!("unexpected first line {line:?}"));
        };
        let stdin = child.stdin.take().expect("piped stdin");
        Ok(MiniDfs {
            url: url.to_owned(),
            conf_dir: base.join("conf"),
            base,
            classpath,
            control: Mutex::new(Control { stdin: Some(stdin), stdout }),
            child: Mutex::new(child),
        })
    }
}

struct Control {
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

/// A running MiniDFSCluster.
pub struct MiniDfs {
    /// The NameNode URI, `hdfs://127.0.0.1:<port>`.
    pub url: String,
    /// A folder with a `core-site.xml` naming this cluster (usable as `HADOOP_CONF_DIR`).
    pub conf_dir: PathBuf,
    base: PathBuf,
    classpath: String,
    control: Mutex<Control>,
    child: Mutex<Child>,
}

impl MiniDfs {
    /// A cluster with the default settings: 3 DataNodes, 1 MiB blocks.
    pub fn start() -> Result<MiniDfs, String> {
        Builder::default().start()
    }

    /// Settings for a cluster.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The cluster's own folder: the NameNode's and DataNodes' storage are under `dfs/`
    /// (a replica being written is a `…/rbw/blk_<id>` file there, growing as bytes arrive).
    pub fn base_dir(&self) -> &Path {
        &self.base
    }

    /// `hdfs://…` of an absolute path on this cluster.
    pub fn uri(&self, path: &str) -> String {
        format!("{}/{}", self.url, path.trim_start_matches('/'))
    }

    /// Sends a launcher command (`stop-datanode 0`, `restart-datanode 0`,
    /// `mark-datanode-dead 0` for a stopped one, `stop-namenode`, `restart-namenode`) and waits
    /// for its answer.
    pub fn command(&self, cmd: &str) -> Result<(), String> {
        let mut c = self.control.lock().unwrap_or_else(|e| e.into_inner());
        let stdin = c.stdin.as_mut().ok_or("the cluster is stopped")?;
        writeln!(stdin, "{cmd}").and_then(|_| stdin.flush()).map_err(|e| format!("{cmd}: {e}"))?;
        let mut line = String::new();
        c.stdout.read_line(&mut line).map_err(|e| format!("{cmd}: {e}"))?;
        match line.trim().strip_prefix("OK ") {
            Some(_) => Ok(()),
            None => Err(format!("{cmd}: {}", line.trim())),
        }
    }

    /// Runs Hadoop's own shell (`org.apache.hadoop.fs.FsShell`, the Java client) against this
    /// cluster, e.g. `["-ls", "-R", "/out"]`.
    pub fn fs_shell(&self, args: &[&str]) -> Output {
        let cp = format!("{}:{}", self.conf_dir.display(), self.classpath);
        let mut cmd = Command::new(java());
        cmd.arg("-cp").arg(cp).arg("org.apache.hadoop.fs.FsShell").args(args);
        cmd.output().expect("run java FsShell")
    }

    /// [`MiniDfs::fs_shell`], asserting success and returning stdout.
    pub fn fs_shell_ok(&self, args: &[&str]) -> String {
        let out = self.fs_shell(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "FsShell {args:?} failed: {stderr}");
        String::from_utf8(out.stdout).expect("FsShell prints UTF-8")
    }

    /// The launcher's log so far (Hadoop's warnings).
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.base.join("launcher.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Stops the cluster and deletes its data.
    pub fn stop(&self) {
        // Closing stdin asks the launcher to shut down; it deletes its base folder.
        self.control.lock().unwrap_or_else(|e| e.into_inner()).stdin.take();
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.base);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

impl Drop for MiniDfs {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One cluster for the whole test process, started on first use. It stops when the process
/// exits (the launcher sees its stdin close).
pub fn shared() -> &'static MiniDfs {
    static CLUSTER: OnceLock<MiniDfs> = OnceLock::new();
    CLUSTER.get_or_init(|| MiniDfs::start().unwrap_or_else(|e| panic!("{e}")))
}

/// [`shared`], unless `IDBSYNC_SKIP_HDFS=1` is set outside CI: then `None`, with a line on
/// stderr saying the test was skipped. Under `CI=true` skipping is refused.
pub fn shared_or_skip(test: &str) -> Option<&'static MiniDfs> {
    if skip(test) {
        return None;
    }
    Some(shared())
}

/// Whether an HDFS test is to be skipped (`IDBSYNC_SKIP_HDFS=1` outside CI), saying so on
/// stderr: for tests that start a cluster of their own. Under `CI=true` skipping is refused.
pub fn skip(test: &str) -> bool {
    if std::env::var("IDBSYNC_SKIP_HDFS").is_ok_and(|v| v == "1") {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true" || v == "1"),
            "IDBSYNC_SKIP_HDFS=1 is not allowed under CI: HDFS tests must run"
        );
        eprintln!("SKIPPED {test}: IDBSYNC_SKIP_HDFS=1");
        return true;
    }
    false
}

fn java() -> PathBuf {
    match std::env::var_os("JAVA_HOME") {
        Some(home) if Path::new(&home).join("bin/java").exists() => Path::new(&home).join("bin/java"),
        _ => PathBuf::from("java"),
    }
}

fn newest_mtime(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            let t = if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "target") {
                    continue;
                }
                newest_mtime(&p)
            } else {
                e.metadata().and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH)
            };
            newest = newest.max(t);
        }
    }
    newest
}

/// Builds the launcher with Maven when its sources are newer than the build; returns the
/// classpath (launcher classes and the Hadoop jars). `scripts/minidfs.sh build` does the same.
pub fn build() -> Result<String, String> {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = java_dir();
    let target = dir.join("target");
    let cp_file = target.join("classpath.txt");
    let built = std::fs::metadata(&cp_file).and_then(|m| m.modified()).ok();
    if built.is_none_or(|b| b < newest_mtime(&dir)) {
        let out = Command::new("mvn")
            .args(["-B", "-q", "-f"])
            .arg(dir.join("pom.xml"))
            .args(["package", "dependency:build-classpath", "-Dmdep.outputFile=target/classpath.txt"])
            .output()
            .map_err(|e| format!("cannot run mvn (Maven is needed for the test HDFS): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mvn package of {} failed:\n{}{}",
                dir.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let deps = std::fs::read_to_string(&cp_file).map_err(|e| format!("cannot read {}: {e}", cp_file.display()))?;
    Ok(format!("{}:{}", target.join("classes").display(), deps.trim()))
}
