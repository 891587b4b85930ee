//! Router-level tests: the app as a tower service, driven with `oneshot`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

async fn body(res: axum::response::Response) -> Value {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

fn setup() -> (tempfile::TempDir, web::state::AppState, String) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(schedules::ManualClock::new(crate::helpers::t0()));
    let state = web::state::AppState::open(dir.path(), clock).unwrap();
    let now = crate::helpers::t0();
    web::admin::add_area(&state.db, "test", "LQ", "Liên Quan", None, now).unwrap();
    let token = web::admin::add_station(&state.db, "test", "LQ", "Đài", "LQ", None, now).unwrap();
    (dir, state, token)
}

#[tokio::test]
async fn a_heartbeat_records_what_the_controller_reports() {
    let (_dir, state, token) = setup();
    let app = web::startup::app(state.clone());
    let hb = json!({"version": "0.1.0", "sent_at": "2026-11-29T17:00:00Z",
        "now_playing": {"key": "s@1", "title": "Bản tin", "priority": "normal",
                        "started_at": "2026-11-29T16:59:00Z"},
        "cache_ready": false, "missing_media": ["a".repeat(64)], "outbox_len": 3,
        "clock_offset_ms": -40, "output": "null"});
    let res = app
        .oneshot(
            Request::post("/api/v1/device/heartbeat")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(hb.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let st = state
        .db
        .call(|c| Ok(web::db::stations::get(c, "LQ")?))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(st.last_seen, Some(crate::helpers::t0()));
    let hb = st.heartbeat.unwrap();
    assert_eq!(hb.outbox_len, 3);
    assert_eq!(hb.clock_offset_ms, Some(-40));
    assert_eq!(hb.now_playing.unwrap().title, "Bản tin");
}

#[tokio::test]
async fn wrong_methods_and_oversized_bodies_answer_json_errors() {
    let (_dir, state, token) = setup();
    let app = web::startup::app(state);
    let res = app
        .clone()
        .oneshot(
            Request::patch("/api/v1/stations")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body(res).await["error"]["code"], "method_not_allowed");

    let huge = format!("{{\"entries\": [], \"pad\": \"{}\"}}", "x".repeat(3 << 20));
    let res = app
        .oneshot(
            Request::post("/api/v1/device/logs")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(huge))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body(res).await["error"]["code"], "too_large");
}

#[tokio::test]
async fn healthz_answers_without_credentials() {
    let (_dir, state, _) = setup();
    let res = web::startup::app(state)
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body(res).await["status"], "ok");
}
