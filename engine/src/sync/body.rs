//! A push's input text, read whole. Once its records are decoded, a merge needs only
//! the rows taken from them, so the text is let go when it can be read again (a file,
//! not stdin) and read again only if an attempt must decode anew (another writer
//! changed the table's columns, or a column must widen).

use crate::cancel::Cancel;
use crate::error::{Error, Result};
use crate::input::source::{self, Compression};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The input's bytes (a UTF-8 byte order mark left out).
#[derive(Clone)]
pub(super) struct Text(Arc<Vec<u8>>);

impl std::ops::Deref for Text {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&self.0)
    }
}

/// The input of a push: held, or let go and read again on demand.
pub(super) struct Body {
    path: PathBuf,
    held: Mutex<Option<Text>>,
    /// Size and modification time of a file when first read: a file that changed since
    /// is not read again (its records would not be those decoded).
    stamp: Option<(u64, Option<SystemTime>)>,
    cancel: Cancel,
}

impl Body {
    /// Reads `path` (`-`: stdin, which is held to the end).
    pub(super) fn read(path: &Path, cancel: &Cancel) -> Result<Body> {
        let stamp = stamp_of(path);
        let text = read_all(path, cancel)?;
        Ok(Body { path: path.to_owned(), held: Mutex::new(Some(text)), stamp, cancel: cancel.clone() })
    }

    /// Bytes given in memory (held to the end).
    #[cfg(test)]
    pub(super) fn in_memory(bytes: Vec<u8>) -> Body {
        let held = Mutex::new(Some(Text(Arc::new(bytes))));
        Body { path: PathBuf::from("-"), held, stamp: None, cancel: Cancel::default() }
    }

    /// The text: the copy held, or the file read again.
    pub(super) fn text(&self) -> Result<Text> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = held.as_ref() {
            return Ok(t.clone());
        }
        if stamp_of(&self.path) != self.stamp {
            let source = std::io::Error::other("the file changed while the push ran; push it again");
            return Err(Error::Read { path: self.path.clone(), source });
        }
        let t = read_all(&self.path, &self.cancel)?;
        *held = Some(t.clone());
        Ok(t)
    }

    /// Lets the text go when it can be read again.
    pub(super) fn release(&self) {
        if self.stamp.is_some() {
            *self.held.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }
}

fn stamp_of(path: &Path) -> Option<(u64, Option<SystemTime>)> {
    if path == Path::new("-") {
        return None;
    }
    let m = std::fs::metadata(path).ok()?;
    m.is_file().then(|| (m.len(), m.modified().ok()))
}

fn read_all(path: &Path, cancel: &Cancel) -> Result<Text> {
    let src = source::open(path)?;
    // A plain file is read into a buffer of its size (growing by doubling would leave up
    // to half again as much room unused).
    let mut bytes = match (src.compression, src.size) {
        (Compression::None, Some(n)) => Vec::with_capacity(n as usize + 1),
        _ => Vec::new(),
    };
    cancel
        .reader(src.reader)
        .read_to_end(&mut bytes)
        .map_err(|source| cancel.or(Error::Read { path: path.to_owned(), source }))?;
    Ok(Text(Arc::new(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_let_go_is_read_again_unless_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.ndjson");
        std::fs::write(&path, b"\xEF\xBB\xBF{\"id\":1}\n").unwrap();
        let body = Body::read(&path, &Cancel::default()).unwrap();
        assert_eq!(&*body.text().unwrap(), b"{\"id\":1}\n");
        body.release();
        assert!(body.held.lock().unwrap().is_none());
        assert_eq!(&*body.text().unwrap(), b"{\"id\":1}\n");
        body.release();
        std::fs::write(&path, b"{\"id\":2}\n{\"id\":3}\n").unwrap();
        let e = body.text().err().expect("a changed file is refused");
        let cause = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default();
        assert!(cause.contains("changed while the push ran"), "{e}: {cause}");
    }

    #[test]
    fn bytes_in_memory_are_held() {
        let body = Body::in_memory(b"{}".to_vec());
        body.release();
        assert_eq!(&*body.text().unwrap(), b"{}");
    }
}
