//! One commune station end to end: the real server in-process on 127.0.0.1, a real
//! `loaxa-controller` process writing what airs to a `wav:` file, real HTTP between them.

use anyhow::Result;
use chrono::Duration as CDuration;
use serde_json::Value;
use std::time::Duration;
use tests::e2e::{
    at_in, eventually, seed, tone_wav, Aired, Api, ControllerProcess, Server, OP_PASSWORD,
};

/// How far from the scheduled instant the first sample may land and still count as on time
/// here: generous, because this machine is busy; `make bench` measures the real figure.
const TOLERANCE_MS: i64 = 250;

async fn logs_for(api: &Api, station: &str, schedule_id: &str) -> Result<Vec<Value>> {
    Ok(api
        .logs(station)
        .await?
        .into_iter()
        .filter(|l| l["schedule_id"].as_str() == Some(schedule_id))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulletin_scheduled_ahead_airs_on_time_and_is_logged_once() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let tokens = seed(&data, &["LQ"])?;
    let server = Server::start(&data).await?;
    let api = Api::login(&server, "op", OP_PASSWORD).await?;

    let tone = dir.path().join("tone-440.wav");
    tone_wav(&tone, 440.0, 1500)?;
    let media = api.upload(&tone, "Thông báo thử").await?;
    let sha = media["sha256"].as_str().unwrap_or_default().to_string();

    let wav = dir.path().join("aired.wav");
    let ctl = ControllerProcess::spawn(
        &server.url,
        "LQ",
        &tokens[0],
        &dir.path().join("ctl"),
        &format!("wav:{}", wav.display()),
    )?;
    let due = at_in(6);
    let id = api.schedule_at("Thông báo thử", &sha, "LQ", due).await?;

    let entries = eventually(Duration::from_secs(40), "the played log entry", || async {
        let l = logs_for(&api, "LQ", &id).await?;
        Ok(l.iter().any(|e| e["status"] == "played").then_some(l))
    })
    .await?;
    ctl.terminate()?;

    assert_eq!(entries.len(), 1, "exactly one log entry: {entries:?}");
    assert_eq!(
        entries[0]["played_ms"]
            .as_u64()
            .map(|ms| ms.abs_diff(1500) < 100),
        Some(true)
    );

    let aired = Aired::read(&wav)?;
    let first = aired
        .first_sound_after(due - CDuration::seconds(3), 0.05)
        .expect("the tone is in the output");
    let error_ms = (first - due).num_milliseconds();
    assert!(
        error_ms.abs() <= TOLERANCE_MS,
        "first sample {error_ms} ms from the scheduled instant"
    );
    let f = aired
        .frequency_at(first + CDuration::milliseconds(200), 500)
        .unwrap_or(0.0);
    assert!((f - 440.0).abs() < 20.0, "heard {f} Hz, expected 440 Hz");

    // The log upload is idempotent: asking again later still shows one entry.
    assert_eq!(logs_for(&api, "LQ", &id).await?.len(), 1);
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn station_boots_with_the_server_down_and_plays_from_its_cache() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let tokens = seed(&data, &["CANHNAU"])?;
    let server = Server::start(&data).await?;
    let api = Api::login(&server, "op", OP_PASSWORD).await?;

    let tone = dir.path().join("tone-660.wav");
    tone_wav(&tone, 660.0, 1000)?;
    let sha = api.upload(&tone, "Bản tin sáng").await?["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let due = at_in(25);
    let id = api
        .schedule_at("Bản tin sáng", &sha, "CANHNAU", due)
        .await?;

    // First boot, online: fetch the document and the media, then go away.
    let ctl_data = dir.path().join("ctl");
    let first = ControllerProcess::spawn(&server.url, "CANHNAU", &tokens[0], &ctl_data, "null")?;
    eventually(
        Duration::from_secs(20),
        "the station's cache to be ready",
        || async {
            let s = api.get("/stations/CANHNAU").await?;
            Ok((s["cache_ready"] == true).then_some(()))
        },
    )
    .await?;
    first.kill9()?;

    // The server goes down; the controller boots with nobody to talk to.
    let addr = server.addr;
    server.stop().await?;
    let wav = dir.path().join("aired.wav");
    let offline = ControllerProcess::spawn(
        &format!("http://{addr}"),
        "CANHNAU",
        &tokens[0],
        &ctl_data,
        &format!("wav:{}", wav.display()),
    )?;
    eventually(
        Duration::from_secs(40),
        "the bulletin to air offline",
        || async {
            let Ok(aired) = Aired::read(&wav) else {
                return Ok(None);
            };
            Ok(aired
                .first_sound_after(due - CDuration::seconds(2), 0.05)
                .filter(|t| aired.sounding_ms(*t, *t + CDuration::milliseconds(900), 0.05) >= 800)
                .map(|t| (t - due).num_milliseconds()))
        },
    )
    .await
    .map(|err| assert!(err.abs() <= TOLERANCE_MS, "offline airing {err} ms off"))?;

    // The server comes back on the same address: the log arrives, once.
    let server = Server::start_on(&data, addr).await?;
    let api = api.at(&server);
    let entries = eventually(
        Duration::from_secs(60),
        "the log after reconnecting",
        || async {
            let l = logs_for(&api, "CANHNAU", &id).await?;
            Ok((!l.is_empty()).then_some(l))
        },
    )
    .await?;
    offline.terminate()?;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["status"], "played");
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulletin_cut_by_kill_9_is_logged_interrupted_once_and_not_replayed() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let tokens = seed(&data, &["HUUBANG"])?;
    let server = Server::start(&data).await?;
    let api = Api::login(&server, "op", OP_PASSWORD).await?;

    let tone = dir.path().join("long.wav");
    tone_wav(&tone, 550.0, 8000)?;
    let sha = api.upload(&tone, "Bản tin dài").await?["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let ctl_data = dir.path().join("ctl");
    let wav1 = dir.path().join("before.wav");
    let ctl = ControllerProcess::spawn(
        &server.url,
        "HUUBANG",
        &tokens[0],
        &ctl_data,
        &format!("wav:{}", wav1.display()),
    )?;
    let due = at_in(6);
    let id = api.schedule_at("Bản tin dài", &sha, "HUUBANG", due).await?;

    // Wait until the server sees it playing, then pull the plug.
    eventually(
        Duration::from_secs(30),
        "the bulletin to be playing",
        || async {
            let s = api.get("/stations/HUUBANG").await?;
            Ok(s["now_playing"].is_object().then_some(()))
        },
    )
    .await?;
    eventually(Duration::from_secs(10), "two seconds of airing", || async {
        let Ok(aired) = Aired::read(&wav1) else {
            return Ok(None);
        };
        Ok((aired.sounding_ms(due, due + CDuration::seconds(10), 0.05) >= 2000).then_some(()))
    })
    .await?;
    ctl.kill9()?;

    let wav2 = dir.path().join("after.wav");
    let restarted = ControllerProcess::spawn(
        &server.url,
        "HUUBANG",
        &tokens[0],
        &ctl_data,
        &format!("wav:{}", wav2.display()),
    )?;
    let entries = eventually(Duration::from_secs(30), "the interrupted entry", || async {
        let l = logs_for(&api, "HUUBANG", &id).await?;
        Ok((!l.is_empty()).then_some(l))
    })
    .await?;
    // Let the rest of the bulletin's slot pass: nothing of it may air again.
    let end = due + CDuration::seconds(9);
    eventually(Duration::from_secs(20), "the slot to pass", || async {
        let Ok(aired) = Aired::read(&wav2) else {
            return Ok(None);
        };
        Ok((aired.start
            + CDuration::milliseconds((aired.mono.len() as i64 * 1000) / i64::from(aired.rate))
            > end)
            .then_some(()))
    })
    .await?;
    restarted.terminate()?;

    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["status"], "interrupted");
    let played = entries[0]["played_ms"].as_u64().unwrap_or(0);
    assert!((1000..8000).contains(&played), "played_ms {played}");
    let aired = Aired::read(&wav2)?;
    assert_eq!(
        aired.sounding_ms(aired.start, end, 0.05),
        0,
        "the bulletin was replayed"
    );
    assert_eq!(logs_for(&api, "HUUBANG", &id).await?.len(), 1);
    server.stop().await
}
