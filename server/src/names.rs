//! Names that come from URLs: databases and tables. A database is a folder under the
//! root, so its name is held to a safe alphabet; a table name is an IndexedDB store
//! name, which may be almost anything, but never a path or one of idbsync's own names.

/// Checks a `{database}` of a URL: 1–64 of `A-Z a-z 0-9 _ - .`, starting with a letter
/// or digit, no `..`.
pub fn check_database(name: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if name.is_empty() || name.len() > 64 {
        return Err("a database name has 1 to 64 characters".into());
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("a database name starts with a letter or a digit".into());
    }
    if !name.chars().all(ok_char) || name.contains("..") {
        return Err("a database name holds only letters, digits, '_', '-' and '.' (no '..')".into());
    }
    Ok(())
}

/// Checks a table (object store) name of a request: not empty, at most 255 bytes, no
/// `/`, `\` or control characters, not `.`/`..`, not starting with `_` or `.` (idbsync's
/// own and hidden entries).
pub fn check_table(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 255 {
        return Err("a table name has 1 to 255 bytes".into());
    }
    if name.starts_with(['_', '.']) {
        return Err("a table name does not start with '_' or '.'".into());
    }
    if name.chars().any(|c| c == '/' || c == '\\' || c.is_control()) {
        return Err("a table name holds no '/', '\\' or control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_hidden_and_reserved_names_are_refused() {
        for ok in ["shop", "Shop-2", "a.b", "x_1", "9"] {
            check_database(ok).unwrap();
        }
        for bad in ["", "..", "../etc", ".hidden", "_delta_log", "a/b", "a..b", "a b", "é", &"x".repeat(65)] {
            assert!(check_database(bad).is_err(), "{bad:?}");
        }
        for ok in ["orders", "Order Items", "ünïcode", "a.b"] {
            check_table(ok).unwrap();
        }
        for bad in ["", ".", "..", "../x", "a/b", "a\\b", "_rejects", ".x", "a\nb"] {
            assert!(check_table(bad).is_err(), "{bad:?}");
        }
    }
}
