//! Urgent notices beyond the plain API call: sending one (shared by `POST /urgent` and CAP
//! ingestion), speaking text ([`tts`]), the chime before a notice ([`chime`]), and CAP 1.2
//! alerts turned into notices ([`cap`]).

pub mod cap;
pub mod chime;
pub mod compact;
mod made;
pub mod signature;
pub mod sources;
pub mod tts;

use crate::app::audit::record as audit;
use crate::app::targets;
use crate::auth::User;
use crate::db::{self, urgent::UrgentRow};
use crate::error::{AppError, AppResult};
use crate::planning::{document, publish_schedules};
use crate::state::AppState;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use schedules::wire::Event;
use schedules::wire::UrgentPush;
use schedules::Sha256;
use serde_json::json;
use std::sync::Arc;

/// Most airings one notice may have.
pub const MAX_REPEAT: u32 = 100;

/// What a notice plays: a library file, or text the server speaks.
#[derive(Debug, Clone, PartialEq)]
pub enum Sound {
    /// Media already in the library.
    Media(Sha256),
    /// Text to speak in Vietnamese.
    Text(String),
    /// Media the caller has just stored (CAP audio), any area's.
    Stored(Sha256),
}

/// A notice to send, validated field by field by the caller.
#[derive(Debug, Clone)]
pub struct NewNotice {
    /// Title, as logged.
    pub title: String,
    /// What plays.
    pub sound: Sound,
    /// Play the chime first.
    pub chime: bool,
    /// Station codes (`*` for all of the user's).
    pub stations: Vec<String>,
    /// Area codes.
    pub areas: Vec<String>,
    /// Airings.
    pub repeat: u32,
    /// Seconds between airings.
    pub interval_s: u64,
    /// No airing starts at or after this.
    pub expires_at: Option<DateTime<Utc>>,
    /// Category.
    pub category: String,
    /// The CAP message it comes from.
    pub cap_key: Option<String>,
    /// Audit details added by the caller (e.g. the CAP message).
    pub extra: serde_json::Value,
}

/// The airings from `now` to `until` (inclusive) every `interval_s` seconds.
pub fn airings_until(
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    interval_s: u64,
) -> Result<u32, AppError> {
    if until <= now {
        return Err(AppError::invalid("until: is already past"));
    }
    let span = (until - now).num_seconds().max(0) as u64;
    let n = span / interval_s.max(1) + 1;
    if n > u64::from(MAX_REPEAT) {
        return Err(AppError::invalid(format!(
            "until: gives {n} airings at this interval; at most {MAX_REPEAT}"
        )));
    }
    Ok(n as u32)
}

/// Store a notice and push it to every target station at once. Answers its id and the
/// stations it went to. Targets are checked before any audio is made, so a refused notice
/// leaves nothing behind.
pub async fn send(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
    n: NewNotice,
) -> AppResult<(String, Vec<String>)> {
    // 1. Targets and library media, before any work.
    let (u, st, ar, sound) = (
        user.clone(),
        n.stations.clone(),
        n.areas.clone(),
        n.sound.clone(),
    );
    state
        .db
        .call(move |conn| {
            if let Sound::Media(sha) = &sound {
                let ok = match db::media::get(conn, sha.as_str())? {
                    Some(m) => db::media::visible_to(conn, &m.sha256, &u.area)?,
                    None => false,
                };
                if !ok {
                    return Err(AppError::invalid(format!(
                        "media_id: no media {sha} in your library"
                    )));
                }
            }
            let t = targets::check(conn, &u, &st, &ar)?;
            if targets::expand(conn, &t)?.is_empty() {
                return Err(AppError::invalid(
                    "stations: the targets contain no station",
                ));
            }
            Ok(())
        })
        .await?;

    // 2. The audio.
    let mut sha = match &n.sound {
        Sound::Media(s) | Sound::Stored(s) => s.clone(),
        Sound::Text(text) => tts::speak_into_library(state, user, now, &n.title, text).await?,
    };
    if n.chime {
        sha = chime::prepend(state, user, now, &n.title, &sha).await?;
    }
    let sent_from = sha.clone();
    sha = compact::for_sending(state, user, now, &n.title, &sha).await?;
    let text = match &n.sound {
        Sound::Text(t) => Some(t.clone()),
        _ => None,
    };

    // 3. The notice, its deliveries and the audit entry, in one transaction.
    let row = UrgentRow {
        id: uuid::Uuid::new_v4().to_string(),
        title: n.title,
        media_sha256: sha.to_string(),
        category: n.category,
        repeat: n.repeat,
        interval_s: n.interval_s,
        starts_at: now,
        expires_at: n.expires_at,
        owner_area: user.area.clone(),
        created_by: user.username.clone(),
        created_at: now,
        cancelled_at: None,
        text,
        cap_key: n.cap_key,
    };
    let (r, u, extra) = (row.clone(), user.clone(), n.extra);
    // The file the sent copy was made from, if one was made.
    let from = (sent_from != sha).then(|| sent_from.to_string());
    let (st, ar, chime) = (n.stations, n.areas, n.chime);
    let (notice, size, stations) = state
        .db
        .call(move |conn| {
            let m = db::media::get(conn, &r.media_sha256)?
                .ok_or_else(|| AppError::internal(format!("media {} vanished", r.media_sha256)))?;
            let t = targets::check(conn, &u, &st, &ar)?;
            let stations = targets::expand(conn, &t)?;
            if stations.is_empty() {
                return Err(AppError::invalid(
                    "stations: the targets contain no station",
                ));
            }
            let tx = conn.transaction()?;
            db::urgent::insert(&tx, &r, &stations)?;
            audit(
                &tx,
                now,
                &u,
                "urgent.create",
                &r.id,
                json!({"title": r.title, "media_id": r.media_sha256, "text": r.text,
                       "chime": chime, "stations": stations, "repeat": r.repeat,
                       "interval_s": r.interval_s, "expires_at": r.expires_at,
                       "audio_from": from,
                       "cap": r.cap_key, "source": extra}),
            )?;
            crate::app::approval::mark_for_review(&tx, &u, &r.id, &r.owner_area, now)?;
            tx.commit()?;
            Ok((document::notice(&r, &m)?, m.size_bytes, stations))
        })
        .await?;
    let audio = inline_audio(state, &notice.media_sha256, size).await;
    let data: Arc<str> = serde_json::to_string(&UrgentPush { notice, audio })?.into();
    state.hub.publish_many(&stations, Event::Urgent, data);
    // The notice itself is on its way; the new document versions follow in the background
    // (for a province that is thousands of documents, which must not delay the answer),
    // once the stations have had time to fetch the notice's audio: the documents and the
    // refetches they cause would otherwise queue ahead of it.
    tokio::spawn({
        let (state, stations) = (state.clone(), stations.clone());
        async move {
            tokio::time::sleep(DOCUMENTS_AFTER).await;
            publish_schedules(&state, stations, now).await
        }
    });
    Ok((row.id, stations))
}

/// The notice's audio, base64, when it is small enough to ride with the push
/// ([`crate::state::Config::urgent_inline_max_bytes`]). Encoded once for every station. A
/// file that cannot be read goes without: the stations fetch it, and get the error there.
async fn inline_audio(state: &AppState, sha: &Sha256, size: u64) -> Option<String> {
    if size == 0 || size > state.config.urgent_inline_max_bytes {
        return None;
    }
    if let Err(e) = crate::library::ensure_local(&state.media, &state.db, sha).await {
        tracing::warn!("urgent audio {sha}: {e}");
    }
    let (store, s) = (state.media.clone(), sha.clone());
    match tokio::task::spawn_blocking(move || store.read_whole(&s)).await {
        Ok(Ok(bytes)) => Some(base64::engine::general_purpose::STANDARD.encode(&bytes)),
        Ok(Err(e)) => {
            tracing::warn!("urgent audio {sha} unreadable, not sent with the push: {e}");
            None
        }
        Err(e) => {
            tracing::warn!("urgent audio {sha}: read task failed: {e}");
            None
        }
    }
}

/// How long after an urgent push the stations are told that their documents changed.
const DOCUMENTS_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// Cancel a notice everywhere: deliveries become `cancelled`, stations are told to stop, the
/// audit log records who did it. `detail` goes into the audit entry.
pub async fn cancel(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
    id: &str,
    detail: serde_json::Value,
) -> AppResult<Vec<String>> {
    let (u, i) = (user.clone(), id.to_string());
    let stations = state
        .db
        .call(move |conn| {
            let tx = conn.transaction()?;
            let stations = db::urgent::cancel(&tx, &i, now)?;
            audit(
                &tx,
                now,
                &u,
                "urgent.cancel",
                &i,
                json!({"stations": stations, "source": detail}),
            )?;
            tx.commit()?;
            Ok(stations)
        })
        .await?;
    let data: Arc<str> =
        serde_json::to_string(&schedules::wire::UrgentCancel { id: id.to_string() })?.into();
    state.hub.publish_many(&stations, Event::Cancel, data);
    tokio::spawn({
        let (state, stations) = (state.clone(), stations.clone());
        async move { publish_schedules(&state, stations, now).await }
    });
    Ok(stations)
}
