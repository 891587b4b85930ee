//! The airtime report of a period and an area: counts by status, aired and scheduled
//! minutes, compliance — per station and category, per station, per category, per day.
//!
//! One SQL pass over the covering index `logs_report` groups the period's entries by
//! station, category and UTC hour; the hours are then folded here into the station's local
//! dates (exact for every zone whose offset is a whole number of hours, Việt Nam's included).

use crate::db::{ts, SUBTREE};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rusqlite::{params, Connection};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Counts and airtime of a set of log entries.
///
/// `scheduled` = played + interrupted + skipped + failed + missed (every occurrence that
/// was due has exactly one entry). `compliance_pct` = 100 × aired ÷ scheduled airtime,
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
    /// Milliseconds on air.
    pub aired_ms: i64,
    /// Milliseconds due.
    pub scheduled_ms: i64,
}

impl Counts {
    /// Add `o` in.
    pub fn add(&mut self, o: &Counts) {
        self.scheduled += o.scheduled;
        self.played += o.played;
        self.interrupted += o.interrupted;
        self.skipped += o.skipped;
        self.failed += o.failed;
        self.missed += o.missed;
        self.aired_ms += o.aired_ms;
        self.scheduled_ms += o.scheduled_ms;
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// Aggregate the entries due in `[from, to)` of the stations in `area`'s subtree.
pub fn aggregate(
    conn: &Connection,
    area: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> rusqlite::Result<Aggregate> {
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

    let mut st = conn.prepare_cached(&format!(
        "{SUBTREE}, st(code) AS (SELECT code FROM stations WHERE area IN (SELECT code FROM sub))
         SELECT station, category, substr(scheduled_at, 1, 13) AS hour, COUNT(*),
            SUM(status = 'played'), SUM(status = 'interrupted'), SUM(status = 'skipped'),
            SUM(status = 'failed'), SUM(status = 'missed'), SUM(played_ms), SUM(planned_ms)
         FROM logs INDEXED BY logs_report
         WHERE scheduled_at >= ?2 AND scheduled_at < ?3 AND station IN (SELECT code FROM st)
         GROUP BY station, category, hour"
    ))?;
    let lo = from.map(ts).unwrap_or_default();
    let hi = to.map(ts).unwrap_or_else(|| "~".to_string());
    let mut cells: BTreeMap<(usize, String), Counts> = BTreeMap::new();
    let mut days: BTreeMap<NaiveDate, Counts> = BTreeMap::new();
    let mut rows = st.query(params![area, lo, hi])?;
    while let Some(r) = rows.next()? {
        let station: String = r.get(0)?;
        let Some(&si) = index.get(station.as_str()) else {
            continue;
        };
        let category: String = r.get(1)?;
        let hour: String = r.get(2)?;
        let c = Counts {
            scheduled: r.get(3)?,
            played: r.get(4)?,
            interrupted: r.get(5)?,
            skipped: r.get(6)?,
            failed: r.get(7)?,
            missed: r.get(8)?,
            aired_ms: r.get(9)?,
            scheduled_ms: r.get(10)?,
        };
        cells.entry((si, category)).or_default().add(&c);
        if let Some(day) = local_date(&hour, stations[si].2) {
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
        .map(|((station, station_name, _), counts)| StationTotal {
            station,
            station_name,
            counts,
        })
        .collect();
    Ok(out)
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
