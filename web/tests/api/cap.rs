//! `POST /cap`: CAP 1.2 alerts from a warning system become urgent notices.

use crate::helpers::{tone_wav, Sse, TestApp};
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::Digest as _;

struct Msg<'a> {
    id: &'a str,
    status: &'a str,
    msg_type: &'a str,
    references: Option<String>,
    geocodes: &'a [&'a str],
    expires: &'a str,
    resource: Option<String>,
}

impl Default for Msg<'_> {
    fn default() -> Self {
        Msg {
            id: "KTTV-2026-001",
            status: "Actual",
            msg_type: "Alert",
            references: None,
            geocodes: &["LQ"],
            expires: "2026-11-30T06:00:00+07:00",
            resource: None,
        }
    }
}

fn xml(m: &Msg<'_>) -> String {
    let refs = m
        .references
        .as_ref()
        .map(|r| format!("<references>{r}</references>"))
        .unwrap_or_default();
    let geos: String = m
        .geocodes
        .iter()
        .map(|g| format!("<geocode><valueName>loaxa</valueName><value>{g}</value></geocode>"))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{id}</identifier>
  <sender>kttv@nchmf.gov.vn</sender>
  <sent>2026-11-30T00:00:00+07:00</sent>
  <status>{status}</status>
  <msgType>{mt}</msgType>
  <scope>Public</scope>
  {refs}
  <info>
    <language>vi-VN</language>
    <category>Met</category>
    <event>Bão</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <expires>{exp}</expires>
    <headline>Bão số 3</headline>
    <description>Bão số 3 đổ bộ trong đêm nay.</description>
    <instruction>Bà con ở trong nhà.</instruction>
    {res}
    <area><areaDesc>Thạch Thất</areaDesc>{geos}</area>
  </info>
</alert>"#,
        id = m.id,
        status = m.status,
        mt = m.msg_type,
        exp = m.expires,
        res = m.resource.clone().unwrap_or_default(),
    )
}

fn audio_resource(bytes: &[u8], digest_of: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let digest = hex::encode(sha2::Sha256::digest(digest_of));
    format!(
        "<resource><resourceDesc>bản tin</resourceDesc><mimeType>audio/x-wav</mimeType>\
         <derefUri>{b64}</derefUri><digest>{digest}</digest></resource>"
    )
}

async fn post_cap(
    app: &TestApp,
    token: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    app.post_cap(token, body).await
}

async fn notices(app: &TestApp, token: &str) -> Vec<Value> {
    app.get("/urgent", token)
        .await
        .1
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_cap_alert_airs_spoken_then_an_update_replaces_it_and_a_cancel_stops_it() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let mut lq = Sse::connect(&app, &app.lq_device).await;
    lq.next().await;

    let (s, v) = post_cap(&app, &t, xml(&Msg::default())).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let first = v["id"].as_str().unwrap().to_string();
    let ev = lq.next().await;
    assert_eq!(ev.event, "urgent");
    assert_eq!(ev.data["id"], first.as_str());
    let (_, u) = app.get(&format!("/urgent/{first}"), &t).await;
    assert_eq!(u["title"], "Bão số 3");
    assert_eq!(
        u["text"],
        "Bão số 3. Bão số 3 đổ bộ trong đêm nay. Bà con ở trong nhà."
    );
    assert_eq!(u["expires_at"], "2026-11-29T23:00:00Z");
    assert_eq!(u["cap"], "kttv@nchmf.gov.vn,KTTV-2026-001");

    // The same message again: one notice, the first id.
    let (s, v) = post_cap(&app, &t, xml(&Msg::default())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], first.as_str());
    assert_eq!(notices(&app, &t).await.len(), 1);

    // An update with audio: the old notice is cancelled, a new one airs.
    let wav = tone_wav(523.0, 1500);
    let update = Msg {
        id: "KTTV-2026-002",
        msg_type: "Update",
        references: Some("kttv@nchmf.gov.vn,KTTV-2026-001,2026-11-30T00:00:00+07:00".to_string()),
        resource: Some(audio_resource(&wav, &wav)),
        ..Msg::default()
    };
    let (s, v) = post_cap(&app, &t, xml(&update)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let second = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["replaced"][0], first.as_str());
    let (mut pushed, mut cancelled) = (false, false);
    for _ in 0..6 {
        let e = lq.next().await;
        pushed |= e.event == "urgent" && e.data["id"] == second.as_str();
        cancelled |= e.event == "cancel" && e.data["id"] == first.as_str();
        if pushed && cancelled {
            break;
        }
    }
    assert!(
        pushed && cancelled,
        "the new notice is pushed and the old one cancelled"
    );
    let (_, old) = app.get(&format!("/urgent/{first}"), &t).await;
    assert!(old["cancelled_at"].is_string());
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    let live = doc["urgent"].as_array().unwrap();
    assert_eq!(live.len(), 1);
    // The audio sent, with the chime before it.
    assert_eq!(live[0]["duration_ms"], 1500 + 1200);

    // A cancel referencing the update.
    let cancel = Msg {
        id: "KTTV-2026-003",
        msg_type: "Cancel",
        references: Some("kttv@nchmf.gov.vn,KTTV-2026-002,2026-11-30T00:00:00+07:00".to_string()),
        ..Msg::default()
    };
    let (s, v) = post_cap(&app, &t, xml(&cancel)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["cancelled"][0], second.as_str());
    let (_, doc) = app.get("/device/schedule", &app.lq_device).await;
    assert!(doc["urgent"].as_array().unwrap().is_empty());

    let (_, audit) = app.get("/audit", &t).await;
    let caps = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "cap.receive")
        .count();
    assert_eq!(caps, 3, "{audit}");
    drop(lq);
    app.stop().await;
}

#[tokio::test]
async fn a_cap_audio_with_a_bad_digest_is_refused_and_nothing_airs() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let wav = tone_wav(523.0, 500);
    let m = Msg {
        resource: Some(audio_resource(&wav, b"something else")),
        ..Msg::default()
    };
    let (s, v) = post_cap(&app, &t, xml(&m)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("digest"),
        "{v}"
    );
    assert!(notices(&app, &t).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn exercises_and_tests_are_recorded_but_not_aired_unless_configured() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    for (i, status) in ["Exercise", "Test", "System", "Draft"].iter().enumerate() {
        let id = format!("EX-{i}");
        let (s, v) = post_cap(
            &app,
            &t,
            xml(&Msg {
                id: &id,
                status,
                ..Msg::default()
            }),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{status}: {v}");
        assert_eq!(v["aired"], false);
    }
    assert!(notices(&app, &t).await.is_empty());
    app.stop().await;

    let app = TestApp::spawn_with(web::state::Config {
        cap_air_exercises: true,
        ..Default::default()
    })
    .await;
    let t = app.token("admin_tt").await;
    let (s, v) = post_cap(
        &app,
        &t,
        xml(&Msg {
            status: "Exercise",
            ..Msg::default()
        }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = post_cap(
        &app,
        &t,
        xml(&Msg {
            id: "T",
            status: "Test",
            ..Msg::default()
        }),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    app.stop().await;
}

#[tokio::test]
async fn geocodes_name_our_areas_or_stations_within_the_senders_reach_and_others_are_ignored() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    // Another system's codes name nothing of ours: ignored, LQ airs.
    let (s, v) = post_cap(
        &app,
        &t,
        xml(&Msg {
            geocodes: &["LQ", "VN-HN-999", "X1"],
            ..Msg::default()
        }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, u) = app
        .get(&format!("/urgent/{}", v["id"].as_str().unwrap()), &t)
        .await;
    assert_eq!(u["stations"].as_array().unwrap().len(), 1, "{u}");
    // Only codes of others: recorded, answered as reaching no station.
    let (s, v) = post_cap(
        &app,
        &t,
        xml(&Msg {
            id: "A1b",
            geocodes: &["VN-HN-999"],
            ..Msg::default()
        }),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["aired"], false);
    assert_eq!(v["unmatched_geocodes"][0], "VN-HN-999");

    // An area code (TT: both stations) works; an operator of LQ may not alert BP.
    let (s, v) = post_cap(
        &app,
        &t,
        xml(&Msg {
            id: "A2",
            geocodes: &["TT"],
            ..Msg::default()
        }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, u) = app
        .get(&format!("/urgent/{}", v["id"].as_str().unwrap()), &t)
        .await;
    assert_eq!(u["stations"].as_array().unwrap().len(), 2);
    let op = app.token("op_lq").await;
    let (s, v) = post_cap(
        &app,
        &op,
        xml(&Msg {
            id: "A3",
            geocodes: &["BP"],
            ..Msg::default()
        }),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    app.stop().await;
}

#[tokio::test]
async fn malformed_or_unsupported_cap_gets_a_4xx_naming_the_problem() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let (s, v) = post_cap(&app, &t, "<alert".to_string()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("malformed XML"));
    let cap10 = xml(&Msg::default()).replace(
        "urn:oasis:names:tc:emergency:cap:1.2",
        "http://www.incident.com/cap/1.0",
    );
    let (s, v) = post_cap(&app, &t, cap10).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("1.0"),
        "{v}"
    );
    let no_event = xml(&Msg::default()).replace("<event>Bão</event>", "");
    let (s, v) = post_cap(&app, &t, no_event).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("event"),
        "{v}"
    );
    let expired = Msg {
        expires: "2026-11-29T00:00:00+07:00",
        ..Msg::default()
    };
    let (s, v) = post_cap(&app, &t, xml(&expired)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("expire"),
        "{v}"
    );
    // Wrong content type.
    let res = app
        .client
        .post(app.url("/cap"))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body(xml(&Msg::default()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Too large.
    let big = format!("{}<!--{}-->", xml(&Msg::default()), "x".repeat(1 << 20));
    let (s, _) = post_cap(&app, &t, big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // A viewer may not send alerts.
    let viewer = app.token("viewer_lq").await;
    let (s, _) = post_cap(&app, &viewer, xml(&Msg::default())).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(notices(&app, &t).await.is_empty());
    app.stop().await;
}

/// A warning system's file server: `/storm.wav` (the audio), `/big.wav` (too large),
/// `/slow.wav` (never answers), anything else 404. Answers its base URL.
async fn audio_server(wav: Vec<u8>, big: usize) -> String {
    use axum::routing::get;
    let app = axum::Router::new()
        .route("/storm.wav", get(move || async move { wav }))
        .route(
            "/moved.wav",
            get(|| async { axum::response::Redirect::temporary("/storm.wav") }),
        )
        .route("/big.wav", get(move || async move { vec![0u8; big] }))
        .route(
            "/slow.wav",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                Vec::<u8>::new()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn uri_resource(uri: &str, digest_of: &[u8]) -> String {
    let digest = hex::encode(sha2::Sha256::digest(digest_of));
    format!(
        "<resource><resourceDesc>bản tin</resourceDesc><mimeType>audio/x-wav</mimeType>\
         <uri>{uri}</uri><digest>{digest}</digest></resource>"
    )
}

/// A CAP server with `cap_fetch_allow` naming `base`.
async fn app_fetching_from(base: &str) -> TestApp {
    TestApp::spawn_with(web::state::Config {
        cap_max_audio_bytes: 400_000,
        cap_fetch_timeout: std::time::Duration::from_secs(2),
        cap_fetch_allow: vec![format!("{base}/")],
        ..web::state::Config::default()
    })
    .await
}

#[tokio::test]
async fn cap_audio_by_uri_is_fetched_checked_and_aired_and_bad_fetches_are_refused() {
    let wav = tone_wav(523.0, 1200);
    let base = audio_server(wav.clone(), 500_000).await;
    let app = app_fetching_from(&base).await;
    let t = app.token("admin_tt").await;

    let fetched = Msg {
        resource: Some(uri_resource(&format!("{base}/storm.wav"), &wav)),
        ..Msg::default()
    };
    let (s, v) = post_cap(&app, &t, xml(&fetched)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // The fetched audio is in the library, probed like an upload (the notice airs it after
    // the chime).
    let sha = hex::encode(sha2::Sha256::digest(&wav));
    let (s, list) = app.get("/media", &t).await;
    assert_eq!(s, StatusCode::OK);
    let m = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == sha.as_str())
        .expect("the fetched audio is in the library");
    assert_eq!(m["duration_ms"], 1200, "{m}");

    // Each bad fetch is refused naming the uri; a source that fails says the same words
    // whatever failed (a missing file, a slow answer, a redirect, a closed port), so that
    // CAP messages cannot map the network; nothing more airs.
    let unfetched = "could not be fetched from its source";
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        port
    };
    let port_of = |b: &str| b.rsplit(':').next().unwrap().to_string();
    for (i, (uri, digest_of, says)) in [
        (format!("{base}/missing.wav"), &wav[..], unfetched),
        (
            format!("{base}/big.wav"),
            &wav[..],
            "larger than 400000 bytes",
        ),
        (format!("{base}/slow.wav"), &wav[..], unfetched),
        (format!("{base}/moved.wav"), &wav[..], unfetched),
        (format!("{base}/storm.wav"), &b"other audio"[..], "digest"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("KTTV-URI-{i}");
        let m = Msg {
            id: &id,
            resource: Some(uri_resource(&uri, digest_of)),
            ..Msg::default()
        };
        let (s, v) = post_cap(&app, &t, xml(&m)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{uri}: {v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{uri}: {message}");
    }
    // Any address not allowed is not fetched at all, a closed port as an open one.
    for (i, uri) in [
        format!("http://127.0.0.1:{closed}/storm.wav"),
        format!(
            "{}/storm.wav",
            base.replace(&port_of(&base), &closed.to_string())
        ),
        "http://169.254.169.254/latest/meta-data".to_string(),
        "file:///etc/passwd".to_string(),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("KTTV-NOT-ALLOWED-{i}");
        let m = Msg {
            id: &id,
            resource: Some(uri_resource(&uri, &wav)),
            ..Msg::default()
        };
        let (s, v) = post_cap(&app, &t, xml(&m)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{uri}: {v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("not an address this server fetches from")
                || message.contains("only http and https"),
            "{uri}: {message}"
        );
    }
    assert_eq!(notices(&app, &t).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn cap_audio_is_fetched_only_after_the_targets_are_allowed_and_never_by_default() {
    let wav = tone_wav(523.0, 1200);
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = {
        use axum::routing::get;
        let (hits, wav) = (hits.clone(), wav.clone());
        let app = axum::Router::new().route(
            "/storm.wav",
            get(move || {
                hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let wav = wav.clone();
                async move { wav }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    };
    // Allowed source, but the operator of BP names LQ: refused before any fetch.
    let app = app_fetching_from(&counted).await;
    let op_bp = app.token("op_bp").await;
    let m = Msg {
        resource: Some(uri_resource(&format!("{counted}/storm.wav"), &wav)),
        ..Msg::default()
    };
    let (s, v) = post_cap(&app, &op_bp, xml(&m)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    app.stop().await;

    // By default nothing is fetched, not even for an admin.
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let (s, v) = post_cap(&app, &t, xml(&m)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cap_fetch_allow"));
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    // The refused message gave its claim up: sent again inline, it airs.
    let inline = Msg {
        resource: Some(audio_resource(&wav, &wav)),
        ..Msg::default()
    };
    let (s, v) = post_cap(&app, &t, xml(&inline)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    app.stop().await;
}

#[tokio::test]
async fn a_communes_cap_message_cannot_cancel_or_update_a_district_alert() {
    let app = TestApp::spawn().await;
    let tt = app.token("admin_tt").await;
    let op_lq = app.token("op_lq").await;
    // The district's alert reaches LQ and BP.
    let district = Msg {
        geocodes: &["TT"],
        ..Msg::default()
    };
    let (s, v) = post_cap(&app, &tt, xml(&district)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    // LQ's operator, whose station it reaches, sends a Cancel and an Update naming it.
    for (i, mt) in ["Cancel", "Update"].into_iter().enumerate() {
        let ident = format!("LQ-{i}");
        let m = Msg {
            id: &ident,
            msg_type: mt,
            references: Some("kttv@nchmf.gov.vn,KTTV-2026-001,2026-11-30T00:00:00+07:00".into()),
            ..Msg::default()
        };
        let (s, v) = post_cap(&app, &op_lq, xml(&m)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{mt}: {v}");
    }
    let (_, n) = app.get(&format!("/urgent/{id}"), &tt).await;
    assert!(
        n["cancelled_at"].is_null(),
        "the district alert is still on: {n}"
    );
    assert_eq!(notices(&app, &tt).await.len(), 1, "the Update sent nothing");
    // Nor through the API.
    let (s, _) = app
        .post(
            &format!("/urgent/{id}/cancel"),
            &op_lq,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn one_callers_message_does_not_swallow_anothers_and_twins_air_once() {
    let app = TestApp::spawn().await;
    let tt = app.token("admin_tt").await;
    let op_lq = app.token("op_lq").await;
    // LQ's operator first posts a Test with the identifier the real alert will have.
    let test = Msg {
        status: "Test",
        ..Msg::default()
    };
    let (s, v) = post_cap(&app, &op_lq, xml(&test)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    // The district's real alert with the same sender and identifier still airs.
    let (s, v) = post_cap(&app, &tt, xml(&Msg::default())).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(notices(&app, &tt).await.len(), 1);

    // The same message posted twice at the same moment by one caller airs once.
    let twin = Msg {
        id: "KTTV-2026-TWIN",
        ..Msg::default()
    };
    let (a, b) = tokio::join!(
        post_cap(&app, &tt, xml(&twin)),
        post_cap(&app, &tt, xml(&twin))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CREATED],
        "{a:?} {b:?}"
    );
    let dup = if a.0 == StatusCode::OK { &a.1 } else { &b.1 };
    assert_eq!(dup["duplicate"], true, "{dup}");
    assert_eq!(notices(&app, &tt).await.len(), 2);
    app.stop().await;
}
