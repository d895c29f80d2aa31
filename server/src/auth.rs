//! Bearer tokens. The tokens file holds one JSON object per line: the BLAKE3 hash of a
//! token (never the token), an id for logs, and the databases it may read and write:
//!
//! ```text
//! {"id":"t-3f9a1c2b","hash":"<64 hex>","databases":{"shop":"rw","reports":"r"}}
//! ```
//!
//! `idbsync token new` appends a line and prints the token once. A presented token is
//! hashed and compared with every line's hash in constant time (`blake3::Hash`'s `==`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a request needs of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// pull, query, tables.
    Read,
    /// push.
    Write,
}

/// Errors of the tokens file.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file cannot be read or written.
    #[error("tokens file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a token entry.
    #[error("tokens file {path}, line {line}: {reason}")]
    Bad {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A database name a token cannot be for.
    #[error("database '{0}': {1}")]
    Name(String, String),
    /// Neither `--read` nor `--write`.
    #[error("a token must be allowed to read or write (--read, --write)")]
    NoAccess,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Line {
    id: String,
    hash: String,
    databases: BTreeMap<String, String>,
}

/// One token's rights.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The token's id (for logs and per-token limits; never the token).
    pub id: String,
    hash: blake3::Hash,
    databases: BTreeMap<String, (bool, bool)>,
}

impl Grant {
    /// Whether this token may `access` database `db`.
    pub fn allows(&self, db: &str, access: Access) -> bool {
        self.databases.get(db).is_some_and(|&(r, w)| match access {
            Access::Read => r,
            Access::Write => w,
        })
    }
}

/// The tokens of a tokens file.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    grants: Vec<Grant>,
}

impl Tokens {
    /// Reads `path` (a missing file is no tokens).
    pub fn load(path: &Path) -> Result<Tokens, TokenError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(TokenError::Io { path: path.to_owned(), source }),
        };
        let bad = |line: usize, reason: String| TokenError::Bad { path: path.to_owned(), line, reason };
        let mut grants = Vec::new();
        for (i, l) in text.lines().enumerate() {
            if l.trim().is_empty() || l.trim_start().starts_with('#') {
                continue;
            }
            let line: Line = serde_json::from_str(l).map_err(|e| bad(i + 1, e.to_string()))?;
            let hash = blake3::Hash::from_hex(&line.hash).map_err(|e| bad(i + 1, format!("hash: {e}")))?;
            let mut databases = BTreeMap::new();
            for (db, rights) in line.databases {
                if rights.is_empty() || !rights.chars().all(|c| c == 'r' || c == 'w') {
                    return Err(bad(i + 1, format!("database '{db}': rights '{rights}' (r, w or rw)")));
                }
                databases.insert(db, (rights.contains('r'), rights.contains('w')));
            }
            grants.push(Grant { id: line.id, hash, databases });
        }
        Ok(Tokens { grants })
    }

    /// The grant of `token`, if any line holds its hash.
    pub fn find(&self, token: &str) -> Option<&Grant> {
        let h = blake3::hash(token.as_bytes());
        // Every line is compared (no early exit), each compare in constant time.
        let mut found = None;
        for g in &self.grants {
            if g.hash == h && found.is_none() {
                found = Some(g);
            }
        }
        found
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.grants.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }
}

/// Makes a new token for `databases` with the given rights, appends its line to `path`
/// (created with mode 0600 when missing) and returns the token, to be shown once.
pub fn new_token(path: &Path, databases: &[String], read: bool, write: bool) -> Result<String, TokenError> {
    if !read && !write {
        return Err(TokenError::NoAccess);
    }
    for db in databases {
        crate::names::check_database(db).map_err(|why| TokenError::Name(db.clone(), why))?;
    }
    let secret: [u8; 32] = rand::random();
    let token = format!("idb_{}", hex(&secret));
    let id: [u8; 4] = rand::random();
    let rights = format!("{}{}", if read { "r" } else { "" }, if write { "w" } else { "" });
    let line = Line {
        id: format!("t-{}", hex(&id)),
        hash: blake3::hash(token.as_bytes()).to_hex().to_string(),
        databases: databases.iter().map(|d| (d.clone(), rights.clone())).collect(),
    };
    let io = |source| TokenError::Io { path: path.to_owned(), source };
    let mut f = open_private(path).map_err(io)?;
    let mut text = serde_json::to_string(&line).expect("a token line serialises");
    text.push('\n');
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(token)
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).append(true).open(path)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_token_is_found_by_its_hash_with_its_rights_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        let rw = new_token(&file, &["shop".into()], true, true).unwrap();
        let ro = new_token(&file, &["shop".into(), "reports".into()], true, false).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains(&rw) && !text.contains(&ro), "the file holds hashes only");
        let t = Tokens::load(&file).unwrap();
        assert_eq!(t.len(), 2);
        let g = t.find(&rw).unwrap();
        assert!(g.allows("shop", Access::Write) && g.allows("shop", Access::Read));
        assert!(!g.allows("reports", Access::Read));
        let g = t.find(&ro).unwrap();
        assert!(g.allows("reports", Access::Read) && !g.allows("shop", Access::Write));
        assert!(t.find("idb_00").is_none());
        assert!(t.find(&rw[..rw.len() - 1]).is_none());
        assert!(matches!(new_token(&file, &["shop".into()], false, false), Err(TokenError::NoAccess)));
        assert!(matches!(new_token(&file, &["../x".into()], true, false), Err(TokenError::Name(..))));
    }

    #[test]
    fn a_bad_line_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, "# comment\n{\"id\":\"a\",\"hash\":\"zz\",\"databases\":{}}\n").unwrap();
        let e = Tokens::load(&file).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("hash"), "{e}");
    }
}
