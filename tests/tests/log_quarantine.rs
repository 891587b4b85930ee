//! One log entry the server refuses does not hold up the station's others: the controller
//! splits the batch until it finds it, puts it aside with the server's reason, and every
//! good entry arrives (none ends up `missed`).

use chrono::{DateTime, Duration, TimeZone, Utc};
use schedules::wire::LogEntry;
use schedules::{Clock, ManualClock, PlayStatus};
use std::sync::Arc;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 22, 30, 0).unwrap()
}

fn entry(id: String, at: DateTime<Utc>) -> LogEntry {
    serde_json::from_value(serde_json::json!({
        "id": id, "title": "Bản tin", "category": "thông báo", "priority": "normal",
        "scheduled_at": at, "started_at": at, "ended_at": at + Duration::seconds(60),
        "played_ms": 60000, "status": PlayStatus::Played.as_str()
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_log_entry_is_put_aside_and_the_good_ones_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let state = web::state::AppState::open(&dir.path().join("server"), clock.clone()).unwrap();
    let now = clock.now();
    web::admin::add_area(&state.db, "test", "TT", "Thạch Thất", None, now).unwrap();
    let device =
        web::admin::add_station(&state.db, "test", "LQ", "Đài Liên Quan", "TT", None, now).unwrap();
    web::admin::add_user(
        &state.db,
        "test",
        "admin",
        "a long password",
        web::db::users::Role::Admin,
        "TT",
        now,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::startup::serve(listener, state, async {
        let _ = stopped.await;
    }));

    // The controller's journal: 40 good entries and, among them, one whose id the server
    // refuses (longer than 200 bytes).
    let cache = controller::cache::Db::open(&dir.path().join("controller.sqlite")).unwrap();
    let bad_id = format!("r1@{}", "9".repeat(300));
    let mut good = Vec::new();
    for i in 0..41 {
        let at = t0() + Duration::minutes(i);
        let id = if i == 17 {
            bad_id.clone()
        } else {
            format!("r1@{}", at.timestamp())
        };
        if i != 17 {
            good.push(id.clone());
        }
        let e = entry(id, at);
        cache
            .with(|c| controller::cache::record_outcome(c, &e, at))
            .unwrap();
    }
    let client = controller::sync::Client::new(&base, &device);
    let (sent, settled) = controller::sync::upload_once(&client, &cache, clock.as_ref())
        .await
        .expect("the upload goes through");
    assert_eq!((sent, settled), (41, 41));

    // Nothing is left to send; the bad entry is aside with the server's reason.
    assert_eq!(cache.with(|c| controller::cache::outbox_len(c)).unwrap(), 0);
    let aside = cache.with(|c| controller::cache::quarantined(c)).unwrap();
    assert_eq!(aside.len(), 1);
    assert_eq!(aside[0].0, bad_id);
    assert!(
        aside[0].1.contains("422") && aside[0].1.contains("entries[0].id"),
        "{aside:?}"
    );

    // Every good entry reached the server.
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/token"))
        .json(&serde_json::json!({"username": "admin", "password": "a long password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let logs: Vec<serde_json::Value> = http
        .get(format!("{base}/api/v1/logs?station=LQ"))
        .bearer_auth(token["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ids: Vec<String> = logs
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    good.sort();
    assert_eq!(ids, good);

    // A second run has nothing to do.
    let again = controller::sync::upload_once(&client, &cache, clock.as_ref())
        .await
        .unwrap();
    assert_eq!(again, (0, 0));
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
