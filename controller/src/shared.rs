//! What the controller's tasks share: the planner's inputs, the heartbeat's status, urgent
//! acknowledgements and the audio held for them, remote commands, the master volume, and
//! when reports may go around an urgent notice's start.

use chrono::{DateTime, Utc};
use schedules::wire::{NowPlaying, ScheduleDocument, UrgentAck, UrgentNotice};
use schedules::Sha256;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};

/// The longest a report (heartbeat, acknowledgement) waits for an urgent notice to start
/// airing.
pub const URGENT_FIRST: Duration = Duration::from_secs(2);

/// Once an urgent notice airs, the reports held for it go within this much of its start,
/// at a random instant: a district's stations all start the same notice within the same
/// few milliseconds, and the server, still pushing it to the last of them, would otherwise
/// take every station's acknowledgements and heartbeat in that same instant.
pub const REPORT_SPREAD: Duration = Duration::from_secs(1);

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
    /// Live broadcasts announced on the event stream go to [`crate::live::live_loop`].
    pub(crate) live: Mutex<Option<mpsc::UnboundedSender<schedules::wire::LivePush>>>,
}

impl Shared {
    /// Shared state for a start from `inputs`; acknowledgements and remote commands go to
    /// their loops through `acks` and `commands`.
    pub(crate) fn new(
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
