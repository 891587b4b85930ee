//! Two `loaxa-web` nodes on one PostgreSQL, with real controller processes spread over
//! them: an urgent notice posted on node A plays on the station connected to node B, and a
//! remote command issued on A is carried out there; a
//! bulletin uploaded and scheduled on B airs on the station connected to A (A serves the
//! file it never received); A is killed with SIGKILL mid-day: its station moves to B within
//! 10 s, airs from its cache meanwhile, and every occurrence is logged exactly once; A
//! comes back and takes its station again.

use anyhow::Result;
use schedules::{Clock, SystemClock};
use serde_json::json;
use std::time::{Duration, Instant};
use tests::e2e::{eventually, seed_on, Api, ControllerProcess, WebProcess, OP_PASSWORD};

async fn connected(node: &WebProcess) -> f64 {
    node.metric("loaxa_controllers_connected")
        .await
        .unwrap_or(-1.0)
}

/// The state of `station` for the urgent notice `id`, as `api`'s node reports it.
async fn urgent_state(api: &Api, id: &str, station: &str) -> Result<String> {
    let u = api.get(&format!("/urgent/{id}")).await?;
    Ok(u["stations"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["code"] == station)
        .and_then(|s| s["state"].as_str())
        .unwrap_or_default()
        .to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_share_pushes_media_and_stations_and_survive_a_sigkill() -> Result<()> {
    let db = web::testing::postgres_database();
    let dir = tempfile::tempdir()?;
    let (a_data, b_data) = (dir.path().join("a"), dir.path().join("b"));
    let tokens = seed_on(&a_data, Some(&db), &["LQ", "BP"])?;
    let mut a = WebProcess::spawn_on(&a_data, Some(&db), WebProcess::free_addr()?).await?;
    let b = WebProcess::spawn_on(&b_data, Some(&db), WebProcess::free_addr()?).await?;
    // LQ prefers A, BP prefers B.
    let _lq = ControllerProcess::spawn(
        &format!("{},{}", a.url, b.url),
        "LQ",
        &tokens[0],
        &dir.path().join("lq"),
        &format!("wav:{}", dir.path().join("lq.wav").display()),
    )?;
    let _bp = ControllerProcess::spawn(
        &format!("{},{}", b.url, a.url),
        "BP",
        &tokens[1],
        &dir.path().join("bp"),
        &format!("wav:{}", dir.path().join("bp.wav").display()),
    )?;
    eventually(Duration::from_secs(30), "LQ on A and BP on B", || async {
        Ok((connected(&a).await == 1.0 && connected(&b).await == 1.0).then_some(()))
    })
    .await?;
    let on_a = Api::login_at(&format!("{}/api/v1", a.url), "op", OP_PASSWORD).await?;
    let on_b = Api::login_at(&format!("{}/api/v1", b.url), "op", OP_PASSWORD).await?;
    // Presence is shared: each node shows the station streaming from the other connected.
    for (api, code) in [(&on_b, "LQ"), (&on_a, "BP")] {
        eventually(
            Duration::from_secs(15),
            "the other node's station connected",
            || {
                let path = format!("/stations/{code}");
                async move { Ok((api.get(&path).await?["connected"] == true).then_some(())) }
            },
        )
        .await?;
    }

    // 1. An urgent notice posted on A plays on BP, whose stream is held by B.
    let tone = on_a.upload_tone(880.0, 1_200).await?;
    let notice = on_a
        .post(
            "/urgent",
            &json!({"title": "Bão số 9", "media_id": tone, "stations": ["LQ", "BP"]}),
        )
        .await?;
    let id = notice["id"].as_str().unwrap_or_default().to_string();
    eventually(Duration::from_secs(20), "the notice played on both", || {
        let (api, id) = (on_b.clone(), id.clone());
        async move {
            let lq = urgent_state(&api, &id, "LQ").await?;
            let bp = urgent_state(&api, &id, "BP").await?;
            Ok((lq == "played" && bp == "played").then_some(()))
        }
    })
    .await?;

    // A remote command issued on A reaches BP through B, and BP's acknowledgement (to B)
    // shows on A.
    let cmd = on_a
        .post(
            "/stations/BP/commands",
            &json!({"kind": "volume", "volume": 70}),
        )
        .await?;
    let cmd = cmd["id"].as_str().unwrap_or_default().to_string();
    let acked = eventually(Duration::from_secs(20), "BP's acknowledgement", || {
        let (api, cmd) = (on_a.clone(), cmd.clone());
        async move {
            let c = api.get(&format!("/stations/BP/commands/{cmd}")).await?;
            Ok((c["state"] != "pending").then_some(c))
        }
    })
    .await?;
    assert_eq!(acked["state"], "done", "{acked}");

    // 2. A bulletin uploaded and scheduled on B airs on LQ, held by A: A never received
    // the file and serves it from the shared store.
    let bulletin = on_b.upload_tone(440.0, 1_000).await?;
    let first = on_b
        .schedule_at(
            "Bản tin trưa",
            &bulletin,
            "LQ",
            SystemClock.now() + chrono::Duration::seconds(4),
        )
        .await?;
    eventually(Duration::from_secs(25), "B's bulletin aired on LQ", || {
        let (api, first) = (on_b.clone(), first.clone());
        async move {
            let logs = api.logs_for("LQ", &first).await?;
            Ok(logs.iter().any(|l| l["status"] == "played").then_some(()))
        }
    })
    .await?;

    // 3. A bulletin due shortly after A dies: LQ has it in its cache and airs it while
    // it moves to B.
    let second = on_b
        .schedule_at(
            "Bản tin chiều",
            &bulletin,
            "LQ",
            SystemClock.now() + chrono::Duration::seconds(6),
        )
        .await?;
    // LQ's document reaches it through A's stream before A dies.
    tokio::time::sleep(Duration::from_secs(2)).await;
    a.kill9();
    let killed = Instant::now();
    eventually(Duration::from_secs(10), "LQ moved to B", || async {
        Ok((connected(&b).await == 2.0).then_some(()))
    })
    .await?;
    println!(
        "LQ on B {} ms after A's SIGKILL",
        killed.elapsed().as_millis()
    );
    eventually(
        Duration::from_secs(30),
        "the second bulletin aired and logged",
        || {
            let (api, second) = (on_b.clone(), second.clone());
            async move {
                let logs = api.logs_for("LQ", &second).await?;
                Ok(logs.iter().any(|l| l["status"] == "played").then_some(()))
            }
        },
    )
    .await?;

    // 4. A comes back and takes LQ again.
    let a = WebProcess::spawn_on(&a_data, Some(&db), a.addr).await?;
    eventually(Duration::from_secs(45), "LQ back on A", || async {
        Ok((connected(&a).await == 1.0 && connected(&b).await == 1.0).then_some(()))
    })
    .await?;

    // Every occurrence is logged exactly once, whichever node heard it.
    let logs = on_b.logs("LQ").await?;
    for sid in [&first, &second] {
        let n = logs
            .iter()
            .filter(|l| l["schedule_id"].as_str() == Some(sid.as_str()))
            .count();
        assert_eq!(n, 1, "schedule {sid} logged {n} times: {logs:?}");
    }
    let urgent_rows = logs
        .iter()
        .filter(|l| l["urgent_id"].as_str() == Some(id.as_str()))
        .count();
    assert_eq!(urgent_rows, 1, "the urgent notice logged once on LQ");
    Ok(())
}
