//! NDJSON and CSV downloads: plain values, what `JSON.stringify` gives for the records
//! (an absent or `undefined` field is left out, NaN and invalid Dates are null), with
//! Dates as ISO-8601 UTC text and binary data as base64. Every column but `__idb_nulls`
//! is written; `__key` and `__value` keep their names, except in a store without keys
//! whose records are kept whole in `__value` (records that are not objects, or that have
//! a field named like one of idbsync's own columns): there each line (NDJSON) is the
//! record itself, and CSV's columns are the record's fields when the records are objects.
//!
//! CSV has a header row. Null is an empty cell and the empty string is `""`; nested
//! values (objects, arrays, Maps, Blobs, JSON-text columns) are their JSON text.

use super::encode::{Cx, Enc, Mode, Plan, K};
use super::json::{decimal_text, iso_text, write_js_number};
use super::{write_err, Counting, DownloadWarning};
use crate::error::{Error, Result};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{Decimal128Type, Float64Type, Int64Type, TimestampMillisecondType};
use arrow_schema::{Schema, TimeUnit};
use std::io::{BufWriter, Write};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ndjson,
    Csv,
}

pub(crate) struct TextWriter<W: Write> {
    kind: Kind,
    out: BufWriter<Counting<W>>,
    plan: Plan,
    /// The columns written, in order.
    columns: Vec<Source>,
    /// The records are the values of `__value` (a store without keys): NDJSON writes
    /// each as it is.
    whole: Option<usize>,
    table: String,
    rows: u64,
    cx: Cx,
    line: Vec<u8>,
    cell: Vec<u8>,
}

impl<W: Write> TextWriter<W> {
    fn new(kind: Kind, schema: &Schema, table: &str, out: W) -> Self {
        let plan = Plan::new(schema);
        let whole = plan.value.filter(|_| plan.key.is_none());
        let columns = match whole.map(|v| (v, &plan.encs[v].kind)) {
            // Object records kept whole: their fields are the columns.
            Some((v, K::Struct(children))) => (0..children.len()).map(|j| Source::Field(v, j)).collect(),
            _ => (0..plan.encs.len()).filter(|i| Some(*i) != plan.nulls).map(Source::Column).collect(),
        };
        TextWriter {
            kind,
            out: BufWriter::with_capacity(1 << 20, Counting { inner: out, bytes: 0 }),
            plan,
            columns,
            whole,
            table: table.to_owned(),
            rows: 0,
            cx: Cx::new(Mode::Plain, false, usize::MAX),
            line: Vec::new(),
            cell: Vec::new(),
        }
    }

    pub fn ndjson(schema: &Schema, table: &str, out: W) -> Self {
        Self::new(Kind::Ndjson, schema, table, out)
    }

    pub fn csv(schema: &Schema, table: &str, out: W) -> Result<Self> {
        let mut w = Self::new(Kind::Csv, schema, table, out);
        let mut line = Vec::new();
        for (n, &c) in w.columns.iter().enumerate() {
            if n > 0 {
                line.push(b',');
            }
            csv_cell(&mut line, enc(&w.plan, c).name.as_bytes(), false);
        }
        line.extend_from_slice(b"\r\n");
        w.out.write_all(&line).map_err(write_err)?;
        Ok(w)
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let cols = self.plan.bind(batch).map_err(|(col, source)| Error::Arrow {
            context: format!("table '{}', column '{col}': cannot be written as text", self.table),
            source,
        })?;
        let side = self.plan.side(&cols);
        for i in 0..batch.num_rows() {
            self.cx.start_row(side.map(|m| (m, i)));
            self.line.clear();
            let res = match self.kind {
                Kind::Ndjson => self.ndjson_row(&cols, i),
                Kind::Csv => self.csv_row(&cols, i),
            };
            if let Err(p) = res {
                return Err(Error::Download {
                    table: self.table.clone(),
                    row: self.rows,
                    path: p.path,
                    reason: p.reason,
                });
            }
            self.out.write_all(&self.line).map_err(write_err)?;
            self.rows += 1;
        }
        Ok(())
    }

    fn ndjson_row(&mut self, cols: &[ArrayRef], i: usize) -> Result<(), super::encode::Problem> {
        let line = &mut self.line;
        if let Some(v) = self.whole {
            self.cx.root(line, &self.plan.encs[v], cols[v].as_ref(), i)?;
            line.push(b'\n');
            return Ok(());
        }
        line.push(b'{');
        let mut first = true;
        for &c in &self.columns {
            let Source::Column(c) = c else { unreachable!("NDJSON writes fields through the whole value") };
            // `__key` and `__value` stand for the whole key and value: their null kinds are
            // recorded at the value's own path.
            let comp = Some(c) != self.plan.key && Some(c) != self.plan.value;
            self.cx.member(line, &self.plan.encs[c], cols[c].as_ref(), i, &mut first, comp)?;
        }
        line.extend_from_slice(b"}\n");
        Ok(())
    }

    fn csv_row(&mut self, cols: &[ArrayRef], i: usize) -> Result<(), super::encode::Problem> {
        for n in 0..self.columns.len() {
            let c = self.columns[n];
            if n > 0 {
                self.line.push(b',');
            }
            let (a, comp): (&dyn Array, bool) = match c {
                Source::Column(c) => (cols[c].as_ref(), Some(c) != self.plan.key && Some(c) != self.plan.value),
                Source::Field(v, j) => {
                    let st = cols[v].as_struct();
                    if st.is_null(i) {
                        continue;
                    }
                    (st.column(j).as_ref(), true)
                }
            };
            let e = enc(&self.plan, c);
            if matches!(e.kind, K::Null) || a.is_null(i) {
                continue;
            }
            self.cell.clear();
            let quote_empty = scalar(&mut self.cell, e, a, i);
            if quote_empty.is_none() {
                // Nested values: their JSON text.
                self.cx.present(&mut self.cell, e, a, i, comp)?;
            }
            csv_cell(&mut self.line, &self.cell, quote_empty == Some(true));
        }
        self.line.extend_from_slice(b"\r\n");
        Ok(())
    }

    pub fn finish(mut self) -> Result<(u64, u64, Vec<DownloadWarning>, u64)> {
        self.out.flush().map_err(write_err)?;
        Ok((self.rows, self.out.get_ref().bytes, Vec::new(), 0))
    }
}

/// Where a written column's values come from.
#[derive(Clone, Copy)]
enum Source {
    /// A column of the stored schema.
    Column(usize),
    /// Field `.1` of the struct values of column `.0` (object records kept whole).
    Field(usize, usize),
}

/// The plan of a written column.
fn enc(plan: &Plan, c: Source) -> &Enc {
    match c {
        Source::Column(c) => &plan.encs[c],
        Source::Field(v, j) => match &plan.encs[v].kind {
            K::Struct(children) => &children[j],
            _ => unreachable!("fields are taken from struct values only"),
        },
    }
}

/// A scalar cell's text; `Some(empty)` when written (`true` for the empty string, which
/// is quoted to tell it from null), `None` for nested values.
fn scalar(out: &mut Vec<u8>, e: &Enc, a: &dyn Array, i: usize) -> Option<bool> {
    match &e.kind {
        K::Str | K::Text => {
            let s = a.as_string::<i32>().value(i);
            out.extend_from_slice(s.as_bytes());
            Some(s.is_empty())
        }
        K::Bool => {
            out.extend_from_slice(if a.as_boolean().value(i) { b"true" } else { b"false" });
            Some(false)
        }
        K::Int => {
            let _ = write!(out, "{}", a.as_primitive::<Int64Type>().value(i));
            Some(false)
        }
        K::Float => {
            let v = a.as_primitive::<Float64Type>().value(i);
            if v.is_nan() {
                out.extend_from_slice(b"NaN");
            } else if v.is_infinite() {
                out.extend_from_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
            } else {
                write_js_number(out, v);
            }
            Some(false)
        }
        K::Dec(scale) => {
            out.extend_from_slice(decimal_text(a.as_primitive::<Decimal128Type>().value(i), *scale).as_bytes());
            Some(false)
        }
        K::Date => {
            let ms = a.as_primitive::<TimestampMillisecondType>().value(i);
            out.extend_from_slice(iso_text(ms, TimeUnit::Millisecond).as_bytes());
            Some(false)
        }
        K::Iso(_) | K::Ts(_) | K::Binary => {
            // The JSON form is a string: its content.
            let mut cx = Cx::new(Mode::Plain, false, usize::MAX);
            cx.start_row(None);
            let mut json = Vec::new();
            cx.root(&mut json, e, a, i).ok()?;
            let s: String = serde_json::from_slice(&json).ok()?;
            out.extend_from_slice(s.as_bytes());
            Some(s.is_empty())
        }
        _ => None,
    }
}

/// Appends a CSV cell, quoted when it holds a comma, quote or line break (or when
/// `force`, for the empty string).
fn csv_cell(out: &mut Vec<u8>, cell: &[u8], force: bool) {
    let needs = force || cell.iter().any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if !needs {
        out.extend_from_slice(cell);
        return;
    }
    out.push(b'"');
    for &b in cell {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}
