//! The Loa Xã station controller: keeps the station's schedule and media in a local cache,
//! plays on time through the sound card even when the server is unreachable for days, and
//! reports every occurrence exactly once.
//!
//! - [`sync`]: the schedule document, the event stream (urgent notices within a second),
//!   log upload, heartbeats — retried with backoff, forever;
//! - [`fetch`]: the content-addressed media cache (Range resume, hash check, cleanup);
//! - [`cache`]: local SQLite (document, media index, outbox, play journal, settings);
//! - [`planner`]: pure — (document, notices, now) → the resolved timeline;
//! - [`player`]: executes the timeline on the [`mixer`], logs outcomes;
//! - [`mixer`]: the one continuous sample stream, sample-exact starts;
//! - [`output`]: rodio sound card, `null` or `wav:FILE` (with a `FILE.json` sidecar);
//! - [`decode`]: decoding ahead, resampling to the output format;
//! - [`relay`]: relaying live channels over HTTP, reconnecting within the window;
//! - [`remote`]: remote commands (stop, master volume, resync);
//! - [`sse`]: the `text/event-stream` parser.
//!
//! Running one in-process (what the end-to-end tests do):
//!
//! ```no_run
//! # async fn demo() -> Result<(), controller::RunError> {
//! use std::sync::Arc;
//! let config = controller::Config {
//!     server: "http://127.0.0.1:8080".into(),
//!     station: "TT-01".parse().unwrap(),
//!     token: "device token".into(),
//!     data_dir: "controller-data".into(),
//!     output: "wav:aired.wav".parse().unwrap(), // + aired.wav.json {"start_utc", …}
//!     wait_for_device: false,
//!     sound_period_ms: controller::output::DEFAULT_PERIOD_MS,
//! };
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let task = tokio::spawn(controller::run(config, Arc::new(schedules::SystemClock), async {
//!     let _ = stopped.await;
//! }));
//! // … later: a clean stop (what airs is logged `interrupted`, the outbox is flushed once).
//! let _ = stop.send(());
//! task.await.unwrap()?;
//! # Ok(()) }
//! ```
//!
//! Local data: `DATA/controller.sqlite` (WAL, `synchronous=FULL`) and `DATA/media/<sha256>`.

pub mod cache;
pub mod config;
pub mod decode;
pub mod fetch;
pub mod limiter;
pub mod live;
pub mod manpage;
pub mod mixer;
pub mod output;
pub mod planner;
pub mod player;
pub mod relay;
pub mod remote;
pub mod sse;
pub mod sync;
mod wire_compat;

pub use output::OutputSpec;

use chrono::{DateTime, Duration as CDuration, Utc};
use schedules::wire::{Heartbeat, NowPlaying, ScheduleDocument, UrgentAck, UrgentNotice};
use schedules::{Clock, Sha256, StationCode};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify};

/// The controller's configuration (the command line).
#[derive(Debug, Clone)]
pub struct Config {
    /// The server's base URL, e.g. `http://127.0.0.1:8080`.
    pub server: String,
    /// The station this controller plays for.
    pub station: StationCode,
    /// The device token.
    pub token: String,
    /// The data directory (SQLite database and media cache).
    pub data_dir: PathBuf,
    /// Where the sound goes.
    pub output: OutputSpec,
    /// With `output: default` and no sound device: keep running and try the device every
    /// 10 s (services) instead of failing with [`RunError::NoSoundCard`] (interactive use).
    pub wait_for_device: bool,
    /// With `output: default`: the sound card's period, ms (rounded to a power of two of
    /// frames; two periods are queued). Shorter starts bulletins closer to their second,
    /// longer rides out a busy machine. [`output::DEFAULT_PERIOD_MS`] unless configured.
    pub sound_period_ms: u32,
}

/// Why the controller could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `--output default` and no sound device opens.
    #[error("no sound card: {0}")]
    NoSoundCard(String),
    /// Anything else that stops it from starting (data directory, database, output file).
    #[error("{0}")]
    Startup(String),
}

/// What the planner works from; published on a watch channel.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The cached schedule document.
    pub doc: Option<Arc<ScheduleDocument>>,
    /// Its ETag.
    pub etag: Option<String>,
    /// Urgent notices pushed over the event stream (the document may not list them yet).
    pub pushed: Arc<Vec<UrgentNotice>>,
    /// Ids of cancelled notices.
    pub cancelled: Arc<HashSet<String>>,
}

/// What the heartbeat reports.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// What airs now.
    pub now_playing: Option<NowPlaying>,
    /// Last successful schedule sync.
    pub last_sync: Option<DateTime<Utc>>,
    /// Every bulletin of the next 7 days is cached.
    pub cache_ready: bool,
    /// Media needed in the next 7 days and not cached.
    pub missing_media: Vec<Sha256>,
    /// Controller clock minus server clock, ms.
    pub clock_offset_ms: Option<i64>,
}

/// State shared by the controller's tasks.
#[derive(Debug)]
pub struct Shared {
    /// The planner's inputs.
    pub inputs: watch::Sender<Inputs>,
    status: Mutex<Status>,
    /// Ask the sync loop to fetch the document now.
    pub refetch: Notify,
    /// Ask the uploader to upload now.
    pub upload: Notify,
    /// Send a heartbeat now (the document changed, the cache became ready).
    pub heartbeat_now: Notify,
    /// A media file was verified into the cache: the player plans again at once.
    pub media_ready: Notify,
    /// Since when an urgent notice has been on its way to the loudspeakers (pushed, its
    /// audio arriving, not yet started). Acknowledgements and heartbeats wait for it (see
    /// [`Shared::after_urgent_start`]): on a slow link or a busy server, the audio that
    /// interrupts the loudspeakers goes first.
    urgent_busy: watch::Sender<Option<tokio::time::Instant>>,
    /// When the reports held for an urgent notice go (a random instant within
    /// [`REPORT_SPREAD`] of its start).
    reports_from: Mutex<Option<tokio::time::Instant>>,
    acks: mpsc::UnboundedSender<(String, UrgentAck)>,
    received: Mutex<HashSet<String>>,
    commands: mpsc::UnboundedSender<schedules::remote::RemoteCommand>,
    master_volume: std::sync::atomic::AtomicU8,
    /// Audio that came with an urgent push, verified, by SHA-256: the player plays it from
    /// here until it is written into the media cache (after the notice starts).
    held_audio: Mutex<HashMap<String, bytes::Bytes>>,
    /// Live broadcasts announced on the event stream go to [`live::live_loop`].
    live: Mutex<Option<mpsc::UnboundedSender<schedules::wire::LivePush>>>,
}

impl Shared {
    /// Shared state for a start from `inputs`; acknowledgements and remote commands go to
    /// their loops through `acks` and `commands`.
    fn new(
        inputs: Inputs,
        acks: mpsc::UnboundedSender<(String, UrgentAck)>,
        commands: mpsc::UnboundedSender<schedules::remote::RemoteCommand>,
        master_volume: u8,
    ) -> Self {
        Shared {
            inputs: watch::channel(inputs).0,
            status: Mutex::new(Status::default()),
            refetch: Notify::new(),
            upload: Notify::new(),
            heartbeat_now: Notify::new(),
            media_ready: Notify::new(),
            urgent_busy: watch::channel(None).0,
            reports_from: Mutex::new(None),
            acks,
            received: Mutex::new(HashSet::new()),
            commands,
            master_volume: std::sync::atomic::AtomicU8::new(master_volume),
            held_audio: Mutex::new(HashMap::new()),
            live: Mutex::new(None),
        }
    }

    /// A live broadcast was announced: hand it to the live loop.
    pub fn live_push(&self, p: schedules::wire::LivePush) {
        tracing::warn!(id = %p.id, title = %p.title, "live broadcast announced");
        if let Some(tx) = self.live.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = tx.send(p);
        }
    }

    /// Keep verified audio `sha` in memory for the player until [`Shared::release_audio`].
    pub fn hold_audio(&self, sha: &str, bytes: bytes::Bytes) {
        self.held_audio
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sha.to_string(), bytes);
    }

    /// Audio `sha` held in memory, if it is.
    pub fn held_audio(&self, sha: &str) -> Option<bytes::Bytes> {
        self.held_audio
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sha)
            .cloned()
    }

    /// Stop holding audio `sha` (it is in the media cache now).
    pub fn release_audio(&self, sha: &str) {
        self.held_audio
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(sha);
    }

    /// Update the status.
    pub fn status_mut(&self, f: impl FnOnce(&mut Status)) {
        f(&mut self.status.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// A copy of the status.
    pub fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Acknowledge `received` for a notice once per run (pushed or found in the document).
    pub fn ack_received(&self, id: &str, at: DateTime<Utc>) {
        let first = self
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string());
        if first {
            self.ack(
                id,
                UrgentAck {
                    state: schedules::wire::UrgentState::Received,
                    at,
                    reason: None,
                },
            );
        }
    }

    /// Hand a remote command to the command loop (it runs each id once).
    pub fn command(&self, c: schedules::remote::RemoteCommand) {
        let _ = self.commands.send(c);
    }

    /// The master volume, percent.
    pub fn master_volume(&self) -> u8 {
        self.master_volume
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Set the master volume, percent (the player applies it on its next tick).
    pub fn set_master_volume(&self, v: u8) {
        self.master_volume
            .store(v.min(100), std::sync::atomic::Ordering::Relaxed);
    }

    /// An urgent notice is on its way to the loudspeakers (pushed, or its audio
    /// downloading): reports wait until it starts, [`URGENT_FIRST`] at most.
    pub fn urgent_on_its_way(&self) {
        self.urgent_busy.send_if_modified(|since| {
            let fresh = since.is_none_or(|t| t.elapsed() >= URGENT_FIRST);
            if fresh {
                *since = Some(tokio::time::Instant::now());
            }
            fresh
        });
    }

    /// The urgent notice on its way will not come now (it failed, its audio could not be
    /// fetched): reports go again.
    pub fn urgent_arrived(&self) {
        self.release_urgent();
    }

    /// The urgent notice on its way has started airing: the reports held for it go at a
    /// random instant within [`REPORT_SPREAD`].
    pub fn urgent_started(&self) {
        if self.release_urgent() {
            let spread = REPORT_SPREAD.mul_f64(rand::random::<f64>());
            *self.reports_from.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(tokio::time::Instant::now() + spread);
        }
    }

    /// No urgent notice is on its way now; true if one was.
    fn release_urgent(&self) -> bool {
        self.urgent_busy
            .send_if_modified(|since| since.take().is_some())
    }

    /// Return once no urgent notice is on its way to the loudspeakers (and the spread after
    /// one that started has passed), or once one has been for [`URGENT_FIRST`]: reports
    /// wait, they are not dropped.
    pub async fn after_urgent_start(&self) {
        let mut rx = self.urgent_busy.subscribe();
        let busy = *rx.borrow_and_update();
        if let Some(since) = busy {
            let left = URGENT_FIRST.saturating_sub(since.elapsed());
            let _ = tokio::time::timeout(left, rx.wait_for(|s| s.is_none_or(|t| t != since))).await;
        }
        let from = *self.reports_from.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = from {
            tokio::time::sleep_until(t).await;
        }
    }

    /// Queue an urgent acknowledgement.
    pub fn ack(&self, id: &str, ack: UrgentAck) {
        let _ = self.acks.send((id.to_string(), ack));
    }
}

/// An empty vector with room for `capacity` items whose memory is already mapped: every
/// page written once with `fill`, which must not be zero (the optimiser makes an allocation
/// followed by zeros a zeroed allocation, which fresh memory satisfies without touching a
/// page). What must not wait for the kernel to map pages at an urgent notice's start (the
/// decoders' warm chunks, the event parser's first long line) starts in such memory.
pub(crate) fn premapped<T: Clone>(capacity: usize, fill: T) -> Vec<T> {
    let mut v = Vec::with_capacity(capacity);
    v.resize(capacity, fill);
    v.clear();
    v
}

/// Free bytes on the file system holding `dir` (for unprivileged users), from statvfs(3);
/// None when unavailable.
pub(crate) fn disk_free(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// The longest a report (heartbeat, acknowledgement) waits for an urgent notice to start
/// airing.
pub const URGENT_FIRST: Duration = Duration::from_secs(2);

/// Once an urgent notice airs, the reports held for it go within this much of its start,
/// at a random instant: a district's stations all start the same notice within the same
/// few milliseconds, and the server, still pushing it to the last of them, would otherwise
/// take every station's acknowledgements and heartbeat in that same instant.
pub const REPORT_SPREAD: Duration = Duration::from_secs(1);

/// The shortest gap between two heartbeats.
const HEARTBEAT_MIN_GAP: Duration = Duration::from_secs(1);

async fn heartbeat_loop(
    client: sync::Client,
    db: cache::Db,
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
    output: String,
    output_error: Arc<Mutex<Option<String>>>,
    data_dir: PathBuf,
) {
    let mut backoff = sync::Backoff::default();
    loop {
        shared.after_urgent_start().await;
        let st = shared.status();
        let outbox_len = db.call(|c| cache::outbox_len(c)).await.unwrap_or(0);
        let dir = data_dir.clone();
        let disk = tokio::task::spawn_blocking(move || disk_free(&dir))
            .await
            .ok()
            .flatten();
        let sent_at = clock.now();
        let hb = Heartbeat {
            version: env!("CARGO_PKG_VERSION").to_string(),
            sent_at,
            now_playing: st.now_playing,
            schedule_version: shared
                .inputs
                .borrow()
                .doc
                .as_ref()
                .map(|d| d.version.clone()),
            last_sync: st.last_sync,
            cache_ready: st.cache_ready,
            missing_media: st.missing_media,
            outbox_len,
            disk_free_bytes: disk,
            clock_offset_ms: st.clock_offset_ms,
            output: output.clone(),
            output_error: output_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            volume: Some(shared.master_volume()),
        };
        let t0 = Instant::now();
        let wait = match client.heartbeat(&hb).await {
            Ok(date) => {
                backoff.reset();
                if let Some(server) = date {
                    // `Date` has 1 s resolution: compare with the middle of its second, at
                    // the middle of the round trip.
                    let mid = sent_at + CDuration::from_std(t0.elapsed() / 2).unwrap_or_default();
                    let offset = (mid - (server + CDuration::milliseconds(500))).num_milliseconds();
                    if offset.abs() > 1000 {
                        tracing::warn!("clock offset vs server: {offset} ms (check NTP)");
                    }
                    shared.status_mut(|s| s.clock_offset_ms = Some(offset));
                }
                Duration::from_secs(30)
            }
            Err(e) => {
                let d = backoff.next_delay().min(Duration::from_secs(30));
                tracing::warn!("heartbeat failed: {e}");
                d
            }
        };
        // Changes (the cache became ready, something started airing) are reported at once,
        // but at most one heartbeat per second: a notice that starts, fills the cache and
        // ends within a second is one report, not three.
        tokio::time::sleep(HEARTBEAT_MIN_GAP).await;
        tokio::select! {
            _ = tokio::time::sleep(wait.saturating_sub(HEARTBEAT_MIN_GAP)) => {}
            _ = shared.heartbeat_now.notified() => {}
        }
    }
}

/// Run the controller until `shutdown` resolves. Opens the local store (recovering from a
/// crash), starts the output (fails at once with [`RunError::NoSoundCard`] if `default` has
/// no device), then syncs, caches, plays and reports until shutdown. Works offline from the
/// cached document; network failures are retried forever.
pub async fn run(
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let startup = |what: &str, e: &dyn std::fmt::Display| RunError::Startup(format!("{what}: {e}"));
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| startup(&format!("cannot create {}", config.data_dir.display()), &e))?;
    let db = cache::Db::open(&config.data_dir.join("controller.sqlite"))
        .map_err(|e| startup("local database", &e))?;
    let now = clock.now();

    // Crash recovery first: whatever was airing when we stopped is logged interrupted, once.
    let recovered = db
        .with(|c| cache::recover_interrupted(c, now))
        .map_err(|e| startup("recovery", &e))?;
    for e in &recovered {
        tracing::warn!(key = %e.id, played_ms = e.played_ms, "was airing when the controller stopped: logged interrupted");
    }
    let floor = db
        .with(|c| cache::get_setting(c, "horizon"))
        .ok()
        .flatten()
        .and_then(|v| v.parse::<i64>().ok())
        .map(|ms| cache::from_ms(ms) - CDuration::minutes(10))
        .unwrap_or(now)
        .min(now);
    let cached = db.with(|c| cache::load_doc(c)).unwrap_or_else(|e| {
        tracing::error!("cached schedule unreadable: {e}");
        None
    });
    if let Some(c) = &cached {
        if c.doc.station != config.station {
            tracing::warn!(
                "cached schedule is for station {}, not {}; ignoring it",
                c.doc.station,
                config.station
            );
        }
    }
    let cached = cached.filter(|c| c.doc.station == config.station);
    let _ = db.with(|c| cache::prune_urgent(c, now - CDuration::days(8)));
    let _ = db.with(|c| cache::prune_plays(c, now - CDuration::days(9)));
    let (pushed, cancelled) = db.with(|c| cache::load_urgent(c)).unwrap_or_default();
    let inputs = Inputs {
        etag: cached.as_ref().and_then(|c| c.etag.clone()),
        doc: cached.map(|c| Arc::new(c.doc)),
        pushed: Arc::new(pushed),
        cancelled: Arc::new(cancelled),
    };
    let (acks_tx, acks_rx) = mpsc::unbounded_channel();
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::new(
        inputs,
        acks_tx,
        commands_tx,
        remote::stored_volume(&db),
    ));

    // The output and the mixer it pulls.
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let mixer = mixer::Mixer::new(
        output::initial_format(&config.output),
        (Instant::now(), clock.now()),
        events_tx,
    );
    let out = output::start_with(
        &config.output,
        mixer.clone(),
        output::DeviceOptions {
            wait_for_device: config.wait_for_device,
            period_ms: config.sound_period_ms,
        },
    )
    .map_err(|e| match e {
        output::OutputError::NoSoundCard(m) => RunError::NoSoundCard(m),
        other => RunError::Startup(other.to_string()),
    })?;
    tracing::info!(station = %config.station, output = %config.output, "controller started");

    let client = sync::Client::new(&config.server, &config.token);
    let media_dir = config.data_dir.join("media");
    let media_cache = fetch::MediaCache::new(media_dir.clone(), db.clone(), client.clone())
        .map_err(|e| startup("media cache", &e))?;
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(sync::sync_loop(
        client.clone(),
        db.clone(),
        shared.clone(),
        clock.clone(),
    ));
    tasks.spawn(sync::sse_loop(
        client.clone(),
        db.clone(),
        media_cache.clone(),
        shared.clone(),
        clock.clone(),
    ));
    tasks.spawn(sync::upload_loop(
        client.clone(),
        db.clone(),
        shared.clone(),
        clock.clone(),
    ));
    tasks.spawn(sync::ack_loop(client.clone(), shared.clone(), acks_rx));
    tasks.spawn(remote::command_loop(
        remote::Remote {
            client: client.clone(),
            db: db.clone(),
            shared: shared.clone(),
            clock: clock.clone(),
            mixer: mixer.clone(),
            media: media_cache.clone(),
        },
        commands_rx,
    ));
    let (live_tx, live_rx) = mpsc::unbounded_channel();
    *shared.live.lock().unwrap_or_else(|e| e.into_inner()) = Some(live_tx);
    tasks.spawn(live::live_loop(
        live::Ctx {
            client: client.clone(),
            mixer: mixer.clone(),
            db: db.clone(),
            shared: shared.clone(),
            clock: clock.clone(),
        },
        live_rx,
    ));
    tasks.spawn(fetch::cache_loop(
        media_cache,
        shared.clone(),
        clock.clone(),
    ));
    tasks.spawn(heartbeat_loop(
        client.clone(),
        db.clone(),
        shared.clone(),
        clock.clone(),
        config.output.to_string(),
        out.error_handle(),
        config.data_dir.clone(),
    ));
    // A decoder thread waiting for the next airing, and memory for its first chunks, made
    // now rather than when an urgent notice starts.
    if let Err(e) = decode::standby_decoder() {
        tracing::warn!("cannot start a standby decoder thread: {e}");
    }
    decode::warm_chunks();
    let mut player = player::Player::new(
        db.clone(),
        mixer,
        clock.clone(),
        media_dir,
        shared,
        out.error_handle(),
        floor,
    );
    player.rejoin_after_restart(&recovered);
    player.run(events_rx, shutdown).await;
    tasks.abort_all();
    // Best effort: hand the last entries (e.g. the airing the stop cut) to the server now;
    // whatever does not make it stays in the outbox for the next run.
    let last = tokio::time::timeout(
        Duration::from_secs(3),
        sync::upload_once(&client, &db, clock.as_ref()),
    )
    .await;
    if let Ok(Err(e)) = last {
        tracing::info!("final log upload failed ({e}); entries stay in the outbox");
    }
    out.stop();
    tracing::info!("controller stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Arc<Shared> {
        let (acks, _) = mpsc::unbounded_channel();
        let (commands, _) = mpsc::unbounded_channel();
        Arc::new(Shared::new(Inputs::default(), acks, commands, 100))
    }

    #[tokio::test(start_paused = true)]
    async fn reports_wait_for_the_urgent_start_then_go_within_the_spread() {
        let shared = shared();
        // Nothing on its way: a report goes at once.
        let t = tokio::time::Instant::now();
        shared.after_urgent_start().await;
        assert_eq!(tokio::time::Instant::now(), t);
        for _ in 0..20 {
            shared.urgent_on_its_way();
            let s = shared.clone();
            let report = tokio::spawn(async move {
                s.after_urgent_start().await;
                tokio::time::Instant::now()
            });
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(
                !report.is_finished(),
                "a report waits while the notice is on its way"
            );
            let started = tokio::time::Instant::now();
            shared.urgent_started();
            let went = report.await.unwrap();
            assert!(
                went >= started && went - started <= REPORT_SPREAD,
                "{:?}",
                went - started
            );
            tokio::time::sleep(REPORT_SPREAD).await;
        }
        // A notice that never starts holds reports for URGENT_FIRST at most.
        shared.urgent_on_its_way();
        let t = tokio::time::Instant::now();
        shared.after_urgent_start().await;
        assert_eq!(tokio::time::Instant::now() - t, URGENT_FIRST);
        // One that will not come (its audio failed) lets them go at once.
        tokio::time::sleep(URGENT_FIRST).await;
        shared.urgent_on_its_way();
        shared.urgent_arrived();
        let t = tokio::time::Instant::now();
        shared.after_urgent_start().await;
        assert_eq!(tokio::time::Instant::now(), t);
    }
}
