//! Reconciliation: compare each station's plan (its rules and urgent notices expanded and
//! resolved by the same `schedules` code the controller runs) with its log, and record a
//! `missed` entry for every occurrence that left no trace — so a dead station shows up as
//! missed airtime, not as silence in the report.
//!
//! An occurrence is judged once it is *settled*: its planned end is before the cutoff,
//! `max(now − grace, the station's last sync when its outbox was empty)`, never after
//! `now`. Each station keeps a mark (`reconcile_marks`): everything due before it has been
//! judged, so each run looks only at the new stretch, with the rules as they are now —
//! close to the rules as they were, since runs come every few minutes.
//!
//! The missed entry's id is the occurrence key the controller itself would log
//! (`schedules::occurrence_key`), with `source = 'server'`. If the controller later
//! uploads its real entry for that occurrence, the device's entry replaces the server's
//! (see `db::logs::insert_batch`): what the station says it did wins.

use crate::db::sql::{params, Connection, OptionalExtension};
use crate::db::{self, stations::Station, ts};
use crate::error::AppError;
use crate::planning::plan::{plan, PlanEntry};
use crate::state::AppState;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::HashSet;

/// How far back a station that was never reconciled is looked at (its creation instant
/// is the other bound).
pub const MAX_FIRST_LOOKBACK: Duration = Duration::days(35);

/// The verdict on one stretch of a station's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Occurrences with no log entry.
    pub missed: Vec<PlanEntry>,
    /// Everything due before this instant is judged.
    pub next_mark: DateTime<Utc>,
}

/// Pure: which of `planned` (the plan of `[from, cutoff)`) have no entry in `logged`.
///
/// Only occurrences due in `[from, cutoff)` and planned to end before `cutoff` are judged;
/// the mark stops at the first one still unsettled, so it is judged by a later run.
pub fn missing(
    planned: &[PlanEntry],
    logged: &HashSet<String>,
    from: DateTime<Utc>,
    cutoff: DateTime<Utc>,
) -> Verdict {
    let mut next_mark = cutoff.max(from);
    let mut missed = Vec::new();
    for p in planned {
        if p.scheduled_at < from || p.scheduled_at >= cutoff {
            continue;
        }
        let end = p.ends_at.unwrap_or(p.starts_at).max(p.scheduled_at);
        if end >= cutoff {
            next_mark = next_mark.min(p.scheduled_at);
            continue;
        }
        if !logged.contains(&p.key) {
            missed.push(p.clone());
        }
    }
    // An occurrence due before the new mark but still unsettled would be lost: keep only
    // the settled ones due before the mark.
    missed.retain(|p| p.scheduled_at < next_mark);
    Verdict { missed, next_mark }
}

/// The instant up to which `station` is settled at `now`.
pub fn cutoff(station: &Station, now: DateTime<Utc>, grace: Duration) -> DateTime<Utc> {
    let synced = station
        .heartbeat
        .as_ref()
        .filter(|h| h.outbox_len == 0)
        .and_then(|h| h.last_sync);
    let c = match synced {
        Some(s) => (now - grace).max(s),
        None => now - grace,
    };
    c.min(now)
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ReconcileOutcome)]
pub struct Outcome {
    /// Stations looked at.
    pub stations: u64,
    /// `missed` entries recorded.
    pub missed: u64,
}

/// The instant from which `station`'s occurrences are not judged yet: its mark, else where
/// its first reconciliation starts (its creation, at most [`MAX_FIRST_LOOKBACK`] ago), and
/// never before pruned logs. The reports count what is due after it and not logged as
/// `awaiting`.
pub fn unjudged_from(
    conn: &Connection,
    station: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, AppError> {
    let mark: Option<String> = conn
        .query_row(
            "SELECT until FROM reconcile_marks WHERE station = ?1",
            [station],
            |r| r.get(0),
        )
        .optional()?;
    let created: Option<String> = conn
        .query_row(
            "SELECT created_at FROM stations WHERE code = ?1",
            [station],
            |r| r.get(0),
        )
        .optional()?;
    let mut from = match mark.as_deref().and_then(db::parse_ts) {
        Some(m) => m,
        None => created
            .as_deref()
            .and_then(db::parse_ts)
            .unwrap_or(now)
            .max(now - MAX_FIRST_LOOKBACK),
    };
    if let Some(p) = super::retention::pruned_before(conn)? {
        from = from.max(p);
    }
    Ok(from)
}

/// The ids of `station`'s log entries due in `[from, to)`.
fn logged_ids(
    conn: &Connection,
    station: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> crate::db::sql::Result<HashSet<String>> {
    let mut q = conn.prepare_cached(
        "SELECT id FROM logs WHERE station = ?1 AND scheduled_at >= ?2 AND scheduled_at < ?3",
    )?;
    let rows = q.query_map(params![station, ts(from), ts(to)], |r| r.get(0))?;
    rows.collect()
}

/// Reconcile one station up to its cutoff; answers the number of entries recorded.
pub fn station(
    conn: &mut Connection,
    st: &Station,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<u64, AppError> {
    let from = unjudged_from(conn, &st.code, now)?;
    let cutoff = cutoff(st, now, grace);
    if cutoff <= from {
        return Ok(0);
    }
    let planned = plan(conn, st, from, cutoff)?;
    let logged = logged_ids(conn, &st.code, from, cutoff)?;
    let verdict = missing(&planned, &logged, from, cutoff);
    let tx = conn.transaction()?;
    let mut n = 0;
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO logs (station, id, schedule_id, urgent_id, title, category,
                priority, media_sha256, scheduled_at, started_at, ended_at, played_ms, status,
                reason, received_at, source, planned_ms, local_date)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, NULL, 0, 'missed', ?10, ?11,
                'server', COALESCE((SELECT duration_ms FROM media WHERE sha256 = ?8), ?12), ?13) ON CONFLICT DO NOTHING",
        )?;
        for p in &verdict.missed {
            n += ins.execute(params![
                st.code,
                p.key,
                p.schedule_id,
                p.urgent_id,
                p.title,
                p.category,
                p.priority.as_str(),
                p.media_id,
                ts(p.scheduled_at),
                "no log entry from the station (recorded by the server's reconciliation)",
                ts(now),
                p.played_ms as i64,
                db::logs::local_date(p.scheduled_at, st.tz()),
            ])? as u64;
        }
        tx.execute(
            "INSERT INTO reconcile_marks (station, until) VALUES (?1, ?2)
             ON CONFLICT (station) DO UPDATE SET until = MAX(reconcile_marks.until, excluded.until)",
            params![st.code, ts(verdict.next_mark)],
        )?;
    }
    tx.commit()?;
    Ok(n)
}

/// Reconcile every station.
pub fn all(
    conn: &mut Connection,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<Outcome, AppError> {
    let stations = {
        let mut q = conn.prepare_cached("SELECT code FROM stations ORDER BY code")?;
        let codes = q.query_map([], |r| r.get::<_, String>(0))?;
        codes.collect::<Result<Vec<_>, _>>()?
    };
    let mut out = Outcome::default();
    for code in stations {
        let Some(st) = db::stations::get(conn, &code)? else {
            continue;
        };
        out.stations += 1;
        out.missed += station(conn, &st, now, grace)?;
    }
    Ok(out)
}

/// Run reconciliation now (reads the clock once).
pub async fn run(state: &AppState) -> Result<Outcome, AppError> {
    let now = state.clock.now();
    let grace = state.config.reconcile_grace;
    state.db.call(move |conn| all(conn, now, grace)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use schedules::Priority;

    fn entry(key: &str, min: i64, len_min: Option<i64>) -> PlanEntry {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::minutes(min);
        PlanEntry {
            starts_at: at,
            ends_at: len_min.map(|l| at + Duration::minutes(l)),
            scheduled_at: at,
            title: "Bản tin sáng".into(),
            priority: Priority::Normal,
            category: "thông tin".into(),
            media_id: Some("a".repeat(64)),
            channel_id: None,
            schedule_id: Some("s1".into()),
            urgent_id: None,
            status: "played".into(),
            reason: None,
            played_ms: len_min.unwrap_or(0) as u64 * 60_000,
            key: key.into(),
        }
    }

    fn at(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::minutes(min)
    }

    #[test]
    fn occurrences_without_a_log_entry_are_missed_and_logged_ones_are_not() {
        let planned = vec![
            entry("a", 10, Some(5)),
            entry("b", 30, Some(5)),
            entry("c", 50, None),
        ];
        let logged: HashSet<String> = ["b".to_string()].into();
        let v = missing(&planned, &logged, at(0), at(120));
        let keys: Vec<_> = v.missed.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["a", "c"]);
        assert_eq!(v.next_mark, at(120));
    }

    #[test]
    fn an_occurrence_still_on_air_at_the_cutoff_waits_for_a_later_run() {
        let planned = vec![
            entry("a", 10, Some(5)),
            entry("b", 100, Some(30)),
            entry("c", 110, Some(1)),
        ];
        let v = missing(&planned, &HashSet::new(), at(0), at(120));
        let keys: Vec<_> = v.missed.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["a"], "c is due after b, which is not settled");
        assert_eq!(v.next_mark, at(100));
    }

    #[test]
    fn occurrences_outside_the_stretch_are_left_alone() {
        let planned = vec![entry("old", -10, Some(5)), entry("late", 130, Some(1))];
        let v = missing(&planned, &HashSet::new(), at(0), at(120));
        assert!(v.missed.is_empty());
        assert_eq!(v.next_mark, at(120));
    }
}
