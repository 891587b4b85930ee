//! Small domain types that cannot hold invalid values: priorities, station codes,
//! media hashes, statuses.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Circular 39/2020/TT-BTTTT's three levels. Ordered: `Normal < Priority < Emergency`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// The commune's own programming.
    #[default]
    Normal,
    /// District and province programmes: go ahead of `normal` in the queue, cut nothing off.
    Priority,
    /// Urgent notices: interrupt whatever plays at once.
    Emergency,
}

impl Priority {
    /// The wire/database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Normal => "normal",
            Priority::Priority => "priority",
            Priority::Emergency => "emergency",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "normal" => Ok(Priority::Normal),
            "priority" => Ok(Priority::Priority),
            "emergency" => Ok(Priority::Emergency),
            other => Err(ParseError(format!(
                "unknown priority {other:?}: expected normal, priority or emergency"
            ))),
        }
    }
}

/// What became of one occurrence that came due. Exactly one per occurrence reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PlayStatus {
    /// Played to the end.
    Played,
    /// Cut off by an emergency, a stop command or a crash; `played_ms` says how much aired.
    Interrupted,
    /// Not played: waited longer than its bound behind other items.
    Skipped,
    /// Could not be played (media missing or corrupt, sound device failed).
    Failed,
    /// Its time passed while the station was down or unreachable.
    Missed,
}

impl PlayStatus {
    /// The wire/database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PlayStatus::Played => "played",
            PlayStatus::Interrupted => "interrupted",
            PlayStatus::Skipped => "skipped",
            PlayStatus::Failed => "failed",
            PlayStatus::Missed => "missed",
        }
    }
}

impl fmt::Display for PlayStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PlayStatus {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "played" => Ok(PlayStatus::Played),
            "interrupted" => Ok(PlayStatus::Interrupted),
            "skipped" => Ok(PlayStatus::Skipped),
            "failed" => Ok(PlayStatus::Failed),
            "missed" => Ok(PlayStatus::Missed),
            other => Err(ParseError(format!("unknown status {other:?}"))),
        }
    }
}

/// A value that did not parse; the message says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// A station (or area) code: 1–64 characters of `A-Z a-z 0-9 - _ .`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct StationCode(String);

impl StationCode {
    /// Parse a code.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && !s.starts_with('.');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(ParseError(format!(
                "invalid code {s:?}: use 1 to 64 letters, digits, '-', '_' or '.'"
            )))
        }
    }
    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StationCode {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<StationCode> for String {
    fn from(c: StationCode) -> String {
        c.0
    }
}
impl fmt::Display for StationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl FromStr for StationCode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A lowercase hex sha256 (64 characters): the identity of a media file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Sha256(String);

impl Sha256 {
    /// Parse a hex digest (any case; stored lowercase).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(ParseError(format!(
                "invalid sha256 {:?}: expected 64 hexadecimal digits",
                s.chars().take(80).collect::<String>()
            )))
        }
    }
    /// The digest as lowercase hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sha256 {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<Sha256> for String {
    fn from(c: Sha256) -> String {
        c.0
    }
}
impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl FromStr for Sha256 {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_order_emergency_highest() {
        assert!(Priority::Emergency > Priority::Priority);
        assert!(Priority::Priority > Priority::Normal);
    }

    #[test]
    fn codes_reject_what_cannot_be_a_path_or_a_name() {
        for bad in ["", "../x", "a b", ".hidden", "x/y", &"a".repeat(65)] {
            assert!(StationCode::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(StationCode::parse("TT-LQ_01").unwrap().as_str(), "TT-LQ_01");
    }

    #[test]
    fn sha256_is_normalised_to_lowercase() {
        let h = "AB".repeat(32);
        assert_eq!(Sha256::parse(&h).unwrap().as_str(), "ab".repeat(32));
        assert!(Sha256::parse("abc").is_err());
        assert!(Sha256::parse(&"zz".repeat(32)).is_err());
    }
}
