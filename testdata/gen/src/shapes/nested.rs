//! `nested`: CMS pages with objects 6 levels deep and lists of structs holding lists of
//! structs.

use super::stream::Stream;
use crate::fmt::{push_date, push_decimal, push_str, push_u64, Dates};

const DAY_MS: u32 = 86_400_000;

const TITLES: &[&str] = &[
    "Spring collection",
    "About us",
    "Shipping & returns",
    "Gift guide",
    "Careers",
    "Store locator",
    "FAQ",
    "Sustainability report",
    "New arrivals",
    "Sale",
];
const NAMES: &[&str] = &["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Cyberdyne"];
const TIERS: &[&str] = &["free", "starter", "team", "business", "enterprise"];
const POLICIES: &[&str] = &["block", "bill", "notify"];
const CURRENCIES: &[&str] = &["EUR", "USD", "GBP", "CHF"];
const PER: &[&str] = &["seat", "GB", "request"];
const KINDS: &[&str] = &["heading", "paragraph", "image", "quote", "list", "embed", "button"];
const COLORS: &[&str] = &["#111111", "#333333", "#c0392b", "#2980b9", "#27ae60", "#f39c12"];
const FONTS: &[&str] = &["Inter", "Georgia", "Roboto", "Merriweather", "system-ui"];
const TAGS: &[&str] = &["hero", "sticky", "dark", "wide", "lazy", "a11y"];
const TEXTS: &[&str] = &[
    "Free shipping on orders over 50 €",
    "Our story began in a small workshop",
    "Returns are free within 30 days",
    "Sign up for our newsletter",
    "\"Best purchase this year\" — a happy customer",
    "Made with recycled materials",
];

/// The record stream: `{id, updated (Date), title, account{id, name, org{id, name, domain,
/// plan{tier, since (Date), trialEnds? (Date), limits{seats, storageGb,
/// overage{policy, rate{amount, currency, per}}}}}}, sections[{id, title,
/// blocks[{kind, text, attrs{style{color, font{family, px}}, tags[]}}]}], meta{views, likes}}`.
pub(crate) struct Nested {
    stream: Stream,
}

impl Nested {
    pub(crate) fn new(seed: u64, count: u64) -> Self {
        Self { stream: Stream::new(seed, count) }
    }

    /// Appends the next record; `false` once all were written.
    pub(crate) fn next_into(&mut self, buf: &mut Vec<u8>, dates: Dates) -> bool {
        let Some(id) = self.stream.next_id() else { return false };
        let updated = self.stream.tick(120_000);
        let rng = &mut self.stream.rng;
        buf.extend_from_slice(b"{\"id\":");
        push_u64(buf, id);
        buf.extend_from_slice(b",\"updated\":");
        push_date(buf, updated, dates);
        buf.extend_from_slice(b",\"title\":");
        push_str(buf, rng.pick(TITLES));

        // account.org.plan.limits.overage.rate: six objects deep.
        let org = rng.below(NAMES.len() as u32) as usize;
        buf.extend_from_slice(b",\"account\":{\"id\":");
        push_u64(buf, rng.range(1, 500_000).into());
        buf.extend_from_slice(b",\"name\":");
        push_str(buf, rng.pick(NAMES));
        buf.extend_from_slice(b",\"org\":{\"id\":");
        push_u64(buf, org as u64 + 1);
        buf.extend_from_slice(b",\"name\":");
        push_str(buf, NAMES[org]);
        buf.extend_from_slice(b",\"domain\":\"");
        buf.extend_from_slice(NAMES[org].to_ascii_lowercase().as_bytes());
        buf.extend_from_slice(b".example\",\"plan\":{\"tier\":");
        push_str(buf, rng.pick(TIERS));
        buf.extend_from_slice(b",\"since\":");
        let since = updated - i64::from(rng.below(1_000)) * i64::from(DAY_MS);
        push_date(buf, since, dates);
        let trial = rng.chance(200);
        if trial {
            buf.extend_from_slice(b",\"trialEnds\":");
            push_date(buf, updated + i64::from(rng.below(30 * DAY_MS / 1000)) * 1000, dates);
        }
        buf.extend_from_slice(b",\"limits\":{\"seats\":");
        push_u64(buf, rng.range(1, 500).into());
        buf.extend_from_slice(b",\"storageGb\":");
        push_u64(buf, rng.range(1, 2_000).into());
        buf.extend_from_slice(b",\"overage\":{\"policy\":");
        push_str(buf, rng.pick(POLICIES));
        buf.extend_from_slice(b",\"rate\":{\"amount\":");
        push_decimal(buf, i64::from(rng.range(1, 999)) * 10 + 1 + i64::from(rng.below(9)), 3);
        buf.extend_from_slice(b",\"currency\":");
        push_str(buf, rng.pick(CURRENCIES));
        buf.extend_from_slice(b",\"per\":");
        push_str(buf, rng.pick(PER));
        buf.extend_from_slice(b"}}}}}}");

        // sections[].blocks[].attrs.style.font: lists of structs in lists of structs.
        buf.extend_from_slice(b",\"sections\":[");
        for i in 0..rng.range(1, 3) {
            if i > 0 {
                buf.push(b',');
            }
            buf.extend_from_slice(b"{\"id\":");
            push_u64(buf, rng.range(1, 1_000_000).into());
            buf.extend_from_slice(b",\"title\":");
            push_str(buf, rng.pick(TITLES));
            buf.extend_from_slice(b",\"blocks\":[");
            for j in 0..rng.below(4) {
                if j > 0 {
                    buf.push(b',');
                }
                buf.extend_from_slice(b"{\"kind\":");
                push_str(buf, rng.pick(KINDS));
                buf.extend_from_slice(b",\"text\":");
                push_str(buf, rng.pick(TEXTS));
                buf.extend_from_slice(b",\"attrs\":{\"style\":{\"color\":");
                push_str(buf, rng.pick(COLORS));
                buf.extend_from_slice(b",\"font\":{\"family\":");
                push_str(buf, rng.pick(FONTS));
                buf.extend_from_slice(b",\"px\":");
                push_u64(buf, rng.range(10, 48).into());
                buf.extend_from_slice(b"}},\"tags\":[");
                for k in 0..rng.below(4) {
                    if k > 0 {
                        buf.push(b',');
                    }
                    push_str(buf, rng.pick(TAGS));
                }
                buf.extend_from_slice(b"]}}");
            }
            buf.extend_from_slice(b"]}");
        }
        buf.extend_from_slice(b"],\"meta\":{\"views\":");
        push_u64(buf, rng.below(1_000_000).into());
        buf.extend_from_slice(b",\"likes\":");
        push_u64(buf, rng.below(10_000).into());
        buf.push(b'}');
        if dates == Dates::EpochMillis {
            buf.extend_from_slice(b",\"$types\":{\"updated\":\"date\",\"account.org.plan.since\":\"date\"");
            if trial {
                buf.extend_from_slice(b",\"account.org.plan.trialEnds\":\"date\"");
            }
            buf.push(b'}');
        }
        buf.push(b'}');
        true
    }
}
