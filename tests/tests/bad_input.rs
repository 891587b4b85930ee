//! A corpus of corrupt and hostile input against the real server: each case is refused
//! with a clear 4xx JSON error or stored safely, nothing panics, and the server still
//! answers `/healthz` afterwards.
//!
//! Titles holding HTML are stored as-is and served as JSON (`application/json`); the pages
//! put them in the document as text (`tests/tests/browser.rs` checks that in Chromium).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tests::e2e::tone_bytes;
use tests::scenarios::{World, STATION};

/// How a case must end.
enum Want {
    /// Refused with this 4xx class and a `{"error":{"code","message"}}` body.
    Refused,
    /// Accepted (and stored safely); the check runs on the answer.
    Stored,
}

struct Tally {
    refused: usize,
    stored: usize,
}

/// A big body the server refuses before reading it all: the answer is a 413 with the JSON
/// error, or — when the server closed the connection after answering while the client was
/// still writing — a broken pipe or reset, which is the same refusal seen from the client.
async fn expect_too_large(what: &str, sent: reqwest::Result<reqwest::Response>, tally: &mut Tally) {
    match sent {
        Ok(res) => {
            assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{what}");
            expect(what, res, Want::Refused, tally).await;
        }
        Err(e) => {
            let chain = format!("{:?}", anyhow::Error::from(e));
            assert!(
                ["Broken pipe", "reset", "closed"]
                    .iter()
                    .any(|w| chain.contains(w)),
                "{what}: neither a 413 nor the connection closed after one: {chain}"
            );
            tally.refused += 1;
        }
    }
}

async fn expect(what: &str, res: reqwest::Response, want: Want, tally: &mut Tally) -> Value {
    let status = res.status();
    let bytes = res.bytes().await.unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    match want {
        Want::Refused => {
            assert!(
                status.is_client_error(),
                "{what}: want a 4xx, got {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            );
            assert!(
                body["error"]["code"].is_string() && body["error"]["message"].is_string(),
                "{what}: no JSON error body: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            );
            tally.refused += 1;
        }
        Want::Stored => {
            assert!(
                status.is_success(),
                "{what}: want success, got {status}: {body}"
            );
            tally.stored += 1;
        }
    }
    body
}

fn wav_with_bad_header() -> Vec<u8> {
    let mut w = tone_bytes(440.0, 500);
    // data chunk length claims 4 GiB
    if let Some(pos) = w.windows(4).position(|x| x == b"data") {
        w[pos + 4..pos + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    }
    w
}

fn nested_json(depth: usize) -> String {
    format!(
        "{{\"title\":{}1{},\"media_id\":\"x\",\"stations\":[\"{STATION}\"],\"cron\":\"0 5 * * *\"}}",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_is_refused_or_stored_safely_and_the_server_stays_up() {
    let world = World::start().await.unwrap();
    let api = &world.api;
    let mut t = Tally {
        refused: 0,
        stored: 0,
    };

    // --- Uploads -------------------------------------------------------------------------
    let mut truncated = tone_bytes(440.0, 800);
    truncated.truncate(30);
    let random: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut fake_mp3 = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    fake_mp3.extend(std::iter::repeat_n(0xFFu8, 4000));
    let corrupt_uploads: Vec<(&str, Vec<u8>)> = vec![
        ("empty.wav", Vec::new()),
        ("truncated.wav", truncated),
        ("random.mp3", random.clone()),
        ("random.flac", random),
        (
            "page.wav",
            b"<html><script>alert(1)</script></html>".to_vec(),
        ),
        ("fake.mp3", fake_mp3),
        ("huge-header.wav", wav_with_bad_header()),
        ("zip.ogg", b"PK\x03\x04\x14\x00\x00\x00\x08\x00".repeat(100)),
        ("riff-only.wav", b"RIFF\x24\x00\x00\x00WAVE".to_vec()),
    ];
    for (name, bytes) in corrupt_uploads {
        let res = api.upload_bytes(name, bytes, "t").await.unwrap();
        expect(&format!("upload {name}"), res, Want::Refused, &mut t).await;
    }
    // Missing field, wrong field name, not multipart at all.
    let res = api
        .request(Method::POST, "/media")
        .multipart(reqwest::multipart::Form::new().text("other", "x"))
        .send()
        .await
        .unwrap();
    expect("multipart without file", res, Want::Refused, &mut t).await;
    let res = api
        .request(Method::POST, "/media")
        .header("content-type", "multipart/form-data; boundary=zzz")
        .body("--zzz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc")
        .send()
        .await
        .unwrap();
    expect("multipart cut off", res, Want::Refused, &mut t).await;
    let res = api
        .request(Method::POST, "/media")
        .json(&json!({"file": "x"}))
        .send()
        .await
        .unwrap();
    expect("JSON instead of multipart", res, Want::Refused, &mut t).await;

    // Path-traversal and odd file names on a valid file: stored by hash, nothing written
    // outside the data directory.
    let traversal_names = [
        "../../../../tmp/evil.wav",
        "..\\..\\evil.wav",
        "/etc/passwd",
        "a/../../b.wav",
        "%2e%2e%2fevil.wav",
        "évil\u{202e}vaw.exe",
    ];
    let mut ids = Vec::new();
    for (i, name) in traversal_names.iter().enumerate() {
        let res = api
            .upload_bytes(name, tone_bytes(300.0 + i as f32 * 50.0, 400), "t")
            .await
            .unwrap();
        let body = expect(&format!("upload named {name:?}"), res, Want::Stored, &mut t).await;
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    assert!(!std::path::Path::new("/tmp/evil.wav").exists());
    assert!(!world.dir.path().join("evil.wav").exists());
    assert!(!world.dir.path().parent().unwrap().join("evil.wav").exists());
    for id in &ids {
        assert!(
            id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "media id {id} is a hash"
        );
    }
    let media = ids[0].clone();

    // Upload titles: long (kept to 200 characters), too long to read (over 4 KiB: 413, the
    // upload route having no body limit), not UTF-8 (stored with U+FFFD).
    let res = api
        .upload_bytes("t.wav", tone_bytes(910.0, 500), &"Ư".repeat(2_000))
        .await
        .unwrap();
    let body = expect("upload titled 2 000 × Ư", res, Want::Stored, &mut t).await;
    assert_eq!(body["title"].as_str().map(|s| s.chars().count()), Some(200));
    let res = api
        .upload_bytes("t.wav", tone_bytes(915.0, 500), &"Ư".repeat(100_000))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    expect("upload titled 100 000 × Ư", res, Want::Refused, &mut t).await;
    let form = reqwest::multipart::Form::new()
        .part(
            "title",
            reqwest::multipart::Part::bytes(b"tin \xff\xfe t\xe1c".to_vec()),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(tone_bytes(920.0, 500)).file_name("t.wav"),
        );
    let res = api
        .request(Method::POST, "/media")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let body = expect("upload title not UTF-8", res, Want::Stored, &mut t).await;
    assert!(
        body["title"]
            .as_str()
            .is_some_and(|s| s.starts_with("tin ")),
        "{body}"
    );

    // --- Crontab strings -----------------------------------------------------------------
    let long = "9".repeat(10_000) + " * * * *";
    let crons = [
        "",
        " ",
        "* * * *",
        "* * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * 32 * *",
        "* * * 13 *",
        "* * * * 8",
        "*/0 * * * *",
        "5-1 * * * *",
        "a b c d e",
        "1-99999999999999999999 * * * *",
        "@reboot",
        "@every 5m",
        "٣ * * * *",
        "0 5 * * mon-",
        "-1 * * * *",
        "* * * * * \u{0}",
        long.as_str(),
    ];
    for cron in crons {
        let res = api
            .request(Method::POST, "/schedules")
            .json(&json!({"title": "t", "media_id": media, "stations": [STATION], "cron": cron}))
            .send()
            .await
            .unwrap();
        expect(
            &format!("cron {:?}", &cron[..cron.len().min(40)]),
            res,
            Want::Refused,
            &mut t,
        )
        .await;
    }

    // --- JSON bodies ---------------------------------------------------------------------
    let base = json!({"title": "t", "media_id": media, "stations": [STATION], "cron": "0 5 * * *"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let bad_bodies: Vec<(&str, Value)> = vec![
        ("title a number", with("title", json!(5))),
        ("title null", with("title", Value::Null)),
        ("stations a string", with("stations", json!(STATION))),
        ("stations of numbers", with("stations", json!([1, 2]))),
        ("unknown station", with("stations", json!(["../LQ"]))),
        ("unknown field", with("admin", json!(true))),
        ("priority emergency", with("priority", json!("emergency"))),
        ("priority unknown", with("priority", json!("<b>"))),
        ("huge number", with("max_wait_minutes", json!(1e300))),
        ("negative number", with("max_wait_minutes", json!(-1))),
        (
            "number past u64",
            with("max_wait_minutes", json!(18_446_744_073_709_551_615u64)),
        ),
        (
            "media id traversal",
            with("media_id", json!("../../etc/passwd")),
        ),
        ("media id unknown", with("media_id", json!("0".repeat(64)))),
        ("at not a date", with("at", json!("tomorrow"))),
        ("starts_on garbage", with("starts_on", json!("2026-02-30"))),
        ("title too long", with("title", json!("x".repeat(100_000)))),
        ("empty object", json!({})),
        ("array", json!([1, 2, 3])),
        ("string", json!("hello")),
    ];
    for (what, body) in bad_bodies {
        let res = api
            .request(Method::POST, "/schedules")
            .json(&body)
            .send()
            .await
            .unwrap();
        expect(what, res, Want::Refused, &mut t).await;
    }
    let raw_bodies: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", b"{title: 't'".to_vec()),
        ("non-UTF-8", b"{\"title\":\"\xff\xfe\xfd\"}".to_vec()),
        ("deep nesting", nested_json(100_000).into_bytes()),
        ("empty body", Vec::new()),
    ];
    for (what, body) in raw_bodies {
        let res = api
            .request(Method::POST, "/schedules")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        expect(what, res, Want::Refused, &mut t).await;
    }
    let mut big = b"{\"title\":\"".to_vec();
    big.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    big.extend(b"\"}");
    let sent = api
        .request(Method::POST, "/schedules")
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await;
    expect_too_large("10 MB JSON body", sent, &mut t).await;
    let res = api
        .request(Method::POST, "/schedules")
        .header("content-type", "text/plain")
        .body(base.to_string())
        .send()
        .await
        .unwrap();
    expect("wrong content type", res, Want::Refused, &mut t).await;
    // Hostile queries and paths.
    for path in [
        "/logs?from=yesterday",
        "/logs?limit=99999999999999999999",
        "/logs?station=%00",
        "/logs?nonsense=1",
        "/schedules/preview?cron=61%20*%20*%20*%20*&tz=Asia/Ho_Chi_Minh&after=2026-01-01T00:00:00Z&count=5",
        "/schedules/preview?cron=0%205%20*%20*%20*&tz=Mars/Olympus&after=2026-01-01T00:00:00Z&count=5",
        "/schedules/preview?cron=0%205%20*%20*%20*&tz=Asia/Ho_Chi_Minh&after=2026-01-01T00:00:00Z&count=100000000",
        "/media/..%2F..%2Fetc%2Fpasswd",
        "/media/zz",
        "/stations/..%2F..%2Fetc/plan",
    ] {
        let res = api
            .request(Method::GET, path)
            .send()
            .await
            .unwrap();
        expect(path, res, Want::Refused, &mut t).await;
    }
    // The device API with garbage.
    for (what, body) in [
        ("log batch of garbage", json!({"entries": [{"id": 5}]})),
        ("log batch not a batch", json!([1])),
        ("heartbeat of garbage", json!({"sent_at": "never"})),
    ] {
        let path = if what.starts_with("heartbeat") {
            "/device/heartbeat"
        } else {
            "/device/logs"
        };
        let res = api
            .with_token(&world.token)
            .request(Method::POST, path)
            .json(&body)
            .send()
            .await
            .unwrap();
        expect(what, res, Want::Refused, &mut t).await;
    }

    // --- Stored safely: HTML, long Unicode, control characters in titles ----------------
    for title in [
        "<script>alert('x')</script>",
        "\"><img src=x onerror=alert(1)>",
        "Bản tin 🌧️ bão số 3 — \u{202e}gnirts desrever",
        "line\nbreak\ttab",
    ] {
        let res = api
            .request(Method::POST, "/schedules")
            .json(&with("title", json!(title)))
            .send()
            .await
            .unwrap();
        let body = expect(&format!("title {title:?}"), res, Want::Stored, &mut t).await;
        let id = body["id"].as_str().unwrap();
        let res = api
            .request(Method::GET, &format!("/schedules/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(ct.starts_with("application/json"), "served as {ct}");
        let back: Value = res.json().await.unwrap();
        assert_eq!(back["title"], json!(title), "stored as-is");
    }

    // --- CAP documents, posted to the CAP endpoint ---------------------------------------
    let caps = [
        String::new(),
        "not xml".into(),
        "<alert/>".into(),
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]><alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">&lol2;</alert>".into(),
        "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.1\"><identifier>x</identifier></alert>".into(),
        "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>a b</identifier></alert>".into(),
        format!("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">{}</alert>", "<info>".repeat(5000)),
        "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>../../x</identifier><sender>s</sender><sent>yesterday</sent></alert>".into(),
    ];
    let post_cap = |body: Vec<u8>, ct: &str| {
        api.request(Method::POST, "/cap")
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let mut cap_refused = 0;
    for c in &caps {
        let what = format!("CAP {:?}", &c[..c.len().min(60)]);
        // The parser refuses it, and so does the endpoint, with a 4xx naming the problem.
        assert!(schedules::cap::parse_cap(c).is_err(), "{what}");
        let res = post_cap(c.clone().into_bytes(), "application/cap+xml")
            .await
            .unwrap();
        expect(&what, res, Want::Refused, &mut t).await;
        cap_refused += 1;
    }
    let res = post_cap(b"<alert>\xff\xfe</alert>".to_vec(), "application/cap+xml")
        .await
        .unwrap();
    expect("CAP not UTF-8", res, Want::Refused, &mut t).await;
    let res = post_cap(b"<alert/>".to_vec(), "text/html").await.unwrap();
    expect("CAP as text/html", res, Want::Refused, &mut t).await;
    let huge = format!(
        "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><note>{}</note></alert>",
        "x".repeat(2 * 1024 * 1024)
    );
    let sent = post_cap(huge.into_bytes(), "application/cap+xml").await;
    expect_too_large("CAP of 2 MiB", sent, &mut t).await;

    // --- Still up -------------------------------------------------------------------------
    let res = reqwest::Client::new()
        .get(format!("{}/healthz", world.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    println!(
        "BAD_INPUT refused={} stored_safely={} cap_refused={}",
        t.refused, t.stored, cap_refused
    );
}
