//! The one call into the `media` crate's validation: decode the whole file, measure it.

use std::path::Path;

/// What the library records about a validated file.
#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    /// Lowercase hex sha256.
    pub sha256: String,
    /// File size.
    pub size_bytes: u64,
    /// Exact duration.
    pub duration_ms: u64,
    /// Codec name.
    pub codec: String,
    /// Sample rate.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u16,
    /// Integrated loudness, when finite.
    pub loudness_lufs: Option<f64>,
    /// True peak, when finite.
    pub true_peak_dbtp: Option<f64>,
    /// Playback gain.
    pub gain_db: f64,
}

/// Validate and measure `path` (blocking: decodes the whole file). The error is the media
/// crate's message, written for the operator who uploaded the file.
pub fn probe(path: &Path, max_bytes: u64) -> Result<Probed, String> {
    let opts = media::ProbeOptions {
        max_bytes,
        ..media::ProbeOptions::default()
    };
    let info = media::probe_file(path, &opts).map_err(|e| e.to_string())?;
    let finite = |v: f64| v.is_finite().then_some(v);
    Ok(Probed {
        sha256: info.sha256,
        size_bytes: info.size_bytes,
        duration_ms: info.duration_ms,
        codec: info.codec,
        sample_rate: info.sample_rate,
        channels: info.channels,
        loudness_lufs: finite(info.loudness_lufs),
        true_peak_dbtp: finite(info.true_peak_dbtp),
        gain_db: if info.gain_db.is_finite() {
            info.gain_db
        } else {
            0.0
        },
    })
}
