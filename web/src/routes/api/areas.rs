//! The areas tree as far as the user can see: their area and everything below it; admins
//! add, rename and move areas inside it.

use crate::admin::{self, Actor};
use crate::app::audit::record as audit;
use crate::auth::User;
use crate::db::{self, areas::Area, users::Role};
use crate::error::{AppError, AppResult, JsonBody, PathArg};
use crate::routes::api::users::area_in_reach;
use crate::state::{AppState, Now};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

/// `GET /areas`: the user's area and its subtree, by code.
#[utoipa::path(
    get,
    path = "/api/v1/areas",
    summary = "Areas (province, district, commune) in reach.",
    responses((status = 200, description = "the areas", body = [Area]))
)]
pub async fn list(State(state): State<AppState>, user: User) -> AppResult<Json<Vec<Area>>> {
    let rows = state
        .db
        .call(move |conn| Ok(db::areas::list_subtree(conn, &user.area)?))
        .await?;
    Ok(Json(rows))
}

/// `POST /areas` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewArea {
    code: String,
    name: String,
    parent: String,
}

/// `POST /areas` (admin): a new area under one in the admin's subtree → 201.
#[utoipa::path(
    post,
    path = "/api/v1/areas",
    summary = "Add an area under another (admin).",
    request_body = NewArea,
    responses((status = 201, description = "added: the area as given", body = NewArea), (status = 409, description = "the code is taken"))
)]
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

/// `PATCH /areas/{code}` body: a new name, a new parent, or both.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AreaChange {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    parent: Option<String>,
    /// Absent: unchanged; `null`: cleared; a string: set.
    #[serde(default, deserialize_with = "present")]
    official_code: Option<Option<String>>,
}

/// A field that is there, even as `null`, is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PATCH /areas/{code}` (admin): rename an area of the admin's subtree, or move it under
/// another area of that subtree (never under itself or its own descendants; the admin's own
/// area stays where it is). Stations and users go along with it.
#[utoipa::path(
    patch,
    path = "/api/v1/areas/{code}",
    summary = "Rename an area, move it under another area in reach and/or set its official code (admin).",
    request_body = AreaChange,
    responses((status = 200, description = "the area", body = Area), (status = 404, description = "no such area in reach"))
)]
pub async fn update(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(code): PathArg<String>,
    JsonBody(b): JsonBody<AreaChange>,
) -> AppResult<Json<Area>> {
    user.require(Role::Admin)?;
    if b.name.is_none() && b.parent.is_none() && b.official_code.is_none() {
        return Err(AppError::invalid(
            "name: give a new name, a new parent or an official_code",
        ));
    }
    let name = match b.name {
        Some(n) if n.trim().is_empty() || n.trim().chars().count() > 200 => {
            return Err(AppError::invalid("name: must be 1 to 200 characters"))
        }
        n => n.map(|n| n.trim().to_string()),
    };
    state
        .db
        .call(move |conn| {
            area_in_reach(conn, &user, &code)?;
            if let Some(p) = &b.parent {
                if code == user.area {
                    return Err(AppError::forbidden(format!(
                        "parent: area {code} is your own area; it cannot be moved"
                    )));
                }
                area_in_reach(conn, &user, p).map_err(|mut e| {
                    e.message = e.message.replacen("area", "parent", 1);
                    e
                })?;
                if db::areas::in_subtree(conn, &code, p)? {
                    return Err(AppError::invalid(format!(
                        "parent: {p} lies inside {code}; an area cannot be moved under itself"
                    )));
                }
            }
            if let Some(official) = &b.official_code {
                let actor = Actor {
                    name: &user.username,
                    remote: user.remote.as_deref(),
                };
                admin::set_area_official_code(conn, actor, &code, official.as_deref(), now)?;
            }
            let tx = conn.transaction()?;
            db::areas::update(&tx, &code, name.as_deref(), b.parent.as_deref())?;
            if name.is_some() || b.parent.is_some() {
                audit(
                    &tx,
                    now,
                    &user,
                    "area.update",
                    &code,
                    json!({"name": name, "parent": b.parent}),
                )?;
            }
            let out = db::areas::get(&tx, &code)?
                .ok_or_else(|| AppError::not_found(format!("no area {code:?}")))?;
            tx.commit()?;
            Ok(Json(out))
        })
        .await
}
