//! Dexie export header: database name and version, and each table's Dexie schema
//! string (`++id,name,[first+last],*tags`).

use serde::{Deserialize, Serialize};

/// The database an export came from (Dexie exports only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    /// `databaseName` from the export header.
    pub name: Option<String>,
    /// `databaseVersion` from the export header.
    pub version: Option<f64>,
}

/// A table as the Dexie export header declares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDecl {
    /// Table (object store) name.
    pub name: String,
    /// Dexie schema string, e.g. `++id,name,[first+last],*tags`.
    pub schema: String,
    /// The header's row count.
    #[serde(rename = "rowCount")]
    pub row_count: Option<u64>,
}

/// The primary key and indexes parsed from a Dexie schema string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySpec {
    /// Key path of the primary key: empty for out-of-line keys; `a+b` parts for a
    /// compound key.
    pub key_path: Vec<String>,
    /// `++`: auto-incremented keys.
    pub auto_increment: bool,
    /// Whether the primary key is a compound `[a+b]` key.
    pub compound: bool,
    /// Secondary indexes as written (`name`, `&email`, `*tags`, `[first+last]`).
    pub indexes: Vec<String>,
}

impl KeySpec {
    /// Parses a Dexie schema string.
    ///
    /// ```
    /// use schema_infer::KeySpec;
    /// let k = KeySpec::parse("++id,name,[first+last],*tags");
    /// assert_eq!(k.key_path, vec!["id"]);
    /// assert!(k.auto_increment);
    /// assert_eq!(k.indexes, vec!["name", "[first+last]", "*tags"]);
    /// ```
    pub fn parse(schema: &str) -> KeySpec {
        let mut parts = split_top(schema).into_iter();
        let primary = parts.next().unwrap_or_default();
        let mut spec = KeySpec { indexes: parts.filter(|s| !s.is_empty()).collect(), ..KeySpec::default() };
        let mut p = primary.trim();
        if let Some(rest) = p.strip_prefix("++") {
            spec.auto_increment = true;
            p = rest;
        }
        p = p.trim_start_matches(['&', '*']);
        if let Some(inner) = p.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            spec.compound = true;
            spec.key_path = inner.split('+').map(|s| s.trim().to_owned()).collect();
        } else if !p.is_empty() {
            spec.key_path = vec![p.to_owned()];
        }
        spec
    }

    /// Whether keys live in the values (inbound) rather than beside them.
    pub fn inbound(&self) -> bool {
        !self.key_path.is_empty()
    }
}

/// Splits on commas outside brackets.
fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_owned());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur.trim().to_owned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_strings() {
        let k = KeySpec::parse("[first+last],age");
        assert_eq!(k.key_path, vec!["first", "last"]);
        assert!(k.compound && !k.auto_increment && k.inbound());
        let k = KeySpec::parse("");
        assert!(!k.inbound() && k.indexes.is_empty());
        let k = KeySpec::parse("++");
        assert!(!k.inbound() && k.auto_increment);
        let k = KeySpec::parse("&email, name");
        assert_eq!(k.key_path, vec!["email"]);
        assert_eq!(k.indexes, vec!["name"]);
    }
}
