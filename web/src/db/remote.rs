//! Remote control of stations, as stored: commands issued to a station (stop, volume,
//! resync) with their acknowledgement, and each station's volume schedule. Both are part
//! of the station's schedule document (pending commands, the schedule), so a station that
//! was offline gets them when it reconnects.

use crate::db::sql::{params, Backend, Connection, OptionalExtension, Row};
use crate::db::{opt_ts, parse_ts, ts};
use chrono::{DateTime, Duration, Utc};
use schedules::remote::{CommandKind, CommandState, RemoteCommand};
use schedules::volume::VolumeStep;
use serde::Serialize;

/// A command not acknowledged within this long is no longer delivered (it stays `pending`
/// in the record: the station never confirmed it).
pub const DELIVER_FOR: Duration = Duration::hours(24);

/// A command and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Command)]
pub struct CommandRow {
    /// Its id.
    pub id: String,
    /// What it asked for.
    pub kind: CommandKind,
    /// The volume it set (for `volume`).
    pub volume: Option<u8>,
    /// Who issued it.
    pub issued_by: String,
    /// When.
    pub issued_at: DateTime<Utc>,
    /// pending, done or failed.
    pub state: CommandState,
    /// The station's reason (for `failed`).
    pub reason: Option<String>,
    /// When the station acknowledged it.
    pub acked_at: Option<DateTime<Utc>>,
}

impl CommandRow {
    /// As sent to the station.
    pub fn wire(&self) -> RemoteCommand {
        RemoteCommand {
            id: self.id.clone(),
            kind: self.kind,
            volume: self.volume,
            issued_at: self.issued_at,
            issued_by: self.issued_by.clone(),
        }
    }
}

const COLS: &str = "id, kind, volume, issued_by, issued_at, state, reason, acked_at";

fn row(r: &Row<'_>) -> crate::db::sql::Result<CommandRow> {
    let kind: String = r.get(1)?;
    let state: String = r.get(5)?;
    let volume: Option<i64> = r.get(2)?;
    Ok(CommandRow {
        id: r.get(0)?,
        kind: kind.parse().unwrap_or(CommandKind::Resync),
        volume: volume.map(|v| v.clamp(0, 100) as u8),
        issued_by: r.get(3)?,
        issued_at: parse_ts(&r.get::<_, String>(4)?).unwrap_or_default(),
        state: state.parse().unwrap_or(CommandState::Pending),
        reason: r.get(6)?,
        acked_at: opt_ts(r.get(7)?),
    })
}

/// Store a new command for `station`.
pub fn insert_command(
    conn: &Connection,
    station: &str,
    c: &RemoteCommand,
) -> crate::db::sql::Result<()> {
    conn.execute(
        "INSERT INTO station_commands (id, station, kind, volume, issued_by, issued_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            c.id,
            station,
            c.kind.as_str(),
            c.volume,
            c.issued_by,
            ts(c.issued_at)
        ],
    )?;
    Ok(())
}

/// Commands of `station` still to deliver at `now` (pending, issued within
/// [`DELIVER_FOR`]), oldest first.
pub fn pending_commands(
    conn: &Connection,
    station: &str,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<Vec<RemoteCommand>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM station_commands
         WHERE station = ?1 AND state = 'pending' AND issued_at >= ?2
         ORDER BY issued_at, id"
    ))?;
    let rows = st.query_map(params![station, ts(now - DELIVER_FOR)], row)?;
    Ok(rows
        .collect::<crate::db::sql::Result<Vec<_>>>()?
        .iter()
        .map(CommandRow::wire)
        .collect())
}

/// The latest command issued to `station`.
pub fn last_command(
    conn: &Connection,
    station: &str,
) -> crate::db::sql::Result<Option<CommandRow>> {
    // Commands issued in the same millisecond: the later inserted wins (SQLite's rowid,
    // PostgreSQL's `seq`).
    let inserted = match conn.backend() {
        Backend::Sqlite => "rowid",
        Backend::Postgres => "seq",
    };
    conn.query_row(
        &format!(
            "SELECT {COLS} FROM station_commands WHERE station = ?1
             ORDER BY issued_at DESC, {inserted} DESC LIMIT 1"
        ),
        [station],
        row,
    )
    .optional()
}

/// One command of `station` by id.
pub fn get_command(
    conn: &Connection,
    station: &str,
    id: &str,
) -> crate::db::sql::Result<Option<CommandRow>> {
    conn.query_row(
        &format!("SELECT {COLS} FROM station_commands WHERE station = ?1 AND id = ?2"),
        params![station, id],
        row,
    )
    .optional()
}

/// Record the station's acknowledgement; false when `station` has no command `id`.
/// Repeating an acknowledgement is harmless (the last one stands).
pub fn acknowledge(
    conn: &Connection,
    station: &str,
    id: &str,
    state: CommandState,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> crate::db::sql::Result<bool> {
    Ok(conn.execute(
        "UPDATE station_commands SET state = ?3, reason = ?4, acked_at = ?5
         WHERE station = ?1 AND id = ?2",
        params![station, id, state.as_str(), reason, ts(at)],
    )? == 1)
}

/// The volume schedule of `station` (empty when none was set).
pub fn volume_schedule(
    conn: &Connection,
    station: &str,
) -> crate::db::sql::Result<Vec<VolumeStep>> {
    let steps: Option<String> = conn
        .query_row(
            "SELECT steps FROM station_volume_schedules WHERE station = ?1",
            [station],
            |r| r.get(0),
        )
        .optional()?;
    match steps {
        None => Ok(Vec::new()),
        Some(s) => serde_json::from_str(&s).map_err(|e| crate::db::sql::Error::decode(0, e)),
    }
}

/// Replace the volume schedule of `station` (already checked).
pub fn set_volume_schedule(
    conn: &Connection,
    station: &str,
    steps: &[VolumeStep],
    now: DateTime<Utc>,
) -> crate::db::sql::Result<()> {
    let steps = serde_json::to_string(steps).map_err(crate::db::sql::Error::encode)?;
    conn.execute(
        "INSERT INTO station_volume_schedules (station, steps, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (station) DO UPDATE SET steps = excluded.steps, updated_at = excluded.updated_at",
        params![station, steps, ts(now)],
    )?;
    Ok(())
}
