//! Cooperative cancellation. The caller (the CLI, on Ctrl-C or SIGTERM) sets a [`Cancel`]
//! token; conversions, copies and downloads check it at their safe points (between input
//! blocks, between batches, between file chunks, before each commit step), stop there,
//! and remove their staging. Once a commit has started it is finished instead, so a
//! dataset is either committed whole or not at all.

use crate::error::{Error, Result};
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A cancellation token: cheap to clone, shared by every clone. A fresh token is never
/// cancelled until [`Cancel::cancel`] is called on it or one of its clones.
///
/// ```
/// use engine::Cancel;
/// let token = Cancel::new();
/// let seen_by_a_job = token.clone();
/// assert!(!seen_by_a_job.is_cancelled());
/// assert!(!token.cancel(), "the first request");
/// assert!(seen_by_a_job.is_cancelled());
/// assert!(token.cancel(), "already cancelled: a second request");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A token that is not cancelled.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks every holder of the token to stop. Returns whether it had already been asked
    /// (so a second Ctrl-C can be told from the first).
    pub fn cancel(&self) -> bool {
        self.0.swap(true, Ordering::SeqCst)
    }

    /// Whether [`Cancel::cancel`] has been called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `Err(Error::Cancelled)` once cancelled: the check at a safe point.
    pub(crate) fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// `e`, or [`Error::Cancelled`] when the token is set: an error that a cancelled job
    /// ran into (a read stopped by [`Cancel::reader`], say) is reported as the cancellation.
    pub(crate) fn or(&self, e: Error) -> Error {
        if self.is_cancelled() {
            Error::Cancelled
        } else {
            e
        }
    }

    /// Wraps a reader so that its reads fail once the token is cancelled.
    pub(crate) fn reader<R: Read>(&self, inner: R) -> CancelRead<R> {
        CancelRead { inner, cancel: self.clone() }
    }
}

/// A reader that stops (with an error) once its token is cancelled.
pub(crate) struct CancelRead<R> {
    inner: R,
    cancel: Cancel,
}

impl<R: Read> Read for CancelRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Err(io::Error::other("cancelled"));
        }
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_reader_stops_and_errors_become_the_cancellation() {
        let token = Cancel::new();
        let mut r = token.reader(&b"abcdef"[..]);
        let mut buf = [0u8; 3];
        assert_eq!(r.read(&mut buf).unwrap(), 3);
        assert!(token.check().is_ok());
        assert!(matches!(token.or(Error::Verify("x".into())), Error::Verify(_)));
        token.cancel();
        assert_eq!(r.read(&mut buf).unwrap_err().to_string(), "cancelled");
        assert!(matches!(token.check(), Err(Error::Cancelled)));
        assert!(matches!(token.or(Error::Verify("x".into())), Error::Cancelled));
    }

    #[test]
    fn a_cancelled_conversion_commits_nothing_and_leaves_no_folder() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("orders.ndjson");
        std::fs::write(&input, "{\"id\":1}\n{\"id\":2}\n").unwrap();
        let out = dir.path().join("out");
        let sink = std::sync::Arc::new(crate::LocalSink::new(&out));
        let token = Cancel::new();
        let opts = crate::ConvertOptions::new().with_cancel(token.clone());
        // Cancelled once the schema is known: before anything is staged.
        let cancel_at_convert = |phase: crate::Phase, _| {
            if phase == crate::Phase::Convert {
                token.cancel();
            }
        };
        let err = crate::convert(&input, sink.clone(), opts.clone(), &cancel_at_convert).unwrap_err();
        assert!(matches!(err, Error::Cancelled), "{err}");
        assert!(!out.exists(), "the output folder is left");
        // Not cancelled, the same options convert.
        let opts = opts.with_cancel(Cancel::new());
        let report = crate::convert(&input, sink, opts, &|_, _| {}).unwrap();
        assert_eq!(report.stores[0].counts.written, 2);
    }
}
