//! typeson analysis of one record: the root form, the `$types` trie, keypath lookup
//! and escaping; the strict and the lenient JSON scanners must agree; and the record
//! as a row of a Dexie export goes through inference (the typeson-aware walker).
#![no_main]

use libfuzzer_sys::fuzz_target;
use schema_infer::json;
use schema_infer::typeson::{self, RootForm, TypeTrie, ROOT};
use schema_infer::{InferOptions, Inferrer, UnknownTags};

mod overflow;

const HEAD: &[u8] = br#"{"formatName":"dexie","formatVersion":1,"data":{"databaseName":"f","databaseVersion":1,"tables":[{"name":"t","schema":"++id","rowCount":1},{"name":"kv","schema":"","rowCount":1}],"data":[{"tableName":"t","inbound":true,"rows":["#;
const MID: &[u8] = br#"]},{"tableName":"kv","inbound":false,"rows":[["k","#;
const TAIL: &[u8] = br#"]]}]}}"#;

fuzz_target!(|data: &[u8]| {
    overflow::arm();
    let finder = memchr::memmem::Finder::new(b"\"$types\"");
    let mut trie = TypeTrie::default();
    let start = json::skip_ws(data, 0);
    // The trie describes the record only when the root form says it is tagged.
    if let Ok(form @ (RootForm::Typed | RootForm::Wrapped { .. })) =
        typeson::analyze_root(data, start, &mut trie, &finder)
    {
        let root = match form {
            RootForm::Wrapped { value } => value,
            _ => start,
        };
        assert!(root <= data.len());
        let mut paths = Vec::new();
        trie.for_each_below(ROOT, &mut |path, chain| {
            assert!(!chain.is_empty());
            paths.push(path.to_owned());
        });
        for p in &paths {
            if let Some((at, _)) = typeson::locate(data, root, Some(&trie), p) {
                assert!(at <= data.len());
            }
        }
    }
    // Keypath escaping round-trips any key.
    if let Ok(text) = std::str::from_utf8(data) {
        for key in text.split('\n') {
            assert_eq!(typeson::unescape_component(&typeson::escape_component(key)), key);
        }
    }
    // What the strict scanner accepts, the lenient one delimits the same way.
    if let Ok(end) = json::validate_value(data, start) {
        assert!(end <= data.len());
        if matches!(data.get(start), Some(b'{' | b'[' | b'"')) {
            assert_eq!(json::skip_value(data, start), Ok(end));
        }
    }
    // The record as a Dexie row, inbound and out of line.
    let doc = [HEAD, data, MID, data, TAIL].concat();
    for unknown in [UnknownTags::Error, UnknownTags::Json] {
        let opts = InferOptions::new().with_threads(1).with_unknown_tags(unknown);
        let mut inf = Inferrer::new(opts).expect("a thread pool");
        // (The bytes may close the row and open others: any outcome but a panic is fine.)
        if inf.push(&doc).is_ok() {
            let _ = inf.finish();
        }
    }
});
