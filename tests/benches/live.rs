//! Benchmark: live broadcast (#25). The server (the `loaxa-web` binary named by
//! `LOAXA_WEB_BIN`, else the server in this process) and real controllers in this process,
//! each writing what it airs to a `wav:` file with UTC stamps, on 127.0.0.1. A WebSocket
//! sends 16 kHz PCM in 20 ms messages in real time: a 100 ms burst of 1 kHz every second.
//!
//! Figures:
//! - latency from a message's arrival (its sending instant, on loopback) to the instant its
//!   first sample leaves each controller's output, 10 stations, p50/p95/p99;
//! - the same burst on different stations: largest spread;
//! - a 60 s session: aired span minus sent span, per station, largest error;
//! - 100 stations (10 s): latency p99; the server's CPU per station per second of live
//!   audio (from `/proc`, server in a process of its own);
//! - a 3 s network cut (a proxy stalls and refuses everything): silence, then on the air
//!   again how long after the network came back.
//!
//! `cargo bench -p tests --bench live`; `LIVE_BENCH_SECONDS` (60), `LIVE_BENCH_BIG` (100).

use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use schedules::{Clock, SystemClock};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tests::e2e::{seed, Aired, Api, InProcessController, Server, OP_PASSWORD};
use tests::proxy::{FaultProxy, Faults};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const RATE: u32 = 16_000;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Err(e) = rt.block_on(run()) {
        eprintln!("live bench failed: {e:#}");
        std::process::exit(1);
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run() -> Result<()> {
    let secs = env_or("LIVE_BENCH_SECONDS", 60);
    let big = env_or("LIVE_BENCH_BIG", 100) as usize;
    let only_big = std::env::var("LIVE_BENCH_ONLY").is_ok_and(|v| v == "big");
    if !only_big {
        small_and_cut(secs).await?;
    }
    let many = scenario(big, 10, false).await?;
    report(&format!("{big} stations"), &many, 10);
    if let Some(cpu) = many.server_cpu_ms {
        let per = cpu as f64 / (big as f64 * many.sent_s);
        println!(
            "BENCH|live: server CPU per station per second of live audio ({big} stations)|{per:.3} ms|-|-"
        );
    }
    Ok(())
}

async fn small_and_cut(secs: u64) -> Result<()> {
    let small = scenario(10, secs, false).await?;
    report("10 stations", &small, secs);
    let cut = scenario(1, 12, true).await?;
    if let Some(back) = cut.back_after_ms {
        println!(
            "BENCH|live: on the air again after a 3 s cut|{back} ms after the network came back|<= 1000 ms|-"
        );
    }
    println!(
        "BENCH|live: longest silence during the 3 s cut|{} ms|about 3000 ms|-",
        cut.cut_silence_ms
    );
    Ok(())
}

fn report(what: &str, r: &Outcome, secs: u64) {
    let mut l = r.latencies_ms.clone();
    l.sort_by(f64::total_cmp);
    let p = |q: f64| l[((l.len() as f64 - 1.0) * q).round() as usize];
    if l.is_empty() {
        println!("BENCH|live {what}: latency|no burst found|-|-");
        return;
    }
    println!(
        "BENCH|live {what}: latency arrival→output p50 / p95 / p99|{:.0} / {:.0} / {:.0} ms ({} bursts)|p95 <= 250, p99 <= 400 ms (100 stations: p99 <= 1000)|-",
        p(0.5),
        p(0.95),
        p(0.99),
        l.len()
    );
    println!(
        "BENCH|live {what}: largest spread of one burst across stations|{:.2} ms|<= 5 ms|-",
        r.spread_ms
    );
    println!(
        "BENCH|live {what}: a {secs} s session, aired span minus sent span, worst station|{:+.1} ms|± 50 ms|-",
        r.span_error_ms
    );
}

#[derive(Debug, Default)]
struct Outcome {
    latencies_ms: Vec<f64>,
    spread_ms: f64,
    span_error_ms: f64,
    server_cpu_ms: Option<u64>,
    sent_s: f64,
    back_after_ms: Option<i64>,
    cut_silence_ms: u64,
}

/// The server: `LOAXA_WEB_BIN` in a process of its own (its CPU is measured), else in
/// this process.
enum Srv {
    Child(std::process::Child, String),
    InProc(Server),
}

impl Srv {
    fn url(&self) -> String {
        match self {
            Srv::Child(_, u) => u.clone(),
            Srv::InProc(s) => s.url.clone(),
        }
    }
    fn cpu_ms(&self) -> Option<u64> {
        let Srv::Child(c, _) = self else { return None };
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", c.id())).ok()?;
        let after = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        Some(ticks * 10)
    }
}

impl Drop for Srv {
    fn drop(&mut self) {
        if let Srv::Child(c, _) = self {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn start_server(data: &Path) -> Result<Srv> {
    let Ok(bin) = std::env::var("LOAXA_WEB_BIN") else {
        return Ok(Srv::InProc(Server::start(data).await?));
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = std::process::Command::new(bin)
        .arg("--data")
        .arg(data)
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(match std::env::var("LIVE_BENCH_SERVER_LOG") {
            Ok(f) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)?
                .into(),
            Err(_) => std::process::Stdio::null(),
        })
        .spawn()
        .context("loaxa-web")?;
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{url}/healthz")).await.is_ok() {
            return Ok(Srv::Child(child, url));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(anyhow!("loaxa-web did not answer"))
}

async fn scenario(n: usize, secs: u64, cut: bool) -> Result<Outcome> {
    let dir = match std::env::var("LIVE_BENCH_DATA") {
        Ok(d) => tempfile::tempdir_in(d)?,
        Err(_) => tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir())?,
    };
    let data = dir.path().join("server");
    let codes: Vec<String> = (0..n).map(|i| format!("L{i:03}")).collect();
    let refs: Vec<&str> = codes.iter().map(String::as_str).collect();
    let tokens = seed(&data, &refs)?;
    let srv = start_server(&data).await?;
    let url = srv.url();
    let proxy = if cut {
        let addr = url.trim_start_matches("http://").parse()?;
        Some(FaultProxy::start(addr).await?)
    } else {
        None
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut ctrls = Vec::new();
    let mut wavs: Vec<PathBuf> = Vec::new();
    for (code, token) in codes.iter().zip(&tokens) {
        let wav = dir.path().join(format!("{code}.wav"));
        let ctl_url = proxy
            .as_ref()
            .map(|p| p.url())
            .unwrap_or_else(|| url.clone());
        ctrls.push(InProcessController::start(
            &ctl_url,
            code,
            token,
            &dir.path().join(code),
            format!("wav:{}", wav.display())
                .parse()
                .map_err(|e| anyhow!("{e}"))?,
            clock.clone(),
        )?);
        wavs.push(wav);
    }
    let op = Api::login_at(&format!("{url}/api/v1"), "op", OP_PASSWORD).await?;
    // Every station online.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let st = op.get("/stations").await?;
        let online = st
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["online"] == true)
            .count();
        if online >= n {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(anyhow!("{online} of {n} stations online"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let made = op
        .post(
            "/live",
            &json!({"title": "bench", "stations": ["*"], "priority": "priority",
                    "format": {"codec": "pcm_s16le", "sample_rate": RATE, "channels": 1}}),
        )
        .await?;
    let ingest = made["ingest"].as_str().context("ingest")?.to_string();
    let id = made["id"].as_str().context("id")?.to_string();
    // Stations connected to the session.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = op.get(&format!("/live/{id}")).await?;
        let waiting = s["stations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| x["state"] == "connecting")
            .count();
        if waiting == 0 || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let host = url.trim_start_matches("http://");
    let mut req = format!("ws://{host}{ingest}").into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {}", op.token()).parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    let cpu0 = srv.cpu_ms();
    // 20 ms messages in real time; a 100 ms burst at the start of every second (the cut
    // scenario sends a steady tone instead).
    let per = (RATE / 50) as usize;
    let total = (secs * 50) as usize;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut bursts: Vec<DateTime<Utc>> = Vec::new();
    let (mut first, mut last) = (None, None);
    let mut cut_window = None;
    for m in 0..total {
        tick.tick().await;
        let now = SystemClock.now();
        let on = cut || m % 50 < 5;
        if !cut && m % 50 == 0 {
            bursts.push(now);
        }
        first.get_or_insert(now);
        last = Some(now);
        let pcm: Vec<u8> = (0..per)
            .flat_map(|i| {
                let t = (m * per + i) as f32 / RATE as f32;
                let v = if on {
                    (2.0 * std::f32::consts::PI * 1000.0 * t).sin() * 0.5
                } else {
                    0.0
                };
                ((v * 32767.0) as i16).to_le_bytes()
            })
            .collect();
        ws.send(Message::Binary(pcm.into())).await?;
        if let Some(p) = &proxy {
            if m == 200 {
                p.set(Faults {
                    bandwidth_bps: Some(0),
                    ..Default::default()
                });
                p.set_down(true);
                p.reset_all();
                cut_window = Some((now, now));
            }
            if m == 350 {
                p.set(Faults::default());
                p.set_down(false);
                if let Some((a, _)) = cut_window {
                    cut_window = Some((a, now));
                }
            }
        }
    }
    let cpu1 = srv.cpu_ms();
    ws.send(Message::Text(r#"{"type":"stop"}"#.into())).await?;
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                if t.as_str().contains("\"ended\"") {
                    break;
                }
            }
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for c in ctrls {
        let _ = c.stop().await;
    }
    drop(proxy);
    let (first, last) = (first.context("sent")?, last.context("sent")?);
    let mut out = Outcome {
        sent_s: (last - first).num_milliseconds() as f64 / 1000.0,
        server_cpu_ms: cpu0.zip(cpu1).map(|(a, b)| b - a),
        ..Default::default()
    };
    let aired: Vec<Aired> = wavs.iter().map(|w| Aired::read(w)).collect::<Result<_>>()?;
    if cut {
        let (a, b) = cut_window.context("cut")?;
        let w = &aired[0];
        let quiet = w.longest_quiet_run(a, b + chrono::Duration::seconds(3), 0.05);
        out.cut_silence_ms = quiet as u64 * 1000 / u64::from(w.rate);
        if let Some(t) = w.first_sound_after(b, 0.05) {
            out.back_after_ms = Some((t - b).num_milliseconds());
        }
        return Ok(out);
    }
    for (k, &b) in bursts.iter().enumerate() {
        let onsets: Vec<DateTime<Utc>> = aired
            .iter()
            .filter_map(|w| w.first_sound_after(b, 0.05))
            .filter(|t| (*t - b).num_milliseconds() < 900)
            .collect();
        for t in &onsets {
            out.latencies_ms
                .push((*t - b).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
        let mut ls: Vec<i64> = onsets.iter().map(|t| (*t - b).num_milliseconds()).collect();
        ls.sort_unstable();
        println!(
            "burst {k}: aired on {} of {} stations, median latency {:?} ms",
            onsets.len(),
            aired.len(),
            ls.get(ls.len() / 2)
        );
        if onsets.len() == aired.len() && onsets.len() > 1 {
            let lo = onsets.iter().min().copied().unwrap_or(b);
            let hi = onsets.iter().max().copied().unwrap_or(b);
            let spread = (hi - lo).num_microseconds().unwrap_or(0) as f64 / 1000.0;
            out.spread_ms = out.spread_ms.max(spread);
        }
    }
    // Span: first burst's onset to the last burst's onset, against the same span sent.
    if let (Some(&b0), Some(&bn)) = (bursts.first(), bursts.last()) {
        let sent = (bn - b0).num_microseconds().unwrap_or(0) as f64 / 1000.0;
        for w in &aired {
            let (Some(a0), Some(an)) =
                (w.first_sound_after(b0, 0.05), w.first_sound_after(bn, 0.05))
            else {
                continue;
            };
            let err = (an - a0).num_microseconds().unwrap_or(0) as f64 / 1000.0 - sent;
            if err.abs() > out.span_error_ms.abs() {
                out.span_error_ms = err;
            }
        }
    }
    Ok(out)
}
