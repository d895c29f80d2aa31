//! Full inference over arbitrary bytes: whatever the format (detected or forced) and
//! options, no panic; the result does not depend on how the input is cut into blocks;
//! and the schema document reads back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schema_infer::{Format, InferOptions, Inferrer, SchemaDoc, UnknownTags};

fn infer(opts: InferOptions, input: &[u8], step: usize) -> Result<String, String> {
    let mut inf = Inferrer::new(opts).map_err(|e| e.to_string())?;
    for block in input.chunks(step.max(1)) {
        inf.push(block).map_err(|e| e.to_string())?;
    }
    inf.finish().map(|r| r.to_json()).map_err(|e| e.to_string())
}

fuzz_target!(|data: &[u8]| {
    let [f, input @ ..] = data else { return };
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
    let chunked = infer(opts, input, 1 + (*f as usize * 7) % 61);
    match (&whole, &chunked) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the schema depends on the blocks"),
        (Err(_), Err(_)) => {}
        _ => panic!("whole: {whole:?}\nchunked: {chunked:?}"),
    }
    if let Ok(doc) = whole {
        let back = SchemaDoc::from_json(&doc).unwrap_or_else(|e| panic!("the schema document does not read back: {e}"));
        assert_eq!(back.to_json(), doc);
    }
});
