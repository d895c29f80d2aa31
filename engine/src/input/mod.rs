//! The input side: opening sources (files, stdin, gzip/zstd), inference over them, and
//! decoding records into Arrow columns.

pub(crate) mod column;
pub(crate) mod decode;
pub(crate) mod field_kind;
pub(crate) mod infer;
pub(crate) mod source;
