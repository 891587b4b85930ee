use crate::helpers::{Sse, TestApp};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_schedule_document_has_an_etag_and_answers_304_while_unchanged() {
    let app = TestApp::spawn().await;
    let t = app.token("op_lq").await;
    let url = app.url("/device/schedule");
    let res = app
        .client
        .get(&url)
        .bearer_auth(&app.lq_device)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let doc: schedules::wire::ScheduleDocument = res.json().await.unwrap();
    assert_eq!(etag, format!("\"{}\"", doc.version));
    assert_eq!(doc.station.as_str(), "LQ");
    assert_eq!(doc.timezone, "Asia/Ho_Chi_Minh");
    assert!(doc.rules.is_empty());

    let same = app
        .client
        .get(&url)
        .bearer_auth(&app.lq_device)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), StatusCode::NOT_MODIFIED);

    let m = app.upload_tone(&t, 440.0, 1200).await;
    app.schedule(&t, &m, &["LQ"], "30 5 * * *").await;
    let changed = app
        .client
        .get(&url)
        .bearer_auth(&app.lq_device)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let doc: schedules::wire::ScheduleDocument = changed.json().await.unwrap();
    assert_ne!(format!("\"{}\"", doc.version), etag);
    assert_eq!(doc.rules.len(), 1);
    assert_eq!(doc.rules[0].duration_ms, 1200);
    assert_eq!(doc.media.len(), 1);
    assert_eq!(doc.media[0].sha256.as_str(), m);

    // Station BP's document is untouched by LQ's schedule.
    let (_, bp) = app.get("/device/schedule", &app.bp_device).await;
    assert!(bp["rules"].as_array().unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_event_stream_starts_with_the_version_and_tells_of_schedule_changes() {
    let app = TestApp::spawn().await;
    let t = app.token("op_lq").await;
    let mut sse = Sse::connect(&app, &app.lq_device).await;
    let first = sse.next().await;
    assert_eq!(first.event, "schedule");
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert_eq!(first.data["version"], doc["version"]);

    let (_, stations) = app.get("/stations/LQ", &t).await;
    assert_eq!(stations["online"], true, "a connected station is online");

    let m = app.upload_tone(&t, 440.0, 1000).await;
    app.schedule(&t, &m, &["LQ"], "30 5 * * *").await;
    let ev = sse.next().await;
    assert_eq!(ev.event, "schedule");
    assert!(ev.id.unwrap() > first.id.unwrap());
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert_eq!(ev.data["version"], doc["version"]);
    drop(sse);
    app.stop().await;
}

#[tokio::test]
async fn the_server_stops_even_with_event_streams_open() {
    let app = TestApp::spawn().await;
    let mut sse = Sse::connect(&app, &app.lq_device).await;
    sse.next().await;
    app.stop().await;
}

fn entry(id: &str, status: &str) -> serde_json::Value {
    json!({
        "id": id, "title": "Bản tin", "category": "thông báo", "priority": "normal",
        "scheduled_at": "2026-11-29T22:30:00Z", "started_at": "2026-11-29T22:30:00.120Z",
        "ended_at": "2026-11-29T22:31:00Z", "played_ms": 59880, "status": status,
        "rms_dbfs": -20.5, "peak_dbfs": -3.0
    })
}

#[tokio::test]
async fn the_same_log_batch_twice_gives_one_row() {
    let app = TestApp::spawn().await;
    let batch = json!({"entries": [entry("s1@1", "played"), entry("s1@2", "skipped")]});
    for _ in 0..2 {
        let (s, ack) = app
            .post("/device/logs", &app.lq_device, batch.clone())
            .await;
        assert_eq!(s, StatusCode::OK, "{ack}");
        assert_eq!(ack["accepted"], json!(["s1@1", "s1@2"]));
    }
    // The same ids from another station are that station's own rows.
    let (s, _) = app
        .post("/device/logs", &app.bp_device, batch.clone())
        .await;
    assert_eq!(s, StatusCode::OK);
    let t = app.token("op_lq").await;
    let (_, rows) = app.get("/logs?station=LQ", &t).await;
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows}");
    assert_eq!(rows[0]["station"], "LQ");
    assert_eq!(rows[0]["played_ms"], 59880);
    let (_, all) = app.get("/logs", &t).await;
    assert_eq!(
        all.as_array().unwrap().len(),
        2,
        "LQ's operator sees LQ's rows only"
    );

    let too_many: Vec<_> = (0..501)
        .map(|i| entry(&format!("x@{i}"), "played"))
        .collect();
    let (s, v) = app
        .post("/device/logs", &app.lq_device, json!({"entries": too_many}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    app.stop().await;
}

#[tokio::test]
async fn a_station_cannot_touch_another_stations_urgent_notice() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let m = app.upload_tone(&t, 440.0, 1000).await;
    let (_, v) = app
        .post(
            "/urgent",
            &t,
            json!({"title": "Cháy", "media_id": m, "stations": ["BP"]}),
        )
        .await;
    let id = v["id"].as_str().unwrap();
    let ack = json!({"state": "played", "at": "2026-11-29T17:00:05Z"});
    let (s, _) = app
        .post(
            &format!("/device/urgent/{id}/state"),
            &app.lq_device,
            ack.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.get(&format!("/media/{m}"), &app.lq_device).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .post(&format!("/device/urgent/{id}/state"), &app.bp_device, ack)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get(&format!("/media/{m}"), &app.bp_device).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "a played notice leaves the document"
    );
    app.stop().await;
}
