//! `GET /audit` filters: by user, by kind of change (a prefix of the action), by time, in
//! pages; a bad period is refused naming the field.

use crate::helpers::{t0, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn actions(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_audit_log_filters_by_user_action_and_time_and_pages() {
    let app = TestApp::spawn().await;
    let admin = app.token("admin_tt").await;
    let (s, _) = app
        .post(
            "/areas",
            &admin,
            json!({"code": "TX", "name": "Xã Tiến Xuân", "parent": "TT"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .post(
            "/stations",
            &admin,
            json!({"code": "TX", "name": "Đài Tiến Xuân", "area": "TX"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app.post("/stations/TX/token", &admin, json!({})).await;
    assert_eq!(s, StatusCode::OK);

    let (s, all) = app.get("/audit", &admin).await;
    assert_eq!(s, StatusCode::OK);
    let all = actions(&all);
    assert!(all.contains(&"area.create".to_string()), "{all:?}");

    let (_, v) = app.get("/audit?user=admin_tt&action=station", &admin).await;
    assert_eq!(
        actions(&v),
        ["station.rotate_token", "station.create"],
        "newest first, only admin_tt's station changes"
    );
    let (_, v) = app.get("/audit?user=admin_tt&action=area", &admin).await;
    assert_eq!(actions(&v), ["area.create"]);
    assert_eq!(v[0]["target"], "TX");
    let (_, v) = app.get("/audit?user=nobody", &admin).await;
    assert_eq!(v, json!([]));

    // Time: everything happened at t0 on the manual clock.
    let at = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339().replace('+', "%2B");
    let (_, v) = app
        .get(
            &format!("/audit?user=admin_tt&action=station&from={}", at(t0())),
            &admin,
        )
        .await;
    assert_eq!(actions(&v).len(), 2);
    let later = t0() + chrono::Duration::seconds(1);
    let (_, v) = app.get(&format!("/audit?from={}", at(later)), &admin).await;
    assert_eq!(v, json!([]));
    let (_, v) = app
        .get(
            &format!("/audit?user=admin_tt&action=station&to={}", at(t0())),
            &admin,
        )
        .await;
    assert_eq!(v, json!([]), "to is exclusive");
    let (s, v) = app
        .get(
            &format!("/audit?from={}&to={}", at(later), at(t0())),
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        v["error"]["message"].as_str().unwrap().starts_with("to:"),
        "{v}"
    );

    // Pages: two of one, then nothing.
    let (_, p1) = app
        .get("/audit?user=admin_tt&action=station&limit=1", &admin)
        .await;
    let (_, p2) = app
        .get(
            "/audit?user=admin_tt&action=station&limit=1&offset=1",
            &admin,
        )
        .await;
    let (_, p3) = app
        .get(
            "/audit?user=admin_tt&action=station&limit=1&offset=2",
            &admin,
        )
        .await;
    assert_eq!(actions(&p1), ["station.rotate_token"]);
    assert_eq!(actions(&p2), ["station.create"]);
    assert_eq!(p3, json!([]));
    app.stop().await;
}
