//! Several nodes on one PostgreSQL (`make bench`, #26): two release `loaxa-web` processes,
//! A and B, share a PostgreSQL database; 10,000 stations (`LOAXA_BENCH_STATIONS`) hold
//! their event streams, half on each, as bare clients in this process that reconnect and
//! fail over the way a controller does (`tests::bench::Fleet`). Measured:
//!
//! 1. an urgent notice (with its second of audio) POSTed on A to every station: from
//!    sending the POST until each stream has the whole event; B's stations get it through
//!    the push relay (LISTEN/NOTIFY);
//! 2. schedule documents per second, changed (200) and unchanged (304), the request mix of
//!    `sync_load` (64 stations asking as fast as answered), against A and against a third
//!    node on SQLite seeded alike, alternately in the same run, before any stream is open;
//! 3. failover: A is SIGKILLed with its streams open; its stations move to B; the share of
//!    all stations holding a stream on a live node 10 s later, and when the last was back.
//!
//! PostgreSQL: the cluster of `LOAXA_BENCH_POSTGRES` if set, else a private one started for
//! this run with PostgreSQL's default (durable) settings; the settings are printed.
//! Bounded: about two minutes (`LOAXA_BENCH_DOC_SECS`, 5, sets each document window).

use anyhow::{anyhow, bail, Result};
use std::path::Path;
use std::time::{Duration, Instant};
use tests::bench::{self, Fleet, Node};

/// A and B's indexes in the fleet's node list.
const A: usize = 0;
const B: usize = 1;

fn main() {
    tests::bench::main_of("nodes", bench);
}

async fn bench() -> Result<()> {
    let started = Instant::now();
    let (n, nofile) = bench::stations_wanted();
    if n < 2 {
        bail!("{n} stations: the open-file limit is {nofile}");
    }
    let doc_secs: u64 = std::env::var("LOAXA_BENCH_DOC_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir()?;

    // The store: a fresh database on a durable cluster (a private one unless
    // LOAXA_BENCH_POSTGRES names one).
    let url = std::panic::catch_unwind(web::testing::postgres_database_durable)
        .map_err(|p| anyhow!("no PostgreSQL: {}", panic_text(&p)))?;
    let t = Instant::now();
    let tokens = bench::seed(&dir.path().join("seed"), Some(&url), n)?;
    let seed_pg = t.elapsed().as_secs_f64();
    let settings = postgres_settings(&url, dir.path())?;
    let t = Instant::now();
    let sqlite_tokens = bench::seed(&dir.path().join("s"), None, n)?;
    let seed_sqlite = t.elapsed().as_secs_f64();
    println!("PostgreSQL: {settings}");
    println!("Seeded {n} stations in one transaction: PostgreSQL {seed_pg:.1} s, SQLite {seed_sqlite:.1} s");
    println!("BENCH|nodes: the PostgreSQL cluster|{settings}|-|-");
    println!("BENCH|nodes: seeding {n} stations in one transaction, PostgreSQL / SQLite|{seed_pg:.1} s / {seed_sqlite:.1} s|-|-");

    let mut a = Node::start(&dir.path().join("a"), Some(&url)).await?;
    let b = Node::start(&dir.path().join("b"), Some(&url)).await?;

    // 2. Schedule documents, alternately on SQLite and PostgreSQL, nothing else running
    // but the nodes' own background work.
    {
        let s = Node::start(&dir.path().join("s"), None).await?;
        let sample = |t: &[String]| t.iter().take(64).cloned().collect::<Vec<_>>();
        let (on_s, on_a) = (sample(&sqlite_tokens), sample(&tokens));
        for conditional in [false, true] {
            let (status, what) = if conditional {
                ("304", "unchanged")
            } else {
                ("200", "changed")
            };
            let (rps_s, err_s) = bench::doc_rps(&s.addr, &on_s, conditional, doc_secs).await?;
            let (rps_p, err_p) = bench::doc_rps(&a.addr, &on_a, conditional, doc_secs).await?;
            println!(
                "Schedule document, {what} ({status}), 64 clients, {doc_secs} s each: SQLite \
                 {rps_s:.0} req/s ({err_s} errors), PostgreSQL {rps_p:.0} req/s ({err_p} errors)"
            );
            println!(
                "BENCH|nodes: schedule document, {status}, PostgreSQL / SQLite|{rps_p:.0} / \
                 {rps_s:.0} req/s (64 clients; {} %)|-|-",
                (100.0 * rps_p / rps_s.max(1.0)).round()
            );
        }
    }

    // 1. Streams over both nodes, an urgent notice posted on A.
    let token = bench::login(&a.addr).await?;
    // The notice's audio, a second of WAV: 96 KB at 48 kHz (as in `sync_load`), or
    // `LOAXA_BENCH_AUDIO_HZ=16000` for text-to-speech's 32 KB. Its event carries the
    // server's 48 kb/s copy (6 KB), or the WAV itself with `LOAXA_URGENT_MP3_KBPS=0` in the
    // environment, which the nodes inherit.
    let rate: u32 = std::env::var("LOAXA_BENCH_AUDIO_HZ")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48_000);
    let sha = bench::upload_tone(&a.addr, &token, rate).await?;
    let fleet = Fleet::new(vec![a.addr.clone(), b.addr.clone()], n);
    let half = n / 2;
    let first = |i: usize| if i < half { A } else { B };
    let t = Instant::now();
    let held = fleet
        .connect_all(&tokens, first, Duration::from_secs(60))
        .await;
    let conn_secs = t.elapsed().as_secs_f64();
    let on = fleet.on();
    let (on_a, on_b) = (count(&on, A), count(&on, B));
    println!("Streams: {held} of {n} held in {conn_secs:.1} s ({on_a} on A, {on_b} on B; fd limit {nofile})");
    if held < n {
        println!("BENCH|nodes: event streams held over two nodes|{held} of {n}|{n}|-");
    }
    // Let the nodes settle (presence written, first keep-alives).
    tokio::time::sleep(Duration::from_secs(2)).await;

    let t_post = Instant::now();
    let r = reqwest::Client::new()
        .post(format!("http://{}/api/v1/urgent", a.addr))
        .bearer_auth(&token)
        .timeout(Duration::from_secs(30))
        .json(&serde_json::json!({"title": "Cảnh báo bão", "media_id": sha, "stations": ["*"]}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("POST /urgent on A: {} {}", r.status(), r.text().await?);
    }
    let post_ms = t_post.elapsed().as_secs_f64() * 1000.0;
    let notice: serde_json::Value = r.json().await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while fleet.urgent_count() < held && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = fleet.urgent_after(t_post);
    let ms = |which: Option<usize>| {
        let mut v: Vec<f64> = after
            .iter()
            .zip(&on)
            .filter(|(_, node)| node.is_some() && (which.is_none() || **node == which))
            .filter_map(|(d, _)| Some(d.as_ref()?.as_secs_f64() * 1000.0))
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let (all, via_a, via_b) = (ms(None), ms(Some(A)), ms(Some(B)));
    let id = notice["id"].as_str().unwrap_or_default();
    let sent = bench::sent_audio_text(bench::sent_audio(&a.addr, &token, id, &sha).await?);
    let (p50, p99, max) = (
        bench::percentile(&all, 50.0),
        bench::percentile(&all, 99.0),
        all.last().copied().unwrap_or(f64::NAN),
    );
    let got = all.len();
    let line = |v: &[f64]| {
        format!(
            "p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} streams)",
            bench::percentile(v, 50.0),
            bench::percentile(v, 99.0),
            v.last().copied().unwrap_or(f64::NAN),
            v.len()
        )
    };
    println!(
        "Urgent notice (a second of {rate} Hz WAV uploaded; in the event: {sent}) POSTed \
         on A (answered in {post_ms:.0} ms): {got} of {held} streams had it whole; on A's streams {}; on B's, \
         through the relay, {}",
        line(&via_a),
        line(&via_b)
    );
    println!("BENCH|nodes: urgent notice POSTed on A → event on each of {held} streams over two nodes, p50|{p50:.0} ms|-|-");
    println!("BENCH|nodes: urgent notice POSTed on A → event on each of {held} streams over two nodes, p99|{p99:.0} ms (max {max:.0} ms; audio {sent}; POST {post_ms:.0} ms)|<= 1000 ms|-");
    println!(
        "BENCH|nodes: urgent notice, streams that had it|{got}/{held} (A {}/{on_a}, B via the relay {}/{on_b}; p99 A {:.0} ms, B {:.0} ms)|all|-",
        via_a.len(),
        via_b.len(),
        bench::percentile(&via_a, 99.0),
        bench::percentile(&via_b, 99.0)
    );

    // 3. Failover: A dies with its streams open.
    let before = fleet.on();
    let were_on_a: Vec<usize> = (0..n).filter(|&i| before[i] == Some(A)).collect();
    let t_kill = Instant::now();
    a.kill9();
    let on_live = |fleet: &Fleet| count(&fleet.on(), B);
    let at_10s = t_kill + Duration::from_secs(10);
    while Instant::now() < at_10s && on_live(&fleet) < n {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(at_10s.saturating_duration_since(Instant::now())).await;
    let live_10s = on_live(&fleet);
    let deadline = t_kill + Duration::from_secs(30);
    while Instant::now() < deadline && on_live(&fleet) < n {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let live_end = on_live(&fleet);
    let waited = t_kill.elapsed().as_secs_f64();
    let mut back: Vec<f64> = were_on_a
        .iter()
        .filter(|&&i| fleet.on()[i] == Some(B))
        .filter_map(|&i| Some(fleet.held_since(i, t_kill)?.as_secs_f64() * 1000.0))
        .collect();
    back.sort_by(f64::total_cmp);
    let last = back.last().copied().unwrap_or(f64::NAN);
    let share = 100.0 * live_10s as f64 / n as f64;
    println!(
        "Failover: A SIGKILLed with {} streams; 10 s later {live_10s} of {n} stations held a \
         stream on B ({share:.1} %); {live_end} after {waited:.1} s; A's stations back on B: \
         {} of {}, p50 {:.0} ms, p99 {:.0} ms, last {last:.0} ms after the kill",
        were_on_a.len(),
        back.len(),
        were_on_a.len(),
        bench::percentile(&back, 50.0),
        bench::percentile(&back, 99.0),
    );
    println!("BENCH|nodes: failover, stations on a live node 10 s after A's SIGKILL|{live_10s}/{n} ({share:.1} %)|all|-");
    let last_figure = if back.len() == were_on_a.len() {
        format!(
            "{last:.0} ms (p50 {:.0} ms, {} stations moved)",
            bench::percentile(&back, 50.0),
            back.len()
        )
    } else {
        format!(
            "{} of {} not back within {waited:.0} s",
            were_on_a.len() - back.len(),
            were_on_a.len()
        )
    };
    println!("BENCH|nodes: failover, last of A's stations back on B after the SIGKILL|{last_figure}|<= 10 s|-");
    fleet.stop();
    drop(b);
    println!("nodes: done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Stations holding a stream on `node`.
fn count(on: &[Option<usize>], node: usize) -> usize {
    on.iter().filter(|o| **o == Some(node)).count()
}

/// The settings that decide what a commit costs, for the output.
fn postgres_settings(url: &str, tmp: &Path) -> Result<String> {
    let at = web::db::Location::parse(Some(url), tmp).map_err(|e| anyhow!(e))?;
    let db = web::db::Db::open_at(&at)?;
    let v = db.call_blocking(|c| {
        Ok(c.query_row(
            "SELECT current_setting('server_version'), current_setting('fsync'), \
             current_setting('synchronous_commit'), current_setting('full_page_writes'), \
             current_setting('shared_buffers'), current_setting('max_connections')",
            (),
            |r| {
                (0..6)
                    .map(|i| r.get::<_, String>(i))
                    .collect::<Result<Vec<_>, _>>()
            },
        )?)
    })?;
    Ok(format!(
        "PostgreSQL {} on this machine, fsync={}, synchronous_commit={}, full_page_writes={}, \
         shared_buffers={}, max_connections={}",
        v[0], v[1], v[2], v[3], v[4], v[5]
    ))
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}
