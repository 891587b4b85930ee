//! The style sheet and the page scripts (ES modules, no build step), embedded in the binary,
//! served with their content type and long-lived caching.
//!
//! Pages link them under the assets' version (`/static/{version}/js/main.js`, a hash of
//! every file), so the modules' relative imports (`./core.js`) carry the version too and a
//! new binary's scripts are never mixed with an old one's cached ones. A path with another
//! version (a page rendered by the previous binary) still gets today's file, but not for
//! caching. The unversioned form (`/static/app.css?v=`) is kept for the style sheet.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// (path under `/static/`, content type, content).
pub const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    ),
    (
        "js/main.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/main.js"),
    ),
    (
        "js/core.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/core.js"),
    ),
    (
        "js/tables.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/tables.js"),
    ),
    (
        "js/forms.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/forms.js"),
    ),
    (
        "js/pages/approvals.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/approvals.js"),
    ),
    (
        "js/pages/areas.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/areas.js"),
    ),
    (
        "js/pages/audit.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/audit.js"),
    ),
    (
        "js/pages/channels.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/channels.js"),
    ),
    (
        "js/pages/dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/dashboard.js"),
    ),
    (
        "js/pages/live.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/live.js"),
    ),
    (
        "js/live-worklet.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/live-worklet.js"),
    ),
    (
        "js/pages/logs.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/logs.js"),
    ),
    (
        "js/pages/media.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/media.js"),
    ),
    (
        "js/pages/programmes.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/programmes.js"),
    ),
    (
        "js/pages/reports.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/reports.js"),
    ),
    (
        "js/pages/schedules.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/schedules.js"),
    ),
    (
        "js/pages/stations.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/stations.js"),
    ),
    (
        "js/pages/urgent-board.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/urgent-board.js"),
    ),
    (
        "js/pages/urgent.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/urgent.js"),
    ),
    (
        "js/pages/users.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/users.js"),
    ),
    (
        "js/pages/week.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/pages/week.js"),
    ),
];

/// A short hash of every asset, in their URLs so that caches refresh on change.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut h = Sha256::new();
        for (name, _, body) in FILES {
            h.update(name.as_bytes());
            h.update(body.as_bytes());
        }
        hex::encode(h.finalize())[..12].to_string()
    })
}

/// `GET /static/{*path}`: `app.css`, or `{version}/{file}`.
pub async fn serve(Path(path): Path<String>) -> Response {
    let (file, current) = match path.split_once('/') {
        Some((v, rest)) if v.len() == 12 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (rest, v == version())
        }
        _ => (path.as_str(), true),
    };
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, mime, body)) => {
            let mut res = (*body).into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(if current {
                    "public, max-age=31536000, immutable"
                } else {
                    "no-cache"
                }),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            res
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
