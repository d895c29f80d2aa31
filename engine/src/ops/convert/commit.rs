//! After pass 2: every file closed, then each store's dataset committed and checked.

use super::plan::Plan;
use super::store::StoreState;
use super::{options_json, ConvertReport, Ctx, Phase, StoreReport};
use crate::dataset::manifest::{FileInfo, Manifest, Timings};
use crate::error::{Error, Result};
use std::time::Instant;

/// One store's closed files: data files and rejects files (relative to the dataset).
struct Closed {
    files: Vec<FileInfo>,
    rejects: Vec<String>,
}

/// Closes every file, then commits the stores one by one. An error aborts the jobs
/// not committed (dropping the plan); a cancellation stops the job up to the first
/// commit, after which the commit is finished (a dataset is committed whole or not at all).
pub(super) fn commit(cx: &Ctx, mut plan: Plan, infer_ms: u64, convert_ms: u64) -> Result<ConvertReport> {
    let cancel = &cx.opts.cancel;
    let t2 = Instant::now();
    // Close every file before anything is published.
    let mut closed = Vec::new();
    for st in plan.stores.iter_mut() {
        cancel.check()?;
        closed.push(close(cx, st).map_err(|e| cancel.or(e))?);
    }
    // The last point where a cancellation stops the job.
    cancel.check()?;
    (cx.progress)(Phase::Commit, 0);
    let timings = || Timings { infer_ms, convert_ms, commit_ms: t2.elapsed().as_millis() as u64 };
    let mut reports = Vec::new();
    for (st, c) in plan.stores.iter().zip(closed) {
        let manifest = Manifest {
            version: 1,
            job_id: plan.job_id.clone(),
            jobs: vec![plan.job_id.clone()],
            store: st.name.clone(),
            input: cx.display.display().to_string(),
            options: options_json(cx.opts),
            partition_by: st.partition_by.iter().map(|p| p.to_string()).collect(),
            counts: st.counts,
            total: st.counts,
            files: c.files.clone(),
            rejects: c.rejects.clone(),
            schema: serde_json::to_value(cx.inferred.store(&st.name).expect("store").schema.as_ref())
                .expect("schema serialises"),
            timings: timings(),
        };
        reports.push(commit_store(cx, st, c, manifest)?);
    }
    plan.stores.committed();
    Ok(ConvertReport { job_id: plan.job_id, format: cx.inferred.format, stores: reports, timings: timings() })
}

/// Closes a store's data and rejects files.
fn close(cx: &Ctx, st: &mut StoreState) -> Result<Closed> {
    let files = st
        .writer
        .take()
        .expect("writer")
        .finish()
        .map_err(|e| Error::Store { store: st.name.clone(), source: Box::new(e) })?;
    let mut rejects = Vec::new();
    if let Some(w) = st.rejects.take() {
        w.close().map_err(|source| Error::Write { path: cx.sink.describe(&st.rejects_path()), source })?;
        rejects.push(st.rejects_file());
    }
    Ok(Closed { files, rejects })
}

/// Commits one store (a failed commit takes back what it published) and checks the
/// committed dataset.
fn commit_store(cx: &Ctx, st: &StoreState, c: Closed, manifest: Manifest) -> Result<StoreReport> {
    let committed = st.job.commit(&c.files, &c.rejects, manifest)?;
    crate::dataset::verify::verify_dataset(cx.sink.as_ref(), &st.job.dir, &committed, cx.opts.verify)?;
    Ok(StoreReport {
        store: st.name.clone(),
        path: cx.sink.describe(&st.job.dir),
        counts: st.counts,
        files: c.files.len(),
        bytes_in: st.bytes_in,
        bytes_out: c.files.iter().map(|f| f.bytes).sum(),
        warnings: cx.inferred.store(&st.name).map(|s| s.warnings.clone()).unwrap_or_default(),
    })
}
