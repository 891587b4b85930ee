//! A month's airtime report over about a million log rows: 300 stations × 30 days × 110
//! entries, generated straight into a fresh SQLite database (the server's schema and
//! indexes, through `Db::open`). Prints the median of 5 runs of each step and one
//! `BENCH|…` line per figure. Run: `cargo bench -p web --bench report`.

use chrono::{Duration, TimeZone, Utc};
use std::time::Instant;
use web::db::sql::params;
use web::db::{ts, Db};
use web::reports::{csv, xlsx, Report};

const STATIONS: usize = 300;
const DAYS: i64 = 30;
const PER_DAY: i64 = 110;
const RUNS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = Db::open(&dir.path().join("loaxa.db")).expect("database");
    let start = Utc.with_ymd_and_hms(2026, 10, 31, 17, 0, 0).unwrap();
    let cats = [
        "thông tin tuyên truyền",
        "cải cách hành chính",
        "phòng chống thiên tai",
        "tiếp sóng",
        "thông báo địa phương",
    ];
    let gen = Instant::now();
    let rows = db
        .call_blocking(|conn| {
            let tx = conn.transaction()?;
            let now = ts(start);
            tx.execute(
                "INSERT INTO areas (code, name, parent, created_at) VALUES ('P', 'Tỉnh', NULL, ?1)",
                [&now],
            )?;
            for d in 0..10 {
                tx.execute(
                    "INSERT INTO areas (code, name, parent, created_at) VALUES (?1, ?2, 'P', ?3)",
                    params![format!("D{d}"), format!("Huyện {d}"), now],
                )?;
            }
            for s in 0..STATIONS {
                tx.execute(
                    "INSERT INTO stations (code, name, area, timezone, token_hash, created_at)
                     VALUES (?1, ?2, ?3, 'Asia/Ho_Chi_Minh', ?4, ?5)",
                    params![
                        format!("S{s:03}"),
                        format!("Đài xã {s}"),
                        format!("D{}", s % 10),
                        format!("hash{s}"),
                        now
                    ],
                )?;
            }
            let mut n = 0u64;
            {
                let mut ins = tx.prepare(
                    "INSERT INTO logs (station, id, schedule_id, title, category, priority,
                        scheduled_at, started_at, ended_at, played_ms, planned_ms, status,
                        received_at, local_date)
                     VALUES (?1, ?2, ?3, 'Bản tin', ?4, 'normal', ?5, ?5, ?5, ?6, 300000, ?7, ?5,
                        date(?5, '+7 hours'))",
                )?;
                let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
                for s in 0..STATIONS {
                    let code = format!("S{s:03}");
                    for d in 0..DAYS {
                        for k in 0..PER_DAY {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            let (status, ms) = match x % 100 {
                                0..=89 => ("played", 300_000),
                                90..=93 => ("interrupted", (x % 300_000) as i64),
                                94..=96 => ("skipped", 0),
                                97..=98 => ("failed", 0),
                                _ => ("missed", 0),
                            };
                            let at = start
                                + Duration::days(d)
                                + Duration::seconds(k * 600 + (s as i64 % 60));
                            ins.execute(params![
                                code,
                                format!("r{k}@{}", at.timestamp_millis()),
                                format!("r{k}"),
                                cats[(k % 5) as usize],
                                ts(at),
                                ms,
                                status
                            ])?;
                            n += 1;
                        }
                    }
                }
            }
            tx.commit()?;
            conn.execute_batch("ANALYZE")?;
            Ok(n)
        })
        .expect("generate");
    let gen_s = gen.elapsed().as_secs_f64();
    println!("generated {rows} log rows in {gen_s:.1} s");

    let from = start;
    let to = start + Duration::days(DAYS);
    let mut build = Vec::new();
    let mut csv_t = Vec::new();
    let mut xlsx_t = Vec::new();
    let mut area = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let r = db
            .call_blocking(|conn| Report::build(conn, "P", Some(from), Some(to), to))
            .expect("report");
        build.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.data.totals.scheduled as u64, rows);
        let t = Instant::now();
        let text = csv::render(&r);
        csv_t.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(text.len() > 1000);
        let t = Instant::now();
        let bytes = xlsx::render(&r).expect("xlsx");
        xlsx_t.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(bytes.len() > 1000);
        let t = Instant::now();
        let one = db
            .call_blocking(|conn| Report::build(conn, "D3", Some(from), Some(to), to))
            .expect("report");
        area.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(one.data.stations.len(), STATIONS / 10);
    }
    let (b, c, x, a) = (median(build), median(csv_t), median(xlsx_t), median(area));
    println!("month report, {STATIONS} stations, {rows} rows: median of {RUNS}");
    println!("  aggregate (whole province) {b:8.1} ms   target ≤ 300 ms");
    println!("  aggregate (one district)   {a:8.1} ms");
    println!("  CSV render                 {c:8.1} ms");
    println!("  XLSX render                {x:8.1} ms");
    println!("BENCH|report_month_1m_rows_ms|{b:.1} ms|≤ 300 ms|-");
    println!("BENCH|report_month_1m_rows_one_district_ms|{a:.1} ms|-|-");
    println!("BENCH|report_month_csv_render_ms|{c:.1} ms|-|-");
    println!("BENCH|report_month_xlsx_render_ms|{x:.1} ms|-|-");
    println!("BENCH|report_bench_generate_1m_rows_s|{gen_s:.1} s|-|-");
}
