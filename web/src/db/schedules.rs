//! Schedules: a rule (cron or one-off), what it plays (a media file, or a live channel for
//! a window) and the stations it targets.
//!
//! Targets are stations by code and areas (every station of the area's subtree, including
//! stations added later); `"*"` in the API is the creator's own area.

use crate::db::areas::SUBTREE_CTE as SUBTREE;
use crate::db::sql::{params, Connection, OptionalExtension, Row, Transaction};
use crate::db::{parse_ts, ts};
use chrono::{DateTime, NaiveDate, Utc};
use schedules::Priority;

/// What a schedule says, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec {
    /// Title, as logged.
    pub title: String,
    /// The media it plays (exactly one of `media_sha256`, `relay`).
    pub media_sha256: Option<String>,
    /// The live channel it relays, and for how long each time.
    pub relay: Option<RelaySpec>,
    /// Stations targeted by code.
    pub stations: Vec<String>,
    /// Areas targeted (their whole subtree).
    pub areas: Vec<String>,
    /// crontab(5) expression (exactly one of `cron`, `at`).
    pub cron: Option<String>,
    /// One-off instant.
    pub at: Option<DateTime<Utc>>,
    /// First local date.
    pub starts_on: Option<NaiveDate>,
    /// Last local date.
    pub ends_on: Option<NaiveDate>,
    /// Local dates it does not fire on.
    pub excluded_dates: Vec<NaiveDate>,
    /// `normal` or `priority`.
    pub priority: Priority,
    /// Category for reports.
    pub category: String,
    /// How long it may wait behind another item.
    pub max_wait_ms: u64,
    /// The programme it airs (then `media_sha256` is the programme's first media part).
    pub programme_id: Option<String>,
}

/// A relay: the channel and the window's length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelaySpec {
    /// The channel's id.
    pub channel_id: String,
    /// The window, milliseconds.
    pub window_ms: u64,
}

/// One stored schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRow {
    /// Its id.
    pub id: String,
    /// What it says.
    pub spec: ScheduleSpec,
    /// Paused schedules are not sent to stations.
    pub paused: bool,
    /// The area of its creator.
    pub owner_area: String,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

const COLS: &str = "s.id, s.title, s.media_sha256, s.cron, s.at, s.starts_on, s.ends_on, \
    s.excluded_dates, s.priority, s.category, s.max_wait_ms, s.paused, s.owner_area, \
    s.created_by, s.created_at, s.updated_at, s.channel_id, s.window_ms, s.programme_id";

fn row(r: &Row<'_>) -> crate::db::sql::Result<ScheduleRow> {
    let at: Option<String> = r.get(4)?;
    let date = |s: Option<String>| s.and_then(|s| s.parse::<NaiveDate>().ok());
    let excluded: String = r.get(7)?;
    let priority: String = r.get(8)?;
    Ok(ScheduleRow {
        id: r.get(0)?,
        spec: ScheduleSpec {
            title: r.get(1)?,
            media_sha256: r.get(2)?,
            relay: match (
                r.get::<_, Option<String>>(16)?,
                r.get::<_, Option<i64>>(17)?,
            ) {
                (Some(channel_id), Some(w)) => Some(RelaySpec {
                    channel_id,
                    window_ms: w.max(0) as u64,
                }),
                _ => None,
            },
            stations: Vec::new(),
            areas: Vec::new(),
            cron: r.get(3)?,
            at: at.as_deref().and_then(parse_ts),
            starts_on: date(r.get(5)?),
            ends_on: date(r.get(6)?),
            excluded_dates: serde_json::from_str(&excluded).unwrap_or_default(),
            priority: priority.parse().unwrap_or_default(),
            category: r.get(9)?,
            max_wait_ms: r.get::<_, i64>(10)?.max(0) as u64,
            programme_id: r.get(18)?,
        },
        paused: r.get(11)?,
        owner_area: r.get(12)?,
        created_by: r.get(13)?,
        created_at: parse_ts(&r.get::<_, String>(14)?).unwrap_or_default(),
        updated_at: parse_ts(&r.get::<_, String>(15)?).unwrap_or_default(),
    })
}

fn load_targets(conn: &Connection, s: &mut ScheduleRow) -> crate::db::sql::Result<()> {
    let mut st = conn.prepare_cached(
        "SELECT kind, code FROM schedule_targets WHERE schedule_id = ?1 ORDER BY kind, code",
    )?;
    let rows = st.query_map([&s.id], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
    s.spec.stations.clear();
    s.spec.areas.clear();
    for row in rows {
        let (kind, code) = row?;
        if kind == "station" {
            s.spec.stations.push(code);
        } else {
            s.spec.areas.push(code);
        }
    }
    Ok(())
}

fn collect(
    conn: &Connection,
    sql: &str,
    p: impl crate::db::sql::Params,
) -> crate::db::sql::Result<Vec<ScheduleRow>> {
    let mut st = conn.prepare_cached(sql)?;
    let mut out: Vec<ScheduleRow> = st.query_map(p, row)?.collect::<Result<_, _>>()?;
    for s in &mut out {
        load_targets(conn, s)?;
    }
    Ok(out)
}

fn write_targets(
    tx: &Transaction<'_>,
    id: &str,
    spec: &ScheduleSpec,
) -> crate::db::sql::Result<()> {
    tx.execute("DELETE FROM schedule_targets WHERE schedule_id = ?1", [id])?;
    let mut st = tx.prepare_cached(
        "INSERT INTO schedule_targets (schedule_id, kind, code) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?;
    for s in &spec.stations {
        st.execute(params![id, "station", s])?;
    }
    for a in &spec.areas {
        st.execute(params![id, "area", a])?;
    }
    Ok(())
}

/// Store a new schedule.
pub fn insert(
    tx: &Transaction<'_>,
    id: &str,
    spec: &ScheduleSpec,
    owner_area: &str,
    created_by: &str,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<()> {
    tx.execute(
        "INSERT INTO schedules (id, title, media_sha256, cron, at, starts_on, ends_on,
            excluded_dates, priority, category, max_wait_ms, paused, owner_area, created_by,
            created_at, updated_at, channel_id, window_ms, programme_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, ?12, ?13, ?14, ?14, ?15, ?16,
            ?17)",
        params![
            id,
            spec.title,
            spec.media_sha256,
            spec.cron,
            spec.at.map(ts),
            spec.starts_on.map(|d| d.to_string()),
            spec.ends_on.map(|d| d.to_string()),
            serde_json::to_string(&spec.excluded_dates).unwrap_or_else(|_| "[]".into()),
            spec.priority.as_str(),
            spec.category,
            spec.max_wait_ms as i64,
            owner_area,
            created_by,
            ts(now),
            spec.relay.as_ref().map(|r| &r.channel_id),
            spec.relay.as_ref().map(|r| r.window_ms as i64),
            spec.programme_id
        ],
    )?;
    write_targets(tx, id, spec)
}

/// Replace what a schedule says.
pub fn update(
    tx: &Transaction<'_>,
    id: &str,
    spec: &ScheduleSpec,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<()> {
    tx.execute(
        "UPDATE schedules SET title = ?2, media_sha256 = ?3, cron = ?4, at = ?5, starts_on = ?6,
            ends_on = ?7, excluded_dates = ?8, priority = ?9, category = ?10, max_wait_ms = ?11,
            updated_at = ?12, channel_id = ?13, window_ms = ?14, programme_id = ?15
         WHERE id = ?1",
        params![
            id,
            spec.title,
            spec.media_sha256,
            spec.cron,
            spec.at.map(ts),
            spec.starts_on.map(|d| d.to_string()),
            spec.ends_on.map(|d| d.to_string()),
            serde_json::to_string(&spec.excluded_dates).unwrap_or_else(|_| "[]".into()),
            spec.priority.as_str(),
            spec.category,
            spec.max_wait_ms as i64,
            ts(now),
            spec.relay.as_ref().map(|r| &r.channel_id),
            spec.relay.as_ref().map(|r| r.window_ms as i64),
            spec.programme_id
        ],
    )?;
    write_targets(tx, id, spec)
}

/// One schedule by id.
pub fn get(conn: &Connection, id: &str) -> crate::db::sql::Result<Option<ScheduleRow>> {
    let s = conn
        .query_row(
            &format!("SELECT {COLS} FROM schedules s WHERE s.id = ?1"),
            [id],
            row,
        )
        .optional()?;
    match s {
        Some(mut s) => {
            load_targets(conn, &mut s)?;
            Ok(Some(s))
        }
        None => Ok(None),
    }
}

/// The stations a schedule plays on now, by code.
pub fn target_stations(conn: &Connection, id: &str) -> crate::db::sql::Result<Vec<String>> {
    let mut st = conn.prepare_cached(
        "WITH RECURSIVE sub(code) AS (
            SELECT code FROM schedule_targets WHERE schedule_id = ?1 AND kind = 'area'
            UNION SELECT a.code FROM areas a JOIN sub ON a.parent = sub.code)
         SELECT code FROM stations
         WHERE area IN (SELECT code FROM sub)
            OR code IN (SELECT code FROM schedule_targets WHERE schedule_id = ?1 AND kind = 'station')
         ORDER BY code",
    )?;
    let rows = st.query_map([id], |r| r.get(0))?;
    rows.collect()
}

/// The schedules that target a station (in area `area`), paused ones only if asked.
pub fn for_station(
    conn: &Connection,
    station: &str,
    area: &str,
    include_paused: bool,
) -> crate::db::sql::Result<Vec<ScheduleRow>> {
    collect(
        conn,
        &format!(
            "WITH RECURSIVE up(code, parent) AS (
                SELECT code, parent FROM areas WHERE code = ?2
                UNION SELECT a.code, a.parent FROM areas a JOIN up ON a.code = up.parent)
             SELECT {COLS} FROM schedules s
             WHERE (?3 OR s.paused = 0) AND EXISTS (SELECT 1 FROM schedule_targets t
                WHERE t.schedule_id = s.id AND ((t.kind = 'station' AND t.code = ?1)
                   OR (t.kind = 'area' AND t.code IN (SELECT code FROM up))))
             ORDER BY s.id"
        ),
        params![station, area, include_paused],
    )
}

/// Schedules users of `area` see: created in their subtree, or playing on a station in it.
pub fn list_visible(conn: &Connection, area: &str) -> crate::db::sql::Result<Vec<ScheduleRow>> {
    collect(
        conn,
        &format!(
            "{SUBTREE}, up(code, parent) AS (
                SELECT code, parent FROM areas WHERE code = ?1
                UNION SELECT a.code, a.parent FROM areas a JOIN up ON a.code = up.parent)
             SELECT {COLS} FROM schedules s
             WHERE s.owner_area IN (SELECT code FROM sub) OR EXISTS (
                SELECT 1 FROM schedule_targets t WHERE t.schedule_id = s.id AND (
                   (t.kind = 'station' AND t.code IN
                        (SELECT code FROM stations WHERE area IN (SELECT code FROM sub)))
                   OR (t.kind = 'area' AND (t.code IN (SELECT code FROM sub)
                                            OR t.code IN (SELECT code FROM up)))))
             ORDER BY s.created_at, s.id"
        ),
        [area],
    )
}

/// Pause or resume.
pub fn set_paused(
    conn: &Connection,
    id: &str,
    paused: bool,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<()> {
    conn.execute(
        "UPDATE schedules SET paused = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, paused, ts(now)],
    )?;
    Ok(())
}

/// Delete a schedule.
pub fn delete(conn: &Connection, id: &str) -> crate::db::sql::Result<()> {
    conn.execute("DELETE FROM schedules WHERE id = ?1", [id])?;
    Ok(())
}
