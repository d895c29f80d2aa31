//! Ctrl-C and SIGTERM (and SIGHUP) for the commands that write: the first signal asks the
//! running job to stop at its next safe point — the engine then removes its staging — and
//! the command exits with [`EXIT_CODE`]; a second signal exits at once (what is left behind
//! then is what a killed run leaves, and the next run removes it).

use anyhow::Result;
use engine::Cancel;
use std::fmt;

/// The exit status of an interrupted command (128 + SIGINT, as shells report it).
pub const EXIT_CODE: u8 = 130;

/// Installs the handler; returns the token the engine checks. Call once, from a command
/// that passes the token on (read-only commands keep the default: Ctrl-C ends them).
pub fn install() -> Result<Cancel> {
    let cancel = Cancel::new();
    let token = cancel.clone();
    ctrlc::set_handler(move || {
        if token.cancel() {
            eprintln!("idbsync: interrupted again: exiting now (the next run removes what is left)");
            std::process::exit(i32::from(EXIT_CODE));
        }
        eprintln!("idbsync: interrupt: stopping at the next safe point (interrupt again to exit now)");
    })?;
    Ok(cancel)
}

/// The error of a command that stopped for an interrupt: what it left behind.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interrupted: {}", self.0)
    }
}

impl std::error::Error for Interrupted {}

/// `res`, except that a job stopped by the token is the interruption, reported as `left`.
/// The engine says so with [`engine::Error::Cancelled`] (found through any context the
/// command added); any other error (one from a commit or a publish, which is finished
/// rather than stopped) stays what it is.
pub fn stopped<T>(res: Result<T>, left: impl FnOnce() -> String) -> Result<T> {
    let Err(e) = res else { return res };
    if e.chain().any(|c| matches!(c.downcast_ref::<engine::Error>(), Some(engine::Error::Cancelled))) {
        return Err(Interrupted(left()).into());
    }
    Err(e)
}

/// After a job that finished although an interrupt came: it came during the commit, which
/// was completed rather than left half done.
pub fn note_completed(cancel: &Cancel, what: &str) {
    if cancel.is_cancelled() {
        eprintln!("idbsync: the interrupt came during the {what}, which was completed");
    }
}
