//! Text notices spoken by the server, the chime, repeats until a time, delivery times and
//! the audit trail.

use crate::helpers::{Sse, TestApp};
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_text_notice_is_spoken_stored_as_media_and_keeps_its_text() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let text = "Bão số 3 đang tiến vào đất liền. Bà con không ra khơi.";
    let (s, v) = app
        .post(
            "/urgent",
            &t,
            json!({"title": "Bão số 3", "text": text, "stations": ["LQ"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap();
    let (_, u) = app.get(&format!("/urgent/{id}"), &t).await;
    assert_eq!(u["text"], text);
    let media = u["media_id"].as_str().unwrap();
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    let n = &doc["urgent"][0];
    assert_eq!(n["media_sha256"], media);
    // Speech of that sentence lasts seconds, not nothing.
    let dur = n["duration_ms"].as_u64().unwrap();
    assert!((1000..30_000).contains(&dur), "{dur} ms");
    app.stop().await;
}

#[tokio::test]
async fn the_chime_is_joined_before_the_notice_as_new_media() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let m = app.upload_tone(&t, 440.0, 2000).await;
    let (s, v) = app
        .post(
            "/urgent",
            &t,
            json!({"title": "Cháy", "media_id": m, "chime": true, "stations": ["LQ"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    let n = &doc["urgent"][0];
    assert_ne!(n["media_sha256"], m.as_str());
    // The chime is 1.2 s.
    assert_eq!(n["duration_ms"].as_u64().unwrap(), 2000 + 1200, "{n}");

    // Text with a chime too.
    let (s, v) = app
        .post(
            "/urgent",
            &t,
            json!({"title": "Lũ", "text": "Lũ lên nhanh.", "chime": true, "stations": ["BP"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    app.stop().await;
}

#[tokio::test]
async fn until_sets_the_number_of_airings() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let m = app.upload_tone(&t, 440.0, 500).await;
    let until = crate::helpers::t0() + Duration::minutes(90);
    let (s, v) = app
        .post(
            "/urgent",
            &t,
            json!({"title": "Lũ", "media_id": m, "stations": ["LQ"], "interval_minutes": 30,
                   "until": until, "expires_at": until + Duration::minutes(5)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, u) = app
        .get(&format!("/urgent/{}", v["id"].as_str().unwrap()), &t)
        .await;
    assert_eq!(u["repeat"], 4, "{u}");
    assert_eq!(u["interval_minutes"], 30);
    app.stop().await;
}

#[tokio::test]
async fn text_and_repeat_validation_names_the_field() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let m = app.upload_tone(&t, 880.0, 500).await;
    let past = "2020-01-01T00:00:00Z";
    let later = (crate::helpers::t0() + Duration::hours(2)).to_rfc3339();
    for (body, prefix) in [
        (json!({"title": "x", "stations": ["LQ"]}), "media_id: "),
        (
            json!({"title": "x", "media_id": m, "text": "a", "stations": ["LQ"]}),
            "text: ",
        ),
        (
            json!({"title": "x", "text": "   ", "stations": ["LQ"]}),
            "text: ",
        ),
        (
            json!({"title": "x", "text": "a".repeat(5001), "stations": ["LQ"]}),
            "text: ",
        ),
        (
            json!({"title": "x", "media_id": m, "stations": ["LQ"], "until": later}),
            "interval_minutes: ",
        ),
        (
            json!({"title": "x", "media_id": m, "stations": ["LQ"], "until": later, "repeat": 2,
                   "interval_minutes": 10}),
            "until: ",
        ),
        (
            json!({"title": "x", "media_id": m, "stations": ["LQ"], "until": past,
                   "interval_minutes": 10}),
            "until: ",
        ),
        (
            json!({"title": "x", "media_id": m, "stations": ["LQ"], "interval_minutes": 1,
                   "until": (crate::helpers::t0() + Duration::hours(5)).to_rfc3339()}),
            "until: ",
        ),
    ] {
        let (s, v) = app.post("/urgent", &t, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().starts_with(prefix),
            "{prefix} {v}"
        );
    }
    // Nothing half-written: no notice, and a refused text notice made no media.
    let (_, list) = app.get("/urgent", &t).await;
    assert!(list.as_array().unwrap().is_empty());
    let (s, v) = app
        .post(
            "/urgent",
            &t,
            json!({"title": "x", "text": "Xin chào", "stations": ["NOPE"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (_, media) = app.get("/media", &t).await;
    assert_eq!(media.as_array().map(Vec::len), Some(1), "{media}");
    app.stop().await;
}

#[tokio::test]
async fn delivery_shows_the_time_of_each_state_and_is_audited() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let m = app.upload_tone(&t, 880.0, 500).await;
    let mut lq = Sse::connect(&app, &app.lq_device).await;
    lq.next().await;
    let (_, v) = app
        .post(
            "/urgent",
            &t,
            json!({"title": "Dịch", "media_id": m, "stations": ["LQ", "BP"]}),
        )
        .await;
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(lq.next().await.event, "urgent");
    for (state, at) in [
        ("received", "2026-11-29T17:00:01Z"),
        ("playing", "2026-11-29T17:00:02Z"),
        ("played", "2026-11-29T17:00:03Z"),
    ] {
        let (s, _) = app
            .post(
                &format!("/device/urgent/{id}/state"),
                &app.lq_device,
                json!({"state": state, "at": at}),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
    app.post(
        &format!("/device/urgent/{id}/state"),
        &app.bp_device,
        json!({"state": "failed", "at": "2026-11-29T17:00:04Z", "reason": "no sound device"}),
    )
    .await;
    let (_, u) = app.get(&format!("/urgent/{id}"), &t).await;
    let st = u["stations"].as_array().unwrap();
    let bp = st.iter().find(|s| s["code"] == "BP").unwrap();
    let lq_d = st.iter().find(|s| s["code"] == "LQ").unwrap();
    assert_eq!(lq_d["state"], "played");
    assert_eq!(lq_d["received_at"], "2026-11-29T17:00:01Z");
    assert_eq!(lq_d["playing_at"], "2026-11-29T17:00:02Z");
    assert_eq!(lq_d["played_at"], "2026-11-29T17:00:03Z");
    assert_eq!(bp["state"], "failed");
    assert_eq!(bp["reason"], "no sound device");
    assert_eq!(bp["failed_at"], "2026-11-29T17:00:04Z");

    let (s, audit) = app.get("/audit", &t).await;
    assert_eq!(s, StatusCode::OK, "{audit}");
    let entries = audit.as_array().unwrap();
    let created = entries
        .iter()
        .find(|e| e["action"] == "urgent.create")
        .unwrap();
    assert_eq!(created["user"], "admin_tt");
    let moves: Vec<_> = entries
        .iter()
        .filter(|e| e["action"] == "urgent.delivery" && e["target"] == id.as_str())
        .collect();
    assert_eq!(moves.len(), 4, "{audit}");
    drop(lq);
    app.stop().await;
}

#[tokio::test]
async fn cancelling_a_repeated_notice_stops_it_where_it_already_played() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let m = app.upload_tone(&t, 880.0, 500).await;
    let (_, v) = app
        .post(
            "/urgent",
            &t,
            json!({"title": "Lũ", "media_id": m, "stations": ["LQ"], "repeat": 3,
                   "interval_minutes": 10}),
        )
        .await;
    let id = v["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/device/urgent/{id}/state"),
        &app.lq_device,
        json!({"state": "played", "at": "2026-11-29T17:00:03Z"}),
    )
    .await;
    let mut lq = Sse::connect(&app, &app.lq_device).await;
    lq.next().await;
    let (s, u) = app
        .post(&format!("/urgent/{id}/cancel"), &t, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["stations"][0]["state"], "cancelled");
    assert!(u["stations"][0]["cancelled_at"].is_string());
    assert_eq!(lq.next().await.event, "cancel");
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert!(doc["urgent"].as_array().unwrap().is_empty());
    drop(lq);
    app.stop().await;
}
