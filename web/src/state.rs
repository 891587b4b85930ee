//! What every request can reach: the store, the clock, the push hub, the media files.

use crate::db::{Db, OpenError};
use crate::library::MediaStore;
use crate::push::Hub;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Duration, Utc};
use schedules::Clock;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Tunables.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest accepted upload, bytes.
    pub max_upload_bytes: u64,
    /// How long a sign-in token lives.
    pub token_ttl: Duration,
    /// A station is online when heard from this recently (or connected to the event stream).
    pub online_window: Duration,
    /// Widest window `GET /stations/{code}/plan` computes.
    pub max_plan_window: Duration,
    /// An occurrence with no log entry this long after its planned end is `missed`.
    pub reconcile_grace: Duration,
    /// How often the server reconciles plans with logs (and prunes old logs).
    pub reconcile_every: std::time::Duration,
    /// Keep log entries this long (None: forever).
    pub log_retention: Option<Duration>,
    /// Air CAP alerts with status `Exercise` (Test, System and Draft never air).
    pub cap_air_exercises: bool,
    /// Largest CAP audio resource fetched by `uri`, bytes.
    pub cap_max_audio_bytes: u64,
    /// Addresses CAP audio may be fetched from (URL prefixes); empty: none.
    pub cap_fetch_allow: Vec<String>,
    /// How long fetching a CAP audio resource may take.
    pub cap_fetch_timeout: std::time::Duration,
    /// An urgent notice's audio up to this size rides with the push (0: never).
    pub urgent_inline_max_bytes: u64,
    /// Peers whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<crate::client::Net>,
    /// Clients reach the server through a TLS-terminating proxy: cookies are `Secure`.
    pub behind_tls_proxy: bool,
    /// Time a connection has to send a complete request head, from its opening or from the
    /// end of its previous answer (slow senders and idle keep-alive connections are closed).
    pub header_timeout: std::time::Duration,
    /// A request whose connection moves no byte for this long is cut (event streams, which
    /// send their own keep-alives, are exempt).
    pub idle_timeout: std::time::Duration,
    /// Open connections served at once; further ones get a 503 and are closed.
    pub max_connections: usize,
    /// Live broadcasts: every station plays each frame this long after its arrival at the
    /// server (the same for all, so neighbouring loudspeakers stay in step), ms.
    pub live_delay_ms: u32,
    /// Live broadcasts: a session with no audio for this long ends (a vanished browser).
    pub live_silence: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_upload_bytes: 200 * 1024 * 1024,
            token_ttl: Duration::days(30),
            online_window: Duration::seconds(90),
            max_plan_window: Duration::days(31),
            reconcile_grace: Duration::hours(2),
            reconcile_every: std::time::Duration::from_secs(300),
            log_retention: None,
            cap_air_exercises: false,
            cap_max_audio_bytes: 50 * 1024 * 1024,
            cap_fetch_allow: Vec::new(),
            cap_fetch_timeout: std::time::Duration::from_secs(30),
            urgent_inline_max_bytes: 256 * 1024,
            trusted_proxies: Vec::new(),
            behind_tls_proxy: false,
            header_timeout: std::time::Duration::from_secs(20),
            idle_timeout: std::time::Duration::from_secs(60),
            max_connections: 16_384,
            live_delay_ms: 200,
            live_silence: std::time::Duration::from_secs(30),
        }
    }
}

/// Shared application state; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The one clock.
    pub clock: Arc<dyn Clock>,
    /// Per-station push channels.
    pub hub: Arc<Hub>,
    /// Content-addressed media files.
    pub media: Arc<MediaStore>,
    /// Tunables.
    pub config: Arc<Config>,
    /// Password guesses, for throttling.
    pub throttle: Arc<crate::throttle::LoginThrottle>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Counters for `GET /metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Open live broadcasts.
    pub live: Arc<crate::live::Registry>,
}

/// Why the state could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory is not usable.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The database is not usable.
    #[error(transparent)]
    Db(#[from] OpenError),
}

impl AppState {
    /// Open (creating if needed) the data directory `data_dir`: `loaxa.db`, `media/`, `tmp/`.
    pub fn open(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<AppState, StartError> {
        Self::open_with(data_dir, clock, Config::default())
    }

    /// [`AppState::open`] with other tunables.
    pub fn open_with(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Result<AppState, StartError> {
        let io = |source| StartError::DataDir {
            path: data_dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let media = MediaStore::open(data_dir, config.max_upload_bytes).map_err(io)?;
        let db = Db::open(&data_dir.join("loaxa.db"))?;
        // A live session cannot outlive the process that carried it.
        let now = clock.now();
        if let Err(e) = db.call_blocking(move |c| Ok(crate::db::live::end_orphans(c, now)?)) {
            tracing::error!("cannot close the live sessions of the last run: {e}");
        }
        let first_event_id = clock.now().timestamp_millis().max(0) as u64 * 1000;
        Ok(AppState {
            db,
            hub: Arc::new(Hub::new(first_event_id)),
            clock,
            media: Arc::new(media),
            config: Arc::new(config),
            throttle: Arc::default(),
            data_dir: data_dir.to_path_buf(),
            metrics: Arc::default(),
            live: Arc::default(),
        })
    }
}

/// The instant a request is handled at, read once from the clock by a middleware layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now(pub DateTime<Utc>);

impl FromRequestParts<AppState> for Now {
    type Rejection = Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(match parts.extensions.get::<Now>() {
            Some(n) => *n,
            None => {
                let n = Now(state.clock.now());
                parts.extensions.insert(n);
                n
            }
        })
    }
}
