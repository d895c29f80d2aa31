//! The server's own folder in the spool folder, and the removal of those that servers
//! killed without a chance to clean up (`kill -9`, a machine that stopped) left behind.
//!
//! Several servers may share one spool folder (the system's temp folder, by default). Each
//! spools into `idbsync-serve-<pid>-<random>/` and holds an advisory lock
//! ([`std::fs::File::try_lock`], `flock` on Unix) on the file `lock` in it for as long as it
//! runs; the kernel releases the lock when the process ends, however it ends. A folder of
//! that name whose lock can be taken belongs to no running server: it is removed when the
//! next server starts. The folder is made under a hidden name and renamed into place with
//! its lock already held, so a starting server never sees a live folder unlocked.

use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The start of the name of every server's spool folder.
const PREFIX: &str = "idbsync-serve-";
/// The lock file in it.
const LOCK: &str = "lock";
/// A folder still under its hidden name is being made; one older than this was left by a
/// server killed while making it.
const MAKING: Duration = Duration::from_secs(60);

/// This server's spool folder, locked while it lives; removed when dropped (a graceful
/// stop), or by the next server to start after a kill.
#[derive(Debug)]
pub struct SpoolDir {
    path: PathBuf,
    /// Holds the lock.
    _lock: File,
}

impl SpoolDir {
    /// Makes this process's spool folder in `parent` (which must exist), after removing
    /// the folders of servers that are no longer running. Returns it with the number of
    /// folders removed.
    pub fn create(parent: &Path) -> io::Result<(SpoolDir, usize)> {
        let removed = remove_stale(parent)?;
        let making = tempfile::Builder::new()
            .prefix(&format!(".{PREFIX}{}-", std::process::id()))
            .suffix(".new")
            .tempdir_in(parent)?;
        let lock = File::create(making.path().join(LOCK))?;
        lock.try_lock().map_err(|e| match e {
            TryLockError::Error(e) => e,
            TryLockError::WouldBlock => io::Error::other("a new lock file is locked by another process"),
        })?;
        let name = making.path().file_name().and_then(|n| n.to_str()).expect("a UTF-8 name");
        let path = parent.join(name.trim_start_matches('.').trim_end_matches(".new"));
        std::fs::rename(making.path(), &path)?;
        // Renamed away: nothing is left for the TempDir to delete.
        let _ = making.keep();
        Ok((SpoolDir { path, _lock: lock }, removed))
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SpoolDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Removes the spool folders in `parent` whose server is no longer running (their lock
/// can be taken, or they have none), and hidden ones left half-made long ago. Folders of
/// running servers, and everything else in `parent`, are left alone. Returns how many
/// were removed.
pub fn remove_stale(parent: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(parent)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let placed = name.starts_with(PREFIX);
        let half_made = name.starts_with(&format!(".{PREFIX}")) && name.ends_with(".new");
        if !(placed || half_made) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if half_made && !older_than(&entry.path(), MAKING) {
            continue;
        }
        if is_stale(&entry.path()) && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Whether no running process holds the lock of spool folder `dir`.
fn is_stale(dir: &Path) -> bool {
    match File::open(dir.join(LOCK)) {
        // Taken here, the lock is released when `f` is dropped, after the removal.
        Ok(f) => f.try_lock().is_ok(),
        Err(e) => e.kind() == io::ErrorKind::NotFound,
    }
}

fn older_than(p: &Path, age: Duration) -> bool {
    let modified = std::fs::metadata(p).and_then(|m| m.modified()).unwrap_or(SystemTime::now());
    modified.elapsed().is_ok_and(|e| e > age)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_servers_folder_goes_and_a_live_ones_stays() {
        let parent = tempfile::tempdir().unwrap();
        let (live, removed) = SpoolDir::create(parent.path()).unwrap();
        assert_eq!(removed, 0);
        let name = live.path().file_name().unwrap().to_str().unwrap().to_owned();
        assert!(name.starts_with(&format!("{PREFIX}{}-", std::process::id())), "{name}");
        assert!(live.path().join(LOCK).is_file());
        // As a killed server leaves it: its lock file, unlocked, and a spooled body.
        let dead = parent.path().join(format!("{PREFIX}999999-abc"));
        std::fs::create_dir_all(dead.join("idbsync-push-x")).unwrap();
        std::fs::write(dead.join(LOCK), b"").unwrap();
        std::fs::write(dead.join("idbsync-push-x/body.json"), b"{}").unwrap();
        let other = parent.path().join("someone-elses.tmp");
        std::fs::write(&other, b"x").unwrap();

        let (second, removed) = SpoolDir::create(parent.path()).unwrap();
        assert_eq!(removed, 1);
        assert!(!dead.exists() && other.exists() && live.path().is_dir());
        let (p1, p2) = (live.path().to_owned(), second.path().to_owned());
        drop(live);
        assert!(!p1.exists(), "a graceful stop removes its folder");
        assert!(p2.is_dir());
    }
}
