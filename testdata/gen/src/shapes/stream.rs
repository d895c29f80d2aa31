//! What the record streams other than the orders keep alike: their random numbers, the
//! next id, and a clock that moves forward from [`START_MS`] a random step per record.

use crate::rng::Rng;

/// 2024-01-01T00:00:00.000Z in epoch milliseconds: the time of every shape's first record.
pub(crate) const START_MS: i64 = 1_704_067_200_000;

/// A stream of `count` records with ids from 1.
pub(crate) struct Stream {
    pub(crate) rng: Rng,
    count: u64,
    next_id: u64,
    /// The current record's time (its `ts` or `updated`).
    clock_ms: i64,
}

impl Stream {
    pub(crate) fn new(seed: u64, count: u64) -> Self {
        Self { rng: Rng::new(seed), count, next_id: 1, clock_ms: START_MS }
    }

    /// The next record's id, or `None` once all `count` were given.
    pub(crate) fn next_id(&mut self) -> Option<u64> {
        let id = self.next_id;
        (id <= self.count).then(|| {
            self.next_id += 1;
            id
        })
    }

    /// Moves the clock on by a draw below `max_step_ms`, and gives the new time.
    pub(crate) fn tick(&mut self, max_step_ms: u32) -> i64 {
        self.clock_ms += i64::from(self.rng.below(max_step_ms));
        self.clock_ms
    }
}
