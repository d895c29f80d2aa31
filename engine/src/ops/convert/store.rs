//! One store's side of a conversion (its job, writers and counts), and the guard that
//! aborts the jobs of a conversion that stops before its commit.

use super::{OnInvalid, RejectRecord};
use crate::dataset::commit::Job;
use crate::dataset::manifest::{Counts, REJECTS};
use crate::error::{Error, Result};
use crate::output::parquet::StoreWriter;
use crate::output::partition::PartitionField;
use crate::storage::sink::{CountingWriter, Sink};
use arrow::array::RecordBatch;
use std::io::Write;
use std::ops::{Deref, DerefMut};

/// One store being converted.
pub(super) struct StoreState {
    pub(super) name: String,
    /// The partition terms that apply to this store.
    pub(super) partition_by: Vec<PartitionField>,
    pub(super) job: Job,
    /// Taken when the files are closed.
    pub(super) writer: Option<StoreWriter>,
    /// Opened at the first quarantined record.
    pub(super) rejects: Option<CountingWriter>,
    pub(super) counts: Counts,
    pub(super) bytes_in: u64,
}

impl StoreState {
    /// The rejects file, relative to the dataset.
    pub(super) fn rejects_file(&self) -> String {
        format!("{REJECTS}/part-{}.ndjson", self.job.id)
    }

    /// The rejects file in the staging folder.
    pub(super) fn rejects_path(&self) -> String {
        format!("{}/{}", self.job.staging(), self.rejects_file())
    }

    /// Accounts for a record that does not fit: skipped, quarantined, or the error
    /// that stops the job.
    pub(super) fn reject(&mut self, rec: RejectRecord, on_invalid: OnInvalid, sink: &dyn Sink) -> Result<()> {
        match on_invalid {
            OnInvalid::Skip => self.counts.skipped += 1,
            OnInvalid::Fail => {
                return Err(Error::Invalid {
                    store: rec.store,
                    record: rec.record,
                    offset: rec.offset,
                    path: rec.path,
                    reason: rec.reason,
                })
            }
            OnInvalid::Quarantine => {
                self.counts.rejected += 1;
                let path = self.rejects_path();
                let w = match &mut self.rejects {
                    Some(w) => w,
                    None => {
                        let f =
                            sink.create(&path).map_err(|source| Error::Write { path: sink.describe(&path), source })?;
                        self.rejects.insert(CountingWriter::new(f))
                    }
                };
                let mut line = serde_json::to_vec(&rec).expect("reject serialises");
                line.push(b'\n');
                w.write_all(&line).map_err(|source| Error::Write { path: sink.describe(&path), source })?;
            }
        }
        Ok(())
    }

    /// Writes a batch of decoded records.
    pub(super) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.counts.written += batch.num_rows() as u64;
        let writer = self.writer.as_mut().expect("writer");
        writer.write(batch).map_err(|e| Error::Store { store: self.name.clone(), source: Box::new(e) })
    }
}

/// The stores of a conversion. Dropped before [`Stores::committed`], it aborts every
/// store's job: staging is removed, and so are the dataset folders this job made.
pub(super) struct Stores {
    states: Vec<StoreState>,
    committed: bool,
}

impl Stores {
    pub(super) fn new() -> Self {
        Stores { states: Vec::new(), committed: false }
    }

    pub(super) fn push(&mut self, st: StoreState) {
        self.states.push(st);
    }

    /// Every store is committed: nothing is aborted any more.
    pub(super) fn committed(mut self) {
        self.committed = true;
    }
}

impl Deref for Stores {
    type Target = [StoreState];
    fn deref(&self) -> &[StoreState] {
        &self.states
    }
}

impl DerefMut for Stores {
    fn deref_mut(&mut self) -> &mut [StoreState] {
        &mut self.states
    }
}

impl Drop for Stores {
    fn drop(&mut self) {
        if !self.committed {
            for s in &self.states {
                s.job.abort();
            }
        }
    }
}
