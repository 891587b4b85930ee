//! Background jobs on one node at a time: two nodes (two states on one store) ask for the
//! same job's lease; one holds it while it renews, the other takes it once the first stops.

use chrono::Duration;
use schedules::SystemClock;
use std::sync::Arc;
use web::jobs::lead;
use web::state::AppState;

#[tokio::test(flavor = "multi_thread")]
async fn one_node_runs_a_job_and_another_takes_over_when_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let a = AppState::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let b = AppState::open(dir.path(), Arc::new(SystemClock)).unwrap();
    assert_ne!(a.node, b.node, "two states are two nodes");
    let ttl = Duration::seconds(2);
    assert!(lead(&a, "reports", ttl).await);
    // Both ask every 100 ms for 3 s; only the holder is ever answered yes.
    let (mut a_led, mut b_led) = (0, 0);
    for _ in 0..30 {
        let (x, y) = tokio::join!(lead(&a, "reports", ttl), lead(&b, "reports", ttl));
        a_led += usize::from(x);
        b_led += usize::from(y);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!((a_led, b_led), (30, 0));
    // Another job is leased on its own.
    assert!(lead(&b, "cap-sources", ttl).await);
    assert!(!lead(&a, "cap-sources", ttl).await);

    // a stops (a node killed): b takes the job once the lease has expired, not before.
    let stopped = std::time::Instant::now();
    drop(a);
    let took = loop {
        if lead(&b, "reports", ttl).await {
            break stopped.elapsed();
        }
        assert!(
            stopped.elapsed() < std::time::Duration::from_secs(10),
            "b never took the job over"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        took >= std::time::Duration::from_millis(1_500),
        "taken over before the lease expired: {took:?}"
    );
}
