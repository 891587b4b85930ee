//! Outputs: where the mixer's sample stream goes. One owner thread per output owns the
//! device (a cpal stream is not `Send`), and pulls the mixer at the output's rate.
//!
//! - `default`: the sound card through rodio (`output/device.rs`). The device's callback pulls our mixer as a
//!   `rodio::Source`. If the device fails, one clear line is logged, the output error is
//!   published (heartbeat, and due bulletins are logged `failed`), a real-time pacer keeps
//!   the mixer's clock running, and the device is retried every 10 s. The card runs its
//!   short period (`sound_period_ms`, 10 ms) only while the player says precision is
//!   needed ([`crate::precision`]), and [`IDLE_PERIOD_MS`] otherwise: an idle station
//!   wakes a few times a second instead of a hundred.
//! - `null`: a real-time pacer that discards. Every `null` output of a process shares one
//!   pacing thread on a common 10 ms grid (a benchmark runs a thousand controllers in one
//!   process; one thread each would spend the machine on wake-ups).
//! - `wav:FILE` (`output/wav.rs`): a real-time pacer that writes exactly what would reach the sound card,
//!   silence included (32-bit float, 48 kHz stereo), plus `FILE.json`:
//!   `{"start_utc", "sample_rate", "channels"}` — the UTC instant of sample 0. A WAV file
//!   holds at most ~3 h 6 min of this; a full file is kept as `FILE.1` (+ `FILE.1.json`)
//!   and a new `FILE` starts.

mod common;
mod device;
mod wav;

use self::common::pace;
pub use self::common::{
    DeviceOptions, OutputError, DEFAULT_PERIOD_MS, IDLE_PERIOD_MS, PACED_FORMAT,
};

use self::device::device_loop;
pub use self::wav::sidecar_path;
use self::wav::WavSink;
use crate::mixer::{Format, Mixer};
use crate::precision::Precision;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Which output to use (`--output`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSpec {
    /// The default sound device, through rodio.
    Default,
    /// Discard in real time.
    Null,
    /// Write a WAV file in real time.
    Wav(PathBuf),
}

impl FromStr for OutputSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "default" => Ok(Self::Default),
            "null" => Ok(Self::Null),
            _ => match s.strip_prefix("wav:") {
                Some(p) if !p.is_empty() => Ok(Self::Wav(PathBuf::from(p))),
                _ => Err(format!(
                    "unknown output {s:?}: use default, null or wav:FILE"
                )),
            },
        }
    }
}

impl fmt::Display for OutputSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::Null => f.write_str("null"),
            Self::Wav(p) => write!(f, "wav:{}", p.display()),
        }
    }
}

/// A running output. Dropping it stops it (and finalises a WAV file).
pub struct Output {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// A `null` output's place in the shared pacer.
    null_id: Option<u64>,
    error: Arc<Mutex<Option<String>>>,
    precision: Arc<Precision>,
    spec: OutputSpec,
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Output({})", self.spec)
    }
}

impl Output {
    /// The output's current error (e.g. the sound device failed), if any.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A shared view of the current error.
    pub fn error_handle(&self) -> Arc<Mutex<Option<String>>> {
        self.error.clone()
    }

    /// How precisely the output keeps time now, and what the player wants of it.
    pub fn precision(&self) -> Arc<Precision> {
        self.precision.clone()
    }

    /// Stop the output and wait for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(id) = self.null_id.take() {
            NullPacer::global().remove(id);
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The format `spec` will run at; for `default` this opens nothing and guesses 48 kHz
/// stereo — the real device format is set on the mixer when the device opens.
pub fn initial_format(_spec: &OutputSpec) -> Format {
    PACED_FORMAT
}

/// The periods `sound_period_ms` may ask for, ms.
pub const PERIOD_MS_RANGE: std::ops::RangeInclusive<u32> = 2..=200;

/// Start `spec`, pulling `mixer`. For `default`, fails when no sound device opens now.
pub fn start(spec: &OutputSpec, mixer: Mixer) -> Result<Output, OutputError> {
    start_with(spec, mixer, DeviceOptions::default())
}

/// As [`start`], with the sound card's options.
pub fn start_with(
    spec: &OutputSpec,
    mixer: Mixer,
    device: DeviceOptions,
) -> Result<Output, OutputError> {
    let stop = Arc::new(AtomicBool::new(false));
    let error = Arc::new(Mutex::new(None));
    let mut null_id = None;
    let precision = Arc::new(match spec {
        OutputSpec::Default => Precision::managed(),
        _ => Precision::always(),
    });
    let thread = match spec {
        OutputSpec::Null => {
            null_id = Some(NullPacer::global().add(mixer)?);
            None
        }
        OutputSpec::Wav(path) => {
            mixer.set_format(PACED_FORMAT);
            let mut wav = WavSink::create(path)?;
            Some(spawn("output-wav", {
                let stop = stop.clone();
                let m = mixer.clone();
                move || {
                    pace(&m, &stop, |block| wav.write(block, &m));
                    wav.finish();
                }
            })?)
        }
        OutputSpec::Default => {
            let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
            let t = spawn("output-device", {
                let stop = stop.clone();
                let error = error.clone();
                let precision = precision.clone();
                move || device_loop(mixer, stop, error, ready_tx, device, &precision)
            })?;
            match ready_rx.recv() {
                Ok(Ok(())) => Some(t),
                Ok(Err(e)) => {
                    let _ = t.join();
                    return Err(OutputError::NoSoundCard(e));
                }
                Err(_) => return Err(OutputError::NoSoundCard("the output thread died".into())),
            }
        }
    };
    Ok(Output {
        stop,
        thread,
        null_id,
        error,
        precision,
        spec: spec.clone(),
    })
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, OutputError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| OutputError::Thread(e.to_string()))
}

/// The one thread that paces every `null` output of the process: each is pulled in 10 ms
/// blocks against the monotonic clock, as [`pace`] does, on a grid common to all, so the
/// thread wakes once per block whatever their number.
struct NullPacer {
    state: Mutex<NullState>,
    wake: std::sync::Condvar,
}

#[derive(Default)]
struct NullState {
    next_id: u64,
    outputs: Vec<NullOutput>,
    thread_running: bool,
    /// The one block every output renders into (as long as the longest output's block): a
    /// `null` output discards what it renders, so a thousand stations share a buffer that
    /// stays in the cache instead of each writing a block of its own (3.75 KiB at 48 kHz
    /// stereo) that has left it by the station's next turn.
    scratch: Vec<f32>,
}

struct NullOutput {
    id: u64,
    mixer: Mixer,
    t0: Instant,
    frames: u64,
    block_frames: u64,
    rate: u32,
    /// Samples in a block (frames × channels).
    block_len: usize,
}

impl NullOutput {
    fn due(&self) -> Instant {
        self.t0 + Duration::from_secs_f64(self.frames as f64 / f64::from(self.rate))
    }
}

/// The shared pacer's grid.
const NULL_BLOCK: Duration = Duration::from_millis(10);

/// How far a `null` output may fall behind before it skips the missed time.
const NULL_MAX_LAG: Duration = Duration::from_millis(20);

/// The start instant `t0` of a `null` output whose next block is `due`, moved on by whole
/// blocks when the pacer's thread was held up past [`NULL_MAX_LAG`] (a busy machine). The
/// missed time is skipped, as a sound card's is after an underrun, instead of rendered late
/// under instants already past: an airing that starts after the hold-up is stamped with
/// the instant it really went out, not up to the hold-up's length earlier.
fn skip_missed(t0: Instant, due: Instant, now: Instant) -> Instant {
    let behind = now.saturating_duration_since(due);
    if behind <= NULL_MAX_LAG {
        return t0;
    }
    let blocks = behind.as_nanos() / NULL_BLOCK.as_nanos();
    t0 + NULL_BLOCK * u32::try_from(blocks).unwrap_or(u32::MAX)
}

impl NullPacer {
    fn global() -> &'static NullPacer {
        static PACER: std::sync::OnceLock<NullPacer> = std::sync::OnceLock::new();
        PACER.get_or_init(|| NullPacer {
            state: Mutex::new(NullState::default()),
            wake: std::sync::Condvar::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, NullState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Start pacing `mixer` at the next grid instant; starts the thread if needed.
    fn add(&'static self, mixer: Mixer) -> Result<u64, OutputError> {
        static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        let epoch = *EPOCH.get_or_init(Instant::now);
        let fmt = mixer.format();
        let block_frames = (fmt.rate / 100).max(1) as u64;
        let blocks = epoch.elapsed().as_nanos() / NULL_BLOCK.as_nanos() + 1;
        let t0 = epoch + NULL_BLOCK * u32::try_from(blocks).unwrap_or(u32::MAX);
        let block_len = block_frames as usize * fmt.channels as usize;
        let mut st = self.lock();
        if st.scratch.len() < block_len {
            st.scratch.resize(block_len, 0.0);
        }
        if !st.thread_running {
            spawn("output-null", move || self.run())?;
            st.thread_running = true;
        }
        st.next_id += 1;
        let id = st.next_id;
        st.outputs.push(NullOutput {
            id,
            mixer,
            t0,
            frames: 0,
            block_frames,
            rate: fmt.rate,
            block_len,
        });
        self.wake.notify_one();
        Ok(id)
    }

    /// Stop pacing `id`; once this returns its mixer is not pulled again.
    fn remove(&self, id: u64) {
        self.lock().outputs.retain(|o| o.id != id);
    }

    fn run(&self) {
        let mut st = self.lock();
        loop {
            let now = Instant::now();
            let mut next: Option<Instant> = None;
            let NullState {
                outputs, scratch, ..
            } = &mut *st;
            for o in outputs.iter_mut() {
                o.t0 = skip_missed(o.t0, o.due(), now);
                let mut due = o.due();
                while due <= now {
                    o.mixer.render(&mut scratch[..o.block_len], due);
                    o.frames += o.block_frames;
                    due = o.due();
                }
                next = Some(next.map_or(due, |n| n.min(due)));
            }
            st = match next {
                Some(t) => {
                    let wait = t.saturating_duration_since(Instant::now());
                    self.wake
                        .wait_timeout(st, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.wake.wait(st).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::device::period_frames;
    use super::wav::rotated_path;
    use super::*;
    use std::path::Path;

    #[test]
    fn a_full_wav_file_is_kept_as_file_1_and_a_new_file_starts_with_its_own_start_instant() {
        use chrono::TimeZone;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aired.wav");
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let i0 = Instant::now();
        let utc0 = chrono::Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap();
        let mixer = Mixer::new(PACED_FORMAT, (i0, utc0), tx);
        let mut sink = WavSink::with_limit(&path, 4800 * 2).unwrap();
        let mut block = vec![0.0f32; 960];
        for k in 0..15u64 {
            mixer.render(&mut block, i0 + Duration::from_millis(10 * k));
            sink.write(&block, &mixer);
        }
        sink.finish();
        let len = |p: &Path| hound::WavReader::open(p).unwrap().len();
        assert_eq!(len(&rotated_path(&path)), 9600);
        assert_eq!(len(&path), 5 * 960);
        let side: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(sidecar_path(&path)).unwrap()).unwrap();
        assert_eq!(side["start_utc"], "2026-11-29T00:00:00.100000Z");
        assert!(sidecar_path(&rotated_path(&path)).exists());
    }

    #[test]
    fn a_null_output_held_up_skips_the_missed_time_on_its_grid() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // On time, or behind by less than the bound: nothing skipped.
        assert_eq!(skip_missed(t0, t0 + ms(30), t0 + ms(30)), t0);
        assert_eq!(skip_missed(t0, t0 + ms(30), t0 + ms(50)), t0);
        assert_eq!(skip_missed(t0, t0 + ms(30), t0 + ms(10)), t0);
        // Held up 537 ms: 53 whole blocks skipped, the next block due 7 ms ago, on the grid.
        let moved = skip_missed(t0, t0 + ms(30), t0 + ms(567));
        assert_eq!(moved, t0 + ms(530));
        let due = moved + ms(30);
        assert!(due <= t0 + ms(567) && t0 + ms(567) - due < NULL_BLOCK);
    }

    #[test]
    fn the_card_pulls_about_one_ten_millisecond_block_at_a_time_unless_configured() {
        for (rate, frames) in [
            (48_000, 512),
            (44_100, 512),
            (32_000, 512),
            (22_050, 256),
            (16_000, 256),
            (8_000, 128),
            (96_000, 1024),
            (0, 1),
        ] {
            assert_eq!(period_frames(rate, DEFAULT_PERIOD_MS), frames, "{rate} Hz");
        }
        // Longer periods for a busy machine, and the extremes `sound_period_ms` allows.
        assert_eq!(period_frames(48_000, 50), 4096);
        assert_eq!(period_frames(48_000, 40), 2048);
        assert_eq!(period_frames(48_000, *PERIOD_MS_RANGE.start()), 128);
        assert_eq!(period_frames(192_000, *PERIOD_MS_RANGE.end()), 65_536);
    }

    #[test]
    fn output_specs_parse_and_print_back() {
        for s in ["default", "null", "wav:/tmp/a.wav"] {
            assert_eq!(s.parse::<OutputSpec>().unwrap().to_string(), s);
        }
        assert!("wav:".parse::<OutputSpec>().is_err());
        assert!("alsa".parse::<OutputSpec>().is_err());
        assert_eq!(
            sidecar_path(Path::new("x/aired.wav")),
            PathBuf::from("x/aired.wav.json")
        );
    }
}
