//! Inference over a source: the I/O driver around `schema_infer::Inferrer`.

use crate::error::{Error, Result};
use crate::input::source::{self, Source};
use schema_infer::{InferOptions, InferResult, Inferrer};
use std::path::Path;

/// Bytes read per block. Two blocks are in flight at most.
pub const BLOCK_BYTES: usize = 8 << 20;

/// Infers the schemas of the export at `path` (`-` for stdin). Single-store inputs
/// are named after the file unless `opts` names the store.
pub fn infer_path(path: &Path, opts: InferOptions, store: Option<&str>) -> Result<InferResult> {
    let src = source::open(path)?;
    let name = store.map_or_else(|| src.store_name.clone(), str::to_owned);
    infer_source(src, opts.with_store_name(name))
}

/// Infers the schemas of an opened source.
pub fn infer_source(src: Source, opts: InferOptions) -> Result<InferResult> {
    infer_source_with(src, opts, &mut |_| {})
}

/// [`infer_source`], calling `progress` with the bytes read so far after each block.
pub fn infer_source_with(src: Source, opts: InferOptions, progress: &mut dyn FnMut(u64)) -> Result<InferResult> {
    let path = src.path.clone();
    let opts = match opts.format() {
        Some(_) => opts,
        None => opts.with_format(source::format_of_name(&path)),
    };
    let wrap = |source| Error::Infer { path: path.clone(), source: Box::new(source) };
    let mut inf = Inferrer::new(opts).map_err(wrap)?;
    let mut seen = 0u64;
    source::for_each_block(src, BLOCK_BYTES, |b| {
        seen += b.len() as u64;
        progress(seen);
        inf.push(b)
    })
    .map_err(wrap)??;
    inf.finish().map_err(wrap)
}
