//! The audit log, written by the application layer: a change is made inside an
//! [`Audited`] transaction, whose only way to commit records who did what to which object
//! in the same transaction. Nothing is changed unaudited, and nothing audited is lost.

use crate::auth::User;
use crate::db;
use crate::db::sql::{Connection, Transaction};
use chrono::{DateTime, Utc};

/// Record a change made by `user` in the audit log (inside the caller's transaction).
pub fn record(
    conn: &Connection,
    now: DateTime<Utc>,
    user: &User,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> crate::db::sql::Result<()> {
    db::audit::record(
        conn,
        &db::audit::Change {
            at: now,
            user: &user.username,
            area: &user.area,
            action,
            target,
            detail: &detail,
            remote: user.remote.as_deref(),
        },
    )
}

/// A transaction that commits only together with its audit entry.
pub struct Audited<'c> {
    tx: Transaction<'c>,
    user: &'c User,
    now: DateTime<Utc>,
}

impl<'c> Audited<'c> {
    /// Begin a change by `user` at `now`.
    pub fn begin(
        conn: &'c mut Connection,
        user: &'c User,
        now: DateTime<Utc>,
    ) -> crate::db::sql::Result<Self> {
        Ok(Audited {
            tx: conn.transaction()?,
            user,
            now,
        })
    }

    /// Record `action` on `target` and commit everything at once.
    pub fn commit(
        self,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> crate::db::sql::Result<()> {
        record(&self.tx, self.now, self.user, action, target, detail)?;
        self.tx.commit()
    }
}

impl std::ops::Deref for Audited<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.tx
    }
}
