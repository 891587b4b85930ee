//! The administration pages, the urgent page's text and CAP forms and the reports page in a
//! real browser (headless Chromium through ChromeDriver, helpers in `tests::browser`). An
//! admin adds an area (then renames and moves it); adds a station (its device token shown
//! once), then rotates its token after a confirmation — checked against the API: the old
//! token stops working at once; adds a user, sets a new password for them and disables
//! them (checked against the API); reads the audit log with filters and pages; sends a
//! spoken text notice and cancels it (the cancel button goes once it is finished); sends a
//! CAP alert from a file; opens the charts and downloads the XLSX. An operator gets the 403
//! page on every administration page. Screenshots at 1280 px and at a phone's 390 px go to
//! `target/screenshots/`.

use fantoccini::{Client, Locator};
use schedules::Clock;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tests::browser::{
    browser, click, fetch_text, fill, href_of, is_hidden, login, shot, start_driver, text_of,
    value_of, wait_hidden, wait_text, PW, WAIT,
};
use tests::e2e::{seed, Server, OP_PASSWORD};

/// Areas made up front so that the audit log has more than one page (50 rows).
const EXTRA_AREAS: usize = 55;

/// `GET /device/schedule` with a device token: its status.
async fn device_status(server: &Server, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/device/schedule", server.api()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn rows(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.unwrap().len()
}

fn cap_alert(expires: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>KTTV-BROWSER-1</identifier>
  <sender>kttv@nchmf.gov.vn</sender>
  <sent>2026-11-29T00:00:00+07:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>vi-VN</language>
    <category>Met</category>
    <event>Lũ</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <expires>{expires}</expires>
    <headline>Cảnh báo lũ sông Tích</headline>
    <description>Nước sông Tích đang lên.</description>
    <instruction>Bà con tránh xa bờ sông.</instruction>
    <area><areaDesc>Liên Quan</areaDesc><geocode><valueName>loaxa</valueName><value>LQ</value></geocode></area>
  </info>
</alert>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_runs_the_administration_pages_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    seed(&data, &["LQ", "BY"]).unwrap();
    {
        let clock = schedules::SystemClock;
        let state = web::state::AppState::open(&data, Arc::new(clock)).unwrap();
        let now = clock.now();
        web::admin::add_user(
            &state.db,
            "test",
            "admin",
            PW,
            web::db::users::Role::Admin,
            "TT",
            now,
        )
        .unwrap();
        for i in 0..EXTRA_AREAS {
            let code = format!("TH-{i:02}");
            web::admin::add_area(&state.db, "test", &code, "Thôn", Some("BY"), now).unwrap();
        }
    }
    let server = Server::start(&data).await.unwrap();
    let base = server.url.clone();
    let expires = (schedules::SystemClock.now() + chrono::Duration::days(1)).to_rfc3339();
    let cap_file = dir.path().join("canh-bao.xml");
    std::fs::write(&cap_file, cap_alert(&expires)).unwrap();

    let driver = start_driver().await;
    let c = browser(&driver, &dir.path().join("chromium")).await;
    let scenario = async {
        // 1. Areas: a bad code is refused next to the field; a good one joins the tree.
        login(&c, &base, "/admin/areas", "admin", PW).await;
        wait_text(&c, "#a-parent", "Huyện Thạch Thất").await;
        fill(&c, "#a-code", "xã mới!").await;
        fill(&c, "#a-name", "Xã Tiến Xuân").await;
        click(&c, "#area-form button[type=submit]").await;
        wait_text(&c, "#a-code-error", "code").await;
        assert_eq!(
            c.find(Locator::Css("#a-code"))
                .await
                .unwrap()
                .attr("aria-invalid")
                .await
                .unwrap()
                .as_deref(),
            Some("true")
        );
        shot(&c, "20-areas-error").await;
        fill(&c, "#a-code", "TX").await;
        click(&c, "#area-form button[type=submit]").await;
        wait_text(&c, "#a-status", "Xã Tiến Xuân").await;
        wait_text(&c, "#area-table tr[data-area=TX]", "TT").await;
        assert!(is_hidden(&c, "#a-code-error").await);
        // Rename it and move it under Bình Yên; an empty name is refused next to the field.
        click(&c, "button[data-edit=TX]").await;
        wait_hidden(&c, "#area-edit", false).await;
        fill(&c, "#ae-name", " ").await;
        click(&c, "#area-edit button[type=submit]").await;
        wait_hidden(&c, "#ae-name-error", false).await;
        fill(&c, "#ae-name", "Xã Tiến Xuân (mới)").await;
        c.find(Locator::Css("#ae-parent"))
            .await
            .unwrap()
            .select_by_value("BY")
            .await
            .unwrap();
        shot(&c, "21-areas-edit").await;
        click(&c, "#area-edit button[type=submit]").await;
        wait_text(&c, "#area-table tr[data-area=TX]", "Xã Tiến Xuân (mới)").await;
        wait_text(&c, "#area-table tr[data-area=TX]", "BY").await;
        assert!(is_hidden(&c, "#area-edit").await);
        shot(&c, "21-areas").await;

        // 2. Stations: the token is shown once, then rotated after a confirmation.
        c.goto(&format!("{base}/admin/stations")).await.unwrap();
        wait_text(&c, "#station-table tbody", "LQ").await;
        wait_text(&c, "#st-area", "Xã Tiến Xuân (mới)").await;
        fill(&c, "#st-code", "TX").await;
        fill(&c, "#st-name", "Đài Tiến Xuân").await;
        c.find(Locator::Css("#st-area"))
            .await
            .unwrap()
            .select_by_value("TX")
            .await
            .unwrap();
        click(&c, "#station-form button[type=submit]").await;
        wait_text(&c, "#token-head", "TX").await;
        let first = value_of(&c, "#token-value").await;
        assert!(first.len() >= 32, "{first:?}");
        assert_eq!(device_status(&server, &first).await, 200);
        wait_text(&c, "#station-table tbody", "Đài Tiến Xuân").await;
        shot(&c, "22-stations-token").await;
        // Shown once: a reload does not have it.
        c.refresh().await.unwrap();
        wait_text(&c, "#station-table tbody", "Đài Tiến Xuân").await;
        assert!(is_hidden(&c, "#token-box").await);
        assert!(!c.source().await.unwrap().contains(&first));
        // The same code twice: refused next to the code field.
        fill(&c, "#st-code", "TX").await;
        fill(&c, "#st-name", "Đài trùng").await;
        click(&c, "#station-form button[type=submit]").await;
        wait_text(&c, "#st-code-error", "TX").await;
        // Rotate: ask, say no (nothing changes), ask again, say yes.
        click(&c, "button[data-rotate=TX]").await;
        wait_text(&c, "#rotate-q", "TX").await;
        shot(&c, "23-stations-rotate-confirm").await;
        click(&c, "#rotate-no").await;
        wait_hidden(&c, "#rotate-confirm", true).await;
        assert_eq!(device_status(&server, &first).await, 200);
        click(&c, "button[data-rotate=TX]").await;
        click(&c, "#rotate-yes").await;
        wait_text(&c, "#token-head", "TX").await;
        let second = value_of(&c, "#token-value").await;
        assert!(second.len() >= 32 && second != first, "{second:?}");
        assert_eq!(device_status(&server, &first).await, 401, "old token");
        assert_eq!(device_status(&server, &second).await, 200, "new token");
        click(&c, "#token-hide").await;
        wait_hidden(&c, "#token-box", true).await;
        assert_eq!(value_of(&c, "#token-value").await, "");

        // 3. Users: a short password is refused next to its field; the new user can sign in.
        c.goto(&format!("{base}/admin/users")).await.unwrap();
        wait_text(&c, "#user-table tbody", "admin").await;
        wait_text(&c, "#us-area", "Xã Tiến Xuân").await;
        fill(&c, "#us-username", "vien.tx").await;
        fill(&c, "#us-password", "ngắn").await;
        c.find(Locator::Css("#us-role"))
            .await
            .unwrap()
            .select_by_value("operator")
            .await
            .unwrap();
        c.find(Locator::Css("#us-area"))
            .await
            .unwrap()
            .select_by_value("TX")
            .await
            .unwrap();
        click(&c, "#user-form button[type=submit]").await;
        wait_text(&c, "#us-password-error", "8").await;
        shot(&c, "24-users-error").await;
        fill(&c, "#us-password", "mật khẩu của viên").await;
        click(&c, "#user-form button[type=submit]").await;
        wait_text(&c, "#us-status", "vien.tx").await;
        wait_text(&c, "#user-table tr[data-user='vien.tx']", "TX").await;
        shot(&c, "25-users").await;
        let vien = tests::e2e::Api::login(&server, "vien.tx", "mật khẩu của viên")
            .await
            .unwrap();
        let seen = vien.get("/stations").await.unwrap();
        assert_eq!(seen.as_array().unwrap().len(), 1, "{seen}");
        // A new password, set by the admin: the old one and the old token stop working.
        click(&c, "button[data-reset='vien.tx']").await;
        wait_hidden(&c, "#pw-reset", false).await;
        fill(&c, "#pr-password", "ngắn").await;
        click(&c, "#pw-reset button[type=submit]").await;
        wait_text(&c, "#pr-password-error", "8").await;
        fill(&c, "#pr-password", "mật khẩu mới của viên").await;
        click(&c, "#pw-reset button[type=submit]").await;
        wait_text(&c, "#us-status", "Đã đặt mật khẩu mới cho vien.tx").await;
        assert!(
            vien.get("/stations").await.is_err(),
            "old token still works"
        );
        assert!(
            tests::e2e::Api::login(&server, "vien.tx", "mật khẩu của viên")
                .await
                .is_err(),
            "old password still works"
        );
        let vien = tests::e2e::Api::login(&server, "vien.tx", "mật khẩu mới của viên")
            .await
            .unwrap();
        // Disabled after a confirmation: signed out at once, no sign-in.
        click(&c, "button[data-toggle='vien.tx']").await;
        c.accept_alert().await.unwrap();
        wait_text(&c, "#user-table tr[data-user='vien.tx']", "Đã khoá").await;
        assert!(
            vien.get("/stations").await.is_err(),
            "a disabled user's token works"
        );
        assert!(
            tests::e2e::Api::login(&server, "vien.tx", "mật khẩu mới của viên")
                .await
                .is_err(),
            "a disabled user signs in"
        );
        shot(&c, "25-users-disabled").await;

        // 4. Audit: newest first, filtered by action and user, in pages of 50.
        c.goto(&format!("{base}/admin/audit")).await.unwrap();
        wait_text(&c, "#audit-table tbody", "user.create").await;
        assert_eq!(rows(&c, "#audit-table tbody tr").await, 50);
        // Newest first: the new user (created, then signed in) leads.
        let first_row = text_of(&c, "#audit-table tbody tr").await;
        assert!(first_row.contains("vien.tx"), "{first_row}");
        click(&c, "#au-next").await;
        wait_text(&c, "#au-page", "2").await;
        wait_text(&c, "#audit-table tbody", "area.create").await;
        shot(&c, "26-audit-page-2").await;
        c.find(Locator::Css("#au-action"))
            .await
            .unwrap()
            .select_by_value("station")
            .await
            .unwrap();
        click(&c, "#audit-filter button[type=submit]").await;
        wait_text(&c, "#au-page", "1").await;
        wait_text(&c, "#audit-table tbody", "station.rotate_token").await;
        let actions: Vec<String> = {
            let mut out = Vec::new();
            for e in c
                .find_all(Locator::Css("#audit-table td.action"))
                .await
                .unwrap()
            {
                out.push(e.text().await.unwrap());
            }
            out
        };
        assert!(
            !actions.is_empty() && actions.iter().all(|a| a.starts_with("station.")),
            "{actions:?}"
        );
        fill(&c, "#au-user", "nobody").await;
        click(&c, "#audit-filter button[type=submit]").await;
        wait_text(&c, "#audit-table tbody", "Chưa có gì").await;
        shot(&c, "27-audit-filtered").await;

        // 5. Urgent: a text notice, confirmed, spoken by the server; cancelled from its
        // board, after which there is nothing left to cancel.
        c.goto(&format!("{base}/urgent")).await.unwrap();
        click(&c, "input[name=sound][value=text]").await;
        wait_hidden(&c, "#u-text-field", false).await;
        assert!(is_hidden(&c, "#u-media-field").await);
        fill(&c, "#u-title", "Thông báo cắt điện").await;
        click(&c, "#u-send").await;
        wait_text(&c, "#u-text-error", "").await;
        wait_hidden(&c, "#u-text-error", false).await;
        fill(&c, "#u-text", "Chiều nay cắt điện từ hai giờ đến bốn giờ.").await;
        click(&c, "#u-send").await;
        wait_text(&c, "#u-confirm-q", "3").await;
        shot(&c, "28-urgent-text-confirm").await;
        click(&c, "#u-confirm-yes").await;
        wait_text(&c, "#b-title", "Thông báo cắt điện").await;
        wait_text(&c, "#b-text", "cắt điện từ hai giờ").await;
        wait_text(&c, "#b-table tbody", "TX").await;
        wait_hidden(&c, "#b-cancel", false).await;
        shot(&c, "29-urgent-text-board").await;
        click(&c, "#b-cancel").await;
        c.accept_alert().await.unwrap();
        wait_text(&c, "#b-table tbody", "Đã huỷ").await;
        wait_hidden(&c, "#b-cancel", true).await;
        wait_hidden(&c, "#b-finished", false).await;
        shot(&c, "30-urgent-cancelled").await;

        // 6. Urgent: a CAP alert from a file, confirmed; its board shows the headline.
        c.goto(&format!("{base}/urgent")).await.unwrap();
        click(&c, "input[name=sound][value=cap]").await;
        wait_hidden(&c, "#u-cap-fields", false).await;
        assert!(is_hidden(&c, "#u-title").await);
        click(&c, "#u-send").await;
        wait_hidden(&c, "#u-cap-error", false).await;
        c.find(Locator::Css("#u-cap-file"))
            .await
            .unwrap()
            .send_keys(cap_file.to_str().unwrap())
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + WAIT;
        while !value_of(&c, "#u-cap").await.contains("KTTV-BROWSER-1") {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the file was not read"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        click(&c, "#u-send").await;
        wait_hidden(&c, "#u-confirm", false).await;
        shot(&c, "31-urgent-cap-confirm").await;
        click(&c, "#u-confirm-yes").await;
        wait_text(&c, "#b-title", "Cảnh báo lũ sông Tích").await;
        wait_text(&c, "#b-table tbody", "LQ").await;
        shot(&c, "32-urgent-cap-board").await;

        // 7. Reports: three charts drawn, CSV and XLSX for the chosen area.
        c.goto(&format!("{base}/reports")).await.unwrap();
        wait_text(&c, "#r-area", "Xã Tiến Xuân").await;
        c.find(Locator::Css("#r-area"))
            .await
            .unwrap()
            .select_by_value("LQ")
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let drawn = c
                .execute(
                    "return Array.from(document.querySelectorAll('[data-chart]')).map(i => i.complete && i.naturalWidth > 0 && i.src.indexOf('area=LQ') > 0);",
                    vec![],
                )
                .await
                .unwrap();
            if drawn == json!([true, true, true]) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "charts: {drawn}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        shot(&c, "33-reports-charts").await;
        let xlsx = href_of(&c, "#r-xlsx").await;
        assert!(xlsx.contains("area=LQ"), "{xlsx}");
        let got = fetch_text(&c, &xlsx).await;
        assert_eq!(got[0], 200, "{}", got[1]);
        assert!(
            got[1].as_str().unwrap().contains("spreadsheetml"),
            "{}",
            got[1]
        );
        let csv_href = href_of(&c, "#r-csv").await;
        assert!(csv_href.contains("area=LQ"), "{csv_href}");
        let csv = fetch_text(&c, &csv_href).await;
        assert_eq!(csv[0], 200, "{csv}");
        assert!(csv[1].as_str().unwrap().starts_with("text/csv"), "{csv}");

        // 8. A phone: every administration page at 390 px, in English.
        c.set_window_size(390, 844).await.unwrap();
        click(&c, "[data-lang-switch]").await;
        wait_text(&c, "h1", "Airtime reports").await;
        for (path, wait, name) in [
            ("/admin/areas", "#area-table tbody", "34-phone-areas"),
            (
                "/admin/stations",
                "#station-table tbody",
                "35-phone-stations",
            ),
            ("/admin/users", "#user-table tbody", "36-phone-users"),
            ("/admin/audit", "#audit-table tbody", "37-phone-audit"),
            ("/urgent", "#u-recent", "38-phone-urgent"),
            ("/reports", "#report-form", "39-phone-reports"),
        ] {
            c.goto(&format!("{base}{path}")).await.unwrap();
            wait_text(&c, wait, "").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            // Nothing wider than the screen but the tables' own scrolling boxes.
            let wide = c
                .execute("return document.documentElement.scrollWidth;", vec![])
                .await
                .unwrap();
            assert!(wide.as_u64().unwrap() <= 390, "{path} is {wide} px wide");
            shot(&c, name).await;
        }

        // 9. An operator: the 403 page on every administration page, no admin menu.
        click(&c, "form[action='/logout'] button").await;
        login(&c, &base, "/", "op", OP_PASSWORD).await;
        assert!(!c.source().await.unwrap().contains("/admin/"));
        for path in [
            "/admin/areas",
            "/admin/stations",
            "/admin/users",
            "/admin/audit",
        ] {
            c.goto(&format!("{base}{path}")).await.unwrap();
            wait_text(&c, "main", "You are not allowed").await;
        }
        shot(&c, "40-operator-forbidden").await;
        let alerted = c.get_alert_text().await;
        assert!(alerted.is_err(), "an alert opened: {alerted:?}");
    };
    let outcome = tokio::time::timeout(Duration::from_secs(150), scenario).await;
    let _ = c.close().await;
    drop(driver);
    server.stop().await.unwrap();
    outcome.expect("the browser scenario finished in time");
}
