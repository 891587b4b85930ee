//! The live broadcast page (#25) in a real browser: headless Chromium with a fake microphone
//! playing a tone file, the real server in-process, two real controllers writing what they
//! air to WAV files. An operator signs in, goes live to two stations, and the tone comes out
//! of both, in step, and is logged.

use anyhow::{Context, Result};
use schedules::{Clock, SystemClock};
use std::sync::Arc;
use std::time::Duration;
use tests::browser::{browser_with, click, login, shot, start_driver, wait_text, WAIT};
use tests::e2e::{seed, Api, InProcessController, Server, OP_PASSWORD};

const TONE_HZ: f32 = 800.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_speaks_live_from_the_page_and_two_stations_air_it_in_step() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let tokens = seed(&data, &["XA", "XB"])?;
    let server = Server::start(&data).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut ctrls = Vec::new();
    for (code, token) in [("XA", &tokens[0]), ("XB", &tokens[1])] {
        let out = format!("wav:{}", dir.path().join(format!("{code}.wav")).display());
        ctrls.push(InProcessController::start(
            &server.url,
            code,
            token,
            &dir.path().join(code),
            out.parse().map_err(|e| anyhow::anyhow!("{e}"))?,
            clock.clone(),
        )?);
    }
    let op = Api::login(&server, "op", OP_PASSWORD).await?;
    op.wait_online(2).await?;

    // The fake microphone: half a second of silence, 3 s of tone, silence.
    let mic = dir.path().join("mic.wav");
    let mut samples = media::signal::silence(500, 48_000);
    samples.extend(media::signal::tone(TONE_HZ, 3000, 48_000, 0.5));
    samples.extend(media::signal::silence(3000, 48_000));
    std::fs::write(
        &mic,
        media::signal::wav_bytes(&media::Pcm {
            samples,
            sample_rate: 48_000,
            channels: 1,
        }),
    )?;
    let driver = start_driver().await;
    let c = browser_with(
        &driver,
        &dir.path().join("profile"),
        &[
            "--use-fake-ui-for-media-stream".into(),
            "--use-fake-device-for-media-stream".into(),
            format!("--use-file-for-fake-audio-capture={}%noloop", mic.display()),
        ],
    )
    .await;
    login(&c, &server.url, "/live", "op", OP_PASSWORD).await;
    wait_text(&c, "main h1", "Phát trực tiếp").await;
    for code in ["XA", "XB"] {
        let css = format!("input[name=lvstation][value={code}]");
        let deadline = tokio::time::Instant::now() + WAIT;
        while c.find(fantoccini::Locator::Css(&css)).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "no box for {code}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        click(&c, &css).await;
    }
    let before = SystemClock.now();
    click(&c, "#lv-button").await;
    wait_text(&c, "#lv-status", "Đang phát trực tiếp").await;
    wait_text(&c, "#lv-table", "đang phát").await;
    shot(&c, "live-on-air").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    click(&c, "#lv-button").await;
    wait_text(&c, "#lv-status", "Đã dừng").await;
    wait_text(&c, "#lv-recent", "Bản ghi").await;
    shot(&c, "live-ended").await;
    let _ = c.close().await;

    let sessions = op.get("/live").await?;
    let id = sessions[0]["id"].as_str().context("a session")?.to_string();
    assert_eq!(sessions[0]["created_by"], "op");
    assert!(sessions[0]["archive"].is_string(), "{}", sessions[0]);
    for code in ["XA", "XB"] {
        let entry = op.live_entry(code, &id).await?;
        assert_eq!(entry["status"], "played", "{entry}");
    }
    for ctl in ctrls {
        ctl.stop().await?;
    }
    let tests::e2e::InStep {
        a,
        b,
        ta,
        tb: _,
        apart_us: apart,
    } = tests::e2e::in_step(dir.path(), before)?;
    assert!(apart <= 20_000, "XA and XB {apart} µs apart");
    let mid = ta + chrono::Duration::milliseconds(1500);
    for (code, aired) in [("XA", &a), ("XB", &b)] {
        let f = aired
            .frequency_at(mid, 200)
            .context("recording too short")?;
        assert!(
            (TONE_HZ - 50.0..=TONE_HZ + 50.0).contains(&f),
            "{code} aired {f} Hz"
        );
    }
    server.stop().await?;
    Ok(())
}
