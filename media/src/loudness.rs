//! Loudness by EBU R128 / ITU-R BS.1770 (integrated loudness and true peak),
//! and the playback gain that brings a bulletin to the common target level
//! without letting its true peak clip.

use ebur128::{EbuR128, Mode};
use symphonia::core::audio::{AudioBuffer, AudioBufferRef};

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crate::error::MediaError;

/// A synchronous EBU R128 meter (integrated loudness and true peak).
pub(crate) struct Meter {
    inner: EbuR128,
}

/// The result of a measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loudness {
    /// Integrated loudness in LUFS; `-inf` for silence.
    pub integrated_lufs: f64,
    /// Maximum true peak over all channels in dBTP; `-inf` for digital silence.
    pub true_peak_dbtp: f64,
}

impl Meter {
    pub(crate) fn new(channels: u16, sample_rate: u32) -> Result<Self, MediaError> {
        let inner = ebur128(channels, sample_rate, Mode::I | Mode::TRUE_PEAK)?;
        Ok(Meter { inner })
    }

    /// Feed interleaved f32 samples.
    pub(crate) fn add_interleaved(&mut self, samples: &[f32]) {
        let ch = self.inner.channels() as usize;
        if ch == 0 || !samples.chunks_exact(ch).remainder().is_empty() {
            return;
        }
        let _ = self.inner.add_frames_f32(samples);
    }

    pub(crate) fn finish(&self) -> Loudness {
        Loudness {
            integrated_lufs: integrated(&self.inner),
            true_peak_dbtp: peak(&self.inner),
        }
    }
}

/// An EBU R128 meter measuring `mode`; a layout it cannot measure is refused by name.
fn ebur128(channels: u16, sample_rate: u32, mode: Mode) -> Result<EbuR128, MediaError> {
    EbuR128::new(u32::from(channels), sample_rate, mode).map_err(|_| MediaError::UnsupportedCodec {
        codec: format!("{channels} channels at {sample_rate} Hz"),
    })
}

/// A meter's integrated loudness, LUFS; `-inf` for silence.
fn integrated(meter: &EbuR128) -> f64 {
    meter.loudness_global().unwrap_or(f64::NEG_INFINITY)
}

/// A meter's true peak over all channels, dBTP; `-inf` for digital silence.
fn peak(meter: &EbuR128) -> f64 {
    let mut peak = 0.0f64;
    for ch in 0..meter.channels() {
        if let Ok(p) = meter.true_peak(ch) {
            peak = peak.max(p);
        }
    }
    if peak > 0.0 {
        20.0 * peak.log10()
    } else {
        f64::NEG_INFINITY
    }
}

/// Frames per chunk handed to the measuring thread: large enough that the
/// hand-off costs nothing, small enough to keep memory flat.
const CHUNK_FRAMES: usize = 32 * 1024;

/// Planar chunk: one `Vec` per channel, equal lengths.
type Chunk = Vec<Vec<f32>>;

/// A chunk on its way through both measuring threads; it comes back to be refilled once
/// both are done with it.
type Shared = Arc<Chunk>;

/// A [`Meter`] whose EBU R128 work runs on two threads of its own, so that measuring
/// overlaps with decoding: one for the integrated loudness (the K-filter and its gating
/// blocks), one for the true peak (4× upsampling, the costlier part). The two are
/// independent in the meter, and each thread gives exactly what one meter doing both gave.
/// Chunks are recycled through a return channel: no allocation per packet.
pub(crate) struct ThreadedMeter {
    channels: usize,
    scratch: AudioBuffer<f32>,
    chunk: Chunk,
    tx: Vec<SyncSender<Shared>>,
    recycled: Receiver<Shared>,
    loudness: Option<JoinHandle<f64>>,
    true_peak: Option<JoinHandle<f64>>,
}

/// Start a thread that feeds every chunk to `meter`, hands the chunk back, and at the end
/// returns `result(meter)`.
fn spawn_meter<T: Send + 'static>(
    name: &str,
    mut meter: EbuR128,
    result: fn(&EbuR128) -> T,
    back: Sender<Shared>,
) -> Result<(SyncSender<Shared>, JoinHandle<T>), MediaError> {
    let (tx, rx) = mpsc::sync_channel::<Shared>(4);
    let worker = thread::Builder::new().name(name.into()).spawn(move || {
        for chunk in rx {
            let planes: Vec<&[f32]> = chunk.iter().map(Vec::as_slice).collect();
            let _ = meter.add_frames_planar_f32(&planes);
            drop(planes);
            let _ = back.send(chunk);
        }
        result(&meter)
    })?;
    Ok((tx, worker))
}

impl ThreadedMeter {
    pub(crate) fn new(channels: u16, sample_rate: u32) -> Result<Self, MediaError> {
        let meter = |mode| ebur128(channels, sample_rate, mode);
        let (back, recycled) = mpsc::channel::<Shared>();
        let (loudness_tx, loudness) =
            spawn_meter("loudness", meter(Mode::I)?, integrated, back.clone())?;
        let (peak_tx, true_peak) = spawn_meter("true-peak", meter(Mode::TRUE_PEAK)?, peak, back)?;
        let channels = usize::from(channels);
        Ok(ThreadedMeter {
            channels,
            scratch: AudioBuffer::unused(),
            chunk: new_chunk(channels),
            tx: vec![loudness_tx, peak_tx],
            recycled,
            loudness: Some(loudness),
            true_peak: Some(true_peak),
        })
    }

    /// Feed frames `start..end` of one decoded buffer (any sample format).
    pub(crate) fn add(&mut self, buf: &AudioBufferRef<'_>, start: usize, end: usize) {
        let end = end.min(buf.frames());
        if start >= end || buf.spec().channels.count() != self.channels {
            return;
        }
        if self.scratch.capacity() < buf.capacity() || self.scratch.spec() != buf.spec() {
            self.scratch = AudioBuffer::new(buf.capacity() as u64, *buf.spec());
        }
        buf.convert(&mut self.scratch);
        for (dst, plane) in self.chunk.iter_mut().zip(self.scratch.planes().planes()) {
            dst.extend_from_slice(plane.get(start..end).unwrap_or(&[]));
        }
        if self.chunk.first().map_or(0, Vec::len) >= CHUNK_FRAMES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        // Each chunk comes back once from each thread, in order: the second return is the
        // last reference.
        let mut fresh = None;
        while let Ok(back) = self.recycled.try_recv() {
            if let Ok(mut c) = Arc::try_unwrap(back) {
                c.iter_mut().for_each(Vec::clear);
                fresh = Some(c);
                break;
            }
        }
        let fresh = fresh.unwrap_or_else(|| new_chunk(self.channels));
        let full = Arc::new(std::mem::replace(&mut self.chunk, fresh));
        for tx in &self.tx {
            // If a worker is gone, `finish` reports it.
            let _ = tx.send(full.clone());
        }
    }

    /// Wait for the measuring threads and return the measurement.
    pub(crate) fn finish(mut self) -> Result<Loudness, MediaError> {
        if self.chunk.first().is_some_and(|c| !c.is_empty()) {
            self.flush();
        }
        self.tx.clear();
        let loudness = self.loudness.take().map(JoinHandle::join);
        let true_peak = self.true_peak.take().map(JoinHandle::join);
        match (loudness, true_peak) {
            (Some(Ok(integrated_lufs)), Some(Ok(true_peak_dbtp))) => Ok(Loudness {
                integrated_lufs,
                true_peak_dbtp,
            }),
            _ => Err(MediaError::Corrupt {
                at_ms: 0,
                detail: "loudness measurement failed".into(),
            }),
        }
    }
}

fn new_chunk(channels: usize) -> Chunk {
    (0..channels)
        .map(|_| Vec::with_capacity(CHUNK_FRAMES + 8192))
        .collect()
}

/// Measure interleaved samples (e.g. a generated chime).
pub fn measure(samples: &[f32], channels: u16, sample_rate: u32) -> Result<Loudness, MediaError> {
    let mut meter = Meter::new(channels, sample_rate)?;
    meter.add_interleaved(samples);
    Ok(meter.finish())
}

/// Gain in dB that brings `integrated_lufs` to `target_lufs`, reduced so that
/// `true_peak_dbtp + gain <= max_true_peak_dbtp`. Non-finite inputs give 0 dB
/// (silence is refused before this matters).
pub fn gain_db(
    integrated_lufs: f64,
    true_peak_dbtp: f64,
    target_lufs: f64,
    max_true_peak_dbtp: f64,
) -> f64 {
    if !integrated_lufs.is_finite() || !target_lufs.is_finite() {
        return 0.0;
    }
    let wanted = target_lufs - integrated_lufs;
    if true_peak_dbtp.is_finite() && max_true_peak_dbtp.is_finite() {
        wanted.min(max_true_peak_dbtp - true_peak_dbtp)
    } else {
        wanted
    }
}

/// Linear amplitude factor for a gain in dB.
pub fn db_to_linear(db: f64) -> f32 {
    10f64.powf(db / 20.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::TAU;

    #[test]
    fn gain_brings_loudness_to_target_when_peaks_allow() {
        assert!((gain_db(-23.0, -10.0, -16.0, -1.0) - 7.0).abs() < 1e-9);
    }

    #[test]
    fn gain_is_reduced_so_true_peak_stays_under_the_ceiling() {
        // Wants +7 dB but the peak at -3 dBTP allows only +2 dB.
        let g = gain_db(-23.0, -3.0, -16.0, -1.0);
        assert!((g - 2.0).abs() < 1e-9);
        assert!(-3.0 + g <= -1.0 + 1e-9);
    }

    #[test]
    fn loud_files_are_turned_down() {
        assert!((gain_db(-8.0, -0.1, -16.0, -1.0) + 8.0).abs() < 1e-9);
    }

    #[test]
    fn db_to_linear_matches_the_definition() {
        assert!((db_to_linear(0.0) - 1.0).abs() < 1e-6);
        assert!((db_to_linear(-6.0206) - 0.5).abs() < 1e-4);
        assert!((db_to_linear(20.0) - 10.0).abs() < 1e-4);
    }

    #[test]
    fn a_full_scale_sine_measures_about_minus_three_lufs() {
        let rate = 48_000;
        let s: Vec<f32> = (0..rate * 5)
            .map(|i| (2.0 * std::f32::consts::PI * 997.0 * i as f32 / rate as f32).sin())
            .collect();
        let l = measure(&s, 1, rate).unwrap();
        assert!((l.integrated_lufs + 3.01).abs() < 0.2, "{l:?}");
        assert!(l.true_peak_dbtp.abs() < 0.2, "{l:?}");
    }

    #[test]
    fn the_threaded_meter_measures_exactly_what_one_meter_does() {
        use std::borrow::Cow;
        use symphonia::core::audio::{Channels, Signal, SignalSpec};
        let rate = 44_100;
        let frames = rate as usize * 12; // a dozen chunks, recycled on the way
                                         // Two channels that differ: a tremolo tone on the left, a louder, clipped one on
                                         // the right (its true peak lies between samples).
        let left: Vec<f32> = (0..frames)
            .map(|i| {
                let t = i as f32 / rate as f32;
                0.3 * (TAU * 440.0 * t).sin() * (1.0 + (TAU * 4.0 * t).sin()) / 2.0
            })
            .collect();
        let right: Vec<f32> = (0..frames)
            .map(|i| (1.3 * (TAU * 5_000.0 * i as f32 / rate as f32).sin()).clamp(-1.0, 1.0))
            .collect();
        let spec = SignalSpec::new(rate, Channels::FRONT_LEFT | Channels::FRONT_RIGHT);
        let mut threaded = ThreadedMeter::new(2, rate).unwrap();
        for start in (0..frames).step_by(1152) {
            let n = 1152.min(frames - start);
            let mut buf = AudioBuffer::<f32>::new(1152, spec);
            buf.render_reserved(Some(n));
            buf.chan_mut(0).copy_from_slice(&left[start..start + n]);
            buf.chan_mut(1).copy_from_slice(&right[start..start + n]);
            // Trim a few frames off the first buffer, as a decoder's delay would.
            let from = if start == 0 { 100 } else { 0 };
            threaded.add(&AudioBufferRef::F32(Cow::Borrowed(&buf)), from, n);
        }
        let threaded = threaded.finish().unwrap();
        let interleaved: Vec<f32> = left[100..]
            .iter()
            .zip(&right[100..])
            .flat_map(|(l, r)| [*l, *r])
            .collect();
        let one = measure(&interleaved, 2, rate).unwrap();
        assert_eq!(threaded, one);
        assert!(
            one.integrated_lufs.is_finite() && one.true_peak_dbtp > 0.0,
            "{one:?}"
        );
    }

    #[test]
    fn digital_silence_measures_minus_infinity() {
        let l = measure(&vec![0.0; 48_000 * 2], 1, 48_000).unwrap();
        assert!(!l.integrated_lufs.is_finite());
    }
}
