//! The commit protocol (Hadoop's FileOutputCommitter v1 order): files are staged
//! under `<store>/_temporary/<job>/`, renamed into place only when all are closed,
//! then `_idbsync/manifest.json` is written and `_SUCCESS` last. A dataset without
//! `_SUCCESS` is not committed; a later job removes stale staging folders.

use crate::dataset::manifest::{is_data, Counts, FileInfo, Manifest, MANIFEST, META_DIR, SUCCESS, TEMPORARY};
use crate::dataset::recover::remove_unlisted;
use crate::storage::sink::Sink;
use serde::{Deserialize, Serialize};
use std::io;
use std::sync::Arc;

/// What to do when the dataset already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Refuse to write over an existing dataset.
    #[default]
    Error,
    /// Replace the existing dataset.
    Overwrite,
    /// Add files to the existing dataset (the schema must match).
    Append,
}

pub use crate::error::CommitError;

/// One store's job: staging, then commit or abort.
pub struct Job {
    sink: Arc<dyn Sink>,
    /// The dataset directory (relative to the sink root).
    pub dir: String,
    /// The job id (in file names).
    pub id: String,
    mode: Mode,
    previous: Option<Manifest>,
    /// The dataset directory did not exist before this job (an abort removes it again).
    created: bool,
    /// The dataset had its `_SUCCESS` before this job (a failed append puts it back).
    was_committed: bool,
}

impl Job {
    /// Prepares a job on dataset `dir`: checks the mode against what exists and
    /// removes stale staging folders of jobs that died.
    pub fn prepare(sink: Arc<dyn Sink>, dir: String, id: String, mode: Mode) -> Result<Job, CommitError> {
        let io_err = |what: &'static str, path: String| move |source| CommitError::Io { what, path, source };
        // A commit that a killed run left half done is undone first.
        crate::dataset::recover::undo_interrupted(sink.as_ref(), &dir)
            .map_err(io_err("cannot recover", sink.describe(&dir)))?;
        let mut entries = sink.list(&dir).map_err(io_err("cannot list", sink.describe(&dir)))?;
        let created = entries.is_empty() && !sink.exists(&dir).map_err(io_err("cannot read", sink.describe(&dir)))?;
        if !entries.iter().any(|e| e.name == SUCCESS) && entries.iter().any(|e| is_data(&e.name)) {
            // Not committed: data here is what an interrupted commit published. Files the
            // manifest lists (an append killed before `_SUCCESS`) stay; others go.
            let listed: Vec<String> = sink
                .read(&format!("{dir}/{MANIFEST}"))
                .ok()
                .and_then(|t| serde_json::from_slice::<Manifest>(&t).ok())
                .map(|m| m.files.into_iter().map(|f| f.path).collect())
                .unwrap_or_default();
            remove_unlisted(sink.as_ref(), &dir, "", &listed).map_err(io_err("cannot clean", sink.describe(&dir)))?;
            entries = sink.list(&dir).map_err(io_err("cannot list", sink.describe(&dir)))?;
        }
        let was_committed = entries.iter().any(|e| e.name == SUCCESS);
        let has_data = entries.iter().any(|e| is_data(&e.name)) || was_committed;
        if has_data && mode == Mode::Error {
            return Err(CommitError::Exists(sink.describe(&dir)));
        }
        let previous = if mode == Mode::Append && has_data {
            let text = sink
                .read(&format!("{dir}/{MANIFEST}"))
                .map_err(io_err("cannot read", sink.describe(&format!("{dir}/{MANIFEST}"))))?;
            Some(serde_json::from_slice(&text).map_err(|e| CommitError::Io {
                what: "invalid manifest",
                path: sink.describe(&format!("{dir}/{MANIFEST}")),
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            })?)
        } else {
            None
        };
        // Any staging folder left now belongs to a job that did not finish.
        let tmp = format!("{dir}/{TEMPORARY}");
        sink.remove_all(&tmp).map_err(io_err("cannot clean", sink.describe(&tmp)))?;
        Ok(Job { sink, dir, id, mode, previous, created, was_committed })
    }

    /// Where this job stages its files.
    pub fn staging(&self) -> String {
        format!("{}/{TEMPORARY}/{}", self.dir, self.id)
    }

    /// The manifest of the dataset being appended to.
    pub fn previous(&self) -> Option<&Manifest> {
        self.previous.as_ref()
    }

    /// Checks that an append writes the same columns as the existing dataset.
    pub fn check_append(&self, schema: &serde_json::Value) -> Result<(), CommitError> {
        let Some(prev) = &self.previous else { return Ok(()) };
        // Name, type and extension (a JSON-text column is not a plain string column).
        // Types compare as JSON values: the metadata maps of nested fields come from hash
        // maps, so their keys are written in any order.
        let strip = |v: &serde_json::Value| -> Vec<(String, serde_json::Value, String)> {
            v["fields"]
                .as_array()
                .map(|fs| {
                    fs.iter()
                        .map(|f| {
                            let ext = f["metadata"][schema_infer::EXTENSION_NAME].as_str().unwrap_or("").to_owned();
                            (f["name"].to_string(), f["data_type"].clone(), ext)
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let (old, new) = (strip(&prev.schema), strip(schema));
        for (o, n) in old.iter().zip(&new) {
            if o.0 != n.0 || o.1 != n.1 || o.2 != n.2 {
                let kind = |t: &str, e: &str| if e.is_empty() { t.to_owned() } else { format!("{t} ({e})") };
                return Err(CommitError::Incompatible {
                    path: self.sink.describe(&self.dir),
                    reason: format!(
                        "field {} is {} there, but {} {} here",
                        o.0,
                        kind(&o.1.to_string(), &o.2),
                        n.0,
                        kind(&n.1.to_string(), &n.2)
                    ),
                });
            }
        }
        if old.len() != new.len() {
            return Err(CommitError::Incompatible {
                path: self.sink.describe(&self.dir),
                reason: format!("the dataset has {} columns, this input {}", old.len(), new.len()),
            });
        }
        Ok(())
    }

    /// Publishes the staged files: (overwrite: remove the old dataset), rename
    /// each file into place, write the manifest, then `_SUCCESS`. When a step fails (a
    /// full disk, say), what this job published is taken back and its staging removed:
    /// nothing of it stays visible, and an appended-to dataset is left as it was.
    pub fn commit(&self, files: &[FileInfo], rejects: &[String], manifest: Manifest) -> Result<Manifest, CommitError> {
        let mut done = Done::default();
        // What the dataset is now, kept in the staging folder until the commit is done, so
        // that the next job can undo this commit if the process dies in its middle.
        let staging = self.staging();
        let res =
            crate::dataset::recover::record(self.sink.as_ref(), &self.dir, &staging, &self.id, self.was_committed)
                .map_err(|source| CommitError::Io { what: "cannot write", path: self.sink.describe(&staging), source })
                .and_then(|_| self.publish(files, rejects, manifest, &mut done));
        if res.is_err() {
            self.take_back(&done);
        }
        self.cleanup();
        res
    }

    fn publish(
        &self,
        files: &[FileInfo],
        rejects: &[String],
        mut manifest: Manifest,
        done: &mut Done,
    ) -> Result<Manifest, CommitError> {
        let s = &self.sink;
        let io_err = |what: &'static str, path: String| move |source| CommitError::Io { what, path, source };
        let success = format!("{}/{SUCCESS}", self.dir);
        s.remove_all(&success).map_err(io_err("cannot remove", s.describe(&success)))?;
        if self.mode == Mode::Overwrite {
            done.old_removed = true;
            for e in s.list(&self.dir).map_err(io_err("cannot list", s.describe(&self.dir)))? {
                if e.name != TEMPORARY && e.name != META_DIR {
                    let p = format!("{}/{}", self.dir, e.name);
                    s.remove_all(&p).map_err(io_err("cannot remove", s.describe(&p)))?;
                }
            }
        }
        let staging = self.staging();
        let moves = files.iter().map(|f| f.path.clone()).chain(rejects.iter().cloned());
        for rel in moves {
            let (from, to) = (format!("{staging}/{rel}"), format!("{}/{rel}", self.dir));
            s.rename(&from, &to).map_err(io_err("cannot publish", s.describe(&to)))?;
            done.published.push(rel);
        }
        if let Some(prev) = &self.previous {
            let mut all = prev.files.clone();
            all.extend_from_slice(&manifest.files);
            manifest.files = all;
            let mut rej = prev.rejects.clone();
            rej.extend_from_slice(&manifest.rejects);
            manifest.rejects = rej;
            let mut jobs = prev.jobs.clone();
            jobs.extend_from_slice(&manifest.jobs);
            manifest.jobs = jobs;
            let (a, b) = (prev.total, manifest.counts);
            manifest.total = Counts {
                read: a.read + b.read,
                written: a.written + b.written,
                rejected: a.rejected + b.rejected,
                skipped: a.skipped + b.skipped,
            };
        }
        let mpath = format!("{}/{MANIFEST}", self.dir);
        let text = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
        s.write_atomic(&mpath, &text).map_err(io_err("cannot write", s.describe(&mpath)))?;
        done.manifest_written = true;
        s.write_atomic(&success, b"").map_err(io_err("cannot write", s.describe(&success)))?;
        Ok(manifest)
    }

    /// Undoes a failed commit (best effort: the error being reported is the commit's):
    /// removes the files it published and the folders that left empty, its half-written
    /// metadata, and puts an appended-to dataset's manifest and `_SUCCESS` back.
    fn take_back(&self, done: &Done) {
        let s = self.sink.as_ref();
        for rel in &done.published {
            let _ = s.remove_all(&format!("{}/{rel}", self.dir));
            // Partition folders (and `_rejects/`) that only this job's files made.
            let mut parent = rel.as_str();
            while let Some((up, _)) = parent.rsplit_once('/') {
                let p = format!("{}/{up}", self.dir);
                if !s.list(&p).map(|l| l.is_empty()).unwrap_or(false) || s.remove_all(&p).is_err() {
                    break;
                }
                parent = up;
            }
        }
        let (mpath, success) = (format!("{}/{MANIFEST}", self.dir), format!("{}/{SUCCESS}", self.dir));
        for tmp in [format!("{mpath}.tmp"), format!("{success}.tmp")] {
            let _ = s.remove_all(&tmp);
        }
        if let Some(prev) = &self.previous {
            if done.manifest_written {
                let _ = s.write_atomic(&mpath, &serde_json::to_vec_pretty(prev).expect("manifest serialises"));
            }
            if self.was_committed {
                let _ = s.write_atomic(&success, b"");
            }
        } else if done.manifest_written || done.old_removed {
            // This job's manifest, or one whose files an overwrite has removed.
            let _ = s.remove_all(&mpath);
        }
        let meta = format!("{}/{META_DIR}", self.dir);
        if s.list(&meta).map(|l| l.is_empty()).unwrap_or(false) {
            let _ = s.remove_all(&meta);
        }
    }

    /// Gives the job up before its commit: removes its staging and, when this job made
    /// the dataset directory and it is empty again, the directory.
    pub fn abort(&self) {
        self.cleanup();
        if self.created && self.sink.list(&self.dir).map(|l| l.is_empty()).unwrap_or(false) {
            let _ = self.sink.remove_all(&self.dir);
        }
    }

    /// Removes this job's staging folder (after a commit, or to abort).
    pub fn cleanup(&self) {
        let _ = self.sink.remove_all(&self.staging());
        let tmp = format!("{}/{TEMPORARY}", self.dir);
        if self.sink.list(&tmp).map(|l| l.is_empty()).unwrap_or(false) {
            let _ = self.sink.remove_all(&tmp);
        }
    }
}

/// How far a commit got, for taking it back.
#[derive(Default)]
struct Done {
    /// An overwrite started removing the old dataset.
    old_removed: bool,
    /// Files renamed into the dataset (relative to it).
    published: Vec<String>,
    /// The new manifest is in place.
    manifest_written: bool,
}

/// A fresh job id: time-ordered and unique (`20261125T151200-3f9a2c`).
pub fn new_job_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (y, m, d) = crate::output::partition::civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    let r: u32 = rand::random::<u32>() & 0xff_ffff;
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}-{r:06x}", t / 3600, t / 60 % 60, t % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::manifest::Timings;
    use crate::storage::sink::LocalSink;
    use serde_json::json;

    /// Regression (bad-input corpus): appending to a dataset whose schema has a nested
    /// field with two metadata keys failed at random ("field d is … there, but … here"),
    /// because the types were compared as text and the keys come from a hash map.
    #[test]
    fn append_accepts_the_same_schema_with_nested_metadata_keys_in_another_order() {
        let dir = tempfile::tempdir().unwrap();
        let nested = |meta: serde_json::Value| {
            json!({"fields": [{"name": "d", "nullable": true, "metadata": {}, "data_type": {"Struct": [
                {"name": "a", "data_type": "Utf8", "nullable": true, "metadata": meta}]}}]})
        };
        let there = nested(json!({"ARROW:extension:name": "arrow.json", "ARROW:extension:metadata": ""}));
        let here = nested(json!({"ARROW:extension:metadata": "", "ARROW:extension:name": "arrow.json"}));
        assert_ne!(there.to_string(), here.to_string());
        let manifest = Manifest {
            version: 1,
            job_id: "j1".into(),
            jobs: vec!["j1".into()],
            store: "s".into(),
            input: "in".into(),
            options: json!({}),
            partition_by: vec![],
            counts: Counts::default(),
            total: Counts::default(),
            files: vec![],
            rejects: vec![],
            schema: there,
            timings: Timings::default(),
        };
        let job = Job {
            sink: Arc::new(LocalSink::new(dir.path())),
            dir: "s".into(),
            id: "j2".into(),
            mode: Mode::Append,
            previous: Some(manifest),
            created: false,
            was_committed: true,
        };
        job.check_append(&here).unwrap();
        let other = nested(json!({"ARROW:extension:metadata": ""}));
        assert!(job.check_append(&other).is_err());
    }
}
