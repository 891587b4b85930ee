use reqwest::StatusCode;
use std::sync::Arc;

#[tokio::test]
async fn the_demo_seeds_thach_that_once_and_its_programme_is_on_every_station() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(schedules::ManualClock::new(crate::helpers::t0()));
    let state = web::state::AppState::open(dir.path(), clock).unwrap();
    let seeded = web::demo::seed_if_empty(&state)
        .await
        .unwrap()
        .expect("seeded");
    assert_eq!(seeded.stations, 23);
    assert!(
        web::demo::seed_if_empty(&state).await.unwrap().is_none(),
        "only once"
    );
    let token = std::fs::read_to_string(dir.path().join("LQ.token")).unwrap();
    let token = token.trim().to_string();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::startup::serve(listener, state, async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    let doc: schedules::wire::ScheduleDocument = client
        .get(format!("{base}/device/schedule"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc.station.as_str(), "LQ");
    let crons: Vec<_> = doc.rules.iter().filter_map(|r| r.cron.clone()).collect();
    for c in ["30 5 * * *", "0 17 * * *", "0 18 * * 1-5"] {
        assert!(crons.iter().any(|x| x == c), "{c} in {crons:?}");
    }
    let (_, _, _, admin_pw) = &seeded.users[0];
    let res = client
        .post(format!("{base}/auth/token"))
        .json(&serde_json::json!({"username": "admin", "password": admin_pw}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let t: serde_json::Value = res.json().await.unwrap();
    let stations: serde_json::Value = client
        .get(format!("{base}/stations"))
        .bearer_auth(t["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stations = stations.as_array().unwrap();
    assert_eq!(stations.len(), 23);
    let bp = stations.iter().find(|s| s["code"] == "BINHPHU").unwrap();
    assert_eq!(bp["name"], "Đài truyền thanh xã Bình Phú");
    assert_eq!(bp["next"]["priority"], "priority");
    let _ = tx.send(());
    server.await.unwrap().unwrap();
}
