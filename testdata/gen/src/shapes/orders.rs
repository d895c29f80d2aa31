//! `orders`: the web-shop order model, the seeded stream that produces it, and its JSON.

use super::stream::START_MS;
use crate::fmt::{push_cents, push_date, push_str, push_u64, push_u64_quoted_if, Dates};
use crate::rng::Rng;

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
    /// Type change in the last record (`orders`, `orders-late`): `customerId` is a string.
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

/// Where an orders shape puts its late keys and its type change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    /// `orders`, as the generator has always written them: `giftMessage` only in the last
    /// 10% of the records, `lateKey` and a string `customerId` only in the last record.
    Classic,
    /// `orders-steady`: every key and type from the first records on: `giftMessage` from
    /// the first record, no `lateKey`, `customerId` an integer throughout.
    Steady,
    /// `orders-late`: `orders-steady` plus `lateKey` in every record of the last 1%, and a
    /// string `customerId` in the last record.
    Late,
}

/// Deterministic stream of orders `1..=count` for one seed.
pub(crate) struct OrderStream {
    rng: Rng,
    count: u64,
    next_id: u64,
    /// First id allowed to carry `giftMessage`.
    gift_from: u64,
    /// First id that carries `lateKey` (`u64::MAX`: none).
    late_from: u64,
    late_value: &'static str,
    /// Whether the last record's `customerId` is a string.
    retype_last: bool,
    created_ms: i64,
}

impl OrderStream {
    pub(crate) fn new(seed: u64, count: u64, variant: Variant) -> Self {
        let (gift_from, late_from, late_value, retype_last) = match variant {
            Variant::Classic => (count - count.div_ceil(10) + 1, count, "seen only in the very last record", true),
            Variant::Steady => (1, u64::MAX, "", false),
            Variant::Late => (1, count - count.div_ceil(100) + 1, "seen only in the last 1% of the records", true),
        };
        Self {
            rng: Rng::new(seed),
            count,
            next_id: 1,
            gift_from,
            late_from,
            late_value,
            retype_last,
            created_ms: START_MS,
        }
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
        o.customer_id = self.rng.range(1, 250_000);
        o.customer_id_as_string = last && self.retype_last;
        // Orders arrive in time order, on average one every 30 s.
        self.created_ms += i64::from(self.rng.below(60_000));
        o.created_ms = self.created_ms;
        o.status = self.rng.pick(STATUSES);
        o.currency = self.rng.pick(CURRENCIES);

        let n_items = [1, 1, 2, 2, 3, 3, 4, 4, 5][self.rng.below(9) as usize];
        o.items.clear();
        let mut total = 0;
        for _ in 0..n_items {
            let price_cents = u64::from(self.rng.range(2, 149)) * 100 + self.rng.pick(PRICE_ENDINGS);
            let qty = [1, 1, 1, 1, 2, 2, 3, 4, 10][self.rng.below(9) as usize];
            total += price_cents * u64::from(qty);
            o.items.push(Item {
                sku_prefix: self.rng.pick(SKU_PREFIXES),
                sku_number: self.rng.range(100_000, 999_999),
                qty,
                qty_as_string: false,
                price_cents,
            });
        }
        if self.rng.chance(10) {
            let i = self.rng.below(n_items) as usize;
            o.items[i].qty_as_string = true;
        }
        // ~1% of totals are whole numbers (integer in JSON: numeric widening); the
        // others are kept fractional so that the drift rate stays controlled.
        if self.rng.chance(10) {
            total = total.div_ceil(100) * 100;
        } else if total % 100 == 0 {
            total += 99;
        }
        o.total_cents = total;

        o.city = self.rng.pick(CITIES);
        o.zip = self.rng.range(10_000, 99_999);
        o.zip_as_number = self.rng.chance(10);
        o.method = self.rng.pick(METHODS);
        o.eta_ms = o.created_ms + i64::from(self.rng.range(1, 7)) * DAY_MS - i64::from(self.rng.below(43_200_000));

        let n_tags = [0, 1, 1, 2, 2, 3, 3, 4, 4][self.rng.below(9) as usize];
        o.tags.clear();
        while o.tags.len() < n_tags {
            let t = self.rng.pick(TAGS);
            if !o.tags.contains(&t) {
                o.tags.push(t);
            }
        }

        o.coupon = self.rng.chance(300).then(|| self.rng.pick(COUPONS));
        let gift = self.rng.chance(250);
        let gift_message = self.rng.pick(GIFT_MESSAGES);
        // Guarantee an appearance at the start of the late window.
        o.gift_message = (id >= self.gift_from && (gift || id == self.gift_from)).then_some(gift_message);
        o.late_key = (id >= self.late_from).then_some(self.late_value);
        true
    }
}

/// The records of an orders shape, one JSON object at a time.
pub(crate) struct Orders {
    stream: OrderStream,
    order: Order,
}

impl Orders {
    pub(crate) fn new(seed: u64, count: u64, variant: Variant) -> Self {
        Self { stream: OrderStream::new(seed, count, variant), order: Order::default() }
    }

    /// Appends the next record; `false` once all were written.
    pub(crate) fn next_into(&mut self, buf: &mut Vec<u8>, dates: Dates) -> bool {
        if !self.stream.next_into(&mut self.order) {
            return false;
        }
        push_record(buf, &self.order, dates);
        true
    }
}

/// Appends `o` as one JSON object (no line end), Dates as `dates` says.
fn push_record(buf: &mut Vec<u8>, o: &Order, dates: Dates) {
    buf.extend_from_slice(b"{\"id\":");
    push_u64(buf, o.id);
    buf.extend_from_slice(b",\"customerId\":");
    push_u64_quoted_if(buf, o.customer_id.into(), o.customer_id_as_string);
    buf.extend_from_slice(b",\"created\":");
    push_date(buf, o.created_ms, dates);
    buf.extend_from_slice(b",\"status\":");
    push_str(buf, o.status);
    buf.extend_from_slice(b",\"currency\":");
    push_str(buf, o.currency);
    buf.extend_from_slice(b",\"total\":");
    push_cents(buf, o.total_cents);
    buf.extend_from_slice(b",\"items\":[");
    for (i, it) in o.items.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(b"{\"sku\":\"SKU-");
        buf.extend_from_slice(it.sku_prefix.as_bytes());
        buf.push(b'-');
        push_u64(buf, it.sku_number.into());
        buf.extend_from_slice(b"\",\"qty\":");
        push_u64_quoted_if(buf, it.qty.into(), it.qty_as_string);
        buf.extend_from_slice(b",\"price\":");
        push_cents(buf, it.price_cents);
        buf.push(b'}');
    }
    buf.extend_from_slice(b"],\"shipping\":{\"city\":");
    push_str(buf, o.city);
    buf.extend_from_slice(b",\"zip\":");
    push_u64_quoted_if(buf, o.zip.into(), !o.zip_as_number);
    buf.extend_from_slice(b",\"method\":");
    push_str(buf, o.method);
    buf.extend_from_slice(b",\"eta\":");
    push_date(buf, o.eta_ms, dates);
    buf.extend_from_slice(b"},\"tags\":[");
    for (i, t) in o.tags.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        push_str(buf, t);
    }
    buf.push(b']');
    if let Some(c) = o.coupon {
        buf.extend_from_slice(b",\"coupon\":");
        push_str(buf, c);
    }
    if let Some(g) = o.gift_message {
        buf.extend_from_slice(b",\"giftMessage\":");
        push_str(buf, g);
    }
    if let Some(l) = o.late_key {
        buf.extend_from_slice(b",\"lateKey\":");
        push_str(buf, l);
    }
    if dates == Dates::EpochMillis {
        buf.extend_from_slice(b",\"$types\":{\"created\":\"date\",\"shipping.eta\":\"date\"}");
    }
    buf.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(seed: u64, count: u64) -> Vec<Order> {
        variant(seed, count, Variant::Classic)
    }

    fn variant(seed: u64, count: u64, variant: Variant) -> Vec<Order> {
        let mut s = OrderStream::new(seed, count, variant);
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

    #[test]
    fn steady_orders_have_every_key_early_and_no_type_change() {
        let v = variant(42, 5_000, Variant::Steady);
        assert!(v[0].gift_message.is_some());
        assert!(v.iter().all(|o| o.late_key.is_none() && !o.customer_id_as_string));
        let gifts = v.iter().filter(|o| o.gift_message.is_some()).count();
        assert!((1_000..1_500).contains(&gifts), "{gifts}");
    }

    #[test]
    fn late_orders_add_late_key_in_the_last_percent_and_retype_the_last_record() {
        for n in [1, 99, 100, 101, 5_000] {
            let v = variant(n, n, Variant::Late);
            let late: Vec<u64> = v.iter().filter(|o| o.late_key.is_some()).map(|o| o.id).collect();
            let from = n - n.div_ceil(100) + 1;
            assert_eq!(late, (from..=n).collect::<Vec<_>>(), "n={n}");
            let retyped: Vec<u64> = v.iter().filter(|o| o.customer_id_as_string).map(|o| o.id).collect();
            assert_eq!(retyped, [n], "n={n}");
            assert!(v[0].gift_message.is_some());
        }
    }
}
