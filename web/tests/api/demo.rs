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
    let crons: Vec<_> = doc
        .rules
        .iter()
        .filter_map(|r| r.slot.cron.clone())
        .collect();
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

#[tokio::test]
async fn the_demo_has_a_month_of_history_marked_as_demo_in_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let now = crate::helpers::t0();
    let clock = Arc::new(schedules::ManualClock::new(now));
    let state = web::state::AppState::open(dir.path(), clock).unwrap();
    let seeded = web::demo::seed_if_empty(&state).await.unwrap().unwrap();
    assert!(seeded.history > 23 * 2 * 29, "{}", seeded.history);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::startup::serve(listener, state, async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    let (_, _, _, admin_pw) = &seeded.users[0];
    let t: serde_json::Value = client
        .post(format!("{base}/auth/token"))
        .json(&serde_json::json!({"username": "admin", "password": admin_pw}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let t = t["token"].as_str().unwrap().to_string();
    let get = |path: String| {
        let (client, t) = (client.clone(), t.clone());
        async move {
            let res = client.get(path).bearer_auth(t).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            res.json::<serde_json::Value>().await.unwrap()
        }
    };
    let from = (now - chrono::Duration::days(31)).to_rfc3339();
    let q = format!(
        "from={}&to={}",
        urlencode(&from),
        urlencode(&now.to_rfc3339())
    );
    let r = get(format!("{base}/reports/airtime?{q}")).await;
    let stations = r["stations"].as_array().unwrap();
    assert_eq!(stations.len(), 23);
    let by = |code: &str| stations.iter().find(|s| s["station"] == code).unwrap();
    // Two bulletins a day for 30 days everywhere; the offline stations missed theirs.
    for s in stations {
        assert!(s["scheduled"].as_i64().unwrap() >= 60, "{s}");
        assert_eq!(s["awaiting"], 0, "{s}");
    }
    assert_eq!(by("CANHNAU")["missed"], 8);
    assert_eq!(by("HUONGNGAI")["missed"], 6);
    assert_eq!(by("YENTRUNG")["missed"], 4);
    assert_eq!(by("LQ")["missed"], 0);
    // The storm warning interrupted the evening bulletin on the stations that were on air.
    assert_eq!(r["totals"]["interrupted"], 23, "{}", r["totals"]);
    let cats: Vec<_> = r["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["category"].as_str().unwrap().to_string())
        .collect();
    for c in [
        "cải cách hành chính",
        "tiếp sóng",
        "thông báo",
        "phòng chống thiên tai",
    ] {
        assert!(cats.iter().any(|x| x == c), "{c} in {cats:?}");
    }
    let pct = r["totals"]["compliance_pct"].as_f64().unwrap();
    assert!(pct > 80.0 && pct < 100.0, "{pct}");
    assert!(r["days"].as_array().unwrap().len() >= 30);

    // Every entry says it is demo data.
    let logs = get(format!("{base}/logs?limit=1000&{q}")).await;
    let logs = logs.as_array().unwrap();
    assert!(!logs.is_empty());
    for e in logs {
        assert!(
            e["id"]
                .as_str()
                .unwrap()
                .starts_with(web::demo::history::ID_PREFIX),
            "{e}"
        );
        assert!(
            e["reason"]
                .as_str()
                .unwrap()
                .starts_with(web::demo::history::REASON_PREFIX),
            "{e}"
        );
    }
    let _ = tx.send(());
    server.await.unwrap().unwrap();
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}
