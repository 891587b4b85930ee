//! CAP sources (admin): register, list, show, remove, poll now; and the messages fetched
//! from them (everyone, for the sources of their area). See [`crate::urgent::sources`].

use crate::app::{objects, Action};
use crate::auth::User;
use crate::db::cap_sources::{Message, Source};
use crate::db::sql::Connection;
use crate::db::{self, users::Role};
use crate::error::{AppError, AppResult, JsonBody, PathArg, QueryArgs};
use crate::state::{AppState, Now};
use crate::urgent::sources::{self, PollReport, MIN_POLL_SECONDS};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use schedules::cap_policy::SourcePolicy;
use serde::Deserialize;
use serde_json::json;

/// A source the caller may manage: 404 when it does not exist or is owned outside their
/// subtree; 403 when they are not an admin.
fn managed(conn: &Connection, user: &User, id: &str) -> AppResult<Source> {
    let src = db::cap_sources::get(conn, id)?
        .filter(|s| crate::app::policy::in_reach(conn, user, &s.area).unwrap_or(false))
        .ok_or_else(|| AppError::not_found(format!("no CAP source {id:?}")))?;
    objects::area(conn, user, Action::Change, &src.area)?;
    Ok(src)
}

/// `GET /cap/sources` (admin): the sources owned in the admin's subtree.
#[utoipa::path(
    get,
    path = "/api/v1/cap/sources",
    summary = "CAP sources owned in reach (admin).",
    responses((status = 200, description = "the sources", body = [Source]))
)]
pub async fn list(State(state): State<AppState>, user: User) -> AppResult<Json<Vec<Source>>> {
    user.require(Role::Admin)?;
    let rows = state
        .db
        .call(move |conn| Ok(db::cap_sources::list_in_subtree(conn, &user.area)?))
        .await?;
    Ok(Json(rows))
}

/// `POST /cap/sources` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSource {
    name: String,
    url: String,
    senders: Vec<String>,
    #[serde(default)]
    area: Option<String>,
    #[serde(default)]
    poll_seconds: Option<u32>,
    #[serde(default)]
    policy: Option<SourcePolicy>,
    #[serde(default)]
    signing_key: Option<String>,
}

/// `POST /cap/sources` (admin): register a source whose alerts may reach the stations of
/// `area` (default: the admin's own) → 201 with the source; it is polled at once.
#[utoipa::path(
    post,
    path = "/api/v1/cap/sources",
    summary = "Register a CAP source the server polls (admin): an Atom/RSS index or a single CAP document.",
    request_body = NewSource,
    responses((status = 201, description = "registered", body = Source), (status = 409, description = "the name is taken"))
)]
pub async fn create(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    JsonBody(b): JsonBody<NewSource>,
) -> AppResult<(StatusCode, Json<Source>)> {
    user.require(Role::Admin)?;
    let name = b.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.contains(char::is_whitespace) {
        return Err(AppError::invalid(
            "name: 1 to 100 characters, no spaces (it names the source's account, cap:NAME)",
        ));
    }
    let url =
        reqwest::Url::parse(b.url.trim()).map_err(|e| AppError::invalid(format!("url: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() {
        return Err(AppError::invalid(
            "url: an http or https address, without credentials",
        ));
    }
    if b.senders.is_empty()
        || b.senders
            .iter()
            .any(|s| s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == ','))
    {
        return Err(AppError::invalid(
            "senders: the CAP senders this source may speak for, at least one, no spaces or commas",
        ));
    }
    let poll_seconds = b.poll_seconds.unwrap_or(60);
    if !(MIN_POLL_SECONDS..=86_400).contains(&poll_seconds) {
        return Err(AppError::invalid(format!(
            "poll_seconds: {MIN_POLL_SECONDS} to 86400"
        )));
    }
    let policy = b
        .policy
        .unwrap_or_default()
        .checked()
        .map_err(AppError::invalid)?;
    if let Some(k) = &b.signing_key {
        if k.len() > 16 * 1024 || crate::urgent::signature::key_kind(k).is_none() {
            return Err(AppError::invalid(
                "signing_key: a PEM public key (-----BEGIN PUBLIC KEY-----) or certificate \
                 (-----BEGIN CERTIFICATE-----), at most 16 KiB",
            ));
        }
    }
    let src = Source {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        url: url.to_string(),
        senders: b.senders,
        area: b.area.unwrap_or_else(|| user.area.clone()),
        poll_seconds,
        policy,
        created_by: user.username.clone(),
        created_at: now,
        next_poll_at: now,
        last_polled_at: None,
        last_ok_at: None,
        last_error: None,
        failures: 0,
        signing_key: b.signing_key,
    };
    let out = src.clone();
    state
        .db
        .call(move |conn| {
            if db::areas::get(conn, &src.area)?.is_none() {
                return Err(AppError::invalid(format!(
                    "area: unknown area {:?}",
                    src.area
                )));
            }
            objects::area(conn, &user, Action::Change, &src.area)?;
            if db::cap_sources::by_name(conn, &src.name)?.is_some() {
                return Err(AppError::conflict(format!(
                    "a CAP source named {} already exists",
                    src.name
                )));
            }
            let tx = crate::app::audit::Audited::begin(conn, &user, now)?;
            db::cap_sources::insert(&tx, &src)?;
            tx.commit(
                "cap.source.create",
                &src.id,
                json!({"name": src.name, "url": src.url, "senders": src.senders,
                       "area": src.area, "poll_seconds": src.poll_seconds, "policy": src.policy,
                       "signed": src.signing_key.is_some()}),
            )?;
            Ok(())
        })
        .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// `GET /cap/sources/{id}` (admin).
#[utoipa::path(
    get,
    path = "/api/v1/cap/sources/{id}",
    summary = "One CAP source (admin).",
    responses((status = 200, description = "the source", body = Source), (status = 404, description = "no such source in reach"))
)]
pub async fn show(
    State(state): State<AppState>,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<Json<Source>> {
    let src = state.db.call(move |conn| managed(conn, &user, &id)).await?;
    Ok(Json(src))
}

/// `DELETE /cap/sources/{id}` (admin): no longer polled; its messages are forgotten (the
/// audit log keeps them).
#[utoipa::path(
    delete,
    path = "/api/v1/cap/sources/{id}",
    summary = "Stop polling a CAP source and forget its messages (admin; the audit log keeps them).",
    responses((status = 204, description = "deleted"), (status = 404, description = "no such source in reach"))
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
            let src = managed(conn, &user, &id)?;
            let tx = crate::app::audit::Audited::begin(conn, &user, now)?;
            db::cap_sources::delete(&tx, &id)?;
            tx.commit("cap.source.delete", &id, json!({"name": src.name}))?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /cap/sources/{id}/poll` (admin): poll it now; answers what the poll did.
#[utoipa::path(
    post,
    path = "/api/v1/cap/sources/{id}/poll",
    summary = "Poll a CAP source now (admin); answers what the poll did.",
    responses((status = 200, description = "what the poll did", body = PollReport), (status = 404, description = "no such source in reach"))
)]
pub async fn poll(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<Json<PollReport>> {
    let i = id.clone();
    state
        .db
        .call(move |conn| {
            managed(conn, &user, &i)?;
            // Who made the source poll now (what it fetched is audited message by message).
            crate::app::audit::record(conn, now, &user, "cap.source.poll", &i, json!({}))?;
            Ok(())
        })
        .await?;
    Ok(Json(sources::poll(&state, &id).await?))
}

/// `GET /cap/messages` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    /// Default 100, at most 1000.
    limit: Option<u32>,
}

/// `GET /cap/messages?limit`: the latest messages fetched by the sources of the caller's
/// subtree (default 100, at most 1000), newest first, with what each matched and became.
#[utoipa::path(
    get,
    path = "/api/v1/cap/messages",
    summary = "Messages fetched from the CAP sources in reach, newest first: what each matched and what became of it.",
    params(MessagesQuery),
    responses((status = 200, description = "the messages", body = [Message]))
)]
pub async fn messages(
    State(state): State<AppState>,
    user: User,
    QueryArgs(q): QueryArgs<MessagesQuery>,
) -> AppResult<Json<Vec<Message>>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows = state
        .db
        .call(move |conn| {
            Ok(db::cap_sources::messages_in_subtree(
                conn, &user.area, limit,
            )?)
        })
        .await?;
    Ok(Json(rows))
}
