//! Schedule rules and their expansion into occurrences.
//!
//! Time-zone policy: a recurring rule is read in its station's IANA time zone. A local
//! time that does not exist (a spring-forward gap) is skipped; one that happens twice (a
//! fall-back overlap) fires once, the first time. Validity dates and excluded dates are
//! local dates, inclusive.

use crate::cron::CronExpr;
use crate::types::Priority;
use chrono::{DateTime, NaiveDate, Utc};
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

/// The instants at which `rule` fires in `[from, to)`, in order, in UTC.
pub fn occurrences(rule: &Rule, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let _ = (rule, from, to);
    todo!("schedules helper")
}
