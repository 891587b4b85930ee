//! HTTPS served directly when the configuration names a certificate and a key.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A self-signed certificate for 127.0.0.1 made with openssl: (cert.pem, key.pem).
fn self_signed(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=loaxa-test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl is installed (make test installs it)");
    assert!(ok.success());
    (cert, key)
}

/// Kills the server when the test ends, however it ends.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_server_speaks_https_with_a_certificate_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_loaxa-web"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("LOAXA_DATA")
        .env_remove("LOAXA_LISTEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let serving = Serving(child);
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map(Result::unwrap)
            .find(|l| l.contains("listening on"))
            .expect("the server says where it listens")
    })
    .await
    .unwrap();
    let url = line.split_whitespace().last().unwrap().to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{line}");

    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let res = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // Plain HTTP on the same port gets no answer a client could take for HTTP.
    let plain = url.replacen("https://", "http://", 1);
    let res = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(format!("{plain}/healthz"))
        .send()
        .await;
    assert!(res.is_err(), "plain HTTP must not be served: {res:?}");
    // A client that does not trust the certificate refuses it; the server keeps serving.
    let untrusting = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    assert!(untrusting
        .get(format!("{url}/healthz"))
        .send()
        .await
        .is_err());
    let res = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    drop(serving);
}

#[test]
fn a_bad_certificate_or_a_lone_key_is_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let data = dir.path().join("data");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(env!("CARGO_BIN_EXE_loaxa-web"))
            .arg("--data")
            .arg(&data)
            .args(args)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("LOAXA_DATA")
            .env_remove("LOAXA_LISTEN")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--tls-cert".as_ref(), cert.as_os_str()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("tls_key"), "{err}");

    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let (code, err) = run(&[
        "--tls-cert".as_ref(),
        junk.as_os_str(),
        "--tls-key".as_ref(),
        key.as_os_str(),
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("junk.pem"), "{err}");
}

/// `POST /auth/login` as `admin` on `base` with `client`: the `Set-Cookie` header, and
/// `/healthz`'s `Strict-Transport-Security` (if any).
async fn cookie_and_hsts(
    client: &reqwest::Client,
    base: &str,
    forwarded_proto: Option<&str>,
) -> (String, Option<String>) {
    let mut req = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": "a long password"}));
    if let Some(p) = forwarded_proto {
        req = req.header("x-forwarded-proto", p);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    let mut req = client.get(format!("{base}/healthz"));
    if let Some(p) = forwarded_proto {
        req = req.header("x-forwarded-proto", p);
    }
    let res = req.send().await.unwrap();
    let hsts = res
        .headers()
        .get("strict-transport-security")
        .map(|v| v.to_str().unwrap().to_string());
    (cookie, hsts)
}

/// A server with one admin on 127.0.0.1:0, over TLS when `tls` names a cert and key.
async fn spawn(
    dir: &Path,
    config: web::state::Config,
    tls: Option<(&Path, &Path)>,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let clock = std::sync::Arc::new(schedules::ManualClock::new(crate::helpers::t0()));
    let state = web::state::AppState::open_with(dir, clock, config).unwrap();
    let now = crate::helpers::t0();
    web::admin::add_area(&state.db, "test", "TT", "Thạch Thất", None, now).unwrap();
    web::admin::add_user(
        &state.db,
        "test",
        "admin",
        "a long password",
        web::db::users::Role::Admin,
        "TT",
        now,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async {
        let _ = rx.await;
    };
    let base = match tls {
        Some((cert, key)) => {
            let acceptor = web::tls::acceptor(cert, key).unwrap();
            tokio::spawn(web::startup::serve_tls(listener, acceptor, state, stop));
            format!("https://{addr}")
        }
        None => {
            tokio::spawn(web::startup::serve(listener, state, stop));
            format!("http://{addr}")
        }
    };
    (base, tx)
}

#[tokio::test]
async fn over_tls_the_session_cookie_is_secure_and_answers_carry_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let tls_client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let plain_client = reqwest::Client::new();

    let (base, _stop) = spawn(
        &dir.path().join("tls"),
        web::state::Config::default(),
        Some((&cert, &key)),
    )
    .await;
    let (cookie, hsts) = cookie_and_hsts(&tls_client, &base, None).await;
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert_eq!(hsts.as_deref(), Some(web::security::HSTS));

    // Plain HTTP: neither (a Secure cookie would never come back).
    let (base, _stop2) = spawn(
        &dir.path().join("plain"),
        web::state::Config::default(),
        None,
    )
    .await;
    let (cookie, hsts) = cookie_and_hsts(&plain_client, &base, None).await;
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert_eq!(hsts, None);
    // X-Forwarded-Proto from an untrusted peer changes nothing.
    let (cookie, hsts) = cookie_and_hsts(&plain_client, &base, Some("https")).await;
    assert!(!cookie.contains("Secure") && hsts.is_none(), "{cookie}");

    // Behind a TLS proxy: by configuration, or by the trusted proxy's X-Forwarded-Proto.
    let behind = web::state::Config {
        behind_tls_proxy: true,
        ..web::state::Config::default()
    };
    let (base, _stop3) = spawn(&dir.path().join("behind"), behind, None).await;
    let (cookie, hsts) = cookie_and_hsts(&plain_client, &base, None).await;
    assert!(cookie.contains("; Secure") && hsts.is_some(), "{cookie}");
    let trusted = web::state::Config {
        trusted_proxies: vec![web::client::Net::parse("127.0.0.1").unwrap()],
        ..web::state::Config::default()
    };
    let (base, _stop4) = spawn(&dir.path().join("proxied"), trusted, None).await;
    let (cookie, hsts) = cookie_and_hsts(&plain_client, &base, Some("https")).await;
    assert!(cookie.contains("; Secure") && hsts.is_some(), "{cookie}");
    let (cookie, hsts) = cookie_and_hsts(&plain_client, &base, Some("http")).await;
    assert!(!cookie.contains("Secure") && hsts.is_none(), "{cookie}");
}

/// Clients that open connections and never start a handshake hold at most the listener's
/// handshake limit; the next connection is closed at once (not left to wait), and once the
/// silent ones go, a real client is served.
#[tokio::test]
async fn silent_clients_cannot_hold_more_handshakes_than_the_limit() {
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let acceptor = web::tls::acceptor(&cert, &key).unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let listener = web::tls::TlsListener::new(tcp, acceptor, 3).unwrap();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut fourth = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), fourth.read(&mut buf))
        .await
        .expect("the connection over the limit is closed at once, not left waiting");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "closed without a byte: {read:?}"
    );

    drop(silent);
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{}/", addr.port());
    let mut served = false;
    for _ in 0..50 {
        if let Ok(res) = client.get(&url).send().await {
            assert_eq!(res.text().await.unwrap(), "ok");
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        served,
        "a real client is served once the silent ones are gone"
    );
    server.abort();
}
