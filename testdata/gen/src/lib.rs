//! Deterministic, fast generator of records for idbsync tests and benchmarks: web-shop
//! orders by default, or another [`Shape`] (orders without or with late keys, wide sparse
//! profiles, string-heavy logs, number-heavy telemetry, deeply nested pages). It writes the
//! same records as NDJSON (Dates as ISO-8601 strings) or as a Dexie export v1 of one table
//! (Dates as epoch milliseconds tagged with typeson `"$types"`), byte-identical for a given
//! shape, seed and record count.
//!
//! ```
//! use testdata_gen::{Format, OrderGen, Shape};
//!
//! let gen = OrderGen::new().with_seed(42).with_records(100);
//!
//! let mut ndjson = Vec::new();
//! let n = gen.write_ndjson(&mut ndjson)?;
//! assert_eq!(n, ndjson.len() as u64);
//! assert_eq!(ndjson.iter().filter(|&&b| b == b'\n').count(), 100);
//! assert!(ndjson.starts_with(b"{\"id\":1,\"customerId\":"));
//!
//! let mut dexie = Vec::new();
//! gen.write(Format::Dexie, &mut dexie)?;
//! assert!(dexie.starts_with(b"{\"formatName\":\"dexie\",\"formatVersion\":1,"));
//!
//! // About 400 MB of NDJSON:
//! let big = OrderGen::new().with_target_size(400_000_000, Format::Ndjson);
//! assert!((1_000_000..1_030_000).contains(&big.records()));
//!
//! // Another shape: log lines, as a Dexie export of table `logs`.
//! let logs = OrderGen::new().with_shape(Shape::Logs).with_records(10);
//! let mut export = Vec::new();
//! logs.write_dexie(&mut export)?;
//! assert_eq!(Shape::Logs.store(), "logs");
//! assert!(String::from_utf8(export).unwrap().contains("\"tableName\":\"logs\""));
//! # Ok::<(), std::io::Error>(())
//! ```

mod fmt;
mod rng;
mod shapes;
mod writer;

pub use shapes::Shape;
pub use writer::{Format, OrderGen};
