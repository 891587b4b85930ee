//! The store: one SQLite database (WAL) behind [`Db`], and plain sync functions over
//! `&Connection`, one file per table family. Nothing outside this module writes SQL, so a
//! PostgreSQL store can take its place later.
//!
//! Instants are stored as fixed-width RFC 3339 text in UTC (`2026-11-29T05:30:00.000Z`) so
//! that text order is time order.

pub mod approvals;
pub mod areas;
pub mod audit;
pub mod bus;
pub mod cap_sources;
pub mod channels;
pub mod leases;
pub mod live;
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

use crate::error::AppError;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Connection;
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};

/// Work for the database thread.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The database handle: one connection, used by one thread that runs the calls in the
/// order they come (and, for the command line, by the caller's thread under the same lock).
///
/// SQLite serialises writers anyway; one connection keeps transactions simple. Reads are
/// short, so a province's controllers are served comfortably. A queue in front of one
/// thread, rather than a lock taken from a blocking thread per call: when a thousand
/// stations report at once, a call costs a message each way instead of a thread woken to
/// wait on the lock.
#[derive(Clone, Debug)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    jobs: mpsc::Sender<Job>,
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
    /// The database thread could not be started.
    #[error("cannot start the thread for database {path}: {source}")]
    Thread {
        /// The database file.
        path: String,
        /// The cause.
        source: std::io::Error,
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
        let conn = Arc::new(Mutex::new(conn));
        let (jobs, queue) = mpsc::channel::<Job>();
        let shared = conn.clone();
        std::thread::Builder::new()
            .name("database".into())
            .spawn(move || run_jobs(&shared, queue))
            .map_err(|e| OpenError::Thread {
                path: p.clone(),
                source: e,
            })?;
        Ok(Db { conn, jobs })
    }

    /// Run `f` with the connection on the database thread.
    pub async fn call<F, R>(&self, f: F) -> Result<R, AppError>
    where
        F: FnOnce(&mut Connection) -> Result<R, AppError> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |conn: &mut Connection| {
                let _ = tx.send(f(conn));
            }))
            .map_err(|_| AppError::internal("the database thread has stopped"))?;
        rx.await
            .map_err(|_| AppError::internal("database task failed (see the log)"))?
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

/// The database thread: run each job with the connection, in order, until every handle is
/// gone. A job that panics is logged and dropped (its caller gets an error; an open
/// transaction rolls back as it unwinds); the thread goes on with the next.
fn run_jobs(conn: &Mutex<Connection>, queue: mpsc::Receiver<Job>) {
    for job in queue {
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            job(&mut guard)
        }));
        if ran.is_err() {
            tracing::error!("a database call panicked; its request failed");
        }
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

/// Run `f` in a transaction that is on disk when this returns: the connection runs with
/// `synchronous = NORMAL` (in WAL mode a commit survives a crash of the process, but the
/// last commits may be lost to a power cut), and this one transaction with `FULL` (the WAL
/// is fsynced at its commit). For what the server acknowledges to a device that then
/// deletes its copy: log entries.
pub fn durably<R, E: From<rusqlite::Error>>(
    conn: &mut Connection,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<R, E>,
) -> Result<R, E> {
    conn.pragma_update(None, "synchronous", "FULL")?;
    let done = (|| -> Result<R, E> {
        let tx = conn.transaction()?;
        let r = f(&tx)?;
        tx.commit()?;
        Ok(r)
    })();
    let restored = conn.pragma_update(None, "synchronous", "NORMAL");
    let r = done?;
    restored?;
    Ok(r)
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
    fn a_durable_transaction_commits_with_full_sync_and_restores_normal() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("loaxa.db")).unwrap();
        let sync = |c: &Connection| -> i64 {
            c.pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap()
        };
        db.call_blocking(|c| {
            assert_eq!(sync(c), 1, "NORMAL outside");
            let seen = durably(c, |tx| -> Result<i64, AppError> {
                tx.execute_batch("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1)")?;
                Ok(sync(tx))
            })?;
            assert_eq!(seen, 2, "FULL inside");
            assert_eq!(sync(c), 1, "NORMAL again");
            // A failing transaction rolls back and restores NORMAL too.
            let failed = durably(c, |tx| -> Result<(), AppError> {
                tx.execute("INSERT INTO t VALUES (2)", [])?;
                Err(AppError::invalid("no"))
            });
            assert!(failed.is_err());
            assert_eq!(sync(c), 1);
            let n: i64 = c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
            assert_eq!(n, 1);
            Ok(())
        })
        .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_run_in_order_and_a_panicking_one_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("loaxa.db")).unwrap();
        db.call(|c| {
            c.execute_batch("CREATE TABLE t (n INTEGER)")?;
            Ok(())
        })
        .await
        .unwrap();
        // Many callers at once: every insert lands, each sees the rows before it.
        let mut calls = Vec::new();
        for i in 0..200i64 {
            let db = db.clone();
            calls.push(tokio::spawn(async move {
                db.call(move |c| {
                    c.execute("INSERT INTO t (n) VALUES (?1)", [i])?;
                    Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))?)
                })
                .await
            }));
        }
        let mut seen = Vec::new();
        for c in calls {
            seen.push(c.await.unwrap().unwrap());
        }
        seen.sort();
        assert_eq!(seen, (1..=200).collect::<Vec<i64>>());
        // A call that panics inside a transaction fails; the transaction rolls back and
        // the database thread goes on.
        let failed = db
            .call(|c| -> Result<(), AppError> {
                let tx = c.transaction()?;
                tx.execute("INSERT INTO t (n) VALUES (-1)", [])?;
                panic!("a bug in a query");
            })
            .await;
        // Reported as an internal error (the cause goes to the log, not to the client).
        assert_eq!(
            failed.unwrap_err().status,
            axum::http::StatusCode::INTERNAL_SERVER_ERROR
        );
        let n: i64 = db
            .call(|c| Ok(c.query_row("SELECT count(*) FROM t WHERE n = -1", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(n, 0);
        // The command line's path shares the connection.
        let total: i64 = db
            .call_blocking(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(total, 200);
    }

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
