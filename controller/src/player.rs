//! The player: a thin shell that carries the core's decisions out on the mixer, the
//! journal and the network. What becomes of every occurrence is decided by
//! [`core::Core`], a pure function of its state and an event (its module says the rules);
//! this file reads the clocks, plans, and executes the [`core::Command`]s, telling the core
//! how each cue went.
//!
//! Each tick (every 200 ms, and at once when the inputs change, media arrives or the card
//! has switched to its short period) it plans `[now - 6 h, now + 24 h]` (re-planned every
//! second) and hands the plan to the core. Mixer events (`Started`, `Ended`) go to the
//! core as they come. Besides, the shell journals progress every 2 s, writes the horizon
//! every 30 s, re-anchors the output every 30 s and applies the master volume.

pub mod core;
mod io;

use self::core::{Command, Core, CueOutcome, Ended, Event, Level, Tick};
use self::io::Io;
use crate::cache::{self, Db};
use crate::decode::{self, PartsDecoded};
use crate::mixer::{Cue, Mixer, MixerEvent};
use crate::planner::{self, Planned, Source};
use crate::precision::Precision;
use crate::relay::{self, Relayer};
use crate::shared::Shared;
use chrono::{DateTime, Utc};
use schedules::wire::{LogEntry, RelayChannel};
use schedules::{Clock, Sha256};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

pub use self::core::{LOOKAHEAD, STOPPED};

/// How often the timeline is recomputed when nothing changed (well under [`LOOKAHEAD`]).
const REPLAN_EVERY: Duration = Duration::from_secs(1);
/// How often progress is journalled while airing.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);
/// How often the horizon (the controller was running until here) is written. A restart
/// looks back 10 minutes before it, so 30 s is plenty, and it is one disk sync fewer
/// every 5 s on an SD card.
const HORIZON_EVERY: Duration = Duration::from_secs(30);
/// How often the output's frames are mapped to the wall clock again.
const ANCHOR_EVERY: Duration = Duration::from_secs(30);

/// The shell. The core owns the decisions; the mixer owns the samples; this owns the
/// handles between them.
pub struct Player {
    core: Core,
    io: Io,
    /// A programme's decoder outcome, by key, while it is cued or airs.
    parts: HashMap<String, PartsDecoded>,
    /// A relay segment's gaps as its thread records them, by key.
    gaps: HashMap<String, relay::Gaps>,
    plan: Arc<planner::Plan>,
    plan_at: Option<Instant>,
    last_progress: Instant,
    last_anchor: Instant,
    last_horizon: Instant,
    /// Plan errors said already.
    said: HashSet<String>,
    last_output_error: Option<String>,
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
            .with(|c| cache::known_keys(c, floor - core::CATCH_UP - chrono::Duration::days(1)))
            .unwrap_or_default();
        let now = Instant::now();
        Self {
            core: Core::new(floor, known),
            io: Io {
                db,
                mixer,
                relayer: Relayer::new(clock.clone()),
                clock,
                media_dir,
                shared,
                output_error,
                precision,
            },
            parts: HashMap::new(),
            gaps: HashMap::new(),
            plan: Arc::default(),
            plan_at: None,
            last_progress: now,
            last_anchor: now,
            last_horizon: now - Duration::from_secs(60),
            said: HashSet::new(),
            last_output_error: None,
        }
    }

    /// Relays the previous run was airing when it ended (see
    /// [`Core::rejoin_after_restart`]): `recovered` are the entries boot-time recovery just
    /// logged `interrupted` ([`cache::recover_interrupted`]).
    pub fn rejoin_after_restart(&mut self, recovered: &[LogEntry]) {
        let now = self.io.clock.now();
        let done = self
            .io
            .db
            .with(|c| cache::done_since(c, now - chrono::Duration::days(1)))
            .unwrap_or_else(|e| {
                tracing::error!("cannot read the play journal: {e}");
                Vec::new()
            });
        self.core.rejoin_after_restart(done, recovered, now);
    }

    /// Run until `shutdown`; then stop what airs (logged `interrupted`, reason [`STOPPED`]).
    pub async fn run(
        mut self,
        mut events: UnboundedReceiver<MixerEvent>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let mut inputs = self.io.shared.inputs.subscribe();
        let shared = self.io.shared.clone();
        let precision = self.io.precision.clone();
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
        let cmds = self.core.handle(Event::Shutdown);
        self.execute(cmds);
        while let Ok(ev) = events.try_recv() {
            self.on_event(ev);
        }
        self.io.write_horizon(self.io.clock.now());
    }

    /// One planning pass.
    pub fn tick(&mut self) {
        let now = self.io.clock.now();
        let mono = Instant::now();
        let cmds = self.core.handle(Event::Clock { now, mono });
        if cmds.iter().any(|c| matches!(c, Command::Reanchor)) {
            self.io.mixer.set_base(mono, now);
            self.last_anchor = mono;
            self.plan_at = None;
        }
        self.execute(cmds);
        if self.last_anchor.elapsed() >= ANCHOR_EVERY {
            self.last_anchor = Instant::now();
            self.io.mixer.set_base(self.last_anchor, now);
        }
        if self.last_horizon.elapsed() >= HORIZON_EVERY {
            self.last_horizon = Instant::now();
            self.io.write_horizon(now);
        }
        self.journal_progress();
        let inputs = self.io.shared.inputs.borrow().clone();
        let scheduled = inputs.doc.as_deref().map_or(100, |d| {
            schedules::volume::volume_at(&d.volume_schedule, d.tz(), now)
        });
        self.io.mixer.set_gain(crate::remote::gain(
            self.io.shared.master_volume(),
            scheduled,
        ));
        // Re-plan when the inputs change and every second (the plan is cheap, but a station
        // with minutely rules has ~1800 occurrences in the window).
        if self.plan_at.is_none_or(|t| t.elapsed() >= REPLAN_EVERY) {
            let (from, to) = self.core.plan_window(now);
            self.plan = Arc::new(planner::plan(
                inputs.doc.as_deref(),
                &inputs.pushed,
                &inputs.cancelled,
                from,
                to,
            ));
            self.plan_at = Some(Instant::now());
        }
        let plan = self.plan.clone();
        for e in &plan.errors {
            if self.said.insert(e.clone()) {
                tracing::error!("cannot read schedule {e}");
            }
        }
        let output_error = self.io.output_error();
        if output_error != self.last_output_error {
            self.last_output_error = output_error.clone();
            self.io.shared.heartbeat_now.notify_one();
        }
        let has_media = |m: &Sha256| self.io.audio(m).is_some();
        let cmds = self.core.handle(Event::Tick(Tick {
            now,
            plan: &plan,
            cancelled: &inputs.cancelled,
            output_error: output_error.as_deref(),
            precise: self.io.precision.is_precise(),
            mixer_busy: self.io.mixer.now_playing().is_some(),
            has_media: &has_media,
        }));
        self.execute(cmds);
    }

    /// Handle one mixer event.
    pub fn on_event(&mut self, ev: MixerEvent) {
        let now = self.io.clock.now();
        let cmds = match ev {
            MixerEvent::Started { key, frame } => {
                let at = self.io.mixer.utc_of_frame(frame).unwrap_or(now);
                self.core.handle(Event::Started { key, at })
            }
            MixerEvent::Ended {
                key,
                reason,
                frames,
                rms_dbfs,
                peak_dbfs,
                underrun_frames,
            } => {
                let Some(airing) = self.core.airing() else {
                    return;
                };
                if airing.item.key != key {
                    return;
                }
                let last_airing = match &airing.origin {
                    planner::Origin::Urgent(id) => self.io.is_last_airing(id, &key),
                    planner::Origin::Rule(_) => false,
                };
                let parts = self
                    .parts
                    .remove(&key)
                    .map(|p| p.lock().unwrap_or_else(|e| e.into_inner()).clone());
                let gaps = match (
                    self.core.gaps_end(&key, &reason, now),
                    self.gaps.remove(&key),
                ) {
                    (Some(at), Some(live)) => live.finish(at),
                    _ => Vec::new(),
                };
                self.core.handle(Event::Ended(Ended {
                    key,
                    reason,
                    frames,
                    rate: u64::from(self.io.mixer.format().rate.max(1)),
                    underrun_frames,
                    rms_dbfs,
                    peak_dbfs,
                    parts,
                    gaps,
                    last_airing,
                    now,
                }))
            }
        };
        self.execute(cmds);
    }

    /// Carry out `cmds` in order, and what the core answers to how they went.
    fn execute(&mut self, cmds: Vec<Command>) {
        let mut queue: std::collections::VecDeque<Command> = cmds.into();
        while let Some(cmd) = queue.pop_front() {
            let now = self.io.clock.now();
            let follow = match cmd {
                Command::Log(entry) => {
                    let key = entry.id.clone();
                    if self.io.log(&entry, now) {
                        continue;
                    }
                    self.core.handle(Event::NotLogged { key })
                }
                Command::Cue { planned, start } => {
                    let key = planned.item.key.clone();
                    let outcome = self.cue(&planned, start);
                    self.core.handle(Event::CueDone { key, outcome, now })
                }
                Command::CueRelay {
                    planned,
                    channel,
                    start,
                    from,
                    until,
                    open,
                } => {
                    let key = planned.item.key.clone();
                    let outcome = self.cue_relay(&planned, channel, start, from, until, open);
                    self.core.handle(Event::CueDone { key, outcome, now })
                }
                Command::ResumeRelay {
                    planned,
                    channel,
                    until,
                    open,
                } => {
                    let key = planned.item.key.clone();
                    let outcome = self.cue_relay(&planned, channel, None, now, until, open);
                    self.core.handle(Event::CueDone { key, outcome, now })
                }
                Command::Uncue(key) => {
                    if !self.io.mixer.uncue(&key) {
                        continue;
                    }
                    self.parts.remove(&key);
                    self.gaps.remove(&key);
                    self.core.handle(Event::Uncued { key })
                }
                Command::Stop { key, reason } => {
                    self.io.mixer.stop(&key, &reason);
                    continue;
                }
                Command::JournalStart(template) => {
                    if let Err(e) = self.io.db.with(|c| cache::play_started(c, &template)) {
                        tracing::error!(key = %template.id, "cannot journal the start: {e}");
                    }
                    self.last_progress = Instant::now();
                    continue;
                }
                Command::NowPlaying(np) => {
                    self.io.shared.status_mut(|s| s.now_playing = np);
                    self.io.shared.heartbeat_now.notify_one();
                    continue;
                }
                Command::Ack { id, ack } => {
                    self.io.shared.ack(&id, ack);
                    continue;
                }
                Command::UrgentStarted => {
                    self.io.shared.urgent_started();
                    continue;
                }
                Command::Reanchor => continue, // done by `tick`, which read the clocks
                Command::Precision(precise) => {
                    self.io.precision.want(precise);
                    continue;
                }
                Command::Say(level, text) => {
                    match level {
                        Level::Info => tracing::info!("{text}"),
                        Level::Warn => tracing::warn!("{text}"),
                        Level::Error => tracing::error!("{text}"),
                    }
                    continue;
                }
            };
            queue.extend(follow);
        }
    }

    /// Decode `planned` and cue it on the mixer.
    fn cue(&mut self, planned: &Planned, start: Option<DateTime<Utc>>) -> CueOutcome {
        let key = planned.item.key.clone();
        let files: Vec<(Sha256, f32)> = match &planned.source {
            Source::Media { sha256, gain_db } => vec![(sha256.clone(), *gain_db)],
            Source::Programme { parts, .. } => {
                parts.iter().map(|p| (p.media.clone(), p.gain_db)).collect()
            }
            Source::Relay(_) => return CueOutcome::Failed("a relay is not a file".into()),
        };
        let start_frame = match start {
            Some(t) => match self.io.mixer.frame_at(t) {
                Some(f) => f,
                None => return CueOutcome::NotYet, // the output has not produced its first block
            },
            None => 0,
        };
        let sources: Vec<(decode::Audio, f64)> = files
            .iter()
            .map(|(m, g)| {
                // (Gone since the core looked: it fails to open, and is recorded so.)
                let a = self
                    .io
                    .audio(m)
                    .unwrap_or_else(|| decode::Audio::File(self.io.media_dir.join(m.as_str())));
                (a, f64::from(*g))
            })
            .collect();
        match decode::prepare_sequence(sources, self.io.mixer.format(), 5.0) {
            Ok((audio, decoded)) => {
                self.io.mixer.cue(Cue {
                    key: key.clone(),
                    start_frame,
                    at: start,
                    priority: planned.item.priority,
                    audio,
                    until: None,
                });
                tracing::debug!(key = %key, start_frame, "cued");
                if !planned.parts().is_empty() {
                    self.parts.insert(key, decoded);
                }
                CueOutcome::Cued
            }
            Err(e) => {
                let media = planned.source.media().map(|m| m.as_str()).unwrap_or("?");
                CueOutcome::Failed(format!("cannot decode media {media}: {e}"))
            }
        }
    }

    /// Connect to a relay's channel and cue it for `from .. until`.
    fn cue_relay(
        &mut self,
        planned: &Planned,
        channel: RelayChannel,
        start: Option<DateTime<Utc>>,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        open: Option<(DateTime<Utc>, String)>,
    ) -> CueOutcome {
        let key = planned.item.key.clone();
        let start_frame = match start {
            Some(t) => match self.io.mixer.frame_at(t) {
                Some(f) => f,
                None => return CueOutcome::NotYet,
            },
            None => 0,
        };
        match self
            .io
            .relayer
            .start(channel, from, until, self.io.mixer.format(), open)
        {
            Ok(run) => {
                self.io.mixer.cue(Cue {
                    key: key.clone(),
                    start_frame,
                    at: start,
                    priority: planned.item.priority,
                    audio: run.audio,
                    until: Some(until),
                });
                self.gaps.insert(key, run.gaps);
                CueOutcome::Cued
            }
            Err(e) => CueOutcome::Failed(e),
        }
    }

    fn journal_progress(&mut self) {
        if self.last_progress.elapsed() < PROGRESS_EVERY {
            return;
        }
        self.last_progress = Instant::now();
        if let Some((key, frames)) = self.io.mixer.now_playing() {
            let ms = frames * 1000 / self.io.mixer.format().rate.max(1) as u64;
            if let Err(e) = self.io.db.with(|c| cache::play_progress(c, &key, ms)) {
                tracing::error!("cannot journal progress: {e}");
            }
        }
    }
}
