//! Where a command reads or writes, decided in one place: a local folder, or an HDFS URL
//! (`hdfs://host:port/path`, `hdfs://nameservice/path`, `viewfs://…`).
//!
//! ```
//! use engine::Location;
//! let hdfs = Location::parse("hdfs://alice:pw@nn:8020/data/shop/").unwrap();
//! assert!(hdfs.is_hdfs());
//! // User-info is dropped (HDFS does not use it) and never shown.
//! assert_eq!(hdfs.to_string(), "hdfs://nn:8020/data/shop");
//! assert!(!Location::parse("out/shop").unwrap().is_hdfs());
//! assert!(Location::parse("s3://bucket/x").is_err());
//! ```

use crate::redact::redact_url;
use crate::storage::StorageError;
use std::fmt;
use std::path::{Path, PathBuf};

/// A dataset location: a local folder or a path on HDFS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A folder of the local filesystem.
    Local(PathBuf),
    /// A path on HDFS.
    Hdfs {
        /// `hdfs://authority` (or `viewfs://authority`), without user-info.
        base: String,
        /// The absolute path, without a trailing `/` (except for `/` itself).
        path: String,
    },
}

/// Whether `s` names an HDFS location (`hdfs://…` or `viewfs://…`), well-formed or not.
pub fn is_hdfs_url(s: &str) -> bool {
    s.starts_with("hdfs://") || s.starts_with("viewfs://")
}

impl Location {
    /// The location `s` names: `hdfs://…` and `viewfs://…` are HDFS, any other URL is
    /// refused, and everything else is a local folder. Whether HDFS can be reached (or is
    /// built in) is found when the location is opened.
    pub fn parse(s: &str) -> Result<Location, StorageError> {
        if is_hdfs_url(s) {
            let (base, path) = split_url(s)?;
            return Ok(Location::Hdfs { base, path });
        }
        if s.contains("://") {
            return Err(StorageError::Invalid {
                location: redact_url(s),
                reason: "only local folders and hdfs:// (or viewfs://) locations are supported".into(),
            });
        }
        Ok(Location::Local(PathBuf::from(s)))
    }

    /// Whether the location is on HDFS.
    pub fn is_hdfs(&self) -> bool {
        matches!(self, Location::Hdfs { .. })
    }

    /// The parent location and the last component's name: for copies that stage beside
    /// their destination and rename it into place.
    pub fn parent(&self) -> Result<(Location, String), StorageError> {
        let invalid = |reason: &str| StorageError::Invalid { location: self.to_string(), reason: reason.into() };
        match self {
            Location::Hdfs { base, path } => {
                let (parent, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
                if name.is_empty() {
                    return Err(invalid("the destination cannot be the filesystem root"));
                }
                let parent = if parent.is_empty() { "/" } else { parent };
                Ok((Location::Hdfs { base: base.clone(), path: parent.to_owned() }, name.to_owned()))
            }
            Location::Local(p) => {
                let name = p.file_name().ok_or_else(|| invalid("the destination needs a folder name"))?;
                let parent = p.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                Ok((Location::Local(parent.to_owned()), name.to_string_lossy().into_owned()))
            }
        }
    }
}

impl fmt::Display for Location {
    /// The folder, or the URL without user-info.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Hdfs { base, path } => write!(f, "{base}{path}"),
        }
    }
}

/// Splits `hdfs://authority/path` into (`hdfs://authority`, `/path`). User-info in the
/// authority (`user:secret@`) is dropped: HDFS does not use it, and it must not reach messages.
pub(crate) fn split_url(url: &str) -> Result<(String, String), StorageError> {
    let invalid = |reason: &str| StorageError::Invalid { location: redact_url(url), reason: reason.into() };
    let scheme_end = url.find("://").ok_or_else(|| invalid("not an hdfs:// URL"))?;
    let rest = &url[scheme_end + 3..];
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if authority.is_empty() {
        return Err(invalid("the URL names no NameNode or nameservice (hdfs://host:port/path)"));
    }
    let path = path.trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    if path.split('/').any(|c| c == ".." || c == ".") {
        return Err(invalid("`.` and `..` are not allowed in the path"));
    }
    Ok((format!("{}{authority}", &url[..scheme_end + 3]), path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_authority_and_path() {
        let s = |u: &str| split_url(u).unwrap();
        assert_eq!(s("hdfs://nn:8020/data/out/"), ("hdfs://nn:8020".into(), "/data/out".into()));
        assert_eq!(s("hdfs://ns1/x"), ("hdfs://ns1".into(), "/x".into()));
        assert_eq!(s("hdfs://ns1"), ("hdfs://ns1".into(), "/".into()));
        assert!(split_url("hdfs:///x").unwrap_err().to_string().contains("names no NameNode"));
        // User-info is dropped, and never shown in an error.
        assert_eq!(s("hdfs://alice:pw@nn:8020/x"), ("hdfs://nn:8020".into(), "/x".into()));
        let e = split_url("hdfs://alice:s3cr3t@nn/a/../b").unwrap_err().to_string();
        assert!(e.starts_with("hdfs://***@nn/a/../b:") && !e.contains("s3cr3t"), "{e}");
        assert!(split_url("hdfs://alice:pw@/x").unwrap_err().to_string().contains("names no NameNode"));
        assert!(split_url("hdfs://nn/a/../b").is_err());
        assert!(split_url("/local").is_err());
        assert!(is_hdfs_url("hdfs://nn/x") && !is_hdfs_url("out/hdfs://x"));
    }

    #[test]
    fn locations_parse_and_split_off_their_last_name() {
        let hdfs = Location::parse("viewfs://cluster/a/b/").unwrap();
        assert_eq!(hdfs, Location::Hdfs { base: "viewfs://cluster".into(), path: "/a/b".into() });
        let (parent, name) = hdfs.parent().unwrap();
        assert_eq!((parent.to_string(), name.as_str()), ("viewfs://cluster/a".into(), "b"));
        let (parent, name) = Location::parse("hdfs://nn/top").unwrap().parent().unwrap();
        assert_eq!((parent.to_string(), name.as_str()), ("hdfs://nn/".into(), "top"));
        let root = Location::parse("hdfs://nn/").unwrap().parent().unwrap_err().to_string();
        assert_eq!(root, "hdfs://nn/: the destination cannot be the filesystem root");

        let local = Location::parse("out/shop").unwrap();
        assert_eq!(local, Location::Local("out/shop".into()));
        let (parent, name) = local.parent().unwrap();
        assert_eq!((parent, name.as_str()), (Location::Local("out".into()), "shop"));
        let (parent, _) = Location::parse("shop").unwrap().parent().unwrap();
        assert_eq!(parent, Location::Local(".".into()));
        assert!(Location::parse("..").unwrap().parent().unwrap_err().to_string().contains("needs a folder name"));

        let e = Location::parse("s3://key:secret@bucket/x").unwrap_err().to_string();
        assert_eq!(e, "s3://***@bucket/x: only local folders and hdfs:// (or viewfs://) locations are supported");
    }
}
