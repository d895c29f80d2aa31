//! typeson's `$types`: where in a row the tagged values are, and which tags they
//! carry. A row's `$types` becomes a small trie that the record walker follows
//! alongside the value, so untagged subtrees cost nothing extra.

use crate::json::{self, ScanError};
use crate::tag::Tag;
use memchr::memmem;

/// One entry of a tag chain: a known tag, or the name of one idbsync does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagRef {
    /// A tag idbsync decodes.
    Known(Tag),
    /// `#`: the value is `"#keypath"`, a second reference to the value at keypath.
    Ref,
    /// A name idbsync does not know.
    Unknown(String),
}

#[derive(Debug, Clone)]
struct TNode {
    seg: (u32, u32),
    chain: (u32, u32),
    first_child: u32,
    next: u32,
}

/// The `$types` of one row as a trie over keypath segments. Node 0 is the root
/// (keypath `""`). Reused across rows: `clear` keeps the allocations.
#[derive(Debug, Default)]
pub struct TypeTrie {
    nodes: Vec<TNode>,
    segs: String,
    chains: Vec<TagRef>,
    raw: Vec<u8>,
    scratch: String,
}

/// The trie node of the row's root value (keypath `""`).
pub const ROOT: u32 = 0;

impl TagRef {
    /// The name as written in `$types`.
    pub fn name(&self) -> &str {
        match self {
            TagRef::Known(t) => t.name(),
            TagRef::Ref => "#",
            TagRef::Unknown(n) => n,
        }
    }
}

impl TypeTrie {
    fn clear(&mut self) {
        self.nodes.clear();
        self.segs.clear();
        self.chains.clear();
        self.nodes.push(TNode { seg: (0, 0), chain: (0, 0), first_child: 0, next: 0 });
    }

    /// Calls `f(relative keypath, chain)` for every tagged node at or below `node`,
    /// with keypaths escaped as typeson writes them (`""` for `node` itself).
    pub fn for_each_below(&self, node: u32, f: &mut impl FnMut(&str, &[TagRef])) {
        let mut path = String::new();
        self.walk_below(node, &mut path, f);
    }

    fn walk_below(&self, node: u32, path: &mut String, f: &mut impl FnMut(&str, &[TagRef])) {
        let chain = self.chain(node);
        if !chain.is_empty() {
            f(path, chain);
        }
        let mut c = self.nodes[node as usize].first_child;
        while c != 0 {
            let n = &self.nodes[c as usize];
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&escape_component(&self.segs[n.seg.0 as usize..n.seg.1 as usize]));
            self.walk_below(c, path, f);
            path.truncate(len);
            c = n.next;
        }
    }

    /// The tag chain at `node` (empty when the node only leads to tagged children).
    pub fn chain(&self, node: u32) -> &[TagRef] {
        let (a, b) = self.nodes[node as usize].chain;
        &self.chains[a as usize..b as usize]
    }

    /// Whether any tagged keypath continues below `node`.
    pub fn has_children(&self, node: u32) -> bool {
        self.nodes[node as usize].first_child != 0
    }

    /// The child of `node` for the (unescaped) key `seg`.
    pub fn child(&self, node: u32, seg: &str) -> Option<u32> {
        let mut c = self.nodes[node as usize].first_child;
        while c != 0 {
            let n = &self.nodes[c as usize];
            if json::eq_short(&self.segs.as_bytes()[n.seg.0 as usize..n.seg.1 as usize], seg.as_bytes()) {
                return Some(c);
            }
            c = n.next;
        }
        None
    }

    /// The child of `node` for array index `i`.
    pub fn child_index(&self, node: u32, i: usize) -> Option<u32> {
        if !self.has_children(node) {
            return None;
        }
        let mut buf = [0u8; 20];
        let mut k = buf.len();
        let mut v = i;
        loop {
            k -= 1;
            buf[k] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.child(node, std::str::from_utf8(&buf[k..]).unwrap_or(""))
    }

    fn insert(&mut self, keypath: &str, chain: &[TagRef]) {
        let mut node = ROOT;
        if !keypath.is_empty() {
            for raw in keypath.split('.') {
                let seg = unescape_component(raw);
                node = match self.child(node, &seg) {
                    Some(c) => c,
                    None => {
                        let a = self.segs.len() as u32;
                        self.segs.push_str(&seg);
                        let id = self.nodes.len() as u32;
                        let parent = &self.nodes[node as usize];
                        let next = parent.first_child;
                        self.nodes.push(TNode {
                            seg: (a, self.segs.len() as u32),
                            chain: (0, 0),
                            first_child: 0,
                            next,
                        });
                        self.nodes[node as usize].first_child = id;
                        id
                    }
                };
            }
        }
        let a = self.chains.len() as u32;
        self.chains.extend_from_slice(chain);
        self.nodes[node as usize].chain = (a, self.chains.len() as u32);
    }

    /// Parses a `$types` object (`{keypath: name | [names]}`) at `buf[start..end]`.
    /// Identical text as the previous row reuses the previous trie.
    pub fn parse(&mut self, buf: &[u8], start: usize, end: usize) -> Result<(), ScanError> {
        let text = &buf[start..end];
        if !self.nodes.is_empty() && self.raw == text {
            return Ok(());
        }
        self.clear();
        self.raw.clear();
        let mut pos = json::skip_ws(buf, start);
        if pos >= end || buf[pos] != b'{' {
            return Err(ScanError::Syntax(pos, "$types must be an object"));
        }
        pos = json::skip_ws(buf, pos + 1);
        if pos < end && buf[pos] == b'}' {
            self.raw.extend_from_slice(text);
            return Ok(());
        }
        let mut chain: Vec<TagRef> = Vec::with_capacity(2);
        loop {
            if pos >= end || buf[pos] != b'"' {
                return Err(ScanError::Syntax(pos, "keypath string expected in $types"));
            }
            let key = read_string(buf, pos, &mut self.scratch)?;
            let keypath = std::mem::take(&mut self.scratch);
            pos = json::skip_ws(buf, key);
            if pos >= end || buf[pos] != b':' {
                return Err(ScanError::Syntax(pos, "':' expected in $types"));
            }
            pos = json::skip_ws(buf, pos + 1);
            chain.clear();
            let mut name = String::new();
            match buf.get(pos) {
                Some(b'"') => {
                    pos = read_string(buf, pos, &mut name)?;
                    chain.push(tag_ref(&name));
                }
                Some(b'[') => {
                    pos = json::skip_ws(buf, pos + 1);
                    while pos < end && buf[pos] != b']' {
                        name.clear();
                        if buf[pos] != b'"' {
                            return Err(ScanError::Syntax(pos, "type name expected in $types"));
                        }
                        pos = json::skip_ws(buf, read_string(buf, pos, &mut name)?);
                        chain.push(tag_ref(&name));
                        if pos < end && buf[pos] == b',' {
                            pos = json::skip_ws(buf, pos + 1);
                        }
                    }
                    pos += 1;
                }
                _ => return Err(ScanError::Syntax(pos, "type name expected in $types")),
            }
            // A keypath deeper than any record can be names nothing; left out, it cannot
            // make the trie (walked recursively) deeper than a record either.
            if keypath.bytes().filter(|&b| b == b'.').count() < json::MAX_DEPTH {
                self.insert(&keypath, &chain);
            }
            self.scratch = keypath;
            pos = json::skip_ws(buf, pos);
            match buf.get(pos) {
                Some(b',') if pos < end => pos = json::skip_ws(buf, pos + 1),
                Some(b'}') => break,
                _ => return Err(ScanError::Syntax(pos, "',' or '}' expected in $types")),
            }
        }
        self.raw.extend_from_slice(text);
        Ok(())
    }
}

fn tag_ref(name: &str) -> TagRef {
    if name == "#" {
        return TagRef::Ref;
    }
    match Tag::parse(name) {
        Some(t) => TagRef::Known(t),
        None => TagRef::Unknown(name.to_owned()),
    }
}

/// Reads the JSON string at `pos` (an opening quote) into `out`; returns the end.
pub fn read_string(buf: &[u8], pos: usize, out: &mut String) -> Result<usize, ScanError> {
    let (end, escaped) = json::skip_string(buf, pos + 1)?;
    out.clear();
    let body = &buf[pos + 1..end - 1];
    if escaped {
        json::unescape_into(body, out).map_err(|m| ScanError::Syntax(pos, m))?;
    } else {
        out.push_str(std::str::from_utf8(body).map_err(|_| ScanError::Syntax(pos, "invalid UTF-8 in string"))?);
    }
    Ok(end)
}

/// Undoes typeson's keypath escaping of one component (`~1` → `.`, `~0` → `~`), as
/// the typeson inside dexie-export-import 4 does it: an empty key is an empty component
/// (`x.` is key `''` of `x`), and `''` is a key of two quotes. (Issue 14, round-trip
/// finding N7: idbsync read and wrote `''` for the empty key, as newer typeson does, and
/// stock `importInto` left a Date under an empty key unrevived.)
pub fn unescape_component(s: &str) -> String {
    s.replace("~1", ".").replace("~0", "~")
}

/// Escapes one key for a typeson keypath (the inverse of [`unescape_component`]).
pub fn escape_component(s: &str) -> String {
    s.replace('~', "~0").replace('.', "~1")
}

/// Finds the value at a typeson `keypath` (as in a `#` reference) in the record
/// `rec` whose root value starts at `root`: its offset, and its node in `trie`.
pub fn locate(rec: &[u8], root: usize, trie: Option<&TypeTrie>, keypath: &str) -> Option<(usize, Option<u32>)> {
    let mut at = root;
    let mut t = Some(ROOT);
    if keypath.is_empty() {
        return Some((at, t));
    }
    let mut key = String::new();
    for raw in keypath.split('.') {
        let seg = unescape_component(raw);
        t = match (trie, t) {
            (Some(tr), Some(n)) => tr.child(n, &seg),
            _ => None,
        };
        match rec.get(at)? {
            b'{' => {
                let mut p = json::skip_ws(rec, at + 1);
                loop {
                    if rec.get(p)? != &b'"' {
                        return None;
                    }
                    p = read_string(rec, p, &mut key).ok()?;
                    p = json::skip_ws(rec, p);
                    p = json::skip_ws(rec, p + 1);
                    if key == seg {
                        at = p;
                        break;
                    }
                    p = json::skip_ws(rec, json::skip_value(rec, p).ok()?);
                    if rec.get(p)? != &b',' {
                        return None;
                    }
                    p = json::skip_ws(rec, p + 1);
                }
            }
            b'[' => {
                let idx: usize = seg.parse().ok()?;
                let mut p = json::skip_ws(rec, at + 1);
                for _ in 0..idx {
                    p = json::skip_ws(rec, json::skip_value(rec, p).ok()?);
                    if rec.get(p)? != &b',' {
                        return None;
                    }
                    p = json::skip_ws(rec, p + 1);
                }
                at = p;
            }
            _ => return None,
        }
    }
    Some((at, t))
}

/// How a row's root is laid out with respect to typeson.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootForm {
    /// No `$types`: the row is the value.
    Plain,
    /// An object whose root-level `$types` member (to be skipped) describes it.
    Typed,
    /// `{"$": value, "$types": {"$": {...}}}`: the value is at `value`.
    Wrapped {
        /// Offset of the wrapped value.
        value: usize,
    },
    /// `{"$": value, "$types": true}`: the value has its own `$types` key.
    Escaped {
        /// Offset of the escaped value.
        value: usize,
    },
}

/// Finds how the row `rec` (a whole JSON value, starting at `start`) uses `$types`,
/// filling `trie` when it does.
pub fn analyze_root(
    rec: &[u8],
    start: usize,
    trie: &mut TypeTrie,
    finder: &memmem::Finder<'_>,
) -> Result<RootForm, ScanError> {
    if rec.get(start) != Some(&b'{') {
        return Ok(RootForm::Plain);
    }
    // The forward search is SIMD-fast and settles the common "no $types" case.
    if finder.find(&rec[start..]).is_none() {
        return Ok(RootForm::Plain);
    }
    let Some(last) = rfind_types(&rec[start..]).map(|i| i + start) else {
        return Ok(RootForm::Plain);
    };
    if let Some(form) = fast_root(rec, start, last, trie)? {
        return Ok(form);
    }
    // Walk the root object's members, remembering `$` and `$types`.
    let mut pos = json::skip_ws(rec, start + 1);
    let mut dollar: Option<usize> = None;
    let mut types: Option<(usize, usize)> = None;
    let mut key = String::new();
    if rec.get(pos) == Some(&b'}') {
        return Ok(RootForm::Plain);
    }
    loop {
        if rec.get(pos) != Some(&b'"') {
            return Err(ScanError::Syntax(pos, "object key expected"));
        }
        pos = read_string(rec, pos, &mut key)?;
        pos = json::skip_ws(rec, pos);
        if rec.get(pos) != Some(&b':') {
            return Err(ScanError::Syntax(pos, "':' expected"));
        }
        pos = json::skip_ws(rec, pos + 1);
        let vstart = pos;
        pos = json::skip_value(rec, pos)?;
        if key == "$types" {
            types = Some((vstart, pos));
        } else if key == "$" {
            dollar = Some(vstart);
        }
        pos = json::skip_ws(rec, pos);
        match rec.get(pos) {
            Some(b',') => pos = json::skip_ws(rec, pos + 1),
            Some(b'}') => break,
            _ => return Err(ScanError::Syntax(pos, "',' or '}' expected")),
        }
    }
    let Some((ts, te)) = types else {
        return Ok(RootForm::Plain);
    };
    match rec[ts] {
        b't' => match dollar {
            Some(v) => Ok(RootForm::Escaped { value: v }),
            None => Ok(RootForm::Plain),
        },
        b'{' => {
            // `{"$": {...}}` inside `$types` means the row was wrapped.
            let inner = wrapped_types(rec, ts)?;
            match (inner, dollar) {
                (Some((a, b)), Some(v)) => {
                    trie.parse(rec, a, b)?;
                    Ok(RootForm::Wrapped { value: v })
                }
                _ => {
                    trie.parse(rec, ts, te)?;
                    Ok(RootForm::Typed)
                }
            }
        }
        _ => Ok(RootForm::Plain),
    }
}

/// The last `"$types"` in `hay`: a SIMD search for `$` from the end (typeson puts
/// `$types` near the end of a row).
fn rfind_types(hay: &[u8]) -> Option<usize> {
    let mut end = hay.len();
    while let Some(d) = memchr::memrchr(b'$', &hay[..end]) {
        if d >= 1 && hay[d - 1..].starts_with(b"\"$types\"") {
            return Some(d - 1);
        }
        end = d;
    }
    None
}

/// dexie-export-import writes `$types` as the root's last member. When the last
/// `"$types"` in the row is followed by a value and the row's closing brace, it is
/// that member (a nested one would leave another closing brace), so the rest of the
/// row need not be scanned.
fn fast_root(rec: &[u8], start: usize, at: usize, trie: &mut TypeTrie) -> Result<Option<RootForm>, ScanError> {
    let mut b = at;
    while b > start && json::is_ws(rec[b - 1]) {
        b -= 1;
    }
    if b == start || !matches!(rec[b - 1], b',' | b'{') {
        return Ok(None);
    }
    let mut p = json::skip_ws(rec, at + 8);
    if rec.get(p) != Some(&b':') {
        return Ok(None);
    }
    p = json::skip_ws(rec, p + 1);
    if rec.get(p) != Some(&b'{') {
        return Ok(None);
    }
    let ts = p;
    let te = json::skip_value(rec, p)?;
    let after = json::skip_ws(rec, te);
    if rec.get(after) != Some(&b'}') || json::skip_ws(rec, after + 1) != rec.len() {
        return Ok(None);
    }
    match wrapped_types(rec, ts)? {
        None => {
            trie.parse(rec, ts, te)?;
            Ok(Some(RootForm::Typed))
        }
        Some((a, e)) => {
            // The wrapped value is normally the first member: `{"$":…`.
            let mut q = json::skip_ws(rec, start + 1);
            if !rec[q..].starts_with(b"\"$\"") {
                return Ok(None);
            }
            q = json::skip_ws(rec, q + 3);
            if rec.get(q) != Some(&b':') {
                return Ok(None);
            }
            q = json::skip_ws(rec, q + 1);
            trie.parse(rec, a, e)?;
            Ok(Some(RootForm::Wrapped { value: q }))
        }
    }
}

/// If the `$types` object at `ts` is exactly `{"$": {...}}`, the inner object's range.
fn wrapped_types(rec: &[u8], ts: usize) -> Result<Option<(usize, usize)>, ScanError> {
    let mut pos = json::skip_ws(rec, ts + 1);
    if !rec[pos..].starts_with(b"\"$\"") {
        return Ok(None);
    }
    pos = json::skip_ws(rec, pos + 3);
    if rec.get(pos) != Some(&b':') {
        return Ok(None);
    }
    pos = json::skip_ws(rec, pos + 1);
    if rec.get(pos) != Some(&b'{') {
        return Ok(None);
    }
    let a = pos;
    let b = json::skip_value(rec, pos)?;
    let after = json::skip_ws(rec, b);
    if rec.get(after) == Some(&b'}') {
        Ok(Some((a, b)))
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trie_of(types: &str) -> TypeTrie {
        let mut t = TypeTrie::default();
        t.parse(types.as_bytes(), 0, types.len()).unwrap();
        t
    }

    #[test]
    fn keypaths_with_escapes_and_chains() {
        let t = trie_of(
            r#"{"nested.when":"date","a~1b":"date","c~0d":["set","arrayNonindexKeys"],"''":"date","e.":"date","":"map"}"#,
        );
        let nested = t.child(ROOT, "nested").unwrap();
        let when = t.child(nested, "when").unwrap();
        assert_eq!(t.chain(when), &[TagRef::Known(Tag::Date)]);
        assert!(t.chain(nested).is_empty());
        assert!(t.child(ROOT, "a.b").is_some());
        let cd = t.child(ROOT, "c~d").unwrap();
        assert_eq!(t.chain(cd).len(), 2);
        assert!(t.child(ROOT, "''").is_some());
        let e = t.child(ROOT, "e").unwrap();
        assert_eq!(t.chain(t.child(e, "").unwrap()), &[TagRef::Known(Tag::Date)]);
        assert_eq!(t.chain(ROOT), &[TagRef::Known(Tag::Map)]);
    }

    #[test]
    fn unknown_tags_are_kept_by_name() {
        let t = trie_of(r#"{"x":"symbol"}"#);
        let x = t.child(ROOT, "x").unwrap();
        assert_eq!(t.chain(x), &[TagRef::Unknown("symbol".into())]);
    }

    #[test]
    fn index_children() {
        let t = trie_of(r#"{"12.1":"date"}"#);
        let twelve = t.child_index(ROOT, 12).unwrap();
        assert!(t.child_index(twelve, 1).is_some());
        assert!(t.child_index(ROOT, 1).is_none());
    }

    #[test]
    fn root_forms() {
        let fw = memmem::Finder::new(b"\"$types\"");
        let mut t = TypeTrie::default();
        let plain = br#"{"a":1}"#;
        assert_eq!(analyze_root(plain, 0, &mut t, &fw).unwrap(), RootForm::Plain);
        let typed = br#"{"a":1,"$types":{"a":"date"}}"#;
        assert_eq!(analyze_root(typed, 0, &mut t, &fw).unwrap(), RootForm::Typed);
        let wrapped = br#"{"$":[1,{"d":0}],"$types":{"$":{"1.d":"date"}}}"#;
        assert_eq!(analyze_root(wrapped, 0, &mut t, &fw).unwrap(), RootForm::Wrapped { value: 5 });
        let one = t.child(ROOT, "1").unwrap();
        assert!(t.child(one, "d").is_some());
        let escaped = br#"{"$":{"$types":5},"$types":true}"#;
        assert_eq!(analyze_root(escaped, 0, &mut t, &fw).unwrap(), RootForm::Escaped { value: 5 });
        let nested_only = br#"{"a":{"$types":{"x":"date"}}}"#;
        assert_eq!(analyze_root(nested_only, 0, &mut t, &fw).unwrap(), RootForm::Plain);
    }

    /// Regression (bad-input corpus): a `$types` keypath of 100,000 segments made a trie
    /// as deep, which `for_each_below` walks recursively. No record can be that deep, so
    /// such a keypath names nothing and is left out.
    #[test]
    fn a_keypath_deeper_than_any_record_is_left_out() {
        let deep = vec!["a"; 100_000].join(".");
        let t = trie_of(&format!(r#"{{"{deep}":"date","b":"date"}}"#));
        let mut seen = Vec::new();
        t.for_each_below(ROOT, &mut |p, _| seen.push(p.to_owned()));
        assert_eq!(seen, vec!["b"]);
        let ok = vec!["a"; 500].join(".");
        let t = trie_of(&format!(r#"{{"{ok}":"date"}}"#));
        let mut seen = Vec::new();
        t.for_each_below(ROOT, &mut |p, _| seen.push(p.to_owned()));
        assert_eq!(seen, vec![ok]);
    }

    #[test]
    fn component_escaping_round_trips() {
        for s in ["", "a.b", "c~d", "''", "~1", "plain"] {
            assert_eq!(unescape_component(&escape_component(s)), s);
        }
    }
}
