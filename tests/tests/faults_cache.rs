//! A cached media file corrupted on disk while the controller is down: the controller
//! finds it by hash at start, says so, fetches it again, and the next bulletin plays.

use std::time::Duration;
use tests::e2e::at_in;
use tests::scenarios::{due_times, exactly_once, World, STATION};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_cached_file_is_detected_by_hash_and_fetched_again() {
    let world = World::start().await.unwrap();
    let media = world.api.upload_tone(770.0, 800).await.unwrap();
    let first = due_times(Duration::from_secs(5), Duration::from_secs(1), 1);
    world
        .api
        .schedule_at("before", &media, STATION, first[0])
        .await
        .unwrap();
    let ctl = world.controller(&world.url(), "null").unwrap();
    let rows = world
        .wait_for_logs(Duration::from_secs(30), |r| r.len() == 1)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "first bulletin logged: {rows:?}");
    assert_eq!(rows[0].status, "played");
    ctl.terminate().unwrap();

    // Flip bytes in the middle of the cached file.
    let cached = world.controller_data().join("media").join(&media);
    let mut bytes = std::fs::read(&cached).expect("the media is cached under its hash");
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&cached, &bytes).unwrap();

    let second = at_in(6);
    world
        .api
        .schedule_at("after", &media, STATION, second)
        .await
        .unwrap();
    let ctl = world.controller(&world.url(), "null").unwrap();
    let rows = world
        .wait_for_logs(Duration::from_secs(30), |r| r.len() == 2)
        .await
        .unwrap();
    let by = exactly_once(&rows, &[first[0], second], &["played"])
        .unwrap_or_else(|e| panic!("{e}\n{rows:#?}"));
    assert_eq!(by.get("played"), Some(&2));
    ctl.terminate().unwrap();
    // The file on disk is whole again and the controller said what it found.
    let again = std::fs::read(&cached).unwrap();
    assert_eq!(
        controller::fetch::sha256_file(&cached).unwrap(),
        media,
        "the cached copy is whole again"
    );
    assert_ne!(again, bytes, "the corrupt copy was replaced");
    let log = world.controller_log();
    assert!(
        log.contains("cached file is corrupt"),
        "the controller warns:\n{log}"
    );
}
