//! A cached media file corrupted on disk while the controller is down: the controller
//! finds it by hash at start, says so, fetches it again, and the next bulletin plays.

use chrono::Duration as CDuration;
use std::time::Duration;
use tests::harness::{exactly_once, now, World};
use tests::scenarios::due_times;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_cached_file_is_detected_by_hash_and_fetched_again() {
    let world = World::start().await.unwrap();
    let media = world.upload_tone(770.0, 800).await.unwrap();
    let first = due_times(Duration::from_secs(4), Duration::from_secs(1), 1);
    world.schedule_at("before", &media, first[0]).await.unwrap();
    let data = world.dir.path().join("controller");
    let ctl = world.controller(&world.url(), &data, "null").unwrap();
    let rows = world
        .wait_for_logs(Duration::from_secs(30), |r| r.len() == 1)
        .await;
    assert_eq!(rows.len(), 1, "first bulletin logged");
    assert_eq!(rows[0].status, "played");
    assert!(ctl.terminate().is_some_and(|s| s.success()));

    // Flip bytes in the middle of the cached file.
    let cached = data.join("media").join(&media);
    let mut bytes = std::fs::read(&cached).expect("the media is cached under its hash");
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&cached, &bytes).unwrap();

    let second = now() + CDuration::seconds(5);
    let second = second - CDuration::nanoseconds(i64::from(second.timestamp_subsec_nanos()));
    world.schedule_at("after", &media, second).await.unwrap();
    let ctl = world.controller(&world.url(), &data, "null").unwrap();
    let rows = world
        .wait_for_logs(Duration::from_secs(30), |r| r.len() == 2)
        .await;
    let by = exactly_once(&rows, &[first[0], second], &["played"])
        .unwrap_or_else(|e| panic!("{e}\n{rows:#?}"));
    assert_eq!(by.get("played"), Some(&2));
    ctl.terminate();
    // The file on disk is whole again and the controller said what it found.
    let again = std::fs::read(&cached).unwrap();
    assert_eq!(again.len(), bytes.len());
    assert_ne!(again, bytes, "the corrupt copy was replaced");
    let log = std::fs::read_to_string(world.dir.path().join("controller.log")).unwrap();
    assert!(log.contains("corrupt"), "the controller warns:\n{log}");
}
