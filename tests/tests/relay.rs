//! Relays of live channels end to end: a tone served over HTTP by the test itself (an
//! endless WAV stream), the real server in-process, a real `loaxa-controller` process
//! writing what airs to `wav:`. The channel is 440 Hz, an urgent notice 1000 Hz.

use anyhow::Result;
use chrono::{DateTime, Duration as CDuration, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::time::Duration;
use tests::e2e::{
    at_in, eventually, seed, seed_admin, sine_440_lufs, tone_wav, Aired, Api, ControllerProcess,
    Server, ToneStream, OP_PASSWORD,
};

/// How far from the window's edges the relay's sound may begin and end here (a busy machine;
/// the mixer itself ends it on the exact frame).
const EDGE_MS: i64 = 400;
fn now() -> DateTime<Utc> {
    schedules::Clock::now(&schedules::SystemClock)
}

/// The channel's fixed gain: a 0.5 tone airs at 0.25.
const GAIN_DB: f64 = -6.0206;

struct Setup {
    _dir: tempfile::TempDir,
    server: Server,
    api: Api,
    ctl: ControllerProcess,
    wav: std::path::PathBuf,
    stream: ToneStream,
    channel: String,
    token: String,
}

async fn setup(station: &str) -> Result<Setup> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let tokens = seed(&data, &[station])?;
    seed_admin(&data, "admin")?;
    let server = Server::start(&data).await?;
    let api = Api::login(&server, "op", OP_PASSWORD).await?;
    let admin = Api::login(&server, "admin", OP_PASSWORD).await?;
    let stream = ToneStream::start(440.0, 0.5).await?;
    let channel = admin
        .post(
            "/channels",
            &json!({"name": "VOV1 (thử)", "url": stream.url, "gain_db": GAIN_DB}),
        )
        .await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let wav = dir.path().join("aired.wav");
    let ctl = ControllerProcess::spawn(
        &server.url,
        station,
        &tokens[0],
        &dir.path().join("ctl"),
        &format!("wav:{}", wav.display()),
    )?;
    Ok(Setup {
        _dir: dir,
        server,
        api,
        ctl,
        wav,
        stream,
        channel,
        token: tokens[0].clone(),
    })
}

async fn relay_at(s: &Setup, station: &str, at: DateTime<Utc>, seconds: u64) -> Result<String> {
    let v = s
        .api
        .post(
            "/schedules",
            &json!({"title": "Tiếp sóng VOV1", "channel_id": s.channel,
                    "duration_seconds": seconds, "stations": [station],
                    "at": at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    "category": "tiếp sóng"}),
        )
        .await?;
    Ok(v["id"].as_str().unwrap_or_default().to_string())
}

async fn relay_log(api: &Api, station: &str, id: &str) -> Result<Value> {
    eventually(Duration::from_secs(60), "the relay's log entry", || async {
        Ok(api.logs_for(station, id).await?.into_iter().next())
    })
    .await
}

/// The instant the sound stops for good after `from` (last loud 10 ms block).
fn last_sound(aired: &Aired, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
    let mut t = from;
    let mut last = from;
    while t < to {
        let next = t + CDuration::milliseconds(10);
        if aired.sounding_ms(t, next, 0.05) > 0 {
            last = next;
        }
        t = next;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_airs_for_exactly_its_window_and_rides_out_a_dropped_stream() -> Result<()> {
    let s = setup("LQ").await?;
    let start = at_in(8);
    let window = 18;
    let end = start + CDuration::seconds(window);
    let id = relay_at(&s, "LQ", start, window as u64).await?;

    // Cut the stream 5 s into the window for 6 s.
    let cut = start + CDuration::seconds(5);
    tokio::time::sleep((cut - now()).to_std().unwrap_or_default()).await;
    s.stream.set_up(false);
    tokio::time::sleep(Duration::from_secs(6)).await;
    s.stream.set_up(true);

    let log = relay_log(&s.api, "LQ", &id).await?;
    s.ctl.terminate()?;
    assert_eq!(log["status"], "played", "{log}");
    let gaps = log["gaps"].as_array().cloned().unwrap_or_default();
    assert_eq!(gaps.len(), 1, "one gap: {log}");
    let reason = gaps[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("the stream ended") || reason.contains("503"),
        "{reason}"
    );

    let aired = Aired::read(&s.wav)?;
    let first = aired
        .first_sound_after(start - CDuration::seconds(3), 0.05)
        .expect("the relay aired");
    let late = (first - start).num_milliseconds();
    assert!(
        late.abs() <= EDGE_MS,
        "first sound {late} ms from the window's start"
    );
    let last = last_sound(&aired, start, end + CDuration::seconds(3));
    let over = (last - end).num_milliseconds();
    assert!(
        over.abs() <= EDGE_MS,
        "last sound {over} ms from the window's end"
    );
    // The channel at its fixed gain, 440 Hz.
    let probe = start + CDuration::seconds(2);
    let f = aired.frequency_at(probe, 500).unwrap_or(0.0);
    assert!((f - 440.0).abs() < 20.0, "heard {f} Hz");
    let rms = aired.rms(probe, probe + CDuration::milliseconds(500));
    assert!((rms - 0.25 / 2f32.sqrt()).abs() < 0.02, "rms {rms}");
    // Silence in the gap, the channel again after it.
    let sounding = aired.sounding_ms(start, end, 0.05) as i64;
    let silent = window * 1000 - sounding;
    assert!(
        (1000..=10_000).contains(&silent),
        "{silent} ms silent of the window"
    );
    let after = aired.sounding_ms(cut + CDuration::seconds(10), end, 0.05);
    assert!(after > 2000, "the relay resumed: {after} ms after the gap");
    // The log counts what aired.
    let played = log["played_ms"].as_i64().unwrap_or(0);
    eprintln!(
        "relay: first sound {late} ms and last sound {over} ms from the window's edges; \
         {silent} ms silent for a 6 s outage; logged {played} ms, heard {sounding} ms; gap {}",
        gaps[0]
    );
    assert!(
        (played - sounding).abs() < 1000,
        "logged {played} ms, heard {sounding} ms"
    );
    s.server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urgent_notice_cuts_into_a_relay_and_the_relay_resumes_after_it() -> Result<()> {
    let s = setup("BP").await?;
    let dir = tempfile::tempdir()?;
    let alarm = dir.path().join("alarm.wav");
    tone_wav(&alarm, 1000.0, 3000)?;
    let media = s.api.upload(&alarm, "Cảnh báo lũ").await?["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let start = at_in(8);
    let window = 20;
    let end = start + CDuration::seconds(window);
    let id = relay_at(&s, "BP", start, window as u64).await?;

    let push_at = start + CDuration::seconds(5);
    tokio::time::sleep((push_at - now()).to_std().unwrap_or_default()).await;
    let urgent = s
        .api
        .post(
            "/urgent",
            &json!({"title": "Cảnh báo lũ", "media_id": media, "stations": ["BP"]}),
        )
        .await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let log = relay_log(&s.api, "BP", &id).await?;
    let notice = eventually(Duration::from_secs(30), "the notice's entry", || async {
        let l = s.api.logs("BP").await?;
        Ok(l.into_iter().find(|e| e["urgent_id"] == urgent.as_str()))
    })
    .await?;
    s.ctl.terminate()?;
    assert_eq!(notice["status"], "played", "{notice}");
    assert_eq!(log["status"], "played", "{log}");
    let gaps = log["gaps"].as_array().cloned().unwrap_or_default();
    assert!(
        gaps.iter().any(|g| g["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("interrupted by emergency")),
        "{log}"
    );

    let aired = Aired::read(&s.wav)?;
    let cut: DateTime<Utc> = notice["started_at"].as_str().unwrap_or_default().parse()?;
    let before = aired
        .frequency_at(cut - CDuration::seconds(2), 500)
        .unwrap_or(0.0);
    let during = aired
        .frequency_at(cut + CDuration::seconds(1), 500)
        .unwrap_or(0.0);
    assert!((before - 440.0).abs() < 20.0, "relay before: {before} Hz");
    assert!((during - 1000.0).abs() < 30.0, "notice: {during} Hz");
    // After the notice (3 s) and the relay's reconnection, the channel again until the end.
    let resumed = aired
        .frequency_at(cut + CDuration::seconds(8), 500)
        .unwrap_or(0.0);
    assert!((resumed - 440.0).abs() < 20.0, "relay after: {resumed} Hz");
    let last = last_sound(&aired, start, end + CDuration::seconds(3));
    let over = (last - end).num_milliseconds();
    assert!(
        over.abs() <= EDGE_MS,
        "last sound {over} ms from the window's end"
    );
    s.server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_whose_stream_never_answers_is_logged_failed_with_the_reason() -> Result<()> {
    let s = setup("CN").await?;
    s.stream.set_up(false);
    let start = at_in(6);
    let window = 4;
    let id = relay_at(&s, "CN", start, window as u64).await?;
    let log = relay_log(&s.api, "CN", &id).await?;
    s.ctl.terminate()?;
    assert_eq!(log["status"], "failed", "{log}");
    assert_eq!(log["played_ms"], 0, "{log}");
    let reason = log["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("503"), "{reason}");
    let gaps = log["gaps"].as_array().cloned().unwrap_or_default();
    assert_eq!(gaps.len(), 1, "{log}");
    let (from, to): (DateTime<Utc>, DateTime<Utc>) = (
        gaps[0]["from"].as_str().unwrap_or_default().parse()?,
        gaps[0]["to"].as_str().unwrap_or_default().parse()?,
    );
    assert_eq!(
        (from, to),
        (start, start + CDuration::seconds(window)),
        "the whole window"
    );
    let aired = Aired::read(&s.wav)?;
    assert_eq!(
        aired.sounding_ms(
            start - CDuration::seconds(1),
            start + CDuration::seconds(window + 1),
            0.01
        ),
        0,
        "silence"
    );
    s.server.stop().await
}

/// The bulletins' loudness target (the upload path's), LUFS.
const TARGET_LUFS: f64 = -16.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_measured_from_its_stream_gets_the_gain_to_the_target_and_airs_with_it(
) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let tokens = seed(&data, &["TX"])?;
    seed_admin(&data, "admin")?;
    let server = Server::start(&data).await?;
    let api = Api::login(&server, "op", OP_PASSWORD).await?;
    let admin = Api::login(&server, "admin", OP_PASSWORD).await?;
    let amplitude = 0.5;
    let stream = ToneStream::start(440.0, amplitude as f32).await?;

    // Measured at registration: the loudness of the tone, the gain to the target.
    let ch = admin
        .post(
            "/channels",
            &json!({"name": "VOV1 (đo)", "url": stream.url, "measure": true, "seconds": 5}),
        )
        .await?;
    let want_lufs = sine_440_lufs(amplitude);
    let want_gain = TARGET_LUFS - want_lufs;
    let lufs = ch["loudness_lufs"].as_f64().unwrap_or(f64::NAN);
    let gain = ch["gain_db"].as_f64().unwrap_or(f64::NAN);
    eprintln!(
        "measured {lufs:.2} LUFS (tone: {want_lufs:.2}), gain {gain:.2} dB (want {want_gain:.2})"
    );
    assert!((lufs - want_lufs).abs() <= 1.0, "{ch}");
    assert!((gain - want_gain).abs() <= 1.0, "{ch}");
    assert!(ch["measured_at"].is_string(), "{ch}");
    let channel = ch["id"].as_str().unwrap_or_default().to_string();

    // Measured again: the same figures, a later time, and the measurement in the audit log.
    let again = admin
        .post(
            &format!("/channels/{channel}/measure"),
            &json!({"seconds": 5}),
        )
        .await?;
    let lufs2 = again["loudness_lufs"].as_f64().unwrap_or(f64::NAN);
    assert!((lufs2 - lufs).abs() < 0.2, "{again}");
    assert!(
        again["measured_at"].as_str() > ch["measured_at"].as_str(),
        "{again}"
    );
    let audit = admin.get("/audit").await?;
    assert!(audit.to_string().contains("channel.measure"), "{audit}");

    // The controller relays it with the measured gain.
    let wav = dir.path().join("aired.wav");
    let ctl = ControllerProcess::spawn(
        &server.url,
        "TX",
        &tokens[0],
        &dir.path().join("ctl"),
        &format!("wav:{}", wav.display()),
    )?;
    let start = at_in(8);
    let window = 5;
    let measured_gain = again["gain_db"].as_f64().unwrap_or(f64::NAN);
    let id = api
        .post(
            "/schedules",
            &json!({"title": "Tiếp sóng VOV1", "channel_id": channel,
                    "duration_seconds": window, "stations": ["TX"],
                    "at": start.to_rfc3339_opts(SecondsFormat::Secs, true)}),
        )
        .await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let log = relay_log(&api, "TX", &id).await?;
    ctl.terminate()?;
    assert_eq!(log["status"], "played", "{log}");
    let aired = Aired::read(&wav)?;
    let probe = start + CDuration::seconds(2);
    let rms = f64::from(aired.rms(probe, probe + CDuration::milliseconds(500)));
    let want = amplitude * 10f64.powf(measured_gain / 20.0) / 2f64.sqrt();
    eprintln!("aired rms {rms:.4}, want {want:.4} (gain {measured_gain:.2} dB)");
    assert!((rms - want).abs() < 0.02, "rms {rms}, want {want}");
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measuring_a_channel_names_what_is_wrong_with_its_stream_and_changes_nothing() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    seed(&data, &["TY"])?;
    seed_admin(&data, "admin")?;
    let server = Server::start(&data).await?;
    let admin = Api::login(&server, "admin", OP_PASSWORD).await?;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        format!("http://{}/live.mp3", l.local_addr()?)
    };
    let silent = ToneStream::start(440.0, 0.0).await?;
    let cut = ToneStream::start(440.0, 0.5).await?;
    let gone = ToneStream::start(440.0, 0.5).await?;
    gone.set_up(false);
    let page = format!("{}/login", server.url);

    let mut ids = Vec::new();
    for (i, url) in [&closed, &page, &silent.url, &cut.url, &gone.url]
        .into_iter()
        .enumerate()
    {
        let c = admin
            .post(
                "/channels",
                &json!({"name": format!("Kênh {i}"), "url": url, "gain_db": -3.0}),
            )
            .await?;
        ids.push(c["id"].as_str().unwrap_or_default().to_string());
    }
    let measure = |id: String, body: Value| {
        let admin = admin.clone();
        async move {
            let req = admin.request(reqwest::Method::POST, &format!("/channels/{id}/measure"));
            // Null: no body at all (the default sample).
            let req = if body.is_null() { req } else { req.json(&body) };
            let res = req.send().await?;
            let status = res.status().as_u16();
            let body: Value = res.json().await?;
            anyhow::Ok((status, body))
        }
    };
    // The stream is cut 2 s into a 6 s sample.
    let cutting = {
        let id = ids[3].clone();
        let m = measure(id, json!({"seconds": 6}));
        let c = async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            cut.set_up(false);
        };
        tokio::join!(m, c).0?
    };
    let cases = [
        (
            measure(ids[0].clone(), Value::Null).await?,
            502,
            "stream_unreachable",
            "cannot connect",
        ),
        (
            measure(ids[1].clone(), json!({"seconds": 5})).await?,
            422,
            "not_audio",
            "text/html",
        ),
        (
            measure(ids[2].clone(), json!({"seconds": 5})).await?,
            422,
            "silent",
            "silent",
        ),
        (cutting, 502, "stream_ended", "ended after"),
        (
            measure(ids[4].clone(), json!({"seconds": 5})).await?,
            502,
            "stream_refused",
            "503",
        ),
        (
            measure(ids[2].clone(), json!({"seconds": 2})).await?,
            422,
            "invalid",
            "seconds",
        ),
        (
            measure(ids[2].clone(), json!({"secs": 5})).await?,
            422,
            "invalid",
            "secs",
        ),
        (
            measure("no-such".into(), json!({})).await?,
            404,
            "not_found",
            "no-such",
        ),
    ];
    for ((status, body), want_status, want_code, text) in cases {
        let msg = body["error"]["message"].as_str().unwrap_or_default();
        eprintln!("{status} {}: {msg}", body["error"]["code"]);
        assert_eq!(status, want_status, "{body}");
        assert_eq!(body["error"]["code"], want_code, "{body}");
        assert!(msg.contains(text), "{msg:?} should name {text:?}");
    }
    // Nothing was stored: every channel keeps its typed gain and no measurement.
    let list = admin.get("/channels").await?;
    for c in list.as_array().cloned().unwrap_or_default() {
        assert_eq!(c["gain_db"], -3.0, "{c}");
        assert!(
            c["loudness_lufs"].is_null() && c["measured_at"].is_null(),
            "{c}"
        );
    }
    // Nor is a channel whose measurement at registration failed.
    let res = admin
        .request(reqwest::Method::POST, "/channels")
        .json(&json!({"name": "Kênh im lặng", "url": silent.url, "measure": true, "seconds": 5}))
        .send()
        .await?;
    assert_eq!(res.status(), 422);
    assert_eq!(
        admin.get("/channels").await?.as_array().map(Vec::len),
        Some(5)
    );
    // The audit log has no measurement.
    let audit = admin.get("/audit").await?;
    assert!(!audit.to_string().contains("channel.measure"), "{audit}");
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_killed_mid_window_rejoins_the_relay_for_the_rest_of_it() -> Result<()> {
    restarted_mid_window("DH", Stop::Kill).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_stopped_cleanly_mid_window_rejoins_the_relay_too() -> Result<()> {
    restarted_mid_window("HH", Stop::Clean).await
}

/// How the controller is stopped mid-window.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    /// kill -9, as in a power cut.
    Kill,
    /// SIGTERM, as for an upgrade.
    Clean,
}

/// Stop the controller 6 s into a relay's window and start it again at once: the relay airs
/// again for the rest of the window, and the logs say so.
async fn restarted_mid_window(station: &str, stop: Stop) -> Result<()> {
    let s = setup(station).await?;
    let start = at_in(8);
    let window = 24;
    let end = start + CDuration::seconds(window);
    let id = relay_at(&s, station, start, window as u64).await?;

    // Stop it six seconds into the window; start it again at once, airing into another file.
    let kill = start + CDuration::seconds(6);
    tokio::time::sleep((kill - now()).to_std().unwrap_or_default()).await;
    let Setup {
        _dir: dir,
        server,
        api,
        ctl,
        wav,
        stream,
        token,
        ..
    } = s;
    match stop {
        Stop::Kill => ctl.kill9()?,
        Stop::Clean => ctl.terminate()?,
    }
    let killed = now();
    let after = dir.path().join("aired-after-restart.wav");
    let ctl = ControllerProcess::spawn(
        &server.url,
        station,
        &token,
        &dir.path().join("ctl"),
        &format!("wav:{}", after.display()),
    )?;

    // Two entries: the occurrence, interrupted by the kill, and the rest of its window.
    let entries = eventually(Duration::from_secs(60), "both entries", || async {
        let l = api.logs_for(station, &id).await?;
        Ok((l.len() >= 2).then_some(l))
    })
    .await?;
    ctl.terminate()?;
    drop(stream);
    assert_eq!(entries.len(), 2, "{entries:?}");
    let key = schedules::occurrence_key(&id, start);
    let first = entries
        .iter()
        .find(|e| e["id"] == key.as_str())
        .unwrap_or_else(|| panic!("no entry {key}: {entries:?}"));
    let rest = entries
        .iter()
        .find(|e| e["id"] != key.as_str())
        .unwrap_or_else(|| panic!("no second entry: {entries:?}"));
    assert_eq!(first["status"], "interrupted", "{first}");
    assert!(
        first["reason"]
            .as_str()
            .unwrap_or_default()
            .contains(if stop == Stop::Kill {
                "controller stopped while this was airing"
            } else {
                "the controller was stopped"
            }),
        "{first}"
    );
    let before_ms = first["played_ms"].as_i64().unwrap_or(0);
    assert!((2_000..=7_000).contains(&before_ms), "{first}");
    assert_eq!(rest["status"], "played", "{rest}");
    assert_eq!(rest["part_of"], key.as_str(), "{rest}");
    let gaps = rest["gaps"].as_array().cloned().unwrap_or_default();
    assert_eq!(gaps.len(), 1, "the restart is the one gap: {rest}");
    assert!(
        gaps[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("restarted"),
        "{rest}"
    );
    let (gap_from, gap_to): (DateTime<Utc>, DateTime<Utc>) = (
        gaps[0]["from"].as_str().unwrap_or_default().parse()?,
        gaps[0]["to"].as_str().unwrap_or_default().parse()?,
    );
    assert!(
        gap_from <= killed && gap_to > killed && gap_to < end,
        "gap {gap_from}..{gap_to}, killed at {killed}"
    );
    let ended: DateTime<Utc> = rest["ended_at"].as_str().unwrap_or_default().parse()?;
    assert!(
        (ended - end).num_milliseconds().abs() <= EDGE_MS,
        "the rest ends with the window ({end}): {rest}"
    );

    // The tone again before the window closed, and not after it.
    let aired = Aired::read(&after)?;
    let back = aired
        .first_sound_after(killed, 0.05)
        .expect("the relay aired again after the restart");
    assert!(
        back < end - CDuration::seconds(5),
        "back at {back}, window ends {end}"
    );
    let f = aired
        .frequency_at(back + CDuration::seconds(1), 500)
        .unwrap_or(0.0);
    assert!((f - 440.0).abs() < 20.0, "heard {f} Hz");
    let heard = aired.sounding_ms(back, end, 0.05) as i64;
    let rest_ms = rest["played_ms"].as_i64().unwrap_or(0);
    let last = last_sound(&aired, back, end + CDuration::seconds(3));
    let over = (last - end).num_milliseconds();
    eprintln!(
        "restart: stopped {} s into the window, back on air {} ms after the stop; \
         {before_ms} ms logged before, {rest_ms} ms after (heard {heard} ms); gap {}",
        (killed - start).num_seconds(),
        (back - killed).num_milliseconds(),
        gaps[0]
    );
    assert!(
        over.abs() <= EDGE_MS,
        "last sound {over} ms from the window's end"
    );
    assert!(
        (rest_ms - heard).abs() < 1000,
        "logged {rest_ms} ms, heard {heard} ms"
    );
    let _ = wav;
    server.stop().await
}
