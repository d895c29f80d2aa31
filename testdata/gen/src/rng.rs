//! The seeded random stream every shape draws from.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// ChaCha8 seeded from a `u64`, with the few draws the shapes need. Every draw is defined
/// here (not by `rand`'s sampling algorithms), so the output is stable across platforms
/// and `rand` versions.
pub(crate) struct Rng(ChaCha8Rng);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed))
    }

    /// Uniform in `0..n` (Lemire's multiply-shift).
    #[inline]
    pub(crate) fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.0.next_u32()) * u64::from(n)) >> 32) as u32
    }

    /// Uniform in `lo..=hi_inclusive`.
    #[inline]
    pub(crate) fn range(&mut self, lo: u32, hi_inclusive: u32) -> u32 {
        lo + self.below(hi_inclusive - lo + 1)
    }

    /// `true` with a probability of `per_mille` / 1000.
    #[inline]
    pub(crate) fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < per_mille
    }

    /// One element of `xs`, uniformly.
    #[inline]
    pub(crate) fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u32) as usize]
    }

    /// 64 random bits.
    #[inline]
    pub(crate) fn bits(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `lo..hi` (53 random bits).
    #[inline]
    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let unit = (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        lo + (hi - lo) * unit
    }

    /// Uniform in `lo..=hi_inclusive` as a signed value.
    #[inline]
    pub(crate) fn signed(&mut self, lo: i64, hi_inclusive: i64) -> i64 {
        lo + ((u128::from(self.0.next_u64()) * (hi_inclusive - lo + 1) as u128) >> 64) as i64
    }
}
