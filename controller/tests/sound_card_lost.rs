//! The sound device going away and coming back (a private PulseAudio that is killed and
//! restarted). One test per file: it sets process-wide environment variables.

mod common;

use chrono::Duration as CDuration;
use common::pulse::Pulse;
use common::*;
use controller::OutputSpec;
use schedules::{occurrence_key, PlayStatus, Priority};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_sound_device_fails_due_bulletins_with_the_reason_and_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let pulse = Pulse::new(dir.path());
    pulse.up().unwrap();
    pulse.set_process_env();

    let server = TestServer::start().await;
    let m = server.add_media(tone_wav(1000.0, 500, 0.5), 500);
    server.set_doc(doc("v1", vec![], vec![m.clone()]));
    let c = start(config(
        &server,
        dir.path().join("data"),
        OutputSpec::Default,
    ));
    server
        .wait_for(30, "the cache ready", |i| {
            i.heartbeats.iter().any(|h| h.cache_ready)
        })
        .await;

    pulse.down();
    server
        .wait_for(30, "the output error in a heartbeat", |i| {
            i.heartbeats.iter().any(|h| h.output_error.is_some())
        })
        .await;
    let due = now() + CDuration::seconds(2);
    server.set_doc(doc(
        "v2",
        vec![one_off("lost", due, &m, Priority::Normal)],
        vec![m.clone()],
    ));
    server.push("schedule", r#"{"version":"v2"}"#.to_string());
    let key = occurrence_key("lost", due);
    server
        .wait_for(30, "the failed log", |i| i.logs.iter().any(|l| l.id == key))
        .await;
    let l = server.log(&key).unwrap();
    assert_eq!(l.status, PlayStatus::Failed, "{l:?}");
    assert!(
        l.reason.as_deref().unwrap().contains("sound device"),
        "{l:?}"
    );

    // The device comes back: the controller reopens it (every 10 s) and plays again.
    pulse.up().unwrap();
    server
        .wait_for(40, "the output error cleared", |i| {
            i.heartbeats
                .last()
                .is_some_and(|h| h.output_error.is_none())
        })
        .await;
    let back = now() + CDuration::seconds(2);
    server.set_doc(doc(
        "v3",
        vec![one_off("back", back, &m, Priority::Normal)],
        vec![m.clone()],
    ));
    server.push("schedule", r#"{"version":"v3"}"#.to_string());
    let key = occurrence_key("back", back);
    server
        .wait_for(30, "the played log", |i| i.logs.iter().any(|l| l.id == key))
        .await;
    c.stop().await;
    assert_eq!(server.log(&key).unwrap().status, PlayStatus::Played);
}
