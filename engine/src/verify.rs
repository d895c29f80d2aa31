//! Checking a committed dataset against its manifest: every data file is there with its
//! recorded size (always, after each commit) and, on request, its recorded CRC32C
//! (read back in full: `--verify`). The CRC32C of a whole file is what Hadoop reports as
//! its `COMPOSITE-CRC32C` file checksum, so `hadoop fs -checksum` agrees with the manifest.

use crate::commit::Manifest;
use crate::sink::Sink;
use rayon::prelude::*;
use std::io::{self, Read};

/// Reads a file through the sink; returns its size and CRC32C.
pub fn checksum(sink: &dyn Sink, path: &str) -> io::Result<(u64, u32)> {
    let mut r = sink.open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut len, mut crc) = (0u64, 0u32);
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok((len, crc)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        crc = crc32c::crc32c_append(crc, &buf[..n]);
        len += n as u64;
    }
}

/// A CRC32C as the manifest writes it (8 lower-case hex digits).
pub fn crc_hex(crc: u32) -> String {
    format!("{crc:08x}")
}

/// Checks the files of `manifest` in dataset `dir`: sizes from a listing, and with `deep`
/// the checksum of every byte. Returns the first mismatch as an error naming the file.
pub fn verify_dataset(sink: &dyn Sink, dir: &str, manifest: &Manifest, deep: bool) -> Result<(), String> {
    manifest.files.par_iter().try_for_each(|f| {
        let path = format!("{dir}/{}", f.path);
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        let listed = sink.list(parent).map_err(|e| format!("cannot list {}: {e}", sink.describe(parent)))?;
        let entry = listed
            .iter()
            .find(|e| e.name == name && !e.is_dir)
            .ok_or_else(|| format!("{} is in the manifest but missing", sink.describe(&path)))?;
        if entry.len != f.bytes {
            return Err(format!("{} has {} bytes, the manifest says {}", sink.describe(&path), entry.len, f.bytes));
        }
        if deep {
            let (len, crc) =
                checksum(sink, &path).map_err(|e| format!("cannot read back {}: {e}", sink.describe(&path)))?;
            if len != f.bytes || crc_hex(crc) != f.crc32c {
                return Err(format!(
                    "{} reads back as {len} bytes with CRC32C {}, the manifest says {} bytes with {}",
                    sink.describe(&path),
                    crc_hex(crc),
                    f.bytes,
                    f.crc32c
                ));
            }
        }
        Ok(())
    })
}
