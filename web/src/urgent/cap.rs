//! CAP 1.2 and 1.1 alerts into urgent notices. `Actual` alerts air (and `Exercise` ones
//! when the server is configured so); every message is recorded. `Alert` sends a notice,
//! `Update` replaces the notices of the messages it references (and, when none of them was
//! received, airs as a new alert), `Cancel` cancels them (and is recorded when there is
//! nothing to cancel). The same sender and identifier twice make one notice.
//!
//! Where an alert airs ([`reach`]): the stations whose location lies inside one of its
//! polygons or circles, and the stations of the areas and the stations its geocodes name
//! (by our code or an area's official code) — of those, only the ones the poster may
//! reach. Geocodes that name nothing of ours (another system's zone codes) are ignored. An
//! alert that reaches no station is recorded as such ([`Outcome::Unreached`]).

use crate::app::audit::Audited;
use crate::app::{self, objects, targets, Action};
use crate::auth::User;
use crate::db::{self, urgent::CapRecord};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::urgent::{self, NewNotice, Sound};
use chrono::{DateTime, Utc};
use schedules::cap::{verify_digest, CapAlert, CapError, CapMsgType, CapResource, CapStatus};
use schedules::Sha256;
use serde_json::json;
use std::io::Write as _;

/// What became of a CAP message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A notice went on air (for an `Update`, after cancelling those it replaces).
    Aired {
        /// The new notice.
        id: String,
        /// Notices cancelled by an `Update`.
        replaced: Vec<String>,
    },
    /// A `Cancel`: these notices were cancelled.
    Cancelled(Vec<String>),
    /// Recorded only (status not aired).
    Recorded,
    /// Recorded only: no station the poster may reach lies inside the alert's polygons or
    /// circles, and its geocodes name none.
    Unreached {
        /// Geocodes that named no area or station of ours.
        unmatched: Vec<String>,
    },
    /// Seen before: the first message's outcome (the notice it made, if any).
    Duplicate(Option<String>),
}

/// Map the parser's error: not XML at all → 400, XML that is not an acceptable CAP 1.2
/// message → 422; the message is the parser's.
pub fn parse_error(e: CapError) -> AppError {
    match e {
        CapError::Xml(_) | CapError::DoctypeRefused | CapError::Encoding { .. } => {
            AppError::bad_request(e.to_string())
        }
        CapError::TooLarge { .. } => AppError::too_large(e.to_string()),
        _ => AppError::invalid(e.to_string()),
    }
}

/// Whether a message with this status goes on air.
pub fn airs(status: CapStatus, air_exercises: bool) -> bool {
    match status {
        CapStatus::Actual => true,
        CapStatus::Exercise => air_exercises,
        CapStatus::System | CapStatus::Test | CapStatus::Draft => false,
    }
}

/// Take in a parsed CAP message (`xml` as received, for the record).
///
/// The message is first claimed for its receiver (the caller's account): the same message
/// again from the same account is a duplicate, whoever else sent one with that sender and
/// identifier, and two identical posts at the same moment air once. A refused message
/// gives its claim up, so that it can be sent again corrected.
pub async fn ingest(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
    alert: CapAlert,
    xml: String,
) -> AppResult<Outcome> {
    let aired = airs(alert.status, state.config.cap_air_exercises);
    ingest_as(state, user, now, alert, xml, aired).await
}

/// [`ingest`], with whether the message airs decided by the caller (a source's policy).
pub async fn ingest_as(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
    alert: CapAlert,
    xml: String,
    aired: bool,
) -> AppResult<Outcome> {
    let key = alert.key();
    let record = CapRecord {
        key: key.clone(),
        sender: alert.sender.clone(),
        identifier: alert.identifier.clone(),
        sent: alert.sent,
        status: alert.status.as_str().to_string(),
        msg_type: alert.msg_type.as_str().to_string(),
        aired: false,
        urgent_id: None,
        received_by: user.username.clone(),
        received_at: now,
        xml,
    };
    if let Some((_, id)) = state
        .db
        .call(move |conn| Ok(db::urgent::claim_cap(conn, &record)?))
        .await?
    {
        return Ok(Outcome::Duplicate(id));
    }
    let handled = if aired {
        air(state, user, now, &alert).await
    } else {
        Ok(Outcome::Recorded)
    };
    let (u, k) = (user.clone(), key.clone());
    let outcome = match handled {
        Ok(o) => o,
        Err(e) => {
            state
                .db
                .call(move |conn| Ok(db::urgent::release_cap(conn, &u.username, &k)?))
                .await?;
            return Err(e);
        }
    };
    let urgent_id = match &outcome {
        Outcome::Aired { id, .. } => Some(id.clone()),
        Outcome::Cancelled(ids) => ids.first().cloned(),
        _ => None,
    };
    let unmatched = match &outcome {
        Outcome::Unreached { unmatched } => Some(unmatched.clone()),
        _ => None,
    };
    let aired = aired && unmatched.is_none();
    let detail = json!({"status": alert.status.as_str(), "msgType": alert.msg_type.as_str(),
        "aired": aired, "urgent_id": urgent_id, "references": reference_list(&alert),
        "reached_no_station": unmatched.is_some(), "unmatched_geocodes": unmatched});
    state
        .db
        .call(move |conn| {
            let tx = Audited::begin(conn, &u, now)?;
            db::urgent::settle_cap(&tx, &u.username, &k, aired, urgent_id.as_deref())?;
            tx.commit("cap.receive", &k, detail)?;
            Ok(())
        })
        .await?;
    Ok(outcome)
}

/// Put an `Actual` (or aired `Exercise`) message on air: an `Alert` sends a notice, an
/// `Update` sends one and cancels those it replaces, a `Cancel` cancels them. The notices
/// it replaces or cancels must be ones the caller may change, all of them, or nothing
/// happens.
async fn air(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
    alert: &CapAlert,
) -> AppResult<Outcome> {
    let key = alert.key();
    let referenced = referenced_notices(state, user, alert).await?;
    Ok(match alert.msg_type {
        CapMsgType::Alert => {
            let Some(id) = send(state, user, now, alert).await? else {
                return unreached(state, user, alert).await;
            };
            Outcome::Aired {
                id,
                replaced: Vec::new(),
            }
        }
        CapMsgType::Update => {
            if alert.references.is_empty() {
                return Err(AppError::invalid(
                    "references: an Update must name the message it updates",
                ));
            }
            // Send first: a refused update leaves the old notice on air. An update that
            // reaches no station takes the old notices off the air all the same: the
            // authority moved the warned area away from them.
            let Some(id) = send(state, user, now, alert).await? else {
                let detail = json!({"cap": key, "msgType": "Update", "replaced_by": null});
                for old in &referenced {
                    urgent::cancel(state, user, now, old, detail.clone()).await?;
                }
                return unreached(state, user, alert).await;
            };
            let detail = json!({"cap": key, "msgType": "Update", "replaced_by": id});
            for old in &referenced {
                urgent::cancel(state, user, now, old, detail.clone()).await?;
            }
            Outcome::Aired {
                id,
                replaced: referenced,
            }
        }
        CapMsgType::Cancel => {
            if alert.references.is_empty() {
                return Err(AppError::invalid(
                    "references: a Cancel must name the message it cancels",
                ));
            }
            // A Cancel of a message never received (or that aired nothing) is recorded:
            // there is nothing to stop.
            let detail = json!({"cap": key, "msgType": "Cancel"});
            for old in &referenced {
                urgent::cancel(state, user, now, old, detail.clone()).await?;
            }
            Outcome::Cancelled(referenced)
        }
        CapMsgType::Ack | CapMsgType::Error => {
            return Err(AppError::invalid(format!(
                "msgType: {} messages are not taken (send Alert, Update or Cancel)",
                alert.msg_type.as_str()
            )))
        }
    })
}

fn reference_list(alert: &CapAlert) -> String {
    alert
        .references
        .iter()
        .map(|r| r.key())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Notices made from the messages `alert` references, not yet cancelled; 403 when one of
/// them is not the caller's to change (a commune's CAP message cannot cancel a province's
/// alert), before anything is done.
async fn referenced_notices(
    state: &AppState,
    user: &User,
    alert: &CapAlert,
) -> AppResult<Vec<String>> {
    let keys: Vec<String> = alert.references.iter().map(|r| r.key()).collect();
    let user = user.clone();
    state
        .db
        .call(move |conn| {
            let mut st = conn.prepare_cached(
                "SELECT id FROM urgent WHERE cap_key = ?1 AND cancelled_at IS NULL ORDER BY id",
            )?;
            let mut out = Vec::new();
            for k in &keys {
                for id in st.query_map([k], |r| r.get::<_, String>(0))? {
                    let id = id?;
                    objects::urgent(conn, &user, Action::Change, &id).map_err(|e| match e {
                        app::Error::NotFound(_) | app::Error::Forbidden(_) => {
                            AppError::forbidden(format!(
                                "references: notice {id} (from {k}) is not yours to change: {e}"
                            ))
                        }
                        other => other.into(),
                    })?;
                    out.push(id);
                }
            }
            Ok(out)
        })
        .await
}

async fn unreached(state: &AppState, user: &User, alert: &CapAlert) -> AppResult<Outcome> {
    let r = reach(state, user, alert).await?;
    Ok(Outcome::Unreached {
        unmatched: r.unmatched,
    })
}

/// Turn an alert into a notice and send it; `None` when it reaches no station.
async fn send(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
    alert: &CapAlert,
) -> AppResult<Option<String>> {
    let info = alert
        .preferred_info()
        .ok_or_else(|| AppError::invalid("info: the alert has no info block to air"))?;
    let expires_at = alert.expires();
    if expires_at.is_some_and(|e| e <= now) {
        return Err(AppError::invalid(format!(
            "info/expires: the alert expired at {}",
            expires_at.map(|e| e.to_rfc3339()).unwrap_or_default()
        )));
    }
    let Reach {
        stations, areas, ..
    } = reach(state, user, alert).await?;
    if stations.is_empty() && areas.is_empty() {
        return Ok(None);
    }
    let title: String = info
        .headline
        .clone()
        .unwrap_or_else(|| info.event.clone())
        .chars()
        .take(200)
        .collect();
    let sound = match alert.audio() {
        Some(res) => Sound::Stored(audio(state, user, now, &title, res).await?),
        None => Sound::Text(urgent::tts::validate(&alert.spoken_text().ok_or_else(
            || {
                AppError::invalid(
                    "info: no audio resource and no headline, description or instruction to speak",
                )
            },
        )?)?),
    };
    let (id, _) = urgent::send(
        state,
        user,
        now,
        NewNotice {
            title,
            sound,
            chime: true,
            stations,
            areas,
            repeat: 1,
            interval_s: 0,
            expires_at,
            category: info.category.join(", "),
            cap_key: Some(alert.key()),
            extra: json!({"cap": alert.key(), "status": alert.status.as_str(),
                          "msgType": alert.msg_type.as_str(), "event": info.event}),
        },
    )
    .await?;
    Ok(Some(id))
}

/// Where an alert airs for `user`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reach {
    /// Stations inside a polygon or circle, and stations a geocode names.
    pub stations: Vec<String>,
    /// Areas a geocode names (by code or official code), limited to the caller's: an area
    /// above the caller's own stands for the caller's own.
    pub areas: Vec<String>,
    /// Geocodes that name no area or station of ours.
    pub unmatched: Vec<String>,
}

/// Where `alert` airs for `user` (see the module documentation), checked through the
/// rulebook's targets before any audio is fetched or made. 403 when its geocodes name only
/// places outside the caller's reach and nothing else reaches a station.
pub async fn reach(state: &AppState, user: &User, alert: &CapAlert) -> AppResult<Reach> {
    let codes = alert.geocodes();
    if codes.is_empty() && !alert.has_shapes() {
        return Err(AppError::invalid(
            "info/area: the alert names no polygon, circle or geocode",
        ));
    }
    let (user, alert) = (user.clone(), alert.clone());
    state
        .db
        .call(move |conn| Ok(reach_in(conn, &user, &alert, &codes)?))
        .await
}

fn reach_in(
    conn: &crate::db::sql::Connection,
    user: &User,
    alert: &CapAlert,
    codes: &[String],
) -> Result<Reach, app::Error> {
    use std::collections::BTreeSet;
    let (mut stations, mut areas) = (BTreeSet::new(), BTreeSet::new());
    let (mut unmatched, mut outside) = (Vec::new(), Vec::new());
    for c in codes {
        let area = match db::areas::get(conn, c)? {
            Some(a) => Some(a),
            None => db::areas::by_official_code(conn, c)?,
        };
        if let Some(a) = area {
            if app::policy::in_reach(conn, user, &a.code)? {
                areas.insert(a.code);
            } else if app::policy::in_area(conn, &a.code, &user.area)? {
                // A province-wide alert, posted from a district: the district's part.
                areas.insert(user.area.clone());
            } else {
                outside.push(c.clone());
            }
        } else if let Some(st) = db::stations::get(conn, c)? {
            if app::policy::in_reach(conn, user, &st.area)? {
                stations.insert(st.code);
            } else {
                outside.push(c.clone());
            }
        } else {
            unmatched.push(c.clone());
        }
    }
    if alert.has_shapes() {
        for st in db::stations::located_in_subtree(conn, &user.area)? {
            if st.location.is_some_and(|p| alert.covers(p)) {
                stations.insert(st.code);
            }
        }
    }
    let (stations, areas): (Vec<String>, Vec<String>) =
        (stations.into_iter().collect(), areas.into_iter().collect());
    if stations.is_empty() && areas.is_empty() {
        if !outside.is_empty() {
            return Err(app::Error::Forbidden(format!(
                "info/area/geocode: {} lie outside your area {}",
                outside.join(", "),
                user.area
            )));
        }
        return Ok(Reach {
            unmatched,
            ..Reach::default()
        });
    }
    // Through the rulebook, as every other entry point: each target in reach.
    let t = targets::check(conn, user, &stations, &areas)?;
    if targets::expand(conn, &t)?.is_empty() {
        return Ok(Reach {
            unmatched,
            ..Reach::default()
        });
    }
    Ok(Reach {
        stations: t.stations,
        areas: t.areas,
        unmatched,
    })
}

/// The audio resource into the library: inline `derefUri`, else fetched from `uri`; checked
/// against `digest` when one is given, then probed like any upload.
async fn audio(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
    title: &str,
    res: &CapResource,
) -> AppResult<Sha256> {
    let bytes = match (&res.deref_uri, &res.uri) {
        (Some(b), _) => b.clone(),
        (None, Some(uri)) => fetch(state, uri).await?,
        (None, None) => {
            return Err(AppError::invalid(
                "info/resource: the audio resource has neither uri nor derefUri",
            ))
        }
    };
    if res.digest.is_some() && !verify_digest(res, &bytes) {
        return Err(AppError::invalid(format!(
            "info/resource/digest: the audio ({} bytes) does not match digest {}",
            bytes.len(),
            res.digest.as_deref().unwrap_or_default()
        )));
    }
    let store = state.media.clone();
    let tmp = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        let mut tmp = store.temp_file()?;
        tmp.write_all(&bytes)?;
        tmp.flush()?;
        Ok(tmp)
    })
    .await
    .map_err(AppError::internal)??;
    super::made::into_library(state, user, now, tmp, title.to_string())
        .await
        .map_err(|e| {
            if e.status.is_client_error() {
                AppError::invalid(format!("info/resource: {}", e.message))
            } else {
                e
            }
        })
}

/// GET `uri`, only when it starts with one of the addresses an admin allowed
/// (`cap_fetch_allow`), at most `cap_max_audio_bytes`, within `cap_fetch_timeout`, with no
/// redirect followed. Every failure of the source answers the same words (the detail goes
/// to the server's log), so that a CAP message cannot be used to map the network.
async fn fetch(state: &AppState, uri: &str) -> AppResult<Vec<u8>> {
    let bad = |m: String| AppError::invalid(format!("info/resource/uri: {uri}: {m}"));
    let url = reqwest::Url::parse(uri).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("only http and https are fetched".into()));
    }
    if !fetch_allowed(&state.config.cap_fetch_allow, &url) {
        return Err(bad(
            "not an address this server fetches from (an admin lists them in cap_fetch_allow); \
             send the audio inline (derefUri) instead"
                .into(),
        ));
    }
    let max = state.config.cap_max_audio_bytes;
    let timeout = state.config.cap_fetch_timeout;
    let unfetched = |why: String| {
        tracing::warn!(uri, "CAP audio not fetched: {why}");
        bad("the audio could not be fetched from its source".into())
    };
    let get = async {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(AppError::internal)?;
        let mut res = client
            .get(url)
            .send()
            .await
            .map_err(|e| unfetched(e.to_string()))?;
        if !res.status().is_success() {
            return Err(unfetched(format!("answered {}", res.status())));
        }
        let mut out = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| unfetched(e.to_string()))? {
            if (out.len() + chunk.len()) as u64 > max {
                return Err(bad(format!("larger than {max} bytes")));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    };
    tokio::time::timeout(timeout, get)
        .await
        .map_err(|_| unfetched(format!("not fetched within {timeout:?}")))?
}

/// Does `url` start with one of the allowed addresses? An allowed address is compared as a
/// parsed URL: same scheme, host and port, and a path under the allowed one.
pub fn fetch_allowed(allow: &[String], url: &reqwest::Url) -> bool {
    allow.iter().any(|a| {
        let Ok(a) = reqwest::Url::parse(a) else {
            return false;
        };
        let dir = if a.path().ends_with('/') {
            a.path().to_string()
        } else {
            format!("{}/", a.path())
        };
        a.scheme() == url.scheme()
            && a.host_str() == url.host_str()
            && a.port_or_known_default() == url.port_or_known_default()
            && (url.path() == a.path() || url.path().starts_with(&dir))
            && url.username().is_empty()
            && url.password().is_none()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_under_an_allowed_one_are_fetched() {
        let allow = vec!["https://kttv.example.vn/cap/".to_string()];
        let ok = |u: &str| fetch_allowed(&allow, &reqwest::Url::parse(u).unwrap());
        assert!(ok("https://kttv.example.vn/cap/audio/1.wav"));
        assert!(ok("https://kttv.example.vn:443/cap/x.mp3"));
        for refused in [
            "http://kttv.example.vn/cap/x.wav",
            "https://kttv.example.vn:8443/cap/x.wav",
            "https://kttv.example.vn/capx/x.wav",
            "https://kttv.example.vn/other/x.wav",
            "https://kttv.example.vn.evil.example/cap/x.wav",
            "https://user@kttv.example.vn/cap/x.wav",
            "https://127.0.0.1/cap/x.wav",
        ] {
            assert!(!ok(refused), "{refused}");
        }
        assert!(!fetch_allowed(
            &[],
            &reqwest::Url::parse("https://a/b").unwrap()
        ));
    }
}
