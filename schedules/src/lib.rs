//! The Loa Xã domain, pure: no I/O, no clock reads (`now` and windows are parameters).
//!
//! - [`cron`]: crontab(5) expressions read exactly as `man 5 crontab` reads them;
//! - [`rule`]: schedule rules and their expansion into occurrences, in an IANA time zone;
//! - [`timeline`]: what plays when on one station (emergency interrupts; priority queues);
//! - [`describe`]: rules in words, Vietnamese and English;
//! - [`clock`]: the one `Clock` trait, the system clock and a manual clock for tests;
//! - [`types`]: priorities, statuses, station codes, media hashes;
//! - [`wire`]: what the server and the controllers exchange.

pub mod cap;
pub mod clock;
pub mod cron;
pub mod describe;
pub mod rule;
pub mod timeline;
pub mod types;
pub mod wire;

pub use clock::{Clock, ManualClock, SystemClock};
pub use cron::CronExpr;
pub use describe::{describe_cron, Lang};
pub use rule::{occurrences, Rule, When, DEFAULT_MAX_WAIT_MS, DEFAULT_TZ};
pub use timeline::{occurrence_key, resolve, Item, Slot};
pub use types::{ParseError, PlayStatus, Priority, Sha256, StationCode};
