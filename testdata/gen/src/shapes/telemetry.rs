//! `telemetry`: number-heavy device readings: many float and integer fields, flat.

use super::stream::Stream;
use crate::fmt::{push_date, push_decimal, push_f64, push_i64, push_u64, Dates};

/// Sensor readings of a fixed precision: (key, low, high, decimals). The value is uniform in
/// `low..high` and never integral (JSON keeps it a fraction, as a float column's values are).
const FIXED: &[(&str, f64, f64, u32)] = &[
    ("temp", -20.0, 45.0, 2),
    ("humidity", 0.0, 100.0, 1),
    ("pressure", 950.0, 1050.0, 2),
    ("voltage", 3.0, 4.2, 3),
    ("current", 0.01, 2.5, 3),
    ("power", 0.05, 10.0, 3),
    ("lat", 35.0, 60.0, 6),
    ("lon", -10.0, 30.0, 6),
    ("alt", -50.0, 2500.0, 1),
    ("speed", 0.0, 130.0, 2),
    ("heading", 0.0, 360.0, 1),
    ("snr", -5.0, 30.0, 1),
];
/// Computed values at full double precision (`0.7309677873766542`): (key, low, high).
const FULL: &[(&str, f64, f64)] = &[
    ("accelX", -20.0, 20.0),
    ("accelY", -20.0, 20.0),
    ("accelZ", -20.0, 20.0),
    ("gyroX", -250.0, 250.0),
    ("gyroY", -250.0, 250.0),
    ("gyroZ", -250.0, 250.0),
    ("magX", -100.0, 100.0),
    ("magY", -100.0, 100.0),
    ("magZ", -100.0, 100.0),
    ("cpuLoad", 0.001, 1.0),
];
/// Integer fields: (key, low, high inclusive).
const INTS: &[(&str, i64, i64)] = &[
    ("rssi", -110, -30),
    ("battery", 0, 100),
    ("satellites", 0, 14),
    ("memUsedKb", 10_000, 4_000_000),
    ("rxBytes", 0, 1 << 40),
    ("txBytes", 0, 1 << 38),
    ("packetsLost", 0, 500),
    ("errors", 0, 3),
];

/// The record stream: `{id, ts (Date), device, fw, seq, uptimeS}`, then the fixed-precision
/// readings, the full-precision ones and the integer counters of the tables above.
pub(crate) struct Telemetry {
    stream: Stream,
}

impl Telemetry {
    pub(crate) fn new(seed: u64, count: u64) -> Self {
        Self { stream: Stream::new(seed, count) }
    }

    /// Appends the next record; `false` once all were written.
    pub(crate) fn next_into(&mut self, buf: &mut Vec<u8>, dates: Dates) -> bool {
        let Some(id) = self.stream.next_id() else { return false };
        let ts = self.stream.tick(200);
        let rng = &mut self.stream.rng;
        buf.extend_from_slice(b"{\"id\":");
        push_u64(buf, id);
        buf.extend_from_slice(b",\"ts\":");
        push_date(buf, ts, dates);
        buf.extend_from_slice(b",\"device\":\"dev-");
        push_u64(buf, rng.range(10_000, 14_999).into());
        buf.extend_from_slice(b"\",\"fw\":");
        push_u64(buf, rng.range(100, 140).into());
        buf.extend_from_slice(b",\"seq\":");
        push_u64(buf, id * 7 + u64::from(rng.below(7)));
        buf.extend_from_slice(b",\"uptimeS\":");
        push_u64(buf, rng.below(40_000_000).into());
        for &(key, lo, hi, decimals) in FIXED {
            push_key(buf, key);
            let pow = 10i64.pow(decimals);
            let mut scaled = rng.signed((lo * pow as f64) as i64, (hi * pow as f64) as i64);
            if scaled % pow == 0 {
                scaled += 1;
            }
            push_decimal(buf, scaled, decimals);
        }
        for &(key, lo, hi) in FULL {
            push_key(buf, key);
            push_f64(buf, rng.uniform(lo, hi));
        }
        for &(key, lo, hi) in INTS {
            push_key(buf, key);
            push_i64(buf, rng.signed(lo, hi));
        }
        if dates == Dates::EpochMillis {
            buf.extend_from_slice(b",\"$types\":{\"ts\":\"date\"}");
        }
        buf.push(b'}');
        true
    }
}

/// `,"key":`.
#[inline]
fn push_key(buf: &mut Vec<u8>, key: &str) {
    buf.extend_from_slice(b",\"");
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(b"\":");
}
