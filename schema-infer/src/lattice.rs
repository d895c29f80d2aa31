//! The type lattice. A [`Node`] summarises every value seen at one place of a store
//! (a field, a list element, a map key). `merge` is associative and commutative, so
//! chunks are inferred in parallel and merged in any order to the same result;
//! first-seen positions make field order independent of the thread schedule.

use crate::tag::{Elem, Tag};
use indexmap::IndexMap;

/// Where a value was first seen: the record's index in its store and the byte
/// offset of the value in the (decompressed) input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// Byte offset of the value in the input.
    pub offset: u64,
    /// Index of the record within its store.
    pub record: u64,
}

/// Classes of observed values, for the widening report (bit positions).
pub(crate) mod class {
    pub const NULL: u8 = 0;
    pub const UNDEFINED: u8 = 1;
    pub const HOLE: u8 = 2;
    pub const BOOL: u8 = 3;
    pub const INT: u8 = 4;
    pub const FLOAT: u8 = 5;
    pub const STR: u8 = 6;
    pub const OBJECT: u8 = 7;
    pub const ARRAY: u8 = 8;
    pub const BIG_DECIMAL: u8 = 9;
    pub const BIG_TEXT: u8 = 10;
    pub const NON_ISO: u8 = 11;
    /// An invalid Date (`new Date(NaN)`): a timestamp column's kind of "no value".
    pub const INVALID_DATE: u8 = 12;
    /// A string with a lone UTF-16 surrogate: kept exactly only as JSON text.
    pub const LONE_SURROGATE: u8 = 13;
    /// `new Number(NaN)`, which typeson writes as a `NumberObject` of `null`: kept
    /// exactly only as JSON text.
    pub const NAN_NUMBER_OBJECT: u8 = 14;
    /// A String object (`new String(…)`) with a lone UTF-16 surrogate: kept exactly
    /// only as JSON text.
    pub const LONE_SURROGATE_BOXED: u8 = 15;

    /// Classes of values that only JSON text keeps exactly, with the class of value
    /// each stands for (not a conflict of types: the column is JSON text whatever
    /// `--on-conflict` says).
    pub fn lossless_only(c: u8) -> Option<u8> {
        match c {
            LONE_SURROGATE => Some(STR),
            NAN_NUMBER_OBJECT => Some(TAG_BASE + crate::tag::Tag::NumberObject.id()),
            LONE_SURROGATE_BOXED => Some(TAG_BASE + crate::tag::Tag::StringObject.id()),
            _ => None,
        }
    }
    pub const TAG_BASE: u8 = 16;

    /// Whether `c` is a class of values (not null, undefined, a hole or an invalid Date).
    pub fn is_value(c: u8) -> bool {
        c > HOLE && c != INVALID_DATE
    }

    pub fn name(c: u8) -> String {
        match c {
            NULL => "null".into(),
            UNDEFINED => "undefined".into(),
            HOLE => "hole".into(),
            BOOL => "boolean".into(),
            INT => "integer".into(),
            FLOAT => "number".into(),
            STR => "string".into(),
            OBJECT => "object".into(),
            ARRAY => "array".into(),
            BIG_DECIMAL => "bigint beyond int64".into(),
            BIG_TEXT => "bigint beyond decimal(38)".into(),
            NON_ISO => "non-ISO-8601 string".into(),
            INVALID_DATE => "invalid Date".into(),
            LONE_SURROGATE => "string with a lone UTF-16 surrogate".into(),
            NAN_NUMBER_OBJECT => "Number object holding NaN (typeson writes null)".into(),
            LONE_SURROGATE_BOXED => "String object with a lone UTF-16 surrogate".into(),
            t => crate::tag::ALL_TAGS
                .iter()
                .find(|x| x.id() + TAG_BASE == t)
                .map_or_else(|| format!("class {t}"), |x| format!("{} ({})", x.name(), "typeson")),
        }
    }
}

/// How wide a BigInt column must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum BigWidth {
    I64,
    Decimal38,
    Text,
}

/// The shape of the values at a node.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum Ty {
    /// Only "no value" (null, undefined, holes) seen so far.
    #[default]
    Unknown,
    Bool,
    Int,
    Float,
    /// `iso`: every string so far is an ISO-8601 timestamp (tracked on request).
    Str {
        iso: bool,
    },
    BigInt(BigWidth),
    Timestamp,
    Binary,
    Blob,
    File,
    RegExp,
    Typed(Elem),
    List(Box<Node>),
    Map(Box<Node>, Box<Node>),
    Struct(Box<Struct>),
    /// An object with too many distinct keys: every value merged into one node.
    ObjMap(Box<Node>),
    /// Types that conflict beyond widening: a lossless JSON-text column.
    Json,
}

/// A field of a struct: its node and in how many of the struct's objects it appeared.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Field {
    pub node: Node,
    pub present: u64,
    pub(crate) last_obj: u64,
    /// The name needs no JSON escaping, so it can be matched byte for byte.
    pub(crate) plain: bool,
}

/// The union of the fields seen in objects at one place.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Struct {
    pub fields: IndexMap<Box<str>, Field>,
    pub objects: u64,
}

/// Above this many distinct keys an object node stops tracking fields one by one.
pub(crate) const WIDE_CAP: usize = 2000;

/// Everything observed at one place.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Node {
    pub ty: Ty,
    /// The column's typeson tag (Date, Blob, Map, …); values of one column share it.
    pub tag: Option<Tag>,
    /// Values and no-values observed here.
    pub count: u64,
    /// Of which null, undefined or holes.
    pub nulls: u64,
    mask: u64,
    /// First position of each class seen, in first-seen order within a chunk.
    pub seen: Vec<(u8, Pos)>,
}

impl Node {
    #[inline]
    pub fn mark(&mut self, c: u8, pos: Pos) {
        let bit = 1u64 << c;
        if self.mask & bit == 0 {
            self.mask |= bit;
            self.seen.push((c, pos));
        } else if let Some(e) = self.seen.iter_mut().find(|e| e.0 == c) {
            // Keeps the minimum even when positions arrive out of order.
            if pos < e.1 {
                e.1 = pos;
            }
        }
    }

    #[inline]
    fn mark_fast(&mut self, c: u8, pos: Pos) {
        let bit = 1u64 << c;
        if self.mask & bit == 0 {
            self.mask |= bit;
            self.seen.push((c, pos));
        }
    }

    pub fn has(&self, c: u8) -> bool {
        self.mask & (1u64 << c) != 0
    }

    /// The earliest position of anything seen here.
    pub fn first(&self) -> Pos {
        self.seen.iter().map(|e| e.1).min().unwrap_or_default()
    }

    /// Records a null / undefined / hole.
    #[inline]
    pub fn no_value(&mut self, c: u8, pos: Pos) {
        self.count += 1;
        self.nulls += 1;
        self.mark_fast(c, pos);
    }

    /// Records a leaf value of shape `ty` with column tag `tag`.
    #[inline(always)]
    pub fn leaf(&mut self, l: Leaf, tag: Option<Tag>, c: u8, pos: Pos) {
        self.count += 1;
        self.mark_fast(c, pos);
        if matches!(self.ty, Ty::Json) || (self.tag == tag && same_leaf(&self.ty, l)) {
            return;
        }
        self.leaf_slow(l, tag);
    }

    #[inline(never)]
    fn leaf_slow(&mut self, l: Leaf, tag: Option<Tag>) {
        let mut other = Node { ty: l.ty(), tag, ..Node::default() };
        self.absorb_shape(&mut other);
    }

    /// Makes this node a JSON column.
    pub fn make_json(&mut self) {
        self.ty = Ty::Json;
        self.tag = None;
    }

    /// Records an object; returns the struct to fill, or `None` when the node is
    /// (or just became) something an object cannot be part of.
    #[inline]
    pub fn enter_object(&mut self, tag: Option<Tag>, pos: Pos) -> ObjTarget<'_> {
        self.count += 1;
        self.mark_fast(class::OBJECT, pos);
        if self.tag != tag && !matches!(self.ty, Ty::Unknown) {
            self.make_json();
        }
        match self.ty {
            Ty::Unknown => {
                self.tag = tag;
                self.ty = Ty::Struct(Box::default());
            }
            Ty::Struct(_) | Ty::ObjMap(_) => {}
            _ => self.make_json(),
        }
        match &mut self.ty {
            Ty::Struct(s) => {
                s.objects += 1;
                ObjTarget::Struct(s)
            }
            Ty::ObjMap(v) => ObjTarget::Map(v),
            _ => ObjTarget::Skip,
        }
    }

    /// Records an array (a list, or a Set with `tag`); returns the element node.
    #[inline]
    pub fn enter_list(&mut self, tag: Option<Tag>, pos: Pos) -> Option<&mut Node> {
        self.count += 1;
        self.mark_fast(class::ARRAY, pos);
        if self.tag != tag && !matches!(self.ty, Ty::Unknown) {
            self.make_json();
        }
        match self.ty {
            Ty::Unknown => {
                self.tag = tag;
                self.ty = Ty::List(Box::default());
            }
            Ty::List(_) => {}
            _ => self.make_json(),
        }
        match &mut self.ty {
            Ty::List(e) => Some(e),
            _ => None,
        }
    }

    /// Records a typeson Map; returns its key and value nodes.
    pub fn enter_map(&mut self, pos: Pos) -> Option<(&mut Node, &mut Node)> {
        self.count += 1;
        self.mark_fast(class::TAG_BASE + Tag::Map.id(), pos);
        if self.tag != Some(Tag::Map) && !matches!(self.ty, Ty::Unknown) {
            self.make_json();
        }
        if self.ty == Ty::Unknown {
            self.tag = Some(Tag::Map);
            self.ty = Ty::Map(Box::default(), Box::default());
        }
        match &mut self.ty {
            Ty::Map(k, v) => Some((k, v)),
            _ => None,
        }
    }

    /// Merges `other` into `self`. Associative and commutative.
    pub fn merge(&mut self, mut other: Node) {
        self.count += other.count;
        self.nulls += other.nulls;
        for (c, p) in other.seen.drain(..) {
            self.mark(c, p);
        }
        self.absorb_shape(&mut other);
    }

    /// Merges the shape (type and tag) of `other` into `self`.
    fn absorb_shape(&mut self, other: &mut Node) {
        if matches!(other.ty, Ty::Unknown) {
            return;
        }
        if matches!(self.ty, Ty::Unknown) {
            self.ty = std::mem::take(&mut other.ty);
            self.tag = other.tag;
            return;
        }
        if matches!(self.ty, Ty::Json) || matches!(other.ty, Ty::Json) || self.tag != other.tag {
            self.make_json();
            return;
        }
        let theirs = std::mem::take(&mut other.ty);
        let mine = std::mem::take(&mut self.ty);
        self.ty = match (mine, theirs) {
            (Ty::Int, Ty::Float) | (Ty::Float, Ty::Int) => Ty::Float,
            (Ty::Str { iso: a }, Ty::Str { iso: b }) => Ty::Str { iso: a && b },
            (Ty::BigInt(a), Ty::BigInt(b)) => Ty::BigInt(a.max(b)),
            (Ty::Typed(a), Ty::Typed(b)) if a == b => Ty::Typed(a),
            (Ty::List(mut a), Ty::List(b)) => {
                a.merge(*b);
                Ty::List(a)
            }
            (Ty::Map(mut k, mut v), Ty::Map(k2, v2)) => {
                k.merge(*k2);
                v.merge(*v2);
                Ty::Map(k, v)
            }
            (Ty::Struct(mut a), Ty::Struct(b)) => {
                a.merge(*b);
                if a.fields.len() > WIDE_CAP {
                    Ty::ObjMap(Box::new(a.collapse()))
                } else {
                    Ty::Struct(a)
                }
            }
            (Ty::ObjMap(mut v), Ty::Struct(s)) | (Ty::Struct(s), Ty::ObjMap(mut v)) => {
                v.merge(s.collapse());
                Ty::ObjMap(v)
            }
            (Ty::ObjMap(mut v), Ty::ObjMap(w)) => {
                v.merge(*w);
                Ty::ObjMap(v)
            }
            (a, b) if a == b && is_leaf(&a) => a,
            _ => {
                self.tag = None;
                Ty::Json
            }
        };
    }
}

/// Cheap equality for the leaf shapes the walker observes (no deep comparison).
#[inline(always)]
fn same_leaf(a: &Ty, b: Leaf) -> bool {
    match (a, b) {
        (Ty::Bool, Leaf::Bool)
        | (Ty::Int, Leaf::Int)
        | (Ty::Float, Leaf::Float)
        | (Ty::Float, Leaf::Int)
        | (Ty::Timestamp, Leaf::Timestamp)
        | (Ty::Binary, Leaf::Binary)
        | (Ty::Blob, Leaf::Blob)
        | (Ty::File, Leaf::File)
        | (Ty::RegExp, Leaf::RegExp)
        | (Ty::Json, Leaf::Json) => true,
        (Ty::Str { iso: x }, Leaf::Str { iso: y }) => *x == y || !*x,
        (Ty::BigInt(x), Leaf::BigInt(y)) => *x >= y,
        (Ty::Typed(x), Leaf::Typed(y)) => *x == y,
        _ => false,
    }
}

fn is_leaf(t: &Ty) -> bool {
    matches!(t, Ty::Bool | Ty::Int | Ty::Float | Ty::Timestamp | Ty::Binary | Ty::Blob | Ty::File | Ty::RegExp)
}

/// The leaf shapes the walker observes; `Copy`, so observing one costs no drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leaf {
    Bool,
    Int,
    Float,
    Str { iso: bool },
    BigInt(BigWidth),
    Timestamp,
    Binary,
    Blob,
    File,
    RegExp,
    Typed(Elem),
    Json,
}

impl Leaf {
    fn ty(self) -> Ty {
        match self {
            Leaf::Bool => Ty::Bool,
            Leaf::Int => Ty::Int,
            Leaf::Float => Ty::Float,
            Leaf::Str { iso } => Ty::Str { iso },
            Leaf::BigInt(w) => Ty::BigInt(w),
            Leaf::Timestamp => Ty::Timestamp,
            Leaf::Binary => Ty::Binary,
            Leaf::Blob => Ty::Blob,
            Leaf::File => Ty::File,
            Leaf::RegExp => Ty::RegExp,
            Leaf::Typed(e) => Ty::Typed(e),
            Leaf::Json => Ty::Json,
        }
    }
}

/// Where the members of an observed object go.
pub(crate) enum ObjTarget<'a> {
    Struct(&'a mut Struct),
    Map(&'a mut Node),
    Skip,
}

impl Struct {
    /// The field named `key`; `hint` is where the previous lookup ended, so rows
    /// with a stable key order find each field without hashing.
    #[inline]
    pub fn field(&mut self, key: &str, hint: &mut usize) -> &mut Node {
        let idx = match self.fields.get_index(*hint) {
            Some((k, _)) if &**k == key => *hint,
            _ => match self.fields.get_index_of(key) {
                Some(i) => i,
                None => {
                    let plain = !key.bytes().any(|b| b == b'\\' || b == b'"' || b < 0x20);
                    self.fields.insert(key.into(), Field { plain, ..Field::default() });
                    self.fields.len() - 1
                }
            },
        };
        self.field_at(idx, hint)
    }

    /// If the key expected at `hint` is written verbatim at the start of `raw`
    /// (followed by its closing quote), its length in bytes. Saves scanning and
    /// hashing the key when rows keep a stable key order.
    #[inline]
    pub fn expected_key(&self, raw: &[u8], hint: usize) -> Option<usize> {
        let (k, f) = self.fields.get_index(hint)?;
        if !f.plain {
            return None;
        }
        let k = k.as_bytes();
        if raw.len() <= k.len() || raw[k.len()] != b'"' {
            return None;
        }
        // Keys are short: a word-at-a-time compare beats a memcmp call. Keys that
        // need escaping never match verbatim.
        if !crate::json::eq_short(&raw[..k.len()], k) {
            return None;
        }
        Some(k.len())
    }

    /// The field at `idx` (from [`Struct::expected_key`]'s hint), counted present.
    #[inline]
    pub fn field_at(&mut self, idx: usize, hint: &mut usize) -> &mut Node {
        *hint = idx + 1;
        let obj = self.objects;
        let f = &mut self.fields[idx];
        if f.last_obj != obj {
            f.last_obj = obj;
            f.present += 1;
        }
        &mut f.node
    }

    /// Whether too many keys were seen for a struct to make sense.
    pub fn is_too_wide(&self) -> bool {
        self.fields.len() > WIDE_CAP
    }

    fn merge(&mut self, other: Struct) {
        self.objects += other.objects;
        for (k, f) in other.fields {
            match self.fields.get_mut(&k) {
                Some(mine) => {
                    mine.present += f.present;
                    mine.node.merge(f.node);
                }
                None => {
                    self.fields.insert(k, Field { node: f.node, present: f.present, last_obj: 0, plain: f.plain });
                }
            }
        }
    }

    /// Every field's values merged into one node (for `Map<Utf8, T>`).
    pub fn collapse(self) -> Node {
        let mut v = Node::default();
        for (_, f) in self.fields {
            v.merge(f.node);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(o: u64) -> Pos {
        Pos { offset: o, record: o }
    }

    #[test]
    fn numeric_widening_and_conflict() {
        let mut n = Node::default();
        n.leaf(Leaf::Int, None, class::INT, at(1));
        n.leaf(Leaf::Float, None, class::FLOAT, at(2));
        assert_eq!(n.ty, Ty::Float);
        n.no_value(class::NULL, at(3));
        assert_eq!(n.ty, Ty::Float);
        n.leaf(Leaf::Str { iso: false }, None, class::STR, at(4));
        assert_eq!(n.ty, Ty::Json);
        assert_eq!(n.count, 4);
        assert_eq!(n.nulls, 1);
    }

    #[test]
    fn tags_must_agree() {
        let mut n = Node::default();
        n.leaf(Leaf::Timestamp, Some(Tag::Date), class::TAG_BASE, at(1));
        n.no_value(class::NULL, at(2));
        assert_eq!(n.tag, Some(Tag::Date));
        n.leaf(Leaf::Str { iso: false }, Some(Tag::StringObject), class::STR, at(3));
        assert_eq!(n.ty, Ty::Json);
        assert_eq!(n.tag, None);
    }

    #[test]
    fn struct_fields_count_presence_once_per_object() {
        let mut n = Node::default();
        for (i, keys) in [vec!["a", "b"], vec!["a", "a"], vec!["c"]].iter().enumerate() {
            let ObjTarget::Struct(s) = n.enter_object(None, at(i as u64)) else { panic!() };
            let mut hint = 0;
            for k in keys {
                s.field(k, &mut hint).leaf(Leaf::Int, None, class::INT, at(i as u64));
            }
        }
        let Ty::Struct(s) = &n.ty else { panic!() };
        assert_eq!(s.objects, 3);
        let p: Vec<u64> = s.fields.values().map(|f| f.present).collect();
        assert_eq!(p, vec![2, 1, 1]);
    }
}
