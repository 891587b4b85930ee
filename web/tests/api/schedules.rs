use crate::helpers::{t0, TestApp};
use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn a_schedule_can_be_created_read_changed_paused_and_deleted() {
    let app = TestApp::spawn().await;
    let t = app.token("op_lq").await;
    let m = app.upload_tone(&t, 440.0, 1000).await;
    let id = app.schedule(&t, &m, &["LQ"], "30 5 * * *").await;
    let (s, v) = app.get(&format!("/schedules/{id}"), &t).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["cron"], "30 5 * * *");
    assert_eq!(v["stations"], json!(["LQ"]));
    assert_eq!(v["priority"], "normal");
    assert_eq!(v["paused"], false);

    let (s, v) = app
        .call(
            Method::PUT,
            &format!("/schedules/{id}"),
            &t,
            Some(
                json!({"title": "Bản tin chiều", "media_id": m, "stations": ["LQ"],
                        "cron": "0 17 * * 1-5", "category": "thông báo",
                        "starts_on": "2026-12-01", "ends_on": "2026-12-31",
                        "excluded_dates": ["2026-12-25"], "max_wait_minutes": 5}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["title"], "Bản tin chiều");
    assert_eq!(v["max_wait_minutes"], 5);

    let (s, v) = app
        .post(&format!("/schedules/{id}/pause"), &t, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["paused"], true);
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert_eq!(doc["rules"].as_array().unwrap().len(), 0);
    let (s, v) = app
        .post(&format!("/schedules/{id}/resume"), &t, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["paused"], false);
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert_eq!(doc["rules"][0]["id"], id.as_str());

    let (s, list) = app.get("/schedules?station=LQ", &t).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);

    let (s, _) = app
        .call(Method::DELETE, &format!("/schedules/{id}"), &t, None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get(&format!("/schedules/{id}"), &t).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let app = TestApp::spawn().await;
    let t = app.token("op_lq").await;
    let m = app.upload_tone(&t, 440.0, 1000).await;
    let base = json!({"title": "x", "media_id": m, "stations": ["LQ"], "cron": "30 5 * * *"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        if v.is_null() {
            b.as_object_mut().unwrap().remove(k);
        } else {
            b[k] = v;
        }
        b
    };
    let cases = [
        (with("cron", json!("0 25 * * *")), "cron: "),
        (with("cron", json!("* * *")), "cron: "),
        (with("title", json!("  ")), "title: "),
        (with("media_id", json!("abc")), "media_id: "),
        (with("media_id", json!("a".repeat(64))), "media_id: "),
        (with("stations", json!(["NOPE"])), "stations: "),
        (with("stations", json!([])), "stations: "),
        (with("priority", json!("emergency")), "priority: "),
        (with("priority", json!("urgent")), "priority: "),
        (with("at", json!("2026-12-01T00:00:00Z")), "cron: "),
        (with("cron", Value::Null), "cron: "),
        (
            with("ends_on", json!("2026-01-01"))
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.insert("starts_on".into(), json!("2026-02-01"));
                    Value::Object(o)
                })
                .unwrap(),
            "ends_on: ",
        ),
        (with("max_wait_minutes", json!(5000)), "max_wait_minutes: "),
    ];
    for (body, prefix) in cases {
        let (s, v) = app.post("/schedules", &t, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.starts_with(prefix),
            "{body}: {msg:?} should start with {prefix:?}"
        );
    }
    let (_, v) = app
        .post("/schedules", &t, with("cron", json!("0 25 * * *")))
        .await;
    assert!(
        v["error"]["message"].as_str().unwrap().contains("25"),
        "{v}"
    );
    app.stop().await;
}

#[tokio::test]
async fn star_targets_every_station_of_the_users_area() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let m = app.upload_tone(&t, 440.0, 1000).await;
    let id = app.schedule(&t, &m, &["*"], "30 5 * * *").await;
    for dev in [&app.lq_device, &app.bp_device] {
        let (_, doc) = app.get("/device/schedule", dev).await;
        assert_eq!(doc["rules"][0]["id"], id.as_str());
        assert_eq!(doc["media"][0]["sha256"], m.as_str());
    }
    // An operator of LQ sees it (it plays on LQ) but may not change it.
    let op = app.token("op_lq").await;
    let (s, _) = app.get(&format!("/schedules/{id}"), &op).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .post(&format!("/schedules/{id}/pause"), &op, json!({}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    app.stop().await;
}

fn times(v: &Value) -> Vec<DateTime<Utc>> {
    v["times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn preview_reads_cron_as_crontab_5_does() {
    let app = TestApp::spawn().await;
    let t = app.token("viewer_lq").await;
    let z = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    // (cron, tz, after, expected first times)
    let cases: Vec<(&str, &str, &str, Vec<DateTime<Utc>>)> = vec![
        (
            "30 5 * * *",
            "Asia/Ho_Chi_Minh",
            "2026-11-29T17:00:00Z",
            vec![z("2026-11-29T22:30:00Z"), z("2026-11-30T22:30:00Z")],
        ),
        (
            // day of month 1 OR Monday, as crontab(5) says when both are restricted
            "0 12 1 * 1",
            "UTC",
            "2026-11-29T00:00:00Z",
            vec![
                z("2026-11-30T12:00:00Z"),
                z("2026-12-01T12:00:00Z"),
                z("2026-12-07T12:00:00Z"),
            ],
        ),
        (
            "*/20 9 * * sun",
            "UTC",
            "2026-11-29T09:00:00Z",
            vec![
                z("2026-11-29T09:20:00Z"),
                z("2026-11-29T09:40:00Z"),
                z("2026-12-06T09:00:00Z"),
            ],
        ),
        (
            "0 0 29 2 *",
            "UTC",
            "2026-11-29T00:00:00Z",
            vec![z("2028-02-29T00:00:00Z")],
        ),
    ];
    for (cron, tz, after, want) in cases {
        let q = format!(
            "/schedules/preview?cron={}&tz={}&after={}&count={}",
            urlencode(cron),
            urlencode(tz),
            urlencode(after),
            want.len()
        );
        let (s, v) = app.get(&q, &t).await;
        assert_eq!(s, StatusCode::OK, "{cron}: {v}");
        assert_eq!(times(&v), want, "{cron}");
        assert!(v["description_vi"].is_string());
        assert!(v["description_en"].is_string());
    }
    let (s, v) = app
        .get("/schedules/preview?cron=0%2025%20*%20*%20*", &t)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = app
        .get("/schedules/preview?cron=*%20*%20*%20*%20*&count=101", &t)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app
        .get("/schedules/preview?cron=*%20*%20*%20*%20*&tz=Mars/Base", &t)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, v) = app
        .get("/schedules/preview?cron=*%20*%20*%20*%20*&count=100", &t)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(times(&v).len(), 100);
    assert_eq!(times(&v)[0], t0() + Duration::minutes(1));
    app.stop().await;
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_plan_shows_what_is_interrupted_and_what_is_skipped() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let long = app.upload_tone(&t, 440.0, 4000).await;
    // Two bulletins due at the same minute: the priority one airs first; the normal one
    // may wait 0 minutes, so it is skipped.
    let (s, v) = app
        .post(
            "/schedules",
            &t,
            json!({"title": "Huyện", "media_id": long, "stations": ["LQ"],
                   "cron": "30 5 * * *", "priority": "priority"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .post(
            "/schedules",
            &t,
            json!({"title": "Xã", "media_id": long, "stations": ["LQ"],
                   "cron": "30 5 * * *", "max_wait_minutes": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let from = "2026-11-29T22:00:00Z";
    let to = "2026-11-29T23:00:00Z";
    let (s, plan) = app
        .get(&format!("/stations/LQ/plan?from={from}&to={to}"), &t)
        .await;
    assert_eq!(s, StatusCode::OK, "{plan}");
    let plan = plan.as_array().unwrap();
    assert_eq!(plan.len(), 2, "{plan:?}");
    let huyen = plan.iter().find(|p| p["title"] == "Huyện").unwrap();
    let xa = plan.iter().find(|p| p["title"] == "Xã").unwrap();
    assert_eq!(huyen["status"], "played");
    assert_eq!(huyen["starts_at"], "2026-11-29T22:30:00Z");
    assert_eq!(xa["status"], "skipped");
    assert!(xa["reason"].is_string());

    // An urgent notice now interrupts whatever plays at its start.
    app.clock.set("2026-11-29T22:30:01Z".parse().unwrap());
    let (s, v) = app
        .post(
            "/urgent",
            &t,
            json!({"title": "Bão", "media_id": long, "stations": ["LQ"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, plan) = app
        .get(&format!("/stations/LQ/plan?from={from}&to={to}"), &t)
        .await;
    let plan = plan.as_array().unwrap();
    let huyen = plan.iter().find(|p| p["title"] == "Huyện").unwrap();
    assert_eq!(huyen["status"], "interrupted", "{plan:?}");
    let bao = plan.iter().find(|p| p["title"] == "Bão").unwrap();
    assert_eq!(bao["priority"], "emergency");
    assert!(bao["schedule_id"].is_null());

    let (s, _) = app
        .get(
            "/stations/LQ/plan?from=2026-11-01T00:00:00Z&to=2026-12-30T00:00:00Z",
            &t,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

#[tokio::test]
async fn stations_list_shows_next_and_online_state() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let m = app.upload_tone(&t, 440.0, 1000).await;
    app.schedule(&t, &m, &["LQ"], "30 5 * * *").await;
    let (s, list) = app.get("/stations", &t).await;
    assert_eq!(s, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let lq = list.iter().find(|s| s["code"] == "LQ").unwrap();
    assert_eq!(lq["online"], false);
    assert_eq!(lq["next"]["starts_at"], "2026-11-29T22:30:00Z");
    assert_eq!(lq["area"], "LQ");
    let res = app
        .client
        .post(app.url("/device/heartbeat"))
        .bearer_auth(&app.lq_device)
        .json(&json!({"version": "0.1.0", "sent_at": "2026-11-29T17:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        res.headers()["date"],
        "Sun, 29 Nov 2026 17:00:00 GMT",
        "the Date header comes from the server's clock"
    );
    let (s, _) = app
        .post(
            "/device/heartbeat",
            &app.lq_device,
            json!({"version": "0.1.0", "sent_at": "2026-11-29T17:00:00Z", "cache_ready": true,
                   "clock_offset_ms": 12, "output": "null"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, lq) = app.get("/stations/LQ", &t).await;
    assert_eq!(lq["online"], true);
    assert_eq!(lq["cache_ready"], true);
    assert_eq!(lq["clock_offset_ms"], 12);
    assert_eq!(lq["last_seen"], "2026-11-29T17:00:00Z");
    app.clock.advance(Duration::seconds(91));
    let (_, lq) = app.get("/stations/LQ", &t).await;
    assert_eq!(lq["online"], false);
    app.stop().await;
}

#[tokio::test]
async fn an_area_target_covers_stations_added_later() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let m = app.upload_tone(&t, 440.0, 1000).await;
    let (s, v) = app
        .post(
            "/schedules",
            &t,
            json!({"title": "Huyện", "media_id": m, "areas": ["TT"], "cron": "0 17 * * *",
                   "priority": "priority"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let (s, v) = app
        .post(
            "/stations",
            &t,
            json!({"code": "LQ2", "name": "Đài thôn Đông", "area": "LQ"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    let (s, doc) = app.get("/device/schedule", &token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["rules"][0]["id"], id.as_str());
    assert_eq!(doc["rules"][0]["priority"], "priority");
    app.stop().await;
}

#[tokio::test]
async fn an_operator_cannot_change_a_district_schedule_aimed_only_at_their_station() {
    let app = TestApp::spawn().await;
    let tt = app.token("admin_tt").await;
    let op = app.token("op_lq").await;
    let m = app.upload_tone(&tt, 440.0, 500).await;
    let id = app.schedule(&tt, &m, &["LQ"], "30 5 * * *").await;
    // The operator sees it: it plays on their station…
    let (s, v) = app.get(&format!("/schedules/{id}"), &op).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // …but it is the district's: every change is refused and nothing changes.
    let body = json!({"title": "đổi", "media_id": m, "stations": ["LQ"], "cron": "0 6 * * *"});
    for (method, path, body) in [
        (Method::PUT, format!("/schedules/{id}"), Some(body)),
        (Method::POST, format!("/schedules/{id}/pause"), None),
        (Method::POST, format!("/schedules/{id}/resume"), None),
        (Method::DELETE, format!("/schedules/{id}"), None),
    ] {
        let (s, v) = app.call(method.clone(), &path, &op, body).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("belongs to TT"),
            "{v}"
        );
    }
    let (_, v) = app.get(&format!("/schedules/{id}"), &tt).await;
    assert_eq!(v["cron"], "30 5 * * *");
    assert_eq!(v["paused"], false);
    app.stop().await;
}

/// The page's weekly form (weekdays and times) is compiled by the server, the one place
/// that does it: every case of `cron_form::CASES` answers its expressions, or 422 naming
/// the field the page marks.
#[tokio::test]
async fn the_weekly_form_compiles_on_the_server() {
    let app = TestApp::spawn().await;
    let t = app.token("op_lq").await;
    for (days, times, want) in web::pages::cron_form::CASES {
        let days: Vec<String> = days.iter().map(u8::to_string).collect();
        let path = format!(
            "/schedules/preview?count=3&after=2026-12-07T00:00:00Z&days={}&times={}",
            days.join(","),
            times.replace(' ', "%20")
        );
        let (s, v) = app.get(&path, &t).await;
        match want {
            Some(exprs) => {
                assert_eq!(s, StatusCode::OK, "{path}: {v}");
                assert_eq!(v["exprs"], json!(exprs), "{path}");
                assert_eq!(v["times"].as_array().unwrap().len(), 3, "{v}");
                let times: Vec<&str> = v["times"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap())
                    .collect();
                assert!(times.windows(2).all(|w| w[0] < w[1]), "sorted: {times:?}");
            }
            None => {
                assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
                let msg = v["error"]["message"].as_str().unwrap();
                let field = if days.is_empty() { "days: " } else { "times: " };
                assert!(msg.starts_with(field), "{path}: {msg}");
            }
        }
    }
    for bad in [
        "/schedules/preview?days=7&times=05:30",
        "/schedules/preview?days=1&times=05:30&cron=0+6+*+*+*",
        "/schedules/preview?days=1",
        "/schedules/preview",
    ] {
        let (s, v) = app.get(bad, &t).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
    }
    // Two minutes' worth of expressions: the times merge in order.
    let (s, v) = app
        .get(
            "/schedules/preview?count=4&after=2026-12-07T00:00:00Z&tz=UTC&days=1&times=17:00,05:30",
            &t,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["exprs"], json!(["0 17 * * 1", "30 5 * * 1"]));
    assert_eq!(
        v["times"],
        json!([
            "2026-12-07T05:30:00Z",
            "2026-12-07T17:00:00Z",
            "2026-12-14T05:30:00Z",
            "2026-12-14T17:00:00Z"
        ])
    );
}
