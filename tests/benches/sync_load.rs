//! Server scale (`make bench`): how many station event streams one `loaxa-web` process
//! holds, with every one still receiving an urgent notice, its memory per connection, and
//! schedule-document requests per second (changed → 200, unchanged → 304).
//!
//! The server runs as its own release process (so its RSS is its own); the stations are
//! lightweight clients in this process: one TCP connection each doing exactly what the
//! controller's event stream does (`GET /api/v1/device/events` with its device token).
//! Bounded: about two minutes. `LOAXA_BENCH_STATIONS` sets the connection count (10 000).

use anyhow::{bail, Result};
use std::time::{Duration, Instant};
use tests::bench::{self, Fleet, Node};

async fn bench() -> Result<()> {
    let (n, nofile) = bench::stations_wanted();
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let t0 = Instant::now();
    let tokens = bench::seed(&data, None, n)?;
    eprintln!("seeded {n} stations in {:.1} s", t0.elapsed().as_secs_f64());

    let server = Node::start(&data, None).await?;
    let pid = server.pid();
    let token = bench::login(&server.addr).await?;
    let sha = bench::upload_tone(&server.addr, &token, 48_000).await?;
    let rss_before = bench::rss_kib(pid);

    let fleet = Fleet::new(vec![server.addr.clone()], n);
    let t_conn = Instant::now();
    let held = fleet
        .connect_all(&tokens, |_| 0, Duration::from_secs(60))
        .await;
    let conn_secs = t_conn.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = bench::rss_kib(pid);
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
    let notice: serde_json::Value = r.json().await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while fleet.urgent_count() < held && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = fleet.urgent_count();
    let all_ms = t_push.elapsed().as_millis();
    // The notice carries its audio (the server's MP3 copy of a second of 48 kHz WAV, or the
    // WAV with `LOAXA_URGENT_MP3_KBPS=0`; under the inline limit either way): each stream's
    // copy of the event lives until it is written. The peak says what that costs.
    let peak = tests::status_kib(pid, "VmHWM:");
    let id = notice["id"].as_str().unwrap_or_default();
    let sent = bench::sent_audio_text(bench::sent_audio(&server.addr, &token, id, &sha).await?);

    println!("Stations connected: {held} of {n} (fd limit {nofile}) in {conn_secs:.1} s");
    println!("Server RSS: {rss_before} KiB before, {rss_after} KiB with {held} streams: {per_conn:.1} KiB each");
    println!("Urgent notice (audio in the event: {sent}): POST answered in {post_ms} ms; {got} of {held} streams carried it within {all_ms} ms");
    println!("BENCH|event streams held by one server|{held} (of {n} tried)|>= 10000|-");
    println!("BENCH|server memory per event stream|{per_conn:.1} KiB|<= 20 KiB|-");
    println!(
        "BENCH|urgent notice on every stream|{got}/{held} in {all_ms} ms (POST {post_ms} ms; audio {sent})|all|-"
    );
    println!(
        "BENCH|server peak memory once the notice went out|{} MiB (from {} MiB with the streams)|-|-",
        peak / 1024,
        rss_after / 1024
    );

    // Schedule documents: a small set of stations hammering it, 64 at a time.
    let sample: Vec<String> = tokens.iter().take(64).cloned().collect();
    let (rps_200, err_200) = bench::doc_rps(&server.addr, &sample, false, 10).await?;
    let (rps_304, err_304) = bench::doc_rps(&server.addr, &sample, true, 10).await?;
    println!("Schedule document: {rps_200:.0} req/s changed (200, {err_200} errors), {rps_304:.0} req/s unchanged (304, {err_304} errors)");
    println!("BENCH|schedule document, 200|{rps_200:.0} req/s (64 clients)|-|-");
    println!("BENCH|schedule document, 304|{rps_304:.0} req/s (64 clients)|-|-");
    fleet.stop();
    Ok(())
}

fn main() {
    tests::bench::main_of("sync_load", bench);
}
