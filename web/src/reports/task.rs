//! The server's periodic reports task: reconcile plans with logs, then prune old logs
//! when a retention is set. Runs at start and every `Config::reconcile_every`, on the node
//! holding the `reports` lease (see [`crate::jobs`]).

use crate::state::AppState;

/// One round: reconcile, then prune. Failures are logged; the next round tries again.
pub async fn round(state: &AppState) {
    match super::reconcile::run(state).await {
        Ok(o) if o.missed > 0 => {
            tracing::info!(stations = o.stations, missed = o.missed, "reconciled logs")
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "reconciliation failed"),
    }
    if let Some(keep) = state.config.log_retention {
        let now = state.clock.now();
        match state
            .db
            .call(move |conn| Ok(super::retention::prune(conn, keep, now)?))
            .await
        {
            Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned old log entries"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "log pruning failed"),
        }
    }
}

/// Run rounds until the runtime stops.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(state.config.reconcile_every);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ttl = crate::jobs::reports_lease(state.config.reconcile_every);
        let mut leading = crate::jobs::Leading::default();
        loop {
            every.tick().await;
            let lead = crate::jobs::lead(&state, "reports", ttl).await;
            leading.note("reports", &state.node, lead);
            if lead {
                round(&state).await;
            }
        }
    })
}
