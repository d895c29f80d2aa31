//! Where datasets are stored, opened in one place: a [`Location`] (a local folder or
//! `hdfs://…`) with [`StorageOptions`] gives a [`Sink`] (the engine's one seam with a
//! filesystem: [`LocalSink`], and the HDFS sink of the `hdfs` feature) or an
//! `object_store` over the same location (what DataFusion reads through).
//!
//! Without the `hdfs` cargo feature an `hdfs://` location is refused with a message saying so.

#[cfg(feature = "hdfs")]
pub(crate) mod hdfs;
pub(crate) mod location;
pub(crate) mod options;
pub(crate) mod sink;

use location::Location;
use options::StorageOptions;
use sink::{LocalSink, Sink};
use std::sync::Arc;

pub use crate::error::StorageError;

/// A sink rooted at `location`. A local folder is created when first written to; an HDFS
/// location checks `opts` and connects (nothing is sent before the first operation).
pub fn open_sink(location: &Location, opts: &StorageOptions) -> crate::Result<Arc<dyn Sink>> {
    match location {
        Location::Local(dir) => Ok(Arc::new(LocalSink::new(dir))),
        Location::Hdfs { .. } => open_hdfs(location, opts),
    }
}

#[cfg(feature = "hdfs")]
fn open_hdfs(location: &Location, opts: &StorageOptions) -> crate::Result<Arc<dyn Sink>> {
    opts.check()?;
    let sink = hdfs::HdfsSink::connect(&location.to_string(), opts).map_err(StorageError::Connect)?;
    Ok(Arc::new(sink))
}

#[cfg(not(feature = "hdfs"))]
fn open_hdfs(location: &Location, _: &StorageOptions) -> crate::Result<Arc<dyn Sink>> {
    Err(StorageError::NoHdfs(location.to_string()).into())
}

/// The filesystem of `location` as an `object_store`, with the URL to register it under
/// (`file:///`, or `hdfs://authority`): files of the location are read through it by the
/// path of their URL. HDFS I/O runs on the tokio runtime current when the store is used
/// (DataFusion's).
pub fn open_object_store(
    location: &Location,
    opts: &StorageOptions,
) -> crate::Result<(url::Url, Arc<dyn object_store::ObjectStore>)> {
    match location {
        Location::Local(_) => {
            let url = url::Url::parse("file:///").expect("a valid URL");
            Ok((url, Arc::new(object_store::local::LocalFileSystem::new())))
        }
        Location::Hdfs { base, .. } => hdfs_object_store(location, base, opts),
    }
}

#[cfg(feature = "hdfs")]
fn hdfs_object_store(
    location: &Location,
    base: &str,
    opts: &StorageOptions,
) -> crate::Result<(url::Url, Arc<dyn object_store::ObjectStore>)> {
    opts.check()?;
    let failed = |source| StorageError::ObjectStore { location: location.to_string(), source };
    let store = hdfs_native_object_store::HdfsObjectStoreBuilder::new()
        .with_url(base)
        .with_config(opts.hdfs_config()?)
        .build()
        .map_err(failed)?;
    let url =
        url::Url::parse(base).map_err(|e| failed(object_store::Error::Generic { store: "HDFS", source: e.into() }))?;
    Ok((url, Arc::new(store)))
}

#[cfg(not(feature = "hdfs"))]
fn hdfs_object_store(
    location: &Location,
    _: &str,
    _: &StorageOptions,
) -> crate::Result<(url::Url, Arc<dyn object_store::ObjectStore>)> {
    Err(StorageError::NoHdfs(location.to_string()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_locations_open_without_options() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let sink = open_sink(&Location::parse(out.to_str().unwrap()).unwrap(), &StorageOptions::new()).unwrap();
        sink.write_atomic("a/b.txt", b"x").unwrap();
        assert_eq!(std::fs::read(out.join("a/b.txt")).unwrap(), b"x");
        // HDFS options do not concern a local folder.
        let odd = StorageOptions::new().with_block_size(1);
        assert!(open_sink(&Location::Local(out), &odd).is_ok());
        let (url, _) = open_object_store(&Location::Local(dir.path().into()), &odd).unwrap();
        assert_eq!(url.as_str(), "file:///");
    }

    #[cfg(feature = "hdfs")]
    #[test]
    fn hdfs_options_are_checked_before_connecting() {
        let hdfs = Location::parse("hdfs://127.0.0.1:1/x").unwrap();
        let e = open_sink(&hdfs, &StorageOptions::new().with_replication(0)).err().unwrap();
        assert_eq!(e.to_string(), "--replication must be at least 1");
        let e = open_object_store(&hdfs, &StorageOptions::new().with_hdfs_conf("k")).err().unwrap();
        assert_eq!(e.to_string(), "--hdfs-conf k: expected KEY=VALUE");
    }

    /// The message the `hdfs` feature promises when it is off.
    #[cfg(not(feature = "hdfs"))]
    #[test]
    fn hdfs_is_refused_without_the_feature() {
        let hdfs = Location::parse("hdfs://alice:pw@nn:8020/data").unwrap();
        let want = "hdfs://nn:8020/data: this idbsync was built without HDFS support (cargo feature `hdfs`)";
        assert_eq!(open_sink(&hdfs, &StorageOptions::new()).err().unwrap().to_string(), want);
        assert_eq!(open_object_store(&hdfs, &StorageOptions::new()).err().unwrap().to_string(), want);
    }
}
