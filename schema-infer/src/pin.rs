//! Checking a pinned schema (`--schema FILE`) before any record is read, as arrow-json
//! refuses a type when its decoder is built: every column must be one the converter
//! fills. An unsupported type, an impossible precision or a malformed map is an error
//! naming the store, the field path and the type, never a panic or wrong values later.
//!
//! This is the list of the Arrow types idbsync converts to, and of what the field
//! metadata (`idb.tag`, `arrow.json`, `idb.conflict`) asks of them. The engine's column
//! builder (`engine/src/input/column.rs`) fills exactly these.

use crate::error::{Error, Result};
use crate::result::{SchemaDoc, EXTENSION_NAME, JSON_EXTENSION, META_TAG};
use crate::tag::Tag;
use arrow_schema::{DataType, Field, Fields, Schema};

/// The types a column may have, for the error message.
const SUPPORTED: &str = "Null, Boolean, Int64, Float64, Decimal128 (precision 1 to 38, scale 0 to the precision), \
                         Utf8, Binary, Timestamp (any unit), and List, Struct or Map (keys_sorted false) of these";

/// The greatest precision of a Decimal128.
const DECIMAL128_MAX_PRECISION: u8 = 38;

/// Why one field cannot be filled.
struct Unfit {
    path: String,
    data_type: String,
    reason: String,
}

fn unfit(path: &str, dt: &DataType, reason: impl Into<String>) -> Unfit {
    Unfit { path: path.to_owned(), data_type: dt.to_string(), reason: reason.into() }
}

/// Checks every store of a pinned schema document (see [`check_schema`]).
pub(crate) fn check_doc(doc: &SchemaDoc) -> Result<()> {
    doc.stores.iter().try_for_each(|s| check_schema(&s.name, &s.schema))
}

/// Checks that the converter can fill every column of `schema`, the schema of store
/// `store`, down to the items, fields, keys and values of nested types: the first column
/// it cannot fill is an [`Error::PinnedType`] naming the store, the field path and the type.
///
/// ```
/// use arrow_schema::{DataType, Field, Schema, TimeUnit};
/// let ok = Schema::new(vec![Field::new("t", DataType::Timestamp(TimeUnit::Second, None), true)]);
/// assert!(schema_infer::check_schema("s", &ok).is_ok());
/// let bad = Schema::new(vec![Field::new("d", DataType::Duration(TimeUnit::Second), true)]);
/// let e = schema_infer::check_schema("s", &bad).unwrap_err().to_string();
/// assert!(e.starts_with("pinned schema, store 's', field 'd': Duration(s) is not a type idbsync converts to"));
/// ```
pub fn check_schema(store: &str, schema: &Schema) -> Result<()> {
    for f in schema.fields() {
        check_field(f, f.name()).map_err(|u| Error::PinnedType {
            store: store.to_owned(),
            path: u.path,
            data_type: u.data_type,
            reason: u.reason,
        })?;
    }
    Ok(())
}

fn check_field(f: &Field, path: &str) -> Result<(), Unfit> {
    let md = f.metadata();
    let dt = f.data_type();
    let tag = md.get(META_TAG).and_then(|t| Tag::parse(t));
    // The metadata that makes a column text, whatever its values.
    if md.get(EXTENSION_NAME).map(String::as_str) == Some(JSON_EXTENSION) {
        return text_only(dt, path, "is marked as JSON text (arrow.json), which is a Utf8 column");
    }
    if md.get("idb.conflict").map(String::as_str) == Some("string") {
        return text_only(dt, path, "is marked as text (idb.conflict string), which is a Utf8 column");
    }
    match dt {
        DataType::Null if !f.is_nullable() => Err(unfit(path, dt, "must be nullable (every value of it is null)")),
        DataType::Null | DataType::Boolean | DataType::Int64 | DataType::Float64 | DataType::Utf8 => Ok(()),
        DataType::Binary | DataType::Timestamp(_, _) => Ok(()),
        DataType::Decimal128(p, s) => {
            if *p == 0 || *p > DECIMAL128_MAX_PRECISION {
                Err(unfit(
                    path,
                    dt,
                    format!("has precision {p}; a Decimal128 holds 1 to {DECIMAL128_MAX_PRECISION} digits"),
                ))
            } else if *s < 0 {
                Err(unfit(
                    path,
                    dt,
                    format!("has a negative scale ({s}): BigInt values are filled with scale 0 to the precision"),
                ))
            } else if *s as u8 > *p {
                Err(unfit(path, dt, format!("has a scale ({s}) greater than its precision ({p})")))
            } else {
                Ok(())
            }
        }
        DataType::List(item) => match tag {
            // Typed arrays fill their items with raw elements of the tag's type.
            Some(Tag::TypedArray(e, _)) if item.data_type() != &e.data_type() => Err(unfit(
                &format!("{path}.[]"),
                item.data_type(),
                format!(
                    "is not the element type of the typed array the list holds (idb.tag '{}'): {}",
                    md[META_TAG],
                    e.data_type()
                ),
            )),
            Some(Tag::TypedArray(..)) => Ok(()),
            _ => check_field(item, &format!("{path}.[]")),
        },
        DataType::Map(entries, sorted) => check_map(f, entries, *sorted, tag == Some(Tag::Map), path),
        DataType::Struct(fields) if matches!(tag, Some(Tag::Blob | Tag::Blob2 | Tag::File)) => {
            check_blob(fields, dt, path)
        }
        DataType::Struct(fields) => fields.iter().try_for_each(|c| check_field(c, &format!("{path}.{}", c.name()))),
        _ => Err(unfit(path, dt, format!("is not a type idbsync converts to; it fills {SUPPORTED}"))),
    }
}

fn text_only(dt: &DataType, path: &str, why: &str) -> Result<(), Unfit> {
    match dt {
        DataType::Utf8 => Ok(()),
        _ => Err(unfit(path, dt, why)),
    }
}

/// A map: entries of a non-nullable `{key, value}` struct, non-nullable keys, unsorted.
/// A JavaScript Map (`idb.tag` `map`) may have keys of any type; a wide object's
/// keys are its property names, Utf8.
fn check_map(f: &Field, entries: &Field, sorted: bool, js_map: bool, path: &str) -> Result<(), Unfit> {
    let dt = f.data_type();
    if sorted {
        return Err(unfit(path, dt, "is a map with sorted keys (keys_sorted true), which idbsync does not fill"));
    }
    let DataType::Struct(kv) = entries.data_type() else {
        return Err(unfit(path, dt, "is a map whose entries are not a struct of key and value"));
    };
    let [key, value] = &kv.iter().collect::<Vec<_>>()[..] else {
        return Err(unfit(path, dt, format!("is a map whose entries have {} fields, not 2 (key, value)", kv.len())));
    };
    if entries.is_nullable() {
        return Err(unfit(path, dt, "is a map whose entries field is nullable (Arrow requires it not to be)"));
    }
    let key_path = format!("{path}.<key>");
    if key.is_nullable() {
        return Err(unfit(&key_path, key.data_type(), "is a nullable map key (Arrow requires keys not to be null)"));
    }
    if js_map {
        check_field(key, &key_path)?;
    } else if key.data_type() != &DataType::Utf8 {
        return Err(unfit(
            &key_path,
            key.data_type(),
            "is not Utf8: the keys of a map that is not a JavaScript Map (idb.tag 'map') are property names",
        ));
    }
    check_field(value, &format!("{path}.<value>"))
}

/// A Blob, or a File: its parts in the order the converter fills them.
fn check_blob(fields: &Fields, dt: &DataType, path: &str) -> Result<(), Unfit> {
    const PARTS: [(&str, DataType); 4] = [
        ("type", DataType::Utf8),
        ("data", DataType::Binary),
        ("name", DataType::Utf8),
        ("lastModified", DataType::Int64),
    ];
    let fits = matches!(fields.len(), 2 | 4)
        && fields.iter().zip(&PARTS).enumerate().all(|(i, (f, (name, t)))| {
            // `name` and `lastModified` are null when a Blob (not a File) fills the column.
            f.name() == name && f.data_type() == t && (i < 2 || f.is_nullable())
        });
    if fits {
        Ok(())
    } else {
        Err(unfit(
            path,
            dt,
            "does not have the shape of a Blob (idb.tag): Struct(type: Utf8, data: Binary), or of a File: \
             Struct(type: Utf8, data: Binary, name: Utf8 nullable, lastModified: Int64 nullable)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InferOptions, Inferrer};
    use arrow_schema::TimeUnit;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn one(f: Field) -> Result<()> {
        check_schema("s", &Schema::new(vec![f]))
    }

    fn message(f: Field) -> String {
        one(f).expect_err("refused").to_string()
    }

    fn tagged(f: Field, tag: &str) -> Field {
        f.with_metadata(HashMap::from([(META_TAG.to_owned(), tag.to_owned())]))
    }

    fn list(item: DataType) -> DataType {
        DataType::List(Arc::new(Field::new("item", item, true)))
    }

    fn map(key: Field, value: Field) -> DataType {
        let entries = Field::new("entries", DataType::Struct(Fields::from(vec![key, value])), false);
        DataType::Map(Arc::new(entries), false)
    }

    /// Regression (issue 15, "A pinned schema crashes the converter"): `Duration`,
    /// `Float16` and `FixedSizeBinary(-1)` pinned on a float field made `convert` panic
    /// (exit 101) when it built its first batch; they are now refused up front.
    #[test]
    fn types_the_converter_cannot_fill_are_refused_naming_store_field_and_type() {
        for (dt, shown) in [
            (DataType::Duration(TimeUnit::Second), "Duration(s)"),
            (DataType::Float16, "Float16"),
            (DataType::FixedSizeBinary(-1), "FixedSizeBinary(-1)"),
        ] {
            assert_eq!(
                message(Field::new("a", dt, false)),
                format!("pinned schema, store 's', field 'a': {shown} is not a type idbsync converts to; it fills {SUPPORTED}")
            );
        }
        for dt in [
            DataType::Int32,
            DataType::Float32,
            DataType::UInt64,
            DataType::LargeUtf8,
            DataType::Utf8View,
            DataType::LargeBinary,
            DataType::Date32,
            DataType::Decimal256(10, 0),
            DataType::LargeList(Arc::new(Field::new("item", DataType::Int64, true))),
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Int64, true)), 2),
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        ] {
            assert!(message(Field::new("a", dt.clone(), true)).contains("is not a type idbsync converts to"), "{dt}");
        }
    }

    #[test]
    fn decimal_precision_and_scale_must_be_possible() {
        let dec = |p, s| Field::new("n", DataType::Decimal128(p, s), true);
        assert_eq!(
            message(dec(39, 0)),
            "pinned schema, store 's', field 'n': Decimal128(39, 0) has precision 39; a Decimal128 holds 1 to 38 digits"
        );
        assert!(message(dec(0, 0)).contains("has precision 0"));
        assert_eq!(
            message(dec(10, 11)),
            "pinned schema, store 's', field 'n': Decimal128(10, 11) has a scale (11) greater than its precision (10)"
        );
        assert!(message(dec(10, -2)).contains("has a negative scale (-2)"));
        for (p, s) in [(1, 0), (5, 0), (10, 2), (38, 0), (38, 38)] {
            one(dec(p, s)).unwrap();
        }
    }

    #[test]
    fn unsupported_types_are_found_inside_lists_structs_and_maps() {
        let inner = Field::new(
            "b",
            DataType::Struct(Fields::from(vec![
                Field::new("ok", DataType::Int64, true),
                Field::new("c", list(DataType::Float16), true),
            ])),
            true,
        );
        assert!(message(Field::new("a", list(inner.data_type().clone()), true))
            .starts_with("pinned schema, store 's', field 'a.[].c.[]': Float16 is not a type"));
        let m = map(Field::new("key", DataType::Utf8, false), Field::new("value", DataType::Decimal128(40, 0), true));
        assert!(message(Field::new("m", m, true))
            .starts_with("pinned schema, store 's', field 'm.<value>': Decimal128(40, 0)"));
        let js = map(
            Field::new("key", DataType::Duration(TimeUnit::Second), false),
            Field::new("value", DataType::Int64, true),
        );
        assert!(
            message(tagged(Field::new("m", js, true), "map")).contains("field 'm.<key>': Duration(s) is not a type")
        );
    }

    #[test]
    fn maps_must_have_the_shape_arrow_and_the_converter_need() {
        let utf8_key = || Field::new("key", DataType::Utf8, false);
        let value = || Field::new("value", DataType::Int64, true);
        one(Field::new("m", map(utf8_key(), value()), true)).unwrap();
        // Object maps have property names as keys; JavaScript Maps may have other keys.
        let int_keys = map(Field::new("key", DataType::Int64, false), value());
        assert!(message(Field::new("m", int_keys.clone(), true)).contains("field 'm.<key>': Int64 is not Utf8"));
        one(tagged(Field::new("m", int_keys, true), "map")).unwrap();
        let nullable_keys = map(Field::new("key", DataType::Utf8, true), value());
        assert!(message(Field::new("m", nullable_keys, true)).contains("is a nullable map key"));
        let DataType::Map(entries, _) = map(utf8_key(), value()) else { unreachable!() };
        assert!(message(Field::new("m", DataType::Map(entries.clone(), true), true)).contains("keys_sorted true"));
        let nullable_entries = Arc::new(entries.as_ref().clone().with_nullable(true));
        assert!(message(Field::new("m", DataType::Map(nullable_entries, false), true))
            .contains("entries field is nullable"));
        let three = Field::new(
            "entries",
            DataType::Struct(Fields::from(vec![utf8_key(), value(), Field::new("x", DataType::Int64, true)])),
            false,
        );
        assert!(message(Field::new("m", DataType::Map(Arc::new(three), false), true)).contains("have 3 fields"));
        let not_struct = Arc::new(Field::new("entries", DataType::Utf8, false));
        assert!(message(Field::new("m", DataType::Map(not_struct, false), true)).contains("not a struct"));
    }

    #[test]
    fn metadata_asks_for_text_typed_array_elements_and_blob_shapes() {
        let json = |dt| {
            Field::new("j", dt, true).with_metadata(HashMap::from([
                (EXTENSION_NAME.to_owned(), JSON_EXTENSION.to_owned()),
                ("ARROW:extension:metadata".to_owned(), String::new()),
            ]))
        };
        one(json(DataType::Utf8)).unwrap();
        assert!(message(json(DataType::Int64)).contains("field 'j': Int64 is marked as JSON text"));
        let text = Field::new("t", DataType::Float64, true)
            .with_metadata(HashMap::from([("idb.conflict".to_owned(), "string".to_owned())]));
        assert!(message(text).contains("is marked as text (idb.conflict string)"));

        let typed = |item| tagged(Field::new("v", list(item), true), "float64array2");
        one(typed(DataType::Float64)).unwrap();
        assert!(message(typed(DataType::Int8)).contains(
            "field 'v.[]': Int8 is not the element type of the typed array the list holds (idb.tag 'float64array2'): Float64"
        ));
        // Elements stand alone only inside a typed array's list.
        assert!(message(Field::new("v", list(DataType::Float32), true)).contains("field 'v.[]': Float32 is not a type"));

        let blob = |fields: Vec<Field>| tagged(Field::new("b", DataType::Struct(Fields::from(fields)), true), "blob2");
        let part = |n: &str, t| Field::new(n, t, true);
        one(blob(vec![part("type", DataType::Utf8), part("data", DataType::Binary)])).unwrap();
        one(blob(vec![
            part("type", DataType::Utf8),
            part("data", DataType::Binary),
            part("name", DataType::Utf8),
            part("lastModified", DataType::Int64),
        ]))
        .unwrap();
        assert!(message(blob(vec![part("type", DataType::Utf8), part("data", DataType::Utf8)]))
            .contains("does not have the shape of a Blob"));
        assert!(message(blob(vec![
            part("type", DataType::Utf8),
            part("data", DataType::Binary),
            part("name", DataType::Utf8)
        ]))
        .contains("does not have the shape of a Blob"));
        assert!(message(blob(vec![
            part("type", DataType::Utf8),
            part("data", DataType::Binary),
            part("name", DataType::Utf8),
            Field::new("lastModified", DataType::Int64, false),
        ]))
        .contains("does not have the shape of a Blob"));
        // The same struct without the tag is an ordinary one.
        one(Field::new("b", DataType::Struct(Fields::from(vec![part("x", DataType::Utf8)])), true)).unwrap();
    }

    #[test]
    fn null_columns_must_be_nullable() {
        one(Field::new("z", DataType::Null, true)).unwrap();
        assert!(message(Field::new("z", DataType::Null, false)).contains("field 'z': Null must be nullable"));
    }

    /// The check accepts what inference gives: every schema inferred from the bundled
    /// fixtures, under the options that change column types, passes it.
    #[test]
    fn every_inferred_schema_passes() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/fixtures");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            for (ts, conflict, threshold) in
                [(false, crate::OnConflict::Json, 200), (true, crate::OnConflict::String, 2)]
            {
                let opts = InferOptions::new()
                    .with_threads(1)
                    .with_detect_timestamps(ts)
                    .with_on_conflict(conflict)
                    .with_map_threshold(threshold);
                let mut inf = Inferrer::new(opts).unwrap();
                inf.push(&bytes).unwrap();
                let Ok(r) = inf.finish() else { continue };
                for s in &r.stores {
                    check_schema(&s.name, &s.schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    checked += 1;
                }
            }
        }
        assert!(checked >= 10, "only {checked} schemas checked");
    }

    /// A document with a bad type is refused when the inferrer is made, before any input.
    #[test]
    fn an_inferrer_refuses_a_pinned_document_it_could_not_convert_to() {
        let mut inf = Inferrer::new(InferOptions::new().with_threads(1).with_store_name("t")).unwrap();
        inf.push(b"{\"a\":1.5}\n{\"a\":2.25}\n").unwrap();
        let mut doc = inf.finish().unwrap();
        let good = doc.clone();
        Inferrer::new(InferOptions::new().with_pinned(Some(good))).unwrap();
        let a = Field::new("a", DataType::Float16, false);
        doc.stores[0].schema = Arc::new(Schema::new(vec![a]));
        let e = Inferrer::new(InferOptions::new().with_pinned(Some(doc))).err().expect("refused");
        assert!(matches!(&e, Error::PinnedType { store, path, .. } if store == "t" && path == "a"), "{e}");
    }
}
