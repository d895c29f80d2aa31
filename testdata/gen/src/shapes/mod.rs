//! The record shapes the generator writes, one module each, and the dispatch between them.

mod orders;

use crate::fmt::Dates;
use crate::Format;

/// What the generated records look like. Every shape is deterministic for a seed, and its
/// NDJSON and Dexie outputs carry the same records (Dates as ISO-8601 strings in NDJSON,
/// typeson-tagged epoch milliseconds in a Dexie export).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Shape {
    /// Web-shop orders as this generator has always written them (the default; the same
    /// bytes for the same seed and count): `giftMessage` first appears at 90% of the
    /// records, `lateKey` and a string `customerId` only in the last record. See
    /// [`OrderGen`](crate::OrderGen) for the fields.
    #[default]
    Orders,
    /// The same orders without late keys: `giftMessage` from the first record on (~25%),
    /// no `lateKey`, `customerId` an integer throughout. The drift of
    /// [`Orders`](Self::Orders) stays (~1% string `items[].qty`, ~1% numeric
    /// `shipping.zip`, ~1% integral `total`).
    OrdersSteady,
    /// [`OrdersSteady`](Self::OrdersSteady) plus late keys: `lateKey` in every record of the
    /// last 1% (and in no earlier one), and a string `customerId` in the last record.
    OrdersLate,
}

impl Shape {
    /// Every shape, in the order of the `idbsync-gen --shape` help.
    pub const ALL: [Shape; 3] = [Shape::Orders, Shape::OrdersSteady, Shape::OrdersLate];

    /// The name `idbsync-gen --shape` takes (`orders-late`, `wide-sparse`, …).
    pub fn name(self) -> &'static str {
        match self {
            Shape::Orders => "orders",
            Shape::OrdersSteady => "orders-steady",
            Shape::OrdersLate => "orders-late",
        }
    }

    /// The object store (Dexie table) the records belong to: the table of a Dexie export.
    pub fn store(self) -> &'static str {
        self.dexie().1
    }

    /// (database name, table name, Dexie schema) of the shape's Dexie export.
    pub(crate) fn dexie(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Shape::Orders | Shape::OrdersSteady | Shape::OrdersLate => {
                ("shop", "orders", "++id,customerId,created,*tags")
            }
        }
    }

    /// Average bytes per record of `format` output (measured at 1,000,000 records, seed 42).
    fn bytes_per_record(self, format: Format) -> f64 {
        match (self, format) {
            (Shape::Orders | Shape::OrdersSteady | Shape::OrdersLate, Format::Ndjson) => 394.3,
            (Shape::Orders | Shape::OrdersSteady | Shape::OrdersLate, Format::Dexie) => 419.3,
        }
    }

    /// The record count whose `format` output is about `bytes` long (within ~1% for sizes
    /// above a few MB; at least 1 record).
    pub fn records_for_size(self, bytes: u64, format: Format) -> u64 {
        ((bytes as f64 / self.bytes_per_record(format)).round() as u64).max(1)
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The record stream of one shape: each call appends one JSON object (no separator).
pub(crate) enum Records {
    Orders(orders::Orders),
}

impl Records {
    pub(crate) fn new(shape: Shape, seed: u64, count: u64) -> Self {
        match shape {
            Shape::Orders => Records::Orders(orders::Orders::new(seed, count, orders::Variant::Classic)),
            Shape::OrdersSteady => Records::Orders(orders::Orders::new(seed, count, orders::Variant::Steady)),
            Shape::OrdersLate => Records::Orders(orders::Orders::new(seed, count, orders::Variant::Late)),
        }
    }

    /// Appends the next record to `buf`; `false` (nothing appended) once all were written.
    #[inline]
    pub(crate) fn next_into(&mut self, buf: &mut Vec<u8>, dates: Dates) -> bool {
        match self {
            Records::Orders(r) => r.next_into(buf, dates),
        }
    }
}
