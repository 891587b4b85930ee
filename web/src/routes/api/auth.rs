//! Signing in and out: bearer tokens for scripts, a session cookie for browsers.

use crate::app::accounts::{sign_in, Credentials};
use crate::app::audit::record as audit;
use crate::auth::{Https, Remote, User, CSRF_HEADER};
use crate::cookies;
use crate::db::{self, tokens::Kind};
use crate::error::{AppResult, JsonBody};
use crate::state::{AppState, Now};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// What `POST /auth/token` answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    /// The bearer token.
    token: String,
    /// When it stops working.
    expires_at: chrono::DateTime<chrono::Utc>,
    /// Who signed in.
    username: String,
    /// Their role.
    role: crate::db::users::Role,
    /// Their area.
    area: String,
}

/// What `POST /auth/login` answers (with the session cookie).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SessionOpened {
    /// The CSRF token form posts send back.
    csrf_token: Option<String>,
    /// The header that carries it.
    csrf_header: &'static str,
    /// When the session ends.
    expires_at: chrono::DateTime<chrono::Utc>,
    /// Who signed in.
    username: String,
    /// Their role.
    role: crate::db::users::Role,
    /// Their area.
    area: String,
}

/// What `GET /auth/me` answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Me {
    /// Who is signed in.
    username: String,
    /// Their role.
    role: crate::db::users::Role,
    /// Their area.
    area: String,
}

/// `POST /auth/token`: a bearer token.
#[utoipa::path(
    post,
    path = "/api/v1/auth/token",
    summary = "Sign in for an API token.",
    security(),
    request_body = Credentials,
    responses((status = 200, description = "signed in", body = SignedIn), (status = 429, description = "too many failed sign-ins: wait"))
)]
pub async fn token(
    State(state): State<AppState>,
    Now(now): Now,
    Remote(remote): Remote,
    JsonBody(creds): JsonBody<Credentials>,
) -> AppResult<Json<SignedIn>> {
    let i = sign_in(&state, now, remote, creds, Kind::Bearer).await?;
    Ok(Json(SignedIn {
        token: i.token,
        expires_at: i.expires_at,
        username: i.user.username,
        role: i.user.role,
        area: i.user.area,
    }))
}

/// `POST /auth/login`: a browser session (cookie `loaxa_session`) and its CSRF token.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    summary = "Browser sign-in: sets the session cookie, answers the CSRF token.",
    security(),
    request_body = Credentials,
    responses((status = 200, description = "signed in; the cookie is set", body = SessionOpened), (status = 429, description = "too many failed sign-ins: wait"))
)]
pub async fn login(
    State(state): State<AppState>,
    Now(now): Now,
    Remote(remote): Remote,
    Https(https): Https,
    JsonBody(creds): JsonBody<Credentials>,
) -> AppResult<Response> {
    let i = sign_in(&state, now, remote, creds, Kind::Session).await?;
    let cookie = cookies::session(&i.token, state.config.token_ttl.num_seconds(), https);
    let mut res = Json(SessionOpened {
        csrf_token: i.csrf,
        csrf_header: CSRF_HEADER,
        expires_at: i.expires_at,
        username: i.user.username,
        role: i.user.role,
        area: i.user.area,
    })
    .into_response();
    res.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(res)
}

/// `DELETE /auth/token`: revoke the token (or session) used for this request.
#[utoipa::path(
    delete,
    path = "/api/v1/auth/token",
    summary = "Revoke the token (or session) in use.",
    responses((status = 204, description = "signed out"))
)]
pub async fn revoke(
    State(state): State<AppState>,
    Now(now): Now,
    Https(https): Https,
    user: User,
) -> AppResult<(StatusCode, HeaderMap)> {
    let u = user.clone();
    state
        .db
        .call(move |conn| {
            db::tokens::delete(conn, &u.token_hash, now)?;
            audit(conn, now, &u, "auth.sign_out", &u.username, json!({}))?;
            Ok(())
        })
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, cookies::session("", 0, https));
    Ok((StatusCode::NO_CONTENT, headers))
}

/// `GET /auth/me`: who the token belongs to.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    summary = "Who is signed in.",
    responses((status = 200, description = "the signed-in user", body = Me))
)]
pub async fn me(user: User) -> Json<Me> {
    Json(Me {
        username: user.username,
        role: user.role,
        area: user.area,
    })
}
