//! `POST /auth/password {"current","new"}`: change one's own password. Other sessions and
//! bearer tokens of the user are revoked; the one making the change stays.

use crate::app::accounts::change;
use crate::auth::User;
use crate::error::{AppResult, JsonBody};
use crate::state::{AppState, Now};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

/// The request body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current: String,
    new: String,
}

/// `POST /auth/password`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password",
    summary = "Change your password (signs out your other sessions).",
    request_body = PasswordChange,
    responses((status = 204, description = "changed"))
)]
pub async fn change_own(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    JsonBody(body): JsonBody<PasswordChange>,
) -> AppResult<StatusCode> {
    change(&state, now, &user, body.current, body.new).await?;
    Ok(StatusCode::NO_CONTENT)
}
