//! Benchmark: N real controllers (sync client, planner and player, `null` output) connected
//! to one server; an urgent notice is posted; how long from the POST returning until each
//! station reports `playing` (the `playing_at` the controllers acknowledge, read from the
//! server; controllers and server share one machine clock), and the server's memory per
//! event-stream connection. Also printed: how long until each station had the notice in
//! hand (the `received_at` it acknowledges: the event read and parsed), which separates the
//! delivery from each station's own path to its loudspeaker.
//!
//! The server runs in this process; the controllers run in child processes (this binary
//! again, with `--controllers`) so that the server's RSS is measured alone.
//!
//! `cargo bench -p tests --bench urgent_push` — counts from `URGENT_BENCH_N` (default
//! `100,1000`), bounded to about two minutes overall.
//!
//! The controllers' data directories are on tmpfs (`/dev/shm`) unless `URGENT_BENCH_DATA`
//! names another directory. Every station has a disk of its own; a thousand stations on
//! one volume would measure that volume instead (on this machine's ext4, creating a
//! thousand files at once scans recently freed inodes for each). The figure names the
//! place.

use chrono::{DateTime, Utc};
use schedules::{Clock, SystemClock};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use web::db::users::Role;

const BUDGET: Duration = Duration::from_secs(120);

/// Controllers to one process at most: each holds about six open files, and a process may
/// not open more than the machine's limit (20,000 here, a hard limit this container does not
/// let even root raise).
const PER_PROCESS: usize = 2_500;

fn rss_kib_of(pid: u32) -> u64 {
    tests::status_kib(pid, "VmRSS:")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if args.get(1).map(String::as_str) == Some("--controllers") {
        // The controllers share one runtime of 4 threads (a Raspberry Pi's cores; or
        // `URGENT_BENCH_WORKERS`). Their disks are on tmpfs, so a player's synchronous
        // journal write does not hold a thread. More threads only made the kernel juggle
        // them: with 32, p99 was 0.52–0.71 s where 4 gave 0.32–0.51 s (honest stamps).
        let workers = std::env::var("URGENT_BENCH_WORKERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .expect("runtime");
        // `URGENT_BENCH_TRACE=controller=debug` shows each controller's steps on stderr.
        if let Ok(filter) = std::env::var("URGENT_BENCH_TRACE") {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .init();
        }
        rt.block_on(controllers(&args[2], &args[3]));
        return;
    }
    // `URGENT_BENCH_TRACE_SERVER=tower_http=debug` shows the server's requests on stderr.
    if let Ok(filter) = std::env::var("URGENT_BENCH_TRACE_SERVER") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    let counts: Vec<usize> = std::env::var("URGENT_BENCH_N")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let nofile = tests::raise_nofile();
    let started = Instant::now();
    for n in counts {
        // The server holds about three files per station (its event stream, requests).
        if (n as u64) * 7 / 2 + 200 > nofile {
            println!("urgent_push: {n} controllers skipped: the open-file limit is {nofile}");
            continue;
        }
        let left = BUDGET.saturating_sub(started.elapsed());
        if left < Duration::from_secs(20) {
            println!("urgent_push: {n} controllers skipped: the {BUDGET:?} budget is spent");
            continue;
        }
        match rt.block_on(run(n, left)) {
            Ok(()) => {}
            Err(e) => println!("urgent_push: {n} controllers: {e}"),
        }
    }
}

/// The child: run one controller per line of `tokens` (`CODE TOKEN`), null output, until
/// stdin closes. Prints `ready` once all have started.
async fn controllers(base: &str, tokens: &str) {
    let dir = tempfile::tempdir_in(data_place()).expect("temp dir");
    let mut stops = Vec::new();
    let mut tasks = Vec::new();
    for line in std::fs::read_to_string(tokens).expect("tokens").lines() {
        let Some((code, token)) = line.split_once(' ') else {
            continue;
        };
        let config = controller::Config {
            server: base.to_string(),
            station: code.parse().expect("station code"),
            token: token.to_string(),
            data_dir: dir.path().join(code),
            output: controller::OutputSpec::Null,
            wait_for_device: false,
            sound_period_ms: controller::output::DEFAULT_PERIOD_MS,
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        stops.push(tx);
        tasks.push(tokio::spawn(controller::run(
            config,
            Arc::new(SystemClock),
            async move {
                let _ = rx.await;
            },
        )));
    }
    println!("ready");
    std::io::stdout().flush().ok();
    // Wait for the parent to close stdin.
    let _ = tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        while std::io::stdin()
            .lock()
            .read_line(&mut s)
            .map(|n| n > 0)
            .unwrap_or(false)
        {}
    })
    .await;
    for s in stops {
        let _ = s.send(());
    }
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
}

/// The notice's length: a second of 16 kHz mono WAV (32 KB), or `URGENT_BENCH_AUDIO_MS`.
fn audio_ms() -> u32 {
    std::env::var("URGENT_BENCH_AUDIO_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// Where the controllers keep their data.
fn data_place() -> String {
    std::env::var("URGENT_BENCH_DATA").unwrap_or_else(|_| {
        if std::path::Path::new("/dev/shm").is_dir() {
            "/dev/shm".into()
        } else {
            std::env::temp_dir().display().to_string()
        }
    })
}

/// Field `n` (numbered as in proc(5)) of `/proc/{pid}/stat`, as a number.
fn stat_field(pid: u32, n: usize) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at its closing ')',
    // with field 3.
    let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
    after
        .split_whitespace()
        .nth(n - 3)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// CPU time (user + system) process `pid` has used so far, in milliseconds.
fn cpu_ms(pid: u32) -> f64 {
    // utime and stime, in clock ticks of USER_HZ: 100 a second on Linux whatever the
    // kernel's own rate.
    (stat_field(pid, 14) + stat_field(pid, 15)) * 10.0
}

/// Minor page faults of process `pid` so far (a page of memory touched the first time).
fn minor_faults(pid: u32) -> f64 {
    stat_field(pid, 10)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(n: usize, budget: Duration) -> Result<(), String> {
    let t_start = Instant::now();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let clock = Arc::new(SystemClock);
    let mut state =
        web::state::AppState::open(dir.path(), clock.clone()).map_err(|e| e.to_string())?;
    // `URGENT_BENCH_INLINE_KIB=0`: the notice's audio does not ride with the push, and
    // every station fetches it (the path of a long notice).
    if let Some(kib) = std::env::var("URGENT_BENCH_INLINE_KIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        state.config = Arc::new(web::state::Config {
            urgent_inline_max_bytes: kib * 1024,
            ..(*state.config).clone()
        });
    }
    // `URGENT_BENCH_MP3_KBPS=0`: the file goes out as uploaded (16 kHz WAV), not as the
    // server's MP3 copy (`urgent_mp3_kbps`, 48 kb/s by default).
    if let Some(kbps) = std::env::var("URGENT_BENCH_MP3_KBPS")
        .ok()
        .and_then(|v| v.parse::<u16>().ok())
    {
        state.config = Arc::new(web::state::Config {
            urgent_mp3_kbps: kbps,
            ..(*state.config).clone()
        });
    }
    let now = clock.now();
    let e = |e: web::error::AppError| e.message;
    web::admin::add_area(&state.db, "bench", "TT", "Huyện", None, now).map_err(e)?;
    // The controllers, PER_PROCESS at most to a process (each has its open-file limit).
    let mut lines = vec![String::new(); n.div_ceil(PER_PROCESS)];
    for i in 0..n {
        let code = format!("B-{i:05}");
        let t = web::admin::add_station(&state.db, "bench", &code, &code, "TT", None, now)
            .map_err(e)?;
        lines[i / PER_PROCESS].push_str(&format!("{code} {t}\n"));
    }
    web::admin::add_user(
        &state.db,
        "bench",
        "tt",
        "a long password",
        Role::Admin,
        "TT",
        now,
    )
    .map_err(e)?;
    let mut token_files = Vec::new();
    for (k, l) in lines.iter().enumerate() {
        let f = dir.path().join(format!("tokens-{k}.txt"));
        std::fs::write(&f, l).map_err(|e| e.to_string())?;
        token_files.push(f);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let hub = state.hub.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::startup::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let token = client
        .post(format!("{base}/api/v1/auth/token"))
        .json(&json!({"username": "tt", "password": "a long password"}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json::<Value>()
        .await
        .map_err(|e| e.to_string())?["token"]
        .as_str()
        .ok_or("no token")?
        .to_string();
    let pcm = media::Pcm {
        samples: media::signal::tone(1000.0, audio_ms(), 16_000, 0.5),
        sample_rate: 16_000,
        channels: 1,
    };
    let part = reqwest::multipart::Part::bytes(media::signal::wav_bytes(&pcm)).file_name("a.wav");
    let media_id = client
        .post(format!("{base}/api/v1/media"))
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json::<Value>()
        .await
        .map_err(|e| e.to_string())?["id"]
        .as_str()
        .ok_or("no media id")?
        .to_string();

    let rss_before = rss_kib_of(std::process::id());
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut children = Vec::new();
    for tokens in &token_files {
        let child = Command::new(&exe)
            .arg("--controllers")
            .arg(&base)
            .arg(tokens)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("URGENT_BENCH_TRACE").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .map_err(|e| e.to_string())?;
        children.push(child);
    }
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    let sum = |f: &dyn Fn(u32) -> f64| pids.iter().map(|p| f(*p)).sum::<f64>();
    let deadline = t_start + budget;
    // Wait until every station holds an event stream.
    let connected = loop {
        let c = (0..n)
            .filter(|i| hub.is_connected(&format!("B-{i:05}")))
            .count();
        if c >= n || Instant::now() > deadline - Duration::from_secs(10) {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Let the controllers settle (documents fetched, heartbeats sent).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss_kib_of(std::process::id());
    let controllers_rss = sum(&|p| rss_kib_of(p) as f64) as u64;
    let open_files = |pid: u32| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let fds_server = open_files(std::process::id());
    let fds_controllers = sum(&|p| open_files(p) as f64) as usize;
    let cpu_before = (sum(&|p| cpu_ms(p)), cpu_ms(std::process::id()));
    let faults_before = sum(&|p| minor_faults(p));
    let posted_res = client
        .post(format!("{base}/api/v1/urgent"))
        .bearer_auth(&token)
        .json(&json!({"title": "Bão", "media_id": media_id, "stations": ["*"]}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let posted: DateTime<Utc> = SystemClock.now();
    if std::env::var_os("URGENT_BENCH_TRACE").is_some() {
        eprintln!("{} POST /urgent returned", posted.format("%H:%M:%S%.6f"));
    }
    let id = posted_res
        .json::<Value>()
        .await
        .map_err(|e| e.to_string())?["id"]
        .as_str()
        .ok_or("no notice id")?
        .to_string();
    // Wait for the acknowledgements.
    let (mut latencies, mut received, cpu_after, faults) = loop {
        let u: Value = get_json(&client, &format!("{base}/api/v1/urgent/{id}"), &token).await?;
        let st = u["stations"].as_array().cloned().unwrap_or_default();
        let since_post = |field: &str| -> Vec<f64> {
            st.iter()
                .filter_map(|s| s[field].as_str()?.parse::<DateTime<Utc>>().ok())
                .map(|t| (t - posted).num_microseconds().unwrap_or(0) as f64 / 1000.0)
                .collect()
        };
        let lat = since_post("playing_at");
        let done = st
            .iter()
            .filter(|s| s["state"] == "played" || s["playing_at"].is_string())
            .count();
        if done >= connected || Instant::now() > deadline {
            let rec = since_post("received_at");
            let cpu = (sum(&|p| cpu_ms(p)), cpu_ms(std::process::id()));
            break (lat, rec, cpu, sum(&|p| minor_faults(p)) - faults_before);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // What aired: each station's log of the notice, once uploaded. Its `played_ms` past
    // the notice's length is silence the mixer put in because a decoder fell behind.
    let silences = silences(&client, &base, &token, latencies.len(), deadline).await?;
    for c in &mut children {
        drop(c.stdin.take());
    }
    for c in &mut children {
        let _ = c.wait();
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;

    latencies.sort_by(f64::total_cmp);
    received.sort_by(f64::total_cmp);
    let (r50, r99) = (percentile(&received, 50.0), percentile(&received, 99.0));
    let (p50, p99, max) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN),
    );
    // (`played_ms` is whole milliseconds of frames: a millisecond or two is rounding.)
    let behind: Vec<f64> = silences.iter().copied().filter(|&s| s > 2.0).collect();
    let silence_max = silences.iter().copied().fold(0.0, f64::max);
    let per_conn = (rss_after.saturating_sub(rss_before)) as f64 / connected.max(1) as f64;
    // CPU spent from the POST until the last station reported, per station: the
    // controllers' process, and the server's (this process: also the polling of GET
    // /urgent/{id}, four times a second).
    let per_station = |a: f64, b: f64| (b - a) / connected.max(1) as f64;
    let cpu_controllers = per_station(cpu_before.0, cpu_after.0);
    let cpu_server = per_station(cpu_before.1, cpu_after.1);
    let faults = per_station(0.0, faults);
    println!(
        "urgent_push: {n} controllers (data in {}), {connected} connected, {} reported playing; \
         POST→playing p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms (→ received p50 \
         {r50:.1} ms, p99 {r99:.1} ms); server RSS \
         {rss_before} → {rss_after} KiB ({per_conn:.1} KiB per connection); CPU per station \
         until the last reported: controllers {cpu_controllers:.2} ms, server {cpu_server:.2} ms; \
         controllers' page faults per station {faults:.0}; \
         controllers' process RSS {} MiB; open files: server {fds_server}, controllers \
         {fds_controllers}; logs of {} airings: {} with silence inserted (a decoder fell \
         behind), {silence_max:.0} ms at most",
        data_place(),
        latencies.len(),
        controllers_rss / 1024,
        silences.len(),
        behind.len()
    );
    println!(
        "BENCH|urgent_push_controller_data_n{n}|in {}|-|-",
        data_place()
    );
    println!("BENCH|urgent_push_p50_ms_n{n}|{p50:.1} ms|-|-");
    println!("BENCH|urgent_push_p99_ms_n{n}|{p99:.1} ms|<= 200 ms|-");
    println!("BENCH|urgent_push_max_ms_n{n}|{max:.1} ms|-|-");
    println!("BENCH|urgent_push_received_p50_ms_n{n}|{r50:.1} ms|-|-");
    println!("BENCH|urgent_push_received_p99_ms_n{n}|{r99:.1} ms|-|-");
    println!(
        "BENCH|urgent_push_reached_n{n}|{}/{n} stations|{n}/{n}|-",
        latencies.len()
    );
    println!(
        "BENCH|urgent_push_airings_with_silence_n{n}|{}/{} airings|0|-",
        behind.len(),
        silences.len()
    );
    println!("BENCH|urgent_push_silence_max_ms_n{n}|{silence_max:.0} ms|0 ms|-");
    println!("BENCH|urgent_server_kib_per_conn_n{n}|{per_conn:.1} KiB|-|-");
    println!("BENCH|urgent_controller_cpu_ms_per_station_n{n}|{cpu_controllers:.2} ms|-|-");
    println!("BENCH|urgent_server_cpu_ms_per_station_n{n}|{cpu_server:.2} ms|-|-");
    println!("BENCH|urgent_controller_faults_per_station_n{n}|{faults:.0}|-|-");
    Ok(())
}

/// The silence in each station's airing of the notice: its logged `played_ms` past the
/// notice's length, in ms. Waits (until `deadline`) for `n` logs of it to be uploaded.
async fn silences(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    n: usize,
    deadline: Instant,
) -> Result<Vec<f64>, String> {
    const PAGE: usize = 1000;
    loop {
        let mut rows: Vec<Value> = Vec::new();
        loop {
            let url = format!(
                "{base}/api/v1/logs?status=played&limit={PAGE}&offset={}",
                rows.len()
            );
            let page: Vec<Value> = get_json(client, &url, token).await?;
            let k = page.len();
            rows.extend(page);
            if k < PAGE {
                break;
            }
        }
        if rows.len() >= n || Instant::now() > deadline {
            let length = f64::from(audio_ms());
            return Ok(rows
                .iter()
                .filter_map(|r| r["played_ms"].as_f64())
                .map(|p| (p - length).max(0.0))
                .collect());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `GET url` as the user with `token`, its JSON answer.
async fn get_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> Result<T, String> {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())
}
