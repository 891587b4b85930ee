//! The schema, as embedded, append-only migrations. Never edit a released step: add one.

use rusqlite_migration::{Migrations, M};

const STEPS: &[&str] = &[
    // 1: the first schema.
    r#"
CREATE TABLE areas (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    parent     TEXT REFERENCES areas(code),
    created_at TEXT NOT NULL
);
CREATE INDEX areas_parent ON areas(parent);

CREATE TABLE stations (
    code             TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    area             TEXT NOT NULL REFERENCES areas(code),
    timezone         TEXT NOT NULL,
    token_hash       TEXT NOT NULL UNIQUE,
    created_at       TEXT NOT NULL,
    last_seen        TEXT,
    heartbeat        TEXT
);
CREATE INDEX stations_area ON stations(area);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    area          TEXT NOT NULL REFERENCES areas(code),
    created_at    TEXT NOT NULL
);

CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('bearer', 'session')),
    csrf       TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE media (
    sha256         TEXT PRIMARY KEY,
    title          TEXT NOT NULL,
    size_bytes     INTEGER NOT NULL,
    duration_ms    INTEGER NOT NULL,
    codec          TEXT NOT NULL,
    sample_rate    INTEGER NOT NULL,
    channels       INTEGER NOT NULL,
    loudness_lufs  REAL,
    true_peak_dbtp REAL,
    gain_db        REAL NOT NULL,
    created_at     TEXT NOT NULL
);

-- Every area whose users uploaded the file: it is visible there (stored once).
CREATE TABLE media_areas (
    sha256      TEXT NOT NULL REFERENCES media(sha256) ON DELETE CASCADE,
    area        TEXT NOT NULL REFERENCES areas(code),
    uploaded_by TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (sha256, area)
);

CREATE TABLE schedules (
    id             TEXT PRIMARY KEY,
    title          TEXT NOT NULL,
    media_sha256   TEXT NOT NULL REFERENCES media(sha256),
    cron           TEXT,
    at             TEXT,
    starts_on      TEXT,
    ends_on        TEXT,
    excluded_dates TEXT NOT NULL DEFAULT '[]',
    priority       TEXT NOT NULL CHECK (priority IN ('normal', 'priority')),
    category       TEXT NOT NULL DEFAULT '',
    max_wait_ms    INTEGER NOT NULL,
    paused         INTEGER NOT NULL DEFAULT 0,
    owner_area     TEXT NOT NULL REFERENCES areas(code),
    created_by     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CHECK ((cron IS NULL) <> (at IS NULL))
);

-- A schedule targets stations by code and/or areas (every station of the subtree, now and later).
CREATE TABLE schedule_targets (
    schedule_id TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('station', 'area')),
    code        TEXT NOT NULL,
    PRIMARY KEY (schedule_id, kind, code)
);

CREATE TABLE urgent (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    media_sha256 TEXT NOT NULL REFERENCES media(sha256),
    category     TEXT NOT NULL DEFAULT '',
    repeat       INTEGER NOT NULL,
    interval_s   INTEGER NOT NULL,
    starts_at    TEXT NOT NULL,
    expires_at   TEXT,
    owner_area   TEXT NOT NULL REFERENCES areas(code),
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    cancelled_at TEXT
);

CREATE TABLE urgent_stations (
    urgent_id  TEXT NOT NULL REFERENCES urgent(id) ON DELETE CASCADE,
    station    TEXT NOT NULL REFERENCES stations(code),
    state      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    reason     TEXT,
    PRIMARY KEY (urgent_id, station)
);
CREATE INDEX urgent_stations_station ON urgent_stations(station);

-- As-run log. The id is made by the device (occurrence key), unique per station.
CREATE TABLE logs (
    station      TEXT NOT NULL REFERENCES stations(code),
    id           TEXT NOT NULL,
    schedule_id  TEXT,
    urgent_id    TEXT,
    title        TEXT NOT NULL,
    category     TEXT NOT NULL DEFAULT '',
    priority     TEXT NOT NULL,
    media_sha256 TEXT,
    scheduled_at TEXT NOT NULL,
    started_at   TEXT,
    ended_at     TEXT,
    played_ms    INTEGER NOT NULL,
    status       TEXT NOT NULL,
    reason       TEXT,
    rms_dbfs     REAL,
    peak_dbfs    REAL,
    received_at  TEXT NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE INDEX logs_scheduled_at ON logs(scheduled_at);

CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    username TEXT NOT NULL,
    -- The area the change belongs to: the actor's area, or for set-up commands the area
    -- concerned. Administrators read the entries of their subtree.
    area     TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    detail   TEXT NOT NULL DEFAULT '{}',
    remote   TEXT
);
CREATE INDEX audit_at ON audit(at);
CREATE INDEX audit_area ON audit(area);
"#,
    // 2: reports. `source` tells a device's entry from a `missed` entry the server made by
    // reconciliation (a later device entry with the same id replaces it); `planned_ms` is
    // the airtime the occurrence was due to fill (the media's duration when the entry
    // arrived, at least what aired), kept in the row so that it survives media deletion;
    // the covering index serves the period reports without touching the table.
    r#"
ALTER TABLE logs ADD COLUMN source TEXT NOT NULL DEFAULT 'device'
    CHECK (source IN ('device', 'server'));
ALTER TABLE logs ADD COLUMN planned_ms INTEGER NOT NULL DEFAULT 0;
UPDATE logs SET planned_ms = MAX(played_ms,
    COALESCE((SELECT duration_ms FROM media WHERE sha256 = logs.media_sha256), 0));
CREATE INDEX logs_report ON logs(scheduled_at, station, category, status, played_ms, planned_ms);
CREATE INDEX logs_station_scheduled ON logs(station, scheduled_at);

-- The station-local date of `scheduled_at` (set by whoever inserts; rows from before this
-- step are given the Asia/Ho_Chi_Minh date, the zone every station had), and a daily
-- rollup per station, date and category kept by triggers: a month's report reads
-- thousands of rollup rows instead of a million entries.
ALTER TABLE logs ADD COLUMN local_date TEXT;
UPDATE logs SET local_date = date(scheduled_at, '+7 hours');
CREATE TABLE log_days (
    station     TEXT NOT NULL,
    day         TEXT NOT NULL,
    category    TEXT NOT NULL,
    scheduled   INTEGER NOT NULL DEFAULT 0,
    played      INTEGER NOT NULL DEFAULT 0,
    interrupted INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    missed      INTEGER NOT NULL DEFAULT 0,
    played_ms   INTEGER NOT NULL DEFAULT 0,
    planned_ms  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (station, day, category)
) WITHOUT ROWID;
CREATE INDEX log_days_day ON log_days(day);
INSERT INTO log_days SELECT station, local_date, category, COUNT(*), SUM(status = 'played'),
    SUM(status = 'interrupted'), SUM(status = 'skipped'), SUM(status = 'failed'),
    SUM(status = 'missed'), SUM(played_ms), SUM(planned_ms)
    FROM logs GROUP BY station, local_date, category;
CREATE TRIGGER log_days_insert AFTER INSERT ON logs WHEN NEW.local_date IS NOT NULL BEGIN
    INSERT OR IGNORE INTO log_days (station, day, category)
        VALUES (NEW.station, NEW.local_date, NEW.category);
    UPDATE log_days SET scheduled = scheduled + 1,
        played = played + (NEW.status = 'played'),
        interrupted = interrupted + (NEW.status = 'interrupted'),
        skipped = skipped + (NEW.status = 'skipped'),
        failed = failed + (NEW.status = 'failed'),
        missed = missed + (NEW.status = 'missed'),
        played_ms = played_ms + NEW.played_ms, planned_ms = planned_ms + NEW.planned_ms
        WHERE station = NEW.station AND day = NEW.local_date AND category = NEW.category;
END;
CREATE TRIGGER log_days_delete AFTER DELETE ON logs WHEN OLD.local_date IS NOT NULL BEGIN
    UPDATE log_days SET scheduled = scheduled - 1,
        played = played - (OLD.status = 'played'),
        interrupted = interrupted - (OLD.status = 'interrupted'),
        skipped = skipped - (OLD.status = 'skipped'),
        failed = failed - (OLD.status = 'failed'),
        missed = missed - (OLD.status = 'missed'),
        played_ms = played_ms - OLD.played_ms, planned_ms = planned_ms - OLD.planned_ms
        WHERE station = OLD.station AND day = OLD.local_date AND category = OLD.category;
    DELETE FROM log_days WHERE station = OLD.station AND day = OLD.local_date
        AND category = OLD.category AND scheduled <= 0;
END;
CREATE TRIGGER log_days_update AFTER UPDATE ON logs BEGIN
    UPDATE log_days SET scheduled = scheduled - 1,
        played = played - (OLD.status = 'played'),
        interrupted = interrupted - (OLD.status = 'interrupted'),
        skipped = skipped - (OLD.status = 'skipped'),
        failed = failed - (OLD.status = 'failed'),
        missed = missed - (OLD.status = 'missed'),
        played_ms = played_ms - OLD.played_ms, planned_ms = planned_ms - OLD.planned_ms
        WHERE OLD.local_date IS NOT NULL AND station = OLD.station AND day = OLD.local_date
          AND category = OLD.category;
    DELETE FROM log_days WHERE station = OLD.station AND day = OLD.local_date
        AND category = OLD.category AND scheduled <= 0;
    INSERT OR IGNORE INTO log_days (station, day, category)
        SELECT NEW.station, NEW.local_date, NEW.category WHERE NEW.local_date IS NOT NULL;
    UPDATE log_days SET scheduled = scheduled + 1,
        played = played + (NEW.status = 'played'),
        interrupted = interrupted + (NEW.status = 'interrupted'),
        skipped = skipped + (NEW.status = 'skipped'),
        failed = failed + (NEW.status = 'failed'),
        missed = missed + (NEW.status = 'missed'),
        played_ms = played_ms + NEW.played_ms, planned_ms = planned_ms + NEW.planned_ms
        WHERE NEW.local_date IS NOT NULL AND station = NEW.station AND day = NEW.local_date
          AND category = NEW.category;
END;

-- Up to where each station's plan has been compared with its log.
CREATE TABLE reconcile_marks (
    station TEXT PRIMARY KEY REFERENCES stations(code),
    until   TEXT NOT NULL
);

-- Log retention: entries due before `pruned_before` may have been deleted.
CREATE TABLE log_retention (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    pruned_before TEXT NOT NULL,
    pruned_at     TEXT NOT NULL
);
"#,
    // 3: urgent notices: spoken text, delivery times per state, CAP messages received.
    r#"
ALTER TABLE urgent ADD COLUMN text TEXT;
ALTER TABLE urgent ADD COLUMN cap_key TEXT;
ALTER TABLE urgent_stations ADD COLUMN received_at TEXT;
ALTER TABLE urgent_stations ADD COLUMN playing_at TEXT;
ALTER TABLE urgent_stations ADD COLUMN played_at TEXT;
ALTER TABLE urgent_stations ADD COLUMN failed_at TEXT;
ALTER TABLE urgent_stations ADD COLUMN cancelled_at TEXT;
-- First airing at a station that came online after the notice's own airings were over.
ALTER TABLE urgent_stations ADD COLUMN late_start TEXT;

-- Every CAP message taken in, aired or not. `key` is "sender,identifier".
CREATE TABLE cap_messages (
    key         TEXT PRIMARY KEY,
    sender      TEXT NOT NULL,
    identifier  TEXT NOT NULL,
    sent        TEXT NOT NULL,
    status      TEXT NOT NULL,
    msg_type    TEXT NOT NULL,
    aired       INTEGER NOT NULL,
    urgent_id   TEXT REFERENCES urgent(id),
    received_by TEXT NOT NULL,
    received_at TEXT NOT NULL,
    xml         TEXT NOT NULL
);
"#,
    // 4: programmes: an ordered list of parts aired as one occurrence. A part with no media
    // is the jingle slot, filled by each station with its own jingle (none: left out). A
    // programme schedule keeps `media_sha256` = the programme's first media part (what a
    // controller that does not know programmes airs) and names the programme. Log entries
    // of a programme's parts name the programme's entry in `part_of`; reports count the
    // programme's entry only (part entries are stored without `local_date`, so the daily
    // rollup never sees them, and the report index carries `part_of` to leave them out).
    // `slot_limit_minutes`: the longest programme an area's slots take (inherited by the
    // subtree; none: no limit).
    r#"
CREATE TABLE programmes (
    id         TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    category   TEXT NOT NULL DEFAULT '',
    owner_area TEXT NOT NULL REFERENCES areas(code),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE programme_items (
    programme_id TEXT NOT NULL REFERENCES programmes(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    media_sha256 TEXT REFERENCES media(sha256),
    title        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (programme_id, position)
);
CREATE INDEX programme_items_media ON programme_items(media_sha256);
ALTER TABLE schedules ADD COLUMN programme_id TEXT REFERENCES programmes(id);
ALTER TABLE stations ADD COLUMN jingle_sha256 TEXT REFERENCES media(sha256);
ALTER TABLE areas ADD COLUMN slot_limit_minutes INTEGER;
ALTER TABLE logs ADD COLUMN part_of TEXT;
DROP INDEX logs_report;
CREATE INDEX logs_report
    ON logs(scheduled_at, station, category, status, played_ms, planned_ms, part_of);
"#,
    // 5: approval. An area (and its subtree) may require it; then what its operators make
    // starts as a `draft` and only `approved` schedules, programmes and media reach the
    // stations. A media file's state is per area it was uploaded in (`media_areas`). Urgent
    // notices are never held: in such an area they are marked `review` for afterwards.
    // The `approver` role is stored as role 'operator' with `approver` = 1: the CHECK on
    // `users.role` cannot change without rebuilding the table, which would cascade into
    // `tokens`. Every step (submitted, approved, rejected, review, reviewed) is a row of
    // `approval_steps`.
    r#"
ALTER TABLE areas ADD COLUMN requires_approval INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN approver INTEGER NOT NULL DEFAULT 0;
ALTER TABLE schedules ADD COLUMN approval TEXT NOT NULL DEFAULT 'approved'
    CHECK (approval IN ('draft', 'approved', 'rejected'));
ALTER TABLE programmes ADD COLUMN approval TEXT NOT NULL DEFAULT 'approved'
    CHECK (approval IN ('draft', 'approved', 'rejected'));
ALTER TABLE media_areas ADD COLUMN approval TEXT NOT NULL DEFAULT 'approved'
    CHECK (approval IN ('draft', 'approved', 'rejected'));
ALTER TABLE urgent ADD COLUMN approval TEXT CHECK (approval IN ('review', 'reviewed'));
CREATE TABLE approval_steps (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL CHECK (kind IN ('schedule', 'programme', 'media', 'urgent')),
    target  TEXT NOT NULL,
    area    TEXT NOT NULL,
    action  TEXT NOT NULL,
    by      TEXT NOT NULL,
    at      TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT ''
);
CREATE INDEX approval_steps_target ON approval_steps(kind, target);
"#,
    // 6: a user can be disabled (kept for the audit log, cannot sign in).
    r#"
ALTER TABLE users ADD COLUMN disabled_at TEXT;
"#,
    // 7: remote commands to stations and per-station volume schedules.
    r#"
CREATE TABLE station_commands (
    id         TEXT PRIMARY KEY,
    station    TEXT NOT NULL REFERENCES stations(code),
    kind       TEXT NOT NULL CHECK (kind IN ('stop', 'volume', 'resync')),
    volume     INTEGER,
    issued_by  TEXT NOT NULL,
    issued_at  TEXT NOT NULL,
    state      TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    reason     TEXT,
    acked_at   TEXT
);
CREATE INDEX station_commands_station ON station_commands(station, issued_at);

CREATE TABLE station_volume_schedules (
    station    TEXT PRIMARY KEY REFERENCES stations(code),
    steps      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"#,
    // 8: relays of live channels. A schedule plays either a media file or a channel for a
    // window, so `schedules` is rebuilt with `media_sha256` optional (SQLite cannot drop a
    // NOT NULL), carrying every column steps 4 and 5 added (`programme_id`, `approval`): its
    // targets are set aside first, so that dropping the old table cascades into nothing. A
    // relay's log entry keeps the gaps in its window (JSON).
    r#"
CREATE TABLE channels (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    url        TEXT NOT NULL,
    gain_db    REAL NOT NULL DEFAULT 0,
    owner_area TEXT NOT NULL REFERENCES areas(code),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (owner_area, name)
);

CREATE TABLE schedules_v8 (
    id             TEXT PRIMARY KEY,
    title          TEXT NOT NULL,
    media_sha256   TEXT REFERENCES media(sha256),
    channel_id     TEXT REFERENCES channels(id),
    window_ms      INTEGER,
    cron           TEXT,
    at             TEXT,
    starts_on      TEXT,
    ends_on        TEXT,
    excluded_dates TEXT NOT NULL DEFAULT '[]',
    priority       TEXT NOT NULL CHECK (priority IN ('normal', 'priority')),
    category       TEXT NOT NULL DEFAULT '',
    max_wait_ms    INTEGER NOT NULL,
    paused         INTEGER NOT NULL DEFAULT 0,
    owner_area     TEXT NOT NULL REFERENCES areas(code),
    created_by     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    programme_id   TEXT REFERENCES programmes(id),
    approval       TEXT NOT NULL DEFAULT 'approved'
        CHECK (approval IN ('draft', 'approved', 'rejected')),
    CHECK ((cron IS NULL) <> (at IS NULL)),
    CHECK ((media_sha256 IS NULL) <> (channel_id IS NULL)),
    CHECK ((channel_id IS NULL) = (window_ms IS NULL)),
    CHECK (programme_id IS NULL OR channel_id IS NULL)
);
INSERT INTO schedules_v8 (id, title, media_sha256, cron, at, starts_on, ends_on,
        excluded_dates, priority, category, max_wait_ms, paused, owner_area, created_by,
        created_at, updated_at, programme_id, approval)
    SELECT id, title, media_sha256, cron, at, starts_on, ends_on, excluded_dates, priority,
        category, max_wait_ms, paused, owner_area, created_by, created_at, updated_at,
        programme_id, approval
    FROM schedules;
CREATE TEMP TABLE schedule_targets_kept AS SELECT * FROM schedule_targets;
DROP TABLE schedule_targets;
DROP TABLE schedules;
ALTER TABLE schedules_v8 RENAME TO schedules;
CREATE TABLE schedule_targets (
    schedule_id TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('station', 'area')),
    code        TEXT NOT NULL,
    PRIMARY KEY (schedule_id, kind, code)
);
INSERT INTO schedule_targets SELECT * FROM schedule_targets_kept;
DROP TABLE temp.schedule_targets_kept;
CREATE INDEX schedules_channel ON schedules(channel_id);

ALTER TABLE logs ADD COLUMN gaps TEXT;
"#,
    // 9: a channel's gain can be measured from a sample of its stream: the loudness
    // measured and when (NULL until measured; `gain_db` holds the gain either way).
    r#"
ALTER TABLE channels ADD COLUMN loudness_lufs REAL;
ALTER TABLE channels ADD COLUMN measured_at TEXT;
"#,
    // 10: a CAP message is the same message only for the same receiving account: one
    // caller's message (a Test, say) can no longer swallow another caller's alert with the
    // same sender and identifier. A message is claimed (inserted) before it is handled, so
    // two identical posts at the same moment air once.
    r#"
CREATE TABLE cap_messages_v10 (
    key         TEXT NOT NULL,
    sender      TEXT NOT NULL,
    identifier  TEXT NOT NULL,
    sent        TEXT NOT NULL,
    status      TEXT NOT NULL,
    msg_type    TEXT NOT NULL,
    aired       INTEGER NOT NULL,
    urgent_id   TEXT REFERENCES urgent(id),
    received_by TEXT NOT NULL,
    received_at TEXT NOT NULL,
    xml         TEXT NOT NULL,
    PRIMARY KEY (received_by, key)
);
INSERT INTO cap_messages_v10 SELECT key, sender, identifier, sent, status, msg_type, aired,
    urgent_id, received_by, received_at, xml FROM cap_messages;
DROP TABLE cap_messages;
ALTER TABLE cap_messages_v10 RENAME TO cap_messages;
"#,
    // 11: where things are, for CAP alerts that name places: a station's location (WGS 84,
    // both or neither) and an area's official administrative code (Vietnam's unit codes),
    // each code naming one area.
    r#"
ALTER TABLE stations ADD COLUMN lat REAL;
ALTER TABLE stations ADD COLUMN lon REAL;
ALTER TABLE areas ADD COLUMN official_code TEXT;
CREATE UNIQUE INDEX areas_official_code ON areas(official_code) WHERE official_code IS NOT NULL;
"#,
    // 12: CAP sources an admin registered, polled by the server, and every message fetched
    // from them (once: `(source_id, entry)` is unique) with what became of it. A message
    // that waits for a person is an approval item (`approval = 'draft'`) until it expires.
    r#"
CREATE TABLE cap_sources (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    url            TEXT NOT NULL,
    senders        TEXT NOT NULL,
    area           TEXT NOT NULL REFERENCES areas(code),
    poll_seconds   INTEGER NOT NULL,
    policy         TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    next_poll_at   TEXT NOT NULL,
    last_polled_at TEXT,
    last_ok_at     TEXT,
    last_error     TEXT,
    failures       INTEGER NOT NULL DEFAULT 0,
    signing_key    TEXT
);
CREATE TABLE cap_source_messages (
    id          TEXT PRIMARY KEY,
    source_id   TEXT NOT NULL REFERENCES cap_sources(id) ON DELETE CASCADE,
    entry       TEXT NOT NULL,
    link        TEXT NOT NULL,
    fetched_at  TEXT NOT NULL,
    cap_key     TEXT,
    title       TEXT NOT NULL,
    owner_area  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL,
    deadline    TEXT,
    approval    TEXT,
    urgent_id   TEXT,
    xml         TEXT,
    UNIQUE (source_id, entry)
);
CREATE INDEX cap_source_messages_fetched ON cap_source_messages(fetched_at);

CREATE TABLE approval_steps_v12 (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL CHECK (kind IN ('schedule', 'programme', 'media', 'urgent', 'cap')),
    target  TEXT NOT NULL,
    area    TEXT NOT NULL,
    action  TEXT NOT NULL,
    by      TEXT NOT NULL,
    at      TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT ''
);
INSERT INTO approval_steps_v12 SELECT id, kind, target, area, action, by, at, comment
    FROM approval_steps;
DROP TABLE approval_steps;
ALTER TABLE approval_steps_v12 RENAME TO approval_steps;
CREATE INDEX approval_steps_target ON approval_steps(kind, target);
"#,
    // 13: leases, so that a background job (reconciliation and retention, the CAP
    // sources' poller) runs on one node at a time of those sharing the store.
    r#"
CREATE TABLE leases (
    job         TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    acquired_at TEXT NOT NULL
);
"#,
    // 14: live broadcasts from the operator's microphone (#25): the session, and its state at
    // each target station.
    r#"
CREATE TABLE live_sessions (
    id             TEXT PRIMARY KEY,
    title          TEXT NOT NULL,
    priority       TEXT NOT NULL CHECK (priority IN ('priority', 'emergency')),
    owner_area     TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    targets        TEXT NOT NULL,
    format         TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('open', 'live', 'ended')),
    started_at     TEXT,
    ended_at       TEXT,
    end_reason     TEXT,
    aired_ms       INTEGER NOT NULL DEFAULT 0,
    archive_sha256 TEXT
);
CREATE INDEX live_sessions_created ON live_sessions(created_at);
CREATE TABLE live_stations (
    session_id TEXT NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    station    TEXT NOT NULL,
    state      TEXT NOT NULL,
    behind_ms  INTEGER NOT NULL DEFAULT 0,
    played_ms  INTEGER NOT NULL DEFAULT 0,
    gaps       INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (session_id, station)
);
"#,
    // 15: the node carrying each live session (several nodes: a session ends with its node).
    r#"
ALTER TABLE live_sessions ADD COLUMN node TEXT;
"#,
];

/// The migrations, in order.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(STEPS.iter().map(|s| M::up(s)).collect())
}

/// The schema version after every migration ran.
pub fn latest_version() -> i64 {
    STEPS.len() as i64
}

/// PostgreSQL's steps: the schema as of SQLite's step 14 in one, then each later step with
/// the same number as SQLite's. `loaxa_schema` holds the version reached.
const PG_STEPS: &[(i64, &str)] = &[
    (14, include_str!("postgres/0014-schema.sql")),
    (15, include_str!("postgres/0015-live-node.sql")),
];

/// The advisory lock a node holds while it migrates, so that nodes starting together
/// migrate once.
const PG_MIGRATION_LOCK: i64 = 0x4c6f_6158_6102;

/// Why a PostgreSQL database could not be brought to the latest schema.
#[derive(Debug)]
pub enum PgMigrationError {
    /// Its schema is newer than this program's.
    TooNew {
        /// Its version.
        found: i64,
        /// The latest this program knows.
        known: i64,
    },
    /// The store refused.
    Store(crate::db::sql::Error),
}

impl From<crate::db::sql::Error> for PgMigrationError {
    fn from(e: crate::db::sql::Error) -> Self {
        PgMigrationError::Store(e)
    }
}

/// Bring a PostgreSQL database to the latest schema (creating it when empty), refusing one
/// newer than this program.
pub fn postgres(
    conn: &mut crate::db::sql::Connection,
    shown: &str,
) -> Result<(), PgMigrationError> {
    conn.execute_batch(&format!(
        "SELECT pg_advisory_lock({PG_MIGRATION_LOCK});
         CREATE TABLE IF NOT EXISTS loaxa_schema (version BIGINT NOT NULL)"
    ))?;
    let result = (|| -> Result<(), PgMigrationError> {
        let found: i64 = conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM loaxa_schema",
            [],
            |r| r.get(0),
        )?;
        let known = pg_latest_version();
        if found > known {
            return Err(PgMigrationError::TooNew { found, known });
        }
        for (version, script) in PG_STEPS.iter().filter(|s| s.0 > found) {
            let tx = conn.transaction()?;
            tx.execute_batch(script)?;
            tx.execute("DELETE FROM loaxa_schema", [])?;
            tx.execute("INSERT INTO loaxa_schema (version) VALUES (?1)", [*version])?;
            tx.commit()?;
            tracing::info!(database = shown, version, "database schema migrated");
        }
        Ok(())
    })();
    let unlocked = conn.execute_batch(&format!("SELECT pg_advisory_unlock({PG_MIGRATION_LOCK})"));
    result?;
    Ok(unlocked?)
}

/// The latest PostgreSQL schema version this program knows.
pub fn pg_latest_version() -> i64 {
    PG_STEPS.last().map_or(0, |s| s.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn migrations_validate() {
        migrations().validate().unwrap();
    }

    #[test]
    fn schedules_and_their_targets_survive_the_rebuild_that_lets_them_relay_channels() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrations().to_version(&mut conn, 7).unwrap();
        conn.execute_batch(
            "INSERT INTO areas (code, name, parent, created_at)
                 VALUES ('TT', 'Thạch Thất', NULL, 't');
             INSERT INTO media VALUES ('aa', 'Bản tin', 1, 1000, 'mp3', 48000, 2, -23, -1, 0, 't');
             INSERT INTO programmes (id, title, owner_area, created_by, created_at, updated_at)
                 VALUES ('p1', 'Chương trình sáng', 'TT', 'op', 't', 't');
             INSERT INTO schedules (id, title, media_sha256, cron, priority, max_wait_ms,
                 owner_area, created_by, created_at, updated_at, programme_id, approval)
                 VALUES ('s1', 'Bản tin sáng', 'aa', '30 5 * * *', 'normal', 600000, 'TT',
                 'op', 't', 't', 'p1', 'draft');
             INSERT INTO schedule_targets VALUES ('s1', 'area', 'TT');",
        )
        .unwrap();
        migrations().to_latest(&mut conn).unwrap();
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
        );
        let row: Row = conn
            .query_row(
                "SELECT title, media_sha256, channel_id, programme_id, approval
                 FROM schedules WHERE id = 's1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(
            row,
            (
                "Bản tin sáng".to_string(),
                Some("aa".to_string()),
                None,
                Some("p1".to_string()),
                "draft".to_string()
            )
        );
        let targets: i64 = conn
            .query_row(
                "SELECT count(*) FROM schedule_targets WHERE schedule_id = 's1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(targets, 1);
        // Deleting the schedule still cascades to its targets.
        conn.execute("DELETE FROM schedules WHERE id = 's1'", [])
            .unwrap();
        let left: i64 = conn
            .query_row("SELECT count(*) FROM schedule_targets", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
        let fk: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk, 0);
    }

    #[test]
    fn migrating_step_by_step_gives_the_same_schema_as_a_fresh_database() {
        let schema = |conn: &Connection| -> Vec<String> {
            let mut st = conn
                .prepare_cached("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
                .unwrap();
            st.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let mut fresh = Connection::open_in_memory().unwrap();
        migrations().to_latest(&mut fresh).unwrap();
        let mut stepped = Connection::open_in_memory().unwrap();
        for v in 1..=STEPS.len() {
            migrations().to_version(&mut stepped, v).unwrap();
        }
        assert_eq!(schema(&fresh), schema(&stepped));
        let v: i64 = fresh
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, latest_version());
    }
}
