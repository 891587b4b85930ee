//! The handles the player's shell acts on: the journal, the mixer, the clock, the media
//! cache, what is shared with the other loops, the output's state, the relayer.

use crate::cache::{self, Db};
use crate::decode;
use crate::mixer::Mixer;
use crate::planner;
use crate::precision::Precision;
use crate::relay::Relayer;
use crate::shared::Shared;
use chrono::{DateTime, Utc};
use schedules::wire::{LogEntry, UrgentAck, UrgentState};
use schedules::{occurrence_key, Clock, PlayStatus, Sha256};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The handles the shell acts on.
pub(super) struct Io {
    pub(super) db: Db,
    pub(super) mixer: Mixer,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) media_dir: PathBuf,
    pub(super) shared: Arc<Shared>,
    pub(super) output_error: Arc<Mutex<Option<String>>>,
    pub(super) precision: Arc<Precision>,
    pub(super) relayer: Relayer,
}

impl Io {
    pub(super) fn output_error(&self) -> Option<String> {
        self.output_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn write_horizon(&self, now: DateTime<Utc>) {
        let v = cache::ms(now).to_string();
        if let Err(e) = self.db.with(|c| cache::set_setting(c, "horizon", &v)) {
            tracing::error!("cannot write the horizon: {e}");
        }
    }

    /// A media file from the cache, or from memory when it came with an urgent push and is
    /// not written down yet.
    pub(super) fn audio(&self, m: &Sha256) -> Option<decode::Audio> {
        if let Some(bytes) = self.shared.held_audio(m.as_str()) {
            return Some(decode::Audio::Memory(bytes));
        }
        let path = self.media_dir.join(m.as_str());
        path.is_file().then_some(decode::Audio::File(path))
    }

    /// Write an outcome to the journal (false if it could not be); an urgent notice's
    /// failure, once written the first time, is acknowledged `failed`.
    pub(super) fn log(&self, entry: &LogEntry, now: DateTime<Utc>) -> bool {
        let key = &entry.id;
        tracing::info!(key = %key, status = %entry.status, reason = ?entry.reason, played_ms = entry.played_ms, "logged");
        match self.db.with(|c| cache::record_outcome(c, entry, now)) {
            Ok(fresh) => {
                self.shared.upload.notify_one();
                if let (true, Some(id)) = (fresh, &entry.urgent_id) {
                    if matches!(
                        entry.status,
                        PlayStatus::Failed | PlayStatus::Missed | PlayStatus::Skipped
                    ) {
                        let ack = UrgentAck {
                            state: UrgentState::Failed,
                            at: now,
                            reason: entry.reason.clone(),
                        };
                        self.shared.ack(id, ack);
                    }
                }
                true
            }
            Err(e) => {
                tracing::error!(key = %key, "cannot write the log entry: {e}");
                false
            }
        }
    }

    /// Whether `key`, an airing of urgent notice `id`, is its last one (no repeat to come).
    pub(super) fn is_last_airing(&self, id: &str, key: &str) -> bool {
        let inputs = self.shared.inputs.borrow();
        let notices =
            planner::active_urgent(inputs.doc.as_deref(), &inputs.pushed, &inputs.cancelled);
        notices
            .iter()
            .find(|n| n.id == id)
            .and_then(|n| n.airings().last().map(|t| occurrence_key(id, *t) == key))
            .unwrap_or(true)
    }
}
