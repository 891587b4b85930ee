//! Live channels and relay schedules: registered, checked, scheduled, sent to the station
//! in its document, planned, and logged with their gaps.

use crate::helpers::{t0, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_channel_is_registered_relayed_for_a_window_planned_and_logged_with_its_gaps() {
    let app = TestApp::spawn().await;
    let admin = app.token("admin_tt").await;
    let op = app.token("op_lq").await;
    let (st, ch) = app
        .post(
            "/channels",
            &admin,
            json!({"name": "VOV1", "url": "http://127.0.0.1:9/vov1.mp3", "gain_db": -2.5}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{ch}");
    let channel = ch["id"].as_str().unwrap().to_string();
    let (_, list) = app.get("/channels", &op).await;
    assert_eq!(list[0]["name"], "VOV1", "{list}");

    let at = t0() + chrono::Duration::hours(1);
    let (st, s) = app
        .post(
            "/schedules",
            &op,
            json!({"title": "Tiếp sóng VOV1", "channel_id": channel, "duration_seconds": 1800,
                   "stations": ["LQ"], "at": at, "category": "tiếp sóng"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{s}");
    let id = s["id"].as_str().unwrap().to_string();
    let (_, shown) = app.get(&format!("/schedules/{id}"), &op).await;
    assert_eq!(shown["channel_id"], channel);
    assert_eq!(shown["duration_seconds"], 1800);
    assert!(shown["media_id"].is_null(), "{shown}");

    // The document lists it among the relays (not the rules, which older controllers read).
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert_eq!(doc["rules"].as_array().map(Vec::len), Some(0), "{doc}");
    let r = &doc["relays"][0];
    assert_eq!(r["window_ms"], 1_800_000);
    assert_eq!(r["channel"]["url"], "http://127.0.0.1:9/vov1.mp3");
    assert_eq!(r["channel"]["gain_db"], -2.5);
    let (_, plan) = app
        .get(
            &format!(
                "/stations/LQ/plan?from={}&to={}",
                t0().to_rfc3339(),
                (t0() + chrono::Duration::hours(3)).to_rfc3339()
            )
            .replace('+', "%2B"),
            &op,
        )
        .await;
    let entry = plan
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["schedule_id"] == id.as_str())
        .unwrap_or_else(|| panic!("{plan}"));
    assert_eq!(entry["channel_id"], channel);
    assert_eq!(entry["played_ms"], 1_800_000);

    // The station's entry keeps the gaps.
    let key = schedules::occurrence_key(&id, at);
    let gap = json!({"from": at + chrono::Duration::minutes(10),
                     "to": at + chrono::Duration::minutes(11), "reason": "the stream ended"});
    let entry = json!({"id": key, "schedule_id": id, "title": "Tiếp sóng VOV1",
        "scheduled_at": at, "started_at": at, "ended_at": at + chrono::Duration::minutes(30),
        "played_ms": 1_740_000, "status": "played", "reason": "1 gap(s), 60 s without the channel",
        "gaps": [gap]});
    let (st, _) = app
        .post("/device/logs", &app.lq_device, json!({"entries": [entry]}))
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, logs) = app.get("/logs?station=LQ", &op).await;
    let l = &logs[0];
    assert_eq!(l["gaps"][0]["reason"], "the stream ended", "{l}");
    assert_eq!(l["played_ms"], 1_740_000);

    // A channel in use is not deleted; once its schedule is gone, it is.
    let (st, err) = app
        .call(
            Method::DELETE,
            &format!("/channels/{channel}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{err}");
    let (st, _) = app
        .call(Method::DELETE, &format!("/schedules/{id}"), &op, None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = app
        .call(
            Method::DELETE,
            &format!("/channels/{channel}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    app.stop().await;
}

#[tokio::test]
async fn bad_channels_and_relay_schedules_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let admin = app.token("admin_tt").await;
    let op = app.token("op_lq").await;
    for (body, field) in [
        (json!({"name": "VOV1", "url": "ftp://x/y"}), "url"),
        (json!({"name": "VOV1", "url": "vov1"}), "url"),
        (json!({"name": "", "url": "http://h/x"}), "name"),
        (
            json!({"name": "VOV1", "url": "http://h/x", "gain_db": 60}),
            "gain_db",
        ),
    ] {
        let (st, err) = app.post("/channels", &admin, body).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        let msg = err["error"]["message"].as_str().unwrap();
        assert!(msg.starts_with(field), "{msg}");
    }
    let (_, ch) = app
        .post(
            "/channels",
            &admin,
            json!({"name": "VOV1", "url": "http://h/x"}),
        )
        .await;
    let (st, _) = app
        .post(
            "/channels",
            &admin,
            json!({"name": "VOV1", "url": "http://h/y"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "one name per area");
    let channel = ch["id"].as_str().unwrap();
    let media = app.upload_tone(&op, 440.0, 500).await;
    let base = |extra: serde_json::Value| {
        let mut b = json!({"title": "Tiếp sóng", "stations": ["LQ"], "cron": "0 6 * * *"});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    for (body, field) in [
        (base(json!({"channel_id": channel})), "duration_seconds"),
        (
            base(json!({"channel_id": channel, "duration_seconds": 0})),
            "duration_seconds",
        ),
        (
            base(json!({"channel_id": channel, "duration_seconds": 90_000})),
            "duration_seconds",
        ),
        (
            base(json!({"channel_id": "nope", "duration_seconds": 60})),
            "channel_id",
        ),
        (
            base(json!({"channel_id": channel, "media_id": media, "duration_seconds": 60})),
            "media_id",
        ),
        (
            base(json!({"media_id": media, "duration_seconds": 60})),
            "duration_seconds",
        ),
        (
            base(json!({"channel_id": channel, "programme_id": "p", "duration_seconds": 60})),
            "media_id",
        ),
        (
            base(json!({"programme_id": "p", "duration_seconds": 60})),
            "duration_seconds",
        ),
        (base(json!({})), "media_id"),
    ] {
        let (st, err) = app.post("/schedules", &op, body.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {err}");
        let msg = err["error"]["message"].as_str().unwrap();
        assert!(msg.starts_with(field), "{body} → {msg}");
    }
    let (_, list) = app.get("/schedules", &op).await;
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(0),
        "nothing stored: {list}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_admin_changes_a_channel_and_the_stations_relaying_it_get_the_new_gain() {
    let app = TestApp::spawn().await;
    let admin = app.token("admin_tt").await;
    let op = app.token("op_lq").await;
    let (_, ch) = app
        .post(
            "/channels",
            &admin,
            json!({"name": "VOV1", "url": "http://127.0.0.1:9/vov1.mp3"}),
        )
        .await;
    let id = ch["id"].as_str().unwrap().to_string();
    app.post(
        "/channels",
        &admin,
        json!({"name": "VOV3", "url": "http://127.0.0.1:9/vov3.mp3"}),
    )
    .await;
    let (st, _) = app
        .post(
            "/schedules",
            &op,
            json!({"title": "Tiếp sóng VOV1", "channel_id": id, "duration_seconds": 600,
                   "stations": ["LQ"], "cron": "0 6 * * *"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let path = format!("/channels/{id}");
    for (body, status, names) in [
        (json!({"gain_db": 25}), 422, "gain_db"),
        (json!({"url": "vov1"}), 422, "url"),
        (json!({"name": " "}), 422, "name"),
        (json!({"name": "VOV3"}), 409, "VOV3"),
        (json!({"volume": 3}), 422, "volume"),
    ] {
        let (st, v) = app
            .call(Method::PATCH, &path, &admin, Some(body.clone()))
            .await;
        assert_eq!(st.as_u16(), status, "{body}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(names),
            "{v}"
        );
    }
    let (st, _) = app
        .call(Method::PATCH, &path, &op, Some(json!({"gain_db": -4.0})))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = app
        .call(
            Method::PATCH,
            &path,
            &admin,
            Some(json!({"name": "VOV1 (Hà Nội)", "gain_db": -4.5})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["gain_db"].as_f64()),
        (Some("VOV1 (Hà Nội)"), Some(-4.5))
    );
    assert_eq!(v["url"], "http://127.0.0.1:9/vov1.mp3");
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert_eq!(doc["relays"][0]["channel"]["gain_db"], -4.5, "{doc}");
    assert_eq!(doc["relays"][0]["channel"]["name"], "VOV1 (Hà Nội)");
    let (_, audit) = app.get("/audit?action=channel", &admin).await;
    assert!(audit.to_string().contains("channel.update"), "{audit}");
}
