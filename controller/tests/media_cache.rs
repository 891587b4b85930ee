//! The media cache against an in-test server: Range resume, hash checks, refetch.

mod common;

use common::*;
use controller::cache::Db;
use controller::fetch::{FetchError, MediaCache};
use controller::sync::Client;

fn cache(server: &TestServer, dir: &std::path::Path) -> MediaCache {
    let db = Db::open(&dir.join("c.sqlite")).unwrap();
    MediaCache::new(dir.join("media"), db, Client::new(&server.url, TOKEN)).unwrap()
}

/// The server's next answer for `m` carries its bytes with one flipped.
fn corrupt_once(server: &TestServer, m: &schedules::wire::MediaEntry, bytes: &[u8]) {
    let mut bad = bytes.to_vec();
    bad[5000] ^= 0xff;
    server
        .inner
        .lock()
        .unwrap()
        .corrupt_once
        .insert(m.sha256.to_string(), bad);
}

#[tokio::test]
async fn a_partial_download_resumes_with_a_range_request() {
    let server = TestServer::start().await;
    let bytes = tone_wav(440.0, 2000, 0.5);
    let m = server.add_media(bytes.clone(), 2000);
    let dir = tempfile::tempdir().unwrap();
    let c = cache(&server, dir.path());
    let sha = m.sha256.as_str();
    // A previous run got the first 10 000 bytes before the network dropped.
    std::fs::write(
        dir.path().join(format!("media/{sha}.part")),
        &bytes[..10_000],
    )
    .unwrap();
    let path = c.ensure(&m.sha256, now()).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert!(!dir.path().join(format!("media/{sha}.part")).exists());
    let reqs = server.inner.lock().unwrap().range_requests.clone();
    assert_eq!(
        reqs,
        vec![(sha.to_string(), Some("bytes=10000-".to_string()))]
    );
}

#[tokio::test]
async fn a_complete_part_file_is_verified_without_downloading_again() {
    let server = TestServer::start().await;
    let bytes = tone_wav(440.0, 500, 0.5);
    let m = server.add_media(bytes.clone(), 500);
    let dir = tempfile::tempdir().unwrap();
    let c = cache(&server, dir.path());
    std::fs::write(dir.path().join(format!("media/{}.part", m.sha256)), &bytes).unwrap();
    c.ensure(&m.sha256, now()).await.unwrap();
    assert!(c.has(m.sha256.as_str()));
}

#[tokio::test]
async fn a_corrupted_transfer_is_discarded_and_the_next_attempt_succeeds() {
    let server = TestServer::start().await;
    let bytes = tone_wav(440.0, 500, 0.5);
    let m = server.add_media(bytes.clone(), 500);
    corrupt_once(&server, &m, &bytes);
    let dir = tempfile::tempdir().unwrap();
    let c = cache(&server, dir.path());
    let err = c.ensure(&m.sha256, now()).await.unwrap_err();
    assert!(matches!(err, FetchError::Mismatch { .. }), "{err}");
    assert!(!c.has(m.sha256.as_str()));
    assert!(
        !dir.path().join(format!("media/{}.part", m.sha256)).exists(),
        "no resume from bad bytes"
    );
    c.ensure(&m.sha256, now()).await.unwrap();
    assert_eq!(std::fs::read(c.path(m.sha256.as_str())).unwrap(), bytes);
}

#[tokio::test]
async fn a_cached_file_that_fails_its_hash_is_deleted_and_fetched_again() {
    let server = TestServer::start().await;
    let bytes = tone_wav(440.0, 500, 0.5);
    let m = server.add_media(bytes.clone(), 500);
    let dir = tempfile::tempdir().unwrap();
    let c = cache(&server, dir.path());
    c.ensure(&m.sha256, now()).await.unwrap();
    // Bit rot on the SD card.
    let path = c.path(m.sha256.as_str());
    let mut rotten = bytes.clone();
    rotten[100] ^= 1;
    std::fs::write(&path, rotten).unwrap();
    let bad = c.verify(now(), true).await;
    assert_eq!(bad, vec![m.sha256.to_string()]);
    assert!(!c.has(m.sha256.as_str()));
    c.ensure(&m.sha256, now()).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert!(c.verify(now(), true).await.is_empty());
}

#[tokio::test]
async fn the_player_is_told_once_a_file_is_verified_and_not_for_a_bad_one() {
    let server = TestServer::start().await;
    let bytes = tone_wav(440.0, 500, 0.5);
    let m = server.add_media(bytes, 500);
    let dir = tempfile::tempdir().unwrap();
    let c = cache(&server, dir.path());
    let ready = tokio::sync::Notify::new();
    c.ensure_notifying(&m.sha256, now(), &ready).await.unwrap();
    // The permit was stored: a waiter returns at once.
    tokio::time::timeout(std::time::Duration::from_secs(1), ready.notified())
        .await
        .expect("ready was notified");
    assert!(c.has(m.sha256.as_str()));

    // A file whose bytes do not match its name: refused, and nobody is told.
    let bytes = tone_wav(880.0, 500, 0.5);
    let other = server.add_media(bytes.clone(), 500);
    corrupt_once(&server, &other, &bytes);
    let ready = tokio::sync::Notify::new();
    let err = c
        .ensure_notifying(&other.sha256, now(), &ready)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Mismatch { .. }), "{err}");
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(200), ready.notified())
            .await
            .is_err(),
        "a refused file must not wake the player"
    );
}
