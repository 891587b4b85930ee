use crate::helpers::{tone_wav, TestApp};
use reqwest::{Method, StatusCode};
use web::state::Config;

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn an_upload_is_measured_and_stored_by_its_hash() {
    let app = TestApp::spawn().await;
    let t = app.token("op_lq").await;
    let bytes = tone_wav(440.0, 1500);
    let (s, v) = app.upload(&t, "Bản tin sáng.wav", bytes.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let sha = v["sha256"].as_str().unwrap();
    assert_eq!(v["id"], v["sha256"]);
    assert_eq!(v["title"], "Bản tin sáng");
    assert_eq!(v["size_bytes"], bytes.len() as u64);
    assert_eq!(v["duration_ms"], 1500);
    assert_eq!(v["sample_rate"], 16000);
    assert_eq!(v["channels"], 1);
    assert!(v["loudness_lufs"].is_number());
    assert!(v["gain_db"].is_number());
    let stored = app.dir.path().join("media").join(&sha[..2]).join(sha);
    assert_eq!(std::fs::read(stored).unwrap(), bytes);
    let (s, list) = app.get("/media", &t).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn the_same_file_uploaded_twice_is_stored_once() {
    let app = TestApp::spawn().await;
    let lq = app.token("op_lq").await;
    let bp = app.token("op_bp").await;
    let bytes = tone_wav(523.0, 800);
    let (s1, a) = app.upload(&lq, "a.wav", bytes.clone()).await;
    let (s2, b) = app.upload(&lq, "b.wav", bytes.clone()).await;
    let (s3, c) = app.upload(&bp, "c.wav", bytes.clone()).await;
    assert_eq!(
        (s1, s2, s3),
        (
            StatusCode::CREATED,
            StatusCode::CREATED,
            StatusCode::CREATED
        )
    );
    assert_eq!(a["id"], b["id"]);
    assert_eq!(a["id"], c["id"]);
    let files = files_under(&app.dir.path().join("media"));
    assert_eq!(files.len(), 1, "{files:?}");
    // Both areas see it.
    let (_, list) = app.get("/media", &bp).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_refused_upload_answers_422_and_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    let t = app.token("op_lq").await;
    for (name, bytes) in [
        ("notes.txt", b"this is not audio at all, just text".to_vec()),
        ("empty.wav", Vec::new()),
        ("silence.wav", {
            media::signal::wav_bytes(&media::Pcm {
                samples: vec![0.0; 16000],
                sample_rate: 16000,
                channels: 1,
            })
        }),
    ] {
        let (s, v) = app.upload(&t, name, bytes).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
    assert!(files_under(&app.dir.path().join("media")).is_empty());
    assert!(files_under(&app.dir.path().join("tmp")).is_empty());
    let (_, list) = app.get("/media", &t).await;
    assert_eq!(list.as_array().unwrap().len(), 0);
    app.stop().await;
}

#[tokio::test]
async fn an_upload_over_the_size_cap_is_413_and_leaves_nothing_behind() {
    let app = TestApp::spawn_with(Config {
        max_upload_bytes: 10_000,
        ..Config::default()
    })
    .await;
    let t = app.token("op_lq").await;
    let (s, v) = app.upload(&t, "big.wav", tone_wav(440.0, 2000)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert!(files_under(&app.dir.path().join("tmp")).is_empty());
    assert!(files_under(&app.dir.path().join("media")).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_title_field_is_413_and_read_no_further() {
    let app = TestApp::spawn().await;
    let t = app.token("op_lq").await;
    let send = |title: String| {
        let form = reqwest::multipart::Form::new().text("title", title).part(
            "file",
            reqwest::multipart::Part::bytes(tone_wav(440.0, 1000)).file_name("a.wav"),
        );
        app.client
            .post(app.url("/media"))
            .bearer_auth(&t)
            .multipart(form)
            .send()
    };
    // 8 MiB of title: refused as soon as it passes the bound, nothing stored.
    let res = send("a".repeat(8 << 20)).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: serde_json::Value = res.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("title:"),
        "{v}"
    );
    assert!(files_under(&app.dir.path().join("media")).is_empty());
    // Two title fields are refused too; a title at the bound is fine (kept to 200 chars).
    let form = reqwest::multipart::Form::new()
        .text("title", "a")
        .text("title", "b")
        .part(
            "file",
            reqwest::multipart::Part::bytes(tone_wav(440.0, 1000)).file_name("a.wav"),
        );
    let res = app
        .client
        .post(app.url("/media"))
        .bearer_auth(&t)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = send("á".repeat(web::routes::api::media::MAX_TITLE_FIELD_BYTES / 2))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["title"].as_str().unwrap().chars().count(), 200, "{v}");
    app.stop().await;
}

#[tokio::test]
async fn downloads_support_a_single_range_and_etag() {
    let app = TestApp::spawn().await;
    let t = app.token("op_lq").await;
    let bytes = tone_wav(440.0, 500);
    let id = app.upload_tone(&t, 440.0, 500).await;
    let url = app.url(&format!("/media/{id}"));

    let full = app.client.get(&url).bearer_auth(&t).send().await.unwrap();
    assert_eq!(full.status(), StatusCode::OK);
    let etag = full.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{id}\""));
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    assert_eq!(full.bytes().await.unwrap().to_vec(), bytes);

    let part = app
        .client
        .get(&url)
        .bearer_auth(&t)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"].to_str().unwrap(),
        format!("bytes 10-19/{}", bytes.len())
    );
    assert_eq!(part.bytes().await.unwrap().to_vec(), bytes[10..20].to_vec());

    let tail = app
        .client
        .get(&url)
        .bearer_auth(&t)
        .header("range", "bytes=-4")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        tail.bytes().await.unwrap().to_vec(),
        bytes[bytes.len() - 4..].to_vec()
    );

    let outside = app
        .client
        .get(&url)
        .bearer_auth(&t)
        .header("range", format!("bytes={}-", bytes.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        outside.headers()["content-range"].to_str().unwrap(),
        format!("bytes */{}", bytes.len())
    );

    let cached = app
        .client
        .get(&url)
        .bearer_auth(&t)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    app.stop().await;
}

#[tokio::test]
async fn media_in_use_cannot_be_deleted_and_unused_media_can() {
    let app = TestApp::spawn().await;
    let t = app.token("op_lq").await;
    let used = app.upload_tone(&t, 440.0, 500).await;
    let unused = app.upload_tone(&t, 660.0, 500).await;
    app.schedule(&t, &used, &["LQ"], "30 5 * * *").await;
    let (s, v) = app
        .call(Method::DELETE, &format!("/media/{used}"), &t, None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, _) = app
        .call(Method::DELETE, &format!("/media/{unused}"), &t, None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get(&format!("/media/{unused}"), &t).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(files_under(&app.dir.path().join("media")).len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_station_may_download_only_media_of_its_own_schedule() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let lq_media = app.upload_tone(&t, 440.0, 500).await;
    let bp_media = app.upload_tone(&t, 550.0, 500).await;
    app.schedule(&t, &lq_media, &["LQ"], "0 6 * * *").await;
    app.schedule(&t, &bp_media, &["BP"], "0 6 * * *").await;
    let (s, _) = app.get(&format!("/media/{lq_media}"), &app.lq_device).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.get(&format!("/media/{bp_media}"), &app.lq_device).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn deleting_a_file_two_communes_uploaded_takes_it_from_the_callers_library_only() {
    let app = TestApp::spawn().await;
    let (lq, bp) = (app.token("op_lq").await, app.token("op_bp").await);
    let wav = tone_wav(440.0, 500);
    let (s, v) = app.upload(&lq, "lq.wav", wav.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let sha = v["id"].as_str().unwrap().to_string();
    let (s, _) = app.upload(&bp, "bp.wav", wav.clone()).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = app
        .call(Method::DELETE, &format!("/media/{sha}"), &lq, None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    // Gone from LQ's library, still in BP's, and the file is still there.
    let (s, _) = app.get(&format!("/media/{sha}"), &lq).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let res = app
        .client
        .get(app.url(&format!("/media/{sha}")))
        .bearer_auth(&bp)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &wav[..]);
    // BP's delete is the last: the file goes.
    let (s, _) = app
        .call(Method::DELETE, &format!("/media/{sha}"), &bp, None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(files_under(&app.dir.path().join("media")).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_delete_racing_an_upload_of_the_same_bytes_never_leaves_a_row_without_its_file() {
    let app = TestApp::spawn().await;
    let lq = app.token("op_lq").await;
    let wav = tone_wav(550.0, 500);
    for round in 0..12 {
        let (s, v) = app.upload(&lq, "x.wav", wav.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let sha = v["id"].as_str().unwrap().to_string();
        let path = format!("/media/{sha}");
        let (_, (up, _)) = tokio::join!(
            app.call(Method::DELETE, &path, &lq, None),
            app.upload(&lq, "x.wav", wav.clone())
        );
        assert_eq!(up, StatusCode::CREATED);
        let (listed, _) = app.get(&path, &lq).await;
        let on_disk = !files_under(&app.dir.path().join("media")).is_empty();
        if listed == StatusCode::OK {
            assert!(on_disk, "round {round}: the row is there, its file is not");
        } else {
            assert_eq!(listed, StatusCode::NOT_FOUND);
            assert!(!on_disk, "round {round}: a file without its row");
        }
        // Start the next round from nothing.
        if listed == StatusCode::OK {
            let (s, _) = app.call(Method::DELETE, &path, &lq, None).await;
            assert_eq!(s, StatusCode::NO_CONTENT);
        }
    }
    app.stop().await;
}
