//! Signing in and out: bearer tokens for scripts, a session cookie for browsers.

use crate::app::audit::record as audit;
use crate::auth::{self, Https, Remote, User, CSRF_HEADER};
use crate::db::{self, tokens::Kind};
use crate::error::{AppError, AppResult, JsonBody};
use crate::state::{AppState, Now};
use crate::throttle::IpKey;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

/// `POST /auth/token` and `POST /auth/login` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub(crate) username: String,
    pub(crate) password: String,
}

pub(crate) struct Issued {
    pub(crate) token: String,
    pub(crate) csrf: Option<String>,
    pub(crate) user: db::users::UserRow,
    pub(crate) expires_at: DateTime<Utc>,
}

pub(crate) async fn sign_in(
    state: &AppState,
    now: DateTime<Utc>,
    remote: Option<String>,
    creds: Credentials,
    kind: Kind,
) -> AppResult<Issued> {
    // Counted before the (expensive) check, under one lock: concurrent guesses cannot
    // all slip through before the first failure is recorded.
    let client = IpKey::of(remote.as_deref().and_then(|r| r.parse().ok()));
    let ticket = state
        .throttle
        .admit(&creds.username, client, now)
        .map_err(|wait| {
            AppError::too_many(
                format!("too many failed sign-ins; try again in {wait} s"),
                wait,
            )
        })?;
    let username = creds.username.clone();
    let user = state
        .db
        .call(move |conn| Ok(db::users::by_username(conn, &username)?))
        .await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let password = creds.password;
    let ok =
        tokio::task::spawn_blocking(move || auth::verify_password(&password, stored.as_deref()))
            .await
            .map_err(AppError::internal)?;
    let user = match (ok, user) {
        (true, Some(u)) if !u.disabled => u,
        (true, Some(_)) => {
            return Err(AppError::unauthorized(
                "this account is disabled; ask an administrator",
            ))
        }
        _ => return Err(AppError::unauthorized("wrong username or password")),
    };
    state.throttle.succeeded(&ticket, now);
    let token = auth::new_token();
    let csrf = (kind == Kind::Session).then(auth::new_token);
    let expires_at = now + state.config.token_ttl;
    let (hash, c, uid, uname, uarea) = (
        auth::token_hash(&token),
        csrf.clone(),
        user.id,
        user.username.clone(),
        user.area.clone(),
    );
    state
        .db
        .call(move |conn| {
            db::tokens::insert(conn, &hash, uid, kind, c.as_deref(), now, expires_at)?;
            let detail = json!({"kind": if kind == Kind::Session { "session" } else { "bearer" }});
            db::audit::record(
                conn,
                &db::audit::Change {
                    at: now,
                    user: &uname,
                    area: &uarea,
                    action: "auth.sign_in",
                    target: &uname,
                    detail: &detail,
                    remote: remote.as_deref(),
                },
            )?;
            Ok(())
        })
        .await?;
    Ok(Issued {
        token,
        csrf,
        user,
        expires_at,
    })
}

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
    let cookie = auth::session_cookie(&i.token, state.config.token_ttl.num_seconds(), https);
    let mut res = Json(json!({
        "csrf_token": i.csrf,
        "csrf_header": CSRF_HEADER,
        "expires_at": i.expires_at,
        "username": i.user.username,
        "role": i.user.role,
        "area": i.user.area,
    }))
    .into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(AppError::internal)?,
    );
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
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&auth::session_cookie("", 0, https)).map_err(AppError::internal)?,
    );
    Ok((StatusCode::NO_CONTENT, headers))
}

/// `GET /auth/me`: who the token belongs to.
pub async fn me(user: User) -> Json<serde_json::Value> {
    Json(json!({"username": user.username, "role": user.role, "area": user.area}))
}
