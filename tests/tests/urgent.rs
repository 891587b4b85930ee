//! Urgent notices end to end: the real server in-process on 127.0.0.1:0 and several real
//! controllers writing what they air to WAV files. Distinct tones tell what aired:
//! bulletin 440 Hz, urgent notice 1000 Hz, the notice that is cancelled 1500 Hz.

use chrono::{DateTime, Duration as CDuration, Utc};
use controller::OutputSpec;
use reqwest::StatusCode;
use schedules::{Clock, SystemClock};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use web::db::users::Role;

const RATE: u32 = 16_000;

struct Server {
    base: String,
    client: reqwest::Client,
    token: String,
    devices: Vec<(String, String)>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(stations: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(SystemClock);
        let state = web::state::AppState::open(dir.path(), clock.clone()).unwrap();
        let now = clock.now();
        web::admin::add_area(&state.db, "test", "TT", "Huyện Thạch Thất", None, now).unwrap();
        let mut devices = Vec::new();
        for code in stations {
            let t =
                web::admin::add_station(&state.db, "test", code, code, "TT", None, now).unwrap();
            devices.push((code.to_string(), t));
        }
        web::admin::add_user(
            &state.db,
            "test",
            "tt",
            "a long password",
            Role::Admin,
            "TT",
            now,
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(web::startup::serve(listener, state, async {
            let _ = rx.await;
        }));
        let client = reqwest::Client::new();
        let token = client
            .post(format!("{base}/api/v1/auth/token"))
            .json(&json!({"username": "tt", "password": "a long password"}))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        Server {
            base,
            client,
            token,
            devices,
            stop: Some(tx),
            task,
            _dir: dir,
        }
    }

    async fn call(&self, post: Option<Value>, path: &str) -> (StatusCode, Value) {
        let url = format!("{}/api/v1{path}", self.base);
        let req = match post {
            Some(b) => self.client.post(url).json(&b),
            None => self.client.get(url),
        };
        let res = req.bearer_auth(&self.token).send().await.unwrap();
        let s = res.status();
        (s, res.json().await.unwrap_or(Value::Null))
    }

    async fn upload_tone(&self, freq: f32, ms: u32) -> String {
        let pcm = media::Pcm {
            samples: media::signal::tone(freq, ms, RATE, 0.5),
            sample_rate: RATE,
            channels: 1,
        };
        let part = reqwest::multipart::Part::bytes(media::signal::wav_bytes(&pcm))
            .file_name(format!("tone-{freq}.wav"));
        let res = self
            .client
            .post(format!("{}/api/v1/media", self.base))
            .bearer_auth(&self.token)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The delivery state of notice `id` at `station`.
    async fn state(&self, id: &str, station: &str) -> Value {
        let (_, u) = self.call(None, &format!("/urgent/{id}")).await;
        u["stations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["code"] == station)
            .cloned()
            .unwrap()
    }

    /// Wait (bounded) until `station`'s delivery of `id` is `want`.
    async fn wait_state(&self, id: &str, station: &str, want: &str, secs: u64) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.state(id, station).await;
            if s["state"] == want {
                return s;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{station}: {id} still {s} after {secs} s, wanted {want}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait (bounded) until the log of `station` has `n` entries; answers them.
    async fn wait_logs(&self, station: &str, n: usize, secs: u64) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let (_, v) = self.call(None, &format!("/logs?station={station}")).await;
            let logs = v.as_array().cloned().unwrap_or_default();
            if logs.len() >= n {
                return logs;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{station}: logs {v} after {secs} s, wanted {n}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn device(&self, code: &str) -> String {
        self.devices.iter().find(|d| d.0 == code).unwrap().1.clone()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }
}

struct Station {
    wav: PathBuf,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), controller::RunError>>,
    _dir: tempfile::TempDir,
}

fn start_controller(server: &Server, code: &str) -> Station {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("aired.wav");
    let config = controller::Config {
        server: server.base.clone(),
        station: code.parse().unwrap(),
        token: server.device(code),
        data_dir: dir.path().join("data"),
        output: OutputSpec::Wav(wav.clone()),
        wait_for_device: false,
        sound_period_ms: controller::output::DEFAULT_PERIOD_MS,
    };
    let (stop, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(controller::run(config, Arc::new(SystemClock), async move {
        let _ = rx.await;
    }));
    Station {
        wav,
        stop,
        task,
        _dir: dir,
    }
}

impl Station {
    /// Stop the controller; answers what it aired.
    async fn stop(self) -> Aired {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("controller stops")
            .unwrap()
            .unwrap();
        let aired = Aired::read(&self.wav);
        drop(self._dir);
        aired
    }
}

/// What a controller aired: channel 0 of its WAV, and the instant of its first sample.
struct Aired {
    samples: Vec<f32>,
    rate: u32,
    start: DateTime<Utc>,
}

impl Aired {
    fn read(path: &Path) -> Aired {
        let mut r = hound::WavReader::open(path).unwrap();
        let spec = r.spec();
        let ch = usize::from(spec.channels);
        let all: Vec<f32> = match spec.sample_format {
            hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
            hound::SampleFormat::Int => r
                .samples::<i32>()
                .map(|s| s.unwrap() as f32 / (1u32 << (spec.bits_per_sample - 1)) as f32)
                .collect(),
        };
        let side: Value = serde_json::from_str(
            &std::fs::read_to_string(controller::output::sidecar_path(path)).unwrap(),
        )
        .unwrap();
        Aired {
            samples: all.chunks(ch).map(|f| f[0]).collect(),
            rate: spec.sample_rate,
            start: side["start_utc"].as_str().unwrap().parse().unwrap(),
        }
    }

    /// The tone (of `freqs`) dominating each 100 ms window, or None for quiet.
    fn tones(&self, freqs: &[f64]) -> Vec<Option<f64>> {
        let win = (self.rate / 10) as usize;
        self.samples
            .chunks(win)
            .map(|w| {
                let energy: f64 = w.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>();
                if energy / (w.len() as f64) < 1e-4 {
                    return None;
                }
                freqs
                    .iter()
                    .map(|f| (goertzel(w, *f, self.rate), *f))
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .filter(|(p, _)| *p > energy * 0.3)
                    .map(|(_, f)| f)
            })
            .collect()
    }

    /// Runs of one tone: (tone, start in s, length in s).
    fn runs(&self, freqs: &[f64]) -> Vec<(f64, f64, f64)> {
        let mut out: Vec<(f64, f64, f64)> = Vec::new();
        for (i, t) in self.tones(freqs).into_iter().enumerate() {
            let at = i as f64 / 10.0;
            match (t, out.last_mut()) {
                (Some(f), Some(last)) if last.0 == f && (last.1 + last.2 - at).abs() < 0.01 => {
                    last.2 += 0.1
                }
                (Some(f), _) => out.push((f, at, 0.1)),
                (None, _) => {}
            }
        }
        out
    }

    fn seconds_from_start(&self, t: DateTime<Utc>) -> f64 {
        (t - self.start).num_milliseconds() as f64 / 1000.0
    }
}

/// Relative power of `freq` in `w` (Goertzel), scaled like the window's energy.
fn goertzel(w: &[f32], freq: f64, rate: u32) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * freq / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for x in w {
        let s = f64::from(*x) + k * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let p = s1 * s1 + s2 * s2 - k * s1 * s2;
    2.0 * p / w.len() as f64
}

async fn sleep_until(t: DateTime<Utc>) {
    let ms = (t - SystemClock.now()).num_milliseconds();
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
    }
}

const TONES: [f64; 3] = [440.0, 1000.0, 1500.0];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_urgent_notice_interrupts_every_station_and_reaches_late_ones_unless_expired() {
    let server = Server::start(&["TT-01", "TT-02", "TT-03", "TT-04"]).await;
    let bulletin = server.upload_tone(440.0, 8000).await;
    let alarm = server.upload_tone(1000.0, 1500).await;
    let long_alarm = server.upload_tone(1500.0, 10_000).await;

    // A bulletin on TT-01 and TT-02, a few seconds ahead; their controllers start.
    let bulletin_at = SystemClock.now() + CDuration::seconds(5);
    let (s, v) = server
        .call(
            Some(json!({"title": "Bản tin", "media_id": bulletin,
                        "stations": ["TT-01", "TT-02"], "at": bulletin_at})),
            "/schedules",
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let s1 = start_controller(&server, "TT-01");
    let s2 = start_controller(&server, "TT-02");

    // Two seconds into the bulletin, an urgent notice for TT-01..03 (TT-03 is offline).
    sleep_until(bulletin_at + CDuration::seconds(2)).await;
    let (s, v) = server
        .call(
            Some(json!({"title": "Bão", "media_id": alarm,
                        "stations": ["TT-01", "TT-02", "TT-03"],
                        "expires_at": SystemClock.now() + CDuration::minutes(10)})),
            "/urgent",
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let posted = SystemClock.now();
    let alert = v["id"].as_str().unwrap().to_string();
    for st in ["TT-01", "TT-02"] {
        let d = server.wait_state(&alert, st, "played", 20).await;
        assert!(
            d["received_at"].is_string() && d["playing_at"].is_string(),
            "{d}"
        );
        let logs = server.wait_logs(st, 2, 20).await;
        let status = |title: &str| {
            logs.iter()
                .find(|l| l["title"] == title)
                .map(|l| l["status"].clone())
        };
        assert_eq!(status("Bản tin"), Some(json!("interrupted")), "{logs:?}");
        assert_eq!(status("Bão"), Some(json!("played")), "{logs:?}");
    }
    assert_eq!(server.state(&alert, "TT-03").await["state"], "pending");

    // TT-03 comes online: it plays the notice it missed.
    let s3 = start_controller(&server, "TT-03");
    server.wait_state(&alert, "TT-03", "played", 20).await;

    // A notice that expires before TT-04 comes online is never played there.
    let expires_at = SystemClock.now() + CDuration::seconds(2);
    let (s, v) = server
        .call(
            Some(
                json!({"title": "Hết hạn", "media_id": alarm, "stations": ["TT-04"],
                        "expires_at": expires_at}),
            ),
            "/urgent",
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let expired = v["id"].as_str().unwrap().to_string();

    // Meanwhile: a long notice with repeats on TT-01, cancelled while it plays.
    let (s, v) = server
        .call(
            Some(
                json!({"title": "Cháy", "media_id": long_alarm, "stations": ["TT-01"],
                        "repeat": 3, "interval_minutes": 1}),
            ),
            "/urgent",
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let fire = v["id"].as_str().unwrap().to_string();
    server.wait_state(&fire, "TT-01", "playing", 20).await;
    // Let a second of it air, so the cut is measurable in the wav (an acknowledgement can
    // arrive a few milliseconds after the first sample).
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let (s, v) = server
        .call(Some(json!({})), &format!("/urgent/{fire}/cancel"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let cancelled_at = SystemClock.now();

    sleep_until(expires_at + CDuration::milliseconds(500)).await;
    let s4 = start_controller(&server, "TT-04");
    // TT-04 has synced once it has been seen; give it a moment of airtime.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, st) = server.call(None, "/stations/TT-04").await;
        if st["last_seen"].is_string() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "TT-04 never synced");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(server.state(&expired, "TT-04").await["state"], "pending");
    assert_eq!(server.state(&fire, "TT-01").await["state"], "cancelled");

    let a1 = s1.stop().await;
    let a2 = s2.stop().await;
    let a3 = s3.stop().await;
    let a4 = s4.stop().await;

    // On TT-01 and TT-02: 440 Hz from the bulletin's time, cut ~2 s in by 1000 Hz for 1.5 s.
    for (name, a) in [("TT-01", &a1), ("TT-02", &a2)] {
        let runs = a.runs(&TONES);
        let b = runs
            .iter()
            .find(|r| r.0 == 440.0)
            .unwrap_or_else(|| panic!("{name}: {runs:?}"));
        let expect_b = a.seconds_from_start(bulletin_at);
        assert!(
            (b.1 - expect_b).abs() < 0.5,
            "{name}: bulletin at {} not {expect_b}: {runs:?}",
            b.1
        );
        assert!(b.2 < 6.0, "{name}: the bulletin was not cut off: {runs:?}");
        let u = runs
            .iter()
            .find(|r| r.0 == 1000.0)
            .unwrap_or_else(|| panic!("{name}: {runs:?}"));
        assert!(
            (u.1 - (b.1 + b.2)).abs() < 0.5,
            "{name}: notice not right after the cut: {runs:?}"
        );
        assert!((u.2 - 1.5).abs() < 0.4, "{name}: {runs:?}");
        // The push reached the speaker well within a couple of seconds of the POST.
        let push = a.seconds_from_start(posted);
        assert!(
            u.1 - push < 2.0,
            "{name}: notice at {} s, posted at {push} s",
            u.1
        );
    }
    // TT-01: the cancelled notice stopped long before its 10 s.
    let runs = a1.runs(&TONES);
    let fire_run = runs
        .iter()
        .find(|r| r.0 == 1500.0)
        .unwrap_or_else(|| panic!("{runs:?}"));
    assert!(fire_run.2 < 7.0, "{runs:?}");
    assert!(
        a1.seconds_from_start(cancelled_at) - (fire_run.1 + fire_run.2) > -1.5,
        "{runs:?}"
    );
    // TT-03 aired the notice once; TT-04 aired nothing.
    assert_eq!(a3.runs(&TONES).iter().filter(|r| r.0 == 1000.0).count(), 1);
    assert!(a4.runs(&TONES).is_empty(), "{:?}", a4.runs(&TONES));
    server.stop().await;
}
