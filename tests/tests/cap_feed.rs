//! A CAP feed end to end: an alert appearing in a feed the server polls airs, by itself,
//! on the station inside its polygon and not on the one outside, within a poll interval
//! and a second (plus this test's slack for a loaded machine).

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_alert_in_a_polled_feed_airs_on_the_stations_inside_its_polygon_only() {
    let dir = tempfile::tempdir().unwrap();
    let f = tests::cap_feed::run(dir.path(), 10).await.unwrap();
    let hz = f.inside_hz.expect("a tone on the station inside");
    assert!(
        (hz - tests::cap_feed::TONE_HZ).abs() < 30.0,
        "the alert's audio aired: {hz} Hz"
    );
    assert_eq!(
        f.outside_sounding_ms, 0,
        "nothing aired outside the polygon"
    );
    let ms = f.appear_to_first_sample.num_milliseconds();
    eprintln!(
        "from the feed to the first sample: {ms} ms (poll every {} s)",
        f.poll_seconds
    );
    assert!(
        ms <= i64::from(f.poll_seconds) * 1000 + 1000 + 2000,
        "from the feed to the first sample: {ms} ms"
    );
}
