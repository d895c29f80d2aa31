//! Undoing a commit that a killed process left half done.
//!
//! A failed commit takes itself back ([`crate::Job::commit`]), but a process killed in the
//! middle of its commit cannot: it may have published some files, written its manifest,
//! and not `_SUCCESS`. Before publishing anything, a commit therefore records in its
//! staging folder (`_temporary/<job>/_idbsync/commit.json`) what the dataset was before;
//! the staging folder goes when the commit is done. The next job on the dataset finds the
//! record and puts the dataset back as it was ([`undo_interrupted`]): the killed job's
//! files and manifest go, an appended-to dataset gets its manifest and `_SUCCESS` back.
//!
//! Without the record the next job could not tell a manifest that a killed commit had
//! written (its files must go, or the next run refuses the dataset as existing) from the
//! manifest of the dataset being appended to (its files must stay).

use crate::dataset::manifest::{is_data, Manifest, MANIFEST, META_DIR, REJECTS, SUCCESS, TEMPORARY};
use crate::storage::sink::Sink;
use serde::{Deserialize, Serialize};
use std::io;

/// The record's path inside a job's staging folder.
const RECORD: &str = "_idbsync/commit.json";

/// What a commit in progress changes, and what the dataset was before it.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    /// The committing job.
    job: String,
    /// The dataset's manifest before the commit, if it had one.
    previous: Option<Manifest>,
    /// Whether the dataset had its `_SUCCESS` before the commit.
    was_committed: bool,
}

/// Records, before `job` (staging in `staging`) publishes anything into the dataset `dir`,
/// what the dataset is now.
pub(crate) fn record(sink: &dyn Sink, dir: &str, staging: &str, job: &str, was_committed: bool) -> io::Result<()> {
    let previous = sink.read(&format!("{dir}/{MANIFEST}")).ok().and_then(|t| serde_json::from_slice(&t).ok());
    let rec = Record { job: job.to_owned(), previous, was_committed };
    sink.write_atomic(&format!("{staging}/{RECORD}"), &serde_json::to_vec(&rec).expect("record serialises"))
}

/// Puts the dataset `dir` back as it was before every commit that a killed process left
/// half done (a staging folder with a record, and no `_SUCCESS` with that job's manifest).
pub(crate) fn undo_interrupted(sink: &dyn Sink, dir: &str) -> io::Result<()> {
    let tmp = format!("{dir}/{TEMPORARY}");
    for e in sink.list(&tmp)? {
        let staging = format!("{tmp}/{}", e.name);
        let Some(rec) =
            sink.read(&format!("{staging}/{RECORD}")).ok().and_then(|t| serde_json::from_slice::<Record>(&t).ok())
        else {
            continue;
        };
        undo(sink, dir, rec)?;
        sink.remove_all(&staging)?;
    }
    Ok(())
}

fn undo(sink: &dyn Sink, dir: &str, rec: Record) -> io::Result<()> {
    let (mpath, success) = (format!("{dir}/{MANIFEST}"), format!("{dir}/{SUCCESS}"));
    let manifest: Option<Manifest> = sink.read(&mpath).ok().and_then(|t| serde_json::from_slice(&t).ok());
    if sink.exists(&success)? && manifest.as_ref().is_some_and(|m| m.job_id == rec.job) {
        // Killed after its commit was complete: only the staging folder was left.
        return Ok(());
    }
    // The dataset as it was, if all of it is still there (an overwrite may have begun
    // removing it: then nothing of it is kept).
    let mut previous = rec.previous;
    if let Some(p) = &previous {
        for rel in p.files.iter().map(|f| &f.path).chain(&p.rejects) {
            if !sink.exists(&format!("{dir}/{rel}"))? {
                previous = None;
                break;
            }
        }
    }
    let keep: Vec<String> =
        previous.as_ref().map(|p| p.files.iter().map(|f| f.path.clone()).collect()).unwrap_or_default();
    remove_unlisted(sink, dir, "", &keep)?;
    let rejects = format!("{dir}/{REJECTS}");
    for r in sink.list(&rejects)? {
        let rel = format!("{REJECTS}/{}", r.name);
        if !previous.as_ref().is_some_and(|p| p.rejects.contains(&rel)) {
            sink.remove_all(&format!("{dir}/{rel}"))?;
        }
    }
    if sink.list(&rejects)?.is_empty() {
        sink.remove_all(&rejects)?;
    }
    for half in [format!("{mpath}.tmp"), format!("{success}.tmp")] {
        sink.remove_all(&half)?;
    }
    match &previous {
        Some(p) => {
            if manifest.as_ref() != Some(p) {
                sink.write_atomic(&mpath, &serde_json::to_vec_pretty(p).expect("manifest serialises"))?;
            }
            if rec.was_committed {
                sink.write_atomic(&success, b"")?;
            }
        }
        None => {
            sink.remove_all(&success)?;
            sink.remove_all(&mpath)?;
            let meta = format!("{dir}/{META_DIR}");
            if sink.list(&meta)?.is_empty() {
                sink.remove_all(&meta)?;
            }
        }
    }
    Ok(())
}

/// Removes the data files under `dir/rel` that `keep` does not list, and folders left empty.
pub(crate) fn remove_unlisted(sink: &dyn Sink, dir: &str, rel: &str, keep: &[String]) -> io::Result<bool> {
    let here = if rel.is_empty() { dir.to_owned() } else { format!("{dir}/{rel}") };
    let mut left = false;
    for e in sink.list(&here)? {
        if rel.is_empty() && !is_data(&e.name) {
            left = true;
            continue;
        }
        let child = if rel.is_empty() { e.name.clone() } else { format!("{rel}/{}", e.name) };
        if e.is_dir {
            if remove_unlisted(sink, dir, &child, keep)? {
                left = true;
            } else {
                sink.remove_all(&format!("{dir}/{child}"))?;
            }
        } else if keep.contains(&child) {
            left = true;
        } else {
            sink.remove_all(&format!("{dir}/{child}"))?;
        }
    }
    Ok(left)
}

#[cfg(test)]
mod tests {
    use crate::dataset::commit::{Job, Mode};
    use crate::dataset::manifest::{Counts, FileInfo, Manifest, Timings};
    use crate::storage::sink::{Entry, LocalSink, Sink, SinkFile};
    use std::collections::BTreeMap;
    use std::io::{self, Read, Write};
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    /// A local sink whose process "dies" after a number of steps (creating, closing,
    /// renaming, removing): from then on every call fails and nothing changes any more,
    /// which is what a SIGKILL leaves on disk.
    struct Mortal {
        inner: LocalSink,
        steps_left: Arc<AtomicI64>,
    }

    fn killed() -> io::Error {
        io::Error::other("killed")
    }

    fn step(left: &AtomicI64) -> io::Result<()> {
        if left.fetch_sub(1, Ordering::SeqCst) <= 0 {
            left.store(0, Ordering::SeqCst);
            return Err(killed());
        }
        Ok(())
    }

    fn alive(left: &AtomicI64) -> io::Result<()> {
        if left.load(Ordering::SeqCst) <= 0 {
            return Err(killed());
        }
        Ok(())
    }

    struct MortalFile {
        inner: Box<dyn SinkFile>,
        steps_left: Arc<AtomicI64>,
    }

    impl Write for MortalFile {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            alive(&self.steps_left)?;
            self.inner.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            alive(&self.steps_left)?;
            self.inner.flush()
        }
    }

    impl SinkFile for MortalFile {
        fn close(self: Box<Self>) -> io::Result<()> {
            step(&self.steps_left)?;
            self.inner.close()
        }
    }

    impl Sink for Mortal {
        fn create(&self, path: &str) -> io::Result<Box<dyn SinkFile>> {
            step(&self.steps_left)?;
            let inner = self.inner.create(path)?;
            Ok(Box::new(MortalFile { inner, steps_left: self.steps_left.clone() }))
        }
        fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            step(&self.steps_left)?;
            self.inner.rename(from, to)
        }
        fn replace(&self, from: &str, to: &str) -> io::Result<()> {
            step(&self.steps_left)?;
            self.inner.replace(from, to)
        }
        fn remove_all(&self, path: &str) -> io::Result<()> {
            step(&self.steps_left)?;
            self.inner.remove_all(path)
        }
        fn list(&self, path: &str) -> io::Result<Vec<Entry>> {
            alive(&self.steps_left)?;
            self.inner.list(path)
        }
        fn exists(&self, path: &str) -> io::Result<bool> {
            alive(&self.steps_left)?;
            self.inner.exists(path)
        }
        fn open(&self, path: &str) -> io::Result<Box<dyn Read + Send>> {
            alive(&self.steps_left)?;
            self.inner.open(path)
        }
        fn describe(&self, path: &str) -> String {
            self.inner.describe(path)
        }
    }

    /// Stages a job's files (two data files, one in a partition, and a rejects file) and
    /// returns its file list and its manifest.
    fn stage(sink: &dyn Sink, job: &Job) -> (Vec<FileInfo>, Vec<String>, Manifest) {
        let id = &job.id;
        let mut files = Vec::new();
        for rel in [format!("part-00000-{id}.zstd.parquet"), format!("day=2024-03-01/part-00001-{id}.zstd.parquet")] {
            let mut f = sink.create(&format!("{}/{rel}", job.staging())).unwrap();
            f.write_all(format!("data of {rel}").as_bytes()).unwrap();
            f.close().unwrap();
            files.push(FileInfo { path: rel, rows: 1, bytes: 0, crc32c: String::new(), partition: BTreeMap::new() });
        }
        let rejects = vec![format!("_rejects/part-{id}.ndjson")];
        let mut f = sink.create(&format!("{}/{}", job.staging(), rejects[0])).unwrap();
        f.write_all(b"{}\n").unwrap();
        f.close().unwrap();
        let counts = Counts { read: 3, written: 2, rejected: 1, skipped: 0 };
        let manifest = Manifest {
            version: 1,
            job_id: id.clone(),
            jobs: vec![id.clone()],
            store: "s".into(),
            input: "in".into(),
            options: serde_json::json!({}),
            partition_by: vec![],
            counts,
            total: counts,
            files: files.clone(),
            rejects: rejects.clone(),
            schema: serde_json::json!({"fields": []}),
            timings: Timings::default(),
        };
        (files, rejects, manifest)
    }

    /// Every file under `root/ds` but the staging, with its bytes.
    fn snapshot(root: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
        fn walk(dir: &std::path::Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) {
            let Ok(rd) = std::fs::read_dir(dir) else { return };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let child = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
                if child == super::TEMPORARY {
                    continue;
                }
                if e.path().is_dir() {
                    walk(&e.path(), &child, out);
                } else {
                    out.insert(child, std::fs::read(e.path()).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&root.join("ds"), "", &mut out);
        out
    }

    /// Regression: a run killed during its commit after writing its manifest, before
    /// `_SUCCESS` (a window of a few NameNode calls on HDFS), left its files listed by
    /// that manifest, so the next run kept them and refused the dataset as existing; an
    /// append killed there left its records in the dataset, to be appended again.
    ///
    /// Kills the commit after every one of its steps in turn, on a new dataset, on a
    /// committed one appended to and on one overwritten: the next job on the dataset finds
    /// it exactly as before the killed commit (an overwrite that had begun removing the
    /// old files: empty), unless the commit had finished.
    #[test]
    fn a_commit_killed_after_any_step_is_undone_by_the_next_job() {
        for mode in [Mode::Error, Mode::Append, Mode::Overwrite] {
            for steps in 0.. {
                let dir = tempfile::tempdir().unwrap();
                let local: Arc<dyn Sink> = Arc::new(LocalSink::new(dir.path()));
                if mode != Mode::Error {
                    let job = Job::prepare(local.clone(), "ds".into(), "j0".into(), Mode::Error).unwrap();
                    let (files, rejects, manifest) = stage(local.as_ref(), &job);
                    job.commit(&files, &rejects, manifest).unwrap();
                }
                let before = snapshot(dir.path());
                let steps_left = Arc::new(AtomicI64::new(i64::MAX));
                let mortal: Arc<dyn Sink> =
                    Arc::new(Mortal { inner: LocalSink::new(dir.path()), steps_left: steps_left.clone() });
                let job = Job::prepare(mortal, "ds".into(), "j1".into(), mode).unwrap();
                let (files, rejects, manifest) = stage(local.as_ref(), &job);
                steps_left.store(steps, Ordering::SeqCst);
                let committed = job.commit(&files, &rejects, manifest).is_ok();
                drop(job);

                let next = Job::prepare(local.clone(), "ds".into(), "j2".into(), Mode::Append).unwrap();
                let after = snapshot(dir.path());
                let what = format!("{mode:?}, killed after {steps} steps");
                if committed {
                    let m: Manifest = serde_json::from_slice(&after["_idbsync/manifest.json"]).unwrap();
                    assert_eq!(m.job_id, "j1", "{what}");
                    assert!(after.contains_key("_SUCCESS"), "{what}");
                    assert!(steps >= 6, "{what}: the commit took only {steps} steps");
                    break;
                }
                if mode == Mode::Overwrite && after.is_empty() {
                    // The old dataset had begun to go: nothing of it, nor of the new one.
                    assert!(next.previous().is_none(), "{what}");
                    continue;
                }
                assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>(), "{what}");
                assert!(after == before, "{what}: the bytes differ");
                assert_eq!(next.previous().map(|m| m.job_id.as_str()), (mode != Mode::Error).then_some("j0"), "{what}");
            }
        }
    }
}
