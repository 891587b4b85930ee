//! The real server in-process and real `loaxa-controller` processes, for the fault suite.
//!
//! [`World`] owns a temporary directory holding the server's data directory, one station
//! (`LQ` in area `TT`), an admin who schedules on it, and the station's device token in a
//! file. [`Server`] runs `web::startup::serve` on a listener bound to `127.0.0.1:0` (or, on a
//! restart, to the address it had before) with the system clock, because the controllers
//! are real processes reading the real clock. [`Controller`] is a `loaxa-controller` child
//! process that can be killed with SIGKILL at any moment.

use chrono::{DateTime, Utc};
use schedules::{Clock, SystemClock};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// The station every fault test plays on.
pub const STATION: &str = "LQ";
/// The admin's password.
pub const PASSWORD: &str = "a long test password";

/// The wall clock, through the one `Clock`.
pub fn now() -> DateTime<Utc> {
    SystemClock.now()
}

/// A running in-process server.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Open the data directory and serve it on `addr` (`127.0.0.1:0` for a fresh port).
    pub async fn start(data: &Path, addr: SocketAddr) -> anyhow::Result<Server> {
        let state = web::state::AppState::open(data, Arc::new(SystemClock))?;
        let listener = bind_retrying(addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(web::startup::serve(listener, state, async {
            let _ = rx.await;
        }));
        Ok(Server {
            addr,
            stop: Some(tx),
            task: Some(task),
        })
    }

    /// Stop serving and wait until the server has finished (event streams closed).
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(15), task).await {
                Ok(Ok(Ok(()))) => {}
                other => panic!("server did not stop cleanly: {other:?}"),
            }
        }
    }
}

/// Bind `addr`; a restarted server takes its old port back, which the kernel may hold for
/// a moment after the previous listener closed.
async fn bind_retrying(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let mut tries = 0;
    loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tries < 50 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One row of `GET /logs`.
#[derive(Debug, Clone, Deserialize)]
pub struct LogRow {
    /// The occurrence key the device made.
    pub id: String,
    /// Due time.
    pub scheduled_at: DateTime<Utc>,
    /// played, interrupted, skipped, failed or missed.
    pub status: String,
    /// Milliseconds aired.
    pub played_ms: u64,
    /// Title at the time.
    pub title: String,
}

/// A server data directory with one station and an admin, plus the HTTP client to drive it.
pub struct World {
    /// Everything lives under here (server data, controller data, token file, WAV output).
    pub dir: tempfile::TempDir,
    /// The server, while it runs.
    pub server: Option<Server>,
    /// Where the server listens (kept across restarts).
    pub addr: SocketAddr,
    /// The admin's bearer token.
    pub admin: String,
    /// The station's device token, also written to [`World::token_file`].
    pub device_token: String,
    /// HTTP client.
    pub http: reqwest::Client,
}

impl World {
    /// Seed a fresh data directory and start the server on a free port.
    pub async fn start() -> anyhow::Result<World> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("server");
        let now = now();
        let device_token = {
            let state = web::state::AppState::open(&data, Arc::new(SystemClock))?;
            let db = &state.db;
            web::admin::add_area(db, "test", "TT", "Huyện Thạch Thất", None, now)?;
            let token =
                web::admin::add_station(db, "test", STATION, "Đài Liên Quan", "TT", None, now)?;
            web::admin::add_user(
                db,
                "test",
                "admin",
                PASSWORD,
                web::db::users::Role::Admin,
                "TT",
                now,
            )?;
            token
        };
        std::fs::write(dir.path().join("token"), &device_token)?;
        let server = Server::start(&data, "127.0.0.1:0".parse()?).await?;
        let addr = server.addr;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()?;
        let mut world = World {
            dir,
            server: Some(server),
            addr,
            admin: String::new(),
            device_token,
            http,
        };
        let res: Value = world
            .http
            .post(world.api("/auth/token"))
            .json(&json!({"username": "admin", "password": PASSWORD}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        world.admin = res["token"].as_str().unwrap_or_default().to_string();
        Ok(world)
    }

    /// The server's data directory.
    pub fn server_data(&self) -> PathBuf {
        self.dir.path().join("server")
    }

    /// The file holding the device token.
    pub fn token_file(&self) -> PathBuf {
        self.dir.path().join("token")
    }

    /// The server's base URL (no `/api/v1`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A full API URL.
    pub fn api(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.addr)
    }

    /// Stop the server (the address stays reserved for [`World::restart_server`]).
    pub async fn stop_server(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }

    /// Start the server again on the same address and data directory.
    pub async fn restart_server(&mut self) -> anyhow::Result<()> {
        let s = Server::start(&self.server_data(), self.addr).await?;
        self.server = Some(s);
        Ok(())
    }

    /// Upload a WAV tone of `ms` milliseconds; answers its sha256.
    pub async fn upload_tone(&self, freq: f32, ms: u32) -> anyhow::Result<String> {
        self.upload_bytes("tone.wav", tone_wav(freq, ms)).await
    }

    /// Upload `bytes` as a media file; answers its id (sha256).
    pub async fn upload_bytes(&self, name: &str, bytes: Vec<u8>) -> anyhow::Result<String> {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
        let form = reqwest::multipart::Form::new().part("file", part);
        let res = self
            .http
            .post(self.api("/media"))
            .bearer_auth(&self.admin)
            .multipart(form)
            .send()
            .await?;
        let status = res.status();
        let v: Value = res.json().await?;
        anyhow::ensure!(status.as_u16() == 201, "upload answered {status}: {v}");
        Ok(v["id"].as_str().unwrap_or_default().to_string())
    }

    /// Schedule `media` once at `at` on the station; answers the schedule id.
    pub async fn schedule_at(
        &self,
        title: &str,
        media: &str,
        at: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let res = self
            .http
            .post(self.api("/schedules"))
            .bearer_auth(&self.admin)
            .json(&json!({"title": title, "media_id": media, "stations": [STATION], "at": at}))
            .send()
            .await?;
        let status = res.status();
        let v: Value = res.json().await?;
        anyhow::ensure!(status.as_u16() == 201, "schedule answered {status}: {v}");
        Ok(v["id"].as_str().unwrap_or_default().to_string())
    }

    /// Every log row of the station.
    pub async fn logs(&self) -> anyhow::Result<Vec<LogRow>> {
        let res = self
            .http
            .get(self.api(&format!("/logs?station={STATION}&limit=10000")))
            .bearer_auth(&self.admin)
            .send()
            .await?
            .error_for_status()?;
        Ok(res.json().await?)
    }

    /// Ask the server for the logs until `done` holds on them, up to `patience`; answers the
    /// last rows read. (The server has no push for logs arriving, so this asks every 200 ms.)
    pub async fn wait_for_logs(
        &self,
        patience: Duration,
        done: impl Fn(&[LogRow]) -> bool,
    ) -> Vec<LogRow> {
        let deadline = tokio::time::Instant::now() + patience;
        let mut last = Vec::new();
        loop {
            if let Ok(rows) = self.logs().await {
                if done(&rows) {
                    return rows;
                }
                last = rows;
            }
            if tokio::time::Instant::now() > deadline {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Start a controller for the station against `server_url` with its data under
    /// `data` and output `output` (`null` or `wav:FILE`).
    pub fn controller(
        &self,
        server_url: &str,
        data: &Path,
        output: &str,
    ) -> anyhow::Result<Controller> {
        Controller::spawn(
            server_url,
            &self.token_file(),
            data,
            output,
            &self.dir.path().join("controller.log"),
            &[],
        )
    }
}

/// A WAV tone of `ms` milliseconds at 16 kHz mono.
pub fn tone_wav(freq: f32, ms: u32) -> Vec<u8> {
    let rate = 16_000;
    media::signal::wav_bytes(&media::Pcm {
        samples: media::signal::tone(freq, ms, rate, 0.5),
        sample_rate: rate,
        channels: 1,
    })
}

/// The `loaxa-controller` binary next to the test executable (`target/<profile>/`), built
/// with cargo when it is not there yet.
pub fn controller_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow::anyhow!("test executable has no target directory"))?;
    let bin = profile_dir.join("loaxa-controller");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "controller", "--bin", "loaxa-controller"])
            .status()?;
        anyhow::ensure!(status.success(), "cargo build of loaxa-controller failed");
    }
    anyhow::ensure!(bin.exists(), "no {}", bin.display());
    Ok(bin)
}

/// A `loaxa-controller` child process. Dropping it kills it.
pub struct Controller {
    child: Child,
}

impl Controller {
    /// Start one; its stderr is appended to `log`. `env` adds environment variables.
    pub fn spawn(
        server_url: &str,
        token_file: &Path,
        data: &Path,
        output: &str,
        log: &Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Controller> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let mut cmd = Command::new(controller_bin()?);
        cmd.arg("--server")
            .arg(server_url)
            .arg("--station")
            .arg(STATION)
            .arg("--token-file")
            .arg(token_file)
            .arg("--data")
            .arg(data)
            .arg("--output")
            .arg(output)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        for (k, v) in env {
            cmd.env(k, v);
        }
        Ok(Controller {
            child: cmd.spawn()?,
        })
    }

    /// SIGKILL: no chance to clean up, like a power cut.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit (up to 15 s, then SIGKILL).
    pub fn terminate(mut self) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..150 {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        self.child.wait().ok()
    }

    /// Whether it has exited already.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Check the nothing-lost promise for `due` (the due times of the occurrences that came due):
/// exactly one row per due time, no row for anything else, statuses from the allowed set.
/// Answers a description of what is wrong, or counts by status.
pub fn exactly_once(
    rows: &[LogRow],
    due: &[DateTime<Utc>],
    allowed: &[&str],
) -> Result<std::collections::BTreeMap<String, usize>, String> {
    let mut problems = Vec::new();
    let mut by_status = std::collections::BTreeMap::new();
    for at in due {
        let n = rows.iter().filter(|r| r.scheduled_at == *at).count();
        if n != 1 {
            problems.push(format!("{at}: {n} log rows"));
        }
    }
    for r in rows {
        if !due.contains(&r.scheduled_at) {
            problems.push(format!("unexpected row {r:?}"));
        }
        if !allowed.contains(&r.status.as_str()) {
            problems.push(format!("status {} not allowed: {r:?}", r.status));
        }
        *by_status.entry(r.status.clone()).or_insert(0) += 1;
    }
    let mut ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() != rows.len() {
        problems.push("duplicate ids".into());
    }
    if problems.is_empty() {
        Ok(by_status)
    } else {
        Err(problems.join("\n"))
    }
}
