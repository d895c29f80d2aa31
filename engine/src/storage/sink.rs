//! Where datasets are written: the one seam between the engine and a filesystem.
//! [`LocalSink`] is the embedded default; the HDFS sink implements the same trait.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// A file being written. `close` makes it durable; dropping without closing
/// leaves a partial file that the commit protocol never publishes.
pub trait SinkFile: Write + Send {
    /// Flushes and closes the file durably.
    fn close(self: Box<Self>) -> io::Result<()>;
}

/// An entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's name within its directory.
    pub name: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Size in bytes (files).
    pub len: u64,
}

/// A sink path: `name` inside folder `dir` (either may be `""`: the sink's root, or `dir` itself).
///
/// ```
/// assert_eq!(engine::join_path("orders", "_SUCCESS"), "orders/_SUCCESS");
/// assert_eq!(engine::join_path("", "orders"), "orders");
/// assert_eq!(engine::join_path("orders", ""), "orders");
/// ```
pub fn join_path(dir: &str, name: &str) -> String {
    match (dir.is_empty(), name.is_empty()) {
        (true, _) => name.to_owned(),
        (_, true) => dir.to_owned(),
        _ => format!("{dir}/{name}"),
    }
}

/// A filesystem rooted at the output location. Paths are relative, `/`-separated
/// ([`join_path`] builds them).
pub trait Sink: Send + Sync {
    /// Creates (or truncates) a file, making parent directories.
    fn create(&self, path: &str) -> io::Result<Box<dyn SinkFile>>;
    /// Renames a file or directory, making the target's parent; fails if the target exists.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Renames a file over `to`, replacing it atomically if it exists (readers see the old
    /// or the new file, never neither); makes the target's parent.
    fn replace(&self, from: &str, to: &str) -> io::Result<()>;
    /// Removes a file or a directory tree; a missing path is not an error.
    fn remove_all(&self, path: &str) -> io::Result<()>;
    /// Lists a directory; a missing directory lists as empty.
    fn list(&self, path: &str) -> io::Result<Vec<Entry>>;
    /// Whether a path exists.
    fn exists(&self, path: &str) -> io::Result<bool>;
    /// Opens a file for streaming reads.
    fn open(&self, path: &str) -> io::Result<Box<dyn Read + Send>>;
    /// Reads a whole (small) file.
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.open(path)?.read_to_end(&mut out)?;
        Ok(out)
    }
    /// A description for messages (`/data/out`, `hdfs://nn:8020/out`).
    fn describe(&self, path: &str) -> String;

    /// Writes a small file atomically: to `path.tmp`, then renamed over `path`.
    fn write_atomic(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let tmp = format!("{path}.tmp");
        let mut f = self.create(&tmp)?;
        f.write_all(bytes)?;
        f.close()?;
        self.replace(&tmp, path)
    }
}

/// The local filesystem under a root folder.
#[derive(Debug, Clone)]
pub struct LocalSink {
    root: PathBuf,
}

impl LocalSink {
    /// A sink writing under `root` (created when needed).
    pub fn new(root: impl Into<PathBuf>) -> LocalSink {
        LocalSink { root: root.into() }
    }

    /// The absolute path of a relative sink path.
    pub fn path(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }
}

struct LocalFile {
    file: io::BufWriter<File>,
}

impl Write for LocalFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl SinkFile for LocalFile {
    fn close(self: Box<Self>) -> io::Result<()> {
        let f = self.file.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()
    }
}

fn sync_dir(p: &Path) {
    // Directory fsync makes renames durable; not every platform allows it.
    if let Ok(d) = File::open(p) {
        let _ = d.sync_all();
    }
}

impl Sink for LocalSink {
    fn create(&self, path: &str) -> io::Result<Box<dyn SinkFile>> {
        let p = self.path(path);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)?;
        }
        let f = OpenOptions::new().write(true).create(true).truncate(true).open(&p)?;
        Ok(Box::new(LocalFile { file: io::BufWriter::with_capacity(1 << 20, f) }))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (a, b) = (self.path(from), self.path(to));
        if b.exists() {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} exists", b.display())));
        }
        if let Some(parent) = b.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::rename(&a, &b)?;
        if let Some(parent) = b.parent() {
            sync_dir(parent);
        }
        Ok(())
    }

    fn replace(&self, from: &str, to: &str) -> io::Result<()> {
        let (a, b) = (self.path(from), self.path(to));
        if let Some(parent) = b.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::rename(&a, &b)?;
        if let Some(parent) = b.parent() {
            sync_dir(parent);
        }
        Ok(())
    }

    fn remove_all(&self, path: &str) -> io::Result<()> {
        let p = self.path(path);
        match fs::symlink_metadata(&p) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
            Ok(m) if m.is_dir() => fs::remove_dir_all(&p),
            Ok(_) => fs::remove_file(&p),
        }
    }

    fn list(&self, path: &str) -> io::Result<Vec<Entry>> {
        let p = self.path(path);
        let rd = match fs::read_dir(&p) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            r => r?,
        };
        let mut out = Vec::new();
        for e in rd {
            let e = e?;
            let m = e.metadata()?;
            out.push(Entry { name: e.file_name().to_string_lossy().into_owned(), is_dir: m.is_dir(), len: m.len() });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn exists(&self, path: &str) -> io::Result<bool> {
        Ok(self.path(path).exists())
    }

    fn open(&self, path: &str) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(self.path(path))?))
    }

    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path(path))
    }

    fn describe(&self, path: &str) -> String {
        self.path(path).display().to_string()
    }
}

/// Wraps a sink file, counting bytes and computing a CRC32C of everything written
/// (the checksum the manifest records; Hadoop's COMPOSITE_CRC file checksum).
pub struct CountingWriter {
    inner: Box<dyn SinkFile>,
    /// Bytes written so far.
    pub bytes: u64,
    /// CRC32C of the bytes written so far.
    pub crc: u32,
}

impl CountingWriter {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn SinkFile>) -> CountingWriter {
        CountingWriter { inner, bytes: 0, crc: 0 }
    }

    /// Closes the file; returns (bytes, crc32c).
    pub fn close(self) -> io::Result<(u64, u32)> {
        self.inner.close()?;
        Ok((self.bytes, self.crc))
    }
}

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_sink_basics() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalSink::new(dir.path());
        let mut w = CountingWriter::new(s.create("a/b/c.txt").unwrap());
        w.write_all(b"hello").unwrap();
        let (n, crc) = w.close().unwrap();
        assert_eq!((n, crc), (5, crc32c::crc32c(b"hello")));
        assert!(s.exists("a/b/c.txt").unwrap());
        s.rename("a/b/c.txt", "x/y.txt").unwrap();
        assert_eq!(s.read("x/y.txt").unwrap(), b"hello");
        assert!(s.rename("a", "x").is_err(), "rename onto an existing path fails");
        s.write_atomic("x/m.json", b"{}").unwrap();
        let names: Vec<String> = s.list("x").unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, vec!["m.json", "y.txt"]);
        s.remove_all("x").unwrap();
        assert!(!s.exists("x").unwrap());
        assert!(s.list("nope").unwrap().is_empty());
    }
}
