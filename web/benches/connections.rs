//! 10,000 idle TCP connections held open against a real `loaxa-web` (a separate process:
//! both ends of 10,000 connections in one process would need 20,000 descriptors), and
//! while they are held, how fast the server answers `GET /healthz` and an authenticated
//! `GET /api/v1/stations` on fresh connections (p50 / p99 / max of 300 each; target: p99
//! within 100 ms). Then connections past the server's cap: each answered 503 at once.
//!
//! The server runs with `--max-connections 10500` and header / idle timeouts of 10 minutes,
//! so that the idle connections stay for the whole run. Run: `cargo bench -p web --bench
//! connections` (`LOAXA_WEB_BIN` names the server binary; default target/release).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HELD: usize = 10_000;
const CAP: usize = 10_500;
const EXTRA: usize = 600;
const SAMPLES: usize = 300;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn server_bin() -> std::path::PathBuf {
    std::env::var_os("LOAXA_WEB_BIN").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/loaxa-web"),
        Into::into,
    )
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// One request on a fresh connection; answers the milliseconds to the whole answer.
async fn timed(client: &reqwest::Client, url: &str, token: Option<&str>) -> f64 {
    let started = Instant::now();
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("an answer");
    assert!(res.status().is_success(), "{url}: {}", res.status());
    res.bytes().await.expect("a body");
    started.elapsed().as_secs_f64() * 1000.0
}

async fn figures(
    name: &str,
    held: usize,
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) {
    let mut ms = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        ms.push(timed(client, url, token).await);
    }
    ms.sort_by(f64::total_cmp);
    let (p50, p99, max) = (
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms[ms.len() - 1],
    );
    println!("{name}: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms over {SAMPLES}");
    println!("BENCH|{name} with {held} idle connections held, p50|{p50:.2} ms|-|-");
    println!("BENCH|{name} with {held} idle connections held, p99|{p99:.2} ms|<= 100 ms|-");
}

#[tokio::main]
async fn main() {
    let nofile = web::conn::raise_nofile_limit().unwrap_or(0);
    println!("open-file limit of the bench: {nofile}");
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("data");
    let bin = server_bin();
    let web = |args: &[&str], stdin: &str| {
        let mut c = Command::new(&bin)
            .arg("--data")
            .arg(&data)
            .args(args)
            .env_remove("LOAXA_DATA")
            .env_remove("LOAXA_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        use std::io::Write;
        c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        assert!(c.wait().unwrap().success(), "{args:?}");
    };
    web(&["area", "add", "TT", "--name", "Huyện Thạch Thất"], "");
    for s in ["LQ", "BP", "HL"] {
        web(&["station", "add", s, "--name", s, "--area", "TT"], "");
    }
    web(
        &["user", "add", "admin", "--role", "admin", "--area", "TT"],
        "a long password\n",
    );
    let mut server = Command::new(&bin)
        .arg("--data")
        .arg(&data)
        .args(["--max-connections", &CAP.to_string()])
        .args([
            "--header-timeout-seconds",
            "600",
            "--idle-timeout-seconds",
            "600",
        ])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("LOAXA_DATA")
        .env_remove("LOAXA_LISTEN")
        .env_remove("LOAXA_CONFIG")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("loaxa-web starts");
    let pid = server.id();
    let line = BufReader::new(server.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("listening on"))
        .expect("the server says where it listens");
    let base = line.split_whitespace().last().unwrap().to_string();
    let addr = base.trim_start_matches("http://").to_string();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let token: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/token"))
        .json(&serde_json::json!({"username": "admin", "password": "a long password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let healthz = format!("{base}/healthz");
    let stations = format!("{base}/api/v1/stations");
    figures("GET /healthz", 0, &client, &healthz, None).await;

    let fds_before = open_fds(pid);
    let started = Instant::now();
    let mut held = Vec::with_capacity(HELD);
    // In batches the listen queue takes whole, each accepted before the next (so that no
    // connection is left half-open on a SYN cookie).
    while held.len() < HELD {
        let batch = (HELD - held.len()).min(1000);
        let opened =
            futures_util::future::join_all((0..batch).map(|_| TcpStream::connect(&addr))).await;
        for c in opened {
            held.push(c.expect("connect"));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        // (A few descriptors of the server's own come and go: allow for 8.)
        while open_fds(pid) + 8 < fds_before + held.len() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let open_s = started.elapsed().as_secs_f64();
    // The server accepts asynchronously: wait until it holds them all (bounded).
    let deadline = Instant::now() + Duration::from_secs(30);
    while open_fds(pid) < fds_before + HELD && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fds = open_fds(pid);
    println!(
        "{HELD} connections opened in {open_s:.2} s; the server holds {fds} descriptors ({fds_before} before)"
    );
    println!(
        "BENCH|idle connections held open against loaxa-web (its descriptors: +{})|{}|10000|-",
        fds - fds_before,
        held.len()
    );
    figures("GET /healthz", held.len(), &client, &healthz, None).await;
    let name = "GET /api/v1/stations (bearer token)";
    figures(name, held.len(), &client, &stations, Some(&token)).await;
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().to_string()))
        .unwrap_or_default();
    println!("server memory with the connections held: {rss}");

    // Past the cap (10,500 less the ones above): each extra connection gets a 503 at once.
    let started = Instant::now();
    let tries = futures_util::future::join_all((0..EXTRA).map(|_| async {
        let mut s = TcpStream::connect(&addr).await.expect("connect");
        let mut buf = vec![0u8; 512];
        match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
            Ok(Ok(n)) if buf[..n].starts_with(b"HTTP/1.1 503") => None,
            _ => Some(s),
        }
    }))
    .await;
    let refused = tries.iter().filter(|t| t.is_none()).count();
    let extra: Vec<TcpStream> = tries.into_iter().flatten().collect();
    println!(
        "{EXTRA} more connections: {} held (up to the cap of {CAP}), {refused} answered 503 ({:.2} s)",
        extra.len(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "BENCH|connections past the cap answered 503|{refused} of {EXTRA}|{}|-",
        HELD + EXTRA - CAP
    );
    // Still answering, at the cap, for a connection freed.
    drop(extra);
    drop(held.pop());
    let mut s = None;
    for _ in 0..100 {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        let _ = c.read_to_end(&mut buf).await;
        if buf.starts_with(b"HTTP/1.1 200") {
            s = Some(());
            break;
        }
    }
    assert!(
        s.is_some(),
        "the server answers again once a connection is freed"
    );
    drop(held);
    let _ = server.kill();
    let _ = server.wait();
}
