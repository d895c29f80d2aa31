//! Printing results: a table for people (binary as its size and a short hex prefix,
//! timestamps in ISO-8601 UTC, JSON-text columns as their JSON), or CSV, JSON, NDJSON for
//! programs (binary as base64, nested values as JSON in CSV).

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, RecordBatch, StringArray, StringBuilder, StructArray};
use arrow::util::display::FormatOptions;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use base64::Engine as _;
use std::io::{self, Write};
use std::sync::Arc;

/// Output formats of `idbsync query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aligned table.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
}

/// How binary values are shown.
#[derive(Clone, Copy)]
enum Bin {
    Summary,
    Base64,
}

fn bin_text(b: &[u8], how: Bin) -> String {
    match how {
        Bin::Base64 => base64::engine::general_purpose::STANDARD.encode(b),
        Bin::Summary => {
            let hex: String = b.iter().take(8).map(|x| format!("{x:02x}")).collect();
            format!(
                "<{} bytes{}{}{}>",
                b.len(),
                if b.is_empty() { "" } else { ": " },
                hex,
                if b.len() > 8 { "…" } else { "" }
            )
        }
    }
}

fn has_binary(t: &DataType) -> bool {
    match t {
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => true,
        DataType::Struct(fs) => fs.iter().any(|f| has_binary(f.data_type())),
        _ => false,
    }
}

/// Binary columns (also inside structs, as Blobs are) become text.
fn binary_as_text(col: &ArrayRef, how: Bin) -> ArrayRef {
    match col.data_type() {
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
            let cast = arrow::compute::cast(col, &DataType::Binary).expect("binary casts to Binary");
            let b: &BinaryArray = cast.as_binary();
            let mut out = StringBuilder::new();
            for i in 0..b.len() {
                if b.is_null(i) {
                    out.append_null();
                } else {
                    out.append_value(bin_text(b.value(i), how));
                }
            }
            Arc::new(out.finish())
        }
        DataType::Struct(_) if has_binary(col.data_type()) => {
            let s: &StructArray = col.as_struct();
            let cols: Vec<ArrayRef> = s.columns().iter().map(|c| binary_as_text(c, how)).collect();
            let fields: Fields = s
                .fields()
                .iter()
                .zip(&cols)
                .map(|(f, c)| Arc::new(Field::new(f.name(), c.data_type().clone(), true)))
                .collect();
            Arc::new(StructArray::new(fields, cols, s.nulls().cloned()))
        }
        _ => col.clone(),
    }
}

fn nested(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Struct(_)
            | DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::Map(..)
            | DataType::ListView(_)
    )
}

/// Nested columns as their display text (CSV has no nesting).
fn nested_as_text(col: &ArrayRef) -> ArrayRef {
    if !nested(col.data_type()) {
        return col.clone();
    }
    let opts = FormatOptions::default();
    let fmt = arrow::util::display::ArrayFormatter::try_new(col.as_ref(), &opts).expect("displayable");
    let v: StringArray = (0..col.len()).map(|i| col.is_valid(i).then(|| fmt.value(i).to_string())).collect();
    Arc::new(v)
}

fn convert(batch: &RecordBatch, f: impl Fn(&ArrayRef) -> ArrayRef) -> RecordBatch {
    let cols: Vec<ArrayRef> = batch.columns().iter().map(f).collect();
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .zip(&cols)
        .map(|(fd, c)| Field::new(fd.name(), c.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("same lengths")
}

fn io(e: arrow::error::ArrowError) -> io::Error {
    io::Error::other(e)
}

/// Writes `batches` in `format`. For a table, `total` (rows in the whole result) adds a
/// line saying how many rows were left out.
pub fn write(
    out: &mut dyn Write,
    format: Format,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    total: u64,
) -> io::Result<()> {
    let shown: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
    match format {
        Format::Table => {
            let view: Vec<RecordBatch> =
                batches.iter().map(|b| convert(b, |c| binary_as_text(c, Bin::Summary))).collect();
            let opts = FormatOptions::default().with_null("NULL");
            if view.is_empty() {
                let empty = RecordBatch::new_empty(Arc::new(Schema::new(
                    schema.fields().iter().map(|f| Field::new(f.name(), DataType::Utf8, true)).collect::<Vec<_>>(),
                )));
                writeln!(
                    out,
                    "{}",
                    arrow::util::pretty::pretty_format_batches_with_options(&[empty], &opts).map_err(io)?
                )?;
            } else {
                writeln!(
                    out,
                    "{}",
                    arrow::util::pretty::pretty_format_batches_with_options(&view, &opts).map_err(io)?
                )?;
            }
            let rows = |n: u64| if n == 1 { "1 row".to_owned() } else { format!("{n} rows") };
            if total > shown {
                writeln!(out, "{} ({} shown, {} more; --limit 0 shows all)", rows(total), shown, total - shown)?;
            } else {
                writeln!(out, "{}", rows(total))?;
            }
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(out);
            for b in batches {
                let b = convert(b, |c| nested_as_text(&binary_as_text(c, Bin::Base64)));
                w.write(&b).map_err(io)?;
            }
            if batches.is_empty() {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                writeln!(w.into_inner(), "{}", names.join(","))?;
            }
        }
        Format::Json => {
            let mut w = arrow::json::ArrayWriter::new(out);
            for b in batches {
                w.write(&convert(b, |c| binary_as_text(c, Bin::Base64))).map_err(io)?;
            }
            w.finish().map_err(io)?;
            let out = w.into_inner();
            if batches.iter().all(|b| b.num_rows() == 0) {
                writeln!(out, "[]")?;
            } else {
                writeln!(out)?;
            }
        }
        Format::Ndjson => {
            let mut w = arrow::json::LineDelimitedWriter::new(out);
            for b in batches {
                w.write(&convert(b, |c| binary_as_text(c, Bin::Base64))).map_err(io)?;
            }
            w.finish().map_err(io)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, TimestampMillisecondArray};

    fn batch() -> RecordBatch {
        let blob: ArrayRef =
            Arc::new(BinaryArray::from(vec![Some(&b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"[..]), None]));
        let ts: ArrayRef =
            Arc::new(TimestampMillisecondArray::from(vec![Some(1_709_287_200_123), None]).with_timezone("UTC"));
        let n: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2)]));
        RecordBatch::try_from_iter(vec![("n", n), ("created", ts), ("blob", blob)]).unwrap()
    }

    fn render(format: Format, total: u64) -> String {
        let b = batch();
        let mut out = Vec::new();
        write(&mut out, format, &b.schema(), std::slice::from_ref(&b), total).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_table_shows_iso_timestamps_binary_summaries_and_what_was_left_out() {
        let t = render(Format::Table, 5);
        assert!(t.contains("2024-03-01T10:00:00.123Z"), "{t}");
        assert!(t.contains("<10 bytes: 0001020304050607…>"), "{t}");
        assert!(t.contains("| NULL"), "{t}");
        assert!(t.trim_end().ends_with("5 rows (2 shown, 3 more; --limit 0 shows all)"), "{t}");
        assert!(render(Format::Table, 2).trim_end().ends_with("\n2 rows"));
    }

    #[test]
    fn csv_and_json_carry_binary_as_base64() {
        let c = render(Format::Csv, 2);
        assert_eq!(c.lines().next().unwrap(), "n,created,blob");
        assert!(c.contains("AAECAwQFBgcICQ=="), "{c}");
        let j = render(Format::Ndjson, 2);
        let first: serde_json::Value = serde_json::from_str(j.lines().next().unwrap()).unwrap();
        assert_eq!(first["blob"], "AAECAwQFBgcICQ==");
        assert_eq!(first["n"], 1);
        let arr: serde_json::Value = serde_json::from_str(&render(Format::Json, 2)).unwrap();
        assert_eq!(arr.as_array().unwrap().len(), 2);
    }
}
