//! HTML and script in titles are shown as text on every page that shows them, in headless
//! Chromium: the markup appears literally, no element it holds is created and no script it
//! holds runs. The titles reach the pages the real way: an upload, schedules, an urgent
//! notice, and the log entries a real in-process controller (null output) reports.

use fantoccini::Client;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tests::browser::{browser, click, fill, start_driver, text_of, wait_text};
use tests::e2e::{at_in, tone_bytes, InProcessController, OP_PASSWORD};
use tests::scenarios::{World, STATION};

const HOSTILE: &str = r#"Tin <img src=x onerror="window.__xss=1"><script>window.__xss=2</script>"#;

/// The page shows the title literally in `css`, and nothing of it became markup.
async fn shows_as_text(c: &Client, url: &str, css: &str) {
    c.goto(url).await.unwrap();
    wait_text(c, css, "<img src=x onerror=").await;
    let verdict = c
        .execute(
            "return [window.__xss === undefined, document.querySelectorAll('img[src=\"x\"]').length];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(verdict, json!([true, 0]), "{url}: the title became markup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_in_titles_is_shown_as_text_on_every_page() {
    let world = World::start().await.unwrap();
    let api = &world.api;
    let res = api
        .upload_bytes("tin.wav", tone_bytes(500.0, 600), HOSTILE)
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let media = res.json::<serde_json::Value>().await.unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    api.schedule_at(HOSTILE, &media, STATION, at_in(3))
        .await
        .unwrap();
    api.post(
        "/schedules",
        &json!({"title": HOSTILE, "media_id": media, "stations": [STATION], "cron": "0 5 * * *"}),
    )
    .await
    .unwrap();
    let ctl = InProcessController::start(
        &world.url(),
        STATION,
        &world.token,
        &world.controller_data(),
        controller::OutputSpec::Null,
        Arc::new(schedules::SystemClock),
    )
    .unwrap();
    // The one-off airs and is logged; then an urgent notice airs too.
    world
        .wait_for_logs(Duration::from_secs(30), |r| !r.is_empty())
        .await
        .unwrap();
    let urgent = api
        .post(
            "/urgent",
            &json!({"title": HOSTILE, "media_id": media, "stations": [STATION]}),
        )
        .await
        .unwrap();
    let urgent = urgent["id"].as_str().unwrap().to_string();
    world
        .wait_for_logs(Duration::from_secs(30), |r| r.len() >= 2)
        .await
        .unwrap();

    let driver = start_driver().await;
    let c = browser(&driver, &world.dir.path().join("chromium")).await;
    let base = world.url();
    let pages = async {
        c.goto(&format!("{base}/login")).await.unwrap();
        fill(&c, "#username", "op").await;
        fill(&c, "#password", OP_PASSWORD).await;
        click(&c, "form button[type=submit]").await;
        // Logged in once the dashboard is there (going on earlier would cut the form post).
        text_of(&c, "#stations").await;
        shows_as_text(&c, &format!("{base}/media"), "#media-table tbody").await;
        shows_as_text(&c, &format!("{base}/schedules"), "#sched-table tbody").await;
        shows_as_text(&c, &format!("{base}/stations/{STATION}/week"), "#calendar").await;
        shows_as_text(&c, &format!("{base}/"), "#stations").await;
        shows_as_text(&c, &format!("{base}/logs"), "#log-table").await;
        shows_as_text(&c, &format!("{base}/urgent"), "#u-recent").await;
        shows_as_text(&c, &format!("{base}/urgent/{urgent}"), "#b-title").await;
    };
    tokio::time::timeout(Duration::from_secs(120), pages)
        .await
        .expect("the pages within 2 minutes");
    c.close().await.unwrap();
    ctl.stop().await.unwrap();
}
