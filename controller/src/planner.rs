//! The planner, pure: given the cached schedule document, the urgent notices the station
//! knows (pushed ones included), the ids of cancelled notices and a window, it returns every
//! occurrence in the window and the resolved timeline (`schedules::resolve`): what airs when,
//! what waits, what is cut, what is skipped. No I/O, no clock.
//!
//! Over 500 lines only with its tests (360 of code).

use chrono::{DateTime, Utc};
use schedules::wire::{LogEntry, RelayChannel, ScheduleDocument, UrgentNotice};
use schedules::{occurrence_key, occurrences, resolve, Item, PlayStatus, Priority, Sha256, Slot};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Where an occurrence comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A schedule rule.
    Rule(String),
    /// An urgent notice.
    Urgent(String),
}

/// One occurrence and everything needed to air and log it.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The timeline item (key, due time, duration, level, wait bound).
    pub item: Item,
    /// Its rule or notice.
    pub origin: Origin,
    /// Title, as logged.
    pub title: String,
    /// Category, as logged.
    pub category: String,
    /// What it plays.
    pub source: Source,
}

/// What an occurrence plays.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A media file from the cache.
    Media {
        /// The file.
        sha256: Sha256,
        /// Gain to apply, dB (from the manifest; 0 when unknown).
        gain_db: f32,
    },
    /// A programme: its parts, in airing order, aired back to back as one occurrence,
    /// each logged as a part of it.
    Programme {
        /// The file the rule names (its first part: what an older controller airs), logged
        /// as the occurrence's media.
        lead: Sha256,
        /// The parts (never empty).
        parts: Vec<Part>,
    },
    /// A live channel, for the occurrence's whole window (`item.duration_ms`).
    Relay(RelayChannel),
}

impl Source {
    /// The media file logged for it, if it plays files.
    pub fn media(&self) -> Option<&Sha256> {
        match self {
            Source::Media { sha256, .. } => Some(sha256),
            Source::Programme { lead, .. } => Some(lead),
            Source::Relay(_) => None,
        }
    }
}

/// What separates an occurrence's key from the instant a relay was joined again.
const REJOIN_MARK: &str = "#rejoin-";

/// For the key of a relay joined again after a restart, the occurrence's own key.
pub fn rejoined_from(key: &str) -> Option<&str> {
    key.split_once(REJOIN_MARK).map(|(base, _)| base)
}

/// One part of a programme occurrence.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// Title, as logged.
    pub title: String,
    /// The media it plays.
    pub media: Sha256,
    /// Gain to apply, dB.
    pub gain_db: f32,
    /// Its duration, from the document.
    pub duration_ms: u64,
}

impl Planned {
    /// Its log entry with the given outcome, to be completed by the caller.
    pub fn log_entry(&self, status: PlayStatus, reason: Option<String>) -> LogEntry {
        let (schedule_id, urgent_id) = match &self.origin {
            Origin::Rule(id) => (Some(id.clone()), None),
            Origin::Urgent(id) => (None, Some(id.clone())),
        };
        LogEntry {
            id: self.item.key.clone(),
            schedule_id,
            urgent_id,
            title: self.title.clone(),
            category: self.category.clone(),
            priority: self.item.priority,
            media_sha256: self.source.media().cloned(),
            scheduled_at: self.item.scheduled_at,
            started_at: None,
            ended_at: None,
            played_ms: 0,
            status,
            reason,
            rms_dbfs: None,
            peak_dbfs: None,
            gaps: vec![],
            part_of: rejoined_from(&self.item.key).map(str::to_string),
            planned_ms: matches!(self.source, Source::Programme { .. })
                .then_some(self.item.duration_ms),
        }
    }

    /// The rest of this relay occurrence's window, joined again at `at` after the
    /// controller restarted: the same rule, window and channel under its own key
    /// `"<key>#rejoin-<ms>"`, so that it has its own log entry (`part_of` the occurrence's,
    /// whose entry says it was interrupted). None for anything but a relay.
    pub fn rejoined(&self, at: DateTime<Utc>) -> Option<Planned> {
        if !matches!(self.source, Source::Relay(_)) {
            return None;
        }
        let base = rejoined_from(&self.item.key).unwrap_or(&self.item.key);
        let mut p = self.clone();
        p.item.key = format!("{base}{REJOIN_MARK}{}", at.timestamp_millis());
        Some(p)
    }

    /// When its window (a relay) or its airtime ends if it starts on time.
    pub fn window_end(&self) -> DateTime<Utc> {
        self.item.scheduled_at
            + chrono::Duration::milliseconds(self.item.duration_ms.min(i64::MAX as u64 / 2) as i64)
    }

    /// A programme's parts, in airing order (empty for a single file or a relay).
    pub fn parts(&self) -> &[Part] {
        match &self.source {
            Source::Programme { parts, .. } => parts,
            Source::Media { .. } | Source::Relay(_) => &[],
        }
    }

    /// The log entry of part `index` (from 0) of this programme occurrence, to be
    /// completed by the caller: id `"<key>#<index + 1>"`, `part_of` the programme's key.
    pub fn part_entry(&self, index: usize, status: PlayStatus, reason: Option<String>) -> LogEntry {
        let mut e = self.log_entry(status, reason);
        if let Some(p) = self.parts().get(index) {
            e.id = format!("{}#{}", self.item.key, index + 1);
            e.title = p.title.clone();
            e.media_sha256 = Some(p.media.clone());
            e.part_of = Some(self.item.key.clone());
            e.planned_ms = Some(p.duration_ms);
        }
        e
    }

    /// Every media file this occurrence plays (none for a relay).
    pub fn all_media(&self) -> Vec<&Sha256> {
        match &self.source {
            Source::Media { sha256, .. } => vec![sha256],
            Source::Programme { parts, .. } => parts.iter().map(|p| &p.media).collect(),
            Source::Relay(_) => Vec::new(),
        }
    }
}

/// The plan over a window.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Occurrences by key.
    pub planned: HashMap<String, Planned>,
    /// The resolved timeline, ordered by start.
    pub slots: Vec<Slot>,
    /// Rules that could not be read (logged by the caller).
    pub errors: Vec<String>,
}

/// The urgent notices that count: the document's and the pushed ones (by id, pushed last
/// wins), minus the cancelled.
pub fn active_urgent<'a>(
    doc: Option<&'a ScheduleDocument>,
    pushed: &'a [UrgentNotice],
    cancelled: &HashSet<String>,
) -> Vec<&'a UrgentNotice> {
    let mut by_id: BTreeMap<&str, &UrgentNotice> = BTreeMap::new();
    for n in doc
        .map(|d| d.urgent.as_slice())
        .unwrap_or(&[])
        .iter()
        .chain(pushed)
    {
        by_id.insert(n.id.as_str(), n);
    }
    by_id
        .into_values()
        .filter(|n| !cancelled.contains(&n.id))
        .collect()
}

/// Every occurrence due in `[from, to)`, unresolved.
pub fn occurrences_in(
    doc: Option<&ScheduleDocument>,
    pushed: &[UrgentNotice],
    cancelled: &HashSet<String>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> (Vec<Planned>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let gain = |sha: &Sha256| {
        doc.and_then(|d| d.media_entry(sha))
            .map(|m| m.gain_db)
            .unwrap_or(0.0)
    };
    if let Some(doc) = doc {
        let tz = doc.tz();
        for wr in &doc.rules {
            let rule = match wr.to_rule(tz) {
                Ok(r) => r,
                Err(e) => {
                    errors.push(format!("rule {} ({}): {e}", wr.id, wr.title));
                    continue;
                }
            };
            let parts: Vec<Part> = wr
                .items
                .iter()
                .map(|i| Part {
                    title: i.title.clone(),
                    media: i.media_sha256.clone(),
                    gain_db: gain(&i.media_sha256),
                    duration_ms: i.duration_ms,
                })
                .collect();
            for at in occurrences(&rule, from, to) {
                out.push(Planned {
                    item: Item {
                        key: occurrence_key(&wr.id, at),
                        scheduled_at: at,
                        duration_ms: wr.duration_ms,
                        priority: wr.slot.priority,
                        max_wait_ms: wr.slot.max_wait_ms,
                    },
                    origin: Origin::Rule(wr.id.clone()),
                    title: wr.title.clone(),
                    category: wr.slot.category.clone(),
                    source: if parts.is_empty() {
                        Source::Media {
                            sha256: wr.media_sha256.clone(),
                            gain_db: gain(&wr.media_sha256),
                        }
                    } else {
                        Source::Programme {
                            lead: wr.media_sha256.clone(),
                            parts: parts.clone(),
                        }
                    },
                });
            }
        }
        for wr in &doc.relays {
            let rule = match wr.to_rule(tz) {
                Ok(r) => r,
                Err(e) => {
                    errors.push(format!("relay {} ({}): {e}", wr.id, wr.title));
                    continue;
                }
            };
            for at in occurrences(&rule, from, to) {
                out.push(Planned {
                    item: Item {
                        key: occurrence_key(&wr.id, at),
                        scheduled_at: at,
                        duration_ms: wr.window_ms,
                        priority: wr.slot.priority,
                        max_wait_ms: wr.slot.max_wait_ms,
                    },
                    origin: Origin::Rule(wr.id.clone()),
                    title: wr.title.clone(),
                    category: wr.slot.category.clone(),
                    source: Source::Relay(wr.channel.clone()),
                });
            }
        }
    }
    for n in active_urgent(doc, pushed, cancelled) {
        for at in n.airings() {
            if at < from || at >= to {
                continue;
            }
            out.push(Planned {
                item: Item {
                    key: occurrence_key(&n.id, at),
                    scheduled_at: at,
                    duration_ms: n.duration_ms,
                    priority: Priority::Emergency,
                    max_wait_ms: schedules::DEFAULT_MAX_WAIT_MS,
                },
                origin: Origin::Urgent(n.id.clone()),
                title: n.title.clone(),
                category: n.category.clone(),
                source: Source::Media {
                    sha256: n.media_sha256.clone(),
                    // Its own gain first: a freshly pushed notice's file (spoken text, the
                    // chime) is not in the document yet, and unity gain would air it as
                    // loud as the file peaks.
                    gain_db: n.gain_db.unwrap_or_else(|| gain(&n.media_sha256)),
                },
            });
        }
    }
    out.sort_by(|a, b| (a.item.scheduled_at, &a.item.key).cmp(&(b.item.scheduled_at, &b.item.key)));
    out.dedup_by(|a, b| a.item.key == b.item.key);
    (out, errors)
}

/// The resolved plan over `[from, to)`.
pub fn plan(
    doc: Option<&ScheduleDocument>,
    pushed: &[UrgentNotice],
    cancelled: &HashSet<String>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Plan {
    let (planned, errors) = occurrences_in(doc, pushed, cancelled, from, to);
    let items: Vec<Item> = planned.iter().map(|p| p.item.clone()).collect();
    let slots = resolve(&items);
    Plan {
        planned: planned
            .into_iter()
            .map(|p| (p.item.key.clone(), p))
            .collect(),
        slots,
        errors,
    }
}

/// The media needed in `[from, to)`, each with the first instant it is needed, earliest
/// first (the download order).
pub fn needed_media(
    doc: Option<&ScheduleDocument>,
    pushed: &[UrgentNotice],
    cancelled: &HashSet<String>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(Sha256, DateTime<Utc>)> {
    let (planned, _) = occurrences_in(doc, pushed, cancelled, from, to);
    let mut first: HashMap<Sha256, DateTime<Utc>> = HashMap::new();
    for p in &planned {
        for m in p.all_media() {
            let e = first.entry(m.clone()).or_insert(p.item.scheduled_at);
            *e = (*e).min(p.item.scheduled_at);
        }
    }
    let mut v: Vec<_> = first.into_iter().collect();
    v.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use schedules::wire::{MediaEntry, WireRule, WireSlot};

    fn sha(c: char) -> Sha256 {
        Sha256::parse(&c.to_string().repeat(64)).unwrap()
    }

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap()
    }

    fn rule(
        id: &str,
        cron: Option<&str>,
        at: Option<DateTime<Utc>>,
        prio: Priority,
        ms: u64,
    ) -> WireRule {
        WireRule {
            id: id.into(),
            title: format!("title {id}"),
            slot: WireSlot {
                category: "tin tức".into(),
                priority: prio,
                cron: cron.map(Into::into),
                at,
                starts_on: None,
                ends_on: None,
                excluded_dates: vec![],
                max_wait_ms: 60_000,
            },
            media_sha256: sha('a'),
            duration_ms: ms,
            items: vec![],
            programme_id: None,
        }
    }

    fn doc(rules: Vec<WireRule>, urgent: Vec<UrgentNotice>) -> ScheduleDocument {
        ScheduleDocument {
            station: "TT-01".parse().unwrap(),
            name: "Xã".into(),
            timezone: "Asia/Ho_Chi_Minh".into(),
            version: "v1".into(),
            rules,
            media: vec![
                MediaEntry {
                    sha256: sha('a'),
                    size_bytes: 1,
                    duration_ms: 1,
                    gain_db: -3.5,
                    codec: "mp3".into(),
                },
                MediaEntry {
                    sha256: sha('b'),
                    size_bytes: 1,
                    duration_ms: 1,
                    gain_db: 2.0,
                    codec: "mp3".into(),
                },
            ],
            urgent,
            commands: vec![],
            volume_schedule: vec![],
            relays: vec![],
        }
    }

    fn notice(id: &str, at: DateTime<Utc>, repeat: u32) -> UrgentNotice {
        UrgentNotice {
            id: id.into(),
            title: "Bão số 3".into(),
            category: "thiên tai".into(),
            media_sha256: sha('b'),
            duration_ms: 120_000,
            starts_at: at,
            repeat,
            interval_s: 600,
            expires_at: None,
            gain_db: None,
        }
    }

    #[test]
    fn daily_cron_rules_expand_in_the_station_time_zone_with_stable_keys() {
        // 05:30 in Hà Nội is 22:30 UTC the day before.
        let d = doc(
            vec![rule(
                "r1",
                Some("30 5 * * *"),
                None,
                Priority::Normal,
                60_000,
            )],
            vec![],
        );
        let p = plan(
            Some(&d),
            &[],
            &HashSet::new(),
            utc(0, 0),
            utc(0, 0) + Duration::days(2),
        );
        let starts: Vec<_> = p.slots.iter().map(|s| s.item.scheduled_at).collect();
        assert_eq!(starts, vec![utc(22, 30), utc(22, 30) + Duration::days(1)]);
        let key = occurrence_key("r1", utc(22, 30));
        assert_eq!(p.slots[0].item.key, key);
        assert!(matches!(p.planned[&key].source, Source::Media { gain_db, .. } if gain_db == -3.5));
        assert_eq!(p.planned[&key].title, "title r1");
    }

    #[test]
    fn an_urgent_notice_interrupts_a_normal_bulletin_and_keeps_its_repeats() {
        let d = doc(
            vec![rule("r1", None, Some(utc(3, 0)), Priority::Normal, 300_000)],
            vec![],
        );
        let pushed = vec![notice("u1", utc(3, 1), 2)];
        let p = plan(Some(&d), &pushed, &HashSet::new(), utc(2, 0), utc(5, 0));
        let by_key: HashMap<_, _> = p.slots.iter().map(|s| (s.item.key.clone(), s)).collect();
        let normal = by_key[&occurrence_key("r1", utc(3, 0))];
        assert_eq!(normal.status, PlayStatus::Interrupted);
        assert_eq!(normal.played_ms, 60_000);
        let u = by_key[&occurrence_key("u1", utc(3, 1))];
        assert_eq!(
            (u.status, u.starts_at),
            (PlayStatus::Played, Some(utc(3, 1)))
        );
        assert_eq!(u.item.priority, Priority::Emergency);
        assert!(by_key.contains_key(&occurrence_key("u1", utc(3, 11))));
    }

    #[test]
    fn cancelled_notices_drop_out_of_the_plan_even_if_the_document_still_lists_them() {
        let d = doc(vec![], vec![notice("u1", utc(3, 0), 3)]);
        let cancelled: HashSet<String> = ["u1".to_string()].into();
        let p = plan(Some(&d), &[], &cancelled, utc(2, 0), utc(5, 0));
        assert!(p.slots.is_empty());
        let p = plan(Some(&d), &[], &HashSet::new(), utc(2, 0), utc(5, 0));
        assert_eq!(p.slots.len(), 3);
    }

    #[test]
    fn a_notice_in_both_the_document_and_the_push_is_planned_once() {
        let n = notice("u1", utc(3, 0), 1);
        let d = doc(vec![], vec![n.clone()]);
        let p = plan(Some(&d), &[n], &HashSet::new(), utc(2, 0), utc(5, 0));
        assert_eq!(p.slots.len(), 1);
    }

    #[test]
    fn a_bulletin_that_would_wait_past_its_bound_is_skipped() {
        let d = doc(
            vec![
                rule("long", None, Some(utc(3, 0)), Priority::Normal, 600_000),
                rule("short", None, Some(utc(3, 1)), Priority::Normal, 60_000),
            ],
            vec![],
        );
        let p = plan(Some(&d), &[], &HashSet::new(), utc(2, 0), utc(5, 0));
        let short = p
            .slots
            .iter()
            .find(|s| s.item.key.starts_with("short@"))
            .unwrap();
        assert_eq!(short.status, PlayStatus::Skipped);
        assert!(short.reason.is_some());
    }

    #[test]
    fn no_document_and_no_notices_plan_nothing_and_bad_rules_are_reported() {
        assert!(plan(None, &[], &HashSet::new(), utc(0, 0), utc(5, 0))
            .slots
            .is_empty());
        let d = doc(vec![rule("bad", None, None, Priority::Normal, 1)], vec![]);
        let p = plan(Some(&d), &[], &HashSet::new(), utc(0, 0), utc(5, 0));
        assert_eq!(p.errors.len(), 1);
    }

    #[test]
    fn media_is_needed_earliest_first() {
        let d = doc(
            vec![rule("r1", None, Some(utc(4, 0)), Priority::Normal, 1000)],
            vec![notice("u1", utc(3, 0), 1)],
        );
        let need = needed_media(Some(&d), &[], &HashSet::new(), utc(0, 0), utc(5, 0));
        assert_eq!(need, vec![(sha('b'), utc(3, 0)), (sha('a'), utc(4, 0))]);
    }

    #[test]
    fn a_relay_occupies_its_window_needs_no_media_and_an_emergency_cuts_it() {
        let mut d = doc(vec![], vec![notice("u1", utc(6, 10), 1)]);
        d.relays = vec![schedules::wire::WireRelay {
            id: "vov".into(),
            title: "Tiếp sóng VOV1".into(),
            slot: WireSlot {
                category: "tiếp sóng".into(),
                priority: Priority::Priority,
                cron: Some("0 13 * * *".into()), // 06:00 UTC in Hà Nội
                at: None,
                starts_on: None,
                ends_on: None,
                excluded_dates: vec![],
                max_wait_ms: 60_000,
            },
            window_ms: 30 * 60_000,
            channel: RelayChannel {
                id: "c1".into(),
                name: "VOV1".into(),
                url: "http://127.0.0.1:9/vov1".into(),
                gain_db: -2.0,
            },
        }];
        let p = plan(Some(&d), &[], &HashSet::new(), utc(5, 0), utc(7, 0));
        let key = occurrence_key("vov", utc(6, 0));
        let relay = &p.planned[&key];
        assert_eq!(relay.item.duration_ms, 30 * 60_000);
        assert!(matches!(&relay.source, Source::Relay(c) if c.name == "VOV1" && c.gain_db == -2.0));
        assert_eq!(relay.log_entry(PlayStatus::Played, None).media_sha256, None);
        let slot = p.slots.iter().find(|s| s.item.key == key).unwrap();
        assert_eq!(slot.status, PlayStatus::Interrupted, "{slot:?}");
        let need = needed_media(Some(&d), &[], &HashSet::new(), utc(5, 0), utc(7, 0));
        assert_eq!(need, vec![(sha('b'), utc(6, 10))], "the notice's file only");

        // Joined again after a restart: its own key and entry, part of the occurrence's,
        // the same window; joined again after a second restart, still part of the first.
        let again = relay.rejoined(utc(6, 12)).unwrap();
        assert_ne!(again.item.key, key);
        assert_eq!(rejoined_from(&again.item.key), Some(key.as_str()));
        assert_eq!(again.window_end(), relay.window_end());
        assert_eq!(again.window_end(), utc(6, 30));
        let entry = again.log_entry(PlayStatus::Played, None);
        assert_eq!(
            (entry.id.as_str(), entry.part_of.as_deref()),
            (again.item.key.as_str(), Some(key.as_str()))
        );
        let third = again.rejoined(utc(6, 20)).unwrap();
        assert_eq!(rejoined_from(&third.item.key), Some(key.as_str()));
        assert_ne!(third.item.key, again.item.key);
        assert_eq!(relay.log_entry(PlayStatus::Played, None).part_of, None);
        assert!(
            p.planned
                .values()
                .filter(|p| p.item.key != key)
                .all(|p| p.rejoined(utc(6, 12)).is_none()),
            "only a relay is joined again"
        );
    }
}
