//! The server goes away while bulletins are due: they play from the cache and their logs
//! arrive exactly once when it is back on the same address.

use std::time::Duration;
use tests::scenarios::server_outage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulletins_due_during_a_server_outage_play_and_are_logged_once() {
    let o = server_outage(3, Duration::from_millis(2500)).await.unwrap();
    println!(
        "FAULTS outages={} due={} statuses={:?}",
        o.outages, o.due, o.by_status
    );
    assert_eq!(o.problems, None, "rows: {:#?}", o.rows);
    assert_eq!(o.by_status.get("played"), Some(&4));
}
