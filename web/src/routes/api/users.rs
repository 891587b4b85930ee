//! People, for administrators: list and add users inside their area, disable and enable
//! them, set a new password for them.

use crate::admin::{self, Actor};
use crate::app::audit::record as audit;
use crate::app::{objects, Action};
use crate::auth::{self, User};
use crate::db::{self, users::Role};
use crate::error::{AppError, AppResult, JsonBody, PathArg};
use crate::state::{AppState, Now};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// `POST /users` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: String,
    password: String,
    role: Role,
    area: String,
}

/// A user as answered (never the hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct UserView {
    username: String,
    role: Role,
    area: String,
    disabled: bool,
}

/// Refuse unless `area` exists (422: it is a field of the body) and lies in the admin's
/// subtree.
pub fn area_in_reach(conn: &crate::db::sql::Connection, user: &User, area: &str) -> AppResult<()> {
    if db::areas::get(conn, area)?.is_none() {
        return Err(AppError::invalid(format!("area: unknown area {area:?}")));
    }
    objects::area(conn, user, Action::Read, area)?;
    Ok(())
}

/// `GET /users` (admin): users whose area is in the admin's subtree.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    summary = "Users in reach (admin).",
    responses((status = 200, description = "the users", body = [UserView]))
)]
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
                disabled: u.disabled,
            })
            .collect(),
    ))
}

/// `POST /users` (admin) → 201.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    summary = "Add a user (admin); password at least 8 characters.",
    request_body = NewUser,
    responses((status = 201, description = "added", body = UserCreated), (status = 409, description = "the username is taken"))
)]
pub async fn create(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    JsonBody(b): JsonBody<NewUser>,
) -> AppResult<(StatusCode, Json<UserCreated>)> {
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
    let out = UserCreated {
        username: username.clone(),
        role,
        area: area.clone(),
    };
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

/// The user `username` if their area lies in `admin`'s subtree; 404 otherwise (users outside
/// one's area are not disclosed).
/// What `POST /users` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserCreated {
    /// Login name.
    username: String,
    /// Role over the area's subtree.
    role: Role,
    /// The area.
    area: String,
}

/// What `POST /users/{username}/disable` and `…/enable` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserDisabled {
    /// Login name.
    username: String,
    /// Whether the user is now disabled.
    disabled: bool,
}

fn user_in_reach(
    conn: &crate::db::sql::Connection,
    admin: &User,
    username: &str,
) -> AppResult<db::users::UserRow> {
    Ok(objects::user(conn, admin, Action::Change, username)?)
}

async fn set_disabled(
    state: AppState,
    now: chrono::DateTime<chrono::Utc>,
    user: User,
    username: String,
    disable: bool,
) -> AppResult<Json<UserDisabled>> {
    user.require(Role::Admin)?;
    if disable && username == user.username {
        return Err(AppError::conflict("you cannot disable your own account"));
    }
    state
        .db
        .call(move |conn| {
            let u = user_in_reach(conn, &user, &username)?;
            db::users::set_disabled(conn, u.id, disable.then_some(now))?;
            let action = if disable {
                "user.disable"
            } else {
                "user.enable"
            };
            audit(conn, now, &user, action, &u.username, json!({}))?;
            Ok(Json(UserDisabled {
                username: u.username,
                disabled: disable,
            }))
        })
        .await
}

/// `POST /users/{username}/disable` (admin): the user can no longer sign in and every
/// session or token of theirs ends at once.
#[utoipa::path(
    post,
    path = "/api/v1/users/{username}/disable",
    summary = "Disable a user (admin): no sign-in; their sessions and tokens end at once.",
    responses((status = 200, description = "disabled", body = UserDisabled), (status = 404, description = "no such user in reach"), (status = 409, description = "your own account"))
)]
pub async fn disable(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(username): PathArg<String>,
) -> AppResult<Json<UserDisabled>> {
    set_disabled(state, now, user, username, true).await
}

/// `POST /users/{username}/enable` (admin): the user may sign in again.
#[utoipa::path(
    post,
    path = "/api/v1/users/{username}/enable",
    summary = "Enable a disabled user again (admin).",
    responses((status = 200, description = "enabled", body = UserDisabled), (status = 404, description = "no such user in reach"))
)]
pub async fn enable(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(username): PathArg<String>,
) -> AppResult<Json<UserDisabled>> {
    set_disabled(state, now, user, username, false).await
}

/// `POST /users/{username}/password` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    password: String,
}

/// `POST /users/{username}/password` (admin) → 204: a new password for someone who lost
/// theirs; every session and token of theirs ends.
#[utoipa::path(
    post,
    path = "/api/v1/users/{username}/password",
    summary = "Set a new password for a user (admin); their sessions and tokens end.",
    request_body = NewPassword,
    responses((status = 204, description = "set"), (status = 404, description = "no such user in reach"))
)]
pub async fn reset_password(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(username): PathArg<String>,
    JsonBody(b): JsonBody<NewPassword>,
) -> AppResult<StatusCode> {
    user.require(Role::Admin)?;
    auth::check_password_rules(&b.password)?;
    let (u, name) = (user.clone(), username.clone());
    let target = state
        .db
        .call(move |conn| user_in_reach(conn, &u, &name))
        .await?;
    let password = b.password;
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(AppError::internal)??;
    state
        .db
        .call(move |conn| {
            // No token is kept: the admin's own tokens belong to another user anyway.
            db::passwords::set(conn, target.id, &hash, "")?;
            audit(
                conn,
                now,
                &user,
                "user.reset_password",
                &target.username,
                json!({}),
            )?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
