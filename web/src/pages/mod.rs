//! The HTML pages for operators and the district office: Vietnamese first with an English
//! switch, server-rendered shells (minijinja templates embedded at compile time) and a
//! little vendored script that talks to the JSON API with the session cookie and its CSRF
//! header. Every page carries a strict Content-Security-Policy (no inline scripts), see
//! [`crate::security`].

pub mod assets;
pub mod cron_form;
pub mod i18n;
pub mod login;
pub mod nav;
pub mod password;
pub mod render;
pub mod session;
pub mod templates;
pub mod views;

use crate::state::AppState;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

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
        .route("/live", get(views::live))
        .route("/cap", get(views::cap))
        .route("/logs", get(views::logs))
        .route("/reports", get(views::reports))
        .route("/admin/areas", get(views::areas))
        .route("/admin/stations", get(views::stations))
        .route("/admin/users", get(views::users))
        .route("/admin/channels", get(views::channels))
        .route("/admin/audit", get(views::audit))
        .route("/static/{*path}", get(assets::serve))
        .layer(middleware::from_fn(no_store))
}

/// Pages hold user data: no caching (assets set their own long-lived caching). The
/// security headers are set for every response by [`crate::security::headers`].
async fn no_store(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
