//! The audit log: who changed what, when, from where.

use crate::db::{parse_ts, ts};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use serde::Serialize;

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Row id (increasing).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (a username, `station:CODE` or `cli`).
    pub user: String,
    /// What, e.g. `schedule.create`.
    pub action: String,
    /// On what, e.g. the schedule id.
    pub target: String,
    /// Details.
    pub detail: serde_json::Value,
    /// Remote address.
    pub remote: Option<String>,
}

/// Record a change.
pub fn record(
    conn: &Connection,
    at: DateTime<Utc>,
    user: &str,
    action: &str,
    target: &str,
    detail: &serde_json::Value,
    remote: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO audit (at, username, action, target, detail, remote)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![ts(at), user, action, target, detail.to_string(), remote],
    )?;
    Ok(())
}

/// Newest entries first.
pub fn list(conn: &Connection, limit: u32, offset: u32) -> rusqlite::Result<Vec<AuditEntry>> {
    let mut st = conn.prepare(
        "SELECT id, at, username, action, target, detail, remote FROM audit
         ORDER BY id DESC LIMIT ?1 OFFSET ?2",
    )?;
    let rows = st.query_map(params![limit, offset], |r| {
        let detail: String = r.get(5)?;
        Ok(AuditEntry {
            id: r.get(0)?,
            at: parse_ts(&r.get::<_, String>(1)?).unwrap_or_default(),
            user: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
            remote: r.get(6)?,
        })
    })?;
    rows.collect()
}
