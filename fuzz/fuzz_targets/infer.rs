//! Full inference over arbitrary bytes: whatever the format (detected or forced) and
//! options, no panic; the schemas, counts and invalid records do not depend on how the
//! input is cut into blocks; the schema document reads back as itself, and is one the
//! converter fills (it passes the pinned-schema check).
#![no_main]

use libfuzzer_sys::fuzz_target;
use schema_infer::{Format, InferOptions, InferResult, Inferrer, SchemaDoc, UnknownTags};

mod overflow;

fn infer(opts: InferOptions, input: &[u8], step: usize) -> Result<InferResult, String> {
    let mut inf = Inferrer::new(opts).map_err(|e| e.to_string())?;
    for block in input.chunks(step.max(1)) {
        inf.push(block).map_err(|e| e.to_string())?;
    }
    inf.finish().map_err(|e| e.to_string())
}

/// The result without the wording and offset of each invalid record's problem: where
/// a record is first found broken may depend on what the walker knew of its fields.
fn comparable(r: &InferResult) -> InferResult {
    let mut r = r.clone();
    for st in &mut r.stores {
        for i in &mut st.issues {
            i.reason.clear();
            i.path.clear();
            i.offset = 0;
        }
    }
    r
}

fuzz_target!(|data: &[u8]| {
    overflow::arm();
    let [f, k, input @ ..] = data else { return };
    let format = match f % 8 {
        1 => Some(Format::Dexie),
        2 => Some(Format::Stores),
        3 => Some(Format::Ndjson),
        4 => Some(Format::JsonArray),
        _ => None,
    };
    let opts = InferOptions::new()
        .with_format(format)
        .with_threads(1)
        .with_store_name("x")
        .with_detect_timestamps(f & 8 != 0)
        .with_unknown_tags(if f & 16 != 0 { UnknownTags::Json } else { UnknownTags::Error })
        .with_map_threshold(if f & 32 != 0 { 3 } else { 200 })
        .with_piece_bytes(1 + (*f as usize >> 6) * 5);
    let whole = infer(opts.clone(), input, input.len());
    let chunked = infer(opts, input, 1 + *k as usize * 13);
    match (&whole, &chunked) {
        (Ok(a), Ok(b)) => assert_eq!(comparable(a), comparable(b), "the result depends on the blocks"),
        (Err(_), Err(_)) => {}
        _ => panic!("whole: {whole:?}\nchunked: {chunked:?}"),
    }
    if let Ok(r) = whole {
        let back = SchemaDoc::from_json(&r.to_json())
            .unwrap_or_else(|e| panic!("the schema document does not read back: {e}"));
        assert_eq!(back, r);
        // What inference gives, pinned back unchanged, is a schema the converter fills.
        for s in &r.stores {
            schema_infer::check_schema(&s.name, &s.schema)
                .unwrap_or_else(|e| panic!("an inferred schema fails the pinned-schema check: {e}"));
        }
    }
});
