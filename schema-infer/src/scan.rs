//! The record walker: one pass over a record's bytes, merging every value into the
//! store's lattice nodes as it goes. No DOM is built; untagged subtrees follow a
//! fast path, and `$types` is followed as a trie beside the value.

use crate::json::{self, NumClass, ScanError, MAX_DEPTH, MAX_NESTING};
use crate::lattice::{class, BigWidth, Leaf, Node, ObjTarget, Pos};
use crate::tag::Tag;
use crate::typeson::{self, RootForm, TagRef, TypeTrie, ROOT};
use memchr::memmem;

/// Why one record could not be inferred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecErr {
    /// Malformed JSON or a typeson value that does not decode (reject the record).
    Invalid { at: usize, reason: String },
    /// A typeson tag idbsync does not know (fatal unless kept as JSON).
    UnknownTag { at: usize, name: String },
}

impl From<ScanError> for RecErr {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Incomplete => RecErr::Invalid { at: usize::MAX, reason: "unexpected end of record".into() },
            ScanError::Syntax(at, m) => RecErr::Invalid { at, reason: m.into() },
            ScanError::TooDeep(at) => RecErr::Invalid { at, reason: format!("nesting deeper than {MAX_DEPTH} levels") },
        }
    }
}

#[cold]
fn invalid(at: usize, reason: impl Into<String>) -> RecErr {
    RecErr::Invalid { at, reason: reason.into() }
}

/// Options that change what the walker records.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WalkOpts {
    pub detect_timestamps: bool,
    pub unknown_as_json: bool,
}

/// Per-thread scratch reused across records.
pub(crate) struct Walker {
    trie: TypeTrie,
    finder: memmem::Finder<'static>,
    opts: WalkOpts,
}

/// One record's bytes and where it sits in the input.
pub(crate) struct RecordRef<'a> {
    pub bytes: &'a [u8],
    pub offset: u64,
    pub index: u64,
}

struct Cx<'a> {
    s: &'a str,
    rec: &'a [u8],
    base: u64,
    record: u64,
    trie: Option<&'a TypeTrie>,
    root: usize,
    opts: WalkOpts,
}

impl Walker {
    pub fn new(opts: WalkOpts) -> Self {
        Walker { trie: TypeTrie::default(), finder: memmem::Finder::new(b"\"$types\"").into_owned(), opts }
    }

    /// Walks one record into `root` (and `key` for out-of-line `[key, value]` rows).
    pub fn record(&mut self, r: &RecordRef<'_>, root: &mut Node, key: Option<&mut Node>) -> Result<(), RecErr> {
        let s = std::str::from_utf8(r.bytes).map_err(|e| invalid(e.valid_up_to(), "invalid UTF-8"))?;
        let rec = r.bytes;
        let start = json::skip_ws(rec, 0);
        if start >= rec.len() {
            return Err(invalid(start, "empty record"));
        }
        let form = typeson::analyze_root(rec, start, &mut self.trie, &self.finder)?;
        let (vstart, tagged, skip_types) = match form {
            RootForm::Plain => (start, false, false),
            RootForm::Typed => (start, true, true),
            RootForm::Wrapped { value } => (value, true, false),
            RootForm::Escaped { value } => (value, false, false),
        };
        let mut cx = Cx {
            s,
            rec,
            base: r.offset,
            record: r.index,
            trie: tagged.then_some(&self.trie),
            root: vstart,
            opts: self.opts,
        };
        let t = tagged.then_some(ROOT);
        let end = match key {
            None => cx.value(vstart, root, t, 0, skip_types)?,
            Some(k) => cx.tuple(vstart, k, root, t)?,
        };
        if matches!(form, RootForm::Plain | RootForm::Typed) {
            let after = json::skip_ws(rec, end);
            if after != rec.len() {
                return Err(invalid(after, "unexpected data after the record"));
            }
        }
        // An unknown tag is looked for in `$types`, not met on the walk: the walk does not
        // enter values kept as JSON text, so whether it met the tag (and whether the error
        // or the record's invalidity came first) depended on the records before this one.
        if tagged && !self.opts.unknown_as_json {
            if let Some((at, name)) = first_unknown_tag(rec, vstart, &self.trie) {
                return Err(RecErr::UnknownTag { at, name });
            }
        }
        Ok(())
    }
}

/// The first value (by position) of the record whose `$types` entry is a single tag
/// idbsync does not know (a chain of several is kept as JSON text, known or not).
fn first_unknown_tag(rec: &[u8], root: usize, trie: &TypeTrie) -> Option<(usize, String)> {
    let mut first: Option<(usize, String)> = None;
    trie.for_each_below(ROOT, &mut |path, chain| {
        let [TagRef::Unknown(name)] = chain else { return };
        if let Some((at, _)) = typeson::locate(rec, root, Some(trie), path) {
            if first.as_ref().is_none_or(|f| at < f.0) {
                first = Some((at, name.clone()));
            }
        }
    });
    first
}

impl<'a> Cx<'a> {
    #[inline]
    fn pos(&self, at: usize) -> Pos {
        Pos { offset: self.base + at as u64, record: self.record }
    }

    fn child(&self, t: Option<u32>, key: &str) -> Option<u32> {
        let trie = self.trie?;
        t.and_then(|t| trie.child(t, key))
    }

    fn child_index(&self, t: Option<u32>, i: usize) -> Option<u32> {
        let trie = self.trie?;
        t.and_then(|t| trie.child_index(t, i))
    }

    /// `[key, value]` of an out-of-line row.
    #[inline(never)]
    fn tuple(&mut self, at: usize, key: &mut Node, value: &mut Node, t: Option<u32>) -> Result<usize, RecErr> {
        let rec = self.rec;
        if rec.get(at) != Some(&b'[') {
            return Err(invalid(at, "an out-of-line row must be a [key, value] pair"));
        }
        let p = json::skip_ws(rec, at + 1);
        let kt = self.child_index(t, 0);
        let p = self.value(p, key, kt, 1, false)?;
        let p = json::skip_ws(rec, p);
        if rec.get(p) != Some(&b',') {
            return Err(invalid(p, "an out-of-line row must be a [key, value] pair"));
        }
        let p = json::skip_ws(rec, p + 1);
        let vt = self.child_index(t, 1);
        let p = self.value(p, value, vt, 1, false)?;
        let p = json::skip_ws(rec, p);
        if rec.get(p) != Some(&b']') {
            return Err(invalid(p, "an out-of-line row must be a [key, value] pair"));
        }
        Ok(p + 1)
    }

    /// The end of the string at `at`, its body checked as strictly as a JSON-text
    /// column's values are (escapes decode, no raw control character): whether a record
    /// is valid must not depend on whether the node it meets is walked or validated.
    /// Also whether the string holds a lone UTF-16 surrogate.
    #[inline]
    fn string_end(&self, at: usize) -> Result<(usize, bool), RecErr> {
        let (end, escaped) = json::skip_string(self.rec, at + 1)?;
        let lone = json::check_string_body(&self.rec[at + 1..end - 1], escaped).map_err(|m| invalid(at, m))?;
        Ok((end, lone))
    }

    /// Observes the string value at `at`, ending at `end`: a lone surrogate makes the
    /// node JSON text (text cannot hold it), ISO-8601 is tracked on request.
    #[inline]
    fn string_leaf(&self, at: usize, end: usize, lone: bool, node: &mut Node) {
        let p = self.pos(at);
        if lone {
            node.leaf(Leaf::Json, None, class::LONE_SURROGATE, p);
        } else if self.opts.detect_timestamps {
            let iso = is_iso8601(&self.rec[at + 1..end - 1]);
            node.leaf(Leaf::Str { iso }, None, if iso { class::STR } else { class::NON_ISO }, p);
        } else {
            node.leaf(Leaf::Str { iso: false }, None, class::STR, p);
        }
    }

    /// Strings, numbers and literals without the cost of a recursive call; `None`
    /// for containers (and anything else), which go through [`Cx::value`].
    #[inline(always)]
    fn scalar(&mut self, at: usize, node: &mut Node) -> Option<Result<usize, RecErr>> {
        let rec = self.rec;
        match rec.get(at)? {
            b'"' => Some(self.string_end(at).map(|(end, lone)| {
                self.string_leaf(at, end, lone, node);
                end
            })),
            b'-' | b'0'..=b'9' => Some(match json::scan_number(rec, at) {
                Ok((end, c)) => {
                    let p = self.pos(at);
                    match c {
                        NumClass::Int => node.leaf(Leaf::Int, None, class::INT, p),
                        NumClass::Float => node.leaf(Leaf::Float, None, class::FLOAT, p),
                    }
                    Ok(end)
                }
                Err(e) => Err(e.into()),
            }),
            _ => None,
        }
    }

    fn value(
        &mut self,
        at: usize,
        node: &mut Node,
        t: Option<u32>,
        depth: usize,
        skip_types: bool,
    ) -> Result<usize, RecErr> {
        if depth > MAX_DEPTH {
            return Err(ScanError::TooDeep(at).into());
        }
        if depth > MAX_NESTING {
            // Too deep for nested columns: the container is kept whole as JSON text
            // (checked as the decoder will check it, so an invalid one is rejected here too).
            let c = match self.rec.get(at) {
                Some(b'{') => Some(class::OBJECT),
                Some(b'[') => Some(class::ARRAY),
                _ => None,
            };
            if let Some(c) = c {
                let end = json::validate_nested(self.rec, at, depth)?;
                node.leaf(Leaf::Json, None, c, self.pos(at));
                return Ok(end);
            }
        }
        if let (Some(trie), Some(tn)) = (self.trie, t) {
            if !trie.chain(tn).is_empty() {
                return self.tagged(at, node, tn, depth);
            }
        }
        let rec = self.rec;
        match rec.get(at) {
            Some(b'{') => {
                let p = self.pos(at);
                match node.enter_object(None, p) {
                    // Already JSON text: checked, not walked (its validity must not depend
                    // on what the records before it made of this node).
                    ObjTarget::Skip => Ok(json::validate_nested(rec, at, depth)?),
                    ObjTarget::Struct(s) => self.members(at, Sink::Struct(s), t, depth, skip_types),
                    ObjTarget::Map(v) => self.members(at, Sink::Map(v), t, depth, skip_types),
                }
            }
            Some(b'[') => {
                let p = self.pos(at);
                match node.enter_list(None, p) {
                    Some(elem) => self.elements(at, elem, t, depth),
                    None => Ok(json::validate_nested(rec, at, depth)?),
                }
            }
            Some(b'"') => {
                let (end, lone) = self.string_end(at)?;
                self.string_leaf(at, end, lone, node);
                Ok(end)
            }
            Some(b'-' | b'0'..=b'9') => {
                let (end, c) = json::scan_number(rec, at)?;
                let p = self.pos(at);
                match c {
                    NumClass::Int => node.leaf(Leaf::Int, None, class::INT, p),
                    NumClass::Float => node.leaf(Leaf::Float, None, class::FLOAT, p),
                }
                Ok(end)
            }
            Some(b't') => {
                let end = json::expect_literal(rec, at, b"true")?;
                node.leaf(Leaf::Bool, None, class::BOOL, self.pos(at));
                Ok(end)
            }
            Some(b'f') => {
                let end = json::expect_literal(rec, at, b"false")?;
                node.leaf(Leaf::Bool, None, class::BOOL, self.pos(at));
                Ok(end)
            }
            Some(b'n') => {
                let end = json::expect_literal(rec, at, b"null")?;
                node.no_value(class::NULL, self.pos(at));
                Ok(end)
            }
            Some(_) => Err(invalid(at, "unexpected character")),
            None => Err(invalid(at, "unexpected end of record")),
        }
    }

    fn members(
        &mut self,
        at: usize,
        mut sink: Sink<'_>,
        t: Option<u32>,
        depth: usize,
        skip_types: bool,
    ) -> Result<usize, RecErr> {
        let rec = self.rec;
        let src: &'a str = self.s;
        let mut p = json::skip_ws(rec, at + 1);
        if rec.get(p) == Some(&b'}') {
            return Ok(p + 1);
        }
        let mut hint = 0usize;
        loop {
            if rec.get(p) != Some(&b'"') {
                return Err(invalid(p, "object key expected"));
            }
            // Fast path: the key the previous row had here, written verbatim (never the
            // typeson `$types` member of a typed record, even where the store has a field
            // of that name: round-trip finding N18).
            if let Sink::Struct(s) = &mut sink {
                if let Some(len) = s
                    .expected_key(&rec[p + 1..], hint)
                    .filter(|&len| !(skip_types && &rec[p + 1..p + 1 + len] == b"$types"))
                {
                    let mut q = p + 2 + len;
                    q = json::skip_ws(rec, q);
                    if rec.get(q) != Some(&b':') {
                        return Err(invalid(q, "':' expected after object key"));
                    }
                    q = json::skip_ws(rec, q + 1);
                    let idx = hint;
                    let ct = if t.is_some() { self.child(t, &src[p + 1..p + 1 + len]) } else { None };
                    let child = s.field_at(idx, &mut hint);
                    p = match if ct.is_none() { self.scalar(q, child) } else { None } {
                        Some(r) => r?,
                        None => self.value(q, child, ct, depth + 1, false)?,
                    };
                    p = json::skip_ws(rec, p);
                    match rec.get(p) {
                        Some(b',') => {
                            p = json::skip_ws(rec, p + 1);
                            continue;
                        }
                        Some(b'}') => return Ok(p + 1),
                        _ => return Err(invalid(p, "',' or '}' expected in object")),
                    }
                }
            }
            let (kend, escaped) = json::skip_string(rec, p + 1)?;
            let owned;
            let key: &str = if escaped {
                let mut k = String::new();
                json::unescape_into(&rec[p + 1..kend - 1], &mut k).map_err(|m| invalid(p, m))?;
                owned = k;
                &owned
            } else {
                &src[p + 1..kend - 1]
            };
            // (A key the fast path above matched was checked when it was first seen.)
            json::check_string_body(&rec[p + 1..kend - 1], false).map_err(|m| invalid(p, m))?;
            p = json::skip_ws(rec, kend);
            if rec.get(p) != Some(&b':') {
                return Err(invalid(p, "':' expected after object key"));
            }
            p = json::skip_ws(rec, p + 1);
            if skip_types && key == "$types" {
                p = json::validate_nested(rec, p, depth + 1)?;
            } else {
                let ct = self.child(t, key);
                let child: &mut Node = match &mut sink {
                    Sink::Struct(s) => s.field(key, &mut hint),
                    Sink::Map(v) => v,
                };
                p = self.value(p, child, ct, depth + 1, false)?;
            }
            p = json::skip_ws(rec, p);
            match rec.get(p) {
                Some(b',') => p = json::skip_ws(rec, p + 1),
                Some(b'}') => return Ok(p + 1),
                _ => return Err(invalid(p, "',' or '}' expected in object")),
            }
        }
    }

    fn elements(&mut self, at: usize, elem: &mut Node, t: Option<u32>, depth: usize) -> Result<usize, RecErr> {
        let rec = self.rec;
        let mut p = json::skip_ws(rec, at + 1);
        if rec.get(p) == Some(&b']') {
            return Ok(p + 1);
        }
        let mut i = 0usize;
        loop {
            let ct = self.child_index(t, i);
            p = match if ct.is_none() { self.scalar(p, elem) } else { None } {
                Some(r) => r?,
                None => self.value(p, elem, ct, depth + 1, false)?,
            };
            p = json::skip_ws(rec, p);
            match rec.get(p) {
                Some(b',') => p = json::skip_ws(rec, p + 1),
                Some(b']') => return Ok(p + 1),
                _ => return Err(invalid(p, "',' or ']' expected in array")),
            }
            i += 1;
        }
    }

    #[inline(never)]
    fn json_value(&mut self, at: usize, node: &mut Node, c: u8, depth: usize) -> Result<usize, RecErr> {
        let end = json::validate_nested(self.rec, at, depth)?;
        node.leaf(Leaf::Json, None, c, self.pos(at));
        Ok(end)
    }

    #[inline(never)]
    fn tagged(&mut self, at: usize, node: &mut Node, tn: u32, depth: usize) -> Result<usize, RecErr> {
        let trie = self.trie.expect("tagged walk without $types");
        let chain = trie.chain(tn);
        if chain.len() != 1 {
            // A chain of replacements: kept whole as JSON (with its encapsulation).
            return self.json_value(at, node, class::OBJECT, depth);
        }
        let tag = match &chain[0] {
            TagRef::Known(t) => *t,
            TagRef::Ref => return self.reference(at, node, depth),
            // Kept as JSON text; without `unknown_as_json`, [`Walker::record`] stops
            // inference once the record is known to be valid.
            TagRef::Unknown(_) => return self.json_value(at, node, class::OBJECT, depth),
        };
        let rec = self.rec;
        let b = rec.get(at).copied().unwrap_or(0);
        let p = self.pos(at);
        let c = class::TAG_BASE + tag.id();
        // Values a tag makes opaque are still checked as strictly as JSON-text columns.
        let skip = |at| json::validate_nested(rec, at, depth).map_err(RecErr::from);
        let expect = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(invalid(at, format!("typeson '{}' value must be {what}", tag.name())))
            }
        };
        match tag {
            Tag::Undef => {
                node.no_value(class::UNDEFINED, p);
                skip(at)
            }
            Tag::SparseUndefined => {
                node.no_value(class::HOLE, p);
                skip(at)
            }
            Tag::NaN | Tag::Infinity | Tag::NegativeInfinity | Tag::NegativeZero => {
                expect(b == b'"' || b == b'-' || b.is_ascii_digit(), "a number or its name")?;
                node.leaf(Leaf::Float, None, c, p);
                skip(at)
            }
            Tag::Date => {
                expect(
                    b == b'-' || b.is_ascii_digit() || rec[at..].starts_with(b"\"NaN\""),
                    "epoch milliseconds or \"NaN\"",
                )?;
                if b == b'"' {
                    // An invalid Date: null in the column, recorded as its own kind.
                    node.mark(class::INVALID_DATE, p);
                }
                node.leaf(Leaf::Timestamp, Some(tag), c, p);
                skip(at)
            }
            Tag::ArrayBuffer => {
                expect(b == b'"' || b == b'{', "base64 text")?;
                node.leaf(Leaf::Binary, Some(tag), c, p);
                skip(at)
            }
            Tag::DataView => {
                expect(b == b'{', "an object")?;
                node.leaf(Leaf::Binary, Some(tag), c, p);
                skip(at)
            }
            Tag::Blob2 | Tag::Blob => {
                expect(b == b'{', "an object {type, data}")?;
                node.leaf(Leaf::Blob, Some(tag), c, p);
                skip(at)
            }
            Tag::File => {
                expect(b == b'{', "an object")?;
                node.leaf(Leaf::File, Some(tag), c, p);
                skip(at)
            }
            Tag::RegExp => {
                expect(b == b'{', "an object {source, flags}")?;
                node.leaf(Leaf::RegExp, Some(tag), c, p);
                skip(at)
            }
            Tag::TypedArray(e, _) => {
                expect(b == b'{', "an object")?;
                node.leaf(Leaf::Typed(e), Some(tag), c, p);
                skip(at)
            }
            Tag::BigInt | Tag::BigIntObject => {
                expect(b == b'"', "decimal text")?;
                let (end, _) = self.string_end(at)?;
                let w = bigint_width(&rec[at + 1..end - 1])
                    .ok_or_else(|| invalid(at, "typeson 'bigint' value is not an integer"))?;
                let wc = match w {
                    BigWidth::I64 => c,
                    BigWidth::Decimal38 => class::BIG_DECIMAL,
                    BigWidth::Text => class::BIG_TEXT,
                };
                node.mark(c, p);
                node.leaf(Leaf::BigInt(w), Some(tag), wc, p);
                Ok(end)
            }
            Tag::StringObject => {
                expect(b == b'"', "a string")?;
                // A boxed string with a lone surrogate is kept exactly as JSON text
                // (with its tag), as a plain one is (round-trip finding N19).
                let (end, lone) = self.string_end(at)?;
                if lone {
                    node.leaf(Leaf::Json, None, class::LONE_SURROGATE_BOXED, p);
                } else {
                    node.leaf(Leaf::Str { iso: false }, Some(tag), c, p);
                }
                Ok(end)
            }
            Tag::BooleanObject => {
                expect(b == b't' || b == b'f', "a boolean")?;
                node.leaf(Leaf::Bool, Some(tag), c, p);
                skip(at)
            }
            Tag::NumberObject if b == b'n' => {
                // `new Number(NaN)`: typeson writes null; kept exactly as JSON text
                // (round-trip finding N9).
                let end = json::expect_literal(rec, at, b"null")?;
                node.leaf(Leaf::Json, None, class::NAN_NUMBER_OBJECT, p);
                Ok(end)
            }
            Tag::NumberObject => {
                expect(b == b'-' || b.is_ascii_digit(), "a number")?;
                let (end, k) = json::scan_number(rec, at)?;
                let ty = if k == NumClass::Int { Leaf::Int } else { Leaf::Float };
                node.leaf(ty, Some(tag), c, p);
                Ok(end)
            }
            Tag::Set => {
                expect(b == b'[', "an array")?;
                match node.enter_list(Some(tag), p) {
                    Some(elem) => self.elements(at, elem, Some(tn), depth),
                    None => Ok(json::validate_nested(rec, at, depth)?),
                }
            }
            Tag::Map => {
                expect(b == b'[', "an array of [key, value] pairs")?;
                match node.enter_map(p) {
                    Some((k, v)) => self.map_entries(at, k, v, tn, depth),
                    None => Ok(json::validate_nested(rec, at, depth)?),
                }
            }
            Tag::ArrayNonindexKeys => match b {
                b'[' => match node.enter_list(None, p) {
                    Some(elem) => self.elements(at, elem, Some(tn), depth),
                    None => Ok(json::validate_nested(rec, at, depth)?),
                },
                _ => self.json_value(at, node, c, depth),
            },
        }
    }

    #[inline(never)]
    fn map_entries(&mut self, at: usize, k: &mut Node, v: &mut Node, tn: u32, depth: usize) -> Result<usize, RecErr> {
        let rec = self.rec;
        let mut p = json::skip_ws(rec, at + 1);
        if rec.get(p) == Some(&b']') {
            return Ok(p + 1);
        }
        let mut i = 0usize;
        loop {
            if rec.get(p) != Some(&b'[') {
                return Err(invalid(p, "a Map entry must be a [key, value] pair"));
            }
            let et = self.child_index(Some(tn), i);
            let q = json::skip_ws(rec, p + 1);
            let q = self.value(q, k, self.child_index(et, 0), depth + 2, false)?;
            let q = json::skip_ws(rec, q);
            if rec.get(q) != Some(&b',') {
                return Err(invalid(q, "a Map entry must be a [key, value] pair"));
            }
            let q = json::skip_ws(rec, q + 1);
            let q = self.value(q, v, self.child_index(et, 1), depth + 2, false)?;
            let q = json::skip_ws(rec, q);
            if rec.get(q) != Some(&b']') {
                return Err(invalid(q, "a Map entry must be a [key, value] pair"));
            }
            p = json::skip_ws(rec, q + 1);
            match rec.get(p) {
                Some(b',') => p = json::skip_ws(rec, p + 1),
                Some(b']') => return Ok(p + 1),
                _ => return Err(invalid(p, "',' or ']' expected in Map entries")),
            }
            i += 1;
        }
    }

    /// A `#keypath` reference: the value has the type of the value it points at.
    #[inline(never)]
    fn reference(&mut self, at: usize, node: &mut Node, depth: usize) -> Result<usize, RecErr> {
        let rec = self.rec;
        if rec.get(at) != Some(&b'"') {
            return Err(invalid(at, "typeson '#' reference must be a string"));
        }
        let (end, _) = self.string_end(at)?;
        let text = &self.s[at + 1..end - 1];
        let path = text.strip_prefix('#').ok_or_else(|| invalid(at, "typeson '#' reference must start with '#'"))?;
        let (target, tt) =
            self.locate(path).ok_or_else(|| invalid(at, format!("typeson reference to missing keypath '{path}'")))?;
        let tend = json::skip_value(rec, target)?;
        if target <= at && at < tend {
            // A cycle (a value that contains itself) has no columnar form.
            node.leaf(Leaf::Json, None, class::OBJECT, self.pos(at));
            return Ok(end);
        }
        self.value(target, node, tt, depth + 1, false)?;
        Ok(end)
    }
    fn locate(&self, keypath: &str) -> Option<(usize, Option<u32>)> {
        typeson::locate(self.rec, self.root, self.trie, keypath)
    }
}

enum Sink<'a> {
    Struct(&'a mut crate::lattice::Struct),
    Map(&'a mut Node),
}

/// The narrowest column a BigInt's decimal text fits.
pub(crate) fn bigint_width(digits: &[u8]) -> Option<BigWidth> {
    let (neg, d) = match digits.first() {
        Some(b'-') => (true, &digits[1..]),
        _ => (false, digits),
    };
    if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let d = {
        let nz = d.iter().position(|&c| c != b'0').unwrap_or(d.len() - 1);
        &d[nz..]
    };
    Some(if d.len() < 19 {
        BigWidth::I64
    } else if d.len() == 19 {
        let limit: &[u8] = if neg { b"9223372036854775808" } else { b"9223372036854775807" };
        if d <= limit {
            BigWidth::I64
        } else {
            BigWidth::Decimal38
        }
    } else if d.len() <= 38 {
        BigWidth::Decimal38
    } else {
        BigWidth::Text
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` (what `Date.prototype.toJSON` writes, and
/// the common variants).
pub(crate) fn is_iso8601(s: &[u8]) -> bool {
    let d = |i: usize| s.get(i).is_some_and(u8::is_ascii_digit);
    let at = |i: usize, c: u8| s.get(i) == Some(&c);
    if !(s.len() >= 19 && (0..4).all(d) && at(4, b'-') && d(5) && d(6) && at(7, b'-') && d(8) && d(9)) {
        return false;
    }
    if !((at(10, b'T') || at(10, b' '))
        && d(11)
        && d(12)
        && at(13, b':')
        && d(14)
        && d(15)
        && at(16, b':')
        && d(17)
        && d(18))
    {
        return false;
    }
    let mut i = 19;
    if at(i, b'.') {
        i += 1;
        let f = i;
        while d(i) {
            i += 1;
        }
        if i == f {
            return false;
        }
    }
    match s.get(i) {
        None => true,
        Some(b'Z') => i + 1 == s.len(),
        Some(b'+' | b'-') => s.len() == i + 6 && d(i + 1) && d(i + 2) && at(i + 3, b':') && d(i + 4) && d(i + 5),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigint_widths() {
        assert_eq!(bigint_width(b"123"), Some(BigWidth::I64));
        assert_eq!(bigint_width(b"9223372036854775807"), Some(BigWidth::I64));
        assert_eq!(bigint_width(b"-9223372036854775808"), Some(BigWidth::I64));
        assert_eq!(bigint_width(b"9223372036854775808"), Some(BigWidth::Decimal38));
        assert_eq!(bigint_width(&[b'9'; 38]), Some(BigWidth::Decimal38));
        assert_eq!(bigint_width(&[b'9'; 39]), Some(BigWidth::Text));
        assert_eq!(bigint_width(b"12a"), None);
        assert_eq!(bigint_width(b""), None);
    }

    /// Regression (found by the `infer` fuzz target): once a field had become JSON text,
    /// its later values were only skipped, so `{"a": tru}` counted as a valid record or
    /// not depending on which records had been merged into the same lattice before it
    /// (that is, on where the input's blocks ended).
    #[test]
    fn a_records_validity_does_not_depend_on_the_records_before_it() {
        use crate::{InferOptions, Inferrer};
        let input = b"1\n{\"a\":1}\n{\"a\":tru}\n[1,]\n{\"a\":[1,{\"b\":nul}]}\n";
        for step in [input.len(), 1] {
            let mut inf = Inferrer::new(InferOptions::new().with_threads(1)).unwrap();
            for c in input.chunks(step) {
                inf.push(c).unwrap();
            }
            let r = inf.finish().unwrap();
            let st = &r.stores[0];
            let bad: Vec<(u64, &str)> = st.issues.iter().map(|i| (i.record, i.reason.as_str())).collect();
            assert_eq!((st.rows, st.invalid), (2, 3), "step {step}: {bad:?}");
            assert_eq!(bad.iter().map(|b| b.0).collect::<Vec<_>>(), vec![2, 3, 4], "step {step}");
        }
    }

    /// Regression (bad-input corpus): a record nested 200 levels deep became a column
    /// nested 200 levels deep, and writing it overflowed the Parquet writer's stack.
    /// Containers below 16 levels are JSON text now.
    #[test]
    fn containers_deeper_than_the_nesting_limit_become_json_text() {
        use crate::json::MAX_NESTING;
        use crate::{InferOptions, Inferrer, EXTENSION_NAME, JSON_EXTENSION};
        use arrow_schema::DataType;
        let d = 300;
        let input = format!("{{\"d\":{}1{}}}\n", "{\"a\":".repeat(d), "}".repeat(d));
        let mut inf = Inferrer::new(InferOptions::new().with_threads(1)).unwrap();
        inf.push(input.as_bytes()).unwrap();
        let r = inf.finish().unwrap();
        assert_eq!((r.stores[0].rows, r.stores[0].invalid), (1, 0));
        let mut f = r.stores[0].schema.field_with_name("d").unwrap().clone();
        let mut levels = 0;
        while let DataType::Struct(fields) = f.data_type() {
            levels += 1;
            f = fields[0].as_ref().clone();
        }
        // `d` is at depth 1: structs down to MAX_NESTING, then the rest as JSON text.
        assert_eq!(levels, MAX_NESTING);
        assert_eq!(
            (f.data_type(), f.metadata().get(EXTENSION_NAME).map(String::as_str)),
            (&DataType::Utf8, Some(JSON_EXTENSION))
        );
    }

    #[test]
    fn iso_detection() {
        assert!(is_iso8601(b"2024-03-01T12:34:56.789Z"));
        assert!(is_iso8601(b"2024-03-01T12:34:56+01:00"));
        assert!(is_iso8601(b"2024-03-01 12:34:56"));
        assert!(!is_iso8601(b"2024-03-01"));
        assert!(!is_iso8601(b"hello world, not a date"));
    }
}

/// The field path (`a.b.3.c`) of the value that contains byte `target` of a record,
/// as far as the record's structure can be followed. Used for error messages only.
pub fn path_at(rec: &[u8], target: usize) -> String {
    let mut path = String::new();
    let mut at = json::skip_ws(rec, 0);
    let mut key = String::new();
    'outer: loop {
        match rec.get(at) {
            Some(b'{') => {
                let mut p = json::skip_ws(rec, at + 1);
                while rec.get(p) == Some(&b'"') {
                    let Ok(kend) = typeson::read_string(rec, p, &mut key) else { break };
                    let v = json::skip_ws(rec, json::skip_ws(rec, kend) + 1);
                    let end = end_before(rec, v, target);
                    if v <= target && target < end {
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(&key);
                        at = v;
                        continue 'outer;
                    }
                    p = json::skip_ws(rec, end);
                    if rec.get(p) != Some(&b',') {
                        break;
                    }
                    p = json::skip_ws(rec, p + 1);
                }
                return path;
            }
            Some(b'[') => {
                let mut p = json::skip_ws(rec, at + 1);
                let mut i = 0usize;
                while p < rec.len() && rec[p] != b']' {
                    let end = end_before(rec, p, target);
                    if p <= target && target < end {
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(&i.to_string());
                        at = p;
                        continue 'outer;
                    }
                    p = json::skip_ws(rec, end);
                    if rec.get(p) != Some(&b',') {
                        break;
                    }
                    p = json::skip_ws(rec, p + 1);
                    i += 1;
                }
                return path;
            }
            _ => return path,
        }
    }
}

/// The end of the value at `v` if it ends at or before `target`; otherwise a position
/// past `target` (the value holds it, or is broken before it). Reads no further than
/// `target`, where reading each level's value to its end (for a broken value: to the
/// end of the record) made reporting a deeply nested broken record slow.
fn end_before(rec: &[u8], v: usize, target: usize) -> usize {
    let lim = target.saturating_add(1).min(rec.len());
    json::skip_value(&rec[..lim], v).unwrap_or(rec.len())
}

#[cfg(test)]
mod path_tests {
    use super::path_at;

    #[test]
    fn finds_the_field_of_a_byte() {
        let rec = br#"{"a":1,"b":{"c":[1,2,{"d":tru}]}}"#;
        let at = rec.windows(3).position(|w| w == b"tru").unwrap();
        assert_eq!(path_at(rec, at), "b.c.2.d");
        assert_eq!(path_at(rec, 5), "a");
        assert_eq!(path_at(rec, 0), "");
    }

    /// `path_at` as it was, reading every value to its end: the reference.
    fn path_at_full_scan(rec: &[u8], target: usize) -> String {
        use crate::json;
        let mut path = String::new();
        let mut at = json::skip_ws(rec, 0);
        let mut key = String::new();
        'outer: loop {
            let (object, mut p) = match rec.get(at) {
                Some(b'{') => (true, json::skip_ws(rec, at + 1)),
                Some(b'[') => (false, json::skip_ws(rec, at + 1)),
                _ => return path,
            };
            let mut i = 0usize;
            loop {
                let v = if object {
                    if rec.get(p) != Some(&b'"') {
                        return path;
                    }
                    let Ok(kend) = crate::typeson::read_string(rec, p, &mut key) else { return path };
                    json::skip_ws(rec, json::skip_ws(rec, kend) + 1)
                } else {
                    if p >= rec.len() || rec[p] == b']' {
                        return path;
                    }
                    p
                };
                let end = json::skip_value(rec, v).unwrap_or(rec.len());
                if v <= target && target < end {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(&if object { key.clone() } else { i.to_string() });
                    at = v;
                    continue 'outer;
                }
                p = json::skip_ws(rec, end);
                if rec.get(p) != Some(&b',') {
                    return path;
                }
                p = json::skip_ws(rec, p + 1);
                i += 1;
            }
        }
    }

    /// Reading no further than the byte gives the same path as reading every value to
    /// its end, for every byte of well-formed, truncated and corrupted records.
    #[test]
    fn reading_up_to_the_byte_finds_the_path_reading_to_the_end_finds() {
        let deep = format!("{}1{}", "{\"a\":[".repeat(12), "]}".repeat(12));
        let good: [&[u8]; 5] = [
            br#"{"a":1,"b":{"c":[1,2,{"d":true}]},"e":"x\"y","f":[[],{}, null]}"#,
            br#"[{"k":[1,{"l":"m"}]},"s",-1.5e3,[[["z"]]]]"#,
            br#"{"$types":{"a":"date"},"a":1,"b":{"c d":{"e":[false]}}}"#,
            br#"{ "sp" : [ 1 , 2 ] , "q" : { } }"#,
            deep.as_bytes(),
        ];
        let mut records: Vec<Vec<u8>> = Vec::new();
        for g in good {
            for cut in 0..=g.len() {
                records.push(g[..cut].to_vec());
            }
            for (i, bad) in [b'x', b'}', b']', b'"', b',', b':', b'{'].iter().cycle().take(g.len()).enumerate() {
                let mut r = g.to_vec();
                r[i] = *bad;
                records.push(r);
            }
        }
        for r in &records {
            for target in 0..=r.len() + 1 {
                assert_eq!(
                    path_at(r, target),
                    path_at_full_scan(r, target),
                    "byte {target} of {:?}",
                    String::from_utf8_lossy(r)
                );
            }
        }
    }
}
