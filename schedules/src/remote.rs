//! Remote control of a station from the server: the commands (stop what airs, set the
//! master volume, re-sync now) and the station's acknowledgement.
//!
//! Delivered as the SSE event `command` ([`RemoteCommand`]) and, while not acknowledged,
//! listed in the schedule document (`commands`), so a station that was offline gets them when
//! it reconnects. The controller runs each id once and answers
//! `POST /device/commands/{id}/ack` ([`CommandAck`]).

use crate::types::ParseError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CommandKind {
    /// Cut what airs now (logged `interrupted`).
    Stop,
    /// Set the master volume (percent, persisted on the controller).
    Volume,
    /// Fetch the schedule document now and re-verify the media cache.
    Resync,
}

impl CommandKind {
    /// The wire/database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::Stop => "stop",
            CommandKind::Volume => "volume",
            CommandKind::Resync => "resync",
        }
    }
}

impl std::str::FromStr for CommandKind {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s {
            "stop" => Ok(CommandKind::Stop),
            "volume" => Ok(CommandKind::Volume),
            "resync" => Ok(CommandKind::Resync),
            other => Err(ParseError(format!(
                "unknown command {other:?}; expected stop, volume or resync"
            ))),
        }
    }
}

/// A command for one station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoteCommand {
    /// Unique id (the acknowledgement names it).
    pub id: String,
    /// What to do.
    pub kind: CommandKind,
    /// The new master volume, percent (for `volume`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<u8>,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// Who issued it (user name), for the log.
    #[serde(default)]
    pub issued_by: String,
}

/// Outcome of a command at the station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CommandState {
    /// Issued, not acknowledged yet.
    Pending,
    /// Carried out.
    Done,
    /// Not carried out; see the reason.
    Failed,
}

impl CommandState {
    /// The wire/database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandState::Pending => "pending",
            CommandState::Done => "done",
            CommandState::Failed => "failed",
        }
    }
}

impl std::str::FromStr for CommandState {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s {
            "pending" => Ok(CommandState::Pending),
            "done" => Ok(CommandState::Done),
            "failed" => Ok(CommandState::Failed),
            other => Err(ParseError(format!("unknown command state {other:?}"))),
        }
    }
}

/// `POST /device/commands/{id}/ack` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommandAck {
    /// `done` or `failed`.
    pub state: CommandState,
    /// Why it failed (or what it did).
    #[serde(default)]
    pub reason: Option<String>,
    /// When the station carried it out.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_read_and_write_their_documented_spelling() {
        let json = r#"{"id":"c1","kind":"volume","volume":40,"issued_at":"2026-11-29T00:00:00Z","issued_by":"an"}"#;
        let c: RemoteCommand = serde_json::from_str(json).unwrap();
        assert_eq!((c.kind, c.volume), (CommandKind::Volume, Some(40)));
        assert_eq!(serde_json::to_string(&c).unwrap(), json);
        let stop: RemoteCommand =
            serde_json::from_str(r#"{"id":"c2","kind":"stop","issued_at":"2026-11-29T00:00:00Z"}"#)
                .unwrap();
        assert_eq!((stop.kind, stop.volume), (CommandKind::Stop, None));
        assert!("restart".parse::<CommandKind>().is_err());
        assert_eq!("done".parse::<CommandState>().unwrap(), CommandState::Done);
    }
}
