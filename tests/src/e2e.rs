//! The pieces end-to-end tests are made of: the real server in-process on 127.0.0.1, real
//! `loaxa-controller` processes, an HTTP client for the public API, and readers for what a
//! controller's `wav:` output says aired.

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use schedules::{Clock, SystemClock};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The district every end-to-end test works in.
pub const DISTRICT: &str = "TT";
/// The password of the `op` operator (and the `admin` of the district) the harness creates.
pub const OP_PASSWORD: &str = "mật khẩu đủ dài 2026";

/// The real server, in-process, on 127.0.0.1.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The address it listens on (a restart binds the same one).
    pub addr: SocketAddr,
    /// Its data directory.
    pub data: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Start on a free port with `data` as its data directory.
    pub async fn start(data: &Path) -> Result<Server> {
        Self::start_on(data, "127.0.0.1:0".parse()?).await
    }

    /// Start on `addr` (a restart after [`Server::stop`] reuses the address).
    pub async fn start_on(data: &Path, addr: SocketAddr) -> Result<Server> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let state = web::state::AppState::open(data, clock)?;
        Self::serve_state(data, addr, state).await
    }

    /// Serve a state opened by the caller (who may run the server's background tasks on
    /// it too) on `addr`.
    pub async fn serve_state(
        data: &Path,
        addr: SocketAddr,
        state: web::state::AppState,
    ) -> Result<Server> {
        let listener = bind_retrying(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(web::startup::serve(listener, state, async {
            let _ = stopped.await;
        }));
        Ok(Server {
            url: format!("http://{addr}"),
            addr,
            data: data.to_path_buf(),
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The API base, `http://127.0.0.1:PORT/api/v1`.
    pub fn api(&self) -> String {
        format!("{}/api/v1", self.url)
    }

    /// Stop serving and wait until the listener is closed.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            // Open event streams end with the server; give them a bounded time.
            match tokio::time::timeout(Duration::from_secs(10), t).await {
                Ok(r) => r??,
                Err(_) => bail!("the server did not stop within 10 s"),
            }
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn bind_retrying(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    let mut last = None;
    for _ in 0..50 {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(anyhow!("cannot bind {addr}: {last:?}"))
}

/// Seed a district `TT` with the given commune stations (code = area code) and an operator
/// `op` over the district. Returns each station's device token, in order.
pub fn seed(data: &Path, stations: &[&str]) -> Result<Vec<String>> {
    seed_on(data, None, stations)
}

/// [`seed`] into the store `database` (`postgres://…`; None: SQLite in `data`).
pub fn seed_on(data: &Path, database: Option<&str>, stations: &[&str]) -> Result<Vec<String>> {
    let clock = SystemClock;
    let config = web::state::Config {
        database: database.map(str::to_string),
        ..Default::default()
    };
    let state = web::state::AppState::open_with(data, Arc::new(clock), config)?;
    let now = clock.now();
    web::admin::add_area(&state.db, "e2e", DISTRICT, "Huyện Thạch Thất", None, now)?;
    let mut tokens = Vec::new();
    for code in stations {
        web::admin::add_area(
            &state.db,
            "e2e",
            code,
            &format!("Xã {code}"),
            Some(DISTRICT),
            now,
        )?;
        tokens.push(web::admin::add_station(
            &state.db,
            "e2e",
            code,
            &format!("Đài truyền thanh xã {code}"),
            code,
            None,
            now,
        )?);
    }
    web::admin::add_user(
        &state.db,
        "e2e",
        "op",
        OP_PASSWORD,
        web::db::users::Role::Operator,
        DISTRICT,
        now,
    )?;
    Ok(tokens)
}

/// Add an administrator `user` over the seeded district (password [`OP_PASSWORD`]), before
/// the server starts.
pub fn seed_admin(data: &Path, user: &str) -> Result<()> {
    let clock = SystemClock;
    let state = web::state::AppState::open(data, Arc::new(clock))?;
    web::admin::add_user(
        &state.db,
        "e2e",
        user,
        OP_PASSWORD,
        web::db::users::Role::Admin,
        DISTRICT,
        clock.now(),
    )?;
    Ok(())
}

/// A client of the public JSON API, logged in as someone.
#[derive(Clone)]
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    /// Log in with a username and password.
    pub async fn login(server: &Server, user: &str, password: &str) -> Result<Api> {
        Self::login_at(&server.api(), user, password).await
    }

    /// Log in at an API base (`http://127.0.0.1:PORT/api/v1`).
    pub async fn login_at(api: &str, user: &str, password: &str) -> Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let res = http
            .post(format!("{api}/auth/token"))
            .json(&json!({"username": user, "password": password}))
            .send()
            .await?;
        let body: Value = ok_json(res).await?;
        let token = body["token"]
            .as_str()
            .ok_or_else(|| anyhow!("no token in {body}"))?
            .to_string();
        Ok(Api {
            base: api.to_string(),
            token,
            http,
        })
    }

    /// Its bearer token (for clients other than this one, e.g. a WebSocket).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The same client against another address (a restarted server).
    pub fn at(&self, server: &Server) -> Api {
        Api {
            base: server.api(),
            ..self.clone()
        }
    }

    /// GET a JSON resource.
    pub async fn get(&self, path: &str) -> Result<Value> {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        ok_json(res).await
    }

    /// POST JSON, expecting success.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        ok_json(res).await
    }

    /// Wait (at most 30 s) until at least `n` stations in reach are online.
    pub async fn wait_online(&self, n: usize) -> Result<()> {
        eventually(Duration::from_secs(30), "the stations online", || async {
            let st = self.get("/stations").await?;
            let online = st
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["online"] == true)
                .count();
            Ok((online >= n).then_some(()))
        })
        .await
    }

    /// Wait (at most 30 s) for the log entry of live session `id` at `station`.
    pub async fn live_entry(&self, station: &str, id: &str) -> Result<Value> {
        let (path, want) = (format!("/logs?station={station}"), format!("live:{id}"));
        eventually(Duration::from_secs(30), "the live log entry", || async {
            let logs = self.get(&path).await?;
            Ok(logs
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["id"] == want.as_str())
                .cloned())
        })
        .await
    }

    /// Open a priority live session on stations XA and XB, 48 kHz mono PCM: its id and
    /// its ingest path.
    pub async fn live_on_xa_xb(&self) -> Result<(String, String)> {
        let created = self
            .post(
                "/live",
                &json!({"title": "Thông báo của Chủ tịch xã", "stations": ["XA", "XB"],
                        "priority": "priority",
                        "format": {"codec": "pcm_s16le", "sample_rate": 48000, "channels": 1}}),
            )
            .await?;
        let id = created["id"].as_str().context("id")?.to_string();
        let ingest = created["ingest"].as_str().context("ingest")?.to_string();
        Ok((id, ingest))
    }

    /// The same client with another bearer token (e.g. a station's device token).
    pub fn with_token(&self, token: &str) -> Api {
        Api {
            token: token.to_string(),
            ..self.clone()
        }
    }

    /// A request to `path` (under `/api/v1`) with this client's token, to send as it is:
    /// for answers that are not a success (refusals, odd bodies).
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// Upload a media file; returns the server's description (`id`, `sha256`, `duration_ms` …).
    pub async fn upload(&self, path: &Path, title: &str) -> Result<Value> {
        let bytes = std::fs::read(path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "upload.wav".into());
        ok_json(self.upload_bytes(&name, bytes, title).await?).await
    }

    /// Send `bytes` as a media upload named `name`; answers the raw response.
    pub async fn upload_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
        title: &str,
    ) -> Result<reqwest::Response> {
        let form = reqwest::multipart::Form::new()
            .text("title", title.to_string())
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
            );
        Ok(self
            .request(reqwest::Method::POST, "/media")
            .multipart(form)
            .send()
            .await?)
    }

    /// Upload a tone of `ms` milliseconds made in code; answers its sha256.
    pub async fn upload_tone(&self, freq_hz: f32, ms: u32) -> Result<String> {
        let res = self
            .upload_bytes(
                &format!("tone-{freq_hz}.wav"),
                tone_bytes(freq_hz, ms),
                "tone",
            )
            .await?;
        let v = ok_json(res).await?;
        v["sha256"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no sha256 in {v}"))
    }

    /// Schedule `media` once at `at` on `station`; answers the schedule id.
    pub async fn schedule_at(
        &self,
        title: &str,
        media: &str,
        station: &str,
        at: DateTime<Utc>,
    ) -> Result<String> {
        let v = self
            .post(
                "/schedules",
                &json!({
                    "title": title,
                    "media_id": media,
                    "stations": [station],
                    "at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "category": "thông báo",
                }),
            )
            .await?;
        v["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no id in {v}"))
    }

    /// The log entries of one schedule at one station.
    pub async fn logs_for(&self, station: &str, schedule_id: &str) -> Result<Vec<Value>> {
        Ok(self
            .logs(station)
            .await?
            .into_iter()
            .filter(|l| l["schedule_id"].as_str() == Some(schedule_id))
            .collect())
    }

    /// The as-run log of one station.
    pub async fn logs(&self, station: &str) -> Result<Vec<Value>> {
        let v = self
            .get(&format!(
                "/logs?station={station}&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
            ))
            .await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }
}

async fn ok_json(res: reqwest::Response) -> Result<Value> {
    let status = res.status();
    let text = res.text().await?;
    if !status.is_success() {
        bail!("HTTP {status}: {text}");
    }
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))
}

/// Wait until `check` gives `Some`, trying every 100 ms, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let end = tokio::time::Instant::now() + limit;
    let mut last_err = None;
    loop {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_err = Some(e),
        }
        if tokio::time::Instant::now() >= end {
            bail!("timed out after {limit:?} waiting for {what} (last error: {last_err:?})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `loaxa-controller` binary built by this workspace (built on demand when missing).
pub fn controller_bin() -> Result<PathBuf> {
    workspace_bin("controller", "loaxa-controller")
}

/// A binary of this workspace next to the test binary (built on demand when missing).
fn workspace_bin(package: &str, name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow!("unexpected test binary location {}", exe.display()))?;
    let bin = dir.join(name);
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", package, "--bin", name])
            .status()
            .with_context(|| format!("cannot run cargo to build {name}"))?;
        if !status.success() || !bin.exists() {
            bail!("could not build {name} at {}", bin.display());
        }
    }
    Ok(bin)
}

/// A real `loaxa-web serve` process (for tests that kill a node with SIGKILL).
pub struct WebProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The address it listens on (a restart binds the same one).
    pub addr: SocketAddr,
}

impl WebProcess {
    /// Start `loaxa-web serve` over `data` on `addr` and wait until `/healthz` answers.
    pub async fn spawn(data: &Path, addr: SocketAddr) -> Result<WebProcess> {
        Self::spawn_on(data, None, addr).await
    }

    /// [`WebProcess::spawn`] on the store `database` (`postgres://…`; None: SQLite in
    /// `data`): several nodes share one PostgreSQL, each with its own data directory.
    pub async fn spawn_on(
        data: &Path,
        database: Option<&str>,
        addr: SocketAddr,
    ) -> Result<WebProcess> {
        std::fs::create_dir_all(data)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("web.log"))?;
        let mut cmd = Command::new(workspace_bin("web", "loaxa-web")?);
        if let Some(db) = database {
            cmd.arg("--database").arg(db);
        }
        let child = cmd
            .arg("--data")
            .arg(data)
            .arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start loaxa-web")?;
        let mut web = WebProcess {
            child,
            url: format!("http://{addr}"),
            addr,
        };
        let health = format!("{}/healthz", web.url);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(&health).await {
                if r.status().is_success() {
                    return Ok(web);
                }
            }
            if let Some(status) = web.child.try_wait()? {
                bail!("loaxa-web exited at start: {status}");
            }
            if tokio::time::Instant::now() > deadline {
                web.kill9();
                bail!("loaxa-web did not answer /healthz within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A free address on 127.0.0.1 for [`WebProcess::spawn`].
    pub fn free_addr() -> Result<SocketAddr> {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        Ok(l.local_addr()?)
    }

    /// kill -9: the node dies without closing anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The value of a sample in the node's `/metrics` (e.g. `loaxa_controllers_connected`).
    pub async fn metric(&self, sample: &str) -> Option<f64> {
        let text = reqwest::get(format!("{}/metrics", self.url))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
    }
}

impl Drop for WebProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A real `loaxa-controller` process.
pub struct ControllerProcess {
    child: Child,
}

impl ControllerProcess {
    /// Start a controller for `station` with `output` (`null`, `wav:FILE`, `default`).
    pub fn spawn(
        server_url: &str,
        station: &str,
        token: &str,
        data: &Path,
        output: &str,
    ) -> Result<ControllerProcess> {
        std::fs::create_dir_all(data)?;
        let token_file = data.join("token");
        std::fs::write(&token_file, token)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("controller.log"))?;
        let child = Command::new(controller_bin()?)
            .arg("--server")
            .arg(server_url)
            .arg("--station")
            .arg(station)
            .arg("--token-file")
            .arg(&token_file)
            .arg("--data")
            .arg(data)
            .arg("--output")
            .arg(output)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start loaxa-controller")?;
        Ok(ControllerProcess { child })
    }

    /// kill -9: no chance to clean up, as in a power cut.
    pub fn kill9(mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM and wait for a clean exit (at most 10 s, then kill -9).
    pub fn terminate(mut self) -> Result<()> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child.kill()?;
        self.child.wait()?;
        bail!("the controller did not stop on SIGTERM within 10 s")
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A controller running inside the test process, for tests that fake its clock.
pub struct InProcessController {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::result::Result<(), controller::RunError>>>,
}

impl InProcessController {
    /// Start `controller::run` for `station` with its data in `data`, output `output` and
    /// `clock` as its only clock.
    pub fn start(
        server_url: &str,
        station: &str,
        token: &str,
        data: &Path,
        output: controller::OutputSpec,
        clock: Arc<dyn Clock>,
    ) -> Result<InProcessController> {
        let config = controller::Config {
            server: server_url.to_string(),
            station: station
                .parse()
                .map_err(|e| anyhow!("station code {station}: {e}"))?,
            token: token.to_string(),
            data_dir: data.to_path_buf(),
            output,
            wait_for_device: false,
            sound_period_ms: controller::output::DEFAULT_PERIOD_MS,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(controller::run(config, clock, async {
            let _ = stopped.await;
        }));
        Ok(InProcessController {
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// A clean stop (what airs is logged `interrupted`), within 15 s.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(15), t).await {
                Ok(r) => r??,
                Err(_) => bail!("the controller did not stop within 15 s"),
            }
        }
        Ok(())
    }
}

impl Drop for InProcessController {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// The system clock moved by an offset the test sets: a station whose clock jumps.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset_ms: std::sync::atomic::AtomicI64,
}

impl OffsetClock {
    /// Jump to `offset` from the real time (negative: behind it).
    pub fn set_offset(&self, offset: chrono::Duration) {
        self.offset_ms.store(
            offset.num_milliseconds(),
            std::sync::atomic::Ordering::SeqCst,
        );
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now()
            + chrono::Duration::milliseconds(
                self.offset_ms.load(std::sync::atomic::Ordering::SeqCst),
            )
    }
}

/// A tone file made in code (mono 16-bit WAV at 48 kHz).
pub fn tone_wav(path: &Path, freq_hz: f32, ms: u32) -> Result<()> {
    std::fs::write(path, tone_bytes(freq_hz, ms))?;
    Ok(())
}

/// The bytes of a tone WAV made in code (mono 16-bit at 48 kHz).
pub fn tone_bytes(freq_hz: f32, ms: u32) -> Vec<u8> {
    media::signal::wav_bytes(&media::Pcm {
        samples: media::signal::tone(freq_hz, ms, 48_000, 0.5),
        sample_rate: 48_000,
        channels: 1,
    })
}

/// `now + secs`, on a whole second (readable instants in failure messages).
pub fn at_in(secs: i64) -> DateTime<Utc> {
    let t = SystemClock.now() + chrono::Duration::seconds(secs);
    t - chrono::Duration::nanoseconds(i64::from(chrono::Timelike::nanosecond(&t)))
}

/// What a controller's `wav:` output recorded.
pub struct Aired {
    /// The UTC instant of sample 0 (from the `FILE.json` sidecar).
    pub start: DateTime<Utc>,
    /// Output sample rate.
    pub rate: u32,
    /// Mono mix of the output (channels averaged).
    pub mono: Vec<f32>,
}

/// Two stations' recordings (`XA.wav`, `XB.wav` in `dir`) of one live voice: each
/// station's recording, its first sound after `after`, and how far apart (µs) they are.
pub struct InStep {
    /// XA's recording.
    pub a: Aired,
    /// XB's recording.
    pub b: Aired,
    /// XA's first sound.
    pub ta: DateTime<Utc>,
    /// XB's first sound.
    pub tb: DateTime<Utc>,
    /// |ta − tb| in microseconds.
    pub apart_us: i64,
}

/// Read `XA.wav` and `XB.wav` in `dir` and find their first sound after `after`.
pub fn in_step(dir: &Path, after: DateTime<Utc>) -> Result<InStep> {
    let a = Aired::read(&dir.join("XA.wav"))?;
    let b = Aired::read(&dir.join("XB.wav"))?;
    let ta = a
        .first_sound_after(after, 0.05)
        .context("XA aired nothing")?;
    let tb = b
        .first_sound_after(after, 0.05)
        .context("XB aired nothing")?;
    let apart_us = (ta - tb).num_microseconds().unwrap_or(i64::MAX).abs();
    Ok(InStep {
        a,
        b,
        ta,
        tb,
        apart_us,
    })
}

impl Aired {
    /// Read `FILE` and `FILE.json`.
    pub fn read(wav: &Path) -> Result<Aired> {
        let side = controller::output::sidecar_path(wav);
        let meta: Value = serde_json::from_slice(
            &std::fs::read(&side).with_context(|| format!("no sidecar {}", side.display()))?,
        )?;
        let start: DateTime<Utc> = meta["start_utc"]
            .as_str()
            .ok_or_else(|| anyhow!("sidecar without start_utc: {meta}"))?
            .parse()?;
        let mut reader = hound::WavReader::open(wav)?;
        let spec = reader.spec();
        let ch = usize::from(spec.channels.max(1));
        let samples: Vec<f32> = match spec.sample_format {
            hound::SampleFormat::Float => reader.samples::<f32>().filter_map(|s| s.ok()).collect(),
            hound::SampleFormat::Int => {
                let scale = (1i64 << (spec.bits_per_sample - 1)) as f32;
                reader
                    .samples::<i32>()
                    .filter_map(|s| s.ok())
                    .map(|s| s as f32 / scale)
                    .collect()
            }
        };
        let mono = samples
            .chunks(ch)
            .map(|c| c.iter().sum::<f32>() / ch as f32)
            .collect();
        Ok(Aired {
            start,
            rate: spec.sample_rate,
            mono,
        })
    }

    /// The UTC instant of the first sample louder than `threshold` at or after `after`.
    pub fn first_sound_after(&self, after: DateTime<Utc>, threshold: f32) -> Option<DateTime<Utc>> {
        let from = self.index_of(after).unwrap_or(0);
        let i = self.mono[from.min(self.mono.len())..]
            .iter()
            .position(|s| s.abs() > threshold)?
            + from;
        Some(self.instant_of(i))
    }

    /// Dominant frequency (zero crossings) in `[at, at + ms)`.
    pub fn frequency_at(&self, at: DateTime<Utc>, ms: u32) -> Option<f32> {
        let a = self.index_of(at)?;
        let n = (self.rate as usize * ms as usize) / 1000;
        let w = self.mono.get(a..a + n)?;
        let crossings = w
            .windows(2)
            .filter(|p| (p[0] < 0.0) != (p[1] < 0.0))
            .count();
        Some(crossings as f32 / 2.0 / (ms as f32 / 1000.0))
    }

    /// Milliseconds of sound (|s| > threshold) in `[from, to)`, in 10 ms blocks.
    pub fn sounding_ms(&self, from: DateTime<Utc>, to: DateTime<Utc>, threshold: f32) -> u64 {
        let a = self.index_of(from).unwrap_or(0);
        let b = self
            .index_of(to)
            .unwrap_or(self.mono.len())
            .min(self.mono.len());
        let block = (self.rate / 100) as usize;
        self.mono[a.min(b)..b]
            .chunks(block)
            .filter(|c| c.iter().any(|s| s.abs() > threshold))
            .count() as u64
            * 10
    }

    /// RMS level of `[from, to)` (0 when the range is outside the recording).
    pub fn rms(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> f32 {
        let a = self.index_of(from).unwrap_or(0).min(self.mono.len());
        let b = self
            .index_of(to)
            .unwrap_or(self.mono.len())
            .clamp(a, self.mono.len());
        let w = &self.mono[a..b];
        if w.is_empty() {
            return 0.0;
        }
        (w.iter().map(|s| s * s).sum::<f32>() / w.len() as f32).sqrt()
    }

    /// The longest run, in samples, quieter than `threshold` (|s| ≤ threshold) in
    /// `[from, to)`: a gap between two sounds shows up here.
    pub fn longest_quiet_run(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        threshold: f32,
    ) -> usize {
        let a = self.index_of(from).unwrap_or(0).min(self.mono.len());
        let b = self
            .index_of(to)
            .unwrap_or(self.mono.len())
            .min(self.mono.len());
        longest_quiet_run(&self.mono[a.min(b)..b], threshold)
    }

    fn index_of(&self, t: DateTime<Utc>) -> Option<usize> {
        let us = (t - self.start).num_microseconds()?;
        if us < 0 {
            return None;
        }
        Some((us as u128 * self.rate as u128 / 1_000_000) as usize)
    }

    fn instant_of(&self, i: usize) -> DateTime<Utc> {
        self.start
            + chrono::Duration::microseconds((i as u128 * 1_000_000 / self.rate as u128) as i64)
    }
}

/// A live channel served by the test: an endless sine tone as a 16 kHz mono WAV stream over
/// HTTP/1.0, paced in real time (as an Icecast server sends). It can be taken down: open
/// connections are cut and new ones answered 503 until it is up again.
pub struct ToneStream {
    /// `http://127.0.0.1:PORT/live.wav`.
    pub url: String,
    up: Arc<std::sync::atomic::AtomicBool>,
    generation: Arc<std::sync::atomic::AtomicU64>,
    task: JoinHandle<()>,
}

impl ToneStream {
    /// Serve a `freq_hz` tone at `amplitude` on a free port.
    pub async fn start(freq_hz: f32, amplitude: f32) -> Result<ToneStream> {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        const RATE: u32 = 16_000;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/live.wav", listener.local_addr()?);
        let up = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(AtomicU64::new(0));
        let (u, g) = (up.clone(), generation.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (up, generation) = (u.clone(), g.clone());
                tokio::spawn(async move {
                    let mut req = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16_384 {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    if !up.load(Ordering::SeqCst) {
                        let _ = sock
                            .write_all(b"HTTP/1.0 503 Service Unavailable\r\n\r\n")
                            .await;
                        return;
                    }
                    let mine = generation.load(Ordering::SeqCst);
                    let mut head = b"HTTP/1.0 200 OK\r\nContent-Type: audio/wav\r\n\r\n".to_vec();
                    head.extend(media::signal::wav_stream_header(RATE, 1));
                    if sock.write_all(&head).await.is_err() {
                        return;
                    }
                    // One second at once (Icecast's burst), then in real time.
                    let t0 = tokio::time::Instant::now() - Duration::from_secs(1);
                    let mut sent: u64 = 0;
                    let step = std::f32::consts::TAU * freq_hz / RATE as f32;
                    loop {
                        if generation.load(Ordering::SeqCst) != mine {
                            return; // cut
                        }
                        let due = (t0.elapsed().as_secs_f64() * f64::from(RATE)) as u64;
                        let samples: Vec<f32> = (sent..due)
                            .map(|i| amplitude * ((i % u64::from(RATE)) as f32 * step).sin())
                            .collect();
                        sent = due;
                        let bytes = media::signal::pcm16_bytes(&samples);
                        if sock.write_all(&bytes).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                });
            }
        });
        Ok(ToneStream {
            url,
            up,
            generation,
            task,
        })
    }

    /// Take the stream down (cut every listener, refuse new ones) or bring it back.
    pub fn set_up(&self, up: bool) {
        use std::sync::atomic::Ordering;
        self.up.store(up, Ordering::SeqCst);
        if !up {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Drop for ToneStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The loudness (LUFS, ITU-R BS.1770) of a mono 440 Hz sine of `amplitude`, such as a
/// [`ToneStream`] serves: −0.691 + 10·log10(A²/2) + the K-filter's gain at 440 Hz
/// (+0.008 dB; at 997 Hz it is +0.691 dB, which is why a full-scale 997 Hz sine reads
/// −3.01 LUFS and a 440 Hz one −3.69).
pub fn sine_440_lufs(amplitude: f64) -> f64 {
    const K_440_DB: f64 = 0.008;
    -0.691 + 10.0 * (amplitude * amplitude / 2.0).log10() + K_440_DB
}

/// The longest run of samples with |s| ≤ `threshold` in `samples`.
pub fn longest_quiet_run(samples: &[f32], threshold: f32) -> usize {
    let (mut best, mut run) = (0, 0);
    for s in samples {
        if s.abs() <= threshold {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

/// A live session's ingest WebSocket.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Open live session `ingest` (its path) on `server` with a bearer token.
pub async fn live_ingest(server: &Server, ingest: &str, token: &str) -> Result<Ws> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}{ingest}", server.addr).into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (ws, _) = tokio_tungstenite::connect_async(req).await?;
    Ok(ws)
}

/// `ms` of a `hz` tone at 48 kHz mono, 16-bit little-endian, in 20 ms messages, sent in
/// real time. Answers the instant the first message left.
pub async fn send_tone(ws: &mut Ws, hz: f32, ms: u32) -> Result<DateTime<Utc>> {
    use futures_util::SinkExt;
    let samples = media::signal::tone(hz, ms, 48_000, 0.5);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut first = None;
    for chunk in samples.chunks(960) {
        tick.tick().await;
        first.get_or_insert_with(|| SystemClock.now());
        let bytes: Vec<u8> = chunk
            .iter()
            .flat_map(|s| ((s * 32767.0) as i16).to_le_bytes())
            .collect();
        ws.send(tokio_tungstenite::tungstenite::Message::Binary(
            bytes.into(),
        ))
        .await?;
    }
    first.ok_or_else(|| anyhow!("no audio sent"))
}
