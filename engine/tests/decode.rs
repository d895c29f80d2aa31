//! Decoding records whose typeson tags point where they should not: each such record is
//! a reject with its reason, never a panic or a stack overflow (findings of the `decode`
//! fuzz target).

use arrow::array::{Array, AsArray};
use engine::decode_all;
use schema_infer::{InferOptions, Inferrer};

/// Infers one store's schema over `lines`, then decodes each line with it: the batch and
/// the (line, reason) of every reject.
fn infer_and_decode(lines: &[&[u8]]) -> (arrow::record_batch::RecordBatch, Vec<(usize, String)>) {
    let mut inf = Inferrer::new(InferOptions::new().with_threads(1)).unwrap();
    for l in lines {
        inf.push(l).unwrap();
        inf.push(b"\n").unwrap();
    }
    let schema = inf.finish().unwrap().stores[0].schema.clone();
    let (batch, rejects) = decode_all(schema, lines.iter().copied());
    (batch, rejects.into_iter().map(|(i, r)| (i, r.reason)).collect())
}

/// An ArrayBuffer given as a `#` reference to itself, or to one that refers back to it,
/// recursed until the stack overflowed (a bare SIGSEGV of a long `decode` fuzz run, and
/// a crash of `convert` on such a row). A reference to a real buffer still decodes.
#[test]
fn arraybuffer_references_that_loop_are_rejected() {
    let (batch, rejects) = infer_and_decode(&[
        br##"{"x":"AQID","y":"#x","$types":{"x":"arraybuffer","y":"arraybuffer"}}"##,
        br##"{"x":"#x","$types":{"x":"arraybuffer"}}"##,
        br##"{"x":"#y","y":"#x","$types":{"x":"arraybuffer","y":"arraybuffer"}}"##,
    ]);
    let cycle = "typeson ArrayBuffer references form a cycle (or a chain of over 512 links)";
    assert_eq!(rejects, vec![(1, cycle.to_owned()), (2, cycle.to_owned())]);
    assert_eq!(batch.num_rows(), 1);
    for name in ["x", "y"] {
        let col = batch.column_by_name(name).unwrap().as_binary::<i32>();
        assert_eq!(col.value(0), [1, 2, 3], "column {name}");
    }
}

/// A BigInt or String object whose value is not a string (here a BOM before the quote)
/// panicked the decoder, which sliced the text from inside the BOM's UTF-8 bytes.
#[test]
fn tagged_values_that_are_not_strings_are_rejected() {
    let (batch, rejects) = infer_and_decode(&[
        br#"{"b":"12","s":"x","$types":{"b":"bigint","s":"StringObject"}}"#,
        b"{\"b\":\xEF\xBB\xBF\"12\",\"$types\":{\"b\":\"bigint\"}}",
        b"{\"s\":\xEF\xBB\xBF\"x\",\"$types\":{\"s\":\"StringObject\"}}",
        br#"{"b":12,"$types":{"b":"bigint"}}"#,
    ]);
    assert_eq!(
        rejects,
        vec![
            (1, "typeson 'bigint' value must be decimal text".to_owned()),
            (2, "typeson 'StringObject' value must be a string".to_owned()),
            (3, "typeson 'bigint' value must be decimal text".to_owned()),
        ]
    );
    assert_eq!(batch.num_rows(), 1);
    assert_eq!(batch.column_by_name("s").unwrap().as_string::<i32>().value(0), "x");
    assert!(!batch.column_by_name("b").unwrap().is_null(0));
}
