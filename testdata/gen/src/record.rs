//! The order record model and the seeded stream that produces it.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 2024-01-01T00:00:00.000Z in epoch milliseconds: `created` of the first order.
const START_MS: i64 = 1_704_067_200_000;
const DAY_MS: i64 = 86_400_000;

const STATUSES: &[&str] =
    &["delivered", "delivered", "delivered", "shipped", "shipped", "paid", "pending", "cancelled", "refunded"];
const CURRENCIES: &[&str] = &["EUR", "EUR", "EUR", "USD", "USD", "GBP", "CHF", "SEK", "PLN"];
const METHODS: &[&str] = &["standard", "standard", "express", "pickup", "next-day"];
const CITIES: &[&str] = &[
    "Berlin",
    "Hamburg",
    "Munich",
    "Cologne",
    "Frankfurt",
    "Stuttgart",
    "Leipzig",
    "Dresden",
    "Vienna",
    "Zurich",
    "Amsterdam",
    "Rotterdam",
    "Paris",
    "Lyon",
    "Madrid",
    "Barcelona",
    "Lisbon",
    "Milan",
    "Warsaw",
    "Copenhagen",
    "Stockholm",
    "Dublin",
    "London",
    "New York",
    "San Francisco",
    "Düsseldorf",
    "Malmö",
    "Kraków",
    "São Paulo",
    "Zürich",
];
const TAGS: &[&str] = &[
    "gift",
    "prime",
    "b2b",
    "newsletter",
    "first-order",
    "mobile",
    "app",
    "sale",
    "bundle",
    "wholesale",
    "returning",
    "priority",
];
const COUPONS: &[&str] = &["SPRING10", "WELCOME5", "FREESHIP", "VIP20", "BLACKFRIDAY", "BUNDLE15"];
const GIFT_MESSAGES: &[&str] = &[
    "Happy birthday!",
    "Congratulations on the new home \u{1f3e0}",
    "With love from \"the whole team\"",
    "Merry Christmas\nand a happy new year",
    "Thank you for everything",
];
const SKU_PREFIXES: &[&str] = &["BK", "EL", "HM", "TY", "SP", "GD", "CL", "FD"];
const PRICE_ENDINGS: &[u64] = &[99, 99, 95, 49, 50, 90, 25, 5];

/// One line item of an order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Item {
    pub sku_prefix: &'static str,
    pub sku_number: u32,
    pub qty: u32,
    /// Type drift: `qty` is written as a string (`"3"`).
    pub qty_as_string: bool,
    pub price_cents: u64,
}

/// One order; string fields borrow from static tables so refilling allocates nothing.
#[derive(Clone, Debug, Default)]
pub(crate) struct Order {
    pub id: u64,
    pub customer_id: u32,
    /// Type change in the very last record: `customerId` is a string.
    pub customer_id_as_string: bool,
    pub created_ms: i64,
    pub status: &'static str,
    pub currency: &'static str,
    pub total_cents: u64,
    pub items: Vec<Item>,
    pub city: &'static str,
    pub zip: u32,
    /// Type drift: `shipping.zip` is written as a number.
    pub zip_as_number: bool,
    pub method: &'static str,
    pub eta_ms: i64,
    pub tags: Vec<&'static str>,
    pub coupon: Option<&'static str>,
    pub gift_message: Option<&'static str>,
    pub late_key: Option<&'static str>,
}

/// Deterministic stream of orders `1..=count` for one seed.
pub(crate) struct OrderStream {
    rng: ChaCha8Rng,
    count: u64,
    next_id: u64,
    /// First id allowed to carry `giftMessage` (the last 10% of the records).
    gift_from: u64,
    created_ms: i64,
}

impl OrderStream {
    pub(crate) fn new(seed: u64, count: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            count,
            next_id: 1,
            gift_from: count - count.div_ceil(10) + 1,
            created_ms: START_MS,
        }
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; stable across platforms and
    /// independent of `rand`'s sampling algorithms).
    #[inline]
    fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.rng.next_u32()) * u64::from(n)) >> 32) as u32
    }

    #[inline]
    fn range(&mut self, lo: u32, hi_inclusive: u32) -> u32 {
        lo + self.below(hi_inclusive - lo + 1)
    }

    #[inline]
    fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < per_mille
    }

    #[inline]
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u32) as usize]
    }

    /// Overwrites `o` with the next order; `false` once all orders were produced.
    pub(crate) fn next_into(&mut self, o: &mut Order) -> bool {
        if self.next_id > self.count {
            return false;
        }
        let id = self.next_id;
        self.next_id += 1;
        let last = id == self.count;

        o.id = id;
        o.customer_id = self.range(1, 250_000);
        o.customer_id_as_string = last;
        // Orders arrive in time order, on average one every 30 s.
        self.created_ms += i64::from(self.below(60_000));
        o.created_ms = self.created_ms;
        o.status = self.pick(STATUSES);
        o.currency = self.pick(CURRENCIES);

        let n_items = [1, 1, 2, 2, 3, 3, 4, 4, 5][self.below(9) as usize];
        o.items.clear();
        let mut total = 0;
        for _ in 0..n_items {
            let price_cents = u64::from(self.range(2, 149)) * 100 + self.pick(PRICE_ENDINGS);
            let qty = [1, 1, 1, 1, 2, 2, 3, 4, 10][self.below(9) as usize];
            total += price_cents * u64::from(qty);
            o.items.push(Item {
                sku_prefix: self.pick(SKU_PREFIXES),
                sku_number: self.range(100_000, 999_999),
                qty,
                qty_as_string: false,
                price_cents,
            });
        }
        if self.chance(10) {
            let i = self.below(n_items) as usize;
            o.items[i].qty_as_string = true;
        }
        // ~1% of totals are whole numbers (integer in JSON: numeric widening); the
        // others are kept fractional so that the drift rate stays controlled.
        if self.chance(10) {
            total = total.div_ceil(100) * 100;
        } else if total % 100 == 0 {
            total += 99;
        }
        o.total_cents = total;

        o.city = self.pick(CITIES);
        o.zip = self.range(10_000, 99_999);
        o.zip_as_number = self.chance(10);
        o.method = self.pick(METHODS);
        o.eta_ms = o.created_ms + i64::from(self.range(1, 7)) * DAY_MS - i64::from(self.below(43_200_000));

        let n_tags = [0, 1, 1, 2, 2, 3, 3, 4, 4][self.below(9) as usize];
        o.tags.clear();
        while o.tags.len() < n_tags {
            let t = self.pick(TAGS);
            if !o.tags.contains(&t) {
                o.tags.push(t);
            }
        }

        o.coupon = self.chance(300).then(|| self.pick(COUPONS));
        let gift = self.chance(250);
        let gift_message = self.pick(GIFT_MESSAGES);
        // Guarantee an appearance at the start of the late window.
        o.gift_message = (id >= self.gift_from && (gift || id == self.gift_from)).then_some(gift_message);
        o.late_key = last.then_some("seen only in the very last record");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(seed: u64, count: u64) -> Vec<Order> {
        let mut s = OrderStream::new(seed, count);
        let mut out = Vec::new();
        let mut o = Order::default();
        while s.next_into(&mut o) {
            out.push(o.clone());
        }
        out
    }

    #[test]
    fn ids_count_and_time_order() {
        let v = all(7, 500);
        assert_eq!(v.len(), 500);
        assert!(v.iter().enumerate().all(|(i, o)| o.id == i as u64 + 1));
        assert!(v.windows(2).all(|w| w[0].created_ms <= w[1].created_ms));
        assert!(v.iter().all(|o| (1..=5).contains(&o.items.len()) && o.tags.len() <= 4));
    }

    #[test]
    fn gift_message_only_in_last_tenth() {
        for n in [1, 9, 10, 11, 1000] {
            let v = all(1, n);
            let first = v.iter().position(|o| o.gift_message.is_some()).unwrap();
            assert!(first as u64 >= n - n.div_ceil(10), "n={n} first={first}");
        }
    }

    #[test]
    fn drift_rates_are_about_one_percent() {
        let v = all(42, 20_000);
        let qty = v.iter().filter(|o| o.items.iter().any(|i| i.qty_as_string)).count();
        let zip = v.iter().filter(|o| o.zip_as_number).count();
        let coupon = v.iter().filter(|o| o.coupon.is_some()).count();
        assert!((100..300).contains(&qty), "{qty}");
        assert!((100..300).contains(&zip), "{zip}");
        assert!((5_500..6_500).contains(&coupon), "{coupon}");
        assert_eq!(v.iter().filter(|o| o.customer_id_as_string).count(), 1);
        assert_eq!(v.iter().filter(|o| o.late_key.is_some()).count(), 1);
    }
}
