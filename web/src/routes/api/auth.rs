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

/// `POST /auth/token`: a bearer token.
pub async fn token(
    State(state): State<AppState>,
    Now(now): Now,
    Remote(remote): Remote,
    JsonBody(creds): JsonBody<Credentials>,
) -> AppResult<Json<serde_json::Value>> {
    let i = sign_in(&state, now, remote, creds, Kind::Bearer).await?;
    Ok(Json(json!({
        "token": i.token,
        "expires_at": i.expires_at,
        "username": i.user.username,
        "role": i.user.role,
        "area": i.user.area,
    })))
}

/// `POST /auth/login`: a browser session (cookie `loaxa_session`) and its CSRF token.
pub async fn login(
    State(state): State<AppState>,
    Now(now): Now,
    Remote(remote): Remote,
    Https(https): Https,
    JsonBody(creds): JsonBody<Credentials>,
) -> AppResult<Response> {
    let i = sign_in(&state, now, remote, creds, Kind::Session).await?;
    let cookie = cookies::session(&i.token, state.config.token_ttl.num_seconds(), https);
    let mut res = Json(json!({
        "csrf_token": i.csrf,
        "csrf_header": CSRF_HEADER,
        "expires_at": i.expires_at,
        "username": i.user.username,
        "role": i.user.role,
        "area": i.user.area,
    }))
    .into_response();
    res.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(res)
}

/// `DELETE /auth/token`: revoke the token (or session) used for this request.
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
pub async fn me(user: User) -> Json<serde_json::Value> {
    Json(json!({"username": user.username, "role": user.role, "area": user.area}))
}
