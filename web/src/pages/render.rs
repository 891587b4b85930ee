//! Templates (embedded at compile time, HTML-escaped by default) and the common page
//! context: language table, user, CSRF token, asset version.

use crate::pages::i18n::Lang;
use crate::pages::nav;
use crate::pages::session::Session;
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

/// Render `name` with `ctx` merged over the common context of `lang` and `session`.
pub fn render(
    name: &str,
    lang: Lang,
    session: Option<&Session>,
    page: &str,
    ctx: Value,
) -> Response {
    let base = context! {
        lang => lang.code(),
        other_lang => lang.other().code(),
        t => lang.table(),
        page => page,
        ver => crate::pages::assets::version(),
        user => session.map(|s| context! {
            username => s.username.clone(),
            role => s.role.as_str(),
            area => s.area.clone(),
            can_edit => s.role >= crate::db::users::Role::Operator,
            is_admin => s.role >= crate::db::users::Role::Admin,
            nav => nav::entries(s.role, nav::Group::Main),
            admin_nav => nav::entries(s.role, nav::Group::Admin),
        }),
        csrf => session.map(|s| s.csrf.clone()).unwrap_or_default(),
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
    let mut res = render(
        "error.html",
        lang,
        None,
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

/// Only same-site paths may be redirected to (no `//host`, no scheme).
pub fn safe_next(next: &str) -> bool {
    next.starts_with('/') && !next.starts_with("//") && !next.contains('\\')
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
        assert!(safe_next("/media?x=1"));
        assert!(!safe_next("//evil.example/"));
        assert!(!safe_next("https://evil.example/"));
        assert!(!safe_next("/\\evil.example"));
        assert_eq!(urlencode("/a b?c=d"), "/a%20b%3Fc%3Dd");
    }
}
