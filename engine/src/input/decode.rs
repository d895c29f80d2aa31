//! Decoding records into Arrow columns, following a store's schema: one pass over
//! each record's bytes, typeson values decoded to their Arrow types (Date →
//! timestamp, Blob → {type, data}, typed arrays → lists, Map → map, …), JSON-text
//! columns keeping values verbatim with their typeson encapsulation. A record
//! that does not fit is rolled back and reported with where and why.

use crate::input::column::{Col, Data, Kind, NoValue};
use crate::output::partition::days_from_civil;
use arrow::array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, FieldRef, SchemaRef};
use base64::Engine as _;
use memchr::memmem;
use schema_infer::json::{self, NumClass, ScanError};
use schema_infer::typeson::{self, RootForm, TagRef, TypeTrie, ROOT};
use schema_infer::{Tag, KEY_COLUMN, NULLS_COLUMN, VALUE_COLUMN};
use std::sync::Arc;

/// Why a record was not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Offset of the problem within the record.
    pub at: usize,
    /// What is wrong.
    pub reason: String,
}

fn rej(at: usize, reason: impl Into<String>) -> Reject {
    Reject { at, reason: reason.into() }
}

impl From<ScanError> for Reject {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Incomplete => rej(usize::MAX, "unexpected end of record"),
            ScanError::Syntax(at, m) => rej(at, m),
            ScanError::TooDeep(at) => rej(at, format!("nesting deeper than {} levels", json::MAX_DEPTH)),
        }
    }
}

#[derive(Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Decodes records of one store into record batches.
pub struct Decoder {
    schema: SchemaRef,
    root: Col,
    key: Option<Col>,
    side: Option<Col>,
    rows: usize,
    w: W,
}

/// The walking state, apart from the columns it fills.
struct W {
    value_mode: bool,
    tracking: bool,
    trie: TypeTrie,
    finder: memmem::Finder<'static>,
    path: Vec<Seg>,
    side_entries: Vec<(String, NoValue)>,
}

/// Per-record view used while walking.
struct Rec<'a> {
    bytes: &'a [u8],
    s: &'a str,
    root: usize,
    tagged: bool,
}

impl Decoder {
    /// A decoder for records of a store with `schema` (as inferred or pinned).
    pub fn new(schema: SchemaRef) -> Decoder {
        let value_mode = schema.metadata().get("idb.value_column").is_some();
        let mut key = None;
        let mut side = None;
        let mut fields: Vec<FieldRef> = Vec::new();
        for f in schema.fields() {
            match f.name().as_str() {
                KEY_COLUMN => key = Some(Col::new(f)),
                NULLS_COLUMN if is_side_column(f) => side = Some(Col::new(f)),
                _ => fields.push(f.clone()),
            }
        }
        let root = if value_mode {
            let v = fields.iter().find(|f| f.name() == VALUE_COLUMN).cloned().expect("value column");
            Col::new(&v)
        } else {
            let st: FieldRef = Arc::new(
                Field::new("", arrow_schema::DataType::Struct(fields.into()), false)
                    .with_metadata([("idb.nulls".to_owned(), "absent".to_owned())].into_iter().collect()),
            );
            Col::new(&st)
        };
        let tracking = side.is_some();
        Decoder {
            schema,
            root,
            key,
            side,
            rows: 0,
            w: W {
                value_mode,
                tracking,
                trie: TypeTrie::default(),
                finder: memmem::Finder::new(b"\"$types\"").into_owned(),
                path: Vec::new(),
                side_entries: Vec::new(),
            },
        }
    }

    /// Rows decoded since the last [`Decoder::finish`].
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Decodes one record (a `[key, value]` pair for out-of-line stores).
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Reject> {
        self.w.side_entries.clear();
        self.w.path.clear();
        let r = self.decode(bytes);
        if r.is_err() {
            let n = self.rows;
            self.root.truncate(n);
            if let Some(k) = &mut self.key {
                k.truncate(n);
            }
            if let Some(s) = &mut self.side {
                s.truncate(n);
            }
            if let Data::Struct { stamp, .. } = &mut self.root.data {
                stamp.iter_mut().for_each(|s| *s = 0);
            }
            return r;
        }
        self.rows += 1;
        Ok(())
    }

    fn decode(&mut self, bytes: &[u8]) -> Result<(), Reject> {
        let s = std::str::from_utf8(bytes).map_err(|e| rej(e.valid_up_to(), "invalid UTF-8"))?;
        let start = json::skip_ws(bytes, 0);
        if start >= bytes.len() {
            return Err(rej(start, "empty record"));
        }
        self.walk(bytes, s, start).map_err(|e| match json::validate_value(bytes, start).map_err(Reject::from) {
            // Malformed JSON further on is reported as such, not as a misfit met on the
            // way to it (a record nested too deep is not "a field not in the schema").
            Err(bad) if bad.at > e.at => bad,
            _ => e,
        })
    }

    fn walk(&mut self, bytes: &[u8], s: &str, start: usize) -> Result<(), Reject> {
        let w = &mut self.w;
        let form = typeson::analyze_root(bytes, start, &mut w.trie, &w.finder)?;
        let (vstart, tagged, skip_types) = match form {
            RootForm::Plain => (start, false, false),
            RootForm::Typed => (start, true, true),
            RootForm::Wrapped { value } => (value, true, false),
            RootForm::Escaped { value } => (value, false, false),
        };
        let rec = Rec { bytes, s, root: vstart, tagged };
        let t = tagged.then_some(ROOT);
        let end = match &mut self.key {
            // Object records kept whole in `__value` (fields named like idbsync's own
            // columns) keep their typeson `$types` member out of the value too. (Issue 14,
            // round-trip finding N10: such records with a tagged field were rejected.)
            None if w.value_mode && skip_types && self.root.kind == Kind::Struct => {
                w.object_root(&rec, vstart, &mut self.root, t, skip_types)?
            }
            None if w.value_mode => w.value(&rec, vstart, &mut self.root, t, 0)?,
            None => w.object_root(&rec, vstart, &mut self.root, t, skip_types)?,
            Some(k) => w.tuple(&rec, vstart, k, &mut self.root, t)?,
        };
        if matches!(form, RootForm::Plain | RootForm::Typed) {
            let after = json::skip_ws(bytes, end);
            if after != bytes.len() {
                return Err(rej(after, "unexpected data after the record"));
            }
        }
        if let Some(side) = &mut self.side {
            let Data::Map { keys, values, .. } = &mut side.data else { unreachable!("side column is a map") };
            for (p, nv) in &self.w.side_entries {
                keys.push_bytes(p.as_bytes());
                values.push_bytes(nv.name().as_bytes());
            }
            side.close_list();
        }
        Ok(())
    }

    /// Finishes the rows decoded so far as a record batch.
    pub fn finish(&mut self) -> RecordBatch {
        let n = self.rows;
        self.rows = 0;
        let mut columns: Vec<ArrayRef> = Vec::new();
        let root = self.root.finish();
        let mut root_cols: Vec<ArrayRef> = if self.w.value_mode {
            vec![root]
        } else {
            let st = root.as_any().downcast_ref::<arrow::array::StructArray>().expect("root struct");
            st.columns().to_vec()
        };
        root_cols.reverse();
        for f in self.schema.fields() {
            match f.name().as_str() {
                KEY_COLUMN => columns.push(self.key.as_mut().expect("key column").finish()),
                NULLS_COLUMN if is_side_column(f) => columns.push(self.side.as_mut().expect("side column").finish()),
                _ => columns.push(root_cols.pop().expect("root column")),
            }
        }
        let opts = arrow::array::RecordBatchOptions::new().with_row_count(Some(n));
        RecordBatch::try_new_with_options(self.schema.clone(), columns, &opts)
            .expect("decoded columns match the schema")
    }
}

/// Whether `f` is the side column of "no value" kinds, a `Map<Utf8, Utf8>` (a field of
/// that name and another type, e.g. pinned by a schema document, is an ordinary one).
fn is_side_column(f: &Field) -> bool {
    use arrow_schema::DataType;
    let DataType::Map(entries, _) = f.data_type() else { return false };
    let DataType::Struct(kv) = entries.data_type() else { return false };
    kv.len() == 2 && kv.iter().all(|c| c.data_type() == &DataType::Utf8)
}

impl W {
    fn path_string(&self) -> String {
        let mut p = String::new();
        for s in &self.path {
            if !p.is_empty() {
                p.push('.');
            }
            match s {
                Seg::Key(k) => p.push_str(&schema_infer::escape_component(k)),
                Seg::Index(i) => p.push_str(&i.to_string()),
            }
        }
        p
    }

    fn tracking(&self) -> bool {
        self.tracking
    }

    fn no_value(&mut self, col: &mut Col, nv: NoValue, at: usize) -> Result<(), Reject> {
        if !col.nullable() {
            return Err(rej(at, format!("{} in a field that is not nullable", nv.name())));
        }
        col.push_null();
        if col.track && nv != col.default_nv {
            let p = self.path_string();
            self.side_entries.push((p, nv));
        }
        Ok(())
    }

    fn tuple(
        &mut self,
        r: &Rec<'_>,
        at: usize,
        key: &mut Col,
        value: &mut Col,
        t: Option<u32>,
    ) -> Result<usize, Reject> {
        let b = r.bytes;
        if b.get(at) != Some(&b'[') {
            json::validate_value(b, at)?;
            return Err(rej(at, "an out-of-line row must be a [key, value] pair"));
        }
        let p = json::skip_ws(b, at + 1);
        let p = self.value(r, p, key, self.child_index(r, t, 0), 1)?;
        let p = json::skip_ws(b, p);
        if b.get(p) != Some(&b',') {
            return Err(rej(p, "an out-of-line row must be a [key, value] pair"));
        }
        let p = json::skip_ws(b, p + 1);
        let vt = self.child_index(r, t, 1);
        let p =
            if self.value_mode { self.value(r, p, value, vt, 1)? } else { self.object_root(r, p, value, vt, false)? };
        let p = json::skip_ws(b, p);
        if b.get(p) != Some(&b']') {
            return Err(rej(p, "an out-of-line row must be a [key, value] pair"));
        }
        Ok(p + 1)
    }

    fn object_root(
        &mut self,
        r: &Rec<'_>,
        at: usize,
        root: &mut Col,
        t: Option<u32>,
        skip_types: bool,
    ) -> Result<usize, Reject> {
        if r.bytes.get(at) != Some(&b'{') {
            json::validate_value(r.bytes, at)?;
            return Err(rej(at, "the record is not an object"));
        }
        self.members(r, at, root, t, 0, skip_types)
    }

    fn child(&self, r: &Rec<'_>, t: Option<u32>, key: &str) -> Option<u32> {
        if !r.tagged {
            return None;
        }
        t.and_then(|t| self.trie.child(t, key))
    }

    fn child_index(&self, r: &Rec<'_>, t: Option<u32>, i: usize) -> Option<u32> {
        if !r.tagged {
            return None;
        }
        t.and_then(|t| self.trie.child_index(t, i))
    }

    fn value(&mut self, r: &Rec<'_>, at: usize, col: &mut Col, t: Option<u32>, depth: usize) -> Result<usize, Reject> {
        if depth > json::MAX_DEPTH {
            return Err(ScanError::TooDeep(at).into());
        }
        if let Some(tn) = t {
            if r.tagged && !self.trie.chain(tn).is_empty() {
                return self.tagged(r, at, col, tn, depth);
            }
        }
        let b = r.bytes;
        if b.get(at) == Some(&b'n') {
            let end = json::expect_literal(b, at, b"null")?;
            self.no_value(col, NoValue::Null, at)?;
            return Ok(end);
        }
        match col.kind {
            Kind::Json => return self.json_text(r, at, col, t, depth),
            Kind::Text => {
                if b.get(at) == Some(&b'"') {
                    return self.string(r, at, col);
                }
                let end = json::validate_nested(b, at, depth)?;
                col.push_bytes(&b[at..end]);
                return Ok(end);
            }
            _ => {}
        }
        match (b.get(at).copied().unwrap_or(0), col.kind) {
            (b'"', Kind::Str) => self.string(r, at, col),
            (b'"', Kind::IsoTs) => {
                let (end, _) = json::skip_string(b, at + 1)?;
                let ms = parse_iso_ms(&b[at + 1..end - 1]).ok_or_else(|| rej(at, "not an ISO-8601 timestamp"))?;
                if !col.push_ms(ms) {
                    return Err(rej(at, format!("timestamp out of range for a {} column", col_type(col))));
                }
                Ok(end)
            }
            (b'-' | b'0'..=b'9', Kind::Int | Kind::Ts) => {
                let (end, class) = json::scan_number(b, at)?;
                let v = int_value(&r.s[at..end], class).ok_or_else(|| rej(at, "not an integer"))?;
                col.push_i64(v);
                Ok(end)
            }
            (b'-' | b'0'..=b'9', Kind::Float) => {
                let (end, _) = json::scan_number(b, at)?;
                let v: f64 = r.s[at..end].parse().map_err(|_| rej(at, "invalid number"))?;
                col.push_f64(v);
                Ok(end)
            }
            (b't' | b'f', Kind::Bool) => {
                let v = b[at] == b't';
                let end = json::expect_literal(b, at, if v { b"true" } else { b"false" })?;
                col.push_bool(v);
                Ok(end)
            }
            (b'{', Kind::Struct) => self.members(r, at, col, t, depth, false),
            (b'{', Kind::ObjMap) => self.obj_map(r, at, col, t, depth),
            (b'[', Kind::List) => self.elements(r, at, col, t, depth),
            (c, _) => {
                // Malformed JSON is reported as such, before any type misfit.
                json::validate_nested(b, at, depth)?;
                Err(rej(at, format!("{} does not fit a {} column", describe(c), col_type(col))))
            }
        }
    }

    fn string(&mut self, r: &Rec<'_>, at: usize, col: &mut Col) -> Result<usize, Reject> {
        let b = r.bytes;
        let (end, escaped) = json::skip_string(b, at + 1)?;
        let body = &b[at + 1..end - 1];
        // Escaped or not, a raw control character is invalid (as inference finds).
        if json::has_control(body) {
            return Err(rej(at, "control character in string"));
        }
        if escaped {
            let mut s = String::new();
            json::unescape_into(body, &mut s).map_err(|m| rej(at, m))?;
            col.push_bytes(s.as_bytes());
        } else {
            col.push_bytes(body);
        }
        Ok(end)
    }

    fn members(
        &mut self,
        r: &Rec<'_>,
        at: usize,
        col: &mut Col,
        t: Option<u32>,
        depth: usize,
        skip_types: bool,
    ) -> Result<usize, Reject> {
        let b = r.bytes;
        let tracking = self.tracking();
        let Data::Struct { children, index, stamp, gen } = &mut col.data else {
            return Err(rej(at, "an object does not fit this column"));
        };
        *gen += 1;
        let g = *gen;
        let mut p = json::skip_ws(b, at + 1);
        let mut hint = 0usize;
        if b.get(p) != Some(&b'}') {
            loop {
                if b.get(p) != Some(&b'"') {
                    return Err(rej(p, "object key expected"));
                }
                // Fast path: the field expected next, written verbatim.
                if !tracking {
                    if let Some(c) = children.get(hint) {
                        let name = c.field.name().as_bytes();
                        let raw = &b[p + 1..];
                        if c.plain_name
                            && raw.len() > name.len()
                            && raw[name.len()] == b'"'
                            && json::eq_short(&raw[..name.len()], name)
                            && stamp[hint] != g
                        {
                            let mut q = json::skip_ws(b, p + 2 + name.len());
                            if b.get(q) != Some(&b':') {
                                return Err(rej(q, "':' expected after object key"));
                            }
                            q = json::skip_ws(b, q + 1);
                            let idx = hint;
                            hint += 1;
                            stamp[idx] = g;
                            let ct = if r.tagged { t.and_then(|t| self.trie.child(t, c.field.name())) } else { None };
                            let child = &mut children[idx];
                            p = match if ct.is_none() { scalar(r, q, child) } else { None } {
                                Some(res) => res?,
                                None => self.value(r, q, child, ct, depth + 1)?,
                            };
                            p = json::skip_ws(b, p);
                            match b.get(p) {
                                Some(b',') => {
                                    p = json::skip_ws(b, p + 1);
                                    continue;
                                }
                                Some(b'}') => break,
                                _ => return Err(rej(p, "',' or '}' expected in object")),
                            }
                        }
                    }
                }
                let (kend, escaped) = json::skip_string(b, p + 1)?;
                let owned;
                let key: &str = if escaped {
                    let mut k = String::new();
                    json::unescape_into(&b[p + 1..kend - 1], &mut k).map_err(|m| rej(p, m))?;
                    owned = k;
                    &owned
                } else {
                    &r.s[p + 1..kend - 1]
                };
                let mut q = json::skip_ws(b, kend);
                if b.get(q) != Some(&b':') {
                    return Err(rej(q, "':' expected after object key"));
                }
                q = json::skip_ws(b, q + 1);
                if skip_types && key == "$types" {
                    p = json::skip_value(b, q)?;
                } else {
                    let idx = match children.get(hint) {
                        Some(c) if c.field.name() == key => hint,
                        _ => *index.get(key).ok_or_else(|| rej(p, format!("field '{key}' is not in the schema")))?,
                    };
                    hint = idx + 1;
                    let child = &mut children[idx];
                    if stamp[idx] == g {
                        // A duplicate key: the last one wins, as in JSON.parse.
                        let n = child.len();
                        child.truncate(n - 1);
                    }
                    stamp[idx] = g;
                    let ct = self.child(r, t, key);
                    if tracking {
                        self.path.push(Seg::Key(key.to_owned()));
                    }
                    p = self.value(r, q, child, ct, depth + 1)?;
                    if tracking {
                        self.path.pop();
                    }
                }
                p = json::skip_ws(b, p);
                match b.get(p) {
                    Some(b',') => p = json::skip_ws(b, p + 1),
                    Some(b'}') => break,
                    _ => return Err(rej(p, "',' or '}' expected in object")),
                }
            }
        }
        for (i, child) in children.iter_mut().enumerate() {
            if stamp[i] != g {
                if tracking {
                    self.path.push(Seg::Key(child.field.name().clone()));
                }
                let res = self.no_value(child, NoValue::Absent, p);
                if tracking {
                    self.path.pop();
                }
                res.map_err(|_| rej(at, format!("required field '{}' is missing", child.field.name())))?;
            }
        }
        col.push_valid();
        Ok(p + 1)
    }

    fn obj_map(
        &mut self,
        r: &Rec<'_>,
        at: usize,
        col: &mut Col,
        t: Option<u32>,
        depth: usize,
    ) -> Result<usize, Reject> {
        let b = r.bytes;
        let Data::Map { keys, values, .. } = &mut col.data else { unreachable!("map column") };
        let mut p = json::skip_ws(b, at + 1);
        if b.get(p) != Some(&b'}') {
            loop {
                if b.get(p) != Some(&b'"') {
                    return Err(rej(p, "object key expected"));
                }
                let (kend, _) = json::skip_string(b, p + 1)?;
                if json::has_control(&b[p + 1..kend - 1]) {
                    return Err(rej(p, "control character in string"));
                }
                let mut key = String::new();
                typeson::read_string(b, p, &mut key)?;
                keys.push_bytes(key.as_bytes());
                let mut q = json::skip_ws(b, kend);
                if b.get(q) != Some(&b':') {
                    return Err(rej(q, "':' expected after object key"));
                }
                q = json::skip_ws(b, q + 1);
                let ct = self.child(r, t, &key);
                p = self.value(r, q, values, ct, depth + 1)?;
                p = json::skip_ws(b, p);
                match b.get(p) {
                    Some(b',') => p = json::skip_ws(b, p + 1),
                    Some(b'}') => break,
                    _ => return Err(rej(p, "',' or '}' expected in object")),
                }
            }
        }
        col.close_list();
        Ok(p + 1)
    }

    fn elements(
        &mut self,
        r: &Rec<'_>,
        at: usize,
        col: &mut Col,
        t: Option<u32>,
        depth: usize,
    ) -> Result<usize, Reject> {
        let b = r.bytes;
        let tracking = self.tracking();
        let Data::List { child, .. } = &mut col.data else {
            return Err(rej(at, "an array does not fit this column"));
        };
        let mut p = json::skip_ws(b, at + 1);
        if b.get(p) != Some(&b']') {
            let mut i = 0usize;
            loop {
                let ct = self.child_index(r, t, i);
                if tracking {
                    self.path.push(Seg::Index(i));
                }
                p = self.value(r, p, child, ct, depth + 1)?;
                if tracking {
                    self.path.pop();
                }
                p = json::skip_ws(b, p);
                match b.get(p) {
                    Some(b',') => p = json::skip_ws(b, p + 1),
                    Some(b']') => break,
                    _ => return Err(rej(p, "',' or ']' expected in array")),
                }
                i += 1;
            }
        }
        col.close_list();
        Ok(p + 1)
    }

    /// The value's JSON text, verbatim; with its typeson encapsulation when the value
    /// (or anything inside it) carried tags.
    fn json_text(
        &mut self,
        r: &Rec<'_>,
        at: usize,
        col: &mut Col,
        t: Option<u32>,
        depth: usize,
    ) -> Result<usize, Reject> {
        let b = r.bytes;
        let end = json::validate_nested(b, at, depth)?;
        let raw = &b[at..end];
        let tagged = r.tagged && t.is_some_and(|t| !self.trie.chain(t).is_empty() || self.trie.has_children(t));
        if !tagged {
            col.push_bytes(raw);
            return Ok(end);
        }
        let mut types = serde_json::Map::new();
        self.trie.for_each_below(t.expect("tagged"), &mut |path, chain| {
            let v = if chain.len() == 1 {
                serde_json::Value::String(chain[0].name().to_owned())
            } else {
                serde_json::Value::Array(chain.iter().map(|c| serde_json::Value::String(c.name().to_owned())).collect())
            };
            types.insert(path.to_owned(), v);
        });
        let (offsets, data) = col.bytes_mut();
        let _ = offsets;
        data.extend_from_slice(b"{\"$\":");
        data.extend_from_slice(raw);
        data.extend_from_slice(b",\"$types\":{\"$\":");
        data.extend_from_slice(serde_json::Value::Object(types).to_string().as_bytes());
        data.extend_from_slice(b"}}");
        col.close_bytes();
        Ok(end)
    }

    fn tagged(&mut self, r: &Rec<'_>, at: usize, col: &mut Col, tn: u32, depth: usize) -> Result<usize, Reject> {
        let chain = self.trie.chain(tn);
        let b = r.bytes;
        let tag = match (chain.len(), &chain[0]) {
            (1, TagRef::Known(t)) => *t,
            (1, TagRef::Ref) => return self.reference(r, at, col, depth),
            _ => {
                if col.kind == Kind::Json {
                    return self.json_text(r, at, col, Some(tn), depth);
                }
                return Err(rej(at, format!("typeson '{}' does not fit a {} column", chain[0].name(), col_type(col))));
            }
        };
        if col.kind == Kind::Json && !matches!(tag, Tag::Undef | Tag::SparseUndefined) {
            return self.json_text(r, at, col, Some(tn), depth);
        }
        let misfit = |col: &Col| rej(at, format!("typeson '{}' does not fit a {} column", tag.name(), col_type(col)));
        match (tag, col.kind) {
            (Tag::Undef, _) => {
                self.no_value(col, NoValue::Undefined, at)?;
                Ok(json::skip_value(b, at)?)
            }
            (Tag::SparseUndefined, _) => {
                self.no_value(col, NoValue::Hole, at)?;
                Ok(json::skip_value(b, at)?)
            }
            (Tag::NaN | Tag::Infinity | Tag::NegativeInfinity | Tag::NegativeZero, Kind::Float) => {
                col.push_f64(match tag {
                    Tag::NaN => f64::NAN,
                    Tag::Infinity => f64::INFINITY,
                    Tag::NegativeInfinity => f64::NEG_INFINITY,
                    _ => -0.0,
                });
                Ok(json::skip_value(b, at)?)
            }
            (Tag::Date, Kind::Date | Kind::Ts) => {
                if b[at..].starts_with(b"\"NaN\"") {
                    // An invalid Date has no instant: null, of the kind `invalid`, so that a
                    // download writes `new Date(NaN)` back.
                    self.no_value(col, NoValue::Invalid, at)?;
                    return Ok(at + 5);
                }
                let (end, class) = json::scan_number(b, at)?;
                let text = &r.s[at..end];
                // Date.getTime() is an integer: parse it as one (a float only as a fallback).
                let v = match class {
                    NumClass::Int => text.parse::<i64>().ok(),
                    NumClass::Float => None,
                }
                .or_else(|| text.parse::<f64>().ok().map(|f| f as i64))
                .ok_or_else(|| rej(at, "invalid Date value"))?;
                if !col.push_ms(v) {
                    return Err(rej(at, format!("Date out of range for a {} column", col_type(col))));
                }
                Ok(end)
            }
            (Tag::StringObject, Kind::Str) => {
                if b.get(at) != Some(&b'"') {
                    return Err(rej(at, "typeson 'StringObject' value must be a string"));
                }
                self.string(r, at, col)
            }
            (Tag::BooleanObject, Kind::Bool) => {
                let v = b.get(at) == Some(&b't');
                let end = json::expect_literal(b, at, if v { b"true" } else { b"false" })?;
                col.push_bool(v);
                Ok(end)
            }
            (Tag::NumberObject, Kind::Int | Kind::Float) => {
                let (end, class) = json::scan_number(b, at)?;
                if col.kind == Kind::Int {
                    col.push_i64(int_value(&r.s[at..end], class).ok_or_else(|| rej(at, "not an integer"))?);
                } else {
                    col.push_f64(r.s[at..end].parse().map_err(|_| rej(at, "invalid number"))?);
                }
                Ok(end)
            }
            (Tag::BigInt | Tag::BigIntObject, Kind::BigI64 | Kind::BigDec | Kind::BigText | Kind::Int) => {
                if b.get(at) != Some(&b'"') {
                    return Err(rej(at, format!("typeson '{}' value must be decimal text", tag.name())));
                }
                let (end, _) = json::skip_string(b, at + 1)?;
                let digits = &r.s[at + 1..end - 1];
                match col.kind {
                    Kind::BigI64 | Kind::Int => {
                        col.push_i64(digits.parse().map_err(|_| rej(at, "BigInt out of Int64 range"))?)
                    }
                    Kind::BigDec => {
                        if !digits.parse().is_ok_and(|v| col.push_integer_decimal(v)) {
                            return Err(rej(at, format!("BigInt out of range for a {} column", col_type(col))));
                        }
                    }
                    _ => col.push_bytes(digits.as_bytes()),
                }
                Ok(end)
            }
            (Tag::ArrayBuffer, Kind::Binary) => {
                let (end, bytes) = self.buffer_bytes(r, at)?;
                col.push_bytes(&bytes);
                Ok(end)
            }
            (Tag::DataView, Kind::Binary) => {
                let (end, bytes) = self.view_bytes(r, at, tn, 1)?;
                col.push_bytes(&bytes);
                Ok(end)
            }
            (Tag::TypedArray(e, _), Kind::Typed(k)) if e == k => {
                let (end, bytes) = self.view_bytes(r, at, tn, e.width())?;
                let Data::List { child, .. } = &mut col.data else { unreachable!("typed list") };
                let Data::Prim { bytes: out, .. } = &mut child.data else { unreachable!("typed elements") };
                out.extend_from_slice(&bytes);
                col.close_list();
                Ok(end)
            }
            (Tag::Blob2 | Tag::Blob | Tag::File, Kind::Blob | Kind::File) => self.blob(r, at, col, tag),
            (Tag::RegExp, Kind::Struct) => self.members(r, at, col, None, depth, false),
            (Tag::Set, Kind::List) | (Tag::ArrayNonindexKeys, Kind::List) if b.get(at) == Some(&b'[') => {
                self.elements(r, at, col, Some(tn), depth)
            }
            (Tag::Map, Kind::Map) => self.map_entries(r, at, col, tn, depth),
            (Tag::ArrayNonindexKeys, _) if b.get(at) == Some(&b'[') => self.value_untagged(r, at, col, tn, depth),
            _ => Err(misfit(col)),
        }
    }

    /// A value whose own tag carries no meaning for the column (an array tagged
    /// `arrayNonindexKeys`): decoded as if untagged, its children still tagged.
    fn value_untagged(
        &mut self,
        r: &Rec<'_>,
        at: usize,
        col: &mut Col,
        tn: u32,
        depth: usize,
    ) -> Result<usize, Reject> {
        match col.kind {
            Kind::List => self.elements(r, at, col, Some(tn), depth),
            _ => Err(rej(at, format!("an array does not fit a {} column", col_type(col)))),
        }
    }

    fn map_entries(&mut self, r: &Rec<'_>, at: usize, col: &mut Col, tn: u32, depth: usize) -> Result<usize, Reject> {
        let b = r.bytes;
        let Data::Map { keys, values, .. } = &mut col.data else { unreachable!("map column") };
        let mut p = json::skip_ws(b, at + 1);
        if b.get(p) != Some(&b']') {
            let mut i = 0usize;
            loop {
                if b.get(p) != Some(&b'[') {
                    return Err(rej(p, "a Map entry must be a [key, value] pair"));
                }
                let et = self.child_index(r, Some(tn), i);
                let q = json::skip_ws(b, p + 1);
                let kt = self.child_index(r, et, 0);
                let q = self.value(r, q, keys, kt, depth + 2)?;
                let q = json::skip_ws(b, q);
                if b.get(q) != Some(&b',') {
                    return Err(rej(q, "a Map entry must be a [key, value] pair"));
                }
                let q = json::skip_ws(b, q + 1);
                let vt = self.child_index(r, et, 1);
                let q = self.value(r, q, values, vt, depth + 2)?;
                let q = json::skip_ws(b, q);
                if b.get(q) != Some(&b']') {
                    return Err(rej(q, "a Map entry must be a [key, value] pair"));
                }
                p = json::skip_ws(b, q + 1);
                match b.get(p) {
                    Some(b',') => p = json::skip_ws(b, p + 1),
                    Some(b']') => break,
                    _ => return Err(rej(p, "',' or ']' expected in Map entries")),
                }
                i += 1;
            }
        }
        col.close_list();
        Ok(p + 1)
    }

    /// `#keypath`: decodes the value the reference points at.
    fn reference(&mut self, r: &Rec<'_>, at: usize, col: &mut Col, depth: usize) -> Result<usize, Reject> {
        let b = r.bytes;
        let (end, target, tt) = self.resolve(r, at)?;
        let tend = json::skip_value(b, target)?;
        if target <= at && at < tend {
            return Err(rej(at, "a cyclic typeson reference has no columnar form"));
        }
        self.value(r, target, col, tt, depth + 1)?;
        Ok(end)
    }

    fn resolve(&self, r: &Rec<'_>, at: usize) -> Result<(usize, usize, Option<u32>), Reject> {
        let b = r.bytes;
        if b.get(at) != Some(&b'"') {
            return Err(rej(at, "typeson '#' reference must be a string"));
        }
        let (end, _) = json::skip_string(b, at + 1)?;
        let text = &r.s[at + 1..end - 1];
        let path = text.strip_prefix('#').ok_or_else(|| rej(at, "typeson '#' reference must start with '#'"))?;
        let (target, tt) = typeson::locate(b, r.root, Some(&self.trie), path)
            .ok_or_else(|| rej(at, format!("typeson reference to missing keypath '{path}'")))?;
        Ok((end, target, tt))
    }

    /// An ArrayBuffer: base64 text (dexie), `{s: base64}` (typeson-registry), or a
    /// `#` reference to one. References are followed in a loop: a chain that comes back
    /// on itself (`{"x":"#x"}`) or runs longer than any record can nest is a reject, not
    /// endless recursion.
    fn buffer_bytes(&self, r: &Rec<'_>, at: usize) -> Result<(usize, Vec<u8>), Reject> {
        let b = r.bytes;
        // The end of the value at `at`, whatever its references lead to.
        let mut end = None;
        let mut p = at;
        for _ in 0..=json::MAX_DEPTH {
            match b.get(p) {
                Some(b'"') => {
                    let (e, _) = json::skip_string(b, p + 1)?;
                    let end = *end.get_or_insert(e);
                    let text = &r.s[p + 1..e - 1];
                    let Some(path) = text.strip_prefix('#') else {
                        return Ok((end, b64(text).map_err(|m| rej(p, m))?));
                    };
                    p = typeson::locate(b, r.root, Some(&self.trie), path)
                        .ok_or_else(|| rej(p, format!("typeson reference to missing keypath '{path}'")))?
                        .0;
                }
                Some(b'{') => {
                    let e = json::skip_value(b, p)?;
                    let v: serde_json::Value =
                        serde_json::from_slice(&b[p..e]).map_err(|_| rej(p, "invalid ArrayBuffer"))?;
                    let s = v.get("s").and_then(|s| s.as_str()).ok_or_else(|| rej(p, "ArrayBuffer without data"))?;
                    return Ok((end.unwrap_or(e), b64(s).map_err(|m| rej(p, m))?));
                }
                _ => return Err(rej(p, "typeson 'arraybuffer' value must be base64 text")),
            }
        }
        Err(rej(
            at,
            format!("typeson ArrayBuffer references form a cycle (or a chain of over {} links)", json::MAX_DEPTH),
        ))
    }

    /// The bytes of a DataView or typed array: `{buffer | encoded, byteOffset,
    /// length | byteLength}`; `width` is the element size (1 for DataView).
    fn view_bytes(&self, r: &Rec<'_>, at: usize, tn: u32, width: usize) -> Result<(usize, Vec<u8>), Reject> {
        let b = r.bytes;
        if b.get(at) != Some(&b'{') {
            return Err(rej(at, "a typed array / DataView value must be an object"));
        }
        let mut p = json::skip_ws(b, at + 1);
        let mut key = String::new();
        let mut buffer: Option<Vec<u8>> = None;
        let (mut offset, mut length, mut byte_length) = (0usize, None::<usize>, None::<usize>);
        while b.get(p) == Some(&b'"') {
            p = typeson::read_string(b, p, &mut key)?;
            p = json::skip_ws(b, p);
            p = json::skip_ws(b, p + 1);
            let vend = json::skip_value(b, p)?;
            match key.as_str() {
                "buffer" | "encoded" => {
                    // `buffer` is tagged arraybuffer or `#`; `encoded` is plain base64.
                    let is_ref = self.trie.child(tn, &key).is_some_and(|c| self.trie.chain(c) == [TagRef::Ref]);
                    let (_, bytes) = if is_ref {
                        let (_, target, _) = self.resolve(r, p)?;
                        self.buffer_bytes(r, target)?
                    } else {
                        self.buffer_bytes(r, p)?
                    };
                    buffer = Some(bytes);
                }
                "byteOffset" => offset = r.s[p..vend].parse().map_err(|_| rej(p, "invalid byteOffset"))?,
                "length" => length = Some(r.s[p..vend].parse().map_err(|_| rej(p, "invalid length"))?),
                "byteLength" => byte_length = Some(r.s[p..vend].parse().map_err(|_| rej(p, "invalid byteLength"))?),
                "index" => return Err(rej(p, "shared typeson buffer references by index are not supported")),
                _ => {}
            }
            p = json::skip_ws(b, vend);
            if b.get(p) == Some(&b',') {
                p = json::skip_ws(b, p + 1);
            }
        }
        if b.get(p) != Some(&b'}') {
            return Err(rej(p, "'}' expected"));
        }
        let buf = buffer.ok_or_else(|| rej(at, "typed array / DataView without a buffer"))?;
        let len = byte_length.or(length.map(|l| l * width)).unwrap_or(buf.len().saturating_sub(offset));
        let slice =
            buf.get(offset..offset + len).ok_or_else(|| rej(at, "typed array / DataView range outside its buffer"))?;
        Ok((p + 1, slice.to_vec()))
    }

    /// `blob2` {type, data: base64}, `blob` {type, stringContents}, `file` {…, name, lastModified}.
    fn blob(&mut self, r: &Rec<'_>, at: usize, col: &mut Col, tag: Tag) -> Result<usize, Reject> {
        let b = r.bytes;
        let end = json::skip_value(b, at)?;
        let v: serde_json::Value = serde_json::from_slice(&b[at..end]).map_err(|_| rej(at, "invalid Blob value"))?;
        let ty = v.get("type").and_then(|t| t.as_str()).unwrap_or("");
        let data: Vec<u8> = match tag {
            Tag::Blob2 => b64(v.get("data").and_then(|d| d.as_str()).ok_or_else(|| rej(at, "Blob without data"))?)
                .map_err(|m| rej(at, m))?,
            _ => v
                .get("stringContents")
                .and_then(|d| d.as_str())
                .ok_or_else(|| rej(at, "Blob without stringContents"))?
                .chars()
                .map(|c| c as u32 as u8)
                .collect(),
        };
        let Data::Struct { children, .. } = &mut col.data else { unreachable!("blob struct") };
        children[0].push_bytes(ty.as_bytes());
        children[1].push_bytes(&data);
        if children.len() > 3 {
            match v.get("name").and_then(|n| n.as_str()) {
                Some(n) => children[2].push_bytes(n.as_bytes()),
                None => children[2].push_null(),
            }
            match v.get("lastModified").and_then(|n| n.as_i64()) {
                Some(t) => children[3].push_i64(t),
                None => children[3].push_null(),
            }
        }
        col.push_valid();
        Ok(end)
    }
}

/// Strings and numbers into plain string / number columns, without the cost of a
/// call to `W::value`; `None` for everything else.
#[inline(always)]
fn scalar(r: &Rec<'_>, at: usize, col: &mut Col) -> Option<Result<usize, Reject>> {
    let b = r.bytes;
    match (b.get(at)?, col.kind) {
        (b'"', Kind::Str) => {
            // Plain strings only; escapes and errors take the full path.
            let (end, escaped) = json::skip_string(b, at + 1).ok()?;
            let body = &b[at + 1..end - 1];
            if escaped || json::has_control(body) {
                return None;
            }
            col.push_bytes(body);
            Some(Ok(end))
        }
        (b'-' | b'0'..=b'9', Kind::Int) => {
            let (end, class) = json::scan_number(b, at).ok()?;
            let v = int_value(&r.s[at..end], class)?;
            col.push_i64(v);
            Some(Ok(end))
        }
        (b'-' | b'0'..=b'9', Kind::Float) => {
            let (end, _) = json::scan_number(b, at).ok()?;
            let v: f64 = r.s[at..end].parse().ok()?;
            col.push_f64(v);
            Some(Ok(end))
        }
        _ => None,
    }
}

fn b64(text: &str) -> Result<Vec<u8>, &'static str> {
    base64::engine::general_purpose::STANDARD.decode(text).map_err(|_| "undecodable base64")
}

fn int_value(text: &str, class: NumClass) -> Option<i64> {
    match class {
        NumClass::Int if !text.contains(['.', 'e', 'E']) => text.parse().ok(),
        _ => {
            let f: f64 = text.parse().ok()?;
            (f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0).then_some(f as i64)
        }
    }
}

fn describe(c: u8) -> &'static str {
    match c {
        b'"' => "a string",
        b'{' => "an object",
        b'[' => "an array",
        b't' | b'f' => "a boolean",
        b'-' | b'0'..=b'9' => "a number",
        _ => "a value",
    }
}

fn col_type(col: &Col) -> String {
    col.field.data_type().to_string().to_lowercase()
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` into epoch milliseconds.
pub(crate) fn parse_iso_ms(s: &[u8]) -> Option<i64> {
    let num = |a: usize, b: usize| -> Option<i64> {
        let t = s.get(a..b)?;
        if !t.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(t).ok()?.parse().ok()
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, se) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut i = 19;
    let mut ms = 0i64;
    if s.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let frac = std::str::from_utf8(&s[start..i]).ok()?;
        let padded = format!("{:0<3}", &frac[..frac.len().min(3)]);
        ms = padded.parse().ok()?;
    }
    let offset_min = match s.get(i) {
        None => 0,
        Some(b'Z') => 0,
        Some(&c @ (b'+' | b'-')) => {
            let v = num(i + 1, i + 3)? * 60 + num(i + 4, i + 6)?;
            if c == b'+' {
                v
            } else {
                -v
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    Some(((days * 24 + h) * 60 + mi - offset_min) * 60_000 + se * 1000 + ms)
}

/// Decodes a standalone list of records against `schema` (for tests and tools).
pub fn decode_all<'a>(
    schema: SchemaRef,
    records: impl IntoIterator<Item = &'a [u8]>,
) -> (RecordBatch, Vec<(usize, Reject)>) {
    let mut d = Decoder::new(schema);
    let mut rejects = Vec::new();
    for (i, r) in records.into_iter().enumerate() {
        if let Err(e) = d.push(r) {
            rejects.push((i, e));
        }
    }
    (d.finish(), rejects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_timestamps() {
        assert_eq!(parse_iso_ms(b"1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(parse_iso_ms(b"2024-03-01T12:34:56.789Z"), Some(1_709_296_496_789));
        assert_eq!(parse_iso_ms(b"2024-03-01T13:34:56.789+01:00"), Some(1_709_296_496_789));
        assert_eq!(parse_iso_ms(b"1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(parse_iso_ms(b"nonsense"), None);
    }

    /// Regression (bad-input corpus): records that were all `{}` give a schema without
    /// fields, and finishing their batch panicked (a struct array needs its length given
    /// when it has no children).
    #[test]
    fn records_that_are_all_empty_objects_give_rows_without_columns() {
        let schema = Arc::new(arrow_schema::Schema::empty());
        let (batch, rejects) = decode_all(schema, [&b"{}"[..], b" { } ", b"{\"a\":1}"]);
        assert_eq!((batch.num_rows(), batch.num_columns()), (2, 0));
        assert_eq!(
            rejects.iter().map(|r| (r.0, r.1.reason.as_str())).collect::<Vec<_>>(),
            vec![(2, "field 'a' is not in the schema")]
        );
    }

    /// Regression (bad-input corpus): a line nested 100,000 levels deep was rejected as
    /// "the record is not an object", and one holding a NUL byte likewise; inference
    /// reports them as too deep and as an unexpected character.
    #[test]
    fn malformed_records_are_rejected_as_malformed_not_as_misfits() {
        use arrow_schema::{DataType, Schema};
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let deep_array = "[".repeat(100_000);
        let deep_object = "{\"a\":".repeat(100_000);
        let records: [&[u8]; 5] =
            [deep_array.as_bytes(), deep_object.as_bytes(), b"\x00", br#"{"id":1,"x":tru}"#, br#"{"id":"one"}"#];
        let (batch, rejects) = decode_all(schema, records);
        assert_eq!(batch.num_rows(), 0);
        let reasons: Vec<(usize, &str)> = rejects.iter().map(|(i, r)| (*i, r.reason.as_str())).collect();
        assert_eq!(
            reasons,
            vec![
                (0, "nesting deeper than 512 levels"),
                (1, "nesting deeper than 512 levels"),
                (2, "unexpected character"),
                (3, "invalid literal"),
                (4, "a string does not fit a int64 column"),
            ]
        );
    }

    /// Regression (bad-input corpus): a record rejected after its first field left the
    /// values it had already decoded in the struct's children, because the rollback
    /// stopped at the struct, whose own slot was not closed yet. The next batch then
    /// panicked ("Incorrect array length for StructArray field").
    #[test]
    fn a_record_rejected_after_its_first_field_leaves_nothing_behind() {
        use arrow::array::{Array, AsArray};
        use arrow::datatypes::Int64Type;
        use arrow_schema::{DataType, Fields, Schema};
        let inner =
            Fields::from(vec![Field::new("x", DataType::Int64, true), Field::new("y", DataType::Boolean, true)]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
            Field::new("o", DataType::Struct(inner), true),
            Field::new("l", DataType::List(Arc::new(Field::new("item", DataType::Int64, true))), true),
        ]));
        let records: [&[u8]; 5] = [
            br#"{"id":1,"s":"a","o":{"x":1,"y":true},"l":[1]}"#,
            b"{\"id\":2,\"s\":\"nul \x00 here\"}",
            br#"{"id":3,"s":"b","o":{"x":3,"y":tru}}"#,
            br#"{"id":4,"s":"c","l":[4,5,"six"]}"#,
            br#"{"id":5,"s":"d","o":{"x":5,"y":false},"l":[]}"#,
        ];
        let (batch, rejects) = decode_all(schema, records);
        assert_eq!(rejects.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(batch.num_rows(), 2);
        let ids: Vec<i64> = batch.column(0).as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(ids, vec![1, 5]);
        let s = batch.column(1).as_string::<i32>();
        assert_eq!((s.len(), s.value(0), s.value(1)), (2, "a", "d"));
        let o = batch.column(2).as_struct();
        let x = o.column(0).as_primitive::<Int64Type>();
        assert_eq!((x.len(), x.value(0), x.value(1)), (2, 1, 5));
        let l = batch.column(3).as_list::<i32>();
        assert_eq!((l.value_length(0), l.value_length(1), l.values().len()), (1, 0, 1));
    }

    /// Regression (decode fuzz target, crash-5597666c): a record field named
    /// `__idb_nulls` beside fields with several kinds of "no value" gave a schema with
    /// two `__idb_nulls` columns, and finishing the batch panicked ("all columns in a
    /// record batch must have the specified row count"). Inference now keeps such records
    /// in the value column; every record decodes, with the field and the side column.
    #[test]
    fn a_record_field_named_like_the_side_column_decodes() {
        use arrow::array::AsArray;
        use arrow::datatypes::Int64Type;
        let text = b"{\"__idb_nulls\":-7,\"opt\":null}\n{\"__idb_nulls\":2}\n";
        let mut inf = schema_infer::Inferrer::new(schema_infer::InferOptions::new().with_threads(1)).unwrap();
        inf.push(text).unwrap();
        let schema = inf.finish().unwrap().stores[0].schema.clone();
        let (batch, rejects) = decode_all(schema, text.split(|&b| b == b'\n').filter(|l| !l.is_empty()));
        assert!(rejects.is_empty(), "{rejects:?}");
        assert_eq!((batch.num_rows(), batch.num_columns()), (2, 2));
        let value = batch.column(0).as_struct();
        let user = value.column_by_name(NULLS_COLUMN).unwrap().as_primitive::<Int64Type>();
        assert_eq!(user.values().to_vec(), vec![-7, 2]);
        let side = batch.column(1).as_map();
        // `opt` is null in row 0 (the column's default kind) and absent in row 1.
        assert_eq!((side.value_length(0), side.value_length(1)), (0, 1));
        assert_eq!(
            (side.keys().as_string::<i32>().value(0), side.values().as_string::<i32>().value(0)),
            ("opt", "absent")
        );
    }

    /// A schema whose `__idb_nulls` field is not the side map (e.g. pinned by a schema
    /// document) treats it as an ordinary field instead of panicking.
    #[test]
    fn an_idb_nulls_field_that_is_not_a_map_is_an_ordinary_column() {
        use arrow::array::{Array, AsArray};
        use arrow::datatypes::Int64Type;
        use arrow_schema::{DataType, Schema};
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new(NULLS_COLUMN, DataType::Int64, true),
        ]));
        let (batch, rejects) = decode_all(schema, [&br#"{"id":1,"__idb_nulls":5}"#[..], br#"{"id":2}"#]);
        assert!(rejects.is_empty(), "{rejects:?}");
        let col = batch.column(1).as_primitive::<Int64Type>();
        assert_eq!((col.value(0), col.is_null(1)), (5, true));
    }

    /// A raw control character in an escaped string or in a map key was accepted, where
    /// inference (and strict JSON) rejects it; an escaped one is a value like any other.
    #[test]
    fn raw_control_characters_are_rejected_in_escaped_strings_and_map_keys() {
        use arrow::array::AsArray;
        use arrow_schema::{DataType, Fields, Schema};
        let kv =
            Fields::from(vec![Field::new("key", DataType::Utf8, false), Field::new("value", DataType::Int64, true)]);
        let entries = Arc::new(Field::new("entries", DataType::Struct(kv), false));
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("m", DataType::Map(entries, false), true),
        ]));
        let records: [&[u8]; 4] = [
            b"{\"s\":\"\\n\x01\"}",
            b"{\"m\":{\"\x01\":1}}",
            br#"{"s":"\u0001","m":{"\u0001":2}}"#,
            b"{\"s\":\"\x1f\"}",
        ];
        let (batch, rejects) = decode_all(schema, records);
        let reasons: Vec<(usize, &str)> = rejects.iter().map(|(i, r)| (*i, r.reason.as_str())).collect();
        assert_eq!(
            reasons,
            vec![
                (0, "control character in string"),
                (1, "control character in string"),
                (3, "control character in string")
            ]
        );
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.column(0).as_string::<i32>().value(0), "\u{1}");
        assert_eq!(batch.column(1).as_map().keys().as_string::<i32>().value(0), "\u{1}");
    }
}
