//! Server scale (`make bench`): how many station event streams one `loaxa-web` process
//! holds, with every one still receiving an urgent notice, its memory per connection, and
//! schedule-document requests per second (changed → 200, unchanged → 304).
//!
//! The server runs as its own release process (so its RSS is its own); the stations are
//! lightweight clients in this process: one TCP connection each doing exactly what the
//! controller's event stream does (`GET /api/v1/device/events` with its device token).
//! Bounded: about two minutes. `LOAXA_BENCH_STATIONS` sets the connection count (10 000).

use anyhow::{anyhow, bail, Context, Result};
use schedules::{Clock, SystemClock};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn web_bin() -> Result<PathBuf> {
    // `make bench` builds it first and names it.
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
    // Cargo gives this bench its package's variables (CARGO_PKG_NAME=tests, …). Build
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

fn rss_kib(pid: u32) -> u64 {
    tests::status_kib(pid, "VmRSS:")
}

struct ServerProc {
    child: Child,
    addr: String,
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_healthy(addr: &str) -> Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the server did not come up")
}

/// Seed one district with `n` stations straight through the library; returns their tokens.
fn seed(data: &Path, n: usize) -> Result<Vec<String>> {
    let clock = SystemClock;
    let state = web::state::AppState::open(data, Arc::new(clock))?;
    let now = clock.now();
    web::admin::add_area(&state.db, "bench", "P", "Tỉnh thử", None, now)?;
    web::admin::add_user(
        &state.db,
        "bench",
        "admin",
        "mật khẩu đủ dài 2026",
        web::db::users::Role::Admin,
        "P",
        now,
    )?;
    let mut tokens = Vec::with_capacity(n);
    for i in 0..n {
        let code = format!("S{i:05}");
        tokens.push(web::admin::add_station(
            &state.db, "bench", &code, &code, "P", None, now,
        )?);
    }
    Ok(tokens)
}

/// One station's event stream: connect, then count `urgent` events.
async fn station(addr: String, token: String, connected: Arc<AtomicU64>, urgent: Arc<AtomicU64>) {
    let Ok(mut s) = TcpStream::connect(&addr).await else {
        return;
    };
    let req = format!(
        "GET /api/v1/device/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).await.is_err() {
        return;
    }
    let mut lines = BufReader::new(s).lines();
    let mut counted = false;
    while let Ok(Some(line)) = lines.next_line().await {
        if !counted && line.starts_with("HTTP/1.1 200") {
            counted = true;
            connected.fetch_add(1, Ordering::Relaxed);
        }
        if line == "event: urgent" {
            urgent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn login(addr: &str) -> Result<String> {
    let v: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/auth/token"))
        .json(&serde_json::json!({"username": "admin", "password": "mật khẩu đủ dài 2026"}))
        .send()
        .await?
        .json()
        .await?;
    Ok(v["token"].as_str().unwrap_or_default().to_string())
}

async fn upload_tone(addr: &str, token: &str, dir: &Path) -> Result<String> {
    let path = dir.join("tone.wav");
    let pcm = media::Pcm {
        samples: media::signal::tone(880.0, 1000, 48_000, 0.5),
        sample_rate: 48_000,
        channels: 1,
    };
    media::signal::write_wav(&path, &pcm)?;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(std::fs::read(&path)?).file_name("tone.wav"),
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

/// Requests per second for the schedule document over `secs`, `conc` clients in parallel.
async fn doc_rps(
    addr: &str,
    tokens: &[String],
    conditional: bool,
    secs: u64,
) -> Result<(f64, u64)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    // The ETag of each station's document, for the unchanged case.
    let mut etags = Vec::new();
    for t in tokens {
        let r = client
            .get(format!("http://{addr}/api/v1/device/schedule"))
            .bearer_auth(t)
            .send()
            .await?;
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
    for (i, (t, e)) in tokens.iter().zip(etags).enumerate() {
        let (client, done, errors) = (client.clone(), done.clone(), errors.clone());
        let (t, addr) = (t.clone(), addr.to_string());
        tasks.push(tokio::spawn(async move {
            let _ = i;
            while Instant::now() < end {
                let mut req = client
                    .get(format!("http://{addr}/api/v1/device/schedule"))
                    .bearer_auth(&t);
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

async fn bench() -> Result<()> {
    let nofile = tests::raise_nofile();
    let wanted: usize = std::env::var("LOAXA_BENCH_STATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    // Each connection costs a descriptor on both sides, here and in the server.
    let n = wanted.min(nofile.saturating_sub(200) as usize);
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let t0 = Instant::now();
    let tokens = seed(&data, n)?;
    eprintln!("seeded {n} stations in {:.1} s", t0.elapsed().as_secs_f64());

    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(web_bin()?)
        .arg("--data")
        .arg(&data)
        .arg("serve")
        .arg("--listen")
        .arg(&addr)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start loaxa-web")?;
    let _ = Command::new("prlimit")
        .args(["--pid", &child.id().to_string(), "--nofile=200000:200000"])
        .status();
    let server = ServerProc { child, addr };
    wait_healthy(&server.addr).await?;
    let pid = server.child.id();
    let token = login(&server.addr).await?;
    let sha = upload_tone(&server.addr, &token, dir.path()).await?;
    let rss_before = rss_kib(pid);

    let connected = Arc::new(AtomicU64::new(0));
    let urgent = Arc::new(AtomicU64::new(0));
    let t_conn = Instant::now();
    for (i, t) in tokens.iter().enumerate() {
        tokio::spawn(station(
            server.addr.clone(),
            t.clone(),
            connected.clone(),
            urgent.clone(),
        ));
        // Pace the connects a little so the accept queue never overflows.
        if i % 500 == 499 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while (connected.load(Ordering::Relaxed) as usize) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held = connected.load(Ordering::Relaxed);
    let conn_secs = t_conn.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = rss_kib(pid);
    let per_conn = (rss_after.saturating_sub(rss_before)) as f64 / held.max(1) as f64;

    // One urgent notice to every station; count how many streams carry it.
    let t_push = Instant::now();
    let r = reqwest::Client::new()
        .post(format!("http://{}/api/v1/urgent", server.addr))
        .bearer_auth(&token)
        .json(&serde_json::json!({"title": "Cảnh báo bão", "media_id": sha, "stations": ["*"]}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("POST /urgent: {} {}", r.status(), r.text().await?);
    }
    let post_ms = t_push.elapsed().as_millis();
    let deadline = Instant::now() + Duration::from_secs(30);
    while urgent.load(Ordering::Relaxed) < held && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = urgent.load(Ordering::Relaxed);
    let all_ms = t_push.elapsed().as_millis();
    // The notice carries its audio (a second of 48 kHz WAV, under the inline limit): each
    // stream's copy of the event lives until it is written. The peak says what that costs.
    let peak = tests::status_kib(pid, "VmHWM:");

    println!("Stations connected: {held} of {n} (fd limit {nofile}) in {conn_secs:.1} s");
    println!("Server RSS: {rss_before} KiB before, {rss_after} KiB with {held} streams: {per_conn:.1} KiB each");
    println!("Urgent notice: POST answered in {post_ms} ms; {got} of {held} streams carried it within {all_ms} ms");
    println!("BENCH|event streams held by one server|{held} (of {n} tried)|>= 10000|-");
    println!("BENCH|server memory per event stream|{per_conn:.1} KiB|<= 20 KiB|-");
    println!(
        "BENCH|urgent notice on every stream|{got}/{held} in {all_ms} ms (POST {post_ms} ms)|all|-"
    );
    println!(
        "BENCH|server peak memory once the notice went out|{} MiB (from {} MiB with the streams)|-|-",
        peak / 1024,
        rss_after / 1024
    );

    // Schedule documents: a small set of stations hammering it, 64 at a time.
    let sample: Vec<String> = tokens.iter().take(64).cloned().collect();
    let (rps_200, err_200) = doc_rps(&server.addr, &sample, false, 10).await?;
    let (rps_304, err_304) = doc_rps(&server.addr, &sample, true, 10).await?;
    println!("Schedule document: {rps_200:.0} req/s changed (200, {err_200} errors), {rps_304:.0} req/s unchanged (304, {err_304} errors)");
    println!("BENCH|schedule document, 200|{rps_200:.0} req/s (64 clients)|-|-");
    println!("BENCH|schedule document, 304|{rps_304:.0} req/s (64 clients)|-|-");
    Ok(())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(bench()) {
        eprintln!("sync_load: {e:#}");
        std::process::exit(1);
    }
}
