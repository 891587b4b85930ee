//! Driving headless Chromium through ChromeDriver (Debian `chromium`, `chromium-driver`)
//! for the page tests: start the driver on a free port, open a browser session, find,
//! fill, click, wait for text, and save screenshots into `target/screenshots/`.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The password the page tests give their users.
pub const PW: &str = "mật khẩu dài lắm";
/// How long any one wait may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// ChromeDriver on a free port; killed on drop.
pub struct Driver {
    _child: Child,
    url: String,
}

/// Start ChromeDriver and wait until it is ready.
pub async fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver (Debian chromium-driver; `make test` installs it)");
    // ChromeDriver says when it listens.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("started successfully") {
                return;
            }
        }
        panic!("chromedriver exited before listening");
    })
    .await
    .expect("chromedriver start");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let url = format!("http://127.0.0.1:{port}");
    // Its /status answers ready once it listens.
    let status: Value = reqwest::get(format!("{url}/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["value"]["ready"], true, "{status}");
    Driver { _child: child, url }
}

/// A headless Chromium session with its profile in `profile`, 1280×900.
pub async fn browser(driver: &Driver, profile: &Path) -> Client {
    browser_with(driver, profile, &[]).await
}

/// [`browser`] with more command-line switches (e.g. a fake microphone playing a file).
pub async fn browser_with(driver: &Driver, profile: &Path, extra: &[String]) -> Client {
    let mut args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        "--disable-dev-shm-usage".into(),
        "--window-size=1280,900".into(),
        "--autoplay-policy=no-user-gesture-required".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    args.extend(extra.iter().cloned());
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium", "args": args}),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// `target/screenshots/`, created.
pub fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Save the page as `NAME.png`.
pub async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// Wait for the element and answer its text (found again if the page replaced it meanwhile).
pub async fn text_of(c: &Client, css: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        match found.text().await {
            Ok(text) => return text,
            Err(e) => assert!(
                tokio::time::Instant::now() < deadline,
                "{css}: cannot read its text: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wait until the element's text contains `want`.
pub async fn wait_text(c: &Client, css: &str, want: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = match c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if got.contains(want) {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css}: wanted {want:?}, have {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Replace the text of an input.
pub async fn fill(c: &Client, css: &str, text: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

/// Click the element.
pub async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Run `script` (with `arguments[0]` = `url`) to fetch `url` with the page's cookies:
/// answers `[status, content type, body as text]`.
pub async fn fetch_text(c: &Client, url: &str) -> Value {
    c.execute_async(
        "fetch(arguments[0]).then(r => r.text().then(t => arguments[1]([r.status, r.headers.get('content-type'), t])));",
        vec![json!(url)],
    )
    .await
    .unwrap()
}

/// The `href` property (absolute) of the element.
pub async fn href_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .prop("href")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// The `value` property of an input.
pub async fn value_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Is the element missing, hidden, or not rendered?
pub async fn is_hidden(c: &Client, css: &str) -> bool {
    let v = c
        .execute(
            "var e = document.querySelector(arguments[0]); return !e || e.hidden || e.offsetParent === null;",
            vec![json!(css)],
        )
        .await
        .unwrap();
    v == json!(true)
}

/// Wait until `css` is hidden (or shown, with `hidden = false`).
pub async fn wait_hidden(c: &Client, css: &str, hidden: bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while is_hidden(c, css).await != hidden {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css}: still {}",
            if hidden { "shown" } else { "hidden" }
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Open `path`, which sends to the sign-in form, sign in and wait for the page.
pub async fn login(c: &Client, base: &str, path: &str, user: &str, password: &str) {
    c.goto(&format!("{base}{path}")).await.unwrap();
    fill(c, "#username", user).await;
    fill(c, "#password", password).await;
    click(c, "form button[type=submit]").await;
    text_of(c, "main h1").await;
}
