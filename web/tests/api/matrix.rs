//! The authorization matrix, generated from the router: every (method, path) the server
//! serves — the JSON API, CAP, the device API, the pages and their form posts — asked by
//! fifteen callers, with the outcome each must get in one table ([`ROWS`]).
//!
//! The callers, in the order of a row's outcomes: an admin, an approver, an operator and a
//! viewer of the object's area (LQ), of a sibling area (BP) and of the parent area (TT);
//! then the object's station's device token (LQ), another station's (BP), and no token.
//! Every object a row acts on belongs to LQ and airs on LQ's station; rows that change
//! or delete get a fresh object per caller.
//!
//! A route the router serves without its row fails
//! `every_route_has_its_row_in_the_authorization_matrix`, and so does a row for a route
//! that is gone.

use crate::helpers::{tone_wav, TestApp, PASSWORD};
use crate::routes::{routed, routed_paths, METHODS};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Outcomes, one letter a caller: `o` 2xx, `r` 3xx, `b` 400, `u` 401, `f` 403, `n` 404,
/// `c` 409, `i` 422, `g` 502 (the caller was allowed; the upstream failed).
///
/// Callers: `[admin approver operator viewer]` of LQ, of BP, of TT; device LQ, device BP,
/// nobody. Spaces are for reading.
const ROWS: &[(&str, &str)] = &[
    // Public.
    ("GET /healthz", "oooo oooo oooo o o o"),
    ("GET /metrics", "oooo oooo oooo o o o"),
    ("GET /api/v1/openapi.json", "oooo oooo oooo o o o"),
    ("GET /static/{*path}", "oooo oooo oooo o o o"),
    ("POST /api/v1/auth/token", "oooo oooo oooo o o o"),
    ("POST /api/v1/auth/login", "oooo oooo oooo o o o"),
    // Signed in: anyone, for themselves.
    ("DELETE /api/v1/auth/token", "oooo oooo oooo f f u"),
    ("GET /api/v1/auth/me", "oooo oooo oooo f f u"),
    ("POST /api/v1/auth/password", "iiii iiii iiii f f u"),
    // Areas, users, stations: admins, inside their subtree.
    ("GET /api/v1/areas", "oooo oooo oooo f f u"),
    ("POST /api/v1/areas", "offf ffff offf f f u"),
    ("PATCH /api/v1/areas/{code}", "offf ffff offf f f u"),
    ("PUT /api/v1/areas/{code}/approval", "offf ffff offf f f u"),
    (
        "PUT /api/v1/areas/{code}/slot-limit",
        "offf ffff offf f f u",
    ),
    ("GET /api/v1/users", "offf offf offf f f u"),
    ("POST /api/v1/users", "offf ffff offf f f u"),
    (
        "POST /api/v1/users/{username}/disable",
        "offf nfff offf f f u",
    ),
    (
        "POST /api/v1/users/{username}/enable",
        "offf nfff offf f f u",
    ),
    (
        "POST /api/v1/users/{username}/password",
        "offf nfff offf f f u",
    ),
    ("GET /api/v1/stations", "oooo oooo oooo f f u"),
    ("POST /api/v1/stations", "offf ffff offf f f u"),
    ("GET /api/v1/stations/{code}", "oooo ffff oooo f f u"),
    ("PATCH /api/v1/stations/{code}", "offf ffff offf f f u"),
    ("GET /api/v1/stations/{code}/plan", "oooo ffff oooo f f u"),
    ("POST /api/v1/stations/{code}/token", "offf ffff offf f f u"),
    ("PUT /api/v1/stations/{code}/jingle", "ooof ffff ooof f f u"),
    // Media. (Another area's media named in a body is "no media in your library", 422,
    // before the targets are looked at.)
    ("GET /api/v1/media", "oooo oooo oooo f f u"),
    ("POST /api/v1/media", "ooof ooof ooof f f u"),
    ("GET /api/v1/media/{sha256}", "oooo nnnn oooo o n u"),
    ("DELETE /api/v1/media/{sha256}", "ooof nnnn ooof f f u"),
    // Schedules.
    ("GET /api/v1/schedules", "oooo oooo oooo f f u"),
    ("POST /api/v1/schedules", "ooof iiif ooof f f u"),
    ("GET /api/v1/schedules/preview", "oooo oooo oooo f f u"),
    ("GET /api/v1/schedules/{id}", "oooo nnnn oooo f f u"),
    ("PUT /api/v1/schedules/{id}", "ooof nnnn ooof f f u"),
    ("DELETE /api/v1/schedules/{id}", "ooof nnnn ooof f f u"),
    ("POST /api/v1/schedules/{id}/pause", "ooof nnnn ooof f f u"),
    ("POST /api/v1/schedules/{id}/resume", "ooof nnnn ooof f f u"),
    // Programmes.
    ("GET /api/v1/programmes", "oooo oooo oooo f f u"),
    ("POST /api/v1/programmes", "ooof iiif ooof f f u"),
    ("GET /api/v1/programmes/{id}", "oooo nnnn oooo f f u"),
    ("PUT /api/v1/programmes/{id}", "ooof nnnn ooof f f u"),
    ("DELETE /api/v1/programmes/{id}", "ooof nnnn ooof f f u"),
    // Approval (LQ requires it).
    ("GET /api/v1/approvals", "oooo oooo oooo f f u"),
    ("GET /api/v1/approvals/{kind}/{id}", "oooo nnnn oooo f f u"),
    (
        "POST /api/v1/approvals/{kind}/{id}/approve",
        "ooff nnnn ooff f f u",
    ),
    (
        "POST /api/v1/approvals/{kind}/{id}/reject",
        "ooff nnnn ooff f f u",
    ),
    // Urgent notices and CAP.
    ("GET /api/v1/urgent", "oooo oooo oooo f f u"),
    ("POST /api/v1/urgent", "ooof iiif ooof f f u"),
    ("GET /api/v1/urgent/{id}", "oooo nnnn oooo f f u"),
    ("POST /api/v1/urgent/{id}/cancel", "ooof nnnn ooof f f u"),
    ("POST /api/v1/cap", "ooof ffff ooof f f u"),
    // CAP sources: admins, inside their subtree; what they fetched: everyone.
    ("GET /api/v1/cap/sources", "offf offf offf f f u"),
    ("POST /api/v1/cap/sources", "offf ffff offf f f u"),
    ("GET /api/v1/cap/sources/{id}", "offf nnnn offf f f u"),
    ("DELETE /api/v1/cap/sources/{id}", "offf nnnn offf f f u"),
    ("POST /api/v1/cap/sources/{id}/poll", "offf nnnn offf f f u"),
    ("GET /api/v1/cap/messages", "oooo oooo oooo f f u"),
    // Logs, reports, audit.
    ("GET /api/v1/logs", "oooo ffff oooo f f u"),
    ("GET /api/v1/reports/airtime", "oooo ffff oooo f f u"),
    ("GET /api/v1/reports/airtime.csv", "oooo ffff oooo f f u"),
    ("GET /api/v1/reports/airtime.xlsx", "oooo ffff oooo f f u"),
    ("GET /api/v1/reports/charts/{chart}", "oooo ffff oooo f f u"),
    // Reconciling applies to every station the rules the background job applies.
    ("POST /api/v1/reports/reconcile", "offf offf offf f f u"),
    ("GET /api/v1/audit", "offf offf offf f f u"),
    // Remote control of a station.
    (
        "POST /api/v1/stations/{code}/commands",
        "ooof ffff ooof f f u",
    ),
    (
        "GET /api/v1/stations/{code}/commands/{id}",
        "oooo ffff oooo f f u",
    ),
    (
        "GET /api/v1/stations/{code}/volume-schedule",
        "oooo ffff oooo f f u",
    ),
    (
        "PUT /api/v1/stations/{code}/volume-schedule",
        "ooof ffff ooof f f u",
    ),
    // Relayed channels.
    ("GET /api/v1/channels", "oooo oooo oooo f f u"),
    ("POST /api/v1/channels", "offf offf offf f f u"),
    ("PATCH /api/v1/channels/{id}", "offf nnnn offf f f u"),
    ("DELETE /api/v1/channels/{id}", "offf nnnn offf f f u"),
    ("POST /api/v1/channels/{id}/measure", "gfff nnnn gfff f f u"),
    // The device API: the station's own controller only.
    ("GET /api/v1/device/schedule", "ffff ffff ffff o o u"),
    ("GET /api/v1/device/events", "ffff ffff ffff o o u"),
    ("POST /api/v1/device/logs", "ffff ffff ffff o o u"),
    ("POST /api/v1/device/heartbeat", "ffff ffff ffff o o u"),
    (
        "POST /api/v1/device/urgent/{id}/state",
        "ffff ffff ffff o n u",
    ),
    (
        "POST /api/v1/device/commands/{id}/ack",
        "ffff ffff ffff o n u",
    ),
    // Live broadcasts (#25): the rights of urgent notices; only the person who opened a
    // session speaks into it (its WebSocket); the targeted station's controller streams it.
    ("GET /api/v1/live", "oooo oooo oooo f f u"),
    ("POST /api/v1/live", "ooof ffff ooof f f u"),
    ("GET /api/v1/live/{id}", "oooo nnnn oooo f f u"),
    ("POST /api/v1/live/{id}/stop", "ooof nnnn ooof f f u"),
    ("GET /api/v1/live/{id}/ingest", "ffff nnnn ffff f f u"),
    (
        "GET /api/v1/device/live/{id}/stream",
        "ffff ffff ffff o n u",
    ),
    (
        "POST /api/v1/device/live/{id}/state",
        "ffff ffff ffff o n u",
    ),
    // Pages: people with a session cookie; everyone else is sent to the log-in form.
    ("GET /", "oooo oooo oooo r r r"),
    ("GET /login", "oooo oooo oooo o o o"),
    ("POST /login", "rrrr rrrr rrrr r r r"),
    ("POST /logout", "rrrr rrrr rrrr r r r"),
    ("GET /lang/{code}", "rrrr rrrr rrrr r r r"),
    ("GET /password", "oooo oooo oooo r r r"),
    ("POST /password", "iiii iiii iiii r r r"),
    ("GET /media", "oooo oooo oooo r r r"),
    ("GET /schedules", "oooo oooo oooo r r r"),
    ("GET /programmes", "oooo oooo oooo r r r"),
    ("GET /approvals", "oooo oooo oooo r r r"),
    ("GET /stations/{code}/week", "oooo ffff oooo r r r"),
    ("GET /urgent", "ooof ooof ooof r r r"),
    ("GET /urgent/{id}", "oooo oooo oooo r r r"),
    ("GET /live", "ooof ooof ooof r r r"),
    ("GET /cap", "oooo oooo oooo r r r"),
    ("GET /logs", "oooo oooo oooo r r r"),
    ("GET /reports", "oooo oooo oooo r r r"),
    ("GET /admin/areas", "offf offf offf r r r"),
    ("GET /admin/stations", "offf offf offf r r r"),
    ("GET /admin/users", "offf offf offf r r r"),
    ("GET /admin/channels", "offf offf offf r r r"),
    ("GET /admin/audit", "offf offf offf r r r"),
];

/// Calls that change nothing a person answers for: signing in (recorded as the token's
/// creation), a station's own telemetry (logs, heartbeats, delivery states, command
/// acknowledgements: stored as what they are), the report's reconciliation (the background
/// job's work, idempotent), the language cookie, and the log-in form.
const UNAUDITED: &[&str] = &[
    "POST /api/v1/auth/token",
    "POST /api/v1/auth/login",
    "POST /api/v1/device/logs",
    "POST /api/v1/device/heartbeat",
    "POST /api/v1/device/urgent/{id}/state",
    "POST /api/v1/device/commands/{id}/ack",
    "POST /api/v1/device/live/{id}/state",
    "POST /api/v1/reports/reconcile",
    "POST /login",
];

const ROLES: [&str; 4] = ["admin", "approver", "operator", "viewer"];
const PLACES: [&str; 3] = ["LQ", "BP", "TT"];
const CALLERS: usize = 15;

/// One caller: a person (bearer token and session cookie), a device, or nobody.
#[derive(Clone)]
enum Caller {
    Person {
        username: String,
        token: String,
        session: String,
        csrf: String,
    },
    Device(String),
    Nobody,
}

impl Caller {
    fn name(&self) -> String {
        match self {
            Caller::Person { username, .. } => username.clone(),
            Caller::Device(_) => "device".into(),
            Caller::Nobody => "nobody".into(),
        }
    }
}

/// What a row sends.
enum Body {
    None,
    Json(Value),
    Media(Vec<u8>),
    Cap(String),
    Form(Vec<(&'static str, String)>),
}

struct Ctx {
    app: TestApp,
    /// Callers in the table's order.
    callers: Vec<Caller>,
    /// An LQ operator and the district admin who make the objects.
    op_lq: String,
    admin_lq: String,
    /// LQ's media, used by LQ's schedule (so LQ's device may fetch it).
    media: String,
    fresh: AtomicUsize,
    /// A client that keeps redirects as answers (the pages' 303s are outcomes here).
    client: reqwest::Client,
}

impl Ctx {
    /// Entries in the audit log now.
    fn audited(&self) -> i64 {
        self.app
            .state
            .db
            .call_blocking(|c| Ok(c.query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0))?))
            .unwrap()
    }

    fn n(&self) -> usize {
        self.fresh.fetch_add(1, Ordering::Relaxed)
    }

    async fn created(&self, token: &str, path: &str, body: Value) -> String {
        let (s, v) = self.app.post(path, token, body).await;
        assert!(s.is_success(), "set-up {path}: {s} {v}");
        v["id"]
            .as_str()
            .or(v["sha256"].as_str())
            .unwrap_or_default()
            .to_string()
    }

    async fn schedule(&self) -> String {
        let n = self.n();
        self.created(
            &self.op_lq,
            "/schedules",
            json!({"title": format!("s{n}"), "media_id": self.media, "stations": ["LQ"],
                   "cron": format!("{} 6 * * *", n % 60)}),
        )
        .await
    }

    async fn programme(&self) -> String {
        self.created(
            &self.op_lq,
            "/programmes",
            json!({"title": format!("p{}", self.n()), "parts": [{"media_id": self.media}]}),
        )
        .await
    }

    async fn media(&self) -> String {
        let tone = tone_wav(300.0 + self.n() as f32, 500);
        let (s, v) = self.app.upload(&self.op_lq, "x.wav", tone).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    async fn urgent(&self) -> String {
        self.created(
            &self.op_lq,
            "/urgent",
            json!({"title": format!("u{}", self.n()), "media_id": self.media, "stations": ["LQ"]}),
        )
        .await
    }

    async fn live(&self) -> String {
        self.created(
            &self.op_lq,
            "/live",
            json!({"title": format!("l{}", self.n()), "stations": ["LQ"], "priority": "priority"}),
        )
        .await
    }

    async fn channel(&self) -> String {
        self.created(
            &self.admin_lq,
            "/channels",
            json!({"name": format!("Đài {}", self.n()), "url": "http://127.0.0.1:9/lq"}),
        )
        .await
    }

    async fn command(&self) -> String {
        self.created(
            &self.op_lq,
            "/stations/LQ/commands",
            json!({"kind": "resync"}),
        )
        .await
    }

    async fn user(&self) -> String {
        let name = format!("mx_target_{}", self.n());
        self.created(
            &self.admin_lq,
            "/users",
            json!({"username": name, "password": PASSWORD, "role": "viewer", "area": "LQ"}),
        )
        .await;
        name
    }

    async fn cap_source(&self) -> String {
        self.created(
            &self.admin_lq,
            "/cap/sources",
            json!({"name": format!("mx-src-{}", self.n()), "url": "http://127.0.0.1:9/feed",
                   "senders": ["kttv@nchmf.gov.vn"]}),
        )
        .await
    }

    async fn station(&self) -> String {
        let code = format!("LQX{}", self.n());
        self.created(
            &self.admin_lq,
            "/stations",
            json!({"code": code, "name": "Đài thôn", "area": "LQ"}),
        )
        .await;
        code
    }

    /// The path and body of `route` for one caller, with fresh objects where it changes
    /// or deletes one.
    async fn request(&self, route: &str, caller: &Caller) -> (String, Body) {
        let api = |p: String| format!("/api/v1{p}");
        let n = self.n();
        let none = |p: String| (p, Body::None);
        let with = |p: String, v: Value| (p, Body::Json(v));
        match route {
            "GET /healthz"
            | "GET /metrics"
            | "GET /"
            | "GET /login"
            | "GET /password"
            | "GET /media"
            | "GET /schedules"
            | "GET /programmes"
            | "GET /approvals"
            | "GET /urgent"
            | "GET /live"
            | "GET /logs"
            | "GET /cap"
            | "GET /reports"
            | "GET /admin/areas"
            | "GET /admin/stations"
            | "GET /admin/users"
            | "GET /admin/channels"
            | "GET /admin/audit" => none(route[4..].to_string()),
            "GET /api/v1/openapi.json" => none(api("/openapi.json".into())),
            "GET /static/{*path}" => none("/static/app.css".into()),
            "POST /api/v1/auth/token" | "POST /api/v1/auth/login" => with(
                route[5..].to_string(),
                json!({"username": "mx_viewer_lq", "password": PASSWORD}),
            ),
            "DELETE /api/v1/auth/token" | "GET /api/v1/auth/me" => {
                none(route.split_once(' ').unwrap().1.into())
            }
            "POST /api/v1/auth/password" => with(
                api("/auth/password".into()),
                json!({"current": "not the password", "new": PASSWORD}),
            ),
            "GET /api/v1/areas" => none(api("/areas".into())),
            "POST /api/v1/areas" => with(
                api("/areas".into()),
                json!({"code": format!("LQA{n}"), "name": "Thôn", "parent": "LQ"}),
            ),
            "PATCH /api/v1/areas/{code}" => with(
                api("/areas/LQ".into()),
                json!({"name": "Thị trấn Liên Quan"}),
            ),
            "PUT /api/v1/areas/{code}/approval" => {
                with(api("/areas/LQ/approval".into()), json!({"required": true}))
            }
            "PUT /api/v1/areas/{code}/slot-limit" => {
                with(api("/areas/LQ/slot-limit".into()), json!({"minutes": 30}))
            }
            "GET /api/v1/users" => none(api("/users".into())),
            "POST /api/v1/users" => with(
                api("/users".into()),
                json!({"username": format!("mx_new_{n}"), "password": PASSWORD,
                       "role": "viewer", "area": "LQ"}),
            ),
            "POST /api/v1/users/{username}/disable" => {
                none(api(format!("/users/{}/disable", self.user().await)))
            }
            "POST /api/v1/users/{username}/enable" => {
                none(api(format!("/users/{}/enable", self.user().await)))
            }
            "POST /api/v1/users/{username}/password" => with(
                api(format!("/users/{}/password", self.user().await)),
                json!({"password": "another long password"}),
            ),
            "GET /api/v1/stations" => none(api("/stations".into())),
            "POST /api/v1/stations" => with(
                api("/stations".into()),
                json!({"code": format!("LQN{n}"), "name": "Đài thôn", "area": "LQ"}),
            ),
            "GET /api/v1/stations/{code}" => none(api("/stations/LQ".into())),
            "PATCH /api/v1/stations/{code}" => with(
                api("/stations/LQ".into()),
                json!({"location": {"lat": 21.05, "lon": 105.55}}),
            ),
            "GET /api/v1/stations/{code}/plan" => none(api("/stations/LQ/plan".into())),
            "POST /api/v1/stations/{code}/token" => {
                none(api(format!("/stations/{}/token", self.station().await)))
            }
            "PUT /api/v1/stations/{code}/jingle" => with(
                api("/stations/LQ/jingle".into()),
                json!({"media_id": self.media}),
            ),
            "GET /api/v1/media" => none(api("/media".into())),
            "POST /api/v1/media" => (
                api("/media".into()),
                Body::Media(tone_wav(1000.0 + n as f32, 500)),
            ),
            "GET /api/v1/media/{sha256}" => none(api(format!("/media/{}", self.media))),
            "DELETE /api/v1/media/{sha256}" => none(api(format!("/media/{}", self.media().await))),
            "GET /api/v1/schedules" => none(api("/schedules".into())),
            "POST /api/v1/schedules" => with(
                api("/schedules".into()),
                json!({"title": "t", "media_id": self.media, "stations": ["LQ"],
                       "cron": "0 8 * * *"}),
            ),
            "GET /api/v1/schedules/preview" => {
                none(api("/schedules/preview?cron=0%206%20*%20*%20*".into()))
            }
            "GET /api/v1/schedules/{id}" => {
                none(api(format!("/schedules/{}", self.schedule().await)))
            }
            "PUT /api/v1/schedules/{id}" => with(
                api(format!("/schedules/{}", self.schedule().await)),
                json!({"title": "t", "media_id": self.media, "stations": ["LQ"],
                       "cron": "0 9 * * *"}),
            ),
            "DELETE /api/v1/schedules/{id}" => {
                none(api(format!("/schedules/{}", self.schedule().await)))
            }
            "POST /api/v1/schedules/{id}/pause" => {
                none(api(format!("/schedules/{}/pause", self.schedule().await)))
            }
            "POST /api/v1/schedules/{id}/resume" => {
                none(api(format!("/schedules/{}/resume", self.schedule().await)))
            }
            "GET /api/v1/programmes" => none(api("/programmes".into())),
            "POST /api/v1/programmes" => with(
                api("/programmes".into()),
                json!({"title": "p", "parts": [{"media_id": self.media}]}),
            ),
            "GET /api/v1/programmes/{id}" => {
                none(api(format!("/programmes/{}", self.programme().await)))
            }
            "PUT /api/v1/programmes/{id}" => with(
                api(format!("/programmes/{}", self.programme().await)),
                json!({"title": "p2", "parts": [{"media_id": self.media}]}),
            ),
            "DELETE /api/v1/programmes/{id}" => {
                none(api(format!("/programmes/{}", self.programme().await)))
            }
            "GET /api/v1/approvals" => none(api("/approvals".into())),
            "GET /api/v1/approvals/{kind}/{id}" => none(api(format!(
                "/approvals/schedule/{}",
                self.schedule().await
            ))),
            "POST /api/v1/approvals/{kind}/{id}/approve" => with(
                api(format!(
                    "/approvals/schedule/{}/approve",
                    self.schedule().await
                )),
                json!({"comment": "được"}),
            ),
            "POST /api/v1/approvals/{kind}/{id}/reject" => with(
                api(format!(
                    "/approvals/schedule/{}/reject",
                    self.schedule().await
                )),
                json!({"comment": "không được"}),
            ),
            "GET /api/v1/urgent" => none(api("/urgent".into())),
            "POST /api/v1/urgent" => with(
                api("/urgent".into()),
                json!({"title": "u", "media_id": self.media, "stations": ["LQ"]}),
            ),
            "GET /api/v1/urgent/{id}" => none(api(format!("/urgent/{}", self.urgent().await))),
            "POST /api/v1/urgent/{id}/cancel" => {
                none(api(format!("/urgent/{}/cancel", self.urgent().await)))
            }
            "POST /api/v1/cap" => (api("/cap".into()), Body::Cap(cap(n))),
            "GET /api/v1/cap/sources" => none(api("/cap/sources".into())),
            "POST /api/v1/cap/sources" => with(
                api("/cap/sources".into()),
                json!({"name": format!("mx-new-{n}"), "url": "http://127.0.0.1:9/feed",
                       "senders": ["kttv@nchmf.gov.vn"], "area": "LQ"}),
            ),
            "GET /api/v1/cap/sources/{id}" => {
                none(api(format!("/cap/sources/{}", self.cap_source().await)))
            }
            "DELETE /api/v1/cap/sources/{id}" => {
                none(api(format!("/cap/sources/{}", self.cap_source().await)))
            }
            "POST /api/v1/cap/sources/{id}/poll" => none(api(format!(
                "/cap/sources/{}/poll",
                self.cap_source().await
            ))),
            "GET /api/v1/cap/messages" => none(api("/cap/messages".into())),
            "GET /api/v1/logs" => none(api("/logs?station=LQ".into())),
            "GET /api/v1/reports/airtime" => none(api("/reports/airtime?area=LQ".into())),
            "GET /api/v1/reports/airtime.csv" => none(api("/reports/airtime.csv?area=LQ".into())),
            "GET /api/v1/reports/airtime.xlsx" => none(api("/reports/airtime.xlsx?area=LQ".into())),
            "GET /api/v1/reports/charts/{chart}" => {
                none(api("/reports/charts/aired-by-station.svg?area=LQ".into()))
            }
            "POST /api/v1/reports/reconcile" => none(api("/reports/reconcile?area=LQ".into())),
            "GET /api/v1/audit" => none(api("/audit".into())),
            "POST /api/v1/stations/{code}/commands" => with(
                api("/stations/LQ/commands".into()),
                json!({"kind": "resync"}),
            ),
            "GET /api/v1/stations/{code}/commands/{id}" => none(api(format!(
                "/stations/LQ/commands/{}",
                self.command().await
            ))),
            "GET /api/v1/stations/{code}/volume-schedule" => {
                none(api("/stations/LQ/volume-schedule".into()))
            }
            "PUT /api/v1/stations/{code}/volume-schedule" => with(
                api("/stations/LQ/volume-schedule".into()),
                json!([{"from": "05:00", "volume": 40}]),
            ),
            "GET /api/v1/channels" => none(api("/channels".into())),
            "POST /api/v1/channels" => with(
                api("/channels".into()),
                json!({"name": format!("Kênh {n}"), "url": "http://127.0.0.1:9/x"}),
            ),
            "PATCH /api/v1/channels/{id}" => with(
                api(format!("/channels/{}", self.channel().await)),
                json!({"gain_db": -1.5}),
            ),
            "DELETE /api/v1/channels/{id}" => {
                none(api(format!("/channels/{}", self.channel().await)))
            }
            "POST /api/v1/channels/{id}/measure" => with(
                api(format!("/channels/{}/measure", self.channel().await)),
                json!({"seconds": 5}),
            ),
            "GET /api/v1/device/schedule" => none(api("/device/schedule".into())),
            "GET /api/v1/device/events" => none(api("/device/events".into())),
            "POST /api/v1/device/logs" => with(
                api("/device/logs".into()),
                json!({"entries": [log_entry(&format!("mx{n}@1"))]}),
            ),
            "POST /api/v1/device/heartbeat" => with(
                api("/device/heartbeat".into()),
                json!({"version": "0.1.0", "sent_at": "2026-11-29T17:00:00Z"}),
            ),
            "POST /api/v1/device/urgent/{id}/state" => with(
                api(format!("/device/urgent/{}/state", self.urgent().await)),
                json!({"state": "received", "at": "2026-11-29T17:00:00Z"}),
            ),
            "POST /api/v1/device/commands/{id}/ack" => with(
                api(format!("/device/commands/{}/ack", self.command().await)),
                json!({"state": "done", "at": "2026-11-29T17:00:00Z"}),
            ),
            "GET /api/v1/live" => none(api("/live".into())),
            "POST /api/v1/live" => with(
                api("/live".into()),
                json!({"title": "l", "stations": ["LQ"], "priority": "emergency"}),
            ),
            "GET /api/v1/live/{id}" => none(api(format!("/live/{}", self.live().await))),
            "POST /api/v1/live/{id}/stop" => none(api(format!("/live/{}/stop", self.live().await))),
            "GET /api/v1/live/{id}/ingest" => {
                none(api(format!("/live/{}/ingest", self.live().await)))
            }
            "GET /api/v1/device/live/{id}/stream" => {
                none(api(format!("/device/live/{}/stream", self.live().await)))
            }
            "POST /api/v1/device/live/{id}/state" => with(
                api(format!("/device/live/{}/state", self.live().await)),
                json!({"state": "airing", "played_ms": 1000}),
            ),
            "POST /login" => (
                "/login".into(),
                Body::Form(vec![
                    ("username", "mx_viewer_lq".into()),
                    ("password", PASSWORD.into()),
                    ("next", "/".into()),
                ]),
            ),
            "POST /logout" => ("/logout".into(), Body::Form(csrf_field(caller))),
            "GET /lang/{code}" => none("/lang/en?next=/".into()),
            "POST /password" => (
                "/password".into(),
                Body::Form(
                    [
                        ("current", "not the password".to_string()),
                        ("new", PASSWORD.into()),
                        ("confirm", PASSWORD.into()),
                    ]
                    .into_iter()
                    .chain(csrf_field(caller))
                    .collect(),
                ),
            ),
            "GET /stations/{code}/week" => none("/stations/LQ/week".into()),
            "GET /urgent/{id}" => none(format!("/urgent/{}", self.urgent().await)),
            other => panic!("no request written for {other}: add it to `Ctx::request`"),
        }
    }
}

fn csrf_field(caller: &Caller) -> Vec<(&'static str, String)> {
    match caller {
        Caller::Person { csrf, .. } => vec![("csrf", csrf.clone())],
        _ => Vec::new(),
    }
}

fn log_entry(id: &str) -> Value {
    json!({
        "id": id, "title": "Bản tin", "category": "thông báo", "priority": "normal",
        "scheduled_at": "2026-11-29T22:30:00Z", "started_at": "2026-11-29T22:30:00.120Z",
        "ended_at": "2026-11-29T22:31:00Z", "played_ms": 59880, "status": "played"
    })
}

/// A CAP alert for LQ with its audio inline, a new identifier each time.
fn cap(n: usize) -> String {
    use base64::Engine as _;
    let audio = base64::engine::general_purpose::STANDARD.encode(tone_wav(700.0, 500));
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>MX-{n}</identifier><sender>kttv@nchmf.gov.vn</sender>
  <sent>2026-11-30T00:00:00+07:00</sent><status>Actual</status><msgType>Alert</msgType>
  <scope>Public</scope>
  <info><language>vi-VN</language><category>Met</category><event>Bão</event>
    <urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>
    <headline>Bão</headline>
    <resource><resourceDesc>tin</resourceDesc><mimeType>audio/x-wav</mimeType>
      <derefUri>{audio}</derefUri></resource>
    <area><areaDesc>Liên Quan</areaDesc>
      <geocode><valueName>loaxa</valueName><value>LQ</value></geocode></area>
  </info>
</alert>"#
    )
}

fn letter(s: StatusCode) -> char {
    match s.as_u16() {
        200..=299 => 'o',
        300..=399 => 'r',
        400 => 'b',
        401 => 'u',
        403 => 'f',
        404 => 'n',
        409 => 'c',
        422 => 'i',
        502 => 'g',
        _ => '?',
    }
}

async fn send(ctx: &Ctx, method: &str, path: &str, body: Body, caller: &Caller) -> StatusCode {
    let app = &ctx.app;
    let root = app.base.trim_end_matches("/api/v1");
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let is_page = !path.starts_with("/api/");
    let mut req = ctx.client.request(method, format!("{root}{path}"));
    match caller {
        Caller::Person { token, session, .. } => {
            if is_page {
                req = req.header("cookie", format!("loaxa_session={session}"));
            } else {
                req = req.bearer_auth(token);
            }
        }
        Caller::Device(t) if !is_page => req = req.bearer_auth(t),
        _ => {}
    }
    req = match body {
        Body::None => req,
        Body::Json(v) => req.json(&v),
        Body::Media(bytes) => {
            let part = reqwest::multipart::Part::bytes(bytes).file_name("x.wav");
            req.multipart(reqwest::multipart::Form::new().part("file", part))
        }
        Body::Cap(xml) => req.header("content-type", "application/cap+xml").body(xml),
        Body::Form(fields) => req.form(&fields),
    };
    let res = req.send().await.unwrap();
    // The event stream stays open: its status is all this needs.
    res.status()
}

/// A person's own token and session, fresh (for the rows that end them).
async fn sign_in(app: &TestApp, username: &str) -> Caller {
    let token = app.token(username).await;
    let res = app
        .client
        .post(app.url("/auth/login"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let session = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("loaxa_session="))
        .map(|c| c.split(';').next().unwrap().to_string())
        .expect("a session cookie");
    let csrf = res.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    Caller::Person {
        username: username.to_string(),
        token,
        session,
        csrf,
    }
}

async fn setup() -> Ctx {
    let app = TestApp::spawn().await;
    let tt = app.token("admin_tt").await;
    // LQ requires approval: what LQ's operators make waits for an approver.
    let (s, v) = app
        .call(
            Method::PUT,
            "/areas/LQ/approval",
            &tt,
            Some(json!({"required": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut callers = Vec::new();
    for place in PLACES {
        for role in ROLES {
            let username = format!("mx_{role}_{}", place.to_lowercase());
            let (s, v) = app
                .post(
                    "/users",
                    &tt,
                    json!({"username": username, "password": PASSWORD, "role": role, "area": place}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            callers.push(sign_in(&app, &username).await);
        }
    }
    callers.push(Caller::Device(app.lq_device.clone()));
    callers.push(Caller::Device(app.bp_device.clone()));
    callers.push(Caller::Nobody);
    assert_eq!(callers.len(), CALLERS);
    let op_lq = app.token("op_lq").await;
    let admin_lq = app.token("admin_lq").await;
    let approver = app.token("mx_approver_lq").await;
    // LQ's media, approved, on LQ's schedule (approved): LQ's device may fetch it.
    let (s, v) = app.upload(&op_lq, "lq.wav", tone_wav(440.0, 500)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let media = v["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/approvals/media/{media}/approve"),
        &approver,
        json!({}),
    )
    .await;
    let (_, v) = app
        .post(
            "/schedules",
            &op_lq,
            json!({"title": "t", "media_id": media, "stations": ["LQ"], "cron": "0 5 * * *"}),
        )
        .await;
    let sched = v["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/approvals/schedule/{sched}/approve"),
        &approver,
        json!({}),
    )
    .await;
    Ctx {
        app,
        callers,
        op_lq,
        admin_lq,
        media,
        fresh: AtomicUsize::new(0),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

/// Every (METHOD, path) the router serves.
async fn served() -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(schedules::ManualClock::new(crate::helpers::t0()));
    let state = web::state::AppState::open(dir.path(), clock).unwrap();
    let app = web::startup::app(state);
    let mut out = BTreeSet::new();
    for path in routed_paths(&app) {
        if path.contains("__private__axum_fallback") {
            continue;
        }
        let probe = crate::routes::concrete(&path);
        for m in METHODS {
            if routed(&app, m, &probe).await {
                out.insert(format!("{} {path}", m.to_uppercase()));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_route_has_its_row_in_the_authorization_matrix() {
    let served = served().await;
    let rows: BTreeSet<String> = ROWS.iter().map(|(r, _)| r.to_string()).collect();
    assert_eq!(rows.len(), ROWS.len(), "a route has two rows");
    let missing: Vec<_> = served.difference(&rows).collect();
    let gone: Vec<_> = rows.difference(&served).collect();
    assert!(
        missing.is_empty() && gone.is_empty(),
        "served without a row in ROWS (say who may call it): {missing:?}; rows for routes \
         no longer served: {gone:?}"
    );
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_matrix_says() {
    let ctx = setup().await;
    let mut wrong = Vec::new();
    let mut unaudited = Vec::new();
    let mut table = Vec::new();
    for (route, want) in ROWS {
        let want: Vec<char> = want.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(want.len(), CALLERS, "{route}: {CALLERS} outcomes");
        let (method, _) = route.split_once(' ').unwrap();
        let mut got = String::new();
        for (i, caller) in ctx.callers.iter().enumerate() {
            // Signing out ends the credential used: those rows use a fresh one.
            let fresh;
            let caller = match caller {
                Caller::Person { username, .. }
                    if ["DELETE /api/v1/auth/token", "POST /logout"].contains(route) =>
                {
                    fresh = sign_in(&ctx.app, username).await;
                    &fresh
                }
                _ => caller,
            };
            let (path, body) = ctx.request(route, caller).await;
            let before = ctx.audited();
            let status = send(&ctx, method, &path, body, caller).await;
            let l = letter(status);
            // A change that went through is in the audit log: no path changes anything
            // unaudited (telemetry the devices send is their own record).
            if method != "GET" && status.is_success() && !UNAUDITED.contains(route) {
                let after = ctx.audited();
                if after <= before {
                    unaudited.push(format!("{route} as {}", caller.name()));
                }
            }
            got.push(l);
            if [3, 7, 11, 12, 13].contains(&i) {
                got.push(' ');
            }
            if l != want[i] {
                wrong.push(format!(
                    "{route} as {}: got {status}, want {}",
                    caller.name(),
                    want[i]
                ));
            }
        }
        table.push(format!("    (\"{route}\", \"{got}\"),"));
    }
    assert!(
        unaudited.is_empty(),
        "changes that left no audit entry:\n{}",
        unaudited.join("\n")
    );
    let cells = ROWS.len() * CALLERS;
    println!(
        "authorization matrix: {} routes × {CALLERS} callers = {cells} requests",
        ROWS.len()
    );
    assert!(
        wrong.is_empty(),
        "{} of {cells} outcomes differ:\n{}\n\nthe table as answered:\n{}",
        wrong.len(),
        wrong.join("\n"),
        table.join("\n")
    );
    ctx.app.stop().await;
}
