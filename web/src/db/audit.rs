//! The audit log: who changed what, when, from where.

use crate::db::areas::SUBTREE_CTE as SUBTREE;
use crate::db::sql::{params, Connection};
use crate::db::{parse_ts, ts};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Row id (increasing).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (a username, `cli` or `demo`).
    pub user: String,
    /// The area the change belongs to.
    pub area: String,
    /// What, e.g. `schedule.create`.
    pub action: String,
    /// On what, e.g. the schedule id.
    pub target: String,
    /// Details.
    pub detail: serde_json::Value,
    /// Remote address.
    pub remote: Option<String>,
}

/// One change to record.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub user: &'a str,
    /// The area it belongs to.
    pub area: &'a str,
    /// What, e.g. `schedule.create`.
    pub action: &'a str,
    /// On what.
    pub target: &'a str,
    /// Details.
    pub detail: &'a serde_json::Value,
    /// Client address.
    pub remote: Option<&'a str>,
}

/// Record a change.
pub fn record(conn: &Connection, c: &Change<'_>) -> crate::db::sql::Result<()> {
    conn.execute(
        "INSERT INTO audit (at, username, area, action, target, detail, remote)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            ts(c.at),
            c.user,
            c.area,
            c.action,
            c.target,
            c.detail.to_string(),
            c.remote
        ],
    )?;
    Ok(())
}

/// Which entries to list: all filters optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Made by this user (exact name).
    pub user: Option<String>,
    /// Actions starting with this, e.g. `station` or `station.rotate_token`.
    pub action: Option<String>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}

/// Entries of `root`'s subtree matching `f`, newest first.
pub fn list(
    conn: &Connection,
    root: &str,
    f: &Filter,
    limit: u32,
    offset: u32,
) -> crate::db::sql::Result<Vec<AuditEntry>> {
    let mut st = conn.prepare_cached(&format!(
        "{SUBTREE} SELECT id, at, username, area, action, target, detail, remote FROM audit
         WHERE area IN (SELECT code FROM sub)
           AND (?4 IS NULL OR username = ?4)
           AND (?5 IS NULL OR substr(action, 1, length(?5)) = ?5)
           AND (?6 IS NULL OR at >= ?6)
           AND (?7 IS NULL OR at < ?7)
         ORDER BY id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let (from, to) = (f.from.map(ts), f.to.map(ts));
    let rows = st.query_map(
        params![root, limit, offset, f.user, f.action, from, to],
        |r| {
            let detail: String = r.get(6)?;
            Ok(AuditEntry {
                id: r.get(0)?,
                at: parse_ts(&r.get::<_, String>(1)?).unwrap_or_default(),
                user: r.get(2)?,
                area: r.get(3)?,
                action: r.get(4)?,
                target: r.get(5)?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                remote: r.get(7)?,
            })
        },
    )?;
    rows.collect()
}
