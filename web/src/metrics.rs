//! `GET /metrics`: counters in the Prometheus text exposition format (version 0.0.4).
//!
//! Served without authentication: it shows counts and route templates (`/api/v1/stations/{code}`,
//! never the raw path), no station codes, names or tokens. Requests are counted by a
//! middleware ([`track`]) keyed by axum's [`MatchedPath`], so a scan of random URLs adds one
//! `(unmatched)` series rather than one per URL, and by method, any method outside RFC 9110
//! (and PATCH) counted as `other`.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Upper bounds (seconds) of the request duration histogram.
pub const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Count per bucket of [`BUCKETS`] (not cumulative), then the overflow.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
}

/// The server's counters; one per [`AppState`].
#[derive(Debug, Default)]
pub struct Metrics {
    /// (method, route, status) → requests.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// (method, route) → durations.
    durations: Mutex<BTreeMap<(String, String), Histogram>>,
    documents_full: AtomicU64,
    documents_unchanged: AtomicU64,
    log_entries_new: AtomicU64,
    log_entries_duplicate: AtomicU64,
    heartbeats: AtomicU64,
}

impl Metrics {
    /// One answered request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((method.to_string(), route.to_string(), status))
            .or_insert(0) += 1;
        let mut d = self.durations.lock().unwrap_or_else(|e| e.into_inner());
        let h = d
            .entry((method.to_string(), route.to_string()))
            .or_default();
        let i = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        h.counts[i] += 1;
        h.sum += seconds;
    }

    /// A schedule document answered: in full (200) or `unchanged` (304).
    pub fn document_served(&self, unchanged: bool) {
        let c = if unchanged {
            &self.documents_unchanged
        } else {
            &self.documents_full
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A log batch stored: `new` entries, `duplicate` ones already known.
    pub fn log_entries(&self, new: u64, duplicate: u64) {
        self.log_entries_new.fetch_add(new, Ordering::Relaxed);
        self.log_entries_duplicate
            .fetch_add(duplicate, Ordering::Relaxed);
    }

    /// A heartbeat recorded.
    pub fn heartbeat(&self) {
        self.heartbeats.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition, with the gauges read from the push hub.
    pub fn render(&self, connected: u64, urgent_pushed: u64) -> String {
        let mut out = String::new();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        header(
            &mut out,
            "loaxa_controllers_connected",
            "gauge",
            "Open controller event streams (GET /api/v1/device/events).",
        );
        let _ = writeln!(out, "loaxa_controllers_connected {connected}");

        header(
            &mut out,
            "loaxa_http_requests_total",
            "counter",
            "HTTP requests answered, by method, route template and status.",
        );
        for ((method, route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "loaxa_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(method),
                escape(route)
            );
        }

        header(
            &mut out,
            "loaxa_http_request_duration_seconds",
            "histogram",
            "Time to produce the response head, by method and route template.",
        );
        for ((method, route), h) in self
            .durations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.counts[i];
                let _ = writeln!(
                    out,
                    "loaxa_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += h.counts[BUCKETS.len()];
            let _ = writeln!(
                out,
                "loaxa_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}"
            );
            let _ = writeln!(
                out,
                "loaxa_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "loaxa_http_request_duration_seconds_count{{{labels}}} {cumulative}"
            );
        }

        header(
            &mut out,
            "loaxa_schedule_documents_served_total",
            "counter",
            "Schedule documents answered to controllers: 200 in full, 304 not modified.",
        );
        let _ = writeln!(
            out,
            "loaxa_schedule_documents_served_total{{status=\"200\"}} {}",
            load(&self.documents_full)
        );
        let _ = writeln!(
            out,
            "loaxa_schedule_documents_served_total{{status=\"304\"}} {}",
            load(&self.documents_unchanged)
        );

        header(
            &mut out,
            "loaxa_log_entries_received_total",
            "counter",
            "Log entries uploaded by controllers: new, or duplicate (already stored).",
        );
        let _ = writeln!(
            out,
            "loaxa_log_entries_received_total{{result=\"new\"}} {}",
            load(&self.log_entries_new)
        );
        let _ = writeln!(
            out,
            "loaxa_log_entries_received_total{{result=\"duplicate\"}} {}",
            load(&self.log_entries_duplicate)
        );

        header(
            &mut out,
            "loaxa_heartbeats_received_total",
            "counter",
            "Controller heartbeats recorded.",
        );
        let _ = writeln!(
            out,
            "loaxa_heartbeats_received_total {}",
            load(&self.heartbeats)
        );

        header(
            &mut out,
            "loaxa_urgent_notices_pushed_total",
            "counter",
            "Urgent notices pushed to station event channels (one per station).",
        );
        let _ = writeln!(out, "loaxa_urgent_notices_pushed_total {urgent_pushed}");
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The `method` label: the methods of RFC 9110 (and PATCH) by name, anything else `other`,
/// so that a client inventing methods cannot grow the series without bound.
fn method_label(m: &axum::http::Method) -> &'static str {
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

/// Middleware: count every request by its route template and status, and time it.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".to_string());
    let method = method_label(req.method());
    let started = Instant::now();
    let res = next.run(req).await;
    state.metrics.observe_request(
        method,
        &route,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    summary = "Counters in the Prometheus text format (no sign-in; nothing sensitive).",
    security(),
    responses((status = 200, description = "the counters", body = String, content_type = "text/plain"))
)]
pub async fn serve(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(
        state.hub.connected_streams() as u64,
        state.hub.urgent_pushed(),
    );
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
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
