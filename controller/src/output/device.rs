//! The `default` output: the sound card through rodio, its period (short while precision
//! is needed, long otherwise), its failures and its return.

use super::common::{pace_until, DeviceOptions, DEVICE_RETRY, IDLE_PERIOD_MS, STALL};
use crate::mixer::{Format, Mixer};
use crate::precision::Precision;
use std::num::NonZero;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
pub(super) fn period_frames(rate: u32, ms: u32) -> u32 {
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

pub(super) fn device_loop(
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
