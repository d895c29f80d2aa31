//! Input sources: a file or stdin, with gzip or zstd compression detected from the
//! magic bytes. This is the I/O edge in front of the pure inference core.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// How an input is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain bytes.
    None,
    /// gzip (one or more members).
    Gzip,
    /// Zstandard.
    Zstd,
}

/// An opened input: a reader of decompressed bytes and what was learned opening it.
pub struct Source {
    /// The path as given (`-` for stdin).
    pub path: PathBuf,
    /// Detected compression.
    pub compression: Compression,
    /// Size on disk when known (compressed size for compressed files).
    pub size: Option<u64>,
    /// The default store name for single-store inputs: the file name without its
    /// extensions (`orders.ndjson.gz` → `orders`), or `records` for stdin.
    pub store_name: String,
    /// The decompressed bytes.
    pub reader: Box<dyn Read + Send>,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Opens `path` (`-` is stdin) and wraps it in the right decompressor.
pub fn open(path: &Path) -> Result<Source> {
    let (inner, size): (Box<dyn Read + Send>, Option<u64>) = if path == Path::new("-") {
        (Box::new(io::stdin()), None)
    } else {
        let f = File::open(path).map_err(|source| Error::Open { path: path.to_owned(), source })?;
        let size = f.metadata().ok().map(|m| m.len());
        (Box::new(f), size)
    };
    let mut buf = BufReader::with_capacity(1 << 20, inner);
    let head = buf.fill_buf().map_err(|source| Error::Read { path: path.to_owned(), source })?;
    let compression = if head.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    };
    let reader: Box<dyn Read + Send> = match compression {
        Compression::None => Box::new(buf),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buf)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(buf)
                .map_err(|source| Error::Read { path: path.to_owned(), source })?,
        ),
    };
    Ok(Source { path: path.to_owned(), compression, size, store_name: store_name_of(path), reader })
}

/// The format a file's name promises: `.ndjson`, `.jsonl` and `.ldjson` (also under
/// `.gz`/`.zst`) are NDJSON whatever their first line looks like (a one-line file
/// `{"a":[1,2]}` would otherwise read as a `{store: [records]}` dump). `None`: detect.
pub fn format_of_name(path: &Path) -> Option<schema_infer::Format> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let name = [".gz", ".gzip", ".zst", ".zstd"].iter().find_map(|c| name.strip_suffix(c)).unwrap_or(&name);
    [".ndjson", ".jsonl", ".ldjson"].iter().any(|e| name.ends_with(e)).then_some(schema_infer::Format::Ndjson)
}

/// `dir/orders.ndjson.gz` → `orders`; stdin → `records`.
pub fn store_name_of(path: &Path) -> String {
    if path == Path::new("-") {
        return "records".into();
    }
    let mut name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for ext in [".gz", ".gzip", ".zst", ".zstd", ".ndjson", ".jsonl", ".json"] {
        if let Some(stripped) = name.strip_suffix(ext) {
            name = stripped.to_owned();
        }
    }
    if name.is_empty() {
        "records".into()
    } else {
        name
    }
}

/// Reads `source` in blocks of `block` bytes on a separate thread (so reading and
/// decompressing overlap with the work), handing each block to `f` in order.
/// At most two blocks are in flight, so memory stays bounded.
pub fn for_each_block<E>(
    source: Source,
    block: usize,
    mut f: impl FnMut(&[u8]) -> std::result::Result<(), E>,
) -> std::result::Result<Result<()>, E> {
    let Source { path, mut reader, .. } = source;
    let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(2);
    let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let handle = std::thread::spawn(move || loop {
        let mut v = back_rx.try_recv().unwrap_or_else(|_| Vec::with_capacity(block));
        v.clear();
        // `read_to_end` fills spare capacity without zeroing it first.
        let r = loop {
            match (&mut reader).take((block - v.len()) as u64).read_to_end(&mut v) {
                Ok(0) => break Ok(()),
                Ok(_) if v.len() >= block => break Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        let filled = v.len();
        v.truncate(filled);
        let done = filled == 0 || r.is_err();
        let msg = r.map(|_| v);
        if tx.send(msg).is_err() || done {
            return;
        }
    });
    let mut out = Ok(());
    for msg in rx.iter() {
        match msg {
            Ok(v) if v.is_empty() => break,
            Ok(v) => {
                if let Err(e) = f(&v) {
                    drop(rx);
                    let _ = handle.join();
                    return Err(e);
                }
                let _ = back_tx.send(v);
            }
            Err(source) => {
                out = Err(Error::Read { path: path.clone(), source });
                break;
            }
        }
    }
    let _ = handle.join();
    Ok(out)
}

/// Reads `source` in blocks ([`for_each_block`]) and hands `f` the input in runs of
/// whole records: `f(buf, base, eof)` gets bytes starting at input offset `base` and
/// gives how many of them it used (the rest comes again, followed by the next block);
/// with `eof` it must use them all. `each_block` sees every block first, as read. A UTF-8
/// BOM at the start is skipped (offsets still count it). Errors of `each_block` and `f`
/// come before a read error.
pub fn for_each_run<E: From<Error>>(
    source: Source,
    mut each_block: impl FnMut(&[u8]) -> std::result::Result<(), E>,
    mut f: impl FnMut(&[u8], u64, bool) -> std::result::Result<usize, E>,
) -> std::result::Result<(), E> {
    let mut carry = schema_infer::Carry::new();
    let mut started = false;
    let read = for_each_block(source, crate::input::infer::BLOCK_BYTES, |block| {
        each_block(block)?;
        let mut block = block;
        if !started {
            started = true;
            if block.starts_with(b"\xEF\xBB\xBF") {
                block = &block[3..];
                carry.skip(3);
            }
        }
        carry.feed(block, |buf, base| f(buf, base, false))
    });
    read?.map_err(E::from)?;
    carry.finish(|buf, base| f(buf, base, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn store_names() {
        assert_eq!(store_name_of(Path::new("a/orders.ndjson.gz")), "orders");
        assert_eq!(store_name_of(Path::new("x.json")), "x");
        assert_eq!(store_name_of(Path::new("-")), "records");
    }

    /// Issue 14 (round-trip finding N14): a one-line `x.ndjson` holding `{"a":[1,2]}`
    /// was read as a `{store: [records]}` dump (store `a`, records 1 and 2).
    #[test]
    fn ndjson_names_are_ndjson_whatever_the_first_line() {
        use schema_infer::Format;
        for name in ["x.ndjson", "a/x.JSONL", "x.ldjson.gz", "x.ndjson.zst"] {
            assert_eq!(format_of_name(Path::new(name)), Some(Format::Ndjson), "{name}");
        }
        for name in ["x.json", "x.json.gz", "-", "ndjson"] {
            assert_eq!(format_of_name(Path::new(name)), None, "{name}");
        }
    }

    #[test]
    fn compressed_inputs_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"{\"a\":1}\n".repeat(1000);
        let plain = dir.path().join("p.ndjson");
        std::fs::write(&plain, &text).unwrap();
        let gz = dir.path().join("p.ndjson.gz");
        let mut e = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        e.write_all(&text).unwrap();
        e.finish().unwrap();
        let zst = dir.path().join("p.ndjson.zst");
        std::fs::write(&zst, zstd::encode_all(&text[..], 3).unwrap()).unwrap();
        for (p, c) in [(plain, Compression::None), (gz, Compression::Gzip), (zst, Compression::Zstd)] {
            let s = open(&p).unwrap();
            assert_eq!(s.compression, c);
            let mut got = Vec::new();
            for_each_block::<()>(s, 1000, |b| {
                got.extend_from_slice(b);
                Ok(())
            })
            .unwrap()
            .unwrap();
            assert_eq!(got, text);
        }
    }
}
