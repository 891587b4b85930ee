//! CAP sources (feeds the server polls) and every message fetched from them.

use crate::db::areas::SUBTREE_CTE as SUBTREE;
use crate::db::sql::{params, Connection, OptionalExtension, Row};
use crate::db::{opt_ts, parse_ts, ts};
use chrono::{DateTime, Utc};
use schedules::cap_policy::SourcePolicy;
use serde::Serialize;

/// A registered source.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = CapSource)]
pub struct Source {
    /// Its id.
    pub id: String,
    /// Its name, unique.
    pub name: String,
    /// The address polled: an Atom/RSS index or a single CAP document.
    pub url: String,
    /// The CAP `sender`s it may speak for.
    pub senders: Vec<String>,
    /// The area whose stations its alerts may reach (its owner).
    pub area: String,
    /// Seconds between polls.
    pub poll_seconds: u32,
    /// What its alerts do.
    pub policy: SourcePolicy,
    /// Who registered it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it is polled next.
    pub next_poll_at: DateTime<Utc>,
    /// When it was last polled.
    pub last_polled_at: Option<DateTime<Utc>>,
    /// When a poll last succeeded.
    pub last_ok_at: Option<DateTime<Utc>>,
    /// Why the last poll failed, if it did.
    pub last_error: Option<String>,
    /// Polls failed in a row.
    pub failures: u32,
    /// The PEM public key (or certificate) its messages must be signed with, if any.
    pub signing_key: Option<String>,
}

const COLS: &str = "id, name, url, senders, area, poll_seconds, policy, created_by, created_at,
    next_poll_at, last_polled_at, last_ok_at, last_error, failures, signing_key";

fn conversion(i: usize, e: serde_json::Error) -> crate::db::sql::Error {
    crate::db::sql::Error::decode(i, e)
}

fn row(r: &Row<'_>) -> crate::db::sql::Result<Source> {
    let senders: String = r.get(3)?;
    let policy: String = r.get(6)?;
    Ok(Source {
        id: r.get(0)?,
        name: r.get(1)?,
        url: r.get(2)?,
        senders: serde_json::from_str(&senders).map_err(|e| conversion(3, e))?,
        area: r.get(4)?,
        poll_seconds: r.get(5)?,
        policy: serde_json::from_str(&policy).map_err(|e| conversion(6, e))?,
        created_by: r.get(7)?,
        created_at: parse_ts(&r.get::<_, String>(8)?).unwrap_or_default(),
        next_poll_at: parse_ts(&r.get::<_, String>(9)?).unwrap_or_default(),
        last_polled_at: opt_ts(r.get(10)?),
        last_ok_at: opt_ts(r.get(11)?),
        last_error: r.get(12)?,
        failures: r.get(13)?,
        signing_key: r.get(14)?,
    })
}

/// Add a source (due at once).
pub fn insert(conn: &Connection, s: &Source) -> crate::db::sql::Result<()> {
    let text = |r: serde_json::Result<String>| r.map_err(crate::db::sql::Error::encode);
    conn.execute(
        &format!("INSERT INTO cap_sources ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, NULL, NULL, 0, ?11)"),
        params![
            s.id,
            s.name,
            s.url,
            text(serde_json::to_string(&s.senders))?,
            s.area,
            s.poll_seconds,
            text(serde_json::to_string(&s.policy))?,
            s.created_by,
            ts(s.created_at),
            ts(s.next_poll_at),
            s.signing_key,
        ],
    )?;
    Ok(())
}

/// One source.
pub fn get(conn: &Connection, id: &str) -> crate::db::sql::Result<Option<Source>> {
    conn.prepare_cached(&format!("SELECT {COLS} FROM cap_sources WHERE id = ?1"))?
        .query_row([id], row)
        .optional()
}

/// One source by name.
pub fn by_name(conn: &Connection, name: &str) -> crate::db::sql::Result<Option<Source>> {
    conn.prepare_cached(&format!("SELECT {COLS} FROM cap_sources WHERE name = ?1"))?
        .query_row([name], row)
        .optional()
}

/// The sources owned by `root`'s subtree, by name.
pub fn list_in_subtree(conn: &Connection, root: &str) -> crate::db::sql::Result<Vec<Source>> {
    let mut st = conn.prepare_cached(&format!(
        "{SUBTREE} SELECT {COLS} FROM cap_sources WHERE area IN (SELECT code FROM sub) ORDER BY name"
    ))?;
    let rows = st.query_map([root], row)?;
    rows.collect()
}

/// Sources due at `now`, the longest waiting first.
pub fn due(conn: &Connection, now: DateTime<Utc>) -> crate::db::sql::Result<Vec<Source>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM cap_sources WHERE next_poll_at <= ?1 ORDER BY next_poll_at"
    ))?;
    let rows = st.query_map([ts(now)], row)?;
    rows.collect()
}

/// When the next source is due, if there is one.
pub fn next_due(conn: &Connection) -> crate::db::sql::Result<Option<DateTime<Utc>>> {
    let t: Option<String> =
        conn.query_row("SELECT MIN(next_poll_at) FROM cap_sources", [], |r| {
            r.get(0)
        })?;
    Ok(t.as_deref().and_then(parse_ts))
}

/// Remove a source (its messages go with it).
pub fn delete(conn: &Connection, id: &str) -> crate::db::sql::Result<bool> {
    Ok(conn.execute("DELETE FROM cap_sources WHERE id = ?1", [id])? == 1)
}

/// Note a poll: `error` is `None` when it succeeded; the next poll is at `next`.
pub fn polled(
    conn: &Connection,
    id: &str,
    now: DateTime<Utc>,
    error: Option<&str>,
    next: DateTime<Utc>,
) -> crate::db::sql::Result<()> {
    match error {
        None => conn.execute(
            "UPDATE cap_sources SET last_polled_at = ?2, last_ok_at = ?2, last_error = NULL,
                failures = 0, next_poll_at = ?3 WHERE id = ?1",
            params![id, ts(now), ts(next)],
        )?,
        Some(e) => conn.execute(
            "UPDATE cap_sources SET last_polled_at = ?2, last_error = ?4,
                failures = failures + 1, next_poll_at = ?3 WHERE id = ?1",
            params![id, ts(now), ts(next), e],
        )?,
    };
    Ok(())
}

/// A message fetched from a source, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = CapMessage)]
pub struct Message {
    /// Its id (an approval item's id while it waits).
    pub id: String,
    /// The source.
    pub source_id: String,
    /// The index entry it came from (its Atom id, RSS guid, or the CAP key of a single
    /// document).
    pub entry: String,
    /// Where it was fetched.
    pub link: String,
    /// When.
    pub fetched_at: DateTime<Utc>,
    /// `sender,identifier`, when it could be read.
    pub cap_key: Option<String>,
    /// Headline or event.
    pub title: String,
    /// The source's area.
    pub owner_area: String,
    /// The source's account (`cap:NAME`).
    pub created_by: String,
    /// aired, cancelled, held, recorded, unreached, refused, duplicate, approved, rejected,
    /// expired.
    pub outcome: String,
    /// What it matched and why: `{"reason"?, "stations"?, "msgType", "status", …}`.
    pub detail: serde_json::Value,
    /// While held: when it may no longer air.
    pub deadline: Option<DateTime<Utc>>,
    /// Approval state while held: draft, approved, rejected.
    pub approval: Option<String>,
    /// The urgent notice it made, if any.
    pub urgent_id: Option<String>,
}

const MCOLS: &str = "id, source_id, entry, link, fetched_at, cap_key, title, owner_area,
    created_by, outcome, detail, deadline, approval, urgent_id";

fn mrow(r: &Row<'_>) -> crate::db::sql::Result<Message> {
    let detail: String = r.get(10)?;
    Ok(Message {
        id: r.get(0)?,
        source_id: r.get(1)?,
        entry: r.get(2)?,
        link: r.get(3)?,
        fetched_at: parse_ts(&r.get::<_, String>(4)?).unwrap_or_default(),
        cap_key: r.get(5)?,
        title: r.get(6)?,
        owner_area: r.get(7)?,
        created_by: r.get(8)?,
        outcome: r.get(9)?,
        detail: serde_json::from_str(&detail).map_err(|e| conversion(10, e))?,
        deadline: opt_ts(r.get(11)?),
        approval: r.get(12)?,
        urgent_id: r.get(13)?,
    })
}

/// Has `entry` of `source` been fetched already?
pub fn seen(conn: &Connection, source: &str, entry: &str) -> crate::db::sql::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM cap_source_messages WHERE source_id = ?1 AND entry = ?2)",
        params![source, entry],
        |r| r.get(0),
    )
}

/// Record a fetched message; `false` when its entry was recorded before.
pub fn record(conn: &Connection, m: &Message, xml: Option<&str>) -> crate::db::sql::Result<bool> {
    Ok(conn.execute(
        &format!(
            "INSERT INTO cap_source_messages ({MCOLS}, xml)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) ON CONFLICT DO NOTHING"
        ),
        params![
            m.id,
            m.source_id,
            m.entry,
            m.link,
            ts(m.fetched_at),
            m.cap_key,
            m.title,
            m.owner_area,
            m.created_by,
            m.outcome,
            m.detail.to_string(),
            m.deadline.map(ts),
            m.approval,
            m.urgent_id,
            xml,
        ],
    )? == 1)
}

/// One message, with the XML as fetched.
pub fn message(
    conn: &Connection,
    id: &str,
) -> crate::db::sql::Result<Option<(Message, Option<String>)>> {
    conn.prepare_cached(&format!(
        "SELECT {MCOLS}, xml FROM cap_source_messages WHERE id = ?1"
    ))?
    .query_row([id], |r| Ok((mrow(r)?, r.get(14)?)))
    .optional()
}

/// Set what became of a held message.
pub fn settle(
    conn: &Connection,
    id: &str,
    outcome: &str,
    urgent_id: Option<&str>,
    detail: &serde_json::Value,
) -> crate::db::sql::Result<()> {
    conn.execute(
        "UPDATE cap_source_messages SET outcome = ?2, urgent_id = ?3, detail = ?4 WHERE id = ?1",
        params![id, outcome, urgent_id, detail.to_string()],
    )?;
    Ok(())
}

/// Held messages whose deadline has passed at `now`: `(id, owner_area)`.
pub fn overdue(
    conn: &Connection,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<Vec<(String, String)>> {
    let mut st = conn.prepare_cached(
        "SELECT id, owner_area FROM cap_source_messages
         WHERE approval = 'draft' AND deadline IS NOT NULL AND deadline <= ?1 ORDER BY id",
    )?;
    let rows = st.query_map([ts(now)], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// The latest messages of sources owned by `root`'s subtree, newest first.
pub fn messages_in_subtree(
    conn: &Connection,
    root: &str,
    limit: u32,
) -> crate::db::sql::Result<Vec<Message>> {
    let mut st = conn.prepare_cached(&format!(
        "{SUBTREE} SELECT {MCOLS} FROM cap_source_messages
         WHERE owner_area IN (SELECT code FROM sub)
         ORDER BY fetched_at DESC, id DESC LIMIT ?2"
    ))?;
    let rows = st.query_map(params![root, limit], mrow)?;
    rows.collect()
}
