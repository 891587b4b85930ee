//! The airtime report of a period and an area: counts by status, aired and scheduled
//! minutes, compliance — per station and category, per station, per category, per day.
//!
//! Whole local days of the period are read from the daily rollup `log_days` (kept by
//! triggers on `logs`); the stretches before the first and after the last whole day are
//! read from the entries through the covering index `logs_report`, grouped by station,
//! category and UTC hour and folded into local dates (exact for every zone whose offset
//! is a whole number of hours, Việt Nam's included).

use crate::db::areas::SUBTREE_CTE as SUBTREE;
use crate::db::sql::{params, Backend, Connection};
use crate::db::ts;
use crate::error::AppError;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Counts and airtime of a set of log entries.
///
/// `scheduled` = played + interrupted + skipped + failed + missed + awaiting (every
/// occurrence that was due has exactly one entry, or awaits it: see
/// [`super::awaiting`]). `compliance_pct` = 100 × aired ÷ scheduled airtime,
/// where aired airtime is the sum of `played_ms` and scheduled airtime the sum of
/// `planned_ms` (each occurrence's full length); `None` when nothing was due.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Occurrences due.
    pub scheduled: i64,
    /// Played to the end.
    pub played: i64,
    /// Cut off by an emergency.
    pub interrupted: i64,
    /// Waited too long behind another item.
    pub skipped: i64,
    /// Could not be played.
    pub failed: i64,
    /// No trace from the station (made by reconciliation) or logged missed.
    pub missed: i64,
    /// Due, not judged yet, no log entry from the station so far.
    pub awaiting: i64,
    /// Milliseconds on air.
    pub aired_ms: i64,
    /// Milliseconds due.
    pub scheduled_ms: i64,
}

impl Counts {
    /// Add `o` in, saturating: a figure never wraps, whatever a device claimed.
    pub fn add(&mut self, o: &Counts) {
        self.scheduled = self.scheduled.saturating_add(o.scheduled);
        self.played = self.played.saturating_add(o.played);
        self.interrupted = self.interrupted.saturating_add(o.interrupted);
        self.skipped = self.skipped.saturating_add(o.skipped);
        self.failed = self.failed.saturating_add(o.failed);
        self.missed = self.missed.saturating_add(o.missed);
        self.awaiting = self.awaiting.saturating_add(o.awaiting);
        self.aired_ms = self.aired_ms.saturating_add(o.aired_ms);
        self.scheduled_ms = self.scheduled_ms.saturating_add(o.scheduled_ms);
    }

    /// Minutes on air.
    pub fn aired_minutes(&self) -> f64 {
        self.aired_ms as f64 / 60_000.0
    }

    /// Minutes due.
    pub fn scheduled_minutes(&self) -> f64 {
        self.scheduled_ms as f64 / 60_000.0
    }

    /// 100 × aired ÷ scheduled airtime; `None` when no airtime was due.
    pub fn compliance_pct(&self) -> Option<f64> {
        (self.scheduled_ms > 0).then(|| 100.0 * self.aired_ms as f64 / self.scheduled_ms as f64)
    }
}

/// Counts as answered in JSON: the raw counts plus minutes and compliance.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// Occurrences due.
    pub scheduled: i64,
    /// Played.
    pub played: i64,
    /// Interrupted.
    pub interrupted: i64,
    /// Skipped.
    pub skipped: i64,
    /// Failed.
    pub failed: i64,
    /// Missed.
    pub missed: i64,
    /// Due, no log entry yet, not judged missed yet.
    pub awaiting: i64,
    /// Minutes on air.
    pub aired_minutes: f64,
    /// Minutes due.
    pub scheduled_minutes: f64,
    /// 100 × aired ÷ scheduled airtime (null when nothing was due).
    pub compliance_pct: Option<f64>,
}

impl From<&Counts> for Figures {
    fn from(c: &Counts) -> Self {
        Figures {
            scheduled: c.scheduled,
            played: c.played,
            interrupted: c.interrupted,
            skipped: c.skipped,
            failed: c.failed,
            missed: c.missed,
            awaiting: c.awaiting,
            aired_minutes: c.aired_minutes(),
            scheduled_minutes: c.scheduled_minutes(),
            compliance_pct: c.compliance_pct(),
        }
    }
}

/// One station and category.
#[derive(Debug, Clone, PartialEq)]
pub struct StationCategory {
    /// Station code.
    pub station: String,
    /// Station name.
    pub station_name: String,
    /// Category at the time of airing.
    pub category: String,
    /// Its figures.
    pub counts: Counts,
}

/// One station.
#[derive(Debug, Clone, PartialEq)]
pub struct StationTotal {
    /// Station code.
    pub station: String,
    /// Station name.
    pub station_name: String,
    /// Its figures.
    pub counts: Counts,
    /// Due instant of its oldest occurrence awaiting a log (None: nothing awaits).
    pub awaiting_since: Option<DateTime<Utc>>,
}

/// The aggregated figures of a period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aggregate {
    /// By station and category, ordered by station then category.
    pub rows: Vec<StationCategory>,
    /// By station (every station of the area, even one without entries).
    pub stations: Vec<StationTotal>,
    /// By category.
    pub categories: BTreeMap<String, Counts>,
    /// By the stations' local date.
    pub days: BTreeMap<NaiveDate, Counts>,
    /// Everything.
    pub totals: Counts,
}

/// Aggregate the entries due in `[from, to)` of the stations in `area`'s subtree, and the
/// occurrences awaiting their log at `now`.
pub fn aggregate(
    conn: &Connection,
    area: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Aggregate, AppError> {
    let mut stations: Vec<(String, String, Tz)> = Vec::new();
    {
        let mut st = conn.prepare_cached(&format!(
            "{SUBTREE} SELECT code, name, timezone FROM stations
             WHERE area IN (SELECT code FROM sub) ORDER BY code"
        ))?;
        let rows = st.query_map([area], |r| {
            let tz: String = r.get(2)?;
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                tz.parse().unwrap_or(schedules::DEFAULT_TZ),
            ))
        })?;
        for r in rows {
            stations.push(r?);
        }
    }
    let index: HashMap<&str, usize> = stations
        .iter()
        .enumerate()
        .map(|(i, s)| (s.0.as_str(), i))
        .collect();

    let mut cells: BTreeMap<(usize, String), Counts> = BTreeMap::new();
    let mut days: BTreeMap<NaiveDate, Counts> = BTreeMap::new();
    let mut zones: BTreeMap<&str, (Tz, Vec<bool>)> = BTreeMap::new();
    for (i, s) in stations.iter().enumerate() {
        let z = zones
            .entry(s.2.name())
            .or_insert_with(|| (s.2, vec![false; stations.len()]));
        z.1[i] = true;
    }
    for (tz, members) in zones.into_values() {
        let split = split(from, to, tz);
        let mut add = |si: usize, category: String, day: NaiveDate, c: Counts| {
            if members[si] {
                cells.entry((si, category)).or_default().add(&c);
                days.entry(day).or_default().add(&c);
            }
        };
        if let Some((lo, hi)) = split.days {
            rollup(conn, &index, lo, hi, &mut add)?;
        }
        for (lo, hi) in split.edges {
            raw(conn, area, &index, &stations, lo, hi, &mut add)?;
        }
    }
    let mut since = vec![None; stations.len()];
    for (si, s) in stations.iter().enumerate() {
        let Some(st) = crate::db::stations::get(conn, &s.0)? else {
            continue;
        };
        let awaited = super::awaiting::of_station(conn, &st, from, to, now)?;
        since[si] = awaited.first().map(|a| a.scheduled_at);
        for a in awaited {
            let c = Counts {
                scheduled: 1,
                awaiting: 1,
                scheduled_ms: a.planned_ms,
                ..Counts::default()
            };
            cells.entry((si, a.category)).or_default().add(&c);
            let day = a.scheduled_at.with_timezone(&s.2).date_naive();
            days.entry(day).or_default().add(&c);
        }
    }
    let mut out = Aggregate {
        days,
        ..Aggregate::default()
    };
    let mut per_station = vec![Counts::default(); stations.len()];
    for ((si, category), c) in cells {
        per_station[si].add(&c);
        out.categories.entry(category.clone()).or_default().add(&c);
        out.totals.add(&c);
        out.rows.push(StationCategory {
            station: stations[si].0.clone(),
            station_name: stations[si].1.clone(),
            category,
            counts: c,
        });
    }
    out.stations = stations
        .into_iter()
        .zip(per_station)
        .zip(since)
        .map(
            |(((station, station_name, _), counts), awaiting_since)| StationTotal {
                station,
                station_name,
                counts,
                awaiting_since,
            },
        )
        .collect();
    Ok(out)
}

/// A stretch of time `[lo, hi)`, unbounded on a side that is None.
type Stretch = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A period cut for one zone: whole local days (read from the daily rollup) and the
/// stretches before and after them (read from the entries).
#[derive(Debug, Clone, PartialEq)]
struct Split {
    /// Whole days `[lo, hi)` (None: unbounded on that side).
    days: Option<(Option<NaiveDate>, Option<NaiveDate>)>,
    /// Stretches `[lo, hi)` read entry by entry.
    edges: Vec<Stretch>,
}

/// The instant local date `d` starts in `tz`.
fn day_start(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut t = d.and_time(chrono::NaiveTime::MIN);
    // A zone may skip midnight (a spring-forward at 00:00): the day starts at the first
    // local time that exists.
    for _ in 0..4 {
        if let Some(x) = tz.from_local_datetime(&t).earliest() {
            return x.with_timezone(&Utc);
        }
        t += chrono::Duration::minutes(30);
    }
    Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN))
}

fn split(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, tz: Tz) -> Split {
    let first = from.map(|f| {
        let d = f.with_timezone(&tz).date_naive();
        if day_start(d, tz) == f {
            d
        } else {
            d.succ_opt().unwrap_or(d)
        }
    });
    let end = to.map(|t| t.with_timezone(&tz).date_naive());
    if let (Some(a), Some(b)) = (first, end) {
        if a >= b {
            return Split {
                days: None,
                edges: vec![(from, to)],
            };
        }
    }
    let mut edges = Vec::new();
    if let (Some(f), Some(a)) = (from, first) {
        if day_start(a, tz) > f {
            edges.push((Some(f), Some(day_start(a, tz))));
        }
    }
    if let (Some(t), Some(b)) = (to, end) {
        if day_start(b, tz) < t {
            edges.push((Some(day_start(b, tz)), Some(t)));
        }
    }
    Split {
        days: Some((first, end)),
        edges,
    }
}

fn day_text(d: Option<NaiveDate>, none: &str) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| none.to_string())
}

/// Whole days `[lo, hi)` from the daily rollup.
fn rollup(
    conn: &Connection,
    index: &HashMap<&str, usize>,
    lo: Option<NaiveDate>,
    hi: Option<NaiveDate>,
    add: &mut impl FnMut(usize, String, NaiveDate, Counts),
) -> crate::db::sql::Result<()> {
    let mut st = conn.prepare_cached(
        "SELECT station, day, category, scheduled, played, interrupted, skipped, failed,
            missed, CAST(played_ms AS BIGINT), CAST(planned_ms AS BIGINT)
         FROM log_days WHERE day >= ?1 AND day < ?2 AND scheduled > 0",
    )?;
    let mut rows = st.query(params![day_text(lo, ""), day_text(hi, "~")])?;
    while let Some(r) = rows.next()? {
        let Some(&si) = index.get(&*r.text(0)?) else {
            continue;
        };
        let Ok(day) = NaiveDate::parse_from_str(&r.text(1)?, "%Y-%m-%d") else {
            continue;
        };
        add(si, r.get(2)?, day, counts(&r, 3)?);
    }
    Ok(())
}

fn counts(r: &crate::db::sql::Row<'_>, at: usize) -> crate::db::sql::Result<Counts> {
    Ok(Counts {
        scheduled: r.get(at)?,
        played: r.get(at + 1)?,
        interrupted: r.get(at + 2)?,
        skipped: r.get(at + 3)?,
        failed: r.get(at + 4)?,
        missed: r.get(at + 5)?,
        awaiting: 0,
        aired_ms: r.get(at + 6)?,
        scheduled_ms: r.get(at + 7)?,
    })
}

/// Entries due in `[lo, hi)`, grouped by station, category and UTC hour.
fn raw(
    conn: &Connection,
    area: &str,
    index: &HashMap<&str, usize>,
    stations: &[(String, String, Tz)],
    lo: Option<DateTime<Utc>>,
    hi: Option<DateTime<Utc>>,
    add: &mut impl FnMut(usize, String, NaiveDate, Counts),
) -> crate::db::sql::Result<()> {
    // SQLite sums its 0/1 comparisons and is told the covering index; PostgreSQL counts
    // with FILTER and plans for itself.
    let (sum, total, indexed) = match conn.backend() {
        Backend::Sqlite => (
            "SUM(status = '{}')",
            "CAST(TOTAL({}) AS INTEGER)",
            "INDEXED BY logs_report",
        ),
        Backend::Postgres => (
            "COUNT(*) FILTER (WHERE status = '{}')",
            "COALESCE(SUM({}), 0)",
            "",
        ),
    };
    let sum = |s: &str| sum.replace("{}", s);
    let total = |s: &str| total.replace("{}", s);
    let mut st = conn.prepare_cached(&format!(
        "{SUBTREE}, st(code) AS (SELECT code FROM stations WHERE area IN (SELECT code FROM sub))
         SELECT station, category, substr(scheduled_at, 1, 13) AS hour, COUNT(*),
            {}, {}, {}, {}, {}, {}, {}
         FROM logs {indexed}
         WHERE scheduled_at >= ?2 AND scheduled_at < ?3 AND station IN (SELECT code FROM st)
           AND part_of IS NULL
         GROUP BY station, category, hour",
        sum("played"),
        sum("interrupted"),
        sum("skipped"),
        sum("failed"),
        sum("missed"),
        total("played_ms"),
        total("planned_ms"),
    ))?;
    let lo = lo.map(ts).unwrap_or_default();
    let hi = hi.map(ts).unwrap_or_else(|| "~".to_string());
    let mut rows = st.query(params![area, lo, hi])?;
    while let Some(r) = rows.next()? {
        let Some(&si) = index.get(&*r.text(0)?) else {
            continue;
        };
        let Some(day) = local_date(&r.text(2)?, stations[si].2) else {
            continue;
        };
        add(si, r.get(1)?, day, counts(&r, 3)?);
    }
    Ok(())
}

/// The local date, in `tz`, of a UTC hour written `YYYY-MM-DDTHH`.
fn local_date(hour: &str, tz: Tz) -> Option<NaiveDate> {
    let t = chrono::NaiveDateTime::parse_from_str(&format!("{hour}:00"), "%Y-%m-%dT%H:%M").ok()?;
    Some(Utc.from_utc_datetime(&t).with_timezone(&tz).date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_fold_into_the_stations_local_dates() {
        let hn: Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
        // 16:00Z is 23:00 in Hà Nội; 17:00Z is already the next day.
        assert_eq!(
            local_date("2026-11-01T16", hn),
            NaiveDate::from_ymd_opt(2026, 11, 1)
        );
        assert_eq!(
            local_date("2026-11-01T17", hn),
            NaiveDate::from_ymd_opt(2026, 11, 2)
        );
        assert_eq!(local_date("garbage", hn), None);
    }

    #[test]
    fn a_period_splits_into_whole_local_days_and_edges() {
        let hn: Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
        let utc = |d, h, m| Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap();
        let date = |d| NaiveDate::from_ymd_opt(2026, 11, d);
        // November in Hà Nội: 31 Oct 17:00Z to 30 Nov 17:00Z, whole days only.
        let s = split(
            Some(utc(1, 0, 0) - chrono::Duration::hours(7)),
            Some(utc(30, 17, 0)),
            hn,
        );
        assert_eq!(
            s.days,
            Some((date(1), NaiveDate::from_ymd_opt(2026, 12, 1)))
        );
        assert!(s.edges.is_empty());
        // The UTC month: a partial first and last local day.
        let s = split(Some(utc(1, 0, 0)), Some(utc(30, 0, 0)), hn);
        assert_eq!(s.days, Some((date(2), date(30))));
        assert_eq!(
            s.edges,
            vec![
                (Some(utc(1, 0, 0)), Some(utc(1, 17, 0))),
                (Some(utc(29, 17, 0)), Some(utc(30, 0, 0)))
            ]
        );
        // Less than a day: entries only.
        let s = split(Some(utc(3, 1, 0)), Some(utc(3, 5, 0)), hn);
        assert_eq!(s.days, None);
        assert_eq!(s.edges, vec![(Some(utc(3, 1, 0)), Some(utc(3, 5, 0)))]);
        // Unbounded.
        let s = split(None, None, hn);
        assert_eq!(s.days, Some((None, None)));
        assert!(s.edges.is_empty());
    }

    #[test]
    fn compliance_is_aired_over_scheduled_airtime() {
        let c = Counts {
            scheduled: 4,
            played: 2,
            interrupted: 1,
            missed: 1,
            aired_ms: 150_000,
            scheduled_ms: 240_000,
            ..Counts::default()
        };
        assert_eq!(c.compliance_pct(), Some(62.5));
        assert_eq!(Counts::default().compliance_pct(), None);
        assert_eq!(c.aired_minutes(), 2.5);
    }
}
