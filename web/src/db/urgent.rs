//! Urgent notices and their delivery state at each target station.

use crate::db::areas::SUBTREE_CTE as SUBTREE;
use crate::db::sql::{params, Connection, OptionalExtension, Row, ToSql, Transaction};
use crate::db::{opt_ts, parse_ts, ts};
use chrono::{DateTime, Utc};
use schedules::wire::UrgentState;

/// One notice as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct UrgentRow {
    /// Its id.
    pub id: String,
    /// Title, as logged.
    pub title: String,
    /// Media played.
    pub media_sha256: String,
    /// Category.
    pub category: String,
    /// Total airings.
    pub repeat: u32,
    /// Seconds between airings.
    pub interval_s: u64,
    /// First airing.
    pub starts_at: DateTime<Utc>,
    /// No airing starts at or after this.
    pub expires_at: Option<DateTime<Utc>>,
    /// Area of its creator.
    pub owner_area: String,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The text spoken, for a text notice.
    pub text: Option<String>,
    /// The CAP message it came from ("sender,identifier").
    pub cap_key: Option<String>,
}

/// Delivery at one station.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Station code.
    pub code: String,
    /// State.
    pub state: UrgentState,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Why it failed, if it did.
    pub reason: Option<String>,
    /// When the station said it had the notice.
    pub received_at: Option<DateTime<Utc>>,
    /// When it started playing (the last airing, for a repeated notice).
    pub playing_at: Option<DateTime<Utc>>,
    /// When it finished playing.
    pub played_at: Option<DateTime<Utc>>,
    /// When it failed.
    pub failed_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// Parse a stored state.
pub fn parse_state(s: &str) -> UrgentState {
    match s {
        "received" => UrgentState::Received,
        "playing" => UrgentState::Playing,
        "played" => UrgentState::Played,
        "failed" => UrgentState::Failed,
        "cancelled" => UrgentState::Cancelled,
        _ => UrgentState::Pending,
    }
}

const COLS: &str = "u.id, u.title, u.media_sha256, u.category, u.repeat, u.interval_s, \
    u.starts_at, u.expires_at, u.owner_area, u.created_by, u.created_at, u.cancelled_at, \
    u.text, u.cap_key";

fn row(r: &Row<'_>) -> crate::db::sql::Result<UrgentRow> {
    Ok(UrgentRow {
        id: r.get(0)?,
        title: r.get(1)?,
        media_sha256: r.get(2)?,
        category: r.get(3)?,
        repeat: r.get::<_, i64>(4)?.clamp(1, u32::MAX as i64) as u32,
        interval_s: r.get::<_, i64>(5)?.max(0) as u64,
        starts_at: parse_ts(&r.get::<_, String>(6)?).unwrap_or_default(),
        expires_at: opt_ts(r.get(7)?),
        owner_area: r.get(8)?,
        created_by: r.get(9)?,
        created_at: parse_ts(&r.get::<_, String>(10)?).unwrap_or_default(),
        cancelled_at: opt_ts(r.get(11)?),
        text: r.get(12)?,
        cap_key: r.get(13)?,
    })
}

/// Deliveries written by one `INSERT` (SQLite takes 32,766 values a statement).
const DELIVERIES_PER_INSERT: usize = 500;

/// Store a notice and a `pending` delivery for each station.
pub fn insert(
    tx: &Transaction<'_>,
    u: &UrgentRow,
    stations: &[String],
) -> crate::db::sql::Result<()> {
    tx.execute(
        "INSERT INTO urgent (id, title, media_sha256, category, repeat, interval_s, starts_at,
            expires_at, owner_area, created_by, created_at, text, cap_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            u.id,
            u.title,
            u.media_sha256,
            u.category,
            u.repeat,
            u.interval_s as i64,
            ts(u.starts_at),
            u.expires_at.map(ts),
            u.owner_area,
            u.created_by,
            ts(u.created_at),
            u.text,
            u.cap_key
        ],
    )?;
    // A few hundred rows a statement: on PostgreSQL each statement is a round trip, and a
    // province-wide notice has thousands of stations (one each: 0.2 ms a station).
    let at = ts(u.created_at);
    for chunk in stations.chunks(DELIVERIES_PER_INSERT) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("(?1, ?{}, 'pending', ?2)", i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO urgent_stations (urgent_id, station, state, updated_at)
             VALUES {} ON CONFLICT DO NOTHING",
            rows.join(", ")
        );
        let mut args: Vec<&dyn ToSql> = vec![&u.id, &at];
        args.extend(chunk.iter().map(|s| s as &dyn ToSql));
        tx.prepare(&sql)?.execute(args.as_slice())?;
    }
    Ok(())
}

/// One notice by id.
pub fn get(conn: &Connection, id: &str) -> crate::db::sql::Result<Option<UrgentRow>> {
    conn.query_row(
        &format!("SELECT {COLS} FROM urgent u WHERE u.id = ?1"),
        [id],
        row,
    )
    .optional()
}

/// Delivery at every target station, by code.
pub fn deliveries(conn: &Connection, id: &str) -> crate::db::sql::Result<Vec<Delivery>> {
    let mut st = conn.prepare_cached(
        "SELECT station, state, updated_at, reason, received_at, playing_at, played_at,
            failed_at, cancelled_at FROM urgent_stations
         WHERE urgent_id = ?1 ORDER BY station",
    )?;
    let rows = st.query_map([id], |r| {
        Ok(Delivery {
            code: r.get(0)?,
            state: parse_state(&r.get::<_, String>(1)?),
            updated_at: parse_ts(&r.get::<_, String>(2)?).unwrap_or_default(),
            reason: r.get(3)?,
            received_at: opt_ts(r.get(4)?),
            playing_at: opt_ts(r.get(5)?),
            played_at: opt_ts(r.get(6)?),
            failed_at: opt_ts(r.get(7)?),
            cancelled_at: opt_ts(r.get(8)?),
        })
    })?;
    rows.collect()
}

/// Notices users of `area` see: created in their subtree or sent to a station in it; newest first.
pub fn list_visible(conn: &Connection, area: &str) -> crate::db::sql::Result<Vec<UrgentRow>> {
    let mut st = conn.prepare_cached(&format!(
        "{SUBTREE} SELECT {COLS} FROM urgent u
         WHERE u.owner_area IN (SELECT code FROM sub) OR EXISTS (
            SELECT 1 FROM urgent_stations us JOIN stations s ON s.code = us.station
            WHERE us.urgent_id = u.id AND s.area IN (SELECT code FROM sub))
         ORDER BY u.created_at DESC, u.id"
    ))?;
    let rows = st.query_map([area], row)?;
    rows.collect()
}

/// Notices sent to a station that were not cancelled, with the station's delivery state.
pub fn for_station(
    conn: &Connection,
    station: &str,
) -> crate::db::sql::Result<Vec<(UrgentRow, UrgentState)>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLS}, us.state FROM urgent u JOIN urgent_stations us ON us.urgent_id = u.id
         WHERE us.station = ?1 AND u.cancelled_at IS NULL AND us.state <> 'cancelled'
         ORDER BY u.starts_at, u.id"
    ))?;
    let rows = st.query_map([station], |r| {
        Ok((row(r)?, parse_state(&r.get::<_, String>(14)?)))
    })?;
    rows.collect()
}

/// Whether a notice sent to `station`, and not cancelled or played there (as its document
/// has it), airs `sha256`: such audio may be downloaded by the station at once, without
/// building its whole document (every station fetches a notice's audio in the same second).
pub fn airs_media(conn: &Connection, station: &str, sha256: &str) -> crate::db::sql::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM urgent u JOIN urgent_stations us ON us.urgent_id = u.id
         WHERE us.station = ?1 AND u.media_sha256 = ?2 AND u.cancelled_at IS NULL
           AND us.state NOT IN ('played', 'cancelled'))",
    )?
    .query_row([station, sha256], |r| r.get(0))
}

fn rank(s: UrgentState) -> u8 {
    match s {
        UrgentState::Pending => 0,
        UrgentState::Received => 1,
        UrgentState::Playing => 2,
        UrgentState::Played | UrgentState::Failed => 3,
        UrgentState::Cancelled => 4,
    }
}

/// What an acknowledgement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acked {
    /// The station is not a target of the notice.
    Unknown,
    /// The state did not move (late or repeated acknowledgement).
    Unchanged,
    /// The state moved from the first to the second.
    Moved(UrgentState, UrgentState),
}

fn time_column(s: UrgentState) -> Option<&'static str> {
    match s {
        UrgentState::Received => Some("received_at"),
        UrgentState::Playing => Some("playing_at"),
        UrgentState::Played => Some("played_at"),
        UrgentState::Failed => Some("failed_at"),
        UrgentState::Cancelled => Some("cancelled_at"),
        UrgentState::Pending => None,
    }
}

/// Apply a station's acknowledgement. States only move forward (a late `received` after
/// `played` changes nothing); a cancelled delivery stays cancelled. The instant of every
/// state reached is kept (`received_at`, `playing_at`, …); a repeated notice moves from
/// `played` back to `playing` for its next airing.
pub fn acknowledge(
    conn: &Connection,
    id: &str,
    station: &str,
    state: UrgentState,
    at: DateTime<Utc>,
    reason: Option<&str>,
) -> crate::db::sql::Result<Acked> {
    let current: Option<String> = conn
        .query_row(
            "SELECT state FROM urgent_stations WHERE urgent_id = ?1 AND station = ?2",
            params![id, station],
            |r| r.get(0),
        )
        .optional()?;
    let Some(current) = current else {
        return Ok(Acked::Unknown);
    };
    let current = parse_state(&current);
    // A repeated notice plays again after `played`.
    let next_airing = current == UrgentState::Played && state == UrgentState::Playing;
    let forward = (rank(state) > rank(current) || next_airing) && current != UrgentState::Cancelled;
    if !forward || state == UrgentState::Cancelled {
        return Ok(Acked::Unchanged);
    }
    let col = time_column(state).unwrap_or("updated_at");
    conn.execute(
        &format!(
            "UPDATE urgent_stations SET state = ?3, updated_at = ?4, reason = ?5, {col} = ?4
             WHERE urgent_id = ?1 AND station = ?2"
        ),
        params![id, station, state.as_str(), ts(at), reason],
    )?;
    Ok(Acked::Moved(current, state))
}

/// Cancel a notice: every delivery not yet played becomes `cancelled` (and, for a repeated
/// notice, those that played already: their further airings stop). Answers the stations
/// that were cancelled (they must be told to stop).
pub fn cancel(
    conn: &Connection,
    id: &str,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<Vec<String>> {
    conn.execute(
        "UPDATE urgent SET cancelled_at = ?2 WHERE id = ?1 AND cancelled_at IS NULL",
        params![id, ts(now)],
    )?;
    let repeated: bool = conn
        .query_row("SELECT repeat > 1 FROM urgent WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(false);
    const OPEN: &str = "urgent_id = ?1 AND state <> 'cancelled' AND (state <> 'played' OR ?2)";
    let mut st = conn.prepare_cached(&format!(
        "SELECT station FROM urgent_stations WHERE {OPEN} ORDER BY station"
    ))?;
    let stations: Vec<String> = st
        .query_map(params![id, repeated], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    conn.execute(
        &format!(
            "UPDATE urgent_stations SET state = 'cancelled', updated_at = ?3, cancelled_at = ?3
             WHERE {OPEN}"
        ),
        params![id, repeated, ts(now)],
    )?;
    Ok(stations)
}

/// A CAP message as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct CapRecord {
    /// "sender,identifier".
    pub key: String,
    /// Sender.
    pub sender: String,
    /// Identifier.
    pub identifier: String,
    /// When the sender sent it.
    pub sent: DateTime<Utc>,
    /// Actual, Exercise, System, Test, Draft.
    pub status: String,
    /// Alert, Update, Cancel, Ack, Error.
    pub msg_type: String,
    /// Whether it went on air.
    pub aired: bool,
    /// The notice it made or cancelled, if any.
    pub urgent_id: Option<String>,
    /// Who posted it.
    pub received_by: String,
    /// When.
    pub received_at: DateTime<Utc>,
    /// The message as received.
    pub xml: String,
}

/// Claim a CAP message for its receiver before handling it: `None` when the claim is new
/// (the row is stored, not aired yet), else what the earlier claim made of it (aired, the
/// notice it made or cancelled; both empty while that one is still being handled).
pub fn claim_cap(
    conn: &Connection,
    c: &CapRecord,
) -> crate::db::sql::Result<Option<(bool, Option<String>)>> {
    let new = conn.execute(
        "INSERT INTO cap_messages (key, sender, identifier, sent, status, msg_type,
            aired, urgent_id, received_by, received_at, xml)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT DO NOTHING",
        params![
            c.key,
            c.sender,
            c.identifier,
            ts(c.sent),
            c.status,
            c.msg_type,
            c.aired,
            c.urgent_id,
            c.received_by,
            ts(c.received_at),
            c.xml
        ],
    )?;
    if new == 1 {
        return Ok(None);
    }
    conn.query_row(
        "SELECT aired, urgent_id FROM cap_messages WHERE received_by = ?1 AND key = ?2",
        params![c.received_by, c.key],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// What became of a claimed CAP message.
pub fn settle_cap(
    conn: &Connection,
    received_by: &str,
    key: &str,
    aired: bool,
    urgent_id: Option<&str>,
) -> crate::db::sql::Result<()> {
    conn.execute(
        "UPDATE cap_messages SET aired = ?3, urgent_id = ?4 WHERE received_by = ?1 AND key = ?2",
        params![received_by, key, aired, urgent_id],
    )?;
    Ok(())
}

/// Give up a claim: the message was refused, and may be sent again corrected.
pub fn release_cap(conn: &Connection, received_by: &str, key: &str) -> crate::db::sql::Result<()> {
    conn.execute(
        "DELETE FROM cap_messages WHERE received_by = ?1 AND key = ?2",
        params![received_by, key],
    )?;
    Ok(())
}

/// The first airing of notice `id` at a station that came online after the notice's own
/// airings were over: the instant stored the first time, else `now` (stored now). Every
/// later document shows the same instant, so the station plays it once.
pub fn late_start(
    conn: &Connection,
    id: &str,
    station: &str,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<DateTime<Utc>> {
    conn.execute(
        "UPDATE urgent_stations SET late_start = ?3
         WHERE urgent_id = ?1 AND station = ?2 AND late_start IS NULL",
        params![id, station, ts(now)],
    )?;
    let at: Option<String> = conn
        .query_row(
            "SELECT late_start FROM urgent_stations WHERE urgent_id = ?1 AND station = ?2",
            params![id, station],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok(opt_ts(at).unwrap_or(now))
}
