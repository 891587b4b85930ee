//! Remote commands from the server (`stop`, `volume`, `resync`), whether pushed over the
//! event stream or listed in the schedule document: each id is carried out once (its
//! outcome is kept in the local settings), and acknowledged until the server has it.
//!
//! - `stop` cuts what airs now; the player logs it `interrupted` with the reason
//!   "stopped remotely by <user>". A stop older than [`STOP_FRESH`] when it arrives (the
//!   station was offline) is refused: it was meant for what aired then.
//! - `volume` sets the master volume (percent), kept in SQLite so it survives a restart;
//!   the player combines it with the volume schedule and applies it as the mixer's gain.
//! - `resync` fetches the document now and re-hashes every cached media file.

use crate::cache::{self, Db};
use crate::fetch::MediaCache;
use crate::mixer::Mixer;
use crate::shared::Shared;
use crate::sync::{self, Backoff, Client};
use chrono::Duration as CDuration;
use schedules::remote::{CommandAck, CommandKind, CommandState, RemoteCommand};
use schedules::Clock;
use std::sync::Arc;
use tokio::sync::mpsc::{self, UnboundedReceiver};

/// A `stop` issued longer ago than this is not carried out.
pub const STOP_FRESH: CDuration = CDuration::minutes(5);

/// The settings key of the master volume.
pub const VOLUME_KEY: &str = "volume";

fn outcome_key(id: &str) -> String {
    format!("command:{id}")
}

/// The master volume kept in the local store (100 when never set).
pub fn stored_volume(db: &Db) -> u8 {
    db.with(|c| cache::get_setting(c, VOLUME_KEY))
        .ok()
        .flatten()
        .and_then(|v| v.parse::<u8>().ok())
        .map_or(100, |v| v.min(100))
}

/// The linear gain of the master volume and the scheduled volume (both percent).
pub fn gain(master: u8, scheduled: u8) -> f32 {
    f32::from(master.min(100)) / 100.0 * f32::from(scheduled.min(100)) / 100.0
}

/// What the command loop works with.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The server.
    pub client: Client,
    /// The local store.
    pub db: Db,
    /// Shared state (inputs, master volume).
    pub shared: Arc<Shared>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The mixer (`stop` cuts what airs on it).
    pub mixer: Mixer,
    /// The media cache (`resync` re-verifies it).
    pub media: MediaCache,
}

impl Remote {
    /// Carry out one command (or, when it was carried out before, give its recorded
    /// outcome again: the acknowledgement may have been lost).
    pub async fn execute(&self, cmd: &RemoteCommand) -> CommandAck {
        let key = outcome_key(&cmd.id);
        let k = key.clone();
        let before = self
            .db
            .call(move |c| cache::get_setting(c, &k))
            .await
            .ok()
            .flatten()
            .and_then(|v| serde_json::from_str::<CommandAck>(&v).ok());
        if let Some(ack) = before {
            return ack;
        }
        let now = self.clock.now();
        let result: Result<String, String> = match cmd.kind {
            CommandKind::Stop => self.stop(cmd, now),
            CommandKind::Volume => self.volume(cmd).await,
            CommandKind::Resync => self.resync().await,
        };
        let ack = match result {
            Ok(what) => {
                tracing::info!(id = %cmd.id, kind = cmd.kind.as_str(), by = %cmd.issued_by, "remote command: {what}");
                CommandAck {
                    state: CommandState::Done,
                    reason: Some(what),
                    at: self.clock.now(),
                }
            }
            Err(why) => {
                tracing::warn!(id = %cmd.id, kind = cmd.kind.as_str(), "remote command failed: {why}");
                CommandAck {
                    state: CommandState::Failed,
                    reason: Some(why),
                    at: self.clock.now(),
                }
            }
        };
        if let Ok(v) = serde_json::to_string(&ack) {
            if let Err(e) = self.db.call(move |c| cache::set_setting(c, &key, &v)).await {
                tracing::error!("cannot record the outcome of command {}: {e}", cmd.id);
            }
        }
        ack
    }

    fn stop(
        &self,
        cmd: &RemoteCommand,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, String> {
        let age = now - cmd.issued_at;
        if age > STOP_FRESH {
            return Err(format!(
                "expired: issued {} min ago, a stop is only carried out within {} min",
                age.num_minutes(),
                STOP_FRESH.num_minutes()
            ));
        }
        match self.mixer.now_playing() {
            Some((key, _)) => {
                let by = if cmd.issued_by.is_empty() {
                    "the server"
                } else {
                    cmd.issued_by.as_str()
                };
                self.mixer.stop(&key, &format!("stopped remotely by {by}"));
                Ok(format!("stopped {key}"))
            }
            None => Ok("nothing was airing".into()),
        }
    }

    async fn volume(&self, cmd: &RemoteCommand) -> Result<String, String> {
        let v = cmd
            .volume
            .filter(|v| *v <= 100)
            .ok_or_else(|| "a volume command needs a volume between 0 and 100".to_string())?;
        self.db
            .call(move |c| cache::set_setting(c, VOLUME_KEY, &v.to_string()))
            .await
            .map_err(|e| format!("cannot store the volume: {e}"))?;
        self.shared.set_master_volume(v);
        self.shared.heartbeat_now.notify_one();
        Ok(format!("master volume {v} %"))
    }

    async fn resync(&self) -> Result<String, String> {
        sync::sync_once(&self.client, &self.db, &self.shared, self.clock.as_ref())
            .await
            .map_err(|e| format!("schedule fetch failed: {e}"))?;
        let deleted = self.media.verify(self.clock.now(), true).await;
        // Anything deleted is fetched again by the cache loop, which wakes on inputs.
        self.shared.inputs.send_modify(|_| {});
        Ok(format!(
            "schedule fetched; media cache verified ({} file(s) failed and will be fetched again)",
            deleted.len()
        ))
    }
}

/// Carry out commands as they come; acknowledgements go out in order, retried with backoff
/// (a refusal, e.g. a command the server no longer knows, is dropped).
pub async fn command_loop(remote: Remote, mut rx: UnboundedReceiver<RemoteCommand>) {
    let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<(String, CommandAck)>();
    let client = remote.client.clone();
    let acks = async move {
        while let Some((id, ack)) = ack_rx.recv().await {
            let mut backoff = Backoff::default();
            loop {
                match client.ack_command(&id, &ack).await {
                    Ok(()) => break,
                    Err(e) if e.is_permanent() => {
                        tracing::warn!("command {id}: ack refused: {e}");
                        break;
                    }
                    Err(e) => {
                        let d = backoff.next_delay();
                        tracing::warn!(
                            "command {id}: ack failed: {e}; retrying in {:.1} s",
                            d.as_secs_f64()
                        );
                        tokio::time::sleep(d).await;
                    }
                }
            }
        }
    };
    let run = async move {
        while let Some(cmd) = rx.recv().await {
            let ack = remote.execute(&cmd).await;
            let _ = ack_tx.send((cmd.id.clone(), ack));
        }
    };
    tokio::join!(acks, run);
}
