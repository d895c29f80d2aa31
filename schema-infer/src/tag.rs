//! typeson tags: the names dexie-export-import writes into `$types`.

use std::fmt;

/// Element type of a typed array (`uint8array2`, `float64array2`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Elem {
    /// `Int8Array`
    I8,
    /// `Uint8Array`
    U8,
    /// `Uint8ClampedArray`
    U8Clamped,
    /// `Int16Array`
    I16,
    /// `Uint16Array`
    U16,
    /// `Int32Array`
    I32,
    /// `Uint32Array`
    U32,
    /// `Float32Array`
    F32,
    /// `Float64Array`
    F64,
    /// `BigInt64Array`
    I64,
    /// `BigUint64Array`
    U64,
}

impl Elem {
    /// Bytes per element.
    pub fn width(self) -> usize {
        match self {
            Elem::I8 | Elem::U8 | Elem::U8Clamped => 1,
            Elem::I16 | Elem::U16 => 2,
            Elem::I32 | Elem::U32 | Elem::F32 => 4,
            Elem::F64 | Elem::I64 | Elem::U64 => 8,
        }
    }

    /// The Arrow type of one element (the item type of a typed array's list column).
    pub fn data_type(self) -> arrow_schema::DataType {
        use arrow_schema::DataType;
        match self {
            Elem::I8 => DataType::Int8,
            Elem::U8 | Elem::U8Clamped => DataType::UInt8,
            Elem::I16 => DataType::Int16,
            Elem::U16 => DataType::UInt16,
            Elem::I32 => DataType::Int32,
            Elem::U32 => DataType::UInt32,
            Elem::F32 => DataType::Float32,
            Elem::F64 => DataType::Float64,
            Elem::I64 => DataType::Int64,
            Elem::U64 => DataType::UInt64,
        }
    }
}

/// A typeson type name as found in `$types`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tag {
    /// `date`: epoch milliseconds, or `"NaN"` for an invalid Date.
    Date,
    /// `blob2` (dexie-export-import): `{type, data: base64}`.
    Blob2,
    /// `blob` (typeson-registry): `{type, stringContents}`.
    Blob,
    /// `file` (typeson-registry): `{type, stringContents, name, lastModified}`.
    File,
    /// `arraybuffer`: base64 text (dexie) or `{s: base64}` (typeson-registry).
    ArrayBuffer,
    /// `dataview`: `{encoded, byteOffset, byteLength}` or dexie's buffer form.
    DataView,
    /// A typed array, `{buffer, byteOffset, length}` (`…array2`) or `{encoded, …}`.
    TypedArray(Elem, bool),
    /// `map`: an array of `[key, value]` pairs.
    Map,
    /// `set`: an array of values.
    Set,
    /// `bigint`: decimal text.
    BigInt,
    /// `bigintObject`: a boxed BigInt, decimal text.
    BigIntObject,
    /// `undef`: the value `undefined` (encoded as `0`).
    Undef,
    /// `sparseUndefined`: a hole in a sparse array (encoded as `0`).
    SparseUndefined,
    /// `nan`
    NaN,
    /// `infinity`
    Infinity,
    /// `negativeInfinity`
    NegativeInfinity,
    /// `negativeZero`
    NegativeZero,
    /// `regexp`: `{source, flags}`.
    RegExp,
    /// `arrayNonindexKeys`: an array, or an object when it has non-index keys.
    ArrayNonindexKeys,
    /// `StringObject`: `new String(…)`.
    StringObject,
    /// `BooleanObject`: `new Boolean(…)`.
    BooleanObject,
    /// `NumberObject`: `new Number(…)`.
    NumberObject,
}

/// Every tag idbsync decodes (typed arrays in both spellings).
pub const ALL_TAGS: [Tag; 43] = {
    use Elem::*;
    [
        Tag::Date,
        Tag::Blob2,
        Tag::Blob,
        Tag::File,
        Tag::ArrayBuffer,
        Tag::DataView,
        Tag::Map,
        Tag::Set,
        Tag::BigInt,
        Tag::BigIntObject,
        Tag::Undef,
        Tag::SparseUndefined,
        Tag::NaN,
        Tag::Infinity,
        Tag::NegativeInfinity,
        Tag::NegativeZero,
        Tag::RegExp,
        Tag::ArrayNonindexKeys,
        Tag::StringObject,
        Tag::BooleanObject,
        Tag::NumberObject,
        Tag::TypedArray(I8, false),
        Tag::TypedArray(U8, false),
        Tag::TypedArray(U8Clamped, false),
        Tag::TypedArray(I16, false),
        Tag::TypedArray(U16, false),
        Tag::TypedArray(I32, false),
        Tag::TypedArray(U32, false),
        Tag::TypedArray(F32, false),
        Tag::TypedArray(F64, false),
        Tag::TypedArray(I64, false),
        Tag::TypedArray(U64, false),
        Tag::TypedArray(I8, true),
        Tag::TypedArray(U8, true),
        Tag::TypedArray(U8Clamped, true),
        Tag::TypedArray(I16, true),
        Tag::TypedArray(U16, true),
        Tag::TypedArray(I32, true),
        Tag::TypedArray(U32, true),
        Tag::TypedArray(F32, true),
        Tag::TypedArray(F64, true),
        Tag::TypedArray(I64, true),
        Tag::TypedArray(U64, true),
    ]
};

const TYPED: [(&str, Elem); 11] = [
    ("int8array", Elem::I8),
    ("uint8array", Elem::U8),
    ("uint8clampedarray", Elem::U8Clamped),
    ("int16array", Elem::I16),
    ("uint16array", Elem::U16),
    ("int32array", Elem::I32),
    ("uint32array", Elem::U32),
    ("float32array", Elem::F32),
    ("float64array", Elem::F64),
    ("bigint64array", Elem::I64),
    ("biguint64array", Elem::U64),
];

impl Tag {
    /// Parses a typeson type name; `None` for a name idbsync does not know.
    pub fn parse(name: &str) -> Option<Tag> {
        Some(match name {
            "date" => Tag::Date,
            "blob2" => Tag::Blob2,
            "blob" => Tag::Blob,
            "file" => Tag::File,
            "arraybuffer" => Tag::ArrayBuffer,
            "dataview" => Tag::DataView,
            "map" => Tag::Map,
            "set" => Tag::Set,
            "bigint" => Tag::BigInt,
            "bigintObject" => Tag::BigIntObject,
            "undef" => Tag::Undef,
            "sparseUndefined" => Tag::SparseUndefined,
            "nan" => Tag::NaN,
            "infinity" => Tag::Infinity,
            "negativeInfinity" => Tag::NegativeInfinity,
            "negativeZero" => Tag::NegativeZero,
            "regexp" => Tag::RegExp,
            "arrayNonindexKeys" => Tag::ArrayNonindexKeys,
            "StringObject" => Tag::StringObject,
            "BooleanObject" => Tag::BooleanObject,
            "NumberObject" => Tag::NumberObject,
            other => {
                let (base, dexie) = match other.strip_suffix('2') {
                    Some(b) => (b, true),
                    None => (other, false),
                };
                let (_, e) = TYPED.iter().find(|(n, _)| *n == base)?;
                Tag::TypedArray(*e, dexie)
            }
        })
    }

    /// The typeson name, exactly as it is written in `$types`.
    pub fn name(self) -> &'static str {
        match self {
            Tag::Date => "date",
            Tag::Blob2 => "blob2",
            Tag::Blob => "blob",
            Tag::File => "file",
            Tag::ArrayBuffer => "arraybuffer",
            Tag::DataView => "dataview",
            Tag::Map => "map",
            Tag::Set => "set",
            Tag::BigInt => "bigint",
            Tag::BigIntObject => "bigintObject",
            Tag::Undef => "undef",
            Tag::SparseUndefined => "sparseUndefined",
            Tag::NaN => "nan",
            Tag::Infinity => "infinity",
            Tag::NegativeInfinity => "negativeInfinity",
            Tag::NegativeZero => "negativeZero",
            Tag::RegExp => "regexp",
            Tag::ArrayNonindexKeys => "arrayNonindexKeys",
            Tag::StringObject => "StringObject",
            Tag::BooleanObject => "BooleanObject",
            Tag::NumberObject => "NumberObject",
            Tag::TypedArray(e, dexie) => {
                const DEXIE: [&str; 11] = [
                    "int8array2",
                    "uint8array2",
                    "uint8clampedarray2",
                    "int16array2",
                    "uint16array2",
                    "int32array2",
                    "uint32array2",
                    "float32array2",
                    "float64array2",
                    "bigint64array2",
                    "biguint64array2",
                ];
                let i = TYPED.iter().position(|(_, x)| *x == e).unwrap_or(0);
                if dexie {
                    DEXIE[i]
                } else {
                    TYPED[i].0
                }
            }
        }
    }

    /// Tags that describe one value rather than a whole column: special numbers and
    /// the kinds of "no value". A column of numbers may hold a NaN without becoming
    /// a different type.
    pub fn is_value_tag(self) -> bool {
        matches!(
            self,
            Tag::Undef
                | Tag::SparseUndefined
                | Tag::NaN
                | Tag::Infinity
                | Tag::NegativeInfinity
                | Tag::NegativeZero
                | Tag::ArrayNonindexKeys
        )
    }

    /// A small dense id (for bit sets of seen classes).
    pub(crate) fn id(self) -> u8 {
        match self {
            Tag::Date => 0,
            Tag::Blob2 => 1,
            Tag::Blob => 2,
            Tag::File => 3,
            Tag::ArrayBuffer => 4,
            Tag::DataView => 5,
            Tag::Map => 6,
            Tag::Set => 7,
            Tag::BigInt => 8,
            Tag::BigIntObject => 9,
            Tag::Undef => 10,
            Tag::SparseUndefined => 11,
            Tag::NaN => 12,
            Tag::Infinity => 13,
            Tag::NegativeInfinity => 14,
            Tag::NegativeZero => 15,
            Tag::RegExp => 16,
            Tag::ArrayNonindexKeys => 17,
            Tag::StringObject => 18,
            Tag::BooleanObject => 19,
            Tag::NumberObject => 20,
            Tag::TypedArray(e, false) => 21 + e as u8,
            Tag::TypedArray(e, true) => 32 + e as u8,
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in [
            "date",
            "blob2",
            "blob",
            "file",
            "arraybuffer",
            "dataview",
            "map",
            "set",
            "bigint",
            "bigintObject",
            "undef",
            "sparseUndefined",
            "nan",
            "infinity",
            "negativeInfinity",
            "negativeZero",
            "regexp",
            "arrayNonindexKeys",
            "StringObject",
            "BooleanObject",
            "NumberObject",
            "uint8array2",
            "uint8clampedarray2",
            "float64array2",
            "int8array",
            "bigint64array",
            "biguint64array",
        ] {
            assert_eq!(Tag::parse(name).expect(name).name(), name);
        }
        assert_eq!(Tag::parse("symbol"), None);
        assert_eq!(Tag::parse("uint8array3"), None);
    }

    #[test]
    fn all_tags_have_distinct_ids_and_names() {
        let mut ids: Vec<u8> = ALL_TAGS.iter().map(|t| t.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), ALL_TAGS.len());
        for t in ALL_TAGS {
            assert_eq!(Tag::parse(t.name()), Some(t));
        }
    }

    #[test]
    fn ids_are_distinct() {
        let mut ids: Vec<u8> = Vec::new();
        for name in ["date", "int8array", "int8array2", "biguint64array", "biguint64array2", "NumberObject"] {
            ids.push(Tag::parse(name).unwrap().id());
        }
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        assert!(ids.iter().all(|&i| i < 48));
    }
}
