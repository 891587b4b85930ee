//! Programmes: an ordered list of parts (media, or the station's own jingle) aired as one
//! occurrence, scheduled like a single bulletin.

use crate::db::areas::SUBTREE_CTE as SUBTREE;
use crate::db::sql::{params, Connection, OptionalExtension, Row, Transaction};
use crate::db::{parse_ts, ts};
use chrono::{DateTime, Utc};

/// One part of a programme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSpec {
    /// The media it plays; `None` is the jingle slot (each station's own jingle).
    pub media_sha256: Option<String>,
    /// Title as logged (the media's title when left empty).
    pub title: String,
}

/// What a programme says, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgrammeSpec {
    /// Title, as logged.
    pub title: String,
    /// Category for reports.
    pub category: String,
    /// Its parts, in airing order.
    pub parts: Vec<PartSpec>,
}

impl ProgrammeSpec {
    /// The first media part: what a programme schedule stores as its media.
    pub fn lead_media(&self) -> Option<&str> {
        self.parts.iter().find_map(|p| p.media_sha256.as_deref())
    }
}

/// One stored programme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgrammeRow {
    /// Its id.
    pub id: String,
    /// What it says.
    pub spec: ProgrammeSpec,
    /// The area of its creator.
    pub owner_area: String,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

const COLS: &str = "p.id, p.title, p.category, p.owner_area, p.created_by, p.created_at, \
    p.updated_at";

fn row(r: &Row<'_>) -> crate::db::sql::Result<ProgrammeRow> {
    Ok(ProgrammeRow {
        id: r.get(0)?,
        spec: ProgrammeSpec {
            title: r.get(1)?,
            category: r.get(2)?,
            parts: Vec::new(),
        },
        owner_area: r.get(3)?,
        created_by: r.get(4)?,
        created_at: parse_ts(&r.get::<_, String>(5)?).unwrap_or_default(),
        updated_at: parse_ts(&r.get::<_, String>(6)?).unwrap_or_default(),
    })
}

fn load_parts(conn: &Connection, p: &mut ProgrammeRow) -> crate::db::sql::Result<()> {
    let mut st = conn.prepare_cached(
        "SELECT media_sha256, title FROM programme_items WHERE programme_id = ?1
         ORDER BY position",
    )?;
    let rows = st.query_map([&p.id], |r| {
        Ok(PartSpec {
            media_sha256: r.get(0)?,
            title: r.get(1)?,
        })
    })?;
    p.spec.parts = rows.collect::<Result<_, _>>()?;
    Ok(())
}

fn write_parts(tx: &Transaction<'_>, id: &str, spec: &ProgrammeSpec) -> crate::db::sql::Result<()> {
    tx.execute("DELETE FROM programme_items WHERE programme_id = ?1", [id])?;
    let mut st = tx.prepare_cached(
        "INSERT INTO programme_items (programme_id, position, media_sha256, title)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, p) in spec.parts.iter().enumerate() {
        st.execute(params![id, i as i64, p.media_sha256, p.title])?;
    }
    Ok(())
}

/// Store a new programme.
pub fn insert(
    tx: &Transaction<'_>,
    id: &str,
    spec: &ProgrammeSpec,
    owner_area: &str,
    created_by: &str,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<()> {
    tx.execute(
        "INSERT INTO programmes (id, title, category, owner_area, created_by, created_at,
            updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![
            id,
            spec.title,
            spec.category,
            owner_area,
            created_by,
            ts(now)
        ],
    )?;
    write_parts(tx, id, spec)
}

/// Replace what a programme says; the schedules airing it follow (their stored media is the
/// programme's first media part).
pub fn update(
    tx: &Transaction<'_>,
    id: &str,
    spec: &ProgrammeSpec,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<()> {
    tx.execute(
        "UPDATE programmes SET title = ?2, category = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, spec.title, spec.category, ts(now)],
    )?;
    write_parts(tx, id, spec)?;
    if let Some(lead) = spec.lead_media() {
        tx.execute(
            "UPDATE schedules SET media_sha256 = ?2 WHERE programme_id = ?1",
            params![id, lead],
        )?;
    }
    Ok(())
}

/// One programme by id.
pub fn get(conn: &Connection, id: &str) -> crate::db::sql::Result<Option<ProgrammeRow>> {
    let p = conn
        .query_row(
            &format!("SELECT {COLS} FROM programmes p WHERE p.id = ?1"),
            [id],
            row,
        )
        .optional()?;
    match p {
        Some(mut p) => {
            load_parts(conn, &mut p)?;
            Ok(Some(p))
        }
        None => Ok(None),
    }
}

/// Programmes users of `area` see: made in their subtree or above it (a district's
/// programmes are the communes' to schedule).
pub fn list_visible(conn: &Connection, area: &str) -> crate::db::sql::Result<Vec<ProgrammeRow>> {
    let mut st = conn.prepare_cached(&format!(
        "{SUBTREE}, up(code, parent) AS (
            SELECT code, parent FROM areas WHERE code = ?1
            UNION SELECT a.code, a.parent FROM areas a JOIN up ON a.code = up.parent)
         SELECT {COLS} FROM programmes p
         WHERE p.owner_area IN (SELECT code FROM sub) OR p.owner_area IN (SELECT code FROM up)
         ORDER BY p.created_at, p.id"
    ))?;
    let mut out: Vec<ProgrammeRow> = st.query_map([area], row)?.collect::<Result<_, _>>()?;
    for p in &mut out {
        load_parts(conn, p)?;
    }
    Ok(out)
}

/// The schedules airing a programme, by id.
pub fn schedules_using(conn: &Connection, id: &str) -> crate::db::sql::Result<Vec<String>> {
    let mut st =
        conn.prepare_cached("SELECT id FROM schedules WHERE programme_id = ?1 ORDER BY id")?;
    let rows = st.query_map([id], |r| r.get(0))?;
    rows.collect()
}

/// How many programmes use a media file as a part.
pub fn using_media(conn: &Connection, sha256: &str) -> crate::db::sql::Result<i64> {
    conn.query_row(
        "SELECT COUNT(DISTINCT programme_id) FROM programme_items WHERE media_sha256 = ?1",
        [sha256],
        |r| r.get(0),
    )
}

/// Delete a programme (its parts go with it).
pub fn delete(conn: &Connection, id: &str) -> crate::db::sql::Result<()> {
    conn.execute("DELETE FROM programmes WHERE id = ?1", [id])?;
    Ok(())
}
