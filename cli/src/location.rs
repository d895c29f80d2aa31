//! Where a command reads or writes: a local folder or `hdfs://…`, opened as an engine sink.

use crate::args::HdfsArgs;
use crate::size::parse_size;
use anyhow::{Context, Result};
use engine::{LocalSink, Sink};
use std::path::Path;
use std::sync::Arc;

impl HdfsArgs {
    /// The engine's HDFS options.
    pub fn options(&self) -> Result<engine::HdfsOptions> {
        let config = self
            .hdfs_conf
            .iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .with_context(|| format!("--hdfs-conf {kv}: expected KEY=VALUE"))
            })
            .collect::<Result<Vec<_>>>()?;
        let block_size = match &self.block_size {
            None => None,
            Some(s) => {
                let n = parse_size(s).map_err(anyhow::Error::msg).context("--block-size")?;
                anyhow::ensure!(
                    n > 0 && n % 512 == 0,
                    "--block-size {s}: HDFS needs a multiple of 512 bytes (e.g. 128MiB, 4MiB)"
                );
                Some(n)
            }
        };
        anyhow::ensure!(self.replication != Some(0), "--replication must be at least 1");
        Ok(engine::HdfsOptions { block_size, replication: self.replication, config })
    }
}

/// A sink rooted at `location` (a folder, or `hdfs://…`).
pub fn open_sink(location: &str, hdfs: &HdfsArgs) -> Result<Arc<dyn Sink>> {
    if engine::is_hdfs_url(location) {
        let sink = engine::HdfsSink::connect(location, &hdfs.options()?)?;
        Ok(Arc::new(sink))
    } else {
        anyhow::ensure!(
            !location.contains("://"),
            "{location}: only local folders and hdfs:// (or viewfs://) locations are supported"
        );
        Ok(Arc::new(LocalSink::new(Path::new(location))))
    }
}

/// A sink rooted at the parent of `location`, and the last component's name: for copies
/// that stage beside the destination and rename it into place.
pub fn open_parent(location: &str, hdfs: &HdfsArgs) -> Result<(Arc<dyn Sink>, String)> {
    let trimmed = location.trim_end_matches('/');
    let (parent, name) = if engine::is_hdfs_url(trimmed) {
        let (base, path) = engine::split_url(trimmed)?;
        let (p, n) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        anyhow::ensure!(!n.is_empty(), "{location}: the destination cannot be the filesystem root");
        (format!("{base}/{}", p.trim_start_matches('/')), n.to_owned())
    } else {
        let p = Path::new(trimmed);
        let name = p.file_name().with_context(|| format!("{location}: the destination needs a folder name"))?;
        let parent = p.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        (parent.to_string_lossy().into_owned(), name.to_string_lossy().into_owned())
    };
    Ok((open_sink(&parent, hdfs)?, name))
}
