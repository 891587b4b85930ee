//! Human descriptions of rules, in Vietnamese and English:
//! "Thứ Hai đến Thứ Sáu, lúc 05:30" / "Monday to Friday at 05:30".
//!
//! The words are built from the parsed sets, not from the text, so they are right for every
//! expression, and natural for the common shapes:
//!
//! | expression | Tiếng Việt | English |
//! | --- | --- | --- |
//! | `30 5 * * 1-5` | Thứ Hai đến Thứ Sáu, lúc 05:30 | Monday to Friday at 05:30 |
//! | `0 17 * * *` | Hằng ngày, lúc 17:00 | Every day at 17:00 |
//! | `30 5,17 * * *` | Hằng ngày, lúc 05:30 và 17:30 | Every day at 05:30 and 17:30 |
//! | `*/15 * * * *` | Mỗi 15 phút | Every 15 minutes |
//! | `0 7 1,15 * *` | Ngày 1 và 15 hằng tháng, lúc 07:00 | On day 1 and 15 of the month at 07:00 |
//! | `0 7 1 * mon` | Ngày 1 hằng tháng hoặc Thứ Hai, lúc 07:00 | On day 1 of the month or on Monday at 07:00 |
//!
//! Up to six times of day are listed (hours × minutes); beyond that the description says
//! "every N minutes", "every hour from … to …" or lists minutes and hours. When
//! day-of-month and day-of-week are both restricted, the description says "or" (crontab(5)'s
//! either-day rule); when a `*`-led day-of-month (like `*/2`) meets a restricted
//! day-of-week, it says "if it is a …".

use crate::cron::CronExpr;
use crate::rule::{Rule, When};
use chrono::NaiveDate;

/// A language for descriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Tiếng Việt (the default).
    Vi,
    /// English.
    En,
}

const VI_DAYS: [&str; 7] = [
    "Chủ Nhật",
    "Thứ Hai",
    "Thứ Ba",
    "Thứ Tư",
    "Thứ Năm",
    "Thứ Sáu",
    "Thứ Bảy",
];
const EN_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The most times of day listed one by one.
const MAX_LISTED_TIMES: usize = 6;

/// "a, b và c" / "a, b and c".
fn join_natural(items: &[String], lang: Lang) -> String {
    let and = match lang {
        Lang::Vi => " và ",
        Lang::En => " and ",
    };
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{}{and}{last}", rest.join(", ")),
    }
}

/// Group values (in the given order) into runs of consecutive values.
fn runs(values: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &v in values {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == v => *end = v,
            _ => out.push((v, v)),
        }
    }
    out
}

/// Runs of three or more as `a<sep>b`, shorter runs item by item.
fn compress(values: &[u32], fmt: impl Fn(u32) -> String, sep: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (a, b) in runs(values) {
        if b >= a + 2 {
            out.push(format!("{}{sep}{}", fmt(a), fmt(b)));
        } else {
            out.extend((a..=b).map(&fmt));
        }
    }
    out
}

/// `Some(n)` when `values` is `0, n, 2n, …` up to the last multiple of `n` below `modulus`,
/// with `n` dividing `modulus` (so the gap is `n` across the wrap too).
fn even_step(values: &[u32], modulus: u32) -> Option<u32> {
    let n = *values.get(1)?;
    if values[0] != 0 || n < 2 || modulus.rem_euclid(n) != 0 {
        return None;
    }
    let want: Vec<u32> = (0..modulus).step_by(n as usize).collect();
    (values == want.as_slice()).then_some(n)
}

/// `Some(n)` when `values` (three or more) go up by the same step `n`.
fn arithmetic(values: &[u32]) -> Option<u32> {
    if values.len() < 3 {
        return None;
    }
    let n = values[1] - values[0];
    values.windows(2).all(|w| w[1] - w[0] == n).then_some(n)
}

fn hhmm(h: u32, m: u32) -> String {
    format!("{h:02}:{m:02}")
}

/// Weekdays, Monday first, runs of three or more as "X to Y"; comma-separated.
fn weekdays(days: &[u32], lang: Lang) -> String {
    // Monday-first positions: Monday = 0 … Sunday = 6.
    let mut pos: Vec<u32> = days.iter().map(|d| (d + 6) % 7).collect();
    pos.sort_unstable();
    let name = |p: u32| {
        let d = ((p + 1) % 7) as usize;
        match lang {
            Lang::Vi => VI_DAYS[d].to_string(),
            Lang::En => EN_DAYS[d].to_string(),
        }
    };
    let sep = match lang {
        Lang::Vi => " đến ",
        Lang::En => " to ",
    };
    compress(&pos, name, sep).join(", ")
}

/// The months: "tháng 1, 7" / "January, July".
fn months(ms: &[u32], lang: Lang) -> String {
    match lang {
        Lang::Vi => format!("tháng {}", compress(ms, |m| m.to_string(), "–").join(", ")),
        Lang::En => compress(ms, |m| EN_MONTHS[(m - 1) as usize].to_string(), " to ").join(", "),
    }
}

/// The days of month: "1 và 15", "1–10".
fn month_days(ds: &[u32], lang: Lang) -> String {
    join_natural(&compress(ds, |d| d.to_string(), "–"), lang)
}

/// How the time of day reads.
enum TimeWords {
    /// A short list of times: "lúc 05:30 và 17:30" / "at 05:30 and 17:30".
    List(String),
    /// Anything else: "mỗi 15 phút" / "every 15 minutes".
    Phrase(String),
}

fn time_words(expr: &CronExpr, lang: Lang) -> TimeWords {
    let hours: Vec<u32> = expr.hours().collect();
    let minutes: Vec<u32> = expr.minutes().collect();
    let vi = lang == Lang::Vi;
    if hours.len() * minutes.len() <= MAX_LISTED_TIMES {
        let times: Vec<String> = hours
            .iter()
            .flat_map(|&h| minutes.iter().map(move |&m| hhmm(h, m)))
            .collect();
        return TimeWords::List(join_natural(&times, lang));
    }
    let all_hours = hours.len() == 24;
    // One minute in many hours: "every hour from 08:00 to 17:00" / "at 06:15, 07:15, …".
    if let [m] = minutes[..] {
        let (first, last) = (hours[0], hours[hours.len() - 1]);
        if let Some(n) = arithmetic(&hours) {
            let every = match (vi, n) {
                (true, 1) => "mỗi giờ".to_string(),
                (true, n) => format!("mỗi {n} giờ"),
                (false, 1) => "every hour".to_string(),
                (false, n) => format!("every {n} hours"),
            };
            if all_hours {
                return TimeWords::Phrase(match lang {
                    Lang::Vi => format!("mỗi giờ, vào phút {m}"),
                    Lang::En => format!("every hour at minute {m}"),
                });
            }
            let (a, b) = (hhmm(first, m), hhmm(last, m));
            return TimeWords::Phrase(match lang {
                Lang::Vi => format!("{every} từ {a} đến {b}"),
                Lang::En => format!("{every} from {a} to {b}"),
            });
        }
        let times: Vec<String> = hours.iter().map(|&h| hhmm(h, m)).collect();
        return TimeWords::List(join_natural(&times, lang));
    }
    let minute_part = if minutes.len() == 60 {
        match lang {
            Lang::Vi => "mỗi phút".to_string(),
            Lang::En => "every minute".to_string(),
        }
    } else if let Some(n) = even_step(&minutes, 60) {
        match lang {
            Lang::Vi => format!("mỗi {n} phút"),
            Lang::En => format!("every {n} minutes"),
        }
    } else {
        let list = join_natural(&compress(&minutes, |m| m.to_string(), "–"), lang);
        let of_hour = all_hours;
        match (lang, of_hour) {
            (Lang::Vi, true) => format!("vào phút {list} mỗi giờ"),
            (Lang::Vi, false) => format!("vào phút {list}"),
            (Lang::En, true) => format!("at minutes {list} of every hour"),
            (Lang::En, false) => format!("at minutes {list}"),
        }
    };
    if all_hours {
        return TimeWords::Phrase(minute_part);
    }
    let hour_part = match runs(&hours)[..] {
        [(a, b)] => match lang {
            Lang::Vi => format!("từ {} đến {}", hhmm(a, 0), hhmm(b, 59)),
            Lang::En => format!("between {} and {}", hhmm(a, 0), hhmm(b, 59)),
        },
        _ => {
            let list = join_natural(&compress(&hours, |h| h.to_string(), "–"), lang);
            match lang {
                Lang::Vi => format!("trong các giờ {list}"),
                Lang::En => format!("during hours {list}"),
            }
        }
    };
    TimeWords::Phrase(format!("{minute_part} {hour_part}"))
}

/// The day part, or None for "every day of every month".
fn day_words(expr: &CronExpr, lang: Lang) -> Option<String> {
    let dom: Vec<u32> = expr.days_of_month().collect();
    let dow: Vec<u32> = expr.days_of_week().collect();
    let ms: Vec<u32> = expr.months().collect();
    let all_dom = dom.len() == 31;
    let all_dow = dow.len() == 7;
    let all_months = ms.len() == 12;
    let vi = lang == Lang::Vi;
    // "hằng tháng" / "of the month", or the months themselves.
    let of_month = match (lang, all_months) {
        (Lang::Vi, true) => "hằng tháng".to_string(),
        (Lang::Vi, false) => months(&ms, lang),
        (Lang::En, true) => "of the month".to_string(),
        (Lang::En, false) => format!("of {}", months(&ms, lang)),
    };
    let in_months = match (lang, all_months) {
        (_, true) => String::new(),
        (Lang::Vi, false) => format!(" trong {}", months(&ms, lang)),
        (Lang::En, false) => format!(" in {}", months(&ms, lang)),
    };
    // Days of month alone take the months ("ngày 1 tháng 1, 7"); combined with weekdays,
    // they say "of the month" and the months come last, as they restrict both.
    let on_days = |ds: &[u32], of_month: &str| match lang {
        Lang::Vi => format!("ngày {} {of_month}", month_days(ds, lang)),
        Lang::En => format!("on day {} {of_month}", month_days(ds, lang)),
    };
    let every_month = match lang {
        Lang::Vi => "hằng tháng",
        Lang::En => "of the month",
    };
    if expr.days_either() && !(all_dom && all_dow) {
        // Both restricted: crontab(5) fires on either. (`1-31` and `0-7` are "restricted"
        // too, but then one side is every day and so is the union.)
        if all_dom || all_dow {
            return (!all_months).then(|| match lang {
                Lang::Vi => format!("hằng ngày{in_months}"),
                Lang::En => format!("every day{in_months}"),
            });
        }
        return Some(match lang {
            Lang::Vi => format!(
                "{} hoặc {}{in_months}",
                on_days(&dom, every_month),
                or_days(&dow, lang)
            ),
            Lang::En => format!(
                "{} or on {}{in_months}",
                on_days(&dom, every_month),
                or_days(&dow, lang)
            ),
        });
    }
    match (all_dom, all_dow) {
        (true, true) => (!all_months).then(|| {
            if vi {
                format!("hằng ngày{in_months}")
            } else {
                format!("every day{in_months}")
            }
        }),
        (true, false) => Some(format!("{}{in_months}", weekdays(&dow, lang))),
        (false, true) => Some(on_days(&dom, &of_month)),
        (false, false) => Some(match lang {
            Lang::Vi => format!(
                "{}, nếu là {}{in_months}",
                on_days(&dom, every_month),
                or_days(&dow, lang)
            ),
            Lang::En => format!(
                "{} if it is a {}{in_months}",
                on_days(&dom, every_month),
                or_days(&dow, lang)
            ),
        }),
    }
}

/// "Thứ Hai hoặc Thứ Sáu" / "Monday or Friday".
fn or_days(dow: &[u32], lang: Lang) -> String {
    let w = weekdays(dow, lang);
    match (lang, w.rsplit_once(", ")) {
        (Lang::Vi, Some((a, b))) => format!("{a} hoặc {b}"),
        (Lang::En, Some((a, b))) => format!("{a} or {b}"),
        (_, None) => w,
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Describe a crontab(5) expression in words.
pub fn describe_cron(expr: &CronExpr, lang: Lang) -> String {
    let day = day_words(expr, lang);
    let time = time_words(expr, lang);
    let text = match (day, time, lang) {
        (None, TimeWords::Phrase(p), _) => p,
        (None, TimeWords::List(t), Lang::Vi) => format!("hằng ngày, lúc {t}"),
        (None, TimeWords::List(t), Lang::En) => format!("every day at {t}"),
        (Some(d), TimeWords::List(t), Lang::Vi) => format!("{d}, lúc {t}"),
        (Some(d), TimeWords::List(t), Lang::En) => format!("{d} at {t}"),
        (Some(d), TimeWords::Phrase(p), _) => format!("{d}, {p}"),
    };
    capitalize(&text)
}

fn date_words(d: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Vi => d.format("%d/%m/%Y").to_string(),
        Lang::En => d.format("%Y-%m-%d").to_string(),
    }
}

/// Describe a rule in words: its recurrence (or its one time, in the rule's time zone), its
/// validity dates and its excluded dates.
///
/// "Một lần, 05:30 ngày 02/09/2026" / "Once, 2026-09-02 05:30";
/// "Thứ Hai đến Thứ Sáu, lúc 05:30 (từ 01/09/2026 đến 30/09/2026; trừ 02/09/2026)" /
/// "Monday to Friday at 05:30 (from 2026-09-01 to 2026-09-30; except 2026-09-02)".
pub fn describe_rule(rule: &Rule, lang: Lang) -> String {
    let mut text = match &rule.when {
        When::Cron(expr) => describe_cron(expr, lang),
        When::At(at) => {
            let local = at.with_timezone(&rule.tz);
            match lang {
                Lang::Vi => format!("Một lần, {}", local.format("%H:%M ngày %d/%m/%Y")),
                Lang::En => format!("Once, {}", local.format("%Y-%m-%d %H:%M")),
            }
        }
    };
    let mut notes = Vec::new();
    let validity = match (rule.starts_on, rule.ends_on, lang) {
        (Some(a), Some(b), Lang::Vi) => Some(format!(
            "từ {} đến {}",
            date_words(a, lang),
            date_words(b, lang)
        )),
        (Some(a), Some(b), Lang::En) => Some(format!(
            "from {} to {}",
            date_words(a, lang),
            date_words(b, lang)
        )),
        (Some(a), None, Lang::Vi) => Some(format!("từ {}", date_words(a, lang))),
        (Some(a), None, Lang::En) => Some(format!("from {}", date_words(a, lang))),
        (None, Some(b), Lang::Vi) => Some(format!("đến hết {}", date_words(b, lang))),
        (None, Some(b), Lang::En) => Some(format!("until {}", date_words(b, lang))),
        (None, None, _) => None,
    };
    notes.extend(validity);
    if !rule.excluded_dates.is_empty() {
        let mut dates = rule.excluded_dates.clone();
        dates.sort_unstable();
        dates.dedup();
        let list: Vec<String> = dates.iter().map(|d| date_words(*d, lang)).collect();
        notes.push(match lang {
            Lang::Vi => format!("trừ {}", join_natural(&list, lang)),
            Lang::En => format!("except {}", join_natural(&list, lang)),
        });
    }
    if !notes.is_empty() {
        text = format!("{text} ({})", notes.join("; "));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Priority;
    use chrono::{TimeZone, Utc};

    fn both(expr: &str) -> (String, String) {
        let e: CronExpr = expr.parse().unwrap();
        (describe_cron(&e, Lang::Vi), describe_cron(&e, Lang::En))
    }

    #[test]
    fn common_shapes_read_naturally_in_both_languages() {
        let cases = [
            (
                "30 5 * * 1-5",
                "Thứ Hai đến Thứ Sáu, lúc 05:30",
                "Monday to Friday at 05:30",
            ),
            ("0 17 * * *", "Hằng ngày, lúc 17:00", "Every day at 17:00"),
            (
                "30 5,17 * * *",
                "Hằng ngày, lúc 05:30 và 17:30",
                "Every day at 05:30 and 17:30",
            ),
            (
                "0,30 6 * * *",
                "Hằng ngày, lúc 06:00 và 06:30",
                "Every day at 06:00 and 06:30",
            ),
            ("*/15 * * * *", "Mỗi 15 phút", "Every 15 minutes"),
            ("* * * * *", "Mỗi phút", "Every minute"),
            ("@hourly", "Mỗi giờ, vào phút 0", "Every hour at minute 0"),
            (
                "0 7 1,15 * *",
                "Ngày 1 và 15 hằng tháng, lúc 07:00",
                "On day 1 and 15 of the month at 07:00",
            ),
            (
                "0 7 * 1,7 *",
                "Hằng ngày trong tháng 1, 7, lúc 07:00",
                "Every day in January, July at 07:00",
            ),
            (
                "0 7 1 1,7 *",
                "Ngày 1 tháng 1, 7, lúc 07:00",
                "On day 1 of January, July at 07:00",
            ),
            (
                "0 6 * * 1,3,5",
                "Thứ Hai, Thứ Tư, Thứ Sáu, lúc 06:00",
                "Monday, Wednesday, Friday at 06:00",
            ),
            ("0 8 * * 0", "Chủ Nhật, lúc 08:00", "Sunday at 08:00"),
            (
                "0 8 * * 6,7",
                "Thứ Bảy, Chủ Nhật, lúc 08:00",
                "Saturday, Sunday at 08:00",
            ),
            (
                "0 0 1 * mon",
                "Ngày 1 hằng tháng hoặc Thứ Hai, lúc 00:00",
                "On day 1 of the month or on Monday at 00:00",
            ),
            (
                "0 0 */10 * mon,fri",
                "Ngày 1, 11, 21 và 31 hằng tháng, nếu là Thứ Hai hoặc Thứ Sáu, lúc 00:00",
                "On day 1, 11, 21 and 31 of the month if it is a Monday or Friday at 00:00",
            ),
            (
                "0 8-17 * * *",
                "Mỗi giờ từ 08:00 đến 17:00",
                "Every hour from 08:00 to 17:00",
            ),
            (
                "0 */2 * * *",
                "Mỗi 2 giờ từ 00:00 đến 22:00",
                "Every 2 hours from 00:00 to 22:00",
            ),
            (
                "*/15 8-17 * * 1-5",
                "Thứ Hai đến Thứ Sáu, mỗi 15 phút từ 08:00 đến 17:59",
                "Monday to Friday, every 15 minutes between 08:00 and 17:59",
            ),
            (
                "0,25,40 6,12,18 * * *",
                "Vào phút 0, 25 và 40 trong các giờ 6, 12 và 18",
                "At minutes 0, 25 and 40 during hours 6, 12 and 18",
            ),
            (
                "*/20 6,12,18 * * *",
                "Mỗi 20 phút trong các giờ 6, 12 và 18",
                "Every 20 minutes during hours 6, 12 and 18",
            ),
            (
                "*/7 * * * *",
                "Vào phút 0, 7, 14, 21, 28, 35, 42, 49 và 56 mỗi giờ",
                "At minutes 0, 7, 14, 21, 28, 35, 42, 49 and 56 of every hour",
            ),
            (
                "15 1,5,6,9,20,21,22 * * *",
                "Hằng ngày, lúc 01:15, 05:15, 06:15, 09:15, 20:15, 21:15 và 22:15",
                "Every day at 01:15, 05:15, 06:15, 09:15, 20:15, 21:15 and 22:15",
            ),
            (
                "@yearly",
                "Ngày 1 tháng 1, lúc 00:00",
                "On day 1 of January at 00:00",
            ),
        ];
        for (expr, vi, en) in cases {
            assert_eq!(both(expr), (vi.to_string(), en.to_string()), "{expr}");
        }
    }

    #[test]
    fn every_expression_gets_some_words() {
        for expr in [
            "0 0 1-31 * 0-7",
            "0 0 1-31 * mon",
            "1-59/2 */5 2-30/3 feb-nov 1-5/2",
        ] {
            let (vi, en) = both(expr);
            assert!(!vi.is_empty() && !en.is_empty(), "{expr}");
        }
        // Both restricted but one side is "every day": the union is every day.
        assert_eq!(both("0 0 1-31 * mon").1, "Every day at 00:00");
    }

    fn rule(when: When) -> Rule {
        Rule {
            id: "r".into(),
            when,
            tz: crate::rule::DEFAULT_TZ,
            starts_on: None,
            ends_on: None,
            excluded_dates: Vec::new(),
            priority: Priority::Normal,
            duration_ms: 0,
            max_wait_ms: 0,
        }
    }

    #[test]
    fn one_off_rules_read_in_the_station_time_zone() {
        let at = Utc.with_ymd_and_hms(2026, 9, 1, 22, 30, 0).unwrap();
        let r = rule(When::At(at));
        assert_eq!(
            describe_rule(&r, Lang::Vi),
            "Một lần, 05:30 ngày 02/09/2026"
        );
        assert_eq!(describe_rule(&r, Lang::En), "Once, 2026-09-02 05:30");
    }

    #[test]
    fn validity_and_excluded_dates_are_described() {
        let mut r = rule(When::Cron("30 5 * * 1-5".parse().unwrap()));
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        r.starts_on = Some(d(9, 1));
        r.ends_on = Some(d(9, 30));
        r.excluded_dates = vec![d(9, 2), d(9, 3)];
        assert_eq!(
            describe_rule(&r, Lang::Vi),
            "Thứ Hai đến Thứ Sáu, lúc 05:30 (từ 01/09/2026 đến 30/09/2026; trừ 02/09/2026 và 03/09/2026)"
        );
        assert_eq!(
            describe_rule(&r, Lang::En),
            "Monday to Friday at 05:30 (from 2026-09-01 to 2026-09-30; except 2026-09-02 and 2026-09-03)"
        );
        r.starts_on = None;
        r.excluded_dates.clear();
        assert_eq!(
            describe_rule(&r, Lang::En),
            "Monday to Friday at 05:30 (until 2026-09-30)"
        );
        assert_eq!(
            describe_rule(&r, Lang::Vi),
            "Thứ Hai đến Thứ Sáu, lúc 05:30 (đến hết 30/09/2026)"
        );
    }
}
