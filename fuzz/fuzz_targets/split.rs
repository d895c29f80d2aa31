//! The record splitter over arbitrary bytes, in every format: fed in blocks of any
//! size through `Carry` (as inference and conversion feed it), it must find exactly
//! the records (store, index, offset, bytes) and the error it finds in one piece.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schema_infer::{Carry, Format, Splitter};

mod overflow;

type Found = Vec<(String, u64, u64, Vec<u8>)>;

fn split(format: Format, input: &[u8], step: usize, piece_bytes: usize) -> Result<(Found, Vec<u64>), String> {
    let mut s = Splitter::new(format, "x");
    s.piece_bytes = piece_bytes;
    let mut found = Found::new();
    let mut carry = Carry::new();
    fn run(s: &mut Splitter, found: &mut Found, buf: &[u8], base: u64, eof: bool) -> Result<usize, String> {
        let mut pieces = Vec::new();
        let used = s.split(buf, base, eof, &mut pieces).map_err(|e| e.to_string())?;
        assert!(used <= buf.len(), "used {used} of {}", buf.len());
        assert!(!eof || used == buf.len(), "at the end everything is consumed");
        for p in &pieces {
            p.for_each_record(buf, |store, start, end, index| {
                assert!(start <= end && end <= used, "record {start}..{end} outside 0..{used}");
                let name = s.stores[store as usize].name.clone();
                found.push((name, index, base + start as u64, buf[start..end].to_vec()));
            });
        }
        Ok(used)
    }
    for block in input.chunks(step) {
        carry.feed(block, |buf, base| run(&mut s, &mut found, buf, base, false))?;
    }
    carry.finish(|buf, base| run(&mut s, &mut found, buf, base, true))?;
    // The counts agree with the records found, store by store, indices in order.
    for (i, st) in s.stores.iter().enumerate() {
        let mine: Vec<u64> = found.iter().filter(|f| f.0 == st.name).map(|f| f.1).collect();
        assert_eq!(mine, (0..s.counts[i]).collect::<Vec<_>>(), "store {:?}", st.name);
    }
    Ok((found, s.counts.clone()))
}

fuzz_target!(|data: &[u8]| {
    overflow::arm();
    let [f, k, input @ ..] = data else { return };
    let format = match f % 4 {
        0 => Format::Dexie,
        1 => Format::Stores,
        2 => Format::Ndjson,
        _ => Format::JsonArray,
    };
    let step = 1 + *k as usize;
    let whole = split(format, input, input.len().max(1), 1 << 20);
    let chunked = split(format, input, step, 1 + (*f as usize >> 2));
    assert_eq!(whole, chunked, "blocks of {step} bytes");
});
