//! Background jobs that must run on one node at a time when several serve one store:
//! reconciliation and retention (`reports`), the CAP sources' poller (`cap-sources`). Each
//! round, a job's loop asks [`lead`]: the node holding the job's lease (or taking it, free
//! or expired) runs the round and renews it; the others skip. A node that dies stops
//! renewing, and another takes the job over when the lease expires: within
//! [`POLLER_LEASE`] for the poller, [`reports_lease`] for the reports round.

use crate::db;
use crate::state::AppState;
use chrono::Duration;

/// The CAP poller's lease: it renews every round (at most a second apart).
pub const POLLER_LEASE: Duration = Duration::seconds(15);

/// The reports round's lease: two rounds and a half-minute, so a holder that is merely
/// slow keeps it.
pub fn reports_lease(every: std::time::Duration) -> Duration {
    Duration::from_std(every * 2).unwrap_or(Duration::hours(1)) + Duration::seconds(30)
}

/// Whether this node runs `job` now (taking or renewing its lease for `ttl`). A store
/// error answers `false`: the round is skipped and tried again.
pub async fn lead(state: &AppState, job: &'static str, ttl: Duration) -> bool {
    let node = state.node.clone();
    let now = state.clock.now();
    match state
        .db
        .call(move |conn| Ok(db::leases::acquire(conn, job, &node, now, ttl)?))
        .await
    {
        Ok(held) => held,
        Err(e) => {
            tracing::warn!(job, error = %e.message, "cannot take the job's lease");
            false
        }
    }
}

/// Remember whether we led last round, and log when that changes.
#[derive(Debug, Default)]
pub struct Leading(Option<bool>);

impl Leading {
    /// Note this round's answer for `job`.
    pub fn note(&mut self, job: &str, node: &str, now: bool) {
        if self.0 != Some(now) {
            if now {
                tracing::info!(job, node, "this node runs the job");
            } else if self.0.is_some() {
                tracing::info!(job, node, "another node runs the job now");
            }
            self.0 = Some(now);
        }
    }
}
