//! Approval: in an area that requires it, schedules, programmes and media made by operators
//! start as drafts, and only approved ones reach the stations. Urgent notices are never
//! held; they wait for a review afterwards. Every step is a row of `approval_steps`.

use crate::db::sql::{params, Connection, OptionalExtension};
use crate::db::{parse_ts, ts};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// What can be approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ApprovalKind)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A schedule.
    Schedule,
    /// A programme.
    Programme,
    /// A media file, as uploaded in one area.
    Media,
    /// An urgent notice (reviewed after it aired).
    Urgent,
    /// A CAP message from a polled source, held by the source's policy: approving airs it
    /// (until it expires).
    Cap,
}

impl Kind {
    /// The stored and URL spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Schedule => "schedule",
            Kind::Programme => "programme",
            Kind::Media => "media",
            Kind::Urgent => "urgent",
            Kind::Cap => "cap",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "schedule" => Ok(Kind::Schedule),
            "programme" => Ok(Kind::Programme),
            "media" => Ok(Kind::Media),
            "urgent" => Ok(Kind::Urgent),
            "cap" => Ok(Kind::Cap),
            other => Err(format!(
                "unknown kind {other:?}: expected schedule, programme, media, urgent or cap"
            )),
        }
    }
}

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ApprovalState)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for an approver (held back from stations).
    Draft,
    /// May air.
    Approved,
    /// Sent back with a comment; editing it submits it again.
    Rejected,
    /// An urgent notice that aired and awaits its review.
    Review,
    /// An urgent notice reviewed.
    Reviewed,
}

impl State {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Review => "review",
            State::Reviewed => "reviewed",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "draft" => State::Draft,
            "rejected" => State::Rejected,
            "review" => State::Review,
            "reviewed" => State::Reviewed,
            _ => State::Approved,
        }
    }
}

/// One step of an item's approval history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Step {
    /// submitted, approved, rejected, review or reviewed.
    pub action: String,
    /// Who.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// What they said.
    pub comment: String,
}

/// An item waiting for someone with the approve right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Pending {
    /// What it is.
    pub kind: Kind,
    /// Its id (a media file: its sha256).
    pub id: String,
    /// Title.
    pub title: String,
    /// The area it belongs to.
    pub area: String,
    /// Its state: draft, or review for an urgent notice.
    pub state: State,
    /// Who made it.
    pub created_by: String,
    /// When it was last submitted.
    pub submitted_at: Option<DateTime<Utc>>,
}

/// Does `area` (or an area above it) require approval?
pub fn required(conn: &Connection, area: &str) -> crate::db::sql::Result<bool> {
    conn.query_row(
        "WITH RECURSIVE up(code, parent) AS (
            SELECT code, parent FROM areas WHERE code = ?1
            UNION SELECT a.code, a.parent FROM areas a JOIN up ON a.code = up.parent)
         SELECT EXISTS (SELECT 1 FROM up JOIN areas a ON a.code = up.code
                        WHERE a.requires_approval = 1)",
        [area],
        |r| r.get(0),
    )
}

/// Set whether `area` (and its subtree) requires approval.
pub fn set_required(conn: &Connection, area: &str, required: bool) -> crate::db::sql::Result<()> {
    conn.execute(
        "UPDATE areas SET requires_approval = ?2 WHERE code = ?1",
        params![area, required],
    )?;
    Ok(())
}

/// `(table, id column, extra condition)` of a kind; a media file's state is per area.
fn place(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Schedule => ("schedules", "id"),
        Kind::Programme => ("programmes", "id"),
        Kind::Media => ("media_areas", "sha256"),
        Kind::Urgent => ("urgent", "id"),
        Kind::Cap => ("cap_source_messages", "id"),
    }
}

/// The state of an item (`area` only matters for media).
pub fn state(
    conn: &Connection,
    kind: Kind,
    id: &str,
    area: &str,
) -> crate::db::sql::Result<Option<State>> {
    let (table, col) = place(kind);
    let sql = if kind == Kind::Media {
        format!("SELECT approval FROM {table} WHERE {col} = ?1 AND area = ?2")
    } else {
        format!("SELECT approval FROM {table} WHERE {col} = ?1 AND ?2 = ?2")
    };
    conn.query_row(&sql, params![id, area], |r| r.get::<_, Option<String>>(0))
        .optional()
        .map(|s| s.flatten().map(|s| State::parse(&s)))
}

/// Move an item to `to` and record the step.
#[allow(clippy::too_many_arguments)]
pub fn set_state(
    conn: &Connection,
    kind: Kind,
    id: &str,
    area: &str,
    to: State,
    action: &str,
    by: &str,
    comment: &str,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<()> {
    let (table, col) = place(kind);
    let sql = if kind == Kind::Media {
        format!("UPDATE {table} SET approval = ?3 WHERE {col} = ?1 AND area = ?2")
    } else {
        format!("UPDATE {table} SET approval = ?3 WHERE {col} = ?1 AND ?2 = ?2")
    };
    conn.execute(&sql, params![id, area, to.as_str()])?;
    conn.execute(
        "INSERT INTO approval_steps (kind, target, area, action, \"by\", at, comment)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![kind.as_str(), id, area, action, by, ts(now), comment],
    )?;
    Ok(())
}

/// An item's history, oldest first (every area's steps for a media file).
pub fn history(conn: &Connection, kind: Kind, id: &str) -> crate::db::sql::Result<Vec<Step>> {
    let mut st = conn.prepare_cached(
        "SELECT action, \"by\", at, comment FROM approval_steps WHERE kind = ?1 AND target = ?2
         ORDER BY id",
    )?;
    let rows = st.query_map(params![kind.as_str(), id], |r| {
        Ok(Step {
            action: r.get(0)?,
            by: r.get(1)?,
            at: parse_ts(&r.get::<_, String>(2)?).unwrap_or_default(),
            comment: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// Is the media file approved in at least one area (it may air)?
pub fn media_approved(conn: &Connection, sha256: &str) -> crate::db::sql::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM media_areas WHERE sha256 = ?1 AND approval = 'approved')",
        [sha256],
        |r| r.get(0),
    )
}

/// Items of `root`'s subtree waiting for approval (drafts) or review (urgent notices).
pub fn queue(conn: &Connection, root: &str) -> crate::db::sql::Result<Vec<Pending>> {
    let mut st = conn.prepare_cached(&format!(
        "{}, items(kind, id, title, area, state, created_by) AS (
            SELECT 'schedule', id, title, owner_area, approval, created_by FROM schedules
                WHERE approval = 'draft'
            UNION ALL SELECT 'programme', id, title, owner_area, approval, created_by
                FROM programmes WHERE approval = 'draft'
            UNION ALL SELECT 'media', m.sha256, m.title, ma.area, ma.approval, ma.uploaded_by
                FROM media_areas ma JOIN media m ON m.sha256 = ma.sha256
                WHERE ma.approval = 'draft'
            UNION ALL SELECT 'urgent', id, title, owner_area, approval, created_by FROM urgent
                WHERE approval = 'review'
            UNION ALL SELECT 'cap', id, title, owner_area, approval, created_by
                FROM cap_source_messages WHERE approval = 'draft')
         SELECT kind, id, title, area, state, created_by,
            (SELECT MAX(at) FROM approval_steps s WHERE s.kind = items.kind
                AND s.target = items.id AND s.action IN ('submitted', 'review'))
         FROM items WHERE area IN (SELECT code FROM sub)
         ORDER BY 7, kind, id",
        crate::db::areas::SUBTREE_CTE
    ))?;
    let rows = st.query_map([root], |r| {
        let kind: String = r.get(0)?;
        Ok(Pending {
            kind: kind.parse().unwrap_or(Kind::Schedule),
            id: r.get(1)?,
            title: r.get(2)?,
            area: r.get(3)?,
            state: State::parse(&r.get::<_, String>(4)?),
            created_by: r.get(5)?,
            submitted_at: r.get::<_, Option<String>>(6)?.as_deref().and_then(parse_ts),
        })
    })?;
    rows.collect()
}
