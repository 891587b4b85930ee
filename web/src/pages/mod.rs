//! The HTML pages for operators and the district office: Vietnamese first with an English
//! switch, server-rendered shells (minijinja templates embedded at compile time) and a
//! little vendored script that talks to the JSON API with the session cookie and its CSRF
//! header. Every page carries a strict Content-Security-Policy (no inline scripts).

pub mod assets;
pub mod cron_form;
pub mod i18n;
pub mod login;
pub mod password;
pub mod render;
pub mod session;
pub mod views;

use crate::state::AppState;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

/// Sent with every page.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; media-src 'self'; connect-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Every page route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(views::dashboard))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/lang/{code}", get(login::set_lang))
        .route("/password", get(password::form).post(password::submit))
        .route("/media", get(views::media))
        .route("/schedules", get(views::schedules))
        .route("/programmes", get(views::programmes))
        .route("/approvals", get(views::approvals))
        .route("/stations/{code}/week", get(views::week))
        .route("/urgent", get(views::urgent))
        .route("/urgent/{id}", get(views::urgent_board))
        .route("/logs", get(views::logs))
        .route("/reports", get(views::reports))
        .route("/static/{file}", get(assets::serve))
        .layer(middleware::from_fn(security_headers))
}

/// Content-Security-Policy, no sniffing, no framing, no caching of pages with user data.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
