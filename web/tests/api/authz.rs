//! The authorization matrix: every endpoint × role × inside/outside the user's area, and
//! device tokens of one station against another's resources.

use crate::helpers::{tone_wav, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// (what, method, path, body, expected status for [admin, operator, viewer]).
type Case = (&'static str, Method, String, Option<Value>, [u16; 3]);

const S: fn(u16) -> StatusCode = |c| StatusCode::from_u16(c).unwrap();

#[tokio::test]
async fn every_endpoint_checks_role_and_area() {
    let app = TestApp::spawn().await;
    let tt = app.token("admin_tt").await;
    let op_bp = app.token("op_bp").await;
    let op_lq = app.token("op_lq").await;

    let m_lq = app.upload_tone(&op_lq, 440.0, 800).await;
    let m_bp = app.upload_tone(&op_bp, 550.0, 800).await;
    let sched_lq = app.schedule(&op_lq, &m_lq, &["LQ"], "0 6 * * *").await;
    // The district's schedule aimed at LQ alone: LQ sees it, only the district changes it.
    let sched_tt_lq = app.schedule(&tt, &m_lq, &["LQ"], "15 6 * * *").await;
    let sched_bp = app.schedule(&op_bp, &m_bp, &["BP"], "0 6 * * *").await;
    let m_tt = app.upload_tone(&tt, 330.0, 800).await;
    let sched_tt = app.schedule(&tt, &m_tt, &["*"], "30 5 * * *").await;
    let (_, u) = app
        .post(
            "/urgent",
            &op_lq,
            json!({"title": "LQ", "media_id": m_lq, "stations": ["LQ"]}),
        )
        .await;
    let urgent_lq = u["id"].as_str().unwrap().to_string();
    let (_, u) = app
        .post(
            "/urgent",
            &op_bp,
            json!({"title": "BP", "media_id": m_bp, "stations": ["BP"]}),
        )
        .await;
    let urgent_bp = u["id"].as_str().unwrap().to_string();
    let (_, c) = app
        .post("/stations/LQ/commands", &op_lq, json!({"kind": "resync"}))
        .await;
    let cmd_lq = c["id"].as_str().unwrap().to_string();
    let (_, c) = app
        .post("/stations/BP/commands", &op_bp, json!({"kind": "resync"}))
        .await;
    let cmd_bp = c["id"].as_str().unwrap().to_string();
    let (st, _) = app
        .post(
            "/users",
            &tt,
            json!({"username": "admin_bp", "password": crate::helpers::PASSWORD, "role": "admin", "area": "BP"}),
        )
        .await;
    assert_eq!(st, S(201));
    let admin_bp = app.token("admin_bp").await;
    let (_, c) = app
        .post(
            "/channels",
            &tt,
            json!({"name": "VOV1", "url": "http://127.0.0.1:9/vov1"}),
        )
        .await;
    let ch_tt = c["id"].as_str().unwrap().to_string();
    let (_, c) = app
        .post(
            "/channels",
            &admin_bp,
            json!({"name": "Đài Bình Phú", "url": "http://127.0.0.1:9/bp"}),
        )
        .await;
    let ch_bp = c["id"].as_str().unwrap().to_string();
    // Port 9 refuses: measuring it is a 502 once the role and the area allow it.
    let (_, c) = app
        .post(
            "/channels",
            &app.token("admin_lq").await,
            json!({"name": "Đài Liên Quan", "url": "http://127.0.0.1:9/lq"}),
        )
        .await;
    let ch_lq = c["id"].as_str().unwrap().to_string();
    let programme = |m: &str| json!({"title": "p", "parts": [{"media_id": m}, {"jingle": true}]});
    let (_, p) = app.post("/programmes", &op_lq, programme(&m_lq)).await;
    let prog_lq = p["id"].as_str().unwrap().to_string();
    let (_, p) = app.post("/programmes", &op_bp, programme(&m_bp)).await;
    let prog_bp = p["id"].as_str().unwrap().to_string();

    // Device tokens: one station against another's resources.
    let mut failures = Vec::new();
    let mut expect = |what: String, got: StatusCode, want: StatusCode| {
        if got != want {
            failures.push(format!("{what}: got {got}, want {want}"));
        }
    };
    let ack = json!({"state": "received", "at": "2026-11-29T17:00:00Z"});
    for (dev, name, other_media, other_urgent, other_cmd) in [
        (&app.lq_device, "LQ device", &m_bp, &urgent_bp, &cmd_bp),
        (&app.bp_device, "BP device", &m_lq, &urgent_lq, &cmd_lq),
    ] {
        let (s, _) = app.get(&format!("/media/{other_media}"), dev).await;
        expect(format!("{name} GET other station's media"), s, S(404));
        let (s, _) = app
            .post(
                &format!("/device/commands/{other_cmd}/ack"),
                dev,
                json!({"state": "done", "at": "2026-11-29T17:00:00Z"}),
            )
            .await;
        expect(format!("{name} ack other station's command"), s, S(404));
        for path in ["/stations/LQ/commands", "/stations/BP/commands"] {
            let (s, _) = app.post(path, dev, json!({"kind": "stop"})).await;
            expect(format!("{name} POST {path}"), s, S(403));
        }
        let (s, _) = app
            .post(
                &format!("/device/urgent/{other_urgent}/state"),
                dev,
                ack.clone(),
            )
            .await;
        expect(format!("{name} ack other station's urgent"), s, S(404));
        for path in [
            "/stations",
            "/stations/LQ",
            "/stations/BP/plan",
            "/media",
            "/urgent",
            "/audit",
        ] {
            let (s, _) = app.get(path, dev).await;
            expect(format!("{name} GET {path}"), s, S(403));
        }
    }
    let (s, _) = app.get(&format!("/media/{m_lq}"), &app.lq_device).await;
    expect("LQ device GET own media".into(), s, S(200));

    let roles = ["admin_lq", "op_lq", "viewer_lq"];
    for (ri, role) in roles.iter().enumerate() {
        let t = app.token(role).await;
        // Fresh things this role may consume.
        let fresh_sched = app.schedule(&op_lq, &m_lq, &["LQ"], "0 7 * * *").await;
        let fresh_media = app.upload_tone(&op_lq, 600.0 + 10.0 * ri as f32, 800).await;
        let sched_body = |stations: &[&str]| json!({"title": "t", "media_id": m_lq, "stations": stations, "cron": "0 8 * * *"});
        let (_, p) = app.post("/programmes", &op_lq, programme(&m_lq)).await;
        let fresh_prog = p["id"].as_str().unwrap().to_string();
        let urgent_body =
            |stations: &[&str]| json!({"title": "u", "media_id": m_lq, "stations": stations});
        // (what, method, path, body, [admin, operator, viewer])
        let cases: Vec<Case> = vec![
            (
                "list stations",
                Method::GET,
                "/stations".into(),
                None,
                [200, 200, 200],
            ),
            (
                "station inside",
                Method::GET,
                "/stations/LQ".into(),
                None,
                [200, 200, 200],
            ),
            (
                "station outside",
                Method::GET,
                "/stations/BP".into(),
                None,
                [403, 403, 403],
            ),
            (
                "plan inside",
                Method::GET,
                "/stations/LQ/plan".into(),
                None,
                [200, 200, 200],
            ),
            (
                "plan outside",
                Method::GET,
                "/stations/BP/plan".into(),
                None,
                [403, 403, 403],
            ),
            (
                "rotate token outside",
                Method::POST,
                "/stations/BP/token".into(),
                None,
                [403, 403, 403],
            ),
            (
                "command inside",
                Method::POST,
                "/stations/LQ/commands".into(),
                Some(json!({"kind": "resync"})),
                [202, 202, 403],
            ),
            (
                "command outside",
                Method::POST,
                "/stations/BP/commands".into(),
                Some(json!({"kind": "stop"})),
                [403, 403, 403],
            ),
            (
                "show command outside",
                Method::GET,
                format!("/stations/BP/commands/{cmd_bp}"),
                None,
                [403, 403, 403],
            ),
            (
                "volume schedule inside",
                Method::GET,
                "/stations/LQ/volume-schedule".into(),
                None,
                [200, 200, 200],
            ),
            (
                "volume schedule outside",
                Method::GET,
                "/stations/BP/volume-schedule".into(),
                None,
                [403, 403, 403],
            ),
            (
                "set volume schedule inside",
                Method::PUT,
                "/stations/LQ/volume-schedule".into(),
                Some(json!([{"from": "05:00", "volume": 40}])),
                [200, 200, 403],
            ),
            (
                "set volume schedule outside",
                Method::PUT,
                "/stations/BP/volume-schedule".into(),
                Some(json!([])),
                [403, 403, 403],
            ),
            (
                "device command ack",
                Method::POST,
                format!("/device/commands/{cmd_lq}/ack"),
                Some(json!({"state": "done", "at": "2026-11-29T17:00:00Z"})),
                [403, 403, 403],
            ),
            (
                "list channels",
                Method::GET,
                "/channels".into(),
                None,
                [200, 200, 200],
            ),
            (
                "register channel",
                Method::POST,
                "/channels".into(),
                Some(json!({"name": format!("VOV{ri}"), "url": "http://127.0.0.1:9/vov1"})),
                [201, 403, 403],
            ),
            (
                "delete channel outside",
                Method::DELETE,
                format!("/channels/{ch_bp}"),
                None,
                [404, 404, 404],
            ),
            (
                "delete district channel",
                Method::DELETE,
                format!("/channels/{ch_tt}"),
                None,
                [403, 403, 403],
            ),
            (
                "change channel inside",
                Method::PATCH,
                format!("/channels/{ch_lq}"),
                Some(json!({"gain_db": -1.5})),
                [200, 403, 403],
            ),
            (
                "change channel outside",
                Method::PATCH,
                format!("/channels/{ch_bp}"),
                Some(json!({"gain_db": -1.5})),
                [404, 404, 404],
            ),
            (
                "change district channel",
                Method::PATCH,
                format!("/channels/{ch_tt}"),
                Some(json!({"gain_db": -1.5})),
                [403, 403, 403],
            ),
            (
                "measure channel inside",
                Method::POST,
                format!("/channels/{ch_lq}/measure"),
                Some(json!({"seconds": 5})),
                [502, 403, 403],
            ),
            (
                "measure channel outside",
                Method::POST,
                format!("/channels/{ch_bp}/measure"),
                None,
                [404, 404, 404],
            ),
            (
                "measure district channel",
                Method::POST,
                format!("/channels/{ch_tt}/measure"),
                None,
                [403, 403, 403],
            ),
            (
                "relay inside",
                Method::POST,
                "/schedules".into(),
                Some(
                    json!({"title": "VOV1", "channel_id": ch_tt, "duration_seconds": 1800, "stations": ["LQ"], "cron": "0 6 * * *"}),
                ),
                [201, 201, 403],
            ),
            (
                "relay of a channel outside",
                Method::POST,
                "/schedules".into(),
                Some(
                    json!({"title": "VOV1", "channel_id": ch_bp, "duration_seconds": 1800, "stations": ["LQ"], "cron": "0 6 * * *"}),
                ),
                [422, 422, 403],
            ),
            (
                "list media",
                Method::GET,
                "/media".into(),
                None,
                [200, 200, 200],
            ),
            (
                "media inside",
                Method::GET,
                format!("/media/{m_lq}"),
                None,
                [200, 200, 200],
            ),
            (
                "media outside",
                Method::GET,
                format!("/media/{m_bp}"),
                None,
                [404, 404, 404],
            ),
            (
                "delete media outside",
                Method::DELETE,
                format!("/media/{m_bp}"),
                None,
                [404, 404, 404],
            ),
            (
                "delete media inside",
                Method::DELETE,
                format!("/media/{fresh_media}"),
                None,
                [204, 204, 403],
            ),
            (
                "list schedules",
                Method::GET,
                "/schedules".into(),
                None,
                [200, 200, 200],
            ),
            (
                "schedules of station outside",
                Method::GET,
                "/schedules?station=BP".into(),
                None,
                [403, 403, 403],
            ),
            (
                "create schedule inside",
                Method::POST,
                "/schedules".into(),
                Some(sched_body(&["LQ"])),
                [201, 201, 403],
            ),
            (
                "create schedule outside",
                Method::POST,
                "/schedules".into(),
                Some(sched_body(&["BP"])),
                [403, 403, 403],
            ),
            (
                "create schedule on the district",
                Method::POST,
                "/schedules".into(),
                Some(json!({"title": "t", "media_id": m_lq, "areas": ["TT"], "cron": "0 8 * * *"})),
                [403, 403, 403],
            ),
            (
                "show schedule inside",
                Method::GET,
                format!("/schedules/{sched_lq}"),
                None,
                [200, 200, 200],
            ),
            (
                "show district schedule",
                Method::GET,
                format!("/schedules/{sched_tt}"),
                None,
                [200, 200, 200],
            ),
            (
                "show schedule outside",
                Method::GET,
                format!("/schedules/{sched_bp}"),
                None,
                [404, 404, 404],
            ),
            (
                "replace schedule inside",
                Method::PUT,
                format!("/schedules/{sched_lq}"),
                Some(sched_body(&["LQ"])),
                [200, 200, 403],
            ),
            (
                "replace schedule outside",
                Method::PUT,
                format!("/schedules/{sched_bp}"),
                Some(sched_body(&["LQ"])),
                [404, 404, 404],
            ),
            (
                "pause schedule inside",
                Method::POST,
                format!("/schedules/{sched_lq}/pause"),
                None,
                [200, 200, 403],
            ),
            (
                "resume schedule inside",
                Method::POST,
                format!("/schedules/{sched_lq}/resume"),
                None,
                [200, 200, 403],
            ),
            (
                "replace district schedule aimed at LQ",
                Method::PUT,
                format!("/schedules/{sched_tt_lq}"),
                Some(sched_body(&["LQ"])),
                [403, 403, 403],
            ),
            (
                "pause district schedule aimed at LQ",
                Method::POST,
                format!("/schedules/{sched_tt_lq}/pause"),
                None,
                [403, 403, 403],
            ),
            (
                "delete district schedule aimed at LQ",
                Method::DELETE,
                format!("/schedules/{sched_tt_lq}"),
                None,
                [403, 403, 403],
            ),
            (
                "pause district schedule",
                Method::POST,
                format!("/schedules/{sched_tt}/pause"),
                None,
                [403, 403, 403],
            ),
            (
                "pause schedule outside",
                Method::POST,
                format!("/schedules/{sched_bp}/pause"),
                None,
                [404, 404, 404],
            ),
            (
                "delete schedule inside",
                Method::DELETE,
                format!("/schedules/{fresh_sched}"),
                None,
                [204, 204, 403],
            ),
            (
                "delete schedule outside",
                Method::DELETE,
                format!("/schedules/{sched_bp}"),
                None,
                [404, 404, 404],
            ),
            (
                "preview",
                Method::GET,
                "/schedules/preview?cron=0%206%20*%20*%20*".into(),
                None,
                [200, 200, 200],
            ),
            (
                "list programmes",
                Method::GET,
                "/programmes".into(),
                None,
                [200, 200, 200],
            ),
            (
                "create programme inside",
                Method::POST,
                "/programmes".into(),
                Some(programme(&m_lq)),
                [201, 201, 403],
            ),
            (
                "create programme with media outside",
                Method::POST,
                "/programmes".into(),
                Some(programme(&m_bp)),
                [422, 422, 403],
            ),
            (
                "show programme inside",
                Method::GET,
                format!("/programmes/{prog_lq}"),
                None,
                [200, 200, 200],
            ),
            (
                "show programme outside",
                Method::GET,
                format!("/programmes/{prog_bp}"),
                None,
                [404, 404, 404],
            ),
            (
                "replace programme inside",
                Method::PUT,
                format!("/programmes/{prog_lq}"),
                Some(programme(&m_lq)),
                [200, 200, 403],
            ),
            (
                "replace programme outside",
                Method::PUT,
                format!("/programmes/{prog_bp}"),
                Some(programme(&m_bp)),
                [404, 404, 404],
            ),
            (
                "delete programme inside",
                Method::DELETE,
                format!("/programmes/{fresh_prog}"),
                None,
                [204, 204, 403],
            ),
            (
                "delete programme outside",
                Method::DELETE,
                format!("/programmes/{prog_bp}"),
                None,
                [404, 404, 404],
            ),
            (
                "station jingle inside",
                Method::PUT,
                "/stations/LQ/jingle".into(),
                Some(json!({"media_id": m_lq})),
                [200, 200, 403],
            ),
            (
                "station jingle outside",
                Method::PUT,
                "/stations/BP/jingle".into(),
                Some(json!({"media_id": null})),
                [403, 403, 403],
            ),
            (
                "slot limit inside",
                Method::PUT,
                "/areas/LQ/slot-limit".into(),
                Some(json!({"minutes": 15})),
                [200, 403, 403],
            ),
            (
                "slot limit outside",
                Method::PUT,
                "/areas/BP/slot-limit".into(),
                Some(json!({"minutes": 45})),
                [403, 403, 403],
            ),
            (
                "approval queue",
                Method::GET,
                "/approvals".into(),
                None,
                [200, 200, 200],
            ),
            (
                "approval of programme inside",
                Method::GET,
                format!("/approvals/programme/{prog_lq}"),
                None,
                [200, 200, 200],
            ),
            (
                "approval of programme outside",
                Method::GET,
                format!("/approvals/programme/{prog_bp}"),
                None,
                [404, 404, 404],
            ),
            (
                "approve outside",
                Method::POST,
                format!("/approvals/programme/{prog_bp}/approve"),
                None,
                [404, 404, 404],
            ),
            (
                "approve inside, nothing to approve",
                Method::POST,
                format!("/approvals/programme/{prog_lq}/approve"),
                None,
                [409, 403, 403],
            ),
            (
                "reject outside",
                Method::POST,
                format!("/approvals/schedule/{sched_bp}/reject"),
                Some(json!({"comment": "không"})),
                [404, 404, 404],
            ),
            (
                "require approval inside",
                Method::PUT,
                "/areas/LQ/approval".into(),
                Some(json!({"required": false})),
                [200, 403, 403],
            ),
            (
                "require approval outside",
                Method::PUT,
                "/areas/BP/approval".into(),
                Some(json!({"required": true})),
                [403, 403, 403],
            ),
            (
                "list urgent",
                Method::GET,
                "/urgent".into(),
                None,
                [200, 200, 200],
            ),
            (
                "send urgent inside",
                Method::POST,
                "/urgent".into(),
                Some(urgent_body(&["LQ"])),
                [201, 201, 403],
            ),
            (
                "send urgent outside",
                Method::POST,
                "/urgent".into(),
                Some(urgent_body(&["BP"])),
                [403, 403, 403],
            ),
            (
                "show urgent inside",
                Method::GET,
                format!("/urgent/{urgent_lq}"),
                None,
                [200, 200, 200],
            ),
            (
                "show urgent outside",
                Method::GET,
                format!("/urgent/{urgent_bp}"),
                None,
                [404, 404, 404],
            ),
            (
                "cancel urgent inside",
                Method::POST,
                format!("/urgent/{urgent_lq}/cancel"),
                None,
                [200, 200, 403],
            ),
            (
                "cancel urgent outside",
                Method::POST,
                format!("/urgent/{urgent_bp}/cancel"),
                None,
                [404, 404, 404],
            ),
            ("logs", Method::GET, "/logs".into(), None, [200, 200, 200]),
            (
                "logs inside",
                Method::GET,
                "/logs?station=LQ".into(),
                None,
                [200, 200, 200],
            ),
            (
                "logs outside",
                Method::GET,
                "/logs?station=BP".into(),
                None,
                [403, 403, 403],
            ),
            (
                "logs of area outside",
                Method::GET,
                "/logs?area=BP".into(),
                None,
                [403, 403, 403],
            ),
            (
                "airtime report",
                Method::GET,
                "/reports/airtime.csv".into(),
                None,
                [200, 200, 200],
            ),
            ("audit", Method::GET, "/audit".into(), None, [200, 403, 403]),
            (
                "audit filtered",
                Method::GET,
                "/audit?action=station&user=admin_lq".into(),
                None,
                [200, 403, 403],
            ),
            (
                "list areas",
                Method::GET,
                "/areas".into(),
                None,
                [200, 200, 200],
            ),
            (
                "create area inside",
                Method::POST,
                "/areas".into(),
                Some(json!({"code": format!("LQ-{ri}"), "name": "Thôn Đông", "parent": "LQ"})),
                [201, 403, 403],
            ),
            (
                "create area outside",
                Method::POST,
                "/areas".into(),
                Some(json!({"code": format!("BP-{ri}"), "name": "Thôn Tây", "parent": "BP"})),
                [403, 403, 403],
            ),
            (
                "create station inside",
                Method::POST,
                "/stations".into(),
                Some(json!({"code": format!("LQ{ri}"), "name": "Đài thôn", "area": "LQ"})),
                [201, 403, 403],
            ),
            (
                "create station outside",
                Method::POST,
                "/stations".into(),
                Some(json!({"code": format!("BP{ri}"), "name": "Đài thôn", "area": "BP"})),
                [403, 403, 403],
            ),
            (
                "list users",
                Method::GET,
                "/users".into(),
                None,
                [200, 403, 403],
            ),
            (
                "create user inside",
                Method::POST,
                "/users".into(),
                Some(
                    json!({"username": format!("new{ri}"), "password": "long enough", "role": "viewer", "area": "LQ"}),
                ),
                [201, 403, 403],
            ),
            (
                "create user outside",
                Method::POST,
                "/users".into(),
                Some(
                    json!({"username": format!("bp{ri}"), "password": "long enough", "role": "viewer", "area": "BP"}),
                ),
                [403, 403, 403],
            ),
            (
                "rename area inside",
                Method::PATCH,
                "/areas/LQ".into(),
                Some(json!({"name": "Thị trấn Liên Quan"})),
                [200, 403, 403],
            ),
            (
                "move one's own area",
                Method::PATCH,
                "/areas/LQ".into(),
                Some(json!({"parent": "HN"})),
                [403, 403, 403],
            ),
            (
                "rename area outside",
                Method::PATCH,
                "/areas/BP".into(),
                Some(json!({"name": "Xã Bình Phú"})),
                [403, 403, 403],
            ),
            (
                "disable user inside",
                Method::POST,
                format!("/users/new{ri}/disable"),
                None,
                [200, 403, 403],
            ),
            (
                "enable user inside",
                Method::POST,
                format!("/users/new{ri}/enable"),
                None,
                [200, 403, 403],
            ),
            (
                "reset password inside",
                Method::POST,
                format!("/users/new{ri}/password"),
                Some(json!({"password": "another long one"})),
                [204, 403, 403],
            ),
            (
                "disable user outside",
                Method::POST,
                "/users/op_bp/disable".into(),
                None,
                [404, 403, 403],
            ),
            (
                "reset password outside",
                Method::POST,
                "/users/op_bp/password".into(),
                Some(json!({"password": "another long one"})),
                [404, 403, 403],
            ),
            (
                "device schedule",
                Method::GET,
                "/device/schedule".into(),
                None,
                [403, 403, 403],
            ),
            (
                "device logs",
                Method::POST,
                "/device/logs".into(),
                Some(json!({"entries": []})),
                [403, 403, 403],
            ),
        ];
        for (what, method, path, body, want) in cases {
            let body = body.or_else(|| (method == Method::POST).then(|| json!({})));
            let (s, v) = app.call(method.clone(), &path, &t, body).await;
            if s != S(want[ri]) {
                failures.push(format!(
                    "{role}: {what} ({method} {path}): got {s}, want {} — {v}",
                    want[ri]
                ));
            }
        }
        let part =
            reqwest::multipart::Part::bytes(tone_wav(700.0 + ri as f32, 800)).file_name("x.wav");
        let res = app
            .client
            .post(app.url("/media"))
            .bearer_auth(&t)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
            .unwrap();
        let want = [201, 201, 403][ri];
        if res.status() != S(want) {
            failures.push(format!("{role}: upload: got {}, want {want}", res.status()));
        }
        let (_, stations) = app.get("/stations", &t).await;
        let codes: Vec<_> = stations
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["code"].clone())
            .collect();
        if codes.iter().any(|c| c == "BP") || !codes.contains(&json!("LQ")) {
            failures.push(format!("{role}: sees stations {codes:?}"));
        }
    }
    // Rotating the token: only an admin whose area holds the station; the old one stops working.
    let op = app.token("op_lq").await;
    let (s, _) = app.post("/stations/LQ/token", &op, json!({})).await;
    if s != S(403) {
        failures.push(format!("op_lq rotate LQ token: got {s}"));
    }
    let admin = app.token("admin_lq").await;
    let (s, v) = app.post("/stations/LQ/token", &admin, json!({})).await;
    if s != S(200) {
        failures.push(format!("admin_lq rotate LQ token: got {s} {v}"));
    } else {
        let new = v["token"].as_str().unwrap();
        let (s, _) = app.get("/device/schedule", &app.lq_device).await;
        if s != S(401) {
            failures.push(format!("old LQ token after rotation: got {s}"));
        }
        let (s, _) = app.get("/device/schedule", new).await;
        if s != S(200) {
            failures.push(format!("new LQ token: got {s}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    app.stop().await;
}
