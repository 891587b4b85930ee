//! `GET /metrics`: counters in the Prometheus text exposition format (version 0.0.4).
//!
//! Served without authentication: it shows counts and route templates (`/api/v1/stations/{code}`,
//! never the raw path), no station codes, names or tokens. Requests are counted by a
//! middleware ([`track`]) keyed by axum's [`MatchedPath`], so a scan of random URLs adds one
//! `(unmatched)` series rather than one per URL, and by method, any method outside RFC 9110
//! (and PATCH) counted as `other`.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use std::sync::Mutex;

/// Upper bounds (seconds) of the request duration histogram.
pub const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The content type of [`Metrics::render`]'s answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The server's counters, in a registry of their own (one per server state, so that two
/// servers in one process — the tests — never share counts). The `prometheus` crate keeps
/// them and writes the text format.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    documents: IntCounterVec,
    log_entries: IntCounterVec,
    heartbeats: IntCounter,
    connected: IntGauge,
    /// Mirrors the push hub's own count, brought up to date at each scrape.
    urgent_pushed: Mutex<IntCounter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new().expect("the metric definitions are valid")
    }
}

impl Metrics {
    fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "loaxa_http_requests_total",
                "HTTP requests answered, by method, route template and status.",
            ),
            &["method", "route", "status"],
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "loaxa_http_request_duration_seconds",
                "Time to produce the response head, by method and route template.",
            )
            .buckets(BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        let documents = IntCounterVec::new(
            Opts::new(
                "loaxa_schedule_documents_served_total",
                "Schedule documents answered to controllers: 200 in full, 304 not modified.",
            ),
            &["status"],
        )?;
        let log_entries = IntCounterVec::new(
            Opts::new(
                "loaxa_log_entries_received_total",
                "Log entries uploaded by controllers: new, or duplicate (already stored).",
            ),
            &["result"],
        )?;
        let heartbeats = IntCounter::new(
            "loaxa_heartbeats_received_total",
            "Controller heartbeats recorded.",
        )?;
        let connected = IntGauge::new(
            "loaxa_controllers_connected",
            "Open controller event streams (GET /api/v1/device/events).",
        )?;
        let urgent_pushed = IntCounter::new(
            "loaxa_urgent_notices_pushed_total",
            "Urgent notices pushed to station event channels (one per station).",
        )?;
        // The fixed series exist from the start, at zero.
        for status in ["200", "304"] {
            documents.with_label_values(&[status]);
        }
        for result in ["new", "duplicate"] {
            log_entries.with_label_values(&[result]);
        }
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        registry.register(Box::new(documents.clone()))?;
        registry.register(Box::new(log_entries.clone()))?;
        registry.register(Box::new(heartbeats.clone()))?;
        registry.register(Box::new(connected.clone()))?;
        registry.register(Box::new(urgent_pushed.clone()))?;
        Ok(Self {
            registry,
            requests,
            durations,
            documents,
            log_entries,
            heartbeats,
            connected,
            urgent_pushed: Mutex::new(urgent_pushed),
        })
    }

    /// One answered request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.durations
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// A schedule document answered: in full (200) or `unchanged` (304).
    pub fn document_served(&self, unchanged: bool) {
        let status = if unchanged { "304" } else { "200" };
        self.documents.with_label_values(&[status]).inc();
    }

    /// A log batch stored: `new` entries, `duplicate` ones already known.
    pub fn log_entries(&self, new: u64, duplicate: u64) {
        self.log_entries.with_label_values(&["new"]).inc_by(new);
        self.log_entries
            .with_label_values(&["duplicate"])
            .inc_by(duplicate);
    }

    /// A heartbeat recorded.
    pub fn heartbeat(&self) {
        self.heartbeats.inc();
    }

    /// The text exposition (format 0.0.4), with the gauges read from the push hub.
    pub fn render(&self, connected: u64, urgent_pushed: u64) -> String {
        self.connected
            .set(i64::try_from(connected).unwrap_or(i64::MAX));
        {
            let c = self.urgent_pushed.lock().unwrap_or_else(|e| e.into_inner());
            c.inc_by(urgent_pushed.saturating_sub(c.get()));
        }
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!("cannot write the metrics: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The `method` label: the methods of RFC 9110 (and PATCH) by name, anything else `other`,
/// so that a client inventing methods cannot grow the series without bound.
pub fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        m.observe_request("GET", "/a\"b", 200, 0.002);
        m.observe_request("GET", "/a\"b", 200, 10.0);
        let text = m.render(0, 0);
        assert!(text.contains(r#"route="/a\"b",le="0.0025"} 1"#), "{text}");
        assert!(text.contains(r#"route="/a\"b",le="+Inf"} 2"#), "{text}");
        assert!(text.contains(
            r#"loaxa_http_request_duration_seconds_count{method="GET",route="/a\"b"} 2"#
        ));
    }
}
