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
    // 2: urgent notices: spoken text, delivery times per state, CAP messages received.
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
];

/// The migrations, in order.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(STEPS.iter().map(|s| M::up(s)).collect())
}

/// The schema version after every migration ran.
pub fn latest_version() -> i64 {
    STEPS.len() as i64
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
    fn migrating_step_by_step_gives_the_same_schema_as_a_fresh_database() {
        let schema = |conn: &Connection| -> Vec<String> {
            let mut st = conn
                .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
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
