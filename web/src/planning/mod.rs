//! What a station will do: its schedule document (what controllers download) and its
//! plan (the same rules expanded and resolved with the `schedules` crate, exactly as the
//! controller does), and telling stations when their document changed.

pub mod document;
pub mod plan;

use crate::db;
use crate::error::AppError;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use schedules::wire::ScheduleChanged;

/// Tell each of `stations` (codes) that its schedule document may have changed: publishes
/// a `schedule` event with the document's current version.
pub async fn publish_schedules(
    state: &AppState,
    stations: Vec<String>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if stations.is_empty() {
        return Ok(());
    }
    let versions = state
        .db
        .call(move |conn| {
            let mut out = Vec::with_capacity(stations.len());
            for code in stations {
                if let Some(st) = db::stations::get(conn, &code)? {
                    out.push((code, document::build(conn, &st, now)?.version));
                }
            }
            Ok(out)
        })
        .await?;
    for (code, version) in versions {
        let data = serde_json::to_string(&ScheduleChanged { version })?;
        state.hub.publish(&code, "schedule", data);
    }
    Ok(())
}
