//! The weekday-and-times form compiled to crontab(5) expressions, in one place: the page
//! sends the form's days and times to `GET /api/v1/schedules/preview`, which compiles them
//! here and answers the expressions it then saves. Times sharing a minute share one expression (`30 5,17 * * 1-5` style lists);
//! times at different minutes need one expression each.

use std::collections::BTreeMap;

/// Why the form does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// No weekday ticked.
    #[error("pick at least one day")]
    NoDays,
    /// A time is not `HH:MM`.
    #[error("invalid time {0:?}: expected HH:MM")]
    BadTime(String),
}

/// Compile `days` (crontab numbering: 0 = Sunday … 6 = Saturday) and `times`
/// (comma-separated `HH:MM`) into crontab expressions, one per distinct minute.
pub fn compile(days: &[u8], times: &str) -> Result<Vec<String>, FormError> {
    let mut days: Vec<u8> = days.iter().copied().filter(|d| *d <= 6).collect();
    days.sort_unstable();
    days.dedup();
    if days.is_empty() {
        return Err(FormError::NoDays);
    }
    let dow = if days.len() == 7 {
        "*".to_string()
    } else {
        days.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
    };
    let mut by_minute: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for t in times.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let bad = || FormError::BadTime(t.to_string());
        let (h, m) = t.split_once(':').ok_or_else(bad)?;
        let ok = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !ok(h) || !ok(m) {
            return Err(bad());
        }
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        let hours = by_minute.entry(m).or_default();
        if !hours.contains(&h) {
            hours.push(h);
        }
    }
    if by_minute.is_empty() {
        return Err(FormError::BadTime(times.to_string()));
    }
    Ok(by_minute
        .into_iter()
        .map(|(m, mut hours)| {
            hours.sort_unstable();
            let hs = hours
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            format!("{m} {hs} * * {dow}")
        })
        .collect())
}

/// Cases shared with the browser test: (days, times, expected expressions or `None` when
/// the form is refused).
/// One case: days, times, the expected expressions (`None`: refused).
pub type Case = (&'static [u8], &'static str, Option<&'static [&'static str]>);

/// The shared cases.
pub const CASES: &[Case] = &[
    (
        &[1, 2, 3, 4, 5],
        "05:30, 17:30",
        Some(&["30 5,17 * * 1,2,3,4,5"]),
    ),
    (&[0, 1, 2, 3, 4, 5, 6], "6:00", Some(&["0 6 * * *"])),
    (
        &[6, 0],
        "17:00, 05:30",
        Some(&["0 17 * * 0,6", "30 5 * * 0,6"]),
    ),
    (&[3], "7:05,7:05", Some(&["5 7 * * 3"])),
    (&[], "05:30", None),
    (&[1], "25:00", None),
    (&[1], "5h30", None),
    (&[1], "", None),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekday_forms_compile_to_crontab_that_reads_back() {
        for (days, times, want) in CASES {
            let got = compile(days, times).ok();
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{days:?} {times:?}");
            for expr in got.unwrap_or_default() {
                assert!(schedules::cron::CronExpr::parse(&expr).is_ok(), "{expr}");
            }
        }
    }
}
