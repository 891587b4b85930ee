use crate::helpers::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

fn entry(id: &str, cat: &str, status: &str, played_ms: u64, at: &str) -> serde_json::Value {
    json!({"id": id, "title": "Bản tin", "category": cat, "priority": "normal",
           "scheduled_at": at, "played_ms": played_ms, "status": status})
}

#[tokio::test]
async fn logs_filter_and_the_airtime_report_counts_by_station_and_category() {
    let app = TestApp::spawn().await;
    let lq = json!({"entries": [
        entry("a@1", "thông báo", "played", 120_000, "2026-11-01T22:30:00Z"),
        entry("a@2", "thông báo", "interrupted", 30_000, "2026-11-02T22:30:00Z"),
        entry("b@1", "cải cách, hành chính", "skipped", 0, "2026-11-02T10:00:00Z"),
        entry("c@1", "thông báo", "played", 60_000, "2026-12-05T22:30:00Z"),
    ]});
    let bp = json!({"entries": [entry("a@1", "thông báo", "missed", 0, "2026-11-01T22:30:00Z")]});
    app.post("/device/logs", &app.lq_device, lq).await;
    app.post("/device/logs", &app.bp_device, bp).await;
    let t = app.token("admin_tt").await;

    let (_, rows) = app
        .get(
            "/logs?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z",
            &t,
        )
        .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let at: Vec<_> = rows
        .iter()
        .map(|r| r["scheduled_at"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = at.clone();
    sorted.sort();
    assert_eq!(at, sorted, "sorted by scheduled_at");
    let (_, rows) = app.get("/logs?status=interrupted", &t).await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
    let (_, rows) = app.get("/logs?area=BP", &t).await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
    let (_, rows) = app.get("/logs?limit=2&offset=1", &t).await;
    assert_eq!(rows.as_array().unwrap().len(), 2);
    let (s, _) = app.get("/logs?status=lost", &t).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let res = app
        .client
        .get(app.url("/reports/airtime.csv?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "starts with a BOM");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "station,station_name,category,scheduled,played,interrupted,skipped,failed,missed,aired_minutes"
    );
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines.contains(&"BP,Đài Bình Phú,thông báo,1,0,0,0,0,1,0.0"),
        "{text}"
    );
    assert!(
        lines.contains(&"LQ,Đài Liên Quan,thông báo,2,1,1,0,0,0,2.5"),
        "{text}"
    );
    assert!(
        lines.contains(&"LQ,Đài Liên Quan,\"cải cách, hành chính\",1,0,0,1,0,0,0.0"),
        "{text}"
    );

    // The LQ viewer's report covers LQ only.
    let v = app.token("viewer_lq").await;
    let text = app
        .client
        .get(app.url("/reports/airtime.csv"))
        .bearer_auth(&v)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("BP,"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn every_change_is_in_the_audit_log_which_only_admins_read() {
    let app = TestApp::spawn().await;
    let op = app.token("op_lq").await;
    let m = app.upload_tone(&op, 440.0, 500).await;
    let id = app.schedule(&op, &m, &["LQ"], "0 6 * * *").await;
    app.call(Method::DELETE, &format!("/schedules/{id}"), &op, None)
        .await;
    let (s, _) = app.get("/audit", &op).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let admin = app.token("admin_tt").await;
    let (s, rows) = app.get("/audit", &admin).await;
    assert_eq!(s, StatusCode::OK);
    let actions: Vec<_> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["user"] == "op_lq")
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect();
    for a in ["media.upload", "schedule.create", "schedule.delete"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    let create = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "schedule.create")
        .unwrap();
    assert_eq!(create["target"], id.as_str());
    assert_eq!(create["remote"], "127.0.0.1");
    assert_eq!(create["detail"]["cron"], "0 6 * * *");
    assert_eq!(create["area"], "LQ");

    // An administrator reads the changes of their own area and below only.
    let bp = app.token("op_bp").await;
    app.upload_tone(&bp, 550.0, 500).await;
    let lq_admin = app.token("admin_lq").await;
    let (_, rows) = app.get("/audit", &lq_admin).await;
    let rows = rows.as_array().unwrap();
    assert!(rows.iter().any(|r| r["user"] == "op_lq"));
    assert!(rows.iter().all(|r| r["user"] != "op_bp"), "{rows:?}");
    let (_, rows) = app.get("/audit", &admin).await;
    assert!(rows
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["user"] == "op_bp"));
    app.stop().await;
}
