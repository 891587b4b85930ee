//! Live broadcast sessions (#25) and their state at each target station.

use crate::db::areas::SUBTREE_CTE as SUBTREE;
use crate::db::sql::{params, Connection, OptionalExtension, Row};
use crate::db::{opt_ts, parse_ts, ts};
use chrono::{DateTime, Utc};

/// One session as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRow {
    /// Its id.
    pub id: String,
    /// Title, as logged.
    pub title: String,
    /// `priority` or `emergency`.
    pub priority: String,
    /// Area of its creator.
    pub owner_area: String,
    /// Who opened it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Requested targets, JSON `{"stations":[…],"areas":[…]}`.
    pub targets: String,
    /// Input format, JSON.
    pub format: String,
    /// `open` (waiting for audio), `live`, `ended`.
    pub state: String,
    /// First audio.
    pub started_at: Option<DateTime<Utc>>,
    /// End.
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it ended.
    pub end_reason: Option<String>,
    /// Audio received, ms.
    pub aired_ms: u64,
    /// The archived recording in the library.
    pub archive_sha256: Option<String>,
}

/// A session's state at one station.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct LiveStation {
    /// Station code.
    pub code: String,
    /// `connecting`, `waiting`, `airing`, `behind`, `lost`, `ended`.
    pub state: String,
    /// For `behind`: how late the audio reaches it, ms.
    pub behind_ms: u64,
    /// Aired so far, ms.
    pub played_ms: u64,
    /// Network gaps so far.
    pub gaps: u32,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

const COLS: &str = "l.id, l.title, l.priority, l.owner_area, l.created_by, l.created_at, \
    l.targets, l.format, l.state, l.started_at, l.ended_at, l.end_reason, l.aired_ms, \
    l.archive_sha256";

fn row(r: &Row<'_>) -> crate::db::sql::Result<LiveRow> {
    Ok(LiveRow {
        id: r.get(0)?,
        title: r.get(1)?,
        priority: r.get(2)?,
        owner_area: r.get(3)?,
        created_by: r.get(4)?,
        created_at: parse_ts(&r.get::<_, String>(5)?).unwrap_or_default(),
        targets: r.get(6)?,
        format: r.get(7)?,
        state: r.get(8)?,
        started_at: opt_ts(r.get(9)?),
        ended_at: opt_ts(r.get(10)?),
        end_reason: r.get(11)?,
        aired_ms: r.get::<_, i64>(12)?.max(0) as u64,
        archive_sha256: r.get(13)?,
    })
}

/// Store a new session and a `connecting` state for each of its stations.
pub fn insert(
    conn: &Connection,
    l: &LiveRow,
    stations: &[String],
    node: &str,
) -> crate::db::sql::Result<()> {
    conn.prepare_cached(
        "INSERT INTO live_sessions (id, title, priority, owner_area, created_by, created_at,
            targets, format, state, aired_ms, node)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10)",
    )?
    .execute(params![
        l.id,
        l.title,
        l.priority,
        l.owner_area,
        l.created_by,
        ts(l.created_at),
        l.targets,
        l.format,
        l.state,
        node
    ])?;
    let mut st = conn.prepare_cached(
        "INSERT INTO live_stations (session_id, station, state, updated_at)
         VALUES (?1, ?2, 'connecting', ?3)",
    )?;
    for s in stations {
        st.execute(params![l.id, s, ts(l.created_at)])?;
    }
    Ok(())
}

/// One session.
pub fn get(conn: &Connection, id: &str) -> crate::db::sql::Result<Option<LiveRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLS} FROM live_sessions l WHERE l.id = ?1"
    ))?
    .query_row([id], row)
    .optional()
}

/// Sessions the area's users can see (opened in their subtree or aimed at a station in
/// it), newest first, at most `limit`.
pub fn list_visible(
    conn: &Connection,
    area: &str,
    limit: u32,
) -> crate::db::sql::Result<Vec<LiveRow>> {
    let mut st = conn.prepare_cached(&format!(
        "{SUBTREE} SELECT {COLS} FROM live_sessions l
         WHERE l.owner_area IN (SELECT code FROM sub) OR EXISTS (
            SELECT 1 FROM live_stations ls JOIN stations s ON s.code = ls.station
            WHERE ls.session_id = l.id AND s.area IN (SELECT code FROM sub))
         ORDER BY l.created_at DESC, l.id LIMIT ?2"
    ))?;
    let rows = st.query_map(params![area, limit], row)?;
    rows.collect()
}

/// The session's stations with their state, by code.
pub fn stations(conn: &Connection, id: &str) -> crate::db::sql::Result<Vec<LiveStation>> {
    let mut st = conn.prepare_cached(
        "SELECT station, state, behind_ms, played_ms, gaps, updated_at FROM live_stations
         WHERE session_id = ?1 ORDER BY station",
    )?;
    let rows = st.query_map([id], |r| {
        Ok(LiveStation {
            code: r.get(0)?,
            state: r.get(1)?,
            behind_ms: r.get::<_, i64>(2)?.max(0) as u64,
            played_ms: r.get::<_, i64>(3)?.max(0) as u64,
            gaps: r.get::<_, i64>(4)?.clamp(0, i64::from(u32::MAX)) as u32,
            updated_at: parse_ts(&r.get::<_, String>(5)?).unwrap_or_default(),
        })
    })?;
    rows.collect()
}

/// Save one station's state.
pub fn set_station(conn: &Connection, id: &str, s: &LiveStation) -> crate::db::sql::Result<()> {
    conn.prepare_cached(
        "UPDATE live_stations SET state = ?3, behind_ms = ?4, played_ms = ?5, gaps = ?6,
            updated_at = ?7
         WHERE session_id = ?1 AND station = ?2",
    )?
    .execute(params![
        id,
        s.code,
        s.state,
        s.behind_ms as i64,
        s.played_ms as i64,
        s.gaps,
        ts(s.updated_at)
    ])?;
    Ok(())
}

/// The first audio arrived.
pub fn set_live(conn: &Connection, id: &str, at: DateTime<Utc>) -> crate::db::sql::Result<()> {
    conn.prepare_cached(
        "UPDATE live_sessions SET state = 'live', started_at = ?2 WHERE id = ?1 AND state = 'open'",
    )?
    .execute(params![id, ts(at)])?;
    Ok(())
}

/// The session ended; false when it had already ended.
pub fn end(
    conn: &Connection,
    id: &str,
    at: DateTime<Utc>,
    reason: &str,
    aired_ms: u64,
    archive: Option<&str>,
) -> crate::db::sql::Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE live_sessions SET state = 'ended', ended_at = ?2, end_reason = ?3,
                aired_ms = ?4, archive_sha256 = ?5
             WHERE id = ?1 AND state <> 'ended'",
        )?
        .execute(params![id, ts(at), reason, aired_ms as i64, archive])?;
    Ok(n > 0)
}

/// The node that carries session `id` (the one it was opened on), while it has not ended.
pub fn open_on(conn: &Connection, id: &str) -> crate::db::sql::Result<Option<String>> {
    conn.prepare_cached("SELECT node FROM live_sessions WHERE id = ?1 AND state <> 'ended'")?
        .query_row([id], |r| r.get(0))
        .optional()
}

/// End the sessions whose node is gone: on SQLite (one node) every session not ended,
/// at start; on PostgreSQL those whose node's push relay has not said it is alive for 15 s
/// (`node_alive`, kept by [`crate::push::relay`]), at start and then regularly.
pub fn end_orphans(conn: &Connection, at: DateTime<Utc>) -> crate::db::sql::Result<usize> {
    let gone = match conn.backend() {
        crate::db::sql::Backend::Sqlite => "",
        crate::db::sql::Backend::Postgres => {
            "AND NOT EXISTS (SELECT 1 FROM node_alive a
                 WHERE left(a.node, length(live_sessions.node) + 1) = live_sessions.node || '/'
                   AND a.seen_at > now() - interval '15 seconds')"
        }
    };
    conn.prepare_cached(&format!(
        "UPDATE live_sessions SET state = 'ended', ended_at = ?1,
            end_reason = 'the server restarted'
         WHERE state <> 'ended' {gone}"
    ))?
    .execute([ts(at)])
}
