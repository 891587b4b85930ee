use crate::helpers::loaxa;

#[test]
fn the_command_line_sets_up_areas_stations_and_users() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(
        loaxa(d, &["area", "add", "HN", "--name", "Hà Nội"], "").0,
        0
    );
    assert_eq!(
        loaxa(
            d,
            &[
                "area",
                "add",
                "TT",
                "--name",
                "Thạch Thất",
                "--parent",
                "HN"
            ],
            ""
        )
        .0,
        0
    );
    let (code, out, _) = loaxa(
        d,
        &[
            "station",
            "add",
            "LQ",
            "--name",
            "Đài Liên Quan",
            "--area",
            "TT",
        ],
        "",
    );
    assert_eq!(code, 0);
    let token = out.lines().last().unwrap();
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    let (code, _, err) = loaxa(
        d,
        &[
            "user", "add", "lienquan", "--role", "operator", "--area", "TT",
        ],
        "mật khẩu đủ dài\n",
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn refused_values_and_bad_arguments_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (args, stdin) in [
        (
            vec!["station", "add", "LQ", "--name", "x", "--area", "NOPE"],
            "",
        ),
        (
            vec!["area", "add", "A", "--name", "x", "--parent", "NOPE"],
            "",
        ),
        (vec!["area", "add", "bad code", "--name", "x"], ""),
        (
            vec!["user", "add", "u", "--role", "king", "--area", "A"],
            "password1\n",
        ),
        (
            vec!["user", "add", "u", "--role", "admin", "--area", "NOPE"],
            "password1\n",
        ),
        (vec!["frobnicate"], ""),
    ] {
        let (code, _, err) = loaxa(d, &args, stdin);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.trim_start().starts_with("error"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    assert_eq!(loaxa(d, &["area", "add", "A", "--name", "x"], "").0, 0);
    let (code, _, err) = loaxa(
        d,
        &["user", "add", "u", "--role", "admin", "--area", "A"],
        "short\n",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("password"), "{err}");
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(loaxa(d, &["area", "add", "A", "--name", "x"], "").0, 0);
    let conn = rusqlite::Connection::open(d.join("loaxa.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let (code, _, err) = loaxa(d, &["area", "add", "B", "--name", "y"], "");
    assert_ne!(code, 0);
    assert!(err.contains("newer than this program"), "{err}");
}

#[tokio::test]
async fn the_token_printed_by_station_add_lets_the_controller_read_its_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        assert_eq!(
            loaxa(&d, &["area", "add", "TT", "--name", "Thạch Thất"], "").0,
            0
        );
        loaxa(
            &d,
            &[
                "station",
                "add",
                "LQ",
                "--name",
                "Đài Liên Quan",
                "--area",
                "TT",
                "--timezone",
                "Asia/Bangkok",
            ],
            "",
        )
    })
    .await
    .unwrap();
    assert_eq!(out.0, 0, "{}", out.2);
    let token = out.1.lines().last().unwrap().to_string();

    let clock = std::sync::Arc::new(schedules::ManualClock::new(crate::helpers::t0()));
    let state = web::state::AppState::open(dir.path(), clock).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/api/v1/device/schedule",
        listener.local_addr().unwrap()
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::startup::serve(listener, state, async {
        let _ = rx.await;
    }));
    let doc: schedules::wire::ScheduleDocument = reqwest::Client::new()
        .get(url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc.station.as_str(), "LQ");
    assert_eq!(doc.timezone, "Asia/Bangkok");
    let _ = tx.send(());
    server.await.unwrap().unwrap();
}
