//! The log entries of an ended airing that need more than the occurrence's own: why it
//! ended, and a programme's parts.

use crate::decode::PartDecoded;
use crate::mixer::EndReason;
use crate::planner::Planned;
use chrono::{DateTime, Duration as CDuration, Utc};
use schedules::wire::LogEntry;
use schedules::PlayStatus;

/// Why an airing that ended for `reason` did not play to its end (`None`: it did).
pub(super) fn why_ended(reason: &EndReason) -> Option<String> {
    match reason {
        EndReason::Finished => None,
        EndReason::Preempted { by } => Some(format!("interrupted by emergency {by}")),
        EndReason::Stopped { reason } => Some(reason.clone()),
    }
}

/// The entries of a programme's parts once it stopped after `aired` output frames: parts
/// wholly aired are `played`, the one cut is `interrupted` (with `why`), those never
/// reached `skipped`, those that could not be decoded `failed`. Part *n* starts where the
/// parts before it ended (they are aired back to back).
pub fn part_entries(
    planned: &Planned,
    decoded: &[PartDecoded],
    started_at: DateTime<Utc>,
    aired: u64,
    rate: u64,
    why: Option<String>,
) -> Vec<LogEntry> {
    let ms = |frames: u64| frames * 1000 / rate.max(1);
    let mut out = Vec::with_capacity(planned.parts().len());
    let mut offset = 0u64;
    for i in 0..planned.parts().len() {
        let d = decoded.get(i);
        if let Some(err) = d.and_then(|d| d.error.clone()) {
            out.push(planned.part_entry(i, PlayStatus::Failed, Some(err)));
            continue;
        }
        let frames = d.map(|d| d.frames);
        let entry = match frames {
            Some(f) if offset + f <= aired => {
                let mut e = planned.part_entry(i, PlayStatus::Played, None);
                e.played_ms = ms(f);
                Some(e)
            }
            _ if offset < aired => {
                let mut e = planned.part_entry(i, PlayStatus::Interrupted, why.clone());
                e.played_ms = ms(aired - offset);
                Some(e)
            }
            _ => None,
        };
        match entry {
            Some(mut e) => {
                e.started_at = Some(started_at + CDuration::milliseconds(ms(offset) as i64));
                e.ended_at = e
                    .started_at
                    .map(|s| s + CDuration::milliseconds(e.played_ms as i64));
                out.push(e);
            }
            None => out.push(planned.part_entry(
                i,
                PlayStatus::Skipped,
                Some(format!(
                    "the programme stopped before this part{}",
                    why.as_deref().map(|w| format!(": {w}")).unwrap_or_default()
                )),
            )),
        }
        offset += frames.unwrap_or(0);
    }
    out
}
