//! `loaxa-web backup` while the server serves and writes, and `restore` round trips.

use crate::helpers::{loaxa, TestApp};
use rusqlite::Connection;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn media_rows(db: &Path) -> BTreeSet<String> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT sha256 FROM media").unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

fn count(db: &Path, table: &str) -> i64 {
    let conn = Connection::open(db).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_to_a_working_server() {
    let app = TestApp::spawn_on_sqlite().await;
    let op = app.token("op_lq").await;
    let mut before = Vec::new();
    for f in [440.0, 550.0, 660.0] {
        before.push(app.upload_tone(&op, f, 500).await);
    }
    app.schedule(&op, &before[0], &["LQ"], "30 5 * * *").await;

    // Keep uploading while the backup runs: the snapshot must be consistent anyway.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let writing = writing.clone();
        let base = app.base.clone();
        let op = op.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut freq = 700.0;
            let mut uploaded = 0;
            while writing.load(Ordering::Relaxed) {
                let part = reqwest::multipart::Part::bytes(crate::helpers::tone_wav(freq, 500))
                    .file_name("more.wav");
                let form = reqwest::multipart::Form::new().part("file", part);
                let res = client
                    .post(format!("{base}/media"))
                    .bearer_auth(&op)
                    .multipart(form)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), reqwest::StatusCode::CREATED);
                freq += 10.0;
                uploaded += 1;
            }
            uploaded
        })
    };
    let archive_dir = tempfile::tempdir().unwrap();
    let archive = archive_dir.path().join("loaxa.tar");
    let data = app.dir.path().to_path_buf();
    let (code, out, err) = {
        let archive = archive.clone();
        tokio::task::spawn_blocking(move || {
            loaxa(&data, &["backup", "--to", archive.to_str().unwrap()], "")
        })
        .await
        .unwrap()
    };
    writing.store(false, Ordering::Relaxed);
    let uploaded_meanwhile = writer.await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("backup written to"), "{out}");
    assert!(uploaded_meanwhile > 0);
    // Only the archive is left next to it: no temporary files.
    let left: Vec<_> = std::fs::read_dir(archive_dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1);

    let restored = tempfile::tempdir().unwrap();
    let (code, out, err) = loaxa(
        restored.path(),
        &["restore", "--from", archive.to_str().unwrap()],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("restored from"), "{out}");
    let db = restored.path().join("loaxa.db");
    let media = media_rows(&db);
    for id in &before {
        assert!(
            media.contains(id),
            "{id} uploaded before the backup is restored"
        );
    }
    // A snapshot of a live database: a subset of what the server has now.
    assert!(media.is_subset(&media_rows(&app.dir.path().join("loaxa.db"))));
    for sha in &media {
        let file = restored.path().join("media").join(&sha[..2]).join(sha);
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            *sha
        );
    }
    assert_eq!(count(&db, "schedules"), 1);
    app.stop().await;

    // The restored directory opens (migrated, if need be) and takes writes.
    let (code, out, err) = loaxa(restored.path(), &["area", "add", "X", "--name", "X"], "");
    assert_eq!(code, 0, "{out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_damage_and_never_overwrites_without_force() {
    let app = TestApp::spawn_on_sqlite().await;
    let op = app.token("op_lq").await;
    let sha = app.upload_tone(&op, 440.0, 500).await;
    let data = app.dir.path().to_path_buf();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("b.tar");
    let a = archive.to_str().unwrap().to_string();
    let (code, _, err) = tokio::task::spawn_blocking({
        let data = data.clone();
        let a = a.clone();
        move || loaxa(&data, &["backup", "--to", &a], "")
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    // Keep the data directory past the server's end (stop drops the app's own).
    let mut app = app;
    let kept = std::mem::replace(&mut app.dir, tempfile::tempdir().unwrap());
    app.stop().await;
    assert_eq!(kept.path(), data);

    // Into a directory that has a database: refused, nothing touched. (Compared by content:
    // SQLite may still fold its write-ahead log into the file after the server stopped.)
    let before = media_rows(&data.join("loaxa.db"));
    assert!(before.contains(&sha));
    let (code, _, err) = loaxa(&data, &["restore", "--from", &a], "");
    assert_eq!(code, 2);
    assert!(err.contains("--force"), "{err}");
    assert_eq!(media_rows(&data.join("loaxa.db")), before);
    assert!(data.join("media").read_dir().unwrap().next().is_some());

    // A media file damaged inside the archive: refused, naming it; the target stays empty.
    let mut bytes = std::fs::read(&archive).unwrap();
    // The entry's header starts with its name; its content follows the 512-byte header.
    let name = format!("media/{}/{sha}", &sha[..2]);
    let header = bytes
        .windows(name.len())
        .position(|w| w == name.as_bytes())
        .expect("the media entry is in the archive");
    bytes[header + 512 + 100] ^= 0x55;
    let damaged = work.path().join("damaged.tar");
    std::fs::write(&damaged, &bytes).unwrap();
    let fresh = work.path().join("fresh");
    let (code, _, err) = loaxa(
        &fresh,
        &["restore", "--from", damaged.to_str().unwrap()],
        "",
    );
    assert_eq!(code, 2);
    assert!(err.contains(&sha) && err.contains("damaged"), "{err}");
    assert!(!fresh.join("loaxa.db").exists());
    assert_eq!(
        std::fs::read_dir(&fresh).unwrap().count(),
        0,
        "no staging left"
    );

    // A truncated archive and a file that is no archive at all: refused.
    let truncated = work.path().join("truncated.tar");
    std::fs::write(&truncated, &std::fs::read(&archive).unwrap()[..2048]).unwrap();
    let (code, _, err) = loaxa(
        &fresh,
        &["restore", "--from", truncated.to_str().unwrap()],
        "",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a whole Loa Xã backup"), "{err}");

    // With --force: the old data is moved aside, not deleted, and the backup is in place.
    let (code, out, err) = loaxa(&data, &["restore", "--from", &a, "--force"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("moved to"), "{out}");
    let aside: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("replaced-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(media_rows(&data.join(&aside[0]).join("loaxa.db")), before);
    assert!(media_rows(&data.join("loaxa.db")).contains(&sha));
}

#[test]
fn backup_of_a_directory_without_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("x.tar");
    let (code, _, err) = loaxa(dir.path(), &["backup", "--to", to.to_str().unwrap()], "");
    assert_eq!(code, 2);
    assert!(err.contains("no database"), "{err}");
    assert!(!to.exists());
}

#[test]
fn backup_and_restore_send_a_postgresql_store_to_its_own_tools() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Refused before any connection: the address need not answer.
    let pg = "postgres://loaxa:secret@127.0.0.1:1/loaxa";
    for args in [
        vec!["--database", pg, "backup", "--to", "out.tar"],
        vec!["--database", pg, "restore", "--from", "in.tar"],
    ] {
        let (code, _, err) = loaxa(d, &args, "");
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("pg_dump"), "{err}");
        assert!(!err.contains("secret"), "the password is not shown: {err}");
    }
    // A SQLite file elsewhere than the data directory is named, not silently skipped.
    let (code, _, err) = loaxa(
        d,
        &[
            "--database",
            "sqlite:/srv/other.db",
            "backup",
            "--to",
            "o.tar",
        ],
        "",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/srv/other.db"), "{err}");
    // A --database that is neither says what it takes.
    let (code, _, err) = loaxa(
        d,
        &["--database", "mysql://x", "backup", "--to", "o.tar"],
        "",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sqlite:PATH or postgres://"), "{err}");
}
