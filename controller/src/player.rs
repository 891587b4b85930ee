//! The player: a thin loop that executes the planner's timeline on the mixer and writes
//! what became of every occurrence to the outbox, exactly once.
//!
//! Each tick (every 200 ms, and at once when the inputs change) it plans
//! `[now - 6 h, now + 24 h]` and, for every occurrence not handled yet:
//! - `skipped` by the timeline and due → logged `skipped` with the reason;
//! - starting within 5 s → decoded ahead and cued on the mixer at its exact frame;
//! - start more than 1 s past but still within its `max_wait` (e.g. an urgent notice that
//!   just arrived, or a bulletin due while the controller was booting) → cued at once;
//! - past its `max_wait` and never aired → logged `missed`;
//! - media not cached, undecodable, or the sound device down → logged `failed`.
//!
//! Mixer events do the rest: `Started` is journalled durably (crash recovery), `Ended`
//! becomes `played` or `interrupted`. Progress is journalled every 2 s.

use crate::cache::{self, Db};
use crate::decode::{self, PartsDecoded};
use crate::mixer::{Cue, EndReason, Mixer, MixerEvent};
use crate::planner::{self, Origin, Planned, Source};
use crate::precision::Precision;
use crate::relay::{self, Relayer};
use crate::Shared;
use chrono::{DateTime, Duration as CDuration, Utc};
use schedules::wire::{LogEntry, NowPlaying, RelayGap, UrgentAck, UrgentState};
use schedules::{occurrence_key, Clock, PlayStatus, Sha256};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

/// Why what airs when the controller stops cleanly is logged `interrupted`.
pub const STOPPED: &str = "the controller was stopped";
/// How far ahead an occurrence is decoded and cued.
pub const LOOKAHEAD: CDuration = CDuration::seconds(5);
/// A start this late is "late": played at once if still within its wait bound.
const LATE: CDuration = CDuration::seconds(1);
/// How far back the regular plan looks.
const LOOKBACK: CDuration = CDuration::hours(6);
/// How far back the first plan after boot may look (occurrences missed while down).
const CATCH_UP: CDuration = CDuration::days(7);
/// How often the timeline is recomputed when nothing changed (well under [`LOOKAHEAD`]).
const REPLAN_EVERY: Duration = Duration::from_secs(1);
/// How long a due occurrence waits for its media to arrive before it is logged `failed`.
const MEDIA_WAIT: CDuration = CDuration::seconds(60);
/// How often progress is journalled while airing.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);
/// How often the horizon (the controller was running until here) is written. A restart
/// looks back 10 minutes before it, so 30 s is plenty, and it is one disk sync fewer
/// every 5 s on an SD card.
const HORIZON_EVERY: Duration = Duration::from_secs(30);
/// The wall clock moving this much more or less than the monotonic clock between two
/// ticks is a jump (an NTP step, a wrong RTC at boot, an operator setting the time).
const CLOCK_JUMP: CDuration = CDuration::seconds(2);
/// How long before a start the sound card runs precisely (its short period): the switch
/// is done before the occurrence is cued ([`LOOKAHEAD`]).
pub const PRECISE_AHEAD: CDuration = CDuration::seconds(10);
/// How long the card stays precise after the last airing: the end of its audio is still in
/// the card's buffer, and a next item may follow.
pub const PRECISE_HOLD: CDuration = CDuration::seconds(3);

/// Whether the sound card must keep time precisely at `now`: something airs or is cued
/// (`busy`), was until `busy_until`, or the next start the player may still cue
/// (`next_start`) is within [`PRECISE_AHEAD`].
pub fn precision_needed(
    now: DateTime<Utc>,
    busy: bool,
    busy_until: Option<DateTime<Utc>>,
    next_start: Option<DateTime<Utc>>,
) -> bool {
    busy || busy_until.is_some_and(|t| now < t)
        || next_start.is_some_and(|t| t <= now + PRECISE_AHEAD)
}

struct Airing {
    planned: Planned,
    parts: Option<PartsDecoded>,
    started_at: DateTime<Utc>,
}

/// A relay whose window is open: what it has aired so far, across the segments an
/// emergency cut it into.
struct OpenRelay {
    planned: Planned,
    channel: schedules::wire::RelayChannel,
    started_at: DateTime<Utc>,
    until: DateTime<Utc>,
    played_ms: u64,
    gaps: Vec<RelayGap>,
    /// Its thread's gaps, for the segment airing or cued now.
    live: Option<relay::Gaps>,
    /// Cut by an emergency at this instant, for this reason: to be resumed.
    cut: Option<(DateTime<Utc>, String)>,
    rms_dbfs: Option<f32>,
    peak_dbfs: Option<f32>,
}

/// A cued occurrence: what it is, and for a programme what its decoder has done so far.
struct Cued {
    planned: Planned,
    parts: Option<PartsDecoded>,
}

/// The executor. Owns the decisions; the mixer owns the samples.
pub struct Player {
    db: Db,
    mixer: Mixer,
    clock: Arc<dyn Clock>,
    media_dir: PathBuf,
    shared: Arc<Shared>,
    output_error: Arc<Mutex<Option<String>>>,
    known: HashSet<String>,
    cued: HashMap<String, Cued>,
    airing: Option<Airing>,
    floor: DateTime<Utc>,
    first_pass: bool,
    last_progress: Instant,
    last_anchor: Instant,
    last_horizon: Instant,
    reported_errors: HashSet<String>,
    last_output_error: Option<String>,
    plan: Arc<planner::Plan>,
    plan_at: Option<Instant>,
    relayer: Relayer,
    relays: HashMap<String, OpenRelay>,
    /// Relay occurrences that were airing when the controller stopped (logged `interrupted`
    /// at boot), with when they were due and when it stopped: joined again for the rest of
    /// their window (with the reason of the gap the restart made).
    rejoin: HashMap<String, (DateTime<Utc>, DateTime<Utc>, String)>,
    last_tick: Option<(Instant, DateTime<Utc>)>,
    precision: Arc<Precision>,
    /// The card stays precise until then (the last airing ended just before).
    busy_until: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Player")
    }
}

impl Player {
    /// A player. `floor`: occurrences due before it are none of our business (the last
    /// instant the previous run accounted for, or the first boot).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        mixer: Mixer,
        clock: Arc<dyn Clock>,
        media_dir: PathBuf,
        shared: Arc<Shared>,
        output_error: Arc<Mutex<Option<String>>>,
        precision: Arc<Precision>,
        floor: DateTime<Utc>,
    ) -> Self {
        let known = db
            .with(|c| cache::known_keys(c, floor - CATCH_UP - CDuration::days(1)))
            .unwrap_or_default();
        let now = Instant::now();
        Self {
            db,
            mixer,
            relayer: Relayer::new(clock.clone()),
            relays: HashMap::new(),
            rejoin: HashMap::new(),
            clock,
            media_dir,
            shared,
            output_error,
            known,
            cued: HashMap::new(),
            airing: None,
            floor,
            first_pass: true,
            last_progress: now,
            last_anchor: now,
            last_horizon: now - Duration::from_secs(60),
            reported_errors: HashSet::new(),
            last_output_error: None,
            plan: Arc::default(),
            plan_at: None,
            last_tick: None,
            precision,
            busy_until: None,
        }
    }

    /// Relays the previous run was airing when it ended: those boot-time recovery just
    /// logged `interrupted` (`recovered`, see [`cache::recover_interrupted`]: a crash, a
    /// kill, a power cut) and those a clean stop cut (logged `interrupted` with
    /// [`STOPPED`]). Each whose window is still open is joined again for the rest of it, as
    /// its own entry (`part_of` the interrupted one) whose first gap is the restart. Only
    /// the last airing of an occurrence counts: a relay stopped remotely stays stopped.
    pub fn rejoin_after_restart(&mut self, recovered: &[LogEntry]) {
        let now = self.clock.now();
        let done = self
            .db
            .with(|c| cache::done_since(c, now - CDuration::days(1)))
            .unwrap_or_else(|e| {
                tracing::error!("cannot read the play journal: {e}");
                Vec::new()
            });
        let mut last: HashMap<String, LogEntry> = HashMap::new();
        for e in done.into_iter().chain(recovered.iter().cloned()) {
            if e.media_sha256.is_some() || e.urgent_id.is_some() || e.schedule_id.is_none() {
                continue;
            }
            let base = e.part_of.clone().unwrap_or_else(|| e.id.clone());
            if last.get(&base).is_none_or(|l| e.started_at >= l.started_at) {
                last.insert(base, e);
            }
        }
        for (base, e) in last {
            let reason = if recovered.iter().any(|r| r.id == e.id) {
                "the controller stopped (crash, kill or power cut) and restarted"
            } else if e.status == PlayStatus::Interrupted && e.reason.as_deref() == Some(STOPPED) {
                "the controller was stopped and restarted"
            } else {
                continue;
            };
            let stopped = e.ended_at.unwrap_or(now).min(now);
            self.rejoin
                .insert(base, (e.scheduled_at, stopped, reason.to_string()));
        }
    }

    /// Run until `shutdown`; then stop what airs (logged `interrupted`, reason [`STOPPED`]).
    pub async fn run(
        mut self,
        mut events: UnboundedReceiver<MixerEvent>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let mut inputs = self.shared.inputs.subscribe();
        let shared = self.shared.clone();
        let precision = self.precision.clone();
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(ev) = events.recv() => self.on_event(ev),
                Ok(()) = inputs.changed() => {
                    self.plan_at = None;
                    self.tick()
                }
                _ = shared.media_ready.notified() => self.tick(),
                _ = precision.switched.notified() => self.tick(),
                _ = tick.tick() => self.tick(),
            }
        }
        if let Some(a) = &self.airing {
            let key = a.planned.item.key.clone();
            self.mixer.stop(&key, STOPPED);
        }
        while let Ok(ev) = events.try_recv() {
            self.on_event(ev);
        }
        self.write_horizon(self.clock.now());
    }

    fn output_error(&self) -> Option<String> {
        self.output_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn write_horizon(&self, now: DateTime<Utc>) {
        let v = cache::ms(now).to_string();
        if let Err(e) = self.db.with(|c| cache::set_setting(c, "horizon", &v)) {
            tracing::error!("cannot write the horizon: {e}");
        }
    }

    /// One planning pass.
    pub fn tick(&mut self) {
        let now = self.clock.now();
        let mono = Instant::now();
        if let Some((then_mono, then)) = self.last_tick {
            let jump = (now - then) - CDuration::from_std(mono - then_mono).unwrap_or_default();
            if jump.abs() >= CLOCK_JUMP {
                self.clock_jumped(jump, now, mono);
            }
        }
        self.last_tick = Some((mono, now));
        if self.last_anchor.elapsed() >= Duration::from_secs(30) {
            self.last_anchor = Instant::now();
            self.mixer.set_base(self.last_anchor, now);
        }
        if self.last_horizon.elapsed() >= HORIZON_EVERY {
            self.last_horizon = Instant::now();
            self.write_horizon(now);
        }
        self.journal_progress();
        let inputs = self.shared.inputs.borrow().clone();
        let scheduled = inputs.doc.as_deref().map_or(100, |d| {
            schedules::volume::volume_at(&d.volume_schedule, d.tz(), now)
        });
        self.mixer
            .set_gain(crate::remote::gain(self.shared.master_volume(), scheduled));
        // Re-plan when the inputs change and every second (the plan is cheap, but a station
        // with minutely rules has ~1800 occurrences in the window).
        if self.plan_at.is_none_or(|t| t.elapsed() >= REPLAN_EVERY) {
            let back = if self.first_pass { CATCH_UP } else { LOOKBACK };
            self.first_pass = false;
            let mut from = (now - back).max(self.floor).min(now);
            // A relay to join again may have opened its window long before the floor (a
            // window is at most a day long): plan from its start, so that it is in the plan.
            self.rejoin
                .retain(|_, (due, _, _)| *due + CDuration::days(1) > now);
            if let Some(due) = self.rejoin.values().map(|(due, _, _)| *due).min() {
                from = from.min(due);
            }
            self.plan = Arc::new(planner::plan(
                inputs.doc.as_deref(),
                &inputs.pushed,
                &inputs.cancelled,
                from,
                now + CDuration::hours(24),
            ));
            self.plan_at = Some(Instant::now());
        }
        let plan = self.plan.clone();
        for e in &plan.errors {
            if self.reported_errors.insert(e.clone()) {
                tracing::error!("cannot read schedule {e}");
            }
        }
        // Cancelled notice airing now: stop it.
        if let Some(a) = &self.airing {
            if let Origin::Urgent(id) = &a.planned.origin {
                if inputs.cancelled.contains(id) {
                    let key = a.planned.item.key.clone();
                    self.mixer.stop(&key, "cancelled");
                }
            }
        }
        let output_error = self.output_error();
        if output_error != self.last_output_error {
            self.last_output_error = output_error;
            self.shared.heartbeat_now.notify_one();
        }
        // The sound device died mid-airing: cut it, say why.
        if let (Some(a), Some(err)) = (&self.airing, self.output_error()) {
            let key = a.planned.item.key.clone();
            self.mixer.stop(&key, &err);
        }
        // Cued occurrences the plan no longer airs (rule removed, notice cancelled, now skipped).
        let live: HashSet<&str> = plan
            .slots
            .iter()
            .filter(|s| s.status != PlayStatus::Skipped)
            .map(|s| s.item.key.as_str())
            .collect();
        let gone: Vec<String> = self
            .cued
            .keys()
            .filter(|k| {
                let occurrence = planner::rejoined_from(k).unwrap_or(k);
                !live.contains(occurrence)
            })
            .cloned()
            .collect();
        for k in gone {
            if self.mixer.uncue(&k) {
                self.cued.remove(&k);
            }
        }
        self.want_precision(&plan, now);
        self.resume_relays(now);
        for slot in &plan.slots {
            let key = &slot.item.key;
            if self.known.contains(key)
                && slot.status != PlayStatus::Skipped
                && self.precision.is_precise()
            {
                if let Some((_, stopped, why)) = self.rejoin.remove(key) {
                    if let Some(planned) = plan.planned.get(key) {
                        self.rejoin_relay(planned, stopped, why, now);
                    }
                }
            }
            if slot.item.scheduled_at < self.floor
                || self.known.contains(key)
                || self.cued.contains_key(key)
                || self
                    .airing
                    .as_ref()
                    .is_some_and(|a| &a.planned.item.key == key)
            {
                continue;
            }
            let Some(planned) = plan.planned.get(key) else {
                continue;
            };
            let wait_bound =
                slot.item.scheduled_at + CDuration::milliseconds(slot.item.max_wait_ms as i64);
            if slot.status == PlayStatus::Skipped {
                if slot.item.scheduled_at <= now {
                    let entry = planned.log_entry(PlayStatus::Skipped, slot.reason.clone());
                    self.log(entry, now);
                }
                continue;
            }
            let start = slot.starts_at.unwrap_or(slot.item.scheduled_at);
            if start > now + LOOKAHEAD {
                continue;
            }
            if start >= now - LATE {
                self.cue(planned, Some(start), now);
            } else if now < wait_bound {
                if self.reported_errors.insert(format!("late {key}")) {
                    tracing::warn!(key = %key, "starting {} s late", (now - start).num_seconds());
                }
                self.cue(planned, None, now);
            } else if self.reported_errors.contains(&format!("wait {key}")) {
                let reason = format!(
                    "media {} did not reach the local cache in time",
                    planned.source.media().map(|m| m.as_str()).unwrap_or("?")
                );
                self.log(planned.log_entry(PlayStatus::Failed, Some(reason)), now);
            } else {
                let entry = planned.log_entry(
                    PlayStatus::Missed,
                    Some("its time passed while the controller was not running".into()),
                );
                self.log(entry, now);
            }
        }
    }

    /// Tell the output whether the sound card must keep time precisely from now on.
    fn want_precision(&mut self, plan: &planner::Plan, now: DateTime<Utc>) {
        let busy = self.airing.is_some()
            || !self.cued.is_empty()
            || self.relays.values().any(|r| r.cut.is_some())
            || self.mixer.now_playing().is_some();
        if busy {
            self.busy_until = Some(now + PRECISE_HOLD);
        }
        let next_start = plan
            .slots
            .iter()
            .filter(|s| {
                let key = &s.item.key;
                s.status != PlayStatus::Skipped
                    && s.item.scheduled_at >= self.floor
                    && (!self.known.contains(key) || self.rejoin.contains_key(key))
                    && now
                        < s.item.scheduled_at
                            + CDuration::milliseconds(s.item.max_wait_ms as i64)
                            + MEDIA_WAIT
            })
            .map(|s| s.starts_at.unwrap_or(s.item.scheduled_at))
            .min();
        self.precision
            .want(precision_needed(now, busy, self.busy_until, next_start));
    }

    /// Relays cut by an emergency: once nothing airs, cue them again while their window is
    /// open; log those whose window closed.
    fn resume_relays(&mut self, now: DateTime<Utc>) {
        let cut: Vec<String> = self
            .relays
            .iter()
            .filter(|(k, r)| r.cut.is_some() && !self.cued.contains_key(*k))
            .map(|(k, _)| k.clone())
            .collect();
        for key in cut {
            let Some(r) = self.relays.get_mut(&key) else {
                continue;
            };
            if now >= r.until {
                let Some(mut r) = self.relays.remove(&key) else {
                    continue;
                };
                let why = r.cut.take().map(|(from, reason)| {
                    r.gaps.push(RelayGap {
                        from,
                        to: r.until,
                        reason: reason.clone(),
                    });
                    reason
                });
                self.log_relay(r, now, PlayStatus::Interrupted, why);
                continue;
            }
            if self.airing.is_some()
                || self.mixer.now_playing().is_some()
                || !self.precision.is_precise()
            {
                continue;
            }
            let (planned, until, open) = (r.planned.clone(), r.until, r.cut.clone());
            match self
                .relayer
                .start(r.channel.clone(), now, until, self.mixer.format(), open)
            {
                Ok(run) => {
                    r.cut = None;
                    r.live = Some(run.gaps);
                    tracing::info!(key = %key, "relay resumes");
                    self.mixer.cue(Cue {
                        key: key.clone(),
                        start_frame: 0,
                        at: None,
                        priority: planned.item.priority,
                        audio: run.audio,
                        until: Some(until),
                    });
                    self.cued.insert(
                        key,
                        Cued {
                            planned,
                            parts: None,
                        },
                    );
                }
                Err(e) => tracing::error!(key = %key, "cannot resume the relay: {e}"),
            }
        }
    }

    /// Log a relay whose window is over (or that was stopped, for `why`).
    fn log_relay(
        &mut self,
        r: OpenRelay,
        now: DateTime<Utc>,
        status: PlayStatus,
        why: Option<String>,
    ) {
        // Nothing of the channel aired in the whole window: it failed, for its first gap's reason.
        let status = if status == PlayStatus::Played && r.played_ms == 0 {
            PlayStatus::Failed
        } else {
            status
        };
        let not_aired: i64 = r.gaps.iter().map(|g| (g.to - g.from).num_seconds()).sum();
        let reason = match status {
            PlayStatus::Played if r.gaps.is_empty() => None,
            PlayStatus::Played => Some(format!(
                "{} gap(s), {not_aired} s without the channel",
                r.gaps.len()
            )),
            _ => why.or_else(|| r.gaps.first().map(|g| g.reason.clone())),
        };
        let mut entry = r.planned.log_entry(status, reason);
        entry.started_at = Some(r.started_at);
        entry.ended_at = Some(now.min(r.until));
        entry.played_ms = r.played_ms;
        entry.rms_dbfs = r.rms_dbfs;
        entry.peak_dbfs = r.peak_dbfs;
        entry.gaps = r.gaps;
        self.log(entry, now);
    }

    /// The wall clock jumped by `jump`. What was handled stays handled (its key is known,
    /// so nothing plays twice after a jump back); what is cued but not started is taken
    /// back and cued again at the frame the new time gives; what a jump forward passed
    /// over starts late within its wait bound, else is logged `missed`.
    fn clock_jumped(&mut self, jump: CDuration, now: DateTime<Utc>, mono: Instant) {
        let way = if jump > CDuration::zero() {
            "forward"
        } else {
            "back"
        };
        tracing::warn!(
            "the clock jumped {way} by {:.1} s (now {now}); re-anchoring the output, \
             nothing already handled will play again (check NTP and the RTC)",
            jump.num_milliseconds().abs() as f64 / 1000.0
        );
        self.mixer.set_base(mono, now);
        self.last_anchor = mono;
        let cued: Vec<String> = self.cued.keys().cloned().collect();
        for k in cued {
            if self.mixer.uncue(&k) {
                self.cued.remove(&k);
            }
        }
        self.plan_at = None;
    }

    fn cue(&mut self, planned: &Planned, start: Option<DateTime<Utc>>, now: DateTime<Utc>) {
        let key = planned.item.key.clone();
        if let Some(err) = self.output_error() {
            // Failed when it comes due with the device still down (not before: it may return).
            if start.is_none_or(|t| t <= now) {
                self.log(planned.log_entry(PlayStatus::Failed, Some(err)), now);
            }
            return;
        }
        let files: Vec<(Sha256, f32)> = match &planned.source {
            Source::Relay(channel) => {
                return self.cue_relay(planned, channel.clone(), start, now, None)
            }
            Source::Media { sha256, gain_db } => vec![(sha256.clone(), *gain_db)],
            Source::Programme { parts, .. } => {
                parts.iter().map(|p| (p.media.clone(), p.gain_db)).collect()
            }
        };
        // Each part from the media cache, or from memory when it came with an urgent push
        // and is not written down yet.
        let audio = |m: &Sha256| {
            if let Some(bytes) = self.shared.held_audio(m.as_str()) {
                return Some(decode::Audio::Memory(bytes));
            }
            let path = self.media_dir.join(m.as_str());
            path.is_file().then_some(decode::Audio::File(path))
        };
        let missing = planned
            .all_media()
            .into_iter()
            .find(|m| audio(m).is_none())
            .cloned();
        if let Some(missing) = missing {
            // The cache may be fetching it right now (an urgent notice with new media):
            // wait for it until the occurrence is due, or while it may still start late.
            let bound = planned.item.scheduled_at
                + CDuration::milliseconds(planned.item.max_wait_ms as i64);
            let due = start.unwrap_or(now);
            if now < due || now < bound.min(due + MEDIA_WAIT) {
                if self.reported_errors.insert(format!("wait {key}")) {
                    tracing::warn!(key = %key, "media {missing} not cached yet; waiting for it");
                }
                return;
            }
            let reason = format!("media {missing} is not in the local cache");
            tracing::error!(key = %key, "{reason}");
            self.log(planned.log_entry(PlayStatus::Failed, Some(reason)), now);
            return;
        }
        if !self.precision.is_precise() {
            return; // the card is switching to its short period: cued on the next tick
        }
        let start_frame = match start {
            Some(t) => match self.mixer.frame_at(t) {
                Some(f) => f,
                None => return, // the output has not produced its first block yet
            },
            None => 0,
        };
        let sources: Vec<(decode::Audio, f64)> = files
            .iter()
            .map(|(m, g)| {
                // (Gone since the check above: it fails to open, and is recorded so.)
                let a = audio(m)
                    .unwrap_or_else(|| decode::Audio::File(self.media_dir.join(m.as_str())));
                (a, f64::from(*g))
            })
            .collect();
        match decode::prepare_sequence(sources, self.mixer.format(), 5.0) {
            Ok((audio, decoded)) => {
                self.mixer.cue(Cue {
                    key: key.clone(),
                    start_frame,
                    at: start,
                    priority: planned.item.priority,
                    audio,
                    until: None,
                });
                tracing::debug!(key = %key, start_frame, "cued");
                let parts = (!planned.parts().is_empty()).then_some(decoded);
                self.cued.insert(
                    key,
                    Cued {
                        planned: planned.clone(),
                        parts,
                    },
                );
            }
            Err(e) => {
                let media = planned.source.media().map(|m| m.as_str()).unwrap_or("?");
                let reason = format!("cannot decode media {media}: {e}");
                tracing::error!(key = %key, "{reason}");
                self.log(planned.log_entry(PlayStatus::Failed, Some(reason)), now);
            }
        }
    }

    /// Join the relay occurrence `planned` again, at once, for the rest of its window: the
    /// controller stopped at `stopped` while it aired (its entry says `interrupted`). The
    /// remainder is its own occurrence, whose first gap is the restart, for `reason`.
    fn rejoin_relay(
        &mut self,
        planned: &Planned,
        stopped: DateTime<Utc>,
        reason: String,
        now: DateTime<Utc>,
    ) {
        let Source::Relay(channel) = &planned.source else {
            return;
        };
        let Some(rest) = planned.rejoined(now) else {
            return;
        };
        if now >= planned.window_end() || self.output_error().is_some() {
            return;
        }
        tracing::info!(key = %planned.item.key, rejoined = %rest.item.key, "the relay's window is still open after the restart: joining it again");
        self.cue_relay(&rest, channel.clone(), None, now, Some((stopped, reason)));
    }

    fn cue_relay(
        &mut self,
        planned: &Planned,
        channel: schedules::wire::RelayChannel,
        start: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        open: Option<(DateTime<Utc>, String)>,
    ) {
        let key = planned.item.key.clone();
        let until = planned.window_end();
        let from = start.unwrap_or(now);
        if from >= until {
            let reason = "its window closed before it could start".to_string();
            self.log(planned.log_entry(PlayStatus::Skipped, Some(reason)), now);
            return;
        }
        if !self.precision.is_precise() {
            return; // cued on the next tick, once the card runs precisely
        }
        let start_frame = match start {
            Some(t) => match self.mixer.frame_at(t) {
                Some(f) => f,
                None => return,
            },
            None => 0,
        };
        match self
            .relayer
            .start(channel.clone(), from, until, self.mixer.format(), open)
        {
            Ok(run) => {
                self.mixer.cue(Cue {
                    key: key.clone(),
                    start_frame,
                    at: start,
                    priority: planned.item.priority,
                    audio: run.audio,
                    until: Some(until),
                });
                self.relays.insert(
                    key.clone(),
                    OpenRelay {
                        planned: planned.clone(),
                        channel,
                        started_at: from,
                        until,
                        played_ms: 0,
                        gaps: Vec::new(),
                        live: Some(run.gaps),
                        cut: None,
                        rms_dbfs: None,
                        peak_dbfs: None,
                    },
                );
                self.cued.insert(
                    key,
                    Cued {
                        planned: planned.clone(),
                        parts: None,
                    },
                );
            }
            Err(e) => {
                tracing::error!(key = %key, "{e}");
                self.log(planned.log_entry(PlayStatus::Failed, Some(e)), now);
            }
        }
    }

    /// A relay segment ended: add it to its relay; log the relay unless an emergency cut
    /// it while its window is still open (it resumes after).
    fn relay_segment_ended(
        &mut self,
        key: &str,
        reason: &EndReason,
        aired_ms: u64,
        levels: (Option<f32>, Option<f32>),
        now: DateTime<Utc>,
    ) {
        let Some(r) = self.relays.get_mut(key) else {
            return;
        };
        r.played_ms += aired_ms;
        if levels.0.is_some() {
            (r.rms_dbfs, r.peak_dbfs) = levels;
        }
        // A relay ends `Finished` on its window's last frame.
        let at = if *reason == EndReason::Finished {
            r.until
        } else {
            now
        };
        if let Some(live) = r.live.take() {
            r.gaps.extend(live.finish(at));
        }
        let (status, why) = match reason {
            EndReason::Preempted { by } if now < r.until => {
                r.cut = Some((now, format!("interrupted by emergency {by}")));
                return;
            }
            EndReason::Preempted { by } => (
                PlayStatus::Interrupted,
                Some(format!("interrupted by emergency {by}")),
            ),
            EndReason::Finished => (PlayStatus::Played, None),
            EndReason::Stopped { reason } => (PlayStatus::Interrupted, Some(reason.clone())),
        };
        let Some(r) = self.relays.remove(key) else {
            return;
        };
        self.log_relay(r, now, status, why);
    }

    fn log(&mut self, entry: LogEntry, now: DateTime<Utc>) {
        let key = entry.id.clone();
        tracing::info!(key = %key, status = %entry.status, reason = ?entry.reason, played_ms = entry.played_ms, "logged");
        match self.db.with(|c| cache::record_outcome(c, &entry, now)) {
            Ok(fresh) => {
                self.known.insert(key);
                self.shared.upload.notify_one();
                if let (true, Some(id)) = (fresh, &entry.urgent_id) {
                    if matches!(
                        entry.status,
                        PlayStatus::Failed | PlayStatus::Missed | PlayStatus::Skipped
                    ) {
                        let ack = UrgentAck {
                            state: UrgentState::Failed,
                            at: now,
                            reason: entry.reason.clone(),
                        };
                        self.shared.ack(id, ack);
                    }
                }
            }
            Err(e) => tracing::error!(key = %key, "cannot write the log entry: {e}"),
        }
    }

    fn journal_progress(&mut self) {
        if self.last_progress.elapsed() < PROGRESS_EVERY {
            return;
        }
        self.last_progress = Instant::now();
        if let Some((key, frames)) = self.mixer.now_playing() {
            let ms = frames * 1000 / self.mixer.format().rate.max(1) as u64;
            if let Err(e) = self.db.with(|c| cache::play_progress(c, &key, ms)) {
                tracing::error!("cannot journal progress: {e}");
            }
        }
    }

    /// Handle one mixer event.
    pub fn on_event(&mut self, ev: MixerEvent) {
        let now = self.clock.now();
        match ev {
            MixerEvent::Started { key, frame } => {
                let Some(Cued { planned, parts }) = self.cued.remove(&key) else {
                    return;
                };
                let started_at = self.mixer.utc_of_frame(frame).unwrap_or(now);
                if let Some(r) = self.relays.get_mut(&key) {
                    if self.known.contains(&key) {
                        // A relay resuming after an emergency: same occurrence, same log entry.
                        let first = r.started_at;
                        self.shared.status_mut(|s| {
                            s.now_playing = Some(NowPlaying {
                                key: key.clone(),
                                title: planned.title.clone(),
                                priority: planned.item.priority,
                                started_at,
                            })
                        });
                        self.shared.heartbeat_now.notify_one();
                        self.airing = Some(Airing {
                            planned,
                            parts,
                            started_at: first,
                        });
                        return;
                    }
                    r.started_at = started_at;
                }
                let mut template = planned.log_entry(PlayStatus::Interrupted, None);
                template.started_at = Some(started_at);
                if let Err(e) = self.db.with(|c| cache::play_started(c, &template)) {
                    tracing::error!(key = %key, "cannot journal the start: {e}");
                }
                let late_ms = (started_at - planned.item.scheduled_at).num_milliseconds();
                tracing::info!(key = %key, title = %planned.title, late_ms, "airing");
                self.known.insert(key.clone());
                self.shared.status_mut(|s| {
                    s.now_playing = Some(NowPlaying {
                        key: key.clone(),
                        title: planned.title.clone(),
                        priority: planned.item.priority,
                        started_at,
                    })
                });
                // The dashboard shows what airs: tell the server now, not at the next beat.
                self.shared.heartbeat_now.notify_one();
                if let Origin::Urgent(id) = &planned.origin {
                    self.shared.urgent_started();
                    self.shared.ack(
                        id,
                        UrgentAck {
                            state: UrgentState::Playing,
                            at: started_at,
                            reason: None,
                        },
                    );
                }
                self.last_progress = Instant::now();
                self.airing = Some(Airing {
                    planned,
                    parts,
                    started_at,
                });
            }
            MixerEvent::Ended {
                key,
                reason,
                frames,
                rms_dbfs,
                peak_dbfs,
                underrun_frames,
            } => {
                let Some(a) = self.airing.take_if(|a| a.planned.item.key == key) else {
                    return;
                };
                let rate = self.mixer.format().rate.max(1) as u64;
                let played_ms = frames * 1000 / rate;
                if self.relays.contains_key(&key) {
                    // Silence while the stream was down is not relayed airtime.
                    let aired = frames.saturating_sub(underrun_frames) * 1000 / rate;
                    self.relay_segment_ended(&key, &reason, aired, (rms_dbfs, peak_dbfs), now);
                    self.shared.status_mut(|s| s.now_playing = None);
                    self.shared.heartbeat_now.notify_one();
                    return;
                }
                let (status, why) = match &reason {
                    EndReason::Finished => (PlayStatus::Played, None),
                    EndReason::Preempted { by } => (
                        PlayStatus::Interrupted,
                        Some(format!("interrupted by emergency {by}")),
                    ),
                    EndReason::Stopped { reason } => {
                        (PlayStatus::Interrupted, Some(reason.clone()))
                    }
                };
                if underrun_frames > 0 {
                    tracing::warn!(key = %key, "decoder fell behind: {} ms of silence inserted", underrun_frames * 1000 / rate);
                }
                let mut entry = a.planned.log_entry(status, why);
                entry.started_at = Some(a.started_at);
                entry.ended_at = Some(a.started_at + CDuration::milliseconds(played_ms as i64));
                entry.played_ms = played_ms;
                entry.rms_dbfs = rms_dbfs;
                entry.peak_dbfs = peak_dbfs;
                self.log(entry, now);
                if let Some(parts) = &a.parts {
                    let decoded = parts.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let why = match &reason {
                        EndReason::Finished => None,
                        EndReason::Preempted { by } => {
                            Some(format!("interrupted by emergency {by}"))
                        }
                        EndReason::Stopped { reason } => Some(reason.clone()),
                    };
                    for e in part_entries(&a.planned, &decoded, a.started_at, frames, rate, why) {
                        self.log(e, now);
                    }
                }
                self.shared.status_mut(|s| s.now_playing = None);
                self.shared.heartbeat_now.notify_one();
                if let (Origin::Urgent(id), EndReason::Finished) = (&a.planned.origin, &reason) {
                    if self.is_last_airing(id, &key) {
                        self.shared.ack(
                            id,
                            UrgentAck {
                                state: UrgentState::Played,
                                at: now,
                                reason: None,
                            },
                        );
                    }
                }
            }
        }
    }

    fn is_last_airing(&self, id: &str, key: &str) -> bool {
        let inputs = self.shared.inputs.borrow();
        let notices =
            planner::active_urgent(inputs.doc.as_deref(), &inputs.pushed, &inputs.cancelled);
        notices
            .iter()
            .find(|n| n.id == id)
            .and_then(|n| n.airings().last().map(|t| occurrence_key(id, *t) == key))
            .unwrap_or(true)
    }
}

/// The entries of a programme's parts once it stopped after `aired` output frames: parts
/// wholly aired are `played`, the one cut is `interrupted` (with `why`), those never
/// reached `skipped`, those that could not be decoded `failed`. Part *n* starts where the
/// parts before it ended (they are aired back to back).
fn part_entries(
    planned: &Planned,
    decoded: &[decode::PartDecoded],
    started_at: DateTime<Utc>,
    aired: u64,
    rate: u64,
    why: Option<String>,
) -> Vec<LogEntry> {
    let ms = |frames: u64| frames * 1000 / rate.max(1);
    let mut out = Vec::with_capacity(planned.parts().len());
    let mut offset = 0u64;
    for i in 0..planned.parts().len() {
        let d = decoded.get(i);
        if let Some(err) = d.and_then(|d| d.error.clone()) {
            out.push(planned.part_entry(i, PlayStatus::Failed, Some(err)));
            continue;
        }
        let frames = d.map(|d| d.frames);
        let entry = match frames {
            Some(f) if offset + f <= aired => {
                let mut e = planned.part_entry(i, PlayStatus::Played, None);
                e.played_ms = ms(f);
                Some(e)
            }
            _ if offset < aired => {
                let mut e = planned.part_entry(i, PlayStatus::Interrupted, why.clone());
                e.played_ms = ms(aired - offset);
                Some(e)
            }
            _ => None,
        };
        match entry {
            Some(mut e) => {
                e.started_at = Some(started_at + CDuration::milliseconds(ms(offset) as i64));
                e.ended_at = e
                    .started_at
                    .map(|s| s + CDuration::milliseconds(e.played_ms as i64));
                out.push(e);
            }
            None => out.push(planned.part_entry(
                i,
                PlayStatus::Skipped,
                Some(format!(
                    "the programme stopped before this part{}",
                    why.as_deref().map(|w| format!(": {w}")).unwrap_or_default()
                )),
            )),
        }
        offset += frames.unwrap_or(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::PartDecoded;
    use crate::planner::Part;
    use chrono::TimeZone;
    use schedules::{Item, Priority, Sha256};

    fn programme() -> Planned {
        let sha = |c: char| Sha256::parse(&c.to_string().repeat(64)).unwrap();
        let part = |c: char, ms: u64| Part {
            title: format!("part {c}"),
            media: sha(c),
            gain_db: 0.0,
            duration_ms: ms,
        };
        Planned {
            item: Item {
                key: "p@1".into(),
                scheduled_at: Utc.with_ymd_and_hms(2026, 12, 1, 5, 30, 0).unwrap(),
                duration_ms: 3000,
                priority: Priority::Normal,
                max_wait_ms: 60_000,
            },
            origin: Origin::Rule("p".into()),
            title: "Programme".into(),
            category: "thời sự".into(),
            source: Source::Programme {
                lead: sha('a'),
                parts: vec![part('a', 1000), part('b', 1000), part('c', 1000)],
            },
        }
    }

    fn done(frames: u64) -> PartDecoded {
        PartDecoded {
            frames,
            error: None,
        }
    }

    #[test]
    fn a_programme_cut_in_its_second_part_logs_played_interrupted_and_skipped_parts() {
        let p = programme();
        let start = p.item.scheduled_at;
        let decoded = [done(48_000), done(48_000)];
        let why = Some("interrupted by emergency u@1".to_string());
        let e = part_entries(&p, &decoded, start, 72_000, 48_000, why);
        let got: Vec<_> = e
            .iter()
            .map(|e| (e.id.as_str(), e.status, e.played_ms))
            .collect();
        assert_eq!(
            got,
            [
                ("p@1#1", PlayStatus::Played, 1000),
                ("p@1#2", PlayStatus::Interrupted, 500),
                ("p@1#3", PlayStatus::Skipped, 0),
            ]
        );
        assert!(e.iter().all(|e| e.part_of.as_deref() == Some("p@1")));
        assert_eq!(e[1].started_at, Some(start + CDuration::seconds(1)));
        assert_eq!(e[1].reason.as_deref(), Some("interrupted by emergency u@1"));
        assert_eq!(e[0].title, "part a");
        assert_eq!(e[2].planned_ms, Some(1000));
    }

    #[test]
    fn a_part_that_would_not_decode_is_failed_and_the_next_starts_where_the_last_ended() {
        let p = programme();
        let start = p.item.scheduled_at;
        let decoded = [
            done(48_000),
            PartDecoded {
                frames: 0,
                error: Some("not audio".into()),
            },
            done(48_000),
        ];
        let e = part_entries(&p, &decoded, start, 96_000, 48_000, None);
        assert_eq!(e[1].status, PlayStatus::Failed);
        assert_eq!(e[1].reason.as_deref(), Some("not audio"));
        assert_eq!(e[2].status, PlayStatus::Played);
        assert_eq!(e[2].started_at, Some(start + CDuration::seconds(1)));
    }
}
