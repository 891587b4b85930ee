//! Crash, restart and offline behaviour of a real controller (in-process) against an
//! in-test server.

mod common;

use chrono::Duration as CDuration;
use common::*;
use controller::OutputSpec;
use schedules::{occurrence_key, PlayStatus, Priority};

async fn wait_journal(db: &std::path::Path, key: &str, state: &str) {
    for _ in 0..300 {
        if let Ok(conn) = rusqlite::Connection::open(db) {
            let n: i64 = conn
                .query_row(
                    "SELECT count(*) FROM plays WHERE key = ?1 AND state = ?2",
                    [key, state],
                    |r| r.get(0),
                )
                .unwrap_or(0);
            if n > 0 {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{key} never reached {state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulletin_cut_by_a_crash_is_logged_interrupted_once_and_not_replayed() {
    let server = TestServer::start().await;
    let m = server.add_media(tone_wav(440.0, 20_000, 0.3), 20_000);
    let at = now() + CDuration::milliseconds(2500);
    server.set_doc(doc(
        "v1",
        vec![one_off("r1", at, &m, Priority::Normal)],
        vec![m.clone()],
    ));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = occurrence_key("r1", at);

    let first = start(config(&server, data.clone(), OutputSpec::Null));
    wait_journal(&data.join("controller.sqlite"), &key, "started").await;
    // Until a progress point (every 2 s) is journalled.
    for _ in 0..300 {
        let conn = rusqlite::Connection::open(data.join("controller.sqlite")).unwrap();
        let p: i64 = conn
            .query_row(
                "SELECT progress_ms FROM plays WHERE key = ?1",
                [&key],
                |r| r.get(0),
            )
            .unwrap_or(0);
        if p > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Crash: the task is dropped mid-airing, nothing gets to clean up.
    first.task.abort();
    let _ = first.task.await;

    let second = start(config(&server, data.clone(), OutputSpec::Null));
    server
        .wait_for(30, "the interrupted log", |i| {
            i.logs.iter().any(|l| l.id == key)
        })
        .await;
    let l = server.log(&key).unwrap();
    assert_eq!(l.status, PlayStatus::Interrupted, "{l:?}");
    assert!(l.played_ms >= 1000 && l.played_ms < 20_000, "{l:?}");
    // Give the restarted controller a few ticks: it must not air the bulletin again.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let conn = rusqlite::Connection::open(data.join("controller.sqlite")).unwrap();
    let started: i64 = conn
        .query_row(
            "SELECT count(*) FROM plays WHERE state = 'started'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(started, 0, "nothing airs after the restart");
    second.stop().await;

    // A third boot logs nothing more.
    let before = server.inner.lock().unwrap().heartbeats.len();
    let third = start(config(&server, data.clone(), OutputSpec::Null));
    server
        .wait_for(30, "the third boot synced", move |i| {
            i.heartbeats[before..]
                .iter()
                .any(|h| h.cache_ready && h.schedule_version.is_some())
        })
        .await;
    third.stop().await;
    let logs = server.inner.lock().unwrap().logs.clone();
    assert_eq!(logs.iter().filter(|l| l.id == key).count(), 1);
    assert_eq!(logs.len(), 1, "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_server_gone_the_controller_plays_from_its_cache_and_uploads_later() {
    let server = TestServer::start().await;
    let m = server.add_media(tone_wav(440.0, 500, 0.3), 500);
    let at = now() + CDuration::seconds(8);
    server.set_doc(doc(
        "v1",
        vec![one_off("r1", at, &m, Priority::Normal)],
        vec![m.clone()],
    ));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // First run: sync and cache, then stop.
    let c = start(config(&server, data.clone(), OutputSpec::Null));
    server
        .wait_for(30, "the cache ready", |i| {
            i.heartbeats
                .iter()
                .any(|h| h.cache_ready && h.schedule_version.is_some())
        })
        .await;
    c.stop().await;

    // Second run: the server is unreachable (nothing listens on this port).
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let mut cfg = config(&server, data.clone(), OutputSpec::Null);
    cfg.server = dead;
    let offline = start(cfg);
    wait_journal(
        &data.join("controller.sqlite"),
        &occurrence_key("r1", at),
        "done",
    )
    .await;
    offline.stop().await;
    let conn = rusqlite::Connection::open(data.join("controller.sqlite")).unwrap();
    let json: String = conn
        .query_row("SELECT json FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert!(json.contains("\"played\""), "{json}");
    drop(conn);

    // Third run, server back: the outbox drains.
    let c = start(config(&server, data.clone(), OutputSpec::Null));
    server
        .wait_for(30, "the uploaded log", |i| !i.logs.is_empty())
        .await;
    c.stop().await;
    assert_eq!(
        server.log(&occurrence_key("r1", at)).unwrap().status,
        PlayStatus::Played
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_push_triggers_a_refetch_and_a_lost_stream_resumes_with_last_event_id() {
    let server = TestServer::start().await;
    let m = server.add_media(tone_wav(440.0, 300, 0.3), 300);
    server.set_doc(doc("v1", vec![], vec![m.clone()]));
    server.inner.lock().unwrap().close_after_one = true;
    let dir = tempfile::tempdir().unwrap();
    let c = start(config(&server, dir.path().join("data"), OutputSpec::Null));
    server
        .wait_for(30, "v1 synced and the stream open", |i| {
            !i.last_event_ids.is_empty()
                && i.heartbeats
                    .iter()
                    .any(|h| h.schedule_version.as_deref() == Some("v1"))
        })
        .await;
    let at = now() + CDuration::hours(1);
    server.set_doc(doc(
        "v2",
        vec![one_off("r2", at, &m, Priority::Normal)],
        vec![m.clone()],
    ));
    server.push("schedule", r#"{"version":"v2"}"#.to_string());
    server
        .wait_for(30, "v2 in a heartbeat and a reconnect", |i| {
            i.last_event_ids.len() >= 2
                && i.heartbeats
                    .iter()
                    .any(|h| h.schedule_version.as_deref() == Some("v2"))
        })
        .await;
    c.stop().await;
    let ids = server.inner.lock().unwrap().last_event_ids.clone();
    assert_eq!(ids[0], None);
    assert_eq!(
        ids[1].as_deref(),
        Some("100"),
        "the reconnect says which event it saw last"
    );
    let hb = server
        .inner
        .lock()
        .unwrap()
        .heartbeats
        .last()
        .cloned()
        .unwrap();
    assert!(hb.cache_ready && hb.missing_media.is_empty(), "{hb:?}");
    assert!(hb.disk_free_bytes.is_some_and(|b| b > 0), "{hb:?}");
    assert_eq!(hb.output, "null");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_came_due_while_down_is_missed_or_played_late_within_its_wait_bound() {
    let server = TestServer::start().await;
    let m = server.add_media(tone_wav(440.0, 300, 0.3), 300);
    let at = now() + CDuration::seconds(4);
    let mut strict = one_off("strict", at, &m, Priority::Normal);
    strict.slot.max_wait_ms = 500;
    let mut patient = one_off(
        "patient",
        at + CDuration::milliseconds(100),
        &m,
        Priority::Normal,
    );
    patient.slot.max_wait_ms = 120_000;
    server.set_doc(doc("v1", vec![strict, patient], vec![m.clone()]));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let c = start(config(&server, data.clone(), OutputSpec::Null));
    server
        .wait_for(30, "the cache ready", |i| {
            i.heartbeats.iter().any(|h| h.cache_ready)
        })
        .await;
    c.stop().await;
    // Down over the due time; back up after the strict one's bound.
    let back = at + CDuration::seconds(2);
    if let Ok(d) = (back - now()).to_std() {
        tokio::time::sleep(d).await;
    }
    let c = start(config(&server, data, OutputSpec::Null));
    let (ks, kp) = (
        occurrence_key("strict", at),
        occurrence_key("patient", at + CDuration::milliseconds(100)),
    );
    server
        .wait_for(30, "both logs", |i| {
            i.logs.iter().any(|l| l.id == ks) && i.logs.iter().any(|l| l.id == kp)
        })
        .await;
    c.stop().await;
    let s = server.log(&ks).unwrap();
    assert_eq!(s.status, PlayStatus::Missed, "{s:?}");
    let p = server.log(&kp).unwrap();
    assert_eq!(p.status, PlayStatus::Played, "{p:?}");
    assert!(
        p.started_at.unwrap() >= back,
        "played late, after the restart: {p:?}"
    );
}
