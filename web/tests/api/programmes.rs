//! Programmes: parts, the station's jingle slot, the slot-length warning, what the schedule
//! document carries, and edits reaching stations.

use crate::helpers::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn rule_of<'a>(doc: &'a Value, schedule: &str) -> Option<&'a Value> {
    doc["rules"]
        .as_array()?
        .iter()
        .find(|r| r["id"].as_str() == Some(schedule))
}

#[tokio::test]
async fn a_programme_reaches_the_station_as_its_parts_with_the_station_jingle_filled_in() {
    let app = TestApp::spawn().await;
    let op = app.token("op_lq").await;
    let a = app.upload_tone(&op, 440.0, 1000).await;
    let b = app.upload_tone(&op, 660.0, 1200).await;
    let jingle = app.upload_tone(&op, 990.0, 500).await;
    let (s, p) = app
        .post(
            "/programmes",
            &op,
            json!({"title": "Chương trình sáng", "category": "thời sự",
                   "parts": [{"jingle": true}, {"media_id": a, "title": "Mở đầu"}, {"media_id": b}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let pid = p["id"].as_str().unwrap().to_string();
    assert_eq!(p["total_ms"], 2200, "{p}");
    assert_eq!(p["parts"][0]["jingle"], true);
    assert_eq!(p["parts"][1]["title"], "Mở đầu");

    let (s, sch) = app
        .post(
            "/schedules",
            &op,
            json!({"title": "Chương trình sáng", "programme_id": pid, "stations": ["LQ"],
                   "cron": "30 5 * * *"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sch}");
    let sid = sch["id"].as_str().unwrap().to_string();

    // No jingle at the station yet: the slot is left out.
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    let rule = rule_of(&doc, &sid).expect("the programme's rule");
    assert_eq!(rule["items"].as_array().map(Vec::len), Some(2), "{rule}");
    assert_eq!(rule["duration_ms"], 2200);
    assert_eq!(
        rule["media_sha256"],
        a.as_str(),
        "older controllers air the first part"
    );
    assert_eq!(rule["items"][0]["title"], "Mở đầu");

    // With the station's own jingle, it opens the programme.
    let (s, v) = app
        .call(
            Method::PUT,
            "/stations/LQ/jingle",
            &op,
            Some(json!({"media_id": jingle})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    let rule = rule_of(&doc, &sid).unwrap();
    let items = rule["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["media_sha256"], jingle.as_str());
    assert_eq!(items[0]["jingle"], true);
    assert_eq!(rule["duration_ms"], 2700);
    let media: Vec<&str> = doc["media"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["sha256"].as_str())
        .collect();
    for m in [&a, &b, &jingle] {
        assert!(media.contains(&m.as_str()), "{m} in the manifest");
    }

    // Editing the programme changes what the station gets next.
    let (s, v) = app
        .call(
            Method::PUT,
            &format!("/programmes/{pid}"),
            &op,
            Some(
                json!({"title": "Chương trình sáng", "parts": [{"media_id": b}, {"media_id": a}]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    let rule = rule_of(&doc, &sid).unwrap();
    assert_eq!(rule["items"][0]["media_sha256"], b.as_str());
    assert_eq!(rule["media_sha256"], b.as_str());

    // In use: neither the programme nor its media can be deleted.
    let (s, _) = app
        .call(Method::DELETE, &format!("/programmes/{pid}"), &op, None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = app
        .call(Method::DELETE, &format!("/schedules/{sid}"), &op, None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = app
        .call(Method::DELETE, &format!("/media/{a}"), &op, None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, _) = app
        .call(Method::DELETE, &format!("/programmes/{pid}"), &op, None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, audit) = app.get("/audit", &app.token("admin_tt").await).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "programme.create",
        "programme.update",
        "programme.delete",
        "station.jingle",
    ] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_programme_longer_than_its_slot_limit_is_answered_with_a_warning() {
    let app = TestApp::spawn().await;
    let admin = app.token("admin_tt").await;
    let op = app.token("op_lq").await;
    let long = app.upload_tone(&op, 440.0, 40_000).await;
    let body = |n: usize| json!({"title": "Dài", "parts": vec![json!({"media_id": long}); n]});

    // No limit anywhere: no warning.
    let (_, p) = app.post("/programmes", &op, body(2)).await;
    assert_eq!(p["limit_minutes"], Value::Null, "{p}");
    assert_eq!(p["over_limit"], false);

    // The district sets one minute; its communes inherit it.
    let (s, v) = app
        .call(
            Method::PUT,
            "/areas/TT/slot-limit",
            &admin,
            Some(json!({"minutes": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, short) = app.post("/programmes", &op, body(1)).await;
    assert_eq!(short["limit_minutes"], 1, "{short}");
    assert_eq!(short["over_limit"], false);
    assert_eq!(short["warning_en"], Value::Null);
    let (_, p) = app.post("/programmes", &op, body(2)).await;
    assert_eq!(p["over_limit"], true, "{p}");
    assert_eq!(
        p["warning_en"],
        "The programme lasts 1:20, over the slot's 1-minute limit"
    );
    assert_eq!(
        p["warning_vi"],
        "Chương trình dài 1:20, vượt giới hạn 1 phút của khung phát"
    );

    // A commune's own, longer limit wins over the district's.
    let (s, _) = app
        .call(
            Method::PUT,
            "/areas/LQ/slot-limit",
            &admin,
            Some(json!({"minutes": 45})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let id = p["id"].as_str().unwrap();
    let (_, p) = app.get(&format!("/programmes/{id}"), &op).await;
    assert_eq!(p["limit_minutes"], 45);
    assert_eq!(p["over_limit"], false);

    let (s, v) = app
        .call(
            Method::PUT,
            "/areas/LQ/slot-limit",
            &admin,
            Some(json!({"minutes": 0})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    app.stop().await;
}

#[tokio::test]
async fn bad_programmes_are_refused_naming_what_is_wrong() {
    let app = TestApp::spawn().await;
    let op = app.token("op_lq").await;
    let a = app.upload_tone(&op, 440.0, 500).await;
    let unknown = "b".repeat(64);
    for (body, says) in [
        (json!({"title": "", "parts": [{"media_id": a}]}), "title"),
        (json!({"title": "x", "parts": []}), "at least one part"),
        (
            json!({"title": "x", "parts": [{"jingle": true}]}),
            "at least one part",
        ),
        (
            json!({"title": "x", "parts": [{"media_id": unknown}]}),
            "parts[1].media_id",
        ),
        (
            json!({"title": "x", "parts": [{"media_id": "nope"}]}),
            "parts[1].media_id",
        ),
        (
            json!({"title": "x", "parts": [{"media_id": a}, {"media_id": a, "jingle": true}]}),
            "parts[2]",
        ),
        (
            json!({"title": "x", "parts": [{"media_id": a}, {}]}),
            "parts[2]",
        ),
    ] {
        let (s, v) = app.post("/programmes", &op, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(says), "{body}: {msg}");
    }
    let (s, v) = app
        .post(
            "/schedules",
            &op,
            json!({"title": "x", "programme_id": "nope", "stations": ["LQ"], "cron": "0 6 * * *"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app
        .post(
            "/schedules",
            &op,
            json!({"title": "x", "stations": ["LQ"], "cron": "0 6 * * *"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    app.stop().await;
}
