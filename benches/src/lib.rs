//! Shared helpers for the criterion benches in `benches/benches/`: the record count
//! to bench with and the generated inputs, made once in memory (never on disk).
//!
//! ```
//! use idbsync_benches::{generate, Format};
//!
//! let ndjson = generate(Format::Ndjson, 10);
//! assert_eq!(ndjson.iter().filter(|&&b| b == b'\n').count(), 10);
//! let dexie = generate(Format::Dexie, 10);
//! assert!(dexie.starts_with(b"{\"formatName\":\"dexie\""));
//! ```
#![warn(missing_docs)]

use testdata_gen::OrderGen;

pub use testdata_gen::Format;

/// Environment variable that overrides [`DEFAULT_RECORDS`].
pub const RECORDS_ENV: &str = "IDBSYNC_BENCH_RECORDS";

/// Records generated per input when [`RECORDS_ENV`] is unset (about 39 MB of NDJSON).
pub const DEFAULT_RECORDS: u64 = 100_000;

/// Seed of the generated inputs, so every run benches the same bytes.
pub const SEED: u64 = 42;

/// The record count to bench with: [`RECORDS_ENV`] if set, else [`DEFAULT_RECORDS`].
///
/// # Panics
///
/// If [`RECORDS_ENV`] is set but is not a positive integer (`_` separators allowed).
pub fn bench_records() -> u64 {
    match std::env::var(RECORDS_ENV) {
        Ok(v) => match v.trim().replace('_', "").parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => panic!("{RECORDS_ENV}={v:?}: expected a positive record count"),
        },
        Err(_) => DEFAULT_RECORDS,
    }
}

/// `records` generated orders (seed [`SEED`]) in `format`, in memory.
pub fn generate(format: Format, records: u64) -> Vec<u8> {
    let gen = OrderGen::new().with_seed(SEED).with_records(records);
    let mut buf = Vec::with_capacity((records as usize).saturating_mul(430));
    gen.write(format, &mut buf).expect("writing to a Vec cannot fail");
    buf
}
