//! Property tests of the lattice laws: `merge` is commutative and associative, and
//! merging per-chunk results equals observing every record in one pass.

use crate::lattice::{Node, Ty};
use crate::scan::{RecordRef, WalkOpts, Walker};
use proptest::prelude::*;
use serde_json::{json, Value};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1000i64..1000).prop_map(|i| json!(i)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        "[a-c]{0,3}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(vec!["a", "b", "c", "d"]), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

fn records() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(value(), 0..6)
}

/// Observes `recs` as records `first..` at distinct offsets.
fn observe(node: &mut Node, recs: &[Value], first: u64) {
    let mut w = Walker::new(WalkOpts::default());
    for (i, r) in recs.iter().enumerate() {
        let text = serde_json::to_vec(r).unwrap();
        let index = first + i as u64;
        let rr = RecordRef { bytes: &text, offset: index * 1_000_000, index };
        w.record(&rr, node, None).expect("valid JSON walks");
    }
}

fn node_of(recs: &[Value], first: u64) -> Node {
    let mut n = Node::default();
    observe(&mut n, recs, first);
    n
}

/// Makes equal lattices compare equal: per-class first positions sorted, and the
/// walker's per-object bookkeeping cleared.
fn normalize(n: &mut Node) {
    n.seen.sort();
    match &mut n.ty {
        Ty::List(e) | Ty::ObjMap(e) => normalize(e),
        Ty::Map(k, v) => {
            normalize(k);
            normalize(v);
        }
        Ty::Struct(s) => {
            for f in s.fields.values_mut() {
                f.last_obj = 0;
                normalize(&mut f.node);
            }
        }
        _ => {}
    }
}

fn merged(mut a: Node, b: Node) -> Node {
    a.merge(b);
    a
}

fn norm(mut n: Node) -> Node {
    normalize(&mut n);
    n
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn merge_is_commutative(a in records(), b in records()) {
        let (na, nb) = (node_of(&a, 0), node_of(&b, 100));
        prop_assert_eq!(norm(merged(na.clone(), nb.clone())), norm(merged(nb, na)));
    }

    #[test]
    fn merge_is_associative(a in records(), b in records(), c in records()) {
        let (na, nb, nc) = (node_of(&a, 0), node_of(&b, 100), node_of(&c, 200));
        let left = merged(merged(na.clone(), nb.clone()), nc.clone());
        let right = merged(na, merged(nb, nc));
        prop_assert_eq!(norm(left), norm(right));
    }

    #[test]
    fn chunked_equals_one_pass(a in records(), b in records()) {
        let mut one = Node::default();
        observe(&mut one, &a, 0);
        observe(&mut one, &b, a.len() as u64);
        let chunked = merged(node_of(&b, a.len() as u64), node_of(&a, 0));
        prop_assert_eq!(norm(chunked), norm(one));
    }
}
