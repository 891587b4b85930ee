//! A live broadcast across two nodes (#25, #26): two servers in-process on one PostgreSQL,
//! the session opened and spoken into on node A, one station streaming from A and one from
//! B. B's station gets the frames through the push relay and airs them in step with A's.

use anyhow::{anyhow, Result};
use futures_util::{SinkExt, StreamExt};
use schedules::{Clock, SystemClock};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tests::e2e::{
    eventually, live_ingest, seed_on, send_tone, Api, InProcessController, Server, OP_PASSWORD,
};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

async fn node(data: &std::path::Path, db: &str) -> Result<Server> {
    let config = web::state::Config {
        database: Some(db.to_string()),
        ..Default::default()
    };
    let state = web::state::AppState::open_with(data, Arc::new(SystemClock), config)?;
    Server::serve_state(data, "127.0.0.1:0".parse()?, state).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_voice_spoken_into_node_a_airs_in_step_on_a_station_streaming_from_node_b() -> Result<()>
{
    let db = web::testing::postgres_database();
    let dir = tempfile::tempdir()?;
    let (a_data, b_data) = (dir.path().join("a"), dir.path().join("b"));
    let tokens = seed_on(&a_data, Some(&db), &["XA", "XB"])?;
    let a = node(&a_data, &db).await?;
    let b = node(&b_data, &db).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut ctrls = Vec::new();
    for (code, server, token) in [("XA", &a, &tokens[0]), ("XB", &b, &tokens[1])] {
        ctrls.push(InProcessController::start(
            &server.url,
            code,
            token,
            &dir.path().join(code),
            format!("wav:{}", dir.path().join(format!("{code}.wav")).display())
                .parse()
                .map_err(|e| anyhow!("{e}"))?,
            clock.clone(),
        )?);
    }
    let op = Api::login(&a, "op", OP_PASSWORD).await?;
    op.wait_online(2).await?;
    let (id, ingest) = op.live_on_xa_xb().await?;
    // Each station has opened the session's stream, on its own node: node A, which holds
    // the session, knows of both.
    for code in ["XA", "XB"] {
        let api = &op;
        eventually(Duration::from_secs(20), "the station connected", || async {
            let s: Value = api.get(&format!("/live/{id}")).await?;
            let state = s["stations"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|x| x["code"] == code)
                .and_then(|x| x["state"].as_str())
                .unwrap_or_default()
                .to_string();
            Ok((state != "connecting" && !state.is_empty()).then_some(()))
        })
        .await?;
    }

    let mut ws = live_ingest(&a, &ingest, op.token()).await?;
    let sent_at = send_tone(&mut ws, 1000.0, 3000).await?;
    ws.send(Message::Text(r#"{"type":"stop"}"#.into())).await?;
    while let Some(Ok(m)) = ws.next().await {
        if matches!(&m, Message::Text(t) if t.as_str().contains("\"ended\"")) {
            break;
        }
    }

    for code in ["XA", "XB"] {
        let entry = op.live_entry(code, &id).await?;
        assert_eq!(entry["status"], "played", "{code}: {entry}");
    }
    // The session's states, on either node, have XB's reports (played about 3 s).
    for api in [&op, &op.at(&b)] {
        let s = api.get(&format!("/live/{id}")).await?;
        let xb = s["stations"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| x["code"] == "XB")
            .cloned()
            .unwrap_or_default();
        let played = xb["played_ms"].as_u64().unwrap_or(0);
        assert!(
            (2000..=4000).contains(&played),
            "XB as its session has it: {xb}"
        );
    }
    for c in ctrls {
        c.stop().await?;
    }
    let tests::e2e::InStep {
        a: _,
        b: xb,
        ta,
        tb,
        apart_us: apart,
    } = tests::e2e::in_step(dir.path(), sent_at)?;
    eprintln!(
        "first sound {} ms after the first message; XA (node A) and XB (node B) {apart} µs apart",
        (ta - sent_at).num_milliseconds()
    );
    assert!(apart <= 20_000, "XA and XB {apart} µs apart");
    let sounding = xb.sounding_ms(tb, tb + chrono::Duration::seconds(5), 0.05);
    assert!(
        (2700..=3300).contains(&sounding),
        "XB sounded {sounding} ms"
    );
    a.stop().await?;
    b.stop().await?;
    Ok(())
}

/// Stopping a live session through the node that does not carry it (#26): that node tells
/// the session's node, which ends it as if stopped there (recording kept, the speaker's
/// socket told); a microphone sent to the wrong node is refused with the node to use.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_carried_by_node_a_is_stopped_through_node_b() -> Result<()> {
    let db = web::testing::postgres_database();
    let dir = tempfile::tempdir()?;
    let (a_data, b_data) = (dir.path().join("a"), dir.path().join("b"));
    seed_on(&a_data, Some(&db), &["XA", "XB"])?;
    let a = node(&a_data, &db).await?;
    let b = node(&b_data, &db).await?;
    let op = Api::login(&a, "op", OP_PASSWORD).await?;
    let on_b = op.at(&b);
    let (id, ingest) = op.live_on_xa_xb().await?;

    // The microphone goes to A, which carries the session; B refuses it and says so.
    let refused = live_ingest(&b, &ingest, op.token()).await.map(|_| ());
    match refused.as_ref().map_err(|e| e.downcast_ref::<WsError>()) {
        Err(Some(WsError::Http(res))) => {
            assert_eq!(res.status(), 409);
            let body = String::from_utf8_lossy(res.body().as_deref().unwrap_or_default());
            assert!(body.contains("is carried by node"), "{body}");
        }
        _ => panic!("the microphone on B: {refused:?}"),
    }
    let mut ws = live_ingest(&a, &ingest, op.token()).await?;
    send_tone(&mut ws, 1000.0, 1000).await?;

    // Stopped through B: answered once A has ended it.
    let stopped = on_b.post(&format!("/live/{id}/stop"), &Value::Null).await?;
    assert_eq!(stopped["state"], "ended", "{stopped}");
    assert_eq!(stopped["end_reason"], "stopped by op", "{stopped}");
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = ws.next().await {
            if matches!(&m, Message::Text(t) if t.as_str().contains("\"ended\"")) {
                return true;
            }
        }
        false
    })
    .await?;
    assert!(ended, "the speaker's socket on A is told the session ended");
    let on_a = op.get(&format!("/live/{id}")).await?;
    assert_eq!(on_a["state"], "ended", "{on_a}");
    assert!(on_a["archive"].is_string(), "the recording is kept: {on_a}");
    let seen_on_b = on_b.get(&format!("/live/{id}")).await?;
    assert_eq!(seen_on_b["end_reason"], "stopped by op", "{seen_on_b}");

    // Again, through either node: it has ended.
    for api in [&on_b, &op] {
        let again = api.post(&format!("/live/{id}/stop"), &Value::Null).await;
        let e = again.expect_err("a second stop").to_string();
        assert!(e.contains("409") && e.contains("already ended"), "{e}");
    }
    a.stop().await?;
    b.stop().await?;
    Ok(())
}
