//! The reports page of the demo, in headless Chromium at 1280 px and at a phone's 390 px:
//! the demo's month of history fills it, every one of its 23 stations is in the table, a
//! station whose bulletin is due and unlogged is named as awaiting its log, and the three
//! charts' text is at least 11 px as shown (the smallest font size declared in each SVG,
//! times the ratio of its shown width to its own), one chart to a row on the phone.
//! Screenshots: `target/screenshots/7*-reports-*.png`.

use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tests::browser::{browser, click, fill, shot, start_driver, wait_text, WAIT};

/// For each chart: the smallest declared font size, the shown/own width ratio, and where
/// it is on the page.
async fn charts(c: &Client) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let drawn = c
            .execute(
                "return Array.from(document.querySelectorAll('[data-chart]')).every(i => i.complete && i.naturalWidth > 0);",
                vec![],
            )
            .await
            .unwrap();
        if drawn == json!(true) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "charts not drawn");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = c
        .execute_async(
            r#"var done = arguments[arguments.length - 1];
            var imgs = Array.from(document.querySelectorAll('[data-chart]'));
            Promise.all(imgs.map(function (i) {
              return fetch(i.src).then(function (r) { return r.text(); }).then(function (t) {
                var svg = new DOMParser().parseFromString(t, 'image/svg+xml').documentElement;
                var sizes = (t.match(/font-size[:=]"?[0-9.]+/g) || []).map(function (m) { return parseFloat(m.replace(/[^0-9.]/g, '')); });
                var box = i.getBoundingClientRect();
                return { id: i.id, min_font: Math.min.apply(null, sizes), scale: box.width / parseFloat(svg.getAttribute('width')),
                         left: box.left, top: box.top, width: box.width, texts: svg.querySelectorAll('text').length,
                         bars: svg.querySelectorAll('rect.bar').length };
              });
            })).then(done, function (e) { done(String(e)); });"#,
            vec![],
        )
        .await
        .unwrap();
    got.as_array().unwrap_or_else(|| panic!("{got}")).clone()
}

fn check_readable(charts: &[Value], at: &str) {
    for ch in charts {
        let px = ch["min_font"].as_f64().unwrap() * ch["scale"].as_f64().unwrap();
        println!(
            "BENCH|chart-text|{at}|{}|smallest text {px:.1} px",
            ch["id"]
        );
        assert!(px >= 11.0, "{at}: {ch} shows text at {px:.1} px");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_reports_page_lists_every_station_with_readable_charts_at_1280_and_390_px() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn schedules::Clock> = Arc::new(schedules::SystemClock);
    let state = web::state::AppState::open(&dir.path().join("server"), clock.clone()).unwrap();
    let seeded = web::demo::seed_if_empty(&state).await.unwrap().unwrap();
    let (_, _, _, admin_pw) = seeded.users[0].clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::startup::serve(listener, state, async {
        let _ = stopped.await;
    }));
    // A bulletin due on Bình Phú in two seconds; its station has no controller, so from
    // then on it awaits its log.
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/api/v1/auth/token"))
        .json(&json!({"username": "admin", "password": admin_pw}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let media: Value = http
        .get(format!("{base}/api/v1/media"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sha = media.as_array().unwrap()[0]["sha256"].as_str().unwrap();
    let due = clock.now() + chrono::Duration::seconds(2);
    let res = http
        .post(format!("{base}/api/v1/schedules"))
        .bearer_auth(&token)
        .json(&json!({"title": "Thông báo khẩn của xã", "media_id": sha,
                      "stations": ["BINHPHU"], "at": due.to_rfc3339(), "category": "thông báo"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{:?}", res.text().await);
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let driver = start_driver().await;
    let c = browser(&driver, &dir.path().join("chromium")).await;
    let scenario = async {
        c.set_window_size(1280, 900).await.unwrap();
        c.goto(&format!("{base}/reports")).await.unwrap();
        fill(&c, "#username", "admin").await;
        fill(&c, "#password", &admin_pw).await;
        click(&c, "form button[type=submit]").await;
        wait_text(&c, "#r-stations tbody", "Yên Trung").await;
        // Every station of the district, the silent and the offline ones included.
        let rows = c
            .find_all(Locator::Css("#r-stations tbody tr"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 23);
        wait_text(&c, "#r-awaiting", "Bình Phú").await;
        // Columns: station, scheduled, played, interrupted, skipped, failed, missed, awaiting…
        let cells = |code: &'static str| {
            let c = c.clone();
            async move {
                c.execute(
                    "return Array.from(document.querySelectorAll(\"#r-stations tr[data-station='\" + arguments[0] + \"'] td\")).map(td => td.textContent);",
                    vec![json!(code)],
                )
                .await
                .unwrap()
            }
        };
        let bp = cells("BINHPHU").await;
        assert_eq!(bp[7], "1", "Bình Phú awaits one log: {bp}");
        let canhnau = cells("CANHNAU").await;
        assert_eq!(canhnau[6], "8", "Canh Nậu missed 8 bulletins: {canhnau}");

        let wide = charts(&c).await;
        check_readable(&wide, "1280");
        let aired = wide.iter().find(|c| c["id"] == "chart-aired").unwrap();
        assert_eq!(aired["bars"], 23, "{aired}");
        // Three to a row at 1280 px.
        assert!(
            wide.iter().all(
                |c| (c["top"].as_f64().unwrap() - wide[0]["top"].as_f64().unwrap()).abs() < 1.0
            ),
            "{wide:?}"
        );
        shot(&c, "70-reports-1280-top").await;
        c.execute(
            "document.querySelector('.charts').scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
        shot(&c, "71-reports-1280-charts").await;
        c.set_window_size(1280, 3000).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        shot(&c, "72-reports-1280-whole").await;

        // A phone: one chart to a row, still readable.
        c.set_window_size(390, 844).await.unwrap();
        c.goto(&format!("{base}/reports")).await.unwrap();
        wait_text(&c, "#r-stations tbody", "Yên Trung").await;
        let narrow = charts(&c).await;
        check_readable(&narrow, "390");
        for w in narrow.windows(2) {
            assert!(
                w[1]["top"].as_f64().unwrap() > w[0]["top"].as_f64().unwrap() + 100.0,
                "one chart to a row: {narrow:?}"
            );
            assert!((w[1]["left"].as_f64().unwrap() - w[0]["left"].as_f64().unwrap()).abs() < 1.0);
        }
        shot(&c, "73-reports-390-top").await;
        for (i, id) in ["chart-aired", "chart-compliance", "chart-share"]
            .iter()
            .enumerate()
        {
            c.execute(
                "document.getElementById(arguments[0]).scrollIntoView();",
                vec![json!(id)],
            )
            .await
            .unwrap();
            shot(&c, &format!("7{}-reports-390-{id}", 4 + i)).await;
        }
    };
    let outcome = tokio::time::timeout(Duration::from_secs(120), scenario).await;
    let _ = c.close().await;
    drop(driver);
    let _ = stop.send(());
    let _ = server.await;
    outcome.expect("the browser scenario finished in time");
}
