//! A fault-injecting proxy between the real controller and the real server (a media
//! download stalled mid-file, then latency, dropped connections, resets, half-closes,
//! stalls): the download resumes, sync, media and logs converge, every bulletin plays and
//! is logged once.

use std::time::Duration;
use tests::scenarios::proxy_faults;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_media_and_logs_converge_through_a_faulty_network() {
    let o = proxy_faults(4, Duration::from_secs(3), 7).await.unwrap();
    println!(
        "FAULTS proxy_faults={} due={} statuses={:?}",
        o.proxy_faults, o.due, o.by_status
    );
    assert_eq!(o.problems, None, "rows: {:#?}", o.rows);
    assert_eq!(o.by_status.get("played"), Some(&4));
    assert!(o.proxy_faults > 1, "the proxy injected too few faults");
}
