//! Checking a committed dataset against its manifest: every data file is there with its
//! recorded size (always, after each commit) and, on request, its recorded CRC32C
//! (read back in full: `--verify`). The CRC32C of a whole file is what Hadoop reports as
//! its `COMPOSITE-CRC32C` file checksum, so `hadoop fs -checksum` agrees with the manifest.

use crate::dataset::checksum::{checksum, crc_hex};
use crate::dataset::manifest::Manifest;
use crate::error::{Error, Result};
use crate::storage::sink::Sink;
use rayon::prelude::*;

/// Checks the files of `manifest` in dataset `dir`: sizes from a listing, and with `deep`
/// the checksum of every byte. Returns the first mismatch as an error naming the file.
pub fn verify_dataset(sink: &dyn Sink, dir: &str, manifest: &Manifest, deep: bool) -> Result<()> {
    manifest.files.par_iter().try_for_each(|f| {
        let path = format!("{dir}/{}", f.path);
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        let listed = sink.list(parent).map_err(|source| Error::VerifyIo {
            what: "cannot list",
            path: sink.describe(parent),
            source,
        })?;
        let entry = listed
            .iter()
            .find(|e| e.name == name && !e.is_dir)
            .ok_or_else(|| Error::Verify(format!("{} is in the manifest but missing", sink.describe(&path))))?;
        if entry.len != f.bytes {
            return Err(Error::Verify(format!(
                "{} has {} bytes, the manifest says {}",
                sink.describe(&path),
                entry.len,
                f.bytes
            )));
        }
        if deep {
            let (len, crc) = checksum(sink, &path).map_err(|source| Error::VerifyIo {
                what: "cannot read back",
                path: sink.describe(&path),
                source,
            })?;
            if len != f.bytes || crc_hex(crc) != f.crc32c {
                return Err(Error::Verify(format!(
                    "{} reads back as {len} bytes with CRC32C {}, the manifest says {} bytes with {}",
                    sink.describe(&path),
                    crc_hex(crc),
                    f.bytes,
                    f.crc32c
                )));
            }
        }
        Ok(())
    })
}
