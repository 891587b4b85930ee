//! Urgent notices: sent at once over the event streams of every target station, tracked
//! station by station, cancellable.

use crate::app::validate::Instant;
use crate::app::{objects, Action};
use crate::auth::User;
use crate::db::sql::Connection;
use crate::db::{self, urgent::UrgentRow, users::Role};
use crate::error::{AppError, AppResult, JsonBody, PathArg};
use crate::state::{AppState, Now};
use crate::urgent::{self, NewNotice, Sound};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use schedules::Sha256;
use serde::Deserialize;
use serde_json::json;

/// `POST /urgent` body: `media_id` or `text`; `repeat` or `until` with `interval_minutes`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UrgentBody {
    title: String,
    #[serde(default)]
    media_id: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    chime: bool,
    #[serde(default)]
    stations: Vec<String>,
    #[serde(default)]
    areas: Vec<String>,
    #[serde(default)]
    repeat: Option<u32>,
    #[serde(default)]
    interval_minutes: Option<u32>,
    #[serde(default)]
    #[schema(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    until: Option<Instant>,
    #[serde(default)]
    #[schema(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    expires_at: Option<Instant>,
    #[serde(default)]
    category: Option<String>,
}

/// Check a `POST /urgent` body field by field; the errors name the field.
fn validate(b: UrgentBody, now: DateTime<Utc>) -> AppResult<NewNotice> {
    let title = b.title.trim().to_string();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(AppError::invalid("title: must be 1 to 200 characters"));
    }
    let sound = match (b.media_id, b.text) {
        (Some(_), Some(_)) => {
            return Err(AppError::invalid("text: give media_id or text, not both"))
        }
        (Some(m), None) => Sound::Media(
            Sha256::parse(&m).map_err(|e| AppError::invalid(format!("media_id: {e}")))?,
        ),
        (None, Some(t)) => Sound::Text(urgent::tts::validate(&t)?),
        (None, None) => {
            return Err(AppError::invalid(
                "media_id: give media_id (a library file) or text (spoken by the server)",
            ))
        }
    };
    let interval_s = match b.interval_minutes {
        Some(m) if !(1..=24 * 60).contains(&m) => {
            return Err(AppError::invalid(format!(
                "interval_minutes: {m} must be between 1 and 1440"
            )))
        }
        Some(m) => u64::from(m) * 60,
        None => 0,
    };
    let repeat = match (b.repeat, b.until) {
        (Some(_), Some(_)) => {
            return Err(AppError::invalid("until: give repeat or until, not both"))
        }
        (_, Some(_)) if interval_s == 0 => {
            return Err(AppError::invalid("interval_minutes: required with until"))
        }
        (None, Some(until)) => urgent::airings_until(now, until.get(), interval_s)?,
        (r, None) => r.unwrap_or(1),
    };
    if !(1..=urgent::MAX_REPEAT).contains(&repeat) {
        return Err(AppError::invalid(format!(
            "repeat: {repeat} must be between 1 and {}",
            urgent::MAX_REPEAT
        )));
    }
    if repeat > 1 && interval_s == 0 {
        return Err(AppError::invalid(
            "interval_minutes: required when repeat is more than 1",
        ));
    }
    if b.expires_at.is_some_and(|e| e.get() <= now) {
        return Err(AppError::invalid("expires_at: is already past"));
    }
    Ok(NewNotice {
        title,
        sound,
        chime: b.chime,
        stations: b.stations,
        areas: b.areas,
        repeat,
        interval_s: if repeat > 1 { interval_s } else { 0 },
        expires_at: b.expires_at.map(Instant::get),
        category: b.category.unwrap_or_default().trim().to_string(),
        cap_key: None,
        extra: json!("api"),
    })
}

/// `POST /urgent` → 201 `{"id"}`; every target station is told at once.
#[utoipa::path(
    post,
    path = "/api/v1/urgent",
    summary = "Push an urgent notice: interrupts whatever plays on the stations.",
    request_body = UrgentBody,
    responses((status = 201, description = "pushed", body = super::common::Created))
)]
pub async fn create(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    JsonBody(b): JsonBody<UrgentBody>,
) -> AppResult<(StatusCode, Json<super::common::Created>)> {
    user.require(Role::Operator)?;
    let n = validate(b, now)?;
    let (id, _) = urgent::send(&state, &user, now, n).await?;
    Ok((StatusCode::CREATED, Json(super::common::Created { id })))
}

fn visible(conn: &Connection, user: &User, id: &str) -> AppResult<UrgentRow> {
    Ok(objects::urgent(conn, user, Action::Read, id)?)
}

/// An urgent notice as answered, with its delivery at each station in reach.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Urgent)]
pub struct UrgentView {
    /// Its id.
    id: String,
    /// Title, as logged.
    title: String,
    /// Category.
    category: String,
    /// The media it plays (SHA-256).
    media_id: String,
    /// First airing.
    starts_at: chrono::DateTime<chrono::Utc>,
    /// How many times it airs.
    repeat: u32,
    /// Minutes between two airings.
    interval_minutes: u64,
    /// No airing starts at or after this instant.
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When it was made.
    created_at: chrono::DateTime<chrono::Utc>,
    /// Who made it.
    created_by: String,
    /// When it was cancelled.
    cancelled_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The text spoken, for a spoken notice.
    text: Option<String>,
    /// The CAP alert it came from.
    cap: Option<String>,
    /// Its delivery at each station in reach.
    stations: Vec<db::urgent::Delivery>,
}

fn view(conn: &Connection, user: &User, u: UrgentRow) -> AppResult<UrgentView> {
    // The user's stations once, not an area walk per delivery (a province-wide notice has
    // thousands).
    let mine: std::collections::HashSet<String> = db::stations::list_in_subtree(conn, &user.area)?
        .into_iter()
        .map(|s| s.code)
        .collect();
    let stations: Vec<_> = db::urgent::deliveries(conn, &u.id)?
        .into_iter()
        .filter(|d| mine.contains(&d.code))
        .collect();
    Ok(UrgentView {
        id: u.id,
        title: u.title,
        category: u.category,
        media_id: u.media_sha256,
        starts_at: u.starts_at,
        repeat: u.repeat,
        interval_minutes: u.interval_s / 60,
        expires_at: u.expires_at,
        created_at: u.created_at,
        created_by: u.created_by,
        cancelled_at: u.cancelled_at,
        text: u.text,
        cap: u.cap_key,
        stations,
    })
}

/// `GET /urgent`: notices the user can see, newest first, with delivery per station.
#[utoipa::path(
    get,
    path = "/api/v1/urgent",
    summary = "Urgent notices in reach.",
    responses((status = 200, description = "the notices, newest first", body = [UrgentView]))
)]
pub async fn list(State(state): State<AppState>, user: User) -> AppResult<Json<Vec<UrgentView>>> {
    let out = state
        .db
        .call(move |conn| {
            db::urgent::list_visible(conn, &user.area)?
                .into_iter()
                .map(|u| view(conn, &user, u))
                .collect()
        })
        .await?;
    Ok(Json(out))
}

/// `GET /urgent/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/urgent/{id}",
    summary = "An urgent notice with its delivery state per station.",
    responses((status = 200, description = "the notice", body = UrgentView), (status = 404, description = "no such notice in reach"))
)]
pub async fn show(
    State(state): State<AppState>,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<Json<UrgentView>> {
    let out = state
        .db
        .call(move |conn| {
            let u = visible(conn, &user, &id)?;
            view(conn, &user, u)
        })
        .await?;
    Ok(Json(out))
}

/// `POST /urgent/{id}/cancel` → 200 with the notice: deliveries not yet played (and, for a
/// repeated notice, all of them) become `cancelled` and those stations are told to stop.
#[utoipa::path(
    post,
    path = "/api/v1/urgent/{id}/cancel",
    summary = "Cancel an urgent notice.",
    responses((status = 200, description = "the notice", body = UrgentView), (status = 404, description = "no such notice in reach"), (status = 409, description = "already over"))
)]
pub async fn cancel(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<Json<UrgentView>> {
    let (u, i) = (user.clone(), id.clone());
    state
        .db
        .call(move |conn| {
            objects::urgent(conn, &u, Action::Change, &i)?;
            Ok(())
        })
        .await?;
    urgent::cancel(&state, &user, now, &id, json!("api")).await?;
    let out = state
        .db
        .call(move |conn| {
            let n = visible(conn, &user, &id)?;
            view(conn, &user, n)
        })
        .await?;
    Ok(Json(out))
}
