//! Splitting the input into records, push style: the splitter is handed a buffer,
//! reports the records it found and how many bytes it consumed, and keeps just
//! enough state to resume on the next buffer. Record bytes are never copied.

use crate::dexie::TableDecl;
use crate::error::Error;
use crate::format::Format;
use crate::json::{self, ScanError};
use memchr::memchr_iter;

/// A piece of work for one thread.
#[derive(Debug, Clone)]
pub enum Piece {
    /// NDJSON lines `buf[start..end]`; the first non-blank one is record `first`.
    Lines {
        /// First byte.
        start: usize,
        /// One past the last byte.
        end: usize,
        /// Index of the first record.
        first: u64,
    },
    /// One record of `store` at `buf[start..end]`.
    Record {
        /// Store id (index into [`Splitter::stores`]).
        store: u32,
        /// First byte.
        start: usize,
        /// One past the last byte.
        end: usize,
        /// Record index within the store.
        index: u64,
    },
}

impl Piece {
    /// Calls `f(store, start, end, index)` for each record of the piece, in order:
    /// NDJSON lines without their `\r`, blank lines skipped.
    pub fn for_each_record(&self, buf: &[u8], mut f: impl FnMut(u32, usize, usize, u64)) {
        match *self {
            Piece::Record { store, start, end, index } => f(store, start, end, index),
            Piece::Lines { start, end, first } => {
                let mut index = first;
                let mut ls = start;
                while ls < end {
                    let le = memchr::memchr(b'\n', &buf[ls..end]).map_or(end, |i| ls + i);
                    let mut e = le;
                    if e > ls && buf[e - 1] == b'\r' {
                        e -= 1;
                    }
                    if !buf[ls..e].iter().all(|&b| json::is_ws(b)) {
                        f(0, ls, e, index);
                        index += 1;
                    }
                    ls = le + 1;
                }
            }
        }
    }
}

/// Groups consecutive pieces into work items of about `target` bytes (a Dexie
/// export yields one piece per record).
pub fn group_pieces(pieces: &[Piece], target: usize) -> Vec<&[Piece]> {
    let mut groups = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, p) in pieces.iter().enumerate() {
        bytes += match *p {
            Piece::Lines { start, end, .. } | Piece::Record { start, end, .. } => end - start,
        };
        if bytes >= target || matches!(p, Piece::Lines { .. }) {
            groups.push(&pieces[start..=i]);
            start = i + 1;
            bytes = 0;
        }
    }
    if start < pieces.len() {
        groups.push(&pieces[start..]);
    }
    groups
}

/// A store as the splitter met it.
#[derive(Debug, Clone, Default)]
pub struct StoreDecl {
    /// Store name.
    pub name: String,
    /// Dexie's `inbound` flag; `None` outside Dexie exports.
    pub inbound: Option<bool>,
}

/// Header fields of a Dexie export.
#[derive(Debug, Clone, Default)]
pub struct DexieHeader {
    /// `formatName`.
    pub format_name: Option<String>,
    /// `formatVersion`.
    pub format_version: Option<f64>,
    /// `data.databaseName`.
    pub database_name: Option<String>,
    /// `data.databaseVersion`.
    pub database_version: Option<f64>,
    /// `data.tables`.
    pub tables: Option<Vec<TableDecl>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    DexieRoot,
    DexieData,
    DexieTables,
    DexieTable,
    DumpRoot,
    Rows(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    First,
    Next,
    After,
}

#[derive(Debug, Clone)]
struct Frame {
    role: Role,
    obj: bool,
    st: St,
}

/// Finds record boundaries in any supported format, push style: see [`Splitter::split`].
#[derive(Debug)]
pub struct Splitter {
    format: Format,
    stack: Vec<Frame>,
    started: bool,
    done: bool,
    /// Stores met so far, in order.
    pub stores: Vec<StoreDecl>,
    /// Records found so far per store.
    pub counts: Vec<u64>,
    /// The Dexie header as far as it was read.
    pub header: DexieHeader,
    table_name: Option<String>,
    table_inbound: Option<bool>,
    saw_data: bool,
    /// Target bytes per NDJSON piece.
    pub piece_bytes: usize,
}

impl Splitter {
    /// A splitter for `format`; single-store formats name their store `single_store`.
    pub fn new(format: Format, single_store: &str) -> Splitter {
        let mut s = Splitter {
            format,
            stack: Vec::new(),
            started: false,
            done: false,
            stores: Vec::new(),
            counts: Vec::new(),
            header: DexieHeader::default(),
            table_name: None,
            table_inbound: None,
            saw_data: false,
            piece_bytes: 256 << 10,
        };
        if format.single_store() {
            s.store_id(single_store);
        }
        s
    }

    fn store_id(&mut self, name: &str) -> u32 {
        if let Some(i) = self.stores.iter().position(|s| s.name == name) {
            return i as u32;
        }
        self.stores.push(StoreDecl { name: name.to_owned(), inbound: None });
        self.counts.push(0);
        (self.stores.len() - 1) as u32
    }

    /// Finds the records in `buf` (whose first byte is at absolute offset `base`).
    /// Returns how many bytes were consumed; the rest must be offered again with
    /// more data appended. At `eof` everything must be consumed.
    pub fn split(&mut self, buf: &[u8], base: u64, eof: bool, out: &mut Vec<Piece>) -> Result<usize, Error> {
        match self.format {
            Format::Ndjson => Ok(self.split_lines(buf, eof, out)),
            _ => self.split_doc(buf, base, eof, out),
        }
    }

    /// [`Splitter::split`] in windows of about `window` bytes, handing each window's
    /// pieces (positions relative to `buf`) to `f` as soon as they are found, so the
    /// work on them can start while the rest of `buf` is being split.
    pub fn split_windows(
        &mut self,
        buf: &[u8],
        base: u64,
        eof: bool,
        window: usize,
        mut f: impl FnMut(&Splitter, Vec<Piece>),
    ) -> Result<usize, Error> {
        let mut off = 0usize;
        let mut w = window.max(1);
        loop {
            let end = (off + w).min(buf.len());
            let last = end == buf.len();
            let mut pieces = Vec::new();
            let used = self.split(&buf[off..end], base + off as u64, eof && last, &mut pieces)?;
            for p in &mut pieces {
                match p {
                    Piece::Lines { start, end, .. } | Piece::Record { start, end, .. } => {
                        *start += off;
                        *end += off;
                    }
                }
            }
            if !pieces.is_empty() {
                f(self, pieces);
            }
            off += used;
            if last {
                return Ok(off);
            }
            // A record longer than the window: look further.
            w = if used == 0 { w * 2 } else { window.max(1) };
        }
    }

    fn split_lines(&mut self, buf: &[u8], eof: bool, out: &mut Vec<Piece>) -> usize {
        let cut = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', buf) {
                Some(i) => i + 1,
                None => return 0,
            }
        };
        let mut start = 0usize;
        let mut line_start = 0usize;
        let mut first = self.counts[0];
        let mut n = first;
        let mut ends = memchr_iter(b'\n', &buf[..cut]).map(|i| i + 1).chain(if cut > 0 && buf[cut - 1] != b'\n' {
            Some(cut)
        } else {
            None
        });
        for end in ends.by_ref() {
            if !buf[line_start..end].iter().all(|&b| json::is_ws(b)) {
                n += 1;
            }
            line_start = end;
            if end - start >= self.piece_bytes {
                out.push(Piece::Lines { start, end, first });
                start = end;
                first = n;
            }
        }
        if start < cut {
            out.push(Piece::Lines { start, end: cut, first });
        }
        self.counts[0] = n;
        cut
    }

    fn split_doc(&mut self, buf: &[u8], base: u64, eof: bool, out: &mut Vec<Piece>) -> Result<usize, Error> {
        let mut p = 0usize;
        let r = self.walk(buf, base, &mut p, out);
        match r {
            Ok(()) => {}
            Err(ScanError::Incomplete) => {
                if eof {
                    return Err(Error::Truncated { offset: base + buf.len() as u64, expecting: self.expecting() });
                }
            }
            Err(ScanError::Syntax(at, m)) => {
                return Err(Error::Syntax { offset: base + at as u64, reason: m.to_owned(), context: self.context() })
            }
            Err(ScanError::TooDeep(at)) => {
                return Err(Error::Syntax {
                    offset: base + at as u64,
                    reason: "nesting too deep".into(),
                    context: self.context(),
                })
            }
        }
        if eof && !self.done {
            return Err(Error::Truncated { offset: base + buf.len() as u64, expecting: self.expecting() });
        }
        Ok(p)
    }

    fn expecting(&self) -> String {
        match self.stack.last() {
            None if !self.started => "the start of the document".into(),
            None => "nothing".into(),
            Some(f) => match f.role {
                Role::Rows(s) => format!("more rows or ']' of store '{}'", self.stores[s as usize].name),
                _ if f.obj => "'}'".into(),
                _ => "']'".into(),
            },
        }
    }

    fn context(&self) -> String {
        match self.stack.iter().rev().find_map(|f| match f.role {
            Role::Rows(s) => Some(s),
            _ => None,
        }) {
            Some(s) => format!("rows of store '{}'", self.stores[s as usize].name),
            None => match (self.format, &self.table_name) {
                (Format::Dexie, Some(t)) => format!("the data entry of table '{t}'"),
                (Format::Dexie, None) => "the Dexie export header".into(),
                _ => "the document structure".into(),
            },
        }
    }

    /// Advances over complete tokens; `p` is left at the last safe resume point.
    fn walk(&mut self, buf: &[u8], _base: u64, p: &mut usize, out: &mut Vec<Piece>) -> Result<(), ScanError> {
        loop {
            let mut q = json::skip_ws(buf, *p);
            if q >= buf.len() {
                *p = q;
                return if self.done { Ok(()) } else { Err(ScanError::Incomplete) };
            }
            if self.done {
                return Err(ScanError::Syntax(q, "unexpected data after the end of the document"));
            }
            if !self.started {
                let (role, obj) = match self.format {
                    Format::Dexie => (Role::DexieRoot, true),
                    Format::Stores => (Role::DumpRoot, true),
                    Format::JsonArray => (Role::Rows(0), false),
                    Format::Ndjson => unreachable!("NDJSON is split by lines"),
                };
                let want = if obj { b'{' } else { b'[' };
                if buf[q] != want {
                    return Err(ScanError::Syntax(q, if obj { "'{' expected" } else { "'[' expected" }));
                }
                self.started = true;
                self.stack.push(Frame { role, obj, st: St::First });
                *p = q + 1;
                continue;
            }
            let top = self.stack.len() - 1;
            let Frame { role, obj, st } = self.stack[top].clone();
            let close = if obj { b'}' } else { b']' };
            if st == St::After {
                match buf[q] {
                    b',' => {
                        self.stack[top].st = St::Next;
                        *p = q + 1;
                    }
                    c if c == close => {
                        self.check_complete(role, q)?;
                        self.pop();
                        *p = q + 1;
                    }
                    _ => {
                        return Err(ScanError::Syntax(
                            q,
                            if obj { "',' or '}' expected" } else { "',' or ']' expected" },
                        ))
                    }
                }
                continue;
            }
            if st == St::First && buf[q] == close {
                self.check_complete(role, q)?;
                self.pop();
                *p = q + 1;
                continue;
            }
            if obj {
                if buf[q] != b'"' {
                    return Err(ScanError::Syntax(q, "object key expected"));
                }
                let mut key = String::new();
                q = crate::typeson::read_string(buf, q, &mut key)?;
                q = json::skip_ws(buf, q);
                match buf.get(q) {
                    None => return Err(ScanError::Incomplete),
                    Some(b':') => {}
                    Some(_) => return Err(ScanError::Syntax(q, "':' expected")),
                }
                q = json::skip_ws(buf, q + 1);
                if q >= buf.len() {
                    return Err(ScanError::Incomplete);
                }
                self.member(role, &key, buf, q, p)?;
            } else {
                self.element(role, buf, q, p, out)?;
            }
        }
    }

    /// A Dexie export's header parts that stock `importDB` needs, checked as their
    /// object closes: `data` in the root, `tables` in `data`.
    fn check_complete(&self, role: Role, q: usize) -> Result<(), ScanError> {
        match role {
            Role::DexieRoot if !self.saw_data => Err(ScanError::Syntax(q, "the Dexie export has no 'data'")),
            Role::DexieData if self.header.tables.is_none() => Err(ScanError::Syntax(
                q,
                "the Dexie export's data has no 'tables' (each table's name, schema and rowCount)",
            )),
            _ => Ok(()),
        }
    }

    fn pop(&mut self) {
        if let Some(f) = self.stack.pop() {
            if f.role == Role::DexieTable {
                self.table_name = None;
                self.table_inbound = None;
            }
        }
        match self.stack.last_mut() {
            Some(parent) => parent.st = St::After,
            None => self.done = true,
        }
    }

    fn descend(&mut self, buf: &[u8], q: usize, role: Role, obj: bool, p: &mut usize) -> Result<(), ScanError> {
        let want = if obj { b'{' } else { b'[' };
        if buf[q] != want {
            return Err(ScanError::Syntax(q, if obj { "an object expected here" } else { "an array expected here" }));
        }
        let top = self.stack.len() - 1;
        self.stack[top].st = St::After;
        self.stack.push(Frame { role, obj, st: St::First });
        *p = q + 1;
        Ok(())
    }

    fn capture<T: serde::de::DeserializeOwned>(
        &mut self,
        buf: &[u8],
        q: usize,
        p: &mut usize,
        what: &'static str,
    ) -> Result<T, ScanError> {
        let end = json::skip_value(buf, q)?;
        let v = serde_json::from_slice(&buf[q..end]).map_err(|_| ScanError::Syntax(q, what))?;
        let top = self.stack.len() - 1;
        self.stack[top].st = St::After;
        *p = end;
        Ok(v)
    }

    fn skip(&mut self, buf: &[u8], q: usize, p: &mut usize) -> Result<(), ScanError> {
        let end = json::skip_value(buf, q)?;
        let top = self.stack.len() - 1;
        self.stack[top].st = St::After;
        *p = end;
        Ok(())
    }

    fn member(&mut self, role: Role, key: &str, buf: &[u8], q: usize, p: &mut usize) -> Result<(), ScanError> {
        match (role, key) {
            (Role::DexieRoot, "formatName") => {
                self.header.format_name = Some(self.capture(buf, q, p, "formatName must be a string")?);
                if self.header.format_name.as_deref() != Some("dexie") {
                    return Err(ScanError::Syntax(q, "formatName is not \"dexie\""));
                }
            }
            (Role::DexieRoot, "formatVersion") => {
                self.header.format_version = Some(self.capture(buf, q, p, "formatVersion must be a number")?);
                if self.header.format_version != Some(1.0) {
                    return Err(ScanError::Syntax(q, "unsupported formatVersion (idbsync reads version 1)"));
                }
            }
            (Role::DexieRoot, "data") => {
                if self.header.format_name.is_none() {
                    return Err(ScanError::Syntax(q, "Dexie export without formatName before data"));
                }
                self.descend(buf, q, Role::DexieData, true, p)?;
                self.saw_data = true;
            }
            (Role::DexieData, "databaseName") => {
                self.header.database_name = Some(self.capture(buf, q, p, "databaseName must be a string")?)
            }
            (Role::DexieData, "databaseVersion") => {
                self.header.database_version = Some(self.capture(buf, q, p, "databaseVersion must be a number")?)
            }
            (Role::DexieData, "tables") => {
                let t: Vec<TableDecl> =
                    self.capture(buf, q, p, "tables must be an array of {name, schema, rowCount}")?;
                for d in &t {
                    self.store_id(&d.name);
                }
                self.header.tables = Some(t);
            }
            (Role::DexieData, "data") => self.descend(buf, q, Role::DexieTables, false, p)?,
            (Role::DexieTable, "tableName") => {
                self.table_name = Some(self.capture(buf, q, p, "tableName must be a string")?)
            }
            (Role::DexieTable, "inbound") => {
                self.table_inbound = Some(self.capture(buf, q, p, "inbound must be a boolean")?)
            }
            (Role::DexieTable, "rows") => {
                let Some(name) = self.table_name.clone() else {
                    return Err(ScanError::Syntax(q, "rows before tableName"));
                };
                let inbound = self.table_inbound.unwrap_or(true);
                let id = self.store_id(&name);
                // A table listed twice in `data` keeps one key layout: its rows are read
                // with the store's flag, so a second entry cannot change it.
                match &mut self.stores[id as usize].inbound {
                    Some(before) if *before != inbound => {
                        return Err(ScanError::Syntax(
                            q,
                            "this table's rows came earlier with another 'inbound' flag (a table's keys are either in its rows or beside them)",
                        ))
                    }
                    flag => *flag = Some(inbound),
                }
                self.descend(buf, q, Role::Rows(id), false, p)?;
            }
            (Role::DumpRoot, name) => {
                if buf[q] != b'[' {
                    return Err(ScanError::Syntax(q, "a store must be an array of records"));
                }
                let id = self.store_id(name);
                self.descend(buf, q, Role::Rows(id), false, p)?;
            }
            _ => self.skip(buf, q, p)?,
        }
        Ok(())
    }

    fn element(
        &mut self,
        role: Role,
        buf: &[u8],
        q: usize,
        p: &mut usize,
        out: &mut Vec<Piece>,
    ) -> Result<(), ScanError> {
        match role {
            Role::Rows(store) => {
                let end = json::skip_value(buf, q)?;
                let index = self.counts[store as usize];
                self.counts[store as usize] += 1;
                out.push(Piece::Record { store, start: q, end, index });
                let top = self.stack.len() - 1;
                self.stack[top].st = St::After;
                *p = end;
                Ok(())
            }
            Role::DexieTables => self.descend(buf, q, Role::DexieTable, true, p),
            _ => self.skip(buf, q, p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(s: &mut Splitter, input: &[u8], step: usize) -> Vec<(String, String, u64)> {
        let mut carry: Vec<u8> = Vec::new();
        let mut base = 0u64;
        let mut found = Vec::new();
        let mut feed = |carry: &mut Vec<u8>, base: &mut u64, eof: bool, found: &mut Vec<(String, String, u64)>| {
            let mut out = Vec::new();
            let used = s.split(carry, *base, eof, &mut out).unwrap();
            for piece in out {
                if let Piece::Record { store, start, end, index } = piece {
                    let text = String::from_utf8(carry[start..end].to_vec()).unwrap();
                    found.push((s.stores[store as usize].name.clone(), text, index));
                }
            }
            carry.drain(..used);
            *base += used as u64;
        };
        for c in input.chunks(step) {
            carry.extend_from_slice(c);
            feed(&mut carry, &mut base, false, &mut found);
        }
        feed(&mut carry, &mut base, true, &mut found);
        found
    }

    #[test]
    fn dexie_rows_are_found_at_any_buffer_size() {
        let doc = br#"{"formatName":"dexie","formatVersion":1,"data":{"databaseName":"db","databaseVersion":2,"tables":[{"name":"a","schema":"++id","rowCount":2},{"name":"b","schema":"","rowCount":1}],"data":[{"tableName":"a","inbound":true,"rows":[{"id":1,"s":"]}\"x"},
{"id":2}]},{"tableName":"b","inbound":false,"rows":[[1,"v"]]}]}}"#;
        for step in [1, 3, 7, 64, 4096] {
            let mut s = Splitter::new(Format::Dexie, "x");
            let r = records(&mut s, doc, step);
            assert_eq!(r.len(), 3, "step {step}");
            assert_eq!(r[0], ("a".into(), r#"{"id":1,"s":"]}\"x"}"#.into(), 0));
            assert_eq!(r[1].2, 1);
            assert_eq!(r[2], ("b".into(), r#"[1,"v"]"#.into(), 0));
            assert_eq!(s.stores[1].inbound, Some(false));
            assert_eq!(s.header.database_version, Some(2.0));
        }
    }

    #[test]
    fn truncated_and_wrong_headers_are_errors() {
        let mut s = Splitter::new(Format::Dexie, "x");
        let err = s
            .split(
                br#"{"formatName":"dexie","formatVersion":1,"data":{"data":[{"tableName":"a","rows":[{"id":1"#,
                0,
                true,
                &mut Vec::new(),
            )
            .unwrap_err();
        assert!(matches!(err, Error::Truncated { .. }), "{err}");
        let mut s = Splitter::new(Format::Dexie, "x");
        let err = s.split(br#"{"formatName":"other","data":{}}"#, 0, true, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("formatName"), "{err}");
    }

    /// Regression (bad-input corpus): a Dexie export without `tables` (or without
    /// `data`) was converted, though stock `importDB` cannot read it back.
    #[test]
    fn a_dexie_export_without_tables_or_data_is_an_error() {
        let no_tables = br#"{"formatName":"dexie","formatVersion":1,"data":{"databaseName":"d","data":[{"tableName":"a","rows":[{"id":1}]}]}}"#;
        let no_data = br#"{"formatName":"dexie","formatVersion":1}"#;
        for (doc, want) in [(&no_tables[..], "no 'tables'"), (&no_data[..], "no 'data'")] {
            for step in [1, 7, doc.len()] {
                let mut s = Splitter::new(Format::Dexie, "x");
                let mut carry: Vec<u8> = Vec::new();
                let mut err = None;
                for (i, c) in doc.chunks(step).enumerate() {
                    carry.extend_from_slice(c);
                    let eof = (i + 1) * step >= doc.len();
                    match s.split(&carry, 0, eof, &mut Vec::new()) {
                        Ok(used) => drop(carry.drain(..used)),
                        Err(e) => {
                            err = Some(e);
                            break;
                        }
                    }
                }
                let err = err.unwrap_or_else(|| panic!("no error for step {step}"));
                assert!(err.to_string().contains(want), "step {step}: {err}");
            }
        }
    }

    #[test]
    fn dumps_and_arrays() {
        let mut s = Splitter::new(Format::Stores, "x");
        let r = records(&mut s, br#"{"orders":[{"a":1},{"a":2}],"empty":[],"c":[3]}"#, 5);
        assert_eq!(r.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(), ["orders", "orders", "c"]);
        assert_eq!(s.stores.len(), 3);
        let mut s = Splitter::new(Format::JsonArray, "things");
        let r = records(&mut s, b" [ 1 , {\"b\":[2]} ] ", 2);
        assert_eq!(r, vec![("things".into(), "1".into(), 0), ("things".into(), "{\"b\":[2]}".into(), 1)]);
    }

    /// Regression (found by the `split` fuzz target): numbers cut by a block boundary.
    #[test]
    fn numbers_cut_by_any_block_boundary_are_found_whole() {
        let doc = b"[1.5,2e3,-0.25,7E+2,-3]";
        for step in 1..doc.len() {
            let mut s = Splitter::new(Format::JsonArray, "n");
            let texts: Vec<String> = records(&mut s, doc, step).into_iter().map(|r| r.1).collect();
            assert_eq!(texts, ["1.5", "2e3", "-0.25", "7E+2", "-3"], "step {step}");
        }
    }

    #[test]
    fn ndjson_pieces_count_records() {
        let mut s = Splitter::new(Format::Ndjson, "x");
        s.piece_bytes = 8;
        let mut out = Vec::new();
        let buf = b"{\"a\":1}\n\n{\"a\":2}\n{\"a\":3}";
        let used = s.split(buf, 0, false, &mut out).unwrap();
        assert_eq!(used, 17);
        let firsts: Vec<u64> = out
            .iter()
            .map(|p| match p {
                Piece::Lines { first, .. } => *first,
                _ => 99,
            })
            .collect();
        assert_eq!(firsts, vec![0, 1]);
        assert_eq!(s.counts[0], 2);
        let used = s.split(&buf[17..], 17, true, &mut out).unwrap();
        assert_eq!(used, 7);
        assert_eq!(s.counts[0], 3);
    }
}
