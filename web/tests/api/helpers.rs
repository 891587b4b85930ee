//! Spawning the app per test, signing in, making test audio, reading event streams.

use chrono::{DateTime, TimeZone, Utc};
use reqwest::{Method, StatusCode};
use schedules::ManualClock;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use web::db::users::Role;
use web::state::{AppState, Config};

/// The store the suite runs on: SQLite in each test's directory, or with
/// `LOAXA_API_BACKEND=postgres` a fresh PostgreSQL database per test.
pub fn test_database() -> Option<String> {
    match std::env::var("LOAXA_API_BACKEND").as_deref() {
        Ok("postgres") => Some(web::testing::postgres_database_migrated()),
        Ok("sqlite") | Err(_) => None,
        Ok(other) => panic!("LOAXA_API_BACKEND={other}: expected sqlite or postgres"),
    }
}

/// Monday 2026-11-30 00:00 in Hà Nội (2026-11-29T17:00Z).
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 17, 0, 0).unwrap()
}

pub const PASSWORD: &str = "correct horse battery";

/// A running server with a small district:
/// HN → TT → {LQ, BP}, stations LQ (in LQ) and BP (in BP); users `admin_tt` (admin, TT),
/// `admin_lq` (admin, LQ), `op_lq` (operator, LQ), `viewer_lq` (viewer, LQ), `op_bp`
/// (operator, BP).
pub struct TestApp {
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    pub lq_device: String,
    pub bp_device: String,
    /// The server's state (background tasks are not started: a test starts those it needs).
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Config::default()).await
    }

    pub async fn spawn_with(mut config: Config) -> TestApp {
        if config.database.is_none() {
            config.database = test_database();
        }
        Self::spawn_exactly(config).await
    }

    /// On SQLite in its data directory whatever the suite runs on (for what is SQLite's
    /// own: the `backup` of the data directory).
    pub async fn spawn_on_sqlite() -> TestApp {
        Self::spawn_exactly(Config::default()).await
    }

    async fn spawn_exactly(config: Config) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(t0()));
        let state = AppState::open_with(dir.path(), clock.clone(), config).unwrap();
        let now = t0();
        let db = &state.db;
        use web::admin::{add_area, add_station, add_user};
        add_area(db, "test", "HN", "Thành phố Hà Nội", None, now).unwrap();
        add_area(db, "test", "TT", "Huyện Thạch Thất", Some("HN"), now).unwrap();
        add_area(db, "test", "LQ", "Thị trấn Liên Quan", Some("TT"), now).unwrap();
        add_area(db, "test", "BP", "Xã Bình Phú", Some("TT"), now).unwrap();
        let lq_device = add_station(db, "test", "LQ", "Đài Liên Quan", "LQ", None, now).unwrap();
        let bp_device = add_station(db, "test", "BP", "Đài Bình Phú", "BP", None, now).unwrap();
        for (u, role, area) in [
            ("admin_tt", Role::Admin, "TT"),
            ("admin_lq", Role::Admin, "LQ"),
            ("op_lq", Role::Operator, "LQ"),
            ("viewer_lq", Role::Viewer, "LQ"),
            ("op_bp", Role::Operator, "BP"),
        ] {
            add_user(db, "test", u, PASSWORD, role, area, now).unwrap();
        }
        Self::serve(state, clock, dir, lq_device, bp_device).await
    }

    /// On a store that holds the seed already (e.g. copied from another), with its devices'
    /// tokens; a fresh data directory.
    pub async fn spawn_seeded(config: Config, lq_device: String, bp_device: String) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(t0()));
        let state = AppState::open_with(dir.path(), clock.clone(), config).unwrap();
        Self::serve(state, clock, dir, lq_device, bp_device).await
    }

    async fn serve(
        state: AppState,
        clock: Arc<ManualClock>,
        dir: tempfile::TempDir,
        lq_device: String,
        bp_device: String,
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(web::startup::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        TestApp {
            base: format!("http://{addr}/api/v1"),

            clock,
            client: reqwest::Client::new(),
            lq_device,
            bp_device,
            state,
            shutdown: Some(tx),
            server: Some(server),
            dir,
        }
    }

    /// Stop the server and wait until it has finished (open event streams included).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(10), h)
                .await
                .expect("server stops within 10 s")
                .unwrap()
                .unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn token(&self, username: &str) -> String {
        let res = self
            .client
            .post(self.url("/auth/token"))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "sign in {username}");
        res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// POST a CAP message (`application/cap+xml`).
    pub async fn post_cap(
        &self,
        token: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let res = self
            .client
            .post(self.url("/cap"))
            .bearer_auth(token)
            .header("content-type", "application/cap+xml")
            .body(body)
            .send()
            .await
            .unwrap();
        let s = res.status();
        (s, res.json().await.unwrap_or(Value::Null))
    }

    /// Upload bytes as multipart field `file`.
    pub async fn upload(&self, token: &str, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
        let form = reqwest::multipart::Form::new().part("file", part);
        let res = self
            .client
            .post(self.url("/media"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Upload a tone of `freq` Hz and `ms` milliseconds; answers its id.
    pub async fn upload_tone(&self, token: &str, freq: f32, ms: u32) -> String {
        let (s, v) = self.upload(token, "tone.wav", tone_wav(freq, ms)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// Create a daily schedule at `cron` on `stations`; answers its id.
    pub async fn schedule(
        &self,
        token: &str,
        media: &str,
        stations: &[&str],
        cron: &str,
    ) -> String {
        let (s, v) = self
            .post(
                "/schedules",
                token,
                json!({"title": "Bản tin", "media_id": media, "stations": stations, "cron": cron}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_string()
    }
}

/// A WAV file of a sine tone.
pub fn tone_wav(freq: f32, ms: u32) -> Vec<u8> {
    let rate = 16_000;
    media::signal::wav_bytes(&media::Pcm {
        samples: media::signal::tone(freq, ms, rate, 0.5),
        sample_rate: rate,
        channels: 1,
    })
}

/// Reads server-sent events from a streaming response.
pub struct Sse {
    res: reqwest::Response,
    buf: String,
}

/// One event.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: Option<u64>,
    pub event: String,
    pub data: Value,
}

impl Sse {
    pub async fn connect(app: &TestApp, token: &str) -> Sse {
        let res = app
            .client
            .get(app.url("/device/events"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        Sse {
            res,
            buf: String::new(),
        }
    }

    /// The next event (comments skipped); fails after 10 s.
    pub async fn next(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(10), self.next_inner())
            .await
            .expect("an event within 10 s")
    }

    async fn next_inner(&mut self) -> Event {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut ev = Event {
                    id: None,
                    event: "message".into(),
                    data: Value::Null,
                };
                let mut data = String::new();
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        ev.event = v.trim().to_string();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                        any = true;
                    } else if let Some(v) = line.strip_prefix("id:") {
                        ev.id = v.trim().parse().ok();
                    }
                }
                if !any {
                    continue;
                }
                ev.data = serde_json::from_str(&data).unwrap_or(Value::String(data));
                return ev;
            }
            let chunk = self.res.chunk().await.unwrap().expect("stream still open");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// Run the `loaxa-web` binary on data directory `data`; answers (exit code, stdout, stderr).
pub fn loaxa(data: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_loaxa-web"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("LOAXA_DATA")
        .env_remove("LOAXA_DATABASE")
        .env_remove("LOAXA_LISTEN")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The program may exit before reading (bad arguments): a broken pipe is expected then.
    use std::io::Write;
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
