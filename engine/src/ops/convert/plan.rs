//! Before pass 2: the checks that need the schemas, the thread pool, and one prepared
//! job with its writer per store.

use super::store::{StoreState, Stores};
use super::Ctx;
use crate::dataset::commit::{new_job_id, Job};
use crate::dataset::manifest::Counts;
use crate::error::{Error, Result};
use crate::output::parquet::StoreWriter;
use crate::output::partition::{has_path, store_dir_name, PartitionField};
use schema_infer::InferResult;
use std::collections::HashMap;
use std::sync::Arc;

/// A conversion ready for pass 2. Dropping it before the commit aborts its jobs.
pub(super) struct Plan {
    pub(super) job_id: String,
    pub(super) pool: Arc<rayon::ThreadPool>,
    pub(super) stores: Stores,
}

/// Checks the partition terms and dataset directories, then prepares every store's job.
pub(super) fn plan(cx: &Ctx) -> Result<Plan> {
    let opts = cx.opts;
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(opts.threads)
            .build()
            .map_err(|e| Error::Convert { store: String::new(), reason: e.to_string() })?,
    );
    check_partition_terms(cx.inferred, &opts.partition_by)?;
    check_dirs(cx.inferred)?;
    let job_id = new_job_id();
    let mut stores = Stores::new();
    for st in &cx.inferred.stores {
        let job = Job::prepare(cx.sink.clone(), store_dir_name(&st.name), job_id.clone(), opts.mode)?;
        // Partition terms apply to the stores that have their column; the others
        // (e.g. a customers table beside orders) are written unpartitioned.
        let spec: Vec<PartitionField> =
            opts.partition_by.iter().filter(|p| has_path(&st.schema, &p.path)).cloned().collect();
        let writer = StoreWriter::new(
            cx.sink.clone(),
            job.staging(),
            job_id.clone(),
            &st.schema,
            spec.clone(),
            opts.parquet.clone(),
            pool.clone(),
        )
        .map_err(|e| Error::Store { store: st.name.clone(), source: Box::new(e) })?;
        // The manifest records the store's whole schema (partition columns included).
        let schema_json = serde_json::to_value(st.schema.as_ref()).expect("schema serialises");
        job.check_append(&schema_json)?;
        stores.push(StoreState {
            name: st.name.clone(),
            partition_by: spec,
            job,
            writer: Some(writer),
            rejects: None,
            counts: Counts::default(),
            bytes_in: 0,
        });
    }
    Ok(Plan { job_id, pool, stores })
}

/// A partition term must name a column of at least one store (a typo is an error).
fn check_partition_terms(inferred: &InferResult, partition_by: &[PartitionField]) -> Result<()> {
    for p in partition_by {
        if !inferred.stores.iter().any(|st| has_path(&st.schema, &p.path)) {
            let stores: Vec<&str> = inferred.stores.iter().map(|s| s.name.as_str()).collect();
            return Err(Error::Convert {
                store: stores.join(", "),
                reason: format!("partition column '{}' is in no store's schema", p.path.join(".")),
            });
        }
    }
    Ok(())
}

/// Escaping keeps store names inside the output root; two names that escape alike
/// (`""` and `"\0"`, or long names cut to the same prefix and hash) must not share
/// a dataset directory.
fn check_dirs(inferred: &InferResult) -> Result<()> {
    let mut dirs: HashMap<String, &str> = HashMap::new();
    for st in &inferred.stores {
        if let Some(other) = dirs.insert(store_dir_name(&st.name), &st.name) {
            return Err(Error::Convert {
                store: store_dir_name(&st.name),
                reason: format!(
                    "stores {other:?} and {:?} would share the directory '{}'; rename one of them",
                    st.name,
                    store_dir_name(&st.name)
                ),
            });
        }
    }
    Ok(())
}
