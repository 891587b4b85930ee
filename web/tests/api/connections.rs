//! Connection limits: slow request heads and stalled requests are cut, event streams are
//! not, and connections past the cap get a clean 503.

use crate::helpers::{Sse, TestApp};
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use web::state::Config;

fn addr(app: &TestApp) -> String {
    app.base
        .trim_start_matches("http://")
        .trim_end_matches("/api/v1")
        .to_string()
}

fn short_timeouts() -> Config {
    Config {
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        ..Config::default()
    }
}

/// Read until the server closes the connection (or `limit` passes: None). Answers what was
/// read.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(out),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_client_trickling_its_request_head_is_dropped() {
    let app = TestApp::spawn_with(short_timeouts()).await;
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    let started = Instant::now();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One header line every 200 ms, never the blank line that ends the head.
    let trickle = async {
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if s.write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), trickle).await;
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "the connection was still open after {waited:?}"
    );
    // Whatever the server wrote (a 408 or nothing), it was not the health answer.
    let rest = read_until_closed(&mut s, Duration::from_secs(5))
        .await
        .unwrap_or_default();
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"));
    app.stop().await;
}

#[tokio::test]
async fn idle_keep_alive_connections_and_stalled_bodies_are_closed() {
    let app = TestApp::spawn_with(short_timeouts()).await;
    // Keep-alive: one answer, then silence.
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let got = read_until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("closed within 5 s");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    // A body announced at 100 bytes of which 10 arrive.
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    s.write_all(
        b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"username",
    )
    .await
    .unwrap();
    let started = Instant::now();
    read_until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("a stalled body is cut");
    assert!(started.elapsed() >= Duration::from_millis(900));
    app.stop().await;
}

#[tokio::test]
async fn an_event_stream_outlives_the_timeouts() {
    let app = TestApp::spawn_with(short_timeouts()).await;
    let t = app.token("op_lq").await;
    let media = app.upload_tone(&t, 440.0, 500).await;
    let mut sse = Sse::connect(&app, &app.lq_device).await;
    assert_eq!(sse.next().await.event, "schedule");
    // Three times the idle and header timeouts with no byte on the stream (its keep-alive
    // comes every 15 s).
    tokio::time::sleep(Duration::from_secs(3)).await;
    // A fresh client: the shared one's pooled connections were closed meanwhile.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let res = fresh
        .post(app.url("/schedules"))
        .bearer_auth(&t)
        .json(
            &serde_json::json!({"title": "t", "media_id": media, "stations": ["LQ"],
                                  "cron": "30 5 * * *"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        sse.next().await.event,
        "schedule",
        "the stream is still open"
    );
    drop(sse);
    app.stop().await;
}

#[tokio::test]
async fn connections_past_the_cap_get_503_and_the_server_recovers() {
    let app = TestApp::spawn_with(Config {
        max_connections: 3,
        ..Config::default()
    })
    .await;
    // Three connections, each answered once and kept open.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr(&app)).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    let mut extra = TcpStream::connect(addr(&app)).await.unwrap();
    let got = read_until_closed(&mut extra, Duration::from_secs(5))
        .await
        .expect("refused and closed at once");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(
        text.contains("Retry-After: 5") && text.contains("too_many_connections"),
        "{text}"
    );
    // One closes; a new connection is served again.
    drop(held.pop());
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let healthz = format!("http://{}/healthz", addr(&app));
    let mut status = None;
    for _ in 0..50 {
        // The server notices the close as soon as it reads the end of the stream.
        if let Ok(r) = fresh.get(&healthz).send().await {
            if r.status() == StatusCode::OK {
                status = Some(r.status());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, Some(StatusCode::OK));
    drop(held);
    app.stop().await;
}
