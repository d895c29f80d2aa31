//! `wide-sparse`: user profiles with 200 optional attributes, each in about 5% of the records.

use super::stream::Stream;
use crate::fmt::{push_date, push_decimal, push_str, push_u64, Dates};

/// The number of optional keys, `attr_000` … `attr_199`.
const KEYS: u32 = 200;
/// How often each optional key is present, in records per thousand.
const PRESENT_PER_MILLE: u32 = 50;

const WORDS: &[&str] = &[
    "red", "green", "blue", "amber", "violet", "teal", "dark", "light", "compact", "wide", "de-DE", "en-GB", "fr-FR",
    "es-ES", "monthly", "weekly", "never", "always", "beta", "stable",
];

/// What the values of one optional key are: fixed per key (`attr_k` by `k % 6`), so no key
/// changes type.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Float,
    Word,
    Bool,
    Date,
    Ref,
}

const KINDS: [Kind; 6] = [Kind::Int, Kind::Float, Kind::Word, Kind::Bool, Kind::Date, Kind::Ref];

/// The record stream: `{"id", "updated" (Date), then the present `attr_NNN` in key order}`.
pub(crate) struct WideSparse {
    stream: Stream,
    /// The Date keys of the current record, for its `$types`.
    dates: Vec<u32>,
}

impl WideSparse {
    pub(crate) fn new(seed: u64, count: u64) -> Self {
        Self { stream: Stream::new(seed, count), dates: Vec::new() }
    }

    /// Appends the next record; `false` once all were written.
    pub(crate) fn next_into(&mut self, buf: &mut Vec<u8>, dates: Dates) -> bool {
        let Some(id) = self.stream.next_id() else { return false };
        let updated = self.stream.tick(20_000);
        let rng = &mut self.stream.rng;
        buf.extend_from_slice(b"{\"id\":");
        push_u64(buf, id);
        buf.extend_from_slice(b",\"updated\":");
        push_date(buf, updated, dates);
        self.dates.clear();
        for k in 0..KEYS {
            if !rng.chance(PRESENT_PER_MILLE) {
                continue;
            }
            buf.extend_from_slice(b",\"");
            push_key(buf, k);
            buf.extend_from_slice(b"\":");
            match KINDS[(k as usize) % KINDS.len()] {
                Kind::Int => push_u64(buf, rng.below(1_000_000).into()),
                // Always a fraction (never integral), as a price or a score is.
                Kind::Float => {
                    push_decimal(buf, (i64::from(rng.below(1_000_000)) * 100) + 1 + i64::from(rng.below(99)), 2)
                }
                Kind::Word => push_str(buf, rng.pick(WORDS)),
                Kind::Bool => buf.extend_from_slice(if rng.below(2) == 0 { b"false" } else { b"true" }),
                Kind::Date => {
                    push_date(buf, updated - i64::from(rng.below(2_000_000_000)), dates);
                    self.dates.push(k);
                }
                Kind::Ref => {
                    buf.extend_from_slice(b"\"u-");
                    push_u64(buf, rng.range(100_000, 999_999).into());
                    buf.push(b'"');
                }
            }
        }
        if dates == Dates::EpochMillis {
            buf.extend_from_slice(b",\"$types\":{\"updated\":\"date\"");
            for &k in &self.dates {
                buf.extend_from_slice(b",\"");
                push_key(buf, k);
                buf.extend_from_slice(b"\":\"date\"");
            }
            buf.push(b'}');
        }
        buf.push(b'}');
        true
    }
}

/// `attr_007`.
fn push_key(buf: &mut Vec<u8>, k: u32) {
    buf.extend_from_slice(b"attr_");
    buf.extend_from_slice(&[b'0' + (k / 100) as u8, b'0' + (k / 10 % 10) as u8, b'0' + (k % 10) as u8]);
}
