//! Relays in the core: a window that may be cut by an emergency and resumed, joined again
//! after a restart, and logged once when it closes, with its gaps.

use super::{why_ended, Asked, Command, Core, Ended, Level, OpenRelay, Rejoin, Tick, STOPPED};
use crate::mixer::EndReason;
use crate::planner::{Planned, Source};
use chrono::{DateTime, Utc};
use schedules::wire::{LogEntry, RelayChannel, RelayGap};
use schedules::PlayStatus;
use std::collections::HashMap;

impl Core {
    /// Relays the previous run was airing when it ended, from the journal's entries of the
    /// last day (`done`) and those boot-time recovery just logged `interrupted`
    /// (`recovered`: a crash, a kill, a power cut). Each cut by the stop whose window is
    /// still open is joined again for the rest of it. Only the last airing of an occurrence
    /// counts: a relay stopped remotely stays stopped.
    pub fn rejoin_after_restart(
        &mut self,
        done: Vec<LogEntry>,
        recovered: &[LogEntry],
        now: DateTime<Utc>,
    ) {
        let mut last: HashMap<String, LogEntry> = HashMap::new();
        for e in done.into_iter().chain(recovered.iter().cloned()) {
            if e.media_sha256.is_some() || e.urgent_id.is_some() || e.schedule_id.is_none() {
                continue;
            }
            let base = e.part_of.clone().unwrap_or_else(|| e.id.clone());
            if last.get(&base).is_none_or(|l| e.started_at >= l.started_at) {
                last.insert(base, e);
            }
        }
        for (base, e) in last {
            let reason = if recovered.iter().any(|r| r.id == e.id) {
                "the controller stopped (crash, kill or power cut) and restarted"
            } else if e.status == PlayStatus::Interrupted && e.reason.as_deref() == Some(STOPPED) {
                "the controller was stopped and restarted"
            } else {
                continue;
            };
            let stopped = e.ended_at.unwrap_or(now).min(now);
            self.rejoin.insert(
                base,
                Rejoin {
                    due: e.scheduled_at,
                    stopped,
                    reason: reason.to_string(),
                },
            );
        }
    }

    /// Relays cut by an emergency: once nothing airs, cue them again while their window is
    /// open; log those whose window closed.
    pub(super) fn resume_relays(&mut self, t: &Tick<'_>, out: &mut Vec<Command>) {
        let now = t.now;
        let mut cut: Vec<String> = self
            .relays
            .iter()
            .filter(|(k, r)| {
                r.cut.is_some() && !self.cued.contains_key(*k) && !self.asked.contains_key(*k)
            })
            .map(|(k, _)| k.clone())
            .collect();
        cut.sort();
        for key in cut {
            let Some(r) = self.relays.get(&key) else {
                continue;
            };
            if now >= r.until {
                let Some(mut r) = self.relays.remove(&key) else {
                    continue;
                };
                let why = r.cut.take().map(|(from, reason)| {
                    r.gaps.push(RelayGap {
                        from,
                        to: r.until,
                        reason: reason.clone(),
                    });
                    reason
                });
                self.log_relay(r, now, PlayStatus::Interrupted, why, out);
                continue;
            }
            if self.airing.is_some() || t.mixer_busy || !t.precise {
                continue;
            }
            out.push(Command::ResumeRelay {
                planned: r.planned.clone(),
                channel: r.channel.clone(),
                until: r.until,
                open: r.cut.clone(),
            });
            self.asked.insert(key, Asked::Resume(r.planned.clone()));
        }
    }

    /// Join the relay occurrence `planned` again, at once, for the rest of its window: the
    /// controller stopped while it aired (its entry says `interrupted`). The remainder is
    /// its own occurrence, whose first gap is the restart.
    pub(super) fn rejoin_relay(
        &mut self,
        planned: &Planned,
        r: Rejoin,
        t: &Tick<'_>,
        out: &mut Vec<Command>,
    ) {
        let Source::Relay(channel) = &planned.source else {
            return;
        };
        let Some(rest) = planned.rejoined(t.now) else {
            return;
        };
        if t.now >= planned.window_end() || t.output_error.is_some() {
            return;
        }
        out.push(Command::Say(
            Level::Info,
            format!(
                "{}: the relay's window is still open after the restart: joining it again as {}",
                planned.item.key, rest.item.key
            ),
        ));
        self.cue_relay(
            &rest,
            channel.clone(),
            None,
            t,
            Some((r.stopped, r.reason)),
            out,
        );
    }

    pub(super) fn cue_relay(
        &mut self,
        planned: &Planned,
        channel: RelayChannel,
        start: Option<DateTime<Utc>>,
        t: &Tick<'_>,
        open: Option<(DateTime<Utc>, String)>,
        out: &mut Vec<Command>,
    ) {
        let until = planned.window_end();
        let from = start.unwrap_or(t.now);
        if from >= until {
            let reason = "its window closed before it could start".to_string();
            self.log(planned.log_entry(PlayStatus::Skipped, Some(reason)), out);
            return;
        }
        if !t.precise {
            return; // cued on a later tick, once the card runs precisely
        }
        out.push(Command::CueRelay {
            planned: planned.clone(),
            channel: channel.clone(),
            start,
            from,
            until,
            open,
        });
        self.asked.insert(
            planned.item.key.clone(),
            Asked::Relay(OpenRelay {
                planned: planned.clone(),
                channel,
                started_at: from,
                until,
                played_ms: 0,
                gaps: Vec::new(),
                cut: None,
                rms_dbfs: None,
                peak_dbfs: None,
            }),
        );
    }

    /// A relay segment ended: add it to its relay; log the relay unless an emergency cut
    /// it while its window is still open (it resumes after).
    pub(super) fn relay_segment_ended(&mut self, e: &Ended, aired_ms: u64, out: &mut Vec<Command>) {
        let now = e.now;
        let Some(r) = self.relays.get_mut(&e.key) else {
            return;
        };
        r.played_ms += aired_ms;
        if e.rms_dbfs.is_some() {
            (r.rms_dbfs, r.peak_dbfs) = (e.rms_dbfs, e.peak_dbfs);
        }
        r.gaps.extend(e.gaps.iter().cloned());
        let (status, why) = match &e.reason {
            EndReason::Preempted { by } if now < r.until => {
                r.cut = Some((now, format!("interrupted by emergency {by}")));
                return;
            }
            EndReason::Finished => (PlayStatus::Played, None),
            other => (PlayStatus::Interrupted, why_ended(other)),
        };
        let Some(r) = self.relays.remove(&e.key) else {
            return;
        };
        self.log_relay(r, now, status, why, out);
    }

    /// Log a relay whose window is over (or that was stopped, for `why`).
    pub(super) fn log_relay(
        &mut self,
        r: OpenRelay,
        now: DateTime<Utc>,
        status: PlayStatus,
        why: Option<String>,
        out: &mut Vec<Command>,
    ) {
        // Nothing of the channel aired in the whole window: it failed, for its first gap's reason.
        let status = if status == PlayStatus::Played && r.played_ms == 0 {
            PlayStatus::Failed
        } else {
            status
        };
        let not_aired: i64 = r.gaps.iter().map(|g| (g.to - g.from).num_seconds()).sum();
        let reason = match status {
            PlayStatus::Played if r.gaps.is_empty() => None,
            PlayStatus::Played => Some(format!(
                "{} gap(s), {not_aired} s without the channel",
                r.gaps.len()
            )),
            _ => why.or_else(|| r.gaps.first().map(|g| g.reason.clone())),
        };
        let mut entry = r.planned.log_entry(status, reason);
        entry.started_at = Some(r.started_at);
        entry.ended_at = Some(now.min(r.until));
        entry.played_ms = r.played_ms;
        entry.rms_dbfs = r.rms_dbfs;
        entry.peak_dbfs = r.peak_dbfs;
        entry.gaps = r.gaps;
        self.log(entry, out);
    }
}
