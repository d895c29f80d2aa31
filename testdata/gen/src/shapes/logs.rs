//! `logs`: string-heavy application log lines: long free-text messages and many distinct
//! hosts, paths, user agents and trace ids.

use std::fmt::Write as _;

use super::stream::Stream;
use crate::fmt::{push_date, push_decimal, push_str, push_u64, Dates};
use crate::rng::Rng;

/// ERROR in 5% of the lines (those carry a `stack`), WARN in 10%.
const LEVELS: &[&str] = &[
    "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "DEBUG", "DEBUG", "DEBUG",
    "DEBUG", "WARN", "WARN", "TRACE", "TRACE", "ERROR",
];
const SERVICES: &[&str] = &[
    "checkout",
    "cart",
    "catalog",
    "search",
    "auth",
    "payments",
    "shipping",
    "notifications",
    "recommendations",
    "inventory",
    "pricing",
    "reviews",
    "media",
    "gateway",
    "billing",
    "accounts",
];
const ROLES: &[&str] = &["web", "api", "worker", "cache", "edge", "batch"];
const REGIONS: &[&str] = &["eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-south-1", "ap-northeast-1"];
const METHODS: &[&str] = &["GET", "GET", "GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH"];
const RESOURCES: &[&str] =
    &["users", "orders", "carts", "products", "sessions", "invoices", "reviews", "files", "webhooks", "addresses"];
const STATUSES: &[u64] = &[
    200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 403, 404, 404, 409, 429, 500, 503,
];
const WORDS: &[&str] = &[
    "connection",
    "timeout",
    "retry",
    "request",
    "response",
    "upstream",
    "downstream",
    "cache",
    "miss",
    "hit",
    "user",
    "session",
    "token",
    "expired",
    "refreshed",
    "queue",
    "message",
    "consumer",
    "lag",
    "partition",
    "rebalanced",
    "payload",
    "validated",
    "rejected",
    "accepted",
    "order",
    "payment",
    "captured",
    "declined",
    "refund",
    "shipment",
    "label",
    "created",
    "updated",
    "deleted",
    "index",
    "rebuilt",
    "schema",
    "migration",
    "applied",
    "lock",
    "acquired",
    "released",
    "slow",
    "query",
    "took",
    "rows",
    "scanned",
    "returned",
    "pool",
    "exhausted",
    "worker",
    "started",
    "stopped",
    "health",
    "check",
    "passed",
    "failed",
    "circuit",
    "breaker",
    "open",
    "closed",
    "half-open",
    "rate",
    "limit",
    "exceeded",
    "for",
    "the",
    "a",
    "with",
    "after",
    "before",
    "while",
    "because",
    "and",
    "not",
    "on",
    "from",
    "to",
    "in",
];
/// Words that need escaping or are not ASCII, mixed into some messages.
const ODD_WORDS: &[&str] = &[
    "\"quoted value\"",
    "path\\to\\file",
    "Zürich",
    "São Paulo",
    "東京",
    "naïve café",
    "🚀",
    "tab\tseparated",
    "50%",
    "<script>",
];
const MESSAGE_WORDS: &[u32] = &[3, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64, 96, 160];
const FUNCTIONS: &[&str] = &[
    "handleRequest",
    "processPayment",
    "validateCart",
    "loadUser",
    "renderTemplate",
    "Object.<anonymous>",
    "async Promise.all",
    "Router.dispatch",
    "Database.query",
    "Queue.consume",
];
const FILES: &[&str] = &[
    "src/server/handlers.js",
    "src/payments/stripe.js",
    "src/cart/validate.js",
    "node_modules/express/lib/router/index.js",
    "src/db/pool.js",
    "src/queue/consumer.js",
];

/// The record stream: `{id, ts (Date), level, service, host, pid, traceId, method, path,
/// status, durationMs, bytes, ip, userAgent, message}`, plus `stack` on ERROR lines and
/// `userId` on ~40%. Every key appears within the first few hundred records.
pub(crate) struct Logs {
    stream: Stream,
    scratch: String,
    path: String,
}

impl Logs {
    pub(crate) fn new(seed: u64, count: u64) -> Self {
        Self { stream: Stream::new(seed, count), scratch: String::new(), path: String::new() }
    }

    /// Appends the next record; `false` once all were written.
    pub(crate) fn next_into(&mut self, buf: &mut Vec<u8>, dates: Dates) -> bool {
        let Some(id) = self.stream.next_id() else { return false };
        let ts = self.stream.tick(400);
        let rng = &mut self.stream.rng;
        let s = &mut self.scratch;
        buf.extend_from_slice(b"{\"id\":");
        push_u64(buf, id);
        buf.extend_from_slice(b",\"ts\":");
        push_date(buf, ts, dates);
        let level = rng.pick(LEVELS);
        buf.extend_from_slice(b",\"level\":");
        push_str(buf, level);
        let service = rng.pick(SERVICES);
        buf.extend_from_slice(b",\"service\":");
        push_str(buf, service);

        s.clear();
        let _ = write!(s, "{}-{:03}.{}.prod.internal", rng.pick(ROLES), rng.range(1, 400), rng.pick(REGIONS));
        buf.extend_from_slice(b",\"host\":");
        push_str(buf, s);
        buf.extend_from_slice(b",\"pid\":");
        push_u64(buf, rng.range(1_000, 65_000).into());
        buf.extend_from_slice(b",\"traceId\":");
        s.clear();
        let _ = write!(s, "{:016x}{:016x}", rng.bits(), rng.bits());
        push_str(buf, s);

        let method = rng.pick(METHODS);
        buf.extend_from_slice(b",\"method\":");
        push_str(buf, method);
        let path = &mut self.path;
        path.clear();
        push_path(rng, path);
        buf.extend_from_slice(b",\"path\":");
        push_str(buf, path);
        let status = rng.pick(STATUSES);
        buf.extend_from_slice(b",\"status\":");
        push_u64(buf, status);
        let micros = i64::from(rng.below(2_000_000)) * i64::from(rng.range(1, 4)) + 1;
        buf.extend_from_slice(b",\"durationMs\":");
        push_decimal(buf, micros, 3);
        buf.extend_from_slice(b",\"bytes\":");
        push_u64(buf, rng.below(2_000_000).into());
        s.clear();
        let _ = write!(s, "{}.{}.{}.{}", rng.range(1, 223), rng.below(256), rng.below(256), rng.range(1, 254));
        buf.extend_from_slice(b",\"ip\":");
        push_str(buf, s);
        s.clear();
        push_user_agent(rng, s);
        buf.extend_from_slice(b",\"userAgent\":");
        push_str(buf, s);

        s.clear();
        if rng.chance(400) {
            let _ = write!(s, "{method} {path} -> {status} in {} ms", micros / 1000);
        } else {
            let n = rng.pick(MESSAGE_WORDS);
            push_words(rng, s, n);
        }
        buf.extend_from_slice(b",\"message\":");
        push_str(buf, s);
        if level == "ERROR" {
            s.clear();
            s.push_str("Error: ");
            let n = rng.range(3, 10);
            push_words(rng, s, n);
            for _ in 0..rng.range(3, 14) {
                let _ = write!(
                    s,
                    "\n    at {} ({}:{}:{})",
                    rng.pick(FUNCTIONS),
                    rng.pick(FILES),
                    rng.range(1, 900),
                    rng.range(1, 80)
                );
            }
            buf.extend_from_slice(b",\"stack\":");
            push_str(buf, s);
        }
        if rng.chance(400) {
            buf.extend_from_slice(b",\"userId\":\"user-");
            push_u64(buf, rng.range(1, 2_000_000).into());
            buf.push(b'"');
        }
        if dates == Dates::EpochMillis {
            buf.extend_from_slice(b",\"$types\":{\"ts\":\"date\"}");
        }
        buf.push(b'}');
        true
    }
}

/// `/api/v2/orders/123456/items?page=3`, `/static/js/app.3f9a1c2e.js`, …
fn push_path(rng: &mut Rng, s: &mut String) {
    let _ = match rng.below(6) {
        0 => write!(s, "/static/js/app.{:08x}.js", rng.bits() as u32),
        1 => write!(s, "/search?q={}+{}&page={}", rng.pick(WORDS), rng.pick(WORDS), rng.range(1, 40)),
        2 => write!(
            s,
            "/api/v{}/{}/{}/{}",
            rng.range(1, 3),
            rng.pick(RESOURCES),
            rng.range(1, 9_999_999),
            rng.pick(RESOURCES)
        ),
        _ => write!(s, "/api/v{}/{}/{}", rng.range(1, 3), rng.pick(RESOURCES), rng.range(1, 9_999_999)),
    };
}

/// A browser's, an app's or a bot's user agent, with varied version numbers.
fn push_user_agent(rng: &mut Rng, s: &mut String) {
    let _ = match rng.below(8) {
        0..=2 => write!(
            s,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{}.0.{}.{} \
             Safari/537.36",
            rng.range(110, 131),
            rng.range(4_000, 6_999),
            rng.range(10, 200)
        ),
        3 => {
            let v = rng.range(100, 133);
            write!(s, "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0")
        }
        4 => {
            let (major, minor) = (rng.range(15, 18), rng.range(0, 6));
            write!(
                s,
                "Mozilla/5.0 (iPhone; CPU iPhone OS {major}_{minor} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like \
                 Gecko) Version/{major}.{minor} Mobile/15E148 Safari/604.1"
            )
        }
        5 => write!(
            s,
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) \
             Version/{}.{} Safari/605.1.15",
            rng.range(16, 18),
            rng.range(0, 6)
        ),
        6 => write!(
            s,
            "Mozilla/5.0 (Linux; Android {}; Pixel {}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{}.0.{}.{} \
             Mobile Safari/537.36",
            rng.range(10, 15),
            rng.range(5, 9),
            rng.range(110, 131),
            rng.range(4_000, 6_999),
            rng.range(10, 200)
        ),
        _ => match rng.below(4) {
            0 => write!(s, "curl/8.{}.{}", rng.range(0, 11), rng.range(0, 1)),
            1 => write!(s, "python-requests/2.{}.{}", rng.range(25, 32), rng.range(0, 3)),
            2 => write!(s, "okhttp/4.{}.0", rng.range(9, 12)),
            _ => write!(s, "Go-http-client/{}.{}", rng.range(1, 2), rng.range(0, 1)),
        },
    };
}

/// `n` words of free text: mostly plain, some numbers, now and then a word to escape or
/// one that is not ASCII.
fn push_words(rng: &mut Rng, s: &mut String, n: u32) {
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        match rng.below(40) {
            0 => s.push_str(rng.pick(ODD_WORDS)),
            1..=3 => {
                let _ = write!(s, "{}", rng.below(100_000));
            }
            _ => s.push_str(rng.pick(WORDS)),
        }
    }
}
