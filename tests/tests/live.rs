//! Live broadcasts (#25) end to end at the API level: the real server in-process on
//! 127.0.0.1, real controllers writing what they air to WAV files, and a real WebSocket
//! carrying PCM as a tool without a browser sends it.

use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use schedules::{Clock, SystemClock};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tests::e2e::{
    eventually, live_ingest as connect, seed, send_tone, Aired, Api, InProcessController, Server,
    Ws, OP_PASSWORD,
};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Read text messages until one of `kind` comes (or the socket closes).
async fn until_message(ws: &mut Ws, kind: &str) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| anyhow!("no {kind} message within 20 s"))?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str())?;
                if v["type"] == kind {
                    return Ok(v);
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(anyhow!("socket failed before {kind}: {e}")),
            None => return Err(anyhow!("socket closed before {kind}")),
        }
    }
}

fn wav_output(dir: &Path, code: &str) -> controller::OutputSpec {
    format!("wav:{}", dir.join(format!("{code}.wav")).display())
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_voice_sent_as_pcm_airs_in_step_on_two_stations_and_is_logged_and_kept() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let tokens = seed(&data, &["XA", "XB", "XC"])?;
    let server = Server::start(&data).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut ctrls = Vec::new();
    for (code, token) in [("XA", &tokens[0]), ("XB", &tokens[1])] {
        ctrls.push(InProcessController::start(
            &server.url,
            code,
            token,
            &dir.path().join(code),
            wav_output(dir.path(), code),
            clock.clone(),
        )?);
    }
    let op = Api::login(&server, "op", OP_PASSWORD).await?;
    op.wait_online(2).await?;

    let (id, ingest) = op.live_on_xa_xb().await?;
    assert_eq!(ingest, format!("/api/v1/live/{id}/ingest"));
    // Both stations open the session's stream before anyone speaks.
    eventually(
        Duration::from_secs(20),
        "both stations connected",
        || async {
            let s = op.get(&format!("/live/{id}")).await?;
            let states: Vec<String> = s["stations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| x["state"].as_str().unwrap_or("").to_string())
                .collect();
            Ok((states.len() == 2 && states.iter().all(|s| s != "connecting")).then_some(()))
        },
    )
    .await?;

    let mut ws = connect(&server, &ingest, op.token()).await?;
    let sent_at = send_tone(&mut ws, 1000.0, 3000).await?;
    ws.send(Message::Text(r#"{"type":"stop"}"#.into())).await?;
    let ended = until_message(&mut ws, "ended").await?;
    assert!(
        ended["reason"]
            .as_str()
            .unwrap_or("")
            .contains("stopped by op"),
        "{ended}"
    );
    let archive = ended["archive"]
        .as_str()
        .context("the recording is in the library")?
        .to_string();

    // One log entry per station, played, linked to the recording.
    for code in ["XA", "XB"] {
        let entry = op.live_entry(code, &id).await?;
        assert_eq!(entry["status"], "played", "{entry}");
        let played = entry["played_ms"].as_u64().unwrap_or(0);
        assert!(
            (2000..=4000).contains(&played),
            "{code} played {played} ms: {entry}"
        );
    }
    let session = op.get(&format!("/live/{id}")).await?;
    assert_eq!(session["state"], "ended");
    assert_eq!(session["archive"], archive.as_str());
    let aired = session["aired_s"].as_f64().unwrap_or(0.0);
    assert!((2.5..=3.5).contains(&aired), "{session}");
    let media = op
        .request(reqwest::Method::GET, &format!("/media/{archive}"))
        .send()
        .await?;
    assert!(media.status().is_success(), "{}", media.status());
    let listed = op.get("/live").await?;
    assert_eq!(listed[0]["id"], id.as_str());

    for c in ctrls {
        c.stop().await?;
    }
    // The tone is in both outputs, at the same instant, after it was sent.
    let tests::e2e::InStep {
        a,
        b,
        ta,
        tb: _,
        apart_us: apart,
    } = tests::e2e::in_step(dir.path(), sent_at)?;
    eprintln!(
        "first sound {} ms after the first message; stations {apart} µs apart",
        (ta - sent_at).num_milliseconds()
    );
    assert!(apart <= 20_000, "XA and XB {apart} µs apart");
    let mid = ta + chrono::Duration::milliseconds(1500);
    for (code, aired) in [("XA", &a), ("XB", &b)] {
        let f = aired
            .frequency_at(mid, 200)
            .context("recording too short")?;
        assert!((950.0..=1050.0).contains(&f), "{code} aired {f} Hz");
        let sounding = aired.sounding_ms(ta, ta + chrono::Duration::seconds(5), 0.05);
        assert!(
            (2700..=3300).contains(&sounding),
            "{code} sounded {sounding} ms"
        );
    }
    server.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_callers_and_bad_input_are_refused_with_a_reason_and_silence_ends_a_session(
) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    seed(&data, &["XA", "XB"])?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = web::state::AppState::open_with(
        &data,
        clock.clone(),
        web::state::Config {
            live_silence: Duration::from_secs(1),
            ..Default::default()
        },
    )?;
    web::admin::add_user(
        &state.db,
        "test",
        "nghe",
        OP_PASSWORD,
        web::db::users::Role::Viewer,
        "TT",
        clock.now(),
    )?;
    web::admin::add_area(&state.db, "test", "BP", "Bình Phú", None, clock.now())?;
    web::admin::add_user(
        &state.db,
        "test",
        "op_bp",
        OP_PASSWORD,
        web::db::users::Role::Operator,
        "BP",
        clock.now(),
    )?;
    let server = Server::serve_state(&data, "127.0.0.1:0".parse()?, state).await?;
    let op = Api::login(&server, "op", OP_PASSWORD).await?;
    let body = json!({"title": "t", "stations": ["XA"], "priority": "priority"});

    // Without the right: 403, and nothing starts.
    let viewer = Api::login(&server, "nghe", OP_PASSWORD).await?;
    let res = viewer
        .request(reqwest::Method::POST, "/live")
        .json(&body)
        .send()
        .await?;
    assert_eq!(res.status(), 403);
    let other = Api::login(&server, "op_bp", OP_PASSWORD).await?;
    let res = other
        .request(reqwest::Method::POST, "/live")
        .json(&body)
        .send()
        .await?;
    assert_eq!(res.status(), 403);
    let msg: Value = res.json().await?;
    assert!(
        msg["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("XA"),
        "{msg}"
    );
    assert_eq!(op.get("/live").await?, json!([]));

    // A format the server does not take: refused, naming the field.
    for (format, field) in [
        (
            json!({"codec": "pcm_s16le", "sample_rate": 96000, "channels": 1}),
            "sample_rate",
        ),
        (
            json!({"codec": "pcm_s16le", "sample_rate": 16000, "channels": 6}),
            "channels",
        ),
        (
            json!({"codec": "mp3", "sample_rate": 16000, "channels": 1}),
            "codec",
        ),
    ] {
        let res = op
            .request(reqwest::Method::POST, "/live")
            .json(&json!({"title": "t", "stations": ["XA"], "priority": "priority", "format": format}))
            .send()
            .await?;
        assert!(res.status().is_client_error(), "{format}: {}", res.status());
        let msg: Value = res.json().await?;
        let text = msg["error"]["message"].as_str().unwrap_or("");
        assert!(
            text.contains(field) || text.contains("mp3"),
            "{format}: {msg}"
        );
    }
    let res = op
        .request(reqwest::Method::POST, "/live")
        .json(&json!({"title": "t", "stations": ["XA"], "priority": "normal"}))
        .send()
        .await?;
    assert_eq!(res.status(), 422);

    // Garbage on the socket: an error the page can show, then the socket closes and the
    // session ends.
    let made = op.post("/live", &body).await?;
    let (id, ingest) = (
        made["id"].as_str().context("id")?.to_string(),
        made["ingest"].as_str().context("ingest")?.to_string(),
    );
    let mut ws = connect(&server, &ingest, op.token()).await?;
    // A second microphone on the same session: refused.
    let second = connect(&server, &ingest, op.token()).await;
    assert!(second.is_err(), "a second ingest connection was accepted");
    ws.send(Message::Binary(vec![1, 2, 3].into())).await?;
    let err = until_message(&mut ws, "error").await?;
    assert!(
        err["message"].as_str().unwrap_or("").contains("3 bytes"),
        "{err}"
    );
    let s = op.get(&format!("/live/{id}")).await?;
    assert_eq!(s["state"], "ended", "{s}");
    assert!(
        s["end_reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("bad input"),
        "{s}"
    );
    let made = op.post("/live", &body).await?;
    let mut ws = connect(
        &server,
        made["ingest"].as_str().context("ingest")?,
        op.token(),
    )
    .await?;
    ws.send(Message::Text("hello".into())).await?;
    let err = until_message(&mut ws, "error").await?;
    assert!(
        err["message"].as_str().unwrap_or("").contains("stop"),
        "{err}"
    );

    // Signed in by cookie, the socket must come from this server's own pages.
    let login: reqwest::Response = reqwest::Client::new()
        .post(format!("{}/auth/login", server.api()))
        .json(&json!({"username": "op", "password": OP_PASSWORD}))
        .send()
        .await?;
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("a session cookie")?
        .to_string();
    let made = op.post("/live", &body).await?;
    let ingest = made["ingest"].as_str().context("ingest")?.to_string();
    for origin in [None, Some("http://evil.example")] {
        let mut req = format!("ws://{}{ingest}", server.addr).into_client_request()?;
        req.headers_mut().insert("cookie", cookie.parse()?);
        if let Some(o) = origin {
            req.headers_mut().insert("origin", o.parse()?);
        }
        match tokio_tungstenite::connect_async(req).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
                assert_eq!(res.status(), 403, "origin {origin:?}")
            }
            other => panic!("origin {origin:?}: {:?}", other.map(|_| ())),
        }
    }
    let mut req = format!("ws://{}{ingest}", server.addr).into_client_request()?;
    req.headers_mut().insert("cookie", cookie.parse()?);
    req.headers_mut().insert("origin", server.url.parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    let _ = until_message(&mut ws, "state").await?;

    // Nobody speaks: the session ends after the configured silence, and says why.
    let ended = until_message(&mut ws, "ended").await?;
    assert_eq!(ended["reason"], "no audio for 1 s", "{ended}");
    server.stop().await?;
    Ok(())
}

/// Send `ms` of a `hz` tone (16 kHz mono) on a new session's socket, in real time.
async fn speak(server: &Server, op: &Api, priority: &str, hz: f32, ms: u32) -> Result<String> {
    let made = op
        .post(
            "/live",
            &json!({"title": format!("{hz} Hz"), "stations": ["XA"], "priority": priority,
                    "format": {"codec": "pcm_s16le", "sample_rate": 16000, "channels": 1}}),
        )
        .await?;
    let id = made["id"].as_str().context("id")?.to_string();
    let mut ws = connect(
        server,
        made["ingest"].as_str().context("ingest")?,
        op.token(),
    )
    .await?;
    let samples = media::signal::tone(hz, ms, 16_000, 0.5);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for chunk in samples.chunks(320) {
        tick.tick().await;
        let bytes: Vec<u8> = chunk
            .iter()
            .flat_map(|s| ((s * 32767.0) as i16).to_le_bytes())
            .collect();
        ws.send(Message::Binary(bytes.into())).await?;
    }
    ws.send(Message::Text(r#"{"type":"stop"}"#.into())).await?;
    until_message(&mut ws, "ended").await?;
    Ok(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_emergency_session_cuts_a_priority_one_which_resumes_after_and_they_never_mix(
) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let tokens = seed(&data, &["XA"])?;
    let server = Server::start(&data).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ctl = InProcessController::start(
        &server.url,
        "XA",
        &tokens[0],
        &dir.path().join("XA"),
        wav_output(dir.path(), "XA"),
        clock,
    )?;
    let op = Api::login(&server, "op", OP_PASSWORD).await?;
    eventually(Duration::from_secs(30), "the station online", || async {
        let st = op.get("/stations/XA").await?;
        Ok((st["online"] == true).then_some(()))
    })
    .await?;
    let t0 = SystemClock.now();
    let (a, b) = tokio::join!(speak(&server, &op, "priority", 1000.0, 5000), async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let at = SystemClock.now();
        speak(&server, &op, "emergency", 500.0, 1500)
            .await
            .map(|id| (id, at))
    });
    let (a, (b, b_at)) = (a?, b?);
    let mut entries = Vec::new();
    for id in [&a, &b] {
        entries.push(op.live_entry("XA", id).await?);
    }
    ctl.stop().await?;
    // The priority session: played, with the emergency's stretch as a gap.
    assert_eq!(entries[0]["status"], "played", "{}", entries[0]);
    assert!(
        entries[0]["gaps"].to_string().contains("interrupted"),
        "{}",
        entries[0]
    );
    assert_eq!(entries[1]["status"], "played", "{}", entries[1]);
    let w = Aired::read(&dir.path().join("XA.wav"))?;
    let start = w.first_sound_after(t0, 0.05).context("nothing aired")?;
    let f = |at: DateTime<Utc>| w.frequency_at(at, 200).unwrap_or(0.0);
    let near = |got: f32, want: f32| (want - 40.0..=want + 40.0).contains(&got);
    let before = start + chrono::Duration::milliseconds(700);
    assert!(near(f(before), 1000.0), "before: {} Hz", f(before));
    // During the emergency: its tone alone (mixed, the crossings would not be 500 Hz).
    let e_start = w
        .first_sound_after(b_at, 0.05)
        .context("the emergency aired")?;
    let during = b_at + chrono::Duration::milliseconds(900);
    assert!(near(f(during), 500.0), "during: {} Hz", f(during));
    let _ = e_start;
    // After it: the priority session again, at the live instant.
    let after = b_at + chrono::Duration::milliseconds(2600);
    assert!(near(f(after), 1000.0), "after: {} Hz", f(after));
    server.stop().await?;
    Ok(())
}

/// A station killed (`kill -9`) while a session airs there logs it at its next start:
/// `interrupted`, with what had aired by then (journaled as it airs, like every item).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_station_killed_mid_session_logs_it_interrupted_at_its_next_start() -> Result<()> {
    use tests::e2e::ControllerProcess;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let tokens = seed(&data, &["XK"])?;
    let server = Server::start(&data).await?;
    let wav = format!("wav:{}", dir.path().join("XK.wav").display());
    let ctl_dir = dir.path().join("XK");
    let ctl = ControllerProcess::spawn(&server.url, "XK", &tokens[0], &ctl_dir, &wav)?;
    let op = Api::login(&server, "op", OP_PASSWORD).await?;
    op.wait_online(1).await?;
    let created = op
        .post(
            "/live",
            &json!({"title": "Họp khẩn", "stations": ["XK"], "priority": "priority",
                    "format": {"codec": "pcm_s16le", "sample_rate": 48000, "channels": 1}}),
        )
        .await?;
    let id = created["id"].as_str().context("id")?.to_string();
    let ingest = created["ingest"].as_str().context("ingest")?.to_string();
    let mut ws = connect(&server, &ingest, op.token()).await?;
    // Speak for 6 s in the background; kill the station once it has aired for a while.
    let speaking = tokio::spawn(async move {
        let _ = send_tone(&mut ws, 700.0, 6_000).await;
        ws
    });
    eventually(Duration::from_secs(20), "airing for 2.5 s", || async {
        let s = op.get(&format!("/live/{id}")).await?;
        let played = s["stations"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| x["code"] == "XK")
            .and_then(|x| x["played_ms"].as_u64())
            .unwrap_or(0);
        Ok((played >= 2_500).then_some(()))
    })
    .await?;
    ctl.kill9()?;
    let mut ws = speaking.await?;
    let _ = ws.send(Message::Text(r#"{"type":"stop"}"#.into())).await;

    let _again = ControllerProcess::spawn(&server.url, "XK", &tokens[0], &ctl_dir, "null")?;
    let entry = eventually(Duration::from_secs(30), "the interrupted entry", || async {
        let logs = op.get("/logs?station=XK").await?;
        Ok(logs
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["id"].as_str().is_some_and(|i| i.contains(&id)))
            .cloned())
    })
    .await?;
    assert_eq!(entry["status"], "interrupted", "{entry}");
    let played = entry["played_ms"].as_u64().unwrap_or(0);
    assert!(
        played >= 1_000,
        "what aired before the kill is kept: {entry}"
    );
    Ok(())
}
