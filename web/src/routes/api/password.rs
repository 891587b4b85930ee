//! `POST /auth/password {"current","new"}`: change one's own password. Other sessions and
//! bearer tokens of the user are revoked; the one making the change stays.

use crate::app::audit::record as audit;
use crate::auth::{self, User};
use crate::db;
use crate::error::{AppError, AppResult, JsonBody};
use crate::state::{AppState, Now};
use crate::throttle::IpKey;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current: String,
    new: String,
}

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The current password does not match.
    #[error("current: the current password is wrong")]
    WrongCurrent,
    /// The new password breaks the rules.
    #[error("{0}")]
    Rules(AppError),
    /// Too many wrong current passwords: wait this many seconds.
    #[error("too many wrong passwords; try again in {0} s")]
    Throttled(u64),
    /// Anything else.
    #[error("{0}")]
    Other(AppError),
}

impl From<ChangeError> for AppError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::WrongCurrent => AppError::invalid(e.to_string()),
            ChangeError::Throttled(wait) => AppError::too_many(e.to_string(), wait),
            ChangeError::Rules(e) | ChangeError::Other(e) => e,
        }
    }
}

/// Change `user`'s password from `current` to `new` (shared by the API and the page).
pub async fn change(
    state: &AppState,
    now: DateTime<Utc>,
    user: &User,
    current: String,
    new: String,
) -> Result<(), ChangeError> {
    auth::check_password_rules(&new).map_err(ChangeError::Rules)?;
    // The current password is a guess like a sign-in's, throttled alike (a stolen session
    // must not become an oracle for the password).
    let client = IpKey::of(user.remote.as_deref().and_then(|r| r.parse().ok()));
    let ticket = state
        .throttle
        .admit(&user.username, client, now)
        .map_err(ChangeError::Throttled)?;
    let username = user.username.clone();
    let row = state
        .db
        .call(move |conn| Ok(db::users::by_username(conn, &username)?))
        .await
        .map_err(ChangeError::Other)?;
    let stored = row.map(|r| r.password_hash);
    let hashed = tokio::task::spawn_blocking(move || {
        if auth::verify_password(&current, stored.as_deref()) {
            auth::hash_password(&new).map(Some)
        } else {
            Ok(None)
        }
    })
    .await
    .map_err(|e| ChangeError::Other(AppError::internal(e)))?
    .map_err(ChangeError::Other)?;
    let Some(hash) = hashed else {
        return Err(ChangeError::WrongCurrent);
    };
    state.throttle.succeeded(&ticket, now);
    let u = user.clone();
    state
        .db
        .call(move |conn| {
            db::passwords::set(conn, u.id, &hash, &u.token_hash)?;
            audit(conn, now, &u, "auth.password", &u.username, json!({}))?;
            Ok(())
        })
        .await
        .map_err(ChangeError::Other)
}

/// `POST /auth/password`.
pub async fn change_own(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    JsonBody(body): JsonBody<PasswordChange>,
) -> AppResult<StatusCode> {
    change(&state, now, &user, body.current, body.new).await?;
    Ok(StatusCode::NO_CONTENT)
}
