//! Prints how fast the default sound device pulls the mixer (frames vs elapsed time).
#![allow(clippy::disallowed_methods)]
use std::time::{Duration, Instant};
fn main() {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let m = controller::mixer::Mixer::new(
        controller::output::PACED_FORMAT,
        (Instant::now(), chrono::Utc::now()),
        tx,
    );
    let t0 = Instant::now();
    let out = controller::output::start(&controller::OutputSpec::Default, m.clone()).unwrap();
    let rate = m.format().rate as f64;
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(100));
        let f = m.frames();
        let ahead = f as f64 / rate - t0.elapsed().as_secs_f64();
        println!(
            "{:6.2} s: frames {f:8} ahead {ahead:6.3} s est utc0 {:?}",
            t0.elapsed().as_secs_f64(),
            m.utc_of_frame(0)
        );
    }
    out.stop();
}
