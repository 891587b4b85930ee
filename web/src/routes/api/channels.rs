//! Live channels for relays (tiếp sóng): admins register them (name, stream address, fixed
//! gain); operators schedule them (`POST /schedules` with `channel_id`).

use crate::auth::User;
use crate::db::{self, channels::Channel, users::Role};
use crate::error::{AppError, AppResult, JsonBody, PathArg};
use crate::routes::api::audit;
use crate::state::{AppState, Now};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

/// The gain a channel may be given, dB.
const GAIN_RANGE: std::ops::RangeInclusive<f32> = -30.0..=20.0;

/// `POST /channels` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelBody {
    name: String,
    url: String,
    #[serde(default)]
    gain_db: Option<f32>,
}

/// Check a stream address: `http://` or `https://`, a host, no spaces or control characters.
pub fn check_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    if url.len() > 2000 {
        return Err("at most 2000 characters".into());
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("{url:?} is not an http:// or https:// address"))?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("{url:?} has no host"));
    }
    Ok(url.to_string())
}

/// `GET /channels`: the channels the user may schedule.
pub async fn list(State(state): State<AppState>, user: User) -> AppResult<Json<Vec<Channel>>> {
    let list = state
        .db
        .call(move |conn| Ok(db::channels::list_visible(conn, &user.area)?))
        .await?;
    Ok(Json(list))
}

/// `POST /channels` (admin) → 201 with the channel.
pub async fn create(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    JsonBody(b): JsonBody<ChannelBody>,
) -> AppResult<(StatusCode, Json<Channel>)> {
    user.require(Role::Admin)?;
    let name = b.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid("name: 1 to 100 characters"));
    }
    let url = check_url(&b.url).map_err(|e| AppError::invalid(format!("url: {e}")))?;
    let gain_db = b.gain_db.unwrap_or(0.0);
    if !gain_db.is_finite() || !GAIN_RANGE.contains(&gain_db) {
        return Err(AppError::invalid(format!(
            "gain_db: {gain_db} must be between {} and {} dB",
            GAIN_RANGE.start(),
            GAIN_RANGE.end()
        )));
    }
    let channel = Channel {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        url,
        gain_db,
        owner_area: user.area.clone(),
        created_by: user.username.clone(),
        created_at: now,
    };
    let c = channel.clone();
    state
        .db
        .call(move |conn| {
            let tx = conn.transaction()?;
            if !db::channels::insert(&tx, &c)? {
                return Err(AppError::conflict(format!(
                    "name: {:?} is already a channel of {}",
                    c.name, c.owner_area
                )));
            }
            audit(
                &tx,
                now,
                &user,
                "channel.create",
                &c.id,
                json!({"name": c.name, "url": c.url, "gain_db": c.gain_db}),
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok((StatusCode::CREATED, Json(channel)))
}

/// `DELETE /channels/{id}` (admin of the owner's area) → 204; 409 while a schedule relays it.
pub async fn delete(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<StatusCode> {
    state
        .db
        .call(move |conn| {
            let c = db::channels::get(conn, &id)?
                .filter(|c| {
                    db::channels::visible_to(conn, &c.owner_area, &user.area).unwrap_or(false)
                })
                .ok_or_else(|| AppError::not_found(format!("no channel {id:?}")))?;
            user.require(Role::Admin)?;
            if !db::areas::in_subtree(conn, &user.area, &c.owner_area)? {
                return Err(AppError::forbidden(format!(
                    "channel {} belongs to {}, above your area",
                    c.name, c.owner_area
                )));
            }
            let n = db::channels::used_by(conn, &id)?;
            if n > 0 {
                return Err(AppError::conflict(format!(
                    "channel {} is relayed by {n} schedule(s); delete them first",
                    c.name
                )));
            }
            let tx = conn.transaction()?;
            db::channels::delete(&tx, &id)?;
            audit(
                &tx,
                now,
                &user,
                "channel.delete",
                &id,
                json!({"name": c.name}),
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn stream_addresses_are_http_with_a_host() {
        for ok in [
            "http://127.0.0.1:8000/vov1",
            "https://str.vov.gov.vn/vovlive/vov1vov5.sdp_aac/playlist.m3u8",
            "http://user:pw@radio.example:8000/live.mp3",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://x/y",
            "http://",
            "http:///x",
            "vov1",
            "http://a b/c",
            "http://:80/x",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
