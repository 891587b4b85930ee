//! The wire types the server and the controller exchange.
//!
//! Compatibility rule: fields may be added, never renamed or removed; new fields are
//! `Option` or `#[serde(default)]`, and unknown fields are ignored (no `deny_unknown_fields`),
//! so controllers of an older version keep working against a newer server.
//!
//! Device endpoints (all with `Authorization: Bearer DEVICE_TOKEN`, under `/api/v1`):
//! - `GET /device/schedule` → [`ScheduleDocument`], `ETag: "<version>"`, `If-None-Match` → 304;
//! - `GET /device/events` → server-sent events: `schedule` ([`ScheduleChanged`]),
//!   `urgent` ([`UrgentNotice`]), `cancel` ([`UrgentCancel`]), `command`
//!   ([`crate::remote::RemoteCommand`]); keep-alive comments; `Last-Event-ID`;
//! - `POST /device/logs` [`LogBatch`] → [`LogAck`] (idempotent by entry id);
//! - `POST /device/heartbeat` [`Heartbeat`] → 204 (the `Date` header gives the clock offset);
//! - `POST /device/urgent/{id}/state` [`UrgentAck`] → 204;
//! - `POST /device/commands/{id}/ack` [`crate::remote::CommandAck`] → 204;
//! - `GET /media/{sha256}` → the file (Range, ETag).

use crate::rule::{Rule, When, DEFAULT_MAX_WAIT_MS};
use crate::types::{ParseError, PlayStatus, Priority, Sha256, StationCode};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

fn default_max_wait_ms() -> u64 {
    DEFAULT_MAX_WAIT_MS
}

fn default_repeat() -> u32 {
    1
}

/// Everything a station needs to play on its own: its rules, the media they need and the
/// urgent notices still active for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleDocument {
    /// The station this document is for.
    pub station: StationCode,
    /// The station's name.
    #[serde(default)]
    pub name: String,
    /// IANA time zone the station's rules are read in.
    pub timezone: String,
    /// Changes whenever anything in the document changes (also sent as the ETag).
    pub version: String,
    /// Schedule rules that target this station (approved, not paused).
    #[serde(default)]
    pub rules: Vec<WireRule>,
    /// Every media file the rules and notices refer to.
    #[serde(default)]
    pub media: Vec<MediaEntry>,
    /// Urgent notices for this station that are neither cancelled nor expired.
    #[serde(default)]
    pub urgent: Vec<UrgentNotice>,
    /// Remote commands issued for this station and not acknowledged yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<crate::remote::RemoteCommand>,
    /// The station's volume schedule (local times; empty: always 100 %).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_schedule: Vec<crate::volume::VolumeStep>,
    /// Relays of live channels (a list of their own, so that a controller that does not
    /// know relays ignores them instead of failing on a rule without media).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relays: Vec<WireRelay>,
}

impl ScheduleDocument {
    /// The station's time zone (an unknown name falls back to `Asia/Ho_Chi_Minh`).
    pub fn tz(&self) -> Tz {
        self.timezone.parse().unwrap_or(crate::rule::DEFAULT_TZ)
    }

    /// The manifest entry of a media file.
    pub fn media_entry(&self, sha256: &Sha256) -> Option<&MediaEntry> {
        self.media.iter().find(|m| &m.sha256 == sha256)
    }
}

/// What a bulletin rule and a relay rule share: when they air and how they yield. Both
/// carry it flattened, so the wire format is the one each had with the fields written out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WireSlot {
    /// Category (free text, e.g. "cải cách hành chính").
    #[serde(default)]
    pub category: String,
    /// `normal` or `priority`.
    #[serde(default)]
    pub priority: Priority,
    /// A crontab(5) expression, in the station's time zone (exactly one of `cron`, `at`).
    #[serde(default)]
    pub cron: Option<String>,
    /// A one-off instant (exactly one of `cron`, `at`).
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// First local date (inclusive).
    #[serde(default)]
    pub starts_on: Option<NaiveDate>,
    /// Last local date (inclusive).
    #[serde(default)]
    pub ends_on: Option<NaiveDate>,
    /// Local dates it does not fire on.
    #[serde(default)]
    pub excluded_dates: Vec<NaiveDate>,
    /// How long it may wait behind another item before it is skipped.
    #[serde(default = "default_max_wait_ms")]
    pub max_wait_ms: u64,
}

impl WireSlot {
    /// The rule as the timeline sees it: rule `id`, an item `duration_ms` long, read in `tz`.
    pub fn to_rule(&self, id: &str, duration_ms: u64, tz: Tz) -> Result<Rule, ParseError> {
        let when = match (&self.cron, self.at) {
            (Some(c), None) => When::Cron(c.parse()?),
            (None, Some(at)) => When::At(at),
            _ => {
                return Err(ParseError(format!(
                    "rule {id}: exactly one of cron and at is required"
                )))
            }
        };
        Ok(Rule {
            id: id.to_string(),
            when,
            tz,
            starts_on: self.starts_on,
            ends_on: self.ends_on,
            excluded_dates: self.excluded_dates.clone(),
            priority: self.priority,
            duration_ms,
            max_wait_ms: self.max_wait_ms,
        })
    }
}

/// One schedule rule as sent to controllers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WireRule {
    /// The schedule's id.
    pub id: String,
    /// Title, as logged.
    pub title: String,
    /// When it airs and how it yields (flattened: the fields sit beside `id` on the wire).
    #[serde(flatten)]
    pub slot: WireSlot,
    /// The media it plays.
    pub media_sha256: Sha256,
    /// The media's duration.
    pub duration_ms: u64,
    /// For a programme: its parts in airing order, as of the document's build (the
    /// station's own jingle already filled in, an empty jingle slot left out). Empty for a
    /// single bulletin. A programme rule's `media_sha256` is its first part and its
    /// `duration_ms` the parts' total, so a controller that does not know `items` still
    /// keeps the programme's slot on its timeline and airs its opening.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<WireItem>,
    /// The programme this rule airs, if it airs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub programme_id: Option<String>,
}

/// One part of a programme, as sent to controllers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WireItem {
    /// Title, as logged for this part.
    pub title: String,
    /// The media it plays.
    pub media_sha256: Sha256,
    /// Its duration.
    pub duration_ms: u64,
    /// True for the station's own jingle (filled in for this station).
    #[serde(default)]
    pub jingle: bool,
}

impl WireRule {
    /// The rule as the timeline sees it, read in `tz`.
    pub fn to_rule(&self, tz: Tz) -> Result<Rule, ParseError> {
        self.slot.to_rule(&self.id, self.duration_ms, tz)
    }
}

/// A live channel (tiếp sóng): an HTTP/Icecast stream of MP3, AAC or Ogg.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RelayChannel {
    /// The channel's id.
    pub id: String,
    /// Its name, e.g. "VOV1".
    pub name: String,
    /// `http://` or `https://` stream address.
    pub url: String,
    /// The fixed gain applied to everything relayed from it, dB.
    #[serde(default)]
    pub gain_db: f32,
}

/// A schedule that relays a live channel for a window instead of playing a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WireRelay {
    /// The schedule's id.
    pub id: String,
    /// Title, as logged.
    pub title: String,
    /// When it airs and how it yields (flattened: the fields sit beside `id` on the wire).
    #[serde(flatten)]
    pub slot: WireSlot,
    /// The window's length: the relay airs from each occurrence until this much later.
    pub window_ms: u64,
    /// The channel it relays.
    pub channel: RelayChannel,
}

impl WireRelay {
    /// The rule as the timeline sees it (an item as long as the window), read in `tz`.
    pub fn to_rule(&self, tz: Tz) -> Result<Rule, ParseError> {
        self.slot.to_rule(&self.id, self.window_ms, tz)
    }
}

/// A stretch of a relay's window in which the channel did not air, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RelayGap {
    /// When it began.
    pub from: DateTime<Utc>,
    /// When the channel aired again (or the window closed).
    pub to: DateTime<Utc>,
    /// Why, e.g. "the stream ended", "cannot connect: …", "interrupted by emergency …".
    pub reason: String,
}

/// A media file in a station's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediaEntry {
    /// Content hash, also the download name.
    pub sha256: Sha256,
    /// File size in bytes.
    pub size_bytes: u64,
    /// Exact duration.
    pub duration_ms: u64,
    /// Gain in dB that brings it to the target loudness (applied at playback).
    pub gain_db: f32,
    /// Codec name, e.g. "mp3".
    #[serde(default)]
    pub codec: String,
}

/// An urgent notice: plays at `emergency` priority, `repeat` times, `interval_s` apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UrgentNotice {
    /// The notice's id.
    pub id: String,
    /// Title, as logged.
    pub title: String,
    /// Category, e.g. "phòng chống thiên tai".
    #[serde(default)]
    pub category: String,
    /// The media to play (the chime, if any, is already part of it).
    pub media_sha256: Sha256,
    /// Its duration.
    pub duration_ms: u64,
    /// First airing (the instant the notice was pushed).
    pub starts_at: DateTime<Utc>,
    /// How many times it airs in all (≥ 1).
    #[serde(default = "default_repeat")]
    pub repeat: u32,
    /// Seconds between the starts of two airings.
    #[serde(default)]
    pub interval_s: u64,
    /// No airing starts at or after this instant.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The media's playback gain, dB (as in the manifest). A notice is pushed before the
    /// station's next document lists its new file (a spoken text, a file with the chime),
    /// so it carries its gain itself; without it (an older server) the manifest's is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gain_db: Option<f32>,
}

impl UrgentNotice {
    /// The instants at which this notice airs.
    pub fn airings(&self) -> Vec<DateTime<Utc>> {
        let n = self.repeat.max(1);
        let step = Duration::seconds(self.interval_s.min(i64::MAX as u64 / 1000) as i64);
        (0..n)
            .map(|k| self.starts_at + step * k as i32)
            .filter(|t| self.expires_at.is_none_or(|e| *t < e))
            .collect()
    }
}

/// SSE `urgent`: a notice, and with a short one its audio. A station that finds `audio`
/// checks it against `media_sha256` and plays it without asking for the file: one round
/// trip fewer between the push and the loudspeakers. Without it (a long file, an older
/// server) the station fetches `GET /device/media/{sha256}` as for any media. The audio is
/// never part of the schedule document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UrgentPush {
    /// The notice.
    #[serde(flatten)]
    pub notice: UrgentNotice,
    /// The media file's bytes, base64 (standard alphabet, padded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<String>,
}

/// SSE `schedule`: the station's document changed; fetch it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleChanged {
    /// The new version.
    pub version: String,
}

/// SSE `cancel`: stop this urgent notice now and drop its further airings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UrgentCancel {
    /// The notice's id.
    pub id: String,
}

/// Delivery state of an urgent notice at one station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum UrgentState {
    /// Not yet acknowledged by the station.
    Pending,
    /// The station has it.
    Received,
    /// Airing now.
    Playing,
    /// Aired (every repeat).
    Played,
    /// Could not be aired; see the reason.
    Failed,
    /// Cancelled before it finished.
    Cancelled,
}

impl UrgentState {
    /// The wire/database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            UrgentState::Pending => "pending",
            UrgentState::Received => "received",
            UrgentState::Playing => "playing",
            UrgentState::Played => "played",
            UrgentState::Failed => "failed",
            UrgentState::Cancelled => "cancelled",
        }
    }
}

/// A station's acknowledgement of an urgent notice's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UrgentAck {
    /// The new state.
    pub state: UrgentState,
    /// When the station reached it.
    pub at: DateTime<Utc>,
    /// Why it failed, if it did.
    #[serde(default)]
    pub reason: Option<String>,
}

/// One as-run log entry: what became of one occurrence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogEntry {
    /// The occurrence key (`schedules::timeline::occurrence_key`): unique, made by the device.
    pub id: String,
    /// The schedule it came from, if any.
    #[serde(default)]
    pub schedule_id: Option<String>,
    /// The urgent notice it came from, if any.
    #[serde(default)]
    pub urgent_id: Option<String>,
    /// Title at the time.
    pub title: String,
    /// Category at the time.
    #[serde(default)]
    pub category: String,
    /// Level.
    #[serde(default)]
    pub priority: Priority,
    /// The media.
    #[serde(default)]
    pub media_sha256: Option<Sha256>,
    /// When it was due.
    pub scheduled_at: DateTime<Utc>,
    /// When its first sample reached the output.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it stopped.
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    /// Milliseconds that aired.
    #[serde(default)]
    pub played_ms: u64,
    /// What became of it.
    pub status: PlayStatus,
    /// Why (for anything but `played`).
    #[serde(default)]
    pub reason: Option<String>,
    /// RMS level sent to the output, dBFS.
    #[serde(default)]
    pub rms_dbfs: Option<f32>,
    /// Peak level sent to the output, dBFS.
    #[serde(default)]
    pub peak_dbfs: Option<f32>,
    /// For a relay: each stretch of its window in which the channel did not air.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<RelayGap>,
    /// For one part of a programme: the occurrence key of the programme's own entry. Part
    /// entries (id `"<programme key>#<n>"`, n from 1) detail what aired; reports count the
    /// programme's entry only, so airtime is never counted twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_of: Option<String>,
    /// The airtime the occurrence was due to fill, when it is not its media's duration
    /// (a programme: the sum of its parts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_ms: Option<u64>,
}

/// A batch of log entries from one station.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogBatch {
    /// The entries (at most 500 a batch).
    pub entries: Vec<LogEntry>,
}

/// The server's answer to a [`LogBatch`]: the ids it now holds (new or already there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogAck {
    /// Ids stored; the device may delete them from its outbox.
    pub accepted: Vec<String>,
}

/// What a station is playing now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NowPlaying {
    /// Occurrence key.
    pub key: String,
    /// Title.
    pub title: String,
    /// Level.
    pub priority: Priority,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

/// A controller's heartbeat, at start and every 30 s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Heartbeat {
    /// Controller software version.
    pub version: String,
    /// The controller's clock when it sent this.
    pub sent_at: DateTime<Utc>,
    /// What plays now.
    #[serde(default)]
    pub now_playing: Option<NowPlaying>,
    /// The schedule version it holds.
    #[serde(default)]
    pub schedule_version: Option<String>,
    /// Last successful sync.
    #[serde(default)]
    pub last_sync: Option<DateTime<Utc>>,
    /// True when every bulletin of the next 7 days is cached and verified.
    #[serde(default)]
    pub cache_ready: bool,
    /// Media needed in the next 7 days that is not cached yet.
    #[serde(default)]
    pub missing_media: Vec<Sha256>,
    /// Log entries waiting to be uploaded.
    #[serde(default)]
    pub outbox_len: u64,
    /// Free bytes on the controller's data disk.
    #[serde(default)]
    pub disk_free_bytes: Option<u64>,
    /// Controller clock minus server clock, milliseconds (from the last `Date` header).
    #[serde(default)]
    pub clock_offset_ms: Option<i64>,
    /// The output in use ("default", "null", "wav:…").
    #[serde(default)]
    pub output: String,
    /// The output's last error, if it is failing.
    #[serde(default)]
    pub output_error: Option<String>,
    /// The master volume set remotely, percent (None: an older controller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn older_controllers_ignore_fields_they_do_not_know() {
        let json = r#"{"station":"X1","timezone":"Asia/Ho_Chi_Minh","version":"v1",
            "rules":[],"media":[],"urgent":[],"a_field_from_the_future":{"x":1}}"#;
        let doc: ScheduleDocument = serde_json::from_str(json).unwrap();
        assert_eq!(doc.version, "v1");
    }

    /// The shared slot is flattened: a rule and a relay read and write exactly the flat
    /// objects they did before it existed, and the defaults still apply when fields are
    /// left out.
    #[test]
    fn rules_and_relays_keep_their_flat_wire_format() {
        let rule = serde_json::json!({
            "id": "s1", "title": "Bản tin", "category": "tin tức", "priority": "priority",
            "cron": "30 6 * * 1-5", "at": null, "starts_on": "2026-01-01",
            "ends_on": "2026-12-31", "excluded_dates": ["2026-09-02"],
            "media_sha256": "ab".repeat(32), "duration_ms": 61000, "max_wait_ms": 5000,
        });
        let r: WireRule = serde_json::from_value(rule.clone()).unwrap();
        assert_eq!(r.slot.cron.as_deref(), Some("30 6 * * 1-5"));
        assert_eq!(r.slot.max_wait_ms, 5000);
        assert_eq!(r.slot.priority, Priority::Priority);
        assert_eq!(serde_json::to_value(&r).unwrap(), rule);

        let relay = serde_json::json!({
            "id": "r1", "title": "Tiếp sóng VOV1", "category": "tiếp sóng",
            "priority": "normal", "cron": null, "at": "2026-12-07T23:00:00Z",
            "starts_on": null, "ends_on": null, "excluded_dates": [],
            "window_ms": 1800000, "max_wait_ms": 60000,
            "channel": {"id": "c1", "name": "VOV1", "url": "http://127.0.0.1:9/v", "gain_db": -2.0},
        });
        let w: WireRelay = serde_json::from_value(relay.clone()).unwrap();
        assert_eq!(
            w.slot.at,
            Some(Utc.with_ymd_and_hms(2026, 12, 7, 23, 0, 0).unwrap())
        );
        assert_eq!(serde_json::to_value(&w).unwrap(), relay);

        let sparse: WireRule = serde_json::from_value(serde_json::json!({
            "id": "s2", "title": "t", "at": "2026-12-07T23:00:00Z",
            "media_sha256": "cd".repeat(32), "duration_ms": 1000,
        }))
        .unwrap();
        assert_eq!(sparse.slot.max_wait_ms, DEFAULT_MAX_WAIT_MS);
        assert_eq!(sparse.slot.priority, Priority::Normal);
        assert!(sparse.slot.excluded_dates.is_empty());
        let rule = sparse.to_rule(crate::rule::DEFAULT_TZ).unwrap();
        assert_eq!((rule.id.as_str(), rule.duration_ms), ("s2", 1000));

        let both = serde_json::json!({
            "id": "s3", "title": "t", "at": "2026-12-07T23:00:00Z", "cron": "0 6 * * *",
            "media_sha256": "cd".repeat(32), "duration_ms": 1000,
        });
        let err = serde_json::from_value::<WireRule>(both)
            .unwrap()
            .to_rule(crate::rule::DEFAULT_TZ);
        assert!(err
            .unwrap_err()
            .0
            .contains("rule s3: exactly one of cron and at"));
    }

    /// A notice airing once at `t0`.
    fn notice(t0: DateTime<Utc>) -> UrgentNotice {
        UrgentNotice {
            id: "u1".into(),
            title: "Bão".into(),
            category: "thiên tai".into(),
            media_sha256: Sha256::parse(&"a".repeat(64)).unwrap(),
            duration_ms: 1000,
            starts_at: t0,
            repeat: 1,
            interval_s: 0,
            expires_at: None,
            gain_db: None,
        }
    }

    #[test]
    fn urgent_airings_repeat_until_expiry() {
        let t0 = Utc.with_ymd_and_hms(2026, 9, 1, 3, 0, 0).unwrap();
        let n = UrgentNotice {
            repeat: 4,
            interval_s: 1800,
            expires_at: Some(t0 + Duration::minutes(61)),
            ..notice(t0)
        };
        assert_eq!(
            n.airings(),
            vec![t0, t0 + Duration::minutes(30), t0 + Duration::minutes(60)]
        );
    }

    #[test]
    fn a_push_is_a_notice_with_or_without_its_audio() {
        let notice = notice(Utc.with_ymd_and_hms(2026, 9, 1, 3, 0, 0).unwrap());
        let with = UrgentPush {
            notice: notice.clone(),
            audio: Some("AAEC".into()),
        };
        let json = serde_json::to_string(&with).unwrap();
        // The same object: the notice's fields and `audio` side by side.
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["id"], "u1");
        assert_eq!(v["audio"], "AAEC");
        assert_eq!(serde_json::from_str::<UrgentPush>(&json).unwrap(), with);
        // A controller that knows only the notice reads it as one.
        assert_eq!(serde_json::from_str::<UrgentNotice>(&json).unwrap(), notice);
        // A notice without audio (a long file, an older server) is a push without it, and
        // a push without audio does not name the field.
        let bare = serde_json::to_string(&notice).unwrap();
        let push: UrgentPush = serde_json::from_str(&bare).unwrap();
        assert_eq!(push.audio, None);
        assert_eq!(serde_json::to_string(&push).unwrap(), bare);
    }
}

/// The events a station's stream carries, as named on its `event:` lines; the server
/// publishes and the controller dispatches on this one list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// The station's schedule document changed ([`ScheduleChanged`]).
    Schedule,
    /// An urgent notice ([`UrgentPush`]).
    Urgent,
    /// An urgent notice was cancelled ([`UrgentCancel`]).
    Cancel,
    /// A remote command ([`crate::remote::RemoteCommand`]).
    Command,
    /// A live broadcast starts ([`LivePush`]).
    Live,
}

impl Event {
    /// Every event.
    pub const ALL: [Event; 5] = [
        Event::Schedule,
        Event::Urgent,
        Event::Cancel,
        Event::Command,
        Event::Live,
    ];

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Schedule => "schedule",
            Event::Urgent => "urgent",
            Event::Cancel => "cancel",
            Event::Command => "command",
            Event::Live => "live",
        }
    }

    /// The event named `name`, if it is one of ours (a newer server may send others).
    pub fn parse(name: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

// ---------------------------------------------------------------- live broadcast (#25)

/// A `live` event: a live broadcast (someone speaking) is on for this station. The station
/// opens `stream` (binary frames, `media::voice::Frame`) and plays each frame at its
/// timestamp plus `delay_ms`, the same for every station.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivePush {
    /// The session id.
    pub id: String,
    /// Title, as logged.
    pub title: String,
    /// `priority` (ahead of the queue) or `emergency` (interrupts).
    pub priority: Priority,
    /// When the session was opened.
    pub started_at: DateTime<Utc>,
    /// The stream's path on the server (`/api/v1/device/live/{id}/stream`).
    pub stream: String,
    /// Play-out delay after each frame's timestamp, ms: the same for every station.
    pub delay_ms: u32,
}

/// What a station reports about a live session (`POST /device/live/{id}/state`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveReport {
    /// `waiting` (queued behind another item), `airing`, `behind` (audio reaches it late),
    /// `ended`.
    pub state: String,
    /// For `behind`: how late the latest audio arrived, ms.
    #[serde(default)]
    pub behind_ms: u64,
    /// Milliseconds aired so far.
    #[serde(default)]
    pub played_ms: u64,
    /// Gaps so far (network), count.
    #[serde(default)]
    pub gaps: u32,
}

#[cfg(test)]
mod event_tests {
    use super::Event;

    #[test]
    fn every_event_reads_back_from_its_wire_name_and_others_are_none() {
        for e in Event::ALL {
            assert_eq!(Event::parse(e.as_str()), Some(e));
        }
        assert_eq!(Event::parse("hello"), None);
        assert_eq!(Event::parse("Urgent"), None);
    }
}
