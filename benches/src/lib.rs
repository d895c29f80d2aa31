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

pub use testdata_gen::{Format, Shape};

/// Environment variable that overrides [`DEFAULT_RECORDS`].
pub const RECORDS_ENV: &str = "IDBSYNC_BENCH_RECORDS";

/// Environment variable naming the shapes the stage benches (infer, decode, parquet)
/// run on: comma-separated [`Shape`] names, or `all`; see [`bench_shapes`].
pub const SHAPES_ENV: &str = "IDBSYNC_BENCH_SHAPES";

/// The shapes the stage benches run on when [`SHAPES_ENV`] is unset: the orders and the
/// four other kinds of record, so that a regression on one kind shows.
pub const DEFAULT_SHAPES: [Shape; 5] = [Shape::Orders, Shape::WideSparse, Shape::Logs, Shape::Telemetry, Shape::Nested];

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

/// The shapes to bench: [`SHAPES_ENV`] if set, else [`DEFAULT_SHAPES`].
///
/// # Panics
///
/// If [`SHAPES_ENV`] names no shape, or one that is not a [`Shape`] name.
pub fn bench_shapes() -> Vec<Shape> {
    match std::env::var(SHAPES_ENV) {
        Ok(v) => parse_shapes(&v).unwrap_or_else(|e| panic!("{SHAPES_ENV}={v:?}: {e}")),
        Err(_) => DEFAULT_SHAPES.to_vec(),
    }
}

/// `a,b,…` of [`Shape`] names, or `all`.
fn parse_shapes(list: &str) -> Result<Vec<Shape>, String> {
    if list.trim() == "all" {
        return Ok(Shape::ALL.to_vec());
    }
    let shapes = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| Shape::ALL.into_iter().find(|s| s.name() == n).ok_or_else(|| format!("no shape named {n:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    if shapes.is_empty() {
        return Err("names no shape".to_owned());
    }
    Ok(shapes)
}

/// `records` generated orders (seed [`SEED`]) in `format`, in memory.
pub fn generate(format: Format, records: u64) -> Vec<u8> {
    generate_shape(Shape::Orders, format, records)
}

/// `records` generated records of `shape` (seed [`SEED`]) in `format`, in memory.
pub fn generate_shape(shape: Shape, format: Format, records: u64) -> Vec<u8> {
    let gen = OrderGen::new().with_shape(shape).with_seed(SEED).with_records(records);
    let mut buf = Vec::with_capacity((records as usize).saturating_mul(430));
    gen.write(format, &mut buf).expect("writing to a Vec cannot fail");
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse_by_name() {
        assert_eq!(parse_shapes("logs, nested").unwrap(), vec![Shape::Logs, Shape::Nested]);
        assert_eq!(parse_shapes("all").unwrap().len(), Shape::ALL.len());
        assert!(parse_shapes("logs,nope").unwrap_err().contains("nope"));
        assert!(parse_shapes(" , ").is_err());
    }

    #[test]
    fn every_shape_generates_its_records() {
        for shape in DEFAULT_SHAPES {
            let ndjson = generate_shape(shape, Format::Ndjson, 5);
            assert_eq!(ndjson.iter().filter(|&&b| b == b'\n').count(), 5, "{shape}");
        }
    }
}
