//! Decode to Arrow: infer the input's schemas, then split it again and decode every
//! record with its store's `Decoder`, as `convert` does. No panic; every record is a
//! row or a reject; the batch is valid Arrow (checked in full) and writes as Parquet.
#![no_main]

use arrow::array::Array;
use engine::Decoder;
use libfuzzer_sys::fuzz_target;
use schema_infer::{Format, InferOptions, Inferrer, Splitter, UnknownTags};

mod overflow;

fuzz_target!(|data: &[u8]| {
    overflow::arm();
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
        .with_map_threshold(if f & 32 != 0 { 3 } else { 200 });
    let Ok(mut inf) = Inferrer::new(opts) else { return };
    if inf.push(input).is_err() {
        return;
    }
    let Ok(inferred) = inf.finish() else { return };
    // Conversion skips one BOM before splitting, as the inferrer does (skipping it before
    // inference too, as this target once did, dropped a second BOM from the count).
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);

    let mut splitter = Splitter::new(inferred.format, "x");
    let mut pieces = Vec::new();
    splitter.split(input, 0, true, &mut pieces).expect("what inference split, splits again");
    let mut decoders: Vec<Decoder> = inferred.stores.iter().map(|s| Decoder::new(s.schema.clone())).collect();
    let mut counts = vec![(0u64, 0u64); decoders.len()]; // (read, rejected)
    for p in &pieces {
        p.for_each_record(input, |store, start, end, _| {
            let name = &splitter.stores[store as usize].name;
            let i = inferred.stores.iter().position(|s| &s.name == name).expect("an inferred store");
            counts[i].0 += 1;
            if let Err(r) = decoders[i].push(&input[start..end]) {
                assert!(r.at <= end - start || r.at == usize::MAX, "reject at {} of {}", r.at, end - start);
                assert!(!r.reason.is_empty());
                counts[i].1 += 1;
            }
        });
    }
    for (i, d) in decoders.iter_mut().enumerate() {
        let st = &inferred.stores[i];
        assert_eq!(counts[i].0, st.rows + st.invalid, "store {:?}: records read", st.name);
        let rows = d.rows();
        let batch = d.finish();
        assert_eq!(batch.num_rows() as u64, counts[i].0 - counts[i].1);
        assert_eq!(batch.num_rows(), rows);
        for c in batch.columns() {
            c.to_data().validate_full().expect("valid Arrow data");
        }
        if f & 64 != 0 && batch.num_columns() > 0 {
            let mut w =
                parquet::arrow::ArrowWriter::try_new(Vec::new(), batch.schema(), None).expect("a Parquet writer");
            w.write(&batch).expect("the batch writes as Parquet");
            w.close().expect("the Parquet file closes");
        }
    }
});
