//! `GET /metrics`: valid Prometheus text, no sign-in, and the counters move with traffic.

use crate::helpers::{Sse, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Parse the text format strictly: every line is `# HELP`, `# TYPE` or
/// `name{label="value",…} number`; every sample's family has HELP and TYPE lines first.
/// Answers sample → value, the sample written as `name{labels}` exactly as served.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut helped = BTreeSet::new();
    let mut typed = BTreeSet::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(!help.is_empty());
            helped.insert(name.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            typed.insert(name.to_string());
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "bad metric name in {line:?}"
        );
        if name_end < series.len() {
            let labels = &series[name_end..];
            assert!(labels.starts_with('{') && labels.ends_with('}'), "{line:?}");
            // label="value" pairs, values quoted with \" \\ \n escapes only.
            let inner = &labels[1..labels.len() - 1];
            let mut chars = inner.chars().peekable();
            loop {
                let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                assert!(
                    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "bad label name in {line:?}"
                );
                assert_eq!(chars.next(), Some('"'), "{line:?}");
                loop {
                    match chars.next().expect("closed label value") {
                        '\\' => assert!(matches!(chars.next(), Some('\\' | '"' | 'n')), "{line:?}"),
                        '"' => break,
                        _ => {}
                    }
                }
                match chars.next() {
                    None => break,
                    Some(',') => {}
                    Some(c) => panic!("unexpected {c:?} in {line:?}"),
                }
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(
            helped.contains(family) && typed.contains(family),
            "no HELP/TYPE before {line:?}"
        );
        samples.insert(series.to_string(), v);
    }
    samples
}

async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    let res = app
        .client
        .get(format!("{}/metrics", app.base.trim_end_matches("/api/v1")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    parse(&res.text().await.unwrap())
}

fn entry(id: &str) -> serde_json::Value {
    json!({
        "id": id, "title": "Bản tin", "category": "thông báo", "priority": "normal",
        "scheduled_at": "2026-11-29T22:30:00Z", "started_at": "2026-11-29T22:30:00.120Z",
        "ended_at": "2026-11-29T22:31:00Z", "played_ms": 59880, "status": "played"
    })
}

#[tokio::test]
async fn invented_methods_and_raw_paths_add_no_series() {
    let app = TestApp::spawn().await;
    let root = app.base.trim_end_matches("/api/v1").to_string();
    for i in 0..50 {
        let method = reqwest::Method::from_bytes(format!("FOO{i}").as_bytes()).unwrap();
        let res = app
            .client
            .request(method, format!("{root}/api/v1/stations/X{i}/plan"))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{}", res.status());
        let res = app
            .client
            .get(format!("{root}/api/v1/stations/S{i}/plan"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let m = scrape(&app).await;
    let series: Vec<&String> = m
        .keys()
        .filter(|k| k.starts_with("loaxa_http_request"))
        .collect();
    assert!(
        series
            .iter()
            .all(|k| !k.contains("FOO") && !k.contains("/S1") && !k.contains("/X1")),
        "{series:#?}"
    );
    assert_eq!(
        m[r#"loaxa_http_requests_total{method="other",route="/api/v1/stations/{code}/plan",status="405"}"#],
        50.0
    );
    assert_eq!(
        m[r#"loaxa_http_requests_total{method="GET",route="/api/v1/stations/{code}/plan",status="401"}"#],
        50.0
    );
    app.stop().await;
}

#[tokio::test]
async fn counters_move_with_documents_logs_heartbeats_and_requests() {
    let app = TestApp::spawn().await;
    let m = scrape(&app).await;
    assert_eq!(m["loaxa_controllers_connected"], 0.0);
    assert_eq!(
        m[r#"loaxa_schedule_documents_served_total{status="200"}"#],
        0.0
    );

    // A full document, then a 304.
    let res = app
        .client
        .get(app.url("/device/schedule"))
        .bearer_auth(&app.lq_device)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let res = app
        .client
        .get(app.url("/device/schedule"))
        .bearer_auth(&app.lq_device)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    // Two new entries, then one new and two again.
    let (s, _) = app
        .post(
            "/device/logs",
            &app.lq_device,
            json!({"entries": [entry("a"), entry("b")]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .post(
            "/device/logs",
            &app.lq_device,
            json!({"entries": [entry("a"), entry("b"), entry("c")]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let hb = json!({"version": "0.1.0", "sent_at": "2026-11-29T17:00:00Z", "cache_ready": true,
        "missing_media": [], "outbox_len": 0, "clock_offset_ms": 0, "output": "null"});
    let (s, v) = app.post("/device/heartbeat", &app.lq_device, hb).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");

    let m = scrape(&app).await;
    assert_eq!(
        m[r#"loaxa_schedule_documents_served_total{status="200"}"#],
        1.0
    );
    assert_eq!(
        m[r#"loaxa_schedule_documents_served_total{status="304"}"#],
        1.0
    );
    assert_eq!(m[r#"loaxa_log_entries_received_total{result="new"}"#], 3.0);
    assert_eq!(
        m[r#"loaxa_log_entries_received_total{result="duplicate"}"#],
        2.0
    );
    assert_eq!(m["loaxa_heartbeats_received_total"], 1.0);
    // Requests by route template, never the raw path.
    assert_eq!(
        m[r#"loaxa_http_requests_total{method="GET",route="/api/v1/device/schedule",status="304"}"#],
        1.0
    );
    assert_eq!(
        m[r#"loaxa_http_requests_total{method="POST",route="/api/v1/device/logs",status="200"}"#],
        2.0
    );
    assert_eq!(
        m[r#"loaxa_http_request_duration_seconds_count{method="POST",route="/api/v1/device/logs"}"#],
        2.0
    );
    assert_eq!(
        m[r#"loaxa_http_request_duration_seconds_bucket{method="POST",route="/api/v1/device/logs",le="+Inf"}"#],
        2.0
    );

    // A path nobody routes is one `(unmatched)` series.
    let t = app.token("op_lq").await;
    app.get("/stations/LQ", &t).await;
    app.get("/no/such/thing/42", &t).await;
    let m = scrape(&app).await;
    assert_eq!(
        m[r#"loaxa_http_requests_total{method="GET",route="/api/v1/stations/{code}",status="200"}"#],
        1.0
    );
    assert_eq!(
        m[r#"loaxa_http_requests_total{method="GET",route="(unmatched)",status="404"}"#],
        1.0
    );
    assert!(!m.keys().any(|k| k.contains("/stations/LQ")));
    app.stop().await;
}

#[tokio::test]
async fn connected_controllers_go_up_with_an_event_stream_and_down_when_it_leaves() {
    let app = TestApp::spawn().await;
    let mut sse = Sse::connect(&app, &app.lq_device).await;
    sse.next().await;
    assert_eq!(scrape(&app).await["loaxa_controllers_connected"], 1.0);

    // Urgent notices pushed are counted per station.
    let t = app.token("admin_tt").await;
    let media = app.upload_tone(&t, 440.0, 500).await;
    let (s, v) = app
        .post(
            "/urgent",
            &t,
            json!({"title": "Bão", "media_id": media, "stations": ["LQ"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(sse.next().await.event, "urgent");
    assert_eq!(scrape(&app).await["loaxa_urgent_notices_pushed_total"], 1.0);

    drop(sse);
    // The server notices the closed connection on its own; wait for it, bounded.
    let gone = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if scrape(&app).await["loaxa_controllers_connected"] == 0.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        gone.is_ok(),
        "the stream was still counted 10 s after it closed"
    );
    app.stop().await;
}
