//! `/metrics` in Prometheus text format: requests by route and status, bytes in and
//! out, rows upserted and deleted, commits, refused batches, and a latency histogram
//! per route. A handful of counters: written here rather than pulling in a metrics
//! framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    upserted: AtomicU64,
    deleted: AtomicU64,
    commits: AtomicU64,
    conflicts: AtomicU64,
}

impl Metrics {
    /// A request to `route` answered `status` after `took`.
    pub fn request(&self, route: &str, status: u16, took: Duration) {
        *self.requests.lock().expect("metrics lock").entry((route.to_owned(), status)).or_default() += 1;
        let s = took.as_secs_f64();
        let mut l = self.latency.lock().expect("metrics lock");
        let h = l.entry(route.to_owned()).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += s;
    }
    /// Request body bytes received.
    pub fn bytes_in(&self, n: u64) {
        self.bytes_in.fetch_add(n, Ordering::Relaxed);
    }
    /// Response body bytes sent.
    pub fn bytes_out(&self, n: u64) {
        self.bytes_out.fetch_add(n, Ordering::Relaxed);
    }
    /// Rows a push upserted and deleted.
    pub fn rows(&self, upserted: u64, deleted: u64) {
        self.upserted.fetch_add(upserted, Ordering::Relaxed);
        self.deleted.fetch_add(deleted, Ordering::Relaxed);
    }
    /// Table commits made.
    pub fn commits(&self, n: u64) {
        self.commits.fetch_add(n, Ordering::Relaxed);
    }
    /// A batch refused as older than the last one applied.
    pub fn conflict(&self) {
        self.conflicts.fetch_add(1, Ordering::Relaxed);
    }

    /// The text `/metrics` answers.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let counter = |s: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        };
        let _ = writeln!(s, "# HELP idbsync_requests_total Requests answered, by route and status.");
        let _ = writeln!(s, "# TYPE idbsync_requests_total counter");
        for ((route, status), n) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(s, "idbsync_requests_total{{route=\"{}\",status=\"{status}\"}} {n}", esc(route));
        }
        counter(&mut s, "idbsync_request_bytes_total", "Request body bytes received.", &self.bytes_in);
        counter(&mut s, "idbsync_response_bytes_total", "Pull answer bytes sent.", &self.bytes_out);
        counter(&mut s, "idbsync_rows_upserted_total", "Rows inserted or updated by pushes.", &self.upserted);
        counter(&mut s, "idbsync_rows_deleted_total", "Rows deleted by pushes.", &self.deleted);
        counter(&mut s, "idbsync_commits_total", "Table versions committed by pushes.", &self.commits);
        counter(&mut s, "idbsync_conflicts_total", "Batches refused as older than the last applied.", &self.conflicts);
        let _ = writeln!(s, "# HELP idbsync_request_duration_seconds Time to answer, by route.");
        let _ = writeln!(s, "# TYPE idbsync_request_duration_seconds histogram");
        for (route, h) in self.latency.lock().expect("metrics lock").iter() {
            let r = esc(route);
            for (b, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(s, "idbsync_request_duration_seconds_bucket{{route=\"{r}\",le=\"{b}\"}} {n}");
            }
            let _ = writeln!(s, "idbsync_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(s, "idbsync_request_duration_seconds_sum{{route=\"{r}\"}} {}", h.sum);
            let _ = writeln!(s, "idbsync_request_duration_seconds_count{{route=\"{r}\"}} {}", h.count);
        }
        s
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_has_each_family_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request("/v1/{database}/push", 200, Duration::from_millis(30));
        m.request("/v1/{database}/push", 200, Duration::from_millis(3));
        m.rows(5, 2);
        let t = m.render();
        assert!(t.contains("idbsync_requests_total{route=\"/v1/{database}/push\",status=\"200\"} 2"), "{t}");
        assert!(t.contains("le=\"0.005\"} 1") && t.contains("le=\"0.05\"} 2") && t.contains("le=\"+Inf\"} 2"), "{t}");
        assert!(t.contains("idbsync_rows_upserted_total 5") && t.contains("idbsync_rows_deleted_total 2"), "{t}");
    }
}
