//! The output's ceiling: what airs never goes above -1 dBFS. A loud spoken urgent notice
//! (text to speech by the server, with the chime) and a clipping-hot file air through a
//! real controller (in-process, `wav:` output) against the real server; the peak of every
//! sample written to the `wav:` output is measured, and so is the peak the controller
//! logged for each airing (taken before the output's safety limiter: it shows the
//! notice's own playback gain was applied).

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tests::e2e::{at_in, InProcessController};
use tests::scenarios::{sleep_until, World, STATION};

/// -1 dBFS as a sample value.
const CEILING: f32 = 0.891_250_9;

/// Every sample of a `wav:` output (all channels).
fn samples(wav: &std::path::Path) -> Vec<f32> {
    let mut r = hound::WavReader::open(wav).unwrap();
    match r.spec().sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
        hound::SampleFormat::Int => {
            let scale = (1i64 << (r.spec().bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.unwrap() as f32 / scale)
                .collect()
        }
    }
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, s| m.max(s.abs()))
}

/// A 3-second file that clips: a 997 Hz sine driven 12 dB past full scale and cut off
/// there (a square-ish wave whose samples sit at ±1.0), at 44.1 kHz so it is resampled.
fn clipping_hot_wav() -> Vec<u8> {
    let rate = 44_100;
    let samples = (0..rate * 3)
        .map(|i| {
            let x = 4.0 * (2.0 * std::f32::consts::PI * 997.0 * i as f32 / rate as f32).sin();
            x.clamp(-1.0, 1.0)
        })
        .collect();
    media::signal::wav_bytes(&media::Pcm {
        samples,
        sample_rate: rate,
        channels: 1,
    })
}

async fn entry(world: &World, pred: impl Fn(&Value) -> bool) -> Option<Value> {
    for _ in 0..150 {
        let rows = world.api.logs(STATION).await.unwrap();
        if let Some(r) = rows.into_iter().find(|r| pred(r)) {
            return Some(r);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loud_spoken_notice_and_a_clipping_hot_file_air_under_minus_one_dbfs() {
    let world = World::start().await.unwrap();
    let wav = world.dir.path().join("aired.wav");
    let ctl = InProcessController::start(
        &world.url(),
        STATION,
        &world.token,
        &world.controller_data(),
        controller::OutputSpec::Wav(wav.clone()),
        Arc::new(schedules::SystemClock),
    )
    .unwrap();

    // The hot file, scheduled a few seconds ahead.
    let up = world
        .api
        .upload_bytes("hot.wav", clipping_hot_wav(), "Quá tải")
        .await
        .unwrap();
    assert!(up.status().is_success(), "{:?}", up.text().await);
    let hot: Value = up.json().await.unwrap();
    let sha = hot["sha256"].as_str().unwrap();
    let due = at_in(4);
    world
        .api
        .schedule_at("Tệp quá tải", sha, STATION, due)
        .await
        .unwrap();
    sleep_until(due).await;
    let played = entry(&world, |r| {
        r["title"] == "Tệp quá tải" && r["status"] == "played"
    })
    .await
    .expect("the hot file played");
    let file_peak = played["peak_dbfs"].as_f64().unwrap();

    // A loud spoken notice with the chime, pushed now.
    let body = json!({
        "title": "Khẩn cấp",
        "text": "CẢNH BÁO! CẢNH BÁO! Bão số ba sắp đổ bộ! Bà con KHẨN TRƯƠNG sơ tán ngay! \
                 Chằng chống nhà cửa, tránh xa bờ sông, bờ biển!",
        "chime": true,
        "stations": [STATION],
    });
    let u = world.api.post("/urgent", &body).await.unwrap();
    assert!(u["id"].is_string(), "{u}");
    let spoken = entry(&world, |r| {
        r["urgent_id"] == u["id"] && r["status"] == "played"
    })
    .await
    .expect("the notice played");
    let notice_peak = spoken["peak_dbfs"].as_f64().unwrap();
    ctl.stop().await.unwrap();

    let out = samples(&wav);
    let aired = peak(&out);
    println!(
        "BENCH|ceiling|wav peak {:.2} dBFS; hot file {file_peak:.2} dBFS, spoken notice \
         {notice_peak:.2} dBFS before the limiter",
        20.0 * aired.log10()
    );
    assert!(aired > 0.2, "something loud aired: peak {aired}");
    assert!(
        aired <= CEILING,
        "a sample at {:.3} dBFS reached the output",
        20.0 * aired.log10()
    );
    // Before the limiter: the files' own gains kept them near the -1 dBTP ceiling (within
    // what resampling adds); the spoken notice was played at its gain, not at unity.
    for (what, p) in [("hot file", file_peak), ("spoken notice", notice_peak)] {
        assert!(p <= -0.5, "{what} played at {p:.2} dBFS before the limiter");
    }
}
