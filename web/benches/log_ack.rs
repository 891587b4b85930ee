//! What acknowledging log entries durably costs: the same batches of controller log
//! entries stored as `POST /api/v1/device/logs` stores them, in a plain transaction
//! (`synchronous = NORMAL`: safe against a crash of the process, not a power cut) and in
//! [`web::db::durably`] (`synchronous = FULL`: the WAL is fsynced before the answer).
//! Prints the median per batch of each. Run: `cargo bench -p web --bench log_ack`. The
//! database is under target/ (a real disk; /tmp may be memory).

use chrono::{Duration, TimeZone, Utc};
use schedules::wire::LogEntry;
use std::time::Instant;
use web::db::{durably, Db};

const BATCHES: usize = 200;
const PER_BATCH: usize = 20;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-tmp");
    std::fs::create_dir_all(&root).expect("target/bench-tmp");
    let dir = tempfile::tempdir_in(&root).expect("temporary directory");
    let db = Db::open(&dir.path().join("loaxa.db")).expect("database");
    let t0 = Utc.with_ymd_and_hms(2026, 11, 29, 22, 30, 0).unwrap();
    let now = t0;
    web::admin::add_area(&db, "bench", "TT", "Thạch Thất", None, now).unwrap();
    web::admin::add_station(&db, "bench", "LQ", "Liên Quan", "TT", None, now).unwrap();
    let mut n = 0i64;
    let mut batch = || -> Vec<LogEntry> {
        (0..PER_BATCH)
            .map(|_| {
                n += 1;
                let at = t0 + Duration::minutes(n);
                serde_json::from_value(serde_json::json!({
                    "id": format!("r1@{n}"), "title": "Bản tin", "category": "thông báo",
                    "priority": "normal", "scheduled_at": at, "started_at": at,
                    "ended_at": at + Duration::seconds(60), "played_ms": 60000,
                    "status": "played"
                }))
                .unwrap()
            })
            .collect()
    };
    let mut run = |durable: bool| -> f64 {
        let mut ms = Vec::new();
        for _ in 0..BATCHES {
            let entries = batch();
            let started = Instant::now();
            db.call_blocking(|conn| {
                let store =
                    |tx: &web::db::sql::Transaction<'_>| -> Result<(), web::error::AppError> {
                        web::db::logs::insert_batch_counted(tx, "LQ", &entries, now)?;
                        web::db::stations::touch(tx, "LQ", now)?;
                        Ok(())
                    };
                if durable {
                    durably(conn, store)
                } else {
                    let tx = conn.transaction()?;
                    store(&tx)?;
                    tx.commit()?;
                    Ok(())
                }
            })
            .expect("stored");
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        median(ms)
    };
    let normal = run(false);
    let full = run(true);
    println!("batch of {PER_BATCH} log entries: NORMAL {normal:.3} ms, FULL (durable) {full:.3} ms (median of {BATCHES})");
    println!(
        "BENCH|log batch of {PER_BATCH} stored, synchronous=NORMAL (median)|{normal:.3} ms|-|-"
    );
    println!("BENCH|log batch of {PER_BATCH} stored durably, synchronous=FULL (median)|{full:.3} ms|-|{normal:.3} ms");
}
