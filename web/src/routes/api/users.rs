//! People, for administrators: list and add users inside their area.

use crate::admin::{self, Actor};
use crate::auth::{self, User};
use crate::db::{self, users::Role};
use crate::error::{AppError, AppResult, JsonBody};
use crate::state::{AppState, Now};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// `POST /users` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: String,
    password: String,
    role: Role,
    area: String,
}

/// A user as answered (never the hash).
#[derive(Debug, Serialize)]
pub struct UserView {
    username: String,
    role: Role,
    area: String,
}

/// Refuse unless `area` exists and lies in the admin's subtree.
pub fn area_in_reach(conn: &rusqlite::Connection, user: &User, area: &str) -> AppResult<()> {
    if db::areas::get(conn, area)?.is_none() {
        return Err(AppError::invalid(format!("area: unknown area {area:?}")));
    }
    if !db::areas::in_subtree(conn, &user.area, area)? {
        return Err(AppError::forbidden(format!(
            "area {area} is outside your area {}",
            user.area
        )));
    }
    Ok(())
}

/// `GET /users` (admin): users whose area is in the admin's subtree.
pub async fn list(State(state): State<AppState>, user: User) -> AppResult<Json<Vec<UserView>>> {
    user.require(Role::Admin)?;
    let rows = state
        .db
        .call(move |conn| Ok(db::users::list_in_subtree(conn, &user.area)?))
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|u| UserView {
                username: u.username,
                role: u.role,
                area: u.area,
            })
            .collect(),
    ))
}

/// `POST /users` (admin) → 201.
pub async fn create(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    JsonBody(b): JsonBody<NewUser>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    user.require(Role::Admin)?;
    auth::check_password_rules(&b.password)?;
    let (u, area) = (user.clone(), b.area.clone());
    state
        .db
        .call(move |conn| area_in_reach(conn, &u, &area))
        .await?;
    let password = b.password;
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(AppError::internal)??;
    let (username, role, area) = (b.username, b.role, b.area);
    let out = json!({"username": username, "role": role, "area": area});
    state
        .db
        .call(move |conn| {
            let actor = Actor {
                name: &user.username,
                remote: user.remote.as_deref(),
            };
            admin::insert_user(conn, actor, &username, &hash, role, &area, now)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(out)))
}
