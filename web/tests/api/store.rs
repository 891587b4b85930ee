//! The PostgreSQL store itself (whatever backend the rest of the suite runs on): values
//! both ways, SQLite's idioms, transactions, a lost connection, the schema version, the
//! live sessions of a node that died.

use chrono::TimeZone;
use web::db::sql::{params, Error, OptionalExtension};
use web::db::{Db, Location};
use web::error::AppError;

fn open() -> (Db, String) {
    let url = web::testing::postgres_database_migrated();
    let at = Location::Postgres(url.clone());
    // Opened off the test's runtime, as a server opens it at start.
    let db = std::thread::spawn(move || Db::open_at(&at).unwrap())
        .join()
        .unwrap();
    (db, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_and_sqlite_idioms_read_the_same_on_postgresql() {
    let (db, _) = open();
    db.call(|c| idioms(c).map_err(|e| AppError::invalid(e.to_string())))
        .await
        .unwrap();
}

fn idioms(c: &mut web::db::sql::Connection) -> Result<(), Error> {
    {
        c.execute_batch(
            "CREATE TABLE t (n BIGINT, s TEXT, f DOUBLE PRECISION, b BYTEA, flag BIGINT)",
        )?;
        let none: Option<String> = None;
        c.execute(
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)",
            params![7i64, "Bão số 9", 1.5f64, vec![0u8, 255], true],
        )?;
        c.execute(
            "INSERT INTO t (n, s) VALUES (?1, ?2)",
            params![u64::from(u32::MAX) * 3, none],
        )?;
        // Read back: integers, text, floats, bytes, a flag, NULLs.
        let first: (i64, String, f64, Vec<u8>, bool) =
            c.query_row("SELECT n, s, f, b, flag FROM t WHERE n = ?1", [7i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
        assert_eq!(first, (7, "Bão số 9".into(), 1.5, vec![0, 255], true));
        let second: (Option<String>, Option<f64>) =
            c.query_row("SELECT s, f FROM t WHERE s IS NULL", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        assert_eq!(second, (None, None));
        // SUM is NUMERIC on PostgreSQL, AVG has a fraction, a comparison is a boolean.
        let (sum, avg, yes): (i64, f64, bool) = c.query_row(
            "SELECT SUM(n), AVG(f), EXISTS (SELECT 1 FROM t WHERE n = 7) FROM t",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        assert_eq!(sum, 7 + i64::from(u32::MAX) * 3);
        assert_eq!(avg, 1.5);
        assert!(yes);
        // SQLite's two-argument MAX, and a parameter only tested for NULL.
        let m: i64 = c.query_row("SELECT MAX(?1, n) FROM t WHERE n = 7", [9i64], |r| r.get(0))?;
        assert_eq!(m, 9);
        let any: Option<i64> = None;
        let n: i64 = c.query_row(
            "SELECT COUNT(*) FROM t WHERE ?1 IS NULL OR n = ?1",
            [any],
            |r| r.get(0),
        )?;
        assert_eq!(n, 2);
        // No row is NoRows, and optional() makes it None.
        let missing = c
            .query_row("SELECT n FROM t WHERE n = -1", [], |r| r.get::<_, i64>(0))
            .optional()?;
        assert_eq!(missing, None);
        // A wrong type is an error naming the column, not a panic.
        let wrong = c.query_row("SELECT s FROM t WHERE n = 7", [], |r| r.get::<_, i64>(0));
        assert!(matches!(wrong, Err(Error::Decode(0, _))), "{wrong:?}");
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_rolls_back_unless_committed_and_unique_violations_are_named() {
    let (db, _) = open();
    let failed = db
        .call(|c| -> Result<(), AppError> {
            c.execute_batch("CREATE TABLE u (k TEXT PRIMARY KEY)")?;
            let tx = c.transaction()?;
            tx.execute("INSERT INTO u VALUES ('a')", [])?;
            Err(AppError::invalid("changed my mind"))
        })
        .await;
    assert!(failed.is_err());
    let (n, dup) = db
        .call(|c| {
            let n: i64 = c.query_row("SELECT COUNT(*) FROM u", [], |r| r.get(0))?;
            c.execute("INSERT INTO u VALUES ('b')", [])?;
            let dup = c.execute("INSERT INTO u VALUES ('b')", []).unwrap_err();
            Ok((n, dup.is_unique_violation()))
        })
        .await
        .unwrap();
    assert_eq!(n, 0, "the uncommitted insert rolled back");
    assert!(dup);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_killed_under_the_store_is_opened_again() {
    let (db, url) = open();
    let killer = url.clone();
    let killed = tokio::task::spawn_blocking(move || {
        let mut c = postgres::Client::connect(&killer, postgres::NoTls).unwrap();
        c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'loaxa-web'
               AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
    })
    .await
    .unwrap();
    assert!(killed >= 1, "the store's connections were there to kill");
    // A thread finds its connection dead when it next uses it: that call fails and the
    // thread connects again before its next. After a few failures every call succeeds.
    let (mut failed, mut in_a_row) = (0, 0);
    for _ in 0..200 {
        match db
            .call(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await
        {
            Ok(_) => in_a_row += 1,
            Err(_) => {
                failed += 1;
                in_a_row = 0;
            }
        }
        if in_a_row == 20 {
            break;
        }
    }
    assert_eq!(in_a_row, 20, "calls kept failing ({failed} failures)");
    assert!(failed <= 2 * web::db::PG_THREADS, "{failed} calls failed");
    let last = db
        .call(|c| Ok(c.query_row("SELECT 2", [], |r| r.get::<_, i64>(0))?))
        .await
        .unwrap();
    assert_eq!(last, 2);
}

#[test]
fn a_database_from_a_newer_program_and_one_with_another_collation_are_refused() {
    let url = web::testing::postgres_database_migrated();
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.execute("UPDATE loaxa_schema SET version = 999", &[])
        .unwrap();
    drop(c);
    let err = Db::open_at(&Location::Postgres(url))
        .unwrap_err()
        .to_string();
    assert!(err.contains("schema version 999"), "{err}");

    let base = web::testing::postgres_database();
    let admin = format!("{}/postgres", base.rsplit_once('/').unwrap().0);
    let name = format!("loaxa_en_{}", std::process::id());
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
    ))
    .unwrap();
    let other = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
    let err = Db::open_at(&Location::Postgres(other))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("C.UTF-8") && err.contains("LOCALE 'C'"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_sessions_of_a_node_that_died_are_ended_and_the_others_kept() {
    let (db, _) = open();
    let at = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 3, 0, 0).unwrap();
    let ended = db
        .call(move |c| {
            for (id, node) in [("s-alive", "host:1:aaaa"), ("s-dead", "host:2:bbbb")] {
                c.execute(
                    "INSERT INTO live_sessions (id, title, priority, owner_area, created_by,
                        created_at, targets, format, state, node)
                     VALUES (?1, 'Nói trực tiếp', 'priority', 'TT', 'op', ?2, '[]', 'adpcm',
                        'live', ?3)",
                    params![id, web::db::ts(at), node],
                )?;
            }
            // Only the first node's relay is alive (its identity is NODE/xxxxxxxx).
            c.execute(
                "INSERT INTO node_alive (node, seen_at) VALUES ('host:1:aaaa/12345678', now())",
                [],
            )?;
            let n = web::db::live::end_orphans(c, at)?;
            let states: Vec<(String, String)> = c
                .prepare("SELECT id, state FROM live_sessions ORDER BY id")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok((n, states))
        })
        .await
        .unwrap();
    assert_eq!(ended.0, 1);
    assert_eq!(
        ended.1,
        vec![
            ("s-alive".to_string(), "live".to_string()),
            ("s-dead".to_string(), "ended".to_string())
        ]
    );
}

/// `loaxa-web copy-to-postgres`: a province on one SQLite node moves to PostgreSQL whole —
/// every table and every media file — and a node on the copy answers as the original did;
/// a database that holds data already is refused and left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_store_is_copied_whole_into_postgresql() {
    use crate::helpers::{loaxa, TestApp};
    use serde_json::json;
    use sha2::Digest;
    let app = TestApp::spawn_on_sqlite().await;
    let t = app.token("admin_tt").await;
    let m = app.upload_tone(&t, 880.0, 1500).await;
    app.schedule(&t, &m, &["LQ"], "0 7 * * *").await;
    let (s, v) = app
        .post(
            "/urgent",
            &t,
            json!({"title": "Lũ", "media_id": m, "stations": ["LQ"]}),
        )
        .await;
    assert!(s.is_success(), "{v}");
    let read = [
        "/areas",
        "/stations",
        "/users",
        "/media",
        "/schedules",
        "/urgent",
    ];
    let mut before = Vec::new();
    for path in read {
        before.push(app.get(path, &t).await.1);
    }
    let (_, doc_before) = app.get("/device/schedule", &app.lq_device).await;

    let url = web::testing::postgres_database();
    let (code, out, err) = loaxa(app.dir.path(), &["copy-to-postgres", "--to", &url], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("2 media files"),
        "the upload and its sent copy: {out}"
    );

    let copy = TestApp::spawn_seeded(
        web::state::Config {
            database: Some(url.clone()),
            ..Default::default()
        },
        app.lq_device.clone(),
        app.bp_device.clone(),
    )
    .await;
    let t2 = copy.token("admin_tt").await;
    for (path, want) in read.iter().zip(&before) {
        let (s, got) = copy.get(path, &t2).await;
        assert!(s.is_success(), "{path}: {got}");
        assert_eq!(&got, want, "{path}");
    }
    let (_, doc) = copy.get("/device/schedule", &copy.lq_device).await;
    assert_eq!(doc, doc_before);
    // The file, from the store: the new node's data directory never had it.
    let bytes = copy
        .client
        .get(copy.url(&format!("/media/{m}")))
        .bearer_auth(&copy.lq_device)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), m);
    // New rows continue the copied ones.
    let (s, v) = copy
        .post(
            "/urgent",
            &t2,
            json!({"title": "Bão", "media_id": m, "stations": ["BP"]}),
        )
        .await;
    assert!(s.is_success(), "{v}");
    copy.stop().await;

    // Again into the same database: refused, nothing written.
    let (code, out, err) = loaxa(app.dir.path(), &["copy-to-postgres", "--to", &url], "");
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("already holds data"), "{err}");
    // A media file missing from the data directory: refused, naming it; nothing written.
    let sha = schedules::Sha256::parse(&m).unwrap();
    std::fs::remove_file(app.state.media.path_of(&sha)).unwrap();
    let empty = web::testing::postgres_database();
    let (code, out, err) = loaxa(app.dir.path(), &["copy-to-postgres", "--to", &empty], "");
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains(&m) && err.contains("nothing was copied"),
        "{err}"
    );
    let db = Db::open_at(&Location::Postgres(empty)).unwrap();
    let areas: i64 = db
        .call(|c| Ok(c.query_row("SELECT COUNT(*) FROM areas", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(areas, 0);
    // Not PostgreSQL.
    let (code, _, err) = loaxa(
        app.dir.path(),
        &["copy-to-postgres", "--to", "sqlite:/x.db"],
        "",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a PostgreSQL database"), "{err}");
    app.stop().await;
}
