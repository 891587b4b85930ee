//! Remote control end to end: the real server in-process, a real `loaxa-controller` process
//! writing to `wav:`, commands issued through the public API.

use anyhow::Result;
use chrono::Duration as CDuration;
use serde_json::{json, Value};
use std::time::Duration;
use tests::e2e::{
    at_in, eventually, seed, tone_wav, Aired, Api, ControllerProcess, Server, OP_PASSWORD,
};

/// Issue a command to `station` and wait until the station has acknowledged it.
async fn command(api: &Api, station: &str, body: Value) -> Result<Value> {
    let id = api
        .post(&format!("/stations/{station}/commands"), &body)
        .await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    eventually(Duration::from_secs(30), "the acknowledgement", || async {
        let c = api
            .get(&format!("/stations/{station}/commands/{id}"))
            .await?;
        Ok((c["state"] != "pending").then_some(c))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_volume_lowers_what_airs_and_remote_stop_cuts_it_and_both_are_logged() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let tokens = seed(&data, &["LQ"])?;
    let server = Server::start(&data).await?;
    let api = Api::login(&server, "op", OP_PASSWORD).await?;

    let tone = dir.path().join("tone.wav");
    tone_wav(&tone, 440.0, 30_000)?;
    let sha = api.upload(&tone, "Bản tin dài").await?["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let wav = dir.path().join("aired.wav");
    let ctl = ControllerProcess::spawn(
        &server.url,
        "LQ",
        &tokens[0],
        &dir.path().join("ctl"),
        &format!("wav:{}", wav.display()),
    )?;
    let due = at_in(6);
    let id = api.schedule_at("Bản tin dài", &sha, "LQ", due).await?;
    eventually(Duration::from_secs(30), "the bulletin airing", || async {
        let st = api.get("/stations/LQ").await?;
        Ok(st["now_playing"].is_object().then_some(()))
    })
    .await?;

    // Let the full level air a while first.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let vol = command(&api, "LQ", json!({"kind": "volume", "volume": 25})).await?;
    assert_eq!(vol["state"], "done", "{vol}");
    let turned_down: chrono::DateTime<chrono::Utc> =
        vol["acked_at"].as_str().unwrap_or_default().parse()?;
    // Let the quieter level air for a while before cutting it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stop = command(&api, "LQ", json!({"kind": "stop"})).await?;
    assert_eq!(stop["state"], "done", "{stop}");
    let stopped: chrono::DateTime<chrono::Utc> =
        stop["acked_at"].as_str().unwrap_or_default().parse()?;

    let entry = eventually(Duration::from_secs(30), "the interrupted entry", || async {
        let l = api.logs_for("LQ", &id).await?;
        Ok(l.into_iter().find(|e| e["status"] == "interrupted"))
    })
    .await?;
    assert_eq!(entry["reason"], "stopped remotely by op", "{entry}");
    let played = entry["played_ms"].as_u64().unwrap_or(0);
    assert!(played > 1000 && played < 29_000, "{entry}");
    let station = eventually(Duration::from_secs(30), "the reported volume", || async {
        let st = api.get("/stations/LQ").await?;
        Ok((st["volume"] == 25).then_some(st))
    })
    .await?;
    assert_eq!(station["last_command"]["kind"], "stop", "{station}");
    ctl.terminate()?;

    // Full level before the volume command, a quarter after it, silence after the stop.
    let aired = Aired::read(&wav)?;
    let start = aired
        .first_sound_after(due - CDuration::seconds(3), 0.005)
        .expect("the tone aired");
    let full = aired.rms(
        start + CDuration::milliseconds(200),
        start + CDuration::milliseconds(1000),
    );
    let quiet = aired.rms(
        turned_down + CDuration::milliseconds(300),
        stopped - CDuration::milliseconds(300),
    );
    // (The bulletin airs at its loudness-normalised level; the volume scales that.)
    assert!(full > 0.01, "full level {full}");
    assert!(
        (quiet / full - 0.25).abs() < 0.03,
        "quiet {quiet}, full {full}"
    );
    let after = aired.sounding_ms(
        stopped + CDuration::milliseconds(500),
        stopped + CDuration::seconds(3),
        0.002,
    );
    assert_eq!(after, 0, "nothing airs after the stop");
    server.stop().await
}
