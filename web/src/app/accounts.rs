//! People's own accounts: signing in (a bearer token or a browser session) and changing
//! one's password, shared by the API and the pages. Both are password guesses, throttled
//! by [`crate::throttle`] before the (expensive) check, and both are audited.

use crate::app::audit::record as audit;
use crate::auth::{self, User};
use crate::db::{self, tokens::Kind};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::throttle::IpKey;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

/// `POST /auth/token` and `POST /auth/login` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A signed-in person's new credential.
pub struct Issued {
    /// The token (shown once; stored hashed).
    pub token: String,
    /// A session's CSRF token.
    pub csrf: Option<String>,
    /// Who signed in.
    pub user: db::users::UserRow,
    /// When the token ends.
    pub expires_at: DateTime<Utc>,
}

/// Check `creds` and issue a token of `kind` (a session carries a CSRF token).
pub async fn sign_in(
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
