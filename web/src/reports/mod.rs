//! Reports on the as-run log: the airtime report of a period and an area (JSON, CSV,
//! XLSX, SVG charts), reconciliation of the stations' plans with their logs (`missed`
//! entries) and log retention.
//!
//! # Definitions
//!
//! - An entry belongs to the period when its *scheduled* instant is in `[from, to)`.
//! - `scheduled` = played + interrupted + skipped + failed + missed + awaiting, where an
//!   *awaiting* occurrence is planned in the period, already due, and neither logged by
//!   the station nor judged `missed` by reconciliation yet (see [`awaiting`]): a silent
//!   station shows at once, its planned minutes counted and nothing aired.
//! - Every station of the area is in every report, also with nothing planned or logged.
//! - aired minutes = Σ `played_ms` ÷ 60 000; scheduled minutes = Σ `planned_ms` ÷ 60 000,
//!   where an entry's `planned_ms` is the full length of its occurrence (the media's
//!   duration when the entry reached the server, and never less than what aired).
//! - compliance % = 100 × aired minutes ÷ scheduled minutes (null when nothing was due).
//! - Days are the stations' local dates.
//!
//! # Pruned logs
//!
//! With `--log-retention-days N` the server deletes entries due more than N days ago and
//! records the instant it pruned before. A report whose period starts before that instant
//! is still produced — the remaining figures are true — but it says so: the JSON field
//! `incomplete_before`, the CSV's `X-Report-Incomplete-Before` header and closing `#` note
//! line, and a note row on the XLSX sheets. A refusal (409) would hide the figures that
//! are still there; silence would lie.

pub mod aggregate;
pub mod awaiting;
pub mod charts;
pub mod csv;
pub mod reconcile;
pub mod retention;
pub mod task;
pub mod xlsx;

use crate::db::sql::Connection;
use aggregate::{Aggregate, Counts, Figures};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// The earliest instant a report's `from` or `to` may name.
pub const FIRST_INSTANT: &str = "1970-01-01T00:00:00Z";
/// The latest instant a report's `from` or `to` may name.
pub const LAST_INSTANT: &str = "9999-12-31T23:59:59Z";

/// Refuse a period bound outside [`FIRST_INSTANT`, `LAST_INSTANT`] with a clear 422 (the
/// date arithmetic of local days needs room on both sides).
pub fn check_period(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<(), crate::error::AppError> {
    let first: DateTime<Utc> = FIRST_INSTANT.parse().expect("a valid instant");
    let last: DateTime<Utc> = LAST_INSTANT.parse().expect("a valid instant");
    for (name, t) in [("from", from), ("to", to)] {
        if let Some(t) = t.filter(|t| *t < first || *t > last) {
            return Err(crate::error::AppError::invalid(format!(
                "{name}: {} is outside {FIRST_INSTANT} .. {LAST_INSTANT}",
                t.to_rfc3339()
            )));
        }
    }
    Ok(())
}

/// A report: the period, the area and the figures.
#[derive(Debug, Clone)]
pub struct Report {
    /// Start of the period (None: from the first entry).
    pub from: Option<DateTime<Utc>>,
    /// End of the period, exclusive (None: up to the last entry).
    pub to: Option<DateTime<Utc>>,
    /// The area whose subtree's stations it covers.
    pub area: String,
    /// Entries due before this instant were pruned and the period reaches before it.
    pub incomplete_before: Option<DateTime<Utc>>,
    /// The figures.
    pub data: Aggregate,
}

impl Report {
    /// Build the report of `[from, to)` for `area`'s subtree as it stands at `now`.
    pub fn build(
        conn: &Connection,
        area: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Report, crate::error::AppError> {
        let data = aggregate::aggregate(conn, area, from, to, now)?;
        let incomplete_before =
            retention::pruned_before(conn)?.filter(|p| from.is_none_or(|f| f < *p));
        Ok(Report {
            from,
            to,
            area: area.to_string(),
            incomplete_before,
            data,
        })
    }

    /// The warning sentence for a report over pruned logs, if it is one.
    pub fn warning(&self) -> Option<String> {
        self.incomplete_before.map(|p| {
            format!(
                "incomplete: log entries due before {} were deleted by the retention policy",
                crate::db::ts(p)
            )
        })
    }

    /// The JSON answer.
    pub fn json(&self) -> ReportJson {
        let figures = |c: &Counts| Figures::from(c);
        ReportJson {
            from: self.from,
            to: self.to,
            area: self.area.clone(),
            incomplete_before: self.incomplete_before,
            warning: self.warning(),
            totals: figures(&self.data.totals),
            rows: self
                .data
                .rows
                .iter()
                .map(|r| RowJson {
                    station: r.station.clone(),
                    station_name: r.station_name.clone(),
                    category: Some(r.category.clone()),
                    awaiting_since: None,
                    figures: figures(&r.counts),
                })
                .collect(),
            stations: self
                .data
                .stations
                .iter()
                .map(|r| RowJson {
                    station: r.station.clone(),
                    station_name: r.station_name.clone(),
                    category: None,
                    awaiting_since: r.awaiting_since,
                    figures: figures(&r.counts),
                })
                .collect(),
            categories: self
                .data
                .categories
                .iter()
                .map(|(category, c)| CategoryJson {
                    category: category.clone(),
                    figures: figures(c),
                })
                .collect(),
            days: self
                .data
                .days
                .iter()
                .map(|(date, c)| DayJson {
                    date: *date,
                    figures: figures(c),
                })
                .collect(),
        }
    }
}

/// `GET /reports/airtime` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportJson {
    /// Start of the period.
    pub from: Option<DateTime<Utc>>,
    /// End of the period (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// The area.
    pub area: String,
    /// Set when entries the period covers were pruned: entries before it are gone.
    pub incomplete_before: Option<DateTime<Utc>>,
    /// The same, in words.
    pub warning: Option<String>,
    /// Everything.
    pub totals: Figures,
    /// By station and category.
    pub rows: Vec<RowJson>,
    /// By station.
    pub stations: Vec<RowJson>,
    /// By category.
    pub categories: Vec<CategoryJson>,
    /// By local date.
    pub days: Vec<DayJson>,
}

/// A station (and category) row.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RowJson {
    /// Station code.
    pub station: String,
    /// Station name.
    pub station_name: String,
    /// Category (rows by station and category only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Due instant of the oldest occurrence awaiting its log (rows by station only; absent
    /// when nothing awaits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awaiting_since: Option<DateTime<Utc>>,
    /// Figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// A category row.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CategoryJson {
    /// Category.
    pub category: String,
    /// Figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// A day row.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DayJson {
    /// Local date.
    pub date: NaiveDate,
    /// Figures.
    #[serde(flatten)]
    pub figures: Figures,
}
