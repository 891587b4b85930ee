//! Start-time error of the controller, and its footprint.
//!
//! 1. 60 short bulletins (200 ms, 1 kHz, every 500 ms) through `--output wav:FILE`:
//!    scheduled instant vs the instant of the output frame at which the first sample went
//!    out, (a) as the controller logged it (its own sample clock) and (b) as found in the
//!    WAV file against its sidecar `start_utc`.
//! 2. Through the sound card path (a private PulseAudio null sink, recorded with `parec`):
//!    the controller (`--output default`) vs a plain `sleep`-until + `paplay` baseline
//!    (`aplay` is not installed here: alsa-utils is not in the package set; `paplay` is the
//!    same idea through PulseAudio). Both measured from the recording, relative to the first
//!    onset (the recording's own start instant is not known precisely).
//! 3. RSS and CPU of the controller process, idle and while playing an MP3, with
//!    `--output null` and through the sound card path (the private PulseAudio). Idle is
//!    measured over `BENCH_IDLE_SECS` (10 by default), ending 12 s before the MP3 is due:
//!    the card's short period starts 10 s before a start.
//!
//! Run: `cargo bench -p controller --bench start_error`.
#![allow(clippy::disallowed_methods)] // a benchmark measures the wall clock on purpose

#[path = "../tests/common/pulse.rs"]
mod pulse;
use axum::body::Body;
use axum::extract::{Path as AxPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration as CDuration, Utc};
use pulse::Pulse;
use schedules::wire::{
    LogAck, LogBatch, LogEntry, MediaEntry, ScheduleDocument, WireRule, WireSlot,
};
use schedules::{occurrence_key, Priority, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Srv {
    doc: Option<ScheduleDocument>,
    media: HashMap<String, Vec<u8>>,
    logs: Vec<LogEntry>,
}
type S = Arc<Mutex<Srv>>;

async fn schedule(State(s): State<S>) -> Response {
    match s.lock().unwrap().doc.clone() {
        Some(d) => Json(d).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
async fn events() -> Response {
    let never = futures_util::stream::pending::<Result<String, std::io::Error>>();
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(never))
        .unwrap()
}
async fn logs(State(s): State<S>, Json(b): Json<LogBatch>) -> Json<LogAck> {
    let mut g = s.lock().unwrap();
    let accepted = b.entries.iter().map(|e| e.id.clone()).collect();
    for e in b.entries {
        if !g.logs.iter().any(|l| l.id == e.id) {
            g.logs.push(e);
        }
    }
    Json(LogAck { accepted })
}
async fn no_content() -> StatusCode {
    StatusCode::NO_CONTENT
}
async fn media(State(s): State<S>, AxPath(sha): AxPath<String>) -> Response {
    match s.lock().unwrap().media.get(&sha) {
        Some(b) => b.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn serve(rt: &tokio::runtime::Runtime) -> (S, String) {
    let s: S = Arc::default();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/api/v1/device/schedule", get(schedule))
        .route("/api/v1/device/events", get(events))
        .route("/api/v1/device/logs", post(logs))
        .route("/api/v1/device/heartbeat", post(no_content))
        .route("/api/v1/device/urgent/{id}/state", post(no_content))
        .route("/api/v1/media/{sha}", get(media))
        .with_state(s.clone());
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    (s, url)
}

fn add_media(s: &S, bytes: Vec<u8>, duration_ms: u64, codec: &str) -> MediaEntry {
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    s.lock().unwrap().media.insert(sha.clone(), bytes);
    MediaEntry {
        sha256: Sha256::parse(&sha).unwrap(),
        size_bytes: 0,
        duration_ms,
        gain_db: 0.0,
        codec: codec.into(),
    }
}

fn rule(id: String, at: DateTime<Utc>, m: &MediaEntry) -> WireRule {
    WireRule {
        id,
        title: "bench".into(),
        slot: WireSlot {
            category: String::new(),
            priority: Priority::Normal,
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

fn tone_wav(freq: f32, ms: u32) -> Vec<u8> {
    let pcm = media::Pcm {
        samples: media::signal::tone(freq, ms, 48_000, 0.5),
        sample_rate: 48_000,
        channels: 1,
    };
    media::signal::wav_bytes(&pcm)
}

fn set_doc(s: &S, rules: Vec<WireRule>, media: Vec<MediaEntry>) {
    s.lock().unwrap().doc = Some(ScheduleDocument {
        station: "BENCH".parse().unwrap(),
        name: "bench".into(),
        timezone: "Asia/Ho_Chi_Minh".into(),
        version: "v1".into(),
        rules,
        media,
        urgent: vec![],
        commands: vec![],
        volume_schedule: vec![],
        relays: vec![],
    });
}

/// `BENCH_CONTROLLER="PROGRAM ARGS…"` runs another controller build in place of this
/// crate's, e.g. the stripped binary unpacked from the `.deb` (`make package`).
fn other_controller() -> Option<Vec<String>> {
    let cmd = std::env::var("BENCH_CONTROLLER").ok()?;
    let words: Vec<String> = cmd.split_whitespace().map(String::from).collect();
    (!words.is_empty()).then_some(words)
}

fn spawn_controller(url: &str, dir: &Path, output: &str, env: &[(&str, String)]) -> Child {
    let token = dir.join("token");
    std::fs::write(&token, "t").unwrap();
    let mut c = match other_controller() {
        Some(words) => {
            let mut c = Command::new(&words[0]);
            c.args(&words[1..]);
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_loaxa-controller")),
    };
    c.args(["--server", url, "--station", "BENCH", "--output", output])
        .arg("--token-file")
        .arg(&token)
        .arg("--data")
        .arg(dir.join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().expect("the controller binary runs")
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn wait_logs(s: &S, n: usize, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while s.lock().unwrap().logs.len() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64, usize) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (q(0.5), q(0.99), *v.last().unwrap(), v.len())
}

fn row(name: &str, v: Vec<f64>) {
    if v.is_empty() {
        println!(
            "| {name:<58} | {:>8} | {:>8} | {:>8} | {:>3} |",
            "-", "-", "-", 0
        );
        return;
    }
    let (p50, p99, max, n) = stats(v);
    println!("| {name:<58} | {p50:>8.2} | {p99:>8.2} | {max:>8.2} | {n:>3} |");
    println!("BENCH|start error: {name}|p50 {p50:.2} / p99 {p99:.2} / max {max:.2} ms (n={n})|p99 <= 5 ms|-");
}

/// Mono channel 0 of a WAV file as f32.
fn read_wav(path: &Path) -> (Vec<f32>, u32) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let ch = spec.channels as usize;
    let mono = match spec.sample_format {
        hound::SampleFormat::Float => r
            .samples::<f32>()
            .filter_map(Result::ok)
            .collect::<Vec<_>>()
            .chunks(ch)
            .map(|f| f[0])
            .collect(),
        hound::SampleFormat::Int => {
            let scale = (1i64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .filter_map(Result::ok)
                .collect::<Vec<_>>()
                .chunks(ch)
                .map(|f| f[0] as f32 / scale)
                .collect()
        }
    };
    (mono, spec.sample_rate)
}

/// Onsets: first sample above `thr` after at least `gap_ms` of quiet.
fn onsets(x: &[f32], rate: u32, thr: f32, gap_ms: u32) -> Vec<usize> {
    let gap = (rate * gap_ms / 1000) as usize;
    let mut out = Vec::new();
    let mut quiet = gap;
    for (i, v) in x.iter().enumerate() {
        if v.abs() > thr {
            if quiet >= gap {
                out.push(i);
            }
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    out
}

const N: usize = 60;
const SPACING_MS: i64 = 500;

fn part1(rt: &tokio::runtime::Runtime) {
    let (s, url) = serve(rt);
    let m = add_media(&s, tone_wav(1000.0, 200), 200, "wav");
    let t0 = Utc::now() + CDuration::seconds(5);
    let times: Vec<_> = (0..N as i64)
        .map(|k| t0 + CDuration::milliseconds(k * SPACING_MS))
        .collect();
    let rules = times
        .iter()
        .enumerate()
        .map(|(k, t)| rule(format!("b{k}"), *t, &m))
        .collect();
    set_doc(&s, rules, vec![m]);
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("aired.wav");
    let mut c = spawn_controller(&url, dir.path(), &format!("wav:{}", wav.display()), &[]);
    wait_logs(&s, N, 60);
    stop(&mut c);
    let logs = s.lock().unwrap().logs.clone();
    let logged: Vec<f64> = times
        .iter()
        .enumerate()
        .filter_map(|(k, t)| {
            let l = logs
                .iter()
                .find(|l| l.id == occurrence_key(&format!("b{k}"), *t))?;
            Some(((l.started_at? - *t).num_microseconds()? as f64 / 1000.0).abs())
        })
        .collect();
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{}.json", wav.display())).unwrap())
            .unwrap();
    let start: DateTime<Utc> = side["start_utc"].as_str().unwrap().parse().unwrap();
    let (x, rate) = read_wav(&wav);
    let first_nonzero = onsets(&x, rate, 0.0, 100);
    let in_file: Vec<f64> = times
        .iter()
        .filter_map(|t| {
            let expect = (*t - start).num_microseconds()? as f64 / 1e6 * rate as f64;
            let got = first_nonzero
                .iter()
                .min_by_key(|&&o| (o as f64 - expect).abs() as i64)?;
            // The tone's sample 0 is exactly 0.0: its first non-zero sample is its second.
            Some(((*got as f64 - 1.0 - expect) / rate as f64 * 1000.0).abs())
        })
        .collect();
    row(
        "controller, wav output: abs(start − scheduled), its own log",
        logged,
    );
    row(
        "controller, wav output: abs(start − scheduled), in the WAV",
        in_file,
    );
}

/// Onset jitter: each onset is put on the nearest slot of the schedule's grid (every
/// `SPACING_MS`, from the first onset); the residuals minus their median (the path's constant
/// latency, unknown since the recording's start instant is not known) are the error, ms.
fn relative_errors(path: &Path, n: usize) -> Vec<f64> {
    let (x, rate) = read_wav(path);
    let on = onsets(&x, rate, 0.02, 150);
    if on.len() != n {
        eprintln!(
            "  {} onsets for {n} bulletins in {}",
            on.len(),
            path.display()
        );
    }
    let Some(&first) = on.first() else {
        return vec![];
    };
    let resid: Vec<f64> = on
        .iter()
        .map(|&o| {
            let rel = (o - first) as f64 / rate as f64 * 1000.0;
            rel - (rel / SPACING_MS as f64).round() * SPACING_MS as f64
        })
        .collect();
    let mut sorted = resid.clone();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = sorted[sorted.len() / 2];
    resid.iter().map(|r| (r - median).abs()).collect()
}

fn part2(rt: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let Ok(pulse) = Pulse::start(dir.path()) else {
        println!("| (sound card path skipped: pulseaudio could not start)                    |");
        return;
    };
    let n = 50;
    // Controller through rodio → ALSA → PulseAudio.
    {
        let (s, url) = serve(rt);
        let m = add_media(&s, tone_wav(1000.0, 200), 200, "wav");
        let t0 = Utc::now() + CDuration::seconds(5);
        let rules = (0..n as i64)
            .map(|k| {
                rule(
                    format!("p{k}"),
                    t0 + CDuration::milliseconds(k * SPACING_MS),
                    &m,
                )
            })
            .collect();
        set_doc(&s, rules, vec![m]);
        let rec = dir.path().join("controller.wav");
        let mut parec = pulse
            .cmd("parec")
            .args(["-d", "test.monitor", "--file-format=wav"])
            .arg(&rec)
            .spawn()
            .unwrap();
        let mut c = spawn_controller(&url, dir.path(), "default", &pulse.env());
        wait_logs(&s, n, 60);
        std::thread::sleep(Duration::from_millis(500));
        stop(&mut c);
        let _ = Command::new("kill")
            .args(["-INT", &parec.id().to_string()])
            .status();
        let _ = parec.wait();
        let logs = s.lock().unwrap().logs.clone();
        let mut by_status: HashMap<String, usize> = HashMap::new();
        for l in &logs {
            *by_status.entry(l.status.to_string()).or_default() += 1;
        }
        let own: Vec<f64> = logs
            .iter()
            .filter_map(|l| {
                Some(((l.started_at? - l.scheduled_at).num_microseconds()? as f64 / 1000.0).abs())
            })
            .collect();
        eprintln!("  controller → PulseAudio outcomes: {by_status:?}");
        if std::env::var("BENCH_VERBOSE").is_ok() {
            let mut v: Vec<_> = logs
                .iter()
                .map(|l| (l.scheduled_at, l.started_at, l.played_ms))
                .collect();
            v.sort();
            for (s, st, p) in v {
                eprintln!(
                    "    {s} -> {:?} played {p}",
                    st.map(|t| (t - s).num_milliseconds())
                );
            }
        }
        row(
            "controller → PulseAudio: abs(start − scheduled), its own log",
            own,
        );
        row(
            "controller → PulseAudio: onset jitter vs schedule (recording)",
            relative_errors(&rec, n),
        );
    }
    // Baseline: sleep until the instant, then `paplay`.
    {
        let tone = dir.path().join("tone.wav");
        std::fs::write(&tone, tone_wav(1000.0, 200)).unwrap();
        let rec = dir.path().join("baseline.wav");
        let mut parec = pulse
            .cmd("parec")
            .args(["-d", "test.monitor", "--file-format=wav"])
            .arg(&rec)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let t0 = Instant::now() + Duration::from_secs(1);
        let mut kids = Vec::new();
        for k in 0..n {
            let at = t0 + Duration::from_millis(k as u64 * SPACING_MS as u64);
            if let Some(d) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
            kids.push(pulse.cmd("paplay").arg(&tone).spawn().unwrap());
        }
        for mut k in kids {
            let _ = k.wait();
        }
        std::thread::sleep(Duration::from_millis(300));
        let _ = Command::new("kill")
            .args(["-INT", &parec.id().to_string()])
            .status();
        let _ = parec.wait();
        row(
            "sleep-until + paplay → PulseAudio: onset jitter (recording)",
            relative_errors(&rec, n),
        );
    }
}

fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// A `kB` line of /proc/PID/status: `VmRSS:` (resident now), `VmHWM:` (its peak).
fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn cpu_over(pid: u32, secs: u64) -> (f64, u64) {
    let a = proc_cpu_ticks(pid).unwrap_or(0);
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let b = proc_cpu_ticks(pid).unwrap_or(0);
    let pct = (b - a) as f64 / 100.0 / t.elapsed().as_secs_f64() * 100.0;
    (pct, proc_status_kib(pid, "VmRSS:").unwrap_or(0))
}

fn part3(rt: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("speech.wav");
    let mp3 = dir.path().join("speech.mp3");
    // 60 s of a 440 Hz tone with noise-like harmonics, as a 128 kb/s MP3.
    let samples: Vec<f32> = (0..48_000 * 60)
        .map(|i| {
            let t = i as f32 / 48_000.0;
            0.3 * (t * 440.0 * std::f32::consts::TAU).sin()
                + 0.1 * (t * 1330.0 * std::f32::consts::TAU).sin()
        })
        .collect();
    media::signal::write_wav(
        &wav,
        &media::Pcm {
            samples,
            sample_rate: 48_000,
            channels: 1,
        },
    )
    .unwrap();
    let ok = Command::new("lame")
        .args(["--quiet", "-b", "128"])
        .arg(&wav)
        .arg(&mp3)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("(footprint skipped: lame is not installed)");
        return;
    }
    let mp3 = std::fs::read(&mp3).unwrap();
    // A figure from another build says so.
    let of = other_controller().map_or(String::new(), |w| {
        println!("BENCH_CONTROLLER: {}", w.join(" "));
        " (BENCH_CONTROLLER)".to_string()
    });
    println!();
    println!(
        "| {:<44} | CPU % of one core | RSS MiB |",
        format!("controller process{of}")
    );
    println!("| {} | ----------------- | ------- |", "-".repeat(44));
    footprint(rt, &mp3, "null", &[], &of);
    // The real sound path too: rodio → ALSA → a private PulseAudio (ALSA's pulse plugin
    // runs inside the controller, so its cost is counted).
    match Pulse::start(dir.path()) {
        Ok(pulse) => footprint(rt, &mp3, "default", &pulse.env(), &of),
        Err(e) => println!("| (sound card path skipped: pulseaudio could not start: {e}) |"),
    }
}

/// RSS and CPU of one controller (`--output OUTPUT`), idle for `BENCH_IDLE_SECS` (10 s)
/// once synced, then over 10 s of a 60 s MP3 airing; printed as table rows and `BENCH|`
/// lines.
fn footprint(
    rt: &tokio::runtime::Runtime,
    mp3: &[u8],
    output: &str,
    env: &[(&str, String)],
    of: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let (s, url) = serve(rt);
    let m = add_media(&s, mp3.to_vec(), 60_000, "mp3");
    let idle_secs: u64 = std::env::var("BENCH_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let at = Utc::now() + CDuration::seconds(3 + idle_secs as i64 + 12);
    set_doc(&s, vec![rule("mp3".into(), at, &m)], vec![m]);
    let mut c = spawn_controller(&url, dir.path(), output, env);
    let pid = c.id();
    std::thread::sleep(Duration::from_secs(3));
    let (idle_cpu, idle_rss) = cpu_over(pid, idle_secs);
    let wait = (at - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(1);
    std::thread::sleep(wait);
    let (play_cpu, play_rss) = cpu_over(pid, 10);
    let peak_rss = proc_status_kib(pid, "VmHWM:").unwrap_or(0);
    stop(&mut c);
    // The outcome, from the controller's own journal (the stop cut the airing).
    let conn = rusqlite::Connection::open(dir.path().join("data/controller.sqlite")).unwrap();
    let outcome: Option<(String, i64)> = conn
        .query_row("SELECT status, progress_ms FROM plays", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .ok();
    eprintln!("  MP3 airing, --output {output} (status, ms aired before the stop): {outcome:?}");
    let mib = |kib: u64| kib as f64 / 1024.0;
    let row = |what: &str, cpu: f64, rss: u64| {
        let what = format!("{what}, --output {output}");
        println!("| {what:<44} | {cpu:>17.2} | {:>7.1} |", mib(rss));
    };
    row("idle (synced, nothing due)", idle_cpu, idle_rss);
    row("playing a 128 kb/s MP3", play_cpu, play_rss);
    println!(
        "  peak RSS since start, --output {output}: {:.1} MiB",
        mib(peak_rss)
    );
    println!(
        "BENCH|controller idle, --output {output}{of}|{idle_cpu:.2} % CPU, {:.1} MiB RSS|<= 3 %, <= 25 MiB|-",
        mib(idle_rss)
    );
    println!(
        "BENCH|controller playing MP3, --output {output}{of}|{play_cpu:.2} % CPU, {:.1} MiB RSS (peak {:.1})|<= 3 %, <= 25 MiB|-",
        mib(play_rss),
        mib(peak_rss)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!("Start-time error, milliseconds ({N} bulletins of 200 ms every {SPACING_MS} ms)");
    println!();
    println!(
        "| {:<58} | {:>8} | {:>8} | {:>8} | {:>3} |",
        "measure", "p50", "p99", "max", "n"
    );
    println!(
        "| {} | {} | {} | {} | {} |",
        "-".repeat(58),
        "-".repeat(8),
        "-".repeat(8),
        "-".repeat(8),
        "-".repeat(3)
    );
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only.contains('1') {
        part1(&rt);
    }
    if only.is_empty() || only.contains('2') {
        part2(&rt);
    }
    if only.is_empty() || only.contains('3') {
        part3(&rt);
    }
}
