//! What a station will do: its schedule document (what controllers download) and its
//! plan (the same rules expanded and resolved with the `schedules` crate, exactly as the
//! controller does), and telling stations when their document changed.

pub mod document;
pub mod plan;

use crate::db;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use schedules::wire::Event;
use schedules::wire::ScheduleChanged;

/// Tell each of `stations` (codes) that its schedule document may have changed: publishes
/// a `schedule` event with the document's current version. Called after a change has been
/// committed, so a failure here is logged, not answered: the change stands, and stations
/// resynchronise on their next connection or heartbeat cycle.
pub async fn publish_schedules(state: &AppState, stations: Vec<String>, now: DateTime<Utc>) {
    // In small batches: each batch holds the database for a moment only, so that what
    // stations send meanwhile (urgent acknowledgements above all) is not held up behind a
    // province-wide change.
    for batch in stations.chunks(PUBLISH_BATCH) {
        let batch = batch.to_vec();
        let versions = state
            .db
            .call(move |conn| {
                let mut out = Vec::with_capacity(batch.len());
                for code in batch {
                    if let Some(st) = db::stations::get(conn, &code)? {
                        out.push((code, document::build(conn, &st, now)?.version));
                    }
                }
                Ok(out)
            })
            .await;
        let versions = match versions {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "could not tell stations of a schedule change");
                return;
            }
        };
        for (code, version) in versions {
            match serde_json::to_string(&ScheduleChanged { version }) {
                Ok(data) => state.hub.publish(&code, Event::Schedule, data),
                Err(e) => tracing::error!(error = %e, station = %code, "cannot encode event"),
            }
        }
    }
}

/// Stations whose documents [`publish_schedules`] builds in one database call.
const PUBLISH_BATCH: usize = 64;
