//! Sign-in tokens of people (bearer tokens and browser sessions), stored as sha256 hashes.

use crate::db::sql::{params, Connection, OptionalExtension};
use crate::db::{ts, users};
use chrono::{DateTime, Utc};

/// How a token was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Authorization: Bearer`.
    Bearer,
    /// The `loaxa_session` cookie (needs the CSRF header on changes).
    Session,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Bearer => "bearer",
            Kind::Session => "session",
        }
    }
}

/// A live token and its user.
#[derive(Debug, Clone)]
pub struct TokenRow {
    /// The user.
    pub user: users::UserRow,
    /// How it was issued.
    pub kind: Kind,
    /// The CSRF token of a session.
    pub csrf: Option<String>,
}

/// Store a new token.
pub fn insert(
    conn: &Connection,
    hash: &str,
    user_id: i64,
    kind: Kind,
    csrf: Option<&str>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> crate::db::sql::Result<()> {
    conn.execute(
        "INSERT INTO tokens (hash, user_id, kind, csrf, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![hash, user_id, kind.as_str(), csrf, ts(now), ts(expires_at)],
    )?;
    Ok(())
}

/// The live (unexpired) token with this hash.
pub fn lookup(
    conn: &Connection,
    hash: &str,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<Option<TokenRow>> {
    conn.query_row(
        &format!(
            "SELECT {}, tokens.kind, tokens.csrf FROM tokens JOIN users ON users.id = tokens.user_id
             WHERE tokens.hash = ?1 AND tokens.expires_at > ?2 AND users.disabled_at IS NULL",
            users::COLS
        ),
        params![hash, ts(now)],
        |r| {
            let kind: String = r.get(users::NCOLS)?;
            Ok(TokenRow {
                user: users::row(r)?,
                kind: if kind == "session" {
                    Kind::Session
                } else {
                    Kind::Bearer
                },
                csrf: r.get(users::NCOLS + 1)?,
            })
        },
    )
    .optional()
}

/// Revoke a token; also drops every expired one.
pub fn delete(conn: &Connection, hash: &str, now: DateTime<Utc>) -> crate::db::sql::Result<()> {
    conn.execute("DELETE FROM tokens WHERE hash = ?1", [hash])?;
    conn.execute("DELETE FROM tokens WHERE expires_at <= ?1", [ts(now)])?;
    Ok(())
}
