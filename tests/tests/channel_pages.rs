//! The channel pages in a real browser (headless Chromium through ChromeDriver, helpers in
//! `tests::browser`), against a live tone served by the test (`ToneStream`): an admin adds
//! a channel (a bad address is refused next to its field), measures it (the loudness and
//! the gain it sets are shown, and stored, as the API says), edits it, sees a measurement
//! fail with its cause, adds a channel measured at once, and deletes one after a
//! confirmation (saying no first). The page at a phone's 390 px, in English. An operator
//! gets the 403 page. Screenshots 60–66 go to `target/screenshots/`.

use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tests::browser::{
    browser, click, fill, is_hidden, login, shot, start_driver, text_of, wait_hidden, wait_text, PW,
};
use tests::e2e::{seed, sine_440_lufs, Api, Server, ToneStream, OP_PASSWORD};

/// The channel the API knows by `name`.
async fn channel(api: &Api, name: &str) -> Value {
    let list = api.get("/channels").await.unwrap();
    list.as_array()
        .and_then(|l| l.iter().find(|c| c["name"] == name).cloned())
        .unwrap_or_else(|| panic!("no channel {name}: {list}"))
}

async fn choose(c: &fantoccini::Client, css: &str, value: &str) {
    c.find(fantoccini::Locator::Css(css))
        .await
        .unwrap()
        .select_by_value(value)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_manages_and_measures_channels_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    seed(&data, &["LQ"]).unwrap();
    {
        let clock = schedules::SystemClock;
        let state = web::state::AppState::open(&data, Arc::new(clock)).unwrap();
        web::admin::add_user(
            &state.db,
            "test",
            "admin",
            PW,
            web::db::users::Role::Admin,
            "TT",
            schedules::Clock::now(&clock),
        )
        .unwrap();
    }
    let server = Server::start(&data).await.unwrap();
    let base = server.url.clone();
    let api = Api::login(&server, "admin", PW).await.unwrap();
    let tone = ToneStream::start(440.0, 0.5).await.unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/vov3.mp3", l.local_addr().unwrap())
    };

    let driver = start_driver().await;
    let c = browser(&driver, &dir.path().join("chromium")).await;
    let scenario = async {
        // 1. Add: a bad address is refused next to its field; a good one joins the table.
        login(&c, &base, "/admin/channels", "admin", PW).await;
        wait_text(&c, "#channel-table tbody", "").await;
        fill(&c, "#ch-name", "VOV1").await;
        fill(&c, "#ch-url", "vov1").await;
        fill(&c, "#ch-gain_db", "-3").await;
        click(&c, "#channel-form button[type=submit]").await;
        wait_text(&c, "#ch-url-error", "url").await;
        shot(&c, "60-channels-error").await;
        fill(&c, "#ch-url", &tone.url).await;
        click(&c, "#channel-form button[type=submit]").await;
        wait_text(&c, "#ch-status", "VOV1").await;
        wait_text(&c, "#channel-table tbody", "-3.0 dB").await;
        let vov1 = channel(&api, "VOV1").await;
        let id = vov1["id"].as_str().unwrap().to_string();
        assert_eq!(vov1["gain_db"], -3.0);
        assert!(vov1["loudness_lufs"].is_null(), "{vov1}");
        let row = format!("#channel-table tr[data-channel='{id}']");
        wait_text(&c, &row, "Chưa đo").await;

        // 2. Measure it over 5 s: the loudness and the gain it sets, shown and stored.
        choose(&c, "#ch-seconds", "5").await;
        click(&c, &format!("button[data-measure='{id}']")).await;
        wait_text(&c, "#measure-status", "VOV1").await;
        wait_text(&c, "#measure-status", "LUFS").await;
        wait_text(&c, &row, "LUFS").await;
        let measured = channel(&api, "VOV1").await;
        let lufs = measured["loudness_lufs"].as_f64().unwrap();
        let gain = measured["gain_db"].as_f64().unwrap();
        assert!((lufs - sine_440_lufs(0.5)).abs() <= 1.0, "{measured}");
        let shown = text_of(&c, &row).await;
        assert!(shown.contains(&format!("{lufs:.1} LUFS")), "{shown}");
        assert!(shown.contains(&format!("{gain:.1} dB")), "{shown}");
        assert!(!shown.contains("Chưa đo"), "{shown}");
        shot(&c, "61-channels-measured").await;

        // 3. Edit: a new name and gain; an empty name is refused next to its field.
        click(&c, &format!("button[data-edit='{id}']")).await;
        wait_hidden(&c, "#channel-edit", false).await;
        fill(&c, "#ce-name", " ").await;
        click(&c, "#channel-edit button[type=submit]").await;
        wait_hidden(&c, "#ce-name-error", false).await;
        fill(&c, "#ce-name", "VOV1 (Hà Nội)").await;
        fill(&c, "#ce-gain_db", "-2.5").await;
        shot(&c, "62-channels-edit").await;
        click(&c, "#channel-edit button[type=submit]").await;
        wait_text(&c, &row, "VOV1 (Hà Nội)").await;
        wait_text(&c, &row, "-2.5 dB").await;
        assert!(is_hidden(&c, "#channel-edit").await);
        assert_eq!(channel(&api, "VOV1 (Hà Nội)").await["gain_db"], -2.5);

        // 4. A stream that cannot be reached: the measurement names the cause, nothing changes.
        fill(&c, "#ch-name", "VOV3").await;
        fill(&c, "#ch-url", &closed).await;
        fill(&c, "#ch-gain_db", "0").await;
        click(&c, "#channel-form button[type=submit]").await;
        wait_text(&c, "#channel-table tbody", "VOV3").await;
        let vov3 = channel(&api, "VOV3").await["id"]
            .as_str()
            .unwrap()
            .to_string();
        click(&c, &format!("button[data-measure='{vov3}']")).await;
        wait_text(&c, "#measure-error", "VOV3").await;
        wait_text(&c, "#measure-error", "cannot connect").await;
        assert!(is_hidden(&c, "#measure-status").await);
        assert!(channel(&api, "VOV3").await["loudness_lufs"].is_null());
        shot(&c, "63-channels-measure-error").await;

        // 5. Added and measured at once.
        fill(&c, "#ch-name", "Đài tỉnh").await;
        fill(&c, "#ch-url", &tone.url).await;
        click(&c, "#ch-measure").await;
        click(&c, "#channel-form button[type=submit]").await;
        wait_text(&c, "#ch-status", "LUFS").await;
        assert!(channel(&api, "Đài tỉnh").await["loudness_lufs"].is_number());

        // 6. Delete after a confirmation: say no first, then yes.
        click(&c, &format!("button[data-delete='{vov3}']")).await;
        wait_text(&c, "#delete-q", "VOV3").await;
        shot(&c, "64-channels-delete-confirm").await;
        click(&c, "#delete-no").await;
        wait_hidden(&c, "#delete-confirm", true).await;
        wait_text(&c, "#channel-table tbody", "VOV3").await;
        click(&c, &format!("button[data-delete='{vov3}']")).await;
        click(&c, "#delete-yes").await;
        wait_text(&c, "#ch-status", "VOV3").await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while text_of(&c, "#channel-table tbody").await.contains("VOV3") {
            assert!(tokio::time::Instant::now() < deadline, "VOV3 still listed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let names: Vec<String> = api
            .get("/channels")
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(names, ["VOV1 (Hà Nội)", "Đài tỉnh"]);
        shot(&c, "65-channels").await;

        // 7. A phone, in English: nothing wider than the screen but the table's own box.
        c.set_window_size(390, 844).await.unwrap();
        click(&c, "[data-lang-switch]").await;
        wait_text(&c, "h1", "Live channels for relays").await;
        wait_text(&c, "#channel-table tbody", "Measure").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let wide = c
            .execute("return document.documentElement.scrollWidth;", vec![])
            .await
            .unwrap();
        assert!(wide.as_u64().unwrap() <= 390, "the page is {wide} px wide");
        shot(&c, "66-phone-channels").await;

        // 8. An operator: the 403 page.
        click(&c, "form[action='/logout'] button").await;
        login(&c, &base, "/", "op", OP_PASSWORD).await;
        c.goto(&format!("{base}/admin/channels")).await.unwrap();
        wait_text(&c, "main", "You are not allowed").await;
    };
    let outcome = tokio::time::timeout(Duration::from_secs(150), scenario).await;
    let _ = c.close().await;
    drop(driver);
    server.stop().await.unwrap();
    outcome.expect("the browser scenario finished in time");
}
