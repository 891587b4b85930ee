//! Occurrences *awaiting* their log: planned in the report's period, already due, not yet
//! judged by reconciliation (see [`super::reconcile`]) and with no entry from the station.
//!
//! A station that has gone silent shows in every report at once, its planned minutes
//! counted and nothing aired, instead of only after reconciliation's grace has turned the
//! same occurrences into `missed` entries. Nothing is stored: an awaiting occurrence is
//! read from the plan each time, and becomes a real entry when the station's log or the
//! reconciliation arrives.

use super::reconcile::unjudged_from;
use crate::db::sql::{Connection, OptionalExtension};
use crate::db::stations::Station;
use crate::error::AppError;
use crate::planning::plan::{plan, PlanEntry};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// One occurrence awaiting its log.
#[derive(Debug, Clone, PartialEq)]
pub struct Awaited {
    /// When it was due.
    pub scheduled_at: DateTime<Utc>,
    /// Its category.
    pub category: String,
    /// Its full planned length in milliseconds.
    pub planned_ms: i64,
}

/// Pure: which of `planned` are awaiting — due in `[lo, hi)`, at or before `now`, with no
/// entry in `logged`.
pub fn select(
    planned: &[PlanEntry],
    logged: &HashSet<String>,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<PlanEntry> {
    planned
        .iter()
        .filter(|p| p.scheduled_at >= lo && p.scheduled_at < hi && p.scheduled_at <= now)
        .filter(|p| !logged.contains(&p.key))
        .cloned()
        .collect()
}

/// The occurrences of `station` due in `[from, to)` (unbounded on a None side) that await
/// their log at `now`, oldest first.
pub fn of_station(
    conn: &Connection,
    station: &Station,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Vec<Awaited>, AppError> {
    let start = unjudged_from(conn, &station.code, now)?;
    let lo = from.map_or(start, |f| f.max(start));
    // An occurrence due exactly at `now` is due: up to just after it.
    let soon = now + chrono::Duration::milliseconds(1);
    let hi = to.map_or(soon, |t| t.min(soon));
    if hi <= lo {
        return Ok(Vec::new());
    }
    let planned = plan(conn, station, lo, hi)?;
    // Only the due occurrences' own entries are looked up (by primary key): a long stretch
    // of a busy station's log is never read whole.
    let mut logged = HashSet::new();
    {
        let mut exists =
            conn.prepare_cached("SELECT 1 FROM logs WHERE station = ?1 AND id = ?2")?;
        for p in planned
            .iter()
            .filter(|p| p.scheduled_at >= lo && p.scheduled_at < hi && p.scheduled_at <= now)
        {
            if exists.exists(crate::db::sql::params![station.code, p.key])? {
                logged.insert(p.key.clone());
            }
        }
    }
    let mut out = Vec::new();
    let mut duration = conn.prepare_cached("SELECT duration_ms FROM media WHERE sha256 = ?1")?;
    for p in select(&planned, &logged, lo, hi, now) {
        // The same length a `missed` entry will carry (see reconciliation).
        let media_ms: Option<i64> = match &p.media_id {
            Some(m) => duration.query_row([m], |r| r.get(0)).optional()?,
            None => None,
        };
        out.push(Awaited {
            scheduled_at: p.scheduled_at,
            category: p.category,
            planned_ms: media_ms.unwrap_or(p.played_ms.min(i64::MAX as u64) as i64),
        });
    }
    out.sort_by_key(|a| a.scheduled_at);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use schedules::Priority;

    fn entry(key: &str, min: i64) -> PlanEntry {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::minutes(min);
        PlanEntry {
            starts_at: at,
            ends_at: Some(at + Duration::minutes(5)),
            scheduled_at: at,
            title: "Bản tin".into(),
            priority: Priority::Normal,
            category: "thông tin".into(),
            media_id: None,
            channel_id: None,
            schedule_id: Some("s".into()),
            urgent_id: None,
            status: "played".into(),
            reason: None,
            played_ms: 300_000,
            key: key.into(),
        }
    }

    fn at(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::minutes(min)
    }

    #[test]
    fn due_unlogged_occurrences_await_and_logged_or_future_ones_do_not() {
        let planned = [
            entry("early", -5),
            entry("a", 10),
            entry("logged", 20),
            entry("now", 30),
            entry("future", 40),
        ];
        let logged: HashSet<String> = ["logged".to_string()].into();
        let keys: Vec<_> = select(&planned, &logged, at(0), at(60), at(30))
            .into_iter()
            .map(|p| p.key)
            .collect();
        assert_eq!(keys, ["a", "now"]);
    }
}
