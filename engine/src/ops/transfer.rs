//! Bulk copies between sinks (`idbsync put` and `idbsync get`): a dataset root or one store,
//! the tree as it is, files copied in parallel, each checked by CRC32C after it lands, and
//! published atomically.
//!
//! - A new destination is staged whole beside it (`.<name>.idbsync-<job>`) and renamed into
//!   place in one step: it appears complete or not at all. Stale staging of an interrupted
//!   run is removed by the next one.
//! - With `update`, an existing destination receives only files whose size or checksum
//!   differ (like `distcp -update`). They are staged under `<dest>/_temporary/`, the
//!   `_SUCCESS` of each dataset they touch is withdrawn, the files are renamed over their old
//!   versions (data, then `_idbsync/`, then `_SUCCESS` last), so a reader never sees a dataset
//!   marked committed while it changes.
//!
//! `_temporary/` folders of the source (uncommitted work) are not copied.
//!
//! A [`Cancel`] token stops a copy between file chunks and before it publishes; its staging
//! is then removed and nothing was published. Once publishing has started it is finished.

use crate::cancel::Cancel;
use crate::dataset::checksum::{checksum, crc_hex};
use crate::dataset::manifest::{SUCCESS, TEMPORARY};
use crate::error::{Error, Result};
use crate::storage::sink::{join_path as join, CountingWriter, Sink};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// Options of a copy.
#[derive(Debug, Clone, Copy, Default)]
pub struct TransferOptions<'a> {
    /// Copy into an existing destination, skipping files whose size and CRC32C match.
    pub update: bool,
    /// Read every copied file back from the destination and compare its CRC32C.
    pub verify: bool,
    /// Files copied at once (0 = 4).
    pub parallel: usize,
    /// Stops the copy before it publishes anything: the error is then [`Error::Cancelled`].
    pub cancel: Option<&'a Cancel>,
}

impl TransferOptions<'_> {
    /// `Err(Error::Cancelled)` once the token is set.
    fn check(&self) -> Result<()> {
        self.cancel.map_or(Ok(()), Cancel::check)
    }

    /// `e`, or [`Error::Cancelled`] when the token is set (an error a cancelled copy ran into).
    fn or(&self, e: Error) -> Error {
        match self.cancel {
            Some(c) => c.or(e),
            None => e,
        }
    }
}

/// What a copy did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TransferReport {
    /// Files in the source tree.
    pub files: usize,
    /// Files copied.
    pub copied: usize,
    /// Files skipped because the destination already matched (`update`).
    pub unchanged: usize,
    /// Bytes copied.
    pub bytes: u64,
    /// Where the tree went.
    pub destination: String,
}

/// A file of the source tree.
#[derive(Debug, Clone)]
struct Item {
    rel: String,
    len: u64,
}

/// Lists every file under `dir` of `sink` (relative paths, sorted), skipping `_temporary/`.
fn walk(sink: &dyn Sink, dir: &str, rel: &str, out: &mut Vec<Item>) -> io::Result<()> {
    let here = join(dir, rel);
    for e in sink.list(&here)? {
        let child = join(rel, &e.name);
        if e.is_dir {
            if e.name != TEMPORARY {
                walk(sink, dir, &child, out)?;
            }
        } else {
            out.push(Item { rel: child, len: e.len });
        }
    }
    Ok(())
}

/// Publication order: data first, then idbsync's metadata, then `_SUCCESS` markers.
fn rank(rel: &str) -> u8 {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if name == SUCCESS {
        2
    } else if rel.split('/').any(|c| c == crate::dataset::manifest::META_DIR) {
        1
    } else {
        0
    }
}

/// The error of a sink operation `what` (`cannot read`, …) on `path` of `sink`.
fn io_err(what: &'static str, sink: &dyn Sink, path: &str) -> impl FnOnce(io::Error) -> Error {
    let path = sink.describe(path);
    move |source| Error::Io { what, path, source }
}

/// Copies one file; returns its size and CRC32C as read from the source.
fn copy_file(src: &dyn Sink, from: &str, dst: &dyn Sink, to: &str, opts: &TransferOptions) -> Result<u64> {
    opts.check()?;
    let mut r = src.open(from).map_err(io_err("cannot read", src, from))?;
    let mut w = CountingWriter::new(dst.create(to).map_err(io_err("cannot create", dst, to))?);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        opts.check()?;
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err("cannot read", src, from)(e)),
        };
        w.write_all(&buf[..n]).map_err(io_err("cannot write", dst, to))?;
    }
    let (len, crc) = w.close().map_err(io_err("cannot close", dst, to))?;
    if opts.verify {
        let (back_len, back) = checksum(dst, to).map_err(io_err("cannot read back", dst, to))?;
        if (back_len, back) != (len, crc) {
            return Err(Error::Verify(format!(
                "{} reads back as {back_len} bytes with CRC32C {}, but {len} bytes with {} were sent",
                dst.describe(to),
                crc_hex(back),
                crc_hex(crc)
            )));
        }
    }
    Ok(len)
}

/// Whether `dst`'s copy of a file matches the source's (size, then CRC32C).
fn same(src: &dyn Sink, from: &str, dst: &dyn Sink, to: &str, len: u64, dst_len: Option<u64>) -> Result<bool> {
    if dst_len != Some(len) {
        return Ok(false);
    }
    let a = checksum(src, from).map_err(io_err("cannot read", src, from))?;
    let b = checksum(dst, to).map_err(io_err("cannot read", dst, to))?;
    Ok(a == b)
}

/// Removes every entry of `dir` of `sink` whose name starts with `prefix`: the staging an
/// interrupted run of a copy left.
fn remove_stale(sink: &dyn Sink, dir: &str, prefix: &str) -> Result<()> {
    for e in sink.list(dir).map_err(io_err("cannot list", sink, dir))? {
        if e.name.starts_with(prefix) {
            let p = join(dir, &e.name);
            sink.remove_all(&p).map_err(io_err("cannot remove", sink, &p))?;
        }
    }
    Ok(())
}

/// One copy: the source tree, the destination, and how to copy.
struct CopyJob<'a> {
    src: &'a dyn Sink,
    src_dir: &'a str,
    dst: &'a dyn Sink,
    dest: &'a str,
    job: &'a str,
    opts: TransferOptions<'a>,
    pool: rayon::ThreadPool,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl CopyJob<'_> {
    /// Copies `items` of the source into `stage` of the destination, in parallel; then the
    /// last check of the token before publishing. An error is the cancellation once the
    /// token is set.
    fn stage(&self, items: &[&Item], stage: &str) -> Result<()> {
        self.pool
            .install(|| {
                items.par_iter().try_for_each(|it| {
                    let n =
                        copy_file(self.src, &join(self.src_dir, &it.rel), self.dst, &join(stage, &it.rel), &self.opts)?;
                    (self.progress)(n);
                    Ok(())
                })
            })
            .and_then(|_| self.opts.check())
            .map_err(|e| self.opts.or(e))
    }

    /// A new destination: the whole tree staged beside it (`.<name>.idbsync-<job>`) and
    /// renamed into place in one step.
    fn copy_new(&self, items: &[Item], mut report: TransferReport) -> Result<TransferReport> {
        let (parent, name) = self.dest.rsplit_once('/').unwrap_or(("", self.dest));
        // Remove what an interrupted run of this copy left, then stage the whole tree beside.
        let prefix = format!(".{name}.idbsync-");
        remove_stale(self.dst, parent, &prefix)?;
        let stage = join(parent, &format!("{prefix}{}", self.job));
        let all: Vec<&Item> = items.iter().collect();
        // The last point where a cancellation stops the copy: the rename publishes it whole.
        let published = self
            .stage(&all, &stage)
            .and_then(|_| self.dst.rename(&stage, self.dest).map_err(io_err("cannot publish", self.dst, self.dest)));
        if let Err(e) = published {
            let _ = self.dst.remove_all(&stage);
            return Err(e);
        }
        report.copied = items.len();
        report.bytes = items.iter().map(|i| i.len).sum();
        Ok(report)
    }

    /// `--update` of an existing destination: the files that differ staged under
    /// `<dest>/_temporary/`, the `_SUCCESS` of each dataset they touch withdrawn, then
    /// renamed over their old versions (data, then `_idbsync/`, then `_SUCCESS` last).
    fn copy_update(&self, items: &[Item], mut report: TransferReport) -> Result<TransferReport> {
        let todo = self.differing(items)?;
        report.unchanged = items.len() - todo.len();
        if todo.is_empty() {
            return Ok(report);
        }
        let tmp_root = join(self.dest, TEMPORARY);
        remove_stale(self.dst, &tmp_root, "idbsync-copy-")?;
        let stage = join(&tmp_root, &format!("idbsync-copy-{}", self.job));
        let cleanup = || {
            let _ = self.dst.remove_all(&stage);
            if self.dst.list(&tmp_root).map(|l| l.is_empty()).unwrap_or(false) {
                let _ = self.dst.remove_all(&tmp_root);
            }
        };
        // The last point where a cancellation stops the copy; publishing is then finished.
        if let Err(e) = self.stage(&todo, &stage) {
            cleanup();
            return Err(e);
        }
        for it in todo.iter().filter(|it| rank(&it.rel) == 2) {
            let p = join(self.dest, &it.rel);
            self.dst.remove_all(&p).map_err(io_err("cannot remove", self.dst, &p))?;
        }
        for it in &todo {
            let (from, to) = (join(&stage, &it.rel), join(self.dest, &it.rel));
            self.dst.replace(&from, &to).map_err(io_err("cannot publish", self.dst, &to))?;
        }
        cleanup();
        report.copied = todo.len();
        report.bytes = todo.iter().map(|i| i.len).sum();
        Ok(report)
    }

    /// The files of `items` to copy in an update, in publication order: those whose size or
    /// CRC32C differ, and the `_SUCCESS` of every dataset that changes (published last again).
    fn differing<'i>(&self, items: &'i [Item]) -> Result<Vec<&'i Item>> {
        let mut existing = Vec::new();
        walk(self.dst, self.dest, "", &mut existing).map_err(io_err("cannot list", self.dst, self.dest))?;
        let lens: std::collections::HashMap<&str, u64> = existing.iter().map(|i| (i.rel.as_str(), i.len)).collect();
        let differs: Vec<bool> = self.pool.install(|| {
            items
                .par_iter()
                .map(|it| {
                    let dst_len = lens.get(it.rel.as_str()).copied();
                    let (from, to) = (join(self.src_dir, &it.rel), join(self.dest, &it.rel));
                    same(self.src, &from, self.dst, &to, it.len, dst_len).map(|s| !s)
                })
                .collect::<Result<Vec<bool>>>()
        })?;
        let changed_dirs: Vec<String> = items
            .iter()
            .zip(&differs)
            .filter(|(_, d)| **d)
            .map(|(it, _)| it.rel.rsplit_once('/').map(|(d, _)| d.to_owned()).unwrap_or_default())
            .collect();
        let mut todo: Vec<&Item> = items
            .iter()
            .zip(&differs)
            .filter(|(it, d)| {
                **d || (rank(&it.rel) == 2 && {
                    let dir = it.rel.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                    changed_dirs.iter().any(|c| dir.is_empty() || c == dir || c.starts_with(&format!("{dir}/")))
                })
            })
            .map(|(it, _)| it)
            .collect();
        todo.sort_by(|a, b| rank(&a.rel).cmp(&rank(&b.rel)).then(a.rel.cmp(&b.rel)));
        Ok(todo)
    }
}

/// Copies the tree at `src_dir` of `src` to `dest` of `dst` (a path whose parent is the
/// sink's root or below it). `progress` receives bytes as they are copied.
pub fn copy_tree(
    src: &dyn Sink,
    src_dir: &str,
    dst: &dyn Sink,
    dest: &str,
    job: &str,
    opts: TransferOptions<'_>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<TransferReport> {
    let mut items = Vec::new();
    walk(src, src_dir, "", &mut items).map_err(io_err("cannot list", src, src_dir))?;
    if items.is_empty() && !src.exists(src_dir).map_err(io_err("cannot read", src, src_dir))? {
        return Err(Error::NotFound { path: src.describe(src_dir) });
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(if opts.parallel == 0 { 4 } else { opts.parallel })
        .thread_name(|i| format!("idbsync-copy-{i}"))
        .build()
        .map_err(Error::Threads)?;
    let exists = dst.exists(dest).map_err(io_err("cannot read", dst, dest))?;
    let report = TransferReport { files: items.len(), destination: dst.describe(dest), ..Default::default() };
    let copy = CopyJob { src, src_dir, dst, dest, job, opts, pool, progress };
    match (exists, opts.update) {
        (false, _) => copy.copy_new(&items, report),
        (true, true) => copy.copy_update(&items, report),
        (true, false) => Err(Error::DestinationExists { path: dst.describe(dest) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sink::LocalSink;

    fn tree(root: &std::path::Path, files: &[(&str, &str)]) {
        for (p, text) in files {
            let p = root.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    }

    fn read_tree(root: &std::path::Path) -> Vec<(String, String)> {
        let s = LocalSink::new(root);
        let mut items = Vec::new();
        walk(&s, "", "", &mut items).unwrap();
        items.into_iter().map(|i| (i.rel.clone(), String::from_utf8(s.read(&i.rel).unwrap()).unwrap())).collect()
    }

    #[test]
    fn copies_a_tree_then_updates_only_what_differs() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        tree(
            a.path(),
            &[
                ("orders/day=1/part-0.parquet", "one"),
                ("orders/_SUCCESS", ""),
                ("orders/_idbsync/manifest.json", "{}"),
                ("orders/_temporary/job/part-9.parquet", "staged"),
                ("customers/part-0.parquet", "c"),
            ],
        );
        let (src, dst) = (LocalSink::new(a.path()), LocalSink::new(b.path()));
        let opts = TransferOptions { verify: true, ..Default::default() };
        let r = copy_tree(&src, "", &dst, "out", "j1", opts, &|_| {}).unwrap();
        assert_eq!((r.files, r.copied, r.unchanged), (4, 4, 0));
        let copied = read_tree(&b.path().join("out"));
        assert_eq!(copied.len(), 4, "_temporary is not copied: {copied:?}");
        assert!(!b.path().join("out/orders/_temporary").exists());
        assert_eq!(std::fs::read_dir(b.path()).unwrap().count(), 1, "no staging left beside");

        let again = copy_tree(&src, "", &dst, "out", "j2", opts, &|_| {}).unwrap_err().to_string();
        assert!(again.contains("already exists"), "{again}");

        tree(a.path(), &[("orders/day=1/part-0.parquet", "uno"), ("orders/day=2/part-1.parquet", "two")]);
        let up = TransferOptions { update: true, ..opts };
        let r = copy_tree(&src, "", &dst, "out", "j3", up, &|_| {}).unwrap();
        // The changed file, the new file, and the dataset's _SUCCESS (published last again).
        assert_eq!((r.copied, r.unchanged), (3, 2));
        assert_eq!(
            read_tree(&b.path().join("out")),
            read_tree(a.path()).into_iter().filter(|(p, _)| !p.contains(TEMPORARY)).collect::<Vec<_>>()
        );
        assert!(!b.path().join("out/_temporary").exists());
        let r = copy_tree(&src, "", &dst, "out", "j4", up, &|_| {}).unwrap();
        assert_eq!((r.copied, r.unchanged), (0, 5), "nothing differs now");
    }

    #[test]
    fn a_cancelled_copy_publishes_nothing_and_removes_its_staging() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        tree(a.path(), &[("s/part-0.parquet", "x"), ("s/_SUCCESS", "")]);
        let (src, dst) = (LocalSink::new(a.path()), LocalSink::new(b.path()));
        let token = Cancel::new();
        let opts = TransferOptions { cancel: Some(&token), ..Default::default() };
        // Cancelled once the first file is copied.
        let e = copy_tree(&src, "", &dst, "out", "j1", opts, &|_| {
            token.cancel();
        })
        .unwrap_err();
        assert!(matches!(e, Error::Cancelled), "{e}");
        assert_eq!(std::fs::read_dir(b.path()).unwrap().count(), 0, "nothing published, no staging left");

        // An update stopped the same way leaves the destination as it was.
        let fresh = Cancel::new();
        copy_tree(&src, "", &dst, "out", "j2", TransferOptions { cancel: Some(&fresh), ..opts }, &|_| {}).unwrap();
        tree(a.path(), &[("s/part-0.parquet", "changed")]);
        let before = read_tree(&b.path().join("out"));
        let up = TransferOptions { update: true, ..opts };
        let e = copy_tree(&src, "", &dst, "out", "j3", up, &|_| {}).unwrap_err();
        assert!(matches!(e, Error::Cancelled), "{e}");
        assert_eq!(read_tree(&b.path().join("out")), before);
        assert!(!b.path().join("out").join(TEMPORARY).exists());
    }

    #[test]
    fn a_stale_staging_folder_is_removed_and_a_missing_source_named() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        tree(a.path(), &[("s/part-0.parquet", "x")]);
        tree(b.path(), &[(".out.idbsync-old/s/part-0.parquet", "half")]);
        let (src, dst) = (LocalSink::new(a.path()), LocalSink::new(b.path()));
        copy_tree(&src, "", &dst, "out", "j", TransferOptions::default(), &|_| {}).unwrap();
        let names: Vec<_> = std::fs::read_dir(b.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec!["out"]);
        let e = copy_tree(&src, "nope", &dst, "out2", "j", TransferOptions::default(), &|_| {}).unwrap_err();
        assert!(matches!(&e, Error::NotFound { path } if path.ends_with("nope")), "{e}");
        assert!(e.to_string().ends_with("nope does not exist"), "{e}");
    }
}
