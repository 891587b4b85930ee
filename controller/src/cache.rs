//! The controller's local SQLite store: the cached schedule document, the media index, the
//! log outbox, the play journal (crash recovery and exactly-once logging), pushed urgent
//! notices and settings.
//!
//! SQL lives in plain sync functions over `&Connection`; [`Db`] is the one async boundary.
//! Pragmas: WAL and `synchronous=FULL`, so a log entry that was written survives a power cut.
//!
//! Why one file of about 700 lines (580 of code, the rest its tests): every SQL statement
//! of the controller lives here, one plain function each, so that nothing else writes SQL.

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use rusqlite_migration::{Migrations, M};
use schedules::wire::{LogEntry, ScheduleDocument, UrgentNotice};
use schedules::PlayStatus;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Errors of the local store.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// SQLite failed.
    #[error("local database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A migration failed.
    #[error("local database migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// Stored JSON did not parse.
    #[error("local database holds bad JSON: {0}")]
    Json(#[from] serde_json::Error),
}

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            "CREATE TABLE doc (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version TEXT NOT NULL,
            etag TEXT,
            json TEXT NOT NULL,
            fetched_at_ms INTEGER NOT NULL
        );
        CREATE TABLE media (
            sha256 TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            size INTEGER NOT NULL,
            verified_at_ms INTEGER NOT NULL,
            last_needed_at_ms INTEGER NOT NULL
        );
        CREATE TABLE outbox (
            id TEXT PRIMARY KEY,
            json TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL
        );
        CREATE TABLE plays (
            key TEXT PRIMARY KEY,
            state TEXT NOT NULL CHECK (state IN ('started', 'done')),
            scheduled_at_ms INTEGER NOT NULL,
            started_at_ms INTEGER,
            progress_ms INTEGER NOT NULL DEFAULT 0,
            status TEXT,
            json TEXT
        );
        CREATE INDEX plays_scheduled ON plays (scheduled_at_ms);
        CREATE TABLE urgent (
            id TEXT PRIMARY KEY,
            json TEXT NOT NULL,
            cancelled INTEGER NOT NULL DEFAULT 0,
            received_at_ms INTEGER NOT NULL
        );
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );",
        ),
        // Log entries the server refused one by one (kept for a person to look at; never
        // sent again).
        M::up(
            "CREATE TABLE outbox_quarantine (
                id TEXT PRIMARY KEY,
                json TEXT NOT NULL,
                reason TEXT NOT NULL,
                at_ms INTEGER NOT NULL
            );",
        ),
    ])
}

/// Open (creating and migrating) the database at `path`.
pub fn open(path: &Path) -> Result<Connection, CacheError> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Statements parsed once: the hot paths (journal, outbox) run them again and again.
    conn.set_prepared_statement_cache_capacity(64);
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    migrations().to_latest(&mut conn)?;
    // What an urgent notice's arrival and every airing write, parsed now: the first
    // notice (an emergency's, a thousand stations at once perhaps) does not wait for it.
    for sql in [
        STORE_URGENT,
        PUT_MEDIA,
        TOUCH_MEDIA,
        PLAY_STARTED,
        PLAY_PROGRESS,
    ] {
        conn.prepare_cached(sql)?;
    }
    Ok(conn)
}

/// The shared handle: one connection behind a mutex; [`Db::call`] runs SQL off the async runtime.
#[derive(Clone)]
pub struct Db(Arc<Mutex<Connection>>);

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db")
    }
}

impl Db {
    /// Wrap an open connection.
    pub fn new(conn: Connection) -> Self {
        Self(Arc::new(Mutex::new(conn)))
    }

    /// Open the database at `path`.
    pub fn open(path: &Path) -> Result<Self, CacheError> {
        Ok(Self::new(open(path)?))
    }

    /// Run `f` with the connection, on the calling thread.
    pub fn with<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// Run `f` with the connection on a blocking thread.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> R + Send + 'static,
    ) -> R {
        let db = self.clone();
        match tokio::task::spawn_blocking(move || db.with(f)).await {
            Ok(r) => r,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

/// Milliseconds since the epoch.
pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The instant of `ms` milliseconds since the epoch.
pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

// ---------------------------------------------------------------- schedule document

/// The cached document, with its ETag.
#[derive(Debug, Clone)]
pub struct CachedDoc {
    /// The document.
    pub doc: ScheduleDocument,
    /// The ETag it came with.
    pub etag: Option<String>,
    /// When it was fetched.
    pub fetched_at: DateTime<Utc>,
}

/// Replace the cached document (one transaction).
pub fn store_doc(
    conn: &mut Connection,
    doc: &ScheduleDocument,
    etag: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), CacheError> {
    let json = serde_json::to_string(doc)?;
    let tx = conn.transaction()?;
    tx.prepare_cached("DELETE FROM doc")?.execute([])?;
    tx.prepare_cached(
        "INSERT INTO doc (id, version, etag, json, fetched_at_ms) VALUES (1, ?1, ?2, ?3, ?4)",
    )?
    .execute(params![doc.version, etag, json, ms(now)])?;
    tx.commit()?;
    Ok(())
}

/// The cached document, if any.
pub fn load_doc(conn: &Connection) -> Result<Option<CachedDoc>, CacheError> {
    let row: Option<(String, Option<String>, i64)> = conn
        .prepare_cached("SELECT json, etag, fetched_at_ms FROM doc WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    match row {
        None => Ok(None),
        Some((json, etag, at)) => Ok(Some(CachedDoc {
            doc: serde_json::from_str(&json)?,
            etag,
            fetched_at: from_ms(at),
        })),
    }
}

// ---------------------------------------------------------------- settings

/// Read a setting.
pub fn get_setting(conn: &Connection, key: &str) -> Result<Option<String>, CacheError> {
    Ok(conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

/// Write a setting.
pub fn set_setting(conn: &Connection, key: &str, value: &str) -> Result<(), CacheError> {
    conn.prepare_cached(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

// ---------------------------------------------------------------- urgent notices

const STORE_URGENT: &str = "INSERT INTO urgent (id, json, received_at_ms) VALUES (?1, ?2, ?3)
    ON CONFLICT (id) DO UPDATE SET json = excluded.json";

/// Remember a pushed urgent notice (kept if already known, cancelled flag untouched).
pub fn store_urgent(
    conn: &Connection,
    notice: &UrgentNotice,
    now: DateTime<Utc>,
) -> Result<(), CacheError> {
    conn.prepare_cached(STORE_URGENT)?.execute(params![
        notice.id,
        serde_json::to_string(notice)?,
        ms(now)
    ])?;
    Ok(())
}

/// Mark an urgent notice cancelled (remembered even if its body never arrived).
pub fn cancel_urgent(conn: &Connection, id: &str, now: DateTime<Utc>) -> Result<(), CacheError> {
    conn.prepare_cached(
        "INSERT INTO urgent (id, json, cancelled, received_at_ms) VALUES (?1, 'null', 1, ?2)
         ON CONFLICT (id) DO UPDATE SET cancelled = 1",
    )?
    .execute(params![id, ms(now)])?;
    Ok(())
}

/// Pushed notices and the set of cancelled ids.
pub fn load_urgent(
    conn: &Connection,
) -> Result<(Vec<UrgentNotice>, std::collections::HashSet<String>), CacheError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, json, cancelled FROM urgent ORDER BY received_at_ms")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, bool>(2)?,
        ))
    })?;
    let mut notices = Vec::new();
    let mut cancelled = std::collections::HashSet::new();
    for row in rows {
        let (id, json, c) = row?;
        if c {
            cancelled.insert(id);
        } else if let Ok(n) = serde_json::from_str::<UrgentNotice>(&json) {
            notices.push(n);
        }
    }
    Ok((notices, cancelled))
}

/// Forget notices received before `before` (they have long expired).
pub fn prune_urgent(conn: &Connection, before: DateTime<Utc>) -> Result<(), CacheError> {
    conn.prepare_cached("DELETE FROM urgent WHERE received_at_ms < ?1")?
        .execute([ms(before)])?;
    Ok(())
}

// ---------------------------------------------------------------- media index

/// One cached media file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRow {
    /// Its hash.
    pub sha256: String,
    /// Where it is.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// When its hash was last checked.
    pub verified_at: DateTime<Utc>,
    /// When the schedule last needed it.
    pub last_needed_at: DateTime<Utc>,
}

const PUT_MEDIA: &str = "INSERT INTO media (sha256, path, size, verified_at_ms, last_needed_at_ms)
    VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (sha256) DO UPDATE SET path = excluded.path, size = excluded.size,
      verified_at_ms = excluded.verified_at_ms,
      last_needed_at_ms = max(media.last_needed_at_ms, excluded.last_needed_at_ms)";

/// Record a verified media file.
pub fn put_media(conn: &Connection, row: &MediaRow) -> Result<(), CacheError> {
    conn.prepare_cached(PUT_MEDIA)?.execute(params![
        row.sha256,
        row.path,
        row.size as i64,
        ms(row.verified_at),
        ms(row.last_needed_at)
    ])?;
    Ok(())
}

/// Every cached media file.
pub fn list_media(conn: &Connection) -> Result<Vec<MediaRow>, CacheError> {
    let mut stmt = conn.prepare_cached(
        "SELECT sha256, path, size, verified_at_ms, last_needed_at_ms FROM media ORDER BY sha256",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(MediaRow {
            sha256: r.get(0)?,
            path: r.get(1)?,
            size: r.get::<_, i64>(2)? as u64,
            verified_at: from_ms(r.get(3)?),
            last_needed_at: from_ms(r.get(4)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const TOUCH_MEDIA: &str =
    "UPDATE media SET last_needed_at_ms = max(last_needed_at_ms, ?2) WHERE sha256 = ?1";

/// Mark media as needed now.
pub fn touch_media(conn: &Connection, sha256: &str, now: DateTime<Utc>) -> Result<(), CacheError> {
    conn.prepare_cached(TOUCH_MEDIA)?
        .execute(params![sha256, ms(now)])?;
    Ok(())
}

/// Forget a media file.
pub fn delete_media(conn: &Connection, sha256: &str) -> Result<(), CacheError> {
    conn.prepare_cached("DELETE FROM media WHERE sha256 = ?1")?
        .execute([sha256])?;
    Ok(())
}

// ---------------------------------------------------------------- plays and the outbox

const PLAY_STARTED: &str =
    "INSERT INTO plays (key, state, scheduled_at_ms, started_at_ms, progress_ms, json)
     VALUES (?1, 'started', ?2, ?3, 0, ?4)
     ON CONFLICT (key) DO NOTHING";

const PLAY_PROGRESS: &str =
    "UPDATE plays SET progress_ms = ?2 WHERE key = ?1 AND state = 'started'";

/// Record that an occurrence started airing (durably, before anything else is done with it).
/// `template` is its log entry as it would be if it ended now.
pub fn play_started(conn: &Connection, template: &LogEntry) -> Result<(), CacheError> {
    conn.prepare_cached(PLAY_STARTED)?.execute(params![
        template.id,
        ms(template.scheduled_at),
        template.started_at.map(ms),
        serde_json::to_string(template)?
    ])?;
    Ok(())
}

/// Record how long an airing has played so far (every few seconds).
pub fn play_progress(conn: &Connection, key: &str, progress_ms: u64) -> Result<(), CacheError> {
    conn.prepare_cached(PLAY_PROGRESS)?
        .execute(params![key, progress_ms as i64])?;
    Ok(())
}

/// Record what became of an occurrence: exactly once. Returns false (and changes nothing)
/// when the occurrence already has its outcome.
pub fn record_outcome(
    conn: &mut Connection,
    entry: &LogEntry,
    now: DateTime<Utc>,
) -> Result<bool, CacheError> {
    let tx = conn.transaction()?;
    let done = record_outcome_tx(&tx, entry, now)?;
    tx.commit()?;
    Ok(done)
}

fn record_outcome_tx(
    tx: &Transaction<'_>,
    entry: &LogEntry,
    now: DateTime<Utc>,
) -> Result<bool, CacheError> {
    let state: Option<String> = tx
        .prepare_cached("SELECT state FROM plays WHERE key = ?1")?
        .query_row([&entry.id], |r| r.get(0))
        .optional()?;
    if state.as_deref() == Some("done") {
        return Ok(false);
    }
    let json = serde_json::to_string(entry)?;
    tx.prepare_cached(
        "INSERT INTO plays (key, state, scheduled_at_ms, started_at_ms, progress_ms, status, json)
         VALUES (?1, 'done', ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (key) DO UPDATE SET state = 'done', progress_ms = excluded.progress_ms,
           status = excluded.status, json = excluded.json",
    )?
    .execute(params![
        entry.id,
        ms(entry.scheduled_at),
        entry.started_at.map(ms),
        entry.played_ms as i64,
        entry.status.as_str(),
        json
    ])?;
    tx.prepare_cached(
        "INSERT OR IGNORE INTO outbox (id, json, created_at_ms) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![entry.id, json, ms(now)])?;
    Ok(true)
}

/// Keys of every occurrence with a journal row (started or done) scheduled at or after `since`.
pub fn known_keys(
    conn: &Connection,
    since: DateTime<Utc>,
) -> Result<std::collections::HashSet<String>, CacheError> {
    let mut stmt = conn.prepare_cached("SELECT key FROM plays WHERE scheduled_at_ms >= ?1")?;
    let rows = stmt.query_map([ms(since)], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The outcome of every occurrence due at or after `since`, as logged.
pub fn done_since(conn: &Connection, since: DateTime<Utc>) -> Result<Vec<LogEntry>, CacheError> {
    let mut stmt = conn.prepare_cached(
        "SELECT json FROM plays WHERE state = 'done' AND scheduled_at_ms >= ?1 AND json IS NOT NULL",
    )?;
    let rows = stmt.query_map([ms(since)], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for json in rows {
        out.push(serde_json::from_str(&json?)?);
    }
    Ok(out)
}

/// Boot-time recovery: every occurrence that was airing when the controller stopped (crash,
/// power cut, kill) is logged `interrupted`, once. `played_ms` is the last progress point
/// recorded (progress is written every 2 s, so it is at most ~2 s short of what aired).
/// Returns the entries logged.
pub fn recover_interrupted(
    conn: &mut Connection,
    now: DateTime<Utc>,
) -> Result<Vec<LogEntry>, CacheError> {
    let tx = conn.transaction()?;
    type Row = (String, i64, i64, Option<i64>, Option<String>);
    let rows: Vec<Row> = {
        let mut stmt = tx.prepare_cached(
            "SELECT key, scheduled_at_ms, progress_ms, started_at_ms, json FROM plays
             WHERE state = 'started' ORDER BY scheduled_at_ms",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut logged = Vec::new();
    for (key, scheduled, progress, started, json) in rows {
        let mut entry: LogEntry = match json.as_deref().map(serde_json::from_str) {
            Some(Ok(e)) => e,
            _ => LogEntry {
                id: key.clone(),
                schedule_id: None,
                urgent_id: None,
                title: String::new(),
                category: String::new(),
                priority: Default::default(),
                media_sha256: None,
                scheduled_at: from_ms(scheduled),
                started_at: None,
                ended_at: None,
                played_ms: 0,
                status: PlayStatus::Interrupted,
                reason: None,
                rms_dbfs: None,
                peak_dbfs: None,
                gaps: vec![],
                part_of: None,
                planned_ms: None,
            },
        };
        let started = started.map(from_ms).or(entry.started_at);
        entry.started_at = started;
        entry.played_ms = progress.max(0) as u64;
        entry.ended_at = started.map(|s| s + chrono::Duration::milliseconds(progress.max(0)));
        entry.status = PlayStatus::Interrupted;
        entry.reason = Some(
            "the controller stopped while this was airing (crash, kill or power cut); \
             played_ms is the last progress recorded"
                .into(),
        );
        if record_outcome_tx(&tx, &entry, now)? {
            logged.push(entry);
        }
    }
    tx.commit()?;
    Ok(logged)
}

/// Forget journal rows of occurrences scheduled before `before` that are done.
pub fn prune_plays(conn: &Connection, before: DateTime<Utc>) -> Result<usize, CacheError> {
    Ok(conn
        .prepare_cached("DELETE FROM plays WHERE state = 'done' AND scheduled_at_ms < ?1")?
        .execute([ms(before)])?)
}

/// Up to `limit` outbox entries, oldest first.
pub fn outbox_batch(conn: &Connection, limit: usize) -> Result<Vec<LogEntry>, CacheError> {
    let mut stmt =
        conn.prepare_cached("SELECT json FROM outbox ORDER BY created_at_ms, id LIMIT ?1")?;
    let rows = stmt.query_map([limit as i64], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for json in rows {
        out.push(serde_json::from_str(&json?)?);
    }
    Ok(out)
}

/// How many entries wait in the outbox.
pub fn outbox_len(conn: &Connection) -> Result<u64, CacheError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM outbox")?
        .query_row([], |r| r.get::<_, i64>(0))? as u64)
}

/// Move an entry the server refused out of the outbox, keeping it and `reason` aside.
pub fn outbox_quarantine(
    conn: &mut Connection,
    id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), CacheError> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT OR REPLACE INTO outbox_quarantine (id, json, reason, at_ms)
         SELECT id, json, ?2, ?3 FROM outbox WHERE id = ?1",
        params![id, reason, ms(now)],
    )?;
    tx.execute("DELETE FROM outbox WHERE id = ?1", [id])?;
    tx.commit()?;
    Ok(())
}

/// Entries put aside by [`outbox_quarantine`]: (id, reason).
pub fn quarantined(conn: &Connection) -> Result<Vec<(String, String)>, CacheError> {
    let mut stmt = conn.prepare("SELECT id, reason FROM outbox_quarantine ORDER BY at_ms, id")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Delete the entries the server acknowledged. Returns how many were deleted.
pub fn outbox_ack(conn: &mut Connection, ids: &[String]) -> Result<usize, CacheError> {
    let tx = conn.transaction()?;
    let mut n = 0;
    {
        let mut stmt = tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
        for id in ids {
            n += stmt.execute([id])?;
        }
    }
    tx.commit()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    fn entry(key: &str, status: PlayStatus) -> LogEntry {
        LogEntry {
            id: key.into(),
            schedule_id: Some("r1".into()),
            urgent_id: None,
            title: "Bản tin".into(),
            category: String::new(),
            priority: Default::default(),
            media_sha256: None,
            scheduled_at: t(0),
            started_at: Some(t(0)),
            ended_at: None,
            played_ms: 0,
            status,
            reason: None,
            rms_dbfs: None,
            peak_dbfs: None,
            gaps: vec![],
            part_of: None,
            planned_ms: None,
        }
    }

    /// A journal in a fresh directory; the directory goes when the test drops it.
    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("c.sqlite")).unwrap();
        (dir, conn)
    }

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    #[test]
    fn an_outcome_is_recorded_once_and_deleted_only_when_acknowledged() {
        let (_dir, mut c) = db();
        assert!(record_outcome(&mut c, &entry("r1@1", PlayStatus::Played), t(1)).unwrap());
        // A second outcome for the same occurrence (a retry, a race) changes nothing.
        assert!(!record_outcome(&mut c, &entry("r1@1", PlayStatus::Missed), t(2)).unwrap());
        assert!(record_outcome(&mut c, &entry("r1@2", PlayStatus::Skipped), t(3)).unwrap());
        assert_eq!(outbox_len(&c).unwrap(), 2);
        let batch = outbox_batch(&c, 10).unwrap();
        assert_eq!(batch[0].status, PlayStatus::Played);
        // The server acknowledged only one (and one it never got): only that one goes.
        assert_eq!(
            outbox_ack(&mut c, &["r1@1".into(), "nope".into()]).unwrap(),
            1
        );
        assert_eq!(outbox_len(&c).unwrap(), 1);
        // Once acknowledged and gone from the outbox, it still cannot be logged again.
        assert!(!record_outcome(&mut c, &entry("r1@1", PlayStatus::Played), t(4)).unwrap());
        assert_eq!(outbox_len(&c).unwrap(), 1);
    }

    #[test]
    fn interrupted_airing_is_logged_once_after_a_crash() {
        let (_dir, mut c) = db();
        play_started(&c, &entry("r1@9", PlayStatus::Played)).unwrap();
        play_progress(&c, "r1@9", 4000).unwrap();
        let first = recover_interrupted(&mut c, t(100)).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].status, PlayStatus::Interrupted);
        assert_eq!(first[0].played_ms, 4000);
        assert_eq!(first[0].ended_at, Some(t(4)));
        // A second boot logs nothing more.
        assert!(recover_interrupted(&mut c, t(200)).unwrap().is_empty());
        assert_eq!(outbox_len(&c).unwrap(), 1);
        assert!(known_keys(&c, t(-10)).unwrap().contains("r1@9"));
    }

    #[test]
    fn the_document_round_trips_and_is_replaced_whole() {
        let (_dir, mut c) = db();
        let mut doc = ScheduleDocument {
            station: "X1".parse().unwrap(),
            name: "Xã".into(),
            timezone: "Asia/Ho_Chi_Minh".into(),
            version: "v1".into(),
            rules: vec![],
            media: vec![],
            urgent: vec![],
            commands: vec![],
            volume_schedule: vec![],
            relays: vec![],
        };
        store_doc(&mut c, &doc, Some("\"v1\""), t(0)).unwrap();
        doc.version = "v2".into();
        store_doc(&mut c, &doc, Some("\"v2\""), t(1)).unwrap();
        let got = load_doc(&c).unwrap().unwrap();
        assert_eq!(got.doc, doc);
        assert_eq!(got.etag.as_deref(), Some("\"v2\""));
    }
}
