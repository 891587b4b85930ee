use crate::helpers::{Sse, TestApp};
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn an_urgent_notice_is_pushed_at_once_and_tracked_station_by_station() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let m = app.upload_tone(&t, 880.0, 2000).await;
    let mut lq = Sse::connect(&app, &app.lq_device).await;
    let mut bp = Sse::connect(&app, &app.bp_device).await;
    lq.next().await;
    bp.next().await;

    let (s, v) = app
        .post(
            "/urgent",
            &t,
            json!({"title": "Bão số 3", "media_id": m, "stations": ["*"], "repeat": 3,
                   "interval_minutes": 30, "category": "phòng chống thiên tai"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    for sse in [&mut lq, &mut bp] {
        let ev = sse.next().await;
        assert_eq!(ev.event, "urgent");
        let n: schedules::wire::UrgentNotice = serde_json::from_value(ev.data.clone()).unwrap();
        assert_eq!(n.id, id);
        assert_eq!(n.repeat, 3);
        assert_eq!(n.interval_s, 1800);
        // What is sent is the file's 48 kb/s copy (see `sent_copy…` below).
        assert_ne!(n.media_sha256.as_str(), m.as_str());
        assert_eq!(n.duration_ms, 2000, "the copy keeps the exact length");
        assert_eq!(n.starts_at, crate::helpers::t0());
        // The copy is small: its bytes ride with the notice.
        assert_eq!(
            audio_sha(&ev.data).as_deref(),
            Some(n.media_sha256.as_str())
        );
        assert_eq!(sse.next().await.event, "schedule");
    }
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert_eq!(doc["urgent"][0]["id"], id.as_str());
    // Never in the document.
    assert!(doc["urgent"][0].get("audio").is_none(), "{doc}");

    let (_, u) = app.get(&format!("/urgent/{id}"), &t).await;
    let states: Vec<_> = u["stations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].clone())
        .collect();
    assert_eq!(states, vec![json!("pending"), json!("pending")]);

    for state in ["received", "playing"] {
        let (s, _) = app
            .post(
                &format!("/device/urgent/{id}/state"),
                &app.lq_device,
                json!({"state": state, "at": "2026-11-29T17:00:01Z"}),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
    // A late "received" does not move the state back.
    app.post(
        &format!("/device/urgent/{id}/state"),
        &app.lq_device,
        json!({"state": "received", "at": "2026-11-29T17:00:02Z"}),
    )
    .await;
    let (_, u) = app.get(&format!("/urgent/{id}"), &t).await;
    let lq_state = u["stations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "LQ")
        .unwrap();
    assert_eq!(lq_state["state"], "playing");

    // The LQ operator sees only LQ's delivery.
    let op = app.token("op_lq").await;
    let (s, u) = app.get(&format!("/urgent/{id}"), &op).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(u["stations"].as_array().unwrap().len(), 1);

    // Cancel: both stations are told to stop; the notice leaves their documents.
    let (s, u) = app
        .post(&format!("/urgent/{id}/cancel"), &t, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert!(u["cancelled_at"].is_string());
    for sse in [&mut lq, &mut bp] {
        let ev = sse.next().await;
        assert_eq!(ev.event, "cancel");
        assert_eq!(ev.data["id"], id.as_str());
    }
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert!(doc["urgent"].as_array().unwrap().is_empty());
    let (_, u) = app.get(&format!("/urgent/{id}"), &t).await;
    assert!(u["stations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["state"] == "cancelled"));
    let (_, list) = app.get("/urgent", &t).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    drop((lq, bp));
    app.stop().await;
}

/// The sha256 of the audio a pushed notice carries, if it carries any.
fn audio_sha(data: &serde_json::Value) -> Option<String> {
    use base64::Engine as _;
    use sha2::Digest;
    let b64 = data.get("audio")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("the audio is base64");
    Some(hex::encode(sha2::Sha256::digest(bytes)))
}

#[tokio::test]
async fn a_file_over_the_inline_limit_is_not_sent_with_the_push() {
    let app = TestApp::spawn_with(web::state::Config {
        urgent_inline_max_bytes: 16 * 1024,
        urgent_mp3_kbps: 0,
        ..web::state::Config::default()
    })
    .await;
    let t = app.token("admin_tt").await;
    // 16 kHz mono 16-bit: half a second is 16 KB and goes along; two seconds do not.
    let short = app.upload_tone(&t, 880.0, 450).await;
    let long = app.upload_tone(&t, 660.0, 2000).await;
    let mut lq = Sse::connect(&app, &app.lq_device).await;
    lq.next().await;
    for (m, goes_along) in [(&short, true), (&long, false)] {
        let (s, v) = app
            .post(
                "/urgent",
                &t,
                json!({"title": "Bão", "media_id": m, "stations": ["LQ"]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let ev = lq.next().await;
        assert_eq!(ev.event, "urgent");
        assert_eq!(ev.data["media_sha256"], m.as_str());
        let want = goes_along.then(|| m.clone());
        assert_eq!(audio_sha(&ev.data), want, "{m}");
        assert_eq!(lq.next().await.event, "schedule");
    }
    drop(lq);
    app.stop().await;
}

/// The sent copy: a mono MP3 at `urgent_mp3_kbps` in the library, named after the notice,
/// recorded in the audit entry; files already that compact, and every file when the
/// setting is 0, are sent as uploaded.
#[tokio::test]
async fn sent_copy_of_a_notices_audio_is_a_compact_mp3_in_the_library() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    // Three seconds of 16 kHz 16-bit WAV: 96 KB.
    let wav = app.upload_tone(&t, 880.0, 3000).await;
    let mut lq = Sse::connect(&app, &app.lq_device).await;
    lq.next().await;
    let post = |m: String, title: &'static str| {
        let (app, t) = (&app, &t);
        async move {
            let (s, v) = app
                .post(
                    "/urgent",
                    t,
                    json!({"title": title, "media_id": m, "stations": ["LQ"]}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            v["id"].as_str().unwrap().to_string()
        }
    };
    let id = post(wav.clone(), "Lũ quét").await;
    let ev = lq.next().await;
    let sent = ev.data["media_sha256"].as_str().unwrap().to_string();
    assert_ne!(sent, wav);
    assert_eq!(audio_sha(&ev.data).as_deref(), Some(sent.as_str()));
    assert_eq!(lq.next().await.event, "schedule");
    let (s, list) = app.get("/media", &t).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(
        list.as_array().unwrap().len(),
        2,
        "the file and its copy: {list}"
    );
    let copy = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == sent.as_str())
        .unwrap();
    assert_eq!(copy["title"], "Lũ quét (48 kb/s)");
    assert_eq!(copy["codec"], "mp3");
    assert_eq!(copy["channels"], 1);
    let size = copy["size_bytes"].as_u64().unwrap();
    assert!(
        (17_000..21_000).contains(&size),
        "{size} bytes for 3 s at 48 kb/s"
    );
    let (_, u) = app.get(&format!("/urgent/{id}"), &t).await;
    assert_eq!(u["media_id"], sent.as_str(), "{u}");
    let (_, log) = app.get("/audit?action=urgent.create", &t).await;
    assert_eq!(log[0]["detail"]["audio_from"], wav.as_str(), "{log}");
    assert_eq!(log[0]["detail"]["media_id"], sent.as_str(), "{log}");

    // The same file again: the same copy (the encoding is repeatable), no second one.
    post(wav.clone(), "Lũ quét").await;
    assert_eq!(lq.next().await.data["media_sha256"], sent.as_str());
    assert_eq!(lq.next().await.event, "schedule");
    // The copy itself is compact already: sent as it is.
    post(sent.clone(), "Lũ quét").await;
    assert_eq!(lq.next().await.data["media_sha256"], sent.as_str());
    assert_eq!(lq.next().await.event, "schedule");
    drop(lq);
    app.stop().await;

    let app = TestApp::spawn_with(web::state::Config {
        urgent_mp3_kbps: 0,
        ..web::state::Config::default()
    })
    .await;
    let t = app.token("admin_tt").await;
    let wav = app.upload_tone(&t, 880.0, 3000).await;
    let mut lq = Sse::connect(&app, &app.lq_device).await;
    lq.next().await;
    let (s, v) = app
        .post(
            "/urgent",
            &t,
            json!({"title": "Lũ", "media_id": wav, "stations": ["LQ"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let ev = lq.next().await;
    assert_eq!(ev.data["media_sha256"], wav.as_str());
    assert_eq!(audio_sha(&ev.data).as_deref(), Some(wav.as_str()));
    drop(lq);
    app.stop().await;
}

#[tokio::test]
async fn an_offline_station_finds_active_notices_in_its_document_until_they_are_over() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let m = app.upload_tone(&t, 880.0, 2000).await;
    let (s, v) = app
        .post("/urgent", &t, json!({"title": "Lũ", "media_id": m, "stations": ["LQ"], "repeat": 2, "interval_minutes": 10}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert_eq!(doc["urgent"].as_array().unwrap().len(), 1);
    app.clock.advance(Duration::minutes(11));
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert!(doc["urgent"].as_array().unwrap().is_empty(), "{doc}");
    app.stop().await;
}

#[tokio::test]
async fn urgent_validation_names_the_field() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let m = app.upload_tone(&t, 880.0, 500).await;
    for (body, prefix) in [
        (
            json!({"title": "", "media_id": m, "stations": ["LQ"]}),
            "title: ",
        ),
        (
            json!({"title": "x", "media_id": m, "stations": ["LQ"], "repeat": 0}),
            "repeat: ",
        ),
        (
            json!({"title": "x", "media_id": m, "stations": ["LQ"], "repeat": 2}),
            "interval_minutes: ",
        ),
        (
            json!({"title": "x", "media_id": m, "stations": ["LQ"], "expires_at": "2020-01-01T00:00:00Z"}),
            "expires_at: ",
        ),
        (
            json!({"title": "x", "media_id": "zz", "stations": ["LQ"]}),
            "media_id: ",
        ),
        (
            json!({"title": "x", "media_id": m, "stations": ["NOPE"]}),
            "stations: ",
        ),
    ] {
        let (s, v) = app.post("/urgent", &t, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().starts_with(prefix),
            "{v}"
        );
    }
    app.stop().await;
}
