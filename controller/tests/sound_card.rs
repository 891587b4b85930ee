//! The real sound path: rodio → ALSA → a private PulseAudio with a null sink, recorded from
//! the sink's monitor with `parec`. Needs the `pulseaudio`, `pulseaudio-utils` and
//! `libasound2-plugins` packages (`make test` installs them).
//!
//! This file holds one test on purpose: it sets process-wide environment variables
//! (PULSE_SERVER…) that ALSA's pulse plugin reads inside the controller.

mod common;

use chrono::Duration as CDuration;
use common::pulse::Pulse;
use common::*;
use controller::OutputSpec;
use schedules::{occurrence_key, PlayStatus, Priority};
use std::process::{Child, Command};
use std::time::Duration;

fn interrupt(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// Power of `freq` in `x` (Goertzel), normalised by length.
fn goertzel(x: &[f32], rate: u32, freq: f64) -> f64 {
    let w = std::f64::consts::TAU * freq / rate as f64;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = v as f64 + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - c * s1 * s2) / (x.len() as f64).powi(2)
}

/// Play a 1 kHz tone at half scale through the default device with the card's period set
/// to `period_ms`; check that it reached the sink whole. Returns the largest buffer latency
/// PulseAudio saw on the controller's stream, µs.
async fn a_tone_reaches_the_sink(pulse: &Pulse, dir: &std::path::Path, period_ms: u32) -> u64 {
    std::fs::create_dir_all(dir).unwrap();
    let recording = dir.join("recorded.wav");
    let mut parec = pulse
        .cmd("parec")
        .args(["-d", "test.monitor", "--file-format=wav"])
        .arg(&recording)
        .spawn()
        .expect("parec is installed");

    let server = TestServer::start().await;
    let tone = server.add_media(tone_wav(1000.0, 1500, 0.5), 1500);
    let at = now() + CDuration::milliseconds(3000);
    server.set_doc(doc(
        "v1",
        vec![one_off("r1", at, &tone, Priority::Normal)],
        vec![tone.clone()],
    ));
    let mut config = config(&server, dir.join("data"), OutputSpec::Default);
    config.sound_period_ms = period_ms;
    let c = start(config);
    let key = occurrence_key("r1", at);
    // PulseAudio's view of the controller's stream, asked every 200 ms while it plays.
    let latency_us = std::cell::Cell::new(0);
    let watch = async {
        loop {
            let mut pactl = pulse.cmd("pactl");
            pactl.args(["list", "sink-inputs"]);
            if let Ok(Ok(out)) = tokio::task::spawn_blocking(move || pactl.output()).await {
                let seen = max_latency(&String::from_utf8_lossy(&out.stdout));
                latency_us.set(latency_us.get().max(seen));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::select! {
        _ = server.wait_for(30, "the played log", |i| i.logs.iter().any(|l| l.id == key)) => {}
        _ = watch => {}
    }
    // Let the device buffer drain into the recording.
    tokio::time::sleep(Duration::from_millis(500)).await;
    c.stop().await;
    interrupt(&mut parec);

    let log = server.log(&key).unwrap();
    assert_eq!(log.status, PlayStatus::Played, "{log:?}");
    let hb = server
        .inner
        .lock()
        .unwrap()
        .heartbeats
        .last()
        .cloned()
        .unwrap();
    assert_eq!(hb.output, "default");
    assert_eq!(hb.output_error, None);

    let mut r = hound::WavReader::open(&recording).expect("parec wrote a wav file");
    let spec = r.spec();
    let ch = spec.channels as usize;
    let mono: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Int => {
            let scale = (1i64 << (spec.bits_per_sample - 1)) as f32;
            let s: Vec<i32> = r.samples::<i32>().filter_map(Result::ok).collect();
            s.chunks(ch).map(|f| f[0] as f32 / scale).collect()
        }
        hound::SampleFormat::Float => {
            let s: Vec<f32> = r.samples::<f32>().filter_map(Result::ok).collect();
            s.chunks(ch).map(|f| f[0]).collect()
        }
    };
    let rate = spec.sample_rate;
    let first = mono
        .iter()
        .position(|v| v.abs() > 0.05)
        .expect("the recording holds sound");
    let window = &mono[first + rate as usize / 10..first + rate as usize];
    let at_1k = goertzel(window, rate, 1000.0);
    let at_440 = goertzel(window, rate, 440.0);
    assert!(at_1k > 100.0 * at_440, "1 kHz {at_1k}, 440 Hz {at_440}");
    let peak = window.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!((peak - 0.5).abs() < 0.1, "peak {peak}");
    latency_us.get()
}

/// The largest "Buffer Latency" in `pactl list sink-inputs`, µs: what the ALSA pulse plugin
/// asked for (the card's two periods).
fn max_latency(pactl: &str) -> u64 {
    pactl
        .lines()
        .filter_map(|l| {
            let us = l.trim().strip_prefix("Buffer Latency:")?;
            us.trim().strip_suffix("usec")?.trim().parse().ok()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tone_played_through_the_default_sound_device_reaches_the_sink() {
    let dir = tempfile::tempdir().unwrap();
    let pulse = Pulse::start(dir.path()).unwrap();
    // ALSA's pulse plugin, loaded inside this process by cpal, finds the private server.
    pulse.set_process_env();

    // The default period (10 ms: 512 frames at 44.1 or 48 kHz, two of them queued), then a
    // configured 50 ms (4,096 frames): the tone airs whole either way, and the stream
    // PulseAudio sees asks for the buffer the period makes.
    let short = a_tone_reaches_the_sink(&pulse, &dir.path().join("10"), 10).await;
    let long = a_tone_reaches_the_sink(&pulse, &dir.path().join("50"), 50).await;
    eprintln!("buffer latency: 10 ms period {short} µs, 50 ms period {long} µs");
    assert!(
        (15_000..=40_000).contains(&short),
        "10 ms period: {short} µs"
    );
    assert!(
        (150_000..=250_000).contains(&long),
        "50 ms period: {long} µs"
    );
}
