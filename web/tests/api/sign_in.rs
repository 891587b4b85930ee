use crate::helpers::{TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_token_works_until_it_is_revoked() {
    let app = TestApp::spawn().await;
    let t = app.token("op_lq").await;
    let (s, me) = app.get("/auth/me", &t).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["role"], "operator");
    assert_eq!(me["area"], "LQ");
    let (s, _) = app.call(Method::DELETE, "/auth/token", &t, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, body) = app.get("/auth/me", &t).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    app.stop().await;
}

#[tokio::test]
async fn tokens_expire_after_thirty_days() {
    let app = TestApp::spawn().await;
    let t = app.token("viewer_lq").await;
    app.clock.advance(chrono::Duration::days(31));
    let (s, _) = app.get("/auth/me", &t).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn repeated_wrong_passwords_are_throttled_and_the_right_one_then_waits_too() {
    let app = TestApp::spawn().await;
    let url = app.url("/auth/token");
    for _ in 0..5 {
        let res = app
            .client
            .post(&url)
            .json(&json!({"username": "op_lq", "password": "wrong password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = app
        .client
        .post(&url)
        .json(&json!({"username": "op_lq", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    // Another user from the same address is not affected.
    let _ = app.token("viewer_lq").await;
    app.clock.advance(chrono::Duration::seconds(31));
    let _ = app.token("op_lq").await;
    app.stop().await;
}

#[tokio::test]
async fn the_session_cookie_needs_the_csrf_header_for_changes() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .post(app.url("/auth/login"))
        .json(&json!({"username": "op_lq", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("loaxa_session="));
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Strict"));
    let session = cookie.split(';').next().unwrap().to_string();
    let body: serde_json::Value = res.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_string();

    let me = app
        .client
        .get(app.url("/auth/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    let without = app
        .client
        .delete(app.url("/auth/token"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    let with = app
        .client
        .delete(app.url("/auth/token"))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), StatusCode::NO_CONTENT);
    let after = app
        .client
        .get(app.url("/auth/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let (s1, b1) = app
        .post(
            "/auth/token",
            "x",
            json!({"username": "nobody", "password": "whatever1"}),
        )
        .await;
    let (s2, b2) = app
        .post(
            "/auth/token",
            "x",
            json!({"username": "op_lq", "password": "whatever1"}),
        )
        .await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!(b1, b2);
    assert_eq!(s2, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn an_admin_adds_a_user_who_can_then_sign_in_within_their_area() {
    let app = TestApp::spawn().await;
    let admin = app.token("admin_tt").await;
    let (s, v) = app
        .post(
            "/users",
            &admin,
            json!({"username": "thuha", "password": "mật khẩu mới", "role": "operator", "area": "BP"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .post(
            "/users",
            &admin,
            json!({"username": "thuha", "password": "mật khẩu mới", "role": "operator", "area": "BP"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = app
        .post(
            "/users",
            &admin,
            json!({"username": "x", "password": "short", "role": "operator", "area": "BP"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let res = app
        .client
        .post(app.url("/auth/token"))
        .json(&json!({"username": "thuha", "password": "mật khẩu mới"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let t = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, stations) = app.get("/stations", &t).await;
    assert_eq!(stations.as_array().unwrap().len(), 1);
    assert_eq!(stations[0]["code"], "BP");
    app.stop().await;
}
