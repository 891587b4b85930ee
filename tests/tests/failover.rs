//! A controller given several servers (`--server A,B`) moves to the next when its node is
//! killed with SIGKILL, within 10 s; what B sends (an urgent notice) airs and is logged
//! there; when A answers again the controller goes back to it.
//!
//! The two nodes here each hold a copy of one seeded store (the same station and token),
//! as two nodes of one deployment would share it: what is tested is the controller's side
//! of failover, with real `loaxa-web` processes and a real controller process.

use anyhow::Result;
use serde_json::json;
use std::time::{Duration, Instant};
use tests::e2e::{eventually, seed, Api, ControllerProcess, WebProcess, OP_PASSWORD};

fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}

async fn connected(node: &WebProcess) -> f64 {
    node.metric("loaxa_controllers_connected")
        .await
        .unwrap_or(-1.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_controller_moves_to_the_next_server_within_10_s_and_back() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (a_data, b_data) = (dir.path().join("a"), dir.path().join("b"));
    let tokens = seed(&a_data, &["LQ"])?;
    copy_dir(&a_data, &b_data)?;
    let mut a = WebProcess::spawn(&a_data, WebProcess::free_addr()?).await?;
    let b = WebProcess::spawn(&b_data, WebProcess::free_addr()?).await?;
    let wav = dir.path().join("lq.wav");
    let _ctl = ControllerProcess::spawn(
        &format!("{},{}", a.url, b.url),
        "LQ",
        &tokens[0],
        &dir.path().join("ctl"),
        &format!("wav:{}", wav.display()),
    )?;
    eventually(Duration::from_secs(30), "the station on A", || async {
        Ok((connected(&a).await == 1.0).then_some(()))
    })
    .await?;
    assert_eq!(connected(&b).await, 0.0, "only the first server is used");

    // A dies without a word.
    a.kill9();
    let killed = Instant::now();
    eventually(Duration::from_secs(10), "the station on B", || async {
        Ok((connected(&b).await == 1.0).then_some(()))
    })
    .await?;
    let moved = killed.elapsed();
    println!(
        "moved to the next server {} ms after the SIGKILL",
        moved.as_millis()
    );

    // B's urgent notice airs and B hears it was played.
    let op = Api::login_at(&format!("{}/api/v1", b.url), "op", OP_PASSWORD).await?;
    let tone = op.upload_tone(880.0, 1_500).await?;
    let notice = op
        .post(
            "/urgent",
            &json!({"title": "Bão số 9", "media_id": tone, "stations": ["LQ"]}),
        )
        .await?;
    let id = notice["id"].as_str().unwrap_or_default().to_string();
    eventually(
        Duration::from_secs(20),
        "the notice played, told to B",
        || {
            let op = op.clone();
            let id = id.clone();
            async move {
                let u = op.get(&format!("/urgent/{id}")).await?;
                let played = u["stations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|s| s["code"] == "LQ" && s["state"] == "played");
                Ok(played.then_some(()))
            }
        },
    )
    .await?;

    // A is back: within two probes the controller returns to it.
    let a = WebProcess::spawn(&a_data, a.addr).await?;
    eventually(Duration::from_secs(45), "the station back on A", || async {
        Ok((connected(&a).await == 1.0 && connected(&b).await == 0.0).then_some(()))
    })
    .await?;
    Ok(())
}
