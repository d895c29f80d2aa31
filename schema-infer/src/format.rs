//! Input formats and their detection from the first bytes.

use crate::json::{self, ScanError};
use std::fmt;
use std::str::FromStr;

/// The shape of an IndexedDB export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// dexie-export-import's format (`formatName: "dexie"`): several tables, typeson rows.
    Dexie,
    /// A plain `{ "store": [records], … }` dump (indexeddb-export-import and the like).
    Stores,
    /// One JSON record per line: a single store.
    Ndjson,
    /// One top-level JSON array of records: a single store.
    #[serde(rename = "json-array")]
    JsonArray,
}

impl Format {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Format::Dexie => "dexie",
            Format::Stores => "stores",
            Format::Ndjson => "ndjson",
            Format::JsonArray => "json-array",
        }
    }

    /// Whether the input holds one store only (named after the file or `--store`).
    pub fn single_store(self) -> bool {
        matches!(self, Format::Ndjson | Format::JsonArray)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dexie" => Ok(Format::Dexie),
            "stores" | "dump" => Ok(Format::Stores),
            "ndjson" | "jsonl" => Ok(Format::Ndjson),
            "json-array" | "array" => Ok(Format::JsonArray),
            other => Err(format!("unknown format '{other}' (dexie, stores, ndjson, json-array)")),
        }
    }
}

/// How many bytes detection may look at before deciding on what it has.
pub(crate) const DETECT_LIMIT: usize = 1 << 20;

/// Detects the format from the start of the input (after any BOM). `None` means
/// more bytes are needed; at `eof` or past [`DETECT_LIMIT`] it always decides.
pub fn detect(prefix: &[u8], eof: bool) -> Option<Format> {
    let p = json::skip_ws(prefix, 0);
    match prefix.get(p) {
        None if !eof => None,
        None => Some(Format::Ndjson),
        Some(b'[') => Some(Format::JsonArray),
        Some(b'{') => detect_object(prefix, p, eof || prefix.len() >= DETECT_LIMIT),
        Some(_) => Some(Format::Ndjson),
    }
}

fn detect_object(buf: &[u8], start: usize, decide: bool) -> Option<Format> {
    let mut pos = json::skip_ws(buf, start + 1);
    let mut key = String::new();
    let mut all_arrays = true;
    let mut first = true;
    loop {
        match buf.get(pos) {
            Some(b'}') => break,
            Some(b'"') => {}
            None if !decide => return None,
            _ => return Some(Format::Ndjson),
        }
        match crate::typeson::read_string(buf, pos, &mut key) {
            Ok(end) => pos = end,
            Err(ScanError::Incomplete) if !decide => return None,
            Err(_) => return Some(Format::Ndjson),
        }
        if first && key == "formatName" {
            return Some(Format::Dexie);
        }
        pos = json::skip_ws(buf, pos);
        if buf.get(pos) == Some(&b':') {
            pos = json::skip_ws(buf, pos + 1);
        }
        if pos >= buf.len() && !decide {
            // The value is not here yet: it may well be an array.
            return None;
        }
        if buf.get(pos) != Some(&b'[') {
            all_arrays = false;
            if first {
                return Some(Format::Ndjson);
            }
        }
        first = false;
        match json::skip_value(buf, pos) {
            Ok(end) => pos = json::skip_ws(buf, end),
            Err(ScanError::Incomplete) => {
                // A first value this large is a dump of stores, not a line of NDJSON.
                return if decide { Some(Format::Stores) } else { None };
            }
            Err(_) => return Some(Format::Ndjson),
        }
        match buf.get(pos) {
            Some(b',') => pos = json::skip_ws(buf, pos + 1),
            Some(b'}') => break,
            None if !decide => return None,
            _ => return Some(Format::Ndjson),
        }
    }
    // The whole first object is here: a dump if it is alone and holds only arrays.
    let after = json::skip_ws(buf, pos + 1);
    if after < buf.len() {
        return Some(Format::Ndjson);
    }
    if !decide {
        return None;
    }
    Some(if all_arrays && !first { Format::Stores } else { Format::Ndjson })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        assert_eq!(detect(br#"{"formatName":"dexie","formatVersion":1"#, false), Some(Format::Dexie));
        assert_eq!(detect(br#"[{"a":1}]"#, true), Some(Format::JsonArray));
        assert_eq!(detect(b"{\"a\":1}\n{\"a\":2}\n", true), Some(Format::Ndjson));
        assert_eq!(detect(br#"{"orders":[{"a":1}],"customers":[]}"#, true), Some(Format::Stores));
        assert_eq!(detect(br#"{"orders":[{"a":1}],"customers":[]}"#, false), None);
        assert_eq!(detect(b"{\"items\":[1]}\n{\"items\":[2]}", true), Some(Format::Ndjson));
        assert_eq!(detect(b"   ", true), Some(Format::Ndjson));
        assert_eq!(detect(b"{\"orders\":[{\"a\":1},", false), None);
        assert_eq!(detect(b"{\"orders\":[{\"a\":1},", true), Some(Format::Stores));
    }

    /// Regression (found by the `infer` fuzz target): a first block ending right after
    /// a dump's first key (`{"orders"` or `{"orders":`) was taken for NDJSON.
    #[test]
    fn no_prefix_decides_differently_from_the_whole_input() {
        for doc in [
            &br#"{"orders":[{"id":1}],"empty":[]}"#[..],
            br#" { "orders" : [ 1 ] , "b" : [ ] } "#,
            br#"{"formatName":"dexie","formatVersion":1}"#,
            b"{\"a\":1}\n{\"a\":2}\n",
            b"{\"a\":[1]}\n{\"a\":[2]}\n",
            br#"[{"a":1}]"#,
        ] {
            let whole = detect(doc, true);
            for i in 0..doc.len() {
                let d = detect(&doc[..i], false);
                assert!(d.is_none() || d == whole, "{:?}: {d:?}, not {whole:?}", String::from_utf8_lossy(&doc[..i]));
            }
        }
    }
}
