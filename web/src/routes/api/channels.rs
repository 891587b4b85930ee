//! Live channels for relays (tiếp sóng): admins register them (name, stream address, fixed
//! gain, typed or measured from a sample of the stream); operators schedule them
//! (`POST /schedules` with `channel_id`).

use crate::app::audit::record as audit;
use crate::app::{objects, Action};
use crate::auth::User;
use crate::db::sql::Connection;
use crate::db::{self, channels::Channel, users::Role};
use crate::error::{AppError, AppResult, JsonBody, PathArg};
use crate::measure::{self, Sampled};
use crate::planning::publish_schedules;
use crate::state::{AppState, Now};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

/// The gain a channel may be given, dB.
const GAIN_RANGE: std::ops::RangeInclusive<f32> = -30.0..=20.0;
/// How many seconds of a stream a measurement may sample.
const SAMPLE_SECONDS: std::ops::RangeInclusive<u32> = 5..=60;
/// Seconds sampled when the request does not say.
const DEFAULT_SAMPLE_SECONDS: u32 = 20;

/// `POST /channels` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelBody {
    name: String,
    url: String,
    #[serde(default)]
    gain_db: Option<f32>,
    /// Set the gain from a sample of the stream instead.
    #[serde(default)]
    measure: bool,
    /// Seconds to sample when measuring.
    #[serde(default)]
    seconds: Option<u32>,
}

/// `POST /channels/{id}/measure` body (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureBody {
    #[serde(default)]
    seconds: Option<u32>,
}

/// `PATCH /channels/{id}` body: what changes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    gain_db: Option<f32>,
}

/// A channel's name: 1 to 100 characters, trimmed.
fn check_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid("name: 1 to 100 characters"));
    }
    Ok(name.to_string())
}

/// The answer when another channel of the area already has `c`'s name.
fn name_taken(c: &Channel) -> AppError {
    AppError::conflict(format!(
        "name: {:?} is already a channel of {}",
        c.name, c.owner_area
    ))
}

/// A gain within [`GAIN_RANGE`].
fn check_gain(gain_db: f32) -> AppResult<()> {
    if !gain_db.is_finite() || !GAIN_RANGE.contains(&gain_db) {
        return Err(AppError::invalid(format!(
            "gain_db: {gain_db} must be between {} and {} dB",
            GAIN_RANGE.start(),
            GAIN_RANGE.end()
        )));
    }
    Ok(())
}

/// The seconds to sample: `seconds` or the default, within [`SAMPLE_SECONDS`].
fn sample_seconds(seconds: Option<u32>) -> AppResult<u32> {
    let s = seconds.unwrap_or(DEFAULT_SAMPLE_SECONDS);
    if !SAMPLE_SECONDS.contains(&s) {
        return Err(AppError::invalid(format!(
            "seconds: {s} must be between {} and {}",
            SAMPLE_SECONDS.start(),
            SAMPLE_SECONDS.end()
        )));
    }
    Ok(s)
}

/// The gain that brings a measured sample to the loudness every bulletin is brought to
/// (the upload path's target, true peak ceiling included), within [`GAIN_RANGE`].
fn gain_for(s: &Sampled) -> f32 {
    let o = media::ProbeOptions::default();
    let g = media::gain_db(
        s.loudness_lufs,
        s.true_peak_dbtp,
        o.target_lufs,
        o.max_true_peak_dbtp,
    ) as f32;
    let g = (g * 100.0).round() / 100.0;
    g.clamp(*GAIN_RANGE.start(), *GAIN_RANGE.end())
}

/// The channel `id` for an admin who may change it: 404 when the user cannot see it, 403
/// when it belongs to an area above theirs or they are not an admin.
fn manageable(conn: &Connection, user: &User, id: &str) -> AppResult<Channel> {
    Ok(objects::channel(conn, user, Action::Change, id)?)
}

/// The stations whose documents relay the channel.
fn stations_relaying(conn: &Connection, id: &str) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    for s in db::channels::schedules_using(conn, id)? {
        out.extend(db::schedules::target_stations(conn, &s)?);
    }
    out.sort();
    out.dedup();
    Ok(out)
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
#[utoipa::path(
    get,
    path = "/api/v1/channels",
    summary = "Live channels in reach (registered in your area, above or below it).",
    responses((status = 200, description = "the channels", body = [Channel]))
)]
pub async fn list(State(state): State<AppState>, user: User) -> AppResult<Json<Vec<Channel>>> {
    let list = state
        .db
        .call(move |conn| Ok(db::channels::list_visible(conn, &user.area)?))
        .await?;
    Ok(Json(list))
}

/// `POST /channels` (admin) → 201 with the channel.
#[utoipa::path(
    post,
    path = "/api/v1/channels",
    summary = "Register a live channel (admin): an HTTP/Icecast stream of MP3, AAC or Ogg.",
    request_body = ChannelBody,
    responses((status = 201, description = "registered", body = Channel), (status = 409, description = "the name is taken"), (status = 502, description = "measuring: the stream cannot be had"))
)]
pub async fn create(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    JsonBody(b): JsonBody<ChannelBody>,
) -> AppResult<(StatusCode, Json<Channel>)> {
    user.require(Role::Admin)?;
    let name = check_name(&b.name)?;
    let url = check_url(&b.url).map_err(|e| AppError::invalid(format!("url: {e}")))?;
    if b.measure && b.gain_db.is_some() {
        return Err(AppError::invalid(
            "gain_db: give a gain or \"measure\": true, not both",
        ));
    }
    if !b.measure && b.seconds.is_some() {
        return Err(AppError::invalid("seconds: only with \"measure\": true"));
    }
    let seconds = sample_seconds(b.seconds)?;
    let mut gain_db = b.gain_db.unwrap_or(0.0);
    let mut loudness_lufs = None;
    if b.measure {
        let sampled = measure::sample(&url, seconds).await?;
        gain_db = gain_for(&sampled);
        loudness_lufs = Some(sampled.loudness_lufs);
    }
    check_gain(gain_db)?;
    let channel = Channel {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        url,
        gain_db,
        owner_area: user.area.clone(),
        created_by: user.username.clone(),
        created_at: now,
        loudness_lufs,
        measured_at: loudness_lufs.map(|_| now),
    };
    let c = channel.clone();
    state
        .db
        .call(move |conn| {
            let tx = conn.transaction()?;
            if !db::channels::insert(&tx, &c)? {
                return Err(name_taken(&c));
            }
            audit(
                &tx,
                now,
                &user,
                "channel.create",
                &c.id,
                json!({"name": c.name, "url": c.url, "gain_db": c.gain_db,
                       "loudness_lufs": c.loudness_lufs}),
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok((StatusCode::CREATED, Json(channel)))
}

/// `DELETE /channels/{id}` (admin of the owner's area) → 204; 409 while a schedule relays it.
#[utoipa::path(
    delete,
    path = "/api/v1/channels/{id}",
    summary = "Delete a channel no schedule relays (admin of its area).",
    responses((status = 204, description = "deleted"), (status = 404, description = "no such channel in reach"), (status = 409, description = "a schedule relays it"))
)]
pub async fn delete(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<StatusCode> {
    state
        .db
        .call(move |conn| {
            let c = manageable(conn, &user, &id)?;
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

/// `PATCH /channels/{id}` (admin of its area): rename it, point it at another address or
/// type its gain → 200 with the channel. A new address drops the last measurement (it was
/// of another stream); the stations relaying it are told their document changed.
#[utoipa::path(
    patch,
    path = "/api/v1/channels/{id}",
    summary = "Change a channel (admin of its area): its name, its address (which drops the last measurement) or its gain.",
    request_body = ChannelPatch,
    responses((status = 200, description = "the channel", body = Channel), (status = 404, description = "no such channel in reach"), (status = 409, description = "the name is taken"))
)]
pub async fn update(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(id): PathArg<String>,
    JsonBody(b): JsonBody<ChannelPatch>,
) -> AppResult<Json<Channel>> {
    let name = b.name.as_deref().map(check_name).transpose()?;
    let url = b
        .url
        .as_deref()
        .map(|u| check_url(u).map_err(|e| AppError::invalid(format!("url: {e}"))))
        .transpose()?;
    if let Some(g) = b.gain_db {
        check_gain(g)?;
    }
    let (channel, stations) = state
        .db
        .call(move |conn| {
            let mut c = manageable(conn, &user, &id)?;
            let before = c.clone();
            if let Some(name) = name {
                c.name = name;
            }
            if let Some(url) = url {
                if url != c.url {
                    c.loudness_lufs = None;
                    c.measured_at = None;
                }
                c.url = url;
            }
            if let Some(g) = b.gain_db {
                c.gain_db = g;
            }
            if c == before {
                return Ok((c, Vec::new()));
            }
            let tx = conn.transaction()?;
            if !db::channels::update(&tx, &c)? {
                return Err(name_taken(&c));
            }
            audit(
                &tx,
                now,
                &user,
                "channel.update",
                &c.id,
                json!({"name": c.name, "url": c.url, "gain_db": c.gain_db}),
            )?;
            let stations = stations_relaying(&tx, &c.id)?;
            tx.commit()?;
            Ok((c, stations))
        })
        .await?;
    publish_schedules(&state, stations, now).await;
    Ok(Json(channel))
}

/// `POST /channels/{id}/measure` (admin of its area), body optional `{"seconds"}`: sample
/// the stream, set the gain from its loudness → 200 with the channel. A stream that cannot
/// be measured leaves the channel as it was (see [`measure::sample`] for the errors).
#[utoipa::path(
    post,
    path = "/api/v1/channels/{id}/measure",
    summary = "Measure the channel's loudness (EBU R128) from a sample of its stream and set its gain to bring it to the bulletins' target (admin of its area). 502 when the stream cannot be had (stream_unreachable, stream_refused, stream_failed, stream_ended), 422 when it is not audio (not_audio) or silent (silent); the channel is then left as it was.",
    request_body(content = MeasureBody, description = "may be empty"),
    responses((status = 200, description = "the channel, measured", body = Channel), (status = 404, description = "no such channel in reach"), (status = 502, description = "the stream cannot be had"))
)]
pub async fn measure(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(id): PathArg<String>,
    body: Bytes,
) -> AppResult<Json<Channel>> {
    let b: MeasureBody = if body.iter().all(u8::is_ascii_whitespace) {
        MeasureBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| AppError::invalid(format!("body: {e}")))?
    };
    let seconds = sample_seconds(b.seconds)?;
    let (u, i) = (user.clone(), id.clone());
    let channel = state.db.call(move |conn| manageable(conn, &u, &i)).await?;
    let sampled = measure::sample(&channel.url, seconds).await?;
    let m = db::channels::Measurement {
        loudness_lufs: sampled.loudness_lufs,
        gain_db: gain_for(&sampled),
        at: now,
    };
    let (channel, stations) = state
        .db
        .call(move |conn| {
            let tx = conn.transaction()?;
            if !db::channels::set_measured(&tx, &id, &m)? {
                return Err(AppError::not_found(format!(
                    "channel {id:?} was deleted while it was measured"
                )));
            }
            audit(
                &tx,
                now,
                &user,
                "channel.measure",
                &id,
                json!({"seconds": seconds, "loudness_lufs": m.loudness_lufs,
                       "true_peak_dbtp": sampled.true_peak_dbtp, "gain_db": m.gain_db}),
            )?;
            let c = db::channels::get(&tx, &id)?
                .ok_or_else(|| AppError::internal("channel vanished during measurement"))?;
            let stations = stations_relaying(&tx, &id)?;
            tx.commit()?;
            Ok((c, stations))
        })
        .await?;
    publish_schedules(&state, stations, now).await;
    Ok(Json(channel))
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
