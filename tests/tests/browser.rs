//! The pages in a real browser: headless Chromium driven through ChromeDriver (Debian
//! `chromium`, `chromium-driver`). One operator logs in, uploads a file and sees its
//! duration, creates a weekday schedule and finds it in the station's week calendar, pushes
//! an urgent notice and watches a real in-process controller (null output) report it
//! `played`, and downloads the CSV. Every page is saved as a PNG into
//! `target/screenshots/` for a person to look at.

use fantoccini::Locator;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tests::browser::{
    browser, click, fetch_text, fill, href_of, shot, start_driver, text_of, wait_text, PW, WAIT,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_uses_every_page_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn schedules::Clock> = Arc::new(schedules::SystemClock);
    let state = web::state::AppState::open(&dir.path().join("server"), clock.clone()).unwrap();
    let now = clock.now();
    web::admin::add_area(&state.db, "test", "TT", "Huyện Thạch Thất", None, now).unwrap();
    web::admin::add_area(
        &state.db,
        "test",
        "LQ",
        "Thị trấn Liên Quan",
        Some("TT"),
        now,
    )
    .unwrap();
    let device =
        web::admin::add_station(&state.db, "test", "LQ", "Đài Liên Quan", "LQ", None, now).unwrap();
    web::admin::add_station(&state.db, "test", "BY", "Đài Bình Yên", "TT", None, now).unwrap();
    web::admin::add_user(
        &state.db,
        "test",
        "op",
        PW,
        web::db::users::Role::Operator,
        "TT",
        now,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::startup::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let (stop_ctl, ctl_stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(controller::run(
        controller::Config {
            server: base.clone(),
            station: schedules::StationCode::parse("LQ").unwrap(),
            token: device,
            data_dir: dir.path().join("controller"),
            output: controller::OutputSpec::Null,
            wait_for_device: false,
            sound_period_ms: controller::output::DEFAULT_PERIOD_MS,
        },
        clock.clone(),
        async {
            let _ = ctl_stopped.await;
        },
    ));

    let driver = start_driver().await;
    let c = browser(&driver, &dir.path().join("chromium")).await;
    let scenario = async {
        // 1. Log in (a wrong password first: the reason shows next to the field).
        c.goto(&format!("{base}/media")).await.unwrap();
        fill(&c, "#username", "op").await;
        fill(&c, "#password", "wrong").await;
        click(&c, "form button[type=submit]").await;
        wait_text(&c, "#password-error", "Sai tên đăng nhập").await;
        shot(&c, "01-login-error").await;
        fill(&c, "#password", PW).await;
        click(&c, "form button[type=submit]").await;

        // 2. Media: upload a 2.5 s tone and see its duration.
        text_of(&c, "#upload-form").await;
        let wav = dir.path().join("ban-tin.wav");
        tests::e2e::tone_wav(&wav, 440.0, 2_500).unwrap();
        c.find(Locator::Css("#up-file"))
            .await
            .unwrap()
            .send_keys(wav.to_str().unwrap())
            .await
            .unwrap();
        fill(&c, "#up-title", "Bản tin <script>alert(1)</script>").await;
        click(&c, "#upload-form button[type=submit]").await;
        wait_text(&c, "#up-status", "0:03").await;
        wait_text(
            &c,
            "#media-table tbody",
            "Bản tin <script>alert(1)</script>",
        )
        .await;
        assert_eq!(text_of(&c, "#media-table td.duration").await, "0:03");
        shot(&c, "02-media").await;

        // 3. The weekday form: compiled by the server (the page shows its expressions), and a
        // bad time marked at its field.
        c.goto(&format!("{base}/schedules")).await.unwrap();
        text_of(&c, "#sched-form").await;
        fill(&c, "#s-times", "25:00").await;
        let bad_time = web::pages::i18n::Lang::Vi.t("err_times");
        wait_text(&c, "#s-times-error", bad_time).await;
        fill(&c, "#s-times", "05:30, 17:30").await;
        // A weekday schedule: Mon–Fri (ticked by default) at 05:30 and 17:30.
        fill(&c, "#s-title", "Bản tin sáng chiều").await;
        wait_text(&c, "#s-media", "Bản tin").await;
        let media = c.find(Locator::Css("#s-media")).await.unwrap();
        media.select_by_index(1).await.unwrap();
        wait_text(&c, "#s-expr", "30 5,17 * * 1,2,3,4,5").await;
        let next = wait_text(&c, "#s-next", ":30").await;
        assert_eq!(next.lines().count(), 5, "{next}");
        wait_text(&c, "#s-describe", "Thứ").await;
        // Tick the box once the preview has settled (it changes the layout while it fills).
        click(&c, "#s-all").await;
        let ticked = c
            .execute("return document.getElementById('s-all').checked;", vec![])
            .await
            .unwrap();
        assert_eq!(ticked, json!(true), "the all-stations box is ticked");
        shot(&c, "03-schedules-form").await;
        click(&c, "#sched-form button[type=submit]").await;
        wait_text(&c, "#s-status", "Đã lưu").await;
        wait_text(&c, "#sched-table tbody", "Bản tin sáng chiều").await;
        shot(&c, "04-schedules").await;

        // 4. The week calendar shows it.
        c.goto(&format!("{base}/stations/LQ/week")).await.unwrap();
        wait_text(&c, "#calendar", "Bản tin sáng chiều").await;
        wait_text(&c, "#calendar", "05:30").await;
        shot(&c, "05-week").await;

        // 5. Dashboard.
        c.goto(&format!("{base}/")).await.unwrap();
        wait_text(&c, "#stations tbody", "Đài Liên Quan").await;
        wait_text(&c, "#c-total", "2").await;
        shot(&c, "06-dashboard").await;

        // 6. An urgent notice, confirmed, played by the controller.
        c.goto(&format!("{base}/urgent")).await.unwrap();
        wait_text(&c, "#u-media", "Bản tin").await;
        fill(&c, "#u-title", "Cảnh báo bão số 3").await;
        c.find(Locator::Css("#u-media"))
            .await
            .unwrap()
            .select_by_index(1)
            .await
            .unwrap();
        click(&c, "#u-all").await;
        let boxes = c
            .find_all(Locator::Css("input[name=ustation]"))
            .await
            .unwrap();
        for b in boxes {
            if b.attr("value").await.unwrap().as_deref() == Some("LQ") {
                b.click().await.unwrap();
            }
        }
        click(&c, "#u-send").await;
        wait_text(&c, "#u-confirm-q", "1").await;
        shot(&c, "07-urgent-confirm").await;
        click(&c, "#u-confirm-yes").await;
        wait_text(&c, "#b-table tbody", "LQ").await;
        wait_text(&c, "#b-table tbody", "Đã phát").await;
        shot(&c, "08-urgent-board").await;

        // 7. Logs and the CSV.
        c.goto(&format!("{base}/logs")).await.unwrap();
        wait_text(&c, "#l-page", "1").await;
        shot(&c, "09-logs").await;
        c.goto(&format!("{base}/reports")).await.unwrap();
        let csv = fetch_text(&c, &href_of(&c, "#r-csv").await).await;
        assert_eq!(csv[0], 200, "{csv}");
        assert!(csv[1].as_str().unwrap().starts_with("text/csv"), "{csv}");
        shot(&c, "10-reports").await;

        // 8. Password page, English, and the dashboard on a phone.
        c.goto(&format!("{base}/password")).await.unwrap();
        shot(&c, "11-password").await;
        click(&c, "[data-lang-switch]").await;
        wait_text(&c, "h1", "Change password").await;
        c.set_window_size(390, 844).await.unwrap();
        c.goto(&format!("{base}/")).await.unwrap();
        wait_text(&c, "#stations tbody", "Đài Liên Quan").await;
        // The master volume the controller reports, from its heartbeat.
        wait_text(&c, "#stations tbody", "Volume 100%").await;
        shot(&c, "12-dashboard-phone-en").await;
        // No script ran from the title (CSP and escaping).
        let alerted = c.get_alert_text().await;
        assert!(alerted.is_err(), "an alert opened: {alerted:?}");
    };
    let outcome = tokio::time::timeout(Duration::from_secs(90), scenario).await;
    let _ = c.close().await;
    drop(driver);
    let _ = stop_ctl.send(());
    let _ = controller.await;
    let _ = stop.send(());
    let _ = server.await;
    outcome.expect("the browser scenario finished in time");
}

/// The programme builder and the approval queue on a phone-sized window: an operator in an
/// area that requires approval builds a programme with the up/down buttons, hears it and
/// sees the slot warning; an approver rejects it with a comment and approves a file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_programme_is_built_on_a_phone_and_an_approver_decides_in_a_real_browser() {
    use tests::e2e::{seed, Api, Server, OP_PASSWORD};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    seed(&data, &["LQ"]).unwrap();
    {
        let clock: Arc<dyn schedules::Clock> = Arc::new(schedules::SystemClock);
        let state = web::state::AppState::open(&data, clock.clone()).unwrap();
        let now = clock.now();
        web::admin::add_user(
            &state.db,
            "test",
            "duyet",
            PW,
            web::db::users::Role::Approver,
            "TT",
            now,
        )
        .unwrap();
        state
            .db
            .call_blocking(|c| {
                web::db::approvals::set_required(c, "TT", true)?;
                web::db::areas::set_slot_limit_minutes(c, "TT", Some(1))?;
                Ok(())
            })
            .unwrap();
    }
    let server = Server::start(&data).await.unwrap();
    let base = server.url.clone();
    let api = Api::login(&server, "op", OP_PASSWORD).await.unwrap();
    let mut ids = Vec::new();
    for (name, ms) in [("Mở đầu", 1_000), ("Tin dài", 61_000), ("Kết thúc", 1_200)] {
        let wav = dir.path().join(format!("{ms}-{}.wav", ids.len()));
        tests::e2e::tone_wav(&wav, 440.0, ms).unwrap();
        ids.push(
            api.upload(&wav, name).await.unwrap()["sha256"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }

    let driver = start_driver().await;
    let c = browser(&driver, &dir.path().join("chromium")).await;
    c.set_window_size(390, 844).await.unwrap();
    let scenario = async {
        c.goto(&format!("{base}/programmes")).await.unwrap();
        fill(&c, "#username", "op").await;
        fill(&c, "#password", OP_PASSWORD).await;
        click(&c, "form button[type=submit]").await;
        text_of(&c, "#prog-form").await;
        wait_text(&c, "#p-media", "Kết thúc").await;
        fill(&c, "#p-title", "Chương trình sáng").await;
        for id in &ids {
            c.find(Locator::Css("#p-media"))
                .await
                .unwrap()
                .select_by_value(id)
                .await
                .unwrap();
            click(&c, "#p-add").await;
        }
        click(&c, "#p-add-jingle").await;
        wait_text(&c, "#p-total", "1:03").await;
        wait_text(&c, "#p-warning", "Vượt giới hạn khung phát 1 phút").await;
        // Reorder with the buttons: the jingle up to the top, the long bulletin down.
        for n in [4, 3, 2] {
            click(&c, &format!("#p-parts li:nth-child({n}) [data-move='-1']")).await;
        }
        click(&c, "#p-parts li:nth-child(3) [data-move='1']").await;
        let order = text_of(&c, "#p-parts").await;
        let pos = |s: &str| order.find(s).unwrap_or_else(|| panic!("{s} in {order}"));
        assert!(pos("Nhạc hiệu") < pos("Mở đầu"), "{order}");
        assert!(
            pos("Mở đầu") < pos("Kết thúc") && pos("Kết thúc") < pos("Tin dài"),
            "{order}"
        );
        shot(&c, "50-programme-over-limit").await;
        // Hear it: the parts play one after the other (the jingle is each station's own).
        click(&c, "#p-play").await;
        wait_text(&c, "#p-now", "Đang phát phần").await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let heard = c
                .execute(
                    "return document.getElementById('p-now').dataset.heard || '';",
                    vec![],
                )
                .await
                .unwrap();
            if heard.as_str().is_some_and(|h| h.starts_with("2 3")) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "parts heard: {heard}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        click(&c, "#p-stop").await;
        // Without the long bulletin it fits its slot.
        click(&c, "#p-parts li:last-child [data-remove]").await;
        wait_text(&c, "#p-total", "0:02").await;
        let warning = c.find(Locator::Css("#p-warning")).await.unwrap();
        assert!(
            !warning.is_displayed().await.unwrap(),
            "no warning under the limit"
        );
        click(&c, "#prog-form button[type=submit]").await;
        wait_text(&c, "#p-status", "Đã lưu").await;
        wait_text(&c, "#prog-table tbody", "chờ duyệt").await;
        shot(&c, "51-programme-saved").await;

        // The approver's queue.
        // Log out and wait for the sign-in page, so that nothing of the operator's session
        // can race the approver's sign-in; then open the queue.
        click(&c, "form[action='/logout'] button").await;
        text_of(&c, "#username").await;
        fill(&c, "#username", "duyet").await;
        fill(&c, "#password", PW).await;
        click(&c, "form button[type=submit]").await;
        wait_text(&c, "header", "duyet").await;
        c.goto(&format!("{base}/approvals")).await.unwrap();
        wait_text(&c, "#appr-table tbody", "Chương trình sáng").await;
        let row = "#appr-table tr[data-kind='programme']";
        click(&c, &format!("{row} [data-action='reject']")).await;
        wait_text(&c, "#load-error", "Hãy ghi lý do").await;
        fill(&c, &format!("{row} input"), "Thiếu bản tin huyện").await;
        click(&c, &format!("{row} [data-action='reject']")).await;
        wait_text(&c, "#a-status", "Đã ghi quyết định").await;
        let media_row = format!("#appr-table tr[data-id='{}']", ids[0]);
        click(&c, &format!("{media_row} [data-action='approve']")).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = text_of(&c, "#appr-table tbody").await;
            if !left.contains("Chương trình sáng") && !left.contains("Mở đầu") {
                assert!(left.contains("Kết thúc"), "{left}");
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "queue still has {left}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        shot(&c, "52-approvals").await;
    };
    scenario.await;
    c.close().await.unwrap();

    let list = api.get("/programmes").await.unwrap();
    let p = &list[0];
    assert_eq!(p["approval"], "rejected", "{p}");
    assert_eq!(p["approval_history"][1]["comment"], "Thiếu bản tin huyện");
    assert_eq!(p["parts"][0]["jingle"], true);
    server.stop().await.unwrap();
}
