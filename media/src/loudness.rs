//! Loudness by EBU R128 / ITU-R BS.1770 (integrated loudness and true peak),
//! and the playback gain that brings a bulletin to the common target level
//! without letting its true peak clip.

use ebur128::{EbuR128, Mode};
use symphonia::core::audio::{AudioBuffer, AudioBufferRef};

use std::sync::mpsc::{self, Receiver, SyncSender};
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
        let inner = EbuR128::new(u32::from(channels), sample_rate, Mode::I | Mode::TRUE_PEAK)
            .map_err(|_| MediaError::UnsupportedCodec {
                codec: format!("{channels} channels at {sample_rate} Hz"),
            })?;
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
        let integrated_lufs = self.inner.loudness_global().unwrap_or(f64::NEG_INFINITY);
        let mut peak = 0.0f64;
        for ch in 0..self.inner.channels() {
            if let Ok(p) = self.inner.true_peak(ch) {
                peak = peak.max(p);
            }
        }
        let true_peak_dbtp = if peak > 0.0 {
            20.0 * peak.log10()
        } else {
            f64::NEG_INFINITY
        };
        Loudness {
            integrated_lufs,
            true_peak_dbtp,
        }
    }
}

/// Frames per chunk handed to the measuring thread: large enough that the
/// hand-off costs nothing, small enough to keep memory flat.
const CHUNK_FRAMES: usize = 32 * 1024;

/// Planar chunk: one `Vec` per channel, equal lengths.
type Chunk = Vec<Vec<f32>>;

/// A [`Meter`] whose EBU R128 work runs on its own thread, so measuring
/// (true peak is the costly part) overlaps with decoding. Chunks are
/// recycled through a return channel: no allocation per packet.
pub(crate) struct ThreadedMeter {
    channels: usize,
    scratch: AudioBuffer<f32>,
    chunk: Chunk,
    tx: Option<SyncSender<Chunk>>,
    recycled: Receiver<Chunk>,
    worker: Option<JoinHandle<Loudness>>,
}

impl ThreadedMeter {
    pub(crate) fn new(channels: u16, sample_rate: u32) -> Result<Self, MediaError> {
        let Meter { mut inner } = Meter::new(channels, sample_rate)?;
        let (tx, rx) = mpsc::sync_channel::<Chunk>(4);
        let (ret_tx, recycled) = mpsc::channel::<Chunk>();
        let worker = thread::Builder::new()
            .name("loudness".into())
            .spawn(move || {
                for chunk in rx {
                    let planes: Vec<&[f32]> = chunk.iter().map(Vec::as_slice).collect();
                    let _ = inner.add_frames_planar_f32(&planes);
                    drop(planes);
                    let _ = ret_tx.send(chunk);
                }
                Meter { inner }.finish()
            })?;
        let channels = usize::from(channels);
        Ok(ThreadedMeter {
            channels,
            scratch: AudioBuffer::unused(),
            chunk: new_chunk(channels),
            tx: Some(tx),
            recycled,
            worker: Some(worker),
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
        let fresh = match self.recycled.try_recv() {
            Ok(mut c) => {
                c.iter_mut().for_each(Vec::clear);
                c
            }
            Err(_) => new_chunk(self.channels),
        };
        let full = std::mem::replace(&mut self.chunk, fresh);
        if let Some(tx) = &self.tx {
            // If the worker is gone, `finish` reports it.
            let _ = tx.send(full);
        }
    }

    /// Wait for the measuring thread and return the measurement.
    pub(crate) fn finish(mut self) -> Result<Loudness, MediaError> {
        if self.chunk.first().is_some_and(|c| !c.is_empty()) {
            self.flush();
        }
        drop(self.tx.take());
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(loudness)) => Ok(loudness),
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
    fn digital_silence_measures_minus_infinity() {
        let l = measure(&vec![0.0; 48_000 * 2], 1, 48_000).unwrap();
        assert!(!l.integrated_lufs.is_finite());
    }
}
