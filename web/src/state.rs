//! What every request can reach: the store, the clock, the push hub, the media files.

use crate::db::{Db, OpenError};
use crate::library::MediaStore;
use crate::push::Hub;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use schedules::Clock;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::config::Config;

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
    /// This node's name among those sharing the store (host, process, a random part): what
    /// holds background jobs' leases (see [`crate::jobs`]).
    pub node: Arc<str>,
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
    /// `--database` does not name a store.
    #[error("{0}")]
    Database(String),
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
        let at = crate::db::Location::parse(config.database.as_deref(), data_dir)
            .map_err(StartError::Database)?;
        let db = Db::open_at(&at)?;
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
            node: node_name().into(),
            live: Arc::default(),
        })
    }
}

/// A name for this node: its host name, process id and a random part (two states opened
/// in one process are two nodes).
fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &random[..8])
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
