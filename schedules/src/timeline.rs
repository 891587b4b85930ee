//! Timeline resolution for one station: what plays when.
//!
//! Circular 39/2020/TT-BTTTT's three levels: an `emergency` interrupts whatever plays at
//! once; nothing else is ever cut off. An item that comes due while another plays waits for
//! it to end; waiting items go in priority order, then by scheduled time, then by key; an
//! item that would wait longer than its `max_wait_ms` is skipped with the reason.
//! Deterministic: the same input always gives the same output.

use crate::types::{PlayStatus, Priority};
use chrono::{DateTime, Utc};

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
    /// Why it is skipped or interrupted, in English (e.g. "interrupted by emergency <key>",
    /// "waited more than 10 min behind <key>").
    pub reason: Option<String>,
}

/// Resolve a set of occurrences into slots, ordered by `starts_at` (skipped ones at their
/// scheduled time). Pure and deterministic.
pub fn resolve(items: &[Item]) -> Vec<Slot> {
    let _ = items;
    todo!("schedules helper")
}

/// The stable key of the occurrence of schedule/notice `source_id` due at `at`:
/// `"{source_id}@{unix_ms}"`.
pub fn occurrence_key(source_id: &str, at: DateTime<Utc>) -> String {
    format!("{source_id}@{}", at.timestamp_millis())
}
