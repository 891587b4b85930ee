//! The media cache: `DATA/media/<sha256>`, content-addressed. Downloads what the next 7 days
//! need, earliest first, into `<sha256>.part` with `Range` resume; the hash is checked before
//! the file is renamed into place (the rename is the commit: a file under its final name has
//! been verified). Cached files are re-hashed at start and daily: one that fails is deleted
//! and fetched again. Files no schedule has needed for 2 days are removed.

use crate::cache::{self, Db, MediaRow};
use crate::client::{Backoff, Client, SyncError};
use crate::planner;
use crate::shared::Shared;
use chrono::{DateTime, Duration as CDuration, Utc};
use futures_util::StreamExt;
use reqwest::StatusCode;
use schedules::{Clock, Sha256};
use sha2::Digest;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How far ahead media is fetched.
pub const HORIZON_DAYS: i64 = 7;
/// How long an unneeded file is kept.
pub const GRACE_DAYS: i64 = 2;
/// Cached files are re-hashed when last checked longer ago than this.
const REVERIFY_HOURS: i64 = 24;
/// A download that delivers no byte for this long is abandoned; the next attempt resumes
/// it with `Range` (a stalled connection would otherwise hold the cache loop forever).
pub const STALL_TIMEOUT: Duration = Duration::from_secs(15);

/// A failed download.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server could not be reached or refused.
    #[error("{0}")]
    Sync(#[from] SyncError),
    /// The transfer broke.
    #[error("download interrupted: {0}")]
    Http(#[from] reqwest::Error),
    /// Disk I/O failed.
    #[error("disk: {0}")]
    Io(#[from] std::io::Error),
    /// The file system holding the cache is full.
    #[error(
        "disk full: media {sha} does not fit in {dir} ({free} bytes free); the partial \
         download was removed so the local database keeps working; retrying"
    )]
    DiskFull {
        /// The file that did not fit.
        sha: String,
        /// The cache directory.
        dir: String,
        /// Free bytes left (as far as the file system tells).
        free: u64,
    },
    /// The server stopped sending mid-download.
    #[error("download stalled: no data for {} s; will resume", .0.as_secs())]
    Stalled(Duration),
    /// What arrived is not what was asked for.
    #[error("downloaded file has sha256 {got}, expected {want}; discarded")]
    Mismatch {
        /// Expected.
        want: String,
        /// Computed.
        got: String,
    },
    /// The local database failed.
    #[error("{0}")]
    Cache(#[from] cache::CacheError),
}

/// The sha256 of a file, lowercase hex: the media crate's, which hashes uploads too.
pub use media::sha256_file;

/// The media cache in one directory.
#[derive(Debug, Clone)]
pub struct MediaCache {
    dir: PathBuf,
    db: Db,
    client: Client,
}

impl MediaCache {
    /// The cache in `dir` (created if missing).
    pub fn new(dir: PathBuf, db: Db, client: Client) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir, db, client })
    }

    /// Where a verified file lives.
    pub fn path(&self, sha: &str) -> PathBuf {
        self.dir.join(sha)
    }

    fn part(&self, sha: &str) -> PathBuf {
        self.dir.join(format!("{sha}.part"))
    }

    /// Is it cached (under its final name, i.e. verified)?
    pub fn has(&self, sha: &str) -> bool {
        self.path(sha).is_file()
    }

    /// Make sure `sha` is cached: download (resuming a `.part`), verify, rename, sync.
    pub async fn ensure(&self, sha: &Sha256, now: DateTime<Utc>) -> Result<PathBuf, FetchError> {
        self.ensure_notifying(sha, now, &tokio::sync::Notify::new())
            .await
    }

    /// As [`MediaCache::ensure`]; once the file is verified under its name, `ready` is
    /// notified — before the file is synced and recorded, so that an urgent
    /// notice's audio reaches the player without waiting for the disk. A power cut before
    /// the sync is caught by the hash check every start does.
    pub async fn ensure_notifying(
        &self,
        sha: &Sha256,
        now: DateTime<Utc>,
        ready: &tokio::sync::Notify,
    ) -> Result<PathBuf, FetchError> {
        let s = sha.as_str().to_string();
        let dest = self.path(&s);
        if dest.is_file() {
            return Ok(dest);
        }
        let part = self.part(&s);
        match self.download(&s, &part).await {
            Err(FetchError::Io(e)) if is_full(&e) => {
                // What was written is a valid prefix, but holding it keeps the disk full
                // for everything else (the outbox above all): give the space back.
                let _ = std::fs::remove_file(&part);
                return Err(self.disk_full(s));
            }
            other => other?,
        }
        let (got, size) = {
            let part = part.clone();
            blocking(move || Ok((sha256_file(&part)?, std::fs::metadata(&part)?.len()))).await?
        };
        if got != s {
            let _ = std::fs::remove_file(&part);
            return Err(FetchError::Mismatch { want: s, got });
        }
        std::fs::rename(&part, &dest)?;
        ready.notify_one();
        self.commit(s, dest, size, now).await
    }

    /// Check that the audio that came with an urgent push is file `sha` (the player may
    /// then play it from memory: [`crate::shared::Shared::hold_audio`]).
    pub fn verify_pushed(sha: &Sha256, bytes: &[u8]) -> Result<(), FetchError> {
        let got = hex::encode(sha2::Sha256::digest(bytes));
        if got != sha.as_str() {
            return Err(FetchError::Mismatch {
                want: sha.as_str().to_string(),
                got,
            });
        }
        Ok(())
    }

    /// Write verified pushed audio into the cache as `sha`: to `<sha>.push` (not the
    /// download's `.part`, which a download may be writing), renamed into place, then
    /// synced and recorded by [`MediaCache::commit`] as a download is. A file already in
    /// place is only recorded again.
    pub async fn store_pushed(
        &self,
        sha: &Sha256,
        bytes: bytes::Bytes,
        now: DateTime<Utc>,
    ) -> Result<PathBuf, FetchError> {
        let s = sha.as_str().to_string();
        let (tmp, dest) = (self.dir.join(format!("{s}.push")), self.path(&s));
        let size = bytes.len() as u64;
        let placed = {
            let dest = dest.clone();
            blocking(move || {
                if dest.is_file() {
                    return Ok(());
                }
                let placed =
                    std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, &dest));
                if placed.is_err() {
                    let _ = std::fs::remove_file(&tmp);
                }
                placed
            })
            .await
        };
        match placed {
            Err(e) if is_full(&e) => Err(self.disk_full(s)),
            Err(e) => Err(e.into()),
            Ok(()) => self.commit(s, dest, size, now).await,
        }
    }

    /// Sync a file just verified into place and record it in the index. A full disk
    /// removes it again (see [`FetchError::DiskFull`]).
    pub async fn commit(
        &self,
        s: String,
        dest: PathBuf,
        size: u64,
        now: DateTime<Utc>,
    ) -> Result<PathBuf, FetchError> {
        let synced = {
            let dest = dest.clone();
            blocking(move || std::fs::File::open(&dest)?.sync_all()).await
        };
        match synced {
            Err(e) if is_full(&e) => {
                let _ = std::fs::remove_file(&dest);
                return Err(self.disk_full(s));
            }
            other => other?,
        }
        let row = MediaRow {
            sha256: s.clone(),
            path: dest.display().to_string(),
            size,
            verified_at: now,
            last_needed_at: now,
        };
        self.db.call(move |c| cache::put_media(c, &row)).await?;
        tracing::info!("media {s}: cached ({size} bytes)");
        Ok(dest)
    }

    /// The error for a disk that filled up while `sha` was written.
    fn disk_full(&self, sha: String) -> FetchError {
        FetchError::DiskFull {
            sha,
            dir: self.dir.display().to_string(),
            free: disk_free(&self.dir).unwrap_or(0),
        }
    }

    /// Bring `part` up to the whole file `s`: resume from its length with `Range`, append
    /// what arrives, sync. Gives up when nothing arrives for [`STALL_TIMEOUT`].
    async fn download(&self, s: &str, part: &Path) -> Result<(), FetchError> {
        let offset = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
        let resp = tokio::time::timeout(STALL_TIMEOUT, self.client.media(s, offset))
            .await
            .map_err(|_| FetchError::Stalled(STALL_TIMEOUT))??;
        let append = match resp.status() {
            StatusCode::PARTIAL_CONTENT => true,
            // The .part already holds everything: just verify it.
            StatusCode::RANGE_NOT_SATISFIABLE => true,
            _ => false,
        };
        if resp.status() != StatusCode::RANGE_NOT_SATISFIABLE {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(append)
                .write(true)
                .truncate(!append)
                .open(part)?;
            if offset > 0 && append {
                tracing::info!("media {s}: resuming at byte {offset}");
            }
            let mut stream = resp.bytes_stream();
            loop {
                match tokio::time::timeout(STALL_TIMEOUT, stream.next()).await {
                    Err(_) => {
                        file.sync_all()?;
                        return Err(FetchError::Stalled(STALL_TIMEOUT));
                    }
                    Ok(None) => break,
                    Ok(Some(chunk)) => file.write_all(&chunk?)?,
                }
            }
            // Not synced here: the whole file is synced once verified (see `ensure`).
        }
        Ok(())
    }

    /// Re-hash cached files (all of them, or those last checked over a day ago); delete the
    /// ones that fail so they are fetched again. Also indexes verified files the database
    /// does not know and removes stray files. Returns the hashes deleted.
    pub async fn verify(&self, now: DateTime<Utc>, all: bool) -> Vec<String> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.verify_blocking(now, all))
            .await
            .unwrap_or_default()
    }

    fn verify_blocking(&self, now: DateTime<Utc>, all: bool) -> Vec<String> {
        let rows = self.db.with(|c| cache::list_media(c)).unwrap_or_default();
        let known: HashSet<String> = rows.iter().map(|r| r.sha256.clone()).collect();
        let mut bad = Vec::new();
        for r in &rows {
            let path = self.path(&r.sha256);
            if !path.is_file() {
                let _ = self.db.with(|c| cache::delete_media(c, &r.sha256));
                continue;
            }
            if !all && now - r.verified_at < CDuration::hours(REVERIFY_HOURS) {
                continue;
            }
            match sha256_file(&path) {
                Ok(h) if h == r.sha256 => {
                    let row = MediaRow {
                        verified_at: now,
                        ..r.clone()
                    };
                    let _ = self.db.with(|c| cache::put_media(c, &row));
                }
                Ok(h) => {
                    tracing::error!(
                        "media {}: cached file is corrupt (hash {h}); deleting, will fetch again",
                        r.sha256
                    );
                    let _ = std::fs::remove_file(&path);
                    let _ = self.db.with(|c| cache::delete_media(c, &r.sha256));
                    bad.push(r.sha256.clone());
                }
                Err(e) => tracing::error!("media {}: cannot read: {e}", r.sha256),
            }
        }
        // Files on disk the index does not know (e.g. a crash between rename and insert).
        if let Ok(dir) = std::fs::read_dir(&self.dir) {
            for entry in dir.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if name.ends_with(".part") || known.contains(&name) {
                    continue;
                }
                let path = entry.path();
                match (Sha256::parse(&name), sha256_file(&path)) {
                    (Ok(sha), Ok(h)) if h == sha.as_str() => {
                        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                        let row = MediaRow {
                            sha256: h,
                            path: path.display().to_string(),
                            size,
                            verified_at: now,
                            last_needed_at: now,
                        };
                        let _ = self.db.with(|c| cache::put_media(c, &row));
                    }
                    _ => {
                        tracing::warn!("removing stray or corrupt file {}", path.display());
                        let _ = std::fs::remove_file(&path);
                        bad.push(name);
                    }
                }
            }
        }
        bad
    }

    /// Mark `needed` as needed now and delete files not needed for [`GRACE_DAYS`].
    pub async fn touch_and_clean(&self, needed: &[Sha256], now: DateTime<Utc>) {
        let needed: Vec<String> = needed.iter().map(|s| s.as_str().to_string()).collect();
        let this = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            // One transaction (one sync) for every touch.
            let touched = this.db.with(|c| {
                let tx = c.transaction()?;
                for s in &needed {
                    cache::touch_media(&tx, s, now)?;
                }
                tx.commit()?;
                Ok::<_, cache::CacheError>(())
            });
            if let Err(e) = touched {
                tracing::warn!("cannot record which media are needed: {e}");
            }
            let rows = this.db.with(|c| cache::list_media(c)).unwrap_or_default();
            for r in rows {
                if !needed.contains(&r.sha256)
                    && now - r.last_needed_at > CDuration::days(GRACE_DAYS)
                {
                    tracing::info!(
                        "media {}: not needed for {GRACE_DAYS} days; removing",
                        r.sha256
                    );
                    let _ = std::fs::remove_file(this.path(&r.sha256));
                    let _ = this.db.with(|c| cache::delete_media(c, &r.sha256));
                }
            }
        })
        .await;
    }
}

/// What the next 7 days need, earliest first, given the current inputs.
pub fn needed(shared: &Shared, now: DateTime<Utc>) -> Vec<Sha256> {
    let inputs = shared.inputs.borrow().clone();
    planner::needed_media(
        inputs.doc.as_deref(),
        &inputs.pushed,
        &inputs.cancelled,
        now - CDuration::hours(1),
        now + CDuration::days(HORIZON_DAYS),
    )
    .into_iter()
    .map(|(s, _)| s)
    .collect()
}

/// The audio of the urgent notices in force (pushed or in the document).
fn urgent_media(shared: &Shared) -> HashSet<Sha256> {
    let inputs = shared.inputs.borrow();
    planner::active_urgent(inputs.doc.as_deref(), &inputs.pushed, &inputs.cancelled)
        .into_iter()
        .map(|n| n.media_sha256.clone())
        .collect()
}

/// Keep the cache complete: at start (after hashing everything), whenever the plan changes,
/// and every 5 minutes; retries failed downloads with backoff. Publishes readiness.
pub async fn cache_loop(cache: MediaCache, shared: Arc<Shared>, clock: Arc<dyn Clock>) {
    cache.verify(clock.now(), true).await;
    let mut inputs_rx = shared.inputs.subscribe();
    let mut backoff = Backoff::default();
    loop {
        let now = clock.now();
        let need = needed(&shared, now);
        let urgent = urgent_media(&shared);
        let mut failed = false;
        for sha in &need {
            if playable(&cache, &shared, sha) {
                continue;
            }
            // Flagged before the heartbeat that `publish` asks for, so that it waits too.
            let is_urgent = urgent.contains(sha);
            if is_urgent {
                shared.urgent_on_its_way();
            }
            publish(&cache, &shared, &need);
            let got = cache
                .ensure_notifying(sha, clock.now(), &shared.media_ready)
                .await;
            if is_urgent && got.is_err() {
                // It will not start now; the player says when it does start.
                shared.urgent_arrived();
            }
            match got {
                Ok(_) => {}
                Err(e @ FetchError::DiskFull { .. }) => {
                    tracing::error!("{e}");
                    failed = true;
                    break;
                }
                Err(e) => {
                    tracing::warn!("media {sha}: {e}");
                    failed = true;
                    break; // earliest first: retry this one before the later ones
                }
            }
        }
        publish(&cache, &shared, &need);
        // Bookkeeping after the downloads, and after an urgent notice on its way has
        // started, so that it never delays a new notice's audio.
        shared.after_urgent_start().await;
        cache.touch_and_clean(&need, clock.now()).await;
        let wait = if failed {
            backoff.next_delay()
        } else {
            backoff.reset();
            Duration::from_secs(300)
        };
        tokio::select! {
            _ = inputs_rx.changed() => {}
            _ = tokio::time::sleep(wait) => {
                if !failed {
                    cache.verify(clock.now(), false).await;
                }
            }
        }
    }
}

/// Whether `e` is a full disk.
fn is_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull
}

/// Run file work `f` on a blocking thread (a panic there becomes an error).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?
}

/// True when the player has file `sha`: in the cache, or held in memory (pushed audio not
/// written down yet, see [`Shared::hold_audio`]).
fn playable(cache: &MediaCache, shared: &Shared, sha: &Sha256) -> bool {
    shared.held_audio(sha.as_str()).is_some() || cache.has(sha.as_str())
}

fn publish(cache: &MediaCache, shared: &Shared, need: &[Sha256]) {
    let missing: Vec<Sha256> = need
        .iter()
        .filter(|s| !playable(cache, shared, s))
        .cloned()
        .collect();
    let mut changed = false;
    shared.status_mut(|s| {
        changed = s.cache_ready != missing.is_empty() || s.missing_media != missing;
        s.cache_ready = missing.is_empty();
        s.missing_media = missing;
    });
    if changed {
        shared.heartbeat_now.notify_one();
    }
}

/// Free bytes on the file system holding `dir` (for unprivileged users), from statvfs(3);
/// None when unavailable.
pub fn disk_free(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}
