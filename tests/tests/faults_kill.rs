//! kill -9 the real controller at random moments while bulletins come due: every
//! occurrence has exactly one log row at the server.

use std::time::Duration;
use tests::scenarios::kill_storm;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bulletin_is_logged_exactly_once_across_random_kills() {
    let o = kill_storm(8, Duration::from_millis(2500), 1200, 0x10ad)
        .await
        .unwrap();
    println!(
        "FAULTS kills={} due={} statuses={:?}",
        o.kills, o.due, o.by_status
    );
    assert!(o.kills >= 8, "only {} kills", o.kills);
    assert_eq!(o.problems, None, "rows: {:#?}", o.rows);
    assert_eq!(o.lost_or_duplicated, 0);
    assert_eq!(o.by_status.values().sum::<usize>(), 8);
}
