//! Timeline resolution for one station: what plays when.
//!
//! Circular 39/2020/TT-BTTTT's three levels: an `emergency` interrupts whatever plays at
//! once; nothing else is ever cut off. An item that comes due while another plays waits for
//! it to end; waiting items go in priority order, then by scheduled time, then by key; an
//! item that would wait longer than its `max_wait_ms` is skipped with the reason.
//! Deterministic: the same input always gives the same output.
//!
//! # The rules, precisely
//!
//! [`resolve`] is a discrete-event simulation over the instants at which something happens:
//! an item comes due, the playing item ends, or a waiting item's bound passes. At each
//! instant, in this order:
//!
//! 1. the playing item, if it ends now, is logged `played`;
//! 2. every item due now joins the waiting queue (so items due at exactly the end of the
//!    playing one compete by priority, not by arrival);
//! 3. if a non-emergency plays and an emergency waits, the playing item is cut off now:
//!    `interrupted`, `ends_at` = now, `played_ms` = what aired, reason
//!    `"interrupted by emergency <key>"`. It is not resumed. An emergency never cuts
//!    another emergency: it waits for it.
//! 4. while the player is free and the queue is not empty, the first waiting item starts:
//!    highest priority, then earliest `scheduled_at`, then smallest key. A zero-length item
//!    ends as it starts and the next one is chosen at the same instant;
//! 5. any item still waiting whose bound has come (now ≥ `scheduled_at + max_wait_ms`) is
//!    `skipped`, with reason `"waited more than <bound> behind <key of the playing item>"`.
//!    An item whose wait is exactly its bound may still start (step 4 comes first).
//!
//! The output is ordered by `starts_at` (skipped items by `scheduled_at`), ties by key.
use crate::types::{PlayStatus, Priority};
use chrono::{DateTime, Duration, Utc};

/// One occurrence to place on the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Unique and stable id of this occurrence (see [`occurrence_key`]); used as the log id.
    pub key: String,
    /// When it is due.
    pub scheduled_at: DateTime<Utc>,
    /// How long it lasts.
    pub duration_ms: u64,
    /// Its level.
    pub priority: Priority,
    /// How long it may wait behind another before it is skipped.
    pub max_wait_ms: u64,
}

/// What the timeline decided for one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The item.
    pub item: Item,
    /// `Played` (plays to the end), `Interrupted` (cut by an emergency) or `Skipped`.
    pub status: PlayStatus,
    /// When it starts airing (None when skipped).
    pub starts_at: Option<DateTime<Utc>>,
    /// When it stops airing: its end, or the instant it is interrupted (None when skipped).
    pub ends_at: Option<DateTime<Utc>>,
    /// Milliseconds it airs.
    pub played_ms: u64,
    /// Why it is skipped or interrupted, in English (e.g. `"interrupted by emergency <key>"`,
    /// `"waited more than 10 min behind <key>"`).
    pub reason: Option<String>,
}

/// Resolve a set of occurrences into slots, ordered by `starts_at` (skipped ones at their
/// scheduled time). Pure and deterministic.
pub fn resolve(items: &[Item]) -> Vec<Slot> {
    let mut items: Vec<&Item> = items.iter().collect();
    items.sort_by(|a, b| {
        (
            a.scheduled_at,
            b.priority,
            &a.key,
            a.duration_ms,
            a.max_wait_ms,
        )
            .cmp(&(
                b.scheduled_at,
                a.priority,
                &b.key,
                b.duration_ms,
                b.max_wait_ms,
            ))
    });
    let mut sim = Sim {
        items: &items,
        next: 0,
        playing: None,
        waiting: Vec::new(),
        out: Vec::with_capacity(items.len()),
    };
    sim.run();
    let mut out = sim.out;
    out.sort_by(|a, b| {
        let ta = a.starts_at.unwrap_or(a.item.scheduled_at);
        let tb = b.starts_at.unwrap_or(b.item.scheduled_at);
        (ta, &a.item.key).cmp(&(tb, &b.item.key))
    });
    out
}

/// The slot airing at `now`: `starts_at <= now < ends_at` (skipped and zero-length slots
/// never air). With slots from [`resolve`] at most one matches.
pub fn playing_at(slots: &[Slot], now: DateTime<Utc>) -> Option<&Slot> {
    slots.iter().find(|s| match (s.starts_at, s.ends_at) {
        (Some(start), Some(end)) => start <= now && now < end,
        _ => false,
    })
}

/// The earliest `starts_at` strictly after `now`, if any: when the controller should wake.
pub fn next_start_after(slots: &[Slot], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    slots
        .iter()
        .filter_map(|s| s.starts_at)
        .filter(|t| *t > now)
        .min()
}

/// `t + ms`, saturating at the largest representable instant.
fn add_ms(t: DateTime<Utc>, ms: u64) -> DateTime<Utc> {
    i64::try_from(ms)
        .ok()
        .and_then(Duration::try_milliseconds)
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Milliseconds from `a` to `b` (0 if `b` is before `a`).
fn ms_between(a: DateTime<Utc>, b: DateTime<Utc>) -> u64 {
    u64::try_from((b - a).num_milliseconds()).unwrap_or(0)
}

/// A bound in words: "10 min", "90 s", "1500 ms".
fn bound_words(ms: u64) -> String {
    if ms.rem_euclid(60_000) == 0 {
        format!("{} min", ms / 60_000)
    } else if ms.rem_euclid(1000) == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

struct Playing<'a> {
    item: &'a Item,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

struct Sim<'a> {
    /// Input, sorted by (scheduled_at, priority desc, key).
    items: &'a [&'a Item],
    /// Index of the next item to come due.
    next: usize,
    playing: Option<Playing<'a>>,
    waiting: Vec<&'a Item>,
    out: Vec<Slot>,
}

impl<'a> Sim<'a> {
    fn run(&mut self) {
        while let Some(now) = self.next_instant() {
            self.step(now);
        }
    }

    /// The next instant something happens.
    fn next_instant(&self) -> Option<DateTime<Utc>> {
        let due = self.items.get(self.next).map(|i| i.scheduled_at);
        let end = self.playing.as_ref().map(|p| p.end);
        let bound = self
            .waiting
            .iter()
            .map(|i| add_ms(i.scheduled_at, i.max_wait_ms))
            .min();
        [due, end, bound].into_iter().flatten().min()
    }

    fn step(&mut self, now: DateTime<Utc>) {
        // 1. The playing item ends.
        if self.playing.as_ref().is_some_and(|p| p.end <= now) {
            if let Some(p) = self.playing.take() {
                self.played(p);
            }
        }
        // 2. Items due now join the queue.
        while let Some(item) = self.items.get(self.next).filter(|i| i.scheduled_at <= now) {
            self.waiting.push(item);
            self.next += 1;
        }
        self.waiting.sort_by(|a, b| queue_order(a, b));
        // 3. An emergency cuts off a non-emergency at once.
        if let Some(p) = &self.playing {
            let emergency = self
                .waiting
                .iter()
                .find(|i| i.priority == Priority::Emergency);
            if let (true, Some(e)) = (p.item.priority != Priority::Emergency, emergency) {
                let reason = format!("interrupted by emergency {}", e.key);
                if let Some(p) = self.playing.take() {
                    self.out.push(Slot {
                        item: p.item.clone(),
                        status: PlayStatus::Interrupted,
                        starts_at: Some(p.start),
                        ends_at: Some(now),
                        played_ms: ms_between(p.start, now),
                        reason: Some(reason),
                    });
                }
            }
        }
        // 4. A free player takes the first waiting item; zero-length items end at once.
        while self.playing.is_none() && !self.waiting.is_empty() {
            let item = self.waiting.remove(0);
            let p = Playing {
                item,
                start: now,
                end: add_ms(now, item.duration_ms),
            };
            if p.end <= now {
                self.played(p);
            } else {
                self.playing = Some(p);
            }
        }
        // 5. Items whose bound has come and that could not start are skipped.
        let blocker = self.playing.as_ref().map(|p| p.item.key.clone());
        let (expired, still): (Vec<&Item>, Vec<&Item>) = self
            .waiting
            .iter()
            .partition(|i| add_ms(i.scheduled_at, i.max_wait_ms) <= now);
        self.waiting = still;
        for item in expired {
            let behind = blocker.as_deref().unwrap_or("another item");
            self.out.push(Slot {
                item: item.clone(),
                status: PlayStatus::Skipped,
                starts_at: None,
                ends_at: None,
                played_ms: 0,
                reason: Some(format!(
                    "waited more than {} behind {behind}",
                    bound_words(item.max_wait_ms)
                )),
            });
        }
    }

    fn played(&mut self, p: Playing<'a>) {
        self.out.push(Slot {
            item: p.item.clone(),
            status: PlayStatus::Played,
            starts_at: Some(p.start),
            ends_at: Some(p.end),
            played_ms: p.item.duration_ms,
            reason: None,
        });
    }
}

/// Queue order: highest priority, then earliest due, then key.
fn queue_order(a: &Item, b: &Item) -> std::cmp::Ordering {
    (b.priority, a.scheduled_at, &a.key).cmp(&(a.priority, b.scheduled_at, &b.key))
}

/// The stable key of the occurrence of schedule/notice `source_id` due at `at`:
/// `"{source_id}@{unix_ms}"`.
pub fn occurrence_key(source_id: &str, at: DateTime<Utc>) -> String {
    format!("{source_id}@{}", at.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    const MIN: u64 = 60_000;

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 9, 2, h, m, s).unwrap()
    }

    fn item(key: &str, at: DateTime<Utc>, minutes: u64, priority: Priority) -> Item {
        Item {
            key: key.into(),
            scheduled_at: at,
            duration_ms: minutes * MIN,
            priority,
            max_wait_ms: 10 * MIN,
        }
    }

    fn slot<'a>(slots: &'a [Slot], key: &str) -> &'a Slot {
        slots.iter().find(|s| s.item.key == key).unwrap()
    }

    /// (key, status, starts_at, ends_at).
    type Summary = (
        String,
        PlayStatus,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );

    /// Slots as summaries, in output order.
    fn summary(slots: &[Slot]) -> Vec<Summary> {
        slots
            .iter()
            .map(|s| (s.item.key.clone(), s.status, s.starts_at, s.ends_at))
            .collect()
    }

    #[test]
    fn a_lone_item_plays_to_the_end() {
        let slots = resolve(&[item("a", t(5, 30, 0), 15, Priority::Normal)]);
        assert_eq!(slots.len(), 1);
        assert_eq!(slots[0].status, PlayStatus::Played);
        assert_eq!(slots[0].starts_at, Some(t(5, 30, 0)));
        assert_eq!(slots[0].ends_at, Some(t(5, 45, 0)));
        assert_eq!(slots[0].played_ms, 15 * MIN);
        assert_eq!(slots[0].reason, None);
    }

    #[test]
    fn emergency_interrupts_normal_at_once_and_logs_played_ms() {
        let slots = resolve(&[
            item("news", t(5, 30, 0), 15, Priority::Normal),
            item("storm", t(5, 34, 30), 3, Priority::Emergency),
        ]);
        let news = slot(&slots, "news");
        assert_eq!(news.status, PlayStatus::Interrupted);
        assert_eq!(news.ends_at, Some(t(5, 34, 30)));
        assert_eq!(news.played_ms, 4 * MIN + 30_000);
        assert_eq!(
            news.reason.as_deref(),
            Some("interrupted by emergency storm")
        );
        let storm = slot(&slots, "storm");
        assert_eq!(storm.status, PlayStatus::Played);
        assert_eq!(storm.starts_at, Some(t(5, 34, 30)));
        assert_eq!(storm.ends_at, Some(t(5, 37, 30)));
        // Not resumed: nothing else airs.
        assert_eq!(slots.len(), 2);
    }

    #[test]
    fn emergency_interrupts_a_priority_programme_too() {
        let slots = resolve(&[
            item("district", t(5, 0, 0), 30, Priority::Priority),
            item("flood", t(5, 10, 0), 2, Priority::Emergency),
        ]);
        assert_eq!(slot(&slots, "district").status, PlayStatus::Interrupted);
        assert_eq!(slot(&slots, "district").played_ms, 10 * MIN);
    }

    #[test]
    fn priority_goes_before_normal_in_queue() {
        let mut commune = item("commune", t(5, 2, 0), 5, Priority::Normal);
        commune.max_wait_ms = 30 * MIN;
        let slots = resolve(&[
            item("long", t(5, 0, 0), 10, Priority::Normal),
            commune,
            item("district", t(5, 4, 0), 5, Priority::Priority),
        ]);
        assert_eq!(
            summary(&slots),
            vec![
                (
                    "long".into(),
                    PlayStatus::Played,
                    Some(t(5, 0, 0)),
                    Some(t(5, 10, 0))
                ),
                (
                    "district".into(),
                    PlayStatus::Played,
                    Some(t(5, 10, 0)),
                    Some(t(5, 15, 0))
                ),
                (
                    "commune".into(),
                    PlayStatus::Played,
                    Some(t(5, 15, 0)),
                    Some(t(5, 20, 0))
                ),
            ]
        );
    }

    #[test]
    fn priority_does_not_cut_off_normal() {
        let slots = resolve(&[
            item("commune", t(5, 0, 0), 10, Priority::Normal),
            item("district", t(5, 1, 0), 5, Priority::Priority),
        ]);
        assert_eq!(slot(&slots, "commune").status, PlayStatus::Played);
        assert_eq!(slot(&slots, "district").starts_at, Some(t(5, 10, 0)));
    }

    #[test]
    fn item_waiting_past_bound_is_skipped_with_reason() {
        let slots = resolve(&[
            item("long", t(5, 0, 0), 30, Priority::Normal),
            item("short", t(5, 5, 0), 5, Priority::Normal),
        ]);
        let short = slot(&slots, "short");
        assert_eq!(short.status, PlayStatus::Skipped);
        assert_eq!(
            (short.starts_at, short.ends_at, short.played_ms),
            (None, None, 0)
        );
        assert_eq!(
            short.reason.as_deref(),
            Some("waited more than 10 min behind long")
        );
        // Ordered by scheduled time: the skipped item comes after the one that started earlier.
        assert_eq!(slots[0].item.key, "long");
        assert_eq!(slots[1].item.key, "short");
    }

    #[test]
    fn waiting_exactly_the_bound_still_plays() {
        let slots = resolve(&[
            item("long", t(5, 0, 0), 15, Priority::Normal),
            item("next", t(5, 5, 0), 5, Priority::Normal),
        ]);
        assert_eq!(slot(&slots, "next").status, PlayStatus::Played);
        assert_eq!(slot(&slots, "next").starts_at, Some(t(5, 15, 0)));
    }

    #[test]
    fn bound_words_name_the_unit() {
        let mut a = item("a", t(5, 0, 0), 10, Priority::Normal);
        let mut b = item("b", t(5, 0, 1), 1, Priority::Normal);
        b.max_wait_ms = 90_000;
        let slots = resolve(&[a.clone(), b.clone()]);
        assert_eq!(
            slot(&slots, "b").reason.as_deref(),
            Some("waited more than 90 s behind a")
        );
        b.max_wait_ms = 1500;
        a.key = "z".into();
        let slots = resolve(&[a, b]);
        assert_eq!(
            slot(&slots, "b").reason.as_deref(),
            Some("waited more than 1500 ms behind z")
        );
    }

    #[test]
    fn same_instant_ties_are_deterministic() {
        let items = vec![
            item("b", t(5, 0, 0), 1, Priority::Normal),
            item("a", t(5, 0, 0), 1, Priority::Normal),
            item("p", t(5, 0, 0), 1, Priority::Priority),
        ];
        let slots = resolve(&items);
        let order: Vec<&str> = slots.iter().map(|s| s.item.key.as_str()).collect();
        assert_eq!(order, vec!["p", "a", "b"]);
        let mut reversed = items.clone();
        reversed.reverse();
        assert_eq!(resolve(&reversed), slots);
    }

    #[test]
    fn items_due_at_the_end_instant_compete_by_priority() {
        let slots = resolve(&[
            item("first", t(5, 0, 0), 5, Priority::Normal),
            item("early-normal", t(5, 1, 0), 5, Priority::Normal),
            item("at-end-priority", t(5, 5, 0), 5, Priority::Priority),
        ]);
        assert_eq!(slot(&slots, "at-end-priority").starts_at, Some(t(5, 5, 0)));
        assert_eq!(slot(&slots, "early-normal").starts_at, Some(t(5, 10, 0)));
    }

    #[test]
    fn emergencies_in_a_row_queue_not_cut() {
        let slots = resolve(&[
            item("storm", t(5, 0, 0), 5, Priority::Emergency),
            item("flood", t(5, 2, 0), 5, Priority::Emergency),
        ]);
        assert_eq!(
            summary(&slots),
            vec![
                (
                    "storm".into(),
                    PlayStatus::Played,
                    Some(t(5, 0, 0)),
                    Some(t(5, 5, 0))
                ),
                (
                    "flood".into(),
                    PlayStatus::Played,
                    Some(t(5, 5, 0)),
                    Some(t(5, 10, 0))
                ),
            ]
        );
    }

    #[test]
    fn chain_of_waits() {
        // Three bulletins back to back; each waits for the previous; the fourth waits too long.
        let slots = resolve(&[
            item("a", t(5, 0, 0), 6, Priority::Normal),
            item("b", t(5, 1, 0), 6, Priority::Normal),
            item("c", t(5, 2, 0), 6, Priority::Normal),
            item("d", t(5, 3, 0), 6, Priority::Normal),
        ]);
        assert_eq!(
            summary(&slots),
            vec![
                (
                    "a".into(),
                    PlayStatus::Played,
                    Some(t(5, 0, 0)),
                    Some(t(5, 6, 0))
                ),
                // d's bound passes at 05:13, while c plays; skipped slots sort by due time.
                ("d".into(), PlayStatus::Skipped, None, None),
                (
                    "b".into(),
                    PlayStatus::Played,
                    Some(t(5, 6, 0)),
                    Some(t(5, 12, 0))
                ),
                (
                    "c".into(),
                    PlayStatus::Played,
                    Some(t(5, 12, 0)),
                    Some(t(5, 18, 0))
                ),
            ]
        );
        assert_eq!(
            slot(&slots, "d").reason.as_deref(),
            Some("waited more than 10 min behind c")
        );
    }

    #[test]
    fn nothing_is_cut_but_by_emergency() {
        let slots = resolve(&[
            item("n1", t(5, 0, 0), 20, Priority::Normal),
            item("p1", t(5, 1, 0), 20, Priority::Priority),
            item("n2", t(5, 2, 0), 1, Priority::Normal),
        ]);
        assert!(slots.iter().all(|s| s.status != PlayStatus::Interrupted));
        assert_eq!(slot(&slots, "n1").status, PlayStatus::Played);
    }

    #[test]
    fn zero_length_items_play_and_end_at_once() {
        let slots = resolve(&[
            item("blip", t(5, 0, 0), 0, Priority::Priority),
            item("news", t(5, 0, 0), 5, Priority::Normal),
        ]);
        assert_eq!(
            summary(&slots)[0],
            (
                "blip".into(),
                PlayStatus::Played,
                Some(t(5, 0, 0)),
                Some(t(5, 0, 0))
            )
        );
        assert_eq!(slot(&slots, "news").starts_at, Some(t(5, 0, 0)));
        assert_eq!(
            playing_at(&slots, t(5, 0, 0)).map(|s| s.item.key.as_str()),
            Some("news")
        );
    }

    #[test]
    fn playing_at_and_next_start_after_read_the_slots() {
        let slots = resolve(&[
            item("a", t(5, 0, 0), 5, Priority::Normal),
            item("b", t(6, 0, 0), 5, Priority::Normal),
        ]);
        assert_eq!(playing_at(&slots, t(4, 59, 59)), None);
        assert_eq!(playing_at(&slots, t(5, 0, 0)).unwrap().item.key, "a");
        assert_eq!(playing_at(&slots, t(5, 4, 59)).unwrap().item.key, "a");
        assert_eq!(playing_at(&slots, t(5, 5, 0)), None);
        assert_eq!(next_start_after(&slots, t(4, 0, 0)), Some(t(5, 0, 0)));
        assert_eq!(next_start_after(&slots, t(5, 0, 0)), Some(t(6, 0, 0)));
        assert_eq!(next_start_after(&slots, t(6, 0, 0)), None);
    }

    #[test]
    fn a_week_of_every_minute_items_resolves() {
        let items: Vec<Item> = (0..7 * 24 * 60)
            .map(|i| Item {
                key: format!("m{i:05}"),
                scheduled_at: t(0, 0, 0) + Duration::minutes(i),
                duration_ms: 30_000,
                priority: Priority::Normal,
                max_wait_ms: 0,
            })
            .collect();
        let slots = resolve(&items);
        assert_eq!(slots.len(), 10_080);
        assert!(slots.iter().all(|s| s.status == PlayStatus::Played));
    }

    #[test]
    fn occurrence_keys_are_stable() {
        assert_eq!(occurrence_key("s1", t(0, 0, 0)), "s1@1788307200000");
    }

    fn arb_items() -> impl Strategy<Value = Vec<Item>> {
        let one = (0u32..120, 0u64..20, 0u8..3, 0u64..15)
            .prop_map(|(at, dur, p, wait)| (at, dur, p, wait));
        prop::collection::vec(one, 0..12).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (at, dur, p, wait))| Item {
                    key: format!("k{i:02}"),
                    scheduled_at: t(5, 0, 0) + Duration::minutes(at.into()),
                    duration_ms: dur * MIN,
                    priority: [Priority::Normal, Priority::Priority, Priority::Emergency]
                        [p as usize],
                    max_wait_ms: wait * MIN,
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn every_item_gets_one_slot_and_airings_never_overlap(items in arb_items()) {
            let slots = resolve(&items);
            prop_assert_eq!(slots.len(), items.len());
            let mut keys: Vec<&str> = slots.iter().map(|s| s.item.key.as_str()).collect();
            keys.sort_unstable();
            keys.dedup();
            prop_assert_eq!(keys.len(), items.len());
            let mut aired: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
            for s in &slots {
                match s.status {
                    PlayStatus::Skipped => {
                        prop_assert!(s.starts_at.is_none() && s.ends_at.is_none());
                        prop_assert_eq!(s.played_ms, 0);
                    }
                    PlayStatus::Played | PlayStatus::Interrupted => {
                        let (start, end) = (s.starts_at.unwrap(), s.ends_at.unwrap());
                        prop_assert!(start >= s.item.scheduled_at);
                        prop_assert!(start <= add_ms(s.item.scheduled_at, s.item.max_wait_ms));
                        prop_assert_eq!(ms_between(start, end), s.played_ms);
                        if s.status == PlayStatus::Played {
                            prop_assert_eq!(s.played_ms, s.item.duration_ms);
                        } else {
                            prop_assert!(s.item.priority != Priority::Emergency);
                            prop_assert!(s.played_ms < s.item.duration_ms);
                        }
                        aired.push((start, end));
                    }
                    other => prop_assert!(false, "unexpected status {:?}", other),
                }
            }
            aired.sort();
            prop_assert!(aired.windows(2).all(|w| w[0].1 <= w[1].0), "overlapping airings");
            // Deterministic whatever the input order.
            let mut reversed = items.clone();
            reversed.reverse();
            prop_assert_eq!(resolve(&reversed), slots);
        }
    }
}
