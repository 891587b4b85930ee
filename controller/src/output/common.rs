//! What the outputs share: the pacer's format and real-time pacing, the device's timings
//! and options, the start error.

use crate::mixer::{Format, Mixer};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The pacer outputs' format.
pub const PACED_FORMAT: Format = Format {
    rate: 48_000,
    channels: 2,
};

/// A device that pulls no samples for this long has failed.
pub const STALL: Duration = Duration::from_secs(2);

/// How often a failed sound device is retried.
pub const DEVICE_RETRY: Duration = Duration::from_secs(10);

/// The output could not start.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// No sound device could be opened.
    #[error("no sound card: {0}")]
    NoSoundCard(String),
    /// The WAV file could not be created.
    #[error("cannot write {path}: {message}")]
    Wav {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The output thread could not start.
    #[error("cannot start the output thread: {0}")]
    Thread(String),
}

/// The sound card's period unless configured (`sound_period_ms`): about one mixer block.
/// See [`super::period_frames`].
pub const DEFAULT_PERIOD_MS: u32 = 10;

/// The sound card's period while nothing needs precision (nothing airs, is cued or is due
/// within a few seconds): about 6 wake-ups a second instead of 94. A configured period
/// longer than this is used throughout.
pub const IDLE_PERIOD_MS: u32 = 100;

/// How the `default` output treats the sound card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceOptions {
    /// Without a sound device, do not fail: start with the error set and try the device
    /// again every 10 s (what a service wants at boot, before the sound card is up).
    pub wait_for_device: bool,
    /// The card's period, ms ([`super::period_frames`]).
    pub period_ms: u32,
}

impl Default for DeviceOptions {
    fn default() -> Self {
        Self {
            wait_for_device: false,
            period_ms: DEFAULT_PERIOD_MS,
        }
    }
}

/// Pull the mixer in real time, 10 ms blocks against the monotonic clock, until `stop`.
pub fn pace(mixer: &Mixer, stop: &AtomicBool, mut sink: impl FnMut(&[f32])) {
    pace_until(mixer, stop, &mut sink, || false);
}

/// As [`pace`], also returning when `also_stop()` says so (checked every block).
pub fn pace_until(
    mixer: &Mixer,
    stop: &AtomicBool,
    sink: &mut dyn FnMut(&[f32]),
    mut also_stop: impl FnMut() -> bool,
) {
    let fmt = mixer.format();
    let block_frames = (fmt.rate / 100).max(1) as u64;
    let mut block = vec![0.0f32; block_frames as usize * fmt.channels as usize];
    let t0 = Instant::now();
    let mut frames: u64 = 0;
    while !stop.load(Ordering::SeqCst) && !also_stop() {
        let due = t0 + Duration::from_secs_f64(frames as f64 / fmt.rate as f64);
        let now = Instant::now();
        if due > now {
            std::thread::sleep((due - now).min(Duration::from_millis(5)));
            continue;
        }
        mixer.render(&mut block, due);
        sink(&block);
        frames += block_frames;
    }
}
