//! Column buffers shaped like a store's Arrow schema. Values are appended while a
//! record is decoded; a record that turns out to be invalid is rolled back with
//! [`Col::truncate`] to the previous row count, so rejects never leave a trace.

pub use crate::input::field_kind::NoValue;
use crate::input::field_kind::{self as fk, list_item, value_type, FieldKind};
use arrow::array::NullBufferBuilder;
use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Decimal128Array, Float32Array, Float64Array, Int16Array, Int32Array,
    Int64Array, Int8Array, ListArray, MapArray, NullArray, StringArray, StructArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt16Array, UInt32Array, UInt64Array,
    UInt8Array,
};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{Decimal128Type, DecimalType};
use arrow_schema::{DataType, FieldRef, Fields, TimeUnit};
use schema_infer::Elem;
use std::collections::HashMap;
use std::sync::Arc;

/// How JSON values are read into a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Int,
    Float,
    BigI64,
    BigDec,
    BigText,
    Str,
    /// Lossless JSON text (Arrow extension `arrow.json`).
    Json,
    /// Any value as text (`--on-conflict string`).
    Text,
    /// A typeson Date: epoch milliseconds.
    Date,
    /// An ISO-8601 string read as a timestamp (`--detect-timestamps`).
    IsoTs,
    /// Timestamps given as numbers (pinned schemas).
    Ts,
    Binary,
    Blob,
    File,
    Typed(Elem),
    List,
    Map,
    Struct,
    /// A wide object stored as `Map<Utf8, T>`.
    ObjMap,
    /// Raw little-endian elements of a typed array (list child).
    Prim(Elem),
}

pub(crate) enum Data {
    None,
    Bool(arrow::array::BooleanBufferBuilder),
    I64(Vec<i64>),
    F64(Vec<f64>),
    I128(Vec<i128>),
    Bytes { offsets: Vec<i32>, data: Vec<u8> },
    Prim { width: usize, bytes: Vec<u8> },
    List { offsets: Vec<i32>, child: Box<Col> },
    Map { offsets: Vec<i32>, keys: Box<Col>, values: Box<Col> },
    Struct { children: Vec<Col>, index: HashMap<Box<str>, usize>, stamp: Vec<u64>, gen: u64 },
}

/// One column (and its children) being filled.
pub(crate) struct Col {
    pub field: FieldRef,
    pub kind: Kind,
    pub default_nv: NoValue,
    /// More than one kind of "no value" occurs here: non-default ones are recorded.
    pub track: bool,
    /// The field name needs no JSON escaping (so it can be matched byte for byte).
    pub plain_name: bool,
    valid: NullBufferBuilder,
    pub data: Data,
}

impl Col {
    /// Builds the column tree for `field`, reading its idbsync metadata.
    pub fn new(field: &FieldRef) -> Col {
        let FieldKind { kind, default_nv, track, .. } = FieldKind::of(field);
        let dt = value_type(field.data_type());
        let (kind, data) = match kind {
            fk::Kind::Json | fk::Kind::Other => (Kind::Json, bytes()),
            fk::Kind::Text => (Kind::Text, bytes()),
            fk::Kind::Null => (Kind::Null, Data::None),
            fk::Kind::Bool => (Kind::Bool, Data::Bool(arrow::array::BooleanBufferBuilder::new(0))),
            fk::Kind::BigInt => (Kind::BigI64, Data::I64(vec![])),
            fk::Kind::Int => (Kind::Int, Data::I64(vec![])),
            fk::Kind::Float => (Kind::Float, Data::F64(vec![])),
            fk::Kind::Decimal { .. } => (Kind::BigDec, Data::I128(vec![])),
            fk::Kind::BigText => (Kind::BigText, bytes()),
            fk::Kind::Str => (Kind::Str, bytes()),
            fk::Kind::Date => (Kind::Date, Data::I64(vec![])),
            fk::Kind::IsoTs => (Kind::IsoTs, Data::I64(vec![])),
            fk::Kind::Ts => (Kind::Ts, Data::I64(vec![])),
            fk::Kind::Binary => (Kind::Binary, bytes()),
            fk::Kind::TypedArray(e) => {
                let item = list_item(dt).expect("a typed array is a list");
                (Kind::Typed(e), Data::List { offsets: vec![0], child: Box::new(Col::prim(item, e)) })
            }
            fk::Kind::List => {
                let item = list_item(dt).expect("a list");
                (Kind::List, Data::List { offsets: vec![0], child: Box::new(Col::new(item)) })
            }
            fk::Kind::JsMap | fk::Kind::ObjMap => {
                let DataType::Map(entries, _) = dt else { unreachable!("a map") };
                let DataType::Struct(kv) = entries.data_type() else { unreachable!("map entries are a struct") };
                let keys = Box::new(Col::new(&kv[0]));
                let values = Box::new(Col::new(&kv[1]));
                let kind = if kind == fk::Kind::JsMap { Kind::Map } else { Kind::ObjMap };
                (kind, Data::Map { offsets: vec![0], keys, values })
            }
            fk::Kind::Blob | fk::Kind::File | fk::Kind::Struct => {
                let DataType::Struct(fields) = dt else { unreachable!("a struct") };
                let kind = match kind {
                    fk::Kind::Blob => Kind::Blob,
                    fk::Kind::File => Kind::File,
                    _ => Kind::Struct,
                };
                (kind, structure(fields))
            }
            fk::Kind::Prim(e) => (Kind::Prim(e), Data::Prim { width: e.width(), bytes: vec![] }),
        };
        let plain_name = !field.name().bytes().any(|b| b == b'\\' || b == b'"' || b < 0x20);
        Col { field: field.clone(), kind, default_nv, track, plain_name, valid: NullBufferBuilder::new(0), data }
    }

    fn prim(item: &FieldRef, e: Elem) -> Col {
        Col {
            field: item.clone(),
            kind: Kind::Prim(e),
            default_nv: NoValue::Null,
            track: false,
            plain_name: false,
            valid: NullBufferBuilder::new(0),
            data: Data::Prim { width: e.width(), bytes: vec![] },
        }
    }

    /// Number of slots (rows, or elements for list children).
    pub fn len(&self) -> usize {
        match &self.data {
            Data::Prim { width, bytes } => bytes.len() / width,
            _ => self.valid.len(),
        }
    }

    /// Whether the field admits nulls.
    pub fn nullable(&self) -> bool {
        self.field.is_nullable()
    }

    /// Appends a null slot (children of structs get null slots too).
    pub fn push_null(&mut self) {
        self.valid.append_null();
        match &mut self.data {
            Data::None | Data::Prim { .. } => {}
            Data::Bool(b) => b.append(false),
            Data::I64(v) => v.push(0),
            Data::F64(v) => v.push(0.0),
            Data::I128(v) => v.push(0),
            Data::Bytes { offsets, .. } | Data::List { offsets, .. } | Data::Map { offsets, .. } => {
                let last = *offsets.last().expect("offsets start at 0");
                offsets.push(last);
            }
            Data::Struct { children, .. } => children.iter_mut().for_each(Col::push_null),
        }
    }

    /// Marks the slot just appended by a value push as valid.
    #[inline]
    pub fn push_valid(&mut self) {
        self.valid.append_non_null();
    }

    /// Rolls back to `n` slots. A container whose own slot was never closed (a record
    /// that failed halfway through it) still rolls back what its children received.
    pub fn truncate(&mut self, n: usize) {
        if let Data::Prim { width, bytes } = &mut self.data {
            bytes.truncate(n * *width);
            return;
        }
        self.valid.truncate(n);
        match &mut self.data {
            Data::None | Data::Prim { .. } => {}
            Data::Bool(b) => b.truncate(n),
            Data::I64(v) => v.truncate(n),
            Data::F64(v) => v.truncate(n),
            Data::I128(v) => v.truncate(n),
            Data::Bytes { offsets, data } => {
                offsets.truncate(n + 1);
                data.truncate(offsets[n] as usize);
            }
            Data::List { offsets, child } => {
                offsets.truncate(n + 1);
                child.truncate(offsets[n] as usize);
            }
            Data::Map { offsets, keys, values } => {
                offsets.truncate(n + 1);
                keys.truncate(offsets[n] as usize);
                values.truncate(offsets[n] as usize);
            }
            Data::Struct { children, .. } => children.iter_mut().for_each(|c| c.truncate(n)),
        }
    }

    /// Appends bytes to a Utf8 / Binary / JSON column (the caller marks validity).
    #[inline]
    pub fn bytes_mut(&mut self) -> (&mut Vec<i32>, &mut Vec<u8>) {
        match &mut self.data {
            Data::Bytes { offsets, data } => (offsets, data),
            _ => unreachable!("not a bytes column"),
        }
    }

    /// Appends one byte-string value.
    #[inline]
    pub fn push_bytes(&mut self, b: &[u8]) {
        let (offsets, data) = self.bytes_mut();
        data.extend_from_slice(b);
        offsets.push(data.len() as i32);
        self.valid.append_non_null();
    }

    /// Closes a byte-string value whose bytes were written through [`Col::bytes_mut`].
    #[inline]
    pub fn close_bytes(&mut self) {
        let (offsets, data) = self.bytes_mut();
        offsets.push(data.len() as i32);
        self.valid.append_non_null();
    }

    #[inline]
    pub fn push_i64(&mut self, v: i64) {
        if let Data::I64(x) = &mut self.data {
            x.push(v);
        }
        self.valid.append_non_null();
    }

    #[inline]
    pub fn push_f64(&mut self, v: f64) {
        if let Data::F64(x) = &mut self.data {
            x.push(v);
        }
        self.valid.append_non_null();
    }

    /// Appends an instant given in epoch milliseconds (a Date, an ISO-8601 string) to a
    /// timestamp column, in the column's unit (to seconds it is floored); `false`, with
    /// nothing appended, when the unit cannot hold it.
    #[inline]
    pub fn push_ms(&mut self, ms: i64) -> bool {
        let v = match self.field.data_type() {
            DataType::Timestamp(TimeUnit::Second, _) => Some(ms.div_euclid(1000)),
            DataType::Timestamp(TimeUnit::Microsecond, _) => ms.checked_mul(1000),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => ms.checked_mul(1_000_000),
            _ => Some(ms),
        };
        match v {
            Some(v) => {
                self.push_i64(v);
                true
            }
            None => false,
        }
    }

    /// Appends an integer (a BigInt) to a `Decimal128(p, s)` column, scaled to its `s`
    /// fraction digits; `false`, with nothing appended, when it then has more than `p` digits.
    #[inline]
    pub fn push_integer_decimal(&mut self, v: i128) -> bool {
        let (p, s) = match self.field.data_type() {
            DataType::Decimal128(p, s) => (*p, *s),
            _ => (38, 0),
        };
        let scaled = u32::try_from(s).ok().and_then(|s| 10i128.checked_pow(s)).and_then(|m| v.checked_mul(m));
        match scaled.filter(|x| Decimal128Type::is_valid_decimal_precision(*x, p)) {
            Some(x) => {
                self.push_i128(x);
                true
            }
            None => false,
        }
    }

    #[inline]
    pub fn push_i128(&mut self, v: i128) {
        if let Data::I128(x) = &mut self.data {
            x.push(v);
        }
        self.valid.append_non_null();
    }

    #[inline]
    pub fn push_bool(&mut self, v: bool) {
        if let Data::Bool(x) = &mut self.data {
            x.append(v);
        }
        self.valid.append_non_null();
    }

    /// Closes a list or map slot after its children were appended.
    #[inline]
    pub fn close_list(&mut self) {
        match &mut self.data {
            Data::List { offsets, child } => offsets.push(child.len() as i32),
            Data::Map { offsets, keys, .. } => offsets.push(keys.len() as i32),
            _ => unreachable!("not a list column"),
        }
        self.valid.append_non_null();
    }

    /// Builds the Arrow array and empties the buffers.
    pub fn finish(&mut self) -> ArrayRef {
        let len = self.len();
        let nulls = self.valid.finish().filter(|n| n.null_count() > 0);
        let dt = self.field.data_type().clone();
        match &mut self.data {
            Data::None => Arc::new(NullArray::new(len)),
            Data::Bool(b) => Arc::new(BooleanArray::new(b.finish(), nulls)),
            Data::I64(v) => {
                let vals = ScalarBuffer::from(std::mem::take(v));
                match &dt {
                    DataType::Timestamp(TimeUnit::Second, tz) => {
                        Arc::new(TimestampSecondArray::new(vals, nulls).with_timezone_opt(tz.clone()))
                    }
                    DataType::Timestamp(TimeUnit::Millisecond, tz) => {
                        Arc::new(TimestampMillisecondArray::new(vals, nulls).with_timezone_opt(tz.clone()))
                    }
                    DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                        Arc::new(TimestampMicrosecondArray::new(vals, nulls).with_timezone_opt(tz.clone()))
                    }
                    DataType::Timestamp(TimeUnit::Nanosecond, tz) => {
                        Arc::new(TimestampNanosecondArray::new(vals, nulls).with_timezone_opt(tz.clone()))
                    }
                    _ => Arc::new(Int64Array::new(vals, nulls)),
                }
            }
            Data::F64(v) => Arc::new(Float64Array::new(ScalarBuffer::from(std::mem::take(v)), nulls)),
            Data::I128(v) => {
                let (p, s) = match dt {
                    DataType::Decimal128(p, s) => (p, s),
                    _ => (38, 0),
                };
                Arc::new(
                    Decimal128Array::new(ScalarBuffer::from(std::mem::take(v)), nulls)
                        .with_precision_and_scale(p, s)
                        .expect("valid decimal precision"),
                )
            }
            Data::Bytes { offsets, data } => {
                let off = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(offsets, vec![0])));
                let values = Buffer::from_vec(std::mem::take(data));
                match dt {
                    DataType::Binary => Arc::new(BinaryArray::new(off, values, nulls)),
                    _ => Arc::new(StringArray::new(off, values, nulls)),
                }
            }
            Data::Prim { bytes, .. } => prim_array(&dt, std::mem::take(bytes)),
            Data::List { offsets, child } => {
                let DataType::List(item) = &dt else { unreachable!("list column") };
                let values = child.finish();
                let off = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(offsets, vec![0])));
                Arc::new(ListArray::new(item.clone(), off, values, nulls))
            }
            Data::Map { offsets, keys, values } => {
                let DataType::Map(entries, sorted) = &dt else { unreachable!("map column") };
                let DataType::Struct(kv) = entries.data_type() else { unreachable!("map entries") };
                let entries_arr = StructArray::new(kv.clone(), vec![keys.finish(), values.finish()], None);
                let off = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(offsets, vec![0])));
                Arc::new(MapArray::new(entries.clone(), off, entries_arr, nulls, *sorted))
            }
            Data::Struct { children, .. } => {
                let DataType::Struct(fields) = &dt else { unreachable!("struct column") };
                let arrays: Vec<ArrayRef> = children.iter_mut().map(Col::finish).collect();
                // With the length given, a struct of no fields (records that were all `{}`) works too.
                Arc::new(
                    StructArray::try_new_with_length(fields.clone(), arrays, nulls, len)
                        .expect("children have the struct's length"),
                )
            }
        }
    }
}

fn bytes() -> Data {
    Data::Bytes { offsets: vec![0], data: vec![] }
}

fn structure(fields: &Fields) -> Data {
    let children: Vec<Col> = fields.iter().map(Col::new).collect();
    let index = fields.iter().enumerate().map(|(i, f)| (f.name().as_str().into(), i)).collect();
    let n = children.len();
    Data::Struct { children, index, stamp: vec![0; n], gen: 0 }
}

fn prim_array(dt: &DataType, bytes: Vec<u8>) -> ArrayRef {
    macro_rules! conv {
        ($arr:ty, $t:ty, $w:expr) => {{
            let v: Vec<$t> =
                bytes.chunks_exact($w).map(|c| <$t>::from_le_bytes(c.try_into().expect("width"))).collect();
            Arc::new(<$arr>::new(ScalarBuffer::from(v), None)) as ArrayRef
        }};
    }
    match dt {
        DataType::Int8 => conv!(Int8Array, i8, 1),
        DataType::UInt8 => conv!(UInt8Array, u8, 1),
        DataType::Int16 => conv!(Int16Array, i16, 2),
        DataType::UInt16 => conv!(UInt16Array, u16, 2),
        DataType::Int32 => conv!(Int32Array, i32, 4),
        DataType::UInt32 => conv!(UInt32Array, u32, 4),
        DataType::Float32 => conv!(Float32Array, f32, 4),
        DataType::Float64 => conv!(Float64Array, f64, 8),
        DataType::Int64 => conv!(Int64Array, i64, 8),
        _ => conv!(UInt64Array, u64, 8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;
    use arrow_schema::Field;

    #[test]
    fn truncate_rolls_back_nested_values() {
        let item = Arc::new(Field::new("item", DataType::Utf8, true));
        let f: FieldRef = Arc::new(Field::new("l", DataType::List(item), true));
        let mut c = Col::new(&f);
        // row 0: ["a", "bc"]
        if let Data::List { child, .. } = &mut c.data {
            child.push_bytes(b"a");
            child.push_bytes(b"bc");
        }
        c.close_list();
        // row 1: ["zzz"], then rolled back
        if let Data::List { child, .. } = &mut c.data {
            child.push_bytes(b"zzz");
        }
        c.close_list();
        c.truncate(1);
        c.push_null();
        let arr = c.finish();
        let list = arr.as_any().downcast_ref::<ListArray>().unwrap();
        assert_eq!(list.len(), 2);
        assert!(list.is_null(1));
        let v = list.value(0);
        let s = v.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!((s.value(0), s.value(1), s.len()), ("a", "bc", 2));
    }

    /// Regression (issue 15): a pinned `Timestamp(Second)` was filled with milliseconds
    /// (the batch then panicked on the type mismatch); Dates and ISO-8601 strings are now
    /// converted to the pinned unit, numbers taken as already in it (as arrow-json does).
    #[test]
    fn dates_fill_a_pinned_timestamp_in_its_unit() {
        use crate::input::decode::decode_all;
        use arrow::array::AsArray;
        use arrow::datatypes::{TimestampMicrosecondType, TimestampNanosecondType, TimestampSecondType};
        use arrow_schema::Schema;
        let ts = |unit, tag: Option<&str>| {
            let f = Field::new("t", DataType::Timestamp(unit, Some("UTC".into())), true);
            let md: HashMap<String, String> = match tag {
                Some(t) => [("idb.tag".to_owned(), t.to_owned())].into(),
                None => [("idb.source".to_owned(), "iso8601".to_owned())].into(),
            };
            Arc::new(Schema::new(vec![f.with_metadata(md)]))
        };
        let dates: [&[u8]; 3] = [
            br#"{"t":1709251200123,"$types":{"t":"date"}}"#,
            br#"{"t":-1,"$types":{"t":"date"}}"#,
            br#"{"t":9223372036854775,"$types":{"t":"date"}}"#,
        ];
        let (b, rejects) = decode_all(ts(TimeUnit::Second, Some("date")), dates);
        assert!(rejects.is_empty(), "{rejects:?}");
        let secs = b.column(0).as_primitive::<TimestampSecondType>();
        assert_eq!(secs.values().to_vec(), vec![1_709_251_200, -1, 9_223_372_036_854]);
        assert_eq!(b.schema().field(0).data_type(), &DataType::Timestamp(TimeUnit::Second, Some("UTC".into())));

        let (b, rejects) = decode_all(ts(TimeUnit::Nanosecond, Some("date")), dates);
        assert_eq!(
            b.column(0).as_primitive::<TimestampNanosecondType>().values().to_vec(),
            vec![1_709_251_200_123_000_000, -1_000_000]
        );
        assert_eq!(rejects.len(), 1);
        assert_eq!(
            (rejects[0].0, rejects[0].1.reason.as_str()),
            (2, "Date out of range for a timestamp(ns, \"utc\") column")
        );

        let iso: [&[u8]; 1] = [br#"{"t":"2024-03-01T00:00:00.123Z"}"#];
        let (b, rejects) = decode_all(ts(TimeUnit::Microsecond, None), iso);
        assert!(rejects.is_empty(), "{rejects:?}");
        assert_eq!(b.column(0).as_primitive::<TimestampMicrosecondType>().value(0), 1_709_251_200_123_000);

        // Numbers in a pinned timestamp column are in its unit.
        let f = Field::new("t", DataType::Timestamp(TimeUnit::Second, None), true);
        let (b, _) = decode_all(Arc::new(Schema::new(vec![f])), [&br#"{"t":1709251200}"#[..]]);
        assert_eq!(b.column(0).as_primitive::<TimestampSecondType>().value(0), 1_709_251_200);
    }

    /// Regression (issue 15): BigInts in a pinned `Decimal128(p, s)` were written unscaled
    /// (123 read back as 1.23 at scale 2) and whatever their digits (truncated to garbage
    /// in Parquet past the precision); they are now scaled, and too many digits are a reject.
    #[test]
    fn bigints_fill_a_pinned_decimal_scaled_and_within_its_precision() {
        use crate::input::decode::decode_all;
        use arrow::array::AsArray;
        use arrow_schema::Schema;
        let f = Field::new("n", DataType::Decimal128(5, 2), true)
            .with_metadata([("idb.tag".to_owned(), "bigint".to_owned())].into());
        let records: [&[u8]; 4] = [
            br#"{"n":"123","$types":{"n":"bigint"}}"#,
            br#"{"n":"-999","$types":{"n":"bigint"}}"#,
            br#"{"n":"1000","$types":{"n":"bigint"}}"#,
            br#"{"n":"99999999999999999999999999999999999999999","$types":{"n":"bigint"}}"#,
        ];
        let (b, rejects) = decode_all(Arc::new(Schema::new(vec![f])), records);
        let d = b.column(0).as_primitive::<Decimal128Type>();
        assert_eq!((d.len(), d.value(0), d.value(1)), (2, 12_300, -99_900));
        assert_eq!(d.value_as_string(0), "123.00");
        let reasons: Vec<(usize, &str)> = rejects.iter().map(|(i, r)| (*i, r.reason.as_str())).collect();
        assert_eq!(
            reasons,
            vec![
                (2, "BigInt out of range for a decimal128(5, 2) column"),
                (3, "BigInt out of range for a decimal128(5, 2) column")
            ]
        );
    }
}
