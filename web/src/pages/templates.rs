//! Templates (embedded at compile time, HTML-escaped by default), the common page context
//! (language table, asset version; the signed-in user's part comes from
//! [`crate::pages::render`]), error pages and the log-in redirect.

use crate::pages::i18n::Lang;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::{context, Environment, Value};
use std::sync::OnceLock;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    (
        "password.html",
        include_str!("../../templates/password.html"),
    ),
    (
        "dashboard.html",
        include_str!("../../templates/dashboard.html"),
    ),
    ("media.html", include_str!("../../templates/media.html")),
    (
        "schedules.html",
        include_str!("../../templates/schedules.html"),
    ),
    ("week.html", include_str!("../../templates/week.html")),
    (
        "programmes.html",
        include_str!("../../templates/programmes.html"),
    ),
    (
        "approvals.html",
        include_str!("../../templates/approvals.html"),
    ),
    ("urgent.html", include_str!("../../templates/urgent.html")),
    ("logs.html", include_str!("../../templates/logs.html")),
    ("reports.html", include_str!("../../templates/reports.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("areas.html", include_str!("../../templates/areas.html")),
    (
        "stations.html",
        include_str!("../../templates/stations.html"),
    ),
    ("users.html", include_str!("../../templates/users.html")),
    (
        "channels.html",
        include_str!("../../templates/channels.html"),
    ),
    ("audit.html", include_str!("../../templates/audit.html")),
    ("cap.html", include_str!("../../templates/cap.html")),
    ("live.html", include_str!("../../templates/live.html")),
];

/// The parsed templates; built once (they are constants of the binary).
fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // `.html` names are auto-escaped (minijinja's default).
        for (name, src) in TEMPLATES {
            if let Err(e) = env.add_template(name, src) {
                tracing::error!(template = name, "template does not parse: {e}");
            }
        }
        env
    })
}

/// Render `name` with `ctx` merged over the common context of `lang`, with `user` (the
/// signed-in person's part, or none) and their CSRF token.
pub fn render_with(
    name: &str,
    lang: Lang,
    user: Option<Value>,
    csrf: String,
    page: &str,
    ctx: Value,
) -> Response {
    let base = context! {
        lang => lang.code(),
        other_lang => lang.other().code(),
        t => lang.table(),
        page => page,
        ver => crate::pages::assets::version(),
        user => user,
        csrf => csrf,
    };
    let ctx = context! { ..ctx, ..base };
    match env().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(template = name, "render failed: {e:#}");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

/// A plain error page with the translated message `key`.
pub fn error_page(lang: Lang, status: StatusCode, key: &str) -> Response {
    let mut res = render_with(
        "error.html",
        lang,
        None,
        String::new(),
        "error",
        context! { message => lang.t(key), status => status.as_u16() },
    );
    *res.status_mut() = status;
    res
}

/// `303 See Other` to the log-in form, remembering where the user wanted to go.
pub fn login_redirect(next: &str) -> Response {
    let next = if safe_next(next) { next } else { "/" };
    let mut res = Redirect::to(&format!("/login?next={}", urlencode(next))).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Only same-site paths may be redirected to: one leading `/`, then no second `/` or `\`
/// (`//host` and `/\host` are other sites to a browser), and only visible ASCII, since
/// browsers drop tabs and line breaks (`/\t/host` is `//host`) and a control character
/// cannot go in a `Location` header at all. No backslash anywhere, and no percent-encoded
/// slash or backslash in the path nor encoded control character anywhere, in case a hop
/// on the way decodes once more. At most 2,048 bytes.
pub fn safe_next(next: &str) -> bool {
    let b = next.as_bytes();
    if b.is_empty() || b.len() > 2048 || b[0] != b'/' || matches!(b.get(1), Some(b'/' | b'\\')) {
        return false;
    }
    if !b.iter().all(|c| (0x21..=0x7e).contains(c)) || b.contains(&b'\\') {
        return false;
    }
    let lower = next.to_ascii_lowercase();
    let path = lower.split(['?', '#']).next().unwrap_or("");
    if path.contains("%2f") || path.contains("%5c") {
        return false;
    }
    // An encoded control character: %00-%1f or %7f.
    let encoded_control = lower.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && (matches!(w[1], b'0' | b'1') && w[2].is_ascii_hexdigit() || &w[1..] == b"7f")
    });
    !encoded_control
}

/// Percent-encode a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let mut env = Environment::new();
        for (name, src) in TEMPLATES {
            env.add_template(name, src)
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        // (next, followed?)
        let cases: &[(&str, bool)] = &[
            ("/", true),
            ("/media?x=1", true),
            ("/stations/LQ/week#today", true),
            ("/media?q=a%20b&r=%2F", true),
            ("/logs?from=2026-11-01T00:00:00%2B07:00", true),
            ("", false),
            ("media", false),
            ("//evil.example/", false),
            ("https://evil.example/", false),
            ("/\\evil.example", false),
            ("\\/evil.example", false),
            ("/a\\b", false),
            // Browsers strip tab, CR and LF from URLs: each of these is `//evil.example`.
            ("/\t/evil.example", false),
            ("/\n/evil.example", false),
            ("/\r/evil.example", false),
            ("/\r\n/evil.example", false),
            ("\t//evil.example", false),
            (" //evil.example", false),
            ("/ /evil.example", false),
            ("/\u{0}/evil.example", false),
            ("/\u{7f}/evil.example", false),
            ("/\u{3002}evil.example", false),
            ("/\u{ff0f}evil.example", false),
            // Encoded forms, should anything decode them once more.
            ("/%2Fevil.example", false),
            ("/%2fevil.example", false),
            ("/%5Cevil.example", false),
            ("/%5c%5cevil.example", false),
            ("/%09/evil.example", false),
            ("/%0a/evil.example", false),
            ("/%0D%0A/evil.example", false),
            ("/%7F/evil.example", false),
            ("/media?x=%0d%0aSet-Cookie:a=b", false),
        ];
        for (next, ok) in cases {
            assert_eq!(safe_next(next), *ok, "{next:?}");
        }
        assert!(!safe_next(&format!("/{}", "a".repeat(2048))));
        assert_eq!(urlencode("/a b?c=d"), "/a%20b%3Fc%3Dd");
    }
}
