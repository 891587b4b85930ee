//! Live channels (tiếp sóng) an admin registered: a name, a stream address and the fixed
//! gain applied when relaying it. A channel is seen by users of its owner's area, of the
//! areas above it and of the areas below it (a district registers VOV1 for its communes).

use crate::db::{areas, parse_ts, ts};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

/// One channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
}

const COLS: &str = "id, name, url, gain_db, owner_area, created_by, created_at";

fn row(r: &Row<'_>) -> rusqlite::Result<Channel> {
    Ok(Channel {
        id: r.get(0)?,
        name: r.get(1)?,
        url: r.get(2)?,
        gain_db: r.get::<_, f64>(3)? as f32,
        owner_area: r.get(4)?,
        created_by: r.get(5)?,
        created_at: parse_ts(&r.get::<_, String>(6)?).unwrap_or_default(),
    })
}

/// Store a new channel; false when the owner's area already has one of that name.
pub fn insert(conn: &Connection, c: &Channel) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO channels (id, name, url, gain_db, owner_area, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            c.id,
            c.name,
            c.url,
            f64::from(c.gain_db),
            c.owner_area,
            c.created_by,
            ts(c.created_at)
        ],
    )? == 1)
}

/// One channel by id.
pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<Channel>> {
    conn.query_row(
        &format!("SELECT {COLS} FROM channels WHERE id = ?1"),
        [id],
        row,
    )
    .optional()
}

/// May users of `area` see (and schedule) a channel owned by `owner`?
pub fn visible_to(conn: &Connection, owner: &str, area: &str) -> rusqlite::Result<bool> {
    Ok(areas::in_subtree(conn, area, owner)?
        || areas::ancestors(conn, area)?.iter().any(|a| a == owner))
}

/// Channels users of `area` see, by name.
pub fn list_visible(conn: &Connection, area: &str) -> rusqlite::Result<Vec<Channel>> {
    let mut st = conn.prepare_cached(&format!("SELECT {COLS} FROM channels ORDER BY name, id"))?;
    let all = st
        .query_map([], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for c in all {
        if visible_to(conn, &c.owner_area, area)? {
            out.push(c);
        }
    }
    Ok(out)
}

/// How many schedules relay the channel.
pub fn used_by(conn: &Connection, id: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM schedules WHERE channel_id = ?1",
        [id],
        |r| r.get(0),
    )
}

/// Delete a channel (no schedule may use it).
pub fn delete(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM channels WHERE id = ?1", [id])?;
    Ok(())
}
