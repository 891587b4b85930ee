//! Schedule rules and their expansion into occurrences.
//!
//! # Time-zone policy
//!
//! A recurring rule is read in its station's IANA time zone (`rule.tz`, by default
//! `Asia/Ho_Chi_Minh`, which has no daylight-saving time), and every instant is returned in
//! UTC.
//!
//! - A local time that does not exist (a spring-forward **gap**, e.g. 02:30 on the last
//!   Sunday of March in `Europe/Berlin`) is **skipped**: nothing fires for it.
//! - A local time that happens twice (a fall-back **overlap**, e.g. 02:30 on the last
//!   Sunday of October in `Europe/Berlin`) fires **once, the first time** (the earlier UTC
//!   instant).
//! - Validity dates (`starts_on`, `ends_on`) and excluded dates are **local dates** in
//!   `rule.tz`, inclusive. They apply to one-off rules too: a one-off whose local date is
//!   outside the validity or excluded does not fire.
//!
//! Occurrences are expanded by walking local dates and, on each date the expression fires
//! on, only the hours and minutes in its sets; the result is sorted and without duplicates.

use crate::cron::CronExpr;
use crate::types::Priority;
use chrono::{DateTime, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// The default time zone of a station.
pub const DEFAULT_TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// How long an item may wait behind another before it is skipped, by default: 10 minutes.
pub const DEFAULT_MAX_WAIT_MS: u64 = 10 * 60 * 1000;

/// When a rule fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// Every minute the crontab(5) expression matches, in the rule's time zone.
    Cron(CronExpr),
    /// Once, at this instant.
    At(DateTime<Utc>),
}

/// One schedule rule as the timeline sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The schedule's id (server-assigned; stable).
    pub id: String,
    /// When it fires.
    pub when: When,
    /// The time zone `when` (if cron) and the dates are read in.
    pub tz: Tz,
    /// First local date it may fire on (inclusive).
    pub starts_on: Option<NaiveDate>,
    /// Last local date it may fire on (inclusive).
    pub ends_on: Option<NaiveDate>,
    /// Local dates on which it does not fire (holidays).
    pub excluded_dates: Vec<NaiveDate>,
    /// Its level.
    pub priority: Priority,
    /// How long one airing lasts (the media's duration).
    pub duration_ms: u64,
    /// How long an airing may wait behind another before it is skipped.
    pub max_wait_ms: u64,
}

impl Rule {
    /// May the rule fire on this local date? (Inside `starts_on..=ends_on` and not excluded.)
    pub fn allows_date(&self, date: NaiveDate) -> bool {
        self.starts_on.is_none_or(|s| date >= s)
            && self.ends_on.is_none_or(|e| date <= e)
            && !self.excluded_dates.contains(&date)
    }
}

/// The instants at which `rule` fires in `[from, to)`, in order, in UTC.
///
/// A cron rule is walked local date by local date in `rule.tz`, and only over the hours and
/// minutes in its sets, so a week of `* * * * *` (10 080 instants) and a year of a daily
/// rule are both cheap. See the module docs for gaps and overlaps.
pub fn occurrences(rule: &Rule, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    if from >= to {
        return Vec::new();
    }
    match &rule.when {
        When::At(at) => {
            let local_date = at.with_timezone(&rule.tz).date_naive();
            if *at >= from && *at < to && rule.allows_date(local_date) {
                vec![*at]
            } else {
                Vec::new()
            }
        }
        When::Cron(expr) => cron_occurrences(rule, expr, from, to),
    }
}

fn cron_occurrences(
    rule: &Rule,
    expr: &CronExpr,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let tz = rule.tz;
    // One day of margin on each side: a local date may start before `from` in UTC terms.
    let first = from
        .with_timezone(&tz)
        .date_naive()
        .pred_opt()
        .unwrap_or(NaiveDate::MIN);
    let last = to
        .with_timezone(&tz)
        .date_naive()
        .succ_opt()
        .unwrap_or(NaiveDate::MAX);
    let hours: Vec<u32> = expr.hours().collect();
    let minutes: Vec<u32> = expr.minutes().collect();
    let mut out = Vec::new();
    for date in first.iter_days().take_while(|d| *d <= last) {
        if !rule.allows_date(date) || !expr.fires_on(date) {
            continue;
        }
        for &h in &hours {
            for &m in &minutes {
                let Some(local) = date.and_hms_opt(h, m, 0) else {
                    continue;
                };
                let instant = match tz.from_local_datetime(&local) {
                    LocalResult::Single(t) => t,
                    // Fall-back overlap: fire once, the first time.
                    LocalResult::Ambiguous(earliest, _) => earliest,
                    // Spring-forward gap: this wall-clock minute never happens.
                    LocalResult::None => continue,
                };
                let instant = instant.with_timezone(&Utc);
                if instant >= from && instant < to {
                    out.push(instant);
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The first `count` instants strictly after `after` at which `rule` fires, in order.
///
/// Looks at most about eight years ahead (long enough for `0 0 29 2 *` across a century
/// year), so a rule that can never fire (`0 0 31 2 *`) gives an empty list rather than a
/// long search.
pub fn next_occurrences(rule: &Rule, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
    const CHUNK_DAYS: i64 = 31;
    const HORIZON_DAYS: i64 = 8 * 366 + 31;
    let mut out = Vec::with_capacity(count.min(10_000));
    if count == 0 {
        return out;
    }
    let Some(mut from) = after.checked_add_signed(Duration::milliseconds(1)) else {
        return out;
    };
    let mut searched = 0;
    while searched < HORIZON_DAYS {
        let to = from
            .checked_add_signed(Duration::days(CHUNK_DAYS))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        for t in occurrences(rule, from, to) {
            out.push(t);
            if out.len() == count {
                return out;
            }
        }
        if to == DateTime::<Utc>::MAX_UTC {
            break;
        }
        from = to;
        searched += CHUNK_DAYS;
        if matches!(rule.when, When::At(_)) && !out.is_empty() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDateTime, Timelike};
    use chrono_tz::{America::New_York, Europe::Berlin};
    use proptest::prelude::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn date(y: i32, mo: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, mo, d).unwrap()
    }

    fn cron_rule(expr: &str, tz: Tz) -> Rule {
        Rule {
            id: "r1".into(),
            when: When::Cron(expr.parse().unwrap()),
            tz,
            starts_on: None,
            ends_on: None,
            excluded_dates: Vec::new(),
            priority: Priority::Normal,
            duration_ms: 60_000,
            max_wait_ms: DEFAULT_MAX_WAIT_MS,
        }
    }

    fn local_strings(v: &[DateTime<Utc>], tz: Tz) -> Vec<String> {
        v.iter()
            .map(|t| {
                t.with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M %:z")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn daily_rule_in_ho_chi_minh_fires_at_local_time() {
        let r = cron_rule("30 5 * * *", DEFAULT_TZ);
        let got = occurrences(&r, utc(2026, 9, 1, 0, 0), utc(2026, 9, 3, 0, 0));
        // 05:30 +07:00 is 22:30 UTC the day before; the window opens at 07:00 on 1 September.
        assert_eq!(
            got,
            vec![utc(2026, 9, 1, 22, 30), utc(2026, 9, 2, 22, 30)],
            "{:?}",
            local_strings(&got, DEFAULT_TZ)
        );
    }

    #[test]
    fn window_is_half_open() {
        let r = cron_rule("0 * * * *", Tz::UTC);
        let got = occurrences(&r, utc(2026, 1, 1, 1, 0), utc(2026, 1, 1, 3, 0));
        assert_eq!(got, vec![utc(2026, 1, 1, 1, 0), utc(2026, 1, 1, 2, 0)]);
        assert!(occurrences(&r, utc(2026, 1, 1, 3, 0), utc(2026, 1, 1, 1, 0)).is_empty());
    }

    #[test]
    fn either_day_rule_fires_on_the_1st_the_15th_and_every_monday() {
        let r = cron_rule("0 0 1,15 * mon", Tz::UTC);
        let got = occurrences(&r, utc(2026, 6, 1, 0, 0), utc(2026, 7, 1, 0, 0));
        let days: Vec<u32> = got.iter().map(|t| t.date_naive().day()).collect();
        // June 2026: Mondays 1, 8, 15, 22, 29.
        assert_eq!(days, vec![1, 8, 15, 22, 29]);
        let got = occurrences(&r, utc(2026, 7, 1, 0, 0), utc(2026, 8, 1, 0, 0));
        let days: Vec<u32> = got.iter().map(|t| t.date_naive().day()).collect();
        // July 2026: the 1st, the 15th, Mondays 6, 13, 20, 27.
        assert_eq!(days, vec![1, 6, 13, 15, 20, 27]);
    }

    #[test]
    fn crontab5_examples_over_june_2026() {
        // June 2026 starts on a Monday. (expression, days of June it fires on, fires per day)
        let cases: &[(&str, &[u32], usize)] = &[
            ("0 0 * * mon", &[1, 8, 15, 22, 29], 1),
            ("0 0 1 * *", &[1], 1),
            ("0 0 1,15 * mon", &[1, 8, 15, 22, 29], 1),
            ("0 0 10,20 * sun", &[7, 10, 14, 20, 21, 28], 1),
            ("0 0 * * 0", &[7, 14, 21, 28], 1),
            ("0 0 * * 7", &[7, 14, 21, 28], 1),
            ("0 0 1-30/7 * *", &[1, 8, 15, 22, 29], 1),
            ("@weekly", &[7, 14, 21, 28], 1),
            ("@monthly", &[1], 1),
            ("@yearly", &[], 1),
            ("0 0 * jul *", &[], 1),
            ("*/15 6 * * sat", &[6, 13, 20, 27], 4),
            (
                "0 5,17 * * 1-5",
                &[
                    1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 15, 16, 17, 18, 19, 22, 23, 24, 25, 26, 29, 30,
                ],
                2,
            ),
        ];
        for (text, days, per_day) in cases {
            let r = cron_rule(text, Tz::UTC);
            let got = occurrences(&r, utc(2026, 6, 1, 0, 0), utc(2026, 7, 1, 0, 0));
            let mut got_days: Vec<u32> = got.iter().map(|t| t.date_naive().day()).collect();
            assert_eq!(got.len(), days.len() * per_day, "{text}");
            got_days.dedup();
            assert_eq!(&got_days, days, "{text}");
        }
    }

    #[test]
    fn spring_forward_gap_is_skipped() {
        // Europe/Berlin: 2026-03-29 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
        let r = cron_rule("30 2 * * *", Berlin);
        let got = occurrences(&r, utc(2026, 3, 27, 0, 0), utc(2026, 3, 31, 0, 0));
        assert_eq!(
            local_strings(&got, Berlin),
            vec![
                "2026-03-27 02:30 +01:00",
                "2026-03-28 02:30 +01:00",
                "2026-03-30 02:30 +02:00"
            ]
        );
    }

    #[test]
    fn fall_back_overlap_fires_once_the_first_time() {
        // America/New_York: 2026-11-01 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
        let r = cron_rule("30 1 * * *", New_York);
        let got = occurrences(&r, utc(2026, 10, 31, 0, 0), utc(2026, 11, 3, 0, 0));
        assert_eq!(
            local_strings(&got, New_York),
            vec![
                "2026-10-31 01:30 -04:00",
                "2026-11-01 01:30 -04:00",
                "2026-11-02 01:30 -05:00"
            ]
        );
        // Every minute through the overlap: 01:00-01:59 once each (EDT), then 02:00 EST.
        let r = cron_rule("* * * * *", New_York);
        let got = occurrences(&r, utc(2026, 11, 1, 4, 0), utc(2026, 11, 1, 8, 0));
        // 04:00-05:00 UTC = 00:00-00:59 EDT, 05:00-05:59 = 01:xx EDT, 06:00-06:59 = 01:xx EST
        // (not fired again), 07:00-07:59 = 02:xx EST.
        assert_eq!(got.len(), 180);
        assert!(got.iter().all(|t| t.hour() != 6));
    }

    #[test]
    fn validity_and_excluded_dates_are_local_and_inclusive() {
        let mut r = cron_rule("30 5 * * *", DEFAULT_TZ);
        r.starts_on = Some(date(2026, 9, 1));
        r.ends_on = Some(date(2026, 9, 5));
        r.excluded_dates = vec![date(2026, 9, 2)];
        let got = occurrences(&r, utc(2026, 8, 25, 0, 0), utc(2026, 9, 10, 0, 0));
        let days: Vec<String> = got
            .iter()
            .map(|t| {
                t.with_timezone(&DEFAULT_TZ)
                    .format("%d/%m %H:%M")
                    .to_string()
            })
            .collect();
        assert_eq!(
            days,
            vec!["01/09 05:30", "03/09 05:30", "04/09 05:30", "05/09 05:30"]
        );
    }

    #[test]
    fn one_off_fires_once_inside_its_window_and_validity() {
        let at = utc(2026, 9, 1, 22, 30); // 05:30 on 2 September in Hà Nội
        let mut r = cron_rule("* * * * *", DEFAULT_TZ);
        r.when = When::At(at);
        assert_eq!(occurrences(&r, at, at + Duration::minutes(1)), vec![at]);
        assert!(occurrences(&r, at - Duration::minutes(1), at).is_empty());
        // The local date (2 September) is what excluded dates are compared with.
        r.excluded_dates = vec![date(2026, 9, 2)];
        assert!(occurrences(&r, utc(2026, 9, 1, 0, 0), utc(2026, 9, 3, 0, 0)).is_empty());
        r.excluded_dates = vec![date(2026, 9, 1)];
        assert_eq!(
            occurrences(&r, utc(2026, 9, 1, 0, 0), utc(2026, 9, 3, 0, 0)),
            vec![at]
        );
        r.ends_on = Some(date(2026, 9, 1));
        assert!(occurrences(&r, utc(2026, 9, 1, 0, 0), utc(2026, 9, 3, 0, 0)).is_empty());
    }

    #[test]
    fn a_week_of_every_minute_has_10080_instants() {
        let r = cron_rule("* * * * *", DEFAULT_TZ);
        let from = utc(2026, 9, 1, 0, 0);
        let got = occurrences(&r, from, from + Duration::days(7));
        assert_eq!(got.len(), 10_080);
        assert!(got.windows(2).all(|w| w[1] - w[0] == Duration::minutes(1)));
    }

    #[test]
    fn a_year_of_a_weekday_rule_is_expanded() {
        let r = cron_rule("30 5,17 * * 1-5", DEFAULT_TZ);
        let got = occurrences(&r, utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0));
        // 2026 has 261 weekdays; the window starts and ends at 07:00 local, which drops
        // 05:30 on Thursday 1 January and adds 05:30 on Friday 1 January 2027.
        assert_eq!(got.len(), 261 * 2);
    }

    #[test]
    fn next_occurrences_finds_rare_rules_and_gives_up_on_impossible_ones() {
        let r = cron_rule("0 0 29 2 *", Tz::UTC);
        let got = next_occurrences(&r, utc(2026, 1, 1, 0, 0), 2);
        assert_eq!(got, vec![utc(2028, 2, 29, 0, 0), utc(2032, 2, 29, 0, 0)]);
        let r = cron_rule("0 0 31 2 *", Tz::UTC);
        assert!(next_occurrences(&r, utc(2026, 1, 1, 0, 0), 3).is_empty());
        let r = cron_rule("0 * * * *", Tz::UTC);
        let got = next_occurrences(&r, utc(2026, 1, 1, 0, 0), 3);
        assert_eq!(got[0], utc(2026, 1, 1, 1, 0), "strictly after");
        assert_eq!(got.len(), 3);
    }

    /// Brute force: every UTC minute in the window, converted to local time, checked with
    /// `matches`, keeping only the first of two instants with the same local time.
    fn brute_force(
        rule: &Rule,
        expr: &CronExpr,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut t = from;
        while t < to {
            let local: NaiveDateTime = t.with_timezone(&rule.tz).naive_local();
            let first = rule
                .tz
                .from_local_datetime(&local)
                .earliest()
                .map(|x| x.with_timezone(&Utc));
            if expr.matches(local) && rule.allows_date(local.date()) && first == Some(t) {
                out.push(t);
            }
            t += Duration::minutes(1);
        }
        out
    }

    fn field(min: u32, max: u32, names: &'static [&'static str]) -> impl Strategy<Value = String> {
        let item = prop_oneof![
            Just("*".to_string()),
            (min..=max).prop_map(|v| v.to_string()),
            (min..=max, min..=max).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
            (1..=max.max(2)).prop_map(|s| format!("*/{s}")),
            (min..=max, min..=max, 1..=max.max(2)).prop_map(|(a, b, s)| format!(
                "{}-{}/{s}",
                a.min(b),
                a.max(b)
            )),
            (min..=max, 1..=max.max(2)).prop_map(|(a, s)| format!("{a}/{s}")),
            (0..names.len().max(1)).prop_map(move |i| names
                .get(i)
                .map_or_else(|| min.to_string(), |n| n.to_string())),
        ];
        prop::collection::vec(item, 1..=3).prop_map(|v| v.join(","))
    }

    const MONTHS: &[&str] = &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

    fn expression() -> impl Strategy<Value = String> {
        (
            field(0, 59, &[]),
            field(0, 23, &[]),
            field(1, 31, &[]),
            field(1, 12, MONTHS),
            field(0, 7, DAYS),
        )
            .prop_map(|(a, b, c, d, e)| format!("{a} {b} {c} {d} {e}"))
    }

    fn zone() -> impl Strategy<Value = Tz> {
        prop_oneof![
            Just(DEFAULT_TZ),
            Just(Berlin),
            Just(New_York),
            Just(chrono_tz::Australia::Lord_Howe)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn occurrences_equal_a_minute_by_minute_brute_force(
            text in expression(),
            tz in zone(),
            // Windows around the 2026 DST changes of Berlin and New York, and elsewhere.
            start_min in prop_oneof![
                Just(0i64),
                (0i64..60 * 24 * 365),
                (60 * 24 * 85i64..60 * 24 * 90),
                (60 * 24 * 297i64..60 * 24 * 306),
            ],
            len_min in 0i64..60 * 24 * 3,
            valid in proptest::option::of((0i64..4, 0i64..4)),
        ) {
            let expr: CronExpr = text.parse().unwrap();
            let from = utc(2026, 1, 1, 0, 0) + Duration::minutes(start_min);
            let to = from + Duration::minutes(len_min);
            let mut rule = cron_rule(&text, tz);
            if let Some((a, b)) = valid {
                let d0 = from.with_timezone(&tz).date_naive();
                rule.starts_on = Some(d0 + Duration::days(a));
                rule.ends_on = Some(d0 + Duration::days(a + b));
                rule.excluded_dates = vec![d0 + Duration::days(a + 1)];
            }
            let got = occurrences(&rule, from, to);
            prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "not strictly increasing");
            prop_assert!(got.iter().all(|t| *t >= from && *t < to), "outside the window");
            prop_assert_eq!(got, brute_force(&rule, &expr, from, to), "{} in {}", text, tz);
        }
    }
}
