//! File checksums: the CRC32C of a whole file, read through a sink, and its hex form in a manifest.

use crate::storage::sink::Sink;
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
