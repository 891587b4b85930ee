//! The store: one SQLite database (WAL) behind [`Db`], and plain sync functions over
//! `&Connection`, one file per table family. Nothing outside this module writes SQL, so a
//! PostgreSQL store can take its place later.
//!
//! Instants are stored as fixed-width RFC 3339 text in UTC (`2026-11-29T05:30:00.000Z`) so
//! that text order is time order.

pub mod approvals;
pub mod areas;
pub mod audit;
pub mod channels;
pub mod logs;
pub mod media;
pub mod migrations;
pub mod passwords;
pub mod programmes;
pub mod remote;
pub mod schedules;
pub mod stations;
pub mod tokens;
pub mod urgent;
pub mod users;

pub use areas::SUBTREE_CTE as SUBTREE;

use crate::error::AppError;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The database handle: one connection behind a mutex, used from blocking threads only.
///
/// SQLite serialises writers anyway; one connection keeps transactions simple. Reads are
/// short, so a province's controllers are served comfortably.
#[derive(Clone, Debug)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// SQLite refused.
    #[error("cannot open database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The schema is newer than this program.
    #[error(
        "database {path} has schema version {found}, newer than this program knows ({known}); \
         run a newer loaxa-web or restore a backup"
    )]
    TooNew {
        /// The database file.
        path: String,
        /// Its schema version.
        found: i64,
        /// The latest version this program knows.
        known: i64,
    },
    /// A migration failed.
    #[error("cannot migrate database {path}: {source}")]
    Migration {
        /// The database file.
        path: String,
        /// The cause.
        source: rusqlite_migration::Error,
    },
}

impl Db {
    /// Open (creating if needed) and migrate the database at `path`.
    pub fn open(path: &Path) -> Result<Db, OpenError> {
        let p = path.display().to_string();
        let sqlite = |source| OpenError::Sqlite {
            path: p.clone(),
            source,
        };
        let mut conn = Connection::open(path).map_err(sqlite)?;
        configure(&conn).map_err(sqlite)?;
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sqlite)?;
        let known = migrations::latest_version();
        if found > known {
            return Err(OpenError::TooNew {
                path: p,
                found,
                known,
            });
        }
        migrations::migrations()
            .to_latest(&mut conn)
            .map_err(|source| OpenError::Migration {
                path: p.clone(),
                source,
            })?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Run `f` with the connection on a blocking thread.
    pub async fn call<F, R>(&self, f: F) -> Result<R, AppError>
    where
        F: FnOnce(&mut Connection) -> Result<R, AppError> + Send + 'static,
        R: Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| AppError::internal(format!("database task failed: {e}")))?
    }

    /// Run `f` with the connection on the current thread (for the command line).
    pub fn call_blocking<F, R>(&self, f: F) -> Result<R, AppError>
    where
        F: FnOnce(&mut Connection) -> Result<R, AppError>,
    {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Every statement the server runs, parsed once (the hot paths run thousands a second).
    conn.set_prepared_statement_cache_capacity(256);
    Ok(())
}

/// An instant as stored: fixed-width RFC 3339, UTC, milliseconds.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Read back an instant written by [`ts`] (or any RFC 3339 text).
pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Read an optional stored instant column.
pub fn opt_ts(s: Option<String>) -> Option<DateTime<Utc>> {
    s.as_deref().and_then(parse_ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_from_a_newer_program_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loaxa.db");
        drop(Db::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        drop(conn);
        let err = Db::open(&path).unwrap_err().to_string();
        assert!(err.contains("schema version 999"), "{err}");
        assert!(err.contains("newer than this program"), "{err}");
    }

    #[test]
    fn stored_instants_sort_as_text_in_time_order() {
        use chrono::TimeZone;
        let a = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let b = a + chrono::Duration::milliseconds(1);
        assert!(ts(a) < ts(b));
        assert_eq!(ts(a), "2026-01-02T03:04:05.000Z");
        assert_eq!(parse_ts(&ts(b)), Some(b));
    }
}
