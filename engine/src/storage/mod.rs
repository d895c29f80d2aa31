//! Where datasets are stored: the `Sink` trait, the local folder, and HDFS.

#[cfg(feature = "hdfs")]
pub(crate) mod hdfs;
pub(crate) mod sink;
