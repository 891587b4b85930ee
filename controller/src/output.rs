//! Outputs: where the mixer's sample stream goes. One owner thread per output owns the
//! device (a cpal stream is not `Send`), and pulls the mixer at the output's rate.
//!
//! - `default`: the sound card through rodio. The device's callback pulls our mixer as a
//!   `rodio::Source`. If the device fails, one clear line is logged, the output error is
//!   published (heartbeat, and due bulletins are logged `failed`), a real-time pacer keeps
//!   the mixer's clock running, and the device is retried every 10 s. The card runs its
//!   short period (`sound_period_ms`, 10 ms) only while the player says precision is
//!   needed ([`crate::precision`]), and [`IDLE_PERIOD_MS`] otherwise: an idle station
//!   wakes a few times a second instead of a hundred.
//! - `null`: a real-time pacer that discards. Every `null` output of a process shares one
//!   pacing thread on a common 10 ms grid (a benchmark runs a thousand controllers in one
//!   process; one thread each would spend the machine on wake-ups).
//! - `wav:FILE`: a real-time pacer that writes exactly what would reach the sound card,
//!   silence included (32-bit float, 48 kHz stereo), plus `FILE.json`:
//!   `{"start_utc", "sample_rate", "channels"}` — the UTC instant of sample 0. A WAV file
//!   holds at most ~3 h 6 min of this; a full file is kept as `FILE.1` (+ `FILE.1.json`)
//!   and a new `FILE` starts.

use crate::mixer::{Format, Mixer};
use crate::precision::Precision;
use std::fmt;
use std::num::NonZero;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The pacer outputs' format.
pub const PACED_FORMAT: Format = Format {
    rate: 48_000,
    channels: 2,
};

/// A device that pulls no samples for this long has failed.
const STALL: Duration = Duration::from_secs(2);

/// How often a failed sound device is retried.
const DEVICE_RETRY: Duration = Duration::from_secs(10);

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

/// The sound card's period unless configured (`sound_period_ms`): about one mixer block.
/// See [`period_frames`].
pub const DEFAULT_PERIOD_MS: u32 = 10;

/// The sound card's period while nothing needs precision (nothing airs, is cued or is due
/// within a few seconds): about 6 wake-ups a second instead of 94. A configured period
/// longer than this is used throughout.
pub const IDLE_PERIOD_MS: u32 = 100;

/// The periods `sound_period_ms` may ask for, ms.
pub const PERIOD_MS_RANGE: std::ops::RangeInclusive<u32> = 2..=200;

/// How the `default` output treats the sound card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceOptions {
    /// Without a sound device, do not fail: start with the error set and try the device
    /// again every 10 s (what a service wants at boot, before the sound card is up).
    pub wait_for_device: bool,
    /// The card's period, ms ([`period_frames`]).
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

/// Pull the mixer in real time, 10 ms blocks against the monotonic clock, until `stop`.
fn pace(mixer: &Mixer, stop: &AtomicBool, mut sink: impl FnMut(&[f32])) {
    pace_until(mixer, stop, &mut sink, || false);
}

/// As [`pace`], also returning when `also_stop()` says so (checked every block).
fn pace_until(
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

/// Samples a WAV file can hold (its sizes are 32-bit): at 48 kHz stereo f32, about 3 h 6 min.
const WAV_MAX_SAMPLES: u64 = (u32::MAX as u64 - 4096) / 4;

struct WavSink {
    path: PathBuf,
    writer: Option<hound::WavWriter<std::io::BufWriter<std::fs::File>>>,
    sidecar_written: bool,
    since_flush: usize,
    samples: u64,
    max_samples: u64,
}

fn wav_spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: PACED_FORMAT.channels,
        sample_rate: PACED_FORMAT.rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    }
}

/// `FILE` → `FILE.1` (the previous file kept when a full WAV file is rotated).
fn rotated_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".1");
    PathBuf::from(s)
}

impl WavSink {
    fn create(path: &Path) -> Result<Self, OutputError> {
        Self::with_limit(path, WAV_MAX_SAMPLES)
    }

    fn with_limit(path: &Path, max_samples: u64) -> Result<Self, OutputError> {
        let err = |e: &dyn fmt::Display| OutputError::Wav {
            path: path.into(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        }
        let writer = hound::WavWriter::create(path, wav_spec()).map_err(|e| err(&e))?;
        Ok(Self {
            path: path.into(),
            writer: Some(writer),
            sidecar_written: false,
            since_flush: 0,
            samples: 0,
            max_samples,
        })
    }

    /// A full file is finalised and renamed `FILE.1` (its sidecar `FILE.1.json`), and a new
    /// `FILE` starts with its own sidecar: `FILE` always holds the latest stretch.
    fn rotate(&mut self) {
        self.finish();
        let old = rotated_path(&self.path);
        let _ = std::fs::rename(&self.path, &old);
        let _ = std::fs::rename(sidecar_path(&self.path), sidecar_path(&old));
        match hound::WavWriter::create(&self.path, wav_spec()) {
            Ok(w) => {
                tracing::info!(
                    "wav output full: kept as {}, writing a new {}",
                    old.display(),
                    self.path.display()
                );
                self.writer = Some(w);
                self.sidecar_written = false;
                self.samples = 0;
            }
            Err(e) => tracing::error!("wav output {}: {e}; no longer writing", self.path.display()),
        }
    }

    fn write(&mut self, block: &[f32], mixer: &Mixer) {
        if self.samples + block.len() as u64 > self.max_samples {
            self.rotate();
        }
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        for &s in block {
            if let Err(e) = w.write_sample(s) {
                tracing::error!("wav output {}: {e}; no longer writing", self.path.display());
                self.writer = None;
                return;
            }
        }
        self.samples += block.len() as u64;
        if !self.sidecar_written {
            self.sidecar_written = true;
            // Sample 0 of the file is the first frame of this block.
            let first = mixer
                .frames()
                .saturating_sub((block.len() / PACED_FORMAT.channels as usize) as u64);
            if let Some(start) = mixer.utc_of_frame(first) {
                let json = serde_json::json!({
                    "start_utc": start.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    "sample_rate": PACED_FORMAT.rate,
                    "channels": PACED_FORMAT.channels,
                });
                let side = sidecar_path(&self.path);
                if let Err(e) = std::fs::write(&side, json.to_string()) {
                    tracing::error!("cannot write {}: {e}", side.display());
                }
            }
        }
        self.since_flush += block.len();
        if self.since_flush >= PACED_FORMAT.rate as usize * PACED_FORMAT.channels as usize / 4 {
            self.since_flush = 0;
            // Keeps the header valid on disk, so the file is readable while we run.
            if let Some(w) = self.writer.as_mut() {
                let _ = w.flush();
            }
        }
    }

    fn finish(&mut self) {
        if let Some(w) = self.writer.take() {
            if let Err(e) = w.finalize() {
                tracing::error!("wav output {}: {e}", self.path.display());
            }
        }
    }
}

/// The sidecar of a WAV output: `FILE.json`.
pub fn sidecar_path(wav: &Path) -> PathBuf {
    let mut s = wav.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

/// The mixer as a rodio source, pulled by the device callback.
struct DeviceSource {
    mixer: Mixer,
    fmt: Format,
    block: Vec<f32>,
    pos: usize,
    /// (frame, instant) estimate of when the last rendered block goes out: pulls happen
    /// ahead of playback by up to a buffer, in bursts; the latest pull (extrapolated, with
    /// a slow leak to follow the device's own rate) is the closest to the truth.
    last: Option<(u64, Instant)>,
}

impl Iterator for DeviceSource {
    type Item = f32;
    fn next(&mut self) -> Option<f32> {
        if self.pos >= self.block.len() {
            let now = Instant::now();
            let frame = self.mixer.frames();
            let at = match self.last {
                Some((f, i)) => {
                    let secs = (frame - f) as f64 / self.fmt.rate as f64 * (1.0 - 1e-3);
                    (i + Duration::from_secs_f64(secs)).max(now)
                }
                None => now,
            };
            self.last = Some((frame, at));
            self.mixer.render(&mut self.block, at);
            self.pos = 0;
        }
        let v = self.block[self.pos];
        self.pos += 1;
        Some(v)
    }
}

impl rodio::Source for DeviceSource {
    fn current_span_len(&self) -> Option<usize> {
        None
    }
    fn channels(&self) -> rodio::ChannelCount {
        NonZero::new(self.fmt.channels).unwrap_or(NonZero::<u16>::MIN)
    }
    fn sample_rate(&self) -> rodio::SampleRate {
        NonZero::new(self.fmt.rate).unwrap_or(NonZero::<u32>::MIN)
    }
    fn total_duration(&self) -> Option<Duration> {
        None
    }
}

/// The sound card's period for a device at `rate`, asked for `ms`: as a power of two of
/// frames. At the default 10 ms (about one mixer block) that is 512 frames at 44.1 and
/// 48 kHz, so that the card pulls one block at a time.
///
/// The mixer knows when a block goes out only from when the card pulls it. With rodio's
/// default period (about 50 ms, 2,048 frames at 48 kHz) a pull took four or five blocks at
/// once, and the instants it gave them wandered: bulletins recorded from a PulseAudio null
/// sink started with p99 18–20 ms of jitter against their schedule, where a plain
/// `paplay` gave 1.4–3.6 ms. With 512 frames the controller gave p99 2.5 ms; 1,024 gave
/// 5.1–5.5 ms and 256 gave 4.5 ms (`start_error`, part 2). cpal keeps two periods queued.
fn period_frames(rate: u32, ms: u32) -> u32 {
    (u64::from(rate) * u64::from(ms) / 1000)
        .clamp(1, 1 << 20)
        .next_power_of_two() as u32
}

/// Open the default device with a `period_ms` period, pulling `mixer`. `announce`: log
/// the opening at info level (a switch of period for precision is logged at debug).
fn open_device(
    mixer: &Mixer,
    failed: Arc<Mutex<Option<String>>>,
    period_ms: u32,
    announce: bool,
) -> Result<rodio::MixerDeviceSink, String> {
    use rodio::cpal::traits::{DeviceTrait, HostTrait};
    use rodio::cpal::BufferSize;
    let device = rodio::cpal::default_host()
        .default_output_device()
        .ok_or_else(|| describe(&rodio::DeviceSinkError::NoDevice))?;
    let period = device
        .default_output_config()
        .map(|c| period_frames(c.sample_rate(), period_ms))
        .map_err(|e| describe(&e))?;
    let open = |period: Option<u32>| {
        let failed = failed.clone();
        let mut builder = rodio::DeviceSinkBuilder::from_device(device.clone())?;
        if let Some(p) = period {
            builder = builder.with_buffer_size(BufferSize::Fixed(p));
        }
        builder
            .with_error_callback(move |e| {
                let mut f = failed.lock().unwrap_or_else(|p| p.into_inner());
                if f.is_none() {
                    *f = Some(e.to_string());
                }
            })
            .open_stream()
    };
    let mut sink = match open(Some(period)) {
        Ok(sink) => sink,
        Err(e) => {
            // A card whose periods cannot be that short: rodio's choice (about 50 ms) is
            // still better than silence.
            tracing::warn!(
                "sound device refused a {period}-frame period ({}); using rodio's default",
                describe(&e)
            );
            open(None).map_err(|e| describe(&e))?
        }
    };
    sink.log_on_drop(false);
    let cfg = sink.config();
    let fmt = Format {
        rate: cfg.sample_rate().get(),
        channels: cfg.channel_count().get(),
    };
    mixer.set_format(fmt);
    let block = vec![0.0; (fmt.rate / 100).max(1) as usize * fmt.channels as usize];
    let pos = block.len();
    sink.mixer().add(DeviceSource {
        mixer: mixer.clone(),
        fmt,
        block,
        pos,
        last: None,
    });
    if announce {
        tracing::info!(
            "sound device open: {} Hz, {} channels, period {:?}",
            fmt.rate,
            fmt.channels,
            cfg.buffer_size()
        );
    } else {
        tracing::debug!(
            "sound device reopened for precision: period {:?}",
            cfg.buffer_size()
        );
    }
    Ok(sink)
}

fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// alsa-lib's error messages on the calling thread, kept in a buffer instead of stderr.
struct AlsaErrors {
    #[cfg(target_os = "linux")]
    buffer: Option<std::rc::Rc<std::cell::RefCell<alsa::Output>>>,
}

impl AlsaErrors {
    /// Divert alsa-lib's messages on this thread from now on.
    fn capture() -> AlsaErrors {
        AlsaErrors {
            #[cfg(target_os = "linux")]
            buffer: alsa::Output::local_error_handler().ok(),
        }
    }

    /// Log what alsa-lib said so far at debug level, and start a fresh buffer.
    fn log(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(b) = self.buffer.take() {
            let text = b.borrow().to_string();
            if !text.trim().is_empty() {
                tracing::debug!(alsa = %text.trim(), "alsa-lib said");
            }
            self.buffer = alsa::Output::local_error_handler().ok();
        }
    }
}

fn device_loop(
    mixer: Mixer,
    stop: Arc<AtomicBool>,
    error: Arc<Mutex<Option<String>>>,
    ready: std::sync::mpsc::SyncSender<Result<(), String>>,
    device: DeviceOptions,
    precision: &Precision,
) {
    let set_error = |e: Option<String>| *error.lock().unwrap_or_else(|p| p.into_inner()) = e;
    // The short period when precision is needed, the long one otherwise (the same when the
    // configured period is already that long).
    let idle_ms = device.period_ms.max(IDLE_PERIOD_MS);
    let period_for = |precise: bool| if precise { device.period_ms } else { idle_ms };
    // alsa-lib prints its own errors on stderr — eight `ALSA lib …` lines when there is no
    // sound card — before we can say so in one sentence. Everything that probes and opens
    // the device runs on this thread: keep alsa-lib's messages in a buffer here and log
    // them at debug level only.
    let mut alsa_errors = AlsaErrors::capture();
    let failed = Arc::new(Mutex::new(None::<String>));
    // The card starts precise (something may be due at once); the player relaxes it.
    let mut running = true;
    let opened = open_device(&mixer, failed.clone(), period_for(running), true);
    alsa_errors.log();
    let mut sink = match opened {
        Ok(s) => {
            let _ = ready.send(Ok(()));
            Some(s)
        }
        Err(e) if device.wait_for_device => {
            tracing::warn!(
                "no sound device yet: {e}; trying again every {} s",
                DEVICE_RETRY.as_secs()
            );
            set_error(Some(format!("sound device unavailable: {e}")));
            let _ = ready.send(Ok(()));
            None
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    // ALSA reports transient errors (e.g. through PulseAudio's plugin) on streams that keep
    // playing; what counts is whether the device keeps pulling samples.
    let mut last_frames = mixer.frames();
    let mut last_progress = Instant::now();
    let mut warned = false;
    while !stop.load(Ordering::SeqCst) {
        if sink.is_some() {
            let wanted = precision.wait_wanted(running, Duration::from_millis(100));
            if wanted != running && period_for(wanted) == period_for(running) {
                running = wanted;
                precision.set_running(running);
            } else if wanted != running {
                // Close the old stream before the new one opens: two streams must never
                // pull the mixer at once. Only silence is dropped (the player cues nothing
                // on the long period, and keeps the short one a while after an airing).
                sink = None;
                let opened = open_device(&mixer, failed.clone(), period_for(wanted), false);
                alsa_errors.log();
                match opened {
                    Ok(s) => {
                        sink = Some(s);
                        running = wanted;
                        precision.set_running(running);
                        last_frames = mixer.frames();
                        last_progress = Instant::now();
                    }
                    Err(e) => {
                        tracing::error!(
                            "sound device failed to reopen: {e}; retrying every {} s",
                            DEVICE_RETRY.as_secs()
                        );
                        set_error(Some(format!("sound device unavailable: {e}")));
                    }
                }
                continue;
            }
            let frames = mixer.frames();
            if frames != last_frames {
                last_frames = frames;
                last_progress = Instant::now();
            }
            let err = failed.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(e) = &err {
                if !warned {
                    warned = true;
                    tracing::warn!("sound device reported: {e}");
                }
            }
            if last_progress.elapsed() >= STALL {
                let why =
                    err.unwrap_or_else(|| format!("no samples pulled for {} s", STALL.as_secs()));
                tracing::error!(
                    "sound device failed: {why}; retrying every {} s",
                    DEVICE_RETRY.as_secs()
                );
                set_error(Some(format!("sound device failed: {why}")));
                sink = None;
            }
            continue;
        }
        // Device down: keep the mixer's clock running in real time (nothing is heard),
        // and try the device again every 10 s.
        let retry_at = Instant::now() + DEVICE_RETRY;
        pace_until(&mixer, &stop, &mut |_| {}, || Instant::now() >= retry_at);
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let wanted = precision.wait_wanted(running, Duration::ZERO);
        let opened = open_device(&mixer, failed.clone(), period_for(wanted), true);
        alsa_errors.log();
        match opened {
            Ok(s) => {
                tracing::warn!("sound device back");
                set_error(None);
                sink = Some(s);
                running = wanted;
                precision.set_running(running);
                last_frames = mixer.frames();
                last_progress = Instant::now();
                warned = false;
            }
            Err(e) => set_error(Some(format!("sound device unavailable: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
