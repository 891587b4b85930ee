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
pub mod copy;
pub mod leases;
pub mod live;
pub mod logs;
pub mod media;
pub mod migrations;
pub mod passwords;
pub mod programmes;
pub mod remote;
pub mod schedules;
pub mod sql;
pub mod stations;
pub mod tokens;
pub mod urgent;
pub mod users;

use crate::error::AppError;
use chrono::{DateTime, SecondsFormat, Utc};
use sql::{Backend, Connection};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

/// Work for a database thread.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Where the store is: `sqlite:PATH` (the default, a file in the data directory) or a
/// PostgreSQL URL (`postgres://user@host:port/db`), shared by several nodes.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (URL or `key=value` form).
    Postgres(String),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl std::fmt::Display for Location {
    /// As given, with any password hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            Location::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// A PostgreSQL URL with its password replaced by `***`.
fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((auth, host)) = rest.split_once('@') {
            if let Some((user, _)) = auth.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
        return url.to_string();
    }
    // key=value form: hide password=…
    url.split_whitespace()
        .map(|kv| match kv.split_once('=') {
            Some(("password", _)) => "password=***".to_string(),
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Location {
    /// Read `--database`: `sqlite:PATH`, `postgres://…`/`postgresql://…`; `None` is
    /// `loaxa.db` in `data_dir`.
    pub fn parse(given: Option<&str>, data_dir: &Path) -> Result<Location, String> {
        let Some(s) = given.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(Location::Sqlite(data_dir.join("loaxa.db")));
        };
        if let Some(path) = s.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(
                    "--database sqlite: needs a file path, e.g. sqlite:/var/lib/loaxa/loaxa.db"
                        .into(),
                );
            }
            return Ok(Location::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            s.parse::<postgres::Config>()
                .map_err(|e| format!("--database {}: {e}", redact(s)))?;
            return Ok(Location::Postgres(s.to_string()));
        }
        Err(format!(
            "--database {}: expected sqlite:PATH or postgres://USER@HOST:PORT/DATABASE",
            redact(s)
        ))
    }
}

/// The database handle.
///
/// SQLite: one connection, used by one thread that runs the calls in the order they come
/// (and, for the command line, by the caller's thread under the same lock). SQLite
/// serialises writers anyway; one connection keeps transactions simple. A queue in front of
/// one thread, rather than a lock taken from a blocking thread per call: when a thousand
/// stations report at once, a call costs a message each way instead of a thread woken to
/// wait on the lock.
///
/// PostgreSQL: [`PG_THREADS`] threads, each with its own connection, take calls from one
/// queue; a connection that broke is opened again before the next call. Transactions are
/// serialised across every node (see [`sql::PG_WRITE_LOCK`]).
#[derive(Clone, Debug)]
pub struct Db {
    jobs: mpsc::Sender<Job>,
    /// SQLite's one connection, for the command line's direct calls.
    direct: Option<Arc<Mutex<Connection>>>,
    /// PostgreSQL's connection string and how it is shown, for the command line's calls.
    postgres: Option<Arc<(String, String)>>,
    backend: Backend,
}

/// Connections (and threads) per node on PostgreSQL.
pub const PG_THREADS: usize = 4;

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
    /// PostgreSQL refused or could not be reached.
    #[error("cannot open database {path}: {source}")]
    Postgres {
        /// The database, password hidden.
        path: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The PostgreSQL database does not sort text byte by byte.
    #[error(
        "database {path} sorts text by the collation {collation}; Loa Xã needs byte order \
         (instants are stored as text). Create it with: CREATE DATABASE loaxa TEMPLATE template0 \
         ENCODING 'UTF8' LOCALE 'C'"
    )]
    Collation {
        /// The database, password hidden.
        path: String,
        /// Its collation.
        collation: String,
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
    /// Open (creating if needed) and migrate the SQLite database at `path`.
    pub fn open(path: &Path) -> Result<Db, OpenError> {
        Self::open_at(&Location::Sqlite(path.to_path_buf()))
    }

    /// Open (creating or migrating the schema if needed) the store at `at`.
    pub fn open_at(at: &Location) -> Result<Db, OpenError> {
        match at {
            Location::Sqlite(path) => Self::open_sqlite(path),
            Location::Postgres(url) => Self::open_postgres(url, &at.to_string()),
        }
    }

    fn open_sqlite(path: &Path) -> Result<Db, OpenError> {
        let p = path.display().to_string();
        let sqlite = |source| OpenError::Sqlite {
            path: p.clone(),
            source,
        };
        let mut conn = rusqlite::Connection::open(path).map_err(sqlite)?;
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
        let conn = Arc::new(Mutex::new(Connection::sqlite(conn)));
        let (jobs, queue) = mpsc::channel::<Job>();
        let shared = conn.clone();
        std::thread::Builder::new()
            .name("database".into())
            .spawn(move || run_jobs(&shared, queue))
            .map_err(|e| OpenError::Thread {
                path: p.clone(),
                source: e,
            })?;
        Ok(Db {
            jobs,
            direct: Some(conn),
            postgres: None,
            backend: Backend::Sqlite,
        })
    }

    fn open_postgres(url: &str, shown: &str) -> Result<Db, OpenError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), OpenError>>();
        for n in 0..PG_THREADS {
            let (queue, ready, url, name) = (
                queue.clone(),
                ready_tx.clone(),
                url.to_string(),
                shown.to_string(),
            );
            std::thread::Builder::new()
                .name(format!("database-{n}"))
                .spawn(move || {
                    let shown = name.as_str();
                    // The first thread migrates; the others connect once it has.
                    let opened = pg_connect(&url, shown).and_then(|mut c| {
                        if n == 0 {
                            migrations::postgres(&mut c, shown).map_err(|e| match e {
                                migrations::PgMigrationError::TooNew { found, known } => {
                                    OpenError::TooNew {
                                        path: shown.to_string(),
                                        found,
                                        known,
                                    }
                                }
                                migrations::PgMigrationError::Store(e) => OpenError::Postgres {
                                    path: shown.to_string(),
                                    source: Box::new(e),
                                },
                            })?;
                        }
                        Ok(c)
                    });
                    match opened {
                        Ok(conn) => {
                            let _ = ready.send(Ok(()));
                            run_pg_jobs(conn, &url, shown, &queue);
                        }
                        Err(e) => {
                            let _ = ready.send(Err(e));
                        }
                    }
                })
                .map_err(|e| OpenError::Thread {
                    path: shown.to_string(),
                    source: e,
                })?;
            // Wait for the migrating thread before starting the others.
            if n == 0 {
                ready_rx.recv().map_err(|_| OpenError::Postgres {
                    path: shown.to_string(),
                    source: "the database thread stopped".into(),
                })??;
            }
        }
        drop(ready_tx);
        for _ in 1..PG_THREADS {
            ready_rx.recv().map_err(|_| OpenError::Postgres {
                path: shown.to_string(),
                source: "the database thread stopped".into(),
            })??;
        }
        Ok(Db {
            jobs,
            direct: None,
            postgres: Some(Arc::new((url.to_string(), shown.to_string()))),
            backend: Backend::Postgres,
        })
    }

    /// Which store this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Run `f` with a connection on a database thread.
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

    /// Run `f` with a connection, waiting on the current thread (for the command line and
    /// set-up code; not from a busy async task).
    pub fn call_blocking<F, R>(&self, f: F) -> Result<R, AppError>
    where
        F: FnOnce(&mut Connection) -> Result<R, AppError> + Send,
        R: Send,
    {
        if let Some(conn) = &self.direct {
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            return f(&mut guard);
        }
        // PostgreSQL: its own connection on a scoped thread (the client must not run
        // inside an async runtime, and set-up code may call this from one).
        let Some((url, shown)) = self.postgres.as_deref() else {
            return Err(AppError::internal("no database connection"));
        };
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut conn = pg_connect(url, shown)
                    .map_err(|e| AppError::internal(format!("database: {e}")))?;
                f(&mut conn)
            })
            .join()
            .unwrap_or_else(|_| Err(AppError::internal("a database call panicked")))
        })
    }
}

/// A SQLite database thread: run each job with the connection, in order, until every
/// handle is gone. A job that panics is logged and dropped (its caller gets an error; an
/// open transaction rolls back as it unwinds); the thread goes on with the next.
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

/// A PostgreSQL database thread: like [`run_jobs`], taking jobs from the queue it shares
/// with the node's other threads, and opening its connection again when it broke.
fn run_pg_jobs(mut conn: Connection, url: &str, shown: &str, queue: &Mutex<mpsc::Receiver<Job>>) {
    let mut warned = false;
    loop {
        let job = {
            let q = queue.lock().unwrap_or_else(|e| e.into_inner());
            match q.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        if conn.is_closed() {
            match pg_connect(url, shown) {
                Ok(c) => {
                    conn = c;
                    if warned {
                        tracing::info!(database = shown, "connected to the database again");
                    }
                    warned = false;
                }
                Err(e) => {
                    if !warned {
                        tracing::error!(error = %e, "the database connection is lost");
                    }
                    warned = true;
                }
            }
        }
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut conn)));
        if ran.is_err() {
            tracing::error!("a database call panicked; its request failed");
            // A transaction the panic left open is rolled back by its guard; a connection
            // left in an unknown state is replaced.
            if let Ok(c) = pg_connect(url, shown) {
                conn = c;
            }
        }
    }
}

/// Open one PostgreSQL connection and check the database sorts text byte by byte.
fn pg_connect(url: &str, shown: &str) -> Result<Connection, OpenError> {
    let fail = |e: postgres::Error| OpenError::Postgres {
        path: shown.to_string(),
        source: Box::new(e),
    };
    let mut config: postgres::Config = url.parse().map_err(fail)?;
    if config.get_application_name().is_none() {
        config.application_name("loaxa-web");
    }
    config.connect_timeout(std::time::Duration::from_secs(10));
    let mut client = config.connect(postgres::NoTls).map_err(fail)?;
    let collation: String = client
        .query_one(
            "SELECT datcollate::text FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .map_err(fail)?
        .get(0);
    if collation != "C" && collation != "POSIX" {
        return Err(OpenError::Collation {
            path: shown.to_string(),
            collation,
        });
    }
    Ok(Connection::postgres(client))
}

fn configure(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Every statement the server runs, parsed once (the hot paths run thousands a second).
    conn.set_prepared_statement_cache_capacity(256);
    Ok(())
}

/// Run `f` in a transaction that is on disk when this returns. SQLite runs with
/// `synchronous = NORMAL` (in WAL mode a commit survives a crash of the process, but the
/// last commits may be lost to a power cut), and this one transaction with `FULL` (the WAL
/// is fsynced at its commit). PostgreSQL commits durably anyway. For what the server
/// acknowledges to a device that then deletes its copy: log entries.
pub fn durably<R, E: From<sql::Error>>(
    conn: &mut Connection,
    f: impl FnOnce(&sql::Transaction<'_>) -> Result<R, E>,
) -> Result<R, E> {
    let sync = |c: &Connection, level: &str| -> Result<(), sql::Error> {
        if let Some(s) = c.as_sqlite() {
            s.pragma_update(None, "synchronous", level)?;
        }
        Ok(())
    };
    sync(conn, "FULL")?;
    let done = (|| -> Result<R, E> {
        let tx = conn.transaction()?;
        let r = f(&tx)?;
        tx.commit()?;
        Ok(r)
    })();
    let restored = sync(conn, "NORMAL");
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
            c.as_sqlite()
                .unwrap()
                .pragma_query_value(None, "synchronous", |r| r.get(0))
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
        let conn = rusqlite::Connection::open(&path).unwrap();
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
