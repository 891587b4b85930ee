use crate::helpers::TestApp;
use reqwest::StatusCode;
use serde_json::json;
use tower::ServiceExt;

#[tokio::test]
async fn unknown_fields_and_bad_values_are_refused_naming_the_problem() {
    let app = TestApp::spawn().await;
    let t = app.token("op_lq").await;
    let (s, b) = app
        .post(
            "/schedules",
            &t,
            json!({"title": "x", "media_id": "a", "stations": ["LQ"], "cron": "* * * * *", "colour": "red"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("colour"),
        "{b}"
    );

    let res = app
        .client
        .post(app.url("/schedules"))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let b: serde_json::Value = res.json().await.unwrap();
    assert_eq!(b["error"]["code"], "bad_request");

    let (s, b) = app.get("/logs?limit=lots", &t).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        b["error"]["message"].as_str().unwrap().contains("limit"),
        "{b}"
    );

    let (s, b) = app.get("/logs?colour=red", &t).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");

    let (s, b) = app.get("/no/such/thing", &t).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["code"], "not_found");
    app.stop().await;
}

#[tokio::test]
async fn requests_without_credentials_are_401_with_a_json_body() {
    let dir = tempfile::tempdir().unwrap();
    let state = web::state::AppState::open(
        dir.path(),
        std::sync::Arc::new(schedules::ManualClock::new(crate::helpers::t0())),
    )
    .unwrap();
    let app = web::startup::app(state);
    for path in [
        "/api/v1/stations",
        "/api/v1/media",
        "/api/v1/device/schedule",
        "/api/v1/audit",
    ] {
        let res = app
            .clone()
            .oneshot(
                axum::http::Request::get(path)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "unauthorized", "{path}");
    }
}

#[tokio::test]
async fn device_tokens_cannot_use_human_endpoints_and_people_cannot_use_device_ones() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    for path in ["/stations", "/schedules", "/logs", "/auth/me"] {
        let (s, _) = app.get(path, &app.lq_device).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    for path in ["/device/schedule", "/device/events"] {
        let (s, _) = app.get(path, &t).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    let (s, _) = app.get("/device/schedule", "not-a-token").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
