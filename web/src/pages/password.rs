//! Change one's own password: a form with the current password and the new one twice;
//! each refusal is shown next to its field.

use crate::app::accounts::{change, ChangeError};
use crate::auth::{Remote, User};
use crate::pages::render::render;
use crate::pages::session::Session;
use crate::state::{AppState, Now};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use minijinja::context;
use serde::Deserialize;

fn page(
    session: &Session,
    error: Option<(&str, &str)>,
    saved: bool,
    status: StatusCode,
) -> Response {
    let lang = session.lang;
    let mut res = render(
        "password.html",
        lang,
        Some(session),
        "password",
        context! {
            title => lang.t("nav_password"),
            error_field => error.map(|e| e.0),
            error => error.map(|e| lang.t(e.1)),
            saved => saved,
        },
    );
    *res.status_mut() = status;
    res
}

/// `GET /password`.
pub async fn form(session: Session) -> Response {
    page(&session, None, false, StatusCode::OK)
}

/// The posted form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /password`.
pub async fn submit(
    State(state): State<AppState>,
    Now(now): Now,
    Remote(remote): Remote,
    session: Session,
    Form(f): Form<PasswordForm>,
) -> Response {
    if let Some(res) = session.check_csrf(&f.csrf) {
        return res;
    }
    let bad = StatusCode::UNPROCESSABLE_ENTITY;
    if f.current.is_empty() {
        return page(&session, Some(("current", "err_required")), false, bad);
    }
    if f.new.chars().count() < 8 {
        return page(&session, Some(("new", "err_pw_short")), false, bad);
    }
    if f.new.len() > 1024 {
        return page(&session, Some(("new", "err_pw_long")), false, bad);
    }
    if f.new != f.confirm {
        return page(&session, Some(("confirm", "err_pw_mismatch")), false, bad);
    }
    let user = User {
        id: session.user_id,
        username: session.username.clone(),
        role: session.role,
        area: session.area.clone(),
        token_hash: session.token_hash.clone(),
        remote,
    };
    match change(&state, now, &user, f.current, f.new).await {
        Ok(()) => page(&session, None, true, StatusCode::OK),
        Err(ChangeError::WrongCurrent) => {
            page(&session, Some(("current", "err_pw_wrong")), false, bad)
        }
        Err(ChangeError::Rules(_)) => page(&session, Some(("new", "err_pw_short")), false, bad),
        Err(ChangeError::Throttled(_)) => page(
            &session,
            Some(("current", "err_throttled")),
            false,
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(ChangeError::Other(e)) => e.into_response(),
    }
}
