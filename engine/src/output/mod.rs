//! The output side: the Parquet writer and the partitioning of rows into directories.

pub(crate) mod parquet;
pub(crate) mod partition;
