//! Security headers on every response: each documented operation (the OpenAPI route table,
//! which a test keeps equal to the router), signed in and not, every page, the page assets,
//! and the unknown-path fallback. Pages get the page policy (own script and style, nothing
//! inline); everything else a policy that loads and runs nothing; the SVG charts allow
//! exactly their own style block.

use crate::helpers::TestApp;
use reqwest::header::{self, HeaderMap};
use reqwest::Method;
use web::security::{API_CSP, PAGE_CSP};

fn check(what: &str, h: &HeaderMap, failures: &mut Vec<String>) {
    let get = |name: header::HeaderName| {
        h.get(&name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let csp = get(header::CONTENT_SECURITY_POLICY);
    let html = get(header::CONTENT_TYPE).starts_with("text/html");
    let svg = get(header::CONTENT_TYPE).starts_with("image/svg+xml");
    let csp_ok = if html {
        csp == PAGE_CSP
    } else if svg {
        csp.starts_with("default-src 'none'; style-src 'sha256-")
    } else {
        csp == API_CSP
    };
    if !csp_ok || csp.contains("unsafe-inline") || !csp.contains("frame-ancestors 'none'") {
        failures.push(format!("{what}: Content-Security-Policy {csp:?}"));
    }
    if get(header::X_CONTENT_TYPE_OPTIONS) != "nosniff" {
        failures.push(format!("{what}: no X-Content-Type-Options: nosniff"));
    }
    if get(header::X_FRAME_OPTIONS) != "DENY" {
        failures.push(format!("{what}: no X-Frame-Options: DENY"));
    }
    if get(header::REFERRER_POLICY) != "same-origin" {
        failures.push(format!("{what}: no Referrer-Policy"));
    }
}

/// A concrete path for a template, with values that exist where that is easy.
fn concrete(template: &str) -> String {
    template
        .replace("{code}", "LQ")
        .replace("{chart}", "aired-by-station.svg")
        .split('/')
        .map(|s| if s.starts_with('{') { "probe" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let admin = app.token("admin_tt").await;
    let root = app.base.trim_end_matches("/api/v1").to_string();
    let mut failures = Vec::new();
    let mut seen_svg = false;
    let mut answers = Vec::new();
    for op in web::openapi::paths::operations() {
        let path = concrete(&op.path);
        let method = Method::from_bytes(op.method.to_uppercase().as_bytes()).unwrap();
        let token = match op.auth {
            web::openapi::Auth::Device => app.lq_device.clone(),
            // Revoking the token in use: a token of its own.
            _ if op.path == "/api/v1/auth/token" && op.method == "delete" => {
                app.token("admin_tt").await
            }
            _ => admin.clone(),
        };
        for (who, bearer) in [("signed in", Some(token)), ("anonymous", None)] {
            let mut req = app.client.request(method.clone(), format!("{root}{path}"));
            if let Some(t) = bearer {
                req = req.bearer_auth(t);
            }
            if method != Method::GET && method != Method::DELETE {
                req = req.json(&serde_json::json!({}));
            }
            // Headers only: the event stream's body never ends.
            let res = req.send().await.unwrap();
            seen_svg |= res
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"image/svg+xml"));
            let what = format!("{} {path} ({who}, {})", op.method, res.status());
            answers.push(what.clone());
            check(&what, res.headers(), &mut failures);
        }
    }
    assert!(
        seen_svg,
        "no chart was answered: the SVG policy went untested\n{}",
        answers.join("\n")
    );
    let cookie = {
        let res = app
            .client
            .post(app.url("/auth/login"))
            .json(
                &serde_json::json!({"username": "admin_tt", "password": crate::helpers::PASSWORD}),
            )
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
        res.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string()
    };
    let pages = [
        "/",
        "/login",
        "/media",
        "/schedules",
        "/urgent",
        "/logs",
        "/reports",
        "/password",
        "/stations/LQ/week",
        "/admin/areas",
        "/admin/stations",
        "/admin/users",
        "/admin/audit",
        "/static/js/main.js",
        "/static/app.css",
        "/no/such/page",
    ];
    for path in pages {
        for (who, c) in [("signed in", cookie.as_str()), ("anonymous", "")] {
            let res = app
                .client
                .get(format!("{root}{path}"))
                .header(header::COOKIE, c)
                .send()
                .await
                .unwrap();
            let what = format!("page {path} ({who}, {})", res.status());
            check(&what, res.headers(), &mut failures);
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    app.stop().await;
}
