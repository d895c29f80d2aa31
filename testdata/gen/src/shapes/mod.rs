//! The record shapes the generator writes, one module each, and the dispatch between them.

mod logs;
mod nested;
mod orders;
mod stream;
mod telemetry;
mod wide_sparse;

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
    /// User profiles (store `profiles`): `id`, `updated` (Date), and 200 optional keys
    /// `attr_000` … `attr_199`, each present in ~5% of the records (about 10 per record).
    /// A key's type is fixed by its number (`attr_k`, `k % 6`: integer, fractional
    /// number, short string, boolean, Date, id string).
    WideSparse,
    /// Application log lines (store `logs`), string-heavy: `id`, `ts` (Date), `level`,
    /// `service`, `host`, `pid`, `traceId`, `method`, `path`, `status`, `durationMs`,
    /// `bytes`, `ip`, `userAgent`, `message` (3 to 160 words of free text, some with quotes,
    /// backslashes, tabs or non-ASCII characters), `stack` (multi-line, on the ~5% ERROR
    /// lines) and `userId` (~40%). Hosts, paths, user agents, ips and trace ids take many
    /// distinct values.
    Logs,
    /// Device readings (store `readings`), number-heavy and flat: `id`, `ts` (Date),
    /// `device`, `fw`, `seq`, `uptimeS`, then 12 fixed-precision readings (`temp`, `lat`,
    /// …, never integral), 10 full-precision doubles (`accelX`, `gyroZ`, …) and 8 integer
    /// fields (`rssi` negative, `rxBytes` up to 2^40): 22 floats and 12 integers a record.
    Telemetry,
    /// CMS pages (store `pages`), deeply nested: `account.org.plan.limits.overage.rate`
    /// six objects deep in every record (`plan.since` a Date, `plan.trialEnds` an optional
    /// one), `sections` (1–3) each with `blocks` (0–3) of structs holding
    /// `attrs.style.font` and a `tags` list, and `meta`.
    Nested,
}

impl Shape {
    /// Every shape, in the order of the `idbsync-gen --shape` help.
    pub const ALL: [Shape; 7] = [
        Shape::Orders,
        Shape::OrdersSteady,
        Shape::OrdersLate,
        Shape::WideSparse,
        Shape::Logs,
        Shape::Telemetry,
        Shape::Nested,
    ];

    /// The name `idbsync-gen --shape` takes (`orders-late`, `wide-sparse`, …).
    pub fn name(self) -> &'static str {
        match self {
            Shape::Orders => "orders",
            Shape::OrdersSteady => "orders-steady",
            Shape::OrdersLate => "orders-late",
            Shape::WideSparse => "wide-sparse",
            Shape::Logs => "logs",
            Shape::Telemetry => "telemetry",
            Shape::Nested => "nested",
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
            Shape::WideSparse => ("crm", "profiles", "++id,updated"),
            Shape::Logs => ("ops", "logs", "++id,ts,level,service"),
            Shape::Telemetry => ("iot", "readings", "++id,ts,device"),
            Shape::Nested => ("cms", "pages", "++id,updated,account.org.id"),
        }
    }

    /// Average bytes per record of `format` output (measured at 1,000,000 records, seed 42).
    fn bytes_per_record(self, format: Format) -> f64 {
        let (ndjson, dexie) = match self {
            Shape::Orders => (394.3, 419.3),
            Shape::OrdersSteady => (404.6, 429.6),
            Shape::OrdersLate => (405.2, 430.2),
            Shape::WideSparse => (274.4, 298.6),
            Shape::Logs => (641.6, 652.6),
            Shape::Telemetry => (690.7, 701.7),
            Shape::Nested => (976.2, 1015.8),
        };
        match format {
            Format::Ndjson => ndjson,
            Format::Dexie => dexie,
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
    WideSparse(wide_sparse::WideSparse),
    Logs(logs::Logs),
    Telemetry(telemetry::Telemetry),
    Nested(nested::Nested),
}

impl Records {
    pub(crate) fn new(shape: Shape, seed: u64, count: u64) -> Self {
        match shape {
            Shape::Orders => Records::Orders(orders::Orders::new(seed, count, orders::Variant::Classic)),
            Shape::OrdersSteady => Records::Orders(orders::Orders::new(seed, count, orders::Variant::Steady)),
            Shape::OrdersLate => Records::Orders(orders::Orders::new(seed, count, orders::Variant::Late)),
            Shape::WideSparse => Records::WideSparse(wide_sparse::WideSparse::new(seed, count)),
            Shape::Logs => Records::Logs(logs::Logs::new(seed, count)),
            Shape::Telemetry => Records::Telemetry(telemetry::Telemetry::new(seed, count)),
            Shape::Nested => Records::Nested(nested::Nested::new(seed, count)),
        }
    }

    /// Appends the next record to `buf`; `false` (nothing appended) once all were written.
    #[inline]
    pub(crate) fn next_into(&mut self, buf: &mut Vec<u8>, dates: Dates) -> bool {
        match self {
            Records::Orders(r) => r.next_into(buf, dates),
            Records::WideSparse(r) => r.next_into(buf, dates),
            Records::Logs(r) => r.next_into(buf, dates),
            Records::Telemetry(r) => r.next_into(buf, dates),
            Records::Nested(r) => r.next_into(buf, dates),
        }
    }
}
