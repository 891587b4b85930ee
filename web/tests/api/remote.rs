use crate::helpers::{t0, Sse, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_remote_command_is_pushed_listed_until_acknowledged_audited_and_shown_on_the_station() {
    let app = TestApp::spawn().await;
    let op = app.token("op_lq").await;
    let mut sse = Sse::connect(&app, &app.lq_device).await;
    assert_eq!(sse.next().await.event, "schedule");

    let (st, body) = app
        .post(
            "/stations/LQ/commands",
            &op,
            json!({"kind": "volume", "volume": 30}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let ev = sse.next().await;
    assert_eq!(ev.event, "command");
    assert_eq!(ev.data["id"], id);
    assert_eq!(ev.data["kind"], "volume");
    assert_eq!(ev.data["volume"], 30);
    assert_eq!(ev.data["issued_by"], "op_lq");

    // Still pending: listed in the document (a station that was offline gets it there).
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert_eq!(doc["commands"][0]["id"], id);
    let (_, bp_doc) = app.get("/device/schedule", &app.bp_device).await;
    assert!(bp_doc.get("commands").is_none(), "{bp_doc}");
    let (_, station) = app.get("/stations/LQ", &op).await;
    assert_eq!(station["last_command"]["state"], "pending");

    // The station acknowledges; the command leaves the document.
    let (st, _) = app
        .post(
            &format!("/device/commands/{id}/ack"),
            &app.lq_device,
            json!({"state": "done", "reason": "master volume 30 %", "at": t0()}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert!(doc.get("commands").is_none(), "{doc}");
    let hb = json!({"version": "1", "sent_at": t0(), "volume": 30});
    let (st, _) = app.post("/device/heartbeat", &app.lq_device, hb).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, station) = app.get("/stations/LQ", &op).await;
    assert_eq!(station["volume"], 30);
    assert_eq!(station["last_command"]["id"], id);
    assert_eq!(station["last_command"]["state"], "done");
    assert_eq!(station["last_command"]["issued_by"], "op_lq");
    let (_, one) = app.get(&format!("/stations/LQ/commands/{id}"), &op).await;
    assert_eq!(one["reason"], "master volume 30 %");

    // Another station's device cannot acknowledge it.
    let (st, _) = app
        .post(
            &format!("/device/commands/{id}/ack"),
            &app.bp_device,
            json!({"state": "done", "at": t0()}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    let admin = app.token("admin_tt").await;
    let (_, audit) = app.get("/audit", &admin).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"station.command"), "{actions:?}");
    assert!(actions.contains(&"station.command_ack"), "{actions:?}");
    app.stop().await;
}

#[tokio::test]
async fn bad_commands_and_users_out_of_reach_are_refused_clearly() {
    let app = TestApp::spawn().await;
    let op = app.token("op_lq").await;
    let viewer = app.token("viewer_lq").await;
    let op_bp = app.token("op_bp").await;
    for (body, what) in [
        (json!({"kind": "reboot"}), "kind"),
        (json!({"kind": "volume"}), "volume"),
        (json!({"kind": "volume", "volume": 101}), "volume"),
        (json!({"kind": "volume", "volume": -1}), "volume"),
        (json!({"kind": "stop", "volume": 10}), "volume"),
    ] {
        let (st, err) = app.post("/stations/LQ/commands", &op, body).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().starts_with(what),
            "{err}"
        );
    }
    let (st, _) = app
        .post("/stations/LQ/commands", &viewer, json!({"kind": "stop"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = app
        .post("/stations/LQ/commands", &op_bp, json!({"kind": "stop"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = app
        .post("/stations/NOPE/commands", &op, json!({"kind": "stop"}))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = app
        .post(
            "/device/commands/unknown/ack",
            &app.lq_device,
            json!({"state": "done", "at": t0()}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, station) = app.get("/stations/LQ", &op).await;
    assert!(
        station["last_command"].is_null(),
        "nothing stored: {station}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_volume_schedule_is_checked_stored_and_sent_in_the_document() {
    let app = TestApp::spawn().await;
    let op = app.token("op_lq").await;
    let (_, before) = app.get("/device/schedule", &app.lq_device).await;
    let steps = json!([{"from": "05:00", "volume": 40}, {"from": "06:00", "volume": 100}]);
    let (st, body) = app
        .call(
            Method::PUT,
            "/stations/LQ/volume-schedule",
            &op,
            Some(steps.clone()),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert_eq!(doc["volume_schedule"], steps);
    assert_ne!(doc["version"], before["version"]);
    let (_, got) = app.get("/stations/LQ/volume-schedule", &op).await;
    assert_eq!(got, steps);

    for bad in [
        json!([{"from": "06:00", "volume": 40}, {"from": "05:00", "volume": 100}]),
        json!([{"from": "25:00", "volume": 40}]),
        json!([{"from": "05:00", "volume": 140}]),
        json!({"from": "05:00"}),
    ] {
        let (st, err) = app
            .call(Method::PUT, "/stations/LQ/volume-schedule", &op, Some(bad))
            .await;
        assert!(st.is_client_error(), "{st} {err}");
        assert!(err["error"]["message"].is_string(), "{err}");
    }
    let (_, still) = app.get("/stations/LQ/volume-schedule", &op).await;
    assert_eq!(still, steps, "nothing half-written");
    let viewer = app.token("viewer_lq").await;
    let (st, _) = app
        .call(
            Method::PUT,
            "/stations/LQ/volume-schedule",
            &viewer,
            Some(json!([])),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    app.stop().await;
}
