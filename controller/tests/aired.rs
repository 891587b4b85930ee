//! End to end through the `wav:` output: a real controller (in-process) against an in-test
//! server, checking what aired sample by sample.

mod common;

use chrono::{Duration as CDuration, Utc};
use common::*;
use controller::OutputSpec;
use schedules::wire::{UrgentCancel, UrgentNotice, UrgentPush, UrgentState};
use schedules::{occurrence_key, PlayStatus, Priority};

const TOLERANCE_MS: i64 = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_off_tone_airs_within_150_ms_of_its_scheduled_instant() {
    let server = TestServer::start().await;
    let tone = server.add_media(tone_wav(440.0, 1000, 0.5), 1000);
    let at = now() + CDuration::milliseconds(3500);
    server.set_doc(single(at, &tone));
    let dir = tempfile::tempdir().unwrap();
    let (c, wav) = start_to_wav(&server, dir.path());
    let key = occurrence_key("r1", at);
    server
        .wait_for(30, "the played log", |i| i.logs.iter().any(|l| l.id == key))
        .await;
    c.stop().await;

    let log = server.log(&key).unwrap();
    assert_eq!(log.status, PlayStatus::Played, "{log:?}");
    assert!((log.played_ms as i64 - 1000).abs() <= 25, "{log:?}");
    assert!(
        (log.rms_dbfs.unwrap() + 9.0).abs() < 0.5,
        "a 0.5 sine is -9 dBFS RMS: {log:?}"
    );
    assert!((log.peak_dbfs.unwrap() + 6.0).abs() < 0.3, "{log:?}");

    let (samples, ch, rate, start_utc) = read_aired(&wav);
    let expected = (at - start_utc).num_milliseconds();
    // The tone file's first sample is 0 (a sine starts at zero, with a 10 ms fade in): the
    // first non-zero sample is its second one.
    let first = first_loud(&samples, ch, 0, 0.0).expect("the tone is in the file") as i64 - 1;
    let got = first * 1000 / rate as i64;
    assert!(
        (got - expected).abs() <= TOLERANCE_MS,
        "tone at {got} ms, scheduled at {expected} ms"
    );
    let hz = zero_crossing_hz(
        &samples,
        ch,
        rate,
        first as usize + 4800,
        first as usize + 28800,
    );
    assert!((hz - 440.0).abs() < 10.0, "{hz} Hz");
    // Silence before and after: exactly the samples that reached the "sound card".
    assert!(first_loud(&samples, ch, 0, 0.01).unwrap() as i64 - first < 48 * 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urgent_notice_interrupts_a_normal_bulletin_at_once_and_is_acknowledged() {
    let server = TestServer::start().await;
    let normal = server.add_media(tone_wav(440.0, 6000, 0.3), 6000);
    let alarm = server.add_media(tone_wav(1000.0, 1500, 0.6), 1500);
    let at = now() + CDuration::milliseconds(3000);
    // The alarm's media is not in the document: it arrives with the push.
    server.set_doc(single(at, &normal));
    let dir = tempfile::tempdir().unwrap();
    let (c, wav) = start_to_wav(&server, dir.path());
    let key = occurrence_key("r1", at);
    server
        .wait_for(30, "the normal bulletin airing", |i| {
            i.heartbeats.iter().any(|h| h.schedule_version.is_some())
        })
        .await;
    // Wait until the bulletin has aired for a while, then push.
    let data_db = dir.path().join("data/controller.sqlite");
    wait_started(&data_db, &key).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let pushed_at = now();
    let notice = UrgentNotice {
        id: "u1".into(),
        title: "Bão khẩn cấp".into(),
        category: "thiên tai".into(),
        media_sha256: alarm.sha256.clone(),
        duration_ms: 1500,
        starts_at: pushed_at,
        repeat: 1,
        interval_s: 0,
        expires_at: None,
        gain_db: None,
    };
    server.push("urgent", serde_json::to_string(&notice).unwrap());
    let ukey = occurrence_key("u1", pushed_at);
    server
        .wait_for(30, "both logs and the played ack", |i| {
            i.logs.iter().any(|l| l.id == ukey)
                && i.logs.iter().any(|l| l.id == key)
                && i.acks.iter().any(|(_, a)| a.state == UrgentState::Played)
        })
        .await;
    c.stop().await;

    let n = server.log(&key).unwrap();
    assert_eq!(n.status, PlayStatus::Interrupted, "{n:?}");
    assert!(n.reason.as_deref().unwrap().contains("emergency"), "{n:?}");
    assert!(n.played_ms > 1000 && n.played_ms < 6000, "{n:?}");
    let u = server.log(&ukey).unwrap();
    assert_eq!(u.status, PlayStatus::Played, "{u:?}");
    assert_eq!(u.priority, Priority::Emergency);
    let states: Vec<_> = server
        .inner
        .lock()
        .unwrap()
        .acks
        .iter()
        .map(|(_, a)| a.state)
        .collect();
    assert_eq!(
        states,
        vec![
            UrgentState::Received,
            UrgentState::Playing,
            UrgentState::Played
        ]
    );

    // In the audio: 440 Hz, then 1 kHz straight after (no gap, no overlap), then silence.
    let (samples, ch, rate, start_utc) = read_aired(&wav);
    let to_frame = |t: chrono::DateTime<Utc>| {
        ((t - start_utc).num_milliseconds() * rate as i64 / 1000) as usize
    };
    let switch = to_frame(u.started_at.unwrap());
    let a = to_frame(n.started_at.unwrap());
    assert!((zero_crossing_hz(&samples, ch, rate, a + 4800, switch - 2400) - 440.0).abs() < 10.0);
    assert!(
        (zero_crossing_hz(&samples, ch, rate, switch + 2400, switch + 48000) - 1000.0).abs() < 20.0
    );
    // The urgent notice reached the output well within a second of the push.
    // (Typically ~20 ms here, media download included; the bound is loose so that a busy
    // machine does not fail the test.)
    let delay = (u.started_at.unwrap() - pushed_at).num_milliseconds();
    eprintln!("urgent notice on the output {delay} ms after the push");
    assert!(delay < 3000, "urgent started {delay} ms after the push");
    let end = switch + 1500 * rate as usize / 1000;
    let tail = &samples[(end + 480) * ch as usize..];
    assert!(
        tail.iter().all(|&s| s == 0.0),
        "nothing after the alarm: the normal bulletin is not resumed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_urgent_notice_stops_at_once_and_its_repeats_are_dropped() {
    let server = TestServer::start().await;
    let alarm = server.add_media(tone_wav(1000.0, 8000, 0.6), 8000);
    server.set_doc(doc("v1", vec![], vec![alarm.clone()]));
    let dir = tempfile::tempdir().unwrap();
    let c = start(config(&server, dir.path().join("data"), OutputSpec::Null));
    server
        .wait_for(30, "a heartbeat with the cache ready", |i| {
            i.heartbeats
                .iter()
                .any(|h| h.cache_ready && h.schedule_version.is_some())
        })
        .await;
    let pushed_at = now();
    let notice = UrgentNotice {
        id: "u9".into(),
        title: "Cháy".into(),
        category: String::new(),
        media_sha256: alarm.sha256.clone(),
        duration_ms: 8000,
        starts_at: pushed_at,
        repeat: 3,
        interval_s: 20,
        expires_at: None,
        gain_db: None,
    };
    server.push("urgent", serde_json::to_string(&notice).unwrap());
    let key = occurrence_key("u9", pushed_at);
    wait_started(&dir.path().join("data/controller.sqlite"), &key).await;
    server.push(
        "cancel",
        serde_json::to_string(&UrgentCancel { id: "u9".into() }).unwrap(),
    );
    server
        .wait_for(30, "the interrupted log", |i| {
            i.logs.iter().any(|l| l.id == key)
        })
        .await;
    let l = server.log(&key).unwrap();
    assert_eq!(l.status, PlayStatus::Interrupted);
    assert_eq!(l.reason.as_deref(), Some("cancelled"));
    assert!(l.played_ms < 8000);
    server
        .wait_for(10, "the cancelled ack", |i| {
            i.acks
                .iter()
                .any(|(_, a)| a.state == UrgentState::Cancelled)
        })
        .await;
    c.stop().await;
    // The repeats are never logged: they were dropped, not missed.
    assert_eq!(server.inner.lock().unwrap().logs.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_sent_with_the_notice_plays_without_a_download_and_bad_audio_is_fetched() {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let server = TestServer::start().await;
    let alarm_bytes = tone_wav(1000.0, 1200, 0.6);
    let alarm = server.add_media(alarm_bytes.clone(), 1200);
    let fire_bytes = tone_wav(1500.0, 1200, 0.6);
    let fire = server.add_media(fire_bytes.clone(), 1200);
    server.set_doc(doc("v1", vec![], vec![]));
    let dir = tempfile::tempdir().unwrap();
    let c = start(config(&server, dir.path().join("data"), OutputSpec::Null));
    server
        .wait_for(30, "a first heartbeat", |i| {
            i.heartbeats.iter().any(|h| h.schedule_version.is_some())
        })
        .await;
    let fetched = |m: &schedules::wire::MediaEntry| {
        server
            .inner
            .lock()
            .unwrap()
            .range_requests
            .iter()
            .filter(|(s, _)| s == m.sha256.as_str())
            .count()
    };
    // Push notice `id` for `m` with `audio` along; wait until it has aired and is logged.
    let air = |id: &'static str, m: schedules::wire::MediaEntry, audio: &[u8]| {
        let server = server.clone();
        let push = UrgentPush {
            notice: UrgentNotice {
                id: id.into(),
                title: "Bão".into(),
                category: String::new(),
                media_sha256: m.sha256.clone(),
                duration_ms: 1200,
                starts_at: now(),
                repeat: 1,
                interval_s: 0,
                expires_at: None,
                gain_db: None,
            },
            audio: Some(b64(audio)),
        };
        let key = occurrence_key(id, push.notice.starts_at);
        async move {
            server.push("urgent", serde_json::to_string(&push).unwrap());
            server
                .wait_for(30, "the played ack and the log", |i| {
                    i.acks
                        .iter()
                        .any(|(n, a)| n == id && a.state == UrgentState::Played)
                        && i.logs.iter().any(|l| l.id == key)
                })
                .await;
            assert_eq!(server.log(&key).map(|l| l.status), Some(PlayStatus::Played));
        }
    };
    // The file in the media cache: written after the notice starts (it plays from memory
    // until then), so waited for.
    let cached = |m: &schedules::wire::MediaEntry| {
        let path = dir.path().join("data/media").join(m.sha256.as_str());
        for _ in 0..100 {
            if let Ok(b) = std::fs::read(&path) {
                return b;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{} never written", path.display());
    };

    // The notice's own file, in the push: it airs and is never asked for.
    air("u1", alarm.clone(), &alarm_bytes).await;
    assert_eq!(fetched(&alarm), 0, "the audio came with the notice");
    assert_eq!(cached(&alarm), alarm_bytes);

    // Audio that is not the notice's file (here: another file's) is refused; the file is
    // downloaded and airs all the same.
    air("u2", fire.clone(), &alarm_bytes).await;
    assert_eq!(fetched(&fire), 1, "the file was fetched instead");
    assert_eq!(cached(&fire), fire_bytes);
    // Nothing but the cached files is left behind.
    let names = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("data/media"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        names
    };
    let mut want = vec![alarm.sha256.to_string(), fire.sha256.to_string()];
    want.sort();
    assert_eq!(names(), want);

    // Pushed audio that cannot be written down (here its temporary file's name is taken
    // by a directory) airs all the same, from memory, and is not downloaded.
    let flood_bytes = tone_wav(800.0, 1200, 0.6);
    let flood = server.add_media(flood_bytes.clone(), 1200);
    let blocked = dir
        .path()
        .join("data/media")
        .join(format!("{}.push", flood.sha256));
    std::fs::create_dir(&blocked).unwrap();
    air("u3", flood.clone(), &flood_bytes).await;
    assert_eq!(fetched(&flood), 0, "it played from memory");
    assert!(!dir
        .path()
        .join("data/media")
        .join(flood.sha256.as_str())
        .exists());
    c.stop().await;
}

/// Wait until the controller's journal says `key` started airing.
pub async fn wait_started(db: &std::path::Path, key: &str) {
    for _ in 0..300 {
        if let Ok(conn) = rusqlite::Connection::open(db) {
            let n: i64 = conn
                .query_row("SELECT count(*) FROM plays WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .unwrap_or(0);
            if n > 0 {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{key} never started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_far_too_loud_airs_no_sample_above_minus_one_dbfs() {
    // A file at 0.9 of full scale whose manifest asks for +12 dB (a wrong measurement, an
    // old server): without the output's limiter it would reach four times full scale.
    let server = TestServer::start().await;
    let mut hot = server.add_media(tone_wav(440.0, 1500, 0.9), 1500);
    hot.gain_db = 12.0;
    // A quiet one right after: the limiter lets it through untouched once it has let go.
    let quiet = server.add_media(tone_wav(660.0, 1500, 0.25), 1500);
    let at = now() + CDuration::milliseconds(3000);
    let later = at + CDuration::milliseconds(3500);
    server.set_doc(doc(
        "v1",
        vec![
            one_off("r1", at, &hot, Priority::Normal),
            one_off("r2", later, &quiet, Priority::Normal),
        ],
        vec![hot.clone(), quiet.clone()],
    ));
    let dir = tempfile::tempdir().unwrap();
    let (c, wav) = start_to_wav(&server, dir.path());
    let key = occurrence_key("r2", later);
    server
        .wait_for(30, "both played", |i| i.logs.iter().any(|l| l.id == key))
        .await;
    c.stop().await;
    let log = server.log(&occurrence_key("r1", at)).unwrap();
    // Full scale before the limiter (the mixer clips what a source sends at ±1).
    assert!(
        log.peak_dbfs.unwrap() > -0.5,
        "hot before the limiter: {log:?}"
    );
    let (samples, ch, rate, start_utc) = read_aired(&wav);
    let ch = ch as usize;
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    let ceiling = 10f32.powf(-1.0 / 20.0);
    assert!(peak <= ceiling, "peak {peak} above {ceiling}");
    assert!(peak > 0.85, "the hot tone aired at the ceiling: {peak}");
    // The quiet tone, well after the hot one: exactly its own level (0.25 peak).
    let from = ((later - start_utc).num_milliseconds() as usize * rate as usize / 1000
        + rate as usize / 2)
        * ch;
    let to = from + rate as usize / 2 * ch;
    let quiet_peak = samples[from..to].iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(
        (quiet_peak - 0.25).abs() < 0.005,
        "quiet tone peak {quiet_peak}"
    );
}
