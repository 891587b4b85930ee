//! Urgent notices: sent at once over the event streams of every target station, tracked
//! station by station, cancellable.

use crate::auth::User;
use crate::db::{self, urgent::UrgentRow, users::Role};
use crate::error::{AppError, AppResult, JsonBody, PathArg};
use crate::planning::{document, publish_schedules};
use crate::routes::api::audit;
use crate::state::{AppState, Now};
use crate::targets;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use schedules::wire::UrgentCancel;
use schedules::Sha256;
use serde::Deserialize;
use serde_json::json;

/// `POST /urgent` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrgentBody {
    title: String,
    media_id: String,
    #[serde(default)]
    stations: Vec<String>,
    #[serde(default)]
    areas: Vec<String>,
    #[serde(default)]
    repeat: Option<u32>,
    #[serde(default)]
    interval_minutes: Option<u32>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    category: Option<String>,
}

/// `POST /urgent` → 201 `{"id"}`; every target station is told at once.
pub async fn create(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    JsonBody(b): JsonBody<UrgentBody>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    user.require(Role::Operator)?;
    let title = b.title.trim().to_string();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(AppError::invalid("title: must be 1 to 200 characters"));
    }
    let repeat = b.repeat.unwrap_or(1);
    if !(1..=100).contains(&repeat) {
        return Err(AppError::invalid(format!(
            "repeat: {repeat} must be between 1 and 100"
        )));
    }
    let interval_s = match (repeat, b.interval_minutes) {
        (_, Some(m)) if !(1..=24 * 60).contains(&m) => {
            return Err(AppError::invalid(format!(
                "interval_minutes: {m} must be between 1 and 1440"
            )))
        }
        (_, Some(m)) => u64::from(m) * 60,
        (1, None) => 0,
        (_, None) => {
            return Err(AppError::invalid(
                "interval_minutes: required when repeat is more than 1",
            ))
        }
    };
    if b.expires_at.is_some_and(|e| e <= now) {
        return Err(AppError::invalid("expires_at: is already past"));
    }
    let category = b.category.unwrap_or_default().trim().to_string();
    let sha =
        Sha256::parse(&b.media_id).map_err(|e| AppError::invalid(format!("media_id: {e}")))?;
    let row = UrgentRow {
        id: uuid::Uuid::new_v4().to_string(),
        title,
        media_sha256: sha.to_string(),
        category,
        repeat,
        interval_s,
        starts_at: now,
        expires_at: b.expires_at,
        owner_area: user.area.clone(),
        created_by: user.username.clone(),
        created_at: now,
        cancelled_at: None,
    };
    let r = row.clone();
    let (notice, stations) = state
        .db
        .call(move |conn| {
            let m = match db::media::get(conn, &r.media_sha256)? {
                Some(m) if db::media::visible_to(conn, &m.sha256, &user.area)? => m,
                _ => {
                    return Err(AppError::invalid(format!(
                        "media_id: no media {} in your library",
                        r.media_sha256
                    )))
                }
            };
            let t = targets::check(conn, &user, &b.stations, &b.areas)?;
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
                &user,
                "urgent.create",
                &r.id,
                json!({"title": r.title, "media_id": r.media_sha256, "stations": stations,
                       "repeat": r.repeat, "interval_s": r.interval_s, "expires_at": r.expires_at}),
            )?;
            tx.commit()?;
            Ok((document::notice(&r, &m)?, stations))
        })
        .await?;
    let data = serde_json::to_string(&notice)?;
    for s in &stations {
        state.hub.publish(s, "urgent", data.clone());
    }
    publish_schedules(&state, stations, now).await;
    Ok((StatusCode::CREATED, Json(json!({"id": row.id}))))
}

fn visible(conn: &Connection, user: &User, id: &str) -> AppResult<UrgentRow> {
    let u = db::urgent::get(conn, id)?
        .ok_or_else(|| AppError::not_found(format!("no urgent notice {id:?}")))?;
    if db::areas::in_subtree(conn, &user.area, &u.owner_area)? {
        return Ok(u);
    }
    for d in db::urgent::deliveries(conn, id)? {
        if let Some(st) = db::stations::get(conn, &d.code)? {
            if db::areas::in_subtree(conn, &user.area, &st.area)? {
                return Ok(u);
            }
        }
    }
    Err(AppError::not_found(format!("no urgent notice {id:?}")))
}

fn view(conn: &Connection, user: &User, u: UrgentRow) -> AppResult<serde_json::Value> {
    let mut stations = Vec::new();
    for d in db::urgent::deliveries(conn, &u.id)? {
        let inside = match db::stations::get(conn, &d.code)? {
            Some(st) => db::areas::in_subtree(conn, &user.area, &st.area)?,
            None => false,
        };
        if inside {
            stations.push(d);
        }
    }
    Ok(json!({
        "id": u.id,
        "title": u.title,
        "category": u.category,
        "media_id": u.media_sha256,
        "starts_at": u.starts_at,
        "repeat": u.repeat,
        "interval_minutes": u.interval_s / 60,
        "expires_at": u.expires_at,
        "created_at": u.created_at,
        "created_by": u.created_by,
        "cancelled_at": u.cancelled_at,
        "stations": stations,
    }))
}

/// `GET /urgent`: notices the user can see, newest first, with delivery per station.
pub async fn list(
    State(state): State<AppState>,
    user: User,
) -> AppResult<Json<Vec<serde_json::Value>>> {
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
pub async fn show(
    State(state): State<AppState>,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<Json<serde_json::Value>> {
    let out = state
        .db
        .call(move |conn| {
            let u = visible(conn, &user, &id)?;
            view(conn, &user, u)
        })
        .await?;
    Ok(Json(out))
}

/// `POST /urgent/{id}/cancel` → 200 with the notice: deliveries not yet played become
/// `cancelled` and those stations are told to stop.
pub async fn cancel(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<Json<serde_json::Value>> {
    let (out, stations) = state
        .db
        .call(move |conn| {
            let u = visible(conn, &user, &id)?;
            user.require(Role::Operator)?;
            if !db::areas::in_subtree(conn, &user.area, &u.owner_area)? {
                return Err(AppError::forbidden(format!(
                    "urgent notice {id} was sent from outside your area {}",
                    user.area
                )));
            }
            let tx = conn.transaction()?;
            let stations = db::urgent::cancel(&tx, &id, now)?;
            audit(
                &tx,
                now,
                &user,
                "urgent.cancel",
                &id,
                json!({"stations": stations}),
            )?;
            tx.commit()?;
            let u = visible(conn, &user, &id)?;
            Ok((view(conn, &user, u)?, stations))
        })
        .await?;
    let id = out["id"].as_str().unwrap_or_default().to_string();
    let data = serde_json::to_string(&UrgentCancel { id })?;
    for s in &stations {
        state.hub.publish(s, "cancel", data.clone());
    }
    publish_schedules(&state, stations, now).await;
    Ok(Json(out))
}
