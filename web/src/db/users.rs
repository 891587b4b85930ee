//! Users: people who sign in, with a role over an area's subtree.

use crate::db::sql::{params, Connection, OptionalExtension, Row};
use crate::db::ts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a user may do inside their area's subtree.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads and reports.
    Viewer,
    /// Media, schedules and urgent notices.
    Operator,
    /// An operator who also approves or rejects what operators make in areas that require
    /// approval (stored as `operator` with the `approver` flag).
    Approver,
    /// Everything, including users and stations.
    Admin,
}

impl Role {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "approver" => Ok(Role::Approver),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?}: expected admin, approver, operator or viewer"
            )),
        }
    }
}

/// One user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Row id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// The root of the user's rights.
    pub area: String,
    /// Disabled: cannot sign in, holds no token.
    pub disabled: bool,
}

/// The columns [`row`] reads, for joins (there are [`NCOLS`] of them).
/// (An approver is stored as an operator with the `approver` flag: see migration 5.)
pub const COLS: &str = "users.id, users.username, users.password_hash, \
    CASE WHEN users.role = 'operator' AND users.approver = 1 THEN 'approver' ELSE users.role END, \
    users.area, users.disabled_at IS NOT NULL";

/// How many columns [`COLS`] holds: a join's own columns start at this index.
pub const NCOLS: usize = 6;

/// Read a user from [`COLS`].
pub fn row(r: &Row<'_>) -> crate::db::sql::Result<UserRow> {
    let role: String = r.get(3)?;
    Ok(UserRow {
        id: r.get(0)?,
        username: r.get(1)?,
        password_hash: r.get(2)?,
        role: role.parse().unwrap_or(Role::Viewer),
        area: r.get(4)?,
        disabled: r.get(5)?,
    })
}

/// Add a user; `password_hash` is already hashed.
pub fn insert(
    conn: &Connection,
    username: &str,
    password_hash: &str,
    role: Role,
    area: &str,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<i64> {
    conn.query_row(
        "INSERT INTO users (username, password_hash, role, area, created_at, approver)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![
            username,
            password_hash,
            // See migration 5: an approver is an operator with the approver flag.
            if role == Role::Approver {
                Role::Operator.as_str()
            } else {
                role.as_str()
            },
            area,
            ts(now),
            role == Role::Approver
        ],
        |r| r.get(0),
    )
}

/// One user by login name.
pub fn by_username(conn: &Connection, username: &str) -> crate::db::sql::Result<Option<UserRow>> {
    conn.query_row(
        &format!("SELECT {COLS} FROM users WHERE username = ?1"),
        [username],
        row,
    )
    .optional()
}

/// Users whose area is in `root`'s subtree, by name.
pub fn list_in_subtree(conn: &Connection, root: &str) -> crate::db::sql::Result<Vec<UserRow>> {
    let mut st = conn.prepare_cached(&format!(
        "{} SELECT {COLS} FROM users WHERE users.area IN (SELECT code FROM sub)
         ORDER BY users.username",
        crate::db::areas::SUBTREE_CTE
    ))?;
    let rows = st.query_map([root], row)?;
    rows.collect()
}

/// Disable (`at` = when) or enable (`None`) a user; disabling also deletes every token of
/// theirs, so their sessions end at once. One transaction.
pub fn set_disabled(
    conn: &mut Connection,
    user_id: i64,
    at: Option<DateTime<Utc>>,
) -> crate::db::sql::Result<()> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE users SET disabled_at = ?2 WHERE id = ?1",
        params![user_id, at.map(ts)],
    )?;
    if at.is_some() {
        tx.execute("DELETE FROM tokens WHERE user_id = ?1", [user_id])?;
    }
    tx.commit()
}
