//! What the core is told ([`Event`]) and what it answers ([`Command`]).

use crate::decode::PartDecoded;
use crate::mixer::EndReason;
use crate::planner::{Plan, Planned};
use chrono::{DateTime, Utc};
use schedules::wire::{LogEntry, NowPlaying, RelayChannel, RelayGap, UrgentAck};
use schedules::Sha256;
use std::collections::HashSet;
use std::time::Instant;

/// What the core is told.
#[derive(Debug)]
pub enum Event<'a> {
    /// The clocks were read: the wall clock `now`, the monotonic `mono`, together.
    Clock {
        /// Wall clock.
        now: DateTime<Utc>,
        /// Monotonic clock, read with it.
        mono: Instant,
    },
    /// A planning pass at `now` over `plan`.
    Tick(Tick<'a>),
    /// The mixer started `key`; its first sample went out at `at`.
    Started {
        /// Occurrence key.
        key: String,
        /// When its first sample went out.
        at: DateTime<Utc>,
    },
    /// The mixer ended `key` (see [`Ended`]).
    Ended(Ended),
    /// How a [`Command::Cue`], [`Command::CueRelay`] or [`Command::ResumeRelay`] went.
    CueDone {
        /// Occurrence key.
        key: String,
        /// What happened.
        outcome: CueOutcome,
        /// When.
        now: DateTime<Utc>,
    },
    /// A [`Command::Uncue`] found the cue still pending and dropped it.
    Uncued {
        /// Occurrence key.
        key: String,
    },
    /// A [`Command::Log`] could not be written (it is decided again on the next tick).
    NotLogged {
        /// The entry's id.
        key: String,
    },
    /// The controller stops.
    Shutdown,
}

/// A planning pass.
pub struct Tick<'a> {
    /// The wall clock.
    pub now: DateTime<Utc>,
    /// The timeline of [`Core::plan_window`].
    pub plan: &'a Plan,
    /// Ids of cancelled urgent notices.
    pub cancelled: &'a HashSet<String>,
    /// The output's error (the sound device is down), if any.
    pub output_error: Option<&'a str>,
    /// Whether the output keeps time precisely now (cue only then).
    pub precise: bool,
    /// Whether the mixer airs something (it may have started a cue the core has not heard
    /// of yet).
    pub mixer_busy: bool,
    /// Whether a media file is at hand (cached, or held in memory from a push).
    pub has_media: &'a dyn Fn(&Sha256) -> bool,
}

impl std::fmt::Debug for Tick<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tick({})", self.now)
    }
}

/// The mixer ended an airing.
#[derive(Debug, Clone)]
pub struct Ended {
    /// Occurrence key.
    pub key: String,
    /// Why.
    pub reason: EndReason,
    /// Output frames it aired, and the output rate.
    pub frames: u64,
    /// Frames per second of the output.
    pub rate: u64,
    /// Of those, frames of silence because its source fell behind.
    pub underrun_frames: u64,
    /// Its levels, dBFS.
    pub rms_dbfs: Option<f32>,
    /// Its peak, dBFS.
    pub peak_dbfs: Option<f32>,
    /// A programme's parts as its decoder finished them.
    pub parts: Option<Vec<PartDecoded>>,
    /// A relay segment's gaps, finished at [`Core::gaps_end`].
    pub gaps: Vec<RelayGap>,
    /// For an urgent notice: whether this was its last airing (no repeat to come).
    pub last_airing: bool,
    /// When the shell heard of it.
    pub now: DateTime<Utc>,
}

/// How a cue went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CueOutcome {
    /// It is on the mixer.
    Cued,
    /// It could not be (the output has not produced its first block): decided again on
    /// the next tick.
    NotYet,
    /// It cannot air, for this reason.
    Failed(String),
}

/// What the shell carries out.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Write this outcome to the journal and upload it; an urgent notice's `failed`,
    /// `missed` or `skipped` entry, once written, is acknowledged `failed`.
    Log(LogEntry),
    /// Decode and cue this occurrence: at its instant, or at once (`None`).
    Cue {
        /// The occurrence.
        planned: Planned,
        /// Its instant, or at once.
        start: Option<DateTime<Utc>>,
    },
    /// Connect to this relay's channel and cue it for `from .. until`.
    CueRelay {
        /// The occurrence.
        planned: Planned,
        /// Its channel.
        channel: RelayChannel,
        /// Its instant, or at once.
        start: Option<DateTime<Utc>>,
        /// From when the channel airs.
        from: DateTime<Utc>,
        /// Its window's end.
        until: DateTime<Utc>,
        /// A gap open from its start (a restart), with its reason.
        open: Option<(DateTime<Utc>, String)>,
    },
    /// Connect again to a relay an emergency cut, and cue it at once until `until`.
    ResumeRelay {
        /// The occurrence.
        planned: Planned,
        /// Its channel.
        channel: RelayChannel,
        /// Its window's end.
        until: DateTime<Utc>,
        /// The gap the cut opened.
        open: Option<(DateTime<Utc>, String)>,
    },
    /// Take a pending cue back.
    Uncue(String),
    /// Stop this airing now, for this reason.
    Stop {
        /// Occurrence key.
        key: String,
        /// Why.
        reason: String,
    },
    /// Journal the start durably (the entry as crash recovery would log it).
    JournalStart(LogEntry),
    /// What airs now (tell the server at once).
    NowPlaying(Option<NowPlaying>),
    /// Acknowledge an urgent notice's state.
    Ack {
        /// The notice.
        id: String,
        /// Its state.
        ack: UrgentAck,
    },
    /// An urgent notice started: the reports held back for it may go.
    UrgentStarted,
    /// The wall clock jumped: map the output's frames to the new time.
    Reanchor,
    /// The sound card must (or need not) keep time precisely from now on.
    Precision(bool),
    /// A line for the operator's log.
    Say(Level, String),
}

/// How loud a [`Command::Say`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Worth knowing.
    Info,
    /// Something is off.
    Warn,
    /// Something failed.
    Error,
}
