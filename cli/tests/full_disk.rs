//! The real binary on a really full disk: a small tmpfs, mounted where the test may mount
//! one (as root). `convert` into it and `download --to` a file on it must fail naming the
//! file and "No space left on device", and leave the tmpfs exactly as it was: no dataset,
//! no `_SUCCESS`, no `_temporary` or temporary download file.
//!
//! Without root (or where mounting fails outside CI) the test says it was skipped; the same
//! guarantees at every step of a job are checked by a size-limited sink in
//! `engine/tests/full_disk.rs`, which always runs. Under `CI=true` as root it must run.
#![cfg(target_os = "linux")]

mod common;

use common::{idbsync, s};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `size` mounted on a fresh folder, unmounted (and the folder removed) on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts one, or says why it cannot (not root, or `mount` refused).
    fn mount(size: &str) -> Result<Tmpfs, String> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not running as root, so no tmpfs can be mounted".into());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "idbsync-full-disk"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(self.dir.path()).status().is_ok_and(|s| s.success());
        if !ok {
            // Busy (a test failed with a file open): detach it so nothing stays mounted.
            let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
        }
    }
}

/// Every file and folder under `root` (folders end in `/`), sorted.
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
            if p.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// The tmpfs, or `None` with a line saying the test was skipped. Under `CI=true` as root a
/// tmpfs that cannot be mounted fails the test: there it must run.
fn tmpfs_or_skip(test: &str, size: &str) -> Option<Tmpfs> {
    match Tmpfs::mount(size) {
        Ok(t) => Some(t),
        Err(why) => {
            // SAFETY: as above.
            let root = unsafe { libc::geteuid() } == 0;
            assert!(
                !(std::env::var("CI").is_ok_and(|v| v == "true") && root),
                "{test}: under CI=true as root the tmpfs must mount: {why}"
            );
            eprintln!(
                "SKIPPED {test}: {why}; the size-limited sink in engine/tests/full_disk.rs checks the same guarantees"
            );
            None
        }
    }
}

/// Generated orders as NDJSON in `dir` (20,000 orders: about 8 MB).
fn orders(dir: &Path) -> PathBuf {
    let input = dir.join("orders.ndjson");
    let f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    testdata_gen::OrderGen::new().with_seed(5).with_records(20_000).write_ndjson(f).unwrap();
    input
}

#[test]
fn convert_into_a_full_tmpfs_fails_naming_the_file_and_leaves_it_as_it_was() {
    let Some(fs) = tmpfs_or_skip("convert_into_a_full_tmpfs", "2m") else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = orders(dir.path());
    // Uncompressed, the output is several times the tmpfs.
    let out = fs.path().join("out");
    let run = idbsync(dir.path(), &["convert", s(&input), "--out", s(&out), "--compression", "none", "-q"], None);
    assert_eq!(run.code, Some(1), "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("No space left on device"), "{}", run.stderr);
    let named = format!("{}/orders/", out.display());
    assert!(run.stderr.contains(&named), "the error names no file under {named}:\n{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(tree(fs.path()), Vec::<String>::new(), "the full tmpfs must be left as it was");

    // With the same tmpfs holding a dataset root already, that root is left as it was too.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), b"not ours").unwrap();
    let run = idbsync(dir.path(), &["convert", s(&input), "--out", s(&out), "--compression", "none", "-q"], None);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(tree(fs.path()), ["out/", "out/keep.txt"]);
}

#[test]
fn download_to_a_full_tmpfs_fails_naming_the_file_and_removes_its_temporary_file() {
    let Some(fs) = tmpfs_or_skip("download_to_a_full_tmpfs", "1m") else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = orders(dir.path());
    idbsync(dir.path(), &["convert", s(&input), "--out", "out", "-q"], None).success();
    for format in ["ndjson", "dexie"] {
        let to = fs.path().join(format!("orders.{format}"));
        let run =
            idbsync(dir.path(), &["download", "out", "--table", "orders", "--format", format, "--to", s(&to)], None);
        assert_eq!(run.code, Some(1), "{format}: {}", run.stderr);
        assert!(run.stderr.contains("No space left on device"), "{format}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("writing {}", to.display())), "{format}: {}", run.stderr);
        assert_eq!(tree(fs.path()), Vec::<String>::new(), "{format}: a file is left on the full tmpfs");
    }
}
