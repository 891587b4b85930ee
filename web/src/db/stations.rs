//! Stations: a loudspeaker network's controller, its area, time zone and device token.

use crate::db::areas::SUBTREE_CTE as SUBTREE;
use crate::db::sql::{params, Connection, OptionalExtension, Row};
use crate::db::{opt_ts, ts};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use schedules::geo::GeoPoint;
use schedules::wire::Heartbeat;

/// One station as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Station {
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its area.
    pub area: String,
    /// IANA time zone.
    pub timezone: String,
    /// Last heartbeat or request from its controller.
    pub last_seen: Option<DateTime<Utc>>,
    /// The last heartbeat body.
    pub heartbeat: Option<Heartbeat>,
    /// Where it is (WGS 84), when an admin said so.
    pub location: Option<GeoPoint>,
}

impl Station {
    /// The station's time zone.
    pub fn tz(&self) -> Tz {
        self.timezone.parse().unwrap_or(schedules::DEFAULT_TZ)
    }
}

const COLS: &str = "code, name, area, timezone, last_seen, heartbeat, lat, lon";

fn row(r: &Row<'_>) -> crate::db::sql::Result<Station> {
    let hb: Option<String> = r.get(5)?;
    Ok(Station {
        code: r.get(0)?,
        name: r.get(1)?,
        area: r.get(2)?,
        timezone: r.get(3)?,
        last_seen: opt_ts(r.get(4)?),
        heartbeat: hb.and_then(|s| serde_json::from_str(&s).ok()),
        location: match (r.get::<_, Option<f64>>(6)?, r.get::<_, Option<f64>>(7)?) {
            (Some(lat), Some(lon)) => GeoPoint::new(lat, lon).ok(),
            _ => None,
        },
    })
}

/// Add a station; its device token is given as its sha256 hash.
pub fn insert(
    conn: &Connection,
    code: &str,
    name: &str,
    area: &str,
    timezone: &str,
    token_hash: &str,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<()> {
    conn.execute(
        "INSERT INTO stations (code, name, area, timezone, token_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![code, name, area, timezone, token_hash, ts(now)],
    )?;
    Ok(())
}

/// One station by code.
pub fn get(conn: &Connection, code: &str) -> crate::db::sql::Result<Option<Station>> {
    conn.prepare_cached(&format!("SELECT {COLS} FROM stations WHERE code = ?1"))?
        .query_row([code], row)
        .optional()
}

/// The station whose device token hashes to `hash`.
pub fn by_token_hash(conn: &Connection, hash: &str) -> crate::db::sql::Result<Option<Station>> {
    conn.prepare_cached(&format!(
        "SELECT {COLS} FROM stations WHERE token_hash = ?1"
    ))?
    .query_row([hash], row)
    .optional()
}

/// Every station in `root`'s subtree, by code.
pub fn list_in_subtree(conn: &Connection, root: &str) -> crate::db::sql::Result<Vec<Station>> {
    let mut st = conn.prepare_cached(&format!(
        "{SUBTREE} SELECT {COLS} FROM stations WHERE area IN (SELECT code FROM sub) ORDER BY code"
    ))?;
    let rows = st.query_map([root], row)?;
    rows.collect()
}

/// Set (or clear, with `None`) a station's location.
pub fn set_location(
    conn: &Connection,
    code: &str,
    location: Option<GeoPoint>,
) -> crate::db::sql::Result<bool> {
    Ok(conn.execute(
        "UPDATE stations SET lat = ?2, lon = ?3 WHERE code = ?1",
        params![code, location.map(|p| p.lat()), location.map(|p| p.lon())],
    )? == 1)
}

/// Every station in `root`'s subtree that has a location.
pub fn located_in_subtree(conn: &Connection, root: &str) -> crate::db::sql::Result<Vec<Station>> {
    Ok(list_in_subtree(conn, root)?
        .into_iter()
        .filter(|s| s.location.is_some())
        .collect())
}

/// Replace a station's device token hash.
pub fn set_token(conn: &Connection, code: &str, token_hash: &str) -> crate::db::sql::Result<bool> {
    Ok(conn.execute(
        "UPDATE stations SET token_hash = ?2 WHERE code = ?1",
        params![code, token_hash],
    )? == 1)
}

/// Store a heartbeat.
pub fn record_heartbeat(
    conn: &Connection,
    code: &str,
    hb: &Heartbeat,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<()> {
    let hb = serde_json::to_string(hb).map_err(crate::db::sql::Error::encode)?;
    conn.execute(
        "UPDATE stations SET last_seen = ?2, heartbeat = ?3 WHERE code = ?1",
        params![code, ts(now), hb],
    )?;
    Ok(())
}

/// Note that the station's controller was heard from.
pub fn touch(conn: &Connection, code: &str, now: DateTime<Utc>) -> crate::db::sql::Result<()> {
    conn.execute(
        "UPDATE stations SET last_seen = ?2 WHERE code = ?1",
        params![code, ts(now)],
    )?;
    Ok(())
}

/// The station's own jingle (media sha256), which fills the jingle slot of programmes.
pub fn jingle(conn: &Connection, code: &str) -> crate::db::sql::Result<Option<String>> {
    conn.query_row(
        "SELECT jingle_sha256 FROM stations WHERE code = ?1",
        [code],
        |r| r.get(0),
    )
    .optional()
    .map(Option::flatten)
}

/// Set (or clear, with `None`) the station's jingle.
pub fn set_jingle(
    conn: &Connection,
    code: &str,
    sha256: Option<&str>,
) -> crate::db::sql::Result<()> {
    conn.execute(
        "UPDATE stations SET jingle_sha256 = ?2 WHERE code = ?1",
        params![code, sha256],
    )?;
    Ok(())
}

/// The stations whose jingle is this media file.
pub fn jingle_users(conn: &Connection, sha256: &str) -> crate::db::sql::Result<Vec<String>> {
    let mut st =
        conn.prepare_cached("SELECT code FROM stations WHERE jingle_sha256 = ?1 ORDER BY code")?;
    let rows = st.query_map([sha256], |r| r.get(0))?;
    rows.collect()
}

/// How many stations there are.
pub fn count(conn: &Connection) -> crate::db::sql::Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM stations", [], |r| r.get(0))
}
