//! The `wav:FILE` output's file: exactly what would reach the sound card, with its
//! `FILE.json` sidecar, rotated to `FILE.1` when full.

use super::common::{OutputError, PACED_FORMAT};
use crate::mixer::Mixer;
use std::fmt;
use std::path::{Path, PathBuf};

/// Samples a WAV file can hold (its sizes are 32-bit): at 48 kHz stereo f32, about 3 h 6 min.
const WAV_MAX_SAMPLES: u64 = (u32::MAX as u64 - 4096) / 4;

pub(super) struct WavSink {
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
pub(super) fn rotated_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".1");
    PathBuf::from(s)
}

impl WavSink {
    pub(super) fn create(path: &Path) -> Result<Self, OutputError> {
        Self::with_limit(path, WAV_MAX_SAMPLES)
    }

    pub(super) fn with_limit(path: &Path, max_samples: u64) -> Result<Self, OutputError> {
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

    pub(super) fn write(&mut self, block: &[f32], mixer: &Mixer) {
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

    pub(super) fn finish(&mut self) {
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
