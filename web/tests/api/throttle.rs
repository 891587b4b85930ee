//! Password guesses are throttled per client and account, behind a trusted proxy by the
//! forwarded address, atomically under concurrency, and on password changes too; a
//! stranger cannot lock an account's owner out.

use crate::helpers::{TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;
use web::client::Net;
use web::state::Config;

fn behind_proxy() -> Config {
    Config {
        trusted_proxies: vec![Net::parse("127.0.0.1").unwrap()],
        ..Config::default()
    }
}

/// `POST /auth/token` for `user` with `password`, as `forwarded_for` (if any).
async fn sign_in(
    app: &TestApp,
    user: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> StatusCode {
    let mut req = app
        .client
        .post(app.url("/auth/token"))
        .json(&json!({"username": user, "password": password}));
    if let Some(f) = forwarded_for {
        req = req.header("x-forwarded-for", f);
    }
    req.send().await.unwrap().status()
}

#[tokio::test]
async fn behind_a_trusted_proxy_a_stranger_locks_out_only_themselves() {
    let app = TestApp::spawn_with(behind_proxy()).await;
    let stranger = Some("203.0.113.7");
    for _ in 0..5 {
        assert_eq!(
            sign_in(&app, "op_lq", "guess", stranger).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        sign_in(&app, "op_lq", "guess", stranger).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        sign_in(&app, "op_lq", PASSWORD, stranger).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The owner, through the same proxy from elsewhere, signs in.
    assert_eq!(
        sign_in(&app, "op_lq", PASSWORD, Some("198.51.100.9")).await,
        StatusCode::OK
    );
    // An address the client wrote to the left of the real one changes nothing.
    assert_eq!(
        sign_in(&app, "op_lq", "guess", Some("198.51.100.1, 203.0.113.7")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.stop().await;
}

#[tokio::test]
async fn forwarded_addresses_from_untrusted_peers_are_ignored() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        let f = format!("203.0.113.{i}");
        assert_eq!(
            sign_in(&app, "op_lq", "guess", Some(&f)).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        sign_in(&app, "op_lq", "guess", Some("203.0.113.99")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.stop().await;
}

#[tokio::test]
async fn concurrent_guesses_get_no_more_password_checks_than_allowed() {
    let app = TestApp::spawn().await;
    let guesses = (0..24).map(|_| sign_in(&app, "op_lq", "guess", None));
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let held = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, held), (5, 19), "{statuses:?}");
    app.stop().await;
}

#[tokio::test]
async fn wrong_current_passwords_on_a_password_change_are_throttled() {
    let app = TestApp::spawn().await;
    let t = app.token("op_lq").await;
    for _ in 0..5 {
        let (s, v) = app
            .post(
                "/auth/password",
                &t,
                json!({"current": "guess", "new": "a new long password"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    }
    let (s, v) = app
        .post(
            "/auth/password",
            &t,
            json!({"current": PASSWORD, "new": "a new long password"}),
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    app.clock.advance(chrono::Duration::seconds(31));
    let (s, v) = app
        .post(
            "/auth/password",
            &t,
            json!({"current": PASSWORD, "new": "a new long password"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    app.stop().await;
}

#[tokio::test]
async fn guesses_from_many_addresses_slow_an_account_but_its_owner_still_signs_in() {
    let app = TestApp::spawn_with(behind_proxy()).await;
    // The owner signed in from the commune office before.
    let office = Some("192.0.2.10");
    assert_eq!(
        sign_in(&app, "op_lq", PASSWORD, office).await,
        StatusCode::OK
    );
    // Twenty addresses guess once each; further guesses are slowed to one per 5 s.
    for i in 0..web::throttle::FREE_PER_ACCOUNT {
        let f = format!("203.0.113.{i}");
        assert_eq!(
            sign_in(&app, "op_lq", "guess", Some(&f)).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        sign_in(&app, "op_lq", "guess", Some("198.51.100.1")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(&app, "op_lq", "guess", Some("198.51.100.2")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The owner's office is not slowed at all; a new address waits seconds, not hours.
    assert_eq!(
        sign_in(&app, "op_lq", PASSWORD, office).await,
        StatusCode::OK
    );
    assert_eq!(
        sign_in(&app, "op_lq", PASSWORD, Some("198.51.100.3")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.clock.advance(chrono::Duration::seconds(5));
    assert_eq!(
        sign_in(&app, "op_lq", PASSWORD, Some("198.51.100.3")).await,
        StatusCode::OK
    );
    app.stop().await;
}
