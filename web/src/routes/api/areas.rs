//! The areas tree as far as the user can see: their area and everything below it.

use crate::admin::{self, Actor};
use crate::auth::User;
use crate::db::{self, areas::Area, users::Role};
use crate::error::{AppResult, JsonBody};
use crate::routes::api::users::area_in_reach;
use crate::state::{AppState, Now};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

/// `GET /areas`: the user's area and its subtree, by code.
pub async fn list(State(state): State<AppState>, user: User) -> AppResult<Json<Vec<Area>>> {
    let rows = state
        .db
        .call(move |conn| Ok(db::areas::list_subtree(conn, &user.area)?))
        .await?;
    Ok(Json(rows))
}

/// `POST /areas` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewArea {
    code: String,
    name: String,
    parent: String,
}

/// `POST /areas` (admin): a new area under one in the admin's subtree → 201.
pub async fn create(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    JsonBody(b): JsonBody<NewArea>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    user.require(Role::Admin)?;
    let out = json!({"code": b.code, "name": b.name, "parent": b.parent});
    state
        .db
        .call(move |conn| {
            area_in_reach(conn, &user, &b.parent).map_err(|mut e| {
                e.message = e.message.replacen("area", "parent", 1);
                e
            })?;
            let actor = Actor {
                name: &user.username,
                remote: user.remote.as_deref(),
            };
            admin::insert_area(conn, actor, &b.code, &b.name, Some(&b.parent), now)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(out)))
}
