//! A station's plan over a window: every occurrence of its rules and urgent notices,
//! resolved into what plays, what is interrupted and what is skipped, by the same
//! `schedules` code the controller runs.

use crate::db::sql::Connection;
use crate::db::{self, stations::Station};
use crate::error::AppError;
use crate::planning::document;
use chrono::{DateTime, Duration, Utc};
use schedules::{occurrence_key, occurrences, resolve, Item, Priority};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// How far before the window occurrences are expanded, so that an item still on air (or
/// still waiting) when the window opens is placed correctly.
const LOOKBACK: Duration = Duration::hours(6);

/// One entry of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PlanEntry {
    /// When it starts airing (its due time when skipped).
    pub starts_at: DateTime<Utc>,
    /// When it stops airing (None when skipped).
    pub ends_at: Option<DateTime<Utc>>,
    /// When it is due.
    pub scheduled_at: DateTime<Utc>,
    /// Title.
    pub title: String,
    /// Level: normal, priority or emergency.
    pub priority: Priority,
    /// Category.
    pub category: String,
    /// The media (None for a relay).
    pub media_id: Option<String>,
    /// The live channel a relay airs.
    pub channel_id: Option<String>,
    /// Source schedule (None for urgent notices).
    pub schedule_id: Option<String>,
    /// Source urgent notice.
    pub urgent_id: Option<String>,
    /// played (as planned), interrupted or skipped.
    pub status: String,
    /// Why it is interrupted or skipped.
    pub reason: Option<String>,
    /// Milliseconds it airs.
    pub played_ms: u64,
    /// The occurrence key (the log id the controller will use).
    pub key: String,
}

#[derive(Clone)]
struct Source {
    title: String,
    priority: Priority,
    category: String,
    media_id: Option<String>,
    channel_id: Option<String>,
    schedule_id: Option<String>,
    urgent_id: Option<String>,
}

/// The plan of `station` for `[from, to)`.
pub fn plan(
    conn: &Connection,
    station: &Station,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<PlanEntry>, AppError> {
    let tz = station.tz();
    let mut media = BTreeMap::new();
    let (rules, relays) = document::rules(conn, station, &mut media)?;
    let mut items = Vec::new();
    let mut sources: HashMap<String, Source> = HashMap::new();
    // Files and relays alike: (rule, source); a relay's item is as long as its window.
    let mut all = Vec::new();
    for w in &rules {
        let src = Source {
            title: w.title.clone(),
            priority: w.slot.priority,
            category: w.slot.category.clone(),
            media_id: Some(w.media_sha256.to_string()),
            channel_id: None,
            schedule_id: Some(w.id.clone()),
            urgent_id: None,
        };
        all.push((w.id.clone(), w.to_rule(tz), src));
    }
    for w in &relays {
        let src = Source {
            title: w.title.clone(),
            priority: w.slot.priority,
            category: w.slot.category.clone(),
            media_id: None,
            channel_id: Some(w.channel.id.clone()),
            schedule_id: Some(w.id.clone()),
            urgent_id: None,
        };
        all.push((w.id.clone(), w.to_rule(tz), src));
    }
    for (id, rule, src) in all {
        // Stored rules were validated on the way in; one that no longer reads (a newer
        // program read it differently) is left out of the plan rather than failing it.
        let rule = match rule {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(schedule = %id, error = %e, "stored rule does not read");
                continue;
            }
        };
        for t in occurrences(&rule, from - LOOKBACK, to) {
            let key = occurrence_key(&id, t);
            items.push(Item {
                key: key.clone(),
                scheduled_at: t,
                duration_ms: rule.duration_ms,
                priority: rule.priority,
                max_wait_ms: rule.max_wait_ms,
            });
            sources.insert(key, src.clone());
        }
    }
    for (u, _) in db::urgent::for_station(conn, &station.code)? {
        let Some(m) = db::media::get(conn, &u.media_sha256)? else {
            continue;
        };
        let n = document::notice(&u, &m)?;
        for t in n.airings() {
            if t < from - LOOKBACK || t >= to {
                continue;
            }
            let key = occurrence_key(&n.id, t);
            items.push(Item {
                key: key.clone(),
                scheduled_at: t,
                duration_ms: n.duration_ms,
                priority: Priority::Emergency,
                max_wait_ms: schedules::DEFAULT_MAX_WAIT_MS,
            });
            sources.insert(
                key,
                Source {
                    title: n.title.clone(),
                    priority: Priority::Emergency,
                    category: n.category.clone(),
                    media_id: Some(n.media_sha256.to_string()),
                    channel_id: None,
                    schedule_id: None,
                    urgent_id: Some(n.id.clone()),
                },
            );
        }
    }
    let mut out = Vec::new();
    for slot in resolve(&items) {
        let starts_at = slot.starts_at.unwrap_or(slot.item.scheduled_at);
        let inside = |t: DateTime<Utc>| t >= from && t < to;
        let ends_inside = slot.ends_at.is_some_and(|e| e > from && starts_at < to);
        if !(inside(starts_at) || inside(slot.item.scheduled_at) || ends_inside) {
            continue;
        }
        let Some(src) = sources.get(&slot.item.key) else {
            continue;
        };
        out.push(PlanEntry {
            starts_at,
            ends_at: slot.ends_at,
            scheduled_at: slot.item.scheduled_at,
            title: src.title.clone(),
            priority: src.priority,
            category: src.category.clone(),
            media_id: src.media_id.clone(),
            channel_id: src.channel_id.clone(),
            schedule_id: src.schedule_id.clone(),
            urgent_id: src.urgent_id.clone(),
            status: slot.status.as_str().to_string(),
            reason: slot.reason.clone(),
            played_ms: slot.played_ms,
            key: slot.item.key.clone(),
        });
    }
    out.sort_by(|a, b| a.starts_at.cmp(&b.starts_at).then(a.key.cmp(&b.key)));
    Ok(out)
}
