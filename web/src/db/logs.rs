//! The as-run log: one row per occurrence per station, uploaded by the controllers.

use crate::db::areas::SUBTREE_CTE as SUBTREE;
use crate::db::sql::Connection;
use crate::db::sql::ToSql;
use crate::db::sql::{params, Transaction};
use crate::db::{opt_ts, parse_ts, ts};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use schedules::wire::LogEntry;
use serde::Serialize;

/// One log row as answered.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LogRow {
    /// The device-made id (occurrence key).
    pub id: String,
    /// Station code.
    pub station: String,
    /// Title at the time.
    pub title: String,
    /// When it was due.
    pub scheduled_at: DateTime<Utc>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it stopped.
    pub ended_at: Option<DateTime<Utc>>,
    /// played, interrupted, skipped, failed or missed.
    pub status: String,
    /// Milliseconds aired.
    pub played_ms: u64,
    /// Category at the time.
    pub category: String,
    /// Level.
    pub priority: String,
    /// Why, for anything but played.
    pub reason: Option<String>,
    /// Source schedule.
    pub schedule_id: Option<String>,
    /// Source urgent notice.
    pub urgent_id: Option<String>,
    /// The media.
    pub media_id: Option<String>,
    /// RMS level, dBFS.
    pub rms_dbfs: Option<f64>,
    /// Peak level, dBFS.
    pub peak_dbfs: Option<f64>,
    /// `device` (uploaded by the controller) or `server` (a `missed` entry made by
    /// reconciliation).
    pub source: String,
    /// For a relay: each stretch of its window without the channel, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<schedules::wire::RelayGap>,
    /// For a programme's part: the id of the programme's entry (reports leave parts out).
    pub part_of: Option<String>,
}

/// Store a station's entries, ignoring ids it already holds from the device. Answers every
/// id now held.
///
/// A `missed` entry the server made by reconciliation (`source = 'server'`) is *replaced*
/// by the device's entry with the same id: the controller knows what really happened
/// (it may have played while the server could not hear from it).
pub fn insert_batch(
    tx: &Transaction<'_>,
    station: &str,
    entries: &[LogEntry],
    now: DateTime<Utc>,
) -> crate::db::sql::Result<Vec<String>> {
    Ok(insert_batch_counted(tx, station, entries, now)?.0)
}

/// [`insert_batch`], also answering how many entries were new (the others were held already).
pub fn insert_batch_counted(
    tx: &Transaction<'_>,
    station: &str,
    entries: &[LogEntry],
    now: DateTime<Utc>,
) -> crate::db::sql::Result<(Vec<String>, usize)> {
    let mut new = 0;
    let mut st = tx.prepare_cached(
        "INSERT INTO logs (station, id, schedule_id, urgent_id, title, category,
            priority, media_sha256, scheduled_at, started_at, ended_at, played_ms, status,
            reason, rms_dbfs, peak_dbfs, received_at, source, planned_ms, local_date, part_of,
            gaps)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
            'device',
            MAX(?12, COALESCE(?20, (SELECT duration_ms FROM media WHERE sha256 = ?8),
                              (SELECT window_ms FROM schedules WHERE id = ?3), 0)),
            ?18, ?19, ?21)
         ON CONFLICT (station, id) DO UPDATE SET
            schedule_id = excluded.schedule_id, urgent_id = excluded.urgent_id,
            title = excluded.title, category = excluded.category,
            priority = excluded.priority, media_sha256 = excluded.media_sha256,
            scheduled_at = excluded.scheduled_at, started_at = excluded.started_at,
            ended_at = excluded.ended_at, played_ms = excluded.played_ms,
            status = excluded.status, reason = excluded.reason,
            rms_dbfs = excluded.rms_dbfs, peak_dbfs = excluded.peak_dbfs,
            received_at = excluded.received_at, source = 'device',
            local_date = excluded.local_date, part_of = excluded.part_of,
            gaps = excluded.gaps,
            planned_ms = MAX(excluded.planned_ms, logs.planned_ms)
         WHERE logs.source = 'server'",
    )?;
    let tz: Tz = tx
        .query_row(
            "SELECT timezone FROM stations WHERE code = ?1",
            [station],
            |r| r.get::<_, String>(0),
        )
        .ok()
        .and_then(|z| z.parse().ok())
        .unwrap_or(schedules::DEFAULT_TZ);
    let mut accepted = Vec::with_capacity(entries.len());
    for e in entries {
        new += st.execute(params![
            station,
            e.id,
            e.schedule_id,
            e.urgent_id,
            e.title,
            e.category,
            e.priority.as_str(),
            e.media_sha256.as_ref().map(|m| m.as_str()),
            ts(e.scheduled_at),
            e.started_at.map(ts),
            e.ended_at.map(ts),
            e.played_ms.min(MAX_OCCURRENCE_MS) as i64,
            e.status.as_str(),
            e.reason,
            e.rms_dbfs.map(f64::from),
            e.peak_dbfs.map(f64::from),
            ts(now),
            // A programme's part is detail: out of the daily rollup (see migration 4).
            e.part_of.is_none().then(|| local_date(e.scheduled_at, tz)),
            e.part_of,
            e.planned_ms.map(|m| m.min(MAX_OCCURRENCE_MS) as i64),
            (!e.gaps.is_empty())
                .then(|| serde_json::to_string(&e.gaps).ok())
                .flatten(),
        ])?;
        accepted.push(e.id.clone());
    }
    Ok((accepted, new))
}

/// The longest a single occurrence can air: a device's `played_ms` or `planned_ms` beyond
/// it is not plausible and is stored as this ceiling, so that no sum over entries (the
/// reports, the daily rollup) can overflow, whatever a device sends.
pub const MAX_OCCURRENCE_MS: u64 = 24 * 3_600_000;

/// The date, in the station's zone `tz`, of an instant: the `local_date` column.
pub fn local_date(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d").to_string()
}

/// What to select.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this station.
    pub station: Option<String>,
    /// Only stations in this area's subtree.
    pub area: Option<String>,
    /// Only this category.
    pub category: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Due at or after.
    pub from: Option<DateTime<Utc>>,
    /// Due before.
    pub to: Option<DateTime<Utc>>,
    /// At most this many.
    pub limit: u32,
    /// Skip this many.
    pub offset: u32,
}

const FILTERED: &str = ", sub2(code) AS (
        SELECT code FROM areas WHERE code = ?3
        UNION SELECT a.code FROM areas a JOIN sub2 ON a.parent = sub2.code)
    SELECT {cols} FROM logs l JOIN stations s ON s.code = l.station
    WHERE s.area IN (SELECT code FROM sub)
      AND (?2 IS NULL OR l.station = ?2)
      AND (?3 IS NULL OR s.area IN (SELECT code FROM sub2))
      AND (?4 IS NULL OR l.category = ?4)
      AND (?5 IS NULL OR l.status = ?5)
      AND (?6 IS NULL OR l.scheduled_at >= ?6)
      AND (?7 IS NULL OR l.scheduled_at < ?7)";

/// Log rows of stations in `root`'s subtree, by due time.
pub fn query(conn: &Connection, root: &str, f: &Filter) -> crate::db::sql::Result<Vec<LogRow>> {
    let cols = "l.id, l.station, l.title, l.scheduled_at, l.started_at, l.ended_at, l.status, \
        l.played_ms, l.category, l.priority, l.reason, l.schedule_id, l.urgent_id, \
        l.media_sha256, l.rms_dbfs, l.peak_dbfs, l.source, l.part_of, l.gaps";
    let sql = format!(
        "{SUBTREE}{} ORDER BY l.scheduled_at, l.station, l.id LIMIT ?8 OFFSET ?9",
        FILTERED.replace("{cols}", cols)
    );
    with_filter(root, f, &[&f.limit, &f.offset], |bound| {
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(bound, |r| {
            Ok(LogRow {
                id: r.get(0)?,
                station: r.get(1)?,
                title: r.get(2)?,
                scheduled_at: parse_ts(&r.get::<_, String>(3)?).unwrap_or_default(),
                started_at: opt_ts(r.get(4)?),
                ended_at: opt_ts(r.get(5)?),
                status: r.get(6)?,
                played_ms: r.get::<_, i64>(7)?.max(0) as u64,
                category: r.get(8)?,
                priority: r.get(9)?,
                reason: r.get(10)?,
                schedule_id: r.get(11)?,
                urgent_id: r.get(12)?,
                media_id: r.get(13)?,
                rms_dbfs: r.get(14)?,
                peak_dbfs: r.get(15)?,
                source: r.get(16)?,
                part_of: r.get(17)?,
                gaps: r
                    .get::<_, Option<String>>(18)?
                    .and_then(|g| serde_json::from_str(&g).ok())
                    .unwrap_or_default(),
            })
        })?;
        rows.collect()
    })
}

/// Run `run` with the values `FILTERED` binds (`?1` the subtree root, `?2`–`?7` the
/// filter), followed by `extra`: [`query`] and [`count`] select the same rows.
fn with_filter<T>(
    root: &str,
    f: &Filter,
    extra: &[&dyn ToSql],
    run: impl FnOnce(&[&dyn ToSql]) -> T,
) -> T {
    let (from, to) = (f.from.map(ts), f.to.map(ts));
    let mut bound: Vec<&dyn ToSql> = vec![
        &root,
        &f.station,
        &f.area,
        &f.category,
        &f.status,
        &from,
        &to,
    ];
    bound.extend_from_slice(extra);
    run(&bound)
}

/// How many rows [`query`] selects, paging aside.
pub fn count(conn: &Connection, root: &str, f: &Filter) -> crate::db::sql::Result<u64> {
    let sql = format!("{SUBTREE}{}", FILTERED.replace("{cols}", "COUNT(*)"));
    with_filter(root, f, &[], |bound| {
        conn.query_row(&sql, bound, |r| r.get::<_, i64>(0))
    })
    .map(|n| n.max(0) as u64)
}

/// One row of the airtime report.
#[derive(Debug, Clone, PartialEq)]
pub struct Airtime {
    /// Station code.
    pub station: String,
    /// Station name.
    pub station_name: String,
    /// Category.
    pub category: String,
    /// Occurrences due.
    pub scheduled: i64,
    /// Played to the end.
    pub played: i64,
    /// Cut off.
    pub interrupted: i64,
    /// Skipped.
    pub skipped: i64,
    /// Failed.
    pub failed: i64,
    /// Missed.
    pub missed: i64,
    /// Minutes on air.
    pub aired_minutes: f64,
}

/// Airtime per station and category for stations in `root`'s subtree, due in `[from, to)`.
pub fn airtime(
    conn: &Connection,
    root: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> crate::db::sql::Result<Vec<Airtime>> {
    let cols = "l.station, s.name, l.category, COUNT(*),
        SUM(l.status = 'played'), SUM(l.status = 'interrupted'), SUM(l.status = 'skipped'),
        SUM(l.status = 'failed'), SUM(l.status = 'missed'), SUM(l.played_ms)";
    let sql = format!(
        "{SUBTREE}{} AND l.part_of IS NULL
         GROUP BY l.station, l.category ORDER BY l.station, l.category",
        FILTERED.replace("{cols}", cols)
    );
    let mut st = conn.prepare_cached(&sql)?;
    let none: Option<String> = None;
    let rows = st.query_map(
        params![root, none, none, none, none, from.map(ts), to.map(ts)],
        |r| {
            Ok(Airtime {
                station: r.get(0)?,
                station_name: r.get(1)?,
                category: r.get(2)?,
                scheduled: r.get(3)?,
                played: r.get(4)?,
                interrupted: r.get(5)?,
                skipped: r.get(6)?,
                failed: r.get(7)?,
                missed: r.get(8)?,
                aired_minutes: r.get::<_, i64>(9)? as f64 / 60_000.0,
            })
        },
    )?;
    rows.collect()
}
