use crate::helpers::{self, TestApp};
use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use chrono::{Duration, TimeZone, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

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
    // CONTRACT.md's columns first, new ones only after them.
    assert_eq!(
        lines[0],
        "station,station_name,category,scheduled,played,interrupted,skipped,failed,missed,aired_minutes,scheduled_minutes,compliance_pct,awaiting"
    );
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines.contains(&"BP,Đài Bình Phú,thông báo,1,0,0,0,0,1,0.0,0.0,,0"),
        "{text}"
    );
    assert!(
        lines.contains(&"LQ,Đài Liên Quan,thông báo,2,1,1,0,0,0,2.5,2.5,100.0,0"),
        "{text}"
    );
    assert!(
        lines.contains(&"LQ,Đài Liên Quan,\"cải cách, hành chính\",1,0,0,1,0,0,0.0,0.0,,0"),
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

// ---- reports: reconciliation, exports, charts, retention, authorization ----

const NOV: &str = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z";

async fn bytes(
    app: &TestApp,
    path: &str,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.unwrap().to_vec())
}

fn full(id: &str, cat: &str, status: &str, played_ms: u64, at: &str) -> Value {
    let mut e = entry(id, cat, status, played_ms, at);
    e["title"] = json!("Tin tức – Ủy ban nhân dân xã");
    e
}

#[tokio::test]
async fn logs_uploaded_twice_count_once() {
    let app = TestApp::spawn().await;
    let batch = json!({"entries": [
        entry("x@1", "thông báo", "played", 60_000, "2026-11-03T22:30:00Z"),
        entry("x@2", "thông báo", "failed", 0, "2026-11-04T22:30:00Z"),
    ]});
    for _ in 0..2 {
        let (s, ack) = app
            .post("/device/logs", &app.lq_device, batch.clone())
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(ack["accepted"].as_array().unwrap().len(), 2);
    }
    let t = app.token("admin_tt").await;
    let (s, r) = app.get(&format!("/reports/airtime?{NOV}"), &t).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["totals"]["scheduled"], 2);
    assert_eq!(r["totals"]["played"], 1);
    assert_eq!(r["totals"]["failed"], 1);
    assert_eq!(r["totals"]["aired_minutes"], 1.0);
    app.stop().await;
}

#[tokio::test]
async fn an_offline_station_shows_missed_airtime_after_reconciliation_and_its_late_log_wins() {
    let app = TestApp::spawn().await;
    let op = app.token("op_lq").await;
    let m = app.upload_tone(&op, 440.0, 1500).await;
    // 06:00 in Hà Nội = 23:00Z, daily, from t0 (2026-11-29T17:00Z) on.
    let sid = app.schedule(&op, &m, &["LQ"], "0 6 * * *").await;
    let admin = app.token("admin_tt").await;

    // Nothing is due yet: reconciling records nothing.
    let (s, o) = app.post("/reports/reconcile", &admin, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["missed"], 0);

    // Three days later the station has never reported: its three mornings are missed
    // (the fourth, at 23:00Z today, is not due yet).
    app.clock.advance(Duration::days(3) + Duration::hours(3));
    let (_, o) = app.post("/reports/reconcile", &admin, json!({})).await;
    assert_eq!(o["missed"], 3, "{o}");
    // Running it again records nothing more.
    let (_, o) = app.post("/reports/reconcile", &admin, json!({})).await;
    assert_eq!(o["missed"], 0, "{o}");

    let (_, rows) = app.get("/logs?status=missed&station=LQ", &admin).await;
    let rows = rows.as_array().unwrap().clone();
    assert_eq!(rows.len(), 3);
    let first = Utc.with_ymd_and_hms(2026, 11, 29, 23, 0, 0).unwrap();
    assert_eq!(rows[0]["id"], schedules::occurrence_key(&sid, first));
    assert_eq!(rows[0]["source"], "server");
    assert_eq!(rows[0]["title"], "Bản tin");

    let (_, r) = app
        .get(
            "/reports/airtime?from=2026-11-29T00:00:00Z&to=2026-12-03T00:00:00Z",
            &admin,
        )
        .await;
    assert_eq!(r["totals"]["missed"], 3);
    assert_eq!(r["totals"]["scheduled"], 3);
    assert_eq!(r["totals"]["compliance_pct"], 0.0);
    assert_eq!(r["totals"]["scheduled_minutes"], 3.0 * 1500.0 / 60_000.0);

    // The controller comes back and uploads what it really did for the first morning:
    // its entry replaces the server's, and the occurrence still counts once.
    let key = schedules::occurrence_key(&sid, first);
    let real = json!({"entries": [{"id": key, "schedule_id": sid, "title": "Bản tin",
        "priority": "normal", "scheduled_at": "2026-11-29T23:00:00Z", "played_ms": 1500,
        "status": "played", "media_sha256": m}]});
    let (s, ack) = app.post("/device/logs", &app.lq_device, real.clone()).await;
    assert_eq!(s, StatusCode::OK, "{ack}");
    assert_eq!(ack["accepted"][0], key.as_str());
    let (_, r) = app
        .get(
            "/reports/airtime?from=2026-11-29T00:00:00Z&to=2026-12-03T00:00:00Z",
            &admin,
        )
        .await;
    assert_eq!(r["totals"]["scheduled"], 3);
    assert_eq!(r["totals"]["played"], 1);
    assert_eq!(r["totals"]["missed"], 2);
    let pct = r["totals"]["compliance_pct"].as_f64().unwrap();
    assert!((pct - 100.0 / 3.0).abs() < 1e-9, "{pct}");
    let (_, rows) = app.get("/logs?station=LQ&status=played", &admin).await;
    assert_eq!(rows[0]["source"], "device");
    // A device entry is never replaced by a later upload of the same id.
    let mut again = real.clone();
    again["entries"][0]["status"] = json!("failed");
    app.post("/device/logs", &app.lq_device, again).await;
    let (_, rows) = app.get("/logs?station=LQ&status=played", &admin).await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
    // BP had nothing scheduled: nothing missed there.
    let (_, rows) = app.get("/logs?station=BP", &admin).await;
    assert!(rows.as_array().unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn csv_and_xlsx_figures_equal_what_the_logs_say_with_vietnamese_text_intact() {
    let app = TestApp::spawn().await;
    app.post(
        "/device/logs",
        &app.lq_device,
        json!({"entries": [
            full("a@1", "thông tin tuyên truyền", "played", 90_000, "2026-11-01T22:30:00Z"),
            full("a@2", "thông tin tuyên truyền", "interrupted", 30_000, "2026-11-02T22:30:00Z"),
            full("a@3", "phòng chống thiên tai", "played", 45_000, "2026-11-02T10:00:00Z"),
            full("a@4", "phòng chống thiên tai", "skipped", 0, "2026-11-30T16:59:00Z"),
        ]}),
    )
    .await;
    app.post(
        "/device/logs",
        &app.bp_device,
        json!({"entries": [
            full("b@1", "thông tin tuyên truyền", "missed", 0, "2026-11-01T22:30:00Z"),
        ]}),
    )
    .await;
    let t = app.token("admin_tt").await;
    let (_, json) = app.get(&format!("/reports/airtime?{NOV}"), &t).await;
    assert_eq!(json["totals"]["scheduled"], 5);
    assert_eq!(json["totals"]["aired_minutes"], 2.75);
    // Days are the stations' local dates: 2026-11-01T22:30Z is 2 November in Hà Nội.
    let days: Vec<_> = json["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(days, ["2026-11-02", "2026-11-03", "2026-11-30"]);

    // CSV: the same figures, row by row.
    let (s, _, csv) = bytes(&app, &format!("/reports/airtime.csv?{NOV}"), &t).await;
    assert_eq!(s, StatusCode::OK);
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("station,station_name,category,scheduled,played,interrupted,skipped,failed,missed,aired_minutes,"));
    assert!(
        lines.contains(&"LQ,Đài Liên Quan,thông tin tuyên truyền,2,1,1,0,0,0,2.0,2.0,100.0,0"),
        "{text}"
    );
    assert!(
        lines.contains(&"LQ,Đài Liên Quan,phòng chống thiên tai,2,1,0,1,0,0,0.8,0.8,100.0,0"),
        "{text}"
    );
    assert!(
        lines.contains(&"BP,Đài Bình Phú,thông tin tuyên truyền,1,0,0,0,0,1,0.0,0.0,,0"),
        "{text}"
    );

    // XLSX: read it back and compare with the JSON figures.
    let (s, h, xlsx) = bytes(&app, &format!("/reports/airtime.xlsx?{NOV}"), &t).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .contains("spreadsheetml"));
    let mut wb: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(xlsx.clone())).unwrap();
    assert_eq!(wb.sheet_names(), ["Station and category", "By day"]);
    let sheet = wb.worksheet_range("Station and category").unwrap();
    let cells: Vec<Vec<Data>> = sheet.rows().map(|r| r.to_vec()).collect();
    let s = |d: &Data| d.to_string();
    assert_eq!(s(&cells[0][0]), "station");
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(cells.len(), rows.len() + 2, "header, rows, total");
    for (i, r) in rows.iter().enumerate() {
        let c = &cells[i + 1];
        assert_eq!(s(&c[0]), r["station"].as_str().unwrap());
        assert_eq!(s(&c[1]), r["station_name"].as_str().unwrap());
        assert_eq!(s(&c[2]), r["category"].as_str().unwrap());
        for (j, k) in [
            "scheduled",
            "played",
            "interrupted",
            "skipped",
            "failed",
            "missed",
        ]
        .iter()
        .enumerate()
        {
            assert_eq!(
                c[3 + j],
                Data::Float(r[k].as_f64().unwrap()),
                "{k} of row {i}"
            );
        }
        let aired = (r["aired_minutes"].as_f64().unwrap() * 10.0).round() / 10.0;
        assert_eq!(c[9], Data::Float(aired));
    }
    assert!(cells.iter().any(|c| s(&c[1]) == "Đài Bình Phú"));
    assert!(cells.iter().any(|c| s(&c[2]) == "phòng chống thiên tai"));
    let total = cells.last().unwrap();
    assert_eq!(s(&total[0]), "total");
    assert_eq!(total[3], Data::Float(5.0));
    let days = wb.worksheet_range("By day").unwrap();
    let day_rows: Vec<Vec<Data>> = days.rows().map(|r| r.to_vec()).collect();
    assert_eq!(s(&day_rows[1][0]), "2026-11-02");
    assert_eq!(
        day_rows[1][1],
        Data::Float(json["days"][0]["scheduled"].as_f64().unwrap())
    );

    // LibreOffice opens both: the XLSX's first sheet and the CSV (read as UTF-8, what its
    // import dialog picks for a file with a BOM) give the same table with the text intact.
    let work = tempfile::tempdir().unwrap();
    let (from_xlsx, from_csv) = tokio::task::spawn_blocking({
        let dir = work.path().to_path_buf();
        move || {
            std::fs::write(dir.join("report.xlsx"), &xlsx).unwrap();
            std::fs::write(dir.join("report.csv"), &csv).unwrap();
            (
                libreoffice_csv(&dir, "report.xlsx"),
                libreoffice_csv(&dir, "report.csv"),
            )
        }
    })
    .await
    .unwrap();
    assert!(
        from_xlsx.contains("LQ,Đài Liên Quan,thông tin tuyên truyền,2,1,1,0,0,0,2"),
        "{from_xlsx}"
    );
    assert!(from_xlsx.contains("Đài Bình Phú"), "{from_xlsx}");
    assert!(
        from_csv.contains("LQ,Đài Liên Quan,thông tin tuyên truyền,2,1,1,0,0,0,2"),
        "{from_csv}"
    );
    assert!(from_csv.starts_with("station,station_name,"), "{from_csv}");
    app.stop().await;
}

/// Open `name` in `dir` with headless LibreOffice and save it as UTF-8 CSV (its first sheet);
/// answers that CSV.
fn libreoffice_csv(dir: &std::path::Path, name: &str) -> String {
    let out = dir.join(format!("lo-{name}"));
    let profile = format!("file://{}", dir.join("lo-profile").display());
    let mut soffice = std::process::Command::new("soffice");
    soffice
        .arg(format!("-env:UserInstallation={profile}"))
        .args(["--headless", "--norestore"]);
    if name.ends_with(".csv") {
        soffice.arg("--infilter=CSV:44,34,76");
    }
    let status = soffice
        .args(["--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76"])
        .arg("--outdir")
        .arg(&out)
        .arg(dir.join(name))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("LibreOffice (soffice) is installed: make test installs libreoffice-calc-nogui");
    assert!(status.success(), "soffice converts {name}");
    let stem = name.rsplit_once('.').unwrap().0;
    std::fs::read_to_string(out.join(format!("{stem}.csv"))).unwrap()
}

#[tokio::test]
async fn a_month_report_over_fifty_thousand_generated_entries_adds_up() {
    let app = TestApp::spawn().await;
    // Generate straight into the server's database.
    let statuses = [
        "played",
        "played",
        "played",
        "interrupted",
        "skipped",
        "failed",
        "missed",
    ];
    let cats = ["thông báo", "cải cách hành chính", "tiếp sóng"];
    let base = Utc.with_ymd_and_hms(2026, 10, 31, 17, 0, 0).unwrap();
    let hanoi: chrono_tz::Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
    let (played_ms, played) = app
        .state
        .db
        .call_blocking(move |conn| {
            let (mut played_ms, mut played) = (0i64, 0i64);
            let tx = conn.transaction()?;
            let mut st = tx.prepare("INSERT INTO logs (station, id, title, category, priority, scheduled_at, played_ms, planned_ms, status, received_at, local_date) VALUES (?1, ?2, 'Bản tin', ?3, 'normal', ?4, ?5, 60000, ?6, ?4, ?7)")?;
            for i in 0..50_000i64 {
                let station = if i % 2 == 0 { "LQ" } else { "BP" };
                let status = statuses[(i % 7) as usize];
                let ms = match status {
                    "played" => 60_000,
                    "interrupted" => 20_000,
                    _ => 0,
                };
                if status == "played" {
                    played += 1;
                }
                played_ms += ms;
                // Spread over 30 days (plus a few minutes): the month of November in Hà Nội.
                let at = base + Duration::seconds(i * 51);
                st.execute(web::db::sql::params![
                    station,
                    format!("g@{i}"),
                    cats[(i % 3) as usize],
                    web::db::ts(at),
                    ms,
                    status,
                    web::db::logs::local_date(at, hanoi)
                ])?;
            }
            drop(st);
            tx.commit()?;
            Ok((played_ms, played))
        })
        .unwrap();
    let t = app.token("admin_tt").await;
    let (s, r) = app
        .get(
            "/reports/airtime?from=2026-10-31T17:00:00Z&to=2026-11-30T17:00:00Z",
            &t,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["totals"]["scheduled"], 50_000);
    assert_eq!(r["totals"]["played"], played);
    assert_eq!(r["totals"]["aired_minutes"], played_ms as f64 / 60_000.0);
    assert_eq!(r["days"].as_array().unwrap().len(), 30);
    assert_eq!(r["rows"].as_array().unwrap().len(), 6);
    let day_sum: i64 = r["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["scheduled"].as_i64().unwrap())
        .sum();
    assert_eq!(day_sum, 50_000);
    // The log pages through it with a total count.
    let res = app
        .client
        .get(app.url("/logs?station=BP&limit=1000&offset=24000"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-total-count"], "25000");
    assert_eq!(
        res.json::<Value>().await.unwrap().as_array().unwrap().len(),
        1000
    );
    let (s, _) = app.get("/logs?limit=1001", &t).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

#[tokio::test]
async fn a_viewer_reads_reports_of_their_own_area_only() {
    let app = TestApp::spawn().await;
    app.post(
        "/device/logs",
        &app.lq_device,
        json!({"entries": [entry("a@1", "x", "played", 60_000, "2026-11-01T22:30:00Z")]}),
    )
    .await;
    app.post(
        "/device/logs",
        &app.bp_device,
        json!({"entries": [entry("b@1", "x", "played", 60_000, "2026-11-01T22:30:00Z")]}),
    )
    .await;
    let v = app.token("viewer_lq").await;
    let (s, r) = app.get(&format!("/reports/airtime?{NOV}"), &v).await;
    assert_eq!(s, StatusCode::OK);
    let stations: Vec<_> = r["stations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["station"].clone())
        .collect();
    assert_eq!(stations, [json!("LQ")]);
    for path in [
        "/reports/airtime?area=BP",
        "/reports/airtime.csv?area=TT",
        "/reports/airtime.xlsx?area=BP",
        "/reports/charts/aired-by-station.svg?area=BP",
    ] {
        let (s, _, _) = bytes(&app, path, &v).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    let (s, _) = app.get("/reports/airtime?area=NOPE", &v).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.post("/reports/reconcile", &v, json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let op = app.token("op_lq").await;
    let (s, _) = app.post("/reports/reconcile", &op, json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = app
        .get(
            "/reports/airtime?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z",
            &v,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (s, _) = app.get("/reports/airtime?from=yesterday", &v).await;
    assert!(s.is_client_error());
    let res = app
        .client
        .get(app.url("/reports/airtime"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn charts_are_labelled_accessible_svg_with_escaped_text() {
    let app = TestApp::spawn().await;
    app.post(
        "/device/logs",
        &app.lq_device,
        json!({"entries": [
            entry("a@1", "an <b> & \"c\"", "played", 60_000, "2026-11-01T22:30:00Z"),
            entry("a@2", "thông báo", "interrupted", 30_000, "2026-11-02T22:30:00Z"),
        ]}),
    )
    .await;
    let t = app.token("admin_tt").await;
    for name in ["aired-by-station", "compliance-by-day", "share-by-category"] {
        let (s, h, body) = bytes(&app, &format!("/reports/charts/{name}.svg?{NOV}"), &t).await;
        assert_eq!(s, StatusCode::OK, "{name}");
        assert!(h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/svg+xml"));
        let svg = String::from_utf8(body).unwrap();
        assert!(
            svg.contains("<title id=\"t\">") && svg.contains("<desc id=\"d\">"),
            "{svg}"
        );
        assert!(svg.contains("role=\"img\""));
        assert!(!svg.contains("<b>"), "{svg}");
        // Well-formed XML.
        roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{name}: {e}\n{svg}"));
    }
    let (_, _, body) = bytes(
        &app,
        &format!("/reports/charts/aired-by-station.svg?{NOV}"),
        &t,
    )
    .await;
    assert!(String::from_utf8(body).unwrap().contains("Đài Liên Quan"));
    let (_, _, body) = bytes(
        &app,
        &format!("/reports/charts/share-by-category.svg?{NOV}"),
        &t,
    )
    .await;
    assert!(String::from_utf8(body)
        .unwrap()
        .contains("an &lt;b&gt; &amp; &quot;c&quot;"));
    let (s, _, _) = bytes(&app, "/reports/charts/pie.svg", &t).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Vietnamese by default; the pages' language cookie picks English.
    let (_, _, body) = bytes(
        &app,
        &format!("/reports/charts/compliance-by-day.svg?{NOV}"),
        &t,
    )
    .await;
    assert!(String::from_utf8(body)
        .unwrap()
        .contains("Tỷ lệ phát đủ theo ngày"));
    let english = app
        .client
        .get(app.url(&format!("/reports/charts/compliance-by-day.svg?{NOV}")))
        .bearer_auth(&t)
        .header("cookie", "lang=en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        english.contains("<title id=\"t\">Compliance by day</title>"),
        "{english}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_report_reaching_before_pruned_logs_says_it_is_incomplete() {
    let app = TestApp::spawn().await;
    app.post(
        "/device/logs",
        &app.lq_device,
        json!({"entries": [
            entry("old@1", "x", "played", 60_000, "2026-10-01T22:30:00Z"),
            entry("new@1", "x", "played", 60_000, "2026-11-20T22:30:00Z"),
        ]}),
    )
    .await;
    // t0 is 2026-11-29T17:00Z; keep 30 days: entries before 2026-10-30T17:00Z go.
    let n = app
        .state
        .db
        .call_blocking(|conn| {
            Ok(web::reports::retention::prune(
                conn,
                Duration::days(30),
                helpers::t0(),
            )?)
        })
        .unwrap();
    assert_eq!(n, 1);
    let t = app.token("admin_tt").await;
    let (_, r) = app
        .get(
            "/reports/airtime?from=2026-10-01T00:00:00Z&to=2026-12-01T00:00:00Z",
            &t,
        )
        .await;
    assert_eq!(r["incomplete_before"], "2026-10-30T17:00:00Z");
    assert!(r["warning"].as_str().unwrap().contains("incomplete"));
    assert_eq!(r["totals"]["scheduled"], 1);
    let (_, h, csv) = bytes(&app, "/reports/airtime.csv?from=2026-10-01T00:00:00Z", &t).await;
    assert_eq!(h["x-report-incomplete-before"], "2026-10-30T17:00:00.000Z");
    let text = String::from_utf8(csv).unwrap();
    assert!(
        text.lines().last().unwrap().starts_with("# incomplete"),
        "{text}"
    );
    // A period after the pruned instant is complete.
    let (_, r) = app
        .get("/reports/airtime?from=2026-11-01T00:00:00Z", &t)
        .await;
    assert_eq!(r["incomplete_before"], Value::Null);
    app.stop().await;
}

// ---- every station in every report; awaiting; hostile input ----

/// The report's by-station row of `code`.
fn station_row<'a>(r: &'a Value, code: &str) -> &'a Value {
    r["stations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["station"] == code)
        .unwrap_or_else(|| panic!("{code} in {r}"))
}

#[tokio::test]
async fn an_offline_station_with_two_bulletins_due_awaits_them_at_once_and_misses_them_after_the_grace(
) {
    let app = TestApp::spawn().await;
    let op = app.token("op_lq").await;
    let m = app.upload_tone(&op, 440.0, 1500).await;
    // 06:00 and 12:00 in Hà Nội = 23:00Z and 05:00Z; LQ's controller never connects.
    app.schedule(&op, &m, &["LQ"], "0 6,12 * * *").await;
    let admin = app.token("admin_tt").await;
    let period = "from=2026-11-29T00:00:00Z&to=2026-12-01T00:00:00Z";

    // 06:00Z on 30 November: both are due, neither is older than the 2-hour grace... the
    // first is, but nobody has reconciled yet. Both await their log, and the station is in
    // every report at once.
    app.clock.advance(Duration::hours(13));
    let (s, r) = app.get(&format!("/reports/airtime?{period}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let lq = station_row(&r, "LQ");
    assert_eq!(lq["awaiting"], 2, "{r}");
    assert_eq!(lq["scheduled"], 2);
    assert_eq!(lq["missed"], 0);
    assert_eq!(lq["aired_minutes"], 0.0);
    assert_eq!(lq["scheduled_minutes"], 2.0 * 1500.0 / 60_000.0);
    assert_eq!(lq["compliance_pct"], 0.0);
    assert_eq!(lq["awaiting_since"], "2026-11-29T23:00:00Z");
    assert_eq!(r["totals"]["awaiting"], 2);
    // BP has nothing scheduled and nothing logged: it is there, with zeros.
    let bp = station_row(&r, "BP");
    assert_eq!(bp["scheduled"], 0);
    assert_eq!(bp["awaiting"], 0);
    assert!(bp["compliance_pct"].is_null());
    assert!(bp.get("awaiting_since").is_none());

    let (_, _, csv) = bytes(&app, &format!("/reports/airtime.csv?{period}"), &admin).await;
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].ends_with(",compliance_pct,awaiting"), "{text}");
    assert!(
        lines.contains(&"LQ,Đài Liên Quan,,2,0,0,0,0,0,0.0,0.1,0.0,2"),
        "{text}"
    );
    assert!(
        lines.contains(&"BP,Đài Bình Phú,,0,0,0,0,0,0,0.0,0.0,,0"),
        "{text}"
    );
    let (_, _, xlsx) = bytes(&app, &format!("/reports/airtime.xlsx?{period}"), &admin).await;
    let mut wb: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let sheet = wb.worksheet_range("Station and category").unwrap();
    let cells: Vec<Vec<Data>> = sheet.rows().map(|r| r.to_vec()).collect();
    assert_eq!(cells[0][12], Data::String("awaiting".into()));
    let row = |code: &str| {
        cells
            .iter()
            .find(|c| c[0] == Data::String(code.into()))
            .unwrap_or_else(|| panic!("{code} in the workbook"))
            .clone()
    };
    assert_eq!(row("LQ")[12], Data::Float(2.0));
    assert_eq!(row("BP")[3], Data::Float(0.0));
    let (_, _, svg) = bytes(
        &app,
        &format!("/reports/charts/aired-by-station.svg?{period}"),
        &admin,
    )
    .await;
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.contains("Đài Liên Quan") && svg.contains("Đài Bình Phú"));

    // Reconciliation keeps its grace: at 06:00Z only the 23:00Z bulletin is judged.
    let (_, o) = app.post("/reports/reconcile", &admin, json!({})).await;
    assert_eq!(o["missed"], 1, "{o}");
    let (_, r) = app.get(&format!("/reports/airtime?{period}"), &admin).await;
    let lq = station_row(&r, "LQ");
    assert_eq!(
        (lq["missed"].as_i64(), lq["awaiting"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(lq["awaiting_since"], "2026-11-30T05:00:00Z");
    // After the grace both are missed, nothing awaits, the airtime due is the same.
    app.clock.advance(Duration::hours(3));
    let (_, o) = app.post("/reports/reconcile", &admin, json!({})).await;
    assert_eq!(o["missed"], 1, "{o}");
    let (_, r) = app.get(&format!("/reports/airtime?{period}"), &admin).await;
    let lq = station_row(&r, "LQ");
    assert_eq!(lq["missed"], 2, "{r}");
    assert_eq!(lq["awaiting"], 0);
    assert_eq!(lq["scheduled"], 2);
    assert_eq!(lq["scheduled_minutes"], 2.0 * 1500.0 / 60_000.0);
    assert!(lq.get("awaiting_since").is_none());
    app.stop().await;
}

#[tokio::test]
async fn text_that_would_run_as_a_spreadsheet_formula_is_inert_in_csv_and_xlsx() {
    let app = TestApp::spawn().await;
    let hostile = [
        "=HYPERLINK(\"http://x\",\"y\")",
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1)",
        "\tTAB",
    ];
    let entries: Vec<Value> = hostile
        .iter()
        .enumerate()
        .map(|(i, cat)| {
            entry(
                &format!("f@{i}"),
                cat,
                "played",
                1_000,
                "2026-11-03T22:30:00Z",
            )
        })
        .collect();
    let (s, ack) = app
        .post(
            "/device/logs",
            &app.lq_device,
            json!({ "entries": entries }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{ack}");
    let t = app.token("admin_tt").await;

    let (_, _, csv) = bytes(&app, &format!("/reports/airtime.csv?{NOV}"), &t).await;
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let cats: Vec<String> = csv_records(&text)
        .into_iter()
        .skip(1)
        .map(|r| r[2].clone())
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(cats.len(), hostile.len(), "{text}");
    for c in &cats {
        assert!(c.starts_with('\''), "{c:?} is inert in {text}");
        assert!(hostile.contains(&&c[1..]), "{c:?}");
    }

    let (_, _, xlsx) = bytes(&app, &format!("/reports/airtime.xlsx?{NOV}"), &t).await;
    let mut wb: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let sheet = wb.worksheet_range("Station and category").unwrap();
    let cats: Vec<String> = sheet
        .rows()
        .skip(1)
        .filter(|r| r[0] == Data::String("LQ".into()))
        .map(|r| r[2].to_string())
        .collect();
    assert_eq!(cats.len(), hostile.len());
    for c in &cats {
        assert!(c.starts_with('\''), "{c:?} is inert in the workbook");
    }
    app.stop().await;
}

#[tokio::test]
async fn absurd_played_ms_from_a_device_is_clamped_and_the_report_still_answers() {
    let app = TestApp::spawn().await;
    let entries: Vec<Value> = (0..4)
        .map(|i| {
            let ms = if i == 3 {
                u64::MAX
            } else {
                i64::MAX as u64 - i
            };
            entry(
                &format!("x@{i}"),
                "thông báo",
                "played",
                ms,
                "2026-11-03T22:30:00Z",
            )
        })
        .collect();
    let (s, ack) = app
        .post(
            "/device/logs",
            &app.lq_device,
            json!({ "entries": entries }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{ack}");
    let t = app.token("admin_tt").await;
    // Whole days (the daily rollup) and a partial day (the entries themselves) alike.
    for period in [NOV, "from=2026-11-03T22:00:00Z&to=2026-11-03T23:00:00Z"] {
        let (s, r) = app.get(&format!("/reports/airtime?{period}"), &t).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["totals"]["played"], 4);
        // Each stored at the ceiling of one occurrence, a day.
        assert_eq!(r["totals"]["aired_minutes"], 4.0 * 24.0 * 60.0, "{r}");
        for path in [
            "/reports/airtime.csv",
            "/reports/airtime.xlsx",
            "/reports/charts/aired-by-station.svg",
            "/reports/charts/compliance-by-day.svg",
            "/reports/charts/share-by-category.svg",
        ] {
            let (s, _, body) = bytes(&app, &format!("{path}?{period}"), &t).await;
            assert_eq!(
                s,
                StatusCode::OK,
                "{path}: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    let (_, rows) = app.get("/logs?station=LQ", &t).await;
    assert!(rows
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["played_ms"].as_i64() == Some(86_400_000)));
    app.stop().await;
}

#[tokio::test]
async fn extreme_report_periods_are_refused_with_a_clear_4xx_never_a_500() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let refused = [
        "from=0001-01-01T00:00:00Z",
        "to=0001-01-01T00:00:00Z",
        "from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z",
        "from=-0001-01-01T00:00:00Z",
        "to=%2B10000-01-01T00:00:00Z",
        "to=%2B262143-12-31T23:59:59Z",
        "to=%2B999999-01-01T00:00:00Z",
        "from=99999999999-01-01T00:00:00Z",
        "from=1969-12-31T23:59:59Z",
    ];
    let accepted = [
        "from=1970-01-01T00:00:00Z&to=9999-12-31T23:59:59Z",
        "from=9999-12-31T00:00:00Z",
        "to=1970-01-02T00:00:00Z",
    ];
    for path in [
        "/reports/airtime",
        "/reports/airtime.csv",
        "/reports/airtime.xlsx",
        "/reports/charts/compliance-by-day.svg",
    ] {
        for q in refused {
            let (s, _, body) = bytes(&app, &format!("{path}?{q}"), &t).await;
            let body = String::from_utf8_lossy(&body);
            assert!(s.is_client_error(), "{path}?{q}: {s} {body}");
            assert!(body.contains("\"error\""), "{path}?{q}: {body}");
        }
        for q in accepted {
            let (s, _, body) = bytes(&app, &format!("{path}?{q}"), &t).await;
            assert_eq!(
                s,
                StatusCode::OK,
                "{path}?{q}: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    app.stop().await;
}

/// RFC 4180 records (quoted fields with doubled quotes, CRLF lines).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let (mut out, mut rec, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => rec.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                rec.push(std::mem::take(&mut field));
                out.push(std::mem::take(&mut rec));
            }
            (false, c) => field.push(c),
        }
    }
    out
}
