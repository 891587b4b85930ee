//! The schedule document of one station: its active rules, the urgent notices it still has
//! to air and every media file they need, with a version that is the sha256 of the
//! document's canonical JSON.

use crate::db::sql::Connection;
use crate::db::{self, media::MediaRow, stations::Station, urgent::UrgentRow};
use crate::error::AppError;
use chrono::{DateTime, Duration, Utc};
use schedules::wire::{
    MediaEntry, RelayChannel, ScheduleDocument, UrgentNotice, UrgentState, WireItem, WireRelay,
    WireRule, WireSlot,
};
use schedules::{Sha256, StationCode};
use sha2::Digest;
use std::collections::BTreeMap;

fn sha(s: &str) -> Result<Sha256, AppError> {
    Sha256::parse(s).map_err(AppError::internal)
}

fn media(conn: &Connection, sha256: &str) -> Result<MediaRow, AppError> {
    db::media::get(conn, sha256)?
        .ok_or_else(|| AppError::internal(format!("media {sha256} is referenced but missing")))
}

/// A stored notice as the wire sends it.
pub fn notice(u: &UrgentRow, m: &MediaRow) -> Result<UrgentNotice, AppError> {
    Ok(UrgentNotice {
        id: u.id.clone(),
        title: u.title.clone(),
        category: u.category.clone(),
        media_sha256: sha(&u.media_sha256)?,
        duration_ms: m.duration_ms,
        starts_at: u.starts_at,
        repeat: u.repeat,
        interval_s: u.interval_s,
        expires_at: u.expires_at,
        gain_db: Some(m.gain_db as f32),
    })
}

/// Seconds ahead of the document's build that a late station's first airing is set.
pub const LATE_LEAD_S: i64 = 3;

/// Has the notice an airing still to come or still on air at `now`?
pub fn still_airing(n: &UrgentNotice, now: DateTime<Utc>) -> bool {
    let len = Duration::milliseconds(n.duration_ms.min(i64::MAX as u64 / 2) as i64);
    n.airings().iter().any(|t| *t + len > now)
}

/// May the schedule reach stations: it, its programme and every media file it plays are
/// approved (see `db::approvals`)? Drafts and rejected items stay on the server.
fn approved(conn: &Connection, s: &db::schedules::ScheduleRow) -> Result<bool, AppError> {
    use db::approvals::{media_approved, state, Kind, State};
    let ok = |st: Option<State>| st.is_none_or(|st| st == State::Approved);
    if !ok(state(conn, Kind::Schedule, &s.id, "")?) {
        return Ok(false);
    }
    let mut media: Vec<String> = s.spec.media_sha256.iter().cloned().collect();
    if let Some(pid) = &s.spec.programme_id {
        if !ok(state(conn, Kind::Programme, pid, "")?) {
            return Ok(false);
        }
        if let Some(p) = db::programmes::get(conn, pid)? {
            media.extend(p.spec.parts.into_iter().filter_map(|p| p.media_sha256));
        }
    }
    for m in media {
        if !media_approved(conn, &m)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The rules of a station (paused and unapproved ones left out), as the wire sends them:
/// files and programmes, then relays of live channels.
pub fn rules(
    conn: &Connection,
    station: &Station,
    media_out: &mut BTreeMap<String, MediaRow>,
) -> Result<(Vec<WireRule>, Vec<WireRelay>), AppError> {
    let mut out = Vec::new();
    let mut relays = Vec::new();
    // The station's jingle fills programmes' jingle slot once approved (see `approved`).
    let jingle = match db::stations::jingle(conn, &station.code)? {
        Some(j) if db::approvals::media_approved(conn, &j)? => Some(j),
        _ => None,
    };
    for s in db::schedules::for_station(conn, &station.code, &station.area, false)? {
        if !approved(conn, &s)? {
            continue;
        }
        let Some(sha256) = &s.spec.media_sha256 else {
            if let Some(r) = &s.spec.relay {
                let c = db::channels::get(conn, &r.channel_id)?.ok_or_else(|| {
                    AppError::internal(format!(
                        "channel {} is referenced but missing",
                        r.channel_id
                    ))
                })?;
                relays.push(WireRelay {
                    id: s.id.clone(),
                    title: s.spec.title.clone(),
                    slot: slot(&s.spec),
                    window_ms: r.window_ms,
                    channel: RelayChannel {
                        id: c.id,
                        name: c.name,
                        url: c.url,
                        gain_db: c.gain_db,
                    },
                });
            }
            continue;
        };
        let mut m = media(conn, sha256)?;
        let mut items = Vec::new();
        if let Some(pid) = &s.spec.programme_id {
            let Some(p) = db::programmes::get(conn, pid)? else {
                tracing::error!(schedule = %s.id, programme = %pid, "programme is gone");
                continue;
            };
            for part in &p.spec.parts {
                // The jingle slot takes the station's own jingle, and is left out without one.
                let (sha256, is_jingle) = match (&part.media_sha256, &jingle) {
                    (Some(sha256), _) => (sha256, false),
                    (None, Some(j)) => (j, true),
                    (None, None) => continue,
                };
                let pm = media(conn, sha256)?;
                let title = if part.title.is_empty() {
                    pm.title.clone()
                } else {
                    part.title.clone()
                };
                items.push(WireItem {
                    title,
                    media_sha256: sha(&pm.sha256)?,
                    duration_ms: pm.duration_ms,
                    jingle: is_jingle,
                });
                media_out.insert(pm.sha256.clone(), pm);
            }
            let Some(first) = items.first() else {
                continue;
            };
            // What an older controller airs: the first part (see `WireRule::items`).
            m = media(conn, first.media_sha256.as_str())?;
        }
        let duration_ms = if items.is_empty() {
            m.duration_ms
        } else {
            items.iter().map(|i| i.duration_ms).sum()
        };
        out.push(WireRule {
            id: s.id.clone(),
            title: s.spec.title.clone(),
            slot: slot(&s.spec),
            media_sha256: sha(&m.sha256)?,
            duration_ms,
            items,
            programme_id: s.spec.programme_id.clone(),
        });
        media_out.insert(m.sha256.clone(), m);
    }
    Ok((out, relays))
}

/// Build the document of `station` as of `now`.
pub fn build(
    conn: &Connection,
    station: &Station,
    now: DateTime<Utc>,
) -> Result<ScheduleDocument, AppError> {
    let mut media_rows = BTreeMap::new();
    let (rules, relays) = rules(conn, station, &mut media_rows)?;
    let mut urgent = Vec::new();
    for (u, state) in db::urgent::for_station(conn, &station.code)? {
        if matches!(state, UrgentState::Played | UrgentState::Cancelled) {
            continue;
        }
        let m = media(conn, &u.media_sha256)?;
        let mut n = notice(&u, &m)?;
        // A station that was offline while a notice with an expiry aired gets it when it
        // comes back, unless it expired. (A notice without expiry lasts its airings.)
        let valid = u.expires_at.is_some_and(|e| now < e);
        // Once the station has it (`received`), the same late start must stay in its
        // document, or the next fetch would drop the notice before it airs.
        let undelivered = matches!(state, UrgentState::Pending | UrgentState::Received);
        if undelivered && valid && !still_airing(&n, now) {
            // A little ahead, so the station has time to fetch the media.
            let at = now + Duration::seconds(LATE_LEAD_S);
            n.starts_at = db::urgent::late_start(conn, &u.id, &station.code, at)?;
        }
        if still_airing(&n, now) {
            urgent.push(n);
            media_rows.insert(m.sha256.clone(), m);
        }
    }
    let mut media = Vec::with_capacity(media_rows.len());
    for m in media_rows.values() {
        media.push(MediaEntry {
            sha256: sha(&m.sha256)?,
            size_bytes: m.size_bytes,
            duration_ms: m.duration_ms,
            gain_db: m.gain_db as f32,
            codec: m.codec.clone(),
        });
    }
    let mut doc = ScheduleDocument {
        station: StationCode::parse(&station.code).map_err(AppError::internal)?,
        name: station.name.clone(),
        timezone: station.timezone.clone(),
        version: String::new(),
        rules,
        media,
        urgent,
        commands: crate::db::remote::pending_commands(conn, &station.code, now)?,
        volume_schedule: crate::db::remote::volume_schedule(conn, &station.code)?,
        relays,
    };
    doc.version = version(&doc)?;
    Ok(doc)
}

/// The version of a document: hex sha256 of its canonical JSON (with an empty version).
pub fn version(doc: &ScheduleDocument) -> Result<String, AppError> {
    let mut d = doc.clone();
    d.version.clear();
    let json = serde_json::to_vec(&d)?;
    Ok(hex::encode(sha2::Sha256::digest(&json)))
}

/// When a schedule airs and how it yields, as both its wire forms carry it.
fn slot(spec: &crate::db::schedules::ScheduleSpec) -> WireSlot {
    WireSlot {
        category: spec.category.clone(),
        priority: spec.priority,
        cron: spec.cron.clone(),
        at: spec.at,
        starts_on: spec.starts_on,
        ends_on: spec.ends_on,
        excluded_dates: spec.excluded_dates.clone(),
        max_wait_ms: spec.max_wait_ms,
    }
}
