//! crontab(5) expressions, read exactly as `man 5 crontab` reads them.
//!
//! Five fields: minute hour day-of-month month day-of-week, with numbers, names
//! (`jan`…`dec`, `sun`…`sat`), ranges, steps (`*/15`, `1-30/7`), lists and `*`;
//! Sunday is 0 or 7; the macros `@yearly`/`@annually`/`@monthly`/`@weekly`/`@daily`/`@midnight`/`@hourly`.
//! When both day-of-month and day-of-week are restricted (neither starts with `*`), a day
//! matching *either* fires.
//!
//! # How a field is read
//!
//! | field | values | names |
//! | --- | --- | --- |
//! | minute | 0–59 | |
//! | hour | 0–23 | |
//! | day-of-month | 1–31 | |
//! | month | 1–12 | `jan`…`dec` |
//! | day-of-week | 0–7 (0 and 7 are Sunday) | `sun`…`sat` |
//!
//! A field is a comma-separated list of items; an item is `*`, a number (or name), or a
//! range `a-b`, optionally followed by a step `/n`: `*/15` is every 15th value from the
//! field's minimum, `1-30/7` is 1, 8, 15, 22, 29, and `a/n` (as cronie reads it) means
//! `a-max/n`. Names are case-insensitive. A range whose start is after its end, a step of
//! 0, a value out of range and an empty list item are refused, with a message that names
//! the field.
//!
//! # The day rule
//!
//! crontab(5): "If both fields are restricted (i.e., do not start with `*`), the command
//! will be run when *either* field matches the current time." So `0 0 1,15 * mon` fires on
//! the 1st, on the 15th *and* on every Monday, while `0 0 * * mon` fires only on Mondays and
//! `0 0 */2 * mon` (day-of-month starts with `*`) only on Mondays that fall on an odd day.
//!
//! This module does not use the `cron` crate, whose reading differs (a seconds field,
//! Sunday = 1, day-of-month and day-of-week always ANDed).

use crate::types::ParseError;
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use std::fmt;
use std::str::FromStr;

/// A parsed crontab(5) expression. Its `Display` gives back the text it was parsed from (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    text: String,
    /// Bit `m` set: fires at minute `m` (0–59).
    minutes: u64,
    /// Bit `h` set: fires at hour `h` (0–23).
    hours: u32,
    /// Bit `d` set: day-of-month `d` (1–31).
    days_of_month: u32,
    /// Bit `m` set: month `m` (1–12).
    months: u16,
    /// Bit `w` set: weekday `w`, 0 = Sunday … 6 = Saturday (7 is folded into 0).
    days_of_week: u8,
    /// The day-of-month field starts with `*`.
    dom_star: bool,
    /// The day-of-week field starts with `*`.
    dow_star: bool,
}

const FIELD_NAMES: &str = "minute hour day-of-month month day-of-week";

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// What one field accepts.
struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for `min`, `min + 1`, …
    names: &'static [&'static str],
    names_hint: &'static str,
}

const MINUTE: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    names_hint: "",
};
const HOUR: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    names_hint: "",
};
const DOM: FieldSpec = FieldSpec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    names_hint: "",
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &MONTH_NAMES,
    names_hint: " or a month name (jan..dec)",
};
const DOW: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &DAY_NAMES,
    names_hint: " or a day name (sun..sat)",
};

impl FieldSpec {
    fn err(&self, msg: impl fmt::Display) -> ParseError {
        ParseError(format!("{}: {msg}", self.name))
    }

    /// A number or a name, checked against the range.
    fn value(&self, s: &str) -> Result<u32, ParseError> {
        if s.is_empty() {
            return Err(self.err("missing number"));
        }
        let v = if s.bytes().all(|b| b.is_ascii_digit()) {
            // Many digits would overflow: they are out of range anyway.
            s.parse::<u32>().unwrap_or(u32::MAX)
        } else if let Some(i) = self.names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            self.min + i as u32
        } else {
            return Err(self.err(format!(
                "{s:?} is not a number{}",
                if self.names.is_empty() {
                    ""
                } else {
                    self.names_hint
                }
            )));
        };
        if v < self.min || v > self.max {
            let shown = if v == u32::MAX {
                s.to_string()
            } else {
                v.to_string()
            };
            return Err(self.err(format!("{shown} is out of range {}-{}", self.min, self.max)));
        }
        Ok(v)
    }

    /// Parse a whole field into a bitset over `min..=max`.
    fn parse(&self, field: &str) -> Result<u64, ParseError> {
        let mut bits = 0u64;
        for item in field.split(',') {
            if item.is_empty() {
                return Err(self.err(format!("empty list item in {field:?}")));
            }
            let (base, step) = match item.split_once('/') {
                Some((b, s)) => {
                    if s.is_empty() {
                        return Err(self.err(format!("missing step after '/' in {item:?}")));
                    }
                    if !s.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(self.err(format!("step {s:?} is not a number")));
                    }
                    let n = s.parse::<u32>().unwrap_or(u32::MAX);
                    if n == 0 {
                        return Err(
                            self.err(format!("step 0 in {item:?}: a step must be at least 1"))
                        );
                    }
                    (b, Some(n))
                }
                None => (item, None),
            };
            let (lo, hi) = if base == "*" {
                (self.min, self.max)
            } else if let Some((a, b)) = base.split_once('-') {
                let (a, b) = (self.value(a)?, self.value(b)?);
                if a > b {
                    return Err(self.err(format!(
                        "range {a}-{b} starts after it ends (ranges do not wrap around)"
                    )));
                }
                (a, b)
            } else {
                let a = self.value(base)?;
                // `a/n` is `a-max/n`, as cronie reads it.
                (a, if step.is_some() { self.max } else { a })
            };
            let step = step.unwrap_or(1);
            let mut v = lo;
            while v <= hi {
                bits |= 1 << v;
                v = match v.checked_add(step) {
                    Some(n) => n,
                    None => break,
                };
            }
        }
        Ok(bits)
    }
}

/// The five-field equivalent of a macro, or an error.
fn expand_macro(text: &str) -> Result<&'static str, ParseError> {
    match text.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => Ok("0 0 1 1 *"),
        "@monthly" => Ok("0 0 1 * *"),
        "@weekly" => Ok("0 0 * * 0"),
        "@daily" | "@midnight" => Ok("0 0 * * *"),
        "@hourly" => Ok("0 * * * *"),
        "@reboot" => Err(ParseError(
            "@reboot is not a time: it means \"when cron starts\", which a schedule cannot express"
                .to_string(),
        )),
        _ => Err(ParseError(format!(
            "unknown macro {text:?}: expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
        ))),
    }
}

/// Iterate the set bits of `bits`, lowest first.
pub(crate) fn bits_iter(bits: u64) -> impl Iterator<Item = u32> {
    (0..64u32).filter(move |b| bits & (1 << b) != 0)
}

impl CronExpr {
    /// Parse a crontab(5) expression. The error names the field and what was wrong.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let text = text.trim();
        if text.starts_with('@') {
            let fields = expand_macro(text)?;
            let mut e = Self::parse_fields(fields)?;
            e.text = text.to_ascii_lowercase();
            return Ok(e);
        }
        Self::parse_fields(text)
    }

    fn parse_fields(text: &str) -> Result<Self, ParseError> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(ParseError(format!(
                "expected 5 fields ({FIELD_NAMES}), got {}",
                fields.len()
            )));
        }
        let minutes = MINUTE.parse(fields[0])?;
        let hours = HOUR.parse(fields[1])? as u32;
        let days_of_month = DOM.parse(fields[2])? as u32;
        let months = MONTH.parse(fields[3])? as u16;
        let dow = DOW.parse(fields[4])?;
        // 7 is Sunday too.
        let days_of_week = ((dow | (dow >> 7)) & 0x7f) as u8;
        Ok(Self {
            text: fields.join(" "),
            minutes,
            hours,
            days_of_month,
            months,
            days_of_week,
            dom_star: fields[2].starts_with('*'),
            dow_star: fields[4].starts_with('*'),
        })
    }

    /// Does this expression fire at this local wall-clock minute (seconds ignored)?
    pub fn matches(&self, local: NaiveDateTime) -> bool {
        self.minutes & (1 << local.minute()) != 0
            && self.hours & (1 << local.hour()) != 0
            && self.fires_on(local.date())
    }

    /// Does this expression fire on some minute of this local date? (Month, day-of-month and
    /// day-of-week, with crontab(5)'s either-day rule.)
    pub fn fires_on(&self, date: NaiveDate) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let dom = self.days_of_month & (1 << date.day()) != 0;
        let dow = self.days_of_week & (1 << date.weekday().num_days_from_sunday()) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The minutes (0–59) it fires at, ascending.
    pub fn minutes(&self) -> impl Iterator<Item = u32> {
        bits_iter(self.minutes)
    }

    /// The hours (0–23) it fires at, ascending.
    pub fn hours(&self) -> impl Iterator<Item = u32> {
        bits_iter(self.hours.into())
    }

    /// The days of month (1–31) in its set, ascending (see [`CronExpr::fires_on`] for how
    /// they combine with the days of week).
    pub fn days_of_month(&self) -> impl Iterator<Item = u32> {
        bits_iter(self.days_of_month.into())
    }

    /// The months (1–12) it fires in, ascending.
    pub fn months(&self) -> impl Iterator<Item = u32> {
        bits_iter(self.months.into())
    }

    /// The days of week in its set, 0 = Sunday … 6 = Saturday, ascending.
    pub fn days_of_week(&self) -> impl Iterator<Item = u32> {
        bits_iter(self.days_of_week.into())
    }

    /// True when day-of-month and day-of-week are both restricted (neither field starts
    /// with `*`), so a day matching either fires.
    pub fn days_either(&self) -> bool {
        !self.dom_star && !self.dow_star
    }

    /// The expression's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for CronExpr {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Serialized as its text.
impl serde::Serialize for CronExpr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// Deserialized from its text, refusing what [`CronExpr::parse`] refuses.
impl<'de> serde::Deserialize<'de> for CronExpr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    fn set(it: impl Iterator<Item = u32>) -> Vec<u32> {
        it.collect()
    }

    #[test]
    fn fields_read_as_crontab5_reads_them() {
        // (expression, field, expected set)
        type Getter = fn(&CronExpr) -> Vec<u32>;
        let min: Getter = |e| set(e.minutes());
        let hour: Getter = |e| set(e.hours());
        let dom: Getter = |e| set(e.days_of_month());
        let month: Getter = |e| set(e.months());
        let dow: Getter = |e| set(e.days_of_week());
        let cases: &[(&str, Getter, Vec<u32>)] = &[
            ("*/15 * * * *", min, vec![0, 15, 30, 45]),
            ("0-10/5 * * * *", min, vec![0, 5, 10]),
            ("50/4 * * * *", min, vec![50, 54, 58]),
            ("1,2,59 * * * *", min, vec![1, 2, 59]),
            ("5 */6 * * *", hour, vec![0, 6, 12, 18]),
            ("5 5,17 * * *", hour, vec![5, 17]),
            ("0 0 1-30/7 * *", dom, vec![1, 8, 15, 22, 29]),
            ("0 0 */10 * *", dom, vec![1, 11, 21, 31]),
            ("0 0 * jan,JUL *", month, vec![1, 7]),
            ("0 0 * mar-may *", month, vec![3, 4, 5]),
            ("0 0 * */3 *", month, vec![1, 4, 7, 10]),
            ("0 0 * * 0", dow, vec![0]),
            ("0 0 * * 7", dow, vec![0]),
            ("0 0 * * 5-7", dow, vec![0, 5, 6]),
            ("0 0 * * Mon-Fri", dow, vec![1, 2, 3, 4, 5]),
            ("0 0 * * sun,SAT", dow, vec![0, 6]),
            ("0 0 * * */2", dow, vec![0, 2, 4, 6]),
            ("0 0 * * *", dow, vec![0, 1, 2, 3, 4, 5, 6]),
        ];
        for (text, get, want) in cases {
            let e = CronExpr::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
            assert_eq!(&get(&e), want, "{text}");
        }
    }

    #[test]
    fn macros_mean_their_five_field_forms() {
        for (mac, fields) in [
            ("@yearly", "0 0 1 1 *"),
            ("@annually", "0 0 1 1 *"),
            ("@monthly", "0 0 1 * *"),
            ("@weekly", "0 0 * * 0"),
            ("@daily", "0 0 * * *"),
            ("@midnight", "0 0 * * *"),
            ("@hourly", "0 * * * *"),
        ] {
            let m = CronExpr::parse(mac).unwrap();
            let f = CronExpr::parse(fields).unwrap();
            assert_eq!(m.as_str(), mac);
            // Same meaning: compare everything but the text.
            let mut m2 = m.clone();
            m2.text = f.text.clone();
            assert_eq!(m2, f, "{mac}");
        }
    }

    #[test]
    fn serde_uses_the_text_and_refuses_bad_expressions() {
        let e: CronExpr = serde_json::from_str("\"30 5 * * 1-5\"").unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"30 5 * * 1-5\"");
        let err = serde_json::from_str::<CronExpr>("\"0 25 * * *\"").unwrap_err();
        assert!(
            err.to_string().contains("hour: 25 is out of range 0-23"),
            "{err}"
        );
    }

    #[test]
    fn whitespace_is_trimmed_and_collapsed() {
        let e = CronExpr::parse("  30\t5  *   * 1-5 \n").unwrap();
        assert_eq!(e.to_string(), "30 5 * * 1-5");
        assert_eq!(e.as_str(), "30 5 * * 1-5");
    }

    #[test]
    fn day_of_month_and_day_of_week_both_restricted_fire_on_either() {
        // 2026-06-01 is a Monday; 2026-06-02 a Tuesday; 2026-06-08 a Monday;
        // 2026-06-15 a Monday; 2026-07-01 a Wednesday; 2026-07-15 a Wednesday.
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let cases: &[(&str, NaiveDate, bool)] = &[
            ("0 0 1,15 * mon", day(2026, 7, 1), true), // the 1st, a Wednesday
            ("0 0 1,15 * mon", day(2026, 7, 15), true), // the 15th, a Wednesday
            ("0 0 1,15 * mon", day(2026, 6, 8), true), // a Monday, the 8th
            ("0 0 1,15 * mon", day(2026, 6, 2), false), // a Tuesday, the 2nd
            ("0 0 * * mon", day(2026, 6, 8), true),
            ("0 0 * * mon", day(2026, 7, 1), false),
            ("0 0 1 * *", day(2026, 7, 1), true),
            ("0 0 1 * *", day(2026, 6, 8), false),
            // `*/2` starts with `*`: both must match (odd day AND Monday).
            ("0 0 */2 * mon", day(2026, 6, 1), true),
            ("0 0 */2 * mon", day(2026, 6, 8), false),
            ("0 0 */2 * mon", day(2026, 7, 1), false),
            // Sunday as 0 and as 7. 2026-06-07 is a Sunday.
            ("0 0 * * 0", day(2026, 6, 7), true),
            ("0 0 * * 7", day(2026, 6, 7), true),
            ("0 0 * * 7", day(2026, 6, 8), false),
            // Month restricts even an either-day rule.
            ("0 0 1 jul mon", day(2026, 6, 1), false),
            ("0 0 1 jul mon", day(2026, 7, 6), true),
        ];
        for (text, date, want) in cases {
            let e = CronExpr::parse(text).unwrap();
            assert_eq!(e.fires_on(*date), *want, "{text} on {date}");
        }
    }

    #[test]
    fn matches_checks_minute_and_hour_too() {
        let e = CronExpr::parse("30 5 * * 1-5").unwrap();
        assert!(e.matches(at(2026, 6, 1, 5, 30)));
        assert!(!e.matches(at(2026, 6, 1, 5, 31)));
        assert!(!e.matches(at(2026, 6, 1, 6, 30)));
        assert!(!e.matches(at(2026, 6, 7, 5, 30))); // Sunday
    }

    #[test]
    fn bad_expressions_are_refused_with_a_message_naming_the_field() {
        let cases = [
            (
                "",
                "expected 5 fields (minute hour day-of-month month day-of-week), got 0",
            ),
            (
                "* * * *",
                "expected 5 fields (minute hour day-of-month month day-of-week), got 4",
            ),
            (
                "* * * * * *",
                "expected 5 fields (minute hour day-of-month month day-of-week), got 6",
            ),
            ("0 25 * * *", "hour: 25 is out of range 0-23"),
            ("60 0 * * *", "minute: 60 is out of range 0-59"),
            ("0 0 0 * *", "day-of-month: 0 is out of range 1-31"),
            ("0 0 32 * *", "day-of-month: 32 is out of range 1-31"),
            ("0 0 * 13 *", "month: 13 is out of range 1-12"),
            ("0 0 * * 8", "day-of-week: 8 is out of range 0-7"),
            (
                "0 0 * * 99999999999",
                "day-of-week: 99999999999 is out of range 0-7",
            ),
            (
                "5-3 * * * *",
                "minute: range 5-3 starts after it ends (ranges do not wrap around)",
            ),
            (
                "*/0 * * * *",
                "minute: step 0 in \"*/0\": a step must be at least 1",
            ),
            ("1,,2 * * * *", "minute: empty list item in \"1,,2\""),
            ("1, * * * *", "minute: empty list item in \"1,\""),
            ("x * * * *", "minute: \"x\" is not a number"),
            (
                "0 0 * foo *",
                "month: \"foo\" is not a number or a month name (jan..dec)",
            ),
            (
                "0 0 * * funday",
                "day-of-week: \"funday\" is not a number or a day name (sun..sat)",
            ),
            ("0 0 * * mon-", "day-of-week: missing number"),
            ("*/ * * * *", "minute: missing step after '/' in \"*/\""),
            ("*/x * * * *", "minute: step \"x\" is not a number"),
            ("1-2-3 * * * *", "minute: \"2-3\" is not a number"),
        ];
        for (text, want) in cases {
            let err = CronExpr::parse(text).expect_err(text);
            assert_eq!(err.to_string(), want, "{text:?}");
        }
        let reboot = CronExpr::parse("@reboot").unwrap_err().to_string();
        assert!(reboot.contains("@reboot is not a time"), "{reboot}");
        let unknown = CronExpr::parse("@often").unwrap_err().to_string();
        assert!(unknown.starts_with("unknown macro \"@often\""), "{unknown}");
    }

    use proptest::prelude::*;

    /// The reference reading of one `a-b/s` item: every s-th value from a to b.
    fn reference(a: u32, b: u32, s: u32) -> Vec<u32> {
        (a..=b).step_by(s as usize).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn ranges_with_steps_read_as_every_nth_value(
            x in 0u32..60, y in 0u32..60, step in 1u32..70, list_extra in 0u32..60,
        ) {
            let (a, b) = (x.min(y), x.max(y));
            let e = CronExpr::parse(&format!("{a}-{b}/{step},{list_extra} * * * *")).unwrap();
            let mut want = reference(a, b, step);
            want.push(list_extra);
            want.sort_unstable();
            want.dedup();
            prop_assert_eq!(e.minutes().collect::<Vec<_>>(), want);
            // `a/n` is `a-59/n`.
            let e = CronExpr::parse(&format!("{a}/{step} * * * *")).unwrap();
            prop_assert_eq!(e.minutes().collect::<Vec<_>>(), reference(a, 59, step));
        }

        #[test]
        fn day_of_week_7_is_read_as_sunday_in_ranges_and_steps(
            x in 0u32..8, y in 0u32..8, step in 1u32..9,
        ) {
            let (a, b) = (x.min(y), x.max(y));
            let e = CronExpr::parse(&format!("0 0 * * {a}-{b}/{step}")).unwrap();
            let mut want: Vec<u32> = reference(a, b, step).into_iter().map(|d| d % 7).collect();
            want.sort_unstable();
            want.dedup();
            prop_assert_eq!(e.days_of_week().collect::<Vec<_>>(), want);
        }

        #[test]
        fn text_parses_back_to_the_same_expression(
            m in 0u32..60, h in 0u32..24, d in 1u32..32, mo in 1u32..13, w in 0u32..8,
        ) {
            let e = CronExpr::parse(&format!(" {m}  {h} {d}\t{mo} {w} ")).unwrap();
            prop_assert_eq!(CronExpr::parse(&e.to_string()).unwrap(), e);
        }
    }
}
