//! The station's clock jumps back over a bulletin it has played, then forward over one that
//! is due: nothing plays twice, the one jumped over plays late, each is logged once, and
//! the controller warns about each jump. The controller runs in-process so that its one
//! clock can be faked; everything else is real (server, HTTP, SQLite, `wav:` output).

use chrono::Duration as CDuration;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tests::e2e::{Aired, InProcessController, OffsetClock};
use tests::scenarios::{due_times, exactly_once, sleep_until, World, STATION};

/// Where the controller's tracing output goes, to be read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_jumping_back_and_forward_plays_nothing_twice_and_warns() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_env_filter("warn")
        .with_writer(move || writer.clone())
        .init();

    let world = World::start().await.unwrap();
    // Three one-second bulletins: [0] before the jump back, [1] jumped over, [2] after.
    let due = due_times(Duration::from_secs(6), Duration::from_secs(7), 3);
    for (i, at) in due.iter().enumerate() {
        let media = world
            .api
            .upload_tone(440.0 + 110.0 * i as f32, 1000)
            .await
            .unwrap();
        world
            .api
            .schedule_at(&format!("clock {i}"), &media, STATION, *at)
            .await
            .unwrap();
    }
    let clock = Arc::new(OffsetClock::default());
    let wav = world.dir.path().join("aired.wav");
    let ctl = InProcessController::start(
        &world.url(),
        STATION,
        &world.token,
        &world.controller_data(),
        controller::OutputSpec::Wav(wav.clone()),
        clock.clone(),
    )
    .unwrap();
    let rows = world
        .wait_for_logs(Duration::from_secs(30), |r| r.len() == 1)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].status, "played");

    // Back 6 s: the station lives through bulletin 0's minute again; it must not replay.
    clock.set_offset(CDuration::seconds(-6));
    let replay_window_end = due[0] + CDuration::seconds(6) + CDuration::milliseconds(1500);
    sleep_until(replay_window_end).await;
    // Forward: bulletin 1 is 3 s in the past for the station: it plays at once, late.
    clock.set_offset(CDuration::seconds(3) + (due[1] - replay_window_end));
    let rows = world
        .wait_for_logs(Duration::from_secs(30), |r| r.len() >= 3)
        .await
        .unwrap();
    // Let anything that would wrongly air again have its chance.
    tokio::time::sleep(Duration::from_secs(2)).await;
    ctl.stop().await.unwrap();
    let rows_after = world.logs().await.unwrap();
    assert_eq!(rows_after.len(), rows.len(), "{rows_after:#?}");
    let by = exactly_once(&rows_after, &due, &["played"])
        .unwrap_or_else(|e| panic!("{e}\n{rows_after:#?}"));
    assert_eq!(by.get("played"), Some(&3));

    // Three seconds of tone aired in all, not four: nothing played twice.
    let aired = Aired::read(&wav).unwrap();
    let sounding = aired.sounding_ms(aired.start, aired.start + CDuration::hours(1), 0.02);
    assert!(
        (2700..=3400).contains(&sounding),
        "{sounding} ms of sound aired, expected about 3000"
    );
    let warnings = captured.text();
    assert!(
        warnings.contains("the clock jumped back"),
        "no warning for the jump back:\n{warnings}"
    );
    assert!(
        warnings.contains("the clock jumped forward"),
        "no warning for the jump forward:\n{warnings}"
    );
}
