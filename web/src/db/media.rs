//! The media library's index; the files themselves live content-addressed on disk
//! (see [`crate::library`]).

use crate::db::areas::SUBTREE_CTE as SUBTREE;
use crate::db::sql::{params, Backend, Connection, OptionalExtension, Row};
use crate::db::ts;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One media file as stored and answered (`id` equals `sha256`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Media)]
pub struct MediaRow {
    /// Same as `sha256`.
    pub id: String,
    /// Content hash.
    pub sha256: String,
    /// Title given at (first) upload.
    pub title: String,
    /// File size.
    pub size_bytes: u64,
    /// Exact duration.
    pub duration_ms: u64,
    /// Codec name.
    pub codec: String,
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u16,
    /// Integrated loudness (EBU R128), when measurable.
    pub loudness_lufs: Option<f64>,
    /// True peak, when measurable.
    pub true_peak_dbtp: Option<f64>,
    /// Gain that brings it to the target loudness.
    pub gain_db: f64,
}

const COLS: &str = "m.sha256, m.title, m.size_bytes, m.duration_ms, m.codec, m.sample_rate, \
                    m.channels, m.loudness_lufs, m.true_peak_dbtp, m.gain_db";

fn row(r: &Row<'_>) -> crate::db::sql::Result<MediaRow> {
    let sha: String = r.get(0)?;
    Ok(MediaRow {
        id: sha.clone(),
        sha256: sha,
        title: r.get(1)?,
        size_bytes: r.get::<_, i64>(2)?.max(0) as u64,
        duration_ms: r.get::<_, i64>(3)?.max(0) as u64,
        codec: r.get(4)?,
        sample_rate: r.get::<_, i64>(5)?.clamp(0, u32::MAX as i64) as u32,
        channels: r.get::<_, i64>(6)?.clamp(0, u16::MAX as i64) as u16,
        loudness_lufs: r.get(7)?,
        true_peak_dbtp: r.get(8)?,
        gain_db: r.get(9)?,
    })
}

/// Record a file (once) and that `area` uploaded it. Answers the stored row: the first
/// upload's title wins.
pub fn insert_or_keep(
    conn: &Connection,
    m: &MediaRow,
    area: &str,
    uploaded_by: &str,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<MediaRow> {
    conn.execute(
        "INSERT INTO media (sha256, title, size_bytes, duration_ms, codec, sample_rate,
            channels, loudness_lufs, true_peak_dbtp, gain_db, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT DO NOTHING",
        params![
            m.sha256,
            m.title,
            m.size_bytes as i64,
            m.duration_ms as i64,
            m.codec,
            m.sample_rate,
            m.channels,
            m.loudness_lufs,
            m.true_peak_dbtp,
            m.gain_db,
            ts(now)
        ],
    )?;
    conn.execute(
        "INSERT INTO media_areas (sha256, area, uploaded_by, created_at)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        params![m.sha256, area, uploaded_by, ts(now)],
    )?;
    Ok(get(conn, &m.sha256)?.unwrap_or_else(|| m.clone()))
}

/// One file by hash.
pub fn get(conn: &Connection, sha256: &str) -> crate::db::sql::Result<Option<MediaRow>> {
    conn.prepare_cached(&format!("SELECT {COLS} FROM media m WHERE m.sha256 = ?1"))?
        .query_row([sha256], row)
        .optional()
}

/// Files an area's users see: uploaded in its subtree or by an area above it.
const VISIBLE: &str = "EXISTS (SELECT 1 FROM media_areas ma WHERE ma.sha256 = m.sha256
      AND (ma.area IN (SELECT code FROM sub) OR ma.area IN (SELECT code FROM up)))";

fn with_up() -> String {
    format!(
        "{SUBTREE}, up(code, parent) AS (
            SELECT code, parent FROM areas WHERE code = ?1
            UNION SELECT a.code, a.parent FROM areas a JOIN up ON a.code = up.parent)"
    )
}

/// Can users of `area` see this file?
pub fn visible_to(conn: &Connection, sha256: &str, area: &str) -> crate::db::sql::Result<bool> {
    conn.query_row(
        &format!(
            "{} SELECT EXISTS (SELECT 1 FROM media m WHERE m.sha256 = ?2 AND {VISIBLE})",
            with_up()
        ),
        params![area, sha256],
        |r| r.get(0),
    )
}

/// Files users of `area` see, newest first.
pub fn list_visible(conn: &Connection, area: &str) -> crate::db::sql::Result<Vec<MediaRow>> {
    let mut st = conn.prepare_cached(&format!(
        "{} SELECT {COLS} FROM media m WHERE {VISIBLE} ORDER BY m.created_at DESC, m.sha256",
        with_up()
    ))?;
    let rows = st.query_map([area], row)?;
    rows.collect()
}

/// Was it uploaded from inside `area`'s subtree (so its users may delete it)?
pub fn owned_within(conn: &Connection, sha256: &str, area: &str) -> crate::db::sql::Result<bool> {
    conn.query_row(
        &format!(
            "{SUBTREE} SELECT EXISTS (SELECT 1 FROM media_areas
                WHERE sha256 = ?2 AND area IN (SELECT code FROM sub))"
        ),
        params![area, sha256],
        |r| r.get(0),
    )
}

/// How many schedules and urgent notices (cancelled ones too: their history plays it) use this file.
pub fn references(conn: &Connection, sha256: &str) -> crate::db::sql::Result<(i64, i64)> {
    let s = conn.query_row(
        "SELECT COUNT(*) FROM schedules WHERE media_sha256 = ?1",
        [sha256],
        |r| r.get(0),
    )?;
    let u = conn.query_row(
        "SELECT COUNT(*) FROM urgent WHERE media_sha256 = ?1",
        [sha256],
        |r| r.get(0),
    )?;
    Ok((s, u))
}

/// The areas a file was uploaded in.
pub fn areas_of(conn: &Connection, sha256: &str) -> crate::db::sql::Result<Vec<String>> {
    let mut st =
        conn.prepare_cached("SELECT area FROM media_areas WHERE sha256 = ?1 ORDER BY area")?;
    let rows = st.query_map([sha256], |r| r.get(0))?;
    rows.collect()
}

/// Take a file out of these areas' libraries.
pub fn forget_areas(
    conn: &Connection,
    sha256: &str,
    areas: &[String],
) -> crate::db::sql::Result<()> {
    let mut st = conn.prepare_cached("DELETE FROM media_areas WHERE sha256 = ?1 AND area = ?2")?;
    for a in areas {
        st.execute(params![sha256, a])?;
    }
    Ok(())
}

/// Forget a file.
pub fn delete(conn: &Connection, sha256: &str) -> crate::db::sql::Result<()> {
    conn.execute("DELETE FROM media WHERE sha256 = ?1", [sha256])?;
    if conn.backend() == Backend::Postgres {
        conn.execute("DELETE FROM media_blobs WHERE sha256 = ?1", [sha256])?;
    }
    Ok(())
}

/// Keep a file's bytes in the shared store, so that every node can serve it (PostgreSQL;
/// one SQLite node has its data directory and keeps nothing here).
pub fn put_blob(conn: &Connection, sha256: &str, bytes: &[u8]) -> crate::db::sql::Result<()> {
    if conn.backend() == Backend::Postgres {
        conn.execute(
            "INSERT INTO media_blobs (sha256, bytes) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![sha256, bytes],
        )?;
    }
    Ok(())
}

/// A file's bytes from the shared store (None on SQLite, or when it is not there).
pub fn blob(conn: &Connection, sha256: &str) -> crate::db::sql::Result<Option<Vec<u8>>> {
    if conn.backend() != Backend::Postgres {
        return Ok(None);
    }
    conn.query_row(
        "SELECT bytes FROM media_blobs WHERE sha256 = ?1",
        [sha256],
        |r| r.get(0),
    )
    .optional()
}
