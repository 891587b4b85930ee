//! The HTML pages, driven with `oneshot`: who may see each page, the log-in redirect, the
//! area check, CSRF on form posts, escaping, security headers, the language switch and the
//! password change.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use std::sync::Arc;
use tower::ServiceExt;
use web::db::users::Role;

const PW: &str = "mật khẩu dài lắm";
const PAGES: &[&str] = &[
    "/",
    "/media",
    "/schedules",
    "/urgent",
    "/urgent/abc",
    "/logs",
    "/reports",
    "/password",
    "/stations/LQ/week",
];

struct Site {
    _dir: tempfile::TempDir,
    state: web::state::AppState,
}

fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(schedules::ManualClock::new(crate::helpers::t0()));
    let state = web::state::AppState::open(dir.path(), clock).unwrap();
    let now = crate::helpers::t0();
    let db = &state.db;
    web::admin::add_area(db, "test", "TT", "Thạch Thất", None, now).unwrap();
    web::admin::add_area(db, "test", "LQ", "Liên Quan", Some("TT"), now).unwrap();
    web::admin::add_area(db, "test", "BB", "Bình Yên", Some("TT"), now).unwrap();
    web::admin::add_station(
        db,
        "test",
        "LQ",
        "Đài <script>alert(1)</script>",
        "LQ",
        None,
        now,
    )
    .unwrap();
    web::admin::add_station(db, "test", "BB", "Đài Bình Yên", "BB", None, now).unwrap();
    for (name, role, area) in [
        ("admin", Role::Admin, "TT"),
        ("op", Role::Operator, "LQ"),
        ("viewer", Role::Viewer, "LQ"),
    ] {
        web::admin::add_user(db, "test", name, PW, role, area, now).unwrap();
    }
    Site { _dir: dir, state }
}

impl Site {
    async fn send(&self, req: Request<Body>) -> Response {
        web::startup::app(self.state.clone())
            .oneshot(req)
            .await
            .unwrap()
    }

    async fn get(&self, path: &str, cookie: &str) -> (StatusCode, String, Response) {
        let res = self
            .send(
                Request::get(path)
                    .header(header::COOKIE, cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        let status = res.status();
        let (parts, body) = res.into_parts();
        let text =
            String::from_utf8(axum::body::to_bytes(body, 1 << 22).await.unwrap().to_vec()).unwrap();
        (status, text, Response::from_parts(parts, Body::empty()))
    }

    async fn post_form(
        &self,
        path: &str,
        cookie: &str,
        form: &str,
    ) -> (StatusCode, String, Response) {
        let res = self
            .send(
                Request::post(path)
                    .header(header::COOKIE, cookie)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(form.to_string()))
                    .unwrap(),
            )
            .await;
        let status = res.status();
        let (parts, body) = res.into_parts();
        let text =
            String::from_utf8(axum::body::to_bytes(body, 1 << 22).await.unwrap().to_vec()).unwrap();
        (status, text, Response::from_parts(parts, Body::empty()))
    }

    /// Log in through the form: the cookie header to send next, and the CSRF token.
    async fn login(&self, user: &str) -> (String, String) {
        let form = format!("username={user}&password={}&next=%2Fmedia", enc(PW));
        let (status, _, res) = self.post_form("/login", "", &form).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[header::LOCATION], "/media");
        let set = res.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap().to_string();
        let (_, html, _) = self.get("/password", &cookie).await;
        (cookie, attr(&html, "data-csrf"))
    }
}

fn enc(s: &str) -> String {
    web::pages::render::urlencode(s)
}

fn attr(html: &str, name: &str) -> String {
    let start = html.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    html[start..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn logged_out_visitors_are_sent_to_the_login_form_and_back() {
    let s = site();
    for path in PAGES {
        let (status, _, res) = s.get(path, "").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        let loc = res.headers()[header::LOCATION].to_str().unwrap();
        assert_eq!(loc, format!("/login?next={}", enc(path)), "{path}");
    }
    let (status, html, _) = s.get("/login?next=%2Fmedia", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<html lang="vi">"#));
    assert!(html.contains(r#"<label for="username">Tên đăng nhập</label>"#));
    assert!(html.contains(r#"name="next" value="&#x2f;media""#));
    // A forged session cookie is no session.
    let (status, _, _) = s.get("/", "loaxa_session=0000").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn every_page_opens_for_an_operator_with_security_headers() {
    let s = site();
    let (cookie, csrf) = s.login("op").await;
    assert_eq!(csrf.len(), 64);
    for path in PAGES {
        let (status, html, res) = s.get(path, &cookie).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let h = res.headers();
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(html.contains(r#"name="viewport""#), "{path}");
        assert!(html.contains(&format!(r#"data-csrf="{csrf}""#)), "{path}");
        // No inline script: only the data block and the external file.
        assert_eq!(html.matches("<script").count(), 2, "{path}");
    }
}

#[tokio::test]
async fn viewers_cannot_open_the_urgent_page_and_nobody_sees_stations_outside_their_area() {
    let s = site();
    let (viewer, _) = s.login("viewer").await;
    let (status, html, _) = s.get("/urgent", &viewer).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("Bạn không có quyền"));
    assert!(
        !html.contains(r#"href="/urgent""#),
        "no urgent link for viewers"
    );
    let (status, _, _) = s.get("/", &viewer).await;
    assert_eq!(status, StatusCode::OK);

    let (op, _) = s.login("op").await;
    let (status, _, _) = s.get("/stations/BB/week", &op).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = s.get("/stations/NOPE/week", &op).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (admin, _) = s.login("admin").await;
    let (status, _, _) = s.get("/stations/BB/week", &admin).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_station_name_with_a_script_tag_is_shown_escaped() {
    let s = site();
    let (cookie, _) = s.login("op").await;
    let (status, html, _) = s.get("/stations/LQ/week", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Đài &lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
            || html.contains("Đài &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert(1)"));
}

#[tokio::test]
async fn a_wrong_password_is_shown_next_to_the_field() {
    let s = site();
    let (status, html, res) = s
        .post_form("/login", "", "username=op&password=nope&next=%2F")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(res.headers().get(header::SET_COOKIE).is_none());
    assert!(html.contains(
        r#"<p class="field-error" id="password-error">Sai tên đăng nhập hoặc mật khẩu.</p>"#
    ));
    assert!(html.contains(r#"value="op""#));
    let (status, html, _) = s
        .post_form("/login", "lang=en", "username=&password=x")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="username-error">Required."#));
    // An outside `next` is not followed.
    let form = format!(
        "username=op&password={}&next=%2F%2Fevil.example%2F",
        enc(PW)
    );
    let (_, _, res) = s.post_form("/login", "", &form).await;
    assert_eq!(res.headers()[header::LOCATION], "/");
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused_and_logout_ends_the_session() {
    let s = site();
    let (cookie, csrf) = s.login("op").await;
    let (status, _, _) = s.post_form("/logout", &cookie, "csrf=wrong").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = s
        .post_form(
            "/password",
            &cookie,
            &format!("current={}&new=abcdefghij&confirm=abcdefghij", enc(PW)),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The JSON API wants the header from cookie sessions.
    let res = s
        .send(
            Request::post("/api/v1/urgent/x/cancel")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (status, _, res) = s
        .post_form("/logout", &cookie, &format!("csrf={csrf}"))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let (status, _, _) = s.get("/", &cookie).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the session is gone");
}

#[tokio::test]
async fn a_password_change_checks_the_current_one_and_signs_out_other_sessions() {
    let s = site();
    let (cookie, csrf) = s.login("op").await;
    let (other, _) = s.login("op").await;
    let post = |current: &str, new: &str, confirm: &str| {
        format!(
            "csrf={csrf}&current={}&new={}&confirm={}",
            enc(current),
            enc(new),
            enc(confirm)
        )
    };
    let (status, html, _) = s
        .post_form(
            "/password",
            &cookie,
            &post("sai", "mới mới mới mới", "mới mới mới mới"),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="current-error">Mật khẩu hiện tại không đúng."#));
    let (status, html, _) = s
        .post_form("/password", &cookie, &post(PW, "ngắn", "ngắn"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="new-error">"#));
    let (status, html, _) = s
        .post_form(
            "/password",
            &cookie,
            &post(PW, "mới mới mới mới", "khác khác khác"),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="confirm-error">"#));
    let (status, html, _) = s
        .post_form(
            "/password",
            &cookie,
            &post(PW, "mới mới mới mới", "mới mới mới mới"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Đã đổi mật khẩu"));
    assert_eq!(
        s.get("/", &cookie).await.0,
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        s.get("/", &other).await.0,
        StatusCode::SEE_OTHER,
        "others are signed out"
    );
    let (status, _, _) = s
        .post_form("/login", "", &format!("username=op&password={}", enc(PW)))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = s
        .post_form(
            "/login",
            "",
            &format!("username=op&password={}", enc("mới mới mới mới")),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_api_changes_a_password_too() {
    let app = crate::helpers::TestApp::spawn().await;
    let token = app.token("op_lq").await;
    let (status, body) = app
        .post(
            "/auth/password",
            &token,
            serde_json::json!({"current": "wrong", "new": "a new long one"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app
        .post(
            "/auth/password",
            &token,
            serde_json::json!({"current": "short", "new": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

#[tokio::test]
async fn the_language_switch_sets_a_cookie_and_pages_follow_it() {
    let s = site();
    let (status, _, res) = s.get("/lang/en?next=%2Fmedia", "").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/media");
    assert!(res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .starts_with("lang=en;"));
    let (_, html, _) = s.get("/login", "lang=en").await;
    assert!(html.contains(r#"<html lang="en">"#) && html.contains(">Username</label>"));
    let (_, _, res) = s.get("/lang/en?next=https%3A%2F%2Fevil.example", "").await;
    assert_eq!(res.headers()[header::LOCATION], "/");
}

#[tokio::test]
async fn no_redirect_leaves_the_site_through_next() {
    let s = site();
    // Each `next` is another site once a browser drops the tab or line break, reads the
    // backslash as a slash, or decodes once more.
    let evil = [
        "%2F%09%2Fevil.example",
        "%2F%0A%2Fevil.example",
        "%2F%0D%0A%2Fevil.example",
        "%2F%5Cevil.example",
        "%5C%5Cevil.example",
        "%2F%252Fevil.example",
        "%2F%255Cevil.example",
        "%2F%2509%2Fevil.example",
        "%2F%E3%80%82evil.example",
    ];
    for next in evil {
        let (status, _, res) = s.get(&format!("/lang/en?next={next}"), "").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{next}");
        assert_eq!(res.headers()[header::LOCATION], "/", "/lang next={next}");
        let (status, html, _) = s.get(&format!("/login?next={next}"), "").await;
        assert_eq!(status, StatusCode::OK, "{next}");
        assert!(
            html.contains(r#"name="next" value="&#x2f;""#),
            "/login next={next}"
        );
        let form = format!("username=op&password={}&next={next}", enc(PW));
        let (status, _, res) = s.post_form("/login", "", &form).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{next}");
        assert_eq!(
            res.headers()[header::LOCATION],
            "/",
            "POST /login next={next}"
        );
    }
}

#[tokio::test]
async fn scripts_and_styles_are_served_with_their_types_and_long_caching() {
    let s = site();
    for (path, mime) in [
        ("/static/js/main.js", "text/javascript"),
        ("/static/js/pages/schedules.js", "text/javascript"),
        ("/static/app.css", "text/css"),
    ] {
        let (status, body, res) = s.get(path, "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with(mime));
        assert!(res.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age=31536000"));
        assert!(!body.is_empty());
    }
    assert_eq!(s.get("/static/nope.js", "").await.0, StatusCode::NOT_FOUND);
    // Under the version the pages link: cached for good; under another (a page from the
    // previous binary): today's file, not cached.
    let v = web::pages::assets::version();
    let (status, _, res) = s.get(&format!("/static/{v}/js/core.js"), "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(res.headers()[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let (status, _, res) = s.get("/static/0123456789ab/js/core.js", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
    assert_eq!(
        s.get(&format!("/static/{v}/../Cargo.toml"), "").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn only_admins_open_the_administration_pages_and_see_their_menu() {
    const ADMIN_PAGES: &[&str] = &[
        "/admin/areas",
        "/admin/stations",
        "/admin/users",
        "/admin/channels",
        "/admin/audit",
    ];
    let s = site();
    let (admin, _) = s.login("admin").await;
    for path in ADMIN_PAGES {
        let (status, html, _) = s.get(path, &admin).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            html.contains(&format!(r#"href="{path}" aria-current="page""#)),
            "{path}"
        );
        assert_eq!(html.matches("<script").count(), 2, "{path}");
    }
    for user in ["op", "viewer"] {
        let (cookie, _) = s.login(user).await;
        for path in ADMIN_PAGES {
            let (status, html, _) = s.get(path, &cookie).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{user} {path}");
            assert!(html.contains("Bạn không có quyền"), "{user} {path}");
        }
        let (_, html, _) = s.get("/", &cookie).await;
        assert!(
            !html.contains("/admin/"),
            "{user} sees the administration menu"
        );
    }
    let (_, html, _) = s.get("/", &admin).await;
    for path in ADMIN_PAGES {
        assert!(
            html.contains(&format!(r#"href="{path}""#)),
            "admin menu lacks {path}"
        );
    }
}
