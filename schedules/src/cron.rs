//! crontab(5) expressions, read exactly as `man 5 crontab` reads them.
//!
//! Five fields: minute hour day-of-month month day-of-week, with numbers, names
//! (`jan`…`dec`, `sun`…`sat`), ranges, steps (`*/15`, `1-30/7`), lists and `*`;
//! Sunday is 0 or 7; the macros `@yearly`/`@annually`/`@monthly`/`@weekly`/`@daily`/`@midnight`/`@hourly`.
//! When both day-of-month and day-of-week are restricted (neither starts with `*`), a day
//! matching *either* fires.

use crate::types::ParseError;
use chrono::NaiveDateTime;
use std::fmt;
use std::str::FromStr;

/// A parsed crontab(5) expression. Its `Display` gives back the text it was parsed from (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    text: String,
    // fields are private to the implementation
}

impl CronExpr {
    /// Parse a crontab(5) expression. The error names the field and what was wrong.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let _ = text;
        todo!("schedules helper")
    }

    /// Does this expression fire at this local wall-clock minute (seconds ignored)?
    pub fn matches(&self, local: NaiveDateTime) -> bool {
        let _ = local;
        todo!("schedules helper")
    }

    /// The expression's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for CronExpr {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
