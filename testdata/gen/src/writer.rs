//! `OrderGen`: the builder, and the NDJSON / Dexie framing of a shape's records.

use std::io::{self, Write};

use crate::fmt::{push_u64, Dates};
use crate::shapes::{Records, Shape};

/// Output flush threshold of the internal buffer.
const FLUSH_AT: usize = 1 << 18;

/// An output format of [`OrderGen`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// One JSON record per line; Dates as ISO-8601 strings (`2024-03-01T00:00:00.000Z`).
    Ndjson,
    /// A Dexie export v1 (npm `dexie-export-import`) of one table (orders: database `shop`,
    /// table `orders`; see [`Shape::store`]); Dates as epoch milliseconds tagged by a typeson
    /// `"$types"` object.
    Dexie,
}

/// Deterministic generator of test records: web-shop orders by default, or another
/// [`Shape`].
///
/// The same `(shape, seed, records)` always produces byte-identical output, and
/// [`write_ndjson`](Self::write_ndjson) and [`write_dexie`](Self::write_dexie)
/// carry the same records. The default shape, [`Shape::Orders`], writes what this
/// generator has always written. Each order has, in this order: `id` (1..=N),
/// `customerId`, `created` (Date), `status`, `currency`, `total`, `items`
/// (1–5 × `{sku, qty, price}`), `shipping` (`{city, zip, method, eta}`, `eta` a Date),
/// `tags` (0–4 strings) and the optional `coupon` (~30%), `giftMessage` (only in
/// the last 10% of records) and `lateKey` (only in the last record).
///
/// Deliberate drift: ~1% of records have one `items[].qty` as a string, ~1% have
/// `shipping.zip` as a number, ~1% have an integral `total`, and in the last record
/// `customerId` is a string. The other shapes are described at [`Shape`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderGen {
    shape: Shape,
    seed: u64,
    records: u64,
}

impl Default for OrderGen {
    fn default() -> Self {
        Self::new()
    }
}

impl OrderGen {
    /// Seed used by [`OrderGen::new`].
    pub const DEFAULT_SEED: u64 = 42;
    /// Record count used by [`OrderGen::new`].
    pub const DEFAULT_RECORDS: u64 = 1000;

    /// A generator of [`DEFAULT_RECORDS`](Self::DEFAULT_RECORDS) orders ([`Shape::Orders`])
    /// with seed [`DEFAULT_SEED`](Self::DEFAULT_SEED).
    pub fn new() -> Self {
        Self { shape: Shape::Orders, seed: Self::DEFAULT_SEED, records: Self::DEFAULT_RECORDS }
    }

    /// Sets the shape of the records (set it before
    /// [`with_target_size`](Self::with_target_size), which depends on it).
    pub fn with_shape(mut self, shape: Shape) -> Self {
        self.shape = shape;
        self
    }

    /// Sets the seed of the random stream.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the number of records.
    pub fn with_records(mut self, records: u64) -> Self {
        self.records = records;
        self
    }

    /// Sets the number of records so that `format` output of the current shape is about
    /// `bytes` long (see [`Shape::records_for_size`]).
    pub fn with_target_size(self, bytes: u64, format: Format) -> Self {
        let records = self.shape.records_for_size(bytes, format);
        self.with_records(records)
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The number of records.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The record count whose `format` output of [`Shape::Orders`] is about `bytes` long
    /// (within ~1% for sizes above a few MB; at least 1 record).
    pub fn records_for_size(bytes: u64, format: Format) -> u64 {
        Shape::Orders.records_for_size(bytes, format)
    }

    /// Writes the records in `format`; returns the number of bytes written.
    pub fn write(&self, format: Format, w: impl Write) -> io::Result<u64> {
        match format {
            Format::Ndjson => self.write_ndjson(w),
            Format::Dexie => self.write_dexie(w),
        }
    }

    /// Writes one JSON record per line (each line ends in `\n`), Dates as ISO-8601
    /// strings; returns the number of bytes written. Buffers internally, so `w`
    /// need not be a `BufWriter`.
    pub fn write_ndjson(&self, w: impl Write) -> io::Result<u64> {
        let mut out = Out::new(w);
        let mut records = Records::new(self.shape, self.seed, self.records);
        while records.next_into(&mut out.buf, Dates::Iso) {
            out.buf.push(b'\n');
            out.maybe_flush()?;
        }
        out.finish()
    }

    /// Writes a Dexie export v1 of one table (the shape's, see [`Shape::store`]) with one
    /// row per line (rows joined by `",\n"`), Dates as epoch milliseconds and a typeson
    /// `"$types"` object as the last key of each row that has a Date; returns the number
    /// of bytes written. Buffers internally.
    pub fn write_dexie(&self, w: impl Write) -> io::Result<u64> {
        let (database, table, schema) = self.shape.dexie();
        let mut out = Out::new(w);
        out.buf.extend_from_slice(b"{\"formatName\":\"dexie\",\"formatVersion\":1,\"data\":{\"databaseName\":\"");
        out.buf.extend_from_slice(database.as_bytes());
        out.buf.extend_from_slice(b"\",\"databaseVersion\":1,\"tables\":[{\"name\":\"");
        out.buf.extend_from_slice(table.as_bytes());
        out.buf.extend_from_slice(b"\",\"schema\":\"");
        out.buf.extend_from_slice(schema.as_bytes());
        out.buf.extend_from_slice(b"\",\"rowCount\":");
        push_u64(&mut out.buf, self.records);
        out.buf.extend_from_slice(b"}],\"data\":[{\"tableName\":\"");
        out.buf.extend_from_slice(table.as_bytes());
        out.buf.extend_from_slice(b"\",\"inbound\":true,\"rows\":[");
        let mut records = Records::new(self.shape, self.seed, self.records);
        let mut first = true;
        loop {
            let row_start = out.buf.len();
            if !first {
                out.buf.extend_from_slice(b",\n");
            }
            if !records.next_into(&mut out.buf, Dates::EpochMillis) {
                out.buf.truncate(row_start);
                break;
            }
            first = false;
            out.maybe_flush()?;
        }
        out.buf.extend_from_slice(b"]}]}}");
        out.finish()
    }
}

/// A byte buffer in front of the caller's writer that counts what it writes.
struct Out<W: Write> {
    w: W,
    buf: Vec<u8>,
    written: u64,
}

impl<W: Write> Out<W> {
    fn new(w: W) -> Self {
        Self { w, buf: Vec::with_capacity(FLUSH_AT + 4096), written: 0 }
    }

    #[inline]
    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        self.w.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> io::Result<u64> {
        self.flush_buf()?;
        self.w.flush()?;
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returned_byte_count_matches() {
        let g = OrderGen::new().with_records(3000);
        for f in [Format::Ndjson, Format::Dexie] {
            let mut v = Vec::new();
            assert_eq!(g.write(f, &mut v).unwrap(), v.len() as u64);
        }
    }

    #[test]
    fn zero_records() {
        let g = OrderGen::new().with_records(0);
        let mut v = Vec::new();
        assert_eq!(g.write_ndjson(&mut v).unwrap(), 0);
        v.clear();
        g.write_dexie(&mut v).unwrap();
        assert!(v.ends_with(b"\"rowCount\":0}],\"data\":[{\"tableName\":\"orders\",\"inbound\":true,\"rows\":[]}]}}"));
    }

    #[test]
    fn records_for_size_is_at_least_one() {
        assert_eq!(OrderGen::records_for_size(0, Format::Ndjson), 1);
        assert_eq!(OrderGen::records_for_size(394_300_000, Format::Ndjson), 1_000_000);
        assert_eq!(OrderGen::records_for_size(419_300_000, Format::Dexie), 1_000_000);
    }
}
