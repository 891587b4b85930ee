//! Instants and time windows as the API accepts them, parsed once at the edge.
//!
//! chrono reads RFC 3339 instants from year -262143 to +262143; arithmetic near those ends
//! (a default window of a day after `from`, a time zone's offset, a schedule expanded eight
//! years ahead) overflows and panics. Every instant a client sends is therefore an
//! [`Instant`]: RFC 3339, between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z, else a
//! 4xx naming the field. Windows (`from`, `to`) are a [`Window`]: `to` after `from`, at
//! most a given span. Past the edge, handlers compute with plain `DateTime<Utc>` freely:
//! adding years to an instant below year 10000 cannot overflow.

use crate::error::AppError;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// An instant a client may send: RFC 3339, inside [`Instant::MIN`] ..= [`Instant::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Instant(DateTime<Utc>);

impl Instant {
    /// The earliest accepted instant (1970-01-01T00:00:00Z).
    pub const MIN: DateTime<Utc> = DateTime::UNIX_EPOCH;

    /// The latest accepted instant (9999-12-31T23:59:59Z).
    pub fn max() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
            .single()
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Check `t`; `field` names it in the error.
    pub fn new(field: &str, t: DateTime<Utc>) -> Result<Instant, AppError> {
        if t < Self::MIN || t > Self::max() {
            return Err(AppError::invalid(format!(
                "{field}: {}",
                Self::range_error(t)
            )));
        }
        Ok(Instant(t))
    }

    /// Parse RFC 3339 text; `field` names it in the error.
    pub fn parse(field: &str, s: &str) -> Result<Instant, AppError> {
        let t = DateTime::parse_from_rfc3339(s.trim()).map_err(|e| {
            AppError::invalid(format!(
                "{field}: {s:?} is not an RFC 3339 instant (like 2026-11-30T05:30:00+07:00): {e}"
            ))
        })?;
        Self::new(field, t.with_timezone(&Utc))
    }

    fn range_error(t: DateTime<Utc>) -> String {
        format!(
            "{} is outside the accepted range 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z",
            t.to_rfc3339()
        )
    }

    /// The instant.
    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

impl From<Instant> for DateTime<Utc> {
    fn from(i: Instant) -> Self {
        i.0
    }
}

impl<'de> Deserialize<'de> for Instant {
    /// As `DateTime<Utc>` reads it (serde's message names the field), then the range check.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = DateTime::<Utc>::deserialize(d)?;
        if t < Self::MIN || t > Self::max() {
            return Err(serde::de::Error::custom(Self::range_error(t)));
        }
        Ok(Instant(t))
    }
}

/// A calendar date a client may send (`YYYY-MM-DD`), in the years 1970 to 9999 like
/// [`Instant`]: a schedule's validity dates and excluded dates are turned into instants in
/// the station's time zone, which must not overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Day(NaiveDate);

impl Day {
    /// The date.
    pub fn get(self) -> NaiveDate {
        self.0
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let day = NaiveDate::deserialize(d)?;
        if !(1970..=9999).contains(&day.year()) {
            return Err(serde::de::Error::custom(format!(
                "{day} is outside the accepted range 1970-01-01 to 9999-12-31"
            )));
        }
        Ok(Day(day))
    }
}

/// Optional bounds of a window: (from, to).
pub type Bounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A time window `[from, to)`: `to` after `from`, at most some span long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
}

impl Window {
    /// The window `from`..`to`, each defaulted when absent (`to` by `default_span` after
    /// `from`); refused when `to` is not after `from` or the window is longer than `max`.
    pub fn new(
        from: Option<Instant>,
        to: Option<Instant>,
        default_from: DateTime<Utc>,
        default_span: Duration,
        max: Option<Duration>,
    ) -> Result<Window, AppError> {
        let from = match from {
            Some(f) => f.get(),
            None => Instant::new("from", default_from)?.get(),
        };
        let to = match to {
            Some(t) => t.get(),
            // `from` is below year 10000, so adding a span of days cannot overflow.
            None => from + default_span,
        };
        if to <= from {
            return Err(AppError::invalid("to: must be after from"));
        }
        if let Some(max) = max {
            if to - from > max {
                return Err(AppError::invalid(format!(
                    "to: the window may span at most {} days",
                    max.num_days()
                )));
            }
        }
        Ok(Window { from, to })
    }

    /// `from`..`to` with no default and no bound on the span (both optional, checked in
    /// order when both are given).
    pub fn open(from: Option<Instant>, to: Option<Instant>) -> Result<Bounds, AppError> {
        if let (Some(f), Some(t)) = (from, to) {
            if t <= f {
                return Err(AppError::invalid("to: must be after from"));
            }
        }
        Ok((from.map(Instant::get), to.map(Instant::get)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Q {
        #[allow(dead_code)]
        at: Instant,
    }

    #[test]
    fn instants_outside_the_range_are_refused_with_the_reason() {
        // (text, accepted?)
        let cases = [
            ("2026-11-30T05:30:00+07:00", true),
            ("1970-01-01T00:00:00Z", true),
            ("9999-12-31T23:59:59Z", true),
            ("1969-12-31T23:59:59Z", false),
            ("0001-01-01T00:00:00Z", false),
            ("0000-01-01T00:00:00Z", false),
            ("9999-12-31T23:59:59-01:00", false),
            ("+262143-12-31T23:59:59Z", false),
            ("-262143-01-01T00:00:00Z", false),
            ("not a date", false),
        ];
        for (text, ok) in cases {
            let json = format!("{{\"at\": {text:?}}}");
            let parsed = serde_json::from_str::<Q>(&json);
            assert_eq!(parsed.is_ok(), ok, "{text}: {parsed:?}");
            assert_eq!(Instant::parse("at", text).is_ok(), ok, "{text}");
        }
        for (day, ok) in [
            ("2026-02-28", true),
            ("0001-01-01", false),
            ("+262143-12-31", false),
        ] {
            assert_eq!(
                serde_json::from_str::<Day>(&format!("{day:?}")).is_ok(),
                ok,
                "{day}"
            );
        }
        let e = Instant::parse("from", "0001-01-01T00:00:00Z").unwrap_err();
        assert!(
            e.message.starts_with("from: ") && e.message.contains("1970"),
            "{e}"
        );
    }

    #[test]
    fn windows_are_ordered_and_bounded() {
        let at = |s: &str| Some(Instant::parse("x", s).unwrap());
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
        let day = Duration::days(1);
        let max = Some(Duration::days(31));
        let w = Window::new(None, None, now, day, max).unwrap();
        assert_eq!((w.from, w.to), (now, now + day));
        // The default end of a window starting at the very last instant does not overflow.
        let w = Window::new(at("9999-12-31T23:59:59Z"), None, now, day, max).unwrap();
        assert_eq!(w.to - w.from, day);
        assert!(Window::new(
            at("2026-01-02T00:00:00Z"),
            at("2026-01-01T00:00:00Z"),
            now,
            day,
            max
        )
        .is_err());
        assert!(Window::new(
            at("1970-01-01T00:00:00Z"),
            at("9999-12-31T23:59:59Z"),
            now,
            day,
            max
        )
        .is_err());
        assert!(Window::new(
            at("1970-01-01T00:00:00Z"),
            at("9999-12-31T23:59:59Z"),
            now,
            day,
            None
        )
        .is_ok());
        assert!(Window::open(at("2026-01-02T00:00:00Z"), at("2026-01-01T00:00:00Z")).is_err());
        assert!(Window::open(None, at("2026-01-01T00:00:00Z")).is_ok());
    }
}
