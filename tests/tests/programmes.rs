//! A programme end to end: the real server in-process, a real `loaxa-controller` process
//! writing what airs to a `wav:` file. Its parts air back to back with no gap beyond their
//! own, and it is logged as one programme entry plus one entry per part.

use anyhow::Result;
use chrono::{Duration as CDuration, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::time::Duration;
use tests::e2e::{
    eventually, longest_quiet_run, seed, tone_wav, Aired, Api, ControllerProcess, Server,
    OP_PASSWORD,
};

/// Below this a sample counts as silence.
const QUIET: f32 = 1e-4;

fn at_in(secs: i64) -> chrono::DateTime<Utc> {
    let t = schedules::Clock::now(&schedules::SystemClock) + CDuration::seconds(secs);
    t - CDuration::nanoseconds(i64::from(chrono::Timelike::nanosecond(&t)))
}

/// Quiet samples at the start and at the end of a tone as uploaded, at the gain it airs with.
fn own_quiet_edges(freq: f32, ms: u32, gain_db: f64) -> (usize, usize) {
    let g = 10f64.powf(gain_db / 20.0) as f32;
    let s: Vec<f32> = media::signal::tone(freq, ms, 48_000, 0.5)
        .into_iter()
        .map(|v| v * g)
        .collect();
    let lead = s.iter().take_while(|v| v.abs() <= QUIET).count();
    let trail = s.iter().rev().take_while(|v| v.abs() <= QUIET).count();
    (lead, trail)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_part_programme_airs_gap_free_and_is_logged_as_one_programme_with_three_parts(
) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let tokens = seed(&data, &["LQ"])?;
    let server = Server::start(&data).await?;
    let api = Api::login(&server, "op", OP_PASSWORD).await?;

    let parts = [(440.0f32, 1000u32), (660.0, 1200), (880.0, 800)];
    let mut uploaded: Vec<Value> = Vec::new();
    for (i, (f, ms)) in parts.iter().enumerate() {
        let path = dir.path().join(format!("part-{i}.wav"));
        tone_wav(&path, *f, *ms)?;
        uploaded.push(api.upload(&path, &format!("Phần {}", i + 1)).await?);
    }
    let body: Vec<Value> = uploaded
        .iter()
        .map(|m| json!({"media_id": m["sha256"]}))
        .collect();
    let programme = api
        .post(
            "/programmes",
            &json!({"title": "Chương trình buổi sáng", "category": "thời sự", "parts": body}),
        )
        .await?;
    assert_eq!(programme["total_ms"], 3000, "{programme}");

    let wav = dir.path().join("aired.wav");
    let ctl = ControllerProcess::spawn(
        &server.url,
        "LQ",
        &tokens[0],
        &dir.path().join("ctl"),
        &format!("wav:{}", wav.display()),
    )?;
    let due = at_in(6);
    let sch = api
        .post(
            "/schedules",
            &json!({"title": "Chương trình buổi sáng", "programme_id": programme["id"],
                    "stations": ["LQ"],
                    "at": due.to_rfc3339_opts(SecondsFormat::Secs, true)}),
        )
        .await?;
    let id = sch["id"].as_str().unwrap_or_default().to_string();

    let entries = eventually(
        Duration::from_secs(40),
        "the programme and its parts logged",
        || async {
            let l: Vec<Value> = api
                .logs("LQ")
                .await?
                .into_iter()
                .filter(|e| e["schedule_id"].as_str() == Some(id.as_str()))
                .collect();
            Ok((l.len() >= 4).then_some(l))
        },
    )
    .await?;
    ctl.terminate()?;

    // One programme entry, three part entries pointing at it, in order.
    let (whole, items): (Vec<&Value>, Vec<&Value>) =
        entries.iter().partition(|e| e["part_of"].is_null());
    assert_eq!(whole.len(), 1, "one programme entry: {entries:?}");
    assert_eq!(items.len(), 3, "three part entries: {entries:?}");
    let key = whole[0]["id"].as_str().unwrap_or_default();
    assert_eq!(whole[0]["status"], "played");
    assert_eq!(whole[0]["title"], "Chương trình buổi sáng");
    let total = whole[0]["played_ms"].as_u64().unwrap_or(0);
    assert!(total.abs_diff(3000) < 50, "programme aired {total} ms");
    for (i, (_, ms)) in parts.iter().enumerate() {
        let want_id = format!("{key}#{}", i + 1);
        let e = items
            .iter()
            .find(|e| e["id"] == want_id.as_str())
            .unwrap_or_else(|| panic!("no entry {want_id}: {items:?}"));
        assert_eq!(e["part_of"], key);
        assert_eq!(e["status"], "played");
        assert_eq!(e["title"], format!("Phần {}", i + 1));
        assert_eq!(e["media_id"], uploaded[i]["sha256"]);
        let played = e["played_ms"].as_u64().unwrap_or(0);
        assert!(played.abs_diff(u64::from(*ms)) < 5, "part {i}: {played} ms");
    }

    // The airtime report counts the programme once, not its parts again.
    let report = api
        .get("/reports/airtime?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z")
        .await?;
    assert_eq!(report["totals"]["scheduled"], 1, "{report}");

    // In the output: each part where it belongs, and no silence between them beyond the
    // parts' own fade-out and fade-in.
    let aired = Aired::read(&wav)?;
    let first = aired
        .first_sound_after(due - CDuration::seconds(3), QUIET)
        .expect("the programme is in the output");
    let mut offset = 0i64;
    for (f, ms) in parts {
        let mid = first + CDuration::milliseconds(offset + i64::from(ms) / 2 - 100);
        let heard = aired.frequency_at(mid, 200).unwrap_or(0.0);
        assert!(
            (heard - f).abs() < 20.0,
            "heard {heard} Hz, expected {f} Hz"
        );
        offset += i64::from(ms);
    }
    let gains: Vec<f64> = uploaded
        .iter()
        .map(|m| m["gain_db"].as_f64().unwrap_or(0.0))
        .collect();
    let edges: Vec<(usize, usize)> = parts
        .iter()
        .zip(&gains)
        .map(|((f, ms), g)| own_quiet_edges(*f, *ms, *g))
        .collect();
    let own_gap = edges.windows(2).map(|w| w[0].1 + w[1].0).max().unwrap_or(0);
    // Inside the programme (its own first and last samples aside).
    let inner = aired.longest_quiet_run(
        first + CDuration::milliseconds(1),
        first + CDuration::milliseconds(2999),
        QUIET,
    );
    println!("programme: longest quiet run between parts {inner} samples at 48 kHz; the parts' own edges {own_gap}");
    assert!(
        inner <= own_gap + 2,
        "{inner} quiet samples between parts; the parts' own edges have {own_gap}"
    );
    // The same measure on a sequence with a 5 ms hole would fail it.
    let mut holed = media::signal::tone(440.0, 100, 48_000, 0.5);
    holed.extend(std::iter::repeat_n(0.0, 240));
    holed.extend(media::signal::tone(660.0, 100, 48_000, 0.5));
    assert!(longest_quiet_run(&holed, QUIET) > own_gap + 2);
    server.stop().await
}
