//! From lattice to Arrow: one schema per store, with the IndexedDB metadata a later
//! download needs, the widening report, and the schema document (`infer --json`).
//! The types it fills are in `result.rs`.

use crate::dexie::{DatabaseInfo, KeySpec, TableDecl};
use crate::error::{Error, Result};
use crate::format::Format;
use crate::lattice::{class, BigWidth, Node, Pos, Struct, Ty};
use crate::options::{InferOptions, OnConflict};
use crate::result::{
    InferResult, RecordIssue, SchemaDoc, StoreSchema, Widening, EXTENSION_METADATA, EXTENSION_NAME, JSON_EXTENSION,
    KEY_COLUMN, META_NULLS, META_TAG, NULLS_COLUMN, VALUE_COLUMN,
};
use crate::split::Splitter;
use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use std::collections::HashMap;
use std::sync::Arc;

/// Top-level column names idbsync gives a meaning of its own (the value column's
/// meaning comes from the schema metadata, so a record field may be called `__value`).
const RESERVED: [&str; 2] = [KEY_COLUMN, NULLS_COLUMN];

/// Per-store accumulator.
#[derive(Debug, Clone, Default)]
pub(crate) struct StoreAcc {
    pub root: Node,
    pub key: Node,
    pub rows: u64,
    pub invalid: u64,
    pub issues: Vec<RecordIssue>,
}

impl StoreAcc {
    pub(crate) fn merge(&mut self, o: StoreAcc, max_issues: usize) {
        self.root.merge(o.root);
        self.key.merge(o.key);
        self.rows += o.rows;
        self.invalid += o.invalid;
        if !o.issues.is_empty() {
            self.issues.extend(o.issues);
            self.issues.sort_by_key(|i| i.offset);
            self.issues.truncate(max_issues);
        }
    }
}

pub(crate) fn build(
    format: Format,
    database: Option<DatabaseInfo>,
    splitter: &Splitter,
    acc: Vec<StoreAcc>,
    opts: &InferOptions,
    bytes: u64,
) -> Result<InferResult> {
    let decls: HashMap<&str, &TableDecl> =
        splitter.header.tables.iter().flatten().map(|t| (t.name.as_str(), t)).collect();
    let mut stores = Vec::new();
    for (i, a) in acc.into_iter().enumerate() {
        let decl = &splitter.stores[i];
        let table = decls.get(decl.name.as_str()).copied();
        let pinned = opts.pinned.as_ref().and_then(|d| pinned_store(d, &decl.name)).map(|p| p.schema.clone());
        let mut st =
            store_schema(format, database.as_ref(), &decl.name, decl.inbound, table, a, opts, pinned.as_deref())?;
        if let Some(pinned) = pinned {
            st.schema = Arc::new(apply_pins(&st.schema, &pinned));
        }
        stores.push(st);
    }
    Ok(InferResult { format, database, bytes, stores })
}

fn pinned_store<'a>(doc: &'a SchemaDoc, name: &str) -> Option<&'a StoreSchema> {
    doc.store(name).or(if doc.stores.len() == 1 { doc.stores.first() } else { None })
}

/// Replaces inferred top-level fields by the pinned ones of the same name, and adds
/// pinned fields that were not seen.
pub fn apply_pins(inferred: &Schema, pinned: &Schema) -> Schema {
    let mut fields: Vec<Arc<Field>> = inferred
        .fields()
        .iter()
        .map(|f| pinned.field_with_name(f.name()).map_or_else(|_| f.clone(), |p| Arc::new(p.clone())))
        .collect();
    for p in pinned.fields() {
        if inferred.field_with_name(p.name()).is_err() {
            fields.push(p.clone());
        }
    }
    Schema::new_with_metadata(fields, inferred.metadata().clone())
}

struct Cx<'a> {
    opts: &'a InferOptions,
    widenings: Vec<(Pos, Widening)>,
    multi_kinds: bool,
    conflict: Option<(Pos, Widening)>,
    /// Set when `data_type` chose the lossless JSON-text form for the node it was
    /// given (always-empty objects, Maps whose keys are not one primitive type):
    /// `field` takes it and marks the column as JSON text.
    json_here: bool,
}

#[allow(clippy::too_many_arguments)]
fn store_schema(
    format: Format,
    db: Option<&DatabaseInfo>,
    name: &str,
    inbound: Option<bool>,
    table: Option<&TableDecl>,
    acc: StoreAcc,
    opts: &InferOptions,
    pinned: Option<&Schema>,
) -> Result<StoreSchema> {
    let mut cx = Cx { opts, widenings: Vec::new(), multi_kinds: false, conflict: None, json_here: false };
    let mut fields: Vec<Field> = Vec::new();
    let out_of_line = inbound == Some(false);
    if out_of_line && acc.key.count > 0 {
        fields.push(cx.field(KEY_COLUMN, &acc.key, false, KEY_COLUMN));
    }
    let mut value_column = false;
    match acc.root.ty {
        // A record field named like a column idbsync adds would collide with it: such
        // records are kept whole in the value column instead. So are records that are
        // all `{}`: a batch without columns would not keep its rows.
        Ty::Struct(ref s)
            if !s.fields.is_empty() && !cx.wide(s) && !RESERVED.iter().any(|r| s.fields.contains_key(*r)) =>
        {
            for (k, f) in ordered(s) {
                fields.push(cx.field(k, &f.node, f.present < s.objects, k));
            }
            if acc.root.nulls > 0 {
                value_column = true;
                fields.clear();
                if out_of_line && acc.key.count > 0 {
                    fields.push(cx.field(KEY_COLUMN, &acc.key, false, KEY_COLUMN));
                }
                fields.push(cx.field(VALUE_COLUMN, &acc.root, false, VALUE_COLUMN));
            }
        }
        Ty::Unknown if acc.root.count == 0 => {}
        _ => {
            value_column = true;
            fields.push(cx.field(VALUE_COLUMN, &acc.root, false, VALUE_COLUMN));
        }
    }
    if cx.multi_kinds {
        fields.push(Field::new(
            NULLS_COLUMN,
            DataType::Map(
                Arc::new(Field::new(
                    "entries",
                    DataType::Struct(Fields::from(vec![
                        Field::new("key", DataType::Utf8, false),
                        Field::new("value", DataType::Utf8, true),
                    ])),
                    false,
                )),
                false,
            ),
            true,
        ));
    }
    // Pinned fields are what the user asked for: no conflict or widening to report.
    let is_pinned = |path: &str| {
        let top = path.split('.').next().unwrap_or(path);
        pinned.is_some_and(|p| p.field_with_name(top).is_ok())
    };
    cx.widenings.retain(|w| !is_pinned(&w.1.path));
    if cx.conflict.as_ref().is_some_and(|c| is_pinned(&c.1.path)) {
        cx.conflict = cx.widenings.iter().filter(|w| w.1.to == "json" || w.1.to == "utf8").min_by_key(|w| w.0).cloned();
    }
    if let (OnConflict::Error, Some((_, w))) = (opts.on_conflict, cx.conflict.take()) {
        return Err(Error::Conflict {
            store: name.to_owned(),
            path: w.path,
            first: w.from,
            second: w.cause,
            record: w.record,
            offset: w.offset,
        });
    }
    let mut meta: HashMap<String, String> = HashMap::new();
    meta.insert("idb.store".into(), name.to_owned());
    meta.insert("idb.format".into(), format.name().into());
    if let Some(db) = db {
        if let Some(n) = &db.name {
            meta.insert("idb.database".into(), n.clone());
        }
        if let Some(v) = db.version {
            meta.insert("idb.version".into(), fmt_num(v));
        }
    }
    if let Some(t) = table {
        meta.insert("idb.dexie_schema".into(), t.schema.clone());
        let k = KeySpec::parse(&t.schema);
        meta.insert("idb.key_path".into(), serde_json::to_string(&k.key_path).expect("strings"));
        meta.insert("idb.auto_increment".into(), k.auto_increment.to_string());
        meta.insert("idb.indexes".into(), serde_json::to_string(&k.indexes).expect("strings"));
    }
    if let Some(b) = inbound {
        meta.insert("idb.inbound".into(), b.to_string());
    }
    if value_column {
        meta.insert("idb.value_column".into(), VALUE_COLUMN.into());
    }
    if cx.multi_kinds {
        meta.insert("idb.nulls_column".into(), NULLS_COLUMN.into());
    }
    let mut warnings = Vec::new();
    if let Some(n) = table.and_then(|t| t.row_count) {
        let seen = acc.rows + acc.invalid;
        if n != seen {
            warnings.push(format!("the export header says rowCount {n}, but the store holds {seen} rows"));
        }
    }
    cx.widenings.sort_by_key(|w| w.0);
    Ok(StoreSchema {
        name: name.to_owned(),
        rows: acc.rows,
        invalid: acc.invalid,
        issues: acc.issues,
        widenings: cx.widenings.into_iter().map(|w| w.1).collect(),
        warnings,
        schema: Arc::new(Schema::new_with_metadata(fields, meta)),
    })
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        v.to_string()
    }
}

/// Struct fields in first-seen order.
fn ordered(s: &Struct) -> Vec<(&str, &crate::lattice::Field)> {
    let mut v: Vec<(&str, &crate::lattice::Field)> = s.fields.iter().map(|(k, f)| (&**k, f)).collect();
    v.sort_by_key(|(k, f)| (f.node.first(), *k));
    v
}

fn looks_like_id(k: &str) -> bool {
    let b = k.as_bytes();
    (!b.is_empty() && b.iter().all(u8::is_ascii_digit))
        || (b.len() >= 16 && b.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-'))
}

impl Cx<'_> {
    /// Whether an object node should be a `Map<Utf8, T>` rather than a struct.
    fn wide(&self, s: &Struct) -> bool {
        let n = s.fields.len();
        n > self.opts.map_threshold || s.is_too_wide() || (n >= 16 && s.fields.keys().all(|k| looks_like_id(k)))
    }

    fn field(&mut self, name: &str, node: &Node, absent: bool, path: &str) -> Field {
        let dt = self.data_type(node, path);
        let json_here = std::mem::take(&mut self.json_here);
        let mut kinds: Vec<&str> = Vec::new();
        if absent {
            kinds.push("absent");
        }
        if node.has(class::NULL) {
            kinds.push("null");
        }
        if node.has(class::UNDEFINED) {
            kinds.push("undefined");
        }
        if node.has(class::HOLE) {
            kinds.push("hole");
        }
        if node.has(class::INVALID_DATE) {
            kinds.push("invalid");
        }
        if kinds.len() > 1 {
            self.multi_kinds = true;
        }
        let nullable = !kinds.is_empty() || matches!(dt, DataType::Null);
        let mut meta: HashMap<String, String> = HashMap::new();
        if !kinds.is_empty() {
            meta.insert(META_NULLS.into(), kinds.join(","));
        }
        match (&node.ty, node.tag) {
            // Chosen as JSON text without a conflict, or holding strings that only JSON
            // text keeps exactly: always the lossless form, whatever --on-conflict says.
            _ if json_here || (matches!(node.ty, Ty::Json) && node.has(class::LONE_SURROGATE)) => {
                meta.insert(EXTENSION_NAME.into(), JSON_EXTENSION.into());
                meta.insert(EXTENSION_METADATA.into(), String::new());
            }
            (Ty::Json, _) => match self.opts.on_conflict {
                OnConflict::String => {
                    meta.insert("idb.conflict".into(), "string".into());
                }
                _ => {
                    meta.insert(EXTENSION_NAME.into(), JSON_EXTENSION.into());
                    meta.insert(EXTENSION_METADATA.into(), String::new());
                }
            },
            (_, Some(t)) => {
                meta.insert(META_TAG.into(), t.name().into());
            }
            (Ty::Str { iso: true }, None) if self.opts.detect_timestamps && node.count > node.nulls => {
                meta.insert("idb.source".into(), "iso8601".into());
            }
            _ => {}
        }
        Field::new(name, dt, nullable).with_metadata(meta)
    }

    fn widen(&mut self, node: &Node, path: &str, to: &DataType, cause: u8) {
        let Some(&(_, at)) = node.seen.iter().find(|e| e.0 == cause) else { return };
        let from = node
            .seen
            .iter()
            .filter(|e| class::is_value(e.0) && e.0 != cause)
            .min_by_key(|e| e.1)
            .map_or_else(|| "nothing".to_owned(), |e| class::name(e.0));
        let w = Widening {
            path: path.to_owned(),
            from,
            to: to.to_string().to_lowercase(),
            cause: class::name(cause),
            record: at.record,
            offset: at.offset,
        };
        self.widenings.push((at, w));
    }

    fn data_type(&mut self, node: &Node, path: &str) -> DataType {
        let dt = match &node.ty {
            Ty::Unknown => DataType::Null,
            Ty::Bool => DataType::Boolean,
            Ty::Int => DataType::Int64,
            Ty::Float => {
                let dt = DataType::Float64;
                if node.has(class::INT) {
                    let first_int = node.seen.iter().find(|e| e.0 == class::INT).map(|e| e.1);
                    let cause = node
                        .seen
                        .iter()
                        .filter(|e| e.0 != class::INT && class::is_value(e.0))
                        .filter(|e| Some(e.1) > first_int)
                        .min_by_key(|e| e.1)
                        .map(|e| e.0);
                    if let Some(c) = cause {
                        self.widen(node, path, &dt, c);
                    }
                }
                dt
            }
            Ty::Str { iso } => {
                if *iso && self.opts.detect_timestamps && node.count > node.nulls {
                    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
                } else {
                    if self.opts.detect_timestamps && node.has(class::STR) && node.has(class::NON_ISO) {
                        self.widen(node, path, &DataType::Utf8, class::NON_ISO);
                    }
                    DataType::Utf8
                }
            }
            Ty::BigInt(w) => {
                let dt = match w {
                    BigWidth::I64 => DataType::Int64,
                    BigWidth::Decimal38 => DataType::Decimal128(38, 0),
                    BigWidth::Text => DataType::Utf8,
                };
                match w {
                    BigWidth::I64 => {}
                    BigWidth::Decimal38 => self.widen(node, path, &dt, class::BIG_DECIMAL),
                    BigWidth::Text => self.widen(node, path, &dt, class::BIG_TEXT),
                }
                dt
            }
            Ty::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            Ty::Binary => DataType::Binary,
            Ty::Blob => DataType::Struct(Fields::from(vec![
                Field::new("type", DataType::Utf8, true),
                Field::new("data", DataType::Binary, true),
            ])),
            Ty::File => DataType::Struct(Fields::from(vec![
                Field::new("type", DataType::Utf8, true),
                Field::new("data", DataType::Binary, true),
                Field::new("name", DataType::Utf8, true),
                Field::new("lastModified", DataType::Int64, true),
            ])),
            Ty::RegExp => DataType::Struct(Fields::from(vec![
                Field::new("source", DataType::Utf8, false),
                Field::new("flags", DataType::Utf8, false),
            ])),
            Ty::Typed(e) => DataType::List(Arc::new(Field::new("item", e.data_type(), false))),
            Ty::List(elem) => {
                let f = self.field("item", elem, false, &format!("{path}.[]"));
                DataType::List(Arc::new(f))
            }
            Ty::Map(k, v) => {
                // Maps that were always empty have no key type to go by: Utf8.
                let kt = if k.count == 0 { DataType::Utf8 } else { self.data_type(k, &format!("{path}.<key>")) };
                // Keys that are JSON text (mixed types, nested Maps …) are no key column:
                // the whole Map is. (The flag is taken here: it is the key's, not the value's.)
                let key_json = std::mem::take(&mut self.json_here) || matches!(k.ty, Ty::Json);
                if !key_json && is_key_type(&kt) && !k.has(class::NULL) && !k.has(class::INVALID_DATE) && k.nulls == 0 {
                    let vf = self.field("value", v, false, &format!("{path}.<value>"));
                    map_of(Field::new("key", kt, false).with_metadata(key_meta(k)), vf)
                } else {
                    self.json_because(node, path, class::TAG_BASE + crate::tag::Tag::Map.id());
                    return self.json_type();
                }
            }
            Ty::Struct(s) => {
                if self.wide(s) {
                    let merged = (**s).clone().collapse();
                    let dt = self.map_utf8(&merged, path);
                    let w = Widening {
                        path: path.to_owned(),
                        from: "object".into(),
                        to: dt.to_string().to_lowercase(),
                        cause: format!("{} distinct keys", s.fields.len()),
                        record: node.first().record,
                        offset: node.first().offset,
                    };
                    self.widenings.push((node.first(), w));
                    dt
                } else {
                    let fields: Vec<Field> = ordered(s)
                        .into_iter()
                        .map(|(k, f)| self.field(k, &f.node, f.present < s.objects, &format!("{path}.{k}")))
                        .collect();
                    if fields.is_empty() {
                        // `{}` everywhere: keep it, losslessly, as JSON text.
                        return self.json_type();
                    }
                    DataType::Struct(Fields::from(fields))
                }
            }
            Ty::ObjMap(v) => self.map_utf8(v, path),
            Ty::Json => {
                self.json_conflict(node, path);
                DataType::Utf8
            }
        };
        dt
    }

    fn map_utf8(&mut self, v: &Node, path: &str) -> DataType {
        let vf = self.field("value", v, false, &format!("{path}.<value>"));
        map_of(Field::new("key", DataType::Utf8, false), vf)
    }

    /// The JSON-text column type, for a node that has no better lossless form.
    fn json_type(&mut self) -> DataType {
        self.json_here = true;
        DataType::Utf8
    }

    fn json_because(&mut self, node: &Node, path: &str, cause: u8) {
        let before = self.widenings.len();
        self.widen(node, path, &DataType::Utf8, cause);
        if let Some(w) = self.widenings.get_mut(before) {
            w.1.to = "json".into();
            w.1.cause = "Map keys that are not all of one primitive type".into();
        }
    }

    /// Reports each class after the first as a cause of the JSON fallback.
    fn json_conflict(&mut self, node: &Node, path: &str) {
        if let Some(&(_, at)) = node.seen.iter().find(|e| e.0 == class::LONE_SURROGATE) {
            // Not a conflict of types: the strings are kept exactly, as JSON text.
            let w = Widening {
                path: path.to_owned(),
                from: class::name(class::STR),
                to: "json".into(),
                cause: class::name(class::LONE_SURROGATE),
                record: at.record,
                offset: at.offset,
            };
            self.widenings.push((at, w));
        }
        // A string is a string, lone surrogate or not.
        let as_str = |c: u8| if c == class::LONE_SURROGATE { class::STR } else { c };
        let mut classes: Vec<(u8, Pos)> =
            node.seen.iter().map(|&(c, at)| (as_str(c), at)).filter(|e| class::is_value(e.0)).collect();
        classes.sort_by_key(|e| e.1);
        let Some(&(first, _)) = classes.first() else { return };
        for &(c, at) in classes.iter().skip(1) {
            if c == first || (first == class::INT && c == class::FLOAT) {
                continue;
            }
            let w = Widening {
                path: path.to_owned(),
                from: class::name(first),
                to: if self.opts.on_conflict == OnConflict::String { "utf8".into() } else { "json".into() },
                cause: class::name(c),
                record: at.record,
                offset: at.offset,
            };
            if self.conflict.as_ref().is_none_or(|x| at < x.0) {
                self.conflict = Some((at, w.clone()));
            }
            self.widenings.push((at, w));
        }
    }
}

fn key_meta(k: &Node) -> HashMap<String, String> {
    k.tag.map(|t| HashMap::from([(META_TAG.to_owned(), t.name().to_owned())])).unwrap_or_default()
}

fn map_of(key: Field, value: Field) -> DataType {
    DataType::Map(Arc::new(Field::new("entries", DataType::Struct(Fields::from(vec![key, value])), false)), false)
}

fn is_key_type(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Utf8
            | DataType::Int64
            | DataType::Float64
            | DataType::Boolean
            | DataType::Timestamp(_, _)
            | DataType::Decimal128(_, _)
    )
}
