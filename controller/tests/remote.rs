//! Remote commands and the volume schedule, end to end through the `wav:` output: a real
//! controller (in-process) against an in-test server.

mod common;

use chrono::Duration as CDuration;
use common::*;
use controller::OutputSpec;
use schedules::remote::{CommandKind, CommandState, RemoteCommand};
use schedules::volume::{parse_hhmm, VolumeStep};
use schedules::{occurrence_key, PlayStatus, Priority};

/// Wait until the controller's journal says `key` started airing.
async fn wait_started(db: &std::path::Path, key: &str) {
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

fn command(id: &str, kind: CommandKind, volume: Option<u8>) -> RemoteCommand {
    RemoteCommand {
        id: id.into(),
        kind,
        volume,
        issued_at: now(),
        issued_by: "an.nguyen".into(),
    }
}

/// RMS of channel 0 over frames [from, to).
fn rms(samples: &[f32], ch: u16, from: usize, to: usize) -> f64 {
    let v: Vec<f64> = samples
        .chunks(ch as usize)
        .skip(from)
        .take(to - from)
        .map(|f| f[0] as f64)
        .collect();
    (v.iter().map(|x| x * x).sum::<f64>() / v.len().max(1) as f64).sqrt()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_stop_cuts_the_airing_bulletin_and_is_logged_and_acknowledged() {
    let server = TestServer::start().await;
    let tone = server.add_media(tone_wav(440.0, 20_000, 0.5), 20_000);
    let at = now() + CDuration::milliseconds(3000);
    server.set_doc(single(at, &tone));
    let dir = tempfile::tempdir().unwrap();
    let c = start(config(&server, dir.path().join("data"), OutputSpec::Null));
    let key = occurrence_key("r1", at);
    wait_started(&dir.path().join("data/controller.sqlite"), &key).await;
    server.push(
        "command",
        serde_json::to_string(&command("c1", CommandKind::Stop, None)).unwrap(),
    );
    server
        .wait_for(30, "the log and the ack", |i| {
            i.logs.iter().any(|l| l.id == key) && !i.command_acks.is_empty()
        })
        .await;
    c.stop().await;
    let log = server.log(&key).unwrap();
    assert_eq!(log.status, PlayStatus::Interrupted, "{log:?}");
    assert_eq!(log.reason.as_deref(), Some("stopped remotely by an.nguyen"));
    assert!(log.played_ms < 15_000, "{log:?}");
    let acks = server.inner.lock().unwrap().command_acks.clone();
    assert_eq!(acks[0].0, "c1");
    assert_eq!(acks[0].1.state, CommandState::Done, "{acks:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_volume_change_lowers_the_aired_level_and_survives_a_restart() {
    let server = TestServer::start().await;
    let tone = server.add_media(tone_wav(440.0, 8000, 0.5), 8000);
    let at = now() + CDuration::milliseconds(3000);
    server.set_doc(single(at, &tone));
    let dir = tempfile::tempdir().unwrap();
    let (c, wav) = start_to_wav(&server, dir.path());
    let key = occurrence_key("r1", at);
    wait_started(&dir.path().join("data/controller.sqlite"), &key).await;
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    server.push(
        "command",
        serde_json::to_string(&command("c1", CommandKind::Volume, Some(25))).unwrap(),
    );
    server
        .wait_for(30, "the played log", |i| i.logs.iter().any(|l| l.id == key))
        .await;
    c.stop().await;
    let log = server.log(&key).unwrap();
    assert_eq!(log.status, PlayStatus::Played, "{log:?}");
    let acks = server.inner.lock().unwrap().command_acks.clone();
    assert_eq!(acks.len(), 1, "{acks:?}");
    assert_eq!(acks[0].1.state, CommandState::Done);

    // The tone's first second is at full level, its last second at a quarter (-12 dB).
    let (samples, ch, rate, _) = read_aired(&wav);
    let first = first_loud(&samples, ch, 0, 0.01).unwrap();
    let r = rate as usize;
    let head = rms(&samples, ch, first + r / 10, first + r);
    let tail = rms(&samples, ch, first + 6 * r, first + 7 * r);
    assert!((head - 0.5 / 2f64.sqrt()).abs() < 0.02, "head rms {head}");
    assert!(
        (tail / head - 0.25).abs() < 0.02,
        "tail rms {tail}, head {head}"
    );

    // Persisted: a restarted controller reports it.
    server.inner.lock().unwrap().heartbeats.clear();
    let c = start(config(&server, dir.path().join("data"), OutputSpec::Null));
    server
        .wait_for(30, "a heartbeat", |i| !i.heartbeats.is_empty())
        .await;
    c.stop().await;
    assert_eq!(server.inner.lock().unwrap().heartbeats[0].volume, Some(25));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_listed_in_the_document_run_once_and_a_repeat_gets_the_same_ack() {
    let server = TestServer::start().await;
    let mut d = doc("v1", vec![], vec![]);
    d.commands = vec![
        command("c1", CommandKind::Volume, Some(40)),
        command("c2", CommandKind::Resync, None),
    ];
    server.set_doc(d);
    let dir = tempfile::tempdir().unwrap();
    let c = start(config(&server, dir.path().join("data"), OutputSpec::Null));
    server
        .wait_for(30, "both acks", |i| i.command_acks.len() >= 2)
        .await;
    // The server lost the ack: the command is pushed again; it is not run again.
    server.push(
        "command",
        serde_json::to_string(&command("c1", CommandKind::Volume, Some(90))).unwrap(),
    );
    server
        .wait_for(30, "the repeated ack", |i| i.command_acks.len() >= 3)
        .await;
    server
        .wait_for(30, "a heartbeat with the volume", |i| {
            i.heartbeats.iter().any(|h| h.volume == Some(40))
        })
        .await;
    c.stop().await;
    let acks = server.inner.lock().unwrap().command_acks.clone();
    assert!(
        acks.iter().all(|(_, a)| a.state == CommandState::Done),
        "{acks:?}"
    );
    assert_eq!(acks[0].1, acks[2].1, "the same recorded outcome: {acks:?}");
    let fetches = server.inner.lock().unwrap().schedule_fetches;
    assert!(fetches >= 2, "resync fetched the document: {fetches}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_volume_schedule_sets_the_level_of_what_airs() {
    let server = TestServer::start().await;
    let tone = server.add_media(tone_wav(440.0, 1500, 0.5), 1500);
    let at = now() + CDuration::milliseconds(3000);
    let mut d = doc(
        "v1",
        vec![one_off("r1", at, &tone, Priority::Normal)],
        vec![tone.clone()],
    );
    // One step, in force all day: half level.
    d.volume_schedule = vec![VolumeStep {
        from: parse_hhmm("12:00").unwrap(),
        volume: 50,
    }];
    server.set_doc(d);
    let dir = tempfile::tempdir().unwrap();
    let (c, wav) = start_to_wav(&server, dir.path());
    let key = occurrence_key("r1", at);
    server
        .wait_for(30, "the played log", |i| i.logs.iter().any(|l| l.id == key))
        .await;
    c.stop().await;
    let log = server.log(&key).unwrap();
    // A 0.5 sine is -9 dBFS RMS; at half level, -15 dBFS.
    assert!((log.rms_dbfs.unwrap() + 15.0).abs() < 0.5, "{log:?}");
    // And so is what reached the output.
    let (samples, ch, rate, _) = read_aired(&wav);
    let first = first_loud(&samples, ch, 0, 0.01).unwrap();
    let r = rate as usize;
    let level = rms(&samples, ch, first + r / 10, first + r);
    assert!(
        (level - 0.25 / 2f64.sqrt()).abs() < 0.01,
        "output rms {level}"
    );
}
