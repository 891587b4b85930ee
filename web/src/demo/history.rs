//! The demo's month of history: thirty days of as-run logs for its 23 stations, as a
//! district's month looks — the two daily bulletins aired, the town's weekday notice, a few
//! stations relaying the national channel every morning, three stations offline for some
//! days (their bulletins `missed`), one failed and one skipped airing, and a storm warning
//! that interrupted the evening bulletin everywhere.
//!
//! Every entry is marked as demo data, so it can never be taken for a real broadcast: its
//! id starts with [`ID_PREFIX`] and its reason with [`REASON_PREFIX`]. All of it lies
//! before the stations' creation instant, so reconciliation never judges it again.

use crate::db::sql::{params, Transaction};
use crate::db::{self, ts};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Days of history.
pub const DAYS: i64 = 30;
/// Every demo entry's id starts with this.
pub const ID_PREFIX: &str = "demo-";
/// Every demo entry's reason starts with this.
pub const REASON_PREFIX: &str = "demo data";

/// Stations offline for a stretch: (code, first day ago, last day ago), inclusive.
pub const OFFLINE: [(&str, i64, i64); 3] = [
    ("CANHNAU", 25, 22),
    ("HUONGNGAI", 11, 9),
    ("YENTRUNG", 4, 3),
];

/// Stations relaying the national channel's morning news every day.
pub const RELAYS: [&str; 6] = ["LQ", "BINHPHU", "PHUNGXA", "TANXA", "THACHHOA", "KIMQUAN"];

/// How many days ago the storm warning interrupted the evening bulletin.
pub const STORM_DAYS_AGO: i64 = 12;

/// Length of the relayed news, ms.
const RELAY_MS: i64 = 30 * 60_000;

/// What the history refers to: the schedules and media the demo made.
pub struct Refs<'a> {
    /// (schedule id, media sha256, media ms) of the morning bulletin.
    pub morning: (&'a str, &'a str, i64),
    /// The same for the evening bulletin.
    pub evening: (&'a str, &'a str, i64),
    /// The same for LQ's weekday notice.
    pub notice: (&'a str, &'a str, i64),
    /// (media sha256, ms) of the storm warning.
    pub storm: (&'a str, i64),
}

struct Entry<'a> {
    station: &'a str,
    id: String,
    schedule_id: Option<&'a str>,
    title: &'a str,
    category: &'a str,
    priority: &'a str,
    media: Option<&'a str>,
    at: DateTime<Utc>,
    status: &'a str,
    played_ms: i64,
    planned_ms: i64,
    reason: Option<&'a str>,
}

fn local(day: NaiveDate, h: u32, m: u32, s: u32, tz: Tz) -> DateTime<Utc> {
    let t = day.and_time(NaiveTime::from_hms_opt(h, m, s).unwrap_or(NaiveTime::MIN));
    tz.from_local_datetime(&t)
        .earliest()
        .map(|x| x.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&t))
}

/// Insert the history of the `DAYS` local days before `now`'s date; answers how many
/// entries were written.
pub fn seed<'a>(
    tx: &Transaction<'_>,
    stations: &[&'a str],
    refs: &Refs<'a>,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<usize> {
    let tz = schedules::DEFAULT_TZ;
    let today = now.with_timezone(&tz).date_naive();
    let mut entries = Vec::new();
    for ago in (1..=DAYS).rev() {
        let day = today - Duration::days(ago);
        let date = day.format("%Y%m%d").to_string();
        for (si, &st) in stations.iter().enumerate() {
            let offline = OFFLINE
                .iter()
                .any(|(c, from, to)| *c == st && ago <= *from && ago >= *to);
            let bulletin =
                |kind: &str, (sid, media, ms): (&'a str, &'a str, i64), at, title| Entry {
                    station: st,
                    id: format!("{ID_PREFIX}{kind}-{st}-{date}"),
                    schedule_id: Some(sid),
                    title,
                    category: "cải cách hành chính",
                    priority: "priority",
                    media: Some(media),
                    at,
                    status: "played",
                    played_ms: ms,
                    planned_ms: ms,
                    reason: None,
                };
            let mut morning = bulletin(
                "morning",
                refs.morning,
                local(day, 5, 30, 0, tz),
                "Bản tin cải cách hành chính (sáng)",
            );
            let mut evening = bulletin(
                "evening",
                refs.evening,
                local(day, 17, 0, 0, tz),
                "Bản tin cải cách hành chính (chiều)",
            );
            if offline {
                for e in [&mut morning, &mut evening] {
                    e.status = "missed";
                    e.played_ms = 0;
                    e.reason = Some("no log entry from the station (station offline)");
                }
            } else if ago == STORM_DAYS_AGO {
                // The storm warning cut the evening bulletin two seconds in.
                evening.status = "interrupted";
                evening.played_ms = 2_000.min(evening.planned_ms);
                evening.reason = Some("interrupted by an urgent notice");
                entries.push(Entry {
                    station: st,
                    id: format!("{ID_PREFIX}storm-{st}-{date}"),
                    schedule_id: None,
                    title: "Tin khẩn: phòng chống bão",
                    category: "phòng chống thiên tai",
                    priority: "emergency",
                    media: Some(refs.storm.0),
                    at: local(day, 17, 0, 2, tz),
                    status: "played",
                    played_ms: refs.storm.1,
                    planned_ms: refs.storm.1,
                    reason: None,
                });
            } else if ago == 15 && si % 11 == 5 {
                morning.status = "failed";
                morning.played_ms = 0;
                morning.reason = Some("the sound device did not open");
            }
            entries.push(morning);
            entries.push(evening);
            if offline {
                continue;
            }
            if RELAYS.contains(&st) {
                let skipped = ago == 6 && st == "TANXA";
                entries.push(Entry {
                    station: st,
                    id: format!("{ID_PREFIX}relay-{st}-{date}"),
                    schedule_id: None,
                    title: "Tiếp sóng Đài Tiếng nói Việt Nam: Thời sự",
                    category: "tiếp sóng",
                    priority: "normal",
                    media: None,
                    at: local(day, 6, 0, 0, tz),
                    status: if skipped { "skipped" } else { "played" },
                    played_ms: if skipped { 0 } else { RELAY_MS },
                    planned_ms: RELAY_MS,
                    reason: skipped.then_some("the channel's stream did not answer"),
                });
            }
            let weekday = !matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
            if st == "LQ" && weekday {
                let (sid, media, ms) = refs.notice;
                entries.push(Entry {
                    station: st,
                    id: format!("{ID_PREFIX}notice-{st}-{date}"),
                    schedule_id: Some(sid),
                    title: "Thông báo tiêm phòng gia súc",
                    category: "thông báo",
                    priority: "normal",
                    media: Some(media),
                    at: local(day, 18, 0, 0, tz),
                    status: "played",
                    played_ms: ms,
                    planned_ms: ms,
                    reason: None,
                });
            }
        }
    }
    let mut ins = tx.prepare(
        "INSERT INTO logs (station, id, schedule_id, urgent_id, title, category,
            priority, media_sha256, scheduled_at, started_at, ended_at, played_ms, status,
            reason, received_at, source, planned_ms, local_date)
         VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
            ?17) ON CONFLICT DO NOTHING",
    )?;
    let mut n = 0;
    for e in &entries {
        let aired = e.status != "missed" && e.status != "skipped" && e.status != "failed";
        let started = aired.then(|| ts(e.at));
        let ended = aired.then(|| ts(e.at + Duration::milliseconds(e.played_ms)));
        let reason = match e.reason {
            Some(r) => format!("{REASON_PREFIX}: {r}"),
            None => format!("{REASON_PREFIX}: made by `loaxa-web demo`, not a real broadcast"),
        };
        // A missed entry is the server's (reconciliation's); the others came from devices.
        let source = if e.status == "missed" {
            "server"
        } else {
            "device"
        };
        n += ins.execute(params![
            e.station,
            e.id,
            e.schedule_id,
            e.title,
            e.category,
            e.priority,
            e.media,
            ts(e.at),
            started,
            ended,
            e.played_ms,
            e.status,
            reason,
            ts(e.at + Duration::seconds(if aired { 40 } else { 7_200 })),
            source,
            e.planned_ms,
            db::logs::local_date(e.at, tz),
        ])?;
    }
    Ok(n)
}
