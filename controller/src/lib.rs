//! The Loa Xã station controller: keeps the station's schedule and media in a local cache,
//! plays on time through the sound card even when the server is unreachable for days, and
//! reports every occurrence exactly once.
//!
//! - [`sync`]: the schedule document, the event stream (urgent notices within a second),
//!   log upload, heartbeats — retried with backoff, forever;
//! - [`fetch`]: the content-addressed media cache (Range resume, hash check, cleanup);
//! - [`cache`]: local SQLite (document, media index, outbox, play journal, settings);
//! - [`planner`]: pure — (document, notices, now) → the resolved timeline;
//! - [`player`]: pure core (state + event → commands: what becomes of every occurrence)
//!   and the shell that carries the commands out on the [`mixer`] and the journal;
//! - [`mixer`]: the one continuous sample stream, sample-exact starts;
//! - [`output`]: rodio sound card, `null` or `wav:FILE` (with a `FILE.json` sidecar);
//! - [`precision`]: when the sound card needs its short period (the player says);
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
//!
//! Why about 650 lines: besides `run` (the wiring), what every loop shares ([`Shared`],
//! [`Inputs`], the status the heartbeat reports) and the heartbeat loop itself.

pub mod cache;
pub mod client;
pub mod config;
pub mod decode;
pub mod fetch;
pub mod format;
pub mod limiter;
pub mod live;
pub mod manpage;
pub mod mixer;
pub mod output;
pub mod planner;
pub mod player;
pub mod precision;
pub mod premap;
pub mod relay;
pub mod remote;
pub mod servers;
pub mod shared;
pub mod sse;
pub mod sync;
mod wire_compat;

pub use output::OutputSpec;
pub use shared::{Inputs, Shared, Status};

use chrono::Duration as CDuration;
use schedules::wire::Heartbeat;
use schedules::{Clock, StationCode};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

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
        let disk = tokio::task::spawn_blocking(move || fetch::disk_free(&dir))
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
    tasks.spawn(servers::return_loop(
        client.servers().clone(),
        client.http().clone(),
    ));
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
            precision: out.precision(),
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
        out.precision(),
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
