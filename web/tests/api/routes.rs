//! The router as data: the (method, path) pairs it serves, read from the router itself, for
//! the tests that must cover every route (the OpenAPI document, the authorization matrix).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use std::collections::BTreeSet;
use tower::ServiceExt;

pub const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every path template the router holds, read from the router itself (axum keeps a
/// `RouteId → path` table; its `Debug` shows it).
pub fn routed_paths(app: &axum::Router) -> BTreeSet<String> {
    let dump = format!("{app:?}");
    let mut out = BTreeSet::new();
    let mut rest = dump.as_str();
    while let Some(i) = rest.find("RouteId(") {
        rest = &rest[i + "RouteId(".len()..];
        let Some(close) = rest.find("): \"") else {
            continue;
        };
        if !rest[..close].chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let after = &rest[close + 4..];
        if let Some(end) = after.find('"') {
            out.insert(after[..end].to_string());
        }
    }
    assert!(
        out.contains("/healthz") && out.contains("/api/v1/auth/token"),
        "could not read the routes from the router's Debug output (axum changed?): {out:?}"
    );
    out
}

/// A concrete path for a template: `{param}` and `{*rest}` become `probe-value`.
pub fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "probe-value" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

pub async fn answer(app: &axum::Router, method: &str, path: &str) -> (StatusCode, String, String) {
    let req = Request::builder()
        .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
        .uri(path)
        .body(Body::empty())
        .unwrap();
    let res = tokio::time::timeout(std::time::Duration::from_secs(10), app.clone().oneshot(req))
        .await
        .expect("answered within 10 s")
        .unwrap();
    let status = res.status();
    let ctype = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = if status == StatusCode::METHOD_NOT_ALLOWED {
        let b = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8_lossy(&b).into_owned()
    } else {
        String::new()
    };
    (status, ctype, body)
}

/// Is `method` routed on `path`? The router answers an unrouted method with our
/// `method_not_allowed` error; anything else (401, 400, 200…) came from a handler.
pub async fn routed(app: &axum::Router, method: &str, path: &str) -> bool {
    let (status, _, body) = answer(app, method, path).await;
    !(status == StatusCode::METHOD_NOT_ALLOWED && body.contains("method_not_allowed"))
}
