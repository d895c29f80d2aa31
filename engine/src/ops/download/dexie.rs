//! The Dexie export v1 writer: the header dexie-export-import's importer reads first
//! (database name and version, each table's schema string and row count), then the
//! table's rows with their typeson `$types`: inbound rows as objects, out-of-line rows
//! as `{"$":[key, value],"$types":{"$":{…}}}`, exactly as `exportDB` writes them.
//!
//! The output is ASCII-only (`\uXXXX` escapes) and no string is longer than the
//! importer's parser reads. When the row count is not known up front, rows are spooled
//! to a temporary file and the header is written once they are counted.

use super::encode::{Cx, Enc, Mode, Plan, Problem, K};
use super::json::{write_js_number, write_str};
use super::{write_err, Counting, DownloadOptions, DownloadWarning};
use crate::error::{Error, Result};
use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow_schema::Schema;
use schema_infer::KeySpec;
use std::fs::File;
use std::io::{BufWriter, Seek, Write};

/// Where each row's key comes from.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// In the value (the table has a key path).
    Inbound,
    /// Out-of-line, from the `__key` column.
    KeyColumn(usize),
    /// Out-of-line, numbered 1, 2, 3 … (rows that have no key of their own).
    Generated,
}

enum Target<W: Write> {
    /// The header is written; rows go straight to the output.
    Direct(BufWriter<Counting<W>>),
    /// Rows are counted in a spool first.
    Spool { out: W, spool: BufWriter<File> },
}

pub(crate) struct DexieWriter<W: Write> {
    target: Option<Target<W>>,
    plan: Plan,
    layout: Layout,
    key_path: Vec<usize>,
    table: String,
    header: Vec<u8>,
    declared: Option<u64>,
    rows: u64,
    cx: Cx,
    val: Vec<u8>,
    row: Vec<u8>,
    warnings: Vec<DownloadWarning>,
    omitted: u64,
    max_warnings: usize,
}

fn err(table: &str, row: u64, path: &str, reason: impl Into<String>) -> Error {
    Error::Download { table: table.to_owned(), row, path: path.to_owned(), reason: reason.into() }
}

impl<W: Write> DexieWriter<W> {
    pub fn new(schema: &Schema, table: &str, opts: &DownloadOptions, out: W) -> Result<Self> {
        let plan = Plan::new(schema);
        let meta = schema.metadata();
        let stored_schema = opts.dexie_schema.clone().or_else(|| meta.get("idb.dexie_schema").cloned());
        let inbound = opts
            .inbound
            .or_else(|| meta.get("idb.inbound").and_then(|v| v.parse::<bool>().ok()))
            .or_else(|| stored_schema.as_deref().map(|s| KeySpec::parse(s).inbound()))
            .unwrap_or(false);
        let (schema_str, layout) = if inbound {
            let s = stored_schema.ok_or_else(|| {
                err(table, 0, "", "rows that hold their keys need a Dexie schema naming the key path (e.g. `++id`)")
            })?;
            (s, Layout::Inbound)
        } else {
            let default = if plan.key.is_some() { "" } else { "++" };
            let s = stored_schema.unwrap_or_else(|| default.to_owned());
            (s, plan.key.map_or(Layout::Generated, Layout::KeyColumn))
        };
        let spec = KeySpec::parse(&schema_str);
        if spec.inbound() != inbound {
            let reason = if inbound {
                format!("the rows hold their keys, but the Dexie schema '{schema_str}' has no key path")
            } else {
                format!("the rows are [key, value] pairs, but the Dexie schema '{schema_str}' has a key path")
            };
            return Err(err(table, 0, "", reason));
        }
        // The key path's columns, to name a row in warnings (top-level fields only).
        let key_path = if inbound {
            spec.key_path
                .iter()
                .filter_map(|k| schema.fields().iter().position(|f| f.name() == k))
                .filter(|i| plan.data.contains(i))
                .collect()
        } else {
            Vec::new()
        };
        let database = opts
            .database_name
            .clone()
            .or_else(|| meta.get("idb.database").cloned())
            .unwrap_or_else(|| table.to_owned());
        let version = opts
            .database_version
            .or_else(|| meta.get("idb.version").and_then(|v| v.parse::<f64>().ok()))
            .unwrap_or(1.0);
        if !(version.is_finite() && version > 0.0) {
            return Err(err(table, 0, "", format!("database version {version}: Dexie needs a positive number")));
        }
        let mut header = Vec::new();
        header.extend_from_slice(b"{\"formatName\":\"dexie\",\"formatVersion\":1,\"data\":{\"databaseName\":");
        write_str(&mut header, &database, true);
        header.extend_from_slice(b",\"databaseVersion\":");
        write_js_number(&mut header, version);
        header.extend_from_slice(b",\"tables\":[{\"name\":");
        write_str(&mut header, table, true);
        header.extend_from_slice(b",\"schema\":");
        write_str(&mut header, &schema_str, true);
        header.extend_from_slice(b",\"rowCount\":");
        let rows_at = header.len();
        header.extend_from_slice(b"}],\"data\":[{\"tableName\":");
        write_str(&mut header, table, true);
        header.extend_from_slice(if inbound {
            b",\"inbound\":true,\"rows\":["
        } else {
            b",\"inbound\":false,\"rows\":["
        });
        // The row count goes in at `rows_at` once it is known.
        let header = [header[..rows_at].to_vec(), b"\0".to_vec(), header[rows_at..].to_vec()].concat();
        let target = match opts.row_count {
            Some(n) => {
                let mut w = BufWriter::with_capacity(1 << 20, Counting { inner: out, bytes: 0 });
                w.write_all(&fill(&header, n)).map_err(write_err)?;
                Target::Direct(w)
            }
            None => {
                let spool = match &opts.spool_dir {
                    Some(d) => tempfile::tempfile_in(d),
                    None => tempfile::tempfile(),
                }
                .map_err(|source| Error::Write { path: "a temporary spool file".into(), source })?;
                Target::Spool { out, spool: BufWriter::with_capacity(1 << 20, spool) }
            }
        };
        Ok(DexieWriter {
            target: Some(target),
            plan,
            layout,
            key_path,
            table: table.to_owned(),
            header,
            declared: opts.row_count,
            rows: 0,
            cx: Cx::new(Mode::Typeson, true, opts.max_string),
            val: Vec::new(),
            row: Vec::new(),
            warnings: Vec::new(),
            omitted: 0,
            max_warnings: opts.max_warnings,
        })
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let cols = self.plan.bind(batch).map_err(|(col, source)| Error::Arrow {
            context: format!("table '{}', column '{col}': cannot be written as JSON", self.table),
            source,
        })?;
        let side = self.plan.side(&cols);
        for i in 0..batch.num_rows() {
            self.cx.start_row(side.map(|m| (m, i)));
            if let Err(p) = self.encode(&cols, i) {
                return Err(err(&self.table, self.rows, &p.path, p.reason));
            }
            if !self.cx.big.is_empty() {
                self.warn(&cols, i);
            }
            let w: &mut dyn Write = match self.target.as_mut().expect("open") {
                Target::Direct(w) => w,
                Target::Spool { spool, .. } => spool,
            };
            w.write_all(if self.rows == 0 { b"\n" } else { b",\n" }).map_err(write_err)?;
            w.write_all(&self.row).map_err(write_err)?;
            self.rows += 1;
        }
        Ok(())
    }

    /// Writes row `i` into `self.row`.
    fn encode(&mut self, cols: &[ArrayRef], i: usize) -> Result<(), Problem> {
        let (cx, plan, val, row) = (&mut self.cx, &self.plan, &mut self.val, &mut self.row);
        val.clear();
        row.clear();
        match self.layout {
            Layout::Inbound => {
                let (object, own_types) = if let Some(v) = plan.value {
                    cx.root(val, &plan.encs[v], cols[v].as_ref(), i)?;
                    // An object kept whole (a field named like idbsync's own columns) is
                    // written as exportDB writes objects, unless it has a `$types` field.
                    match &plan.encs[v].kind {
                        K::Struct(fields) if val.first() == Some(&b'{') => {
                            (true, fields.iter().any(|f| f.name == "$types"))
                        }
                        _ => (false, false),
                    }
                } else {
                    (true, value_object(cx, val, plan, cols, i)?)
                };
                let types = &cx.types;
                if object && !own_types {
                    // `{…members…,"$types":{…}}`
                    if types.is_empty() {
                        row.extend_from_slice(val);
                    } else {
                        row.extend_from_slice(&val[..val.len() - 1]);
                        if val.len() > 2 {
                            row.push(b',');
                        }
                        row.extend_from_slice(b"\"$types\":{");
                        row.extend_from_slice(types);
                        row.extend_from_slice(b"}}");
                    }
                } else if types.is_empty() && !own_types {
                    row.extend_from_slice(val);
                } else {
                    // typeson's encapsulation: a value that is not a plain object, or one
                    // with a `$types` key of its own.
                    row.extend_from_slice(b"{\"$\":");
                    row.extend_from_slice(val);
                    if types.is_empty() {
                        row.extend_from_slice(b",\"$types\":true}");
                    } else {
                        row.extend_from_slice(b",\"$types\":{\"$\":{");
                        row.extend_from_slice(types);
                        row.extend_from_slice(b"}}}");
                    }
                }
            }
            Layout::KeyColumn(_) | Layout::Generated => {
                val.push(b'[');
                cx.prefix = "0";
                match self.layout {
                    Layout::KeyColumn(k) => cx.root(val, &plan.encs[k], cols[k].as_ref(), i)?,
                    _ => write_js_number(val, (self.rows + 1) as f64),
                }
                val.push(b',');
                cx.prefix = "1";
                if let Some(v) = plan.value {
                    cx.root(val, &plan.encs[v], cols[v].as_ref(), i)?;
                } else {
                    value_object(cx, val, plan, cols, i)?;
                }
                val.push(b']');
                cx.prefix = "";
                row.extend_from_slice(b"{\"$\":");
                row.extend_from_slice(val);
                row.extend_from_slice(b",\"$types\":{\"$\":{\"\":\"arrayNonindexKeys\"");
                if !cx.types.is_empty() {
                    row.push(b',');
                    row.extend_from_slice(&cx.types);
                }
                row.extend_from_slice(b"}}}");
            }
        }
        Ok(())
    }

    /// Turns this row's large binary values into warnings naming the record.
    fn warn(&mut self, cols: &[ArrayRef], i: usize) {
        let key = self.key_text(cols, i);
        for b in std::mem::take(&mut self.cx.big) {
            if self.warnings.len() < self.max_warnings {
                self.warnings.push(DownloadWarning {
                    table: self.table.clone(),
                    row: self.rows,
                    key: key.clone(),
                    path: b.path,
                    message: b.message,
                });
            } else {
                self.omitted += 1;
            }
        }
    }

    /// The row's key as plain JSON, when it is known.
    fn key_text(&self, cols: &[ArrayRef], i: usize) -> Option<String> {
        let render = |e: &Enc, a: &dyn Array| -> Option<String> {
            let mut cx = Cx::new(Mode::Plain, false, usize::MAX);
            cx.start_row(None);
            let mut out = Vec::new();
            cx.root(&mut out, e, a, i).ok()?;
            String::from_utf8(out).ok()
        };
        match self.layout {
            Layout::Generated => Some((self.rows + 1).to_string()),
            Layout::KeyColumn(k) => render(&self.plan.encs[k], cols[k].as_ref()),
            Layout::Inbound => {
                let parts: Vec<String> = self
                    .key_path
                    .iter()
                    .map(|&c| render(&self.plan.encs[c], cols[c].as_ref()))
                    .collect::<Option<_>>()?;
                match parts.len() {
                    0 => None,
                    1 => parts.into_iter().next(),
                    _ => Some(format!("[{}]", parts.join(","))),
                }
            }
        }
    }

    pub fn finish(mut self) -> Result<(u64, u64, Vec<DownloadWarning>, u64)> {
        let trailer: &[u8] = if self.rows == 0 { b"]}]}}\n" } else { b"\n]}]}}\n" };
        let mut w = match self.target.take().expect("open") {
            Target::Direct(mut w) => {
                if let Some(n) = self.declared.filter(|n| *n != self.rows) {
                    return Err(err(
                        &self.table,
                        self.rows,
                        "",
                        format!("the header declares rowCount {n}, but {} rows were written", self.rows),
                    ));
                }
                w.write_all(trailer).map_err(write_err)?;
                w
            }
            Target::Spool { out, spool } => {
                let mut spool = spool.into_inner().map_err(|e| write_err(e.into_error()))?;
                spool.rewind().map_err(write_err)?;
                let mut w = BufWriter::with_capacity(1 << 20, Counting { inner: out, bytes: 0 });
                w.write_all(&fill(&self.header, self.rows)).map_err(write_err)?;
                std::io::copy(&mut spool, &mut w).map_err(write_err)?;
                w.write_all(trailer).map_err(write_err)?;
                w
            }
        };
        w.flush().map_err(write_err)?;
        let bytes = w.get_ref().bytes;
        Ok((self.rows, bytes, self.warnings, self.omitted))
    }
}

/// The header with its row count in place of the `\0` marker.
fn fill(header: &[u8], rows: u64) -> Vec<u8> {
    let at = header.iter().position(|&b| b == 0).expect("row count marker");
    [&header[..at], rows.to_string().as_bytes(), &header[at + 1..]].concat()
}

/// Writes the object made of the plan's data columns; returns whether it has a member
/// named `$types` (which typeson then encapsulates).
fn value_object(cx: &mut Cx, out: &mut Vec<u8>, plan: &Plan, cols: &[ArrayRef], i: usize) -> Result<bool, Problem> {
    out.push(b'{');
    let mut first = true;
    let mut own_types = false;
    for &c in &plan.data {
        let e = &plan.encs[c];
        if cx.member(out, e, cols[c].as_ref(), i, &mut first, true)? && e.name == "$types" {
            own_types = true;
        }
    }
    out.push(b'}');
    Ok(own_types)
}
