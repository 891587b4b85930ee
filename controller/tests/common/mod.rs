//! A small in-test server speaking the device API (schedule with ETag, SSE, logs,
//! heartbeats, urgent acks, media with Range), and helpers to run a controller against it.
#![allow(dead_code)]

pub mod pulse;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use controller::{Config, OutputSpec};
use schedules::wire::{
    Heartbeat, LogAck, LogBatch, LogEntry, MediaEntry, ScheduleDocument, UrgentAck, WireRule,
    WireSlot,
};
use schedules::{Priority, Sha256, SystemClock};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, oneshot, Notify};

pub const TOKEN: &str = "device-token-1";

#[derive(Default)]
pub struct Inner {
    pub doc: Option<ScheduleDocument>,
    pub media: HashMap<String, Vec<u8>>,
    /// Serve these bytes instead, once, for this hash (a corrupted transfer).
    pub corrupt_once: HashMap<String, Vec<u8>>,
    pub range_requests: Vec<(String, Option<String>)>,
    pub logs: Vec<LogEntry>,
    pub acks: Vec<(String, UrgentAck)>,
    pub heartbeats: Vec<Heartbeat>,
    pub schedule_fetches: usize,
    /// `Last-Event-ID` of every event-stream connection (None when absent).
    pub last_event_ids: Vec<Option<String>>,
    /// End each event stream right after its first event.
    pub close_after_one: bool,
    /// Remote command acknowledgements, in arrival order.
    pub command_acks: Vec<(String, schedules::remote::CommandAck)>,
}

#[derive(Clone)]
pub struct TestServer {
    pub inner: Arc<Mutex<Inner>>,
    pub changed: Arc<Notify>,
    pub events: broadcast::Sender<(String, String)>,
    pub url: String,
}

fn authorized(h: &HeaderMap) -> bool {
    h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

async fn schedule(State(s): State<TestServer>, h: HeaderMap) -> Response {
    if !authorized(&h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut inner = s.inner.lock().unwrap();
    inner.schedule_fetches += 1;
    let Some(doc) = inner.doc.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", doc.version);
    if h.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(&etag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    ([(header::ETAG, etag)], Json(doc)).into_response()
}

async fn events(State(s): State<TestServer>, h: HeaderMap) -> Response {
    if !authorized(&h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let rx = s.events.subscribe();
    let close_after_one = {
        let mut inner = s.inner.lock().unwrap();
        let id = h
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        inner.last_event_ids.push(id);
        inner.close_after_one
    };
    s.changed.notify_waiters();
    let start: u64 = 100 * s.inner.lock().unwrap().last_event_ids.len() as u64;
    let stream = futures_util::stream::unfold((rx, start), move |(mut rx, n)| async move {
        if close_after_one && n > start {
            return None;
        }
        let text = match tokio::time::timeout(Duration::from_secs(15), rx.recv()).await {
            Err(_) => ": keep-alive\n\n".to_string(),
            Ok(Ok((event, data))) => format!("event: {event}\nid: {n}\ndata: {data}\n\n"),
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => ": lagged\n\n".to_string(),
            Ok(Err(broadcast::error::RecvError::Closed)) => return None,
        };
        Some((Ok::<_, std::io::Error>(text), (rx, n + 1)))
    });
    let first =
        futures_util::stream::once(async { Ok::<_, std::io::Error>(": hello\n\n".to_string()) });
    use futures_util::StreamExt;
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(first.chain(stream)))
        .unwrap()
}

async fn logs(State(s): State<TestServer>, h: HeaderMap, Json(b): Json<LogBatch>) -> Response {
    if !authorized(&h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut inner = s.inner.lock().unwrap();
    let mut accepted = Vec::new();
    for e in b.entries {
        accepted.push(e.id.clone());
        if !inner.logs.iter().any(|x| x.id == e.id) {
            inner.logs.push(e);
        }
    }
    drop(inner);
    s.changed.notify_waiters();
    Json(LogAck { accepted }).into_response()
}

async fn heartbeat(State(s): State<TestServer>, Json(hb): Json<Heartbeat>) -> Response {
    s.inner.lock().unwrap().heartbeats.push(hb);
    s.changed.notify_waiters();
    StatusCode::NO_CONTENT.into_response()
}

async fn urgent_state(
    State(s): State<TestServer>,
    Path(id): Path<String>,
    Json(ack): Json<UrgentAck>,
) -> Response {
    s.inner.lock().unwrap().acks.push((id, ack));
    s.changed.notify_waiters();
    StatusCode::NO_CONTENT.into_response()
}

async fn command_ack(
    State(s): State<TestServer>,
    Path(id): Path<String>,
    Json(ack): Json<schedules::remote::CommandAck>,
) -> Response {
    s.inner.lock().unwrap().command_acks.push((id, ack));
    s.changed.notify_waiters();
    StatusCode::NO_CONTENT.into_response()
}

async fn media(State(s): State<TestServer>, Path(sha): Path<String>, h: HeaderMap) -> Response {
    if !authorized(&h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let range = h
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut inner = s.inner.lock().unwrap();
    inner.range_requests.push((sha.clone(), range.clone()));
    let bytes = match inner.corrupt_once.remove(&sha) {
        Some(b) => b,
        None => match inner.media.get(&sha) {
            Some(b) => b.clone(),
            None => return StatusCode::NOT_FOUND.into_response(),
        },
    };
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    match start {
        Some(n) if n >= bytes.len() => StatusCode::RANGE_NOT_SATISFIABLE.into_response(),
        Some(n) => (
            StatusCode::PARTIAL_CONTENT,
            [(
                header::CONTENT_RANGE,
                format!("bytes {n}-{}/{}", bytes.len() - 1, bytes.len()),
            )],
            bytes[n..].to_vec(),
        )
            .into_response(),
        None => bytes.into_response(),
    }
}

impl TestServer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (events_tx, _) = broadcast::channel(64);
        let s = TestServer {
            inner: Arc::new(Mutex::new(Inner::default())),
            changed: Arc::new(Notify::new()),
            events: events_tx,
            url,
        };
        let app = Router::new()
            .route("/api/v1/device/schedule", get(schedule))
            .route("/api/v1/device/events", get(events))
            .route("/api/v1/device/logs", post(logs))
            .route("/api/v1/device/heartbeat", post(heartbeat))
            .route("/api/v1/device/urgent/{id}/state", post(urgent_state))
            .route("/api/v1/device/commands/{id}/ack", post(command_ack))
            .route("/api/v1/media/{sha}", get(media))
            .with_state(s.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        s
    }

    /// Add a media file; returns its manifest entry.
    pub fn add_media(&self, bytes: Vec<u8>, duration_ms: u64) -> MediaEntry {
        use sha2::Digest;
        let sha = hex::encode(sha2::Sha256::digest(&bytes));
        let entry = MediaEntry {
            sha256: Sha256::parse(&sha).unwrap(),
            size_bytes: bytes.len() as u64,
            duration_ms,
            gain_db: 0.0,
            codec: "wav".into(),
        };
        self.inner.lock().unwrap().media.insert(sha, bytes);
        entry
    }

    pub fn set_doc(&self, doc: ScheduleDocument) {
        self.inner.lock().unwrap().doc = Some(doc);
    }

    pub fn push(&self, event: &str, data: String) {
        let _ = self.events.send((event.to_string(), data));
    }

    /// Wait (up to `secs`) until `cond` holds on the server state.
    pub async fn wait_for(&self, secs: u64, what: &str, cond: impl Fn(&Inner) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let notified = self.changed.notified();
            if cond(&self.inner.lock().unwrap()) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let inner = self.inner.lock().unwrap();
                panic!(
                    "timed out waiting for {what}; logs: {:#?}; acks: {:?}",
                    inner.logs, inner.acks
                );
            }
        }
    }

    pub fn log(&self, key: &str) -> Option<LogEntry> {
        self.inner
            .lock()
            .unwrap()
            .logs
            .iter()
            .find(|l| l.id == key)
            .cloned()
    }
}

/// A mono WAV of a tone, as bytes.
pub fn tone_wav(freq: f32, ms: u32, amplitude: f32) -> Vec<u8> {
    let pcm = media::Pcm {
        samples: media::signal::tone(freq, ms, 48_000, amplitude),
        sample_rate: 48_000,
        channels: 1,
    };
    media::signal::wav_bytes(&pcm)
}

pub fn doc(version: &str, rules: Vec<WireRule>, media: Vec<MediaEntry>) -> ScheduleDocument {
    ScheduleDocument {
        station: "TT-01".parse().unwrap(),
        name: "Xã Thử".into(),
        timezone: "Asia/Ho_Chi_Minh".into(),
        version: version.into(),
        rules,
        media,
        urgent: vec![],
        commands: vec![],
        volume_schedule: vec![],
        relays: vec![],
    }
}

pub fn one_off(id: &str, at: DateTime<Utc>, m: &MediaEntry, priority: Priority) -> WireRule {
    WireRule {
        id: id.into(),
        title: format!("bulletin {id}"),
        slot: WireSlot {
            category: "tin tức".into(),
            priority,
            cron: None,
            at: Some(at),
            starts_on: None,
            ends_on: None,
            excluded_dates: vec![],
            max_wait_ms: 600_000,
        },
        media_sha256: m.sha256.clone(),
        duration_ms: m.duration_ms,
        items: vec![],
        programme_id: None,
    }
}

/// A controller running in-process; stop it with [`Running::stop`] or abort it (a crash).
pub struct Running {
    pub stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<Result<(), controller::RunError>>,
}

impl Running {
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await.unwrap().unwrap();
    }
}

pub fn config(server: &TestServer, data: PathBuf, output: OutputSpec) -> Config {
    Config {
        server: server.url.clone(),
        station: "TT-01".parse().unwrap(),
        token: TOKEN.into(),
        data_dir: data,
        output,
        wait_for_device: false,
        sound_period_ms: controller::output::DEFAULT_PERIOD_MS,
    }
}

/// A document (version "v1") with rule "r1" airing `m` once at `at`, normal priority.
pub fn single(at: DateTime<Utc>, m: &MediaEntry) -> ScheduleDocument {
    doc(
        "v1",
        vec![one_off("r1", at, m, Priority::Normal)],
        vec![m.clone()],
    )
}

/// A controller with its data in `DIR/data`, airing into `DIR/aired.wav`; answers the
/// running controller and the wav's path.
pub fn start_to_wav(server: &TestServer, dir: &std::path::Path) -> (Running, PathBuf) {
    let wav = dir.join("aired.wav");
    let c = start(config(
        server,
        dir.join("data"),
        OutputSpec::Wav(wav.clone()),
    ));
    (c, wav)
}

pub fn start(config: Config) -> Running {
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(controller::run(config, Arc::new(SystemClock), async move {
        let _ = rx.await;
    }));
    Running {
        stop: Some(tx),
        task,
    }
}

/// Read a WAV written by the controller and its sidecar: (samples, channels, rate, start).
pub fn read_aired(path: &std::path::Path) -> (Vec<f32>, u16, u32, DateTime<Utc>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let samples: Vec<f32> = r.samples::<f32>().map(|s| s.unwrap()).collect();
    let side: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(controller::output::sidecar_path(path)).unwrap(),
    )
    .unwrap();
    let start: DateTime<Utc> = side["start_utc"].as_str().unwrap().parse().unwrap();
    assert_eq!(side["sample_rate"], spec.sample_rate);
    assert_eq!(side["channels"], spec.channels);
    (samples, spec.channels, spec.sample_rate, start)
}

/// Index (in frames) of the first frame at or after `from` whose first channel exceeds `thr`.
pub fn first_loud(samples: &[f32], channels: u16, from: usize, thr: f32) -> Option<usize> {
    samples
        .chunks(channels as usize)
        .enumerate()
        .skip(from)
        .find(|(_, f)| f[0].abs() > thr)
        .map(|(i, _)| i)
}

/// Dominant frequency estimate of frames [from, to) of channel 0 by zero crossings.
pub fn zero_crossing_hz(samples: &[f32], channels: u16, rate: u32, from: usize, to: usize) -> f64 {
    let ch: Vec<f32> = samples
        .chunks(channels as usize)
        .skip(from)
        .take(to - from)
        .map(|f| f[0])
        .collect();
    let crossings = ch
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    crossings as f64 / 2.0 / ((to - from) as f64 / rate as f64)
}

/// The wall clock, through the one `Clock`.
pub fn now() -> DateTime<Utc> {
    use schedules::Clock;
    SystemClock.now()
}
