//! Arrow values back to JSON: the reverse of `decode.rs`. One plan per schema ([`Enc`],
//! from the fields' `idb.*` metadata), then one pass per row that writes the value's
//! JSON text and, in typeson mode, collects its `$types` entries (Date → `date`, Blob →
//! `blob2`, typed arrays, Map, Set, BigInt, NaN/±Infinity, `undefined`, holes, …).
//! `__idb_nulls` tells which kind of "no value" each null was.
//!
//! Plain mode writes what `JSON.stringify` would, with Dates as ISO-8601 text and
//! binary as base64 (for NDJSON and CSV).

use super::json::{
    b64_len, copy_json, decimal_text, iso_text, to_millis, write_b64, write_i64, write_js_number, write_plain_number,
    write_str,
};
use crate::input::column::NoValue;
use crate::input::field_kind::{self as fk, list_item, value_type, FieldKind};
use arrow::array::{Array, ArrayRef, AsArray, MapArray};
use arrow::datatypes::{
    Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type,
    UInt8Type,
};
use arrow_schema::{DataType, Field, Fields, TimeUnit};
use schema_infer::{Elem, Tag};
use std::sync::Arc;

/// Which JSON a row becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// typeson: the values dexie-export-import writes, with `$types`.
    Typeson,
    /// Plain JSON (what `JSON.stringify` gives; Dates as ISO text, binary as base64).
    Plain,
}

/// How the values of one field are written.
#[derive(Debug)]
pub(crate) enum K {
    Null,
    Bool,
    Int,
    Float,
    /// Decimal128 with this scale.
    Dec(i8),
    Str,
    /// JSON text (`arrow.json`), possibly with typeson encapsulation.
    Json,
    /// Any value as text (`--on-conflict string`).
    Text,
    /// A typeson Date (timestamp in milliseconds).
    Date,
    /// A timestamp that was an ISO-8601 string (`--detect-timestamps`).
    Iso(TimeUnit),
    /// Any other timestamp (query results): a Date.
    Ts(TimeUnit),
    Binary,
    Blob {
        file: bool,
    },
    Typed(Elem),
    List(Box<Enc>),
    Map(Box<Enc>, Box<Enc>),
    ObjMap(Box<Enc>),
    Struct(Vec<Enc>),
}

/// The output plan of one field (and its children).
#[derive(Debug)]
pub(crate) struct Enc {
    pub name: String,
    /// The name as a typeson key-path component (`~` → `~0`, `.` → `~1`).
    comp: String,
    /// `"name":` (ASCII-escaped) and the same in UTF-8.
    key_ascii: Vec<u8>,
    key_utf8: Vec<u8>,
    pub kind: K,
    pub tag: Option<Tag>,
    pub default_nv: NoValue,
    /// The type the column is cast to before writing (same as the field's for stored data).
    pub target: DataType,
}

impl Enc {
    /// The plan for `field`, from its type and `idb.*` metadata. Types a JSON value has
    /// no direct form for (small ints, views, dictionaries, dates, times …) are cast to
    /// the nearest one first (see `target`).
    pub fn new(field: &Field) -> Enc {
        let FieldKind { kind, tag, default_nv, .. } = FieldKind::of(field);
        let dt = value_type(field.data_type()).clone();
        let (kind, target) = match kind {
            fk::Kind::Json => (K::Json, DataType::Utf8),
            fk::Kind::Text => (K::Text, DataType::Utf8),
            fk::Kind::Null => (K::Null, DataType::Null),
            fk::Kind::Bool => (K::Bool, DataType::Boolean),
            fk::Kind::Int | fk::Kind::BigInt => (K::Int, DataType::Int64),
            fk::Kind::Prim(Elem::U64) => (K::Dec(0), DataType::Decimal128(20, 0)),
            fk::Kind::Float | fk::Kind::Prim(Elem::F32 | Elem::F64) => (K::Float, DataType::Float64),
            fk::Kind::Prim(_) => (K::Int, DataType::Int64),
            fk::Kind::Decimal { precision, scale } => (K::Dec(scale), DataType::Decimal128(precision.max(1), scale)),
            fk::Kind::Str | fk::Kind::BigText => (K::Str, DataType::Utf8),
            // A JavaScript Date holds milliseconds.
            fk::Kind::Date => {
                let DataType::Timestamp(_, tz) = &dt else { unreachable!("a timestamp") };
                (K::Date, DataType::Timestamp(TimeUnit::Millisecond, tz.clone()))
            }
            fk::Kind::IsoTs | fk::Kind::Ts => match &dt {
                DataType::Timestamp(unit, _) if kind == fk::Kind::IsoTs => (K::Iso(*unit), dt.clone()),
                DataType::Timestamp(unit, _) => (K::Ts(*unit), dt.clone()),
                _ => (K::Ts(TimeUnit::Millisecond), DataType::Timestamp(TimeUnit::Millisecond, None)),
            },
            fk::Kind::Binary => (K::Binary, DataType::Binary),
            fk::Kind::TypedArray(e) => (K::Typed(e), DataType::List(list_item(&dt).expect("a list").clone())),
            fk::Kind::List => {
                let item = list_item(&dt).expect("a list");
                let child = Enc::new(item);
                let t = DataType::List(Arc::new(item.as_ref().clone().with_data_type(child.target.clone())));
                (K::List(Box::new(child)), t)
            }
            fk::Kind::JsMap | fk::Kind::ObjMap => {
                let DataType::Map(entries, sorted) = &dt else { unreachable!("a map") };
                let DataType::Struct(kv) = entries.data_type() else {
                    return Enc::text_fallback(field, tag, default_nv);
                };
                let (k, v) = (Enc::new(&kv[0]), Enc::new(&kv[1]));
                let t = DataType::Map(
                    Arc::new(entries.as_ref().clone().with_data_type(DataType::Struct(Fields::from(vec![
                        kv[0].as_ref().clone().with_data_type(k.target.clone()),
                        kv[1].as_ref().clone().with_data_type(v.target.clone()),
                    ])))),
                    *sorted,
                );
                if kind == fk::Kind::JsMap || !matches!(k.kind, K::Str) {
                    (K::Map(Box::new(k), Box::new(v)), t)
                } else {
                    (K::ObjMap(Box::new(v)), t)
                }
            }
            fk::Kind::Blob | fk::Kind::File | fk::Kind::Struct => {
                let DataType::Struct(fields) = &dt else { unreachable!("a struct") };
                let children: Vec<Enc> = fields.iter().map(|f| Enc::new(f)).collect();
                let t = DataType::Struct(Fields::from(
                    fields
                        .iter()
                        .zip(&children)
                        .map(|(f, c)| f.as_ref().clone().with_data_type(c.target.clone()))
                        .collect::<Vec<_>>(),
                ));
                let blob = matches!(kind, fk::Kind::Blob | fk::Kind::File)
                    && fields.len() >= 2
                    && matches!(children[0].kind, K::Str)
                    && matches!(children[1].kind, K::Binary);
                let file = children.len() >= 4
                    && matches!(children[2].kind, K::Str)
                    && matches!(children[3].kind, K::Int)
                    && kind == fk::Kind::File;
                if blob {
                    (K::Blob { file }, t)
                } else {
                    (K::Struct(children), t)
                }
            }
            fk::Kind::Other => return Enc::text_fallback(field, tag, default_nv),
        };
        Enc::named(field.name(), kind, tag, default_nv, target)
    }

    /// Types with no JSON form of their own (times, durations, intervals …): their text.
    fn text_fallback(field: &Field, tag: Option<Tag>, default_nv: NoValue) -> Enc {
        Enc::named(field.name(), K::Str, tag, default_nv, DataType::Utf8)
    }

    fn named(name: &str, kind: K, tag: Option<Tag>, default_nv: NoValue, target: DataType) -> Enc {
        let mut key_ascii = Vec::new();
        write_str(&mut key_ascii, name, true);
        key_ascii.push(b':');
        let mut key_utf8 = Vec::new();
        write_str(&mut key_utf8, name, false);
        key_utf8.push(b':');
        Enc {
            name: name.to_owned(),
            comp: schema_infer::escape_component(name),
            key_ascii,
            key_utf8,
            kind,
            tag,
            default_nv,
            target,
        }
    }

    /// The column cast to the plan's type, when it differs.
    pub fn prepare(&self, col: &ArrayRef) -> Result<ArrayRef, arrow::error::ArrowError> {
        if col.data_type() == &self.target {
            Ok(col.clone())
        } else {
            arrow::compute::cast(col, &self.target)
        }
    }
}

/// The plan of a whole schema: one [`Enc`] per column, and which columns are special.
pub(crate) struct Plan {
    pub encs: Vec<Enc>,
    /// `__idb_nulls`.
    pub nulls: Option<usize>,
    /// `__key`.
    pub key: Option<usize>,
    /// `__value`, when the store's values are not objects (`idb.value_column`).
    pub value: Option<usize>,
    /// The columns that make up an object value.
    pub data: Vec<usize>,
}

impl Plan {
    pub fn new(schema: &arrow_schema::Schema) -> Plan {
        let encs: Vec<Enc> = schema.fields().iter().map(|f| Enc::new(f)).collect();
        let find = |name: &str| schema.fields().iter().position(|f| f.name() == name);
        let nulls =
            find(schema_infer::NULLS_COLUMN).filter(|&i| matches!(schema.field(i).data_type(), DataType::Map(..)));
        let key = find(schema_infer::KEY_COLUMN);
        let value = find(schema_infer::VALUE_COLUMN).filter(|_| schema.metadata().contains_key("idb.value_column"));
        let data = (0..encs.len()).filter(|i| Some(*i) != nulls && Some(*i) != key && Some(*i) != value).collect();
        Plan { encs, nulls, key, value, data }
    }

    /// The batch's columns, cast where the plan needs another type; `Err` names the column.
    pub fn bind(&self, batch: &arrow::array::RecordBatch) -> Result<Vec<ArrayRef>, (String, arrow::error::ArrowError)> {
        let mut out = Vec::with_capacity(self.encs.len());
        for (i, (e, c)) in self.encs.iter().zip(batch.columns()).enumerate() {
            if Some(i) == self.nulls {
                out.push(c.clone());
            } else {
                out.push(e.prepare(c).map_err(|err| (e.name.clone(), err))?);
            }
        }
        Ok(out)
    }

    /// The `__idb_nulls` column of bound columns.
    pub fn side<'a>(&self, cols: &'a [ArrayRef]) -> Option<&'a MapArray> {
        self.nulls.and_then(|i| cols[i].as_map_opt())
    }
}

/// A value the output cannot hold: where, and why.
#[derive(Debug)]
pub(crate) struct Problem {
    pub path: String,
    pub reason: String,
}

/// A value the output holds but the Dexie importer may not read (a Blob too large).
#[derive(Debug)]
pub(crate) struct Big {
    pub path: String,
    pub message: String,
}

/// The state of one row being written.
pub(crate) struct Cx {
    pub mode: Mode,
    /// Escape every non-ASCII character.
    pub ascii: bool,
    /// Longest string the importer reads (UTF-16 code units); `usize::MAX`: no limit.
    pub limit: usize,
    /// `$types` entries so far, `"path":tag` joined by commas.
    pub types: Vec<u8>,
    /// The current key path (typeson notation), relative to the value.
    path: String,
    /// Where the value sits in the written row: `""`, or `0` / `1` in a `[key, value]` tuple.
    pub prefix: &'static str,
    /// This row's `__idb_nulls` entries (path → kind).
    side: Vec<(String, NoValue)>,
    /// Large binary values seen in this row.
    pub big: Vec<Big>,
}

/// Where a value sits, which decides how its kind of "no value" is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Member,
    Element,
    Entry,
    Root,
}

impl Cx {
    pub fn new(mode: Mode, ascii: bool, limit: usize) -> Cx {
        Cx { mode, ascii, limit, types: Vec::new(), path: String::new(), prefix: "", side: Vec::new(), big: Vec::new() }
    }

    /// Starts a row: `side` is its `__idb_nulls` map (if the schema has one).
    pub fn start_row(&mut self, side: Option<(&MapArray, usize)>) {
        self.types.clear();
        self.path.clear();
        self.prefix = "";
        self.side.clear();
        self.big.clear();
        if let Some((m, i)) = side {
            if m.is_valid(i) {
                let offsets = m.value_offsets();
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                let keys = m.keys().as_string_opt::<i32>();
                let values = m.values().as_string_opt::<i32>();
                if let (Some(k), Some(v)) = (keys, values) {
                    for j in start..end {
                        if let Some(nv) = v.is_valid(j).then(|| NoValue::parse(v.value(j))).flatten() {
                            self.side.push((k.value(j).to_owned(), nv));
                        }
                    }
                }
            }
        }
    }

    fn push(&mut self, comp: &str) -> usize {
        let mark = self.path.len();
        if !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(comp);
        mark
    }

    fn push_index(&mut self, i: usize) -> usize {
        let mark = self.path.len();
        if !self.path.is_empty() {
            self.path.push('.');
        }
        let _ = std::fmt::Write::write_fmt(&mut self.path, format_args!("{i}"));
        mark
    }

    fn pop(&mut self, mark: usize) {
        self.path.truncate(mark);
    }

    /// The current path as written in `$types` (with the tuple prefix).
    pub fn full_path(&self) -> String {
        match (self.prefix.is_empty(), self.path.is_empty()) {
            (true, _) => self.path.clone(),
            (false, true) => self.prefix.to_owned(),
            (false, false) => format!("{}.{}", self.prefix, self.path),
        }
    }

    fn kind_here(&self, default: NoValue) -> NoValue {
        if self.side.is_empty() {
            return default;
        }
        self.side.iter().find(|(p, _)| *p == self.path).map_or(default, |(_, nv)| *nv)
    }

    fn type_key(&mut self, rel: Option<&str>) {
        if !self.types.is_empty() {
            self.types.push(b',');
        }
        let mut p = self.full_path();
        if let Some(r) = rel.filter(|r| !r.is_empty()) {
            if !p.is_empty() {
                p.push('.');
            }
            p.push_str(r);
        }
        write_str(&mut self.types, &p, self.ascii);
        self.types.push(b':');
    }

    /// Records `tag` for the value at the current path.
    fn tag(&mut self, tag: &str) {
        if self.mode != Mode::Typeson {
            return;
        }
        self.type_key(None);
        write_str(&mut self.types, tag, self.ascii);
    }

    /// Records a chain of tags (the last applied first, as typeson writes them).
    fn tag_chain(&mut self, tags: &[&str]) {
        if self.mode != Mode::Typeson {
            return;
        }
        self.type_key(None);
        self.types.push(b'[');
        for (i, t) in tags.iter().enumerate() {
            if i > 0 {
                self.types.push(b',');
            }
            write_str(&mut self.types, t, self.ascii);
        }
        self.types.push(b']');
    }

    /// Adds one entry of a JSON-text value's own `$types` (path relative to the value).
    fn tag_json(&mut self, rel: &str, value: &serde_json::Value) {
        self.type_key(Some(rel));
        copy_json(&mut self.types, &value.to_string(), self.ascii);
    }

    fn string(&mut self, out: &mut Vec<u8>, s: &str) -> Result<(), Problem> {
        let units = write_str(out, s, self.ascii);
        self.check_len(units, "a string")
    }

    fn check_len(&self, units: usize, what: &str) -> Result<(), Problem> {
        if units > self.limit {
            return Err(Problem {
                path: self.full_path(),
                reason: format!(
                    "{what} of {units} UTF-16 code units is longer than the {} that dexie-export-import's \
                     importer reads per string (clarinet MAX_BUFFER_LENGTH, 10 MiB)",
                    self.limit
                ),
            });
        }
        Ok(())
    }

    /// Notes binary data whose base64 text the importer cannot read.
    fn check_binary(&mut self, bytes: usize, what: &str) {
        let len = b64_len(bytes);
        if self.mode == Mode::Typeson && len > self.limit {
            self.big.push(Big {
                path: self.full_path(),
                message: format!(
                    "{what} of {bytes} bytes: its base64 text ({len} characters) is longer than the {} that \
                     dexie-export-import's importer reads per string, so importDB fails on this row",
                    self.limit
                ),
            });
        }
    }

    /// Writes an object member; a null is written as its kind of "no value" (an absent
    /// key is left out). Returns whether anything was written. `comp`: whether the member
    /// adds its name to the key path (not for `__key` / `__value`, which stand for the
    /// whole key and value).
    pub fn member(
        &mut self,
        out: &mut Vec<u8>,
        e: &Enc,
        a: &dyn Array,
        i: usize,
        first: &mut bool,
        comp: bool,
    ) -> Result<bool, Problem> {
        let mark = if comp { self.push(&e.comp) } else { self.path.len() };
        let res = self.member_here(out, e, a, i, first);
        self.pop(mark);
        res
    }

    fn member_here(
        &mut self,
        out: &mut Vec<u8>,
        e: &Enc,
        a: &dyn Array,
        i: usize,
        first: &mut bool,
    ) -> Result<bool, Problem> {
        let key = |out: &mut Vec<u8>, first: &mut bool, ascii: bool| {
            if !*first {
                out.push(b',');
            }
            *first = false;
            out.extend_from_slice(if ascii { &e.key_ascii } else { &e.key_utf8 });
        };
        if matches!(e.kind, K::Null) || a.is_null(i) {
            let nv = self.kind_here(e.default_nv);
            match (self.mode, nv) {
                (_, NoValue::Absent | NoValue::Hole) | (Mode::Plain, NoValue::Undefined) => return Ok(false),
                _ => key(out, first, self.ascii),
            }
            self.no_value(out, nv, Place::Member);
            return Ok(true);
        }
        key(out, first, self.ascii);
        self.value(out, e, a, i)?;
        Ok(true)
    }

    /// Writes a value that is not null, at the path of its field (`comp`) or at the
    /// current path.
    pub fn present(&mut self, out: &mut Vec<u8>, e: &Enc, a: &dyn Array, i: usize, comp: bool) -> Result<(), Problem> {
        let mark = if comp { self.push(&e.comp) } else { self.path.len() };
        let res = self.value(out, e, a, i);
        self.pop(mark);
        res
    }

    /// Writes a top-level value (a store's `__value`, or a key).
    pub fn root(&mut self, out: &mut Vec<u8>, e: &Enc, a: &dyn Array, i: usize) -> Result<(), Problem> {
        if matches!(e.kind, K::Null) || a.is_null(i) {
            let nv = self.kind_here(e.default_nv);
            self.no_value(out, nv, Place::Root);
            return Ok(());
        }
        self.value(out, e, a, i)
    }

    fn element(&mut self, out: &mut Vec<u8>, e: &Enc, a: &dyn Array, i: usize, place: Place) -> Result<(), Problem> {
        if matches!(e.kind, K::Null) || a.is_null(i) {
            let nv = self.kind_here(e.default_nv);
            self.no_value(out, nv, place);
            return Ok(());
        }
        self.value(out, e, a, i)
    }

    fn no_value(&mut self, out: &mut Vec<u8>, nv: NoValue, place: Place) {
        if self.mode == Mode::Plain {
            out.extend_from_slice(b"null");
            return;
        }
        let nv = match (nv, place) {
            (NoValue::Absent | NoValue::Hole, Place::Element) => NoValue::Hole,
            (NoValue::Absent | NoValue::Hole, Place::Entry | Place::Root) => NoValue::Undefined,
            (nv, _) => nv,
        };
        match nv {
            NoValue::Null | NoValue::Absent => out.extend_from_slice(b"null"),
            NoValue::Undefined => {
                out.push(b'0');
                self.tag(Tag::Undef.name());
            }
            NoValue::Hole => {
                out.push(b'0');
                self.tag(Tag::SparseUndefined.name());
            }
            NoValue::Invalid => {
                out.extend_from_slice(b"\"NaN\"");
                self.tag(Tag::Date.name());
            }
        }
    }

    /// Writes a present value.
    fn value(&mut self, out: &mut Vec<u8>, e: &Enc, a: &dyn Array, i: usize) -> Result<(), Problem> {
        let typeson = self.mode == Mode::Typeson;
        match &e.kind {
            K::Null => out.extend_from_slice(b"null"),
            K::Bool => {
                out.extend_from_slice(if a.as_boolean().value(i) { b"true" } else { b"false" });
                if e.tag == Some(Tag::BooleanObject) {
                    self.tag(Tag::BooleanObject.name());
                }
            }
            K::Int => {
                let v = a.as_primitive::<Int64Type>().value(i);
                match e.tag {
                    Some(t @ (Tag::BigInt | Tag::BigIntObject)) => {
                        out.push(b'"');
                        write_i64(out, v);
                        out.push(b'"');
                        self.tag(t.name());
                    }
                    t => {
                        write_i64(out, v);
                        if t == Some(Tag::NumberObject) {
                            self.tag(Tag::NumberObject.name());
                        }
                    }
                }
            }
            K::Float => {
                let v = a.as_primitive::<Float64Type>().value(i);
                self.float(out, v, e.tag == Some(Tag::NumberObject));
            }
            K::Dec(scale) => {
                let text = decimal_text(a.as_primitive::<Decimal128Type>().value(i), *scale);
                match e.tag {
                    Some(t @ (Tag::BigInt | Tag::BigIntObject)) => {
                        out.push(b'"');
                        out.extend_from_slice(text.as_bytes());
                        out.push(b'"');
                        self.tag(t.name());
                    }
                    _ => out.extend_from_slice(text.as_bytes()),
                }
            }
            K::Str | K::Text => {
                let s = a.as_string::<i32>().value(i);
                self.string(out, s)?;
                if let Some(t @ (Tag::StringObject | Tag::BigInt | Tag::BigIntObject)) = e.tag {
                    if matches!(e.kind, K::Str) {
                        self.tag(t.name());
                    }
                }
            }
            K::Json => {
                let s = a.as_string::<i32>().value(i);
                self.json(out, s)?;
            }
            K::Date => {
                let ms = a.as_primitive::<TimestampMillisecondType>().value(i);
                if typeson {
                    write_i64(out, ms);
                    self.tag(Tag::Date.name());
                } else {
                    write_str(out, &iso_text(ms, TimeUnit::Millisecond), false);
                }
            }
            K::Iso(unit) => {
                let v = timestamp(a, i, *unit);
                write_str(out, &iso_text(v, *unit), false);
            }
            K::Ts(unit) => {
                let v = timestamp(a, i, *unit);
                if typeson {
                    write_i64(out, to_millis(v, *unit));
                    self.tag(Tag::Date.name());
                } else {
                    write_str(out, &iso_text(v, *unit), false);
                }
            }
            K::Binary => {
                let b = a.as_binary::<i32>().value(i);
                self.binary(out, b, e.tag);
            }
            K::Blob { file } => self.blob(out, a, i, *file),
            K::Typed(el) => self.typed(out, a, i, *el, e.tag),
            K::List(item) => {
                let l = a.as_list::<i32>();
                let off = l.value_offsets();
                let (start, end) = (off[i] as usize, off[i + 1] as usize);
                let values = l.values().as_ref();
                out.push(b'[');
                for (n, j) in (start..end).enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    let mark = self.push_index(n);
                    let r = self.element(out, item, values, j, Place::Element);
                    self.pop(mark);
                    r?;
                }
                out.push(b']');
                self.tag(if e.tag == Some(Tag::Set) { Tag::Set.name() } else { Tag::ArrayNonindexKeys.name() });
            }
            K::Map(k, v) => self.map(out, a, i, k, v, e.tag == Some(Tag::Map))?,
            K::ObjMap(v) => {
                let m = a.as_map();
                let off = m.value_offsets();
                let (start, end) = (off[i] as usize, off[i + 1] as usize);
                let keys = m.keys().as_string::<i32>();
                let values = m.values().as_ref();
                out.push(b'{');
                for j in start..end {
                    if j > start {
                        out.push(b',');
                    }
                    let key = keys.value(j);
                    self.string(out, key)?;
                    out.push(b':');
                    let mark = self.push(&schema_infer::escape_component(key));
                    let r = self.element(out, v, values, j, Place::Entry);
                    self.pop(mark);
                    r?;
                }
                out.push(b'}');
            }
            K::Struct(children) => {
                let st = a.as_struct();
                out.push(b'{');
                let mut first = true;
                for (c, col) in children.iter().zip(st.columns()) {
                    self.member(out, c, col.as_ref(), i, &mut first, true)?;
                }
                out.push(b'}');
                if e.tag == Some(Tag::RegExp) {
                    self.tag(Tag::RegExp.name());
                }
            }
        }
        Ok(())
    }

    fn float(&mut self, out: &mut Vec<u8>, v: f64, boxed: bool) {
        if self.mode == Mode::Plain {
            write_plain_number(out, v);
            return;
        }
        let special = if v.is_nan() {
            Some(("\"NaN\"", Tag::NaN))
        } else if v == f64::INFINITY {
            Some(("\"Infinity\"", Tag::Infinity))
        } else if v == f64::NEG_INFINITY {
            Some(("\"-Infinity\"", Tag::NegativeInfinity))
        } else {
            None
        };
        match (special, boxed) {
            (Some((text, t)), false) => {
                out.extend_from_slice(text.as_bytes());
                self.tag(t.name());
            }
            (Some((text, t)), true) => {
                out.extend_from_slice(text.as_bytes());
                self.tag_chain(&[t.name(), Tag::NumberObject.name()]);
            }
            (None, boxed) => {
                write_js_number(out, v);
                if boxed {
                    self.tag(Tag::NumberObject.name());
                }
            }
        }
    }

    fn json(&mut self, out: &mut Vec<u8>, s: &str) -> Result<(), Problem> {
        let b = s.as_bytes();
        let start = schema_infer::json::skip_ws(b, 0);
        let valid = schema_infer::json::validate_value(b, start)
            .is_ok_and(|end| schema_infer::json::skip_ws(b, end) == b.len());
        if !valid {
            return Err(Problem {
                path: self.full_path(),
                reason: "a JSON-text column holds text that is not JSON".into(),
            });
        }
        let (raw, types) = split_encapsulated(s.trim());
        if self.mode == Mode::Plain {
            if let Some(serde_json::Value::Object(types)) = &types {
                // The value as plain JSON: Dates as ISO text, typed arrays as numbers, …
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(raw) {
                    let text = plain_revive(v, types).to_string();
                    copy_json(out, &text, self.ascii);
                    return Ok(());
                }
            }
        }
        let longest = copy_json(out, raw, self.ascii);
        self.check_len(longest, "a string in a JSON value")?;
        if self.mode == Mode::Typeson {
            if let Some(serde_json::Value::Object(types)) = types {
                for (rel, v) in &types {
                    self.tag_json(rel, v);
                }
            }
        }
        Ok(())
    }

    fn binary(&mut self, out: &mut Vec<u8>, b: &[u8], tag: Option<Tag>) {
        if self.mode == Mode::Plain {
            out.push(b'"');
            write_b64(out, b);
            out.push(b'"');
            return;
        }
        if tag == Some(Tag::DataView) {
            out.extend_from_slice(b"{\"encoded\":\"");
            write_b64(out, b);
            out.extend_from_slice(b"\",\"byteOffset\":0,\"byteLength\":");
            write_i64(out, b.len() as i64);
            out.push(b'}');
            self.check_binary(b.len(), "a DataView");
            self.tag(Tag::DataView.name());
        } else {
            out.push(b'"');
            write_b64(out, b);
            out.push(b'"');
            self.check_binary(b.len(), "an ArrayBuffer");
            self.tag(Tag::ArrayBuffer.name());
        }
    }

    fn blob(&mut self, out: &mut Vec<u8>, a: &dyn Array, i: usize, file: bool) {
        let st = a.as_struct();
        let ty = st.column(0).as_string::<i32>();
        let ty = if ty.is_valid(i) { ty.value(i) } else { "" };
        let data = st.column(1).as_binary::<i32>();
        let data: &[u8] = if data.is_valid(i) { data.value(i) } else { &[] };
        let name = file.then(|| st.column(2).as_string::<i32>()).filter(|n| n.is_valid(i)).map(|n| n.value(i));
        let modified = file
            .then(|| st.column(3).as_primitive_opt::<Int64Type>())
            .flatten()
            .filter(|m| m.is_valid(i))
            .map(|m| m.value(i));
        out.extend_from_slice(b"{\"type\":");
        write_str(out, ty, self.ascii);
        if file && self.mode == Mode::Typeson {
            // typeson-registry's `file`: the bytes as a binary string, one character per byte.
            out.extend_from_slice(b",\"stringContents\":");
            let text: String = data.iter().map(|&b| char::from(b)).collect();
            write_str(out, &text, self.ascii);
            if data.len() > self.limit {
                self.big.push(Big {
                    path: self.full_path(),
                    message: format!(
                        "a File of {} bytes is longer than the {} characters that dexie-export-import's importer \
                         reads per string, so importDB fails on this row",
                        data.len(),
                        self.limit
                    ),
                });
            }
        } else {
            out.extend_from_slice(b",\"data\":\"");
            write_b64(out, data);
            out.push(b'"');
            self.check_binary(data.len(), if file { "a File" } else { "a Blob" });
        }
        if file {
            if let Some(n) = name {
                out.extend_from_slice(b",\"name\":");
                write_str(out, n, self.ascii);
            }
            if let Some(m) = modified {
                out.extend_from_slice(b",\"lastModified\":");
                write_i64(out, m);
            }
        }
        out.push(b'}');
        self.tag(if file { Tag::File.name() } else { Tag::Blob2.name() });
    }

    fn typed(&mut self, out: &mut Vec<u8>, a: &dyn Array, i: usize, el: Elem, tag: Option<Tag>) {
        let l = a.as_list::<i32>();
        let off = l.value_offsets();
        let (start, end) = (off[i] as usize, off[i + 1] as usize);
        let values = l.values();
        let n = end - start;
        if self.mode == Mode::Plain {
            out.push(b'[');
            for j in start..end {
                if j > start {
                    out.push(b',');
                }
                match elem_value(values.as_ref(), j) {
                    Num::I(v) => write_i64(out, v),
                    Num::U(v) => {
                        let _ = std::io::Write::write_fmt(out, format_args!("{v}"));
                    }
                    Num::F(v) => write_plain_number(out, v),
                }
            }
            out.push(b']');
            return;
        }
        let mut bytes = Vec::with_capacity(n * el.width());
        for j in start..end {
            elem_bytes(values.as_ref(), j, &mut bytes);
        }
        let tag = tag.unwrap_or(Tag::TypedArray(el, true));
        let dexie = matches!(tag, Tag::TypedArray(_, true));
        out.extend_from_slice(if dexie { b"{\"buffer\":\"" as &[u8] } else { b"{\"encoded\":\"" });
        write_b64(out, &bytes);
        out.extend_from_slice(b"\",\"byteOffset\":0,\"length\":");
        write_i64(out, n as i64);
        out.push(b'}');
        self.check_binary(bytes.len(), "a typed array");
        self.tag(tag.name());
        if dexie {
            let mark = self.push("buffer");
            self.tag(Tag::ArrayBuffer.name());
            self.pop(mark);
        }
    }

    fn map(
        &mut self,
        out: &mut Vec<u8>,
        a: &dyn Array,
        i: usize,
        k: &Enc,
        v: &Enc,
        tagged: bool,
    ) -> Result<(), Problem> {
        let m = a.as_map();
        let off = m.value_offsets();
        let (start, end) = (off[i] as usize, off[i + 1] as usize);
        let (keys, values) = (m.keys().as_ref(), m.values().as_ref());
        let as_object = self.mode == Mode::Plain && matches!(k.kind, K::Str);
        out.push(if as_object { b'{' } else { b'[' });
        for (n, j) in (start..end).enumerate() {
            if n > 0 {
                out.push(b',');
            }
            if as_object {
                let key = keys.as_string::<i32>().value(j);
                self.string(out, key)?;
                out.push(b':');
                self.element(out, v, values, j, Place::Entry)?;
                continue;
            }
            let mark = self.push_index(n);
            out.push(b'[');
            let m0 = self.push("0");
            let r = self.element(out, k, keys, j, Place::Entry);
            self.pop(m0);
            r?;
            out.push(b',');
            let m1 = self.push("1");
            let r = self.element(out, v, values, j, Place::Entry);
            self.pop(m1);
            r?;
            out.push(b']');
            self.tag(Tag::ArrayNonindexKeys.name());
            self.pop(mark);
        }
        out.push(if as_object { b'}' } else { b']' });
        self.tag(if tagged { Tag::Map.name() } else { Tag::ArrayNonindexKeys.name() });
        Ok(())
    }
}

fn timestamp(a: &dyn Array, i: usize, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(i),
        TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().value(i),
        TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().value(i),
        TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().value(i),
    }
}

enum Num {
    I(i64),
    U(u64),
    F(f64),
}

fn elem_value(a: &dyn Array, j: usize) -> Num {
    match a.data_type() {
        DataType::Int8 => Num::I(a.as_primitive::<Int8Type>().value(j).into()),
        DataType::UInt8 => Num::I(a.as_primitive::<UInt8Type>().value(j).into()),
        DataType::Int16 => Num::I(a.as_primitive::<Int16Type>().value(j).into()),
        DataType::UInt16 => Num::I(a.as_primitive::<UInt16Type>().value(j).into()),
        DataType::Int32 => Num::I(a.as_primitive::<Int32Type>().value(j).into()),
        DataType::UInt32 => Num::I(a.as_primitive::<UInt32Type>().value(j).into()),
        DataType::Int64 => Num::I(a.as_primitive::<Int64Type>().value(j)),
        DataType::UInt64 => Num::U(a.as_primitive::<UInt64Type>().value(j)),
        DataType::Float32 => Num::F(a.as_primitive::<Float32Type>().value(j).into()),
        _ => Num::F(a.as_primitive::<Float64Type>().value(j)),
    }
}

/// Appends element `j` of a typed array's values, little-endian (as browsers store them).
fn elem_bytes(a: &dyn Array, j: usize, out: &mut Vec<u8>) {
    match a.data_type() {
        DataType::Int8 => out.extend_from_slice(&a.as_primitive::<Int8Type>().value(j).to_le_bytes()),
        DataType::UInt8 => out.push(a.as_primitive::<UInt8Type>().value(j)),
        DataType::Int16 => out.extend_from_slice(&a.as_primitive::<Int16Type>().value(j).to_le_bytes()),
        DataType::UInt16 => out.extend_from_slice(&a.as_primitive::<UInt16Type>().value(j).to_le_bytes()),
        DataType::Int32 => out.extend_from_slice(&a.as_primitive::<Int32Type>().value(j).to_le_bytes()),
        DataType::UInt32 => out.extend_from_slice(&a.as_primitive::<UInt32Type>().value(j).to_le_bytes()),
        DataType::Int64 => out.extend_from_slice(&a.as_primitive::<Int64Type>().value(j).to_le_bytes()),
        DataType::UInt64 => out.extend_from_slice(&a.as_primitive::<UInt64Type>().value(j).to_le_bytes()),
        DataType::Float32 => out.extend_from_slice(&a.as_primitive::<Float32Type>().value(j).to_le_bytes()),
        _ => out.extend_from_slice(&a.as_primitive::<Float64Type>().value(j).to_le_bytes()),
    }
}

/// A typeson value (`v` with its `$types`, paths relative to it) as plain JSON, as
/// `JSON.stringify` would give the revived value, except that binary data is base64:
/// Dates → ISO-8601 text (invalid → null), NaN/±Infinity → null, `undefined` → left out
/// (null in arrays), holes → null, typed arrays → arrays of numbers, DataViews and
/// ArrayBuffers → base64, `#` references → a copy of what they point at, Maps with
/// string keys → objects (others stay arrays of `[key, value]` pairs). Sets stay arrays
/// and Blobs `{type, data}`.
pub(crate) fn plain_revive(
    v: serde_json::Value,
    types: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    use serde_json::Value;
    let root = v.clone();
    let mut entries: Vec<(&String, Vec<&str>)> = types
        .iter()
        .map(|(p, t)| {
            let tags = match t {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            (p, tags)
        })
        .collect();
    // Deepest paths first, as typeson revives (children before their parents).
    entries.sort_by_key(|(p, _)| std::cmp::Reverse(if p.is_empty() { 0 } else { p.split('.').count() }));
    let mut v = v;
    let mut drop: Vec<String> = Vec::new();
    for (path, tags) in entries {
        let Some(slot) = at_path(&mut v, path) else { continue };
        for t in tags {
            match t {
                "#" => {
                    let target = slot.as_str().and_then(|r| r.strip_prefix('#')).map(str::to_owned);
                    let Some(tp) = target else { continue };
                    // A reference to itself or an ancestor (a cycle) has no JSON form.
                    let cyclic = tp.is_empty() || path == &tp || path.starts_with(&format!("{tp}."));
                    *slot = match at_path_ref(&root, &tp).cloned() {
                        Some(found) if !cyclic => plain_revive(found, &sub_types(types, &tp)),
                        _ => Value::Null,
                    };
                }
                "date" => {
                    *slot = match slot.as_f64() {
                        Some(ms) => Value::String(super::json::iso_text(ms as i64, TimeUnit::Millisecond)),
                        None => Value::Null,
                    }
                }
                "nan" | "infinity" | "negativeInfinity" => *slot = Value::Null,
                "map" => {
                    // String keys only: an object, as for Map columns.
                    let pairs = slot.as_array().filter(|a| {
                        a.iter().all(|e| e.as_array().is_some_and(|kv| kv.len() == 2 && kv[0].is_string()))
                    });
                    if let Some(pairs) = pairs {
                        let m: serde_json::Map<String, Value> = pairs
                            .iter()
                            .map(|e| (e[0].as_str().unwrap_or_default().to_owned(), e[1].clone()))
                            .collect();
                        *slot = Value::Object(m);
                    }
                }
                "undef" => drop.push(path.clone()),
                "sparseUndefined" => *slot = Value::Null,
                "dataview" => {
                    let bytes = view_bytes(slot, "byteLength", 1);
                    *slot = bytes.map_or(Value::Null, |b| Value::String(b64_string(&b)));
                }
                name => {
                    if let Some(Tag::TypedArray(e, _)) = Tag::parse(name) {
                        let bytes = view_bytes(slot, "length", e.width());
                        *slot = bytes.map_or(Value::Null, |b| typed_numbers(&b, e));
                    }
                }
            }
        }
    }
    // `undefined`: an object member is left out, an array element becomes null.
    drop.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for path in drop {
        let (parent, last) = match path.rsplit_once('.') {
            Some((p, l)) => (p.to_owned(), l.to_owned()),
            None if path.is_empty() => {
                v = Value::Null;
                continue;
            }
            None => (String::new(), path.clone()),
        };
        match at_path(&mut v, &parent) {
            Some(Value::Object(m)) => {
                m.shift_remove(&schema_infer::typeson::unescape_component(&last));
            }
            Some(Value::Array(a)) => {
                if let Some(x) = last.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                    *x = Value::Null;
                }
            }
            _ => {}
        }
    }
    v
}

/// The `$types` entries below `prefix`, relative to it.
fn sub_types(
    types: &serde_json::Map<String, serde_json::Value>,
    prefix: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for (p, t) in types {
        let rel = if prefix.is_empty() {
            Some(p.as_str())
        } else if p == prefix {
            Some("")
        } else {
            p.strip_prefix(prefix).and_then(|r| r.strip_prefix('.'))
        };
        if let Some(r) = rel {
            out.insert(r.to_owned(), t.clone());
        }
    }
    out
}

fn at_path<'a>(v: &'a mut serde_json::Value, path: &str) -> Option<&'a mut serde_json::Value> {
    if path.is_empty() {
        return Some(v);
    }
    let mut cur = v;
    for comp in path.split('.') {
        cur = match cur {
            serde_json::Value::Object(m) => m.get_mut(&schema_infer::typeson::unescape_component(comp))?,
            serde_json::Value::Array(a) => a.get_mut(comp.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn at_path_ref<'a>(v: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    if path.is_empty() {
        return Some(v);
    }
    let mut cur = v;
    for comp in path.split('.') {
        cur = match cur {
            serde_json::Value::Object(m) => m.get(&schema_infer::typeson::unescape_component(comp))?,
            serde_json::Value::Array(a) => a.get(comp.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn b64_string(b: &[u8]) -> String {
    let mut out = Vec::new();
    write_b64(&mut out, b);
    String::from_utf8(out).expect("base64 is ASCII")
}

/// The bytes a typed array or DataView value (`{buffer|encoded, byteOffset, length|byteLength}`) views.
fn view_bytes(v: &serde_json::Value, len_key: &str, width: usize) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = v.get("buffer").or_else(|| v.get("encoded"))?.as_str()?;
    let buf = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
    let offset = v.get("byteOffset").and_then(serde_json::Value::as_u64).unwrap_or(0) as usize;
    let len = v
        .get(len_key)
        .and_then(serde_json::Value::as_u64)
        .map_or(buf.len().saturating_sub(offset), |n| n as usize * width);
    buf.get(offset..offset.checked_add(len)?).map(<[u8]>::to_vec)
}

fn typed_numbers(b: &[u8], e: Elem) -> serde_json::Value {
    use serde_json::Value;
    let w = e.width();
    let nums = b.chunks_exact(w).map(|c| {
        let f = |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
        match e {
            Elem::I8 => Value::from(c[0] as i8),
            Elem::U8 | Elem::U8Clamped => Value::from(c[0]),
            Elem::I16 => Value::from(i16::from_le_bytes([c[0], c[1]])),
            Elem::U16 => Value::from(u16::from_le_bytes([c[0], c[1]])),
            Elem::I32 => Value::from(i32::from_le_bytes(c.try_into().expect("width"))),
            Elem::U32 => Value::from(u32::from_le_bytes(c.try_into().expect("width"))),
            Elem::F32 => f(f32::from_le_bytes(c.try_into().expect("width")).into()),
            Elem::F64 => f(f64::from_le_bytes(c.try_into().expect("width"))),
            Elem::I64 => Value::from(i64::from_le_bytes(c.try_into().expect("width"))),
            Elem::U64 => Value::from(u64::from_le_bytes(c.try_into().expect("width"))),
        }
    });
    Value::Array(nums.collect())
}

/// A JSON-text cell written by `decode.rs` for a tagged value is
/// `{"$":<value>,"$types":{"$":<types>}}`: the value's text, and its types (paths
/// relative to the value). Anything else is plain JSON.
pub(crate) fn split_encapsulated(s: &str) -> (&str, Option<serde_json::Value>) {
    const HEAD: &str = "{\"$\":";
    const MID: &str = ",\"$types\":{\"$\":";
    let Some(rest) = s.strip_prefix(HEAD) else { return (s, None) };
    let Ok(end) = schema_infer::json::skip_value(rest.as_bytes(), 0) else { return (s, None) };
    let (raw, tail) = rest.split_at(end);
    let Some(types) = tail.strip_prefix(MID).and_then(|t| t.strip_suffix("}}")) else { return (s, None) };
    match serde_json::from_str::<serde_json::Value>(types) {
        Ok(v @ serde_json::Value::Object(_)) => (raw, Some(v)),
        _ => (s, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encapsulation_is_recognised_exactly() {
        let (raw, t) = split_encapsulated(r#"{"$":1709294400000,"$types":{"$":{"":"date"}}}"#);
        assert_eq!(raw, "1709294400000");
        assert_eq!(t.unwrap(), serde_json::json!({"": "date"}));
        let (raw, t) = split_encapsulated(r#"{"$":{"a":[1,{"b":2}]},"$types":{"$":{"a.1.b":["nan","x"]}}}"#);
        assert_eq!(raw, r#"{"a":[1,{"b":2}]}"#);
        assert!(t.is_some());
        for plain in [r#"{"$":1}"#, r#""not a date""#, r#"{"$":1,"$types":true}"#, r#"{"a":1}"#] {
            assert_eq!(split_encapsulated(plain), (plain, None));
        }
    }
}
