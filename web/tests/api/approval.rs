//! Approval: in an area that requires it, what operators make stays out of the stations'
//! schedule documents until an approver approves it; rejection sends it back with a comment
//! and editing submits it again; urgent notices are never held but wait for review.

use crate::helpers::{TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn rule_ids(app: &TestApp) -> Vec<String> {
    let (s, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert_eq!(s, StatusCode::OK, "{doc}");
    doc["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str().map(String::from))
        .collect()
}

async fn decide(
    app: &TestApp,
    token: &str,
    what: &str,
    verb: &str,
    comment: &str,
) -> (StatusCode, Value) {
    app.post(
        &format!("/approvals/{what}/{verb}"),
        token,
        json!({"comment": comment}),
    )
    .await
}

fn actions(v: &Value) -> Vec<String> {
    v["approval_history"]
        .as_array()
        .or_else(|| v["history"].as_array())
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Require approval in LQ and add an approver there; answers the approver's token.
async fn approval_in_lq(app: &TestApp) -> String {
    let admin = app.token("admin_tt").await;
    let (s, v) = app
        .call(
            Method::PUT,
            "/areas/LQ/approval",
            &admin,
            Some(json!({"required": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .post(
            "/users",
            &admin,
            json!({"username": "duyet_lq", "password": PASSWORD, "role": "approver", "area": "LQ"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let t = app.token("duyet_lq").await;
    let (_, me) = app.get("/auth/me", &t).await;
    assert_eq!(me["role"], "approver");
    t
}

#[tokio::test]
async fn an_unapproved_schedule_never_reaches_the_station_and_appears_once_approved() {
    let app = TestApp::spawn().await;
    let approver = approval_in_lq(&app).await;
    let op = app.token("op_lq").await;

    let media = app.upload_tone(&op, 440.0, 800).await;
    let sid = app.schedule(&op, &media, &["LQ"], "0 6 * * *").await;
    let (_, sch) = app.get(&format!("/schedules/{sid}"), &op).await;
    assert_eq!(sch["approval"], "draft", "{sch}");
    assert_eq!(actions(&sch), ["submitted"]);
    assert!(
        !rule_ids(&app).await.contains(&sid),
        "a draft stays on the server"
    );

    let (_, queue) = app.get("/approvals", &approver).await;
    let kinds: Vec<(&str, &str)> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["kind"].as_str().unwrap(), p["id"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("schedule", sid.as_str())), "{queue}");
    assert!(kinds.contains(&("media", media.as_str())), "{queue}");

    // An operator may not approve, nor may an approver elsewhere.
    let (s, _) = decide(&app, &op, &format!("schedule/{sid}"), "approve", "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = decide(
        &app,
        &app.token("op_bp").await,
        &format!("schedule/{sid}"),
        "approve",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The schedule approved, its media still a draft: still held.
    let (s, v) = decide(
        &app,
        &approver,
        &format!("schedule/{sid}"),
        "approve",
        "Đạt",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(!rule_ids(&app).await.contains(&sid));
    let (s, v) = decide(&app, &approver, &format!("media/{media}"), "approve", "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        rule_ids(&app).await.contains(&sid),
        "approved: it reaches the station"
    );

    // Approving twice is refused; the queue is empty.
    let (s, _) = decide(&app, &approver, &format!("schedule/{sid}"), "approve", "").await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, queue) = app.get("/approvals", &approver).await;
    assert_eq!(queue, json!([]));

    // What the approver makes is approved at once.
    let own = app.schedule(&approver, &media, &["LQ"], "0 7 * * *").await;
    assert!(rule_ids(&app).await.contains(&own));

    let (_, audit) = app.get("/audit", &app.token("admin_tt").await).await;
    let logged: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "area.approval",
        "schedule.submit",
        "schedule.approved",
        "media.approved",
    ] {
        assert!(logged.contains(&a), "{a} in the audit log: {logged:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_rejected_schedule_goes_back_with_the_comment_and_editing_submits_it_again() {
    let app = TestApp::spawn().await;
    let approver = approval_in_lq(&app).await;
    let op = app.token("op_lq").await;
    let media = app.upload_tone(&op, 550.0, 800).await;
    decide(&app, &approver, &format!("media/{media}"), "approve", "").await;
    let sid = app.schedule(&op, &media, &["LQ"], "0 6 * * *").await;

    let (s, v) = decide(&app, &approver, &format!("schedule/{sid}"), "reject", " ").await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a rejection says why: {v}"
    );
    let (s, v) = decide(
        &app,
        &approver,
        &format!("schedule/{sid}"),
        "reject",
        "Sai giờ phát",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "rejected");
    let (_, sch) = app.get(&format!("/schedules/{sid}"), &op).await;
    assert_eq!(sch["approval"], "rejected");
    assert_eq!(sch["approval_history"][1]["comment"], "Sai giờ phát");
    assert!(!rule_ids(&app).await.contains(&sid));

    // The operator fixes it: submitted again, still held until approved.
    let (s, v) = app
        .call(
            Method::PUT,
            &format!("/schedules/{sid}"),
            &op,
            Some(json!({"title": "Bản tin", "media_id": media, "stations": ["LQ"], "cron": "30 5 * * *"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["approval"], "draft");
    assert_eq!(actions(&v), ["submitted", "rejected", "submitted"]);
    assert!(!rule_ids(&app).await.contains(&sid));
    let (s, _) = decide(&app, &approver, &format!("schedule/{sid}"), "approve", "").await;
    assert_eq!(s, StatusCode::OK);
    assert!(rule_ids(&app).await.contains(&sid));
    app.stop().await;
}

#[tokio::test]
async fn a_programme_needs_approval_too_and_urgent_notices_are_reviewed_afterwards() {
    let app = TestApp::spawn().await;
    let approver = approval_in_lq(&app).await;
    let op = app.token("op_lq").await;
    let media = app.upload_tone(&op, 660.0, 800).await;
    decide(&app, &approver, &format!("media/{media}"), "approve", "").await;
    let (s, p) = app
        .post(
            "/programmes",
            &op,
            json!({"title": "Sáng", "parts": [{"media_id": media}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(p["approval"], "draft");
    let pid = p["id"].as_str().unwrap();
    let (_, sch) = app
        .post(
            "/schedules",
            &approver,
            json!({"title": "Sáng", "programme_id": pid, "stations": ["LQ"], "cron": "0 6 * * *"}),
        )
        .await;
    let sid = sch["id"].as_str().unwrap().to_string();
    assert!(
        !rule_ids(&app).await.contains(&sid),
        "its programme is a draft"
    );
    decide(&app, &approver, &format!("programme/{pid}"), "approve", "").await;
    assert!(rule_ids(&app).await.contains(&sid));

    // Urgent: on air at once, then in the queue for review.
    let (s, u) = app
        .post(
            "/urgent",
            &op,
            json!({"title": "Bão", "media_id": media, "stations": ["LQ"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let uid = u["id"].as_str().unwrap();
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert_eq!(doc["urgent"][0]["id"], uid, "never held: {doc}");
    let (_, queue) = app.get("/approvals", &approver).await;
    assert_eq!(queue[0]["kind"], "urgent", "{queue}");
    assert_eq!(queue[0]["state"], "review");
    let (s, _) = decide(&app, &approver, &format!("urgent/{uid}"), "reject", "x").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, v) = decide(
        &app,
        &approver,
        &format!("urgent/{uid}"),
        "approve",
        "Đúng quy trình",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "reviewed");
    assert_eq!(actions(&v), ["review", "reviewed"]);
    let (_, queue) = app.get("/approvals", &approver).await;
    assert_eq!(queue, json!([]));
    app.stop().await;
}

#[tokio::test]
async fn a_relay_made_where_approval_is_required_is_held_until_approved() {
    let app = TestApp::spawn().await;
    let approver = approval_in_lq(&app).await;
    let admin = app.token("admin_tt").await;
    let op = app.token("op_lq").await;
    let (s, ch) = app
        .post(
            "/channels",
            &admin,
            json!({"name": "VOV1", "url": "http://127.0.0.1:9/vov1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ch}");
    let (s, v) = app
        .post(
            "/schedules",
            &op,
            json!({"title": "Tiếp sóng VOV1", "channel_id": ch["id"], "duration_seconds": 1800,
                   "stations": ["LQ"], "cron": "0 6 * * *"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let sid = v["id"].as_str().unwrap().to_string();
    let relay_ids = || async {
        let (s, doc) = app.get("/device/schedule", &app.lq_device).await;
        assert_eq!(s, StatusCode::OK, "{doc}");
        doc["relays"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["id"].as_str().map(String::from))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let (_, sch) = app.get(&format!("/schedules/{sid}"), &op).await;
    assert_eq!(sch["approval"], "draft", "{sch}");
    assert!(
        !relay_ids().await.contains(&sid),
        "a draft relay stays on the server"
    );
    let (s, v) = decide(&app, &approver, &format!("schedule/{sid}"), "approve", "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        relay_ids().await,
        std::slice::from_ref(&sid),
        "approved: it reaches the station"
    );
}

#[tokio::test]
async fn resuming_a_schedule_under_required_approval_waits_for_review_again() {
    let app = TestApp::spawn().await;
    let approver = approval_in_lq(&app).await;
    let op = app.token("op_lq").await;
    let m = app.upload_tone(&approver, 440.0, 500).await;
    let id = app.schedule(&op, &m, &["LQ"], "30 5 * * *").await;
    let (s, v) = decide(&app, &approver, &format!("schedule/{id}"), "approve", "ok").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(rule_ids(&app).await.contains(&id));
    // Paused and resumed by the operator, it is back on air only once approved again.
    for verb in ["pause", "resume"] {
        let (s, v) = app
            .post(&format!("/schedules/{id}/{verb}"), &op, json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (_, v) = app.get(&format!("/schedules/{id}"), &op).await;
    assert_eq!(v["approval"], "draft", "{v}");
    assert!(!rule_ids(&app).await.contains(&id));
    // The approver's own resume needs nobody.
    let (s, _) = decide(&app, &approver, &format!("schedule/{id}"), "approve", "ok").await;
    assert_eq!(s, StatusCode::OK);
    for verb in ["pause", "resume"] {
        app.post(&format!("/schedules/{id}/{verb}"), &approver, json!({}))
            .await;
    }
    let (_, v) = app.get(&format!("/schedules/{id}"), &op).await;
    assert_eq!(v["approval"], "approved", "{v}");
    app.stop().await;
}
