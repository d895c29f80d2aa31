//! A readable schema tree: name, type, nullability and source tag.

use arrow_schema::{DataType, Field, Schema};
use std::io::Write;

/// Writes every field of `schema` as an indented tree.
pub fn write_schema(out: &mut impl Write, schema: &Schema) -> std::io::Result<()> {
    for f in schema.fields() {
        write_field(out, f, 1)?;
    }
    Ok(())
}

fn short(dt: &DataType) -> String {
    match dt {
        DataType::Struct(_) => "struct".into(),
        DataType::List(_) => "list".into(),
        DataType::Map(_, _) => "map".into(),
        DataType::Timestamp(u, tz) => format!(
            "timestamp[{}{}]",
            match u {
                arrow_schema::TimeUnit::Second => "s",
                arrow_schema::TimeUnit::Millisecond => "ms",
                arrow_schema::TimeUnit::Microsecond => "us",
                arrow_schema::TimeUnit::Nanosecond => "ns",
            },
            tz.as_deref().map(|z| format!(", {z}")).unwrap_or_default()
        ),
        DataType::Decimal128(p, s) => format!("decimal128({p}, {s})"),
        other => other.to_string().to_lowercase(),
    }
}

fn write_field(out: &mut impl Write, f: &Field, depth: usize) -> std::io::Result<()> {
    let md = f.metadata();
    let mut ty = short(f.data_type());
    if md.get(schema_infer::EXTENSION_NAME).map(String::as_str) == Some(schema_infer::JSON_EXTENSION) {
        ty = "json".into();
    }
    let name = format!("{}{}", "  ".repeat(depth), f.name());
    let mut notes: Vec<String> = Vec::new();
    notes.push(if f.is_nullable() { "nullable".into() } else { "not null".into() });
    if let Some(t) = md.get(schema_infer::META_TAG) {
        notes.push(format!("typeson {t}"));
    }
    if let Some(k) = md.get(schema_infer::META_NULLS) {
        notes.push(format!("no value: {k}"));
    }
    if let Some(s) = md.get(schema_infer::META_SOURCE) {
        notes.push(format!("from {s}"));
    }
    writeln!(out, "{name:<32} {ty:<22} {}", notes.join(", "))?;
    match f.data_type() {
        DataType::Struct(fields) => {
            for c in fields {
                write_field(out, c, depth + 1)?;
            }
        }
        DataType::List(item) => write_field(out, item, depth + 1)?,
        DataType::Map(entries, _) => {
            if let DataType::Struct(kv) = entries.data_type() {
                for c in kv {
                    write_field(out, c, depth + 1)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}
