//! What a field holds, read from its Arrow type and its idbsync metadata (`arrow.json`,
//! `idb.conflict`, `idb.tag`, `idb.source`, `idb.nulls`). One classification for both
//! directions: decoding records into columns ([`crate::input::column`]) and writing
//! columns back as records (`ops/download/encode.rs`).

use arrow_schema::{DataType, Field, FieldRef};
use schema_infer::{Elem, Tag, EXTENSION_NAME, JSON_EXTENSION, META_NULLS, META_TAG};

/// The kind of values a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Lossless JSON text (Arrow extension `arrow.json`) on a text column.
    Json,
    /// Any value as text (`idb.conflict` `string`) on a text column.
    Text,
    Null,
    Bool,
    /// Int64 numbers.
    Int,
    /// Int64 BigInts (`idb.tag` `bigint`/`bigintObject`).
    BigInt,
    /// Float64 (or Float16) numbers.
    Float,
    /// A Decimal128 (or Decimal32/64).
    Decimal {
        precision: u8,
        scale: i8,
    },
    /// Text.
    Str,
    /// BigInts kept as text.
    BigText,
    /// A timestamp holding JavaScript Dates (`idb.tag` `date`).
    Date,
    /// A timestamp read from ISO-8601 strings (`idb.source` `iso8601`).
    IsoTs,
    /// Any other timestamp (Date32/Date64 too).
    Ts,
    /// Bytes (any binary type).
    Binary,
    /// A struct tagged as a Blob (`blob`, `blob2`).
    Blob,
    /// A struct tagged as a File.
    File,
    /// A list of a typed array's raw elements (`idb.tag` of a typed array whose element
    /// type is the list item's).
    TypedArray(Elem),
    /// Any other list.
    List,
    /// A map holding a JavaScript Map (`idb.tag` `map`).
    JsMap,
    /// Any other map (a wide object).
    ObjMap,
    Struct,
    /// A bare element type of typed arrays (Int8 … UInt64, Float32).
    Prim(Elem),
    /// None of the above.
    Other,
}

/// A field's kind, with the metadata both directions read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldKind {
    pub kind: Kind,
    /// The typeson tag (`idb.tag`).
    pub tag: Option<Tag>,
    /// The kind of "no value" a null stands for unless told otherwise (`idb.nulls`).
    pub default_nv: NoValue,
    /// More than one kind of "no value" occurs in the field (`idb.nulls`).
    pub track: bool,
}

impl FieldKind {
    /// Classifies `field` (a dictionary by its value type).
    pub fn of(field: &Field) -> FieldKind {
        let md = field.metadata();
        let is = |key: &str, value: &str| md.get(key).map(String::as_str) == Some(value);
        let tag = md.get(META_TAG).and_then(|t| Tag::parse(t));
        let kinds: Vec<NoValue> =
            md.get(META_NULLS).map(|s| s.split(',').filter_map(NoValue::parse).collect()).unwrap_or_default();
        let default_nv = if kinds.contains(&NoValue::Null) || kinds.is_empty() { NoValue::Null } else { kinds[0] };
        let bigint = matches!(tag, Some(Tag::BigInt | Tag::BigIntObject));
        let dt = value_type(field.data_type());
        let stringy = matches!(dt, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
        let kind = match dt {
            _ if stringy && is(EXTENSION_NAME, JSON_EXTENSION) => Kind::Json,
            _ if stringy && is("idb.conflict", "string") => Kind::Text,
            DataType::Null => Kind::Null,
            DataType::Boolean => Kind::Bool,
            DataType::Int64 if bigint => Kind::BigInt,
            DataType::Int64 => Kind::Int,
            DataType::Float16 | DataType::Float64 => Kind::Float,
            DataType::Decimal32(p, s) | DataType::Decimal64(p, s) | DataType::Decimal128(p, s) => {
                Kind::Decimal { precision: *p, scale: *s }
            }
            _ if stringy && bigint => Kind::BigText,
            _ if stringy => Kind::Str,
            DataType::Timestamp(_, _) if tag == Some(Tag::Date) => Kind::Date,
            DataType::Timestamp(_, _) if is("idb.source", "iso8601") => Kind::IsoTs,
            DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => Kind::Ts,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
                Kind::Binary
            }
            DataType::List(item)
            | DataType::LargeList(item)
            | DataType::ListView(item)
            | DataType::LargeListView(item)
            | DataType::FixedSizeList(item, _) => match (tag, elem_of(item.data_type())) {
                (Some(Tag::TypedArray(e, _)), Some(x)) if same_elem(e, x) => Kind::TypedArray(e),
                _ => Kind::List,
            },
            DataType::Map(_, _) if tag == Some(Tag::Map) => Kind::JsMap,
            DataType::Map(_, _) => Kind::ObjMap,
            DataType::Struct(_) => match tag {
                Some(Tag::Blob | Tag::Blob2) => Kind::Blob,
                Some(Tag::File) => Kind::File,
                _ => Kind::Struct,
            },
            other => elem_of(other).map_or(Kind::Other, Kind::Prim),
        };
        FieldKind { kind, tag, default_nv, track: kinds.len() > 1 }
    }
}

/// The type of a column's values: a dictionary's value type, any other type itself.
pub(crate) fn value_type(dt: &DataType) -> &DataType {
    match dt {
        DataType::Dictionary(_, v) => v,
        other => other,
    }
}

/// The item of a list type (of any list layout).
pub(crate) fn list_item(dt: &DataType) -> Option<&FieldRef> {
    match dt {
        DataType::List(item)
        | DataType::LargeList(item)
        | DataType::ListView(item)
        | DataType::LargeListView(item)
        | DataType::FixedSizeList(item, _) => Some(item),
        _ => None,
    }
}

/// The typed-array element whose raw values a column of type `dt` holds.
fn elem_of(dt: &DataType) -> Option<Elem> {
    Some(match dt {
        DataType::Int8 => Elem::I8,
        DataType::UInt8 => Elem::U8,
        DataType::Int16 => Elem::I16,
        DataType::UInt16 => Elem::U16,
        DataType::Int32 => Elem::I32,
        DataType::UInt32 => Elem::U32,
        DataType::Float32 => Elem::F32,
        DataType::Float64 => Elem::F64,
        DataType::Int64 => Elem::I64,
        DataType::UInt64 => Elem::U64,
        _ => return None,
    })
}

/// Elements stored alike (a `Uint8ClampedArray` holds UInt8 values).
fn same_elem(a: Elem, b: Elem) -> bool {
    a == b || matches!((a, b), (Elem::U8Clamped, Elem::U8) | (Elem::U8, Elem::U8Clamped))
}

/// Which kind of JavaScript "no value" a null slot stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoValue {
    /// `null`
    Null,
    /// `undefined`
    Undefined,
    /// The key is not there.
    Absent,
    /// A hole in a sparse array.
    Hole,
    /// An invalid Date (`new Date(NaN)`), which has no instant.
    Invalid,
}

impl NoValue {
    /// The name used in schema metadata and in the `__idb_nulls` side column.
    pub fn name(self) -> &'static str {
        match self {
            NoValue::Null => "null",
            NoValue::Undefined => "undefined",
            NoValue::Absent => "absent",
            NoValue::Hole => "hole",
            NoValue::Invalid => "invalid",
        }
    }

    /// The kind named `s` (as in `idb.nulls` and `__idb_nulls`).
    pub(crate) fn parse(s: &str) -> Option<NoValue> {
        Some(match s {
            "null" => NoValue::Null,
            "undefined" => NoValue::Undefined,
            "absent" => NoValue::Absent,
            "hole" => NoValue::Hole,
            "invalid" => NoValue::Invalid,
            _ => return None,
        })
    }
}
