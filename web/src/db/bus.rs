//! The push bus between server nodes sharing one PostgreSQL (#26): the SQL of
//! [`crate::push::relay`].
//!
//! - `push_log`: one row per publication (one event for one or many stations), kept
//!   [`crate::push::relay::RelayConfig::keep`]; a node that was cut off reads what it
//!   missed from here. `key` is unique and made by the publishing node, so that a write
//!   retried after a lost answer is stored once.
//! - `node_alive` and `stream_presence`: which node holds open event streams for which
//!   station, and when each node last said it was alive. A station is online when a node
//!   seen lately holds a stream for it.
//!
//! - Live frames (#25) go in notifications on [`LIVE_CHANNEL`], not in rows.
//!
//! Async over `tokio_postgres::Client`, unlike the rest of the store: these run on the
//! relay's own connection, which also receives the notifications.

use std::time::Duration;
use tokio_postgres::{Client, Error};

/// The notification channel: its payload is the newest `push_log` id of a write.
pub const CHANNEL: &str = "loaxa_push";

/// The notification channel of live sessions: `f ID BASE64` carries frames of session ID
/// (each with its length prefix), `s JSON` what became of a station of another node's
/// session. At most [`LIVE_PAYLOAD`] bytes.
pub const LIVE_CHANNEL: &str = "loaxa_live";

/// The longest payload sent on [`LIVE_CHANNEL`] (PostgreSQL refuses beyond 8000 bytes).
pub const LIVE_PAYLOAD: usize = 7900;

/// Tables and indexes of the bus (idempotent).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS push_log (
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    origin TEXT NOT NULL,
    stations TEXT NOT NULL, -- JSON array of station codes
    event TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS push_log_created_at ON push_log (created_at);
CREATE TABLE IF NOT EXISTS node_alive (
    node TEXT PRIMARY KEY,
    seen_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS stream_presence (
    node TEXT NOT NULL REFERENCES node_alive (node) ON DELETE CASCADE,
    station TEXT NOT NULL,
    streams INT NOT NULL,
    PRIMARY KEY (node, station)
);
";

/// Create the tables unless there (under a lock: two nodes starting together would
/// otherwise race on `CREATE TABLE IF NOT EXISTS`), and listen on [`CHANNEL`] and [`LIVE_CHANNEL`].
pub async fn prepare(c: &Client) -> Result<(), Error> {
    c.batch_execute(&format!(
        "BEGIN; SELECT pg_advisory_xact_lock(2026002601); {SCHEMA} COMMIT; LISTEN {CHANNEL}; LISTEN {LIVE_CHANNEL};"
    ))
    .await
}

/// The pid of the connection's backend (the sender of its notifications).
pub async fn backend_pid(c: &Client) -> Result<i32, Error> {
    Ok(c.query_one("SELECT pg_backend_pid()", &[]).await?.get(0))
}

/// One publication to store.
#[derive(Debug, Clone)]
pub struct NewPush {
    /// Unique, made by the publisher.
    pub key: String,
    /// JSON array of station codes.
    pub stations: String,
    /// The event name.
    pub event: String,
    /// The event's data.
    pub data: String,
}

/// Store publications of `origin` (a key already stored is skipped) and notify
/// [`CHANNEL`], in one statement.
pub async fn insert(c: &Client, origin: &str, rows: &[NewPush]) -> Result<(), Error> {
    let col = |f: fn(&NewPush) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let (keys, stations, events, data) = (
        col(|r| &r.key),
        col(|r| &r.stations),
        col(|r| &r.event),
        col(|r| &r.data),
    );
    c.execute(
        "WITH ins AS (
             INSERT INTO push_log (key, origin, stations, event, data)
             SELECT k, $1, s, e, d
               FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u (k, s, e, d)
             ON CONFLICT (key) DO NOTHING
             RETURNING id)
         SELECT pg_notify($6, m::text) FROM (SELECT max(id) AS m FROM ins) x
          WHERE m IS NOT NULL",
        &[&origin, &keys, &stations, &events, &data, &CHANNEL],
    )
    .await?;
    Ok(())
}

/// Send live frames (see [`LIVE_CHANNEL`]).
pub async fn notify_live(c: &Client, payload: &str) -> Result<(), Error> {
    c.execute("SELECT pg_notify($1, $2)", &[&LIVE_CHANNEL, &payload])
        .await?;
    Ok(())
}

/// The newest id stored (0 when none).
pub async fn newest(c: &Client) -> Result<i64, Error> {
    Ok(
        c.query_one("SELECT COALESCE(max(id), 0) FROM push_log", &[])
            .await?
            .get(0),
    )
}

/// Ids above `floor` published by other nodes than `origin`, oldest first.
pub async fn ids_after(c: &Client, floor: i64, origin: &str) -> Result<Vec<i64>, Error> {
    let rows = c
        .query(
            "SELECT id FROM push_log WHERE id > $1 AND origin <> $2 ORDER BY id",
            &[&floor, &origin],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A stored publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRow {
    /// Its id.
    pub id: i64,
    /// JSON array of station codes.
    pub stations: String,
    /// The event name.
    pub event: String,
    /// The event's data.
    pub data: String,
}

/// The publications `ids`, oldest first (those deleted meanwhile are missing).
pub async fn get(c: &Client, ids: &[i64]) -> Result<Vec<PushRow>, Error> {
    let rows = c
        .query(
            "SELECT id, stations, event, data FROM push_log WHERE id = ANY($1) ORDER BY id",
            &[&ids],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| PushRow {
            id: r.get(0),
            stations: r.get(1),
            event: r.get(2),
            data: r.get(3),
        })
        .collect())
}

/// Delete publications older than `keep`, and nodes not seen for `keep` (with their
/// presence rows).
pub async fn forget_older(c: &Client, keep: Duration) -> Result<(), Error> {
    let secs = keep.as_secs_f64();
    c.execute(
        "DELETE FROM push_log WHERE created_at < now() - make_interval(secs => $1)",
        &[&secs],
    )
    .await?;
    c.execute(
        "DELETE FROM node_alive WHERE seen_at < now() - make_interval(secs => $1)",
        &[&secs],
    )
    .await?;
    Ok(())
}

/// `node` is alive now.
pub async fn alive(c: &Client, node: &str) -> Result<(), Error> {
    c.execute(
        "INSERT INTO node_alive (node, seen_at) VALUES ($1, now())
         ON CONFLICT (node) DO UPDATE SET seen_at = excluded.seen_at",
        &[&node],
    )
    .await?;
    Ok(())
}

/// Forget `node` and its streams (it stops).
pub async fn forget_node(c: &Client, node: &str) -> Result<(), Error> {
    c.execute("DELETE FROM node_alive WHERE node = $1", &[&node])
        .await?;
    Ok(())
}

/// Forget every stream of `node` (it starts, or comes back, and writes them all again).
pub async fn clear_presence(c: &Client, node: &str) -> Result<(), Error> {
    c.execute("DELETE FROM stream_presence WHERE node = $1", &[&node])
        .await?;
    Ok(())
}

/// Set how many streams `node` holds for each station (`node` must be alive, see
/// [`alive`]); `gone`: stations it holds none for any more.
pub async fn set_presence(
    c: &Client,
    node: &str,
    streams: &[(String, usize)],
    gone: &[String],
) -> Result<(), Error> {
    if !streams.is_empty() {
        let codes: Vec<&str> = streams.iter().map(|(s, _)| s.as_str()).collect();
        let counts: Vec<i32> = streams
            .iter()
            .map(|(_, n)| i32::try_from(*n).unwrap_or(i32::MAX))
            .collect();
        c.execute(
            "INSERT INTO stream_presence (node, station, streams)
             SELECT $1, s, n FROM unnest($2::text[], $3::int[]) AS u (s, n)
             ON CONFLICT (node, station) DO UPDATE SET streams = excluded.streams",
            &[&node, &codes, &counts],
        )
        .await?;
    }
    if !gone.is_empty() {
        c.execute(
            "DELETE FROM stream_presence WHERE node = $1 AND station = ANY($2)",
            &[&node, &gone],
        )
        .await?;
    }
    Ok(())
}

/// Stations with a stream on a node other than `node` that was seen within `window`.
pub async fn present_elsewhere(
    c: &Client,
    node: &str,
    window: Duration,
) -> Result<Vec<String>, Error> {
    let secs = window.as_secs_f64();
    let rows = c
        .query(
            "SELECT DISTINCT p.station FROM stream_presence p JOIN node_alive n USING (node)
              WHERE p.node <> $1 AND p.streams > 0
                AND n.seen_at > now() - make_interval(secs => $2)",
            &[&node, &secs],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
