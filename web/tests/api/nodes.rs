//! Several nodes (#26): two servers whose push hubs are joined by the relay over a real
//! PostgreSQL (`web::testing::postgres_database`). Until the store moves to PostgreSQL
//! each server keeps its own SQLite store, seeded alike (same areas, stations and users),
//! so what crosses from one node to the other here is the push alone.

use crate::helpers::{Sse, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use web::push::relay::{start_relay_with, RelayConfig, RelayHandle};

/// Short intervals, so that presence shows within a second.
async fn relay(url: &str, node: &str, app: &TestApp) -> RelayHandle {
    let config = RelayConfig {
        poll: Duration::from_millis(200),
        presence: Duration::from_millis(200),
        alive_window: Duration::from_secs(1),
        ..RelayConfig::new(node)
    };
    start_relay_with(url, config, app.state.hub.clone())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_urgent_notice_sent_on_one_node_reaches_a_station_streaming_from_the_other() {
    let url = web::testing::postgres_database();
    let (a, b) = (
        TestApp::spawn_on_sqlite().await,
        TestApp::spawn_on_sqlite().await,
    );
    let (ra, rb) = (relay(&url, "A", &a).await, relay(&url, "B", &b).await);
    let t = a.token("admin_tt").await;

    // LQ streams from B; A shows it connected.
    let mut lq = Sse::connect(&b, &b.lq_device).await;
    assert_eq!(lq.next().await.event, "schedule");
    let mut connected = false;
    for _ in 0..300 {
        let (_, st) = a.get("/stations/LQ", &t).await;
        connected = st["connected"] == true;
        if connected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(connected, "A never saw LQ's stream on B");
    let (_, bp) = a.get("/stations/BP", &t).await;
    assert_eq!(bp["connected"], false);

    // An urgent notice made on A (its audio rides with the push) arrives on B's stream.
    let m = a.upload_tone(&t, 880.0, 1000).await;
    let (s, v) = a
        .post(
            "/urgent",
            &t,
            json!({"title": "Bão số 3", "media_id": m, "stations": ["LQ"],
                   "category": "phòng chống thiên tai"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let ev = lq.next().await;
    assert_eq!(ev.event, "urgent");
    assert_eq!(ev.data["id"], v["id"]);
    assert!(
        ev.data["audio"].is_string(),
        "the audio rides with it: {}",
        ev.data
    );

    drop(lq);
    ra.stop().await;
    rb.stop().await;
    a.stop().await;
    b.stop().await;
}
