//! Log in (a form posting to `/login` that sets the `loaxa_session` cookie), log out, and
//! the language switch.

use crate::app::accounts::{sign_in, Credentials};
use crate::auth::{Https, Remote};
use crate::cookies;
use crate::db::{self, tokens::Kind};
use crate::pages::i18n::Lang;
use crate::pages::render::{render, safe_next};
use crate::pages::session::Session;
use crate::state::{AppState, Now};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

/// `?next=` of the log-in form and the language switch.
#[derive(Debug, Deserialize)]
pub struct NextArg {
    next: Option<String>,
}

fn next_or_home(next: Option<&str>) -> String {
    next.filter(|n| safe_next(n) && !n.starts_with("/login"))
        .unwrap_or("/")
        .to_string()
}

/// `GET /login`.
pub async fn form(lang: Lang, Query(q): Query<NextArg>) -> Response {
    login_page(
        lang,
        &next_or_home(q.next.as_deref()),
        "",
        None,
        StatusCode::OK,
    )
}

fn login_page(
    lang: Lang,
    next: &str,
    username: &str,
    error: Option<(&str, &str)>,
    status: StatusCode,
) -> Response {
    let mut res = render(
        "login.html",
        lang,
        None,
        "login",
        context! {
            title => lang.t("login_title"),
            next => next,
            username => username,
            error_field => error.map(|e| e.0),
            error => error.map(|e| lang.t(e.1)),
        },
    );
    *res.status_mut() = status;
    res
}

/// The posted log-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// `POST /login`: on success a session cookie and `303` to `next`; otherwise the form
/// again with the reason next to the field.
pub async fn submit(
    State(state): State<AppState>,
    Now(now): Now,
    Remote(remote): Remote,
    Https(https): Https,
    lang: Lang,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = next_or_home(f.next.as_deref());
    let username = f.username.trim().to_string();
    if username.is_empty() {
        return login_page(
            lang,
            &next,
            "",
            Some(("username", "err_required")),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    if f.password.is_empty() {
        return login_page(
            lang,
            &next,
            &username,
            Some(("password", "err_required")),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let creds = Credentials {
        username: username.clone(),
        password: f.password,
    };
    match sign_in(&state, now, remote, creds, Kind::Session).await {
        Ok(issued) => {
            let cookie =
                cookies::session(&issued.token, state.config.token_ttl.num_seconds(), https);
            let mut res = Redirect::to(&next).into_response();
            res.headers_mut().insert(header::SET_COOKIE, cookie);
            res
        }
        Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => login_page(
            lang,
            &next,
            &username,
            Some(("password", "err_throttled")),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => login_page(
            lang,
            &next,
            &username,
            Some(("password", "err_login")),
            StatusCode::UNAUTHORIZED,
        ),
        Err(e) => e.into_response(),
    }
}

/// A form carrying only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: revoke the session, clear the cookie, back to the log-in form.
pub async fn logout(
    State(state): State<AppState>,
    Now(now): Now,
    Https(https): Https,
    session: Session,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(res) = session.check_csrf(&f.csrf) {
        return res;
    }
    let s = session.clone();
    let done = state
        .db
        .call(move |conn| {
            db::tokens::delete(conn, &s.token_hash, now)?;
            db::audit::record(
                conn,
                &db::audit::Change {
                    at: now,
                    user: &s.username,
                    area: &s.area,
                    action: "auth.sign_out",
                    target: &s.username,
                    detail: &json!({"kind": "session"}),
                    remote: None,
                },
            )?;
            Ok(())
        })
        .await;
    if let Err(e) = done {
        return e.into_response();
    }
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, cookies::session("", 0, https));
    res
}

/// `GET /lang/{vi|en}?next=`: remember the language for a year.
pub async fn set_lang(
    Path(code): Path<String>,
    Https(https): Https,
    Query(q): Query<NextArg>,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or_default();
    let next = q
        .next
        .filter(|n| safe_next(n))
        .unwrap_or_else(|| "/".into());
    let mut res = Redirect::to(&next).into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, cookies::lang(lang.code(), https));
    res
}
