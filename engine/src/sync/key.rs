//! Primary keys of synced tables: where a record's key is (the store's key path, or the
//! out-of-line `__key`), and its canonical text, the merge key of the Delta table.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a key path or a record's key is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A key path that is empty or has an empty part (`a..b`, `[a+]`).
    #[error("key path '{0}' is empty or has an empty part")]
    EmptyPart(String),
    /// An out-of-line record that is not a `[key, value]` pair.
    #[error("an out-of-line record is not a [key, value] pair")]
    NotAPair,
    /// A record without (or with a null at) a key path part.
    #[error("the record has no key '{0}'")]
    Missing(String),
}

/// Where the records of a store keep their primary key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPath {
    /// An inbound key path: one part (`id`, `a.b`), or several for a compound `[a+b]` key.
    Inbound {
        /// The parts; each may be a dotted path into nested objects.
        parts: Vec<String>,
        /// A compound `[a+b]` key (its canonical text is a JSON array even with one part).
        compound: bool,
    },
    /// Out-of-line keys: records are `[key, value]` pairs (the `__key` column).
    OutOfLine,
}

impl KeyPath {
    /// Parses a key path as `--key` or a Dexie schema writes it: `id`, `++id`, `a.b`,
    /// `[a+b]`. An empty path is an error.
    pub fn parse(s: &str) -> Result<KeyPath, KeyError> {
        let mut p = s.trim();
        p = p.strip_prefix("++").unwrap_or(p).trim_start_matches(['&', '*']);
        if let Some(inner) = p.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
            let parts: Vec<String> = inner.split('+').map(|x| x.trim().to_owned()).collect();
            if parts.iter().any(|x| x.is_empty()) {
                return Err(KeyError::EmptyPart(s.to_owned()));
            }
            return Ok(KeyPath::Inbound { parts, compound: true });
        }
        if p.is_empty() || p.split('.').any(str::is_empty) {
            return Err(KeyError::EmptyPart(s.to_owned()));
        }
        Ok(KeyPath::Inbound { parts: vec![p.to_owned()], compound: false })
    }

    /// The key path as Dexie writes it (`id`, `[a+b]`, or `__key` for out-of-line keys).
    pub fn display(&self) -> String {
        match self {
            KeyPath::Inbound { parts, compound: true } => format!("[{}]", parts.join("+")),
            KeyPath::Inbound { parts, .. } => parts.join("+"),
            KeyPath::OutOfLine => schema_infer::KEY_COLUMN.to_owned(),
        }
    }

    /// The key of `record` (for out-of-line stores, the `[key, value]` pair), and the
    /// value object the record holds (whose `_deleted` flag marks a delete).
    pub(crate) fn extract<'a>(&self, record: &'a Value) -> Result<(Value, &'a Value), KeyError> {
        match self {
            // Dexie writes a typed pair as {"$": [key, value], "$types": {…}}.
            KeyPath::OutOfLine => match record.get("$").unwrap_or(record) {
                Value::Array(pair) if pair.len() == 2 => Ok((pair[0].clone(), &pair[1])),
                _ => Err(KeyError::NotAPair),
            },
            KeyPath::Inbound { parts, compound } => {
                let mut values = Vec::with_capacity(parts.len());
                for p in parts {
                    let mut v = record;
                    for seg in p.split('.') {
                        v = match v.get(seg) {
                            Some(x) if !x.is_null() => x,
                            _ => return Err(KeyError::Missing(p.clone())),
                        };
                    }
                    values.push(v.clone());
                }
                let key = if *compound { Value::Array(values) } else { values.pop().expect("one part") };
                Ok((key, record))
            }
        }
    }

    /// The typeson tags of the key inside `record` (a Dexie export row's `$types`), with
    /// paths relative to the key: `""` for a key that is itself typed (a Date),
    /// `"1"` or `"1.buffer"` for a part of a compound key, `"buffer"` for the buffer of a
    /// typed-array key. Empty for plain keys and for records without `$types`.
    pub(crate) fn key_types(&self, record: &Value) -> KeyTypes {
        let mut out = KeyTypes::new();
        let mut take = |types: Option<&Value>, path: &str, prefix: &str| {
            let Some(Value::Object(types)) = types else { return };
            for (p, tag) in types {
                let rel = if p == path {
                    prefix.to_owned()
                } else if let Some(rest) = p.strip_prefix(path).and_then(|r| r.strip_prefix('.')) {
                    if prefix.is_empty() {
                        rest.to_owned()
                    } else {
                        format!("{prefix}.{rest}")
                    }
                } else {
                    continue;
                };
                if let Value::String(tag) = tag {
                    out.insert(rel, tag.clone());
                }
            }
        };
        match self {
            // A typed pair is {"$": [key, value], "$types": {"$": {"0": tag, …}}}.
            KeyPath::OutOfLine => take(record.get("$types").and_then(|t| t.get("$")), "0", ""),
            KeyPath::Inbound { parts, compound } => {
                for (j, p) in parts.iter().enumerate() {
                    let prefix = if *compound { j.to_string() } else { String::new() };
                    take(record.get("$types"), p, &prefix);
                }
            }
        }
        out
    }

    /// A record that holds only `key`, with `"_deleted": true` (RxDB's pull shape).
    pub(crate) fn tombstone(&self, key: &Value) -> Value {
        let mut obj = serde_json::Map::new();
        match self {
            KeyPath::OutOfLine => {
                obj.insert(schema_infer::KEY_COLUMN.to_owned(), key.clone());
            }
            KeyPath::Inbound { parts, compound } => {
                let values: Vec<Value> = if *compound {
                    key.as_array().cloned().unwrap_or_else(|| vec![key.clone()])
                } else {
                    vec![key.clone()]
                };
                for (p, v) in parts.iter().zip(values) {
                    let segs: Vec<&str> = p.split('.').collect();
                    let mut at = &mut obj;
                    for s in &segs[..segs.len() - 1] {
                        let e = at.entry((*s).to_owned()).or_insert_with(|| Value::Object(Default::default()));
                        if !e.is_object() {
                            *e = Value::Object(Default::default());
                        }
                        at = e.as_object_mut().expect("object");
                    }
                    at.insert(segs[segs.len() - 1].to_owned(), v);
                }
            }
        }
        obj.insert("_deleted".into(), Value::Bool(true));
        Value::Object(obj)
    }
}

/// `record` with each lone UTF-16 surrogate escape (`\ud83d` without its pair, which
/// JavaScript strings may hold and serde_json refuses) written as the six characters it is
/// made of, so that the record's key and flags can be read. Paired escapes stay as they are.
/// Only the key text sees this: the row's columns are decoded from the original bytes.
pub(crate) fn with_lone_surrogates_escaped(record: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let hex = |b: &[u8]| -> Option<u32> { u32::from_str_radix(std::str::from_utf8(b).ok()?, 16).ok() };
    let escape_at = |i: usize| -> Option<u32> {
        (record.get(i) == Some(&b'\\') && record.get(i + 1) == Some(&b'u')).then(|| hex(record.get(i + 2..i + 6)?))?
    };
    let is_high = |c: u32| (0xD800..0xDC00).contains(&c);
    let is_low = |c: u32| (0xDC00..0xE000).contains(&c);
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < record.len() {
        if record[i] != b'\\' {
            if let Some(o) = &mut out {
                o.push(record[i]);
            }
            i += 1;
            continue;
        }
        let (len, lone) = match escape_at(i) {
            Some(c) if is_high(c) && escape_at(i + 6).is_some_and(is_low) => (12, false),
            Some(c) if is_high(c) || is_low(c) => (6, true),
            Some(_) => (6, false),
            None => (2, false),
        };
        let end = (i + len).min(record.len());
        if lone {
            let o = out.get_or_insert_with(|| record[..i].to_vec());
            o.push(b'\\');
        }
        if let Some(o) = &mut out {
            o.extend_from_slice(&record[i..end]);
        }
        i = end;
    }
    out.map_or(std::borrow::Cow::Borrowed(record), std::borrow::Cow::Owned)
}

/// Typeson tags of a key, by path relative to it.
pub(crate) type KeyTypes = std::collections::BTreeMap<String, String>;

/// The canonical text of a typed key: [`canonical`] for a plain key; for a key with
/// typeson tags, `{"$": <key>, "$types": {<path>: <tag>}}` (keys are never objects, so
/// the two cannot be confused). A Date and the number of its milliseconds are different
/// IndexedDB keys, and so are their texts.
pub(crate) fn canonical_typed(key: &Value, types: &KeyTypes) -> String {
    if types.is_empty() {
        return canonical(key);
    }
    let tags: serde_json::Map<String, Value> =
        types.iter().map(|(p, t)| (p.clone(), Value::from(t.as_str()))).collect();
    let plain: Value = serde_json::from_str(&canonical(key)).expect("canonical text is JSON");
    serde_json::to_string(&serde_json::json!({"$": plain, "$types": tags})).expect("JSON values serialise")
}

/// A key and its tags from the text [`canonical_typed`] wrote.
pub(crate) fn parse_canonical(text: &str) -> (Value, KeyTypes) {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut o)) if o.contains_key("$") => {
            let types = match o.remove("$types") {
                Some(Value::Object(t)) => {
                    t.into_iter().filter_map(|(p, v)| v.as_str().map(|v| (p, v.to_owned()))).collect()
                }
                _ => KeyTypes::new(),
            };
            (o.remove("$").unwrap_or(Value::Null), types)
        }
        Ok(v) => (v, KeyTypes::new()),
        Err(_) => (Value::Null, KeyTypes::new()),
    }
}

/// The canonical text of a key: JSON with integral numbers written as integers (`1` and
/// `1.0` are the same IndexedDB key), the merge key of a synced table.
pub(crate) fn canonical(key: &Value) -> String {
    fn norm(v: &Value) -> Value {
        match v {
            Value::Number(n) => match n.as_f64() {
                Some(f) if n.as_i64().is_none() && n.as_u64().is_none() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    Value::from(f as i64)
                }
                _ => v.clone(),
            },
            Value::Array(a) => Value::Array(a.iter().map(norm).collect()),
            Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), norm(v))).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string(&norm(key)).expect("JSON values serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_paths_parse_as_dexie_writes_them() {
        assert_eq!(KeyPath::parse("++id").unwrap(), KeyPath::Inbound { parts: vec!["id".into()], compound: false });
        assert_eq!(
            KeyPath::parse("[a+b.c]").unwrap(),
            KeyPath::Inbound { parts: vec!["a".into(), "b.c".into()], compound: true }
        );
        assert!(KeyPath::parse("").is_err());
        assert!(KeyPath::parse("a..b").is_err());
        assert_eq!(KeyPath::parse("[a+b]").unwrap().display(), "[a+b]");
    }

    #[test]
    fn keys_are_extracted_and_made_canonical() {
        let k = KeyPath::parse("[user.id+n]").unwrap();
        let rec = json!({"user": {"id": "u1"}, "n": 2.0, "x": 1});
        let (key, _) = k.extract(&rec).unwrap();
        assert_eq!(canonical(&key), r#"["u1",2]"#);
        assert_eq!(k.tombstone(&key), json!({"user": {"id": "u1"}, "n": 2.0, "_deleted": true}));
        assert!(k.extract(&json!({"n": 1})).unwrap_err().to_string().contains("user.id"));
        let o = KeyPath::OutOfLine;
        let rec = json!([7, {"_deleted": true}]);
        let (key, value) = o.extract(&rec).unwrap();
        assert_eq!((canonical(&key), value["_deleted"].clone()), ("7".into(), json!(true)));
    }

    #[test]
    fn lone_surrogates_are_escaped_and_pairs_kept() {
        let rec = br#"{"id":1,"t":"half \ud83d","w":"\ud83d\ude00","l":"\udc00x","b":"\\ud83d"}"#;
        let fixed = with_lone_surrogates_escaped(rec);
        let v: Value = serde_json::from_slice(&fixed).unwrap();
        assert_eq!(v["t"], "half \\ud83d");
        assert_eq!(v["w"], "\u{1F600}");
        assert_eq!(v["l"], "\\udc00x");
        assert_eq!(v["b"], "\\ud83d");
        let plain = br#"{"id":2,"x":"\u00e9\n"}"#;
        assert!(matches!(with_lone_surrogates_escaped(plain), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn typed_keys_keep_their_tags_in_their_text() {
        let k = KeyPath::parse("[day+blob]").unwrap();
        let rec = json!({"day": 1.7e12, "blob": {"buffer": "AAE="}, "x": 1,
            "$types": {"day": "date", "blob": "uint8array2", "blob.buffer": "arraybuffer", "x": "bigint"}});
        let (key, _) = k.extract(&rec).unwrap();
        let types = k.key_types(&rec);
        assert_eq!(types.len(), 3);
        assert_eq!(types["1.buffer"], "arraybuffer");
        let text = canonical_typed(&key, &types);
        assert_ne!(text, canonical(&key), "a Date key is not its milliseconds");
        assert_eq!(parse_canonical(&text), (json!([1700000000000i64, {"buffer": "AAE="}]), types));
        // Plain keys keep their plain text.
        let id = KeyPath::parse("id").unwrap();
        let rec = json!({"id": 3, "when": 1, "$types": {"when": "date"}});
        assert!(id.key_types(&rec).is_empty());
        assert_eq!(parse_canonical("3"), (json!(3), KeyTypes::new()));
        // Out of line: the pair's own tags.
        let pair = json!({"$": [5, {"a": 1}], "$types": {"$": {"0": "date", "1.a": "bigint"}}});
        assert_eq!(KeyPath::OutOfLine.key_types(&pair), KeyTypes::from([(String::new(), "date".to_owned())]));
    }
}
