//! The player's core, pure: what becomes of every occurrence, as a function of its state,
//! an event and the instant the event carries. No threads, no I/O, no clock reads: the
//! shell ([`super::Player`]) reads the clocks, plans, and carries the [`Command`]s out on
//! the mixer, the journal and the network, telling the core how each cue went.
//!
//! The rules (each a row of the tables in `core_tests.rs`):
//! - an occurrence the timeline `skipped` is logged `skipped` with its reason once due;
//! - one starting within [`LOOKAHEAD`] is cued at its exact instant;
//! - one whose start passed by more than [`LATE`] but is within its wait bound (an urgent
//!   notice that just arrived, a bulletin due while the controller booted, one a clock jump
//!   passed over) is cued to start at once;
//! - past its wait bound and never aired: `failed` if it was waiting for its media, else
//!   `missed` (the controller was not running);
//! - media not cached: it waits (until due, or within its bound for at most [`MEDIA_WAIT`]),
//!   then `failed`; the sound device down: `failed` when due; undecodable: `failed`;
//! - started: journalled, shown as now playing, an urgent notice acknowledged `playing`;
//! - ended: `played` or `interrupted` (by an emergency, a stop, the controller stopping),
//!   a programme's parts each `played`, `interrupted`, `skipped` or `failed`, an urgent
//!   notice acknowledged `played` after its last airing;
//! - a relay: one entry when its window closes, its gaps counted; cut by an emergency it
//!   resumes after, and one the controller stopped while it aired is joined again;
//! - the clock jumped: cued occurrences are taken back and cued again at the new time;
//!   nothing handled plays again;
//! - a cancelled notice airing stops; cued occurrences the plan dropped are taken back;
//! - the sound card runs precisely only when something airs, is cued, or starts within
//!   [`PRECISE_AHEAD`] (and [`PRECISE_HOLD`] after).
//!
//! Outcomes are decided by this state, never by what was written to the log.
//!
//! `events.rs` holds what the core is told and answers, `relays.rs` the relay rules,
//! `entries.rs` the entries of an ended airing (a programme's parts). About 600 lines
//! remain: one state and the rules that read and change it.

mod entries;
mod events;
mod relays;

pub use self::entries::part_entries;
use self::entries::why_ended;
pub use self::events::{Command, CueOutcome, Ended, Event, Level, Tick};
use crate::mixer::EndReason;
use crate::planner::{self, Origin, Planned, Source};
use chrono::{DateTime, Duration as CDuration, Utc};
use schedules::wire::{LogEntry, NowPlaying, RelayChannel, RelayGap, UrgentAck, UrgentState};
use schedules::PlayStatus;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// Why what airs when the controller stops cleanly is logged `interrupted`.
pub const STOPPED: &str = "the controller was stopped";
/// How far ahead an occurrence is decoded and cued.
pub const LOOKAHEAD: CDuration = CDuration::seconds(5);
/// A start this late is "late": played at once if still within its wait bound.
pub const LATE: CDuration = CDuration::seconds(1);
/// How far back the regular plan looks.
pub const LOOKBACK: CDuration = CDuration::hours(6);
/// How far back the first plan after boot may look (occurrences missed while down).
pub const CATCH_UP: CDuration = CDuration::days(7);
/// How far ahead the plan looks.
pub const HORIZON: CDuration = CDuration::hours(24);
/// How long a due occurrence waits for its media to arrive before it is logged `failed`.
pub const MEDIA_WAIT: CDuration = CDuration::seconds(60);
/// The wall clock moving this much more or less than the monotonic clock between two
/// ticks is a jump (an NTP step, a wrong RTC at boot, an operator setting the time).
pub const CLOCK_JUMP: CDuration = CDuration::seconds(2);
/// How long before a start the sound card runs precisely (its short period): the switch
/// is done before the occurrence is cued ([`LOOKAHEAD`]).
pub const PRECISE_AHEAD: CDuration = CDuration::seconds(10);
/// How long the card stays precise after the last airing: the end of its audio is still in
/// the card's buffer, and a next item may follow.
pub const PRECISE_HOLD: CDuration = CDuration::seconds(3);

/// What airs.
#[derive(Debug, Clone)]
struct Airing {
    planned: Planned,
    started_at: DateTime<Utc>,
}

/// A relay whose window is open: what it has aired so far, across the segments an
/// emergency cut it into.
#[derive(Debug, Clone)]
struct OpenRelay {
    planned: Planned,
    channel: RelayChannel,
    started_at: DateTime<Utc>,
    until: DateTime<Utc>,
    played_ms: u64,
    gaps: Vec<RelayGap>,
    /// Cut by an emergency at this instant, for this reason: to be resumed.
    cut: Option<(DateTime<Utc>, String)>,
    rms_dbfs: Option<f32>,
    peak_dbfs: Option<f32>,
}

/// A relay the controller stopped while it aired: when it was due, when the controller
/// stopped, and the reason of the gap the restart made.
#[derive(Debug, Clone)]
struct Rejoin {
    due: DateTime<Utc>,
    stopped: DateTime<Utc>,
    reason: String,
}

/// A cue asked of the shell, until it says how it went.
#[derive(Debug, Clone)]
enum Asked {
    Cue(Planned),
    Relay(OpenRelay),
    Resume(Planned),
}

/// The player's state and rules.
#[derive(Debug)]
pub struct Core {
    /// Occurrences due before it are none of our business.
    floor: DateTime<Utc>,
    first_pass: bool,
    /// Occurrences handled: logged, or started.
    known: HashSet<String>,
    /// Cued on the mixer, not started yet.
    cued: HashMap<String, Planned>,
    /// Cues asked of the shell.
    asked: HashMap<String, Asked>,
    airing: Option<Airing>,
    relays: HashMap<String, OpenRelay>,
    rejoin: HashMap<String, Rejoin>,
    /// Occurrences that came due waiting for their media: past their bound, `failed`.
    waiting_media: HashSet<String>,
    /// Occurrences said to start late (said once).
    said_late: HashSet<String>,
    last_clock: Option<(Instant, DateTime<Utc>)>,
    /// The card stays precise until then.
    busy_until: Option<DateTime<Utc>>,
    precise_wanted: Option<bool>,
}

impl Core {
    /// A core. `floor`: occurrences due before it are none of our business (the last
    /// instant the previous run accounted for, or the first boot); `known`: occurrences the
    /// journal already holds an outcome or a start for.
    pub fn new(floor: DateTime<Utc>, known: HashSet<String>) -> Self {
        Self {
            floor,
            first_pass: true,
            known,
            cued: HashMap::new(),
            asked: HashMap::new(),
            airing: None,
            relays: HashMap::new(),
            rejoin: HashMap::new(),
            waiting_media: HashSet::new(),
            said_late: HashSet::new(),
            last_clock: None,
            busy_until: None,
            precise_wanted: None,
        }
    }

    /// The window to plan at `now`: the first pass after boot looks back [`CATCH_UP`], the
    /// others [`LOOKBACK`], never before the floor, except to a relay to join again.
    pub fn plan_window(&mut self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let back = if self.first_pass { CATCH_UP } else { LOOKBACK };
        self.first_pass = false;
        let mut from = (now - back).max(self.floor).min(now);
        // A relay to join again may have opened its window long before the floor (a
        // window is at most a day long): plan from its start, so that it is in the plan.
        self.rejoin.retain(|_, r| r.due + CDuration::days(1) > now);
        if let Some(due) = self.rejoin.values().map(|r| r.due).min() {
            from = from.min(due);
        }
        (from, now + HORIZON)
    }

    /// When the gaps of relay `key`'s segment that ended for `reason` end: its window's
    /// end if it ran to it, else `now`. `None` for anything but a relay.
    pub fn gaps_end(
        &self,
        key: &str,
        reason: &EndReason,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let r = self.relays.get(key)?;
        Some(if *reason == EndReason::Finished {
            r.until
        } else {
            now
        })
    }

    /// What airs now, if the core knows.
    pub fn airing(&self) -> Option<&Planned> {
        self.airing.as_ref().map(|a| &a.planned)
    }

    /// Handle one event.
    pub fn handle(&mut self, event: Event<'_>) -> Vec<Command> {
        let mut out = Vec::new();
        match event {
            Event::Clock { now, mono } => self.clock(now, mono, &mut out),
            Event::Tick(t) => self.tick(&t, &mut out),
            Event::Started { key, at } => self.started(key, at, &mut out),
            Event::Ended(e) => self.ended(e, &mut out),
            Event::CueDone { key, outcome, now } => self.cue_done(key, outcome, now, &mut out),
            Event::Uncued { key } => {
                self.cued.remove(&key);
            }
            Event::NotLogged { key } => {
                self.known.remove(&key);
            }
            Event::Shutdown => {
                if let Some(a) = &self.airing {
                    out.push(Command::Stop {
                        key: a.planned.item.key.clone(),
                        reason: STOPPED.into(),
                    });
                }
            }
        }
        out
    }

    /// The wall clock moving by more than [`CLOCK_JUMP`] against the monotonic one is a
    /// jump. What was handled stays handled (its key is known, so nothing plays twice after
    /// a jump back); what is cued but not started is taken back and cued again at the frame
    /// the new time gives; what a jump forward passed over starts late within its wait
    /// bound, else is logged `missed`.
    fn clock(&mut self, now: DateTime<Utc>, mono: Instant, out: &mut Vec<Command>) {
        if let Some((then_mono, then)) = self.last_clock {
            let elapsed =
                CDuration::from_std(mono.saturating_duration_since(then_mono)).unwrap_or_default();
            let jump = (now - then) - elapsed;
            if jump.abs() >= CLOCK_JUMP {
                let way = if jump > CDuration::zero() {
                    "forward"
                } else {
                    "back"
                };
                out.push(Command::Say(
                    Level::Warn,
                    format!(
                        "the clock jumped {way} by {:.1} s (now {now}); re-anchoring the output, \
                         nothing already handled will play again (check NTP and the RTC)",
                        jump.num_milliseconds().abs() as f64 / 1000.0
                    ),
                ));
                out.push(Command::Reanchor);
                let mut cued: Vec<&String> = self.cued.keys().collect();
                cued.sort();
                out.extend(cued.into_iter().map(|k| Command::Uncue(k.clone())));
            }
        }
        self.last_clock = Some((mono, now));
    }

    fn tick(&mut self, t: &Tick<'_>, out: &mut Vec<Command>) {
        let now = t.now;
        // What is handled needs no note of its waits any more.
        let known = &self.known;
        self.waiting_media.retain(|k| !known.contains(k));
        self.said_late.retain(|k| !known.contains(k));
        // Cancelled notice airing now: stop it.
        if let Some(a) = &self.airing {
            if let Origin::Urgent(id) = &a.planned.origin {
                if t.cancelled.contains(id) {
                    out.push(Command::Stop {
                        key: a.planned.item.key.clone(),
                        reason: "cancelled".into(),
                    });
                }
            }
        }
        // The sound device died mid-airing: cut it, say why.
        if let (Some(a), Some(err)) = (&self.airing, t.output_error) {
            out.push(Command::Stop {
                key: a.planned.item.key.clone(),
                reason: err.to_string(),
            });
        }
        // Cued occurrences the plan no longer airs (rule removed, notice cancelled, now skipped).
        let live: HashSet<&str> = t
            .plan
            .slots
            .iter()
            .filter(|s| s.status != PlayStatus::Skipped)
            .map(|s| s.item.key.as_str())
            .collect();
        let mut gone: Vec<&String> = self
            .cued
            .keys()
            .filter(|k| !live.contains(planner::rejoined_from(k).unwrap_or(k)))
            .collect();
        gone.sort();
        out.extend(gone.into_iter().map(|k| Command::Uncue(k.clone())));
        self.want_precision(t, out);
        self.resume_relays(t, out);
        for slot in &t.plan.slots {
            let key = &slot.item.key;
            if self.known.contains(key) && slot.status != PlayStatus::Skipped && t.precise {
                if let Some(r) = self.rejoin.remove(key) {
                    if let Some(planned) = t.plan.planned.get(key) {
                        self.rejoin_relay(planned, r, t, out);
                    }
                }
            }
            if slot.item.scheduled_at < self.floor
                || self.known.contains(key)
                || self.cued.contains_key(key)
                || self.asked.contains_key(key)
                || self
                    .airing
                    .as_ref()
                    .is_some_and(|a| &a.planned.item.key == key)
            {
                continue;
            }
            let Some(planned) = t.plan.planned.get(key) else {
                continue;
            };
            let wait_bound =
                slot.item.scheduled_at + CDuration::milliseconds(slot.item.max_wait_ms as i64);
            if slot.status == PlayStatus::Skipped {
                if slot.item.scheduled_at <= now {
                    self.log(
                        planned.log_entry(PlayStatus::Skipped, slot.reason.clone()),
                        out,
                    );
                }
                continue;
            }
            let start = slot.starts_at.unwrap_or(slot.item.scheduled_at);
            if start > now + LOOKAHEAD {
                continue;
            }
            if start >= now - LATE {
                self.cue(planned, Some(start), t, out);
            } else if now < wait_bound {
                if self.said_late.insert(key.clone()) {
                    out.push(Command::Say(
                        Level::Warn,
                        format!("{key}: starting {} s late", (now - start).num_seconds()),
                    ));
                }
                self.cue(planned, None, t, out);
            } else if self.waiting_media.contains(key) {
                let reason = format!(
                    "media {} did not reach the local cache in time",
                    planned.source.media().map(|m| m.as_str()).unwrap_or("?")
                );
                self.log(planned.log_entry(PlayStatus::Failed, Some(reason)), out);
            } else {
                let entry = planned.log_entry(
                    PlayStatus::Missed,
                    Some("its time passed while the controller was not running".into()),
                );
                self.log(entry, out);
            }
        }
    }

    /// Whether the sound card must keep time precisely: something airs or is cued, did
    /// until [`PRECISE_HOLD`] ago, or the next start the player may still cue is within
    /// [`PRECISE_AHEAD`]. Said when it changes.
    fn want_precision(&mut self, t: &Tick<'_>, out: &mut Vec<Command>) {
        let now = t.now;
        let busy = self.airing.is_some()
            || !self.cued.is_empty()
            || !self.asked.is_empty()
            || self.relays.values().any(|r| r.cut.is_some())
            || t.mixer_busy;
        if busy {
            self.busy_until = Some(now + PRECISE_HOLD);
        }
        let next_start = t
            .plan
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
        let wanted = precision_needed(now, busy, self.busy_until, next_start);
        if self.precise_wanted != Some(wanted) {
            self.precise_wanted = Some(wanted);
            out.push(Command::Precision(wanted));
        }
    }

    fn cue(
        &mut self,
        planned: &Planned,
        start: Option<DateTime<Utc>>,
        t: &Tick<'_>,
        out: &mut Vec<Command>,
    ) {
        let now = t.now;
        let key = &planned.item.key;
        if let Some(err) = t.output_error {
            // Failed when it comes due with the device still down (not before: it may return).
            if start.is_none_or(|s| s <= now) {
                self.log(planned.log_entry(PlayStatus::Failed, Some(err.into())), out);
            }
            return;
        }
        if let Source::Relay(channel) = &planned.source {
            return self.cue_relay(planned, channel.clone(), start, t, None, out);
        }
        if let Some(missing) = planned.all_media().into_iter().find(|m| !(t.has_media)(m)) {
            // The cache may be fetching it right now (an urgent notice with new media):
            // wait for it until the occurrence is due, or while it may still start late.
            let bound = planned.item.scheduled_at
                + CDuration::milliseconds(planned.item.max_wait_ms as i64);
            let due = start.unwrap_or(now);
            if now < due || now < bound.min(due + MEDIA_WAIT) {
                if self.waiting_media.insert(key.clone()) {
                    out.push(Command::Say(
                        Level::Warn,
                        format!("{key}: media {missing} not cached yet; waiting for it"),
                    ));
                }
                return;
            }
            let reason = format!("media {missing} is not in the local cache");
            out.push(Command::Say(Level::Error, format!("{key}: {reason}")));
            self.log(planned.log_entry(PlayStatus::Failed, Some(reason)), out);
            return;
        }
        if !t.precise {
            return; // the card is switching to its short period: cued on a later tick
        }
        out.push(Command::Cue {
            planned: planned.clone(),
            start,
        });
        self.asked.insert(key.clone(), Asked::Cue(planned.clone()));
    }

    fn cue_done(
        &mut self,
        key: String,
        outcome: CueOutcome,
        now: DateTime<Utc>,
        out: &mut Vec<Command>,
    ) {
        let Some(asked) = self.asked.remove(&key) else {
            return;
        };
        match (asked, outcome) {
            (_, CueOutcome::NotYet) => {}
            (Asked::Cue(planned), CueOutcome::Cued) => {
                self.waiting_media.remove(&key);
                self.said_late.remove(&key);
                self.cued.insert(key, planned);
            }
            (Asked::Relay(r), CueOutcome::Cued) => {
                self.cued.insert(key.clone(), r.planned.clone());
                self.relays.insert(key, r);
            }
            (Asked::Resume(planned), CueOutcome::Cued) => {
                if let Some(r) = self.relays.get_mut(&key) {
                    r.cut = None;
                }
                out.push(Command::Say(Level::Info, format!("{key}: relay resumes")));
                self.cued.insert(key, planned);
            }
            (Asked::Cue(planned), CueOutcome::Failed(reason))
            | (Asked::Relay(OpenRelay { planned, .. }), CueOutcome::Failed(reason)) => {
                out.push(Command::Say(Level::Error, format!("{key}: {reason}")));
                self.log(planned.log_entry(PlayStatus::Failed, Some(reason)), out);
            }
            (Asked::Resume(_), CueOutcome::Failed(reason)) => {
                // Tried again on the next tick while the window is open.
                let _ = now;
                out.push(Command::Say(
                    Level::Error,
                    format!("{key}: cannot resume the relay: {reason}"),
                ));
            }
        }
    }

    fn started(&mut self, key: String, at: DateTime<Utc>, out: &mut Vec<Command>) {
        let Some(planned) = self.cued.remove(&key) else {
            return;
        };
        let now_playing = NowPlaying {
            key: key.clone(),
            title: planned.title.clone(),
            priority: planned.item.priority,
            started_at: at,
        };
        if let Some(r) = self.relays.get_mut(&key) {
            if self.known.contains(&key) {
                // A relay resuming after an emergency: same occurrence, same log entry.
                let first = r.started_at;
                out.push(Command::NowPlaying(Some(now_playing)));
                self.airing = Some(Airing {
                    planned,
                    started_at: first,
                });
                return;
            }
            r.started_at = at;
        }
        let mut template = planned.log_entry(PlayStatus::Interrupted, None);
        template.started_at = Some(at);
        out.push(Command::JournalStart(template));
        let late_ms = (at - planned.item.scheduled_at).num_milliseconds();
        out.push(Command::Say(
            Level::Info,
            format!(
                "{key}: airing {:?}, {late_ms} ms after its instant",
                planned.title
            ),
        ));
        self.known.insert(key);
        // The dashboard shows what airs: tell the server now, not at the next beat.
        out.push(Command::NowPlaying(Some(now_playing)));
        if let Origin::Urgent(id) = &planned.origin {
            out.push(Command::UrgentStarted);
            out.push(Command::Ack {
                id: id.clone(),
                ack: UrgentAck {
                    state: UrgentState::Playing,
                    at,
                    reason: None,
                },
            });
        }
        self.airing = Some(Airing {
            planned,
            started_at: at,
        });
    }

    fn ended(&mut self, e: Ended, out: &mut Vec<Command>) {
        let Some(a) = self.airing.take_if(|a| a.planned.item.key == e.key) else {
            return;
        };
        let now = e.now;
        self.busy_until = Some(now + PRECISE_HOLD);
        let rate = e.rate.max(1);
        let played_ms = e.frames * 1000 / rate;
        if self.relays.contains_key(&e.key) {
            // Silence while the stream was down is not relayed airtime.
            let aired = e.frames.saturating_sub(e.underrun_frames) * 1000 / rate;
            self.relay_segment_ended(&e, aired, out);
            out.push(Command::NowPlaying(None));
            return;
        }
        let why = why_ended(&e.reason);
        let status = match e.reason {
            EndReason::Finished => PlayStatus::Played,
            _ => PlayStatus::Interrupted,
        };
        if e.underrun_frames > 0 {
            out.push(Command::Say(
                Level::Warn,
                format!(
                    "{}: decoder fell behind: {} ms of silence inserted",
                    e.key,
                    e.underrun_frames * 1000 / rate
                ),
            ));
        }
        let mut entry = a.planned.log_entry(status, why.clone());
        entry.started_at = Some(a.started_at);
        entry.ended_at = Some(a.started_at + CDuration::milliseconds(played_ms as i64));
        entry.played_ms = played_ms;
        entry.rms_dbfs = e.rms_dbfs;
        entry.peak_dbfs = e.peak_dbfs;
        self.log(entry, out);
        if let Some(decoded) = &e.parts {
            for p in part_entries(&a.planned, decoded, a.started_at, e.frames, rate, why) {
                self.log(p, out);
            }
        }
        out.push(Command::NowPlaying(None));
        if let (Origin::Urgent(id), EndReason::Finished, true) =
            (&a.planned.origin, &e.reason, e.last_airing)
        {
            out.push(Command::Ack {
                id: id.clone(),
                ack: UrgentAck {
                    state: UrgentState::Played,
                    at: now,
                    reason: None,
                },
            });
        }
    }

    /// An outcome: the occurrence is handled from now on (unless the journal refuses it:
    /// [`Event::NotLogged`], and it is decided again from the same state).
    fn log(&mut self, entry: LogEntry, out: &mut Vec<Command>) {
        self.known.insert(entry.id.clone());
        out.push(Command::Log(entry));
    }
}

/// Whether the sound card must keep time precisely at `now`: something airs or is cued
/// (`busy`), did until `busy_until`, or the next start the player may still cue
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

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
