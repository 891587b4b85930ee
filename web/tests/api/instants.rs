//! Extreme instants and windows (year 0001, 9999, ±262143, spans of millennia) answer a
//! clear 4xx naming the field, on every endpoint that takes an instant; none drops the
//! connection.

use crate::helpers::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Percent-encode a query value (`+` in an offset or a year must not become a space).
fn q(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

const EXTREMES: [&str; 8] = [
    "0001-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "+262143-12-31T23:59:59Z",
    "-262143-01-01T00:00:00Z",
    "+10000-01-01T00:00:00Z",
    "9999-12-31T23:59:59-14:00",
    "+262142-12-31T23:59:59+23:59",
];

async fn expect_4xx(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) {
    let (s, v) = app.call(method.clone(), path, token, body).await;
    assert!(s.is_client_error(), "{method} {path}: {s} {v}");
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(!msg.is_empty(), "{method} {path}: no message in {v}");
}

#[tokio::test]
async fn extreme_instants_are_refused_on_every_endpoint() {
    let app = TestApp::spawn().await;
    let admin = app.token("admin_tt").await;
    let media = app.upload_tone(&admin, 440.0, 500).await;
    app.schedule(&admin, &media, &["LQ"], "30 5 * * *").await;
    let ok = "2026-12-01T00:00:00Z";
    for x in EXTREMES {
        let x = q(x);
        for path in [
            format!("/stations/LQ/plan?from={x}"),
            format!("/stations/LQ/plan?to={x}"),
            format!("/stations/LQ/plan?from={x}&to={x}"),
            format!("/stations/LQ/plan?from={ok}&to={x}"),
            format!("/schedules/preview?cron=30+5+*+*+*&after={x}"),
            format!("/logs?from={x}"),
            format!("/logs?to={x}"),
            format!("/audit?from={x}&to={ok}"),
            format!("/audit?to={x}"),
        ] {
            expect_4xx(&app, Method::GET, &path, &admin, None).await;
        }
    }
    for x in EXTREMES {
        let base = json!({"title": "t", "media_id": media, "stations": ["LQ"]});
        let mut at = base.clone();
        at["at"] = json!(x);
        expect_4xx(&app, Method::POST, "/schedules", &admin, Some(at)).await;
        let mut urgent = base.clone();
        urgent["until"] = json!(x);
        urgent["interval_minutes"] = json!(10);
        expect_4xx(&app, Method::POST, "/urgent", &admin, Some(urgent)).await;
        let mut urgent = base.clone();
        urgent["expires_at"] = json!(x);
        expect_4xx(&app, Method::POST, "/urgent", &admin, Some(urgent)).await;
    }
    for day in ["0001-01-01", "+262143-12-31", "-0001-01-01"] {
        for field in ["starts_on", "ends_on"] {
            let mut b = json!({"title": "t", "media_id": media, "stations": ["LQ"],
                               "cron": "30 5 * * *"});
            b[field] = json!(day);
            expect_4xx(&app, Method::POST, "/schedules", &admin, Some(b)).await;
        }
        let b = json!({"title": "t", "media_id": media, "stations": ["LQ"],
                       "cron": "30 5 * * *", "excluded_dates": [day]});
        expect_4xx(&app, Method::POST, "/schedules", &admin, Some(b)).await;
    }
    // The server is still there, and the edges of the range themselves work.
    let last = q("9999-12-31T23:59:59Z");
    for path in [
        format!("/stations/LQ/plan?from={last}"),
        format!("/stations/LQ/plan?from={}", q("9999-12-20T00:00:00Z")),
        format!("/stations/LQ/plan?from={}", q("1970-01-01T00:00:00Z")),
        format!("/schedules/preview?cron=30+5+*+*+*&after={last}"),
        format!(
            "/schedules/preview?cron=0+0+29+2+*&after={}",
            q("9999-01-01T00:00:00Z")
        ),
        format!("/logs?from={}&to={last}", q("1970-01-01T00:00:00Z")),
    ] {
        let (s, v) = app.get(&path, &admin).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
    }
    let (s, v) = app
        .post(
            "/schedules",
            &admin,
            json!({"title": "t", "media_id": media, "stations": ["LQ"], "cron": "30 5 * * *",
                   "starts_on": "9999-12-01", "ends_on": "9999-12-31"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .get(
            &format!("/stations/LQ/plan?from={}", q("9999-12-30T00:00:00Z")),
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .post(
            "/schedules",
            &admin,
            json!({"title": "t", "media_id": media, "stations": ["LQ"], "at": "9999-12-31T23:59:59Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .get(
            &format!("/stations/LQ/plan?from={}", q("9999-12-31T00:00:00Z")),
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = app.get("/device/schedule", &app.lq_device.clone()).await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}
