//! What the server benchmarks share (`sync_load`, `nodes`): the release `loaxa-web` as a
//! process of its own (so its memory and CPU are its own), many stations seeded in one
//! transaction, a fleet of bare event streams that behave like controllers' streams, and
//! the small measures (requests per second, memory, percentiles).

use anyhow::{anyhow, bail, Context, Result};
use rand::Rng;
use schedules::{Clock, SystemClock};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The administrator [`seed`] adds, and its password.
pub const ADMIN: (&str, &str) = ("admin", "mật khẩu đủ dài 2026");

/// A benchmark's `main`: nothing for `--list` (cargo asks), else run `bench` on a runtime
/// and exit 1 with `name` and the error when it fails.
pub fn main_of<F>(name: &str, bench: impl FnOnce() -> F)
where
    F: std::future::Future<Output = Result<()>>,
{
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: no runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(bench()) {
        eprintln!("{name}: {e:#}");
        std::process::exit(1);
    }
}

/// The release `loaxa-web`: the one `LOAXA_WEB_BIN` names (`make bench` builds it first),
/// or built beside this benchmark (once a process).
pub fn web_bin() -> Result<PathBuf> {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    if let Some(bin) = BUILT.get() {
        return Ok(bin.clone());
    }
    let bin = find_or_build_web()?;
    Ok(BUILT.get_or_init(|| bin).clone())
}

fn find_or_build_web() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("LOAXA_WEB_BIN").map(PathBuf::from) {
        if bin.exists() {
            return Ok(bin);
        }
        bail!(
            "LOAXA_WEB_BIN names {}, which does not exist",
            bin.display()
        );
    }
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow!("unexpected bench location"))?;
    let bin = dir.join("loaxa-web");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--release", "-p", "web", "--bin", "loaxa-web"]);
    // Cargo gives a bench its package's variables (CARGO_PKG_NAME=tests, …). Build
    // scripts that watch them would see a change and rebuild (ring, and all above it),
    // and the next `cargo bench` would rebuild them back.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        let set_for_us = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|p| k.starts_with(p))
            || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&k.as_str());
        if set_for_us {
            build.env_remove(&k);
        }
    }
    let status = build.status()?;
    if !status.success() || !bin.exists() {
        bail!("cannot build loaxa-web at {}", bin.display());
    }
    Ok(bin)
}

/// A `loaxa-web serve` process on 127.0.0.1; killed when dropped.
pub struct Node {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    log: PathBuf,
}

impl Node {
    /// Start `loaxa-web` over `data` (its log in `data/web.log`), on the store `database`
    /// (`postgres://…`; None: SQLite in `data`), with as many open files as allowed, and
    /// wait until `/healthz` answers (30 s at most).
    pub async fn start(data: &Path, database: Option<&str>) -> Result<Node> {
        std::fs::create_dir_all(data)?;
        let log = data.join("web.log");
        let addr = format!("127.0.0.1:{}", free_port()?);
        let mut cmd = Command::new(web_bin()?);
        if let Some(url) = database {
            cmd.arg("--database").arg(url);
        }
        let child = cmd
            .arg("--data")
            .arg(data)
            .arg("serve")
            .arg("--listen")
            .arg(&addr)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("start loaxa-web")?;
        let _ = Command::new("prlimit")
            .args(["--pid", &child.id().to_string(), "--nofile=200000:200000"])
            .stderr(Stdio::null())
            .status();
        let mut node = Node { child, addr, log };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let healthy = client
                .get(format!("http://{}/healthz", node.addr))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if healthy {
                return Ok(node);
            }
            if let Some(status) = node.child.try_wait()? {
                bail!("loaxa-web exited at start ({status}): {}", node.log_tail());
            }
            if Instant::now() > deadline {
                bail!(
                    "loaxa-web did not answer /healthz within 30 s: {}",
                    node.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: the node dies without closing anything (the kernel resets its sockets).
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The end of its log, for an error message.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(10)..].join("\n");
        format!("log {}:\n{tail}", self.log.display())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A port free on 127.0.0.1 just now.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Seed a province `P` with `n` stations (`S00000`, …) and the administrator [`ADMIN`],
/// straight through the library, into the store `database` (`postgres://…`; None: SQLite
/// in `data`). The stations go in one transaction (on PostgreSQL each commit is a flush
/// to disk, and each call of the command line's kind a new connection). Answers the
/// stations' device tokens, in order.
pub fn seed(data: &Path, database: Option<&str>, n: usize) -> Result<Vec<String>> {
    let clock = SystemClock;
    let config = web::state::Config {
        database: database.map(str::to_string),
        ..Default::default()
    };
    let state = web::state::AppState::open_with(data, Arc::new(clock), config)?;
    let now = clock.now();
    web::admin::add_area(&state.db, "bench", "P", "Tỉnh thử", None, now)?;
    web::admin::add_user(
        &state.db,
        "bench",
        ADMIN.0,
        ADMIN.1,
        web::db::users::Role::Admin,
        "P",
        now,
    )?;
    let tokens: Vec<String> = (0..n).map(|_| web::auth::new_token()).collect();
    let rows: Vec<(String, String)> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("S{i:05}"), web::auth::token_hash(t)))
        .collect();
    state.db.call_blocking(move |conn| {
        let tx = conn.transaction()?;
        for (code, hash) in &rows {
            web::db::stations::insert(
                &tx,
                code,
                code,
                "P",
                web::admin::DEFAULT_TIMEZONE,
                hash,
                now,
            )?;
        }
        tx.commit()?;
        Ok(())
    })?;
    Ok(tokens)
}

/// A bearer token for [`ADMIN`] on the node at `addr`.
pub async fn login(addr: &str) -> Result<String> {
    let v: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/auth/token"))
        .json(&serde_json::json!({"username": ADMIN.0, "password": ADMIN.1}))
        .send()
        .await?
        .json()
        .await?;
    v["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("login on {addr} failed: {v}"))
}

/// Upload a second of 880 Hz mono WAV at `rate` Hz (48 kHz: 96 KB; 16 kHz, text-to-speech's
/// rate: 32 KB; both under the inline limit, so an urgent notice carries it in its event);
/// answers its sha256.
pub async fn upload_tone(addr: &str, token: &str, rate: u32) -> Result<String> {
    let pcm = media::Pcm {
        samples: media::signal::tone(880.0, 1000, rate, 0.5),
        sample_rate: rate,
        channels: 1,
    };
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(media::signal::wav_bytes(&pcm)).file_name("tone.wav"),
    );
    let v: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/media"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await?
        .json()
        .await?;
    v["sha256"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("upload failed: {v}"))
}

/// What urgent notice `id` sends (the POST's answer names it): its file's size in bytes
/// and whether it is the server's compact copy (`urgent_mp3_kbps`) rather than the upload.
pub async fn sent_audio(addr: &str, token: &str, id: &str, uploaded: &str) -> Result<(u64, bool)> {
    let get = |path: String| async move {
        reqwest::Client::new()
            .get(format!("http://{addr}/api/v1{path}"))
            .bearer_auth(token)
            .send()
            .await?
            .json::<serde_json::Value>()
            .await
    };
    let notice = get(format!("/urgent/{id}")).await?;
    let sent = notice["media_id"]
        .as_str()
        .ok_or_else(|| anyhow!("urgent notice {id}: {notice}"))?
        .to_string();
    let library = get("/media".into()).await?;
    let size = library
        .as_array()
        .and_then(|l| l.iter().find(|m| m["id"] == sent.as_str()))
        .and_then(|m| m["size_bytes"].as_u64())
        .ok_or_else(|| anyhow!("media {sent} not in the library"))?;
    Ok((size, sent != uploaded))
}

/// How a benchmark names what an urgent notice carried: "6 KB (the 48 kb/s copy)".
pub fn sent_audio_text((size, copy): (u64, bool)) -> String {
    let what = if copy {
        "the server's MP3 copy"
    } else {
        "the file as uploaded"
    };
    format!("{:.0} KB, {what}", size as f64 / 1000.0)
}

/// Schedule documents per second from the node at `addr` over `secs`, one client per
/// station of `tokens` in parallel, each asking again as soon as it has its answer:
/// `conditional` with the ETag it holds (unchanged → 304), else without (→ 200). Answers
/// (requests per second, failed requests).
pub async fn doc_rps(
    addr: &str,
    tokens: &[String],
    conditional: bool,
    secs: u64,
) -> Result<(f64, u64)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let url = format!("http://{addr}/api/v1/device/schedule");
    // The ETag of each station's document, for the unchanged case.
    let mut etags = Vec::new();
    for t in tokens {
        let r = client.get(&url).bearer_auth(t).send().await?;
        if !r.status().is_success() {
            bail!("GET {url}: {}", r.status());
        }
        etags.push(
            r.headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
        );
    }
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for (t, e) in tokens.iter().zip(etags) {
        let (client, done, errors) = (client.clone(), done.clone(), errors.clone());
        let (t, url) = (t.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let mut req = client.get(&url).bearer_auth(&t);
                if conditional {
                    req = req.header("if-none-match", &e);
                }
                match req.send().await {
                    Ok(r) if r.status().is_success() || r.status().as_u16() == 304 => {
                        let _ = r.bytes().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok((
        done.load(Ordering::Relaxed) as f64 / secs as f64,
        errors.load(Ordering::Relaxed),
    ))
}

/// A process's resident memory now, KiB (0 when it is gone).
pub fn rss_kib(pid: u32) -> u64 {
    crate::status_kib(pid, "VmRSS:")
}

/// The `p`th percentile (0–100) of `sorted`, nearest rank; NaN when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The connection count a benchmark may open: `LOAXA_BENCH_STATIONS` (10,000 unless set),
/// at most what the open-file limit allows (each costs a descriptor here). Answers (count,
/// the limit).
pub fn stations_wanted() -> (usize, u64) {
    let nofile = crate::raise_nofile();
    let wanted: usize = std::env::var("LOAXA_BENCH_STATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    (wanted.min(nofile.saturating_sub(200) as usize), nofile)
}

/// One station's stream as the fleet sees it.
#[derive(Debug, Default)]
struct Stream {
    /// The node it holds a stream on: its index in [`Fleet::nodes`] + 1; 0 when none.
    on: AtomicUsize,
    /// When its current stream was answered 200, µs since [`Fleet::start`] (0: never).
    since_us: AtomicU64,
    /// When it had its first `urgent` event whole, µs since [`Fleet::start`] (0: never).
    urgent_us: AtomicU64,
}

/// Many stations' event streams, each a bare TCP connection doing what a controller's
/// event stream does (`controller/src/sync.rs` `events_loop`, `controller/src/servers.rs`):
/// `GET /api/v1/device/events` with its device token (and `Last-Event-ID` once it has
/// one) to its active node. When a stream ends it reconnects after its backoff (0.25–0.5 s
/// after a stream that carried data, then doubling up to 30 s, each scaled by a random
/// factor in [0.5, 1]); a node that does not answer — the connection refused, not made
/// within 10 s (the controller's connect timeout) or closed before an answer, or an answer
/// of 502–504 — hands over to the next node of its list, tried 100 ms later. (The
/// controller's return to its preferred node, probed every 10 s, is not modelled.)
pub struct Fleet {
    /// The nodes' addresses (`127.0.0.1:PORT`).
    pub nodes: Vec<String>,
    start: Instant,
    streams: Vec<Stream>,
    tasks: std::sync::Mutex<tokio::task::JoinSet<()>>,
}

impl Fleet {
    /// A fleet of `n` stations over `nodes`; none connected yet.
    pub fn new(nodes: Vec<String>, n: usize) -> Arc<Fleet> {
        Arc::new(Fleet {
            nodes,
            start: Instant::now(),
            streams: (0..n).map(|_| Stream::default()).collect(),
            tasks: Default::default(),
        })
    }

    /// Connect station `i` with `token`, to node `first` first; it stays connected (and
    /// reconnects) until [`Fleet::stop`].
    pub fn connect(self: &Arc<Self>, i: usize, first: usize, token: String) {
        let fleet = self.clone();
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spawn(async move { fleet.run(i, first, token).await });
    }

    /// Connect every station, to node `first(i)` first, a few hundred at a time so that
    /// the nodes' accept queues never overflow; then wait until all hold a stream or
    /// `within` has passed. Answers how many hold one.
    pub async fn connect_all(
        self: &Arc<Self>,
        tokens: &[String],
        first: impl Fn(usize) -> usize,
        within: Duration,
    ) -> usize {
        let deadline = Instant::now() + within;
        for (i, t) in tokens.iter().enumerate() {
            self.connect(i, first(i), t.clone());
            if i % 500 == 499 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        while self.held() < tokens.len() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.held()
    }

    /// Close every stream.
    pub fn stop(&self) {
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .abort_all();
    }

    /// Stations holding a stream.
    pub fn held(&self) -> usize {
        self.streams
            .iter()
            .filter(|s| s.on.load(Ordering::Relaxed) != 0)
            .count()
    }

    /// For each station, the node it holds a stream on (None: none).
    pub fn on(&self) -> Vec<Option<usize>> {
        self.streams
            .iter()
            .map(|s| s.on.load(Ordering::Relaxed).checked_sub(1))
            .collect()
    }

    /// Station `i`'s current stream was answered this long after `t` (None: it holds
    /// none, or it was answered before `t`).
    pub fn held_since(&self, i: usize, t: Instant) -> Option<Duration> {
        let s = &self.streams[i];
        if s.on.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.instant(s.since_us.load(Ordering::Relaxed))?
            .checked_duration_since(t)
    }

    /// Stations that had an `urgent` event whole.
    pub fn urgent_count(&self) -> usize {
        self.streams
            .iter()
            .filter(|s| s.urgent_us.load(Ordering::Relaxed) != 0)
            .count()
    }

    /// For each station, how long after `t` it had its first `urgent` event whole (None:
    /// not yet).
    pub fn urgent_after(&self, t: Instant) -> Vec<Option<Duration>> {
        self.streams
            .iter()
            .map(|s| {
                let at = self.instant(s.urgent_us.load(Ordering::Relaxed))?;
                Some(at.saturating_duration_since(t))
            })
            .collect()
    }

    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64 + 1
    }

    fn instant(&self, us: u64) -> Option<Instant> {
        (us != 0).then(|| self.start + Duration::from_micros(us - 1))
    }

    async fn run(&self, i: usize, first: usize, token: String) {
        let me = &self.streams[i];
        let mut active = first % self.nodes.len();
        let mut attempt = 0u32;
        let mut last_id: Option<String> = None;
        loop {
            let delay = match open(&self.nodes[active], &token, last_id.as_deref()).await {
                Ok(lines) => {
                    me.since_us.store(self.now_us(), Ordering::Relaxed);
                    me.on.store(active + 1, Ordering::Relaxed);
                    let carried = self.read(lines, me, &mut last_id).await;
                    me.on.store(0, Ordering::Relaxed);
                    if carried {
                        attempt = 0;
                    }
                    backoff(&mut attempt)
                }
                Err(Refusal::Unanswered) if self.nodes.len() > 1 => {
                    active = (active + 1) % self.nodes.len();
                    attempt = 0;
                    Duration::from_millis(100)
                }
                Err(_) => backoff(&mut attempt),
            };
            tokio::time::sleep(delay).await;
        }
    }

    /// Read a stream until it ends, noting `urgent` events and the last event id. Answers
    /// whether it carried anything.
    async fn read(
        &self,
        mut lines: tokio::io::Lines<BufReader<TcpStream>>,
        me: &Stream,
        last_id: &mut Option<String>,
    ) -> bool {
        let mut carried = false;
        let mut in_urgent = false;
        while let Ok(Some(line)) = lines.next_line().await {
            carried = true;
            if line == "event: urgent" {
                in_urgent = true;
            } else if let Some(id) = line.strip_prefix("id: ") {
                *last_id = Some(id.to_string());
            } else if line.is_empty() && in_urgent {
                // The blank line that ends the event: its data is all here.
                in_urgent = false;
                let _ = me.urgent_us.compare_exchange(
                    0,
                    self.now_us(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        }
        carried
    }
}

/// Why a stream did not open.
enum Refusal {
    /// The node does not answer (what moves a controller to its next server).
    Unanswered,
    /// It answered, but not with a stream.
    Refused,
}

/// The controller's backoff (`controller::sync::Backoff`): 0.5 s × 2^attempt, at most 30 s,
/// scaled by a random factor in [0.5, 1].
fn backoff(attempt: &mut u32) -> Duration {
    let base = (0.5 * 2f64.powi((*attempt).min(10) as i32)).min(30.0);
    *attempt = attempt.saturating_add(1);
    Duration::from_secs_f64(base * rand::thread_rng().gen_range(0.5..=1.0))
}

/// Open an event stream on `addr`: the lines after its status line.
async fn open(
    addr: &str,
    token: &str,
    last_id: Option<&str>,
) -> Result<tokio::io::Lines<BufReader<TcpStream>>, Refusal> {
    let mut s = match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr)).await
    {
        Ok(Ok(s)) => s,
        _ => return Err(Refusal::Unanswered),
    };
    let last = last_id
        .map(|id| format!("Last-Event-ID: {id}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "GET /api/v1/device/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n{last}\r\n"
    );
    if s.write_all(req.as_bytes()).await.is_err() {
        return Err(Refusal::Unanswered);
    }
    let mut lines = BufReader::new(s).lines();
    // The controller waits for the answer without a bound; 30 s keeps the bench bounded.
    match tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await {
        Ok(Ok(Some(status))) => {
            let code = status.split_whitespace().nth(1).unwrap_or_default();
            match code {
                "200" => Ok(lines),
                "502" | "503" | "504" => Err(Refusal::Unanswered),
                _ => Err(Refusal::Refused),
            }
        }
        // Closed or reset before an answer: a request error to reqwest, unanswered.
        Ok(_) => Err(Refusal::Unanswered),
        Err(_) => Err(Refusal::Refused),
    }
}
