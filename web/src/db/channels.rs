//! Live channels (tiếp sóng) an admin registered: a name, a stream address and the fixed
//! gain applied when relaying it. A channel is seen by users of its owner's area, of the
//! areas above it and of the areas below it (a district registers VOV1 for its communes).

use crate::db::sql::{params, Connection, OptionalExtension, Row};
use crate::db::{areas, parse_ts, ts};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One channel.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Channel {
    /// Its id.
    pub id: String,
    /// Its name, e.g. "VOV1".
    pub name: String,
    /// `http://` or `https://` stream address.
    pub url: String,
    /// Gain applied when relaying it, dB.
    pub gain_db: f32,
    /// The area of the admin who registered it.
    pub owner_area: String,
    /// Who registered it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Integrated loudness of the last sample measured (`POST /channels/{id}/measure`), LUFS.
    pub loudness_lufs: Option<f64>,
    /// When it was measured.
    pub measured_at: Option<DateTime<Utc>>,
}

/// A measurement of a channel: its loudness, the gain set from it, when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Integrated loudness of the sample, LUFS.
    pub loudness_lufs: f64,
    /// The gain that brings it to the target, dB.
    pub gain_db: f32,
    /// When.
    pub at: DateTime<Utc>,
}

const COLS: &str =
    "id, name, url, gain_db, owner_area, created_by, created_at, loudness_lufs, measured_at";

fn row(r: &Row<'_>) -> crate::db::sql::Result<Channel> {
    Ok(Channel {
        id: r.get(0)?,
        name: r.get(1)?,
        url: r.get(2)?,
        gain_db: r.get::<_, f64>(3)? as f32,
        owner_area: r.get(4)?,
        created_by: r.get(5)?,
        created_at: parse_ts(&r.get::<_, String>(6)?).unwrap_or_default(),
        loudness_lufs: r.get(7)?,
        measured_at: r.get::<_, Option<String>>(8)?.and_then(|t| parse_ts(&t)),
    })
}

/// Store a new channel; false when the owner's area already has one of that name.
pub fn insert(conn: &Connection, c: &Channel) -> crate::db::sql::Result<bool> {
    Ok(conn.execute(
        "INSERT INTO channels (id, name, url, gain_db, owner_area, created_by,
            created_at, loudness_lufs, measured_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
        params![
            c.id,
            c.name,
            c.url,
            f64::from(c.gain_db),
            c.owner_area,
            c.created_by,
            ts(c.created_at),
            c.loudness_lufs,
            c.measured_at.map(ts)
        ],
    )? == 1)
}

/// One channel by id.
pub fn get(conn: &Connection, id: &str) -> crate::db::sql::Result<Option<Channel>> {
    conn.query_row(
        &format!("SELECT {COLS} FROM channels WHERE id = ?1"),
        [id],
        row,
    )
    .optional()
}

/// May users of `area` see (and schedule) a channel owned by `owner`?
pub fn visible_to(conn: &Connection, owner: &str, area: &str) -> crate::db::sql::Result<bool> {
    Ok(areas::in_subtree(conn, area, owner)?
        || areas::ancestors(conn, area)?.iter().any(|a| a == owner))
}

/// Channels users of `area` see, by name.
pub fn list_visible(conn: &Connection, area: &str) -> crate::db::sql::Result<Vec<Channel>> {
    let mut st = conn.prepare_cached(&format!("SELECT {COLS} FROM channels ORDER BY name, id"))?;
    let all = st
        .query_map([], row)?
        .collect::<crate::db::sql::Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for c in all {
        if visible_to(conn, &c.owner_area, area)? {
            out.push(c);
        }
    }
    Ok(out)
}

/// How many schedules relay the channel.
pub fn used_by(conn: &Connection, id: &str) -> crate::db::sql::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM schedules WHERE channel_id = ?1",
        [id],
        |r| r.get(0),
    )
}

/// Store a channel's name, address, gain and measurement; false when the new name is
/// taken in its owner's area.
pub fn update(conn: &Connection, c: &Channel) -> crate::db::sql::Result<bool> {
    let taken: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM channels WHERE owner_area = ?1 AND name = ?2 AND id <> ?3)",
        params![c.owner_area, c.name, c.id],
        |r| r.get(0),
    )?;
    if taken {
        return Ok(false);
    }
    conn.execute(
        "UPDATE channels SET name = ?2, url = ?3, gain_db = ?4, loudness_lufs = ?5,
            measured_at = ?6 WHERE id = ?1",
        params![
            c.id,
            c.name,
            c.url,
            f64::from(c.gain_db),
            c.loudness_lufs,
            c.measured_at.map(ts)
        ],
    )?;
    Ok(true)
}

/// Record a measurement: the loudness, the gain set from it and when. False when the
/// channel is gone.
pub fn set_measured(conn: &Connection, id: &str, m: &Measurement) -> crate::db::sql::Result<bool> {
    Ok(conn.execute(
        "UPDATE channels SET loudness_lufs = ?2, gain_db = ?3, measured_at = ?4 WHERE id = ?1",
        params![id, m.loudness_lufs, f64::from(m.gain_db), ts(m.at)],
    )? == 1)
}

/// The ids of the schedules that relay the channel.
pub fn schedules_using(conn: &Connection, id: &str) -> crate::db::sql::Result<Vec<String>> {
    let mut st = conn.prepare("SELECT id FROM schedules WHERE channel_id = ?1 ORDER BY id")?;
    st.query_map([id], |r| r.get(0))?.collect()
}

/// Delete a channel (no schedule may use it).
pub fn delete(conn: &Connection, id: &str) -> crate::db::sql::Result<()> {
    conn.execute("DELETE FROM channels WHERE id = ?1", [id])?;
    Ok(())
}
