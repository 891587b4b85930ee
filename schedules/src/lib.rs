//! The Loa Xã domain, pure: no I/O, no clock reads (`now` and windows are parameters).
//!
//! - [`cron`]: crontab(5) expressions read exactly as `man 5 crontab` reads them;
//! - [`rule`]: schedule rules and their expansion into occurrences, in an IANA time zone;
//! - [`timeline`]: what plays when on one station (emergency interrupts; priority queues);
//! - [`describe`]: rules in words, Vietnamese and English;
//! - [`clock`]: the one `Clock` trait, the system clock and a manual clock for tests;
//! - [`geo`]: WGS 84 points, CAP polygons and circles (which stations an alert covers);
//! - [`types`]: priorities, statuses, station codes, media hashes;
//! - [`wire`]: what the server and the controllers exchange.
//!
//! # Reading a crontab(5) expression
//!
//! Five fields, `minute hour day-of-month month day-of-week`, each a list of `*`, numbers,
//! names (`jan`…`dec`, `sun`…`sat`, any case), ranges `a-b` and steps (`*/15`, `1-30/7`,
//! `a/n` = `a-max/n`); day-of-week 0 and 7 are both Sunday; the macros `@yearly`,
//! `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly` (not `@reboot`,
//! which is not a time). When day-of-month and day-of-week are **both restricted** (neither
//! field starts with `*`) a day matching **either** fires: `0 0 1,15 * mon` fires on the 1st,
//! the 15th and every Monday. See [`cron`].
//!
//! # Time zones
//!
//! Rules are read in the station's IANA zone (default `Asia/Ho_Chi_Minh`); instants are UTC.
//! A local time in a spring-forward gap is skipped; one in a fall-back overlap fires once,
//! the first time. Validity and excluded dates are local dates, inclusive. See [`rule`].
//!
//! # The timeline
//!
//! An `emergency` cuts off whatever non-emergency plays, at once (logged `interrupted` with
//! the milliseconds that aired, never resumed); emergencies queue behind each other;
//! nothing else is ever cut off. A free player takes the waiting item of highest priority,
//! then earliest due, then smallest key; an item still waiting when its `max_wait_ms` has
//! passed is `skipped`, naming the item it waited behind. See [`timeline`].
//!
//! # Example
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use schedules::{describe_cron, occurrences, CronExpr, Lang, Priority, Rule, When, DEFAULT_TZ};
//!
//! let expr: CronExpr = "30 5 * * 1-5".parse().unwrap();
//! assert_eq!(describe_cron(&expr, Lang::Vi), "Thứ Hai đến Thứ Sáu, lúc 05:30");
//! assert_eq!(describe_cron(&expr, Lang::En), "Monday to Friday at 05:30");
//!
//! let rule = Rule {
//!     id: "morning-news".into(),
//!     when: When::Cron(expr),
//!     tz: DEFAULT_TZ,
//!     starts_on: None,
//!     ends_on: None,
//!     excluded_dates: vec![],
//!     priority: Priority::Normal,
//!     duration_ms: 15 * 60_000,
//!     max_wait_ms: schedules::DEFAULT_MAX_WAIT_MS,
//! };
//! // Monday 31 August to Monday 7 September 2026, in UTC: five weekday mornings.
//! let from = Utc.with_ymd_and_hms(2026, 8, 31, 0, 0, 0).unwrap();
//! let to = Utc.with_ymd_and_hms(2026, 9, 7, 0, 0, 0).unwrap();
//! let times = occurrences(&rule, from, to);
//! assert_eq!(times.len(), 5);
//! // 05:30 in Hà Nội (UTC+7) is 22:30 UTC the evening before.
//! assert_eq!(times[0], Utc.with_ymd_and_hms(2026, 8, 31, 22, 30, 0).unwrap());
//! ```

pub mod cap;
pub mod cap_feed;
pub mod cap_policy;
pub mod clock;
pub mod cron;
pub mod describe;
pub mod geo;
pub mod remote;
pub mod rule;
pub mod timeline;
pub mod types;
pub mod volume;
pub mod wire;

pub use clock::{Clock, ManualClock, SystemClock};
pub use cron::CronExpr;
pub use describe::{describe_cron, describe_rule, Lang};
pub use rule::{next_occurrences, occurrences, Rule, When, DEFAULT_MAX_WAIT_MS, DEFAULT_TZ};
pub use timeline::{next_start_after, occurrence_key, playing_at, resolve, Item, Slot};
pub use types::{ParseError, PlayStatus, Priority, Sha256, StationCode};
