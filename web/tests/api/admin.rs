//! Administration through the API: disabling a user ends their sessions at once and stops
//! sign-in until they are enabled; a password set by an admin replaces the old one and ends
//! the user's sessions; areas are renamed and moved, never under themselves.

use crate::helpers::{TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;

async fn sign_in(app: &TestApp, user: &str, password: &str) -> (StatusCode, serde_json::Value) {
    let res = app
        .client
        .post(app.url("/auth/token"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

#[tokio::test]
async fn a_disabled_user_is_signed_out_at_once_and_cannot_sign_in_until_enabled() {
    let app = TestApp::spawn().await;
    let admin = app.token("admin_tt").await;
    let op = app.token("op_lq").await;
    assert_eq!(app.get("/stations", &op).await.0, StatusCode::OK);

    let (s, v) = app.post("/users/op_lq/disable", &admin, json!({})).await;
    assert_eq!((s, v["disabled"].clone()), (StatusCode::OK, json!(true)));
    assert_eq!(app.get("/stations", &op).await.0, StatusCode::UNAUTHORIZED);
    let (s, v) = sign_in(&app, "op_lq", PASSWORD).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("disabled"),
        "{v}"
    );
    let (_, users) = app.get("/users", &admin).await;
    let op_row = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "op_lq")
        .unwrap();
    assert_eq!(op_row["disabled"], true);

    let (s, _) = app.post("/users/op_lq/enable", &admin, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = sign_in(&app, "op_lq", PASSWORD).await;
    assert_eq!(s, StatusCode::OK);

    // Not oneself, not someone unknown.
    let (s, _) = app.post("/users/admin_tt/disable", &admin, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = app.post("/users/nobody/disable", &admin, json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, log) = app.get("/audit?user=admin_tt&action=user.", &admin).await;
    let actions: Vec<_> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["user.enable", "user.disable"]);
    app.stop().await;
}

#[tokio::test]
async fn a_password_set_by_an_admin_replaces_the_old_one_and_ends_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.token("admin_tt").await;
    let viewer = app.token("viewer_lq").await;
    let (s, v) = app
        .post(
            "/users/viewer_lq/password",
            &admin,
            json!({"password": "short"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("password:"),
        "{v}"
    );
    assert_eq!(
        app.get("/stations", &viewer).await.0,
        StatusCode::OK,
        "unchanged"
    );

    let (s, _) = app
        .post(
            "/users/viewer_lq/password",
            &admin,
            json!({"password": "một mật khẩu mới"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/stations", &viewer).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(&app, "viewer_lq", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(&app, "viewer_lq", "một mật khẩu mới").await.0,
        StatusCode::OK
    );
    // The admin's own token is untouched.
    assert_eq!(app.get("/users", &admin).await.0, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn areas_are_renamed_and_moved_but_never_under_themselves() {
    let app = TestApp::spawn().await;
    let admin = app.token("admin_tt").await;
    let (s, v) = app
        .call(
            reqwest::Method::PATCH,
            "/areas/LQ",
            &admin,
            Some(json!({"name": "  Thị trấn Liên Quan mới "})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!({"code": "LQ", "name": "Thị trấn Liên Quan mới", "parent": "TT",
               "official_code": null})
    );
    // Move BP under LQ: its station goes along (still in LQ's subtree now).
    let (s, v) = app
        .call(
            reqwest::Method::PATCH,
            "/areas/BP",
            &admin,
            Some(json!({"parent": "LQ"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["parent"], "LQ");
    let admin_lq = app.token("admin_lq").await;
    let (_, stations) = app.get("/stations", &admin_lq).await;
    assert_eq!(stations.as_array().unwrap().len(), 2, "{stations}");
    for (body, want, field) in [
        (
            json!({"parent": "BP"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parent:",
        ),
        (
            json!({"parent": "NOPE"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parent:",
        ),
        (
            json!({"name": " "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name:",
        ),
        (json!({}), StatusCode::UNPROCESSABLE_ENTITY, "name:"),
    ] {
        let (s, v) = app
            .call(
                reqwest::Method::PATCH,
                "/areas/LQ",
                &admin,
                Some(body.clone()),
            )
            .await;
        assert_eq!(s, want, "{body}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().starts_with(field),
            "{body}: {v}"
        );
    }
    let (s, _) = app
        .call(
            reqwest::Method::PATCH,
            "/areas/TT",
            &admin,
            Some(json!({"parent": "HN"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "one's own area stays");
    let (_, log) = app.get("/audit?action=area.update", &admin).await;
    assert_eq!(log.as_array().unwrap().len(), 2);
    app.stop().await;
}
